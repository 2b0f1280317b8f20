/*
 * k8s_value.c - what a value in Kubernetes' etcd is, from its bytes: the
 * API server's protobuf envelope ("k8s\0" + runtime.Unknown), a JSON
 * object (custom resources), or a value encrypted at rest
 * ("k8s:enc:<provider>:<version>:<key>:").
 *
 * Everything here reads bytes that came from the cluster, possibly only the
 * head of a big value: every length is checked against the whole value's
 * size, nothing is read past the bytes seen, nothing is allocated, nothing
 * is printed.  What cannot be read cleanly is EP_K8S_UNKNOWN with a reason;
 * it never crashes (tests/fuzz/fuzz_k8s_value.c).
 */
#include <stdint.h>
#include <string.h>

#include "etcdpilot/k8s.h"

#define KEY_NAME_MAX 256   /* longest encryption key or KMS name read */
#define PROVIDER_MAX 64
#define JSON_DEPTH_MAX 1024

const char *ep_k8s_encoding_name(enum ep_k8s_encoding e)
{
	switch (e) {
	case EP_K8S_PROTOBUF:
		return "protobuf";
	case EP_K8S_JSON:
		return "json";
	case EP_K8S_ENCRYPTED:
		return "encrypted";
	default:
		return "unknown";
	}
}

const char *ep_k8s_provider_name(enum ep_k8s_provider p)
{
	static const char *const names[] = { "identity", "aescbc", "aesgcm", "secretbox",
					     "kms-v1",   "kms-v2", "other" };
	return (size_t)p < sizeof(names) / sizeof(names[0]) ? names[p] : "other";
}

static int fail(struct ep_k8s_value *v, const char *why)
{
	v->encoding = EP_K8S_UNKNOWN;
	v->error = why;
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Protobuf wire format over [0, vis) of a value of @total bytes             */

struct pb {
	const unsigned char *b;
	size_t vis;       /* bytes seen */
	uint64_t total;   /* bytes in the value */
};

struct pb_field {
	uint32_t num;
	unsigned wt;
	uint64_t v;       /* varint value (wt 0) */
	uint64_t off, len; /* payload (wt 2) */
};

enum { PB_FIELD = 1, PB_END = 0, PB_BAD = -1, PB_UNSEEN = -2 };

/* A varint at *pos that must end before @mend; PB_UNSEEN when it runs past the bytes seen. */
static int pb_varint(const struct pb *p, uint64_t *pos, uint64_t mend, uint64_t *ret)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 10; i++) {
		uint64_t at = *pos + i;
		if (at >= mend)
			return PB_BAD;
		if (at >= p->vis)
			return PB_UNSEEN;
		unsigned char c = p->b[at];
		if (i == 9 && c > 1)
			return PB_BAD; /* more than 64 bits */
		v |= (uint64_t)(c & 0x7f) << (7 * i);
		if (!(c & 0x80)) {
			*pos = at + 1;
			*ret = v;
			return PB_FIELD;
		}
	}
	return PB_BAD;
}

/* The next field of the message ending at @mend, or PB_END/PB_BAD/PB_UNSEEN. */
static int pb_next(const struct pb *p, uint64_t *pos, uint64_t mend, struct pb_field *f)
{
	uint64_t tag;
	if (*pos >= mend)
		return PB_END;
	if (*pos >= p->vis)
		return PB_UNSEEN;
	int r = pb_varint(p, pos, mend, &tag);
	if (r != PB_FIELD)
		return r;
	f->num = (uint32_t)(tag >> 3);
	f->wt = (unsigned)(tag & 7);
	if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
		return PB_BAD;
	switch (f->wt) {
	case 0:
		return pb_varint(p, pos, mend, &f->v);
	case 1:
	case 5: {
		uint64_t n = f->wt == 1 ? 8 : 4;
		if (mend - *pos < n)
			return PB_BAD;
		*pos += n;
		return PB_FIELD;
	}
	case 2:
		if ((r = pb_varint(p, pos, mend, &f->len)) != PB_FIELD)
			return r;
		if (f->len > mend - *pos)
			return PB_BAD;
		f->off = *pos;
		*pos += f->len;
		return PB_FIELD;
	default:
		return PB_BAD; /* groups (3, 4) and undefined wire types */
	}
}

/* A string field: set only when wholly seen. */
static void pb_str(const struct pb *p, const struct pb_field *f, struct ep_k8s_str *ret)
{
	if (f->off + f->len <= p->vis) {
		ret->p = (const char *)p->b + f->off;
		ret->len = (size_t)f->len;
	}
}

