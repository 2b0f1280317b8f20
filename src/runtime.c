/*
 * runtime.c - the runtime interface (runtime.h): choosing a runtime, the
 * member description both runtimes read back into, and what they share:
 * etcd's flags (which exist in which etcd line, which are booleans), how
 * etcd resolves its command line and its ETCD_* variables into settings
 * (and what it refuses), the functions that read the node and run
 * programs, and the diagnosis as text.  The runtimes themselves are in
 * runtime_static_pod.c and runtime_systemd.c.  It never prints and never
 * writes a file.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/runtime.h"
#include "etcdpilot/unit.h"
#include "runtime_internal.h"
#include "util/child.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define RUN_OUTPUT_MAX	   (256u * 1024)
#define DEFAULT_TIMEOUT_MS 10000
#define EXCERPT_LINE_MAX   300

const struct ep_runtime_ops *ep_runtime_get(enum ep_mode mode)
{
	switch (mode) {
	case EP_MODE_STATIC_POD:
		return &ep_runtime_static_pod;
	case EP_MODE_SYSTEMD:
		return &ep_runtime_systemd;
	}
	return NULL;
}

void ep_runtime_files_release(struct ep_runtime_files *files)
{
	if (!files)
		return;
	for (size_t i = 0; i < files->n; i++) {
		free(files->v[i].path);
		free(files->v[i].content);
	}
	free(files->v);
	memset(files, 0, sizeof(*files));
}

void ep_member_desc_release(struct ep_member_desc *m)
{
	if (!m)
		return;
	free(m->source);
	ep_strv_release(&m->files);
	free(m->program);
	free(m->image);
	free(m->version);
	free(m->version_from);
	for (size_t i = 0; i < m->nflags; i++) {
		free(m->flags[i].name);
		free(m->flags[i].value);
		free(m->flags[i].origin);
	}
	free(m->flags);
	for (size_t i = 0; i < m->nenv; i++) {
		free(m->env[i].name);
		free(m->env[i].value);
		free(m->env[i].origin);
	}
	free(m->env);
	ep_strv_release(&m->notes);
	ep_strv_release(&m->conflicts);
	ep_spec_release(&m->spec);
	free(m->cert_file);
	free(m->key_file);
	free(m->trusted_ca_file);
	free(m->peer_cert_file);
	free(m->peer_key_file);
	free(m->peer_trusted_ca_file);
	free(m->listen_client_urls);
	free(m->advertise_client_urls);
	free(m->listen_peer_urls);
	free(m->initial_advertise_peer_urls);
	free(m->listen_metrics_urls);
	ep_kvv_release(&m->initial_cluster);
	free(m->initial_cluster_state);
	free(m->initial_cluster_token);
	memset(m, 0, sizeof(*m));
}

const char *ep_member_flag_get(const struct ep_member_desc *m, const char *name)
{
	for (size_t i = 0; i < m->nflags; i++)
		if (!strcmp(m->flags[i].name, name))
			return m->flags[i].value;
	return NULL;
}

void ep_runtime_status_release(struct ep_runtime_status *st)
{
	if (!st)
		return;
	free(st->detail);
	memset(st, 0, sizeof(*st));
}

int rt_note(struct ep_strv *v, const char *fmt, ...)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	ep_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	_cleanup_free_ char *s = ep_strbuf_detach(&sb, NULL);
	return s ? ep_strv_push(v, s) : -ENOMEM;
}

/* ---- the node ------------------------------------------------------------ */

bool rt_real_root(const char *root)
{
	if (!root || !*root)
		return true;
	for (const char *p = root; *p; p++)
		if (*p != '/')
			return false;
	return true;
}

/*
 * As before these reads were root-relative: a node path that leaves the root
 * through ".." or a symlink is refused early, with ep_root_path()'s message
 * (-EXDEV); the string it computes is never used.  With @nofollow only the
 * directory part is looked at, as the last component is not followed.
 */
static int rt_check(const char *root, const char *path, bool nofollow, struct ep_error *err)
{
	_cleanup_free_ char *real = NULL, *dir = NULL;
	const char *slash = strrchr(path, '/');
	if (nofollow && slash && slash[1]) {
		dir = strndup(path, slash == path ? 1 : (size_t)(slash - path));
		if (!dir)
			return ep_error_set(err, -ENOMEM, "out of memory");
	}
	return ep_root_path(root, dir ? dir : path, &real, err);
}

int rt_read(const char *root, const char *path, size_t max, char **ret, size_t *ret_len,
	    struct ep_error *err)
{
	int r = rt_check(root, path, false, err);
	if (r < 0)
		return r;
	/* Resolved in the root now; O_NONBLOCK, and only a regular file is read. */
	return ep_root_read_file(root, path, max, false, ret, ret_len, err);
}

int rt_read_tail(const char *root, const char *path, size_t max, char **ret, size_t *ret_len,
		 bool *ret_mid, struct ep_error *err)
{
	int r = rt_check(root, path, false, err);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = -1;
	/* O_NONBLOCK: a FIFO planted as a log must not block us; it is refused below. */
	r = ep_root_open(root, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0, &fd, NULL);
	if (r < 0)
		return ep_error_set(err, r, "opening %s: %s", path, strerror(-r));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ep_error_set(err, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ep_error_set(err, -EINVAL, "%s is not a regular file", path);
	off_t from = (size_t)st.st_size > max ? st.st_size - (off_t)max : 0;
	size_t len = (size_t)(st.st_size - from);
	char *buf = malloc(len + 1);
	if (!buf)
		return ep_error_set(err, -ENOMEM, "out of memory");
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, from + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			return ep_error_set(err, -e, "reading %s: %s", path, strerror(e));
		}
		if (n == 0)
			break; /* it shrank meanwhile */
		got += (size_t)n;
	}
	buf[got] = '\0';
	*ret = buf;
	*ret_len = got;
	*ret_mid = from > 0;
	return 0;
}

int rt_lstat(const char *root, const char *path, struct stat *ret)
{
	int r = rt_check(root, path, true, NULL);
	return r < 0 ? r : ep_root_lstat(root, path, ret);
}

