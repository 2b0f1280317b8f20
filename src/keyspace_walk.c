/*
 * keyspace_walk.c - reading a prefix of a live etcd in pages at one
 * revision, and one key on its own.
 *
 * The first page is a linearizable read of the whole prefix (limit 100):
 * its revision fixes the view and its count says how many keys there are.
 * Every later page is a serializable read at that revision over a window
 * that starts where the last page stopped: etcd 3.4 walks its whole index
 * range for each ranged request whatever the limit (a plain "continue after
 * the last key" walk of 200,000 keys in pages of 1,000 made etcd visit 100
 * times as many), so a window that ends near the keys it returns keeps each
 * request's cost near its answer.  A window ends where byte p of its start,
 * raised by delta, ends (a "cell" of the key space): it narrows to the
 * common prefix of a page's first and last key when etcd counted far more
 * keys in it than the page holds, gallops sideways (delta grows by what
 * should fill a page) when it ran out with few keys, and moves up a level
 * when delta passes the last byte value.  Measured against a simulated
 * etcd (tests/unit/test_keyspace.c), a walk visits 3 to 5 times the keys it
 * reads.  Pages shrink when values are big (about 8 MiB per answer, 10,000 keys at most), which
 * bounds the member's work too.
 * A page that fails for a reason another member may not have is asked of
 * the next endpoint, linearizable, skipping the keys already handed over.
 * No printing; progress goes through the caller's callback.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"
#include "etcdpilot/error.h"
#include "etcdpilot/keyspace.h"
#include "keyspace_internal.h"
#include "util/cleanup.h"

#define DEFAULT_PAGE 10000
#define FIRST_PAGE 100
#define MIN_PAGE 10
#define PAGE_BYTES (8u << 20)
#define DEFAULT_TIMEOUT_MS (5u * 60 * 1000)
#define TREE_HEAD 1024 /* bytes of each value the tree reads (k8s.h needs the first few) */

size_t ep_keyspace_prefix_end(const void *key, size_t len, unsigned char *ret)
{
	const unsigned char *k = key;
	while (len && k[len - 1] == 0xff)
		len--;
	if (!len)
		return 0;
	memcpy(ret, k, len);
	ret[len - 1]++;
	return len;
}

struct buf {
	unsigned char *p;
	size_t len, cap;
};

/* Keys are at most 4 MiB (the parser refuses longer ones): a bound far above. */
#define BUF_MAX (64u << 20)

static int buf_set(struct buf *b, const void *d, size_t len, size_t extra)
{
	if (len > BUF_MAX || extra > BUF_MAX)
		return -ENOMEM;
	if (len + extra > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < len + extra)
			cap *= 2;
		unsigned char *p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	if (len)
		memmove(b->p, d, len);
	b->len = len;
	return 0;
}

static int keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);
	return c ? c : (alen > blen) - (alen < blen);
}

struct scan_state {
	struct ep_keyspace_scan *scan;
	struct buf last;      /* the last key handed over */
	bool have_last;
	bool resume;          /* a page asked again: skip keys up to last */
	struct buf first;     /* the first key of this page */
	bool have_first;
	int cb_r;
};

static int scan_kv(void *userdata, const struct ep_range_kv *kv)
{
	struct scan_state *st = userdata;
	if (st->resume) {
		if (keycmp(kv->key, kv->key_len, st->last.p, st->last.len) <= 0)
			return 0;
		st->resume = false;
	}
	if ((!st->have_first && buf_set(&st->first, kv->key, kv->key_len, 0) < 0) ||
	    buf_set(&st->last, kv->key, kv->key_len, 1) < 0)
		return st->cb_r = -ENOMEM;
	st->have_first = st->have_last = true;
	struct ep_keyspace_progress *d = &st->scan->done;
	d->keys++;
	d->bytes += kv->key_len + kv->value_len;
	int r = st->scan->on_kv ? st->scan->on_kv(st->scan->userdata, kv) : 0;
	if (r < 0)
		st->cb_r = r;
	return r;
}

/* Failures another member may not share. */
static bool retryable(int r)
{
	return r == -ECONNREFUSED || r == -EHOSTUNREACH || r == -ECONNRESET || r == -EKEYREJECTED ||
	       r == -EPROTO || r == -EAGAIN || r == -ETIMEDOUT || r == -EIO || r == -ECANCELED;
}

static size_t lcp(const struct buf *a, const struct buf *b)
{
	size_t n = a->len < b->len ? a->len : b->len, i = 0;
	while (i < n && a->p[i] == b->p[i])
		i++;
	return i;
}

