/*
 * test_bundle.c - the encrypted CA bundle: the certificate key's syntax, a
 * round trip, every refusal in its order (not a bundle, unknown version,
 * truncated at every length, every byte of a bundle replaced by every other
 * value, expired by an injected clock, a wrong key, decrypted content that
 * is no CA pair), export's refusals and its file, and install on a node
 * root: fresh, the same CA, a different CA, half a pair, symlinks, a dry
 * run, and that every refusal leaves the root byte for byte as it was.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bundle_internal.h"
#include "etcdpilot/bundle.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/pki.h"
#include "pki_internal.h"

/* A fixed clock: 2030-01-01T00:00:00Z. */
#define T0 ((time_t)1893456000)

struct fx {
	char base[64];
	char a[96], b[96], c[96]; /* node roots: a has a CA */
	struct ep_spec spec;
	unsigned char key[EP_BUNDLE_KEY_LEN];
	char *crt_pem, *key_pem; /* a's CA files */
	size_t crt_len, key_len;
	struct ep_strv log;
};

static void log_cb(void *ud, const char *line)
{
	struct fx *f = ud;
	assert_int_equal(ep_strv_push(&f->log, line), 0);
}

static bool log_has(const struct fx *f, const char *needle)
{
	for (size_t i = 0; i < f->log.n; i++)
		if (strstr(f->log.v[i], needle))
			return true;
	return false;
}

static void generate(struct fx *f, const char *root, unsigned mask)
{
	struct ep_error err = {0};
	if (ep_pki_generate(&f->spec, root, mask, false, NULL, NULL, &err) < 0)
		fail_msg("generate: %s", err.msg);
}

/* The node path @rel ("etcd/ca.key") of the cert dir under @root, as a heap string. */
static char *pki_file(const char *root, const char *rel)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/etc/kubernetes/pki/%s", root, rel) > 0);
	return p;
}

static char *slurp(const char *path, size_t *len)
{
	char *buf = NULL;
	struct ep_error err = {0};
	if (ep_read_file(path, 1 << 20, false, &buf, len, &err) < 0)
		fail_msg("%s", err.msg);
	return buf;
}

static void put(const char *path, const void *data, size_t len, mode_t mode)
{
	struct ep_error err = {0};
	if (ep_write_atomic(path, data, len, mode, &err) < 0)
		fail_msg("%s", err.msg);
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->base, sizeof(f->base), "/tmp/ep-test-bundle.XXXXXX");
	assert_non_null(mkdtemp(f->base));
	snprintf(f->a, sizeof(f->a), "%s/a", f->base);
	snprintf(f->b, sizeof(f->b), "%s/b", f->base);
	snprintf(f->c, sizeof(f->c), "%s/c", f->base);
	ep_spec_init(&f->spec);
	f->spec.name = strdup("cp1");
	f->spec.advertise_address = strdup("10.0.0.11");
	f->spec.key_type = EP_KEY_ECDSA_P256;
	struct ep_error err = {0};
	assert_int_equal(ep_spec_defaults(&f->spec, &err), 0);
	for (size_t i = 0; i < sizeof(f->key); i++)
		f->key[i] = (unsigned char)(i * 7 + 3);
	generate(f, f->a, EP_CERT_BIT(EP_CERT_CA));
	char *p = pki_file(f->a, "etcd/ca.crt");
	f->crt_pem = slurp(p, &f->crt_len);
	free(p);
	p = pki_file(f->a, "etcd/ca.key");
	f->key_pem = slurp(p, &f->key_len);
	free(p);
	/* b exists, with an empty certificate directory: a refusal must not add to it. */
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/etc/kubernetes/pki", f->b);
	assert_int_equal(ep_mkdir_p(dir, 0755, NULL), 0);
	*state = f;
	return 0;
}

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	nftw(f->base, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	ep_spec_release(&f->spec);
	free(f->crt_pem);
	free(f->key_pem);
	ep_strv_release(&f->log);
	free(f);
	return 0;
}

/* ---- tree digest: a refusal changes nothing -------------------------------- */

static EVP_MD_CTX *digest_ctx;

static int digest_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)ftw;
	char head[512];
	int n = snprintf(head, sizeof(head), "%s %o %d\n", p, (unsigned)sb->st_mode, flag);
	EVP_DigestUpdate(digest_ctx, head, (size_t)n);
	if (flag == FTW_F) {
		char *buf = NULL;
		size_t len = 0;
		if (ep_read_file(p, 1 << 20, true, &buf, &len, NULL) == 0) {
			EVP_DigestUpdate(digest_ctx, buf, len);
			free(buf);
		}
	}
	return 0;
}

static void tree_digest(const char *root, unsigned char out[32])
{
	digest_ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(digest_ctx, EVP_sha256(), NULL);
	nftw(root, digest_cb, 16, FTW_PHYS);
	unsigned len = 32;
	EVP_DigestFinal_ex(digest_ctx, out, &len);
	EVP_MD_CTX_free(digest_ctx);
	digest_ctx = NULL;
}

/* ---- helpers ------------------------------------------------------------- */

static char *seal(struct fx *f, time_t created, uint64_t ttl, size_t *len)
{
	char *text = NULL;
	struct ep_error err = {0};
	if (ep_bundle_seal(f->crt_pem, f->crt_len, f->key_pem, f->key_len, f->key, created, ttl,
			   &text, len, NULL, &err) < 0)
		fail_msg("seal: %s", err.msg);
	return text;
}

