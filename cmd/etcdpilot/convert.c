/*
 * convert.c - etcdpilot convert: move this member between systemd and static pod.
 */
#include "cli.h"

static const struct cli_opt convert_opts[] = {
	{ "to", 0, true, "MODE", "static-pod or systemd" },
	{ 0 },
};

const struct cli_command cmd_convert = {
	.name = "convert",
	.run = NULL,
	.groups = CLI_NODE | CLI_SYSTEMD | CLI_CLIENT,
	.opts = convert_opts,
	.args = NULL,
	.summary = "convert this member between systemd and static pod (--to)",
	.instead = "  remove this member ('etcdpilot member remove NAME' on another node), clean\n"
		   "  its data directory, and join it again in the other mode (the manual steps\n"
		   "  of 'etcdpilot join --help')",
	.min_args = 0,
	.max_args = 0,
};
