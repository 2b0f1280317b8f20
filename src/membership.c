/*
 * membership.c - adding, removing and promoting members: the checks etcd
 * does not make (names and peer URLs fit to be written into a manifest,
 * duplicates among members that never started, NAME|ID ambiguity), the
 * quorum guards, where a change is sent, which refusals are worth waiting
 * out, and the promotion of a learner only once it has caught up.
 *
 * It owns the plan -> apply of one membership change and the ETCD_* set a
 * new member starts with.  It talks to etcd only through client.h (the
 * probe of client_health.c, MemberAdd/Remove/Promote, Status, one Range
 * and one Put for the names of unstarted members).  It must not print,
 * exit or decide exit codes, and must not wait without a deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/membership.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

#define CALL_MS_DEFAULT	 5000
#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS	 3200
#define POLL_MAX_MS	 1000
#define UNHEALTHY_POLL_MS 250
/* Long enough for etcd's clock to reach another whole second (see apply_add). */
#define SAME_SECOND_MS 1000
#define SAME_SECOND_TRIES 3
#define HINT_PREFIX	 "/etcdpilot/member-name/"
#define HINT_PREFIX_END	 "/etcdpilot/member-name0" /* '/' + 1 */

/* ------------------------------------------------------------------------ */
/* Escaped copies of strings for one message                                 */

#define ESC_MAX 8

struct esc {
	char *v[ESC_MAX];
	size_t n;
};

static void esc_release(struct esc *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
}

/* @s escaped for a message (NULL -> ""); valid until esc_release. */
static const char *esc(struct esc *e, const char *s)
{
	char *x = e->n < ESC_MAX ? ep_escape(s) : NULL;
	if (!x)
		return "(?)";
	e->v[e->n++] = x;
	return x;
}

static void err_copy(struct ep_error *err, const struct ep_error *e)
{
	if (err && !ep_error_isset(err))
		*err = *e;
}

