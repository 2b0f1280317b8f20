/*
 * test_unit.c - etcd.service and its environment: golden files (byte for
 * byte against manifests/reference/), the environment holding exactly the
 * static pod's flags (cross-checked against the manifest goldens), extra
 * args and envs, quoting and parsing back, bad paths, and the comparison
 * with what a node has (absent, same, partial, different, with the lines
 * that say what differs; a mode alone is fixed, not refused) and writing,
 * the environment parser against systemd.exec(5)'s rules, and which
 * systemctl may serve a node root.
 *
 * EP_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing.
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

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/spec.h"
#include "etcdpilot/systemctl.h"
#include "etcdpilot/unit.h"

static const char *source_dir(void)
{
	const char *s = getenv("EP_SOURCE_DIR");
	return s && *s ? s : ".";
}

static char *read_ref(const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/manifests/reference/%s", source_dir(), name);
	char *out = NULL;
	struct ep_error err;
	ep_error_clear(&err);
	if (ep_read_file(path, 1 << 20, false, &out, NULL, &err) < 0) {
		print_error("cannot read %s: %s\n", path, err.msg);
		return NULL;
	}
	return out;
}

static void make_spec(struct ep_spec *spec, const char *version)
{
	struct ep_error err;
	ep_error_clear(&err);
	ep_spec_init(spec);
	spec->name = strdup("cp1");
	spec->advertise_address = strdup("10.0.0.11");
	spec->etcd_version = strdup(version);
	spec->mode = EP_MODE_SYSTEMD;
	assert_int_equal(ep_spec_defaults(spec, &err), 0);
}

static void render_ok(const struct ep_spec *spec, struct ep_unit_files *files)
{
	struct ep_error err;
	ep_error_clear(&err);
	memset(files, 0, sizeof(*files));
	int r = ep_unit_render(spec, NULL, files, &err);
	if (r < 0)
		print_error("render: %s\n", err.msg);
	assert_int_equal(r, 0);
}

static void expect_golden(const struct ep_unit_file *f, const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/manifests/reference/%s", source_dir(), name);
	if (getenv("EP_UPDATE_GOLDEN")) {
		struct ep_error err;
		ep_error_clear(&err);
		assert_int_equal(ep_write_atomic(path, f->content, f->len, 0644, &err), 0);
		return;
	}
	char *want = read_ref(name);
	assert_non_null(want);
	if (strcmp(want, f->content) != 0) {
		size_t i = 0;
		while (want[i] && want[i] == f->content[i])
			i++;
		print_error("%s differs at byte %zu:\n--- got\n%s\n--- want\n%s\n", name, i,
			    f->content, want);
	}
	assert_string_equal(f->content, want);
	assert_int_equal(strlen(f->content), f->len);
	free(want);
}

static void test_golden_34(void **state)
{
	(void)state;
	struct ep_spec spec;
	struct ep_unit_files files;
	make_spec(&spec, "3.4.23");
	render_ok(&spec, &files);
	expect_golden(&files.f[EP_UNIT_SERVICE], "etcd.service");
	expect_golden(&files.f[EP_UNIT_ENV], "etcd-3.4.env");
	expect_golden(&files.f[EP_UNIT_ETCDCTL_ENV], "etcdctl.env");
	expect_golden(&files.f[EP_UNIT_WRAPPER], "etcdctl.sh");
	assert_string_equal(files.f[EP_UNIT_SERVICE].path, "/etc/systemd/system/etcd.service");
	assert_int_equal(files.f[EP_UNIT_SERVICE].mode, 0644);
	assert_string_equal(files.f[EP_UNIT_ENV].path, "/etc/etcd/etcd.env");
	assert_int_equal(files.f[EP_UNIT_ENV].mode, 0640);
	assert_string_equal(files.f[EP_UNIT_ETCDCTL_ENV].path, "/etc/etcd/etcdctl.env");
	assert_string_equal(files.f[EP_UNIT_WRAPPER].path, "/usr/local/bin/etcdctl.sh");
	assert_int_equal(files.f[EP_UNIT_WRAPPER].mode, 0755);
	ep_unit_files_release(&files);
	ep_spec_release(&spec);
}

static void test_golden_36(void **state)
{
	(void)state;
	struct ep_spec spec;
	struct ep_unit_files files;
	make_spec(&spec, "3.6.6");
	render_ok(&spec, &files);
	expect_golden(&files.f[EP_UNIT_SERVICE], "etcd.service");
	expect_golden(&files.f[EP_UNIT_ENV], "etcd-3.6.env");
	ep_unit_files_release(&files);
	ep_spec_release(&spec);
}

/*
 * The env file must say exactly what the manifest golden's command says:
 * every "- --flag=value" line of the YAML is one ETCD_FLAG=value and there
 * is nothing else.
 */
