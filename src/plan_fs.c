/*
 * plan_fs.c - the file-system calls of the plan engine and its built-in
 * action types, one small function per operation, each on a (root, node
 * path) pair.  This module owns nothing but the mapping from those pairs to
 * system calls: it is the only place in src/plan* that touches the file
 * system, so that moving to root-relative operations (openat2 with
 * RESOLVE_IN_ROOT, resolved at the moment of each call) changes this file
 * alone.  It must not keep a path across calls, decide policy or print.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
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
 * Map the pair, with a message on failure.  Only the directory part is
 * resolved (symlinks in it followed inside the root): the last component
 * is kept as it is, so that lstat, unlink, rename, rmdir and rm -rf act on
 * a symlink itself and never on what it points to.
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

static int fsync_dir(const char *real_dir, struct ep_error *err)
{
	_cleanup_close_ int fd = open(real_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ep_error_set(err, -errno, "opening directory '%s': %s", real_dir,
				    strerror(errno));
	if (fsync(fd) < 0 && errno != EINVAL)
		return ep_error_set(err, -errno, "fsync of directory '%s': %s", real_dir,
				    strerror(errno));
	return 0;
}

static int fsync_parent(const char *real, struct ep_error *err)
{
	_cleanup_free_ char *dir = ep_path_dirname(real);
	if (!dir)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return fsync_dir(dir, err);
}

int ep_pfs_stat(const char *root, const char *path, bool follow, struct stat *ret)
{
	_cleanup_free_ char *real = NULL;
	int r = follow ? ep_root_path(root, path, &real, NULL) : real_of(root, path, &real, NULL);
	if (r < 0)
		return r;
	if ((follow ? stat(real, ret) : lstat(real, ret)) < 0)
		return -errno;
	return 0;
}

int ep_pfs_mkdir(const char *root, const char *path, mode_t mode, struct ep_error *err)
{
	_cleanup_free_ char *real = NULL;
	int r = real_of(root, path, &real, err);
	if (r < 0)
		return r;
	if (mkdir(real, mode & 07777) < 0) {
		if (errno == EEXIST)
			return -EEXIST;
		return ep_error_set(err, -errno, "creating directory '%s': %s", real,
				    strerror(errno));
	}
	/* Exact, whatever the umask. */
	if (chmod(real, mode & 07777) < 0)
		return ep_error_set(err, -errno, "chmod of '%s': %s", real, strerror(errno));
	return fsync_parent(real, err);
}

int ep_pfs_mkdir_p(const char *root, const char *path, mode_t mode, struct ep_error *err)
{
	_cleanup_free_ char *real = NULL;
	int r = ep_root_path(root, path, &real, err);
	if (r < 0)
		return r;
	return ep_mkdir_p(real, mode, err);
}

int ep_pfs_rmdir(const char *root, const char *path)
{
	_cleanup_free_ char *real = NULL;
	int r = real_of(root, path, &real, NULL);
	if (r < 0)
		return r;
	if (rmdir(real) < 0)
		return errno == EEXIST ? -ENOTEMPTY : -errno;
	return fsync_parent(real, NULL);
}

bool ep_pfs_dir_empty(const char *root, const char *path)
{
	_cleanup_free_ char *real = NULL;
	if (real_of(root, path, &real, NULL) < 0 || !ep_path_exists(real))
		return false;
	return ep_dir_empty_or_absent(real);
}

int ep_pfs_unlink(const char *root, const char *path, struct ep_error *err)
{
	_cleanup_free_ char *real = NULL;
	int r = real_of(root, path, &real, err);
	if (r < 0)
		return r;
	if (unlink(real) < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return ep_error_set(err, -errno, "removing '%s': %s", real, strerror(errno));
	}
	return fsync_parent(real, err);
}

