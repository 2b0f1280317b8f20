/*
 * strbuf.h - a growable, NUL-terminated byte buffer (after git's strbuf).
 *
 * The one way the library builds a string of unknown length: no fixed
 * buffers that truncate silently, no hand-written snprintf-append loops.
 * An allocation failure is sticky: the buffer keeps what it had, every later
 * add is a no-op, and ep_strbuf_oom() (or the -ENOMEM of ep_strbuf_detach)
 * tells the caller once at the end, so building code needs no error check
 * per call.  A buffer may also carry a size bound (@max): adds past it are
 * cut at the bound and ep_strbuf_truncated() says so - for output captured
 * from a child or any text whose size comes from outside.
 */
#ifndef ETCDPILOT_STRBUF_H
#define ETCDPILOT_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

struct ep_strbuf {
	char *buf;      /* NULL until the first add; always NUL-terminated after it */
	size_t len;     /* bytes in buf, without the NUL */
	size_t alloc;   /* bytes allocated */
	size_t max;     /* 0 = unbounded, else at most this many bytes are kept */
	bool oom;       /* an allocation failed: the content is incomplete */
	bool truncated; /* an add went past @max: the content is cut */
};

#define EP_STRBUF_INIT { 0 }

/* Zero @sb with an optional bound (0 = none). */
void ep_strbuf_init(struct ep_strbuf *sb, size_t max);

/* Free the buffer (NULL fine) and zero @sb (the bound is kept). */
void ep_strbuf_release(struct ep_strbuf *sb);

/* Empty the content, keeping the allocation and the bound; clears the flags. */
void ep_strbuf_reset(struct ep_strbuf *sb);

/* Append @len bytes (may contain NUL bytes). */
void ep_strbuf_add(struct ep_strbuf *sb, const void *data, size_t len);

/* Append a NUL-terminated string (NULL appends nothing). */
void ep_strbuf_adds(struct ep_strbuf *sb, const char *s);

/* Append one character. */
void ep_strbuf_addch(struct ep_strbuf *sb, char c);

/* Append printf-style text. */
void ep_strbuf_addf(struct ep_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ep_strbuf_vaddf(struct ep_strbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/*
 * Append @len bytes of @s with every control character (C0, DEL, and the
 * C1 range when it is not part of valid UTF-8) escaped as C does (\n, \r,
 * \t, \e as \x1b, others \xNN) and a backslash doubled, so that text from
 * a file or from the cluster can never move the cursor, clear a screen or
 * fake a line of a table when printed (systemd's cescape(), git's
 * quote_c_style()).  Valid UTF-8 above U+009F passes unchanged.
 */
void ep_strbuf_add_escaped(struct ep_strbuf *sb, const char *s, size_t len);

/* True when @s needs escaping (see ep_strbuf_add_escaped); NULL is false. */
bool ep_needs_escape(const char *s);

/*
 * A heap copy of @s escaped as ep_strbuf_add_escaped does (NULL -> "").
 * NULL only on ENOMEM.
 */
char *ep_escape(const char *s);

/* Remove trailing whitespace (blanks and newlines). */
void ep_strbuf_rtrim(struct ep_strbuf *sb);

/* True when an allocation failed since the last init/reset. */
bool ep_strbuf_oom(const struct ep_strbuf *sb);

/* True when content was cut at the bound. */
bool ep_strbuf_truncated(const struct ep_strbuf *sb);

/*
 * The content as a heap string the caller owns ("" when nothing was added),
 * leaving @sb empty.  NULL (and @sb released) when an allocation failed at
 * any point: the caller reports -ENOMEM.  *@ret_len (may be NULL) gets the
 * length.
 */
char *ep_strbuf_detach(struct ep_strbuf *sb, size_t *ret_len);

/* The content, "" when empty; valid until the next add. */
const char *ep_strbuf_str(const struct ep_strbuf *sb);

#endif
