/*
 * child.c - child processes with a deadline (child.h).  It owns the pipe,
 * the process group and the wait; it never interprets what the child says.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "etcdpilot/error.h"
#include "util/child.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

extern char **environ;

void ep_child_result_release(struct ep_child_result *res)
{
	if (!res)
		return;
	free(res->output);
	memset(res, 0, sizeof(*res));
}

char *ep_child_cmdline(const char *const *argv)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	for (size_t i = 0; argv && argv[i]; i++) {
		const char *w = argv[i];
		if (i)
			ep_strbuf_addch(&sb, ' ');
		if (*w && !strpbrk(w, " \t'\"") && !ep_needs_escape(w)) {
			ep_strbuf_adds(&sb, w);
			continue;
		}
		ep_strbuf_addch(&sb, '\'');
		for (const char *p = w; *p; p++) {
			if (*p == '\'')
				ep_strbuf_adds(&sb, "'\\''");
			else
				ep_strbuf_add_escaped(&sb, p, 1);
		}
		ep_strbuf_addch(&sb, '\'');
	}
	return ep_strbuf_detach(&sb, NULL);
}

void ep_child_last_line(const char *s, char *buf, size_t len)
{
	if (!len)
		return;
	buf[0] = '\0';
	if (!s)
		return;
	const char *end = s + strlen(s);
	while (end > s && strchr(" \t\r\n", end[-1]))
		end--;
	const char *start = end;
	while (start > s && start[-1] != '\n')
		start--;
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_strbuf_init(&sb, len - 1);
	ep_strbuf_add_escaped(&sb, start, (size_t)(end - start));
	snprintf(buf, len, "%s", ep_strbuf_str(&sb));
	ep_strbuf_release(&sb);
}

static bool env_named(const char *entry, const char *const *names)
{
	size_t klen = strcspn(entry, "=");
	for (size_t k = 0; names && names[k]; k++) {
		size_t nlen = strcspn(names[k], "=");
		if (nlen == klen && strncmp(names[k], entry, klen) == 0)
			return true;
	}
	return false;
}

/*
 * @base (NULL = environ) without the NAMEs of @unset and with every NAME of
 * @set replaced or added; entries borrowed.
 */
static char **build_env(const char *const *base, const char *const *set,
			const char *const *unset)
{
	const char *const *b = base ? base : (const char *const *)environ;
	size_t nb = 0, ns = 0;
	while (b && b[nb])
		nb++;
	while (set && set[ns])
		ns++;
	char **env = calloc(nb + ns + 1, sizeof(*env));
	if (!env)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < nb; i++)
		if (!env_named(b[i], set) && !env_named(b[i], unset))
			env[o++] = (char *)b[i];
	for (size_t k = 0; k < ns; k++)
		env[o++] = (char *)set[k];
	env[o] = NULL;
	return env;
}

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
	return (int)syscall(SYS_pidfd_open, pid, 0);
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

/* Wait for @pid until @deadline (0 = forever); true when it was reaped into *@status. */
static bool wait_until(pid_t pid, uint64_t deadline, int *status)
{
	_cleanup_close_ int pfd = pidfd_open_(pid);
	for (;;) {
		pid_t w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return true;
		if (w < 0 && errno != EINTR)
			return true; /* not ours to wait for any more: nothing to kill */
		uint64_t left = ep_ms_left(deadline);
		if (left == 0)
			return false;
		int ms = left > 1000 ? 1000 : (int)left;
		if (pfd >= 0) {
			struct pollfd p = { .fd = pfd, .events = POLLIN };
			poll(&p, 1, ms);
		} else {
			ep_sleep_ms(ms > 10 ? 10 : (uint64_t)ms);
		}
	}
}

int ep_child_run(const struct ep_child *c, struct ep_child_result *ret, struct ep_error *err)
{
	struct ep_child_result res = { 0 };
	uint64_t t0 = ep_now_ms();
	uint64_t deadline = c->timeout_ms ? t0 + c->timeout_ms : 0;
	_cleanup_free_ char *cmd = ep_child_cmdline(c->argv);
	_cleanup_free_ char **env = build_env(c->envp, c->env_set, c->env_unset);
	if (!cmd || !env)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (!c->argv || !c->argv[0])
		return ep_error_set(err, -EINVAL, "running a program: no program given");

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return ep_error_set(err, -errno, "running '%s': pipe: %s", cmd, strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	posix_spawnattr_init(&attr);
	/* its own process group, so that a timeout takes its children too */
	posix_spawnattr_setpgroup(&attr, 0);
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	pid_t pid;
	int sr = strchr(c->argv[0], '/')
			 ? posix_spawn(&pid, c->argv[0], &fa, &attr, (char *const *)c->argv, env)
			 : posix_spawnp(&pid, c->argv[0], &fa, &attr, (char *const *)c->argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pfd[1]);
	if (sr != 0) {
		close(pfd[0]);
		return ep_error_set(err, -sr, "running '%s': %s", cmd, strerror(sr));
	}

	struct ep_strbuf out;
	ep_strbuf_init(&out, c->output_max ? c->output_max : EP_CHILD_OUTPUT_MAX);
	ep_strbuf_add(&out, "", 0);
	int r = 0;
	for (;;) {
		uint64_t left = ep_ms_left(deadline);
		if (left == 0) {
			r = -ETIMEDOUT;
			break;
		}
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int pr = poll(&p, 1, left > 60000 ? 60000 : (int)left);
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
		ep_strbuf_add(&out, tmp, (size_t)n);
	}
	close(pfd[0]);
	int status = 0;
	if (r < 0 || !wait_until(pid, deadline, &status)) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (r == 0)
			r = -ETIMEDOUT;
	}
	res.took_ms = ep_now_ms() - t0;
	if (r == -ETIMEDOUT) {
		ep_strbuf_release(&out);
		unsigned long long ms = (unsigned long long)c->timeout_ms;
		return ep_error_set(err, r, "'%s' did not finish within %llu.%03llu s; it was killed",
				    cmd, ms / 1000, ms % 1000);
	}
	if (r < 0) {
		ep_strbuf_release(&out);
		return ep_error_set(err, r, "reading the output of '%s': %s", cmd, strerror(-r));
	}
	res.truncated = ep_strbuf_truncated(&out);
	res.output = ep_strbuf_detach(&out, &res.output_len);
	if (!res.output)
		return ep_error_set(err, -ENOMEM, "out of memory");
	res.signaled = WIFSIGNALED(status);
	res.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (ret)
		*ret = res;
	else
		ep_child_result_release(&res);
	return 0;
}
