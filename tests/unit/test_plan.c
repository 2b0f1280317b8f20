/*
 * test_plan.c - the plan engine: building and printing plans, applying them
 * with undo, the journal (a run killed at every point it can be killed,
 * then resumed and, separately, rolled back), and the built-in file,
 * directory and systemd action types.
 *
 * The fake action types below keep their world in shared memory, so that a
 * run forked and killed (_exit) in the middle leaves its effects where the
 * parent, which then resumes or rolls back, can check them.  No process is
 * started except by the systemd test (hack/systemctl-standin).
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
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/plan.h"
#include "plan_internal.h"
#include "util/clock.h"
#include "util/fs_internal.h"
#include "util/strbuf.h"

/* ---- scratch root ------------------------------------------------------------ */

static char scratch[256];

static int setup(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/ep-test-plan.XXXXXX");
	return mkdtemp(scratch) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s.prev-journal'", scratch, scratch);
	return system(cmd) == 0 ? 0 : -1;
}

/* The real path of node path @rel under the scratch root (rotating buffers). */
static const char *at(const char *rel)
{
	static char buf[8][768];
	static int i;
	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s%s", scratch, rel);
	return buf[i];
}

static void mkdirs(const char *rel, mode_t mode)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", at(rel));
	assert_int_equal(system(cmd), 0);
	assert_int_equal(chmod(at(rel), mode), 0);
}

static void put(const char *rel, const char *content, mode_t mode)
{
	FILE *f = fopen(at(rel), "w");
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(at(rel), mode), 0);
}

static int read_all(const char *real, char **out)
{
	return ep_read_file(real, 1 << 20, true, out, NULL, NULL);
}

/* The content of @rel (heap), or NULL when it cannot be read. */
static char *get(const char *rel)
{
	char *out = NULL;
	if (read_all(at(rel), &out) < 0)
		return NULL;
	return out;
}

static bool there(const char *rel)
{
	struct stat st;
	return lstat(at(rel), &st) == 0;
}

static unsigned mode_of(const char *rel)
{
	struct stat st;
	assert_int_equal(lstat(at(rel), &st), 0);
	return st.st_mode & 07777;
}

static void assert_content(const char *rel, const char *want)
{
	char *have = get(rel);
	assert_non_null(have);
	assert_string_equal(have, want);
	free(have);
}

/* ---- a listing of a whole tree, to compare before and after ---------------- */

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void list_tree(const char *real, const char *rel, struct ep_strbuf *out)
{
	struct dirent **names = NULL;
	int n = scandir(real, &names, NULL, by_name);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (strcmp(name, ".") && strcmp(name, "..")) {
			char sub[1024], subrel[1024];
			snprintf(sub, sizeof(sub), "%s/%s", real, name);
			snprintf(subrel, sizeof(subrel), "%s/%s", rel, name);
			struct stat st;
			assert_int_equal(lstat(sub, &st), 0);
			ep_strbuf_addf(out, "%s %04o ", subrel, st.st_mode & 07777);
			if (S_ISDIR(st.st_mode)) {
				ep_strbuf_adds(out, "dir\n");
				list_tree(sub, subrel, out);
			} else if (S_ISLNK(st.st_mode)) {
				char target[512] = "";
				ssize_t l = readlink(sub, target, sizeof(target) - 1);
				target[l > 0 ? l : 0] = '\0';
				ep_strbuf_addf(out, "link %s\n", target);
			} else {
				char *content = NULL;
				assert_int_equal(read_all(sub, &content), 0);
				ep_strbuf_addf(out, "file '%s'\n", content);
				free(content);
			}
		}
		free(names[i]);
	}
	free(names);
}

/* The whole scratch root as text (heap). */
static char *snapshot(void)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	list_tree(scratch, "", &sb);
	char *s = ep_strbuf_detach(&sb, NULL);
	assert_non_null(s);
	return s;
}

/* ---- the fake world ------------------------------------------------------------ */

#define SLOTS 8

struct world {
	int slot[SLOTS];    /* 1: applied */
	int applies[SLOTS]; /* calls of apply */
	int undos[SLOTS];   /* calls of undo */
	int log[256];       /* +(s+1) apply, -(s+1) undo, in call order */
	int nlog;
	int fail_slot;      /* apply of this slot fails (-EIO) */
	bool fail_after_effect;
	int crash_slot;     /* apply of this slot _exit()s: the run is killed */
	bool crash_after_effect;
	int bad_undo;       /* undo got undo data that apply did not record */
	bool unreachable;   /* fake.remote's undo cannot reach its "cluster" */
};

static struct world *W;

static void world_reset(void)
{
	memset(W, 0, sizeof(*W));
	W->fail_slot = -1;
	W->crash_slot = -1;
}

static bool world_all(int v, int n)
{
	for (int i = 0; i < n; i++)
		if (W->slot[i] != v)
			return false;
	return true;
}

#define KILLED 42 /* exit status of a run killed on purpose */

static int slot_of(const json_t *params)
{
	return (int)json_integer_value(json_object_get(params, "slot"));
}

static int fake_check(const json_t *params, struct ep_error *err)
{
	json_t *s = json_object_get(params, "slot");
	if (!json_is_integer(s) || json_integer_value(s) < 0 || json_integer_value(s) >= SLOTS)
		return ep_error_set(err, -EINVAL, "a fake action needs 'slot' (0-%d)", SLOTS - 1);
	return 0;
}

static void fake_describe(const json_t *params, struct ep_strbuf *out)
{
	ep_strbuf_addf(out, "set fake slot %d", slot_of(params));
}

static int fake_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		      struct ep_error *err)
{
	(void)ctx;
	int s = slot_of(params);
	W->log[W->nlog++] = s + 1;
	W->applies[s]++;
	if (W->crash_slot == s && !W->crash_after_effect)
		_exit(KILLED);
	if (W->fail_slot == s && !W->fail_after_effect)
		return ep_error_set(err, -EIO, "fake failure");
	json_object_set_new(undo, "token", json_integer(100 + s));
	W->slot[s] = 1;
	if (W->crash_slot == s)
		_exit(KILLED);
	if (W->fail_slot == s)
		return ep_error_set(err, -EIO, "fake failure");
	return 0;
}

static int fake_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		     struct ep_error *err)
{
	(void)ctx;
	(void)err;
	int s = slot_of(params);
	W->log[W->nlog++] = -(s + 1);
	W->undos[s]++;
	const json_t *token = json_object_get(undo, "token");
	if (token && json_integer_value(token) != 100 + s)
		W->bad_undo++;
	W->slot[s] = 0;
	return 0;
}

/*
 * Journals its token before acting, as the contract asks, and answers
 * "already the case" (SKIPPED) when its effect is there - as a re-apply
 * after a run killed between the effect and "done" finds it.
 */
static int idem_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		      struct ep_error *err)
{
	int s = slot_of(params);
	W->log[W->nlog++] = s + 1;
	W->applies[s]++;
	if (W->slot[s])
		return EP_APPLY_SKIPPED;
	json_object_set_new(undo, "token", json_integer(100 + s));
	int r = ep_apply_checkpoint(ctx, err);
	if (r < 0)
		return r;
	W->slot[s] = 1;
	if (W->crash_slot == s)
		_exit(KILLED);
	return 0;
}

static const struct ep_action_type fake_idem = {
	.name = "fake.idem",
	.reversible = true,
	.changes = true,
	.check = fake_check,
	.describe = fake_describe,
	.apply = idem_apply,
	.undo = fake_undo,
};

/* Irreversible, without a check: a running or failed one stops a rollback. */
static const struct ep_action_type fake_once = {
	.name = "fake.once",
	.reversible = false,
	.changes = true,
	.check = fake_check,
	.describe = fake_describe,
	.apply = fake_apply,
};

/* Irreversible, with a check: 0 when it did not take effect. */
static int fake_checked_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			     struct ep_error *err)
{
	(void)ctx;
	(void)undo;
	int s = slot_of(params);
	W->undos[s]++;
	if (W->slot[s])
		return ep_error_set(err, -EPERM, "it took effect");
	return 0;
}

static const struct ep_action_type fake_checked = {
	.name = "fake.checked",
	.reversible = false,
	.changes = true,
	.check = fake_check,
	.describe = fake_describe,
	.apply = fake_apply,
	.undo = fake_checked_undo,
};

static const struct ep_action_type fake_set = {
	.name = "fake.set",
	.reversible = true,
	.changes = true,
	.check = fake_check,
	.describe = fake_describe,
	.apply = fake_apply,
	.undo = fake_undo,
};

/* A wait: changes nothing, needs no undo. */
static void wait_describe(const json_t *params, struct ep_strbuf *out)
{
	(void)params;
	ep_strbuf_adds(out, "wait for nothing");
}

static int wait_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		      struct ep_error *err)
{
	(void)ctx;
	(void)params;
	(void)undo;
	(void)err;
	return 0;
}

static int wait_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		     struct ep_error *err)
{
	(void)ctx;
	(void)params;
	(void)undo;
	(void)err;
	return 0;
}

static const struct ep_action_type fake_wait = {
	.name = "fake.wait",
	.reversible = true,
	.changes = false,
	.describe = wait_describe,
	.apply = wait_apply,
	.undo = wait_undo,
};

/* Talks to a "cluster": its undo is deferred while W->unreachable. */
static int remote_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		       struct ep_error *err)
{
	if (W->unreachable) {
		W->undos[slot_of(params)]++;
		ep_error_set(err, -EAGAIN, "fake cluster out of reach");
		return EP_UNDO_DEFERRED;
	}
	return fake_undo(ctx, params, undo, err);
}

static const struct ep_action_type fake_remote = {
	.name = "fake.remote",
	.reversible = true,
	.changes = true,
	.remote = true,
	.check = fake_check,
	.describe = fake_describe,
	.apply = fake_apply,
	.undo = remote_undo,
};

/* A type that answers EP_UNDO_DEFERRED without being remote: a bug, not a deferral. */
static int bad_deferred_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			     struct ep_error *err)
{
	(void)ctx, (void)params, (void)undo, (void)err;
	return EP_UNDO_DEFERRED;
}

static const struct ep_action_type fake_local_deferring = {
	.name = "fake.local-deferring",
	.reversible = true,
	.changes = true,
	.check = fake_check,
	.describe = fake_describe,
	.apply = fake_apply,
	.undo = bad_deferred_undo,
};