int rt_readlink(const char *root, const char *path, char *buf, size_t len)
{
	int r = rt_check(root, path, true, NULL);
	if (r < 0)
		return r;
	/* The link itself (O_PATH|O_NOFOLLOW), read through its descriptor. */
	_cleanup_close_ int fd = -1;
	r = ep_root_open(root, path, O_PATH | O_NOFOLLOW, 0, &fd, NULL);
	if (r < 0)
		return r;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISLNK(st.st_mode))
		return -EINVAL; /* as readlink(2) says of anything else */
	ssize_t n = readlinkat(fd, "", buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

static int strv_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int rt_list(const char *root, const char *dir, struct ep_strv *ret)
{
	int r = rt_check(root, dir, false, NULL);
	if (r < 0)
		return r;
	int fd = -1;
	r = ep_root_open_dir(root, dir, false, 0, &fd, NULL, NULL);
	if (r < 0)
		return r;
	DIR *d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	struct dirent *de;
	while (r == 0 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			r = ep_strv_push(ret, de->d_name);
	closedir(d);
	if (r == 0 && ret->n > 1)
		qsort(ret->v, ret->n, sizeof(*ret->v), strv_cmp);
	return r;
}

/* ---- programs ----------------------------------------------------------- */

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

int rt_program(const struct ep_runtime_ctx *ctx, enum rt_program which, char *buf, size_t len,
	       const char **ret, const char **why)
{
	static const char *const names[] = {"systemctl", "journalctl", "crictl"};
	const char *given = which == RT_SYSTEMCTL    ? ctx->systemctl
			    : which == RT_JOURNALCTL ? ctx->journalctl
						     : ctx->crictl;
	const char *prog = given && *given ? given : NULL;
	if (!prog && which == RT_JOURNALCTL) {
		/* beside the systemctl: "systemctl" in its name becomes "journalctl" */
		const char *sc = ctx->systemctl && *ctx->systemctl ? ctx->systemctl : "systemctl";
		const char *base = basename_of(sc);
		const char *at = strstr(base, "systemctl");
		if (at) {
			int n = snprintf(buf, len, "%.*sjournalctl%s", (int)(at - sc), sc, at + 9);
			if (n > 0 && (size_t)n < len)
				prog = buf;
		}
	}
	if (!prog)
		prog = names[which];
	*ret = prog;
	*why = NULL;
	if (rt_real_root(ctx->root))
		return 0;
	if (!strcmp(basename_of(prog), names[which])) {
		*why = "this host's own program would look at this host, not at the node the root "
		       "stands for";
		return -EPERM;
	}
	if (!ctx->programs_named) {
		*why = "no program that serves this root was named";
		return -EPERM;
	}
	return 0;
}

int rt_run(const struct ep_runtime_ctx *ctx, const char *const *argv, char **ret_output,
	   int *ret_status, struct ep_error *err)
{
	_cleanup_free_ char *rootvar = NULL;
	bool other = !rt_real_root(ctx->root);
	if (other && asprintf(&rootvar, "ETCDPILOT_ROOT=%s", ctx->root) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	const char *set[] = {rootvar, NULL};
	const char *unset[] = {"ETCDPILOT_ROOT", NULL};
	struct ep_child child = {
	    .argv = argv,
	    .env_set = other ? set : NULL,
	    .env_unset = unset,
	    .timeout_ms = ctx->timeout_ms ? ctx->timeout_ms : DEFAULT_TIMEOUT_MS,
	    .output_max = RUN_OUTPUT_MAX,
	};
	struct ep_child_result res = {0};
	int r = ep_child_run(&child, &res, err);
	if (r < 0)
		return r;
	*ret_status = res.status;
	*ret_output = TAKE_PTR(res.output);
	ep_child_result_release(&res);
	return 0;
}

/* ---- etcd's flags ---------------------------------------------------------- */

enum { V34 = 1, V35 = 2, V36 = 4 };

/*
 * Every flag of etcd 3.4.23, 3.5.21 and 3.6.6 (from their etcdmain and
 * embed sources: fs.*Var calls, the feature gates of 3.6 and the list of
 * old flags etcd accepts and ignores), sorted by name.  A flag absent from
 * a line is refused by that etcd on the command line, and an ETCD_*
 * variable for it is only warned about.
 */
static const struct etcd_flag {
	const char *name;
	enum rt_flag_kind kind;
	unsigned lines;
} etcd_flags[] = {
    {"advertise-client-urls", RT_FLAG_VALUE, V34 | V35 | V36},
    {"auth-token", RT_FLAG_VALUE, V34 | V35 | V36},
    {"auth-token-ttl", RT_FLAG_VALUE, V34 | V35 | V36},
    {"auto-compaction-mode", RT_FLAG_VALUE, V34 | V35 | V36},
    {"auto-compaction-retention", RT_FLAG_VALUE, V34 | V35 | V36},
    {"auto-tls", RT_FLAG_BOOL, V34 | V35 | V36},
    {"backend-batch-interval", RT_FLAG_VALUE, V34 | V35 | V36},
    {"backend-batch-limit", RT_FLAG_VALUE, V34 | V35 | V36},
    {"backend-bbolt-freelist-type", RT_FLAG_VALUE, V35 | V36},
    {"bcrypt-cost", RT_FLAG_VALUE, V34 | V35 | V36},
    {"bootstrap-defrag-threshold-megabytes", RT_FLAG_VALUE, V36},
    {"cert-file", RT_FLAG_VALUE, V34 | V35 | V36},
    {"cipher-suites", RT_FLAG_VALUE, V34 | V35 | V36},
    {"client-cert-allowed-hostname", RT_FLAG_VALUE, V34 | V35 | V36},
    {"client-cert-auth", RT_FLAG_BOOL, V34 | V35 | V36},
    {"client-cert-file", RT_FLAG_VALUE, V35 | V36},
    {"client-crl-file", RT_FLAG_VALUE, V34 | V35 | V36},
    {"client-key-file", RT_FLAG_VALUE, V35 | V36},
    {"cluster-active-size", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"cluster-remove-delay", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"cluster-sync-interval", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"compact-hash-check-time", RT_FLAG_VALUE, V36},
    {"compaction-batch-limit", RT_FLAG_VALUE, V36},
    {"compaction-sleep-interval", RT_FLAG_VALUE, V36},
    {"config", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"config-file", RT_FLAG_VALUE, V34 | V35 | V36},
    {"corrupt-check-time", RT_FLAG_VALUE, V36},
    {"cors", RT_FLAG_VALUE, V34 | V35 | V36},
    {"data-dir", RT_FLAG_VALUE, V34 | V35 | V36},
    {"debug", RT_FLAG_BOOL, V34},
    {"discovery", RT_FLAG_VALUE, V34 | V35 | V36},
    {"discovery-cacert", RT_FLAG_VALUE, V36},
    {"discovery-cert", RT_FLAG_VALUE, V36},
    {"discovery-dial-timeout", RT_FLAG_VALUE, V36},
    {"discovery-endpoints", RT_FLAG_VALUE, V36},
    {"discovery-fallback", RT_FLAG_VALUE, V34 | V35 | V36},
    {"discovery-insecure-skip-tls-verify", RT_FLAG_BOOL, V36},
    {"discovery-insecure-transport", RT_FLAG_BOOL, V36},
    {"discovery-keepalive-time", RT_FLAG_VALUE, V36},
    {"discovery-keepalive-timeout", RT_FLAG_VALUE, V36},
    {"discovery-key", RT_FLAG_VALUE, V36},
    {"discovery-password", RT_FLAG_VALUE, V36},
    {"discovery-proxy", RT_FLAG_VALUE, V34 | V35 | V36},
    {"discovery-request-timeout", RT_FLAG_VALUE, V36},
    {"discovery-srv", RT_FLAG_VALUE, V34 | V35 | V36},
    {"discovery-srv-name", RT_FLAG_VALUE, V34 | V35 | V36},
    {"discovery-token", RT_FLAG_VALUE, V36},
    {"discovery-user", RT_FLAG_VALUE, V36},
    {"distributed-tracing-address", RT_FLAG_VALUE, V36},
    {"distributed-tracing-instance-id", RT_FLAG_VALUE, V36},
    {"distributed-tracing-sampling-rate", RT_FLAG_VALUE, V36},
    {"distributed-tracing-service-name", RT_FLAG_VALUE, V36},
    {"downgrade-check-time", RT_FLAG_VALUE, V36},
    {"election-timeout", RT_FLAG_VALUE, V34 | V35 | V36},
    {"enable-distributed-tracing", RT_FLAG_BOOL, V36},
    {"enable-grpc-gateway", RT_FLAG_BOOL, V34 | V35 | V36},
    {"enable-log-rotation", RT_FLAG_BOOL, V35 | V36},
    {"enable-pprof", RT_FLAG_BOOL, V34 | V35 | V36},
    {"enable-v2", RT_FLAG_BOOL, V34 | V35},
    {"experimental-backend-bbolt-freelist-type", RT_FLAG_VALUE, V34},
    {"experimental-bootstrap-defrag-threshold-megabytes", RT_FLAG_VALUE, V35 | V36},
    {"experimental-compact-hash-check-enabled", RT_FLAG_BOOL, V35 | V36},
    {"experimental-compact-hash-check-time", RT_FLAG_VALUE, V35 | V36},
    {"experimental-compaction-batch-limit", RT_FLAG_VALUE, V34 | V35 | V36},
    {"experimental-compaction-sleep-interval", RT_FLAG_VALUE, V35 | V36},
    {"experimental-corrupt-check-time", RT_FLAG_VALUE, V34 | V35 | V36},
    {"experimental-distributed-tracing-address", RT_FLAG_VALUE, V35 | V36},
    {"experimental-distributed-tracing-instance-id", RT_FLAG_VALUE, V35 | V36},
    {"experimental-distributed-tracing-sampling-rate", RT_FLAG_VALUE, V35 | V36},
    {"experimental-distributed-tracing-service-name", RT_FLAG_VALUE, V35 | V36},
    {"experimental-downgrade-check-time", RT_FLAG_VALUE, V35 | V36},
    {"experimental-enable-distributed-tracing", RT_FLAG_BOOL, V35 | V36},
    {"experimental-enable-lease-checkpoint", RT_FLAG_BOOL, V34 | V35 | V36},
    {"experimental-enable-lease-checkpoint-persist", RT_FLAG_BOOL, V34 | V35 | V36},
    {"experimental-enable-v2v3", RT_FLAG_VALUE, V34 | V35},
    {"experimental-initial-corrupt-check", RT_FLAG_BOOL, V34 | V35 | V36},
    {"experimental-memory-mlock", RT_FLAG_BOOL, V35 | V36},
    {"experimental-peer-skip-client-san-verification", RT_FLAG_BOOL, V34 | V35 | V36},
    {"experimental-snapshot-catchup-entries", RT_FLAG_VALUE, V35 | V36},
    {"experimental-stop-grpc-service-on-defrag", RT_FLAG_BOOL, V35 | V36},
    {"experimental-txn-mode-write-with-shared-buffer", RT_FLAG_BOOL, V35 | V36},
    {"experimental-warning-apply-duration", RT_FLAG_VALUE, V34 | V35 | V36},
    {"experimental-warning-unary-request-duration", RT_FLAG_VALUE, V36},
    {"experimental-watch-progress-notify-interval", RT_FLAG_VALUE, V34 | V35 | V36},
    {"feature-gates", RT_FLAG_VALUE, V36},
    {"force", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"force-new-cluster", RT_FLAG_BOOL, V34 | V35 | V36},
    {"grpc-keepalive-interval", RT_FLAG_VALUE, V34 | V35 | V36},
    {"grpc-keepalive-min-time", RT_FLAG_VALUE, V34 | V35 | V36},
    {"grpc-keepalive-timeout", RT_FLAG_VALUE, V34 | V35 | V36},
    {"heartbeat-interval", RT_FLAG_VALUE, V34 | V35 | V36},
    {"host-whitelist", RT_FLAG_VALUE, V34 | V35 | V36},
    {"initial-advertise-peer-urls", RT_FLAG_VALUE, V34 | V35 | V36},
    {"initial-cluster", RT_FLAG_VALUE, V34 | V35 | V36},
    {"initial-cluster-state", RT_FLAG_VALUE, V34 | V35 | V36},
    {"initial-cluster-token", RT_FLAG_VALUE, V34 | V35 | V36},
    {"initial-election-tick-advance", RT_FLAG_BOOL, V34 | V35 | V36},
    {"key-file", RT_FLAG_VALUE, V34 | V35 | V36},
    {"listen-client-http-urls", RT_FLAG_VALUE, V35 | V36},
    {"listen-client-urls", RT_FLAG_VALUE, V34 | V35 | V36},
    {"listen-metrics-urls", RT_FLAG_VALUE, V34 | V35 | V36},
    {"listen-peer-urls", RT_FLAG_VALUE, V34 | V35 | V36},
    {"log-format", RT_FLAG_VALUE, V36},
    {"log-level", RT_FLAG_VALUE, V34 | V35 | V36},
    {"log-output", RT_FLAG_VALUE, V34},
    {"log-outputs", RT_FLAG_VALUE, V34 | V35 | V36},
    {"log-package-levels", RT_FLAG_VALUE, V34},
    {"log-rotation-config-json", RT_FLAG_VALUE, V35 | V36},
    {"logger", RT_FLAG_VALUE, V34 | V35 | V36},
    {"max-concurrent-streams", RT_FLAG_VALUE, V34 | V35 | V36},
    {"max-learners", RT_FLAG_VALUE, V36},
    {"max-request-bytes", RT_FLAG_VALUE, V34 | V35 | V36},
    {"max-result-buffer", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"max-retry-attempts", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"max-snapshots", RT_FLAG_VALUE, V34 | V35 | V36},
    {"max-txn-ops", RT_FLAG_VALUE, V34 | V35 | V36},
    {"max-wals", RT_FLAG_VALUE, V34 | V35 | V36},
    {"memory-mlock", RT_FLAG_BOOL, V36},
    {"metrics", RT_FLAG_VALUE, V34 | V35 | V36},
    {"name", RT_FLAG_VALUE, V34 | V35 | V36},
    {"peer-auto-tls", RT_FLAG_BOOL, V34 | V35 | V36},
    {"peer-cert-allowed-cn", RT_FLAG_VALUE, V34 | V35 | V36},
    {"peer-cert-allowed-hostname", RT_FLAG_VALUE, V34 | V35 | V36},
    {"peer-cert-file", RT_FLAG_VALUE, V34 | V35 | V36},
    {"peer-client-cert-auth", RT_FLAG_BOOL, V34 | V35 | V36},
    {"peer-client-cert-file", RT_FLAG_VALUE, V35 | V36},
    {"peer-client-key-file", RT_FLAG_VALUE, V35 | V36},
    {"peer-crl-file", RT_FLAG_VALUE, V34 | V35 | V36},
    {"peer-election-timeout", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"peer-heartbeat-interval", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"peer-key-file", RT_FLAG_VALUE, V34 | V35 | V36},
    {"peer-skip-client-san-verification", RT_FLAG_BOOL, V36},
    {"peer-trusted-ca-file", RT_FLAG_VALUE, V34 | V35 | V36},
    {"pre-vote", RT_FLAG_BOOL, V34 | V35 | V36},
    {"proxy", RT_FLAG_PROXY, V34 | V35},
    {"proxy-dial-timeout", RT_FLAG_PROXY, V34 | V35},
    {"proxy-failure-wait", RT_FLAG_PROXY, V34 | V35},
    {"proxy-read-timeout", RT_FLAG_PROXY, V34 | V35},
    {"proxy-refresh-interval", RT_FLAG_PROXY, V34 | V35},
    {"proxy-write-timeout", RT_FLAG_PROXY, V34 | V35},
    {"quota-backend-bytes", RT_FLAG_VALUE, V34 | V35 | V36},
    {"raft-read-timeout", RT_FLAG_VALUE, V35 | V36},
    {"raft-write-timeout", RT_FLAG_VALUE, V35 | V36},
    {"retry-interval", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"self-signed-cert-validity", RT_FLAG_VALUE, V35 | V36},
    {"snapshot", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"snapshot-catchup-entries", RT_FLAG_VALUE, V36},
    {"snapshot-count", RT_FLAG_VALUE, V34 | V35 | V36},
    {"socket-reuse-address", RT_FLAG_BOOL, V35 | V36},
    {"socket-reuse-port", RT_FLAG_BOOL, V35 | V36},
    {"strict-reconfig-check", RT_FLAG_BOOL, V34 | V35 | V36},
    {"tls-max-version", RT_FLAG_VALUE, V35 | V36},
    {"tls-min-version", RT_FLAG_VALUE, V35 | V36},
    {"trusted-ca-file", RT_FLAG_VALUE, V34 | V35 | V36},
    {"unsafe-no-fsync", RT_FLAG_BOOL, V34 | V35 | V36},
    {"v", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"v2-deprecation", RT_FLAG_VALUE, V35 | V36},
    {"version", RT_FLAG_BOOL, V34 | V35 | V36},
    {"vv", RT_FLAG_IGNORED, V34 | V35 | V36},
    {"wal-dir", RT_FLAG_VALUE, V34 | V35 | V36},
    {"warning-apply-duration", RT_FLAG_VALUE, V36},
    {"warning-unary-request-duration", RT_FLAG_VALUE, V36},
    {"watch-progress-notify-interval", RT_FLAG_VALUE, V36},
};

static unsigned minor_bit(unsigned minor)
{
	return minor == 34 ? V34 : minor == 35 ? V35 : minor == 36 ? V36 : V34 | V35 | V36;
}

static int flag_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct etcd_flag *)elem)->name);
}

