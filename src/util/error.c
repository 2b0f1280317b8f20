/*
 * error.c - the error record every library call fills.  It owns message
 * formatting only: it never prints, never exits and never looks at global
 * state other than OpenSSL's per-thread error queue, which it drains.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

#include "etcdpilot/error.h"

void ep_error_clear(struct ep_error *err)
{
	if (!err)
		return;
	err->kind = EP_ERR_NONE;
	err->code = 0;
	err->msg[0] = '\0';
}

bool ep_error_isset(const struct ep_error *err)
{
	return err && err->kind != EP_ERR_NONE;
}

int ep_error_setv(struct ep_error *err, enum ep_error_kind kind, int code, const char *fmt,
		  va_list ap)
{
	if (code > 0)
		code = -code;
	if (code == 0)
		code = -EIO;
	if (!err || err->kind != EP_ERR_NONE)
		return code;
	err->kind = kind;
	err->code = code;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return code;
}

int ep_error_set(struct ep_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = ep_error_setv(err, EP_ERR_FAILED, code, fmt, ap);
	va_end(ap);
	return r;
}

int ep_error_usage(struct ep_error *err, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = ep_error_setv(err, EP_ERR_USAGE, code, fmt, ap);
	va_end(ap);
	return r;
}

int ep_error_append(struct ep_error *err, const char *fmt, ...)
{
	if (!err || err->kind == EP_ERR_NONE)
		return err && err->code ? err->code : -EIO;
	size_t len = strnlen(err->msg, sizeof(err->msg) - 1);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg + len, sizeof(err->msg) - len, fmt, ap);
	va_end(ap);
	return err->code;
}

int ep_error_prefix(struct ep_error *err, const char *fmt, ...)
{
	if (!err || err->kind == EP_ERR_NONE)
		return err && err->code ? err->code : -EIO;

	char ctx[EP_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);

	/* Shift the old message right and put the context in front, truncating. */
	size_t clen = strnlen(ctx, sizeof(err->msg) - 3);
	size_t olen = strlen(err->msg);
	if (clen + 2 + olen >= sizeof(err->msg))
		olen = sizeof(err->msg) - 1 - clen - 2;
	memmove(err->msg + clen + 2, err->msg, olen);
	memcpy(err->msg, ctx, clen);
	err->msg[clen] = ':';
	err->msg[clen + 1] = ' ';
	err->msg[clen + 2 + olen] = '\0';
	return err->code;
}

int ep_error_ssl(struct ep_error *err, const char *fmt, ...)
{
	char ctx[EP_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof(ctx), fmt, ap);
	va_end(ap);

	/* The last entry of the queue is usually the most specific reason. */
	char reason[512] = "";
	unsigned long e;
	while ((e = ERR_get_error()) != 0)
		ERR_error_string_n(e, reason, sizeof(reason));

	if (reason[0])
		return ep_error_set(err, -EIO, "%s: %s", ctx, reason);
	return ep_error_set(err, -EIO, "%s", ctx);
}
