/*
 * actions_cluster.c - the action types that change or watch the cluster
 * (plan.h), for join and reset:
 *
 *   cluster.check       probe every member before join adds one: duplicates,
 *                       voters that do not answer (etcd 3.4/3.5 refuse every
 *                       membership change then), --remove-dead's target
 *   member.evict        join --remove-dead / --replace: remove the member in
 *                       the way; the removal stands when the join is undone
 *   member.add          add this node's member as a learner (or take the
 *                       never-started one with its peer URL); undo removes it
 *   member.promote      wait until the learner has started and caught up,
 *                       then promote it; undo removes the member while its
 *                       etcd still runs (see below)
 *   wait.cluster        until every member answers healthy
 *   member.move-leader  reset of the leader: hand leadership away first
 *   member.remove       reset: remove this node's member (irreversible)
 *
 * Each talks to etcd only through membership.h and client.h, within the
 * run's deadline (an undo gets at most EP_UNDO_BUDGET_MS, and a third of
 * what is left of the command's when it has one), and keeps
 * plan.h's contract: member.add journals that it is about to add before
 * it calls MemberAdd, so that a run killed between the call and the
 * journal finds the member again by its peer URLs, both to finish (resume)
 * and to remove it (rollback).
 *
 * Why member.promote's undo removes the member: rollback runs backwards,
 * and the next undo stops this node's etcd.  Once promoted, the member is
 * a voter; stopping it before removing it would leave a two-member cluster
 * with one voter of two up - no quorum, and then no removal either.  So the
 * voter is removed while its etcd still runs (etcd stops itself), and
 * member.add's undo later finds it gone.  A learner is another matter: it
 * does not vote, so when the cluster cannot be reached its removal is
 * deferred (EP_UNDO_DEFERRED) and the node's own changes are undone all
 * the same.  Whether the member can be a voter is what "promoting" (in
 * member.promote's undo data, journalled right before MemberPromote) says.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "actions_internal.h"
#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/membership.h"
#include "etcdpilot/plan.h"
#include "plan_internal.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

#define RETRY_MS      300
#define GRACE_DOWN_MS 2000

/* ---- the "cluster" params object ---------------------------------------------- */

json_t *ep_cluster_json(const struct ep_strv *endpoints, const char *cacert, const char *cert,
			const char *key, bool node_paths)
{
	json_t *eps = json_array();
	for (size_t i = 0; eps && i < endpoints->n; i++)
		if (json_array_append_new(eps, json_string(endpoints->v[i])) < 0) {
			json_decref(eps);
			return NULL;
		}
	return eps ? json_pack("{s:o, s:s, s:s, s:s, s:b}", "endpoints", eps, "cacert", cacert,
			       "cert", cert, "key", key, "node_paths", node_paths)
		   : NULL;
}

int ep_cluster_json_check(const json_t *params, const char *type, struct ep_error *err)
{
	const json_t *c = json_object_get(params, "cluster");
	const json_t *eps = json_object_get(c, "endpoints");
	size_t i;
	const json_t *v;
	if (!json_is_object(c) || !json_is_array(eps) || !json_array_size(eps))
		return ep_error_set(err, -EINVAL, "a '%s' action needs 'cluster' with 'endpoints'",
				    type);
	json_array_foreach(eps, i, v) {
		const char *s = json_string_value(v);
		if (!s || (strncmp(s, "https://", 8) && strncmp(s, "http://", 7)))
			return ep_error_set(err, -EINVAL, "'%s': 'cluster.endpoints' holds a value "
							  "that is no client URL", type);
	}
	static const char *const files[] = { "cacert", "cert", "key", NULL };
	for (size_t k = 0; files[k]; k++) {
		const char *p = json_string_value(json_object_get(c, files[k]));
		if (!p || p[0] != '/')
			return ep_error_set(err, -EINVAL, "'%s': 'cluster.%s' must be an absolute path",
					    type, files[k]);
	}
	return 0;
}

void ep_conn_close(struct ep_conn *c)
{
	free(c->ca.progress_userdata);
	ep_client_free(c->client);
	ep_strv_release(&c->endpoints);
	memset(c, 0, sizeof(*c));
}

struct conn_log {
	ep_log_fn log;
	void *userdata;
	enum ep_membership_phase last;
	bool any;
	uint64_t last_ms, last_index;
};

/*
 * Progress of a promotion: one line per phase, again every 5 s of the same
 * phase, and while the learner catches up a line when its applied index
 * moved (at most one a second).
 */
static void on_progress(void *userdata, const struct ep_membership_progress *p)
{
	struct conn_log *cl = userdata;
	if (!cl->log)
		return;
	bool same = cl->any && p->phase == cl->last;
	uint64_t gap = p->elapsed_ms - cl->last_ms;
	if (same && !(gap >= 5000 ||
		      (p->phase == EP_PHASE_CATCH_UP && gap >= 1000 && p->learner_index != cl->last_index)))
		return;
	cl->any = true;
	cl->last = p->phase;
	cl->last_ms = p->elapsed_ms;
	cl->last_index = p->learner_index;
	_cleanup_free_ char *line = ep_membership_progress_line(p);
	if (line)
		cl->log(cl->userdata, line);
}

static int push_unique(struct ep_strv *sv, const char *s)
{
	return ep_strv_contains(sv, s) ? 0 : ep_strv_push(sv, s);
}

int ep_conn_open(const char *root, const json_t *cluster, const json_t *more,
		 uint64_t deadline_ms, ep_log_fn log, void *userdata, struct ep_conn *c,
		 struct ep_error *err)
{
	size_t i;
	const json_t *v;
	int r = 0;
	memset(c, 0, sizeof(*c));
	json_array_foreach(json_object_get(cluster, "endpoints"), i, v)
		if (json_is_string(v) && push_unique(&c->endpoints, json_string_value(v)) < 0)
			r = -ENOMEM;
	json_array_foreach(more, i, v)
		if (json_is_string(v) && push_unique(&c->endpoints, json_string_value(v)) < 0)
			r = -ENOMEM;
	if (r < 0)
		return ep_error_set(err, r, "out of memory");
	if (!c->endpoints.n)
		return ep_error_set(err, -EINVAL, "no client URL of the cluster to ask");
	struct ep_tls tls = { 0 };
	bool node = json_is_true(json_object_get(cluster, "node_paths"));
	static const char *const keys[] = { "cacert", "cert", "key" };
	char **slots[] = { &tls.cacert, &tls.cert, &tls.key };
	for (size_t k = 0; k < 3; k++) {
		const char *p = json_string_value(json_object_get(cluster, keys[k]));
		if (!p)
			continue;
		if (node)
			r = ep_root_path(root, p, slots[k], err);
		else if (!(*slots[k] = strdup(p)))
			r = ep_error_set(err, -ENOMEM, "out of memory");
		if (r < 0) {
			ep_tls_release(&tls);
			return r;
		}
	}
	r = ep_client_new(&tls, EP_CLUSTER_CALL_MS, &c->client, err);
	ep_tls_release(&tls);
	if (r < 0)
		return r;
	struct conn_log *cl = calloc(1, sizeof(*cl));
	if (!cl)
		return ep_error_set(err, -ENOMEM, "out of memory");
	*cl = (struct conn_log){ .log = log, .userdata = userdata };
	c->ca = (struct ep_cluster_access){
		.client = c->client,
		.endpoints = (const char *const *)c->endpoints.v,
		.n_endpoints = c->endpoints.n,
		.deadline_ms = deadline_ms,
		.call_timeout_ms = EP_CLUSTER_CALL_MS,
		.progress = log ? on_progress : NULL,
		.progress_userdata = cl,
	};
	return 0;
}

