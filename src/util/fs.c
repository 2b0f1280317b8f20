/*
 * fs.c - atomic file writes and pairs of them, directory creation, bounded
 * reads, directory locks, and all of it under a --root that a path cannot
 * leave.  This module owns every byte the tool writes to disk; it must never
 * write in place, follow a planted symlink, resolve a path under a root
 * other than relative to a descriptor of that root, or leave a temp file
 * behind (and it is the one place that knows the temp files' names, so it
 * also sweeps up those an interrupted run left, and completes the pairs an
 * interrupted run was changing).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "util/cleanup.h"
#include "util/fs_internal.h"

/* Atomic writes' temp files: "<target>" EP_TEMP_SUFFIX and 16 lowercase hex digits. */
#define EP_TEMP_SUFFIX ".ep-"
#define EP_TEMP_HEX    16
/* As the kernel: at most 40 symlinks in one resolution. */
#define MAX_LINKS 40
/* Directories deep in one resolution by the walk; a node path is never near it. */
#define WALK_DEPTH 256
/* Real paths in messages: the root and the node path. */
#define DISP_MAX (2 * PATH_MAX)
/* A pair journal: a header line and one line per file. */
#define JOURNAL_MAGIC "etcdpilot pair journal 1"
#define JOURNAL_MAX   4096
#define PAIR_MAX      4

bool fs_test_no_openat2;
void (*fs_test_crash_point)(const char *what);

static void crash_point(const char *what)
{
	if (fs_test_crash_point)
		fs_test_crash_point(what);
}

/* ---- roots --------------------------------------------------------------- */

struct rootctx {
	int fd;			 /* AT_FDCWD for the real root, else an O_PATH fd of the root */
	bool real;
	char prefix[PATH_MAX];	 /* put in front of node paths in messages: "" or the root */
};

bool ep_root_is_real(const char *root)
{
	if (!root)
		return true;
	if (!*root)
		return false;
	for (const char *p = root; *p; p++)
		if (*p != '/')
			return false;
	return true;
}

static int empty_root(struct ep_error *err)
{
	return ep_error_usage(err, -EINVAL,
			      "an empty --root is refused: an unset variable must never mean the "
			      "real node; pass --root / to work on the real root");
}

static const char *kind_of(mode_t m)
{
	if (S_ISREG(m))
		return "a regular file";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	return "a special file";
}

/* What is wrong with a root that open(O_DIRECTORY) refused with @e; -@e. */
static int root_error(const char *root, int e, struct ep_error *err)
{
	struct stat st;
	if (e == ENOTDIR && stat(root, &st) == 0)
		return ep_error_usage(err, -ENOTDIR, "--root '%s' is not a directory (it is %s)",
				      root, kind_of(st.st_mode));
	if (e == ENOTDIR)
		return ep_error_usage(err, -ENOTDIR,
				      "--root '%s': a component of the path is not a directory",
				      root);
	if (e == ELOOP)
		return ep_error_usage(err, -ELOOP,
				      "--root '%s': too many levels of symbolic links (a symlink "
				      "loop?)",
				      root);
	if (e == ENAMETOOLONG)
		return ep_error_usage(err, -e, "--root '%s': %s", root, strerror(e));
	return ep_error_set(err, -e, "cannot open the root '%s': %s", root, strerror(e));
}

int ep_root_check(const char *root, struct ep_error *err)
{
	if (ep_root_is_real(root))
		return 0;
	if (!*root)
		return empty_root(err);
	_cleanup_close_ int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 || errno == ENOENT)
		return 0;
	return root_error(root, errno, err);
}

/* mkdir -p of @path (the root itself: trusted, plain path semantics) with @mode. */
static int mkdir_plain(const char *path, mode_t mode, struct ep_error *err)
{
	_cleanup_free_ char *buf = strdup(path);
	if (!buf)
		return ep_error_set(err, -ENOMEM, "out of memory");
	for (char *p = buf + 1;; p++) {
		bool last = *p == '\0';
		if (*p != '/' && !last)
			continue;
		char saved = *p;
		*p = '\0';
		struct stat st;
		if (stat(buf, &st) < 0) {
			if (errno != ENOENT)
				return ep_error_set(err, -errno, "inspecting '%s': %s", buf,
						    strerror(errno));
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return ep_error_set(err, -errno, "creating directory '%s': %s", buf,
						    strerror(errno));
			if (chmod(buf, mode) < 0)
				return ep_error_set(err, -errno, "chmod of '%s': %s", buf,
						    strerror(errno));
		} else if (!S_ISDIR(st.st_mode)) {
			return root_error(buf, ENOTDIR, err);
		}
		*p = saved;
		if (last)
			break;
	}
	return 0;
}

/*
 * Open @root for the operations that follow.  A root that does not exist is
 * -ENOENT without a message (the caller says what it wanted), unless
 * @create: then it is made with @mode.
 */
static int root_enter(const char *root, bool create, mode_t mode, struct rootctx *rc,
		      struct ep_error *err)
{
	rc->fd = -1;
	rc->real = false;
	rc->prefix[0] = '\0';
	if (ep_root_is_real(root)) {
		rc->real = true;
		rc->fd = AT_FDCWD;
		return 0;
	}
	if (!*root)
		return empty_root(err);
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (n >= sizeof(rc->prefix))
		return ep_error_usage(err, -ENAMETOOLONG, "--root '%s' is too long", root);
	memcpy(rc->prefix, root, n);
	rc->prefix[n] = '\0';
	int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		int r = mkdir_plain(rc->prefix, mode, err);
		if (r < 0)
			return r;
		fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		return root_error(root, errno, err);
	}
	rc->fd = fd;
	return 0;
}

static void root_leave(struct rootctx *rc)
{
	if (!rc->real && rc->fd >= 0)
		close(rc->fd);
	rc->fd = -1;
}

/* The real path of node path @path for messages (in @buf, or @path itself). */
static const char *real_path(const struct rootctx *rc, const char *path, char *buf, size_t size)
{
	if (rc->real)
		return path;
	snprintf(buf, size, "%s%s%s", rc->prefix, path[0] == '/' ? "" : "/", path);
	return buf;
}

