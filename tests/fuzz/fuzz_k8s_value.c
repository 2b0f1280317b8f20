/*
 * fuzz_k8s_value.c - libFuzzer target for what keyspace reads from the
 * cluster's bytes: the value decoder (protobuf envelope, JSON, encryption
 * prefixes), fed the whole value and, as the walk does for big values, only
 * a head of it; the key layout; and the escaping of keys before printing
 * (no control character may survive it).
 * Every span handed back must lie inside the bytes seen.  The first input
 * byte picks the head and the length claimed; the rest is the value.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(struct ep_k8s_str s, const uint8_t *p, size_t len)
{
	if (s.len && ((const uint8_t *)s.p < p || (const uint8_t *)s.p + s.len > p + len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	const uint8_t *v = data + 1;
	size_t len = size - 1;
	size_t head = len;
	uint64_t total = len;
	if (mode & 1) /* only a head seen, as the walk keeps of big values */
		head = len < (size_t)(mode >> 1) * 8 ? len : (size_t)(mode >> 1) * 8;
	if (mode & 2) /* the value claims to be longer than what was seen */
		total = len + (mode >> 2) * 1000u;

	struct ep_k8s_value r;
	ep_k8s_value_decode(v, head, total, &r);
	if ((r.encoding == EP_K8S_UNKNOWN) != (r.error != NULL))
		abort();
	inside(r.api_version, v, head);
	inside(r.kind, v, head);
	inside(r.name, v, head);
	inside(r.namespace_, v, head);
	inside(r.uid, v, head);
	inside(r.key_name, v, head);
	inside(r.provider_name, v, head);
	inside(r.creation, v, head);

	struct ep_k8s_key k;
	ep_k8s_key_classify(v, len, mode & 4 ? "/kubernetes.io" : NULL, &k);
	inside(k.resource, v, len);
	inside(k.namespace_, v, len);
	inside(k.name, v, len);
	(void)ep_k8s_resource_matches(k.resource, "widgets.example.com");

	char *e = ep_escape_bytes(v, len);
	if (e) {
		/* nothing a terminal would act on: no C0 control, DEL or C1 control */
		for (const unsigned char *c = (const unsigned char *)e; *c; c++)
			if (*c < 0x20 || *c == 0x7f || (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f))
				abort();
		free(e);
	}
	return 0;
}
