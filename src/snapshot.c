/*
 * snapshot.c - saving one member's database (snapshot.h): the streaming
 * parser of etcd's Maintenance/Snapshot answer, the gRPC call on the
 * client's engine, the file written as the bytes arrive, the choice of a
 * member and the check of a saved file.
 *
 * This module owns the protobuf of SnapshotResponse (rpc.proto: 1 header,
 * 2 remaining_bytes, 3 blob, 4 version) and the rules of the stream as
 * etcd's maintenance server writes it: data blobs whose remaining_bytes
 * count down to 0, then one 32-byte blob, the SHA-256 of the data.  The
 * parser trusts nothing: a message is at most 16 MiB, the data never
 * exceed what the first message announced, remaining_bytes must agree
 * with what arrived, the checksum is exactly 32 bytes and the last thing.
 * It never prints; the parser does no I/O (the tests and a fuzzer feed it).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "client_internal.h"
#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/snapshot.h"
#include "util/cleanup.h"
#include "util/clock.h"

#define MESSAGE_MAX (16u << 20)
#define VERSION_MAX 31
#define GRPC_MESSAGE_MAX 512
#define WRITE_BUFFER (256u << 10)
#define DEFAULT_TIMEOUT_MS (60u * 60 * 1000)
#define DEFAULT_STALL_MS (30u * 1000)

const char *ep_snapshot_rev_source_name(enum ep_snapshot_rev_source s)
{
	switch (s) {
	case EP_SNAPSHOT_REV_FILE:
		return "file";
	case EP_SNAPSHOT_REV_STATUS:
		return "status";
	default:
		return "none";
	}
}

void ep_snapshot_result_release(struct ep_snapshot_result *r)
{
	if (!r)
		return;
	free(r->endpoint);
	free(r->etcd_version);
	memset(r, 0, sizeof(*r));
}

static void hex(const unsigned char *d, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* ------------------------------------------------------------------------ */
/* The parser                                                                */

enum pstate { S_FRAME, S_TAG, S_VARINT, S_LEN, S_BYTES, S_DONE };
enum sink { K_SKIP, K_DATA, K_HASH, K_VERSION };

struct ep_snapshot_parser {
	ep_snapshot_sink_fn sink_fn;
	void *userdata;
	EVP_MD_CTX *md;
	enum pstate st;
	unsigned char frame[5];
	size_t frame_got;
	uint64_t msg_left;      /* bytes of the current message not yet read */
	uint64_t messages;      /* messages begun */
	/* the current message */
	bool is_hash;           /* the data were complete when it began */
	bool has_blob;
	uint64_t remaining;     /* its remaining_bytes */
	uint64_t blob_len;
	/* protobuf */
	uint64_t v;
	unsigned vbytes;
	uint32_t field;
	unsigned wt;
	uint64_t todo;
	enum sink sink;
	/* the stream */
	bool db_known;
	uint64_t db_size;       /* announced by the first message */
	uint64_t received;      /* data bytes so far */
	unsigned char hash[EP_SNAPSHOT_SHA256_LEN];
	size_t hash_len;
	unsigned char digest[EP_SNAPSHOT_SHA256_LEN];
	char version[VERSION_MAX + 1];
	size_t version_len;
	int r;                  /* sticky: the first failure */
};