static void conn_close(struct ep_conn *c)
{
	ep_conn_close(c);
}

bool ep_conn_transient(int r)
{
	switch (r) {
	case -EAGAIN:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EHOSTDOWN:
	case -ETIMEDOUT:
	case -ECANCELED:
		return true;
	default:
		return false;
	}
}

/* The run's deadline for a forward step (a run without one gets the action's timeout_ms). */
static uint64_t apply_deadline(const struct ep_apply_ctx *ctx, const json_t *params)
{
	if (ctx->deadline_ms)
		return ctx->deadline_ms;
	json_int_t t = json_integer_value(json_object_get(params, "timeout_ms"));
	return ep_now_ms() + (t > 0 ? (uint64_t)t : 240000);
}

/*
 * An undo's time to reach the cluster: EP_UNDO_BUDGET_MS, or when the
 * command must end by ctx->undo_deadline_ms a third of what is left, so
 * that the node's own undos (the pod or unit to stop) still fit.
 */
static uint64_t undo_deadline(const struct ep_apply_ctx *ctx)
{
	uint64_t budget = EP_UNDO_BUDGET_MS;
	if (ctx->undo_deadline_ms) {
		uint64_t third = ep_ms_left(ctx->undo_deadline_ms) / 3;
		budget = third < 1000 ? 1000 : third < budget ? third : budget;
	}
	return ep_now_ms() + budget;
}

/* What cluster.check recorded: the client URLs of every started member (may be NULL). */
static const json_t *known_urls(const struct ep_apply_ctx *ctx)
{
	return json_object_get(ep_apply_prior_undo(ctx, "cluster.check"), "client_urls");
}

static int open_conn(struct ep_apply_ctx *ctx, const json_t *params, uint64_t deadline,
		     struct ep_conn *c, struct ep_error *err)
{
	return ep_conn_open(ctx->root, json_object_get(params, "cluster"), known_urls(ctx),
			    deadline, ctx->log, ctx->userdata, c, err);
}

/* Sleep @ms unless that passes @deadline; false when it would. */
static bool pause_until(uint64_t deadline, uint64_t ms)
{
	if (ep_ms_left(deadline) <= ms)
		return false;
	ep_sleep_ms(ms);
	return true;
}

static json_t *strv_json(const struct ep_strv *sv)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

static int strv_from_json(const json_t *a, struct ep_strv *sv)
{
	size_t i;
	const json_t *v;
	json_array_foreach(a, i, v)
		if (json_is_string(v) && ep_strv_push(sv, json_string_value(v)) < 0)
			return -ENOMEM;
	return 0;
}

static void describe_cluster(const json_t *params, struct ep_strbuf *out)
{
	const json_t *eps = json_object_get(json_object_get(params, "cluster"), "endpoints");
	const char *first = json_string_value(json_array_get(eps, 0));
	ep_strbuf_adds(out, " through ");
	ep_strbuf_add_escaped(out, first ? first : "?", strlen(first ? first : "?"));
	if (json_array_size(eps) > 1)
		ep_strbuf_addf(out, " (or %zu more)", json_array_size(eps) - 1);
}

static void add_urls(struct ep_strbuf *out, const json_t *urls)
{
	size_t i;
	const json_t *v;
	json_array_foreach(urls, i, v) {
		const char *s = json_string_value(v);
		ep_strbuf_adds(out, i ? "," : "");
		ep_strbuf_add_escaped(out, s ? s : "?", strlen(s ? s : "?"));
	}
}

static int check_name_urls(const json_t *params, const char *type, struct ep_error *err)
{
	int r = ep_cluster_json_check(params, type, err);
	if (r < 0)
		return r;
	const char *name = ep_param_str(params, "name");
	if (name && (r = ep_member_name_check(name, err)) < 0)
		return r;
	const json_t *urls = json_object_get(params, "peer_urls");
	size_t i;
	const json_t *v;
	if (!json_is_array(urls) || !json_array_size(urls))
		return ep_error_set(err, -EINVAL, "a '%s' action needs 'peer_urls'", type);
	json_array_foreach(urls, i, v)
		if ((r = ep_peer_url_check(json_string_value(v), err)) < 0)
			return r;
	return 0;
}

static const char *hexid(uint64_t id, char buf[static 17])
{
	return ep_member_id_hex(id, buf);
}

static int parse_id(const json_t *obj, const char *key, uint64_t *ret)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? ep_member_id_parse(s, ret) : -ENOENT;
}

/* ---- the check before a join ---------------------------------------------------- */

/* "'n3' (8e9e...) at https://...: <why>" for member @i, escaped, into @sb. */
static void describe_down(struct ep_strbuf *sb, const struct ep_member_plan *plan, size_t i)
{
	const struct ep_member_health *m = &plan->report.v[i];
	const char *name = m->member.name ? m->member.name : plan->hints ? plan->hints[i] : NULL;
	char hex[17];
	ep_strbuf_addch(sb, '\'');
	ep_strbuf_add_escaped(sb, name ? name : hexid(m->member.id, hex),
			      strlen(name ? name : hex));
	ep_strbuf_addf(sb, "' (%s", hexid(m->member.id, hex));
	if (!m->started)
		ep_strbuf_adds(sb, ", added but never started");
	ep_strbuf_adds(sb, ")");
	if (m->endpoint) {
		ep_strbuf_adds(sb, " at ");
		ep_strbuf_add_escaped(sb, m->endpoint, strlen(m->endpoint));
	}
	const char *why = m->error ? m->error : "no answer";
	ep_strbuf_adds(sb, ": ");
	ep_strbuf_add_escaped(sb, why, strlen(why));
}

/* How a member is named in a command line: its name when safe, else 0x<ID>. */
static void cmd_arg(struct ep_strbuf *sb, const struct ep_member_plan *plan, size_t i)
{
	const struct ep_member *m = &plan->report.v[i].member;
	const char *name = m->name ? m->name : plan->hints ? plan->hints[i] : NULL;
	char hex[17];
	if (name && ep_member_name_check(name, NULL) == 0)
		ep_strbuf_adds(sb, name);
	else
		ep_strbuf_addf(sb, "0x%s", hexid(m->id, hex));
}

