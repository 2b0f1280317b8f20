/*
 * test_util.c - the shared helpers of src/util: the growable buffer and its
 * escaping, the monotonic clock, and child processes with one deadline.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "etcdpilot/error.h"
#include "util/child.h"
#include "util/clock.h"
#include "util/strbuf.h"

static void test_strbuf_grows(void **state)
{
	(void)state;
	struct ep_strbuf sb = EP_STRBUF_INIT;
	assert_string_equal(ep_strbuf_str(&sb), "");
	for (int i = 0; i < 1000; i++)
		ep_strbuf_addf(&sb, "%d,", i);
	assert_false(ep_strbuf_oom(&sb));
	assert_int_equal(strncmp(sb.buf, "0,1,2,", 6), 0);
	assert_int_equal(sb.len, strlen(sb.buf));
	/* a formatted piece longer than the internal small buffer */
	char big[1000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	size_t before = sb.len;
	ep_strbuf_addf(&sb, "[%s]", big);
	assert_int_equal(sb.len, before + 1001);
	size_t len = 0;
	char *s = ep_strbuf_detach(&sb, &len);
	assert_non_null(s);
	assert_int_equal(len, strlen(s));
	assert_null(sb.buf);
	free(s);
	/* detach of an untouched buffer is "" */
	s = ep_strbuf_detach(&sb, NULL);
	assert_string_equal(s, "");
	free(s);
}

static void test_strbuf_bound(void **state)
{
	(void)state;
	struct ep_strbuf sb;
	ep_strbuf_init(&sb, 8);
	ep_strbuf_adds(&sb, "12345");
	assert_false(ep_strbuf_truncated(&sb));
	ep_strbuf_adds(&sb, "67890");
	assert_true(ep_strbuf_truncated(&sb));
	assert_string_equal(ep_strbuf_str(&sb), "12345678");
	ep_strbuf_addch(&sb, 'z');
	assert_string_equal(ep_strbuf_str(&sb), "12345678");
	ep_strbuf_reset(&sb);
	assert_false(ep_strbuf_truncated(&sb));
	ep_strbuf_adds(&sb, "ab  \n");
	ep_strbuf_rtrim(&sb);
	assert_string_equal(ep_strbuf_str(&sb), "ab");
	ep_strbuf_release(&sb);
	assert_int_equal(sb.max, 8);
}

static void test_escape(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain name-1.2", "plain name-1.2" },
		{ "esc\x1b[2Jx", "esc\\x1b[2Jx" },
		{ "a\rb\nc\td", "a\\rb\\nc\\td" },
		{ "bell\a", "bell\\x07" },
		{ "back\\slash", "back\\\\slash" },
		{ "del\x7f", "del\\x7f" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },             /* UTF-8 é passes */
		{ "c1\xc2\x9b" "31m", "c1\\xc2\\x9b31m" },     /* U+009B CSI is a control */
		{ "bad\xff\xfe", "bad\\xff\\xfe" },           /* not UTF-8 */
		{ "trunc\xe2\x82", "trunc\\xe2\\x82" },       /* cut sequence */
		{ "over\xc0\xaf", "over\\xc0\\xaf" },         /* overlong '/' */
		{ "", "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *e = ep_escape(cases[i].in);
		assert_non_null(e);
		if (strcmp(e, cases[i].out) != 0)
			fail_msg("case %zu: escaped to '%s', wanted '%s'", i, e, cases[i].out);
		assert_int_equal(ep_needs_escape(cases[i].in), strcmp(cases[i].in, cases[i].out) != 0);
		free(e);
	}
	char *e = ep_escape(NULL);
	assert_string_equal(e, "");
	free(e);
}

static void test_clock(void **state)
{
	(void)state;
	uint64_t a = ep_now_ms();
	ep_sleep_ms(20);
	uint64_t b = ep_now_ms();
	assert_true(b >= a + 20);
	assert_int_equal(ep_ms_left(0), UINT64_MAX);
	assert_int_equal(ep_ms_left(1), 0);
	assert_true(ep_ms_left(b + 100000) > 0);
}

