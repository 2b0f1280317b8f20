/*
 * actions_snapshot.c - the action type "snapshot.save" (plan.h): a verified
 * snapshot of an etcd member into a file of the node, through
 * ep_snapshot_save, before a workflow touches the member (convert, reset).
 *
 * Params: {endpoint, cacert, cert, key, path, timeout_ms (optional)}; the
 * TLS files and the path are node paths (under the run's root).  A backup
 * is never replaced: a file already at the path before the run is an
 * error.  Undo keeps the snapshot (a rollback must not destroy a backup);
 * so the type is reversible, and changes the node.  Apply is idempotent:
 * a file at the path that an earlier attempt of the same action left
 * (the journal says the path was free before) is checked (its sha256)
 * and kept, or replaced when it does not verify.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/snapshot.h"
#include "plan_internal.h"
#include "util/clock.h"
#include "util/strbuf.h"

static int snap_check(const json_t *params, struct ep_error *err)
{
	const char *ep = ep_param_str(params, "endpoint");
	if (!ep || (strncmp(ep, "https://", 8) && strncmp(ep, "http://", 7)))
		return ep_error_set(err, -EINVAL,
				    "a 'snapshot.save' action needs an http(s) 'endpoint'");
	static const char *const paths[] = { "cacert", "cert", "key", "path" };
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int r = ep_param_check_path(params, "snapshot.save", paths[i], err);
		if (r < 0)
			return r;
	}
	const json_t *t = json_object_get(params, "timeout_ms");
	if (t && (!json_is_integer(t) || json_integer_value(t) <= 0))
		return ep_error_set(err, -EINVAL, "'snapshot.save': 'timeout_ms' must be a positive "
						  "number");
	return 0;
}

static void snap_describe(const json_t *params, struct ep_strbuf *out)
{
	const char *path = ep_param_str(params, "path");
	const char *ep = ep_param_str(params, "endpoint");
	ep_strbuf_adds(out, "save a snapshot of the etcd member at ");
	ep_strbuf_add_escaped(out, ep ? ep : "?", strlen(ep ? ep : "?"));
	ep_strbuf_adds(out, " into ");
	ep_strbuf_add_escaped(out, path ? path : "?", strlen(path ? path : "?"));
	ep_strbuf_adds(out, " (its sha256 checked; kept on rollback)");
}

static int snap_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		      struct ep_error *err)
{
	const char *path = ep_param_str(params, "path");
	int r;
	if (!json_object_get(undo, "existed")) {
		/* Before anything is written: was the path free? */
		bool existed = ep_root_exists(ctx->root, path);
		json_object_set_new(undo, "existed", json_boolean(existed));
		if ((r = ep_apply_checkpoint(ctx, err)) < 0)
			return r;
	}
	if (json_is_true(json_object_get(undo, "existed")))
		return ep_error_usage(err, -EEXIST, "'%s' already exists: a backup is never "
						    "replaced; move it away or choose another path",
				      path);
	bool replace = false;
	if (ep_root_exists(ctx->root, path)) {
		/* An earlier attempt of this action got as far as naming the file. */
		struct ep_snapshot_result prev = { 0 };
		struct ep_error verr = { 0 };
		if (ep_snapshot_verify_file(ctx->root, path, &prev, &verr) == 0) {
			ep_apply_log(ctx, "[snapshot] %s was saved by the interrupted attempt "
					  "(%" PRIu64 " bytes, its sha256 checks)", path, prev.size);
			ep_snapshot_result_release(&prev);
			return 0;
		}
		replace = true;
	}
	struct ep_tls tls = { 0 };
	if (ep_root_path(ctx->root, ep_param_str(params, "cacert"), &tls.cacert, err) < 0 ||
	    ep_root_path(ctx->root, ep_param_str(params, "cert"), &tls.cert, err) < 0 ||
	    ep_root_path(ctx->root, ep_param_str(params, "key"), &tls.key, err) < 0) {
		ep_tls_release(&tls);
		return err ? err->code : -EINVAL;
	}
	struct ep_client *c = NULL;
	r = ep_client_new(&tls, 0, &c, err);
	ep_tls_release(&tls);
	if (r < 0)
		return r;
	uint64_t timeout = (uint64_t)json_integer_value(json_object_get(params, "timeout_ms"));
	uint64_t left = ep_ms_left(ctx->deadline_ms);
	if (!timeout || left < timeout)
		timeout = left == UINT64_MAX ? 0 : left;
	const struct ep_snapshot_opts o = {
		.root = ctx->root,
		.path = path,
		.replace = replace,
		.timeout_ms = timeout,
	};
	struct ep_snapshot_result res = { 0 };
	const char *endpoint = ep_param_str(params, "endpoint");
	r = ep_snapshot_save(c, endpoint, &o, &res, err);
	ep_client_free(c);
	if (r < 0)
		return r;
	char sha[2 * EP_SNAPSHOT_SHA256_LEN + 1];
	for (size_t i = 0; i < EP_SNAPSHOT_SHA256_LEN; i++)
		snprintf(sha + 2 * i, 3, "%02x", res.sha256[i]);
	json_object_set_new(undo, "sha256", json_string(sha));
	ep_apply_log(ctx, "[snapshot] Saved %s (%" PRIu64 " bytes, revision %" PRIu64 ", sha256 %s)",
		     path, res.size, res.revision, sha);
	ep_snapshot_result_release(&res);
	return 0;
}

static int snap_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		     struct ep_error *err)
{
	(void)err;
	const char *path = ep_param_str(params, "path");
	if (json_is_false(json_object_get(undo, "existed")) && ep_root_exists(ctx->root, path))
		ep_apply_log(ctx, "[rollback] Kept the snapshot %s", path);
	return 0;
}

const struct ep_action_type ep_snapshot_save_type = {
	.name = "snapshot.save",
	.reversible = true,
	.changes = true,
	.check = snap_check,
	.describe = snap_describe,
	.apply = snap_apply,
	.undo = snap_undo,
};
