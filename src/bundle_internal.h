/*
 * bundle_internal.h - what bundle.c lends to pki_bundle.c, the unit tests
 * and the fuzzer, and nobody else: the parser's full result, the check of
 * a decrypted plaintext, and a sealer that checks nothing (so that tests
 * can make bundles export never would: a non-CA pair, a header naming
 * another CA, a plaintext that is no pair at all).
 */
#ifndef ETCDPILOT_BUNDLE_INTERNAL_H
#define ETCDPILOT_BUNDLE_INTERNAL_H

#include <stddef.h>

#include <openssl/types.h>

#include "etcdpilot/bundle.h"

#define BUNDLE_MAGIC	 "etcdpilot-ca-bundle\n"
#define BUNDLE_NONCE_LEN 12
#define BUNDLE_TAG_LEN	 16

/* A bundle whose text parsed: the header and the decoded binary part. */
struct bundle_parsed {
	struct ep_bundle_info info;
	unsigned char *blob; /* nonce | ciphertext | tag (heap) */
	size_t blob_len;
};

void bundle_parsed_release(struct bundle_parsed *p);

/* ep_bundle_parse, keeping the binary part in *@ret (release it also after a failure). */
int bundle_parse_full(const void *data, size_t len, const char *what, struct bundle_parsed *ret,
		      struct ep_error *err);

/*
 * Check the decrypted @plain (@len bytes, outside input once decrypted:
 * lengths, PEM, CA flag, key match, the header's fingerprint in @ret->info,
 * which the caller has set) and fill @ret's crt/key fields.  @what names the
 * bundle.  0 or -EINVAL (EP_ERR_FAILED) with @err.
 */
int bundle_plain_check(const unsigned char *plain, size_t len, const char *what,
		       struct ep_ca_bundle *ret, struct ep_error *err);

/* The SHA-256 fingerprint of @crt's DER as ep_bundle_info.ca_sha256 writes it.  0 or -EIO. */
int bundle_fingerprint(X509 *crt, char out[EP_BUNDLE_FPR_LEN + 1]);

/*
 * For tests: seal @plain as it is under a header saying @version,
 * @ca_sha256 (any text), @created and @expires.  No check at all.
 * *@ret_text (heap) and *@ret_len.  0 or -errno with @err.
 */
int bundle_seal_raw(const void *plain, size_t plen, unsigned version, const char *ca_sha256,
		    time_t created, time_t expires, const unsigned char key[EP_BUNDLE_KEY_LEN],
		    char **ret_text, size_t *ret_len, struct ep_error *err);

/* The plaintext export seals: each file behind its 32-bit big-endian length.  Heap, or NULL. */
unsigned char *bundle_plain_make(const char *crt, size_t crt_len, const char *key, size_t key_len,
				 size_t *ret_len);

#endif
