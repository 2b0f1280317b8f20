/*
 * runtime_systemd.c - the systemd runtime: etcd run by etcd.service.  It
 * renders the unit, environment file and etcdctl wrapper through unit.c,
 * and reads back what any installer left on a node - etcdpilot's files,
 * kubespray's (everything as ETCD_* in /etc/etcd.env), etcdadm's
 * (/etc/etcd/etcd.env, /opt/bin/etcd), or hand-written units with every
 * flag in ExecStart= - the way systemd and etcd take them: the unit
 * wherever systemd finds it, its drop-ins in order, Environment= and
 * EnvironmentFile= (files override Environment=; later ones win), the
 * command line with its variables, then etcd's own rules (unitfile.c,
 * runtime.c).  Status and diagnosis come from systemctl and journalctl.
 * It reads the node only through runtime.c's functions and never prints.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/install.h"
#include "etcdpilot/runtime.h"
#include "etcdpilot/systemctl.h"
#include "etcdpilot/unit.h"
#include "etcdpilot/unitfile.h"
#include "runtime_internal.h"
#include "util/child.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define UNIT_MAX     (1u << 20)
#define ENV_MAX	     (1u << 20)
#define DEFAULT_UNIT "/etc/systemd/system/etcd.service"

/* Where systemd looks for units of the system manager, by priority (systemd.unit(5)). */
static const char *const unit_dirs[] = {
    "/etc/systemd/system",     "/run/systemd/system", "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system", "/lib/systemd/system", NULL,
};

/* systemd's fixed search path for a program given by name (systemd.service(5)). */
static const char *const exec_path[] = {
    "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", NULL,
};

static const char *unit_path_of(const struct ep_spec *spec)
{
	return spec->systemd.unit_path && *spec->systemd.unit_path ? spec->systemd.unit_path
								   : DEFAULT_UNIT;
}

static const char *base_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static char *dir_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s == p ? strdup("/") : s ? strndup(p, (size_t)(s - p)) : strdup(".");
}

