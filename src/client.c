/*
 * client.c - the etcd client's transport: HTTPS POSTs to the v3 JSON
 * gateway with client certificates, driven by one libcurl multi handle, and
 * the unary calls built on it.
 *
 * This module owns the connection policy: CA verification always on (peer
 * and host name), TLS material read and parsed once per client and put
 * into each connection's SSL_CTX by curl's SSL_CTX callback (OpenSSL 3
 * spends milliseconds decoding a PEM key or certificate, and curl would do
 * it again for every connection), connections kept open and shared between
 * calls (HTTP/2 multiplexing where the member offers it), no proxy, a deadline
 * on every call (connect, TLS and answer together, and again in the multi
 * loop), an upper bound on every answer's size, and plain words for
 * transport failures - with the cause the TLS layer saw (a certificate out
 * of its validity, with its date; whether the member answered at all) and
 * a hint for the usual wrong endpoints (http://, the peer port).  It never
 * prints, never sleeps except in ep_wait_healthy's backoff, and never
 * turns verification off: its TLS hooks only watch.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "client_internal.h"
#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/pki.h"
#include "util/cleanup.h"
#include "util/strbuf.h"


#define DEFAULT_TIMEOUT_MS 5000
/*
 * The most an answer may hold.  Membership, status and alarm answers are a
 * few kB (EP_MEMBERS_MAX members of a few URLs each fit in 128 kB), so 1 MiB
 * is far above anything etcd sends and keeps a hostile answer from costing
 * more than a few MiB once parsed; a range (keys and values) and anything
 * else may be large.
 */
#define MAX_ANSWER_SMALL (1u << 20)
#define MAX_ANSWER (16u << 20)
#define MAX_PEM (1u << 20)

struct ep_client {
	CURLM *multi;
	CURLSH *share;
	struct curl_slist *headers;
	char *cacert_path, *cert_path, *key_path;
	char *ca_pem, *cert_pem, *key_pem;
	size_t ca_len, cert_len, key_len;
	/* The same material parsed, when curl's TLS backend is this OpenSSL. */
	bool use_ssl_ctx;
	STACK_OF(X509) *cas;   /* trust anchors */
	X509 *cert;            /* client certificate */
	STACK_OF(X509) *chain; /* intermediates sent after it */
	EVP_PKEY *key;
	uint64_t timeout_ms;
	uint64_t next_call_id;
	struct ep_call *active;
	bool stop;
	bool draining;
};

static void secret_free(char *p, size_t len)
{
	if (p) {
		OPENSSL_cleanse(p, len);
		free(p);
	}
}

static int curl_global(struct ep_error *err)
{
	static bool done;
	if (done)
		return 0;
	CURLcode cc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (cc != CURLE_OK)
		return ep_error_set(err, -EIO, "initialising libcurl: %s", curl_easy_strerror(cc));
	done = true;
	return 0;
}

static int pem_load(const char *what, const char *path, char **ret, size_t *ret_len,
		    struct ep_error *err)
{
	int r = ep_read_file(path, MAX_PEM, false, ret, ret_len, err);
	if (r < 0)
		return ep_error_prefix(err, "%s", what);
	if (!strstr(*ret, "-----BEGIN ")) {
		secret_free(*ret, *ret_len);
		*ret = NULL;
		return ep_error_usage(err, -EINVAL, "%s '%s' is not a PEM file", what, path);
	}
	return 0;
}

void ep_client_free(struct ep_client *c)
{
	if (!c)
		return;
	while (c->active) {
		struct ep_call *call = c->active;
		c->active = call->next;
		curl_multi_remove_handle(c->multi, call->easy);
		curl_easy_cleanup(call->easy);
		free(call->endpoint);
		free(call->url);
		free(call->body);
		free(call->resp);
		json_decref(call->obj);
		free(call);
	}
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->share)
		curl_share_cleanup(c->share);
	curl_slist_free_all(c->headers);
	free(c->cacert_path);
	free(c->cert_path);
	free(c->key_path);
	free(c->ca_pem);
	free(c->cert_pem);
	secret_free(c->key_pem, c->key_len);
	sk_X509_pop_free(c->cas, X509_free);
	sk_X509_pop_free(c->chain, X509_free);
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
	free(c);
}

/*
 * Parse the PEM material once.  Refuses, naming the file, what curl would
 * only have refused at the first handshake: no certificate in a file, a key
 * that is not the certificate's.
 */
/* A bad TLS file given to a command is a usage error: nothing was done yet. */
static int tls_usage(struct ep_error *err, int r, const char *what)
{
	if (r == -ENOMEM)
		return r;
	ep_error_prefix(err, "%s", what);
	err->kind = EP_ERR_USAGE;
	return r;
}

