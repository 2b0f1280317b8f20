/*
 * join.c - etcdpilot join ENDPOINT: add this node's member to the cluster
 * ENDPOINT belongs to.  The phases (preflight, install, certs, cluster-check,
 * member-add, etcd, start, promote, wait) are the library's
 * (workflow_join.c); this file reads the flags, runs the workflow through
 * cli_node.c with one deadline for the whole join and says how it ended.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_node.h"
#include "etcdpilot/client.h"
#include "etcdpilot/plan.h"
#include "util/cleanup.h"
#include "util/clock.h"

/* The flags that only make sense together, and the cluster's endpoints. */
static int join_inputs(struct cli_ctx *ctx, struct ep_strv *eps, struct ep_error *err)
{
	const char *bundle = cli_get(ctx, "ca-bundle"), *key = cli_get(ctx, "certificate-key");
	/* without --certificate-key, the config's controlPlane.certificateKey (join_key) */
	if (key && !bundle)
		return ep_error_usage(err, -EINVAL,
				      "--certificate-key goes with --ca-bundle FILE: the key opens "
				      "the bundle 'etcdpilot certs export-bundle' wrote");
	if (bundle && !*bundle)
		return ep_error_usage(err, -EINVAL, "--ca-bundle: no file given");
	int given = !!ctx->cacert + !!ctx->cert + !!ctx->key;
	if (given && given != 3)
		return ep_error_usage(err, -EINVAL,
				      "--cacert, --cert and --key go together (or none of them: "
				      "then this node's own CA and healthcheck-client pair are used)");
	if (cli_has(ctx, "remove-dead") && !*cli_get(ctx, "remove-dead"))
		return ep_error_usage(err, -EINVAL, "--remove-dead: no member given (NAME|ID)");
	/* --resume / --rollback work from the journal: it holds the endpoints */
	if (ctx->nargs == 0 && (cli_has(ctx, "resume") || cli_has(ctx, "rollback")))
		return 0;
	if (ctx->nargs == 0)
		return ep_error_usage(err, -EINVAL,
				      "missing argument ENDPOINT (the client URL of any member, "
				      "e.g. https://10.0.0.11:2379); only --resume and --rollback "
				      "go without it");
	int r = ep_endpoints_parse_given("ENDPOINT (a client URL of any member, e.g. "
					 "https://10.0.0.11:2379)", ctx->args[0], eps, err);
	if (r >= 0 && ctx->endpoints)
		r = ep_endpoints_parse_given("--endpoints", ctx->endpoints, eps, err);
	return r < 0 ? r : 0;
}

/* --certificate-key, else a JoinConfiguration's controlPlane.certificateKey */
static const char *join_key(struct cli_ctx *ctx, const struct ep_spec *spec)
{
	const char *key = cli_get(ctx, "certificate-key");
	return key ? key : spec->certificate_key;
}

