/*
 * keyspace.h - the /registry tree of a live cluster: what is in etcd, how
 * big, how often it changes, and whether it is encrypted at rest.
 *
 * A walk reads the keyspace under a prefix in pages at one revision (the
 * first page's), so that the view is consistent however long it takes and
 * however the cluster changes meanwhile, and aggregates as it goes into
 * bounded structures: per resource every count, but only the top
 * namespaces and objects by size (the rest summed as "N more"), so memory
 * does not grow with the number of keys.  Values are classified from their
 * first bytes (k8s.h) and never kept or printed.
 *
 * etcd 3.4 walks the whole remaining range of its index for every ranged
 * request, limit or not; pages are therefore asked for over windows that
 * end where a key prefix does, sized from the key counts etcd reports, so
 * that a walk costs about what it reads instead of growing with the square
 * of the keyspace.
 */
#ifndef ETCDPILOT_KEYSPACE_H
#define ETCDPILOT_KEYSPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcdpilot/client.h"
#include "etcdpilot/k8s.h"

struct ep_error;

/* ------------------------------------------------------------------------ */
/* Scanning a prefix in pages at one revision                                */

struct ep_keyspace_progress {
	uint64_t revision;   /* the walk's revision (the first page's) */
	uint64_t total;      /* keys under the prefix at that revision (the first page's count) */
	uint64_t keys;       /* handed over so far */
	uint64_t bytes;      /* keys + values so far */
	uint64_t requests;   /* pages asked for so far */
	uint64_t elapsed_ms;
	const char *endpoint; /* the member being read */
};

/* Called after each page; a negative errno stops the scan and is returned. */
typedef int (*ep_keyspace_page_fn)(void *userdata, const struct ep_keyspace_progress *p);

struct ep_keyspace_scan {
	const void *prefix;        /* every key starting with these bytes; empty: every key */
	size_t prefix_len;
	bool keys_only;
	size_t value_head_max;     /* bytes of each value handed over */
	uint64_t page_limit;       /* keys per request at most (0: 10,000; fewer when values are big) */
	uint64_t timeout_ms;       /* the whole scan (0: 5 minutes) */
	ep_range_kv_fn on_kv;      /* each key in order, exactly once */
	ep_keyspace_page_fn on_page; /* may be NULL */
	void *userdata;            /* for both callbacks */
	/* filled by the scan */
	struct ep_keyspace_progress done;
	uint64_t cluster_id, member_id;
};

/*
 * Scan @scan->prefix on the first of @endpoints (n of them) that answers,
 * in pages: the first linearizable (its revision fixes the view), the rest
 * serializable at that revision, each over a window sized so that etcd
 * walks about what it returns.  A page that fails on the way (connection
 * lost, member down) is asked again of the next endpoint, and keys already
 * handed over are not handed over again.  Returns 0, a callback's negative
 * errno, or a negative errno with @err set: -ERANGE when the revision was
 * compacted meanwhile (the message says so and what to do), -ETIMEDOUT
 * past the deadline, and the client's errors.
 */
int ep_keyspace_scan(struct ep_client *c, const char *const *endpoints, size_t n,
		     struct ep_keyspace_scan *scan, struct ep_error *err);

/*
 * Where a window of the scan ends: the first key after every key that
 * starts with @key's first @len bytes, into @ret (at least @len bytes);
 * returns its length, or 0 when there is none (every byte 0xff).
 */
size_t ep_keyspace_prefix_end(const void *key, size_t len, unsigned char *ret);

/* ------------------------------------------------------------------------ */
/* The tree                                                                  */

/* A namespace, or an object (one key). */
struct ep_keyspace_node {
	char *name;                  /* raw bytes, NUL-terminated (escape before printing) */
	size_t name_len;
	bool is_namespace;
	uint64_t keys, bytes;        /* keys + values */
	uint64_t order;              /* position of its first key in key order (breaks ties) */
	struct ep_keyspace_children {
		struct ep_keyspace_node *v; /* the largest, by bytes, largest first */
		size_t n;
		uint64_t count;             /* children in all (v holds the n largest) */
		uint64_t more_keys, more_bytes; /* of the count - n left out */
	} children;                  /* a namespace's objects (depth 3) */
};

/* Values encrypted by one provider with one key. */
struct ep_keyspace_enc {
	enum ep_k8s_provider provider;
	char *provider_name;         /* as written ("aescbc", "kms") */
	char *key_name;              /* raw bytes, NUL-terminated */
	uint64_t keys;
};

struct ep_keyspace_kind {
	char *api_version, *kind;    /* raw bytes, NUL-terminated */
	uint64_t keys;
};

/* A key kept by name: a most-modified key or a plaintext value of a checked resource. */
struct ep_keyspace_key {
	char *key;                   /* raw bytes, NUL-terminated */
	size_t key_len;
	uint64_t version, mod_revision;
	uint64_t order;              /* position in key order (breaks ties) */
};

#define EP_KEYSPACE_ENC_MAX 8
#define EP_KEYSPACE_KINDS_MAX 4

