/*
 * client.h - the etcd client: etcd's v3 JSON gateway over HTTPS with client
 * certificates (libcurl's multi interface + jansson).
 *
 * Every call goes to one member's client URL ("https://10.0.0.1:2379",
 * "https://[::1]:2379") as POST /v3/<service>/<rpc> with a JSON body, and
 * has a deadline (the client's call timeout, see ep_client_new).  The CA
 * is always verified; there is no way to turn verification off.  Errors
 * are decoded from the gateway's `code`/`error` fields (gRPC codes mapped
 * to errnos), never from the HTTP status alone, because Debian's etcd
 * 3.4.23 answers 412 where upstream answers 400.  Transport failures are
 * named plainly: connection refused, TLS handshake failed (unknown CA, or
 * our certificate rejected), timed out, not etcd.
 *
 * Every message names the member URL it concerns.  Member IDs are uint64_t
 * here, decimal strings on the wire and hex without padding when printed,
 * as etcdctl prints them (8e9e05c52164694d).
 *
 * Resolution of endpoints and TLS files (flags, then ETCDCTL_* environment,
 * then config, then the node's own manifest or env file, then defaults) is
 * ep_client_config_resolve().
 */
#ifndef ETCDPILOT_CLIENT_H
#define ETCDPILOT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcdpilot/spec.h"

struct ep_error;

/* ------------------------------------------------------------------------ */
/* TLS material and endpoint resolution                                     */

/*
 * PEM file paths, real paths (already mapped under --root).  Owned by
 * whoever fills it; ep_tls_release() frees the three strings.  Any may be
 * NULL: no CA means the system store (still verified), no cert/key means
 * no client certificate (etcd with --client-cert-auth will refuse).
 */
struct ep_tls {
	char *cacert, *cert, *key;
};

/* Free the strings of @tls (NULL fine) and zero it. */
void ep_tls_release(struct ep_tls *tls);

/* Client settings as given by flags or by the ETCDCTL_* environment (NULL = not given). */
struct ep_client_input {
	const char *endpoints; /* comma-separated URLs; "host:port" gets https:// */
	const char *cacert;
	const char *cert;
	const char *key;
};

/* Where a resolved value came from (for -v and messages). */
enum ep_client_source {
	EP_SRC_FLAG = 0,   /* --endpoints, --cacert, ... */
	EP_SRC_ENV,        /* ETCDCTL_* */
	EP_SRC_CONFIG,     /* etcd.external of the config */
	EP_SRC_MANIFEST,   /* <manifest_dir>/etcd.yaml */
	EP_SRC_ENV_FILE,   /* spec->systemd.env_file */
	EP_SRC_DEFAULT,    /* https://127.0.0.1:2379, <cert_dir>/etcd/... */
};

const char *ep_client_source_name(enum ep_client_source src);

struct ep_client_config {
	struct ep_strv endpoints; /* at least one after a successful resolve */
	struct ep_tls tls;        /* real paths */
	enum ep_client_source endpoints_from;
	enum ep_client_source cacert_from, cert_from, key_from;
	char *endpoints_file;     /* real path of the manifest/env file used, or NULL */
};

/* Free everything @cfg owns and zero it.  NULL fine. */
void ep_client_config_release(struct ep_client_config *cfg);

/*
 * Decide the endpoints and TLS files, each independently, in this order:
 *   1. @flags (paths as given, relative to the working directory: they are
 *      the invoking user's paths, not node paths);
 *   2. @env, the ETCDCTL_ENDPOINTS/CACERT/CERT/KEY variables (same);
 *   3. the config's etcd.external (node paths, mapped under @root);
 *   4. endpoints only: the node's own files under @root - the static pod
 *      manifest <manifest_dir>/etcd.yaml (annotation
 *      kubeadm.kubernetes.io/etcd.advertise-client-urls, else the
 *      --advertise-client-urls= flag) or ETCD_ADVERTISE_CLIENT_URLS in
 *      spec->systemd.env_file; the file of spec->mode is tried first;
 *   5. https://127.0.0.1:2379 and <cert_dir>/etcd/ca.crt,
 *      <cert_dir>/etcd/healthcheck-client.{crt,key} under @root.
 * @spec, @flags and @env may be NULL (then they offer nothing; without a
 * spec the kubeadm default directories are used).  @root NULL means "/".
 * Endpoint lists are split on commas, blanks dropped, "host:port" gets
 * "https://", and each must then be an http(s) URL (else -EINVAL, usage).
 * Files are not opened here.  @ret must be zeroed; on failure it is left
 * released.  Returns 0 or a negative errno with @err set.
 */
