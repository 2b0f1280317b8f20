/*
 * actions_node.c - the action types that wrap this node's own library
 * calls (plan.h): "pki.ensure" (ep_pki_generate_ex), "install.etcd"
 * (ep_install_etcd) and "wait.healthy" (ep_wait_healthy, with the
 * runtime's diagnosis when the member does not come up).
 *
 * Each keeps to the contract of plan.h: apply is idempotent and journals
 * what its undo needs before it changes anything; undo tolerates a partial
 * apply.  No private key ever goes into the params or the journal: pki.ensure
 * names the pairs and lets src/pki* write them.  apply reads the node spec
 * from the context (a resume runs with the same flags and config); undo
 * works from the journal alone, so that --rollback needs neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/install.h"
#include "etcdpilot/pki.h"
#include "etcdpilot/plan.h"
#include "plan_internal.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

static int need_spec(const struct ep_apply_ctx *ctx, const char *type, struct ep_error *err)
{
	if (ctx->spec)
		return 0;
	return ep_error_usage(err, -EINVAL,
			      "%s needs this node's settings: resume with the same flags and "
			      "--config as the interrupted run", type);
}

/* ---- pki.ensure {pairs: ["etcd-ca", ...], cert_dir} -------------------------- */

static int pki_mask(const json_t *params, unsigned *ret, struct ep_error *err)
{
	const json_t *pairs = json_object_get(params, "pairs");
	size_t i;
	const json_t *v;
	*ret = 0;
	if (!json_is_array(pairs) || !json_array_size(pairs))
		return ep_error_set(err, -EINVAL, "a 'pki.ensure' action needs 'pairs', a list of "
						  "certificate names");
	json_array_foreach(pairs, i, v) {
		enum ep_cert_id id;
		if (!json_is_string(v) || ep_cert_lookup(json_string_value(v), &id) < 0)
			return ep_error_set(err, -EINVAL, "'pki.ensure': unknown certificate '%s'",
					    json_is_string(v) ? json_string_value(v) : "?");
		*ret |= EP_CERT_BIT(id);
	}
	return 0;
}

static int pki_check(const json_t *params, struct ep_error *err)
{
	unsigned mask;
	int r = pki_mask(params, &mask, err);
	if (r >= 0)
		r = ep_param_check_path(params, "pki.ensure", "cert_dir", err);
	return r;
}

static void pki_describe(const json_t *params, struct ep_strbuf *out)
{
	const json_t *pairs = json_object_get(params, "pairs");
	size_t i;
	const json_t *v;
	ep_strbuf_adds(out, "generate ");
	json_array_foreach(pairs, i, v) {
		enum ep_cert_id id;
		const char *n = json_string_value(v);
		const struct ep_cert_profile *p =
			n && ep_cert_lookup(n, &id) == 0 ? ep_cert_profile(id) : NULL;
		ep_strbuf_addf(out, "%s\"%s\"", i ? ", " : "", p ? p->base : "?");
	}
	const char *dir = ep_param_str(params, "cert_dir");
	ep_strbuf_adds(out, json_array_size(pairs) > 1 ? " certificates and keys in "
						       : " certificate and key in ");
	ep_strbuf_add_escaped(out, dir ? dir : "?", strlen(dir ? dir : "?"));
}

/*
 * Open the directory @path of the root for pki_absent(): 0 with *@fd, 1 when
 * nothing is there, or -ENOTDIR with @err when something is there that does
 * not lead to a directory - a symlink whose target is missing, say, which
 * would make every file under it look absent.
 */
static int pki_open_dir(const char *root, const char *path, int *fd, struct ep_error *err)
{
	int r = ep_root_open_dir(root, path, false, 0, fd, NULL, NULL);
	if (r >= 0)
		return 0;
	if (r == -ENOENT && !ep_root_exists(root, path))
		return 1;
	_cleanup_free_ char *real = NULL;
	(void)ep_root_path(root, path, &real, NULL);
	return ep_error_set(err, r == -ENOENT ? -ENOTDIR : r,
			    "'%s' is there but does not lead to a directory (%s); make it a "
			    "directory, or remove it, and re-run",
			    real ? real : path, r == -ENOENT ? "a symbolic link to nothing" :
							       strerror(-r));
}

/*
 * What of the pairs in @mask is not in @cert_dir yet - the files, then
 * <cert_dir>/etcd and @cert_dir themselves - appended to @absent as node
 * paths: what undo removes.  Each directory is opened once and its entries
 * looked at through that descriptor, without following a symlink in the
 * last component: a directory swapped for a link, or a dangling link, can
 * never make a file that is there look absent (undo would delete it).
 */