static void say(ep_log_fn log, void *ud, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(ep_log_fn log, void *ud, const char *fmt, ...)
{
	if (!log)
		return;
	struct ep_strbuf sb = EP_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	ep_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (!ep_strbuf_oom(&sb))
		log(ud, ep_strbuf_str(&sb));
	ep_strbuf_release(&sb);
}

/* The voters that do not answer and are none of @skip_a/b/c; their indexes into @idx. */
static size_t voters_down(const struct ep_member_plan *plan, size_t skip_a, size_t skip_b,
			  size_t skip_c, size_t *idx)
{
	size_t n = 0;
	for (size_t i = 0; i < plan->report.n; i++) {
		const struct ep_member_health *m = &plan->report.v[i];
		if (m->member.is_learner || m->status_ok || i == skip_a || i == skip_b ||
		    i == skip_c)
			continue;
		idx[n++] = i;
	}
	return n;
}

static int dead_refusal(const struct ep_member_plan *plan, const size_t *down, size_t n,
			struct ep_error *err)
{
	struct ep_strbuf sb = EP_STRBUF_INIT, arg = EP_STRBUF_INIT;
	for (size_t k = 0; k < n; k++) {
		ep_strbuf_adds(&sb, k ? "; " : "");
		describe_down(&sb, plan, down[k]);
	}
	cmd_arg(&arg, plan, down[0]);
	int r = ep_error_set(
		err, -EHOSTDOWN,
		"%s voting member%s %s not answer: %s (etcd does not say since when: its API keeps "
		"no peer contact times); etcd 3.4 and 3.5 refuse every membership change, learners "
		"included, while a voting member is unreachable, so the join would fail; nothing "
		"was added to the cluster.  If %s is gone for good, run join again with "
		"'--remove-dead %s' (it is removed first, when the other members keep a quorum) "
		"or run 'etcdpilot member remove --dead %s' on a member; if it is only down for a "
		"while, start it again and re-run join",
		n == 1 ? "a" : "these", n == 1 ? "" : "s", n == 1 ? "does" : "do",
		ep_strbuf_str(&sb), ep_strbuf_str(&arg), ep_strbuf_str(&arg), ep_strbuf_str(&arg));
	ep_strbuf_release(&sb);
	ep_strbuf_release(&arg);
	return r;
}

int ep_join_cluster_check(const struct ep_cluster_access *ca, const struct ep_join_check *in,
			  ep_log_fn log, void *userdata, struct ep_strv *ret_urls,
			  struct ep_error *err)
{
	const struct ep_add_request req = { .name = in->name,
					    .peer_urls = in->peer_urls,
					    .n_peer_urls = in->n_peer_urls,
					    .learner = true,
					    .reuse = true,
					    .replace = in->replace,
					    .offer_replace = true };
	uint64_t first_down = 0;
	char hex[17];
	for (;;) {
		struct ep_member_plan plan = { 0 };
		int r = ep_membership_plan_add(ca, &req, &plan, err);
		if (r < 0 && strstr(err->msg, "TLS handshake failed: unknown CA"))
			/* every member refused: a CA of another cluster (its leaf
			   certificates, made by this run, are undone with it) */
			ep_error_append(err, "; this node's etcd CA is not the one that signed "
					     "the cluster's certificates (a CA of another "
					     "cluster?): delete that ca.crt and its ca.key on "
					     "this node and bring the cluster's: 'etcdpilot "
					     "certs export-bundle FILE' on "
					     "a member, then join with '--ca-bundle FILE "
					     "--certificate-key KEY'");
		if (r < 0)
			return r;
		size_t target = SIZE_MAX, replaced = SIZE_MAX, reused = SIZE_MAX;
		for (size_t s = 0; s < plan.n_steps; s++)
			if (plan.steps[s].action == EP_STEP_REMOVE)
				replaced = plan.steps[s].idx;
			else if (plan.steps[s].action == EP_STEP_REUSE)
				reused = plan.steps[s].idx;
		if (in->remove_dead) {
			struct ep_error lerr = { 0 };
			int i = ep_membership_lookup(&plan.report, plan.hints, in->remove_dead, &lerr);
			if (i == -ENOENT) {
				say(log, userdata, "[cluster-check] --remove-dead: no member '%s' is "
						   "left in the cluster (removed already?)",
				    in->remove_dead);
			} else if (i < 0) {
				*err = lerr;
				ep_member_plan_release(&plan);
				return i;
			} else {
				target = (size_t)i;
				struct ep_strbuf sb = EP_STRBUF_INIT;
				describe_down(&sb, &plan, target);
				if (plan.report.v[target].status_ok) {
					const struct ep_member_health *t = &plan.report.v[target];
					struct ep_strbuf who = EP_STRBUF_INIT;
					cmd_arg(&who, &plan, target);
					r = ep_error_set(err, -EBUSY,
							 "--remove-dead: member %s (%s) answers at "
							 "%s: it is not dead; nothing was changed: "
							 "drop --remove-dead, or run 'etcdpilot "
							 "reset' on its node",
							 ep_strbuf_str(&who),
							 hexid(t->member.id, hex),
							 t->endpoint ? t->endpoint : "its client URL");
					ep_strbuf_release(&who);
				} else {
					r = ep_quorum_check_remove(&plan.report, target, err);
					if (r >= 0)
						say(log, userdata, "[cluster-check] --remove-dead: "
								   "member %s will be removed first",
						    ep_strbuf_str(&sb));
				}
				ep_strbuf_release(&sb);
				if (r < 0) {
					ep_member_plan_release(&plan);
					return r;
				}
			}
		}
		size_t *down = calloc(plan.report.n + 1, sizeof(*down));
		if (!down) {
			ep_member_plan_release(&plan);
			return ep_error_set(err, -ENOMEM, "out of memory");
		}
		/* a never-started member this join takes (no change asked of etcd) is
		   down only until this node starts it */
		size_t ndown = voters_down(&plan, target, replaced, reused, down);
		if (ndown) {
			if (!first_down)
				first_down = ep_now_ms();
			bool again = ep_now_ms() - first_down < GRACE_DOWN_MS &&
				     ep_ms_left(ca->deadline_ms) > RETRY_MS * 2;
			if (!again)
				r = dead_refusal(&plan, down, ndown, err);
			free(down);
			ep_member_plan_release(&plan);
			if (!again)
				return r;
			ep_sleep_ms(RETRY_MS);
			continue;
		}
		free(down);
		const struct ep_health_report *hr = &plan.report;
		for (size_t i = 0; i < hr->n; i++) {
			const struct ep_member_health *m = &hr->v[i];
			if (ret_urls)
				for (size_t k = 0; m->started && k < m->member.client_urls.n; k++)
					if (push_unique(ret_urls, m->member.client_urls.v[k]) < 0)
						r = -ENOMEM;
			bool ours = false;
			for (size_t k = 0; k < in->n_peer_urls; k++)
				ours |= ep_strv_contains(&m->member.peer_urls, in->peer_urls[k]);
			if (!m->member.is_learner || ours)
				continue;
			struct ep_strbuf sb = EP_STRBUF_INIT;
			describe_down(&sb, &plan, i);
			say(log, userdata, "[cluster-check] learner %s%s holds etcd's one learner "
					   "slot: this join waits its turn",
			    ep_strbuf_str(&sb), m->status_ok ? " (answers)" : "");
			ep_strbuf_release(&sb);
		}
		/* The voters that do not answer, and are let pass, are said. */
		struct ep_strbuf but = EP_STRBUF_INIT;
		const size_t gone[3] = { target, replaced, reused };
		static const char *const why[3] = { "which --remove-dead removes first",
						     "which --replace removes first",
						     "never started, which this join takes" };
		for (size_t k = 0; k < 3; k++) {
			if (gone[k] == SIZE_MAX || (k && gone[k] == gone[0]) ||
			    (k == 2 && gone[2] == gone[1]))
				continue;
			const struct ep_member_health *m = &hr->v[gone[k]];
			if (m->member.is_learner || m->status_ok)
				continue;
			ep_strbuf_adds(&but, but.len ? " and " : " but ");
			cmd_arg(&but, &plan, gone[k]);
			ep_strbuf_addf(&but, " (%s), %s", hexid(m->member.id, hex), why[k]);
		}
		bool reused_learner = reused != SIZE_MAX && hr->v[reused].member.is_learner;
		say(log, userdata, "[cluster-check] Cluster %s: %zu member%s (%zu voting), every "
				   "voting member answers%s%s",
		    hexid(hr->cluster_id, hex), hr->n, hr->n == 1 ? "" : "s", hr->voters,
		    but.len ? but.buf : "",
		    reused_learner ? "; a learner added earlier with this node's peer URL, never "
				     "started, will be taken"
				   : "");
		if (but.oom)
			r = -ENOMEM;
		ep_strbuf_release(&but);
		ep_member_plan_release(&plan);
		if (r < 0)
			return ep_error_set(err, r, "out of memory");
		return 0;
	}
}

/* ---- cluster.check {cluster, name, peer_urls, remove_dead, replace} -------------- */

static int ccheck_check(const json_t *params, struct ep_error *err)
{
	return check_name_urls(params, "cluster.check", err);
}

static void ccheck_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_adds(out, "probe every member of the cluster");
	describe_cluster(params, out);
	const char *dead = ep_param_str(params, "remove_dead");
	if (dead) {
		ep_strbuf_adds(out, " (--remove-dead ");
		ep_strbuf_add_escaped(out, dead, strlen(dead));
		ep_strbuf_adds(out, ")");
	}
}