int ep_client_config_resolve(const struct ep_spec *spec, const char *root,
			     const struct ep_client_input *flags, const struct ep_client_input *env,
			     struct ep_client_config *ret, struct ep_error *err);

/*
 * Parse a comma-separated endpoint list into @ret (appended).  Returns the
 * number of endpoints added, or -EINVAL (usage error naming the bad one).
 */
int ep_endpoints_parse(const char *list, struct ep_strv *ret, struct ep_error *err);

/*
 * A list the user gave (@what: "--endpoints", "ENDPOINT", ...): as
 * ep_endpoints_parse, and a list that names no endpoint (",,,") is a usage
 * error too; every error starts with "@what: ".  Returns the count (> 0).
 */
int ep_endpoints_parse_given(const char *what, const char *list, struct ep_strv *ret,
			     struct ep_error *err);

/* ------------------------------------------------------------------------ */
/* Decoded answers                                                           */

struct ep_member {
	uint64_t id;
	char *name;               /* NULL when the member never started */
	struct ep_strv peer_urls;
	struct ep_strv client_urls; /* empty when the member never started */
	bool is_learner;
};

/*
 * The most members a member list may have.  etcd itself sets no limit, but
 * advises at most 7 voters (a larger cluster writes slower) and allows one
 * learner (3.4, 3.5); a list far longer than any cluster is not trusted:
 * the decoder refuses it instead of probing thousands of "members".
 */
#define EP_MEMBERS_MAX 128

struct ep_member_list {
	uint64_t cluster_id;
	uint64_t member_id; /* the member that answered */
	uint64_t raft_term;
	struct ep_member *v;
	size_t n;
};

struct ep_status {
	uint64_t cluster_id;
	uint64_t member_id;       /* the member that answered */
	uint64_t revision;        /* header.revision: the store's current revision */
	char *version;            /* "3.4.23" */
	uint64_t db_size;
	uint64_t db_size_in_use;
	uint64_t leader;          /* 0: no leader */
	uint64_t raft_index;
	uint64_t raft_term;
	uint64_t raft_applied_index;
	bool is_learner;
	struct ep_strv errors;    /* "etcdserver: no leader", "memberID:... alarm:NOSPACE " */
};

enum ep_alarm_type {
	EP_ALARM_NONE = 0,
	EP_ALARM_NOSPACE,
	EP_ALARM_CORRUPT,
	EP_ALARM_UNKNOWN, /* a name this client does not know */
};

const char *ep_alarm_name(enum ep_alarm_type a); /* "NOSPACE", ... */

struct ep_alarm {
	uint64_t member_id;
	enum ep_alarm_type alarm;
};

struct ep_alarm_list {
	struct ep_alarm *v;
	size_t n;
};

struct ep_keyvalue {
	unsigned char *key;   /* decoded bytes, NUL-terminated for convenience */
	size_t key_len;
	unsigned char *value; /* decoded bytes, NUL-terminated; NULL with keys_only */
	size_t value_len;
	uint64_t create_revision, mod_revision, version, lease;
};

struct ep_range_result {
	uint64_t revision;  /* header.revision */
	uint64_t count;
	bool more;
	struct ep_keyvalue *kvs;
	size_t n;
};

/* Releasers: free what the struct owns and zero it.  NULL fine. */
void ep_member_release(struct ep_member *m);
void ep_member_list_release(struct ep_member_list *ml);
void ep_status_release(struct ep_status *st);
void ep_alarm_list_release(struct ep_alarm_list *al);
void ep_range_result_release(struct ep_range_result *rr);

