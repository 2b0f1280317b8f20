/*
 * config_args.c - extraArgs against what etcdpilot derives from the node
 * spec: one set of rules for the static pod and for systemd mode, applied
 * when the spec is validated and again by the flag builder both modes
 * render from (ep_manifest_etcd_args).
 *
 * etcd takes the last of repeated flags, kubeadm lets an extraArgs entry
 * replace every default of its name, and nothing in kubeadm keeps the rest
 * of the pod in step: an extraArgs data-dir moved etcd's data out of the
 * mounted volume.  Here each flag that names something etcdpilot also uses
 * either is followed (data-dir becomes the data dir; the URL flags decide
 * the annotation, the probes and initial-cluster) or is refused with where
 * it was given and what to do instead.  It never touches files.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config_internal.h"
#include "etcdpilot/config.h"
#include "etcdpilot/error.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/spec.h"

/* ---- URLs ------------------------------------------------------------- */

struct url {
	bool https;
	char host[256]; /* without brackets */
	unsigned port;
};

/*
 * One URL of a flag value, as etcd reads it: http:// or https:// (the
 * scheme in any case, as Go's url.Parse), a host, a port, nothing after
 * but an optional "/".
 */
static bool url_parse(const char *s, size_t n, struct url *u, char *why, size_t len)
{
	size_t sl = 0;
	if (n >= 8 && !strncasecmp(s, "https://", 8))
		sl = 8, u->https = true;
	else if (n >= 7 && !strncasecmp(s, "http://", 7))
		sl = 7, u->https = false;
	else {
		snprintf(why, len, "'%.*s' is not an http:// or https:// URL", (int)n, s);
		return false;
	}
	const char *h = s + sl, *end = s + n;
	if (end > h && end[-1] == '/')
		end--;
	const char *hend, *colon;
	if (h < end && *h == '[') {
		hend = memchr(h, ']', (size_t)(end - h));
		if (!hend)
			goto bad;
		h++;
		colon = hend + 1 < end && hend[1] == ':' ? hend + 1 : NULL;
		if (!colon && hend + 1 != end)
			goto bad;
	} else {
		colon = NULL;
		for (const char *p = h; p < end; p++)
			if (*p == ':')
				colon = p;
		hend = colon ? colon : end;
	}
	if (hend == h || (size_t)(hend - h) >= sizeof(u->host) || !colon)
		goto bad;
	memcpy(u->host, h, (size_t)(hend - h));
	u->host[hend - h] = '\0';
	if (strpbrk(u->host, "/?#@ ") || colon + 1 == end)
		goto bad;
	u->port = 0;
	for (const char *p = colon + 1; p < end; p++) {
		if (*p < '0' || *p > '9' || u->port > 65535)
			goto bad;
		u->port = u->port * 10 + (unsigned)(*p - '0');
	}
	if (u->port == 0 || u->port > 65535)
		goto bad;
	return true;
bad:
	snprintf(why, len, "'%.*s' is not a URL etcd can use (SCHEME://HOST:PORT, e.g. "
		 "https://10.0.0.11:2379)", (int)n, s);
	return false;
}

/* Canonical bytes of an IP literal (an IPv4-mapped IPv6 address as IPv4); 4, 16 or 0. */
static int ip_bytes(const char *s, unsigned char out[16])
{
	if (inet_pton(AF_INET, s, out) == 1)
		return 4;
	if (inet_pton(AF_INET6, s, out) != 1)
		return 0;
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (!memcmp(out, mapped, 12)) {
		memmove(out, out + 12, 4);
		return 4;
	}
	return 16;
}

static bool ip_equal(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	int nx = ip_bytes(a, x), ny = ip_bytes(b, y);
	return nx && nx == ny && !memcmp(x, y, (size_t)nx);
}

static bool ip_unspecified(const char *s)
{
	unsigned char x[16];
	int n = ip_bytes(s, x);
	return n && !memcmp(x, (unsigned char[16]){ 0 }, (size_t)n);
}

