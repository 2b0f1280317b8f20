/*
 * main.c - the entry point: find the command, parse flags wherever they
 * stand, run the command, report its error once and pick the exit code.
 * Exit codes: 0 success, 1 failure, 2 usage or configuration, 3 health:
 * some member is unhealthy, 4 keyspace --check-encryption: values stored in
 * plaintext.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "etcdpilot/fs.h"

const struct cli_command *const cli_commands[] = {
	&cmd_init,
	&cmd_init_phase,
	&cmd_join,
	&cmd_reset,
	&cmd_health,
	&cmd_member_list,
	&cmd_member_add,
	&cmd_member_remove,
	&cmd_member_promote,
	&cmd_certs_generate,
	&cmd_certs_check_expiration,
	&cmd_certs_renew,
	&cmd_certs_export_bundle,
	&cmd_certs_import_bundle,
	&cmd_render_manifest,
	&cmd_render_unit,
	&cmd_convert,
	&cmd_snapshot_save,
	&cmd_config_print,
	&cmd_keyspace,
	&cmd_keyspace_get,
	&cmd_operate,
	&cmd_version,
	&cmd_completion,
	&cmd_docs,
	NULL,
};

const struct cli_exit_code cli_exit_codes[] = {
	{ 0, NULL, "success" },
	{ 1, NULL, "failure" },
	{ 2, NULL, "bad usage or configuration (nothing changed)" },
	{ CLI_UNHEALTHY, "health", "some member is unhealthy" },
	{ CLI_PLAINTEXT, "keyspace", "--check-encryption found values stored in plaintext" },
	{ 0, NULL, NULL },
};

enum { OPT_GLOBAL, OPT_NODE, OPT_CLIENT, OPT_SYSTEMD, OPT_LOCAL };

static const struct cli_opt global_opts[] = {
	{ "root", 0, true, "DIR", "read and write every node path under DIR (default /)" },
	{ "config", 0, true, "FILE", "kubeadm and/or EtcdPilotConfiguration YAML file" },
	{ "output", 'o', true, "FORMAT", "output format: text (default) or json" },
	{ "dry-run", 0, false, NULL, "print the plan and the files; change nothing" },
	{ "timeout", 0, true, "DURATION", "deadline for waits and cluster calls (e.g. 90s, 4m)" },
	{ "verbose", 'v', false, NULL, "say more on stderr (-vv: more still)" },
	{ "v", 0, true, "N", "verbosity level, as kubeadm's --v=N (0: quiet, 1: -v, 2: -vv)" },
	{ "help", 'h', false, NULL, "show help and exit" },
	{ 0 },
};

static const struct cli_opt node_opts[] = {
	{ "name", 0, true, "NAME", "member and node name (default: host name)" },
	{ "advertise-address", 0, true, "IP", "address peers and clients reach this member on" },
	{ "mode", 0, true, "MODE", "static-pod (default) or systemd" },
	{ "etcd-version", 0, true, "X.Y.Z", "etcd version to run (decides flags and probes)" },
	{ "image-repository", 0, true, "REPO", "image repository (default registry.k8s.io)" },
	{ "data-dir", 0, true, "DIR", "etcd data directory (default /var/lib/etcd)" },
	{ "cert-dir", 0, true, "DIR", "certificates directory (default /etc/kubernetes/pki)" },
	{ "manifest-dir", 0, true, "DIR",
	  "static pod directory (default /etc/kubernetes/manifests)" },
	{ "key-type", 0, true, "TYPE",
	  "rsa-2048 (default), rsa-3072, rsa-4096, ecdsa-p256 or ecdsa-p384" },
	{ 0 },
};

static const struct cli_opt client_opts[] = {
	{ "endpoints", 0, true, "URLS", "comma-separated client URLs (default $ETCDCTL_ENDPOINTS, "
					"then this node's member)" },
	{ "cacert", 0, true, "FILE", "CA bundle to verify members with ($ETCDCTL_CACERT)" },
	{ "cert", 0, true, "FILE", "client certificate ($ETCDCTL_CERT)" },
	{ "key", 0, true, "FILE", "client key ($ETCDCTL_KEY)" },
	{ 0 },
};

static const struct cli_opt systemd_opts[] = {
	{ "etcd-binary", 0, true, "PATH", "install this local etcd (etcdctl beside it)" },
	{ "release-url", 0, true, "URL", "etcd release tarball (https://, http://, file://)" },
	{ "etcd-sha256", 0, true, "HEX", "SHA-256 the release tarball must have" },
	{ "insecure-skip-checksum", 0, false, NULL, "install an unverified tarball (dangerous)" },
	{ "systemctl", 0, true, "PATH", "systemctl to run (default systemctl, $ETCDPILOT_SYSTEMCTL)" },
	{ 0 },
};

const struct cli_opt *cli_opt_group(unsigned group)
{
	switch (group) {
	case 0:
		return global_opts;
	case CLI_NODE:
		return node_opts;
	case CLI_CLIENT:
		return client_opts;
	case CLI_SYSTEMD:
		return systemd_opts;
	default:
		return NULL;
	}
}

const char *cli_opt_group_title(unsigned group)
{
	switch (group) {
	case 0:
		return "Global flags";
	case CLI_NODE:
		return "Node flags";
	case CLI_CLIENT:
		return "Client flags";
	case CLI_SYSTEMD:
		return "systemd-mode flags";
	default:
		return NULL;
	}
}

/*
 * Print an error message with every control character that is still in it
 * as \xNN (C0, DEL; C1 encoded as UTF-8 as \u00NN): messages quote
 * members, files and servers, and must never drive the terminal.  The
 * library escapes what it quotes; this is the last line for what it did
 * not, and leaves text already escaped as it is (backslashes are not
 * doubled, so nothing is escaped twice).
 */
