/*
 * client_config.c - which endpoints and which TLS files a command that talks
 * to the cluster uses.
 *
 * This module owns the resolution order (flags, ETCDCTL_* environment,
 * config, the node's own manifest or env file, defaults) and the reading of
 * the two node files it may consult: the static pod manifest and the
 * systemd environment file, both read (never written) under --root.  It
 * does not open the TLS files (ep_client_new does) and does not touch the
 * network.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "util/cleanup.h"

#define NODE_FILE_MAX (1u << 20)
#define DEFAULT_ENDPOINT "https://127.0.0.1:2379"

const char *ep_client_source_name(enum ep_client_source src)
{
	switch (src) {
	case EP_SRC_FLAG:
		return "flag";
	case EP_SRC_ENV:
		return "environment";
	case EP_SRC_CONFIG:
		return "config";
	case EP_SRC_MANIFEST:
		return "static pod manifest";
	case EP_SRC_ENV_FILE:
		return "etcd environment file";
	default:
		return "default";
	}
}

void ep_client_config_release(struct ep_client_config *cfg)
{
	if (!cfg)
		return;
	ep_strv_release(&cfg->endpoints);
	ep_tls_release(&cfg->tls);
	free(cfg->endpoints_file);
	memset(cfg, 0, sizeof(*cfg));
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

/*
 * HOST[:PORT] and nothing else after the scheme: a client URL has no user
 * information, path, query or fragment (curl would take them, or fail on
 * them only after this run had written its certificates), and its port is
 * 1..65535.
 */
static int endpoint_authority_check(const char *u, const char *host, struct ep_error *err)
{
	size_t alen = strcspn(host, "/?#");
	if (host[alen])
		return ep_error_usage(err, -EINVAL,
				      "endpoint '%s' has a path, query or fragment ('%s'); a client "
				      "URL is https://HOST:PORT",
				      u, host + alen);
	if (memchr(host, '@', alen))
		return ep_error_usage(err, -EINVAL,
				      "endpoint '%s' carries user information (USER@); etcd's "
				      "clients authenticate with certificates: give https://HOST:PORT",
				      u);
	const char *port = NULL;
	if (host[0] == '[') {
		const char *close = memchr(host, ']', alen);
		if (!close)
			return ep_error_usage(err, -EINVAL, "endpoint '%s': '[' without ']'", u);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return ep_error_usage(err, -EINVAL,
					      "endpoint '%s': after ']' only ':PORT' may follow", u);
	} else {
		const char *colon = memchr(host, ':', alen);
		if (colon && memchr(colon + 1, ':', alen - (size_t)(colon + 1 - host)))
			return ep_error_usage(err, -EINVAL,
					      "endpoint '%s': an IPv6 address goes in brackets "
					      "(https://[ADDRESS]:PORT)", u);
		if (colon)
			port = colon + 1;
	}
	if (port) {
		size_t n = strlen(port);
		unsigned long v = 0;
		bool digits = n && n <= 5 && strspn(port, "0123456789") == n;
		if (digits)
			v = strtoul(port, NULL, 10);
		if (!digits || v < 1 || v > 65535)
			return ep_error_usage(err, -EINVAL,
					      "endpoint '%s': port '%s' is not a port (1-65535; "
					      "etcd's client port is 2379)", u, port);
	}
	return 0;
}

int ep_endpoints_parse(const char *list, struct ep_strv *ret, struct ep_error *err)
{
	int added = 0;
	const char *p = list;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		while (n && isspace((unsigned char)p[n - 1]))
			n--;
		if (n && !is_blank(p, n)) {
			_cleanup_free_ char *u = NULL;
			bool has_scheme = n >= 3 && memmem(p, n, "://", 3);
			if (has_scheme && !((n > 8 && !strncmp(p, "https://", 8)) ||
					    (n > 7 && !strncmp(p, "http://", 7))))
				return ep_error_usage(err, -EINVAL,
						      "endpoint '%.*s' is not an http(s) URL; give "
						      "e.g. 'https://10.0.0.1:2379'",
						      (int)n, p);
			if (asprintf(&u, "%s%.*s", has_scheme ? "" : "https://", (int)n, p) < 0)
				return ep_error_set(err, -ENOMEM, "out of memory");
			for (const char *q = u; *q; q++)
				if (isspace((unsigned char)*q) || *q == '"' || *q == '\'')
					return ep_error_usage(err, -EINVAL,
							      "endpoint '%s' contains a blank or a "
							      "quote", u);
			const char *host = strstr(u, "://") + 3;
			if (!*host || *host == '/' || *host == ':')
				return ep_error_usage(err, -EINVAL, "endpoint '%s' has no host", u);
			size_t l = strlen(u);
			while (l && u[l - 1] == '/')
				u[--l] = '\0';
			int r = endpoint_authority_check(u, host, err);
			if (r < 0)
				return r;
			if (ep_strv_push(ret, u) < 0)
				return ep_error_set(err, -ENOMEM, "out of memory");
			added++;
		}
		p = end ? end + 1 : NULL;
	}
	return added;
}

