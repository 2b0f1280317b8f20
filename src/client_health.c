/*
 * client_health.c - the health of a whole cluster, every member probed at
 * once in one multi loop.
 *
 * This module owns the judgement "is this member healthy": started, answers
 * Status with a leader and no error or alarm, and serves a read
 * (linearizable on voters, serializable on learners, as the member list
 * says; permission denied counts as served, as in etcdctl).  It asks the
 * given endpoints for the member list all at once, starts probing members
 * the moment the first list arrives - Status and the read together, on one
 * connection per member where HTTP/2 lets them share it - and keeps every
 * call inside one deadline, so that a hung member costs the deadline and
 * nothing more.  It does not print and does not retry.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client_internal.h"
#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "util/cleanup.h"

enum { TAG_LIST = 0, TAG_STATUS = 1, TAG_READ = 2 };

struct probe {
	struct ep_client *c;
	struct ep_health_report *rep;
	const char *const *endpoints;
	size_t n_endpoints;
	struct ep_error *list_errs;
	size_t list_pending;
	bool have_list;
	size_t pending;   /* member calls still running */
	char **read_errs; /* per member: why the read failed (reported after Status's verdict) */
	unsigned flags;
	uint64_t deadline;
	uint64_t started;
	int r;            /* ENOMEM and the like */
};

void ep_health_report_release(struct ep_health_report *hr)
{
	if (!hr)
		return;
	for (size_t i = 0; i < hr->n; i++) {
		struct ep_member_health *m = &hr->v[i];
		ep_member_release(&m->member);
		free(m->endpoint);
		ep_status_release(&m->status);
		ep_alarm_list_release(&m->alarms);
		free(m->error);
	}
	free(hr->v);
	free(hr->list_endpoint);
	ep_alarm_list_release(&hr->alarms);
	ep_strv_release(&hr->list_errors);
	memset(hr, 0, sizeof(*hr));
}

static void set_error(struct ep_member_health *m, const char *msg)
{
	if (m->error)
		return; /* the first problem explains best */
	m->error = strdup(msg);
}

/* Tags: low 2 bits the kind, the rest the member index (or endpoint index). */
static size_t tag_make(int kind, size_t idx)
{
	return idx << 2 | (size_t)kind;
}

static void member_done(struct ep_call *call);

static void start_member_call(struct probe *p, size_t i, int kind)
{
	struct ep_member_health *m = &p->rep->v[i];
	struct ep_error err = { 0 };
	json_t *body = NULL;
	const char *rpc = "/v3/maintenance/status";

	if (kind == TAG_READ) {
		/* Learners only serve serializable reads. */
		body = ep_range_request("health", 6, NULL, 0, m->member.is_learner, true, 1);
		rpc = "/v3/kv/range";
		if (!body) {
			p->r = -ENOMEM;
			return;
		}
	}
	int r = ep_call_start(p->c, m->endpoint, rpc, body, p->deadline, member_done, p,
			      tag_make(kind, i), &err);
	if (r < 0) {
		set_error(m, err.msg);
		return;
	}
	p->pending++;
}

static void member_done(struct ep_call *call)
{
	struct probe *p = call->userdata;
	int kind = (int)(call->tag & 3);
	size_t i = call->tag >> 2;
	struct ep_member_health *m = &p->rep->v[i];

	p->pending--;
	m->took_ms = ep_now_ms() - p->started;
	if (call->answered && call->r != -EPROTO)
		m->reachable = true;
	if (kind == TAG_STATUS) {
		if (call->r < 0) {
			set_error(m, call->err.msg);
		} else {
			struct ep_error err = { 0 };
			if (ep_decode_status(call->obj, &m->status, &err) < 0) {
				ep_error_prefix(&err, "%s: unexpected status answer", m->endpoint);
				set_error(m, err.msg);
			} else {
				m->status_ok = true;
				m->reachable = true;
			}
		}
	} else if (kind == TAG_READ) {
		m->read_done = true;
		if (call->r == 0 || call->r == -EACCES) {
			m->read_ok = true; /* permission denied went through consensus: fine */
		} else if (!p->read_errs[i] && asprintf(&p->read_errs[i], "read failed: %s",
							     call->err.msg) < 0) {
			p->read_errs[i] = NULL;
			p->r = -ENOMEM;
		}
	}
	if (p->have_list && p->pending == 0)
		ep_client_stop(p->c);
}

