/*
 * keyspace_cli.h - what the keyspace command files share: the tree turned
 * into the one JSON document (keyspace_json.c), its text rendering
 * (keyspace_render.c), and the `keyspace get` command (keyspace_get.c).
 */
#ifndef ETCDPILOT_KEYSPACE_CLI_H
#define ETCDPILOT_KEYSPACE_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "cli.h"
#include "etcdpilot/keyspace.h"

/* Exit code of `keyspace --check-encryption` when values are stored in plaintext. */
#define CLI_PLAINTEXT_EXIT CLI_PLAINTEXT

struct ks_view {
	unsigned depth, top, hot;
	bool check;                  /* --check-encryption */
	const char *const *check_names;
	size_t ncheck;
	const char *etcd_prefix;
	const char *endpoint;        /* the member read */
};

/* The document `keyspace -o json` prints (NULL on ENOMEM). */
json_t *ks_json(const struct ep_keyspace *ks, const struct ks_view *v);

/* The same document as text on @f. */
void ks_render(const json_t *doc, FILE *f);

/* A JSON string of @len bytes from outside, escaped (ep_escape). */
json_t *ks_jstr(const void *p, size_t len);

/* "1,234,567" into @buf. */
const char *ks_num(uint64_t n, char *buf, size_t size);

/* Progress on stderr when it is a terminal (an ep_keyspace_page_fn; userdata: the label). */
int ks_progress(void *userdata, const struct ep_keyspace_progress *p);
void ks_progress_clear(void);

#endif
