/*
 * render.c - etcdpilot render manifest: print the static pod manifest that
 * init would write for the same flags and config, byte for byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "etcdpilot/manifest.h"

static int run_render_manifest(struct cli_ctx *ctx, struct ep_error *err)
{
	struct ep_spec spec;
	ep_spec_init(&spec);
	char *text = NULL;
	size_t len = 0;
	int r = cli_load_spec(ctx, &spec, err);
	if (r == 0)
		r = ep_manifest_render(&spec, NULL, &text, &len, err);
	if (r == 0 && fwrite(text, 1, len, stdout) != len)
		r = ep_error_set(err, -EIO, "writing to stdout failed");
	free(text);
	ep_spec_release(&spec);
	return r;
}

const struct cli_command cmd_render_manifest = {
	.name = "render manifest",
	.run = run_render_manifest,
	.groups = CLI_NODE,
	.args = NULL,
	.summary = "print the etcd static pod manifest init/join would write",
	.help = "Prints exactly what 'etcdpilot init' writes to <manifest-dir>/etcd.yaml for\n"
		"the same flags and config (kubeadm's layout; flags and probes follow\n"
		"--etcd-version).",
	.min_args = 0,
	.max_args = 0,
	.yaml_output = true,
};
