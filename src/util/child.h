/*
 * child.h - running another program: argv (never a shell), stdin from
 * /dev/null, stdout and stderr captured together up to a bound, and one
 * deadline for the whole of it - start, output, and exit.  A child that
 * closes its output and then lingers, or that leaves a grandchild holding
 * the pipe, is still killed at the deadline (with its whole process
 * group): no caller ever waits past what it asked for.
 *
 * Used for systemctl, journalctl, crictl and the etcd binaries' --version.
 */
#ifndef ETCDPILOT_CHILD_H
#define ETCDPILOT_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ep_error;

/* Default capture bound: 64 KiB. */
#define EP_CHILD_OUTPUT_MAX (64u * 1024)

struct ep_child {
	/* argv[0] is the program: a path, or a bare name looked up in $PATH. */
	const char *const *argv;
	/* The environment: NULL inherits ours. */
	const char *const *envp;
	/* NAME=value entries set on top of envp (replacing the same NAME); may be NULL. */
	const char *const *env_set;
	/* NAMEs removed from the environment (may be NULL). */
	const char *const *env_unset;
	uint64_t timeout_ms;    /* 0 = no deadline */
	size_t output_max;      /* 0 = EP_CHILD_OUTPUT_MAX; the rest is read and dropped */
};

struct ep_child_result {
	int status;       /* exit code, or 128 + signal number */
	bool signaled;    /* terminated by a signal */
	char *output;     /* stdout and stderr interleaved, NUL-terminated (heap) */
	size_t output_len;
	bool truncated;   /* output went past the bound */
	uint64_t took_ms;
};

/* Free what @res owns (NULL fine) and zero it. */
void ep_child_result_release(struct ep_child_result *res);

/*
 * Run @c to completion.  Fills the zeroed @ret (may be NULL: output
 * discarded).  A non-zero exit is NOT an error here: look at ret->status.
 * Errors (negative errno, @err naming the command): the program cannot be
 * started (-ENOENT, -EACCES ...), -ETIMEDOUT when it did not finish before
 * the deadline (it is killed, with its process group), -ENOMEM.  On error
 * @ret is released.
 */
int ep_child_run(const struct ep_child *c, struct ep_child_result *ret, struct ep_error *err);

/*
 * The command line of @argv for messages: words joined by spaces, a word
 * with blanks, quotes or control characters quoted and escaped.  Heap
 * string, NULL on ENOMEM.
 */
char *ep_child_cmdline(const char *const *argv);

/* The last non-empty line of @s (NULL fine), escaped, into @buf of @len bytes. */
void ep_child_last_line(const char *s, char *buf, size_t len);

#endif
