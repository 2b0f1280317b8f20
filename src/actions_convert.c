/*
 * actions_convert.c - the action types of `etcdpilot convert` (plan.h):
 *
 *   convert.copy       {from, to, mode}: copy a TLS file (a key too: its
 *                      bytes never enter the journal) into kubeadm's
 *                      layout; undo removes the copy only when the path was
 *                      free before (journalled before the copy);
 *   convert.mark       {what}: remember when the member's downtime begins
 *                      (wall clock, journalled: a resumed run still measures
 *                      from the first stop); changes nothing;
 *   convert.manifest   {path, content, local}: write the static pod
 *                      manifest (hidden name, then a rename, as the kubelet
 *                      reads every other file); undo removes it and waits
 *                      until the pod no longer answers at @local, so that
 *                      the unit restarted next finds its ports free;
 *   convert.wait-member {cluster, id, local, timeout_ms, max_lag}: wait
 *                      until the member with that ID - the same member, not
 *                      a new one - answers at @local, is healthy, serves a
 *                      linearizable read and is within @max_lag raft
 *                      entries of the leader; says how long the member was
 *                      unavailable since convert.mark.
 *
 * They own only these checks; the order and the choice of files is the
 * workflow's (workflow_convert.c).  Never prints: lines go to the run's log.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "actions_internal.h"
#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/plan.h"
#include "plan_internal.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

#define STOP_WAIT_MS 60000

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void add_param(struct ep_strbuf *out, const json_t *params, const char *key)
{
	const char *s = ep_param_str(params, key);
	ep_strbuf_add_escaped(out, s ? s : "?", strlen(s ? s : "?"));
}

/* ---- convert.copy ------------------------------------------------------------------ */

static int copy_check(const json_t *params, struct ep_error *err)
{
	unsigned mode;
	int r = ep_param_check_path(params, "convert.copy", "from", err);
	if (r >= 0)
		r = ep_param_check_path(params, "convert.copy", "to", err);
	if (r >= 0 && !ep_param_mode(params, "mode", &mode))
		r = ep_error_set(err, -EINVAL, "a 'convert.copy' action needs an octal 'mode'");
	return r;
}

static void copy_describe(const json_t *params, struct ep_strbuf *out)
{
	unsigned mode = 0;
	ep_param_mode(params, "mode", &mode);
	ep_strbuf_adds(out, "copy ");
	add_param(out, params, "from");
	ep_strbuf_adds(out, " to ");
	add_param(out, params, "to");
	ep_strbuf_addf(out, " (mode %04o)", mode);
}

static bool same_bytes(const char *root, const char *a, const char *b)
{
	_cleanup_free_ char *x = NULL, *y = NULL;
	size_t lx = 0, ly = 0;
	bool same = ep_pfs_read(root, a, 1u << 20, &x, &lx, NULL) == 0 &&
		    ep_pfs_read(root, b, 1u << 20, &y, &ly, NULL) == 0 && lx == ly &&
		    !memcmp(x, y, lx);
	if (x)
		OPENSSL_cleanse(x, lx);
	if (y)
		OPENSSL_cleanse(y, ly);
	return same;
}

static int copy_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		      struct ep_error *err)
{
	const char *from = ep_param_str(params, "from"), *to = ep_param_str(params, "to");
	unsigned mode = 0600;
	ep_param_mode(params, "mode", &mode);
	int r;
	if (!json_object_get(undo, "existed")) {
		json_object_set_new(undo, "existed", json_boolean(ep_root_exists(ctx->root, to)));
		if ((r = ep_apply_checkpoint(ctx, err)) < 0)
			return r;
	}
	if (json_is_true(json_object_get(undo, "existed"))) {
		if (same_bytes(ctx->root, from, to)) {
			json_object_clear(undo);
			return EP_APPLY_SKIPPED;
		}
		return ep_error_set(err, -EEXIST, "%s already holds another file; it is not this "
						  "run's to replace: move it away and run again", to);
	}
	_cleanup_free_ char *dir = ep_path_dirname(to);
	if (!dir)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (!ep_root_exists(ctx->root, dir)) {
		if ((r = ep_pfs_mkdir_p(ctx->root, dir, 0755, err)) < 0)
			return r;
		json_object_set_new(undo, "made_dir", json_string(dir));
	}
	return ep_pfs_copy(ctx->root, from, to, mode, err);
}

