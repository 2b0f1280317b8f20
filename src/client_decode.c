/*
 * client_decode.c - turning the etcd v3 JSON gateway's answers into C
 * structs and errors, without any network.
 *
 * This module owns the wire format: int64/uint64 as decimal strings, bytes
 * as base64, zero values left out, error bodies {"error","code","message"}
 * mapped from gRPC codes to errnos.  Everything that comes from the network
 * is distrusted: every field's type is checked, numbers are range-checked,
 * and a body that is not what etcd sends is "not etcd".  It must not do any
 * I/O; the unit tests and the fuzzer call it directly.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "util/cleanup.h"
#include "util/strbuf.h"


/* The longest part of a foreign body quoted in a message. */
#define BODY_QUOTE_MAX 120

void ep_tls_release(struct ep_tls *tls)
{
	if (!tls)
		return;
	free(tls->cacert);
	free(tls->cert);
	free(tls->key);
	tls->cacert = tls->cert = tls->key = NULL;
}

const char *ep_alarm_name(enum ep_alarm_type a)
{
	switch (a) {
	case EP_ALARM_NONE:
		return "NONE";
	case EP_ALARM_NOSPACE:
		return "NOSPACE";
	case EP_ALARM_CORRUPT:
		return "CORRUPT";
	default:
		return "UNKNOWN";
	}
}

static enum ep_alarm_type alarm_parse(const char *s)
{
	if (!strcmp(s, "NONE") || !strcmp(s, "0"))
		return EP_ALARM_NONE;
	if (!strcmp(s, "NOSPACE") || !strcmp(s, "1"))
		return EP_ALARM_NOSPACE;
	if (!strcmp(s, "CORRUPT") || !strcmp(s, "2"))
		return EP_ALARM_CORRUPT;
	return EP_ALARM_UNKNOWN;
}

const char *ep_member_id_hex(uint64_t id, char buf[static 17])
{
	snprintf(buf, 17, "%" PRIx64, id);
	return buf;
}