/* The join request of @params (pointers into @params and @urls). */
static void join_request(const json_t *params, struct ep_strv *urls, struct ep_join_check *in)
{
	*in = (struct ep_join_check){
		.name = ep_param_str(params, "name"),
		.peer_urls = (const char *const *)urls->v,
		.n_peer_urls = urls->n,
		.remove_dead = ep_param_str(params, "remove_dead"),
		.replace = ep_param_bool(params, "replace", false),
	};
}

static int ccheck_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			struct ep_error *err)
{
	struct ep_conn c;
	struct ep_strv urls = { 0 }, client_urls = { 0 };
	struct ep_join_check in;
	int r = strv_from_json(json_object_get(params, "peer_urls"), &urls);
	if (r < 0)
		return ep_error_set(err, r, "out of memory");
	join_request(params, &urls, &in);
	r = open_conn(ctx, params, apply_deadline(ctx, params), &c, err);
	if (r >= 0)
		r = ep_join_cluster_check(&c.ca, &in, ctx->log, ctx->userdata, &client_urls, err);
	if (r >= 0)
		json_object_set_new(undo, "client_urls", strv_json(&client_urls));
	conn_close(&c);
	ep_strv_release(&urls);
	ep_strv_release(&client_urls);
	return r < 0 ? r : 0;
}

static int noop_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		     struct ep_error *err)
{
	(void)ctx, (void)params, (void)undo, (void)err;
	return 0;
}

static const struct ep_action_type cluster_check_type = {
	.name = "cluster.check",
	.reversible = true,
	.changes = false,
	.remote = true,
	.check = ccheck_check,
	.describe = ccheck_describe,
	.apply = ccheck_apply,
	.undo = noop_undo,
};

/* ---- removing a member by ID (undo of add and promote, evict, remove) ------------ */

/*
 * Remove member @id through another voter, with etcd's retries, until
 * @c's deadline.  *@ret_gone (may be NULL): it was not there.  0 or -errno.
 */
static int remove_id(struct ep_conn *c, uint64_t id, unsigned flags, bool *ret_gone,
		     struct ep_error *err)
{
	char arg[20], hex[17];
	snprintf(arg, sizeof(arg), "0x%s", hexid(id, hex));
	if (ret_gone)
		*ret_gone = false;
	for (;;) {
		struct ep_member_plan plan = { 0 };
		struct ep_member_result res = { 0 };
		struct ep_error e = { 0 };
		int r = ep_membership_plan_remove(&c->ca, arg, flags, &plan, &e);
		if (r == -ENOENT && strstr(e.msg, "no member named")) {
			if (ret_gone)
				*ret_gone = true;
			return 0;
		}
		if (r >= 0) {
			r = ep_membership_apply(&c->ca, &plan, &res, &e);
			if (r >= 0 && res.already && ret_gone)
				*ret_gone = true;
		}
		ep_member_result_release(&res);
		ep_member_plan_release(&plan);
		if (r >= 0)
			return 0;
		bool retry = ep_conn_transient(r) || r == -EBUSY;
		if (!retry || !pause_until(c->ca.deadline_ms, RETRY_MS)) {
			if (err)
				*err = e;
			return r;
		}
	}
}

/* The member of @ml whose peer URLs include one of @urls, or NULL. */
static const struct ep_member *by_peer(const struct ep_member_list *ml, const struct ep_strv *urls)
{
	for (size_t i = 0; i < ml->n; i++)
		for (size_t k = 0; k < urls->n; k++)
			if (ep_strv_contains(&ml->v[i].peer_urls, urls->v[k]))
				return &ml->v[i];
	return NULL;
}

/* The member list, retried while the cluster does not answer, until @c's deadline. */
static int list_retry(struct ep_conn *c, struct ep_member_list *ml, struct ep_error *err)
{
	for (;;) {
		struct ep_error e = { 0 };
		ep_client_set_timeout(c->client, EP_CLUSTER_CALL_MS);
		int r = ep_member_list_any(c->client, c->ca.endpoints, c->ca.n_endpoints, ml, &e);
		if (r >= 0)
			return 0;
		if (!pause_until(c->ca.deadline_ms, RETRY_MS)) {
			if (err)
				*err = e;
			return r;
		}
	}
}

/* ---- member.evict {cluster, member | name+peer_urls+replace} -------------------- */

static int evict_check(const json_t *params, struct ep_error *err)
{
	if (ep_param_bool(params, "replace", false))
		return check_name_urls(params, "member.evict", err);
	int r = ep_cluster_json_check(params, "member.evict", err);
	if (r >= 0 && !ep_param_str(params, "member"))
		r = ep_error_set(err, -EINVAL, "a 'member.evict' action needs 'member' or 'replace'");
	return r;
}

static void evict_describe(const json_t *params, struct ep_strbuf *out)
{
	const char *m = ep_param_str(params, "member");
	if (m) {
		ep_strbuf_adds(out, "remove the dead member '");
		ep_strbuf_add_escaped(out, m, strlen(m));
		ep_strbuf_adds(out, "'");
	} else {
		ep_strbuf_adds(out, "remove the member that holds this node's name or peer URL (");
		add_urls(out, json_object_get(params, "peer_urls"));
		ep_strbuf_adds(out, ")");
	}
	describe_cluster(params, out);
}

static int evict_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		       struct ep_error *err)
{
	struct ep_conn c;
	int r = open_conn(ctx, params, apply_deadline(ctx, params), &c, err);
	if (r < 0) {
		conn_close(&c);
		return r;
	}
	uint64_t id = 0;
	const char *arg = ep_param_str(params, "member");
	unsigned flags = arg ? EP_REMOVE_DEAD : 0;
	char hex[17];
	if (parse_id(undo, "id", &id) < 0) {
		/* Find it now: by NAME|ID (--remove-dead), or as add's duplicate check finds it. */
		struct ep_member_plan plan = { 0 };
		struct ep_strv urls = { 0 };
		struct ep_error e = { 0 };
		if (arg) {
			r = ep_membership_plan_remove(&c.ca, arg, flags, &plan, &e);
			if (r == -ENOENT && strstr(e.msg, "no member named")) {
				ep_apply_log(ctx, "[cluster-check] No member '%s' is left in the "
						  "cluster: nothing to remove", arg);
				conn_close(&c);
				return EP_APPLY_SKIPPED;
			}
		} else if ((r = strv_from_json(json_object_get(params, "peer_urls"), &urls)) >= 0) {
			const struct ep_add_request req = {
				.name = ep_param_str(params, "name"),
				.peer_urls = (const char *const *)urls.v,
				.n_peer_urls = urls.n,
				.learner = true,
				.reuse = true,
				.replace = true,
			};
			r = ep_membership_plan_add(&c.ca, &req, &plan, &e);
		}
		if (r < 0 && err)
			*err = e;
		for (size_t s = 0; r >= 0 && s < plan.n_steps; s++)
			if (plan.steps[s].action == EP_STEP_REMOVE)
				id = plan.steps[s].id;
		ep_strv_release(&urls);
		ep_member_plan_release(&plan);
		if (r < 0) {
			conn_close(&c);
			return r;
		}
		if (!id) {
			conn_close(&c);
			ep_apply_log(ctx, "[cluster-check] No member holds this node's name or peer "
					  "URL: nothing to replace");
			return EP_APPLY_SKIPPED;
		}
		/* journalled before the removal: a resume finds it gone and knows it did it */
		json_object_set_new(undo, "id", json_string(hexid(id, hex)));
		if ((r = ep_apply_checkpoint(ctx, err)) < 0) {
			conn_close(&c);
			return r;
		}
	}
	bool gone = false;
	r = remove_id(&c, id, flags, &gone, err);
	conn_close(&c);
	if (r < 0)
		return r;
	ep_apply_log(ctx, "[cluster-check] Member %s %s", hexid(id, hex),
		     gone ? "was already gone" : "removed from the cluster");
	return 0;
}