/* An ASN1_TIME as time_t; 0 when it cannot be read. */
static time_t asn1_time_t(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

/* "'etcdpilot certs renew etcd-server'" for a certificate file kubeadm's layout names. */
static void renew_hint(const char *path, char *buf, size_t size)
{
	size_t pl = path ? strlen(path) : 0;
	for (int id = 0; id < EP_CERT_COUNT; id++) {
		const struct ep_cert_profile *p = ep_cert_profile((enum ep_cert_id)id);
		char tail[128];
		if (!p || p->is_ca)
			continue;
		int w = snprintf(tail, sizeof(tail), "/%s.crt", p->base);
		if (w > 0 && (size_t)w <= pl && !strcmp(path + pl - (size_t)w, tail)) {
			snprintf(buf, size, "renew it with 'etcdpilot certs renew %s' on the node "
					    "it belongs to", p->name);
			return;
		}
	}
	snprintf(buf, size, "renew it (with 'etcdpilot certs renew NAME' where etcdpilot "
			    "made it)");
}

/*
 * A client certificate out of its validity is refused by every member:
 * say so before connecting, naming the file, the date and the remedy.
 */
static int client_cert_check_validity(X509 *cert, const char *path, struct ep_error *err)
{
	char when[64], hint[160];
	const ASN1_TIME *na = X509_get0_notAfter(cert), *nb = X509_get0_notBefore(cert);
	renew_hint(path, hint, sizeof(hint));
	if (X509_cmp_current_time(na) < 0) {
		ep_pki_format_expiry(asn1_time_t(na), when, sizeof(when));
		return ep_error_set(err, -EKEYEXPIRED,
				    "client certificate '%s' expired on %s: etcd refuses it; %s",
				    path, when, hint);
	}
	if (X509_cmp_current_time(nb) > 0) {
		ep_pki_format_expiry(asn1_time_t(nb), when, sizeof(when));
		return ep_error_set(err, -EKEYEXPIRED,
				    "client certificate '%s' is not valid before %s: etcd refuses "
				    "it; check this machine's clock, or %s",
				    path, when, hint);
	}
	return 0;
}

static int tls_parse(struct ep_client *c, struct ep_error *err)
{
	int r;
	if (c->ca_pem && (r = ep_pki_certs_parse(c->ca_pem, c->ca_len, c->cacert_path, &c->cas,
						 err)) < 0)
		return tls_usage(err, r, "CA certificate");
	if (!c->cert_pem)
		return 0;
	if ((r = ep_pki_certs_parse(c->cert_pem, c->cert_len, c->cert_path, &c->chain, err)) < 0)
		return tls_usage(err, r, "client certificate");
	c->cert = sk_X509_shift(c->chain);
	if ((r = ep_pki_key_parse(c->key_pem, c->key_len, c->key_path, &c->key, err)) < 0)
		return tls_usage(err, r, "client key");
	if (X509_check_private_key(c->cert, c->key) != 1) {
		ERR_clear_error();
		return ep_error_usage(err, -EINVAL, "client key '%s' does not belong to the "
						    "client certificate '%s': give the matching pair",
				      c->key_path, c->cert_path);
	}
	return client_cert_check_validity(c->cert, c->cert_path, err);
}

/*
 * What the TLS layer of a connection tells about it, for messages that name
 * the real cause: the verification error of the member's chain (an expired
 * serving certificate, with its date) and whether the member sent any
 * application data after the handshake (a closed connection without it is
 * what a refused client certificate looks like).  curl makes one SSL_CTX per
 * connection; each gets a tls_watch as ex_data, freed with it.  The watch
 * names the call that opened the connection by its id, never by pointer:
 * the connection may outlive the call, the client outlives every
 * connection (curl_multi_cleanup closes them), and a call that is gone is
 * simply not found.
 */
struct tls_watch {
	struct ep_client *client;
	uint64_t call_id;
	size_t record_len; /* length of the record being read (TLS 1.3: type follows) */
};

/* The SSL_CTX ex_data index of the watch: OpenSSL's indices are process-wide. */
static int watch_index = -1;
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;

static void tls_watch_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
			   void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

static struct ep_call *call_by_id(struct ep_client *c, uint64_t id)
{
	for (struct ep_call *call = c->active; call; call = call->next)
		if (call->id == id)
			return call;
	return NULL;
}

static struct ep_call *watched_call(SSL *ssl)
{
	SSL_CTX *ctx = ssl ? SSL_get_SSL_CTX(ssl) : NULL;
	struct tls_watch *w = ctx && watch_index >= 0 ? SSL_CTX_get_ex_data(ctx, watch_index) : NULL;
	return w ? call_by_id(w->client, w->call_id) : NULL;
}

/* OpenSSL's verdict on each certificate of the member's chain; it is never changed here. */
static int on_verify(int ok, X509_STORE_CTX *sctx)
{
	if (ok)
		return ok;
	SSL *ssl = X509_STORE_CTX_get_ex_data(sctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct ep_call *call = watched_call(ssl);
	X509 *cert = X509_STORE_CTX_get_current_cert(sctx);
	if (!call || call->tls_verify_err)
		return ok;
	call->tls_verify_err = X509_STORE_CTX_get_error(sctx);
	call->tls_verify_depth = X509_STORE_CTX_get_error_depth(sctx);
	if (cert) {
		call->tls_not_before = asn1_time_t(X509_get0_notBefore(cert));
		call->tls_not_after = asn1_time_t(X509_get0_notAfter(cert));
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName,
					  call->tls_subject, sizeof(call->tls_subject));
	}
	return ok;
}

/*
 * Every TLS record read: count the application data.  TLS 1.3 hides a
 * record's type until it is decrypted (an alert travels as "application
 * data" outside), so there the inner type decides; TLS 1.2 shows it in
 * the header.
 */
static void on_tls_msg(int write_p, int version, int content_type, const void *buf, size_t len,
		       SSL *ssl, void *arg)
{
	(void)version;
	(void)arg;
	const unsigned char *b = buf;
	if (write_p || !ssl || watch_index < 0)
		return;
	struct tls_watch *w = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), watch_index);
	if (!w)
		return;
	bool tls13 = SSL_version(ssl) >= TLS1_3_VERSION;
	size_t data = 0;
	if (content_type == SSL3_RT_HEADER && len >= 5) {
		w->record_len = (size_t)b[3] << 8 | b[4];
		if (!tls13 && b[0] == SSL3_RT_APPLICATION_DATA)
			data = w->record_len;
	} else if (content_type == SSL3_RT_INNER_CONTENT_TYPE && len == 1 && tls13 &&
		   b[0] == SSL3_RT_APPLICATION_DATA) {
		data = w->record_len;
	}
	if (!data)
		return;
	struct ep_call *call = call_by_id(w->client, w->call_id);
	if (call)
		call->tls_app_bytes += data;
}

static void watch_index_init(void)
{
	watch_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, tls_watch_free);
}

static int tls_watch(SSL_CTX *ctx, struct ep_client *c, CURL *easy)
{
	struct ep_call *call = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&call);
	if (!call)
		return 0;
	pthread_once(&watch_once, watch_index_init);
	struct tls_watch *w = calloc(1, sizeof(*w));
	if (watch_index < 0 || !w || !SSL_CTX_set_ex_data(ctx, watch_index, w)) {
		free(w);
		ERR_clear_error();
		return -ENOMEM;
	}
	w->client = c;
	w->call_id = call->id;
	call->made_connection = true;
	/* curl's verification mode stays; the callback only watches. */
	SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), on_verify);
	SSL_CTX_set_msg_callback(ctx, on_tls_msg);
	return 0;
}

/*
 * curl's hook into each new connection's SSL_CTX: the trust anchors go into
 * its store (curl loads no CA file: CAINFO and CAPATH are unset), the client
 * certificate, its chain and its key into the context.  Reference counts
 * are taken, nothing is copied or parsed.  Verification itself stays curl's
 * (peer chain and host name, both always on); the tls_watch only listens.
 */
static CURLcode on_ssl_ctx(CURL *easy, void *sslctx, void *userdata)
{
	SSL_CTX *ctx = sslctx;
	struct ep_client *c = userdata;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	if (tls_watch(ctx, c, easy) < 0)
		return CURLE_OUT_OF_MEMORY;
	for (int i = 0; c->cas && i < sk_X509_num(c->cas); i++)
		if (!store || X509_STORE_add_cert(store, sk_X509_value(c->cas, i)) != 1) {
			ERR_clear_error();
			return CURLE_SSL_CACERT_BADFILE;
		}
	if (c->cert) {
		if (SSL_CTX_use_certificate(ctx, c->cert) != 1 ||
		    SSL_CTX_use_PrivateKey(ctx, c->key) != 1) {
			ERR_clear_error();
			return CURLE_SSL_CERTPROBLEM;
		}
		for (int i = 0; i < sk_X509_num(c->chain); i++)
			if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(c->chain, i)) != 1) {
				ERR_clear_error();
				return CURLE_SSL_CERTPROBLEM;
			}
	}
	return CURLE_OK;
}