int ep_member_id_parse(const char *s, uint64_t *ret)
{
	if (!s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	size_t n = strlen(s);
	if (n == 0)
		return -EINVAL;
	if (n > 16)
		return -ERANGE;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -EINVAL;
		v = (v << 4) | (uint64_t)d;
	}
	*ret = v;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* gRPC codes                                                                */

static const char *const grpc_names[] = {
	"OK",
	"Canceled",
	"Unknown",
	"InvalidArgument",
	"DeadlineExceeded",
	"NotFound",
	"AlreadyExists",
	"PermissionDenied",
	"ResourceExhausted",
	"FailedPrecondition",
	"Aborted",
	"OutOfRange",
	"Unimplemented",
	"Internal",
	"Unavailable",
	"DataLoss",
	"Unauthenticated",
};

const char *ep_grpc_code_name(int code)
{
	if (code >= 0 && (size_t)code < sizeof(grpc_names) / sizeof(grpc_names[0]))
		return grpc_names[code];
	return "unknown code";
}

int ep_grpc_to_errno(int code, const char *msg)
{
	/* A few etcd messages say more than their code. */
	if (msg) {
		if (strstr(msg, "in sync with leader"))
			return -EAGAIN; /* learner not ready yet: retry */
		if (strstr(msg, "already exist")) /* Peer URLs already exists, member ID already exist */
			return -EEXIST;
		if (strstr(msg, "member not found"))
			return -ENOENT;
		if (strstr(msg, "not enough started members"))
			return -EBUSY;
		if (strstr(msg, "unhealthy cluster"))
			return -EAGAIN; /* not connected to every peer for long enough yet */
		if (strstr(msg, "database space exceeded"))
			return -ENOSPC;
		if (strstr(msg, "request timed out"))
			return -ETIMEDOUT;
	}
	switch (code) {
	case 1:
		return -ECANCELED;
	case 3:
		return -EINVAL;
	case 4:
		return -ETIMEDOUT;
	case 5:
		return -ENOENT;
	case 6:
		return -EEXIST;
	case 7:
	case 16:
		return -EACCES;
	case 8:
		return -ENOSPC;
	case 9:
		return -EBUSY;
	case 10:
		return -ECANCELED;
	case 11:
		return -ERANGE;
	case 12:
		return -EOPNOTSUPP;
	case 14:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

/* Copy at most BODY_QUOTE_MAX printable characters of @body into @buf. */
static const char *body_quote(const char *body, size_t len, char *buf, size_t size)
{
	size_t j = 0;
	for (size_t i = 0; i < len && j + 4 < size && i < BODY_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)body[i];
		buf[j++] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : ' ';
	}
	if (len > BODY_QUOTE_MAX && j + 4 < size) {
		memcpy(buf + j, "...", 3);
		j += 3;
	}
	buf[j] = '\0';
	return buf;
}

/* A gateway error object: unary {"error":"..","code":N,"message":".."} or stream {"error":{..}}. */
static bool gateway_error(const json_t *obj, int *ret_code, const char **ret_msg)
{
	const json_t *error = json_object_get(obj, "error");
	const json_t *code = json_object_get(obj, "code");
	const json_t *message = json_object_get(obj, "message");

	if (json_is_object(error)) {
		code = json_object_get(error, "grpc_code");
		message = json_object_get(error, "message");
		error = NULL;
	}
	bool has_code = json_is_integer(code) && json_integer_value(code) != 0;
	if (!has_code && !json_is_string(error) && !(json_is_object(json_object_get(obj, "error"))))
		return false;

	*ret_code = 2; /* Unknown */
	if (json_is_integer(code) && json_integer_value(code) > 0 && json_integer_value(code) < 1000)
		*ret_code = (int)json_integer_value(code);
	*ret_msg = json_is_string(message) && json_string_length(message) ? json_string_value(message)
			: json_is_string(error) && json_string_length(error) ? json_string_value(error)
			: "(no message)";
	return true;
}

int ep_gateway_decode(const char *url, long http_status, const char *content_type,
		      const char *body, size_t len, json_t **ret, struct ep_error *err)
{
	char quote[BODY_QUOTE_MAX + 8];
	json_error_t jerr;

	*ret = NULL;
	if (!body)
		len = 0;
	_cleanup_(json_decrefp) json_t *obj = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES,
							       &jerr)
						  : NULL;
	if (json_is_object(obj)) {
		int code;
		const char *msg;
		if (gateway_error(obj, &code, &msg)) {
			int r = ep_grpc_to_errno(code, msg);
			return ep_error_set(err, r, "%s: %s (gRPC %s, HTTP %ld)", url, msg,
					    ep_grpc_code_name(code), http_status);
		}
		if (http_status == 200) {
			*ret = TAKE_PTR(obj);
			return 0;
		}
		return ep_error_set(err, -EPROTO,
				    "%s: not etcd: HTTP %ld with a JSON body that is not a gateway "
				    "error: '%s'",
				    url, http_status, body_quote(body, len, quote, sizeof(quote)));
	}
	if (http_status == 200 && obj)
		return ep_error_set(err, -EPROTO, "%s: not etcd: the answer is JSON but not an object: '%s'",
				    url, body_quote(body, len, quote, sizeof(quote)));
	if (http_status == 200 && len && content_type && !strncmp(content_type, "application/json", 16))
		return ep_error_set(err, -EPROTO, "%s: not etcd: malformed JSON at line %d column %d: %s",
				    url, jerr.line, jerr.column, jerr.text);
	if (!len)
		return ep_error_set(err, -EPROTO, "%s: not etcd: HTTP %ld with an empty body", url,
				    http_status);
	return ep_error_set(err, -EPROTO, "%s: not etcd: HTTP %ld (%s): '%s'", url, http_status,
			    content_type ? content_type : "no content type",
			    body_quote(body, len, quote, sizeof(quote)));
}

/* ------------------------------------------------------------------------ */
/* Field readers                                                             */

int ep_json_u64(const json_t *obj, const char *field, uint64_t *ret, struct ep_error *err)
{
	const json_t *v = json_object_get(obj, field);

	*ret = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if (i < 0)
			return ep_error_set(err, -ERANGE, "field '%s': negative value %" JSON_INTEGER_FORMAT,
					    field, i);
		*ret = (uint64_t)i;
		return 0;
	}
	if (!json_is_string(v))
		return ep_error_set(err, -EINVAL, "field '%s': expected a decimal string, got a JSON %s",
				    field,
				    json_is_real(v) ? "real" : json_is_boolean(v) ? "boolean"
						    : json_is_array(v) ? "array" : "object");
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0)
		return ep_error_set(err, -EINVAL, "field '%s': empty string is not a number", field);
	uint64_t acc = 0;
	bool overflow = false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return ep_error_set(err, -EINVAL, "field '%s': '%.24s' is not a decimal number",
					    field, s);
		uint64_t d = (uint64_t)(s[i] - '0');
		if (acc > (UINT64_MAX - d) / 10)
			overflow = true;
		else
			acc = acc * 10 + d;
	}
	if (overflow)
		return ep_error_set(err, -ERANGE, "field '%s': '%.24s%s' does not fit in 64 bits",
				    field, s, n > 24 ? "..." : "");
	*ret = acc;
	return 0;
}

