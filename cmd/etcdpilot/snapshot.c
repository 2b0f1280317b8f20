/*
 * snapshot.c - etcdpilot snapshot save FILE: a verified copy of one
 * member's database (ep_snapshot_save).  This file picks the member (one
 * endpoint named with --endpoints or ETCDCTL_ENDPOINTS; else the most
 * advanced healthy voter of a health probe), shows progress on a
 * terminal, turns Ctrl-C into a clean cancel, builds the one result
 * document and prints it as text or JSON.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_client.h"
#include "etcdpilot/snapshot.h"
#include "util/clock.h"

#define SNAPSHOT_DEFAULT_TIMEOUT_MS (60u * 60 * 1000)
#define PROBE_TIMEOUT_MS 10000

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	interrupted = sig;
}

struct progress {
	bool tty;
	uint64_t t0, last;
	bool shown;
};

static int progress(void *userdata, uint64_t got, uint64_t total)
{
	struct progress *p = userdata;
	if (interrupted)
		return -ECANCELED;
	uint64_t now = ep_now_ms();
	if (!p->tty || now - p->last < 200)
		return 0;
	p->last = now;
	char a[32], b[32];
	double s = (double)(now - p->t0) / 1000.0;
	fprintf(stderr, "\r\033[K[snapshot] %s of %s", cli_bytes(got, a, sizeof(a)),
		cli_bytes(total, b, sizeof(b)));
	if (total)
		fprintf(stderr, " (%.0f%%)", 100.0 * (double)got / (double)total);
	if (s > 0)
		fprintf(stderr, ", %.1f MB/s", (double)got / 1e6 / s);
	fflush(stderr);
	p->shown = true;
	return 0;
}

/* The endpoint to save from (heap) and why it was chosen. */
static int choose(struct cli_ctx *ctx, struct cli_client *cc, char **ret, const char **why,
		  struct ep_error *err)
{
	struct ep_health_report hr = { 0 };
	const struct ep_client_config *cfg = &cc->cfg;
	bool named = cfg->endpoints_from == EP_SRC_FLAG || cfg->endpoints_from == EP_SRC_ENV;
	if (named && cfg->endpoints.n == 1) {
		*why = "named";
		return (*ret = strdup(cfg->endpoints.v[0])) ? 0 : ep_error_set(err, -ENOMEM, "out of memory");
	}
	int r = ep_health_probe(cc->client, (const char *const *)cfg->endpoints.v,
				cfg->endpoints.n, PROBE_TIMEOUT_MS, 0, &hr, err);
	if (r >= 0 && (r = ep_snapshot_pick(&hr, err)) >= 0) {
		const struct ep_member_health *m = &hr.v[r];
		char id[17];
		cli_verbose(ctx, "[snapshot] member %s (%s): applied index %" PRIu64, m->member.name,
			    ep_member_id_hex(m->member.id, id), m->status.raft_applied_index);
		*why = "most-advanced";
		r = (*ret = strdup(m->endpoint)) ? 0 : ep_error_set(err, -ENOMEM, "out of memory");
	}
	ep_health_report_release(&hr);
	return r;
}

static json_t *result_json(const char *file, const char *why, const struct ep_snapshot_result *res)
{
	char sha[2 * EP_SNAPSHOT_SHA256_LEN + 1], id[17];
	for (size_t i = 0; i < EP_SNAPSHOT_SHA256_LEN; i++)
		snprintf(sha + 2 * i, 3, "%02x", res->sha256[i]);
	/* apiVersion and kind are cli_print_doc's, as every document's */
	return json_pack("{s:s, s:b, s:I, s:I, s:s, s:I, s:s, s:{s:s, s:s, s:s?, s:I}, s:s, s:I}",
			 "file", file, "dryRun", 0, "size", (json_int_t)res->size, "dbSize",
			 (json_int_t)res->db_size, "sha256", sha, "revision",
			 (json_int_t)res->revision, "revisionSource", ep_snapshot_rev_source_name(res->revision_source), "member", "endpoint",
			 res->endpoint, "id", ep_member_id_hex(res->member_id, id), "version",
			 res->etcd_version, "raftIndex", (json_int_t)res->raft_index, "chosen", why,
			 "tookMs", (json_int_t)res->took_ms);
}

static void result_text(const json_t *doc)
{
	const json_t *m = json_object_get(doc, "member");
	uint64_t size = (uint64_t)json_integer_value(json_object_get(doc, "size"));
	uint64_t took = (uint64_t)json_integer_value(json_object_get(doc, "tookMs"));
	bool from_file = !strcmp(json_string_value(json_object_get(doc, "revisionSource")), "file");
	char b[32];
	printf("Snapshot saved at %s\n", json_string_value(json_object_get(doc, "file")));
	printf("  size:      %" PRIu64 " bytes (%s: the database and its sha256)\n", size,
	       cli_bytes(size, b, sizeof(b)));
	printf("  revision:  %" JSON_INTEGER_FORMAT " (%s)\n",
	       json_integer_value(json_object_get(doc, "revision")),
	       from_file ? "read from the saved database, as etcdctl snapshot status does"
			 : "the member's just before the stream began; the snapshot holds at "
			   "least this one");
	printf("  sha256:    %s\n", json_string_value(json_object_get(doc, "sha256")));
	printf("  member:    %s at %s, etcd %s, raft index %" JSON_INTEGER_FORMAT "\n",
	       json_string_value(json_object_get(m, "id")),
	       json_string_value(json_object_get(m, "endpoint")),
	       json_string_value(json_object_get(m, "version"))
		       ? json_string_value(json_object_get(m, "version"))
		       : "?",
	       json_integer_value(json_object_get(m, "raftIndex")));
	printf("  took:      %" PRIu64 ".%03" PRIu64 " s (%.1f MB/s)\n", took / 1000, took % 1000,
	       took ? (double)size / 1e3 / (double)took : 0.0);
}

