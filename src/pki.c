/*
 * pki.c - the building blocks of the etcd PKI: kubeadm's five certificate
 * profiles, SAN sets, key generation, the certificate builder, and the PEM
 * loaders that every file read goes through (and that the fuzzer drives).
 * It owns what a certificate says; it does not decide what to write (that
 * is pki_plan.c) and it never touches the disk except to read.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "pki_internal.h"

static const struct ep_cert_profile profiles[EP_CERT_COUNT] = {
    [EP_CERT_CA] =
	{
	    .id = EP_CERT_CA,
	    .name = "etcd-ca",
	    .base = "etcd/ca",
	    .cn = "etcd-ca",
	    .is_ca = true,
	    .purpose = "self-signed CA to provision identities for etcd",
	},
    [EP_CERT_SERVER] =
	{
	    .id = EP_CERT_SERVER,
	    .name = "etcd-server",
	    .base = "etcd/server",
	    .server_auth = true,
	    .node_sans = true,
	    .restart = "etcd",
	    .purpose = "certificate for serving etcd",
	},
    [EP_CERT_PEER] =
	{
	    .id = EP_CERT_PEER,
	    .name = "etcd-peer",
	    .base = "etcd/peer",
	    .server_auth = true,
	    .node_sans = true,
	    .restart = "etcd",
	    .purpose = "certificate for etcd nodes to communicate with each other",
	},
    [EP_CERT_HEALTHCHECK_CLIENT] =
	{
	    .id = EP_CERT_HEALTHCHECK_CLIENT,
	    .name = "etcd-healthcheck-client",
	    .base = "etcd/healthcheck-client",
	    .cn = "kube-etcd-healthcheck-client",
	    .restart = "etcd",
	    .purpose = "certificate for liveness probes to healthcheck etcd",
	},
    [EP_CERT_APISERVER_ETCD_CLIENT] =
	{
	    .id = EP_CERT_APISERVER_ETCD_CLIENT,
	    .name = "apiserver-etcd-client",
	    .base = "apiserver-etcd-client",
	    .cn = "kube-apiserver-etcd-client",
	    .restart = "kube-apiserver",
	    .purpose = "certificate the apiserver uses to access etcd",
	},
};

const struct ep_cert_profile *ep_cert_profile(enum ep_cert_id id)
{
	if ((unsigned)id >= EP_CERT_COUNT)
		return NULL;
	return &profiles[id];
}

int ep_cert_lookup(const char *name, enum ep_cert_id *ret)
{
	for (unsigned i = 0; name && i < EP_CERT_COUNT; i++) {
		if (!strcmp(profiles[i].name, name)) {
			*ret = (enum ep_cert_id)i;
			return 0;
		}
	}
	return -ENOENT;
}

/* The node directory of @prof's pair (heap) and its file name without extension (static). */
static int node_dir(const struct ep_spec *spec, const struct ep_cert_profile *prof, char **ret,
		    const char **ret_file, struct ep_error *err)
{
	if (!prof || !spec->cert_dir)
		return ep_error_set(err, -EINVAL, "no certificate directory or profile");
	const char *slash = strrchr(prof->base, '/');
	*ret_file = slash ? slash + 1 : prof->base;
	int n = slash ? asprintf(ret, "%s/%.*s", spec->cert_dir, (int)(slash - prof->base),
				 prof->base)
		      : asprintf(ret, "%s", spec->cert_dir);
	if (n < 0) {
		*ret = NULL;
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

int ep_pki_paths(const struct ep_spec *spec, const char *root, enum ep_cert_id id, char **ret_crt,
		 char **ret_key, struct ep_error *err)
{
	/* Map the directory only: the file names stay literal so that a symlink at a
	 * file name is refused by the readers and writers, not followed. */
	const char *file = NULL;
	_cleanup_free_ char *nodedir = NULL;
	int r = node_dir(spec, ep_cert_profile(id), &nodedir, &file, err);
	if (r < 0)
		return r;
	/*
	 * For messages; but the TLS files of a client (ep_tls) are these paths,
	 * which libcurl opens by path, not root-relative.
	 */
	_cleanup_free_ char *dir = NULL;
	r = ep_root_path(root, nodedir, &dir, err);
	if (r < 0)
		return r;
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dir[--dl] = '\0';
	const char *sep = strcmp(dir, "/") ? "/" : "";

	_cleanup_free_ char *crt = NULL, *key = NULL;
	if (asprintf(&crt, "%s%s%s.crt", dir, sep, file) < 0) {
		crt = NULL;
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	if (asprintf(&key, "%s%s%s.key", dir, sep, file) < 0) {
		key = NULL;
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	if (ret_crt)
		*ret_crt = TAKE_PTR(crt);
	if (ret_key)
		*ret_key = TAKE_PTR(key);
	return 0;
}

void pki_dir_release(struct pki_dir *d)
{
	free(d->node);
	free(d->shown);
	if (d->fd >= 0)
		close(d->fd);
	d->node = d->shown = NULL;
	d->fd = -1;
	d->error = 0;
}

int pki_dir_reopen(struct pki_dir *d, const char *root, struct ep_error *err)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	d->error = 0;
	struct ep_error e;
	ep_error_clear(&e);
	int r = ep_root_open(root, d->node, O_PATH | O_DIRECTORY, 0, &d->fd, &e);
	if (r >= 0)
		return 0;
	d->fd = -1;
	/* A bad root is the caller's error; what is at the directory is each file's. */
	if (e.kind == EP_ERR_USAGE || r == -ENOMEM) {
		if (err && !ep_error_isset(err))
			*err = e;
		return r;
	}
	d->error = -r;
	return 0;
}

int pki_dir_open(const struct ep_spec *spec, const char *root, const struct ep_cert_profile *prof,
		 struct pki_dir *ret, const char **ret_file, struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	ret->fd = -1;
	const char *file = NULL;
	int r = node_dir(spec, prof, &ret->node, &file, err);
	if (r >= 0)
		r = ep_root_path(root, ret->node, &ret->shown, err); /* for messages */
	if (r >= 0)
		r = pki_dir_reopen(ret, root, err);
	if (r >= 0 && ret_file)
		*ret_file = file;
	return r;
}

/* ---- SAN sets ---------------------------------------------------------- */

void pki_sans_release(struct pki_sans *s)
{
	ep_strv_release(&s->dns);
	ep_strv_release(&s->ip);
}

/*
 * Canonical text of the address in @bin (@len 4 or 16 bytes).  Like Go's
 * To4(), an IPv4-mapped IPv6 address (::ffff:a.b.c.d) is the IPv4 address:
 * that is how Go prints it, writes it into a certificate (4 bytes) and
 * compares it, so "::ffff:10.0.0.1" and "10.0.0.1" are one SAN.
 */
static bool ip_bin_canon(const unsigned char *bin, size_t len, char *buf, size_t size)
{
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (len == 16 && !memcmp(bin, v4mapped, sizeof(v4mapped)))
		return inet_ntop(AF_INET, bin + 12, buf, (socklen_t)size) != NULL;
	if (len == 4)
		return inet_ntop(AF_INET, bin, buf, (socklen_t)size) != NULL;
	if (len == 16)
		return inet_ntop(AF_INET6, bin, buf, (socklen_t)size) != NULL;
	return false;
}

/* Canonical text of an IP literal; false when @s is not one. */
static bool ip_canon(const char *s, char *buf, size_t size)
{
	unsigned char bin[16];
	if (inet_pton(AF_INET, s, bin) == 1)
		return ip_bin_canon(bin, 4, buf, size);
	if (inet_pton(AF_INET6, s, bin) == 1)
		return ip_bin_canon(bin, 16, buf, size);
	return false;
}

/* RFC 1123 subdomain, optionally with one leading "*." (kubeadm accepts wildcards). */
static bool dns_name_ok(const char *s)
{
	if (!strncmp(s, "*.", 2))
		s += 2;
	size_t len = strlen(s);
	if (len == 0 || len > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-'))
			return false;
		if (label == 0 && c == '-')
			return false;
		if (++label > 63)
			return false;
	}
	return s[len - 1] != '-' && s[len - 1] != '.';
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int push_unique_ci(struct ep_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strcasecmp(sv->v[i], s))
			return 0;
	return ep_strv_push(sv, s);
}

/* Add @s as an IP SAN when it is an IP, as a DNS SAN when it is a name. */
static int sans_add(struct pki_sans *out, const char *s, bool *ret_dropped)
{
	char canon[INET6_ADDRSTRLEN];
	*ret_dropped = false;
	if (ip_canon(s, canon, sizeof(canon)))
		return push_unique_ci(&out->ip, canon);
	_cleanup_free_ char *lower = strdup(s);
	if (!lower)
		return -ENOMEM;
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!dns_name_ok(lower)) {
		*ret_dropped = true;
		return 0;
	}
	return push_unique_ci(&out->dns, lower);
}

static void logf_(ep_log_fn log, void *ud, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void logf_(ep_log_fn log, void *ud, const char *fmt, ...)
{
	if (!log)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log(ud, line);
}

int pki_sans_desired(const struct ep_spec *spec, const struct ep_cert_profile *prof,
		     struct pki_sans *out, ep_log_fn log, void *ud, struct ep_error *err)
{
	bool dropped;
	int r = 0;
	if (prof->is_ca) {
		r = sans_add(out, prof->cn, &dropped);
		return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
	}
	if (!prof->node_sans)
		return 0;

	const char *defaults[] = {spec->name, "localhost", spec->advertise_address, "127.0.0.1",
				  "::1"};
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]) && r >= 0; i++)
		if (defaults[i] && defaults[i][0])
			r = sans_add(out, defaults[i], &dropped);
	const struct ep_strv *extra =
	    prof->id == EP_CERT_SERVER ? &spec->server_cert_sans : &spec->peer_cert_sans;
	for (size_t i = 0; i < extra->n && r >= 0; i++) {
		r = sans_add(out, extra->v[i], &dropped);
		if (r >= 0 && dropped)
			logf_(log, ud,
			      "[certs] WARNING: '%s' is neither an IP address nor a DNS name; "
			      "left out of the SANs of \"%s\"",
			      extra->v[i], prof->base);
	}
	/*
	 * kubeadm's RemoveDuplicateAltNames (pkiutil/pki_helpers.go) makes the
	 * DNS names sets.List(sets.New(...)): sorted byte-wise; IPs keep their order.
	 */
	if (r >= 0 && out->dns.n > 1)
		qsort(out->dns.v, out->dns.n, sizeof(*out->dns.v), str_cmp);
	return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
}

