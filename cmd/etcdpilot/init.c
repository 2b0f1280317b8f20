/*
 * init.c - etcdpilot init: bootstrap the first member on this node.  In
 * static-pod mode (the default) it runs the node phases (preflight, certs,
 * manifest, wait) from the library and prints their lines in kubeadm's
 * voice; systemd mode is dispatched to cli_init_systemd() when it is built.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "etcdpilot/node.h"
#include "util/cleanup.h"

#if defined(__has_include)
#if __has_include("init.h")
#include "init.h"
#define HAVE_INIT_SYSTEMD 1
#endif
#endif

/* What the next control-plane node needs: the CA files and the join command. */
static void print_join_hint(const struct ep_spec *spec)
{
	_cleanup_free_ char *client = ep_url("https", spec->advertise_address, 2379);
	printf("\nYour etcd member '%s' is running as a static Pod and is healthy.\n\n"
	       "To add another control-plane member, copy the etcd CA to the new node:\n"
	       "\t%s/etcd/ca.crt\n\t%s/etcd/ca.key\n"
	       "(e.g. 'scp %s/etcd/ca.{crt,key} root@<new node>:%s/etcd/'), then run there:\n\n"
	       "\tetcdpilot join %s --name <node name> --advertise-address <node IP> "
	       "--etcd-version %s",
	       spec->name, spec->cert_dir, spec->cert_dir, spec->cert_dir, spec->cert_dir,
	       client ? client : "", spec->etcd_version);
	if (strcmp(spec->image_repository, "registry.k8s.io"))
		printf(" --image-repository %s", spec->image_repository);
	if (strcmp(spec->data_dir, "/var/lib/etcd"))
		printf(" --data-dir %s", spec->data_dir);
	if (strcmp(spec->cert_dir, "/etc/kubernetes/pki"))
		printf(" --cert-dir %s", spec->cert_dir);
	if (strcmp(spec->manifest_dir, "/etc/kubernetes/manifests"))
		printf(" --manifest-dir %s", spec->manifest_dir);
	if (spec->key_type != EP_KEY_RSA_2048)
		printf(" --key-type %s", ep_key_type_flag_name(spec->key_type));
	printf("\n");
}

static int init_static_pod(struct cli_ctx *ctx, struct ep_spec *spec, struct ep_error *err)
{
	struct ep_node node = {
		.spec = spec,
		.root = ctx->root,
		.dry_run = ctx->dry_run,
		.log = cli_print_line,
	};
	struct ep_preflight pf = { 0 };
	bool certs_changed = false, manifest_changed = false;
	int r = ep_node_preflight(&node, &pf, err);
	if (r < 0)
		goto out;
	if (pf.state == EP_MANIFEST_DIFFERS) {
		fprintf(stderr, "[preflight] '%s' differs from what this init would write:\n",
			pf.manifest_path);
		for (size_t i = 0; i < pf.diff.n; i++)
			fprintf(stderr, "  - %s\n", pf.diff.v[i]);
		r = ep_error_set(err, -EEXIST,
				 "this node already has an etcd manifest with other settings "
				 "(%zu difference%s, listed above); nothing was changed: pass the "
				 "settings it was created with, or run 'etcdpilot reset' first",
				 pf.diff.n, pf.diff.n == 1 ? "" : "s");
		goto out;
	}
	r = ep_node_certs(&node, &certs_changed, err);
	if (r < 0)
		goto out;
	r = ep_node_write_manifest(&node, &pf, &manifest_changed, err);
	if (r < 0)
		goto out;
	r = ep_node_wait(&node, spec->timeout_ms, err);
	if (r < 0) {
		_cleanup_free_ char *report = NULL;
		if (ep_node_pod_report(&node, 15, NULL, &report) != -ENOMEM && report)
			fprintf(stderr, "%s", report);
		goto out;
	}
	if (ctx->dry_run)
		printf("[dryrun] Finished dry-running successfully; above are the files and "
		       "directories that would be created\n");
	else if (!certs_changed && !manifest_changed)
		printf("\nNothing to do: this node's etcd member '%s' was already initialised and "
		       "is healthy; nothing was changed.\n",
		       spec->name);
	else
		print_join_hint(spec);
out:
	ep_preflight_release(&pf);
	return r;
}

static int run_init(struct cli_ctx *ctx, struct ep_error *err)
{
	struct ep_spec spec;
	ep_spec_init(&spec);
	int r = cli_load_spec(ctx, &spec, err);
	if (r >= 0)
		r = ep_spec_check_init(&spec, err); /* a join or external config: exit 2 */
	if (r < 0)
		goto out;
	if (spec.mode == EP_MODE_SYSTEMD) {
#ifdef HAVE_INIT_SYSTEMD
		r = cli_init_systemd(ctx, &spec, err);
#else
		r = ep_error_set(err, -ENOTSUP, "systemd mode: not implemented yet");
#endif
		goto out;
	}
	r = init_static_pod(ctx, &spec, err);
out:
	ep_spec_release(&spec);
	return r;
}

const struct cli_command cmd_init = {
	.name = "init",
	.run = run_init,
	.groups = CLI_NODE | CLI_SYSTEMD,
	.args = NULL,
	.summary = "bootstrap the first etcd member on this node",
	.help = "Static-pod mode (the default) runs kubeadm's phases for a local etcd:\n"
		"  preflight  a known etcd version (3.4, 3.5, 3.6), root (unless --root), the\n"
		"             data dir absent or empty, ports 2379/2380/2381 free, an existing\n"
		"             manifest identical;\n"
		"  certs      the etcd CA and this node's certificates (existing valid ones are\n"
		"             reused);\n"
		"  etcd       the data dir (0700) and <manifest-dir>/etcd.yaml (0600);\n"
		"  wait       until the member answers healthy through its client URL, at most\n"
		"             --timeout (default 4m).\n"
		"A second run with the same settings changes nothing and exits 0; with other\n"
		"settings it lists what differs and exits 1 without touching anything.\n"
		"--dry-run prints the plan and the manifest and writes nothing.",
	.min_args = 0,
	.max_args = 0,
};
