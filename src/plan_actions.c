/*
 * plan_actions.c - the built-in action types that change files and
 * directories: dir.create, file.write, file.chmod, file.move, file.remove
 * (their parameters are documented in plan.h).
 *
 * Each one keeps the contract of plan.h: apply is idempotent and records
 * (ep_apply_checkpoint) what undo needs before the change that destroys
 * it; undo is idempotent and tolerates an action that never ran or ran in
 * part.  They touch the file system only through plan_fs.c, never follow a
 * symlink they did not expect, and never print (lines go to the context's
 * log).  Private keys are not theirs to write: src/pki* does that.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "etcdpilot/error.h"
#include "etcdpilot/plan.h"
#include "plan_internal.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/* Files that file.write copies before replacing them are read whole; this bounds it. */
#define FILE_WRITE_COMPARE_MAX (64u << 20)

static void add_path(struct ep_strbuf *out, const json_t *params, const char *key)
{
	const char *p = ep_param_str(params, key);
	ep_strbuf_add_escaped(out, p ? p : "?", strlen(p ? p : "?"));
}

static int need_mode(const json_t *params, const char *type, struct ep_error *err)
{
	unsigned m;
	if (!ep_param_mode(params, "mode", &m))
		return ep_error_set(err, -EINVAL,
				    "a '%s' action needs 'mode', octal permission bits such as "
				    "\"0644\"",
				    type);
	return 0;
}

static int need_bool(const json_t *params, const char *type, const char *key,
		     struct ep_error *err)
{
	const json_t *v = json_object_get(params, key);
	if (v && !json_is_boolean(v))
		return ep_error_set(err, -EINVAL, "a '%s' action's '%s' must be true or false",
				    type, key);
	return 0;
}

