/*
 * workflow_convert.c - the phases of `etcdpilot convert --to MODE`: the
 * member running on this node moves, in place, between a systemd unit and
 * a kubeadm static pod - the same member ID, the same data, no lost write:
 *
 *   preflight  root; the member read back from the runtime it leaves (the
 *              unit with its environment files, or the manifest); nothing
 *              of the target in the way; the cluster probed: this member
 *              found by its peer URL, every other member healthy, the
 *              quorum kept while this one restarts (else --allow-downtime,
 *              and the downtime is measured); the translation (convert.h);
 *   install    (to systemd) a verified etcd of the member's version, as
 *              systemd mode installs it;
 *   certs      (to a static pod) the TLS files copied into kubeadm's
 *              layout, the healthcheck-client pair when the CA key is here;
 *   snapshot   a verified snapshot of the member into the backup directory;
 *   stop       to a static pod: systemctl stop, disable, the unit file
 *              moved aside (kept), mask - in that order (mask needs the
 *              file gone); to systemd: the manifest moved aside (kept until
 *              the run succeeds), then wait until the pod has stopped;
 *   start      the manifest written; or unmask, the unit and its
 *              environment written, daemon-reload, enable --now;
 *   wait       the SAME member ID healthy, serving linearizable reads and
 *              caught up with the leader; the downtime said.
 *
 * Every step is an action with an undo (plan.h): a failure before the
 * member is back restores the old runtime and starts it again; the journal
 * makes a killed run resumable or reversible.  Phases only look and add
 * actions; never prints.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "actions_internal.h"
#include "plan_internal.h"
#include "etcdpilot/convert.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/membership.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/systemctl.h"
#include "etcdpilot/unit.h"
#include "etcdpilot/workflow.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"
#include "workflow_internal.h"

#define PROBE_MS 8000
/* "caught up": within this many raft entries of the leader */
#define MAX_LAG 100

static bool to_pod(const struct ep_wf *wf)
{
	return wf->spec->mode == EP_MODE_STATIC_POD;
}

static int note(struct ep_wf *wf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int note(struct ep_wf *wf, const char *fmt, ...)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	ep_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	int r = ep_strbuf_oom(&sb) ? -ENOMEM : ep_strv_push(&wf->notes, ep_strbuf_str(&sb));
	ep_strbuf_release(&sb);
	return r;
}

static const char *unit_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static void utc_stamp(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y%m%dT%H%M%SZ", &tm);
}

