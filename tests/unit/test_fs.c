/*
 * test_fs.c - the atomic-write helper, directory creation, bounded reads and
 * --root path resolution.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "util/cleanup.h"
#include "util/fs_internal.h"

static char scratch[256];

static int setup(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/ep-test-fs.XXXXXX");
	return mkdtemp(scratch) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

static char *path_in(const char *rel)
{
	static char buf[4][512];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", scratch, rel);
	return buf[i];
}

static char *slurp(const char *path)
{
	char *out = NULL;
	struct ep_error err;
	ep_error_clear(&err);
	if (ep_read_file(path, 1 << 20, false, &out, NULL, &err) < 0)
		return NULL;
	return out;
}

static size_t count_entries(const char *dir)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	if (p) {
		if (fscanf(p, "%zu", &n) != 1)
			n = 0;
		pclose(p);
	}
	return n;
}

static void test_write_creates_with_exact_mode(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	mode_t old = umask(077); /* the mode must not depend on the umask */
	assert_int_equal(ep_write_atomic(path_in("a.key"), "secret", 6, 0600, &err), 0);
	assert_int_equal(ep_write_atomic(path_in("a.crt"), "public", 6, 0644, &err), 0);
	umask(old);
	struct stat st;
	assert_int_equal(stat(path_in("a.key"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(path_in("a.crt"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	char *c = slurp(path_in("a.key"));
	assert_string_equal(c, "secret");
	free(c);
	/* Nothing but the two targets is left in the directory: no temp files. */
	assert_int_equal(count_entries(scratch), 2);
}

static void test_write_replaces_and_changes_mode(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_write_atomic(path_in("f"), "one", 3, 0644, &err), 0);
	struct stat before;
	assert_int_equal(stat(path_in("f"), &before), 0);
	assert_int_equal(ep_write_atomic(path_in("f"), "two!", 4, 0600, &err), 0);
	struct stat after;
	assert_int_equal(stat(path_in("f"), &after), 0);
	/* A new inode: replaced by rename, never rewritten in place. */
	assert_int_not_equal(before.st_ino, after.st_ino);
	assert_int_equal(after.st_mode & 07777, 0600);
	char *c = slurp(path_in("f"));
	assert_string_equal(c, "two!");
	free(c);
}

static void test_write_refuses_symlink_target(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_write_atomic(path_in("victim"), "keep", 4, 0644, &err), 0);
	assert_int_equal(symlink(path_in("victim"), path_in("server.key")), 0);
	int r = ep_write_atomic(path_in("server.key"), "evil", 4, 0600, &err);
	assert_int_equal(r, -ELOOP);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_non_null(strstr(err.msg, "server.key"));
	char *c = slurp(path_in("victim"));
	assert_string_equal(c, "keep");
	free(c);
}

static void test_write_never_follows_planted_temp(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_write_atomic(path_in("victim"), "keep", 4, 0644, &err), 0);
	/* Somebody planted a symlink at the temp name we are about to use. */
	assert_int_equal(symlink(path_in("victim"), path_in("k.tmp")), 0);
	int r = ep_write_atomic_via(path_in("k"), path_in("k.tmp"), "evil", 4, 0600, &err);
	assert_int_equal(r, -EEXIST);
	char *c = slurp(path_in("victim"));
	assert_string_equal(c, "keep");
	free(c);
	struct stat st;
	assert_int_equal(lstat(path_in("k.tmp"), &st), 0);
	assert_true(S_ISLNK(st.st_mode)); /* left as it was */
	assert_int_equal(lstat(path_in("k"), &st), -1);
}

static void test_write_into_missing_dir_fails_cleanly(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	int r = ep_write_atomic(path_in("nodir/x"), "x", 1, 0644, &err);
	assert_int_equal(r, -ENOENT);
	assert_non_null(strstr(err.msg, "nodir/x"));
}

static void test_write_onto_directory(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(mkdir(path_in("d"), 0755), 0);
	assert_int_equal(ep_write_atomic(path_in("d"), "x", 1, 0644, &err), -EISDIR);
}

static void test_mkdir_p(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_mkdir_p(path_in("a/b/c"), 0700, &err), 0);
	struct stat st;
	assert_int_equal(stat(path_in("a/b/c"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	/* Existing directories are fine and keep their mode. */
	assert_int_equal(chmod(path_in("a"), 0755), 0);
	assert_int_equal(ep_mkdir_p(path_in("a/b/c/"), 0700, &err), 0);
	assert_int_equal(stat(path_in("a"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* A file in the way is an error naming it. */
	assert_int_equal(ep_write_atomic(path_in("file"), "x", 1, 0644, &err), 0);
	assert_int_equal(ep_mkdir_p(path_in("file/sub"), 0755, &err), -ENOTDIR);
	assert_non_null(strstr(err.msg, "not a directory"));
}

static void test_read_file_limits(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_write_atomic(path_in("big"), "0123456789", 10, 0644, &err), 0);
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(ep_read_file(path_in("big"), 10, true, &out, &len, &err), 0);
	assert_int_equal(len, 10);
	free(out);
	ep_error_clear(&err);
	assert_int_equal(ep_read_file(path_in("big"), 9, true, &out, &len, &err), -EFBIG);
	ep_error_clear(&err);
	assert_int_equal(ep_read_file(path_in("absent"), 9, true, &out, &len, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "absent"));
	ep_error_clear(&err);
	assert_int_equal(symlink(path_in("big"), path_in("link")), 0);
	assert_int_equal(ep_read_file(path_in("link"), 100, true, &out, &len, &err), -ELOOP);
	ep_error_clear(&err);
	assert_int_equal(ep_read_file(path_in("link"), 100, false, &out, &len, &err), 0);
	free(out);
	ep_error_clear(&err);
	assert_int_equal(ep_read_file(scratch, 100, false, &out, &len, &err), -EINVAL);
}

static void expect_root(const char *root, const char *path, const char *want_rel)
{
	struct ep_error err;
	ep_error_clear(&err);
	char *out = NULL;
	int r = ep_root_path(root, path, &out, &err);
	if (r < 0)
		fail_msg("ep_root_path(%s, %s) failed: %s", root, path, err.msg);
	char want[1024];
	snprintf(want, sizeof(want), "%s%s", root, want_rel);
	assert_string_equal(out, want);
	free(out);
}

static void expect_root_escape(const char *root, const char *path)
{
	struct ep_error err;
	ep_error_clear(&err);
	char *out = NULL;
	int r = ep_root_path(root, path, &out, &err);
	if (r != -EXDEV)
		fail_msg("ep_root_path(%s, %s) = %d ('%s'), want -EXDEV", root, path, r,
			 out ? out : err.msg);
	assert_null(out);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "leaves the root"));
}

static void test_root_path_lexical(void **state)
{
	(void)state;
	expect_root(scratch, "/etc/kubernetes/pki", "/etc/kubernetes/pki");
	expect_root(scratch, "//etc/./kubernetes//pki/", "/etc/kubernetes/pki");
	expect_root(scratch, "/etc/kubernetes/../etcd", "/etc/etcd");
	expect_root(scratch, "/", "/");
	expect_root_escape(scratch, "/..");
	expect_root_escape(scratch, "/etc/../../x");
	expect_root_escape(scratch, "/a/b/../../../etc/shadow");

	struct ep_error err;
	ep_error_clear(&err);
	char *out = NULL;
	assert_int_equal(ep_root_path(scratch, "relative/path", &out, &err), -EINVAL);
	assert_null(out);
	/* The real root maps a path onto itself, normalised. */
	assert_int_equal(ep_root_path("/", "/etc//x/../y", &out, &err), 0);
	assert_string_equal(out, "/etc/y");
	free(out);
	assert_int_equal(ep_root_path(NULL, "/etc", &out, &err), 0);
	assert_string_equal(out, "/etc");
	free(out);
}

static void test_root_path_symlinks(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_mkdir_p(path_in("etc/kubernetes/real-pki"), 0755, &err), 0);
	assert_int_equal(ep_mkdir_p(path_in("var/lib"), 0755, &err), 0);
	/* An absolute link is resolved inside the root, as in a chroot. */
	assert_int_equal(symlink("/etc/kubernetes/real-pki", path_in("etc/kubernetes/pki")), 0);
	expect_root(scratch, "/etc/kubernetes/pki/etcd/ca.crt",
		    "/etc/kubernetes/real-pki/etcd/ca.crt");
	/* A relative link that stays inside is fine. */
	assert_int_equal(symlink("../etc", path_in("var/etc-link")), 0);
	expect_root(scratch, "/var/etc-link/kubernetes", "/etc/kubernetes");
	/* A relative link climbing out of the root is refused. */
	assert_int_equal(symlink("../../../../../../..", path_in("var/lib/up")), 0);
	expect_root_escape(scratch, "/var/lib/up/etc/shadow");
	/* An absolute link to "/" stays at the root, it does not reach the host. */
	assert_int_equal(symlink("/", path_in("var/slash")), 0);
	expect_root(scratch, "/var/slash/etc", "/etc");
	/* Link loops end with an error. */
	assert_int_equal(symlink("loop2", path_in("var/loop1")), 0);
	assert_int_equal(symlink("loop1", path_in("var/loop2")), 0);
	char *out = NULL;
	assert_int_equal(ep_root_path(scratch, "/var/loop1/x", &out, &err), -ELOOP);
	assert_null(out);
}

static void test_dir_empty_or_absent(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_true(ep_dir_empty_or_absent(path_in("none")));
	assert_int_equal(ep_mkdir_p(path_in("empty"), 0700, &err), 0);
	assert_true(ep_dir_empty_or_absent(path_in("empty")));
	assert_int_equal(ep_write_atomic(path_in("empty/x"), "", 0, 0600, &err), 0);
	assert_false(ep_dir_empty_or_absent(path_in("empty")));
}

static long long ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * A child that locks @dir, says so through a pipe, holds the lock for
 * @hold_ms and exits.  With @swap, after @swap_ms it first renames @dir away
 * and creates a new, empty @dir in its place.
 */
static pid_t lock_holder(const char *dir, unsigned hold_ms, bool swap, unsigned swap_ms)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		int fd = -1;
		if (ep_dir_lock(dir, 1000, &fd, NULL) < 0)
			_exit(1);
		if (write(p[1], "L", 1) != 1)
			_exit(1);
		if (swap) {
			usleep(swap_ms * 1000);
			char old[600];
			snprintf(old, sizeof(old), "%s.old", dir);
			if (rename(dir, old) < 0 || mkdir(dir, 0755) < 0)
				_exit(1);
		}
		usleep(hold_ms * 1000);
		_exit(0);
	}
	close(p[1]);
	char c;
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void reap(pid_t pid)
{
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_dir_lock_bounded_wait(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	const char *dir = path_in("pki");
	assert_int_equal(mkdir(dir, 0755), 0);

	/* Uncontended: at once, and released by close. */
	int fd = -1;
	assert_int_equal(ep_dir_lock(dir, 0, &fd, &err), 0);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);

	/* Held elsewhere: a bounded wait, then an error naming the directory. */
	pid_t pid = lock_holder(dir, 1500, false, 0);
	long long t0 = ms_now();
	fd = -1;
	assert_int_equal(ep_dir_lock(dir, 200, &fd, &err), -EBUSY);
	long long waited = ms_now() - t0;
	assert_int_equal(fd, -1);
	assert_in_range(waited, 190, 1000);
	char want[700];
	snprintf(want, sizeof(want), "'%s' is locked: another etcdpilot is writing there", dir);
	if (!strstr(err.msg, want))
		fail_msg("'%s' lacks '%s'", err.msg, want);
	assert_non_null(strstr(err.msg, "after 200 ms"));

	/* A longer wait gets the lock once the holder is gone. */
	ep_error_clear(&err);
	assert_int_equal(ep_dir_lock(dir, 10000, &fd, &err), 0);
	assert_in_range(ms_now() - t0, 1000, 9000);
	close(fd);
	reap(pid);
}

/* A directory replaced while we wait: the lock is taken on the new one. */
static void test_dir_lock_follows_replaced_dir(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	const char *dir = path_in("pki");
	assert_int_equal(mkdir(dir, 0755), 0);
	pid_t pid = lock_holder(dir, 300, true, 100);
	int fd = -1;
	assert_int_equal(ep_dir_lock(dir, 10000, &fd, &err), 0);
	struct stat locked, named;
	assert_int_equal(fstat(fd, &locked), 0);
	assert_int_equal(stat(dir, &named), 0);
	assert_int_equal(locked.st_ino, named.st_ino);
	close(fd);
	reap(pid);
}

static void test_dir_lock_errors(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	int fd = -1;
	assert_int_equal(ep_dir_lock(path_in("absent"), 100, &fd, &err), -ENOENT);
	assert_non_null(strstr(err.msg, path_in("absent")));
	ep_error_clear(&err);
	assert_int_equal(ep_write_atomic(path_in("file"), "x", 1, 0644, &err), 0);
	assert_int_equal(ep_dir_lock(path_in("file"), 100, &fd, &err), -ENOTDIR);
	assert_non_null(strstr(err.msg, "is not a directory"));
	assert_int_equal(fd, -1);
}

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
}