static void cross_check(const char *yaml_name, const char *env_name)
{
	char *yaml = read_ref(yaml_name), *env = read_ref(env_name);
	assert_non_null(yaml);
	assert_non_null(env);
	struct ep_kvv vars = { 0 };
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_unit_env_parse(env, strlen(env), env_name, &vars, &err), 0);
	size_t flags = 0;
	for (char *line = yaml; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		char *f = strstr(line, "- --");
		if (f) {
			f += 4;
			char *eq = strchr(f, '=');
			assert_non_null(eq);
			*eq = '\0';
			char name[256];
			assert_int_equal(ep_unit_env_name(f, name, sizeof(name)), 0);
			bool found = false;
			for (size_t i = 0; i < vars.n; i++)
				if (strcmp(vars.v[i].name, name) == 0) {
					assert_string_equal(vars.v[i].value, eq + 1);
					found = true;
				}
			if (!found)
				print_error("%s: no %s for --%s\n", env_name, name, f);
			assert_true(found);
			flags++;
		}
		line = nl ? nl + 1 : NULL;
	}
	assert_int_equal(vars.n, flags);
	ep_kvv_release(&vars);
	free(yaml);
	free(env);
}

static void test_env_matches_manifest(void **state)
{
	(void)state;
	cross_check("etcd-3.4.yaml", "etcd-3.4.env");
	cross_check("etcd-3.6.yaml", "etcd-3.6.env");
}

static const char *env_get(const struct ep_unit_file *f, const char *name)
{
	static char buf[4096];
	struct ep_kvv vars = { 0 };
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_unit_env_parse(f->content, f->len, f->path, &vars, &err), 0);
	const char *found = NULL;
	for (size_t i = 0; i < vars.n; i++)
		if (strcmp(vars.v[i].name, name) == 0) {
			snprintf(buf, sizeof(buf), "%s", vars.v[i].value);
			found = buf;
		}
	ep_kvv_release(&vars);
	return found;
}

static void test_extra_args_and_envs(void **state)
{
	(void)state;
	struct ep_spec spec;
	struct ep_unit_files files;
	make_spec(&spec, "3.6.6");
	ep_kvv_push(&spec.extra_args, "snapshot-count", "5000");
	ep_kvv_push(&spec.extra_args, "quota-backend-bytes", "8589934592");
	ep_kvv_push(&spec.extra_args, "log-level", "debug");
	ep_kvv_push(&spec.extra_envs, "GOMAXPROCS", "4");
	ep_kvv_push(&spec.extra_envs, "HTTP_PROXY", "http://proxy example/\"x\"$y");
	render_ok(&spec, &files);
	const struct ep_unit_file *env = &files.f[EP_UNIT_ENV];
	assert_string_equal(env_get(env, "ETCD_SNAPSHOT_COUNT"), "5000");
	assert_string_equal(env_get(env, "ETCD_QUOTA_BACKEND_BYTES"), "8589934592");
	assert_string_equal(env_get(env, "ETCD_LOG_LEVEL"), "debug");
	assert_string_equal(env_get(env, "GOMAXPROCS"), "4");
	/* Quoted on the way out, the same string on the way back in. */
	assert_string_equal(env_get(env, "HTTP_PROXY"), "http://proxy example/\"x\"$y");
	assert_non_null(strstr(env->content, "HTTP_PROXY=\"http://proxy example/\\\"x\\\"\\$y\"\n"));
	/* The default the extra arg replaced is gone, not doubled. */
	assert_null(strstr(env->content, "ETCD_SNAPSHOT_COUNT=10000"));
	ep_unit_files_release(&files);

	/* A duplicated extra arg: etcd keeps the last, so does the file (once). */
	ep_kvv_push(&spec.extra_args, "log-level", "warn");
	render_ok(&spec, &files);
	env = &files.f[EP_UNIT_ENV];
	assert_string_equal(env_get(env, "ETCD_LOG_LEVEL"), "warn");
	const char *first = strstr(env->content, "ETCD_LOG_LEVEL=");
	assert_null(strstr(first + 1, "ETCD_LOG_LEVEL="));
	ep_unit_files_release(&files);
	ep_spec_release(&spec);
}

