/*
 * node.c - the static-pod phases of this node's member: preflight, certs,
 * manifest and data dir, wait until healthy, and the pod report when it
 * does not come up (the static pod runtime's diagnosis, runtime.h).  It owns the order of the phases and the checks that
 * must pass before anything is written; it renders through manifest.c,
 * issues certificates through pki.c, talks to etcd through client.c and
 * writes only through fs.c.  It never prints (lines go to the caller's
 * ep_log_fn) and never shells out.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/node.h"
#include "etcdpilot/pki.h"
#include "etcdpilot/runtime.h"
#include "etcdpilot/spec.h"
#include "util/cleanup.h"

#define MANIFEST_READ_MAX (1u << 20)

static void say(const struct ep_node *node, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void say(const struct ep_node *node, const char *fmt, ...)
{
	if (!node->log)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	node->log(node->userdata, line);
}

void ep_preflight_release(struct ep_preflight *pf)
{
	if (!pf)
		return;
	free(pf->manifest_path);
	free(pf->manifest);
	ep_strv_release(&pf->diff);
	memset(pf, 0, sizeof(*pf));
}

static int manifest_node_path(const struct ep_spec *spec, char **ret)
{
	size_t n = strlen(spec->manifest_dir);
	bool slash = n && spec->manifest_dir[n - 1] == '/';
	return asprintf(ret, "%s%setcd.yaml", spec->manifest_dir, slash ? "" : "/") < 0 ? -ENOMEM
											   : 0;
}

/* Split "https://[::1]:2379" into host and port; false when it is no URL. */
static bool url_host_port(const char *url, char *host, size_t hlen, char *port, size_t plen)
{
	const char *p = strstr(url, "://");
	if (!p)
		return false;
	p += 3;
	size_t n = strcspn(p, "/?#");
	char hp[300];
	if (n >= sizeof(hp))
		return false;
	memcpy(hp, p, n);
	hp[n] = '\0';
	char *h = hp, *pt = NULL;
	if (*h == '[') {
		char *close = strchr(h, ']');
		if (!close)
			return false;
		*close = '\0';
		h++;
		if (close[1] == ':')
			pt = close + 2;
	} else {
		char *colon = strrchr(h, ':');
		if (colon) {
			*colon = '\0';
			pt = colon + 1;
		}
	}
	if (!pt || !*pt)
		pt = !strncmp(url, "https", 5) ? "443" : "80";
	snprintf(host, hlen, "%s", h);
	snprintf(port, plen, "%s", pt);
	return true;
}

/* Try to bind @host:@port as etcd will (SO_REUSEADDR, like Go's listeners). */
static int port_check(const char *flag, const char *url, struct ep_error *err)
{
	char host[300], port[16];
	if (!url_host_port(url, host, sizeof(host), port, sizeof(port)))
		return ep_error_set(err, -EINVAL, "[preflight] --%s: '%s' is not a URL", flag, url);
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (g != 0)
		return ep_error_set(err, -EINVAL, "[preflight] --%s: cannot resolve '%s': %s", flag,
				    host, gai_strerror(g));
	int r = 0;
	for (struct addrinfo *ai = res; ai && r == 0; ai = ai->ai_next) {
		_cleanup_close_ int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = ep_error_set(err, -errno, "[preflight] socket: %s", strerror(errno));
			break;
		}
		int one = 1;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			continue;
		int e = errno;
		if (e == EADDRINUSE)
			r = ep_error_set(err, -e,
					 "[preflight] port %s on '%s' is in use (--%s=%s): another "
					 "etcd or program listens there; stop it, or run 'etcdpilot "
					 "reset' if it is an old member of this node",
					 port, host, flag, url);
		else if (e == EADDRNOTAVAIL)
			r = ep_error_set(err, -e,
					 "[preflight] '%s' (--%s=%s) is not an address of this host; "
					 "check --advertise-address",
					 host, flag, url);
		else
			r = ep_error_set(err, -e, "[preflight] cannot bind '%s' port %s (--%s): %s",
					 host, port, flag, strerror(e));
	}
	freeaddrinfo(res);
	return r;
}