/* Deep copy @src into zeroed @dst.  0 or -ENOMEM. */
int ep_member_copy(struct ep_member *dst, const struct ep_member *src);

/* The member of @ml with @id, or NULL. */
const struct ep_member *ep_member_list_find(const struct ep_member_list *ml, uint64_t id);

/*
 * Find the member named @arg, or else the one whose hex ID is @arg (as
 * etcdctl prints it; a leading "0x" is allowed).  Returns the index, -ENOENT
 * (no such member) or -EINVAL (several members carry that name), with @err
 * set listing the members.
 */
int ep_member_list_lookup(const struct ep_member_list *ml, const char *arg,
			  struct ep_error *err);

/*
 * Alarms named in a status' errors ("memberID:<dec> alarm:NOSPACE ").
 * Appends to @ret (zeroed or earlier result).  0 or -ENOMEM.
 */
int ep_status_alarms(const struct ep_status *st, struct ep_alarm_list *ret);

/* ------------------------------------------------------------------------ */
/* Pure decoding of gateway answers (client_decode.c; no network)            */

/*
 * Turn one gateway answer into a JSON object or an error.  @url names the
 * member and RPC for messages, @http_status and @content_type (may be NULL)
 * are what came back, @body/@len the body (need not be NUL-terminated).
 *   - a JSON object carrying a non-zero "code" or an "error" is a gateway
 *     error: the gRPC code becomes an errno (3 -EINVAL, 5 -ENOENT, 7/16
 *     -EACCES, 8 -ENOSPC, 9 -EBUSY or a finer one from the message, 14
 *     -EAGAIN, 4 -ETIMEDOUT, ...), the message is "<url>: <etcd message>";
 *   - HTTP 200 with a JSON object is success: *@ret gets it (caller
 *     json_decref()s);
 *   - anything else (HTML, plain text, truncated JSON, another status) is
 *     "not etcd" (-EPROTO) with the status and the start of the body.
 * Returns 0 or a negative errno with @err set.  @err's code is the errno;
 * ep_gateway_grpc_code() gives the gRPC code of the last decoded error.
 */
struct json_t;
int ep_gateway_decode(const char *url, long http_status, const char *content_type,
		      const char *body, size_t len, struct json_t **ret, struct ep_error *err);

/* errno for gRPC code @code and etcd message @msg (may be NULL). */
int ep_grpc_to_errno(int code, const char *msg);

/* "NotFound" for 5, ...; "code N" spelled into a static buffer for others. */
const char *ep_grpc_code_name(int code);

/*
 * Read a uint64 from @obj[@field]: a JSON string of decimal digits (etcd's
 * int64/uint64 encoding) or a non-negative JSON integer.  Absent or null
 * means 0 (the gateway leaves zeroes out).  Negative, overflowing, empty,
 * signed, hex or non-numeric values are -EINVAL / -ERANGE with @err naming
 * @field.
 */
int ep_json_u64(const struct json_t *obj, const char *field, uint64_t *ret,
		struct ep_error *err);

/*
 * Decoders of a successful answer (the object from ep_gateway_decode).
 * Each fills the zeroed @ret, checks every field's type and returns 0, or
 * -EPROTO with @err naming the field (and leaves @ret released).  A member
 * list of more than EP_MEMBERS_MAX members is refused (-EPROTO).
 */
int ep_decode_member_list(const struct json_t *obj, struct ep_member_list *ret,
			  struct ep_error *err);
/* MemberAdd: the new member into @ret_member, the members into @ret_list (may be NULL). */
int ep_decode_member_add(const struct json_t *obj, struct ep_member *ret_member,
			 struct ep_member_list *ret_list, struct ep_error *err);
int ep_decode_status(const struct json_t *obj, struct ep_status *ret, struct ep_error *err);
int ep_decode_alarms(const struct json_t *obj, struct ep_alarm_list *ret, struct ep_error *err);
int ep_decode_range(const struct json_t *obj, struct ep_range_result *ret, struct ep_error *err);
/* Put: only the header revision (may be NULL). */
int ep_decode_put(const struct json_t *obj, uint64_t *ret_revision, struct ep_error *err);