int ep_pfs_rename_noreplace(const char *root, const char *from, const char *to,
			    struct ep_error *err)
{
	_cleanup_free_ char *rfrom = NULL, *rto = NULL;
	int r = real_of(root, from, &rfrom, err);
	if (r >= 0)
		r = real_of(root, to, &rto, err);
	if (r < 0)
		return r;
	if (renameat2(AT_FDCWD, rfrom, AT_FDCWD, rto, RENAME_NOREPLACE) < 0) {
		int e = errno;
		if (e == EINVAL || e == ENOSYS) {
			/* A file system without RENAME_NOREPLACE: check, then rename. */
			struct stat st;
			if (lstat(rto, &st) == 0)
				e = EEXIST;
			else if (rename(rfrom, rto) == 0)
				e = 0;
			else
				e = errno;
		}
		if (e == EEXIST)
			return ep_error_set(err, -EEXIST,
					    "cannot move '%s' to '%s': something is there already",
					    rfrom, rto);
		if (e == EXDEV)
			return ep_error_set(err, -EXDEV,
					    "cannot move '%s' to '%s': they are on different file "
					    "systems",
					    rfrom, rto);
		if (e)
			return ep_error_set(err, -e, "moving '%s' to '%s': %s", rfrom, rto,
					    strerror(e));
	}
	r = fsync_parent(rto, err);
	if (r >= 0)
		r = fsync_parent(rfrom, err);
	return r;
}

