/*
 * actions_member.c - the node-side action types of join and reset
 * (plan.h):
 *
 *   pki.ca-bundle   install the etcd CA of join --ca-bundle (the opened
 *                   bundle comes through the apply context, never through
 *                   params or the journal); undo removes what was absent
 *   etcd.data-dir   the data directory a new member starts in; undo empties
 *                   it again (and removes it when this run made it): what
 *                   etcd wrote there belongs to the member that is undone
 *   runtime.files   the member's manifest or unit files, rendered when the
 *                   action runs with the initial cluster member.add
 *                   recorded (it is only known once the member is added);
 *                   undo removes them and, for a static pod, waits until
 *                   the kubelet has stopped the pod
 *   wait.stopped    until the member's client port stops answering and
 *                   (given the data dir) no process holds its database
 *
 * It owns no rendering (the runtime's) and no file-system code of its own
 * beyond plan_fs.c's calls; it never prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "actions_internal.h"
#include "etcdpilot/bundle.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/membership.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/runtime.h"
#include "plan_internal.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

#define STOP_QUIET_MS 1500 /* the port refused this long in a row: the member is down */
#define STOP_WAIT_MS  30000

static int need_spec(const struct ep_apply_ctx *ctx, const char *type, struct ep_error *err)
{
	if (ctx->spec)
		return 0;
	return ep_error_usage(err, -EINVAL,
			      "%s needs this node's settings: resume with the same flags and "
			      "--config as the interrupted run", type);
}

static uint64_t deadline_of(const struct ep_apply_ctx *ctx, uint64_t fallback_ms)
{
	return ctx->deadline_ms ? ctx->deadline_ms : ep_now_ms() + fallback_ms;
}

/* ---- is a port answering? ------------------------------------------------------- */

/* Does something accept TCP connections at @url's host and port (within 300 ms)? */
static bool port_answers(const char *url)
{
	const char *p = strstr(url ? url : "", "://");
	if (!p)
		return false;
	p += 3;
	char hp[300];
	size_t n = strcspn(p, "/?#");
	if (n >= sizeof(hp))
		return false;
	memcpy(hp, p, n);
	hp[n] = '\0';
	char *host = hp, *port = NULL;
	if (*host == '[') {
		char *close = strchr(host, ']');
		if (!close)
			return false;
		*close = '\0';
		host++;
		port = close[1] == ':' ? close + 2 : NULL;
	} else if ((port = strrchr(host, ':'))) {
		*port++ = '\0';
	}
	if (!port || !*port)
		return false;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return false;
	bool up = false;
	for (struct addrinfo *ai = res; ai && !up; ai = ai->ai_next) {
		_cleanup_close_ int fd =
			socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			up = true;
			continue;
		}
		if (errno != EINPROGRESS)
			continue;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (poll(&pfd, 1, 300) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
			up = true;
	}
	freeaddrinfo(res);
	return up;
}

/*
 * Whether a process holds the member's database: 1 held, 0 free (or no
 * database), -1 cannot tell.  etcd's bbolt holds an exclusive flock(2) on
 * it while etcd runs; a shared, non-blocking attempt tells without waiting
 * and is let go at once (an etcd starting right then retries its lock).
 */
static int db_held(const char *root, const char *data_dir)
{
	_cleanup_free_ char *db = NULL;
	if (asprintf(&db, "%s/member/snap/db", data_dir) < 0)
		return -1;
	int fd = -1;
	int r = ep_root_open(root, db, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0, &fd,
			     NULL);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return -1;
	int held = 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		held = errno == EWOULDBLOCK ? 1 : -1;
	close(fd); /* lets our lock go */
	return held;
}

int ep_wait_member_down(const char *root, const char *url, const char *data_dir, bool quiet,
			uint64_t deadline, struct ep_error *err)
{
	uint64_t t0 = ep_now_ms(), quiet_since = 0;
	int held = -1;
	for (;;) {
		uint64_t now = ep_now_ms();
		bool up = port_answers(url);
		if (up)
			quiet_since = 0;
		else if (!quiet_since)
			quiet_since = now;
		held = !up && data_dir ? db_held(root, data_dir) : -1;
		bool settled = quiet_since && now - quiet_since >= STOP_QUIET_MS;
		if (held == 0 && (!quiet || settled))
			return 0;
		if (held < 0 && settled)
			return 0;
		if (ep_ms_left(deadline) <= 100)
			break;
		ep_sleep_ms(held < 0 ? 100 : 20);
	}
	unsigned long long secs = (unsigned long long)(ep_now_ms() - t0) / 1000;
	if (held == 1)
		return ep_error_set(err, -ETIMEDOUT,
				    "a process still holds the member's database %s/member/snap/db "
				    "after %llus (its client URL %s refuses connections)",
				    data_dir, secs, url);
	return ep_error_set(err, -ETIMEDOUT, "the member at %s still answers after %llus", url,
			    secs);
}

