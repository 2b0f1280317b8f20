/*
 * fuzz_pem.c - libFuzzer target for the PEM certificate and key loaders:
 * arbitrary bytes as the content of a .crt or .key file.  Whatever parses
 * goes through everything generate and check-expiration then ask of it
 * (SANs, validity, CA flag, key description, key/certificate match,
 * signature check, the missing-SAN message), so the whole path from an
 * untrusted file to a message is exercised.  Every error must leave a
 * non-empty message and nothing allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "etcdpilot/error.h"
#include "etcdpilot/pki.h"
#include "pki_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_error err;
	X509 *crt = NULL;
	EVP_PKEY *key = NULL;

	ep_error_clear(&err);
	if (ep_pki_cert_parse((const char *)data, size, "fuzz.crt", &crt, &err) < 0) {
		if (!err.msg[0] || crt)
			abort();
	}
	ep_error_clear(&err);
	if (ep_pki_key_parse((const char *)data, size, "fuzz.key", &key, &err) < 0) {
		if (!err.msg[0] || key)
			abort();
	}

	char buf[256];
	if (key)
		ep_pki_key_describe(key, buf, sizeof(buf));
	if (crt) {
		struct pki_sans have = {0}, want = {0};
		time_t nb, na;
		(void)pki_cert_times(crt, &nb, &na);
		(void)pki_cert_is_ca(crt);
		(void)pki_cert_issued_by(crt, crt);
		pki_name_oneline(X509_get_subject_name(crt), buf, sizeof(buf));
		if (pki_sans_of_cert(crt, &have, NULL) == 0) {
			ep_strv_push(&want.dns, "cp1");
			ep_strv_push(&want.ip, "10.0.0.11");
			bool oom = false;
			free(pki_sans_missing(&want, &have, &oom));
			free(pki_sans_describe(&have, true));
			free(pki_sans_describe(&have, false));
		}
		pki_sans_release(&have);
		pki_sans_release(&want);
		if (key)
			(void)X509_check_private_key(crt, key);
	}
	X509_free(crt);
	EVP_PKEY_free(key);
	return 0;
}