static int join_run(struct cli_ctx *ctx, struct ep_error *err)
{
	struct ep_spec spec;
	struct ep_strv skip = { 0 }, ignore = { 0 }, eps = { 0 };
	struct ep_wf wf = { 0 };
	char pinbuf[32];
	uint64_t t0 = ep_now_ms();
	ep_spec_init(&spec);
	int r = join_inputs(ctx, &eps, err);
	/* the journal's run needs no address of this one (none may be found here) */
	bool journal_only = ctx->nargs == 0;
	if (r >= 0)
		r = journal_only ? cli_load_spec_any_address(ctx, &spec, err)
				 : cli_load_spec(ctx, &spec, err);
	char at[EP_ERROR_MAX];
	if (r >= 0 && cli_get(ctx, "ca-bundle") && !join_key(ctx, &spec))
		r = ep_error_usage(err, -EINVAL,
				   "--ca-bundle needs its key: --certificate-key HEX (the key "
				   "'etcdpilot certs export-bundle' printed for that file), or "
				   "controlPlane.certificateKey in a JoinConfiguration given with "
				   "--config");
	if (r >= 0 && spec.external.set)
		r = ep_error_usage(err, -EINVAL,
				   "%s: etcd.external names an etcd cluster that runs elsewhere; join "
				   "adds a local member (etcd.local); nothing was changed",
				   ep_origin_at(&spec.origin[EP_FIELD_EXTERNAL], "etcd.external", at,
						sizeof(at)));
	if (r >= 0 && (cli_split_list(cli_get(ctx, "skip-phases"), &skip) < 0 ||
		       cli_split_list(cli_get(ctx, "ignore-preflight-errors"), &ignore) < 0))
		r = ep_error_set(err, -ENOMEM, "out of memory");
	spec.is_join = true;
	wf = (struct ep_wf){
		.workflow = &ep_workflow_join,
		.spec = &spec,
		.root = ctx->root,
		.dry_run = ctx->dry_run,
		.skip = &skip,
		.ignore = &ignore,
		.log = cli_log(ctx),
		/* the rollback of a join that fails at its deadline fits in --timeout too
		   (with --no-rollback there is none: the join has all of it) */
		.deadline_ms = t0 + spec.timeout_ms -
			       (cli_has(ctx, "no-rollback") ? 0 :
							      ep_rollback_reserve_ms(spec.timeout_ms)),
		.undo_deadline_ms = t0 + spec.timeout_ms,
		.endpoints = &eps,
		.cacert = ctx->cacert,
		.cert = ctx->cert,
		.key = ctx->key,
		.ca_bundle = cli_get(ctx, "ca-bundle"),
		.certificate_key = join_key(ctx, &spec),
		.remove_dead = cli_get(ctx, "remove-dead"),
		.replace = cli_has(ctx, "replace"),
	};
	if (r >= 0 && spec.mode == EP_MODE_SYSTEMD) {
		if ((r = cli_node_programs(ctx, &wf, err)) >= 0)
			cli_pinned_version(ctx, &spec, pinbuf, sizeof(pinbuf), &wf.pinned_version);
	}
	struct cli_wf_result res = { 0 };
	if (r >= 0)
		r = cli_workflow_run(ctx, &wf, &res, err);
	if (r < 0 || cli_json(ctx))
		goto out;
	uint64_t took = ep_now_ms() - t0;
	if (ctx->dry_run)
		printf("[dryrun] Finished dry-running successfully; above is the plan\n");
	else if (res.rolled_back)
		printf("\nThe interrupted join was undone: the member it added is gone from the "
		       "cluster and this node's files are as they were before it.\n");
	else if (wf.files_in_place && !res.changed)
		printf("\nNothing to do: this node's etcd member '%s' is already a voting member "
		       "and every member is healthy; nothing was changed.\n", spec.name);
	else
		printf("\nThis node's etcd member '%s' %s a voting member of the cluster and every "
		       "member is healthy (joined in %llu.%03llu s).\n", spec.name,
		       res.resumed ? "(the interrupted join, finished) is" : "is",
		       (unsigned long long)took / 1000, (unsigned long long)took % 1000);
out:
	ep_wf_release(&wf);
	ep_strv_release(&skip);
	ep_strv_release(&ignore);
	ep_strv_release(&eps);
	ep_spec_release(&spec);
	return r;
}

static void join_phase_help(FILE *f)
{
	_cleanup_free_ char *sp = ep_workflow_help(&ep_workflow_join, EP_MODE_STATIC_POD);
	_cleanup_free_ char *sd = ep_workflow_help(&ep_workflow_join, EP_MODE_SYSTEMD);
	fprintf(f, "\nPhases (static-pod mode):\n%s\nPhases (--mode systemd):\n%s", sp ? sp : "",
		sd ? sd : "");
}

static const struct cli_opt join_opts[] = {
	{ "ca-bundle", 0, true, "FILE", "the etcd CA from 'certs export-bundle' on a member" },
	{ "certificate-key", 0, true, "HEX",
	  "the key 'certs export-bundle' printed for FILE (or controlPlane.certificateKey "
	  "in a JoinConfiguration)" },
	{ "remove-dead", 0, true, "NAME|ID",
	  "remove this dead member first (only when the others keep a quorum)" },
	{ "replace", 0, false, NULL,
	  "remove the member with this node's name or peer URL first, when it does not "
	  "answer (a rebuilt node's old member)" },
	CLI_WORKFLOW_OPTS,
	{ 0 },
};

const struct cli_command cmd_join = {
	.name = "join",
	.run = join_run,
	.groups = CLI_NODE | CLI_SYSTEMD | CLI_CLIENT,
	.opts = join_opts,
	.args = "ENDPOINT",
	.summary = "add this node to the cluster that ENDPOINT belongs to",
	.help = "ENDPOINT is the client URL of any member (several, comma-separated, are\n"
		"tried together).  The etcd CA comes from --ca-bundle/--certificate-key or was\n"
		"copied here by hand.  Runs the phases below: every member is probed first (a\n"
		"voting member that does not answer stops the join, named, with what to do;\n"
		"--remove-dead removes it first), the member is added as a learner (one join\n"
		"at a time: a second waits its turn), etcd is started with the cluster's\n"
		"--initial-cluster, the learner is promoted once it has caught up, and the join\n"
		"ends when every member is healthy - all within --timeout (default 4m).  Any\n"
		"failure undoes what the join did (--no-rollback keeps it); a join that was\n"
		"killed is finished by the next 'join' (or --resume) or undone (--rollback);\n"
		"--resume and --rollback need no ENDPOINT.  --replace takes the place of a\n"
		"member with this node's name or peer URL that does not answer (a rebuilt\n"
		"node's old member); a member that answers is never replaced.",
	.help_extra = join_phase_help,
	.min_args = 0, /* ENDPOINT: join_inputs (--resume and --rollback go without) */
	.max_args = 1,
	.json_output = true,
};