/* "@dir/@name" for messages. */
static const char *join(const char *dir, const char *name, char *buf, size_t size)
{
	size_t n = strlen(dir);
	snprintf(buf, size, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
	return buf;
}

/* One component of a directory: no slash, not "." nor "..". */
static bool name_ok(const char *name)
{
	return name && *name && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* ---- resolving under a root ---------------------------------------------- */

struct walk {
	int fd[WALK_DEPTH];
	size_t n;
};

static void walk_pop_to(struct walk *w, size_t n)
{
	while (w->n > n)
		close(w->fd[--w->n]);
}

/*
 * The symlink open as @linkfd replaces itself: its target is put in front
 * of @rest (what was left of the path after it) in a new *@buf, and an
 * absolute target goes back to the root.
 */
static int walk_expand(char **buf, char **cur, int linkfd, const char *rest, int *links,
		       struct walk *w)
{
	if (++*links > MAX_LINKS)
		return -ELOOP;
	char target[PATH_MAX];
	ssize_t n = readlinkat(linkfd, "", target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ENOENT;
	if (target[0] == '/')
		walk_pop_to(w, 1);
	size_t rl = strlen(rest);
	char *nb = malloc((size_t)n + rl + 1);
	if (!nb)
		return -ENOMEM;
	memcpy(nb, target, (size_t)n);
	memcpy(nb + n, rest, rl + 1);
	free(*buf);
	*buf = *cur = nb;
	return 0;
}

/*
 * openat2(RESOLVE_IN_ROOT) done by hand, for kernels without it (systemd's
 * chase()): @rel is resolved one component at a time from the root @rootfd,
 * each opened O_PATH|O_NOFOLLOW relative to the directory above it, which is
 * held open; a symlink is read and its target resolved the same way (from
 * the root when absolute), ".." drops the last directory held and never the
 * root.  The kernel's ".." is never used, so a directory moved away
 * meanwhile cannot lead outside.  Returns the fd or -errno.
 */
static int walk_open(int rootfd, const char *rel, int flags, mode_t mode)
{
	struct walk w = {.n = 0};
	int r;
	int fd0 = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (fd0 < 0)
		return -errno;
	w.fd[w.n++] = fd0;
	char *buf = strdup(rel);
	if (!buf) {
		walk_pop_to(&w, 0);
		return -ENOMEM;
	}
	char *cur = buf;
	int links = 0;
	for (;;) {
		while (*cur == '/')
			cur++;
		int top = w.fd[w.n - 1];
		if (!*cur) { /* the path ends at a directory already open: "", ".", "a/.." */
			if (flags & O_CREAT)
				r = -EISDIR;
			else if ((r = openat(top, ".", flags & ~O_NOFOLLOW, mode)) < 0)
				r = -errno;
			break;
		}
		size_t clen = strcspn(cur, "/");
		if (clen > NAME_MAX) {
			r = -ENAMETOOLONG;
			break;
		}
		char comp[NAME_MAX + 1];
		memcpy(comp, cur, clen);
		comp[clen] = '\0';
		char *next = cur + clen;
		bool last = *next == '\0'; /* "dir/" is a directory to enter, then "" */
		if (!strcmp(comp, ".")) {
			cur = next;
			continue;
		}
		if (!strcmp(comp, "..")) {
			walk_pop_to(&w, w.n > 1 ? w.n - 1 : 1);
			cur = next;
			continue;
		}
		if (last && (flags & O_NOFOLLOW)) {
			if ((r = openat(top, comp, flags, mode)) < 0)
				r = -errno;
			break;
		}
		/* Look at what it is without following it. */
		int fd = openat(top, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			if (r == -ENOENT && last && (flags & O_CREAT) &&
			    (r = openat(top, comp, flags | O_NOFOLLOW, mode)) < 0)
				r = -errno;
			break;
		}
		struct stat st;
		if (fstat(fd, &st) < 0) {
			r = -errno;
			close(fd);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			r = walk_expand(&buf, &cur, fd, next, &links, &w);
			close(fd);
			if (r < 0)
				break;
			continue;
		}
		if (last) {
			close(fd);
			/* O_NOFOLLOW: a symlink swapped in since the look is refused, not followed. */
			if ((r = openat(top, comp, flags | O_NOFOLLOW, mode)) < 0)
				r = -errno;
			break;
		}
		if (!S_ISDIR(st.st_mode) || w.n == WALK_DEPTH) {
			r = S_ISDIR(st.st_mode) ? -ENAMETOOLONG : -ENOTDIR;
			close(fd);
			break;
		}
		w.fd[w.n++] = fd;
		cur = next;
	}
	walk_pop_to(&w, 0);
	free(buf);
	return r;
}

/*
 * Open node path @path under @rc with @flags (O_CLOEXEC added), resolved in
 * the root at this moment: the fd or -errno.
 */
static int rc_open(const struct rootctx *rc, const char *path, int flags, mode_t mode)
{
	flags |= O_CLOEXEC;
	if (!(flags & O_CREAT))
		mode = 0;
	if (rc->real) {
		int fd = openat(AT_FDCWD, path, flags, mode);
		return fd < 0 ? -errno : fd;
	}
	const char *rel = path;
	while (*rel == '/')
		rel++;
	if (!*rel)
		rel = ".";
	if (!fs_test_no_openat2) {
		struct open_how how = {
		    .flags = (uint64_t)(unsigned)flags,
		    .mode = mode,
		    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
		};
		/* EAGAIN: a rename elsewhere raced a ".." - the kernel asks to try again. */
		for (int tries = 0; tries < 64; tries++) {
			long fd = syscall(SYS_openat2, rc->fd, rel, &how, sizeof(how));
			if (fd >= 0)
				return (int)fd;
			if (errno != EAGAIN && errno != EINTR)
				break;
		}
		if (errno != ENOSYS)
			return -errno;
	}
	return walk_open(rc->fd, rel, flags, mode);
}

/*
 * Split node path @path into its directory (in @dirbuf) and last component
 * (a pointer into @path, or into @dirbuf's tail when @path ends in slashes).
 * -EINVAL when there is no last component ("/", ".", "a/..").
 */
static int split_path(const char *path, char *dirbuf, size_t size, const char **ret_name)
{
	size_t n = strlen(path);
	if (n + 3 > size)
		return -ENAMETOOLONG;
	memcpy(dirbuf, path, n + 1);
	while (n > 1 && dirbuf[n - 1] == '/')
		dirbuf[--n] = '\0';
	char *slash = strrchr(dirbuf, '/');
	const char *name = slash ? slash + 1 : dirbuf;
	if (!name_ok(name))
		return -EINVAL;
	/* The name stays in the buffer's tail, after the directory's NUL. */
	if (!slash) {
		memmove(dirbuf + 2, dirbuf, n + 1);
		dirbuf[0] = '.';
		dirbuf[1] = '\0';
		*ret_name = dirbuf + 2;
	} else if (slash == dirbuf) {
		memmove(dirbuf + 2, dirbuf + 1, n);
		dirbuf[1] = '\0';
		*ret_name = dirbuf + 2;
	} else {
		*slash = '\0';
		*ret_name = slash + 1;
	}
	return 0;
}

/* An O_RDONLY descriptor of the directory @dirfd (which may be O_PATH). */
static int dir_reopen(int dirfd)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int fsync_dirfd(int dirfd, const char *dir, struct ep_error *err)
{
	if (fsync(dirfd) == 0 || errno == EINVAL)
		return 0;
	if (errno == EBADF) { /* an O_PATH descriptor */
		_cleanup_close_ int fd = dir_reopen(dirfd);
		if (fd >= 0 && (fsync(fd) == 0 || errno == EINVAL))
			return 0;
		if (fd < 0)
			errno = -fd;
	}
	return ep_error_set(err, -errno, "fsync of directory '%s': %s", dir, strerror(errno));
}

int ep_root_open(const char *root, const char *path, int flags, mode_t mode, int *ret_fd,
		 struct ep_error *err)
{
	_cleanup_(root_leave) struct rootctx rc;
	int r = root_enter(root, false, 0, &rc, err);
	char disp[DISP_MAX];
	if (r == -ENOENT)
		return ep_error_set(err, r, "opening '%s': %s",
				    real_path(&rc, path, disp, sizeof(disp)), strerror(-r));
	if (r < 0)
		return r;
	int fd = rc_open(&rc, path, flags, mode);
	if (fd < 0)
		return ep_error_set(err, fd, "opening '%s': %s",
				    real_path(&rc, path, disp, sizeof(disp)), strerror(-fd));
	*ret_fd = fd;
	return 0;
}

int ep_root_lstat(const char *root, const char *path, struct stat *ret)
{
	_cleanup_(root_leave) struct rootctx rc;
	int r = root_enter(root, false, 0, &rc, NULL);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = rc_open(&rc, path, O_PATH | O_NOFOLLOW, 0);
	if (fd < 0)
		return fd;
	return fstat(fd, ret) < 0 ? -errno : 0;
}

bool ep_root_exists(const char *root, const char *path)
{
	struct stat st;
	return ep_root_lstat(root, path, &st) == 0;
}

bool ep_path_exists(const char *path)
{
	return ep_root_exists(NULL, path);
}

bool ep_root_dir_empty_or_absent(const char *root, const char *path)
{
	_cleanup_(root_leave) struct rootctx rc;
	int r = root_enter(root, false, 0, &rc, NULL);
	if (r < 0)
		return r == -ENOENT;
	int fd = rc_open(&rc, path, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return fd == -ENOENT;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	struct dirent *de;
	bool empty = true;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = false;
			break;
		}
	}
	closedir(d);
	return empty;
}

bool ep_dir_empty_or_absent(const char *path)
{
	return ep_root_dir_empty_or_absent(NULL, path);
}

/* ---- directories --------------------------------------------------------- */

/* Say what is at @prefix (which is in the way of a directory), as -ENOTDIR. */
static int not_a_dir(const struct rootctx *rc, const char *prefix, struct ep_error *err)
{
	char disp[DISP_MAX];
	const char *shown = real_path(rc, prefix, disp, sizeof(disp));
	_cleanup_close_ int fd = rc_open(rc, prefix, O_PATH | O_NOFOLLOW, 0);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode))
		return ep_error_set(err, -ENOTDIR,
				    "'%s' is a symbolic link that does not lead to a directory",
				    shown);
	return ep_error_set(err, -ENOTDIR, "'%s' exists and is not a directory", shown);
}

/*
 * mkdir -p of node path @path under @rc: each prefix is resolved in the root
 * anew and, when missing, made with mkdirat(2) in the directory above it,
 * then opened O_NOFOLLOW and chmod'ed through that fd.  Returns an O_RDONLY
 * fd of the directory or -errno with @err.
 */
