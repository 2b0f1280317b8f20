/*
 * fuzz_range_stream.c - libFuzzer target for the streaming parser of etcd's
 * gRPC Range answers (client_range.c), the bytes a member sends back: fed
 * in pieces whose sizes the first input bytes choose, so that every field
 * and varint is also split across pieces.  The key-values handed over must
 * stay inside their bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int check(void *userdata, const struct ep_range_kv *kv)
{
	size_t head_max = *(size_t *)userdata;
	if (kv->value_head_len > head_max || kv->value_head_len > kv->value_len ||
	    kv->key_len > (4u << 20))
		abort();
	volatile unsigned char sink = 0;
	for (size_t i = 0; i < kv->key_len; i++)
		sink ^= kv->key[i];
	for (size_t i = 0; i < kv->value_head_len; i++)
		sink ^= kv->value_head[i];
	(void)sink;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t chunk = (size_t)data[0] % 17 + 1;
	size_t head_max = (size_t)data[1] * 4;
	struct ep_range_parser *p;
	struct ep_error err = { 0 };
	if (ep_range_parser_new(head_max, check, &head_max, &p) < 0)
		return 0;
	int r = 0;
	for (size_t i = 2; i < size && r == 0; i += chunk)
		r = ep_range_parser_feed(p, data + i, size - i < chunk ? size - i : chunk, &err);
	struct ep_range_page page;
	if (r == 0)
		ep_range_parser_finish(p, &page, &err);
	ep_range_parser_free(p);
	return 0;
}
