/*
 * member.c - etcdpilot member list|add|remove|promote.
 *
 * Thin: the library lists, probes, judges quorum and changes membership;
 * this file picks the endpoint to send a change to, refuses unsafe changes
 * unless --force, and prints what etcdctl would (table or -o json; the
 * ETCD_* lines after an add).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_client.h"
#include "etcdpilot/client.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define MEMBER_DEFAULT_TIMEOUT_MS 5000

static json_t *strv_json(const struct ep_strv *sv)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

static json_t *member_json(const struct ep_member *m)
{
	char hex[17];
	return json_pack("{s:s s:s s:o s:o s:o s:b}", "id", ep_member_id_hex(m->id, hex), "status",
			 m->name ? "started" : "unstarted", "name",
			 m->name ? json_string(m->name) : json_null(), "peer_urls",
			 strv_json(&m->peer_urls), "client_urls", strv_json(&m->client_urls),
			 "is_learner", m->is_learner);
}

/* The strings of @a joined by commas, escaped for the terminal; heap, NULL on ENOMEM. */
static char *join_strv(const json_t *a)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_strbuf_adds(&sb, "");
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *v = json_string_value(json_array_get(a, i));
		if (i)
			ep_strbuf_addch(&sb, ',');
		if (v)
			ep_strbuf_add_escaped(&sb, v, strlen(v));
	}
	return ep_strbuf_detach(&sb, NULL);
}

/*
 * The table etcdctl prints with -w table, from the JSON members array.
 * Names and URLs come from the cluster: control characters are escaped, so
 * that no member can draw a line of the table itself.
 */
static int print_members(const json_t *members)
{
	static const char *const headers[6] = { "ID",	      "STATUS",	      "NAME",
						"PEER ADDRS", "CLIENT ADDRS", "IS LEARNER" };
	size_t n = json_array_size(members);
	char *(*cells)[6] = calloc(n ? n : 1, sizeof(*cells));
	size_t width[6];
	int r = 0;
	if (!cells)
		return -ENOMEM;
	for (size_t c = 0; c < 6; c++)
		width[c] = strlen(headers[c]);
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(members, i);
		const char *name = json_string_value(json_object_get(m, "name"));
		cells[i][0] = ep_escape(json_string_value(json_object_get(m, "id")));
		cells[i][1] = ep_escape(json_string_value(json_object_get(m, "status")));
		cells[i][2] = ep_escape(name ? name : "");
		cells[i][3] = join_strv(json_object_get(m, "peer_urls"));
		cells[i][4] = join_strv(json_object_get(m, "client_urls"));
		cells[i][5] = strdup(json_is_true(json_object_get(m, "is_learner")) ? "true" : "false");
		for (size_t c = 0; c < 6; c++) {
			if (!cells[i][c]) {
				r = -ENOMEM;
				goto out;
			}
			if (strlen(cells[i][c]) > width[c])
				width[c] = strlen(cells[i][c]);
		}
	}
	for (size_t c = 0; c < 6; c++)
		printf("%-*s%s", c < 5 ? (int)width[c] : 0, headers[c], c < 5 ? "  " : "\n");
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < 6; c++)
			printf("%-*s%s", c < 5 ? (int)width[c] : 0, cells[i][c], c < 5 ? "  " : "\n");
out:
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < 6; c++)
			free(cells[i][c]);
	free(cells);
	return r;
}