/* Open must fail with @needle in the message and of @kind; nothing is left in @b. */
static void open_fails(const char *text, size_t len, const unsigned char *key, time_t now,
		       enum ep_error_kind kind, const char *needle)
{
	struct ep_ca_bundle b;
	struct ep_error err = {0};
	int r = ep_bundle_open(text, len, "B", key, now, &b, &err);
	if (r >= 0)
		fail_msg("opened; expected an error with '%s'", needle);
	if (!strstr(err.msg, needle) || err.kind != kind)
		fail_msg("error '%s' (kind %d) lacks '%s' (kind %d)", err.msg, err.kind, needle,
			 kind);
	assert_null(b.crt);
	assert_null(b.key);
	assert_null(b.key_pem);
	ep_ca_bundle_release(&b);
}

/* The SHA-256 fingerprint of @pem's certificate, as the bundle writes it. */
static void fpr_of(const char *pem, size_t len, char out[EP_BUNDLE_FPR_LEN + 1])
{
	X509 *crt = NULL;
	assert_int_equal(ep_pki_cert_parse(pem, len, "x", &crt, NULL), 0);
	assert_int_equal(bundle_fingerprint(crt, out), 0);
	X509_free(crt);
}

/* ---- the key ---------------------------------------------------------------- */

static void test_key_parse(void **state)
{
	(void)state;
	unsigned char key[EP_BUNDLE_KEY_LEN];
	struct ep_error err = {0};
	const char *lower = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	assert_int_equal(ep_bundle_key_parse(lower, key, &err), 0);
	assert_int_equal(key[5], 0x55);
	assert_int_equal(key[15], 0xff);
	assert_int_equal(ep_bundle_key_parse("00112233445566778899AABBCCDDEEFF00112233445566778899"
					     "AABBCCDDEEFF",
					     key, &err),
			 0);
	assert_int_equal(key[31], 0xff);

	static const struct {
		const char *in, *needle;
	} bad[] = {
	    {NULL, "missing"},
	    {"", "missing"},
	    {"0011", "is 4 characters long"},
	    {"00112233445566778899aabbccddeeff00112233445566778899aabbccddeef", "is 63 characters"},
	    {"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff0", "is 65"},
	    {"00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg", "position 64"},
	    {"x0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "position 1"},
	    {" 0112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "position 1"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(key, 0xaa, sizeof(key));
		ep_error_clear(&err);
		assert_int_equal(ep_bundle_key_parse(bad[i].in, key, &err), -EINVAL);
		assert_int_equal(err.kind, EP_ERR_USAGE);
		if (!strstr(err.msg, bad[i].needle))
			fail_msg("key '%s': '%s' lacks '%s'", bad[i].in ? bad[i].in : "(null)",
				 err.msg, bad[i].needle);
		/* The secret is never repeated, and what was parsed is wiped. */
		if (bad[i].in && strlen(bad[i].in) > 8)
			assert_null(strstr(err.msg, bad[i].in + 4));
		for (size_t k = 0; k < sizeof(key); k++)
			assert_int_equal(key[k], 0);
	}
}

/* ---- format ------------------------------------------------------------------ */

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	size_t len = 0;
	struct ep_bundle_info info;
	char *text = NULL;
	struct ep_error err = {0};
	assert_int_equal(ep_bundle_seal(f->crt_pem, f->crt_len, f->key_pem, f->key_len, f->key, T0,
					EP_BUNDLE_TTL_DEFAULT_S, &text, &len, &info, &err),
			 0);
	assert_int_equal(strlen(text), len);
	char fpr[EP_BUNDLE_FPR_LEN + 1];
	fpr_of(f->crt_pem, f->crt_len, fpr);

	/* The header is readable without the key. */
	char want[512];
	snprintf(want, sizeof(want),
		 EP_BUNDLE_BEGIN "\nVersion: 1\nCreated: 2030-01-01T00:00:00Z\nExpires: "
				 "2030-01-01T02:00:00Z\nCA-SHA256: %s\n\n",
		 fpr);
	assert_memory_equal(text, want, strlen(want));
	assert_non_null(strstr(text, "\n" EP_BUNDLE_END "\n"));
	assert_int_equal(text[len - 1], '\n');
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		assert_non_null(nl);
		assert_true(nl - l <= 64 || !strncmp(l, "CA-SHA256: ", 11));
		l = nl + 1;
	}
	/* Nothing of the key in the clear. */
	assert_null(strstr(text, "PRIVATE KEY"));

	struct ep_bundle_info parsed;
	assert_int_equal(ep_bundle_parse(text, len, "B", &parsed, &err), 0);
	assert_int_equal(parsed.version, 1);
	assert_int_equal(parsed.created, T0);
	assert_int_equal(parsed.expires, T0 + 7200);
	assert_string_equal(parsed.ca_sha256, fpr);
	assert_memory_equal(&parsed, &info, sizeof(info));

	struct ep_ca_bundle b;
	assert_int_equal(ep_bundle_open(text, len, "B", f->key, T0 + 7199, &b, &err), 0);
	assert_int_equal(b.crt_len, f->crt_len);
	assert_memory_equal(b.crt_pem, f->crt_pem, f->crt_len);
	assert_int_equal(b.key_len, f->key_len);
	assert_memory_equal(b.key_pem, f->key_pem, f->key_len);
	assert_non_null(b.crt);
	assert_non_null(b.key);
	assert_string_equal(b.info.ca_sha256, fpr);
	ep_ca_bundle_release(&b);
	assert_null(b.key_pem);

	/* Two seals of the same pair: a new nonce each time. */
	size_t len2 = 0;
	char *text2 = seal(f, T0, EP_BUNDLE_TTL_DEFAULT_S, &len2);
	assert_true(len2 == len && memcmp(text, text2, len));
	free(text2);

	/* CRLF line ends, a missing final newline and empty lines after END are fine. */
	char *crlf = malloc(2 * len + 8);
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n')
			crlf[n++] = '\r';
		crlf[n++] = text[i];
	}
	memcpy(crlf + n, "\r\n\n", 3);
	assert_int_equal(ep_bundle_open(crlf, n + 3, "B", f->key, T0, &b, &err), 0);
	ep_ca_bundle_release(&b);
	assert_int_equal(ep_bundle_open(text, len - 1, "B", f->key, T0, &b, &err), 0);
	ep_ca_bundle_release(&b);
	free(crlf);
	free(text);
}