static int snapshot_save_run(struct cli_ctx *ctx, struct ep_error *err)
{
	struct cli_client cc = { 0 };
	struct ep_snapshot_result res = { 0 };
	struct progress pr = { .tty = isatty(STDERR_FILENO) && !cli_json(ctx) };
	char *endpoint = NULL;
	const char *why = NULL;
	const char *file = ctx->args[0];
	int r;

	struct ep_snapshot_opts o = {
		.path = file,
		.replace = cli_has(ctx, "force"),
		.progress = progress,
		.userdata = &pr,
	};
	/* FILE is the invoking user's path, as etcdctl's: checked before the cluster is asked. */
	if ((r = ep_snapshot_check_target(&o, err)) < 0) {
		if (r == -EEXIST && err) {
			char msg[EP_ERROR_MAX];
			snprintf(msg, sizeof(msg), "%s", err->msg);
			ep_error_clear(err);
			ep_error_usage(err, r, "%s; give --force to replace it", msg);
		}
		goto out;
	}
	if ((r = cli_client_open(ctx, SNAPSHOT_DEFAULT_TIMEOUT_MS, &cc, err)) < 0 ||
	    (r = choose(ctx, &cc, &endpoint, &why, err)) < 0)
		goto out;
	if (ctx->dry_run) {
		/* -o json: stdout holds one document, the member chosen and the file */
		if (!cli_json(ctx)) {
			printf("[dryrun] Would save the snapshot of the member at %s into %s\n",
			       endpoint, file);
		} else {
			json_t *doc = json_pack("{s:s, s:b, s:{s:s}, s:s}", "file", file, "dryRun",
						1, "member", "endpoint", endpoint, "chosen", why);
			if (!doc)
				r = ep_error_set(err, -ENOMEM, "out of memory");
			cli_print_doc("Snapshot", doc);
		}
		goto out;
	}
	fprintf(cli_json(ctx) ? stderr : stdout, "[snapshot] Saving the snapshot of the member at %s "
						 "into %s\n", endpoint, file);
	fflush(NULL);
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = (int)SA_RESETHAND };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	o.timeout_ms = cc.timeout_ms;
	pr.t0 = ep_now_ms();
	r = ep_snapshot_save(cc.client, endpoint, &o, &res, err);
	if (pr.shown)
		fprintf(stderr, "\r\033[K");
	if (r == -ECANCELED && interrupted) {
		ep_error_clear(err);
		r = ep_error_set(err, -ECANCELED, "interrupted; %s was not written", file);
	}
	if (r < 0)
		goto out;
	json_t *doc = result_json(file, why, &res);
	if (!doc) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto out;
	}
	if (cli_json(ctx))
		cli_print_doc("Snapshot", doc);
	else {
		result_text(doc);
		json_decref(doc);
	}
out:
	ep_snapshot_result_release(&res);
	free(endpoint);
	cli_client_release(&cc);
	return r;
}

static const struct cli_opt snapshot_opts[] = {
	{ "force", 0, false, NULL, "replace FILE if it exists (etcdctl does, silently)" },
	{ 0 },
};

const struct cli_command cmd_snapshot_save = {
	.name = "snapshot save",
	.run = snapshot_save_run,
	.groups = CLI_NODE | CLI_CLIENT,
	.opts = snapshot_opts,
	.args = "FILE",
	.summary = "save a verified snapshot of one member's database to FILE",
	.help = "Stream one member's database (etcd's Maintenance/Snapshot over gRPC) into FILE,\n"
		"check the sha256 etcd sends after it, and only then give FILE its name: a\n"
		"broken or early-ended stream, a checksum that does not match, --timeout\n"
		"(default 1h), 30 s without data or Ctrl-C leave no file, not even a temporary\n"
		"one.  FILE holds the database and its 32-byte sha256, byte for byte what\n"
		"'etcdctl snapshot save' writes (mode 0600); it is the invoking user's path (not\n"
		"under --root) and is never replaced without --force.  The member is the one\n"
		"endpoint given with --endpoints (or ETCDCTL_ENDPOINTS), else the healthy voter\n"
		"with the highest applied raft index among the cluster's members.  Prints the\n"
		"size, the revision (read from the saved database, as 'etcdctl snapshot status'\n"
		"does; failing that, the member's just before the stream, and says which) and\n"
		"the sha256; progress on a terminal.\n"
		"Exit 0, 1 when the save failed, 2 when FILE cannot be written (missing\n"
		"directory, an existing file without --force).",
	.min_args = 1,
	.max_args = 1,
	.json_output = true,
};