static int compacted(struct ep_error *err, const struct ep_keyspace_progress *d,
		     const struct ep_error *etcd)
{
	struct ep_error e = *etcd;
	ep_error_clear(err);
	return ep_error_set(err, -ERANGE,
			    "revision %" PRIu64 " was compacted while the walk was under way "
			    "(%" PRIu64 " of %" PRIu64 " keys read in %" PRIu64 ".%03" PRIu64
			    " s; the API server compacts every 5 minutes by default): run it "
			    "again, or read a smaller prefix (%s)",
			    d->revision, d->keys, d->total, d->elapsed_ms / 1000, d->elapsed_ms % 1000,
			    e.msg);
}

/*
 * The end of the window that starts at @s: byte @p of @s (0 past its end)
 * raised by @delta, or, when that passes 0xff, the end of everything that
 * starts with @s's first @p bytes; in that case *@p and *@delta move to the
 * byte that was raised (the window is then a whole cell one level up).
 * Sets *@to_end when the window reaches the range's end.
 */
static int window_end(const struct buf *s, size_t pl, size_t *p, unsigned *delta,
		      const struct buf *end, struct buf *e, bool *to_end, bool *carried)
{
	*to_end = false;
	*carried = false;
	if (*p < pl) {
		*to_end = true;
		return 0;
	}
	if (*p >= s->len)
		*p = s->len; /* past the end: the byte there counts as 0 */
	if (buf_set(e, s->p, *p, 1) < 0)
		return -ENOMEM;
	unsigned c = *p < s->len ? s->p[*p] : 0;
	if (c + *delta <= 0xff) {
		e->p[e->len++] = (unsigned char)(c + *delta);
	} else {
		e->len = ep_keyspace_prefix_end(s->p, *p, e->p);
		if (e->len == 0 || e->len <= pl) {
			*to_end = true;
			return 0;
		}
		*p = e->len - 1;
		*delta = 1;
		*carried = true;
	}
	if (end->len && keycmp(e->p, e->len, end->p, end->len) >= 0)
		*to_end = true;
	return 0;
}

static int fetch_client(void *ctx, const char *endpoint, const struct ep_range_opts *opts,
			uint64_t timeout_ms, ep_range_kv_fn fn, void *userdata,
			struct ep_range_page *ret, struct ep_error *err)
{
	return ep_kv_range_stream(ctx, endpoint, opts, timeout_ms, fn, userdata, ret, err);
}

int ep_keyspace_scan(struct ep_client *c, const char *const *endpoints, size_t n,
		     struct ep_keyspace_scan *scan, struct ep_error *err)
{
	return ep_keyspace_scan_with(fetch_client, c, endpoints, n, scan, err);
}

