/*
 * init.c - etcdpilot init: bootstrap the first member on this node.
 */
#include "cli.h"

const struct cli_command cmd_init = {
	.name = "init",
	.run = NULL,
	.groups = CLI_NODE | CLI_SYSTEMD,
	.args = NULL,
	.summary = "bootstrap the first etcd member on this node",
	.min_args = 0,
	.max_args = 0,
};