static int report_members(struct probe *p, struct ep_member_list *ml)
{
	struct ep_health_report *rep = p->rep;
	rep->cluster_id = ml->cluster_id;
	if (ml->n && !(rep->v = calloc(ml->n, sizeof(*rep->v))))
		return -ENOMEM;
	for (size_t i = 0; i < ml->n; i++) {
		struct ep_member_health *m = &rep->v[i];
		/* Take the member over: the list is dropped afterwards. */
		m->member = ml->v[i];
		memset(&ml->v[i], 0, sizeof(ml->v[i]));
		rep->n++;
		if (m->member.is_learner)
			rep->learners++;
		else
			rep->voters++;
		m->started = m->member.name && m->member.client_urls.n;
		if (!m->started) {
			set_error(m, "member has not started yet (added, but never joined: no name "
				     "and no client URLs)");
			continue;
		}
		if (!(m->endpoint = strdup(m->member.client_urls.v[0])))
			return -ENOMEM;
	}
	return 0;
}

static void list_done(struct ep_call *call)
{
	struct probe *p = call->userdata;
	size_t e = call->tag >> 2;
	struct ep_member_list ml;

	p->list_pending--;
	if (p->have_list) {
		/* too late to matter for the list, but worth reporting */
		if (call->r < 0 && call->r != -ECANCELED)
			p->list_errs[e] = call->err;
		if (p->pending == 0)
			ep_client_stop(p->c);
		return;
	}
	if (call->r < 0) {
		p->list_errs[e] = call->err;
	} else if (ep_decode_member_list(call->obj, &ml, &p->list_errs[e]) < 0) {
		ep_error_prefix(&p->list_errs[e], "%s: unexpected member list", call->endpoint);
	} else {
		p->have_list = true;
		p->rep->list_endpoint = strdup(call->endpoint);
		int r = report_members(p, &ml);
		ep_member_list_release(&ml);
		if (r < 0 || !p->rep->list_endpoint) {
			p->r = -ENOMEM;
			ep_client_stop(p->c);
			return;
		}
		if (p->rep->n && !(p->read_errs = calloc(p->rep->n, sizeof(char *)))) {
			p->r = -ENOMEM;
			ep_client_stop(p->c);
			return;
		}
		for (size_t i = 0; i < p->rep->n; i++) {
			if (!p->rep->v[i].endpoint)
				continue;
			start_member_call(p, i, TAG_STATUS);
			if (!(p->flags & EP_HEALTH_STATUS_ONLY))
				start_member_call(p, i, TAG_READ);
		}
		if (p->pending == 0)
			ep_client_stop(p->c);
	}
}

