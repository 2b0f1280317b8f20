/*
 * convert.c - etcdpilot convert: move this member between systemd and static pod.
 */
#include "cli.h"

const struct cli_command cmd_convert = {
	.name = "convert",
	.run = NULL,
	.groups = CLI_NODE | CLI_SYSTEMD | CLI_CLIENT,
	.args = NULL,
	.summary = "convert this member between systemd and static pod (--to)",
	.min_args = 0,
	.max_args = 0,
};
