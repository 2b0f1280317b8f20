/*
 * test_client.c - the etcd client without a network: decoding of real etcd
 * 3.4.23 gateway answers (recorded in tests/unit/data/gateway/), malformed
 * and hostile answers, 64-bit IDs at their limits, gRPC error mapping, the
 * endpoint/TLS resolution order, member lookup, the quorum guards, the member
 * list limit, client certificate validity and the health verdicts.
 */
#include <errno.h>
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
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "etcdpilot/client.h"
#include "etcdpilot/pki.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/spec.h"

#define URL "https://127.0.0.1:2379"

/* A recorded answer: first line the HTTP status, then the body. */
struct rec {
	long status;
	char *body;
	size_t len;
};

static struct rec rec_load(const char *name)
{
	char path[1024];
	const char *src = getenv("EP_SOURCE_DIR");
	struct rec r = { 0 };
	char *text = NULL;
	size_t len = 0;
	struct ep_error err = { 0 };

	snprintf(path, sizeof(path), "%s/tests/unit/data/gateway/%s",
		 src && *src ? src : EP_TEST_SOURCE_DIR, name);
	assert_int_equal(ep_read_file(path, 1 << 20, false, &text, &len, &err), 0);
	char *nl = strchr(text, '\n');
	assert_non_null(nl);
	r.status = strtol(text, NULL, 10);
	r.len = len - (size_t)(nl + 1 - text);
	r.body = malloc(r.len + 1);
	memcpy(r.body, nl + 1, r.len);
	r.body[r.len] = '\0';
	free(text);
	return r;
}

/* Decode a recording that must be a success; returns the object. */
static json_t *rec_ok(const char *name)
{
	struct rec r = rec_load(name);
	struct ep_error err = { 0 };
	json_t *obj = NULL;
	int ret = ep_gateway_decode(URL, r.status, "application/json", r.body, r.len, &obj, &err);
	if (ret < 0)
		fail_msg("%s: %s", name, err.msg);
	free(r.body);
	return obj;
}

/* Decode a recording that must be an error; checks errno and message parts. */
static void rec_err(const char *name, int want, const char *needle)
{
	struct rec r = rec_load(name);
	struct ep_error err = { 0 };
	json_t *obj = NULL;
	int ret = ep_gateway_decode(URL, r.status, "application/json", r.body, r.len, &obj, &err);
	free(r.body);
	assert_null(obj);
	if (ret != want)
		fail_msg("%s: got %d (%s), want %d", name, ret, err.msg, want);
	assert_int_equal(err.code, want);
	assert_non_null(strstr(err.msg, URL));
	if (!strstr(err.msg, needle))
		fail_msg("%s: '%s' not in '%s'", name, needle, err.msg);
}

static void test_member_list_recorded(void **state)
{
	(void)state;
	json_t *obj = rec_ok("member_list_1.txt");
	struct ep_member_list ml;
	struct ep_error err = { 0 };
	assert_int_equal(ep_decode_member_list(obj, &ml, &err), 0);
	assert_int_equal(ml.n, 1);
	assert_true(ml.cluster_id == 10315020050084067205ull);
	assert_true(ml.member_id == 7324576597401340421ull);
	assert_true(ml.raft_term == 2);
	assert_true(ml.v[0].id == 7324576597401340421ull);
	assert_string_equal(ml.v[0].name, "rec1");
	assert_int_equal(ml.v[0].peer_urls.n, 1);
	assert_string_equal(ml.v[0].peer_urls.v[0], "https://127.0.27.1:22380");
	assert_string_equal(ml.v[0].client_urls.v[0], "https://127.0.27.1:22379");
	assert_false(ml.v[0].is_learner);
	char hex[17];
	assert_string_equal(ep_member_id_hex(ml.v[0].id, hex), "65a61f9baa3f0a05");
	ep_member_list_release(&ml);
	json_decref(obj);
}

static void test_member_list_unstarted_learner(void **state)
{
	(void)state;
	json_t *obj = rec_ok("member_list_learner.txt");
	struct ep_member_list ml;
	assert_int_equal(ep_decode_member_list(obj, &ml, NULL), 0);
	assert_int_equal(ml.n, 2);
	const struct ep_member *l = ep_member_list_find(&ml, 13764895643531966313ull);
	const struct ep_member *v = ep_member_list_find(&ml, 7324576597401340421ull);
	assert_non_null(l);
	assert_non_null(v);
	assert_null(l->name);
	assert_int_equal(l->client_urls.n, 0);
	assert_true(l->is_learner);
	assert_false(v->is_learner);
	assert_string_equal(v->name, "rec1");
	assert_null(ep_member_list_find(&ml, 1));
	ep_member_list_release(&ml);
	json_decref(obj);
}

static void test_member_add_recorded(void **state)
{
	(void)state;
	json_t *obj = rec_ok("member_add_learner.txt");
	struct ep_member m;
	struct ep_member_list ml;
	assert_int_equal(ep_decode_member_add(obj, &m, &ml, NULL), 0);
	assert_true(m.id == 13764895643531966313ull);
	assert_true(m.is_learner);
	assert_null(m.name);
	assert_string_equal(m.peer_urls.v[0], "https://127.0.27.9:22380");
	assert_int_equal(ml.n, 2);
	ep_member_release(&m);
	ep_member_list_release(&ml);
	/* a member list is not a member add answer */
	json_t *list = rec_ok("member_list_1.txt");
	struct ep_error err = { 0 };
	assert_int_equal(ep_decode_member_add(list, &m, NULL, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "'member'"));
	json_decref(list);
	json_decref(obj);
}

static void test_status_recorded(void **state)
{
	(void)state;
	json_t *obj = rec_ok("status.txt");
	struct ep_status st;
	struct ep_alarm_list al = { 0 };
	assert_int_equal(ep_decode_status(obj, &st, NULL), 0);
	assert_string_equal(st.version, "3.4.23");
	assert_true(st.db_size == 20480);
	assert_true(st.db_size_in_use == 16384);
	assert_true(st.leader == 7324576597401340421ull);
	assert_true(st.member_id == st.leader);
	assert_true(st.raft_index == 4 && st.raft_term == 2 && st.raft_applied_index == 4);
	assert_true(st.revision == 1); /* header.revision: what 'compact' takes */
	assert_int_equal(st.errors.n, 0);
	assert_int_equal(ep_status_alarms(&st, &al), 0);
	assert_int_equal(al.n, 0);
	ep_status_release(&st);
	json_decref(obj);

	obj = rec_ok("status_nospace.txt");
	assert_int_equal(ep_decode_status(obj, &st, NULL), 0);
	assert_int_equal(st.errors.n, 1);
	assert_int_equal(ep_status_alarms(&st, &al), 0);
	assert_int_equal(ep_status_alarms(&st, &al), 0); /* appending again deduplicates */
	assert_int_equal(al.n, 1);
	assert_int_equal(al.v[0].alarm, EP_ALARM_NOSPACE);
	assert_true(al.v[0].member_id == 7324576597401340421ull);
	ep_alarm_list_release(&al);
	ep_status_release(&st);
	json_decref(obj);
}

static void test_alarms_recorded(void **state)
{
	(void)state;
	struct ep_alarm_list al;
	json_t *obj = rec_ok("alarm_none.txt");
	assert_int_equal(ep_decode_alarms(obj, &al, NULL), 0);
	assert_int_equal(al.n, 0);
	json_decref(obj);
	obj = rec_ok("alarm_nospace.txt");
	assert_int_equal(ep_decode_alarms(obj, &al, NULL), 0);
	assert_int_equal(al.n, 1);
	assert_int_equal(al.v[0].alarm, EP_ALARM_NOSPACE);
	assert_string_equal(ep_alarm_name(al.v[0].alarm), "NOSPACE");
	ep_alarm_list_release(&al);
	json_decref(obj);
}