static int decode_time(const struct pb *p, uint64_t pos, uint64_t mend, struct ep_k8s_value *v)
{
	struct pb_field f;
	int r;
	int64_t secs = 0;
	int32_t nanos = 0;
	while ((r = pb_next(p, &pos, mend, &f)) == PB_FIELD) {
		if ((f.num == 1 || f.num == 2) && f.wt != 0)
			return PB_BAD;
		if (f.num == 1)
			secs = (int64_t)f.v;
		else if (f.num == 2)
			nanos = (int32_t)(uint32_t)f.v;
	}
	if (r == PB_END) {
		v->has_creation = true;
		v->creation_seconds = secs;
		v->creation_nanos = nanos;
	}
	return r;
}

static int decode_object_meta(const struct pb *p, uint64_t pos, uint64_t mend,
			      struct ep_k8s_value *v)
{
	struct pb_field f;
	int r;
	while ((r = pb_next(p, &pos, mend, &f)) == PB_FIELD) {
		switch (f.num) {
		case 1:
		case 2:
		case 3:
		case 5:
		case 8:
			if (f.wt != 2)
				return PB_BAD;
			break;
		case 7:
			if (f.wt != 0)
				return PB_BAD;
			v->has_generation = true;
			v->generation = (int64_t)f.v;
			break;
		default:
			break;
		}
		if (f.num == 1)
			pb_str(p, &f, &v->name);
		else if (f.num == 2)
			pb_str(p, &f, &v->generate_name);
		else if (f.num == 3)
			pb_str(p, &f, &v->namespace_);
		else if (f.num == 5)
			pb_str(p, &f, &v->uid);
		else if (f.num == 8 && (r = decode_time(p, f.off, f.off + f.len, v)) == PB_BAD)
			return PB_BAD;
	}
	return r;
}

/* The object in runtime.Unknown's raw: ObjectMeta is field 1 of every Kubernetes object. */
static int decode_object(const struct pb *p, uint64_t pos, uint64_t mend, struct ep_k8s_value *v)
{
	struct pb_field f;
	int r;
	while ((r = pb_next(p, &pos, mend, &f)) == PB_FIELD) {
		if (f.num != 1)
			continue;
		if (f.wt != 2)
			return PB_BAD;
		if (decode_object_meta(p, f.off, f.off + f.len, v) == PB_BAD)
			return PB_BAD;
	}
	return r;
}

static int decode_type_meta(const struct pb *p, uint64_t pos, uint64_t mend, struct ep_k8s_value *v)
{
	struct pb_field f;
	int r;
	while ((r = pb_next(p, &pos, mend, &f)) == PB_FIELD) {
		if (f.num != 1 && f.num != 2)
			continue;
		if (f.wt != 2)
			return PB_BAD;
		pb_str(p, &f, f.num == 1 ? &v->api_version : &v->kind);
	}
	return r;
}

static void decode_protobuf(const struct pb *p, struct ep_k8s_value *v)
{
	struct pb_field f;
	uint64_t pos = 4;
	int r;
	bool type_meta = false, type_meta_seen = false;

	if (p->total == 4) {
		fail(v, "protobuf envelope without a message");
		return;
	}
	while ((r = pb_next(p, &pos, p->total, &f)) == PB_FIELD) {
		if (f.num >= 1 && f.num <= 4 && f.wt != 2) {
			fail(v, "malformed protobuf envelope (wrong wire type)");
			return;
		}
		int s = PB_END;
		if (f.num == 1) {
			type_meta = true;
			s = decode_type_meta(p, f.off, f.off + f.len, v);
			type_meta_seen = s == PB_END;
		} else if (f.num == 2) {
			s = decode_object(p, f.off, f.off + f.len, v);
		}
		if (s == PB_BAD) {
			fail(v, f.num == 2 ? "malformed object in the protobuf envelope"
					   : "malformed protobuf envelope");
			return;
		}
	}
	if (r == PB_BAD) {
		fail(v, "truncated or malformed protobuf envelope");
		return;
	}
	if (r == PB_END && !type_meta) {
		fail(v, "protobuf envelope without apiVersion and kind");
		return;
	}
	if (type_meta_seen && (!v->kind.len || !v->api_version.len)) {
		fail(v, "protobuf envelope without apiVersion and kind");
		return;
	}
	v->encoding = EP_K8S_PROTOBUF;
}

/* ------------------------------------------------------------------------ */
/* Encryption at rest                                                        */

