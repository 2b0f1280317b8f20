/*
 * snapshot_bbolt.c - the revision of an etcd database file, read the way
 * `etcdctl snapshot status` reads it: the last key of bbolt's "key" bucket
 * (etcd's mvcc keys are the 8-byte big-endian main revision, '_', the
 * 8-byte sub revision, and a 't' for a tombstone, so the last key holds
 * the highest revision).
 *
 * This module owns the little of bbolt's on-disk format that takes
 * (go.etcd.io/bbolt: page.go, meta in db.go, bucket.go): two meta pages,
 * the newer valid one naming the root bucket; branch and leaf pages of 16-byte
 * headers and 16-byte elements; a bucket's value {root pgid, sequence}
 * followed, for an inline bucket (root 0), by its one page.  It reads with
 * pread(2) one page at a time along one path from the root to a leaf,
 * trusts no offset or count, and writes nothing.  It never prints.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "etcdpilot/error.h"
#include "etcdpilot/snapshot.h"

#define BOLT_MAGIC 0xED0CDAEDu
#define PAGE_HEADER 16
#define ELEMENT 16
#define FLAG_BRANCH 0x01
#define FLAG_LEAF 0x02
#define FLAG_META 0x04
#define BUCKET_LEAF 0x01
#define PAGE_MAX (16u << 20) /* a page and its overflow, at most */
#define DEPTH_MAX 64

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

struct bolt {
	int fd;
	uint64_t size;
	uint32_t page_size;
	struct ep_error *err;
};

static int bad(struct bolt *b, const char *what)
{
	return ep_error_set(b->err, -EBADMSG, "not a bbolt database this reader understands: %s",
			    what);
}

static int read_at(struct bolt *b, uint64_t off, void *buf, size_t len)
{
	if (off > b->size || len > b->size - off)
		return bad(b, "a page lies past the end of the file");
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(b->fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ep_error_set(b->err, -errno, "reading the database: %s", strerror(errno));
		if (n == 0)
			return bad(b, "the file is shorter than it says");
		got += (size_t)n;
	}
	return 0;
}

/* Page @id with its overflow pages into a heap buffer *@ret of *@ret_len bytes. */
static int page_read(struct bolt *b, uint64_t id, unsigned char **ret, size_t *ret_len)
{
	unsigned char hdr[PAGE_HEADER];
	if (id > b->size / b->page_size)
		return bad(b, "a page number past the end of the file");
	uint64_t off = id * b->page_size;
	int r = read_at(b, off, hdr, sizeof(hdr));
	if (r < 0)
		return r;
	if (le64(hdr) != id)
		return bad(b, "a page that does not carry its own number");
	uint64_t len = ((uint64_t)le32(hdr + 12) + 1) * b->page_size;
	if (len > PAGE_MAX)
		return bad(b, "a page over 16 MiB");
	unsigned char *p = malloc((size_t)len);
	if (!p)
		return ep_error_set(b->err, -ENOMEM, "out of memory");
	if ((r = read_at(b, off, p, (size_t)len)) < 0) {
		free(p);
		return r;
	}
	*ret = p;
	*ret_len = (size_t)len;
	return 0;
}

/*
 * Element @i of the page @p (@len bytes): its key (and for a leaf its value
 * and flags), checked to lie inside the page.
 */
static int element(struct bolt *b, const unsigned char *p, size_t len, unsigned i,
		   const unsigned char **key, uint32_t *klen, const unsigned char **val,
		   uint32_t *vlen, uint32_t *flags, uint64_t *child)
{
	bool branch = le16(p + 8) & FLAG_BRANCH;
	size_t e = PAGE_HEADER + (size_t)i * ELEMENT;
	if (e + ELEMENT > len)
		return bad(b, "an element past the end of its page");
	const unsigned char *el = p + e;
	uint64_t pos, ks, vs = 0;
	if (branch) {
		pos = le32(el);
		ks = le32(el + 4);
		*child = le64(el + 8);
		*flags = 0;
	} else {
		*flags = le32(el);
		pos = le32(el + 4);
		ks = le32(el + 8);
		vs = le32(el + 12);
	}
	if (e + pos + ks + vs > len)
		return bad(b, "a key or value past the end of its page");
	*key = el + pos;
	*klen = (uint32_t)ks;
	*val = el + pos + ks;
	*vlen = (uint32_t)vs;
	return 0;
}

/*
 * In the tree whose root is page @id (or the inline page @inl of @inl_len
 * bytes when @id is 0), find the leaf element @name that is a bucket:
 * its value into a heap copy.  Walks every branch (the root bucket holds
 * a handful of names).  1 found, 0 not found, or a negative errno.
 */
static int find_bucket(struct bolt *b, uint64_t id, const unsigned char *inl, size_t inl_len,
		       const char *name, int depth, unsigned char **ret, size_t *ret_len)
{
	unsigned char *buf = NULL;
	const unsigned char *p = inl;
	size_t len = inl_len;
	int r;
	if (depth > DEPTH_MAX)
		return bad(b, "a tree deeper than 64 levels");
	if (id && (r = page_read(b, id, &buf, &len)) < 0)
		return r;
	if (id)
		p = buf;
	if (len < PAGE_HEADER) {
		free(buf);
		return bad(b, "an inline bucket too short for a page");
	}
	uint16_t flags = le16(p + 8), count = le16(p + 10);
	r = 0;
	if (!(flags & (FLAG_BRANCH | FLAG_LEAF)))
		r = bad(b, "a bucket page that is neither a branch nor a leaf");
	for (unsigned i = 0; r == 0 && i < count; i++) {
		const unsigned char *key = NULL, *val = NULL;
		uint32_t klen = 0, vlen = 0, eflags = 0;
		uint64_t child = 0;
		if ((r = element(b, p, len, i, &key, &klen, &val, &vlen, &eflags, &child)) < 0)
			break;
		if (flags & FLAG_BRANCH) {
			r = find_bucket(b, child, NULL, 0, name, depth + 1, ret, ret_len);
		} else if ((eflags & BUCKET_LEAF) && klen == strlen(name) && !memcmp(key, name, klen)) {
			if (!(*ret = malloc(vlen ? vlen : 1))) {
				r = ep_error_set(b->err, -ENOMEM, "out of memory");
				break;
			}
			memcpy(*ret, val, vlen);
			*ret_len = vlen;
			r = 1;
		}
	}
	free(buf);
	return r;
}

