/*
 * runtime_static_pod.c - the static pod runtime: etcd as the kubelet runs
 * <manifest dir>/etcd.yaml.  It renders and reads back the manifest
 * through manifest.c, asks the local member whether it answers (client.c),
 * and finds etcd's own output where a real kubelet and container runtime
 * keep it: the CRI log files under /var/log/pods/<namespace>_<pod>_<uid>/
 * <container>/<restart count>.log, and crictl when it may run.  It reads
 * the node only through runtime.c's functions and never prints.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/pki.h"
#include "etcdpilot/runtime.h"
#include "runtime_internal.h"
#include "util/child.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define MANIFEST_MAX (1u << 20)
#define POD_LOG_ROOT "/var/log/pods"
#define POD_LOG_TAIL (256u * 1024)
#define CONTAINER    "etcd"

static int manifest_path(const struct ep_spec *spec, char **ret)
{
	const char *dir = spec->manifest_dir ? spec->manifest_dir : "/etc/kubernetes/manifests";
	size_t n = strlen(dir);
	return asprintf(ret, "%s%setcd.yaml", dir, n && dir[n - 1] == '/' ? "" : "/") < 0 ? -ENOMEM
											  : 0;
}

static int sp_render(const struct ep_runtime_ctx *ctx, const struct ep_kvv *initial_cluster,
		     struct ep_runtime_files *ret, struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	struct ep_runtime_file f = {.mode = 0600, .hidden_rename = true};
	int r = ep_manifest_render(ctx->spec, initial_cluster, &f.content, &f.len, err);
	if (r < 0)
		return r;
	if (manifest_path(ctx->spec, &f.path) < 0 || !(ret->v = calloc(1, sizeof(*ret->v)))) {
		free(f.content);
		free(f.path);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	ret->v[0] = f;
	ret->n = 1;
	return 0;
}

static int sp_read_back(const struct ep_runtime_ctx *ctx, struct ep_member_desc *ret,
			struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len = 0;
	if (manifest_path(ctx->spec, &path) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct ep_error rerr = {0};
	int r = rt_read(ctx->root, path, MANIFEST_MAX, &buf, &len, &rerr);
	if (r == -ENOENT)
		return ep_error_set(err, r, "no static pod manifest at %s", path);
	if (r < 0)
		return ep_error_set(err, r, "reading %s: %s", path, rerr.msg);
	struct ep_manifest_info info;
	r = ep_manifest_parse(buf, len, path, NULL, NULL, &info, err);
	if (r < 0)
		return r;
	ret->mode = EP_MODE_STATIC_POD;
	struct rt_givens cmd = {0}, env = {0};
	_cleanup_free_ char *env_origin = NULL;
	r = ep_spec_copy(&ret->spec, &info.spec);
	if (r == 0 && asprintf(&env_origin, "%s (env)", path) < 0)
		r = -ENOMEM;
	if (r == 0 && (!(ret->source = strdup(path)) || ep_strv_push(&ret->files, path) < 0))
		r = -ENOMEM;
	if (r == 0 && info.image && !(ret->image = strdup(info.image)))
		r = -ENOMEM;
	char tagv[32];
	if (r == 0 && info.spec.etcd_version) {
		bool from_tag = info.spec.image_tag &&
				ep_image_tag_version(info.spec.image_tag, tagv, sizeof(tagv));
		ret->version = strdup(info.spec.etcd_version);
		ret->version_from = strdup(from_tag ? "image tag" : "the manifest's flags");
		if (!ret->version || !ret->version_from)
			r = -ENOMEM;
	}
	/* The manifest reader gives "--flag" without a value as "true". */
	for (size_t i = 0; r == 0 && i < info.args.n; i++)
		r = rt_givens_push(&cmd, info.args.v[i].name, info.args.v[i].value, true, path);
	for (size_t i = 0; r == 0 && i < info.spec.extra_envs.n; i++) {
		/* the container gets the last of a name */
		bool later = false;
		for (size_t j = i + 1; j < info.spec.extra_envs.n; j++)
			later |=
			    !strcmp(info.spec.extra_envs.v[j].name, info.spec.extra_envs.v[i].name);
		if (!later)
			r = rt_givens_push(&env, info.spec.extra_envs.v[i].name,
					   info.spec.extra_envs.v[i].value, true, env_origin);
	}
	if (r == 0) {
		/* the spec terms are the manifest reader's; extra args and envs are not terms here
		 */
		ep_kvv_release(&ret->spec.extra_args);
		ep_kvv_release(&ret->spec.extra_envs);
		ret->spec.mode = EP_MODE_STATIC_POD;
		free(ret->spec.manifest_dir);
		ret->spec.manifest_dir =
		    strdup(ctx->spec->manifest_dir ? ctx->spec->manifest_dir
						   : "/etc/kubernetes/manifests");
		if (!ret->spec.manifest_dir)
			r = -ENOMEM;
	}
	if (r == 0)
		r = rt_resolve(ret, &cmd, &env, ep_etcd_minor(ret->version));
	rt_givens_release(&cmd);
	rt_givens_release(&env);
	ep_manifest_info_release(&info);
	if (r < 0) {
		ep_member_desc_release(ret);
		return ep_error_set(err, r, "out of memory");
	}
	return 0;
}