int ep_client_new(const struct ep_tls *tls, uint64_t call_timeout_ms, struct ep_client **ret,
		  struct ep_error *err)
{
	int r;

	*ret = NULL;
	if ((r = curl_global(err)) < 0)
		return r;
	struct ep_client *c = calloc(1, sizeof(*c));
	if (!c)
		return ep_error_set(err, -ENOMEM, "out of memory");
	c->timeout_ms = call_timeout_ms ? call_timeout_ms : DEFAULT_TIMEOUT_MS;
	if (tls && tls->cacert && (r = pem_load("CA certificate", tls->cacert, &c->ca_pem,
						 &c->ca_len, err)) < 0)
		goto fail;
	if (tls && tls->cert && (r = pem_load("client certificate", tls->cert, &c->cert_pem,
					       &c->cert_len, err)) < 0)
		goto fail;
	if (tls && tls->key &&
	    (r = pem_load("client key", tls->key, &c->key_pem, &c->key_len, err)) < 0)
		goto fail;
	if (!!c->cert_pem != !!c->key_pem) {
		r = ep_error_usage(err, -EINVAL, "a client certificate needs its key and a key its "
						 "certificate: give both --cert and --key");
		goto fail;
	}
	if ((tls && tls->cacert && !(c->cacert_path = strdup(tls->cacert))) ||
	    (tls && tls->cert && !(c->cert_path = strdup(tls->cert))) ||
	    (tls && tls->key && !(c->key_path = strdup(tls->key)))) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}

	/* Only an OpenSSL backend takes the parsed objects; others get the PEM blobs. */
	const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
	c->use_ssl_ctx = vi && vi->ssl_version && !strncmp(vi->ssl_version, "OpenSSL/", 8);
	if (c->use_ssl_ctx && (r = tls_parse(c, err)) < 0)
		goto fail;

	c->multi = curl_multi_init();
	c->share = curl_share_init();
	if (!c->multi || !c->share) {
		r = ep_error_set(err, -ENOMEM, "cannot create a curl handle");
		goto fail;
	}
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	/* Reused TLS sessions and DNS answers across every call of this client. */
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	if (h)
		c->headers = h;
	if (!h || !(h = curl_slist_append(c->headers, "Expect:"))) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	*ret = c;
	return 0;
fail:
	ep_client_free(c);
	return r;
}

void ep_client_set_timeout(struct ep_client *c, uint64_t call_timeout_ms)
{
	c->timeout_ms = call_timeout_ms ? call_timeout_ms : DEFAULT_TIMEOUT_MS;
}

uint64_t ep_client_timeout(const struct ep_client *c)
{
	return c->timeout_ms;
}

void ep_client_stop(struct ep_client *c)
{
	c->stop = true;
}

/* ------------------------------------------------------------------------ */
/* One call                                                                  */

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct ep_call *call = userdata;
	size_t n = size * nmemb;
	if (n > call->max_answer - call->resp_len)
		return 0; /* CURLE_WRITE_ERROR, reported as too large */
	if (call->resp_len + n + 1 > call->resp_cap) {
		size_t cap = call->resp_cap ? call->resp_cap : 4096;
		while (cap < call->resp_len + n + 1)
			cap *= 2;
		char *p = realloc(call->resp, cap);
		if (!p)
			return 0;
		call->resp = p;
		call->resp_cap = cap;
	}
	memcpy(call->resp + call->resp_len, ptr, n);
	call->resp_len += n;
	call->resp[call->resp_len] = '\0';
	return n;
}

/* Answer header lines: only counted, to tell "no answer at all" from "an answer curl refused". */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	(void)ptr;
	struct ep_call *call = userdata;
	call->header_bytes += size * nmemb;
	return size * nmemb;
}

/* The answer limit of @rpc: small for membership, status and alarms; large for the rest. */
static size_t answer_limit(const char *rpc)
{
	return !strncmp(rpc, "/v3/cluster/", 12) || !strcmp(rpc, "/v3/maintenance/status") ||
			       !strcmp(rpc, "/v3/maintenance/alarm")
		       ? MAX_ANSWER_SMALL
		       : MAX_ANSWER;
}

static void call_free(struct ep_call *call)
{
	if (!call)
		return;
	if (call->easy)
		curl_easy_cleanup(call->easy);
	free(call->endpoint);
	free(call->url);
	free(call->body);
	free(call->resp);
	json_decref(call->obj);
	free(call);
}

static int on_prereq(void *userdata, char *conn_primary_ip, char *conn_local_ip,
		     int conn_primary_port, int conn_local_port);

static void blob_set(CURL *e, CURLoption opt, char *data, size_t len)
{
	struct curl_blob b = { .data = data, .len = len, .flags = CURL_BLOB_NOCOPY };
	curl_easy_setopt(e, opt, &b);
}

int ep_call_start(struct ep_client *c, const char *endpoint, const char *rpc, json_t *body,
		  uint64_t deadline_ms, ep_call_done_fn done, void *userdata, size_t tag,
		  struct ep_error *err)
{
	_cleanup_(json_decrefp) json_t *b = body;
	uint64_t now = ep_now_ms();

	if (deadline_ms > now + c->timeout_ms)
		deadline_ms = now + c->timeout_ms;
	if (deadline_ms <= now || c->draining)
		return ep_error_set(err, -ETIMEDOUT, "%s: no time left for the call", endpoint);

