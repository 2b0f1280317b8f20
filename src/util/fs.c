/*
 * fs.c - atomic file writes, directory creation, bounded reads, --root
 * path mapping and directory locks.  This module owns every byte the tool
 * writes to disk; it must never write in place, follow a planted symlink,
 * or leave a temp file behind (and it is the one place that knows the temp
 * files' names, so it also sweeps up those an interrupted run left).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "util/cleanup.h"
#include "util/fs_internal.h"

/* ep_write_atomic's temp files: "<target>" EP_TEMP_SUFFIX and 16 lowercase hex digits. */
#define EP_TEMP_SUFFIX ".ep-"
#define EP_TEMP_HEX    16

static int fsync_dir_of(const char *path, struct ep_error *err)
{
	_cleanup_free_ char *dir = strdup(path);
	if (!dir)
		return ep_error_set(err, -ENOMEM, "out of memory");
	char *slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';

	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ep_error_set(err, -errno, "opening directory '%s': %s", dir, strerror(errno));
	if (fsync(fd) < 0 && errno != EINVAL)
		return ep_error_set(err, -errno, "fsync of directory '%s': %s", dir, strerror(errno));
	return 0;
}

/*
 * Write through the temp file @tmp, which must not exist: O_EXCL|O_NOFOLLOW
 * make a file or symlink planted there an error (-EEXIST), never a target.
 */
int ep_write_atomic_via(const char *path, const char *tmp, const void *data, size_t len,
			mode_t mode, struct ep_error *err)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777);
	if (fd < 0)
		return ep_error_set(err, -errno, "creating temporary file '%s': %s", tmp,
				    strerror(errno));

	int r = 0;
	/* The umask may have narrowed the mode; set it exactly before any data lands. */
	if (fchmod(fd, mode & 07777) < 0) {
		r = ep_error_set(err, -errno, "chmod of '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = ep_error_set(err, -errno, "writing '%s': %s", tmp, strerror(errno));
			goto fail;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		r = ep_error_set(err, -errno, "fsync of '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = ep_error_set(err, -errno, "closing '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		r = ep_error_set(err, -errno, "renaming '%s' to '%s': %s", tmp, path,
				 strerror(errno));
		goto fail;
	}
	return fsync_dir_of(path, err);

fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

int ep_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		    struct ep_error *err)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (S_ISLNK(st.st_mode))
			return ep_error_set(err, -ELOOP,
					    "refusing to write '%s': it is a symbolic link; remove "
					    "it and run again",
					    path);
		if (S_ISDIR(st.st_mode))
			return ep_error_set(err, -EISDIR, "cannot write '%s': it is a directory",
					    path);
	}

	size_t plen = strlen(path);
	_cleanup_free_ char *tmp = malloc(plen + 32);
	if (!tmp)
		return ep_error_set(err, -ENOMEM, "out of memory");

	/* A random name that nobody can predict; on the rare collision, draw again. */
	for (int attempt = 0; attempt < 16; attempt++) {
		uint64_t rnd = 0;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)getpid() * 2654435761u + (uint64_t)attempt;
		snprintf(tmp, plen + 32, "%s" EP_TEMP_SUFFIX "%0*llx", path, EP_TEMP_HEX,
			 (unsigned long long)rnd);
		struct ep_error local;
		ep_error_clear(&local);
		int r = ep_write_atomic_via(path, tmp, data, len, mode, &local);
		if (r != -EEXIST) {
			if (r < 0 && err && !ep_error_isset(err))
				*err = local;
			return r;
		}
	}
	return ep_error_set(err, -EEXIST, "creating temporary file for '%s': name collision",
			    path);
}

int ep_mkdir_p(const char *path, mode_t mode, struct ep_error *err)
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
		if (lstat(buf, &st) == 0) {
			if (S_ISLNK(st.st_mode)) {
				/* Follow only to check; a link to a directory is how many hosts
				 * lay out /var.  Refuse links to anything else. */
				if (stat(buf, &st) < 0 || !S_ISDIR(st.st_mode))
					return ep_error_set(err, -ENOTDIR,
							    "'%s' is a symbolic link that does not "
							    "lead to a directory",
							    buf);
			} else if (!S_ISDIR(st.st_mode)) {
				return ep_error_set(err, -ENOTDIR,
						    "'%s' exists and is not a directory", buf);
			}
		} else if (errno == ENOENT) {
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return ep_error_set(err, -errno, "creating directory '%s': %s", buf,
						    strerror(errno));
			if (chmod(buf, mode) < 0)
				return ep_error_set(err, -errno, "chmod of '%s': %s", buf,
						    strerror(errno));
		} else {
			return ep_error_set(err, -errno, "inspecting '%s': %s", buf, strerror(errno));
		}
		*p = saved;
		if (last)
			break;
	}
	return 0;
}

