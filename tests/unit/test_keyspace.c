/*
 * test_keyspace.c - the keyspace without a cluster: the value decoder
 * (protobuf envelope, JSON, every encryption prefix, garbage, truncation),
 * the key layout (namespaced, cluster-scoped, custom resources, the
 * two-segment core prefixes, keys outside the prefix), escaping, the tree
 * aggregation, the streaming gRPC Range parser (fed whole and byte by
 * byte, and malformed), and the windowed scan against a simulated etcd
 * that charges each request for every key of its window, as etcd 3.4 does.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/k8s.h"
#include "etcdpilot/keyspace.h"
#include "keyspace_internal.h"

/* ------------------------------------------------------------------------ */
/* A tiny protobuf writer for building values                                */

struct pbuf {
	unsigned char b[1 << 16];
	size_t n;
};

static void pb_varint(struct pbuf *p, uint64_t v)
{
	do {
		p->b[p->n++] = (unsigned char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

static void pb_bytes(struct pbuf *p, unsigned field, const void *d, size_t len)
{
	pb_varint(p, (uint64_t)field << 3 | 2);
	pb_varint(p, len);
	memcpy(p->b + p->n, d, len);
	p->n += len;
}

static void pb_str(struct pbuf *p, unsigned field, const char *s)
{
	pb_bytes(p, field, s, strlen(s));
}

static void pb_u64(struct pbuf *p, unsigned field, uint64_t v)
{
	pb_varint(p, (uint64_t)field << 3);
	pb_varint(p, v);
}

/* "k8s\0" + Unknown{TypeMeta, raw = object{ObjectMeta, spec padding}, "", ""}, as the API server writes. */
static size_t envelope(unsigned char *out, const char *api_version, const char *kind,
		       const char *ns, const char *name, size_t pad)
{
	struct pbuf tm = { .n = 0 }, ts = { .n = 0 }, meta = { .n = 0 }, obj = { .n = 0 },
		    unk = { .n = 0 };
	static struct pbuf big;
	if (api_version)
		pb_str(&tm, 1, api_version);
	if (kind)
		pb_str(&tm, 2, kind);
	pb_u64(&ts, 1, 1714564800); /* 2024-05-01T12:00:00Z */
	pb_u64(&ts, 2, 0);
	pb_str(&meta, 1, name);
	pb_str(&meta, 2, "");
	pb_str(&meta, 3, ns);
	pb_str(&meta, 4, "");
	pb_str(&meta, 5, "6f0d4b4e-1c43-4a6e-9d4f-7e1f0f2a5c11");
	pb_str(&meta, 6, "");
	pb_u64(&meta, 7, 3);
	pb_bytes(&meta, 8, ts.b, ts.n);
	pb_bytes(&obj, 1, meta.b, meta.n);
	big.n = 0;
	memset(big.b, 'x', pad);
	pb_bytes(&obj, 2, big.b, pad);
	pb_bytes(&unk, 1, tm.b, tm.n);
	pb_bytes(&unk, 2, obj.b, obj.n);
	pb_str(&unk, 3, "");
	pb_str(&unk, 4, "");
	memcpy(out, "k8s\0", 4);
	memcpy(out + 4, unk.b, unk.n);
	return 4 + unk.n;
}

static bool str_is(struct ep_k8s_str s, const char *w)
{
	return s.len == strlen(w) && !memcmp(s.p, w, s.len);
}

static void decode(const void *v, size_t len, struct ep_k8s_value *ret)
{
	ep_k8s_value_decode(v, len, len, ret);
}

/* ------------------------------------------------------------------------ */
/* Values                                                                    */

static void test_value_protobuf(void **state)
{
	(void)state;
	static unsigned char v[1 << 16];
	struct ep_k8s_value r;
	size_t n = envelope(v, "v1", "Pod", "default", "web-0", 100);

	decode(v, n, &r);
	assert_int_equal(r.encoding, EP_K8S_PROTOBUF);
	assert_null(r.error);
	assert_true(str_is(r.api_version, "v1") && str_is(r.kind, "Pod"));
	assert_true(str_is(r.namespace_, "default") && str_is(r.name, "web-0"));
	assert_true(str_is(r.uid, "6f0d4b4e-1c43-4a6e-9d4f-7e1f0f2a5c11"));
	assert_true(r.has_creation);
	assert_int_equal(r.creation_seconds, 1714564800);
	assert_true(r.has_generation);
	assert_int_equal(r.generation, 3);

	/* Only a head of a big value seen: still an envelope, the kind is in the head. */
	n = envelope(v, "apps/v1", "Deployment", "kube-system", "coredns", 60000);
	ep_k8s_value_decode(v, 64, n, &r);
	assert_int_equal(r.encoding, EP_K8S_PROTOBUF);
	assert_true(str_is(r.kind, "Deployment") && str_is(r.api_version, "apps/v1"));
	assert_false(r.complete);
	/* ... while the same bytes as the whole value are a truncated envelope. */
	decode(v, 64, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);
	assert_non_null(r.error);
	decode(v, n - 1, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);
}

static void test_value_protobuf_malformed(void **state)
{
	(void)state;
	static unsigned char v[1 << 16];
	struct ep_k8s_value r;

	decode("k8s\0", 4, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);
	assert_string_equal(r.error, "protobuf envelope without a message");

	size_t n = envelope(v, NULL, NULL, "ns", "x", 0); /* TypeMeta empty */
	decode(v, n, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);
	assert_string_equal(r.error, "protobuf envelope without apiVersion and kind");

	/* No TypeMeta at all. */
	struct pbuf p = { .n = 0 };
	memcpy(p.b, "k8s\0", 4);
	p.n = 4;
	pb_str(&p, 2, "raw");
	decode(p.b, p.n, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);

	/* TypeMeta as a varint: wrong wire type. */
	p.n = 4;
	pb_u64(&p, 1, 7);
	decode(p.b, p.n, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);

	/* A length past the end. */
	p.n = 4;
	pb_varint(&p, 1 << 3 | 2);
	pb_varint(&p, 1000);
	memset(p.b + p.n, 'a', 10);
	p.n += 10;
	decode(p.b, p.n, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);

	/* A group wire type, and an 11-byte varint. */
	p.n = 4;
	pb_varint(&p, 1 << 3 | 3);
	decode(p.b, p.n, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);
	p.n = 4;
	memset(p.b + 4, 0xff, 11);
	p.n = 15;
	decode(p.b, p.n, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);

	/* A malformed ObjectMeta inside raw. */
	struct pbuf tm = { .n = 0 }, obj = { .n = 0 };
	pb_str(&tm, 1, "v1");
	pb_str(&tm, 2, "Pod");
	pb_u64(&obj, 1, 5); /* ObjectMeta as a varint */
	p.n = 4;
	pb_bytes(&p, 1, tm.b, tm.n);
	pb_bytes(&p, 2, obj.b, obj.n);
	decode(p.b, p.n, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);
	assert_string_equal(r.error, "malformed object in the protobuf envelope");
}

static void test_value_encrypted(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		enum ep_k8s_provider provider;
		const char *key;
	} cases[] = {
		{ "k8s:enc:aescbc:v1:key1:\x8f\x01\x02", EP_K8S_AESCBC, "key1" },
		{ "k8s:enc:aesgcm:v1:key2:\x01", EP_K8S_AESGCM, "key2" },
		{ "k8s:enc:secretbox:v1:sb:\x01", EP_K8S_SECRETBOX, "sb" },
		{ "k8s:enc:kms:v1:vault:\x00\x20", EP_K8S_KMS_V1, "vault" },
		{ "k8s:enc:kms:v2:kms-plugin:\x0a", EP_K8S_KMS_V2, "kms-plugin" },
		{ "k8s:enc:aescbc:v2:k:\x01", EP_K8S_PROVIDER_OTHER, "k" },
		{ "k8s:enc:rot13:v1:k:abc", EP_K8S_PROVIDER_OTHER, "k" },
		{ "k8s:enc:aescbc:v1::\x01", EP_K8S_AESCBC, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ep_k8s_value r;
		decode(cases[i].v, strlen(cases[i].v), &r);
		assert_int_equal(r.encoding, EP_K8S_ENCRYPTED);
		assert_int_equal(r.provider, cases[i].provider);
		assert_true(str_is(r.key_name, cases[i].key));
	}
	struct ep_k8s_value r;
	decode("k8s:enc:aescbc:v1:nokeyterminator", 33, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);
	decode("k8s:enc:", 8, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);
	assert_string_equal(ep_k8s_provider_name(EP_K8S_KMS_V2), "kms-v2");
}

static void test_value_json(void **state)
{
	(void)state;
	static const char cr[] =
		" {\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"labels\":"
		"{\"name\":\"not-this\"},\"name\":\"w1\",\"namespace\":\"team-a\",\"uid\":\"u-1\","
		"\"generation\":7,\"creationTimestamp\":\"2024-05-01T12:00:00Z\"},"
		"\"spec\":{\"size\":[1,2.5e3,-0.1,true,false,null],\"name\":\"deep\"}}\n";
	struct ep_k8s_value r;
	decode(cr, strlen(cr), &r);
	assert_int_equal(r.encoding, EP_K8S_JSON);
	assert_true(str_is(r.api_version, "example.com/v1") && str_is(r.kind, "Widget"));
	assert_true(str_is(r.name, "w1") && str_is(r.namespace_, "team-a"));
	assert_true(str_is(r.uid, "u-1") && str_is(r.creation, "2024-05-01T12:00:00Z"));
	assert_true(r.has_generation);
	assert_int_equal(r.generation, 7);
	assert_false(r.json_escaped);

	/* Seen in part: a JSON object so far, as far as it goes. */
	ep_k8s_value_decode(cr, 40, strlen(cr), &r);
	assert_int_equal(r.encoding, EP_K8S_JSON);
	assert_true(str_is(r.api_version, "example.com/v1"));

	static const char *const bad[] = {
		"{\"a\":1",            /* cut short */
		"{\"a\":1}}",          /* trailing bytes */
		"{\"a\" 1}",           /* no colon */
		"{a:1}",               /* bare key */
		"[1,2]",               /* not an object */
		"{\"a\":01}",          /* leading zero */
		"{\"a\":\"\\q\"}",     /* bad escape */
		"{\"a\":\"\x01\"}",    /* control character */
		"{\"a\":tru}",         /* bad literal */
		"{\"a\":1,}",          /* trailing comma */
		"garbage",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		decode(bad[i], strlen(bad[i]), &r);
		assert_int_equal(r.encoding, EP_K8S_UNKNOWN);
		assert_non_null(r.error);
	}
	const char *esc = "{\"kind\":\"W\\u0069dget\"}";
	decode(esc, strlen(esc), &r);
	assert_int_equal(r.encoding, EP_K8S_JSON);
	assert_true(r.json_escaped);

	/* Nesting deeper than the scanner follows is refused, not a crash. */
	static char deep[5000];
	deep[0] = '{';
	memcpy(deep + 1, "\"a\":", 4);
	memset(deep + 5, '[', 2000);
	decode(deep, 2005, &r);
	assert_int_equal(r.encoding, EP_K8S_UNKNOWN);
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */

static void test_key_classify(void **state)
{
	(void)state;
	static const struct {
		const char *key, *prefix;
		const char *resource, *ns, *name;
		enum ep_k8s_scope scope;
		bool group;
	} cases[] = {
		{ "/registry/pods/default/web-0", NULL, "pods", "default", "web-0",
		  EP_K8S_SCOPE_NAMESPACED, false },
		{ "/registry/minions/node-1", NULL, "minions", "", "node-1", EP_K8S_SCOPE_CLUSTER,
		  false },
		{ "/registry/namespaces/kube-system", NULL, "namespaces", "", "kube-system",
		  EP_K8S_SCOPE_CLUSTER, false },
		{ "/registry/clusterroles/system:admin", NULL, "clusterroles", "", "system:admin",
		  EP_K8S_SCOPE_CLUSTER, false },
		{ "/registry/services/specs/default/kubernetes", NULL, "services/specs", "default",
		  "kubernetes", EP_K8S_SCOPE_NAMESPACED, false },
		{ "/registry/services/endpoints/default/kubernetes", NULL, "services/endpoints",
		  "default", "kubernetes", EP_K8S_SCOPE_NAMESPACED, false },
		{ "/registry/ranges/serviceips", NULL, "ranges/serviceips", "", "",
		  EP_K8S_SCOPE_RESOURCE, false },
		{ "/registry/masterleases/10.0.0.1", NULL, "masterleases", "", "10.0.0.1",
		  EP_K8S_SCOPE_CLUSTER, false },
		{ "/registry/leases/kube-node-lease/node-1", NULL, "leases", "kube-node-lease",
		  "node-1", EP_K8S_SCOPE_NAMESPACED, false },
		{ "/registry/events/default/web-0.17a8", NULL, "events", "default", "web-0.17a8",
		  EP_K8S_SCOPE_NAMESPACED, false },
		{ "/registry/example.com/widgets/team-a/w1", NULL, "example.com/widgets", "team-a",
		  "w1", EP_K8S_SCOPE_NAMESPACED, true },
		{ "/registry/example.com/clusterwidgets/cw1", NULL, "example.com/clusterwidgets", "",
		  "cw1", EP_K8S_SCOPE_CLUSTER, true },
		{ "/registry/apiregistration.k8s.io/apiservices/v1.apps", NULL,
		  "apiregistration.k8s.io/apiservices", "", "v1.apps", EP_K8S_SCOPE_CLUSTER, true },
		{ "/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com",
		  NULL, "apiextensions.k8s.io/customresourcedefinitions", "", "widgets.example.com",
		  EP_K8S_SCOPE_CLUSTER, true },
		{ "/registry/pods/ns/a/b", NULL, "pods", "ns", "a/b", EP_K8S_SCOPE_NAMESPACED, false },
		{ "compact_rev_key", NULL, "compact_rev_key", "", "", EP_K8S_SCOPE_OUTSIDE, false },
		{ "/calico/ipam/v2/x", NULL, "/calico", "", "ipam/v2/x", EP_K8S_SCOPE_OUTSIDE, false },
		{ "/registry", NULL, "/registry", "", "", EP_K8S_SCOPE_OUTSIDE, false },
		{ "/registryx/pods/a/b", NULL, "/registryx", "", "pods/a/b", EP_K8S_SCOPE_OUTSIDE,
		  false },
		{ "/kubernetes.io/pods/ns/p", "/kubernetes.io/", "pods", "ns", "p",
		  EP_K8S_SCOPE_NAMESPACED, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ep_k8s_key k;
		ep_k8s_key_classify(cases[i].key, strlen(cases[i].key), cases[i].prefix, &k);
		if (!str_is(k.resource, cases[i].resource) || !str_is(k.namespace_, cases[i].ns) ||
		    !str_is(k.name, cases[i].name) || k.scope != cases[i].scope ||
		    k.group != cases[i].group)
			fail_msg("%s: got resource '%.*s' ns '%.*s' name '%.*s' scope %d group %d",
				 cases[i].key, (int)k.resource.len, k.resource.p,
				 (int)k.namespace_.len, k.namespace_.p, (int)k.name.len, k.name.p,
				 k.scope, k.group);
	}
}

static void test_resource_matches(void **state)
{
	(void)state;
	struct ep_k8s_str secrets = { "secrets", 7 }, widgets = { "example.com/widgets", 19 },
			  deploy = { "deployments", 11 };
	assert_true(ep_k8s_resource_matches(secrets, "secrets"));
	assert_false(ep_k8s_resource_matches(secrets, "secret"));
	assert_true(ep_k8s_resource_matches(widgets, "example.com/widgets"));
	assert_true(ep_k8s_resource_matches(widgets, "widgets.example.com"));
	assert_false(ep_k8s_resource_matches(widgets, "widgets.example.org"));
	assert_true(ep_k8s_resource_matches(deploy, "deployments.apps"));
	assert_false(ep_k8s_resource_matches(secrets, "configmaps"));
}

static void test_escape(void **state)
{
	(void)state;
	/* Keys may hold any byte, NUL included: all escaped as the project escapes. */
	char *s = ep_escape_bytes("a\x1b[31mb\r\n\\\xff~\0z\xc3\xa9", 16);
	assert_string_equal(s, "a\\x1b[31mb\\r\\n\\\\\\xff~\\x00z\xc3\xa9");
	free(s);
	s = ep_escape_bytes("", 0);
	assert_string_equal(s, "");
	free(s);
}

/* ------------------------------------------------------------------------ */
/* The tree                                                                  */

static void add(struct ep_keyspace *ks, const char *key, const void *value, size_t value_len,
		uint64_t version, uint64_t lease)
{
	struct ep_range_kv kv = { .key = (const unsigned char *)key, .key_len = strlen(key),
				  .value_head = value,
				  .value_head_len = value_len < 1024 ? value_len : 1024,
				  .value_len = value_len, .version = version, .mod_revision = 10 + version,
				  .lease = lease };
	assert_int_equal(ep_keyspace_add(ks, &kv), 0);
}

static const struct ep_keyspace_resource *find(const struct ep_keyspace *ks, const char *name)
{
	for (size_t i = 0; i < ks->nres; i++)
		if (!strcmp(ks->res[i]->name, name))
			return ks->res[i];
	fail_msg("no resource %s", name);
	return NULL;
}

static void test_tree(void **state)
{
	(void)state;
	static unsigned char v[1 << 16];
	const char *check[] = { "secrets" };
	struct ep_keyspace_opts o = { .depth = 3, .top = 2, .hot = 2, .check = check, .ncheck = 1,
				      .plaintext_names = 2 };
	struct ep_keyspace *ks;
	char key[128];
	assert_int_equal(ep_keyspace_new(&o, &ks), 0);

	/* Keys in etcd's order: byte order. */
	size_t n = envelope(v, "v1", "Event", "a", "e", 10);
	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "/registry/events/a/e%d", i);
		add(ks, key, v, n, 1, 0x1234);
	}
	snprintf(key, sizeof(key), "/registry/events/b/big");
	size_t nbig = envelope(v, "v1", "Event", "b", "big", 5000);
	add(ks, key, v, nbig, 1, 0x1234);
	n = envelope(v, "v1", "Event", "c", "e", 10);
	add(ks, "/registry/events/c/e", v, n, 1, 0);
	const char *cr = "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\"}";
	add(ks, "/registry/example.com/widgets/a/w", cr, strlen(cr), 4, 0);
	n = envelope(v, "v1", "Node", "", "n1", 10);
	add(ks, "/registry/minions/n1", v, n, 9, 0);
	add(ks, "/registry/minions/n2", v, n, 2, 0);
	add(ks, "/registry/ranges/serviceips", "junk", 4, 1, 0);
	add(ks, "/registry/secrets/a/s1", "k8s:enc:aescbc:v1:key1:xxxx", 27, 1, 0);
	add(ks, "/registry/secrets/a/s2", "k8s:enc:kms:v2:kms:xxxx", 23, 1, 0);
	add(ks, "/registry/secrets/a/s3", "k8s:enc:aescbc:v1:key1:yyyy", 27, 1, 0);
	n = envelope(v, "v1", "Secret", "b", "p", 10);
	add(ks, "/registry/secrets/b/p1", v, n, 1, 0);
	add(ks, "/registry/secrets/b/p2", v, n, 1, 0);
	add(ks, "/registry/secrets/b/p3", v, n, 1, 0);
	ep_keyspace_finish(ks);

	assert_int_equal(ks->keys, 15);
	assert_int_equal(ks->nres, 5);
	assert_string_equal(ks->res[0]->name, "events"); /* the largest */
	const struct ep_keyspace_resource *ev = find(ks, "events");
	assert_int_equal(ev->keys, 5);
	assert_int_equal(ev->namespaces, 3);
	assert_int_equal(ev->leased, 4);
	assert_int_equal(ev->encodings[EP_K8S_PROTOBUF], 5);
	assert_int_equal(ev->nkinds, 1);
	assert_string_equal(ev->kinds[0].kind, "Event");
	/* top 2 of 3 namespaces: b (one big event) then a */
	assert_int_equal(ev->children.count, 3);
	assert_int_equal(ev->children.n, 2);
	assert_string_equal(ev->children.v[0].name, "b");
	assert_string_equal(ev->children.v[1].name, "a");
	assert_true(ev->children.v[0].is_namespace);
	assert_int_equal(ev->children.v[1].keys, 3);
	assert_int_equal(ev->children.v[1].children.count, 3); /* depth 3: objects */
	assert_int_equal(ev->children.v[1].children.n, 2);
	assert_int_equal(ev->children.more_keys, 1);
	uint64_t bytes = 0;
	for (size_t i = 0; i < ev->children.n; i++)
		bytes += ev->children.v[i].bytes;
	assert_int_equal(bytes + ev->children.more_bytes, ev->key_bytes + ev->value_bytes);

	const struct ep_keyspace_resource *nodes = find(ks, "minions");
	assert_int_equal(nodes->scope[EP_K8S_SCOPE_CLUSTER], 2);
	assert_int_equal(nodes->namespaces, 0);
	assert_false(nodes->children.v[0].is_namespace);
	assert_int_equal(nodes->version_max, 9);
	assert_int_equal(nodes->versions, 11);
	assert_int_equal(nodes->nhot, 2);
	assert_string_equal(nodes->hot[0].key, "/registry/minions/n1");

	const struct ep_keyspace_resource *w = find(ks, "example.com/widgets");
	assert_true(w->group);
	assert_int_equal(w->encodings[EP_K8S_JSON], 1);
	assert_string_equal(w->kinds[0].api_version, "example.com/v1");

	const struct ep_keyspace_resource *ranges = find(ks, "ranges/serviceips");
	assert_int_equal(ranges->scope[EP_K8S_SCOPE_RESOURCE], 1);
	assert_int_equal(ranges->encodings[EP_K8S_UNKNOWN], 1);
	assert_int_equal(ranges->children.count, 0);

	const struct ep_keyspace_resource *sec = find(ks, "secrets");
	assert_true(sec->checked);
	assert_int_equal(sec->encodings[EP_K8S_ENCRYPTED], 3);
	assert_int_equal(sec->plaintext, 3);
	assert_int_equal(sec->nenc, 2);
	assert_int_equal(sec->enc[0].provider, EP_K8S_AESCBC);
	assert_string_equal(sec->enc[0].key_name, "key1");
	assert_int_equal(sec->enc[0].keys, 2);
	assert_int_equal(sec->enc[1].provider, EP_K8S_KMS_V2);
	assert_int_equal(sec->nplain, 2); /* the first two named, the third counted */
	assert_string_equal(sec->plain[0].key, "/registry/secrets/b/p1");
	assert_string_equal(sec->plain[1].key, "/registry/secrets/b/p2");
	assert_false(w->checked);
	assert_int_equal(w->nplain, 0);
	ep_keyspace_free(ks);
}

/* Many namespaces and objects: memory is the top-K, the counts are all. */
static void test_tree_bounded(void **state)
{
	(void)state;
	struct ep_keyspace_opts o = { .depth = 3, .top = 3 };
	struct ep_keyspace *ks;
	char key[128];
	assert_int_equal(ep_keyspace_new(&o, &ks), 0);
	uint64_t total = 0;
	static const char value[300] = "{}";
	for (int ns = 0; ns < 300; ns++)
		for (int i = 0; i < 20; i++) {
			size_t len = (size_t)(100 + (ns * 7 + i * 13) % 97);
			snprintf(key, sizeof(key), "/registry/configmaps/ns%03d/cm%02d", ns, i);
			add(ks, key, value, len, 1, 0);
			total += strlen(key) + len;
		}
	ep_keyspace_finish(ks);
	const struct ep_keyspace_resource *r = ks->res[0];
	assert_int_equal(r->keys, 6000);
	assert_int_equal(r->namespaces, 300);
	assert_int_equal(r->children.count, 300);
	assert_int_equal(r->children.n, 3);
	assert_true(r->children.v[0].bytes >= r->children.v[1].bytes);
	assert_true(r->children.v[1].bytes >= r->children.v[2].bytes);
	uint64_t kept = 0;
	for (size_t i = 0; i < r->children.n; i++) {
		kept += r->children.v[i].bytes;
		assert_int_equal(r->children.v[i].children.n, 3);
		assert_int_equal(r->children.v[i].children.count, 20);
	}
	assert_int_equal(kept + r->children.more_bytes, total);
	assert_int_equal(r->key_bytes + r->value_bytes, total);
	ep_keyspace_free(ks);
}

/* ------------------------------------------------------------------------ */
/* The gRPC range answer                                                     */

struct collected {
	int n;
	char keys[16][64];
	uint64_t value_len[16], head_len[16], version[16], lease[16];
};

static int collect(void *userdata, const struct ep_range_kv *kv)
{
	struct collected *c = userdata;
	if (c->n < 16) {
		snprintf(c->keys[c->n], 64, "%.*s", (int)kv->key_len, kv->key);
		c->value_len[c->n] = kv->value_len;
		c->head_len[c->n] = kv->value_head_len;
		c->version[c->n] = kv->version;
		c->lease[c->n] = kv->lease;
	}
	c->n++;
	return 0;
}

static size_t range_answer(unsigned char *out, int nkv, bool more, uint64_t count)
{
	struct pbuf hdr = { .n = 0 }, msg = { .n = 0 };
	pb_u64(&hdr, 1, 0xabc);
	pb_u64(&hdr, 2, 0xdef);
	pb_u64(&hdr, 3, 4711);
	pb_u64(&hdr, 4, 2);
	pb_bytes(&msg, 1, hdr.b, hdr.n);
	for (int i = 0; i < nkv; i++) {
		struct pbuf kv = { .n = 0 };
		char key[32], val[3000];
		snprintf(key, sizeof(key), "/registry/k%d", i);
		memset(val, 'a' + i, sizeof(val));
		pb_str(&kv, 1, key);
		pb_u64(&kv, 2, 5);
		pb_u64(&kv, 3, 6 + (uint64_t)i);
		pb_u64(&kv, 4, 1 + (uint64_t)i);
		pb_bytes(&kv, 5, val, 100 + 1000 * (size_t)i);
		if (i == 1)
			pb_u64(&kv, 6, 0x694d);
		pb_u64(&kv, 9, 1); /* a field this parser does not know: skipped */
		pb_bytes(&msg, 2, kv.b, kv.n);
	}
	if (more)
		pb_u64(&msg, 3, 1);
	pb_u64(&msg, 4, count);
	out[0] = 0;
	out[1] = (unsigned char)(msg.n >> 24);
	out[2] = (unsigned char)(msg.n >> 16);
	out[3] = (unsigned char)(msg.n >> 8);
	out[4] = (unsigned char)msg.n;
	memcpy(out + 5, msg.b, msg.n);
	return 5 + msg.n;
}

static int parse(const unsigned char *d, size_t n, size_t chunk, size_t head,
		 struct collected *c, struct ep_range_page *page, struct ep_error *err)
{
	struct ep_range_parser *p;
	assert_int_equal(ep_range_parser_new(head, collect, c, &p), 0);
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i += chunk)
		r = ep_range_parser_feed(p, d + i, n - i < chunk ? n - i : chunk, err);
	if (r == 0)
		r = ep_range_parser_finish(p, page, err);
	ep_range_parser_free(p);
	return r;
}

static void test_range_parser(void **state)
{
	(void)state;
	static unsigned char d[1 << 16];
	size_t n = range_answer(d, 3, true, 42);
	for (size_t chunk = 1; chunk <= n; chunk = chunk < 8 ? chunk + 1 : chunk * 3) {
		struct collected c = { 0 };
		struct ep_range_page page;
		struct ep_error err = { 0 };
		assert_int_equal(parse(d, n, chunk, 500, &c, &page, &err), 0);
		assert_int_equal(c.n, 3);
		assert_string_equal(c.keys[0], "/registry/k0");
		assert_string_equal(c.keys[2], "/registry/k2");
		assert_int_equal(c.value_len[2], 2100);
		assert_int_equal(c.head_len[0], 100);
		assert_int_equal(c.head_len[2], 500);
		assert_int_equal(c.version[1], 2);
		assert_int_equal(c.lease[1], 0x694d);
		assert_int_equal(c.lease[0], 0);
		assert_int_equal(page.revision, 4711);
		assert_int_equal(page.cluster_id, 0xabc);
		assert_int_equal(page.count, 42);
		assert_true(page.more);
		assert_int_equal(page.n, 3);
		assert_int_equal(page.bytes, n);
	}
	/* An empty answer: header only. */
	n = range_answer(d, 0, false, 0);
	struct collected c = { 0 };
	struct ep_range_page page;
	struct ep_error err = { 0 };
	assert_int_equal(parse(d, n, n, 0, &c, &page, &err), 0);
	assert_int_equal(c.n, 0);
	assert_false(page.more);
}

static void test_range_parser_malformed(void **state)
{
	(void)state;
	static unsigned char d[1 << 16];
	struct collected c = { 0 };
	struct ep_range_page page;
	size_t n = range_answer(d, 2, false, 2);

	struct ep_error err = { 0 };
	assert_int_equal(parse(d, n - 3, 7, 0, &c, &page, &err), -EPROTO); /* cut short */
	assert_non_null(strstr(err.msg, "stopped inside its message"));

	unsigned char e[1 << 16];
	memcpy(e, d, n);
	e[n] = 0;
	ep_error_clear(&err);
	assert_int_equal(parse(e, n + 1, 5, 0, &c, &page, &err), -EPROTO); /* a byte after */

	memcpy(e, d, n);
	e[0] = 1; /* compressed */
	ep_error_clear(&err);
	assert_int_equal(parse(e, n, n, 0, &c, &page, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "compressed"));

	ep_error_clear(&err);
	assert_int_equal(parse(d, 0, 1, 0, &c, &page, &err), -EPROTO); /* nothing */

	/* kvs as a varint: wrong wire type. */
	unsigned char w[] = { 0, 0, 0, 0, 2, 0x10, 0x01 };
	ep_error_clear(&err);
	assert_int_equal(parse(w, sizeof(w), 1, 0, &c, &page, &err), -EPROTO);

	/* A KeyValue longer than the message. */
	unsigned char l[] = { 0, 0, 0, 0, 4, 0x12, 0x7f, 0x0a, 0x01 };
	ep_error_clear(&err);
	assert_int_equal(parse(l, sizeof(l), 2, 0, &c, &page, &err), -EPROTO);

	/* A key of 5 MiB announced: refused before any byte of it is kept. */
	struct pbuf kv = { .n = 0 }, msg = { .n = 0 };
	pb_varint(&kv, 1 << 3 | 2);
	pb_varint(&kv, 5u << 20);
	pb_varint(&msg, 2 << 3 | 2);
	pb_varint(&msg, (5u << 20) + kv.n);
	memcpy(msg.b + msg.n, kv.b, kv.n);
	msg.n += kv.n;
	unsigned char big[64] = { 0, (unsigned char)(((5u << 20) + 64) >> 24),
				  (unsigned char)(((5u << 20) + 64) >> 16),
				  (unsigned char)(((5u << 20) + 64) >> 8),
				  (unsigned char)((5u << 20) + 64) };
	memcpy(big + 5, msg.b, msg.n);
	ep_error_clear(&err);
	assert_int_equal(parse(big, 5 + msg.n, 3, 0, &c, &page, &err), -EFBIG);
}

static void test_range_request(void **state)
{
	(void)state;
	struct ep_range_opts o = { .key = "/a", .key_len = 2, .range_end = "/b", .range_end_len = 2,
				   .limit = 300, .revision = 9, .serializable = true,
				   .keys_only = true };
	unsigned char *b;
	size_t n;
	assert_int_equal(ep_range_request_encode(&o, &b, &n), 0);
	static const unsigned char want[] = { 0,    0,    0,    0,    17,   0x0a, 2,    '/',
					      'a',  0x12, 2,    '/',  'b',  0x18, 0xac, 0x02,
					      0x20, 9,    0x38, 1,    0x40, 1 };
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(b, want, n);
	free(b);
}

/* ------------------------------------------------------------------------ */
/* The scan against a simulated etcd                                         */

struct sim {
	char **keys;
	size_t *lens;
	size_t n;
	uint64_t walked, requests;
	int fail_at;       /* request number that fails after half its page (0: none) */
	int fail_code;
	size_t next;       /* the key expected next */
	uint64_t bad;      /* keys out of order, twice or missing */
	bool abort_after;  /* the callback stops after 10 keys */
	bool slow;         /* each request takes 5 ms */
};

static int kcmp(const void *a, size_t al, const void *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al > bl) - (al < bl);
}

static size_t lower(const struct sim *s, const void *k, size_t l)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t m = (lo + hi) / 2;
		if (kcmp(s->keys[m], s->lens[m], k, l) < 0)
			lo = m + 1;
		else
			hi = m;
	}
	return lo;
}