static int set_undo_str(json_t *undo, const char *key, const char *val, struct ep_error *err)
{
	json_t *s = json_string(val);
	if (!s || json_object_set_new(undo, key, s) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

static char *real_or(const struct ep_apply_ctx *ctx, const char *path)
{
	char *real = ep_pfs_real(ctx->root, path);
	return real ? real : strdup(path);
}

/* ---- dir.create ----------------------------------------------------------- */

static int dir_create_check(const json_t *params, struct ep_error *err)
{
	int r = ep_param_check_path(params, "dir.create", "path", err);
	return r < 0 ? r : need_mode(params, "dir.create", err);
}

static void dir_create_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_adds(out, "create directory ");
	add_path(out, params, "path");
	ep_strbuf_addf(out, " (mode %s)", ep_param_str(params, "mode"));
}

/* The directories of @path that do not exist yet, outermost first, into @list. */
static int missing_dirs(const char *root, const char *path, json_t *list, struct ep_error *err)
{
	_cleanup_free_ char *buf = strdup(path);
	if (!buf)
		return ep_error_set(err, -ENOMEM, "out of memory");
	size_t len = strlen(buf);
	while (len > 1 && buf[len - 1] == '/')
		buf[--len] = '\0';
	for (char *p = buf + 1;; p++) {
		bool last = *p == '\0';
		if (*p != '/' && !last)
			continue;
		char saved = *p;
		*p = '\0';
		struct stat st;
		int r = ep_pfs_stat(root, buf, true, &st);
		if (r == 0 && !S_ISDIR(st.st_mode)) {
			_cleanup_free_ char *real = ep_pfs_real(root, buf);
			return ep_error_set(err, -ENOTDIR, "'%s' exists and is not a directory",
					    real ? real : buf);
		}
		if (r == -ENOENT && ep_pfs_stat(root, buf, false, &st) == 0) {
			/*
			 * Something is there - a symlink whose target is missing - and
			 * mkdir would not replace it: never list it as made by this
			 * run, or the rollback would remove what was there before.
			 */
			_cleanup_free_ char *real = ep_pfs_real(root, buf);
			return ep_error_set(err, -ENOTDIR,
					    "'%s' is a symbolic link to a directory that does not "
					    "exist; create its target or remove the link",
					    real ? real : buf);
		}
		if (r == -ENOENT) {
			json_t *s = json_string(buf);
			if (!s || json_array_append_new(list, s) < 0)
				return ep_error_set(err, -ENOMEM, "out of memory");
		} else if (r < 0) {
			_cleanup_free_ char *real = ep_pfs_real(root, buf);
			return ep_error_set(err, r, "inspecting '%s': %s", real ? real : buf,
					    strerror(-r));
		}
		*p = saved;
		if (last)
			break;
	}
	return 0;
}

static int dir_create_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			    struct ep_error *err)
{
	const char *path = ep_param_str(params, "path");
	unsigned mode = 0;
	ep_param_mode(params, "mode", &mode);
	json_t *created = json_object_get(undo, "created");
	bool fresh = !created; /* the list is taken now, not by a run that was killed */
	if (!created) {
		created = json_array();
		if (!created || json_object_set_new(undo, "created", created) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
		int r = missing_dirs(ctx->root, path, created, err);
		if (r < 0)
			return r;
		if (json_array_size(created) == 0) {
			json_object_del(undo, "created");
			return EP_APPLY_SKIPPED;
		}
		r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
	}
	size_t n = json_array_size(created);
	for (size_t i = 0; i < n; i++) {
		const char *d = json_string_value(json_array_get(created, i));
		if (!d)
			continue;
		int r = ep_pfs_mkdir(ctx->root, d, i + 1 == n ? mode : 0755, err);
		if (r == -EEXIST) {
			struct stat st;
			if (ep_pfs_stat(ctx->root, d, true, &st) == 0 && S_ISDIR(st.st_mode)) {
				ep_error_clear(err);
				if (!fresh)
					continue; /* made by this run before it was killed */
				/*
				 * Made by someone else since the list was taken a moment
				 * ago: not ours to remove on rollback.
				 */
				json_array_remove(created, i);
				i--;
				n--;
				r = ep_apply_checkpoint(ctx, err);
				if (r < 0)
					return r;
				continue;
			}
			_cleanup_free_ char *real = real_or(ctx, d);
			return ep_error_set(err, -ENOTDIR, "'%s' exists and is not a directory",
					    real ? real : d);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int dir_create_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			   struct ep_error *err)
{
	(void)params;
	const json_t *created = json_object_get(undo, "created");
	for (size_t i = json_array_size(created); i-- > 0;) {
		const char *d = json_string_value(json_array_get(created, i));
		if (!d)
			continue;
		int r = ep_pfs_rmdir(ctx->root, d);
		if (r == 0 || r == -ENOENT)
			continue;
		_cleanup_free_ char *real = real_or(ctx, d);
		if (r == -ENOTEMPTY) {
			/* Something not ours is in there now: it stays, and so do its parents. */
			ep_apply_log(ctx, "[rollback] Kept the directory %s: it is not empty",
				     real ? real : d);
			return 0;
		}
		return ep_error_set(err, r, "removing the directory '%s': %s", real ? real : d,
				    strerror(-r));
	}
	return 0;
}

static const struct ep_action_type dir_create = {
	.name = "dir.create",
	.reversible = true,
	.changes = true,
	.check = dir_create_check,
	.describe = dir_create_describe,
	.apply = dir_create_apply,
	.undo = dir_create_undo,
};

/* ---- file.write ------------------------------------------------------------ */

static int file_write_check(const json_t *params, struct ep_error *err)
{
	int r = ep_param_check_path(params, "file.write", "path", err);
	if (r >= 0)
		r = need_mode(params, "file.write", err);
	if (r >= 0)
		r = need_bool(params, "file.write", "hidden_rename", err);
	if (r < 0)
		return r;
	const char *content = ep_param_str(params, "content");
	if (!content)
		return ep_error_set(err, -EINVAL,
				    "a 'file.write' action needs 'content', a string");
	/* The journal and --dry-run hold every parameter: no key goes there. */
	const char *begin = strstr(content, "-----BEGIN ");
	for (; begin; begin = strstr(begin + 1, "-----BEGIN ")) {
		const char *eol = strstr(begin + 11, "-----");
		const char *key = strstr(begin, "PRIVATE KEY-----");
		if (eol && key && key + strlen("PRIVATE KEY") == eol)
			return ep_error_set(err, -EINVAL,
					    "a 'file.write' action for '%s' holds a private key: "
					    "keys are written by the pki actions, never kept in a "
					    "plan",
					    ep_param_str(params, "path"));
	}
	return 0;
}

static void file_write_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_adds(out, "write ");
	add_path(out, params, "path");
	ep_strbuf_addf(out, " (mode %s)", ep_param_str(params, "mode"));
}

/* Whether @path already holds exactly @content with @mode. */
static bool same_file(const struct ep_apply_ctx *ctx, const char *path, const struct stat *st,
		      const char *content, size_t len, unsigned mode)
{
	if ((st->st_mode & 07777) != mode || (size_t)st->st_size != len)
		return false;
	_cleanup_free_ char *have = NULL;
	size_t hlen = 0;
	if (ep_pfs_read(ctx->root, path, len, &have, &hlen, NULL) < 0)
		return false;
	return hlen == len && memcmp(have, content, len) == 0;
}

/* Remove what a run killed inside an atomic write of @path (or of its hidden name) left. */
static int sweep_temps(const struct ep_apply_ctx *ctx, const char *path, bool hidden,
		       struct ep_error *err)
{
	int r = ep_pfs_sweep(ctx->root, path, err);
	if (r < 0 || !hidden)
		return r;
	_cleanup_free_ char *h = ep_pfs_hidden_name(path);
	if (!h)
		return ep_error_set(err, -ENOMEM, "out of memory");
	r = ep_pfs_sweep(ctx->root, h, err);
	if (r < 0)
		return r;
	r = ep_pfs_unlink(ctx->root, h, err); /* killed between the hidden write and its rename */
	return r == -ENOENT ? 0 : r;
}

static int file_write_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			    struct ep_error *err)
{
	const char *path = ep_param_str(params, "path");
	const char *content = ep_param_str(params, "content");
	size_t len = json_string_length(json_object_get(params, "content"));
	bool hidden = ep_param_bool(params, "hidden_rename", false);
	unsigned mode = 0;
	ep_param_mode(params, "mode", &mode);

	struct stat st;
	int r = ep_pfs_stat(ctx->root, path, false, &st);
	if (r < 0 && r != -ENOENT) {
		_cleanup_free_ char *real = real_or(ctx, path);
		return ep_error_set(err, r, "inspecting '%s': %s", real ? real : path,
				    strerror(-r));
	}
	bool exists = r == 0;
	if (exists && (S_ISLNK(st.st_mode) || !S_ISREG(st.st_mode))) {
		_cleanup_free_ char *real = real_or(ctx, path);
		return ep_error_set(err, S_ISLNK(st.st_mode) ? -ELOOP : -EISDIR,
				    "refusing to write '%s': it is %s; move it away and run again",
				    real ? real : path,
				    S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
	}
	if (!json_object_get(undo, "backup")) {
		/* First attempt: keep what is there before anything changes. */
		if (exists) {
			if (same_file(ctx, path, &st, content, len, mode))
				return EP_APPLY_SKIPPED;
			_cleanup_free_ char *data = ep_apply_data_dir(ctx), *name = NULL,
					    *copy = NULL;
			size_t idx = ep_apply_index(ctx);
			if (!data || asprintf(&name, "%zu-%s", idx, ep_path_basename(path)) < 0 ||
			    asprintf(&copy, "%s/%s", data, name) < 0)
				return ep_error_set(err, -ENOMEM, "out of memory");
			r = ep_apply_data_dir_create(ctx, err);
			if (r >= 0)
				r = ep_pfs_copy(ctx->root, path, copy, st.st_mode & 07777, err);
			if (r < 0)
				return ep_error_prefix(err,
						       "keeping a copy of '%s' for the rollback",
						       path);
			char m[8];
			ep_mode_str(st.st_mode & 07777, m);
			r = set_undo_str(undo, "backup", name, err);
			if (r >= 0)
				r = set_undo_str(undo, "mode", m, err);
		} else {
			r = set_undo_str(undo, "backup", "absent", err);
		}
		if (r >= 0)
			r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
	}
	r = sweep_temps(ctx, path, hidden, err);
	if (r < 0)
		return r;
	return ep_pfs_write(ctx->root, path, content, len, mode, hidden, err);
}

static int file_write_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			   struct ep_error *err)
{
	const char *path = ep_param_str(params, "path");
	bool hidden = ep_param_bool(params, "hidden_rename", false);
	const char *backup = ep_param_str(undo, "backup");
	if (backup) {
		int r = sweep_temps(ctx, path, hidden, err);
		if (r < 0)
			return r;
	}
	if (!backup)
		return 0; /* nothing had been changed */
	if (strcmp(backup, "absent") == 0) {
		int r = ep_pfs_unlink(ctx->root, path, err);
		return r == -ENOENT ? 0 : r;
	}
	unsigned mode = 0600;
	ep_param_mode(undo, "mode", &mode);
	_cleanup_free_ char *data = ep_apply_data_dir(ctx), *copy = NULL, *content = NULL;
	if (!data || asprintf(&copy, "%s/%s", data, backup) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	size_t len = 0;
	int r = ep_pfs_read(ctx->root, copy, FILE_WRITE_COMPARE_MAX, &content, &len, err);
	if (r < 0)
		return ep_error_prefix(err, "restoring '%s' from its copy", path);
	return ep_pfs_write(ctx->root, path, content, len, mode, hidden, err);
}

static const struct ep_action_type file_write = {
	.name = "file.write",
	.reversible = true,
	.changes = true,
	.check = file_write_check,
	.describe = file_write_describe,
	.apply = file_write_apply,
	.undo = file_write_undo,
};

/* ---- file.chmod ------------------------------------------------------------ */

static int file_chmod_check(const json_t *params, struct ep_error *err)
{
	int r = ep_param_check_path(params, "file.chmod", "path", err);
	return r < 0 ? r : need_mode(params, "file.chmod", err);
}

static void file_chmod_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_adds(out, "set the mode of ");
	add_path(out, params, "path");
	ep_strbuf_addf(out, " to %s", ep_param_str(params, "mode"));
}

static int file_chmod_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			    struct ep_error *err)
{
	const char *path = ep_param_str(params, "path");
	unsigned mode = 0;
	ep_param_mode(params, "mode", &mode);
	if (!json_object_get(undo, "mode")) {
		struct stat st;
		int r = ep_pfs_stat(ctx->root, path, false, &st);
		if (r < 0) {
			_cleanup_free_ char *real = real_or(ctx, path);
			return ep_error_set(err, r, "cannot set the mode of '%s': %s",
					    real ? real : path, strerror(-r));
		}
		if (S_ISLNK(st.st_mode)) {
			_cleanup_free_ char *real = real_or(ctx, path);
			return ep_error_set(err, -ELOOP,
					    "refusing to chmod '%s': it is a symbolic link",
					    real ? real : path);
		}
		if ((st.st_mode & 07777) == mode)
			return EP_APPLY_SKIPPED;
		char m[8];
		ep_mode_str(st.st_mode & 07777, m);
		r = set_undo_str(undo, "mode", m, err);
		if (r >= 0)
			r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
	}
	return ep_pfs_chmod(ctx->root, path, mode, err);
}