/* A component ending in ':' at *pos, at most @max bytes: 1 found, 0 not. */
static int colon_field(const unsigned char *b, size_t vis, size_t *pos, size_t max,
		       struct ep_k8s_str *ret)
{
	size_t lim = vis - *pos < max + 1 ? vis - *pos : max + 1;
	const unsigned char *c = memchr(b + *pos, ':', lim);
	if (!c)
		return 0;
	ret->p = (const char *)b + *pos;
	ret->len = (size_t)(c - (b + *pos));
	*pos += ret->len + 1;
	return 1;
}

static bool str_is(struct ep_k8s_str s, const char *w)
{
	return s.len == strlen(w) && !memcmp(s.p, w, s.len);
}

static void decode_encrypted(const unsigned char *b, size_t vis, struct ep_k8s_value *v)
{
	size_t pos = 8; /* "k8s:enc:" */
	struct ep_k8s_str version = { 0 };
	if (!colon_field(b, vis, &pos, PROVIDER_MAX, &v->provider_name) || !v->provider_name.len) {
		fail(v, "'k8s:enc:' without a provider name");
		return;
	}
	if (!colon_field(b, vis, &pos, PROVIDER_MAX, &version) ||
	    !colon_field(b, vis, &pos, KEY_NAME_MAX, &v->key_name)) {
		fail(v, "encrypted value without a key name");
		return;
	}
	v->encoding = EP_K8S_ENCRYPTED;
	v->provider = EP_K8S_PROVIDER_OTHER;
	if (str_is(version, "v1") && str_is(v->provider_name, "aescbc"))
		v->provider = EP_K8S_AESCBC;
	else if (str_is(version, "v1") && str_is(v->provider_name, "aesgcm"))
		v->provider = EP_K8S_AESGCM;
	else if (str_is(version, "v1") && str_is(v->provider_name, "secretbox"))
		v->provider = EP_K8S_SECRETBOX;
	else if (str_is(version, "v1") && str_is(v->provider_name, "kms"))
		v->provider = EP_K8S_KMS_V1;
	else if (str_is(version, "v2") && str_is(v->provider_name, "kms"))
		v->provider = EP_K8S_KMS_V2;
}

/* ------------------------------------------------------------------------ */
/* JSON: a validating scan of what was seen, noting apiVersion, kind and     */
/* metadata's name, namespace, uid, generation and creationTimestamp.        */

enum { J_OK = 1, J_STOP = 0, J_BAD = -1 };

enum jkey { K_OTHER = 0, K_API_VERSION, K_KIND, K_METADATA, K_NAME, K_GENERATE_NAME,
	    K_NAMESPACE, K_UID, K_CREATION, K_GENERATION };

struct jscan {
	const char *b;
	size_t n;       /* bytes seen */
	bool complete;  /* n is the whole value */
	size_t i;
	unsigned char stack[JSON_DEPTH_MAX / 8]; /* bit set: object, clear: array */
	unsigned depth;
	unsigned meta_depth; /* depth of the metadata object, 0 when not inside */
	enum jkey key;       /* the member whose value comes next (depths 1 and 2) */
	struct ep_k8s_value *v;
};

static bool jws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void jskip_ws(struct jscan *s)
{
	while (s->i < s->n && jws(s->b[s->i]))
		s->i++;
}

static bool jhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The end of the seen bytes inside a token: a stop when the value goes on, else malformed. */
static int jcut(struct jscan *s)
{
	return s->complete ? J_BAD : J_STOP;
}

static int jstring(struct jscan *s, struct ep_k8s_str *ret, bool *escaped)
{
	size_t start = ++s->i; /* past the quote */
	*escaped = false;
	while (s->i < s->n) {
		unsigned char c = (unsigned char)s->b[s->i];
		if (c == '"') {
			ret->p = s->b + start;
			ret->len = s->i - start;
			s->i++;
			return J_OK;
		}
		if (c < 0x20)
			return J_BAD;
		if (c != '\\') {
			s->i++;
			continue;
		}
		*escaped = true;
		if (s->i + 1 >= s->n)
			return jcut(s);
		char e = s->b[s->i + 1];
		if (e == 'u') {
			for (size_t k = 2; k < 6; k++) {
				if (s->i + k >= s->n)
					return jcut(s);
				if (!jhex(s->b[s->i + k]))
					return J_BAD;
			}
			s->i += 6;
		} else if (strchr("\"\\/bfnrt", e) && e) {
			s->i += 2;
		} else {
			return J_BAD;
		}
	}
	return jcut(s);
}

static bool jdigit(char c)
{
	return c >= '0' && c <= '9';
}

