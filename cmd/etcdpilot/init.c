/*
 * init.c - etcdpilot init, and init phase NAME: bootstrap the first member
 * on this node.  The phases (preflight, install, certs, etcd, start, wait)
 * are the library's (workflow.h); this file reads the flags, runs the
 * workflow through cli_node.c and says what to do next.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_node.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/unit.h"
#include "util/cleanup.h"

/* What the next control-plane node needs: the CA as a bundle, and the join command. */
static void print_join_hint(const struct ep_spec *spec)
{
	_cleanup_free_ char *client = ep_url("https", spec->advertise_address, 2379);
	bool sd = spec->mode == EP_MODE_SYSTEMD;
	printf("\nYour etcd member '%s' is running %s (etcd %s) and is healthy.\n", spec->name,
	       sd ? "as " EP_UNIT_NAME : "as a static Pod", spec->etcd_version);
	if (sd)
		printf("Run etcdctl with its certificates through %s/etcdctl.sh, e.g.\n"
		       "\t%s/etcdctl.sh endpoint health\n",
		       spec->systemd.bin_dir, spec->systemd.bin_dir);
	printf("\nTo add another control-plane member, export the etcd CA here (the command "
	       "prints a certificate key, once):\n\n"
	       "\tetcdpilot certs export-bundle FILE\n\n"
	       "copy FILE to the new node and run there:\n\n");
	cli_print_join_command(spec, client, NULL, NULL);
	printf("\n(A CA copied by hand works too: %s/etcd/ca.crt and %s/etcd/ca.key to the "
	       "same place on the new node, then join without --ca-bundle and "
	       "--certificate-key.)\n", spec->cert_dir, spec->cert_dir);
}

static void progress_cb(void *userdata, uint64_t done, uint64_t total)
{
	(void)userdata;
	static int last = -1;
	int pct = total ? (int)(done * 100 / total) : -1;
	if (!total || pct == last)
		return;
	last = pct;
	fprintf(stderr, "\r[install] %3d%% %.1f/%.1f MiB%s", pct, done / 1048576.0,
		total / 1048576.0, pct == 100 ? "\n" : "");
	fflush(stderr);
}

static int init_run(struct cli_ctx *ctx, const char *only_phase, struct ep_error *err)
{
	struct ep_spec spec;
	struct ep_strv skip = { 0 }, ignore = { 0 };
	struct ep_wf wf = { 0 };
	char pinbuf[32];
	ep_spec_init(&spec);
	int r = cli_load_spec(ctx, &spec, err);
	if (r >= 0)
		r = ep_spec_check_init(&spec, err); /* a join or external config: exit 2 */
	if (r >= 0 && (cli_split_list(cli_get(ctx, "skip-phases"), &skip) < 0 ||
		       cli_split_list(cli_get(ctx, "ignore-preflight-errors"), &ignore) < 0))
		r = ep_error_set(err, -ENOMEM, "out of memory");
	wf = (struct ep_wf){
		.workflow = &ep_workflow_init,
		.spec = &spec,
		.root = ctx->root,
		.dry_run = ctx->dry_run,
		.only_phase = only_phase,
		.skip = &skip,
		.ignore = &ignore,
		.log = cli_log(ctx), /* -o json: progress on stderr */
		.progress = isatty(2) ? progress_cb : NULL,
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
	if (ctx->dry_run && !ep_plan_changes(wf.plan))
		printf("[dryrun] Nothing would change: this node's etcd member '%s' is in place "
		       "(a real run only checks that it is healthy)\n", spec.name);
	else if (ctx->dry_run)
		printf("[dryrun] Finished dry-running successfully; above is the plan\n");
	else if (res.rolled_back)
		printf("\nThe interrupted run was undone: the node is as it was before it.\n");
	else if (only_phase)
		printf("[%s] Phase done%s\n", only_phase, res.changed ? "" : ": nothing was changed");
	else if (!res.changed)
		printf("\nNothing to do: this node's etcd member '%s' was already initialised and "
		       "is healthy; nothing was changed.\n", spec.name);
	else if (wf.member_running && !wf.etcd_changed)
		printf("\nRepaired: this node's etcd member '%s' was already initialised and is "
		       "healthy; only what is listed above was changed, and etcd was not "
		       "restarted.\n", spec.name);
	else
		print_join_hint(&spec);
out:
	ep_wf_release(&wf);
	ep_strv_release(&skip);
	ep_strv_release(&ignore);
	ep_spec_release(&spec);
	return r;
}

static int run_init(struct cli_ctx *ctx, struct ep_error *err)
{
	return init_run(ctx, NULL, err);
}

static int run_init_phase(struct cli_ctx *ctx, struct ep_error *err)
{
	return init_run(ctx, ctx->args[0], err);
}

static void init_phase_help(FILE *f)
{
	_cleanup_free_ char *sp = ep_workflow_help(&ep_workflow_init, EP_MODE_STATIC_POD);
	_cleanup_free_ char *sd = ep_workflow_help(&ep_workflow_init, EP_MODE_SYSTEMD);
	fprintf(f, "\nPhases (static-pod mode):\n%s\nPhases (--mode systemd):\n%s", sp ? sp : "",
		sd ? sd : "");
}

static void phase_words(FILE *f)
{
	for (const struct ep_phase *const *p = ep_workflow_init.phases; *p; p++)
		fprintf(f, "%s\n", (*p)->name);
}

static const struct cli_opt init_opts[] = {
	CLI_WORKFLOW_OPTS,
	{ 0 },
};

const struct cli_command cmd_init = {
	.name = "init",
	.run = run_init,
	.groups = CLI_NODE | CLI_SYSTEMD,
	.opts = init_opts,
	.args = NULL,
	.summary = "bootstrap the first etcd member on this node",
	.help = "Runs the phases of 'init phase --help' in order: preflight (every failed\n"
		"check listed, kubeadm's names; --ignore-preflight-errors makes some warn),\n"
		"install (systemd mode), certs (existing valid ones reused), etcd (data dir and\n"
		"manifest, or unit and environment), start (systemd), wait (at most --timeout,\n"
		"default 4m).  Every change is an action of one plan: --dry-run prints it (with\n"
		"-o json as one document) and changes nothing; a run applies it under a journal\n"
		"in /var/lib/etcdpilot, undoing what it did when an action fails.  A run that\n"
		"was killed is finished by the next 'init' (or --resume) or undone (--rollback).\n"
		"A second run with the same settings changes nothing; with other settings it\n"
		"lists what differs and changes nothing.",
	.help_extra = init_phase_help,
	.min_args = 0,
	.max_args = 0,
	.json_output = true,
};

const struct cli_command cmd_init_phase = {
	.name = "init phase",
	.run = run_init_phase,
	.groups = CLI_NODE | CLI_SYSTEMD,
	.opts = init_opts,
	.args = "NAME",
	.arg_words = phase_words,
	.summary = "run one phase of init alone",
	.help = "Plans and applies the phase NAME of init alone, as 'kubeadm init phase'\n"
		"does (preflight still looks at the node to know what is there, but only\n"
		"the phase's own actions run).",
	.help_extra = init_phase_help,
	.min_args = 1,
	.max_args = 1,
	.json_output = true,
};
