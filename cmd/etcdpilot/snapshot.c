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
	.instead = "  ETCDCTL_API=3 etcdctl --endpoints https://127.0.0.1:2379 \\\n"
		   "    --cacert /etc/kubernetes/pki/etcd/ca.crt \\\n"
		   "    --cert /etc/kubernetes/pki/etcd/healthcheck-client.crt \\\n"
		   "    --key /etc/kubernetes/pki/etcd/healthcheck-client.key snapshot save FILE",
	.min_args = 1,
	.max_args = 1,
};