bool rt_etcd_flag(const char *name, unsigned minor, enum rt_flag_kind *ret_kind)
{
	const struct etcd_flag *f =
	    bsearch(name, etcd_flags, sizeof(etcd_flags) / sizeof(etcd_flags[0]),
		    sizeof(etcd_flags[0]), flag_cmp);
	if (!f || !(f->lines & minor_bit(minor)))
		return false;
	if (ret_kind)
		*ret_kind = f->kind;
	return true;
}

int rt_givens_push(struct rt_givens *g, const char *name, const char *value, bool has_value,
		   const char *origin)
{
	struct rt_given *nv = realloc(g->v, (g->n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	g->v = nv;
	struct rt_given *x = &g->v[g->n];
	x->name = strdup(name);
	x->value = strdup(value ? value : "");
	x->origin = strdup(origin ? origin : "");
	x->has_value = has_value;
	if (!x->name || !x->value || !x->origin) {
		free(x->name);
		free(x->value);
		free(x->origin);
		return -ENOMEM;
	}
	g->n++;
	return 0;
}

void rt_givens_release(struct rt_givens *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].name);
		free(g->v[i].value);
		free(g->v[i].origin);
	}
	free(g->v);
	memset(g, 0, sizeof(*g));
}

static const char *etcd_line(unsigned minor, char *buf, size_t len)
{
	if (minor)
		snprintf(buf, len, "etcd %u.%u", minor / 10, minor % 10);
	else
		snprintf(buf, len, "etcd");
	return buf;
}

