/*
 * join.c - etcdpilot join: add this node's member to an existing cluster.
 */
#include "cli.h"

const struct cli_command cmd_join = {
	.name = "join",
	.run = NULL,
	.groups = CLI_NODE | CLI_SYSTEMD | CLI_CLIENT,
	.args = "ENDPOINT",
	.summary = "add this node to the cluster that ENDPOINT belongs to",
	.min_args = 1,
	.max_args = 1,
};