static void test_not_a_bundle(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *text, *needle;
	} cases[] = {
	    {"", "is empty"},
	    {"hello\n", "is not an etcdpilot CA bundle (it does not begin with"},
	    {"\n" EP_BUNDLE_BEGIN "\n", "is not an etcdpilot CA bundle"},
	    {"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
	     "holds a PEM 'CERTIFICATE' block"},
	    {"-----BEGIN \x1b[2J-----\n", "holds a PEM '\\x1b[2J' block"},
	    {"-----BEGIN ETCDPILOT", "is truncated"},
	    {EP_BUNDLE_BEGIN, "is truncated"},
	    {EP_BUNDLE_BEGIN "\nVersion: 1", "is truncated"},
	    {EP_BUNDLE_BEGIN "\nVersion: 2\n", "is a version 2 CA bundle; this etcdpilot reads "
					       "version 1"},
	    {EP_BUNDLE_BEGIN "\nVersion: 123456789\nanything", "is a version 123456789"},
	    {EP_BUNDLE_BEGIN "\nVersion: 01\n" EP_BUNDLE_END "\n", "damaged at line 2"},
	    {EP_BUNDLE_BEGIN "\nVersion: 1234567890\n", "damaged at line 2"},
	    {EP_BUNDLE_BEGIN "\nversion: 1\n", "damaged at line 2 (expected 'Version: 1')"},
	    {EP_BUNDLE_BEGIN "\nVersion: 1\nCreated: x\n", "is truncated"},
	    {EP_BUNDLE_BEGIN "\nVersion: 1\n" EP_BUNDLE_END "\n", "damaged at line 3"},
	    {EP_BUNDLE_BEGIN "\nVersion: 1\nCreated: 2030-02-30T00:00:00Z\n" EP_BUNDLE_END,
	     "damaged at line 3 (not a time"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ep_error err = {0};
		struct ep_bundle_info info;
		size_t len = strlen(cases[i].text);
		assert_int_equal(ep_bundle_parse(cases[i].text, len, "B", &info, &err), -EINVAL);
		assert_int_equal(err.kind, EP_ERR_USAGE);
		if (!strstr(err.msg, cases[i].needle))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].needle);
		open_fails(cases[i].text, len, f->key, T0, EP_ERR_USAGE, cases[i].needle);
	}
}

/* Header and armour edits that parse-check (each one line of a good bundle changed). */
static void test_damaged_lines(void **state)
{
	struct fx *f = *state;
	size_t len = 0;
	char *text = seal(f, T0, 3600, &len);
	static const struct {
		const char *from, *to, *needle;
	} edits[] = {
	    {"Expires: 2030-01-01T01", "Expires: 2029-12-31T23", "expires before it was created"},
	    {"Created: 2030-01-01T00:00:00Z", "Created: 2030-01-01T00:00:00z",
	     "line 3 (not a time"},
	    {"Created: ", "Created:  ", "line 3"},
	    {"CA-SHA256: ", "CA-SHA256: a", "line 5 (not a SHA-256"},
	    {"\n\n", "\n \n", "line 6 (expected an empty line"},
	    {"\n" EP_BUNDLE_END, "\n\n" EP_BUNDLE_END, "an empty line in the encrypted part"},
	    {EP_BUNDLE_END "\n", EP_BUNDLE_END "\nx\n", "text after the END line"},
	};
	for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
		const char *at = strstr(text, edits[i].from);
		if (!at)
			fail_msg("edit %zu: '%s' not in the bundle", i, edits[i].from);
		char *t = NULL;
		assert_true(asprintf(&t, "%.*s%s%s", (int)(at - text), text, edits[i].to,
				     at + strlen(edits[i].from)) > 0);
		open_fails(t, strlen(t), f->key, T0, EP_ERR_USAGE, edits[i].needle);
		free(t);
	}
	free(text);
}

