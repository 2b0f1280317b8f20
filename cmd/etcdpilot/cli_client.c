/*
 * cli_client.c - opening a client for health and member commands: spec,
 * endpoint and TLS resolution (the library decides; this file only feeds it
 * the flags and the environment and reports the choice on -v).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_client.h"

int cli_client_open(struct cli_ctx *ctx, uint64_t default_timeout_ms, struct cli_client *cc,
		    struct ep_error *err)
{
	int r;

	ep_spec_init(&cc->spec);
	r = cli_load_spec(ctx, &cc->spec, err);
	if (r < 0)
		return r;
	/* spec.timeout_ms defaults to init's 4 minutes; only an explicit --timeout counts here. */
	cc->timeout_ms = ctx->ov.timeout && cc->spec.timeout_ms ? cc->spec.timeout_ms
								: default_timeout_ms;

	const struct ep_client_input flags = {
		.endpoints = ctx->endpoints,
		.cacert = ctx->cacert,
		.cert = ctx->cert,
		.key = ctx->key,
	};
	const struct ep_client_input env = {
		.endpoints = getenv("ETCDCTL_ENDPOINTS"),
		.cacert = getenv("ETCDCTL_CACERT"),
		.cert = getenv("ETCDCTL_CERT"),
		.key = getenv("ETCDCTL_KEY"),
	};
	r = ep_client_config_resolve(&cc->spec, ctx->root, &flags, &env, &cc->cfg, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < cc->cfg.endpoints.n; i++)
		cli_verbose(ctx, "[client] endpoint %s (from the %s%s%s)", cc->cfg.endpoints.v[i],
			    ep_client_source_name(cc->cfg.endpoints_from),
			    cc->cfg.endpoints_file ? " " : "",
			    cc->cfg.endpoints_file ? cc->cfg.endpoints_file : "");
	cli_verbose(ctx, "[client] CA %s (%s), certificate %s (%s), key %s (%s)",
		    cc->cfg.tls.cacert, ep_client_source_name(cc->cfg.cacert_from), cc->cfg.tls.cert,
		    ep_client_source_name(cc->cfg.cert_from), cc->cfg.tls.key,
		    ep_client_source_name(cc->cfg.key_from));
	return ep_client_new(&cc->cfg.tls, cc->timeout_ms, &cc->client, err);
}

void cli_client_release(struct cli_client *cc)
{
	ep_client_free(cc->client);
	cc->client = NULL;
	ep_client_config_release(&cc->cfg);
	ep_spec_release(&cc->spec);
}

const char *cli_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB", "EB" };
	double v = (double)n;
	size_t u = 0;
	while (v >= 1000 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, size, "%" PRIu64 " B", n);
	else
		snprintf(buf, size, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}
