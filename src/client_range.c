/*
 * client_range.c - etcd's KV/Range over gRPC, streamed: the request is a
 * RangeRequest in a gRPC frame, POSTed over HTTP/2 by the client's call
 * engine (same connections, TLS files and deadlines as the gateway calls);
 * the answer is parsed as its bytes arrive and handed over one key-value
 * at a time, so that what a page holds never accumulates here.
 *
 * This module owns etcd's protobuf wire format for Range (rpc.proto:
 * RangeRequest 1 key, 2 range_end, 3 limit, 4 revision, 7 serializable, 8
 * keys_only, 9 count_only; RangeResponse 1 header {1 cluster_id, 2
 * member_id, 3 revision, 4 raft_term}, 2 kvs, 3 more, 4 count; mvccpb
 * KeyValue 1 key, 2 create_revision, 3 mod_revision, 4 version, 5 value, 6
 * lease) and the gRPC framing and status trailers.  The parser trusts
 * nothing: every length is checked against its container, a key is at most
 * 4 MiB, of a value only the head the caller asks for is kept.  It never
 * prints; the parser does no I/O (the unit tests and a fuzzer feed it).
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "client_internal.h"
#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "util/cleanup.h"

#define KEY_MAX (4u << 20)
#define HEADER_MAX 4096
#define GRPC_MESSAGE_MAX 512

/* ------------------------------------------------------------------------ */
/* The request                                                               */