int ep_snapshot_parser_new(ep_snapshot_sink_fn sink, void *userdata,
			   struct ep_snapshot_parser **ret)
{
	struct ep_snapshot_parser *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->sink_fn = sink;
	p->userdata = userdata;
	if (!(p->md = EVP_MD_CTX_new()) || EVP_DigestInit_ex(p->md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(p->md);
		free(p);
		return -ENOMEM;
	}
	*ret = p;
	return 0;
}

void ep_snapshot_parser_free(struct ep_snapshot_parser *p)
{
	if (!p)
		return;
	EVP_MD_CTX_free(p->md);
	free(p);
}

void ep_snapshot_parser_progress(const struct ep_snapshot_parser *p, uint64_t *ret_received,
				 uint64_t *ret_total)
{
	if (ret_received)
		*ret_received = p->received;
	if (ret_total)
		*ret_total = p->db_known ? p->db_size : 0;
}

static int bad(struct ep_snapshot_parser *p, struct ep_error *err, const char *what)
{
	p->r = ep_error_set(err, -EPROTO, "not an etcd snapshot stream: %s", what);
	return p->r;
}

static void begin_message(struct ep_snapshot_parser *p)
{
	p->messages++;
	p->is_hash = p->db_known && p->received == p->db_size;
	p->has_blob = false;
	p->remaining = 0;
	p->blob_len = 0;
	p->st = S_TAG;
}

static int end_message(struct ep_snapshot_parser *p, struct ep_error *err)
{
	p->st = S_FRAME;
	p->frame_got = 0;
	if (p->is_hash) {
		if (!p->has_blob)
			return bad(p, err, "the message after the data holds no checksum");
		if (p->remaining)
			return bad(p, err, "remaining_bytes after the last of the data");
		unsigned int n = 0;
		if (EVP_DigestFinal_ex(p->md, p->digest, &n) != 1 || n != sizeof(p->digest))
			return p->r = ep_error_set(err, -ENOMEM, "SHA-256 failed");
		if (memcmp(p->digest, p->hash, sizeof(p->hash))) {
			char want[2 * EP_SNAPSHOT_SHA256_LEN + 1], got[2 * EP_SNAPSHOT_SHA256_LEN + 1];
			hex(p->hash, sizeof(p->hash), want);
			hex(p->digest, sizeof(p->digest), got);
			p->r = ep_error_set(err, -EBADMSG,
					    "the snapshot does not match its checksum: etcd sent "
					    "sha256 %s, the %" PRIu64 " bytes received hash to %s",
					    want, p->received, got);
			return p->r;
		}
		p->st = S_DONE;
		return 0;
	}
	if (!p->db_known) {
		if (p->remaining > UINT64_MAX - p->blob_len)
			return bad(p, err, "remaining_bytes out of range");
		p->db_size = p->remaining + p->blob_len;
		p->db_known = true;
		if (p->db_size == 0)
			return bad(p, err, "an empty database");
	}
	if (p->remaining > p->db_size || p->received != p->db_size - p->remaining) {
		char msg[160];
		snprintf(msg, sizeof(msg),
			 "remaining_bytes %" PRIu64 " after %" PRIu64 " of %" PRIu64 " bytes",
			 p->remaining, p->received, p->db_size);
		return bad(p, err, msg);
	}
	return 0;
}

/* A varint is complete: a tag, a number field, or a length. */
static int on_varint(struct ep_snapshot_parser *p, struct ep_error *err)
{
	uint64_t v = p->v;
	if (p->st == S_TAG) {
		if (v >> 3 == 0 || v >> 3 > 0x1fffffff)
			return bad(p, err, "field number 0");
		p->field = (uint32_t)(v >> 3);
		p->wt = (unsigned)(v & 7);
		if ((p->field == 2 && p->wt != 0) ||
		    ((p->field == 1 || p->field == 3 || p->field == 4) && p->wt != 2))
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
			if (p->todo > p->msg_left)
				return bad(p, err, "a field runs past its message");
			p->sink = K_SKIP;
			p->st = S_BYTES;
			return 0;
		default:
			return bad(p, err, "unknown wire type");
		}
	}
	if (p->st == S_VARINT) {
		if (p->field == 2)
			p->remaining = v;
		p->st = S_TAG;
		return 0;
	}
	/* S_LEN */
	if (v > p->msg_left)
		return bad(p, err, "a field runs past its message");
	p->st = S_BYTES;
	p->todo = v;
	p->sink = K_SKIP;
	if (p->field == 3) {
		if (p->has_blob)
			return bad(p, err, "two blobs in one message");
		p->has_blob = true;
		p->blob_len = v;
		if (p->is_hash) {
			if (v != EP_SNAPSHOT_SHA256_LEN) {
				char msg[96];
				snprintf(msg, sizeof(msg),
					 "a checksum of %" PRIu64 " bytes after the data (not 32)", v);
				return bad(p, err, msg);
			}
			p->hash_len = 0;
			p->sink = K_HASH;
		} else {
			if (p->db_known && v > p->db_size - p->received)
				return bad(p, err, "more data than the first message announced");
			p->sink = K_DATA;
		}
	} else if (p->field == 4) {
		p->version_len = 0;
		p->sink = K_VERSION;
	}
	return 0;
}

