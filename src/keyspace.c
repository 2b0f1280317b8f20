/*
 * keyspace.c - the /registry tree, aggregated one key at a time into
 * bounded structures.
 *
 * Per resource every count is kept (keys, bytes, encodings, encryption
 * providers and keys, kinds, versions, leases); of its namespaces and
 * objects only the `top` largest, in min-heaps, the rest summed as "N
 * more"; of its keys only the `hot` most modified and, for resources under
 * an encryption check, the first plaintext ones.  A namespace's keys are
 * contiguous in etcd's order, so one namespace is open at a time and closed
 * into its resource's heap when the next begins.  Nothing here does I/O or
 * prints; values are read through k8s.h and never kept.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/keyspace.h"
#include "keyspace_internal.h"
#include "util/cleanup.h"

#define DEFAULT_TOP 5
#define DEFAULT_DEPTH 2
#define DEFAULT_PLAIN_NAMES 20

struct ep_keyspace_state {
	char *etcd_prefix;
	unsigned depth, top, hot, plain_max;
	char **check;
	size_t ncheck;
	size_t *slots;      /* open addressing: index + 1 into ks->res, 0 = free */
	size_t nslots;
	struct ep_keyspace_resource *cur; /* resource of the last key */
	char *missing;      /* the last resource left out (table full) */
	size_t missing_len;
	struct ep_keyspace_node run;      /* the namespace being read */
	bool run_open;
	uint64_t order;     /* keys seen, for ties in key order */
	struct ep_keyspace_walk_opts walk;
	int r;              /* sticky ENOMEM */
};

static void children_release(struct ep_keyspace_children *ch);

static void node_release(struct ep_keyspace_node *n)
{
	free(n->name);
	children_release(&n->children);
	memset(n, 0, sizeof(*n));
}

static void children_release(struct ep_keyspace_children *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		node_release(&ch->v[i]);
	free(ch->v);
	memset(ch, 0, sizeof(*ch));
}

static void resource_free(struct ep_keyspace_resource *r)
{
	if (!r)
		return;
	free(r->name);
	for (size_t i = 0; i < r->nenc; i++) {
		free(r->enc[i].provider_name);
		free(r->enc[i].key_name);
	}
	for (size_t i = 0; i < r->nkinds; i++) {
		free(r->kinds[i].api_version);
		free(r->kinds[i].kind);
	}
	children_release(&r->children);
	for (size_t i = 0; i < r->nhot; i++)
		free(r->hot[i].key);
	free(r->hot);
	for (size_t i = 0; i < r->nplain; i++)
		free(r->plain[i].key);
	free(r->plain);
	free(r);
}

void ep_keyspace_free(struct ep_keyspace *ks)
{
	if (!ks)
		return;
	for (size_t i = 0; i < ks->nres; i++)
		resource_free(ks->res[i]);
	free(ks->res);
	free(ks->prefix);
	if (ks->state) {
		struct ep_keyspace_state *s = ks->state;
		node_release(&s->run);
		for (size_t i = 0; i < s->ncheck; i++)
			free(s->check[i]);
		free(s->check);
		free(s->etcd_prefix);
		free(s->missing);
		free(s->slots);
		free(s);
	}
	free(ks);
}

static char *memdup0(const void *p, size_t len)
{
	char *s = malloc(len + 1);
	if (s) {
		if (len)
			memcpy(s, p, len);
		s[len] = '\0';
	}
	return s;
}

