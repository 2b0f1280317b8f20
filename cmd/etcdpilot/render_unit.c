/*
 * render_unit.c - etcdpilot render unit: print the systemd unit and environment.
 */
#include "cli.h"

const struct cli_command cmd_render_unit = {
	.name = "render unit",
	.run = NULL,
	.groups = CLI_NODE | CLI_SYSTEMD,
	.args = NULL,
	.summary = "print the systemd unit and environment init/join would write",
	.min_args = 0,
	.max_args = 0,
};
