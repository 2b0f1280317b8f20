/*
 * manifest.c - the etcd static pod manifest: rendering it exactly as
 * kubeadm writes it (libyaml's emitter, never hand-built YAML text), and
 * reading one back into a node spec for idempotency, drift detection and
 * conversion.  It owns the mapping between a node spec and etcd's flags and
 * probes for each etcd line.  It does not touch the file system: callers
 * read and write the file (node.c), so the same code serves init, join,
 * render and convert.
 *
 * Why the 3.4 probes differ from kubeadm 1.25-1.30's: checked against
 * Debian's etcd 3.4.23 on a member without quorum, /health answers 503 with
 * and without `serializable=true` (3.4 ignores the parameter; it arrived in
 * 3.5.3), while `exclude=NOSPACE` is honoured (200 with a NOSPACE alarm
 * raised).  /livez and /readyz are 404 there (they arrived in 3.4.29 and
 * 3.5.11).  So for 3.4 the manifest only asks for what 3.4 serves:
 * liveness /health?exclude=NOSPACE and startup /health, rather than
 * parameters that look serializable but are not.
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include <jansson.h>

#include "etcdpilot/config.h"
#include "etcdpilot/error.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/spec.h"
#include "util/cleanup.h"
#include "util/strbuf.h"
#include "yaml_load.h"


/* A Pod is a few levels deep; the reader refuses deeper nesting while parsing. */
#define MANIFEST_MAX_DEPTH 64

/* ------------------------------------------------------------------ */
/* versions, flags, probes                                              */

bool ep_manifest_version_supported(const char *version)
{
	unsigned m = ep_etcd_minor(version);
	return m == 34 || m == 35 || m == 36;
}

/* The patch number of "X.Y.Z"; 0 when absent. */
static unsigned version_patch(const char *version)
{
	unsigned a, b, c;
	if (!version)
		return 0;
	if (version[0] == 'v')
		version++;
	if (sscanf(version, "%u.%u.%u", &a, &b, &c) != 3)
		return 0;
	return c;
}

struct probe_paths {
	const char *liveness;
	const char *readiness; /* NULL: no readiness probe */
	const char *startup;
};

static struct probe_paths probe_paths_for(const char *version)
{
	unsigned minor = ep_etcd_minor(version);
	if (minor == 34)
		return (struct probe_paths){ "/health?exclude=NOSPACE", NULL, "/health" };
	if (minor == 35 && version_patch(version) < 11)
		return (struct probe_paths){ "/health?exclude=NOSPACE&serializable=true", NULL,
					     "/health?serializable=false" };
	return (struct probe_paths){ "/livez", "/readyz", "/readyz" };
}

static int unsupported_version(const char *version, struct ep_error *err)
{
	return ep_error_usage(err, -EINVAL,
			      "etcd version '%s' is not supported: etcdpilot renders 3.4, 3.5 and "
			      "3.6; set --etcd-version or etcd.local.imageTag",
			      version ? version : "");
}

static int kv_cmp(const void *a, const void *b)
{
	const struct ep_kv *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->value, y->value);
}

static bool kvv_has_name(const struct ep_kvv *kv, const char *name)
{
	for (size_t i = 0; i < kv->n; i++)
		if (!strcmp(kv->v[i].name, name))
			return true;
	return false;
}

/* The flags kubeadm's getEtcdCommand gives @spec, before extraArgs. */
static int default_args(const struct ep_spec *spec, const struct ep_kvv *initial_cluster,
			struct ep_kvv *out)
{
	bool v6 = ep_addr_is_ipv6(spec->advertise_address);
	const char *local = v6 ? "::1" : "127.0.0.1";
	unsigned minor = ep_etcd_minor(spec->etcd_version);
	_cleanup_free_ char *client = ep_url("https", spec->advertise_address, EP_ETCD_CLIENT_PORT);
	_cleanup_free_ char *peer = ep_url("https", spec->advertise_address, EP_ETCD_PEER_PORT);
	_cleanup_free_ char *local_client = ep_url("https", local, EP_ETCD_CLIENT_PORT);
	_cleanup_free_ char *metrics = ep_url("http", local, EP_ETCD_METRICS_PORT);
	_cleanup_free_ char *listen_client = NULL, *cluster = NULL, *cert = NULL, *key = NULL,
			    *ca = NULL, *pcert = NULL, *pkey = NULL;
	if (!client || !peer || !local_client || !metrics)
		return -ENOMEM;
	if (asprintf(&listen_client, "%s,%s", local_client, client) < 0)
		return -ENOMEM;
	if (asprintf(&cert, "%s/etcd/server.crt", spec->cert_dir) < 0 ||
	    asprintf(&key, "%s/etcd/server.key", spec->cert_dir) < 0 ||
	    asprintf(&ca, "%s/etcd/ca.crt", spec->cert_dir) < 0 ||
	    asprintf(&pcert, "%s/etcd/peer.crt", spec->cert_dir) < 0 ||
	    asprintf(&pkey, "%s/etcd/peer.key", spec->cert_dir) < 0)
		return -ENOMEM;

	bool join = initial_cluster && initial_cluster->n > 0;
	if (join) {
		size_t len = 1;
		for (size_t i = 0; i < initial_cluster->n; i++)
			len += strlen(initial_cluster->v[i].name) +
			       strlen(initial_cluster->v[i].value) + 2;
		cluster = calloc(1, len);
		if (!cluster)
			return -ENOMEM;
		for (size_t i = 0; i < initial_cluster->n; i++) {
			if (i)
				strcat(cluster, ",");
			strcat(cluster, initial_cluster->v[i].name);
			strcat(cluster, "=");
			strcat(cluster, initial_cluster->v[i].value);
		}
	} else {
		/* Each URL this member advertises to its peers, as etcd requires. */
		const char *adv = ep_spec_extra_arg(spec, "initial-advertise-peer-urls");
		struct ep_strbuf sb = EP_STRBUF_INIT;
		for (const char *p = adv ? adv : peer; *p;) {
			size_t n = strcspn(p, ",");
			ep_strbuf_addf(&sb, "%s%s=%.*s", sb.len ? "," : "", spec->name, (int)n, p);
			p += n + (p[n] == ',');
		}
		cluster = ep_strbuf_detach(&sb, NULL);
		if (!cluster)
			return -ENOMEM;
	}

	int r = 0;
	r |= ep_kvv_push(out, "name", spec->name);
	if (minor >= 36)
		r |= ep_kvv_push(out, "feature-gates", "InitialCorruptCheck=true");
	else
		r |= ep_kvv_push(out, "experimental-initial-corrupt-check", "true");
	r |= ep_kvv_push(out, "listen-client-urls", listen_client);
	r |= ep_kvv_push(out, "advertise-client-urls", client);
	r |= ep_kvv_push(out, "listen-peer-urls", peer);
	r |= ep_kvv_push(out, "initial-advertise-peer-urls", peer);
	r |= ep_kvv_push(out, "data-dir", spec->data_dir);
	r |= ep_kvv_push(out, "cert-file", cert);
	r |= ep_kvv_push(out, "key-file", key);
	r |= ep_kvv_push(out, "trusted-ca-file", ca);
	r |= ep_kvv_push(out, "client-cert-auth", "true");
	r |= ep_kvv_push(out, "peer-cert-file", pcert);
	r |= ep_kvv_push(out, "peer-key-file", pkey);
	r |= ep_kvv_push(out, "peer-trusted-ca-file", ca);
	r |= ep_kvv_push(out, "peer-client-cert-auth", "true");
	r |= ep_kvv_push(out, "snapshot-count", "10000");
	r |= ep_kvv_push(out, "listen-metrics-urls", metrics);
	if (minor >= 36)
		r |= ep_kvv_push(out, "watch-progress-notify-interval", "5s");
	else
		r |= ep_kvv_push(out, "experimental-watch-progress-notify-interval", "5s");
	r |= ep_kvv_push(out, "initial-cluster", cluster);
	if (join)
		r |= ep_kvv_push(out, "initial-cluster-state", "existing");
	return r ? -ENOMEM : 0;
}

