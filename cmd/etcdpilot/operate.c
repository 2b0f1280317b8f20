/*
 * operate.c - etcdpilot operate: the reconciling operator loop.
 */
#include "cli.h"

const struct cli_command cmd_operate = {
	.name = "operate",
	.run = NULL,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = NULL,
	.summary = "run the reconciling operator loop in the foreground",
	.min_args = 0,
	.max_args = 0,
};
