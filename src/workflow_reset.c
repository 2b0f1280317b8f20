/*
 * workflow_reset.c - the phases of `etcdpilot reset`, for both runtimes:
 *
 *   preflight      root; what the runtime reads back from the node (the
 *                  manifest, or the unit and its environment): this node's
 *                  member is the one with the peer URL found there, never
 *                  one recomputed from flags;
 *   remove-member  find it in the cluster by that peer URL: already gone,
 *                  the last voter (not removed: the cluster ends with it),
 *                  or removed (member.remove), refused when that would cost
 *                  the cluster its quorum; the leader hands leadership away
 *                  first (member.move-leader);
 *   stop           the manifest removed (then wait until the pod stopped),
 *                  or the unit stopped and disabled;
 *   data           the data dir moved to <data dir>-backup-<time> (or,
 *                  with --delete-data, deleted);
 *   certs          this node's leaf pairs removed (the CA too with
 *                  --remove-ca);
 *   files          (systemd) the unit, its environment and the etcdctl
 *                  wrapper removed, daemon-reload.
 *
 * The member is removed while it still runs, before it is stopped: a
 * stopped voter of a two-member cluster would take the quorum with it, and
 * then no removal could be committed.  A cluster that is down is said, and
 * the node is cleaned up all the same; one that cannot be asked (the client
 * pair unreadable, TLS refused), or files that cannot be read back, stop
 * the reset before anything changed: the member may be a running voter.
 * Phases only look and add actions; never prints.
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
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/membership.h"
#include "etcdpilot/pki.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/systemctl.h"
#include "etcdpilot/unit.h"
#include "etcdpilot/workflow.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"
#include "workflow_internal.h"

#define PROBE_MS 5000

static bool is_systemd(const struct ep_wf *wf)
{
	return wf->spec->mode == EP_MODE_SYSTEMD;
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

int ep_workflow_reset_mode(const struct ep_spec *spec, const char *root, bool mode_given,
			   enum ep_mode *ret, bool *ret_both, struct ep_error *err)
{
	bool found[2] = { false, false };
	*ret = spec->mode;
	if (ret_both)
		*ret_both = false;
	for (int m = 0; m < 2; m++) {
		const struct ep_runtime_ops *rt = ep_runtime_get((enum ep_mode)m);
		struct ep_runtime_ctx ctx = { .root = root, .spec = spec };
		struct ep_member_desc d;
		int r = rt->read_back(&ctx, &d, NULL);
		found[m] = r != -ENOENT;
		if (r >= 0)
			ep_member_desc_release(&d);
	}
	if (found[0] && found[1] && !mode_given)
		return ep_error_usage(err, -EINVAL,
				      "this node has both an etcd static pod manifest and an etcd "
				      "unit; nothing was changed: pass --mode static-pod or --mode "
				      "systemd to say which member to reset");
	/* --mode naming the runtime that has nothing, while the other has a member */
	int given = spec->mode == EP_MODE_SYSTEMD, other = !given;
	if (mode_given && !found[given] && found[other])
		return ep_error_usage(err, -EINVAL,
				      "--mode %s: this node has no etcd %s, but it has an etcd %s; "
				      "nothing was changed: drop --mode (reset finds the runtime "
				      "on the node) or pass --mode %s",
				      given ? "systemd" : "static-pod",
				      given ? "unit" : "static pod manifest",
				      given ? "static pod manifest" : "unit",
				      given ? "static-pod" : "systemd");
	if (!mode_given && (found[0] || found[1]))
		*ret = found[0] ? EP_MODE_STATIC_POD : EP_MODE_SYSTEMD;
	if (ret_both)
		*ret_both = found[0] && found[1];
	return 0;
}

/* ---- preflight ------------------------------------------------------------------- */