int rt_flags_from_args(struct ep_member_desc *d, const struct ep_strv *args, size_t first,
		       const char *origin, unsigned minor, struct rt_givens *ret)
{
	char ver[32];
	etcd_line(minor, ver, sizeof(ver));
	size_t i = first;
	if (i < args->n && (!strcmp(args->v[i], "gateway") || !strcmp(args->v[i], "grpc-proxy"))) {
		_cleanup_free_ char *w = ep_escape(args->v[i]);
		return rt_note(&d->conflicts, "%s: 'etcd %s' runs a proxy, not a member", origin,
			       w ? w : "");
	}
	while (i < args->n) {
		const char *s = args->v[i];
		if (strlen(s) < 2 || s[0] != '-')
			break; /* the first word that is no flag ends them */
		size_t minuses = s[1] == '-' ? 2 : 1;
		if (minuses == 2 && !s[2]) {
			i++; /* "--" ends the flags */
			break;
		}
		const char *name = s + minuses;
		_cleanup_free_ char *shown = ep_escape(s);
		if (!shown)
			return -ENOMEM;
		if (!*name || *name == '-' || *name == '=')
			return rt_note(&d->conflicts, "%s: %s refuses '%s': bad flag syntax",
				       origin, ver, shown);
		i++;
		const char *eq = strchr(name + 1, '=');
		_cleanup_free_ char *n = eq ? strndup(name, (size_t)(eq - name)) : strdup(name);
		if (!n)
			return -ENOMEM;
		enum rt_flag_kind kind;
		if (!rt_etcd_flag(n, minor, &kind)) {
			_cleanup_free_ char *nn = ep_escape(n);
			if (!strcmp(n, "h") || !strcmp(n, "help"))
				return rt_note(&d->conflicts,
					       "%s: '%s' makes etcd print its help and exit",
					       origin, shown);
			return rt_note(&d->conflicts,
				       "%s: %s refuses '%s': flag provided but not "
				       "defined: -%s",
				       origin, ver, shown, nn ? nn : "");
		}
		const char *value = eq ? eq + 1 : NULL;
		bool has_value = eq != NULL;
		if (kind != RT_FLAG_BOOL && kind != RT_FLAG_IGNORED && !has_value) {
			if (i >= args->n)
				return rt_note(&d->conflicts,
					       "%s: %s refuses '%s': flag needs an "
					       "argument: -%s",
					       origin, ver, shown, n);
			value = args->v[i++];
			has_value = true;
		}
		if (rt_givens_push(ret, n, value, has_value, origin) < 0)
			return -ENOMEM;
	}
	if (i < args->n) {
		_cleanup_free_ char *w = ep_escape(args->v[i]);
		return rt_note(&d->conflicts, "%s: %s refuses '%s': it is not a valid flag", origin,
			       ver, w ? w : "");
	}
	return 0;
}