static int rc_mkdir_p(const struct rootctx *rc, const char *path, mode_t mode, bool *ret_made,
		      struct ep_error *err)
{
	char disp[DISP_MAX];
	_cleanup_free_ char *buf = strdup(path);
	if (!buf)
		return ep_error_set(err, -ENOMEM, "out of memory");
	const char *start = rc->real && path[0] != '/' ? "." : "/";
	_cleanup_close_ int parent = rc_open(rc, start, O_PATH | O_DIRECTORY, 0);
	if (parent < 0)
		return ep_error_set(err, parent, "opening '%s': %s",
				    real_path(rc, start, disp, sizeof(disp)), strerror(-parent));
	bool made = false;
	char *p = buf;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *end = p + strcspn(p, "/");
		char saved = *end;
		*end = '\0'; /* buf is the prefix up to this component now */
		const char *comp = p;
		const char *shown = real_path(rc, buf, disp, sizeof(disp));
		int fd = -1;
		made = false;
		for (int attempt = 0; attempt < 8; attempt++) {
			fd = rc_open(rc, buf, O_PATH | O_DIRECTORY, 0);
			if (fd >= 0)
				break;
			if (fd == -ENOTDIR)
				return not_a_dir(rc, buf, err);
			if (fd != -ENOENT || !name_ok(comp))
				return ep_error_set(err, fd, "inspecting '%s': %s", shown,
						    strerror(-fd));
			if (mkdirat(parent, comp, mode & 07777) < 0) {
				if (errno != EEXIST)
					return ep_error_set(err, -errno,
							    "creating directory '%s': %s", shown,
							    strerror(errno));
				/* Something is there that does not resolve to a directory. */
				struct stat st;
				if (fstatat(parent, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				    !S_ISDIR(st.st_mode))
					return not_a_dir(rc, buf, err);
				continue; /* made by somebody else meanwhile: look again */
			}
			fd = openat(parent, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return ep_error_set(err, -errno, "creating directory '%s': %s",
						    shown, strerror(errno));
			/* The umask may have narrowed the mode: set it exactly. */
			if (fchmod(fd, mode & 07777) < 0) {
				int e = errno;
				close(fd);
				return ep_error_set(err, -e, "chmod of '%s': %s", shown,
						    strerror(e));
			}
			made = true;
			break;
		}
		if (fd < 0)
			return ep_error_set(err, -EAGAIN, "creating directory '%s': it keeps changing",
					    shown);
		close(parent);
		parent = fd;
		*end = saved;
		p = end;
	}
	int fd = dir_reopen(parent);
	if (fd < 0)
		return ep_error_set(err, fd, "opening directory '%s': %s",
				    real_path(rc, path, disp, sizeof(disp)), strerror(-fd));
	if (ret_made)
		*ret_made = made;
	return fd;
}

int ep_root_open_dir(const char *root, const char *path, bool create, mode_t mode, int *ret_fd,
		     bool *ret_made, struct ep_error *err)
{
	if (ret_made)
		*ret_made = false;
	_cleanup_(root_leave) struct rootctx rc;
	int r = root_enter(root, create, mode, &rc, err);
	char disp[DISP_MAX];
	if (r == -ENOENT)
		return ep_error_set(err, r, "opening directory '%s': %s",
				    real_path(&rc, path, disp, sizeof(disp)), strerror(-r));
	if (r < 0)
		return r;
	int fd;
	if (create) {
		fd = rc_mkdir_p(&rc, path, mode, ret_made, err);
		if (fd < 0)
			return fd;
	} else {
		fd = rc_open(&rc, path, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0)
			return ep_error_set(err, fd, "opening directory '%s': %s",
					    real_path(&rc, path, disp, sizeof(disp)),
					    strerror(-fd));
	}
	*ret_fd = fd;
	return 0;
}

int ep_root_mkdir_p(const char *root, const char *path, mode_t mode, struct ep_error *err)
{
	int fd = -1;
	int r = ep_root_open_dir(root, path, true, mode, &fd, NULL, err);
	if (fd >= 0)
		close(fd);
	return r;
}

int ep_mkdir_p(const char *path, mode_t mode, struct ep_error *err)
{
	return ep_root_mkdir_p(NULL, path, mode, err);
}

int ep_root_rmdir(const char *root, const char *path)
{
	_cleanup_(root_leave) struct rootctx rc;
	int r = root_enter(root, false, 0, &rc, NULL);
	if (r < 0)
		return r;
	char dir[PATH_MAX];
	const char *name;
	if ((r = split_path(path, dir, sizeof(dir), &name)) < 0)
		return r;
	_cleanup_close_ int dfd = rc_open(&rc, dir, O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return dfd;
	return unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/* ---- reading ------------------------------------------------------------- */

/* Read the open file @fd (named @shown) as ep_root_read_file() says. */
static int read_fd(int fd, const char *shown, size_t max, char **ret, size_t *ret_len,
		   struct ep_error *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ep_error_set(err, -errno, "reading '%s': %s", shown, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ep_error_set(err, -EINVAL,
				    "refusing to read '%s': it is %s, not a regular file", shown,
				    kind_of(st.st_mode));
	if ((size_t)st.st_size > max)
		return ep_error_set(err, -EFBIG, "reading '%s': larger than %zu bytes", shown, max);

	size_t cap = (size_t)st.st_size + 1, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return ep_error_set(err, -ENOMEM, "out of memory");
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > max + 1)
				return ep_error_set(err, -EFBIG, "reading '%s': larger than %zu bytes",
						    shown, max);
			size_t ncap = cap * 2 + 4096;
			char *nb = realloc(buf, ncap);
			if (!nb)
				return ep_error_set(err, -ENOMEM, "out of memory");
			buf = nb;
			cap = ncap;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ep_error_set(err, -errno, "reading '%s': %s", shown, strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return ep_error_set(err, -EFBIG, "reading '%s': larger than %zu bytes", shown,
					    max);
	}
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

/* The message for opening @shown for reading failing with -@r. */
static int read_open_error(int r, const char *shown, bool nofollow, int dirfd, const char *name,
			   struct ep_error *err)
{
	struct stat st;
	if (r == -ELOOP && nofollow)
		return ep_error_set(err, -ELOOP, "refusing to read '%s': it is a symbolic link",
				    shown);
	/* A socket cannot be opened at all: say what it is. */
	if (r == -ENXIO && dirfd >= 0 &&
	    fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH)) == 0)
		return ep_error_set(err, -EINVAL,
				    "refusing to read '%s': it is %s, not a regular file", shown,
				    kind_of(st.st_mode));
	if (r == -ENXIO)
		return ep_error_set(err, -EINVAL, "refusing to read '%s': not a regular file",
				    shown);
	return ep_error_set(err, r, "reading '%s': %s", shown, strerror(-r));
}

/* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused after fstat. */
#define READ_FLAGS (O_RDONLY | O_NONBLOCK | O_NOCTTY)

int ep_root_read_file(const char *root, const char *path, size_t max, bool nofollow, char **ret,
		      size_t *ret_len, struct ep_error *err)
{
	_cleanup_(root_leave) struct rootctx rc;
	char disp[DISP_MAX];
	int r = root_enter(root, false, 0, &rc, err);
	const char *shown = real_path(&rc, path, disp, sizeof(disp));
	if (r == -ENOENT)
		return ep_error_set(err, r, "reading '%s': %s", shown, strerror(-r));
	if (r < 0)
		return r;
	_cleanup_close_ int fd = rc_open(&rc, path, READ_FLAGS | (nofollow ? O_NOFOLLOW : 0), 0);
	if (fd == -ENXIO) { /* a socket cannot be opened: look at what it is */
		_cleanup_close_ int pfd = rc_open(&rc, path, O_PATH | (nofollow ? O_NOFOLLOW : 0), 0);
		return read_open_error(fd, shown, nofollow, pfd, "", err);
	}
	if (fd < 0)
		return read_open_error(fd, shown, nofollow, -1, NULL, err);
	return read_fd(fd, shown, max, ret, ret_len, err);
}

int ep_read_file(const char *path, size_t max, bool nofollow, char **ret, size_t *ret_len,
		 struct ep_error *err)
{
	return ep_root_read_file(NULL, path, max, nofollow, ret, ret_len, err);
}

int ep_read_file_at(int dirfd, const char *dir, const char *name, size_t max, char **ret,
		    size_t *ret_len, struct ep_error *err)
{
	char disp[DISP_MAX];
	const char *shown = join(dir, name, disp, sizeof(disp));
	if (!name_ok(name))
		return ep_error_set(err, -EINVAL, "'%s' is not a file name", name ? name : "");
	_cleanup_close_ int fd = openat(dirfd, name, READ_FLAGS | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return read_open_error(-errno, shown, true, dirfd, name, err);
	return read_fd(fd, shown, max, ret, ret_len, err);
}

/* ---- writing ------------------------------------------------------------- */

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Create the temp file @tmp in @dirfd (it must not exist: O_EXCL|O_NOFOLLOW
 * make a file or symlink planted there an error, -EEXIST, never a target),
 * with mode @mode exactly and @data, fsynced and closed.  On failure it is
 * removed again.
 */
static int temp_write(int dirfd, const char *dir, const char *tmp, const void *data, size_t len,
		      mode_t mode, struct ep_error *err)
{
	char disp[DISP_MAX];
	const char *shown = join(dir, tmp, disp, sizeof(disp));
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			mode & 07777);
	if (fd < 0)
		return ep_error_set(err, -errno, "creating temporary file '%s': %s", shown,
				    strerror(errno));
	int r;
	/* The umask may have narrowed the mode; set it exactly before any data lands. */
	if (fchmod(fd, mode & 07777) < 0) {
		r = ep_error_set(err, -errno, "chmod of '%s': %s", shown, strerror(errno));
		goto fail;
	}
	if ((r = write_all(fd, data, len)) < 0) {
		ep_error_set(err, r, "writing '%s': %s", shown, strerror(-r));
		goto fail;
	}
	if (fsync(fd) < 0) {
		r = ep_error_set(err, -errno, "fsync of '%s': %s", shown, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = ep_error_set(err, -errno, "closing '%s': %s", shown, strerror(errno));
		goto fail;
	}
	crash_point("temp written");
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	return r;
}

int ep_write_temp_at(int dirfd, const char *dir, const char *name, const void *data, size_t len,
		     mode_t mode, char **ret_temp, struct ep_error *err)
{
	if (!name_ok(name))
		return ep_error_set(err, -EINVAL, "'%s' is not a file name", name ? name : "");
	size_t nl = strlen(name);
	if (nl + strlen(EP_TEMP_SUFFIX) + EP_TEMP_HEX > NAME_MAX)
		return ep_error_set(err, -ENAMETOOLONG, "'%s': file name too long", name);
	char tmp[NAME_MAX + 1];
	/* A random name that nobody can predict; on the rare collision, draw again. */
	for (int attempt = 0; attempt < 16; attempt++) {
		uint64_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)getpid() * 2654435761u + (uint64_t)attempt;
		snprintf(tmp, sizeof(tmp), "%s" EP_TEMP_SUFFIX "%0*llx", name, EP_TEMP_HEX,
			 (unsigned long long)rnd);
		struct ep_error local;
		ep_error_clear(&local);
		int r = temp_write(dirfd, dir, tmp, data, len, mode, &local);
		if (r == -EEXIST)
			continue;
		if (r < 0) {
			if (err && !ep_error_isset(err))
				*err = local;
			return r;
		}
		*ret_temp = strdup(tmp);
		if (!*ret_temp) {
			unlinkat(dirfd, tmp, 0);
			return ep_error_set(err, -ENOMEM, "out of memory");
		}
		return 0;
	}
	char disp[DISP_MAX];
	return ep_error_set(err, -EEXIST, "creating temporary file for '%s': name collision",
			    join(dir, name, disp, sizeof(disp)));
}

/* What may be written at @dirfd/@name: not a symlink, not a directory. */
static int check_target(int dirfd, const char *dir, const char *name, struct ep_error *err)
{
	char disp[DISP_MAX];
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	if (S_ISLNK(st.st_mode))
		return ep_error_set(err, -ELOOP,
				    "refusing to write '%s': it is a symbolic link; remove it and "
				    "run again",
				    join(dir, name, disp, sizeof(disp)));
	if (S_ISDIR(st.st_mode))
		return ep_error_set(err, -EISDIR, "cannot write '%s': it is a directory",
				    join(dir, name, disp, sizeof(disp)));
	return 0;
}

/* Rename @tmp over @name in @dirfd and fsync the directory; the temp goes on failure. */
static int temp_commit(int dirfd, const char *dir, const char *tmp, const char *name,
		       struct ep_error *err)
{
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		char d1[DISP_MAX], d2[DISP_MAX];
		int r = ep_error_set(err, -errno, "renaming '%s' to '%s': %s",
				     join(dir, tmp, d1, sizeof(d1)), join(dir, name, d2, sizeof(d2)),
				     strerror(errno));
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	return fsync_dirfd(dirfd, dir, err);
}

int ep_write_atomic_at(int dirfd, const char *dir, const char *name, const void *data, size_t len,
		       mode_t mode, struct ep_error *err)
{
	if (!name_ok(name))
		return ep_error_set(err, -EINVAL, "'%s' is not a file name", name ? name : "");
	int r = check_target(dirfd, dir, name, err);
	if (r < 0)
		return r;
	_cleanup_free_ char *tmp = NULL;
	r = ep_write_temp_at(dirfd, dir, name, data, len, mode, &tmp, err);
	if (r < 0)
		return r;
	return temp_commit(dirfd, dir, tmp, name, err);
}

int ep_write_atomic_via(const char *path, const char *tmp, const void *data, size_t len,
			mode_t mode, struct ep_error *err)
{
	char dir[PATH_MAX], tdir[PATH_MAX];
	const char *name, *tname;
	if (split_path(path, dir, sizeof(dir), &name) < 0 ||
	    split_path(tmp, tdir, sizeof(tdir), &tname) < 0)
		return ep_error_set(err, -EINVAL, "'%s' or '%s' names no file", path, tmp);
	if (strcmp(dir, tdir))
		return ep_error_set(err, -EXDEV, "'%s' is not beside '%s'", tmp, path);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return ep_error_set(err, -errno, "opening directory '%s': %s", dir,
				    strerror(errno));
	int r = temp_write(dfd, dir, tname, data, len, mode, err);
	if (r < 0)
		return r;
	return temp_commit(dfd, dir, tname, name, err);
}

int ep_root_write_atomic(const char *root, const char *path, const void *data, size_t len,
			 mode_t mode, struct ep_error *err)
{
	_cleanup_(root_leave) struct rootctx rc;
	char disp[DISP_MAX], dir[PATH_MAX];
	int r = root_enter(root, false, 0, &rc, err);
	const char *shown = real_path(&rc, path, disp, sizeof(disp));
	if (r == -ENOENT)
		return ep_error_set(err, r, "writing '%s': %s", shown, strerror(-r));
	if (r < 0)
		return r;
	const char *name;
	if ((r = split_path(path, dir, sizeof(dir), &name)) < 0)
		return ep_error_set(err, r == -EINVAL ? -EISDIR : r, "cannot write '%s': %s",
				    shown, r == -EINVAL ? "it names a directory" : strerror(-r));
	_cleanup_close_ int dfd = rc_open(&rc, dir, O_RDONLY | O_DIRECTORY, 0);
	if (dfd < 0)
		return ep_error_set(err, dfd, "writing '%s': %s", shown, strerror(-dfd));
	char dshown[DISP_MAX];
	return ep_write_atomic_at(dfd, real_path(&rc, dir, dshown, sizeof(dshown)), name, data,
				  len, mode, err);
}

int ep_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		    struct ep_error *err)
{
	return ep_root_write_atomic(NULL, path, data, len, mode, err);
}

int ep_root_chmod(const char *root, const char *path, mode_t mode, struct ep_error *err)
{
	_cleanup_(root_leave) struct rootctx rc;
	char disp[DISP_MAX];
	int r = root_enter(root, false, 0, &rc, err);
	const char *shown = real_path(&rc, path, disp, sizeof(disp));
	if (r == -ENOENT)
		return ep_error_set(err, r, "chmod of '%s': %s", shown, strerror(-r));
	if (r < 0)
		return r;
	_cleanup_close_ int fd = rc_open(&rc, path, READ_FLAGS | O_NOFOLLOW, 0);
	if (fd < 0)
		return ep_error_set(err, fd, "chmod of '%s': %s", shown, strerror(-fd));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ep_error_set(err, -errno, "chmod of '%s': %s", shown, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ep_error_set(err, -EINVAL, "refusing to chmod '%s': it is %s", shown,
				    kind_of(st.st_mode));
	if (fchmod(fd, mode & 07777) < 0)
		return ep_error_set(err, -errno, "chmod of '%s': %s", shown, strerror(errno));
	return 0;
}

/* ---- leftovers ----------------------------------------------------------- */

/* True when @name is exactly "<@base>.ep-" and 16 lowercase hex digits. */
static bool is_temp_of(const char *name, const char *base)
{
	size_t bl = strlen(base), sl = strlen(EP_TEMP_SUFFIX);
	if (strncmp(name, base, bl) || strncmp(name + bl, EP_TEMP_SUFFIX, sl))
		return false;
	const char *hex = name + bl + sl;
	for (int i = 0; i < EP_TEMP_HEX; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return false;
	return hex[EP_TEMP_HEX] == '\0';
}

int ep_write_atomic_sweep_at(int dfd, const char *dir, const char *name, bool dry_run,
			     struct ep_error *err)
{
	if (!name_ok(name))
		return ep_error_set(err, -EINVAL, "'%s' names no file", name ? name : "");
	int fd = dir_reopen(dfd);
	if (fd < 0)
		return ep_error_set(err, fd, "opening directory '%s': %s", dir, strerror(-fd));
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return ep_error_set(err, -e, "opening directory '%s': %s", dir, strerror(e));
	}
	int n = 0, r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_temp_of(de->d_name, name))
			continue;
		struct stat st;
		/* Only our own kind of leftover: a regular file, never what a link names. */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (!dry_run && unlinkat(dirfd(d), de->d_name, 0) < 0) {
			char disp[DISP_MAX];
			r = ep_error_set(err, -errno, "removing the stale temporary file '%s': %s",
					 join(dir, de->d_name, disp, sizeof(disp)), strerror(errno));
			break;
		}
		n++;
	}
	closedir(d);
	return r < 0 ? r : n;
}