static int pki_absent(const char *root, const char *cert_dir, unsigned mask, json_t *absent,
		      struct ep_error *err)
{
	_cleanup_free_ char *etcd_dir = NULL;
	if (asprintf(&etcd_dir, "%s/etcd", cert_dir) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	_cleanup_close_ int top = -1, sub = -1;
	int r = pki_open_dir(root, cert_dir, &top, err);
	int rs = r == 0 ? pki_open_dir(root, etcd_dir, &sub, err) : 1;
	if (r < 0 || rs < 0)
		return r < 0 ? r : rs;
	bool bad = false;
	for (unsigned id = 0; id < EP_CERT_COUNT; id++) {
		if (!(mask & EP_CERT_BIT(id)))
			continue;
		const struct ep_cert_profile *p = ep_cert_profile(id);
		bool in_etcd = !strncmp(p->base, "etcd/", 5);
		int dfd = in_etcd ? sub : top;
		const char *name = in_etcd ? p->base + 5 : p->base;
		for (int k = 0; k < 2; k++) {
			_cleanup_free_ char *path = NULL, *base = NULL;
			if (asprintf(&path, "%s/%s.%s", cert_dir, p->base, k ? "key" : "crt") < 0 ||
			    asprintf(&base, "%s.%s", name, k ? "key" : "crt") < 0)
				return ep_error_set(err, -ENOMEM, "out of memory");
			struct stat st;
			if (strchr(name, '/'))
				return ep_error_set(err, -EINVAL, "unexpected certificate path '%s'",
						    p->base);
			if (dfd >= 0 && fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
				continue;
			if (dfd >= 0 && errno != ENOENT) {
				int e = errno;
				return ep_error_set(err, -e, "inspecting '%s': %s", path, strerror(e));
			}
			bad |= json_array_append_new(absent, json_string(path)) < 0;
		}
	}
	if (rs == 1)
		bad |= json_array_append_new(absent, json_string(etcd_dir)) < 0;
	if (r == 1)
		bad |= json_array_append_new(absent, json_string(cert_dir)) < 0;
	return bad ? ep_error_set(err, -ENOMEM, "out of memory") : 0;
}

static int pki_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		     struct ep_error *err)
{
	unsigned mask;
	int r = pki_mask(params, &mask, err);
	if (r < 0 || (r = need_spec(ctx, "pki.ensure", err)) < 0)
		return r;
	if (!json_object_get(undo, "absent")) {
		/* What was not there before this run: what undo removes. */
		json_t *absent = json_array();
		if (!absent)
			return ep_error_set(err, -ENOMEM, "out of memory");
		r = pki_absent(ctx->root, ep_param_str(params, "cert_dir"), mask, absent, err);
		if (r < 0) {
			json_decref(absent);
			return r;
		}
		json_object_set_new(undo, "absent", absent);
		if ((r = ep_apply_checkpoint(ctx, err)) < 0)
			return r;
	}
	unsigned written = 0;
	r = ep_pki_generate_ex(ctx->spec, ctx->root, mask, false, ctx->log, ctx->userdata, &written,
			       err);
	if (r < 0)
		return r;
	return written ? 0 : EP_APPLY_SKIPPED;
}

static int pki_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		    struct ep_error *err)
{
	(void)params;
	const json_t *absent = json_object_get(undo, "absent");
	size_t i;
	const json_t *v;
	/* files first, then the directories, deepest first (the order they were listed) */
	json_array_foreach(absent, i, v) {
		const char *path = json_string_value(v);
		struct stat st;
		if (!path || ep_pfs_stat(ctx->root, path, false, &st) < 0 || S_ISDIR(st.st_mode))
			continue;
		int r = ep_pfs_unlink(ctx->root, path, err);
		if (r < 0 && r != -ENOENT)
			return r;
		ep_apply_log(ctx, "[rollback] Removed %s", path);
	}
	json_array_foreach(absent, i, v) {
		const char *path = json_string_value(v);
		struct stat st;
		if (path && ep_pfs_stat(ctx->root, path, false, &st) == 0 && S_ISDIR(st.st_mode))
			ep_pfs_rmdir(ctx->root, path); /* only when empty: what else is there stays */
	}
	return 0;
}

static const struct ep_action_type pki_ensure_type = {
	.name = "pki.ensure",
	.reversible = true,
	.changes = true,
	.check = pki_check,
	.describe = pki_describe,
	.apply = pki_apply,
	.undo = pki_undo,
};

/* ---- install.etcd {version, bin_dir} ------------------------------------------ */

static const char *const binaries[] = { "etcd", "etcdctl", "etcdutl", NULL };

static int install_check(const json_t *params, struct ep_error *err)
{
	if (!ep_param_str(params, "version"))
		return ep_error_set(err, -EINVAL, "an 'install.etcd' action needs 'version'");
	return ep_param_check_path(params, "install.etcd", "bin_dir", err);
}

