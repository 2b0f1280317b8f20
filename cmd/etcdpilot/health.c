/*
 * health.c - etcdpilot health: probe every member at once.
 *
 * The library finds the members and probes them all in one multi loop
 * (ep_health_probe); this file turns the report into one JSON document and
 * renders that document as a table or prints it as is.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "etcdpilot/client.h"

#define HEALTH_DEFAULT_TIMEOUT_MS 5000

static json_t *hex_or_null(uint64_t id)
{
	char hex[17];
	return id ? json_string(ep_member_id_hex(id, hex)) : json_null();
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *strv_json(const struct ep_strv *sv)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < sv->n; i++)
		json_array_append_new(a, json_string(sv->v[i]));
	return a;
}

static json_t *member_json(const struct ep_member_health *m)
{
	const struct ep_status *st = m->status_ok ? &m->status : NULL;
	json_t *alarms = json_array();
	for (size_t k = 0; k < m->alarms.n; k++)
		json_array_append_new(alarms, json_string(ep_alarm_name(m->alarms.v[k].alarm)));
	return json_pack(
		"{s:o s:o s:o s:o s:o s:b s:b s:b s:b s:o s:o s:b s:I s:I s:I s:I s:I s:I s:o s:b "
		"s:I s:o}",
		"id", hex_or_null(m->member.id), "name", str_or_null(m->member.name), "endpoint",
		str_or_null(m->endpoint), "peer_urls", strv_json(&m->member.peer_urls),
		"client_urls", strv_json(&m->member.client_urls), "is_learner", m->member.is_learner,
		"started", m->started, "reachable", m->reachable, "healthy", m->healthy, "version",
		str_or_null(st ? st->version : NULL), "leader", st ? hex_or_null(st->leader) : json_null(),
		"is_leader", m->is_leader, "raft_term", (json_int_t)(st ? st->raft_term : 0),
		"raft_index", (json_int_t)(st ? st->raft_index : 0), "raft_applied_index",
		(json_int_t)(st ? st->raft_applied_index : 0), "raft_lag", (json_int_t)m->raft_lag,
		"db_size", (json_int_t)(st ? st->db_size : 0), "db_size_in_use",
		(json_int_t)(st ? st->db_size_in_use : 0), "alarms", alarms, "read", m->read_ok,
		"took_ms", (json_int_t)m->took_ms, "error", str_or_null(m->error));
}

static json_t *report_json(const struct ep_health_report *rep, uint64_t timeout_ms)
{
	json_t *members = json_array();
	for (size_t i = 0; i < rep->n; i++)
		json_array_append_new(members, member_json(&rep->v[i]));
	json_t *alarms = json_array();
	for (size_t k = 0; k < rep->alarms.n; k++)
		json_array_append_new(alarms,
				      json_pack("{s:o s:s}", "member_id",
						hex_or_null(rep->alarms.v[k].member_id), "alarm",
						ep_alarm_name(rep->alarms.v[k].alarm)));
	size_t quorum = rep->voters / 2 + 1;
	bool has_quorum = rep->leader && rep->started_voters >= quorum;
	json_t *summary = json_pack(
		"{s:I s:I s:I s:I s:I s:I s:I s:b s:o s:o s:o s:b}", "members", (json_int_t)rep->n,
		"healthy", (json_int_t)rep->healthy, "unhealthy", (json_int_t)(rep->n - rep->healthy),
		"voters", (json_int_t)rep->voters, "learners", (json_int_t)rep->learners, "quorum",
		(json_int_t)quorum, "started_voters", (json_int_t)rep->started_voters, "has_quorum",
		has_quorum, "leader", hex_or_null(rep->leader), "alarms", alarms, "list_errors",
		strv_json(&rep->list_errors), "healthy_cluster", rep->n && rep->healthy == rep->n);
	return json_pack("{s:o s:s s:I s:o s:o}", "cluster_id", hex_or_null(rep->cluster_id),
			 "endpoint", rep->list_endpoint, "timeout_ms", (json_int_t)timeout_ms,
			 "members", members, "summary", summary);
}

/* ------------------------------------------------------------------------ */
/* Text rendering of the JSON document                                       */

#define COLS 12

static const char *const headers[COLS] = {
	"ENDPOINT", "NAME", "ID", "HEALTH", "ROLE", "VERSION",
	"TERM", "INDEX", "LAG", "DB SIZE", "IN USE", "TOOK",
};

static const char *jstr(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

static uint64_t jnum(const json_t *o, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(o, k));
}