static int group_setup(void **state)
{
	(void)state;
	W = mmap(NULL, sizeof(*W), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (W == MAP_FAILED)
		return -1;
	world_reset();
	const struct ep_action_type *types[] = { &fake_set,  &fake_once,   &fake_checked,
						 &fake_wait, &fake_idem,   &fake_remote,
						 &fake_local_deferring };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (ep_action_type_register(types[i]) < 0)
			return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	munmap(W, sizeof(*W));
	return 0;
}

/* ---- helpers for plans and runs --------------------------------------------- */

static struct ep_strbuf logbuf = EP_STRBUF_INIT;

static void capture(void *userdata, const char *line)
{
	(void)userdata;
	ep_strbuf_adds(&logbuf, line);
	ep_strbuf_addch(&logbuf, '\n');
}

static struct ep_apply_ctx ctx_for_scratch(void)
{
	ep_strbuf_reset(&logbuf);
	struct ep_apply_ctx ctx = { .root = scratch, .log = capture };
	return ctx;
}

static void add_fake(struct ep_plan *plan, const char *type, int slot)
{
	struct ep_error err = { 0 };
	char phase[16];
	snprintf(phase, sizeof(phase), "p%d", slot);
	int r = ep_plan_add(plan, phase, type, json_pack("{s:i}", "slot", slot), "because", &err);
	if (r < 0)
		fail_msg("ep_plan_add: %s", err.msg);
}

/* n fake.set actions, slots 0..n-1. */
static struct ep_plan *fake_plan(const char *command, int n)
{
	struct ep_plan *plan = ep_plan_new(command);
	assert_non_null(plan);
	for (int i = 0; i < n; i++)
		add_fake(plan, "fake.set", i);
	return plan;
}

/* The journal directory as a run leaves it (so that listings before and after compare). */
static void journal_dir(void)
{
	mkdirs(EP_JOURNAL_DIR, 0700);
	assert_int_equal(chmod(at("/var"), 0755), 0);
	assert_int_equal(chmod(at("/var/lib"), 0755), 0);
}

static bool journal_there(void)
{
	return there(EP_JOURNAL_FILE);
}

static void assert_log(const int *want, int n)
{
	if (W->nlog != n) {
		for (int i = 0; i < W->nlog; i++)
			print_message("log[%d] = %d\n", i, W->log[i]);
	}
	assert_int_equal(W->nlog, n);
	for (int i = 0; i < n; i++)
		assert_int_equal(W->log[i], want[i]);
}

/* Beside the scratch root (outside it): the journal as the killed run's previous write left it. */
static const char *prev_journal(void)
{
	static char buf[300];
	snprintf(buf, sizeof(buf), "%s.prev-journal", scratch);
	return buf;
}

/*
 * Count journal writes; kill the run (in a child) at write number
 * `kill_at`, keeping a copy of each earlier write in prev_journal().
 */
struct killer {
	unsigned kill_at; /* 0: never */
	unsigned writes;
};

static void on_journal(void *userdata, const struct ep_plan *plan, unsigned n)
{
	(void)plan;
	struct killer *k = userdata;
	k->writes = n;
	if (k->kill_at && n == k->kill_at)
		_exit(KILLED);
	if (k->kill_at) {
		char *text = NULL;
		if (read_all(at(EP_JOURNAL_FILE), &text) < 0)
			_exit(4);
		FILE *f = fopen(prev_journal(), "w");
		if (!f || fputs(text, f) < 0 || fclose(f) != 0)
			_exit(5);
		free(text);
	}
}

/*
 * After run_killed(.., k): make it what a kill just BEFORE journal write k
 * leaves - the files as they are (every change of the run happens between
 * two journal writes), the journal as write k-1 left it.
 */
static void back_to_previous_journal(void)
{
	char *text = NULL;
	assert_int_equal(read_all(prev_journal(), &text), 0);
	put(EP_JOURNAL_FILE, text, 0600);
	free(text);
}

/*
 * Apply the plan that @build makes in a child, killed at its journal write
 * number @kill_at (or inside an action, as the world says); the parent sees
 * what is left on disk and in the world.
 */
static void run_killed(struct ep_plan *(*build)(void), unsigned kill_at)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ep_plan *plan = build();
		struct ep_apply_ctx ctx = { .root = scratch };
		struct killer k = { .kill_at = kill_at };
		struct ep_plan_observer obs = { .journal_synced = on_journal, .userdata = &k };
		ep_plan_apply(plan, &ctx, 0, &obs, NULL);
		_exit(3); /* not killed: the test is wrong */
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), KILLED);
}

/* How many journal writes a whole run of @build's plan makes. */
static unsigned count_writes(struct ep_plan *(*build)(void))
{
	struct ep_plan *plan = build();
	struct ep_apply_ctx ctx = { .root = scratch };
	struct killer k = { 0 };
	struct ep_plan_observer obs = { .journal_synced = on_journal, .userdata = &k };
	struct ep_error err = { 0 };
	int r = ep_plan_apply(plan, &ctx, 0, &obs, &err);
	if (r < 0)
		fail_msg("apply: %s", err.msg);
	ep_plan_free(plan);
	return k.writes;
}

static struct ep_plan *load_ok(void)
{
	struct ep_plan *plan = NULL;
	struct ep_error err = { 0 };
	int r = ep_journal_load(scratch, &plan, &err);
	if (r < 0)
		fail_msg("ep_journal_load: %s", err.msg);
	return plan;
}

/* ---- the registry ---------------------------------------------------------- */

static void test_registry(void **state)
{
	(void)state;
	const char *builtin[] = {
		"dir.create",         "file.write",        "file.chmod",
		"file.move",          "file.remove",       "systemd.daemon-reload",
		"systemd.enable-now", "systemd.start",     "systemd.stop",
		"systemd.restart",    "systemd.disable",   "systemd.mask",
		"systemd.unmask",
	};
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		const struct ep_action_type *t = ep_action_type_find(builtin[i]);
		assert_non_null(t);
		assert_string_equal(t->name, builtin[i]);
		assert_true(t->reversible);
		assert_non_null(t->undo);
	}
	assert_ptr_equal(ep_action_type_find("fake.set"), &fake_set);
	assert_null(ep_action_type_find("no.such"));
	assert_null(ep_action_type_find(NULL));
	assert_int_equal(ep_action_type_register(&fake_set), -EEXIST);
	static const struct ep_action_type dup_builtin = {
		.name = "file.write", .describe = wait_describe, .apply = wait_apply,
	};
	assert_int_equal(ep_action_type_register(&dup_builtin), -EEXIST);
	static const struct ep_action_type no_undo = {
		.name = "fake.no-undo", .reversible = true, .describe = wait_describe,
		.apply = wait_apply,
	};
	assert_int_equal(ep_action_type_register(&no_undo), -EINVAL);
	assert_int_equal(ep_action_type_register(NULL), -EINVAL);
	assert_null(ep_action_type_find("fake.no-undo"));

	/* A full registry says so (in a child: the registry is the process's). */
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static struct ep_action_type many[100];
		static char names[100][32];
		for (int i = 0; i < 100; i++) {
			snprintf(names[i], sizeof(names[i]), "fake.many-%d", i);
			many[i] = fake_wait;
			many[i].name = names[i];
			int r = ep_action_type_register(&many[i]);
			if (r == -ENOSPC)
				_exit(i > 10 ? 0 : 1);
			if (r < 0)
				_exit(2);
		}
		_exit(3);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- building and printing ----------------------------------------------- */

static const char manifest[] = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n";

static struct ep_plan *sample_plan(void)
{
	struct ep_plan *plan = ep_plan_new("init");
	struct ep_error err = { 0 };
	assert_non_null(plan);
	assert_int_equal(ep_plan_add_dir_create(plan, "etcd", "/var/lib/etcd", 0700,
						"the data directory", &err), 0);
	assert_int_equal(ep_plan_add_file_write(plan, "etcd", "/etc/kubernetes/manifests/etcd.yaml",
						0600, manifest, true, "the manifest is missing",
						&err), 1);
	assert_int_equal(ep_plan_add_file_write(plan, "systemd", "/etc/etcd/etcd.env", 0640,
						"ETCD_NAME=cp-1\n", false, NULL, &err), 2);
	assert_int_equal(ep_plan_add_file_chmod(plan, "certs", "/etc/kubernetes/pki/etcd/ca.crt",
						0644, "mode was 0666", &err), 3);
	assert_int_equal(ep_plan_add_file_move(plan, "reset", "/var/lib/etcd", "/var/lib/etcd.bak",
					       false, NULL, &err), 4);
	assert_int_equal(ep_plan_add_file_remove(plan, "reset", "/etc/etcd", true, NULL, &err), 5);
	assert_int_equal(ep_plan_add_systemd(plan, "systemd", "daemon-reload", NULL, NULL, &err),
			 6);
	assert_int_equal(ep_plan_add_systemd(plan, "systemd", "enable-now", "etcd.service", NULL,
					     &err), 7);
	assert_int_equal(ep_plan_add(plan, "wait", "fake.wait", json_object(), NULL, &err), 8);
	assert_false(ep_error_isset(&err));
	return plan;
}

static void test_build_and_json(void **state)
{
	(void)state;
	struct ep_plan *plan = sample_plan();
	assert_int_equal(ep_plan_count(plan), 9);
	assert_true(ep_plan_changes(plan));
	assert_string_equal(ep_plan_action_type(plan, 1), "file.write");
	assert_string_equal(ep_plan_action_phase(plan, 1), "etcd");
	assert_string_equal(ep_plan_action_reason(plan, 1), "the manifest is missing");
	assert_null(ep_plan_action_reason(plan, 2));
	assert_int_equal(ep_plan_action_state(plan, 1), EP_ACTION_PENDING);
	assert_string_equal(ep_plan_command(plan), "init");

	json_t *doc = ep_plan_to_json(plan);
	assert_non_null(doc);
	char *text = json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	assert_non_null(text);

	/* What a script would do: parse the one document back. */
	json_error_t jerr;
	json_t *back = json_loads(text, 0, &jerr);
	free(text);
	assert_non_null(back);
	assert_string_equal(json_string_value(json_object_get(back, "apiVersion")),
			    "etcdpilot.io/v1alpha1");
	assert_string_equal(json_string_value(json_object_get(back, "kind")), "Plan");
	assert_string_equal(json_string_value(json_object_get(back, "command")), "init");
	assert_true(json_is_true(json_object_get(back, "changes")));
	json_t *actions = json_object_get(back, "actions");
	assert_int_equal(json_array_size(actions), 9);

	/* Every file the plan writes is listed, with its path, mode and content. */
	const char *files[][3] = {
		{ "/etc/kubernetes/manifests/etcd.yaml", "0600", manifest },
		{ "/etc/etcd/etcd.env", "0640", "ETCD_NAME=cp-1\n" },
	};
	size_t found = 0, i;
	json_t *a;
	json_array_foreach(actions, i, a)
	{
		assert_string_equal(json_string_value(json_object_get(a, "state")), "pending");
		assert_non_null(json_string_value(json_object_get(a, "phase")));
		assert_non_null(json_string_value(json_object_get(a, "description")));
		assert_true(json_is_object(json_object_get(a, "params")));
		assert_null(json_object_get(a, "undo"));
		if (strcmp(json_string_value(json_object_get(a, "type")), "file.write"))
			continue;
		json_t *p = json_object_get(a, "params");
		const char *path = json_string_value(json_object_get(p, "path"));
		for (size_t f = 0; f < 2; f++)
			if (strcmp(path, files[f][0]) == 0) {
				assert_string_equal(json_string_value(json_object_get(p, "mode")),
						    files[f][1]);
				const char *content =
					json_string_value(json_object_get(p, "content"));
				assert_string_equal(content, files[f][2]);
				found |= 1u << f;
			}
	}
	assert_int_equal(found, 3);
	json_t *a1 = json_array_get(actions, 1);
	assert_string_equal(json_string_value(json_object_get(a1, "description")),
			    "write /etc/kubernetes/manifests/etcd.yaml (mode 0600)");
	assert_string_equal(json_string_value(json_object_get(a1, "reason")),
			    "the manifest is missing");
	assert_true(json_is_true(json_object_get(json_object_get(a1, "params"), "hidden_rename")));
	assert_null(json_object_get(json_array_get(actions, 2), "reason"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(actions, 7),
							      "description")),
			    "run systemctl enable --now etcd.service");
	json_decref(back);
	ep_plan_free(plan);

	/* A plan of waits changes nothing. */
	struct ep_plan *waits = ep_plan_new("health");
	struct ep_error err = { 0 };
	assert_int_equal(ep_plan_add(waits, "wait", "fake.wait", json_object(), NULL, &err), 0);
	assert_false(ep_plan_changes(waits));
	doc = ep_plan_to_json(waits);
	assert_true(json_is_false(json_object_get(doc, "changes")));
	json_decref(doc);
	ep_plan_free(waits);
}