static void put_message(FILE *f, const char *msg)
{
	for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			fprintf(f, "\\u%04x", *++p);
		else
			fputc(*p, f);
	}
}

static void print_opts(FILE *f, const struct cli_opt *opts)
{
	for (const struct cli_opt *o = opts; o && o->name; o++) {
		char left[64];
		if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
				 o->argname ? " " : "", o->argname ? o->argname : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->argname ? " " : "",
				 o->argname ? o->argname : "");
		fprintf(f, "  %-32s %s\n", left, o->help);
	}
}

static void usage_main(FILE *f)
{
	fprintf(f, "Usage: etcdpilot [GLOBAL FLAGS] COMMAND [ARGS] [FLAGS]\n\n"
		   "etcdpilot owns this control-plane node's etcd member: its PKI, its static\n"
		   "pod or systemd unit, its membership and its health.\n\nCommands:\n");
	for (size_t i = 0; cli_commands[i]; i++) {
		const struct cli_command *c = cli_commands[i];
		char left[64];
		if (c->hidden)
			continue;
		snprintf(left, sizeof(left), "%s%s%s", c->name, c->args ? " " : "",
			 c->args ? c->args : "");
		fprintf(f, "  %-36s %s%s\n", left, c->summary, c->run ? "" : " (not implemented yet)");
	}
	fprintf(f, "\nGlobal flags (before or after the command):\n");
	print_opts(f, global_opts);
	fprintf(f, "      --version                    print the version, git revision, build date\n"
		   "                                   and library versions (as 'version')\n");
	fprintf(f, "\nExit codes:\n");
	for (const struct cli_exit_code *e = cli_exit_codes; e->meaning; e++)
		fprintf(f, "  %d  %s%s%s\n", e->code, e->command ? e->command : "",
			e->command ? ": " : "", e->meaning);
	fprintf(f, "\nRun 'etcdpilot COMMAND --help' for a command's flags; see etcdpilot(8) and\n"
		   "etcdpilot-COMMAND(8), e.g. etcdpilot-certs-renew(8).\n");
}

static void usage_command(FILE *f, const struct cli_command *c)
{
	fprintf(f, "Usage: etcdpilot %s%s%s [FLAGS]\n\n%s\n", c->name, c->args ? " " : "",
		c->args ? c->args : "", c->summary);
	if (!c->run)
		fprintf(f, "\nThis command is not implemented yet.%s%s\n",
			c->instead ? " Until it is, do it by hand:\n" : "", c->instead ? c->instead : "");
	if (c->help)
		fprintf(f, "\n%s\n", c->help);
	if (c->help_extra)
		c->help_extra(f);
	if (c->opts && c->opts->name) {
		fprintf(f, "\nFlags:\n");
		print_opts(f, c->opts);
	}
	if (c->groups & CLI_NODE) {
		fprintf(f, "\nNode flags (override the config file):\n");
		print_opts(f, node_opts);
	}
	if (c->groups & CLI_SYSTEMD) {
		fprintf(f, "\nsystemd-mode flags:\n");
		print_opts(f, systemd_opts);
	}
	if (c->groups & CLI_CLIENT) {
		fprintf(f, "\nClient flags:\n");
		print_opts(f, client_opts);
	}
	fprintf(f, "\nGlobal flags:\n");
	print_opts(f, global_opts);
}