int ep_keyspace_scan_with(ep_keyspace_fetch_fn fetch, void *ctx, const char *const *endpoints,
			  size_t n, struct ep_keyspace_scan *scan, struct ep_error *err)
{
	struct scan_state st = { .scan = scan };
	struct buf s = { 0 }, e = { 0 }, end = { 0 };
	struct ep_keyspace_progress *d = &scan->done;
	const size_t pl = scan->prefix_len;
	uint64_t limit = scan->page_limit ? scan->page_limit : DEFAULT_PAGE;
	uint64_t L = limit < FIRST_PAGE ? limit : FIRST_PAGE;
	uint64_t t0 = ep_now_ms();
	uint64_t deadline = t0 + (scan->timeout_ms ? scan->timeout_ms : DEFAULT_TIMEOUT_MS);
	size_t p = 0, ep = 0, tries = 0;
	unsigned delta = 1;
	bool to_end = true, failover = false, carried = false;
	struct ep_error first_err = { 0 };
	int r;

	memset(d, 0, sizeof(*d));
	if (n == 0)
		return ep_error_usage(err, -EINVAL, "no endpoint to read from");
	/* The range: [prefix, end of prefix), or every key for an empty prefix. */
	if ((r = buf_set(&s, pl ? scan->prefix : "\0", pl ? pl : 1, 1)) < 0 ||
	    (r = buf_set(&end, "", 0, pl + 1)) < 0)
		goto oom;
	end.len = pl ? ep_keyspace_prefix_end(scan->prefix, pl, end.p) : 0;

	/* The first window is the whole range; its page says how many keys there are. */
	for (;;) {
		uint64_t now = ep_now_ms();
		d->elapsed_ms = now - t0;
		if (now >= deadline) {
			r = ep_error_set(err, -ETIMEDOUT,
					 "timed out after %" PRIu64 " ms with %" PRIu64 " of %" PRIu64
					 " keys read (give more --timeout)",
					 d->elapsed_ms, d->keys, d->total);
			goto out;
		}
		const struct buf *we = to_end ? &end : &e;
		struct ep_range_opts o = {
			.key = s.p,
			.key_len = s.len,
			.range_end = we->len ? (const void *)we->p : "\0",
			.range_end_len = we->len ? we->len : 1,
			.limit = L,
			.revision = d->revision,
			.serializable = d->revision && !failover,
			.keys_only = scan->keys_only,
			.value_head_max = scan->keys_only ? 0 : scan->value_head_max,
		};
		struct ep_range_page page = { 0 };
		struct ep_error perr = { 0 };
		st.have_first = false;
		d->endpoint = endpoints[ep];
		r = fetch(ctx, endpoints[ep], &o, deadline - now, scan_kv, &st, &page, &perr);
		d->requests++;
		if (r < 0) {
			if (st.cb_r < 0) {
				r = st.cb_r;
				goto out;
			}
			if (r == -ERANGE && d->revision) {
				r = compacted(err, d, &perr);
				goto out;
			}
			if (r == -ETIMEDOUT && ep_now_ms() + 100 >= deadline) {
				d->elapsed_ms = ep_now_ms() - t0;
				r = ep_error_set(err, -ETIMEDOUT,
						 "timed out after %" PRIu64 " ms with %" PRIu64 " of %" PRIu64
						 " keys read (give more --timeout): %s",
						 d->elapsed_ms, d->keys, d->total, perr.msg);
				goto out;
			}
			if (!ep_error_isset(&first_err))
				first_err = perr;
			if (retryable(r) && ++tries < n && ep_now_ms() < deadline) {
				ep = (ep + 1) % n;
				failover = true;
				st.resume = st.have_last;
				continue;
			}
			if (err && !ep_error_isset(err))
				*err = tries > 1 ? first_err : perr;
			if (d->revision)
				ep_error_prefix(err, "reading at revision %" PRIu64 " after %" PRIu64
						     " keys", d->revision, d->keys);
			goto out;
		}
		tries = 0;
		failover = false;
		st.resume = false;
		if (!d->revision) {
			d->revision = page.revision;
			d->total = page.count;
			scan->cluster_id = page.cluster_id;
			scan->member_id = page.member_id;
		}
		d->elapsed_ms = ep_now_ms() - t0;
		if (scan->on_page && (r = scan->on_page(scan->userdata, d)) < 0)
			goto out;
		if (page.more) {
			if (!page.n || !st.have_last) {
				r = ep_error_set(err, -EPROTO, "%s: etcd said there was more but sent "
							       "nothing", endpoints[ep]);
				goto out;
			}
			if ((r = buf_set(&s, st.last.p, st.last.len, 1)) < 0)
				goto oom;
			s.p[s.len++] = '\0';
			/* etcd walked far more than it sent: narrow to the page's common prefix. */
			if (page.count > 4 * L && st.have_first) {
				p = lcp(&st.first, &st.last);
				delta = 1;
				if ((r = window_end(&s, pl, &p, &delta, &end, &e, &to_end, &carried)) < 0)
					goto oom;
			}
		} else {
			if (to_end)
				break;
			if ((r = buf_set(&s, e.p, e.len, 1)) < 0)
				goto oom;
			/* Few keys there: gallop, sideways and then up. */
			/*
			 * Few keys there: gallop sideways, by as much as should fill a
			 * page (8 times when it was empty).  Not after a carry: that
			 * window was the rest of a cell already mostly read, and says
			 * nothing of the cells of the level it moved up to.
			 */
			if (!carried && page.count < L / 2 && delta < 0x100) {
				uint64_t f = page.count ? L / page.count : 8;
				delta *= (unsigned)(f < 2 ? 2 : f > 64 ? 64 : f);
			}
			if ((r = window_end(&s, pl, &p, &delta, &end, &e, &to_end, &carried)) < 0)
				goto oom;
		}
		if (page.n && page.bytes) {
			uint64_t per = page.bytes / page.n + 1;
			L = PAGE_BYTES / per;
			L = L < MIN_PAGE ? MIN_PAGE : L > limit ? limit : L;
		}
	}
	r = 0;
	goto out;
oom:
	r = ep_error_set(err, -ENOMEM, "out of memory");
out:
	d->elapsed_ms = ep_now_ms() - t0;
	free(s.p);
	free(e.p);
	free(end.p);
	free(st.last.p);
	free(st.first.p);
	return r;
}

/* ------------------------------------------------------------------------ */

struct walk_fwd {
	struct ep_keyspace *ks;
	ep_keyspace_page_fn on_page;
	void *userdata;
};