static bool ascii_alnum(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool ascii_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

/* 12-16 hex digits, or "0x" and 1-16 hex digits: what an ID looks like. */
static bool looks_like_id(const char *s)
{
	size_t n = strlen(s);
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
		n -= 2;
		if (n < 1 || n > 16)
			return false;
	} else if (n < 12 || n > 16) {
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if (!ascii_hex((unsigned char)s[i]))
			return false;
	return true;
}

int ep_member_name_check(const char *name, struct ep_error *err)
{
	_cleanup_(esc_release) struct esc e = { 0 };
	char why[160] = "";

	if (!name || !*name)
		return ep_error_usage(err, -EINVAL,
				      "the member name is empty; give the node's name (letters, "
				      "digits, '-', '.' and '_')");
	size_t len = strlen(name);
	if (len > EP_MEMBER_NAME_MAX)
		snprintf(why, sizeof(why), "is %zu bytes long (at most %d)", len,
			 EP_MEMBER_NAME_MAX);
	for (size_t i = 0; !why[0] && i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (ascii_alnum(c) || c == '-' || c == '.' || c == '_')
			continue;
		if (c < 0x20 || c == 0x7f)
			snprintf(why, sizeof(why),
				 "holds a control character (byte 0x%02x at offset %zu)", c, i);
		else if (c == ' ')
			snprintf(why, sizeof(why), "holds whitespace (offset %zu)", i);
		else if (c == '/')
			snprintf(why, sizeof(why), "holds '/' (offset %zu)", i);
		else if (c == '\'' || c == '"' || c == '`')
			snprintf(why, sizeof(why), "holds a quote (offset %zu)", i);
		else if (c == '\\')
			snprintf(why, sizeof(why), "holds a backslash (offset %zu)", i);
		else if (c == '=' || c == ',')
			snprintf(why, sizeof(why),
				 "holds '%c', which breaks ETCD_INITIAL_CLUSTER (name=URL,...)",
				 c);
		else if (c >= 0x80)
			snprintf(why, sizeof(why), "holds a non-ASCII byte (offset %zu)", i);
		else
			snprintf(why, sizeof(why), "holds '%c' (offset %zu)", c, i);
	}
	if (!why[0] && !ascii_alnum((unsigned char)name[0]))
		snprintf(why, sizeof(why), "does not start with a letter or a digit");
	if (!why[0] && looks_like_id(name))
		snprintf(why, sizeof(why),
			 "looks like a member ID (hex digits), which 'member remove NAME|ID' "
			 "could not tell from one");
	if (!why[0])
		return 0;
	return ep_error_usage(
		err, -EINVAL,
		"member name '%s' %s; a name holds 1-%d letters, digits, '-', '.' and '_', starts "
		"with a letter or a digit and is not 12-16 hex digits (it goes into ETCD_NAME, "
		"the manifest or unit, and ETCD_INITIAL_CLUSTER)",
		esc(&e, name), why, EP_MEMBER_NAME_MAX);
}

/* ------------------------------------------------------------------------ */
/* Peer URLs                                                                 */

static const char *ipv4_refused(const struct in_addr *a)
{
	uint32_t v = ntohl(a->s_addr);
	if ((v >> 24) == 0)
		return "is an unspecified address (0.0.0.0/8): give the address the other members "
		       "reach this one on";
	if (v == 0xffffffffu)
		return "is the broadcast address";
	if ((v >> 28) == 0xe)
		return "is a multicast address";
	return NULL;
}

static const char *ipv6_refused(const struct in6_addr *a)
{
	if (IN6_IS_ADDR_UNSPECIFIED(a))
		return "is the unspecified address (::): give the address the other members reach "
		       "this one on";
	if (IN6_IS_ADDR_MULTICAST(a))
		return "is a multicast address";
	if (IN6_IS_ADDR_V4MAPPED(a)) {
		struct in_addr v4;
		memcpy(&v4, &a->s6_addr[12], 4);
		return ipv4_refused(&v4);
	}
	return NULL;
}

/* A DNS name: labels of letters, digits and '-', 1-63 bytes, not starting or ending with '-'. */
static bool dns_name_ok(const char *h)
{
	size_t label = 0;
	for (const char *p = h;; p++) {
		if (*p == '.' || !*p) {
			if (label == 0 || label > 63 || p[-1] == '-')
				return false;
			if (!*p)
				return true;
			label = 0;
			continue;
		}
		if (!ascii_alnum((unsigned char)*p) && !(*p == '-' && label > 0))
			return false;
		label++;
	}
}

/* What is wrong with "host:port" (the authority of a URL), or NULL. */
static const char *host_port_problem(const char *hp)
{
	char host[256];
	const char *port;
	size_t hl;

	if (hp[0] == '[') {
		const char *close = strchr(hp, ']');
		if (!close)
			return "has an unclosed '['";
		hl = (size_t)(close - hp - 1);
		if (hl == 0 || hl >= sizeof(host))
			return "has no valid IPv6 address in brackets";
		memcpy(host, hp + 1, hl);
		host[hl] = '\0';
		struct in6_addr a6;
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return "has no valid IPv6 address in brackets";
		const char *why = ipv6_refused(&a6);
		if (why)
			return why;
		if (close[1] != ':')
			return "has no port (give it explicitly, etcd's peer port is usually 2380)";
		port = close + 2;
	} else {
		const char *colon = strrchr(hp, ':');
		if (!colon)
			return "has no port (give it explicitly, etcd's peer port is usually 2380)";
		if (memchr(hp, ':', (size_t)(colon - hp)))
			return "has an IPv6 address without brackets (write https://[ADDR]:PORT)";
		hl = (size_t)(colon - hp);
		if (hl == 0)
			return "has no host";
		if (hl > EP_MEMBER_NAME_MAX)
			return "has a host name longer than 253 bytes";
		memcpy(host, hp, hl);
		host[hl] = '\0';
		port = colon + 1;
		if (strspn(host, "0123456789.") == hl) {
			struct in_addr a4;
			if (inet_pton(AF_INET, host, &a4) != 1)
				return "has an invalid IPv4 address";
			const char *why = ipv4_refused(&a4);
			if (why)
				return why;
		} else if (!dns_name_ok(host)) {
			return "has an invalid host name";
		}
	}
	size_t pl = strlen(port);
	if (pl == 0)
		return "has no port (give it explicitly, etcd's peer port is usually 2380)";
	if (pl > 5 || strspn(port, "0123456789") != pl)
		return "has an invalid port";
	long p = strtol(port, NULL, 10);
	if (p < 1 || p > 65535)
		return "has a port outside 1-65535";
	return NULL;
}

int ep_peer_url_check(const char *url, struct ep_error *err)
{
	_cleanup_(esc_release) struct esc e = { 0 };
	const char *why = NULL, *rest = NULL;

	if (!url || !*url)
		return ep_error_usage(err, -EINVAL,
				      "no peer URL given; write it as https://HOST:PORT");
	for (const unsigned char *p = (const unsigned char *)url; *p && !why; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			why = "holds a blank, a control character or a non-ASCII byte";
	if (why)
		;
	else if (!strncmp(url, "https://", 8))
		rest = url + 8;
	else if (!strncmp(url, "http://", 7))
		rest = url + 7;
	else
		why = strstr(url, "://") ? "has a scheme other than https:// or http://"
					 : "has no scheme (https:// or http://)";
	if (!why) {
		size_t alen = strcspn(rest, "/?#");
		if (rest[alen] == '/')
			why = "has a path (etcd takes none, not even '/')";
		else if (rest[alen])
			why = "has a query or a fragment";
		else if (memchr(rest, '@', alen))
			why = "holds user information ('@')";
		else
			why = host_port_problem(rest);
	}
	if (!why)
		return 0;
	return ep_error_usage(err, -EINVAL,
			      "peer URL '%s' %s; write it as https://HOST:PORT with the address "
			      "the other members reach this one on (e.g. https://10.0.0.12:2380)",
			      esc(&e, url), why);
}

int ep_peer_urls_parse(const char *list, struct ep_strv *ret, struct ep_error *err)
{
	_cleanup_(esc_release) struct esc e = { 0 };
	struct ep_strv got = { 0 };
	int r = 0;

	if (!list || !*list)
		return ep_error_usage(err, -EINVAL,
				      "no peer URL given; write it as https://HOST:PORT");
	for (const char *p = list;; p++) {
		size_t n = strcspn(p, ",");
		if (n == 0) {
			r = ep_error_usage(err, -EINVAL, "peer URL list '%s' has an empty item",
					   esc(&e, list));
			goto out;
		}
		_cleanup_free_ char *one = strndup(p, n);
		if (!one) {
			r = ep_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		if ((r = ep_peer_url_check(one, err)) < 0)
			goto out;
		if (ep_strv_contains(&got, one) || ep_strv_contains(ret, one)) {
			r = ep_error_usage(err, -EINVAL, "peer URL '%s' is given twice",
					   esc(&e, one));
			goto out;
		}
		if (ep_strv_push(&got, one) < 0) {
			r = ep_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		p += n;
		if (!*p)
			break;
	}
	for (size_t i = 0; i < got.n; i++)
		if (ep_strv_push(ret, got.v[i]) < 0) {
			while (i--) /* leave @ret as it was */
				free(ret->v[--ret->n]);
			r = ep_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
	r = (int)got.n;
out:
	ep_strv_release(&got);
	return r;
}

/* ------------------------------------------------------------------------ */
/* The initial cluster and the ETCD_* set                                    */

/* How member @m is called in ETCD_INITIAL_CLUSTER: its name if safe there, else its hex ID. */
static const char *initial_label(const struct ep_member *m, char hex[static 17])
{
	if (m->name && ep_member_name_check(m->name, NULL) == 0)
		return m->name;
	return ep_member_id_hex(m->id, hex);
}

static void add_peers(struct ep_strbuf *sb, const char *label, const struct ep_strv *urls)
{
	for (size_t k = 0; k < urls->n; k++)
		ep_strbuf_addf(sb, "%s%s=%s", sb->len ? "," : "", label, urls->v[k]);
}

int ep_initial_cluster(const struct ep_member_list *ml, const struct ep_member *added,
		       const char *name, char **ret, struct ep_error *err)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	char hex[17];
	bool seen = false;

	*ret = NULL;
	int r = ep_member_name_check(name, err);
	if (r < 0)
		return r;
	if (!added->peer_urls.n)
		return ep_error_set(err, -EINVAL, "member %s has no peer URL",
				    ep_member_id_hex(added->id, hex));
	for (size_t i = 0; ml && i < ml->n; i++) {
		const struct ep_member *m = &ml->v[i];
		bool self = m->id == added->id;
		seen |= self;
		add_peers(&sb, self ? name : initial_label(m, hex), &m->peer_urls);
	}
	if (!seen)
		add_peers(&sb, name, &added->peer_urls);
	if (!(*ret = ep_strbuf_detach(&sb, NULL)))
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

void ep_member_env_release(struct ep_member_env *env)
{
	if (!env)
		return;
	free(env->name);
	free(env->initial_cluster);
	free(env->advertise_peer_urls);
	memset(env, 0, sizeof(*env));
}

int ep_member_env_build(const struct ep_member_list *ml, const struct ep_member *added,
			const char *name, struct ep_member_env *ret, struct ep_error *err)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;

	memset(ret, 0, sizeof(*ret));
	int r = ep_initial_cluster(ml, added, name, &ret->initial_cluster, err);
	if (r < 0)
		return r;
	for (size_t k = 0; k < added->peer_urls.n; k++)
		ep_strbuf_addf(&sb, "%s%s", k ? "," : "", added->peer_urls.v[k]);
	ret->advertise_peer_urls = ep_strbuf_detach(&sb, NULL);
	ret->name = strdup(name);
	ret->cluster_state = "existing";
	if (!ret->advertise_peer_urls || !ret->name) {
		ep_member_env_release(ret);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Judgements on a probe                                                     */

static bool started_voter(const struct ep_member_health *m)
{
	return !m->member.is_learner && m->started && m->status_ok && m->endpoint;
}

const char *ep_membership_endpoint(const struct ep_health_report *hr, size_t concerned)
{
	const char *first = NULL;
	for (size_t i = 0; i < hr->n; i++) {
		const struct ep_member_health *m = &hr->v[i];
		if (i == concerned || !started_voter(m))
			continue;
		if (hr->list_endpoint &&
		    (!strcmp(m->endpoint, hr->list_endpoint) ||
		     ep_strv_contains(&m->member.client_urls, hr->list_endpoint)))
			return m->endpoint;
		if (!first)
			first = m->endpoint;
	}
	return first;
}

/* The member's name, else the name it was added under, else NULL. */
static const char *member_name(const struct ep_health_report *hr, char *const *hints, size_t i)
{
	if (hr->v[i].member.name)
		return hr->v[i].member.name;
	return hints ? hints[i] : NULL;
}

/*
 * "c1 (8e9e05c52164694d)", "c4 (8e9e..., never started)" or
 * "8e9e05c52164694d (never started)", escaped: the form the quorum guards use.
 */
static void describe(struct ep_strbuf *sb, const char *name, bool started, uint64_t id)
{
	char hex[17];
	ep_member_id_hex(id, hex);
	if (name) {
		ep_strbuf_add_escaped(sb, name, strlen(name));
		ep_strbuf_addf(sb, " (%s%s)", hex, started ? "" : ", never started");
	} else {
		ep_strbuf_addf(sb, "%s (never started)", hex);
	}
}

static void describe_idx(struct ep_strbuf *sb, const struct ep_health_report *hr,
			 char *const *hints, size_t i)
{
	describe(sb, member_name(hr, hints, i), hr->v[i].started, hr->v[i].member.id);
}

int ep_membership_lookup(const struct ep_health_report *hr, char *const *hints, const char *arg,
			 struct ep_error *err)
{
	_cleanup_(esc_release) struct esc e = { 0 };
	struct ep_strbuf sb = EP_STRBUF_INIT;
	size_t named = 0, first = SIZE_MAX, by_id = SIZE_MAX;
	uint64_t id;
	int r;

	if (!arg || !*arg)
		return ep_error_usage(err, -EINVAL, "no member given: NAME|ID is empty");
	for (size_t i = 0; i < hr->n; i++) {
		const char *n = member_name(hr, hints, i);
		if (n && !strcmp(n, arg) && !named++)
			first = i;
	}
	if (ep_member_id_parse(arg, &id) == 0)
		for (size_t i = 0; i < hr->n; i++)
			if (hr->v[i].member.id == id)
				by_id = i;
	if (named == 1 && (by_id == SIZE_MAX || by_id == first))
		return (int)first;
	if (named == 0 && by_id != SIZE_MAX)
		return (int)by_id;

	if (named == 0) {
		for (size_t i = 0; i < hr->n; i++) {
			ep_strbuf_adds(&sb, i ? ", " : "");
			describe_idx(&sb, hr, hints, i);
		}
		r = ep_error_set(err, -ENOENT, "no member named '%s' or with ID '%s'; members: %s",
				 esc(&e, arg), esc(&e, arg), hr->n ? ep_strbuf_str(&sb) : "(none)");
	} else {
		bool id_named = false;
		for (size_t i = 0, k = 0; i < hr->n; i++) {
			const char *n = member_name(hr, hints, i);
			if (!n || strcmp(n, arg))
				continue;
			id_named |= i == by_id;
			ep_strbuf_adds(&sb, k++ ? ", " : "");
			describe_idx(&sb, hr, hints, i);
		}
		if (by_id != SIZE_MAX && !id_named) {
			ep_strbuf_adds(&sb, " and the ID of ");
			describe_idx(&sb, hr, hints, by_id);
		}
		if (by_id == SIZE_MAX || id_named)
			r = ep_error_usage(err, -EINVAL,
					   "%zu members are named '%s' (%s); give the member's ID "
					   "instead",
					   named, esc(&e, arg), ep_strbuf_str(&sb));
		else
			r = ep_error_usage(err, -EINVAL,
					   "'%s' is ambiguous: it is the name of %s; give the ID "
					   "of the member you mean with 0x in front",
					   esc(&e, arg), ep_strbuf_str(&sb));
	}
	ep_strbuf_release(&sb);
	return r;
}

enum ep_change_class ep_change_classify(int r, const char *msg)
{
	if (r >= 0)
		return EP_CHANGE_OK;
	if (msg) {
		if (strstr(msg, "in sync with leader"))
			return EP_CHANGE_NOT_IN_SYNC;
		if (strstr(msg, "unhealthy cluster"))
			return EP_CHANGE_UNHEALTHY;
		if (strstr(msg, "request timed out"))
			return EP_CHANGE_UNKNOWN; /* proposed: it may still be applied */
		if (strstr(msg, "before the connection was up"))
			return EP_CHANGE_FAILED; /* our own timeout: nothing was sent */
		if (strstr(msg, "not supported for learner"))
			return EP_CHANGE_FAILED; /* sent to a learner: waiting will not help */
		if (strstr(msg, "no leader") || strstr(msg, "leader changed") ||
		    strstr(msg, "not leader") || strstr(msg, "too many requests") ||
		    strstr(msg, "proposal dropped"))
			return EP_CHANGE_RETRY;
	}
	switch (r) {
	case -EAGAIN:
		return EP_CHANGE_RETRY;
	case -ETIMEDOUT:
	case -ECONNRESET:
	case -ECANCELED:
		return EP_CHANGE_UNKNOWN;
	default:
		return EP_CHANGE_FAILED;
	}
}

const char *ep_change_class_name(enum ep_change_class c)
{
	static const char *const names[] = { "ok", "failed", "retry", "unhealthy",
					     "not-in-sync", "unknown" };
	return (size_t)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

bool ep_learner_caught_up(uint64_t learner_index, uint64_t leader_index)
{
	return leader_index && learner_index >= leader_index - leader_index / 10;
}

const char *ep_member_action_name(enum ep_member_action a)
{
	static const char *const names[] = { "add", "reuse", "remove", "promote" };
	return (size_t)a < sizeof(names) / sizeof(names[0]) ? names[a] : "?";
}

/* ------------------------------------------------------------------------ */
/* Duplicates                                                                */

static const char *shared_url(const struct ep_strv *have, const char *const *urls, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (ep_strv_contains(have, urls[k]))
			return urls[k];
	return NULL;
}

static bool same_urls(const struct ep_strv *have, const char *const *urls, size_t n)
{
	if (have->n != n)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!ep_strv_contains(have, urls[k]))
			return false;
	return true;
}

/* The refusal for a conflict with member @i (usage, -EEXIST). */
static int conflict_error(const struct ep_health_report *hr, char *const *hints, size_t i,
			  const struct ep_add_request *req, struct ep_error *err)
{
	_cleanup_(esc_release) struct esc e = { 0 };
	const struct ep_member_health *mh = &hr->v[i];
	const struct ep_member *m = &mh->member;
	const char *hint = !m->name && hints ? hints[i] : NULL;
	const char *shared = shared_url(&m->peer_urls, req->peer_urls, req->n_peer_urls);
	const char *alt = req->offer_replace ? "; or run join again with --replace to remove it "
					       "first" : "";
	char hex[17];
	int r;

	ep_member_id_hex(m->id, hex);
	/* A member with a name has started at some point, client URLs or not. */
	if (m->name && mh->status_ok) {
		if (!strcmp(m->name, req->name))
			return ep_error_usage(err, -EEXIST,
					      "a member named '%s' already exists and is running "
					      "(%s, answers at %s); pick another name, or, if this "
					      "node is to take its place, run 'etcdpilot reset' on "
					      "its node first",
					      esc(&e, req->name), hex, esc(&e, mh->endpoint));
		return ep_error_usage(err, -EEXIST,
				      "peer URL '%s' already belongs to member '%s' (%s), which is "
				      "running (answers at %s); use another address, or, if this "
				      "node is to take its place, run 'etcdpilot reset' on its node "
				      "first",
				      esc(&e, shared), esc(&e, member_name(hr, hints, i)), hex,
				      esc(&e, mh->endpoint));
	}
	if (m->name && !strcmp(m->name, req->name))
		r = ep_error_usage(err, -EEXIST,
				   "a member named '%s' already exists and has started (%s), but "
				   "does not answer: %s; if its node is gone for good or was "
				   "rebuilt as this one, remove it first ('etcdpilot member remove "
				   "--dead 0x%s')%s",
				   esc(&e, req->name), hex,
				   esc(&e, mh->error ? mh->error : "no client URL"), hex, alt);
	else if (m->name)
		r = ep_error_usage(err, -EEXIST,
				   "peer URL '%s' already belongs to member '%s' (%s), which has "
				   "started but does not answer: %s; use another address, or, if "
				   "its node is gone for good or was rebuilt as this one, remove it "
				   "first ('etcdpilot member remove --dead 0x%s')%s",
				   esc(&e, shared), esc(&e, member_name(hr, hints, i)), hex,
				   esc(&e, mh->error ? mh->error : "no client URL"), hex, alt);
	else if (hint && !strcmp(hint, req->name))
		r = ep_error_usage(err, -EEXIST,
				   "a member was already added as '%s' (%s, peer URL '%s') and "
				   "has not started; start it with the ETCD_* settings printed "
				   "when it was added, or remove it first ('etcdpilot member "
				   "remove 0x%s')%s",
				   esc(&e, req->name), hex,
				   esc(&e, m->peer_urls.n ? m->peer_urls.v[0] : ""), hex, alt);
	else
		r = ep_error_usage(err, -EEXIST,
				   "peer URL '%s' already belongs to member %s, %s%s%s, which has "
				   "not started; start it, or remove it first ('etcdpilot member "
				   "remove 0x%s')%s",
				   esc(&e, shared), hex,
				   hint ? "added as '" : "added without a name",
				   hint ? esc(&e, hint) : "", hint ? "'" : "", hex, alt);
	return r;
}

int ep_membership_add_check(const struct ep_health_report *hr, char *const *hints,
			    const struct ep_add_request *req, size_t *ret_reuse,
			    size_t *ret_replace, struct ep_error *err)
{
	size_t conflict = SIZE_MAX, second = SIZE_MAX;

	*ret_reuse = *ret_replace = SIZE_MAX;
	for (size_t i = 0; i < hr->n; i++) {
		const struct ep_member_health *mh = &hr->v[i];
		const struct ep_member *m = &mh->member;
		const char *name = member_name(hr, hints, i);
		bool same_name = name && !strcmp(name, req->name);
		if (!same_name && !shared_url(&m->peer_urls, req->peer_urls, req->n_peer_urls))
			continue;
		if (!mh->started && !m->name && req->reuse && (!name || same_name) &&
		    same_urls(&m->peer_urls, req->peer_urls, req->n_peer_urls)) {
			*ret_reuse = i;
			continue;
		}
		if (conflict == SIZE_MAX)
			conflict = i;
		else
			second = i;
	}
	if (conflict == SIZE_MAX)
		return 0;
	if (second != SIZE_MAX) {
		_cleanup_(esc_release) struct esc e = { 0 };
		struct ep_strbuf sb = EP_STRBUF_INIT;
		describe_idx(&sb, hr, hints, conflict);
		ep_strbuf_adds(&sb, " and ");
		describe_idx(&sb, hr, hints, second);
		int r = ep_error_usage(err, -EEXIST,
				       "the name '%s' and the peer URLs of the new member clash "
				       "with two members, %s; remove them first",
				       esc(&e, req->name), ep_strbuf_str(&sb));
		ep_strbuf_release(&sb);
		*ret_reuse = SIZE_MAX;
		return r;
	}
	if (!req->replace) {
		*ret_reuse = SIZE_MAX;
		return conflict_error(hr, hints, conflict, req, err);
	}
	if (hr->v[conflict].status_ok) {
		_cleanup_(esc_release) struct esc e = { 0 };
		char hex[17];
		ep_member_id_hex(hr->v[conflict].member.id, hex);
		int r = ep_error_set(err, -EBUSY,
				     "--replace: member '%s' (%s) answers at %s: it is running, and "
				     "--replace takes the place only of a member that is down "
				     "(removing a running member stops its etcd for good); pick "
				     "another name or address, or run 'etcdpilot reset' on its node "
				     "first",
				     esc(&e, member_name(hr, hints, conflict) ?
						     member_name(hr, hints, conflict) : "?"), hex,
				     esc(&e, hr->v[conflict].endpoint));
		*ret_reuse = SIZE_MAX;
		return r;
	}
	*ret_replace = conflict;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Plans                                                                     */

void ep_member_plan_release(struct ep_member_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n_steps; i++) {
		free(plan->steps[i].name);
		ep_strv_release(&plan->steps[i].peer_urls);
		free(plan->steps[i].summary);
	}
	free(plan->steps);
	for (size_t i = 0; plan->hints && i < plan->report.n; i++)
		free(plan->hints[i]);
	free(plan->hints);
	free(plan->endpoint);
	ep_health_report_release(&plan->report);
	memset(plan, 0, sizeof(*plan));
}

/* One call's timeout: the access's cap, never past the deadline (and never 0: "default"). */
static uint64_t call_ms(const struct ep_cluster_access *ca)
{
	uint64_t cap = ca->call_timeout_ms ? ca->call_timeout_ms : CALL_MS_DEFAULT;
	uint64_t left = ep_ms_left(ca->deadline_ms);
	if (left < cap)
		return left ? left : 1;
	return cap;
}

/*
 * The recorded names of members that never started (best effort, and only
 * when some member has not started).  Linearizable when the probe saw a
 * leader, so that a name recorded a moment ago through another member is
 * seen; serializable otherwise, which needs no quorum and cannot hang.
 */
static void hints_read(const struct ep_cluster_access *ca, struct ep_member_plan *plan)
{
	const struct ep_health_report *hr = &plan->report;
	const char *ep = ep_membership_endpoint(hr, SIZE_MAX);
	struct ep_range_result rr = { 0 };
	bool wanted = false;

	for (size_t i = 0; i < hr->n; i++)
		wanted |= !hr->v[i].member.name;
	if (!wanted) {
		plan->hints_read = true;
		return;
	}
	if (!ep)
		return;
	ep_client_set_timeout(ca->client, call_ms(ca));
	if (ep_kv_range(ca->client, ep, HINT_PREFIX, strlen(HINT_PREFIX), HINT_PREFIX_END,
			strlen(HINT_PREFIX_END), hr->leader == 0, false, 0, &rr, NULL) < 0)
		return;
	for (size_t k = 0; k < rr.n; k++) {
		const struct ep_keyvalue *kv = &rr.kvs[k];
		uint64_t id;
		const char *value = (const char *)kv->value;
		if (kv->key_len <= strlen(HINT_PREFIX) || !value ||
		    strlen(value) != kv->value_len || ep_member_name_check(value, NULL) < 0 ||
		    ep_member_id_parse((const char *)kv->key + strlen(HINT_PREFIX), &id) < 0)
			continue;
		for (size_t i = 0; i < hr->n; i++)
			if (hr->v[i].member.id == id && !hr->v[i].member.name && !plan->hints[i])
				plan->hints[i] = strdup(value); /* ENOMEM: just no hint */
	}
	ep_range_result_release(&rr);
	plan->hints_read = true;
}

/* Probe the cluster (status only) and read the names of unstarted members. */
/*
 * No member names a leader that is still a member, while enough voters are
 * started for one: an election is under way (the leader was just removed or
 * stopped).  A change
 * proposed now is dropped by raft and only times out ("may still be
 * applied"), so the plan waits for the new leader instead.
 */
static bool electing(const struct ep_health_report *hr)
{
	size_t voters = 0, started = 0;
	bool leads = false; /* a removed leader is still named until the election */
	for (size_t i = 0; i < hr->n; i++) {
		leads |= hr->leader && hr->v[i].member.id == hr->leader;
		if (!hr->v[i].member.is_learner) {
			voters++;
			started += started_voter(&hr->v[i]);
		}
	}
	return !leads && voters && started >= voters / 2 + 1;
}

#define ELECTION_POLL_MS 200
#define ELECTION_WAIT_MS 10000 /* ten of etcd's default election timeouts */

static int plan_probe(const struct ep_cluster_access *ca, struct ep_member_plan *plan,
		      struct ep_error *err)
{
	int r = ep_health_probe(ca->client, ca->endpoints, ca->n_endpoints, call_ms(ca),
				EP_HEALTH_STATUS_ONLY, &plan->report, err);
	if (r < 0)
		return r;
	uint64_t until = ep_now_ms() + ELECTION_WAIT_MS;
	while (electing(&plan->report) && ep_ms_left(ca->deadline_ms) > 2 * ELECTION_POLL_MS &&
	       ep_now_ms() < until) {
		struct ep_health_report again = { 0 };
		ep_sleep_ms(ELECTION_POLL_MS);
		if (ep_health_probe(ca->client, ca->endpoints, ca->n_endpoints, call_ms(ca),
				    EP_HEALTH_STATUS_ONLY, &again, NULL) < 0) {
			ep_health_report_release(&again);
			break; /* the first answer stands; the change says what it meets */
		}
		ep_health_report_release(&plan->report);
		plan->report = again;
	}
	plan->cluster_id = plan->report.cluster_id;
	/*
	 * A change goes through the first endpoint given (the one the user
	 * named) when it is a started voter that answered, rather than through
	 * whichever endpoint happened to answer the member list first.
	 */
	for (size_t i = 0; ca->n_endpoints && i < plan->report.n; i++) {
		const struct ep_member_health *m = &plan->report.v[i];
		if (!started_voter(m) || (strcmp(m->endpoint, ca->endpoints[0]) &&
					  !ep_strv_contains(&m->member.client_urls, ca->endpoints[0])))
			continue;
		char *first = strdup(m->endpoint);
		if (!first)
			return ep_error_set(err, -ENOMEM, "out of memory");
		free(plan->report.list_endpoint);
		plan->report.list_endpoint = first;
		break;
	}
	if (plan->report.n && !(plan->hints = calloc(plan->report.n, sizeof(char *))))
		return ep_error_set(err, -ENOMEM, "out of memory");
	hints_read(ca, plan);
	return 0;
}

/* Append a step; its summary is built by the caller into step->summary. */
static struct ep_member_step *step_push(struct ep_member_plan *plan, enum ep_member_action a,
					uint64_t id, const char *name, const char *const *urls,
					size_t n, bool learner, size_t idx)
{
	struct ep_member_step *nv = realloc(plan->steps, (plan->n_steps + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	plan->steps = nv;
	struct ep_member_step *st = &nv[plan->n_steps];
	memset(st, 0, sizeof(*st));
	st->action = a;
	st->id = id;
	st->learner = learner;
	st->idx = idx;
	plan->n_steps++;
	if (name && !(st->name = strdup(name)))
		return NULL;
	for (size_t k = 0; k < n; k++)
		if (ep_strv_push(&st->peer_urls, urls[k]) < 0)
			return NULL;
	return st;
}

/* A step about member @i of the report. */
static struct ep_member_step *step_member(struct ep_member_plan *plan, enum ep_member_action a,
					  size_t i)
{
	const struct ep_member_health *mh = &plan->report.v[i];
	struct ep_member_step *st =
		step_push(plan, a, mh->member.id, member_name(&plan->report, plan->hints, i),
			  (const char *const *)mh->member.peer_urls.v, mh->member.peer_urls.n,
			  mh->member.is_learner, i);
	if (st)
		st->dead = !mh->status_ok;
	return st;
}

static void add_escaped(struct ep_strbuf *sb, const char *s)
{
	ep_strbuf_add_escaped(sb, s, strlen(s));
}

/*
 * The one-line summary of @st, names and URLs escaped; the remove and
 * promote lines are the ones 'member remove|promote --dry-run' always
 * printed after "would ".
 */
static int step_summarize(struct ep_member_plan *plan, struct ep_member_step *st,
			  struct ep_error *err)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	const struct ep_member_health *mh =
		st->idx < plan->report.n ? &plan->report.v[st->idx] : NULL;
	char hex[17];

	ep_member_id_hex(st->id, hex);
	ep_strbuf_addf(&sb, "%s member ", ep_member_action_name(st->action));
	if (st->action == EP_STEP_REUSE) {
		ep_strbuf_addf(&sb, "%s (added earlier, never started) as '", hex);
		add_escaped(&sb, st->name);
		ep_strbuf_adds(&sb, "'");
	} else {
		ep_strbuf_addch(&sb, '\'');
		add_escaped(&sb, st->name ? st->name : "unstarted");
		if (st->action == EP_STEP_ADD)
			ep_strbuf_addf(&sb, "' (%s)", st->learner ? "learner" : "voter");
		else
			ep_strbuf_addf(&sb, "' (%s)", hex);
	}
	if (st->action == EP_STEP_ADD || st->action == EP_STEP_REUSE) {
		ep_strbuf_adds(&sb, " with peer URLs ");
		for (size_t k = 0; k < st->peer_urls.n; k++) {
			ep_strbuf_adds(&sb, k ? "," : "");
			add_escaped(&sb, st->peer_urls.v[k]);
		}
	}
	if (st->action != EP_STEP_REUSE) {
		ep_strbuf_adds(&sb, " through ");
		add_escaped(&sb, plan->endpoint);
	}
	if (st->action == EP_STEP_REMOVE && st->dead && mh) {
		ep_strbuf_adds(&sb, "; it does not answer: ");
		add_escaped(&sb, mh->error ? mh->error : "no answer");
	}
	if (!(st->summary = ep_strbuf_detach(&sb, NULL)))
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* A guard's verdict @r (@why): refused unless @force, then plan->unsafe says why. */
static int guard(struct ep_member_plan *plan, int r, const struct ep_error *why, bool force,
		 const char *what, struct ep_error *err)
{
	if (r >= 0)
		return 0;
	if (!force) {
		err_copy(err, why);
		return r;
	}
	ep_error_set(&plan->unsafe, r, "%s although it is unsafe: %s", what, why->msg);
	return 0;
}

static int plan_endpoint(struct ep_member_plan *plan, const char *ep, struct ep_error *err)
{
	if (!(plan->endpoint = strdup(ep)))
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* Summaries for every step, once the endpoint is known. */
static int plan_finish(struct ep_member_plan *plan, struct ep_error *err)
{
	for (size_t i = 0; i < plan->n_steps; i++) {
		int r = step_summarize(plan, &plan->steps[i], err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int no_voter(const struct ep_member_plan *plan, const char *what, struct ep_error *err)
{
	_cleanup_(esc_release) struct esc e = { 0 };
	return ep_error_set(err, -EHOSTUNREACH,
			    "no started voting member answers (asked %s, %zu members known); "
			    "cannot %s; check 'etcdpilot health'",
			    esc(&e, plan->report.list_endpoint), plan->report.n, what);
}

int ep_membership_plan_add(const struct ep_cluster_access *ca, const struct ep_add_request *req,
			   struct ep_member_plan *ret, struct ep_error *err)
{
	struct ep_error why = { 0 };
	size_t reuse, replace;
	int r;

	memset(ret, 0, sizeof(*ret));
	if ((r = ep_member_name_check(req->name, err)) < 0)
		return r;
	if (!req->n_peer_urls)
		return ep_error_usage(err, -EINVAL,
				      "no peer URL given; write it as https://HOST:PORT");
	for (size_t k = 0; k < req->n_peer_urls; k++) {
		if ((r = ep_peer_url_check(req->peer_urls[k], err)) < 0)
			return r;
		for (size_t j = 0; j < k; j++)
			if (!strcmp(req->peer_urls[j], req->peer_urls[k])) {
				_cleanup_(esc_release) struct esc e = { 0 };
				return ep_error_usage(err, -EINVAL, "peer URL '%s' is given twice",
						      esc(&e, req->peer_urls[k]));
			}
	}
	if ((r = plan_probe(ca, ret, err)) < 0 ||
	    (r = ep_membership_add_check(&ret->report, ret->hints, req, &reuse, &replace, err)) < 0)
		goto fail;
	const char *ep = ep_membership_endpoint(&ret->report, replace);
	if (!ep) {
		r = no_voter(ret, "add a member", err);
		goto fail;
	}
	if ((r = plan_endpoint(ret, ep, err)) < 0)
		goto fail;
	if (replace != SIZE_MAX) {
		r = ep_quorum_check_remove(&ret->report, replace, &why);
		if ((r = guard(ret, r, &why, req->force, "removing a voting member", err)) < 0)
			goto fail;
		if (!step_member(ret, EP_STEP_REMOVE, replace))
			goto oom;
	}
	if (reuse != SIZE_MAX) {
		struct ep_member_step *st = step_member(ret, EP_STEP_REUSE, reuse);
		if (!st)
			goto oom;
		free(st->name);
		if (!(st->name = strdup(req->name)))
			goto oom;
	} else {
		/* Judged on the cluster as it will be when the replaced member is gone. */
		struct ep_health_report view = ret->report;
		_cleanup_free_ struct ep_member_health *v = NULL;
		if (replace != SIZE_MAX) {
			if (!(v = calloc(view.n, sizeof(*v))))
				goto oom;
			for (size_t i = 0, k = 0; i < view.n; i++)
				if (i != replace)
					v[k++] = ret->report.v[i]; /* shallow: not released */
			view.v = v;
			view.n--;
		}
		ep_error_clear(&why);
		r = ep_quorum_check_add(&view, req->learner, &why);
		if ((r = guard(ret, r, &why, req->force, "adding a voting member", err)) < 0)
			goto fail;
		if (!step_push(ret, EP_STEP_ADD, 0, req->name, req->peer_urls, req->n_peer_urls,
			       req->learner, SIZE_MAX))
			goto oom;
	}
	if ((r = plan_finish(ret, err)) < 0)
		goto fail;
	return 0;
oom:
	r = ep_error_set(err, -ENOMEM, "out of memory");
fail:
	ep_member_plan_release(ret);
	return r;
}

int ep_membership_plan_remove(const struct ep_cluster_access *ca, const char *arg, unsigned flags,
			      struct ep_member_plan *ret, struct ep_error *err)
{
	_cleanup_(esc_release) struct esc e = { 0 };
	struct ep_error why = { 0 };
	struct ep_strbuf sb = EP_STRBUF_INIT;
	bool force = flags & EP_REMOVE_FORCE;
	int r, idx;

	memset(ret, 0, sizeof(*ret));
	if (!arg || !*arg)
		return ep_membership_lookup(&ret->report, NULL, arg, err);
	if ((r = plan_probe(ca, ret, err)) < 0 ||
	    (r = idx = ep_membership_lookup(&ret->report, ret->hints, arg, err)) < 0)
		goto fail;
	const struct ep_member_health *mh = &ret->report.v[idx];
	describe_idx(&sb, &ret->report, ret->hints, (size_t)idx);
	if ((flags & EP_REMOVE_DEAD) && mh->status_ok) {
		r = ep_error_set(err, -EBUSY,
				 "member %s answers at %s: it is not dead; remove it without "
				 "--dead (the quorum guard applies), or run 'etcdpilot reset' on "
				 "its node",
				 ep_strbuf_str(&sb), esc(&e, mh->endpoint));
		goto fail;
	}
	r = ep_quorum_check_remove(&ret->report, (size_t)idx, &why);
	if ((r = guard(ret, r, &why, force, "removing a voting member", err)) < 0)
		goto fail;
	const char *ep = ep_membership_endpoint(&ret->report, (size_t)idx);
	if (!ep && force && mh->status_ok && !mh->member.is_learner)
		ep = mh->endpoint; /* --force, and nobody else answers: through itself */
	if (!ep) {
		r = ep_error_set(err, -EBUSY,
				 "no voting member other than %s answers; cannot remove it "
				 "through itself",
				 ep_strbuf_str(&sb));
		goto fail;
	}
	if ((r = plan_endpoint(ret, ep, err)) < 0)
		goto fail;
	if (!step_member(ret, EP_STEP_REMOVE, (size_t)idx)) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = plan_finish(ret, err)) < 0)
		goto fail;
	ep_strbuf_release(&sb);
	return 0;
fail:
	ep_strbuf_release(&sb);
	ep_member_plan_release(ret);
	return r;
}

int ep_membership_plan_promote(const struct ep_cluster_access *ca, const char *arg,
			       struct ep_member_plan *ret, struct ep_error *err)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	int r, idx;

	memset(ret, 0, sizeof(*ret));
	if (!arg || !*arg)
		return ep_membership_lookup(&ret->report, NULL, arg, err);
	if ((r = plan_probe(ca, ret, err)) < 0 ||
	    (r = idx = ep_membership_lookup(&ret->report, ret->hints, arg, err)) < 0)
		goto fail;
	const struct ep_member *m = &ret->report.v[idx].member;
	if (!m->is_learner) {
		char hex[17];
		_cleanup_(esc_release) struct esc e = { 0 };
		r = ep_error_usage(err, -EINVAL, "member '%s' (%s) is already a voting member",
				   esc(&e, m->name ? m->name : "unstarted"),
				   ep_member_id_hex(m->id, hex));
		goto fail;
	}
	const char *ep = ep_membership_endpoint(&ret->report, (size_t)idx);
	if (!ep) {
		describe_idx(&sb, &ret->report, ret->hints, (size_t)idx);
		r = ep_error_set(err, -EHOSTUNREACH, "no voting member answers; cannot promote %s",
				 ep_strbuf_str(&sb));
		goto fail;
	}
	if ((r = plan_endpoint(ret, ep, err)) < 0)
		goto fail;
	if (!step_member(ret, EP_STEP_PROMOTE, (size_t)idx)) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto fail;
	}
	if ((r = plan_finish(ret, err)) < 0)
		goto fail;
	return 0;
fail:
	ep_strbuf_release(&sb);
	ep_member_plan_release(ret);
	return r;
}

/* ------------------------------------------------------------------------ */
/* Apply                                                                     */

char *ep_membership_progress_line(const struct ep_membership_progress *p)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	const char *name = p->member_name ? p->member_name : "unstarted";
	char hex[17];

	ep_member_id_hex(p->member_id, hex);
	if (p->phase == EP_PHASE_RETRY) {
		ep_strbuf_addf(&sb,
			       "[member] etcd refused for now, trying again in %" PRIu64 " ms: ",
			       p->retry_in_ms);
		add_escaped(&sb, p->reason ? p->reason : "");
		return ep_strbuf_detach(&sb, NULL);
	}
	ep_strbuf_adds(&sb, p->phase == EP_PHASE_WAIT_START ? "[member] waiting for '"
							    : "[member] learner '");
	add_escaped(&sb, name);
	if (p->phase == EP_PHASE_WAIT_START) {
		ep_strbuf_addf(&sb, "' (%s): ", hex);
		add_escaped(&sb, p->reason ? p->reason : "not started");
		if (p->elapsed_ms >= 1000) /* repeated lines say how long it has been */
			ep_strbuf_addf(&sb, "; %" PRIu64 " s so far", p->elapsed_ms / 1000);
	} else {
		ep_strbuf_addf(&sb, "' (%s) %s: applied index %" PRIu64 " of the leader's %" PRIu64,
			       hex,
			       p->phase == EP_PHASE_CAUGHT_UP ? "caught up, promoting"
							      : "catching up",
			       p->learner_index, p->leader_index);
	}
	return ep_strbuf_detach(&sb, NULL);
}

void ep_member_result_release(struct ep_member_result *res)
{
	if (!res)
		return;
	ep_member_release(&res->member);
	free(res->name);
	ep_member_list_release(&res->members);
	ep_strv_release(&res->warnings);
	memset(res, 0, sizeof(*res));
}

struct run {
	const struct ep_cluster_access *ca;
	const struct ep_member_plan *plan;
	const struct ep_member_step *st;
	struct ep_member_result *res;
	uint64_t t0;
};

static uint64_t elapsed(const struct run *run)
{
	return ep_now_ms() - run->t0;
}

static void progress(const struct run *run, struct ep_membership_progress *p)
{
	if (!run->ca->progress)
		return;
	p->member_id = run->st->id;
	p->member_name = run->st->name;
	p->elapsed_ms = elapsed(run);
	run->ca->progress(run->ca->progress_userdata, p);
}

/* The current member list from any endpoint, into @ml (zeroed). */
static int list_now(const struct run *run, struct ep_member_list *ml, struct ep_error *err)
{
	ep_client_set_timeout(run->ca->client, call_ms(run->ca));
	int r = ep_member_list_any(run->ca->client, run->ca->endpoints, run->ca->n_endpoints, ml,
				   err);
	return r < 0 ? r : 0;
}

/*
 * After "unhealthy cluster": probe.  A voter other than @concerned that does
 * not answer makes the refusal real: @e gets the explanation and its code
 * is returned.  0 when every voter answers (or the probe cannot tell).
 */
static int unhealthy_real(const struct run *run, uint64_t concerned, struct ep_error *e)
{
	_cleanup_(esc_release) struct esc es = { 0 };
	struct ep_health_report rep = { 0 };
	struct ep_strbuf down = EP_STRBUF_INIT, first = EP_STRBUF_INIT;
	size_t away = 0;
	char hex[17];

	if (ep_health_probe(run->ca->client, run->ca->endpoints, run->ca->n_endpoints,
			    call_ms(run->ca), EP_HEALTH_STATUS_ONLY, &rep, NULL) < 0)
		return 0;
	for (size_t i = 0; i < rep.n; i++) {
		const struct ep_member_health *m = &rep.v[i];
		if (m->member.is_learner || m->status_ok || m->member.id == concerned)
			continue;
		ep_strbuf_adds(&down, away ? "; " : "");
		describe(&down, m->member.name, m->started, m->member.id);
		ep_strbuf_adds(&down, ": ");
		ep_strbuf_add_escaped(&down, m->error ? m->error : "no answer",
				      strlen(m->error ? m->error : "no answer"));
		if (away++)
			continue;
		if (m->member.name && ep_member_name_check(m->member.name, NULL) == 0)
			ep_strbuf_adds(&first, m->member.name);
		else
			ep_strbuf_addf(&first, "0x%s", ep_member_id_hex(m->member.id, hex));
	}
	ep_health_report_release(&rep);
	if (away)
		ep_error_prefix(e,
				"etcd refuses membership changes while a voting member is "
				"unreachable (%zu voter%s down here: %s); etcd 3.4 and 3.5 "
				"(before 3.5.30) refuse every membership change, learners "
				"included, until every voting member has been connected for 5 s: "
				"remove the dead member first ('etcdpilot member remove --dead "
				"%s'), then try again",
				away, away == 1 ? " is" : "s are", ep_strbuf_str(&down),
				esc(&es, ep_strbuf_str(&first)));
	ep_strbuf_release(&down);
	ep_strbuf_release(&first);
	return away ? e->code : 0;
}

typedef int (*change_fn)(const struct run *run, struct ep_error *err);

static int call_add(const struct run *run, struct ep_error *err)
{
	return ep_member_add(run->ca->client, run->plan->endpoint,
			     (const char *const *)run->st->peer_urls.v, run->st->peer_urls.n,
			     run->st->learner, &run->res->member, &run->res->members, err);
}

static int call_remove(const struct run *run, struct ep_error *err)
{
	return ep_member_remove(run->ca->client, run->plan->endpoint, run->st->id,
				&run->res->members, err);
}

static int call_promote(const struct run *run, struct ep_error *err)
{
	return ep_member_promote(run->ca->client, run->plan->endpoint, run->st->id,
				 &run->res->members, err);
}

/*
 * One attempt of @fn, then what to do: 0 done; > 0 wait that many ms and
 * try again (progress reported); < 0 give up with @err set (*@ret_class
 * says how it failed).
 */
static int attempt(const struct run *run, change_fn fn, uint64_t concerned, uint64_t *backoff,
		   enum ep_change_class *ret_class, struct ep_error *err)
{
	struct ep_error e = { 0 };

	ep_member_release(&run->res->member);
	ep_member_list_release(&run->res->members);
	ep_client_set_timeout(run->ca->client, call_ms(run->ca));
	if (run->ca->before_change) {
		int b = run->ca->before_change(run->ca->change_userdata, run->st, err);
		if (b < 0) {
			*ret_class = EP_CHANGE_FAILED;
			return b;
		}
	}
	int r = fn(run, &e);
	enum ep_change_class cls = *ret_class = ep_change_classify(r, e.msg);
	if (cls == EP_CHANGE_OK)
		return 0;
	if (cls == EP_CHANGE_UNHEALTHY && unhealthy_real(run, concerned, &e) < 0)
		cls = *ret_class = EP_CHANGE_FAILED;
	if (cls == EP_CHANGE_FAILED || cls == EP_CHANGE_UNKNOWN) {
		err_copy(err, &e);
		return r;
	}
	uint64_t wait = *backoff;
	/*
	 * "unhealthy cluster" with every voter answering is etcd's 5 s rule
	 * after a member joined or restarted: it ends at a moment the backoff
	 * would overshoot by seconds, so ask again soon, at a steady pace.
	 */
	if (cls == EP_CHANGE_UNHEALTHY)
		wait = UNHEALTHY_POLL_MS;
	if (ep_ms_left(run->ca->deadline_ms) <= wait) {
		err_copy(err, &e);
		return ep_error_prefix(err,
				       "still refused after %" PRIu64 " ms; retry later or "
				       "give a longer --timeout",
				       elapsed(run));
	}
	struct ep_membership_progress p = {
		.phase = EP_PHASE_RETRY,
		/* (every voter answered: unhealthy_real let it pass) */
		.reason = cls == EP_CHANGE_UNHEALTHY
				  ? "every voting member answers, but etcd takes no membership "
				    "change until each has been connected for 5 s (one joined or "
				    "restarted a moment ago)"
				  : e.msg,
		.retry_in_ms = wait
	};
	progress(run, &p);
	if (cls != EP_CHANGE_UNHEALTHY)
		*backoff = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
	return (int)wait;
}

static int change_retry(const struct run *run, change_fn fn, uint64_t concerned,
			enum ep_change_class *ret_class, struct ep_error *err)
{
	uint64_t backoff = BACKOFF_FIRST_MS;
	for (;;) {
		int r = attempt(run, fn, concerned, &backoff, ret_class, err);
		if (r <= 0)
			return r;
		ep_sleep_ms((uint64_t)r);
	}
}

/* Record @name for member @id (so that a second add under it is caught before it starts). */
static void hint_write(const struct run *run, uint64_t id, const char *name)
{
	_cleanup_(esc_release) struct esc e = { 0 };
	struct ep_error perr = { 0 };
	char key[64], hex[17];

	snprintf(key, sizeof(key), "%s%s", HINT_PREFIX, ep_member_id_hex(id, hex));
	ep_client_set_timeout(run->ca->client, call_ms(run->ca));
	if (ep_kv_put(run->ca->client, run->plan->endpoint, key, strlen(key), name, strlen(name),
		      NULL, &perr) == 0)
		return;
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_strbuf_addf(&sb,
		       "the name '%s' of member %s could not be recorded under '%s' (%s); a "
		       "second add under this name will not be caught before the member starts",
		       esc(&e, name), hex, key, perr.msg);
	if (!ep_strbuf_oom(&sb))
		ep_strv_push(&run->res->warnings, ep_strbuf_str(&sb));
	ep_strbuf_release(&sb);
}

/*
 * After an unknown outcome (@lost): does the member list show the change
 * applied?  Then 0 with a warning; else @lost into @err, saying so.
 */
static int settle(const struct run *run,
		  bool (*applied)(const struct run *run, const struct ep_member_list *ml),
		  const struct ep_error *lost, struct ep_error *err)
{
	struct ep_member_list ml = { 0 };
	int r = list_now(run, &ml, NULL);
	if (r == 0 && applied(run, &ml)) {
		struct ep_strbuf sb = EP_STRBUF_INIT;
		ep_strbuf_addf(&sb,
			       "etcd's answer was lost (%s), but the member list shows the change "
			       "applied",
			       lost->msg);
		ep_member_list_release(&run->res->members);
		run->res->members = ml;
		if (!ep_strbuf_oom(&sb))
			ep_strv_push(&run->res->warnings, ep_strbuf_str(&sb));
		ep_strbuf_release(&sb);
		return 0;
	}
	ep_member_list_release(&ml);
	err_copy(err, lost);
	ep_error_prefix(err, "the change may still be applied; check 'etcdpilot member list' "
			     "before trying again");
	return lost->code;
}

static const struct ep_member *by_urls(const struct run *run, const struct ep_member_list *ml)
{
	for (size_t i = 0; i < ml->n; i++)
		if (same_urls(&ml->v[i].peer_urls, (const char *const *)run->st->peer_urls.v,
			      run->st->peer_urls.n))
			return &ml->v[i];
	return NULL;
}

static bool add_applied(const struct run *run, const struct ep_member_list *ml)
{
	return by_urls(run, ml) != NULL;
}

static bool remove_applied(const struct run *run, const struct ep_member_list *ml)
{
	return !ep_member_list_find(ml, run->st->id);
}

static bool promote_applied(const struct run *run, const struct ep_member_list *ml)
{
	const struct ep_member *m = ep_member_list_find(ml, run->st->id);
	return m && !m->is_learner;
}

static int apply_add(const struct run *run, struct ep_error *err)
{
	struct ep_member_result *res = run->res;
	struct ep_error e = { 0 };
	enum ep_change_class cls;
	int r = change_retry(run, call_add, 0, &cls, &e);
	/*
	 * etcd makes a new member's ID from its peer URLs and the time in whole
	 * seconds, and refuses forever an ID it has removed - as "member not
	 * found" (ErrIDRemoved).  A learner added, removed and added again with
	 * the same peer URL within one second (a failed join rolled back and
	 * run again at once) is refused for that reason only: one second later
	 * the ID is a new one.
	 */
	int tries = 1;
	for (; r == -ENOENT && tries < SAME_SECOND_TRIES; tries++) {
		if (ep_ms_left(run->ca->deadline_ms) <= SAME_SECOND_MS)
			break;
		struct ep_membership_progress p = { .phase = EP_PHASE_RETRY,
						    .reason = e.msg,
						    .retry_in_ms = SAME_SECOND_MS };
		progress(run, &p);
		ep_sleep_ms(SAME_SECOND_MS);
		ep_error_clear(&e);
		r = change_retry(run, call_add, 0, &cls, &e);
	}
	if (r == -ENOENT)
		ep_error_prefix(&e,
				"etcd refused the member ID it derived from the peer URL and the "
				"time (%d attempt%s, a second apart): an ID it removed is never "
				"reused; run again",
				tries, tries == 1 ? "" : "s");
	if (r < 0 && cls == EP_CHANGE_UNKNOWN) {
		if ((r = settle(run, add_applied, &e, err)) == 0 &&
		    ep_member_copy(&res->member, by_urls(run, &res->members)) < 0)
			r = ep_error_set(err, -ENOMEM, "out of memory");
	} else if (r < 0) {
		err_copy(err, &e);
	}
	if (r < 0)
		return r;
	hint_write(run, res->member.id, run->st->name);
	return 0;
}

/* The report's members as a list (deep copies) into the zeroed @ml. */
static int report_list(const struct ep_member_plan *plan, struct ep_member_list *ml)
{
	ml->cluster_id = plan->cluster_id;
	if (plan->report.n && !(ml->v = calloc(plan->report.n, sizeof(*ml->v))))
		return -ENOMEM;
	for (; ml->n < plan->report.n; ml->n++)
		if (ep_member_copy(&ml->v[ml->n], &plan->report.v[ml->n].member) < 0)
			return -ENOMEM;
	return 0;
}

static int apply_reuse(const struct run *run, struct ep_error *err)
{
	struct ep_member_result *res = run->res;
	ep_member_release(&res->member);
	ep_member_list_release(&res->members);
	if (ep_member_copy(&res->member, &run->plan->report.v[run->st->idx].member) < 0 ||
	    report_list(run->plan, &res->members) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	res->reused = true;
	if (!run->plan->hints || !run->plan->hints[run->st->idx])
		hint_write(run, res->member.id, run->st->name);
	return 0;
}

static int apply_remove(const struct run *run, struct ep_error *err)
{
	struct ep_member_result *res = run->res;
	struct ep_error e = { 0 };
	enum ep_change_class cls;
	int r = change_retry(run, call_remove, run->st->id, &cls, &e);
	if (r == -ENOENT) { /* "member not found": someone removed it already */
		res->already = true;
		list_now(run, &res->members, NULL); /* for the record only */
		r = 0;
	} else if (r < 0 && cls == EP_CHANGE_UNKNOWN) {
		r = settle(run, remove_applied, &e, err);
	} else if (r < 0) {
		err_copy(err, &e);
	}
	if (r < 0)
		return r;
	ep_member_release(&res->member);
	if (ep_member_copy(&res->member, &run->plan->report.v[run->st->idx].member) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* Where the learner is: started (status answered), its and the leader's applied index. */
struct catchup {
	bool started;
	bool answers;
	uint64_t learner, leader;
	struct ep_error why;
};

static void catchup_read(const struct run *run, const struct ep_member_list *ml,
			 const struct ep_member *m, struct catchup *cu)
{
	struct ep_status st = { 0 }, lst = { 0 };

	memset(cu, 0, sizeof(*cu));
	cu->started = m->name && m->client_urls.n;
	if (!cu->started) {
		ep_error_set(&cu->why, -EAGAIN,
			     "it has not started yet (no name and no client URLs in the member "
			     "list)");
		return;
	}
	ep_client_set_timeout(run->ca->client, call_ms(run->ca));
	if (ep_maintenance_status(run->ca->client, m->client_urls.v[0], &st, &cu->why) < 0)
		return;
	cu->answers = true;
	cu->learner = st.raft_applied_index;
	const struct ep_member *lm = st.leader ? ep_member_list_find(ml, st.leader) : NULL;
	const char *lep = lm && lm->client_urls.n ? lm->client_urls.v[0] : NULL;
	ep_client_set_timeout(run->ca->client, call_ms(run->ca));
	if (st.leader &&
	    ((lep && ep_maintenance_status(run->ca->client, lep, &lst, NULL) == 0) ||
	     ep_maintenance_status(run->ca->client, run->plan->endpoint, &lst, NULL) == 0))
		cu->leader = lst.raft_applied_index;
	ep_status_release(&st);
	ep_status_release(&lst);
}

/* The error when the deadline passed before the learner could be promoted. */
static int promote_timeout(const struct run *run, const struct catchup *cu,
			   const struct ep_error *refusal, struct ep_error *err)
{
	uint64_t ms = elapsed(run);
	char s[32]; /* "0.7", "12.3" */
	snprintf(s, sizeof(s), "%" PRIu64 ".%" PRIu64, ms / 1000, ms % 1000 / 100);
	const char *hint = run->ca->not_started_hint;
	if (!hint)
		hint = "start etcd on its node with the ETCD_* settings 'member add' printed "
		       "(ETCD_INITIAL_CLUSTER_STATE=existing), then promote it again";
	if (!cu->started)
		return ep_error_set(err, -ETIMEDOUT,
				    "the learner has not started within %s s (it never showed its "
				    "name and client URLs in the member list)%s%s",
				    s, *hint ? ": " : "", hint);
	if (!cu->answers)
		return ep_error_set(err, -ETIMEDOUT,
				    "the learner does not answer (for %s s): %s", s,
				    cu->why.msg);
	if (ep_error_isset(refusal))
		return ep_error_set(err, -ETIMEDOUT,
				    "etcd still refused after %s s: %s; try again later or give a "
				    "longer --timeout",
				    s, refusal->msg);
	return ep_error_set(err, -ETIMEDOUT,
			    "the learner has not caught up with the leader within %s s "
			    "(applied index %" PRIu64 " of %" PRIu64 "); try again later or give a "
			    "longer --timeout",
			    s, cu->learner, cu->leader);
}

static int promote_wait(const struct run *run, struct ep_error *err)
{
	struct ep_member_result *res = run->res;
	struct ep_error refusal = { 0 };
	uint64_t poll = BACKOFF_FIRST_MS, backoff = BACKOFF_FIRST_MS;
	struct catchup cu = { 0 };

	for (;;) {
		struct ep_member_list ml = { 0 };
		uint64_t wait = poll;
		int r = list_now(run, &ml, err);
		if (r < 0)
			return r;
		const struct ep_member *m = ep_member_list_find(&ml, run->st->id);
		if (!m) {
			ep_member_list_release(&ml);
			return ep_error_set(err, -ENOENT,
					    "it is no longer a member (removed meanwhile?)");
		}
		if (!m->is_learner) { /* promoted meanwhile, by us (a lost answer) or another */
			res->already = true;
			res->members = ml;
			return 0;
		}
		catchup_read(run, &ml, m, &cu);
		ep_member_list_release(&ml);
		struct ep_membership_progress p = { .phase = EP_PHASE_WAIT_START,
						    .reason = cu.why.msg,
						    .learner_index = cu.learner,
						    .leader_index = cu.leader };
		if (cu.answers)
			p.phase = ep_learner_caught_up(cu.learner, cu.leader) ? EP_PHASE_CAUGHT_UP
									      : EP_PHASE_CATCH_UP;
		progress(run, &p);
		if (p.phase == EP_PHASE_CAUGHT_UP) {
			enum ep_change_class cls;
			ep_error_clear(&refusal);
			r = attempt(run, call_promote, run->st->id, &backoff, &cls, &refusal);
			if (r == 0)
				return 0;
			if (r < 0 && cls == EP_CHANGE_UNKNOWN)
				return settle(run, promote_applied, &refusal, err);
			if (r < 0 && cls == EP_CHANGE_FAILED &&
			    strstr(refusal.msg, "can only promote a learner member") &&
			    ep_ms_left(run->ca->deadline_ms) > 0)
				continue; /* not a learner any more: the list says so next */
			if (r < 0) {
				err_copy(err, &refusal);
				return r;
			}
			wait = (uint64_t)r;
		} else if (ep_ms_left(run->ca->deadline_ms) <= wait) {
			res->out_of_time = true;
			return promote_timeout(run, &cu, &refusal, err);
		} else {
			poll = poll * 2 > POLL_MAX_MS ? POLL_MAX_MS : poll * 2;
		}
		ep_sleep_ms(wait);
	}
}

static int apply_promote(const struct run *run, struct ep_error *err)
{
	int r = promote_wait(run, err);
	if (r < 0)
		return r;
	const struct ep_member *m = ep_member_list_find(&run->res->members, run->st->id);
	ep_member_release(&run->res->member);
	if (m && ep_member_copy(&run->res->member, m) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

int ep_membership_apply(const struct ep_cluster_access *ca, const struct ep_member_plan *plan,
			struct ep_member_result *ret, struct ep_error *err)
{
	memset(ret, 0, sizeof(*ret));
	ret->cluster_id = plan->cluster_id;
	for (size_t i = 0; i < plan->n_steps; i++) {
		_cleanup_(esc_release) struct esc e = { 0 };
		const struct ep_member_step *st = &plan->steps[i];
		struct run run = {
			.ca = ca, .plan = plan, .st = st, .res = ret, .t0 = ep_now_ms()
		};
		char hex[17];
		int r;

		ep_member_id_hex(st->id, hex);
		switch (st->action) {
		case EP_STEP_ADD:
			r = apply_add(&run, err);
			break;
		case EP_STEP_REUSE:
			r = apply_reuse(&run, err);
			break;
		case EP_STEP_REMOVE:
			r = apply_remove(&run, err);
			break;
		default:
			r = apply_promote(&run, err);
			break;
		}
		if (r < 0) {
			if (st->action == EP_STEP_ADD)
				ep_error_prefix(err, "adding member '%s'", esc(&e, st->name));
			else
				ep_error_prefix(err, "%s member '%s' (%s)",
						st->action == EP_STEP_PROMOTE ? "promoting"
									      : "removing",
						esc(&e, st->name ? st->name : "unstarted"), hex);
			bool out_of_time = ret->out_of_time;
			ep_member_result_release(ret);
			ret->out_of_time = out_of_time; /* all a failure leaves */
			return r;
		}
		free(ret->name);
		ret->name = st->name ? strdup(st->name) : NULL;
		if (!ret->members.cluster_id)
			ret->members.cluster_id = plan->cluster_id;
		if (ret->members.cluster_id)
			ret->cluster_id = ret->members.cluster_id;
	}
	return 0;
}