static int sim_fetch(void *ctx, const char *endpoint, const struct ep_range_opts *o,
		     uint64_t timeout_ms, ep_range_kv_fn fn, void *userdata,
		     struct ep_range_page *ret, struct ep_error *err)
{
	struct sim *s = ctx;
	(void)timeout_ms;
	size_t a = lower(s, o->key, o->key_len), b;
	if (o->range_end_len == 1 && !((const char *)o->range_end)[0])
		b = s->n;
	else
		b = lower(s, o->range_end, o->range_end_len);
	if (b < a)
		b = a;
	uint64_t count = b - a, n = o->limit && count > o->limit ? o->limit : count;
	s->requests++;
	s->walked += count; /* etcd 3.4 walks the whole window, whatever the limit */
	if (s->slow)
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	if (s->fail_at == 2 && !s->fail_code && s->requests == 2)
		return ep_error_set(err, -ERANGE, "%s: etcdserver: mvcc: required revision has "
						  "been compacted", endpoint);
	memset(ret, 0, sizeof(*ret));
	ret->revision = 77;
	ret->count = count;
	ret->more = n < count;
	ret->n = n;
	for (uint64_t i = 0; i < n; i++) {
		if ((int)s->requests == s->fail_at && i == n / 2 && s->fail_code)
			return ep_error_set(err, s->fail_code, "%s: connection broken", endpoint);
		struct ep_range_kv kv = { .key = (unsigned char *)s->keys[a + i],
					  .key_len = s->lens[a + i], .value_len = 1000 };
		ret->bytes += s->lens[a + i] + 1010;
		int r = fn(userdata, &kv);
		if (r < 0)
			return r;
	}
	return 0;
}

