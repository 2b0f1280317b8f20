/*
 * pki_internal.h - what the pki*.c files share and nobody else may use:
 * SAN sets, the certificate builder, PEM encoders and parallel key
 * generation.
 */
#ifndef ETCDPILOT_PKI_INTERNAL_H
#define ETCDPILOT_PKI_INTERNAL_H

#include <openssl/x509v3.h>

#include "etcdpilot/pki.h"
#include "util/cleanup.h"

EP_DEFINE_CLEANUP(X509 *, X509_free)
EP_DEFINE_CLEANUP(EVP_PKEY *, EVP_PKEY_free)
EP_DEFINE_CLEANUP(X509_NAME *, X509_NAME_free)
EP_DEFINE_CLEANUP(BIO *, BIO_free_all)
EP_DEFINE_CLEANUP(GENERAL_NAMES *, GENERAL_NAMES_free)
EP_DEFINE_CLEANUP(EXTENDED_KEY_USAGE *, EXTENDED_KEY_USAGE_free)

/* Largest PEM file the loaders read: a certificate chain, never megabytes. */
#define PKI_MAX_FILE (1024 * 1024)

/* A set of SANs in canonical text: DNS names lowercased, IPs as inet_ntop. */
struct pki_sans {
	struct ep_strv dns;
	struct ep_strv ip;
};

void pki_sans_release(struct pki_sans *s);

/*
 * The SANs this node needs in @prof's certificate (kubeadm's
 * GetEtcdAltNames / GetEtcdPeerAltNames, or DNS etcd-ca for the CA).
 * Extra SANs that are neither an IP nor a DNS name are dropped with a
 * "[certs] WARNING" line through @log, as kubeadm does.  0 or -ENOMEM.
 */
int pki_sans_desired(const struct ep_spec *spec, const struct ep_cert_profile *prof,
		     struct pki_sans *out, ep_log_fn log, void *ud, struct ep_error *err);

/* The DNS and IP SANs of @crt (others are ignored).  0 or -errno. */
int pki_sans_of_cert(const X509 *crt, struct pki_sans *out, struct ep_error *err);

/*
 * "DNS names [a b] and IPs [c d]" (kubeadm's wording) or, with @compact,
 * "DNS a, b; IP c, d".  Heap string or NULL.
 */
char *pki_sans_describe(const struct pki_sans *s, bool compact);

/*
 * The required SANs of @want missing from @have (wildcard DNS entries of
 * @have cover one label), described as "IP 10.0.0.12, DNS cp2"; NULL when
 * nothing is missing.  *@ret_oom is set on allocation failure.
 */
char *pki_sans_missing(const struct pki_sans *want, const struct pki_sans *have, bool *ret_oom);

/* What one new certificate says. */
struct pki_cert_req {
	const X509_NAME *subject;      /* borrowed */
	const struct pki_sans *sans;   /* may be NULL: no SAN extension */
	const EXTENDED_KEY_USAGE *eku; /* borrowed; NULL: none */
	bool is_ca;
	uint64_t validity_s;
	time_t now; /* NotBefore = now - backdate */
};

/*
 * Build and sign a certificate for @key.  A CA is self-signed (@ca_crt and
 * @ca_key NULL); a leaf is signed by @ca_key and gets @ca_crt's subject as
 * issuer.  *@ret owned by the caller.  0 or -errno with @err.
 */
int pki_cert_make(const struct pki_cert_req *req, EVP_PKEY *key, X509 *ca_crt, EVP_PKEY *ca_key,
		  X509 **ret, struct ep_error *err);

/* A subject with CN @cn only (O is never set, as kubeadm since 1.29). */
X509_NAME *pki_name_cn(const char *cn);

/* The extended key usages of @prof (NULL for the CA). */
EXTENDED_KEY_USAGE *pki_profile_eku(const struct ep_cert_profile *prof);

/* PEM text of a key (traditional: "RSA/EC PRIVATE KEY", like kubeadm) or a certificate. */
int pki_key_pem(EVP_PKEY *key, char **ret, size_t *ret_len, struct ep_error *err);
int pki_cert_pem(X509 *crt, char **ret, size_t *ret_len, struct ep_error *err);