int pki_sans_of_cert(const X509 *crt, struct pki_sans *out, struct ep_error *err)
{
	_cleanup_(GENERAL_NAMES_freep) GENERAL_NAMES *gens =
	    X509_get_ext_d2i(crt, NID_subject_alt_name, NULL, NULL);
	int r = 0;
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && r >= 0; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int type;
		const ASN1_STRING *v = GENERAL_NAME_get0_value(g, &type);
		if (type == GEN_DNS) {
			int len = ASN1_STRING_length(v);
			const unsigned char *d = ASN1_STRING_get0_data(v);
			if (len <= 0 || memchr(d, '\0', (size_t)len))
				continue;
			_cleanup_free_ char *s = strndup((const char *)d, (size_t)len);
			if (!s)
				return ep_error_set(err, -ENOMEM, "out of memory");
			for (char *p = s; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			r = push_unique_ci(&out->dns, s);
		} else if (type == GEN_IPADD) {
			char buf[INET6_ADDRSTRLEN];
			int len = ASN1_STRING_length(v);
			if (len <= 0 ||
			    !ip_bin_canon(ASN1_STRING_get0_data(v), (size_t)len, buf, sizeof(buf)))
				continue;
			r = push_unique_ci(&out->ip, buf);
		}
	}
	return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
}

/* Append @s to the growing heap string *@buf. */
static int sappend(char **buf, size_t *len, const char *s)
{
	size_t sl = strlen(s);
	char *nb = realloc(*buf, *len + sl + 1);
	if (!nb)
		return -ENOMEM;
	memcpy(nb + *len, s, sl + 1);
	*buf = nb;
	*len += sl;
	return 0;
}

static int list_append(char **buf, size_t *len, const struct ep_strv *sv, const char *sep)
{
	for (size_t i = 0; i < sv->n; i++)
		if ((i && sappend(buf, len, sep) < 0) || sappend(buf, len, sv->v[i]) < 0)
			return -ENOMEM;
	return 0;
}