static int check_spec(const struct ep_spec *spec, struct ep_error *err)
{
	if (!spec->name || !spec->advertise_address || !spec->data_dir || !spec->cert_dir ||
	    !spec->image_repository || !spec->image_tag)
		return ep_error_set(err, -EINVAL,
				    "manifest: the node spec is incomplete (defaults not applied)");
	if (!ep_manifest_version_supported(spec->etcd_version))
		return unsupported_version(spec->etcd_version, err);
	/* The same rules for both modes, whoever built the spec. */
	return ep_spec_check_args(spec, err);
}

int ep_manifest_etcd_args(const struct ep_spec *spec, const struct ep_kvv *initial_cluster,
			  struct ep_kvv *ret, struct ep_error *err)
{
	int r = check_spec(spec, err);
	if (r < 0)
		return r;
	struct ep_kvv defs = { 0 };
	struct ep_kvv all = { 0 };
	r = default_args(spec, initial_cluster, &defs);
	/* ArgumentsToCommand: the overrides, then every default they do not name. */
	for (size_t i = 0; r == 0 && i < spec->extra_args.n; i++)
		r = ep_kvv_push(&all, spec->extra_args.v[i].name, spec->extra_args.v[i].value);
	for (size_t i = 0; r == 0 && i < defs.n; i++)
		if (!kvv_has_name(&spec->extra_args, defs.v[i].name))
			r = ep_kvv_push(&all, defs.v[i].name, defs.v[i].value);
	ep_kvv_release(&defs);
	if (r < 0) {
		ep_kvv_release(&all);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	if (all.n)
		qsort(all.v, all.n, sizeof(*all.v), kv_cmp);
	for (size_t i = 0; r == 0 && i < all.n; i++)
		r = ep_kvv_push(ret, all.v[i].name, all.v[i].value);
	ep_kvv_release(&all);
	return r < 0 ? ep_error_set(err, -ENOMEM, "out of memory") : 0;
}

char *ep_manifest_local_client_url(const struct ep_spec *spec)
{
	bool v6 = ep_addr_is_ipv6(spec->advertise_address);
	const char *urls = ep_spec_extra_arg(spec, "listen-client-urls");
	for (const char *p = urls ? urls : ""; *p;) {
		size_t n = strcspn(p, ",");
		_cleanup_free_ char *u = strndup(p, n);
		p += n + (p[n] == ',');
		if (!u)
			return NULL;
		if (strncasecmp(u, "https://", 8))
			continue;
		const char *h = u + 8, *port = NULL;
		char host[64];
		if (*h == '[') {
			const char *close = strchr(h, ']');
			if (!close || close[1] != ':' || (size_t)(close - h - 1) >= sizeof(host))
				continue;
			snprintf(host, sizeof(host), "%.*s", (int)(close - h - 1), h + 1);
			port = close + 2;
		} else {
			const char *colon = strrchr(h, ':');
			if (!colon || (size_t)(colon - h) >= sizeof(host))
				continue;
			snprintf(host, sizeof(host), "%.*s", (int)(colon - h), h);
			port = colon + 1;
		}
		unsigned long pn = strtoul(port, NULL, 10);
		if (!pn || pn > 65535)
			continue;
		if (!strcmp(host, "0.0.0.0"))
			snprintf(host, sizeof(host), "127.0.0.1");
		else if (!strcmp(host, "::"))
			snprintf(host, sizeof(host), "::1");
		else if (strncmp(host, "127.", 4) && strcmp(host, "::1"))
			continue;
		return ep_url("https", host, (unsigned)pn);
	}
	return ep_url("https", v6 ? "::1" : "127.0.0.1", EP_ETCD_CLIENT_PORT);
}

/*
 * kubeadm's GetEtcdProbeEndpoint: host, port and scheme come from the first
 * URL of a listen-metrics-urls extra arg when there is one.
 */
struct probe_endpoint {
	char host[256];
	unsigned port;
	const char *scheme;
};

static void probe_endpoint_for(const struct ep_spec *spec, struct probe_endpoint *pe)
{
	const char *local = ep_addr_is_ipv6(spec->advertise_address) ? "::1" : "127.0.0.1";
	snprintf(pe->host, sizeof(pe->host), "%s", local);
	pe->port = EP_ETCD_METRICS_PORT;
	pe->scheme = "HTTP";
	const char *arg = ep_spec_extra_arg(spec, "listen-metrics-urls");
	if (!arg)
		return;
	char url[512];
	snprintf(url, sizeof(url), "%.*s", (int)strcspn(arg, ","), arg);
	const char *p = strstr(url, "://");
	if (!p)
		return;
	/* Go's url.Parse reads the scheme in any case, and so does kubeadm. */
	if (!strncasecmp(url, "https", 5) && url + 5 == p)
		pe->scheme = "HTTPS";
	p += 3;
	const char *end = p + strcspn(p, "/?#");
	char hostport[300];
	snprintf(hostport, sizeof(hostport), "%.*s", (int)(end - p), p);
	char *host = hostport, *port = NULL;
	if (host[0] == '[') {
		char *close = strchr(host, ']');
		if (!close)
			return;
		*close = '\0';
		host++;
		if (close[1] == ':')
			port = close + 2;
	} else {
		char *colon = strrchr(host, ':');
		if (colon) {
			*colon = '\0';
			port = colon + 1;
		}
	}
	if (host[0])
		snprintf(pe->host, sizeof(pe->host), "%.255s", host);
	if (port && *port) {
		char *e;
		unsigned long v = strtoul(port, &e, 10);
		if (!*e && v > 0 && v < 65536)
			pe->port = (unsigned)v;
	}
}

/* ------------------------------------------------------------------ */
/* emitting                                                             */

struct emit {
	yaml_emitter_t e;
	char *buf;
	size_t len, cap;
	bool failed;
	bool overflow;
};

static int emit_write(void *data, unsigned char *buffer, size_t size)
{
	struct emit *em = data;
	if (em->len + size + 1 > EP_RENDER_MAX) {
		em->overflow = true;
		return 0;
	}
	if (em->len + size + 1 > em->cap) {
		size_t ncap = em->cap ? em->cap : 4096;
		while (ncap < em->len + size + 1)
			ncap *= 2;
		char *nb = realloc(em->buf, ncap);
		if (!nb)
			return 0;
		em->buf = nb;
		em->cap = ncap;
	}
	memcpy(em->buf + em->len, buffer, size);
	em->len += size;
	em->buf[em->len] = '\0';
	return 1;
}

static void emit_event(struct emit *em, yaml_event_t *ev, int ok)
{
	if (em->failed) {
		if (ok)
			yaml_event_delete(ev); /* never handed to the emitter, which would own it */
		return;
	}
	if (!ok || !yaml_emitter_emit(&em->e, ev))
		em->failed = true;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool str_in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static bool all_in(const char *s, const char *set)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(set, *s))
			return false;
	return true;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? - go-yaml's yamlStyleFloat */
static bool looks_float(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	} else {
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
		if (*s == '.') {
			s++;
			while (isdigit((unsigned char)*s))
				s++;
		}
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

/* Go's strconv.ParseInt(s, 0, 64) syntax (after '_' removal): sign, 0x/0o/0b, digits. */
static bool looks_int(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return all_in(s + 2, "0123456789abcdefABCDEF");
	if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		return all_in(s + 2, "01234567");
	if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
		return all_in(s + 2, "01");
	return all_in(s, "0123456789");
}

/* [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)? - YAML 1.1 base-60 float */
static bool looks_base60(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	while (isdigit((unsigned char)*s) || *s == '_')
		s++;
	int groups = 0;
	while (*s == ':') {
		s++;
		int d = 0;
		while (isdigit((unsigned char)s[d]))
			d++;
		if (d < 1 || d > 2 || (d == 2 && s[0] > '5'))
			return false;
		s += d;
		groups++;
	}
	if (!groups)
		return false;
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s) || *s == '_')
			s++;
	}
	return *s == '\0';
}