int ep_root_write_atomic_sweep(const char *root, const char *path, bool dry_run,
			       struct ep_error *err)
{
	_cleanup_(root_leave) struct rootctx rc;
	char disp[DISP_MAX], dir[PATH_MAX];
	int r = root_enter(root, false, 0, &rc, err);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	const char *name;
	if (split_path(path, dir, sizeof(dir), &name) < 0)
		return ep_error_set(err, -EINVAL, "'%s' names no file",
				    real_path(&rc, path, disp, sizeof(disp)));
	_cleanup_close_ int dfd = rc_open(&rc, dir, O_PATH | O_DIRECTORY, 0);
	if (dfd == -ENOENT)
		return 0;
	const char *shown = real_path(&rc, dir, disp, sizeof(disp));
	if (dfd < 0)
		return ep_error_set(err, dfd, "opening directory '%s': %s", shown, strerror(-dfd));
	return ep_write_atomic_sweep_at(dfd, shown, name, dry_run, err);
}

int ep_write_atomic_sweep(const char *path, bool dry_run, struct ep_error *err)
{
	return ep_root_write_atomic_sweep(NULL, path, dry_run, err);
}

/* ---- one entry of a directory already open ------------------------------- */

int ep_mkdir_at(int dirfd, const char *dir, const char *name, mode_t mode, struct ep_error *err)
{
	char disp[DISP_MAX];
	const char *shown = join(dir, name ? name : "", disp, sizeof(disp));
	if (!name_ok(name))
		return ep_error_set(err, -EINVAL, "'%s' is not a directory name", name ? name : "");
	if (mkdirat(dirfd, name, mode & 07777) < 0) {
		if (errno == EEXIST)
			return -EEXIST;
		return ep_error_set(err, -errno, "creating directory '%s': %s", shown,
				    strerror(errno));
	}
	/* The umask may have narrowed the mode: set it exactly, on what was made. */
	_cleanup_close_ int fd =
	    openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, mode & 07777) < 0)
		return ep_error_set(err, -errno, "chmod of '%s': %s", shown, strerror(errno));
	return fsync_dirfd(dirfd, dir, err);
}