static void install_describe(const json_t *params, struct ep_strbuf *out)
{
	const char *dir = ep_param_str(params, "bin_dir");
	ep_strbuf_adds(out, "install etcd ");
	ep_strbuf_adds(out, ep_param_str(params, "version"));
	ep_strbuf_adds(out, " (etcd, etcdctl, etcdutl) into ");
	ep_strbuf_add_escaped(out, dir ? dir : "?", strlen(dir ? dir : "?"));
	const char *src = ep_param_str(params, "source");
	if (src) {
		ep_strbuf_adds(out, " from ");
		ep_strbuf_add_escaped(out, src, strlen(src));
	}
}

/* ".etcd.etcdpilot-old-<run id>": where the binary a run replaces waits for commit or undo. */
static char *backup_name(const char *bin, const char *run_id)
{
	char *s = NULL;
	return asprintf(&s, ".%s.etcdpilot-old-%s", bin, run_id) < 0 ? NULL : s;
}

static int install_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			 struct ep_error *err)
{
	int r = need_spec(ctx, "install.etcd", err);
	if (r < 0)
		return r;
	const char *bin_dir = ep_param_str(params, "bin_dir");
	if ((r = ep_root_mkdir_p(ctx->root, bin_dir, 0755, err)) < 0)
		return r;
	_cleanup_close_ int dfd = -1;
	if ((r = ep_root_open_dir(ctx->root, bin_dir, false, 0, &dfd, NULL, err)) < 0)
		return r;
	if (!json_object_get(undo, "existed")) {
		/*
		 * Keep each binary this run may replace as a hard link under a
		 * hidden name, so that undo can put it back and commit drop it.
		 */
		json_t *existed = json_array();
		if (!existed)
			return ep_error_set(err, -ENOMEM, "out of memory");
		json_object_set_new(undo, "existed", existed);
		for (size_t i = 0; binaries[i]; i++) {
			struct stat st;
			if (fstatat(dfd, binaries[i], &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			_cleanup_free_ char *b = backup_name(binaries[i], ep_apply_run_id(ctx));
			if (!b)
				return ep_error_set(err, -ENOMEM, "out of memory");
			if (linkat(dfd, binaries[i], dfd, b, 0) < 0 && errno != EEXIST)
				return ep_error_set(err, -errno, "keeping %s/%s for a rollback: %s",
						    bin_dir, binaries[i], strerror(errno));
			json_array_append_new(existed, json_string(binaries[i]));
		}
		if (fsync(dfd) < 0 && errno != EINVAL)
			return ep_error_set(err, -errno, "fsync of %s: %s", bin_dir, strerror(errno));
		if ((r = ep_apply_checkpoint(ctx, err)) < 0)
			return r;
	}
	struct ep_install_opts io = {
		.root = ctx->root,
		.want_version = ep_param_str(params, "version"),
		.log = ctx->log,
		.log_userdata = ctx->userdata,
	};
	struct ep_install_result res = { 0 };
	r = ep_install_etcd(ctx->spec, &io, &res, err);
	if (r < 0)
		return r;
	return res.changed || res.mode_fixed ? 0 : EP_APPLY_SKIPPED;
}

static bool in_list(const json_t *list, const char *s)
{
	size_t i;
	const json_t *v;
	json_array_foreach(list, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

static int install_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			struct ep_error *err)
{
	const json_t *existed = json_object_get(undo, "existed");
	if (!existed)
		return 0; /* it never got as far as keeping anything: nothing changed */
	const char *bin_dir = ep_param_str(params, "bin_dir");
	_cleanup_close_ int dfd = -1;
	int r = ep_root_open_dir(ctx->root, bin_dir, false, 0, &dfd, NULL, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; binaries[i]; i++) {
		_cleanup_free_ char *b = backup_name(binaries[i], ep_apply_run_id(ctx));
		if (!b)
			return ep_error_set(err, -ENOMEM, "out of memory");
		if (in_list(existed, binaries[i])) {
			if (renameat(dfd, b, dfd, binaries[i]) < 0 && errno != ENOENT)
				return ep_error_set(err, -errno, "putting %s/%s back: %s", bin_dir,
						    binaries[i], strerror(errno));
			/* two links to one file: rename(2) did nothing (the binary was never replaced) */
			(void)unlinkat(dfd, b, 0);
			ep_apply_log(ctx, "[rollback] Put the previous %s/%s back", bin_dir,
				     binaries[i]);
		} else if (unlinkat(dfd, binaries[i], 0) == 0) {
			ep_apply_log(ctx, "[rollback] Removed %s/%s", bin_dir, binaries[i]);
		} else if (errno != ENOENT) {
			return ep_error_set(err, -errno, "removing %s/%s: %s", bin_dir, binaries[i],
					    strerror(errno));
		}
	}
	if (fsync(dfd) < 0 && errno != EINVAL)
		return ep_error_set(err, -errno, "fsync of %s: %s", bin_dir, strerror(errno));
	return 0;
}

static int install_commit(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			  struct ep_error *err)
{
	(void)undo;
	const char *bin_dir = ep_param_str(params, "bin_dir");
	_cleanup_close_ int dfd = -1;
	int r = ep_root_open_dir(ctx->root, bin_dir, false, 0, &dfd, NULL, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; binaries[i]; i++) {
		_cleanup_free_ char *b = backup_name(binaries[i], ep_apply_run_id(ctx));
		if (!b)
			return ep_error_set(err, -ENOMEM, "out of memory");
		if (unlinkat(dfd, b, 0) < 0 && errno != ENOENT)
			return ep_error_set(err, -errno, "removing %s/%s: %s", bin_dir, b,
					    strerror(errno));
	}
	return 0;
}

static const struct ep_action_type install_type = {
	.name = "install.etcd",
	.reversible = true,
	.changes = true,
	.check = install_check,
	.describe = install_describe,
	.apply = install_apply,
	.undo = install_undo,
	.commit = install_commit,
};

/* ---- wait.healthy {endpoint, cacert, cert, key, timeout_ms, mode} -------------- */

static int wait_check(const json_t *params, struct ep_error *err)
{
	const char *ep = ep_param_str(params, "endpoint");
	if (!ep || strncmp(ep, "https://", 8))
		return ep_error_set(err, -EINVAL, "a 'wait.healthy' action needs an https 'endpoint'");
	int r = ep_param_check_path(params, "wait.healthy", "cacert", err);
	if (r >= 0)
		r = ep_param_check_path(params, "wait.healthy", "cert", err);
	if (r >= 0)
		r = ep_param_check_path(params, "wait.healthy", "key", err);
	if (r >= 0 && !json_is_integer(json_object_get(params, "timeout_ms")))
		r = ep_error_set(err, -EINVAL, "a 'wait.healthy' action needs 'timeout_ms'");
	return r;
}

static void wait_describe(const json_t *params, struct ep_strbuf *out)
{
	json_int_t ms = json_integer_value(json_object_get(params, "timeout_ms"));
	ep_strbuf_adds(out, "wait for the local etcd member to become healthy at ");
	ep_strbuf_adds(out, ep_param_str(params, "endpoint"));
	ep_strbuf_addf(out, " (at most %llds)", (long long)(ms + 999) / 1000);
}

static int wait_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		      struct ep_error *err)
{
	(void)undo;
	uint64_t timeout = (uint64_t)json_integer_value(json_object_get(params, "timeout_ms"));
	uint64_t left = ep_ms_left(ctx->deadline_ms);
	if (left < timeout)
		timeout = left;
	struct ep_tls tls = { 0 };
	int r = 0;
	/* libcurl opens the TLS files by these paths: not root-relative */
	if (ep_root_path(ctx->root, ep_param_str(params, "cacert"), &tls.cacert, err) < 0 ||
	    ep_root_path(ctx->root, ep_param_str(params, "cert"), &tls.cert, err) < 0 ||
	    ep_root_path(ctx->root, ep_param_str(params, "key"), &tls.key, err) < 0) {
		ep_tls_release(&tls);
		return err ? err->code : -EINVAL;
	}
	const char *endpoint = ep_param_str(params, "endpoint");
	uint64_t t0 = ep_now_ms();
	struct ep_error werr = { 0 };
	r = ep_wait_healthy(&tls, endpoint, timeout, &werr);
	ep_tls_release(&tls);
	if (r == 0) {
		uint64_t took = ep_now_ms() - t0;
		ep_apply_log(ctx, "[wait] The local etcd member is healthy after %llu.%03llus",
			     (unsigned long long)took / 1000, (unsigned long long)took % 1000);
		return 0;
	}
	/* etcd's own words are added by whoever watches the run (it diagnoses the runtime) */
	return ep_error_set(err, r, "the local etcd member did not become healthy within %llus: %s",
			    (unsigned long long)(timeout + 999) / 1000, werr.msg);
}

static int wait_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		     struct ep_error *err)
{
	(void)ctx, (void)params, (void)undo, (void)err;
	return 0; /* a wait changes nothing */
}

static const struct ep_action_type wait_healthy_type = {
	.name = "wait.healthy",
	.reversible = true,
	.changes = false,
	.check = wait_check,
	.describe = wait_describe,
	.apply = wait_apply,
	.undo = wait_undo,
};

const struct ep_action_type *const ep_plan_node_types[] = {
	&pki_ensure_type,
	&install_type,
	&wait_healthy_type,
	&ep_snapshot_save_type,
	NULL,
};