static void test_write_atomic_sweep(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_write_atomic(path_in("server.key"), "k", 1, 0600, &err), 0);
	touch(path_in("server.key.ep-0123456789abcdef"));  /* stale: removed */
	touch(path_in("server.key.ep-00000000deadbeef"));  /* stale: removed */
	touch(path_in("server.key.ep-0123456789ABCDEF"));  /* not our pattern */
	touch(path_in("server.key.ep-0123456789abcde"));   /* too short */
	touch(path_in("server.key.ep-0123456789abcdef0")); /* too long */
	touch(path_in("server.key.ep-0123456789abcdeg"));  /* not hex */
	touch(path_in("peer.key.ep-0123456789abcdef"));	   /* another target */
	touch(path_in("xserver.key.ep-0123456789abcdef")); /* another target */
	assert_int_equal(symlink(path_in("server.key"), path_in("server.key.ep-1111111111111111")),
			 0); /* a link: left */
	assert_int_equal(mkdir(path_in("server.key.ep-2222222222222222"), 0700), 0); /* a dir */
	size_t before = count_entries(scratch);

	assert_int_equal(ep_write_atomic_sweep(path_in("server.key"), true, &err), 2);
	assert_int_equal(count_entries(scratch), before);
	assert_int_equal(ep_write_atomic_sweep(path_in("server.key"), false, &err), 2);
	assert_int_equal(count_entries(scratch), before - 2);
	assert_false(ep_path_exists(path_in("server.key.ep-0123456789abcdef")));
	assert_false(ep_path_exists(path_in("server.key.ep-00000000deadbeef")));
	assert_true(ep_path_exists(path_in("server.key")));
	assert_true(ep_path_exists(path_in("server.key.ep-1111111111111111")));
	assert_true(ep_path_exists(path_in("peer.key.ep-0123456789abcdef")));
	assert_int_equal(ep_write_atomic_sweep(path_in("server.key"), false, &err), 0);
	/* A directory that does not exist holds no leftovers. */
	assert_int_equal(ep_write_atomic_sweep(path_in("nodir/server.key"), false, &err), 0);
}

