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
#include <sys/stat.h>
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