/* strconv.ParseBool: the spellings etcd (Go) takes for a boolean. */
static int parse_bool(const char *v)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True", NULL};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False", NULL};
	for (size_t i = 0; t[i]; i++)
		if (!strcmp(v, t[i]))
			return 1;
	for (size_t i = 0; f[i]; i++)
		if (!strcmp(v, f[i]))
			return 0;
	return -1;
}

static int flag_add(struct ep_member_desc *d, const char *name, const char *value,
		    const char *origin, bool from_env)
{
	struct ep_member_flag *nv = realloc(d->flags, (d->nflags + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	d->flags = nv;
	struct ep_member_flag *f = &d->flags[d->nflags];
	f->name = strdup(name);
	f->value = strdup(value);
	f->origin = strdup(origin);
	f->from_env = from_env;
	if (!f->name || !f->value || !f->origin) {
		free(f->name);
		free(f->value);
		free(f->origin);
		return -ENOMEM;
	}
	d->nflags++;
	return 0;
}

static int var_add(struct ep_member_desc *d, const char *name, const char *value,
		   const char *origin)
{
	struct ep_member_var *nv = realloc(d->env, (d->nenv + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	d->env = nv;
	struct ep_member_var *x = &d->env[d->nenv];
	x->name = strdup(name);
	x->value = strdup(value);
	x->origin = strdup(origin);
	if (!x->name || !x->value || !x->origin) {
		free(x->name);
		free(x->value);
		free(x->origin);
		return -ENOMEM;
	}
	d->nenv++;
	return 0;
}

/* The flag an ETCD_* variable stands for, if its name is exactly etcd's spelling of one. */
static bool env_flag(const char *var, char *flag, size_t len)
{
	if (strncmp(var, "ETCD_", 5) || !var[5] || strlen(var + 5) >= len)
		return false;
	size_t n = 0;
	for (const char *p = var + 5; *p; p++)
		flag[n++] = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
	flag[n] = '\0';
	char back[256];
	return ep_unit_env_name(flag, back, sizeof(back)) == 0 && !strcmp(back, var);
}

/*
 * One setting, once it is known etcd has the flag: what etcd does with it.
 * Returns 1 when it is a setting to keep (*@value_out set), 0 when it was
 * noted or refused instead, -ENOMEM.
 */
static int setting_check(struct ep_member_desc *d, const char *shown, const char *name,
			 const char *value, bool has_value, enum rt_flag_kind kind,
			 const char *origin, const char *ver, const char **value_out)
{
	_cleanup_free_ char *v = ep_escape(value);
	if (!v)
		return -ENOMEM;
	switch (kind) {
	case RT_FLAG_IGNORED:
		return rt_note(&d->notes, "%s (%s): an old flag %s accepts and ignores", shown,
			       origin, ver) < 0
			   ? -ENOMEM
			   : 0;
	case RT_FLAG_PROXY:
		if (strcmp(name, "proxy") || !strcmp(value, "off"))
			return rt_note(&d->notes,
				       "%s%s%s (%s): a setting of etcd's v2 proxy (gone in "
				       "3.6), not of a member%s: left out",
				       shown, has_value ? "=" : "", has_value ? v : "", origin,
				       strcmp(name, "proxy") ? "" : "; 'off' is its default") < 0
				   ? -ENOMEM
				   : 0;
		return rt_note(&d->conflicts,
			       "%s=%s (%s): etcd runs as a v2 proxy, not as a member", shown, v,
			       origin) < 0
			   ? -ENOMEM
			   : 0;
	case RT_FLAG_BOOL: {
		int b = has_value ? parse_bool(value) : 1;
		if (b < 0)
			return rt_note(&d->conflicts,
				       "%s (%s): %s refuses '%s': not a boolean "
				       "(true, false, 1, 0, t, f ...)",
				       shown, origin, ver, v) < 0
				   ? -ENOMEM
				   : 0;
		*value_out = b ? "true" : "false";
		return 1;
	}
	case RT_FLAG_VALUE:
		break;
	}
	*value_out = value;
	return 1;
}

struct env_setting {
	const char *flag;
	const struct rt_given *var;
};

static int env_setting_cmp(const void *a, const void *b)
{
	return strcmp(((const struct env_setting *)a)->flag, ((const struct env_setting *)b)->flag);
}

/* Host of the first URL of a comma-separated list; heap or NULL. */
static char *first_url_host(const char *urls)
{
	const char *p = strstr(urls, "://");
	p = p ? p + 3 : urls;
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

static int set_str(char **dst, const char *v)
{
	if (*dst || !v)
		return 0;
	*dst = strdup(v);
	return *dst ? 0 : -ENOMEM;
}

static int derive(struct ep_member_desc *d)
{
	static const struct {
		const char *flag;
		size_t off;
	} paths[] = {
	    {"cert-file", offsetof(struct ep_member_desc, cert_file)},
	    {"key-file", offsetof(struct ep_member_desc, key_file)},
	    {"trusted-ca-file", offsetof(struct ep_member_desc, trusted_ca_file)},
	    {"peer-cert-file", offsetof(struct ep_member_desc, peer_cert_file)},
	    {"peer-key-file", offsetof(struct ep_member_desc, peer_key_file)},
	    {"peer-trusted-ca-file", offsetof(struct ep_member_desc, peer_trusted_ca_file)},
	    {"listen-client-urls", offsetof(struct ep_member_desc, listen_client_urls)},
	    {"advertise-client-urls", offsetof(struct ep_member_desc, advertise_client_urls)},
	    {"listen-peer-urls", offsetof(struct ep_member_desc, listen_peer_urls)},
	    {"initial-advertise-peer-urls",
	     offsetof(struct ep_member_desc, initial_advertise_peer_urls)},
	    {"listen-metrics-urls", offsetof(struct ep_member_desc, listen_metrics_urls)},
	    {"initial-cluster-state", offsetof(struct ep_member_desc, initial_cluster_state)},
	    {"initial-cluster-token", offsetof(struct ep_member_desc, initial_cluster_token)},
	};
	int r = 0;
	for (size_t i = 0; r == 0 && i < sizeof(paths) / sizeof(paths[0]); i++)
		r = set_str((char **)((char *)d + paths[i].off),
			    ep_member_flag_get(d, paths[i].flag));
	const char *name = ep_member_flag_get(d, "name");
	if (r == 0 && !name && !d->spec.name) {
		r = rt_note(&d->notes, "no --name: etcd calls this member 'default'");
		name = "default";
	}
	if (r == 0)
		r = set_str(&d->spec.name, name);
	const char *dd = ep_member_flag_get(d, "data-dir");
	if (r == 0 && !dd && !d->spec.data_dir) {
		_cleanup_free_ char *def = NULL;
		if (asprintf(&def, "%s.etcd", d->spec.name) < 0)
			return -ENOMEM;
		r = rt_note(&d->notes, "no --data-dir: etcd uses '%s' in its working directory",
			    def);
		if (r == 0)
			r = set_str(&d->spec.data_dir, def);
	}
	if (r == 0)
		r = set_str(&d->spec.data_dir, dd);
	const char *adv = ep_member_flag_get(d, "advertise-client-urls");
	if (r == 0 && adv && !d->spec.advertise_address) {
		d->spec.advertise_address = first_url_host(adv);
		if (!d->spec.advertise_address)
			r = -ENOMEM;
	}
	if (r == 0 && d->trusted_ca_file && !d->spec.cert_dir) {
		size_t n = strlen(d->trusted_ca_file);
		if (n > 12 && !strcmp(d->trusted_ca_file + n - 12, "/etcd/ca.crt")) {
			d->spec.cert_dir = strndup(d->trusted_ca_file, n - 12);
			if (!d->spec.cert_dir)
				r = -ENOMEM;
		}
	}
	const char *ic = ep_member_flag_get(d, "initial-cluster");
	if (r == 0 && ic && !d->initial_cluster.n) {
		for (const char *p = ic; r == 0 && *p;) {
			size_t n = strcspn(p, ",");
			const char *eq = memchr(p, '=', n);
			if (eq) {
				_cleanup_free_ char *k = strndup(p, (size_t)(eq - p));
				_cleanup_free_ char *v = strndup(eq + 1, n - (size_t)(eq - p) - 1);
				r = k && v ? ep_kvv_push(&d->initial_cluster, k, v) : -ENOMEM;
			}
			p += n + (p[n] == ',');
		}
	}
	if (r == 0 && d->version)
		r = set_str(&d->spec.etcd_version, d->version);
	return r;
}

int rt_resolve(struct ep_member_desc *d, const struct rt_givens *cmd, const struct rt_givens *env,
	       unsigned minor)
{
	char ver[32];
	etcd_line(minor, ver, sizeof(ver));
	int r = 0;
	/* The command line: in order, a repeated flag once, with its last value. */
	for (size_t i = 0; r == 0 && i < cmd->n; i++) {
		const struct rt_given *g = &cmd->v[i];
		bool later = false;
		for (size_t j = i + 1; j < cmd->n; j++)
			later |= !strcmp(cmd->v[j].name, g->name);
		_cleanup_free_ char *shown = NULL;
		if (asprintf(&shown, "--%s", g->name) < 0)
			return -ENOMEM;
		if (later) {
			_cleanup_free_ char *v = ep_escape(g->value);
			r = v ? rt_note(&d->notes,
					"%s=%s (%s) is given again later: etcd takes the "
					"last value",
					shown, v, g->origin)
			      : -ENOMEM;
			continue;
		}
		enum rt_flag_kind kind;
		if (!rt_etcd_flag(g->name, minor, &kind)) {
			_cleanup_free_ char *nn = ep_escape(g->name);
			r = rt_note(&d->conflicts,
				    "%s (%s): %s refuses it: flag provided but not "
				    "defined: -%s",
				    shown, g->origin, ver, nn ? nn : "");
			continue;
		}
		const char *value = NULL;
		r = setting_check(d, shown, g->name, g->value, g->has_value, kind, g->origin, ver,
				  &value);
		if (r == 1)
			r = flag_add(d, g->name, value, g->origin, false);
	}
	if (r < 0)
		return r;

	/* The environment: etcd visits its flags by name and takes ETCD_<FLAG> for each. */
	struct env_setting *es = calloc(env->n ? env->n : 1, sizeof(*es));
	char(*names)[256] = calloc(env->n ? env->n : 1, sizeof(*names));
	size_t nes = 0;
	if (!es || !names) {
		free(es);
		free(names);
		return -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < env->n; i++) {
		const struct rt_given *g = &env->v[i];
		_cleanup_free_ char *v = ep_escape(g->value);
		if (!v) {
			r = -ENOMEM;
			break;
		}
		if (strncmp(g->name, "ETCD_", 5) || !strcmp(g->name, "ETCD_UNSUPPORTED_ARCH")) {
			r = var_add(d, g->name, g->value, g->origin);
			continue;
		}
		enum rt_flag_kind kind;
		if (!env_flag(g->name, names[nes], sizeof(names[nes])) ||
		    !rt_etcd_flag(names[nes], minor, &kind)) {
			r = rt_note(&d->notes,
				    "%s=%s (%s): %s has no such flag, and it only warns "
				    "about an unknown ETCD_* variable: left out",
				    g->name, v, g->origin, ver);
			continue;
		}
		const struct rt_given *flag = NULL;
		for (size_t j = 0; j < cmd->n; j++)
			if (!strcmp(cmd->v[j].name, names[nes]))
				flag = &cmd->v[j];
		if (flag) {
			r = rt_note(
			    &d->conflicts,
			    "%s (%s) and --%s (%s): %s refuses the same option "
			    "as an environment variable and as a flag ('conflicting "
			    "environment variable is shadowed by corresponding command-line "
			    "flag')",
			    g->name, g->origin, names[nes], flag->origin, ver);
			continue;
		}
		if (!g->value[0]) {
			r = rt_note(&d->notes, "%s (%s) is empty: etcd ignores it", g->name,
				    g->origin);
			continue;
		}
		es[nes].flag = names[nes];
		es[nes].var = g;
		nes++;
	}
	if (r == 0 && nes > 1)
		qsort(es, nes, sizeof(*es), env_setting_cmp);
	for (size_t i = 0; r == 0 && i < nes; i++) {
		const struct rt_given *g = es[i].var;
		enum rt_flag_kind kind = RT_FLAG_VALUE;
		rt_etcd_flag(es[i].flag, minor, &kind);
		const char *value = NULL;
		r = setting_check(d, g->name, es[i].flag, g->value, true, kind, g->origin, ver,
				  &value);
		if (r == 1)
			r = flag_add(d, es[i].flag, value, g->origin, true);
	}
	free(es);
	free(names);
	if (r < 0)
		return r;
	const char *cf = ep_member_flag_get(d, "config-file");
	if (cf) {
		_cleanup_free_ char *v = ep_escape(cf);
		r = rt_note(&d->notes,
			    "etcd reads its configuration from the file '%s' and then "
			    "ignores every other flag and ETCD_* variable; etcdpilot does not read "
			    "etcd configuration files, so what is said here is incomplete",
			    v ? v : "");
		if (r < 0)
			return r;
	}
	return derive(d);
}

/* ---- the description as text ------------------------------------------------ */

static void add_esc(struct ep_strbuf *sb, const char *s)
{
	if (s)
		ep_strbuf_add_escaped(sb, s, strlen(s));
	else
		ep_strbuf_adds(sb, "(none)");
}

char *ep_member_desc_text(const struct ep_member_desc *m)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_strbuf_addf(&sb, "runtime: %s\n", ep_mode_name(m->mode));
	ep_strbuf_adds(&sb, "source: ");
	add_esc(&sb, m->source);
	ep_strbuf_addch(&sb, '\n');
	for (size_t i = 0; i < m->files.n; i++) {
		ep_strbuf_adds(&sb, "read: ");
		add_esc(&sb, m->files.v[i]);
		ep_strbuf_addch(&sb, '\n');
	}
	if (m->program) {
		ep_strbuf_adds(&sb, "program: ");
		add_esc(&sb, m->program);
		ep_strbuf_addch(&sb, '\n');
	}
	if (m->image) {
		ep_strbuf_adds(&sb, "image: ");
		add_esc(&sb, m->image);
		ep_strbuf_addch(&sb, '\n');
	}
	ep_strbuf_adds(&sb, "version: ");
	add_esc(&sb, m->version);
	if (m->version_from) {
		ep_strbuf_adds(&sb, " (from ");
		add_esc(&sb, m->version_from);
		ep_strbuf_adds(&sb, ")");
	}
	ep_strbuf_addch(&sb, '\n');
	for (size_t i = 0; i < m->nflags; i++) {
		ep_strbuf_adds(&sb, "flag --");
		add_esc(&sb, m->flags[i].name);
		ep_strbuf_addch(&sb, '=');
		add_esc(&sb, m->flags[i].value);
		ep_strbuf_adds(&sb, " (");
		add_esc(&sb, m->flags[i].origin);
		ep_strbuf_adds(&sb, ")\n");
	}
	for (size_t i = 0; i < m->nenv; i++) {
		ep_strbuf_adds(&sb, "env ");
		add_esc(&sb, m->env[i].name);
		ep_strbuf_addch(&sb, '=');
		add_esc(&sb, m->env[i].value);
		ep_strbuf_adds(&sb, " (");
		add_esc(&sb, m->env[i].origin);
		ep_strbuf_adds(&sb, ")\n");
	}
	const struct {
		const char *what;
		const char *v;
	} terms[] = {
	    {"name", m->spec.name},
	    {"advertise address", m->spec.advertise_address},
	    {"data dir", m->spec.data_dir},
	    {"cert dir", m->spec.cert_dir},
	    {"initial cluster state", m->initial_cluster_state},
	};
	for (size_t i = 0; i < sizeof(terms) / sizeof(terms[0]); i++) {
		if (!terms[i].v)
			continue;
		ep_strbuf_addf(&sb, "%s: ", terms[i].what);
		add_esc(&sb, terms[i].v);
		ep_strbuf_addch(&sb, '\n');
	}
	for (size_t i = 0; i < m->initial_cluster.n; i++) {
		ep_strbuf_adds(&sb, "initial cluster member: ");
		add_esc(&sb, m->initial_cluster.v[i].name);
		ep_strbuf_addch(&sb, '=');
		add_esc(&sb, m->initial_cluster.v[i].value);
		ep_strbuf_addch(&sb, '\n');
	}
	/* notes and conflicts are made of escaped parts already */
	for (size_t i = 0; i < m->notes.n; i++)
		ep_strbuf_addf(&sb, "note: %s\n", m->notes.v[i]);
	for (size_t i = 0; i < m->conflicts.n; i++)
		ep_strbuf_addf(&sb, "refused: %s\n", m->conflicts.v[i]);
	return ep_strbuf_detach(&sb, NULL);
}

/* ---- diagnosis ------------------------------------------------------------------ */

void ep_diagnosis_release(struct ep_diagnosis *d)
{
	if (!d)
		return;
	free(d->summary);
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].label);
		ep_strv_release(&d->v[i].lines);
	}
	free(d->v);
	memset(d, 0, sizeof(*d));
}

struct ep_diag_source *rt_diag_source(struct ep_diagnosis *d, const char *label, bool etcd_output)
{
	struct ep_diag_source *nv = realloc(d->v, (d->n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	d->v = nv;
	struct ep_diag_source *s = &d->v[d->n];
	memset(s, 0, sizeof(*s));
	s->label = strdup(label);
	if (!s->label)
		return NULL;
	s->etcd_output = etcd_output;
	d->n++;
	return s;
}

static bool usage_line(const char *s);

int rt_diag_tail(struct ep_diag_source *s, const struct ep_strv *lines, unsigned tail,
		 bool *ret_cut)
{
	size_t end = rt_lines_end(lines->v, lines->n);
	if (ret_cut)
		*ret_cut = end < lines->n;
	for (size_t i = end > tail ? end - tail : 0; i < end; i++)
		if (ep_strv_push(&s->lines, lines->v[i]) < 0)
			return -ENOMEM;
	return 0;
}

int rt_diag_lines(struct ep_diag_source *s, const char *text)
{
	for (const char *p = text; p && *p;) {
		size_t n = strcspn(p, "\n");
		_cleanup_free_ char *l = strndup(p, n);
		if (!l || ep_strv_push(&s->lines, l) < 0)
			return -ENOMEM;
		p += n + (p[n] == '\n');
	}
	return 0;
}

static bool blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return false;
	return true;
}

/* "Usage:" alone on its line: Go's flag package prints etcd's usage after a flag error. */
static bool usage_line(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return !strncmp(s, "Usage:", 6) && blank(s + 6);
}

size_t rt_lines_end(char *const *lines, size_t n)
{
	for (size_t i = n; i > 0; i--)
		if (usage_line(lines[i - 1]))
			return i - 1 > 0 ? i - 1 : n;
	return n;
}

char *ep_diagnosis_excerpt(const struct ep_diagnosis *d, unsigned max_lines)
{
	const struct ep_diag_source *src = NULL;
	for (size_t i = 0; i < d->n && !src; i++)
		if (d->v[i].etcd_output && d->v[i].lines.n)
			src = &d->v[i];
	if (!src || !max_lines)
		return NULL;
	size_t end = rt_lines_end(src->lines.v, src->lines.n);
	size_t pick[16], n = 0;
	if (max_lines > 16)
		max_lines = 16;
	for (size_t i = end; i > 0 && n < max_lines; i--)
		if (!blank(src->lines.v[i - 1]))
			pick[n++] = i - 1;
	if (!n)
		return NULL;
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_strbuf_adds(&sb, "etcd's last log line");
	ep_strbuf_adds(&sb, n > 1 ? "s (" : " (");
	add_esc(&sb, src->label);
	ep_strbuf_adds(&sb, "): ");
	for (size_t k = n; k > 0; k--) {
		const char *l = src->lines.v[pick[k - 1]];
		size_t len = strlen(l);
		while (len && isspace((unsigned char)l[len - 1]))
			len--;
		struct ep_strbuf one = EP_STRBUF_INIT;
		ep_strbuf_init(&one, EXCERPT_LINE_MAX);
		ep_strbuf_add_escaped(&one, l, len);
		ep_strbuf_addf(&sb, "%s'%s%s'", k == n ? "" : " / ", ep_strbuf_str(&one),
			       ep_strbuf_truncated(&one) ? "..." : "");
		ep_strbuf_release(&one);
	}
	return ep_strbuf_detach(&sb, NULL);
}

char *ep_diagnosis_text(const struct ep_diagnosis *d)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	if (d->summary)
		ep_strbuf_addf(&sb, "%s\n", d->summary);
	for (size_t i = 0; i < d->n; i++) {
		const struct ep_diag_source *s = &d->v[i];
		ep_strbuf_adds(&sb, s->etcd_output ? "etcd's output (" : "");
		add_esc(&sb, s->label);
		ep_strbuf_adds(&sb, s->etcd_output ? "):\n" : ":\n");
		if (!s->lines.n)
			ep_strbuf_adds(&sb, "  (nothing)\n");
		for (size_t k = 0; k < s->lines.n; k++) {
			ep_strbuf_adds(&sb, "  | ");
			add_esc(&sb, s->lines.v[k]);
			ep_strbuf_addch(&sb, '\n');
		}
	}
	return ep_strbuf_detach(&sb, NULL);
}

int ep_diagnosis_add_to_error(const struct ep_diagnosis *d, struct ep_error *err)
{
	if (!ep_error_isset(err))
		return 0;
	_cleanup_free_ char *ex = ep_diagnosis_excerpt(d, 3);
	size_t len = strlen(err->msg);
	if (d->summary && len + 2 < sizeof(err->msg))
		len += (size_t)snprintf(err->msg + len, sizeof(err->msg) - len, "; %s", d->summary);
	if (ex && len + 2 < sizeof(err->msg))
		snprintf(err->msg + len, sizeof(err->msg) - len, "; %s", ex);
	return err->code;
}
