/*
 * plan_fs.c - the file-system calls of the plan engine and its built-in
 * action types, one small function per operation, each on a (root, node
 * path) pair.  This module owns nothing but the mapping from those pairs to
 * system calls: it is the only place in src/plan* that touches the file
 * system.  Each call opens the directory of its path through the root at
 * that moment (ep_root_open_dir: openat2 with RESOLVE_IN_ROOT, or the walk)
 * and acts on the last component relative to that descriptor (fs.h's *_at
 * calls), never following a symlink there; a path string under a root is
 * never opened.  It must not keep a path or a descriptor across calls,
 * decide policy or print.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "plan_internal.h"
#include "util/cleanup.h"

char *ep_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

const char *ep_path_basename(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

/*
 * The real path of the pair, for messages only: ep_root_path() of the
 * directory part, the last component appended as it is (so that a message
 * about a symlink names the link).  Nothing is ever opened by this string;
 * computing it refuses, early and with a clear message, a path whose
 * directory leaves the root through ".." or a symlink (-EXDEV) - the
 * descriptors the calls below act through could not leave it anyway.
 */
static int real_of(const char *root, const char *path, char **ret, struct ep_error *err)
{
	if (!path || path[0] != '/')
		return ep_root_path(root, path, ret, err);
	_cleanup_free_ char *norm = strdup(path);
	if (!norm)
		return ep_error_set(err, -ENOMEM, "out of memory");
	size_t len = strlen(norm);
	while (len > 1 && norm[len - 1] == '/')
		norm[--len] = '\0';
	const char *base = ep_path_basename(norm);
	if (len == 1 || !strcmp(base, ".") || !strcmp(base, ".."))
		return ep_root_path(root, norm, ret, err);
	_cleanup_free_ char *dir = ep_path_dirname(norm), *rdir = NULL;
	if (!dir)
		return ep_error_set(err, -ENOMEM, "out of memory");
	int r = ep_root_path(root, dir, &rdir, err);
	if (r < 0)
		return r;
	size_t dl = strlen(rdir);
	if (asprintf(ret, "%s%s%s", rdir, dl && rdir[dl - 1] == '/' ? "" : "/", base) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

char *ep_pfs_real(const char *root, const char *path)
{
	char *real = NULL;
	if (real_of(root, path, &real, NULL) < 0)
		return NULL;
	return real;
}

/*
 * One entry of the root: the node path of its directory, its last
 * component, the real paths of both for messages and, once pfs_open() has
 * run, a descriptor of the directory opened through the root.
 */
struct pfs_entry {
	char *node_dir; /* "/etc/app" */
	char *name;	/* "conf" */
	char *dir;	/* for messages: "/tmp/n1/etc/app" */
	char *real;	/* for messages: "/tmp/n1/etc/app/conf" */
	int dirfd;
};
static void pfs_release(struct pfs_entry *e)
{
	free(e->node_dir);
	free(e->name);
	free(e->dir);
	free(e->real);
	if (e->dirfd >= 0)
		close(e->dirfd);
	*e = (struct pfs_entry){.dirfd = -1};
}

/*
 * Split @path into *@e (no descriptor yet).  A path that names no entry of
 * a directory ("/", ending in "." or "..") is -EINVAL; a directory part
 * that leaves the root is refused as real_of() says.  0 or -errno with @err.
 */
static int pfs_entry(const char *root, const char *path, struct pfs_entry *e, struct ep_error *err)
{
	*e = (struct pfs_entry){.dirfd = -1};
	_cleanup_free_ char *probe = NULL;
	if (!path || path[0] != '/')
		return ep_root_path(root, path, &probe, err); /* the message of a relative path */
	_cleanup_free_ char *norm = strdup(path);
	if (!norm)
		return ep_error_set(err, -ENOMEM, "out of memory");
	size_t len = strlen(norm);
	while (len > 1 && norm[len - 1] == '/')
		norm[--len] = '\0';
	const char *base = ep_path_basename(norm);
	if (len == 1 || !strcmp(base, ".") || !strcmp(base, ".."))
		return ep_error_set(err, -EINVAL, "'%s' names no file of a directory", path);
	e->node_dir = ep_path_dirname(norm);
	e->name = strdup(base);
	if (!e->node_dir || !e->name)
		return ep_error_set(err, -ENOMEM, "out of memory");
	int r = ep_root_path(root, e->node_dir, &e->dir, err);
	if (r < 0)
		return r;
	size_t dl = strlen(e->dir);
	if (asprintf(&e->real, "%s%s%s", e->dir, dl && e->dir[dl - 1] == '/' ? "" : "/", base) <
	    0) {
		e->real = NULL;
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* Open the directory of @e through the root, now: 0 or -errno, without a message. */
static int pfs_open(const char *root, struct pfs_entry *e)
{
	return ep_root_open_dir(root, e->node_dir, false, 0, &e->dirfd, NULL, NULL);
}

/* pfs_entry() and pfs_open(); a failure of the latter is "@verb '<real path>': <reason>". */
static int pfs_enter(const char *root, const char *path, const char *verb, struct pfs_entry *e,
		     struct ep_error *err)
{
	int r = pfs_entry(root, path, e, err);
	if (r >= 0 && (r = pfs_open(root, e)) < 0)
		return ep_error_set(err, r, "%s '%s': %s", verb, e->real, strerror(-r));
	return r;
}

int ep_pfs_stat(const char *root, const char *path, bool follow, struct stat *ret)
{
	/* As before: a path that leaves the root is -EXDEV (the string is not used). */
	_cleanup_free_ char *real = NULL;
	int r = follow ? ep_root_path(root, path, &real, NULL) : real_of(root, path, &real, NULL);
	if (r < 0)
		return r;
	if (!follow)
		return ep_root_lstat(root, path, ret);
	_cleanup_close_ int fd = -1;
	r = ep_root_open(root, path, O_PATH, 0, &fd, NULL);
	if (r < 0)
		return r;
	return fstat(fd, ret) < 0 ? -errno : 0;
}

int ep_pfs_mkdir(const char *root, const char *path, mode_t mode, struct ep_error *err)
{
	_cleanup_(pfs_release) struct pfs_entry e = {.dirfd = -1};
	int r = pfs_enter(root, path, "creating directory", &e, err);
	return r < 0 ? r : ep_mkdir_at(e.dirfd, e.dir, e.name, mode, err);
}

int ep_pfs_mkdir_p(const char *root, const char *path, mode_t mode, struct ep_error *err)
{
	/* As before: a path that leaves the root is refused early (the string is not used). */
	_cleanup_free_ char *real = NULL;
	int r = ep_root_path(root, path, &real, err);
	return r < 0 ? r : ep_root_mkdir_p(root, path, mode, err);
}

int ep_pfs_rmdir(const char *root, const char *path)
{
	_cleanup_(pfs_release) struct pfs_entry e = {.dirfd = -1};
	int r = pfs_entry(root, path, &e, NULL);
	if (r >= 0)
		r = pfs_open(root, &e);
	return r < 0 ? r : ep_unlink_at(e.dirfd, e.dir, e.name, true, NULL);
}

bool ep_pfs_dir_empty(const char *root, const char *path)
{
	_cleanup_(pfs_release) struct pfs_entry e = {.dirfd = -1};
	if (pfs_entry(root, path, &e, NULL) < 0 || pfs_open(root, &e) < 0)
		return false;
	int fd = openat(e.dirfd, e.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	struct dirent *de;
	bool empty = true;
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	closedir(d);
	return empty;
}

int ep_pfs_unlink(const char *root, const char *path, struct ep_error *err)
{
	_cleanup_(pfs_release) struct pfs_entry e = {.dirfd = -1};
	int r = pfs_entry(root, path, &e, err);
	if (r < 0)
		return r;
	r = pfs_open(root, &e);
	if (r == -ENOENT) /* no directory: no file either */
		return r;
	if (r < 0)
		return ep_error_set(err, r, "removing '%s': %s", e.real, strerror(-r));
	return ep_unlink_at(e.dirfd, e.dir, e.name, false, err);
}

int ep_pfs_rename_noreplace(const char *root, const char *from, const char *to,
			    struct ep_error *err)
{
	_cleanup_(pfs_release) struct pfs_entry f = {.dirfd = -1}, t = {.dirfd = -1};
	int r = pfs_entry(root, from, &f, err);
	if (r >= 0)
		r = pfs_entry(root, to, &t, err);
	if (r < 0)
		return r;
	if ((r = pfs_open(root, &f)) < 0 || (r = pfs_open(root, &t)) < 0)
		return ep_error_set(err, r, "moving '%s' to '%s': %s", f.real, t.real,
				    strerror(-r));
	return ep_rename_noreplace_at(f.dirfd, f.dir, f.name, t.dirfd, t.dir, t.name, err);
}

int ep_pfs_chmod(const char *root, const char *path, mode_t mode, struct ep_error *err)
{
	_cleanup_(pfs_release) struct pfs_entry e = {.dirfd = -1};
	int r = pfs_enter(root, path, "chmod of", &e, err);
	return r < 0 ? r : ep_chmod_at(e.dirfd, e.dir, e.name, mode, err);
}

int ep_pfs_read(const char *root, const char *path, size_t max, char **ret, size_t *ret_len,
		struct ep_error *err)
{
	_cleanup_(pfs_release) struct pfs_entry e = {.dirfd = -1};
	int r = pfs_enter(root, path, "reading", &e, err);
	return r < 0 ? r : ep_read_file_at(e.dirfd, e.dir, e.name, max, ret, ret_len, err);
}

char *ep_pfs_hidden_name(const char *path)
{
	_cleanup_free_ char *dir = ep_path_dirname(path);
	char *out = NULL;
	if (!dir)
		return NULL;
	if (asprintf(&out, "%s%s.%s.etcdpilot-new", dir, strcmp(dir, "/") ? "/" : "",
		     ep_path_basename(path)) < 0)
		return NULL;
	return out;
}

int ep_pfs_write(const char *root, const char *path, const void *data, size_t len, mode_t mode,
		 bool hidden, struct ep_error *err)
{
	_cleanup_(pfs_release) struct pfs_entry e = {.dirfd = -1};
	int r = pfs_enter(root, path, "writing", &e, err);
	if (r < 0)
		return r;
	if (!hidden)
		return ep_write_atomic_at(e.dirfd, e.dir, e.name, data, len, mode, err);

	_cleanup_free_ char *hname = NULL, *hshown = NULL;
	if (asprintf(&hname, ".%s.etcdpilot-new", e.name) < 0 ||
	    asprintf(&hshown, "%s%s%s", e.dir, strcmp(e.dir, "/") ? "/" : "", hname) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct stat st;
	if (fstatat(e.dirfd, e.name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return ep_error_set(err, -ELOOP,
				    "refusing to write '%s': it is a symbolic link; remove it and "
				    "run again",
				    e.real);
	r = ep_write_atomic_at(e.dirfd, e.dir, hname, data, len, mode, err);
	if (r < 0)
		return r;
	if (renameat(e.dirfd, hname, e.dirfd, e.name) < 0) {
		r = -errno;
		unlinkat(e.dirfd, hname, 0);
		return ep_error_set(err, r, "renaming '%s' to '%s': %s", hshown, e.real,
				    strerror(-r));
	}
	if (fsync(e.dirfd) < 0 && errno != EINVAL)
		return ep_error_set(err, -errno, "fsync of directory '%s': %s", e.dir,
				    strerror(errno));
	return 0;
}

int ep_pfs_copy(const char *root, const char *from, const char *to, mode_t mode,
		struct ep_error *err)
{
	_cleanup_(pfs_release) struct pfs_entry f = {.dirfd = -1}, t = {.dirfd = -1};
	int r = pfs_enter(root, from, "reading", &f, err);
	if (r >= 0)
		r = pfs_enter(root, to, "creating", &t, err);
	return r < 0 ? r : ep_copy_at(f.dirfd, f.dir, f.name, t.dirfd, t.dir, t.name, mode, err);
}

int ep_pfs_remove_tree(const char *root, const char *path, struct ep_error *err)
{
	_cleanup_(pfs_release) struct pfs_entry e = {.dirfd = -1};
	int r = pfs_entry(root, path, &e, err);
	if (r < 0)
		return r;
	r = pfs_open(root, &e);
	if (r == -ENOENT) /* no directory: nothing to remove */
		return 0;
	if (r < 0)
		return ep_error_set(err, r, "opening '%s': %s", e.dir, strerror(-r));
	return ep_remove_tree_at(e.dirfd, e.dir, e.name, err);
}

int ep_pfs_sweep(const char *root, const char *path, struct ep_error *err)
{
	_cleanup_(pfs_release) struct pfs_entry e = {.dirfd = -1};
	int r = pfs_entry(root, path, &e, err);
	if (r < 0)
		return r;
	r = pfs_open(root, &e);
	if (r == -ENOENT) /* no directory: no leftovers */
		return 0;
	if (r < 0)
		return ep_error_set(err, r, "opening directory '%s': %s", e.dir, strerror(-r));
	return ep_write_atomic_sweep_at(e.dirfd, e.dir, e.name, false, err);
}

int ep_pfs_lock(const char *root, const char *path, unsigned timeout_ms, int *ret_fd,
		struct ep_error *err)
{
	/* As before: a path that leaves the root is refused early (the string is not used). */
	_cleanup_free_ char *real = NULL;
	int r = real_of(root, path, &real, err);
	return r < 0 ? r : ep_root_dir_lock(root, path, timeout_ms, ret_fd, err);
}