static int alarm_add(struct ep_alarm_list *al, const struct ep_alarm *a)
{
	for (size_t i = 0; i < al->n; i++)
		if (al->v[i].member_id == a->member_id && al->v[i].alarm == a->alarm)
			return 0;
	struct ep_alarm *nv = realloc(al->v, (al->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	al->v = nv;
	al->v[al->n++] = *a;
	return 0;
}

/* Leader, lag, alarms and the verdict, once every answer is in. */
static int report_judge(struct ep_health_report *rep)
{
	/* The leader most members name. */
	size_t best_votes = 0;
	for (size_t i = 0; i < rep->n; i++) {
		const struct ep_member_health *m = &rep->v[i];
		if (!m->status_ok || !m->status.leader)
			continue;
		size_t votes = 0;
		for (size_t j = 0; j < rep->n; j++)
			votes += rep->v[j].status_ok && rep->v[j].status.leader == m->status.leader;
		if (votes > best_votes) {
			best_votes = votes;
			rep->leader = m->status.leader;
		}
	}
	uint64_t leader_index = 0;
	for (size_t i = 0; i < rep->n; i++) {
		struct ep_member_health *m = &rep->v[i];
		if (!m->status_ok)
			continue;
		if (m->member.id == rep->leader) {
			m->is_leader = true;
			leader_index = m->status.raft_index;
		}
		struct ep_alarm_list al = { 0 };
		if (ep_status_alarms(&m->status, &al) < 0)
			return -ENOMEM;
		for (size_t k = 0; k < al.n; k++)
			if (alarm_add(&rep->alarms, &al.v[k]) < 0) {
				ep_alarm_list_release(&al);
				return -ENOMEM;
			}
		ep_alarm_list_release(&al);
	}
	if (!leader_index) /* the leader did not answer: measure against the furthest */
		for (size_t i = 0; i < rep->n; i++)
			if (rep->v[i].status_ok && rep->v[i].status.raft_index > leader_index)
				leader_index = rep->v[i].status.raft_index;

	char alarms_text[512] = "";
	size_t o = 0;
	for (size_t k = 0; k < rep->alarms.n && o + 1 < sizeof(alarms_text); k++) {
		char hex[17];
		int w = snprintf(alarms_text + o, sizeof(alarms_text) - o, "%s%s raised by %s",
				 k ? ", " : "", ep_alarm_name(rep->alarms.v[k].alarm),
				 ep_member_id_hex(rep->alarms.v[k].member_id, hex));
		if (w > 0)
			o += (size_t)w;
	}

	rep->healthy = rep->started_voters = 0;
	for (size_t i = 0; i < rep->n; i++) {
		struct ep_member_health *m = &rep->v[i];
		for (size_t k = 0; k < rep->alarms.n; k++)
			if (rep->alarms.v[k].member_id == m->member.id &&
			    alarm_add(&m->alarms, &rep->alarms.v[k]) < 0)
				return -ENOMEM;
		if (m->status_ok && leader_index > m->status.raft_index)
			m->raft_lag = leader_index - m->status.raft_index;
		if (m->status_ok && !m->member.is_learner)
			rep->started_voters++;
		if (!m->status_ok || m->error) {
			if (!m->error)
				set_error(m, "no answer");
			continue;
		}
		if (!m->status.leader) {
			set_error(m, "member has no leader");
			continue;
		}
		if (rep->alarms.n) {
			char buf[600];
			snprintf(buf, sizeof(buf), "active alarm: %s", alarms_text);
			set_error(m, buf);
			continue;
		}
		if (m->status.errors.n) {
			char buf[600];
			snprintf(buf, sizeof(buf), "member reports: %s", m->status.errors.v[0]);
			set_error(m, buf);
			continue;
		}
		if (!m->read_ok) {
			set_error(m, "read not done before the deadline");
			continue;
		}
		m->healthy = true;
	}
	for (size_t i = 0; i < rep->n; i++)
		rep->healthy += rep->v[i].healthy;
	return 0;
}

int ep_health_probe(struct ep_client *c, const char *const *endpoints, size_t n,
		    uint64_t timeout_ms, unsigned flags, struct ep_health_report *ret,
		    struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	if (n == 0)
		return ep_error_usage(err, -EINVAL, "no endpoint to ask");
	_cleanup_free_ struct ep_error *errs = calloc(n, sizeof(*errs));
	if (!errs)
		return ep_error_set(err, -ENOMEM, "out of memory");

	uint64_t saved_timeout = ep_client_timeout(c);
	struct probe p = {
		.c = c,
		.rep = ret,
		.endpoints = endpoints,
		.n_endpoints = n,
		.list_errs = errs,
		.flags = flags,
		.started = ep_now_ms(),
	};
	p.deadline = p.started + timeout_ms;
	ep_client_set_timeout(c, timeout_ms);
	for (size_t i = 0; i < n; i++)
		if (ep_call_start(c, endpoints[i], "/v3/cluster/member/list", NULL, p.deadline,
				  list_done, &p, tag_make(TAG_LIST, i), &errs[i]) == 0)
			p.list_pending++;
	if (p.list_pending)
		ep_client_run(c, p.deadline);
	ep_client_set_timeout(c, saved_timeout);
	/* Status's failure explains best; a failed read comes second. */
	for (size_t i = 0; p.read_errs && i < ret->n; i++) {
		if (p.read_errs[i])
			set_error(&ret->v[i], p.read_errs[i]);
		free(p.read_errs[i]);
	}
	free(p.read_errs);

	if (p.r < 0) {
		ep_health_report_release(ret);
		return ep_error_set(err, p.r, "out of memory");
	}
	if (!p.have_list) {
		int code = errs[0].code ? errs[0].code : -EIO;
		char buf[EP_ERROR_MAX];
		size_t o = 0;
		buf[0] = '\0';
		for (size_t i = 0; i < n && o + 1 < sizeof(buf); i++) {
			int w = snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? "; " : "",
					 errs[i].msg[0] ? errs[i].msg : endpoints[i]);
			if (w > 0)
				o += (size_t)w;
		}
		ep_health_report_release(ret);
		return ep_error_set(err, code, "no endpoint answered: %s", buf);
	}
	for (size_t i = 0; i < n; i++)
		if (errs[i].msg[0] && ep_strv_push(&ret->list_errors, errs[i].msg) < 0)
			goto oom;
	if (report_judge(ret) < 0)
		goto oom;
	return 0;
oom:
	ep_health_report_release(ret);
	return ep_error_set(err, -ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* Quorum guards                                                             */

static bool voter_started(const struct ep_member_health *m)
{
	return !m->member.is_learner && m->started && m->status_ok;
}

/* "c2 (8e9e...: connection refused), ..." for the voters that are not started. */
static void voters_down(const struct ep_health_report *hr, size_t skip, char *buf, size_t size)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < hr->n && o + 1 < size; i++) {
		const struct ep_member_health *m = &hr->v[i];
		char hex[17];
		if (i == skip || m->member.is_learner || voter_started(m))
			continue;
		int w = snprintf(buf + o, size - o, "%s%s (%s)", o ? ", " : "",
				 m->member.name ? m->member.name : "unstarted",
				 ep_member_id_hex(m->member.id, hex));
		if (w > 0)
			o += (size_t)w;
	}
	if (!o)
		snprintf(buf, size, "none");
}

int ep_quorum_check_add(const struct ep_health_report *hr, bool learner, struct ep_error *err)
{
	char down[1024];
	size_t voters = 0, started = 0;

	if (learner)
		return 0;
	for (size_t i = 0; i < hr->n; i++) {
		if (hr->v[i].member.is_learner)
			continue;
		voters++;
		started += voter_started(&hr->v[i]);
	}
	size_t after = voters + 1, quorum = after / 2 + 1;
	if (started == 1 && after == 2)
		return 0; /* etcd allows growing a one-member cluster */
	if (started >= quorum)
		return 0;
	voters_down(hr, SIZE_MAX, down, sizeof(down));
	return ep_error_set(err, -EBUSY,
			    "adding a voting member would leave the cluster without quorum: %zu "
			    "voters + the new one need %zu started, but only %zu of %zu are started "
			    "(down: %s); bring them back or remove them first, or add the member "
			    "as a learner (--learner)",
			    voters, quorum, started, voters, down);
}

int ep_quorum_check_remove(const struct ep_health_report *hr, size_t idx, struct ep_error *err)
{
	char down[1024], hex[17];
	size_t voters = 0, started = 0;

	if (idx >= hr->n)
		return ep_error_set(err, -EINVAL, "no such member");
	const struct ep_member_health *target = &hr->v[idx];
	if (target->member.is_learner)
		return 0;
	for (size_t i = 0; i < hr->n; i++) {
		if (i == idx || hr->v[i].member.is_learner)
			continue;
		voters++;
		started += voter_started(&hr->v[i]);
	}
	const char *name = target->member.name ? target->member.name : "unstarted";
	ep_member_id_hex(target->member.id, hex);
	if (voters == 0)
		return ep_error_set(err, -EBUSY,
				    "member '%s' (%s) is the last voting member: removing it would "
				    "end the cluster; use 'etcdpilot reset' on its node instead",
				    name, hex);
	size_t quorum = voters / 2 + 1;
	if (started >= quorum)
		return 0;
	voters_down(hr, idx, down, sizeof(down));
	return ep_error_set(err, -EBUSY,
			    "removing member '%s' (%s) would leave the cluster without quorum: the "
			    "%zu remaining voters need %zu started, but only %zu %s (down: %s); "
			    "bring them back first",
			    name, hex, voters, quorum, started, started == 1 ? "is" : "are", down);
}