static int sd_render(const struct ep_runtime_ctx *ctx, const struct ep_kvv *initial_cluster,
		     struct ep_runtime_files *ret, struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	struct ep_unit_files uf = {0};
	int r = ep_unit_render(ctx->spec, initial_cluster, &uf, err);
	if (r < 0)
		return r;
	ret->v = calloc(EP_UNIT_NFILES, sizeof(*ret->v));
	if (!ret->v) {
		ep_unit_files_release(&uf);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	for (int i = 0; i < EP_UNIT_NFILES; i++) {
		ret->v[i] = (struct ep_runtime_file){.path = TAKE_PTR(uf.f[i].path),
						     .content = TAKE_PTR(uf.f[i].content),
						     .len = uf.f[i].len,
						     .mode = uf.f[i].mode};
		ret->n++;
	}
	ep_unit_files_release(&uf);
	return 0;
}

/* ---- reading back ------------------------------------------------------------ */

/* A node path that is a symlink to /dev/null: masked. */
static bool masked(const char *root, const char *path)
{
	struct stat st;
	char target[64];
	return rt_lstat(root, path, &st) == 0 && S_ISLNK(st.st_mode) &&
	       rt_readlink(root, path, target, sizeof(target)) == 0 && !strcmp(target, "/dev/null");
}

/* The line of the next assignment of @name in @text at or after line @from (1-based); 0 if none. */
static unsigned env_line(const char *text, const char *name, unsigned from)
{
	unsigned line = 1;
	size_t nlen = strlen(name);
	for (const char *p = text; *p; line++) {
		size_t n = strcspn(p, "\n");
		if (line >= from) {
			const char *s = p;
			while (*s == ' ' || *s == '\t')
				s++;
			if (!strncmp(s, name, nlen)) {
				const char *e = s + nlen;
				while (*e == ' ' || *e == '\t')
					e++;
				if (*e == '=')
					return line;
			}
		}
		p += n + (p[n] == '\n');
	}
	return 0;
}

/* The final environment of the service: one assignment per name, with where it came from. */
struct env_state {
	struct rt_givens vars;
};

static int env_set(struct ep_member_desc *d, struct env_state *es, const char *name,
		   const char *value, const char *origin)
{
	for (size_t i = 0; i < es->vars.n; i++) {
		struct rt_given *g = &es->vars.v[i];
		if (strcmp(g->name, name))
			continue;
		if (rt_note(&d->notes, "%s (%s) is overridden by %s", name, g->origin, origin) < 0)
			return -ENOMEM;
		char *v = strdup(value), *o = strdup(origin);
		if (!v || !o) {
			free(v);
			free(o);
			return -ENOMEM;
		}
		free(g->value);
		free(g->origin);
		g->value = v;
		g->origin = o;
		return 0;
	}
	return rt_givens_push(&es->vars, name, value, true, origin);
}

/* The files an EnvironmentFile= path names: itself, or the matches of a wildcard in its last part.
 */
static int env_file_paths(const char *root, const char *path, struct ep_strv *ret)
{
	const char *base = base_of(path);
	if (!strpbrk(path, "*?["))
		return ep_strv_push(ret, path);
	if (strpbrk(path, "*?[") < base)
		return -ENOTSUP;
	_cleanup_free_ char *dir = dir_of(path);
	struct ep_strv names = {0};
	if (!dir)
		return -ENOMEM;
	int r = rt_list(root, dir, &names);
	if (r == -ENOENT)
		return 0;
	for (size_t i = 0; r == 0 && i < names.n; i++) {
		if (fnmatch(base, names.v[i], FNM_PERIOD))
			continue;
		_cleanup_free_ char *p = NULL;
		r = asprintf(&p, "%s/%s", strcmp(dir, "/") ? dir : "", names.v[i]) < 0
			? -ENOMEM
			: ep_strv_push(ret, p);
	}
	ep_strv_release(&names);
	return r;
}

static int load_env_files(const struct ep_runtime_ctx *ctx, struct ep_member_desc *d,
			  struct env_state *es, const struct ep_unit_entry *const *files, size_t n,
			  const char *unit_name, char **ret_etcd_file, struct ep_error *err)
{
	int r = 0;
	char *first = NULL, *with_name = NULL;
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct ep_unit_entry *e = files[i];
		const char *spec = e->value;
		bool optional = spec[0] == '-';
		if (optional)
			spec++;
		struct ep_strbuf sb = EP_STRBUF_INIT;
		/* %% and the unit's name are all a path here could use */
		for (const char *p = spec; *p; p++) {
			if (p[0] == '%' && p[1] == '%')
				ep_strbuf_addch(&sb, *p++);
			else if (p[0] == '%' && p[1] == 'n')
				ep_strbuf_adds(&sb, unit_name), p++;
			else
				ep_strbuf_addch(&sb, *p);
		}
		_cleanup_free_ char *path = ep_strbuf_detach(&sb, NULL);
		if (!path) {
			r = -ENOMEM;
			break;
		}
		if (path[0] != '/') {
			_cleanup_free_ char *shown = ep_escape(path);
			r = rt_note(&d->notes,
				    "EnvironmentFile=%s (%s:%u) is not an absolute path: "
				    "ignored (as by systemd)",
				    shown ? shown : "", e->file, e->line);
			continue;
		}
		struct ep_strv paths = {0};
		r = env_file_paths(ctx->root, path, &paths);
		if (r == -ENOTSUP) {
			r = rt_note(&d->notes,
				    "EnvironmentFile=%s (%s:%u): a wildcard before the last "
				    "part of the path is not read by etcdpilot",
				    path, e->file, e->line);
			continue;
		}
		if (r == 0 && !paths.n && !optional)
			r = rt_note(&d->conflicts,
				    "EnvironmentFile=%s (%s:%u) matches no file: systemd "
				    "does not start the unit",
				    path, e->file, e->line);
		for (size_t k = 0; r == 0 && k < paths.n; k++) {
			const char *fp = paths.v[k];
			_cleanup_free_ char *text = NULL;
			size_t len = 0;
			struct ep_error rerr = {0};
			int rr = rt_read(ctx->root, fp, ENV_MAX, &text, &len, &rerr);
			if (rr == -ENOENT) {
				r = optional ? rt_note(&d->notes,
						       "EnvironmentFile=-%s (%s:%u) does "
						       "not exist: skipped (optional)",
						       fp, e->file, e->line)
					     : rt_note(&d->conflicts,
						       "EnvironmentFile=%s (%s:%u) does "
						       "not exist: systemd does not start the unit",
						       fp, e->file, e->line);
				continue;
			}
			if (rr < 0) {
				r = ep_error_set(err, rr, "reading %s: %s", fp, rerr.msg);
				break;
			}
			r = ep_strv_push(&d->files, fp);
			struct ep_kvv kv = {0};
			if (r == 0 && (r = ep_unit_env_parse(text, len, fp, &kv, err)) < 0) {
				ep_kvv_release(&kv);
				break;
			}
			unsigned at = 1;
			for (size_t j = 0; r == 0 && j < kv.n; j++) {
				unsigned line = env_line(text, kv.v[j].name, at);
				_cleanup_free_ char *origin = NULL;
				if (line)
					at = line + 1;
				if ((line ? asprintf(&origin, "%s:%u", fp, line)
					  : asprintf(&origin, "%s", fp)) < 0) {
					r = -ENOMEM;
					break;
				}
				r = env_set(d, es, kv.v[j].name, kv.v[j].value, origin);
				if (r == 0 && !first)
					first = strdup(fp);
				if (r == 0 && !with_name && !strcmp(kv.v[j].name, "ETCD_NAME"))
					with_name = strdup(fp);
			}
			ep_kvv_release(&kv);
		}
		ep_strv_release(&paths);
	}
	if (r == 0) {
		*ret_etcd_file = with_name ? with_name : first;
		if (with_name)
			free(first);
		else
			free(with_name);
		return 0;
	}
	free(first);
	free(with_name);
	return r == -ENOMEM ? ep_error_set(err, r, "out of memory") : r;
}