char *pki_sans_describe(const struct pki_sans *s, bool compact)
{
	char *buf = NULL;
	size_t len = 0;
	int r;
	if (!compact) {
		r = sappend(&buf, &len, "DNS names [");
		r = r < 0 ? r : list_append(&buf, &len, &s->dns, " ");
		r = r < 0 ? r : sappend(&buf, &len, "] and IPs [");
		r = r < 0 ? r : list_append(&buf, &len, &s->ip, " ");
		r = r < 0 ? r : sappend(&buf, &len, "]");
	} else {
		r = sappend(&buf, &len, "");
		if (r >= 0 && s->dns.n) {
			r = sappend(&buf, &len, "DNS ");
			r = r < 0 ? r : list_append(&buf, &len, &s->dns, ", ");
		}
		if (r >= 0 && s->ip.n) {
			r = sappend(&buf, &len, s->dns.n ? "; IP " : "IP ");
			r = r < 0 ? r : list_append(&buf, &len, &s->ip, ", ");
		}
		if (r >= 0 && !s->dns.n && !s->ip.n)
			r = sappend(&buf, &len, "none");
	}
	if (r < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static bool dns_covered(const char *want, const struct ep_strv *have)
{
	for (size_t i = 0; i < have->n; i++) {
		const char *h = have->v[i];
		if (!strcasecmp(h, want))
			return true;
		/* "*.example.com" covers exactly one more label, never a wildcard. */
		if (!strncmp(h, "*.", 2) && want[0] != '*') {
			const char *dot = strchr(want, '.');
			if (dot && dot != want && !strcasecmp(dot + 1, h + 2))
				return true;
		}
	}
	return false;
}

char *pki_sans_missing(const struct pki_sans *want, const struct pki_sans *have, bool *ret_oom)
{
	char *buf = NULL;
	size_t len = 0;
	int r = 0;
	*ret_oom = false;
	for (size_t i = 0; i < want->ip.n && r >= 0; i++) {
		if (ep_strv_contains(&have->ip, want->ip.v[i]))
			continue;
		r = sappend(&buf, &len, len ? ", IP " : "IP ");
		r = r < 0 ? r : sappend(&buf, &len, want->ip.v[i]);
	}
	for (size_t i = 0; i < want->dns.n && r >= 0; i++) {
		if (dns_covered(want->dns.v[i], &have->dns))
			continue;
		r = sappend(&buf, &len, len ? ", DNS " : "DNS ");
		r = r < 0 ? r : sappend(&buf, &len, want->dns.v[i]);
	}
	if (r < 0) {
		*ret_oom = true;
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- keys --------------------------------------------------------------- */

/* The algorithm and parameter of each key type, for EVP_PKEY_CTX. */
static int key_ctx_new(enum ep_key_type kt, EVP_PKEY_CTX **ret)
{
	unsigned int bits = 0;
	const char *curve = NULL;
	switch (kt) {
	case EP_KEY_RSA_2048:
		bits = 2048;
		break;
	case EP_KEY_RSA_3072:
		bits = 3072;
		break;
	case EP_KEY_RSA_4096:
		bits = 4096;
		break;
	case EP_KEY_ECDSA_P256:
		curve = "P-256";
		break;
	case EP_KEY_ECDSA_P384:
		curve = "P-384";
		break;
	default:
		return -EINVAL;
	}
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, bits ? "RSA" : "EC", NULL);
	if (!ctx || EVP_PKEY_keygen_init(ctx) <= 0 ||
	    (bits && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) <= 0) ||
	    (curve && EVP_PKEY_CTX_set_group_name(ctx, curve) <= 0)) {
		EVP_PKEY_CTX_free(ctx);
		return -EIO;
	}
	*ret = ctx;
	return 0;
}

int ep_pki_key_new(enum ep_key_type kt, EVP_PKEY **ret, struct ep_error *err)
{
	EVP_PKEY_CTX *ctx = NULL;
	int r = key_ctx_new(kt, &ctx);
	if (r == -EINVAL)
		return ep_error_usage(err, -EINVAL, "unknown key type %d", (int)kt);
	EVP_PKEY *k = NULL;
	if (r < 0 || EVP_PKEY_generate(ctx, &k) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return ep_error_ssl(err, "generating a %s key", ep_key_type_name(kt));
	}
	EVP_PKEY_CTX_free(ctx);
	*ret = k;
	return 0;
}

/*
 * Several RSA keys at once.  How long one RSA key takes depends on how many
 * random candidates fail the primality tests: on one machine 2048 bits took
 * from 57 ms to 356 ms, median 125 ms.  Handing each thread one key leaves
 * the slowest one running alone at the end while the other cores idle.
 * Instead every worker generates keys until the batch is full, and the
 * first keys finished fill the slots; a generation still running when the
 * last slot fills is abandoned through OpenSSL's progress callback.  Each
 * key is still a complete, independent OpenSSL key generation: only which
 * ones are kept depends on timing.
 */
struct keygen_race {
	pthread_mutex_t lock;
	enum ep_key_type kt;
	EVP_PKEY **keys;
	size_t n, have;
	bool done;
	int r;
	struct ep_error err;
};

static bool race_done(struct keygen_race *race)
{
	pthread_mutex_lock(&race->lock);
	bool done = race->done;
	pthread_mutex_unlock(&race->lock);
	return done;
}

/* OpenSSL's progress callback: 0 abandons the generation. */
static int race_progress(EVP_PKEY_CTX *ctx)
{
	return !race_done(EVP_PKEY_CTX_get_app_data(ctx));
}

static void *race_worker(void *arg)
{
	struct keygen_race *race = arg;
	while (!race_done(race)) {
		EVP_PKEY_CTX *ctx = NULL;
		EVP_PKEY *k = NULL;
		struct ep_error e;
		ep_error_clear(&e);
		int r = key_ctx_new(race->kt, &ctx);
		if (r == 0) {
			EVP_PKEY_CTX_set_app_data(ctx, race);
			EVP_PKEY_CTX_set_cb(ctx, race_progress);
			if (EVP_PKEY_generate(ctx, &k) <= 0)
				r = -EIO;
		}
		EVP_PKEY_CTX_free(ctx);
		if (r < 0)
			r = ep_error_ssl(&e, "generating a %s key", ep_key_type_name(race->kt));
		pthread_mutex_lock(&race->lock);
		if (r < 0 && !race->done) {
			/* A real failure, not the abandoning of a surplus key. */
			race->r = r;
			race->err = e;
			race->done = true;
		} else if (r == 0 && race->have < race->n) {
			race->keys[race->have++] = k;
			k = NULL;
			race->done = race->have == race->n;
		}
		pthread_mutex_unlock(&race->lock);
		EVP_PKEY_free(k);
	}
	return NULL;
}

int pki_keys_new(enum ep_key_type kt, EVP_PKEY **keys, size_t n, struct ep_error *err)
{
	if (n == 0)
		return 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	/* EC keys take microseconds: threads would only cost. */
	if (ncpu < 2 || kt == EP_KEY_ECDSA_P256 || kt == EP_KEY_ECDSA_P384) {
		for (size_t i = 0; i < n; i++) {
			int r = ep_pki_key_new(kt, &keys[i], err);
			if (r < 0) {
				while (i > 0)
					EVP_PKEY_free(keys[--i]), keys[i] = NULL;
				return r;
			}
		}
		return 0;
	}

	/* One worker per core, and never more than two per key. */
	enum { MAX_WORKERS = 2 * EP_CERT_COUNT };
	if (n > EP_CERT_COUNT)
		return ep_error_set(err, -EINVAL, "too many keys requested");
	size_t workers = (size_t)ncpu < 2 * n ? (size_t)ncpu : 2 * n;
	if (workers > MAX_WORKERS)
		workers = MAX_WORKERS;
	struct keygen_race race = { .kt = kt, .keys = keys, .n = n };
	pthread_mutex_init(&race.lock, NULL);
	ep_error_clear(&race.err);
	for (size_t i = 0; i < n; i++)
		keys[i] = NULL;

	pthread_t tids[MAX_WORKERS];
	bool started[MAX_WORKERS] = { false };
	/* This thread is worker 0; one that cannot be started is not missed. */
	for (size_t i = 1; i < workers; i++)
		started[i] = pthread_create(&tids[i], NULL, race_worker, &race) == 0;
	race_worker(&race);
	for (size_t i = 1; i < workers; i++)
		if (started[i])
			pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&race.lock);

	if (race.r < 0) {
		for (size_t i = 0; i < race.have; i++)
			EVP_PKEY_free(keys[i]), keys[i] = NULL;
		return ep_error_set(err, race.r, "%s", race.err.msg);
	}
	return 0;
}

void ep_pki_key_describe(const EVP_PKEY *pkey, char *buf, size_t size)
{
	if (!pkey) {
		snprintf(buf, size, "no key");
		return;
	}
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		snprintf(buf, size, "RSA-%d", EVP_PKEY_get_bits(pkey));
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		char group[64] = "";
		EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
					       sizeof(group), NULL);
		if (!strcmp(group, "prime256v1") || !strcmp(group, "P-256"))
			snprintf(buf, size, "ECDSA-P256");
		else if (!strcmp(group, "secp384r1") || !strcmp(group, "P-384"))
			snprintf(buf, size, "ECDSA-P384");
		else if (!strcmp(group, "secp521r1") || !strcmp(group, "P-521"))
			snprintf(buf, size, "ECDSA-P521");
		else
			snprintf(buf, size, "ECDSA-%s", group[0] ? group : "unknown-curve");
	} else if (EVP_PKEY_is_a(pkey, "ED25519")) {
		snprintf(buf, size, "Ed25519");
	} else if (EVP_PKEY_is_a(pkey, "ED448")) {
		snprintf(buf, size, "Ed448");
	} else {
		const char *t = EVP_PKEY_get0_type_name(pkey);
		snprintf(buf, size, "%s", t ? t : "unknown");
	}
}