int ep_keyspace_new(const struct ep_keyspace_opts *opts, struct ep_keyspace **ret)
{
	struct ep_keyspace *ks = calloc(1, sizeof(*ks));
	struct ep_keyspace_state *s = calloc(1, sizeof(*s));
	*ret = NULL;
	if (!ks || !s) {
		free(ks);
		free(s);
		return -ENOMEM;
	}
	ks->state = s;
	s->depth = opts->depth ? opts->depth : DEFAULT_DEPTH;
	s->top = opts->top ? opts->top : DEFAULT_TOP;
	s->hot = opts->hot;
	s->plain_max = opts->plaintext_names ? opts->plaintext_names : DEFAULT_PLAIN_NAMES;
	s->walk = (struct ep_keyspace_walk_opts){ .page_limit = opts->page_limit,
						  .timeout_ms = opts->timeout_ms,
						  .on_page = opts->on_page,
						  .userdata = opts->userdata };
	s->nslots = 4096; /* a power of two, twice EP_KEYSPACE_RESOURCES_MAX */
	const char *prefix = opts->prefix ? opts->prefix : "/registry";
	size_t plen = opts->prefix ? opts->prefix_len : strlen("/registry");
	ks->prefix = memdup0(prefix, plen);
	ks->prefix_len = plen;
	s->etcd_prefix = strdup(opts->etcd_prefix ? opts->etcd_prefix : "/registry");
	s->slots = calloc(s->nslots, sizeof(*s->slots));
	s->check = opts->ncheck ? calloc(opts->ncheck, sizeof(*s->check)) : NULL;
	if (!ks->prefix || !s->etcd_prefix || !s->slots || (opts->ncheck && !s->check))
		goto oom;
	for (size_t i = 0; i < opts->ncheck; i++) {
		if (!(s->check[i] = strdup(opts->check[i])))
			goto oom;
		s->ncheck++;
	}
	*ret = ks;
	return 0;
oom:
	ep_keyspace_free(ks);
	return -ENOMEM;
}

/* ------------------------------------------------------------------------ */
/* Top-K lists: min-heaps by bytes; on equal bytes the earlier key stays     */

static bool node_less(const struct ep_keyspace_node *a, const struct ep_keyspace_node *b)
{
	return a->bytes < b->bytes || (a->bytes == b->bytes && a->order > b->order);
}

static void heap_down(struct ep_keyspace_node *v, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < n && node_less(&v[l], &v[m]))
			m = l;
		if (l + 1 < n && node_less(&v[l + 1], &v[m]))
			m = l + 1;
		if (m == i)
			return;
		struct ep_keyspace_node t = v[i];
		v[i] = v[m];
		v[m] = t;
		i = m;
	}
}

static void heap_up(struct ep_keyspace_node *v, size_t i)
{
	while (i) {
		size_t p = (i - 1) / 2;
		if (!node_less(&v[i], &v[p]))
			return;
		struct ep_keyspace_node t = v[i];
		v[i] = v[p];
		v[p] = t;
		i = p;
	}
}

/*
 * Offer @cand to @ch, which keeps @cap children.  When @owned, @cand's
 * name and children are moved in (or freed when left out); otherwise its
 * name points into the caller's bytes and is copied when kept.
 */
static int offer(struct ep_keyspace_children *ch, unsigned cap, struct ep_keyspace_node *cand,
		 bool owned)
{
	ch->count++;
	bool keep = ch->n < cap || (cap && node_less(&ch->v[0], cand));
	if (!keep) {
		ch->more_keys += cand->keys;
		ch->more_bytes += cand->bytes;
		if (owned)
			node_release(cand);
		return 0;
	}
	struct ep_keyspace_node node = *cand;
	if (!owned) {
		node.name = memdup0(cand->name, cand->name_len);
		if (!node.name)
			return -ENOMEM;
	}
	memset(cand, 0, sizeof(*cand));
	if (!ch->v && !(ch->v = calloc(cap, sizeof(*ch->v)))) {
		free(node.name);
		children_release(&node.children);
		return -ENOMEM;
	}
	if (ch->n < cap) {
		ch->v[ch->n] = node;
		heap_up(ch->v, ch->n++);
		return 0;
	}
	ch->more_keys += ch->v[0].keys;
	ch->more_bytes += ch->v[0].bytes;
	node_release(&ch->v[0]);
	ch->v[0] = node;
	heap_down(ch->v, ch->n, 0);
	return 0;
}

