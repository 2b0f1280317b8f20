/*
 * test_fs.c - the atomic-write helper, directory creation, bounded reads and
 * --root path resolution.
 */
#include <errno.h>
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
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
	char cmd[512];
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