/* ---- pki.ca-bundle {cert_dir, ca_sha256, file} ---------------------------------- */

static int bundle_check(const json_t *params, struct ep_error *err)
{
	int r = ep_param_check_path(params, "pki.ca-bundle", "cert_dir", err);
	if (r >= 0 && !ep_param_str(params, "ca_sha256"))
		r = ep_error_set(err, -EINVAL, "a 'pki.ca-bundle' action needs 'ca_sha256'");
	return r;
}

static void bundle_describe(const json_t *params, struct ep_strbuf *out)
{
	const char *dir = ep_param_str(params, "cert_dir");
	const char *file = ep_param_str(params, "file");
	ep_strbuf_adds(out, "install the etcd CA ");
	ep_strbuf_adds(out, ep_param_str(params, "ca_sha256"));
	ep_strbuf_adds(out, " from ");
	ep_strbuf_add_escaped(out, file ? file : "the bundle", strlen(file ? file : "the bundle"));
	ep_strbuf_adds(out, " as ");
	ep_strbuf_add_escaped(out, dir ? dir : "?", strlen(dir ? dir : "?"));
	ep_strbuf_adds(out, "/etcd/ca.{crt,key}");
}

/*
 * The files and directories of the CA under @dir that do not exist: files
 * first, then the directories innermost first, @dir's missing parents too
 * (the install makes them all).
 */
static json_t *ca_absent(const char *root, const char *dir)
{
	json_t *a = json_array();
	static const char *const rel[] = { "/etcd/ca.crt", "/etcd/ca.key", "/etcd", "", NULL };
	for (size_t i = 0; a && rel[i]; i++) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s%s", dir, rel[i]) < 0) {
			json_decref(a);
			return NULL;
		}
		if (!ep_root_exists(root, p))
			json_array_append_new(a, json_string(p));
	}
	_cleanup_free_ char *p = a && !ep_root_exists(root, dir) ? strdup(dir) : NULL;
	for (char *slash; p && (slash = strrchr(p, '/')) && slash != p;) {
		*slash = '\0';
		if (ep_root_exists(root, p))
			break;
		json_array_append_new(a, json_string(p));
	}
	return a;
}

static int bundle_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			struct ep_error *err)
{
	int r = need_spec(ctx, "pki.ca-bundle", err);
	if (r < 0)
		return r;
	const struct ep_ca_bundle *b = ctx->ca_bundle;
	if (!b)
		return ep_error_usage(err, -EINVAL,
				      "installing the CA needs the bundle: run again with the same "
				      "--ca-bundle FILE and --certificate-key KEY");
	if (strcmp(b->info.ca_sha256, ep_param_str(params, "ca_sha256")))
		return ep_error_usage(err, -EINVAL,
				      "the bundle given holds the CA %s, not the CA %s this run "
				      "planned for; run again with the same --ca-bundle",
				      b->info.ca_sha256, ep_param_str(params, "ca_sha256"));
	if (!json_object_get(undo, "absent")) {
		json_t *absent = ca_absent(ctx->root, ep_param_str(params, "cert_dir"));
		if (!absent)
			return ep_error_set(err, -ENOMEM, "out of memory");
		json_object_set_new(undo, "absent", absent);
		if ((r = ep_apply_checkpoint(ctx, err)) < 0)
			return r;
	}
	bool changed = false;
	r = ep_pki_bundle_install(ctx->spec, ctx->root, b, false, &changed, ctx->log, ctx->userdata,
				  err);
	if (r < 0)
		return r;
	return changed ? 0 : EP_APPLY_SKIPPED;
}

/* Remove the files of @absent, then its directories when empty (undo of what was made). */
static int remove_absent(struct ep_apply_ctx *ctx, const json_t *absent, struct ep_error *err)
{
	size_t i;
	const json_t *v;
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
			ep_pfs_rmdir(ctx->root, path); /* only when empty */
	}
	return 0;
}

static int bundle_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		       struct ep_error *err)
{
	(void)params;
	return remove_absent(ctx, json_object_get(undo, "absent"), err);
}

