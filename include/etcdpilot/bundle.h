/*
 * bundle.h - the etcd CA shared between control-plane nodes without an API
 * server: an encrypted, expiring "CA bundle" (kubeadm's certificate-key
 * idea: kubeadm init --upload-certs / join --certificate-key).
 *
 * The key is 32 random bytes (RAND_bytes), given to the user once as 64 hex
 * digits and never written anywhere; the cipher is AES-256-GCM with a fresh
 * random 96-bit nonce.  The file is PEM-like text, so that it can be copied
 * or pasted:
 *
 *   -----BEGIN ETCDPILOT CA BUNDLE-----
 *   Version: 1
 *   Created: 2026-03-01T10:00:00Z
 *   Expires: 2026-03-01T12:00:00Z
 *   CA-SHA256: 3F:0A:...:9C              (SHA-256 of the CA certificate's DER)
 *
 *   <base64, 64 columns: nonce (12 bytes) | ciphertext | GCM tag (16 bytes)>
 *   -----END ETCDPILOT CA BUNDLE-----
 *
 * The header lines are readable without the key (to see when a bundle
 * expires and which CA it holds) and are authenticated: the GCM additional
 * data is "etcdpilot-ca-bundle\n" followed by the four header lines exactly
 * as above, so changing any of them makes the bundle fail to open.  The
 * plaintext is the CA certificate file and the CA key file, byte for byte
 * as they are on the exporting node, each behind its length as a 32-bit
 * big-endian number.  Parsing is strict: the text must be exactly what
 * export writes, except that lines may end in CRLF, the final newline may
 * be missing and empty lines may follow the END line.
 *
 * What the bundle checks and in which order (ep_bundle_open), so that join
 * and import say the same: (1) it is a bundle at all, of a version this
 * etcdpilot reads, whole (not truncated) and well formed - EP_ERR_USAGE;
 * (2) it has not expired; (3) the key opens it (GCM cannot tell a wrong key
 * from an altered file); (4) the decrypted pair parses, is a CA
 * (basicConstraints CA:TRUE), the key matches the certificate and the
 * certificate is the one the header names - all EP_ERR_FAILED.
 *
 * Nothing in the PKI depends on a bundle: what import installs is
 * <cert_dir>/etcd/ca.crt and ca.key, exactly as a CA copied by hand.
 */
#ifndef ETCDPILOT_BUNDLE_H
#define ETCDPILOT_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>

#include "etcdpilot/log.h"
#include "etcdpilot/spec.h"

struct ep_error;

#define EP_BUNDLE_VERSION	1
#define EP_BUNDLE_KEY_LEN	32	     /* bytes of the certificate key (AES-256) */
#define EP_BUNDLE_KEY_HEX_LEN	64	     /* ... as the user sees it */
#define EP_BUNDLE_FPR_LEN	95	     /* "AB:CD:..." : 32 bytes as colon-separated hex */
#define EP_BUNDLE_TTL_DEFAULT_S (2 * 3600)   /* kubeadm's uploaded certs live 2 h */
#define EP_BUNDLE_TTL_MAX_S	(24 * 3600)  /* longest --ttl export accepts */
#define EP_BUNDLE_MAX_FILE	(256 * 1024) /* largest bundle read */
#define EP_BUNDLE_MAX_PART	(64 * 1024)  /* largest ca.crt or ca.key carried */

#define EP_BUNDLE_BEGIN "-----BEGIN ETCDPILOT CA BUNDLE-----"
#define EP_BUNDLE_END	"-----END ETCDPILOT CA BUNDLE-----"

/* What a bundle's header says (readable without the key). */
struct ep_bundle_info {
	unsigned version;
	time_t created;
	time_t expires;
	char ca_sha256[EP_BUNDLE_FPR_LEN + 1]; /* uppercase hex pairs joined by ':' */
};

/* An opened (decrypted and checked) bundle.  Release with ep_ca_bundle_release. */
struct ep_ca_bundle {
	struct ep_bundle_info info;
	char *crt_pem; /* the CA certificate file, as exported (heap) */
	size_t crt_len;
	char *key_pem; /* the CA key file, as exported (heap, wiped on release) */
	size_t key_len;
	X509 *crt;     /* parsed from crt_pem (its first certificate) */
	EVP_PKEY *key; /* parsed from key_pem */
};

