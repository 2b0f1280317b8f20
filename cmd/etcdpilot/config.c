/*
 * config.c - etcdpilot config print: the effective node spec, after the
 * config file, the flags and the defaults, as YAML (default) or JSON.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static int config_print(struct cli_ctx *ctx, struct ep_error *err)
{
	struct ep_spec spec;
	char *yaml = NULL, *annotated = NULL;
	json_t *doc = NULL;
	ep_spec_init(&spec);
	int r = cli_load_spec(ctx, &spec, err);
	if (r < 0)
		goto out;
	/* One document, built once, for both renderings. */
	doc = ep_spec_to_json(&spec);
	if (!doc) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (cli_json(ctx)) {
		/* -v: where each field came from, beside the fields. */
		if (ctx->verbose &&
		    json_object_set_new(doc, "origins", ep_spec_origins_json(&spec)) < 0) {
			r = ep_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		cli_print_json(doc);
		doc = NULL;
		goto out;
	}
	r = ep_json_to_yaml(doc, &yaml, err);
	/* -v: the same YAML with a comment per field, which loads the same. */
	if (r == 0 && ctx->verbose)
		r = ep_spec_yaml_annotate(&spec, yaml, &annotated, err);
	if (r == 0)
		fputs(annotated ? annotated : yaml, stdout);
out:
	json_decref(doc);
	free(annotated);
	free(yaml);
	ep_spec_release(&spec);
	return r;
}

const struct cli_command cmd_config_print = {
    .name = "config print",
    .run = config_print,
    .groups = CLI_NODE | CLI_SYSTEMD,
    .args = NULL,
    .summary = "print the effective node spec after defaults (YAML, or -o json)",
    .help = "Reads --config (kubeadm Init/Join/ClusterConfiguration of kubeadm.k8s.io/v1beta3\n"
	    "or v1beta4, and etcdpilot.io/v1alpha1 EtcdPilotConfiguration), applies the\n"
	    "node flags over it and fills in kubeadm's defaults, then prints the one node\n"
	    "spec every other command works from.  Nothing is written.  Notes about the\n"
	    "file (skipped documents, external etcd) go to stderr.  With -v each field\n"
	    "says where its value came from (a flag, FILE:LINE:COL, the environment, a\n"
	    "default, detected on this host, or derived from another field): a comment\n"
	    "after it in YAML, an \"origins\" object beside the fields with -o json.\n"
	    "Either output loads again as --config.",
    .min_args = 0,
    .max_args = 0,
	.json_output = true,
	.yaml_output = true,
};