/*
 * The preflight checks that can all be reported at once, as kubeadm does:
 * every failure goes to @fails (one message each); the first errno is
 * returned.
 */
static int fail_add(struct ep_strv *fails, int *first, const struct ep_error *e)
{
	if (!*first)
		*first = e->code ? e->code : -EINVAL;
	const char *m = e->msg;
	if (!strncmp(m, "[preflight] ", 12))
		m += 12;
	/* The same URL may be listed twice (an advertise address of 127.0.0.1). */
	return ep_strv_contains(fails, m) ? 0 : ep_strv_push(fails, m);
}

static int ports_check(const struct ep_node *node, struct ep_strv *fails, int *first,
		       struct ep_error *err)
{
	static const char *const flags[] = { "listen-client-urls", "listen-peer-urls",
					     "listen-metrics-urls", NULL };
	struct ep_kvv args = { 0 };
	int r = ep_manifest_etcd_args(node->spec, node->initial_cluster, &args, err);
	for (size_t i = 0; r == 0 && i < args.n; i++) {
		bool listen = false;
		for (size_t f = 0; flags[f]; f++)
			listen |= !strcmp(args.v[i].name, flags[f]);
		if (!listen)
			continue;
		_cleanup_free_ char *list = strdup(args.v[i].value);
		if (!list) {
			r = ep_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		char *save = NULL;
		for (char *u = strtok_r(list, ",", &save); u && r == 0;
		     u = strtok_r(NULL, ",", &save)) {
			struct ep_error pe;
			ep_error_clear(&pe);
			if (port_check(args.v[i].name, u, &pe) < 0 && fail_add(fails, first, &pe) < 0)
				r = ep_error_set(err, -ENOMEM, "out of memory");
		}
	}
	ep_kvv_release(&args);
	return r;
}

int ep_node_preflight(const struct ep_node *node, struct ep_preflight *ret, struct ep_error *err)
{
	const struct ep_spec *spec = node->spec;
	say(node, "[preflight] Running pre-flight checks");
	if (!ep_manifest_version_supported(spec->etcd_version))
		return ep_error_usage(err, -EINVAL,
				      "[preflight] etcd version '%s' is not supported: etcdpilot "
				      "runs 3.4, 3.5 and 3.6; set --etcd-version",
				      spec->etcd_version ? spec->etcd_version : "");
	if (ep_root_is_real(node->root) && geteuid() != 0)
		return ep_error_set(err, -EPERM,
				    "[preflight] this must run as root: it writes under /etc/kubernetes "
				    "and /var/lib; run it with sudo, or pass --root DIR to work on a "
				    "directory tree");

	int r = ep_manifest_render(spec, node->initial_cluster, &ret->manifest, &ret->manifest_len,
				   err);
	if (r < 0)
		return r;
	_cleanup_free_ char *npath = NULL;
	if (manifest_node_path(spec, &npath) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	r = ep_root_path(node->root, npath, &ret->manifest_path, err);
	if (r < 0)
		return r;

	_cleanup_free_ char *have = NULL;
	size_t have_len = 0;
	struct ep_error rerr;
	ep_error_clear(&rerr);
	r = ep_root_read_file(node->root, npath, MANIFEST_READ_MAX, true, &have, &have_len, &rerr);
	if (r == -ENOENT) {
		ret->state = EP_MANIFEST_ABSENT;
	} else if (r < 0) {
		return ep_error_set(err, r, "[preflight] reading the existing manifest: %s", rerr.msg);
	} else if (have_len == ret->manifest_len && !memcmp(have, ret->manifest, have_len)) {
		ret->state = EP_MANIFEST_SAME;
	} else {
		struct ep_manifest_info hi, wi;
		r = ep_manifest_parse(have, have_len, ret->manifest_path, spec->name,
				      spec->etcd_version, &hi, err);
		if (r < 0)
			return ep_error_prefix(err, "[preflight] existing manifest");
		r = ep_manifest_parse(ret->manifest, ret->manifest_len, "(rendered)", NULL,
				      spec->etcd_version, &wi, err);
		if (r < 0) {
			ep_manifest_info_release(&hi);
			return r;
		}
		r = ep_manifest_diff(&hi, have, &wi, ret->manifest, &ret->diff);
		ep_manifest_info_release(&hi);
		ep_manifest_info_release(&wi);
		if (r < 0)
			return ep_error_set(err, r, "out of memory");
		/* Equivalent but laid out otherwise (kubeadm's own file, say): left as it is. */
		ret->state = r == 0 ? EP_MANIFEST_SAME : EP_MANIFEST_DIFFERS;
		ret->layout_differs = r == 0;
	}

	_cleanup_free_ char *data = NULL;
	r = ep_root_path(node->root, spec->data_dir, &data, err);
	if (r < 0)
		return r;
	struct stat dst;
	bool data_not_dir = ep_root_lstat(node->root, spec->data_dir, &dst) == 0 &&
			    !S_ISDIR(dst.st_mode);
	ret->data_dir_empty = !data_not_dir && ep_root_dir_empty_or_absent(node->root, spec->data_dir);
	if (ret->state == EP_MANIFEST_SAME) {
		say(node, "[preflight] The etcd static Pod manifest \"%s\" is already in place and "
			  "up to date%s",
		    npath, ret->layout_differs ? " (laid out otherwise than etcdpilot writes it; "
						 "left as it is)" : "");
		return 0;
	}
	if (ret->state == EP_MANIFEST_DIFFERS)
		return 0;
	/* A new member: every check that fails is reported, not just the first. */
	struct ep_strv fails = { 0 };
	int first = 0;
	struct ep_error de;
	ep_error_clear(&de);
	if (data_not_dir)
		ep_error_set(&de, -ENOTDIR,
			     "the data directory '%s' (%s) exists and is not a directory; move it "
			     "away",
			     spec->data_dir, data);
	else if (!ret->data_dir_empty)
		ep_error_set(&de, -ENOTEMPTY,
			     "the data directory '%s' is not empty (%s): it holds etcd data, and a "
			     "new member must start from an empty one; move it away, or run "
			     "'etcdpilot reset' if it is an old member of this node",
			     spec->data_dir, data);
	if (ep_error_isset(&de) && fail_add(&fails, &first, &de) < 0)
		r = ep_error_set(err, -ENOMEM, "out of memory");
	if (r == 0)
		r = ports_check(node, &fails, &first, err);
	if (r == 0 && fails.n == 1) {
		r = ep_error_set(err, first, "[preflight] %s", fails.v[0]);
	} else if (r == 0 && fails.n > 1) {
		char buf[EP_ERROR_MAX];
		size_t o = 0;
		buf[0] = '\0';
		for (size_t i = 0; i < fails.n && o + 1 < sizeof(buf); i++) {
			int w = snprintf(buf + o, sizeof(buf) - o, "%s(%zu) %s", i ? "; " : "", i + 1,
					 fails.v[i]);
			if (w > 0)
				o += (size_t)w;
		}
		r = ep_error_set(err, first, "[preflight] %zu checks failed: %s", fails.n, buf);
	}
	ep_strv_release(&fails);
	return r;
}

struct certs_log {
	const struct ep_node *node;
	bool changed;
};

static void certs_log_fn(void *userdata, const char *line)
{
	struct certs_log *cl = userdata;
	if (!strncmp(line, "[certs] Generating", 18) || !strncmp(line, "[dryrun] Would write", 20))
		cl->changed = true;
	if (cl->node->log)
		cl->node->log(cl->node->userdata, line);
}

int ep_node_certs(const struct ep_node *node, bool *ret_changed, struct ep_error *err)
{
	struct certs_log cl = { .node = node };
	int r = ep_pki_ensure(node->spec, node->root, node->dry_run, certs_log_fn, &cl, err);
	if (ret_changed)
		*ret_changed = cl.changed;
	return r;
}

static int data_dir_phase(const struct ep_node *node, bool *changed, struct ep_error *err)
{
	_cleanup_free_ char *data = NULL;
	int r = ep_root_path(node->root, node->spec->data_dir, &data, err);
	if (r < 0)
		return r;
	struct stat st;
	if (ep_root_lstat(node->root, node->spec->data_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode))
			return ep_error_set(err, -ENOTDIR,
					    "the data directory '%s' (%s) exists but is not a "
					    "directory; move it away",
					    node->spec->data_dir, data);
		return 0;
	}
	*changed = true;
	if (node->dry_run) {
		say(node, "[dryrun] Would create directory \"%s\" with mode 0700", data);
		return 0;
	}
	return ep_root_mkdir_p(node->root, node->spec->data_dir, 0700, err);
}

/*
 * The kubelet loads every file of the manifest directory whose name does
 * not start with a dot - a stray "etcd.yaml.backup" runs as a second etcd
 * pod (kubernetes#129358) - and ep_write_atomic()'s temporary file sits
 * beside its target under the target's name plus a suffix.  So the
 * manifest is first written atomically under a hidden name in the same
 * directory, then renamed over etcd.yaml (and the directory fsynced): the
 * kubelet only ever sees the old file or the whole new one.
 */
static int write_hidden_then_rename(int dfd, const char *dir, const char *path, const char *data,
				    size_t len, struct ep_error *err)
{
	static const char hidden[] = ".etcd.yaml.etcdpilot-new";
	int r = ep_write_atomic_at(dfd, dir, hidden, data, len, 0600, err);
	if (r < 0)
		return ep_error_prefix(err, "writing the etcd manifest");
	if (renameat(dfd, hidden, dfd, "etcd.yaml") < 0) {
		r = -errno;
		unlinkat(dfd, hidden, 0);
		return ep_error_set(err, r, "writing the etcd manifest: renaming '%s/%s' to '%s': %s",
				    dir, hidden, path, strerror(-r));
	}
	if (fsync(dfd) < 0)
		return ep_error_set(err, -errno, "writing the etcd manifest: fsync of '%s': %s", dir,
				    strerror(errno));
	return 0;
}

int ep_node_write_manifest(const struct ep_node *node, const struct ep_preflight *pf,
			   bool *ret_changed, struct ep_error *err)
{
	const struct ep_spec *spec = node->spec;
	bool changed = false;
	if (ret_changed)
		*ret_changed = false;
	if (pf->state == EP_MANIFEST_DIFFERS)
		return ep_error_set(err, -EEXIST,
				    "'%s' exists and differs from what etcdpilot would write; "
				    "refusing to overwrite it",
				    pf->manifest_path);
	/* The data dir first, 0700: a kubelet would create it 0755 from the volume. */
	int r = data_dir_phase(node, &changed, err);
	if (r < 0)
		return r;
	if (pf->state == EP_MANIFEST_SAME) {
		say(node, "[etcd] The static Pod manifest for local etcd in \"%s\" is up to date",
		    spec->manifest_dir);
		/* kubeadm writes it 0600; a copy put there by hand may be world-readable. */
		_cleanup_free_ char *mpath = NULL;
		if (manifest_node_path(spec, &mpath) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
		struct stat st;
		struct ep_error cerr;
		ep_error_clear(&cerr);
		if (ep_root_lstat(node->root, mpath, &st) == 0 && S_ISREG(st.st_mode) &&
		    (st.st_mode & 07777) != 0600) {
			changed = true;
			if (node->dry_run) {
				say(node, "[dryrun] Would change the mode of \"%s\" from %04o to 0600",
				    pf->manifest_path, (unsigned)(st.st_mode & 07777));
			} else if ((r = ep_root_chmod(node->root, mpath, 0600, &cerr)) < 0) {
				return ep_error_set(err, r, "setting the mode of '%s' to 0600: %s",
						    pf->manifest_path, cerr.msg);
			} else {
				say(node, "[etcd] Set the mode of \"%s\" to 0600 (it was %04o)",
				    pf->manifest_path, (unsigned)(st.st_mode & 07777));
			}
		}
		if (ret_changed)
			*ret_changed = changed;
		return 0;
	}
	say(node, "[etcd] Creating static Pod manifest for local etcd in \"%s\"", spec->manifest_dir);
	_cleanup_free_ char *npath = NULL;
	if (manifest_node_path(spec, &npath) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (ret_changed)
		*ret_changed = true;
	if (node->dry_run) {
		say(node, "[dryrun] Would write file \"%s\" with mode 0600 and content:",
		    pf->manifest_path);
		const char *p = pf->manifest;
		while (*p) {
			size_t n = strcspn(p, "\n");
			say(node, "\t%.*s", (int)n, p);
			p += n;
			if (*p == '\n')
				p++;
		}
		return 0;
	}
	_cleanup_free_ char *dir = NULL;
	r = ep_root_path(node->root, spec->manifest_dir, &dir, err);
	if (r < 0)
		return r;
	_cleanup_close_ int dfd = -1;
	r = ep_root_open_dir(node->root, spec->manifest_dir, true, 0700, &dfd, NULL, err);
	if (r < 0)
		return ep_error_prefix(err, "writing the etcd manifest");
	return write_hidden_then_rename(dfd, dir, pf->manifest_path, pf->manifest,
					pf->manifest_len, err);
}

char *ep_node_local_endpoint(const struct ep_spec *spec)
{
	return ep_manifest_local_client_url(spec); /* follows a listen-client-urls extraArg */
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ep_node_wait(const struct ep_node *node, uint64_t timeout_ms, struct ep_error *err)
{
	_cleanup_free_ char *endpoint = ep_node_local_endpoint(node->spec);
	if (!endpoint)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (node->dry_run) {
		say(node, "[dryrun] Would wait for the local etcd member at %s to become healthy",
		    endpoint);
		return 0;
	}
	say(node, "[etcd] Waiting for the local etcd member to become healthy at %s. This can "
		  "take up to %llus",
	    endpoint, (unsigned long long)(timeout_ms + 999) / 1000);
	struct ep_tls tls = { 0 };
	int r = ep_pki_paths(node->spec, node->root, EP_CERT_CA, &tls.cacert, NULL, err);
	if (r == 0)
		r = ep_pki_paths(node->spec, node->root, EP_CERT_HEALTHCHECK_CLIENT, &tls.cert,
				 &tls.key, err);
	if (r < 0) {
		ep_tls_release(&tls);
		return r;
	}
	uint64_t t0 = mono_ms();
	struct ep_error werr;
	ep_error_clear(&werr);
	r = ep_wait_healthy(&tls, endpoint, timeout_ms, &werr);
	ep_tls_release(&tls);
	if (r == 0) {
		uint64_t took = mono_ms() - t0;
		say(node, "[etcd] The local etcd member is healthy after %llu.%03llus",
		    (unsigned long long)took / 1000, (unsigned long long)took % 1000);
		return 0;
	}
	_cleanup_free_ char *summary = NULL;
	ep_node_pod_report(node, 5, &summary, NULL);
	return ep_error_set(err, r,
			    "the local etcd member did not become healthy within %llus: %s; %s",
			    (unsigned long long)(timeout_ms + 999) / 1000, werr.msg,
			    summary ? summary : "no pod status available");
}

/* ------------------------------------------------------------------ */
/* pod report                                                           */

int ep_node_pod_report(const struct ep_node *node, unsigned tail_lines, char **ret_summary,
		       char **ret_text)
{
	struct ep_runtime_ctx ctx = { .root = node->root, .spec = node->spec };
	struct ep_diagnosis d;
	int r = ep_runtime_get(EP_MODE_STATIC_POD)->diagnose(&ctx, tail_lines, &d);
	if (r == -ENOMEM)
		return r;
	_cleanup_free_ char *excerpt = ep_diagnosis_excerpt(&d, 3);
	char *summary = NULL, *text = ep_diagnosis_text(&d);
	int w = asprintf(&summary, "%s%s%s", d.summary ? d.summary : "", excerpt ? "; " : "",
			 excerpt ? excerpt : "");
	ep_diagnosis_release(&d);
	if (w < 0 || !text) {
		free(text);
		if (w >= 0)
			free(summary);
		return -ENOMEM;
	}
	if (ret_summary)
		*ret_summary = summary;
	else
		free(summary);
	if (ret_text)
		*ret_text = text;
	else
		free(text);
	return r;
}
