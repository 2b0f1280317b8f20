/*
 * config.c - etcdpilot config print: the effective node spec.
 */
#include "cli.h"

const struct cli_command cmd_config_print = {
	.name = "config print",
	.run = NULL,
	.groups = CLI_NODE | CLI_SYSTEMD,
	.args = NULL,
	.summary = "print the effective node spec after defaults (YAML, or -o json)",
	.min_args = 0,
	.max_args = 0,
};
