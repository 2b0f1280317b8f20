/*
 * workflow_join.c - the phases of `etcdpilot join ENDPOINT`, for both
 * runtimes:
 *
 *   preflight      as init's (version, root, ports, data dir), plus: the
 *                  etcd CA (from --ca-bundle, opened here, or copied by
 *                  hand), what is already installed (this node's member
 *                  again: join only checks it; another one: reset first),
 *                  and - when this node can already talk to the cluster -
 *                  the cluster itself, so that a refusal changes nothing;
 *   install        (systemd) init's: a verified etcd in the bin dir;
 *   certs          the CA of the bundle, this node's pairs from the CA;
 *   cluster-check  cluster.check (every member probed), member.evict for
 *                  --remove-dead / --replace;
 *   member-add     member.add (a learner);
 *   etcd           the data dir and runtime.files (the manifest, or the
 *                  unit and its environment: rendered when they are
 *                  written, with the member list member.add recorded);
 *   start          (systemd) init's: daemon-reload, enable --now;
 *   promote        member.promote (after catch-up);
 *   wait           wait.cluster (every member healthy).
 *
 * Each phase only looks and adds actions; the cluster actions are
 * actions_cluster.c's, the node ones actions_member.c's.  It owns the
 * rules of what a joining node must have; it never prints.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "actions_internal.h"
#include "etcdpilot/bundle.h"
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

#define PLAN_PROBE_MS 15000

static bool is_systemd(const struct ep_wf *wf)
{
	return wf->spec->mode == EP_MODE_SYSTEMD;
}

static void log_dry(void *userdata, const char *line)
{
	const struct ep_wf *wf = userdata;
	if (wf->dry_run && wf->log)
		wf->log(wf->userdata, line);
}

int ep_wf_open_bundle(struct ep_wf *wf, struct ep_error *err)
{
	if (!wf->ca_bundle || wf->bundle)
		return 0;
	unsigned char key[EP_BUNDLE_KEY_LEN];
	int r = ep_bundle_key_parse(wf->certificate_key, key, err);
	if (r < 0)
		return ep_error_prefix(err, "--certificate-key");
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	struct ep_error rerr = { 0 };
	r = ep_read_file(wf->ca_bundle, EP_BUNDLE_MAX_FILE, false, &data, &len, &rerr);
	if (r < 0) {
		OPENSSL_cleanse(key, sizeof(key));
		return ep_error_usage(err, r, "--ca-bundle: %s", rerr.msg);
	}
	struct ep_ca_bundle *b = calloc(1, sizeof(*b));
	if (!b) {
		OPENSSL_cleanse(key, sizeof(key));
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	r = ep_bundle_open(data, len, wf->ca_bundle, key, time(NULL), b, err);
	OPENSSL_cleanse(key, sizeof(key));
	if (r < 0) {
		ep_ca_bundle_release(b);
		free(b);
		return ep_error_prefix(err, "--ca-bundle");
	}
	wf->bundle = b;
	return 0;
}

/* ---- what every phase needs: the member's URLs and the cluster params ------------- */

/* The value of etcd flag @name this node's files would carry (heap; NULL when none). */
static int etcd_arg(const struct ep_wf *wf, const char *name, char **ret, struct ep_error *err)
{
	struct ep_kvv args = { 0 };
	*ret = NULL;
	int r = ep_manifest_etcd_args(wf->spec, NULL, &args, err);
	for (size_t i = 0; r >= 0 && i < args.n; i++)
		if (!strcmp(args.v[i].name, name) && !(*ret = strdup(args.v[i].value)))
			r = ep_error_set(err, -ENOMEM, "out of memory");
	ep_kvv_release(&args);
	return r < 0 ? r : 0;
}