/* The program as systemd runs it: a bare name is looked up in its fixed path. */
static char *program_path(const char *root, const char *prog)
{
	if (prog[0] == '/')
		return strdup(prog);
	for (size_t i = 0; exec_path[i]; i++) {
		_cleanup_free_ char *p = NULL;
		struct stat st;
		if (asprintf(&p, "%s/%s", exec_path[i], prog) < 0)
			return NULL;
		if (rt_lstat(root, p, &st) == 0)
			return TAKE_PTR(p);
	}
	return strdup(prog);
}

/* Find the unit: the spec's path first, then systemd's directories. */
static int find_unit(const struct ep_runtime_ctx *ctx, char **ret, struct ep_error *err)
{
	const char *want = unit_path_of(ctx->spec);
	const char *name = base_of(want);
	struct ep_strbuf looked = EP_STRBUF_INIT;
	for (size_t i = 0; i <= sizeof(unit_dirs) / sizeof(unit_dirs[0]) - 1; i++) {
		_cleanup_free_ char *p = NULL;
		if (i == 0 ? !(p = strdup(want))
			   : asprintf(&p, "%s/%s", unit_dirs[i - 1], name) < 0) {
			ep_strbuf_release(&looked);
			return ep_error_set(err, -ENOMEM, "out of memory");
		}
		if (i > 0 && !strcmp(p, want))
			continue;
		struct stat st;
		if (rt_lstat(ctx->root, p, &st) < 0) {
			ep_strbuf_addf(&looked, "%s%s", looked.len ? ", " : "", p);
			continue;
		}
		ep_strbuf_release(&looked);
		if (masked(ctx->root, p))
			return ep_error_set(err, -ENOENT, "%s is masked (a link to /dev/null)", p);
		*ret = TAKE_PTR(p);
		return 0;
	}
	int r =
	    ep_error_set(err, -ENOENT, "no unit %s (looked at %s)", name, ep_strbuf_str(&looked));
	ep_strbuf_release(&looked);
	return r;
}