static void test_add_refusals(void **state)
{
	(void)state;
	struct ep_plan *plan = ep_plan_new("init");
	struct ep_error err = { 0 };

	/* The params are the plan's even when refused (ASan counts the leaks). */
	assert_int_equal(ep_plan_add(plan, "x", "no.such", json_object(), NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown action type 'no.such'"));
	ep_error_clear(&err);
	assert_int_equal(ep_plan_add(plan, "x", "file.write", json_array(), NULL, &err), -EINVAL);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_add(plan, "x", "file.write", NULL, NULL, &err), -ENOMEM);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_add_file_write(plan, "x", "etc/relative", 0600, "x", false, NULL,
						&err), -EINVAL);
	assert_non_null(strstr(err.msg, "absolute path"));
	ep_error_clear(&err);
	assert_int_equal(ep_plan_add(plan, "x", "file.write",
				     json_pack("{s:s,s:s,s:s}", "path", "/a", "mode", "0999",
					       "content", ""),
				     NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "mode"));
	ep_error_clear(&err);
	assert_int_equal(ep_plan_add(plan, "x", "file.write",
				     json_pack("{s:s,s:s,s:s,s:s}", "path", "/a", "mode", "0600",
					       "content", "", "hidden_rename", "yes"),
				     NULL, &err), -EINVAL);
	ep_error_clear(&err);
	/* Never a private key in a plan, nor therefore in the journal. */
	const char *key =
		"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n";
	assert_int_equal(ep_plan_add_file_write(plan, "certs", "/etc/k/server.key", 0600, key,
						false, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "private key"));
	ep_error_clear(&err);
	assert_int_equal(ep_plan_add_file_write(plan, "certs", "/etc/k/server.crt", 0644,
						"-----BEGIN CERTIFICATE-----\nMII\n-----END "
						"CERTIFICATE-----\n",
						false, NULL, &err), 0);
	assert_int_equal(ep_plan_add_systemd(plan, "s", "enable-now", "../etcd.service", NULL,
					     &err), -EINVAL);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_add_systemd(plan, "s", "enable-now", NULL, NULL, &err), -EINVAL);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_add_systemd(plan, "s", "explode", "etcd.service", NULL, &err),
			 -EINVAL);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_add_file_remove(plan, "s", "/", true, NULL, &err), -EINVAL);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_add(plan, "x", "fake.set", json_pack("{s:i}", "slot", 99), NULL,
				     &err), -EINVAL);
	assert_int_equal(ep_plan_count(plan), 1);
	ep_plan_free(plan);
	ep_plan_free(NULL);
}

static void test_to_text(void **state)
{
	(void)state;
	struct ep_plan *plan = sample_plan();
	struct ep_strbuf out = EP_STRBUF_INIT;
	ep_plan_to_text(plan, &out);
	const char *want =
		"[dryrun] [etcd] Would create directory /var/lib/etcd (mode 0700): the data "
		"directory\n"
		"[dryrun] [etcd] Would write /etc/kubernetes/manifests/etcd.yaml (mode 0600): the "
		"manifest is missing\n"
		"\tapiVersion: v1\n"
		"\tkind: Pod\n"
		"\tmetadata:\n"
		"\t  name: etcd\n"
		"[dryrun] [systemd] Would write /etc/etcd/etcd.env (mode 0640)\n"
		"\tETCD_NAME=cp-1\n"
		"[dryrun] [certs] Would set the mode of /etc/kubernetes/pki/etcd/ca.crt to 0644: "
		"mode was 0666\n"
		"[dryrun] [reset] Would move /var/lib/etcd aside to /var/lib/etcd.bak\n"
		"[dryrun] [reset] Would remove /etc/etcd and everything in it\n"
		"[dryrun] [systemd] Would run systemctl daemon-reload\n"
		"[dryrun] [systemd] Would run systemctl enable --now etcd.service\n"
		"[dryrun] [wait] Would wait for nothing\n";
	assert_string_equal(ep_strbuf_str(&out), want);
	ep_strbuf_release(&out);
	ep_plan_free(plan);

	/* Control characters from a file or the cluster never reach the terminal raw. */
	plan = ep_plan_new("init");
	struct ep_error err = { 0 };
	assert_int_equal(ep_plan_add_file_write(plan, "etcd", "/etc/a\033[2Jb", 0600,
						"x\033[2Jy\nlast", false, "why\r", &err), 0);
	ep_plan_to_text(plan, &out);
	assert_string_equal(ep_strbuf_str(&out),
			    "[dryrun] [etcd] Would write /etc/a\\x1b[2Jb (mode 0600): why\\r\n"
			    "\tx\\x1b[2Jy\n"
			    "\tlast\n");
	ep_strbuf_release(&out);
	ep_plan_free(plan);

	plan = ep_plan_new("reset");
	ep_plan_to_text(plan, &out);
	assert_string_equal(ep_strbuf_str(&out),
			    "[dryrun] Nothing to do: the plan of 'reset' is empty\n");
	ep_strbuf_release(&out);
	ep_plan_free(plan);
}

/* ---- applying ---------------------------------------------------------------- */

static void test_apply_in_order(void **state)
{
	(void)state;
	for (int journal = 0; journal < 2; journal++) {
		world_reset();
		struct ep_plan *plan = fake_plan("init", 5);
		add_fake(plan, "fake.wait", 0);
		struct ep_apply_ctx ctx = ctx_for_scratch();
		struct ep_error err = { 0 };
		int r = ep_plan_apply(plan, &ctx, journal ? 0 : EP_APPLY_NO_JOURNAL, NULL, &err);
		if (r < 0)
			fail_msg("%s", err.msg);
		const int want[] = { 1, 2, 3, 4, 5 };
		assert_log(want, 5);
		assert_true(world_all(1, 5));
		for (size_t i = 0; i < 6; i++)
			assert_int_equal(ep_plan_action_state(plan, i), EP_ACTION_DONE);
		/* Changed is counted from the plan: the wait is not a change. */
		assert_int_equal(ep_plan_count_changed(plan), 5);
		assert_int_equal(json_integer_value(json_object_get(ep_plan_action_undo(plan, 2),
								    "token")),
				 102);
		assert_false(journal_there());
		assert_non_null(strstr(ep_strbuf_str(&logbuf), "[p0] Set fake slot 0: done\n"));
		assert_null(ctx.engine);
		ep_plan_free(plan);
	}
}

static void test_undo_order_on_failure(void **state)
{
	(void)state;
	const int n = 5;
	for (int after = 0; after < 2; after++)
		for (int f = 0; f < n; f++) {
			world_reset();
			W->fail_slot = f;
			W->fail_after_effect = after;
			struct ep_plan *plan = fake_plan("join", n);
			struct ep_apply_ctx ctx = ctx_for_scratch();
			struct ep_error err = { 0 };
			assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
			/* Applied 0..f, then undone f..0: the failed one may be half done. */
			int want[2 * SLOTS], k = 0;
			for (int i = 0; i <= f; i++)
				want[k++] = i + 1;
			for (int i = f; i >= 0; i--)
				want[k++] = -(i + 1);
			assert_log(want, k);
			assert_true(world_all(0, n));
			assert_int_equal(W->bad_undo, 0);
			for (int i = 0; i < n; i++)
				assert_int_equal(ep_plan_action_state(plan, (size_t)i),
						 i <= f ? EP_ACTION_UNDONE : EP_ACTION_PENDING);
			char want_msg[128];
			snprintf(want_msg, sizeof(want_msg), "[p%d] set fake slot %d: fake failure",
				 f, f);
			assert_non_null(strstr(err.msg, want_msg));
			assert_non_null(strstr(err.msg, "was undone"));
			assert_int_equal(err.kind, EP_ERR_FAILED);
			assert_false(journal_there());
			assert_int_equal(ep_plan_count_changed(plan), 0);
			ep_plan_free(plan);
		}
}

static void test_no_rollback_then_resume(void **state)
{
	(void)state;
	world_reset();
	W->fail_slot = 2;
	struct ep_plan *plan = fake_plan("join", 5);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	assert_int_equal(ep_plan_apply(plan, &ctx, EP_APPLY_NO_ROLLBACK, NULL, &err), -EIO);
	assert_non_null(strstr(err.msg, "nothing was undone"));
	assert_non_null(strstr(err.msg, "etcdpilot join --resume"));
	assert_non_null(strstr(err.msg, "etcdpilot join --rollback"));
	assert_int_equal(W->slot[0] + W->slot[1], 2);
	assert_int_equal(W->slot[2] + W->slot[3] + W->slot[4], 0);
	assert_true(journal_there());
	ep_plan_free(plan);

	plan = load_ok();
	assert_string_equal(ep_plan_command(plan), "join");
	const enum ep_action_state want[] = { EP_ACTION_DONE, EP_ACTION_DONE, EP_ACTION_FAILED,
					      EP_ACTION_PENDING, EP_ACTION_PENDING };
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(ep_plan_action_state(plan, i), want[i]);
	assert_true(ep_journal_can_rollback(plan));
	W->fail_slot = -1;
	ep_error_clear(&err);
	int r = ep_journal_resume(plan, &ctx, 0, NULL, &err);
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_true(world_all(1, 5));
	/* Done ones are not applied again; the failed one is. */
	assert_int_equal(W->applies[0], 1);
	assert_int_equal(W->applies[1], 1);
	assert_int_equal(W->applies[2], 2);
	assert_false(journal_there());
	ep_plan_free(plan);
}

static void test_irreversible_stops_rollback(void **state)
{
	(void)state;
	world_reset();
	W->fail_slot = 4;
	struct ep_plan *plan = ep_plan_new("reset");
	add_fake(plan, "fake.set", 0);
	add_fake(plan, "fake.set", 1);
	add_fake(plan, "fake.once", 2);
	add_fake(plan, "fake.set", 3);
	add_fake(plan, "fake.set", 4);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	const int want[] = { 1, 2, 3, 4, 5, -5, -4 };
	assert_log(want, 7);
	assert_int_equal(W->slot[0] + W->slot[1] + W->slot[2], 3);
	assert_int_equal(W->slot[3] + W->slot[4], 0);
	assert_non_null(strstr(err.msg, "[p2] set fake slot 2' was done and cannot be undone"));
	assert_non_null(strstr(err.msg, "etcdpilot reset --resume"));
	assert_null(strstr(err.msg, "--rollback"));
	assert_true(journal_there());
	ep_plan_free(plan);

	plan = load_ok();
	assert_false(ep_journal_can_rollback(plan));
	ep_error_clear(&err);
	assert_int_equal(ep_journal_rollback(plan, &ctx, NULL, &err), -EPERM);
	assert_non_null(strstr(err.msg, "cannot be undone"));
	assert_int_equal(W->undos[0] + W->undos[1], 0);
	assert_true(journal_there());
	W->fail_slot = -1;
	ep_error_clear(&err);
	int r = ep_journal_resume(plan, &ctx, 0, NULL, &err);
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_true(world_all(1, 5));
	assert_int_equal(W->applies[2], 1);
	assert_false(journal_there());
	ep_plan_free(plan);
}