/* ------------------------------------------------------------------------ */
/* The client                                                                */

struct ep_client;

/*
 * Create a client for the files in @tls (copied; NULL = no TLS files).
 * The certificate and key are read once, now, and kept in memory; a file
 * that cannot be read is an error naming it (-ENOENT, -EACCES...).  A
 * client certificate out of its validity (expired, or not valid yet) is
 * refused here, before any member would refuse it: -EKEYEXPIRED, naming
 * the file, the date and 'etcdpilot certs renew NAME'.  Every
 * call made through the client ends within @call_timeout_ms (0 = 5 s),
 * connect included.  One client keeps its connections open between calls
 * (to the same member) and is NOT thread-safe.  Returns 0 with *@ret set
 * (free with ep_client_free) or a negative errno with @err set.
 */
int ep_client_new(const struct ep_tls *tls, uint64_t call_timeout_ms, struct ep_client **ret,
		  struct ep_error *err);

/* Free @c (NULL fine), closing its connections. */
void ep_client_free(struct ep_client *c);

/* Change the per-call deadline (0 = 5 s). */
void ep_client_set_timeout(struct ep_client *c, uint64_t call_timeout_ms);

/*
 * The calls.  @endpoint is a client URL (no path).  Results go into zeroed
 * structs the caller releases; result pointers documented "may be NULL"
 * are simply not filled.  Each returns 0 or a negative errno with @err set
 * to "<endpoint>: <what failed>" (see ep_gateway_decode for gateway
 * errors; transport errors: -ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH,
 * -ECONNRESET, -EKEYREJECTED for TLS failures, -EKEYEXPIRED for a member
 * certificate out of its validity (the message gives its date and the
 * remedy), -EPROTO for not etcd, -EFBIG for an answer over the size limit:
 * 1 MiB for membership, status and alarm answers, 16 MiB for others).  A
 * failure on an http:// endpoint or on port 2380 (etcd's peer port) says
 * so.
 */
int ep_member_list(struct ep_client *c, const char *endpoint, struct ep_member_list *ret,
		   struct ep_error *err);

/*
 * Try @endpoints (n of them) at once and keep the first good member list.
 * When none answers, @err lists every endpoint with its failure.  Returns
 * the index of the endpoint that answered, or a negative errno.
 */
int ep_member_list_any(struct ep_client *c, const char *const *endpoints, size_t n,
		       struct ep_member_list *ret, struct ep_error *err);

/*
 * MemberAdd with @peer_urls (n >= 1) as a learner when @is_learner.  The
 * new member goes to @ret_member (may be NULL), the resulting list to
 * @ret_list (may be NULL).
 */
int ep_member_add(struct ep_client *c, const char *endpoint, const char *const *peer_urls,
		  size_t n, bool is_learner, struct ep_member *ret_member,
		  struct ep_member_list *ret_list, struct ep_error *err);

/* MemberRemove / MemberPromote of @id; the resulting list to @ret_list (may be NULL). */
int ep_member_remove(struct ep_client *c, const char *endpoint, uint64_t id,
		     struct ep_member_list *ret_list, struct ep_error *err);
int ep_member_promote(struct ep_client *c, const char *endpoint, uint64_t id,
		      struct ep_member_list *ret_list, struct ep_error *err);

/*
 * MemberUpdate: give @id the peer URLs @peer_urls.  Beware: etcd 3.4.23
 * drops the learner flag on update (etcd #21694).
 */
int ep_member_update(struct ep_client *c, const char *endpoint, uint64_t id,
		     const char *const *peer_urls, size_t n, struct ep_member_list *ret_list,
		     struct ep_error *err);

/* Maintenance Status of the member at @endpoint (works without quorum). */
int ep_maintenance_status(struct ep_client *c, const char *endpoint, struct ep_status *ret,
			  struct ep_error *err);

/*
 * Maintenance MoveLeader: hand leadership to the voter @target_id.  etcd
 * takes it only on the leader (elsewhere: "etcdserver: not leader") and
 * only for a started voter ("bad leader transferee" otherwise); it answers
 * once the new leader is elected or its election timeout passed.
 */
