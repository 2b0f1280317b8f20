/*
 * keyspace.c - etcdpilot keyspace [PREFIX]: the /registry tree of the
 * cluster - what is in etcd, how big, how often it changes, whether it is
 * encrypted at rest - read at one revision in pages (ep_keyspace_walk).
 * This file reads the flags, runs the walk with a progress line, builds the
 * one document (keyspace_json.c) and prints it as JSON or text
 * (keyspace_render.c).  --check-encryption exits 4 when a checked
 * resource has values in plaintext.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli_client.h"
#include "keyspace_cli.h"

#define KEYSPACE_DEFAULT_TIMEOUT_MS (5u * 60 * 1000)
#define MAX_CHECK 64

static int parse_uint(const char *flag, const char *s, unsigned min, unsigned max, unsigned *ret,
		      struct ep_error *err)
{
	char *end;
	errno = 0;
	unsigned long v = s ? strtoul(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || v < min || v > max || s[0] == '-')
		return ep_error_usage(err, -EINVAL, "--%s '%s': expected a number from %u to %u",
				      flag, s ? s : "", min, max);
	*ret = (unsigned)v;
	return 0;
}

/* The resources of --resource (repeatable, comma-separated), default "secrets". */
static int check_names(const struct cli_ctx *ctx, char **buf, const char **names, size_t *n,
		       struct ep_error *err)
{
	size_t len = 0;
	*n = 0;
	for (size_t i = 0; i < ctx->nlocal; i++)
		if (!strcmp(ctx->local[i].name, "resource"))
			len += strlen(ctx->local[i].value) + 1;
	if (!len) {
		names[(*n)++] = "secrets";
		return 0;
	}
	char *p = *buf = malloc(len);
	if (!p)
		return ep_error_set(err, -ENOMEM, "out of memory");
	for (size_t i = 0; i < ctx->nlocal; i++) {
		if (strcmp(ctx->local[i].name, "resource"))
			continue;
		strcpy(p, ctx->local[i].value);
		for (char *tok = strtok(p, ","); tok; tok = strtok(NULL, ",")) {
			if (*n >= MAX_CHECK)
				return ep_error_usage(err, -EINVAL, "--resource: at most %d resources",
						      MAX_CHECK);
			names[(*n)++] = tok;
		}
		p += strlen(ctx->local[i].value) + 1;
	}
	if (!*n)
		return ep_error_usage(err, -EINVAL, "--resource: no resource named");
	return 0;
}