int ep_pfs_chmod(const char *root, const char *path, mode_t mode, struct ep_error *err)
{
	_cleanup_free_ char *real = NULL;
	int r = real_of(root, path, &real, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open(real, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ep_error_set(err, -errno, "chmod of '%s': %s", real, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ep_error_set(err, -errno, "chmod of '%s': %s", real, strerror(errno));
	if (S_ISLNK(st.st_mode))
		return ep_error_set(err, -ELOOP, "refusing to chmod '%s': it is a symbolic link",
				    real);
	/* chmod through the O_PATH descriptor: what was checked is what changes. */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (chmod(proc, mode & 07777) < 0 && chmod(real, mode & 07777) < 0)
		return ep_error_set(err, -errno, "chmod of '%s': %s", real, strerror(errno));
	return 0;
}

int ep_pfs_read(const char *root, const char *path, size_t max, char **ret, size_t *ret_len,
		struct ep_error *err)
{
	_cleanup_free_ char *real = NULL;
	int r = real_of(root, path, &real, err);
	if (r < 0)
		return r;
	return ep_read_file(real, max, true, ret, ret_len, err);
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
	_cleanup_free_ char *real = NULL;
	int r = real_of(root, path, &real, err);
	if (r < 0)
		return r;
	if (!hidden)
		return ep_write_atomic(real, data, len, mode, err);

	_cleanup_free_ char *hnode = ep_pfs_hidden_name(path), *hreal = NULL;
	if (!hnode)
		return ep_error_set(err, -ENOMEM, "out of memory");
	r = real_of(root, hnode, &hreal, err);
	if (r < 0)
		return r;
	struct stat st;
	if (lstat(real, &st) == 0 && S_ISLNK(st.st_mode))
		return ep_error_set(err, -ELOOP,
				    "refusing to write '%s': it is a symbolic link; remove it and "
				    "run again",
				    real);
	r = ep_write_atomic(hreal, data, len, mode, err);
	if (r < 0)
		return r;
	if (rename(hreal, real) < 0) {
		r = -errno;
		unlink(hreal);
		return ep_error_set(err, r, "renaming '%s' to '%s': %s", hreal, real, strerror(-r));
	}
	return fsync_parent(real, err);
}

int ep_pfs_copy(const char *root, const char *from, const char *to, mode_t mode,
		struct ep_error *err)
{
	_cleanup_free_ char *rfrom = NULL, *rto = NULL, *tmp = NULL;
	int r = real_of(root, from, &rfrom, err);
	if (r >= 0)
		r = real_of(root, to, &rto, err);
	if (r < 0)
		return r;
	_cleanup_close_ int in = open(rfrom, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (in < 0)
		return ep_error_set(err, -errno, "reading '%s': %s", rfrom, strerror(errno));
	struct stat st;
	if (fstat(in, &st) < 0)
		return ep_error_set(err, -errno, "reading '%s': %s", rfrom, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ep_error_set(err, -EINVAL, "copying '%s': not a regular file", rfrom);

	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)getpid();
	if (asprintf(&tmp, "%s.ep-copy-%016llx", rto, (unsigned long long)rnd) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
	if (out < 0)
		return ep_error_set(err, -errno, "creating '%s': %s", tmp, strerror(errno));
	if (fchmod(out, mode & 07777) < 0) {
		r = ep_error_set(err, -errno, "chmod of '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = ep_error_set(err, -errno, "reading '%s': %s", rfrom, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				r = ep_error_set(err, -errno, "writing '%s': %s", tmp,
						 strerror(errno));
				goto fail;
			}
			off += w;
		}
	}
	if (fsync(out) < 0) {
		r = ep_error_set(err, -errno, "fsync of '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(out) < 0) {
		out = -1;
		r = ep_error_set(err, -errno, "closing '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	out = -1;
	if (rename(tmp, rto) < 0) {
		r = ep_error_set(err, -errno, "renaming '%s' to '%s': %s", tmp, rto,
				 strerror(errno));
		goto fail;
	}
	return fsync_parent(rto, err);
fail:
	if (out >= 0)
		close(out);
	unlink(tmp);
	return r;
}

/* rm -rf of the entry @name of @parent (@real names it in messages). */
static int remove_at(int parent, const char *name, const char *real, struct ep_error *err)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return ep_error_set(err, -errno, "inspecting '%s': %s", real, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
			return ep_error_set(err, -errno, "removing '%s': %s", real,
					    strerror(errno));
		return 0;
	}
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ep_error_set(err, -errno, "opening '%s': %s", real, strerror(errno));
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return ep_error_set(err, -e, "opening '%s': %s", real, strerror(e));
	}
	int r = 0;
	struct dirent *de;
	while (r >= 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *sub = NULL;
		if (asprintf(&sub, "%s/%s", real, de->d_name) < 0) {
			r = ep_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		r = remove_at(dirfd(d), de->d_name, sub, err);
	}
	closedir(d);
	if (r < 0)
		return r;
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return ep_error_set(err, -errno, "removing '%s': %s", real, strerror(errno));
	return 0;
}

int ep_pfs_remove_tree(const char *root, const char *path, struct ep_error *err)
{
	_cleanup_free_ char *real = NULL, *dir = NULL;
	int r = real_of(root, path, &real, err);
	if (r < 0)
		return r;
	dir = ep_path_dirname(real);
	if (!dir)
		return ep_error_set(err, -ENOMEM, "out of memory");
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno == ENOENT)
			return 0;
		return ep_error_set(err, -errno, "opening '%s': %s", dir, strerror(errno));
	}
	r = remove_at(dfd, ep_path_basename(real), real, err);
	if (r >= 0 && fsync(dfd) < 0 && errno != EINVAL)
		r = ep_error_set(err, -errno, "fsync of directory '%s': %s", dir, strerror(errno));
	return r;
}

int ep_pfs_sweep(const char *root, const char *path, struct ep_error *err)
{
	_cleanup_free_ char *real = NULL;
	int r = real_of(root, path, &real, err);
	if (r < 0)
		return r;
	return ep_write_atomic_sweep(real, false, err);
}

int ep_pfs_lock(const char *root, const char *path, unsigned timeout_ms, int *ret_fd,
		struct ep_error *err)
{
	_cleanup_free_ char *real = NULL;
	int r = real_of(root, path, &real, err);
	if (r < 0)
		return r;
	return ep_dir_lock(real, timeout_ms, ret_fd, err);
}
