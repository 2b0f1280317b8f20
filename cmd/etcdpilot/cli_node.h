/*
 * cli_node.h - what the commands that change this node (init, join,
 * reset, convert) share: choosing systemctl, the etcd version the user
 * pinned, and running a workflow (plan, print, apply under the journal,
 * resume or roll back an interrupted run) with one way of printing it.
 */
#ifndef ETCDPILOT_CLI_NODE_H
#define ETCDPILOT_CLI_NODE_H

#include "cli.h"
#include "etcdpilot/workflow.h"

/* The flags every workflow command takes (add them to the command's opts). */
#define CLI_WORKFLOW_OPTS                                                                     \
	{ "skip-phases", 0, true, "LIST", "phases to leave out, comma-separated ('phase --help')" }, \
	{ "ignore-preflight-errors", 0, true, "LIST",                                          \
	  "checks that only warn (e.g. Port-2379,DirAvailable--var-lib-etcd, or all)" },       \
	{ "resume", 0, false, NULL, "finish the interrupted run the journal records" },          \
	{ "rollback", 0, false, NULL, "undo the interrupted run the journal records" },           \
	{ "no-rollback", 0, false, NULL, "on failure keep what was done (for debugging)" }

/*
 * Which systemctl (and journalctl) the node's units are run with: the
 * spec's (--systemctl, then $ETCDPILOT_SYSTEMCTL, then the config's
 * systemd.systemctl, then "systemctl"; named when it was pinned), and
 * $ETCDPILOT_JOURNALCTL for journalctl.  Sets wf->systemctl, wf->journalctl, wf->systemctl_named.
 * 0 or -errno with @err.
 */
int cli_node_programs(struct cli_ctx *ctx, struct ep_wf *wf, struct ep_error *err);

/*
 * The etcd version the user pinned (--etcd-version, or the config file's
 * etcdVersion or image tag's version: the spec's origins say) into @buf;
 * *@ret is @buf or NULL when nothing was pinned (the binary being installed
 * decides).  0.
 */
int cli_pinned_version(struct cli_ctx *ctx, const struct ep_spec *spec, char *buf, size_t len,
		       const char **ret);

/*
 * The etcd version a systemd-mode node runs (the pinned one checked
 * against the binary source, else the source's own), set in
 * spec->etcd_version and written to @buf.  0 or -errno with @err.
 */
int cli_systemd_version(struct cli_ctx *ctx, struct ep_spec *spec, char *buf, size_t len,
			struct ep_error *err);

/* What a workflow run did, for the command's closing words. */
struct cli_wf_result {
	size_t changed;   /* actions that changed something */
	bool resumed;     /* an interrupted run was finished instead */
	bool rolled_back; /* an interrupted run was undone (--rollback) */
};

/*
 * Run @wf (inputs filled by the command) with the command's workflow
 * flags: a journal on the node is resumed (--resume, or a plain re-run of
 * the same command, which says so) or undone (--rollback); otherwise the
 * phases are planned, failed checks printed one per line, and the plan
 * printed (--dry-run: text, or one JSON document with -o json) or applied
 * with a line per action.  0 or -errno with @err.
 */
int cli_workflow_run(struct cli_ctx *ctx, struct ep_wf *wf, struct cli_wf_result *ret,
		     struct ep_error *err);

/* Split a comma-separated flag value into @ret (appended).  0 or -ENOMEM. */
int cli_split_list(const char *value, struct ep_strv *ret);

#endif