static int file_chmod_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			   struct ep_error *err)
{
	unsigned old;
	if (!ep_param_mode(undo, "mode", &old))
		return 0;
	const char *path = ep_param_str(params, "path");
	struct stat st;
	if (ep_pfs_stat(ctx->root, path, false, &st) == -ENOENT)
		return 0; /* gone: there is no mode to put back */
	return ep_pfs_chmod(ctx->root, path, old, err);
}

static const struct ep_action_type file_chmod = {
	.name = "file.chmod",
	.reversible = true,
	.changes = true,
	.check = file_chmod_check,
	.describe = file_chmod_describe,
	.apply = file_chmod_apply,
	.undo = file_chmod_undo,
};

/* ---- file.move ------------------------------------------------------------- */

static int file_move_check(const json_t *params, struct ep_error *err)
{
	int r = ep_param_check_path(params, "file.move", "from", err);
	if (r >= 0)
		r = ep_param_check_path(params, "file.move", "to", err);
	if (r >= 0)
		r = need_bool(params, "file.move", "into", err);
	if (r >= 0 && strcmp(ep_param_str(params, "from"), "/") == 0)
		r = ep_error_set(err, -EINVAL, "a 'file.move' action cannot move '/'");
	return r;
}

static void file_move_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_adds(out, "move ");
	add_path(out, params, "from");
	ep_strbuf_adds(out, ep_param_bool(params, "into", false) ? " into " : " aside to ");
	add_path(out, params, "to");
}

