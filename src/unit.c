/*
 * unit.c - etcd.service, its environment file, the etcdctl environment and
 * the etcdctl.sh wrapper: rendering them, comparing them with what a node
 * has, and writing them.
 *
 * It owns the text of those four files and nothing else: the etcd flags
 * come from the manifest module's flag list (one source of truth for both
 * modes), installation is install.c's and starting the unit systemctl.c's.
 * It never prints (log lines go through the callback) and writes only
 * through ep_write_atomic.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/unit.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define UNIT_FILE_MAX (1024 * 1024)

void ep_unit_files_release(struct ep_unit_files *files)
{
	if (!files)
		return;
	for (int i = 0; i < EP_UNIT_NFILES; i++) {
		free(files->f[i].path);
		free(files->f[i].content);
	}
	memset(files, 0, sizeof(*files));
}

int ep_unit_env_name(const char *flag, char *buf, size_t len)
{
	static const char prefix[] = "ETCD_";
	size_t n = strlen(flag);
	if (n == 0 || n + sizeof(prefix) > len)
		return -EINVAL;
	memcpy(buf, prefix, sizeof(prefix) - 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)flag[i];
		if (!isalnum(c) && c != '-' && c != '_')
			return -EINVAL;
		buf[sizeof(prefix) - 1 + i] = c == '-' ? '_' : (char)toupper(c);
	}
	buf[sizeof(prefix) - 1 + n] = '\0';
	return 0;
}

static bool env_value_plain(const char *v)
{
	if (!*v)
		return false;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.,:/=@+%-", *p))
			return false;
	return true;
}

char *ep_unit_env_line(const char *name, const char *value)
{
	char *out = NULL;
	if (env_value_plain(value)) {
		if (asprintf(&out, "%s=%s\n", name, value) < 0)
			return NULL;
		return out;
	}
	size_t n = strlen(name) + 2 * strlen(value) + 5;
	out = malloc(n);
	if (!out)
		return NULL;
	size_t o = (size_t)snprintf(out, n, "%s=\"", name);
	for (const char *p = value; *p; p++) {
		if (strchr("\"\\`$", *p))
			out[o++] = '\\';
		out[o++] = *p;
	}
	out[o++] = '"';
	out[o++] = '\n';
	out[o] = '\0';
	return out;
}

/* A path systemd reads literally in ExecStart=/EnvironmentFile= and sh in the wrapper. */
static bool path_plain(const char *p)
{
	if (!p || p[0] != '/')
		return false;
	for (; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/._+-", *p))
			return false;
	return true;
}

/*
 * Move the content of @sb into @f.  A buffer cut at EP_RENDER_MAX is a
 * usage error, as for the manifest: one bound for both modes.
 */
static int text_take(struct ep_strbuf *sb, const struct ep_spec *spec, struct ep_unit_file *f,
		     const char *path, mode_t mode, struct ep_error *err)
{
	if (ep_strbuf_truncated(sb)) {
		ep_strbuf_release(sb);
		return ep_error_usage(err, -EFBIG,
				      "%s would be larger than %u KiB (%zu extraArgs, %zu "
				      "extraEnvs), which is no etcd configuration; give fewer or "
				      "shorter entries",
				      path, EP_RENDER_MAX >> 10, spec->extra_args.n,
				      spec->extra_envs.n);
	}
	size_t len = 0;
	char *content = ep_strbuf_detach(sb, &len);
	f->path = strdup(path);
	if (!content || !f->path) {
		free(content);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	f->content = content;
	f->len = len;
	f->mode = mode;
	return 0;
}

static int render_service(const struct ep_spec *spec, struct ep_unit_file *f, struct ep_error *err)
{
	struct ep_strbuf t;
	ep_strbuf_init(&t, EP_RENDER_MAX);
	ep_strbuf_adds(&t, "# etcd.service: this node's etcd member, written by etcdpilot.\n"
		     "# Its configuration is the environment file; 'etcdpilot render unit'\n"
		     "# prints what etcdpilot would write.\n"
		     "[Unit]\n"
		     "Description=etcd key-value store (managed by etcdpilot)\n"
		     "Documentation=https://etcd.io/docs/\n"
		     "After=network-online.target\n"
		     "Wants=network-online.target\n"
		     "\n"
		     "[Service]\n"
		     "Type=notify\n");
	ep_strbuf_addf(&t, "EnvironmentFile=%s\n", spec->systemd.env_file);
	ep_strbuf_addf(&t, "ExecStart=%s/etcd\n", spec->systemd.bin_dir);
	/*
	 * No start timeout: a joining member is READY only once it has caught up
	 * with the cluster, which takes as long as the data set needs.
	 */
	ep_strbuf_adds(&t, "Restart=always\n"
		     "RestartSec=5s\n"
		     "TimeoutStartSec=0\n"
		     "LimitNOFILE=65536\n"
		     "\n"
		     "[Install]\n"
		     "WantedBy=multi-user.target\n");
	return text_take(&t, spec, f, spec->systemd.unit_path, 0644, err);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * @args is ep_manifest_etcd_args's list: sorted by name, then value, the
 * order the pod passes them in; etcd keeps the last of a repeated flag, and
 * so does the file.  Linear in the flags (plus a sort of the env names).
 */
static int render_env(const struct ep_spec *spec, const struct ep_kvv *args,
		      struct ep_unit_file *f, struct ep_error *err)
{
	struct ep_strbuf t;
	ep_strbuf_init(&t, EP_RENDER_MAX);
	_cleanup_free_ const char **envs = calloc(spec->extra_envs.n + 1, sizeof(*envs));
	if (!envs)
		return ep_error_set(err, -ENOMEM, "out of memory");
	for (size_t k = 0; k < spec->extra_envs.n; k++) {
		const struct ep_kv *kv = &spec->extra_envs.v[k];
		if (kv->value_from)
			return ep_error_usage(err, -EINVAL,
					      "%s%sextraEnvs '%s': valueFrom is resolved by the "
					      "kubelet, which does not run etcd in systemd mode; give "
					      "the value itself",
					      kv->at ? kv->at : "", kv->at ? ": " : "", kv->name);
		envs[k] = kv->name;
	}
	qsort(envs, spec->extra_envs.n, sizeof(*envs), name_cmp);
	ep_strbuf_addf(&t,
		       "# %s: etcd's configuration, read by etcd.service (EnvironmentFile=).\n"
		       "# Written by etcdpilot from the flag list of the static pod manifest:\n"
		       "# ETCD_FOO_BAR=V here means --foo-bar=V there.\n",
		       spec->systemd.env_file);
	for (size_t i = 0; i < args->n; i++) {
		if (i + 1 < args->n && !strcmp(args->v[i + 1].name, args->v[i].name))
			continue; /* a later one of the same name wins */
		char name[256];
		if (ep_unit_env_name(args->v[i].name, name, sizeof(name)) < 0) {
			ep_strbuf_release(&t);
			return ep_error_usage(err, -EINVAL,
					      "etcd flag '--%s' cannot be written as an ETCD_* "
					      "variable; check extraArgs", args->v[i].name);
		}
		if (!args->v[i].value[0]) {
			/*
			 * The pod's "--flag=" is a flag given the empty string (a
			 * boolean refuses it), but etcd skips an empty ETCD_* variable
			 * as if it were not there: no env file can say "--flag=".
			 */
			const char *at = NULL;
			bool extra = false;
			for (size_t k = 0; k < spec->extra_args.n; k++)
				if (!strcmp(spec->extra_args.v[k].name, args->v[i].name)) {
					extra = true;
					at = spec->extra_args.v[k].at;
				}
			ep_strbuf_release(&t);
			return ep_error_usage(err, -EINVAL,
					      "%s%s%s '%s' has an empty value: the static pod would pass "
					      "'--%s=', but etcd ignores an empty %s in %s as if it "
					      "were not set, so systemd mode cannot say it; give it a "
					      "value or remove the entry", at ? at : "", at ? ": " : "",
					      extra ? "extraArgs" : "etcd flag",
					      args->v[i].name, args->v[i].name, name,
					      spec->systemd.env_file);
		}
		if (strchr(args->v[i].value, '\n')) {
			/* ep_spec_check_args refuses these in extraArgs; a default never has one */
			ep_strbuf_release(&t);
			return ep_error_usage(err, -EINVAL,
					      "etcd flag '--%s': a newline in its value cannot be "
					      "written to %s", args->v[i].name,
					      spec->systemd.env_file);
		}
		const char *key = name;
		if (bsearch(&key, envs, spec->extra_envs.n, sizeof(*envs), name_cmp)) {
			ep_strbuf_release(&t);
			return ep_error_usage(err, -EINVAL,
					      "extraEnvs '%s' would shadow the flag '--%s'; "
					      "set it through extraArgs instead", name,
					      args->v[i].name);
		}
		char *line = ep_unit_env_line(name, args->v[i].value);
		if (!line)
			t.oom = true;
		ep_strbuf_adds(&t, line);
		free(line);
	}
	if (spec->extra_envs.n)
		ep_strbuf_adds(&t, "# extraEnvs\n");
	for (size_t k = 0; k < spec->extra_envs.n; k++) {
		const struct ep_kv *kv = &spec->extra_envs.v[k];
		bool ok = kv->name[0] && !isdigit((unsigned char)kv->name[0]);
		for (const char *p = kv->name; *p; p++)
			ok &= isalnum((unsigned char)*p) || *p == '_';
		if (!ok || strchr(kv->value, '\n')) {
			ep_strbuf_release(&t);
			return ep_error_usage(err, -EINVAL,
					      "%s%sextraEnvs '%s': not a valid variable name or a "
					      "newline in its value", kv->at ? kv->at : "",
					      kv->at ? ": " : "", kv->name);
		}
		char *line = ep_unit_env_line(kv->name, kv->value);
		if (!line)
			t.oom = true;
		ep_strbuf_adds(&t, line);
		free(line);
	}
	return text_take(&t, spec, f, spec->systemd.env_file, 0640, err);
}

static int render_etcdctl_env(const struct ep_spec *spec, const struct ep_kvv *args,
			      struct ep_unit_file *f, struct ep_error *err)
{
	(void)args;
	_cleanup_free_ char *ep = ep_manifest_local_client_url(spec);
	if (!ep)
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct ep_strbuf t;
	ep_strbuf_init(&t, EP_RENDER_MAX);
	const char *d = spec->cert_dir;
	ep_strbuf_addf(&t, "# %s: etcdctl's settings for this member, written by etcdpilot.\n"
		      "# Used by %s/etcdctl.sh; the client certificate is healthcheck-client's.\n",
		  spec->systemd.etcdctl_env_file, spec->systemd.bin_dir);
	char *lines[5] = { 0 };
	_cleanup_free_ char *ca = NULL, *crt = NULL, *key = NULL;
	if (asprintf(&ca, "%s/etcd/ca.crt", d) < 0 ||
	    asprintf(&crt, "%s/etcd/healthcheck-client.crt", d) < 0 ||
	    asprintf(&key, "%s/etcd/healthcheck-client.key", d) < 0) {
		ep_strbuf_release(&t);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	lines[0] = ep_unit_env_line("ETCDCTL_API", "3");
	lines[1] = ep_unit_env_line("ETCDCTL_ENDPOINTS", ep);
	lines[2] = ep_unit_env_line("ETCDCTL_CACERT", ca);
	lines[3] = ep_unit_env_line("ETCDCTL_CERT", crt);
	lines[4] = ep_unit_env_line("ETCDCTL_KEY", key);
	for (int i = 0; i < 5; i++) {
		if (!lines[i])
			t.oom = true;
		ep_strbuf_adds(&t, lines[i]);
		free(lines[i]);
	}
	return text_take(&t, spec, f, spec->systemd.etcdctl_env_file, 0640, err);
}

static int render_wrapper(const struct ep_spec *spec, struct ep_unit_file *f, struct ep_error *err)
{
	struct ep_strbuf t;
	ep_strbuf_init(&t, EP_RENDER_MAX);
	const char *env = spec->systemd.etcdctl_env_file;
	ep_strbuf_addf(&t, "#!/bin/sh\n"
		      "# etcdctl.sh: etcdctl with this member's endpoint and certificates,\n"
		      "# written by etcdpilot.  Usage: etcdctl.sh endpoint health\n"
		      "if [ ! -r %s ]; then\n"
		      "\techo \"etcdctl.sh: cannot read %s (run as root)\" >&2\n"
		      "\texit 1\n"
		      "fi\n"
		      "set -a\n"
		      ". %s\n"
		      "set +a\n"
		      "exec %s/etcdctl \"$@\"\n",
		  env, env, env, spec->systemd.bin_dir);
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/etcdctl.sh", spec->systemd.bin_dir) < 0) {
		ep_strbuf_release(&t);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	return text_take(&t, spec, f, path, 0755, err);
}

int ep_unit_render(const struct ep_spec *spec, const struct ep_kvv *initial_cluster,
		   struct ep_unit_files *ret, struct ep_error *err)
{
	const struct {
		const char *what, *path;
	} paths[] = {
		{ "systemd.unitPath", spec->systemd.unit_path },
		{ "systemd.envFile", spec->systemd.env_file },
		{ "systemd.etcdctlEnvFile", spec->systemd.etcdctl_env_file },
		{ "systemd.binDir", spec->systemd.bin_dir },
		{ "certificatesDir", spec->cert_dir },
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (!path_plain(paths[i].path))
			return ep_error_usage(err, -EINVAL,
					      "%s '%s': systemd mode needs an absolute path of "
					      "letters, digits and / . _ + -", paths[i].what,
					      paths[i].path ? paths[i].path : "");
	struct ep_kvv args = { 0 };
	int r = ep_manifest_etcd_args(spec, initial_cluster, &args, err);
	if (r >= 0)
		r = render_service(spec, &ret->f[EP_UNIT_SERVICE], err);
	if (r >= 0)
		r = render_env(spec, &args, &ret->f[EP_UNIT_ENV], err);
	if (r >= 0)
		r = render_etcdctl_env(spec, &args, &ret->f[EP_UNIT_ETCDCTL_ENV], err);
	if (r >= 0)
		r = render_wrapper(spec, &ret->f[EP_UNIT_WRAPPER], err);
	ep_kvv_release(&args);
	if (r < 0)
		ep_unit_files_release(ret);
	return r;
}

/* ---- environment files ------------------------------------------------- */

static bool env_name_valid(const char *s, size_t n)
{
	if (!n || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/*
 * systemd.exec(5), EnvironmentFile=: KEY=VALUE lines; blank lines and lines
 * whose first non-blank character is '#' or ';' are comments (a backslash
 * at the end of a comment does not continue it).  Around the key and before
 * the value, blanks are dropped.  A value that starts with a quote is
 * quoted: '...' verbatim, "..." with \" \\ \` \$ unescaped, backslash-newline
 * dropped and any other backslash kept with the character after it; both may
 * span lines, and after the closing quote more text may follow.  An unquoted
 * value keeps quotes and inner blanks as they are, a backslash takes the
 * next character literally (backslash-newline continues the line), trailing
 * blanks are dropped.  CR ends a line as LF does.  systemd itself ignores a
 * line without '=' and a name that is not [A-Za-z_][A-Za-z0-9_]* ("export
 * X=1" included) and accepts an unterminated quote at the end of the file;
 * here each of those is an error, for a file we cannot read as systemd
 * would is not one we can compare.
 */
int ep_unit_env_parse(const char *buf, size_t len, const char *filename, struct ep_kvv *ret,
		      struct ep_error *err)
{
	size_t pos = 0;
	unsigned lineno = 1;
#define IS_NL(c) ((c) == '\n' || (c) == '\r')
#define IS_BLANK(c) ((c) == ' ' || (c) == '\t' || IS_NL(c))
	while (pos < len) {
		/* before the key: blanks (empty lines too) and comments */
		char c = buf[pos];
		if (IS_BLANK(c)) {
			lineno += c == '\n';
			pos++;
			continue;
		}
		if (c == '#' || c == ';') {
			while (pos < len && !IS_NL(buf[pos]))
				pos++;
			continue;
		}
		unsigned keyline = lineno;
		size_t ks = pos;
		while (pos < len && buf[pos] != '=' && !IS_NL(buf[pos]))
			pos++;
		if (pos >= len || buf[pos] != '=')
			return ep_error_set(err, -EINVAL, "%s:%u: not a NAME=value line", filename,
					    keyline);
		size_t ke = pos;
		while (ke > ks && (buf[ke - 1] == ' ' || buf[ke - 1] == '\t'))
			ke--;
		if (!env_name_valid(buf + ks, ke - ks))
			return ep_error_set(err, -EINVAL,
					    "%s:%u: '%.*s' is not a variable name (systemd ignores "
					    "the line)", filename, keyline, (int)(ke - ks), buf + ks);
		pos++; /* '=' */

		struct ep_strbuf v = EP_STRBUF_INIT;
		ep_strbuf_adds(&v, "");
		size_t trail = SIZE_MAX; /* where trailing unquoted blanks start */
		bool unquoted = false;   /* in an unquoted run: quotes are plain characters */
		char q = 0;
		for (; pos < len; pos++) {
			char one[3] = { buf[pos], 0, 0 };
			c = buf[pos];
			if (q == '\'') {
				if (c == '\'')
					q = 0;
				else
					ep_strbuf_adds(&v, one);
				lineno += c == '\n';
				continue;
			}
			if (q == '"') {
				if (c == '"') {
					q = 0;
				} else if (c == '\\' && pos + 1 < len) {
					char n = buf[++pos];
					lineno += n == '\n';
					if (n == '\n')
						continue;
					if (!strchr("\"\\`$", n)) {
						one[0] = '\\';
						one[1] = n;
					} else {
						one[0] = n;
					}
					ep_strbuf_adds(&v, one);
				} else {
					lineno += c == '\n';
					ep_strbuf_adds(&v, one);
				}
				continue;
			}
			if (IS_NL(c))
				break;
			if (c == '\\') {
				/* the next character literally; backslash-newline continues */
				unquoted = true;
				trail = SIZE_MAX;
				if (pos + 1 < len) {
					char n = buf[++pos];
					lineno += n == '\n';
					if (n != '\n') {
						one[0] = n;
						ep_strbuf_adds(&v, one);
					}
				}
				continue;
			}
			if (!unquoted && (c == ' ' || c == '\t'))
				continue; /* before the value, or after a closing quote */
			if (!unquoted && (c == '"' || c == '\'')) {
				q = c;
				continue;
			}
			unquoted = true;
			if (c == ' ' || c == '\t') {
				if (trail == SIZE_MAX)
					trail = v.len;
			} else {
				trail = SIZE_MAX;
			}
			ep_strbuf_adds(&v, one);
		}
		if (q) {
			ep_strbuf_release(&v);
			return ep_error_set(err, -EINVAL, "%s:%u: unterminated quote", filename,
					    keyline);
		}
		if (ep_strbuf_oom(&v)) {
			ep_strbuf_release(&v);
			return ep_error_set(err, -ENOMEM, "out of memory");
		}
		if (trail != SIZE_MAX)
			v.buf[trail] = '\0';
		char key[256];
		snprintf(key, sizeof(key), "%.*s", (int)(ke - ks), buf + ks);
		int r = ep_kvv_push(ret, key, v.buf);
		ep_strbuf_release(&v);
		if (r < 0)
			return ep_error_set(err, r, "out of memory");
	}
#undef IS_NL
#undef IS_BLANK
	return 0;
}

/* ---- compare and write ------------------------------------------------- */

/*
 * The real path of the node file @path under @root, its last component not
 * followed: a unit that is a symlink (to /dev/null: masked) is seen as one.
 */
static int node_file_path(const char *root, const char *path, char **ret, struct ep_error *err)
{
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir = strndup(path, slash && slash != path ? (size_t)(slash - path) : 1);
	_cleanup_free_ char *rdir = NULL;
	if (!dir)
		return ep_error_set(err, -ENOMEM, "out of memory");
	/* for messages: the files themselves go through ep_root_*() */
	int r = ep_root_path(root, dir, &rdir, err);
	if (r < 0)
		return r;
	size_t n = strlen(rdir);
	if (asprintf(ret, "%s%s%s", rdir, n && rdir[n - 1] == '/' ? "" : "/", slash ? slash + 1 : path) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

static int diff_push(struct ep_strv *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int diff_push(struct ep_strv *d, const char *fmt, ...)
{
	if (!d)
		return 0;
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	r = ep_strv_push(d, s);
	free(s);
	return r;
}

static const char *kvv_get(const struct ep_kvv *kv, const char *name)
{
	const char *v = NULL;
	for (size_t i = 0; i < kv->n; i++)
		if (strcmp(kv->v[i].name, name) == 0)
			v = kv->v[i].value;
	return v;
}

static int diff_env(const char *path, const char *have, size_t hlen, const char *want,
		    size_t wlen, struct ep_strv *d)
{
	struct ep_kvv h = { 0 }, w = { 0 };
	int n = 0, r = 0;
	if (ep_unit_env_parse(have, hlen, path, &h, NULL) < 0 ||
	    ep_unit_env_parse(want, wlen, path, &w, NULL) < 0) {
		n = -EINVAL; /* not an env file we can read: fall back to lines */
		goto out;
	}
	for (size_t i = 0; i < w.n && r >= 0; i++) {
		const char *hv = kvv_get(&h, w.v[i].name);
		if (!hv) {
			r = diff_push(d, "%s: %s is missing (wanted '%s')", path, w.v[i].name,
				      w.v[i].value);
			n++;
		} else if (strcmp(hv, w.v[i].value) != 0 &&
			   kvv_get(&w, w.v[i].name) == w.v[i].value) {
			r = diff_push(d, "%s: %s is '%s', wanted '%s'", path, w.v[i].name, hv,
				      w.v[i].value);
			n++;
		}
	}
	for (size_t i = 0; i < h.n && r >= 0; i++)
		if (!kvv_get(&w, h.v[i].name) && kvv_get(&h, h.v[i].name) == h.v[i].value) {
			r = diff_push(d, "%s: %s='%s' is not wanted", path, h.v[i].name,
				      h.v[i].value);
			n++;
		}
	if (r < 0)
		n = r;
out:
	ep_kvv_release(&h);
	ep_kvv_release(&w);
	return n;
}

static int diff_lines(const char *path, const char *have, const char *want, struct ep_strv *d)
{
	unsigned line = 1;
	const char *h = have, *w = want;
	for (;;) {
		size_t hl = strcspn(h, "\n"), wl = strcspn(w, "\n");
		if (hl != wl || memcmp(h, w, hl) != 0 || (!h[hl]) != (!w[wl])) {
			if (!*h)
				return diff_push(d, "%s:%u: the file ends, wanted '%.*s'", path, line,
						 (int)wl, w);
			if (!*w)
				return diff_push(d, "%s:%u: '%.*s' is not wanted", path, line,
						 (int)hl, h);
			return diff_push(d, "%s:%u: '%.*s', wanted '%.*s'", path, line, (int)hl, h,
					 (int)wl, w);
		}
		if (!h[hl])
			return 0;
		h += hl + 1;
		w += wl + 1;
		line++;
	}
}

int ep_unit_compare(const struct ep_unit_files *files, const char *root,
		    enum ep_unit_state *ret_state, unsigned *ret_missing, unsigned *ret_bad_mode,
		    struct ep_strv *ret_diffs, struct ep_error *err)
{
	unsigned missing = 0, present = 0, bad_mode = 0;
	bool differs = false;
	for (int i = 0; i < EP_UNIT_NFILES; i++) {
		const struct ep_unit_file *f = &files->f[i];
		_cleanup_free_ char *path = NULL, *have = NULL;
		size_t hlen = 0;
		int r = node_file_path(root, f->path, &path, err);
		if (r < 0)
			return r;
		struct stat st;
		if ((r = ep_root_lstat(root, f->path, &st)) < 0) {
			if (r != -ENOENT)
				return ep_error_set(err, r, "%s: %s", f->path, strerror(-r));
			missing |= 1u << i;
			continue;
		}
		present++;
		if (!S_ISREG(st.st_mode)) {
			differs = true;
			if (diff_push(ret_diffs, "%s: not a regular file", f->path) < 0)
				return ep_error_set(err, -ENOMEM, "out of memory");
			continue;
		}
		r = ep_root_read_file(root, f->path, UNIT_FILE_MAX, true, &have, &hlen, err);
		if (r < 0)
			return ep_error_prefix(err, "%s", f->path);
		bool same = hlen == f->len && memcmp(have, f->content, hlen) == 0;
		bool mode_ok = (st.st_mode & 07777) == f->mode;
		/* The right content with another mode is repaired, not a difference. */
		if (same) {
			if (!mode_ok)
				bad_mode |= 1u << i;
			continue;
		}
		differs = true;
		if (!mode_ok && diff_push(ret_diffs, "%s: mode %04o, wanted %04o", f->path,
					  (unsigned)(st.st_mode & 07777), (unsigned)f->mode) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
		int n = -EINVAL;
		if (i == EP_UNIT_ENV || i == EP_UNIT_ETCDCTL_ENV)
			n = diff_env(f->path, have, hlen, f->content, f->len, ret_diffs);
		if (n == -ENOMEM)
			return ep_error_set(err, -ENOMEM, "out of memory");
		/* Same variables but other text (comments, order): name the first line. */
		if (n <= 0 && diff_lines(f->path, have, f->content, ret_diffs) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
	}
	if (ret_missing)
		*ret_missing = missing;
	if (ret_bad_mode)
		*ret_bad_mode = bad_mode;
	*ret_state = differs	      ? EP_UNIT_DIFFERENT
		     : present == 0 ? EP_UNIT_ABSENT
		     : missing	    ? EP_UNIT_PARTIAL
				    : EP_UNIT_SAME;
	return 0;
}

int ep_unit_write(const struct ep_unit_files *files, const char *root, bool dry_run,
		  ep_log_fn log, void *userdata, unsigned *ret_written, unsigned *ret_mode_fixed,
		  struct ep_error *err)
{
	unsigned written = 0, mode_fixed = 0;
	for (int i = 0; i < EP_UNIT_NFILES; i++) {
		const struct ep_unit_file *f = &files->f[i];
		_cleanup_free_ char *path = NULL, *have = NULL, *dir = NULL;
		size_t hlen = 0;
		int r = node_file_path(root, f->path, &path, err);
		if (r < 0)
			return r;
		char line[4200];
		struct stat st;
		if (ep_root_lstat(root, f->path, &st) == 0 && S_ISREG(st.st_mode) &&
		    ep_root_read_file(root, f->path, UNIT_FILE_MAX, true, &have, &hlen, NULL) == 0 &&
		    hlen == f->len && memcmp(have, f->content, hlen) == 0) {
			mode_t m = st.st_mode & 07777;
			if (m == f->mode)
				continue;
			/* Only the mode is wrong: fix it, the file (and etcd) can stay. */
			mode_fixed |= 1u << i;
			if (dry_run)
				snprintf(line, sizeof(line),
					 "[dryrun] Would change the mode of \"%s\" from %04o to %04o",
					 path, (unsigned)m, (unsigned)f->mode);
			else
				snprintf(line, sizeof(line),
					 "[systemd] Changed the mode of %s from %04o to %04o", f->path,
					 (unsigned)m, (unsigned)f->mode);
			if (!dry_run && (r = ep_root_chmod(root, f->path, f->mode, NULL)) < 0)
				return ep_error_set(err, r, "chmod %04o %s: %s", (unsigned)f->mode,
						    f->path, strerror(-r));
			if (log)
				log(userdata, line);
			continue;
		}
		written |= 1u << i;
		if (dry_run) {
			snprintf(line, sizeof(line), "[dryrun] Would write file \"%s\" with mode %04o",
				 path, (unsigned)f->mode);
			if (log)
				log(userdata, line);
			continue;
		}
		dir = strdup(f->path);
		if (!dir)
			return ep_error_set(err, -ENOMEM, "out of memory");
		*strrchr(dir, '/') = '\0';
		r = ep_root_mkdir_p(root, dir[0] ? dir : "/", 0755, err);
		if (r >= 0)
			r = ep_root_write_atomic(root, f->path, f->content, f->len, f->mode, err);
		if (r < 0)
			return ep_error_prefix(err, "writing %s", f->path);
		snprintf(line, sizeof(line), "[systemd] Wrote %s (mode %04o)", f->path,
			 (unsigned)f->mode);
		if (log)
			log(userdata, line);
	}
	if (ret_written)
		*ret_written = written;
	if (ret_mode_fixed)
		*ret_mode_fixed = mode_fixed;
	return 0;
}