/* ---- roots --------------------------------------------------------------- */

/* The same tests again with the component-by-component walk (a kernel without openat2). */
static int setup_walk(void **state)
{
	fs_test_no_openat2 = true;
	return setup(state);
}

static int teardown_walk(void **state)
{
	fs_test_no_openat2 = false;
	return teardown(state);
}

static void expect_empty_root(int r, const struct ep_error *err)
{
	assert_int_equal(r, -EINVAL);
	assert_int_equal(err->kind, EP_ERR_USAGE);
	if (!strstr(err->msg, "an empty --root is refused: an unset variable must never mean the "
			      "real node; pass --root / to work on the real root"))
		fail_msg("unexpected message: %s", err->msg);
}

/* An empty root is never the real root: every call refuses it, and nothing is touched. */
static void test_root_empty_refused(void **state)
{
	(void)state;
	struct ep_error err;
	char *out = NULL, *data = NULL;
	int fd = -1;
	assert_true(ep_root_is_real(NULL));
	assert_true(ep_root_is_real("/"));
	assert_true(ep_root_is_real("///"));
	assert_false(ep_root_is_real(""));
	assert_false(ep_root_is_real(scratch));

	/* The node paths are absolute paths in the scratch dir: were "" the real root, the
	 * calls would act there - and the checks below would see it. */
	ep_error_clear(&err);
	expect_empty_root(ep_root_check("", &err), &err);
	ep_error_clear(&err);
	expect_empty_root(ep_root_path("", "/etc", &out, &err), &err);
	assert_null(out);
	ep_error_clear(&err);
	expect_empty_root(ep_root_write_atomic("", path_in("w"), "x", 1, 0600, &err), &err);
	ep_error_clear(&err);
	expect_empty_root(ep_root_mkdir_p("", path_in("d/e"), 0700, &err), &err);
	ep_error_clear(&err);
	expect_empty_root(ep_root_open_dir("", scratch, false, 0, &fd, NULL, &err), &err);
	ep_error_clear(&err);
	expect_empty_root(ep_root_open("", scratch, O_PATH, 0, &fd, &err), &err);
	assert_int_equal(fd, -1);
	ep_error_clear(&err);
	expect_empty_root(ep_root_dir_lock("", scratch, 0, &fd, &err), &err);
	assert_int_equal(fd, -1);
	assert_int_equal(ep_write_atomic(path_in("r"), "x", 1, 0600, &err), 0);
	ep_error_clear(&err);
	expect_empty_root(ep_root_read_file("", path_in("r"), 10, true, &data, NULL, &err), &err);
	assert_null(data);
	ep_error_clear(&err);
	expect_empty_root(ep_root_chmod("", path_in("r"), 0644, &err), &err);
	assert_false(ep_root_exists("", path_in("r")));
	assert_int_equal(count_entries(scratch), 1); /* only "r", written through the real root */
	struct stat st;
	assert_int_equal(stat(path_in("r"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_root_check(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_root_check(NULL, &err), 0);
	assert_int_equal(ep_root_check("/", &err), 0);
	assert_int_equal(ep_root_check(scratch, &err), 0);
	assert_int_equal(ep_root_check(path_in("not/yet"), &err), 0); /* made by the writers */
	assert_int_equal(ep_write_atomic(path_in("file"), "x", 1, 0644, &err), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_root_check(path_in("file"), &err), -ENOTDIR);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "is not a directory (it is a regular file)"));
	ep_error_clear(&err);
	assert_int_equal(ep_root_check(path_in("file/sub"), &err), -ENOTDIR);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_int_equal(symlink("loop2", path_in("loop1")), 0);
	assert_int_equal(symlink("loop1", path_in("loop2")), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_root_check(path_in("loop1"), &err), -ELOOP);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "too many levels of symbolic links"));
	/* The same refusals from the calls themselves. */
	ep_error_clear(&err);
	assert_int_equal(ep_root_mkdir_p(path_in("loop1"), "/etc", 0755, &err), -ELOOP);
	assert_int_equal(err.kind, EP_ERR_USAGE);
}