	struct ep_call *call = calloc(1, sizeof(*call));
	if (!call)
		return ep_error_set(err, -ENOMEM, "out of memory");
	call->client = c;
	call->id = ++c->next_call_id;
	call->max_answer = answer_limit(rpc);
	call->done = done;
	call->userdata = userdata;
	call->tag = tag;
	call->started_ms = now;
	call->deadline_ms = deadline_ms;
	call->endpoint = strdup(endpoint);
	if (call->endpoint) {
		size_t l = strlen(call->endpoint);
		while (l && call->endpoint[l - 1] == '/')
			call->endpoint[--l] = '\0';
	}
	call->body = b ? json_dumps(b, JSON_COMPACT) : strdup("{}");
	if (!call->endpoint || !call->body ||
	    asprintf(&call->url, "%s%s", call->endpoint, rpc) < 0) {
		call->url = NULL;
		call_free(call);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	if (strncmp(call->endpoint, "https://", 8) && strncmp(call->endpoint, "http://", 7)) {
		int r = ep_error_usage(err, -EINVAL, "'%s' is not an http(s) URL", endpoint);
		call_free(call);
		return r;
	}

	CURL *e = call->easy = curl_easy_init();
	if (!e) {
		call_free(call);
		return ep_error_set(err, -ENOMEM, "cannot create a curl handle");
	}
	long left = (long)(deadline_ms - now);
	curl_easy_setopt(e, CURLOPT_URL, call->url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, call);
	curl_easy_setopt(e, CURLOPT_SHARE, c->share);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* a member is reached directly, never by proxy */
	/* HTTP/2 when the member offers it (etcd's gateway does), so that the
	 * calls to one member share one connection and one TLS handshake. */
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, left);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(call->body));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, call);
	/* Verification is always on: the member's certificate chain and name. */
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (c->use_ssl_ctx) {
		if (c->cas) {
			curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
			curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
		}
		curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
		curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, c);
	} else if (c->ca_pem) {
		blob_set(e, CURLOPT_CAINFO_BLOB, c->ca_pem, c->ca_len);
	}
	if (!c->use_ssl_ctx && c->cert_pem) {
		blob_set(e, CURLOPT_SSLCERT_BLOB, c->cert_pem, c->cert_len);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		blob_set(e, CURLOPT_SSLKEY_BLOB, c->key_pem, c->key_len);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	CURLMcode mc = curl_multi_add_handle(c->multi, e);
	if (mc != CURLM_OK) {
		call_free(call);
		return ep_error_set(err, -EIO, "%s: cannot start the call: %s", endpoint,
				    curl_multi_strerror(mc));
	}
	call->next = c->active;
	if (c->active)
		c->active->prev = call;
	c->active = call;
	return 0;
}

static void call_unlink(struct ep_call *call)
{
	struct ep_client *c = call->client;
	if (call->prev)
		call->prev->next = call->next;
	else
		c->active = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
	curl_multi_remove_handle(c->multi, call->easy);
}

/* Where a transfer was when it stopped, for timeout messages. */
static const char *call_stage(const struct ep_call *call)
{
	if (call->resp_len)
		return "reading the answer";
	if (call->connected)
		return "waiting for the answer";
	if (!strncmp(call->endpoint, "https://", 8))
		return "before the connection was up (TCP connect or TLS handshake; member hung?)";
	return "before the connection was up";
}

/* Called once the connection (TLS included) is up, just before the request goes out. */
static int on_prereq(void *userdata, char *conn_primary_ip, char *conn_local_ip,
		     int conn_primary_port, int conn_local_port)
{
	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	((struct ep_call *)userdata)->connected = true;
	return CURL_PREREQFUNC_OK;
}

static bool has(const char *s, const char *needle)
{
	return strstr(s, needle) != NULL;
}

/* A TLS alert by which the member refuses our client certificate. */
static bool rejects_us(const char *eb)
{
	return has(eb, "unknown ca") || has(eb, "bad certificate") ||
	       has(eb, "certificate required") || has(eb, "handshake failure") ||
	       has(eb, "certificate unknown") || has(eb, "certificate expired") ||
	       has(eb, "unsupported certificate") || has(eb, "certificate revoked");
}

/*
 * The member's chain failed verification for a reason worth naming: a
 * certificate out of its validity, with its date and the remedy.  0 when
 * the hooks saw no such reason.
 */
static int verify_error(const struct ep_call *call, struct ep_error *err)
{
	char when[64];
	const char *u = call->endpoint;
	const char *cn = call->tls_subject[0] ? call->tls_subject : "?";
	bool leaf = call->tls_verify_depth == 0;

	switch (call->tls_verify_err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		ep_pki_format_expiry((time_t)call->tls_not_after, when, sizeof(when));
		if (leaf)
			return ep_error_set(err, -EKEYEXPIRED,
					    "%s: TLS: the member's serving certificate expired on "
					    "%s; renew it on that member's node with 'etcdpilot certs "
					    "renew etcd-server', then restart etcd there",
					    u, when);
		return ep_error_set(err, -EKEYEXPIRED,
				    "%s: TLS: the CA certificate '%s' of the member's chain expired "
				    "on %s, so nothing it signed is trusted; rotate that CA",
				    u, cn, when);
	case X509_V_ERR_CERT_NOT_YET_VALID:
		ep_pki_format_expiry((time_t)call->tls_not_before, when, sizeof(when));
		return ep_error_set(err, -EKEYEXPIRED,
				    "%s: TLS: the member's %s certificate '%s' is not valid before %s: "
				    "the clock of that node or of this one is off",
				    u, leaf ? "serving" : "CA", cn, when);
	default:
		return 0;
	}
}