/*
 * A remote undo that cannot reach the cluster is deferred: the node's own
 * undos after it go on, the rollback stops before the next remote action,
 * the journal is kept and only a rollback can end the run (a resume would
 * apply the node's part again on top of what is left).
 */
static void test_deferred_undo(void **state)
{
	(void)state;
	world_reset();
	W->fail_slot = 4;
	W->unreachable = true;
	struct ep_plan *plan = ep_plan_new("join");
	add_fake(plan, "fake.set", 0);    /* the certificates that reach the cluster */
	add_fake(plan, "fake.remote", 1); /* member.add */
	add_fake(plan, "fake.set", 2);    /* the data dir, the manifest */
	add_fake(plan, "fake.remote", 3); /* member.promote */
	add_fake(plan, "fake.set", 4);    /* fails */
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	const int want[] = { 1, 2, 3, 4, 5, -5, -3 };
	assert_log(want, 7);
	assert_int_equal(W->undos[3], 1); /* tried, deferred */
	assert_int_equal(W->undos[1], 0); /* never tried: the rollback stopped before it */
	assert_true(W->slot[0] && W->slot[1] && !W->slot[2] && W->slot[3] && !W->slot[4]);
	assert_non_null(strstr(err.msg, "fake failure; the rollback did not finish: '[p3] set "
					"fake slot 3' is left for later: fake cluster out of reach"));
	assert_non_null(strstr(err.msg, "but not '[p1] set fake slot 1' and what comes before it"));
	assert_non_null(strstr(err.msg, "run 'etcdpilot join --rollback' to finish undoing it"));
	assert_null(strstr(err.msg, "--resume"));
	assert_true(journal_there());
	ep_plan_free(plan);
	/* the journal marks the action left for later, and only that one */
	json_t *doc = json_load_file(at(EP_JOURNAL_FILE), 0, NULL);
	assert_non_null(doc);
	size_t k, ndef = 0;
	json_t *act;
	json_array_foreach(json_object_get(doc, "actions"), k, act) {
		if (!json_is_true(json_object_get(act, "deferred")))
			continue;
		ndef++;
		assert_int_equal(json_integer_value(json_object_get(json_object_get(act, "params"),
								    "slot")),
				 3);
	}
	assert_int_equal(ndef, 1);
	json_decref(doc);

	/* resuming is refused, nothing applied */
	plan = load_ok();
	assert_true(ep_journal_rolling_back(plan));
	assert_false(ep_journal_can_resume(plan));
	assert_true(ep_journal_can_rollback(plan));
	W->fail_slot = -1;
	ep_error_clear(&err);
	assert_int_equal(ep_journal_resume(plan, &ctx, 0, NULL, &err), -EPERM);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "partly undone: '[p3] set fake slot 3' was left for later"));
	assert_int_equal(W->applies[2], 1);
	ep_plan_free(plan);

	/* still out of reach: deferred again, nothing else touched */
	plan = load_ok();
	ep_error_clear(&err);
	assert_int_equal(ep_journal_rollback(plan, &ctx, NULL, &err), -EAGAIN);
	assert_int_equal(W->undos[3], 2);
	assert_int_equal(W->undos[2], 1);
	assert_int_equal(W->undos[1], 0);
	assert_non_null(strstr(err.msg, "is kept: run 'etcdpilot join --rollback'"));
	assert_true(journal_there());
	ep_plan_free(plan);

	/* reachable again: the rollback ends the run */
	W->unreachable = false;
	plan = load_ok();
	ep_error_clear(&err);
	int r = ep_journal_rollback(plan, &ctx, NULL, &err);
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_true(world_all(0, 5));
	assert_int_equal(W->undos[2], 1); /* undone once only */
	assert_int_equal(W->bad_undo, 0);
	assert_false(journal_there());
	ep_plan_free(plan);

	/*
	 * The first remote action deferred (no other before it, as with the
	 * cluster-check phase skipped): what comes before it (the certificates
	 * that reach the cluster) is kept too.
	 */
	world_reset();
	W->fail_slot = 2;
	W->unreachable = true;
	plan = ep_plan_new("join");
	add_fake(plan, "fake.set", 0);
	add_fake(plan, "fake.remote", 1);
	add_fake(plan, "fake.set", 2);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	assert_true(W->slot[0] && W->slot[1] && !W->slot[2]);
	assert_int_equal(W->undos[0], 0);
	assert_non_null(strstr(err.msg, "but not '[p0] set fake slot 0' and what comes before it"));
	assert_true(journal_there());
	ep_plan_free(plan);
	W->unreachable = false;
	plan = load_ok();
	ep_error_clear(&err);
	assert_int_equal(ep_journal_rollback(plan, &ctx, NULL, &err), 0);
	assert_true(world_all(0, 3));
	assert_int_equal(W->undos[0], 1);
	ep_plan_free(plan);

	/*
	 * No deferral: a remote action done before an irreversible one the
	 * rollback stopped at (reset's move-leader, then its member removal)
	 * does not make the journal "partly undone": resuming ends it.
	 */
	world_reset();
	W->fail_slot = 2;
	plan = ep_plan_new("reset");
	add_fake(plan, "fake.remote", 0);
	add_fake(plan, "fake.once", 1);
	add_fake(plan, "fake.set", 2);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	assert_non_null(strstr(err.msg, "cannot be undone"));
	assert_non_null(strstr(err.msg, "etcdpilot reset --resume"));
	ep_plan_free(plan);
	plan = load_ok();
	assert_true(ep_journal_can_resume(plan));
	W->fail_slot = -1;
	ep_error_clear(&err);
	r = ep_journal_resume(plan, &ctx, 0, NULL, &err);
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_true(world_all(1, 3));
	assert_false(journal_there());
	ep_plan_free(plan);

	/* only a remote type may defer: from another it is an error that stops the rollback */
	world_reset();
	W->fail_slot = 2;
	plan = ep_plan_new("init");
	add_fake(plan, "fake.set", 0);
	add_fake(plan, "fake.local-deferring", 1);
	add_fake(plan, "fake.set", 2);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	assert_non_null(strstr(err.msg, "its undo answered 2"));
	assert_int_equal(W->slot[0], 1);
	ep_plan_free(plan);
	plan = load_ok();
	assert_true(ep_journal_can_resume(plan));
	ep_plan_free(plan);
}

/* ep_undo_deadline: the undo's budget, capped by the command's end, never under the floor. */
static void test_undo_deadline(void **state)
{
	(void)state;
	struct ep_apply_ctx ctx = { 0 };
	uint64_t now = ep_now_ms();
	uint64_t d = ep_undo_deadline(&ctx, 20000);
	assert_true(d >= now + 20000 && d < now + 21000);
	ctx.undo_deadline_ms = now + 8000;
	d = ep_undo_deadline(&ctx, 20000);
	assert_int_equal(d, now + 8000);
	d = ep_undo_deadline(&ctx, 5000);
	assert_true(d >= now + 5000 && d < now + 5500);
	ctx.undo_deadline_ms = now + 1000; /* less than a member needs to be seen down */
	d = ep_undo_deadline(&ctx, 20000);
	assert_true(d >= now + EP_UNDO_MIN_MS && d < now + EP_UNDO_MIN_MS + 500);
	ctx.undo_deadline_ms = now > 5000 ? now - 5000 : 1; /* already past */
	d = ep_undo_deadline(&ctx, 20000);
	assert_true(d >= now + EP_UNDO_MIN_MS && d < now + EP_UNDO_MIN_MS + 500);
}

static void test_irreversible_failed(void **state)
{
	(void)state;
	/* A failed irreversible action with a check that says "no effect": rollback goes on. */
	world_reset();
	W->fail_slot = 1;
	struct ep_plan *plan = ep_plan_new("reset");
	add_fake(plan, "fake.set", 0);
	add_fake(plan, "fake.checked", 1);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	assert_int_equal(W->undos[1], 1);
	assert_true(world_all(0, 2));
	assert_false(journal_there());
	ep_plan_free(plan);

	/* It did take effect: the check says so and rollback stops there. */
	world_reset();
	W->fail_slot = 1;
	W->fail_after_effect = true;
	plan = ep_plan_new("reset");
	add_fake(plan, "fake.set", 0);
	add_fake(plan, "fake.checked", 1);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	assert_non_null(strstr(err.msg, "it took effect"));
	assert_int_equal(W->slot[0], 1);
	assert_true(journal_there());
	ep_plan_free(plan);
	plan = load_ok();
	W->fail_slot = -1;
	ep_error_clear(&err);
	assert_int_equal(ep_journal_resume(plan, &ctx, 0, NULL, &err), 0);
	ep_plan_free(plan);

	/* Without a check, nobody knows: rollback stops before it. */
	world_reset();
	W->fail_slot = 1;
	plan = ep_plan_new("reset");
	add_fake(plan, "fake.set", 0);
	add_fake(plan, "fake.once", 1);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	assert_non_null(strstr(err.msg, "may have taken effect"));
	assert_int_equal(W->slot[0], 1);
	assert_int_equal(W->undos[0], 0);
	ep_plan_free(plan);
	plan = load_ok();
	assert_false(ep_journal_can_rollback(plan));
	assert_int_equal(ep_plan_action_state(plan, 1), EP_ACTION_FAILED);
	ep_plan_free(plan);
}

static void test_skipped_is_not_undone(void **state)
{
	(void)state;
	/* A file already as wanted is skipped, counts as no change, and is never undone. */
	mkdirs("/etc/app", 0755);
	put("/etc/app/a.conf", "same\n", 0644);
	world_reset();
	W->fail_slot = 0;
	struct ep_plan *plan = ep_plan_new("init");
	struct ep_error err = { 0 };
	assert_int_equal(ep_plan_add_file_write(plan, "x", "/etc/app/a.conf", 0644, "same\n", false,
						NULL, &err), 0);
	add_fake(plan, "fake.set", 0);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	assert_int_equal(ep_plan_action_state(plan, 0), EP_ACTION_SKIPPED);
	assert_non_null(strstr(ep_strbuf_str(&logbuf),
			       "[x] Write /etc/app/a.conf (mode 0644): nothing to do\n"));
	assert_content("/etc/app/a.conf", "same\n");
	ep_plan_free(plan);

	world_reset();
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_write(plan, "x", "/etc/app/a.conf", 0644, "same\n", false,
						NULL, &err), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), 0);
	assert_int_equal(ep_plan_count_changed(plan), 0);
	ep_plan_free(plan);
}