/* 1 to @max digits at *@s into *@v; advances *@s. */
static bool read_num(const char **s, int max, int *v)
{
	int n = 0, d = 0;
	while (d < max && isdigit((unsigned char)(*s)[d]))
		n = n * 10 + ((*s)[d++] - '0');
	*s += d;
	*v = n;
	return d > 0;
}

/* "15:4:5" (Go layout digits: one or two each) in range, then ".999999999". */
static bool read_clock(const char **s)
{
	int h, m, sec;
	if (!read_num(s, 2, &h) || h > 23 || *(*s)++ != ':' || !read_num(s, 2, &m) || m > 59 ||
	    *(*s)++ != ':' || !read_num(s, 2, &sec) || sec > 59)
		return false;
	if (**s == '.' && isdigit((unsigned char)(*s)[1])) {
		int f;
		(*s)++;
		read_num(s, 9, &f);
	}
	return true;
}

/*
 * What go-yaml v2 resolves as a timestamp (and so quotes when it writes
 * the string): one of its four layouts, matched whole, with a real date
 * and time - "2006-1-2", "2006-1-2T15:4:5.999999999Z07:00" (or 't'),
 * "2006-1-2 15:4:5.999999999".  "2024-13-45" or "2024-01-02 x" are
 * strings it leaves plain.
 */
static bool looks_timestamp(const char *s)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d;
	const char *p = s;
	if (!read_num(&p, 4, &y) || p - s != 4 || *p++ != '-' || !read_num(&p, 2, &mo) ||
	    mo < 1 || mo > 12 || *p++ != '-' || !read_num(&p, 2, &d) || d < 1 ||
	    d > mdays[mo - 1])
		return false;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return false;
	if (!*p)
		return true;
	if (*p == ' ')
		return p++, read_clock(&p) && !*p;
	if (*p != 'T' && *p != 't')
		return false;
	p++;
	if (!read_clock(&p))
		return false;
	if (*p == 'Z')
		return !p[1];
	int zh, zm;
	if (*p != '+' && *p != '-')
		return false;
	p++;
	const char *z = p;
	return read_num(&p, 2, &zh) && p - z == 2 && *p++ == ':' && (z = p, read_num(&p, 2, &zm)) &&
	       p - z == 2 && !*p;
}

/*
 * True when the plain scalar @s would read back as something other than a
 * string under YAML 1.1 (go-yaml v2, which sigs.k8s.io/yaml uses): those
 * are written double-quoted, as kubeadm's files have them.
 */
static bool scalar_needs_quotes(const char *s)
{
	static const char *const words[] = {
		"~",	 "null",  "Null",  "NULL",  "y",     "Y",      "yes",	 "Yes",	 "YES",
		"n",	 "N",	  "no",	   "No",    "NO",    "true",   "True",	 "TRUE", "false",
		"False", "FALSE", "on",	   "On",    "ON",    "off",    "Off",	 "OFF",	 ".nan",
		".NaN",	 ".NAN",  ".inf",  ".Inf",  ".INF",  "+.inf",  "+.Inf",	 "+.INF", "-.inf",
		"-.Inf", "-.INF", "<<",	   NULL,
	};
	if (!*s || str_in(s, words))
		return true;
	if (!strchr("0123456789+-.", s[0]))
		return false;
	char plain[128];
	size_t n = 0;
	for (const char *p = s; *p; p++) {
		if (*p == '_')
			continue;
		if (n + 1 >= sizeof(plain))
			return false; /* far longer than any number */
		plain[n++] = *p;
	}
	plain[n] = '\0';
	return looks_int(plain) || looks_float(plain) || looks_base60(s) || looks_timestamp(s);
}

static void emit_str(struct emit *em, const char *s)
{
	yaml_event_t ev;
	yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;
	if (scalar_needs_quotes(s))
		style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
	else if (strchr(s, '\n'))
		style = YAML_LITERAL_SCALAR_STYLE;
	emit_event(em, &ev,
		   yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
						1, 1, style));
}

static void emit_int(struct emit *em, long v)
{
	char buf[32];
	yaml_event_t ev;
	snprintf(buf, sizeof(buf), "%ld", v);
	emit_event(em, &ev,
		   yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)buf,
						(int)strlen(buf), 1, 1, YAML_PLAIN_SCALAR_STYLE));
}

static void emit_bool(struct emit *em, bool v)
{
	yaml_event_t ev;
	const char *s = v ? "true" : "false";
	emit_event(em, &ev,
		   yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s),
						1, 1, YAML_PLAIN_SCALAR_STYLE));
}

static void emit_map(struct emit *em, bool flow)
{
	yaml_event_t ev;
	emit_event(em, &ev,
		   yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
						       flow ? YAML_FLOW_MAPPING_STYLE
							    : YAML_BLOCK_MAPPING_STYLE));
}

static void emit_map_end(struct emit *em)
{
	yaml_event_t ev;
	emit_event(em, &ev, yaml_mapping_end_event_initialize(&ev));
}

static void emit_seq(struct emit *em)
{
	yaml_event_t ev;
	emit_event(em, &ev,
		   yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							YAML_BLOCK_SEQUENCE_STYLE));
}

static void emit_seq_end(struct emit *em)
{
	yaml_event_t ev;
	emit_event(em, &ev, yaml_sequence_end_event_initialize(&ev));
}

static void emit_kv(struct emit *em, const char *key, const char *value)
{
	emit_str(em, key);
	emit_str(em, value);
}

static void emit_probe(struct emit *em, const char *key, const struct probe_endpoint *pe,
		       const char *path, long initial_delay, long period, long failure)
{
	emit_str(em, key);
	emit_map(em, false);
	emit_str(em, "failureThreshold");
	emit_int(em, failure);
	emit_str(em, "httpGet");
	emit_map(em, false);
	emit_kv(em, "host", pe->host);
	emit_kv(em, "path", path);
	emit_kv(em, "port", "probe-port");
	emit_kv(em, "scheme", pe->scheme);
	emit_map_end(em);
	if (initial_delay) {
		emit_str(em, "initialDelaySeconds");
		emit_int(em, initial_delay);
	}
	emit_str(em, "periodSeconds");
	emit_int(em, period);
	emit_str(em, "timeoutSeconds");
	emit_int(em, 15);
	emit_map_end(em);
}

static void emit_volume(struct emit *em, const char *name, const char *path)
{
	emit_map(em, false);
	emit_str(em, "hostPath");
	emit_map(em, false);
	emit_kv(em, "path", path);
	emit_kv(em, "type", "DirectoryOrCreate");
	emit_map_end(em);
	emit_kv(em, "name", name);
	emit_map_end(em);
}

static void emit_mount(struct emit *em, const char *name, const char *path)
{
	emit_map(em, false);
	emit_kv(em, "mountPath", path);
	emit_kv(em, "name", name);
	emit_map_end(em);
}

/* A JSON object of strings (a valueFrom) as a block map, keys sorted (as sigs.k8s.io/yaml). */
static void emit_json_map(struct emit *em, json_t *obj)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys) {
		em->failed = true;
		return;
	}
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), str_cmp);
	emit_map(em, false);
	for (i = 0; i < n; i++) {
		v = json_object_get(obj, keys[i]);
		emit_str(em, keys[i]);
		if (json_is_object(v))
			emit_json_map(em, v);
		else
			emit_str(em, json_is_string(v) ? json_string_value(v) : "");
	}
	emit_map_end(em);
	free(keys);
}