int ep_unlink_at(int dirfd, const char *dir, const char *name, bool rmdir, struct ep_error *err)
{
	char disp[DISP_MAX];
	if (!name_ok(name))
		return ep_error_set(err, -EINVAL, "'%s' is not a file name", name ? name : "");
	if (unlinkat(dirfd, name, rmdir ? AT_REMOVEDIR : 0) < 0) {
		int e = errno == EEXIST ? ENOTEMPTY : errno;
		if (e == ENOENT || (rmdir && e == ENOTEMPTY))
			return -e;
		return ep_error_set(err, -e, "removing '%s': %s",
				    join(dir, name, disp, sizeof(disp)), strerror(e));
	}
	return fsync_dirfd(dirfd, dir, err);
}

int ep_rename_noreplace_at(int fromfd, const char *fromdir, const char *from, int tofd,
			   const char *todir, const char *to, struct ep_error *err)
{
	char d1[DISP_MAX], d2[DISP_MAX];
	const char *sfrom = join(fromdir, from ? from : "", d1, sizeof(d1));
	const char *sto = join(todir, to ? to : "", d2, sizeof(d2));
	if (!name_ok(from) || !name_ok(to))
		return ep_error_set(err, -EINVAL, "cannot move '%s' to '%s': not a file name",
				    sfrom, sto);
	int e = 0;
	if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) < 0) {
		e = errno;
		if (e == EINVAL || e == ENOSYS) {
			/* A file system without RENAME_NOREPLACE: check, then rename. */
			struct stat st;
			if (fstatat(tofd, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
				e = EEXIST;
			else if (renameat(fromfd, from, tofd, to) == 0)
				e = 0;
			else
				e = errno;
		}
	}
	if (e == EEXIST)
		return ep_error_set(err, -EEXIST,
				    "cannot move '%s' to '%s': something is there already", sfrom,
				    sto);
	if (e == EXDEV)
		return ep_error_set(err, -EXDEV,
				    "cannot move '%s' to '%s': they are on different file systems",
				    sfrom, sto);
	if (e)
		return ep_error_set(err, -e, "moving '%s' to '%s': %s", sfrom, sto, strerror(e));
	int r = fsync_dirfd(tofd, todir, err);
	return r < 0 ? r : fsync_dirfd(fromfd, fromdir, err);
}

int ep_chmod_at(int dirfd, const char *dir, const char *name, mode_t mode, struct ep_error *err)
{
	char disp[DISP_MAX];
	const char *shown = join(dir, name ? name : "", disp, sizeof(disp));
	if (!name_ok(name))
		return ep_error_set(err, -EINVAL, "'%s' is not a file name", name ? name : "");
	_cleanup_close_ int fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return ep_error_set(err, -errno, "chmod of '%s': %s", shown, strerror(errno));
	if (S_ISLNK(st.st_mode))
		return ep_error_set(err, -ELOOP, "refusing to chmod '%s': it is a symbolic link",
				    shown);
	/* fchmod() refuses an O_PATH descriptor: through /proc, what was checked is what changes.
	 */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (chmod(proc, mode & 07777) == 0)
		return 0;
	if (errno != ENOENT || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
		return ep_error_set(err, -errno, "chmod of '%s': %s", shown, strerror(errno));
	/* No /proc: open it for reading, never following, and make sure it is the same. */
	_cleanup_close_ int rfd = openat(dirfd, name, READ_FLAGS | O_NOFOLLOW | O_CLOEXEC);
	struct stat again;
	if (rfd < 0 || fstat(rfd, &again) < 0)
		return ep_error_set(err, -errno, "chmod of '%s': %s", shown, strerror(errno));
	if (again.st_dev != st.st_dev || again.st_ino != st.st_ino)
		return ep_error_set(err, -EAGAIN, "chmod of '%s': it was replaced meanwhile",
				    shown);
	if (fchmod(rfd, mode & 07777) < 0)
		return ep_error_set(err, -errno, "chmod of '%s': %s", shown, strerror(errno));
	return 0;
}

/* Create a new temp file "<@name>.ep-<16 hex>" in @dirfd with @mode exactly; its name in @tmp. */
static int temp_create(int dirfd, const char *dir, const char *name, mode_t mode,
		       char tmp[NAME_MAX + 1], struct ep_error *err)
{
	char disp[DISP_MAX];
	if (strlen(name) + strlen(EP_TEMP_SUFFIX) + EP_TEMP_HEX > NAME_MAX)
		return ep_error_set(err, -ENAMETOOLONG, "'%s': file name too long", name);
	for (int attempt = 0; attempt < 16; attempt++) {
		uint64_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)getpid() * 2654435761u + (uint64_t)attempt;
		snprintf(tmp, NAME_MAX + 1, "%s" EP_TEMP_SUFFIX "%0*llx", name, EP_TEMP_HEX,
			 (unsigned long long)rnd);
		int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				mode & 07777);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0)
			return ep_error_set(err, -errno, "creating temporary file '%s': %s",
					    join(dir, tmp, disp, sizeof(disp)), strerror(errno));
		/* The umask may have narrowed the mode; set it exactly before any data lands. */
		if (fchmod(fd, mode & 07777) < 0) {
			int r = ep_error_set(err, -errno, "chmod of '%s': %s",
					     join(dir, tmp, disp, sizeof(disp)), strerror(errno));
			close(fd);
			unlinkat(dirfd, tmp, 0);
			return r;
		}
		return fd;
	}
	return ep_error_set(err, -EEXIST, "creating temporary file for '%s': name collision",
			    join(dir, name, disp, sizeof(disp)));
}

/* Copy what is left of @in (named @sfrom) to @out (named @stmp), then fsync @out. */
static int copy_fd(int in, const char *sfrom, int out, const char *stmp, struct ep_error *err)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ep_error_set(err, -errno, "reading '%s': %s", sfrom,
					    strerror(errno));
		if (n == 0)
			break;
		int r = write_all(out, buf, (size_t)n);
		if (r < 0)
			return ep_error_set(err, r, "writing '%s': %s", stmp, strerror(-r));
	}
	if (fsync(out) < 0)
		return ep_error_set(err, -errno, "fsync of '%s': %s", stmp, strerror(errno));
	return 0;
}

int ep_copy_at(int fromfd, const char *fromdir, const char *from, int tofd, const char *todir,
	       const char *to, mode_t mode, struct ep_error *err)
{
	char d1[DISP_MAX], d2[DISP_MAX], d3[DISP_MAX];
	const char *sfrom = join(fromdir, from ? from : "", d1, sizeof(d1));
	if (!name_ok(from) || !name_ok(to))
		return ep_error_set(err, -EINVAL, "copying '%s': not a file name", sfrom);
	_cleanup_close_ int in = openat(fromfd, from, READ_FLAGS | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0)
		return ep_error_set(err, -errno, "reading '%s': %s", sfrom, strerror(errno));
	struct stat st;
	if (fstat(in, &st) < 0)
		return ep_error_set(err, -errno, "reading '%s': %s", sfrom, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ep_error_set(err, -EINVAL, "copying '%s': not a regular file", sfrom);
	char tmp[NAME_MAX + 1];
	int out = temp_create(tofd, todir, to, mode, tmp, err);
	if (out < 0)
		return out;
	const char *stmp = join(todir, tmp, d3, sizeof(d3));
	int r = copy_fd(in, sfrom, out, stmp, err);
	if (close(out) < 0 && r >= 0)
		r = ep_error_set(err, -errno, "closing '%s': %s", stmp, strerror(errno));
	if (r < 0) {
		unlinkat(tofd, tmp, 0);
		return r;
	}
	if (renameat(tofd, tmp, tofd, to) < 0) {
		r = ep_error_set(err, -errno, "renaming '%s' to '%s': %s", stmp,
				 join(todir, to, d2, sizeof(d2)), strerror(errno));
		unlinkat(tofd, tmp, 0);
		return r;
	}
	return fsync_dirfd(tofd, todir, err);
}

/* rm -rf of the entry @name of @parent (@shown names it in messages). */
static int remove_tree(int parent, const char *name, const char *shown, unsigned depth,
		       struct ep_error *err)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return ep_error_set(err, -errno, "inspecting '%s': %s", shown, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
			return ep_error_set(err, -errno, "removing '%s': %s", shown,
					    strerror(errno));
		return 0;
	}
	if (depth >= WALK_DEPTH)
		return ep_error_set(err, -ENAMETOOLONG, "removing '%s': nested too deep", shown);
	/* O_NOFOLLOW: a directory swapped for a symlink since the look is refused, not entered. */
	int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return ep_error_set(err, -errno, "opening '%s': %s", shown, strerror(errno));
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		return ep_error_set(err, -e, "opening '%s': %s", shown, strerror(e));
	}
	int r = 0;
	struct dirent *de;
	while (r >= 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *sub = NULL;
		if (asprintf(&sub, "%s/%s", shown, de->d_name) < 0) {
			sub = NULL;
			r = ep_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		r = remove_tree(dirfd(d), de->d_name, sub, depth + 1, err);
	}
	closedir(d);
	if (r < 0)
		return r;
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return ep_error_set(err, -errno, "removing '%s': %s", shown, strerror(errno));
	return 0;
}

int ep_remove_tree_at(int dirfd, const char *dir, const char *name, struct ep_error *err)
{
	char disp[DISP_MAX];
	if (!name_ok(name))
		return ep_error_set(err, -EINVAL, "'%s' is not a file name", name ? name : "");
	int r = remove_tree(dirfd, name, join(dir, name, disp, sizeof(disp)), 0, err);
	return r < 0 ? r : fsync_dirfd(dirfd, dir, err);
}

/* ---- pairs --------------------------------------------------------------- */