int ep_move_leader(struct ep_client *c, const char *endpoint, uint64_t target_id,
		   struct ep_error *err);

/* Alarm list (goes through raft: needs quorum). */
int ep_alarm_list(struct ep_client *c, const char *endpoint, struct ep_alarm_list *ret,
		  struct ep_error *err);

/*
 * Range over [@key, @range_end) (range_end NULL: the one key; lengths in
 * bytes).  @serializable reads the member's local state (no quorum
 * needed); otherwise the read is linearizable.  @keys_only leaves values
 * out; @limit 0 = no limit.  @ret may be NULL (just check the read works).
 */
int ep_kv_range(struct ep_client *c, const char *endpoint, const void *key, size_t key_len,
		const void *range_end, size_t range_end_len, bool serializable, bool keys_only,
		uint64_t limit, struct ep_range_result *ret, struct ep_error *err);

/* Put @value under @key.  The new revision to @ret_revision (may be NULL). */
int ep_kv_put(struct ep_client *c, const char *endpoint, const void *key, size_t key_len,
	      const void *value, size_t value_len, uint64_t *ret_revision, struct ep_error *err);

/*
 * Poll @endpoint (e.g. "https://127.0.0.1:2379") until the member answers
 * healthy (a successful linearizable read - permission denied counts - or
 * maintenance status with a leader and no alarm), until @timeout_ms
 * passes, with one client (the TLS files are read once).  While the port
 * refuses connections, for the first 10 s, it probes every 20 ms (each such
 * probe is one refused TCP connect); otherwise the pause doubles from
 * 20 ms up to 1 s.  Each call's own deadline is at most 2 s and never past
 * the overall deadline.
 * @tls as for ep_client_new.  Returns 0 when healthy; -ETIMEDOUT with @err
 * describing the last failure otherwise (or another negative errno when the
 * TLS files cannot be read at all).
 */
int ep_wait_healthy(const struct ep_tls *tls, const char *endpoint, uint64_t timeout_ms,
		    struct ep_error *err);

/* ------------------------------------------------------------------------ */
/* Health of a whole cluster, every member probed at once                    */

struct ep_member_health {
	struct ep_member member;  /* copy from the member list */
	char *endpoint;           /* the client URL probed; NULL when it has none */
	bool started;             /* has a name and client URLs */
	bool probed;              /* its probe started before the deadline */
	bool reachable;           /* TCP + TLS + an etcd answer to Status */
	bool status_ok;
	int status_code;          /* errno of a failed Status (-ECONNREFUSED, -EKEYEXPIRED...), else 0 */
	struct ep_status status;  /* valid when status_ok */
	bool read_ok;             /* the read (linearizable; serializable on learners) */
	bool read_done;
	int read_code;            /* errno of a failed read, else 0 */
	bool is_leader;
	uint64_t raft_lag;        /* leader's raft index - ours (0 when unknown) */
	struct ep_alarm_list alarms; /* alarms raised by this member */
	bool healthy;
	bool pending_learner;     /* a learner added but never started: not unhealthy */
	char *error;              /* why not healthy; NULL when healthy */
	uint64_t took_ms;         /* from the start of its probe to its last answer */
};

/* Whether the cluster has quorum, as raft says it through the members that answer. */
enum ep_quorum {
	EP_QUORUM_UNKNOWN = 0, /* nothing to judge by (no answer, or no read done) */
	EP_QUORUM_HELD,        /* a leader agreed on and a linearizable read served */
	EP_QUORUM_LOST,        /* no answering member has a leader, or every voter's
				  linearizable read timed out */
};

/* "held", "lost", "unknown". */
const char *ep_quorum_name(enum ep_quorum q);