static size_t put_varint(unsigned char *b, uint64_t v)
{
	size_t n = 0;
	do {
		b[n++] = (unsigned char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return n;
}

static size_t put_bytes(unsigned char *b, unsigned field, const void *data, size_t len)
{
	size_t n = put_varint(b, (uint64_t)field << 3 | 2);
	n += put_varint(b + n, len);
	if (len)
		memcpy(b + n, data, len);
	return n + len;
}

static size_t put_u64(unsigned char *b, unsigned field, uint64_t v)
{
	size_t n = put_varint(b, (uint64_t)field << 3);
	return n + put_varint(b + n, v);
}

int ep_range_request_encode(const struct ep_range_opts *o, unsigned char **ret, size_t *ret_len)
{
	size_t cap = 5 + 2 * 11 + o->key_len + (o->range_end ? o->range_end_len : 0) + 6 * 11;
	unsigned char *b = malloc(cap);
	if (!b)
		return -ENOMEM;
	size_t n = 5;
	if (o->key_len)
		n += put_bytes(b + n, 1, o->key, o->key_len);
	if (o->range_end && o->range_end_len)
		n += put_bytes(b + n, 2, o->range_end, o->range_end_len);
	if (o->limit)
		n += put_u64(b + n, 3, o->limit);
	if (o->revision)
		n += put_u64(b + n, 4, o->revision);
	if (o->serializable)
		n += put_u64(b + n, 7, 1);
	if (o->keys_only)
		n += put_u64(b + n, 8, 1);
	if (o->count_only)
		n += put_u64(b + n, 9, 1);
	size_t msg = n - 5;
	b[0] = 0; /* not compressed */
	b[1] = (unsigned char)(msg >> 24);
	b[2] = (unsigned char)(msg >> 16);
	b[3] = (unsigned char)(msg >> 8);
	b[4] = (unsigned char)msg;
	*ret = b;
	*ret_len = n;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The answer, as it streams in                                              */

enum pstate { S_FRAME, S_TAG, S_VARINT, S_LEN, S_BYTES, S_DONE };
enum sink { K_SKIP, K_HEADER, K_KEY, K_VALUE };

struct ep_range_parser {
	ep_range_kv_fn fn;
	void *userdata;
	size_t head_max;
	enum pstate st;
	unsigned char frame[5];
	size_t frame_got;
	bool framed;        /* the one message's frame header was read */
	uint64_t msg_left;  /* bytes of the RangeResponse not yet read */
	bool in_kv;
	uint64_t kv_left;   /* bytes of the current KeyValue not yet read */
	uint64_t v;         /* varint being read */
	unsigned vbytes;
	uint32_t field;
	unsigned wt;
	uint64_t todo;      /* bytes left in S_BYTES */
	enum sink sink;
	unsigned char hdr[HEADER_MAX];
	size_t hdr_len;
	unsigned char *key;
	size_t key_len, key_cap;
	unsigned char *head;
	size_t head_len;
	struct ep_range_kv kv;
	struct ep_range_page page;
	int r;              /* sticky: the first failure */
};

int ep_range_parser_new(size_t value_head_max, ep_range_kv_fn fn, void *userdata,
			struct ep_range_parser **ret)
{
	struct ep_range_parser *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->fn = fn;
	p->userdata = userdata;
	p->head_max = value_head_max;
	if (value_head_max && !(p->head = malloc(value_head_max))) {
		free(p);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}

void ep_range_parser_free(struct ep_range_parser *p)
{
	if (!p)
		return;
	free(p->key);
	free(p->head);
	free(p);
}

static int bad(struct ep_range_parser *p, struct ep_error *err, const char *what)
{
	p->r = ep_error_set(err, -EPROTO, "not an etcd range answer: %s", what);
	return p->r;
}

/* Account for @n bytes of the message just read. */
static void advance(struct ep_range_parser *p, uint64_t n)
{
	p->msg_left -= n;
	if (p->in_kv)
		p->kv_left -= n;
}

/* Bytes the current container still holds. */
static uint64_t room(const struct ep_range_parser *p)
{
	return p->in_kv ? p->kv_left : p->msg_left;
}

static int emit_kv(struct ep_range_parser *p)
{
	p->in_kv = false;
	p->kv.key = p->key;
	p->kv.key_len = p->key_len;
	p->kv.value_head = p->head;
	p->kv.value_head_len = p->head_len;
	p->page.n++;
	int r = p->fn ? p->fn(p->userdata, &p->kv) : 0;
	if (r < 0)
		p->r = r;
	return r;
}

static int decode_header(struct ep_range_parser *p, struct ep_error *err)
{
	size_t i = 0;
	while (i < p->hdr_len) {
		uint64_t tag = 0, v = 0;
		unsigned s = 0;
		int which = 0;
		while (which < 2) {
			if (i >= p->hdr_len || s > 63)
				return bad(p, err, "malformed response header");
			unsigned char c = p->hdr[i++];
			if (which == 0)
				tag |= (uint64_t)(c & 0x7f) << s;
			else
				v |= (uint64_t)(c & 0x7f) << s;
			s += 7;
			if (!(c & 0x80)) {
				which++;
				s = 0;
				if (which == 1 && (tag & 7) != 0)
					return bad(p, err, "unexpected field in the response header");
			}
		}
		switch (tag >> 3) {
		case 1:
			p->page.cluster_id = v;
			break;
		case 2:
			p->page.member_id = v;
			break;
		case 3:
			p->page.revision = v;
			break;
		case 4:
			p->page.raft_term = v;
			break;
		default:
			break;
		}
	}
	return 0;
}

/* A varint is complete: a tag, a number field, or a length. */
static int on_varint(struct ep_range_parser *p, struct ep_error *err)
{
	uint64_t v = p->v;
	if (p->st == S_TAG) {
		if (v >> 3 == 0 || v >> 3 > 0x1fffffff)
			return bad(p, err, "field number 0");
		p->field = (uint32_t)(v >> 3);
		p->wt = (unsigned)(v & 7);
		bool numeric = p->in_kv ? (p->field >= 2 && p->field <= 4) || p->field == 6
					: p->field == 3 || p->field == 4;
		bool bytes = p->in_kv ? p->field == 1 || p->field == 5 : p->field == 1 || p->field == 2;
		if ((numeric && p->wt != 0) || (bytes && p->wt != 2))
			return bad(p, err, "a field has the wrong wire type");
		switch (p->wt) {
		case 0:
			p->st = S_VARINT;
			return 0;
		case 2:
			p->st = S_LEN;
			return 0;
		case 1:
		case 5:
			p->todo = p->wt == 1 ? 8 : 4;
			if (p->todo > room(p))
				return bad(p, err, "a field runs past its message");
			p->sink = K_SKIP;
			p->st = S_BYTES;
			return 0;
		default:
			return bad(p, err, "unknown wire type");
		}
	}
	if (p->st == S_VARINT) {
		if (p->in_kv) {
			if (p->field == 2)
				p->kv.create_revision = v;
			else if (p->field == 3)
				p->kv.mod_revision = v;
			else if (p->field == 4)
				p->kv.version = v;
			else if (p->field == 6)
				p->kv.lease = v;
		} else if (p->field == 3) {
			p->page.more = v != 0;
		} else if (p->field == 4) {
			p->page.count = v;
		}
		p->st = S_TAG;
		return 0;
	}
	/* S_LEN */
	if (v > room(p))
		return bad(p, err, "a field runs past its message");
	p->st = S_BYTES;
	p->todo = v;
	p->sink = K_SKIP;
	if (!p->in_kv && p->field == 1) {
		if (v > HEADER_MAX)
			return bad(p, err, "response header too long");
		p->sink = K_HEADER;
		p->hdr_len = 0;
	} else if (!p->in_kv && p->field == 2) {
		p->in_kv = true;
		p->kv_left = v;
		memset(&p->kv, 0, sizeof(p->kv));
		p->key_len = 0;
		p->head_len = 0;
		p->st = S_TAG;
		return 0;
	} else if (p->in_kv && p->field == 1) {
		if (v > KEY_MAX) {
			p->r = ep_error_set(err, -EFBIG, "a key of %" PRIu64 " bytes (over %u MiB)",
					    v, KEY_MAX >> 20);
			return p->r;
		}
		if (v > p->key_cap) {
			unsigned char *k = realloc(p->key, (size_t)v);
			if (!k)
				return p->r = ep_error_set(err, -ENOMEM, "out of memory");
			p->key = k;
			p->key_cap = (size_t)v;
		}
		p->key_len = 0;
		p->sink = K_KEY;
	} else if (p->in_kv && p->field == 5) {
		p->kv.value_len = v;
		p->head_len = 0;
		p->sink = K_VALUE;
	}
	return 0;
}

static int on_bytes_done(struct ep_range_parser *p, struct ep_error *err)
{
	p->st = S_TAG;
	if (p->sink == K_HEADER)
		return decode_header(p, err);
	return 0;
}

static void sink_bytes(struct ep_range_parser *p, const unsigned char *d, size_t n)
{
	switch (p->sink) {
	case K_HEADER:
		memcpy(p->hdr + p->hdr_len, d, n);
		p->hdr_len += n;
		break;
	case K_KEY:
		memcpy(p->key + p->key_len, d, n);
		p->key_len += n;
		break;
	case K_VALUE:
		if (p->head_len < p->head_max) {
			size_t k = p->head_max - p->head_len < n ? p->head_max - p->head_len : n;
			memcpy(p->head + p->head_len, d, k);
			p->head_len += k;
		}
		break;
	default:
		break;
	}
}

/* At a field boundary: end the KeyValue or the message when their bytes are used up. */
static int settle(struct ep_range_parser *p)
{
	if (p->st != S_TAG)
		return 0;
	if (p->in_kv && p->kv_left == 0) {
		int r = emit_kv(p);
		if (r < 0)
			return r;
	}
	if (!p->in_kv && p->msg_left == 0)
		p->st = S_DONE;
	return 0;
}

int ep_range_parser_feed(struct ep_range_parser *p, const void *data, size_t len,
			 struct ep_error *err)
{
	const unsigned char *d = data;
	size_t i = 0;
	int r;

	if (p->r < 0)
		return p->r;
	p->page.bytes += len;
	for (;;) {
		if ((r = settle(p)) < 0)
			return r;
		if (i >= len)
			return 0;
		switch (p->st) {
		case S_FRAME:
			p->frame[p->frame_got++] = d[i++];
			if (p->frame_got < 5)
				continue;
			if (p->frame[0] != 0)
				return bad(p, err, "a compressed gRPC message (none was asked for)");
			p->msg_left = (uint64_t)p->frame[1] << 24 | (uint64_t)p->frame[2] << 16 |
				      (uint64_t)p->frame[3] << 8 | p->frame[4];
			p->framed = true;
			p->st = S_TAG;
			continue;
		case S_DONE:
			return bad(p, err, "bytes after the message");
		case S_TAG:
		case S_VARINT:
		case S_LEN: {
			if (room(p) == 0)
				return bad(p, err, "a field runs past its message");
			unsigned char c = d[i++];
			advance(p, 1);
			if (p->vbytes == 0)
				p->v = 0;
			if (p->vbytes == 9 && c > 1)
				return bad(p, err, "a number over 64 bits");
			p->v |= (uint64_t)(c & 0x7f) << (7 * p->vbytes);
			if (c & 0x80) {
				if (++p->vbytes >= 10)
					return bad(p, err, "a number over 64 bits");
				continue;
			}
			p->vbytes = 0;
			if ((r = on_varint(p, err)) < 0)
				return r;
			if (p->st == S_BYTES && p->todo == 0 && (r = on_bytes_done(p, err)) < 0)
				return r;
			continue;
		}
		case S_BYTES: {
			size_t n = len - i < p->todo ? len - i : (size_t)p->todo;
			sink_bytes(p, d + i, n);
			advance(p, n);
			p->todo -= n;
			i += n;
			if (p->todo == 0 && (r = on_bytes_done(p, err)) < 0)
				return r;
			continue;
		}
		}
	}
}

int ep_range_parser_finish(struct ep_range_parser *p, struct ep_range_page *ret,
			   struct ep_error *err)
{
	if (p->r < 0)
		return p->r;
	if (!p->framed)
		return bad(p, err, "no message");
	if (p->st != S_DONE)
		return bad(p, err, "the answer stopped inside its message");
	if (ret)
		*ret = p->page;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The call                                                                  */

struct stream {
	struct ep_range_parser *parser;
	struct ep_error perr; /* the parser's verdict */
	int pr;
	bool grpc_type;       /* content-type application/grpc */
	bool has_status;
	int grpc_status;
	char grpc_message[GRPC_MESSAGE_MAX];
	int r;
	struct ep_error err;
	struct ep_range_page page;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct ep_call *call = userdata;
	struct stream *st = call->userdata;
	size_t n = size * nmemb;
	call->resp_len += n;
	if (st->pr < 0)
		return 0;
	st->pr = ep_range_parser_feed(st->parser, ptr, n, &st->perr);
	return st->pr < 0 ? 0 : n;
}

/* grpc-message is percent-encoded (gRPC's HTTP/2 protocol). */
static void percent_decode(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < size; i++) {
		if (s[i] == '%' && i + 2 < len && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = { s[i + 1], s[i + 2], 0 };
			unsigned char c = (unsigned char)strtoul(hex, NULL, 16);
			out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
			i += 2;
		} else {
			unsigned char c = (unsigned char)s[i];
			out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
	}
	out[o] = '\0';
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
		      size_t *vlen)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
		return false;
	const char *v = line + n + 1;
	const char *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	*value = v;
	*vlen = (size_t)(end - v);
	return true;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct ep_call *call = userdata;
	struct stream *st = call->userdata;
	size_t len = size * nitems;
	const char *v;
	size_t vlen;
	if (header_is(buf, len, "content-type", &v, &vlen))
		st->grpc_type = vlen >= 16 && !strncasecmp(v, "application/grpc", 16);
	else if (header_is(buf, len, "grpc-status", &v, &vlen) && vlen && vlen < 4) {
		char num[4] = { 0 };
		memcpy(num, v, vlen);
		st->has_status = true;
		st->grpc_status = atoi(num);
	} else if (header_is(buf, len, "grpc-message", &v, &vlen))
		percent_decode(v, vlen, st->grpc_message, sizeof(st->grpc_message));
	return len;
}

static int on_finish(struct ep_call *call)
{
	struct stream *st = call->userdata;
	long status = 0;
	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || !st->grpc_type)
		return ep_error_set(&call->err, -EPROTO,
				    "%s: not etcd: HTTP %ld%s to a gRPC range request", call->endpoint,
				    status, st->grpc_type ? "" : " without a gRPC content type");
	if (!st->has_status)
		return ep_error_set(&call->err, -EPROTO, "%s: not etcd: no gRPC status",
				    call->endpoint);
	if (st->grpc_status != 0) {
		const char *m = st->grpc_message[0] ? st->grpc_message : "no message";
		return ep_error_set(&call->err, ep_grpc_to_errno(st->grpc_status, m), "%s: %s (%s)",
				    call->endpoint, m, ep_grpc_code_name(st->grpc_status));
	}
	if (st->pr < 0)
		return st->pr;
	st->pr = ep_range_parser_finish(st->parser, &st->page, &st->perr);
	return st->pr;
}

static void on_done(struct ep_call *call)
{
	struct stream *st = call->userdata;
	st->r = call->r;
	st->err = call->err;
	/* The parser or the caller's callback stopped the transfer: theirs is the reason. */
	if (st->pr < 0) {
		st->r = st->pr;
		st->err = st->perr;
	}
}

int ep_kv_range_stream(struct ep_client *c, const char *endpoint, const struct ep_range_opts *opts,
		       uint64_t timeout_ms, ep_range_kv_fn fn, void *userdata,
		       struct ep_range_page *ret, struct ep_error *err)
{
	_cleanup_free_ unsigned char *body = NULL;
	size_t len;
	struct stream st = { .r = -ETIMEDOUT };
	struct curl_slist *h = NULL;
	char timeout_header[64];
	int r;

	if (!timeout_ms || timeout_ms > ep_client_timeout(c))
		timeout_ms = ep_client_timeout(c);
	if (ep_range_request_encode(opts, &body, &len) < 0 ||
	    ep_range_parser_new(opts->value_head_max, fn, userdata, &st.parser) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	/* grpc-timeout lets etcd give up on the read when we do (8 digits at most). */
	snprintf(timeout_header, sizeof(timeout_header), "grpc-timeout: %" PRIu64 "m",
		 timeout_ms > 99999999 ? 99999999 : timeout_ms);
	const char *const lines[] = { "Content-Type: application/grpc", "TE: trailers", "Expect:",
				      timeout_header };
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct curl_slist *n = curl_slist_append(h, lines[i]);
		if (!n) {
			curl_slist_free_all(h);
			ep_range_parser_free(st.parser);
			return ep_error_set(err, -ENOMEM, "out of memory");
		}
		h = n;
	}
	const struct ep_raw_request req = {
		.path = "/etcdserverpb.KV/Range",
		.body = body,
		.len = len,
		.headers = h,
		.on_data = on_data,
		.on_header = on_header,
		.finish = on_finish,
	};
	uint64_t deadline = ep_now_ms() + timeout_ms;
	r = ep_call_start_raw(c, endpoint, &req, deadline, on_done, &st, err);
	if (r == 0) {
		ep_client_run(c, deadline);
		r = st.r;
		if (r < 0 && err && !ep_error_isset(err) && ep_error_isset(&st.err))
			*err = st.err;
	}
	curl_slist_free_all(h);
	ep_range_parser_free(st.parser);
	if (r == 0 && ret)
		*ret = st.page;
	return r;
}