static void test_child_output_and_status(void **state)
{
	(void)state;
	const char *argv[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	struct ep_child c = { .argv = argv, .timeout_ms = 10000 };
	struct ep_child_result res = { 0 };
	struct ep_error err = { 0 };
	assert_int_equal(ep_child_run(&c, &res, &err), 0);
	assert_int_equal(res.status, 3);
	assert_false(res.signaled);
	assert_non_null(strstr(res.output, "out\n"));
	assert_non_null(strstr(res.output, "err\n"));
	ep_child_result_release(&res);
}

static void test_child_env(void **state)
{
	(void)state;
	setenv("EP_TEST_DROP", "1", 1);
	const char *argv[] = { "sh", "-c", "echo \"[$EP_TEST_SET][${EP_TEST_DROP-unset}]\"", NULL };
	const char *set[] = { "EP_TEST_SET=yes", NULL };
	const char *unset[] = { "EP_TEST_DROP", NULL };
	struct ep_child c = { .argv = argv, .env_set = set, .env_unset = unset, .timeout_ms = 10000 };
	struct ep_child_result res = { 0 };
	assert_int_equal(ep_child_run(&c, &res, NULL), 0);
	assert_string_equal(res.output, "[yes][unset]\n");
	ep_child_result_release(&res);
	unsetenv("EP_TEST_DROP");
}

static void test_child_bounded_output(void **state)
{
	(void)state;
	const char *argv[] = { "sh", "-c", "head -c 200000 /dev/zero | tr '\\0' a", NULL };
	struct ep_child c = { .argv = argv, .timeout_ms = 10000, .output_max = 1000 };
	struct ep_child_result res = { 0 };
	assert_int_equal(ep_child_run(&c, &res, NULL), 0);
	assert_int_equal(res.output_len, 1000);
	assert_true(res.truncated);
	assert_int_equal(res.status, 0); /* drained to the end, not killed by a full pipe */
	ep_child_result_release(&res);
}

/*
 * issue 10 item 8: a program that closes its output and then lingers must
 * not hold the caller past the deadline (the old runner waited in waitpid
 * without one).
 */
static void test_child_lingers_after_closing_output(void **state)
{
	(void)state;
	const char *argv[] = { "sh", "-c", "exec >/dev/null 2>&1; sleep 30", NULL };
	struct ep_child c = { .argv = argv, .timeout_ms = 300 };
	struct ep_child_result res = { 0 };
	struct ep_error err = { 0 };
	assert_int_equal(ep_child_run(&c, &res, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.msg, "did not finish within 0.300 s"));
	assert_null(res.output);
}

/* A grandchild that keeps the pipe open is killed with its group at the deadline. */
static void test_child_grandchild_killed(void **state)
{
	(void)state;
	char pidfile[] = "/tmp/ep-test-child-XXXXXX";
	int fd = mkstemp(pidfile);
	assert_true(fd >= 0);
	close(fd);
	char script[256];
	snprintf(script, sizeof(script), "sleep 30 & echo $! > %s; wait", pidfile);
	const char *argv[] = { "sh", "-c", script, NULL };
	struct ep_child c = { .argv = argv, .timeout_ms = 300 };
	struct ep_error err = { 0 };
	assert_int_equal(ep_child_run(&c, NULL, &err), -ETIMEDOUT);
	FILE *f = fopen(pidfile, "r");
	assert_non_null(f);
	int gpid = 0;
	assert_int_equal(fscanf(f, "%d", &gpid), 1);
	fclose(f);
	unlink(pidfile);
	/* the grandchild is gone (or a zombie of init being reaped): poll briefly */
	bool gone = false;
	for (int i = 0; i < 200 && !gone; i++) {
		char path[64], st[256] = "";
		snprintf(path, sizeof(path), "/proc/%d/stat", gpid);
		FILE *s = fopen(path, "r");
		if (!s) {
			gone = true;
			break;
		}
		if (fgets(st, sizeof(st), s) && strstr(st, ") Z "))
			gone = true;
		fclose(s);
		if (!gone)
			ep_sleep_ms(10);
	}
	assert_true(gone);
}

static void test_child_missing_program(void **state)
{
	(void)state;
	const char *argv[] = { "/nonexistent/etcdpilot-no-such-program", "--version", NULL };
	struct ep_child c = { .argv = argv, .timeout_ms = 1000 };
	struct ep_error err = { 0 };
	assert_int_equal(ep_child_run(&c, NULL, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "running '/nonexistent/etcdpilot-no-such-program --version'"));
}

static void test_child_cmdline(void **state)
{
	(void)state;
	const char *argv[] = { "systemctl", "enable", "--now", "a b", "it's", "\x1b[2J", NULL };
	char *s = ep_child_cmdline(argv);
	assert_string_equal(s, "systemctl enable --now 'a b' 'it'\\''s' '\\x1b[2J'");
	free(s);
	char last[32];
	ep_child_last_line("first\nsecond line\n\n", last, sizeof(last));
	assert_string_equal(last, "second line");
	ep_child_last_line("x\n\x1b]0;title\a\n", last, sizeof(last));
	assert_string_equal(last, "\\x1b]0;title\\x07");
	ep_child_last_line(NULL, last, sizeof(last));
	assert_string_equal(last, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf_grows),
		cmocka_unit_test(test_strbuf_bound),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_child_output_and_status),
		cmocka_unit_test(test_child_env),
		cmocka_unit_test(test_child_bounded_output),
		cmocka_unit_test(test_child_lingers_after_closing_output),
		cmocka_unit_test(test_child_grandchild_killed),
		cmocka_unit_test(test_child_missing_program),
		cmocka_unit_test(test_child_cmdline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
