/*
 * node.h - the phases that bring this node's etcd member up as a static
 * pod, in kubeadm's order: preflight, certs, manifest (+ data dir), wait.
 * init runs them all; join, reset and convert reuse them.  Each phase
 * reports what it does through an ep_log_fn in kubeadm's voice
 * ("[etcd] Creating static Pod manifest ..."), never prints, and honours
 * dry-run by writing nothing.
 */
#ifndef ETCDPILOT_NODE_H
#define ETCDPILOT_NODE_H

#include <stdbool.h>
#include <stdint.h>

#include "etcdpilot/log.h"
#include "etcdpilot/spec.h"

struct ep_error;

/* What the phases share: borrowed pointers, valid for the whole run. */
struct ep_node {
	const struct ep_spec *spec;
	const char *root;                     /* NULL or "/" = the real root */
	bool dry_run;
	const struct ep_kvv *initial_cluster; /* NULL for init; name=peerURL for join */
	ep_log_fn log;                        /* may be NULL */
	void *userdata;
};

enum ep_manifest_state {
	EP_MANIFEST_ABSENT = 0,
	EP_MANIFEST_SAME,    /* byte for byte what would be written */
	EP_MANIFEST_DIFFERS, /* see ep_preflight.diff */
};

/* What preflight found; release with ep_preflight_release(). */
struct ep_preflight {
	char *manifest_path;    /* under the root (heap) */
	char *manifest;         /* what the manifest phase will write (heap) */
	size_t manifest_len;
	enum ep_manifest_state state;
	struct ep_strv diff;    /* EP_MANIFEST_DIFFERS: one line per difference */
	bool layout_differs;    /* EP_MANIFEST_SAME, but not byte for byte */
	bool data_dir_empty;    /* absent or empty */
};

void ep_preflight_release(struct ep_preflight *pf);

/*
 * Render the manifest and check that this node can take it:
 *   - a known etcd version (3.4, 3.5, 3.6);
 *   - root privileges unless a --root other than "/" is given;
 *   - an existing manifest must be the etcd pod of this member (else an
 *     error naming the file); if it differs, ret->state says so and
 *     ret->diff says what differs - the caller decides (init: exit 1);
 *   - unless the manifest is already the same (a re-run): the data dir
 *     absent or empty, and every address:port etcd will listen on (client,
 *     peer, metrics: taken from the flags, so extraArgs count) free to bind.
 * Logs "[preflight] ..." lines.  @ret must be zeroed.  Returns 0 (also when
 * the manifest differs), or a negative errno with @err set; usage errors
 * (EP_ERR_USAGE) for a bad version, failures (EP_ERR_FAILED) otherwise.
 */
int ep_node_preflight(const struct ep_node *node, struct ep_preflight *ret, struct ep_error *err);

/*
 * The certs phase: ep_pki_ensure() for the node.  *@ret_changed (may be
 * NULL) says whether any pair was (or, dry-run, would be) generated.
 */
int ep_node_certs(const struct ep_node *node, bool *ret_changed, struct ep_error *err);

/*
 * The manifest phase: write @pf->manifest to <manifest_dir>/etcd.yaml
 * (mode 0600, directory 0700) unless it is already the same, and create the
 * data dir (0700) when absent.  Refuses (-EEXIST) when @pf says the
 * manifest differs.  *@ret_changed (may be NULL) says whether anything was
 * (or would be) written.  Dry-run logs the file's content instead.
 */
int ep_node_write_manifest(const struct ep_node *node, const struct ep_preflight *pf,
			   bool *ret_changed, struct ep_error *err);

/*
 * The client URL this node's member serves locally: https://127.0.0.1:2379
 * (https://[::1]:2379 for an IPv6 advertise address).  Heap string or NULL.
 */
char *ep_node_local_endpoint(const struct ep_spec *spec);

/*
 * The wait phase: poll the local member through the client (TLS: the etcd
 * CA and the healthcheck-client pair, under the root) until it answers
 * healthy or @timeout_ms passes.  On timeout the error also carries a
 * one-line summary of the pod and etcd's own last log lines (see
 * ep_node_pod_report).  Dry-run only logs.
 */
int ep_node_wait(const struct ep_node *node, uint64_t timeout_ms, struct ep_error *err);

/*
 * Best-effort report on the etcd pod, for a member that did not come up:
 * the static pod runtime's diagnosis (runtime.h) - the pod's restarts and
 * etcd's own last @tail_lines lines from the container log the kubelet
 * keeps under /var/log/pods (and crictl's view on a real node).
 * *@ret_summary (may be NULL) gets one line: the state and etcd's last
 * lines, escaped; *@ret_text (may be NULL) the full multi-line report;
 * both heap strings.  Returns 0, or -ENOENT when the kubelet has written
 * nothing for the pod (the texts say so and where to look), or -ENOMEM.
 */
int ep_node_pod_report(const struct ep_node *node, unsigned tail_lines, char **ret_summary,
		       char **ret_text);

#endif