/* The unit file and its drop-ins, parsed into @entries in systemd's order. */
static int read_unit(const struct ep_runtime_ctx *ctx, struct ep_member_desc *d,
		     const char *unit_file, struct ep_unit_entries *entries, struct ep_error *err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	struct ep_error rerr = {0};
	int r = rt_read(ctx->root, unit_file, UNIT_MAX, &text, &len, &rerr);
	if (r < 0)
		return ep_error_set(err, r, "reading %s: %s", unit_file, rerr.msg);
	if (ep_strv_push(&d->files, unit_file) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	r = ep_unitfile_parse(text, len, unit_file, entries, &d->notes, err);
	if (r < 0)
		return r;
	/* drop-ins: the .conf files of <unit>.d in every unit directory, by name; the first
	 * directory wins a name */
	const char *name = base_of(unit_file);
	_cleanup_free_ char *own = dir_of(unit_file);
	if (!own)
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct ep_kvv confs = {0}; /* name -> path */
	for (size_t i = 0; r == 0 && i <= sizeof(unit_dirs) / sizeof(unit_dirs[0]) - 1; i++) {
		const char *dir = i == 0 ? own : unit_dirs[i - 1];
		if (i > 0 && !strcmp(dir, own))
			continue;
		_cleanup_free_ char *dd = NULL;
		if (asprintf(&dd, "%s/%s.d", dir, name) < 0) {
			r = -ENOMEM;
			break;
		}
		struct ep_strv names = {0};
		if (rt_list(ctx->root, dd, &names) == 0)
			for (size_t k = 0; r == 0 && k < names.n; k++) {
				size_t nl = strlen(names.v[k]);
				bool taken = false;
				for (size_t j = 0; j < confs.n; j++)
					taken |= !strcmp(confs.v[j].name, names.v[k]);
				if (nl < 6 || strcmp(names.v[k] + nl - 5, ".conf") || taken)
					continue;
				_cleanup_free_ char *p = NULL;
				r = asprintf(&p, "%s/%s", dd, names.v[k]) < 0
					? -ENOMEM
					: ep_kvv_push(&confs, names.v[k], p);
			}
		ep_strv_release(&names);
	}
	if (r == 0 && confs.n > 1)
		for (size_t i = 1; i < confs.n; i++) /* insertion sort by name: a handful */
			for (size_t j = i;
			     j > 0 && strcmp(confs.v[j - 1].name, confs.v[j].name) > 0; j--) {
				struct ep_kv t = confs.v[j];
				confs.v[j] = confs.v[j - 1];
				confs.v[j - 1] = t;
			}
	for (size_t i = 0; r == 0 && i < confs.n; i++) {
		const char *p = confs.v[i].value;
		if (masked(ctx->root, p)) {
			r = rt_note(&d->notes, "drop-in %s is masked: not read (as by systemd)", p);
			continue;
		}
		_cleanup_free_ char *t = NULL;
		ep_error_clear(&rerr);
		r = rt_read(ctx->root, p, UNIT_MAX, &t, &len, &rerr);
		if (r < 0) {
			r = ep_error_set(err, r, "reading %s: %s", p, rerr.msg);
			break;
		}
		r = ep_strv_push(&d->files, p);
		if (r == 0)
			r = ep_unitfile_parse(t, len, p, entries, &d->notes, err);
	}
	ep_kvv_release(&confs);
	return r == -ENOMEM ? ep_error_set(err, r, "out of memory") : r;
}

static int sd_read_back(const struct ep_runtime_ctx *ctx, struct ep_member_desc *ret,
			struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	ret->mode = EP_MODE_SYSTEMD;
	ret->spec.mode = EP_MODE_SYSTEMD;
	/* every cleanup variable before the first goto */
	_cleanup_free_ char *unit_file = NULL, *etcd_env_file = NULL, *program = NULL;
	_cleanup_free_ char *exec_origin = NULL, *real = NULL, *bin_dir = NULL;
	struct ep_unit_entries entries = {0};
	struct env_state es = {0};
	struct ep_kvv envk = {0};
	struct rt_givens cmd = {0};
	struct ep_unit_exec x = {0};
	const struct ep_unit_entry **v = NULL;
	size_t n = 0;
	int r = find_unit(ctx, &unit_file, err);
	if (r < 0)
		return r;
	const char *unit_name = base_of(unit_file);
	r = read_unit(ctx, ret, unit_file, &entries, err);
	if (r < 0)
		goto out;
	if (!(ret->source = strdup(unit_file))) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}

	/* Environment= first; EnvironmentFile= overrides it (systemd.exec(5)) */
	r = ep_unit_entries_get(&entries, "Service", "Environment", &v, &n);
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct ep_kvv kv = {0};
		_cleanup_free_ char *origin = NULL;
		struct ep_error perr = {0};
		if (asprintf(&origin, "Environment= (%s:%u)", v[i]->file, v[i]->line) < 0) {
			r = -ENOMEM;
			break;
		}
		int pr = ep_unit_environment_parse(v[i]->value, unit_name, &kv, &ret->notes, &perr);
		if (pr == -EINVAL)
			r = rt_note(&ret->notes, "%s: %s", origin, perr.msg);
		else if (pr < 0)
			r = pr;
		for (size_t k = 0; r == 0 && k < kv.n; k++)
			r = env_set(ret, &es, kv.v[k].name, kv.v[k].value, origin);
		ep_kvv_release(&kv);
	}
	free(v);
	v = NULL;
	if (r < 0) {
		r = ep_error_set(err, r, "out of memory");
		goto out;
	}
	r = ep_unit_entries_get(&entries, "Service", "EnvironmentFile", &v, &n);
	if (r == 0)
		r = load_env_files(ctx, ret, &es, v, n, unit_name, &etcd_env_file, err);
	free(v);
	v = NULL;
	if (r < 0)
		goto out;
	r = ep_unit_entries_get(&entries, "Service", "UnsetEnvironment", &v, &n);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = rt_note(&ret->notes, "UnsetEnvironment=%s (%s:%u) is not applied by etcdpilot",
			    v[i]->value, v[i]->file, v[i]->line);
	free(v);
	v = NULL;
	for (size_t i = 0; r == 0 && i < es.vars.n; i++)
		r = ep_kvv_push(&envk, es.vars.v[i].name, es.vars.v[i].value);
	if (r < 0) {
		r = ep_error_set(err, r, "out of memory");
		goto out;
	}

	/* ExecStart= */
	r = ep_unit_entries_get(&entries, "Service", "ExecStart", &v, &n);
	if (r == 0 && n == 0) {
		r = ep_error_set(err, -EINVAL, "%s has no ExecStart=: systemd does not start it",
				 unit_file);
		goto out;
	}
	if (r == 0 && n > 1) {
		r = ep_error_set(err, -EINVAL,
				 "%s has %zu ExecStart= (%s:%u and %s:%u ...): systemd "
				 "refuses that but for Type=oneshot",
				 unit_file, n, v[0]->file, v[0]->line, v[1]->file, v[1]->line);
		goto out;
	}
	if (r < 0) {
		r = ep_error_set(err, r, "out of memory");
		goto out;
	}
	if (asprintf(&exec_origin, "ExecStart (%s:%u)", v[0]->file, v[0]->line) < 0) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = ep_unit_exec_parse(v[0]->value, unit_name, &envk, &x, &ret->notes, err);
	if (r < 0) {
		ep_error_prefix(err, "%s", exec_origin);
		goto out;
	}
	program = program_path(ctx->root, x.path);
	if (!program || !(ret->program = strdup(program))) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	const char *pb = base_of(program);
	if (strncmp(pb, "etcd", 4) || isalpha((unsigned char)pb[4])) {
		/* etcd, etcd-3.5 ... but not etcdctl, docker, sh */
		r = ep_error_set(err, -EINVAL,
				 "%s runs '%s', not an etcd binary: etcdpilot cannot read the "
				 "settings of an etcd started through another program",
				 exec_origin, program);
		goto out;
	}

	/* the version: ask the binary, when it is on the node */
	char version[32];
	struct ep_error verr = {0};
	/* run by this path: not root-relative (an exec has no *at() form to use here) */
	if (ep_root_path(ctx->root, program, &real, NULL) == 0 && access(real, X_OK) == 0) {
		if (ep_etcd_binary_version(real, false, version, sizeof(version), &verr) == 0) {
			ret->version = strdup(version);
			if (asprintf(&ret->version_from, "%s --version", program) < 0)
				ret->version_from = NULL;
			if (!ret->version || !ret->version_from) {
				r = ep_error_set(err, -ENOMEM, "out of memory");
				goto out;
			}
		} else {
			r = rt_note(&ret->notes, "the version of %s is not known: %s", program,
				    verr.msg);
		}
	} else {
		r = rt_note(&ret->notes,
			    "%s is not on the node: its version is not known, and "
			    "every flag etcd 3.4 to 3.6 has counts",
			    program);
	}
	unsigned minor = ep_etcd_minor(ret->version);
	if (r == 0)
		r = rt_flags_from_args(ret, &x.argv, 1, exec_origin, minor, &cmd);
	if (r == 0)
		r = rt_resolve(ret, &cmd, &es.vars, minor);
	bin_dir = dir_of(program);
	if (r == 0 && (!bin_dir || !(ret->spec.systemd.unit_path = strdup(unit_file)) ||
		       (etcd_env_file && !(ret->spec.systemd.env_file = strdup(etcd_env_file))) ||
		       !(ret->spec.systemd.bin_dir = strdup(bin_dir))))
		r = -ENOMEM;
	if (r < 0)
		r = ep_error_set(err, r, "out of memory");