int ep_endpoints_parse_given(const char *what, const char *list, struct ep_strv *ret,
			     struct ep_error *err)
{
	int r = ep_endpoints_parse(list, ret, err);
	if (r == 0)
		r = ep_error_usage(err, -EINVAL, "'%s' names no endpoint", list ? list : "");
	if (r < 0)
		ep_error_prefix(err, "%s", what);
	return r;
}

/* Strip blanks and one level of matching quotes; returns a heap copy. */
static char *unquote(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0]) {
		s++;
		n -= 2;
	}
	return strndup(s, n);
}

/*
 * The advertised client URLs from a kubeadm static pod manifest: the
 * annotation kubeadm writes, else the etcd flag.  A line scan is enough:
 * both are single-line scalars in every manifest kubeadm (and etcdpilot)
 * renders, and a miss just falls through to the next source.
 */
static char *manifest_client_urls(const char *text)
{
	static const char annotation[] = "kubeadm.kubernetes.io/etcd.advertise-client-urls:";
	static const char flag[] = "--advertise-client-urls=";
	char *from_flag = NULL;

	for (const char *line = text; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t n = eol ? (size_t)(eol - line) : strlen(line);
		const char *a = memmem(line, n, annotation, sizeof(annotation) - 1);
		const char *f = memmem(line, n, flag, sizeof(flag) - 1);
		if (a) {
			const char *v = a + sizeof(annotation) - 1;
			free(from_flag);
			return unquote(v, (size_t)(line + n - v));
		}
		if (f && !from_flag) {
			const char *v = f + sizeof(flag) - 1;
			size_t vn = (size_t)(line + n - v);
			/* "- --advertise-client-urls=https://..." possibly quoted as a whole */
			while (vn && (v[vn - 1] == '"' || v[vn - 1] == '\'' || isspace((unsigned char)v[vn - 1])))
				vn--;
			from_flag = strndup(v, vn);
		}
		line = eol ? eol + 1 : NULL;
	}
	return from_flag;
}

/* ETCD_ADVERTISE_CLIENT_URLS=... from an EnvironmentFile (last one wins). */
static char *env_file_client_urls(const char *text)
{
	static const char var[] = "ETCD_ADVERTISE_CLIENT_URLS=";
	char *found = NULL;

	for (const char *line = text; line && *line;) {
		const char *eol = strchr(line, '\n');
		size_t n = eol ? (size_t)(eol - line) : strlen(line);
		const char *p = line;
		while (n && isspace((unsigned char)*p)) {
			p++;
			n--;
		}
		if (n > 7 && !strncmp(p, "export ", 7)) {
			p += 7;
			n -= 7;
		}
		if (n >= sizeof(var) - 1 && !strncmp(p, var, sizeof(var) - 1)) {
			free(found);
			found = unquote(p + sizeof(var) - 1, n - (sizeof(var) - 1));
		}
		line = eol ? eol + 1 : NULL;
	}
	return found;
}

/* Read node file @nodepath under @root; 0 with *ret NULL when it is absent. */
static int node_file(const char *root, const char *nodepath, char **ret_path, char **ret,
		     struct ep_error *err)
{
	_cleanup_free_ char *path = NULL;
	*ret = NULL;
	/* for messages: the file is read through the root below */
	int r = ep_root_path(root, nodepath, &path, err);
	if (r < 0)
		return r;
	struct ep_error ferr = { 0 };
	r = ep_root_read_file(root, nodepath, NODE_FILE_MAX, false, ret, NULL, &ferr);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	if (r < 0) {
		if (err && !ep_error_isset(err))
			*err = ferr;
		return r;
	}
	*ret_path = TAKE_PTR(path);
	return 0;
}

static int discover(const struct ep_spec *spec, const char *root, bool manifest_first,
		    struct ep_client_config *ret, struct ep_error *err)
{
	for (int pass = 0; pass < 2; pass++) {
		bool manifest = (pass == 0) == manifest_first;
		_cleanup_free_ char *nodepath = NULL, *text = NULL, *path = NULL, *urls = NULL;
		const char *dir = spec && spec->manifest_dir ? spec->manifest_dir
							     : "/etc/kubernetes/manifests";
		if (manifest) {
			if (asprintf(&nodepath, "%s/etcd.yaml", dir) < 0)
				return ep_error_set(err, -ENOMEM, "out of memory");
		} else {
			nodepath = strdup(spec && spec->systemd.env_file ? spec->systemd.env_file
									 : "/etc/etcd/etcd.env");
			if (!nodepath)
				return ep_error_set(err, -ENOMEM, "out of memory");
		}
		int r = node_file(root, nodepath, &path, &text, err);
		if (r < 0)
			return ep_error_prefix(err, "looking for this node's etcd endpoints");
		if (!text)
			continue;
		urls = manifest ? manifest_client_urls(text) : env_file_client_urls(text);
		if (!urls)
			continue;
		r = ep_endpoints_parse(urls, &ret->endpoints, err);
		if (r < 0)
			return ep_error_prefix(err, "%s", path);
		if (r == 0)
			continue;
		ret->endpoints_from = manifest ? EP_SRC_MANIFEST : EP_SRC_ENV_FILE;
		ret->endpoints_file = TAKE_PTR(path);
		return 1;
	}
	return 0;
}