static int member_list_run(struct cli_ctx *ctx, struct ep_error *err)
{
	struct cli_client cc = { 0 };
	struct ep_member_list ml = { 0 };
	char hex[17], hex2[17];

	int r = cli_client_open(ctx, MEMBER_DEFAULT_TIMEOUT_MS, &cc, err);
	if (r >= 0)
		r = ep_member_list_any(cc.client, (const char *const *)cc.cfg.endpoints.v,
				       cc.cfg.endpoints.n, &ml, err);
	cli_client_release(&cc);
	if (r < 0)
		return r;
	json_t *members = json_array();
	for (size_t i = 0; i < ml.n; i++)
		json_array_append_new(members, member_json(&ml.v[i]));
	json_t *doc = json_pack("{s:{s:s s:s s:I} s:o}", "header", "cluster_id",
				ep_member_id_hex(ml.cluster_id, hex), "member_id",
				ep_member_id_hex(ml.member_id, hex2), "raft_term",
				(json_int_t)ml.raft_term, "members", members);
	ep_member_list_release(&ml);
	if (!doc)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (cli_json(ctx)) {
		cli_print_json(doc);
	} else {
		r = print_members(json_object_get(doc, "members"));
		json_decref(doc);
		if (r < 0)
			return ep_error_set(err, r, "out of memory");
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Changes                                                                   */

/* Probe the cluster (status only): who is started, who is where. */
static int cluster_probe(struct cli_client *cc, struct ep_health_report *rep,
			 struct ep_error *err)
{
	return ep_health_probe(cc->client, (const char *const *)cc->cfg.endpoints.v,
			       cc->cfg.endpoints.n, cc->timeout_ms, EP_HEALTH_STATUS_ONLY, rep, err);
}

/*
 * Where to send a change: a started voter other than @skip (the member the
 * change is about), the one that gave us the list first.
 */
static const char *change_endpoint(const struct ep_health_report *rep, size_t skip)
{
	const char *fallback = NULL;
	for (size_t i = 0; i < rep->n; i++) {
		const struct ep_member_health *m = &rep->v[i];
		if (i == skip || m->member.is_learner || !m->status_ok)
			continue;
		if (rep->list_endpoint && !strcmp(m->endpoint, rep->list_endpoint))
			return m->endpoint;
		if (!fallback)
			fallback = m->endpoint;
	}
	if (fallback)
		return fallback;
	if (skip < rep->n && rep->v[skip].endpoint && rep->list_endpoint &&
	    !strcmp(rep->v[skip].endpoint, rep->list_endpoint))
		return NULL;
	return rep->list_endpoint;
}

/* Index of NAME|ID in the report, with the list lookup's rules and messages. */
static int report_lookup(const struct ep_health_report *rep, const char *arg, struct ep_error *err)
{
	struct ep_member_list view = { 0 };
	view.v = calloc(rep->n ? rep->n : 1, sizeof(*view.v));
	if (!view.v)
		return ep_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < rep->n; i++)
		view.v[i] = rep->v[i].member; /* shallow: not released */
	view.n = rep->n;
	int r = ep_member_list_lookup(&view, arg, err);
	free(view.v);
	return r;
}

/*
 * printf to stdout with the control characters of the values (names and
 * URLs, some from the cluster) escaped; the format's own newline stays.
 */
static void print_escaped(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void print_escaped(const char *fmt, ...)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	ep_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	ep_strbuf_rtrim(&sb);
	_cleanup_free_ char *e = ep_escape(ep_strbuf_str(&sb));
	ep_strbuf_release(&sb);
	printf("%s\n", e ? e : "(out of memory)");
}

static void warn_force(const char *what, const struct ep_error *why)
{
	_cleanup_free_ char *msg = ep_escape(why->msg); /* names members */
	fprintf(stderr,
		"WARNING: --force: %s although it is unsafe: %s\n"
		"WARNING: the cluster may lose quorum and stop serving until the missing members "
		"are back\n",
		what, msg ? msg : why->msg);
}

/*
 * Run @fn until it stops answering -EAGAIN (etcd's "unhealthy cluster" right
 * after a restart, "no leader", a learner not yet in sync: nothing was
 * changed, so trying again is safe), with backoff, until @timeout_ms from
 * @start_ms.  A timeout is never retried: the change may have happened.
 */
struct change {
	struct ep_client *client;
	const char *endpoint;
	uint64_t id;
	const char *const *peers;
	size_t npeers;
	bool learner;
	struct ep_member *added;
	struct ep_member_list *list;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int change_retry(int (*fn)(struct change *ch, struct ep_error *err), struct change *ch,
			uint64_t start_ms, uint64_t timeout_ms, struct ep_error *err)
{
	uint64_t backoff = 100;
	for (;;) {
		struct ep_error e = { 0 };
		int r = fn(ch, &e);
		if (r != -EAGAIN) {
			if (r < 0)
				*err = e;
			return r;
		}
		uint64_t spent = now_ms() - start_ms;
		if (spent + backoff >= timeout_ms) {
			*err = e;
			if (!timeout_ms)
				return r;
			return ep_error_prefix(err, "still refused after %" PRIu64 " ms; retry later "
						    "or give a longer --timeout", spent);
		}
		struct timespec ts = { .tv_sec = (time_t)(backoff / 1000),
				       .tv_nsec = (long)(backoff % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
	}
}

/* Voters that did not answer Status; etcd 3.4 refuses changes while any is away. */
static size_t voters_away(const struct ep_health_report *rep)
{
	size_t away = 0;
	for (size_t i = 0; i < rep->n; i++)
		away += !rep->v[i].member.is_learner && !rep->v[i].status_ok;
	return away;
}

/* After "unhealthy cluster" with voters away: say why waiting would not help. */
static void explain_unhealthy(int r, const struct ep_health_report *rep, struct ep_error *err)
{
	size_t away = voters_away(rep);
	if (r != -EAGAIN || !away || !strstr(err->msg, "unhealthy cluster"))
		return;
	ep_error_prefix(err, "etcd refuses membership changes while a voting member is "
			     "unreachable (%zu voter%s down here; remove a dead member first, "
			     "etcd 3.4 allows that)",
			away, away == 1 ? " is" : "s are");
}

static int do_add(struct change *ch, struct ep_error *err)
{
	return ep_member_add(ch->client, ch->endpoint, ch->peers, ch->npeers, ch->learner,
			     ch->added, ch->list, err);
}

static int do_remove(struct change *ch, struct ep_error *err)
{
	return ep_member_remove(ch->client, ch->endpoint, ch->id, NULL, err);
}

static int do_promote(struct change *ch, struct ep_error *err)
{
	return ep_member_promote(ch->client, ch->endpoint, ch->id, NULL, err);
}

/* What 'member add' prints: etcdctl's line and the ETCD_* settings (or the JSON document). */
static int print_added(struct cli_ctx *ctx, const char *name, bool learner,
		       const struct ep_member *added, const struct ep_member_list *ml,
		       struct ep_error *err)
{
	char hex[17], chex[17];

	/* ETCD_INITIAL_CLUSTER as etcdctl builds it: named members plus the new one. */
	struct ep_strbuf initial_sb = EP_STRBUF_INIT, peers_sb = EP_STRBUF_INIT;
	for (size_t i = 0; i < ml->n; i++) {
		const struct ep_member *m = &ml->v[i];
		const char *n = m->id == added->id ? name : m->name;
		for (size_t k = 0; n && k < m->peer_urls.n; k++)
			ep_strbuf_addf(&initial_sb, "%s%s=%s", initial_sb.len ? "," : "", n,
				       m->peer_urls.v[k]);
	}
	for (size_t k = 0; k < added->peer_urls.n; k++)
		ep_strbuf_addf(&peers_sb, "%s%s", k ? "," : "", added->peer_urls.v[k]);
	_cleanup_free_ char *initial = ep_strbuf_detach(&initial_sb, NULL);
	_cleanup_free_ char *peer_list = ep_strbuf_detach(&peers_sb, NULL);
	if (!initial || !peer_list)
		return ep_error_set(err, -ENOMEM, "out of memory");
	ep_member_id_hex(added->id, hex);
	ep_member_id_hex(ml->cluster_id, chex);
	if (cli_json(ctx)) {
		json_t *m = member_json(added);
		json_object_set_new(m, "name", json_string(name));
		cli_print_json(json_pack("{s:s s:o s:{s:s s:s s:s s:s}}", "cluster_id", chex, "member",
					 m, "env", "ETCD_NAME", name, "ETCD_INITIAL_CLUSTER",
					 initial, "ETCD_INITIAL_ADVERTISE_PEER_URLS", peer_list,
					 "ETCD_INITIAL_CLUSTER_STATE", "existing"));
	} else {
		/* The other members' names and URLs come from the cluster. */
		_cleanup_free_ char *e_name = ep_escape(name);
		_cleanup_free_ char *e_initial = ep_escape(initial);
		_cleanup_free_ char *e_peers = ep_escape(peer_list);
		if (!e_name || !e_initial || !e_peers)
			return ep_error_set(err, -ENOMEM, "out of memory");
		printf("Member %s added to cluster %s%s\n\n", hex, chex, learner ? " as a learner" : "");
		printf("ETCD_NAME=\"%s\"\n", e_name);
		printf("ETCD_INITIAL_CLUSTER=\"%s\"\n", e_initial);
		printf("ETCD_INITIAL_ADVERTISE_PEER_URLS=\"%s\"\n", e_peers);
		printf("ETCD_INITIAL_CLUSTER_STATE=\"existing\"\n");
	}
	return 0;
}

static int member_add_run(struct cli_ctx *ctx, struct ep_error *err)
{
	uint64_t start = now_ms();
	const char *name = ctx->args[0];
	bool learner = cli_has(ctx, "learner");
	struct cli_client cc = { 0 };
	struct ep_health_report rep = { 0 };
	struct ep_strv peers = { 0 };
	struct ep_member added = { 0 };
	struct ep_member_list ml = { 0 };
	char hex[17];
	int r;

	r = ep_endpoints_parse(ctx->args[1], &peers, err);
	if (r == 0)
		r = ep_error_usage(err, -EINVAL, "no peer URL given");
	if (r < 0) {
		ep_error_prefix(err, "peer URL '%s'", ctx->args[1]);
		goto out;
	}
	if ((r = cli_client_open(ctx, MEMBER_DEFAULT_TIMEOUT_MS, &cc, err)) < 0 ||
	    (r = cluster_probe(&cc, &rep, err)) < 0)
		goto out;
	for (size_t i = 0; i < rep.n; i++) {
		const struct ep_member *m = &rep.v[i].member;
		if (m->name && !strcmp(m->name, name)) {
			r = ep_error_usage(err, -EEXIST, "a member named '%s' already exists (%s); "
							 "remove it first or pick another name",
					   name, ep_member_id_hex(m->id, hex));
			goto out;
		}
		for (size_t k = 0; k < peers.n; k++)
			if (ep_strv_contains(&m->peer_urls, peers.v[k])) {
				r = ep_error_usage(err, -EEXIST,
						   "peer URL '%s' already belongs to member '%s' (%s)",
						   peers.v[k], m->name ? m->name : "unstarted",
						   ep_member_id_hex(m->id, hex));
				goto out;
			}
	}
	struct ep_error why = { 0 };
	if (ep_quorum_check_add(&rep, learner, &why) < 0) {
		if (!cli_has(ctx, "force")) {
			*err = why;
			r = why.code;
			goto out;
		}
		warn_force("adding a voting member", &why);
	}
	const char *ep = change_endpoint(&rep, SIZE_MAX);
	if (ctx->dry_run) {
		print_escaped("would add member '%s' (%s) with peer URLs %s through %s\n", name,
			      learner ? "learner" : "voter", ctx->args[1], ep);
		r = 0;
		goto out;
	}
	struct change ch = { .client = cc.client, .endpoint = ep,
			     .peers = (const char *const *)peers.v, .npeers = peers.n,
			     .learner = learner, .added = &added, .list = &ml };
	/* Waiting helps a cluster that just started, not one with a member away. */
	r = change_retry(do_add, &ch, start, voters_away(&rep) ? 0 : cc.timeout_ms, err);
	explain_unhealthy(r, &rep, err);
	if (r < 0) {
		ep_error_prefix(err, "adding member '%s'", name);
		goto out;
	}

	r = print_added(ctx, name, learner, &added, &ml, err);
	if (r < 0)
		goto out;
	r = 0;
out:
	ep_member_release(&added);
	ep_member_list_release(&ml);
	ep_strv_release(&peers);
	ep_health_report_release(&rep);
	cli_client_release(&cc);
	return r;
}

static int member_remove_run(struct cli_ctx *ctx, struct ep_error *err)
{
	uint64_t start = now_ms();
	struct cli_client cc = { 0 };
	struct ep_health_report rep = { 0 };
	char hex[17], chex[17];
	int r, idx;

	if ((r = cli_client_open(ctx, MEMBER_DEFAULT_TIMEOUT_MS, &cc, err)) < 0 ||
	    (r = cluster_probe(&cc, &rep, err)) < 0)
		goto out;
	if ((r = idx = report_lookup(&rep, ctx->args[0], err)) < 0)
		goto out;
	const struct ep_member *m = &rep.v[idx].member;
	const char *name = m->name ? m->name : "unstarted";
	ep_member_id_hex(m->id, hex);
	struct ep_error why = { 0 };
	if (ep_quorum_check_remove(&rep, (size_t)idx, &why) < 0) {
		if (!cli_has(ctx, "force")) {
			*err = why;
			r = why.code;
			goto out;
		}
		warn_force("removing a voting member", &why);
	}
	const char *ep = change_endpoint(&rep, (size_t)idx);
	if (!ep) {
		r = ep_error_set(err, -EBUSY, "no other member than '%s' (%s) answers; cannot "
					      "remove it through itself", name, hex);
		goto out;
	}
	if (ctx->dry_run) {
		print_escaped("would remove member '%s' (%s) through %s\n", name, hex, ep);
		r = 0;
		goto out;
	}
	struct change ch = { .client = cc.client, .endpoint = ep, .id = m->id };
	r = change_retry(do_remove, &ch, start, cc.timeout_ms, err);
	explain_unhealthy(r, &rep, err);
	if (r < 0) {
		ep_error_prefix(err, "removing member '%s' (%s)", name, hex);
		goto out;
	}
	ep_member_id_hex(rep.cluster_id, chex);
	if (cli_json(ctx))
		cli_print_json(json_pack("{s:s s:s s:o}", "cluster_id", chex, "removed", hex, "name",
					 m->name ? json_string(m->name) : json_null()));
	else
		printf("Member %s removed from cluster %s\n", hex, chex);
	r = 0;
out:
	ep_health_report_release(&rep);
	cli_client_release(&cc);
	return r;
}

static int member_promote_run(struct cli_ctx *ctx, struct ep_error *err)
{
	uint64_t start = now_ms();
	struct cli_client cc = { 0 };
	struct ep_health_report rep = { 0 };
	char hex[17], chex[17];
	int r, idx;

	if ((r = cli_client_open(ctx, MEMBER_DEFAULT_TIMEOUT_MS, &cc, err)) < 0 ||
	    (r = cluster_probe(&cc, &rep, err)) < 0)
		goto out;
	if ((r = idx = report_lookup(&rep, ctx->args[0], err)) < 0)
		goto out;
	const struct ep_member *m = &rep.v[idx].member;
	const char *name = m->name ? m->name : "unstarted";
	ep_member_id_hex(m->id, hex);
	if (!m->is_learner) {
		r = ep_error_usage(err, -EINVAL, "member '%s' (%s) is already a voting member", name,
				   hex);
		goto out;
	}
	const char *ep = change_endpoint(&rep, (size_t)idx);
	if (!ep) {
		r = ep_error_set(err, -EBUSY, "no voting member answers; cannot promote '%s'", name);
		goto out;
	}
	if (ctx->dry_run) {
		print_escaped("would promote member '%s' (%s) through %s\n", name, hex, ep);
		r = 0;
		goto out;
	}
	/* A learner still catching up is refused with "not in sync": retried. */
	struct change ch = { .client = cc.client, .endpoint = ep, .id = m->id };
	r = change_retry(do_promote, &ch, start, cc.timeout_ms, err);
	if (r < 0) {
		ep_error_prefix(err, "promoting member '%s' (%s)", name, hex);
		goto out;
	}
	ep_member_id_hex(rep.cluster_id, chex);
	if (cli_json(ctx))
		cli_print_json(json_pack("{s:s s:s s:o}", "cluster_id", chex, "promoted", hex, "name",
					 m->name ? json_string(m->name) : json_null()));
	else
		printf("Member %s promoted in cluster %s\n", hex, chex);
	r = 0;
out:
	ep_health_report_release(&rep);
	cli_client_release(&cc);
	return r;
}

static const struct cli_opt add_opts[] = {
	{ "learner", 0, false, NULL, "add the member as a non-voting learner (always quorum-safe)" },
	{ "force", 0, false, NULL, "skip the quorum check (dangerous: the cluster may stop)" },
	{ 0 },
};

static const struct cli_opt remove_opts[] = {
	{ "force", 0, false, NULL, "skip the quorum check (dangerous: the cluster may stop)" },
	{ 0 },
};

const struct cli_command cmd_member_list = {
	.name = "member list",
	.run = member_list_run,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = NULL,
	.summary = "list the cluster's members",
	.help = "List the members as etcdctl does (ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS,\n"
		"IS LEARNER), asking every endpoint at once and taking the first answer.",
	.min_args = 0,
	.max_args = 0,
	.json_output = true,
};

const struct cli_command cmd_member_add = {
	.name = "member add",
	.run = member_add_run,
	.groups = CLI_NODE | CLI_CLIENT,
	.opts = add_opts,
	.args = "NAME PEER-URL",
	.summary = "add a member (refused when it would cost quorum)",
	.help = "Add member NAME with PEER-URL (comma-separated for several) and print the\n"
		"ETCD_* settings it must start with.  A voting member is refused when the\n"
		"started voters would fall short of the new quorum; a learner (--learner) is\n"
		"always safe and is promoted later with 'etcdpilot member promote'.",
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
	.help = "Remove the member named NAME or with the hex ID (as 'member list' prints it).\n"
		"Refused when the remaining started voters could not form a quorum.",
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
	.help = "Promote the learner NAME or ID.  While it is still catching up with the leader,\n"
		"etcd refuses; the promotion is retried with backoff until --timeout (default\n"
		"5s).",
	.min_args = 1,
	.max_args = 1,
	.json_output = true,
};