/*
 * A root with symlinks that point out of it - an absolute host path, a
 * relative path that climbs above the root - and an outside directory with a
 * secret: no call reads, writes, creates, chmods, locks, sweeps or removes
 * anything outside; links that stay inside work as in a chroot.
 */
static void make_escape_layout(char *root, char *out)
{
	struct ep_error err;
	ep_error_clear(&err);
	strcpy(root, path_in("root"));
	strcpy(out, path_in("out"));
	assert_int_equal(ep_mkdir_p(path_in("out/sub"), 0755, &err), 0);
	assert_int_equal(ep_write_atomic(path_in("out/secret"), "secret", 6, 0644, &err), 0);
	assert_int_equal(ep_write_atomic(path_in("out/secret.ep-0123456789abcdef"), "t", 1, 0600,
					 &err),
			 0);
	assert_int_equal(ep_mkdir_p(path_in("root/real"), 0755, &err), 0);
	assert_int_equal(ep_mkdir_p(path_in("root/etc"), 0755, &err), 0);
	assert_int_equal(symlink(out, path_in("root/abs")), 0);		 /* host path */
	assert_int_equal(symlink("../out", path_in("root/up")), 0);		 /* climbs out */
	assert_int_equal(symlink("../../../out", path_in("root/real/up3")), 0); /* climbs out */
	assert_int_equal(symlink("/", path_in("root/slash")), 0);
	assert_int_equal(symlink("/real", path_in("root/etc/pki")), 0); /* stays inside */
}

/* What the outside directory holds is exactly what make_escape_layout put there. */
static void expect_outside_untouched(const char *out)
{
	char p[600];
	assert_int_equal(count_entries(out), 3);
	snprintf(p, sizeof(p), "%s/secret", out);
	char *c = slurp(p);
	assert_string_equal(c, "secret");
	free(c);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	snprintf(p, sizeof(p), "%s/sub", out);
	assert_int_equal(count_entries(p), 0);
}