struct ep_health_report {
	char *list_endpoint;      /* endpoint whose member list was used */
	uint64_t cluster_id;
	uint64_t leader;          /* 0 when none agreed on */
	struct ep_member_health *v;
	size_t n;
	size_t healthy, voters, started_voters, learners;
	size_t pending_learners;  /* learners never started (not counted unhealthy) */
	size_t not_probed;        /* members whose turn had not come at the deadline */
	enum ep_quorum quorum;
	char *quorum_why;         /* how quorum was judged, one line (heap; NULL on ENOMEM) */
	struct ep_alarm_list alarms; /* every alarm seen, deduplicated */
	struct ep_strv list_errors;  /* "<endpoint>: <why>" for endpoints that failed the list */
};

void ep_health_report_release(struct ep_health_report *hr);

/* At most this many members are probed at once (a probe is a Status and a read). */
#define EP_HEALTH_PARALLEL 16

enum {
	EP_HEALTH_STATUS_ONLY = 1 << 0, /* no read: enough to tell "started" */
};

/*
 * Ask @endpoints (n of them, all at once) for the member list; as soon as
 * one answers, probe the members' first client URLs, EP_HEALTH_PARALLEL at
 * a time, in the same multi loop (Status, then a read on key "health":
 * linearizable for voters, serializable for learners; permission denied
 * counts as a good read), until all answered or @timeout_ms passed: the
 * whole of it, the list included, ends then.  Members that hang are
 * reported as timed out, members whose turn had not come as not probed.
 * Fills the zeroed @ret and judges it (ep_health_judge).  Returns 0 when a
 * member list was obtained (the report may still show unhealthy members),
 * or a negative errno when no endpoint answered, with @err naming each
 * endpoint and why.  @flags: EP_HEALTH_*.
 */
int ep_health_probe(struct ep_client *c, const char *const *endpoints, size_t n,
		    uint64_t timeout_ms, unsigned flags, struct ep_health_report *ret,
		    struct ep_error *err);

/*
 * The verdicts on a probed report (ep_health_probe calls it; exposed for
 * tests).  From the probe's fields (started, probed, status_ok, status,
 * status_code, read_ok, read_done, read_code, and error as the probe left
 * it) it fills in: the leader most answering members name, each member's
 * raft lag behind it, the alarms, quorum (held when a leader is agreed on
 * and a voter served a linearizable read; lost when no answering member
 * has a leader, or every voter's read timed out; else unknown, with why),
 * and each member's health with the reason in m->error:
 *   - a learner that never started (no name, no client URLs): "learner, not
 *     started yet", pending_learner, not unhealthy;
 *   - a voter that never started: unhealthy (it counts toward quorum);
 *   - a member whose client endpoint fails: "unreachable from here: <why>"
 *     (while quorum is held it may well be a healthy raft voter);
 *   - then: no leader, an alarm, errors it reports, a failed read.
 * Returns 0 or -ENOMEM.
 */
int ep_health_judge(struct ep_health_report *hr);

/*
 * Quorum guards for membership changes, judged on a report from
 * ep_health_probe (EP_HEALTH_STATUS_ONLY is enough).  A voter counts as
 * started when it has a name and client URLs and answered Status.
 *
 * ep_quorum_check_add: adding a voter must leave the started voters at a
 * quorum of the grown voter count (etcd's own rule, including its one
 * exception: a second voter may join a one-member cluster).  Adding a
 * learner is always safe.
 * ep_quorum_check_remove: removing member @idx of @hr (a voter) needs a
 * cluster with quorum now (a cluster without one commits no removal, not
 * even of a dead voter) and must leave the remaining started voters at a
 * quorum of the remaining voters, and at least one voter.  Removing a
 * learner is always safe.
 * Both return 0 when the change is safe, or -EBUSY with @err saying which
 * members are down and what the quorum would be.
 */
int ep_quorum_check_add(const struct ep_health_report *hr, bool learner, struct ep_error *err);
int ep_quorum_check_remove(const struct ep_health_report *hr, size_t idx, struct ep_error *err);

/* Hex ID as etcdctl prints it ("8e9e05c52164694d") into @buf (>= 17 bytes). */
const char *ep_member_id_hex(uint64_t id, char buf[static 17]);

/*
 * Parse a member ID as etcdctl takes it on the command line: hex, with an
 * optional 0x.  0 or -EINVAL / -ERANGE.
 */