static struct ep_plan *idem_then_set(void)
{
	struct ep_plan *plan = ep_plan_new("join");
	add_fake(plan, "fake.idem", 0);
	add_fake(plan, "fake.set", 1);
	return plan;
}

/*
 * Killed after an action's effect, before "done": the re-apply of the resume
 * finds it already the case; what it recorded makes it done (not skipped),
 * so a later failure still undoes it.
 */
static void test_reapplied_skip_is_done(void **state)
{
	(void)state;
	world_reset();
	W->crash_slot = 0;
	run_killed(idem_then_set, 0);
	W->crash_slot = -1;
	assert_int_equal(W->slot[0], 1);
	struct ep_plan *plan = load_ok();
	assert_int_equal(ep_plan_action_state(plan, 0), EP_ACTION_RUNNING);
	W->fail_slot = 1;
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	assert_int_equal(ep_journal_resume(plan, &ctx, 0, NULL, &err), -EIO);
	assert_int_equal(W->applies[0], 2);
	assert_int_equal(ep_plan_action_state(plan, 0), EP_ACTION_UNDONE);
	assert_true(world_all(0, 2));
	assert_false(journal_there());
	ep_plan_free(plan);

	/* Really already the case before the run, with nothing recorded: skipped, kept. */
	world_reset();
	W->slot[0] = 1;
	W->fail_slot = 1;
	plan = idem_then_set();
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	assert_int_equal(ep_plan_action_state(plan, 0), EP_ACTION_SKIPPED);
	assert_int_equal(W->undos[0], 0);
	assert_int_equal(W->slot[0], 1);
	ep_plan_free(plan);
}

/* ---- the journal ---------------------------------------------------------------- */

static void test_journal_format(void **state)
{
	(void)state;
	world_reset();
	W->fail_slot = 1;
	struct ep_plan *plan = fake_plan("join", 3);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	assert_int_equal(ep_plan_apply(plan, &ctx, EP_APPLY_NO_ROLLBACK, NULL, &err), -EIO);
	ep_plan_free(plan);

	assert_int_equal(mode_of(EP_JOURNAL_FILE), 0600);
	assert_int_equal(mode_of(EP_JOURNAL_DIR), 0700);
	json_error_t jerr;
	json_t *j = json_load_file(at(EP_JOURNAL_FILE), 0, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "apiVersion")),
			    "etcdpilot.io/v1alpha1");
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "Journal");
	assert_string_equal(json_string_value(json_object_get(j, "command")), "join");
	assert_string_equal(json_string_value(json_object_get(j, "status")), "applying");
	const char *id = json_string_value(json_object_get(j, "id"));
	assert_non_null(id);
	assert_int_equal(strlen(id), 16);
	assert_int_equal(strspn(id, "0123456789abcdef"), 16);
	char started[32];
	assert_non_null(json_string_value(json_object_get(j, "started")));
	snprintf(started, sizeof(started), "%s", json_string_value(json_object_get(j, "started")));
	assert_int_equal(strlen(started), 20); /* 2025-01-31T12:00:00Z */
	assert_int_equal(started[10], 'T');
	assert_int_equal(started[19], 'Z');
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), getpid());
	json_t *actions = json_object_get(j, "actions");
	assert_int_equal(json_array_size(actions), 3);
	const char *states[] = { "done", "failed", "pending" };
	for (size_t i = 0; i < 3; i++) {
		json_t *a = json_array_get(actions, i);
		assert_string_equal(json_string_value(json_object_get(a, "type")), "fake.set");
		char phase[8];
		snprintf(phase, sizeof(phase), "p%zu", i);
		assert_string_equal(json_string_value(json_object_get(a, "phase")), phase);
		assert_string_equal(json_string_value(json_object_get(a, "reason")), "because");
		assert_string_equal(json_string_value(json_object_get(a, "state")), states[i]);
		assert_int_equal(json_integer_value(json_object_get(json_object_get(a, "params"),
								    "slot")),
				 (json_int_t)i);
		assert_true(json_is_object(json_object_get(a, "undo")));
	}
	assert_int_equal(json_integer_value(json_object_get(
				 json_object_get(json_array_get(actions, 0), "undo"), "token")),
			 100);
	json_decref(j);

	/* Loaded back: the same facts, and to_json shows the undo data. */
	plan = load_ok();
	assert_string_equal(ep_plan_started(plan), started);
	json_t *doc = ep_plan_to_json(plan);
	json_t *a0 = json_array_get(json_object_get(doc, "actions"), 0);
	assert_string_equal(json_string_value(json_object_get(a0, "state")), "done");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(a0, "undo"), "token")),
			 100);
	json_decref(doc);
	/* A plan loaded from a journal is not applied afresh. */
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EINVAL);
	ep_error_clear(&err);
	assert_int_equal(ep_journal_rollback(plan, &ctx, NULL, &err), 0);
	assert_true(world_all(0, 3));
	assert_false(journal_there());
	ep_plan_free(plan);
}

static void test_journal_of_another_run_refused(void **state)
{
	(void)state;
	world_reset();
	W->fail_slot = 1;
	struct ep_plan *plan = fake_plan("join", 3);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	assert_int_equal(ep_plan_apply(plan, &ctx, EP_APPLY_NO_ROLLBACK, NULL, &err), -EIO);
	ep_plan_free(plan);
	char *before = get(EP_JOURNAL_FILE);
	assert_non_null(before);

	world_reset();
	plan = fake_plan("init", 3);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EBUSY);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "an interrupted 'etcdpilot join' (started "));
	assert_non_null(strstr(err.msg, "nothing was changed"));
	assert_non_null(strstr(err.msg, "run 'etcdpilot join --resume' to finish it or "
					 "'etcdpilot join --rollback' to undo it"));
	assert_int_equal(W->nlog, 0);
	/* The other run's journal is untouched. */
	char *after = get(EP_JOURNAL_FILE);
	assert_string_equal(before, after);
	free(before);
	free(after);
	ep_plan_free(plan);

	/* A journal that cannot be read: refused too, naming the file. */
	put(EP_JOURNAL_FILE, "{ not json", 0600);
	plan = fake_plan("init", 1);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EBUSY);
	assert_int_equal(err.code, -EBUSY);
	assert_non_null(strstr(err.msg, "journal.json' cannot be read"));
	assert_int_equal(W->nlog, 0);
	ep_plan_free(plan);
}

static void test_journal_lock(void **state)
{
	(void)state;
	mkdirs(EP_JOURNAL_DIR, 0700);
	int fd = open(at(EP_JOURNAL_DIR), O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);

	world_reset();
	struct ep_plan *plan = fake_plan("init", 2);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "another etcdpilot is writing there"));
	assert_int_equal(W->nlog, 0);
	assert_false(journal_there());
	close(fd);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), 0);
	ep_plan_free(plan);
}

static void test_journal_unreadable(void **state)
{
	(void)state;
	struct ep_plan *plan = NULL;
	struct ep_error err = { 0 };
	assert_int_equal(ep_journal_load(scratch, &plan, &err), -ENOENT);
	assert_null(plan);

	mkdirs(EP_JOURNAL_DIR, 0700);
	const char *bad[][2] = {
		{ "[]", "not a etcdpilot.io/v1alpha1 Journal" },
		{ "{\"apiVersion\":\"etcdpilot.io/v1alpha1\",\"kind\":\"Journal\"}", "missing" },
		{ "{\"apiVersion\":\"etcdpilot.io/v1alpha1\",\"kind\":\"Journal\",\"id\":"
		  "\"0123456789abcdef\",\"command\":\"join\",\"started\":\"x\",\"pid\":1,"
		  "\"status\":\"applying\",\"actions\":[{\"phase\":\"p\",\"type\":\"member.zap\","
		  "\"params\":{},\"state\":\"done\"}]}",
		  "type 'member.zap', which this etcdpilot does not know" },
		{ "{\"apiVersion\":\"etcdpilot.io/v1alpha1\",\"kind\":\"Journal\",\"id\":"
		  "\"0123456789abcdef\",\"command\":\"join\",\"started\":\"x\",\"pid\":1,"
		  "\"status\":\"applying\",\"actions\":[{\"phase\":\"p\",\"type\":\"fake.set\","
		  "\"params\":{\"slot\":1},\"state\":\"half\"}]}",
		  "action 1 is malformed" },
		{ "{\"apiVersion\":\"etcdpilot.io/v1alpha1\",\"kind\":\"Journal\",\"id\":"
		  "\"0123456789abcdef\",\"command\":\"join\",\"started\":\"x\",\"pid\":1,"
		  "\"status\":\"applying\",\"actions\":[{\"phase\":\"p\",\"type\":\"fake.set\","
		  "\"params\":{\"slot\":77},\"state\":\"done\"}]}",
		  "action 1: a fake action needs 'slot'" },
		{ "{\"apiVersion\":\"etcdpilot.io/v1alpha1\",\"kind\":\"Journal\",\"id\":"
		  "\"0123456789abcdef\",\"command\":\"join\",\"started\":\"x\",\"pid\":1,"
		  "\"status\":\"dancing\",\"actions\":[]}",
		  "unknown status 'dancing'" },
		{ "{\"apiVersion\":\"etcdpilot.io/v1alpha1\",\"kind\":\"Journal\",\"id\":"
		  "\"0123456789abcdef\",\"command\":\"join\",\"started\":\"x\",\"pid\":1,"
		  "\"status\":\"rolling-back\",\"actions\":[{\"phase\":\"p\",\"type\":"
		  "\"fake.remote\",\"params\":{\"slot\":1},\"state\":\"done\",\"deferred\":\"yes\"}]}",
		  "action 1 is malformed" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(EP_JOURNAL_FILE, bad[i][0], 0600);
		ep_error_clear(&err);
		assert_int_equal(ep_journal_load(scratch, &plan, &err), -EINVAL);
		assert_int_equal(err.kind, EP_ERR_USAGE);
		if (!strstr(err.msg, bad[i][1]))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i][1]);
		assert_non_null(strstr(err.msg, at(EP_JOURNAL_FILE)));
	}
}

static struct ep_plan *four_fakes(void)
{
	return fake_plan("join", 4);
}

