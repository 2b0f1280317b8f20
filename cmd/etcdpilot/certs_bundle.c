/*
 * certs_bundle.c - etcdpilot certs export-bundle and import-bundle: the etcd
 * CA shared between control-plane nodes, encrypted (bundle.h).  Parses the
 * flags, calls the library, and prints the one result: the certificate key
 * is shown here, once, and wiped.  No format or PKI logic lives here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "etcdpilot/bundle.h"
#include "etcdpilot/runtime.h"

static int parse_ttl(const struct cli_ctx *ctx, uint64_t *ret_s, struct ep_error *err)
{
	const char *v = cli_get(ctx, "ttl");
	uint64_t ms = 0;
	*ret_s = EP_BUNDLE_TTL_DEFAULT_S;
	if (!v)
		return 0;
	if (ep_duration_parse(v, &ms) < 0 || ms % 1000)
		return ep_error_usage(err, -EINVAL,
				      "--ttl: '%s' is not a duration in whole seconds (e.g. 2h, "
				      "30m, 90s)",
				      v);
	*ret_s = ms / 1000;
	return 0;
}

/*
 * This node's member as its manifest or unit says (the static pod first)
 * into @d, and its first advertised client URL (the endpoint another node
 * joins through) into *@url (NULL when unusable).  False when the node
 * runs none.
 */
static bool node_member(const struct cli_ctx *ctx, const struct ep_spec *spec,
			struct ep_member_desc *d, char **url)
{
	*url = NULL;
	for (int m = 0; m < 2; m++) {
		const struct ep_runtime_ops *rt = ep_runtime_get((enum ep_mode)m);
		struct ep_runtime_ctx rctx = { .root = ctx->root, .spec = spec };
		if (rt->read_back(&rctx, d, NULL) < 0)
			continue;
		const char *v = d->advertise_client_urls;
		size_t n = v ? strcspn(v, ",") : 0;
		/* printed as a shell word: a URL as etcd takes it, nothing else */
		if (n && !strncmp(v, "https://", 8) &&
		    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
			      "-._~:/[]%") >= n)
			*url = strndup(v, n);
		return true;
	}
	return false;
}

static void export_text(const struct cli_ctx *ctx, const struct ep_spec *spec, const char *file,
			const char *key, const struct ep_bundle_info *info)
{
	char exp[32];
	ep_bundle_format_time(info->expires, exp, sizeof(exp));
	if (ctx->dry_run) {
		printf("[dryrun] Nothing was written; no certificate key was made.\n");
		return;
	}
	char *ttl = ep_duration_format((uint64_t)(info->expires - info->created) * 1000);
	printf("[certs] Wrote the etcd CA (SHA256 %s) and its key, encrypted, to \"%s\" (mode "
	       "0600); it can be imported until %s (%s)\n",
	       info->ca_sha256, file, exp, ttl ? ttl : "?");
	free(ttl);
	printf("[certs] The certificate key, shown once and stored nowhere (whoever has it and the "
	       "file has the CA key: keep it secret):\n\n\t%s\n\n",
	       key);
	struct ep_member_desc d;
	char *url = NULL;
	bool found = node_member(ctx, spec, &d, &url);
	printf("Copy the file to the new control-plane node and join it to the cluster there "
	       "with:\n\n");
	if (found) {
		d.spec.key_type = spec->key_type; /* not in a manifest: --key-type, if given here */
		cli_print_join_command(&d.spec, url, file, key);
		ep_member_desc_release(&d);
	} else {
		struct ep_spec none;
		ep_spec_init(&none);
		none.key_type = spec->key_type;
		cli_print_join_command(&none, NULL, file, key);
		ep_spec_release(&none);
	}
	free(url);
	printf("\nor install only the CA there with:\n\n\tetcdpilot certs import-bundle ");
	cli_print_shell_word(stdout, file);
	printf(" --certificate-key %s\n\n"
	       "After %s, run 'etcdpilot certs export-bundle' again on a member for a new bundle "
	       "and key.\n",
	       key, exp);
}

static void export_json(const struct cli_ctx *ctx, const char *file, char *key,
			const struct ep_bundle_info *info)
{
	char created[32], exp[32];
	ep_bundle_format_time(info->created, created, sizeof(created));
	ep_bundle_format_time(info->expires, exp, sizeof(exp));
	json_t *doc = json_object();
	json_object_set_new(doc, "apiVersion", json_string("etcdpilot.io/v1alpha1"));
	json_object_set_new(doc, "kind", json_string("CABundle"));
	json_object_set_new(doc, "file", json_string(file));
	json_object_set_new(doc, "certificateKey", ctx->dry_run ? json_null() : json_string(key));
	json_object_set_new(doc, "created", json_string(created));
	json_object_set_new(doc, "expires", json_string(exp));
	json_object_set_new(doc, "caFingerprint", json_string(info->ca_sha256));
	json_object_set_new(doc, "dryRun", json_boolean(ctx->dry_run));
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	fflush(stdout);
	/* jansson's copy of the key is wiped before it is freed, as ours is. */
	const char *copy = json_string_value(json_object_get(doc, "certificateKey"));
	if (copy)
		OPENSSL_cleanse((char *)copy, strlen(copy));
	json_decref(doc);
}

