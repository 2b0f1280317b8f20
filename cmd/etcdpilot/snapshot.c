/*
 * snapshot.c - etcdpilot snapshot save: a consistent backup of the keyspace.
 */
#include "cli.h"

const struct cli_command cmd_snapshot_save = {
	.name = "snapshot save",
	.run = NULL,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = "FILE",
	.summary = "save a snapshot of the keyspace to FILE",
	.min_args = 1,
	.max_args = 1,
};
