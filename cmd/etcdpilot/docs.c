/*
 * docs.c - etcdpilot __docs DIR OVERVIEW, run by the build: the man pages.
 *
 * DIR/etcdpilot.8 is OVERVIEW (doc/etcdpilot.8, written by hand: what
 * etcdpilot is, every command in a paragraph, the flag groups, files, exit
 * codes) with this build's version and date.  DIR/etcdpilot-CMD.8, one per
 * command as git has git-CMD(1), is made from the command table: the
 * synopsis, the command's paragraph taken from OVERVIEW's COMMANDS section
 * (its --help text when OVERVIEW has none), every flag it takes with the
 * table's help, the output formats, the exit codes it can give.  Adding a
 * command or a flag therefore changes its page with no edit to it; what must
 * be written by hand is the paragraph in OVERVIEW, and tests/e2e/t01-docs.sh
 * fails until it is.  Hidden: for the build, not for users.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "etcdpilot/buildinfo.h"

/* Text for roff: backslashes and minus signs escaped, no line starting with a control character. */
static void roff_text(FILE *f, const char *s, bool line_start)
{
	for (; *s; s++) {
		if (line_start && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		line_start = *s == '\n';
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

/* "certs renew" -> "certs-renew" into @buf. */
static const char *dashed(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s", name);
	for (char *p = buf; *p; p++)
		if (*p == ' ')
			*p = '-';
	return buf;
}

struct lines {
	char **v;
	size_t n;
};

static int lines_read(const char *path, struct lines *l)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		if (len && line[len - 1] == '\n')
			line[len - 1] = '\0';
		char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
		if (!v) {
			r = -ENOMEM;
			break;
		}
		l->v = v;
		if (!(l->v[l->n] = strdup(line))) {
			r = -ENOMEM;
			break;
		}
		l->n++;
	}
	free(line);
	fclose(f);
	return r;
}

static void lines_release(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/*
 * A tag line of the man page as words: the macro, quotes and font changes
 * dropped, "\-" as "-" (".BI "certs renew " NAME|all" -> "certs renew
 * NAME|all").  Into @buf.
 */
static const char *tag_words(const char *line, char *buf, size_t len)
{
	size_t n = 0;
	const char *p = line;
	if (*p == '.')
		while (*p && *p != ' ')
			p++;
	for (; *p && n + 1 < len; p++) {
		if (*p == '"')
			continue;
		if (p[0] == '\\' && p[1] == 'f' && p[2]) {
			p += 2;
			continue;
		}
		if (p[0] == '\\' && p[1] == '-') {
			p++;
			buf[n++] = '-';
			continue;
		}
		if (*p == ' ' && (n == 0 || buf[n - 1] == ' '))
			continue;
		buf[n++] = *p;
	}
	while (n && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	return buf;
}

/* The command a COMMANDS tag names: the longest listed name the tag starts with. */
static const struct cli_command *tag_command(const char *words)
{
	const struct cli_command *best = NULL;
	for (size_t k = 0; cli_commands[k]; k++) {
		const struct cli_command *c = cli_commands[k];
		size_t len = strlen(c->name);
		if (c->hidden || strncmp(words, c->name, len) || (words[len] && words[len] != ' '))
			continue;
		if (!best || len > strlen(best->name))
			best = c;
	}
	return best;
}

/* Lines [*@from, *@to) of @ov: the body of @c's entry in COMMANDS; false when it has none. */
static bool overview_entry(const struct lines *ov, const struct cli_command *c, size_t *from,
			   size_t *to)
{
	bool in = false;
	for (size_t i = 0; i < ov->n; i++) {
		const char *l = ov->v[i];
		if (!strncmp(l, ".SH", 3)) {
			in = strstr(l, "COMMANDS") != NULL;
			continue;
		}
		if (!in || strcmp(l, ".TP") || i + 1 >= ov->n)
			continue;
		char w[256];
		if (tag_command(tag_words(ov->v[i + 1], w, sizeof(w))) != c)
			continue;
		size_t j = i + 2;
		while (j < ov->n && strcmp(ov->v[j], ".TP") && strncmp(ov->v[j], ".SH", 3))
			j++;
		*from = i + 2;
		*to = j;
		return true;
	}
	return false;
}

static void print_opt_entries(FILE *f, const struct cli_opt *opts)
{
	for (const struct cli_opt *o = opts; o && o->name; o++) {
		fputs(".TP\n", f);
		if (o->short_name && o->argname)
			fprintf(f, ".BI \\-%c \", \" \\-\\-", o->short_name);
		else if (o->short_name)
			fprintf(f, ".BR \\-%c \", \" \\-\\-", o->short_name);
		else
			fputs(o->argname ? ".BI \\-\\-" : ".B \\-\\-", f);
		roff_text(f, o->name, false);
		if (o->argname) {
			fputs(" \" ", f);
			roff_text(f, o->argname, false);
			fputc('"', f);
		}
		fputc('\n', f);
		roff_text(f, o->help, true);
		fputs("\n", f);
	}
}

static void print_page(FILE *f, const struct cli_command *c, const struct lines *ov)
{
	char d[128], date[11] = "";
	const char *bd = ep_build_date();
	if (strcmp(bd, "unknown"))
		snprintf(date, sizeof(date), "%s", bd);
	dashed(c->name, d, sizeof(d));
	fputs(".\\\" Made by 'etcdpilot __docs' from the command table and doc/etcdpilot.8.\n"
	      ".\\\" Do not edit: change the command's table entry or its paragraph there.\n",
	      f);
	fputs(".TH ETCDPILOT\\-", f);
	for (const char *p = d; *p; p++) {
		if (*p == '-')
			fputs("\\-", f);
		else
			fputc(toupper((unsigned char)*p), f);
	}
	fprintf(f, " 8 \"%s\" \"etcdpilot %s\" \"System Administration\"\n", date, ep_version());
	fputs(".SH NAME\netcdpilot\\-", f);
	roff_text(f, d, false);
	fputs(" \\- ", f);
	roff_text(f, c->summary, false);
	fputs("\n.SH SYNOPSIS\n.B etcdpilot ", f);
	roff_text(f, c->name, false);
	fputc('\n', f);
	if (c->args) {
		fputs(".I \"", f);
		roff_text(f, c->args, false);
		fputs("\"\n", f);
	}
	fputs("[\\fIFLAGS\\fR]\n.SH DESCRIPTION\n", f);
	if (!c->run) {
		fputs(".B Not implemented yet:\nthis command exits 1 and changes nothing.\n", f);
		if (c->instead) {
			fputs("Until it is, do it by hand:\n.PP\n.nf\n", f);
			roff_text(f, c->instead, true);
			fputs("\n.fi\n.PP\n", f);
		}
	}
	/* The paragraph of etcdpilot(8), then what --help says. */
	size_t from = 0, to = 0;
	bool para = ov && overview_entry(ov, c, &from, &to);
	for (size_t i = from; para && i < to; i++)
		fprintf(f, "%s\n", ov->v[i]);
	if (c->help) {
		fputs(para ? ".PP\n" : "", f);
		roff_text(f, c->help, true);
		fputc('\n', f);
	}
	if (c->help_extra) {
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);
		if (m) {
			c->help_extra(m);
			fclose(m);
			fputs(".PP\n.nf\n", f);
			roff_text(f, buf[0] == '\n' ? buf + 1 : buf, true);
			fputs(".fi\n", f);
			free(buf);
		}
	}
	fputs(".SH OPTIONS\nFlags may stand before or after the command words.\n", f);
	if (c->opts && c->opts->name) {
		fputs(".SS \"Flags of ", f);
		roff_text(f, c->name, false);
		fputs("\"\n", f);
		print_opt_entries(f, c->opts);
	}
	static const unsigned groups[] = {CLI_NODE, CLI_SYSTEMD, CLI_CLIENT, 0};
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		if (groups[g] && !(c->groups & groups[g]))
			continue;
		fprintf(f, ".SS \"%s\"\n", cli_opt_group_title(groups[g]));
		print_opt_entries(f, cli_opt_group(groups[g]));
		if (!groups[g])
			fputs(".TP\n.B \\-\\-version\nprint the version (as \\fBetcdpilot "
			      "version\\fR)\n",
			      f);
	}
	if (c->json_output || c->yaml_output) {
		fputs(".SH OUTPUT\n", f);
		if (c->json_output)
			fputs("With \\fB\\-o json\\fR, standard output holds exactly one JSON "
			      "document, "
			      "with \\fBapiVersion\\fR and \\fBkind\\fR; its fields are listed in\n"
			      ".I /usr/share/doc/etcdpilot/json.md\n"
			      "and only ever added to.\n",
			      f);
		if (c->yaml_output)
			fputs("With \\fB\\-o yaml\\fR, standard output holds exactly one YAML "
			      "document.\n",
			      f);
		fputs("Progress and diagnostics go to standard error.\n", f);
	}
	fputs(".SH EXIT STATUS\n", f);
	for (const struct cli_exit_code *e = cli_exit_codes; e->meaning; e++) {
		if (e->command && strcmp(e->command, c->name))
			continue;
		fprintf(f, ".TP\n.B %d\n", e->code);
		roff_text(f, e->meaning, true);
		fputc('\n', f);
	}
	fputs(".SH SEE ALSO\n.BR etcdpilot (8)", f);
	/* The other commands of its group, or the subcommands of this one. */
	char first[64];
	snprintf(first, sizeof(first), "%s", c->name);
	char *sp = strchr(first, ' ');
	if (sp)
		*sp = '\0';
	for (size_t k = 0; cli_commands[k]; k++) {
		const struct cli_command *o = cli_commands[k];
		size_t fl = strlen(first);
		if (o == c || o->hidden || strncmp(o->name, first, fl) ||
		    (o->name[fl] && o->name[fl] != ' '))
			continue;
		fputs(",\n.BR etcdpilot\\-", f);
		roff_text(f, dashed(o->name, d, sizeof(d)), false);
		fputs(" (8)", f);
	}
	fputc('\n', f);
}

/* OVERVIEW with this build's version and date on its .TH line. */
static void print_overview(FILE *f, const struct lines *ov)
{
	for (size_t i = 0; i < ov->n; i++) {
		const char *l = ov->v[i];
		if (!strncmp(l, ".TH ", 4)) {
			char date[11] = "";
			if (strcmp(ep_build_date(), "unknown"))
				snprintf(date, sizeof(date), "%s", ep_build_date());
			fprintf(
			    f,
			    ".TH ETCDPILOT 8 \"%s\" \"etcdpilot %s\" \"System Administration\"\n",
			    date, ep_version());
		} else {
			fprintf(f, "%s\n", l);
		}
	}
}

static int write_page(const char *dir, const char *name, const struct cli_command *c,
		      const struct lines *ov, struct ep_error *err)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.8", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return ep_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
	if (c)
		print_page(f, c, ov);
	else
		print_overview(f, ov);
	if (fclose(f) == EOF)
		return ep_error_set(err, -errno, "cannot write '%s': %s", path, strerror(errno));
	return 0;
}

static int docs_run(struct cli_ctx *ctx, struct ep_error *err)
{
	const char *dir = ctx->args[0];
	struct lines ov = {0};
	int r = lines_read(ctx->args[1], &ov);
	if (r < 0) {
		lines_release(&ov);
		return ep_error_usage(err, r, "cannot read '%s': %s", ctx->args[1], strerror(-r));
	}
	r = write_page(dir, "etcdpilot", NULL, &ov, err);
	for (size_t k = 0; r >= 0 && cli_commands[k]; k++) {
		const struct cli_command *c = cli_commands[k];
		char d[128], name[160];
		if (c->hidden)
			continue;
		snprintf(name, sizeof(name), "etcdpilot-%s", dashed(c->name, d, sizeof(d)));
		r = write_page(dir, name, c, &ov, err);
	}
	lines_release(&ov);
	return r;
}

const struct cli_command cmd_docs = {
    .name = "__docs",
    .run = docs_run,
    .args = "DIR OVERVIEW",
    .summary = "write the man pages into DIR (for the build)",
    .min_args = 2,
    .max_args = 2,
    .hidden = true,
};