/* Optimal string alignment distance, for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	size_t d[65][65];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];
			size_t v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

struct suggest {
	const char *best;
	size_t dist;
	char buf[64]; /* a copy of the best candidate, which may live on the caller's stack */
};

static void suggest_consider(struct suggest *s, const char *word, const char *candidate)
{
	size_t d = edit_distance(word, candidate);
	/* A prefix ("cert" for "certs") is a good guess too. */
	if (strncmp(candidate, word, strlen(word)) == 0 && strlen(word) >= 2 && d > 1)
		d = 1;
	if (d < s->dist) {
		s->dist = d;
		snprintf(s->buf, sizeof(s->buf), "%s", candidate);
		s->best = s->buf;
	}
}

static bool suggest_ok(const struct suggest *s, const char *word)
{
	size_t limit = strlen(word) / 3 + 1;
	if (limit < 2)
		limit = 2;
	return s->best && s->dist <= limit;
}

static const struct cli_opt *find_opt(const struct cli_opt *opts, const char *name, char sh)
{
	for (const struct cli_opt *o = opts; o && o->name; o++)
		if ((name && strcmp(o->name, name) == 0) || (sh && o->short_name == sh))
			return o;
	return NULL;
}

/* Which group a flag belongs to, among the ones @c allows (c NULL = all). */
static const struct cli_opt *lookup_opt(const struct cli_command *c, const char *name, char sh,
					int *group)
{
	const struct cli_opt *o;
	if ((o = find_opt(global_opts, name, sh))) {
		*group = OPT_GLOBAL;
		return o;
	}
	if ((!c || (c->groups & CLI_NODE)) && (o = find_opt(node_opts, name, sh))) {
		*group = OPT_NODE;
		return o;
	}
	if ((!c || (c->groups & CLI_CLIENT)) && (o = find_opt(client_opts, name, sh))) {
		*group = OPT_CLIENT;
		return o;
	}
	if ((!c || (c->groups & CLI_SYSTEMD)) && (o = find_opt(systemd_opts, name, sh))) {
		*group = OPT_SYSTEMD;
		return o;
	}
	if (c && (o = find_opt(c->opts, name, sh))) {
		*group = OPT_LOCAL;
		return o;
	}
	if (!c)
		for (size_t i = 0; cli_commands[i]; i++)
			if ((o = find_opt(cli_commands[i]->opts, name, sh))) {
				*group = OPT_LOCAL;
				return o;
			}
	return NULL;
}

static void suggest_opts(struct suggest *s, const char *word, const struct cli_opt *opts)
{
	for (const struct cli_opt *o = opts; o && o->name; o++)
		suggest_consider(s, word, o->name);
}

static int unknown_flag(const struct cli_command *c, const char *arg, const char *name)
{
	struct suggest s = { .dist = 99 };
	suggest_opts(&s, name, global_opts);
	if (c->groups & CLI_NODE)
		suggest_opts(&s, name, node_opts);
	if (c->groups & CLI_CLIENT)
		suggest_opts(&s, name, client_opts);
	if (c->groups & CLI_SYSTEMD)
		suggest_opts(&s, name, systemd_opts);
	suggest_opts(&s, name, c->opts);

	int group;
	bool elsewhere = lookup_opt(NULL, name, 0, &group) != NULL;
	fprintf(stderr, "etcdpilot: %s: unknown flag '%s'", c->name, arg);
	if (elsewhere)
		fprintf(stderr, " ('--%s' is not a flag of '%s')", name, c->name);
	if (suggest_ok(&s, name))
		fprintf(stderr, "; did you mean '--%s'?", s.best);
	fprintf(stderr, "\nRun 'etcdpilot %s --help' for its flags.\n", c->name);
	return 2;
}