/* Map a failed transfer to an errno and a plain message in call->err. */
static int call_transport_error(struct ep_call *call, CURLcode cc)
{
	struct ep_client *c = call->client;
	struct ep_error *err = &call->err;
	const char *u = call->endpoint;
	const char *eb = call->errbuf[0] ? call->errbuf : curl_easy_strerror(cc);
	bool https = !strncmp(u, "https://", 8);
	long oserr = 0, status = 0;

	curl_easy_getinfo(call->easy, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
	/*
	 * Whether the member had begun to answer: an HTTP status or header, or
	 * (on the connection this call opened) application data after the TLS
	 * handshake.  A member that refuses our certificate never gets that
	 * far, so a broken connection after it is something else.
	 */
	bool spoke = status > 0 || call->header_bytes > 0 ||
		     (call->made_connection && call->tls_app_bytes > 0);
	/* Only the call that opened its connection can see our certificate refused. */
	bool fresh = !c->use_ssl_ctx || call->made_connection;
	/*
	 * Over HTTP/2 a broken connection is reported by the framing layer
	 * ("Send failure: Connection reset by peer"), not as a send or receive
	 * error: it is the same event, and must not read as "not etcd".  The
	 * framing layer only runs once TLS is up (h2 is chosen in the
	 * handshake), which the transfer's own timers do not show when the
	 * connection breaks while its preface is sent.
	 */
	bool h2_after_tls = false;
	if ((cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM) &&
	    (has(eb, "Send failure") || has(eb, "Recv failure") || has(eb, "Connection reset") ||
	     has(eb, "SSL_read") || has(eb, "SSL_write") || rejects_us(eb))) {
		cc = CURLE_RECV_ERROR;
		h2_after_tls = https;
	}
	switch (cc) {
	case CURLE_COULDNT_CONNECT:
		if (oserr == ECONNREFUSED)
			return ep_error_set(err, -ECONNREFUSED, "%s: connection refused (is etcd "
								"running and listening there?)", u);
		if (oserr == EHOSTUNREACH || oserr == ENETUNREACH)
			return ep_error_set(err, -EHOSTUNREACH, "%s: host unreachable", u);
		return ep_error_set(err, -ECONNREFUSED, "%s: cannot connect: %s", u, eb);
	case CURLE_COULDNT_RESOLVE_HOST:
		return ep_error_set(err, -EHOSTUNREACH, "%s: cannot resolve the host name: %s", u, eb);
	case CURLE_OPERATION_TIMEDOUT:
		return ep_error_set(err, -ETIMEDOUT, "%s: timed out after %" PRIu64 " ms %s", u,
				    ep_now_ms() - call->started_ms, call_stage(call));
	case CURLE_PEER_FAILED_VERIFICATION: {
		int r = verify_error(call, err);
		if (r < 0)
			return r;
		if (has(eb, "issuer") || has(eb, "self-signed") || has(eb, "self signed") ||
		    has(eb, "unable to verify"))
			return ep_error_set(err, -EKEYREJECTED,
					    "%s: TLS handshake failed: unknown CA: the member's "
					    "certificate is not signed by the CA in '%s' (%s)",
					    u, c->cacert_path ? c->cacert_path : "the system store", eb);
		return ep_error_set(err, -EKEYREJECTED,
				    "%s: TLS handshake failed: the member's certificate was "
				    "rejected: %s",
				    u, eb);
	}
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR: {
		/*
		 * With TLS 1.3 the server's verdict on our certificate comes after
		 * our side of the handshake is done: over HTTP/2 even before the
		 * request goes out, while the connection preface is sent.
		 */
		curl_off_t tls_done = 0;
		curl_easy_getinfo(call->easy, CURLINFO_APPCONNECT_TIME_T, &tls_done);
		bool tls_up = call->connected || tls_done > 0 || h2_after_tls;
		if (!rejects_us(eb) && tls_up && fresh && !spoke && !call->resp_len &&
		    c->cert_path && https)
			/* ... or the alert was lost to the close: say what it most likely was */
			return ep_error_set(err, -EKEYREJECTED,
					    "%s: connection closed right after the TLS handshake, "
					    "before any answer: the member probably rejected our client "
					    "certificate '%s' (%s)",
					    u, c->cert_path, eb);
		if (!rejects_us(eb) && spoke)
			return ep_error_set(err, -ECONNRESET, "%s: connection broken while the member "
							      "was answering: %s", u, eb);
		if (!rejects_us(eb))
			return ep_error_set(err, -ECONNRESET, "%s: connection broken: %s", u, eb);
	}
		/* fall through */
	case CURLE_SSL_CONNECT_ERROR:
		if (rejects_us(eb))
			return ep_error_set(err, -EKEYREJECTED,
					    "%s: TLS handshake failed: the member rejected our client "
					    "certificate%s%s%s (%s)",
					    u, c->cert_path ? " '" : "", c->cert_path ? c->cert_path : "",
					    c->cert_path ? "'" : "", eb);
		if (has(eb, "wrong version number") || has(eb, "packet length too long") ||
		    has(eb, "record layer failure"))
			return ep_error_set(err, -EPROTO, "%s: not etcd: the server does not speak "
							  "TLS (%s)", u, eb);
		return ep_error_set(err, -EKEYREJECTED, "%s: TLS handshake failed: %s", u, eb);
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
		return ep_error_set(err, -EKEYREJECTED, "%s: our client certificate or key cannot "
							"be used: %s", u, eb);
	case CURLE_SSL_CACERT_BADFILE:
		return ep_error_set(err, -EKEYREJECTED, "%s: the CA file '%s' cannot be used: %s", u,
				    c->cacert_path ? c->cacert_path : "(system)", eb);
	case CURLE_GOT_NOTHING:
		if (spoke)
			/* over HTTP/2, an answer header past curl's limit ends like this */
			return ep_error_set(err, -EPROTO,
					    "%s: not etcd: the member sent %" PRIu64 " bytes but no "
					    "HTTP answer curl could take (an answer header over "
					    "curl's limit ends this way)",
					    u, call->tls_app_bytes);
		return ep_error_set(err, -ECONNRESET, "%s: the server closed the connection without "
						      "answering", u);
	case CURLE_PARTIAL_FILE:
		if (!status && !call->header_bytes)
			/* etcd's peer listener takes our certificate, then drops an HTTP/2 stream */
			return ep_error_set(err, -EPROTO,
					    "%s: not etcd's client gateway: the server ended the "
					    "exchange before any HTTP status (%s); etcd's peer port does "
					    "that: a peer URL? clients talk to the client URL (port "
					    "2379, --advertise-client-urls)",
					    u, eb);
		return ep_error_set(err, -EPROTO, "%s: not etcd: the answer was cut short (%s)", u,
				    eb);
	case CURLE_OUT_OF_MEMORY:
		/* curl refuses a header line over 100 kB (CURL_MAX_HTTP_HEADER) with this code */
		if (spoke)
			return ep_error_set(err, -EPROTO,
					    "%s: not etcd: HTTP %ld with a header larger than curl "
					    "takes (%d kB)",
					    u, status, CURL_MAX_HTTP_HEADER / 1024);
		return ep_error_set(err, -ENOMEM, "%s: out of memory (%s)", u, eb);
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
		return ep_error_set(err, -EPROTO, "%s: not etcd: not a valid HTTP answer (%s)", u,
				    eb);
	case CURLE_WRITE_ERROR:
		if (call->resp_len + CURL_MAX_WRITE_SIZE >= call->max_answer)
			return ep_error_set(err, -EFBIG, "%s: answer larger than %zu %s, refused", u,
					    call->max_answer >= (1u << 20) ? call->max_answer >> 20
									   : call->max_answer >> 10,
					    call->max_answer >= (1u << 20) ? "MiB" : "KiB");
		return ep_error_set(err, -ENOMEM, "%s: out of memory reading the answer", u);
	case CURLE_URL_MALFORMAT:
		return ep_error_usage(err, -EINVAL, "'%s' is not a valid URL: %s", u, eb);
	default:
		return ep_error_set(err, -EIO, "%s: %s", u, eb);
	}
}

/* The port of URL @u (0 when it names none). */
static unsigned url_port(const char *u)
{
	const char *h = strstr(u, "://");
	if (!h)
		return 0;
	h += 3;
	const char *end = h + strcspn(h, "/?#");
	const char *colon = NULL;
	if (*h == '[') {
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (rb && rb + 1 < end && rb[1] == ':')
			colon = rb + 1;
	} else {
		colon = memchr(h, ':', (size_t)(end - h));
	}
	if (!colon)
		return 0;
	unsigned p = 0;
	for (const char *q = colon + 1; q < end; q++) {
		if (*q < '0' || *q > '9' || p > 65535)
			return 0;
		p = p * 10 + (unsigned)(*q - '0');
	}
	return p;
}

/*
 * The usual wrong endpoints, said plainly after the failure they cause: a
 * peer URL (etcd's peer listener answers 404 to the gateway's paths) and
 * plain http:// to a member that serves TLS.
 */
static void hint_endpoint(struct ep_call *call, long status)
{
	const char *u = call->endpoint;
	if (call->r >= 0 || call->r == -ENOMEM || call->r == -ETIMEDOUT ||
	    strstr(call->err.msg, "--advertise-client-urls")) /* said already */
		return;
	if (url_port(u) == 2380) {
		ep_error_append(&call->err, "; 2380 is etcd's peer port: clients talk to the client URL "
				       "(port 2379, --advertise-client-urls)");
		return;
	}
	if (status == 404 && call->resp && has(call->resp, "404 page not found")) {
		ep_error_append(&call->err, "; this is not etcd's client gateway: a peer URL? clients talk "
				       "to the client URL (port 2379, --advertise-client-urls)");
		return;
	}
	if (strncmp(u, "http://", 7) || call->r == -ECONNREFUSED || call->r == -EHOSTUNREACH)
		return;
	if (call->resp && has(call->resp, "HTTP request to an HTTPS server"))
		ep_error_append(&call->err, "; the member serves TLS there: use 'https://%s'", u + 7);
	else
		ep_error_append(&call->err, "; if etcd serves TLS there (the usual), use 'https://%s'",
			   u + 7);
}

static void call_finish(struct ep_call *call, CURLcode cc)
{
	if (cc == CURLE_OK && call->finish) {
		call->answered = true;
		call->r = call->finish(call);
		return;
	}
	if (cc == CURLE_OK) {
		long status = 0;
		char *ctype = NULL;
		call->answered = true;
		curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(call->easy, CURLINFO_CONTENT_TYPE, &ctype);
		call->r = ep_gateway_decode(call->endpoint, status, ctype, call->resp, call->resp_len,
					    &call->obj, &call->err);
		hint_endpoint(call, status);
	} else {
		call->r = call_transport_error(call, cc);
		hint_endpoint(call, 0);
	}
}

static void call_end(struct ep_call *call)
{
	call_unlink(call);
	if (call->done)
		call->done(call);
	call_free(call);
}

int ep_client_run(struct ep_client *c, uint64_t deadline_ms)
{
	c->stop = false;
	while (c->active && !c->stop) {
		uint64_t now = ep_now_ms();
		int running = 0;

		/* Calls past their own deadline end even if curl has not noticed yet. */
		for (struct ep_call *call = c->active, *next; call; call = next) {
			next = call->next;
			if (now >= call->deadline_ms + 50 || now >= deadline_ms) {
				call->r = ep_error_set(&call->err, -ETIMEDOUT,
						       "%s: timed out after %" PRIu64 " ms %s",
						       call->endpoint, now - call->started_ms,
						       call_stage(call));
				call_end(call);
				next = c->active; /* the callback may have changed the list */
				if (c->stop)
					break;
			}
		}
		if (!c->active || c->stop || now >= deadline_ms)
			break;

		curl_multi_perform(c->multi, &running);
		CURLMsg *msg;
		int left;
		while (!c->stop && (msg = curl_multi_info_read(c->multi, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct ep_call *call = NULL;
			CURLcode cc = msg->data.result;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&call);
			if (!call)
				continue;
			call_finish(call, cc);
			call_end(call);
		}
		if (!c->active || c->stop)
			break;

		now = ep_now_ms();
		uint64_t wait = deadline_ms > now ? deadline_ms - now : 0;
		if (wait > 200)
			wait = 200;
		if (wait)
			curl_multi_poll(c->multi, NULL, 0, (int)wait, NULL);
	}
	/* What is left was cut off by the deadline or by a stop. */
	while (c->active) {
		struct ep_call *call = c->active;
		uint64_t now = ep_now_ms();
		if (c->stop)
			call->r = ep_error_set(&call->err, -ECANCELED, "%s: call cancelled",
					       call->endpoint);
		else
			call->r = ep_error_set(&call->err, -ETIMEDOUT,
					       "%s: timed out after %" PRIu64 " ms %s", call->endpoint,
					       now - call->started_ms, call_stage(call));
		c->draining = true; /* callbacks cannot start new calls now */
		call_end(call);
	}
	c->stop = false;
	c->draining = false;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Unary calls                                                               */

struct sync_result {
	int r;
	struct ep_error err;
	json_t *obj;
};

static void sync_done(struct ep_call *call)
{
	struct sync_result *res = call->userdata;
	res->r = call->r;
	res->err = call->err;
	res->obj = TAKE_PTR(call->obj);
}

static int call_sync(struct ep_client *c, const char *endpoint, const char *rpc, json_t *body,
		     json_t **ret, struct ep_error *err)
{
	struct sync_result res = { .r = -ETIMEDOUT };
	uint64_t deadline = ep_now_ms() + c->timeout_ms;
	int r = ep_call_start(c, endpoint, rpc, body, deadline, sync_done, &res, 0, err);
	if (r < 0)
		return r;
	ep_client_run(c, deadline);
	if (res.r < 0) {
		json_decref(res.obj);
		if (err && !ep_error_isset(err))
			*err = res.err;
		return res.r;
	}
	*ret = res.obj;
	return 0;
}

/* Decode @obj with @fn-specific code; the message gets the endpoint in front. */
#define DECODE_OR_FAIL(expr, endpoint, err)                                       \
	do {                                                                      \
		int r_ = (expr);                                                  \
		if (r_ < 0)                                                       \
			return r_ == -ENOMEM ? r_                                 \
					     : ep_error_prefix(err, "%s: unexpected answer", \
							       endpoint);         \
	} while (0)

static json_t *u64_string(uint64_t v)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return json_string(buf);
}

static json_t *urls_array(const char *const *urls, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(urls[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

int ep_member_list(struct ep_client *c, const char *endpoint, struct ep_member_list *ret,
		   struct ep_error *err)
{
	_cleanup_(json_decrefp) json_t *obj = NULL;
	int r = call_sync(c, endpoint, "/v3/cluster/member/list", NULL, &obj, err);
	if (r < 0)
		return r;
	DECODE_OR_FAIL(ep_decode_member_list(obj, ret, err), endpoint, err);
	return 0;
}

struct any_state {
	struct ep_member_list *ret;
	int winner;
	struct ep_error *errs;
};

static void any_done(struct ep_call *call)
{
	struct any_state *st = call->userdata;
	if (st->winner >= 0)
		return;
	if (call->r == 0) {
		if (ep_decode_member_list(call->obj, st->ret, &st->errs[call->tag]) == 0) {
			st->winner = (int)call->tag;
			ep_client_stop(call->client);
			return;
		}
		ep_error_prefix(&st->errs[call->tag], "%s: unexpected answer", call->endpoint);
		return;
	}
	st->errs[call->tag] = call->err;
}

int ep_errors_join(struct ep_error *err, const struct ep_error *errs,
		   const char *const *endpoints, size_t n)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	int code = n && errs[0].code ? errs[0].code : -EIO;
	for (size_t i = 0; i < n; i++)
		ep_strbuf_addf(&sb, "%s%s", i ? "; " : "",
			       errs[i].msg[0] || !endpoints ? errs[i].msg : endpoints[i]);
	int r = ep_strbuf_oom(&sb) ? ep_error_set(err, -ENOMEM, "out of memory")
				   : ep_error_set(err, code, "no endpoint answered: %s",
						  ep_strbuf_str(&sb));
	ep_strbuf_release(&sb);
	return r;
}

int ep_member_list_any(struct ep_client *c, const char *const *endpoints, size_t n,
		       struct ep_member_list *ret, struct ep_error *err)
{
	if (n == 0)
		return ep_error_usage(err, -EINVAL, "no endpoint to ask");
	_cleanup_free_ struct ep_error *errs = calloc(n, sizeof(*errs));
	if (!errs)
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct any_state st = { .ret = ret, .winner = -1, .errs = errs };
	uint64_t deadline = ep_now_ms() + c->timeout_ms;
	for (size_t i = 0; i < n; i++)
		ep_call_start(c, endpoints[i], "/v3/cluster/member/list", NULL, deadline, any_done,
			      &st, i, &errs[i]);
	ep_client_run(c, deadline);
	if (st.winner >= 0)
		return st.winner;
	return ep_errors_join(err, errs, endpoints, n);
}

int ep_member_add(struct ep_client *c, const char *endpoint, const char *const *peer_urls,
		  size_t n, bool is_learner, struct ep_member *ret_member,
		  struct ep_member_list *ret_list, struct ep_error *err)
{
	_cleanup_(json_decrefp) json_t *obj = NULL;
	json_t *body = json_pack("{s:o}", "peerURLs", urls_array(peer_urls, n));
	if (!body)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (is_learner)
		json_object_set_new(body, "isLearner", json_true());
	int r = call_sync(c, endpoint, "/v3/cluster/member/add", body, &obj, err);
	if (r < 0)
		return r;
	DECODE_OR_FAIL(ep_decode_member_add(obj, ret_member, ret_list, err), endpoint, err);
	return 0;
}

static int member_id_call(struct ep_client *c, const char *endpoint, const char *rpc,
			  uint64_t id, json_t *extra, struct ep_member_list *ret_list,
			  struct ep_error *err)
{
	_cleanup_(json_decrefp) json_t *obj = NULL;
	json_t *body = extra ? extra : json_object();
	if (!body || json_object_set_new(body, "ID", u64_string(id)) < 0) {
		json_decref(body);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	int r = call_sync(c, endpoint, rpc, body, &obj, err);
	if (r < 0)
		return r;
	if (ret_list)
		DECODE_OR_FAIL(ep_decode_member_list(obj, ret_list, err), endpoint, err);
	return 0;
}

int ep_member_remove(struct ep_client *c, const char *endpoint, uint64_t id,
		     struct ep_member_list *ret_list, struct ep_error *err)
{
	return member_id_call(c, endpoint, "/v3/cluster/member/remove", id, NULL, ret_list, err);
}

int ep_member_promote(struct ep_client *c, const char *endpoint, uint64_t id,
		      struct ep_member_list *ret_list, struct ep_error *err)
{
	return member_id_call(c, endpoint, "/v3/cluster/member/promote", id, NULL, ret_list, err);
}

int ep_member_update(struct ep_client *c, const char *endpoint, uint64_t id,
		     const char *const *peer_urls, size_t n, struct ep_member_list *ret_list,
		     struct ep_error *err)
{
	json_t *body = json_pack("{s:o}", "peerURLs", urls_array(peer_urls, n));
	if (!body)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return member_id_call(c, endpoint, "/v3/cluster/member/update", id, body, ret_list, err);
}

int ep_maintenance_status(struct ep_client *c, const char *endpoint, struct ep_status *ret,
			  struct ep_error *err)
{
	_cleanup_(json_decrefp) json_t *obj = NULL;
	int r = call_sync(c, endpoint, "/v3/maintenance/status", NULL, &obj, err);
	if (r < 0)
		return r;
	DECODE_OR_FAIL(ep_decode_status(obj, ret, err), endpoint, err);
	return 0;
}

int ep_alarm_list(struct ep_client *c, const char *endpoint, struct ep_alarm_list *ret,
		  struct ep_error *err)
{
	_cleanup_(json_decrefp) json_t *obj = NULL;
	int r = call_sync(c, endpoint, "/v3/maintenance/alarm", json_pack("{s:s}", "action", "GET"),
			  &obj, err);
	if (r < 0)
		return r;
	DECODE_OR_FAIL(ep_decode_alarms(obj, ret, err), endpoint, err);
	return 0;
}

int ep_move_leader(struct ep_client *c, const char *endpoint, uint64_t target_id,
		   struct ep_error *err)
{
	_cleanup_(json_decrefp) json_t *obj = NULL;
	json_t *body = json_pack("{s:o}", "targetID", u64_string(target_id));
	if (!body)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return call_sync(c, endpoint, "/v3/maintenance/transfer-leadership", body, &obj, err);
}

static char *base64_encode(const void *data, size_t len)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *in = data;
	char *out = malloc((len + 2) / 3 * 4 + 1);
	size_t o = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int set_b64(json_t *obj, const char *field, const void *data, size_t len)
{
	_cleanup_free_ char *s = base64_encode(data, len);
	if (!s)
		return -ENOMEM;
	return json_object_set_new(obj, field, json_string(s)) < 0 ? -ENOMEM : 0;
}

json_t *ep_range_request(const void *key, size_t key_len, const void *range_end,
			 size_t range_end_len, bool serializable, bool keys_only, uint64_t limit)
{
	json_t *body = json_object();
	if (!body || set_b64(body, "key", key, key_len) < 0 ||
	    (range_end && set_b64(body, "range_end", range_end, range_end_len) < 0) ||
	    (serializable && json_object_set_new(body, "serializable", json_true()) < 0) ||
	    (keys_only && json_object_set_new(body, "keys_only", json_true()) < 0) ||
	    (limit && json_object_set_new(body, "limit", u64_string(limit)) < 0)) {
		json_decref(body);
		return NULL;
	}
	return body;
}

int ep_kv_range(struct ep_client *c, const char *endpoint, const void *key, size_t key_len,
		const void *range_end, size_t range_end_len, bool serializable, bool keys_only,
		uint64_t limit, struct ep_range_result *ret, struct ep_error *err)
{
	_cleanup_(json_decrefp) json_t *obj = NULL;
	json_t *body = ep_range_request(key, key_len, range_end, range_end_len, serializable,
					keys_only, limit);
	if (!body)
		return ep_error_set(err, -ENOMEM, "out of memory");
	int r = call_sync(c, endpoint, "/v3/kv/range", body, &obj, err);
	if (r < 0)
		return r;
	struct ep_range_result tmp;
	DECODE_OR_FAIL(ep_decode_range(obj, &tmp, err), endpoint, err);
	if (ret)
		*ret = tmp;
	else
		ep_range_result_release(&tmp);
	return 0;
}

int ep_kv_put(struct ep_client *c, const char *endpoint, const void *key, size_t key_len,
	      const void *value, size_t value_len, uint64_t *ret_revision, struct ep_error *err)
{
	_cleanup_(json_decrefp) json_t *obj = NULL;
	json_t *body = json_object();
	if (!body || set_b64(body, "key", key, key_len) < 0 ||
	    set_b64(body, "value", value, value_len) < 0) {
		json_decref(body);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	int r = call_sync(c, endpoint, "/v3/kv/put", body, &obj, err);
	if (r < 0)
		return r;
	DECODE_OR_FAIL(ep_decode_put(obj, ret_revision, err), endpoint, err);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Waiting for a member                                                      */

#define WAIT_CALL_MAX_MS 2000

/* Healthy: a good linearizable read, or a status with a leader and no error. */
static int probe_once(struct ep_client *c, const char *endpoint, struct ep_error *err)
{
	struct ep_error rerr = { 0 };
	int r = ep_kv_range(c, endpoint, "health", 6, NULL, 0, false, true, 1, NULL, &rerr);
	if (r == 0 || r == -EACCES)
		return 0;
	if (r == -ECONNREFUSED || r == -EKEYREJECTED || r == -EHOSTUNREACH) {
		*err = rerr;
		return r;
	}
	struct ep_status st;
	struct ep_error serr = { 0 };
	int s = ep_maintenance_status(c, endpoint, &st, &serr);
	if (s < 0) {
		*err = rerr;
		return r;
	}
	int out = 0;
	if (!st.leader)
		out = ep_error_set(err, -EAGAIN, "%s: member has no leader (read failed: %s)",
				   endpoint, rerr.msg);
	else if (st.errors.n)
		out = ep_error_set(err, -EAGAIN, "%s: member reports '%s'", endpoint, st.errors.v[0]);
	ep_status_release(&st);
	return out;
}

/*
 * How long to sleep before the next probe.  While nothing listens yet a
 * probe is one refused TCP connect - microseconds, no TLS - so the first
 * seconds poll every 20 ms and notice a starting member at once; after
 * that, and whenever the member answers but is not healthy yet (no leader,
 * catching up), the pause doubles from 20 ms up to 1 s.
 */
#define WAIT_FAST_MS 20
#define WAIT_FAST_WINDOW_MS 10000
#define WAIT_MAX_MS 1000

static uint64_t wait_pause(int r, uint64_t elapsed, uint64_t *backoff)
{
	if (r == -ECONNREFUSED && elapsed < WAIT_FAST_WINDOW_MS)
		return WAIT_FAST_MS;
	uint64_t pause = *backoff;
	*backoff = *backoff * 2 > WAIT_MAX_MS ? WAIT_MAX_MS : *backoff * 2;
	return pause;
}

int ep_wait_healthy(const struct ep_tls *tls, const char *endpoint, uint64_t timeout_ms,
		    struct ep_error *err)
{
	/* One client for the whole wait: the TLS files are read and parsed once. */
	struct ep_client *c = NULL;
	int r = ep_client_new(tls, WAIT_CALL_MAX_MS, &c, err);
	if (r < 0)
		return r;
	uint64_t t0 = ep_now_ms(), deadline = t0 + timeout_ms;
	uint64_t backoff = WAIT_FAST_MS;
	struct ep_error last = { 0 };
	unsigned tries = 0;

	for (;;) {
		uint64_t now = ep_now_ms();
		if (now >= deadline)
			break;
		ep_client_set_timeout(c, deadline - now < WAIT_CALL_MAX_MS ? deadline - now
									   : WAIT_CALL_MAX_MS);
		ep_error_clear(&last);
		tries++;
		r = probe_once(c, endpoint, &last);
		if (r == 0) {
			ep_client_free(c);
			return 0;
		}
		now = ep_now_ms();
		if (now >= deadline)
			break;
		uint64_t nap = wait_pause(r, now - t0, &backoff);
		if (nap > deadline - now)
			nap = deadline - now;
		struct timespec ts = { .tv_sec = (time_t)(nap / 1000),
				       .tv_nsec = (long)(nap % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	ep_client_free(c);
	uint64_t took = ep_now_ms() - t0;
	return ep_error_set(err, -ETIMEDOUT,
			    "%s: member not healthy after %" PRIu64 ".%03" PRIu64 " s (%u probes); "
			    "last: %s",
			    endpoint, took / 1000, took % 1000, tries,
			    last.msg[0] ? last.msg : "no attempt could be made");
}

/* ------------------------------------------------------------------------ */
/* Raw calls (the gRPC range of client_range.c)                              */

int ep_call_start_raw(struct ep_client *c, const char *endpoint, const struct ep_raw_request *req,
		      uint64_t deadline_ms, ep_call_done_fn done, void *userdata,
		      struct ep_error *err)
{
	int r = ep_call_start(c, endpoint, req->path, NULL, deadline_ms, done, userdata, 0, err);
	if (r < 0)
		return r;
	/* ep_call_start put the new call first; its transfer has not begun. */
	struct ep_call *call = c->active;
	char *body = malloc(req->len ? req->len : 1);
	if (!body) {
		call_unlink(call);
		call_free(call);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	if (req->len)
		memcpy(body, req->body, req->len);
	free(call->body);
	call->body = body;
	call->finish = req->finish;
	curl_multi_remove_handle(c->multi, call->easy);
	CURL *e = call->easy;
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, call->body);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)req->len);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, req->on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
	if (req->on_header) {
		curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, req->on_header);
		curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
	}
	if (req->stall_s > 0) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, req->stall_s);
	}
	if (!strncmp(call->endpoint, "http://", 7)) {
		/* libcurl 7.88 breaks the second stream of a reused prior-knowledge
		 * HTTP/2 connection ("Error in the HTTP2 framing layer"): plain-text
		 * members get a connection per call (no TLS to pay for). */
		curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	}
	CURLMcode mc = curl_multi_add_handle(c->multi, e);
	if (mc != CURLM_OK) {
		call_unlink(call);
		call_free(call);
		return ep_error_set(err, -EIO, "%s: cannot start the call: %s", endpoint,
				    curl_multi_strerror(mc));
	}
	return 0;
}