/* A number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int jnumber(struct jscan *s, struct ep_k8s_str *ret)
{
	size_t start = s->i;
	if (s->i < s->n && s->b[s->i] == '-')
		s->i++;
	if (s->i >= s->n)
		return jcut(s);
	if (s->b[s->i] == '0') {
		s->i++;
	} else if (jdigit(s->b[s->i])) {
		while (s->i < s->n && jdigit(s->b[s->i]))
			s->i++;
	} else {
		return J_BAD;
	}
	if (s->i < s->n && s->b[s->i] == '.') {
		s->i++;
		if (s->i >= s->n)
			return jcut(s);
		if (!jdigit(s->b[s->i]))
			return J_BAD;
		while (s->i < s->n && jdigit(s->b[s->i]))
			s->i++;
	}
	if (s->i < s->n && (s->b[s->i] == 'e' || s->b[s->i] == 'E')) {
		s->i++;
		if (s->i < s->n && (s->b[s->i] == '+' || s->b[s->i] == '-'))
			s->i++;
		if (s->i >= s->n)
			return jcut(s);
		if (!jdigit(s->b[s->i]))
			return J_BAD;
		while (s->i < s->n && jdigit(s->b[s->i]))
			s->i++;
	}
	/* A number running into the end of what was seen may go on. */
	if (s->i >= s->n && !s->complete)
		return J_STOP;
	ret->p = s->b + start;
	ret->len = s->i - start;
	return J_OK;
}

static int jliteral(struct jscan *s)
{
	static const char *const words[] = { "true", "false", "null" };
	for (size_t w = 0; w < 3; w++) {
		size_t len = strlen(words[w]);
		if (s->b[s->i] != words[w][0])
			continue;
		size_t have = s->n - s->i < len ? s->n - s->i : len;
		if (memcmp(s->b + s->i, words[w], have))
			return J_BAD;
		if (have < len)
			return jcut(s);
		s->i += len;
		return J_OK;
	}
	return J_BAD;
}

static enum jkey jkey_of(const struct jscan *s, struct ep_k8s_str k)
{
	if (s->depth == 1) {
		if (str_is(k, "apiVersion"))
			return K_API_VERSION;
		if (str_is(k, "kind"))
			return K_KIND;
		if (str_is(k, "metadata"))
			return K_METADATA;
	} else if (s->depth == 2 && s->meta_depth == 2) {
		if (str_is(k, "name"))
			return K_NAME;
		if (str_is(k, "generateName"))
			return K_GENERATE_NAME;
		if (str_is(k, "namespace"))
			return K_NAMESPACE;
		if (str_is(k, "uid"))
			return K_UID;
		if (str_is(k, "creationTimestamp"))
			return K_CREATION;
		if (str_is(k, "generation"))
			return K_GENERATION;
	}
	return K_OTHER;
}

static void jnote_string(struct jscan *s, struct ep_k8s_str v, bool escaped)
{
	struct ep_k8s_str *dst = NULL;
	switch (s->key) {
	case K_API_VERSION:
		dst = &s->v->api_version;
		break;
	case K_KIND:
		dst = &s->v->kind;
		break;
	case K_NAME:
		dst = &s->v->name;
		break;
	case K_GENERATE_NAME:
		dst = &s->v->generate_name;
		break;
	case K_NAMESPACE:
		dst = &s->v->namespace_;
		break;
	case K_UID:
		dst = &s->v->uid;
		break;
	case K_CREATION:
		dst = &s->v->creation;
		break;
	default:
		return;
	}
	*dst = v;
	s->v->json_escaped |= escaped;
}

static void jnote_number(struct jscan *s, struct ep_k8s_str num)
{
	if (s->key != K_GENERATION || !num.len || num.len > 18)
		return;
	int64_t g = 0;
	bool neg = num.p[0] == '-';
	for (size_t k = neg; k < num.len; k++) {
		if (!jdigit(num.p[k]))
			return; /* a fraction or exponent: not a generation */
		g = g * 10 + (num.p[k] - '0');
	}
	s->v->has_generation = true;
	s->v->generation = neg ? -g : g;
}

static bool jin_object(const struct jscan *s)
{
	unsigned d = s->depth - 1;
	return s->stack[d / 8] & (1u << (d % 8));
}

static int jpush(struct jscan *s, bool object)
{
	if (s->depth >= JSON_DEPTH_MAX)
		return J_BAD;
	unsigned d = s->depth++;
	if (object)
		s->stack[d / 8] |= (unsigned char)(1u << (d % 8));
	else
		s->stack[d / 8] &= (unsigned char)~(1u << (d % 8));
	return J_OK;
}