int ep_read_file(const char *path, size_t max, bool nofollow, char **ret, size_t *ret_len,
		 struct ep_error *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
	if (fd < 0) {
		int e = errno;
		if (e == ELOOP)
			return ep_error_set(err, -ELOOP, "refusing to read '%s': it is a symbolic link",
					    path);
		return ep_error_set(err, -e, "reading '%s': %s", path, strerror(e));
	}
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ep_error_set(err, -errno, "reading '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ep_error_set(err, -EINVAL, "reading '%s': not a regular file", path);
	if ((size_t)st.st_size > max)
		return ep_error_set(err, -EFBIG, "reading '%s': larger than %zu bytes", path, max);

	size_t cap = (size_t)st.st_size + 1, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return ep_error_set(err, -ENOMEM, "out of memory");
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > max + 1)
				return ep_error_set(err, -EFBIG, "reading '%s': larger than %zu bytes",
						    path, max);
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
			return ep_error_set(err, -errno, "reading '%s': %s", path, strerror(errno));
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return ep_error_set(err, -EFBIG, "reading '%s': larger than %zu bytes", path,
					    max);
	}
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

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

int ep_write_atomic_sweep(const char *path, bool dry_run, struct ep_error *err)
{
	_cleanup_free_ char *dir = strdup(path);
	if (!dir)
		return ep_error_set(err, -ENOMEM, "out of memory");
	char *slash = strrchr(dir, '/');
	const char *base = path;
	if (slash) {
		base = path + (slash - dir) + 1;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
	} else {
		strcpy(dir, ".");
	}
	if (!*base)
		return ep_error_set(err, -EINVAL, "'%s' names no file", path);

	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		return ep_error_set(err, -errno, "opening directory '%s': %s", dir,
				    strerror(errno));
	}
	int n = 0, r = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_temp_of(de->d_name, base))
			continue;
		struct stat st;
		/* Only our own kind of leftover: a regular file, never what a link names. */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (!dry_run && unlinkat(dirfd(d), de->d_name, 0) < 0) {
			r = ep_error_set(err, -errno,
					 "removing the stale temporary file '%s/%s': %s", dir,
					 de->d_name, strerror(errno));
			break;
		}
		n++;
	}
	closedir(d);
	return r < 0 ? r : n;
}

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

int ep_dir_lock(const char *path, unsigned timeout_ms, int *ret_fd, struct ep_error *err)
{
	long long deadline = now_ms() + timeout_ms;
	for (;;) {
		_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			int e = errno;
			if (e == ENOTDIR)
				return ep_error_set(
				    err, -e, "cannot lock '%s': it is not a directory", path);
			return ep_error_set(err, -e, "cannot lock '%s': %s", path, strerror(e));
		}
		/* Poll rather than block: a holder that hangs must not hang us too. */
		unsigned delay_ms = 5;
		while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EWOULDBLOCK)
				return ep_error_set(err, -errno, "cannot lock '%s': %s", path,
						    strerror(errno));
			long long left = deadline - now_ms();
			if (left <= 0)
				return lock_busy(path, timeout_ms, err);
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
		if (fstat(fd, &locked) == 0 && stat(path, &now) == 0 &&
		    locked.st_dev == now.st_dev && locked.st_ino == now.st_ino) {
			*ret_fd = TAKE_FD(fd);
			return 0;
		}
		if (now_ms() >= deadline)
			return lock_busy(path, timeout_ms, err);
	}
}

bool ep_path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

bool ep_dir_empty_or_absent(const char *path)
{
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT;
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
	if (!root || !root[0])
		root = "/";

	size_t rootlen = strlen(root);
	while (rootlen > 1 && root[rootlen - 1] == '/')
		rootlen--;
	bool real_root = rootlen == 1 && root[0] == '/';
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
				if (++links > 40)
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