static int push_list(struct ep_strv *sv, const char *list)
{
	for (const char *p = list ? list : ""; *p;) {
		size_t n = strcspn(p, ",");
		_cleanup_free_ char *u = strndup(p, n);
		p += n + (p[n] == ',');
		if (!u)
			return -ENOMEM;
		if (strncmp(u, "https://0.0.0.0", 15) && strncmp(u, "https://[::]", 12) &&
		    !ep_strv_contains(sv, u) && ep_strv_push(sv, u) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The member's own client URL on this node: a loopback one it listens on, else the first. */
static char *local_url(const struct ep_member_desc *d)
{
	struct ep_strv v = { 0 };
	char *out = NULL;
	if (push_list(&v, ep_member_flag_get(d, "listen-client-urls")) < 0 ||
	    push_list(&v, ep_member_flag_get(d, "advertise-client-urls")) < 0)
		goto out;
	for (size_t i = 0; !out && i < v.n; i++)
		if (strstr(v.v[i], "://127.") || strstr(v.v[i], "://[::1]") ||
		    strstr(v.v[i], "://localhost"))
			out = strdup(v.v[i]);
	if (!out && v.n)
		out = strdup(v.v[0]);
out:
	ep_strv_release(&v);
	return out;
}

/* ---- which client pair talks to the cluster ---------------------------------------- */

struct client_pair {
	char *ca, *cert, *key;
	bool node_paths;
	const char *what;
};

static int try_pair(const struct ep_wf *wf, struct client_pair *p, const char *ca,
		    const char *cert, const char *key, const char *what)
{
	if (!ca || !cert || !key || !ep_root_exists(wf->root, ca) ||
	    !ep_root_exists(wf->root, cert) || !ep_root_exists(wf->root, key))
		return 0;
	if (!(p->ca = strdup(ca)) || !(p->cert = strdup(cert)) || !(p->key = strdup(key)))
		return -ENOMEM;
	p->node_paths = true;
	p->what = what;
	return 1;
}

static const char *env_get(const struct ep_member_desc *d, const char *name)
{
	for (size_t i = d->nenv; i-- > 0;)
		if (!strcmp(d->env[i].name, name))
			return d->env[i].value;
	return NULL;
}

/*
 * --cacert/--cert/--key; else the node's: kubeadm's healthcheck-client, the
 * ETCDCTL_* pair of the member's environment (kubespray's admin pair),
 * etcdadm's etcdctl client, and last the member's own server pair (a
 * server certificate with clientAuth, as the Hard Way's).
 */
static int pick_client(const struct ep_wf *wf, const struct ep_member_desc *d,
		       struct client_pair *p, struct ep_error *err)
{
	if (wf->cacert) {
		if (!(p->ca = strdup(wf->cacert)) || !(p->cert = strdup(wf->cert)) ||
		    !(p->key = strdup(wf->key)))
			return ep_error_set(err, -ENOMEM, "out of memory");
		p->what = "--cacert/--cert/--key";
		return 0;
	}
	const char *ca = ep_member_flag_get(d, "trusted-ca-file");
	_cleanup_free_ char *hc = NULL, *hk = NULL, *kca = NULL, *ec = NULL, *ek = NULL;
	const char *cd = d->spec.cert_dir ? d->spec.cert_dir : wf->spec->cert_dir;
	_cleanup_free_ char *dir = ca ? ep_path_dirname(ca) : NULL;
	if (asprintf(&kca, "%s/etcd/ca.crt", cd) < 0 ||
	    asprintf(&hc, "%s/etcd/healthcheck-client.crt", cd) < 0 ||
	    asprintf(&hk, "%s/etcd/healthcheck-client.key", cd) < 0 ||
	    asprintf(&ec, "%s/etcdctl-etcd-client.crt", dir ? dir : "/etc/etcd/pki") < 0 ||
	    asprintf(&ek, "%s/etcdctl-etcd-client.key", dir ? dir : "/etc/etcd/pki") < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	int r = try_pair(wf, p, kca, hc, hk, "the healthcheck-client pair");
	if (!r)
		r = try_pair(wf, p, env_get(d, "ETCDCTL_CACERT"), env_get(d, "ETCDCTL_CERT"),
			     env_get(d, "ETCDCTL_KEY"), "the ETCDCTL_* pair of the member's "
							"environment");
	if (!r)
		r = try_pair(wf, p, ca, ec, ek, "etcdadm's etcdctl client pair");
	if (!r)
		r = try_pair(wf, p, ca, ep_member_flag_get(d, "cert-file"),
			     ep_member_flag_get(d, "key-file"), "the member's own server pair");
	if (r < 0)
		return ep_error_set(err, r, "out of memory");
	if (!r)
		return ep_error_usage(err, -ENOENT,
				      "no client certificate to reach the cluster with was found on "
				      "this node (looked for %s, the ETCDCTL_* pair, %s and the "
				      "member's server pair); nothing was changed: pass --cacert, "
				      "--cert and --key", hc, ec);
	return 0;
}

/* ---- preflight --------------------------------------------------------------------- */

static int probe_cluster(struct ep_wf *wf, const struct ep_member_desc *d, const json_t *cj,
			 struct ep_health_report *hr, size_t *ret_me, struct ep_error *err)
{
	struct ep_conn c = { 0 };
	struct ep_error perr = { 0 };
	uint64_t left = ep_ms_left(wf->deadline_ms);
	uint64_t t = left < PROBE_MS ? left : PROBE_MS;
	int r = ep_conn_open(wf->root, cj, NULL, ep_now_ms() + t, NULL, NULL, &c, &perr);
	if (r >= 0)
		r = ep_health_probe(c.client, c.ca.endpoints, c.ca.n_endpoints, t, 0, hr, &perr);
	ep_conn_close(&c);
	if (r < 0)
		return ep_error_set(err, r, "[preflight] the cluster cannot be reached (%s); "
					    "nothing was changed", perr.msg);
	struct ep_strv mine = { 0 };
	if (push_list(&mine, d->initial_advertise_peer_urls) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	*ret_me = SIZE_MAX;
	for (size_t i = 0; i < hr->n && *ret_me == SIZE_MAX; i++)
		for (size_t k = 0; k < mine.n; k++)
			if (ep_strv_contains(&hr->v[i].member.peer_urls, mine.v[k]))
				*ret_me = i;
	ep_strv_release(&mine);
	if (*ret_me == SIZE_MAX)
		return ep_error_usage(err, -ENOENT,
				      "[preflight] member '%s' (peer URL %s, %s) is not in its "
				      "cluster's member list: there is no member to convert; nothing "
				      "was changed",
				      d->spec.name ? d->spec.name : "?",
				      d->initial_advertise_peer_urls ? d->initial_advertise_peer_urls
								     : "?",
				      d->source);
	return 0;
}

/* Every other member healthy; the quorum kept while this one is down (else --allow-downtime). */
static int quorum_guard(struct ep_wf *wf, const struct ep_health_report *hr, size_t me,
			struct ep_error *err)
{
	size_t voters = 0, up = 0;
	for (size_t i = 0; i < hr->n; i++) {
		const struct ep_member_health *m = &hr->v[i];
		if (m->member.is_learner)
			continue;
		voters++;
		if (i != me && m->healthy)
			up++;
		if (i != me && !m->healthy)
			ep_wf_say(wf, "[preflight] WARNING: member '%s' is not healthy: %s",
				  m->member.name ? m->member.name : "?", m->error ? m->error : "?");
	}
	if (me < hr->n && !hr->v[me].healthy)
		return ep_error_usage(err, -EHOSTDOWN,
				      "[preflight] this node's member is not healthy (%s): a "
				      "conversion moves a running, healthy member; nothing was "
				      "changed: mend it first ('etcdpilot health')",
				      hr->v[me].error ? hr->v[me].error : "?");
	size_t quorum = voters / 2 + 1;
	if (up >= quorum) {
		ep_wf_say(wf, "[preflight] %zu of the other voters are healthy: the cluster keeps "
			      "its quorum (%zu of %zu) while this member restarts", up, quorum, voters);
		return 0;
	}
	if (!wf->allow_downtime)
		return ep_error_usage(err, -EBUSY,
				      "[preflight] without this member the cluster has %zu healthy "
				      "voter%s of the %zu its quorum needs (%zu voters): the "
				      "restart would stop the cluster; nothing was changed: mend "
				      "the other members, or pass --allow-downtime to accept the "
				      "downtime (it is measured and reported)",
				      up, up == 1 ? "" : "s", quorum, voters);
	ep_wf_say(wf, "[preflight] WARNING: --allow-downtime: the cluster loses its quorum while "
		      "this member restarts (%zu other healthy voter%s, quorum %zu of %zu)", up,
		  up == 1 ? "" : "s", quorum, voters);
	return note(wf, "the cluster was without quorum while this member restarted "
			"(--allow-downtime); the downtime is the [wait] line above") < 0
		   ? ep_error_set(err, -ENOMEM, "out of memory")
		   : 0;
}

/* Move the translation @t into @cv (its workflow fields stay). */
static void take_translation(struct ep_convert *cv, struct ep_convert *t)
{
	cv->spec = t->spec;
	cv->initial_cluster = t->initial_cluster;
	cv->copies = t->copies;
	cv->ncopies = t->ncopies;
	cv->ca_key = t->ca_key;
	cv->make_healthcheck = t->make_healthcheck;
	cv->notes = t->notes;
	cv->installer = t->installer;
	memset(t, 0, sizeof(*t));
}

static json_t *cluster_of(const struct ep_convert *cv)
{
	return ep_cluster_json(&cv->client_urls, cv->client_ca, cv->client_cert, cv->client_key,
			       cv->client_node_paths);
}

static int preflight_plan(struct ep_wf *wf, struct ep_error *err)
{
	ep_wf_say(wf, "[preflight] Running pre-flight checks");
	if (!wf->convert && !(wf->convert = calloc(1, sizeof(*wf->convert))))
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct ep_convert *cv = wf->convert;
	if (ep_root_is_real(wf->root) && geteuid() != 0 &&
	    ep_wf_check_fail(wf, "IsPrivilegedUser", -EPERM,
			     "this must run as root: it stops a service and writes under /etc; run "
			     "it with sudo, or pass --root DIR to work on a directory tree") < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	enum ep_mode from = to_pod(wf) ? EP_MODE_SYSTEMD : EP_MODE_STATIC_POD;
	const struct ep_runtime_ops *src = ep_runtime_get(from);
	struct ep_runtime_ctx sctx = wf->rtctx;
	struct ep_error rerr = { 0 };
	int r = src->read_back(&sctx, &wf->installed, &rerr);
	if (r == -ENOENT)
		return ep_error_usage(err, r, "[preflight] there is no %s etcd member on this node "
					      "to convert (%s); nothing was changed",
				      to_pod(wf) ? "systemd" : "static pod", rerr.msg);
	if (r < 0)
		return ep_error_usage(err, r, "[preflight] the %s member cannot be read back: %s; "
					      "nothing was changed",
				      to_pod(wf) ? "systemd" : "static pod", rerr.msg);
	wf->have_installed = true;
	const struct ep_member_desc *d = &wf->installed;
	ep_wf_say(wf, "[preflight] This node runs member '%s' (peer URL %s, data dir %s) as %s "
		      "(%s, etcd %s)",
		  d->spec.name ? d->spec.name : "?",
		  d->initial_advertise_peer_urls ? d->initial_advertise_peer_urls : "?",
		  d->spec.data_dir ? d->spec.data_dir : "?",
		  to_pod(wf) ? "a systemd service" : "a static pod", d->source,
		  d->version ? d->version : "?");
	if (asprintf(&cv->manifest_path, "%s/etcd.yaml", wf->spec->manifest_dir) < 0 ||
	    !(cv->unit_path = strdup(d->spec.systemd.unit_path ? d->spec.systemd.unit_path
								 : wf->spec->systemd.unit_path)))
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct stat st;
	if (to_pod(wf) && ep_root_exists(wf->root, cv->manifest_path))
		return ep_error_usage(err, -EEXIST,
				      "[preflight] %s already exists: this node runs etcd as a static "
				      "pod too; nothing was changed: remove one of the two first",
				      cv->manifest_path);
	if (!to_pod(wf) && ep_root_lstat(wf->root, cv->unit_path, &st) == 0 &&
	    !S_ISLNK(st.st_mode))
		return ep_error_usage(err, -EEXIST,
				      "[preflight] %s already exists: this node has an etcd unit "
				      "too; nothing was changed: move it away first",
				      cv->unit_path);
	if (to_pod(wf)) {
		struct ep_systemctl sc = { .program = wf->systemctl, .root = wf->root,
					   .timeout_ms = 10000 };
		char state[32] = "";
		bool active = false;
		if ((r = ep_systemctl_is_active(&sc, unit_name(cv->unit_path), &active, state,
						err)) < 0)
			return r;
		if (!active)
			return ep_error_usage(err, -ESRCH,
					      "[preflight] %s is not running (%s): convert moves a "
					      "running member; nothing was changed: start it first",
					      unit_name(cv->unit_path), state);
	}

	/* the cluster, as it is now */
	struct client_pair pair = { 0 };
	if ((r = pick_client(wf, d, &pair, err)) < 0)
		return r;
	cv->client_ca = pair.ca, cv->client_cert = pair.cert, cv->client_key = pair.key;
	cv->client_node_paths = pair.node_paths;
	cv->client_what = pair.what;
	if (!(cv->local_url = local_url(d)))
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct ep_strv eps = { 0 };
	if (wf->endpoints && wf->endpoints->n) {
		for (size_t i = 0; i < wf->endpoints->n; i++)
			if (ep_strv_push(&eps, wf->endpoints->v[i]) < 0)
				r = -ENOMEM;
	} else if (ep_strv_push(&eps, cv->local_url) < 0 ||
		   push_list(&eps, ep_member_flag_get(d, "advertise-client-urls")) < 0) {
		r = -ENOMEM;
	}
	json_t *cj0 = r < 0 ? NULL
			    : ep_cluster_json(&eps, cv->client_ca, cv->client_cert, cv->client_key,
					      cv->client_node_paths);
	ep_strv_release(&eps);
	if (!cj0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct ep_health_report hr = { 0 };
	size_t me = SIZE_MAX;
	r = probe_cluster(wf, d, cj0, &hr, &me, err);
	json_decref(cj0);
	if (r >= 0) {
		ep_member_id_hex(hr.v[me].member.id, cv->member_id);
		ep_wf_say(wf, "[preflight] Member '%s' is %s in cluster %s (%zu members; asked "
			      "with %s)", d->spec.name ? d->spec.name : "?", cv->member_id,
			  hr.list_endpoint ? hr.list_endpoint : "?", hr.n, cv->client_what);
		r = quorum_guard(wf, &hr, me, err);
	}
	/* the live member list: peers for --initial-cluster, every client URL for the waits */
	struct ep_convert_peer *peers = r >= 0 ? calloc(hr.n + 1, sizeof(*peers)) : NULL;
	struct ep_strv urls = { 0 }, all = { 0 };
	if (r >= 0 && !peers)
		r = ep_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; r >= 0 && i < hr.n; i++) {
		struct ep_strbuf sb = EP_STRBUF_INIT;
		for (size_t k = 0; k < hr.v[i].member.peer_urls.n; k++)
			ep_strbuf_addf(&sb, "%s%s", k ? "," : "", hr.v[i].member.peer_urls.v[k]);
		if (ep_strbuf_oom(&sb) || ep_strv_push(&urls, ep_strbuf_str(&sb)) < 0)
			r = ep_error_set(err, -ENOMEM, "out of memory");
		ep_strbuf_release(&sb);
		for (size_t k = 0; r >= 0 && k < hr.v[i].member.client_urls.n; k++)
			if (push_list(&all, hr.v[i].member.client_urls.v[k]) < 0)
				r = ep_error_set(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; r >= 0 && i < hr.n; i++)
		peers[i] = (struct ep_convert_peer){ hr.v[i].member.name, urls.v[i] };
	struct ep_convert t = { 0 };
	if (r >= 0) {
		r = to_pod(wf) ? ep_convert_to_static_pod(d, wf->spec, peers, hr.n, wf->root, &t,
							  err)
			       : ep_convert_to_systemd(d, wf->spec, peers, hr.n, &t, err);
		if (r < 0)
			ep_error_prefix(err, "[preflight]");
		else
			take_translation(cv, &t);
	}
	if (r >= 0 && !ep_strv_contains(&all, cv->local_url) &&
	    ep_strv_push(&all, cv->local_url) < 0)
		r = ep_error_set(err, -ENOMEM, "out of memory");
	if (r >= 0) {
		ep_strv_release(&cv->client_urls);
		cv->client_urls = all;
		memset(&all, 0, sizeof(all));
	}
	free(peers);
	ep_strv_release(&urls);
	ep_strv_release(&all);
	ep_health_report_release(&hr);
	if (r < 0)
		return r;
	/* the phases after this one (and the run's diagnosis) see the member's own spec */
	enum ep_mode target = wf->spec->mode;
	ep_spec_release(wf->spec);
	if (ep_spec_copy(wf->spec, &cv->spec) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	wf->spec->mode = target;
	/* what pointed into the old spec points into the new one */
	if (wf->systemctl)
		wf->systemctl = wf->spec->systemd.systemctl;
	wf->rtctx.spec = wf->spec;
	wf->rtctx.systemctl = wf->systemctl;
	for (size_t i = 0; i < cv->notes.n; i++)
		ep_wf_say(wf, "[preflight] %s", cv->notes.v[i]);
	return 0;
}

static const struct ep_phase preflight_phase = {
	.name = "preflight",
	.help = "read the member back, probe the cluster (quorum without it), translate it",
	.modes = EP_PHASE_ANY,
	.plan = preflight_plan,
};

static int install_plan(struct ep_wf *wf, struct ep_error *err)
{
	return ep_wf_install_plan(wf, err);
}

static const struct ep_phase install_phase = {
	.name = "install",
	.help = "a verified etcd of the member's version in the bin dir (as systemd mode)",
	.modes = EP_PHASE_SYSTEMD,
	.plan = install_plan,
};

/* ---- certs (to a static pod) ---------------------------------------------------------- */

static int certs_plan(struct ep_wf *wf, struct ep_error *err)
{
	const struct ep_convert *cv = wf->convert;
	int r = 0;
	for (size_t i = 0; r >= 0 && i < cv->ncopies; i++) {
		if (cv->copies[i].same)
			continue;
		char m[8];
		snprintf(m, sizeof(m), "%04o", cv->copies[i].mode);
		r = ep_plan_add(wf->plan, "certs", "convert.copy",
				json_pack("{s:s, s:s, s:s}", "from", cv->copies[i].from, "to",
					  cv->copies[i].to, "mode", m),
				"kubeadm's layout; the original stays", err);
	}
	if (r >= 0 && cv->make_healthcheck)
		r = ep_plan_add(wf->plan, "certs", "pki.ensure",
				json_pack("{s:[s], s:s}", "pairs", "etcd-healthcheck-client",
					  "cert_dir", wf->spec->cert_dir),
				"kubeadm's client pair for health checks, from the CA key", err);
	return r < 0 ? r : 0;
}

static const struct ep_phase certs_phase = {
	.name = "certs",
	.help = "copy the TLS files into kubeadm's layout; a healthcheck-client pair from the CA key",
	.modes = EP_PHASE_STATIC_POD,
	.plan = certs_plan,
};

/* ---- snapshot ------------------------------------------------------------------------- */

static int snapshot_plan(struct ep_wf *wf, struct ep_error *err)
{
	const struct ep_convert *cv = wf->convert;
	const char *dir = wf->backup_dir ? wf->backup_dir : wf->spec->op.backup_dir;
	char ts[32];
	utc_stamp(ts, sizeof(ts));
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/convert-%s-%s.db", dir, wf->spec->name, ts) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	/* a backup is never replaced: a run within the same second as the last one takes -2, -3 ... */
	for (unsigned n = 2; ep_root_exists(wf->root, path); n++) {
		free(path);
		path = NULL;
		if (n > 1000)
			return ep_error_set(err, -EEXIST, "%s/convert-%s-%s*.db: a thousand backups "
							  "of this second already exist",
					    dir, wf->spec->name, ts);
		if (asprintf(&path, "%s/convert-%s-%s-%u.db", dir, wf->spec->name, ts, n) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
	}
	int r = 0;
	if (!ep_root_exists(wf->root, dir))
		r = ep_plan_add_dir_create(wf->plan, "snapshot", dir, 0700, "the backups' directory",
					   err);
	if (r >= 0 && !cv->client_node_paths && !ep_root_is_real(wf->root))
		return ep_error_usage(err, -EINVAL, "--cacert/--cert/--key with --root: the snapshot "
						    "is taken with node files; leave them out");
	if (r >= 0)
		r = ep_plan_add(wf->plan, "snapshot", "snapshot.save",
				json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "endpoint", cv->local_url,
					  "cacert", cv->client_ca, "cert", cv->client_cert, "key",
					  cv->client_key, "path", path, "timeout_ms",
					  (json_int_t)wf->spec->timeout_ms),
				"a verified backup of the member before it moves", err);
	if (r >= 0 && note(wf, "a verified snapshot of the member was saved to %s", path) < 0)
		r = ep_error_set(err, -ENOMEM, "out of memory");
	return r < 0 ? r : 0;
}

static const struct ep_phase snapshot_phase = {
	.name = "snapshot",
	.help = "a verified snapshot of the member into the backup directory",
	.modes = EP_PHASE_ANY,
	.plan = snapshot_plan,
};

/* ---- stop ----------------------------------------------------------------------------- */

/*
 * To systemd: the unit and its environment written, unmasked and loaded
 * while the pod still serves - a unit that is neither enabled nor started
 * does nothing - so that the member's downtime holds only the pod's stop
 * and the unit's start.
 */
static int prepare_unit(struct ep_wf *wf, struct ep_error *err)
{
	struct ep_convert *cv = wf->convert;
	int r;
	struct ep_runtime_files files = { 0 };
	const struct ep_runtime_ops *sd = ep_runtime_get(EP_MODE_SYSTEMD);
	struct ep_runtime_ctx ctx = wf->rtctx;
	ctx.spec = wf->spec;
	if ((r = sd->render(&ctx, &cv->initial_cluster, &files, err)) < 0)
		return r;
	r = ep_plan_add_systemd(wf->plan, "stop", "unmask", unit_name(cv->unit_path),
				"a unit masked by an earlier conversion", err);
	for (size_t i = 0; r >= 0 && i < files.n; i++) {
		_cleanup_free_ char *dir = ep_path_dirname(files.v[i].path);
		if (!dir) {
			r = ep_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		bool planned = false;
		for (size_t k = 0; k < i; k++) {
			_cleanup_free_ char *d2 = ep_path_dirname(files.v[k].path);
			planned |= d2 && !strcmp(d2, dir);
		}
		if (!planned && !ep_root_exists(wf->root, dir))
			r = ep_plan_add_dir_create(wf->plan, "stop", dir, 0755, NULL, err);
		if (r >= 0)
			r = ep_plan_add_file_write(wf->plan, "stop", files.v[i].path,
						   (unsigned)files.v[i].mode, files.v[i].content,
						   false, NULL, err);
	}
	ep_runtime_files_release(&files);
	if (r >= 0)
		r = ep_plan_add_systemd(wf->plan, "stop", "daemon-reload", NULL,
					"systemd reads unit files at daemon-reload", err);
	return r < 0 ? r : 0;
}

static int stop_plan(struct ep_wf *wf, struct ep_error *err)
{
	const struct ep_convert *cv = wf->convert;
	const char *unit = unit_name(cv->unit_path);
	int r = to_pod(wf) ? 0 : prepare_unit(wf, err);
	/* its undo waits until the member serves again: an undone conversion ends running */
	if (r >= 0)
		r = ep_plan_add(wf->plan, "stop", "convert.mark",
				json_pack("{s:s, s:{s:o, s:s, s:s, s:I, s:I}}", "what",
					  "the member's downtime starts", "back", "cluster",
					  cluster_of(cv), "id", cv->member_id, "local",
					  cv->local_url, "timeout_ms",
					  (json_int_t)(wf->spec->timeout_ms < 60000
							       ? 60000
							       : wf->spec->timeout_ms),
					  "max_lag", (json_int_t)MAX_LAG),
				"the downtime is measured from here", err);
	if (r >= 0 && to_pod(wf)) {
		char ts[32];
		utc_stamp(ts, sizeof(ts));
		_cleanup_free_ char *aside = NULL;
		if (asprintf(&aside, "%s.etcdpilot-converted-%s", cv->unit_path, ts) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
		r = ep_plan_add_systemd(wf->plan, "stop", "stop", unit, NULL, err);
		if (r >= 0)
			r = ep_plan_add_systemd(wf->plan, "stop", "disable", unit,
						"it must not come back at the next boot", err);
		if (r >= 0)
			r = ep_plan_add_file_move(wf->plan, "stop", cv->unit_path, aside, false,
						  "kept for a rollback; mask needs the name free",
						  err);
		if (r >= 0)
			r = ep_plan_add_systemd(wf->plan, "stop", "mask", unit,
						"nothing starts it again beside the pod (a "
						"dependency, an installer's restart)", err);
		if (r >= 0 &&
		    note(wf, "the old unit file is kept as %s; its environment files (%s) are "
			     "left in place", aside,
			 wf->installed.spec.systemd.env_file ? wf->installed.spec.systemd.env_file
							     : "none") < 0)
			r = ep_error_set(err, -ENOMEM, "out of memory");
	} else if (r >= 0) {
		r = ep_plan_add_file_remove(wf->plan, "stop", cv->manifest_path, false,
					    "the kubelet stops the pod; the manifest is kept aside "
					    "until the run succeeds", err);
		if (r >= 0)
			r = ep_plan_add(wf->plan, "stop", "wait.stopped",
					json_pack("{s:s, s:I, s:s?}", "endpoint", cv->local_url,
						  "timeout_ms", (json_int_t)60000, "data_dir",
						  wf->spec->data_dir),
					"the unit starts once the pod's ports and data are free", err);
	}
	return r < 0 ? r : 0;
}

static const struct ep_phase stop_phase = {
	.name = "stop",
	.help = "stop, disable, move aside and mask the unit (or write, unmask and load the "
		"unit, then remove the manifest)",
	.modes = EP_PHASE_ANY,
	.plan = stop_plan,
};

/* ---- start ---------------------------------------------------------------------------- */

static int start_plan(struct ep_wf *wf, struct ep_error *err)
{
	struct ep_convert *cv = wf->convert;
	int r = 0;
	if (to_pod(wf)) {
		_cleanup_free_ char *text = NULL;
		if ((r = ep_manifest_render(wf->spec, &cv->initial_cluster, &text, NULL, err)) < 0)
			return r;
		if (!ep_root_exists(wf->root, wf->spec->manifest_dir))
			r = ep_plan_add_dir_create(wf->plan, "start", wf->spec->manifest_dir, 0755,
						   NULL, err);
		if (r >= 0)
			r = ep_plan_add(wf->plan, "start", "convert.manifest",
					json_pack("{s:s, s:s, s:s, s:s?}", "path", cv->manifest_path,
						  "content", text, "local", cv->local_url, "data_dir",
						  wf->spec->data_dir),
					"the same member, its data and URLs, in kubeadm's static pod",
					err);
		return r < 0 ? r : 0;
	}
	return ep_plan_add_systemd(wf->plan, "start", "enable-now", unit_name(cv->unit_path),
				   "start etcd now and at every boot", err);
}

static const struct ep_phase start_phase = {
	.name = "start",
	.help = "write the static pod manifest (or enable --now the unit)",
	.modes = EP_PHASE_ANY,
	.plan = start_plan,
};

/* ---- wait ----------------------------------------------------------------------------- */

/*
 * What could undo a conversion to a static pod later: the installer that
 * wrote the old unit, run again, writes it back and starts it - then two
 * etcds fight over one data dir and its ports.  Said for the installer the
 * member's files point to (ep_convert_installer).
 */
static int undo_note(struct ep_wf *wf, const struct ep_convert *cv)
{
	const char *unit = unit_name(cv->unit_path);
	switch (cv->installer) {
	case EP_INSTALLER_KUBESPRAY:
		return note(wf, "kubespray laid out the old unit: a kubespray run re-templates "
				"/etc/etcd.env and %s and restarts it (then two etcds fight over the "
				"same data dir and ports).  Keep it off this node's etcd: set "
				"etcd_deployment_type: kubeadm for it (or leave it out of the [etcd] "
				"group), and keep %s masked",
			    unit, unit);
	case EP_INSTALLER_ETCDADM:
		return note(wf, "etcdadm laid out the old unit: 'etcdadm reset' on this node "
				"removes this member from the cluster and deletes what etcdadm "
				"installed, and 'etcdadm init' or 'join' writes %s again.  Run no "
				"etcdadm here any more ('etcdpilot reset' retires a static pod "
				"member), and keep %s masked",
			    unit, unit);
	case EP_INSTALLER_ETCDPILOT:
		return note(wf, "etcdpilot's systemd mode wrote the old unit: run etcdpilot on "
				"this node with --mode static-pod (or mode: static-pod in its "
				"config) from now on, or it writes %s again; keep %s masked",
			    unit, unit);
	case EP_INSTALLER_UNKNOWN:
		break;
	}
	return note(wf, "whatever wrote %s (a provisioning script, configuration management, "
			"the Hard Way's steps) can write it again and start it (then two etcds "
			"fight over the same data dir and ports): take this node's etcd out of "
			"it, and keep %s masked",
		    cv->unit_path, unit);
}

static int wait_plan(struct ep_wf *wf, struct ep_error *err)
{
	const struct ep_convert *cv = wf->convert;
	int r = ep_plan_add(wf->plan, "wait", "convert.wait-member",
			    json_pack("{s:o, s:s, s:s, s:I, s:I}", "cluster", cluster_of(cv), "id",
				      cv->member_id, "local", cv->local_url, "timeout_ms",
				      (json_int_t)wf->spec->timeout_ms, "max_lag",
				      (json_int_t)MAX_LAG),
			    "the same member ID back, healthy and caught up with the leader", err);
	if (r < 0)
		return r;
	if (to_pod(wf)) {
		r = undo_note(wf, cv);
		if (r >= 0)
			r = note(wf, "to go back: 'etcdpilot convert --to systemd'");
	} else {
		r = note(wf, "kubeadm upgrades write %s again: keep this node out of 'kubeadm "
			     "upgrade' for etcd (etcd.local is now systemd's; use 'kubeadm upgrade "
			     "apply --etcd-upgrade=false')", cv->manifest_path);
		if (r >= 0)
			r = note(wf, "to go back: 'etcdpilot convert --to static-pod'");
	}
	return r < 0 ? ep_error_set(err, -ENOMEM, "out of memory") : 0;
}

static const struct ep_phase wait_phase = {
	.name = "wait",
	.help = "the same member ID healthy and within a few raft entries of the leader",
	.modes = EP_PHASE_ANY,
	.plan = wait_plan,
};

static const struct ep_phase *const convert_phases[] = {
	&preflight_phase, &install_phase, &certs_phase, &snapshot_phase,
	&stop_phase,	  &start_phase,	  &wait_phase,	NULL,
};

const struct ep_workflow ep_workflow_convert = {
	.command = "convert",
	.phases = convert_phases,
};
