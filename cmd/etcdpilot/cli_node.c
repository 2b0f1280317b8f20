/*
 * cli_node.c - running a workflow from the command line (cli_node.h): the
 * journal of an interrupted run, the plan, its printing, and a line per
 * action while it is applied (with a live status on a terminal during
 * waits: what is waited for, for how long).  The one place that prints a
 * plan; the commands only add their closing words.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_node.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/install.h"
#include "etcdpilot/plan.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

int cli_split_list(const char *value, struct ep_strv *ret)
{
	_cleanup_free_ char *copy = strdup(value ? value : "");
	if (!copy)
		return -ENOMEM;
	char *save = NULL;
	for (char *w = strtok_r(copy, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		while (*w == ' ')
			w++;
		if (*w && ep_strv_push(ret, w) < 0)
			return -ENOMEM;
	}
	return 0;
}

int cli_pinned_version(struct cli_ctx *ctx, const struct ep_spec *spec, char *buf, size_t len,
		       const char **ret)
{
	(void)ctx;
	char tagv[32];
	*ret = NULL;
	/* a flag, the file or the environment said it; a default or a derived one is no pin */
	if (ep_spec_pinned(spec, "etcdVersion") ||
	    (ep_spec_pinned(spec, "imageTag") &&
	     ep_image_tag_version(spec->image_tag, tagv, sizeof(tagv)))) {
		snprintf(buf, len, "%s", spec->etcd_version);
		*ret = buf;
	}
	return 0;
}

int cli_systemd_version(struct cli_ctx *ctx, struct ep_spec *spec, char *buf, size_t len,
			struct ep_error *err)
{
	char pinbuf[32];
	const char *pinned = NULL;
	cli_pinned_version(ctx, spec, pinbuf, sizeof(pinbuf), &pinned);
	int r = ep_install_source_version(spec, pinned, buf, len, err);
	if (r < 0)
		return r;
	if (strcmp(spec->etcd_version, buf) != 0) {
		char *v = strdup(buf);
		if (!v)
			return ep_error_set(err, -ENOMEM, "out of memory");
		free(spec->etcd_version);
		spec->etcd_version = v;
	}
	return 0;
}

int cli_node_programs(struct cli_ctx *ctx, struct ep_wf *wf, struct ep_error *err)
{
	(void)ctx, (void)err;
	/* --systemctl, $ETCDPILOT_SYSTEMCTL, the file's systemd.systemctl: the spec knows which */
	wf->systemctl = wf->spec->systemd.systemctl;
	wf->systemctl_named = ep_spec_pinned(wf->spec, "systemd.systemctl");
	const char *env_jc = getenv("ETCDPILOT_JOURNALCTL");
	wf->journalctl = env_jc && *env_jc ? env_jc : NULL;
	return 0;
}

/* ---- printing ---------------------------------------------------------------- */

static void print_checks(const struct ep_wf *wf)
{
	for (size_t i = 0; i < wf->nchecks; i++) {
		const struct ep_check *c = &wf->checks[i];
		fflush(stdout);
		fprintf(stderr, "\t[%s %s]: %s\n", c->ignored ? "WARNING" : "ERROR", c->name,
			c->message);
	}
	fflush(stderr);
}

static json_t *checks_json(const struct ep_wf *wf)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < wf->nchecks; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:b}", "name", wf->checks[i].name,
						   "message", wf->checks[i].message, "ignored",
						   wf->checks[i].ignored));
	return a;
}

/*
 * While an action runs: its line when it starts, and on a terminal a live
 * status on stderr for the ones that wait (what, for how long), refreshed
 * every second by a small thread and cleared when the action ends.
 */
struct live {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running, stop;
	char what[200];
	uint64_t t0, limit_ms;
	bool tty;
};

static void *live_main(void *arg)
{
	struct live *lv = arg;
	pthread_mutex_lock(&lv->lock);
	while (!lv->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&lv->cond, &lv->lock, &ts);
		if (lv->stop)
			break;
		uint64_t s = (ep_now_ms() - lv->t0) / 1000;
		fprintf(stderr, "\r\033[K%s: %llus of at most %llus", lv->what, (unsigned long long)s,
			(unsigned long long)(lv->limit_ms + 999) / 1000);
		fflush(stderr);
	}
	pthread_mutex_unlock(&lv->lock);
	return NULL;
}

static void live_start(struct live *lv, const char *what, uint64_t limit_ms)
{
	if (!lv->tty)
		return;
	snprintf(lv->what, sizeof(lv->what), "%s", what);
	lv->t0 = ep_now_ms();
	lv->limit_ms = limit_ms;
	lv->stop = false;
	pthread_mutex_init(&lv->lock, NULL);
	pthread_cond_init(&lv->cond, NULL);
	lv->running = pthread_create(&lv->thread, NULL, live_main, lv) == 0;
}

