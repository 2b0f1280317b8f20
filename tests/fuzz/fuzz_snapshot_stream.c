/*
 * fuzz_snapshot_stream.c - libFuzzer target for the streaming parser of
 * etcd's Maintenance/Snapshot answers (snapshot.c), the bytes a member
 * sends back: fed in pieces whose size the first input byte chooses, so
 * that every frame header, varint and blob is also split across pieces.
 * What reaches the sink is bounded by the input; a stream the parser
 * accepts must have passed on the data and then their SHA-256 (the sink's
 * last 32 bytes hash the bytes before them, and equal what finish says).
 * The same bytes are also read as a bbolt database (ep_bbolt_revision),
 * which must stay inside them.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "etcdpilot/error.h"
#include "etcdpilot/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
	size_t limit;
	unsigned char *buf; /* everything the sink got (at most the input's size) */
	size_t len;
};

static int sink(void *userdata, const void *d, size_t n)
{
	struct out *o = userdata;
	if (n > o->limit - o->len)
		abort(); /* more out than came in */
	memcpy(o->buf + o->len, d, n);
	o->len += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)data[0] % 37 + 1;
	struct out o = { .limit = size, .buf = malloc(size) };
	struct ep_snapshot_parser *p;
	struct ep_error err = { 0 };
	if (!o.buf || ep_snapshot_parser_new(sink, &o, &p) < 0) {
		free(o.buf);
		return 0;
	}
	int r = 0;
	for (size_t i = 1; i < size && r == 0; i += chunk)
		r = ep_snapshot_parser_feed(p, data + i, size - i < chunk ? size - i : chunk, &err);
	struct ep_snapshot_stream st;
	if (r == 0 && ep_snapshot_parser_finish(p, &st, &err) == 0) {
		unsigned char h[32];
		unsigned int hl = 0;
		if (o.len != st.db_size + 32 ||
		    EVP_Digest(o.buf, (size_t)st.db_size, h, &hl, EVP_sha256(), NULL) != 1 ||
		    memcmp(h, o.buf + st.db_size, 32) || memcmp(h, st.sha256, 32))
			abort();
	}
	ep_snapshot_parser_free(p);
	free(o.buf);

	/* the input as a database file: pread of a memfd of exactly these bytes */
	int fd = memfd_create("fuzz-bolt", 0);
	if (fd >= 0) {
		if (write(fd, data, size) == (ssize_t)size) {
			uint64_t rev;
			struct ep_error berr = { 0 };
			ep_bbolt_revision(fd, size, &rev, &berr);
		}
		close(fd);
	}
	return 0;
}
