/*
 * reset.c - etcdpilot reset: take this node's member out of its cluster,
 * stop it, back up its data and clean its files.  The phases (preflight,
 * remove-member, stop, data, certs, files) are the library's
 * (workflow_reset.c), run on the runtime found on the node; this file reads
 * the flags, runs the workflow through cli_node.c and says how it ended.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_node.h"
#include "etcdpilot/client.h"
#include "etcdpilot/plan.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

/* An absolute form of the invoking user's path @p (heap; NULL when @p is). */
static char *abs_path(const char *p)
{
	char cwd[4096], *out = NULL;
	if (!p)
		return NULL;
	if (p[0] == '/')
		return strdup(p);
	if (!getcwd(cwd, sizeof(cwd)) || asprintf(&out, "%s/%s", cwd, p) < 0)
		return NULL;
	return out;
}

static int reset_run(struct cli_ctx *ctx, struct ep_error *err)
{
	struct ep_spec spec;
	struct ep_strv skip = { 0 }, ignore = { 0 }, eps = { 0 };
	struct ep_wf wf = { 0 };
	_cleanup_free_ char *ca = abs_path(ctx->cacert), *crt = abs_path(ctx->cert),
			    *key = abs_path(ctx->key);
	uint64_t t0 = ep_now_ms();
	ep_spec_init(&spec);
	int given = !!ctx->cacert + !!ctx->cert + !!ctx->key;
	int r = 0;
	if (given && given != 3)
		r = ep_error_usage(err, -EINVAL,
				   "--cacert, --cert and --key go together (or none of them: then "
				   "this node's own CA and healthcheck-client pair are used)");
	if (r >= 0 && ctx->endpoints)
		r = ep_endpoints_parse_given("--endpoints", ctx->endpoints, &eps, err);
	if (r >= 0) /* the member's own address is read back: none needs to be given */
		r = cli_load_spec_any_address(ctx, &spec, err);
	enum ep_mode mode = spec.mode;
	bool both = false;
	if (r >= 0)
		r = ep_workflow_reset_mode(&spec, ctx->root, ctx->ov.mode != NULL, &mode, &both, err);
	spec.mode = mode;
	if (r >= 0 && (cli_split_list(cli_get(ctx, "skip-phases"), &skip) < 0 ||
		       cli_split_list(cli_get(ctx, "ignore-preflight-errors"), &ignore) < 0))
		r = ep_error_set(err, -ENOMEM, "out of memory");
	wf = (struct ep_wf){
		.workflow = &ep_workflow_reset,
		.spec = &spec,
		.root = ctx->root,
		.dry_run = ctx->dry_run,
		.skip = &skip,
		.ignore = &ignore,
		.log = cli_log(ctx),
		.deadline_ms = t0 + spec.timeout_ms,
		.endpoints = &eps,
		.cacert = ca,
		.cert = crt,
		.key = key,
		.delete_data = cli_has(ctx, "delete-data"),
		.remove_ca = cli_has(ctx, "remove-ca"),
		.keep_leaf_certs = both,
	};
	if (r >= 0 && spec.mode == EP_MODE_SYSTEMD)
		r = cli_node_programs(ctx, &wf, err);
	struct cli_wf_result res = { 0 };
	if (r >= 0)
		r = cli_workflow_run(ctx, &wf, &res, err);
	if (r < 0 || cli_json(ctx))
		goto out;
	if (ctx->dry_run) {
		printf("[dryrun] Finished dry-running successfully; above is the plan\n");
	} else if (res.rolled_back) {
		printf("\nThe interrupted reset was undone.\n");
	} else if (res.resumed) {
		printf("\nThe interrupted reset was finished: this node's etcd member is gone.\n");
	} else {
		printf("\nReset done%s:\n", res.changed ? "" : " (there was nothing left to clean)");
		for (size_t i = 0; i < wf.notes.n; i++) {
			_cleanup_free_ char *e = ep_escape(wf.notes.v[i]);
			printf("  - %s\n", e ? e : "");
		}
		if (!wf.remove_ca)
			printf("  - the etcd CA is kept in %s/etcd (--remove-ca removes it)\n",
			       wf.have_installed && wf.installed.spec.cert_dir
				       ? wf.installed.spec.cert_dir
				       : spec.cert_dir);
	}
out:
	ep_wf_release(&wf);
	ep_strv_release(&skip);
	ep_strv_release(&ignore);
	ep_strv_release(&eps);
	ep_spec_release(&spec);
	return r;
}

static void reset_phase_help(FILE *f)
{
	_cleanup_free_ char *sp = ep_workflow_help(&ep_workflow_reset, EP_MODE_STATIC_POD);
	_cleanup_free_ char *sd = ep_workflow_help(&ep_workflow_reset, EP_MODE_SYSTEMD);
	fprintf(f, "\nPhases (a static pod):\n%s\nPhases (a systemd service):\n%s", sp ? sp : "",
		sd ? sd : "");
}

static const struct cli_opt reset_opts[] = {
	{ "delete-data", 0, false, NULL, "delete the data dir instead of keeping a backup" },
	{ "remove-ca", 0, false, NULL, "remove the etcd CA (ca.crt, ca.key) too" },
	CLI_WORKFLOW_OPTS,
	{ 0 },
};

const struct cli_command cmd_reset = {
	.name = "reset",
	.run = reset_run,
	.groups = CLI_NODE | CLI_CLIENT | CLI_SYSTEMD,
	.opts = reset_opts,
	.args = NULL,
	.summary = "remove this node's member from the cluster, stop it, back up and clean its files",
	.help = "Finds this node's member by the peer URL in its own manifest or unit (read\n"
		"back, never recomputed from flags), removes it from its cluster - unless it\n"
		"is the last voting member, or is gone already; refused when that would cost the\n"
		"cluster its quorum; the leader hands leadership away first - then stops it\n"
		"(the manifest removed, or the unit stopped and disabled), moves the data dir\n"
		"to <data dir>-backup-<time> (--delete-data deletes it) and removes this\n"
		"node's certificates (the CA stays unless --remove-ca) and, in systemd mode,\n"
		"the unit and its environment.  A cluster that is down is said, and the node\n"
		"is cleaned all the same; one that cannot be asked (this node's client pair\n"
		"unreadable or refused) stops the reset (--skip-phases remove-member goes on\n"
		"without it).  Journaled like init and join.",
	.help_extra = reset_phase_help,
	.min_args = 0,
	.max_args = 0,
	.json_output = true,
};
