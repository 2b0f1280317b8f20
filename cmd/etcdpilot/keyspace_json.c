/*
 * keyspace_json.c - the keyspace tree as one JSON document: what -o json
 * prints and what the text renderer reads.  Every key, name and kind comes
 * from the cluster and is escaped (ep_escape) on its way in; no value's
 * content is ever put here.  Field names are an interface: add, never
 * rename.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "keyspace_cli.h"
#include "etcdpilot/k8s.h"

json_t *ks_jstr(const void *p, size_t len)
{
	char *s = ep_escape_bytes(p, len);
	json_t *j = s ? json_string(s) : NULL;
	free(s);
	return j;
}

static json_t *jint(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *share(uint64_t part, uint64_t whole)
{
	double pct = whole ? 100.0 * (double)part / (double)whole : 0.0;
	return json_real((double)(long long)(pct * 10 + 0.5) / 10);
}

static json_t *encodings(const uint64_t *e)
{
	return json_pack("{s:o s:o s:o s:o}", "protobuf", jint(e[EP_K8S_PROTOBUF]), "json",
			 jint(e[EP_K8S_JSON]), "encrypted", jint(e[EP_K8S_ENCRYPTED]), "unknown",
			 jint(e[EP_K8S_UNKNOWN]));
}

static json_t *more(uint64_t count, uint64_t keys, uint64_t bytes)
{
	return json_pack("{s:o s:o s:o}", "count", jint(count), "keys", jint(keys), "bytes",
			 jint(bytes));
}

static json_t *children(const struct ep_keyspace_children *ch, uint64_t total, unsigned depth,
			unsigned level);

static json_t *node(const struct ep_keyspace_node *n, uint64_t total, unsigned depth,
		    unsigned level)
{
	json_t *o = json_pack("{s:o s:s s:o s:o s:o}", "name", ks_jstr(n->name, n->name_len), "type",
			      n->is_namespace ? "namespace" : "object", "keys", jint(n->keys),
			      "bytes", jint(n->bytes), "share", share(n->bytes, total));
	if (o && n->is_namespace) {
		json_object_set_new(o, "objects", jint(n->children.count));
		if (level < depth) {
			json_object_set_new(o, "children",
					    children(&n->children, total, depth, level + 1));
			json_object_set_new(o, "more",
					    more(n->children.count - n->children.n,
						 n->children.more_keys, n->children.more_bytes));
		}
	}
	return o;
}

static json_t *children(const struct ep_keyspace_children *ch, uint64_t total, unsigned depth,
			unsigned level)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < ch->n; i++)
		json_array_append_new(a, node(&ch->v[i], total, depth, level));
	return a;
}

static const char *scope(const struct ep_keyspace_resource *r)
{
	static const char *const names[] = { "namespaced", "cluster", "resource", "outside" };
	const char *one = NULL;
	for (size_t i = 0; i < 4; i++) {
		if (!r->scope[i])
			continue;
		if (one)
			return "mixed";
		one = names[i];
	}
	return one ? one : "none";
}

static json_t *key_list(const struct ep_keyspace_key *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_pack("{s:o s:o s:o}", "key",
						   ks_jstr(v[i].key, v[i].key_len), "version",
						   jint(v[i].version), "mod_revision",
						   jint(v[i].mod_revision)));
	return a;
}

static json_t *resource(const struct ep_keyspace_resource *r, uint64_t total,
			const struct ks_view *v)
{
	uint64_t bytes = r->key_bytes + r->value_bytes;
	json_t *kinds = json_array(), *enc = json_array();
	for (size_t i = 0; kinds && i < r->nkinds; i++)
		json_array_append_new(
			kinds, json_pack("{s:o s:o s:o}", "api_version",
					 ks_jstr(r->kinds[i].api_version, strlen(r->kinds[i].api_version)),
					 "kind", ks_jstr(r->kinds[i].kind, strlen(r->kinds[i].kind)),
					 "keys", jint(r->kinds[i].keys)));
	for (size_t i = 0; enc && i < r->nenc; i++)
		json_array_append_new(
			enc, json_pack("{s:s s:o s:o s:o}", "provider",
				       ep_k8s_provider_name(r->enc[i].provider), "provider_name",
				       ks_jstr(r->enc[i].provider_name, strlen(r->enc[i].provider_name)),
				       "key", ks_jstr(r->enc[i].key_name, strlen(r->enc[i].key_name)),
				       "keys", jint(r->enc[i].keys)));
	json_t *o = json_pack(
		"{s:o s:b s:s s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:{s:o s:o s:f} s:o}",
		"resource", ks_jstr(r->name, r->name_len), "group", r->group, "scope", scope(r),
		"keys", jint(r->keys), "bytes", jint(bytes), "key_bytes", jint(r->key_bytes),
		"value_bytes", jint(r->value_bytes), "share", share(bytes, total), "namespaces",
		jint(r->namespaces), "encodings", encodings(r->encodings), "kinds", kinds,
		"other_kinds", jint(r->kinds_other), "encryption", enc, "other_encryption",
		jint(r->enc_other), "plaintext", jint(r->plaintext), "versions", "total",
		jint(r->versions), "max", jint(r->version_max), "mean",
		r->keys ? (double)r->versions / (double)r->keys : 0.0, "leased", jint(r->leased));
	if (!o)
		return NULL;
	if (v->depth >= 2) {
		json_object_set_new(o, "children", children(&r->children, total, v->depth, 2));
		json_object_set_new(o, "more",
				    more(r->children.count - r->children.n, r->children.more_keys,
					 r->children.more_bytes));
	}
	if (v->hot)
		json_object_set_new(o, "hot", key_list(r->hot, r->nhot));
	return o;
}

/* The --check-encryption verdict over the resources it names. */
static json_t *check(const struct ep_keyspace *ks, const struct ks_view *v)
{
	json_t *names = json_array(), *unmatched = json_array(), *keys = json_array();
	uint64_t plain = 0, values = 0, listed = 0;
	for (size_t i = 0; i < v->ncheck; i++) {
		bool found = false;
		for (size_t k = 0; k < ks->nres; k++) {
			struct ep_k8s_str name = { ks->res[k]->name, ks->res[k]->name_len };
			found |= ep_k8s_resource_matches(name, v->check_names[i]);
		}
		json_array_append_new(names, json_string(v->check_names[i]));
		if (!found)
			json_array_append_new(unmatched, json_string(v->check_names[i]));
	}
	for (size_t k = 0; k < ks->nres; k++) {
		const struct ep_keyspace_resource *r = ks->res[k];
		if (!r->checked)
			continue;
		plain += r->plaintext;
		values += r->keys;
		for (size_t i = 0; i < r->nplain; i++, listed++)
			json_array_append_new(keys, ks_jstr(r->plain[i].key, r->plain[i].key_len));
	}
	return json_pack("{s:o s:o s:o s:o s:o s:o s:b}", "resources", names, "unmatched",
			 unmatched, "values", jint(values), "plaintext", jint(plain), "keys", keys,
			 "more", jint(plain - listed), "ok", plain == 0);
}