static int preflight_plan(struct ep_wf *wf, struct ep_error *err)
{
	ep_wf_say(wf, "[preflight] Running pre-flight checks");
	if (ep_root_is_real(wf->root) && geteuid() != 0 &&
	    ep_wf_check_fail(wf, "IsPrivilegedUser", -EPERM,
			     "this must run as root: it removes files under /etc and /var/lib; "
			     "run it with sudo, or pass --root DIR to work on a directory tree") < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	bool usable = true; /* the units of another root never with this host's systemctl */
	if (is_systemd(wf)) {
		int sr = ep_wf_systemd_check(wf, &usable, err);
		if (sr < 0)
			return sr;
	}
	struct ep_error rerr = { 0 };
	int r = wf->rt->read_back(&wf->rtctx, &wf->installed, &rerr);
	if (r >= 0) {
		wf->have_installed = true;
		const struct ep_member_desc *d = &wf->installed;
		for (size_t k = 0; k < d->conflicts.n; k++)
			ep_wf_say(wf, "[preflight] WARNING: %s", d->conflicts.v[k]);
		if (d->initial_advertise_peer_urls) {
			ep_wf_say(wf, "[preflight] This node runs member '%s' (peer URL %s, data dir "
				      "%s) as %s (%s)",
				  d->spec.name ? d->spec.name : "?", d->initial_advertise_peer_urls,
				  d->spec.data_dir ? d->spec.data_dir : "?",
				  is_systemd(wf) ? "a systemd service" : "a static pod", d->source);
			return 0;
		}
		/*
		 * Half gone (an environment file missing): which member this is
		 * cannot be told, so its name is not guessed.  A unit that still
		 * runs may be a voter its cluster needs: not stopped unasked.
		 */
		ep_wf_say(wf, "[preflight] This node has an etcd %s (%s), but its files give no peer "
			      "URL: which member it runs cannot be told",
			  is_systemd(wf) ? "unit" : "static pod", d->source);
		if (is_systemd(wf) && usable) {
			struct ep_systemctl sc = { .program = wf->systemctl, .root = wf->root };
			const char *slash = strrchr(d->source, '/');
			const char *unit = slash ? slash + 1 : d->source;
			bool active = false;
			char state[32] = "";
			if (ep_systemctl_is_active(&sc, unit, &active, state, NULL) >= 0 && active)
				return ep_error_usage(
					err, -EBUSY,
					"[preflight] %s is running, but its files give no peer URL, "
					"so its member cannot be found in its cluster; nothing was "
					"changed: stopping a voter unasked could cost its cluster the "
					"quorum.  Restore its environment file (then reset), or remove "
					"the member on a member ('etcdpilot member remove NAME|ID') and "
					"stop the unit ('systemctl disable --now %s'), then reset",
					unit, unit);
		}
	} else if (r == -ENOENT) {
		ep_wf_say(wf, "[preflight] No etcd member is installed on this node (%s); what is left "
			      "of one is cleaned up", rerr.msg);
		if (note(wf, "no etcd member was installed on this node: no cluster was asked") < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
	} else if (r == -ENOMEM) {
		return ep_error_set(err, r, "out of memory");
	} else {
		/*
		 * Going on would move the data dir of a member that may still run,
		 * and leave it in its cluster: refused, with the way by hand.
		 */
		return ep_error_usage(
			err, r,
			"[preflight] this node's etcd member cannot be read back: %s; reset takes "
			"the member out of its cluster by the peer URL that file gives, and stops "
			"it through it, so nothing was changed.  Fix the file; or reset by hand: "
			"remove this node's member on a member ('etcdpilot member remove "
			"NAME|ID'), %s, then run 'etcdpilot reset' again to clean up what is left",
			rerr.msg,
			is_systemd(wf) ? "stop it ('systemctl disable --now etcd.service') and "
					 "delete its unit file"
				       : "delete the manifest (the kubelet then stops the pod)");
	}
	return 0;
}

static const struct ep_phase preflight_phase = {
	.name = "preflight",
	.help = "read back what runs this node's member (manifest or unit)",
	.modes = EP_PHASE_ANY,
	.plan = preflight_plan,
};

/* ---- remove-member ------------------------------------------------------------------ */

static const char *cert_dir(const struct ep_wf *wf)
{
	return wf->have_installed && wf->installed.spec.cert_dir ? wf->installed.spec.cert_dir
								  : wf->spec->cert_dir;
}

static int push_list(struct ep_strv *sv, const char *list)
{
	_cleanup_free_ char *copy = strdup(list ? list : "");
	char *save = NULL;
	if (!copy)
		return -ENOMEM;
	for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save))
		if (strncmp(u, "https://0.0.0.0", 15) && !ep_strv_contains(sv, u) &&
		    ep_strv_push(sv, u) < 0)
			return -ENOMEM;
	return 0;
}