struct ep_keyspace_resource {
	char *name;                  /* "pods", "example.com/widgets", "/calico" */
	size_t name_len;
	bool group;                  /* "<group>/<resource>" */
	uint64_t keys, key_bytes, value_bytes;
	uint64_t scope[4];           /* keys per enum ep_k8s_scope */
	uint64_t encodings[EP_K8S_ENCODINGS]; /* keys per enum ep_k8s_encoding */
	struct ep_keyspace_enc enc[EP_KEYSPACE_ENC_MAX];
	size_t nenc;
	uint64_t enc_other;          /* encrypted with yet other provider/key pairs */
	struct ep_keyspace_kind kinds[EP_KEYSPACE_KINDS_MAX];
	size_t nkinds;
	uint64_t kinds_other;        /* protobuf or JSON values of yet other kinds */
	uint64_t versions;           /* sum of the keys' versions (writes since creation) */
	uint64_t version_max;
	uint64_t leased;             /* keys attached to a lease */
	uint64_t namespaces;         /* distinct namespaces */
	struct ep_keyspace_children children; /* namespaces and cluster-scoped objects */
	struct ep_keyspace_key *hot; /* most-modified first */
	size_t nhot;
	bool checked;                /* named by opts.check */
	uint64_t plaintext;          /* values not encrypted (protobuf, JSON or unknown) */
	struct ep_keyspace_key *plain; /* checked resources: the first plaintext keys, in key order */
	size_t nplain;
};

struct ep_keyspace_opts {
	const void *prefix;          /* NULL: "/registry" */
	size_t prefix_len;
	const char *etcd_prefix;     /* the API server's --etcd-prefix; NULL: "/registry" */
	unsigned depth;              /* 1 resources; 2 + namespaces and cluster-scoped objects; 3 + objects in namespaces (0: 2) */
	unsigned top;                /* children kept per node (0: 5) */
	unsigned hot;                /* most-modified keys kept per resource (0: none) */
	const char *const *check;    /* resources whose plaintext values are named */
	size_t ncheck;
	unsigned plaintext_names;    /* names kept per checked resource (0: 20) */
	uint64_t page_limit;         /* as for ep_keyspace_scan */
	uint64_t timeout_ms;
	ep_keyspace_page_fn on_page; /* progress; may be NULL */
	void *userdata;
};

#define EP_KEYSPACE_RESOURCES_MAX 2048

struct ep_keyspace {
	/* the walk */
	char *prefix;                /* raw bytes, NUL-terminated */
	size_t prefix_len;
	struct ep_keyspace_progress done;
	uint64_t cluster_id, member_id;
	/* totals */
	uint64_t keys, key_bytes, value_bytes;
	uint64_t encodings[EP_K8S_ENCODINGS];
	uint64_t leased;
	/* resources, largest first once finished */
	struct ep_keyspace_resource **res;
	size_t nres;
	uint64_t res_more, res_more_keys, res_more_bytes; /* resources past EP_KEYSPACE_RESOURCES_MAX */
	/* private */
	struct ep_keyspace_state *state;
};

/* A new, empty tree for @opts (copied).  0 or -ENOMEM. */
int ep_keyspace_new(const struct ep_keyspace_opts *opts, struct ep_keyspace **ret);

/*
 * Add one key-value (an ep_range_kv_fn: @userdata is the tree).  Keys
 * must come in etcd's order (a namespace's keys are then contiguous).
 * Returns 0 or -ENOMEM.
 */
int ep_keyspace_add(void *userdata, const struct ep_range_kv *kv);

/* Close the last namespace and sort everything by size.  Call once, after the last add. */
void ep_keyspace_finish(struct ep_keyspace *ks);

/*
 * Walk opts.prefix of the cluster through @c (ep_keyspace_scan) into @ks
 * and finish it.  0 or a negative errno with @err set.
 */
int ep_keyspace_walk(struct ep_keyspace *ks, struct ep_client *c, const char *const *endpoints,
		     size_t n, struct ep_error *err);

/* Free @ks (NULL fine). */
void ep_keyspace_free(struct ep_keyspace *ks);

/* ------------------------------------------------------------------------ */
/* One key                                                                   */

#define EP_KEYSPACE_GET_VALUE_MAX (16u << 20)

struct ep_keyspace_object {
	unsigned char *key;          /* raw bytes, NUL-terminated */
	size_t key_len;
	unsigned char *value;        /* the first EP_KEYSPACE_GET_VALUE_MAX bytes; never print */
	size_t value_seen;
	uint64_t value_len;
	uint64_t create_revision, mod_revision, version, lease;
	uint64_t revision;           /* the store's revision when read */
	const char *endpoint;        /* the member that answered (one of the caller's endpoints) */
	struct ep_k8s_key where;     /* points into key */
	struct ep_k8s_value what;    /* points into value */
};

/*
 * Read @key (linearizable) from the first of @endpoints that answers and
 * say what it is, laid out as under @etcd_prefix (NULL: "/registry").
 * Returns 0, -ENOENT when there is no such key, or another negative errno,
 * with @err set.  @ret is zeroed first; release it either way.
 */
int ep_keyspace_get(struct ep_client *c, const char *const *endpoints, size_t n, const void *key,
		    size_t key_len, const char *etcd_prefix, uint64_t timeout_ms,
		    struct ep_keyspace_object *ret, struct ep_error *err);

void ep_keyspace_object_release(struct ep_keyspace_object *o);

#endif