static void set_flag(struct cli_ctx *ctx, int group, const struct cli_opt *o, const char *value)
{
	const char *n = o->name;
	switch (group) {
	case OPT_GLOBAL:
		if (!strcmp(n, "root"))
			ctx->root = value;
		else if (!strcmp(n, "config"))
			ctx->config = value;
		else if (!strcmp(n, "output"))
			ctx->output = value;
		else if (!strcmp(n, "dry-run"))
			ctx->dry_run = true;
		else if (!strcmp(n, "timeout"))
			ctx->ov.timeout = value;
		else if (!strcmp(n, "verbose"))
			ctx->verbose++;
		else if (!strcmp(n, "v"))
			ctx->verbose = atoi(value); /* checked in parse_flags */
		return;
	case OPT_NODE:
		if (!strcmp(n, "name"))
			ctx->ov.name = value;
		else if (!strcmp(n, "advertise-address"))
			ctx->ov.advertise_address = value;
		else if (!strcmp(n, "mode"))
			ctx->ov.mode = value;
		else if (!strcmp(n, "etcd-version"))
			ctx->ov.etcd_version = value;
		else if (!strcmp(n, "image-repository"))
			ctx->ov.image_repository = value;
		else if (!strcmp(n, "data-dir"))
			ctx->ov.data_dir = value;
		else if (!strcmp(n, "cert-dir"))
			ctx->ov.cert_dir = value;
		else if (!strcmp(n, "manifest-dir"))
			ctx->ov.manifest_dir = value;
		else if (!strcmp(n, "key-type"))
			ctx->ov.key_type = value;
		return;
	case OPT_CLIENT:
		if (!strcmp(n, "endpoints"))
			ctx->endpoints = value;
		else if (!strcmp(n, "cacert"))
			ctx->cacert = value;
		else if (!strcmp(n, "cert"))
			ctx->cert = value;
		else if (!strcmp(n, "key"))
			ctx->key = value;
		return;
	case OPT_SYSTEMD:
		if (!strcmp(n, "etcd-binary"))
			ctx->ov.etcd_binary = value;
		else if (!strcmp(n, "release-url"))
			ctx->ov.release_url = value;
		else if (!strcmp(n, "etcd-sha256"))
			ctx->ov.etcd_sha256 = value;
		else if (!strcmp(n, "insecure-skip-checksum"))
			ctx->ov.insecure_skip_checksum = 1;
		else if (!strcmp(n, "systemctl"))
			ctx->ov.systemctl = value;
		return;
	default:
		break;
	}
}

/*
 * Find the command word(s): the first word that is neither a flag nor a
 * flag's value, and the word after it when the pair names a command.
 * Returns the index of the first word after the command, or -1.
 */
static const struct cli_command *find_command(int argc, char **argv, int *cmd_start,
					      int *cmd_words, const char **first_word)
{
	*first_word = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			return NULL;
		if (a[0] == '-' && a[1]) {
			/* Skip the value of a flag that takes one, if it is separate. */
			int group;
			const struct cli_opt *o = NULL;
			if (a[1] == '-' && !strchr(a, '='))
				o = lookup_opt(NULL, a + 2, 0, &group);
			else if (a[1] != '-' && !a[2])
				o = lookup_opt(NULL, NULL, a[1], &group);
			if (o && o->takes_value)
				i++;
			continue;
		}
		*first_word = a;
		*cmd_start = i;
		/* Two-word commands first ("certs generate"), then one word. */
		int j = i + 1;
		while (j < argc && argv[j][0] == '-' && argv[j][1]) {
			int group;
			const struct cli_opt *o = NULL;
			const char *b = argv[j];
			if (b[1] == '-' && !strchr(b, '='))
				o = lookup_opt(NULL, b + 2, 0, &group);
			else if (b[1] != '-' && !b[2])
				o = lookup_opt(NULL, NULL, b[1], &group);
			j += (o && o->takes_value) ? 2 : 1;
		}
		if (j < argc) {
			char two[128];
			snprintf(two, sizeof(two), "%s %s", a, argv[j]);
			for (size_t k = 0; cli_commands[k]; k++)
				if (!strcmp(cli_commands[k]->name, two)) {
					*cmd_words = j;
					return cli_commands[k];
				}
		}
		for (size_t k = 0; cli_commands[k]; k++)
			if (!strcmp(cli_commands[k]->name, a)) {
				*cmd_words = i;
				return cli_commands[k];
			}
		return NULL;
	}
	return NULL;
}

