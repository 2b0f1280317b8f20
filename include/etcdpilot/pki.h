/*
 * pki.h - the etcd PKI in kubeadm's layout: the etcd CA and this node's
 * server, peer, healthcheck-client and apiserver-etcd-client pairs under the
 * certificates directory, with kubeadm's profiles (CN, SANs, key usages,
 * validity, backdating), so that kubeadm can use what etcdpilot writes and
 * etcdpilot can take over what kubeadm wrote.
 *
 * Every operation plans first and writes last: under an exclusive lock on
 * the certificate directory (one writer at a time, waiting at most 30 s for
 * another etcdpilot), all existing files are loaded and checked, all keys and
 * certificates are made in memory, and only then is anything written
 * (through ep_write_atomic, with SIGINT, SIGTERM and SIGHUP held back until
 * the writes are over).  A failed check writes nothing; a write that fails
 * part-way is rolled back (replaced files get their previous content back,
 * new ones are removed) and the error says what is on disk.  Dry runs take
 * no lock and write nothing.  The library never prints: progress goes to an
 * ep_log_fn.
 */
#ifndef ETCDPILOT_PKI_H
#define ETCDPILOT_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/types.h>
#include <openssl/x509.h> /* STACK_OF(X509) */

#include "etcdpilot/log.h"
#include "etcdpilot/spec.h"

struct ep_error;

/* The five pairs, in the order kubeadm creates them. */
enum ep_cert_id {
	EP_CERT_CA = 0,
	EP_CERT_SERVER,
	EP_CERT_PEER,
	EP_CERT_HEALTHCHECK_CLIENT,
	EP_CERT_APISERVER_ETCD_CLIENT,
	EP_CERT_COUNT,
};

#define EP_CERT_BIT(id) (1u << (id))
#define EP_CERT_ALL	((1u << EP_CERT_COUNT) - 1)
#define EP_CERT_LEAVES	(EP_CERT_ALL & ~EP_CERT_BIT(EP_CERT_CA))

/* Backdating of NotBefore, as kubeadm's CertificateBackdate. */
#define EP_CERT_BACKDATE_S 300

struct ep_cert_profile {
	enum ep_cert_id id;
	const char *name; /* kubeadm's name: "etcd-ca", "etcd-server", ... */
	const char *base; /* under the cert dir, no extension: "etcd/server" */
	const char *cn;	  /* fixed common name; NULL = the node name */
	bool is_ca;
	bool server_auth;    /* EKU serverAuth besides clientAuth (leaves) */
	bool node_sans;	     /* node name, localhost, advertise address, loopbacks */
	const char *restart; /* what must restart after renewal ("etcd", ...) */
	const char *purpose; /* kubeadm's long name: "certificate for serving etcd" */
};

/* The profile of @id (static storage); NULL for an out-of-range id. */
const struct ep_cert_profile *ep_cert_profile(enum ep_cert_id id);

/* Find a profile by kubeadm name ("etcd-server").  0 or -ENOENT. */
int ep_cert_lookup(const char *name, enum ep_cert_id *ret);

/*
 * Where @id's certificate and key live under @root (NULL = "/"): heap
 * strings in *@ret_crt and *@ret_key (either may be NULL if not wanted).
 * The directory is mapped with ep_root_path(); the file names are appended
 * as they are, so a symlink planted at a file name is seen as such by the
 * callers (which refuse it).  0 or a negative errno with @err.
 */
int ep_pki_paths(const struct ep_spec *spec, const char *root, enum ep_cert_id id, char **ret_crt,
		 char **ret_key, struct ep_error *err);

/*
 * Ensure the CA and all four leaf pairs of @spec exist and are valid under
 * @root (NULL = "/"): generate what is missing, reuse what is valid, fail
 * (nothing written) on anything inconsistent.  With @dry_run, log what
 * would be written and write nothing.  @log may be NULL.  0 or -errno with
 * @err.  Same as ep_pki_generate(spec, root, EP_CERT_ALL, ...).
 */
int ep_pki_ensure(const struct ep_spec *spec, const char *root, bool dry_run, ep_log_fn log,
		  void *userdata, struct ep_error *err);

/*
 * Like ep_pki_ensure() for the pairs in @mask (EP_CERT_BIT()s).  A leaf
 * needs the CA: when the CA does not exist and is not in @mask, that is an
 * error.  A CA certificate without its key is an external CA: leaves must
 * then exist and verify.  A CA key without its certificate is an error
 * whatever @mask says (a new certificate for the old key would be a CA no
 * other member trusts).  Expired certificates are reused with a
 * "[certs] WARNING" line, and so is a new leaf that would outlive its CA
 * (kubeadm gives it its full validity all the same).  Stale temp files of
 * an interrupted run beside the files it writes are removed.  The
 * certificate directory is created (when missing) only after the checks
 * passed.  0 or -errno with @err (EP_ERR_USAGE for bad input such as a mask
 * of 0; -EBUSY when another etcdpilot held the lock for 30 s).
 */
int ep_pki_generate(const struct ep_spec *spec, const char *root, unsigned mask, bool dry_run,
		    ep_log_fn log, void *userdata, struct ep_error *err);