/* The destination: @to, or @to/<name of from> with "into". */
static char *move_dest(const json_t *params)
{
	const char *from = ep_param_str(params, "from"), *to = ep_param_str(params, "to");
	char *out = NULL;
	if (!ep_param_bool(params, "into", false))
		return strdup(to);
	if (asprintf(&out, "%s%s%s", to, strcmp(to, "/") ? "/" : "", ep_path_basename(from)) < 0)
		return NULL;
	return out;
}

static bool exists(const struct ep_apply_ctx *ctx, const char *path)
{
	struct stat st;
	return ep_pfs_stat(ctx->root, path, false, &st) == 0;
}

static int file_move_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			   struct ep_error *err)
{
	const char *from = ep_param_str(params, "from");
	_cleanup_free_ char *dest = move_dest(params);
	if (!dest)
		return ep_error_set(err, -ENOMEM, "out of memory");
	bool have_from = exists(ctx, from), have_dest = exists(ctx, dest);
	if (!json_object_get(undo, "moved")) {
		if (!have_from)
			return EP_APPLY_SKIPPED;
		if (have_dest) {
			_cleanup_free_ char *rf = real_or(ctx, from), *rd = real_or(ctx, dest);
			return ep_error_set(err, -EEXIST,
					    "cannot move '%s' aside to '%s': something is there "
					    "already; move it away and run again",
					    rf ? rf : from, rd ? rd : dest);
		}
		if (json_object_set_new(undo, "moved", json_true()) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
		int r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
	} else if (!have_from && have_dest) {
		return 0; /* an earlier attempt moved it */
	}
	return ep_pfs_rename_noreplace(ctx->root, from, dest, err);
}

static int file_move_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			  struct ep_error *err)
{
	if (!json_is_true(json_object_get(undo, "moved")))
		return 0;
	const char *from = ep_param_str(params, "from");
	_cleanup_free_ char *dest = move_dest(params);
	if (!dest)
		return ep_error_set(err, -ENOMEM, "out of memory");
	bool have_from = exists(ctx, from), have_dest = exists(ctx, dest);
	if (have_from && !have_dest)
		return 0; /* never moved, or already back */
	if (!have_dest) {
		_cleanup_free_ char *rf = real_or(ctx, from), *rd = real_or(ctx, dest);
		return ep_error_set(err, -ENOENT, "cannot move '%s' back to '%s': it is gone",
				    rd ? rd : dest, rf ? rf : from);
	}
	return ep_pfs_rename_noreplace(ctx->root, dest, from, err);
}