static int node_cmp(const void *a, const void *b)
{
	const struct ep_keyspace_node *x = a, *y = b;
	if (x->bytes != y->bytes)
		return x->bytes > y->bytes ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void children_sort(struct ep_keyspace_children *ch)
{
	if (ch->n > 1)
		qsort(ch->v, ch->n, sizeof(*ch->v), node_cmp);
	for (size_t i = 0; i < ch->n; i++)
		children_sort(&ch->v[i].children);
}

/* Most-modified keys: a min-heap by version; on equal versions the earlier key stays. */
static bool hot_less(const struct ep_keyspace_key *a, const struct ep_keyspace_key *b)
{
	return a->version < b->version || (a->version == b->version && a->order > b->order);
}

static int hot_offer(struct ep_keyspace_resource *r, unsigned cap, const struct ep_range_kv *kv,
		     uint64_t order)
{
	struct ep_keyspace_key cand = { .version = kv->version, .mod_revision = kv->mod_revision,
					 .order = order };
	if (!cap || (r->nhot == cap && !hot_less(&r->hot[0], &cand)))
		return 0;
	if (!r->hot && !(r->hot = calloc(cap, sizeof(*r->hot))))
		return -ENOMEM;
	if (!(cand.key = memdup0(kv->key, kv->key_len)))
		return -ENOMEM;
	cand.key_len = kv->key_len;
	size_t i;
	if (r->nhot < cap) {
		i = r->nhot++;
		r->hot[i] = cand;
		while (i && hot_less(&r->hot[i], &r->hot[(i - 1) / 2])) {
			struct ep_keyspace_key t = r->hot[i];
			r->hot[i] = r->hot[(i - 1) / 2];
			r->hot[(i - 1) / 2] = t;
			i = (i - 1) / 2;
		}
		return 0;
	}
	free(r->hot[0].key);
	r->hot[0] = cand;
	for (i = 0;;) {
		size_t l = 2 * i + 1, m = i;
		if (l < r->nhot && hot_less(&r->hot[l], &r->hot[m]))
			m = l;
		if (l + 1 < r->nhot && hot_less(&r->hot[l + 1], &r->hot[m]))
			m = l + 1;
		if (m == i)
			return 0;
		struct ep_keyspace_key t = r->hot[i];
		r->hot[i] = r->hot[m];
		r->hot[m] = t;
		i = m;
	}
}

static int hot_cmp(const void *a, const void *b)
{
	const struct ep_keyspace_key *x = a, *y = b;
	if (x->version != y->version)
		return x->version > y->version ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* ------------------------------------------------------------------------ */
/* Resources                                                                 */

static uint64_t hash(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

/* The resource named @name; NULL with *created false when the table is full. */
static struct ep_keyspace_resource *resource_get(struct ep_keyspace *ks, const struct ep_k8s_key *k,
						 bool *failed)
{
	struct ep_keyspace_state *s = ks->state;
	size_t i = (size_t)hash(k->resource.p, k->resource.len) & (s->nslots - 1);
	*failed = false;
	for (; s->slots[i]; i = (i + 1) & (s->nslots - 1)) {
		struct ep_keyspace_resource *r = ks->res[s->slots[i] - 1];
		if (r->name_len == k->resource.len && !memcmp(r->name, k->resource.p, r->name_len))
			return r;
	}
	if (ks->nres >= EP_KEYSPACE_RESOURCES_MAX)
		return NULL;
	if (!ks->res && !(ks->res = calloc(EP_KEYSPACE_RESOURCES_MAX, sizeof(*ks->res))))
		goto oom;
	struct ep_keyspace_resource *r = calloc(1, sizeof(*r));
	if (!r || !(r->name = memdup0(k->resource.p, k->resource.len))) {
		free(r);
		goto oom;
	}
	r->name_len = k->resource.len;
	r->group = k->group;
	for (size_t c = 0; c < s->ncheck; c++)
		if (ep_k8s_resource_matches(k->resource, s->check[c]))
			r->checked = true;
	ks->res[ks->nres++] = r;
	s->slots[i] = ks->nres;
	return r;
oom:
	*failed = true;
	return NULL;
}

static bool str_eq(const char *a, struct ep_k8s_str b)
{
	return strlen(a) == b.len && !memcmp(a, b.p, b.len);
}

static int note_encryption(struct ep_keyspace_resource *r, const struct ep_k8s_value *v)
{
	for (size_t i = 0; i < r->nenc; i++) {
		struct ep_keyspace_enc *e = &r->enc[i];
		if (e->provider == v->provider && str_eq(e->provider_name, v->provider_name) &&
		    str_eq(e->key_name, v->key_name)) {
			e->keys++;
			return 0;
		}
	}
	if (r->nenc == EP_KEYSPACE_ENC_MAX) {
		r->enc_other++;
		return 0;
	}
	struct ep_keyspace_enc *e = &r->enc[r->nenc];
	e->provider = v->provider;
	e->provider_name = memdup0(v->provider_name.p, v->provider_name.len);
	e->key_name = memdup0(v->key_name.p, v->key_name.len);
	if (!e->provider_name || !e->key_name) {
		free(e->provider_name);
		free(e->key_name);
		return -ENOMEM;
	}
	e->keys = 1;
	r->nenc++;
	return 0;
}

static int note_kind(struct ep_keyspace_resource *r, const struct ep_k8s_value *v)
{
	if (!v->kind.len)
		return 0;
	for (size_t i = 0; i < r->nkinds; i++)
		if (str_eq(r->kinds[i].kind, v->kind) && str_eq(r->kinds[i].api_version, v->api_version)) {
			r->kinds[i].keys++;
			return 0;
		}
	if (r->nkinds == EP_KEYSPACE_KINDS_MAX) {
		r->kinds_other++;
		return 0;
	}
	struct ep_keyspace_kind *k = &r->kinds[r->nkinds];
	k->api_version = memdup0(v->api_version.p, v->api_version.len);
	k->kind = memdup0(v->kind.p, v->kind.len);
	if (!k->api_version || !k->kind) {
		free(k->api_version);
		free(k->kind);
		return -ENOMEM;
	}
	k->keys = 1;
	r->nkinds++;
	return 0;
}

static int note_plaintext(struct ep_keyspace_resource *r, unsigned max, const struct ep_range_kv *kv)
{
	r->plaintext++;
	if (!r->checked || r->nplain >= max)
		return 0;
	if (!r->plain && !(r->plain = calloc(max, sizeof(*r->plain))))
		return -ENOMEM;
	struct ep_keyspace_key *k = &r->plain[r->nplain];
	if (!(k->key = memdup0(kv->key, kv->key_len)))
		return -ENOMEM;
	k->key_len = kv->key_len;
	k->version = kv->version;
	k->mod_revision = kv->mod_revision;
	r->nplain++;
	return 0;
}

/* Close the open namespace into its resource. */
static int run_close(struct ep_keyspace_state *s)
{
	if (!s->run_open)
		return 0;
	s->run_open = false;
	return offer(&s->cur->children, s->depth >= 2 ? s->top : 0, &s->run, true);
}

/* ------------------------------------------------------------------------ */

int ep_keyspace_add(void *userdata, const struct ep_range_kv *kv)
{
	struct ep_keyspace *ks = userdata;
	struct ep_keyspace_state *s = ks->state;
	struct ep_k8s_key k;
	struct ep_k8s_value v;
	bool failed;
	int r;

	if (s->r < 0)
		return s->r;
	ep_k8s_key_classify(kv->key, kv->key_len, s->etcd_prefix, &k);
	ep_k8s_value_decode(kv->value_head, kv->value_head_len, kv->value_len, &v);
	uint64_t bytes = kv->key_len + kv->value_len;
	uint64_t order = s->order++;

	ks->keys++;
	ks->key_bytes += kv->key_len;
	ks->value_bytes += kv->value_len;
	ks->encodings[v.encoding]++;
	ks->leased += kv->lease != 0;

	struct ep_keyspace_resource *res = s->cur;
	if (!res || res->name_len != k.resource.len || memcmp(res->name, k.resource.p, k.resource.len)) {
		res = resource_get(ks, &k, &failed);
		if (failed)
			return s->r = -ENOMEM;
	}
	bool namespaced = k.scope == EP_K8S_SCOPE_NAMESPACED;
	if (s->run_open && (res != s->cur || !namespaced || s->run.name_len != k.namespace_.len ||
			    memcmp(s->run.name, k.namespace_.p, k.namespace_.len))) {
		if ((r = run_close(s)) < 0)
			return s->r = r;
	}
	if (!res) {
		/* The resource table is full: counted in the totals only. */
		if (!s->missing || s->missing_len != k.resource.len ||
		    memcmp(s->missing, k.resource.p, k.resource.len)) {
			free(s->missing);
			if (!(s->missing = memdup0(k.resource.p, k.resource.len)))
				return s->r = -ENOMEM;
			s->missing_len = k.resource.len;
			ks->res_more++;
		}
		s->cur = NULL;
		ks->res_more_keys++;
		ks->res_more_bytes += bytes;
		return 0;
	}
	s->cur = res;

	res->keys++;
	res->key_bytes += kv->key_len;
	res->value_bytes += kv->value_len;
	res->scope[k.scope]++;
	res->encodings[v.encoding]++;
	res->versions += kv->version;
	if (kv->version > res->version_max)
		res->version_max = kv->version;
	res->leased += kv->lease != 0;
	if ((v.encoding == EP_K8S_ENCRYPTED && (r = note_encryption(res, &v)) < 0) ||
	    ((v.encoding == EP_K8S_PROTOBUF || v.encoding == EP_K8S_JSON) &&
	     (r = note_kind(res, &v)) < 0) ||
	    (v.encoding != EP_K8S_ENCRYPTED && (r = note_plaintext(res, s->plain_max, kv)) < 0) ||
	    (r = hot_offer(res, s->hot, kv, order)) < 0)
		return s->r = r;

	if (namespaced) {
		if (!s->run_open) {
			s->run = (struct ep_keyspace_node){ .is_namespace = true, .order = order };
			if (!(s->run.name = memdup0(k.namespace_.p, k.namespace_.len)))
				return s->r = -ENOMEM;
			s->run.name_len = k.namespace_.len;
			s->run_open = true;
			res->namespaces++;
		}
		s->run.keys++;
		s->run.bytes += bytes;
		struct ep_keyspace_node obj = { .name = (char *)k.name.p, .name_len = k.name.len,
						.keys = 1, .bytes = bytes, .order = order };
		if ((r = offer(&s->run.children, s->depth >= 3 ? s->top : 0, &obj, false)) < 0)
			return s->r = r;
		return 0;
	}
	if (k.scope == EP_K8S_SCOPE_RESOURCE)
		return 0; /* the resource's own key (ranges/serviceips): no child */
	struct ep_keyspace_node obj = { .name = (char *)k.name.p, .name_len = k.name.len,
					.keys = 1, .bytes = bytes, .order = order };
	if ((r = offer(&res->children, s->depth >= 2 ? s->top : 0, &obj, false)) < 0)
		return s->r = r;
	return 0;
}

static int res_cmp(const void *a, const void *b)
{
	const struct ep_keyspace_resource *x = *(struct ep_keyspace_resource *const *)a;
	const struct ep_keyspace_resource *y = *(struct ep_keyspace_resource *const *)b;
	uint64_t bx = x->key_bytes + x->value_bytes, by = y->key_bytes + y->value_bytes;
	if (bx != by)
		return bx > by ? -1 : 1;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);
	return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

void ep_keyspace_finish(struct ep_keyspace *ks)
{
	struct ep_keyspace_state *s = ks->state;
	if (s->run_open && s->cur && run_close(s) < 0)
		s->r = -ENOMEM;
	for (size_t i = 0; i < ks->nres; i++) {
		struct ep_keyspace_resource *r = ks->res[i];
		children_sort(&r->children);
		if (r->nhot > 1)
			qsort(r->hot, r->nhot, sizeof(*r->hot), hot_cmp);
	}
	if (ks->nres > 1)
		qsort(ks->res, ks->nres, sizeof(*ks->res), res_cmp);
}

int ep_keyspace_walk(struct ep_keyspace *ks, struct ep_client *c, const char *const *endpoints,
		     size_t n, struct ep_error *err)
{
	return ep_keyspace_walk_with(ks, c, endpoints, n, &ks->state->walk, err);
}