static int sink_bytes(struct ep_snapshot_parser *p, const unsigned char *d, size_t n,
		      struct ep_error *err)
{
	int r = 0;
	switch (p->sink) {
	case K_DATA:
		if (EVP_DigestUpdate(p->md, d, n) != 1)
			return p->r = ep_error_set(err, -ENOMEM, "SHA-256 failed");
		p->received += n;
		break;
	case K_HASH:
		memcpy(p->hash + p->hash_len, d, n); /* the length was checked: 32 */
		p->hash_len += n;
		break;
	case K_VERSION:
		for (size_t i = 0; i < n && p->version_len < VERSION_MAX; i++) {
			unsigned char c = d[i];
			p->version[p->version_len++] = isprint(c) ? (char)c : '?';
		}
		p->version[p->version_len] = '\0';
		return 0;
	default:
		return 0;
	}
	if (p->sink_fn && (r = p->sink_fn(p->userdata, d, n)) < 0) {
		p->r = r;
		/* the sink said why in its own words; make sure something is said */
		if (err && !ep_error_isset(err))
			ep_error_set(err, r, "writing the snapshot: %s", strerror(-r));
	}
	return r;
}

int ep_snapshot_parser_feed(struct ep_snapshot_parser *p, const void *data, size_t len,
			    struct ep_error *err)
{
	const unsigned char *d = data;
	size_t i = 0;
	int r;

	if (p->r < 0)
		return p->r;
	for (;;) {
		if (p->st == S_TAG && p->msg_left == 0 && (r = end_message(p, err)) < 0)
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
			if (p->msg_left > MESSAGE_MAX)
				return bad(p, err, "a message over 16 MiB");
			begin_message(p);
			continue;
		case S_DONE:
			return bad(p, err, "more after the checksum");
		case S_TAG:
		case S_VARINT:
		case S_LEN: {
			unsigned char c = d[i++];
			p->msg_left--;
			if (p->vbytes == 0)
				p->v = 0;
			if (p->vbytes == 9 && c > 1)
				return bad(p, err, "a number over 64 bits");
			p->v |= (uint64_t)(c & 0x7f) << (7 * p->vbytes);
			if (c & 0x80) {
				if (++p->vbytes >= 10)
					return bad(p, err, "a number over 64 bits");
				if (p->msg_left == 0)
					return bad(p, err, "a field runs past its message");
				continue;
			}
			p->vbytes = 0;
			if ((r = on_varint(p, err)) < 0)
				return r;
			if (p->st == S_BYTES && p->todo == 0)
				p->st = S_TAG;
			else if (p->st != S_TAG && p->msg_left == 0)
				return bad(p, err, "a field runs past its message");
			continue;
		}
		case S_BYTES: {
			size_t n = len - i < p->todo ? len - i : (size_t)p->todo;
			if ((r = sink_bytes(p, d + i, n, err)) < 0)
				return r;
			p->msg_left -= n;
			p->todo -= n;
			i += n;
			if (p->todo == 0)
				p->st = S_TAG;
			continue;
		}
		}
	}
}