static const struct ep_action_type file_move = {
	.name = "file.move",
	.reversible = true,
	.changes = true,
	.check = file_move_check,
	.describe = file_move_describe,
	.apply = file_move_apply,
	.undo = file_move_undo,
};

/* ---- file.remove ----------------------------------------------------------- */

static int file_remove_check(const json_t *params, struct ep_error *err)
{
	int r = ep_param_check_path(params, "file.remove", "path", err);
	if (r >= 0)
		r = need_bool(params, "file.remove", "recursive", err);
	if (r >= 0 && strcmp(ep_param_str(params, "path"), "/") == 0)
		r = ep_error_set(err, -EINVAL, "a 'file.remove' action cannot remove '/'");
	return r;
}

static void file_remove_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_adds(out, "remove ");
	add_path(out, params, "path");
	if (ep_param_bool(params, "recursive", false))
		ep_strbuf_adds(out, " and everything in it");
}

/* The trash name of this action: a hidden name beside the path (heap). */
static char *trash_name(const struct ep_apply_ctx *ctx, const char *path)
{
	_cleanup_free_ char *dir = ep_path_dirname(path);
	char *out = NULL;
	if (!dir || asprintf(&out, "%s%s.%s.etcdpilot-trash-%s-%zu", dir,
			     strcmp(dir, "/") ? "/" : "", ep_path_basename(path),
			     ep_apply_run_id(ctx), ep_apply_index(ctx)) < 0)
		return NULL;
	return out;
}