static int sim_kv(void *userdata, const struct ep_range_kv *kv)
{
	struct sim *s = userdata;
	if (s->next >= s->n || kcmp(kv->key, kv->key_len, s->keys[s->next], s->lens[s->next]))
		s->bad++;
	s->next++;
	return s->abort_after && s->next == 10 ? -ECANCELED : 0;
}

static int strp_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t rnd_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Keyspaces of a few shapes: k8s-like namespaces, random flat names, sequences. */
static void sim_build(struct sim *s, int shape, size_t n)
{
	static const char *const res[] = { "events", "pods", "configmaps", "secrets",
					   "example.com/widgets" };
	s->keys = calloc(n + 1, sizeof(*s->keys));
	s->lens = calloc(n + 1, sizeof(*s->lens));
	for (size_t i = 0; i < n; i++) {
		char k[160];
		if (shape == 0)
			snprintf(k, sizeof(k), "/registry/%s/ns-%03u/obj-%06zx", res[i % 5],
				 (unsigned)(rnd() % 150), i);
		else if (shape == 1)
			snprintf(k, sizeof(k), "/registry/flat/%016llx", (unsigned long long)rnd());
		else
			snprintf(k, sizeof(k), "/registry/seq/%010zu", i);
		s->keys[i] = strdup(k);
	}
	s->keys[n] = strdup("/registrz/outside"); /* must not be read */
	qsort(s->keys, n + 1, sizeof(*s->keys), strp_cmp);
	s->n = n + 1;
	for (size_t i = 0; i < s->n; i++)
		s->lens[i] = strlen(s->keys[i]);
}

