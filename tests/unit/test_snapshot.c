/*
 * test_snapshot.c - snapshots without a network: the stream decoder fed
 * crafted Maintenance/Snapshot answers (split at every byte boundary, one
 * byte at a time, malformed protobuf, every truncation, checksums that do
 * not match, a sink that fails), the file written as a stream (nothing
 * left on failure, never replacing without asking), the check of a saved
 * file, the revision read from real etcd 3.4.23 snapshots and from crafted
 * bbolt files, the choice of a member and the snapshot.save action type.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/snapshot.h"
#include "util/strbuf.h"

/* ---- building streams ------------------------------------------------------ */

struct buf {
	unsigned char *d;
	size_t len, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->d = realloc(b->d, b->cap);
		assert_non_null(b->d);
	}
	memcpy(b->d + b->len, d, n);
	b->len += n;
}

static void varint(struct buf *b, uint64_t v)
{
	do {
		unsigned char c = (unsigned char)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		put(b, &c, 1);
		v >>= 7;
	} while (v);
}

/* One gRPC frame around the message @m. */
static void frame(struct buf *out, const struct buf *m)
{
	unsigned char h[5] = { 0, (unsigned char)(m->len >> 24), (unsigned char)(m->len >> 16),
			       (unsigned char)(m->len >> 8), (unsigned char)m->len };
	put(out, h, 5);
	put(out, m->d, m->len);
}

/* A SnapshotResponse {2: remaining, 3: blob} as etcd marshals it (remaining left out at 0). */
static void message(struct buf *out, uint64_t remaining, const void *blob, size_t n)
{
	struct buf m = { 0 };
	if (remaining) {
		varint(&m, 2 << 3);
		varint(&m, remaining);
	}
	varint(&m, 3 << 3 | 2);
	varint(&m, n);
	put(&m, blob, n);
	frame(out, &m);
	free(m.d);
}

static void sha256(const void *d, size_t n, unsigned char out[32])
{
	unsigned int len = 0;
	assert_int_equal(EVP_Digest(d, n, out, &len, EVP_sha256(), NULL), 1);
}

/* A database of @n bytes (deterministic) in chunks of @chunk, then its sha256. */
static struct buf stream_of(const unsigned char *db, size_t n, size_t chunk)
{
	struct buf s = { 0 };
	for (size_t off = 0; off < n; off += chunk) {
		size_t k = n - off < chunk ? n - off : chunk;
		message(&s, n - off - k, db + off, k);
	}
	unsigned char h[32];
	sha256(db, n, h);
	message(&s, 0, h, 32);
	return s;
}

static unsigned char *db_of(size_t n)
{
	unsigned char *db = malloc(n);
	assert_non_null(db);
	for (size_t i = 0; i < n; i++)
		db[i] = (unsigned char)(i * 131 + (i >> 8));
	return db;
}

struct sink_out {
	struct buf got;
	int fail_at; /* fail (ENOSPC) when this many bytes would be passed; 0: never */
};

static int sink(void *userdata, const void *d, size_t n)
{
	struct sink_out *o = userdata;
	if (o->fail_at && o->got.len + n >= (size_t)o->fail_at)
		return -ENOSPC;
	put(&o->got, d, n);
	return 0;
}

/* Feed @s in pieces cut at @cuts (ascending, within s); finish.  Returns the verdict. */
static int run_parser(const struct buf *s, const size_t *cuts, size_t ncuts, struct sink_out *o,
		      struct ep_snapshot_stream *st, struct ep_error *err)
{
	struct ep_snapshot_parser *p;
	assert_int_equal(ep_snapshot_parser_new(sink, o, &p), 0);
	size_t at = 0;
	int r = 0;
	for (size_t i = 0; i <= ncuts && r == 0; i++) {
		size_t end = i < ncuts ? cuts[i] : s->len;
		r = ep_snapshot_parser_feed(p, s->d + at, end - at, err);
		at = end;
	}
	if (r == 0)
		r = ep_snapshot_parser_finish(p, st, err);
	ep_snapshot_parser_free(p);
	return r;
}