static int json_str(const json_t *obj, const char *field, bool required, char **ret,
		    struct ep_error *err)
{
	const json_t *v = json_object_get(obj, field);
	*ret = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return ep_error_set(err, -EPROTO, "field '%s' is missing", field);
		return 0;
	}
	if (!json_is_string(v))
		return ep_error_set(err, -EPROTO, "field '%s': expected a string", field);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return ep_error_set(err, -EPROTO, "field '%s': string holds a NUL byte", field);
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

static int json_bool(const json_t *obj, const char *field, bool *ret, struct ep_error *err)
{
	const json_t *v = json_object_get(obj, field);
	*ret = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return ep_error_set(err, -EPROTO, "field '%s': expected a boolean", field);
	*ret = json_is_true(v);
	return 0;
}

static int json_strv(const json_t *obj, const char *field, struct ep_strv *ret,
		     struct ep_error *err)
{
	const json_t *v = json_object_get(obj, field);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return ep_error_set(err, -EPROTO, "field '%s': expected an array of strings", field);
	size_t i;
	const json_t *e;
	json_array_foreach (v, i, e) {
		if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e))
			return ep_error_set(err, -EPROTO, "field '%s[%zu]': expected a string", field, i);
		if (ep_strv_push(ret, json_string_value(e)) < 0)
			return -ENOMEM;
	}
	return 0;
}

static const json_t *json_objfield(const json_t *obj, const char *field, struct ep_error *err,
				   int *r)
{
	const json_t *v = json_object_get(obj, field);
	*r = 0;
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_object(v)) {
		*r = ep_error_set(err, -EPROTO, "field '%s': expected an object", field);
		return NULL;
	}
	return v;
}

/* The u64 readers report "-EINVAL/-ERANGE"; a decoded answer that is wrong is -EPROTO. */
static int u64_field(const json_t *obj, const char *field, uint64_t *ret, struct ep_error *err)
{
	struct ep_error e = { 0 };
	if (ep_json_u64(obj, field, ret, &e) < 0)
		return ep_error_set(err, -EPROTO, "%s", e.msg);
	return 0;
}