static void sim_free(struct sim *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->lens);
}

static int sim_scan(struct sim *s, const char *prefix, uint64_t page, struct ep_keyspace_scan *sc,
		    struct ep_error *err)
{
	const char *eps[] = { "https://a:2379", "https://b:2379" };
	memset(sc, 0, sizeof(*sc));
	sc->prefix = prefix;
	sc->prefix_len = strlen(prefix);
	sc->page_limit = page;
	sc->value_head_max = 16;
	sc->on_kv = sim_kv;
	sc->userdata = s;
	return ep_keyspace_scan_with(sim_fetch, s, eps, 2, sc, err);
}

static void test_scan_windows(void **state)
{
	(void)state;
	for (int shape = 0; shape < 3; shape++) {
		struct sim s = { 0 };
		struct ep_keyspace_scan sc;
		struct ep_error err = { 0 };
		const size_t n = 100000;
		sim_build(&s, shape, n);
		assert_int_equal(sim_scan(&s, "/registry/", 1000, &sc, &err), 0);
		assert_int_equal(s.bad, 0);
		assert_int_equal(s.next, n); /* every key under the prefix, once, in order */
		assert_int_equal(sc.done.keys, n);
		assert_int_equal(sc.done.total, n);
		assert_int_equal(sc.done.revision, 77);
		/*
		 * The cost model of etcd 3.4: a plain "continue after the last key"
		 * walk visits about n * n / (2 * 1000) = 5,000,000 keys here.  The
		 * windows keep it to a few times n, in a few times n / 1000 requests.
		 */
		if (s.walked > 8 * n || s.requests > 8 * n / 1000)
			fail_msg("shape %d: %llu keys walked in %llu requests for %zu keys", shape,
				 (unsigned long long)s.walked, (unsigned long long)s.requests, n);
		sim_free(&s);
	}
}