/*
 * Every byte of a bundle replaced by each of the 255 other values: never
 * opened.  Each refusal is one of the expected kinds, and the header, the
 * armour and the base64 (nonce, ciphertext, tag) each produce some.
 */
static void test_every_byte_changed(void **state)
{
	struct fx *f = *state;
	size_t len = 0;
	/* Open at 15:00 a bundle of 00:00 to 20:00: a lower Expires digit can expire it. */
	const time_t now = T0 + 15 * 3600;
	char *text = seal(f, T0, 20 * 3600, &len);
	char *t = malloc(len);
	unsigned usage = 0, altered = 0, expired = 0;
	for (size_t i = 0; i < len; i++) {
		for (unsigned v = 0; v < 256; v++) {
			if ((unsigned char)text[i] == v)
				continue;
			memcpy(t, text, len);
			t[i] = (char)v;
			struct ep_ca_bundle b;
			struct ep_error err = {0};
			int r = ep_bundle_open(t, len, "B", f->key, now, &b, &err);
			if (r >= 0)
				fail_msg("byte %zu set to 0x%02x: the bundle still opened", i, v);
			assert_null(b.key_pem);
			if (err.kind == EP_ERR_USAGE)
				usage++;
			else if (r == -EBADMSG)
				altered++;
			else if (r == -ETIMEDOUT)
				expired++;
			else
				fail_msg("byte %zu = 0x%02x: unexpected %d '%s'", i, v, r, err.msg);
			ep_ca_bundle_release(&b);
		}
	}
	/* Changed base64 data and changed header digits are authenticated. */
	assert_true(usage > 0 && altered > 0 && expired > 0);
	print_message("%zu positions x 255 values: %u malformed, %u altered, %u expired\n", len,
		      usage, altered, expired);
	free(t);
	free(text);
}

static void test_truncated_everywhere(void **state)
{
	struct fx *f = *state;
	size_t len = 0;
	char *text = seal(f, T0, 3600, &len);
	for (size_t n = 0; n + 1 < len; n++) {
		char *t = malloc(n ? n : 1);
		memcpy(t, text, n);
		open_fails(t, n, f->key, T0, EP_ERR_USAGE, n ? "is truncated" : "is empty");
		free(t);
	}
	/* Only the final newline may go. */
	struct ep_ca_bundle b;
	assert_int_equal(ep_bundle_open(text, len - 1, "B", f->key, T0, &b, NULL), 0);
	ep_ca_bundle_release(&b);
	free(text);
}

static void test_wrong_key(void **state)
{
	struct fx *f = *state;
	size_t len = 0;
	char *text = seal(f, T0, 3600, &len);
	unsigned char other[EP_BUNDLE_KEY_LEN];
	for (size_t k = 0; k < sizeof(other); k++) {
		memcpy(other, f->key, sizeof(other));
		other[k] ^= 0x01; /* one bit anywhere */
		open_fails(text, len, other, T0, EP_ERR_FAILED,
			   "the certificate key is wrong or the bundle 'B' was altered");
	}
	free(text);
}

static void test_expired(void **state)
{
	struct fx *f = *state;
	size_t len = 0;
	char *text = seal(f, T0, 7200, &len);
	struct ep_ca_bundle b;
	assert_int_equal(ep_bundle_open(text, len, "B", f->key, T0 + 7199, &b, NULL), 0);
	ep_ca_bundle_release(&b);
	open_fails(text, len, f->key, T0 + 7200, EP_ERR_FAILED,
		   "the CA bundle 'B' expired at 2030-01-01T02:00:00Z (0s ago; it was made at "
		   "2030-01-01T00:00:00Z); make a new one: run 'etcdpilot certs export-bundle");
	open_fails(text, len, f->key, T0 + 7200 + 3723, EP_ERR_FAILED, "(1h2m3s ago;");
	/* Expiry is judged before the key: the message that helps. */
	unsigned char other[EP_BUNDLE_KEY_LEN] = {0};
	open_fails(text, len, other, T0 + 86400, EP_ERR_FAILED, "expired at");
	free(text);
}