/* The last key of the tree at page @id (or inline @inl): its first 8 bytes into @ret. */
static int last_key(struct bolt *b, uint64_t id, const unsigned char *inl, size_t inl_len,
		    int depth, bool *found, uint64_t *ret)
{
	unsigned char *buf = NULL;
	const unsigned char *p = inl;
	size_t len = inl_len;
	int r;
	if (depth > DEPTH_MAX)
		return bad(b, "a tree deeper than 64 levels");
	if (id && (r = page_read(b, id, &buf, &len)) < 0)
		return r;
	if (id)
		p = buf;
	if (len < PAGE_HEADER) {
		free(buf);
		return bad(b, "an inline bucket too short for a page");
	}
	uint16_t flags = le16(p + 8), count = le16(p + 10);
	const unsigned char *key = NULL, *val = NULL;
	uint32_t klen = 0, vlen = 0, eflags = 0;
	uint64_t child = 0;
	r = 0;
	if (!(flags & (FLAG_BRANCH | FLAG_LEAF)))
		r = bad(b, "a page of the \"key\" bucket that is neither a branch nor a leaf");
	else if (count == 0)
		*found = false; /* an empty bucket */
	else if ((r = element(b, p, len, count - 1u, &key, &klen, &val, &vlen, &eflags,
			      &child)) < 0)
		;
	else if (flags & FLAG_BRANCH)
		r = last_key(b, child, NULL, 0, depth + 1, found, ret);
	else if (klen < 8)
		r = bad(b, "a key of the \"key\" bucket shorter than a revision");
	else {
		uint64_t v = 0;
		for (int i = 0; i < 8; i++)
			v = v << 8 | key[i];
		*ret = v;
		*found = true;
	}
	free(buf);
	return r;
}

/* FNV-1a 64 of @len bytes: bbolt's meta checksum. */
static uint64_t fnv64a(const unsigned char *p, size_t len)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* Meta page at @off: its root bucket pgid and txid when it is valid. */
static bool meta_ok(struct bolt *b, uint64_t off, uint64_t *root, uint64_t *txid)
{
	unsigned char m[PAGE_HEADER + 64];
	struct ep_error *saved = b->err;
	b->err = NULL;
	int r = read_at(b, off, m, sizeof(m));
	b->err = saved;
	if (r < 0 || !(le16(m + 8) & FLAG_META))
		return false;
	const unsigned char *meta = m + PAGE_HEADER;
	if (le32(meta) != BOLT_MAGIC || le32(meta + 4) != 2)
		return false;
	/* magic, version, pageSize, flags, root{2}, freelist, pgid, txid, then the checksum */
	if (fnv64a(meta, 56) != le64(meta + 56))
		return false;
	*root = le64(meta + 16);
	*txid = le64(meta + 48);
	return true;
}

int ep_bbolt_revision(int fd, uint64_t size, uint64_t *ret_revision, struct ep_error *err)
{
	struct bolt b = { .fd = fd, .size = size, .err = err };
	unsigned char m[PAGE_HEADER + 16];
	int r = read_at(&b, 0, m, sizeof(m));
	if (r < 0)
		return r;
	if (le32(m + PAGE_HEADER) != BOLT_MAGIC)
		return bad(&b, "no bbolt magic number");
	b.page_size = le32(m + PAGE_HEADER + 8);
	if (b.page_size < 512 || b.page_size > (1u << 20) || (b.page_size & (b.page_size - 1)))
		return bad(&b, "an impossible page size");
	uint64_t root0 = 0, tx0 = 0, root1 = 0, tx1 = 0;
	bool ok0 = meta_ok(&b, 0, &root0, &tx0);
	bool ok1 = meta_ok(&b, b.page_size, &root1, &tx1);
	if (!ok0 && !ok1)
		return bad(&b, "neither meta page is valid");
	uint64_t root = ok0 && (!ok1 || tx0 >= tx1) ? root0 : root1;

	unsigned char *bucket = NULL;
	size_t blen = 0;
	r = find_bucket(&b, root, NULL, 0, "key", 0, &bucket, &blen);
	if (r < 0)
		return r;
	if (r == 0)
		return bad(&b, "no \"key\" bucket (not an etcd v3 database)");
	bool found = false;
	uint64_t rev = 0;
	if (blen < 16)
		r = bad(&b, "a bucket value shorter than its header");
	else if (le64(bucket))
		r = last_key(&b, le64(bucket), NULL, 0, 0, &found, &rev);
	else
		r = last_key(&b, 0, bucket + 16, blen - 16, 0, &found, &rev);
	free(bucket);
	if (r < 0)
		return r;
	if (ret_revision)
		*ret_revision = found ? rev : 0;
	return 0;
}
