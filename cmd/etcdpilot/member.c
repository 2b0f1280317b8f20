/*
 * member.c - etcdpilot member add|remove|promote: flags, the library's
 * plan and apply (membership.h: checks, quorum guards, endpoint, retries,
 * the catch-up wait), and rendering: etcdctl's lines, the ETCD_*
 * settings after an add, the plan under --dry-run, one JSON document with
 * -o json (progress and warnings then go to stderr).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "member_cli.h"
#include "etcdpilot/client.h"
#include "etcdpilot/membership.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

static json_t *strv_json(const struct ep_strv *sv)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

json_t *member_json(const struct ep_member *m)
{
	char hex[17];
	return json_pack("{s:s s:s s:o s:o s:o s:b}", "id", ep_member_id_hex(m->id, hex), "status",
			 m->name ? "started" : "unstarted", "name",
			 m->name ? json_string(m->name) : json_null(), "peer_urls",
			 strv_json(&m->peer_urls), "client_urls", strv_json(&m->client_urls),
			 "is_learner", m->is_learner);
}

/* ------------------------------------------------------------------------ */
/* Changes                                                                   */

enum change_op { OP_ADD, OP_REMOVE, OP_PROMOTE };

/*
 * Print @prefix and @text (names and URLs, some from the cluster) to @f with
 * the control characters of @text escaped, then a newline.
 */
static void print_escaped(FILE *f, const char *prefix, const char *text)
{
	_cleanup_free_ char *e = ep_escape(text);
	fprintf(f, "%s%s\n", prefix, e ? e : "(out of memory)");
}

struct progress {
	const struct cli_ctx *ctx;
	bool any;
	enum ep_membership_phase last;
	uint64_t last_ms;
};

/* One line per phase (again after 5 s of the same), never on stdout with -o json. */
static void on_progress(void *userdata, const struct ep_membership_progress *p)
{
	struct progress *ps = userdata;
	if (ps->any && p->phase == ps->last && p->elapsed_ms < ps->last_ms + 5000)
		return;
	ps->any = true, ps->last = p->phase, ps->last_ms = p->elapsed_ms;
	_cleanup_free_ char *line = ep_membership_progress_line(p);
	FILE *f = cli_json(ps->ctx) ? stderr : stdout;
	fprintf(f, "%s\n", line ? line : "[member] (out of memory)");
	fflush(f);
}

/* The plan: "would ..." lines, or one JSON document. */
static void render_plan(const struct cli_ctx *ctx, const struct ep_member_plan *plan)
{
	char hex[17];
	json_t *steps = json_array();
	for (size_t i = 0; i < plan->n_steps; i++) {
		const struct ep_member_step *st = &plan->steps[i];
		json_array_append_new(steps,
				      json_pack("{s:s s:o s:o s:o s:b s:s}", "action",
						ep_member_action_name(st->action), "id",
						st->id ? json_string(ep_member_id_hex(st->id, hex))
						       : json_null(),
						"name",
						st->name ? json_string(st->name) : json_null(),
						"peer_urls", strv_json(&st->peer_urls),
						"is_learner", st->learner, "summary", st->summary));
		if (!cli_json(ctx))
			print_escaped(stdout, "would ", st->summary);
	}
	json_t *doc = json_pack("{s:b s:s s:s s:o s:o}", "dry_run", 1, "cluster_id",
				ep_member_id_hex(plan->cluster_id, hex), "through", plan->endpoint,
				"steps", steps, "unsafe",
				ep_error_isset(&plan->unsafe) ? json_string(plan->unsafe.msg)
							      : json_null());
	if (cli_json(ctx))
		cli_print_doc("MemberChangePlan", doc);
	else
		json_decref(doc);
}

