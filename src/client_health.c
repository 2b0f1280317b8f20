/*
 * client_health.c - the health of a whole cluster, its members probed
 * together in one multi loop.
 *
 * This module owns the judgement "is this member healthy" and "does the
 * cluster have quorum".  A member is healthy when it started, answers
 * Status with a leader and no error or alarm, and serves a read
 * (linearizable on voters, serializable on learners, as the member list
 * says; permission denied counts as served, as in etcdctl).  Quorum is what
 * raft says through the members that answer - a leader agreed on and a
 * linearizable read served - never a count of client endpoints that
 * answered: a member whose endpoint fails (an expired serving certificate)
 * may still be a voter in good standing.  It asks the given endpoints for
 * the member list all at once, starts probing the moment the first list
 * arrives - Status and the read together, EP_HEALTH_PARALLEL members at a
 * time, on one connection per member where HTTP/2 lets them share it - and
 * keeps every call inside one deadline, so that a hung member costs the
 * deadline and nothing more, and a list of thousands costs no more memory
 * than a few members.  It does not print and does not retry.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client_internal.h"
#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

enum { TAG_LIST = 0, TAG_STATUS = 1, TAG_READ = 2 };

struct probe {
	struct ep_client *c;
	struct ep_health_report *rep;
	struct ep_error *list_errs;
	bool have_list;
	size_t pending;   /* member calls still running */
	size_t next;      /* the next member whose probe has not started */
	size_t inflight;  /* members with calls running */
	unsigned *calls;  /* per member: its calls still running */
	char **read_errs; /* per member: why the read failed (reported after Status's verdict) */
	unsigned flags;
	uint64_t deadline;
	uint64_t started;
	int r;            /* ENOMEM and the like */
};

const char *ep_quorum_name(enum ep_quorum q)
{
	switch (q) {
	case EP_QUORUM_HELD:
		return "held";
	case EP_QUORUM_LOST:
		return "lost";
	default:
		return "unknown";
	}
}

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
	free(hr->quorum_why);
	ep_alarm_list_release(&hr->alarms);
	ep_strv_release(&hr->list_errors);
	memset(hr, 0, sizeof(*hr));
}

/* The first problem explains best: later ones are dropped.  -ENOMEM or 0. */
static int set_error(struct ep_member_health *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int set_error(struct ep_member_health *m, const char *fmt, ...)
{
	if (m->error)
		return 0;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&m->error, fmt, ap) < 0)
		m->error = NULL;
	va_end(ap);
	return m->error ? 0 : -ENOMEM;
}

/* Tags: low 2 bits the kind, the rest the member index (or endpoint index). */
static size_t tag_make(int kind, size_t idx)
{
	return idx << 2 | (size_t)kind;
}

static void member_done(struct ep_call *call);

static bool start_member_call(struct probe *p, size_t i, int kind)
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
			return false;
		}
	}
	int r = ep_call_start(p->c, m->endpoint, rpc, body, p->deadline, member_done, p,
			      tag_make(kind, i), &err);
	if (r < 0) {
		if (kind == TAG_STATUS)
			m->status_code = r;
		if (set_error(m, "%s", err.msg) < 0)
			p->r = -ENOMEM;
		return false;
	}
	p->pending++;
	p->calls[i]++;
	return true;
}