static void emit_value_from(struct emit *em, const char *json)
{
	json_t *obj = json_loads(json, 0, NULL);
	if (!json_is_object(obj)) {
		json_decref(obj);
		em->failed = true;
		return;
	}
	emit_str(em, "valueFrom");
	emit_json_map(em, obj);
	json_decref(obj);
}

static int env_cmp(const void *a, const void *b)
{
	/* By name; on a tie, in the order given (so that the last can win). */
	const struct ep_kv *const *x = a, *const *y = b;
	int c = strcmp((*x)->name, (*y)->name);
	return c ? c : (*x < *y ? -1 : *x > *y);
}

/*
 * The container's env as kubeadm's MergeKubeadmEnvVars makes it: one entry
 * per name, the last one given winning, sorted by name.  Fills @envs with
 * pointers into @spec and returns how many.
 */
static size_t envs_merged(const struct ep_spec *spec, const struct ep_kv **envs)
{
	size_t n = spec->extra_envs.n, out = 0;
	for (size_t i = 0; i < n; i++)
		envs[i] = &spec->extra_envs.v[i];
	if (n)
		qsort(envs, n, sizeof(*envs), env_cmp);
	for (size_t i = 0; i < n; i++)
		if (i + 1 == n || strcmp(envs[i]->name, envs[i + 1]->name))
			envs[out++] = envs[i];
	return out;
}

/*
 * The startup probe's failureThreshold is kubeadm's
 * ceil(controlPlaneComponentHealthCheck / 10s): 24 for the default 4m.  It
 * follows that kubeadm field only, never --timeout, which bounds how long
 * etcdpilot waits: a re-run with another --timeout is not a changed
 * manifest.
 */
#define PROBE_PERIOD_S 10

static unsigned startup_failure_threshold(const struct ep_spec *spec)
{
	uint64_t ms = spec->health_check_ms ? spec->health_check_ms : 4ull * 60 * 1000;
	uint64_t n = (ms + PROBE_PERIOD_S * 1000 - 1) / (PROBE_PERIOD_S * 1000);
	return n < 1 ? 1 : n > 100000 ? 100000 : (unsigned)n;
}

int ep_manifest_render(const struct ep_spec *spec, const struct ep_kvv *initial_cluster,
		       char **ret, size_t *ret_len, struct ep_error *err)
{
	struct ep_kvv args = { 0 };
	int r = ep_manifest_etcd_args(spec, initial_cluster, &args, err);
	if (r < 0)
		return r;

	/* The annotation says where clients reach the member: what it advertises. */
	const char *adv_client = ep_spec_extra_arg(spec, "advertise-client-urls");
	_cleanup_free_ char *client = adv_client ? strdup(adv_client)
						 : ep_url("https", spec->advertise_address,
							  EP_ETCD_CLIENT_PORT);
	_cleanup_free_ char *image = NULL, *certs = NULL;
	_cleanup_free_ const struct ep_kv **envs = calloc(spec->extra_envs.n + 1, sizeof(*envs));
	if (!client || !envs || asprintf(&image, "%s/etcd:%s", spec->image_repository,
					 spec->image_tag) < 0 ||
	    asprintf(&certs, "%s/etcd", spec->cert_dir) < 0) {
		ep_kvv_release(&args);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	size_t n_envs = envs_merged(spec, envs);

	struct probe_endpoint pe;
	probe_endpoint_for(spec, &pe);
	struct probe_paths paths = probe_paths_for(spec->etcd_version);

	struct emit em = { 0 };
	yaml_event_t ev;
	if (!yaml_emitter_initialize(&em.e)) {
		ep_kvv_release(&args);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	yaml_emitter_set_output(&em.e, emit_write, &em);
	yaml_emitter_set_indent(&em.e, 2);
	yaml_emitter_set_width(&em.e, -1);
	yaml_emitter_set_unicode(&em.e, 1);

	emit_event(&em, &ev, yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING));
	emit_event(&em, &ev, yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1));
	emit_map(&em, false);
	emit_kv(&em, "apiVersion", "v1");
	emit_kv(&em, "kind", "Pod");

	emit_str(&em, "metadata");
	emit_map(&em, false);
	emit_str(&em, "annotations");
	emit_map(&em, false);
	emit_kv(&em, EP_ANNOTATION_CLIENT_URLS, client);
	emit_map_end(&em);
	emit_str(&em, "labels");
	emit_map(&em, false);
	emit_kv(&em, "component", "etcd");
	emit_kv(&em, "tier", "control-plane");
	emit_map_end(&em);
	emit_kv(&em, "name", "etcd");
	emit_kv(&em, "namespace", "kube-system");
	emit_map_end(&em);

	emit_str(&em, "spec");
	emit_map(&em, false);
	emit_str(&em, "containers");
	emit_seq(&em);
	emit_map(&em, false);

	emit_str(&em, "command");
	emit_seq(&em);
	emit_str(&em, "etcd");
	for (size_t i = 0; i < args.n; i++) {
		_cleanup_free_ char *flag = NULL;
		if (asprintf(&flag, "--%s=%s", args.v[i].name, args.v[i].value) < 0) {
			em.failed = true;
			break;
		}
		emit_str(&em, flag);
	}
	emit_seq_end(&em);

	if (n_envs) {
		emit_str(&em, "env");
		emit_seq(&em);
		for (size_t i = 0; i < n_envs; i++) {
			emit_map(&em, false);
			emit_kv(&em, "name", envs[i]->name);
			/* corev1.EnvVar's value is omitempty: kubeadm writes no "value: """ */
			if (envs[i]->value[0])
				emit_kv(&em, "value", envs[i]->value);
			if (envs[i]->value_from)
				emit_value_from(&em, envs[i]->value_from);
			emit_map_end(&em);
		}
		emit_seq_end(&em);
	}

	emit_kv(&em, "image", image);
	emit_kv(&em, "imagePullPolicy", "IfNotPresent");
	emit_probe(&em, "livenessProbe", &pe, paths.liveness, 10, 10, 8);
	emit_kv(&em, "name", "etcd");

	emit_str(&em, "ports");
	emit_seq(&em);
	emit_map(&em, false);
	emit_str(&em, "containerPort");
	emit_int(&em, pe.port);
	emit_kv(&em, "name", "probe-port");
	emit_kv(&em, "protocol", "TCP");
	emit_map_end(&em);
	emit_seq_end(&em);

	if (paths.readiness)
		emit_probe(&em, "readinessProbe", &pe, paths.readiness, 0, 1, 3);

	emit_str(&em, "resources");
	emit_map(&em, false);
	emit_str(&em, "requests");
	emit_map(&em, false);
	emit_kv(&em, "cpu", "100m");
	emit_kv(&em, "memory", "100Mi");
	emit_map_end(&em);
	emit_map_end(&em);

	emit_probe(&em, "startupProbe", &pe, paths.startup, 10, PROBE_PERIOD_S,
		   startup_failure_threshold(spec));

	emit_str(&em, "volumeMounts");
	emit_seq(&em);
	emit_mount(&em, "etcd-data", spec->data_dir);
	emit_mount(&em, "etcd-certs", certs);
	emit_seq_end(&em);
	emit_map_end(&em); /* the container */
	emit_seq_end(&em);

	emit_str(&em, "hostNetwork");
	emit_bool(&em, true);
	emit_str(&em, "priority");
	emit_int(&em, 2000001000);
	emit_kv(&em, "priorityClassName", "system-node-critical");
	emit_str(&em, "securityContext");
	emit_map(&em, false);
	emit_str(&em, "seccompProfile");
	emit_map(&em, false);
	emit_kv(&em, "type", "RuntimeDefault");
	emit_map_end(&em);
	emit_map_end(&em);

	/* Sorted by name: "etcd-certs" < "etcd-data". */
	emit_str(&em, "volumes");
	emit_seq(&em);
	emit_volume(&em, "etcd-certs", certs);
	emit_volume(&em, "etcd-data", spec->data_dir);
	emit_seq_end(&em);
	emit_map_end(&em); /* spec */

	emit_str(&em, "status");
	emit_map(&em, true);
	emit_map_end(&em);

	emit_map_end(&em);
	emit_event(&em, &ev, yaml_document_end_event_initialize(&ev, 1));
	emit_event(&em, &ev, yaml_stream_end_event_initialize(&ev));
	if (!em.failed && !yaml_emitter_flush(&em.e))
		em.failed = true;

	bool failed = em.failed || !em.buf;
	const char *problem = em.e.problem;
	if (failed) {
		if (em.overflow)
			r = ep_error_usage(err, -EFBIG,
					   "the etcd manifest would be larger than %u KiB (%zu "
					   "extraArgs, %zu extraEnvs), which is no etcd configuration; "
					   "give fewer or shorter entries",
					   EP_RENDER_MAX >> 10, spec->extra_args.n, spec->extra_envs.n);
		else
			r = ep_error_set(err, -ENOMEM, "rendering the etcd manifest: %s",
					 problem ? problem : "out of memory");
	}
	yaml_emitter_delete(&em.e);
	ep_kvv_release(&args);
	if (failed) {
		free(em.buf);
		return r;
	}
	if (ret_len)
		*ret_len = em.len;
	*ret = em.buf;
	return 0;
}

