/*
 * health.c - etcdpilot health: probe every member at once.
 */
#include "cli.h"

const struct cli_command cmd_health = {
	.name = "health",
	.run = NULL,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = NULL,
	.summary = "probe every member at once; exit 0 only when all are healthy",
	.min_args = 0,
	.max_args = 0,
};
