/*
 * keyspace_get.c - etcdpilot keyspace get KEY: the metadata of one object
 * read from its bytes (apiVersion, kind, namespace/name, uid, creation
 * time, resourceVersion = the key's mod_revision, lease, encryption), and
 * keyspace get --keys-only PREFIX: the keys, like etcdctl get PREFIX
 * --prefix --keys-only, streamed at one revision.  The value itself is
 * never printed.  One document per call, as text or JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli_client.h"
#include "keyspace_cli.h"

#define GET_DEFAULT_TIMEOUT_MS 10000u
#define KEYS_DEFAULT_TIMEOUT_MS (5u * 60 * 1000)

static json_t *str_or_null(struct ep_k8s_str s)
{
	return s.len ? ks_jstr(s.p, s.len) : json_null();
}

/* metav1.Time as RFC 3339, as the API server prints it. */
static json_t *creation(const struct ep_k8s_value *v)
{
	if (v->creation.len)
		return ks_jstr(v->creation.p, v->creation.len);
	if (!v->has_creation)
		return json_null();
	time_t t = (time_t)v->creation_seconds;
	struct tm tm;
	char buf[64];
	if (!gmtime_r(&t, &tm) || !strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, sizeof(buf), "%" PRId64 "s since the epoch", v->creation_seconds);
	return json_string(buf);
}

static json_t *object_json(const struct ep_keyspace_object *o, const char *endpoint)
{
	const struct ep_k8s_value *v = &o->what;
	const struct ep_k8s_key *k = &o->where;
	bool meta = v->encoding == EP_K8S_PROTOBUF || v->encoding == EP_K8S_JSON;
	char lease[17], rv[24];
	snprintf(rv, sizeof(rv), "%" PRIu64, o->mod_revision);
	static const char *const scopes[] = { "namespaced", "cluster", "resource", "outside" };
	json_t *enc = v->encoding == EP_K8S_ENCRYPTED
			      ? json_pack("{s:s s:o s:o}", "provider", ep_k8s_provider_name(v->provider),
					  "provider_name", str_or_null(v->provider_name), "key",
					  ks_jstr(v->key_name.p, v->key_name.len))
			      : json_null();
	/* Namespace and name from the object when it can be read, else from the key. */
	struct ep_k8s_str ns = meta && v->name.len ? v->namespace_ : k->namespace_;
	struct ep_k8s_str name = meta && v->name.len ? v->name : k->name;
	return json_pack(
		"{s:o s:s s:o s:s s:o s:o s:s s:o s:o s:o s:o s:o s:s s:o s:o s:o s:o s:o s:o s:s s:s? "
		"s:o s:o s:o}",
		"key", ks_jstr(o->key, o->key_len), "endpoint", endpoint, "resource",
		ks_jstr(k->resource.p, k->resource.len), "scope", scopes[k->scope], "namespace",
		str_or_null(ns), "name", str_or_null(name), "meta_from",
		meta && v->name.len ? "value" : "key", "api_version", str_or_null(v->api_version),
		"kind", str_or_null(v->kind), "uid", str_or_null(v->uid), "creation_timestamp",
		creation(v), "generation",
		v->has_generation ? json_integer(v->generation) : json_null(), "resource_version", rv,
		"create_revision", json_integer((json_int_t)o->create_revision), "mod_revision",
		json_integer((json_int_t)o->mod_revision), "version",
		json_integer((json_int_t)o->version), "lease",
		o->lease ? json_string(ep_member_id_hex(o->lease, lease)) : json_null(), "encrypted",
		json_boolean(v->encoding == EP_K8S_ENCRYPTED), "encryption", enc, "encoding",
		ep_k8s_encoding_name(v->encoding), "error", v->error, "key_bytes",
		json_integer((json_int_t)o->key_len), "value_bytes",
		json_integer((json_int_t)o->value_len), "revision",
		json_integer((json_int_t)o->revision));
}

static void object_render(const json_t *d)
{
	static const char *const fields[][2] = {
		{ "key", "key" },		    { "resource", "resource" },
		{ "scope", "scope" },		    { "namespace", "namespace" },
		{ "name", "name" },		    { "api_version", "apiVersion" },
		{ "kind", "kind" },		    { "uid", "uid" },
		{ "creation_timestamp", "created" }, { "generation", "generation" },
		{ "resource_version", "resourceVersion" }, { "create_revision", "createRevision" },
		{ "version", "version" },	    { "lease", "lease" },
		{ "encoding", "encoding" },	    { "error", "unreadable" },
		{ "key_bytes", "key bytes" },	    { "value_bytes", "value bytes" },
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const json_t *x = json_object_get(d, fields[i][0]);
		if (!x || json_is_null(x))
			continue;
		if (json_is_integer(x))
			printf("%-16s %" JSON_INTEGER_FORMAT "\n", fields[i][1], json_integer_value(x));
		else
			printf("%-16s %s\n", fields[i][1], json_string_value(x));
	}
	const json_t *enc = json_object_get(d, "encryption");
	if (json_is_object(enc))
		printf("%-16s %s, key '%s'\n", "encryption",
		       json_string_value(json_object_get(enc, "provider")),
		       json_string_value(json_object_get(enc, "key")));
	else
		printf("%-16s none: stored in plaintext (identity)\n", "encryption");
	printf("(namespace and name read from the %s)\n",
	       json_string_value(json_object_get(d, "meta_from")));
}

