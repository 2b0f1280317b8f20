/*
 * systemctl.c - running systemctl for a systemd-mode node.
 *
 * It owns the child process: argv built here (no shell), output captured
 * with a bound, a deadline, the node root passed on as ETCDPILOT_ROOT to a
 * systemctl that serves another root.  It knows nothing of units' contents
 * (unit.c) and never prints.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "etcdpilot/error.h"
#include "etcdpilot/systemctl.h"
#include "util/child.h"
#include "util/cleanup.h"

int ep_systemctl_run(const struct ep_systemctl *sc, const char *const *args, int *ret_status,
		     char **ret_output, struct ep_error *err)
{
	const char *prog = sc->program && *sc->program ? sc->program : "systemctl";
	size_t nargs = 0;
	while (args[nargs])
		nargs++;
	_cleanup_free_ const char **argv = calloc(nargs + 2, sizeof(*argv));
	_cleanup_free_ char *rootvar = NULL;
	if (!argv)
		return ep_error_set(err, -ENOMEM, "out of memory");
	argv[0] = prog;
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = args[i];
	/* The node root for a systemctl that serves one; the real systemctl ignores it. */
	bool other_root = sc->root && strcmp(sc->root, "/") != 0;
	if (other_root && asprintf(&rootvar, "ETCDPILOT_ROOT=%s", sc->root) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	const char *set[] = { rootvar, NULL };
	const char *unset[] = { "ETCDPILOT_ROOT", NULL };
	struct ep_child child = {
		.argv = argv,
		.env_set = other_root ? set : NULL,
		.env_unset = unset,
		.timeout_ms = sc->timeout_ms,
	};
	struct ep_child_result res = { 0 };
	struct ep_error cerr = { 0 };
	int r = ep_child_run(&child, &res, &cerr);
	if (r == -ENOENT)
		return ep_error_set(err, r, "%s; is systemd installed? (--systemctl PATH)", cerr.msg);
	if (r < 0)
		return ep_error_set(err, r, "%s", cerr.msg);
	if (!ret_status && res.status != 0) {
		char last[512];
		int status = res.status;
		_cleanup_free_ char *cmd = ep_child_cmdline(argv);
		ep_child_last_line(res.output, last, sizeof(last));
		ep_child_result_release(&res);
		return ep_error_set(err, -EIO, "'%s' failed (exit status %d)%s%s",
				    cmd ? cmd : prog, status, last[0] ? ": " : "", last);
	}
	if (ret_status)
		*ret_status = res.status;
	if (ret_output)
		*ret_output = TAKE_PTR(res.output);
	ep_child_result_release(&res);
	return 0;
}

static int run_verb(const struct ep_systemctl *sc, const char *a, const char *b, const char *c,
		    struct ep_error *err)
{
	const char *args[] = { a, b, c, NULL };
	return ep_systemctl_run(sc, args, NULL, NULL, err);
}

int ep_systemctl_daemon_reload(const struct ep_systemctl *sc, struct ep_error *err)
{
	return run_verb(sc, "daemon-reload", NULL, NULL, err);
}

int ep_systemctl_enable_now(const struct ep_systemctl *sc, const char *unit, struct ep_error *err)
{
	return run_verb(sc, "enable", "--now", unit, err);
}

int ep_systemctl_stop(const struct ep_systemctl *sc, const char *unit, struct ep_error *err)
{
	return run_verb(sc, "stop", unit, NULL, err);
}

int ep_systemctl_disable(const struct ep_systemctl *sc, const char *unit, struct ep_error *err)
{
	return run_verb(sc, "disable", unit, NULL, err);
}

int ep_systemctl_mask(const struct ep_systemctl *sc, const char *unit, struct ep_error *err)
{
	return run_verb(sc, "mask", unit, NULL, err);
}

int ep_systemctl_is_active(const struct ep_systemctl *sc, const char *unit, bool *ret_active,
			   char ret_state[32], struct ep_error *err)
{
	const char *args[] = { "is-active", unit, NULL };
	int status = 0;
	_cleanup_free_ char *out = NULL;
	int r = ep_systemctl_run(sc, args, &status, &out, err);
	if (r < 0)
		return r;
	*ret_active = status == 0;
	if (ret_state)
		snprintf(ret_state, 32, "%.*s", (int)strcspn(out, "\n"), out);
	return 0;
}

bool ep_systemctl_is_real(const char *program)
{
	const char *prog = program && *program ? program : "systemctl";
	const char *base = strrchr(prog, '/');
	return strcmp(base ? base + 1 : prog, "systemctl") == 0;
}

int ep_systemctl_preflight(const struct ep_systemctl *sc, bool named, const char *run_dir,
			   struct ep_error *err)
{
	bool other_root = sc->root && *sc->root && strcmp(sc->root, "/") != 0;
	bool real = ep_systemctl_is_real(sc->program);
	if (other_root && !named)
		return ep_error_usage(err, -EINVAL,
				      "--root '%s' needs the systemctl named: the host's systemctl "
				      "cannot manage the units of another root (it would reload "
				      "this host's systemd and could restart this host's %s); "
				      "nothing was changed: pass --systemctl PATH (or set "
				      "ETCDPILOT_SYSTEMCTL, or systemd.systemctl in the config) "
				      "naming one that serves that root", sc->root, "etcd.service");
	if (other_root && real)
		return ep_error_usage(err, -EINVAL,
				      "--root '%s' with '%s': a real systemctl cannot manage the "
				      "units of another root (it drives this host's systemd); "
				      "nothing was changed: name a systemctl that serves that root",
				      sc->root, sc->program);
	if (!real)
		return 0;
	char path[4096];
	snprintf(path, sizeof(path), "%s/systemd/system", run_dir ? run_dir : "/run");
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
		return ep_error_usage(err, -ENOTSUP,
				      "[preflight] systemd is not running on this host (no %s): "
				      "'%s' cannot start etcd.service here; nothing was changed: "
				      "run this on a host booted with systemd, or use --mode "
				      "static-pod", path, sc->program && *sc->program ? sc->program
									: "systemctl");
	return 0;
}