/* One TLS file: flag, env, config (node path), default (node path). */
static int tls_pick(const char *flag, const char *env, const char *config,
		    const char *root, const char *cert_dir, const char *leaf, char **ret,
		    enum ep_client_source *src, struct ep_error *err)
{
	if (flag && *flag) {
		*src = EP_SRC_FLAG;
		return (*ret = strdup(flag)) ? 0 : -ENOMEM;
	}
	if (env && *env) {
		*src = EP_SRC_ENV;
		return (*ret = strdup(env)) ? 0 : -ENOMEM;
	}
	/*
	 * libcurl opens the TLS files by these paths: not root-relative (a
	 * directory swapped for a symlink can still lead it out of --root).
	 */
	if (config && *config) {
		*src = EP_SRC_CONFIG;
		return ep_root_path(root, config, ret, err);
	}
	_cleanup_free_ char *nodepath = NULL;
	if (asprintf(&nodepath, "%s/%s", cert_dir, leaf) < 0)
		return -ENOMEM;
	*src = EP_SRC_DEFAULT;
	return ep_root_path(root, nodepath, ret, err);
}

int ep_client_config_resolve(const struct ep_spec *spec, const char *root,
			     const struct ep_client_input *flags, const struct ep_client_input *env,
			     struct ep_client_config *ret, struct ep_error *err)
{
	static const struct ep_client_input none = { 0 };
	const struct ep_external *ext = spec && spec->external.set ? &spec->external : NULL;
	const char *cert_dir = spec && spec->cert_dir ? spec->cert_dir : "/etc/kubernetes/pki";
	int r;

	if (!flags)
		flags = &none;
	if (!env)
		env = &none;
	memset(ret, 0, sizeof(*ret));

	if (flags->endpoints && *flags->endpoints) {
		ret->endpoints_from = EP_SRC_FLAG;
		r = ep_endpoints_parse_given("--endpoints", flags->endpoints, &ret->endpoints, err);
		if (r < 0)
			goto fail;
	} else if (env->endpoints && *env->endpoints) {
		ret->endpoints_from = EP_SRC_ENV;
		r = ep_endpoints_parse_given("ETCDCTL_ENDPOINTS", env->endpoints, &ret->endpoints,
					     err);
		if (r < 0)
			goto fail;
	} else if (ext && ext->endpoints.n) {
		ret->endpoints_from = EP_SRC_CONFIG;
		for (size_t i = 0; i < ext->endpoints.n; i++)
			if ((r = ep_endpoints_parse(ext->endpoints.v[i], &ret->endpoints, err)) < 0) {
				ep_error_prefix(err, "etcd.external.endpoints");
				goto fail;
			}
	}
	if (!ret->endpoints.n) {
		bool manifest_first = !spec || spec->mode == EP_MODE_STATIC_POD;
		r = discover(spec, root, manifest_first, ret, err);
		if (r < 0)
			goto fail;
		if (r == 0) {
			ret->endpoints_from = EP_SRC_DEFAULT;
			if (ep_strv_push(&ret->endpoints, DEFAULT_ENDPOINT) < 0) {
				r = ep_error_set(err, -ENOMEM, "out of memory");
				goto fail;
			}
		}
	}

	if ((r = tls_pick(flags->cacert, env->cacert, ext ? ext->ca_file : NULL, root, cert_dir,
			  "etcd/ca.crt", &ret->tls.cacert, &ret->cacert_from, err)) < 0 ||
	    (r = tls_pick(flags->cert, env->cert, ext ? ext->cert_file : NULL, root, cert_dir,
			  "etcd/healthcheck-client.crt", &ret->tls.cert, &ret->cert_from, err)) < 0 ||
	    (r = tls_pick(flags->key, env->key, ext ? ext->key_file : NULL, root, cert_dir,
			  "etcd/healthcheck-client.key", &ret->tls.key, &ret->key_from, err)) < 0) {
		if (r == -ENOMEM)
			ep_error_set(err, r, "out of memory");
		ep_error_prefix(err, "client TLS files");
		goto fail;
	}
	return 0;

fail:
	ep_client_config_release(ret);
	return r;
}
