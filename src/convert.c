/*
 * convert.c - the translation behind `etcdpilot convert` (convert.h): a
 * member read back from one runtime as the node spec of the other, the
 * TLS files it needs checked and placed, and what cannot be carried over
 * said.  It reads the node (the certificates, under the root) and never
 * changes it; the workflow (workflow_convert.c) turns the result into
 * actions.  Never prints.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "etcdpilot/convert.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/pki.h"
#include "pki_internal.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define TLS_MAX (1u << 20)

void ep_convert_release(struct ep_convert *cv)
{
	if (!cv)
		return;
	ep_spec_release(&cv->spec);
	ep_kvv_release(&cv->initial_cluster);
	for (size_t i = 0; i < cv->ncopies; i++) {
		free(cv->copies[i].from);
		free(cv->copies[i].to);
	}
	free(cv->copies);
	ep_strv_release(&cv->notes);
	free(cv->local_url), free(cv->unit_path), free(cv->manifest_path);
	free(cv->client_ca), free(cv->client_cert), free(cv->client_key);
	ep_strv_release(&cv->client_urls);
	memset(cv, 0, sizeof(*cv));
}

static int note(struct ep_convert *cv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int note(struct ep_convert *cv, const char *fmt, ...)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	ep_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	int r = ep_strbuf_oom(&sb) ? -ENOMEM : ep_strv_push(&cv->notes, ep_strbuf_str(&sb));
	ep_strbuf_release(&sb);
	return r;
}

/* Where setting @name was given ("/etc/etcd.env:12"), or what the member was read from. */
static const char *origin_of(const struct ep_member_desc *m, const char *name)
{
	for (size_t i = m->nflags; i-- > 0;)
		if (!strcmp(m->flags[i].name, name))
			return m->flags[i].origin ? m->flags[i].origin : "?";
	return m->source ? m->source : "?";
}