out:
	free(v);
	ep_unit_exec_release(&x);
	rt_givens_release(&cmd);
	rt_givens_release(&es.vars);
	ep_kvv_release(&envk);
	ep_unit_entries_release(&entries);
	if (r < 0)
		ep_member_desc_release(ret);
	return r;
}

/* ---- status and diagnosis --------------------------------------------------------- */

static int sd_status(const struct ep_runtime_ctx *ctx, struct ep_runtime_status *ret,
		     struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	_cleanup_free_ char *unit_file = NULL;
	struct ep_error ferr = {0};
	ret->installed = find_unit(ctx, &unit_file, &ferr) == 0;
	char buf[4096];
	const char *prog = NULL, *why = NULL;
	if (rt_program(ctx, RT_SYSTEMCTL, buf, sizeof(buf), &prog, &why) < 0)
		return ep_error_usage(err, -EPERM, "'%s' may not run for --root '%s': %s", prog,
				      ctx->root, why);
	struct ep_systemctl sc = {.program = prog,
				  .root = ctx->root,
				  .timeout_ms = ctx->timeout_ms ? ctx->timeout_ms : 10000};
	int r = ep_systemctl_is_active(&sc, base_of(unit_path_of(ctx->spec)), &ret->running,
				       ret->state, err);
	if (r < 0)
		return r;
	return asprintf(&ret->detail, "%s is %s", base_of(unit_path_of(ctx->spec)), ret->state) < 0
		   ? ep_error_set(err, -ENOMEM, "out of memory")
		   : 0;
}

