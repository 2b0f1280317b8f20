/*
 * test_plan_race.c - the race of issue 10, item 2, for the plan engine: a
 * thread swaps the directory /etc/app of a scratch root for a symlink to a
 * directory outside the root (absolute, or climbing out with ".."), again
 * and again, while plans with every built-in file type run against
 * /etc/app - file.write with its backup copy (plain and hidden_rename),
 * file.chmod, file.move, file.remove (a file; a tree, recursive) and
 * dir.create - with the journal, committed on even rounds and rolled back
 * on odd ones (an action after them fails).  The outside directory holds
 * files of the same names.  Between two plans the thread is held (with
 * /etc/app the directory), and then nothing may have appeared in, changed
 * in or disappeared from the outside directory, and nothing read there may
 * have landed inside the root.  Both ways of resolving under a root run it:
 * openat2(2) and the component-by-component walk.
 *
 * Its own program (not in test_plan.c): each plan fsyncs its journal a few
 * times, and the rounds take longer than ctest gives one program.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/plan.h"
#include "helpers/root_swap.h"
#include "util/cleanup.h"
#include "util/fs_internal.h"
#include "util/strbuf.h"

#define ROUNDS 60

static char scratch[256];

static int setup(void **state)
{
	(void)state;
	snprintf(scratch, sizeof(scratch), "/tmp/ep-test-plan-race.XXXXXX");
	return mkdtemp(scratch) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
	return system(cmd) == 0 ? 0 : -1;
}

/* The same with the component-by-component walk (a kernel without openat2). */
static int setup_walk(void **state)
{
	fs_test_no_openat2 = true;
	return setup(state);
}

static int teardown_walk(void **state)
{
	fs_test_no_openat2 = false;
	return teardown(state);
}

/* ---- trees ------------------------------------------------------------------- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf of @path (never following a symlink); only while the swapper is held. */
static void wipe(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	assert_int_equal(nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* @dir (outside, or /etc/app in the root) with the files the plans act on, saying where they are.
 */
static void make_tree(const char *dir, const char *where)
{
	static const char *const files[] = {"conf", "manifest", "mode",
					    "from", "victim",	"tree/inner"};
	char p[1024], content[64];
	struct ep_error err = {0};
	wipe(dir);
	snprintf(p, sizeof(p), "%s/tree", dir);
	assert_int_equal(ep_mkdir_p(p, 0755, &err), 0);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		snprintf(content, sizeof(content), "%s %s\n", where, files[i]);
		FILE *f = fopen(p, "w");
		assert_non_null(f);
		fputs(content, f);
		assert_int_equal(fclose(f), 0);
		assert_int_equal(chmod(p, 0644), 0);
	}
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every entry under @real: name, mode, and a file's content or a link's target. */
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
				char target[512];
				ssize_t l = readlink(sub, target, sizeof(target) - 1);
				target[l > 0 ? l : 0] = '\0';
				ep_strbuf_addf(out, "link %s\n", target);
			} else {
				char *content = NULL;
				assert_int_equal(
				    ep_read_file(sub, 1 << 20, true, &content, NULL, NULL), 0);
				ep_strbuf_addf(out, "file '%s'\n", content);
				free(content);
			}
		}
		free(names[i]);
	}
	free(names);
}

static char *tree_text(const char *dir)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	list_tree(dir, "", &sb);
	char *s = ep_strbuf_detach(&sb, NULL);
	assert_non_null(s);
	return s;
}

/* ---- plans ------------------------------------------------------------------- */

/* The action after the file actions: fails when its params say so, and the run rolls back. */
static int last_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		      struct ep_error *err)
{
	(void)ctx;
	(void)undo;
	if (json_is_true(json_object_get(params, "fail")))
		return ep_error_set(err, -EIO, "failing on purpose");
	return 0;
}

static int last_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		     struct ep_error *err)
{
	(void)ctx;
	(void)params;
	(void)undo;
	(void)err;
	return 0;
}

static void last_describe(const json_t *params, struct ep_strbuf *out)
{
	(void)params;
	ep_strbuf_adds(out, "the last action");
}

static const struct ep_action_type race_last = {
    .name = "race.last",
    .reversible = true,
    .changes = true,
    .describe = last_describe,
    .apply = last_apply,
    .undo = last_undo,
};

static int group_setup(void **state)
{
	(void)state;
	return ep_action_type_register(&race_last) < 0 ? -1 : 0;
}

#define KINDS 7