/* Remove the temps of @ops (after a failure before the journal). */
static void pair_discard(int dirfd, const struct ep_pair_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i].temp)
			unlinkat(dirfd, ops[i].temp, 0);
}

/*
 * Carry out @ops: each temp over its target, or the target removed.
 * *@ret_applied (may be NULL) gets how many were carried out.  0 or -errno.
 */
static int pair_apply(int dirfd, const char *dir, const struct ep_pair_op *ops, size_t n,
		      size_t *ret_applied, struct ep_error *err)
{
	char d1[DISP_MAX], d2[DISP_MAX];
	for (size_t i = 0; i < n; i++) {
		if (ret_applied)
			*ret_applied = i;
		if (ops[i].temp) {
			struct stat st;
			/* Already renamed by the run that was interrupted: nothing left to do. */
			if (fstatat(dirfd, ops[i].temp, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
			    errno == ENOENT)
				continue;
			if (renameat(dirfd, ops[i].temp, dirfd, ops[i].target) < 0)
				return ep_error_set(err, -errno, "renaming '%s' to '%s': %s",
						    join(dir, ops[i].temp, d1, sizeof(d1)),
						    join(dir, ops[i].target, d2, sizeof(d2)),
						    strerror(errno));
		} else if (unlinkat(dirfd, ops[i].target, 0) < 0 && errno != ENOENT) {
			return ep_error_set(err, -errno, "removing '%s': %s",
					    join(dir, ops[i].target, d1, sizeof(d1)), strerror(errno));
		}
		crash_point(ops[i].temp ? "pair renamed" : "pair removed");
	}
	if (ret_applied)
		*ret_applied = n;
	return 0;
}

/* After the renames: fsync, remove the journal, fsync. */
static int pair_finish(int dirfd, const char *dir, const char *journal, struct ep_error *err)
{
	int r = fsync_dirfd(dirfd, dir, err);
	if (r < 0)
		return r;
	if (unlinkat(dirfd, journal, 0) < 0 && errno != ENOENT) {
		char disp[DISP_MAX];
		return ep_error_set(err, -errno, "removing '%s': %s",
				    join(dir, journal, disp, sizeof(disp)), strerror(errno));
	}
	crash_point("journal removed");
	return fsync_dirfd(dirfd, dir, err);
}

/* The journal text of @ops into @text; its length, or -ENAMETOOLONG. */
static int journal_text(const struct ep_pair_op *ops, size_t n, char *text, size_t size)
{
	size_t len = (size_t)snprintf(text, size, JOURNAL_MAGIC "\n");
	for (size_t i = 0; i < n && len < size; i++) {
		if (ops[i].temp)
			len += (size_t)snprintf(text + len, size - len, "rename %s %s\n", ops[i].temp,
						ops[i].target);
		else
			len += (size_t)snprintf(text + len, size - len, "remove %s\n", ops[i].target);
	}
	return len < size ? (int)len : -ENAMETOOLONG;
}

/* A hard link "<@target>.ep-<16 hex>" to @target, kept until the pair is in: name (heap) or NULL. */
static char *backup_link(int dirfd, const char *target, int *ret_err)
{
	char name[NAME_MAX + 1];
	*ret_err = 0;
	if (strlen(target) + strlen(EP_TEMP_SUFFIX) + EP_TEMP_HEX > NAME_MAX) {
		*ret_err = -ENAMETOOLONG;
		return NULL;
	}
	for (int attempt = 0; attempt < 16; attempt++) {
		uint64_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)getpid() * 2654435761u + (uint64_t)attempt * 7919u;
		snprintf(name, sizeof(name), "%s" EP_TEMP_SUFFIX "%0*llx", target, EP_TEMP_HEX,
			 (unsigned long long)rnd);
		if (linkat(dirfd, target, dirfd, name, 0) == 0) {
			char *s = strdup(name);
			if (!s) {
				unlinkat(dirfd, name, 0);
				*ret_err = -ENOMEM;
			}
			return s;
		}
		if (errno != EEXIST) {
			*ret_err = -errno;
			return NULL;
		}
	}
	*ret_err = -EEXIST;
	return NULL;
}

static void backups_drop(int dirfd, char **backups, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (backups[i])
			unlinkat(dirfd, backups[i], 0);
		free(backups[i]);
		backups[i] = NULL;
	}
}

/*
 * The first @applied ops of a pair went in, the next one failed: put them
 * back from @backups, through an undo journal that replaces the intent (so
 * that a crash now still ends with the old pair).  Appends to @err what was
 * put back.  0 when the old pair is back; -errno with the journal left for
 * the next run otherwise.
 */
static int pair_undo(int dirfd, const char *dir, const char *journal, const struct ep_pair_op *ops,
		     size_t applied, char **backups, const bool *existed, struct ep_error *err)
{
	struct ep_pair_op undo[PAIR_MAX];
	char what[1024] = "", disp[DISP_MAX];
	size_t wl = 0;
	for (size_t i = 0; i < applied; i++) {
		if (existed[i] && !backups[i]) {
			/* No copy of what was there: forward is the only way to a whole pair. */
			if (err) {
				size_t n = strlen(err->msg);
				snprintf(err->msg + n, sizeof(err->msg) - n,
					 "; the change is recorded in '%s': the next run completes it",
					 join(dir, journal, disp, sizeof(disp)));
			}
			return -EAGAIN;
		}
		undo[i].target = ops[i].target;
		undo[i].temp = backups[i]; /* NULL: it did not exist, remove it */
		wl += (size_t)snprintf(what + wl, wl < sizeof(what) ? sizeof(what) - wl : 0, "%s%s %s",
				       i ? ", " : "",
				       backups[i] ? "put back the previous" : "removed the new",
				       ops[i].target);
	}
	char text[JOURNAL_MAX];
	int len = journal_text(undo, applied, text, sizeof(text));
	struct ep_error uerr;
	ep_error_clear(&uerr);
	int r = len < 0 ? len : ep_write_atomic_at(dirfd, dir, journal, text, (size_t)len, 0600, &uerr);
	if (r >= 0) {
		crash_point("undo journal written");
		r = pair_apply(dirfd, dir, undo, applied, NULL, &uerr);
	}
	if (r >= 0) {
		for (size_t i = 0; i < applied; i++) { /* renamed back: no longer backups */
			free(backups[i]);
			backups[i] = NULL;
		}
		r = pair_finish(dirfd, dir, journal, &uerr);
	}
	if (r < 0 && err) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n,
			 "; putting the pair back failed too (%s): the change is recorded in '%s', "
			 "the next run completes it",
			 uerr.msg, join(dir, journal, disp, sizeof(disp)));
		return r;
	}
	if (err && applied) {
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, "; %s", what);
	}
	return 0;
}

int ep_pair_commit_at(int dirfd, const char *dir, const char *journal, const struct ep_pair_op *ops,
		      size_t n, bool *ret_pending, struct ep_error *err)
{
	char disp[DISP_MAX];
	if (ret_pending)
		*ret_pending = false;
	if (n == 0 || n > PAIR_MAX || !name_ok(journal)) {
		pair_discard(dirfd, ops, n);
		return ep_error_set(err, -EINVAL, "a pair of 1 to %d files and a journal name",
				    PAIR_MAX);
	}
	for (size_t i = 0; i < n; i++)
		if (!name_ok(ops[i].target) ||
		    (ops[i].temp && !is_temp_of(ops[i].temp, ops[i].target))) {
			pair_discard(dirfd, ops, n);
			return ep_error_set(err, -EINVAL, "'%s': not a file of this pair",
					    ops[i].target ? ops[i].target : "");
		}
	/* The intent: what the journal says is what a recovery will finish. */
	char text[JOURNAL_MAX];
	int len = journal_text(ops, n, text, sizeof(text));
	int r = len < 0 ? ep_error_set(err, len, "the journal of '%s' is too long",
				       join(dir, journal, disp, sizeof(disp)))
			: ep_write_atomic_at(dirfd, dir, journal, text, (size_t)len, 0600, err);
	if (r < 0) {
		pair_discard(dirfd, ops, n);
		return r;
	}
	crash_point("journal written");
	/*
	 * Hard links to what is replaced or removed, so that a failure half-way can
	 * put it back.  Best effort (a link may cost an inode, or cross a mount):
	 * without one, that file cannot go back, and the journal goes forward.
	 */
	char *backups[PAIR_MAX] = {NULL};
	bool existed[PAIR_MAX] = {false};
	for (size_t i = 0; i < n; i++) {
		struct stat st;
		if (fstatat(dirfd, ops[i].target, &st, AT_SYMLINK_NOFOLLOW) < 0 || S_ISDIR(st.st_mode))
			continue;
		existed[i] = true;
		int e = 0;
		backups[i] = backup_link(dirfd, ops[i].target, &e);
	}
	size_t applied = 0;
	r = pair_apply(dirfd, dir, ops, n, &applied, err);
	if (r < 0) {
		/* A failure, not a crash: the files that went in go out again. */
		int u = pair_undo(dirfd, dir, journal, ops, applied, backups, existed, err);
		if (u < 0 && ret_pending)
			*ret_pending = true;
		if (u >= 0) /* a journal going forward still needs them */
			pair_discard(dirfd, ops + applied, n - applied);
		backups_drop(dirfd, backups, n);
		return r;
	}
	r = pair_finish(dirfd, dir, journal, err);
	backups_drop(dirfd, backups, n);
	if (r < 0) {
		if (ret_pending)
			*ret_pending = true;
		return ep_error_prefix(err, "the change is recorded in '%s': the next run completes "
					    "it",
				       join(dir, journal, disp, sizeof(disp)));
	}
	return 0;
}