static int copy_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		     struct ep_error *err)
{
	if (!json_is_false(json_object_get(undo, "existed")))
		return 0; /* never copied, or the file was there before: not ours */
	const char *to = ep_param_str(params, "to");
	int r = ep_pfs_unlink(ctx->root, to, err);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0)
		ep_apply_log(ctx, "[rollback] Removed %s", to);
	const char *dir = ep_param_str(undo, "made_dir");
	if (dir && ep_pfs_dir_empty(ctx->root, dir))
		(void)ep_pfs_rmdir(ctx->root, dir);
	if (err)
		memset(err, 0, sizeof(*err));
	return 0;
}

static const struct ep_action_type copy_type = {
	.name = "convert.copy",
	.reversible = true,
	.changes = true,
	.check = copy_check,
	.describe = copy_describe,
	.apply = copy_apply,
	.undo = copy_undo,
};

/* ---- convert.mark ------------------------------------------------------------------ */

static void mark_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_adds(out, "note the time: ");
	add_param(out, params, "what");
}

static int mark_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		      struct ep_error *err)
{
	(void)ctx, (void)params, (void)err;
	if (!json_object_get(undo, "t_ms"))
		json_object_set_new(undo, "t_ms", json_integer((json_int_t)wall_ms()));
	return 0;
}

static int wait_back(struct ep_apply_ctx *ctx, const json_t *params, uint64_t timeout,
		     struct ep_error *err);

/*
 * The mark comes right before the member is stopped, so its undo runs right
 * after everything that stopped it was undone (the manifest back, or the
 * unit started): with "back" {cluster, id, local, max_lag, timeout_ms} it
 * waits until the member serves again, so that an undone conversion ends
 * with the member as it was - running - and not with a pod the kubelet may
 * still be starting.
 */
static int mark_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		     struct ep_error *err)
{
	(void)undo;
	const json_t *back = json_object_get(params, "back");
	if (!json_is_object(back))
		return 0;
	uint64_t timeout = (uint64_t)json_integer_value(json_object_get(back, "timeout_ms"));
	ep_apply_log(ctx, "[rollback] Waiting until member %s serves again at %s",
		     ep_param_str(back, "id") ?: "?", ep_param_str(back, "local") ?: "?");
	int r = wait_back(ctx, back, timeout ? timeout : 60000, err);
	if (r < 0)
		return r;
	ep_apply_log(ctx, "[rollback] Member %s is back, healthy and caught up",
		     ep_param_str(back, "id"));
	return 0;
}

static const struct ep_action_type mark_type = {
	.name = "convert.mark",
	.reversible = true,
	.changes = false,
	.describe = mark_describe,
	.apply = mark_apply,
	.undo = mark_undo,
};

/* ---- convert.manifest -------------------------------------------------------------- */

static int manifest_check(const json_t *params, struct ep_error *err)
{
	int r = ep_param_check_path(params, "convert.manifest", "path", err);
	if (r >= 0 && !ep_param_str(params, "content"))
		r = ep_error_set(err, -EINVAL, "a 'convert.manifest' action needs 'content'");
	if (r >= 0 && !ep_param_str(params, "local"))
		r = ep_error_set(err, -EINVAL, "a 'convert.manifest' action needs 'local'");
	return r;
}

static void manifest_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_adds(out, "write the static pod manifest ");
	add_param(out, params, "path");
	ep_strbuf_adds(out, " (mode 0600; the kubelet starts the pod)");
}

static int manifest_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			  struct ep_error *err)
{
	const char *path = ep_param_str(params, "path"), *content = ep_param_str(params, "content");
	size_t len = strlen(content);
	int r;
	if (!json_object_get(undo, "existed")) {
		json_object_set_new(undo, "existed", json_boolean(ep_root_exists(ctx->root, path)));
		if ((r = ep_apply_checkpoint(ctx, err)) < 0)
			return r;
	}
	_cleanup_free_ char *have = NULL;
	size_t hlen = 0;
	bool there = ep_pfs_read(ctx->root, path, 1u << 20, &have, &hlen, NULL) == 0;
	if (there && hlen == len && !memcmp(have, content, len))
		return 0;
	if (json_is_true(json_object_get(undo, "existed")))
		return ep_error_set(err, -EEXIST, "%s is already there with other content; it is "
						  "not this run's to replace: run 'etcdpilot reset' "
						  "or move it away first", path);
	return ep_pfs_write(ctx->root, path, content, len, 0600, true, err);
}

static int manifest_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			 struct ep_error *err)
{
	if (!json_is_false(json_object_get(undo, "existed")))
		return 0;
	const char *path = ep_param_str(params, "path");
	_cleanup_free_ char *hidden = ep_pfs_hidden_name(path);
	if (hidden)
		(void)ep_pfs_unlink(ctx->root, hidden, NULL);
	int r = ep_pfs_unlink(ctx->root, path, err);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0)
		ep_apply_log(ctx, "[rollback] Removed %s", path);
	/* the kubelet stops the pod of a manifest that is gone: its ports must be free */
	r = ep_wait_member_down(ctx->root, ep_param_str(params, "local"),
				ep_param_str(params, "data_dir"), true, ep_now_ms() + STOP_WAIT_MS, err);
	if (r < 0)
		return ep_error_prefix(err, "the kubelet did not stop the etcd pod");
	ep_apply_log(ctx, "[rollback] The etcd pod has stopped");
	return 0;
}