/*
 * ep_pki_generate() that also says which pairs it wrote (with @dry_run:
 * would write): *@ret_written (may be NULL) gets their EP_CERT_BIT()s.  A
 * plan asks this on a dry run to know whether the certs phase changes
 * anything, instead of reading its log lines.
 */
int ep_pki_generate_ex(const struct ep_spec *spec, const char *root, unsigned mask, bool dry_run,
		       ep_log_fn log, void *userdata, unsigned *ret_written,
		       struct ep_error *err);

/*
 * Renew the leaf certificates in @mask with the CA (kubeadm's rule: a new
 * key of spec->key_type; the subject CN and O, the DNS and IP SANs and the
 * extended key usages copied from the existing certificate; a new validity
 * of spec->cert_validity_s).  The CA is never renewed: a mask holding it is
 * a usage error.  Without ca.key renewal is impossible (external CA).  A
 * leaf that does not exist is an error when it alone was asked for, and is
 * skipped with a log line when several were.  *@ret_renewed (may be NULL)
 * gets the mask actually renewed (or, with @dry_run, that would be).
 * Nothing is written unless every pair could be renewed, and a failure
 * while writing puts every replaced key and certificate back.  The subject
 * is written in Go's order (O before CN).  0 or -errno.
 */
int ep_pki_renew(const struct ep_spec *spec, const char *root, unsigned mask, bool dry_run,
		 unsigned *ret_renewed, ep_log_fn log, void *userdata, struct ep_error *err);

/* What check-expiration shows for one certificate. */
struct ep_cert_status {
	enum ep_cert_id id;
	char *crt_path; /* under the root (heap) */
	bool missing;	/* the certificate file does not exist */
	bool external;	/* the CA key is absent: managed outside etcdpilot */
	time_t not_before;
	time_t not_after;
};

struct ep_pki_status {
	time_t now;
	struct ep_cert_status certs[EP_CERT_COUNT]; /* indexed by enum ep_cert_id */
};

/*
 * Read every certificate of @spec under @root into @st (zeroed by the
 * call; release with ep_pki_status_release, also after a failure).  A
 * missing file is not an error (missing = true); an unreadable or corrupt
 * one is.  0 or -errno with @err.
 */
int ep_pki_status_read(const struct ep_spec *spec, const char *root, struct ep_pki_status *st,
		       struct ep_error *err);
void ep_pki_status_release(struct ep_pki_status *st);

/* kubeadm's EXPIRES column: "Nov 25, 2027 10:47 UTC".  Writes into @buf. */
void ep_pki_format_expiry(time_t t, char *buf, size_t size);

/*
 * kubeadm's RESIDUAL TIME (Go's ShortHumanDuration of @not_after - @now,
 * taking @now as mid-second as Go's clock is): "<invalid>" when more than a
 * second in the past, "0s", "59s", "59m", "23h", "364d", "9y".  A fresh
 * one-year certificate shows "364d", as in kubeadm.  Writes into @buf.
 */
void ep_pki_format_residual(time_t now, time_t not_after, char *buf, size_t size);

/*
 * Parse the first PEM certificate of @buf (@len bytes, need not be
 * NUL-terminated).  @what names the source in messages, which say what is
 * wrong in the user's terms: an empty file, no PEM at all (or DER), a key
 * where a certificate belongs, a truncated or damaged block.  *@ret is owned
 * by the caller (X509_free).  0 or -EINVAL with @err.
 */
int ep_pki_cert_parse(const char *buf, size_t len, const char *what, X509 **ret,
		      struct ep_error *err);

/*
 * Every PEM certificate of @buf, in order (a CA bundle, or a certificate
 * and its chain), as a new stack in *@ret (sk_X509_pop_free).  The first
 * must parse, with ep_pki_cert_parse's messages; reading stops at the first
 * block after it that is not a certificate.  0 or -errno with @err.
 */
int ep_pki_certs_parse(const char *buf, size_t len, const char *what, STACK_OF(X509) **ret,
		       struct ep_error *err);

/*
 * Parse a PEM private key (PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE
 * KEY" or PKCS#8 "PRIVATE KEY"; never prompts for a passphrase).  Only RSA
 * and ECDSA keys are accepted, as kubeadm's TryLoadKeyFromDisk.  An
 * encrypted key is refused with the command that decrypts it; other
 * failures get the specific reasons ep_pki_cert_parse gives.  *@ret is
 * owned by the caller (EVP_PKEY_free).  0 or -EINVAL with @err.
 */
int ep_pki_key_parse(const char *buf, size_t len, const char *what, EVP_PKEY **ret,
		     struct ep_error *err);

/* Generate a key of type @kt into *@ret (caller frees).  0 or -EIO with @err. */
int ep_pki_key_new(enum ep_key_type kt, EVP_PKEY **ret, struct ep_error *err);

/* "RSA-2048", "ECDSA-P256", "Ed25519"... of @pkey into @buf. */
void ep_pki_key_describe(const EVP_PKEY *pkey, char *buf, size_t size);

#endif
