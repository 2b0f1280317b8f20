/*
 * bundle.c - the CA bundle's format (bundle.h): the armoured text, its
 * strict parser, AES-256-GCM sealing and opening, and the checks of what a
 * bundle holds.  It reads outside input (the fuzzer drives it) and it never
 * touches the disk: where the CA comes from and goes to is pki_bundle.c's
 * business.  Every buffer that held the key or the CA key is wiped before
 * it is freed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "bundle_internal.h"
#include "etcdpilot/bundle.h"
#include "etcdpilot/config.h"
#include "etcdpilot/error.h"
#include "pki_internal.h"
#include "util/strbuf.h"

#define B64_COLS 64

/* ---- small pieces ------------------------------------------------------- */

static void wipe_free(void *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

void ep_bundle_format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, size, "?");
}

/* "2026-03-01T12:00:00Z" exactly, a real date: canonical or refused. */
static bool time_parse(const char *s, size_t n, time_t *ret)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	if (n != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
#define NUM2(i) ((s[i] - '0') * 10 + (s[(i) + 1] - '0'))
	struct tm tm = {
	    .tm_year = NUM2(0) * 100 + NUM2(2) - 1900,
	    .tm_mon = NUM2(5) - 1,
	    .tm_mday = NUM2(8),
	    .tm_hour = NUM2(11),
	    .tm_min = NUM2(14),
	    .tm_sec = NUM2(17),
	};
#undef NUM2
	if (tm.tm_year < 70 || tm.tm_mon < 0 || tm.tm_mon > 11 || tm.tm_mday < 1 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 59)
		return false;
	time_t t = timegm(&tm);
	char back[32];
	ep_bundle_format_time(t, back, sizeof(back));
	/* timegm takes February 30 for March 2: only a date that reads back is one. */
	if (strlen(back) != n || memcmp(back, s, n))
		return false;
	*ret = t;
	return true;
}

