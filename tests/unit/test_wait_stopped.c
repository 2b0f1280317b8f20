/*
 * test_wait_stopped.c - the wait.stopped action (plan.h): when is the local
 * member down?  Its client URL must refuse connections and, when the plan
 * names the data dir, no process may hold the member's database: etcd's
 * bbolt keeps an exclusive flock(2) on <data dir>/member/snap/db until its
 * very end.  Here the "etcd" is this test holding that lock on a real file
 * under a scratch root, and the client URL a loopback port nobody listens
 * on (or one this test listens on).
 *
 *   - the lock held: not stopped, however long the port has refused (the
 *     run times out, saying a process holds the database);
 *   - the lock free, or no database at all: stopped;
 *   - no data dir in the plan: stopped once the port has refused for a
 *     while (the quiet window);
 *   - the port answering: not stopped, whatever the lock;
 *   - a rollback's wait (quiet: the pod may be crash-looping): the port
 *     must have refused for a while too, and a held lock still keeps it
 *     waiting.
 */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "etcdpilot/error.h"
#include "etcdpilot/plan.h"
#include "actions_internal.h"
#include "util/clock.h"

struct fixture {
	char root[64];
	char db[128];
	char url[64];
	int listener;
};

/* A loopback port that refuses connections (bound, never listened on). */
static int refusing_port(int *ret_fd)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t len = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*ret_fd = fd;
	return ntohs(a.sin_port);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->root, sizeof(f->root), "/tmp/test_wait_stopped.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s/var/lib/etcd/member/snap'", f->root);
	assert_int_equal(system(cmd), 0);
	snprintf(f->db, sizeof(f->db), "%s/var/lib/etcd/member/snap/db", f->root);
	int fd = open(f->db, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	int port = refusing_port(&f->listener);
	snprintf(f->url, sizeof(f->url), "https://127.0.0.1:%d", port);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	close(f->listener);
	free(f);
	return 0;
}

/* Apply one wait.stopped; 0 or -errno with @msg (may be NULL) the error. */
static int wait_stopped(struct fixture *f, const char *data_dir, int timeout_ms, char *msg,
			size_t len)
{
	struct ep_plan *plan = ep_plan_new("test");
	assert_non_null(plan);
	struct ep_error err;
	ep_error_clear(&err);
	json_t *params = json_pack("{s:s, s:i, s:s?}", "endpoint", f->url, "timeout_ms", timeout_ms,
				   "data_dir", data_dir);
	assert_true(ep_plan_add(plan, "stop", "wait.stopped", params, NULL, &err) >= 0);
	struct ep_apply_ctx ctx = { .root = f->root };
	int r = ep_plan_apply(plan, &ctx, EP_APPLY_NO_JOURNAL, NULL, &err);
	if (msg)
		snprintf(msg, len, "%s", r < 0 ? err.msg : "");
	ep_plan_free(plan);
	return r;
}

static void test_lock_held_is_not_stopped(void **state)
{
	struct fixture *f = *state;
	int fd = open(f->db, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	char msg[sizeof(((struct ep_error *)0)->msg)];
	/* 2.5 s of a refusing port: longer than the quiet window, still not stopped */
	int r = wait_stopped(f, "/var/lib/etcd", 2500, msg, sizeof(msg));
	assert_int_equal(r, -ETIMEDOUT);
	if (!strstr(msg, "still holds the member's database /var/lib/etcd/member/snap/db"))
		fail_msg("unexpected error: %s", msg);
	/* let it go: stopped */
	close(fd);
	assert_int_equal(wait_stopped(f, "/var/lib/etcd", 2500, msg, sizeof(msg)), 0);
}

static void test_no_database_is_stopped(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(unlink(f->db), 0);
	assert_int_equal(wait_stopped(f, "/var/lib/etcd", 2500, NULL, 0), 0);
}

static void test_without_data_dir_the_quiet_window(void **state)
{
	struct fixture *f = *state;
	/* the lock is not looked at without a data dir: the refusing port decides */
	int fd = open(f->db, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	assert_int_equal(wait_stopped(f, NULL, 5000, NULL, 0), 0);
	close(fd);
}

static void test_port_answering_is_not_stopped(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(listen(f->listener, 128), 0); /* never accepted: room for every probe */
	char msg[sizeof(((struct ep_error *)0)->msg)];
	assert_int_equal(wait_stopped(f, "/var/lib/etcd", 1500, msg, sizeof(msg)), -ETIMEDOUT);
	if (!strstr(msg, "still answers"))
		fail_msg("unexpected error: %s", msg);
}

static void test_rollback_wait(void **state)
{
	struct fixture *f = *state;
	struct ep_error err;
	ep_error_clear(&err);
	int fd = open(f->db, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	/* held: still waiting after the quiet window */
	assert_int_equal(ep_wait_member_down(f->root, f->url, "/var/lib/etcd", true,
					     ep_now_ms() + 2500, &err),
			 -ETIMEDOUT);
	assert_non_null(strstr(err.msg, "still holds the member's database"));
	close(fd);
	/* free: down once the port has refused long enough */
	ep_error_clear(&err);
	assert_int_equal(ep_wait_member_down(f->root, f->url, "/var/lib/etcd", true,
					     ep_now_ms() + 5000, &err),
			 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lock_held_is_not_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_database_is_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_data_dir_the_quiet_window, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_port_answering_is_not_stopped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_wait, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