static const struct ep_action_type manifest_type = {
	.name = "convert.manifest",
	.reversible = true,
	.changes = true,
	.check = manifest_check,
	.describe = manifest_describe,
	.apply = manifest_apply,
	.undo = manifest_undo,
};

/* ---- convert.wait-member ------------------------------------------------------------ */

static int wm_check(const json_t *params, struct ep_error *err)
{
	int r = ep_cluster_json_check(params, "convert.wait-member", err);
	if (r >= 0 && (!ep_param_str(params, "id") || !ep_param_str(params, "local")))
		r = ep_error_set(err, -EINVAL, "a 'convert.wait-member' action needs 'id' and "
					       "'local'");
	if (r >= 0 && !json_is_integer(json_object_get(params, "timeout_ms")))
		r = ep_error_set(err, -EINVAL, "a 'convert.wait-member' action needs 'timeout_ms'");
	return r;
}

static void wm_describe(const json_t *params, struct ep_strbuf *out)
{
	json_int_t ms = json_integer_value(json_object_get(params, "timeout_ms"));
	ep_strbuf_adds(out, "wait until member ");
	add_param(out, params, "id");
	ep_strbuf_adds(out, " answers at ");
	add_param(out, params, "local");
	ep_strbuf_addf(out, ", healthy and within %lld raft entries of the leader (at most %llds)",
		       (long long)json_integer_value(json_object_get(params, "max_lag")),
		       (long long)(ms + 999) / 1000);
}

/*
 * One look: 1 when the member is back and caught up, 0 not yet (@why says
 * what is missing), -errno for a failure no wait mends.
 */
static int wm_once(struct ep_client *local_c, const char *local, struct ep_conn *c, uint64_t id,
		   uint64_t max_lag, char *why, size_t whylen)
{
	struct ep_status st = { 0 };
	struct ep_error e = { 0 };
	ep_client_set_timeout(local_c, 2000);
	int r = ep_maintenance_status(local_c, local, &st, &e);
	if (r < 0) {
		snprintf(why, whylen, "%.100s: %.300s", local, e.msg);
		return 0;
	}
	uint64_t got = st.member_id;
	bool leader = st.leader != 0;
	ep_status_release(&st);
	if (got != id) {
		char a[17], b[17];
		snprintf(why, whylen, "%s answers as member %s, not %s", local,
			 ep_member_id_hex(got, a), ep_member_id_hex(id, b));
		return -EEXIST;
	}
	if (!leader) {
		snprintf(why, whylen, "member has no leader yet");
		return 0;
	}
	if (ep_kv_range(local_c, local, "health", 6, NULL, 0, false, true, 1, NULL, &e) < 0 &&
	    e.code != -EACCES) {
		snprintf(why, whylen, "no linearizable read yet: %.300s", e.msg);
		return 0;
	}
	struct ep_health_report hr = { 0 };
	r = ep_health_probe(c->client, c->ca.endpoints, c->ca.n_endpoints, 3000,
			    EP_HEALTH_STATUS_ONLY, &hr, &e);
	if (r < 0) {
		snprintf(why, whylen, "the cluster: %.300s", e.msg);
		return 0;
	}
	int out = 0;
	snprintf(why, whylen, "member not in the cluster's answer");
	for (size_t i = 0; i < hr.n; i++) {
		const struct ep_member_health *m = &hr.v[i];
		if (m->member.id != id)
			continue;
		if (!m->status_ok)
			snprintf(why, whylen, "status: %s", m->error ? m->error : "no answer");
		else if (!hr.leader)
			snprintf(why, whylen, "the cluster has no leader");
		else if (m->raft_lag > max_lag)
			snprintf(why, whylen, "%" PRIu64 " raft entries behind the leader",
				 m->raft_lag);
		else
			out = 1;
	}
	ep_health_report_release(&hr);
	return out;
}

/*
 * Until member @p.id answers at @p.local, healthy and within @p.max_lag raft
 * entries of the leader, asking the cluster @p.cluster; at most @timeout ms.
 * 0, or -ETIMEDOUT (or another -errno) with @err.
 */
