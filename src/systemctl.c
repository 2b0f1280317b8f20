/*
 * systemctl.c - running systemctl for a systemd-mode node.
 *
 * It owns the child process: argv built here (no shell), output captured
 * with a bound, a deadline, the node root passed on as ETCDPILOT_ROOT for
 * the test stand-in.  It knows nothing of units' contents (unit.c) and
 * never prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "etcdpilot/error.h"
#include "etcdpilot/systemctl.h"
#include "util/cleanup.h"

#define OUTPUT_MAX (64 * 1024)

extern char **environ;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* environ without ETCDPILOT_ROOT, plus ETCDPILOT_ROOT=@root when it is not "/". */
static char **child_env(const char *root, char **ret_rootvar)
{
	size_t n = 0;
	while (environ && environ[n])
		n++;
	char **env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "ETCDPILOT_ROOT=", 15) != 0)
			env[o++] = environ[i];
	*ret_rootvar = NULL;
	if (root && strcmp(root, "/") != 0) {
		if (asprintf(ret_rootvar, "ETCDPILOT_ROOT=%s", root) < 0) {
			free(env);
			return NULL;
		}
		env[o++] = *ret_rootvar;
	}
	env[o] = NULL;
	return env;
}

/* The last non-empty line of @s, for messages. */
static void last_line(const char *s, char *buf, size_t len)
{
	buf[0] = '\0';
	const char *end = s + strlen(s);
	while (end > s && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	const char *start = end;
	while (start > s && start[-1] != '\n')
		start--;
	snprintf(buf, len, "%.*s", (int)(end - start), start);
}

int ep_systemctl_run(const struct ep_systemctl *sc, const char *const *args, int *ret_status,
		     char **ret_output, struct ep_error *err)
{
	const char *prog = sc->program && *sc->program ? sc->program : "systemctl";
	size_t nargs = 0;
	while (args[nargs])
		nargs++;
	_cleanup_free_ char **argv = calloc(nargs + 2, sizeof(*argv));
	_cleanup_free_ char *rootvar = NULL;
	_cleanup_free_ char **env = child_env(sc->root, &rootvar);
	_cleanup_free_ char *out = malloc(OUTPUT_MAX + 1);
	if (!argv || !env || !out)
		return ep_error_set(err, -ENOMEM, "out of memory");
	argv[0] = (char *)prog;
	for (size_t i = 0; i < nargs; i++)
		argv[i + 1] = (char *)args[i];

	/* "systemctl enable --now etcd.service", for messages */
	char cmd[512];
	size_t cl = (size_t)snprintf(cmd, sizeof(cmd), "%s", prog);
	for (size_t i = 0; i < nargs && cl < sizeof(cmd); i++)
		cl += (size_t)snprintf(cmd + cl, sizeof(cmd) - cl, " %s", args[i]);

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return ep_error_set(err, -errno, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	pid_t pid;
	int sr = posix_spawnp(&pid, prog, &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (sr != 0) {
		close(pfd[0]);
		return ep_error_set(err, -sr, "running '%s': %s%s", cmd, strerror(sr),
				    sr == ENOENT ? "; is systemd installed? (--systemctl PATH)" : "");
	}
	size_t got = 0;
	int r = 0;
	uint64_t deadline = sc->timeout_ms ? now_ms() + sc->timeout_ms : 0;
	for (;;) {
		int wait = -1;
		if (deadline) {
			uint64_t now = now_ms();
			if (now >= deadline) {
				r = -ETIMEDOUT;
				break;
			}
			wait = (int)(deadline - now > 60000 ? 60000 : deadline - now);
		}
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int pr = poll(&p, 1, wait);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			r = -errno;
			break;
		}
		if (pr == 0)
			continue;
		char tmp[4096];
		ssize_t n = read(pfd[0], tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		size_t keep = (size_t)n;
		if (keep > OUTPUT_MAX - got)
			keep = OUTPUT_MAX - got;
		memcpy(out + got, tmp, keep);
		got += keep;
	}
	close(pfd[0]);
	if (r < 0)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	out[got] = '\0';
	if (r == -ETIMEDOUT)
		return ep_error_set(err, r, "'%s' did not finish within %llu s", cmd,
				    (unsigned long long)(sc->timeout_ms / 1000));
	if (r < 0)
		return ep_error_set(err, r, "reading the output of '%s': %s", cmd, strerror(-r));
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (!ret_status && code != 0) {
		char last[512];
		last_line(out, last, sizeof(last));
		return ep_error_set(err, -EIO, "'%s' failed (exit status %d)%s%s", cmd, code,
				    last[0] ? ": " : "", last);
	}
	if (ret_status)
		*ret_status = code;
	if (ret_output)
		*ret_output = TAKE_PTR(out);
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
