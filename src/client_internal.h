/*
 * client_internal.h - the asynchronous call engine shared by client.c and
 * client_health.c.  Not a public header: nothing outside the client module
 * includes it.
 *
 * A call is one POST to one member.  Calls run together in the client's one
 * curl multi handle; ep_client_run() drives them until none is left, a
 * callback asks to stop, or the deadline passes.  Each call ends exactly
 * once through its done callback (success, failure, timeout or cancel),
 * after which the engine frees it.  Callbacks may start new calls.
 */
#ifndef ETCDPILOT_CLIENT_INTERNAL_H
#define ETCDPILOT_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "util/clock.h"

struct ep_call;
typedef void (*ep_call_done_fn)(struct ep_call *call);

struct ep_call {
	struct ep_client *client;
	CURL *easy;
	char *endpoint;   /* owned copy, no trailing slash */
	char *url;        /* endpoint + rpc */
	char *body;       /* request body */
	char *resp;       /* answer body */
	size_t resp_len, resp_cap;
	char errbuf[CURL_ERROR_SIZE];
	uint64_t id;      /* unique within the client: how the TLS hooks find the call */
	size_t max_answer; /* the answer is refused beyond this many bytes */
	uint64_t started_ms, deadline_ms;
	bool connected;   /* TCP and TLS are up, the request went out */
	bool answered;    /* an HTTP answer arrived (not necessarily from etcd) */
	size_t header_bytes; /* answer header bytes curl passed on (the status line first) */
	/*
	 * What the TLS hooks saw on the connection this call's transfer opened
	 * (made_connection); a call multiplexed onto an older connection sees
	 * nothing here.
	 */
	bool made_connection;
	uint64_t tls_app_bytes;  /* application data received after the handshake */
	int tls_verify_err;      /* X509_V_ERR_* of the member's chain; 0: none */
	int tls_verify_depth;    /* 0: the member's own certificate */
	int64_t tls_not_before, tls_not_after; /* of the certificate that failed (time_t) */
	char tls_subject[96];    /* its CN, for messages */
	int r;            /* 0 or negative errno, valid in done */
	struct ep_error err;
	json_t *obj;      /* decoded answer when r == 0 (freed after done unless taken) */
	ep_call_done_fn done;
	void *userdata;
	size_t tag;
	struct ep_call *prev, *next;
	/* Raw calls (ep_call_start_raw): judge a complete transfer instead of the gateway decoder. */
	int (*finish)(struct ep_call *call);
};

/* Monotonic milliseconds: ep_now_ms() of util/clock.h. */

/*
 * Start POST @rpc ("/v3/kv/range") with @body (stolen; NULL = "{}") on
 * @endpoint, ending at @deadline_ms (ep_now_ms() clock; capped by the
 * client's call timeout).  @done is called exactly once from
 * ep_client_run().  Returns 0, or a negative errno with @err set (the call
 * is not started and @done never runs).
 */
int ep_call_start(struct ep_client *c, const char *endpoint, const char *rpc, json_t *body,
		  uint64_t deadline_ms, ep_call_done_fn done, void *userdata, size_t tag,
		  struct ep_error *err);

/*
 * Drive the running calls until none is left, ep_client_stop() was called
 * from a callback, or @deadline_ms passes.  Calls still running then end
 * with -ETIMEDOUT (deadline) or -ECANCELED (stop).  Returns 0.
 */
int ep_client_run(struct ep_client *c, uint64_t deadline_ms);

/* Ask ep_client_run() to return after the current callback. */
void ep_client_stop(struct ep_client *c);

/*
 * "no endpoint answered: <why 1>; <why 2>" into @err, with the errno of the
 * first; an empty message stands as its endpoint (@endpoints may be NULL).
 */
int ep_errors_join(struct ep_error *err, const struct ep_error *errs,
		   const char *const *endpoints, size_t n);

/* The JSON body of a Range request (NULL on ENOMEM); bytes are base64-encoded. */
json_t *ep_range_request(const void *key, size_t key_len, const void *range_end,
			 size_t range_end_len, bool serializable, bool keys_only, uint64_t limit);

/*
 * A raw call: POST @body to @path with @headers instead of a gateway RPC
 * (the gRPC calls of client_range.c), with the same connection policy,
 * deadline and transport error messages as ep_call_start.  The answer goes
 * to @on_data and @on_header (curl callbacks whose userdata is the struct
 * ep_call; HTTP/2 trailers reach @on_header too); once the transfer
 * completes, @finish judges it (0, or a negative errno with call->err set)
 * and @done runs.  A long stream (a snapshot) may set @stall_s: curl's
 * low-speed limit then ends it, -ETIMEDOUT, when nothing arrives for that
 * long.  Plain http:// endpoints are spoken to in HTTP/2 with
 * prior knowledge.
 */
struct ep_raw_request {
	const char *path;             /* "/etcdserverpb.KV/Range" */
	const void *body;             /* copied */
	size_t len;
	struct curl_slist *headers;   /* borrowed: must outlive the call */
	curl_write_callback on_data;
	curl_write_callback on_header;
	int (*finish)(struct ep_call *call);
	/* Fail the call when no byte arrives for this many seconds (0: no such limit). */
	long stall_s;
};

int ep_call_start_raw(struct ep_client *c, const char *endpoint, const struct ep_raw_request *req,
		      uint64_t deadline_ms, ep_call_done_fn done, void *userdata,
		      struct ep_error *err);

/* Current default per-call timeout. */
uint64_t ep_client_timeout(const struct ep_client *c);

#endif