static void live_end(struct live *lv)
{
	if (!lv->running)
		return;
	pthread_mutex_lock(&lv->lock);
	lv->stop = true;
	pthread_cond_signal(&lv->cond);
	pthread_mutex_unlock(&lv->lock);
	pthread_join(lv->thread, NULL);
	pthread_mutex_destroy(&lv->lock);
	pthread_cond_destroy(&lv->cond);
	lv->running = false;
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
}

struct observer_state {
	struct live live;
	/* etcd's own words when a start or a wait failed, taken before the rollback */
	const struct ep_runtime_ops *rt;
	const struct ep_runtime_ctx *rtctx;
	struct ep_diagnosis diag;
	bool have_diag;
};

/*
 * Add the diagnosis to @err and print it in full on stderr when it holds
 * more than its summary (which the error says already); then forget it.
 */
static void diag_report(struct observer_state *os, struct ep_error *err)
{
	if (!os->have_diag)
		return;
	ep_diagnosis_add_to_error(&os->diag, err);
	_cleanup_free_ char *text = os->diag.n ? ep_diagnosis_text(&os->diag) : NULL;
	if (text && *text) {
		fflush(stdout);
		fputs(text, stderr);
	}
	ep_diagnosis_release(&os->diag);
	os->have_diag = false;
}

/* "[phase] Write ..." for action @i (or "[rollback] Undoing: write ..."). */
static void action_line(const struct ep_plan *plan, size_t i, bool undo)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_plan_action_describe(plan, i, &sb);
	char *d = sb.buf;
	if (d && !undo && d[0] >= 'a' && d[0] <= 'z')
		d[0] = (char)(d[0] - 'a' + 'A');
	const char *why = undo ? NULL : ep_plan_action_reason(plan, i);
	printf("[%s] %s%s%s%s\n", undo ? "rollback" : ep_plan_action_phase(plan, i),
	       undo ? "Undoing: " : "", d ? d : "", why ? ": " : "", why ? why : "");
	fflush(stdout);
	ep_strbuf_release(&sb);
}

static void on_start(void *userdata, const struct ep_plan *plan, size_t i)
{
	struct observer_state *os = userdata;
	action_line(plan, i, false);
	const char *type = ep_plan_action_type(plan, i);
	if (!strncmp(type, "wait.", 5)) {
		const json_t *p = ep_plan_action_params(plan, i);
		char what[200];
		snprintf(what, sizeof(what), "[%s] waiting for %s", ep_plan_action_phase(plan, i),
			 json_string_value(json_object_get(p, "endpoint")) ?: "the member");
		live_start(&os->live, what,
			   (uint64_t)json_integer_value(json_object_get(p, "timeout_ms")));
	}
}

static void on_end(void *userdata, const struct ep_plan *plan, size_t i, int r)
{
	struct observer_state *os = userdata;
	live_end(&os->live);
	const char *type = ep_plan_action_type(plan, i);
	if (r < 0 && !os->have_diag && os->rt && os->rt->diagnose &&
	    (!strncmp(type, "wait.", 5) || !strncmp(type, "systemd.", 8) ||
	     !strcmp(type, "member.promote"))) {
		/* now, before a rollback stops what failed */
		os->have_diag = os->rt->diagnose(os->rtctx, 40, &os->diag) != -ENOMEM;
	}
	if (r >= 0 && ep_plan_action_state(plan, i) == EP_ACTION_SKIPPED) {
		printf("[%s] (already so: nothing to do)\n", ep_plan_action_phase(plan, i));
		fflush(stdout);
	}
}

static void on_undo(void *userdata, const struct ep_plan *plan, size_t i)
{
	(void)userdata;
	action_line(plan, i, true);
}

static void on_undo_end(void *userdata, const struct ep_plan *plan, size_t i, int r)
{
	(void)userdata, (void)plan, (void)i;
	if (r == EP_UNDO_DEFERRED) {
		printf("[rollback] Left for later: the cluster cannot be reached (see the error "
		       "below); undoing this node's own changes all the same\n");
		fflush(stdout);
	}
}