/* Parse journal @text into @ops (names point into @text); the count or -EBADMSG. */
static int journal_parse(char *text, const char *const *names, size_t nnames,
			 struct ep_pair_op *ops)
{
	char *save = NULL;
	char *line = strtok_r(text, "\n", &save);
	if (!line || strcmp(line, JOURNAL_MAGIC))
		return -EBADMSG;
	size_t n = 0;
	while ((line = strtok_r(NULL, "\n", &save))) {
		if (n == PAIR_MAX)
			return -EBADMSG;
		char *w1 = line, *w2 = strchr(w1, ' '), *w3 = NULL;
		if (!w2)
			return -EBADMSG;
		*w2++ = '\0';
		if ((w3 = strchr(w2, ' ')))
			*w3++ = '\0';
		if (!strcmp(w1, "rename") && w3 && !strchr(w3, ' ')) {
			ops[n].temp = w2;
			ops[n].target = w3;
		} else if (!strcmp(w1, "remove") && !w3) {
			ops[n].temp = NULL;
			ops[n].target = w2;
		} else {
			return -EBADMSG;
		}
		bool known = false;
		for (size_t k = 0; k < nnames; k++)
			known |= !strcmp(ops[n].target, names[k]);
		if (!known || !name_ok(ops[n].target) ||
		    (ops[n].temp && !is_temp_of(ops[n].temp, ops[n].target)))
			return -EBADMSG;
		n++;
	}
	return n ? (int)n : -EBADMSG;
}

int ep_pair_recover_at(int dirfd, const char *dir, const char *journal, const char *const *names,
		       size_t n, bool dry_run, struct ep_error *err)
{
	char disp[DISP_MAX];
	const char *shown = join(dir, journal, disp, sizeof(disp));
	_cleanup_free_ char *text = NULL;
	struct ep_error rerr;
	ep_error_clear(&rerr);
	int r = ep_read_file_at(dirfd, dir, journal, JOURNAL_MAX, &text, NULL, &rerr);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return ep_error_set(err, r,
				    "%s; it should be the journal of an interrupted change: remove "
				    "it and run again",
				    rerr.msg);
	struct ep_pair_op ops[PAIR_MAX];
	int nops = journal_parse(text, names, n, ops);
	if (nops < 0)
		return ep_error_set(err, -EBADMSG,
				    "'%s' is not a journal etcdpilot wrote for these files; remove "
				    "it and run again",
				    shown);
	/* Every temp it names was complete before it was written: those left go in. */
	for (int i = 0; i < nops; i++) {
		struct stat st;
		if (ops[i].temp && fstatat(dirfd, ops[i].temp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    !S_ISREG(st.st_mode))
			return ep_error_set(err, -EBADMSG,
					    "'%s' names '%s', which is %s; remove both and run "
					    "again",
					    shown, ops[i].temp, kind_of(st.st_mode));
	}
	if (dry_run)
		return 1;
	r = pair_apply(dirfd, dir, ops, (size_t)nops, NULL, err);
	if (r >= 0)
		r = pair_finish(dirfd, dir, journal, err);
	if (r < 0)
		return ep_error_prefix(err, "completing the change recorded in '%s'", shown);
	return 1;
}

/* ---- locks --------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int lock_busy(const char *path, unsigned timeout_ms, struct ep_error *err)
{
	char waited[32];
	if (timeout_ms >= 1000)
		snprintf(waited, sizeof(waited), "%u s", timeout_ms / 1000);
	else
		snprintf(waited, sizeof(waited), "%u ms", timeout_ms);
	return ep_error_set(err, -EBUSY,
			    "'%s' is locked: another etcdpilot is writing there (still locked "
			    "after %s); wait until it has finished and run again",
			    path, waited);
}

int ep_root_dir_lock(const char *root, const char *path, unsigned timeout_ms, int *ret_fd,
		     struct ep_error *err)
{
	_cleanup_(root_leave) struct rootctx rc;
	char disp[DISP_MAX];
	int r = root_enter(root, false, 0, &rc, err);
	const char *shown = real_path(&rc, path, disp, sizeof(disp));
	if (r == -ENOENT)
		return ep_error_set(err, r, "cannot lock '%s': %s", shown, strerror(-r));
	if (r < 0)
		return r;
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		_cleanup_close_ int fd = rc_open(&rc, path, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0) {
			if (fd == -ENOTDIR)
				return ep_error_set(err, fd,
						    "cannot lock '%s': it is not a directory", shown);
			return ep_error_set(err, fd, "cannot lock '%s': %s", shown, strerror(-fd));
		}
		/* Poll rather than block: a holder that hangs must not hang us too. */
		unsigned delay_ms = 5;
		while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EWOULDBLOCK)
				return ep_error_set(err, -errno, "cannot lock '%s': %s", shown,
						    strerror(errno));
			long long left = deadline - now_ms();
			if (left <= 0)
				return lock_busy(shown, timeout_ms, err);
			unsigned ms = (long long)delay_ms < left ? delay_ms : (unsigned)left;
			struct timespec ts = {.tv_sec = ms / 1000,
					      .tv_nsec = (long)(ms % 1000) * 1000000};
			nanosleep(&ts, NULL);
			if (delay_ms < 100)
				delay_ms *= 2;
		}
		/* The holder may have replaced or removed the directory meanwhile: the lock
		 * is only worth something on what @path names now. */
		struct stat locked, now;
		_cleanup_close_ int again = rc_open(&rc, path, O_PATH | O_DIRECTORY, 0);
		if (fstat(fd, &locked) == 0 && again >= 0 && fstat(again, &now) == 0 &&
		    locked.st_dev == now.st_dev && locked.st_ino == now.st_ino) {
			*ret_fd = TAKE_FD(fd);
			return 0;
		}
		if (now_ms() >= deadline)
			return lock_busy(shown, timeout_ms, err);
	}
}

int ep_dir_lock(const char *path, unsigned timeout_ms, int *ret_fd, struct ep_error *err)
{
	return ep_root_dir_lock(NULL, path, timeout_ms, ret_fd, err);
}

/* ---- the real path, for messages ----------------------------------------- */

/* Append "/comp" to the resolved part; the buffer has room for PATH_MAX. */
static int push_comp(char *res, size_t *rlen, const char *comp, size_t clen)
{
	if (*rlen + 1 + clen >= PATH_MAX)
		return -ENAMETOOLONG;
	res[(*rlen)++] = '/';
	memcpy(res + *rlen, comp, clen);
	*rlen += clen;
	res[*rlen] = '\0';
	return 0;
}

static void pop_comp(char *res, size_t *rlen)
{
	while (*rlen > 0 && res[*rlen - 1] != '/')
		(*rlen)--;
	if (*rlen > 0)
		(*rlen)--;
	res[*rlen] = '\0';
}

int ep_root_path(const char *root, const char *path, char **ret, struct ep_error *err)
{
	if (!path || path[0] != '/')
		return ep_error_usage(err, -EINVAL, "path '%s' is not absolute", path ? path : "");
	if (root && !root[0])
		return empty_root(err);
	if (!root)
		root = "/";

	size_t rootlen = strlen(root);
	while (rootlen > 1 && root[rootlen - 1] == '/')
		rootlen--;
	bool real_root = ep_root_is_real(root);
	if (real_root)
		rootlen = 0;
	if (rootlen >= PATH_MAX)
		return ep_error_set(err, -ENAMETOOLONG, "root '%s' is too long", root);

	/* full = root prefix + resolved part; rel points at the resolved part. */
	char full[PATH_MAX + PATH_MAX];
	memcpy(full, root, rootlen);
	full[rootlen] = '\0';
	char *rel = full + rootlen;
	size_t rlen = 0;

	_cleanup_free_ char *rest = strdup(path);
	if (!rest)
		return ep_error_set(err, -ENOMEM, "out of memory");
	bool exists = true; /* once a component is missing, the rest is lexical */
	int links = 0;

	char *cur = rest;
	while (*cur) {
		while (*cur == '/')
			cur++;
		if (!*cur)
			break;
		char *end = strchr(cur, '/');
		size_t clen = end ? (size_t)(end - cur) : strlen(cur);
		char *next = end ? end : cur + clen;

		if (clen == 1 && cur[0] == '.') {
			cur = next;
			continue;
		}
		if (clen == 2 && cur[0] == '.' && cur[1] == '.') {
			if (rlen == 0 && !real_root)
				return ep_error_usage(err, -EXDEV,
						      "path '%s' leaves the root '%s' through '..'",
						      path, root);
			pop_comp(rel, &rlen);
			cur = next;
			continue;
		}
		if (push_comp(rel, &rlen, cur, clen) < 0)
			return ep_error_set(err, -ENAMETOOLONG, "path '%s' is too long", path);

		if (exists && !real_root) {
			struct stat st;
			if (lstat(full, &st) < 0) {
				if (errno != ENOENT && errno != ENOTDIR)
					return ep_error_set(err, -errno, "inspecting '%s': %s", full,
							    strerror(errno));
				exists = false;
			} else if (S_ISLNK(st.st_mode)) {
				if (++links > MAX_LINKS)
					return ep_error_set(err, -ELOOP,
							    "too many symbolic links resolving '%s'",
							    path);
				char target[PATH_MAX];
				ssize_t n = readlink(full, target, sizeof(target) - 1);
				if (n < 0)
					return ep_error_set(err, -errno, "reading link '%s': %s", full,
							    strerror(errno));
				target[n] = '\0';
				pop_comp(rel, &rlen);
				if (target[0] == '/')
					rlen = 0, rel[0] = '\0'; /* absolute: restart at the root */
				/* Replace the link by its target in front of what is left. */
				size_t tlen = (size_t)n, nlen = strlen(next);
				char *nrest = malloc(tlen + 1 + nlen + 1);
				if (!nrest)
					return ep_error_set(err, -ENOMEM, "out of memory");
				memcpy(nrest, target, tlen);
				nrest[tlen] = '/';
				memcpy(nrest + tlen + 1, next, nlen + 1);
				free(rest);
				rest = nrest;
				cur = rest;
				continue;
			}
		}
		cur = next;
	}

	if (rlen == 0) {
		rel[0] = '/';
		rel[1] = '\0';
	}
	char *out = strdup(full);
	if (!out)
		return ep_error_set(err, -ENOMEM, "out of memory");
	*ret = out;
	return 0;
}

