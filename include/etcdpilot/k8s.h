/*
 * k8s.h - what Kubernetes keeps in etcd, read from the bytes alone: which
 * resource, namespace and object a key names, and what a value is (the
 * API server's protobuf envelope, JSON, or encrypted at rest, and with
 * which provider and key).  No API server, no network, no allocation: every
 * string handed back points into the caller's bytes.
 *
 * Facts used (from Kubernetes' sources):
 *   - keys are <etcd-prefix>/<resource>/[<namespace>/]<name>, where
 *     <resource> is the resource name for built-in groups, with the special
 *     prefixes "minions" (nodes), "controllers" (replicationcontrollers),
 *     "services/specs", "services/endpoints", "ingress" and
 *     "podsecuritypolicy", the two allocator keys "ranges/serviceips" and
 *     "ranges/servicenodeports", and "<group>/<resource>" for API groups
 *     stored under their own name (custom resources,
 *     apiextensions.k8s.io/customresourcedefinitions,
 *     apiregistration.k8s.io/apiservices): a group always holds a dot;
 *   - a protobuf value is "k8s\0" followed by runtime.Unknown {1 typeMeta
 *     {1 apiVersion, 2 kind}, 2 raw, 3 contentEncoding, 4 contentType};
 *     raw is the object, whose field 1 is ObjectMeta {1 name, 2
 *     generateName, 3 namespace, 5 uid, 7 generation, 8 creationTimestamp
 *     {1 seconds, 2 nanos}, ...};
 *   - custom resources are stored as JSON objects;
 *   - encryption at rest writes "k8s:enc:aescbc:v1:<key>:",
 *     "k8s:enc:aesgcm:v1:<key>:", "k8s:enc:secretbox:v1:<key>:",
 *     "k8s:enc:kms:v1:<name>:" or "k8s:enc:kms:v2:<name>:" before the
 *     ciphertext; the identity provider writes the plaintext as is.
 */
#ifndef ETCDPILOT_K8S_H
#define ETCDPILOT_K8S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A span of the caller's bytes (not NUL-terminated; may hold any byte). */
struct ep_k8s_str {
	const char *p;
	size_t len;
};

/* ------------------------------------------------------------------------ */
/* Keys                                                                      */

enum ep_k8s_scope {
	EP_K8S_SCOPE_NAMESPACED = 0, /* <resource>/<namespace>/<name> */
	EP_K8S_SCOPE_CLUSTER,        /* <resource>/<name> */
	EP_K8S_SCOPE_RESOURCE,       /* the key is the resource itself (ranges/serviceips) */
	EP_K8S_SCOPE_OUTSIDE,        /* not under the etcd prefix: grouped by first segment */
};

struct ep_k8s_key {
	struct ep_k8s_str resource;  /* "pods", "services/specs", "example.com/widgets", "/other" */
	struct ep_k8s_str namespace_; /* empty unless namespaced */
	struct ep_k8s_str name;      /* empty for SCOPE_RESOURCE; may hold '/' when deeper */
	enum ep_k8s_scope scope;
	bool group;                  /* the resource is "<group>/<resource>" */
};

/*
 * Split @key (@len bytes) as the API server laid it out under @etcd_prefix
 * (its --etcd-prefix, "/registry" when NULL; a trailing '/' is optional).
 * The scope follows from the number of path segments after the resource:
 * two are namespace and name, one is a cluster-scoped name; more are kept
 * in the name.  A key outside the prefix is grouped by its first segment
 * ("/calico/ipam/x" -> resource "/calico", name "ipam/x"; "compact_rev_key"
 * -> resource "compact_rev_key").  Never fails; @ret points into @key.
 */
void ep_k8s_key_classify(const void *key, size_t len, const char *etcd_prefix,
			 struct ep_k8s_key *ret);