/* This member's peer URLs, as a JSON array. */
static int peer_urls(const struct ep_wf *wf, json_t **ret, struct ep_error *err)
{
	_cleanup_free_ char *list = NULL;
	int r = etcd_arg(wf, "initial-advertise-peer-urls", &list, err);
	if (r < 0)
		return r;
	json_t *a = json_array();
	char *save = NULL;
	for (char *u = list ? strtok_r(list, ",", &save) : NULL; a && u;
	     u = strtok_r(NULL, ",", &save))
		json_array_append_new(a, json_string(u));
	if (!a || !json_array_size(a)) {
		json_decref(a);
		return ep_error_set(err, -EINVAL, "this member has no peer URL");
	}
	*ret = a;
	return 0;
}

/* An absolute form of the invoking user's path @p (heap). */
static char *user_path(const char *p)
{
	if (p[0] == '/')
		return strdup(p);
	char cwd[4096];
	char *out = NULL;
	if (!getcwd(cwd, sizeof(cwd)) || asprintf(&out, "%s/%s", cwd, p) < 0)
		return NULL;
	return out;
}

/* The "cluster" params: wf->endpoints, and the flags' files or the node's own. */
static json_t *cluster_json(const struct ep_wf *wf)
{
	const char *cd = wf->spec->cert_dir;
	_cleanup_free_ char *ca = NULL, *crt = NULL, *key = NULL;
	bool node = !wf->cacert && !wf->cert && !wf->key;
	if (node) {
		if (asprintf(&ca, "%s/etcd/ca.crt", cd) < 0 ||
		    asprintf(&crt, "%s/etcd/healthcheck-client.crt", cd) < 0 ||
		    asprintf(&key, "%s/etcd/healthcheck-client.key", cd) < 0)
			return NULL;
	} else {
		/* given together (join.c checks), as the user's own paths */
		if (!(ca = user_path(wf->cacert)) || !(crt = user_path(wf->cert)) ||
		    !(key = user_path(wf->key)))
			return NULL;
	}
	return ep_cluster_json(wf->endpoints, ca, crt, key, node);
}

static int strv_fill(const json_t *a, struct ep_strv *sv)
{
	size_t i;
	const json_t *v;
	json_array_foreach(a, i, v)
		if (json_is_string(v) && ep_strv_push(sv, json_string_value(v)) < 0)
			return -ENOMEM;
	return 0;
}

/* Can this node talk to the cluster before any of its files is written? */
static bool can_probe_now(const struct ep_wf *wf)
{
	if (wf->cacert)
		return true;
	static const char *const rel[] = { "ca.crt", "healthcheck-client.crt",
					   "healthcheck-client.key", NULL };
	for (size_t i = 0; rel[i]; i++) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/etcd/%s", wf->spec->cert_dir, rel[i]) < 0 ||
		    !ep_root_exists(wf->root, p))
			return false;
	}
	return true;
}

/* Params shared by the cluster actions; NULL on ENOMEM. */
static json_t *cluster_params(const struct ep_wf *wf, bool with_member)
{
	json_t *p = json_pack("{s:o, s:I}", "cluster", cluster_json(wf), "timeout_ms",
			      (json_int_t)wf->spec->timeout_ms);
	if (p && with_member) {
		json_t *urls = NULL;
		if (peer_urls(wf, &urls, NULL) < 0 ||
		    json_object_set_new(p, "peer_urls", urls) < 0 ||
		    json_object_set_new(p, "name", json_string(wf->spec->name)) < 0) {
			json_decref(p);
			return NULL;
		}
	}
	return p;
}

/* ---- preflight ------------------------------------------------------------------- */