static void test_kv_recorded(void **state)
{
	(void)state;
	uint64_t rev = 0;
	json_t *obj = rec_ok("put.txt");
	assert_int_equal(ep_decode_put(obj, &rev, NULL), 0);
	assert_true(rev == 2);
	json_decref(obj);

	struct ep_range_result rr;
	obj = rec_ok("range.txt");
	assert_int_equal(ep_decode_range(obj, &rr, NULL), 0);
	assert_int_equal(rr.n, 1);
	assert_true(rr.count == 1 && rr.revision == 2);
	assert_int_equal(rr.kvs[0].key_len, 5);
	assert_memory_equal(rr.kvs[0].key, "hello", 5);
	assert_string_equal((char *)rr.kvs[0].value, "world");
	assert_true(rr.kvs[0].create_revision == 2 && rr.kvs[0].version == 1);
	ep_range_result_release(&rr);
	json_decref(obj);

	obj = rec_ok("range_missing.txt");
	assert_int_equal(ep_decode_range(obj, &rr, NULL), 0);
	assert_int_equal(rr.n, 0);
	assert_true(rr.count == 0);
	ep_range_result_release(&rr);
	json_decref(obj);
}

static void test_errors_recorded(void **state)
{
	(void)state;
	rec_err("err_member_not_found.txt", -ENOENT, "etcdserver: member not found");
	rec_err("err_member_not_found.txt", -ENOENT, "NotFound");
	/* Debian answers 412 for FailedPrecondition: the code decides, not the status */
	rec_err("err_promote_voter.txt", -EBUSY, "can only promote a learner member");
	rec_err("err_promote_voter.txt", -EBUSY, "FailedPrecondition, HTTP 412");
	rec_err("err_promote_not_ready.txt", -EAGAIN, "in sync with leader");
	rec_err("err_too_many_learners.txt", -EBUSY, "too many learner members");
	rec_err("err_peer_exists.txt", -EEXIST, "Peer URLs already exists");
	rec_err("err_bad_json.txt", -EINVAL, "unexpected EOF");
	rec_err("err_bad_url.txt", -EINVAL, "given member URLs are invalid");
	rec_err("err_nospace.txt", -ENOSPC, "database space exceeded");
	rec_err("get_405.txt", -EPROTO, "not etcd: HTTP 405");
}

/* The same error body under the upstream (400) and Debian (412) statuses. */
static void test_error_status_independent(void **state)
{
	(void)state;
	static const char body[] = "{\"error\":\"etcdserver: can only promote a learner member\","
				   "\"message\":\"etcdserver: can only promote a learner member\","
				   "\"code\":9}";
	long statuses[] = { 400, 412, 500, 200 };
	for (size_t i = 0; i < 4; i++) {
		struct ep_error err = { 0 };
		json_t *obj = NULL;
		assert_int_equal(ep_gateway_decode(URL, statuses[i], "application/json", body,
						   strlen(body), &obj, &err),
				 -EBUSY);
		assert_null(obj);
	}
}

struct code_case {
	int code;
	const char *msg;
	int want;
};