static const struct ep_action_type pki_ca_bundle_type = {
	.name = "pki.ca-bundle",
	.reversible = true,
	.changes = true,
	.check = bundle_check,
	.describe = bundle_describe,
	.apply = bundle_apply,
	.undo = bundle_undo,
};

/* ---- etcd.data-dir {path, mode} ----------------------------------------------------- */

static int datadir_check(const json_t *params, struct ep_error *err)
{
	unsigned mode;
	int r = ep_param_check_path(params, "etcd.data-dir", "path", err);
	if (r >= 0 && !ep_param_mode(params, "mode", &mode))
		r = ep_error_set(err, -EINVAL, "an 'etcd.data-dir' action needs 'mode'");
	return r;
}

static void datadir_describe(const json_t *params, struct ep_strbuf *out)
{
	const char *p = ep_param_str(params, "path");
	ep_strbuf_adds(out, "make ");
	ep_strbuf_add_escaped(out, p ? p : "?", strlen(p ? p : "?"));
	ep_strbuf_addf(out, " (mode %s) the new member's data directory, emptied again if the run "
			    "is undone", ep_param_str(params, "mode"));
}

static int datadir_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			 struct ep_error *err)
{
	const char *path = ep_param_str(params, "path");
	unsigned mode = 0700;
	ep_param_mode(params, "mode", &mode);
	struct stat st;
	int r;
	if (!json_object_get(undo, "state")) {
		if (ep_pfs_stat(ctx->root, path, false, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				return ep_error_set(err, -ENOTDIR, "%s exists and is not a directory",
						    path);
			if (!ep_pfs_dir_empty(ctx->root, path)) {
				ep_apply_log(ctx, "[etcd] %s is not empty: left as it is (it is not "
						  "this run's to empty)", path);
				return EP_APPLY_SKIPPED;
			}
			char m[8];
			ep_mode_str(st.st_mode & 07777, m);
			json_object_set_new(undo, "state", json_string("was-empty"));
			json_object_set_new(undo, "mode", json_string(m));
		} else {
			/* the directories this run makes, outermost first */
			json_t *made = json_array();
			_cleanup_free_ char *p = strdup(path);
			if (!made || !p) {
				json_decref(made);
				return ep_error_set(err, -ENOMEM, "out of memory");
			}
			for (;;) {
				json_array_insert_new(made, 0, json_string(p));
				char *slash = strrchr(p, '/');
				if (!slash || slash == p)
					break;
				*slash = '\0';
				if (ep_pfs_stat(ctx->root, p, false, &st) == 0)
					break;
			}
			json_object_set_new(undo, "state", json_string("created"));
			json_object_set_new(undo, "made", made);
		}
		if ((r = ep_apply_checkpoint(ctx, err)) < 0)
			return r;
	}
	if (ep_pfs_stat(ctx->root, path, false, &st) == 0)
		return 0;
	_cleanup_free_ char *parent = ep_path_dirname(path);
	if (!parent)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if ((r = ep_pfs_mkdir_p(ctx->root, parent, 0755, err)) < 0)
		return r;
	r = ep_pfs_mkdir(ctx->root, path, (mode_t)mode, err);
	return r == -EEXIST ? 0 : r;
}

/* rm -rf @path, again while something (an etcd going down) still writes into it. */
static int remove_tree_settled(struct ep_apply_ctx *ctx, const char *path, struct ep_error *err)
{
	uint64_t deadline = ep_now_ms() + 5000;
	for (;;) {
		struct ep_error e = { 0 };
		int r = ep_pfs_remove_tree(ctx->root, path, &e);
		if (r >= 0 || r != -ENOTEMPTY || ep_ms_left(deadline) < 200) {
			if (r < 0 && err)
				*err = e;
			return r;
		}
		ep_sleep_ms(200);
	}
}

static int datadir_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			struct ep_error *err)
{
	const char *path = ep_param_str(params, "path");
	const char *state = ep_param_str(undo, "state");
	if (!state)
		return 0;
	int r = remove_tree_settled(ctx, path, err);
	if (r < 0)
		return r;
	if (!strcmp(state, "was-empty")) {
		unsigned mode = 0700;
		ep_param_mode(undo, "mode", &mode);
		r = ep_pfs_mkdir(ctx->root, path, (mode_t)mode, err);
		if (r < 0 && r != -EEXIST)
			return r;
		ep_apply_log(ctx, "[rollback] Emptied %s again", path);
		return 0;
	}
	const json_t *made = json_object_get(undo, "made");
	for (size_t i = json_array_size(made); i-- > 0;) {
		const char *d = json_string_value(json_array_get(made, i));
		if (d && strcmp(d, path))
			ep_pfs_rmdir(ctx->root, d); /* only when empty */
	}
	ep_apply_log(ctx, "[rollback] Removed %s", path);
	return 0;
}