static int journal_run(struct cli_ctx *ctx, struct ep_wf *wf, struct ep_plan *journal,
		       bool rollback, struct cli_wf_result *ret, struct ep_error *err)
{
	if (!wf->rt)
		wf->rt = ep_runtime_get(wf->spec->mode);
	wf->rtctx = (struct ep_runtime_ctx){ .root = wf->root, .spec = wf->spec,
					     .systemctl = wf->systemctl, .journalctl = wf->journalctl,
					     .programs_named = wf->systemctl_named };
	struct observer_state os = { .live.tty = isatty(STDERR_FILENO), .rt = wf->rt,
				     .rtctx = &wf->rtctx };
	struct ep_plan_observer obs = { .action_start = on_start, .action_end = on_end,
					.undo_start = on_undo, .undo_end = on_undo_end,
					.userdata = &os };
	/* a journal that still has the bundle's CA to install needs the bundle again */
	for (size_t i = 0; wf->ca_bundle && !rollback && i < ep_plan_count(journal); i++) {
		enum ep_action_state st = ep_plan_action_state(journal, i);
		if (strcmp(ep_plan_action_type(journal, i), "pki.ca-bundle") ||
		    st == EP_ACTION_DONE || st == EP_ACTION_SKIPPED)
			continue;
		int r = ep_wf_open_bundle(wf, err);
		if (r < 0)
			return r;
	}
	struct ep_apply_ctx actx = {
		.root = ctx->root,
		.spec = wf->spec,
		.systemctl = wf->systemctl,
		.deadline_ms = wf->deadline_ms,
		.undo_deadline_ms = wf->undo_deadline_ms,
		.ca_bundle = wf->bundle,
		.log = cli_print_line,
	};
	int r;
	if (rollback) {
		printf("[journal] Undoing the interrupted '%s' started %s\n", ep_plan_command(journal),
		       ep_plan_started(journal));
		r = ep_journal_rollback(journal, &actx, &obs, err);
		ret->rolled_back = r >= 0;
	} else {
		printf("[journal] Finishing the interrupted '%s' started %s ('--rollback' undoes it "
		       "instead)\n", ep_plan_command(journal), ep_plan_started(journal));
		r = ep_journal_resume(journal, &actx, cli_has(ctx, "no-rollback") ?
					  EP_APPLY_NO_ROLLBACK : 0, &obs, err);
		ret->resumed = r >= 0;
	}
	ret->changed = ep_plan_count_changed(journal);
	diag_report(&os, err);
	return r;
}

static void log_stderr(void *userdata, const char *line)
{
	(void)userdata;
	fflush(stdout);
	fprintf(stderr, "%s\n", line);
	fflush(stderr);
}

/*
 * The member the journal's run was about (the first action that names one)
 * against the one this run names: a new run under other --name or
 * --advertise-address must not silently finish an older run instead.
 * 0, or a usage error naming both.
 */
static int journal_identity_check(const struct ep_plan *journal, const struct ep_spec *spec,
				  struct ep_error *err)
{
	const char *jname = NULL, *jpeers = NULL;
	for (size_t i = 0; i < ep_plan_count(journal) && !jname; i++) {
		const json_t *p = ep_plan_action_params(journal, i);
		const json_t *n = json_object_get(p, "name"), *u = json_object_get(p, "peer_urls");
		if (!json_is_string(n) || !json_is_array(u) || !json_array_size(u))
			continue;
		jname = json_string_value(n);
		jpeers = json_string_value(json_array_get(u, 0));
	}
	if (!jname)
		return 0;
	bool other_name = ep_spec_pinned(spec, "name") && spec->name && strcmp(spec->name, jname);
	bool other_addr = ep_spec_pinned(spec, "advertiseAddress") && spec->advertise_address &&
			  jpeers && !strstr(jpeers, spec->advertise_address);
	if (!other_name && !other_addr)
		return 0;
	return ep_error_usage(err, -EBUSY,
			      "an interrupted 'etcdpilot %s' of member '%s' (%s), started %s, is "
			      "on this node, and this run names %s '%s'; nothing was changed: "
			      "finish that one with 'etcdpilot %s --resume' or undo it with "
			      "'etcdpilot %s --rollback', then run this one again",
			      ep_plan_command(journal), jname, jpeers ? jpeers : "?",
			      ep_plan_started(journal), other_name ? "member" : "address",
			      other_name ? spec->name : spec->advertise_address,
			      ep_plan_command(journal), ep_plan_command(journal));
}

int cli_workflow_run(struct cli_ctx *ctx, struct ep_wf *wf, struct cli_wf_result *ret,
		     struct ep_error *err)
{
	const char *cmd = wf->workflow->command;
	bool resume = cli_has(ctx, "resume"), rollback = cli_has(ctx, "rollback");
	memset(ret, 0, sizeof(*ret));
	if (resume && rollback)
		return ep_error_usage(err, -EINVAL, "--resume and --rollback: pick one");
	if (cli_json(ctx) && !ctx->dry_run)
		return ep_error_usage(err, -EINVAL, "-o json: '%s' prints its progress as text; "
						    "-o json goes with --dry-run (the plan)", cmd);