/* What etcd did: etcdctl's lines (and the ETCD_* settings after an add), or one JSON document. */
static int render_result(const struct cli_ctx *ctx, enum change_op op,
			 const struct ep_member_result *res, struct ep_error *err)
{
	static const char *const verb[] = { "added to", "removed from", "promoted in" };
	struct ep_member_env env = { 0 };
	char hex[17], chex[17];
	ep_member_id_hex(res->member.id, hex);
	ep_member_id_hex(res->cluster_id, chex);
	if (op == OP_ADD &&
	    ep_member_env_build(&res->members, &res->member, res->name, &env, err) < 0)
		return err->code;
	for (size_t i = 0; i < res->warnings.n; i++)
		print_escaped(stderr, "WARNING: ", res->warnings.v[i]);
	if (cli_json(ctx) && op == OP_ADD) {
		json_t *m = member_json(&res->member);
		json_object_set_new(m, "name", json_string(res->name));
		cli_print_doc("MemberAdded",
			      json_pack("{s:s s:o s:b s:{s:s s:s s:s s:s}}", "cluster_id", chex,
					"member", m, "reused", res->reused, "env", "ETCD_NAME",
					env.name, "ETCD_INITIAL_CLUSTER", env.initial_cluster,
					"ETCD_INITIAL_ADVERTISE_PEER_URLS", env.advertise_peer_urls,
					"ETCD_INITIAL_CLUSTER_STATE", env.cluster_state));
	} else if (cli_json(ctx)) {
		cli_print_doc(op == OP_REMOVE ? "MemberRemoved" : "MemberPromoted",
			      json_pack("{s:s s:s s:o s:b}", "cluster_id", chex,
					op == OP_REMOVE ? "removed" : "promoted", hex, "name",
					res->name ? json_string(res->name) : json_null(), "already",
					res->already));
	} else {
		printf("Member %s %s cluster %s%s%s\n", hex,
		       res->reused ? "(added earlier) reused in" : verb[op], chex,
		       op == OP_ADD && res->member.is_learner ? " as a learner" : "",
		       res->already ? " (already)" : "");
		/* The other members' names and URLs come from the cluster. */
		_cleanup_free_ char *e_cluster =
		    op == OP_ADD ? ep_escape(env.initial_cluster) : NULL;
		_cleanup_free_ char *e_peers = op == OP_ADD ? ep_escape(env.advertise_peer_urls) : NULL;
		if (op == OP_REMOVE && !res->already)
			printf("\nIts node still holds the member's manifest or unit and its data: an "
			       "etcd removed from the cluster\ncannot serve in it again.  Run "
			       "'etcdpilot reset' on that node (it finds the member gone and\n"
			       "cleans up), then 'etcdpilot join' there to add the node anew.\n");
		if (op == OP_ADD)
			printf("\nETCD_NAME=\"%s\"\nETCD_INITIAL_CLUSTER=\"%s\"\n"
			       "ETCD_INITIAL_ADVERTISE_PEER_URLS=\"%s\"\n"
			       "ETCD_INITIAL_CLUSTER_STATE=\"%s\"\n",
			       env.name, e_cluster ? e_cluster : "(out of memory)",
			       e_peers ? e_peers : "(out of memory)", env.cluster_state);
	}
	ep_member_env_release(&env);
	return 0;
}

/* Plan the change, then print the plan (--dry-run) or apply it and print the result. */
static int change_run(struct cli_ctx *ctx, enum change_op op, const struct ep_add_request *req,
		      struct ep_error *err)
{
	uint64_t t0 = ep_now_ms();
	struct cli_client cc = { 0 };
	struct ep_member_plan plan = { 0 };
	struct ep_member_result res = { 0 };
	struct progress ps = { .ctx = ctx };
	unsigned flags = (cli_has(ctx, "force") ? EP_REMOVE_FORCE : 0) |
			 (cli_has(ctx, "dead") ? EP_REMOVE_DEAD : 0);

	/* A usage error needs no cluster. */
	if (op != OP_ADD && !ctx->args[0][0])
		return ep_error_usage(err, -EINVAL, "no member given: NAME|ID is empty; 'etcdpilot "
						    "member list' shows the members");
	int r = cli_client_open(ctx, MEMBER_DEFAULT_TIMEOUT_MS, &cc, err);
	struct ep_cluster_access ca = { .client = cc.client,
					.endpoints = (const char *const *)cc.cfg.endpoints.v,
					.n_endpoints = cc.cfg.endpoints.n,
					.deadline_ms = t0 + cc.timeout_ms,
					.progress = on_progress,
					.progress_userdata = &ps };
	if (r >= 0 && op == OP_ADD)
		r = ep_membership_plan_add(&ca, req, &plan, err);
	else if (r >= 0 && op == OP_REMOVE)
		r = ep_membership_plan_remove(&ca, ctx->args[0], flags, &plan, err);
	else if (r >= 0)
		r = ep_membership_plan_promote(&ca, ctx->args[0], &plan, err);
	if (r >= 0 && ep_error_isset(&plan.unsafe)) {
		print_escaped(stderr, "WARNING: --force: ", plan.unsafe.msg); /* names members */
		fprintf(stderr, "WARNING: the cluster may lose quorum and stop serving until the "
				"missing members are back\n");
	}
	if (r >= 0 && ctx->dry_run)
		render_plan(ctx, &plan);
	else if (r >= 0 && (r = ep_membership_apply(&ca, &plan, &res, err)) >= 0)
		r = render_result(ctx, op, &res, err);
	ep_member_result_release(&res);
	ep_member_plan_release(&plan);
	cli_client_release(&cc);
	return r;
}