/* ------------------------------------------------------------------ */
/* reading                                                              */

void ep_manifest_info_release(struct ep_manifest_info *info)
{
	if (!info)
		return;
	ep_spec_release(&info->spec);
	free(info->image);
	ep_kvv_release(&info->args);
	ep_kvv_release(&info->initial_cluster);
	ep_strv_release(&info->missing_defaults);
	memset(info, 0, sizeof(*info));
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, key))
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

static const char *scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *map_str(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	return scalar(map_get(doc, map, key));
}

static size_t seq_len(yaml_node_t *seq)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

static yaml_node_t *seq_at(yaml_document_t *doc, yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(doc, seq->data.sequence.items.start[i]);
}

static int set_str(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? strdup(src) : NULL;
	return (src && !*dst) ? -ENOMEM : 0;
}

/* "https://[fd00::1]:2379" -> "fd00::1"; "https://10.0.0.1:2379,..." -> "10.0.0.1". */
static char *url_host(const char *url)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	size_t n = strcspn(p, ",/?#");
	char *hp = strndup(p, n);
	if (!hp)
		return NULL;
	if (hp[0] == '[') {
		char *close = strchr(hp, ']');
		if (close)
			*close = '\0';
		memmove(hp, hp + 1, strlen(hp));
	} else {
		char *colon = strrchr(hp, ':');
		if (colon)
			*colon = '\0';
	}
	return hp;
}

static int parse_initial_cluster(const char *value, struct ep_kvv *out)
{
	_cleanup_free_ char *copy = strdup(value);
	if (!copy)
		return -ENOMEM;
	char *save = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			continue;
		*eq = '\0';
		if (ep_kvv_push(out, tok, eq + 1) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The values @kv has for @name, in order, as one "a', 'b" string; NULL when none. */
static char *values_of(const struct ep_kvv *kv, const char *name)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	bool any = false;
	for (size_t i = 0; i < kv->n; i++) {
		if (strcmp(kv->v[i].name, name))
			continue;
		ep_strbuf_addf(&sb, "%s%s", any ? "', '" : "", kv->v[i].value);
		any = true;
	}
	if (!any) {
		ep_strbuf_release(&sb);
		return NULL;
	}
	return ep_strbuf_detach(&sb, NULL);
}

/* Values of @name in @a and @b (both sorted by name then value) are the same multiset. */
static bool same_values(const struct ep_kvv *a, const struct ep_kvv *b, const char *name)
{
	_cleanup_free_ char *va = values_of(a, name);
	_cleanup_free_ char *vb = values_of(b, name);
	if (!va || !vb)
		return !va && !vb;
	return !strcmp(va, vb);
}

static int sorted_copy(const struct ep_kvv *in, struct ep_kvv *out)
{
	for (size_t i = 0; i < in->n; i++)
		if (ep_kvv_push(out, in->v[i].name, in->v[i].value) < 0)
			return -ENOMEM;
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), kv_cmp);
	return 0;
}

/* Fill extra_args and missing_defaults by comparing the flags with the defaults. */
static int derive_extra_args(struct ep_manifest_info *info)
{
	struct ep_kvv defs = { 0 }, have = { 0 };
	int r = default_args(&info->spec, info->state_existing ? &info->initial_cluster : NULL,
			     &defs);
	if (r == 0 && defs.n)
		qsort(defs.v, defs.n, sizeof(*defs.v), kv_cmp);
	if (r == 0)
		r = sorted_copy(&info->args, &have);
	for (size_t i = 0; r == 0 && i < have.n; i++) {
		if (i && !strcmp(have.v[i].name, have.v[i - 1].name))
			continue;
		if (same_values(&have, &defs, have.v[i].name))
			continue;
		for (size_t j = i; r == 0 && j < have.n && !strcmp(have.v[j].name, have.v[i].name);
		     j++)
			r = ep_kvv_push(&info->spec.extra_args, have.v[j].name, have.v[j].value);
	}
	for (size_t i = 0; r == 0 && i < defs.n; i++)
		if (!kvv_has_name(&have, defs.v[i].name) &&
		    !ep_strv_contains(&info->missing_defaults, defs.v[i].name))
			r = ep_strv_push(&info->missing_defaults, defs.v[i].name);
	ep_kvv_release(&defs);
	ep_kvv_release(&have);
	return r;
}

/*
 * A map of a document as JSON, every scalar a string (as valueFrom holds
 * them), lists kept; NULL on ENOMEM.  The loader bounded the depth.
 */
static json_t *node_json(yaml_document_t *doc, yaml_node_t *n)
{
	if (!n)
		return json_null();
	if (n->type == YAML_SCALAR_NODE)
		return json_stringn((const char *)n->data.scalar.value, n->data.scalar.length);
	if (n->type == YAML_SEQUENCE_NODE) {
		json_t *a = json_array();
		for (size_t i = 0; a && i < seq_len(n); i++)
			if (json_array_append_new(a, node_json(doc, seq_at(doc, n, i))) < 0) {
				json_decref(a);
				return NULL;
			}
		return a;
	}
	json_t *o = json_object();
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     o && p < n->data.mapping.pairs.top; p++) {
		const char *k = scalar(yaml_document_get_node(doc, p->key));
		json_t *v = node_json(doc, yaml_document_get_node(doc, p->value));
		if (!v || (k && json_object_set_new(o, k, v) < 0)) {
			json_decref(v);
			json_decref(o);
			return NULL;
		}
		if (!k)
			json_decref(v);
	}
	return o;
}