/*
 * Does @resource (as ep_k8s_key_classify names it) match @name as a user
 * writes it: "secrets", "example.com/widgets", or "widgets.example.com" /
 * "deployments.apps" (resource.group, as in an EncryptionConfiguration)?
 */
bool ep_k8s_resource_matches(struct ep_k8s_str resource, const char *name);

/* ------------------------------------------------------------------------ */
/* Values                                                                    */

enum ep_k8s_encoding {
	EP_K8S_UNKNOWN = 0, /* empty, garbage, truncated or malformed */
	EP_K8S_PROTOBUF,    /* "k8s\0" + runtime.Unknown */
	EP_K8S_JSON,        /* a JSON object */
	EP_K8S_ENCRYPTED,   /* "k8s:enc:<provider>:..." */
};
#define EP_K8S_ENCODINGS 4

enum ep_k8s_provider {
	EP_K8S_IDENTITY = 0, /* not encrypted */
	EP_K8S_AESCBC,
	EP_K8S_AESGCM,
	EP_K8S_SECRETBOX,
	EP_K8S_KMS_V1,
	EP_K8S_KMS_V2,
	EP_K8S_PROVIDER_OTHER, /* "k8s:enc:<name>:" of a provider this version does not know */
};

/* "unknown", "protobuf", "json", "encrypted". */
const char *ep_k8s_encoding_name(enum ep_k8s_encoding e);
/* "identity", "aescbc", "aesgcm", "secretbox", "kms-v1", "kms-v2", "other". */
const char *ep_k8s_provider_name(enum ep_k8s_provider p);

struct ep_k8s_value {
	enum ep_k8s_encoding encoding;
	const char *error;           /* why UNKNOWN (a static string), else NULL */
	bool complete;               /* the whole value was seen (head == total) */

	/* ENCRYPTED */
	enum ep_k8s_provider provider;
	struct ep_k8s_str provider_name; /* as written: "aescbc", "kms" ... */
	struct ep_k8s_str key_name;      /* encryption key or KMS provider name */

	/* PROTOBUF and JSON: what the seen bytes hold (empty when not seen) */
	struct ep_k8s_str api_version, kind;
	struct ep_k8s_str name, generate_name, namespace_, uid;
	bool has_generation;
	int64_t generation;
	bool has_creation;
	int64_t creation_seconds;    /* PROTOBUF: metav1.Time */
	int32_t creation_nanos;
	struct ep_k8s_str creation;  /* JSON: the RFC 3339 string as written */
	bool json_escaped;           /* a JSON string above holds backslash escapes, kept as written */
};

/*
 * Say what a value is.  @head holds the first @head_len bytes of a value
 * of @total_len bytes (@head_len <= @total_len; the walk keeps only the
 * head of big values).  Whatever the seen bytes hold must be well formed
 * and every length must fit in @total_len: a truncated envelope, a length
 * past the end, bad wire types, malformed JSON, an empty value or bytes of
 * no known form are EP_K8S_UNKNOWN with @ret->error saying why.  Parts
 * past @head_len are simply not reported.  JSON strings are returned as
 * written (escapes not decoded; json_escaped says so).  Never fails, never
 * allocates; @ret points into @head.
 */
void ep_k8s_value_decode(const void *head, size_t head_len, uint64_t total_len,
			 struct ep_k8s_value *ret);

/* ------------------------------------------------------------------------ */
/* Printing bytes from outside                                               */

/*
 * Escape @len bytes (a key may hold any byte, NUL included) for a terminal
 * or a JSON string, as the project escapes everything from outside
 * (ep_strbuf_add_escaped): control characters as C writes them (\\n, \\r,
 * \\t, ESC as \\x1b, others \\xNN), a backslash doubled, bytes that are not
 * valid UTF-8 as \\xNN; printable UTF-8 stays.  Returns a malloc()ed
 * NUL-terminated string (free() it), or NULL on ENOMEM.
 */
char *ep_escape_bytes(const void *data, size_t len);

#endif
