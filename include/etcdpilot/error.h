/*
 * error.h - how the library reports failure.
 *
 * Every fallible library call returns 0 (or a count) on success and a
 * negative errno on failure, and fills an optional struct ep_error with one
 * complete, human message.  The first error wins; callers further up may add
 * context in front of it ("writing manifest: rename ...: EXDEV").  Nothing in
 * the library prints or exits: main.c alone reports and picks the exit code.
 */
#ifndef ETCDPILOT_ERROR_H
#define ETCDPILOT_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define EP_ERROR_MAX 2048

/* What kind of failure this is; main.c maps it to an exit code. */
enum ep_error_kind {
	EP_ERR_NONE = 0,
	EP_ERR_FAILED,  /* operation failed: cluster or system error (exit 1) */
	EP_ERR_USAGE,   /* bad usage or configuration, nothing changed (exit 2) */
};

struct ep_error {
	enum ep_error_kind kind;
	int code;               /* negative errno, as returned */
	char msg[EP_ERROR_MAX]; /* complete message, no trailing newline */
};

/* Reset @err (may be NULL) to "no error". */
void ep_error_clear(struct ep_error *err);

/* True when @err holds an error. NULL is never set. */
bool ep_error_isset(const struct ep_error *err);

/*
 * Record a failure of kind EP_ERR_FAILED.  @code is a negative errno (a
 * positive one is negated).  If @err already holds an error it is kept:
 * the first error wins.  @err may be NULL.  Returns the negative code so
 * callers can write `return ep_error_set(err, -EINVAL, "...")`.
 */
int ep_error_set(struct ep_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Like ep_error_set but of kind EP_ERR_USAGE (exit 2, nothing changed). */
int ep_error_usage(struct ep_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Generic form of the two above. */
int ep_error_setv(struct ep_error *err, enum ep_error_kind kind, int code, const char *fmt,
		  va_list ap) __attribute__((format(printf, 4, 0)));

/*
 * Put context in front of an existing message: "<context>: <old message>".
 * Does nothing when @err is NULL or holds no error.  Returns err->code (or
 * -EIO when nothing is set) so it can end a failure path too.
 */
int ep_error_prefix(struct ep_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Add to the end of an existing message (advice after what went wrong),
 * truncating at EP_ERROR_MAX.  Does nothing when @err is NULL or holds no
 * error.  Returns err->code (or -EIO when nothing is set), as
 * ep_error_prefix.
 */
int ep_error_append(struct ep_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Drain OpenSSL's error queue into the message as "...: <ssl reason>".
 * Always empties the queue.  Returns -EIO.
 */
int ep_error_ssl(struct ep_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
