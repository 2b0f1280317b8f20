/*
 * k8s_key.c - where a key sits in the API server's layout (resource,
 * namespace, name), how a user names a resource, and how bytes from the
 * cluster are escaped before anyone prints them.
 *
 * Pure functions over the caller's bytes: no allocation (except the
 * escaped copy), no I/O.  The layout comes from the API server's storage
 * factory (see k8s.h); the scope of a key follows from its segment count,
 * so custom resources and cluster-scoped built-ins land at the right depth
 * without a table of kinds.
 */
#include <string.h>
#include <stdlib.h>

#include "etcdpilot/k8s.h"
#include "util/strbuf.h"

#define DEFAULT_ETCD_PREFIX "/registry"

static struct ep_k8s_str span(const char *p, size_t len)
{
	return (struct ep_k8s_str){ .p = p, .len = len };
}

/* Position of the next '/' in [p, end), or end. */
static const char *seg_end(const char *p, const char *end)
{
	const char *s = memchr(p, '/', (size_t)(end - p));
	return s ? s : end;
}

static bool seg_is(const char *p, const char *e, const char *word)
{
	size_t n = strlen(word);
	return (size_t)(e - p) == n && !memcmp(p, word, n);
}

/* Resources stored under two segments without a group (kube-apiserver's storage prefixes). */
static bool two_segment_core(const char *p, const char *e)
{
	return seg_is(p, e, "services") || seg_is(p, e, "ranges");
}

static void classify_outside(const char *k, size_t len, struct ep_k8s_key *ret)
{
	const char *end = k + len;
	const char *start = len && k[0] == '/' ? k + 1 : k;
	const char *e = seg_end(start, end);
	ret->scope = EP_K8S_SCOPE_OUTSIDE;
	ret->resource = span(k, (size_t)(e - k));
	if (e < end)
		ret->name = span(e + 1, (size_t)(end - e - 1));
}

void ep_k8s_key_classify(const void *key, size_t len, const char *etcd_prefix,
			 struct ep_k8s_key *ret)
{
	const char *k = key;
	const char *end = k + len;
	const char *pre = etcd_prefix && *etcd_prefix ? etcd_prefix : DEFAULT_ETCD_PREFIX;
	size_t plen = strlen(pre);

	memset(ret, 0, sizeof(*ret));
	ret->resource = ret->namespace_ = ret->name = span(k, 0);
	while (plen && pre[plen - 1] == '/')
		plen--;
	/* Under the prefix means "<prefix>/<something>". */
	if (len <= plen + 1 || memcmp(k, pre, plen) || k[plen] != '/') {
		classify_outside(k, len, ret);
		return;
	}
	const char *p = k + plen + 1;
	const char *e1 = seg_end(p, end);
	const char *rend = e1;
	if (e1 < end && (memchr(p, '.', (size_t)(e1 - p)) || two_segment_core(p, e1))) {
		ret->group = memchr(p, '.', (size_t)(e1 - p)) != NULL;
		rend = seg_end(e1 + 1, end);
	}
	ret->resource = span(p, (size_t)(rend - p));
	if (rend >= end) {
		ret->scope = EP_K8S_SCOPE_RESOURCE;
		return;
	}
	const char *a = rend + 1; /* first segment after the resource */
	const char *ae = seg_end(a, end);
	if (ae >= end) {
		ret->scope = EP_K8S_SCOPE_CLUSTER;
		ret->name = span(a, (size_t)(end - a));
		return;
	}
	ret->scope = EP_K8S_SCOPE_NAMESPACED;
	ret->namespace_ = span(a, (size_t)(ae - a));
	ret->name = span(ae + 1, (size_t)(end - ae - 1));
}

bool ep_k8s_resource_matches(struct ep_k8s_str resource, const char *name)
{
	size_t n = strlen(name);
	if (resource.len == n && !memcmp(resource.p, name, n))
		return true;
	const char *dot = strchr(name, '.');
	if (!dot || strchr(name, '/'))
		return false;
	/* "resource.group": stored as "group/resource", or as "resource" for built-in groups */
	size_t rlen = (size_t)(dot - name);
	const char *group = dot + 1;
	size_t glen = strlen(group);
	if (resource.len == rlen && !memcmp(resource.p, name, rlen))
		return true;
	return resource.len == glen + 1 + rlen && !memcmp(resource.p, group, glen) &&
	       resource.p[glen] == '/' && !memcmp(resource.p + glen + 1, name, rlen);
}

char *ep_escape_bytes(const void *data, size_t len)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_strbuf_add_escaped(&sb, data, len);
	return ep_strbuf_detach(&sb, NULL);
}