static void test_stream_every_split(void **state)
{
	(void)state;
	const size_t n = 300;
	unsigned char *db = db_of(n);
	struct buf s = stream_of(db, n, 64);
	unsigned char h[32];
	sha256(db, n, h);
	for (size_t cut = 0; cut <= s.len; cut++) {
		struct sink_out o = { 0 };
		struct ep_snapshot_stream st;
		struct ep_error err = { 0 };
		assert_int_equal(run_parser(&s, &cut, 1, &o, &st, &err), 0);
		assert_int_equal(st.db_size, n);
		assert_memory_equal(st.sha256, h, 32);
		/* the sink saw the file etcdctl writes: the database, then its hash */
		assert_int_equal(o.got.len, n + 32);
		assert_memory_equal(o.got.d, db, n);
		assert_memory_equal(o.got.d + n, h, 32);
		assert_int_equal(st.messages, 6);
		free(o.got.d);
	}
	/* and one byte at a time */
	size_t *cuts = malloc(s.len * sizeof(*cuts));
	for (size_t i = 0; i < s.len; i++)
		cuts[i] = i;
	struct sink_out o = { 0 };
	struct ep_error err = { 0 };
	assert_int_equal(run_parser(&s, cuts, s.len, &o, NULL, &err), 0);
	assert_int_equal(o.got.len, n + 32);
	free(o.got.d);
	free(cuts);
	free(s.d);
	free(db);
}

static void test_stream_unknown_fields(void **state)
{
	(void)state;
	unsigned char db[10] = "0123456789";
	unsigned char h[32];
	sha256(db, sizeof(db), h);
	struct buf s = { 0 }, m = { 0 };
	/* header {3: revision 7}, blob, remaining 0 written explicitly, a fixed64 and a version */
	varint(&m, 1 << 3 | 2);
	varint(&m, 2);
	varint(&m, 3 << 3);
	varint(&m, 7);
	varint(&m, 3 << 3 | 2);
	varint(&m, sizeof(db));
	put(&m, db, sizeof(db));
	varint(&m, 2 << 3);
	varint(&m, 0);
	varint(&m, 9 << 3 | 1);
	put(&m, "12345678", 8);
	varint(&m, 4 << 3 | 2);
	varint(&m, 5);
	put(&m, "3.6.0", 5);
	frame(&s, &m);
	message(&s, 0, h, 32);
	struct sink_out o = { 0 };
	struct ep_snapshot_stream st;
	struct ep_error err = { 0 };
	assert_int_equal(run_parser(&s, NULL, 0, &o, &st, &err), 0);
	assert_int_equal(st.db_size, 10);
	assert_string_equal(st.version, "3.6.0");
	assert_int_equal(o.got.len, 42);
	free(o.got.d);
	free(m.d);
	free(s.d);
}

/* Every proper prefix of a good stream is refused at finish (or earlier), never accepted. */
static void test_stream_truncated(void **state)
{
	(void)state;
	const size_t n = 200;
	unsigned char *db = db_of(n);
	struct buf s = stream_of(db, n, 50);
	for (size_t len = 0; len < s.len; len++) {
		struct buf t = { .d = s.d, .len = len };
		struct sink_out o = { 0 };
		struct ep_error err = { 0 };
		int r = run_parser(&t, NULL, 0, &o, NULL, &err);
		assert_int_equal(r, -EPROTO);
		assert_true(ep_error_isset(&err));
		free(o.got.d);
	}
	/* what the message says: how far it got */
	struct buf t = { .d = s.d, .len = 60 };
	struct ep_error err = { 0 };
	struct sink_out o = { 0 };
	assert_int_equal(run_parser(&t, NULL, 0, &o, NULL, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "after 50 of 200 bytes of the database"));
	free(o.got.d);
	/* all the data but no checksum */
	struct buf u = { .d = s.d, .len = s.len - (5 + 2 + 32) };
	ep_error_clear(&err);
	o = (struct sink_out){ 0 };
	assert_int_equal(run_parser(&u, NULL, 0, &o, NULL, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "before their checksum"));
	free(o.got.d);
	ep_error_clear(&err);
	struct buf z = { 0 };
	assert_int_equal(run_parser(&z, NULL, 0, &o, NULL, &err), -EPROTO);
	assert_non_null(strstr(err.msg, "no data at all"));
	free(s.d);
	free(db);
}