static int sp_status(const struct ep_runtime_ctx *ctx, struct ep_runtime_status *ret,
		     struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	_cleanup_free_ char *path = NULL;
	if (manifest_path(ctx->spec, &path) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct stat st;
	ret->installed = rt_lstat(ctx->root, path, &st) == 0;
	if (!ret->installed) {
		snprintf(ret->state, sizeof(ret->state), "absent");
		return asprintf(&ret->detail, "no static pod manifest at %s", path) < 0
			   ? ep_error_set(err, -ENOMEM, "out of memory")
			   : 0;
	}
	const struct ep_spec *spec = ctx->spec;
	_cleanup_free_ char *endpoint = ep_url(
	    "https",
	    spec->advertise_address && ep_addr_is_ipv6(spec->advertise_address) ? "::1"
										: "127.0.0.1",
	    EP_ETCD_CLIENT_PORT);
	if (!endpoint)
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct ep_tls tls = {0};
	struct ep_error cerr = {0};
	struct ep_client *c = NULL;
	int r = ep_pki_paths(spec, ctx->root, EP_CERT_CA, &tls.cacert, NULL, &cerr);
	if (r == 0)
		r = ep_pki_paths(spec, ctx->root, EP_CERT_HEALTHCHECK_CLIENT, &tls.cert, &tls.key,
				 &cerr);
	if (r == 0)
		r = ep_client_new(&tls, 2000, &c, &cerr);
	struct ep_status es = {0};
	if (r == 0)
		r = ep_maintenance_status(c, endpoint, &es, &cerr);
	ep_status_release(&es);
	ep_client_free(c);
	ep_tls_release(&tls);
	ret->running = r == 0;
	snprintf(ret->state, sizeof(ret->state), "%s", r == 0 ? "answering" : "not answering");
	int w = r == 0 ? asprintf(&ret->detail,
				  "the manifest is in place and the member at %s "
				  "answers",
				  endpoint)
		       : asprintf(&ret->detail,
				  "the manifest is in place; the member at %s does "
				  "not answer: %s",
				  endpoint, cerr.msg);
	return w < 0 ? ep_error_set(err, -ENOMEM, "out of memory") : 0;
}

/* ---- logs ---------------------------------------------------------------- */

/* The highest N of the "N.log" files in node directory @dir; -1 when none. */
static long newest_log(const char *root, const char *dir)
{
	struct ep_strv names = {0};
	long best = -1;
	if (rt_list(root, dir, &names) == 0)
		for (size_t i = 0; i < names.n; i++) {
			char *end = NULL;
			const char *s = names.v[i];
			if (*s < '0' || *s > '9')
				continue;
			long n = strtol(s, &end, 10);
			if (end && !strcmp(end, ".log") && n > best && n < 1000000)
				best = n;
		}
	ep_strv_release(&names);
	return best;
}

struct pod_dir {
	char *dir; /* node path of /var/log/pods/<ns>_<pod>_<uid> */
	char *pod; /* <pod> */
	char *uid;
	long newest; /* restart count of the newest log file */
	struct timespec mtime;
};

static void pod_dir_release(struct pod_dir *p)
{
	free(p->dir);
	free(p->pod);
	free(p->uid);
	memset(p, 0, sizeof(*p));
}

static bool newer(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_nsec > b->tv_nsec;
}

/*
 * The kubelet's log directory of the etcd pod: kube-system_etcd-<node>_<uid>,
 * the one of this node's name when there is one, else of any node name;
 * among several (an old pod whose logs are not collected yet), the one
 * whose newest log file was written last.  0, or -ENOENT.
 */
static int find_pod_dir(const struct ep_runtime_ctx *ctx, struct pod_dir *ret)
{
	struct ep_strv names = {0};
	memset(ret, 0, sizeof(*ret));
	int r = rt_list(ctx->root, POD_LOG_ROOT, &names);
	if (r < 0)
		return r;
	const char *node = ctx->spec->name;
	bool best_exact = false;
	for (size_t i = 0; i < names.n; i++) {
		const char *n = names.v[i];
		if (strncmp(n, "kube-system_etcd-", 17))
			continue;
		const char *us = strrchr(n, '_');
		if (!us || us - n < 18)
			continue;
		_cleanup_free_ char *pod = strndup(n + 12, (size_t)(us - n - 12));
		_cleanup_free_ char *dir = NULL, *logdir = NULL, *file = NULL;
		if (!pod || asprintf(&dir, "%s/%s", POD_LOG_ROOT, n) < 0 ||
		    asprintf(&logdir, "%s/%s", dir, CONTAINER) < 0)
			break;
		long newest = newest_log(ctx->root, logdir);
		struct stat st = {0};
		if (newest >= 0 && (asprintf(&file, "%s/%ld.log", logdir, newest) < 0 ||
				    rt_lstat(ctx->root, file, &st) < 0))
			continue;
		bool exact = node && !strcmp(pod + 5, node);
		bool take = !ret->dir || (exact && !best_exact) ||
			    (exact == best_exact && newest >= 0 &&
			     (ret->newest < 0 || newer(&st.st_mtim, &ret->mtime)));
		if (!take)
			continue;
		pod_dir_release(ret);
		ret->dir = TAKE_PTR(dir);
		ret->pod = TAKE_PTR(pod);
		ret->uid = strdup(us + 1);
		ret->newest = newest;
		ret->mtime = st.st_mtim;
		best_exact = exact;
	}
	ep_strv_release(&names);
	return ret->dir ? 0 : -ENOENT;
}

/* etcd's lines from the log file of restart @n into a new source; the number of lines. */
static int log_source(const struct ep_runtime_ctx *ctx, const struct pod_dir *pd, long n,
		      unsigned tail, struct ep_diagnosis *d, size_t *garbage, bool *cut)
{
	_cleanup_free_ char *file = NULL, *buf = NULL;
	if (asprintf(&file, "%s/%s/%ld.log", pd->dir, CONTAINER, n) < 0)
		return -ENOMEM;
	size_t len = 0;
	bool mid = false;
	struct ep_error e = {0};
	if (rt_read_tail(ctx->root, file, POD_LOG_TAIL, &buf, &len, &mid, &e) < 0)
		return 0;
	struct ep_cri_log log = {0};
	if (ep_cri_log_parse(buf, len, mid, &log) < 0)
		return -ENOMEM;
	*garbage += log.garbage;
	struct ep_strv texts = {0};
	int r = 0;
	for (size_t i = 0; r == 0 && i < log.n; i++)
		r = ep_strv_push(&texts, log.v[i].text);
	struct ep_diag_source *s = r == 0 && log.n ? rt_diag_source(d, file, true) : NULL;
	if (r == 0 && log.n && !s)
		r = -ENOMEM;
	if (r == 0 && s)
		r = rt_diag_tail(s, &texts, tail, cut);
	int count = (int)log.n;
	ep_strv_release(&texts);
	ep_cri_log_release(&log);
	return r < 0 ? r : count;
}

/* crictl's view, when it may run here: the newest etcd container and its log tail. */
static int crictl_sources(const struct ep_runtime_ctx *ctx, unsigned tail, struct ep_diagnosis *d,
			  struct ep_strbuf *summary)
{
	char buf[4096];
	const char *prog = NULL, *why = NULL;
	if (rt_program(ctx, RT_CRICTL, buf, sizeof(buf), &prog, &why) < 0)
		return 0;
	const char *ps[] = {prog, "ps", "-a", "--name", CONTAINER, "-o", "json", NULL};
	_cleanup_free_ char *out = NULL;
	int status = 0;
	struct ep_error e = {0};
	_cleanup_free_ char *cmd = ep_child_cmdline(ps);
	if (rt_run(ctx, ps, &out, &status, &e) < 0) {
		/* not installed is the usual case on a node without crictl: said once, briefly */
		if (e.code != -ENOENT)
			ep_strbuf_addf(summary, "; crictl: %s", e.msg);
		return 0;
	}
	struct ep_diag_source *s = rt_diag_source(d, cmd ? cmd : "crictl ps", false);
	if (!s)
		return -ENOMEM;
	json_t *j = status == 0 ? json_loads(out, 0, NULL) : NULL;
	if (!j)
		return rt_diag_lines(s, out);
	const char *best_id = NULL, *best_created = "";
	json_t *c;
	size_t i;
	json_array_foreach(json_object_get(j, "containers"), i, c)
	{
		json_t *labels = json_object_get(c, "labels");
		const char *ns =
		    json_string_value(json_object_get(labels, "io.kubernetes.pod.namespace"));
		const char *pod =
		    json_string_value(json_object_get(labels, "io.kubernetes.pod.name"));
		const char *id = json_string_value(json_object_get(c, "id"));
		const char *created = json_string_value(json_object_get(c, "createdAt"));
		const char *state = json_string_value(json_object_get(c, "state"));
		json_int_t attempt =
		    json_integer_value(json_object_get(json_object_get(c, "metadata"), "attempt"));
		if (!ns || strcmp(ns, "kube-system") || !pod || strncmp(pod, "etcd-", 5) || !id)
			continue;
		_cleanup_free_ char *line = NULL;
		if (asprintf(&line, "%.13s %s attempt %lld pod %s", id, state ? state : "?",
			     (long long)attempt, pod) < 0 ||
		    ep_strv_push(&s->lines, line) < 0) {
			json_decref(j);
			return -ENOMEM;
		}
		created = created ? created : "";
		if (!best_id || strlen(created) > strlen(best_created) ||
		    (strlen(created) == strlen(best_created) &&
		     strcmp(created, best_created) > 0)) {
			best_id = id;
			best_created = created;
		}
	}
	int r = 0;
	if (best_id) {
		char n[16];
		snprintf(n, sizeof(n), "%u", tail);
		const char *logs[] = {prog, "logs", "--tail", n, best_id, NULL};
		_cleanup_free_ char *lout = NULL, *lcmd = ep_child_cmdline(logs);
		ep_error_clear(&e);
		if (rt_run(ctx, logs, &lout, &status, &e) == 0) {
			struct ep_diag_source *ls =
			    rt_diag_source(d, lcmd ? lcmd : "crictl logs", true);
			r = ls ? rt_diag_lines(ls, lout) : -ENOMEM;
		}
	}
	json_decref(j);
	return r;
}

static int sp_diagnose(const struct ep_runtime_ctx *ctx, unsigned tail, struct ep_diagnosis *ret)
{
	memset(ret, 0, sizeof(*ret));
	struct ep_strbuf sum = EP_STRBUF_INIT;
	_cleanup_free_ char *mpath = NULL;
	if (manifest_path(ctx->spec, &mpath) < 0)
		return -ENOMEM;
	struct stat st;
	if (rt_lstat(ctx->root, mpath, &st) < 0)
		ep_strbuf_addf(&sum, "no static pod manifest at %s; ", mpath);
	struct pod_dir pd;
	size_t garbage = 0;
	int lines = 0, r = 0;
	bool found = false, cut = false;
	if (find_pod_dir(ctx, &pd) == 0) {
		found = true;
		_cleanup_free_ char *pod = ep_escape(pd.pod), *uid = ep_escape(pd.uid);
		if (pd.newest < 0) {
			ep_strbuf_addf(&sum,
				       "pod kube-system/%s (uid %s): the kubelet has written no "
				       "log for container %s in %s",
				       pod, uid, CONTAINER, pd.dir);
		} else {
			ep_strbuf_addf(&sum, "pod kube-system/%s (uid %s): container %s ", pod, uid,
				       CONTAINER);
			if (pd.newest == 0)
				ep_strbuf_adds(&sum, "has not been restarted (its log: 0.log)");
			else
				ep_strbuf_addf(&sum,
					       "has been restarted %ld time%s (its logs: 0.log to "
					       "%ld.log)",
					       pd.newest, pd.newest == 1 ? "" : "s", pd.newest);
			lines = log_source(ctx, &pd, pd.newest, tail, ret, &garbage, &cut);
			/* a container just started has said nothing yet: its predecessor has */
			if (lines == 0 && pd.newest > 0) {
				ep_strbuf_addf(&sum, "; %ld.log is empty so far", pd.newest);
				lines =
				    log_source(ctx, &pd, pd.newest - 1, tail, ret, &garbage, &cut);
			}
			if (lines == 0)
				ep_strbuf_adds(&sum, "; etcd has written nothing");
			if (cut)
				ep_strbuf_adds(&sum, "; the usage text etcd printed after its "
						     "complaint is left out");
			if (garbage)
				ep_strbuf_addf(&sum,
					       "; %zu line%s of the log %s not CRI-framed (left "
					       "out)",
					       garbage, garbage == 1 ? "" : "s",
					       garbage == 1 ? "is" : "are");
		}
		pod_dir_release(&pd);
	} else {
		const char *node = ctx->spec->name ? ctx->spec->name : "*";
		_cleanup_free_ char *n = ep_escape(node);
		ep_strbuf_addf(&sum,
			       "the kubelet has written no log for the etcd pod (%s/kube-"
			       "system_etcd-%s_*): its container was never started - an image that "
			       "cannot be pulled, a volume that cannot be mounted, or no kubelet "
			       "running; see 'journalctl -u kubelet' and 'crictl pods --name etcd'",
			       POD_LOG_ROOT, n ? n : "");
	}
	if (lines < 0)
		r = lines;
	size_t before = ret->n;
	if (r == 0)
		r = crictl_sources(ctx, tail, ret, &sum);
	ret->summary = ep_strbuf_detach(&sum, NULL);
	if (r == 0 && !ret->summary)
		r = -ENOMEM;
	if (r < 0) {
		ep_diagnosis_release(ret);
		return r;
	}
	return found || ret->n > before ? 0 : -ENOENT;
}

const struct ep_runtime_ops ep_runtime_static_pod = {
    .name = "static-pod",
    .mode = EP_MODE_STATIC_POD,
    .render = sp_render,
    .read_back = sp_read_back,
    .status = sp_status,
    .diagnose = sp_diagnose,
    .plan_start = rt_static_pod_plan_start,
    .plan_stop = rt_static_pod_plan_stop,
    .plan_restart = rt_static_pod_plan_restart,
};