/* After a run killed anywhere: resume ends with all applied, rollback with none. */
static void test_killed_at_every_journal_write(void **state)
{
	(void)state;
	world_reset();
	unsigned total = count_writes(four_fakes);
	/* pending, then running + done for each of 4, then committing. */
	assert_int_equal(total, 1 + 4 * 2 + 1);
	for (unsigned kk = 2; kk <= 2 * total; kk++) {
		/* Killed at write k, or (odd kk) just before it, after what came before it. */
		unsigned k = kk / 2;
		bool before = kk % 2;
		if (before && k == 1)
			continue;
		/* Resume. */
		world_reset();
		run_killed(four_fakes, k);
		if (before)
			back_to_previous_journal();
		assert_true(journal_there());
		struct ep_plan *plan = load_ok();
		int applies_before[SLOTS];
		memcpy(applies_before, W->applies, sizeof(applies_before));
		enum ep_action_state loaded[4];
		for (size_t i = 0; i < 4; i++)
			loaded[i] = ep_plan_action_state(plan, i);
		struct ep_apply_ctx ctx = ctx_for_scratch();
		struct ep_error err = { 0 };
		int r = ep_journal_resume(plan, &ctx, 0, NULL, &err);
		if (r < 0)
			fail_msg("k=%u: resume: %s", k, err.msg);
		assert_true(world_all(1, 4));
		assert_false(journal_there());
		assert_int_equal(W->bad_undo, 0);
		/* What the journal said was done was not done again. */
		for (size_t i = 0; i < 4; i++)
			if (loaded[i] == EP_ACTION_DONE)
				assert_int_equal(W->applies[i], applies_before[i]);
			else
				assert_int_equal(W->applies[i], applies_before[i] + 1);
		ep_plan_free(plan);

		/* Rollback, from the same point. */
		world_reset();
		run_killed(four_fakes, k);
		if (before)
			back_to_previous_journal();
		plan = load_ok();
		ep_error_clear(&err);
		if (k == total && !before) {
			/* It had completed: only cleaning up was left, which resume does. */
			assert_false(ep_journal_can_rollback(plan));
			assert_int_equal(ep_journal_rollback(plan, &ctx, NULL, &err), -EPERM);
			assert_non_null(strstr(err.msg, "--resume"));
			ep_error_clear(&err);
			assert_int_equal(ep_journal_resume(plan, &ctx, 0, NULL, &err), 0);
			assert_true(world_all(1, 4));
		} else {
			assert_true(ep_journal_can_rollback(plan));
			r = ep_journal_rollback(plan, &ctx, NULL, &err);
			if (r < 0)
				fail_msg("k=%u: rollback: %s", k, err.msg);
			assert_true(world_all(0, 4));
			assert_int_equal(W->bad_undo, 0);
		}
		assert_false(journal_there());
		ep_plan_free(plan);
	}
}

/* Killed inside an action, before or after its effect. */
static void test_killed_inside_each_action(void **state)
{
	(void)state;
	for (int after = 0; after < 2; after++)
		for (int s = 0; s < 4; s++) {
			for (int rollback = 0; rollback < 2; rollback++) {
				world_reset();
				W->crash_slot = s;
				W->crash_after_effect = after;
				run_killed(four_fakes, 0);
				W->crash_slot = -1;
				struct ep_plan *plan = load_ok();
				assert_int_equal(ep_plan_action_state(plan, (size_t)s),
						 EP_ACTION_RUNNING);
				struct ep_apply_ctx ctx = ctx_for_scratch();
				struct ep_error err = { 0 };
				int r = rollback ? ep_journal_rollback(plan, &ctx, NULL, &err)
						 : ep_journal_resume(plan, &ctx, 0, NULL, &err);
				if (r < 0)
					fail_msg("slot %d: %s", s, err.msg);
				assert_true(world_all(rollback ? 0 : 1, 4));
				assert_false(journal_there());
				assert_int_equal(W->bad_undo, 0);
				/* The running one is undone, though it had recorded nothing. */
				if (rollback)
					assert_int_equal(W->undos[s], 1);
				ep_plan_free(plan);
			}
		}
}

static void test_resume_stale(void **state)
{
	(void)state;
	world_reset();
	W->fail_slot = 1;
	struct ep_plan *plan = fake_plan("join", 2);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	assert_int_equal(ep_plan_apply(plan, &ctx, EP_APPLY_NO_ROLLBACK, NULL, &err), -EIO);
	ep_plan_free(plan);
	plan = load_ok();
	struct ep_plan *other = load_ok();
	W->fail_slot = -1;
	ep_error_clear(&err);
	assert_int_equal(ep_journal_rollback(other, &ctx, NULL, &err), 0);
	ep_plan_free(other);
	/* The journal went away under the first loader: it is told, and nothing runs. */
	world_reset();
	ep_error_clear(&err);
	assert_int_equal(ep_journal_resume(plan, &ctx, 0, NULL, &err), -ESTALE);
	assert_non_null(strstr(err.msg, "is gone"));
	assert_int_equal(W->nlog, 0);
	ep_plan_free(plan);
}

/* ---- the built-in file and directory types ----------------------------------- */

static void test_file_write(void **state)
{
	(void)state;
	journal_dir();
	mkdirs("/etc/app", 0755);
	put("/etc/app/old.conf", "old\n", 0640);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };

	/* Rolled back: the old file is back with its mode; the new one is gone. */
	world_reset();
	W->fail_slot = 0;
	struct ep_plan *plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_write(plan, "x", "/etc/app/old.conf", 0600, "new\n",
						false, NULL, &err), 0);
	assert_int_equal(ep_plan_add_file_write(plan, "x", "/etc/app/new.conf", 0644, "fresh\n",
						false, NULL, &err), 1);
	add_fake(plan, "fake.set", 0);
	char *before = snapshot();
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	char *after = snapshot();
	assert_string_equal(before, after);
	free(after);
	ep_plan_free(plan);

	/* Applied: new content and mode, nothing else left beside them or in the journal dir. */
	world_reset();
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_write(plan, "x", "/etc/app/old.conf", 0600, "new\n",
						false, NULL, &err), 0);
	assert_int_equal(ep_plan_add_file_write(plan, "x", "/etc/app/new.conf", 0644, "fresh\n",
						false, NULL, &err), 1);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), 0);
	assert_content("/etc/app/old.conf", "new\n");
	assert_int_equal(mode_of("/etc/app/old.conf"), 0600);
	assert_content("/etc/app/new.conf", "fresh\n");
	assert_int_equal(mode_of("/etc/app/new.conf"), 0644);
	after = snapshot();
	assert_non_null(strstr(after, "/var/lib/etcdpilot 0700 dir\n"));
	assert_null(strstr(after, "journal"));
	assert_null(strstr(after, ".ep-"));
	assert_int_equal(ep_plan_count_changed(plan), 2);
	free(after);
	free(before);
	ep_plan_free(plan);

	/* Never through a symlink, never over a directory. */
	assert_int_equal(symlink("/etc/app/new.conf", at("/etc/app/link")), 0);
	mkdirs("/etc/app/dir", 0755);
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_write(plan, "x", "/etc/app/link", 0600, "evil\n", false,
						NULL, &err), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -ELOOP);
	assert_non_null(strstr(err.msg, "symbolic link"));
	assert_content("/etc/app/new.conf", "fresh\n");
	ep_plan_free(plan);
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_write(plan, "x", "/etc/app/dir", 0600, "x", false, NULL,
						&err), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EISDIR);
	ep_plan_free(plan);

	/* A missing parent directory is an error that names it; nothing is left behind. */
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_write(plan, "x", "/etc/nodir/f", 0600, "x", false, NULL,
						&err), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "/etc/nodir/f"));
	assert_false(there("/etc/nodir"));
	ep_plan_free(plan);
}

/* The hidden rename: the manifest directory only ever sees etcd.yaml. */
static void seen_in_manifests(void *userdata, const struct ep_plan *plan, unsigned n)
{
	(void)plan;
	(void)n;
	struct ep_strbuf *seen = userdata;
	DIR *d = opendir(at("/etc/kubernetes/manifests"));
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			ep_strbuf_adds(seen, de->d_name);
			ep_strbuf_addch(seen, ' ');
		}
	closedir(d);
}

static void test_file_write_hidden(void **state)
{
	(void)state;
	mkdirs("/etc/kubernetes/manifests", 0700);
	put("/etc/kubernetes/manifests/etcd.yaml", "kind: Pod\nold: true\n", 0600);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	struct ep_strbuf seen = EP_STRBUF_INIT;
	struct ep_plan_observer obs = { .journal_synced = seen_in_manifests, .userdata = &seen };

	world_reset();
	W->fail_slot = 0;
	struct ep_plan *plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_write(plan, "etcd", "/etc/kubernetes/manifests/etcd.yaml",
						0600, "kind: Pod\nnew: true\n", true, NULL, &err),
			 0);
	add_fake(plan, "fake.set", 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, &obs, &err), -EIO);
	assert_content("/etc/kubernetes/manifests/etcd.yaml", "kind: Pod\nold: true\n");
	ep_plan_free(plan);

	world_reset();
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_write(plan, "etcd", "/etc/kubernetes/manifests/etcd.yaml",
						0600, "kind: Pod\nnew: true\n", true, NULL, &err),
			 0);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, &obs, &err), 0);
	assert_content("/etc/kubernetes/manifests/etcd.yaml", "kind: Pod\nnew: true\n");
	ep_plan_free(plan);

	/* At every step of both runs, nothing but etcd.yaml was visible there... */
	const char *s = ep_strbuf_str(&seen);
	assert_true(strlen(s) > 0);
	for (const char *p = s; *p; p += strlen("etcd.yaml "))
		assert_int_equal(strncmp(p, "etcd.yaml ", strlen("etcd.yaml ")), 0);
	ep_strbuf_release(&seen);
	/* ...and now there is nothing else at all, hidden or not. */
	DIR *d = opendir(at("/etc/kubernetes/manifests"));
	struct dirent *de;
	int entries = 0;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			entries++;
	closedir(d);
	assert_int_equal(entries, 1);
}

static struct ep_plan *manifest_plan(void)
{
	struct ep_plan *plan = ep_plan_new("init");
	ep_plan_add_file_write(plan, "etcd", "/etc/kubernetes/manifests/etcd.yaml", 0600,
			       "kind: Pod\nnew: true\n", true, NULL, NULL);
	return plan;
}

/* Killed after the copy of the old file is journalled, before the new one is written. */
static void test_file_write_killed_between_backup_and_write(void **state)
{
	(void)state;
	for (int rollback = 0; rollback < 2; rollback++) {
		mkdirs("/etc/kubernetes/manifests", 0700);
		put("/etc/kubernetes/manifests/etcd.yaml", "kind: Pod\nold: true\n", 0644);
		/* 1: pending, 2: running, 3: the backup recorded - then killed. */
		run_killed(manifest_plan, 3);
		assert_content("/etc/kubernetes/manifests/etcd.yaml", "kind: Pod\nold: true\n");
		struct ep_plan *plan = load_ok();
		assert_int_equal(ep_plan_action_state(plan, 0), EP_ACTION_RUNNING);
		const char *backup = json_string_value(
			json_object_get(ep_plan_action_undo(plan, 0), "backup"));
		assert_non_null(backup);
		assert_string_equal(backup, "0-etcd.yaml");
		char copy[256];
		json_t *doc = json_load_file(at(EP_JOURNAL_FILE), 0, NULL);
		snprintf(copy, sizeof(copy), "%s/%s/%s", EP_JOURNAL_DATA,
			 json_string_value(json_object_get(doc, "id")), backup);
		json_decref(doc);
		assert_content(copy, "kind: Pod\nold: true\n");
		assert_int_equal(mode_of(copy), 0644);
		/* What a run killed inside the write leaves: the hidden file before its
		 * rename, and the atomic write's own temp file of it. */
		put("/etc/kubernetes/manifests/.etcd.yaml.etcdpilot-new", "half", 0600);
		put("/etc/kubernetes/manifests/.etcd.yaml.etcdpilot-new.ep-0123456789abcdef", "ha",
		    0600);

		struct ep_apply_ctx ctx = ctx_for_scratch();
		struct ep_error err = { 0 };
		int r = rollback ? ep_journal_rollback(plan, &ctx, NULL, &err)
				 : ep_journal_resume(plan, &ctx, 0, NULL, &err);
		if (r < 0)
			fail_msg("%s", err.msg);
		if (rollback) {
			assert_content("/etc/kubernetes/manifests/etcd.yaml",
				       "kind: Pod\nold: true\n");
			assert_int_equal(mode_of("/etc/kubernetes/manifests/etcd.yaml"), 0644);
		} else {
			assert_content("/etc/kubernetes/manifests/etcd.yaml",
				       "kind: Pod\nnew: true\n");
			assert_int_equal(mode_of("/etc/kubernetes/manifests/etcd.yaml"), 0600);
		}
		assert_false(there("/etc/kubernetes/manifests/.etcd.yaml.etcdpilot-new"));
		assert_false(there("/etc/kubernetes/manifests/"
				   ".etcd.yaml.etcdpilot-new.ep-0123456789abcdef"));
		assert_false(journal_there());
		assert_false(there(EP_JOURNAL_DATA));
		ep_plan_free(plan);
	}
}