/* "a" or "an" before a key name read as letters: an RSA, an Ed25519, a DSA. */
static const char *article(const char *name)
{
	return strchr("AEFHILMNORSXaeio", name[0]) && name[0] ? "an" : "a";
}

/* ---- loaders ------------------------------------------------------------ */

/* Never prompt on a terminal for an encrypted key: refuse it instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * The most specific reason in OpenSSL's queue, which is emptied.  Errors are
 * queued as the call stack unwinds, innermost first ("too long", then "bad
 * object header", then "nested asn1 error"), so the first one is kept; the
 * decoder framework's generic "unsupported" only when there is nothing else.
 */
static void ssl_reason(char *buf, size_t size)
{
	unsigned long e, first = 0, first_any = 0;
	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		if (!first_any)
			first_any = e;
		if (!first && ERR_GET_LIB(e) != ERR_LIB_OSSL_DECODER)
			first = e;
	}
	if (!first)
		first = first_any;
	if (!first)
		return;
	const char *rs = ERR_reason_error_string(first);
	if (rs)
		snprintf(buf, size, "%s", rs);
	else
		ERR_error_string_n(first, buf, size);
}

/* What is in a PEM file that OpenSSL refused, to say why in the user's terms. */
struct pem_scan {
	bool empty;	   /* nothing but white space */
	bool has_begin;	   /* a "-----BEGIN " somewhere */
	bool binary;	   /* starts like DER (a SEQUENCE) */
	char label[64];	   /* the first block of the kind wanted, else the first block */
	bool wanted;	   /* label is of the kind wanted */
	bool encrypted;	   /* ENCRYPTED PRIVATE KEY, or a Proc-Type: 4,ENCRYPTED header */
	char pem_err[160]; /* why a block could not be read as PEM */
	char der_err[160]; /* why the wanted block's content did not decode */
};

static bool is_key_label(const char *l)
{
	size_t n = strlen(l), k = strlen("PRIVATE KEY");
	return n >= k && !strcmp(l + n - k, "PRIVATE KEY");
}

static bool is_cert_label(const char *l)
{
	return !strcmp(l, "CERTIFICATE") || !strcmp(l, "X509 CERTIFICATE") ||
	       !strcmp(l, "TRUSTED CERTIFICATE");
}

static void pem_reason(char *buf, size_t size)
{
	unsigned long e = ERR_peek_error();
	int reason = ERR_GET_LIB(e) == ERR_LIB_PEM ? ERR_GET_REASON(e) : 0;
	if (reason == PEM_R_BAD_END_LINE) {
		ERR_clear_error();
		snprintf(buf, size,
			 "its '-----END' line is missing or damaged (is the file truncated?)");
	} else if (reason == PEM_R_BAD_BASE64_DECODE) {
		ERR_clear_error();
		snprintf(buf, size, "its base64 text is damaged");
	} else {
		char r[128];
		ssl_reason(r, sizeof(r));
		snprintf(buf, size, "its PEM data is damaged (%s)", r[0] ? r : "unreadable");
	}
}

static void pem_scan(const char *buf, size_t len, bool want_key, struct pem_scan *sc)
{
	memset(sc, 0, sizeof(*sc));
	size_t i = 0;
	while (i < len && isspace((unsigned char)buf[i]))
		i++;
	sc->empty = i == len;
	sc->binary = i < len && (unsigned char)buf[i] == 0x30;
	sc->has_begin = memmem(buf, len, "-----BEGIN ", 11) != NULL;
	if (sc->empty || !sc->has_begin)
		return;

	ERR_clear_error();
	_cleanup_(BIO_free_allp) BIO *bio = BIO_new_mem_buf(buf, (int)len);
	/* A certificate chain has a handful of blocks; stop long before pathological input. */
	for (int n = 0; bio && n < 64 && !sc->wanted; n++) {
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long dlen = 0;
		if (!PEM_read_bio(bio, &name, &header, &data, &dlen)) {
			unsigned long e = ERR_peek_last_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
				ERR_clear_error(); /* the end of the input, not an error */
			else
				pem_reason(sc->pem_err, sizeof(sc->pem_err));
			break;
		}
		bool wanted = want_key ? is_key_label(name) : is_cert_label(name);
		if (!sc->label[0] || wanted) {
			snprintf(sc->label, sizeof(sc->label), "%s", name);
			sc->wanted = wanted;
			sc->encrypted = !strcmp(name, "ENCRYPTED PRIVATE KEY") ||
					(header && strstr(header, "ENCRYPTED"));
		}
		if (wanted && !sc->encrypted) {
			/* Decode once more, only to learn what is wrong inside. */
			const unsigned char *p = data;
			ERR_clear_error();
			if (want_key) {
				EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, dlen);
				EVP_PKEY_free(k);
			} else {
				X509 *c = d2i_X509(NULL, &p, dlen);
				X509_free(c);
			}
			ssl_reason(sc->der_err, sizeof(sc->der_err));
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		if (data) {
			OPENSSL_cleanse(data, (size_t)dlen);
			OPENSSL_free(data);
		}
	}
	ERR_clear_error();
}