/*
 * Wipe and free what @b holds (NULL fine) and zero it; safe on a zeroed
 * struct and after a failed ep_bundle_open.
 */
void ep_ca_bundle_release(struct ep_ca_bundle *b);

/*
 * Parse the certificate key @hex: exactly 64 hexadecimal digits (either
 * case) into @key.  NULL or "" is "missing".  The message never repeats
 * the value (it is a secret); it says what is wrong with it: its length,
 * or the position of the first character that is no hex digit.  0 or
 * -EINVAL with @err (EP_ERR_USAGE).  @key is wiped on failure.
 */
int ep_bundle_key_parse(const char *hex, unsigned char key[EP_BUNDLE_KEY_LEN],
			struct ep_error *err);

/*
 * Check that @data (@len bytes, need not be NUL-terminated; outside input)
 * is a whole, well-formed bundle of a known version and fill *@ret (may be
 * NULL) from its header.  Needs no key; decrypts nothing.  @what names the
 * file in messages.  0, or -EINVAL with @err (EP_ERR_USAGE) saying which:
 * empty; not a bundle (a PEM block of another kind is named); a version
 * this etcdpilot does not read; truncated (no END line); damaged (the line
 * and what is wrong in it).
 */
int ep_bundle_parse(const void *data, size_t len, const char *what, struct ep_bundle_info *ret,
		    struct ep_error *err);

/*
 * Parse, check the expiry against @now, decrypt with @key and check the
 * pair, in that order (see the top of this file), into *@ret (zeroed
 * first; release it with ep_ca_bundle_release also after a failure).
 * Errors: those of ep_bundle_parse (EP_ERR_USAGE); then EP_ERR_FAILED:
 * -ETIMEDOUT expired ("expired at ... ago; export a new one"), -EBADMSG
 * "the certificate key is wrong or the bundle was altered", -EINVAL for a
 * decrypted content that is no CA pair.  Plaintext that fails is wiped.
 */
int ep_bundle_open(const void *data, size_t len, const char *what,
		   const unsigned char key[EP_BUNDLE_KEY_LEN], time_t now, struct ep_ca_bundle *ret,
		   struct ep_error *err);

/*
 * Make a bundle of the CA certificate file @crt_pem and key file @key_pem
 * (as they are on disk; each at most EP_BUNDLE_MAX_PART bytes), created at
 * @created and expiring @ttl_s seconds later (1 .. EP_BUNDLE_TTL_MAX_S),
 * encrypted with @key under a fresh random nonce.  The pair is checked
 * first as ep_bundle_open checks it (a CA, the key matching), so a bundle
 * that cannot be imported is never made.  *@ret_text (heap, caller frees)
 * gets the text, *@ret_len its length; *@ret_info (may be NULL) the header.
 * 0 or -errno with @err (EP_ERR_USAGE for a bad @ttl_s).
 */
int ep_bundle_seal(const char *crt_pem, size_t crt_len, const char *key_pem, size_t key_len,
		   const unsigned char key[EP_BUNDLE_KEY_LEN], time_t created, uint64_t ttl_s,
		   char **ret_text, size_t *ret_len, struct ep_bundle_info *ret_info,
		   struct ep_error *err);

/* "2026-03-01T12:00:00Z" (RFC 3339, UTC) of @t into @buf (at least 21 bytes). */
void ep_bundle_format_time(time_t t, char *buf, size_t size);

/* ---- on a node ----------------------------------------------------------- */