static void add_foreign(void *userdata, const struct ep_plan *plan, size_t i, int r)
{
	(void)userdata;
	(void)plan;
	if (i == 0 && r == 0)
		put("/opt/x/foreign", "not ours\n", 0644);
}

static void test_dir_create(void **state)
{
	(void)state;
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	char *before = snapshot();

	/* Rolled back: every directory it created goes, deepest first. */
	world_reset();
	W->fail_slot = 0;
	struct ep_plan *plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_dir_create(plan, "etcd", "/srv/etcd/data", 0700, NULL, &err),
			 0);
	add_fake(plan, "fake.set", 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, EP_APPLY_NO_JOURNAL, NULL, &err), -EIO);
	char *after = snapshot();
	/* No journal: no journal directory either, unless something needed one. */
	assert_string_equal(before, after);
	free(after);
	ep_plan_free(plan);

	/* Applied: the last one gets the mode, the parents 0755 (mkdir -p -m). */
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_dir_create(plan, "etcd", "/srv/etcd/data", 0700, NULL, &err),
			 0);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, EP_APPLY_NO_JOURNAL, NULL, &err), 0);
	assert_int_equal(mode_of("/srv"), 0755);
	assert_int_equal(mode_of("/srv/etcd"), 0755);
	assert_int_equal(mode_of("/srv/etcd/data"), 0700);
	ep_plan_free(plan);
	/* There already: nothing to do. */
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_dir_create(plan, "etcd", "/srv/etcd/data", 0700, NULL, &err),
			 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, EP_APPLY_NO_JOURNAL, NULL, &err), 0);
	assert_int_equal(ep_plan_action_state(plan, 0), EP_ACTION_SKIPPED);
	ep_plan_free(plan);

	/* Something foreign put in a directory it created: that one and its parents stay. */
	world_reset();
	W->fail_slot = 0;
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_dir_create(plan, "etcd", "/opt/x/y", 0700, NULL, &err), 0);
	add_fake(plan, "fake.set", 0);
	struct ep_plan_observer obs = { .action_end = add_foreign };
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, &obs, &err), -EIO);
	assert_false(there("/opt/x/y"));
	assert_content("/opt/x/foreign", "not ours\n");
	assert_non_null(strstr(ep_strbuf_str(&logbuf), "[rollback] Kept the directory "));
	ep_plan_free(plan);

	/* A file where a directory should be. */
	put("/srv/file", "x", 0644);
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_dir_create(plan, "etcd", "/srv/file/sub", 0700, NULL, &err),
			 0);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -ENOTDIR);
	assert_non_null(strstr(err.msg, "is not a directory"));
	ep_plan_free(plan);
	free(before);
}

static void test_file_chmod(void **state)
{
	(void)state;
	mkdirs("/etc/pki", 0755);
	put("/etc/pki/ca.crt", "cert\n", 0666);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	world_reset();
	W->fail_slot = 0;
	struct ep_plan *plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_chmod(plan, "certs", "/etc/pki/ca.crt", 0644, NULL, &err),
			 0);
	add_fake(plan, "fake.set", 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	assert_int_equal(mode_of("/etc/pki/ca.crt"), 0666);
	ep_plan_free(plan);

	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_chmod(plan, "certs", "/etc/pki/ca.crt", 0644, NULL, &err),
			 0);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), 0);
	assert_int_equal(mode_of("/etc/pki/ca.crt"), 0644);
	assert_string_equal(json_string_value(json_object_get(ep_plan_action_undo(plan, 0),
							      "mode")),
			    "0666");
	ep_plan_free(plan);

	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_chmod(plan, "certs", "/etc/pki/ca.crt", 0644, NULL, &err),
			 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), 0);
	assert_int_equal(ep_plan_action_state(plan, 0), EP_ACTION_SKIPPED);
	ep_plan_free(plan);

	/* Never through a symlink. */
	assert_int_equal(symlink("/etc/pki/ca.crt", at("/etc/pki/link")), 0);
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_file_chmod(plan, "certs", "/etc/pki/link", 0600, NULL, &err),
			 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -ELOOP);
	assert_int_equal(mode_of("/etc/pki/ca.crt"), 0644);
	ep_plan_free(plan);
}

static void test_file_move(void **state)
{
	(void)state;
	journal_dir();
	mkdirs("/var/lib/etcd/member/snap", 0700);
	put("/var/lib/etcd/member/snap/db", "data\n", 0600);
	mkdirs("/etc/kubernetes/manifests", 0700);
	mkdirs("/etc/kubernetes/tmp", 0700);
	put("/etc/kubernetes/manifests/etcd.yaml", "pod\n", 0600);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	char *before = snapshot();

	world_reset();
	W->fail_slot = 0;
	struct ep_plan *plan = ep_plan_new("reset");
	assert_int_equal(ep_plan_add_file_move(plan, "reset", "/var/lib/etcd", "/var/lib/etcd.bak",
					       false, NULL, &err), 0);
	assert_int_equal(ep_plan_add_file_move(plan, "reset", "/etc/kubernetes/manifests/etcd.yaml",
					       "/etc/kubernetes/tmp", true, NULL, &err), 1);
	add_fake(plan, "fake.set", 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EIO);
	char *after = snapshot();
	assert_string_equal(before, after);
	free(after);
	ep_plan_free(plan);

	plan = ep_plan_new("reset");
	assert_int_equal(ep_plan_add_file_move(plan, "reset", "/var/lib/etcd", "/var/lib/etcd.bak",
					       false, NULL, &err), 0);
	assert_int_equal(ep_plan_add_file_move(plan, "reset", "/etc/kubernetes/manifests/etcd.yaml",
					       "/etc/kubernetes/tmp", true, NULL, &err), 1);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), 0);
	assert_false(there("/var/lib/etcd"));
	assert_content("/var/lib/etcd.bak/member/snap/db", "data\n");
	assert_false(there("/etc/kubernetes/manifests/etcd.yaml"));
	assert_content("/etc/kubernetes/tmp/etcd.yaml", "pod\n");
	ep_plan_free(plan);

	/* Gone already: nothing to do.  Something at the destination: never clobbered. */
	plan = ep_plan_new("reset");
	assert_int_equal(ep_plan_add_file_move(plan, "reset", "/var/lib/etcd", "/var/lib/etcd.bak",
					       false, NULL, &err), 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), 0);
	assert_int_equal(ep_plan_action_state(plan, 0), EP_ACTION_SKIPPED);
	ep_plan_free(plan);
	mkdirs("/var/lib/etcd", 0700);
	plan = ep_plan_new("reset");
	assert_int_equal(ep_plan_add_file_move(plan, "reset", "/var/lib/etcd", "/var/lib/etcd.bak",
					       false, NULL, &err), 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -EEXIST);
	assert_non_null(strstr(err.msg, "something is there already"));
	assert_true(there("/var/lib/etcd"));
	assert_content("/var/lib/etcd.bak/member/snap/db", "data\n");
	ep_plan_free(plan);
	free(before);
}

static bool trash_beside(const char *dir, const char *name)
{
	DIR *d = opendir(at(dir));
	assert_non_null(d);
	char prefix[128];
	snprintf(prefix, sizeof(prefix), ".%s.etcdpilot-trash-", name);
	bool found = false;
	struct dirent *de;
	while ((de = readdir(d)))
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			found = true;
	closedir(d);
	return found;
}

/* While the run goes on, what it removed waits beside it under a hidden name. */
static void check_trash(void *userdata, const struct ep_plan *plan, size_t i, int r)
{
	(void)plan;
	bool *ok = userdata;
	if (i == 1 && r == 0)
		*ok = !there("/etc/app/gone.conf") && trash_beside("/etc/app", "gone.conf") &&
		      !there("/etc/app/olddir") && trash_beside("/etc/app", "olddir");
}

static void test_file_remove(void **state)
{
	(void)state;
	journal_dir();
	mkdirs("/etc/app/olddir/sub", 0750);
	put("/etc/app/olddir/sub/f", "f\n", 0600);
	put("/etc/app/gone.conf", "bye\n", 0640);
	mkdirs("/etc/app/full", 0755);
	put("/etc/app/full/x", "x\n", 0644);
	struct ep_apply_ctx ctx = ctx_for_scratch();
	struct ep_error err = { 0 };
	char *before = snapshot();
	bool ok = false;
	struct ep_plan_observer obs = { .action_end = check_trash, .userdata = &ok };

	world_reset();
	W->fail_slot = 0;
	struct ep_plan *plan = ep_plan_new("reset");
	assert_int_equal(ep_plan_add_file_remove(plan, "reset", "/etc/app/gone.conf", false, NULL,
						 &err), 0);
	assert_int_equal(ep_plan_add_file_remove(plan, "reset", "/etc/app/olddir", true, NULL,
						 &err), 1);
	add_fake(plan, "fake.set", 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, &obs, &err), -EIO);
	assert_true(ok);
	char *after = snapshot();
	assert_string_equal(before, after);
	free(after);
	ep_plan_free(plan);

	ok = false;
	plan = ep_plan_new("reset");
	assert_int_equal(ep_plan_add_file_remove(plan, "reset", "/etc/app/gone.conf", false, NULL,
						 &err), 0);
	assert_int_equal(ep_plan_add_file_remove(plan, "reset", "/etc/app/olddir", true, NULL,
						 &err), 1);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, &obs, &err), 0);
	assert_true(ok);
	/* Deleted for good once the whole run succeeded. */
	assert_false(there("/etc/app/gone.conf"));
	assert_false(there("/etc/app/olddir"));
	assert_false(trash_beside("/etc/app", "gone.conf"));
	assert_false(trash_beside("/etc/app", "olddir"));
	ep_plan_free(plan);

	/* A directory with something in it needs "recursive"; an absent path is skipped. */
	plan = ep_plan_new("reset");
	assert_int_equal(ep_plan_add_file_remove(plan, "reset", "/etc/app/full", false, NULL, &err),
			 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), -ENOTEMPTY);
	assert_content("/etc/app/full/x", "x\n");
	ep_plan_free(plan);
	plan = ep_plan_new("reset");
	assert_int_equal(ep_plan_add_file_remove(plan, "reset", "/etc/app/none", false, NULL, &err),
			 0);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), 0);
	assert_int_equal(ep_plan_action_state(plan, 0), EP_ACTION_SKIPPED);
	ep_plan_free(plan);
	free(before);
}