/* ---- a file written as a stream ------------------------------------------ */

struct ep_atomic_file {
	int dirfd;       /* O_RDONLY directory of the target */
	int fd;          /* the new file, open for writing */
	bool unnamed;    /* O_TMPFILE: no name until commit */
	bool replace;
	char *dir;       /* real path of the directory, for messages */
	char *name;      /* the target's last component */
	char *temp;      /* the named temp file (not unnamed), else NULL */
	uint64_t written;
};

/* A random "<name>.ep-<16 hex>" into @buf (NAME_MAX + 1 bytes). */
static void temp_name(const char *name, unsigned attempt, char *buf, size_t size)
{
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)getpid() * 2654435761u + attempt;
	snprintf(buf, size, "%s" EP_TEMP_SUFFIX "%0*llx", name, EP_TEMP_HEX,
		 (unsigned long long)rnd);
}

static void atomic_file_free(struct ep_atomic_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->dirfd >= 0)
		close(f->dirfd);
	free(f->dir);
	free(f->name);
	free(f->temp);
	free(f);
}

void ep_atomic_file_abort(struct ep_atomic_file *f)
{
	if (!f)
		return;
	if (f->temp)
		unlinkat(f->dirfd, f->temp, 0);
	atomic_file_free(f);
}

int ep_root_atomic_file_begin(const char *root, const char *path, mode_t mode, bool replace,
			      struct ep_atomic_file **ret, struct ep_error *err)
{
	_cleanup_(root_leave) struct rootctx rc;
	char disp[DISP_MAX], dir[PATH_MAX], dshown[DISP_MAX];
	int r = root_enter(root, false, 0, &rc, err);
	const char *shown = real_path(&rc, path, disp, sizeof(disp));
	if (r == -ENOENT)
		return ep_error_set(err, r, "writing '%s': %s", shown, strerror(-r));
	if (r < 0)
		return r;
	const char *name;
	if ((r = split_path(path, dir, sizeof(dir), &name)) < 0)
		return ep_error_set(err, r == -EINVAL ? -EISDIR : r, "cannot write '%s': %s", shown,
				    r == -EINVAL ? "it names a directory" : strerror(-r));
	if (strlen(name) + strlen(EP_TEMP_SUFFIX) + EP_TEMP_HEX > NAME_MAX)
		return ep_error_set(err, -ENAMETOOLONG, "'%s': file name too long", shown);
	struct ep_atomic_file *f = calloc(1, sizeof(*f));
	if (!f)
		return ep_error_set(err, -ENOMEM, "out of memory");
	f->fd = -1;
	f->replace = replace;
	f->dirfd = rc_open(&rc, dir, O_RDONLY | O_DIRECTORY, 0);
	if (f->dirfd < 0) {
		r = ep_error_set(err, f->dirfd, "writing '%s': %s", shown,
				 f->dirfd == -ENOENT ? "the directory does not exist"
						     : strerror(-f->dirfd));
		goto fail;
	}
	f->dir = strdup(real_path(&rc, dir, dshown, sizeof(dshown)));
	f->name = strdup(name);
	if (!f->dir || !f->name) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = check_target(f->dirfd, f->dir, name, err)) < 0)
		goto fail;
	struct stat st;
	if (!replace && fstatat(f->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		r = ep_error_set(err, -EEXIST, "'%s' already exists", shown);
		goto fail;
	}
	/* Unnamed first: a run killed at any moment then leaves nothing behind. */
	f->fd = openat(f->dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, mode & 07777);
	if (f->fd >= 0) {
		f->unnamed = true;
	} else {
		char tmp[NAME_MAX + 1];
		for (unsigned attempt = 0; attempt < 16 && f->fd < 0; attempt++) {
			temp_name(name, attempt, tmp, sizeof(tmp));
			f->fd = openat(f->dirfd, tmp,
				       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				       mode & 07777);
			if (f->fd < 0 && errno != EEXIST)
				break;
		}
		if (f->fd < 0) {
			r = ep_error_set(err, -errno, "creating a temporary file in '%s': %s", f->dir,
					 strerror(errno));
			goto fail;
		}
		if (!(f->temp = strdup(tmp))) {
			unlinkat(f->dirfd, tmp, 0);
			r = ep_error_set(err, -ENOMEM, "out of memory");
			goto fail;
		}
	}
	/* The umask may have narrowed the mode; set it exactly before any data lands. */
	if (fchmod(f->fd, mode & 07777) < 0) {
		r = ep_error_set(err, -errno, "chmod of a new file in '%s': %s", f->dir,
				 strerror(errno));
		goto fail;
	}
	*ret = f;
	return 0;
fail:
	ep_atomic_file_abort(f);
	return r;
}

int ep_atomic_file_begin(const char *path, mode_t mode, bool replace, struct ep_atomic_file **ret,
			 struct ep_error *err)
{
	return ep_root_atomic_file_begin(NULL, path, mode, replace, ret, err);
}

int ep_atomic_file_write(struct ep_atomic_file *f, const void *data, size_t len,
			 struct ep_error *err)
{
	int r = write_all(f->fd, data, len);
	if (r < 0) {
		char disp[DISP_MAX];
		return ep_error_set(err, r, "writing '%s': %s", join(f->dir, f->name, disp, sizeof(disp)),
				    strerror(-r));
	}
	f->written += len;
	return 0;
}

bool ep_atomic_file_unnamed(const struct ep_atomic_file *f)
{
	return f->unnamed;
}

/* Give the unnamed file @f->fd the name @name in its directory (linkat, no replacing). */
static int link_unnamed(struct ep_atomic_file *f, const char *name)
{
	if (linkat(f->fd, "", f->dirfd, name, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOENT && errno != EPERM)
		return -errno;
	/* Without CAP_DAC_READ_SEARCH: the same through /proc. */
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
	if (linkat(AT_FDCWD, proc, f->dirfd, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	return -errno;
}

int ep_atomic_file_commit(struct ep_atomic_file *f, struct ep_error *err)
{
	char d1[DISP_MAX], d2[DISP_MAX];
	const char *shown = join(f->dir, f->name, d2, sizeof(d2));
	int r;
	if (fsync(f->fd) < 0) {
		r = ep_error_set(err, -errno, "fsync of '%s': %s", shown, strerror(errno));
		goto out;
	}
	if (f->unnamed && !f->replace) {
		/* link(2) never replaces: the target's absence is checked by the kernel. */
		if ((r = link_unnamed(f, f->name)) < 0) {
			r = ep_error_set(err, r, r == -EEXIST ? "'%s' appeared while it was written"
							      : "naming '%s': %s",
					 shown, strerror(-r));
			goto out;
		}
	} else {
		if (f->unnamed) {
			char tmp[NAME_MAX + 1];
			r = -EEXIST;
			for (unsigned attempt = 0; attempt < 16 && r == -EEXIST; attempt++) {
				temp_name(f->name, attempt, tmp, sizeof(tmp));
				r = link_unnamed(f, tmp);
			}
			if (r < 0) {
				r = ep_error_set(err, r, "naming a temporary file for '%s': %s", shown,
						 strerror(-r));
				goto out;
			}
			if (!(f->temp = strdup(tmp))) {
				unlinkat(f->dirfd, tmp, 0);
				r = ep_error_set(err, -ENOMEM, "out of memory");
				goto out;
			}
		}
		if (f->replace)
			r = renameat(f->dirfd, f->temp, f->dirfd, f->name) < 0 ? -errno : 0;
		else if ((r = renameat2(f->dirfd, f->temp, f->dirfd, f->name, RENAME_NOREPLACE) < 0
				      ? -errno
				      : 0) == -EINVAL) {
			/* A file system without RENAME_NOREPLACE: link(2) never replaces either. */
			r = linkat(f->dirfd, f->temp, f->dirfd, f->name, 0) < 0 ? -errno : 0;
			if (r == 0)
				unlinkat(f->dirfd, f->temp, 0);
		}
		if (r < 0) {
			r = ep_error_set(err, r, r == -EEXIST ? "'%s' appeared while it was written"
							      : "renaming '%s' to '%s': %s",
					 r == -EEXIST ? shown : join(f->dir, f->temp, d1, sizeof(d1)),
					 shown, strerror(-r));
			goto out;
		}
		free(f->temp);
		f->temp = NULL;
	}
	r = fsync_dirfd(f->dirfd, f->dir, err);
out:
	ep_atomic_file_abort(f);
	return r;
}
