/*
 * render.c - etcdpilot render: print what init/join would write.
 */
#include "cli.h"

const struct cli_command cmd_render_manifest = {
	.name = "render manifest",
	.run = NULL,
	.groups = CLI_NODE,
	.args = NULL,
	.summary = "print the etcd static pod manifest init/join would write",
	.min_args = 0,
	.max_args = 0,
};