/* Every built-in file type in one plan, killed at every journal write. */
static void build_tree(void)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", scratch, scratch);
	assert_int_equal(system(cmd), 0);
	mkdirs(EP_JOURNAL_DIR, 0700);
	chmod(at("/var"), 0755);
	chmod(at("/var/lib"), 0755);
	mkdirs("/etc/app/olddir/sub", 0750);
	put("/etc/app/olddir/sub/f", "f\n", 0600);
	put("/etc/app/old.conf", "old\n", 0640);
	put("/etc/app/mode.conf", "m\n", 0666);
	put("/etc/app/gone.conf", "bye\n", 0644);
	mkdirs("/etc/kubernetes/manifests", 0700);
	put("/etc/kubernetes/manifests/etcd.yaml", "kind: Pod\nold: true\n", 0600);
	mkdirs("/var/lib/etcd/member", 0700);
	put("/var/lib/etcd/member/db", "data\n", 0600);
}

static struct ep_plan *files_plan(void)
{
	struct ep_plan *plan = ep_plan_new("convert");
	ep_plan_add_dir_create(plan, "a", "/srv/data/member", 0700, NULL, NULL);
	ep_plan_add_file_write(plan, "b", "/etc/app/new.conf", 0644, "new\n", false, NULL, NULL);
	ep_plan_add_file_write(plan, "c", "/etc/app/old.conf", 0600, "replaced\n", false, NULL,
			       NULL);
	ep_plan_add_file_write(plan, "d", "/etc/kubernetes/manifests/etcd.yaml", 0600,
			       "kind: Pod\nnew: true\n", true, NULL, NULL);
	ep_plan_add_file_chmod(plan, "e", "/etc/app/mode.conf", 0600, NULL, NULL);
	ep_plan_add_file_move(plan, "f", "/var/lib/etcd", "/var/lib/etcd.bak", false, NULL, NULL);
	ep_plan_add_file_remove(plan, "g", "/etc/app/gone.conf", false, NULL, NULL);
	ep_plan_add_file_remove(plan, "h", "/etc/app/olddir", true, NULL, NULL);
	return plan;
}

static void test_files_killed_at_every_journal_write(void **state)
{
	(void)state;
	build_tree();
	char *original = snapshot();
	unsigned total = count_writes(files_plan);
	char *applied = snapshot();
	assert_string_not_equal(original, applied);
	assert_null(strstr(applied, "etcdpilot-"));
	assert_null(strstr(applied, ".ep-"));
	/* pending; running, a checkpoint (before the change) and done for each; committing */
	assert_int_equal(total, 1 + 8 * 3 + 1);
	for (unsigned k = 1; k <= total; k++) {
		for (int variant = 0; variant < 4; variant++) {
			bool rollback = variant & 1, before = variant & 2;
			if (before && k == 1)
				continue; /* before the first write nothing has happened */
			build_tree();
			run_killed(files_plan, k);
			if (before)
				back_to_previous_journal();
			struct ep_plan *plan = load_ok();
			struct ep_apply_ctx ctx = ctx_for_scratch();
			struct ep_error err = { 0 };
			bool undo = rollback && ep_journal_can_rollback(plan);
			int r = undo ? ep_journal_rollback(plan, &ctx, NULL, &err)
				     : ep_journal_resume(plan, &ctx, 0, NULL, &err);
			if (r < 0)
				fail_msg("k=%u %s: %s", k, undo ? "rollback" : "resume", err.msg);
			char *now = snapshot();
			if (strcmp(now, undo ? original : applied) != 0)
				fail_msg("k=%u%s %s:\n--- have\n%s\n--- want\n%s", k,
					 before ? " (just before it)" : "",
					 undo ? "rollback" : "resume", now,
					 undo ? original : applied);
			free(now);
			ep_plan_free(plan);
		}
	}
	free(original);
	free(applied);
}

/* ---- systemd, against hack/systemctl-standin ----------------------------------- */

static char standin[600];

static void sc(const char *args, char *out, size_t len)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "'%s' --root '%s' %s 2>/dev/null", standin, scratch, args);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	out[0] = '\0';
	if (!fgets(out, (int)len, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	pclose(p);
}

static void assert_unit(const char *unit, const char *active, const char *enabled)
{
	char args[128], out[64];
	snprintf(args, sizeof(args), "is-active %s", unit);
	sc(args, out, sizeof(out));
	assert_string_equal(out, active);
	snprintf(args, sizeof(args), "is-enabled %s", unit);
	sc(args, out, sizeof(out));
	assert_string_equal(out, enabled);
}

/* The order of undo calls, as the observer sees it. */
static void note_undo(void *userdata, const struct ep_plan *plan, size_t i)
{
	struct ep_strbuf *sb = userdata;
	ep_strbuf_addf(sb, "%s ", ep_plan_action_type(plan, i));
}

static int systemd_setup(void **state)
{
	if (setup(state) < 0)
		return -1;
	snprintf(standin, sizeof(standin), "%s/hack/systemctl-standin", EP_TEST_SOURCE_DIR);
	mkdirs("/etc/systemd/system", 0755);
	put("/etc/systemd/system/ep-test.service",
	    "[Unit]\nDescription=etcdpilot unit test\n[Service]\nExecStart=/bin/sleep 600\n"
	    "[Install]\nWantedBy=multi-user.target\n",
	    0644);
	return 0;
}

static int systemd_teardown(void **state)
{
	char out[64];
	sc("stop ep-test.service", out, sizeof(out));
	return teardown(state);
}

static void test_systemd_standin(void **state)
{
	(void)state;
	if (geteuid() != 0 || access(standin, X_OK) != 0 || system("python3 -c '' 2>/dev/null")) {
		print_message("systemd.* needs root and python3 for hack/systemctl-standin: "
			      "left to tests/e2e/t40\n");
		skip();
	}
	struct ep_apply_ctx ctx = ctx_for_scratch();
	ctx.systemctl = standin;
	struct ep_error err = { 0 };
	struct ep_strbuf undone = EP_STRBUF_INIT;
	struct ep_plan_observer obs = { .undo_start = note_undo, .userdata = &undone };

	/* enable --now, rolled back: stopped and disabled again; the reload last. */
	world_reset();
	W->fail_slot = 0;
	struct ep_plan *plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_systemd(plan, "systemd", "daemon-reload", NULL, NULL, &err),
			 0);
	assert_int_equal(ep_plan_add_systemd(plan, "systemd", "enable-now", "ep-test.service", NULL,
					     &err), 1);
	add_fake(plan, "fake.set", 0);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, &obs, &err), -EIO);
	assert_string_equal(ep_strbuf_str(&undone),
			    "fake.set systemd.enable-now systemd.daemon-reload ");
	assert_unit("ep-test.service", "inactive", "disabled");
	ep_plan_free(plan);

	/* Applied. */
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_systemd(plan, "systemd", "daemon-reload", NULL, NULL, &err),
			 0);
	assert_int_equal(ep_plan_add_systemd(plan, "systemd", "enable-now", "ep-test.service", NULL,
					     &err), 1);
	ep_error_clear(&err);
	int r = ep_plan_apply(plan, &ctx, 0, NULL, &err);
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_unit("ep-test.service", "active", "enabled");
	/* The reload is no change; enabling is. */
	assert_int_equal(ep_plan_count_changed(plan), 1);
	ep_plan_free(plan);

	/* stop, disable, mask - rolled back: running, enabled, not masked. */
	world_reset();
	W->fail_slot = 0;
	ep_strbuf_reset(&undone);
	plan = ep_plan_new("convert");
	assert_int_equal(ep_plan_add_systemd(plan, "s", "stop", "ep-test.service", NULL, &err), 0);
	assert_int_equal(ep_plan_add_systemd(plan, "s", "disable", "ep-test.service", NULL, &err),
			 1);
	assert_int_equal(ep_plan_add_systemd(plan, "s", "mask", "ep-other.service", NULL, &err), 2);
	add_fake(plan, "fake.set", 0);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, &obs, &err), -EIO);
	assert_string_equal(ep_strbuf_str(&undone),
			    "fake.set systemd.mask systemd.disable systemd.stop ");
	assert_unit("ep-test.service", "active", "enabled");
	char out[64];
	sc("is-enabled ep-other.service", out, sizeof(out));
	assert_string_not_equal(out, "masked");
	ep_plan_free(plan);

	/* stop, start, restart of a running unit, rolled back: restarted last, running. */
	world_reset();
	W->fail_slot = 0;
	ep_strbuf_reset(&undone);
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_systemd(plan, "s", "restart", "ep-test.service", NULL, &err),
			 0);
	assert_int_equal(ep_plan_add_systemd(plan, "s", "stop", "ep-test.service", NULL, &err), 1);
	assert_int_equal(ep_plan_add_systemd(plan, "s", "start", "ep-test.service", NULL, &err), 2);
	add_fake(plan, "fake.set", 0);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, &obs, &err), -EIO);
	assert_string_equal(ep_strbuf_str(&undone),
			    "fake.set systemd.start systemd.stop systemd.restart ");
	assert_unit("ep-test.service", "active", "enabled");
	ep_plan_free(plan);

	/* unmask, applied; a unit that is not masked is skipped. */
	sc("mask ep-other.service", out, sizeof(out));
	plan = ep_plan_new("init");
	assert_int_equal(ep_plan_add_systemd(plan, "s", "unmask", "ep-other.service", NULL, &err),
			 0);
	assert_int_equal(ep_plan_add_systemd(plan, "s", "start", "ep-test.service", NULL, &err), 1);
	ep_error_clear(&err);
	assert_int_equal(ep_plan_apply(plan, &ctx, 0, NULL, &err), 0);
	assert_int_equal(ep_plan_action_state(plan, 0), EP_ACTION_DONE);
	assert_int_equal(ep_plan_action_state(plan, 1), EP_ACTION_SKIPPED);
	sc("is-enabled ep-other.service", out, sizeof(out));
	assert_string_not_equal(out, "masked");
	ep_plan_free(plan);
	ep_strbuf_release(&undone);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_build_and_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_to_text, setup, teardown),
		cmocka_unit_test_setup_teardown(test_apply_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_order_on_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_rollback_then_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irreversible_stops_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irreversible_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_undo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_undo_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_skipped_is_not_undone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reapplied_skip_is_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_of_another_run_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_journal_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_unreadable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_at_every_journal_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_killed_inside_each_action, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_stale, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_write_hidden, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_write_killed_between_backup_and_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dir_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_chmod, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_killed_at_every_journal_write, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_systemd_standin, systemd_setup,
						systemd_teardown),
	};
#ifdef EP_TEST_WALK
	/* test_plan_walk.c: all of it again as on a kernel without openat2(2). */
	fs_test_no_openat2 = true;
#endif
	/* EP_TEST_FILTER=test_name (a glob) runs only the tests it names. */
	if (getenv("EP_TEST_FILTER"))
		cmocka_set_test_filter(getenv("EP_TEST_FILTER"));
	int r = cmocka_run_group_tests(tests, group_setup, group_teardown);
	ep_strbuf_release(&logbuf);
	return r;
}