static void print_text(const json_t *doc)
{
	const json_t *members = json_object_get(doc, "members");
	size_t n = json_array_size(members);
	char(*cells)[COLS][64] = calloc(n ? n : 1, sizeof(*cells));
	size_t width[COLS];

	if (!cells)
		return;
	for (size_t c = 0; c < COLS; c++)
		width[c] = strlen(headers[c]);
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(members, i);
		bool status = json_is_string(json_object_get(m, "version"));
		char(*row)[64] = cells[i];
		snprintf(row[0], 64, "%s", jstr(m, "endpoint", "-"));
		snprintf(row[1], 64, "%s", jstr(m, "name", "-"));
		snprintf(row[2], 64, "%s", jstr(m, "id", "-"));
		snprintf(row[3], 64, "%s", json_is_true(json_object_get(m, "healthy")) ? "healthy"
											: "UNHEALTHY");
		snprintf(row[4], 64, "%s",
			 json_is_true(json_object_get(m, "is_learner")) ? "learner"
			 : json_is_true(json_object_get(m, "is_leader")) ? "leader"
			 : status					  ? "follower"
									  : "voter");
		snprintf(row[5], 64, "%s", jstr(m, "version", "-"));
		if (status) {
			snprintf(row[6], 64, "%" PRIu64, jnum(m, "raft_term"));
			snprintf(row[7], 64, "%" PRIu64, jnum(m, "raft_index"));
			snprintf(row[8], 64, "%" PRIu64, jnum(m, "raft_lag"));
			cli_bytes(jnum(m, "db_size"), row[9], 64);
			cli_bytes(jnum(m, "db_size_in_use"), row[10], 64);
		} else {
			for (size_t c = 6; c <= 10; c++)
				snprintf(row[c], 64, "-");
		}
		snprintf(row[11], 64, "%" PRIu64 "ms", jnum(m, "took_ms"));
		for (size_t c = 0; c < COLS; c++)
			if (strlen(row[c]) > width[c])
				width[c] = strlen(row[c]);
	}
	for (size_t c = 0; c < COLS; c++)
		printf("%-*s%s", c + 1 < COLS ? (int)width[c] : 0, headers[c],
		       c + 1 < COLS ? "  " : "\n");
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < COLS; c++)
			printf("%-*s%s", c + 1 < COLS ? (int)width[c] : 0, cells[i][c],
			       c + 1 < COLS ? "  " : "\n");
	free(cells);

	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(members, i);
		const char *e = jstr(m, "error", NULL);
		if (e)
			printf("%s (%s): %s\n", jstr(m, "name", "unstarted"), jstr(m, "id", "-"), e);
	}
	const json_t *s = json_object_get(doc, "summary");
	const json_t *le = json_object_get(s, "list_errors");
	for (size_t i = 0; i < json_array_size(le); i++)
		printf("member list: %s\n", json_string_value(json_array_get(le, i)));

	const char *leader = jstr(s, "leader", NULL);
	const char *leader_name = NULL;
	for (size_t i = 0; leader && i < n; i++) {
		const json_t *m = json_array_get(members, i);
		if (!strcmp(jstr(m, "id", ""), leader))
			leader_name = jstr(m, "name", NULL);
	}
	printf("cluster %s is %s: %" PRIu64 " of %" PRIu64 " members healthy, ",
	       jstr(doc, "cluster_id", "-"),
	       json_is_true(json_object_get(s, "healthy_cluster")) ? "healthy" : "UNHEALTHY",
	       jnum(s, "healthy"), jnum(s, "members"));
	if (leader)
		printf("leader %s (%s), ", leader_name ? leader_name : "?", leader);
	else
		printf("NO LEADER, ");
	printf("%" PRIu64 " of %" PRIu64 " voters up (quorum %" PRIu64 ")%s\n",
	       jnum(s, "started_voters"), jnum(s, "voters"), jnum(s, "quorum"),
	       json_is_true(json_object_get(s, "has_quorum")) ? "" : ": QUORUM LOST");
	const json_t *alarms = json_object_get(s, "alarms");
	for (size_t k = 0; k < json_array_size(alarms); k++) {
		const json_t *a = json_array_get(alarms, k);
		printf("alarm %s raised by member %s\n", jstr(a, "alarm", "?"),
		       jstr(a, "member_id", "?"));
	}
}

static int health_run(struct cli_ctx *ctx, struct ep_error *err)
{
	struct cli_client cc = { 0 };
	struct ep_health_report rep;
	int r = cli_client_open(ctx, HEALTH_DEFAULT_TIMEOUT_MS, &cc, err);
	if (r < 0) {
		cli_client_release(&cc);
		return r;
	}
	r = ep_health_probe(cc.client, (const char *const *)cc.cfg.endpoints.v,
			    cc.cfg.endpoints.n, cc.timeout_ms, 0, &rep, err);
	if (r < 0) {
		cli_client_release(&cc);
		return r;
	}
	json_t *doc = report_json(&rep, cc.timeout_ms);
	bool all = rep.n && rep.healthy == rep.n;
	ep_health_report_release(&rep);
	cli_client_release(&cc);
	if (!doc)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (cli_json(ctx)) {
		cli_print_json(doc);
	} else {
		print_text(doc);
		json_decref(doc);
	}
	return all ? 0 : CLI_UNHEALTHY;
}

const struct cli_command cmd_health = {
	.name = "health",
	.run = health_run,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = NULL,
	.summary = "probe every member at once; exit 0 only when all are healthy",
	.help = "Ask the endpoints for the member list, then probe every member's client URL at\n"
		"the same time: TLS, version, leader, raft term and index (and the lag behind\n"
		"the leader), database size, alarms, and a read (linearizable on voters,\n"
		"serializable on learners).  The whole command ends within --timeout (default\n"
		"5s here) even when members hang.  Endpoints and TLS files come from the flags,\n"
		"then ETCDCTL_ENDPOINTS/CACERT/CERT/KEY, then the config, then this node's\n"
		"manifest or etcd env file, then https://127.0.0.1:2379 with\n"
		"<cert-dir>/etcd/ca.crt and healthcheck-client.{crt,key}.\n"
		"Exit 0 when every member is healthy, 3 when some are not, 1 when no endpoint\n"
		"answered.",
	.min_args = 0,
	.max_args = 0,
	.json_output = true,
};