/* What only a holder of the key could seal: the checks after decryption. */
static void test_bad_content(void **state)
{
	struct fx *f = *state;
	generate(f, f->c, EP_CERT_ALL);
	size_t slen = 0, sklen = 0, olen = 0, oklen = 0;
	char *p = pki_file(f->c, "etcd/server.crt");
	char *srv = slurp(p, &slen);
	free(p);
	p = pki_file(f->c, "etcd/server.key");
	char *srv_key = slurp(p, &sklen);
	free(p);
	p = pki_file(f->c, "etcd/ca.crt");
	char *other_ca = slurp(p, &olen);
	free(p);
	p = pki_file(f->c, "etcd/ca.key");
	char *other_key = slurp(p, &oklen);
	free(p);
	char fpr_ca[EP_BUNDLE_FPR_LEN + 1], fpr_srv[EP_BUNDLE_FPR_LEN + 1],
	    fpr_other[EP_BUNDLE_FPR_LEN + 1];
	fpr_of(f->crt_pem, f->crt_len, fpr_ca);
	fpr_of(srv, slen, fpr_srv);
	fpr_of(other_ca, olen, fpr_other);

	struct {
		const char *crt, *key;
		size_t crt_len, key_len;
		const char *fpr, *needle;
	} cases[] = {
	    {srv, srv_key, slen, sklen, fpr_srv,
	     "is not a CA certificate: it lacks basicConstraints"},
	    {f->crt_pem, other_key, f->crt_len, oklen, fpr_ca,
	     "the key does not match the certificate"},
	    {other_ca, other_key, olen, oklen, fpr_ca, "its header names the CA SHA256"},
	    {f->crt_pem, "junk", f->crt_len, 4, fpr_ca, "ca.key' is not a PEM private key"},
	    {f->key_pem, f->key_pem, f->key_len, f->key_len, fpr_ca,
	     "ca.crt' is not a PEM certificate"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t plen = 0, len = 0;
		unsigned char *plain = bundle_plain_make(cases[i].crt, cases[i].crt_len,
							 cases[i].key, cases[i].key_len, &plen);
		char *text = NULL;
		assert_int_equal(bundle_seal_raw(plain, plen, 1, cases[i].fpr, T0, T0 + 60, f->key,
						 &text, &len, NULL),
				 0);
		open_fails(text, len, f->key, T0, EP_ERR_FAILED, cases[i].needle);
		open_fails(text, len, f->key, T0, EP_ERR_FAILED,
			   "the CA bundle 'B' opened, but it "
			   "cannot be used");
		free(plain);
		free(text);
	}
	/* Plaintexts that are no pair at all. */
	static const struct {
		const char *plain;
		size_t len;
	} raw[] = {
	    {"", 0},
	    {"\0\0\0\0\0\0\0\0", 8},
	    {"\0\0\0\1x\0\0\0\1", 9},	      /* key length short of the end */
	    {"\0\0\0\1x\0\0\0\1yz", 11},      /* bytes after the key */
	    {"\xff\xff\xff\xff\0\0\0\1y", 9}, /* a length past the end */
	    {"\0\0\0\5x\0\0\0\1y", 10},	      /* lengths that do not add up */
	};
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		char *text = NULL;
		size_t len = 0;
		assert_int_equal(bundle_seal_raw(raw[i].plain, raw[i].len, 1, fpr_ca, T0, T0 + 60,
						 f->key, &text, &len, NULL),
				 0);
		open_fails(text, len, f->key, T0, raw[i].len < 8 ? EP_ERR_USAGE : EP_ERR_FAILED,
			   raw[i].len < 8 ? "too short"
					  : "its content is not a CA certificate and key");
		free(text);
	}
	free(srv);
	free(srv_key);
	free(other_ca);
	free(other_key);
}

static void test_seal_refuses(void **state)
{
	struct fx *f = *state;
	char *text = NULL;
	size_t len = 0;
	struct ep_error err = {0};
	assert_int_equal(ep_bundle_seal(f->crt_pem, f->crt_len, f->key_pem, f->key_len, f->key, T0,
					0, &text, &len, NULL, &err),
			 -ERANGE);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	ep_error_clear(&err);
	assert_int_equal(ep_bundle_seal(f->crt_pem, f->crt_len, f->key_pem, f->key_len, f->key, T0,
					EP_BUNDLE_TTL_MAX_S + 1, &text, &len, NULL, &err),
			 -ERANGE);
	ep_error_clear(&err);
	assert_int_equal(ep_bundle_seal(f->crt_pem, f->crt_len, f->key_pem, f->key_len, f->key, T0,
					EP_BUNDLE_TTL_MAX_S, &text, &len, NULL, &err),
			 0);
	free(text);
	text = NULL;
	generate(f, f->c, EP_CERT_ALL);
	size_t sl = 0, kl = 0;
	char *p = pki_file(f->c, "etcd/peer.crt");
	char *crt = slurp(p, &sl);
	free(p);
	p = pki_file(f->c, "etcd/peer.key");
	char *key = slurp(p, &kl);
	free(p);
	assert_true(ep_bundle_seal(crt, sl, key, kl, f->key, T0, 60, &text, &len, NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "is not a CA certificate"));
	ep_error_clear(&err);
	assert_true(ep_bundle_seal(f->crt_pem, f->crt_len, key, kl, f->key, T0, 60, &text, &len,
				   NULL, &err) < 0);
	assert_non_null(strstr(err.msg, "does not match"));
	assert_null(text);
	free(crt);
	free(key);
}

/* ---- on a node: export ----------------------------------------------------- */

static int export_to(struct fx *f, const char *root, const char *file, uint64_t ttl, bool force,
		     bool dry_run, char hex[EP_BUNDLE_KEY_HEX_LEN + 1], struct ep_error *err)
{
	return ep_pki_bundle_export(&f->spec, root, file, ttl, T0, force, dry_run, hex, NULL,
				    log_cb, f, err);
}