/* The "Active: ..." line of systemctl status, trimmed; NULL when there is none. */
static char *active_line(const char *out)
{
	for (const char *p = out; p && *p;) {
		size_t n = strcspn(p, "\n");
		const char *s = p;
		while (s < p + n && (*s == ' ' || *s == '\t'))
			s++;
		if (!strncmp(s, "Active:", 7)) {
			s += 7;
			while (*s == ' ')
				s++;
			return strndup(s, (size_t)(p + n - s));
		}
		p += n + (p[n] == '\n');
	}
	return NULL;
}

static int sd_diagnose(const struct ep_runtime_ctx *ctx, unsigned tail, struct ep_diagnosis *ret)
{
	memset(ret, 0, sizeof(*ret));
	const char *unit = base_of(unit_path_of(ctx->spec));
	struct ep_strbuf sum = EP_STRBUF_INIT;
	bool any = false;
	int r = 0;
	char buf[4096], jbuf[4096];
	const char *prog = NULL, *why = NULL;
	if (rt_program(ctx, RT_SYSTEMCTL, buf, sizeof(buf), &prog, &why) < 0) {
		ep_strbuf_addf(&sum, "%s: systemctl not asked ('%s': %s)", unit, prog, why);
	} else {
		const char *argv[] = {prog, "status", "--no-pager", "--lines=0", unit, NULL};
		_cleanup_free_ char *out = NULL, *cmd = ep_child_cmdline(argv);
		int status = 0;
		struct ep_error e = {0};
		if (rt_run(ctx, argv, &out, &status, &e) < 0) {
			ep_strbuf_addf(&sum, "%s: %s", unit, e.msg);
		} else {
			any = true;
			struct ep_diag_source *s =
			    rt_diag_source(ret, cmd ? cmd : "systemctl status", false);
			r = s ? rt_diag_lines(s, out) : -ENOMEM;
			_cleanup_free_ char *active = active_line(out);
			_cleanup_free_ char *shown = active ? ep_escape(active) : NULL;
			if (shown)
				ep_strbuf_addf(&sum, "%s is %s", unit, shown);
			else if (status == 4)
				ep_strbuf_addf(&sum, "systemd has no unit %s", unit);
			else
				ep_strbuf_addf(&sum,
					       "%s: 'systemctl status' says nothing of its "
					       "state (exit status %d)",
					       unit, status);
		}
	}
	if (r == 0 && rt_program(ctx, RT_JOURNALCTL, jbuf, sizeof(jbuf), &prog, &why) < 0) {
		ep_strbuf_addf(&sum, "; journalctl not asked ('%s': %s)", prog, why);
	} else if (r == 0) {
		char nlines[16];
		unsigned want = tail * 3 + 30;
		snprintf(nlines, sizeof(nlines), "%u", want > 1000 ? 1000 : want);
		const char *argv[] = {prog,	    "-u", unit,	       "-n", nlines,
				      "--no-pager", "-o", "short-iso", NULL};
		_cleanup_free_ char *out = NULL, *cmd = ep_child_cmdline(argv);
		int status = 0;
		struct ep_error e = {0};
		if (rt_run(ctx, argv, &out, &status, &e) < 0) {
			ep_strbuf_addf(&sum, "; %s", e.msg);
		} else {
			any = true;
			struct ep_strv etcd = {0}, sysd = {0};
			bool last_etcd = false;
			for (const char *p = out; r == 0 && *p;) {
				size_t n = strcspn(p, "\n");
				_cleanup_free_ char *l = strndup(p, n);
				p += n + (p[n] == '\n');
				struct ep_journal_line jl;
				int k = l ? ep_journal_line_parse(l, &jl) : -ENOMEM;
				if (k < 0) {
					r = k;
				} else if (k == 0) {
					/* a continuation of a multi-line message, or a "-- ... --"
					 * marker */
					if (last_etcd && strncmp(l, "-- ", 3))
						r = ep_strv_push(&etcd, l);
				} else {
					last_etcd = strcmp(jl.ident, "systemd") != 0;
					r = ep_strv_push(last_etcd ? &etcd : &sysd, jl.message);
					ep_journal_line_release(&jl);
				}
			}
			struct ep_diag_source *s =
			    r == 0 ? rt_diag_source(ret, cmd ? cmd : "journalctl", true) : NULL;
			if (r == 0 && !s)
				r = -ENOMEM;
			bool cut = false;
			if (r == 0)
				r = rt_diag_tail(s, &etcd, tail, &cut);
			if (r == 0 && cut)
				ep_strbuf_adds(&sum,
					       "; the usage text etcd printed after its complaint "
					       "is left out");
			if (r == 0 && sysd.n) {
				_cleanup_free_ char *label = NULL;
				if (asprintf(&label, "%s (systemd's own lines)",
					     cmd ? cmd : "journalctl") < 0)
					r = -ENOMEM;
				struct ep_diag_source *ss =
				    r == 0 ? rt_diag_source(ret, label, false) : NULL;
				if (r == 0 && !ss)
					r = -ENOMEM;
				for (size_t i = sysd.n > 5 ? sysd.n - 5 : 0; r == 0 && i < sysd.n;
				     i++)
					r = ep_strv_push(&ss->lines, sysd.v[i]);
			}
			if (r == 0 && !etcd.n)
				ep_strbuf_addf(&sum, "; the journal holds no line of etcd's for %s",
					       unit);
			ep_strv_release(&etcd);
			ep_strv_release(&sysd);
		}
	}
	ret->summary = ep_strbuf_detach(&sum, NULL);
	if (r == 0 && !ret->summary)
		r = -ENOMEM;
	if (r < 0) {
		ep_diagnosis_release(ret);
		return r;
	}
	return any ? 0 : -ENOENT;
}

const struct ep_runtime_ops ep_runtime_systemd = {
    .name = "systemd",
    .mode = EP_MODE_SYSTEMD,
    .render = sd_render,
    .read_back = sd_read_back,
    .status = sd_status,
    .diagnose = sd_diagnose,
    .plan_start = rt_systemd_plan_start,
    .plan_stop = rt_systemd_plan_stop,
    .plan_restart = rt_systemd_plan_restart,
};
