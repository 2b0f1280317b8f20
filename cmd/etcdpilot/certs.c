/*
 * certs.c - etcdpilot certs: the etcd PKI.  Parses the certificate name,
 * calls the pki library and prints its log lines in kubeadm's voice
 * (generate, renew; check-expiration is in certs_expiry.c).  No PKI logic
 * lives here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "etcdpilot/pki.h"

/* "all" (or nothing) or one kubeadm name -> a mask; "etcd-ca" only if @allow_ca. */
static int parse_names(struct cli_ctx *ctx, bool allow_ca, unsigned *ret, struct ep_error *err)
{
	const char *name = ctx->nargs > 0 ? ctx->args[0] : "all";
	if (!strcmp(name, "all")) {
		*ret = allow_ca ? EP_CERT_ALL : EP_CERT_LEAVES;
		return 0;
	}
	enum ep_cert_id id;
	if (ep_cert_lookup(name, &id) < 0) {
		char names[256] = "";
		for (unsigned i = allow_ca ? 0 : 1; i < EP_CERT_COUNT; i++) {
			strcat(names, ep_cert_profile((enum ep_cert_id)i)->name);
			strcat(names, ", ");
		}
		return ep_error_usage(err, -EINVAL, "unknown certificate '%s' (known: %sall)", name,
				      names);
	}
	if (id == EP_CERT_CA && !allow_ca)
		return ep_error_usage(err, -EINVAL,
				      "'etcd-ca' cannot be renewed: etcdpilot, like kubeadm, never "
				      "renews a CA, because a new CA means re-issuing every "
				      "certificate of every member; rotate the CA by hand and run "
				      "'etcdpilot certs generate' on each node");
	*ret = EP_CERT_BIT(id);
	return 0;
}

void cli_cert_words(FILE *f)
{
	for (unsigned i = 0; i < EP_CERT_COUNT; i++)
		fprintf(f, "%s\n", ep_cert_profile((enum ep_cert_id)i)->name);
	fputs("all\n", f);
}

void cli_cert_leaf_words(FILE *f)
{
	for (unsigned i = 0; i < EP_CERT_COUNT; i++)
		if (i != EP_CERT_CA)
			fprintf(f, "%s\n", ep_cert_profile((enum ep_cert_id)i)->name);
	fputs("all\n", f);
}

static int run_generate(struct cli_ctx *ctx, struct ep_error *err)
{
	unsigned mask = 0;
	int r = parse_names(ctx, true, &mask, err);
	if (r < 0)
		return r;
	struct ep_spec spec;
	ep_spec_init(&spec);
	r = cli_load_spec(ctx, &spec, err);
	if (r >= 0)
		r = ep_pki_generate(&spec, ctx->root, mask, ctx->dry_run, cli_print_line, NULL, err);
	ep_spec_release(&spec);
	return r;
}

static int run_renew(struct cli_ctx *ctx, struct ep_error *err)
{
	unsigned mask = 0, renewed = 0;
	int r = parse_names(ctx, false, &mask, err);
	if (r < 0)
		return r;
	struct ep_spec spec;
	ep_spec_init(&spec);
	r = cli_load_spec_any_address(ctx, &spec, err);
	if (r >= 0)
		r = ep_pki_renew(&spec, ctx->root, mask, ctx->dry_run, &renewed, cli_print_line, NULL,
				 err);
	ep_spec_release(&spec);
	if (r < 0 || !renewed)
		return r;

	/* Which processes read what was renewed. */
	bool etcd = false, apiserver = false;
	for (unsigned i = 0; i < EP_CERT_COUNT; i++) {
		if (!(renewed & EP_CERT_BIT(i)))
			continue;
		const char *p = ep_cert_profile((enum ep_cert_id)i)->restart;
		etcd |= p && !strcmp(p, "etcd");
		apiserver |= p && !strcmp(p, "kube-apiserver");
	}
	if (ctx->dry_run) {
		printf("[dryrun] Nothing was written.\n");
		return 0;
	}
	printf("\nDone renewing certificates. You must restart %s%s%s so that %s the new "
	       "certificates.\nRun this command on each control-plane node: every node has its "
	       "own certificates.\n",
	       etcd ? "etcd" : "", etcd && apiserver ? " and kube-apiserver" : "",
	       !etcd && apiserver ? "kube-apiserver" : "",
	       etcd && apiserver ? "they use" : "it uses");
	return 0;
}

const struct cli_command cmd_certs_generate = {
    .name = "certs generate",
    .run = run_generate,
    .groups = CLI_NODE,
    .args = "[NAME|all]",
    .arg_words = cli_cert_words,
    .summary = "generate the etcd CA and this node's certificates (kubeadm layout)",
    .help = "NAME is etcd-ca, etcd-server, etcd-peer, etcd-healthcheck-client,\n"
	    "apiserver-etcd-client or all (the default).  Files go where kubeadm puts them\n"
	    "under the certificates directory (etcd/ca, etcd/server, etcd/peer,\n"
	    "etcd/healthcheck-client, apiserver-etcd-client; .crt 0644, .key 0600).\n"
	    "Existing valid files are reused; a certificate not signed by the CA, a key\n"
	    "that does not match, or SANs that miss this node are errors, and then nothing\n"
	    "is written.  A CA certificate without its key is an external CA: every other\n"
	    "certificate must then already exist.",
    .min_args = 0,
    .max_args = 1,
};

const struct cli_command cmd_certs_renew = {
    .name = "certs renew",
    .run = run_renew,
    .groups = CLI_NODE,
    .args = "NAME|all",
    .arg_words = cli_cert_leaf_words,
    .summary = "renew certificates with the CA (the CA itself is never renewed)",
    .help = "NAME is etcd-server, etcd-peer, etcd-healthcheck-client,\n"
	    "apiserver-etcd-client or all.  Like kubeadm, a renewed certificate gets a new\n"
	    "key (of --key-type), keeps the subject, SANs and key usages of the old one, and\n"
	    "a new validity period.  Needs the CA key (etcd/ca.key).  Afterwards restart\n"
	    "etcd (server, peer, healthcheck) or kube-apiserver (apiserver-etcd-client), on\n"
	    "each control-plane node.",
    .min_args = 1,
    .max_args = 1,
};
