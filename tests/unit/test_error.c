/*
 * test_error.c - the library's error record: first error wins, context is
 * prepended, kinds survive, OpenSSL's queue is drained into the message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "etcdpilot/error.h"

static void test_clear_and_isset(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_false(ep_error_isset(&err));
	assert_false(ep_error_isset(NULL));
	assert_int_equal(ep_error_set(&err, -ENOENT, "reading '%s': %s", "x", "gone"), -ENOENT);
	assert_true(ep_error_isset(&err));
	assert_int_equal(err.kind, EP_ERR_FAILED);
	assert_string_equal(err.msg, "reading 'x': gone");
}

static void test_first_error_wins(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	ep_error_set(&err, -EACCES, "first");
	assert_int_equal(ep_error_usage(&err, -EINVAL, "second"), -EINVAL);
	assert_string_equal(err.msg, "first");
	assert_int_equal(err.code, -EACCES);
	assert_int_equal(err.kind, EP_ERR_FAILED);
}

static void test_positive_and_zero_codes(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_error_set(&err, EPERM, "x"), -EPERM);
	ep_error_clear(&err);
	assert_int_equal(ep_error_set(&err, 0, "x"), -EIO);
	/* NULL is accepted and the code still comes back. */
	assert_int_equal(ep_error_usage(NULL, -EINVAL, "nobody listens"), -EINVAL);
}

static void test_usage_kind(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	ep_error_usage(&err, -EINVAL, "f.yaml:3:7: etcd.local.dataDir: must be absolute");
	assert_int_equal(err.kind, EP_ERR_USAGE);
}

static void test_prefix(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_error_prefix(&err, "ignored"), -EIO);
	assert_false(ep_error_isset(&err));
	ep_error_set(&err, -EXDEV, "rename: cross-device");
	assert_int_equal(ep_error_prefix(&err, "writing %s", "manifest"), -EXDEV);
	assert_string_equal(err.msg, "writing manifest: rename: cross-device");
	assert_int_equal(ep_error_prefix(NULL, "x"), -EIO);
}

static void test_prefix_truncates_safely(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	char big[EP_ERROR_MAX * 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ep_error_set(&err, -EIO, "%s", big);
	assert_int_equal(strlen(err.msg), EP_ERROR_MAX - 1);
	ep_error_prefix(&err, "ctx");
	assert_int_equal(strlen(err.msg), EP_ERROR_MAX - 1);
	assert_memory_equal(err.msg, "ctx: aaa", 8);
}

static void test_append(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	/* nothing to add to: nothing is set */
	assert_int_equal(ep_error_append(&err, "; ignored"), -EIO);
	assert_false(ep_error_isset(&err));
	assert_int_equal(ep_error_append(NULL, "x"), -EIO);
	ep_error_usage(&err, -EEXIST, "member 'a' exists");
	assert_int_equal(ep_error_append(&err, "; or run %s again", "join"), -EEXIST);
	assert_string_equal(err.msg, "member 'a' exists; or run join again");
	assert_int_equal(err.kind, EP_ERR_USAGE);
	/* a full message stays full and terminated */
	char big[EP_ERROR_MAX * 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ep_error_clear(&err);
	ep_error_set(&err, -EIO, "%s", big);
	assert_int_equal(ep_error_append(&err, "; more"), -EIO);
	assert_int_equal(strlen(err.msg), EP_ERROR_MAX - 1);
	ep_error_clear(&err);
	ep_error_set(&err, -EIO, "%.*s", EP_ERROR_MAX - 4, big);
	ep_error_append(&err, "bcdef");
	assert_int_equal(strlen(err.msg), EP_ERROR_MAX - 1);
	assert_memory_equal(err.msg + EP_ERROR_MAX - 4, "bcd", 3);
}

static void test_ssl_queue_drained(void **state)
{
	(void)state;
	struct ep_error err;
	ep_error_clear(&err);
	/* Make OpenSSL fail for real, then check the reason lands in the message. */
	BIO *b = BIO_new_mem_buf("not a pem", -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	assert_null(x);
	BIO_free(b);
	assert_int_not_equal(ERR_peek_error(), 0);
	assert_int_equal(ep_error_ssl(&err, "loading '%s'", "ca.crt"), -EIO);
	assert_non_null(strstr(err.msg, "loading 'ca.crt': "));
	assert_true(strlen(err.msg) > strlen("loading 'ca.crt': "));
	assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clear_and_isset),
		cmocka_unit_test(test_first_error_wins),
		cmocka_unit_test(test_positive_and_zero_codes),
		cmocka_unit_test(test_usage_kind),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_prefix_truncates_safely),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_ssl_queue_drained),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
