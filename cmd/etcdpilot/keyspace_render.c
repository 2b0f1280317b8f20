/*
 * keyspace_render.c - the keyspace document (keyspace_json.c) as text: the
 * tree with keys, bytes and share at each level, then per resource what
 * the values are, their churn and leases, the encryption at rest, the
 * most-modified keys and the encryption check.  Everything from the
 * cluster is already escaped in the document.  Also the progress line.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_client.h"
#include "keyspace_cli.h"

static const char *js(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static uint64_t ju(const json_t *o, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(o, k));
}

const char *ks_num(uint64_t n, char *buf, size_t size)
{
	char raw[24];
	int len = snprintf(raw, sizeof(raw), "%" PRIu64, n);
	size_t o = 0;
	for (int i = 0; i < len && o + 2 < size; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = raw[i];
	}
	buf[o] = '\0';
	return buf;
}

static void row(FILE *f, uint64_t keys, uint64_t bytes, double share, int indent, const char *name,
		const char *note)
{
	char k[32], b[32];
	fprintf(f, "%12s %10s %6.1f%%  %*s%s%s\n", ks_num(keys, k, sizeof(k)),
		cli_bytes(bytes, b, sizeof(b)), share, indent, "", name, note);
}

static void more_row(FILE *f, const json_t *more, int indent, const char *what)
{
	uint64_t count = ju(more, "count");
	char k[32], b[32], c[32];
	if (!count)
		return;
	fprintf(f, "%12s %10s %7s  %*s\u2026 and %s more %s (%s keys, %s)\n", "", "", "", indent, "",
		ks_num(count, c, sizeof(c)), what, ks_num(ju(more, "keys"), k, sizeof(k)),
		cli_bytes(ju(more, "bytes"), b, sizeof(b)));
}

static void tree(FILE *f, const json_t *children, const json_t *more, int indent,
		 const char *what)
{
	for (size_t i = 0; i < json_array_size(children); i++) {
		const json_t *c = json_array_get(children, i);
		bool is_ns = !strcmp(js(c, "type"), "namespace");
		row(f, ju(c, "keys"), ju(c, "bytes"), json_number_value(json_object_get(c, "share")),
		    indent, js(c, "name"), is_ns ? "/" : "");
		if (json_object_get(c, "children"))
			tree(f, json_object_get(c, "children"), json_object_get(c, "more"),
			     indent + 2, "objects");
	}
	if (more)
		more_row(f, more, indent, what);
}

static void kind_text(const json_t *r, char *buf, size_t size)
{
	const json_t *kinds = json_object_get(r, "kinds");
	const json_t *k0 = json_array_get(kinds, 0);
	size_t n = json_array_size(kinds) + (ju(r, "other_kinds") ? 1 : 0);
	if (!k0) {
		snprintf(buf, size, "-");
		return;
	}
	snprintf(buf, size, "%s %s%s", js(k0, "api_version"), js(k0, "kind"), n > 1 ? " +" : "");
}

static void values(FILE *f, const json_t *res)
{
	char a[32], b[32], c[32], d[32], e[32], g[32], h[32], kind[256];
	int wr = 8, wk = 4; /* RESOURCE, KIND */
	for (size_t i = 0; i < json_array_size(res); i++) {
		const json_t *r = json_array_get(res, i);
		kind_text(r, kind, sizeof(kind));
		if ((int)strlen(js(r, "resource")) > wr)
			wr = (int)strlen(js(r, "resource"));
		if ((int)strlen(kind) > wk)
			wk = (int)strlen(kind);
	}
	fprintf(f, "\n%-*s  %-*s %9s %9s %9s %9s %8s %9s %7s\n", wr, "RESOURCE", wk, "KIND",
		"PROTOBUF", "JSON", "ENCRYPTED", "UNKNOWN", "LEASED", "WRITES", "MAX VER");
	for (size_t i = 0; i < json_array_size(res); i++) {
		const json_t *r = json_array_get(res, i);
		const json_t *enc = json_object_get(r, "encodings");
		const json_t *ver = json_object_get(r, "versions");
		kind_text(r, kind, sizeof(kind));
		fprintf(f, "%-*s  %-*s %9s %9s %9s %9s %8s %9s %7s\n", wr, js(r, "resource"), wk, kind,
			ks_num(ju(enc, "protobuf"), a, sizeof(a)), ks_num(ju(enc, "json"), b, sizeof(b)),
			ks_num(ju(enc, "encrypted"), c, sizeof(c)),
			ks_num(ju(enc, "unknown"), d, sizeof(d)), ks_num(ju(r, "leased"), e, sizeof(e)),
			ks_num(ju(ver, "total"), g, sizeof(g)), ks_num(ju(ver, "max"), h, sizeof(h)));
	}
}

