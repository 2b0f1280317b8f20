/*
 * test_workflow.c - init's phases planned against a fake runtime (no
 * kubelet, no systemd, no process at all): which actions each phase adds,
 * `phase NAME` and --skip-phases, preflight checks recorded by name and
 * turned into warnings by --ignore-preflight-errors, a re-run that finds
 * its files in place, and a failing run undone in reverse so that the node
 * root is exactly as before.
 */
#include <errno.h>
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

#include "etcdpilot/config.h"
#include "etcdpilot/error.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/workflow.h"

#define FAKE_MANIFEST "apiVersion: v1\nkind: Pod\n# fake\n"

static int fake_calls;

static int fake_render(const struct ep_runtime_ctx *ctx, const struct ep_kvv *ic,
		       struct ep_runtime_files *ret, struct ep_error *err)
{
	(void)ic, (void)err;
	fake_calls++;
	ret->v = calloc(1, sizeof(*ret->v));
	ret->n = 1;
	assert_true(asprintf(&ret->v[0].path, "%s/etcd.yaml", ctx->spec->manifest_dir) > 0);
	ret->v[0].content = strdup(FAKE_MANIFEST);
	ret->v[0].len = strlen(FAKE_MANIFEST);
	ret->v[0].mode = 0600;
	ret->v[0].hidden_rename = true;
	return 0;
}

static int fake_plan_start(const struct ep_runtime_ctx *ctx, const struct ep_runtime_files *files,
			   struct ep_plan *plan, const char *phase, struct ep_error *err)
{
	(void)ctx;
	for (size_t i = 0; i < files->n; i++) {
		int r = ep_plan_add_file_write(plan, phase, files->v[i].path, files->v[i].mode,
					       files->v[i].content, files->v[i].hidden_rename,
					       "fake runtime", err);
		if (r < 0)
			return r;
	}
	return 0;
}

static const struct ep_runtime_ops fake_rt = {
	.name = "fake",
	.mode = EP_MODE_STATIC_POD,
	.render = fake_render,
	.plan_start = fake_plan_start,
};

struct fixture {
	char root[64];
	struct ep_spec spec;
	struct ep_strv skip, ignore;
	struct ep_wf wf;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/ep-test-workflow-XXXXXX");
	assert_non_null(mkdtemp(f->root));
	ep_spec_init(&f->spec);
	struct ep_overrides ov = { .name = "cp1",
				   .advertise_address = "127.0.0.1",
				   .etcd_version = "3.5.21",
				   .key_type = "ecdsa-p256",
				   .insecure_skip_checksum = -1 };
	struct ep_error err = { 0 };
	if (ep_config_load(&f->spec, NULL, &ov, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	/* the ports of this machine are not the test's business */
	ep_strv_push(&f->ignore, "Port-2379");
	ep_strv_push(&f->ignore, "Port-2380");
	ep_strv_push(&f->ignore, "Port-2381");
	f->wf = (struct ep_wf){ .workflow = &ep_workflow_init, .spec = &f->spec, .root = f->root,
				.skip = &f->skip, .ignore = &f->ignore, .rt = &fake_rt };
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	ep_wf_release(&f->wf);
	ep_spec_release(&f->spec);
	ep_strv_release(&f->skip);
	ep_strv_release(&f->ignore);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* The plan's action types, "type@phase" joined by spaces. */
static char *plan_shape(const struct ep_plan *plan)
{
	static char buf[1024];
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < ep_plan_count(plan); i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s@%s", i ? " " : "",
				      ep_plan_action_type(plan, i), ep_plan_action_phase(plan, i));
	return buf;
}

static void plan_ok(struct fixture *f)
{
	struct ep_error err = { 0 };
	if (ep_wf_plan(&f->wf, &err) < 0)
		fail_msg("ep_wf_plan: %s", err.msg);
}

static void test_init_plan_on_empty_node(void **state)
{
	struct fixture *f = *state;
	fake_calls = 0;
	plan_ok(f);
	assert_int_equal(fake_calls, 1); /* rendered through the runtime, never by name */
	assert_string_equal(plan_shape(f->wf.plan),
			    "pki.ensure@certs dir.create@etcd dir.create@etcd file.write@etcd "
			    "wait.healthy@wait");
	assert_true(ep_plan_changes(f->wf.plan));
	/* the ports are checked, and only warn here */
	for (size_t i = 0; i < f->wf.nchecks; i++) {
		assert_true(f->wf.checks[i].ignored);
		assert_non_null(strstr(f->wf.checks[i].name, "Port-"));
	}
	/* nothing was written while planning */
	char path[256];
	snprintf(path, sizeof(path), "%s/etc", f->root);
	assert_int_equal(access(path, F_OK), -1);
	/* the JSON plan names the manifest and its content */
	json_t *doc = ep_plan_to_json(f->wf.plan);
	json_t *a = json_array_get(json_object_get(doc, "actions"), 3);
	assert_string_equal(json_string_value(json_object_get(json_object_get(a, "params"), "path")),
			    "/etc/kubernetes/manifests/etcd.yaml");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(a, "params"), "content")),
		FAKE_MANIFEST);
	json_decref(doc);
}