/*
 * 'certs export-bundle': read <cert_dir>/etcd/ca.crt and ca.key of @spec
 * under @root (NULL = "/") under the certificate directory's lock, check
 * them (both present: a CA key alone or an external CA - a certificate
 * without its key - is refused and the message says which; a CA; the key
 * matching; no interrupted write of the pair pending), make a new key and
 * write the bundle to @file atomically with mode 0600.  @file is a path of
 * the invoking user, not a node path: it is not under @root (a relative
 * path is relative to the working directory).  An existing @file is
 * refused (EP_ERR_USAGE, -EEXIST) unless @force; the check and the write
 * are one step (link(2) of a complete temp file), so nothing is replaced
 * by a race either.  @ttl_s as for ep_bundle_seal.  With @dry_run the CA
 * is checked (no lock taken) and nothing is made or written.
 * @ret_key_hex (65 bytes) gets the key as 64 lowercase hex digits and a NUL
 * ("" with @dry_run): the only copy - the caller shows it once and wipes
 * it (OPENSSL_cleanse).  *@ret_info (may be NULL) gets the header.  @log
 * (may be NULL) gets "[certs] WARNING" lines (a CA that has expired).
 * 0 or -errno with @err; on failure @ret_key_hex is wiped and no file is
 * left behind.
 */
int ep_pki_bundle_export(const struct ep_spec *spec, const char *root, const char *file,
			 uint64_t ttl_s, time_t now, bool force, bool dry_run,
			 char ret_key_hex[EP_BUNDLE_KEY_HEX_LEN + 1],
			 struct ep_bundle_info *ret_info, ep_log_fn log, void *userdata,
			 struct ep_error *err);

/*
 * Install the CA of the opened bundle @b as <cert_dir>/etcd/ca.crt (0644)
 * and ca.key (0600) of @spec under @root, exactly as exported, the two as
 * one pair (ep_pair_commit_at, journal "ca.ep-pair", the one certs generate
 * completes after a crash), under the certificate directory's lock (which
 * also completes a pair an interrupted run left and removes its temp
 * files, as certs generate does).  What is there decides:
 *   - nothing: both are written (the directories are made, 0755, when
 *     missing);
 *   - the same CA certificate and its key: nothing to do (*@ret_changed
 *     false, a log line says so);
 *   - the same certificate without its key (an external CA until now):
 *     the key is written; the key alone, matching the bundle's
 *     certificate: the certificate is written;
 *   - a different CA certificate, or a key that does not belong to the
 *     bundle's certificate: refused (-EEXIST, EP_ERR_FAILED): it would
 *     split the cluster's trust; the message names both fingerprints and
 *     what to do.
 * A symlink or anything but a regular file at either name is refused, as
 * everywhere in the PKI.  With @dry_run nothing is locked or written and
 * @log gets "[dryrun] Would write ..." lines.  *@ret_changed (may be NULL)
 * says whether anything was (or would be) written.  @log (may be NULL)
 * gets one line per file written and a warning when the CA has expired or
 * is not valid yet.  This is the call 'join --ca-bundle' makes in its
 * certs phase, after ep_bundle_open in preflight: the key then never
 * needs to be kept, and a bad bundle stops join before any cluster call.
 * 0 or -errno with @err; on failure nothing was changed (a failed pair
 * commit puts back what was there and says so).
 */
int ep_pki_bundle_install(const struct ep_spec *spec, const char *root,
			  const struct ep_ca_bundle *b, bool dry_run, bool *ret_changed,
			  ep_log_fn log, void *userdata, struct ep_error *err);

/*
 * 'certs import-bundle' (and, with @dry_run, a preflight check): parse
 * @key_hex (ep_bundle_key_parse), read @file (a path of the invoking user,
 * not under @root; at most EP_BUNDLE_MAX_FILE bytes; a missing or
 * unreadable file is EP_ERR_USAGE), ep_bundle_open it at @now, then
 * ep_pki_bundle_install.  Every refusal comes before anything is written.
 * *@ret_info (may be NULL) gets the header once it parsed; *@ret_changed
 * as for ep_pki_bundle_install.  The key and the plaintext are wiped
 * before the call returns.  0 or -errno with @err.
 */
int ep_pki_bundle_import(const struct ep_spec *spec, const char *root, const char *file,
			 const char *key_hex, time_t now, bool dry_run,
			 struct ep_bundle_info *ret_info, bool *ret_changed, ep_log_fn log,
			 void *userdata, struct ep_error *err);

#endif