static int run_export(struct cli_ctx *ctx, struct ep_error *err)
{
	uint64_t ttl_s = 0;
	int r = parse_ttl(ctx, &ttl_s, err);
	if (r < 0)
		return r;
	const char *file = ctx->args[0];
	struct ep_spec spec;
	ep_spec_init(&spec);
	char key[EP_BUNDLE_KEY_HEX_LEN + 1] = "";
	struct ep_bundle_info info = {0};
	r = cli_load_spec_any_address(ctx, &spec, err);
	if (r >= 0)
		r = ep_pki_bundle_export(&spec, ctx->root, file, ttl_s, time(NULL),
					 cli_has(ctx, "force"), ctx->dry_run, key, &info,
					 cli_log(ctx), NULL, err);
	if (r >= 0) {
		if (cli_json(ctx))
			export_json(ctx, file, key, &info);
		else
			export_text(ctx, &spec, file, key, &info);
		fflush(stdout);
	}
	ep_spec_release(&spec);
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

static int run_import(struct cli_ctx *ctx, struct ep_error *err)
{
	const char *key = cli_get(ctx, "certificate-key");
	if (!key)
		return ep_error_usage(err, -EINVAL,
				      "--certificate-key is required: the key 'etcdpilot certs "
				      "export-bundle' printed with the bundle");
	struct ep_spec spec;
	ep_spec_init(&spec);
	bool changed = false;
	int r = cli_load_spec_any_address(ctx, &spec, err);
	if (r >= 0)
		r = ep_pki_bundle_import(&spec, ctx->root, ctx->args[0], key, time(NULL),
					 ctx->dry_run, NULL, &changed, cli_print_line, NULL, err);
	ep_spec_release(&spec);
	if (r < 0)
		return r;
	if (ctx->dry_run)
		printf("[dryrun] Nothing was written.\n");
	else if (changed)
		printf("\nThe etcd CA is in place. Run 'etcdpilot certs generate' on this node to "
		       "issue its own certificates with it.\n");
	return 0;
}

static const struct cli_opt export_opts[] = {
    {"ttl", 0, true, "DURATION", "how long the bundle can be imported (default 2h, at most 24h)"},
    {"force", 0, false, NULL, "replace FILE if it exists"},
    {0},
};

static const struct cli_opt import_opts[] = {
    {"certificate-key", 0, true, "HEX", "the key export-bundle printed (64 hex digits; required)"},
    {0},
};

const struct cli_command cmd_certs_export_bundle = {
    .name = "certs export-bundle",
    .run = run_export,
    .groups = CLI_NODE,
    .opts = export_opts,
    .args = "FILE",
    .summary = "write the etcd CA, encrypted, for another control-plane node",
    .help = "Reads etcd/ca.crt and etcd/ca.key under the certificates directory (--root\n"
	    "applies to them) and writes FILE (a path of yours, not under --root; mode\n"
	    "0600; an existing FILE only with --force): the pair encrypted with AES-256-GCM\n"
	    "under a new random 32-byte certificate key, which is printed once, in hex,\n"
	    "and stored nowhere.  The bundle expires after --ttl (default 2h, as kubeadm's\n"
	    "uploaded certificates; at most 24h).  Refused for an external CA (ca.crt\n"
	    "without ca.key): there is no key to share.  -o json prints a CABundle document\n"
	    "with the key.",
    .min_args = 1,
    .max_args = 1,
    .json_output = true,
};

const struct cli_command cmd_certs_import_bundle = {
    .name = "certs import-bundle",
    .run = run_import,
    .groups = CLI_NODE,
    .opts = import_opts,
    .args = "FILE",
    .summary = "install the etcd CA from an encrypted bundle",
    .help = "Installs the CA of the bundle FILE (written by 'certs export-bundle') as\n"
	    "etcd/ca.crt (0644) and etcd/ca.key (0600) under the certificates directory,\n"
	    "the two as one pair.  Refused, with nothing written: a key that is not 64 hex\n"
	    "digits or a FILE that is no whole bundle (exit 2); an expired bundle, a wrong\n"
	    "key or an altered bundle, a content that is no CA pair, or a different CA\n"
	    "already on this node (exit 1).  The same CA already there: nothing to do.\n"
	    "Then 'etcdpilot certs generate' issues this node's certificates with it.",
    .min_args = 1,
    .max_args = 1,
};