static void test_stream_hash_mismatch(void **state)
{
	(void)state;
	const size_t n = 128;
	unsigned char *db = db_of(n);
	struct buf s = stream_of(db, n, 40);
	/* a flipped byte in every position of the data and of the checksum */
	size_t flipped = 0;
	for (size_t i = 0; i < s.len; i++) {
		/* only bytes of blobs: the frame and protobuf bytes are other tests' */
		size_t msg = 0, off = 0, pos = i;
		(void)msg;
		for (off = 0; off < s.len;) {
			size_t flen = (size_t)s.d[off + 3] << 8 | s.d[off + 4];
			size_t body = off + 5;
			size_t blob = body + (s.d[body] == (2 << 3) ? 2 : 0) + 2;
			if (pos >= blob && pos < body + flen)
				break;
			off = body + flen;
		}
		if (off >= s.len)
			continue;
		s.d[i] ^= 0x01;
		struct sink_out o = { 0 };
		struct ep_error err = { 0 };
		assert_int_equal(run_parser(&s, NULL, 0, &o, NULL, &err), -EBADMSG);
		assert_non_null(strstr(err.msg, "does not match its checksum"));
		s.d[i] ^= 0x01;
		free(o.got.d);
		flipped++;
	}
	assert_int_equal(flipped, n + 32);
	free(s.d);
	free(db);
}

static void test_stream_sink_fails(void **state)
{
	(void)state;
	const size_t n = 300;
	unsigned char *db = db_of(n);
	struct buf s = stream_of(db, n, 64);
	struct sink_out o = { .fail_at = 100 };
	struct ep_error err = { 0 };
	assert_int_equal(run_parser(&s, NULL, 0, &o, NULL, &err), -ENOSPC);
	free(o.got.d);
	free(s.d);
	free(db);
}

/* Malformed streams, each refused with -EPROTO and words for it. */
static void test_stream_malformed(void **state)
{
	(void)state;
	unsigned char db[8] = "abcdefgh", h[32];
	sha256(db, sizeof(db), h);
	struct {
		const char *name;
		const char *want;
	} cases[] = {
		{ "compressed", "compressed" },
		{ "wire type of remaining", "wrong wire type" },
		{ "wire type of blob", "wrong wire type" },
		{ "field 0", "field number 0" },
		{ "varint over 64 bits", "over 64 bits" },
		{ "length past the message", "runs past its message" },
		{ "message over 16 MiB", "over 16 MiB" },
		{ "two blobs", "two blobs" },
		{ "more than announced", "more data than the first message announced" },
		{ "remaining disagrees", "remaining_bytes 5 after 8 of 14 bytes" },
		{ "short checksum", "a checksum of 31 bytes" },
		{ "bytes after the checksum", "more after the checksum" },
		{ "checksum message without a blob", "holds no checksum" },
		{ "empty database", "an empty database" },
		{ "group wire type", "unknown wire type" },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct buf s = { 0 }, m = { 0 };
		switch (c) {
		case 0:
			message(&s, 0, db, sizeof(db));
			s.d[0] = 1;
			break;
		case 1:
			varint(&m, 2 << 3 | 2);
			varint(&m, 1);
			put(&m, "x", 1);
			frame(&s, &m);
			break;
		case 2:
			varint(&m, 3 << 3);
			varint(&m, 1);
			frame(&s, &m);
			break;
		case 3:
			varint(&m, 0);
			varint(&m, 1);
			frame(&s, &m);
			break;
		case 4:
			varint(&m, 2 << 3);
			put(&m, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10);
			frame(&s, &m);
			break;
		case 5:
			varint(&m, 3 << 3 | 2);
			varint(&m, 100);
			put(&m, db, sizeof(db));
			frame(&s, &m);
			break;
		case 6:
			put(&s, "\x00\x01\x00\x00\x01", 5);
			break;
		case 7:
			varint(&m, 3 << 3 | 2);
			varint(&m, 1);
			put(&m, "a", 1);
			varint(&m, 3 << 3 | 2);
			varint(&m, 1);
			put(&m, "b", 1);
			frame(&s, &m);
			break;
		case 8:
			message(&s, 4, db, 4);
			message(&s, 0, "efghi", 5); /* one byte more than announced */
			break;
		case 9:
			message(&s, 10, db, 4);
			message(&s, 5, db + 4, 4);
			break;
		case 10:
			message(&s, 0, db, 8);
			message(&s, 0, h, 31);
			break;
		case 11:
			message(&s, 0, db, 8);
			message(&s, 0, h, 32);
			put(&s, "\x00", 1);
			break;
		case 12:
			message(&s, 0, db, 8);
			varint(&m, 2 << 3);
			varint(&m, 0);
			frame(&s, &m);
			break;
		case 13:
			message(&s, 0, db, 0);
			break;
		case 14:
			varint(&m, 5 << 3 | 3);
			frame(&s, &m);
			break;
		}
		struct sink_out o = { 0 };
		struct ep_error err = { 0 };
		int r = run_parser(&s, NULL, 0, &o, NULL, &err);
		if (r != -EPROTO || !strstr(err.msg, cases[c].want))
			fail_msg("%s: %d '%s' (want '%s')", cases[c].name, r, err.msg, cases[c].want);
		free(o.got.d);
		free(m.d);
		free(s.d);
	}
}