/* Start the next members' probes while fewer than EP_HEALTH_PARALLEL run. */
static void pump(struct probe *p)
{
	struct ep_health_report *rep = p->rep;
	while (p->inflight < EP_HEALTH_PARALLEL && p->next < rep->n && p->r == 0 &&
	       ep_now_ms() < p->deadline) {
		size_t i = p->next++;
		struct ep_member_health *m = &rep->v[i];
		if (!m->endpoint)
			continue;
		m->probed = true;
		bool any = start_member_call(p, i, TAG_STATUS);
		if (!(p->flags & EP_HEALTH_STATUS_ONLY))
			any |= start_member_call(p, i, TAG_READ);
		p->inflight += any;
	}
	if (p->have_list && p->pending == 0)
		ep_client_stop(p->c);
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
			m->status_code = call->r;
			if (set_error(m, "%s", call->err.msg) < 0)
				p->r = -ENOMEM;
		} else {
			struct ep_error err = { 0 };
			if (ep_decode_status(call->obj, &m->status, &err) < 0) {
				m->status_code = -EPROTO;
				if (set_error(m, "%s: unexpected status answer: %s", m->endpoint,
					      err.msg) < 0)
					p->r = -ENOMEM;
			} else {
				m->status_ok = true;
				m->reachable = true;
			}
		}
	} else if (kind == TAG_READ) {
		m->read_done = true;
		if (call->r == 0 || call->r == -EACCES) {
			m->read_ok = true; /* permission denied went through consensus: fine */
		} else {
			m->read_code = call->r;
			if (!p->read_errs[i] && asprintf(&p->read_errs[i], "read failed: %s",
							 call->err.msg) < 0) {
				p->read_errs[i] = NULL;
				p->r = -ENOMEM;
			}
		}
	}
	if (--p->calls[i] == 0)
		p->inflight--;
	pump(p);
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
		if (m->started && !(m->endpoint = strdup(m->member.client_urls.v[0])))
			return -ENOMEM;
	}
	return 0;
}

static void list_done(struct ep_call *call)
{
	struct probe *p = call->userdata;
	size_t e = call->tag >> 2;
	struct ep_member_list ml;

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
		return;
	}
	if (ep_decode_member_list(call->obj, &ml, &p->list_errs[e]) < 0) {
		ep_error_prefix(&p->list_errs[e], "%s: unexpected member list", call->endpoint);
		return;
	}
	p->have_list = true;
	p->rep->list_endpoint = strdup(call->endpoint);
	int r = report_members(p, &ml);
	ep_member_list_release(&ml);
	size_t n = p->rep->n ? p->rep->n : 1;
	if (r < 0 || !p->rep->list_endpoint || !(p->read_errs = calloc(n, sizeof(char *))) ||
	    !(p->calls = calloc(n, sizeof(unsigned)))) {
		p->r = -ENOMEM;
		ep_client_stop(p->c);
		return;
	}
	pump(p);
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

/* A read refused because a new leader was just elected: raft is busy, not broken. */
static bool read_election(const struct ep_member_health *m)
{
	return m->read_code == -EAGAIN && m->error && strstr(m->error, "leader changed");
}

/* A read that failed because raft could not serve it: no leader, no quorum in time. */
static bool read_starved(const struct ep_member_health *m)
{
	return m->read_code == -ETIMEDOUT || (m->read_code == -EAGAIN && !read_election(m));
}

/*
 * Quorum from the members that answered, with a one-line reason.  Runs
 * before the verdicts: m->error of a member that answered Status is still
 * its failed read's.  -ENOMEM or 0.
 */
static int judge_quorum(struct ep_health_report *rep)
{
	size_t answered = 0, reads_ok = 0, reads_starved = 0, reads_done = 0, elections = 0;
	for (size_t i = 0; i < rep->n; i++) {
		const struct ep_member_health *m = &rep->v[i];
		answered += m->status_ok;
		if (m->member.is_learner || !m->status_ok)
			continue;
		reads_done += m->read_done;
		reads_ok += m->read_ok;
		if (m->read_done && !m->read_ok) {
			reads_starved += read_starved(m);
			elections += read_election(m);
		}
	}
	const char *why;
	if (!answered) {
		rep->quorum = EP_QUORUM_UNKNOWN;
		why = "no member answered Status";
	} else if (!rep->leader) {
		rep->quorum = EP_QUORUM_LOST;
		why = "no member that answers has a leader";
	} else if (reads_ok) {
		rep->quorum = EP_QUORUM_HELD;
		why = "leader agreed on, a linearizable read served";
	} else if (elections) {
		rep->quorum = EP_QUORUM_UNKNOWN;
		why = "a new leader is being elected (reads refused: leader changed); ask again";
	} else if (reads_done && reads_starved == reads_done) {
		rep->quorum = EP_QUORUM_LOST;
		why = "a leader is named, but the linearizable read timed out on every voter that "
		      "answers";
	} else {
		rep->quorum = EP_QUORUM_UNKNOWN;
		why = reads_done ? "no linearizable read was served (see the members' errors)"
				 : "no linearizable read completed";
	}
	free(rep->quorum_why);
	rep->quorum_why = strdup(why);
	return rep->quorum_why ? 0 : -ENOMEM;
}