/*
 * Where the cluster is asked: --endpoints, else this member's own client
 * URLs, then the other members' hosts on the client port kubeadm uses (for
 * a node whose own etcd is down).
 */
static int endpoints_of(const struct ep_wf *wf, struct ep_strv *eps)
{
	const struct ep_member_desc *d = &wf->installed;
	if (wf->endpoints && wf->endpoints->n) {
		for (size_t i = 0; i < wf->endpoints->n; i++)
			if (ep_strv_push(eps, wf->endpoints->v[i]) < 0)
				return -ENOMEM;
		return 0;
	}
	if (push_list(eps, d->advertise_client_urls) < 0 ||
	    push_list(eps, d->listen_client_urls) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < d->initial_cluster.n; i++) {
		const char *u = d->initial_cluster.v[i].value;
		const char *colon = u ? strrchr(u, ':') : NULL;
		if (!colon || strcmp(colon, ":2380"))
			continue;
		_cleanup_free_ char *c = NULL;
		if (asprintf(&c, "%.*s:2379", (int)(colon - u), u) < 0)
			return -ENOMEM;
		if (!ep_strv_contains(eps, c) && ep_strv_push(eps, c) < 0)
			return -ENOMEM;
	}
	return 0;
}

static json_t *cluster_json(const struct ep_wf *wf, const struct ep_strv *eps)
{
	_cleanup_free_ char *ca = NULL, *crt = NULL, *key = NULL;
	if (wf->cacert) /* reset.c checks the three go together; absolute there */
		return ep_cluster_json(eps, wf->cacert, wf->cert, wf->key, false);
	const char *cd = cert_dir(wf);
	if (asprintf(&ca, "%s/etcd/ca.crt", cd) < 0 ||
	    asprintf(&crt, "%s/etcd/healthcheck-client.crt", cd) < 0 ||
	    asprintf(&key, "%s/etcd/healthcheck-client.key", cd) < 0)
		return NULL;
	return ep_cluster_json(eps, ca, crt, key, true);
}

/* The index of the member whose peer URLs hold one of @urls (comma list), or SIZE_MAX. */
static size_t find_ours(const struct ep_health_report *hr, const char *urls)
{
	struct ep_strv mine = { 0 };
	size_t found = SIZE_MAX;
	if (push_list(&mine, urls) < 0)
		return SIZE_MAX;
	for (size_t i = 0; i < hr->n && found == SIZE_MAX; i++)
		for (size_t k = 0; k < mine.n; k++)
			if (ep_strv_contains(&hr->v[i].member.peer_urls, mine.v[k]))
				found = i;
	ep_strv_release(&mine);
	return found;
}