static void test_root_ops_stay_inside(void **state)
{
	(void)state;
	char root[512], out[512];
	make_escape_layout(root, out);
	const char *escapes[] = {"/abs", "/up", "/real/up3", "/slash/up", "/etc/pki/up3",
				 "/../../abs", "/real/../../up"};
	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		char p[300], sub[300], sec[300];
		snprintf(p, sizeof(p), "%s/f", escapes[i]);
		snprintf(sub, sizeof(sub), "%s/sub", escapes[i]);
		snprintf(sec, sizeof(sec), "%s/secret", escapes[i]);
		struct ep_error err;
		char *data = NULL;
		int fd = -1;
		ep_error_clear(&err);
		assert_true(ep_root_write_atomic(root, p, "evil", 4, 0644, &err) < 0);
		ep_error_clear(&err);
		assert_true(ep_root_write_atomic(root, sec, "evil", 4, 0644, &err) < 0);
		ep_error_clear(&err);
		assert_true(ep_root_mkdir_p(root, p, 0755, &err) < 0);
		ep_error_clear(&err);
		assert_true(ep_root_mkdir_p(root, escapes[i], 0755, &err) < 0);
		ep_error_clear(&err);
		if (ep_root_read_file(root, sec, 100, false, &data, NULL, &err) == 0)
			fail_msg("%s: read '%s' through an escaping link", escapes[i], data);
		assert_int_equal(ep_root_open_dir(root, escapes[i], false, 0, &fd, NULL, &err),
				 -ENOENT);
		assert_true(ep_root_chmod(root, sec, 0600, NULL) < 0);
		assert_true(ep_root_dir_lock(root, escapes[i], 0, &fd, NULL) < 0);
		assert_true(ep_root_rmdir(root, sub) < 0);
		assert_int_equal(ep_root_write_atomic_sweep(root, sec, false, NULL), 0);
		assert_false(ep_root_exists(root, sec));
		assert_true(ep_root_dir_empty_or_absent(root, escapes[i]));
		expect_outside_untouched(out);
	}
	/* Inside, links work as in a chroot: an absolute link is taken from the root. */
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_root_mkdir_p(root, "/etc/pki/etcd", 0700, &err), 0);
	assert_int_equal(ep_root_write_atomic(root, "/etc/pki/etcd/ca.crt", "crt", 3, 0644, &err),
			 0);
	char *c = slurp(path_in("root/real/etcd/ca.crt"));
	assert_string_equal(c, "crt");
	free(c);
	c = NULL;
	assert_int_equal(ep_root_read_file(root, "/slash/../etc/pki/etcd/ca.crt", 10, true, &c,
					   NULL, &err),
			 0);
	assert_string_equal(c, "crt");
	free(c);
	/* A symlink as last component: never written through; read only when asked. */
	assert_int_equal(symlink("/real/etcd/ca.crt", path_in("root/real/link")), 0);
	assert_int_equal(ep_root_write_atomic(root, "/real/link", "x", 1, 0644, &err), -ELOOP);
	c = NULL;
	assert_int_equal(ep_root_read_file(root, "/real/link", 10, true, &c, NULL, NULL), -ELOOP);
	assert_int_equal(ep_root_read_file(root, "/real/link", 10, false, &c, NULL, &err), 0);
	assert_string_equal(c, "crt");
	free(c);
	struct stat st;
	assert_int_equal(ep_root_lstat(root, "/real/link", &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	expect_outside_untouched(out);
}

/* The walk resolves every path to what openat2(RESOLVE_IN_ROOT) does. */
static void test_root_walk_matches_openat2(void **state)
{
	(void)state;
	char root[512], out[512];
	make_escape_layout(root, out);
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_root_mkdir_p(root, "/real/a/b", 0755, &err), 0);
	assert_int_equal(ep_root_write_atomic(root, "/real/a/b/f", "f", 1, 0644, &err), 0);
	assert_int_equal(symlink("a/b", path_in("root/real/rel")), 0);
	assert_int_equal(symlink("../real/a/b/f", path_in("root/etc/flink")), 0);
	assert_int_equal(symlink("dangling", path_in("root/real/dl")), 0);
	assert_int_equal(symlink("l2", path_in("root/real/l1")), 0);
	assert_int_equal(symlink("l1", path_in("root/real/l2")), 0);
	const char *paths[] = {"/",	       "/real",		"/real/a/b/f",	 "/etc/pki/a/b/f",
			       "/real/rel/f",  "/real/rel/../b/f", "/etc/flink", "/abs",
			       "/up",	       "/real/up3",	"/slash/slash/real", "/../..",
			       "/real/dl",     "/real/l1/x",	"/real/a/b/f/x", "/etc/pki/",
			       "/real/a/../a/b", "/nope/x"};
	const int flags[] = {O_PATH, O_PATH | O_NOFOLLOW, O_RDONLY, O_RDONLY | O_DIRECTORY,
			     O_RDONLY | O_NOFOLLOW};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++) {
			int fd1 = -1, fd2 = -1;
			fs_test_no_openat2 = false;
			int r1 = ep_root_open(root, paths[i], flags[k], 0, &fd1, NULL);
			fs_test_no_openat2 = true;
			int r2 = ep_root_open(root, paths[i], flags[k], 0, &fd2, NULL);
			fs_test_no_openat2 = false;
			if (r1 != r2)
				fail_msg("'%s' flags %#x: openat2 %d, walk %d", paths[i], flags[k], r1,
					 r2);
			if (r1 == 0) {
				struct stat s1, s2;
				assert_int_equal(fstat(fd1, &s1), 0);
				assert_int_equal(fstat(fd2, &s2), 0);
				if (s1.st_ino != s2.st_ino || s1.st_dev != s2.st_dev)
					fail_msg("'%s' flags %#x: two different files", paths[i],
						 flags[k]);
				close(fd1);
				close(fd2);
			}
		}
}

struct swapper {
	char dir[600], lnk[600];
	volatile bool stop;
	unsigned long swaps;
};

/*
 * Swap @dir and the symlink @lnk (to a directory out of the root) with
 * renameat2(RENAME_EXCHANGE), again and again, until told to stop: @dir is
 * always either the directory or the link, never absent.
 */
static void *swap_loop(void *arg)
{
	struct swapper *s = arg;
	while (!s->stop) {
		if (renameat2(AT_FDCWD, s->dir, AT_FDCWD, s->lnk, RENAME_EXCHANGE) < 0)
			abort();
		sched_yield();
		if (renameat2(AT_FDCWD, s->dir, AT_FDCWD, s->lnk, RENAME_EXCHANGE) < 0)
			abort();
		s->swaps++;
		sched_yield();
	}
	return NULL;
}

/*
 * The race of issue 10, item 2, in-process: a thread swaps root/d for a
 * symlink to a directory outside, again and again, while writes, mkdirs,
 * reads, sweeps and pair commits go on under the root.  Nothing may reach
 * the outside directory.
 */
