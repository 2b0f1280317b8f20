/*
 * fuzz_bundle.c - libFuzzer target for the CA bundle, which comes from
 * another machine: arbitrary bytes as the bundle file (parsed, then opened
 * with a fixed key at a fixed time, so that the committed seed bundle,
 * sealed with that key, opens and its neighbours reach every check up to
 * the tag), as a decrypted plaintext (the length framing, the PEM pair, the
 * CA and key checks that only a key holder can reach through a bundle), and
 * as a certificate key argument.  Every failure must leave a non-empty
 * message and nothing allocated in the result.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bundle_internal.h"
#include "etcdpilot/bundle.h"
#include "etcdpilot/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The seeds' key: bytes 0, 1, ..., 31.  Their clock: 2030-01-01T00:00:00Z. */
#define FUZZ_NOW ((time_t)1893456000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char key[EP_BUNDLE_KEY_LEN];
	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	struct ep_error err;

	ep_error_clear(&err);
	struct ep_bundle_info info;
	if (ep_bundle_parse(data, size, "fuzz.bundle", &info, &err) < 0 && !err.msg[0])
		abort();

	ep_error_clear(&err);
	struct ep_ca_bundle b;
	if (ep_bundle_open(data, size, "fuzz.bundle", key, FUZZ_NOW, &b, &err) < 0) {
		if (!err.msg[0] || b.crt || b.key || b.crt_pem || b.key_pem)
			abort();
	} else if (!b.crt || !b.key || !b.crt_pem || !b.key_pem) {
		abort();
	}
	ep_ca_bundle_release(&b);

	ep_error_clear(&err);
	struct ep_ca_bundle p = {0};
	memset(p.info.ca_sha256, 'A', EP_BUNDLE_FPR_LEN);
	if (bundle_plain_check(data, size, "fuzz.plain", &p, &err) < 0 && !err.msg[0])
		abort();
	ep_ca_bundle_release(&p);

	char hex[80];
	size_t n = size < sizeof(hex) - 1 ? size : sizeof(hex) - 1;
	memcpy(hex, data, n);
	hex[n] = '\0';
	ep_error_clear(&err);
	if (ep_bundle_key_parse(hex, key, &err) < 0 && !err.msg[0])
		abort();
	return 0;
}