/* The subcommands of @group, one per line, to @f. */
static void group_list(FILE *f, const char *group)
{
	size_t glen = strlen(group);
	for (size_t k = 0; cli_commands[k]; k++) {
		const struct cli_command *c = cli_commands[k];
		if (!c->hidden && !strncmp(c->name, group, glen) && c->name[glen] == ' ') {
			char left[64];
			snprintf(left, sizeof(left), "%s%s%s", c->name, c->args ? " " : "",
				 c->args ? c->args : "");
			fprintf(f, "  etcdpilot %-34s %s%s\n", left, c->summary,
				c->run ? "" : " (not implemented yet)");
		}
	}
}

/* "certs" alone, or "certs bogus": list what the group has. */
static int group_usage(const char *group, const char *sub)
{
	size_t glen = strlen(group);
	bool any = false;
	struct suggest s = { .dist = 99 };
	for (size_t k = 0; cli_commands[k]; k++) {
		const char *n = cli_commands[k]->name;
		if (!strncmp(n, group, glen) && n[glen] == ' ') {
			any = true;
			if (sub)
				suggest_consider(&s, sub, n + glen + 1);
		}
	}
	if (!any)
		return -1;
	if (sub) {
		fprintf(stderr, "etcdpilot: %s: unknown subcommand '%s'", group, sub);
		if (suggest_ok(&s, sub))
			fprintf(stderr, "; did you mean '%s %s'?", group, s.best);
		fprintf(stderr, "\n");
	} else {
		fprintf(stderr, "etcdpilot: %s: missing subcommand\n", group);
	}
	fprintf(stderr, "Usage:\n");
	group_list(stderr, group);
	return 2;
}

/* True when @word names a group of commands ("member", "certs"). */
static bool is_group(const char *word)
{
	size_t glen = strlen(word);
	for (size_t k = 0; cli_commands[k]; k++)
		if (!strncmp(cli_commands[k]->name, word, glen) && cli_commands[k]->name[glen] == ' ')
			return true;
	return false;
}

static int unknown_command(const char *word, char **argv, int start, int argc)
{
	if (is_group(word))
		for (int j = 1; j < argc; j++)
			if (!strcmp(argv[j], "--help") || !strcmp(argv[j], "-h")) {
				printf("Usage: etcdpilot %s SUBCOMMAND [ARGS] [FLAGS]\n\nSubcommands:\n",
				       word);
				group_list(stdout, word);
				printf("\nRun 'etcdpilot %s SUBCOMMAND --help' for its flags.\n", word);
				return 0;
			}
	const char *sub = NULL;
	for (int j = start + 1; j < argc; j++)
		if (argv[j][0] != '-') {
			sub = argv[j];
			break;
		}
	int r = group_usage(word, sub);
	if (r >= 0)
		return r;

	struct suggest s = { .dist = 99 };
	for (size_t k = 0; cli_commands[k]; k++) {
		char first[64];
		if (cli_commands[k]->hidden)
			continue;
		snprintf(first, sizeof(first), "%s", cli_commands[k]->name);
		char *sp = strchr(first, ' ');
		if (sp)
			*sp = '\0';
		suggest_consider(&s, word, first);
	}
	fprintf(stderr, "etcdpilot: unknown command '%s'", word);
	if (suggest_ok(&s, word))
		fprintf(stderr, "; did you mean '%s'?", s.best);
	fprintf(stderr, "\nRun 'etcdpilot --help' for the list of commands.\n");
	return 2;
}