static int remove_plan(struct ep_wf *wf, struct ep_error *err)
{
	const struct ep_member_desc *d = &wf->installed;
	if (!wf->have_installed)
		return 0;
	if (!d->initial_advertise_peer_urls) {
		ep_wf_say(wf, "[remove-member] WARNING: %s gives no peer URL "
			      "(--initial-advertise-peer-urls): this node's member cannot be told in "
			      "its cluster, and is not removed from it", d->source);
		int r = note(wf, "this node's member was NOT removed from its cluster: %s gives "
				 "no peer URL to find it by; if it is still in its cluster, remove it "
				 "from a member: 'etcdpilot member remove NAME|ID'", d->source);
		return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
	}
	struct ep_strv eps = { 0 };
	struct ep_conn c = { 0 };
	struct ep_health_report hr = { 0 };
	struct ep_error perr = { 0 };
	char hex[17];
	_cleanup_(json_decrefp) json_t *cj = NULL;
	int r = endpoints_of(wf, &eps);
	if (r < 0 || !(cj = cluster_json(wf, &eps))) {
		ep_strv_release(&eps);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	r = ep_conn_open(wf->root, cj, NULL, ep_now_ms() + PROBE_MS, NULL, NULL, &c, &perr);
	bool opened = r >= 0;
	if (r >= 0)
		r = ep_health_probe(c.client, c.ca.endpoints, c.ca.n_endpoints, PROBE_MS,
				    EP_HEALTH_STATUS_ONLY, &hr, &perr);
	ep_conn_close(&c);
	ep_strv_release(&eps);
	const char *name = d->spec.name ? d->spec.name : "?";
	const char *peer = d->initial_advertise_peer_urls;
	if (r < 0 && r != -ENOMEM && (!opened || !ep_conn_transient(r)))
		/*
		 * Not a cluster that is down, but one this node cannot ask (its
		 * client pair or CA unreadable, or refused by the members): this
		 * member may well run, and stopping it unasked could cost the
		 * cluster its quorum.
		 */
		return ep_error_set(err, r,
				    "[remove-member] the cluster cannot be asked about member '%s' "
				    "(%s): %s; nothing was changed: reset removes the member while "
				    "it still runs, so that the cluster keeps its quorum.  Give "
				    "--cacert, --cert and --key of a client the cluster trusts; or, "
				    "if the cluster is gone or the member removed already, leave "
				    "the removal out with '--skip-phases remove-member'",
				    name, peer, perr.msg);
	if (r == -ENOMEM)
		return ep_error_set(err, r, "out of memory");
	if (r < 0) {
		ep_wf_say(wf, "[remove-member] WARNING: the cluster cannot be reached (%s): member "
			      "'%s' (%s) is not removed from it", perr.msg, name, peer);
		r = note(wf, "member '%s' (%s) was NOT removed from its cluster, which could not be "
			     "reached (%s); if the cluster lives on, remove it from a member: "
			     "'etcdpilot member remove %s'", name, peer, perr.msg, name);
		return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
	}
	size_t me = find_ours(&hr, peer);
	r = 0;
	if (me == SIZE_MAX) {
		ep_wf_say(wf, "[remove-member] Member '%s' (%s) is not in cluster %s any more "
			      "(removed already)", name, peer, ep_member_id_hex(hr.cluster_id, hex));
		r = note(wf, "member '%s' was no longer in its cluster (removed already)", name);
		if (r < 0)
			r = ep_error_set(err, r, "out of memory");
	} else if (hr.n == 1 || (!hr.v[me].member.is_learner && hr.voters == 1)) {
		/* the last voter: etcd removes no last voter, learners or not */
		size_t learners = hr.n - 1;
		ep_wf_say(wf, "[remove-member] Member '%s' is the last %smember of cluster %s: it is "
			      "not removed (the cluster ends with it%s)", name,
			  learners ? "voting " : "", ep_member_id_hex(hr.cluster_id, hex),
			  learners ? ", and its learners with it" : "");
		r = note(wf, "member '%s' was the last %smember of its cluster: not removed, the "
			     "cluster ended with it", name, learners ? "voting " : "");
		if (r < 0)
			r = ep_error_set(err, r, "out of memory");
	} else {
		struct ep_error q = { 0 };
		const struct ep_member_health *m = &hr.v[me];
		if (ep_quorum_check_remove(&hr, me, &q) < 0) {
			r = ep_error_set(err, q.code, "[remove-member] %s; nothing was changed", q.msg);
			goto out;
		}
		ep_member_id_hex(m->member.id, hex);
		json_t *p = json_pack("{s:O, s:s, s:s, s:I}", "cluster", cj, "id", hex, "name", name,
				      "timeout_ms", (json_int_t)wf->spec->timeout_ms);
		bool others = false;
		for (size_t i = 0; i < hr.n; i++)
			others |= i != me && !hr.v[i].member.is_learner && hr.v[i].status_ok;
		if (hr.leader == m->member.id && others)
			r = ep_plan_add(wf->plan, "remove-member", "member.move-leader",
					json_deep_copy(p), "this member leads: hand leadership to "
							   "another voter before it goes", err);
		if (r >= 0)
			r = ep_plan_add(wf->plan, "remove-member", "member.remove", p,
					"removed while it still runs: a stopped voter could cost "
					"a small cluster its quorum", err);
		else
			json_decref(p);
		char chex[17];
		if (r >= 0 && note(wf, "member '%s' (%s) was removed from cluster %s", name, hex,
				   ep_member_id_hex(hr.cluster_id, chex)) < 0)
			r = ep_error_set(err, -ENOMEM, "out of memory");
	}
out:
	ep_health_report_release(&hr);
	return r < 0 ? r : 0;
}

static const struct ep_phase remove_phase = {
	.name = "remove-member",
	.help = "remove this node's member from its cluster (quorum-guarded; the leader moves away)",
	.modes = EP_PHASE_ANY,
	.plan = remove_plan,
};

/* ---- stop ---------------------------------------------------------------------------- */

static const char *unit_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int stop_plan(struct ep_wf *wf, struct ep_error *err)
{
	const struct ep_member_desc *d = &wf->installed;
	if (!wf->have_installed)
		return 0;
	int r;
	if (is_systemd(wf)) {
		const char *unit = unit_name(d->spec.systemd.unit_path ? d->spec.systemd.unit_path
								       : EP_UNIT_NAME);
		r = ep_plan_add_systemd(wf->plan, "stop", "stop", unit, NULL, err);
		if (r >= 0)
			r = ep_plan_add_systemd(wf->plan, "stop", "disable", unit,
						"it must not come back at the next boot", err);
		return r < 0 ? r : 0;
	}
	r = ep_plan_add_file_remove(wf->plan, "stop", d->source, false,
				    "the kubelet stops a static pod whose manifest is gone", err);
	/* the local client URL: the loopback one of listen-client-urls, else the advertised */
	struct ep_strv eps = { 0 };
	if (r >= 0 && (push_list(&eps, d->listen_client_urls) < 0 ||
		       push_list(&eps, d->advertise_client_urls) < 0))
		r = ep_error_set(err, -ENOMEM, "out of memory");
	const char *local = eps.n ? eps.v[0] : NULL;
	for (size_t i = 0; i < eps.n; i++)
		if (strstr(eps.v[i], "://127.") || strstr(eps.v[i], "://[::1]")) {
			local = eps.v[i];
			break;
		}
	if (r >= 0 && local)
		r = ep_plan_add(wf->plan, "stop", "wait.stopped",
				d->spec.data_dir
					? json_pack("{s:s, s:I, s:s}", "endpoint", local, "timeout_ms",
						    (json_int_t)30000, "data_dir", d->spec.data_dir)
					: json_pack("{s:s, s:I}", "endpoint", local, "timeout_ms",
						    (json_int_t)30000),
				"the data directory is moved only once etcd is down", err);
	ep_strv_release(&eps);
	return r < 0 ? r : 0;
}

static const struct ep_phase stop_phase = {
	.name = "stop",
	.help = "remove the static pod manifest (or stop and disable the unit)",
	.modes = EP_PHASE_ANY,
	.plan = stop_plan,
};

/* ---- data ---------------------------------------------------------------------------- */

static int data_plan(struct ep_wf *wf, struct ep_error *err)
{
	const char *dir = wf->have_installed && wf->installed.spec.data_dir
				  ? wf->installed.spec.data_dir
				  : wf->spec->data_dir;
	struct stat st;
	if (ep_root_lstat(wf->root, dir, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode)) {
		/* not etcd's: said, and left alone */
		ep_wf_say(wf, "[data] WARNING: %s is not a directory (%s): not etcd's data, left "
			      "as it is", dir, S_ISLNK(st.st_mode) ? "a symbolic link" : "a file");
		int r = note(wf, "%s was left as it is: it is not a directory", dir);
		return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
	}
	if (ep_root_dir_empty_or_absent(wf->root, dir))
		return 0;
	int r;
	if (wf->delete_data) {
		r = ep_plan_add_file_remove(wf->plan, "data", dir, true,
					    "--delete-data: no backup is kept", err);
	} else {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
		_cleanup_free_ char *to = NULL;
		if (asprintf(&to, "%s-backup-%s", dir, ts) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
		r = ep_plan_add_file_move(wf->plan, "data", dir, to, false,
					  "a backup of the member's data (--delete-data deletes it "
					  "instead)", err);
		if (r >= 0 && note(wf, "its data directory was moved to %s", to) < 0)
			r = ep_error_set(err, -ENOMEM, "out of memory");
	}
	return r < 0 ? r : 0;
}

static const struct ep_phase data_phase = {
	.name = "data",
	.help = "move the data dir to <data dir>-backup-<time> (--delete-data: delete it)",
	.modes = EP_PHASE_ANY,
	.plan = data_plan,
};

/* ---- certs ---------------------------------------------------------------------------- */

static int certs_plan(struct ep_wf *wf, struct ep_error *err)
{
	const char *cd = cert_dir(wf);
	int r = 0;
	/* the other runtime's member (both on the node, --mode said which) uses them too */
	if (wf->keep_leaf_certs) {
		ep_wf_say(wf, "[certs] This node's certificates stay: the etcd %s on this node "
			      "uses them too", is_systemd(wf) ? "static pod manifest" : "unit");
		r = note(wf, "this node's certificates were kept: the etcd %s on this node uses "
			     "them (reset it with --mode %s)",
			 is_systemd(wf) ? "static pod manifest" : "unit",
			 is_systemd(wf) ? "static-pod" : "systemd");
		return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
	}
	for (unsigned id = 0; r >= 0 && id < EP_CERT_COUNT; id++) {
		if (id == EP_CERT_CA && !wf->remove_ca)
			continue;
		const struct ep_cert_profile *p = ep_cert_profile(id);
		for (int k = 0; r >= 0 && k < 2; k++) {
			_cleanup_free_ char *path = NULL;
			if (asprintf(&path, "%s/%s.%s", cd, p->base, k ? "key" : "crt") < 0)
				return ep_error_set(err, -ENOMEM, "out of memory");
			struct stat st;
			if (ep_root_lstat(wf->root, path, &st) < 0)
				continue;
			r = ep_plan_add_file_remove(wf->plan, "certs", path, false,
						    id == EP_CERT_CA ? "--remove-ca"
								     : "this node's own pair", err);
		}
	}
	return r < 0 ? r : 0;
}

static const struct ep_phase certs_phase = {
	.name = "certs",
	.help = "remove this node's certificates (the CA stays unless --remove-ca)",
	.modes = EP_PHASE_ANY,
	.plan = certs_plan,
};

/* ---- files (systemd) ---------------------------------------------------------------- */

static int files_plan(struct ep_wf *wf, struct ep_error *err)
{
	const struct ep_member_desc *d = &wf->installed;
	const struct ep_systemd *sd = &wf->spec->systemd;
	_cleanup_free_ char *wrapper = NULL;
	const char *bin = d->spec.systemd.bin_dir ? d->spec.systemd.bin_dir : sd->bin_dir;
	if (asprintf(&wrapper, "%s/etcdctl.sh", bin) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	const char *paths[] = {
		wf->have_installed && d->spec.systemd.unit_path ? d->spec.systemd.unit_path
								: sd->unit_path,
		wf->have_installed && d->spec.systemd.env_file ? d->spec.systemd.env_file
							       : sd->env_file,
		sd->etcdctl_env_file,
		wrapper,
		NULL,
	};
	int r = 0;
	bool any = false;
	for (size_t i = 0; r >= 0 && paths[i]; i++) {
		struct stat st;
		if (ep_root_lstat(wf->root, paths[i], &st) < 0)
			continue;
		bool dup = false;
		for (size_t k = 0; k < i; k++)
			dup |= !strcmp(paths[k], paths[i]);
		if (dup)
			continue;
		r = ep_plan_add_file_remove(wf->plan, "files", paths[i], false, NULL, err);
		any = true;
	}
	if (r >= 0 && any)
		r = ep_plan_add_systemd(wf->plan, "files", "daemon-reload", NULL,
					"systemd forgets the unit at daemon-reload", err);
	return r < 0 ? r : 0;
}

static const struct ep_phase files_phase = {
	.name = "files",
	.help = "remove the unit, its environment and the etcdctl wrapper; daemon-reload",
	.modes = EP_PHASE_SYSTEMD,
	.plan = files_plan,
};

static const struct ep_phase *const reset_phases[] = {
	&preflight_phase, &remove_phase, &stop_phase, &data_phase, &certs_phase, &files_phase, NULL,
};

const struct ep_workflow ep_workflow_reset = {
	.command = "reset",
	.phases = reset_phases,
};
