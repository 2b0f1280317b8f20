/*
 * certs.c - etcdpilot certs: the etcd PKI.
 */
#include "cli.h"

const struct cli_command cmd_certs_generate = {
	.name = "certs generate",
	.run = NULL,
	.groups = CLI_NODE,
	.args = "[NAME|all]",
	.summary = "generate the etcd CA and this node's certificates (kubeadm layout)",
	.min_args = 0,
	.max_args = 1,
};

const struct cli_command cmd_certs_check_expiration = {
	.name = "certs check-expiration",
	.run = NULL,
	.groups = CLI_NODE,
	.args = NULL,
	.summary = "show when each etcd certificate expires",
	.min_args = 0,
	.max_args = 0,
};

const struct cli_command cmd_certs_renew = {
	.name = "certs renew",
	.run = NULL,
	.groups = CLI_NODE,
	.args = "NAME|all",
	.summary = "renew certificates with the CA (the CA itself is never renewed)",
	.min_args = 1,
	.max_args = 1,
};

const struct cli_command cmd_certs_export_bundle = {
	.name = "certs export-bundle",
	.run = NULL,
	.groups = CLI_NODE,
	.args = "FILE",
	.summary = "write the etcd CA, encrypted, for another control-plane node",
	.min_args = 1,
	.max_args = 1,
};

const struct cli_command cmd_certs_import_bundle = {
	.name = "certs import-bundle",
	.run = NULL,
	.groups = CLI_NODE,
	.args = "FILE",
	.summary = "install the etcd CA from an encrypted bundle",
	.min_args = 1,
	.max_args = 1,
};
