/*
 * member.c - etcdpilot member list|add|remove|promote.
 */
#include "cli.h"

const struct cli_command cmd_member_list = {
	.name = "member list",
	.run = NULL,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = NULL,
	.summary = "list the cluster's members",
	.min_args = 0,
	.max_args = 0,
};

const struct cli_command cmd_member_add = {
	.name = "member add",
	.run = NULL,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = "NAME PEER-URL",
	.summary = "add a member (refused when it would cost quorum)",
	.min_args = 2,
	.max_args = 2,
};

const struct cli_command cmd_member_remove = {
	.name = "member remove",
	.run = NULL,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = "NAME|ID",
	.summary = "remove a member (refused when it would cost quorum)",
	.min_args = 1,
	.max_args = 1,
};

const struct cli_command cmd_member_promote = {
	.name = "member promote",
	.run = NULL,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = "NAME|ID",
	.summary = "promote a learner to a voting member",
	.min_args = 1,
	.max_args = 1,
};
