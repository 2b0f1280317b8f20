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

/*
 * The spec, for the few things a client takes from it: the certificate and
 * manifest directories, the mode and env file, an external etcd, --timeout.
 * None of them is the advertise address, whose default is detected from
 * the default route: a node without one (an isolated namespace, a host
 * reached through a specific route) must still be able to ask its cluster.
 * So when the spec cannot be built without a --advertise-address, a
 * placeholder stands in; it is never used.  Any other problem of the config
 * is reported as it is.
 */
static int load_spec_for_client(struct cli_ctx *ctx, struct ep_spec *spec, struct ep_error *err)
{
	if (ctx->ov.advertise_address)
		return cli_load_spec(ctx, spec, err);
	/* A first try whose notes are kept back, so that a retry does not repeat them. */
	struct ep_notes notes = { 0 };
	int r = ep_config_load(spec, ctx->config, &ctx->ov, &notes, NULL);
	for (size_t i = 0; r >= 0 && i < notes.n; i++)
		fprintf(stderr, "[config] %s\n", notes.v[i]);
	ep_notes_release(&notes);
	if (r >= 0)
		return r;
	ep_spec_release(spec);
	ep_spec_init(spec);
	ctx->ov.advertise_address = "127.0.0.1"; /* not used by client commands */
	r = cli_load_spec(ctx, spec, err);
	cli_verbose(ctx, "[client] %s", r >= 0 ? "no advertise address could be detected; "
						 "none is needed to talk to the cluster"
					       : "the config is wrong beyond the advertise address");
	return r;
}

int cli_client_open(struct cli_ctx *ctx, uint64_t default_timeout_ms, struct cli_client *cc,
		    struct ep_error *err)
{
	int r;

	ep_spec_init(&cc->spec);
	r = load_spec_for_client(ctx, &cc->spec, err);
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
