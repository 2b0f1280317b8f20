/*
 * reset.c - etcdpilot reset: retire this node's member.
 */
#include "cli.h"

const struct cli_command cmd_reset = {
	.name = "reset",
	.run = NULL,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = NULL,
	.summary = "remove this node's member from the cluster, stop it, back up and clean its files",
	.min_args = 0,
	.max_args = 0,
};
