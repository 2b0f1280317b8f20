/*
 * convert.c - etcdpilot convert --to static-pod|systemd: move this node's
 * running member, in place, between a systemd unit and a kubeadm static
 * pod (the same member ID, its data, no quorum loss).  The phases are the
 * library's (workflow_convert.c); this file reads the flags, runs the
 * workflow through cli_node.c and says how it ended and what could undo it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_node.h"
#include "etcdpilot/client.h"
#include "etcdpilot/convert.h"
#include "etcdpilot/plan.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

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

static int convert_run(struct cli_ctx *ctx, struct ep_error *err)
{
	struct ep_spec spec;
	struct ep_strv skip = { 0 }, ignore = { 0 }, eps = { 0 };
	struct ep_wf wf = { 0 };
	_cleanup_free_ char *ca = abs_path(ctx->cacert), *crt = abs_path(ctx->cert),
			    *key = abs_path(ctx->key);
	const char *to = cli_get(ctx, "to");
	const char *backup = cli_get(ctx, "backup-dir");
	bool journal_only = cli_has(ctx, "resume") || cli_has(ctx, "rollback");
	uint64_t t0 = ep_now_ms();
	ep_spec_init(&spec);
	enum ep_mode target = EP_MODE_STATIC_POD;
	int r = 0;
	if (!to && !journal_only)
		r = ep_error_usage(err, -EINVAL, "--to is required: 'static-pod' (from a systemd "
						 "unit) or 'systemd' (from a static pod)");
	else if (to && ep_mode_parse(to, &target) < 0)
		r = ep_error_usage(err, -EINVAL, "--to '%s': the mode is 'static-pod' or 'systemd'",
				   to);
	if (r >= 0 && ctx->ov.mode)
		r = ep_error_usage(err, -EINVAL, "--mode: convert takes --to (the mode to convert "
						 "to); the member's current mode is read from the node");
	int given = !!ctx->cacert + !!ctx->cert + !!ctx->key;
	if (r >= 0 && given && given != 3)
		r = ep_error_usage(err, -EINVAL,
				   "--cacert, --cert and --key go together (or none of them: then a "
				   "client pair found on the node is used)");
	if (r >= 0 && backup && backup[0] != '/')
		r = ep_error_usage(err, -EINVAL, "--backup-dir '%s': a node path must be absolute",
				   backup);
	if (r >= 0 && ctx->endpoints)
		r = ep_endpoints_parse_given("--endpoints", ctx->endpoints, &eps, err);
	if (r >= 0) /* the member's own address is read back: none needs to be given */
		r = cli_load_spec_any_address(ctx, &spec, err);
	spec.mode = target;
	if (r >= 0 && (cli_split_list(cli_get(ctx, "skip-phases"), &skip) < 0 ||
		       cli_split_list(cli_get(ctx, "ignore-preflight-errors"), &ignore) < 0))
		r = ep_error_set(err, -ENOMEM, "out of memory");
	wf = (struct ep_wf){
		.workflow = &ep_workflow_convert,
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
		.allow_downtime = cli_has(ctx, "allow-downtime"),
		.backup_dir = backup,
	};
	if (r >= 0)
		r = cli_node_programs(ctx, &wf, err);
	struct cli_wf_result res = { 0 };
	if (r >= 0)
		r = cli_workflow_run(ctx, &wf, &res, err);
	if (r < 0 || cli_json(ctx))
		goto out;
	if (ctx->dry_run) {
		printf("[dryrun] Finished dry-running successfully; above is the plan\n");
	} else if (res.rolled_back) {
		printf("\nThe interrupted convert was undone: the member runs as it did before.\n");
	} else if (res.resumed) {
		printf("\nThe interrupted convert was finished.\n");
	} else {
		printf("\nMember '%s' (%s) now runs as %s:\n", spec.name ? spec.name : "?",
		       wf.convert ? wf.convert->member_id : "?",
		       target == EP_MODE_STATIC_POD ? "a static pod" : "a systemd service");
		for (size_t i = 0; i < wf.notes.n; i++) {
			_cleanup_free_ char *e = ep_escape(wf.notes.v[i]);
			printf("  - %s\n", e ? e : "");
		}
	}
out:
	ep_wf_release(&wf);
	ep_strv_release(&skip);
	ep_strv_release(&ignore);
	ep_strv_release(&eps);
	ep_spec_release(&spec);
	return r;
}

static void convert_phase_help(FILE *f)
{
	_cleanup_free_ char *sp = ep_workflow_help(&ep_workflow_convert, EP_MODE_STATIC_POD);
	_cleanup_free_ char *sd = ep_workflow_help(&ep_workflow_convert, EP_MODE_SYSTEMD);
	fprintf(f, "\nPhases (--to static-pod):\n%s\nPhases (--to systemd):\n%s", sp ? sp : "",
		sd ? sd : "");
}

static const struct cli_opt convert_opts[] = {
	{ "to", 0, true, "MODE", "the runtime to move the member to: static-pod or systemd" },
	{ "allow-downtime", 0, false, NULL,
	  "convert a member the cluster's quorum needs (a single member): the downtime is reported" },
	{ "backup-dir", 0, true, "DIR",
	  "where the snapshot taken first goes (default: the operator's backup dir)" },
	CLI_WORKFLOW_OPTS,
	{ 0 },
};

const struct cli_command cmd_convert = {
	.name = "convert",
	.run = convert_run,
	.groups = CLI_NODE | CLI_SYSTEMD | CLI_CLIENT,
	.opts = convert_opts,
	.args = NULL,
	.summary = "convert this member between systemd and static pod (--to)",
	.help = "Moves the member running on this node, in place, between a systemd unit and\n"
		"a kubeadm static pod: the same name, member ID, data dir, peer and client\n"
		"URLs.  It reads the member back (the unit, its EnvironmentFiles and\n"
		"ExecStart flags - etcdpilot's, kubespray's, etcdadm's or hand-written - or\n"
		"the manifest), checks that the cluster keeps its quorum without it (else\n"
		"--allow-downtime), saves a verified snapshot, then: to a static pod, copies\n"
		"the TLS files into kubeadm's layout after checking them, stops, disables,\n"
		"moves aside and masks the unit and writes the manifest (--initial-cluster\n"
		"from the live member list, state existing); to systemd, installs etcd as\n"
		"systemd mode does, removes the manifest and writes and starts the unit.  It\n"
		"ends when the same member ID is healthy and caught up with the leader, and\n"
		"says how long the member was unavailable.  A failure restores the old\n"
		"runtime and starts it; journaled like init and join (--resume, --rollback).",
	.help_extra = convert_phase_help,
	.min_args = 0,
	.max_args = 0,
	.json_output = true,
};