/* Does SAN @san cover @host (an IP or a DNS name)?  A wildcard covers one label. */
static bool san_covers(const char *san, const char *host)
{
	if (ep_is_ip(host))
		return ep_is_ip(san) && ip_equal(san, host);
	if (!strcasecmp(san, host))
		return true;
	const char *dot = strchr(host, '.');
	return san[0] == '*' && san[1] == '.' && dot && !strcasecmp(san + 1, dot);
}

/* The SANs etcdpilot gives the server (@peer false) or peer certificate cover @host. */
static bool cert_covers(const struct ep_spec *spec, bool peer, const char *host)
{
	const char *defaults[] = { spec->name, "localhost", spec->advertise_address, "127.0.0.1",
				   "::1" };
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		if (defaults[i] && san_covers(defaults[i], host))
			return true;
	const struct ep_strv *extra = peer ? &spec->peer_cert_sans : &spec->server_cert_sans;
	for (size_t i = 0; i < extra->n; i++)
		if (san_covers(extra->v[i], host))
			return true;
	return false;
}

/* ---- the rules ---------------------------------------------------------- */

enum url_kind {
	U_LISTEN = 1 << 0,    /* bound to: IP literals (or localhost) only */
	U_ADVERTISE = 1 << 1, /* told to others: reachable hosts only */
	U_SERVER = 1 << 2,    /* served with the server certificate */
	U_PEER = 1 << 3,      /* served with the peer certificate */
	U_LOCAL = 1 << 4,     /* must keep https://127.0.0.1:2379 (or [::1]) */
};

static const struct {
	const char *flag;
	unsigned kind;
} url_flags[] = {
	{ "listen-client-urls", U_LISTEN | U_SERVER | U_LOCAL },
	{ "advertise-client-urls", U_ADVERTISE | U_SERVER },
	{ "listen-peer-urls", U_LISTEN | U_PEER },
	{ "initial-advertise-peer-urls", U_ADVERTISE | U_PEER },
	{ "listen-metrics-urls", U_LISTEN },
};

/* Certificate flags: each must name a file in <cert_dir>/etcd, the mounted directory. */
static const char *const cert_flags[] = {
	"cert-file",	  "key-file",	   "trusted-ca-file",
	"peer-cert-file", "peer-key-file", "peer-trusted-ca-file",
};

/* Flags that say which member this is: given twice, they must agree. */
static const char *const identity_flags[] = {
	"name",		"data-dir",	     "listen-client-urls", "advertise-client-urls",
	"listen-peer-urls", "initial-advertise-peer-urls", "listen-metrics-urls",
	"cert-file",	"key-file",	     "trusted-ca-file",	   "peer-cert-file",
	"peer-key-file",	"peer-trusted-ca-file",
};

