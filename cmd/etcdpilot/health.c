/*
 * health.c - etcdpilot health: probe every member at once.
 *
 * The library finds the members and probes them all in one multi loop
 * (ep_health_probe); this file turns the report into one JSON document and
 * prints it as is or hands it to health_render.c for the table.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "health_cli.h"
#include "etcdpilot/client.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

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
	json_t *o = json_pack(
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
	if (o) {
		json_object_set_new(o, "pending_learner", json_boolean(m->pending_learner));
		json_object_set_new(o, "probed", json_boolean(m->probed));
	}
	return o;
}

/* The name of member @id in @rep, or NULL. */
static const char *member_name(const struct ep_health_report *rep, uint64_t id)
{
	for (size_t i = 0; i < rep->n; i++)
		if (rep->v[i].member.id == id)
			return rep->v[i].member.name;
	return NULL;
}

/*
 * What to run about alarm @a, one command a line (etcd's own remedy: for
 * NOSPACE, compact the history before the current revision, defragment
 * every member to give the space back, then disarm).  Heap string.
 */
static char *alarm_remedy(const struct ep_health_report *rep, const struct ep_alarm *a)
{
	char *out = NULL;
	uint64_t rev = 0;
	for (size_t i = 0; i < rep->n; i++)
		if (rep->v[i].status_ok && rep->v[i].status.revision > rev)
			rev = rep->v[i].status.revision;
	const char *ep = rep->list_endpoint;
	const char *name = member_name(rep, a->member_id);
	char hex[17];
	ep_member_id_hex(a->member_id, hex);
	int w;
	switch (a->alarm) {
	case EP_ALARM_NOSPACE:
		w = asprintf(&out,
			     "etcdctl --endpoints=%s compact %" PRIu64 "\n"
			     "etcdctl --endpoints=%s defrag --cluster\n"
			     "etcdctl --endpoints=%s alarm disarm",
			     ep, rev ? rev : 1, ep, ep);
		break;
	case EP_ALARM_CORRUPT:
		w = asprintf(&out,
			     "etcdpilot member remove %s   # then wipe its data dir and join it again\n"
			     "etcdctl --endpoints=%s alarm disarm",
			     name ? name : hex, ep);
		break;
	default:
		w = asprintf(&out, "etcdctl --endpoints=%s alarm list", ep);
		break;
	}
	return w < 0 ? NULL : out;
}

static const char *alarm_meaning(enum ep_alarm_type a)
{
	switch (a) {
	case EP_ALARM_NOSPACE:
		return "the database reached its space quota (--quota-backend-bytes); etcd refuses "
		       "writes until the alarm is disarmed: free the space, then disarm";
	case EP_ALARM_CORRUPT:
		return "the member's data differs from the others'; etcd refuses writes: replace "
		       "the member's data, then disarm";
	default:
		return "an alarm this etcdpilot does not know: see what etcd says";
	}
}

static json_t *report_json(const struct ep_health_report *rep, uint64_t timeout_ms)
{
	json_t *members = json_array();
	for (size_t i = 0; i < rep->n; i++)
		json_array_append_new(members, member_json(&rep->v[i]));
	json_t *alarms = json_array();
	for (size_t k = 0; k < rep->alarms.n; k++) {
		const struct ep_alarm *a = &rep->alarms.v[k];
		char *remedy = alarm_remedy(rep, a);
		json_array_append_new(alarms,
				      json_pack("{s:o s:s s:o s:s s:o}", "member_id",
						hex_or_null(a->member_id), "alarm",
						ep_alarm_name(a->alarm), "member_name",
						str_or_null(member_name(rep, a->member_id)),
						"meaning", alarm_meaning(a->alarm), "remedy",
						str_or_null(remedy)));
		free(remedy);
	}
	size_t quorum = rep->voters / 2 + 1;
	size_t ok = rep->healthy + rep->pending_learners;
	json_t *summary = json_pack(
		"{s:I s:I s:I s:I s:I s:I s:I s:b s:o s:o s:o s:b}", "members", (json_int_t)rep->n,
		"healthy", (json_int_t)rep->healthy, "unhealthy", (json_int_t)(rep->n - ok),
		"voters", (json_int_t)rep->voters, "learners", (json_int_t)rep->learners, "quorum",
		(json_int_t)quorum, "started_voters", (json_int_t)rep->started_voters, "has_quorum",
		rep->quorum == EP_QUORUM_HELD, "leader", hex_or_null(rep->leader), "alarms", alarms,
		"list_errors", strv_json(&rep->list_errors), "healthy_cluster", rep->n && ok == rep->n);
	if (summary) {
		json_object_set_new(summary, "quorum_state", json_string(ep_quorum_name(rep->quorum)));
		json_object_set_new(summary, "quorum_reason", str_or_null(rep->quorum_why));
		json_object_set_new(summary, "pending_learners",
				    json_integer((json_int_t)rep->pending_learners));
		json_object_set_new(summary, "not_probed", json_integer((json_int_t)rep->not_probed));
	}
	return json_pack("{s:o s:o s:I s:o s:o}", "cluster_id", hex_or_null(rep->cluster_id),
			 "endpoint", str_or_null(rep->list_endpoint), "timeout_ms",
			 (json_int_t)timeout_ms, "members", members, "summary", summary);
}

static int health_run(struct cli_ctx *ctx, struct ep_error *err)
{
	/* One deadline for the whole command: opening the client counts too. */
	uint64_t t0 = ep_now_ms();
	struct cli_client cc = { 0 };
	struct ep_health_report rep;
	int r = cli_client_open(ctx, HEALTH_DEFAULT_TIMEOUT_MS, &cc, err);
	if (r < 0) {
		cli_client_release(&cc);
		return r;
	}
	uint64_t spent = ep_now_ms() - t0;
	uint64_t left = spent < cc.timeout_ms ? cc.timeout_ms - spent : 1;
	r = ep_health_probe(cc.client, (const char *const *)cc.cfg.endpoints.v,
			    cc.cfg.endpoints.n, left, 0, &rep, err);
	if (r < 0) {
		cli_client_release(&cc);
		return r;
	}
	json_t *doc = report_json(&rep, cc.timeout_ms);
	/* Healthy: every member, but for learners that have not started yet. */
	bool all = rep.n && rep.healthy + rep.pending_learners == rep.n;
	ep_health_report_release(&rep);
	cli_client_release(&cc);
	if (!doc)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (cli_json(ctx)) {
		cli_print_doc("HealthReport", doc);
	} else {
		r = health_print_text(doc);
		json_decref(doc);
		if (r < 0)
			return ep_error_set(err, r, "out of memory");
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
		"Quorum is judged from what raft says through the members that answer (a\n"
		"leader agreed on and a linearizable read served), not from how many client\n"
		"endpoints answer: a member whose endpoint fails (say, its serving certificate\n"
		"expired) is \"unreachable from here\" with the cause, and may still vote.\n"
		"At most 16 members are probed at a time; a member list of more than 128\n"
		"members is refused.  Values from the cluster are printed with control\n"
		"characters escaped.\n"
		"Exit 0 when every member is healthy (a learner added but not started yet\n"
		"does not count against that: it is shown as \"not started\"), 3 when some\n"
		"are not, 1 when no endpoint answered.",
	.min_args = 0,
	.max_args = 0,
	.json_output = true,
};