/* Plan @k of round @round: one file action on /etc/app, then race.last (failing when @fail). */
static struct ep_plan *race_plan(int k, int round, bool fail)
{
	struct ep_error err = {0};
	char content[64];
	snprintf(content, sizeof(content), "round %d\n", round);
	struct ep_plan *plan = ep_plan_new("race");
	int r = 0;
	switch (k) {
	case 0:
		r = ep_plan_add_file_write(plan, "w", "/etc/app/conf", 0600, content, false, NULL,
					   &err);
		break;
	case 1:
		r = ep_plan_add_file_write(plan, "w", "/etc/app/manifest", 0600, content, true,
					   NULL, &err);
		break;
	case 2:
		r = ep_plan_add_file_chmod(plan, "c", "/etc/app/mode", 0600, NULL, &err);
		break;
	case 3:
		r = ep_plan_add_file_move(plan, "m", "/etc/app/from", "/etc/app/to", false, NULL,
					  &err);
		break;
	case 4:
		r = ep_plan_add_file_remove(plan, "r", "/etc/app/victim", false, NULL, &err);
		break;
	case 5:
		r = ep_plan_add_file_remove(plan, "r", "/etc/app/tree", true, NULL, &err);
		break;
	case 6:
		r = ep_plan_add_dir_create(plan, "d", "/etc/app/newdir/sub", 0700, NULL, &err);
		break;
	}
	if (r >= 0)
		r = ep_plan_add(plan, "l", "race.last", json_pack("{s:b}", "fail", fail), NULL,
				&err);
	if (r < 0)
		fail_msg("building the race plan: %s", err.msg);
	return plan;
}

static void count_done(void *userdata, const struct ep_plan *plan, size_t i, int r)
{
	(void)plan;
	if (i == 0 && r == 0)
		++*(unsigned *)userdata;
}

/* Held: fail when the outside changed or something from there is inside the root. */
static void check_outside(struct root_swap *sw, const char *root, const char *out,
			  const char *outside, int round, int k)
{
	_cleanup_free_ char *now = tree_text(out);
	_cleanup_free_ char *inside = tree_text(root);
	if (!strcmp(now, outside) && !strstr(inside, "outside "))
		return;
	unsigned long swaps = root_swap_stop(sw);
	if (strcmp(now, outside))
		fail_msg("round %d, before plan %d (%lu swaps so far): the outside directory "
			 "changed; it holds now:\n%s",
			 round, k, swaps, now);
	const char *line = strstr(inside, "outside ");
	while (line > inside && line[-1] != '\n')
		line--;
	fail_msg("round %d, before plan %d (%lu swaps so far): something read outside the root "
		 "landed inside it: %.200s",
		 round, k, swaps, line);
}

static void plan_race(const char *relative_target)
{
	char root[512], out[512], app[600], p[700];
	snprintf(root, sizeof(root), "%s/root", scratch);
	snprintf(out, sizeof(out), "%s/out", scratch);
	snprintf(app, sizeof(app), "%s/etc/app", root);
	snprintf(p, sizeof(p), "%s%s", root, EP_JOURNAL_DIR);
	struct ep_error err = {0};
	assert_int_equal(ep_mkdir_p(p, 0700, &err), 0);
	make_tree(out, "outside");
	_cleanup_free_ char *outside = tree_text(out);

	make_tree(app, "inside");
	struct root_swap sw;
	assert_int_equal(root_swap_start(&sw, app, relative_target ? relative_target : out), 0);
	struct ep_apply_ctx ctx = {.root = root};
	unsigned done = 0, raced = 0;
	struct ep_plan_observer obs = {.action_end = count_done, .userdata = &done};
	for (int round = 0; round < ROUNDS; round++) {
		for (int k = 0; k < KINDS; k++) {
			if (!root_swap_pause(&sw))
				fail_msg("the swapping thread ended: %s", strerror(sw.error));
			check_outside(&sw, root, out, outside, round, k);
			if (k == 0)
				make_tree(app, "inside");
			/* What a run whose rollback a swap broke may have left. */
			snprintf(p, sizeof(p), "%s%s", root, EP_JOURNAL_FILE);
			unlink(p);
			snprintf(p, sizeof(p), "%s%s", root, EP_JOURNAL_DATA);
			wipe(p);
			root_swap_resume(&sw);

			struct ep_plan *plan = race_plan(k, round, round % 2);
			unsigned long before = atomic_load(&sw.swaps);
			ep_error_clear(&err);
			(void)ep_plan_apply(plan, &ctx, 0, &obs, &err);
			raced += atomic_load(&sw.swaps) != before;
			ep_plan_free(plan);
		}
	}
	assert_true(root_swap_pause(&sw));
	check_outside(&sw, root, out, outside, ROUNDS, 0);
	unsigned long swaps = root_swap_stop(&sw);
	print_message("%d rounds, %d plans, %lu swaps, %u plans raced a swap, %u file actions "
		      "done\n",
		      ROUNDS, ROUNDS * KINDS, swaps, raced, done);
	/* The race was real: the directory was swapped, and file actions went through. */
	assert_true(swaps > 0);
	assert_true(done > 0);
}

static void test_race_absolute_link(void **state)
{
	(void)state;
	plan_race(NULL);
}

static void test_race_relative_link(void **state)
{
	(void)state;
	plan_race("../../out");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_race_absolute_link, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_race_relative_link, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_race_absolute_link, setup_walk, teardown_walk),
	    cmocka_unit_test_setup_teardown(test_race_relative_link, setup_walk, teardown_walk),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