static int wait_back(struct ep_apply_ctx *ctx, const json_t *params, uint64_t timeout,
		     struct ep_error *err)
{
	uint64_t deadline = ep_now_ms() + timeout;
	uint64_t id = 0;
	if (ep_member_id_parse(ep_param_str(params, "id"), &id) < 0)
		return ep_error_set(err, -EINVAL, "convert.wait-member: bad 'id'");
	uint64_t max_lag = (uint64_t)json_integer_value(json_object_get(params, "max_lag"));
	const json_t *cluster = json_object_get(params, "cluster");
	const char *local = ep_param_str(params, "local");
	struct ep_tls tls = { 0 };
	/* libcurl opens the TLS files by these paths */
	if (ep_root_path(ctx->root, json_string_value(json_object_get(cluster, "cacert")),
			 &tls.cacert, err) < 0 ||
	    ep_root_path(ctx->root, json_string_value(json_object_get(cluster, "cert")), &tls.cert,
			 err) < 0 ||
	    ep_root_path(ctx->root, json_string_value(json_object_get(cluster, "key")), &tls.key,
			 err) < 0) {
		ep_tls_release(&tls);
		return err ? err->code : -EINVAL;
	}
	if (!json_is_true(json_object_get(cluster, "node_paths"))) {
		ep_tls_release(&tls);
		tls.cacert = strdup(json_string_value(json_object_get(cluster, "cacert")));
		tls.cert = strdup(json_string_value(json_object_get(cluster, "cert")));
		tls.key = strdup(json_string_value(json_object_get(cluster, "key")));
	}
	struct ep_client *lc = NULL;
	int r = ep_client_new(&tls, 2000, &lc, err);
	ep_tls_release(&tls);
	if (r < 0)
		return r;
	struct ep_conn c = { 0 };
	char why[512] = "not asked yet";
	r = 0;
	uint64_t pause = 20;
	for (;;) {
		if (!c.client) {
			struct ep_error cerr = { 0 };
			uint64_t d = ep_now_ms() + 3000;
			if (ep_conn_open(ctx->root, cluster, NULL, d < deadline ? d : deadline, NULL,
					 NULL, &c, &cerr) < 0) {
				ep_conn_close(&c);
				memset(&c, 0, sizeof(c));
				snprintf(why, sizeof(why), "the cluster: %.400s", cerr.msg);
			}
		}
		if (c.client) {
			r = wm_once(lc, local, &c, id, max_lag, why, sizeof(why));
			if (r != 0)
				break;
		}
		if (ep_ms_left(deadline) <= pause) {
			r = -ETIMEDOUT;
			break;
		}
		ep_sleep_ms(pause);
		pause = pause < 100 ? pause * 2 : 100;
	}
	ep_conn_close(&c);
	ep_client_free(lc);
	if (r < 0)
		return ep_error_set(err, r, "member %s did not come back healthy and caught up "
					    "within %llus: %s",
				    ep_param_str(params, "id"),
				    (unsigned long long)(timeout + 999) / 1000, why);
	return 0;
}

static int wm_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		    struct ep_error *err)
{
	uint64_t timeout = (uint64_t)json_integer_value(json_object_get(params, "timeout_ms"));
	uint64_t left = ep_ms_left(ctx->deadline_ms);
	if (ctx->deadline_ms && left < timeout)
		timeout = left;
	int r = wait_back(ctx, params, timeout, err);
	if (r < 0)
		return r;
	const json_t *mark = ep_apply_prior_undo(ctx, "convert.mark");
	json_int_t t0 = mark ? json_integer_value(json_object_get(mark, "t_ms")) : 0;
	if (t0 > 0) {
		uint64_t down = wall_ms() - (uint64_t)t0;
		json_object_set_new(undo, "downtime_ms", json_integer((json_int_t)down));
		ep_apply_log(ctx, "[wait] Member %s is back, healthy and caught up; it was "
				  "unavailable for %llu.%03llus (from the stop to linearizable reads)",
			     ep_param_str(params, "id"), (unsigned long long)down / 1000,
			     (unsigned long long)down % 1000);
	} else {
		ep_apply_log(ctx, "[wait] Member %s is back, healthy and caught up",
			     ep_param_str(params, "id"));
	}
	return 0;
}

static int wm_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		   struct ep_error *err)
{
	(void)ctx, (void)params, (void)undo, (void)err;
	return 0;
}

static const struct ep_action_type wait_member_type = {
	.name = "convert.wait-member",
	.reversible = true,
	.changes = false,
	.check = wm_check,
	.describe = wm_describe,
	.apply = wm_apply,
	.undo = wm_undo,
};

const struct ep_action_type *const ep_plan_convert_types[] = {
	&copy_type, &mark_type, &manifest_type, &wait_member_type, NULL,
};