static int set_str(char **dst, const char *src)
{
	char *c = src ? strdup(src) : NULL;
	if (src && !c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

/* The host of @url ("https://[::1]:2379" -> "::1"), heap; NULL when it has none. */
static char *url_host(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return NULL;
	p += 3;
	if (*p == '[') {
		const char *e = strchr(p, ']');
		return e ? strndup(p + 1, (size_t)(e - p - 1)) : NULL;
	}
	size_t n = strcspn(p, ":/?#");
	return n ? strndup(p, n) : NULL;
}

static bool is_ip(const char *s)
{
	ASN1_OCTET_STRING *o = a2i_IPADDRESS(s);
	ASN1_OCTET_STRING_free(o);
	return o != NULL;
}

static bool unspecified(const char *h)
{
	return !strcmp(h, "0.0.0.0") || !strcmp(h, "::");
}

/* ---- the live member list as --initial-cluster ----------------------------------- */

static int live_cluster(struct ep_convert *cv, const char *self, const char *self_peers,
			const struct ep_convert_peer *peers, size_t npeers, struct ep_error *err)
{
	bool found = false;
	for (size_t i = 0; i < npeers; i++) {
		const char *name = peers[i].name, *urls = peers[i].peer_urls ? peers[i].peer_urls : "";
		if (!name || !*name)
			return ep_error_usage(err, -EINVAL,
					      "the cluster has a member that never started (peer URLs "
					      "%s): a conversion restarts this member into a cluster "
					      "whose members are all known; start or remove that member "
					      "first ('etcdpilot member list')", urls);
		found |= !strcmp(name, self);
		for (const char *p = urls; *p;) {
			size_t n = strcspn(p, ",");
			_cleanup_free_ char *u = strndup(p, n);
			if (!u || ep_kvv_push(&cv->initial_cluster, name, u) < 0)
				return ep_error_set(err, -ENOMEM, "out of memory");
			p += n + (p[n] == ',');
		}
	}
	if (!found)
		return ep_error_usage(err, -ENOENT,
				      "member '%s' (peer URLs %s) is not in the live member list of "
				      "its cluster: nothing to convert; if it was removed, 'etcdpilot "
				      "reset' cleans the node", self, self_peers ? self_peers : "?");
	return 0;
}

/* ---- the flags: what the target's defaults do not say --------------------------- */

/* Flags the target spec says through its own fields, or that convert decides. */
static bool handled(const char *name)
{
	static const char *const v[] = {
		"name",		 "data-dir",	  "cert-file",	   "key-file",
		"trusted-ca-file", "peer-cert-file", "peer-key-file", "peer-trusted-ca-file",
		"initial-cluster", "initial-cluster-state", NULL,
	};
	for (size_t i = 0; v[i]; i++)
		if (!strcmp(v[i], name))
			return true;
	return false;
}

static const char *kv_get(const struct ep_kvv *kv, const char *name)
{
	for (size_t i = 0; i < kv->n; i++)
		if (!strcmp(kv->v[i].name, name))
			return kv->v[i].value;
	return NULL;
}

/*
 * Every setting of @m that the defaults of the target (cv->spec without
 * extra args) do not give as it is becomes an extra argument; every
 * default the member did not have is said.
 */
static int carry_flags(struct ep_convert *cv, const struct ep_member_desc *m, bool to_pod,
		       struct ep_error *err)
{
	struct ep_kvv defs = { 0 };
	ep_kvv_release(&cv->spec.extra_args);
	int r = ep_manifest_etcd_args(&cv->spec, &cv->initial_cluster, &defs, err);
	if (r < 0)
		return r;
	for (size_t i = 0; r >= 0 && i < m->nflags; i++) {
		const struct ep_member_flag *f = &m->flags[i];
		if (handled(f->name))
			continue;
		const char *d = kv_get(&defs, f->name);
		if (d && !strcmp(d, f->value))
			continue;
		r = ep_kvv_push_at(&cv->spec.extra_args, f->name, f->value, f->origin, NULL);
	}
	for (size_t i = 0; r >= 0 && i < defs.n; i++) {
		const char *n = defs.v[i].name;
		if (handled(n) || ep_member_flag_get(m, n))
			continue;
		if (!strcmp(n, "listen-metrics-urls") && to_pod)
			r = note(cv, "added --listen-metrics-urls=%s: kubeadm's liveness and startup "
				     "probes ask /health there (plain http, loopback only)",
				 defs.v[i].value);
		else
			r = note(cv, "added --%s=%s (%s's default, which the member did not set)", n,
				 defs.v[i].value, to_pod ? "kubeadm" : "etcdpilot");
	}
	ep_kvv_release(&defs);
	return r < 0 ? (r == -ENOMEM ? ep_error_set(err, r, "out of memory") : r) : 0;
}

/* The environment: GOMAXPROCS and ETCD_UNSUPPORTED_ARCH go along; the rest is said. */
static int carry_env(struct ep_convert *cv, const struct ep_member_desc *m)
{
	bool ctl = false;
	for (size_t i = 0; i < m->nenv; i++) {
		const struct ep_member_var *v = &m->env[i];
		int r;
		if (!strcmp(v->name, "GOMAXPROCS") || !strcmp(v->name, "ETCD_UNSUPPORTED_ARCH")) {
			r = ep_kvv_push_at(&cv->spec.extra_envs, v->name, v->value, v->origin, NULL);
			if (r >= 0)
				r = note(cv, "%s=%s (%s) stays in etcd's environment", v->name,
					 v->value, v->origin ? v->origin : "?");
		} else if (!strncmp(v->name, "ETCDCTL_", 8)) {
			r = 0;
			if (!ctl)
				r = note(cv, "the ETCDCTL_* variables (%s) are etcdctl's, not etcd's "
					     "settings: they stay in their file for etcdctl",
					 v->origin ? v->origin : "?");
			ctl = true;
		} else {
			r = note(cv, "%s (%s) is no etcd setting: left out", v->name,
				 v->origin ? v->origin : "?");
		}
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < m->notes.n; i++)
		if (note(cv, "%s", m->notes.v[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* ---- the certificates ----------------------------------------------------------- */

static int read_cert(const char *root, const char *path, const char *at, X509 **ret,
		     struct ep_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct ep_error rerr = { 0 };
	int r = ep_root_read_file(root, path, TLS_MAX, false, &buf, &len, &rerr);
	if (r < 0)
		return ep_error_usage(err, r, "%s: cannot read %s: %s", at, path, rerr.msg);
	r = ep_pki_cert_parse(buf, len, path, ret, &rerr);
	return r < 0 ? ep_error_usage(err, r, "%s: %s", at, rerr.msg) : 0;
}

static int read_key(const char *root, const char *path, const char *at, EVP_PKEY **ret,
		    struct ep_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct ep_error rerr = { 0 };
	int r = ep_root_read_file(root, path, TLS_MAX, false, &buf, &len, &rerr);
	if (r < 0)
		return ep_error_usage(err, r, "%s: cannot read %s: %s", at, path, rerr.msg);
	r = ep_pki_key_parse(buf, len, path, ret, &rerr);
	if (buf)
		OPENSSL_cleanse(buf, len);
	return r < 0 ? ep_error_usage(err, r, "%s: %s", at, rerr.msg) : 0;
}

/* Does @crt name @host (an IP SAN for an address, a DNS SAN for a name)? */
static bool covers(X509 *crt, const char *host)
{
	if (is_ip(host))
		return X509_check_ip_asc(crt, host, 0) == 1;
	return X509_check_host(crt, host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1;
}

struct pair_need {
	const char *what;      /* "server certificate" */
	const char *cert_flag; /* "cert-file" */
	const char *key_flag;
	bool server, client;   /* extended key usages needed */
	const char *urls[3];   /* flags whose URLs' hosts must be covered */
};

/*
 * The pair @need names must be usable by the pod as it is by the unit:
 * the key matches, the CA signed it, it has not expired, its key usages,
 * and a SAN for every host of the URLs it serves.
 */
static int check_pair(const struct ep_member_desc *m, const char *root, X509 *ca,
		      const struct pair_need *need, struct ep_error *err)
{
	const char *cp = ep_member_flag_get(m, need->cert_flag);
	const char *kp = ep_member_flag_get(m, need->key_flag);
	const char *at = origin_of(m, need->cert_flag);
	_cleanup_(X509_freep) X509 *crt = NULL;
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *key = NULL;
	int r = read_cert(root, cp, at, &crt, err);
	if (r >= 0)
		r = read_key(root, kp, origin_of(m, need->key_flag), &key, err);
	if (r < 0)
		return r;
	if (X509_check_private_key(crt, key) != 1)
		return ep_error_usage(err, -EINVAL, "%s: the %s %s and its key %s do not match; "
						    "nothing was changed: fix the pair first",
				      at, need->what, cp, kp);
	EVP_PKEY *capub = X509_get0_pubkey(ca);
	if (!capub || X509_verify(crt, capub) != 1)
		return ep_error_usage(err, -EINVAL, "%s: the %s %s is not signed by the CA %s; "
						    "nothing was changed",
				      at, need->what, cp, ep_member_flag_get(m, "trusted-ca-file"));
	if (X509_cmp_current_time(X509_get0_notAfter(crt)) <= 0)
		return ep_error_usage(err, -EKEYEXPIRED, "%s: the %s %s has expired; nothing was "
							 "changed: renew it before converting",
				      at, need->what, cp);
	uint32_t xku = X509_get_extended_key_usage(crt);
	if ((need->server && !(xku & XKU_SSL_SERVER)) || (need->client && !(xku & XKU_SSL_CLIENT)))
		return ep_error_usage(err, -EINVAL,
				      "%s: the %s %s lacks the extended key usage %s it needs; "
				      "nothing was changed: reissue it with %s",
				      at, need->what, cp,
				      need->server && !(xku & XKU_SSL_SERVER) ? "serverAuth"
									      : "clientAuth",
				      need->server && need->client ? "serverAuth and clientAuth"
								   : "serverAuth");
	for (size_t u = 0; u < 3 && need->urls[u]; u++) {
		const char *list = ep_member_flag_get(m, need->urls[u]);
		for (const char *p = list ? list : ""; *p;) {
			size_t n = strcspn(p, ",");
			_cleanup_free_ char *url = strndup(p, n);
			_cleanup_free_ char *host = url ? url_host(url) : NULL;
			p += n + (p[n] == ',');
			if (!url)
				return ep_error_set(err, -ENOMEM, "out of memory");
			if (!host || unspecified(host) || covers(crt, host))
				continue;
			return ep_error_usage(err, -EINVAL,
					      "%s: the %s %s has no SAN for '%s' (--%s=%s, %s); "
					      "nothing was changed: reissue it with that SAN",
					      at, need->what, cp, host, need->urls[u], list,
					      origin_of(m, need->urls[u]));
		}
	}
	return 0;
}

static int add_copy(struct ep_convert *cv, const char *root, const char *from, const char *to,
		    unsigned mode, struct ep_error *err)
{
	for (size_t i = 0; i < cv->ncopies; i++)
		if (!strcmp(cv->copies[i].to, to)) {
			if (!strcmp(cv->copies[i].from, from))
				return 0;
			return ep_error_usage(err, -EINVAL, "%s and %s would both become %s",
					      cv->copies[i].from, from, to);
		}
	bool same = !strcmp(from, to);
	if (!same && ep_root_exists(root, to)) {
		_cleanup_free_ char *a = NULL, *b = NULL;
		size_t la = 0, lb = 0;
		if (ep_root_read_file(root, from, TLS_MAX, false, &a, &la, NULL) < 0 ||
		    ep_root_read_file(root, to, TLS_MAX, false, &b, &lb, NULL) < 0 || la != lb ||
		    memcmp(a, b, la))
			return ep_error_usage(err, -EEXIST,
					      "%s already holds another file than %s, which the static "
					      "pod would read there; nothing was changed: move it away "
					      "(or pass --cert-dir for another kubeadm certificate "
					      "directory)", to, from);
		same = true;
		if (a)
			OPENSSL_cleanse(a, la);
		if (b)
			OPENSSL_cleanse(b, lb);
	}
	struct ep_convert_copy *v = realloc(cv->copies, (cv->ncopies + 1) * sizeof(*v));
	if (!v)
		return ep_error_set(err, -ENOMEM, "out of memory");
	cv->copies = v;
	v[cv->ncopies] = (struct ep_convert_copy){ .from = strdup(from), .to = strdup(to),
						   .mode = mode, .same = same };
	if (!v[cv->ncopies].from || !v[cv->ncopies].to)
		return ep_error_set(err, -ENOMEM, "out of memory");
	cv->ncopies++;
	return 0;
}

/* Where a CA key would be beside @ca: ca.pem -> ca-key.pem (cfssl), ca.crt -> ca.key. */
static char *ca_key_path(const char *ca)
{
	size_t n = strlen(ca);
	char *out = NULL;
	if (n > 4 && !strcmp(ca + n - 4, ".pem")) {
		if (asprintf(&out, "%.*s-key.pem", (int)(n - 4), ca) < 0)
			return NULL;
	} else if (n > 4 && !strcmp(ca + n - 4, ".crt")) {
		if (asprintf(&out, "%.*s.key", (int)(n - 4), ca) < 0)
			return NULL;
	} else if (asprintf(&out, "%s.key", ca) < 0) {
		return NULL;
	}
	return out;
}

static int same_file_content(const char *root, const char *a, const char *b, bool *ret)
{
	_cleanup_free_ char *x = NULL, *y = NULL;
	size_t lx = 0, ly = 0;
	*ret = !strcmp(a, b);
	if (*ret)
		return 0;
	int r = ep_root_read_file(root, a, TLS_MAX, false, &x, &lx, NULL);
	if (r >= 0)
		r = ep_root_read_file(root, b, TLS_MAX, false, &y, &ly, NULL);
	*ret = r >= 0 && lx == ly && !memcmp(x, y, lx);
	return r;
}

static int plan_certs(struct ep_convert *cv, const struct ep_member_desc *m, const char *root,
		      struct ep_error *err)
{
	static const char *const tls[] = { "cert-file",	    "key-file",	     "trusted-ca-file",
					   "peer-cert-file", "peer-key-file", "peer-trusted-ca-file",
					   NULL };
	for (size_t i = 0; tls[i]; i++)
		if (!ep_member_flag_get(m, tls[i]))
			return ep_error_usage(
			    err, -EINVAL,
			    "%s: the member sets no --%s: kubeadm's static pod serves clients and "
			    "peers over TLS with client certificates, and a member without TLS "
			    "cannot be restarted into it as it is; nothing was changed: move the "
			    "member to TLS first", m->source ? m->source : "?", tls[i]);
	const char *ca_path = ep_member_flag_get(m, "trusted-ca-file");
	const char *pca_path = ep_member_flag_get(m, "peer-trusted-ca-file");
	bool same_ca = false;
	if (same_file_content(root, ca_path, pca_path, &same_ca) < 0 || !same_ca)
		return ep_error_usage(err, -EINVAL,
				      "%s: --peer-trusted-ca-file (%s) is not the same CA as "
				      "--trusted-ca-file (%s): kubeadm's layout has one etcd CA for "
				      "both; nothing was changed",
				      origin_of(m, "peer-trusted-ca-file"), pca_path, ca_path);
	_cleanup_(X509_freep) X509 *ca = NULL;
	int r = read_cert(root, ca_path, origin_of(m, "trusted-ca-file"), &ca, err);
	if (r < 0)
		return r;
	const struct pair_need server = {
		"server certificate", "cert-file", "key-file", true, false,
		{ "advertise-client-urls", "listen-client-urls", NULL },
	};
	const struct pair_need peer = {
		"peer certificate", "peer-cert-file", "peer-key-file", true, true,
		{ "initial-advertise-peer-urls", "listen-peer-urls", NULL },
	};
	if ((r = check_pair(m, root, ca, &server, err)) < 0 ||
	    (r = check_pair(m, root, ca, &peer, err)) < 0)
		return r;

	const char *cd = cv->spec.cert_dir;
	struct {
		const char *flag, *base;
		unsigned mode;
	} map[] = {
		{ "trusted-ca-file", "ca.crt", 0644 }, { "cert-file", "server.crt", 0644 },
		{ "key-file", "server.key", 0600 },    { "peer-cert-file", "peer.crt", 0644 },
		{ "peer-key-file", "peer.key", 0600 },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		_cleanup_free_ char *to = NULL;
		if (asprintf(&to, "%s/etcd/%s", cd, map[i].base) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
		if ((r = add_copy(cv, root, ep_member_flag_get(m, map[i].flag), to, map[i].mode,
				  err)) < 0)
			return r;
	}
	/* the CA key, when it is on the node and belongs to the CA */
	_cleanup_free_ char *kp = ca_key_path(ca_path);
	_cleanup_free_ char *kto = NULL;
	if (!kp || asprintf(&kto, "%s/etcd/ca.key", cd) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	_cleanup_(EVP_PKEY_freep) EVP_PKEY *cakey = NULL;
	struct ep_error kerr = { 0 };
	if (ep_root_exists(root, kp) && read_key(root, kp, kp, &cakey, &kerr) >= 0 &&
	    X509_check_private_key(ca, cakey) == 1) {
		if ((r = add_copy(cv, root, kp, kto, 0600, err)) < 0)
			return r;
		cv->ca_key = true;
		_cleanup_free_ char *hc = NULL;
		if (asprintf(&hc, "%s/etcd/healthcheck-client.crt", cd) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
		cv->make_healthcheck = !ep_root_exists(root, hc);
		if (cv->make_healthcheck &&
		    note(cv, "a healthcheck-client pair (kubeadm's) is made from the CA key %s",
			 kp) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
	} else if (note(cv, "no healthcheck-client certificate is made: the CA key is not on this "
			    "node (looked for %s%s%s); kubeadm's probes use the plain-http metrics "
			    "URL and need none; to add one later, put the CA key at %s and run "
			    "'etcdpilot certs generate etcd-healthcheck-client'",
			kp, kerr.msg[0] ? ": " : "", kerr.msg, kto) < 0) {
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	bool moved = false;
	for (size_t i = 0; i < cv->ncopies; i++)
		moved |= !cv->copies[i].same;
	if (moved && note(cv, "the TLS files are copied into kubeadm's layout (%s/etcd); the "
			      "originals stay where they are, so clients that use them (the "
			      "kube-apiserver's --etcd-certfile, etcdctl) keep working", cd) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* ---- the common checks and fields ------------------------------------------------ */

static int member_basics(const struct ep_member_desc *m, struct ep_convert *cv,
			 const struct ep_spec *base, struct ep_error *err)
{
	if (m->conflicts.n) {
		struct ep_strbuf sb = EP_STRBUF_INIT;
		for (size_t i = 0; i < m->conflicts.n; i++)
			ep_strbuf_addf(&sb, "%s%s", i ? "; " : "", m->conflicts.v[i]);
		int r = ep_error_usage(err, -EINVAL,
				       "the member as configured in %s would not start (%s); "
				       "nothing was changed: fix its configuration first",
				       m->source ? m->source : "?",
				       ep_strbuf_oom(&sb) ? "?" : ep_strbuf_str(&sb));
		ep_strbuf_release(&sb);
		return r;
	}
	const char *src = m->source ? m->source : "?";
	if (!m->spec.name)
		return ep_error_usage(err, -EINVAL, "%s: the member sets no --name (ETCD_NAME); "
						    "nothing was changed", src);
	if (!m->spec.data_dir)
		return ep_error_usage(err, -EINVAL,
				      "%s: the member sets no --data-dir (ETCD_DATA_DIR): etcd then "
				      "uses '<name>.etcd' in its working directory, which a static "
				      "pod cannot mount; nothing was changed: set it first", src);
	static const char *const urls[] = { "initial-advertise-peer-urls", "listen-peer-urls",
					    "advertise-client-urls", "listen-client-urls", NULL };
	for (size_t i = 0; urls[i]; i++) {
		const char *v = ep_member_flag_get(m, urls[i]);
		if (!v)
			return ep_error_usage(err, -EINVAL,
					      "%s: the member sets no --%s: etcd's default "
					      "(localhost, plain http) would not survive the move; "
					      "nothing was changed: set it first", src, urls[i]);
		for (const char *p = v; *p;) {
			size_t n = strcspn(p, ",");
			if (strncmp(p, "https://", 8))
				return ep_error_usage(err, -EINVAL,
						      "%s: --%s=%s: '%.*s' is not https; kubeadm's "
						      "static pod serves TLS only; nothing was changed",
						      origin_of(m, urls[i]), urls[i], v, (int)n, p);
			p += n + (p[n] == ',');
		}
	}
	if (!m->version || !ep_manifest_version_supported(m->version))
		return ep_error_usage(err, -EINVAL,
				      "%s: etcd %s (%s) cannot be converted: etcdpilot renders 3.4, "
				      "3.5 and 3.6", src, m->version ? m->version : "of unknown version",
				      m->version_from ? m->version_from : "?");
	int r = ep_spec_copy(&cv->spec, base);
	if (r < 0)
		return ep_error_set(err, r, "out of memory");
	/* the advertise address: the host of the first advertised client URL */
	_cleanup_free_ char *host = url_host(ep_member_flag_get(m, "advertise-client-urls"));
	if (!host || !is_ip(host)) {
		free(host);
		host = url_host(ep_member_flag_get(m, "initial-advertise-peer-urls"));
	}
	if (!host || !is_ip(host))
		return ep_error_usage(err, -EINVAL,
				      "%s: neither the advertised client URL nor the peer URL has an "
				      "IP address: kubeadm's manifest names its member by address; "
				      "nothing was changed", src);
	ep_kvv_release(&cv->spec.extra_args);
	ep_kvv_release(&cv->spec.extra_envs);
	char tag[64];
	if (set_str(&cv->spec.name, m->spec.name) < 0 ||
	    set_str(&cv->spec.advertise_address, host) < 0 ||
	    set_str(&cv->spec.data_dir, m->spec.data_dir) < 0 ||
	    set_str(&cv->spec.etcd_version, m->version) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	snprintf(tag, sizeof(tag), "%s-0", m->version);
	if (!m->image && set_str(&cv->spec.image_tag, tag) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return path && !strncmp(path, dir, n) && path[n] == '/';
}

enum ep_installer ep_convert_installer(const struct ep_member_desc *m)
{
	if (m->mode != EP_MODE_SYSTEMD)
		return EP_INSTALLER_UNKNOWN;
	if (ep_strv_contains(&m->files, "/etc/etcd.env") || under(m->cert_file, "/etc/ssl/etcd/ssl") ||
	    under(m->trusted_ca_file, "/etc/ssl/etcd/ssl"))
		return EP_INSTALLER_KUBESPRAY;
	bool etcd_env = ep_strv_contains(&m->files, "/etc/etcd/etcd.env");
	if ((m->trusted_ca_file && !strcmp(m->trusted_ca_file, "/etc/etcd/pki/ca.crt")) ||
	    (etcd_env && m->program && !strcmp(m->program, "/opt/bin/etcd")))
		return EP_INSTALLER_ETCDADM;
	if (etcd_env && m->spec.cert_dir)
		return EP_INSTALLER_ETCDPILOT;
	return EP_INSTALLER_UNKNOWN;
}

int ep_convert_to_static_pod(const struct ep_member_desc *m, const struct ep_spec *base,
			     const struct ep_convert_peer *peers, size_t npeers, const char *root,
			     struct ep_convert *ret, struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	int r = member_basics(m, ret, base, err);
	if (r >= 0 && m->spec.cert_dir && set_str(&ret->spec.cert_dir, m->spec.cert_dir) < 0)
		r = ep_error_set(err, -ENOMEM, "out of memory");
	ret->spec.mode = EP_MODE_STATIC_POD;
	ret->installer = ep_convert_installer(m);
	if (r >= 0)
		r = live_cluster(ret, m->spec.name, m->initial_advertise_peer_urls, peers, npeers,
				 err);
	if (r >= 0)
		r = plan_certs(ret, m, root, err);
	if (r >= 0 && (r = carry_env(ret, m)) < 0)
		r = ep_error_set(err, r, "out of memory");
	if (r >= 0)
		r = carry_flags(ret, m, true, err);
	if (r >= 0 && m->initial_cluster.n) {
		bool stale = m->initial_cluster.n != ret->initial_cluster.n;
		for (size_t i = 0; !stale && i < m->initial_cluster.n; i++)
			stale = strcmp(m->initial_cluster.v[i].name, ret->initial_cluster.v[i].name) ||
				strcmp(m->initial_cluster.v[i].value, ret->initial_cluster.v[i].value);
		if (stale && note(ret, "--initial-cluster comes from the live member list, not from "
				       "the stale line in %s (which names %zu peer URL%s)",
				  origin_of(m, "initial-cluster"), m->initial_cluster.n,
				  m->initial_cluster.n == 1 ? "" : "s") < 0)
			r = ep_error_set(err, -ENOMEM, "out of memory");
	}
	if (r < 0)
		ep_convert_release(ret);
	return r < 0 ? r : 0;
}

int ep_convert_to_systemd(const struct ep_member_desc *m, const struct ep_spec *base,
			  const struct ep_convert_peer *peers, size_t npeers,
			  struct ep_convert *ret, struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	int r = member_basics(m, ret, base, err);
	if (r >= 0 && m->spec.cert_dir && set_str(&ret->spec.cert_dir, m->spec.cert_dir) < 0)
		r = ep_error_set(err, -ENOMEM, "out of memory");
	ret->spec.mode = EP_MODE_SYSTEMD;
	if (r >= 0)
		r = live_cluster(ret, m->spec.name, m->initial_advertise_peer_urls, peers, npeers,
				 err);
	if (r >= 0 && (r = carry_env(ret, m)) < 0)
		r = ep_error_set(err, r, "out of memory");
	if (r >= 0)
		r = carry_flags(ret, m, false, err);
	if (r < 0)
		ep_convert_release(ret);
	return r < 0 ? r : 0;
}