static const struct ep_action_type etcd_data_dir_type = {
	.name = "etcd.data-dir",
	.reversible = true,
	.changes = true,
	.check = datadir_check,
	.describe = datadir_describe,
	.apply = datadir_apply,
	.undo = datadir_undo,
};

/* ---- runtime.files {mode, files, name, peer_urls, local, data_dir?, cluster} ------------ */

static int files_check(const json_t *params, struct ep_error *err)
{
	const json_t *files = json_object_get(params, "files");
	size_t i;
	const json_t *v;
	enum ep_mode mode;
	if (!ep_param_str(params, "mode") || ep_mode_parse(ep_param_str(params, "mode"), &mode) < 0)
		return ep_error_set(err, -EINVAL, "a 'runtime.files' action needs 'mode'");
	if (!json_is_array(files) || !json_array_size(files))
		return ep_error_set(err, -EINVAL, "a 'runtime.files' action needs 'files'");
	json_array_foreach(files, i, v) {
		unsigned m;
		int r = ep_param_check_path(v, "runtime.files", "path", err);
		if (r < 0)
			return r;
		if (!ep_param_mode(v, "mode", &m))
			return ep_error_set(err, -EINVAL, "'runtime.files': a file without 'mode'");
	}
	if (json_object_get(params, "cluster"))
		return ep_cluster_json_check(params, "runtime.files", err);
	return 0;
}

static void files_describe(const json_t *params, struct ep_strbuf *out)
{
	const json_t *files = json_object_get(params, "files");
	size_t i;
	const json_t *v;
	ep_strbuf_adds(out, "write ");
	json_array_foreach(files, i, v) {
		const char *p = ep_param_str(v, "path");
		ep_strbuf_adds(out, i ? ", " : "");
		ep_strbuf_add_escaped(out, p ? p : "?", strlen(p ? p : "?"));
		ep_strbuf_addf(out, " (mode %s)", ep_param_str(v, "mode"));
	}
	ep_strbuf_adds(out, " with --initial-cluster from the member list as member add returns it "
			    "and --initial-cluster-state=existing");
}

/* The member list member.add recorded, as a list, and our member in it. */
static int recorded_list(const json_t *rec, struct ep_member_list *ml, uint64_t *ret_id)
{
	const json_t *members = json_object_get(rec, "members");
	const char *id = ep_param_str(rec, "id");
	size_t i;
	const json_t *v;
	if (!id || ep_member_id_parse(id, ret_id) < 0 || !json_is_array(members))
		return -ENOENT;
	if (!(ml->v = calloc(json_array_size(members) + 1, sizeof(*ml->v))))
		return -ENOMEM;
	json_array_foreach(members, i, v) {
		struct ep_member *m = &ml->v[ml->n++];
		const char *name = ep_param_str(v, "name");
		if (ep_member_id_parse(ep_param_str(v, "id") ? ep_param_str(v, "id") : "", &m->id) < 0)
			return -EINVAL;
		if (name && !(m->name = strdup(name)))
			return -ENOMEM;
		size_t k;
		const json_t *u;
		json_array_foreach(json_object_get(v, "peer_urls"), k, u)
			if (json_is_string(u) && ep_strv_push(&m->peer_urls, json_string_value(u)) < 0)
				return -ENOMEM;
		m->is_learner = json_is_true(json_object_get(v, "learner"));
	}
	return 0;
}

/* No member.add in this run (--skip-phases member-add): our member from the cluster now. */
static int listed_now(struct ep_apply_ctx *ctx, const json_t *params, struct ep_member_list *ml,
		      uint64_t *ret_id, struct ep_error *err)
{
	if (!json_object_get(params, "cluster"))
		return ep_error_set(err, -ENOENT, "no member was added in this run and no cluster "
						  "to ask: run the member-add phase");
	struct ep_conn c;
	int r = ep_conn_open(ctx->root, json_object_get(params, "cluster"), NULL,
			     deadline_of(ctx, 60000), NULL, NULL, &c, err);
	if (r >= 0)
		r = ep_member_list_any(c.client, c.ca.endpoints, c.ca.n_endpoints, ml, err);
	ep_conn_close(&c);
	if (r < 0)
		return r;
	*ret_id = 0;
	size_t i;
	const json_t *u;
	for (size_t m = 0; m < ml->n && !*ret_id; m++)
		json_array_foreach(json_object_get(params, "peer_urls"), i, u)
			if (json_is_string(u) &&
			    ep_strv_contains(&ml->v[m].peer_urls, json_string_value(u)))
				*ret_id = ml->v[m].id;
	if (!*ret_id)
		return ep_error_set(err, -ENOENT, "no member of the cluster has this node's peer "
						  "URL: add it first (the member-add phase)");
	return 0;
}