static int parse_flags(struct cli_ctx *ctx, int argc, char **argv, int cmd_start, int cmd_end,
		       bool *want_help)
{
	const struct cli_command *c = ctx->cmd;
	ctx->args = calloc((size_t)argc + 1, sizeof(char *));
	if (!ctx->args) {
		fprintf(stderr, "etcdpilot: out of memory\n");
		return 1;
	}
	bool only_args = false;
	for (int i = 1; i < argc; i++) {
		if (i >= cmd_start && i <= cmd_end && argv[i][0] != '-')
			continue; /* the command words */
		char *a = argv[i];
		if (only_args || a[0] != '-' || !a[1]) {
			ctx->args[ctx->nargs++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_args = true;
			continue;
		}
		const char *name = NULL, *value = NULL;
		char sh = 0;
		char namebuf[128];
		if (a[1] == '-') {
			snprintf(namebuf, sizeof(namebuf), "%s", a + 2);
			char *eq = strchr(namebuf, '=');
			if (eq) {
				*eq = '\0';
				value = a + 2 + (eq - namebuf) + 1;
			}
			name = namebuf;
		} else {
			sh = a[1];
			if (a[2])
				value = a + 2; /* -ojson */
		}
		int group;
		const struct cli_opt *o = lookup_opt(c, name, sh, &group);
		if (!o) {
			if (sh) {
				snprintf(namebuf, sizeof(namebuf), "%c", sh);
				name = namebuf;
			}
			return unknown_flag(c, a, name);
		}
		if (o->takes_value && !value) {
			if (i + 1 >= argc) {
				fprintf(stderr, "etcdpilot: %s: flag '--%s' needs a value (%s)\n",
					c->name, o->name, o->argname);
				return 2;
			}
			/* "--remove-dead --dry-run" must not eat the --dry-run (and then run) */
			if (argv[i + 1][0] == '-' && argv[i + 1][1] == '-' && argv[i + 1][2]) {
				fprintf(stderr,
					"etcdpilot: %s: flag '--%s' needs a value (%s), but the next "
					"argument is the flag '%s'; nothing was done: give the value "
					"(write --%s=VALUE for a value that starts with '--')\n",
					c->name, o->name, o->argname, argv[i + 1], o->name);
				return 2;
			}
			value = argv[++i];
		} else if (!o->takes_value && value) {
			if (sh && o->short_name == 'v' && strspn(value, "v") == strlen(value)) {
				ctx->verbose += 1 + (int)strlen(value); /* -vvv */
				continue;
			}
			fprintf(stderr, "etcdpilot: %s: flag '--%s' takes no value (got '%s')\n",
				c->name, o->name, value);
			return 2;
		}
		if (!strcmp(o->name, "help")) {
			*want_help = true;
			continue;
		}
		if (group == OPT_GLOBAL && !strcmp(o->name, "v") &&
		    (!value[0] || strspn(value, "0123456789") != strlen(value) ||
		     strlen(value) > 2)) {
			fprintf(stderr, "etcdpilot: %s: --v: '%s' is not a verbosity level (a number, "
				"e.g. --v=2)\n", c->name, value);
			return 2;
		}
		if (group == OPT_LOCAL) {
			if (ctx->nlocal >= CLI_MAX_LOCAL) {
				fprintf(stderr, "etcdpilot: %s: too many flags\n", c->name);
				return 2;
			}
			ctx->local[ctx->nlocal].name = o->name;
			ctx->local[ctx->nlocal].value = value ? value : "";
			ctx->nlocal++;
		} else {
			set_flag(ctx, group, o, value);
		}
	}
	return 0;
}

static int exit_code(int r, const struct ep_error *err)
{
	if (r == CLI_UNHEALTHY || r == CLI_PLAINTEXT)
		return r;
	if (r >= 0)
		return 0;
	return err->kind == EP_ERR_USAGE ? 2 : 1;
}

int main(int argc, char **argv)
{
	/* Global-only invocations: --version, --help, nothing. */
	const char *first_word = NULL;
	int cmd_start = 0, cmd_end = 0;
	const struct cli_command *c = find_command(argc, argv, &cmd_start, &cmd_end, &first_word);
	if (!c) {
		if (first_word)
			return unknown_command(first_word, argv, cmd_start, argc);
		/* --version is the version command: the same text, and -o json too. */
		int nv = 0;
		for (int i = 1; i < argc; i++)
			if (!strcmp(argv[i], "--version"))
				argv[i] = NULL, nv++;
		if (nv) {
			int n = 0;
			for (int i = 0; i < argc; i++)
				if (argv[i])
					argv[n++] = argv[i];
			argv[n] = NULL;
			argc = n;
			c = &cmd_version;
		}
	}
	if (!c) {
		for (int i = 1; i < argc; i++) {
			if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
				usage_main(stdout);
				return 0;
			}
		}
		for (int i = 1; i < argc; i++) {
			if (argv[i][0] == '-') {
				int group;
				const char *nm = argv[i][1] == '-' ? argv[i] + 2 : NULL;
				char sh = argv[i][1] != '-' ? argv[i][1] : 0;
				char buf[128];
				if (nm) {
					snprintf(buf, sizeof(buf), "%s", nm);
					char *eq = strchr(buf, '=');
					if (eq)
						*eq = '\0';
					nm = buf;
				}
				if (!lookup_opt(NULL, nm, sh, &group)) {
					struct suggest s = { .dist = 99 };
					suggest_opts(&s, nm ? nm : "", global_opts);
					fprintf(stderr, "etcdpilot: unknown flag '%s'", argv[i]);
					if (nm && suggest_ok(&s, nm))
						fprintf(stderr, "; did you mean '--%s'?", s.best);
					fprintf(stderr, "\n");
					return 2;
				}
			}
		}
		usage_main(stderr);
		fprintf(stderr, "\netcdpilot: no command given\n");
		return 2;
	}

	struct cli_ctx ctx = { .cmd = c, .ov = { .insecure_skip_checksum = -1 } };
	/* The variable that stands in for --systemctl, where that flag is taken. */
	if (c->groups & CLI_SYSTEMD)
		ctx.ov.env_systemctl = getenv("ETCDPILOT_SYSTEMCTL");
	bool want_help = false;
	int r = parse_flags(&ctx, argc, argv, cmd_start, cmd_end, &want_help);
	if (r) {
		free(ctx.args);
		return r;
	}
	if (want_help) {
		usage_command(stdout, c);
		free(ctx.args);
		return 0;
	}
	if (ctx.output && strcmp(ctx.output, "text") && strcmp(ctx.output, "json") &&
	    strcmp(ctx.output, "yaml")) {
		fprintf(stderr, "etcdpilot: %s: unknown output format '%s' (text, json%s)\n",
			c->name, ctx.output, c->yaml_output ? " or yaml" : "");
		free(ctx.args);
		return 2;
	}
	if (ctx.output && c->run &&
	    ((!strcmp(ctx.output, "json") && !c->json_output) ||
	     (!strcmp(ctx.output, "yaml") && !c->yaml_output))) {
		bool json = !strcmp(ctx.output, "json");
		fprintf(stderr, "etcdpilot: %s: -o %s: '%s' has no %s document to print; "
			"commands with %s output:", c->name, ctx.output, c->name,
			json ? "JSON" : "YAML", json ? "JSON" : "YAML");
		for (size_t k = 0, n = 0; cli_commands[k]; k++)
			if (cli_commands[k]->run && !cli_commands[k]->hidden &&
			    (json ? cli_commands[k]->json_output : cli_commands[k]->yaml_output))
				fprintf(stderr, "%s %s", n++ ? "," : "", cli_commands[k]->name);
		fprintf(stderr, "\n");
		free(ctx.args);
		return 2;
	}
	if (ctx.nargs < c->min_args || (c->max_args >= 0 && ctx.nargs > c->max_args)) {
		if (ctx.nargs < c->min_args)
			fprintf(stderr, "etcdpilot: %s: missing argument %s\n", c->name,
				c->args ? c->args : "");
		else
			fprintf(stderr, "etcdpilot: %s: unexpected argument '%s'\n", c->name,
				ctx.args[c->max_args]);
		fprintf(stderr, "Usage: etcdpilot %s%s%s [FLAGS]\n", c->name, c->args ? " " : "",
			c->args ? c->args : "");
		free(ctx.args);
		return 2;
	}
	if (!c->run) {
		fprintf(stderr, "etcdpilot: %s: not implemented yet; nothing was done\n", c->name);
		if (c->instead)
			fprintf(stderr, "Until it is, do it by hand:\n%s\n", c->instead);
		else
			fprintf(stderr, "See README.md for what works today.\n");
		free(ctx.args);
		return 1;
	}

	struct ep_error err;
	ep_error_clear(&err);
	/* Before anything reads or writes under it: "" (an unset variable) is never "/". */
	r = ep_root_check(ctx.root, &err);
	if (r >= 0)
		r = c->run(&ctx, &err);
	int code = exit_code(r, &err);
	if (r < 0) {
		if (!ep_error_isset(&err))
			ep_error_set(&err, r, "%s", strerror(-r));
		fprintf(stderr, "etcdpilot: %s: ", c->name);
		put_message(stderr, err.msg);
		fputc('\n', stderr);
	}
	free(ctx.args);
	/*
	 * A result that did not reach its reader is a failure, as in git: a
	 * full disk or a closed pipe must not look like success.
	 */
	if (fflush(stdout) == EOF || ferror(stdout)) {
		int e = errno;
		fprintf(stderr, "etcdpilot: %s: writing to standard output: %s\n", c->name,
			e ? strerror(e) : "write error");
		if (code == 0)
			code = 1;
	}
	return code;
}