static int ca_check(struct ep_wf *wf, struct ep_error *err)
{
	const char *cd = wf->spec->cert_dir;
	_cleanup_free_ char *crt = NULL;
	if (asprintf(&crt, "%s/etcd/ca.crt", cd) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	int r;
	if (wf->ca_bundle) {
		if ((r = ep_wf_open_bundle(wf, err)) < 0)
			return r;
		bool changed = false;
		r = ep_pki_bundle_install(wf->spec, wf->root, wf->bundle, true, &changed, log_dry,
					  wf, err);
		if (r < 0)
			return ep_error_prefix(err, "[preflight] --ca-bundle");
		char exp[32];
		ep_bundle_format_time(wf->bundle->info.expires, exp, sizeof(exp));
		ep_wf_say(wf, "[preflight] The CA bundle %s opens: CA %s, expires %s%s",
			  wf->ca_bundle, wf->bundle->info.ca_sha256, exp,
			  changed ? "" : " (this node has that CA already)");
		return 0;
	}
	if (ep_root_exists(wf->root, crt))
		return 0;
	return ep_error_usage(err, -ENOENT,
			      "[preflight] this node has no etcd CA (%s): a member that joins needs "
			      "the cluster's CA; nothing was changed.  On a member run 'etcdpilot "
			      "certs export-bundle FILE', bring FILE here and run join with "
			      "'--ca-bundle FILE --certificate-key KEY' (the key export printed), or "
			      "copy %s/etcd/ca.crt and ca.key from a member over a secure channel",
			      crt, cd);
}

/* What is installed already: this node's member again (join only checks it), or another. */
static int installed_check(struct ep_wf *wf, struct ep_error *err)
{
	struct ep_member_desc d;
	struct ep_error rerr = { 0 };
	int r = wf->rt->read_back(&wf->rtctx, &d, &rerr);
	if (r == -ENOENT)
		return 0;
	_cleanup_free_ char *name = ep_check_name("FileAvailable", d.source ? d.source :
						  (is_systemd(wf) ? wf->spec->systemd.unit_path
								  : wf->spec->manifest_dir));
	if (!name) {
		ep_member_desc_release(&d);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	if (r < 0) {
		r = ep_wf_check_fail(wf, name, r, "an etcd member is installed here but cannot be "
						  "read (%s); run 'etcdpilot reset' first", rerr.msg);
		return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
	}
	_cleanup_free_ char *want = NULL;
	r = etcd_arg(wf, "initial-advertise-peer-urls", &want, err);
	const char *have = d.initial_advertise_peer_urls;
	bool same = r >= 0 && d.spec.name && !strcmp(d.spec.name, wf->spec->name) && have &&
		    want && !strcmp(have, want);
	if (r >= 0 && same) {
		wf->files_in_place = true;
		ep_wf_say(wf, "[preflight] This node's member '%s' (%s) is already installed (%s): "
			      "join only makes sure it is a healthy voting member",
			  wf->spec->name, have, d.source);
	} else if (r >= 0) {
		r = ep_wf_check_fail(wf, name, -EEXIST,
				     "this node already runs etcd member '%s' (peer URL %s, %s), "
				     "not '%s' (%s); nothing was changed: run 'etcdpilot reset' "
				     "first",
				     d.spec.name ? d.spec.name : "?", have ? have : "?",
				     d.source ? d.source : "?", wf->spec->name, want ? want : "?");
		if (r < 0)
			r = ep_error_set(err, r, "out of memory");
	}
	ep_member_desc_release(&d);
	return r < 0 ? r : 0;
}

/* Probe the cluster now, when this node can: a refusal then changes nothing at all. */
static int cluster_now(struct ep_wf *wf, struct ep_error *err)
{
	if (wf->files_in_place || !can_probe_now(wf)) {
		if (!wf->files_in_place)
			ep_wf_say(wf, "[preflight] The cluster is probed once this node's "
				      "certificates exist (the cluster-check phase)");
		return 0;
	}
	_cleanup_(json_decrefp) json_t *p = cluster_params(wf, true);
	if (!p)
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct ep_conn c;
	struct ep_strv urls = { 0 };
	uint64_t left = ep_ms_left(wf->deadline_ms);
	uint64_t deadline = ep_now_ms() + (left < PLAN_PROBE_MS ? left : PLAN_PROBE_MS);
	int r = ep_conn_open(wf->root, json_object_get(p, "cluster"), NULL, deadline, NULL, NULL,
			     &c, err);
	if (r >= 0 && strv_fill(json_object_get(p, "peer_urls"), &urls) < 0)
		r = ep_error_set(err, -ENOMEM, "out of memory");
	if (r >= 0) {
		const struct ep_join_check in = {
			.name = wf->spec->name,
			.peer_urls = (const char *const *)urls.v,
			.n_peer_urls = urls.n,
			.remove_dead = wf->remove_dead,
			.replace = wf->replace,
		};
		r = ep_join_cluster_check(&c.ca, &in, wf->log, wf->userdata, NULL, err);
	}
	ep_strv_release(&urls);
	ep_conn_close(&c);
	return r < 0 ? ep_error_prefix(err, "[preflight] the cluster") : 0;
}

static int preflight_plan(struct ep_wf *wf, struct ep_error *err)
{
	struct ep_spec *spec = wf->spec;
	ep_wf_say(wf, "[preflight] Running pre-flight checks");
	int r;
	bool systemctl_usable = true;
	if (is_systemd(wf)) {
		if ((r = ep_wf_systemd_check(wf, &systemctl_usable, err)) < 0)
			return r;
		if (!systemctl_usable && !wf->dry_run && !wf->checks[wf->nchecks - 1].ignored)
			return 0;
		if ((r = ep_wf_settle_version(wf, err)) < 0)
			return r;
	}
	if (!ep_manifest_version_supported(spec->etcd_version))
		return ep_error_usage(err, -EINVAL,
				      "[preflight] etcd version '%s' is not supported: etcdpilot "
				      "runs 3.4, 3.5 and 3.6; set --etcd-version",
				      spec->etcd_version ? spec->etcd_version : "");
	if (ep_root_is_real(wf->root) && geteuid() != 0 &&
	    ep_wf_check_fail(wf, "IsPrivilegedUser", -EPERM,
			     "this must run as root: it writes under /etc and /var/lib; run it with "
			     "sudo, or pass --root DIR to work on a directory tree") < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if ((r = ca_check(wf, err)) < 0)
		return r;
	/* the files of a member: their paths now, their content once the member is added */
	if ((r = wf->rt->render(&wf->rtctx, NULL, &wf->files, err)) < 0)
		return r;
	_cleanup_free_ char *manifest = NULL;
	if (asprintf(&manifest, "%s/etcd.yaml", spec->manifest_dir) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (is_systemd(wf) && ep_root_exists(wf->root, manifest))
		return ep_error_set(err, -EEXIST,
				    "[preflight] this node runs etcd as a static pod (%s); nothing "
				    "was changed: run 'etcdpilot reset' first, or join in static-pod "
				    "mode", manifest);
	if ((r = installed_check(wf, err)) < 0)
		return r;
	if (is_systemd(wf) && wf->files_in_place && systemctl_usable) {
		struct ep_systemctl sc = { .program = wf->systemctl, .root = wf->root,
					   .timeout_ms = 10000 };
		char state[32] = "";
		if ((r = ep_systemctl_is_active(&sc, EP_UNIT_NAME, &wf->member_running, state,
						err)) < 0)
			return r;
	}
	if (!wf->files_in_place && (r = ep_wf_new_member_checks(wf, err)) < 0)
		return r;
	for (size_t i = 0; i < wf->nchecks; i++)
		if (!wf->checks[i].ignored && !wf->dry_run)
			return 0; /* stopped here: no cluster call for a node that fails its checks */
	return cluster_now(wf, err);
}

static const struct ep_phase preflight_phase = {
	.name = "preflight",
	.help = "check the node (as init) and the CA; probe the cluster when this node can",
	.modes = EP_PHASE_ANY,
	.plan = preflight_plan,
};

static const struct ep_phase install_phase = {
	.name = "install",
	.help = "a verified etcd, etcdctl and etcdutl in the bin dir (--etcd-binary or a release)",
	.modes = EP_PHASE_SYSTEMD,
	.plan = ep_wf_install_plan,
};

/* ---- certs ------------------------------------------------------------------------- */

static int certs_plan(struct ep_wf *wf, struct ep_error *err)
{
	int r;
	unsigned mask = EP_CERT_LEAVES;
	bool ca_coming = false;
	if (wf->bundle) {
		bool changed = false;
		r = ep_pki_bundle_install(wf->spec, wf->root, wf->bundle, true, &changed, NULL, NULL,
					  err);
		if (r < 0)
			return r;
		if (changed) {
			ca_coming = true;
			json_t *p = json_pack("{s:s, s:s, s:s}", "cert_dir", wf->spec->cert_dir,
					      "ca_sha256", wf->bundle->info.ca_sha256, "file",
					      wf->ca_bundle);
			if ((r = ep_plan_add(wf->plan, "certs", "pki.ca-bundle", p,
					     "the cluster's CA, from the bundle", err)) < 0)
				return r;
		}
	}
	if (!ca_coming) {
		/* the CA is there: ask which pairs would be written */
		unsigned written = 0;
		r = ep_pki_generate_ex(wf->spec, wf->root, EP_CERT_LEAVES, true, log_dry, wf,
				       &written, err);
		if (r < 0)
			return r;
		mask = written;
	}
	if (!mask)
		return 0;
	json_t *pairs = json_array();
	for (unsigned id = 0; pairs && id < EP_CERT_COUNT; id++)
		if (mask & EP_CERT_BIT(id))
			json_array_append_new(pairs, json_string(ep_cert_profile(id)->name));
	json_t *params = pairs ? json_pack("{s:o, s:s}", "pairs", pairs, "cert_dir",
					   wf->spec->cert_dir)
			       : NULL;
	r = ep_plan_add(wf->plan, "certs", "pki.ensure", params,
			"this node's certificates, signed by the cluster's CA (valid ones are reused)",
			err);
	return r < 0 ? r : 0;
}

static const struct ep_phase certs_phase = {
	.name = "certs",
	.help = "the cluster's CA (--ca-bundle) and this node's certificates from it",
	.modes = EP_PHASE_ANY,
	.plan = certs_plan,
};

/* ---- cluster-check, member-add ---------------------------------------------------- */

static int check_plan(struct ep_wf *wf, struct ep_error *err)
{
	if (wf->files_in_place)
		return 0;
	json_t *p = cluster_params(wf, true);
	if (p && wf->remove_dead)
		json_object_set_new(p, "remove_dead", json_string(wf->remove_dead));
	if (p && wf->replace)
		json_object_set_new(p, "replace", json_true());
	int r = ep_plan_add(wf->plan, "cluster-check", "cluster.check", p,
			    "etcd 3.4 and 3.5 refuse every membership change while a voting "
			    "member is down: know it before adding one", err);
	if (r >= 0 && wf->remove_dead) {
		json_t *e = cluster_params(wf, false);
		if (e)
			json_object_set_new(e, "member", json_string(wf->remove_dead));
		r = ep_plan_add(wf->plan, "cluster-check", "member.evict", e,
				"--remove-dead: a member that is gone for good blocks every join",
				err);
	}
	if (r >= 0 && wf->replace) {
		json_t *e = cluster_params(wf, true);
		if (e)
			json_object_set_new(e, "replace", json_true());
		r = ep_plan_add(wf->plan, "cluster-check", "member.evict", e,
				"--replace: an old member with this node's name or peer URL", err);
	}
	return r < 0 ? r : 0;
}

static const struct ep_phase check_phase = {
	.name = "cluster-check",
	.help = "probe every member; --remove-dead / --replace remove the member in the way",
	.modes = EP_PHASE_ANY,
	.plan = check_plan,
};

static int add_plan(struct ep_wf *wf, struct ep_error *err)
{
	if (wf->files_in_place)
		return 0;
	json_t *p = cluster_params(wf, true);
	if (p)
		json_object_set_new(p, "learner", json_true());
	int r = ep_plan_add(wf->plan, "member-add", "member.add", p,
			    "a learner cannot cost the cluster its quorum", err);
	return r < 0 ? r : 0;
}

static const struct ep_phase add_phase = {
	.name = "member-add",
	.help = "add this node's member as a learner (one never started is taken)",
	.modes = EP_PHASE_ANY,
	.plan = add_plan,
};

/* ---- etcd: data dir and the runtime's files ---------------------------------------- */

static int files_plan(struct ep_wf *wf, struct ep_error *err)
{
	if (wf->files_in_place)
		return 0;
	int r = 0;
	if (ep_root_dir_empty_or_absent(wf->root, wf->spec->data_dir))
		r = ep_plan_add(wf->plan, "etcd", "etcd.data-dir",
				json_pack("{s:s, s:s}", "path", wf->spec->data_dir, "mode", "0700"),
				"etcd's data directory, 0700", err);
	if (r >= 0)
		r = ep_wf_parents_plan(wf, err);
	if (r < 0)
		return r;
	json_t *files = json_array();
	for (size_t i = 0; files && i < wf->files.n; i++) {
		char m[8];
		snprintf(m, sizeof(m), "%04o", (unsigned)wf->files.v[i].mode);
		json_array_append_new(files, json_pack("{s:s, s:s, s:b}", "path",
						       wf->files.v[i].path, "mode", m,
						       "hidden_rename", wf->files.v[i].hidden_rename));
	}
	_cleanup_free_ char *local = ep_manifest_local_client_url(wf->spec);
	json_t *p = cluster_params(wf, true);
	if (p && files && local) {
		json_object_set_new(p, "files", files);
		json_object_set_new(p, "mode", json_string(ep_mode_name(wf->spec->mode)));
		json_object_set_new(p, "local", json_string(local));
		if (wf->spec->data_dir)
			json_object_set_new(p, "data_dir", json_string(wf->spec->data_dir));
	} else {
		json_decref(files);
		json_decref(p);
		p = NULL;
	}
	r = ep_plan_add(wf->plan, "etcd", "runtime.files", p,
			is_systemd(wf) ? "the unit, its environment and the etcdctl wrapper"
				       : "the kubelet starts the static pod whose manifest appears",
			err);
	/* the unit is written (by runtime.files): the start phase reloads and starts it */
	wf->etcd_changed = true;
	return r < 0 ? r : 0;
}

static const struct ep_phase etcd_phase = {
	.name = "etcd",
	.help = "the data dir and the static pod manifest (or the unit and its environment)",
	.modes = EP_PHASE_ANY,
	.plan = files_plan,
};

static const struct ep_phase start_phase = {
	.name = "start",
	.help = "systemctl daemon-reload and enable --now",
	.modes = EP_PHASE_SYSTEMD,
	.plan = ep_wf_start_plan,
};

/* ---- promote, wait ----------------------------------------------------------------- */

static int promote_plan(struct ep_wf *wf, struct ep_error *err)
{
	int r = ep_plan_add(wf->plan, "promote", "member.promote", cluster_params(wf, true),
			    "a learner votes once it has caught up with the leader", err);
	return r < 0 ? r : 0;
}

static const struct ep_phase promote_phase = {
	.name = "promote",
	.help = "wait until the learner has started and caught up, then promote it",
	.modes = EP_PHASE_ANY,
	.plan = promote_plan,
};

static int wait_plan(struct ep_wf *wf, struct ep_error *err)
{
	int r = ep_plan_add(wf->plan, "wait", "wait.cluster", cluster_params(wf, false),
			    "the join is done when the whole cluster is healthy", err);
	return r < 0 ? r : 0;
}

static const struct ep_phase wait_phase = {
	.name = "wait",
	.help = "wait until every member is healthy (the whole join takes at most --timeout)",
	.modes = EP_PHASE_ANY,
	.plan = wait_plan,
};

static const struct ep_phase *const join_phases[] = {
	&preflight_phase, &install_phase, &certs_phase,   &check_phase, &add_phase,
	&etcd_phase,      &start_phase,   &promote_phase, &wait_phase,  NULL,
};

const struct ep_workflow ep_workflow_join = {
	.command = "join",
	.phases = join_phases,
};