static void race(const char *link_target)
{
	char root[512], out[512];
	make_escape_layout(root, out);
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_root_mkdir_p(root, "/d", 0755, &err), 0);
	struct swapper s = {.stop = false};
	snprintf(s.dir, sizeof(s.dir), "%s/d", root);
	snprintf(s.lnk, sizeof(s.lnk), "%s/d.lnk", root);
	assert_int_equal(symlink(link_target, s.lnk), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, swap_loop, &s), 0);
	unsigned ok = 0;
	for (int i = 0; i < 300; i++) {
		char *data = NULL;
		int fd = -1;
		ok += ep_root_write_atomic(root, "/d/f", "new", 3, 0600, NULL) == 0;
		ok += ep_root_mkdir_p(root, "/d/sub/x", 0700, NULL) == 0;
		ok += ep_root_write_atomic(root, "/d/sub/x/g", "g", 1, 0600, NULL) == 0;
		if (ep_root_read_file(root, "/d/secret", 100, false, &data, NULL, NULL) == 0)
			fail_msg("read '%s' from outside the root", data);
		ep_root_write_atomic_sweep(root, "/d/secret", false, NULL);
		ep_root_chmod(root, "/d/secret", 0600, NULL);
		if (ep_root_open_dir(root, "/d", false, 0, &fd, NULL, NULL) == 0) {
			char *tmp = NULL;
			if (ep_write_temp_at(fd, "d", "k", "k", 1, 0600, &tmp, NULL) == 0) {
				struct ep_pair_op op = {"k", tmp};
				ok += ep_pair_commit_at(fd, "d", "k.ep-pair", &op, 1, NULL, NULL) == 0;
				free(tmp);
			}
			close(fd);
		}
	}
	s.stop = true;
	assert_int_equal(pthread_join(t, NULL), 0);
	expect_outside_untouched(out);
	/* The race was real: the directory was swapped, and writes did go through. */
	assert_true(s.swaps > 0);
	assert_true(ok > 0);
}

static void test_root_swap_race_absolute(void **state)
{
	(void)state;
	race(path_in("out"));
}

static void test_root_swap_race_relative(void **state)
{
	(void)state;
	race("../out");
}

/*
 * The calls on one entry of an open directory (what the plan engine acts
 * through): each acts on the entry itself, never on what a symlink there
 * points to, and says so.
 */