static int walk_page(void *userdata, const struct ep_keyspace_progress *p)
{
	struct walk_fwd *f = userdata;
	return f->on_page ? f->on_page(f->userdata, p) : 0;
}

static int walk_kv(void *userdata, const struct ep_range_kv *kv)
{
	struct walk_fwd *f = userdata;
	return ep_keyspace_add(f->ks, kv);
}

int ep_keyspace_walk_with(struct ep_keyspace *ks, struct ep_client *c, const char *const *endpoints,
			  size_t n, const struct ep_keyspace_walk_opts *o, struct ep_error *err)
{
	struct walk_fwd f = { .ks = ks, .on_page = o->on_page, .userdata = o->userdata };
	struct ep_keyspace_scan scan = {
		.prefix = ks->prefix,
		.prefix_len = ks->prefix_len,
		.value_head_max = TREE_HEAD,
		.page_limit = o->page_limit,
		.timeout_ms = o->timeout_ms,
		.on_kv = walk_kv,
		.on_page = walk_page,
		.userdata = &f,
	};
	int r = ep_keyspace_scan(c, endpoints, n, &scan, err);
	ks->done = scan.done;
	ks->cluster_id = scan.cluster_id;
	ks->member_id = scan.member_id;
	if (r == -ENOMEM && !ep_error_isset(err))
		r = ep_error_set(err, -ENOMEM, "out of memory");
	if (r < 0)
		return r;
	ep_keyspace_finish(ks);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* One key                                                                   */

void ep_keyspace_object_release(struct ep_keyspace_object *o)
{
	if (!o)
		return;
	free(o->key);
	free(o->value);
	memset(o, 0, sizeof(*o));
}

static int get_kv(void *userdata, const struct ep_range_kv *kv)
{
	struct ep_keyspace_object *o = userdata;
	if (o->key)
		return 0; /* one key asked for: etcd sends one */
	o->key = malloc(kv->key_len + 1);
	o->value = malloc(kv->value_head_len ? kv->value_head_len : 1);
	if (!o->key || !o->value)
		return -ENOMEM;
	memcpy(o->key, kv->key, kv->key_len);
	o->key[kv->key_len] = '\0';
	o->key_len = kv->key_len;
	if (kv->value_head_len)
		memcpy(o->value, kv->value_head, kv->value_head_len);
	o->value_seen = kv->value_head_len;
	o->value_len = kv->value_len;
	o->create_revision = kv->create_revision;
	o->mod_revision = kv->mod_revision;
	o->version = kv->version;
	o->lease = kv->lease;
	return 0;
}

int ep_keyspace_get(struct ep_client *c, const char *const *endpoints, size_t n, const void *key,
		    size_t key_len, const char *etcd_prefix, uint64_t timeout_ms,
		    struct ep_keyspace_object *ret, struct ep_error *err)
{
	struct ep_range_opts o = { .key = key, .key_len = key_len,
				   .value_head_max = EP_KEYSPACE_GET_VALUE_MAX };
	struct ep_range_page page = { 0 };
	struct ep_error first = { 0 };
	int r = -EINVAL;

	memset(ret, 0, sizeof(*ret));
	if (!key_len)
		return ep_error_usage(err, -EINVAL, "an empty key cannot be read");
	if (n == 0)
		return ep_error_usage(err, -EINVAL, "no endpoint to read from");
	for (size_t i = 0; i < n; i++) {
		struct ep_error e = { 0 };
		ep_keyspace_object_release(ret);
		r = ep_kv_range_stream(c, endpoints[i], &o, timeout_ms, get_kv, ret, &page, &e);
		if (r == 0) {
			ret->endpoint = endpoints[i];
			break;
		}
		if (r == -ENOMEM && !ep_error_isset(&e))
			return ep_error_set(err, -ENOMEM, "out of memory");
		if (!ep_error_isset(&first))
			first = e;
		if (!retryable(r) || i + 1 == n) {
			if (err && !ep_error_isset(err))
				*err = retryable(r) ? first : e;
			return r;
		}
	}
	ret->revision = page.revision;
	if (!ret->key) {
		_cleanup_free_ char *k = ep_escape_bytes(key, key_len);
		return ep_error_set(err, -ENOENT, "no key '%s' at revision %" PRIu64, k ? k : "?",
				    page.revision);
	}
	ep_k8s_key_classify(ret->key, ret->key_len, etcd_prefix, &ret->where);
	ep_k8s_value_decode(ret->value, ret->value_seen, ret->value_len, &ret->what);
	return 0;
}
