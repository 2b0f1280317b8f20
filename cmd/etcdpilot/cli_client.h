/*
 * cli_client.h - what the commands that talk to a cluster share: the node
 * spec, the resolved endpoints and TLS files, and a client, built from the
 * flags, the ETCDCTL_* environment, the config and the node's own files.
 */
#ifndef ETCDPILOT_CLI_CLIENT_H
#define ETCDPILOT_CLI_CLIENT_H

#include <stdint.h>

#include "cli.h"
#include "etcdpilot/client.h"

struct cli_client {
	struct ep_spec spec;
	struct ep_client_config cfg;
	struct ep_client *client;
	uint64_t timeout_ms; /* --timeout when given, else @default_timeout_ms */
};

/*
 * Fill @cc (zeroed): load the spec, resolve endpoints and TLS files, create
 * the client with the timeout.  Says on -v where each value came from.
 * Returns 0 or a negative errno with @err set; release with
 * cli_client_release() either way.
 */
int cli_client_open(struct cli_ctx *ctx, uint64_t default_timeout_ms, struct cli_client *cc,
		    struct ep_error *err);

void cli_client_release(struct cli_client *cc);

/* Human byte size as etcdctl prints it ("25 kB", "2.1 MB") into @buf. */
const char *cli_bytes(uint64_t n, char *buf, size_t size);

#endif