static void test_scan_failover(void **state)
{
	(void)state;
	struct sim s = { .fail_at = 5, .fail_code = -ECONNRESET };
	struct ep_keyspace_scan sc;
	struct ep_error err = { 0 };
	sim_build(&s, 0, 20000);
	/* The fifth page breaks halfway: asked again of the other member, nothing twice. */
	assert_int_equal(sim_scan(&s, "/registry/", 1000, &sc, &err), 0);
	assert_int_equal(s.bad, 0);
	assert_int_equal(s.next, 20000);
	sim_free(&s);

	struct sim t = { .fail_at = 2 };
	sim_build(&t, 2, 5000);
	ep_error_clear(&err);
	assert_int_equal(sim_scan(&t, "/registry/", 1000, &sc, &err), -ERANGE);
	assert_non_null(strstr(err.msg, "revision 77 was compacted while the walk was under way"));
	assert_non_null(strstr(err.msg, "run it again"));
	sim_free(&t);

	/* The whole scan has a deadline, whatever each page takes. */
	struct sim v = { .slow = true };
	sim_build(&v, 2, 5000);
	ep_error_clear(&err);
	const char *eps[] = { "https://a:2379" };
	struct ep_keyspace_scan sv = { .prefix = "/registry/", .prefix_len = 10, .page_limit = 100,
				       .timeout_ms = 30, .on_kv = sim_kv, .userdata = &v };
	assert_int_equal(ep_keyspace_scan_with(sim_fetch, &v, eps, 1, &sv, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.msg, "give more --timeout"));
	assert_true(sv.done.elapsed_ms < 1000);
	assert_true(v.next > 0 && v.next < 5000);
	sim_free(&v);

	struct sim u = { .abort_after = true };
	sim_build(&u, 1, 5000);
	ep_error_clear(&err);
	assert_int_equal(sim_scan(&u, "/registry/", 1000, &sc, &err), -ECANCELED);
	sim_free(&u);
}

static void test_prefix_end(void **state)
{
	(void)state;
	unsigned char out[8];
	assert_int_equal(ep_keyspace_prefix_end("abc", 3, out), 3);
	assert_memory_equal(out, "abd", 3);
	assert_int_equal(ep_keyspace_prefix_end("ab\xff", 3, out), 2);
	assert_memory_equal(out, "ac", 2);
	assert_int_equal(ep_keyspace_prefix_end("\xff\xff", 2, out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_value_protobuf),
		cmocka_unit_test(test_value_protobuf_malformed),
		cmocka_unit_test(test_value_encrypted),
		cmocka_unit_test(test_value_json),
		cmocka_unit_test(test_key_classify),
		cmocka_unit_test(test_resource_matches),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_tree_bounded),
		cmocka_unit_test(test_range_parser),
		cmocka_unit_test(test_range_parser_malformed),
		cmocka_unit_test(test_range_request),
		cmocka_unit_test(test_scan_windows),
		cmocka_unit_test(test_scan_failover),
		cmocka_unit_test(test_prefix_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