static int cert_parse_error(const char *buf, size_t len, const char *what, bool *ret_fix,
			    struct ep_error *err)
{
	struct pem_scan sc;
	pem_scan(buf, len, false, &sc);
	*ret_fix = !sc.has_begin && sc.binary;
	if (sc.empty)
		return ep_error_set(err, -EINVAL,
				    "'%s' is not a PEM certificate: the file is empty", what);
	if (!sc.has_begin && sc.binary)
		return ep_error_set(
		    err, -EINVAL,
		    "'%s' is not a PEM certificate: it is binary (DER?); convert it "
		    "with 'openssl x509 -inform DER -in %s -out %s.pem' and put "
		    "%s.pem in its place",
		    what, what, what, what);
	if (!sc.has_begin)
		return ep_error_set(err, -EINVAL,
				    "'%s' is not a PEM certificate: it holds no PEM data (no "
				    "'-----BEGIN CERTIFICATE-----' line)",
				    what);
	if (sc.pem_err[0])
		return ep_error_set(err, -EINVAL, "'%s' is not a PEM certificate: %s", what,
				    sc.pem_err);
	if (!sc.wanted && sc.label[0] && is_key_label(sc.label))
		return ep_error_set(err, -EINVAL,
				    "'%s' is not a PEM certificate: it holds a private key (%s): "
				    "are the .crt and .key files swapped",
				    what, sc.label);
	if (!sc.wanted && sc.label[0])
		return ep_error_set(err, -EINVAL,
				    "'%s' is not a PEM certificate: it holds a '%s' PEM block, not "
				    "'CERTIFICATE'",
				    what, sc.label);
	return ep_error_set(err, -EINVAL,
			    "'%s' is not a PEM certificate: the certificate in it is damaged (%s)",
			    what, sc.der_err[0] ? sc.der_err : "it does not decode");
}

static int key_parse_error(const char *buf, size_t len, const char *what, bool *ret_fix,
			   struct ep_error *err)
{
	struct pem_scan sc;
	pem_scan(buf, len, true, &sc);
	/* These say what to do themselves; the caller may add an alternative. */
	*ret_fix = (!sc.has_begin && sc.binary) || (sc.wanted && sc.encrypted) ||
		   (sc.wanted && !strcmp(sc.label, "OPENSSH PRIVATE KEY"));
	if (sc.empty)
		return ep_error_set(err, -EINVAL,
				    "'%s' is not a PEM private key: the file is empty", what);
	if (!sc.has_begin && sc.binary)
		return ep_error_set(
		    err, -EINVAL,
		    "'%s' is not a PEM private key: it is binary (DER?); convert it "
		    "with 'openssl pkey -inform DER -in %s -out %s.pem' and put "
		    "%s.pem in its place (mode 0600)",
		    what, what, what, what);
	if (!sc.has_begin)
		return ep_error_set(err, -EINVAL,
				    "'%s' is not a PEM private key: it holds no PEM data (no "
				    "'-----BEGIN ... PRIVATE KEY-----' line)",
				    what);
	if (sc.wanted && sc.encrypted)
		return ep_error_set(
		    err, -EINVAL,
		    "'%s' is an encrypted private key (%s%s); etcd cannot use a key "
		    "that needs a passphrase: decrypt it with 'openssl pkey -in %s "
		    "-out %s.plain' and put %s.plain in its place (mode 0600)",
		    what, sc.label,
		    strcmp(sc.label, "ENCRYPTED PRIVATE KEY") ? ", Proc-Type: 4,ENCRYPTED" : "",
		    what, what, what);
	if (sc.wanted && !strcmp(sc.label, "OPENSSH PRIVATE KEY"))
		return ep_error_set(err, -EINVAL,
				    "'%s' is not a PEM private key: it is in OpenSSH's own format; "
				    "convert a copy with 'ssh-keygen -p -m PEM -f COPY' and put it "
				    "in place",
				    what);
	if (sc.pem_err[0])
		return ep_error_set(err, -EINVAL, "'%s' is not a PEM private key: %s", what,
				    sc.pem_err);
	if (!sc.wanted && sc.label[0] && is_cert_label(sc.label))
		return ep_error_set(
		    err, -EINVAL,
		    "'%s' is not a PEM private key: it holds a certificate: are the "
		    ".crt and .key files swapped",
		    what);
	if (!sc.wanted && sc.label[0] && !strcmp(sc.label, "PUBLIC KEY"))
		return ep_error_set(err, -EINVAL,
				    "'%s' is not a PEM private key: it holds a public key, not the "
				    "private key",
				    what);
	if (!sc.wanted && sc.label[0])
		return ep_error_set(
		    err, -EINVAL,
		    "'%s' is not a PEM private key: it holds a '%s' PEM block, not a "
		    "private key",
		    what, sc.label);
	return ep_error_set(err, -EINVAL,
			    "'%s' is not a PEM private key: its '%s' block does not decode to a "
			    "key (%s); the key is damaged or truncated",
			    what, sc.label, sc.der_err[0] ? sc.der_err : "unsupported");
}

/*
 * The parsers behind ep_pki_cert_parse and ep_pki_key_parse; *@ret_fix says
 * whether a failure's message already says what to do.
 */
static int cert_parse(const char *buf, size_t len, const char *what, X509 **ret, bool *ret_fix,
		      struct ep_error *err)
{
	*ret_fix = false;
	if (len > PKI_MAX_FILE)
		return ep_error_set(err, -EFBIG, "'%s': larger than %d bytes", what, PKI_MAX_FILE);
	ERR_clear_error();
	_cleanup_(BIO_free_allp) BIO *bio = BIO_new_mem_buf(buf, (int)len);
	if (!bio)
		return ep_error_ssl(err, "'%s'", what);
	X509 *crt = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	ERR_clear_error();
	if (!crt)
		return cert_parse_error(buf, len, what, ret_fix, err);
	*ret = crt;
	return 0;
}

