/*
 * actions_internal.h - what the cluster action types (actions_cluster.c),
 * the node action types of join and reset (actions_member.c) and the
 * workflows that plan them (workflow_join.c, workflow_reset.c) share: how
 * an action reaches the cluster from its params, the deadlines of apply and
 * undo, and the checks join makes before it adds a member.  Not a public
 * header.
 */
#ifndef ETCDPILOT_ACTIONS_INTERNAL_H
#define ETCDPILOT_ACTIONS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "etcdpilot/client.h"
#include "etcdpilot/log.h"
#include "etcdpilot/membership.h"
#include "etcdpilot/plan.h"

struct ep_error;

/*
 * An undo that talks to the cluster (remove the member this run added)
 * gets at most this long, or a third of what is left before the command's
 * end (ep_apply_ctx.undo_deadline_ms) when it has one: a join that failed
 * at its forward deadline can still take its member back, and still has
 * time to stop its pod or unit when it cannot.
 */
#define EP_UNDO_BUDGET_MS 20000
/* One cluster call at most (a probe of every member is one call). */
#define EP_CLUSTER_CALL_MS 3000

/*
 * The params object "cluster" of every action that talks to the cluster:
 *   {"endpoints": ["https://10.0.0.11:2379", ...],
 *    "cacert": PATH, "cert": PATH, "key": PATH,
 *    "node_paths": true}
 * node_paths: the files are node paths (mapped under the run's --root:
 * the node's own CA and healthcheck-client pair); false: the invoking
 * user's paths from --cacert/--cert/--key, taken as they are (absolute).
 * Returns a new reference or NULL on ENOMEM.
 */
json_t *ep_cluster_json(const struct ep_strv *endpoints, const char *cacert, const char *cert,
			const char *key, bool node_paths);

/* Check @params' "cluster" object (for the types' check). 0 or -EINVAL naming @type. */
int ep_cluster_json_check(const json_t *params, const char *type, struct ep_error *err);

/* A client and the access struct membership.h takes, built from a "cluster" object. */
struct ep_conn {
	struct ep_client *client;
	struct ep_strv endpoints;
	struct ep_cluster_access ca;
};

/*
 * Open @c (zeroed) for the "cluster" object @cluster under @root, until
 * @deadline_ms: the endpoints of @cluster first, then (may be NULL) the
 * client URLs listed in @more (a JSON array of strings: what cluster.check
 * recorded).  @log (may be NULL) gets the progress lines of long waits.
 * 0 or -errno with @err; release with ep_conn_close() either way.
 */
int ep_conn_open(const char *root, const json_t *cluster, const json_t *more,
		 uint64_t deadline_ms, ep_log_fn log, void *userdata, struct ep_conn *c,
		 struct ep_error *err);
void ep_conn_close(struct ep_conn *c);

/* True for a failure that may pass if asked again (transport, no leader, no voter answering). */
bool ep_conn_transient(int r);

/* What join checks on the cluster before it adds its member. */
struct ep_join_check {
	const char *name;
	const char *const *peer_urls;
	size_t n_peer_urls;
	const char *remove_dead; /* --remove-dead NAME|ID, or NULL */
	bool replace;            /* --replace */
};

/*
 * Probe every member (ep_membership_plan_add: names, peer URLs, the
 * duplicate checks), then refuse when a voting member does not answer
 * (etcd 3.4 and 3.5 refuse every membership change then) - except the one
 * --remove-dead names, or the one --replace replaces - naming each and
 * saying what to do; a voter that does not answer is asked again for up to
 * 2 s (a member restarting is not dead).  --remove-dead: the member must
 * not answer and its removal must keep a quorum.  Lines saying what was
 * found go to @log.  *@ret_urls (may be NULL) gets every started member's
 * client URLs.  0, or -errno with @err (-EEXIST usage for a duplicate,
 * -EHOSTDOWN for a dead voter, -EBUSY for a guard).
 */
int ep_join_cluster_check(const struct ep_cluster_access *ca, const struct ep_join_check *in,
			  ep_log_fn log, void *userdata, struct ep_strv *ret_urls,
			  struct ep_error *err);

/*
 * Wait until the local member is down, until @deadline (ep_now_ms() clock):
 * @url (a client URL) refuses connections and, with @data_dir (a node path
 * under @root; may be NULL), no process holds the member's database - etcd
 * keeps a flock(2) on <data dir>/member/snap/db from start to its very
 * end, so a member that was running is known down at once.  With @quiet
 * (a rollback, where the member may be crash-looping and a container just
 * restarted has not opened its files yet), and whenever the database cannot
 * be looked at, the port must also have refused for STOP_QUIET_MS in a row.
 * 0 or -ETIMEDOUT with @err.  (actions_member.c; convert's manifest undo
 * uses it too.)
 */
int ep_wait_member_down(const char *root, const char *url, const char *data_dir, bool quiet,
			uint64_t deadline, struct ep_error *err);

#endif