static bool fpr_ok(const char *s, size_t n)
{
	if (n != EP_BUNDLE_FPR_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (i % 3 == 2 ? c != ':' : !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

int bundle_fingerprint(X509 *crt, char out[EP_BUNDLE_FPR_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (!X509_digest(crt, EVP_sha256(), md, &n) || n != 32) {
		ERR_clear_error();
		return -EIO;
	}
	for (unsigned i = 0; i < n; i++)
		snprintf(out + 3 * i, 4, "%02X%s", md[i], i + 1 < n ? ":" : "");
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ep_bundle_key_parse(const char *hex, unsigned char key[EP_BUNDLE_KEY_LEN], struct ep_error *err)
{
	static const char how[] = "a certificate key is the 64 hexadecimal digits (32 bytes) "
				  "that 'etcdpilot certs export-bundle' printed";
	OPENSSL_cleanse(key, EP_BUNDLE_KEY_LEN);
	if (!hex || !hex[0])
		return ep_error_usage(err, -EINVAL, "the certificate key is missing; %s", how);
	size_t n = strlen(hex);
	if (n != EP_BUNDLE_KEY_HEX_LEN)
		return ep_error_usage(err, -EINVAL,
				      "the certificate key is %zu characters long; %s (copy the "
				      "whole line)",
				      n, how);
	for (size_t i = 0; i < EP_BUNDLE_KEY_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			OPENSSL_cleanse(key, EP_BUNDLE_KEY_LEN);
			return ep_error_usage(err, -EINVAL,
					      "the certificate key has a character that is no "
					      "hexadecimal digit at position %zu; %s",
					      2 * i + (hi < 0 ? 1 : 2), how);
		}
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* ---- base64 (RFC 4648, canonical only) ---------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Append @len bytes as base64 lines of B64_COLS characters. */
static void b64_lines(struct ep_strbuf *sb, const unsigned char *in, size_t len)
{
	size_t col = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		char q[4] = {b64_alphabet[v >> 18 & 63], b64_alphabet[v >> 12 & 63],
			     i + 1 < len ? b64_alphabet[v >> 6 & 63] : '=',
			     i + 2 < len ? b64_alphabet[v & 63] : '='};
		for (int k = 0; k < 4; k++) {
			ep_strbuf_addch(sb, q[k]);
			if (++col == B64_COLS) {
				ep_strbuf_addch(sb, '\n');
				col = 0;
			}
		}
	}
	if (col)
		ep_strbuf_addch(sb, '\n');
}

/*
 * Decode @n characters (a multiple of 4, '=' only at the very end) into
 * @out (room for n / 4 * 3).  Bits the padding leaves unused must be zero,
 * so that every byte string has exactly one text and a changed character
 * always changes the bytes.  Returns the length, or -1 with *@bad_at set to
 * the index of the offending character.
 */
static long b64_decode(const char *s, size_t n, unsigned char *out, size_t *bad_at)
{
	size_t o = 0;
	if (n % 4) {
		*bad_at = n;
		return -1;
	}
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		bool last = i + 4 == n;
		for (int k = 0; k < 4; k++) {
			v[k] = b64val(s[i + k]);
			if (v[k] >= 0 && !pad)
				continue;
			/* '=' only in the last quantum's last two places, and only trailing. */
			if (s[i + k] != '=' || !last || k < 2 || (pad && v[k] >= 0)) {
				*bad_at = i + (size_t)k;
				return -1;
			}
			if (v[k] < 0) {
				pad++;
				v[k] = 0;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
			     (uint32_t)v[3];
		if ((pad == 2 && (w & 0xffff)) || (pad == 1 && (w & 0xff))) {
			*bad_at = i + 3 - (size_t)pad;
			return -1;
		}
		out[o++] = (unsigned char)(w >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(w >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)w;
	}
	return (long)o;
}

/* ---- the text ------------------------------------------------------------ */

/* The header lines, as written and as authenticated (after BUNDLE_MAGIC). */
static void header_lines(struct ep_strbuf *sb, unsigned version, const char *fpr, time_t created,
			 time_t expires)
{
	char c[32], e[32];
	ep_bundle_format_time(created, c, sizeof(c));
	ep_bundle_format_time(expires, e, sizeof(e));
	ep_strbuf_addf(sb, "Version: %u\nCreated: %s\nExpires: %s\nCA-SHA256: %s\n", version, c, e,
		       fpr);
}

struct cursor {
	const char *p;
	size_t left;
	unsigned lineno; /* of the line last returned */
};

/* The next line without its "\n" or "\r\n"; *@term says whether a newline ended it. */
static bool next_line(struct cursor *c, const char **ret, size_t *ret_len, bool *term)
{
	if (!c->left)
		return false;
	const char *nl = memchr(c->p, '\n', c->left);
	size_t n = nl ? (size_t)(nl - c->p) : c->left;
	*ret = c->p;
	*term = nl != NULL;
	c->p += n + (nl ? 1 : 0);
	c->left -= n + (nl ? 1 : 0);
	if (nl && n && (*ret)[n - 1] == '\r')
		n--;
	*ret_len = n;
	c->lineno++;
	return true;
}

static bool line_is(const char *l, size_t n, const char *want)
{
	return n == strlen(want) && !memcmp(l, want, n);
}

/* @l starts with @prefix: *@rest and *@rest_len get what follows. */
static bool line_field(const char *l, size_t n, const char *prefix, const char **rest,
		       size_t *rest_len)
{
	size_t k = strlen(prefix);
	if (n < k || memcmp(l, prefix, k))
		return false;
	*rest = l + k;
	*rest_len = n - k;
	return true;
}

static int damaged(struct ep_error *err, const char *what, unsigned line, const char *why)
{
	return ep_error_usage(err, -EINVAL,
			      "'%s' is damaged at line %u (%s): copy the whole file again, or "
			      "export a new bundle on a control-plane node that has the CA",
			      what, line, why);
}

static int truncated(struct ep_error *err, const char *what)
{
	return ep_error_usage(err, -EINVAL,
			      "'%s' is truncated: it has no '" EP_BUNDLE_END "' line; copy the "
			      "whole file again",
			      what);
}

/* The first line of something that is no bundle: say what it is, if we can. */
static int not_a_bundle(struct ep_error *err, const char *what, const char *l, size_t n)
{
	static const char begin[] = "-----BEGIN ";
	size_t k = sizeof(begin) - 1;
	if (n > k && !memcmp(l, begin, k)) {
		const char *end = memmem(l + k, n - k, "-----", 5);
		size_t ln = end ? (size_t)(end - (l + k)) : n - k;
		struct ep_strbuf label = EP_STRBUF_INIT;
		ep_strbuf_init(&label, 64);
		ep_strbuf_add_escaped(&label, l + k, ln > 64 ? 64 : ln);
		int r = ep_error_usage(err, -EINVAL,
				       "'%s' holds a PEM '%s' block, not an etcdpilot CA bundle; "
				       "give the file 'etcdpilot certs export-bundle' wrote (a CA "
				       "copied by hand goes to <certificatesDir>/etcd/ca.crt and "
				       "ca.key instead)",
				       what, ep_strbuf_str(&label));
		ep_strbuf_release(&label);
		return r;
	}
	return ep_error_usage(err, -EINVAL,
			      "'%s' is not an etcdpilot CA bundle (it does not begin with "
			      "'" EP_BUNDLE_BEGIN "'); give the file 'etcdpilot certs "
			      "export-bundle' wrote",
			      what);
}

void bundle_parsed_release(struct bundle_parsed *p)
{
	if (!p)
		return;
	free(p->blob);
	memset(p, 0, sizeof(*p));
}

/* Version line (line 2), checked before anything else: a newer layout may follow it. */
static int parse_version(struct cursor *c, const char *what, unsigned *ret, struct ep_error *err)
{
	const char *l = NULL, *v = NULL;
	size_t n = 0, vn = 0;
	bool term = false;
	if (!next_line(c, &l, &n, &term) || !term)
		return truncated(err, what);
	if (!line_field(l, n, "Version: ", &v, &vn))
		return damaged(err, what, c->lineno, "expected 'Version: 1'");
	unsigned long ver = 0;
	if (vn == 0 || vn > 9 || (v[0] == '0'))
		return damaged(err, what, c->lineno, "the version is not a number");
	for (size_t i = 0; i < vn; i++) {
		if (v[i] < '0' || v[i] > '9')
			return damaged(err, what, c->lineno, "the version is not a number");
		ver = ver * 10 + (unsigned long)(v[i] - '0');
	}
	if (ver != EP_BUNDLE_VERSION)
		return ep_error_usage(err, -EINVAL,
				      "'%s' is a version %lu CA bundle; this etcdpilot reads "
				      "version %d: import it with the etcdpilot that exported it, "
				      "or export a new bundle with this one",
				      what, ver, EP_BUNDLE_VERSION);
	*ret = (unsigned)ver;
	return 0;
}

/* Lines 3-6: Created, Expires, CA-SHA256, an empty line. */
static int parse_header(struct cursor *c, const char *what, struct ep_bundle_info *info,
			struct ep_error *err)
{
	static const char *const names[] = {"Created: ", "Expires: ", "CA-SHA256: "};
	for (int i = 0; i < 3; i++) {
		const char *l = NULL, *v = NULL;
		size_t n = 0, vn = 0;
		bool term = false;
		char why[64];
		if (!next_line(c, &l, &n, &term)) /* the END line follows: never here */
			return truncated(err, what);
		if (!line_field(l, n, names[i], &v, &vn)) {
			snprintf(why, sizeof(why), "expected '%.*s...'", (int)strlen(names[i]) - 1,
				 names[i]);
			return damaged(err, what, c->lineno, why);
		}
		bool ok = i == 2 ? fpr_ok(v, vn)
				 : time_parse(v, vn, i == 0 ? &info->created : &info->expires);
		if (!ok)
			return damaged(err, what, c->lineno,
				       i == 2 ? "not a SHA-256 fingerprint (AB:CD:...)"
					      : "not a time like 2026-03-01T12:00:00Z");
		if (i == 2) {
			memcpy(info->ca_sha256, v, vn);
			info->ca_sha256[vn] = '\0';
		}
	}
	const char *l = NULL;
	size_t n = 0;
	bool term = false;
	if (!next_line(c, &l, &n, &term))
		return truncated(err, what);
	if (n)
		return damaged(err, what, c->lineno, "expected an empty line after the header");
	if (info->expires <= info->created)
		return damaged(err, what, 4, "it expires before it was created");
	return 0;
}

int bundle_parse_full(const void *data, size_t len, const char *what, struct bundle_parsed *ret,
		      struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	if (len == 0)
		return ep_error_usage(err, -EINVAL,
				      "'%s' is empty, not an etcdpilot CA bundle; give the file "
				      "'etcdpilot certs export-bundle' wrote",
				      what);
	if (len > EP_BUNDLE_MAX_FILE)
		return ep_error_usage(err, -EFBIG,
				      "'%s' is larger than %d bytes: not an etcdpilot CA bundle",
				      what, EP_BUNDLE_MAX_FILE);
	struct cursor c = {.p = data, .left = len};
	const char *l = NULL;
	size_t n = 0;
	bool term = false;
	next_line(&c, &l, &n, &term); /* len > 0: there is a first line */
	if (!line_is(l, n, EP_BUNDLE_BEGIN)) {
		/* Cut inside the BEGIN line. */
		if (!term && n < strlen(EP_BUNDLE_BEGIN) && !memcmp(l, EP_BUNDLE_BEGIN, n))
			return truncated(err, what);
		return not_a_bundle(err, what, l, n);
	}
	if (!term)
		return truncated(err, what);
	int r = parse_version(&c, what, &ret->info.version, err);
	if (r < 0)
		return r;

	/* Whole?  The END line must be there before anything else is judged. */
	struct cursor scan = c;
	bool end = false;
	while (!end && next_line(&scan, &l, &n, &term))
		end = line_is(l, n, EP_BUNDLE_END);
	if (!end)
		return truncated(err, what);

	r = parse_header(&c, what, &ret->info, err);
	if (r < 0)
		return r;

	/* The base64 lines, each B64_COLS long but the last, up to the END line. */
	size_t chars = 0;
	unsigned first = c.lineno + 1;
	_cleanup_free_ char *text = malloc(len);
	if (!text)
		return ep_error_set(err, -ENOMEM, "out of memory");
	bool short_seen = false;
	for (;;) {
		if (!next_line(&c, &l, &n, &term))
			return truncated(err, what);
		if (line_is(l, n, EP_BUNDLE_END))
			break;
		if (n == 0 || n > B64_COLS || short_seen)
			return damaged(err, what, c.lineno,
				       n == 0 ? "an empty line in the encrypted part"
					      : "a base64 line of the wrong length");
		short_seen = n < B64_COLS;
		memcpy(text + chars, l, n);
		chars += n;
	}
	if (!chars)
		return damaged(err, what, c.lineno, "the encrypted part is missing");
	/* Only empty lines may follow. */
	while (next_line(&c, &l, &n, &term))
		if (n)
			return damaged(err, what, c.lineno, "text after the END line");

	ret->blob = malloc(chars / 4 * 3 + 3);
	if (!ret->blob)
		return ep_error_set(err, -ENOMEM, "out of memory");
	size_t bad = 0;
	long got = b64_decode(text, chars, ret->blob, &bad);
	if (got < 0) {
		char why[96];
		if (bad >= chars)
			snprintf(why, sizeof(why),
				 "the base64 text is %zu characters, not a "
				 "multiple of 4",
				 chars);
		else
			snprintf(why, sizeof(why), "column %zu is not valid base64 here",
				 bad % B64_COLS + 1);
		return damaged(err, what,
			       bad >= chars ? c.lineno : first + (unsigned)(bad / B64_COLS), why);
	}
	ret->blob_len = (size_t)got;
	if (ret->blob_len < BUNDLE_NONCE_LEN + BUNDLE_TAG_LEN + 8) {
		char why[96];
		snprintf(why, sizeof(why), "the encrypted part is %zu bytes, too short for a CA",
			 ret->blob_len);
		return damaged(err, what, first, why);
	}
	return 0;
}

int ep_bundle_parse(const void *data, size_t len, const char *what, struct ep_bundle_info *ret,
		    struct ep_error *err)
{
	struct bundle_parsed p;
	int r = bundle_parse_full(data, len, what, &p, err);
	if (r >= 0 && ret)
		*ret = p.info;
	bundle_parsed_release(&p);
	return r;
}

/* ---- AES-256-GCM --------------------------------------------------------- */

static int aad_of(const struct ep_bundle_info *info, struct ep_strbuf *sb)
{
	ep_strbuf_adds(sb, BUNDLE_MAGIC);
	header_lines(sb, info->version, info->ca_sha256, info->created, info->expires);
	return ep_strbuf_oom(sb) ? -ENOMEM : 0;
}

/*
 * Encrypt (@enc) or decrypt @in into @out (same length) with @key, @nonce
 * and the additional data @aad; @tag is written (enc) or checked (dec).
 * 0, -EBADMSG when the tag does not verify, -EIO for OpenSSL failures.
 */
static int gcm(bool enc, const unsigned char *key, const unsigned char *nonce,
	       const struct ep_strbuf *aad, const unsigned char *in, size_t len, unsigned char *out,
	       unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, r = -EIO;
	if (!ctx || len > INT32_MAX)
		goto out;
	if (!EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, BUNDLE_NONCE_LEN, NULL) ||
	    !EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) ||
	    !EVP_CipherUpdate(ctx, NULL, &n, (const unsigned char *)aad->buf, (int)aad->len) ||
	    !EVP_CipherUpdate(ctx, out, &n, in, (int)len))
		goto out;
	if (!enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, BUNDLE_TAG_LEN, tag))
		goto out;
	if (EVP_CipherFinal_ex(ctx, out + n, &n) <= 0) {
		r = enc ? -EIO : -EBADMSG;
		goto out;
	}
	if (enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, BUNDLE_TAG_LEN, tag))
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

unsigned char *bundle_plain_make(const char *crt, size_t crt_len, const char *key, size_t key_len,
				 size_t *ret_len)
{
	size_t n = 8 + crt_len + key_len;
	unsigned char *p = malloc(n);
	if (!p)
		return NULL;
	for (int k = 0; k < 4; k++) {
		p[k] = (unsigned char)(crt_len >> (24 - 8 * k));
		p[4 + crt_len + (size_t)k] = (unsigned char)(key_len >> (24 - 8 * k));
	}
	memcpy(p + 4, crt, crt_len);
	memcpy(p + 8 + crt_len, key, key_len);
	*ret_len = n;
	return p;
}

int bundle_seal_raw(const void *plain, size_t plen, unsigned version, const char *ca_sha256,
		    time_t created, time_t expires, const unsigned char key[EP_BUNDLE_KEY_LEN],
		    char **ret_text, size_t *ret_len, struct ep_error *err)
{
	struct ep_bundle_info info = {.version = version, .created = created, .expires = expires};
	snprintf(info.ca_sha256, sizeof(info.ca_sha256), "%s", ca_sha256);
	struct ep_strbuf aad = EP_STRBUF_INIT, text = EP_STRBUF_INIT;
	size_t blen = BUNDLE_NONCE_LEN + plen + BUNDLE_TAG_LEN;
	unsigned char *blob = malloc(blen);
	int r = blob ? aad_of(&info, &aad) : -ENOMEM;
	if (r < 0) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (RAND_bytes(blob, BUNDLE_NONCE_LEN) != 1) {
		r = ep_error_ssl(err, "making a random nonce");
		goto out;
	}
	r = gcm(true, key, blob, &aad, plain, plen, blob + BUNDLE_NONCE_LEN,
		blob + BUNDLE_NONCE_LEN + plen);
	if (r < 0) {
		r = ep_error_set(err, r, "encrypting the CA bundle (AES-256-GCM) failed");
		goto out;
	}
	ep_strbuf_adds(&text, EP_BUNDLE_BEGIN "\n");
	header_lines(&text, version, info.ca_sha256, created, expires);
	ep_strbuf_addch(&text, '\n');
	b64_lines(&text, blob, blen);
	ep_strbuf_adds(&text, EP_BUNDLE_END "\n");
	*ret_text = ep_strbuf_detach(&text, ret_len);
	if (!*ret_text)
		r = ep_error_set(err, -ENOMEM, "out of memory");
out:
	free(blob); /* ciphertext only: nothing secret */
	ep_strbuf_release(&aad);
	ep_strbuf_release(&text);
	return r;
}

/* ---- what a bundle holds ------------------------------------------------- */

void ep_ca_bundle_release(struct ep_ca_bundle *b)
{
	if (!b)
		return;
	free(b->crt_pem);
	wipe_free(b->key_pem, b->key_len);
	X509_free(b->crt);
	EVP_PKEY_free(b->key);
	memset(b, 0, sizeof(*b));
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static char *dup_bytes(const unsigned char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* The checks a CA pair passes, on export and on import alike. */
static int pair_check(X509 *crt, EVP_PKEY *key, const char *what, struct ep_error *err)
{
	if (!pki_cert_is_ca(crt)) {
		char subj[256];
		pki_name_oneline(X509_get_subject_name(crt), subj, sizeof(subj));
		return ep_error_set(err, -EINVAL,
				    "%s: the certificate (%s) is not a CA certificate: it lacks "
				    "basicConstraints CA:TRUE",
				    what, subj);
	}
	int ok = X509_check_private_key(crt, key);
	ERR_clear_error();
	if (ok != 1)
		return ep_error_set(err, -EINVAL, "%s: the key does not match the certificate",
				    what);
	return 0;
}

int bundle_plain_check(const unsigned char *plain, size_t len, const char *what,
		       struct ep_ca_bundle *ret, struct ep_error *err)
{
	char where[600];
	snprintf(where, sizeof(where), "the CA bundle '%s' opened, but it cannot be used", what);
	uint32_t cl = len >= 8 ? be32(plain) : 0;
	uint32_t kl = cl && cl <= len - 8 ? be32(plain + 4 + cl) : 0;
	if (!cl || !kl || cl > EP_BUNDLE_MAX_PART || kl > EP_BUNDLE_MAX_PART ||
	    (size_t)cl + kl + 8 != len)
		return ep_error_set(err, -EINVAL,
				    "%s: its content is not a CA certificate and key; export a new "
				    "bundle on a control-plane node that has the CA",
				    where);
	ret->crt_pem = dup_bytes(plain + 4, cl);
	ret->key_pem = dup_bytes(plain + 8 + cl, kl);
	if (!ret->crt_pem || !ret->key_pem)
		return ep_error_set(err, -ENOMEM, "out of memory");
	ret->crt_len = cl;
	ret->key_len = kl;
	char name[600];
	snprintf(name, sizeof(name), "%s: ca.crt", what);
	int r = ep_pki_cert_parse(ret->crt_pem, cl, name, &ret->crt, err);
	if (r >= 0) {
		snprintf(name, sizeof(name), "%s: ca.key", what);
		r = ep_pki_key_parse(ret->key_pem, kl, name, &ret->key, err);
	}
	if (r < 0) {
		ep_error_prefix(err, "%s", where);
		return r;
	}
	r = pair_check(ret->crt, ret->key, where, err);
	if (r < 0)
		return r;
	char fpr[EP_BUNDLE_FPR_LEN + 1];
	if (bundle_fingerprint(ret->crt, fpr) < 0)
		return ep_error_set(err, -EIO, "%s: cannot hash its certificate", where);
	if (strcmp(fpr, ret->info.ca_sha256))
		return ep_error_set(err, -EINVAL,
				    "%s: its header names the CA SHA256 %s, but it holds the CA "
				    "SHA256 %s; export a new bundle",
				    where, ret->info.ca_sha256, fpr);
	return 0;
}

int ep_bundle_open(const void *data, size_t len, const char *what,
		   const unsigned char key[EP_BUNDLE_KEY_LEN], time_t now, struct ep_ca_bundle *ret,
		   struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	struct bundle_parsed p;
	int r = bundle_parse_full(data, len, what, &p, err);
	ret->info = p.info;
	if (r < 0)
		goto out;

	char made[32], exp[32];
	ep_bundle_format_time(p.info.created, made, sizeof(made));
	ep_bundle_format_time(p.info.expires, exp, sizeof(exp));
	if (now >= p.info.expires) {
		_cleanup_free_ char *ago =
		    ep_duration_format((uint64_t)(now - p.info.expires) * 1000);
		r = ep_error_set(err, -ETIMEDOUT,
				 "the CA bundle '%s' expired at %s (%s ago; it was made at %s); "
				 "make a new one: run 'etcdpilot certs export-bundle FILE' on a "
				 "control-plane node that has the CA, and use the key it prints",
				 what, exp, ago ? ago : "?", made);
		goto out;
	}

	size_t clen = p.blob_len - BUNDLE_NONCE_LEN - BUNDLE_TAG_LEN;
	unsigned char *plain = malloc(clen ? clen : 1);
	struct ep_strbuf aad = EP_STRBUF_INIT;
	r = plain ? aad_of(&p.info, &aad) : -ENOMEM;
	if (r >= 0)
		r = gcm(false, key, p.blob, &aad, p.blob + BUNDLE_NONCE_LEN, clen, plain,
			p.blob + BUNDLE_NONCE_LEN + clen);
	ep_strbuf_release(&aad);
	if (r == -EBADMSG)
		ep_error_set(err, r,
			     "the certificate key is wrong or the bundle '%s' was altered "
			     "(AES-256-GCM authentication failed; it cannot tell the two apart); "
			     "use the key printed when this bundle was exported (at %s, CA SHA256 "
			     "%s), or export a new bundle",
			     what, made, p.info.ca_sha256);
	else if (r < 0)
		ep_error_set(err, r, "decrypting '%s' failed: %s", what, strerror(-r));
	else
		r = bundle_plain_check(plain, clen, what, ret, err);
	wipe_free(plain, clen ? clen : 1);
out:
	bundle_parsed_release(&p);
	if (r < 0) {
		struct ep_bundle_info info = ret->info;
		ep_ca_bundle_release(ret);
		ret->info = info;
	}
	return r;
}

int ep_bundle_seal(const char *crt_pem, size_t crt_len, const char *key_pem, size_t key_len,
		   const unsigned char key[EP_BUNDLE_KEY_LEN], time_t created, uint64_t ttl_s,
		   char **ret_text, size_t *ret_len, struct ep_bundle_info *ret_info,
		   struct ep_error *err)
{
	if (ttl_s < 1 || ttl_s > EP_BUNDLE_TTL_MAX_S)
		return ep_error_usage(err, -ERANGE,
				      "a CA bundle lives between 1s and %dh (kubeadm's uploaded "
				      "certificates: 2h)",
				      EP_BUNDLE_TTL_MAX_S / 3600);
	if (crt_len > EP_BUNDLE_MAX_PART || key_len > EP_BUNDLE_MAX_PART)
		return ep_error_set(err, -EFBIG,
				    "the CA certificate or key is larger than %d bytes: too large "
				    "for a bundle",
				    EP_BUNDLE_MAX_PART);
	_cleanup_(X509_freep) X509 *crt = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *pkey = NULL;
	int r = ep_pki_cert_parse(crt_pem, crt_len, "ca.crt", &crt, err);
	if (r >= 0)
		r = ep_pki_key_parse(key_pem, key_len, "ca.key", &pkey, err);
	if (r >= 0)
		r = pair_check(crt, pkey, "the etcd CA", err);
	if (r < 0)
		return r;
	struct ep_bundle_info info = {
	    .version = EP_BUNDLE_VERSION, .created = created, .expires = created + (time_t)ttl_s};
	if (bundle_fingerprint(crt, info.ca_sha256) < 0)
		return ep_error_set(err, -EIO, "cannot hash the CA certificate");
	size_t plen = 0;
	unsigned char *plain = bundle_plain_make(crt_pem, crt_len, key_pem, key_len, &plen);
	if (!plain)
		return ep_error_set(err, -ENOMEM, "out of memory");
	r = bundle_seal_raw(plain, plen, info.version, info.ca_sha256, info.created, info.expires,
			    key, ret_text, ret_len, err);
	wipe_free(plain, plen);
	if (r >= 0 && ret_info)
		*ret_info = info;
	return r;
}