/*
 * OpenSSL 3.0 tries every decoder it has on a key of unknown type, which
 * costs more than a whole TLS handshake; the PEM label names the type, so
 * exactly that decoder is asked first.  NULL when the label is another or
 * the block does not decode (the general road then says why).
 */
static EVP_PKEY *key_decode_typed(const char *buf, size_t len)
{
	static const struct {
		const char *label, *type, *structure;
	} kinds[] = {
		{ "-----BEGIN EC PRIVATE KEY-----", "EC", "type-specific" },
		{ "-----BEGIN RSA PRIVATE KEY-----", "RSA", "type-specific" },
		{ "-----BEGIN PRIVATE KEY-----", NULL, "PrivateKeyInfo" },
	};
	const char *begin = memmem(buf, len, "-----BEGIN ", 11);
	for (size_t i = 0; begin && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t ll = strlen(kinds[i].label);
		if ((size_t)(buf + len - begin) < ll || memcmp(begin, kinds[i].label, ll))
			continue;
		EVP_PKEY *k = NULL;
		OSSL_DECODER_CTX *d = OSSL_DECODER_CTX_new_for_pkey(
		    &k, "PEM", kinds[i].structure, kinds[i].type, EVP_PKEY_KEYPAIR, NULL, NULL);
		BIO *bio = BIO_new_mem_buf(buf, (int)len);
		if (!d || !bio || !OSSL_DECODER_from_bio(d, bio)) {
			EVP_PKEY_free(k);
			k = NULL;
		}
		BIO_free(bio);
		OSSL_DECODER_CTX_free(d);
		ERR_clear_error();
		return k;
	}
	return NULL;
}

static int key_parse(const char *buf, size_t len, const char *what, EVP_PKEY **ret, bool *ret_fix,
		     struct ep_error *err)
{
	*ret_fix = false;
	if (len > PKI_MAX_FILE)
		return ep_error_set(err, -EFBIG, "'%s': larger than %d bytes", what, PKI_MAX_FILE);
	ERR_clear_error();
	_cleanup_(BIO_free_allp) BIO *bio = BIO_new_mem_buf(buf, (int)len);
	if (!bio)
		return ep_error_ssl(err, "'%s'", what);
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = key_decode_typed(buf, len);
	if (!key)
		key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	ERR_clear_error();
	if (!key)
		return key_parse_error(buf, len, what, ret_fix, err);
	if (!EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "EC")) {
		char desc[64];
		ep_pki_key_describe(key, desc, sizeof(desc));
		return ep_error_set(err, -EINVAL,
				    "'%s' holds %s %s key; etcd certificates need an RSA or ECDSA "
				    "key (as kubeadm)",
				    what, article(desc), desc);
	}
	*ret = TAKE_PTR(key);
	return 0;
}

int ep_pki_cert_parse(const char *buf, size_t len, const char *what, X509 **ret,
		      struct ep_error *err)
{
	bool fix;
	return cert_parse(buf, len, what, ret, &fix, err);
}

int ep_pki_key_parse(const char *buf, size_t len, const char *what, EVP_PKEY **ret,
		     struct ep_error *err)
{
	bool fix;
	return key_parse(buf, len, what, ret, &fix, err);
}

int ep_pki_certs_parse(const char *buf, size_t len, const char *what, STACK_OF(X509) **ret,
		       struct ep_error *err)
{
	X509 *first = NULL;
	int r = ep_pki_cert_parse(buf, len, what, &first, err);
	if (r < 0)
		return r;
	STACK_OF(X509) *sk = sk_X509_new_null();
	BIO *bio = BIO_new_mem_buf(buf, (int)len);
	if (!sk || !bio || !sk_X509_push(sk, first)) {
		X509_free(first);
		sk_X509_free(sk);
		BIO_free(bio);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	/* The same blocks again, from the start: the first one is skipped. */
	X509 *x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
	X509_free(x);
	while ((x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL)))
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			sk_X509_pop_free(sk, X509_free);
			BIO_free(bio);
			return ep_error_set(err, -ENOMEM, "out of memory");
		}
	ERR_clear_error(); /* the end of the data reads as an error too */
	BIO_free(bio);
	*ret = sk;
	return 0;
}

void pki_fix_advice(const struct ep_cert_profile *prof, bool alternative, char *buf, size_t size)
{
	const char *file = strrchr(prof->base, '/');
	file = file ? file + 1 : prof->base;
	if (prof->is_ca && alternative)
		snprintf(buf, size,
			 "or delete %s.crt and %s.key to start a new CA (every member's "
			 "certificates must then be reissued)",
			 file, file);
	else if (prof->is_ca)
		snprintf(buf, size,
			 "put the cluster's etcd CA back (from another control-plane node), or "
			 "delete %s.crt and %s.key to start a new CA (every member's certificates "
			 "must then be reissued)",
			 file, file);
	else if (alternative)
		snprintf(buf, size, "or delete %s.crt and %s.key to regenerate the pair", file,
			 file);
	else
		snprintf(buf, size,
			 "replace it with the right file, or delete %s.crt and %s.key to "
			 "regenerate the pair",
			 file, file);
}

/* The nearest component above @path that exists; *@ret_st gets its lstat. */
static char *existing_ancestor(const char *path, struct stat *ret_st)
{
	char *dir = strdup(path);
	while (dir) {
		char *slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			free(dir);
			return NULL;
		}
		*slash = '\0';
		if (lstat(dir, ret_st) == 0)
			return dir;
	}
	return NULL;
}

static const char *kind_of(mode_t m)
{
	if (S_ISREG(m))
		return "a regular file";
	if (S_ISLNK(m))
		return "a symbolic link";
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISSOCK(m))
		return "a socket";
	if (S_ISCHR(m) || S_ISBLK(m))
		return "a device";
	return "a special file";
}