/* "s1" or "<unstarted 8e9e...>" for the member with @id; "member <hex>" when not listed. */
static void member_label(const struct ep_health_report *rep, uint64_t id, char *buf, size_t size)
{
	char hex[17];
	for (size_t i = 0; i < rep->n; i++)
		if (rep->v[i].member.id == id) {
			snprintf(buf, size, "%s", rep->v[i].member.name ? rep->v[i].member.name
									 : "an unstarted member");
			return;
		}
	snprintf(buf, size, "member %s", ep_member_id_hex(id, hex));
}

int ep_health_judge(struct ep_health_report *rep)
{
	/* The leader most members name. */
	size_t best_votes = 0;
	rep->leader = 0;
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
	if (judge_quorum(rep) < 0)
		return -ENOMEM;

	rep->healthy = rep->started_voters = rep->pending_learners = rep->not_probed = 0;
	for (size_t i = 0; i < rep->n; i++) {
		struct ep_member_health *m = &rep->v[i];
		int r = 0;
		/* Of a member that answered Status, the probe left only a failed read's error. */
		_cleanup_free_ char *read_err = m->status_ok ? TAKE_PTR(m->error) : NULL;
		m->healthy = m->pending_learner = false;
		for (size_t k = 0; k < rep->alarms.n; k++)
			if (rep->alarms.v[k].member_id == m->member.id &&
			    alarm_add(&m->alarms, &rep->alarms.v[k]) < 0)
				return -ENOMEM;
		if (m->status_ok && leader_index > m->status.raft_index)
			m->raft_lag = leader_index - m->status.raft_index;
		if (m->status_ok && !m->member.is_learner)
			rep->started_voters++;
		if (!m->started && m->member.is_learner) {
			m->pending_learner = true;
			rep->pending_learners++;
			r = set_error(m, "learner, not started yet (added with 'member add --learner': "
					 "start etcd on its node with the ETCD_* settings 'member "
					 "add' printed; left by an 'etcdpilot join' that did not "
					 "finish: run 'etcdpilot join --resume' or 'etcdpilot join "
					 "--rollback' on its node)");
		} else if (!m->started) {
			r = set_error(m, "voter, not started yet (added, but never joined: no name and "
					 "no client URLs); it counts toward quorum while it is down: "
					 "start it, or remove it with 'etcdpilot member remove %" PRIx64
					 "'",
				      m->member.id);
		} else if (!m->probed) {
			rep->not_probed++;
			r = set_error(m, "not probed: the deadline came before its turn (%d members "
					 "are probed at a time)",
				      EP_HEALTH_PARALLEL);
		} else if (!m->status_ok) {
			if (m->error && m->status_code != -EPROTO) {
				char *why = m->error;
				m->error = NULL;
				r = set_error(m, "unreachable from here: %s", why);
				free(why);
			}
			if (r == 0)
				r = set_error(m, "no answer");
		} else if (!m->status.leader) {
			r = set_error(m, "member has no leader");
		} else if (m->alarms.n) {
			r = set_error(m, "alarm %s raised by this member (see the alarm below)",
				      ep_alarm_name(m->alarms.v[0].alarm));
		} else if (rep->alarms.n) {
			char who[80];
			member_label(rep, rep->alarms.v[0].member_id, who, sizeof(who));
			r = set_error(m, "the cluster has an active alarm (%s on %s; see below)",
				      ep_alarm_name(rep->alarms.v[0].alarm), who);
		} else if (m->status.errors.n) {
			r = set_error(m, "member reports: %s", m->status.errors.v[0]);
		} else if (read_err) {
			m->error = TAKE_PTR(read_err);
		} else if (!m->read_ok) {
			r = set_error(m, "read not done before the deadline");
		} else {
			m->healthy = true;
		}
		if (r < 0)
			return -ENOMEM;
		rep->healthy += m->healthy;
	}
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
		.list_errs = errs,
		.flags = flags,
		.started = ep_now_ms(),
	};
	size_t list_calls = 0;
	p.deadline = p.started + timeout_ms;
	ep_client_set_timeout(c, timeout_ms);
	for (size_t i = 0; i < n; i++)
		list_calls += ep_call_start(c, endpoints[i], "/v3/cluster/member/list", NULL,
					    p.deadline, list_done, &p, tag_make(TAG_LIST, i),
					    &errs[i]) == 0;
	if (list_calls)
		ep_client_run(c, p.deadline);
	ep_client_set_timeout(c, saved_timeout);
	/* Status's failure explains best; a failed read comes second. */
	for (size_t i = 0; p.read_errs && i < ret->n; i++) {
		if (p.read_errs[i] && !ret->v[i].error &&
		    !(ret->v[i].error = strdup(p.read_errs[i])))
			p.r = -ENOMEM;
		free(p.read_errs[i]);
	}
	free(p.read_errs);
	free(p.calls);

	if (p.r < 0) {
		ep_health_report_release(ret);
		return ep_error_set(err, p.r, "out of memory");
	}
	if (!p.have_list) {
		ep_health_report_release(ret);
		return ep_errors_join(err, errs, endpoints, n);
	}
	for (size_t i = 0; i < n; i++)
		if (errs[i].msg[0] && ep_strv_push(&ret->list_errors, errs[i].msg) < 0)
			goto oom;
	if (ep_health_judge(ret) < 0)
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