/* ---- the file ------------------------------------------------------------------ */

static char *scratch(void)
{
	char *d = strdup("/tmp/ep-test-snapshot.XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void rm_rf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_atomic_file(void **state)
{
	(void)state;
	char *dir = scratch(), path[512], missing[512];
	struct ep_error err = { 0 };
	struct ep_atomic_file *f = NULL;
	snprintf(path, sizeof(path), "%s/snap.db", dir);
	snprintf(missing, sizeof(missing), "%s/nope/snap.db", dir);

	/* written, then abandoned: nothing is left, not even a temp */
	assert_int_equal(ep_atomic_file_begin(path, 0600, false, &f, &err), 0);
	assert_int_equal(ep_atomic_file_write(f, "hello", 5, &err), 0);
	assert_int_equal(count_entries(dir), ep_atomic_file_unnamed(f) ? 0 : 1);
	ep_atomic_file_abort(f);
	assert_int_equal(count_entries(dir), 0);

	/* committed: the file with its exact mode, whatever the umask */
	mode_t old = umask(077);
	assert_int_equal(ep_atomic_file_begin(path, 0640, false, &f, &err), 0);
	umask(old);
	assert_int_equal(ep_atomic_file_write(f, "hello", 5, &err), 0);
	assert_int_equal(ep_atomic_file_commit(f, &err), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_int_equal(st.st_size, 5);
	assert_int_equal(count_entries(dir), 1);

	/* never replaced without asking, at begin ... */
	assert_int_equal(ep_atomic_file_begin(path, 0600, false, &f, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "already exists"));
	/* ... nor at commit when it appeared meanwhile */
	char other[512];
	snprintf(other, sizeof(other), "%s/other.db", dir);
	ep_error_clear(&err);
	assert_int_equal(ep_atomic_file_begin(other, 0600, false, &f, &err), 0);
	assert_int_equal(ep_atomic_file_write(f, "new", 3, &err), 0);
	FILE *fp = fopen(other, "w");
	fputs("theirs", fp);
	fclose(fp);
	assert_int_equal(ep_atomic_file_commit(f, &err), -EEXIST);
	char *text = NULL;
	size_t len = 0;
	struct ep_error rerr = { 0 };
	assert_int_equal(ep_read_file(other, 100, true, &text, &len, &rerr), 0);
	assert_string_equal(text, "theirs");
	free(text);
	assert_int_equal(count_entries(dir), 2);

	/* replaced when asked */
	ep_error_clear(&err);
	assert_int_equal(ep_atomic_file_begin(path, 0600, true, &f, &err), 0);
	assert_int_equal(ep_atomic_file_write(f, "bye", 3, &err), 0);
	assert_int_equal(ep_atomic_file_commit(f, &err), 0);
	assert_int_equal(ep_read_file(path, 100, true, &text, &len, &rerr), 0);
	assert_string_equal(text, "bye");
	free(text);
	assert_int_equal(count_entries(dir), 2);

	/* a missing directory, a symlink, a directory */
	ep_error_clear(&err);
	assert_int_equal(ep_atomic_file_begin(missing, 0600, false, &f, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "the directory does not exist"));
	char link[512];
	snprintf(link, sizeof(link), "%s/link.db", dir);
	assert_int_equal(symlink(path, link), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_atomic_file_begin(link, 0600, true, &f, &err), -ELOOP);
	ep_error_clear(&err);
	assert_int_equal(ep_atomic_file_begin(dir, 0600, true, &f, &err), -EISDIR);
	rm_rf(dir);
	free(dir);
}

/* ep_snapshot_check_target: the same refusals, as usage errors. */
static void test_check_target(void **state)
{
	(void)state;
	char *dir = scratch(), path[512];
	snprintf(path, sizeof(path), "%s/missing/x.db", dir);
	struct ep_snapshot_opts o = { .path = path };
	struct ep_error err = { 0 };
	assert_int_equal(ep_snapshot_check_target(&o, &err), -ENOENT);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	snprintf(path, sizeof(path), "%s/x.db", dir);
	ep_error_clear(&err);
	assert_int_equal(ep_snapshot_check_target(&o, &err), 0);
	assert_int_equal(count_entries(dir), 0);
	FILE *fp = fopen(path, "w");
	fclose(fp);
	assert_int_equal(ep_snapshot_check_target(&o, &err), -EEXIST);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	o.replace = true;
	ep_error_clear(&err);
	assert_int_equal(ep_snapshot_check_target(&o, &err), 0);
	rm_rf(dir);
	free(dir);
}

/* ---- saved files and their revision ------------------------------------------- */

static char *data_path(const char *name)
{
	const char *src = getenv("EP_SOURCE_DIR");
	char *p = NULL;
	assert_true(asprintf(&p, "%s/tests/unit/data/snapshot/%s", src && *src ? src : EP_TEST_SOURCE_DIR,
			     name) > 0);
	return p;
}

static void test_verify_real_snapshots(void **state)
{
	(void)state;
	struct {
		const char *name;
		uint64_t size, revision;
	} files[] = { { "tiny.db", 20512, 5 }, { "multi.db", 57376, 305 } };
	for (size_t i = 0; i < 2; i++) {
		char *p = data_path(files[i].name);
		struct ep_snapshot_result res = { 0 };
		struct ep_error err = { 0 };
		if (ep_snapshot_verify_file(NULL, p, &res, &err) != 0)
			fail_msg("%s: %s", files[i].name, err.msg);
		assert_int_equal(res.size, files[i].size);
		assert_int_equal(res.db_size, files[i].size - 32);
		assert_int_equal(res.revision_source, EP_SNAPSHOT_REV_FILE);
		assert_int_equal(res.revision, files[i].revision);
		ep_snapshot_result_release(&res);
		free(p);
	}
}

static void test_verify_damaged(void **state)
{
	(void)state;
	char *src = data_path("tiny.db"), *dir = scratch(), path[512];
	char *text = NULL;
	size_t len = 0;
	struct ep_error err = { 0 };
	assert_int_equal(ep_read_file(src, 1 << 20, false, &text, &len, &err), 0);
	snprintf(path, sizeof(path), "%s/x.db", dir);
	/* one byte changed anywhere: the data or the checksum */
	size_t at[] = { 0, 4096, len - 33, len - 1 };
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		text[at[i]] ^= 0x40;
		unlink(path);
		assert_int_equal(ep_write_atomic(path, text, len, 0600, &err), 0);
		ep_error_clear(&err);
		assert_int_equal(ep_snapshot_verify_file(NULL, path, NULL, &err), -EBADMSG);
		text[at[i]] ^= 0x40;
	}
	/* too short to hold a checksum */
	unlink(path);
	assert_int_equal(ep_write_atomic(path, text, 32, 0600, &err), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_snapshot_verify_file(NULL, path, NULL, &err), -EBADMSG);
	/* a good file whose database this reader cannot read: verified, no revision */
	unsigned char junk[100], h[32];
	memset(junk, 'j', sizeof(junk));
	sha256(junk, sizeof(junk), h);
	memcpy(junk + 68, h, 32);
	sha256(junk, 68, h);
	memcpy(junk + 68, h, 32);
	unlink(path);
	assert_int_equal(ep_write_atomic(path, junk, sizeof(junk), 0600, &err), 0);
	struct ep_snapshot_result res = { 0 };
	assert_int_equal(ep_snapshot_verify_file(NULL, path, &res, &err), 0);
	assert_int_equal(res.revision_source, EP_SNAPSHOT_REV_NONE);
	assert_int_equal(res.db_size, 68);
	free(text);
	free(src);
	rm_rf(dir);
	free(dir);
}

/* ---- crafted bbolt files --------------------------------------------------------- */

#define PS 4096

static void le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t fnv(const unsigned char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static void meta(unsigned char *db, uint64_t id, uint64_t root, uint64_t txid)
{
	unsigned char *p = db + id * PS, *m = p + 16;
	le(p, id, 8);
	le(p + 8, 0x04, 2);
	le(m, 0xED0CDAED, 4);
	le(m + 4, 2, 4);
	le(m + 8, PS, 4);
	le(m + 16, root, 8);
	le(m + 32, 2, 8);
	le(m + 40, 8, 8);
	le(m + 48, txid, 8);
	le(m + 56, fnv(m, 56), 8);
}

/* A leaf page at @p (number @id) with @n elements @keys/@vals; bucket flags in @bucket. */
static size_t leaf(unsigned char *p, uint64_t id, size_t n, const char *const *keys,
		   const unsigned char *const *vals, const size_t *vlens, const bool *bucket)
{
	le(p, id, 8);
	le(p + 8, 0x02, 2);
	le(p + 10, n, 2);
	size_t data = 16 + n * 16;
	for (size_t i = 0; i < n; i++) {
		unsigned char *e = p + 16 + i * 16;
		size_t kl = strlen(keys[i]);
		le(e, bucket && bucket[i] ? 1 : 0, 4);
		le(e + 4, data - (16 + i * 16), 4);
		le(e + 8, kl, 4);
		le(e + 12, vlens[i], 4);
		memcpy(p + data, keys[i], kl);
		memcpy(p + data + kl, vals[i], vlens[i]);
		data += kl + vlens[i];
	}
	return data;
}

static int bolt_revision(const unsigned char *db, size_t len, uint64_t *rev, struct ep_error *err)
{
	char path[] = "/tmp/ep-test-bolt.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, db, len), (ssize_t)len);
	unlink(path);
	int r = ep_bbolt_revision(fd, len, rev, err);
	close(fd);
	return r;
}

static void test_bbolt_crafted(void **state)
{
	(void)state;
	unsigned char *db = calloc(8, PS);
	uint64_t rev = 0;
	struct ep_error err = { 0 };
	/* root bucket at page 3 names "key" (root page 4) and "meta"; page 4 is a branch */
	unsigned char bkey[16] = { 0 }, bmeta[16] = { 0 };
	le(bkey, 4, 8);
	le(bmeta, 7, 8);
	const char *names[] = { "key", "meta" };
	const unsigned char *bvals[] = { bkey, bmeta };
	size_t blens[] = { 16, 16 };
	bool isb[] = { true, true };
	leaf(db + 3 * PS, 3, 2, names, bvals, blens, isb);
	unsigned char *br = db + 4 * PS;
	le(br, 4, 8);
	le(br + 8, 0x01, 2);
	le(br + 10, 2, 2);
	const char k1[17] = "\0\0\0\0\0\0\0\x02_\0\0\0\0\0\0\0\0";
	const char k2[17] = "\0\0\0\0\0\0\x01\x07_\0\0\0\0\0\0\0\0";
	/* branch elements: pos, ksize, pgid */
	le(br + 16, 32, 4), le(br + 20, 17, 4), le(br + 24, 5, 8);
	le(br + 32, 16 + 17, 4), le(br + 36, 17, 4), le(br + 40, 6, 8);
	memcpy(br + 48, k1, 17);
	memcpy(br + 48 + 17, k2, 17);
	const char *ka[] = { k1 }, *kb[] = { k2 };
	const unsigned char *v[] = { (const unsigned char *)"v" };
	size_t vl[] = { 1 };
	/* keys of 17 bytes with NULs: written by hand (leaf() takes C strings) */
	(void)ka, (void)kb;
	for (int pg = 5; pg <= 6; pg++) {
		unsigned char *p = db + pg * PS;
		le(p, (uint64_t)pg, 8);
		le(p + 8, 0x02, 2);
		le(p + 10, 1, 2);
		le(p + 16 + 4, 16, 4);
		le(p + 16 + 8, 17, 4);
		le(p + 16 + 12, 1, 4);
		memcpy(p + 32, pg == 5 ? k1 : k2, 17);
		p[32 + 17] = 'v';
	}
	leaf(db + 7 * PS, 7, 0, NULL, v, vl, NULL);
	meta(db, 0, 3, 10);
	meta(db, 1, 3, 9);
	assert_int_equal(bolt_revision(db, 8 * PS, &rev, &err), 0);
	assert_int_equal(rev, 0x107);

	/* the newer meta page damaged: the older one is used; both: refused */
	db[16 + 20] ^= 1;
	assert_int_equal(bolt_revision(db, 8 * PS, &rev, &err), 0);
	db[PS + 16 + 20] ^= 1;
	assert_int_equal(bolt_revision(db, 8 * PS, &rev, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "neither meta page"));
	meta(db, 0, 3, 10);
	meta(db, 1, 3, 9);

	/* hostile: a child past the end, a page that does not carry its number, a loop */
	le(br + 40, 1000, 8);
	ep_error_clear(&err);
	assert_int_equal(bolt_revision(db, 8 * PS, &rev, &err), -EBADMSG);
	le(br + 40, 6, 8);
	le(db + 6 * PS, 9, 8);
	ep_error_clear(&err);
	assert_int_equal(bolt_revision(db, 8 * PS, &rev, &err), -EBADMSG);
	le(db + 6 * PS, 6, 8);
	le(br + 40, 4, 8); /* the branch names itself */
	ep_error_clear(&err);
	assert_int_equal(bolt_revision(db, 8 * PS, &rev, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "deeper than 64"));
	le(br + 40, 6, 8);
	/* an element whose key lies past its page */
	le(br + 36, 5000, 4);
	ep_error_clear(&err);
	assert_int_equal(bolt_revision(db, 8 * PS, &rev, &err), -EBADMSG);
	le(br + 36, 17, 4);

	/* an inline "key" bucket: the value holds {0, seq} and the page */
	unsigned char inl[16 + 64] = { 0 };
	unsigned char *ip = inl + 16;
	le(ip + 8, 0x02, 2);
	le(ip + 10, 1, 2);
	le(ip + 16 + 4, 16, 4);
	le(ip + 16 + 8, 17, 4);
	le(ip + 16 + 12, 1, 4);
	memcpy(ip + 32, k1, 17);
	ip[49] = 'v';
	const unsigned char *ivals[] = { inl, bmeta };
	size_t ilens[] = { sizeof(inl), 16 };
	memset(db + 3 * PS, 0, PS);
	leaf(db + 3 * PS, 3, 2, names, ivals, ilens, isb);
	ep_error_clear(&err);
	assert_int_equal(bolt_revision(db, 8 * PS, &rev, &err), 0);
	assert_int_equal(rev, 2);

	/* no "key" bucket: not etcd's */
	const char *other[] = { "kez" };
	memset(db + 3 * PS, 0, PS);
	leaf(db + 3 * PS, 3, 1, other, bvals, blens, isb);
	ep_error_clear(&err);
	assert_int_equal(bolt_revision(db, 8 * PS, &rev, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "no \"key\" bucket"));
	/* not bbolt at all */
	memset(db, 0, PS);
	assert_int_equal(bolt_revision(db, 8 * PS, &rev, &err), -EBADMSG);
	free(db);
}

/* ---- the member ------------------------------------------------------------------- */

static void member(struct ep_member_health *m, const char *name, uint64_t id, bool healthy,
		   bool learner, uint64_t applied, bool leader)
{
	memset(m, 0, sizeof(*m));
	m->member.id = id;
	m->member.name = (char *)name;
	m->member.is_learner = learner;
	m->endpoint = (char *)"https://10.0.0.1:2379";
	m->healthy = healthy;
	m->status_ok = true;
	m->status.raft_applied_index = applied;
	m->status.raft_index = applied + 1;
	m->is_leader = leader;
	m->error = healthy ? NULL : (char *)"no leader";
}

static void test_pick(void **state)
{
	(void)state;
	struct ep_member_health v[4];
	struct ep_health_report hr = { .v = v, .n = 4 };
	struct ep_error err = { 0 };
	member(&v[0], "a", 1, true, false, 100, false);
	member(&v[1], "b", 2, false, false, 500, false); /* unhealthy, however advanced */
	member(&v[2], "c", 3, true, true, 400, false);   /* a learner */
	member(&v[3], "d", 4, true, false, 120, false);
	assert_int_equal(ep_snapshot_pick(&hr, &err), 3);
	/* a tie goes to the leader */
	member(&v[0], "a", 1, true, false, 120, true);
	assert_int_equal(ep_snapshot_pick(&hr, &err), 0);
	/* no applied index (an old etcd): the raft index counts */
	member(&v[0], "a", 1, true, false, 0, false);
	v[0].status.raft_index = 1000;
	assert_int_equal(ep_snapshot_pick(&hr, &err), 0);
	/* none qualifies: each is named with why */
	v[0].healthy = v[3].healthy = false;
	v[0].error = v[3].error = (char *)"unreachable from here: connection refused";
	assert_int_equal(ep_snapshot_pick(&hr, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no healthy voting member"));
	assert_non_null(strstr(err.msg, "c (3): a learner"));
	assert_non_null(strstr(err.msg, "d (4): unreachable from here"));
}

/* ---- the action type --------------------------------------------------------------- */

static void test_action_type(void **state)
{
	(void)state;
	const struct ep_action_type *t = ep_action_type_find("snapshot.save");
	assert_non_null(t);
	assert_true(t->changes);
	assert_true(t->reversible);
	json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "endpoint", "https://127.0.0.1:2379",
			      "cacert", "/etc/kubernetes/pki/etcd/ca.crt", "cert",
			      "/etc/kubernetes/pki/etcd/healthcheck-client.crt", "key",
			      "/etc/kubernetes/pki/etcd/healthcheck-client.key", "path",
			      "/var/lib/etcdpilot/backup/etcd.db");
	struct ep_error err = { 0 };
	assert_int_equal(t->check(p, &err), 0);
	struct ep_strbuf sb = EP_STRBUF_INIT;
	t->describe(p, &sb);
	assert_string_equal(ep_strbuf_str(&sb),
			    "save a snapshot of the etcd member at https://127.0.0.1:2379 into "
			    "/var/lib/etcdpilot/backup/etcd.db (its sha256 checked; kept on rollback)");
	ep_strbuf_release(&sb);
	json_object_set_new(p, "path", json_string("relative.db"));
	assert_true(t->check(p, &err) < 0);
	json_object_set_new(p, "path", json_string("/x.db"));
	json_object_set_new(p, "endpoint", json_string("ftp://x"));
	ep_error_clear(&err);
	assert_true(t->check(p, &err) < 0);
	json_object_set_new(p, "endpoint", json_string("https://127.0.0.1:1"));
	json_object_set_new(p, "timeout_ms", json_integer(-1));
	ep_error_clear(&err);
	assert_true(t->check(p, &err) < 0);
	json_object_del(p, "timeout_ms");

	/* a file at the path before the run: refused, and kept; undo keeps it too */
	char *dir = scratch(), path[512];
	snprintf(path, sizeof(path), "%s/backup.db", dir);
	FILE *fp = fopen(path, "w");
	fputs("an older backup", fp);
	fclose(fp);
	json_object_set_new(p, "path", json_string(path));
	struct ep_apply_ctx ctx = { .root = NULL };
	json_t *undo = json_object();
	ep_error_clear(&err);
	assert_int_equal(t->apply(&ctx, p, undo, &err), -EEXIST);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_true(json_is_true(json_object_get(undo, "existed")));
	assert_int_equal(t->undo(&ctx, p, undo, &err), 0);
	assert_int_equal(access(path, F_OK), 0);
	json_decref(undo);

	/* a re-apply that finds the file its earlier attempt saved (verified): done, no call */
	char *good = data_path("tiny.db");
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(ep_read_file(good, 1 << 20, false, &text, &len, &err), 0);
	unlink(path);
	assert_int_equal(ep_write_atomic(path, text, len, 0600, &err), 0);
	undo = json_pack("{s:b}", "existed", 0);
	ep_error_clear(&err);
	assert_int_equal(t->apply(&ctx, p, undo, &err), 0);
	/* ... one that does not verify is to be replaced: the save is tried (and fails here,
	 * with no member to ask), the damaged file stays as it was until a save succeeds */
	text[100] ^= 1;
	unlink(path);
	assert_int_equal(ep_write_atomic(path, text, len, 0600, &err), 0);
	ep_error_clear(&err);
	assert_true(t->apply(&ctx, p, undo, &err) < 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((size_t)st.st_size, len);
	json_decref(undo);
	free(text);
	free(good);
	json_decref(p);
	rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_every_split),
		cmocka_unit_test(test_stream_unknown_fields),
		cmocka_unit_test(test_stream_truncated),
		cmocka_unit_test(test_stream_hash_mismatch),
		cmocka_unit_test(test_stream_sink_fails),
		cmocka_unit_test(test_stream_malformed),
		cmocka_unit_test(test_atomic_file),
		cmocka_unit_test(test_check_target),
		cmocka_unit_test(test_verify_real_snapshots),
		cmocka_unit_test(test_verify_damaged),
		cmocka_unit_test(test_bbolt_crafted),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_action_type),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