static void test_export(void **state)
{
	struct fx *f = *state;
	char file[160], hex[EP_BUNDLE_KEY_HEX_LEN + 1];
	snprintf(file, sizeof(file), "%s/ca.bundle", f->base);
	struct ep_error err = {0};
	mode_t old = umask(0);
	int r = export_to(f, f->a, file, 3600, false, false, hex, &err);
	umask(old);
	if (r < 0)
		fail_msg("%s", err.msg);
	struct stat st;
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(strlen(hex), 64);
	assert_int_equal(strspn(hex, "0123456789abcdef"), 64);
	unsigned char key[EP_BUNDLE_KEY_LEN];
	assert_int_equal(ep_bundle_key_parse(hex, key, NULL), 0);
	size_t len = 0;
	char *text = slurp(file, &len);
	struct ep_ca_bundle b;
	assert_int_equal(ep_bundle_open(text, len, file, key, T0 + 3599, &b, NULL), 0);
	assert_memory_equal(b.key_pem, f->key_pem, f->key_len);
	ep_ca_bundle_release(&b);
	open_fails(text, len, key, T0 + 3600, EP_ERR_FAILED, "expired");

	/* An existing file only with --force; the refusal leaves it alone. */
	unsigned char before[32], after[32];
	tree_digest(f->base, before);
	ep_error_clear(&err);
	assert_int_equal(export_to(f, f->a, file, 3600, false, false, hex, &err), -EEXIST);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "exists; choose another file, or add --force"));
	assert_string_equal(hex, "");
	tree_digest(f->base, after);
	assert_memory_equal(before, after, 32);
	ep_error_clear(&err);
	assert_int_equal(export_to(f, f->a, file, 60, true, false, hex, &err), 0);
	char *text2 = slurp(file, &len);
	assert_true(strcmp(text, text2) != 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	free(text);
	free(text2);

	/* A dry run checks and makes nothing. */
	char file2[200];
	snprintf(file2, sizeof(file2), "%s/dry.bundle", f->base);
	assert_int_equal(export_to(f, f->a, file2, 60, false, true, hex, &err), 0);
	assert_string_equal(hex, "");
	assert_false(ep_path_exists(file2));
	assert_true(log_has(f, "[dryrun] Would write file"));

	/* Bad --ttl, a missing directory. */
	ep_error_clear(&err);
	assert_int_equal(export_to(f, f->a, file2, 0, false, false, hex, &err), -ERANGE);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	ep_error_clear(&err);
	assert_int_equal(export_to(f, f->a, file2, 86401, false, false, hex, &err), -ERANGE);
	snprintf(file2, sizeof(file2), "%s/nodir/x.bundle", f->base);
	ep_error_clear(&err);
	assert_true(export_to(f, f->a, file2, 60, false, false, hex, &err) < 0);
	assert_non_null(strstr(err.msg, "nodir"));
	assert_string_equal(hex, "");
}

static void test_export_refusals(void **state)
{
	struct fx *f = *state;
	char file[160], hex[EP_BUNDLE_KEY_HEX_LEN + 1];
	snprintf(file, sizeof(file), "%s/x.bundle", f->base);
	char *crt = pki_file(f->a, "etcd/ca.crt"), *key = pki_file(f->a, "etcd/ca.key");
	char *journal = pki_file(f->a, "etcd/ca.ep-pair");
	/* No root at all, and a root with an empty certificate directory. */
	const char *empty[] = {f->c, f->b};
	for (size_t i = 0; i < 2; i++) {
		struct ep_error err = {0};
		assert_int_equal(export_to(f, empty[i], file, 60, false, false, hex, &err),
				 -ENOENT);
		assert_non_null(strstr(err.msg, "there is no etcd CA to export"));
	}
	struct ep_error err = {0};
	/* An interrupted write of the pair. */
	put(journal, "x", 1, 0600);
	assert_int_equal(export_to(f, f->a, file, 60, false, false, hex, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "run 'etcdpilot certs generate etcd-ca' to complete it"));
	unlink(journal);
	/* External CA: the certificate alone. */
	assert_int_equal(unlink(key), 0);
	ep_error_clear(&err);
	assert_int_equal(export_to(f, f->a, file, 60, false, false, hex, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "the etcd CA is external"));
	/* The key alone. */
	put(key, f->key_pem, f->key_len, 0600);
	assert_int_equal(unlink(crt), 0);
	ep_error_clear(&err);
	assert_int_equal(export_to(f, f->a, file, 60, false, false, hex, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "exists without"));
	/* A key that is not the certificate's. */
	generate(f, f->c, EP_CERT_BIT(EP_CERT_CA));
	char *ckey = pki_file(f->c, "etcd/ca.key");
	put(crt, f->crt_pem, f->crt_len, 0644);
	size_t kl = 0;
	char *other = slurp(ckey, &kl);
	put(key, other, kl, 0600);
	ep_error_clear(&err);
	assert_int_equal(export_to(f, f->a, file, 60, false, false, hex, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "does not match the public key"));
	/* A symlink at the key. */
	assert_int_equal(unlink(key), 0);
	assert_int_equal(symlink(ckey, key), 0);
	ep_error_clear(&err);
	assert_true(export_to(f, f->a, file, 60, false, false, hex, &err) < 0);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_false(ep_path_exists(file));
	free(other);
	free(ckey);
	free(crt);
	free(key);
	free(journal);
}

/* ---- on a node: install ------------------------------------------------------ */

static void open_ok(struct fx *f, struct ep_ca_bundle *b)
{
	size_t len = 0;
	char *text = seal(f, T0, 3600, &len);
	struct ep_error err = {0};
	if (ep_bundle_open(text, len, "B", f->key, T0, b, &err) < 0)
		fail_msg("%s", err.msg);
	free(text);
}