static int evict_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		      struct ep_error *err)
{
	(void)err;
	const char *id = ep_param_str(undo, "id");
	if (id)
		ep_apply_log(ctx, "[rollback] Member %s stays removed: it was %s, and re-adding it "
				  "would only put it in the way again", id,
			     ep_param_str(params, "member") ? "dead (--remove-dead)"
							    : "replaced (--replace)");
	return 0;
}

static const struct ep_action_type member_evict_type = {
	.name = "member.evict",
	/*
	 * The user asked for this removal for its own sake (a dead member, an
	 * old incarnation of this node): when the join is undone the removal
	 * stands, and says so, instead of pinning the node to a journal that
	 * could only be resumed (docs/design.md, Join and reset).
	 */
	.reversible = true,
	.changes = true,
	.remote = true,
	.check = evict_check,
	.describe = evict_describe,
	.apply = evict_apply,
	.undo = evict_undo,
};

/* ---- member.add {cluster, name, peer_urls, learner} ---------------------------- */

static int add_check(const json_t *params, struct ep_error *err)
{
	int r = check_name_urls(params, "member.add", err);
	if (r >= 0 && !ep_param_str(params, "name"))
		r = ep_error_set(err, -EINVAL, "a 'member.add' action needs 'name'");
	return r;
}

static void add_describe(const json_t *params, struct ep_strbuf *out)
{
	const char *name = ep_param_str(params, "name");
	ep_strbuf_adds(out, "add member '");
	ep_strbuf_add_escaped(out, name ? name : "?", strlen(name ? name : "?"));
	ep_strbuf_addf(out, "' as a %s with peer URL ",
		       ep_param_bool(params, "learner", true) ? "learner" : "voter");
	add_urls(out, json_object_get(params, "peer_urls"));
	describe_cluster(params, out);
}

/* The members as JSON for the record ({id, name, peer_urls, learner}); ours named @name. */
static json_t *members_json(const struct ep_member_list *ml, uint64_t ours, const char *name)
{
	json_t *a = json_array();
	char hex[17];
	for (size_t i = 0; a && i < ml->n; i++) {
		const struct ep_member *m = &ml->v[i];
		const char *n = m->id == ours ? name : m->name;
		json_array_append_new(a, json_pack("{s:s, s:o, s:o, s:b}", "id", hexid(m->id, hex),
						   "name", n ? json_string(n) : json_null(),
						   "peer_urls", strv_json(&m->peer_urls), "learner",
						   m->is_learner));
	}
	return a;
}

/* The learner that holds etcd's one slot (not ours), for the waiting line; heap or NULL. */
static char *slot_holder(struct ep_conn *c, const struct ep_strv *ours)
{
	struct ep_member_list ml = { 0 };
	if (ep_member_list_any(c->client, c->ca.endpoints, c->ca.n_endpoints, &ml, NULL) < 0)
		return NULL;
	struct ep_strbuf sb = EP_STRBUF_INIT;
	char hex[17];
	for (size_t i = 0; i < ml.n; i++) {
		const struct ep_member *m = &ml.v[i];
		if (!m->is_learner || by_peer(&(struct ep_member_list){ .v = (struct ep_member *)m,
									 .n = 1 }, ours))
			continue;
		ep_strbuf_addf(&sb, "%s%s (", sb.len ? ", " : "", m->name ? "'" : "");
		if (m->name) {
			ep_strbuf_add_escaped(&sb, m->name, strlen(m->name));
			ep_strbuf_adds(&sb, "' (");
		}
		ep_strbuf_addf(&sb, "%s, %s)", hexid(m->id, hex),
			       m->name ? "started, catching up" : "not started yet");
	}
	ep_member_list_release(&ml);
	return ep_strbuf_detach(&sb, NULL);
}

static int add_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		     struct ep_error *err)
{
	const char *name = ep_param_str(params, "name");
	struct ep_strv urls = { 0 };
	struct ep_conn c;
	char hex[17];
	uint64_t id = 0;
	int r = strv_from_json(json_object_get(params, "peer_urls"), &urls);
	if (r < 0)
		return ep_error_set(err, r, "out of memory");
	if ((r = open_conn(ctx, params, apply_deadline(ctx, params), &c, err)) < 0)
		goto out;
	if (parse_id(undo, "id", &id) == 0) {
		/* A re-apply: the member this run added must still be there. */
		struct ep_member_list ml = { 0 };
		if ((r = list_retry(&c, &ml, err)) >= 0 && !ep_member_list_find(&ml, id))
			r = ep_error_set(err, -ENOENT, "member %s, which this run added, is no "
							"longer in the cluster (removed meanwhile?)",
					 hexid(id, hex));
		ep_member_list_release(&ml);
		goto out;
	}
	if (!json_object_get(undo, "pending")) {
		/* Before MemberAdd: a kill after it finds the member by its peer URLs. */
		json_object_set_new(undo, "pending", json_true());
		if ((r = ep_apply_checkpoint(ctx, err)) < 0)
			goto out;
	}
	const struct ep_add_request req = { .name = name,
					    .peer_urls = (const char *const *)urls.v,
					    .n_peer_urls = urls.n,
					    .learner = ep_param_bool(params, "learner", true),
					    .reuse = true };
	uint64_t t0 = ep_now_ms(), said = 0;
	for (;;) {
		struct ep_member_plan plan = { 0 };
		struct ep_member_result res = { 0 };
		struct ep_error e = { 0 };
		r = ep_membership_plan_add(&c.ca, &req, &plan, &e);
		if (r >= 0)
			r = ep_membership_apply(&c.ca, &plan, &res, &e);
		if (r >= 0) {
			id = res.member.id;
			json_object_set_new(undo, "id", json_string(hexid(id, hex)));
			json_object_set_new(undo, "reused", json_boolean(res.reused));
			json_object_set_new(undo, "learner", json_boolean(res.member.is_learner));
			json_object_set_new(undo, "members", members_json(&res.members, id, name));
			for (size_t k = 0; k < res.warnings.n; k++)
				ep_apply_log(ctx, "[member-add] WARNING: %s", res.warnings.v[k]);
			ep_apply_log(ctx, "[member-add] %s member '%s' (%s) as a %s: %zu members "
					  "now",
				     res.reused ? "Took the never-started" : "Added", name,
				     hexid(id, hex), res.member.is_learner ? "learner" : "voter",
				     res.members.n);
		}
		bool slot = r < 0 && strstr(e.msg, "too many learner");
		bool again = r < 0 && (slot || ep_conn_transient(r));
		ep_member_result_release(&res);
		ep_member_plan_release(&plan);
		if (r >= 0)
			break;
		if (again && slot && ep_now_ms() - said >= 5000) {
			_cleanup_free_ char *who = slot_holder(&c, &urls);
			ep_apply_log(ctx, "[member-add] etcd takes one learner at a time and %s holds "
					  "the slot: waiting for its turn (%llus so far)",
				     who && *who ? who : "another member",
				     (unsigned long long)(ep_now_ms() - t0) / 1000);
			said = ep_now_ms();
		}
		if (!again || !pause_until(c.ca.deadline_ms, slot ? 250 : RETRY_MS)) {
			if (err)
				*err = e;
			if (slot) {
				_cleanup_free_ char *who = slot_holder(&c, &urls);
				ep_error_prefix(err, "etcd takes one learner at a time and %s held the "
						     "slot for the whole %llus; if no join is running "
						     "for it, remove it ('etcdpilot member remove "
						     "NAME|ID') and run join again",
						who && *who ? who : "another member",
						(unsigned long long)(ep_now_ms() - t0) / 1000);
			}
			goto out;
		}
	}
out:
	conn_close(&c);
	ep_strv_release(&urls);
	return r < 0 ? r : 0;
}