static void test_phase_alone_and_skipped(void **state)
{
	struct fixture *f = *state;
	f->wf.only_phase = "certs";
	plan_ok(f);
	assert_string_equal(plan_shape(f->wf.plan), "pki.ensure@certs");
	ep_wf_release(&f->wf);

	f->wf.only_phase = NULL;
	ep_strv_push(&f->skip, "certs");
	ep_strv_push(&f->skip, "wait");
	plan_ok(f);
	assert_string_equal(plan_shape(f->wf.plan),
			    "dir.create@etcd dir.create@etcd file.write@etcd");
	ep_wf_release(&f->wf);

	struct ep_error err = { 0 };
	f->wf.only_phase = "cert";
	assert_int_equal(ep_wf_plan(&f->wf, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	/* one line: an error is printed escaped, a newline would show as \x0a */
	assert_string_equal(err.msg, "'init' has no phase 'cert'; its phases are preflight, "
				     "certs, etcd, wait (see 'etcdpilot init --help')");
	ep_wf_release(&f->wf);

	/* a systemd-only phase in static-pod mode */
	ep_error_clear(&err);
	f->wf.only_phase = "install";
	assert_int_equal(ep_wf_plan(&f->wf, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "is not for --mode static-pod"));
}

static void test_preflight_checks(void **state)
{
	struct fixture *f = *state;
	char path[256];
	snprintf(path, sizeof(path), "%s/var/lib/etcd/member", f->root);
	assert_int_equal(system("true"), 0);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", path);
	assert_int_equal(system(cmd), 0);

	struct ep_error err = { 0 };
	assert_int_equal(ep_wf_plan(&f->wf, &err), -EPERM);
	assert_non_null(strstr(err.msg, "--ignore-preflight-errors=DirAvailable--var-lib-etcd"));
	bool found = false;
	for (size_t i = 0; i < f->wf.nchecks; i++)
		if (!strcmp(f->wf.checks[i].name, "DirAvailable--var-lib-etcd")) {
			found = true;
			assert_false(f->wf.checks[i].ignored);
			assert_non_null(strstr(f->wf.checks[i].message, "is not empty"));
		}
	assert_true(found);
	/* a real run plans no further than the failed checks ... */
	assert_int_equal(ep_plan_count(f->wf.plan), 0);
	ep_wf_release(&f->wf);
	/* ... a dry run gets its whole plan all the same (issue 11 item 6) */
	f->wf.dry_run = true;
	ep_error_clear(&err);
	assert_int_equal(ep_wf_plan(&f->wf, &err), -EPERM);
	assert_non_null(strstr(plan_shape(f->wf.plan), "file.write@etcd"));
	f->wf.dry_run = false;
	ep_wf_release(&f->wf);

	ep_strv_push(&f->ignore, "dirAVAILABLE--var-lib-etcd"); /* case does not matter */
	ep_error_clear(&err);
	assert_int_equal(ep_wf_plan(&f->wf, &err), 0);
	ep_wf_release(&f->wf);

	ep_strv_release(&f->ignore);
	ep_strv_push(&f->ignore, "all");
	assert_int_equal(ep_wf_plan(&f->wf, &err), 0);
}

static void test_rerun_finds_files_in_place(void **state)
{
	struct fixture *f = *state;
	char path[128], cmd[600];
	snprintf(path, sizeof(path), "%s/etc/kubernetes/manifests", f->root);
	snprintf(cmd, sizeof(cmd), "mkdir -p -m 700 '%s' && printf '%s' > '%s/etcd.yaml' && chmod 644 '%s/etcd.yaml' && mkdir -p '%s/var/lib/etcd/member'",
		 path, "apiVersion: v1\\nkind: Pod\\n# fake\\n", path, path, f->root);
	assert_int_equal(system(cmd), 0);
	plan_ok(f); /* the data dir holds data: not checked, it is this member's */
	assert_true(f->wf.files_in_place);
	assert_int_equal(f->wf.nchecks, 0);
	/* the certs, the mode the file should have, and the wait */
	assert_string_equal(plan_shape(f->wf.plan),
			    "pki.ensure@certs file.chmod@etcd wait.healthy@wait");
}

/* A type that always fails: a run that fails at its end. */
static void fail_describe(const json_t *p, struct ep_strbuf *out)
{
	(void)p, (void)out;
}

static int fail_apply(struct ep_apply_ctx *ctx, const json_t *p, json_t *undo,
		      struct ep_error *err)
{
	(void)ctx, (void)p, (void)undo;
	return ep_error_set(err, -EIO, "injected failure");
}

static const struct ep_action_type fail_type = {
	.name = "test.fail", .reversible = true, .describe = fail_describe, .apply = fail_apply,
	.undo = NULL,
};

static int fail_undo(struct ep_apply_ctx *ctx, const json_t *p, const json_t *u,
		     struct ep_error *err)
{
	(void)ctx, (void)p, (void)u, (void)err;
	return 0;
}

static void test_failed_run_leaves_node_as_it_was(void **state)
{
	struct fixture *f = *state;
	static struct ep_action_type t;
	t = fail_type;
	t.undo = fail_undo;
	int rr = ep_action_type_register(&t);
	assert_true(rr == 0 || rr == -EEXIST);
	ep_strv_push(&f->skip, "wait");
	plan_ok(f);
	struct ep_error err = { 0 };
	assert_true(ep_plan_add(f->wf.plan, "test", "test.fail", json_object(), NULL, &err) >= 0);
	struct ep_apply_ctx actx = { .root = f->root, .spec = &f->spec };
	assert_int_equal(ep_plan_apply(f->wf.plan, &actx, 0, NULL, &err), -EIO);
	assert_non_null(strstr(err.msg, "injected failure"));
	assert_non_null(strstr(err.msg, "undone"));
	/* certs, data dir, manifest dir, manifest and the journal: all gone */
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "test -z \"$(find '%s' -mindepth 1 -not -type d)\"", f->root);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "test ! -e '%s/var/lib/etcd' && test ! -e '%s/etc/kubernetes/manifests' && test ! -e '%s/etc/kubernetes/pki/etcd'",
		 f->root, f->root, f->root);
	assert_int_equal(system(cmd), 0);

	/* the same plan without the failure: everything in place, 0600 / 0700 */
	ep_wf_release(&f->wf);
	plan_ok(f);
	ep_error_clear(&err);
	if (ep_plan_apply(f->wf.plan, &actx, 0, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	struct stat st;
	char path[256];
	snprintf(path, sizeof(path), "%s/etc/kubernetes/manifests/etcd.yaml", f->root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	snprintf(path, sizeof(path), "%s/var/lib/etcd", f->root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/etc/kubernetes/pki/etcd/ca.key", f->root);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_true(ep_plan_count_changed(f->wf.plan) >= 4);
	/* planned again: nothing changes */
	ep_wf_release(&f->wf);
	plan_ok(f);
	assert_false(ep_plan_changes(f->wf.plan));
}

static void test_check_name(void **state)
{
	(void)state;
	char *n = ep_check_name("DirAvailable", "/var/lib/etcd");
	assert_string_equal(n, "DirAvailable--var-lib-etcd");
	free(n);
	n = ep_check_name("FileAvailable", "/etc/kubernetes/manifests/etcd.yaml");
	assert_string_equal(n, "FileAvailable--etc-kubernetes-manifests-etcd.yaml");
	free(n);
	n = ep_workflow_help(&ep_workflow_init, EP_MODE_SYSTEMD);
	assert_non_null(strstr(n, "install"));
	assert_non_null(strstr(n, "start"));
	free(n);
	n = ep_workflow_help(&ep_workflow_init, EP_MODE_STATIC_POD);
	assert_null(strstr(n, "install "));
	free(n);
}

/* The part of --timeout kept for a rollback: a quarter, 5 s at least (at most half), 20 s at most. */
static void test_rollback_reserve(void **state)
{
	(void)state;
	static const struct {
		uint64_t timeout, reserve;
	} cases[] = {
		{ 0, 0 },          { 2000, 1000 },     { 10000, 5000 },  { 12000, 5000 },
		{ 20000, 5000 },   { 60000, 15000 },   { 80000, 20000 }, { 240000, 20000 },
		{ 3600000, 20000 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t r = ep_rollback_reserve_ms(cases[i].timeout);
		if (r != cases[i].reserve)
			fail_msg("timeout %llu ms: reserve %llu ms, want %llu",
				 (unsigned long long)cases[i].timeout, (unsigned long long)r,
				 (unsigned long long)cases[i].reserve);
		assert_true(r <= cases[i].timeout);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_plan_on_empty_node, setup, teardown),
		cmocka_unit_test(test_rollback_reserve),
		cmocka_unit_test_setup_teardown(test_phase_alone_and_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_preflight_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rerun_finds_files_in_place, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_run_leaves_node_as_it_was, setup,
						teardown),
		cmocka_unit_test(test_check_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