int pki_inspect_error(const char *path, int e, struct ep_error *err)
{
	struct stat st;
	if (e == ENOTDIR) {
		_cleanup_free_ char *up = existing_ancestor(path, &st);
		if (up && !S_ISDIR(st.st_mode))
			return ep_error_set(err, -ENOTDIR,
					    "'%s' is not a directory (it is %s), so '%s' cannot be "
					    "there; move it out of the way so that etcdpilot can "
					    "create the directory",
					    up, kind_of(st.st_mode), path);
	}
	if (e == EACCES) {
		/* The culprit is a directory above that may not be searched. */
		_cleanup_free_ char *dir = strdup(path);
		char *slash = dir ? strrchr(dir, '/') : NULL;
		if (slash && slash != dir) {
			*slash = '\0';
			if (access(dir, X_OK) < 0 && errno == EACCES && stat(dir, &st) == 0)
				return ep_error_set(
				    err, -EACCES,
				    "cannot look into '%s' (mode %04o, owner uid %u) "
				    "for '%s': Permission denied; run etcdpilot as "
				    "root, or fix the directory's permissions",
				    dir, (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid, path);
		}
		return ep_error_set(
		    err, -EACCES,
		    "cannot look at '%s': Permission denied; run etcdpilot as root, "
		    "or fix the permissions of the directories above it",
		    path);
	}
	return ep_error_set(err, -e, "inspecting '%s': %s", path, strerror(e));
}

int pki_load(const struct pki_dir *dir, const char *name, const char *path,
	     const struct ep_cert_profile *prof, bool *ret_exists, X509 **crt, EVP_PKEY **key,
	     struct ep_error *err)
{
	struct stat st;
	*ret_exists = false;
	if (dir->fd < 0) {
		if (dir->error == ENOENT)
			return 0;
		return pki_inspect_error(path, dir->error, err);
	}
	if (fstatat(dir->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return pki_inspect_error(path, errno, err);
	}
	if (S_ISLNK(st.st_mode))
		return ep_error_set(err, -ELOOP,
				    "'%s' is a symbolic link; etcdpilot neither reads nor writes "
				    "certificates and keys through links: replace it with the file",
				    path);
	if (!S_ISREG(st.st_mode))
		return ep_error_set(err, -EINVAL,
				    "'%s' exists and is not a regular file (it is %s)", path,
				    kind_of(st.st_mode));
	*ret_exists = true;

	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r = ep_read_file_at(dir->fd, dir->shown, name, PKI_MAX_FILE, &buf, &len, err);
	if (r < 0)
		return r;
	bool fix = false;
	if (crt)
		r = cert_parse(buf, len, path, crt, &fix, err);
	else if (key)
		r = key_parse(buf, len, path, key, &fix, err);
	if (key)
		OPENSSL_cleanse(buf, len);
	if (r == -EINVAL && prof && err) {
		/* What to do depends on whose file it is: say it once, here. */
		char advice[512];
		pki_fix_advice(prof, fix, advice, sizeof(advice));
		size_t n = strlen(err->msg);
		snprintf(err->msg + n, sizeof(err->msg) - n, "; %s", advice);
	}
	return r;
}

/* ---- certificates ------------------------------------------------------- */

X509_NAME *pki_name_cn(const char *cn)
{
	X509_NAME *n = X509_NAME_new();
	if (n && !X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
					     (const unsigned char *)cn, -1, -1, 0)) {
		X509_NAME_free(n);
		return NULL;
	}
	return n;
}

EXTENDED_KEY_USAGE *pki_profile_eku(const struct ep_cert_profile *prof)
{
	if (prof->is_ca)
		return NULL;
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	if (!eku)
		return NULL;
	if ((prof->server_auth && !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_server_auth))) ||
	    !sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(NID_client_auth))) {
		EXTENDED_KEY_USAGE_free(eku);
		return NULL;
	}
	return eku;
}

/* A random positive serial of 127 bits (bit 126 set, so never shorter than 64). */
static ASN1_INTEGER *serial_new(void)
{
	unsigned char rnd[16];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return NULL;
	rnd[0] = (unsigned char)((rnd[0] & 0x3f) | 0x40);
	BIGNUM *bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	return ai;
}

static GENERAL_NAMES *sans_to_gens(const struct pki_sans *s)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	if (!gens)
		return NULL;
	for (size_t i = 0; i < s->dns.n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *v = ASN1_IA5STRING_new();
		if (!g || !v || !ASN1_STRING_set(v, s->dns.v[i], -1)) {
			GENERAL_NAME_free(g);
			ASN1_IA5STRING_free(v);
			goto fail;
		}
		GENERAL_NAME_set0_value(g, GEN_DNS, v);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto fail;
		}
	}
	for (size_t i = 0; i < s->ip.n; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_OCTET_STRING *v = a2i_IPADDRESS(s->ip.v[i]);
		if (!g || !v) {
			GENERAL_NAME_free(g);
			ASN1_OCTET_STRING_free(v);
			goto fail;
		}
		GENERAL_NAME_set0_value(g, GEN_IPADD, v);
		if (!sk_GENERAL_NAME_push(gens, g)) {
			GENERAL_NAME_free(g);
			goto fail;
		}
	}
	return gens;
fail:
	GENERAL_NAMES_free(gens);
	return NULL;
}

static int add_conf_ext(X509 *crt, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (!ext)
		return -1;
	int ok = X509_add_ext(crt, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* Go signs with SHA-384 for P-384 keys and SHA-256 for everything else. */
static const EVP_MD *digest_for(EVP_PKEY *signer)
{
	if (EVP_PKEY_is_a(signer, "EC") && EVP_PKEY_get_bits(signer) > 256)
		return EVP_sha384();
	return EVP_sha256();
}

/*
 * The certificate's SubjectPublicKeyInfo.  OpenSSL 3.0's X509_set_pubkey()
 * encodes a provider key to DER and then decodes it again by trying every
 * key decoder it has: about 3 million instructions per certificate, more
 * than the rest of an ECDSA certificate together.  The same structure is
 * written here from the key's own encoding: for EC, id-ecPublicKey with the
 * named curve and the uncompressed point (what Go and X509_set_pubkey
 * write); for RSA, rsaEncryption with NULL parameters and the PKCS#1
 * RSAPublicKey.  Anything else takes X509_set_pubkey().  1 or 0.
 */
static int spki_set(X509 *crt, EVP_PKEY *key)
{
	X509_PUBKEY *pub = X509_get_X509_PUBKEY(crt);
	unsigned char *penc = NULL;
	size_t len = 0;
	if (pub && EVP_PKEY_is_a(key, "EC")) {
		char group[64];
		size_t glen = 0;
		int nid = NID_undef;
		if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
						   sizeof(group), &glen)) {
			nid = OBJ_sn2nid(group);
			if (nid == NID_undef)
				nid = EC_curve_nist2nid(group);
		}
		len = EVP_PKEY_get1_encoded_public_key(key, &penc);
		if (nid == NID_undef || !len) {
			OPENSSL_free(penc);
			return 0;
		}
		if (!X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
					    OBJ_nid2obj(nid), penc, (int)len)) {
			OPENSSL_free(penc);
			return 0;
		}
		return 1;
	}
	if (pub && EVP_PKEY_is_a(key, "RSA")) {
		OSSL_ENCODER_CTX *ec = OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_PUBLIC_KEY, "DER",
								     "type-specific", NULL);
		int ok = ec && OSSL_ENCODER_to_data(ec, &penc, &len) && len;
		OSSL_ENCODER_CTX_free(ec);
		if (!ok || !X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_rsaEncryption), V_ASN1_NULL,
						   NULL, penc, (int)len)) {
			OPENSSL_free(penc);
			return 0;
		}
		return 1;
	}
	return X509_set_pubkey(crt, key);
}