int ep_snapshot_parser_finish(struct ep_snapshot_parser *p, struct ep_snapshot_stream *ret,
			      struct ep_error *err)
{
	int r;
	if (p->r < 0)
		return p->r;
	/* a message whose last field ended exactly with the input */
	if (p->st == S_TAG && p->msg_left == 0 && (r = end_message(p, err)) < 0)
		return r;
	if (p->st != S_DONE) {
		char msg[200];
		if (p->messages == 0 && p->frame_got == 0)
			return bad(p, err, "no data at all");
		if (!p->db_known)
			snprintf(msg, sizeof(msg), "the stream ended inside its first message");
		else if (p->received < p->db_size)
			snprintf(msg, sizeof(msg),
				 "the stream ended after %" PRIu64 " of %" PRIu64
				 " bytes of the database",
				 p->received, p->db_size);
		else
			snprintf(msg, sizeof(msg),
				 "the stream ended after the %" PRIu64
				 " bytes of the database, before their checksum",
				 p->db_size);
		p->r = ep_error_set(err, -EPROTO, "%s", msg);
		return p->r;
	}
	if (ret) {
		memset(ret, 0, sizeof(*ret));
		ret->db_size = p->db_size;
		memcpy(ret->sha256, p->hash, sizeof(ret->sha256));
		ret->messages = p->messages;
		memcpy(ret->version, p->version, sizeof(ret->version));
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The call                                                                  */

struct save {
	struct ep_snapshot_parser *parser;
	struct ep_error perr;     /* the parser's (or the sink's) verdict */
	int pr;
	bool grpc_type;
	bool has_status;
	int grpc_status;
	char grpc_message[GRPC_MESSAGE_MAX];
	int r;
	struct ep_error err;
	struct ep_snapshot_stream stream;
	/* the file */
	struct ep_atomic_file *file;
	unsigned char *buf;
	size_t buf_len;
	ep_snapshot_progress_fn progress;
	void *userdata;
	long stall_s;
	bool stalled;
	bool finished;            /* the transfer completed and on_finish judged it */
};

static int flush(struct save *s, struct ep_error *err)
{
	if (!s->buf_len)
		return 0;
	int r = ep_atomic_file_write(s->file, s->buf, s->buf_len, err);
	s->buf_len = 0;
	if (r < 0)
		return r;
	if (s->progress) {
		uint64_t got, total;
		ep_snapshot_parser_progress(s->parser, &got, &total);
		if ((r = s->progress(s->userdata, got, total)) < 0)
			return ep_error_set(err, r, "the save was cancelled");
	}
	return 0;
}

static int sink(void *userdata, const void *data, size_t len)
{
	struct save *s = userdata;
	const unsigned char *d = data;
	while (len) {
		size_t n = WRITE_BUFFER - s->buf_len < len ? WRITE_BUFFER - s->buf_len : len;
		memcpy(s->buf + s->buf_len, d, n);
		s->buf_len += n;
		d += n;
		len -= n;
		int r;
		if (s->buf_len == WRITE_BUFFER && (r = flush(s, &s->perr)) < 0)
			return r;
	}
	return 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct ep_call *call = userdata;
	struct save *s = call->userdata;
	size_t n = size * nmemb;
	call->resp_len += n;
	if (s->pr < 0)
		return 0;
	s->pr = ep_snapshot_parser_feed(s->parser, ptr, n, &s->perr);
	return s->pr < 0 ? 0 : n;
}

/* grpc-message is percent-encoded (gRPC's HTTP/2 protocol); control characters become '?'. */
static void percent_decode(const char *v, size_t len, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < size; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '%' && i + 2 < len && isxdigit((unsigned char)v[i + 1]) &&
		    isxdigit((unsigned char)v[i + 2])) {
			char h[3] = { v[i + 1], v[i + 2], 0 };
			c = (unsigned char)strtoul(h, NULL, 16);
			i += 2;
		}
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = '\0';
}

static bool header_is(const char *line, size_t len, const char *name, const char **value,
		      size_t *vlen)
{
	size_t n = strlen(name);
	if (len <= n || strncasecmp(line, name, n) || line[n] != ':')
		return false;
	const char *v = line + n + 1, *end = line + len;
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
	struct save *s = call->userdata;
	size_t len = size * nitems;
	const char *v;
	size_t vlen;
	call->header_bytes += len;
	if (header_is(buf, len, "content-type", &v, &vlen))
		s->grpc_type = vlen >= 16 && !strncasecmp(v, "application/grpc", 16);
	else if (header_is(buf, len, "grpc-status", &v, &vlen) && vlen && vlen < 4) {
		char num[4] = { 0 };
		memcpy(num, v, vlen);
		s->has_status = true;
		s->grpc_status = atoi(num);
	} else if (header_is(buf, len, "grpc-message", &v, &vlen))
		percent_decode(v, vlen, s->grpc_message, sizeof(s->grpc_message));
	return len;
}

static int on_finish(struct ep_call *call)
{
	struct save *s = call->userdata;
	long status = 0;
	s->finished = true;
	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200 || !s->grpc_type)
		return ep_error_set(&call->err, -EPROTO,
				    "%s: not etcd: HTTP %ld%s to a gRPC snapshot request",
				    call->endpoint, status,
				    s->grpc_type ? "" : " without a gRPC content type");
	if (!s->has_status)
		return ep_error_set(&call->err, -EPROTO,
				    "%s: the stream ended without a gRPC status", call->endpoint);
	if (s->grpc_status != 0) {
		const char *m = s->grpc_message[0] ? s->grpc_message : "no message";
		return ep_error_set(&call->err, ep_grpc_to_errno(s->grpc_status, m), "%s: %s (%s)",
				    call->endpoint, m, ep_grpc_code_name(s->grpc_status));
	}
	if (s->pr < 0)
		return s->pr;
	s->pr = ep_snapshot_parser_finish(s->parser, &s->stream, &s->perr);
	return s->pr;
}

