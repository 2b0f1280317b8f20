/*
 * runtime_logs.c - reading etcd's output as the real components keep it:
 * the CRI log format the container runtime writes under /var/log/pods
 * (and the kubelet reads back for 'kubectl logs'), and the short-iso
 * lines of journalctl.  Both are outside input (a log holds whatever etcd
 * or anyone else wrote): bounded by the caller's read, never trusted to
 * be well formed, never printed here.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/runtime.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

void ep_cri_log_release(struct ep_cri_log *log)
{
	if (!log)
		return;
	for (size_t i = 0; i < log->n; i++) {
		free(log->v[i].time);
		free(log->v[i].text);
	}
	free(log->v);
	memset(log, 0, sizeof(*log));
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* RFC 3339 with optional fraction: 2016-10-06T00:17:09.669794202Z, ...+02:00. */
static bool rfc3339(const char *s, size_t n)
{
	if (n < 20 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) ||
	    s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' || !digits(s + 17, 2))
		return false;
	size_t i = 19;
	if (i < n && s[i] == '.') {
		size_t f = ++i;
		while (i < n && isdigit((unsigned char)s[i]))
			i++;
		if (i == f || i - f > 9)
			return false;
	}
	if (i < n && (s[i] == 'Z' || s[i] == 'z'))
		return i + 1 == n;
	return i + 6 == n && (s[i] == '+' || s[i] == '-') && digits(s + i + 1, 2) &&
	       s[i + 3] == ':' && digits(s + i + 4, 2);
}

struct pending {
	struct ep_strbuf text;
	char *time;
	bool open;
};

static int emit(struct ep_cri_log *ret, size_t *cap, const char *stream, struct pending *p,
		bool partial)
{
	if (ret->n == *cap) {
		size_t n = *cap ? *cap * 2 : 64;
		struct ep_cri_line *nv = realloc(ret->v, n * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		ret->v = nv;
		*cap = n;
	}
	char *text = ep_strbuf_detach(&p->text, NULL);
	if (!text) {
		free(p->time);
		p->time = NULL;
		p->open = false;
		return -ENOMEM;
	}
	struct ep_cri_line *l = &ret->v[ret->n++];
	l->time = p->time;
	l->text = text;
	l->partial = partial;
	snprintf(l->stream, sizeof(l->stream), "%s", stream);
	p->time = NULL;
	p->open = false;
	return 0;
}

int ep_cri_log_parse(const char *buf, size_t len, bool mid_line, struct ep_cri_log *ret)
{
	memset(ret, 0, sizeof(*ret));
	static const char *const streams[2] = {"stdout", "stderr"};
	struct pending pend[2] = {0};
	size_t cap = 0, pos = 0;
	int r = 0;
	if (mid_line) {
		const char *nl = memchr(buf, '\n', len);
		pos = nl ? (size_t)(nl - buf) + 1 : len;
	}
	while (pos < len && r == 0) {
		const char *s = buf + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl != NULL);
		/* <time> <stream> <tag>[:<more tags>] <text> */
		const char *sp1 = memchr(s, ' ', n);
		const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - s)) : NULL;
		if (!sp2 || !rfc3339(s, (size_t)(sp1 - s))) {
			ret->garbage++;
			continue;
		}
		int st = -1;
		for (int k = 0; k < 2; k++)
			if ((size_t)(sp2 - sp1 - 1) == strlen(streams[k]) &&
			    !memcmp(sp1 + 1, streams[k], strlen(streams[k])))
				st = k;
		const char *tag = sp2 + 1, *end = s + n;
		const char *sp3 = memchr(tag, ' ', (size_t)(end - tag));
		const char *tag_end = sp3 ? sp3 : end;
		/* the tag up to ':' (more tags) within the field; the text is not NUL-terminated */
		size_t tlen = 0;
		while (tag + tlen < tag_end && tag[tlen] != ':')
			tlen++;
		if (st < 0 || tlen != 1 || (*tag != 'P' && *tag != 'F')) {
			ret->garbage++;
			continue;
		}
		const char *text = sp3 ? sp3 + 1 : end;
		struct pending *p = &pend[st];
		if (!p->open) {
			p->time = strndup(s, (size_t)(sp1 - s));
			if (!p->time) {
				r = -ENOMEM;
				break;
			}
			p->open = true;
		}
		ep_strbuf_add(&p->text, text, (size_t)(end - text));
		if (ep_strbuf_oom(&p->text))
			r = -ENOMEM;
		else if (*tag == 'F')
			r = emit(ret, &cap, streams[st], p, false);
	}
	for (int k = 0; k < 2; k++) {
		if (r == 0 && pend[k].open)
			r = emit(ret, &cap, streams[k], &pend[k], true);
		ep_strbuf_release(&pend[k].text);
		free(pend[k].time);
	}
	if (r < 0)
		ep_cri_log_release(ret);
	return r;
}

void ep_journal_line_release(struct ep_journal_line *l)
{
	if (!l)
		return;
	free(l->time);
	free(l->ident);
	free(l->message);
	memset(l, 0, sizeof(*l));
}

int ep_journal_line_parse(const char *line, struct ep_journal_line *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->pid = -1;
	/* time: 2024-01-04T10:00:00+0000 or +00:00 */
	size_t tl = strcspn(line, " ");
	if (tl < 19 || !digits(line, 4) || line[4] != '-' || line[10] != 'T' || !line[tl])
		return 0;
	const char *host = line + tl + 1;
	size_t hl = strcspn(host, " ");
	if (!hl || !host[hl])
		return 0;
	const char *ident = host + hl + 1;
	const char *colon = strstr(ident, ": ");
	const char *msg = colon ? colon + 2 : NULL;
	if (!colon) {
		/* "ident: " with nothing after it */
		size_t il = strlen(ident);
		if (il < 2 || ident[il - 1] != ':')
			return 0;
		colon = ident + il - 1;
		msg = colon + 1;
	}
	const char *iend = colon;
	if (iend > ident && iend[-1] == ']') {
		const char *open = iend - 1;
		while (open > ident && *open != '[')
			open--;
		if (*open == '[' && open + 1 < iend - 1 &&
		    digits(open + 1, (size_t)(iend - 1 - open - 1))) {
			ret->pid = strtol(open + 1, NULL, 10);
			iend = open;
		}
	}
	if (iend == ident)
		return 0;
	ret->time = strndup(line, tl);
	ret->ident = strndup(ident, (size_t)(iend - ident));
	ret->message = strdup(msg);
	if (!ret->time || !ret->ident || !ret->message) {
		ep_journal_line_release(ret);
		return -ENOMEM;
	}
	return 1;
}
