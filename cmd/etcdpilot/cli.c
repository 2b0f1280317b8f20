/*
 * cli.c - helpers every command uses: reading its own flags, building the
 * node spec from --config and flags, and printing results.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

const char *cli_get(const struct cli_ctx *ctx, const char *name)
{
	const char *v = NULL;
	for (size_t i = 0; i < ctx->nlocal; i++)
		if (!strcmp(ctx->local[i].name, name))
			v = ctx->local[i].value;
	return v;
}

bool cli_has(const struct cli_ctx *ctx, const char *name)
{
	return cli_get(ctx, name) != NULL;
}

bool cli_json(const struct cli_ctx *ctx)
{
	return ctx->output && !strcmp(ctx->output, "json");
}

int cli_load_spec(struct cli_ctx *ctx, struct ep_spec *spec, struct ep_error *err)
{
	struct ep_notes notes = { 0 };
	int r = ep_config_load(spec, ctx->config, &ctx->ov, &notes, err);
	for (size_t i = 0; i < notes.n; i++)
		fprintf(stderr, "[config] %s\n", notes.v[i]);
	ep_notes_release(&notes);
	return r;
}

/*
 * check-expiration and renew read only the certificate directory, key type
 * and validity: an advertise address that cannot be detected (no default
 * route) must not stop them, so a placeholder stands in when none is given.
 */
int cli_load_spec_any_address(struct cli_ctx *ctx, struct ep_spec *spec, struct ep_error *err)
{
	struct ep_error probe = {0};
	int r = cli_load_spec(ctx, spec, &probe);
	if (r >= 0 || ctx->ov.advertise_address)
		goto out;
	ep_spec_release(spec);
	ep_spec_init(spec);
	ctx->ov.advertise_address = "127.0.0.1";
	ep_error_clear(&probe);
	r = cli_load_spec(ctx, spec, &probe);
out:
	if (r < 0 && err)
		*err = probe;
	return r;
}

void cli_print_line(void *userdata, const char *line)
{
	(void)userdata;
	FILE *f = strstr(line, "WARNING") ? stderr : stdout;
	fflush(f == stderr ? stdout : stderr);
	fputs(line, f);
	fputc('\n', f);
	fflush(f);
}

void cli_print_line_stderr(void *userdata, const char *line)
{
	(void)userdata;
	fflush(stdout);
	fputs(line, stderr);
	fputc('\n', stderr);
	fflush(stderr);
}

ep_log_fn cli_log(const struct cli_ctx *ctx)
{
	return cli_json(ctx) ? cli_print_line_stderr : cli_print_line;
}

void cli_print_json(json_t *doc)
{
	if (!doc)
		return;
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(doc);
}

void cli_print_doc(const char *kind, json_t *doc)
{
	if (!doc)
		return;
	json_t *out = json_pack("{s:s s:s}", "apiVersion", CLI_API_VERSION, "kind", kind);
	if (!out || json_object_update(out, doc) < 0) {
		json_decref(out);
		out = json_incref(doc); /* out of memory: the fields, at least */
	}
	json_decref(doc);
	cli_print_json(out);
}

void cli_verbose(const struct cli_ctx *ctx, const char *fmt, ...)
{
	if (!ctx->verbose)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

bool cli_print_shell_word(FILE *f, const char *s)
{
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
	if (*s &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./-+:@=,") ==
		strlen(s)) {
		fputs(s, f);
		return true;
	}
	fputc('\'', f);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	fputc('\'', f);
	return true;
}

/* " --FLAG VALUE" when @value is set, printable, and not @dflt. */
static void join_flag(const char *flag, const char *value, const char *dflt)
{
	if (!value || (dflt && !strcmp(value, dflt)))
		return;
	for (const char *p = value; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return; /* a value no shell line can hold: left for the user */
	printf(" --%s ", flag);
	cli_print_shell_word(stdout, value);
}

void cli_print_join_command(const struct ep_spec *spec, const char *endpoint,
			    const char *bundle, const char *key)
{
	bool sd = spec->mode == EP_MODE_SYSTEMD;
	printf("\tetcdpilot join %s%s --ca-bundle ",
	       endpoint ? endpoint : "https://<a member's address>:2379", sd ? " --mode systemd" : "");
	if (!bundle || !cli_print_shell_word(stdout, bundle))
		fputs("FILE", stdout);
	printf(" --certificate-key %s --name <node name> --advertise-address <node IP>",
	       key ? key : "KEY");
	join_flag("etcd-version", spec->etcd_version, NULL);
	if (!sd)
		join_flag("image-repository", spec->image_repository, "registry.k8s.io");
	join_flag("data-dir", spec->data_dir, "/var/lib/etcd");
	join_flag("cert-dir", spec->cert_dir, "/etc/kubernetes/pki");
	if (!sd)
		join_flag("manifest-dir", spec->manifest_dir, "/etc/kubernetes/manifests");
	if (spec->key_type != EP_KEY_RSA_2048)
		printf(" --key-type %s", ep_key_type_flag_name(spec->key_type));
	putchar('\n');
}