static void encryption(FILE *f, const json_t *res)
{
	bool title = false;
	char a[32], b[32];
	for (size_t i = 0; i < json_array_size(res); i++) {
		const json_t *r = json_array_get(res, i);
		const json_t *enc = json_object_get(r, "encryption");
		if (!json_array_size(enc))
			continue;
		if (!title)
			fprintf(f, "\nENCRYPTION AT REST\n");
		title = true;
		fprintf(f, "%s: %s of %s values encrypted (", js(r, "resource"),
			ks_num(ju(json_object_get(r, "encodings"), "encrypted"), a, sizeof(a)),
			ks_num(ju(r, "keys"), b, sizeof(b)));
		for (size_t k = 0; k < json_array_size(enc); k++) {
			const json_t *x = json_array_get(enc, k);
			fprintf(f, "%s%s key '%s' %s", k ? ", " : "", js(x, "provider"), js(x, "key"),
				ks_num(ju(x, "keys"), a, sizeof(a)));
		}
		if (ju(r, "other_encryption"))
			fprintf(f, ", other keys %s", ks_num(ju(r, "other_encryption"), a, sizeof(a)));
		fprintf(f, "); %s in plaintext\n", ks_num(ju(r, "plaintext"), a, sizeof(a)));
	}
}

static void hot(FILE *f, const json_t *list)
{
	char a[32], b[32];
	if (!json_array_size(list))
		return;
	fprintf(f, "\nMOST-MODIFIED KEYS\n%9s %12s  %s\n", "VERSION", "MOD REV", "KEY");
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *h = json_array_get(list, i);
		fprintf(f, "%9s %12s  %s\n", ks_num(ju(h, "version"), a, sizeof(a)),
			ks_num(ju(h, "mod_revision"), b, sizeof(b)), js(h, "key"));
	}
}

static void check(FILE *f, const json_t *c)
{
	char a[32], b[32];
	const json_t *names = json_object_get(c, "resources");
	fprintf(f, "\nENCRYPTION CHECK (");
	for (size_t i = 0; i < json_array_size(names); i++)
		fprintf(f, "%s%s", i ? ", " : "", json_string_value(json_array_get(names, i)));
	fprintf(f, "): ");
	if (json_is_true(json_object_get(c, "ok")))
		fprintf(f, "ok, none of %s values is stored in plaintext\n",
			ks_num(ju(c, "values"), a, sizeof(a)));
	else
		fprintf(f, "FAILED, %s of %s values are stored in plaintext:\n",
			ks_num(ju(c, "plaintext"), a, sizeof(a)), ks_num(ju(c, "values"), b, sizeof(b)));
	const json_t *keys = json_object_get(c, "keys");
	for (size_t i = 0; i < json_array_size(keys); i++)
		fprintf(f, "  %s\n", json_string_value(json_array_get(keys, i)));
	if (ju(c, "more"))
		fprintf(f, "  \u2026 and %s more\n", ks_num(ju(c, "more"), a, sizeof(a)));
	const json_t *un = json_object_get(c, "unmatched");
	for (size_t i = 0; i < json_array_size(un); i++)
		fprintf(f, "note: no keys of resource '%s' under this prefix\n",
			json_string_value(json_array_get(un, i)));
}

