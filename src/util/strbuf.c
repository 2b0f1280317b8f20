/*
 * strbuf.c - the growable buffer of strbuf.h.  It owns only memory: it never
 * prints, and an allocation failure becomes a sticky flag instead of an
 * error per call.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

void ep_strbuf_init(struct ep_strbuf *sb, size_t max)
{
	memset(sb, 0, sizeof(*sb));
	sb->max = max;
}

void ep_strbuf_release(struct ep_strbuf *sb)
{
	if (!sb)
		return;
	size_t max = sb->max;
	free(sb->buf);
	memset(sb, 0, sizeof(*sb));
	sb->max = max;
}

void ep_strbuf_reset(struct ep_strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
	sb->oom = false;
	sb->truncated = false;
}

/* Make room for @extra more bytes plus the NUL; false (and oom set) on failure. */
static bool grow(struct ep_strbuf *sb, size_t extra)
{
	if (sb->oom)
		return false;
	if (extra > SIZE_MAX - sb->len - 1) {
		sb->oom = true;
		return false;
	}
	size_t need = sb->len + extra + 1;
	if (need <= sb->alloc)
		return true;
	size_t n = sb->alloc ? sb->alloc : 64;
	while (n < need)
		n = n > SIZE_MAX / 2 ? need : n * 2;
	char *b = realloc(sb->buf, n);
	if (!b) {
		sb->oom = true;
		return false;
	}
	sb->buf = b;
	sb->alloc = n;
	return true;
}

void ep_strbuf_add(struct ep_strbuf *sb, const void *data, size_t len)
{
	if (sb->oom)
		return;
	if (sb->max) {
		size_t room = sb->len < sb->max ? sb->max - sb->len : 0;
		if (len > room) {
			len = room;
			sb->truncated = true;
		}
	}
	if (!grow(sb, len))
		return;
	if (len)
		memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void ep_strbuf_adds(struct ep_strbuf *sb, const char *s)
{
	if (s)
		ep_strbuf_add(sb, s, strlen(s));
}

void ep_strbuf_addch(struct ep_strbuf *sb, char c)
{
	ep_strbuf_add(sb, &c, 1);
}

void ep_strbuf_vaddf(struct ep_strbuf *sb, const char *fmt, va_list ap)
{
	if (sb->oom)
		return;
	va_list cp;
	va_copy(cp, ap);
	char small[256];
	int n = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (n < 0) {
		sb->oom = true; /* an encoding error: treat as incomplete content */
		return;
	}
	if ((size_t)n < sizeof(small)) {
		ep_strbuf_add(sb, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		sb->oom = true;
		return;
	}
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	ep_strbuf_add(sb, big, (size_t)n);
	free(big);
}

void ep_strbuf_addf(struct ep_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ep_strbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

/* Length of the valid UTF-8 sequence at @s (at most @len bytes) for a code point >= U+00A0, else 0. */
static size_t utf8_printable(const unsigned char *s, size_t len)
{
	size_t n;
	uint32_t cp;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond Unicode, and C1 controls (U+0080..U+009F) */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0)
		return 0;
	return n;
}

void ep_strbuf_add_escaped(struct ep_strbuf *sb, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	while (i < len && !sb->oom) {
		size_t run = i;
		/* copy the longest run that needs no escape at once */
		while (run < len) {
			unsigned char c = p[run];
			if (c >= 0x20 && c < 0x7f && c != '\\') {
				run++;
				continue;
			}
			size_t u = c >= 0x80 ? utf8_printable(p + run, len - run) : 0;
			if (!u)
				break;
			run += u;
		}
		if (run > i) {
			ep_strbuf_add(sb, p + i, run - i);
			i = run;
			continue;
		}
		unsigned char c = p[i++];
		switch (c) {
		case '\\': ep_strbuf_adds(sb, "\\\\"); break;
		case '\n': ep_strbuf_adds(sb, "\\n"); break;
		case '\r': ep_strbuf_adds(sb, "\\r"); break;
		case '\t': ep_strbuf_adds(sb, "\\t"); break;
		default: ep_strbuf_addf(sb, "\\x%02x", c); break;
		}
	}
}

bool ep_needs_escape(const char *s)
{
	if (!s)
		return false;
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		unsigned char c = p[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			i++;
			continue;
		}
		size_t u = c >= 0x80 ? utf8_printable(p + i, len - i) : 0;
		if (!u)
			return true;
		i += u;
	}
	return false;
}

char *ep_escape(const char *s)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	if (s)
		ep_strbuf_add_escaped(&sb, s, strlen(s));
	return ep_strbuf_detach(&sb, NULL);
}

void ep_strbuf_rtrim(struct ep_strbuf *sb)
{
	while (sb->len && strchr(" \t\r\n", sb->buf[sb->len - 1]))
		sb->buf[--sb->len] = '\0';
}

bool ep_strbuf_oom(const struct ep_strbuf *sb)
{
	return sb->oom;
}

bool ep_strbuf_truncated(const struct ep_strbuf *sb)
{
	return sb->truncated;
}

char *ep_strbuf_detach(struct ep_strbuf *sb, size_t *ret_len)
{
	if (sb->oom) {
		ep_strbuf_release(sb);
		return NULL;
	}
	char *s = sb->buf ? sb->buf : strdup("");
	size_t len = sb->len;
	size_t max = sb->max;
	memset(sb, 0, sizeof(*sb));
	sb->max = max;
	if (s && ret_len)
		*ret_len = len;
	return s;
}

const char *ep_strbuf_str(const struct ep_strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}