/* One value at s->i (whitespace skipped); containers are only opened here. */
static int jvalue(struct jscan *s, bool *opened)
{
	struct ep_k8s_str str;
	bool esc;
	int r;
	char c = s->b[s->i];
	*opened = false;
	if (c == '{' || c == '[') {
		if (c == '{' && s->key == K_METADATA && s->depth == 1)
			s->meta_depth = 2;
		s->i++;
		*opened = true;
		return jpush(s, c == '{');
	}
	if (c == '"') {
		if ((r = jstring(s, &str, &esc)) == J_OK)
			jnote_string(s, str, esc);
		return r;
	}
	if (c == '-' || jdigit(c)) {
		if ((r = jnumber(s, &str)) == J_OK)
			jnote_number(s, str);
		return r;
	}
	return jliteral(s);
}

static int jscan_run(struct jscan *s)
{
	/* expecting: a value, a key (or '}' right after '{'), ':', ',' or the end of a container */
	enum { VALUE, KEY, KEY_OR_END, COLON, VALUE_OR_END, AFTER } want = VALUE;
	struct ep_k8s_str k;
	bool esc, opened;
	int r;

	for (;;) {
		jskip_ws(s);
		if (s->i >= s->n)
			return s->depth == 0 && want == AFTER ? J_OK : jcut(s);
		char c = s->b[s->i];
		if (want == AFTER && s->depth == 0)
			return J_BAD; /* bytes after the top-level object */
		switch (want) {
		case VALUE_OR_END:
		case KEY_OR_END:
			if (c == (want == KEY_OR_END ? '}' : ']')) {
				s->i++;
				goto closed;
			}
			if (want == KEY_OR_END)
				goto key;
			/* fall through */
		case VALUE:
			if ((r = jvalue(s, &opened)) != J_OK)
				return r;
			want = !opened ? AFTER : jin_object(s) ? KEY_OR_END : VALUE_OR_END;
			if (opened)
				s->key = K_OTHER;
			continue;
		case KEY:
		key:
			if (c != '"')
				return J_BAD;
			if ((r = jstring(s, &k, &esc)) != J_OK)
				return r;
			s->key = esc ? K_OTHER : jkey_of(s, k);
			want = COLON;
			continue;
		case COLON:
			if (c != ':')
				return J_BAD;
			s->i++;
			want = VALUE;
			continue;
		case AFTER:
			if (c == ',') {
				s->i++;
				want = jin_object(s) ? KEY : VALUE;
				continue;
			}
			if (c != (jin_object(s) ? '}' : ']'))
				return J_BAD;
			s->i++;
			goto closed;
		}
	closed:
		if (s->meta_depth && s->depth == s->meta_depth)
			s->meta_depth = 0;
		s->depth--;
		s->key = K_OTHER;
		want = AFTER;
	}
}

static void decode_json(const char *b, size_t vis, bool complete, struct ep_k8s_value *v)
{
	struct jscan s = { .b = b, .n = vis, .complete = complete, .v = v };
	jskip_ws(&s);
	if (s.i >= s.n || b[s.i] != '{') {
		fail(v, "not a Kubernetes encoding");
		return;
	}
	int r = jscan_run(&s);
	if (r == J_BAD) {
		v->api_version = v->kind = v->name = v->generate_name = v->namespace_ = v->uid =
			v->creation = (struct ep_k8s_str){ 0 };
		v->has_generation = false;
		fail(v, complete && s.i >= s.n ? "truncated JSON" : "malformed JSON");
		return;
	}
	v->encoding = EP_K8S_JSON;
}

/* ------------------------------------------------------------------------ */

void ep_k8s_value_decode(const void *head, size_t head_len, uint64_t total_len,
			 struct ep_k8s_value *ret)
{
	const unsigned char *b = head;
	memset(ret, 0, sizeof(*ret));
	if (head_len > total_len)
		head_len = (size_t)total_len;
	ret->complete = head_len == total_len;
	if (total_len == 0) {
		fail(ret, "empty value");
		return;
	}
	if (head_len < 32 && !ret->complete) {
		fail(ret, "too few bytes seen to tell");
		return;
	}
	if (head_len >= 8 && !memcmp(b, "k8s:enc:", 8)) {
		decode_encrypted(b, head_len, ret);
		return;
	}
	if (head_len >= 4 && !memcmp(b, "k8s\0", 4)) {
		struct pb p = { .b = b, .vis = head_len, .total = total_len };
		decode_protobuf(&p, ret);
		return;
	}
	decode_json((const char *)b, head_len, ret->complete, ret);
}
