/*
 * unitfile.c - systemd unit syntax (unitfile.h): the file with its sections
 * and continued lines, command lines with their prefixes, quoting, escapes,
 * specifiers and variables, and Environment= words.  Written from
 * systemd.syntax(7), systemd.service(5) and systemd.exec(5) and from what
 * systemd's conf-parser and extract_first_word() do where the pages are
 * silent (comment lines inside a continuation, where a quote may start).
 * It owns no file and knows nothing of etcd; it never prints.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/error.h"
#include "etcdpilot/unitfile.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/* systemd's LONG_LINE_MAX */
#define LINE_MAX_BYTES (1024u * 1024)
#define WHITESPACE     " \t\n\r"

void ep_unit_entries_release(struct ep_unit_entries *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].section);
		free(e->v[i].key);
		free(e->v[i].value);
		free(e->v[i].file);
	}
	free(e->v);
	memset(e, 0, sizeof(*e));
}

void ep_unit_exec_release(struct ep_unit_exec *x)
{
	if (!x)
		return;
	free(x->path);
	ep_strv_release(&x->argv);
	memset(x, 0, sizeof(*x));
}

static int note(struct ep_strv *notes, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int note(struct ep_strv *notes, const char *fmt, ...)
{
	if (!notes)
		return 0;
	struct ep_strbuf sb = EP_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	ep_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	_cleanup_free_ char *s = ep_strbuf_detach(&sb, NULL);
	return s ? ep_strv_push(notes, s) : -ENOMEM;
}

/* ---- the file ------------------------------------------------------------ */

/* Trim whitespace at both ends of [*s, *e). */
static void strip(const char **s, const char **e)
{
	while (*s < *e && strchr(WHITESPACE, **s))
		(*s)++;
	while (*e > *s && strchr(WHITESPACE, (*e)[-1]))
		(*e)--;
}

static int entry_push(struct ep_unit_entries *ret, size_t *cap, const char *section, const char *k,
		      size_t klen, const char *v, size_t vlen, const char *file, unsigned line)
{
	if (ret->n == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		struct ep_unit_entry *nv = realloc(ret->v, n * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		ret->v = nv;
		*cap = n;
	}
	struct ep_unit_entry *en = &ret->v[ret->n];
	en->section = strdup(section);
	en->key = strndup(k, klen);
	en->value = strndup(v, vlen);
	en->file = strdup(file);
	en->line = line;
	if (!en->section || !en->key || !en->value || !en->file) {
		free(en->section);
		free(en->key);
		free(en->value);
		free(en->file);
		return -ENOMEM;
	}
	ret->n++;
	return 0;
}

struct parse_state {
	struct ep_unit_entries *ret;
	size_t cap;
	char *section; /* NULL before the first header */
	const char *file;
	struct ep_strv *notes;
};

/* One logical line (continuations joined), as systemd's parse_line(). */
static int parse_line(struct parse_state *ps, const char *s, size_t len, unsigned line,
		      struct ep_error *err)
{
	const char *e = s + len;
	strip(&s, &e);
	if (s == e)
		return 0;
	if (*s == '[') {
		if (e[-1] != ']' || e - s < 2)
			return ep_error_set(err, -EBADMSG,
					    "%s:%u: invalid section header '%.*s' (systemd refuses "
					    "to load the unit)",
					    ps->file, line, (int)(e - s > 200 ? 200 : e - s), s);
		free(ps->section);
		ps->section = strndup(s + 1, (size_t)(e - s - 2));
		return ps->section ? 0 : ep_error_set(err, -ENOMEM, "out of memory");
	}
	if (!ps->section)
		return note(ps->notes,
			    "%s:%u: assignment outside of a section: ignored (as by systemd)",
			    ps->file, line) < 0
			   ? ep_error_set(err, -ENOMEM, "out of memory")
			   : 0;
	const char *eq = memchr(s, '=', (size_t)(e - s));
	if (!eq)
		return note(ps->notes, "%s:%u: a line without '=': ignored (as by systemd)",
			    ps->file, line) < 0
			   ? ep_error_set(err, -ENOMEM, "out of memory")
			   : 0;
	const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
	strip(&ks, &ke);
	strip(&vs, &ve);
	if (entry_push(ps->ret, &ps->cap, ps->section, ks, (size_t)(ke - ks), vs, (size_t)(ve - vs),
		       ps->file, line) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

int ep_unitfile_parse(const char *buf, size_t len, const char *file, struct ep_unit_entries *ret,
		      struct ep_strv *notes, struct ep_error *err)
{
	struct parse_state ps = {
	    .ret = ret, .cap = ret->n, .file = file ? file : "(unit)", .notes = notes};
	size_t before = ret->n;
	struct ep_strbuf cont = EP_STRBUF_INIT; /* a continued line so far */
	bool continuing = false;
	unsigned cont_line = 0, lineno = 0;
	int r = 0;
	size_t pos = 0;
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		pos = 3;
	while (pos < len && r == 0) {
		const char *s = buf + pos;
		size_t n = 0;
		while (pos + n < len && !strchr("\n\r", s[n]) && s[n] != '\0')
			n++;
		/* the end of the line: \n, \r\n, \r or NUL */
		size_t next = pos + n;
		if (next < len) {
			if (buf[next] == '\r' && next + 1 < len && buf[next + 1] == '\n')
				next++;
			next++;
		}
		pos = next;
		lineno++;
		if (n > LINE_MAX_BYTES) {
			r = ep_error_set(err, -E2BIG, "%s:%u: line longer than 1 MiB", ps.file,
					 lineno);
			break;
		}
		/* Comment lines are skipped everywhere, inside a continuation too. */
		const char *l = s;
		while (l < s + n && strchr(WHITESPACE, *l))
			l++;
		if (l < s + n && (*l == '#' || *l == ';'))
			continue;
		const char *p = s;
		size_t plen = n;
		if (continuing) {
			if (cont.len + n > LINE_MAX_BYTES) {
				r = ep_error_set(err, -E2BIG,
						 "%s:%u: continued line longer than 1 MiB", ps.file,
						 lineno);
				break;
			}
			ep_strbuf_add(&cont, s, n);
			if (ep_strbuf_oom(&cont)) {
				r = ep_error_set(err, -ENOMEM, "out of memory");
				break;
			}
			p = cont.buf;
			plen = cont.len;
		}
		bool escaped = false;
		for (size_t i = 0; i < plen; i++)
			escaped = escaped ? false : p[i] == '\\';
		if (escaped) {
			if (!continuing) {
				ep_strbuf_add(&cont, s, n);
				cont_line = lineno;
				continuing = true;
			}
			if (ep_strbuf_oom(&cont)) {
				r = ep_error_set(err, -ENOMEM, "out of memory");
				break;
			}
			cont.buf[cont.len - 1] = ' ';
			continue;
		}
		r = parse_line(&ps, p, plen, continuing ? cont_line : lineno, err);
		ep_strbuf_reset(&cont);
		continuing = false;
	}
	if (r == 0 && continuing)
		r = parse_line(&ps, cont.buf, cont.len, cont_line, err);
	ep_strbuf_release(&cont);
	free(ps.section);
	if (r < 0) {
		/* back to what the caller had (found by fuzz_unitfile: no arithmetic on NULL) */
		for (size_t i = before; i < ret->n; i++) {
			free(ret->v[i].section);
			free(ret->v[i].key);
			free(ret->v[i].value);
			free(ret->v[i].file);
		}
		ret->n = before;
	}
	return r;
}

int ep_unit_entries_get(const struct ep_unit_entries *e, const char *section, const char *key,
			const struct ep_unit_entry ***ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	const struct ep_unit_entry **v = NULL;
	size_t n = 0;
	for (size_t i = 0; i < e->n; i++) {
		if (strcmp(e->v[i].section, section) || strcmp(e->v[i].key, key))
			continue;
		if (!e->v[i].value[0]) {
			n = 0; /* an empty assignment resets the list */
			continue;
		}
		const struct ep_unit_entry **nv = realloc(v, (n + 1) * sizeof(*nv));
		if (!nv) {
			free(v);
			return -ENOMEM;
		}
		v = nv;
		v[n++] = &e->v[i];
	}
	if (!n) {
		free(v);
		return 0;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/* ---- specifiers ------------------------------------------------------------ */

/*
 * The unit-name specifiers of systemd.unit(5) that a unit file of etcd may
 * use: %% %n %N %p %i.  Others (%H, %m, %t ...) depend on the host and the
 * manager; they are kept as written, with a note.
 */
static int specifiers_expand(const char *value, const char *unit_name, struct ep_strbuf *out,
			     struct ep_strv *notes, const char *what)
{
	const char *unit = unit_name ? unit_name : "";
	const char *dot = strrchr(unit, '.');
	size_t nlen = dot ? (size_t)(dot - unit) : strlen(unit);
	const char *at = memchr(unit, '@', nlen);
	for (const char *p = value; *p; p++) {
		if (*p != '%') {
			ep_strbuf_addch(out, *p);
			continue;
		}
		char c = p[1];
		switch (c) {
		case '%':
			ep_strbuf_addch(out, '%');
			break;
		case 'n':
			ep_strbuf_adds(out, unit);
			break;
		case 'N':
			ep_strbuf_add(out, unit, nlen);
			break;
		case 'p':
			ep_strbuf_add(out, unit, at ? (size_t)(at - unit) : nlen);
			break;
		case 'i':
			if (at)
				ep_strbuf_add(out, at + 1, nlen - (size_t)(at - unit) - 1);
			break;
		default:
			ep_strbuf_addch(out, '%');
			if (c)
				ep_strbuf_addch(out, c);
			if (note(notes, "%s: the specifier '%%%c' is not expanded by etcdpilot",
				 what, c ? c : ' ') < 0)
				return -ENOMEM;
			break;
		}
		if (c)
			p++;
	}
	return ep_strbuf_oom(out) ? -ENOMEM : 0;
}

/* ---- words ----------------------------------------------------------------- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void add_utf8(struct ep_strbuf *sb, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	ep_strbuf_add(sb, b, n);
}

/*
 * One C escape after a backslash at *@p (systemd's cunescape_one): \a \b
 * \f \n \r \t \v \\ \" \' \s, \xNN, \NNN (octal), \uNNNN, \UNNNNNNNN.  A
 * NUL, a code point beyond Unicode or a surrogate is refused, as is any
 * other character.  Advances *@p past the escape.  0 or -EINVAL.
 */
static int cunescape_one(const char **p, struct ep_strbuf *out)
{
	const char *s = *p;
	static const char simple[] = "abfnrtv\\\"'s";
	static const char value[] = "\a\b\f\n\r\t\v\\\"' ";
	const char *k = *s ? strchr(simple, *s) : NULL;
	if (k) {
		ep_strbuf_addch(out, value[k - simple]);
		*p = s + 1;
		return 0;
	}
	if (*s == 'x') {
		int a = hexval(s[1]), b = a < 0 ? -1 : hexval(s[2]);
		if (a < 0 || b < 0 || (a == 0 && b == 0))
			return -EINVAL;
		ep_strbuf_addch(out, (char)(a << 4 | b));
		*p = s + 3;
		return 0;
	}
	if (*s >= '0' && *s <= '7') {
		if (!(s[1] >= '0' && s[1] <= '7') || !(s[2] >= '0' && s[2] <= '7'))
			return -EINVAL;
		unsigned v = (unsigned)(s[0] - '0') << 6 | (unsigned)(s[1] - '0') << 3 |
			     (unsigned)(s[2] - '0');
		if (v == 0 || v > 255)
			return -EINVAL;
		ep_strbuf_addch(out, (char)v);
		*p = s + 3;
		return 0;
	}
	if (*s == 'u' || *s == 'U') {
		int digits = *s == 'u' ? 4 : 8;
		uint32_t cp = 0;
		for (int i = 1; i <= digits; i++) {
			int h = hexval(s[i]);
			if (h < 0)
				return -EINVAL;
			cp = cp << 4 | (uint32_t)h;
		}
		if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return -EINVAL;
		add_utf8(out, cp);
		*p = s + 1 + digits;
		return 0;
	}
	return -EINVAL;
}

/*
 * The next word of *@p as extract_first_word(EXTRACT_UNQUOTE |
 * EXTRACT_CUNESCAPE) takes it: whitespace separates words, a quote may
 * start anywhere in a word and runs to the same quote, escapes are decoded
 * inside and outside quotes.  Returns 1 with *@ret (heap) and *@p moved
 * on, 0 at the end of the text, -EINVAL (with @why) for an unterminated
 * quote or a bad escape, -ENOMEM.
 */
static int next_word(const char **p, char **ret, const char **why)
{
	const char *s = *p;
	while (*s && strchr(WHITESPACE, *s))
		s++;
	if (!*s) {
		*p = s;
		return 0;
	}
	struct ep_strbuf w = EP_STRBUF_INIT;
	ep_strbuf_adds(&w, ""); /* "" is a word too */
	char quote = 0;
	while (*s) {
		char c = *s;
		if (!quote && strchr(WHITESPACE, c))
			break;
		if (quote && c == quote) {
			quote = 0;
			s++;
			continue;
		}
		if (!quote && (c == '\'' || c == '"')) {
			quote = c;
			s++;
			continue;
		}
		if (c == '\\') {
			s++;
			if (!*s) {
				*why = "a backslash at the end";
				ep_strbuf_release(&w);
				return -EINVAL;
			}
			if (cunescape_one(&s, &w) < 0) {
				*why = "a bad escape sequence";
				ep_strbuf_release(&w);
				return -EINVAL;
			}
			continue;
		}
		ep_strbuf_addch(&w, c);
		s++;
	}
	if (quote) {
		*why = "an unterminated quote";
		ep_strbuf_release(&w);
		return -EINVAL;
	}
	*p = s;
	*ret = ep_strbuf_detach(&w, NULL);
	return *ret ? 1 : -ENOMEM;
}

static bool env_name_ok(const char *s, size_t n)
{
	if (!n || isdigit((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* The value of @name (@len bytes) in @env, the last assignment winning; NULL when unset. */
static const char *env_get(const struct ep_kvv *env, const char *name, size_t len)
{
	const char *v = NULL;
	for (size_t i = 0; env && i < env->n; i++)
		if (strlen(env->v[i].name) == len && !strncmp(env->v[i].name, name, len))
			v = env->v[i].value;
	return v;
}

/*
 * Replace ${NAME}, ${NAME:-default}, ${NAME:+alternative} and $$ in the
 * word @w (systemd's replace_env() for command lines; a "$NAME" inside a
 * word is kept as written).  Unset variables are named in @unset.
 */
static int replace_in_word(const char *w, const struct ep_kvv *env, struct ep_strbuf *out,
			   struct ep_strv *unset)
{
	for (const char *p = w; *p;) {
		if (p[0] == '$' && p[1] == '$') {
			ep_strbuf_addch(out, '$');
			p += 2;
			continue;
		}
		if (p[0] == '$' && p[1] == '{') {
			const char *close = strchr(p + 2, '}');
			if (!close) {
				ep_strbuf_adds(out, p);
				break;
			}
			const char *name = p + 2;
			size_t nlen = strcspn(name, ":}");
			const char *op = name + nlen;
			if (env_name_ok(name, nlen) &&
			    (op == close || (op[0] == ':' && (op[1] == '-' || op[1] == '+')))) {
				const char *v = env_get(env, name, nlen);
				if (op == close) {
					ep_strbuf_adds(out, v);
				} else {
					bool set = v && *v;
					const char *alt = op + 2;
					size_t alen = (size_t)(close - alt);
					if (op[1] == '-' && set)
						ep_strbuf_adds(out, v);
					else if (op[1] == '-' || set)
						ep_strbuf_add(out, alt, alen);
				}
				if (!v && unset) {
					_cleanup_free_ char *n = strndup(name, nlen);
					if (!n || (!ep_strv_contains(unset, n) &&
						   ep_strv_push(unset, n) < 0))
						return -ENOMEM;
				}
				p = close + 1;
				continue;
			}
		}
		ep_strbuf_addch(out, *p++);
	}
	return ep_strbuf_oom(out) ? -ENOMEM : 0;
}

/* Split @value at whitespace, honouring quotes (strv_split_full(EXTRACT_RELAX|EXTRACT_UNQUOTE)). */
static int split_value(const char *value, struct ep_strv *out)
{
	const char *p = value;
	for (;;) {
		while (*p && strchr(WHITESPACE, *p))
			p++;
		if (!*p)
			return 0;
		struct ep_strbuf w = EP_STRBUF_INIT;
		ep_strbuf_adds(&w, "");
		char quote = 0;
		while (*p && (quote || !strchr(WHITESPACE, *p))) {
			if (quote && *p == quote)
				quote = 0;
			else if (!quote && (*p == '\'' || *p == '"'))
				quote = *p;
			else if (*p == '\\' && p[1])
				ep_strbuf_addch(&w, *++p);
			else
				ep_strbuf_addch(&w, *p);
			p++;
		}
		_cleanup_free_ char *s = ep_strbuf_detach(&w, NULL);
		if (!s || ep_strv_push(out, s) < 0)
			return -ENOMEM;
	}
}

int ep_unit_exec_parse(const char *value, const char *unit_name, const struct ep_kvv *env,
		       struct ep_unit_exec *ret, struct ep_strv *notes, struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	struct ep_strbuf sb = EP_STRBUF_INIT;
	if (specifiers_expand(value, unit_name, &sb, notes, "ExecStart") < 0) {
		ep_strbuf_release(&sb);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	_cleanup_free_ char *text = ep_strbuf_detach(&sb, NULL);
	if (!text)
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct ep_strv words = {0};
	const char *p = text, *why = NULL;
	int r;
	char *w = NULL;
	while ((r = next_word(&p, &w, &why)) > 0) {
		int pr = ep_strv_push(&words, w);
		free(w);
		if (pr < 0) {
			r = -ENOMEM;
			break;
		}
	}
	if (r == -EINVAL) {
		ep_strv_release(&words);
		return ep_error_set(err, r,
				    "the command line has %s: systemd ignores it, and the unit "
				    "cannot start",
				    why);
	}
	if (r < 0) {
		ep_strv_release(&words);
		return ep_error_set(err, r, "out of memory");
	}
	if (!words.n) {
		ep_strv_release(&words);
		return ep_error_set(err, -EINVAL, "the command line is empty");
	}
	/* the prefixes, in any order, each once ("!!" is one) */
	const char *f = words.v[0];
	for (;; f++) {
		if (*f == '-' && !(ret->flags & EP_EXEC_IGNORE_FAILURE))
			ret->flags |= EP_EXEC_IGNORE_FAILURE;
		else if (*f == '@' && !(ret->flags & EP_EXEC_ARGV0))
			ret->flags |= EP_EXEC_ARGV0;
		else if (*f == ':' && !(ret->flags & EP_EXEC_NO_ENV_EXPAND))
			ret->flags |= EP_EXEC_NO_ENV_EXPAND;
		else if (*f == '+' &&
			 !(ret->flags & (EP_EXEC_PRIVILEGED | EP_EXEC_NO_SETUID | EP_EXEC_AMBIENT)))
			ret->flags |= EP_EXEC_PRIVILEGED;
		else if (*f == '!' && f[1] == '!' &&
			 !(ret->flags &
			   (EP_EXEC_PRIVILEGED | EP_EXEC_NO_SETUID | EP_EXEC_AMBIENT))) {
			ret->flags |= EP_EXEC_AMBIENT;
			f++;
		} else if (*f == '!' && !(ret->flags & (EP_EXEC_PRIVILEGED | EP_EXEC_NO_SETUID |
							EP_EXEC_AMBIENT)))
			ret->flags |= EP_EXEC_NO_SETUID;
		else
			break;
	}
	r = 0;
	if (!*f || (strchr(f, '/') && f[0] != '/'))
		r = ep_error_set(err, -EINVAL,
				 "the program '%s' is neither an absolute path nor a plain name: "
				 "systemd refuses the command line",
				 words.v[0]);
	for (size_t i = 0; r == 0 && i < words.n; i++)
		if (!strcmp(words.v[i], ";"))
			r = ep_error_set(err, -EINVAL,
					 "the command line holds several commands (';'): only "
					 "Type=oneshot services may have that");
	size_t first = (ret->flags & EP_EXEC_ARGV0) ? 1 : 0;
	if (r == 0 && first && words.n < 2)
		r = ep_error_set(err, -EINVAL, "'@' needs the argv[0] word after the program");
	if (r == 0 && !(ret->path = strdup(f)))
		r = ep_error_set(err, -ENOMEM, "out of memory");
	struct ep_strv unset = {0};
	for (size_t i = first; r == 0 && i < words.n; i++) {
		const char *word = i == 0 ? ret->path : words.v[i];
		bool expand = !(ret->flags & EP_EXEC_NO_ENV_EXPAND) && (i > 0 || first);
		if (!expand) {
			r = ep_strv_push(&ret->argv, word);
		} else if (word[0] == '$' && env_name_ok(word + 1, strlen(word + 1))) {
			/* "$NAME" alone: the value split at whitespace, zero or more words */
			const char *v = env_get(env, word + 1, strlen(word + 1));
			if (!v && !ep_strv_contains(&unset, word + 1))
				r = ep_strv_push(&unset, word + 1);
			if (r == 0 && v)
				r = split_value(v, &ret->argv);
		} else {
			struct ep_strbuf o = EP_STRBUF_INIT;
			r = replace_in_word(word, env, &o, &unset);
			_cleanup_free_ char *s = ep_strbuf_detach(&o, NULL);
			if (r == 0)
				r = s ? ep_strv_push(&ret->argv, s) : -ENOMEM;
		}
		if (r < 0)
			r = ep_error_set(err, -ENOMEM, "out of memory");
	}
	for (size_t i = 0; r == 0 && i < unset.n; i++)
		if (note(notes,
			 "ExecStart uses $%s, which is not set: systemd replaces it with nothing",
			 unset.v[i]) < 0)
			r = ep_error_set(err, -ENOMEM, "out of memory");
	ep_strv_release(&unset);
	ep_strv_release(&words);
	if (r < 0)
		ep_unit_exec_release(ret);
	return r;
}

int ep_unit_environment_parse(const char *value, const char *unit_name, struct ep_kvv *ret,
			      struct ep_strv *notes, struct ep_error *err)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	if (specifiers_expand(value, unit_name, &sb, notes, "Environment") < 0) {
		ep_strbuf_release(&sb);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	_cleanup_free_ char *text = ep_strbuf_detach(&sb, NULL);
	if (!text)
		return ep_error_set(err, -ENOMEM, "out of memory");
	struct ep_kvv got = {0};
	const char *p = text, *why = NULL;
	char *w = NULL;
	int r;
	while ((r = next_word(&p, &w, &why)) > 0) {
		const char *eq = strchr(w, '=');
		bool ok = eq && env_name_ok(w, (size_t)(eq - w));
		for (const char *c = eq ? eq + 1 : ""; ok && *c; c++)
			ok = (unsigned char)*c >= 0x20 && *c != 0x7f;
		if (!ok) {
			_cleanup_free_ char *shown = ep_escape(w);
			r = note(
			    notes,
			    "Environment: '%s' is not a valid assignment: ignored (as by systemd)",
			    shown ? shown : "");
		} else {
			_cleanup_free_ char *name = strndup(w, (size_t)(eq - w));
			r = name ? ep_kvv_push(&got, name, eq + 1) : -ENOMEM;
		}
		free(w);
		if (r < 0)
			break;
	}
	if (r == -EINVAL) {
		ep_kvv_release(&got);
		return ep_error_set(err, r, "Environment= has %s: systemd ignores the whole line",
				    why);
	}
	for (size_t i = 0; r == 0 && i < got.n; i++)
		r = ep_kvv_push(ret, got.v[i].name, got.v[i].value);
	ep_kvv_release(&got);
	return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
}