static void test_grpc_mapping(void **state)
{
	(void)state;
	static const struct code_case cases[] = {
		{ 3, "etcdserver: given member URLs are invalid", -EINVAL },
		{ 4, "context deadline exceeded", -ETIMEDOUT },
		{ 5, "etcdserver: member not found", -ENOENT },
		{ 7, "etcdserver: permission denied", -EACCES },
		{ 16, "etcdserver: invalid auth token", -EACCES },
		{ 8, "etcdserver: mvcc: database space exceeded", -ENOSPC },
		{ 9, "etcdserver: can only promote a learner member which is in sync with leader",
		  -EAGAIN },
		{ 9, "etcdserver: Peer URLs already exists", -EEXIST },
		{ 3, "etcdserver: Peer URLs already exists", -EEXIST },
		{ 9, "etcdserver: member ID already exist", -EEXIST },
		{ 14, "etcdserver: no leader", -EAGAIN },
		{ 14, "etcdserver: unhealthy cluster", -EAGAIN },
		{ 14, "etcdserver: request timed out", -ETIMEDOUT },
		{ 2, "etcdserver: re-configuration failed due to not enough started members", -EBUSY },
		{ 2, "something else", -EIO },
		{ 12, NULL, -EOPNOTSUPP },
		{ 999, NULL, -EIO },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (ep_grpc_to_errno(cases[i].code, cases[i].msg) != cases[i].want)
			fail_msg("code %d '%s': got %d want %d", cases[i].code, cases[i].msg,
				 ep_grpc_to_errno(cases[i].code, cases[i].msg), cases[i].want);
	assert_string_equal(ep_grpc_code_name(9), "FailedPrecondition");
	assert_string_equal(ep_grpc_code_name(-1), "unknown code");
	assert_string_equal(ep_grpc_code_name(17), "unknown code");
}

struct bad_case {
	long status;
	const char *ctype;
	const char *body;
	int want;
	const char *needle;
};

static void test_not_etcd(void **state)
{
	(void)state;
	static const struct bad_case cases[] = {
		{ 200, "application/json", "{", -EPROTO, "malformed JSON" },
		{ 200, "application/json", "[1,2]", -EPROTO, "not an object" },
		{ 200, "application/json", "42", -EPROTO, "malformed JSON" },
		{ 200, "text/html", "<html><body>hello</body></html>", -EPROTO, "text/html" },
		{ 200, NULL, "", -EPROTO, "empty body" },
		{ 501, "text/html", "<h1>Unsupported method ('POST')</h1>", -EPROTO, "HTTP 501" },
		{ 404, "application/json", "{\"hello\":1}", -EPROTO, "not a gateway error" },
		{ 200, "application/json", "{\"a\":1,\"a\":2}", -EPROTO, "malformed JSON" },
		/* a stream error object (snapshot-style) is still a gateway error */
		{ 200, "application/json",
		  "{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":\"etcdserver: no leader\","
		  "\"http_status\":\"Service Unavailable\"}}",
		  -EAGAIN, "no leader" },
		/* an error with a code but no text */
		{ 503, "application/json", "{\"code\":14}", -EAGAIN, "(no message)" },
		/* a silly code */
		{ 500, "application/json", "{\"code\":-5,\"error\":\"x\"}", -EIO, "x (gRPC Unknown" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ep_error err = { 0 };
		json_t *obj = NULL;
		int r = ep_gateway_decode(URL, cases[i].status, cases[i].ctype, cases[i].body,
					  strlen(cases[i].body), &obj, &err);
		assert_null(obj);
		if (r != cases[i].want || !strstr(err.msg, cases[i].needle))
			fail_msg("case %zu: got %d '%s'", i, r, err.msg);
	}
	/* NUL bytes and binary garbage are quoted harmlessly */
	static const char bin[] = "\x01\x02'\xff\x00zz";
	struct ep_error err = { 0 };
	json_t *obj = NULL;
	assert_int_equal(ep_gateway_decode(URL, 500, NULL, bin, sizeof(bin) - 1, &obj, &err),
			 -EPROTO);
	assert_non_null(strstr(err.msg, "'     zz'"));
	for (const char *q = err.msg; *q; q++)
		assert_true((unsigned char)*q >= 0x20 && (unsigned char)*q < 0x7f);
}

/* A huge answer body is quoted only in part. */
static void test_huge_body_quoted_short(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	char *big = malloc(n);
	memset(big, 'A', n);
	struct ep_error err = { 0 };
	json_t *obj = NULL;
	assert_int_equal(ep_gateway_decode(URL, 502, "text/plain", big, n, &obj, &err), -EPROTO);
	assert_true(strlen(err.msg) < 400);
	assert_non_null(strstr(err.msg, "..."));
	free(big);
}

struct u64_case {
	const char *json;
	int want;
	uint64_t value;
};

static void test_u64_limits(void **state)
{
	(void)state;
	static const struct u64_case cases[] = {
		{ "{\"v\":\"18446744073709551615\"}", 0, UINT64_MAX },
		{ "{\"v\":\"18446744073709551616\"}", -ERANGE, 0 },
		{ "{\"v\":\"99999999999999999999\"}", -ERANGE, 0 },
		{ "{\"v\":\"184467440737095516150\"}", -ERANGE, 0 },
		{ "{\"v\":\"0\"}", 0, 0 },
		{ "{\"v\":\"00000000000000000007\"}", 0, 7 },
		{ "{\"v\":\"-1\"}", -EINVAL, 0 },
		{ "{\"v\":\"+1\"}", -EINVAL, 0 },
		{ "{\"v\":\" 1\"}", -EINVAL, 0 },
		{ "{\"v\":\"0x10\"}", -EINVAL, 0 },
		{ "{\"v\":\"1e3\"}", -EINVAL, 0 },
		{ "{\"v\":\"\"}", -EINVAL, 0 },
		{ "{\"v\":\"12\\u00003\"}", -EINVAL, 0 },
		{ "{\"v\":9223372036854775807}", 0, 9223372036854775807ull },
		{ "{\"v\":-1}", -ERANGE, 0 },
		{ "{\"v\":1.5}", -EINVAL, 0 },
		{ "{\"v\":true}", -EINVAL, 0 },
		{ "{\"v\":[\"1\"]}", -EINVAL, 0 },
		{ "{\"v\":{}}", -EINVAL, 0 },
		{ "{\"v\":null}", 0, 0 },
		{ "{}", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_error_t jerr;
		json_t *obj = json_loads(cases[i].json, JSON_ALLOW_NUL, &jerr);
		assert_non_null(obj);
		uint64_t v = 12345;
		struct ep_error err = { 0 };
		int r = ep_json_u64(obj, "v", &v, &err);
		if (r != cases[i].want || (r == 0 && v != cases[i].value))
			fail_msg("%s: got %d (%s)", cases[i].json, r, err.msg);
		if (r < 0)
			assert_non_null(strstr(err.msg, "'v'"));
		json_decref(obj);
	}
	/* beyond int64 as a bare number: jansson itself refuses the document */
	json_error_t jerr;
	assert_null(json_loads("{\"v\":18446744073709551615}", 0, &jerr));
}

static void test_member_id_max(void **state)
{
	(void)state;
	static const char body[] =
		"{\"header\":{\"cluster_id\":\"18446744073709551615\"},\"members\":[{\"ID\":"
		"\"18446744073709551615\",\"name\":\"m\",\"peerURLs\":[\"https://a:2380\"]}]}";
	json_t *obj = NULL;
	assert_int_equal(ep_gateway_decode(URL, 200, NULL, body, strlen(body), &obj, NULL), 0);
	struct ep_member_list ml;
	assert_int_equal(ep_decode_member_list(obj, &ml, NULL), 0);
	assert_true(ml.v[0].id == UINT64_MAX);
	assert_true(ml.cluster_id == UINT64_MAX);
	char hex[17];
	assert_string_equal(ep_member_id_hex(ml.v[0].id, hex), "ffffffffffffffff");
	ep_member_list_release(&ml);
	json_decref(obj);
}

struct shape_case {
	const char *json;
	const char *needle;
};

/* Wrong types and missing fields: -EPROTO naming the field, never a crash. */
static void test_member_list_shapes(void **state)
{
	(void)state;
	static const struct shape_case cases[] = {
		{ "{\"members\":[]}", "'header'" },
		{ "{\"header\":[],\"members\":[]}", "'header'" },
		{ "{\"header\":{},\"members\":{}}", "'members'" },
		{ "{\"header\":{},\"members\":[1]}", "members[0]" },
		{ "{\"header\":{},\"members\":[{\"name\":\"x\"}]}", "'ID'" },
		{ "{\"header\":{},\"members\":[{\"ID\":true}]}", "'ID'" },
		{ "{\"header\":{},\"members\":[{\"ID\":\"-5\"}]}", "'ID'" },
		{ "{\"header\":{},\"members\":[{\"ID\":\"18446744073709551616\"}]}", "64 bits" },
		{ "{\"header\":{},\"members\":[{\"ID\":\"1\",\"name\":7}]}", "'name'" },
		{ "{\"header\":{},\"members\":[{\"ID\":\"1\",\"name\":\"a\\u0000b\"}]}", "NUL" },
		{ "{\"header\":{},\"members\":[{\"ID\":\"1\",\"peerURLs\":\"x\"}]}", "'peerURLs'" },
		{ "{\"header\":{},\"members\":[{\"ID\":\"1\",\"clientURLs\":[1]}]}", "clientURLs[0]" },
		{ "{\"header\":{},\"members\":[{\"ID\":\"1\",\"isLearner\":\"true\"}]}", "'isLearner'" },
		{ "{\"header\":{\"cluster_id\":1.5},\"members\":[]}", "cluster_id" },
		{ "{\"header\":{},\"members\":[{\"ID\":\"1\"},{\"ID\":\"2\",\"name\":[]}]}",
		  "members[1]" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_error_t jerr;
		json_t *obj = json_loads(cases[i].json, JSON_ALLOW_NUL, &jerr);
		assert_non_null(obj);
		struct ep_member_list ml;
		struct ep_error err = { 0 };
		int r = ep_decode_member_list(obj, &ml, &err);
		if (r != -EPROTO || !strstr(err.msg, cases[i].needle))
			fail_msg("%s: got %d '%s'", cases[i].json, r, err.msg);
		assert_null(ml.v);
		json_decref(obj);
	}
}

static void test_status_shapes(void **state)
{
	(void)state;
	static const struct shape_case cases[] = {
		{ "{\"header\":{}}", "'version'" },
		{ "{\"header\":{},\"version\":3.4}", "'version'" },
		{ "{\"header\":{},\"version\":\"3.4.23\",\"dbSize\":20480.5}", "'dbSize'" },
		{ "{\"header\":{},\"version\":\"3.4.23\",\"leader\":\"abc\"}", "'leader'" },
		{ "{\"header\":{},\"version\":\"3.4.23\",\"raftIndex\":\"99999999999999999999999\"}",
		  "'raftIndex'" },
		{ "{\"header\":{},\"version\":\"3.4.23\",\"errors\":\"x\"}", "'errors'" },
		{ "{\"header\":{},\"version\":\"3.4.23\",\"errors\":[null]}", "errors[0]" },
		{ "{\"header\":{},\"version\":\"3.4.23\",\"isLearner\":1}", "'isLearner'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_error_t jerr;
		json_t *obj = json_loads(cases[i].json, 0, &jerr);
		assert_non_null(obj);
		struct ep_status st;
		struct ep_error err = { 0 };
		int r = ep_decode_status(obj, &st, &err);
		if (r != -EPROTO || !strstr(err.msg, cases[i].needle))
			fail_msg("%s: got %d '%s'", cases[i].json, r, err.msg);
		assert_null(st.version);
		json_decref(obj);
	}
}

static void test_range_and_alarm_shapes(void **state)
{
	(void)state;
	static const struct shape_case range_cases[] = {
		{ "{\"kvs\":{}}", "'kvs'" },
		{ "{\"kvs\":[1]}", "kvs[0]" },
		{ "{\"kvs\":[{\"key\":\"a\"}]}", "base64" },
		{ "{\"kvs\":[{\"key\":\"a===\"}]}", "base64" },
		{ "{\"kvs\":[{\"key\":\"!!!!\"}]}", "base64" },
		{ "{\"kvs\":[{\"key\":\"aGk=\",\"value\":5}]}", "'value'" },
		{ "{\"kvs\":[{\"key\":\"aGk=\",\"version\":\"x\"}]}", "'version'" },
		{ "{\"count\":true}", "'count'" },
		{ "{\"more\":\"yes\"}", "'more'" },
	};
	for (size_t i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
		json_error_t jerr;
		json_t *obj = json_loads(range_cases[i].json, 0, &jerr);
		struct ep_range_result rr;
		struct ep_error err = { 0 };
		int r = ep_decode_range(obj, &rr, &err);
		if (r != -EPROTO || !strstr(err.msg, range_cases[i].needle))
			fail_msg("%s: got %d '%s'", range_cases[i].json, r, err.msg);
		json_decref(obj);
	}
	/* base64 of every length decodes */
	static const char *const b64[] = { "", "YQ==", "YWI=", "YWJj", "YWJjZA==" };
	for (size_t i = 0; i < 5; i++) {
		char body[128];
		snprintf(body, sizeof(body), "{\"kvs\":[{\"key\":\"%s\"}]}", b64[i]);
		json_error_t jerr;
		json_t *obj = json_loads(body, 0, &jerr);
		struct ep_range_result rr;
		assert_int_equal(ep_decode_range(obj, &rr, NULL), 0);
		assert_int_equal(rr.kvs[0].key_len, i);
		assert_memory_equal(rr.kvs[0].key, "abcd", i);
		ep_range_result_release(&rr);
		json_decref(obj);
	}

	static const struct shape_case alarm_cases[] = {
		{ "{\"alarms\":{}}", "'alarms'" },
		{ "{\"alarms\":[7]}", "alarms[0]" },
		{ "{\"alarms\":[{\"memberID\":\"x\"}]}", "alarms[0]" },
		{ "{\"alarms\":[{\"memberID\":\"1\",\"alarm\":[]}]}", "'alarm'" },
	};
	for (size_t i = 0; i < sizeof(alarm_cases) / sizeof(alarm_cases[0]); i++) {
		json_error_t jerr;
		json_t *obj = json_loads(alarm_cases[i].json, 0, &jerr);
		struct ep_alarm_list al;
		struct ep_error err = { 0 };
		int r = ep_decode_alarms(obj, &al, &err);
		if (r != -EPROTO || !strstr(err.msg, alarm_cases[i].needle))
			fail_msg("%s: got %d '%s'", alarm_cases[i].json, r, err.msg);
		json_decref(obj);
	}
	/* alarms by number and unknown names */
	json_error_t jerr;
	json_t *obj = json_loads("{\"alarms\":[{\"memberID\":\"1\",\"alarm\":2},{\"memberID\":\"2\","
				 "\"alarm\":\"FUTURE\"}]}",
				 0, &jerr);
	struct ep_alarm_list al;
	assert_int_equal(ep_decode_alarms(obj, &al, NULL), 0);
	assert_int_equal(al.v[0].alarm, EP_ALARM_CORRUPT);
	assert_int_equal(al.v[1].alarm, EP_ALARM_UNKNOWN);
	ep_alarm_list_release(&al);
	json_decref(obj);
}

static void test_member_id_parse(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(ep_member_id_parse("8e9e05c52164694d", &v), 0);
	assert_true(v == 0x8e9e05c52164694dull);
	assert_int_equal(ep_member_id_parse("0xFFFFFFFFFFFFFFFF", &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(ep_member_id_parse("1ffffffffffffffff", &v), -ERANGE);
	assert_int_equal(ep_member_id_parse("xyz", &v), -EINVAL);
	assert_int_equal(ep_member_id_parse("", &v), -EINVAL);
	assert_int_equal(ep_member_id_parse("0x", &v), -EINVAL);
	assert_int_equal(ep_member_id_parse(NULL, &v), -EINVAL);
	char hex[17];
	assert_string_equal(ep_member_id_hex(0x2a, hex), "2a");
	assert_string_equal(ep_member_id_hex(0, hex), "0");
}

static void test_member_lookup(void **state)
{
	(void)state;
	static const char body[] =
		"{\"header\":{},\"members\":[{\"ID\":\"10\",\"name\":\"a\"},{\"ID\":\"11\",\"name\":"
		"\"b\"},{\"ID\":\"12\",\"name\":\"b\"},{\"ID\":\"13\"},{\"ID\":\"26\",\"name\":\"d\"}]}";
	json_error_t jerr;
	json_t *obj = json_loads(body, 0, &jerr);
	struct ep_member_list ml;
	struct ep_error err = { 0 };
	assert_int_equal(ep_decode_member_list(obj, &ml, NULL), 0);
	assert_int_equal(ep_member_list_lookup(&ml, "a", &err), 0);
	assert_int_equal(ep_member_list_lookup(&ml, "d", &err), 4);
	assert_int_equal(ep_member_list_lookup(&ml, "d", &err), 4);
	assert_int_equal(ep_member_list_lookup(&ml, "1a", &err), 4); /* hex of 26 */
	assert_int_equal(ep_member_list_lookup(&ml, "d", &err), 4);  /* a name wins over hex d=13 */
	assert_int_equal(ep_member_list_lookup(&ml, "0xd", &err), 3);
	assert_int_equal(ep_member_list_lookup(&ml, "b", &err), -EINVAL);
	assert_non_null(strstr(err.msg, "2 members are named 'b'"));
	ep_error_clear(&err);
	assert_int_equal(ep_member_list_lookup(&ml, "zz", &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no member named 'zz'"));
	assert_non_null(strstr(err.msg, "<unstarted> (d)"));
	ep_member_list_release(&ml);
	json_decref(obj);
}

/* ------------------------------------------------------------------------ */
/* Resolution order                                                          */

static char root[256];

static int root_setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/ep-test-client.XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int root_teardown(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static void put_file(const char *nodepath, const char *text)
{
	char path[1024], dir[1024];
	struct ep_error err = { 0 };
	snprintf(path, sizeof(path), "%s%s", root, nodepath);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(ep_mkdir_p(dir, 0755, &err), 0);
	assert_int_equal(ep_write_atomic(path, text, strlen(text), 0600, &err), 0);
}

static void resolve_ok(const struct ep_spec *spec, const struct ep_client_input *flags,
		       const struct ep_client_input *env, struct ep_client_config *cfg)
{
	struct ep_error err = { 0 };
	int r = ep_client_config_resolve(spec, root, flags, env, cfg, &err);
	if (r < 0)
		fail_msg("resolve: %s", err.msg);
}

static void test_resolve_defaults(void **state)
{
	(void)state;
	struct ep_client_config cfg;
	char want[512];
	resolve_ok(NULL, NULL, NULL, &cfg);
	assert_int_equal(cfg.endpoints.n, 1);
	assert_string_equal(cfg.endpoints.v[0], "https://127.0.0.1:2379");
	assert_int_equal(cfg.endpoints_from, EP_SRC_DEFAULT);
	snprintf(want, sizeof(want), "%s/etc/kubernetes/pki/etcd/ca.crt", root);
	assert_string_equal(cfg.tls.cacert, want);
	snprintf(want, sizeof(want), "%s/etc/kubernetes/pki/etcd/healthcheck-client.crt", root);
	assert_string_equal(cfg.tls.cert, want);
	snprintf(want, sizeof(want), "%s/etc/kubernetes/pki/etcd/healthcheck-client.key", root);
	assert_string_equal(cfg.tls.key, want);
	assert_int_equal(cfg.cacert_from, EP_SRC_DEFAULT);
	ep_client_config_release(&cfg);

	/* the spec's cert dir moves the defaults */
	struct ep_spec spec;
	ep_spec_init(&spec);
	spec.cert_dir = strdup("/srv/pki");
	resolve_ok(&spec, NULL, NULL, &cfg);
	snprintf(want, sizeof(want), "%s/srv/pki/etcd/ca.crt", root);
	assert_string_equal(cfg.tls.cacert, want);
	ep_client_config_release(&cfg);
	ep_spec_release(&spec);
}

static void test_resolve_order(void **state)
{
	(void)state;
	struct ep_spec spec;
	struct ep_client_config cfg;
	char want[512];

	ep_spec_init(&spec);
	spec.manifest_dir = strdup("/etc/kubernetes/manifests");
	spec.systemd.env_file = strdup("/etc/etcd/etcd.env");
	put_file("/etc/kubernetes/manifests/etcd.yaml",
		 "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n"
		 "    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.5:2379\n"
		 "spec:\n  containers:\n  - command:\n    - etcd\n"
		 "    - --advertise-client-urls=https://10.9.9.9:2379\n");
	put_file("/etc/etcd/etcd.env", "# comment\nETCD_NAME=n1\n"
				       "ETCD_ADVERTISE_CLIENT_URLS=\"https://10.0.0.6:2379,"
				       "https://[fd00::6]:2379\"\n");

	/* node files: the manifest first in static-pod mode (annotation over flag) */
	resolve_ok(&spec, NULL, NULL, &cfg);
	assert_int_equal(cfg.endpoints_from, EP_SRC_MANIFEST);
	assert_int_equal(cfg.endpoints.n, 1);
	assert_string_equal(cfg.endpoints.v[0], "https://10.0.0.5:2379");
	snprintf(want, sizeof(want), "%s/etc/kubernetes/manifests/etcd.yaml", root);
	assert_string_equal(cfg.endpoints_file, want);
	ep_client_config_release(&cfg);

	/* ... the env file first in systemd mode */
	spec.mode = EP_MODE_SYSTEMD;
	resolve_ok(&spec, NULL, NULL, &cfg);
	assert_int_equal(cfg.endpoints_from, EP_SRC_ENV_FILE);
	assert_int_equal(cfg.endpoints.n, 2);
	assert_string_equal(cfg.endpoints.v[1], "https://[fd00::6]:2379");
	ep_client_config_release(&cfg);

	/* the config's external endpoints beat the node files; its paths go under root */
	spec.external.set = true;
	ep_strv_push(&spec.external.endpoints, "https://10.0.0.7:2379");
	spec.external.ca_file = strdup("/ext/ca.pem");
	resolve_ok(&spec, NULL, NULL, &cfg);
	assert_int_equal(cfg.endpoints_from, EP_SRC_CONFIG);
	assert_string_equal(cfg.endpoints.v[0], "https://10.0.0.7:2379");
	snprintf(want, sizeof(want), "%s/ext/ca.pem", root);
	assert_string_equal(cfg.tls.cacert, want);
	assert_int_equal(cfg.cacert_from, EP_SRC_CONFIG);
	assert_int_equal(cfg.cert_from, EP_SRC_DEFAULT);
	ep_client_config_release(&cfg);

	/* the environment beats the config; its paths are taken as given */
	struct ep_client_input env = { .endpoints = "10.0.0.8:2379", .cacert = "env-ca.crt" };
	resolve_ok(&spec, NULL, &env, &cfg);
	assert_int_equal(cfg.endpoints_from, EP_SRC_ENV);
	assert_string_equal(cfg.endpoints.v[0], "https://10.0.0.8:2379");
	assert_string_equal(cfg.tls.cacert, "env-ca.crt");
	assert_int_equal(cfg.cacert_from, EP_SRC_ENV);
	ep_client_config_release(&cfg);

	/* flags beat everything, each value on its own */
	struct ep_client_input flags = { .endpoints = " https://[::1]:2379/ , ,http://a:1",
					 .key = "/k.pem" };
	resolve_ok(&spec, &flags, &env, &cfg);
	assert_int_equal(cfg.endpoints_from, EP_SRC_FLAG);
	assert_int_equal(cfg.endpoints.n, 2);
	assert_string_equal(cfg.endpoints.v[0], "https://[::1]:2379");
	assert_string_equal(cfg.endpoints.v[1], "http://a:1");
	assert_string_equal(cfg.tls.key, "/k.pem");
	assert_int_equal(cfg.key_from, EP_SRC_FLAG);
	assert_string_equal(cfg.tls.cacert, "env-ca.crt");
	ep_client_config_release(&cfg);
	ep_spec_release(&spec);
}

static void test_resolve_manifest_flag_only(void **state)
{
	(void)state;
	struct ep_spec spec;
	struct ep_client_config cfg;
	ep_spec_init(&spec);
	spec.manifest_dir = strdup("/m");
	spec.systemd.env_file = strdup("/nonexistent/etcd.env");
	put_file("/m/etcd.yaml", "spec:\n  containers:\n  - command:\n    - etcd\n"
				 "    - \"--advertise-client-urls=https://10.1.1.1:2379\"\n");
	resolve_ok(&spec, NULL, NULL, &cfg);
	assert_int_equal(cfg.endpoints_from, EP_SRC_MANIFEST);
	assert_string_equal(cfg.endpoints.v[0], "https://10.1.1.1:2379");
	ep_client_config_release(&cfg);

	/* a manifest without either falls through to the default */
	put_file("/m/etcd.yaml", "spec: {}\n");
	resolve_ok(&spec, NULL, NULL, &cfg);
	assert_int_equal(cfg.endpoints_from, EP_SRC_DEFAULT);
	ep_client_config_release(&cfg);
	ep_spec_release(&spec);
}

static void test_resolve_bad_endpoints(void **state)
{
	(void)state;
	static const char *const bad[] = { "ftp://x:1", " , ", "https://", "https://a b:1",
					   "https://:2379" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ep_client_input flags = { .endpoints = bad[i] };
		struct ep_client_config cfg;
		struct ep_error err = { 0 };
		int r = ep_client_config_resolve(NULL, root, &flags, NULL, &cfg, &err);
		if (r != -EINVAL || err.kind != EP_ERR_USAGE || !strstr(err.msg, "--endpoints"))
			fail_msg("'%s': got %d '%s'", bad[i], r, err.msg);
		assert_int_equal(cfg.endpoints.n, 0);
	}
	/* a bad ETCDCTL_ENDPOINTS is named as such */
	struct ep_client_input env = { .endpoints = "gopher://x" };
	struct ep_client_config cfg;
	struct ep_error err = { 0 };
	assert_int_equal(ep_client_config_resolve(NULL, root, NULL, &env, &cfg, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "ETCDCTL_ENDPOINTS"));
}

/* ------------------------------------------------------------------------ */
/* Client creation (files only; no network)                                  */

static void test_client_new_files(void **state)
{
	(void)state;
	char ca[512], notpem[512];
	struct ep_client *c = NULL;
	struct ep_error err = { 0 };

	snprintf(ca, sizeof(ca), "%s/missing-ca.crt", root);
	struct ep_tls tls = { .cacert = ca };
	assert_int_equal(ep_client_new(&tls, 1000, &c, &err), -ENOENT);
	assert_null(c);
	assert_non_null(strstr(err.msg, "CA certificate"));
	assert_non_null(strstr(err.msg, ca));

	put_file("/notpem.crt", "hello\n");
	snprintf(notpem, sizeof(notpem), "%s/notpem.crt", root);
	tls.cacert = notpem;
	ep_error_clear(&err);
	assert_int_equal(ep_client_new(&tls, 1000, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "not a PEM file"));

	put_file("/c.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	char cert[512];
	snprintf(cert, sizeof(cert), "%s/c.pem", root);
	struct ep_tls half = { .cert = cert };
	ep_error_clear(&err);
	assert_int_equal(ep_client_new(&half, 1000, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--key"));

	/* no TLS files at all is fine (verification against the system store) */
	assert_int_equal(ep_client_new(NULL, 0, &c, &err), 0);
	ep_client_free(c);
}

/*
 * The TLS material is parsed once, when the client is made: a CA file with
 * no certificate in it and a key that is not the certificate's are refused
 * there, naming the files, before any connection is tried.
 */
static void test_client_new_tls_parsed(void **state)
{
	(void)state;
	struct ep_spec spec;
	struct ep_error err = { 0 };
	ep_spec_init(&spec);
	spec.name = strdup("cp1");
	spec.advertise_address = strdup("127.0.0.1");
	spec.key_type = EP_KEY_ECDSA_P256;
	assert_int_equal(ep_spec_defaults(&spec, &err), 0);
	assert_int_equal(ep_pki_ensure(&spec, root, false, NULL, NULL, &err), 0);
	ep_spec_release(&spec);

	char ca[512], crt[512], key[512], other_key[512], broken[512];
	snprintf(ca, sizeof(ca), "%s/etc/kubernetes/pki/etcd/ca.crt", root);
	snprintf(crt, sizeof(crt), "%s/etc/kubernetes/pki/etcd/healthcheck-client.crt", root);
	snprintf(key, sizeof(key), "%s/etc/kubernetes/pki/etcd/healthcheck-client.key", root);
	snprintf(other_key, sizeof(other_key), "%s/etc/kubernetes/pki/etcd/peer.key", root);
	struct ep_client *c = NULL;

	struct ep_tls good = { .cacert = ca, .cert = crt, .key = key };
	assert_int_equal(ep_client_new(&good, 1000, &c, &err), 0);
	ep_client_free(c);
	c = NULL;

	struct ep_tls mismatch = { .cacert = ca, .cert = crt, .key = other_key };
	ep_error_clear(&err);
	assert_int_equal(ep_client_new(&mismatch, 1000, &c, &err), -EINVAL);
	assert_null(c);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "does not belong to the client certificate"));
	assert_non_null(strstr(err.msg, other_key));
	assert_non_null(strstr(err.msg, crt));

	put_file("/broken-ca.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	snprintf(broken, sizeof(broken), "%s/broken-ca.crt", root);
	struct ep_tls bad_ca = { .cacert = broken, .cert = crt, .key = key };
	ep_error_clear(&err);
	assert_int_equal(ep_client_new(&bad_ca, 1000, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "CA certificate: "));
	assert_non_null(strstr(err.msg, "is not a PEM certificate"));
	assert_non_null(strstr(err.msg, broken));

	/* a certificate where the key should be */
	struct ep_tls cert_as_key = { .cacert = ca, .cert = crt, .key = crt };
	ep_error_clear(&err);
	assert_int_equal(ep_client_new(&cert_as_key, 1000, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "is not a PEM private key"));
}

/* Calls to a closed port end fast with a plain message and the URL; bad URLs are usage errors. */
static void test_call_errors_local(void **state)
{
	(void)state;
	struct ep_client *c = NULL;
	struct ep_error err = { 0 };
	assert_int_equal(ep_client_new(NULL, 2000, &c, &err), 0);
	struct ep_status st;
	/* port 1 on loopback: nothing listens there */
	int r = ep_maintenance_status(c, "https://127.0.0.1:1", &st, &err);
	assert_int_equal(r, -ECONNREFUSED);
	assert_non_null(strstr(err.msg, "https://127.0.0.1:1: connection refused"));
	ep_error_clear(&err);
	r = ep_maintenance_status(c, "ftp://127.0.0.1:1", &st, &err);
	assert_int_equal(r, -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);

	const char *eps[] = { "https://127.0.0.1:1", "https://[::1]:1" };
	struct ep_member_list ml;
	ep_error_clear(&err);
	r = ep_member_list_any(c, eps, 2, &ml, &err);
	assert_true(r < 0);
	assert_non_null(strstr(err.msg, "no endpoint answered"));
	assert_non_null(strstr(err.msg, "https://127.0.0.1:1"));
	assert_non_null(strstr(err.msg, "https://[::1]:1"));

	struct ep_health_report rep;
	ep_error_clear(&err);
	r = ep_health_probe(c, eps, 2, 1000, 0, &rep, &err);
	assert_true(r < 0);
	assert_non_null(strstr(err.msg, "[::1]:1"));
	assert_int_equal(rep.n, 0);

	/* waiting on a closed port gives up at the deadline with the last failure */
	ep_error_clear(&err);
	r = ep_wait_healthy(NULL, "https://127.0.0.1:1", 300, &err);
	assert_int_equal(r, -ETIMEDOUT);
	assert_non_null(strstr(err.msg, "connection refused"));
	ep_client_free(c);
}

/* ------------------------------------------------------------------------ */
/* Quorum guards                                                             */

/* A report of @n members; @up[i] says whether member i answered; @learner[i]. */
static void report_make(struct ep_health_report *rep, size_t n, const bool *up,
			const bool *learner)
{
	memset(rep, 0, sizeof(*rep));
	rep->v = calloc(n, sizeof(*rep->v));
	rep->n = n;
	for (size_t i = 0; i < n; i++) {
		struct ep_member_health *m = &rep->v[i];
		char name[32];
		snprintf(name, sizeof(name), "m%zu", i);
		m->member.id = 100 + i;
		m->member.name = strdup(name);
		m->member.is_learner = learner && learner[i];
		m->started = true;
		m->status_ok = up[i];
	}
}

/* ENDPOINT and --endpoints: a client URL is http(s)://HOST[:PORT] and nothing more. */
static void test_endpoints_parse(void **state)
{
	(void)state;
	static const struct {
		const char *list;
		int want; /* URLs added, or -EINVAL */
		const char *first, *needle;
	} cases[] = {
		{ "https://10.0.0.1:2379", 1, "https://10.0.0.1:2379", NULL },
		{ " 10.0.0.1:2379 , https://10.0.0.2:2379/ ", 2, "https://10.0.0.1:2379", NULL },
		{ "https://[fd00::1]:2379", 1, "https://[fd00::1]:2379", NULL },
		{ "https://etcd.example:2379", 1, "https://etcd.example:2379", NULL },
		{ "https://10.0.0.1", 1, "https://10.0.0.1", NULL },
		{ ",,,", 0, NULL, NULL },
		{ "https://10.0.0.1:99999", -EINVAL, NULL, "port '99999' is not a port (1-65535" },
		{ "https://10.0.0.1:0", -EINVAL, NULL, "port '0' is not a port" },
		{ "https://10.0.0.1:", -EINVAL, NULL, "port '' is not a port" },
		{ "https://10.0.0.1:23x9", -EINVAL, NULL, "port '23x9' is not a port" },
		{ "https://u:p@10.0.0.1:2379", -EINVAL, NULL, "carries user information" },
		{ "https://10.0.0.1:2379/v3", -EINVAL, NULL, "has a path, query or fragment ('/v3')" },
		{ "https://10.0.0.1:2379?x", -EINVAL, NULL, "('?x')" },
		{ "https://10.0.0.1:2379#x", -EINVAL, NULL, "('#x')" },
		{ "https://fd00::1:2379", -EINVAL, NULL, "an IPv6 address goes in brackets" },
		{ "https://[fd00::1:2379", -EINVAL, NULL, "'[' without ']'" },
		{ "https://[fd00::1]x:2379", -EINVAL, NULL, "after ']' only ':PORT' may follow" },
		{ "unix:///run/etcd.sock", -EINVAL, NULL, "is not an http(s) URL" },
		{ "https://:2379", -EINVAL, NULL, "has no host" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ep_strv v = { 0 };
		struct ep_error err = { 0 };
		int r = ep_endpoints_parse(cases[i].list, &v, &err);
		if (r != cases[i].want)
			fail_msg("'%s': %d (%s), want %d", cases[i].list, r, err.msg, cases[i].want);
		if (r > 0 && strcmp(v.v[0], cases[i].first))
			fail_msg("'%s': first '%s', want '%s'", cases[i].list, v.v[0], cases[i].first);
		if (r < 0 && (err.kind != EP_ERR_USAGE || !strstr(err.msg, cases[i].needle)))
			fail_msg("'%s': '%s', want '%s'", cases[i].list, err.msg, cases[i].needle);
		ep_strv_release(&v);
	}
	/* a list the user gave: naming none is an error too, each said with its source */
	struct ep_strv v = { 0 };
	struct ep_error err = { 0 };
	assert_int_equal(ep_endpoints_parse_given("--endpoints", " , ,", &v, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_string_equal(err.msg, "--endpoints: ' , ,' names no endpoint");
	ep_error_clear(&err);
	assert_int_equal(ep_endpoints_parse_given("ENDPOINT", "https://a:0", &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "ENDPOINT: endpoint 'https://a:0': port '0'"));
	assert_int_equal(ep_endpoints_parse_given("ENDPOINT", "a:2379,b", &v, &err), 2);
	assert_string_equal(v.v[1], "https://b");
	ep_strv_release(&v);
}

static void test_quorum_add(void **state)
{
	(void)state;
	struct ep_health_report rep;
	struct ep_error err = { 0 };

	/* 1 member up: growing to 2 is etcd's allowed exception */
	report_make(&rep, 1, (bool[]){ true }, NULL);
	assert_int_equal(ep_quorum_check_add(&rep, false, &err), 0);
	ep_health_report_release(&rep);

	/* 2 members, one down: a voter is refused, a learner allowed */
	report_make(&rep, 2, (bool[]){ true, false }, NULL);
	assert_int_equal(ep_quorum_check_add(&rep, false, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "down: m1 (65)"));
	assert_non_null(strstr(err.msg, "--learner"));
	assert_int_equal(ep_quorum_check_add(&rep, true, NULL), 0);
	ep_health_report_release(&rep);

	/* 3 up of 3: fine; 2 up of 3: 4 voters need 3 -> refused */
	report_make(&rep, 3, (bool[]){ true, true, true }, NULL);
	assert_int_equal(ep_quorum_check_add(&rep, false, NULL), 0);
	ep_health_report_release(&rep);
	report_make(&rep, 3, (bool[]){ true, true, false }, NULL);
	assert_int_equal(ep_quorum_check_add(&rep, false, NULL), -EBUSY);
	ep_health_report_release(&rep);

	/* learners do not count as voters: 2 voters up + a dead learner -> 3 voters need 2 */
	report_make(&rep, 3, (bool[]){ true, true, false }, (bool[]){ false, false, true });
	assert_int_equal(ep_quorum_check_add(&rep, false, NULL), 0);
	ep_health_report_release(&rep);

	/* 5 with 2 down: 6 voters need 4, 3 up -> refused */
	report_make(&rep, 5, (bool[]){ true, true, true, false, false }, NULL);
	assert_int_equal(ep_quorum_check_add(&rep, false, NULL), -EBUSY);
	ep_health_report_release(&rep);
}

static void test_quorum_remove(void **state)
{
	(void)state;
	struct ep_health_report rep;
	struct ep_error err = { 0 };

	/* 3 members, one down: removing a healthy one leaves 1 of 2 -> refused */
	report_make(&rep, 3, (bool[]){ true, true, false }, NULL);
	assert_int_equal(ep_quorum_check_remove(&rep, 0, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "'m0'"));
	assert_non_null(strstr(err.msg, "only 1 is"));
	/* ... removing the dead one leaves 2 of 2 -> fine */
	assert_int_equal(ep_quorum_check_remove(&rep, 2, NULL), 0);
	ep_health_report_release(&rep);

	/* the last voter */
	report_make(&rep, 1, (bool[]){ true }, NULL);
	ep_error_clear(&err);
	assert_int_equal(ep_quorum_check_remove(&rep, 0, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "last voting member"));
	ep_health_report_release(&rep);

	/* a learner may always go, even with voters down */
	report_make(&rep, 3, (bool[]){ true, false, true }, (bool[]){ false, false, true });
	assert_int_equal(ep_quorum_check_remove(&rep, 2, NULL), 0);
	ep_health_report_release(&rep);

	/* 5 members with 2 down: removing a healthy one leaves 2 of 4 -> refused */
	report_make(&rep, 5, (bool[]){ true, true, true, false, false }, NULL);
	assert_int_equal(ep_quorum_check_remove(&rep, 0, NULL), -EBUSY);
	assert_int_equal(ep_quorum_check_remove(&rep, 4, NULL), 0);
	assert_int_equal(ep_quorum_check_remove(&rep, 9, NULL), -EINVAL);
	ep_health_report_release(&rep);

	/* 2 voters, one dead: no quorum now, so not even the dead one can be removed */
	report_make(&rep, 2, (bool[]){ true, false }, NULL);
	ep_error_clear(&err);
	assert_int_equal(ep_quorum_check_remove(&rep, 1, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "the cluster has lost its quorum: only 1 of its 2 voters "
					"is started (down: m1"));
	assert_non_null(strstr(err.msg, "not even the removal of member 'm1'"));
	assert_int_equal(ep_quorum_check_remove(&rep, 0, NULL), -EBUSY);
	ep_health_report_release(&rep);

	/* 4 voters, two dead: the same */
	report_make(&rep, 4, (bool[]){ true, true, false, false }, NULL);
	ep_error_clear(&err);
	assert_int_equal(ep_quorum_check_remove(&rep, 3, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "only 2 of its 4 voters are started"));
	ep_health_report_release(&rep);

	/* 4 voters, one dead: it may go (3 of 3 left) */
	report_make(&rep, 4, (bool[]){ true, true, true, false }, NULL);
	assert_int_equal(ep_quorum_check_remove(&rep, 3, NULL), 0);
	ep_health_report_release(&rep);

	/* 3 voters, two dead: a learner still may go; a dead voter not */
	report_make(&rep, 4, (bool[]){ true, false, false, true }, (bool[]){ false, false, false, true });
	assert_int_equal(ep_quorum_check_remove(&rep, 3, NULL), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_quorum_check_remove(&rep, 1, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "lost its quorum"));
	ep_health_report_release(&rep);
}

/* ------------------------------------------------------------------------ */
/* Limits                                                                    */

/* A member list longer than EP_MEMBERS_MAX is refused, not decoded (issue 10, item 7). */
static void test_member_list_cap(void **state)
{
	(void)state;
	for (size_t n = EP_MEMBERS_MAX; n <= EP_MEMBERS_MAX + 1; n++) {
		json_t *members = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(members, json_pack("{s:s s:s}", "ID", "1", "name", "m"));
		json_t *obj = json_pack("{s:{s:s} s:o}", "header", "cluster_id", "1", "members",
					members);
		struct ep_member_list ml;
		struct ep_error err = { 0 };
		int r = ep_decode_member_list(obj, &ml, &err);
		if (n == EP_MEMBERS_MAX) {
			assert_int_equal(r, 0);
			assert_int_equal(ml.n, n);
			ep_member_list_release(&ml);
		} else {
			assert_int_equal(r, -EPROTO);
			assert_non_null(strstr(err.msg, "a member list of 129 members, more than the "
							"128 etcdpilot accepts"));
			assert_int_equal(ml.n, 0);
		}
		json_decref(obj);
	}
}

/* ------------------------------------------------------------------------ */
/* An expired client certificate                                             */

/* Write a self-signed EC certificate valid from @from to @to (seconds from now) and its key. */
static void cert_write(const char *crt, const char *key, long from, long to)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	assert_non_null(pk);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_gmtime_adj(X509_getm_notBefore(x), from);
	X509_gmtime_adj(X509_getm_notAfter(x), to);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, pk);
	assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
	FILE *f = fopen(crt, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	f = fopen(key, "w");
	assert_non_null(f);
	PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(pk);
}

/*
 * A client certificate out of its validity is refused when the client is
 * made, naming the file, the date and the remedy (issue 11, item 9); one
 * inside it is taken.
 */
static void test_client_cert_validity(void **state)
{
	(void)state;
	char dir[512], crt[600], key[600];
	struct ep_client *c = NULL;
	struct ep_error err = { 0 };
	snprintf(dir, sizeof(dir), "%s/etc/kubernetes/pki/etcd", root);
	assert_int_equal(ep_mkdir_p(dir, 0755, &err), 0);
	snprintf(crt, sizeof(crt), "%s/healthcheck-client.crt", dir);
	snprintf(key, sizeof(key), "%s/healthcheck-client.key", dir);
	struct ep_tls tls = { .cert = crt, .key = key };

	cert_write(crt, key, -3 * 86400, -2 * 86400);
	assert_int_equal(ep_client_new(&tls, 1000, &c, &err), -EKEYEXPIRED);
	assert_null(c);
	assert_int_equal(err.kind, EP_ERR_FAILED);
	assert_non_null(strstr(err.msg, crt));
	assert_non_null(strstr(err.msg, "' expired on "));
	assert_non_null(strstr(err.msg, " UTC: etcd refuses it; renew it with 'etcdpilot certs "
					"renew etcd-healthcheck-client'"));

	cert_write(crt, key, 86400, 2 * 86400);
	ep_error_clear(&err);
	assert_int_equal(ep_client_new(&tls, 1000, &c, &err), -EKEYEXPIRED);
	assert_non_null(strstr(err.msg, "is not valid before"));
	assert_non_null(strstr(err.msg, "clock"));

	/* a file outside kubeadm's layout gets the general remedy */
	snprintf(crt, sizeof(crt), "%s/mine.pem", dir);
	cert_write(crt, key, -3 * 86400, -2 * 86400);
	ep_error_clear(&err);
	assert_int_equal(ep_client_new(&tls, 1000, &c, &err), -EKEYEXPIRED);
	assert_non_null(strstr(err.msg, "'etcdpilot certs renew NAME' where etcdpilot made it"));

	cert_write(crt, key, -60, 86400);
	ep_error_clear(&err);
	assert_int_equal(ep_client_new(&tls, 1000, &c, &err), 0);
	ep_client_free(c);
}

/* ------------------------------------------------------------------------ */
/* The verdicts of a health report (issue 11, item 3)                         */

enum { UP = 1, DOWN = 0 };

/*
 * One member of a probed report: a voter (or a learner), started unless
 * @unstarted; @up: it answered Status, naming @leader (else it failed with
 * @status_code); its read served when @read_ok, else failed with
 * @read_code (0: not done); @error: what the probe left.
 */
struct probe_spec {
	bool learner, unstarted, up;
	uint64_t leader;
	bool read_ok;
	int read_code;
	int status_code;
	const char *error;
};

static void judged(struct ep_health_report *rep, const struct probe_spec *ps, size_t n)
{
	memset(rep, 0, sizeof(*rep));
	rep->v = calloc(n, sizeof(*rep->v));
	rep->n = n;
	for (size_t i = 0; i < n; i++) {
		struct ep_member_health *m = &rep->v[i];
		char name[32];
		m->member.id = 100 + i;
		m->member.is_learner = ps[i].learner;
		if (ps[i].learner)
			rep->learners++;
		else
			rep->voters++;
		if (!ps[i].unstarted) {
			snprintf(name, sizeof(name), "m%zu", i);
			m->member.name = strdup(name);
			ep_strv_push(&m->member.client_urls, "https://10.0.0.1:2379");
			m->endpoint = strdup("https://10.0.0.1:2379");
			m->started = m->probed = true;
		}
		m->status_ok = ps[i].up;
		m->status_code = ps[i].status_code;
		if (ps[i].up) {
			m->status.leader = ps[i].leader;
			m->status.raft_index = 10;
			m->status.version = strdup("3.4.23");
		}
		m->read_done = ps[i].read_ok || ps[i].read_code;
		m->read_ok = ps[i].read_ok;
		m->read_code = ps[i].read_code;
		if (ps[i].error)
			m->error = strdup(ps[i].error);
	}
	assert_int_equal(ep_health_judge(rep), 0);
}

static void test_health_judge(void **state)
{
	(void)state;
	struct ep_health_report rep;

	/* m1's client endpoint fails (its serving certificate expired), raft is fine */
	judged(&rep,
	       (struct probe_spec[]){
		       { .up = UP, .leader = 100, .read_ok = true },
		       { .up = DOWN, .status_code = -EKEYEXPIRED,
			 .error = "https://10.0.0.2:2379: TLS: the member's serving certificate "
				  "expired on Jan 02, 2020 00:00 UTC" },
	       },
	       2);
	assert_int_equal(rep.quorum, EP_QUORUM_HELD);
	assert_string_equal(ep_quorum_name(rep.quorum), "held");
	assert_true(rep.leader == 100);
	assert_true(rep.v[0].healthy && rep.v[0].is_leader);
	assert_false(rep.v[1].healthy);
	assert_string_equal(rep.v[1].error, "unreachable from here: https://10.0.0.2:2379: TLS: the "
					    "member's serving certificate expired on Jan 02, 2020 "
					    "00:00 UTC");
	assert_int_equal(rep.healthy, 1);
	assert_int_equal(rep.started_voters, 1);
	ep_health_report_release(&rep);

	/* a learner added that never started: not unhealthy */
	judged(&rep,
	       (struct probe_spec[]){
		       { .up = UP, .leader = 100, .read_ok = true },
		       { .up = UP, .leader = 100, .read_ok = true },
		       { .learner = true, .unstarted = true },
	       },
	       3);
	assert_int_equal(rep.quorum, EP_QUORUM_HELD);
	assert_int_equal(rep.healthy, 2);
	assert_int_equal(rep.pending_learners, 1);
	assert_true(rep.v[2].pending_learner);
	assert_false(rep.v[2].healthy);
	assert_non_null(strstr(rep.v[2].error, "learner, not started yet"));
	ep_health_report_release(&rep);

	/* ... while a voter that never started is unhealthy, and says how to remove it */
	judged(&rep,
	       (struct probe_spec[]){
		       { .up = UP, .leader = 100, .read_ok = true },
		       { .unstarted = true },
	       },
	       2);
	assert_false(rep.v[1].pending_learner);
	assert_int_equal(rep.pending_learners, 0);
	assert_non_null(strstr(rep.v[1].error, "voter, not started yet"));
	assert_non_null(strstr(rep.v[1].error, "etcdpilot member remove 65"));
	ep_health_report_release(&rep);

	/* no answering member has a leader: lost; a member saying so is unhealthy for it */
	judged(&rep,
	       (struct probe_spec[]){
		       { .up = UP, .leader = 0, .read_code = -ETIMEDOUT,
			 .error = "read failed: request timed out" },
		       { .up = DOWN, .status_code = -ECONNREFUSED, .error = "connection refused" },
		       { .up = DOWN, .status_code = -ECONNREFUSED, .error = "connection refused" },
	       },
	       3);
	assert_int_equal(rep.quorum, EP_QUORUM_LOST);
	assert_string_equal(rep.quorum_why, "no member that answers has a leader");
	assert_string_equal(rep.v[0].error, "member has no leader");
	ep_health_report_release(&rep);

	/* a leader named, but every voter's linearizable read timed out: lost */
	judged(&rep,
	       (struct probe_spec[]){
		       { .up = UP, .leader = 100, .read_code = -ETIMEDOUT,
			 .error = "read failed: request timed out" },
		       { .up = UP, .leader = 100, .read_code = -EAGAIN,
			 .error = "read failed: no leader" },
	       },
	       2);
	assert_int_equal(rep.quorum, EP_QUORUM_LOST);
	assert_string_equal(rep.v[0].error, "read failed: request timed out");
	ep_health_report_release(&rep);

	/* reads refused while a new leader is elected: not lost, unknown */
	judged(&rep,
	       (struct probe_spec[]){
		       { .up = UP, .leader = 100, .read_code = -EAGAIN,
			 .error = "read failed: etcdserver: leader changed" },
		       { .up = UP, .leader = 100, .read_code = -ETIMEDOUT,
			 .error = "read failed: timed out" },
	       },
	       2);
	assert_int_equal(rep.quorum, EP_QUORUM_UNKNOWN);
	assert_non_null(strstr(rep.quorum_why, "being elected"));
	ep_health_report_release(&rep);

	/* a learner's serializable read proves nothing about quorum */
	judged(&rep,
	       (struct probe_spec[]){
		       { .up = DOWN, .status_code = -ETIMEDOUT, .error = "timed out" },
		       { .learner = true, .up = UP, .leader = 100, .read_ok = true },
	       },
	       2);
	assert_int_equal(rep.quorum, EP_QUORUM_UNKNOWN);
	assert_true(rep.v[1].healthy);
	ep_health_report_release(&rep);

	/* nothing answered: unknown, not lost */
	judged(&rep, (struct probe_spec[]){ { .up = DOWN, .error = "x" } }, 1);
	assert_int_equal(rep.quorum, EP_QUORUM_UNKNOWN);
	assert_string_equal(rep.quorum_why, "no member answered Status");
	ep_health_report_release(&rep);
}

/* An alarm is raised by one member: it says so, the others point at it. */
static void test_health_judge_alarm(void **state)
{
	(void)state;
	struct ep_health_report rep;
	/* the alarm in both members' status errors, as etcd reports it */
	memset(&rep, 0, sizeof(rep));
	rep.v = calloc(2, sizeof(*rep.v));
	rep.n = 2;
	rep.voters = 2;
	for (size_t i = 0; i < 2; i++) {
		struct ep_member_health *m = &rep.v[i];
		m->member.id = 100 + i;
		m->member.name = strdup(i ? "b" : "a");
		m->started = m->probed = m->status_ok = m->read_done = m->read_ok = true;
		m->status.leader = 100;
		ep_strv_push(&m->status.errors, "memberID:101 alarm:NOSPACE ");
	}
	assert_int_equal(ep_health_judge(&rep), 0);
	assert_int_equal(rep.alarms.n, 1);
	assert_true(rep.alarms.v[0].member_id == 101);
	assert_string_equal(rep.v[1].error, "alarm NOSPACE raised by this member (see the alarm "
					    "below)");
	assert_string_equal(rep.v[0].error, "the cluster has an active alarm (NOSPACE on b; see "
					    "below)");
	assert_int_equal(rep.healthy, 0);
	assert_int_equal(rep.quorum, EP_QUORUM_HELD);
	ep_health_report_release(&rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_member_list_recorded),
		cmocka_unit_test(test_member_list_unstarted_learner),
		cmocka_unit_test(test_member_add_recorded),
		cmocka_unit_test(test_status_recorded),
		cmocka_unit_test(test_alarms_recorded),
		cmocka_unit_test(test_kv_recorded),
		cmocka_unit_test(test_errors_recorded),
		cmocka_unit_test(test_error_status_independent),
		cmocka_unit_test(test_grpc_mapping),
		cmocka_unit_test(test_not_etcd),
		cmocka_unit_test(test_huge_body_quoted_short),
		cmocka_unit_test(test_u64_limits),
		cmocka_unit_test(test_member_id_max),
		cmocka_unit_test(test_member_list_shapes),
		cmocka_unit_test(test_status_shapes),
		cmocka_unit_test(test_range_and_alarm_shapes),
		cmocka_unit_test(test_member_id_parse),
		cmocka_unit_test(test_member_lookup),
		cmocka_unit_test_setup_teardown(test_resolve_defaults, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_resolve_order, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_resolve_manifest_flag_only, root_setup,
						root_teardown),
		cmocka_unit_test_setup_teardown(test_resolve_bad_endpoints, root_setup,
						root_teardown),
		cmocka_unit_test_setup_teardown(test_client_new_files, root_setup, root_teardown),
		cmocka_unit_test_setup_teardown(test_client_new_tls_parsed, root_setup, root_teardown),
		cmocka_unit_test(test_call_errors_local),
		cmocka_unit_test(test_quorum_add),
		cmocka_unit_test(test_quorum_remove),
		cmocka_unit_test(test_endpoints_parse),
		cmocka_unit_test(test_member_list_cap),
		cmocka_unit_test_setup_teardown(test_client_cert_validity, root_setup, root_teardown),
		cmocka_unit_test(test_health_judge),
		cmocka_unit_test(test_health_judge_alarm),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
