/*
 * keyspace_internal.h - what keyspace.c (the tree) and keyspace_walk.c
 * (reading it from etcd) share.  Not a public header.
 */
#ifndef ETCDPILOT_KEYSPACE_INTERNAL_H
#define ETCDPILOT_KEYSPACE_INTERNAL_H

#include "etcdpilot/keyspace.h"

/* How a tree is to be read: kept from its ep_keyspace_opts. */
struct ep_keyspace_walk_opts {
	uint64_t page_limit, timeout_ms;
	ep_keyspace_page_fn on_page;
	void *userdata;
};

/* ep_keyspace_walk with the options given. */
int ep_keyspace_walk_with(struct ep_keyspace *ks, struct ep_client *c, const char *const *endpoints,
			  size_t n, const struct ep_keyspace_walk_opts *o, struct ep_error *err);

/*
 * How the scan asks for one page: ep_kv_range_stream by default; the unit
 * tests give a simulated etcd that counts what each window costs.
 */
typedef int (*ep_keyspace_fetch_fn)(void *ctx, const char *endpoint,
				    const struct ep_range_opts *opts, uint64_t timeout_ms,
				    ep_range_kv_fn fn, void *userdata, struct ep_range_page *ret,
				    struct ep_error *err);

/* ep_keyspace_scan through @fetch (with @ctx) instead of a client. */
int ep_keyspace_scan_with(ep_keyspace_fetch_fn fetch, void *ctx, const char *const *endpoints,
			  size_t n, struct ep_keyspace_scan *scan, struct ep_error *err);

#endif