static int keyspace_run(struct cli_ctx *ctx, struct ep_error *err)
{
	struct cli_client cc = { 0 };
	struct ep_keyspace *ks = NULL;
	struct ks_view v = { .depth = 2, .top = 5 };
	const char *names[MAX_CHECK];
	char *names_buf = NULL;
	json_t *doc = NULL;
	int r;

	const char *prefix = ctx->nargs ? ctx->args[0] : "/registry";
	v.etcd_prefix = cli_get(ctx, "etcd-prefix") ? cli_get(ctx, "etcd-prefix") : "/registry";
	v.check = cli_has(ctx, "check-encryption");
	if ((cli_has(ctx, "depth") && (r = parse_uint("depth", cli_get(ctx, "depth"), 1, 3,
						      &v.depth, err)) < 0) ||
	    (cli_has(ctx, "top") &&
	     (r = parse_uint("top", cli_get(ctx, "top"), 1, 1000, &v.top, err)) < 0) ||
	    (cli_has(ctx, "hot") &&
	     (r = parse_uint("hot", cli_get(ctx, "hot"), 1, 1000, &v.hot, err)) < 0) ||
	    (r = check_names(ctx, &names_buf, names, &v.ncheck, err)) < 0)
		goto out;
	if (cli_has(ctx, "resource") && !v.check) {
		r = ep_error_usage(err, -EINVAL, "--resource names what --check-encryption checks: "
						 "give --check-encryption too");
		goto out;
	}
	v.check_names = names;
	if ((r = cli_client_open(ctx, KEYSPACE_DEFAULT_TIMEOUT_MS, &cc, err)) < 0)
		goto out;
	const struct ep_keyspace_opts opts = {
		.prefix = prefix,
		.prefix_len = strlen(prefix),
		.etcd_prefix = v.etcd_prefix,
		.depth = v.depth,
		.top = v.top,
		.hot = v.hot,
		.check = v.check ? names : NULL,
		.ncheck = v.check ? v.ncheck : 0,
		.timeout_ms = cc.timeout_ms,
		.on_page = ks_progress,
	};
	if (ep_keyspace_new(&opts, &ks) < 0) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	r = ep_keyspace_walk(ks, cc.client, (const char *const *)cc.cfg.endpoints.v,
			     cc.cfg.endpoints.n, err);
	ks_progress_clear();
	if (r < 0)
		goto out;
	v.endpoint = ks->done.endpoint;
	if (!(doc = ks_json(ks, &v))) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	bool plaintext = v.check && !json_is_true(json_object_get(
					    json_object_get(doc, "encryption_check"), "ok"));
	if (plaintext)
		fprintf(stderr, "etcdpilot: keyspace: values of checked resources are stored in "
				"plaintext (listed in the output); exit %d\n",
			CLI_PLAINTEXT_EXIT);
	if (cli_json(ctx))
		cli_print_doc("Keyspace", json_incref(doc));
	else
		ks_render(doc, stdout);
	r = plaintext ? CLI_PLAINTEXT : 0;
out:
	json_decref(doc);
	ep_keyspace_free(ks);
	cli_client_release(&cc);
	free(names_buf);
	return r;
}

static const struct cli_opt keyspace_opts[] = {
	{ "depth", 0, true, "N", "levels shown: 1 resources, 2 + namespaces (default), 3 + objects" },
	{ "top", 0, true, "N", "children shown per level, largest first (default 5)" },
	{ "hot", 0, true, "N", "list the N most-modified keys of each resource and overall" },
	{ "check-encryption", 0, false, NULL,
	  "exit 4 when a value of secrets (or --resource) is stored in plaintext" },
	{ "resource", 0, true, "R[,R...]",
	  "resources --check-encryption checks (repeatable; 'secrets', "
	  "'widgets.example.com')" },
	{ "etcd-prefix", 0, true, "PREFIX", "the API server's --etcd-prefix (default /registry)" },
	{ 0 },
};

const struct cli_command cmd_keyspace = {
	.name = "keyspace",
	.run = keyspace_run,
	.groups = CLI_NODE | CLI_CLIENT,
	.opts = keyspace_opts,
	.args = "[PREFIX]",
	.summary = "the /registry tree: what is in etcd, how big, how often it changes, encrypted?",
	.help = "Read every key under PREFIX (default /registry) at one revision - the first\n"
		"page's, linearizable; the rest serializable at that revision - in pages, and\n"
		"show the tree as the API server lays it out: resource, namespace (for\n"
		"namespaced resources), objects, with the keys, bytes (keys + values) and share\n"
		"of the whole at each level, largest first.  Per resource: what the values are\n"
		"(Kubernetes' protobuf envelope, JSON, encrypted at rest with which provider and\n"
		"key, or unknown), their kinds, how often they were written (etcd's version),\n"
		"and how many keys hold a lease.  Values are never printed; keys are printed\n"
		"with control characters escaped as C writes them (\\n, \\x1b) and bytes that are\n"
		"not UTF-8 as \\xNN.  Memory stays flat however many keys there are; the whole\n"
		"walk ends within --timeout (default 5m).  A compacted revision during the walk\n"
		"is an error: run it again.\n"
		"Exit 0, 1 when the walk failed, 4 with --check-encryption when a checked\n"
		"resource has values in plaintext.",
	.min_args = 0,
	.max_args = 1,
	.json_output = true,
};