/* "a=u1,b=u2" -> kvv (appended). */
static int kvv_parse_cluster(const char *s, struct ep_kvv *kv)
{
	_cleanup_free_ char *copy = strdup(s);
	char *save = NULL;
	if (!copy)
		return -ENOMEM;
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		if (!eq)
			return -EINVAL;
		*eq = '\0';
		if (ep_kvv_push(kv, item, eq + 1) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int files_render(struct ep_apply_ctx *ctx, const json_t *params,
			struct ep_runtime_files *files, struct ep_error *err)
{
	struct ep_member_list ml = { 0 };
	uint64_t id = 0;
	int r = recorded_list(ep_apply_prior_undo(ctx, "member.add"), &ml, &id);
	if (r == -ENOENT) {
		ep_member_list_release(&ml);
		r = listed_now(ctx, params, &ml, &id, err);
	} else if (r < 0) {
		r = ep_error_set(err, r, "reading the member list member.add recorded: %s",
				 strerror(-r));
	}
	_cleanup_free_ char *ic = NULL;
	const struct ep_member *self = r >= 0 ? ep_member_list_find(&ml, id) : NULL;
	if (r >= 0 && !self)
		r = ep_error_set(err, -ENOENT, "the member list has no member %llx",
				 (unsigned long long)id);
	if (r >= 0)
		r = ep_initial_cluster(&ml, self, ctx->spec->name, &ic, err);
	ep_member_list_release(&ml);
	struct ep_kvv kv = { 0 };
	if (r >= 0 && (r = kvv_parse_cluster(ic, &kv)) < 0)
		r = ep_error_set(err, r, "the initial cluster '%s' cannot be read back", ic);
	const struct ep_runtime_ops *rt = r >= 0 ? ep_runtime_get(ctx->spec->mode) : NULL;
	struct ep_runtime_ctx rc = { .root = ctx->root, .spec = ctx->spec };
	if (r >= 0)
		r = rt->render(&rc, &kv, files, err);
	ep_kvv_release(&kv);
	if (r < 0)
		return r;
	/* what was planned is what is written: a resume with other flags is refused */
	const json_t *want = json_object_get(params, "files");
	bool same = json_array_size(want) == files->n;
	for (size_t i = 0; same && i < files->n; i++)
		same = !strcmp(ep_param_str(json_array_get(want, i), "path"), files->v[i].path);
	if (!same)
		return ep_error_usage(err, -EINVAL, "the files rendered now are not the ones "
						    "planned: resume with the same flags and --config "
						    "as the interrupted run");
	return 0;
}

static int files_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		       struct ep_error *err)
{
	int r = need_spec(ctx, "runtime.files", err);
	if (r < 0)
		return r;
	struct ep_runtime_files files = { 0 };
	if ((r = files_render(ctx, params, &files, err)) < 0)
		goto out;
	if (!json_object_get(undo, "absent")) {
		json_t *absent = json_array();
		for (size_t i = 0; absent && i < files.n; i++)
			if (!ep_root_exists(ctx->root, files.v[i].path))
				json_array_append_new(absent, json_string(files.v[i].path));
		if (!absent) {
			r = ep_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		json_object_set_new(undo, "absent", absent);
		if ((r = ep_apply_checkpoint(ctx, err)) < 0)
			goto out;
	}
	const json_t *absent = json_object_get(undo, "absent");
	bool wrote = false;
	for (size_t i = 0; i < files.n; i++) {
		const struct ep_runtime_file *f = &files.v[i];
		_cleanup_free_ char *have = NULL;
		size_t len = 0;
		bool ours = false;
		size_t k;
		const json_t *v;
		json_array_foreach(absent, k, v)
			ours |= !strcmp(json_string_value(v), f->path);
		if (ep_pfs_read(ctx->root, f->path, 1u << 20, &have, &len, NULL) == 0) {
			if (len == f->len && !memcmp(have, f->content, len))
				continue;
			if (!ours) {
				r = ep_error_set(err, -EEXIST, "%s is already there with other "
							       "content; it is not this run's to "
							       "replace: run 'etcdpilot reset' first",
						 f->path);
				goto out;
			}
		}
		if ((r = ep_pfs_write(ctx->root, f->path, f->content, f->len, f->mode,
				      f->hidden_rename, err)) < 0)
			goto out;
		wrote = true;
	}
	r = wrote ? 0 : EP_APPLY_SKIPPED;
out:
	ep_runtime_files_release(&files);
	return r;
}

static int files_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		      struct ep_error *err)
{
	const json_t *absent = json_object_get(undo, "absent");
	size_t i;
	const json_t *v;
	bool removed = false;
	json_array_foreach(absent, i, v) {
		const char *path = json_string_value(v);
		_cleanup_free_ char *hidden = path ? ep_pfs_hidden_name(path) : NULL;
		if (hidden)
			(void)ep_pfs_unlink(ctx->root, hidden, NULL); /* a write cut short */
		int r = path ? ep_pfs_unlink(ctx->root, path, err) : 0;
		if (r < 0 && r != -ENOENT)
			return r;
		if (r == 0) {
			ep_apply_log(ctx, "[rollback] Removed %s", path);
			removed = true;
		}
	}
	const char *local = ep_param_str(params, "local");
	enum ep_mode mode = EP_MODE_STATIC_POD;
	ep_mode_parse(ep_param_str(params, "mode"), &mode);
	if (!removed || mode != EP_MODE_STATIC_POD || !local)
		return 0;
	/* the kubelet stops the pod of a manifest that is gone: wait for it */
	int r = ep_wait_member_down(ctx->root, local, ep_param_str(params, "data_dir"), true,
				    ep_undo_deadline(ctx, STOP_WAIT_MS), err);
	if (r < 0)
		return ep_error_prefix(err, "the kubelet did not stop the etcd pod");
	ep_apply_log(ctx, "[rollback] The etcd pod has stopped");
	return 0;
}

static const struct ep_action_type runtime_files_type = {
	.name = "runtime.files",
	.reversible = true,
	.changes = true,
	.check = files_check,
	.describe = files_describe,
	.apply = files_apply,
	.undo = files_undo,
};

/* ---- wait.stopped {endpoint, timeout_ms, data_dir?} --------------------------------------------- */

static int stopped_check(const json_t *params, struct ep_error *err)
{
	if (!ep_param_str(params, "endpoint"))
		return ep_error_set(err, -EINVAL, "a 'wait.stopped' action needs 'endpoint'");
	return 0;
}

static void stopped_describe(const json_t *params, struct ep_strbuf *out)
{
	const char *e = ep_param_str(params, "endpoint");
	ep_strbuf_adds(out, "wait until the local etcd member has stopped (");
	ep_strbuf_add_escaped(out, e ? e : "?", strlen(e ? e : "?"));
	ep_strbuf_adds(out, " refuses connections");
	const char *d = ep_param_str(params, "data_dir");
	if (d) {
		ep_strbuf_adds(out, ", nothing holds ");
		ep_strbuf_add_escaped(out, d, strlen(d));
		ep_strbuf_adds(out, "/member/snap/db");
	}
	ep_strbuf_adds(out, ")");
}

static int stopped_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			 struct ep_error *err)
{
	(void)undo;
	json_int_t t = json_integer_value(json_object_get(params, "timeout_ms"));
	uint64_t deadline = ep_now_ms() + (t > 0 ? (uint64_t)t : STOP_WAIT_MS);
	if (ctx->deadline_ms && ctx->deadline_ms < deadline)
		deadline = ctx->deadline_ms;
	int r = ep_wait_member_down(ctx->root, ep_param_str(params, "endpoint"),
				    ep_param_str(params, "data_dir"), false, deadline, err);
	if (r >= 0)
		ep_apply_log(ctx, "[stop] The local etcd member has stopped");
	return r;
}

static int stopped_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			struct ep_error *err)
{
	(void)ctx, (void)params, (void)undo, (void)err;
	return 0;
}

static const struct ep_action_type wait_stopped_type = {
	.name = "wait.stopped",
	.reversible = true,
	.changes = false,
	.check = stopped_check,
	.describe = stopped_describe,
	.apply = stopped_apply,
	.undo = stopped_undo,
};

const struct ep_action_type *const ep_plan_member_types[] = {
	&pki_ca_bundle_type, &etcd_data_dir_type, &runtime_files_type, &wait_stopped_type, NULL,
};