/* The ID this run's member.add recorded (0 when none). */
static uint64_t added_id(const json_t *undo)
{
	uint64_t id = 0;
	return parse_id(undo, "id", &id) == 0 ? id : 0;
}

/*
 * A member this run added cannot be removed because the cluster cannot be
 * reached (@r, @err from remove_id or the member list): EP_UNDO_DEFERRED
 * with @err saying so, when @learner (it was never promoted: it does not
 * vote, so the node may stop it and drop its data first); else @r with
 * @err explaining (@running: its etcd is left running for it).  @id 0: not
 * known (an add whose answer was lost), then @name (may be NULL) names it.
 */
static int undo_unreachable(int r, uint64_t id, const char *name, bool learner, bool running,
			    struct ep_error *err)
{
	char hex[17], who[160], handle[96];
	if (id) {
		snprintf(who, sizeof(who), "member %s", hexid(id, hex));
		snprintf(handle, sizeof(handle), "%s", hex);
	} else {
		_cleanup_free_ char *n = ep_escape(name ? name : "?");
		snprintf(who, sizeof(who), "member '%s' (if its add went through: the answer was "
					   "lost)", n ? n : "?");
		snprintf(handle, sizeof(handle), "%s", n ? n : "NAME");
	}
	if (!ep_conn_transient(r) || (!learner && !running))
		return ep_error_prefix(err, "removing %s from the cluster", who);
	if (!learner)
		return ep_error_prefix(err,
				       "removing %s from the cluster (it may be a voting member "
				       "already, so its etcd is left running: stopping a voter the "
				       "cluster still counts could cost it its quorum; 'etcdpilot "
				       "join --rollback' here removes it once this node reaches the "
				       "cluster again, or 'etcdpilot member remove %s' on a member)",
				       who, handle);
	char cause[EP_ERROR_MAX];
	snprintf(cause, sizeof(cause), "%s", err && ep_error_isset(err) ? err->msg : strerror(-r));
	ep_error_clear(err);
	ep_error_set(err, -EAGAIN,
		     "%s could not be removed from the cluster (%s); it is a learner (never "
		     "promoted), which does not vote, so the cluster keeps its quorum, but it "
		     "holds etcd's one learner slot until it is removed: this node's 'etcdpilot "
		     "join --rollback' does it once the node reaches the cluster again, or "
		     "'etcdpilot member remove %s' on a member",
		     who, cause, handle);
	return EP_UNDO_DEFERRED;
}

/* The member an add that may or may not have happened left: found by peer URL. */
static int find_pending(struct ep_conn *c, const json_t *params, uint64_t *ret,
			struct ep_error *err)
{
	struct ep_strv urls = { 0 };
	struct ep_member_list ml = { 0 };
	*ret = 0;
	int r = strv_from_json(json_object_get(params, "peer_urls"), &urls);
	if (r >= 0 && (r = list_retry(c, &ml, err)) >= 0) {
		const struct ep_member *m = by_peer(&ml, &urls);
		*ret = m ? m->id : 0;
	}
	ep_member_list_release(&ml);
	ep_strv_release(&urls);
	return r;
}

/*
 * Whether the member add made is known to be a learner: recorded with its
 * ID (a never-started member taken may be a voter); an add whose answer
 * was lost (no ID) adds a learner, if anything.
 */
static bool added_learner(const json_t *undo, uint64_t id)
{
	if (!added_id(undo))
		return !id;
	return json_is_true(json_object_get(undo, "learner"));
}

static int add_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		    struct ep_error *err)
{
	uint64_t id = added_id(undo);
	if (!id && !json_object_get(undo, "pending"))
		return 0; /* it never got as far as asking etcd */
	struct ep_conn c;
	char hex[17];
	int r = open_conn(ctx, params, undo_deadline(ctx), &c, err);
	if (r >= 0 && !id)
		r = find_pending(&c, params, &id, err);
	bool gone = true;
	if (r >= 0 && id)
		r = remove_id(&c, id, 0, &gone, err);
	conn_close(&c);
	/*
	 * A member promoted by this run was removed by promote's undo, or that
	 * undo stopped the rollback: here it can only be what member add made.
	 */
	if (r < 0)
		return undo_unreachable(r, id, ep_param_str(params, "name"), added_learner(undo, id),
					false, err);
	/*
	 * A never-started member this run took (from 'member add', or from a
	 * run that was killed) goes too: it carries this node's peer URL, so
	 * nothing but this node could start it, and left behind it holds the
	 * learner slot or, a voter, counts against the quorum.
	 */
	if (id)
		ep_apply_log(ctx, "[rollback] Member %s %s%s", hexid(id, hex),
			     gone ? "was already gone from the cluster" : "removed from the cluster",
			     !gone && json_is_true(json_object_get(undo, "reused"))
				     ? " (added before this run with this node's peer URL and never "
				       "started: only this node could start it)"
				     : "");
	return 0;
}

static const struct ep_action_type member_add_type = {
	.name = "member.add",
	.reversible = true,
	.changes = true,
	.remote = true,
	.check = add_check,
	.describe = add_describe,
	.apply = add_apply,
	.undo = add_undo,
};

/* ---- member.promote {cluster, name, peer_urls} ---------------------------------- */

static int promote_check(const json_t *params, struct ep_error *err)
{
	return check_name_urls(params, "member.promote", err);
}

static void promote_describe(const json_t *params, struct ep_strbuf *out)
{
	const char *name = ep_param_str(params, "name");
	ep_strbuf_adds(out, "wait until learner '");
	ep_strbuf_add_escaped(out, name ? name : "?", strlen(name ? name : "?"));
	ep_strbuf_adds(out, "' has started and caught up with the leader, then promote it");
	describe_cluster(params, out);
}

/* This run's member: the promote's own record, member.add's, or by peer URL. */
static int our_id(struct ep_apply_ctx *ctx, struct ep_conn *c, const json_t *params,
		  const json_t *undo, uint64_t *ret, struct ep_error *err)
{
	if ((*ret = added_id(undo)) || (*ret = added_id(ep_apply_prior_undo(ctx, "member.add"))))
		return 0;
	int r = find_pending(c, params, ret, err);
	if (r >= 0 && !*ret)
		r = ep_error_set(err, -ENOENT, "no member of the cluster has this node's peer URL: "
					       "add it first (the member-add phase)");
	return r;
}

struct promote_mark {
	struct ep_apply_ctx *ctx;
	json_t *undo;
};

