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
	.instead = "  1. etcdpilot member remove NAME   (from any node; refused if it costs quorum)\n"
		   "  2. static pod: move /etc/kubernetes/manifests/etcd.yaml out of the manifest\n"
		   "     directory; systemd: systemctl disable --now etcd.service\n"
		   "  3. move the data directory (/var/lib/etcd) to a backup place\n"
		   "  4. remove this node's leaf certificates under /etc/kubernetes/pki/etcd",
	.min_args = 0,
	.max_args = 0,
};