int ep_member_id_parse(const char *s, uint64_t *ret);

/* ------------------------------------------------------------------------ */
/* Streaming range over etcd's gRPC API (client_range.c)                     */
/*
 * Reading a large keyspace goes to etcd's gRPC service (KV/Range, protobuf
 * over HTTP/2, on the same client URL, with the same TLS files and
 * connections as the gateway calls) rather than the JSON gateway: etcd 3.4
 * spends longer turning a range into JSON than etcdctl takes to print it,
 * and the answer is handed over one key-value at a time as the bytes
 * arrive, so that memory does not grow with the page.
 */

struct ep_range_opts {
	const void *key;          /* first key (bytes); "\0" with range_end "\0": every key */
	size_t key_len;
	const void *range_end;    /* end of the range, excluded; NULL: just @key */
	size_t range_end_len;
	uint64_t limit;           /* keys at most; 0 = no limit */
	uint64_t revision;        /* read at this revision; 0 = the latest */
	bool serializable;        /* the member's local state, no quorum read */
	bool keys_only;
	bool count_only;
	size_t value_head_max;    /* bytes of each value kept for the callback (0 = none) */
};

/* One key-value as it streams in; everything is valid only during the callback. */
struct ep_range_kv {
	const unsigned char *key;
	size_t key_len;
	const unsigned char *value_head; /* the first value_head_len bytes of the value */
	size_t value_head_len;
	uint64_t value_len;              /* the whole value's length */
	uint64_t create_revision, mod_revision, version, lease;
};

/* What a range answer said besides its key-values. */
struct ep_range_page {
	uint64_t cluster_id, member_id, revision, raft_term;
	uint64_t count;     /* keys in the range at that revision (etcd counts past the limit) */
	bool more;          /* the limit cut the answer */
	uint64_t n;         /* key-values handed over */
	uint64_t bytes;     /* bytes of the answer */
};

/* Called per key-value; a negative errno stops the call and is returned. */
typedef int (*ep_range_kv_fn)(void *userdata, const struct ep_range_kv *kv);

/*
 * Range per @opts on @endpoint over gRPC, calling @fn for each key-value
 * in key order as it arrives, within @timeout_ms (0: the client's call
 * timeout).  Memory: the longest key plus opts->value_head_max, whatever
 * the page.  Fills @ret (may be NULL).  Returns 0, the callback's negative
 * errno (@err left as the callback left it), or a negative errno with @err
 * set: transport failures as for the
 * gateway calls, etcd's errors by their gRPC code (a compacted or future
 * revision is -ERANGE with etcd's words), -EPROTO when the answer is not
 * etcd's.  A failed call may have called @fn for part of the answer.
 */
int ep_kv_range_stream(struct ep_client *c, const char *endpoint, const struct ep_range_opts *opts,
		       uint64_t timeout_ms, ep_range_kv_fn fn, void *userdata,
		       struct ep_range_page *ret, struct ep_error *err);

/*
 * The pure parts, for tests and the fuzzer.  ep_range_request_encode: the
 * gRPC message (5-byte frame header + RangeRequest) for @opts into a
 * malloc()ed buffer; 0 or -ENOMEM.  The parser takes a gRPC answer body in
 * pieces of any size: _feed returns 0, the callback's negative errno, or
 * -EPROTO with @err naming what was malformed; _finish checks the answer
 * ended where its message did and fills @ret.  The parser is bounded: a
 * key longer than 4 MiB is -EFBIG.
 */
int ep_range_request_encode(const struct ep_range_opts *opts, unsigned char **ret,
			    size_t *ret_len);
struct ep_range_parser;
int ep_range_parser_new(size_t value_head_max, ep_range_kv_fn fn, void *userdata,
			struct ep_range_parser **ret);
int ep_range_parser_feed(struct ep_range_parser *p, const void *data, size_t len,
			 struct ep_error *err);
int ep_range_parser_finish(struct ep_range_parser *p, struct ep_range_page *ret,
			   struct ep_error *err);
void ep_range_parser_free(struct ep_range_parser *p);

#endif