static int parse_error(struct ep_error *err, const char *filename, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int parse_error(struct ep_error *err, const char *filename, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ep_error_set(err, -EINVAL, "%s: %s", filename, msg);
}

static int parse_doc(yaml_document_t *doc, const char *filename, const char *expect_name,
		     const char *fallback_version, struct ep_manifest_info *info,
		     struct ep_error *err)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	if (!root)
		return parse_error(err, filename, "empty file: not a Pod manifest");
	if (root->type != YAML_MAPPING_NODE)
		return parse_error(err, filename, "not a Pod manifest: the document is not a mapping");
	const char *kind = map_str(doc, root, "kind");
	if (!kind || strcmp(kind, "Pod"))
		return parse_error(err, filename,
				   "not a Pod manifest (kind '%s'); move it out of the manifest "
				   "directory or pass another --manifest-dir",
				   kind ? kind : "(none)");
	yaml_node_t *meta = map_get(doc, root, "metadata");
	const char *pod_name = map_str(doc, meta, "name");
	if (!pod_name || strcmp(pod_name, "etcd"))
		return parse_error(err, filename,
				   "a different pod ('%s', not 'etcd') is in the place of the etcd "
				   "manifest; move it away first",
				   pod_name ? pod_name : "(unnamed)");
	const char *ns = map_str(doc, meta, "namespace");
	if (!ns || strcmp(ns, "kube-system"))
		return parse_error(err, filename,
				   "the pod 'etcd' there is in namespace '%s', not 'kube-system': it "
				   "is not kubeadm's etcd; move it away first",
				   ns ? ns : "default");
	yaml_node_t *pspec = map_get(doc, root, "spec");
	yaml_node_t *containers = map_get(doc, pspec, "containers");
	yaml_node_t *ctr = NULL;
	for (size_t i = 0; i < seq_len(containers); i++) {
		yaml_node_t *c = seq_at(doc, containers, i);
		const char *cn = map_str(doc, c, "name");
		if (cn && !strcmp(cn, "etcd"))
			ctr = c;
	}
	if (!ctr)
		return parse_error(err, filename, "the pod has no container named 'etcd'");

	/* command[0] is the binary; flags are --name=value (args: appended). */
	yaml_node_t *lists[2] = { map_get(doc, ctr, "command"), map_get(doc, ctr, "args") };
	for (int l = 0; l < 2; l++) {
		for (size_t i = (l == 0 ? 1 : 0); i < seq_len(lists[l]); i++) {
			const char *a = scalar(seq_at(doc, lists[l], i));
			if (!a || strncmp(a, "--", 2))
				continue;
			const char *eq = strchr(a, '=');
			_cleanup_free_ char *n = eq ? strndup(a + 2, (size_t)(eq - a - 2))
						    : strdup(a + 2);
			if (!n || ep_kvv_push(&info->args, n, eq ? eq + 1 : "true") < 0)
				return ep_error_set(err, -ENOMEM, "out of memory");
		}
	}
	/* The flags that say which member this is must say it once. */
	static const char *const once[] = { "name",	     "advertise-client-urls",
					     "initial-cluster", "initial-cluster-state",
					     "data-dir",	     "trusted-ca-file",
					     NULL };
	for (size_t f = 0; once[f]; f++) {
		const char *first = NULL;
		for (size_t i = 0; i < info->args.n; i++) {
			if (strcmp(info->args.v[i].name, once[f]))
				continue;
			if (first && strcmp(first, info->args.v[i].value))
				return parse_error(err, filename,
						   "the etcd container sets --%s twice ('%s' and "
						   "'%s'); etcdpilot cannot tell which member this is: "
						   "keep one",
						   once[f], first, info->args.v[i].value);
			first = info->args.v[i].value;
		}
	}
	const char *name = NULL, *adv_url = NULL, *cluster = NULL, *state = NULL;
	for (size_t i = 0; i < info->args.n; i++) {
		const char *n = info->args.v[i].name, *v = info->args.v[i].value;
		if (!strcmp(n, "name"))
			name = v;
		else if (!strcmp(n, "advertise-client-urls"))
			adv_url = v;
		else if (!strcmp(n, "initial-cluster"))
			cluster = v;
		else if (!strcmp(n, "initial-cluster-state"))
			state = v;
	}
	if (!name)
		return parse_error(err, filename, "the etcd container has no --name flag");
	if (expect_name && strcmp(name, expect_name))
		return parse_error(err, filename,
				   "the manifest is for member '%s', not for this node's '%s'; "
				   "pass --name to match it, or run 'etcdpilot reset' first",
				   name, expect_name);

	int r = set_str(&info->spec.name, name);
	const char *annot = map_str(doc, map_get(doc, meta, "annotations"), EP_ANNOTATION_CLIENT_URLS);
	if (annot || adv_url) {
		free(info->spec.advertise_address);
		info->spec.advertise_address = url_host(annot ? annot : adv_url);
		if (!info->spec.advertise_address)
			r = -ENOMEM;
	}
	yaml_node_t *vols = map_get(doc, pspec, "volumes");
	for (size_t i = 0; i < seq_len(vols); i++) {
		yaml_node_t *v = seq_at(doc, vols, i);
		const char *vn = map_str(doc, v, "name");
		const char *path = map_str(doc, map_get(doc, v, "hostPath"), "path");
		if (!vn || !path)
			continue;
		if (!strcmp(vn, "etcd-data")) {
			r |= set_str(&info->spec.data_dir, path);
		} else if (!strcmp(vn, "etcd-certs")) {
			size_t pl = strlen(path);
			if (pl >= 5 && !strcmp(path + pl - 5, "/etcd")) {
				free(info->spec.cert_dir);
				info->spec.cert_dir = strndup(path, pl == 5 ? 1 : pl - 5);
				if (!info->spec.cert_dir)
					r = -ENOMEM;
			}
		}
	}
	/* Without the volumes, fall back to the flags. */
	const char *dd = NULL, *ca = NULL;
	for (size_t i = 0; i < info->args.n; i++) {
		if (!strcmp(info->args.v[i].name, "data-dir"))
			dd = info->args.v[i].value;
		if (!strcmp(info->args.v[i].name, "trusted-ca-file"))
			ca = info->args.v[i].value;
	}
	if (!info->spec.data_dir && dd)
		r |= set_str(&info->spec.data_dir, dd);
	if (!info->spec.cert_dir && ca) {
		size_t cl = strlen(ca);
		if (cl > 12 && !strcmp(ca + cl - 12, "/etcd/ca.crt")) {
			info->spec.cert_dir = strndup(ca, cl - 12);
			if (!info->spec.cert_dir)
				r = -ENOMEM;
		}
	}

	const char *image = map_str(doc, ctr, "image");
	if (image) {
		r |= set_str(&info->image, image);
		/* repository/etcd[:tag][@sha256:digest]: the digest is not the tag. */
		size_t ref_len = strcspn(image, "@");
		_cleanup_free_ char *ref = strndup(image, ref_len);
		if (!ref)
			r = -ENOMEM;
		const char *slash = ref ? strrchr(ref, '/') : NULL;
		const char *colon = ref ? strrchr(ref, ':') : NULL;
		if (colon && (!slash || colon > slash))
			r |= set_str(&info->spec.image_tag, colon + 1);
		if (slash) {
			free(info->spec.image_repository);
			info->spec.image_repository = strndup(ref, (size_t)(slash - ref));
			if (!info->spec.image_repository)
				r = -ENOMEM;
		}
	}
	char tagv[32];
	if (ep_image_tag_version(info->spec.image_tag, tagv, sizeof(tagv)))
		r |= set_str(&info->spec.etcd_version, tagv);
	else if (fallback_version)
		r |= set_str(&info->spec.etcd_version, fallback_version);
	else if (kvv_has_name(&info->args, "experimental-initial-corrupt-check"))
		r |= set_str(&info->spec.etcd_version, "3.5.0");
	else
		r |= set_str(&info->spec.etcd_version, "3.6.0");

	/* The startup probe's budget is kubeadm's controlPlaneComponentHealthCheck. */
	yaml_node_t *sp = map_get(doc, ctr, "startupProbe");
	const char *ft = map_str(doc, sp, "failureThreshold");
	const char *ps = map_str(doc, sp, "periodSeconds");
	if (ft && ps) {
		char *e1 = NULL, *e2 = NULL;
		unsigned long f = strtoul(ft, &e1, 10), p = strtoul(ps, &e2, 10);
		if (*ft != '-' && *ps != '-' && e1 != ft && !*e1 && e2 != ps && !*e2 && f &&
		    f <= 100000 && p && p <= 3600)
			info->spec.health_check_ms = (uint64_t)f * p * 1000;
	}

	yaml_node_t *env = map_get(doc, ctr, "env");
	for (size_t i = 0; i < seq_len(env); i++) {
		yaml_node_t *e = seq_at(doc, env, i);
		const char *en = map_str(doc, e, "name");
		const char *ev = map_str(doc, e, "value");
		yaml_node_t *vf = map_get(doc, e, "valueFrom");
		_cleanup_free_ char *from = NULL;
		if (vf && vf->type == YAML_MAPPING_NODE) {
			json_t *j = node_json(doc, vf);
			from = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
			json_decref(j);
			if (!from)
				r = -ENOMEM;
		}
		if (en)
			r |= ep_kvv_push_at(&info->spec.extra_envs, en, ev ? ev : "", NULL, from);
	}
	if (cluster)
		r |= parse_initial_cluster(cluster, &info->initial_cluster);
	info->state_existing = state && !strcmp(state, "existing");
	if (r)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (!info->spec.advertise_address || !info->spec.data_dir || !info->spec.cert_dir)
		return parse_error(err, filename,
				   "cannot tell the %s of the etcd member from the manifest",
				   !info->spec.advertise_address ? "advertise address"
				   : !info->spec.data_dir	 ? "data directory"
								 : "certificates directory");
	if (derive_extra_args(info) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

int ep_manifest_parse(const char *buf, size_t len, const char *filename,
		      const char *expect_name, const char *fallback_version,
		      struct ep_manifest_info *ret, struct ep_error *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!filename)
		filename = "etcd.yaml";
	if (!yaml_parser_initialize(&parser))
		return ep_error_set(err, -ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!ep_yaml_load(&parser, &doc, MANIFEST_MAX_DEPTH)) {
		const char *tab = ep_yaml_tab_problem(&parser, buf, len);
		int r;
		if (parser.error == YAML_MEMORY_ERROR)
			r = ep_error_set(err, -ENOMEM, "out of memory");
		else if (parser.problem == ep_yaml_too_deep || tab)
			r = ep_error_set(err, -EINVAL, "%s:%zu:%zu: not valid YAML: %s", filename,
					 parser.problem_mark.line + 1,
					 parser.problem_mark.column + 1,
					 tab ? tab
					     : "nested more than 64 levels deep (a Pod is a few "
					       "levels deep)");
		else
			r = ep_error_set(err, -EINVAL, "%s:%zu:%zu: not valid YAML: %s%s%s",
					 filename, parser.problem_mark.line + 1,
					 parser.problem_mark.column + 1,
					 parser.problem ? parser.problem : "parse error",
					 parser.context ? " " : "",
					 parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		return r;
	}
	/* A second document would be a second pod the reader never looked at. */
	yaml_document_t next;
	bool more = false;
	if (ep_yaml_load(&parser, &next, MANIFEST_MAX_DEPTH)) {
		more = yaml_document_get_root_node(&next) != NULL;
		yaml_document_delete(&next);
	} else {
		more = true; /* something follows that is not even YAML */
	}
	yaml_parser_delete(&parser);
	memset(ret, 0, sizeof(*ret));
	int r = more ? parse_error(err, filename,
				   "holds more than one YAML document; the etcd manifest is one "
				   "Pod: move the others out of the manifest directory")
		     : parse_doc(&doc, filename, expect_name, fallback_version, ret, err);
	yaml_document_delete(&doc);
	if (r < 0)
		ep_manifest_info_release(ret);
	return r;
}

/* ------------------------------------------------------------------ */
/* diff                                                                 */

static int add_line(struct ep_strv *out, int *count, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int add_line(struct ep_strv *out, int *count, const char *fmt, ...)
{
	char *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	int r = ep_strv_push(out, line);
	free(line);
	if (r == 0)
		(*count)++;
	return r;
}

static bool streq0(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int diff_field(struct ep_strv *out, int *count, const char *what, const char *have,
		      const char *want)
{
	if (streq0(have, want))
		return 0;
	return add_line(out, count, "%s: manifest has '%s', wanted '%s'", what,
			have ? have : "(none)", want ? want : "(none)");
}

/* Names of @a and @b, each once, sorted. */
static int name_union(const struct ep_kvv *a, const struct ep_kvv *b, struct ep_strv *out)
{
	struct ep_kvv all = { 0 };
	int r = sorted_copy(a, &all);
	for (size_t i = 0; r == 0 && i < b->n; i++)
		r = ep_kvv_push(&all, b->v[i].name, b->v[i].value);
	if (r == 0 && all.n)
		qsort(all.v, all.n, sizeof(*all.v), kv_cmp);
	for (size_t i = 0; r == 0 && i < all.n; i++)
		if (!ep_strv_contains(out, all.v[i].name))
			r = ep_strv_push(out, all.v[i].name);
	ep_kvv_release(&all);
	return r;
}

static int diff_kvv(struct ep_strv *out, int *count, const char *prefix, const char *what,
		    const struct ep_kvv *have, const struct ep_kvv *want)
{
	struct ep_strv names = { 0 };
	struct ep_kvv hs = { 0 }, ws = { 0 };
	int r = name_union(have, want, &names);
	if (r == 0)
		r = sorted_copy(have, &hs);
	if (r == 0)
		r = sorted_copy(want, &ws);
	for (size_t i = 0; r == 0 && i < names.n; i++) {
		_cleanup_free_ char *hv = values_of(&hs, names.v[i]);
		_cleanup_free_ char *wv = values_of(&ws, names.v[i]);
		if (streq0(hv, wv))
			continue;
		if (!hv)
			r = add_line(out, count, "%s%s%s: missing from the manifest, wanted '%s'",
				     what, prefix, names.v[i], wv);
		else if (!wv)
			r = add_line(out, count, "%s%s%s: manifest has '%s', wanted none", what,
				     prefix, names.v[i], hv);
		else
			r = add_line(out, count, "%s%s%s: manifest has '%s', wanted '%s'", what,
				     prefix, names.v[i], hv, wv);
	}
	ep_strv_release(&names);
	ep_kvv_release(&hs);
	ep_kvv_release(&ws);
	return r;
}

/*
 * The structural comparison of two manifests, for everything the field
 * comparisons above do not cover (probes, resources, labels, security
 * context, ports...): mappings by key, lists of named maps (containers,
 * volumes, ports) by name, other lists by position, scalars by value and
 * by what they read as (plain 10000 is a number, "10000" a string).
 * Layout - flow or block style, key order, quoting that does not change a
 * value - is not a difference.
 */
#define TREE_DIFF_MAX 20

struct tree_diff {
	yaml_document_t *a, *b; /* have, want */
	struct ep_strv *out;
	int *count;
	int r;
};

/* Paths the field comparisons already report on. */
static bool tree_path_skipped(const char *path)
{
	static const char *const skip[] = {
		"metadata.annotations", "spec.volumes",
		"spec.containers[etcd].command", "spec.containers[etcd].args",
		"spec.containers[etcd].env", "spec.containers[etcd].volumeMounts",
		NULL,
	};
	for (size_t i = 0; skip[i]; i++)
		if (!strcmp(path, skip[i]))
			return true;
	return false;
}

static bool scalar_is_string(const yaml_node_t *n)
{
	return n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	       !scalar_needs_quotes((const char *)n->data.scalar.value);
}

/* A short description of a node for a difference line. */
static void node_describe(const yaml_node_t *n, char *buf, size_t size)
{
	if (!n)
		snprintf(buf, size, "nothing");
	else if (n->type == YAML_SCALAR_NODE)
		snprintf(buf, size, scalar_is_string(n) ? "'%.150s'" : "%.150s",
			 (const char *)n->data.scalar.value);
	else if (n->type == YAML_MAPPING_NODE)
		snprintf(buf, size, "a map");
	else
		snprintf(buf, size, "a list of %zu",
			 (size_t)(n->data.sequence.items.top - n->data.sequence.items.start));
}

static void tree_line(struct tree_diff *td, const char *path, const yaml_node_t *have,
		      const yaml_node_t *want)
{
	if (td->r < 0 || *td->count >= TREE_DIFF_MAX)
		return;
	char h[200], w[200];
	node_describe(have, h, sizeof(h));
	node_describe(want, w, sizeof(w));
	if (!have)
		td->r = add_line(td->out, td->count, "%s: missing from the manifest, wanted %s",
				 path, w);
	else if (!want)
		td->r = add_line(td->out, td->count, "%s: manifest has %s, wanted none", path, h);
	else
		td->r = add_line(td->out, td->count, "%s: manifest has %s, wanted %s", path, h, w);
}

/* The "name" of a list element that is a map with one, else NULL. */
static const char *elem_name(yaml_document_t *doc, yaml_node_t *n)
{
	return n && n->type == YAML_MAPPING_NODE ? map_str(doc, n, "name") : NULL;
}

static bool seq_named(yaml_document_t *doc, yaml_node_t *seq)
{
	for (size_t i = 0; i < seq_len(seq); i++)
		if (!elem_name(doc, seq_at(doc, seq, i)))
			return false;
	return seq_len(seq) > 0;
}

static yaml_node_t *seq_find(yaml_document_t *doc, yaml_node_t *seq, const char *name)
{
	for (size_t i = 0; i < seq_len(seq); i++)
		if (!strcmp(elem_name(doc, seq_at(doc, seq, i)), name))
			return seq_at(doc, seq, i);
	return NULL;
}

static void tree_cmp(struct tree_diff *td, const char *path, yaml_node_t *x, yaml_node_t *y);

static void tree_cmp_map(struct tree_diff *td, const char *path, yaml_node_t *x, yaml_node_t *y)
{
	char sub[512];
	/* Keys of the manifest, then the wanted keys it lacks. */
	for (int side = 0; side < 2; side++) {
		yaml_document_t *doc = side ? td->b : td->a;
		yaml_node_t *m = side ? y : x;
		for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
		     p < m->data.mapping.pairs.top; p++) {
			const char *k = scalar(yaml_document_get_node(doc, p->key));
			if (!k)
				continue;
			yaml_node_t *hv = map_get(td->a, x, k), *wv = map_get(td->b, y, k);
			if (side && hv)
				continue;
			snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", k);
			tree_cmp(td, sub, hv, wv);
		}
	}
}

static void tree_cmp_seq(struct tree_diff *td, const char *path, yaml_node_t *x, yaml_node_t *y)
{
	char sub[512];
	if (seq_named(td->a, x) && seq_named(td->b, y)) {
		for (int side = 0; side < 2; side++) {
			yaml_document_t *doc = side ? td->b : td->a;
			yaml_node_t *s = side ? y : x;
			for (size_t i = 0; i < seq_len(s); i++) {
				const char *name = elem_name(doc, seq_at(doc, s, i));
				yaml_node_t *hv = seq_find(td->a, x, name);
				yaml_node_t *wv = seq_find(td->b, y, name);
				if (side && hv)
					continue;
				snprintf(sub, sizeof(sub), "%s[%s]", path, name);
				tree_cmp(td, sub, hv, wv);
			}
		}
		return;
	}
	size_t n = seq_len(x) > seq_len(y) ? seq_len(x) : seq_len(y);
	for (size_t i = 0; i < n; i++) {
		snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
		tree_cmp(td, sub, i < seq_len(x) ? seq_at(td->a, x, i) : NULL,
			 i < seq_len(y) ? seq_at(td->b, y, i) : NULL);
	}
}

static void tree_cmp(struct tree_diff *td, const char *path, yaml_node_t *x, yaml_node_t *y)
{
	if (td->r < 0 || tree_path_skipped(path))
		return;
	if (!x || !y || x->type != y->type) {
		tree_line(td, path, x, y);
		return;
	}
	switch (x->type) {
	case YAML_SCALAR_NODE:
		if (strcmp((const char *)x->data.scalar.value, (const char *)y->data.scalar.value) ||
		    scalar_is_string(x) != scalar_is_string(y))
			tree_line(td, path, x, y);
		break;
	case YAML_MAPPING_NODE:
		tree_cmp_map(td, path, x, y);
		break;
	case YAML_SEQUENCE_NODE:
		tree_cmp_seq(td, path, x, y);
		break;
	default:
		break;
	}
}

static bool doc_load(const char *text, yaml_document_t *doc)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return false;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
	bool ok = ep_yaml_load(&parser, doc, MANIFEST_MAX_DEPTH);
	yaml_parser_delete(&parser);
	if (ok && !yaml_document_get_root_node(doc)) {
		yaml_document_delete(doc);
		ok = false;
	}
	return ok;
}

/* Env vars with a valueFrom compared by it: "valueFrom {...}" as the value. */
static int env_values(const struct ep_kvv *in, struct ep_kvv *out)
{
	for (size_t i = 0; i < in->n; i++) {
		_cleanup_free_ char *v = NULL;
		if (in->v[i].value_from && asprintf(&v, "valueFrom %s", in->v[i].value_from) < 0)
			return -ENOMEM;
		if (ep_kvv_push(out, in->v[i].name, v ? v : in->v[i].value) < 0)
			return -ENOMEM;
	}
	return 0;
}

int ep_manifest_diff(const struct ep_manifest_info *have, const char *have_text,
		     const struct ep_manifest_info *want, const char *want_text,
		     struct ep_strv *ret)
{
	int count = 0, r = 0;
	r |= diff_field(ret, &count, "member name", have->spec.name, want->spec.name);
	r |= diff_field(ret, &count, "advertise address", have->spec.advertise_address,
			want->spec.advertise_address);
	r |= diff_field(ret, &count, "data directory (etcd-data volume)", have->spec.data_dir,
			want->spec.data_dir);
	r |= diff_field(ret, &count, "certificates directory (etcd-certs volume)",
			have->spec.cert_dir, want->spec.cert_dir);
	if (r)
		return -ENOMEM;
	r = diff_kvv(ret, &count, "--", "flag ", &have->args, &want->args);
	struct ep_kvv he = { 0 }, we = { 0 };
	if (r == 0)
		r = env_values(&have->spec.extra_envs, &he);
	if (r == 0)
		r = env_values(&want->spec.extra_envs, &we);
	if (r == 0)
		r = diff_kvv(ret, &count, "", "env ", &he, &we);
	ep_kvv_release(&he);
	ep_kvv_release(&we);
	if (r < 0)
		return r;
	if (have_text && want_text && strcmp(have_text, want_text)) {
		yaml_document_t a, b;
		if (!doc_load(have_text, &a))
			return add_line(ret, &count, "the manifest cannot be read as YAML") < 0
				   ? -ENOMEM
				   : count;
		if (!doc_load(want_text, &b)) {
			yaml_document_delete(&a);
			return -EINVAL;
		}
		struct tree_diff td = { .a = &a, .b = &b, .out = ret, .count = &count };
		tree_cmp(&td, "", yaml_document_get_root_node(&a), yaml_document_get_root_node(&b));
		yaml_document_delete(&a);
		yaml_document_delete(&b);
		if (td.r < 0)
			return td.r;
	}
	return count;
}