/* Standard base64 with padding (etcd's bytes); a trailing NUL is added. */
static int base64_decode(const char *in, size_t len, unsigned char **ret, size_t *ret_len)
{
	static const signed char tab[256] = {
		['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,
		['H'] = 8,  ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14,
		['O'] = 15, ['P'] = 16, ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21,
		['V'] = 22, ['W'] = 23, ['X'] = 24, ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28,
		['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32, ['g'] = 33, ['h'] = 34, ['i'] = 35,
		['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40, ['o'] = 41, ['p'] = 42,
		['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48, ['w'] = 49,
		['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
		['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['+'] = 63,
		['/'] = 64,
	};
	if (len % 4)
		return -EINVAL;
	size_t pad = 0;
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	size_t out_len = len / 4 * 3 - pad;
	unsigned char *out = malloc(out_len + 1);
	if (!out)
		return -ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < len; i += 4) {
		uint32_t acc = 0;
		for (size_t k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			int d;
			if (c == '=' && i + k >= len - pad)
				d = 0;
			else if ((d = tab[c]) == 0) {
				free(out);
				return -EINVAL;
			} else
				d--;
			acc = (acc << 6) | (uint32_t)d;
		}
		unsigned char b[3] = { (unsigned char)(acc >> 16), (unsigned char)(acc >> 8),
				       (unsigned char)acc };
		for (size_t k = 0; k < 3 && o < out_len; k++)
			out[o++] = b[k];
	}
	out[out_len] = '\0';
	*ret = out;
	*ret_len = out_len;
	return 0;
}

static int json_bytes(const json_t *obj, const char *field, unsigned char **ret, size_t *ret_len,
		      struct ep_error *err)
{
	const json_t *v = json_object_get(obj, field);
	*ret = NULL;
	*ret_len = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return ep_error_set(err, -EPROTO, "field '%s': expected a base64 string", field);
	int r = base64_decode(json_string_value(v), json_string_length(v), ret, ret_len);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return ep_error_set(err, -EPROTO, "field '%s': invalid base64", field);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Releasers and helpers on the result structs                               */

void ep_member_release(struct ep_member *m)
{
	if (!m)
		return;
	free(m->name);
	ep_strv_release(&m->peer_urls);
	ep_strv_release(&m->client_urls);
	memset(m, 0, sizeof(*m));
}

void ep_member_list_release(struct ep_member_list *ml)
{
	if (!ml)
		return;
	for (size_t i = 0; i < ml->n; i++)
		ep_member_release(&ml->v[i]);
	free(ml->v);
	memset(ml, 0, sizeof(*ml));
}

void ep_status_release(struct ep_status *st)
{
	if (!st)
		return;
	free(st->version);
	ep_strv_release(&st->errors);
	memset(st, 0, sizeof(*st));
}

void ep_alarm_list_release(struct ep_alarm_list *al)
{
	if (!al)
		return;
	free(al->v);
	memset(al, 0, sizeof(*al));
}

void ep_range_result_release(struct ep_range_result *rr)
{
	if (!rr)
		return;
	for (size_t i = 0; i < rr->n; i++) {
		free(rr->kvs[i].key);
		free(rr->kvs[i].value);
	}
	free(rr->kvs);
	memset(rr, 0, sizeof(*rr));
}

int ep_member_copy(struct ep_member *dst, const struct ep_member *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->id = src->id;
	dst->is_learner = src->is_learner;
	if (src->name && !(dst->name = strdup(src->name)))
		goto oom;
	for (size_t i = 0; i < src->peer_urls.n; i++)
		if (ep_strv_push(&dst->peer_urls, src->peer_urls.v[i]) < 0)
			goto oom;
	for (size_t i = 0; i < src->client_urls.n; i++)
		if (ep_strv_push(&dst->client_urls, src->client_urls.v[i]) < 0)
			goto oom;
	return 0;
oom:
	ep_member_release(dst);
	return -ENOMEM;
}

const struct ep_member *ep_member_list_find(const struct ep_member_list *ml, uint64_t id)
{
	for (size_t i = 0; i < ml->n; i++)
		if (ml->v[i].id == id)
			return &ml->v[i];
	return NULL;
}

/* "a (8e9e...), <unstarted> (...)" for messages; heap, NULL on ENOMEM. */
static char *members_describe(const struct ep_member_list *ml)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_strbuf_adds(&sb, ml->n ? "" : "(none)");
	for (size_t i = 0; i < ml->n; i++) {
		char hex[17];
		ep_strbuf_addf(&sb, "%s%s (%s)", i ? ", " : "",
			       ml->v[i].name ? ml->v[i].name : "<unstarted>",
			       ep_member_id_hex(ml->v[i].id, hex));
	}
	return ep_strbuf_detach(&sb, NULL);
}

int ep_member_list_lookup(const struct ep_member_list *ml, const char *arg, struct ep_error *err)
{
	int found = -1;
	size_t hits = 0;

	for (size_t i = 0; i < ml->n; i++)
		if (ml->v[i].name && !strcmp(ml->v[i].name, arg)) {
			if (!hits++)
				found = (int)i;
		}
	if (hits > 1)
		return ep_error_usage(err, -EINVAL,
				      "%zu members are named '%s'; give the member's ID instead", hits,
				      arg);
	if (hits == 1)
		return found;

	uint64_t id;
	if (ep_member_id_parse(arg, &id) == 0)
		for (size_t i = 0; i < ml->n; i++)
			if (ml->v[i].id == id)
				return (int)i;
	_cleanup_free_ char *known = members_describe(ml);
	if (!known)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return ep_error_set(err, -ENOENT, "no member named '%s' or with ID '%s'; members: %s", arg,
			    arg, known);
}

int ep_status_alarms(const struct ep_status *st, struct ep_alarm_list *ret)
{
	for (size_t i = 0; i < st->errors.n; i++) {
		const char *e = st->errors.v[i];
		const char *m = strstr(e, "memberID:");
		const char *a = strstr(e, "alarm:");
		if (!m || !a)
			continue;
		m += strlen("memberID:");
		a += strlen("alarm:");
		uint64_t id = 0;
		for (; *m >= '0' && *m <= '9'; m++) {
			uint64_t d = (uint64_t)(*m - '0');
			if (id > (UINT64_MAX - d) / 10)
				break;
			id = id * 10 + d;
		}
		char name[32];
		size_t k = 0;
		while (a[k] && !isspace((unsigned char)a[k]) && k + 1 < sizeof(name)) {
			name[k] = a[k];
			k++;
		}
		name[k] = '\0';
		enum ep_alarm_type type = alarm_parse(name);
		if (type == EP_ALARM_NONE)
			continue;
		bool dup = false;
		for (size_t j = 0; j < ret->n; j++)
			dup |= ret->v[j].member_id == id && ret->v[j].alarm == type;
		if (dup)
			continue;
		struct ep_alarm *nv = realloc(ret->v, (ret->n + 1) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		ret->v = nv;
		ret->v[ret->n++] = (struct ep_alarm){ .member_id = id, .alarm = type };
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Decoders                                                                  */

static int decode_header(const json_t *obj, uint64_t *cluster_id, uint64_t *member_id,
			 uint64_t *raft_term, uint64_t *revision, struct ep_error *err)
{
	int r;
	const json_t *h = json_objfield(obj, "header", err, &r);
	if (r < 0)
		return r;
	uint64_t dummy;
	if ((r = u64_field(h, "cluster_id", cluster_id ? cluster_id : &dummy, err)) < 0 ||
	    (r = u64_field(h, "member_id", member_id ? member_id : &dummy, err)) < 0 ||
	    (r = u64_field(h, "raft_term", raft_term ? raft_term : &dummy, err)) < 0 ||
	    (r = u64_field(h, "revision", revision ? revision : &dummy, err)) < 0)
		return ep_error_prefix(err, "header");
	return 0;
}

static int decode_member(const json_t *m, struct ep_member *ret, struct ep_error *err)
{
	int r;
	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(m))
		return ep_error_set(err, -EPROTO, "expected an object");
	if (!json_object_get(m, "ID"))
		return ep_error_set(err, -EPROTO, "field 'ID' is missing");
	if ((r = u64_field(m, "ID", &ret->id, err)) < 0 ||
	    (r = json_str(m, "name", false, &ret->name, err)) < 0 ||
	    (r = json_strv(m, "peerURLs", &ret->peer_urls, err)) < 0 ||
	    (r = json_strv(m, "clientURLs", &ret->client_urls, err)) < 0 ||
	    (r = json_bool(m, "isLearner", &ret->is_learner, err)) < 0) {
		ep_member_release(ret);
		return r;
	}
	if (ret->name && !ret->name[0]) {
		free(ret->name);
		ret->name = NULL;
	}
	return 0;
}

static int decode_members(const json_t *obj, struct ep_member_list *ret, struct ep_error *err)
{
	const json_t *arr = json_object_get(obj, "members");
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return ep_error_set(err, -EPROTO, "field 'members': expected an array");
	size_t n = json_array_size(arr);
	if (n == 0)
		return 0;
	if (n > EP_MEMBERS_MAX)
		return ep_error_set(err, -EPROTO,
				    "a member list of %zu members, more than the %d etcdpilot "
				    "accepts (etcd advises at most 7 voters): refused",
				    n, EP_MEMBERS_MAX);
	ret->v = calloc(n, sizeof(*ret->v));
	if (!ret->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int r = decode_member(json_array_get(arr, i), &ret->v[i], err);
		if (r < 0)
			return ep_error_prefix(err, "members[%zu]", i);
		ret->n++;
	}
	return 0;
}

int ep_decode_member_list(const json_t *obj, struct ep_member_list *ret, struct ep_error *err)
{
	int r;
	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(obj))
		return ep_error_set(err, -EPROTO, "member list: expected a JSON object");
	if ((r = decode_header(obj, &ret->cluster_id, &ret->member_id, &ret->raft_term, NULL,
			       err)) < 0 ||
	    (r = decode_members(obj, ret, err)) < 0) {
		ep_member_list_release(ret);
		return r;
	}
	if (!json_object_get(obj, "header")) {
		ep_member_list_release(ret);
		return ep_error_set(err, -EPROTO, "member list: field 'header' is missing");
	}
	return 0;
}

int ep_decode_member_add(const json_t *obj, struct ep_member *ret_member,
			 struct ep_member_list *ret_list, struct ep_error *err)
{
	struct ep_member_list ml;
	struct ep_member m;
	int r;

	if ((r = ep_decode_member_list(obj, &ml, err)) < 0)
		return r;
	const json_t *jm = json_object_get(obj, "member");
	if (!jm) {
		ep_member_list_release(&ml);
		return ep_error_set(err, -EPROTO, "member add: field 'member' is missing");
	}
	if ((r = decode_member(jm, &m, err)) < 0) {
		ep_member_list_release(&ml);
		return ep_error_prefix(err, "member add: member");
	}
	if (ret_member)
		*ret_member = m;
	else
		ep_member_release(&m);
	if (ret_list)
		*ret_list = ml;
	else
		ep_member_list_release(&ml);
	return 0;
}

int ep_decode_status(const json_t *obj, struct ep_status *ret, struct ep_error *err)
{
	int r;
	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(obj))
		return ep_error_set(err, -EPROTO, "status: expected a JSON object");
	if ((r = decode_header(obj, &ret->cluster_id, &ret->member_id, NULL, &ret->revision,
			       err)) < 0 ||
	    (r = json_str(obj, "version", true, &ret->version, err)) < 0 ||
	    (r = u64_field(obj, "dbSize", &ret->db_size, err)) < 0 ||
	    (r = u64_field(obj, "dbSizeInUse", &ret->db_size_in_use, err)) < 0 ||
	    (r = u64_field(obj, "leader", &ret->leader, err)) < 0 ||
	    (r = u64_field(obj, "raftIndex", &ret->raft_index, err)) < 0 ||
	    (r = u64_field(obj, "raftTerm", &ret->raft_term, err)) < 0 ||
	    (r = u64_field(obj, "raftAppliedIndex", &ret->raft_applied_index, err)) < 0 ||
	    (r = json_bool(obj, "isLearner", &ret->is_learner, err)) < 0 ||
	    (r = json_strv(obj, "errors", &ret->errors, err)) < 0) {
		ep_status_release(ret);
		return r == -ENOMEM ? r : ep_error_prefix(err, "status");
	}
	return 0;
}

int ep_decode_alarms(const json_t *obj, struct ep_alarm_list *ret, struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(obj))
		return ep_error_set(err, -EPROTO, "alarm list: expected a JSON object");
	const json_t *arr = json_object_get(obj, "alarms");
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return ep_error_set(err, -EPROTO, "alarm list: field 'alarms': expected an array");
	size_t n = json_array_size(arr);
	if (n == 0)
		return 0;
	ret->v = calloc(n, sizeof(*ret->v));
	if (!ret->v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *a = json_array_get(arr, i);
		const json_t *name;
		if (!json_is_object(a)) {
			ep_alarm_list_release(ret);
			return ep_error_set(err, -EPROTO, "alarm list: alarms[%zu]: expected an object",
					    i);
		}
		if (u64_field(a, "memberID", &ret->v[i].member_id, err) < 0) {
			ep_alarm_list_release(ret);
			return ep_error_prefix(err, "alarm list: alarms[%zu]", i);
		}
		name = json_object_get(a, "alarm");
		if (json_is_string(name))
			ret->v[i].alarm = alarm_parse(json_string_value(name));
		else if (json_is_integer(name))
			ret->v[i].alarm = json_integer_value(name) == 1   ? EP_ALARM_NOSPACE
					  : json_integer_value(name) == 2 ? EP_ALARM_CORRUPT
					  : json_integer_value(name) == 0 ? EP_ALARM_NONE
									  : EP_ALARM_UNKNOWN;
		else if (!name || json_is_null(name))
			ret->v[i].alarm = EP_ALARM_NONE;
		else {
			ep_alarm_list_release(ret);
			return ep_error_set(err, -EPROTO,
					    "alarm list: alarms[%zu]: field 'alarm': expected a name", i);
		}
		ret->n++;
	}
	return 0;
}

int ep_decode_range(const json_t *obj, struct ep_range_result *ret, struct ep_error *err)
{
	int r;
	memset(ret, 0, sizeof(*ret));
	if (!json_is_object(obj))
		return ep_error_set(err, -EPROTO, "range: expected a JSON object");
	if ((r = decode_header(obj, NULL, NULL, NULL, &ret->revision, err)) < 0 ||
	    (r = u64_field(obj, "count", &ret->count, err)) < 0 ||
	    (r = json_bool(obj, "more", &ret->more, err)) < 0)
		goto fail;
	const json_t *arr = json_object_get(obj, "kvs");
	if (arr && !json_is_null(arr)) {
		if (!json_is_array(arr)) {
			r = ep_error_set(err, -EPROTO, "field 'kvs': expected an array");
			goto fail;
		}
		size_t n = json_array_size(arr);
		if (n && !(ret->kvs = calloc(n, sizeof(*ret->kvs)))) {
			r = -ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			const json_t *kv = json_array_get(arr, i);
			struct ep_keyvalue *o = &ret->kvs[i];
			if (!json_is_object(kv)) {
				r = ep_error_set(err, -EPROTO, "kvs[%zu]: expected an object", i);
				goto fail;
			}
			ret->n++;
			if ((r = json_bytes(kv, "key", &o->key, &o->key_len, err)) < 0 ||
			    (r = json_bytes(kv, "value", &o->value, &o->value_len, err)) < 0 ||
			    (r = u64_field(kv, "create_revision", &o->create_revision, err)) < 0 ||
			    (r = u64_field(kv, "mod_revision", &o->mod_revision, err)) < 0 ||
			    (r = u64_field(kv, "version", &o->version, err)) < 0 ||
			    (r = u64_field(kv, "lease", &o->lease, err)) < 0) {
				if (r != -ENOMEM)
					ep_error_prefix(err, "kvs[%zu]", i);
				goto fail;
			}
		}
	}
	return 0;
fail:
	ep_range_result_release(ret);
	return r == -ENOMEM ? r : ep_error_prefix(err, "range");
}

int ep_decode_put(const json_t *obj, uint64_t *ret_revision, struct ep_error *err)
{
	uint64_t rev = 0;
	if (!json_is_object(obj))
		return ep_error_set(err, -EPROTO, "put: expected a JSON object");
	int r = decode_header(obj, NULL, NULL, NULL, &rev, err);
	if (r < 0)
		return ep_error_prefix(err, "put");
	if (ret_revision)
		*ret_revision = rev;
	return 0;
}