/* Journalled before MemberPromote: from then on undo must take it for a possible voter. */
static int mark_promoting(void *userdata, const struct ep_member_step *st, struct ep_error *err)
{
	struct promote_mark *m = userdata;
	if (st->action != EP_STEP_PROMOTE || json_is_true(json_object_get(m->undo, "promoting")))
		return 0;
	json_object_set_new(m->undo, "promoting", json_true());
	return ep_apply_checkpoint(m->ctx, err);
}

static int promote_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			 struct ep_error *err)
{
	struct ep_conn c;
	char arg[20], hex[17];
	uint64_t id, t0 = ep_now_ms();
	struct promote_mark mark = { .ctx = ctx, .undo = undo };
	int r = open_conn(ctx, params, apply_deadline(ctx, params), &c, err);
	c.ca.before_change = mark_promoting;
	c.ca.change_userdata = &mark;
	c.ca.not_started_hint = ""; /* the join says what its runtime shows */
	if (r >= 0)
		r = our_id(ctx, &c, params, undo, &id, err);
	if (r < 0)
		goto out;
	snprintf(arg, sizeof(arg), "0x%s", hexid(id, hex));
	for (;;) {
		struct ep_member_plan plan = { 0 };
		struct ep_member_result res = { 0 };
		struct ep_error e = { 0 };
		r = ep_membership_plan_promote(&c.ca, arg, &plan, &e);
		bool voter = r == -EINVAL && strstr(e.msg, "already a voting member");
		if (voter) {
			r = 0;
			res.already = true;
		} else if (r >= 0 && !json_object_get(undo, "id")) {
			/* journalled before the promotion: undo then knows whom to remove */
			json_object_set_new(undo, "id", json_string(hex));
			json_object_set_new(undo, "promoting", json_false());
			r = ep_apply_checkpoint(ctx, &e);
		}
		if (!voter && r >= 0)
			r = ep_membership_apply(&c.ca, &plan, &res, &e);
		bool already = res.already, out_of_time = res.out_of_time;
		ep_member_result_release(&res);
		ep_member_plan_release(&plan);
		if (r >= 0) {
			uint64_t took = ep_now_ms() - t0;
			ep_apply_log(ctx, "[promote] Member '%s' (%s) %s after %llu.%03llus",
				     ep_param_str(params, "name"), hex,
				     already ? "is a voting member" : "promoted to a voting member",
				     (unsigned long long)took / 1000, (unsigned long long)took % 1000);
			/*
			 * A voter already: this run's own member (promoted by a run that
			 * died before it said so) is still this run's to remove first on
			 * rollback; a member this run did not add is not its to undo.
			 */
			if (voter && !json_object_size(undo) &&
			    added_id(ep_apply_prior_undo(ctx, "member.add")) == id)
				json_object_set_new(undo, "id", json_string(hex));
			else if (voter && !json_object_size(undo))
				r = EP_APPLY_SKIPPED;
			if (json_object_get(undo, "id")) /* a voter now, whoever promoted it */
				json_object_set_new(undo, "promoting", json_true());
			break;
		}
		/*
		 * The cluster out of reach for a moment is waited out, and so is an
		 * answer lost to a member that stopped answering (a promotion asked
		 * again is harmless: the next plan probes afresh, goes through a
		 * member that answers, and finds a voter if it took); the deadline
		 * is not (nor is a wait for the learner that ran out of time).
		 */
		bool again = !out_of_time && (ep_conn_transient(r) || r == -EHOSTUNREACH);
		if (!again || !pause_until(c.ca.deadline_ms, RETRY_MS)) {
			if (err)
				*err = e;
			break;
		}
	}
out:
	conn_close(&c);
	return r;
}

/*
 * Whether member.promote's undo data says MemberPromote was never asked:
 * no ID recorded (the promotion was not reached), or "promoting": false.
 * An ID without it (a journal of an older etcdpilot) may be a voter.
 */
static bool never_promoted(const json_t *undo)
{
	return !json_object_get(undo, "id") || json_is_false(json_object_get(undo, "promoting"));
}

static int promote_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			struct ep_error *err)
{
	/* see the top of this file: removed while its etcd still runs */
	uint64_t id = added_id(undo);
	if (!id)
		id = added_id(ep_apply_prior_undo(ctx, "member.add"));
	if (!id)
		return 0;
	struct ep_conn c;
	char hex[17];
	bool gone = false;
	int r = open_conn(ctx, params, undo_deadline(ctx), &c, err);
	if (r >= 0)
		r = remove_id(&c, id, 0, &gone, err);
	conn_close(&c);
	if (r < 0)
		return undo_unreachable(r, id, ep_param_str(params, "name"),
					never_promoted(undo), true, err);
	bool learner = never_promoted(undo);
	ep_apply_log(ctx, "[rollback] Member %s %s", hexid(id, hex),
		     gone      ? "was already gone from the cluster"
		     : learner ? "removed from the cluster"
			       : "removed from the cluster while its etcd still runs (etcd then "
				 "stops)");
	return 0;
}

static const struct ep_action_type member_promote_type = {
	.name = "member.promote",
	.reversible = true,
	.changes = true,
	.remote = true,
	.check = promote_check,
	.describe = promote_describe,
	.apply = promote_apply,
	.undo = promote_undo,
};

/* ---- wait.cluster {cluster, timeout_ms} ---------------------------------------- */

static int waitc_check(const json_t *params, struct ep_error *err)
{
	return ep_cluster_json_check(params, "wait.cluster", err);
}

static void waitc_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_adds(out, "wait until every member of the cluster is healthy");
	describe_cluster(params, out);
}

/* "'n3': why; ..." for the members not healthy (pending learners of others left out). */
static char *not_healthy(const struct ep_health_report *hr, uint64_t ours)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	char hex[17];
	for (size_t i = 0; i < hr->n; i++) {
		const struct ep_member_health *m = &hr->v[i];
		if (m->healthy || (m->pending_learner && m->member.id != ours))
			continue;
		const char *n = m->member.name ? m->member.name : hexid(m->member.id, hex);
		ep_strbuf_adds(&sb, sb.len ? "; '" : "'");
		ep_strbuf_add_escaped(&sb, n, strlen(n));
		ep_strbuf_adds(&sb, "': ");
		const char *why = m->error ? m->error : "not healthy";
		ep_strbuf_add_escaped(&sb, why, strlen(why));
	}
	if (hr->quorum != EP_QUORUM_HELD) {
		const char *why = hr->quorum_why ? hr->quorum_why : ep_quorum_name(hr->quorum);
		ep_strbuf_adds(&sb, sb.len ? "; quorum: " : "quorum: ");
		ep_strbuf_add_escaped(&sb, why, strlen(why));
	}
	return ep_strbuf_detach(&sb, NULL);
}