	/* An interrupted run first: it is finished or undone, never run over. */
	struct ep_plan *journal = NULL;
	struct ep_error jerr = { 0 };
	int r = ep_journal_load(ctx->root, &journal, &jerr);
	if (r == 0) {
		bool same = !strcmp(ep_plan_command(journal), cmd);
		/* a run that had decided to undo itself goes on undoing (unless told --resume) */
		bool undoing = same && !rollback && !resume && ep_journal_rolling_back(journal) &&
			       ep_journal_can_rollback(journal);
		if (undoing)
			rollback = true;
		if (ctx->dry_run && resume && !ep_journal_can_resume(journal)) {
			r = ep_error_usage(err, -EPERM,
					   "--resume: the interrupted '%s' was partly undone (the "
					   "cluster could not be reached): a real run would refuse; "
					   "run 'etcdpilot %s --rollback' to finish undoing it",
					   ep_plan_command(journal), ep_plan_command(journal));
			ep_plan_free(journal);
			return r;
		}
		if (ctx->dry_run) {
			/* what a real run would do: finish (or undo) the journal's plan */
			if (cli_json(ctx)) {
				json_t *doc = ep_plan_to_json(journal);
				if (doc) {
					json_object_set_new(doc, "interrupted", json_true());
					json_object_set_new(doc, "wouldRollback",
							    json_boolean(rollback));
				}
				cli_print_json(doc);
			} else {
				printf("[journal] An interrupted '%s' (started %s) is on this node; a "
				       "real run would %s it\n", ep_plan_command(journal),
				       ep_plan_started(journal), rollback ? "undo" : "finish");
			}
			ep_plan_free(journal);
			return 0;
		}
		if (!same && !rollback && !resume) {
			r = ep_error_usage(err, -EBUSY,
					   "an interrupted 'etcdpilot %s' (started %s) is on this node; "
					   "nothing was changed: run 'etcdpilot %s --resume' to finish it "
					   "or 'etcdpilot %s --rollback' to undo it first",
					   ep_plan_command(journal), ep_plan_started(journal),
					   ep_plan_command(journal), ep_plan_command(journal));
			ep_plan_free(journal);
			return r;
		}
		if (same && !rollback && !resume &&
		    (r = journal_identity_check(journal, wf->spec, err)) < 0) {
			ep_plan_free(journal);
			return r;
		}
		if (undoing)
			printf("[journal] The interrupted '%s' was being undone: going on undoing it%s\n",
			       ep_plan_command(journal),
			       ep_journal_can_resume(journal) ? " ('--resume' would apply it again "
								"instead)"
							      : "");
		r = journal_run(ctx, wf, journal, rollback, ret, err);
		ep_plan_free(journal);
		return r;
	}
	if (r != -ENOENT) {
		if (err)
			*err = jerr;
		return r;
	}
	if (resume || rollback)
		return ep_error_usage(err, -ENOENT, "--%s: there is no interrupted run on this node "
						    "(no %s)", resume ? "resume" : "rollback",
				      EP_JOURNAL_FILE);

	/* with -o json, stdout holds the one document: what planning says goes to stderr */
	if (cli_json(ctx))
		wf->log = log_stderr;
	struct ep_error perr = { 0 };
	r = ep_wf_plan(wf, &perr);
	if (wf->nchecks)
		print_checks(wf);
	bool stopped = r == -EPERM;
	if (r < 0 && !(stopped && ctx->dry_run)) {
		if (err)
			*err = perr;
		return r;
	}
	if (ctx->dry_run) {
		if (cli_json(ctx)) {
			json_t *doc = ep_plan_to_json(wf->plan);
			if (!doc)
				return ep_error_set(err, -ENOMEM, "out of memory");
			json_object_set_new(doc, "preflight", checks_json(wf));
			json_object_set_new(doc, "blocked", json_boolean(stopped));
			cli_print_json(doc);
		} else {
			struct ep_strbuf sb = EP_STRBUF_INIT;
			ep_plan_to_text(wf->plan, &sb);
			fputs(ep_strbuf_str(&sb), stdout);
			ep_strbuf_release(&sb);
		}
		if (stopped) {
			if (err)
				*err = perr;
			return ep_error_prefix(err, "a real run would stop at preflight");
		}
		return 0;
	}

	struct observer_state os = { .live.tty = isatty(STDERR_FILENO), .rt = wf->rt,
				     .rtctx = &wf->rtctx };
	struct ep_plan_observer obs = { .action_start = on_start, .action_end = on_end,
					.undo_start = on_undo, .undo_end = on_undo_end,
					.userdata = &os };
	struct ep_apply_ctx actx = {
		.root = ctx->root,
		.spec = wf->spec,
		.systemctl = wf->systemctl,
		.deadline_ms = wf->deadline_ms,
		.undo_deadline_ms = wf->undo_deadline_ms,
		.ca_bundle = wf->bundle,
		.log = cli_print_line,
	};
	r = ep_plan_apply(wf->plan, &actx, cli_has(ctx, "no-rollback") ? EP_APPLY_NO_ROLLBACK : 0,
			  &obs, err);
	ret->changed = ep_plan_count_changed(wf->plan);
	diag_report(&os, err);
	return r;
}