static void test_entry_calls_never_follow(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_mkdir_p(path_in("d"), 0755, &err), 0);
	assert_int_equal(ep_mkdir_p(path_in("out/sub"), 0755, &err), 0);
	assert_int_equal(ep_write_atomic(path_in("out/f"), "out", 3, 0644, &err), 0);
	assert_int_equal(symlink(path_in("out"), path_in("d/dlink")), 0);
	assert_int_equal(symlink(path_in("out/f"), path_in("d/flink")), 0);
	_cleanup_close_ int dfd = open(path_in("d"), O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	const char *dir = path_in("d");
	struct stat st;

	/* mkdir: exact mode; anything there, a link too, is -EEXIST without a message. */
	mode_t old = umask(077);
	assert_int_equal(ep_mkdir_at(dfd, dir, "m", 0750, &err), 0);
	umask(old);
	assert_int_equal(stat(path_in("d/m"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(ep_mkdir_at(dfd, dir, "dlink", 0750, &err), -EEXIST);
	assert_false(ep_error_isset(&err));
	assert_int_equal(ep_mkdir_at(dfd, dir, "../x", 0750, &err), -EINVAL);
	ep_error_clear(&err);

	/* chmod: a link is refused, the file behind it untouched. */
	assert_int_equal(ep_chmod_at(dfd, dir, "flink", 0600, &err), -ELOOP);
	assert_non_null(strstr(err.msg, "symbolic link"));
	ep_error_clear(&err);
	assert_int_equal(stat(path_in("out/f"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(ep_chmod_at(dfd, dir, "m", 0700, &err), 0);
	assert_int_equal(stat(path_in("d/m"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);

	/* copy: never from a link; the copy is a new file with the mode asked for. */
	assert_int_equal(ep_copy_at(dfd, dir, "flink", dfd, dir, "c", 0600, &err), -ELOOP);
	ep_error_clear(&err);
	assert_int_equal(ep_write_atomic(path_in("d/src"), "data", 4, 0644, &err), 0);
	assert_int_equal(ep_copy_at(dfd, dir, "src", dfd, dir, "c", 0640, &err), 0);
	char *c = slurp(path_in("d/c"));
	assert_string_equal(c, "data");
	free(c);
	assert_int_equal(stat(path_in("d/c"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(ep_copy_at(dfd, dir, "m", dfd, dir, "c2", 0640, &err), -EINVAL);
	ep_error_clear(&err);

	/* rename: never over anything, a link included; the link moves, not its target. */
	assert_int_equal(ep_rename_noreplace_at(dfd, dir, "src", dfd, dir, "flink", &err),
			 -EEXIST);
	assert_non_null(strstr(err.msg, "something is there already"));
	ep_error_clear(&err);
	assert_int_equal(ep_rename_noreplace_at(dfd, dir, "dlink", dfd, dir, "moved", &err), 0);
	assert_int_equal(lstat(path_in("d/moved"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	/* unlink and rmdir: the link goes, its target stays; absent and not empty are quiet. */
	assert_int_equal(ep_unlink_at(dfd, dir, "flink", false, &err), 0);
	assert_int_equal(ep_unlink_at(dfd, dir, "flink", false, &err), -ENOENT);
	assert_false(ep_error_isset(&err));
	assert_int_equal(ep_write_atomic(path_in("d/m/x"), "x", 1, 0600, &err), 0);
	assert_int_equal(ep_unlink_at(dfd, dir, "m", true, &err), -ENOTEMPTY);
	assert_false(ep_error_isset(&err));

	/* rm -rf: a link inside is removed, never followed. */
	assert_int_equal(symlink(path_in("out"), path_in("d/m/into-out")), 0);
	assert_int_equal(ep_remove_tree_at(dfd, dir, "m", &err), 0);
	assert_false(ep_path_exists(path_in("d/m")));
	assert_int_equal(ep_remove_tree_at(dfd, dir, "m", &err), 0); /* absent */
	assert_int_equal(ep_remove_tree_at(dfd, dir, "moved", &err), 0);
	assert_false(ep_path_exists(path_in("d/moved")));
	c = slurp(path_in("out/f"));
	assert_string_equal(c, "out");
	free(c);
	assert_int_equal(stat(path_in("out/f"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(count_entries(path_in("out")), 2);
	assert_int_equal(count_entries(path_in("out/sub")), 0);
}

/* A FIFO, a socket, a device or a directory: refused at once, named. */
static void test_read_refuses_special_files(void **state)
{
	(void)state;
	assert_int_equal(mkfifo(path_in("fifo"), 0600), 0);
	int sock = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(sock >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path_in("sock"));
	assert_int_equal(bind(sock, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(mkdir(path_in("dir"), 0700), 0);
	_cleanup_close_ int dfd = open(scratch, O_RDONLY | O_DIRECTORY);
	struct {
		const char *name, *kind;
	} cases[] = {{"fifo", "a FIFO"}, {"sock", "a socket"}, {"dir", "a directory"}};
	for (size_t i = 0; i < 3; i++) {
		struct ep_error err;
		char *data = NULL, want[600];
		char node[300];
		snprintf(node, sizeof(node), "/%s", cases[i].name);
		snprintf(want, sizeof(want), "refusing to read '%s': it is %s, not a regular file",
			 path_in(cases[i].name), cases[i].kind);
		for (int how = 0; how < 3; how++) {
			ep_error_clear(&err);
			int r = how == 0   ? ep_read_file(path_in(cases[i].name), 100, false, &data,
						      NULL, &err)
				: how == 1 ? ep_root_read_file(scratch, node, 100, true, &data, NULL,
							       &err)
					   : ep_read_file_at(dfd, scratch, cases[i].name, 100, &data,
							     NULL, &err);
			assert_int_equal(r, -EINVAL);
			assert_null(data);
			if (!strstr(err.msg, want))
				fail_msg("'%s' lacks '%s'", err.msg, want);
		}
	}
	struct ep_error err;
	char *data = NULL;
	ep_error_clear(&err);
	assert_int_equal(ep_read_file("/dev/null", 100, false, &data, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "it is a character device, not a regular file"));
	close(sock);
}

/* ---- pairs --------------------------------------------------------------- */

static int crash_at, crash_count;

static void crash_hook(const char *what)
{
	(void)what;
	if (++crash_count == crash_at)
		_exit(7); /* as a kill -9 right here: no cleanup, no unwinding */
}

/* Replace p.key and p.crt with @key and @crt (NULL: remove) as a pair. */
static int pair_write(int dfd, const char *key, const char *crt)
{
	char *kt = NULL, *ct = NULL;
	struct ep_pair_op ops[2] = {{"p.key", NULL}, {"p.crt", NULL}};
	if (key && ep_write_temp_at(dfd, scratch, "p.key", key, strlen(key), 0600, &kt, NULL) < 0)
		return -1;
	if (crt && ep_write_temp_at(dfd, scratch, "p.crt", crt, strlen(crt), 0644, &ct, NULL) < 0)
		return -1;
	ops[0].temp = kt;
	ops[1].temp = ct;
	int r = ep_pair_commit_at(dfd, scratch, "p.ep-pair", ops, 2, NULL, NULL);
	free(kt);
	free(ct);
	return r;
}

/* What the next run does: complete a journal, then sweep the temp files. */
static void pair_recover(int dfd)
{
	struct ep_error err;
	ep_error_clear(&err);
	const char *names[] = {"p.key", "p.crt"};
	if (ep_pair_recover_at(dfd, scratch, "p.ep-pair", names, 2, false, &err) < 0)
		fail_msg("recovery: %s", err.msg);
	const char *all[] = {"p.key", "p.crt", "p.ep-pair"};
	for (size_t i = 0; i < 3; i++)
		assert_true(ep_write_atomic_sweep_at(dfd, scratch, all[i], false, &err) >= 0);
}

/* "old", "new" or "gone" when p.key and p.crt agree; fails on a mix. */
static const char *pair_state(void)
{
	char *k = slurp(path_in("p.key")), *c = slurp(path_in("p.crt"));
	const char *state = NULL;
	if (!k && !c)
		state = "gone";
	else if (k && c && !strcmp(k, "old-key") && !strcmp(c, "old-crt"))
		state = "old";
	else if (k && c && !strcmp(k, "new-key") && !strcmp(c, "new-crt"))
		state = "new";
	if (!state)
		fail_msg("a mixed pair: key '%s', certificate '%s'", k ? k : "(none)",
			 c ? c : "(none)");
	free(k);
	free(c);
	return state;
}

/*
 * Kill the writer at every point where a crash leaves something new on disk
 * (fork, _exit at the Nth point), then run the recovery the next run does:
 * the pair is the old one or the new one, never a mix, and nothing else is
 * left in the directory.  For a replacement and for a removal.
 */
static void test_pair_crash_points(void **state)
{
	(void)state;
	_cleanup_close_ int dfd = open(scratch, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	for (int removal = 0; removal < 2; removal++) {
		bool saw_old = false, saw_new = false;
		for (crash_at = 1;; crash_at++) {
			assert_true(crash_at < 100);
			assert_int_equal(pair_write(dfd, "old-key", "old-crt"), 0);
			pid_t pid = fork();
			assert_true(pid >= 0);
			if (pid == 0) {
				crash_count = 0;
				fs_test_crash_point = crash_hook;
				int r = removal ? pair_write(dfd, NULL, NULL)
						: pair_write(dfd, "new-key", "new-crt");
				_exit(r == 0 ? 0 : 1);
			}
			int status;
			assert_int_equal(waitpid(pid, &status, 0), pid);
			assert_true(WIFEXITED(status));
			bool crashed = WEXITSTATUS(status) == 7;
			if (!crashed)
				assert_int_equal(WEXITSTATUS(status), 0);
			pair_recover(dfd);
			const char *st = pair_state();
			const char *want_new = removal ? "gone" : "new";
			if (!strcmp(st, "old"))
				saw_old = true;
			else if (!strcmp(st, want_new))
				saw_new = true;
			else
				fail_msg("crash point %d: pair is %s", crash_at, st);
			/* Nothing but the pair itself is left: no journal, no temp file. */
			assert_int_equal(count_entries(scratch), removal && !strcmp(st, "gone") ? 0 : 2);
			if (!crashed)
				break;
		}
		assert_true(saw_old); /* a crash before the journal keeps the old pair */
		assert_true(saw_new); /* one after it is completed */
		assert_true(crash_at > 4);
	}
}

/*
 * A rename that fails (not a crash) after the journal: what went in is put
 * back from its hard link, the message says so, and nothing is left over.
 */
static void test_pair_failure_puts_back(void **state)
{
	(void)state;
	_cleanup_close_ int dfd = open(scratch, O_RDONLY | O_DIRECTORY);
	assert_int_equal(pair_write(dfd, "old-key", "old-crt"), 0);
	struct stat before;
	assert_int_equal(stat(path_in("p.key"), &before), 0);
	/* p.crt is a directory now: the key goes in, then the certificate cannot. */
	assert_int_equal(unlink(path_in("p.crt")), 0);
	assert_int_equal(mkdir(path_in("p.crt"), 0700), 0);
	char *kt = NULL, *ct = NULL;
	assert_int_equal(ep_write_temp_at(dfd, scratch, "p.key", "new-key", 7, 0600, &kt, NULL), 0);
	assert_int_equal(ep_write_temp_at(dfd, scratch, "p.crt", "new-crt", 7, 0644, &ct, NULL), 0);
	struct ep_pair_op ops[2] = {{"p.key", kt}, {"p.crt", ct}};
	struct ep_error err;
	ep_error_clear(&err);
	bool pending = true;
	assert_int_equal(ep_pair_commit_at(dfd, scratch, "p.ep-pair", ops, 2, &pending, &err), -EISDIR);
	assert_false(pending);
	if (!strstr(err.msg, "renaming '") || !strstr(err.msg, "; put back the previous p.key"))
		fail_msg("unexpected message: %s", err.msg);
	char *k = slurp(path_in("p.key"));
	assert_string_equal(k, "old-key");
	free(k);
	struct stat after;
	assert_int_equal(stat(path_in("p.key"), &after), 0);
	assert_int_equal(after.st_ino, before.st_ino); /* the very same file */
	assert_int_equal(count_entries(scratch), 2);	/* p.key and p.crt/: no journal, no temp */
	free(kt);
	free(ct);
}

/* A journal that etcdpilot did not write is never acted upon. */
static void test_pair_journal_refusals(void **state)
{
	(void)state;
	_cleanup_close_ int dfd = open(scratch, O_RDONLY | O_DIRECTORY);
	struct ep_error err;
	const char *names[] = {"p.key", "p.crt"};
	assert_int_equal(pair_write(dfd, "old-key", "old-crt"), 0);
	assert_int_equal(ep_write_atomic(path_in("victim"), "v", 1, 0600, NULL), 0);
	const char *bad[] = {
	    "etcdpilot pair journal 1\nremove victim\n",			/* not of this pair */
	    "etcdpilot pair journal 1\nrename victim p.key\n",		/* not a temp of it */
	    "etcdpilot pair journal 1\nrename p.key.ep-0123456789abcdef ../p.key\n",
	    "some other file\nremove p.key\n",
	    "etcdpilot pair journal 1\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ep_write_atomic(path_in("p.ep-pair"), bad[i], strlen(bad[i]), 0600,
						 NULL),
				 0);
		ep_error_clear(&err);
		assert_int_equal(ep_pair_recover_at(dfd, scratch, "p.ep-pair", names, 2, false, &err),
				 -EBADMSG);
		assert_non_null(strstr(err.msg, "remove it and run again"));
		assert_string_equal(pair_state(), "old");
		assert_true(ep_path_exists(path_in("victim")));
	}
	/* A temp that is a symlink is not renamed into place. */
	const char *j = "etcdpilot pair journal 1\nrename p.key.ep-0123456789abcdef p.key\n";
	assert_int_equal(ep_write_atomic(path_in("p.ep-pair"), j, strlen(j), 0600, NULL), 0);
	assert_int_equal(symlink(path_in("victim"), path_in("p.key.ep-0123456789abcdef")), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_pair_recover_at(dfd, scratch, "p.ep-pair", names, 2, false, &err),
			 -EBADMSG);
	assert_string_equal(pair_state(), "old");
	assert_int_equal(unlink(path_in("p.key.ep-0123456789abcdef")), 0);
	/* A FIFO as journal: refused without blocking. */
	assert_int_equal(unlink(path_in("p.ep-pair")), 0);
	assert_int_equal(mkfifo(path_in("p.ep-pair"), 0600), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_pair_recover_at(dfd, scratch, "p.ep-pair", names, 2, false, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "it is a FIFO"));
	/* No journal: nothing to do. */
	assert_int_equal(unlink(path_in("p.ep-pair")), 0);
	assert_int_equal(ep_pair_recover_at(dfd, scratch, "p.ep-pair", names, 2, false, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write_creates_with_exact_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_replaces_and_changes_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_refuses_symlink_target, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_never_follows_planted_temp, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_into_missing_dir_fails_cleanly, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_write_onto_directory, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_file_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_path_lexical, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_path_symlinks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_empty_or_absent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_lock_bounded_wait, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_lock_follows_replaced_dir, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dir_lock_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_atomic_sweep, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_empty_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_check, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_ops_stay_inside, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_ops_stay_inside, setup_walk, teardown_walk),
	    cmocka_unit_test_setup_teardown(test_root_walk_matches_openat2, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_swap_race_absolute, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_swap_race_relative, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_root_swap_race_absolute, setup_walk,
					    teardown_walk),
	    cmocka_unit_test_setup_teardown(test_root_swap_race_relative, setup_walk,
					    teardown_walk),
	    cmocka_unit_test_setup_teardown(test_entry_calls_never_follow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_refuses_special_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_read_refuses_special_files, setup_walk,
					    teardown_walk),
	    cmocka_unit_test_setup_teardown(test_pair_crash_points, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pair_failure_puts_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pair_journal_refusals, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