static int waitc_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		       struct ep_error *err)
{
	(void)undo;
	struct ep_conn c;
	uint64_t t0 = ep_now_ms(), ours = added_id(ep_apply_prior_undo(ctx, "member.add"));
	_cleanup_free_ char *last = NULL;
	int r = open_conn(ctx, params, apply_deadline(ctx, params), &c, err);
	while (r >= 0) {
		struct ep_health_report hr = { 0 };
		struct ep_error e = { 0 };
		uint64_t left = ep_ms_left(c.ca.deadline_ms);
		r = ep_health_probe(c.client, c.ca.endpoints, c.ca.n_endpoints,
				    left < EP_CLUSTER_CALL_MS ? (left ? left : 1) : EP_CLUSTER_CALL_MS,
				    0, &hr, &e);
		_cleanup_free_ char *bad = r >= 0 ? not_healthy(&hr, ours) : NULL;
		if (r >= 0 && bad && !*bad) {
			uint64_t took = ep_now_ms() - t0;
			char hex[17];
			ep_apply_log(ctx, "[wait] All %zu members are healthy (leader %s) after "
					  "%llu.%03llus",
				     hr.n, hexid(hr.leader, hex), (unsigned long long)took / 1000,
				     (unsigned long long)took % 1000);
			ep_health_report_release(&hr);
			break;
		}
		const char *now = r >= 0 ? (bad ? bad : "?") : e.msg;
		if (!last || strcmp(last, now)) {
			ep_apply_log(ctx, "[wait] Not yet: %s", now);
			free(last);
			last = strdup(now);
		}
		ep_health_report_release(&hr);
		if (!pause_until(c.ca.deadline_ms, 200)) {
			r = ep_error_set(err, -ETIMEDOUT, "not every member is healthy after %llus: %s",
					 (unsigned long long)(ep_now_ms() - t0 + 999) / 1000, now);
			break;
		}
		r = 0;
	}
	conn_close(&c);
	return r < 0 ? r : 0;
}

static const struct ep_action_type wait_cluster_type = {
	.name = "wait.cluster",
	.reversible = true,
	.changes = false,
	.remote = true,
	.check = waitc_check,
	.describe = waitc_describe,
	.apply = waitc_apply,
	.undo = noop_undo,
};

/* ---- member.move-leader {cluster, id, name} -------------------------------------- */

static int id_check(const json_t *params, const char *type, struct ep_error *err)
{
	uint64_t id;
	int r = ep_cluster_json_check(params, type, err);
	if (r >= 0 && parse_id(params, "id", &id) < 0)
		r = ep_error_set(err, -EINVAL, "a '%s' action needs 'id', a member ID in hex", type);
	return r;
}

static int move_check(const json_t *params, struct ep_error *err)
{
	return id_check(params, "member.move-leader", err);
}

static void named(struct ep_strbuf *out, const json_t *params)
{
	const char *name = ep_param_str(params, "name");
	const char *id = ep_param_str(params, "id");
	if (name) {
		ep_strbuf_addch(out, '\'');
		ep_strbuf_add_escaped(out, name, strlen(name));
		ep_strbuf_addf(out, "' (%s)", id ? id : "?");
	} else {
		ep_strbuf_adds(out, id ? id : "?");
	}
}

static void move_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_adds(out, "move leadership away from ");
	named(out, params);
	ep_strbuf_adds(out, " to another voting member");
	describe_cluster(params, out);
}

static int move_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		      struct ep_error *err)
{
	(void)undo;
	struct ep_conn c;
	uint64_t id = 0, target = 0;
	char hex[17], thex[17];
	parse_id(params, "id", &id);
	int r = open_conn(ctx, params, apply_deadline(ctx, params), &c, err);
	struct ep_health_report hr = { 0 };
	if (r >= 0)
		r = ep_health_probe(c.client, c.ca.endpoints, c.ca.n_endpoints, EP_CLUSTER_CALL_MS,
				    EP_HEALTH_STATUS_ONLY, &hr, err);
	const char *leader_ep = NULL;
	uint64_t best_lag = UINT64_MAX;
	for (size_t i = 0; r >= 0 && i < hr.n; i++) {
		const struct ep_member_health *m = &hr.v[i];
		if (m->member.id == id)
			leader_ep = m->endpoint;
		else if (!m->member.is_learner && m->status_ok && m->started && m->raft_lag < best_lag) {
			best_lag = m->raft_lag;
			target = m->member.id;
		}
	}
	if (r >= 0 && hr.leader != id) {
		ep_apply_log(ctx, "[member] %s is not the leader (%s is): nothing to move",
			     hexid(id, hex), hr.leader ? hexid(hr.leader, thex) : "none");
		r = EP_APPLY_SKIPPED;
	} else if (r >= 0 && (!target || !leader_ep)) {
		ep_apply_log(ctx, "[member] No other voting member answers: leadership stays with "
				  "%s", hexid(id, hex));
		r = EP_APPLY_SKIPPED;
	} else if (r >= 0) {
		ep_client_set_timeout(c.client, 5000);
		r = ep_move_leader(c.client, leader_ep, target, err);
		if (r >= 0)
			ep_apply_log(ctx, "[member] Moved leadership from %s to %s", hexid(id, hex),
				     hexid(target, thex));
	}
	ep_health_report_release(&hr);
	conn_close(&c);
	return r;
}

static const struct ep_action_type member_move_leader_type = {
	.name = "member.move-leader",
	.reversible = true, /* leadership is etcd's to give; nothing to put back */
	.changes = true,
	.remote = true,
	.check = move_check,
	.describe = move_describe,
	.apply = move_apply,
	.undo = noop_undo,
};

/* ---- member.remove {cluster, id, name} (irreversible) ---------------------------- */

static int mremove_check(const json_t *params, struct ep_error *err)
{
	return id_check(params, "member.remove", err);
}

static void mremove_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_adds(out, "remove member ");
	named(out, params);
	ep_strbuf_adds(out, " from the cluster");
	describe_cluster(params, out);
}

/* Is member @id in the cluster?  1 yes, 0 no, or -errno. */
static int present(struct ep_conn *c, uint64_t id, struct ep_error *err)
{
	struct ep_member_list ml = { 0 };
	int r = list_retry(c, &ml, err);
	if (r >= 0)
		r = ep_member_list_find(&ml, id) != NULL;
	ep_member_list_release(&ml);
	return r;
}

static int mremove_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			 struct ep_error *err)
{
	struct ep_conn c;
	uint64_t id = 0;
	char hex[17];
	parse_id(params, "id", &id);
	int r = open_conn(ctx, params, apply_deadline(ctx, params), &c, err);
	if (r >= 0)
		r = present(&c, id, err);
	if (r == 0 && !json_object_size(undo)) {
		ep_apply_log(ctx, "[member] Member %s is not in the cluster (removed already)",
			     hexid(id, hex));
		r = EP_APPLY_SKIPPED;
	} else if (r >= 0) {
		json_object_set_new(undo, "asked", json_true());
		bool gone = false;
		if ((r = ep_apply_checkpoint(ctx, err)) >= 0 &&
		    (r = remove_id(&c, id, 0, &gone, err)) >= 0)
			ep_apply_log(ctx, "[member] Member %s removed from the cluster",
				     hexid(id, hex));
	}
	conn_close(&c);
	return r;
}

/* Only a check (plan.h): 0 when the member is still there (the removal did not happen). */
static int mremove_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			struct ep_error *err)
{
	(void)undo;
	struct ep_conn c;
	uint64_t id = 0;
	char hex[17];
	parse_id(params, "id", &id);
	int r = open_conn(ctx, params, undo_deadline(ctx), &c, err);
	if (r >= 0)
		r = present(&c, id, err);
	conn_close(&c);
	if (r == 0)
		return ep_error_set(err, -EPERM, "member %s is no longer in the cluster",
				    hexid(id, hex));
	return r < 0 ? r : 0;
}

static const struct ep_action_type member_remove_type = {
	.name = "member.remove",
	.reversible = false,
	.changes = true,
	.remote = true,
	.check = mremove_check,
	.describe = mremove_describe,
	.apply = mremove_apply,
	.undo = mremove_undo,
};

const struct ep_action_type *const ep_plan_cluster_types[] = {
	&cluster_check_type, &member_evict_type,	&member_add_type,     &member_promote_type,
	&wait_cluster_type,  &member_move_leader_type, &member_remove_type, NULL,
};