/* NAME and PEER-URL are checked first: a usage error needs no cluster. */
static int member_add_run(struct cli_ctx *ctx, struct ep_error *err)
{
	struct ep_strv peers = { 0 };
	int r = ep_member_name_check(ctx->args[0], err);
	if (r < 0)
		return ep_error_prefix(err, "argument NAME");
	if ((r = ep_peer_urls_parse(ctx->args[1], &peers, err)) < 0)
		return ep_error_prefix(err, "argument PEER-URL");
	const struct ep_add_request req = { .name = ctx->args[0],
					    .peer_urls = (const char *const *)peers.v,
					    .n_peer_urls = peers.n,
					    .learner = cli_has(ctx, "learner"),
					    .force = cli_has(ctx, "force") };
	r = change_run(ctx, OP_ADD, &req, err);
	ep_strv_release(&peers);
	return r;
}

static int member_remove_run(struct cli_ctx *ctx, struct ep_error *err)
{
	return change_run(ctx, OP_REMOVE, NULL, err);
}

static int member_promote_run(struct cli_ctx *ctx, struct ep_error *err)
{
	return change_run(ctx, OP_PROMOTE, NULL, err);
}

static const struct cli_opt add_opts[] = {
	{ "learner", 0, false, NULL, "add the member as a non-voting learner (always quorum-safe)" },
	{ "force", 0, false, NULL, "skip the quorum check (dangerous: the cluster may stop)" },
	{ 0 },
};

static const struct cli_opt remove_opts[] = {
	{ "force", 0, false, NULL, "skip the quorum check (dangerous: the cluster may stop)" },
	{ "dead", 0, false, NULL, "only if the member does not answer (refused when it does)" },
	{ 0 },
};

const struct cli_command cmd_member_add = {
	.name = "member add",
	.run = member_add_run,
	.groups = CLI_NODE | CLI_CLIENT,
	.opts = add_opts,
	.args = "NAME PEER-URL",
	.summary = "add a member (refused when it would cost quorum)",
	.help = "Add member NAME with PEER-URL (https://HOST:PORT, comma-separated for several)\n"
		"and print the ETCD_* settings it must start with.  NAME holds letters, digits,\n"
		"'-', '.' and '_' and is recorded under /etcdpilot/member-name/ so that a second\n"
		"add under it is refused before the member starts.  A voting member is refused\n"
		"when the started voters would fall short of the new quorum; a learner\n"
		"(--learner) is always safe and is promoted later with 'etcdpilot member promote'.",
	.min_args = 2,
	.max_args = 2,
	.json_output = true,
};

const struct cli_command cmd_member_remove = {
	.name = "member remove",
	.run = member_remove_run,
	.groups = CLI_NODE | CLI_CLIENT,
	.opts = remove_opts,
	.args = "NAME|ID",
	.summary = "remove a member (refused when it would cost quorum)",
	.help = "Remove the member named NAME or with the hex ID (as 'member list' prints it;\n"
		"refused as ambiguous when NAME is one member's name and another's ID).  Refused\n"
		"when the remaining started voters could not form a quorum; sent through another\n"
		"voter.  --dead removes only a member that does not answer.",
	.min_args = 1,
	.max_args = 1,
	.json_output = true,
};

const struct cli_command cmd_member_promote = {
	.name = "member promote",
	.run = member_promote_run,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = "NAME|ID",
	.summary = "promote a learner to a voting member",
	.help = "Promote the learner NAME or ID once it has started and caught up with the\n"
		"leader (its applied index, printed while it catches up); while etcd still says\n"
		"it is not in sync, the promotion is retried with backoff until --timeout\n"
		"(default 5s).",
	.min_args = 1,
	.max_args = 1,
	.json_output = true,
};