void ks_render(const json_t *doc, FILE *f)
{
	char a[32], b[32], c[32], d[32], e[32];
	const json_t *res = json_object_get(doc, "resources");
	const json_t *enc = json_object_get(doc, "encodings");
	uint64_t ms = ju(doc, "took_ms");
	fprintf(f, "%s at revision %" PRIu64 " (%s): %s keys, %s, read in %" PRIu64 " requests, %"
		   PRIu64 ".%01" PRIu64 " s\n",
		js(doc, "prefix"), ju(doc, "revision"), js(doc, "endpoint"),
		ks_num(ju(doc, "keys"), a, sizeof(a)), cli_bytes(ju(doc, "bytes"), b, sizeof(b)),
		ju(doc, "requests"), ms / 1000, ms % 1000 / 100);
	fprintf(f, "values: protobuf %s, json %s, encrypted %s, unknown %s; %s keys hold a lease\n\n",
		ks_num(ju(enc, "protobuf"), a, sizeof(a)), ks_num(ju(enc, "json"), b, sizeof(b)),
		ks_num(ju(enc, "encrypted"), c, sizeof(c)), ks_num(ju(enc, "unknown"), d, sizeof(d)),
		ks_num(ju(doc, "leased"), e, sizeof(e)));
	fprintf(f, "%12s %10s %7s  %s\n", "KEYS", "BYTES", "SHARE", "RESOURCE / NAMESPACE / OBJECT");
	for (size_t i = 0; i < json_array_size(res); i++) {
		const json_t *r = json_array_get(res, i);
		char note[96];
		const char *scope = js(r, "scope");
		if (!strcmp(scope, "namespaced") || !strcmp(scope, "mixed"))
			snprintf(note, sizeof(note), " (%s, %s namespaces)", scope,
				 ks_num(ju(r, "namespaces"), a, sizeof(a)));
		else
			snprintf(note, sizeof(note), " (%s)", scope);
		row(f, ju(r, "keys"), ju(r, "bytes"), json_number_value(json_object_get(r, "share")),
		    0, js(r, "resource"), note);
		if (json_object_get(r, "children"))
			tree(f, json_object_get(r, "children"), json_object_get(r, "more"), 2,
			     !strcmp(scope, "namespaced") ? "namespaces"
			     : !strcmp(scope, "mixed")	  ? "namespaces or objects"
							  : "objects");
	}
	more_row(f, json_object_get(doc, "more_resources"), 0, "resources");
	values(f, res);
	encryption(f, res);
	hot(f, json_object_get(doc, "hot"));
	if (json_is_object(json_object_get(doc, "encryption_check")))
		check(f, json_object_get(doc, "encryption_check"));
}

/* ------------------------------------------------------------------------ */

static bool progress_shown;

int ks_progress(void *userdata, const struct ep_keyspace_progress *p)
{
	static uint64_t last;
	char a[32], b[32], c[32];
	(void)userdata;
	if (!isatty(STDERR_FILENO) || (p->elapsed_ms < last + 100 && last))
		return 0;
	last = p->elapsed_ms ? p->elapsed_ms : 1;
	fprintf(stderr, "\r\033[K[keyspace] %s of %s keys, %s, revision %" PRIu64 ", %" PRIu64
			".%01" PRIu64 " s",
		ks_num(p->keys, a, sizeof(a)), ks_num(p->total, b, sizeof(b)),
		cli_bytes(p->bytes, c, sizeof(c)), p->revision, p->elapsed_ms / 1000,
		p->elapsed_ms % 1000 / 100);
	fflush(stderr);
	progress_shown = true;
	return 0;
}

void ks_progress_clear(void)
{
	if (progress_shown)
		fputs("\r\033[K", stderr);
	progress_shown = false;
}