int pki_cert_make(const struct pki_cert_req *req, EVP_PKEY *key, X509 *ca_crt, EVP_PKEY *ca_key,
		  X509 **ret, struct ep_error *err)
{
	ERR_clear_error();
	_cleanup_(X509_freep) X509 *crt = X509_new();
	if (!crt)
		return ep_error_ssl(err, "creating a certificate");
	bool self = ca_crt == NULL;
	EVP_PKEY *signer = self ? key : ca_key;
	if (!signer)
		return ep_error_set(err, -EINVAL, "no signing key");

	ASN1_INTEGER *serial = serial_new();
	int ok = serial && X509_set_version(crt, X509_VERSION_3) &&
		 X509_set_serialNumber(crt, serial) && X509_set_subject_name(crt, req->subject) &&
		 X509_set_issuer_name(crt, self ? req->subject : X509_get_subject_name(ca_crt)) &&
		 spki_set(crt, key) &&
		 ASN1_TIME_set(X509_getm_notBefore(crt), req->now - EP_CERT_BACKDATE_S) &&
		 ASN1_TIME_set(X509_getm_notAfter(crt), req->now + (time_t)req->validity_s);
	ASN1_INTEGER_free(serial);
	if (!ok)
		return ep_error_ssl(err, "filling in the certificate");

	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, self ? crt : ca_crt, crt, NULL, NULL, 0);
	if (req->is_ca) {
		if (add_conf_ext(crt, &ctx, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
		    add_conf_ext(crt, &ctx, NID_key_usage,
				 "critical,digitalSignature,keyEncipherment,keyCertSign") < 0)
			return ep_error_ssl(err, "adding CA extensions");
	} else {
		if (add_conf_ext(crt, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
		    add_conf_ext(crt, &ctx, NID_key_usage,
				 "critical,digitalSignature,keyEncipherment") < 0)
			return ep_error_ssl(err, "adding key usage");
	}
	if (req->eku && sk_ASN1_OBJECT_num(req->eku) > 0 &&
	    X509_add1_ext_i2d(crt, NID_ext_key_usage, (void *)req->eku, 0, X509V3_ADD_DEFAULT) != 1)
		return ep_error_ssl(err, "adding extended key usage");
	if (add_conf_ext(crt, &ctx, NID_subject_key_identifier, "hash") < 0)
		return ep_error_ssl(err, "adding the subject key identifier");
	/* Like Go, a self-signed CA carries no authority key identifier. */
	if (!self && add_conf_ext(crt, &ctx, NID_authority_key_identifier, "keyid") < 0)
		return ep_error_ssl(err, "adding the authority key identifier");
	if (req->sans && (req->sans->dns.n || req->sans->ip.n)) {
		_cleanup_(GENERAL_NAMES_freep) GENERAL_NAMES *gens = sans_to_gens(req->sans);
		if (!gens ||
		    X509_add1_ext_i2d(crt, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) != 1)
			return ep_error_ssl(err, "adding subject alternative names");
	}
	if (!X509_sign(crt, signer, digest_for(signer)))
		return ep_error_ssl(err, "signing the certificate");
	*ret = TAKE_PTR(crt);
	return 0;
}

static int bio_take(BIO *bio, char **ret, size_t *ret_len, struct ep_error *err)
{
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	if (n <= 0)
		return ep_error_ssl(err, "encoding PEM");
	char *copy = malloc((size_t)n + 1);
	if (!copy)
		return ep_error_set(err, -ENOMEM, "out of memory");
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	OPENSSL_cleanse(data, (size_t)n);
	*ret = copy;
	*ret_len = (size_t)n;
	return 0;
}

int pki_key_pem(EVP_PKEY *key, char **ret, size_t *ret_len, struct ep_error *err)
{
	_cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_secmem());
	if (!bio)
		bio = BIO_new(BIO_s_mem());
	if (!bio || !PEM_write_bio_PrivateKey_traditional(bio, key, NULL, NULL, 0, NULL, NULL))
		return ep_error_ssl(err, "encoding a private key");
	return bio_take(bio, ret, ret_len, err);
}

int pki_cert_pem(X509 *crt, char **ret, size_t *ret_len, struct ep_error *err)
{
	_cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
	if (!bio || !PEM_write_bio_X509(bio, crt))
		return ep_error_ssl(err, "encoding a certificate");
	return bio_take(bio, ret, ret_len, err);
}

bool pki_cert_issued_by(X509 *crt, X509 *ca)
{
	if (X509_check_issued(ca, crt) != X509_V_OK)
		return false;
	EVP_PKEY *pub = X509_get0_pubkey(ca);
	bool ok = pub && X509_verify(crt, pub) == 1;
	ERR_clear_error();
	return ok;
}

bool pki_cert_is_ca(X509 *crt)
{
	uint32_t flags = X509_get_extension_flags(crt);
	return (flags & EXFLAG_CA) && (flags & EXFLAG_BCONS);
}

void pki_name_oneline(const X509_NAME *name, char *buf, size_t size)
{
	buf[0] = '\0';
	_cleanup_(BIO_free_allp) BIO *bio = BIO_new(BIO_s_mem());
	if (!bio || X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) < 0) {
		snprintf(buf, size, "?");
		return;
	}
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	snprintf(buf, size, "%.*s", (int)(n > 0 ? n : 0), data ? data : "");
	if (!buf[0])
		snprintf(buf, size, "(empty)");
}

static int asn1_time_to_time_t(const ASN1_TIME *t, time_t *ret)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -EINVAL;
	time_t v = timegm(&tm);
	if (v == (time_t)-1 && !(tm.tm_year == 69 && tm.tm_mon == 11 && tm.tm_mday == 31))
		return -EINVAL;
	*ret = v;
	return 0;
}

int pki_cert_times(const X509 *crt, time_t *ret_not_before, time_t *ret_not_after)
{
	time_t nb, na;
	if (asn1_time_to_time_t(X509_get0_notBefore(crt), &nb) < 0 ||
	    asn1_time_to_time_t(X509_get0_notAfter(crt), &na) < 0)
		return -EINVAL;
	if (ret_not_before)
		*ret_not_before = nb;
	if (ret_not_after)
		*ret_not_after = na;
	return 0;
}