static void on_done(struct ep_call *call)
{
	struct save *s = call->userdata;
	s->r = call->r;
	s->err = call->err;
	s->stalled = call->r == -ETIMEDOUT && strstr(call->errbuf, "too slow");
	/* The parser, the file or the progress callback stopped the transfer: theirs is the reason. */
	if (s->pr < 0) {
		s->r = s->pr;
		s->err = s->perr;
		return;
	}
	/*
	 * etcd's stream had begun (a gRPC answer, data decoded) when the
	 * transport failed: the connection broke - the member died or the
	 * network went - whatever the transport layer calls it ("not etcd:
	 * the answer was cut short" is what a member that never spoke gRPC
	 * would earn).
	 */
	uint64_t got = 0;
	ep_snapshot_parser_progress(s->parser, &got, NULL);
	if (call->r == -EPROTO && !s->finished && s->grpc_type && got) {
		ep_error_clear(&s->err);
		s->r = ep_error_set(&s->err, -ECONNRESET, "%s: the connection broke (%s)",
				    call->endpoint, call->errbuf[0] ? call->errbuf : "no reason given");
	}
}

/* The gRPC call; 0 or a negative errno with @err. */
static int stream(struct ep_client *c, const char *endpoint, struct save *s, uint64_t deadline,
		  struct ep_error *err)
{
	static const unsigned char body[5] = { 0, 0, 0, 0, 0 }; /* an empty SnapshotRequest */
	struct curl_slist *h = NULL;
	char timeout_header[64];
	uint64_t left = ep_ms_left(deadline);
	snprintf(timeout_header, sizeof(timeout_header), "grpc-timeout: %" PRIu64 "m",
		 left > 99999999 ? 99999999 : left);
	const char *const lines[] = { "Content-Type: application/grpc", "TE: trailers", "Expect:",
				      timeout_header };
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct curl_slist *n = curl_slist_append(h, lines[i]);
		if (!n) {
			curl_slist_free_all(h);
			return ep_error_set(err, -ENOMEM, "out of memory");
		}
		h = n;
	}
	const struct ep_raw_request req = {
		.path = "/etcdserverpb.Maintenance/Snapshot",
		.body = body,
		.len = sizeof(body),
		.headers = h,
		.on_data = on_data,
		.on_header = on_header,
		.finish = on_finish,
		.stall_s = s->stall_s,
	};
	s->r = -ETIMEDOUT;
	uint64_t saved = ep_client_timeout(c);
	ep_client_set_timeout(c, left ? left : 1);
	int r = ep_call_start_raw(c, endpoint, &req, deadline, on_done, s, err);
	if (r == 0) {
		ep_client_run(c, deadline);
		r = s->r;
		if (r < 0 && err && !ep_error_isset(err) && ep_error_isset(&s->err))
			*err = s->err;
	}
	ep_client_set_timeout(c, saved);
	curl_slist_free_all(h);
	return r;
}

/* The target's problems are the user's to fix, before anything is asked of the cluster. */
static bool usage_errno(int r)
{
	return r == -ENOENT || r == -EEXIST || r == -ELOOP || r == -EISDIR || r == -ENOTDIR ||
	       r == -ENAMETOOLONG;
}