/* "c2 (8e9e...), ..." for the voters that are not started; heap, NULL on ENOMEM. */
static char *voters_down(const struct ep_health_report *hr, size_t skip)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	for (size_t i = 0; i < hr->n; i++) {
		const struct ep_member_health *m = &hr->v[i];
		char hex[17];
		if (i == skip || m->member.is_learner || voter_started(m))
			continue;
		ep_strbuf_addf(&sb, "%s%s (%s)", sb.len ? ", " : "",
			       m->member.name ? m->member.name : "unstarted",
			       ep_member_id_hex(m->member.id, hex));
	}
	if (!sb.len)
		ep_strbuf_adds(&sb, "none");
	return ep_strbuf_detach(&sb, NULL);
}

int ep_quorum_check_add(const struct ep_health_report *hr, bool learner, struct ep_error *err)
{
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
	_cleanup_free_ char *down = voters_down(hr, SIZE_MAX);
	if (!down)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return ep_error_set(err, -EBUSY,
			    "adding a voting member would leave the cluster without quorum: %zu "
			    "voters + the new one need %zu started, but only %zu of %zu are started "
			    "(down: %s); bring them back or remove them first, or add the member "
			    "as a learner (--learner)",
			    voters, quorum, started, voters, down);
}

int ep_quorum_check_remove(const struct ep_health_report *hr, size_t idx, struct ep_error *err)
{
	char hex[17];
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
	/* A cluster without quorum now commits no removal, not even of a dead voter. */
	size_t now_started = started + voter_started(target);
	if (now_started < (voters + 1) / 2 + 1) {
		_cleanup_free_ char *all_down = voters_down(hr, SIZE_MAX);
		if (!all_down)
			return ep_error_set(err, -ENOMEM, "out of memory");
		return ep_error_set(err, -EBUSY,
				    "the cluster has lost its quorum: only %zu of its %zu voters %s "
				    "started (down: %s), so it commits no membership change, not "
				    "even the removal of member '%s' (%s); bring enough of them back "
				    "first; if they are gone for good, the cluster has to be rebuilt "
				    "from a snapshot or a member's data (etcd's disaster recovery: "
				    "'etcdctl snapshot restore')",
				    now_started, voters + 1, now_started == 1 ? "is" : "are", all_down,
				    name, hex);
	}
	size_t quorum = voters / 2 + 1;
	if (started >= quorum)
		return 0;
	_cleanup_free_ char *down = voters_down(hr, idx);
	if (!down)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return ep_error_set(err, -EBUSY,
			    "removing member '%s' (%s) would leave the cluster without quorum: the "
			    "%zu remaining voters need %zu started, but only %zu %s (down: %s); "
			    "bring them back first",
			    name, hex, voters, quorum, started, started == 1 ? "is" : "are", down);
}