static int file_remove_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			     struct ep_error *err)
{
	const char *path = ep_param_str(params, "path");
	const char *trash = ep_param_str(undo, "trash");
	bool have_path = exists(ctx, path);
	if (!trash) {
		if (!have_path)
			return EP_APPLY_SKIPPED;
		struct stat st;
		if (ep_pfs_stat(ctx->root, path, false, &st) == 0 && S_ISDIR(st.st_mode) &&
		    !ep_param_bool(params, "recursive", false)) {
			/* An empty directory goes as it is; anything in it needs "recursive". */
			if (!ep_pfs_dir_empty(ctx->root, path)) {
				_cleanup_free_ char *real = real_or(ctx, path);
				return ep_error_set(err, -ENOTEMPTY,
						    "refusing to remove the directory '%s': it is "
						    "not empty",
						    real ? real : path);
			}
		}
		_cleanup_free_ char *name = trash_name(ctx, path);
		if (!name)
			return ep_error_set(err, -ENOMEM, "out of memory");
		int r = set_undo_str(undo, "trash", name, err);
		if (r >= 0)
			r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
		trash = ep_param_str(undo, "trash");
	}
	if (!have_path)
		return exists(ctx, trash) ? 0 : EP_APPLY_SKIPPED;
	return ep_pfs_rename_noreplace(ctx->root, path, trash, err);
}

static int file_remove_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			    struct ep_error *err)
{
	const char *path = ep_param_str(params, "path");
	const char *trash = ep_param_str(undo, "trash");
	if (!trash || !exists(ctx, trash))
		return 0; /* never moved aside, or already back */
	if (exists(ctx, path)) {
		_cleanup_free_ char *real = real_or(ctx, path), *rt = real_or(ctx, trash);
		return ep_error_set(err, -EEXIST,
				    "cannot put '%s' back: '%s' exists again (what was removed is "
				    "in '%s')",
				    real ? real : path, real ? real : path, rt ? rt : trash);
	}
	return ep_pfs_rename_noreplace(ctx->root, trash, path, err);
}

static int file_remove_commit(struct ep_apply_ctx *ctx, const json_t *params,
			      const json_t *undo, struct ep_error *err)
{
	(void)params;
	const char *trash = ep_param_str(undo, "trash");
	return trash ? ep_pfs_remove_tree(ctx->root, trash, err) : 0;
}

static const struct ep_action_type file_remove = {
	.name = "file.remove",
	.reversible = true,
	.changes = true,
	.check = file_remove_check,
	.describe = file_remove_describe,
	.apply = file_remove_apply,
	.undo = file_remove_undo,
	.commit = file_remove_commit,
};

const struct ep_action_type *const ep_plan_file_types[] = {
	&dir_create, &file_write, &file_chmod, &file_move, &file_remove, NULL,
};