int ep_snapshot_check_target(const struct ep_snapshot_opts *o, struct ep_error *err)
{
	struct ep_atomic_file *f = NULL;
	int r = ep_root_atomic_file_begin(o->root, o->path, o->mode ? o->mode : 0600, o->replace,
					  &f, err);
	if (r < 0 && err && usage_errno(r))
		err->kind = EP_ERR_USAGE;
	ep_atomic_file_abort(f);
	return r;
}

/* The revision of the saved file at opts->path, from its database. */
static int file_revision(const struct ep_snapshot_opts *o, uint64_t db_size, uint64_t *ret,
			 struct ep_error *err)
{
	_cleanup_close_ int fd = -1;
	int r = ep_root_open(o->root, o->path, O_RDONLY | O_NOFOLLOW, 0, &fd, err);
	if (r < 0)
		return r;
	return ep_bbolt_revision(fd, db_size, ret, err);
}

int ep_snapshot_save(struct ep_client *c, const char *endpoint, const struct ep_snapshot_opts *o,
		     struct ep_snapshot_result *ret, struct ep_error *err)
{
	uint64_t t0 = ep_now_ms();
	uint64_t deadline = t0 + (o->timeout_ms ? o->timeout_ms : DEFAULT_TIMEOUT_MS);
	uint64_t stall = o->stall_ms ? o->stall_ms : DEFAULT_STALL_MS;
	struct save s = { .progress = o->progress, .userdata = o->userdata };
	struct ep_status st = { 0 };
	int r;