/* Generate @n keys of type @kt at once, on up to one thread per CPU. */
int pki_keys_new(enum ep_key_type kt, EVP_PKEY **keys, size_t n, struct ep_error *err);

/* True when @crt is signed by @ca (issuer name and signature). */
bool pki_cert_issued_by(X509 *crt, X509 *ca);

/* True when basicConstraints says CA:TRUE. */
bool pki_cert_is_ca(X509 *crt);

/* "CN=etcd-ca" style one-line name into @buf. */
void pki_name_oneline(const X509_NAME *name, char *buf, size_t size);

/* NotBefore/NotAfter of @crt as time_t. 0 or -EINVAL. */
int pki_cert_times(const X509 *crt, time_t *ret_not_before, time_t *ret_not_after);

/*
 * A directory of the PKI under the root (the certificate directory, or its
 * etcd/ subdirectory), opened once: every file of it is then read and
 * written relative to @fd, never by path again.
 */
struct pki_dir {
	char *node;  /* its node path ("/etc/kubernetes/pki/etcd"), heap */
	char *shown; /* its real path under the root, for messages, heap */
	int fd;	     /* O_PATH|O_DIRECTORY, or -1 */
	int error;   /* why @fd is -1: ENOENT when absent, else ENOTDIR, EACCES, ... */
};

/*
 * Open the directory of @prof's pair under @root into @ret (released with
 * pki_dir_release, also after a failure); *@ret_file (may be NULL) gets the
 * pair's file name without extension ("server"), static.  A directory that
 * cannot be opened is not an error here: @ret->error says why (pki_load
 * reports it for each file).  0 or -errno with @err (bad root, no memory).
 */
int pki_dir_open(const struct ep_spec *spec, const char *root, const struct ep_cert_profile *prof,
		 struct pki_dir *ret, const char **ret_file, struct ep_error *err);
void pki_dir_release(struct pki_dir *d);

/* Reopen @d (after its directory was created, or under a lock).  0 or -errno with @err. */
int pki_dir_reopen(struct pki_dir *d, const char *root, struct ep_error *err);

/*
 * Load the file @name of @dir when it exists; @path is its real path, for
 * messages.  *@ret_exists says whether it does; anything but a regular file
 * (a symlink, a directory, a FIFO) is an error, refused without opening it.
 * With @crt non-NULL the file is parsed as a certificate, with @key as a
 * key.  When it does not parse and @prof (may be NULL) says whose file it
 * is, the message ends with what to do about it (pki_fix_advice).
 */
int pki_load(const struct pki_dir *dir, const char *name, const char *path,
	     const struct ep_cert_profile *prof, bool *ret_exists, X509 **crt, EVP_PKEY **key,
	     struct ep_error *err);

/*
 * What to do about a bad file of @prof's pair ("replace it with the right
 * file, or delete ..."), into @buf; with @alternative only the "or delete
 * ..." part, for a message that already says how to repair the file.
 */
void pki_fix_advice(const struct ep_cert_profile *prof, bool alternative, char *buf, size_t size);

/*
 * The message for lstat(@path) failing with errno @e: for ENOTDIR the
 * component above that is not a directory, for EACCES the directory that
 * may not be searched.  Returns -@e.
 */
int pki_inspect_error(const char *path, int e, struct ep_error *err);

/* Largest time a certs command waits for another one's lock on the certificate directory. */
#define PKI_LOCK_TIMEOUT_MS 30000

/*
 * For the unit tests only (NULL in the program): called before each file
 * the apply step writes or, rolling back, restores or removes, with that
 * file's path; a negative errno returned makes that step fail as the disk
 * would, so that the all-or-nothing apply can be tested.
 */
extern int (*pki_test_write_hook)(const char *path);

/*
 * For the unit tests only (NULL in the program): called with 0 just before
 * and 1 just after the check that runs without the lock when the
 * certificate directory does not exist yet, so that a test can have
 * another run write there at that very moment.
 */
extern void (*pki_test_unlocked_hook)(int step);

#endif