static int install(struct fx *f, const char *root, const struct ep_ca_bundle *b, bool dry_run,
		   bool *changed, struct ep_error *err)
{
	return ep_pki_bundle_install(&f->spec, root, b, dry_run, changed, log_cb, f, err);
}

static void install_refused(struct fx *f, const char *root, const struct ep_ca_bundle *b,
			    const char *needle)
{
	unsigned char before[32], after[32];
	tree_digest(root, before);
	struct ep_error err = {0};
	bool changed = true;
	int r = install(f, root, b, false, &changed, &err);
	tree_digest(root, after);
	if (r >= 0)
		fail_msg("installed; expected '%s'", needle);
	if (!strstr(err.msg, needle))
		fail_msg("'%s' lacks '%s'", err.msg, needle);
	assert_false(changed);
	assert_memory_equal(before, after, 32);
}

static void assert_file(const char *root, const char *rel, const char *data, size_t len,
			mode_t mode)
{
	char *p = pki_file(root, rel);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
	size_t n = 0;
	char *got = slurp(p, &n);
	assert_int_equal(n, len);
	assert_memory_equal(got, data, len);
	free(got);
	free(p);
}

static void test_install_fresh_then_generate(void **state)
{
	struct fx *f = *state;
	struct ep_ca_bundle b;
	open_ok(f, &b);

	/* A dry run says what it would write, and writes nothing. */
	unsigned char before[32], after[32];
	tree_digest(f->b, before);
	bool changed = false;
	struct ep_error err = {0};
	assert_int_equal(install(f, f->b, &b, true, &changed, &err), 0);
	assert_true(changed);
	assert_true(log_has(f, "[dryrun] Would write file"));
	assert_true(log_has(f, "ca.key\" with mode 0600 (ECDSA-P256 private key of the etcd CA"));
	tree_digest(f->b, after);
	assert_memory_equal(before, after, 32);
	/* ... also where the root does not exist. */
	assert_int_equal(install(f, f->c, &b, true, &changed, &err), 0);
	assert_false(ep_path_exists(f->c));

	mode_t old = umask(0);
	int r = install(f, f->b, &b, false, &changed, &err);
	umask(old);
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_true(changed);
	assert_file(f->b, "etcd/ca.crt", f->crt_pem, f->crt_len, 0644);
	assert_file(f->b, "etcd/ca.key", f->key_pem, f->key_len, 0600);
	char *d = pki_file(f->b, "etcd");
	struct stat st;
	assert_int_equal(stat(d, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	free(d);
	assert_true(log_has(f, "[certs] Installed the etcd CA from the bundle"));

	/* Again: the same CA, nothing to do, nothing touched. */
	tree_digest(f->b, before);
	assert_int_equal(install(f, f->b, &b, false, &changed, &err), 0);
	assert_false(changed);
	assert_true(log_has(f, "is already the bundle's CA"));
	tree_digest(f->b, after);
	assert_memory_equal(before, after, 32);

	/* The PKI takes it as its own: leaves signed by the shared CA. */
	free(f->spec.name);
	f->spec.name = strdup("cp2");
	generate(f, f->b, EP_CERT_ALL);
	char *sp = pki_file(f->b, "etcd/server.crt");
	size_t sl = 0;
	char *spem = slurp(sp, &sl);
	X509 *srv = NULL;
	assert_int_equal(ep_pki_cert_parse(spem, sl, sp, &srv, NULL), 0);
	assert_true(pki_cert_issued_by(srv, b.crt));
	X509_free(srv);
	free(spem);
	free(sp);
	assert_file(f->b, "etcd/ca.key", f->key_pem, f->key_len, 0600);
	ep_ca_bundle_release(&b);
}

static void test_install_existing(void **state)
{
	struct fx *f = *state;
	struct ep_ca_bundle b;
	open_ok(f, &b);
	struct ep_error err = {0};
	bool changed = false;

	/* Another CA on the node: refused, naming both. */
	generate(f, f->c, EP_CERT_ALL);
	char fpr[EP_BUNDLE_FPR_LEN + 1];
	char *cc = pki_file(f->c, "etcd/ca.crt");
	size_t cl = 0;
	char *cpem = slurp(cc, &cl);
	fpr_of(cpem, cl, fpr);
	install_refused(f, f->c, &b, "this node already has a different etcd CA");
	install_refused(f, f->c, &b, fpr);
	install_refused(f, f->c, &b, "would split the cluster's trust");

	/* The bundle's certificate without its key (an external CA): the key is added. */
	char *bc = pki_file(f->b, "etcd/ca.crt"), *bk = pki_file(f->b, "etcd/ca.key");
	char dir[200];
	snprintf(dir, sizeof(dir), "%s/etc/kubernetes/pki/etcd", f->b);
	assert_int_equal(ep_mkdir_p(dir, 0755, NULL), 0);
	put(bc, f->crt_pem, f->crt_len, 0644);
	assert_int_equal(install(f, f->b, &b, false, &changed, &err), 0);
	assert_true(changed);
	assert_file(f->b, "etcd/ca.key", f->key_pem, f->key_len, 0600);

	/* The key alone, the bundle's: the certificate is added. */
	assert_int_equal(unlink(bc), 0);
	assert_int_equal(install(f, f->b, &b, false, &changed, &err), 0);
	assert_true(changed);
	assert_file(f->b, "etcd/ca.crt", f->crt_pem, f->crt_len, 0644);

	/* The bundle's certificate beside another key, or another key alone: refused. */
	size_t kl = 0;
	char *ck = pki_file(f->c, "etcd/ca.key");
	char *ckey = slurp(ck, &kl);
	put(bk, ckey, kl, 0600);
	install_refused(f, f->b, &b, "does not match it; nothing was changed");
	assert_int_equal(unlink(bc), 0);
	install_refused(f, f->b, &b, "exists without");

	/* A symlink at either name. */
	assert_int_equal(unlink(bk), 0);
	assert_int_equal(symlink(ck, bk), 0);
	install_refused(f, f->b, &b, "symbolic link");
	assert_int_equal(unlink(bk), 0);
	assert_int_equal(symlink(cc, bc), 0);
	install_refused(f, f->b, &b, "symbolic link");
	assert_int_equal(unlink(bc), 0);

	/* Stale temp files of an interrupted run go; a journal is completed first. */
	char stale[300];
	snprintf(stale, sizeof(stale), "%s.ep-0123456789abcdef", bk);
	put(stale, "junk", 4, 0600);
	assert_int_equal(install(f, f->b, &b, false, &changed, &err), 0);
	assert_false(ep_path_exists(stale));
	assert_true(log_has(f, "stale temporary file"));

	free(cc);
	free(cpem);
	free(bc);
	free(bk);
	free(ck);
	free(ckey);
	ep_ca_bundle_release(&b);
}

/* import: every refusal of the file and key leaves the node root as it was. */
static void test_import_refusals_change_nothing(void **state)
{
	struct fx *f = *state;
	char file[160], bad[180], hex[EP_BUNDLE_KEY_HEX_LEN + 1];
	snprintf(file, sizeof(file), "%s/ca.bundle", f->base);
	snprintf(bad, sizeof(bad), "%s/bad.bundle", f->base);
	struct ep_error err = {0};
	assert_int_equal(export_to(f, f->a, file, 3600, false, false, hex, &err), 0);
	size_t len = 0;
	char *text = slurp(file, &len);
	char wrong[EP_BUNDLE_KEY_HEX_LEN + 1];
	memcpy(wrong, hex, sizeof(wrong));
	wrong[10] = wrong[10] == '0' ? '1' : '0';

	unsigned char before[32], after[32];
	tree_digest(f->b, before);
	struct {
		const char *file, *key;
		time_t now;
		enum ep_error_kind kind;
		const char *needle;
	} cases[] = {
	    {file, wrong, T0, EP_ERR_FAILED, "the certificate key is wrong or the bundle"},
	    {file, "abc", T0, EP_ERR_USAGE, "is 3 characters long"},
	    {file, NULL, T0, EP_ERR_USAGE, "missing"},
	    {file, hex, T0 + 3600, EP_ERR_FAILED, "expired at"},
	    {"/nonexistent/b", hex, T0, EP_ERR_USAGE, "reading '/nonexistent/b'"},
	    {f->base, hex, T0, EP_ERR_USAGE, "not a regular file"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ep_error_clear(&err);
		bool changed = true;
		int r = ep_pki_bundle_import(&f->spec, f->b, cases[i].file, cases[i].key,
					     cases[i].now, false, NULL, &changed, log_cb, f, &err);
		assert_true(r < 0);
		assert_false(changed);
		if (!strstr(err.msg, cases[i].needle) || err.kind != cases[i].kind)
			fail_msg("case %zu: '%s' (kind %d)", i, err.msg, err.kind);
	}
	/* Flipped bytes across the file, and truncations, through the file. */
	for (size_t i = 0; i < len; i += 23) {
		for (int pass = 0; pass < 2; pass++) {
			char *t = malloc(len);
			memcpy(t, text, len);
			size_t n = len;
			if (pass == 0)
				t[i] ^= 0x04;
			else
				n = i == len - 1 ? i - 1 : i; /* not just the final newline */
			put(bad, t, n, 0600);
			free(t);
			ep_error_clear(&err);
			assert_true(ep_pki_bundle_import(&f->spec, f->b, bad, hex, T0, false, NULL,
							 NULL, log_cb, f, &err) < 0);
		}
	}
	tree_digest(f->b, after);
	assert_memory_equal(before, after, 32);

	/* And the good one, with the header handed back. */
	struct ep_bundle_info info;
	bool changed = false;
	ep_error_clear(&err);
	assert_int_equal(ep_pki_bundle_import(&f->spec, f->b, file, hex, T0, false, &info, &changed,
					      log_cb, f, &err),
			 0);
	assert_true(changed);
	assert_int_equal(info.expires, T0 + 3600);
	assert_file(f->b, "etcd/ca.key", f->key_pem, f->key_len, 0600);
	free(text);
}

#define FX(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_key_parse),
	    FX(test_round_trip),
	    FX(test_not_a_bundle),
	    FX(test_damaged_lines),
	    FX(test_every_byte_changed),
	    FX(test_truncated_everywhere),
	    FX(test_wrong_key),
	    FX(test_expired),
	    FX(test_bad_content),
	    FX(test_seal_refuses),
	    FX(test_export),
	    FX(test_export_refusals),
	    FX(test_install_fresh_then_generate),
	    FX(test_install_existing),
	    FX(test_import_refusals_change_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