#include <stdint.h>

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* "FILE:LINE:COL: etcd.local.extraArgs[2]" or "extraArgs[2]": where entry @i came from. */
static int arg_error(struct ep_error *err, const struct ep_kv *kv, size_t i, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int arg_error(struct ep_error *err, const struct ep_kv *kv, size_t i, const char *fmt, ...)
{
	char msg[EP_ERROR_MAX], where[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(where, sizeof(where), "extraArgs[%zu]", i);
	int r = ep_error_usage(err, -EINVAL, "%s: %s", kv->at ? kv->at : where, msg);
	ep_error_printable(err);
	return r;
}

/* Is @host a loopback address (127.0.0.0/8, ::1)? */
static bool ip_loopback(const char *host)
{
	unsigned char x[16];
	int n = ip_bytes(host, x);
	static const unsigned char one[16] = { [15] = 1 };
	return (n == 4 && x[0] == 127) || (n == 16 && !memcmp(x, one, 16));
}

/* Is there an https URL this node can reach the member at (loopback or every address)? */
static bool keeps_local(const char *value)
{
	char why[256];
	for (const char *p = value; *p;) {
		size_t n = strcspn(p, ",");
		struct url u;
		if (url_parse(p, n, &u, why, sizeof(why)) && u.https &&
		    (ip_loopback(u.host) || ip_unspecified(u.host)))
			return true;
		p += n + (p[n] == ',');
	}
	return false;
}

static int check_url_flag(const struct ep_spec *spec, const struct ep_kv *kv, size_t i,
			  unsigned kind, struct ep_error *err)
{
	char why[512];
	if (!*kv->value)
		return arg_error(err, kv, i, "--%s is empty (a comma-separated list of URLs)",
				 kv->name);
	for (const char *p = kv->value; *p;) {
		size_t n = strcspn(p, ",");
		struct url u;
		if (!url_parse(p, n, &u, why, sizeof(why)))
			return arg_error(err, kv, i, "--%s: %s", kv->name, why);
		bool ip = ep_is_ip(u.host);
		if ((kind & U_LISTEN) && !ip && strcmp(u.host, "localhost"))
			return arg_error(err, kv, i,
					 "--%s: '%s' is not an IP address, and etcd listens on IP "
					 "addresses only (or localhost)",
					 kv->name, u.host);
		if ((kind & U_ADVERTISE) && ip && ep_addr_unusable(u.host))
			return arg_error(err, kv, i,
					 "--%s: '%s' is %s, which no client or member can reach "
					 "(advertise an address of this node)",
					 kv->name, u.host, ep_addr_unusable(u.host));
		if ((kind & U_ADVERTISE) && !ip && !ep_is_dns1123_subdomain(u.host))
			return arg_error(err, kv, i,
					 "--%s: '%s' is neither an IP address nor a DNS name",
					 kv->name, u.host);
		bool peer = kind & U_PEER;
		if ((kind & (U_SERVER | U_PEER)) && u.https && !ip_unspecified(u.host) &&
		    !cert_covers(spec, peer, u.host))
			return arg_error(err, kv, i,
					 "--%s: '%s' is not among the SANs of the %s certificate, "
					 "so clients that verify it would refuse the member; add it "
					 "to %s",
					 kv->name, u.host, peer ? "peer" : "server",
					 peer ? "etcd.local.peerCertSANs" : "etcd.local.serverCertSANs");
		p += n + (p[n] == ',');
	}
	if ((kind & U_LOCAL) && !keeps_local(kv->value)) {
		bool v6 = ep_addr_is_ipv6(spec->advertise_address);
		return arg_error(err, kv, i,
				 "--%s '%s' has no https URL on the loopback address, where the "
				 "kube-apiserver (--etcd-servers) and etcdpilot's own checks reach "
				 "the local member; keep one in the list (kubeadm's is %s)",
				 kv->name, kv->value,
				 v6 ? "https://[::1]:2379" : "https://127.0.0.1:2379");
	}
	return 0;
}

/* Is @path a file directly or deeper inside directory @dir (no "..": checked before)? */
static bool path_inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return !strncmp(path, dir, n) && path[n] == '/' && path[n + 1 + strspn(path + n + 1, "/")];
}

int ep_spec_check_args(const struct ep_spec *spec, struct ep_error *err)
{
	char why[512], at[EP_ERROR_MAX];
	size_t first[N(identity_flags)];
	for (size_t f = 0; f < N(identity_flags); f++)
		first[f] = SIZE_MAX;
	for (size_t i = 0; i < spec->extra_args.n; i++) {
		const struct ep_kv *kv = &spec->extra_args.v[i];
		if (ep_check_arg_name(kv->name, why, sizeof(why))) {
			char where[64];
			snprintf(where, sizeof(where), "extraArgs[%zu]", i);
			int r = ep_error_usage(err, -EINVAL, "%s.name: %s", kv->at ? kv->at : where,
					       why);
			ep_error_printable(err);
			return r;
		}
		if (ep_check_arg_value(kv->value, why, sizeof(why)))
			return arg_error(err, kv, i, "--%s: %s", kv->name, why);
		/* The same identity flag twice with different values: which one counts? */
		for (size_t f = 0; f < N(identity_flags); f++) {
			if (strcmp(kv->name, identity_flags[f]))
				continue;
			if (first[f] == SIZE_MAX) {
				first[f] = i;
				continue;
			}
			const struct ep_kv *o = &spec->extra_args.v[first[f]];
			if (strcmp(o->value, kv->value))
				return arg_error(err, kv, i,
						 "--%s='%s' contradicts the earlier entry --%s='%s'%s%s; "
						 "give it once",
						 kv->name, kv->value, kv->name, o->value,
						 o->at ? " at " : "", o->at ? o->at : "");
		}
	}
	/* Then what each says against the spec. */
	for (size_t i = 0; i < spec->extra_args.n; i++) {
		const struct ep_kv *kv = &spec->extra_args.v[i];
		if (!strcmp(kv->name, "name") && spec->name && strcmp(kv->value, spec->name))
			return arg_error(err, kv, i,
					 "--name='%s' contradicts the node name '%s', which is the "
					 "member's identity (certificates, initial-cluster, membership); "
					 "remove the entry, or set the node name to '%s' "
					 "(nodeRegistration.name or --name)",
					 kv->value, spec->name, kv->value);
		if (!strcmp(kv->name, "data-dir") && spec->data_dir &&
		    strcmp(kv->value, spec->data_dir))
			return arg_error(err, kv, i,
					 "--data-dir='%s' contradicts the data directory '%s' (%s): "
					 "etcd would keep its data outside the etcd-data volume and "
					 "lose it when the container restarts; give the directory "
					 "once (an extraArgs data-dir alone becomes the data directory)",
					 kv->value, spec->data_dir,
					 ep_origin_at(&spec->origin[EP_FIELD_DATA_DIR], "dataDir",
						      at, sizeof(at)));
		if (!strcmp(kv->name, "initial-cluster") ||
		    !strcmp(kv->name, "initial-cluster-state"))
			return arg_error(err, kv, i,
					 "--%s is etcdpilot's to set (init: this member alone; join: "
					 "the members the cluster reports); remove the entry",
					 kv->name);
		if (in_list(kv->name, cert_flags, N(cert_flags)) && spec->cert_dir) {
			char dir[4096];
			snprintf(dir, sizeof(dir), "%s%setcd", spec->cert_dir,
				 spec->cert_dir[strlen(spec->cert_dir) - 1] == '/' ? "" : "/");
			if (ep_check_abs_path(kv->value, why, sizeof(why)) ||
			    !path_inside(kv->value, dir))
				return arg_error(err, kv, i,
						 "--%s='%s' is not a file in %s, the certificate "
						 "directory etcd is given (the etcd-certs volume); put "
						 "the file there, or remove the entry to use etcdpilot's",
						 kv->name, kv->value, dir);
		}
		for (size_t f = 0; f < N(url_flags); f++) {
			if (strcmp(kv->name, url_flags[f].flag))
				continue;
			int r = check_url_flag(spec, kv, i, url_flags[f].kind, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/*
 * Before defaults: an extraArgs data-dir given without dataDir or --data-dir
 * becomes the data directory, so that the volume, the mount, preflight and
 * the unit follow it.  A different explicit one is refused later.
 */
int ep_spec_adopt_args(struct ep_spec *spec, struct ep_error *err)
{
	const struct ep_kv *dd = NULL;
	for (size_t i = 0; i < spec->extra_args.n; i++)
		if (!strcmp(spec->extra_args.v[i].name, "data-dir"))
			dd = &spec->extra_args.v[i];
	if (!dd || spec->data_dir)
		return 0;
	char why[512];
	if (ep_check_abs_path(dd->value, why, sizeof(why))) {
		int r = ep_error_usage(err, -EINVAL, "%s: --data-dir: %s",
				       dd->at ? dd->at : "extraArgs data-dir", why);
		ep_error_printable(err);
		return r;
	}
	spec->data_dir = strdup(dd->value);
	if (!spec->data_dir ||
	    ep_spec_set_origin(spec, EP_FIELD_DATA_DIR, EP_ORIGIN_DERIVED, "extraArgs data-dir",
			       dd->at ? dd->at : "extraArgs") < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}
