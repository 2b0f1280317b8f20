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
	.instead = "  1. bring the etcd CA from a member: there 'etcdpilot certs export-bundle FILE',\n"
		   "     here 'etcdpilot certs import-bundle FILE --certificate-key KEY' (or copy\n"
		   "     /etc/kubernetes/pki/etcd/ca.crt and ca.key over a secure channel);\n"
		   "  2. on this node: etcdpilot certs generate --name NAME --advertise-address IP\n"
		   "  3. anywhere with the cluster's certificates: etcdpilot member add NAME\n"
		   "     https://IP:2380 --learner   (it prints the ETCD_INITIAL_CLUSTER to use)\n"
		   "  4. on this node: start etcd with --initial-cluster set to what step 3\n"
		   "     printed and --initial-cluster-state=existing (edit the manifest that\n"
		   "     'etcdpilot render manifest' prints, or etcd.env of 'render unit');\n"
		   "  5. once it has caught up: etcdpilot member promote NAME",
	.min_args = 1,
	.max_args = 1,
};