struct keys_out {
	bool json;
	bool started;
	const char *prefix;
	uint64_t n;
};

/* The JSON document's head, once there is something to say. */
static void keys_head(struct keys_out *o)
{
	if (!o->json || o->started)
		return;
	o->started = true;
	json_t *p = ks_jstr(o->prefix, strlen(o->prefix));
	printf("{\n  \"apiVersion\": \"" CLI_API_VERSION "\",\n  \"kind\": \"KeyList\",\n"
	       "  \"prefix\": ");
	json_dumpf(p, stdout, JSON_ENCODE_ANY);
	json_decref(p);
	printf(",\n  \"keys\": [\n");
}

static int key_out(void *userdata, const struct ep_range_kv *kv)
{
	struct keys_out *o = userdata;
	char *k = ep_escape_bytes(kv->key, kv->key_len);
	if (!k)
		return -ENOMEM;
	keys_head(o);
	if (!o->json) {
		puts(k);
	} else {
		json_t *s = json_string(k);
		printf("%s    ", o->n ? ",\n" : "");
		json_dumpf(s, stdout, JSON_ENCODE_ANY);
		json_decref(s);
	}
	o->n++;
	free(k);
	return 0;
}

/* The keys under @prefix, streamed: memory stays flat, so does a JSON list of millions. */
static int keys_only(struct cli_client *cc, const char *prefix, bool json, struct ep_error *err)
{
	struct keys_out out = { .json = json, .prefix = prefix };
	/* A progress line would tangle with keys printed on the same terminal. */
	struct ep_keyspace_scan scan = { .prefix = prefix, .prefix_len = strlen(prefix),
					 .keys_only = true, .timeout_ms = cc->timeout_ms,
					 .on_kv = key_out,
					 .on_page = isatty(STDOUT_FILENO) ? NULL : ks_progress,
					 .userdata = &out };
	int r = ep_keyspace_scan(cc->client, (const char *const *)cc->cfg.endpoints.v,
				 cc->cfg.endpoints.n, &scan, err);
	ks_progress_clear();
	if (r == 0)
		keys_head(&out);
	if (json && out.started)
		printf("\n  ],\n  \"count\": %" PRIu64 ",\n  \"revision\": %" PRIu64 ",\n  \"complete\": "
		       "%s\n}\n",
		       out.n, scan.done.revision, r < 0 ? "false" : "true");
	if (r == -ENOMEM && !ep_error_isset(err))
		r = ep_error_set(err, -ENOMEM, "out of memory");
	return r;
}

static int get_run(struct cli_ctx *ctx, struct ep_error *err)
{
	struct cli_client cc = { 0 };
	struct ep_keyspace_object o;
	bool keys = cli_has(ctx, "keys-only");
	int r = cli_client_open(ctx, keys ? KEYS_DEFAULT_TIMEOUT_MS : GET_DEFAULT_TIMEOUT_MS, &cc,
				err);
	if (r < 0)
		goto out;
	if (keys) {
		r = keys_only(&cc, ctx->args[0], cli_json(ctx), err);
		goto out;
	}
	const char *pre = cli_get(ctx, "etcd-prefix");
	r = ep_keyspace_get(cc.client, (const char *const *)cc.cfg.endpoints.v, cc.cfg.endpoints.n,
			    ctx->args[0], strlen(ctx->args[0]), pre, cc.timeout_ms, &o, err);
	if (r == 0) {
		json_t *d = object_json(&o, o.endpoint);
		if (!d)
			r = ep_error_set(err, -ENOMEM, "out of memory");
		else if (cli_json(ctx))
			cli_print_json(d);
		else {
			object_render(d);
			json_decref(d);
		}
	}
	ep_keyspace_object_release(&o);
out:
	cli_client_release(&cc);
	return r;
}

static const struct cli_opt get_opts[] = {
	{ "keys-only", 0, false, NULL, "list the keys under the PREFIX given instead" },
	{ "etcd-prefix", 0, true, "PREFIX", "the API server's --etcd-prefix (default /registry)" },
	{ 0 },
};

const struct cli_command cmd_keyspace_get = {
	.name = "keyspace get",
	.run = get_run,
	.groups = CLI_NODE | CLI_CLIENT,
	.opts = get_opts,
	.args = "KEY",
	.summary = "the metadata of one object in etcd (never its content), or --keys-only PREFIX",
	.help = "Read KEY (linearizable) and say what it is from its bytes alone: apiVersion,\n"
		"kind, namespace and name, uid, creation time and generation from the object's\n"
		"ObjectMeta (protobuf or JSON), resourceVersion (the key's mod_revision), its\n"
		"etcd version and lease, and whether it is encrypted at rest (provider and key)\n"
		"or stored in plaintext.  An encrypted value's namespace and name come from the\n"
		"key.  The value's content is never printed.\n"
		"With --keys-only, KEY is a prefix and every key under it is listed, one per\n"
		"line, as 'etcdctl get PREFIX --prefix --keys-only' would, at one revision and\n"
		"in pages, with control characters and bytes that are not UTF-8 escaped\n"
		"(\\n, \\x1b, \\xNN).",
	.min_args = 1,
	.max_args = 1,
	.json_output = true,
};