static void test_render_errors(void **state)
{
	(void)state;
	struct ep_spec spec;
	struct ep_unit_files files = { 0 };
	struct ep_error err;

	make_spec(&spec, "3.6.6");
	ep_kvv_push(&spec.extra_envs, "ETCD_NAME", "other");
	ep_error_clear(&err);
	assert_int_equal(ep_unit_render(&spec, NULL, &files, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "'ETCD_NAME' would shadow the flag '--name'"));
	ep_spec_release(&spec);

	make_spec(&spec, "3.6.6");
	free(spec.systemd.bin_dir);
	spec.systemd.bin_dir = strdup("/opt/my bin");
	ep_error_clear(&err);
	assert_int_equal(ep_unit_render(&spec, NULL, &files, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "systemd.binDir '/opt/my bin'"));
	ep_spec_release(&spec);

	make_spec(&spec, "3.6.6");
	ep_kvv_push(&spec.extra_args, "log-level", "a\nb");
	ep_error_clear(&err);
	assert_int_equal(ep_unit_render(&spec, NULL, &files, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--log-level"));
	ep_spec_release(&spec);

	/*
	 * An empty extraArgs value: the pod gets "--log-level=", but etcd skips
	 * an empty ETCD_LOG_LEVEL, so the env file cannot say the same.
	 */
	make_spec(&spec, "3.6.6");
	ep_kvv_push(&spec.extra_args, "log-level", "");
	ep_error_clear(&err);
	assert_int_equal(ep_unit_render(&spec, NULL, &files, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "extraArgs 'log-level' has an empty value: the static pod "
					"would pass '--log-level=', but etcd ignores an empty "
					"ETCD_LOG_LEVEL in /etc/etcd/etcd.env"));
	ep_spec_release(&spec);

	/* An etcd line the manifest module cannot render is refused here too. */
	make_spec(&spec, "3.2.0");
	ep_error_clear(&err);
	assert_true(ep_unit_render(&spec, NULL, &files, &err) < 0);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	ep_spec_release(&spec);
	for (int i = 0; i < EP_UNIT_NFILES; i++)
		assert_null(files.f[i].content);
}

/*
 * The static pod and systemd mode refuse the same extraArgs with the same
 * words (they used to differ: a newline in a value or a flag named 'a/b'
 * went into the pod and was refused only here), and a spec too large to
 * render is a usage error in both, at the same bound.
 */
static void test_same_rules_both_modes(void **state)
{
	(void)state;
	static const struct {
		const char *name, *value;
		const char *msg;
	} cases[] = {
	    {"a/b", "x", "extraArgs[0].name: 'a/b' is not an etcd flag name"},
	    {"snapshot-count", "5\n6", "extraArgs[0]: --snapshot-count: the value holds a newline"},
	    {"log-level", "info\x1b[2J", "extraArgs[0]: --log-level: the value holds a control "
					 "character"},
	    {"name", "other", "extraArgs[0]: --name='other' contradicts the node name 'cp1'"},
	    {"data-dir", "/elsewhere", "extraArgs[0]: --data-dir='/elsewhere' contradicts the data "
				       "directory '/var/lib/etcd'"},
	    {"initial-cluster", "a=https://10.0.0.1:2380", "extraArgs[0]: --initial-cluster is "
							  "etcdpilot's to set"},
	    {"peer-key-file", "/root/peer.key", "extraArgs[0]: --peer-key-file='/root/peer.key' is "
						"not a file in /etc/kubernetes/pki/etcd"},
	    {"advertise-client-urls", "https://0.0.0.0:2379",
	     "extraArgs[0]: --advertise-client-urls: '0.0.0.0' is the unspecified address"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int mode = 0; mode < 2; mode++) {
			struct ep_spec spec;
			struct ep_error err;
			make_spec(&spec, "3.6.6");
			ep_kvv_push(&spec.extra_args, cases[i].name, cases[i].value);
			ep_error_clear(&err);
			int r;
			if (mode) {
				struct ep_unit_files files = { 0 };
				r = ep_unit_render(&spec, NULL, &files, &err);
			} else {
				char *text = NULL;
				r = ep_manifest_render(&spec, NULL, &text, NULL, &err);
				free(text);
			}
			if (r >= 0 || err.kind != EP_ERR_USAGE || strncmp(err.msg, cases[i].msg,
									 strlen(cases[i].msg)))
				fail_msg("case %zu, %s: r=%d kind=%d '%s', want '%s...'", i,
					 mode ? "unit" : "manifest", r, err.kind, err.msg,
					 cases[i].msg);
			ep_spec_release(&spec);
		}
	}

	/*
	 * 100 000 extraArgs: both refuse with the same bound, as a usage error
	 * (render unit used to take 10 s to write 1.4 MB; render manifest said
	 * exit 1).
	 */
	struct ep_spec spec;
	make_spec(&spec, "3.6.6");
	for (int i = 0; i < 100000; i++) {
		char n[32];
		snprintf(n, sizeof(n), "flag-%d", i);
		assert_int_equal(ep_kvv_push(&spec.extra_args, n, "1"), 0);
	}
	struct ep_error err;
	struct ep_unit_files files = { 0 };
	ep_error_clear(&err);
	assert_int_equal(ep_unit_render(&spec, NULL, &files, &err), -EFBIG);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "/etc/etcd/etcd.env would be larger than 1024 KiB (100000 "
					"extraArgs"));
	for (int i = 0; i < EP_UNIT_NFILES; i++)
		assert_null(files.f[i].content);
	char *text = NULL;
	ep_error_clear(&err);
	assert_int_equal(ep_manifest_render(&spec, NULL, &text, NULL, &err), -EFBIG);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "the etcd manifest would be larger than 1024 KiB (100000 "
					"extraArgs"));
	assert_null(text);
	ep_spec_release(&spec);

	/* valueFrom is the kubelet's: the pod takes it, systemd mode cannot. */
	make_spec(&spec, "3.6.6");
	assert_int_equal(ep_kvv_push_at(&spec.extra_envs, "POD_IP", "", "t.yaml:9:13: "
					"etcd.local.extraEnvs[0]",
					"{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}"), 0);
	ep_error_clear(&err);
	assert_int_equal(ep_unit_render(&spec, NULL, &files, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_string_equal(err.msg, "t.yaml:9:13: etcd.local.extraEnvs[0]: extraEnvs 'POD_IP': "
				     "valueFrom is resolved by the kubelet, which does not run etcd "
				     "in systemd mode; give the value itself");
	ep_error_clear(&err);
	assert_int_equal(ep_manifest_render(&spec, NULL, &text, NULL, &err), 0);
	assert_non_null(strstr(text, "    - name: POD_IP\n      valueFrom:\n        fieldRef:\n"
				     "          fieldPath: status.podIP\n"));
	free(text);
	ep_spec_release(&spec);
}

static void test_env_name_and_line(void **state)
{
	(void)state;
	char buf[64];
	assert_int_equal(ep_unit_env_name("listen-client-urls", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ETCD_LISTEN_CLIENT_URLS");
	assert_int_equal(ep_unit_env_name("bad flag", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(ep_unit_env_name("", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(ep_unit_env_name("x", buf, 5), -EINVAL);

	char *l = ep_unit_env_line("A", "https://1.2.3.4:2379,https://[::1]:2379");
	assert_string_equal(l, "A=\"https://1.2.3.4:2379,https://[::1]:2379\"\n");
	free(l);
	l = ep_unit_env_line("A", "InitialCorruptCheck=true");
	assert_string_equal(l, "A=InitialCorruptCheck=true\n");
	free(l);
	l = ep_unit_env_line("A", "");
	assert_string_equal(l, "A=\"\"\n");
	free(l);
}

static void test_env_parse(void **state)
{
	(void)state;
	const char *text = "# comment\n"
			   "  ; another\n"
			   "\n"
			   "A=plain\n"
			   "B = spaced  \n"
			   "C=\"quoted \\\"x\\\" \\$HOME \\n\"\n"
			   "D='single \\ kept'\n"
			   "E=a\\\n"
			   "b\n"
			   "F=\n";
	struct ep_kvv kv = { 0 };
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_unit_env_parse(text, strlen(text), "t.env", &kv, &err), 0);
	assert_int_equal(kv.n, 6);
	assert_string_equal(kv.v[0].name, "A");
	assert_string_equal(kv.v[0].value, "plain");
	assert_string_equal(kv.v[1].name, "B");
	assert_string_equal(kv.v[1].value, "spaced");
	assert_string_equal(kv.v[2].name, "C");
	assert_string_equal(kv.v[2].value, "quoted \"x\" $HOME \\n");
	assert_string_equal(kv.v[3].value, "single \\ kept");
	assert_string_equal(kv.v[4].value, "ab");
	assert_string_equal(kv.v[5].value, "");
	ep_kvv_release(&kv);

	/*
	 * systemd.exec(5): a value is quoted only when it starts with a quote;
	 * later quotes are plain characters, text may follow a closing quote,
	 * a backslash outside quotes takes the next character as it is, a
	 * comment never continues onto the next line, CR ends a line.
	 */
	static const struct {
		const char *line, *value;
	} sd[] = {
		{ "A=a\"b c\"\n", "a\"b c\"" },
		{ "A=it's\n", "it's" },
		{ "A=\"x\" y\n", "xy" },
		{ "A='x' \"y\"  \n", "xy" },
		{ "A=\\\"q\\\"\n", "\"q\"" },
		{ "A=a\\  \n", "a " },
		{ "A=in  side  \n", "in  side" },
		{ "A=\"multi\nline\"\n", "multi\nline" },
		{ "A=\"back\\\nslash\"\n", "backslash" },
		{ "A=\"\\a\\`\"\n", "\\a`" },
		{ "A=b\r\n", "b" },
		{ "# comment \\\nA=1\n", "1" },
		{ "  A  =  v\n", "v" },
	};
	for (size_t i = 0; i < sizeof(sd) / sizeof(sd[0]); i++) {
		ep_error_clear(&err);
		int r = ep_unit_env_parse(sd[i].line, strlen(sd[i].line), "t.env", &kv, &err);
		if (r != 0 || kv.n != 1 || strcmp(kv.v[0].value, sd[i].value) != 0)
			print_error("case %zu: r=%d n=%zu '%s' (%s)\n", i, r, kv.n,
				    kv.n ? kv.v[0].value : "", err.msg);
		assert_int_equal(r, 0);
		assert_int_equal(kv.n, 1);
		assert_string_equal(kv.v[0].name, "A");
		assert_string_equal(kv.v[0].value, sd[i].value);
		ep_kvv_release(&kv);
	}

	/* systemd has no "export": the name "export C" is not a variable name. */
	const char *exp = "export C=1\n";
	ep_error_clear(&err);
	assert_int_equal(ep_unit_env_parse(exp, strlen(exp), "t.env", &kv, &err), -EINVAL);
	assert_string_equal(err.msg, "t.env:1: 'export C' is not a variable name (systemd ignores "
				     "the line)");
	ep_kvv_release(&kv);

	const char *bad = "A=1\nnot an assignment\n";
	ep_error_clear(&err);
	assert_int_equal(ep_unit_env_parse(bad, strlen(bad), "t.env", &kv, &err), -EINVAL);
	assert_string_equal(err.msg, "t.env:2: not a NAME=value line");
	ep_kvv_release(&kv);

	const char *open = "A=\"never closed\n";
	ep_error_clear(&err);
	assert_int_equal(ep_unit_env_parse(open, strlen(open), "t.env", &kv, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unterminated quote"));
	ep_kvv_release(&kv);
}

static char *mkroot(void)
{
	char *root = strdup("/tmp/ep-test-unit.XXXXXX");
	assert_non_null(mkdtemp(root));
	return root;
}

static void rm_rf(const char *path)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static bool diffs_have(const struct ep_strv *d, const char *needle)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->v[i], needle))
			return true;
	for (size_t i = 0; i < d->n; i++)
		print_error("diff: %s\n", d->v[i]);
	return false;
}

static void collect(void *userdata, const char *line)
{
	ep_strv_push(userdata, line);
}

static void test_compare_and_write(void **state)
{
	(void)state;
	char *root = mkroot();
	struct ep_spec spec;
	struct ep_unit_files files;
	struct ep_error err;
	enum ep_unit_state st;
	unsigned missing = 0;
	struct ep_strv diffs = { 0 };
	make_spec(&spec, "3.4.23");
	render_ok(&spec, &files);

	unsigned bad_mode = 0, written = 0, fixed = 0;
	const unsigned all = (1u << EP_UNIT_NFILES) - 1;
	ep_error_clear(&err);
	assert_int_equal(ep_unit_compare(&files, root, &st, &missing, &bad_mode, &diffs, &err), 0);
	assert_int_equal(st, EP_UNIT_ABSENT);
	assert_int_equal(missing, all);
	assert_int_equal(diffs.n, 0);

	/* Dry run: says what it would write, writes nothing. */
	assert_int_equal(ep_unit_write(&files, root, true, NULL, NULL, &written, &fixed, &err), 0);
	assert_int_equal(written, all);
	assert_int_equal(ep_unit_compare(&files, root, &st, NULL, NULL, NULL, &err), 0);
	assert_int_equal(st, EP_UNIT_ABSENT);

	assert_int_equal(ep_unit_write(&files, root, false, NULL, NULL, &written, &fixed, &err), 0);
	assert_int_equal(written, all);
	assert_int_equal(fixed, 0);
	assert_int_equal(ep_unit_compare(&files, root, &st, &missing, &bad_mode, &diffs, &err), 0);
	assert_int_equal(st, EP_UNIT_SAME);
	assert_int_equal(missing, 0);
	assert_int_equal(bad_mode, 0);
	char path[1024];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/etc/etcd/etcd.env", root);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0640);
	snprintf(path, sizeof(path), "%s/usr/local/bin/etcdctl.sh", root);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);

	/* Writing again changes nothing. */
	assert_int_equal(ep_unit_write(&files, root, false, NULL, NULL, &written, &fixed, &err), 0);
	assert_int_equal(written, 0);
	assert_int_equal(fixed, 0);

	/*
	 * Only the mode of etcd.env is wrong (chmod 644): not a difference to
	 * refuse over, but a mode to fix - in place, same inode - and say so.
	 */
	char envp[1024];
	snprintf(envp, sizeof(envp), "%s/etc/etcd/etcd.env", root);
	assert_int_equal(chmod(envp, 0644), 0);
	assert_int_equal(stat(envp, &sb), 0);
	ino_t ino = sb.st_ino;
	assert_int_equal(ep_unit_compare(&files, root, &st, &missing, &bad_mode, &diffs, &err), 0);
	assert_int_equal(st, EP_UNIT_SAME);
	assert_int_equal(bad_mode, 1u << EP_UNIT_ENV);
	assert_int_equal(diffs.n, 0);
	struct ep_strv lines = { 0 };
	assert_int_equal(ep_unit_write(&files, root, true, collect, &lines, &written, &fixed, &err),
			 0);
	assert_int_equal(written, 0);
	assert_int_equal(fixed, 1u << EP_UNIT_ENV);
	assert_int_equal(stat(envp, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0644); /* a dry run changes nothing */
	assert_int_equal(ep_unit_write(&files, root, false, collect, &lines, &written, &fixed, &err),
			 0);
	assert_int_equal(fixed, 1u << EP_UNIT_ENV);
	assert_int_equal(lines.n, 2);
	char want[1200];
	snprintf(want, sizeof(want), "[dryrun] Would change the mode of \"%s\" from 0644 to 0640",
		 envp);
	assert_string_equal(lines.v[0], want);
	assert_string_equal(lines.v[1], "[systemd] Changed the mode of /etc/etcd/etcd.env from "
					"0644 to 0640");
	ep_strv_release(&lines);
	assert_int_equal(stat(envp, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0640);
	assert_int_equal(sb.st_ino, ino);

	/* A wrapper gone: partial. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(ep_unit_compare(&files, root, &st, &missing, &bad_mode, &diffs, &err), 0);
	assert_int_equal(st, EP_UNIT_PARTIAL);
	assert_int_equal(missing, 1u << EP_UNIT_WRAPPER);

	/* Another member name, a stray variable, a mode: each said. */
	struct ep_spec other;
	struct ep_unit_files ofiles;
	make_spec(&other, "3.4.23");
	free(other.name);
	other.name = strdup("cp9");
	ep_kvv_push(&other.extra_envs, "GOMAXPROCS", "2");
	render_ok(&other, &ofiles);
	assert_int_equal(ep_unit_write(&ofiles, root, false, NULL, NULL, NULL, NULL, &err), 0);
	snprintf(path, sizeof(path), "%s/etc/systemd/system/etcd.service", root);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(chmod(envp, 0600), 0);
	assert_int_equal(ep_unit_compare(&files, root, &st, NULL, &bad_mode, &diffs, &err), 0);
	assert_int_equal(st, EP_UNIT_DIFFERENT);
	assert_true(diffs_have(&diffs, "/etc/etcd/etcd.env: ETCD_NAME is 'cp9', wanted 'cp1'"));
	assert_true(diffs_have(&diffs, "/etc/etcd/etcd.env: ETCD_INITIAL_CLUSTER is "
				       "'cp9=https://10.0.0.11:2380', wanted "
				       "'cp1=https://10.0.0.11:2380'"));
	assert_true(diffs_have(&diffs, "/etc/etcd/etcd.env: GOMAXPROCS='2' is not wanted"));
	assert_true(diffs_have(&diffs, "/etc/etcd/etcd.env: mode 0600, wanted 0640"));
	/* The unit's content is right: its mode alone is no difference, only to fix. */
	for (size_t i = 0; i < diffs.n; i++)
		assert_null(strstr(diffs.v[i], "etcd.service"));
	assert_int_equal(bad_mode, 1u << EP_UNIT_SERVICE);
	ep_strv_release(&diffs);

	/* A hand-edited unit: the first differing line, with its number. */
	assert_int_equal(chmod(path, 0644), 0);
	const char *edited = "[Unit]\nDescription=mine\n";
	assert_int_equal(ep_write_atomic(path, edited, strlen(edited), 0644, &err), 0);
	assert_int_equal(ep_unit_compare(&files, root, &st, NULL, NULL, &diffs, &err), 0);
	assert_int_equal(st, EP_UNIT_DIFFERENT);
	assert_true(diffs_have(&diffs, "/etc/systemd/system/etcd.service:1: '[Unit]', wanted "
				       "'# etcd.service: this node's etcd member"));
	ep_strv_release(&diffs);

	/* A symlink where the unit should be is not followed. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/dev/null", path), 0);
	assert_int_equal(ep_unit_compare(&files, root, &st, NULL, NULL, &diffs, &err), 0);
	assert_int_equal(st, EP_UNIT_DIFFERENT);
	assert_true(diffs_have(&diffs, "etcd.service: not a regular file"));
	ep_strv_release(&diffs);

	ep_unit_files_release(&ofiles);
	ep_spec_release(&other);
	ep_unit_files_release(&files);
	ep_spec_release(&spec);
	rm_rf(root);
	free(root);
}

/* A join renders the member list it was given and the existing state. */
static void test_join_env(void **state)
{
	(void)state;
	struct ep_spec spec;
	struct ep_unit_files files = { 0 };
	struct ep_error err;
	make_spec(&spec, "3.6.6");
	struct ep_kvv cluster = { 0 };
	ep_kvv_push(&cluster, "cp0", "https://10.0.0.10:2380");
	ep_kvv_push(&cluster, "cp1", "https://10.0.0.11:2380");
	ep_error_clear(&err);
	assert_int_equal(ep_unit_render(&spec, &cluster, &files, &err), 0);
	assert_string_equal(env_get(&files.f[EP_UNIT_ENV], "ETCD_INITIAL_CLUSTER"),
			    "cp0=https://10.0.0.10:2380,cp1=https://10.0.0.11:2380");
	assert_string_equal(env_get(&files.f[EP_UNIT_ENV], "ETCD_INITIAL_CLUSTER_STATE"),
			    "existing");
	ep_kvv_release(&cluster);
	ep_unit_files_release(&files);
	ep_spec_release(&spec);
}

/*
 * Which systemctl may manage this node's etcd.service: with a --root other
 * than / only one named explicitly, and never the real one (it drives the
 * host's systemd whatever the root); the real one only where systemd runs.
 */
static void test_systemctl_preflight(void **state)
{
	(void)state;
	char *run = mkroot();
	struct ep_error err;
	struct ep_systemctl sc = { .program = "systemctl", .root = "/tmp/node" };
	ep_error_clear(&err);
	assert_int_equal(ep_systemctl_preflight(&sc, false, run, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "--root '/tmp/node' needs the systemctl named"));
	for (int i = 0; i < 2; i++) {
		sc.program = i ? "/usr/bin/systemctl" : "systemctl";
		ep_error_clear(&err);
		assert_int_equal(ep_systemctl_preflight(&sc, true, run, &err), -EINVAL);
		assert_int_equal(err.kind, EP_ERR_USAGE);
		assert_non_null(strstr(err.msg, "a real systemctl cannot manage the units of another "
						"root"));
	}
	sc.program = "/src/hack/systemctl-standin";
	ep_error_clear(&err);
	assert_int_equal(ep_systemctl_preflight(&sc, true, run, &err), 0);

	/* The real one on the real root: only with <run>/systemd/system there. */
	sc.program = "systemctl";
	sc.root = "/";
	ep_error_clear(&err);
	assert_int_equal(ep_systemctl_preflight(&sc, false, run, &err), -ENOTSUP);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "systemd is not running on this host"));
	char path[1100];
	snprintf(path, sizeof(path), "%s/systemd/system", run);
	ep_error_clear(&err);
	assert_int_equal(ep_mkdir_p(path, 0755, &err), 0);
	assert_int_equal(ep_systemctl_preflight(&sc, false, run, &err), 0);
	sc.root = NULL;
	assert_int_equal(ep_systemctl_preflight(&sc, false, run, &err), 0);
	assert_true(ep_systemctl_is_real(NULL));
	assert_false(ep_systemctl_is_real("systemctl-standin"));
	rm_rf(run);
	free(run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_34),
		cmocka_unit_test(test_golden_36),
		cmocka_unit_test(test_env_matches_manifest),
		cmocka_unit_test(test_extra_args_and_envs),
		cmocka_unit_test(test_render_errors),
		cmocka_unit_test(test_same_rules_both_modes),
		cmocka_unit_test(test_env_name_and_line),
		cmocka_unit_test(test_env_parse),
		cmocka_unit_test(test_compare_and_write),
		cmocka_unit_test(test_join_env),
		cmocka_unit_test(test_systemctl_preflight),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