	s.stall_s = (long)((stall + 999) / 1000);
	r = ep_root_atomic_file_begin(o->root, o->path, o->mode ? o->mode : 0600, o->replace,
				      &s.file, err);
	if (r < 0) {
		if (err && usage_errno(r))
			err->kind = EP_ERR_USAGE;
		return r;
	}
	if (!(s.buf = malloc(WRITE_BUFFER)) || ep_snapshot_parser_new(sink, &s, &s.parser) < 0) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	/* Who answers, at which revision: etcd's snapshot messages carry no header. */
	if ((r = ep_maintenance_status(c, endpoint, &st, err)) < 0)
		goto out;
	if ((r = stream(c, endpoint, &s, deadline, err)) < 0) {
		uint64_t got, total;
		ep_snapshot_parser_progress(s.parser, &got, &total);
		if (s.stalled)
			ep_error_prefix(err, "no data from the member for %ld s", s.stall_s);
		/* the parser's own messages say how far it got */
		if (s.pr == 0 && total && got < total)
			ep_error_prefix(err, "the snapshot stream broke after %" PRIu64
					     " of %" PRIu64 " bytes", got, total);
		goto out;
	}
	if ((r = flush(&s, err)) < 0)
		goto out;
	r = ep_atomic_file_commit(TAKE_PTR(s.file), err);
	if (r < 0)
		goto out;
	if (ret) {
		memset(ret, 0, sizeof(*ret));
		ret->endpoint = strdup(endpoint);
		ret->etcd_version = st.version ? strdup(st.version) : NULL;
		if (!ret->endpoint || (st.version && !ret->etcd_version)) {
			ep_snapshot_result_release(ret);
			r = ep_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		ret->member_id = st.member_id;
		ret->raft_index = st.raft_index;
		ret->db_size = s.stream.db_size;
		ret->size = s.stream.db_size + EP_SNAPSHOT_SHA256_LEN;
		memcpy(ret->sha256, s.stream.sha256, sizeof(ret->sha256));
		struct ep_error ferr = { 0 };
		if (file_revision(o, s.stream.db_size, &ret->revision, &ferr) == 0) {
			ret->revision_source = EP_SNAPSHOT_REV_FILE;
		} else {
			ret->revision = st.revision;
			ret->revision_source = EP_SNAPSHOT_REV_STATUS;
		}
		ret->took_ms = ep_now_ms() - t0;
	}
out:
	ep_atomic_file_abort(s.file);
	ep_snapshot_parser_free(s.parser);
	free(s.buf);
	ep_status_release(&st);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Which member                                                              */

int ep_snapshot_pick(const struct ep_health_report *hr, struct ep_error *err)
{
	int best = -1;
	uint64_t best_index = 0;
	for (size_t i = 0; i < hr->n; i++) {
		const struct ep_member_health *m = &hr->v[i];
		if (!m->healthy || m->member.is_learner || !m->endpoint || !m->status_ok)
			continue;
		uint64_t idx = m->status.raft_applied_index ? m->status.raft_applied_index
							    : m->status.raft_index;
		if (best < 0 || idx > best_index ||
		    (idx == best_index && m->is_leader && !hr->v[best].is_leader)) {
			best = (int)i;
			best_index = idx;
		}
	}
	if (best >= 0)
		return best;
	char why[EP_ERROR_MAX] = "";
	size_t len = 0;
	for (size_t i = 0; i < hr->n && len < sizeof(why); i++) {
		const struct ep_member_health *m = &hr->v[i];
		char id[17];
		int n = snprintf(why + len, sizeof(why) - len, "%s %s (%s): %s", i ? ";" : ":",
				 m->member.name ? m->member.name : "(not started)",
				 ep_member_id_hex(m->member.id, id),
				 m->member.is_learner ? "a learner"
				 : m->error	      ? m->error
						      : "no client URL");
		if (n < 0)
			break;
		len += (size_t)n;
	}
	ep_error_set(err, -ENOENT, "no healthy voting member to save a snapshot from%s", why);
	return -ENOENT;
}

/* ------------------------------------------------------------------------ */
/* A saved file                                                              */

int ep_snapshot_verify_file(const char *root, const char *path, struct ep_snapshot_result *ret,
			    struct ep_error *err)
{
	_cleanup_close_ int fd = -1;
	int r = ep_root_open(root, path, O_RDONLY | O_NOFOLLOW, 0, &fd, err);
	if (r < 0)
		return r;
	struct stat stt;
	if (fstat(fd, &stt) < 0)
		return ep_error_set(err, -errno, "'%s': %s", path, strerror(errno));
	if (!S_ISREG(stt.st_mode))
		return ep_error_set(err, -EINVAL, "'%s' is not a regular file", path);
	uint64_t size = (uint64_t)stt.st_size;
	if (size <= EP_SNAPSHOT_SHA256_LEN)
		return ep_error_set(err, -EBADMSG, "'%s' is too short for a snapshot (%" PRIu64
						   " bytes)", path, size);
	uint64_t db = size - EP_SNAPSHOT_SHA256_LEN, done = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	_cleanup_free_ unsigned char *buf = malloc(WRITE_BUFFER);
	unsigned char tail[EP_SNAPSHOT_SHA256_LEN], digest[EP_SNAPSHOT_SHA256_LEN];
	if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	r = 0;
	while (done < db) {
		size_t want = db - done < WRITE_BUFFER ? (size_t)(db - done) : WRITE_BUFFER;
		ssize_t n = pread(fd, buf, want, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = ep_error_set(err, n < 0 ? -errno : -EIO, "reading '%s': %s", path,
					 n < 0 ? strerror(errno) : "it shrank");
			break;
		}
		EVP_DigestUpdate(md, buf, (size_t)n);
		done += (uint64_t)n;
	}
	unsigned int dn = 0;
	if (r == 0 && pread(fd, tail, sizeof(tail), (off_t)db) != (ssize_t)sizeof(tail))
		r = ep_error_set(err, -EIO, "reading the checksum of '%s'", path);
	if (r == 0 && EVP_DigestFinal_ex(md, digest, &dn) != 1)
		r = ep_error_set(err, -ENOMEM, "SHA-256 failed");
	EVP_MD_CTX_free(md);
	if (r < 0)
		return r;
	if (memcmp(tail, digest, sizeof(digest)))
		return ep_error_set(err, -EBADMSG, "'%s': its last 32 bytes are not the sha256 of "
						   "the rest: not a snapshot, or a damaged one",
				    path);
	if (ret) {
		memset(ret, 0, sizeof(*ret));
		ret->size = size;
		ret->db_size = db;
		memcpy(ret->sha256, tail, sizeof(tail));
		if (ep_bbolt_revision(fd, db, &ret->revision, NULL) == 0)
			ret->revision_source = EP_SNAPSHOT_REV_FILE;
	}
	return 0;
}