static int hot_cmp(const void *a, const void *b)
{
	const struct ep_keyspace_key *x = *(struct ep_keyspace_key *const *)a;
	const struct ep_keyspace_key *y = *(struct ep_keyspace_key *const *)b;
	if (x->version != y->version)
		return x->version > y->version ? -1 : 1;
	return x->mod_revision > y->mod_revision ? -1 : x->mod_revision < y->mod_revision;
}

/* The most-modified keys of all resources: the best of each resource's best. */
static json_t *hot_all(const struct ep_keyspace *ks, unsigned n)
{
	size_t total = 0, k = 0;
	for (size_t i = 0; i < ks->nres; i++)
		total += ks->res[i]->nhot;
	const struct ep_keyspace_key **all = calloc(total ? total : 1, sizeof(*all));
	if (!all)
		return NULL;
	for (size_t i = 0; i < ks->nres; i++)
		for (size_t j = 0; j < ks->res[i]->nhot; j++)
			all[k++] = &ks->res[i]->hot[j];
	qsort(all, total, sizeof(*all), hot_cmp);
	json_t *a = json_array();
	for (size_t i = 0; a && i < total && i < n; i++)
		json_array_append_new(a, json_pack("{s:o s:o s:o}", "key",
						   ks_jstr(all[i]->key, all[i]->key_len), "version",
						   jint(all[i]->version), "mod_revision",
						   jint(all[i]->mod_revision)));
	free(all);
	return a;
}

json_t *ks_json(const struct ep_keyspace *ks, const struct ks_view *v)
{
	char cid[17], mid[17];
	uint64_t total = ks->key_bytes + ks->value_bytes;
	json_t *res = json_array();
	for (size_t i = 0; res && i < ks->nres; i++)
		json_array_append_new(res, resource(ks->res[i], total, v));
	json_t *doc = json_pack(
		"{s:o s:s s:s? s:s s:s s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o s:o}",
		"prefix", ks_jstr(ks->prefix, ks->prefix_len), "etcd_prefix", v->etcd_prefix,
		"endpoint", v->endpoint, "cluster_id", ep_member_id_hex(ks->cluster_id, cid),
		"member_id", ep_member_id_hex(ks->member_id, mid), "revision",
		jint(ks->done.revision), "depth", jint(v->depth), "top", jint(v->top), "keys",
		jint(ks->keys), "bytes", jint(total), "key_bytes", jint(ks->key_bytes),
		"value_bytes", jint(ks->value_bytes), "encodings", encodings(ks->encodings),
		"leased", jint(ks->leased), "requests", jint(ks->done.requests), "took_ms",
		jint(ks->done.elapsed_ms), "resources", res, "more_resources",
		more(ks->res_more, ks->res_more_keys, ks->res_more_bytes));
	if (!doc)
		return NULL;
	if (v->hot)
		json_object_set_new(doc, "hot", hot_all(ks, v->hot));
	json_object_set_new(doc, "encryption_check", v->check ? check(ks, v) : json_null());
	return doc;
}
