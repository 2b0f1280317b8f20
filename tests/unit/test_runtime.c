/*
 * test_runtime.c - the runtimes: the unit-file reader (systemd.syntax(7)
 * and command lines) on its own and on hostile input; reading back the
 * units kubespray, etcdadm, "Kubernetes the Hard Way" and etcdpilot leave
 * on a node (tests/unit/data/units/, rendered from their templates) and a
 * static pod manifest, with what etcd would refuse (the same option as a
 * variable and a flag, an unknown flag, a bad boolean) and what it
 * ignores (ETCD_PROXY, unknown ETCD_* variables, empty ones); CRI and
 * journal log lines; the diagnosis of both runtimes against log files and
 * fake systemctl, journalctl and crictl programs under a scratch root; which
 * program may run for a root; rendering; start/stop/restart as plan
 * actions.
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
#include <jansson.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/runtime.h"
#include "etcdpilot/spec.h"
#include "etcdpilot/unitfile.h"
#include "helpers/root_swap.h"
#include "runtime_internal.h"
#include "util/fs_internal.h"

/* ---- helpers ---------------------------------------------------------------- */

static const char *source_dir(void)
{
	const char *s = getenv("EP_SOURCE_DIR");
	return s && *s ? s : EP_TEST_SOURCE_DIR;
}

static char *scratch(void)
{
	char *d = strdup("/tmp/ep-test-runtime.XXXXXX");
	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_rf(char *path)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
	free(path);
}

/* Write @data to @root/@path (parents created), mode @mode. */
static void put(const char *root, const char *path, const char *data, mode_t mode)
{
	char full[2048], dir[2048];
	struct ep_error err;
	ep_error_clear(&err);
	snprintf(full, sizeof(full), "%s%s", root, path);
	snprintf(dir, sizeof(dir), "%s", full);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(ep_mkdir_p(dir, 0755, &err), 0);
	if (ep_write_atomic(full, data, strlen(data), mode, &err) < 0)
		fail_msg("%s", err.msg);
}

static void link_at(const char *root, const char *path, const char *target)
{
	char full[2048], dir[2048];
	struct ep_error err;
	ep_error_clear(&err);
	snprintf(full, sizeof(full), "%s%s", root, path);
	snprintf(dir, sizeof(dir), "%s", full);
	*strrchr(dir, '/') = '\0';
	assert_int_equal(ep_mkdir_p(dir, 0755, &err), 0);
	assert_int_equal(symlink(target, full), 0);
}

static void make_spec(struct ep_spec *spec, enum ep_mode mode, const char *version)
{
	struct ep_error err;
	ep_error_clear(&err);
	ep_spec_init(spec);
	spec->name = strdup("cp1");
	spec->advertise_address = strdup("10.0.0.11");
	spec->etcd_version = strdup(version);
	spec->mode = mode;
	assert_int_equal(ep_spec_defaults(spec, &err), 0);
}

static bool strv_has(const struct ep_strv *v, const char *needle)
{
	for (size_t i = 0; i < v->n; i++)
		if (strstr(v->v[i], needle))
			return true;
	return false;
}

static void dump(const struct ep_member_desc *m)
{
	char *t = ep_member_desc_text(m);
	fputs(t ? t : "(oom)\n", stderr);
	free(t);
}

#define assert_has(v, needle)                                                                      \
	do {                                                                                       \
		if (!strv_has((v), (needle)))                                                      \
			fail_msg("no line with '%s' in " #v, (needle));                            \
	} while (0)

static const struct ep_member_flag *flag(const struct ep_member_desc *m, const char *name)
{
	for (size_t i = 0; i < m->nflags; i++)
		if (!strcmp(m->flags[i].name, name))
			return &m->flags[i];
	return NULL;
}

static void expect_flag(const struct ep_member_desc *m, const char *name, const char *value,
			const char *origin)
{
	const struct ep_member_flag *f = flag(m, name);
	if (!f) {
		dump(m);
		fail_msg("no flag --%s", name);
	}
	assert_string_equal(f->value, value);
	if (origin)
		assert_string_equal(f->origin, origin);
}

static const char *env_of(const struct ep_member_desc *m, const char *name)
{
	for (size_t i = 0; i < m->nenv; i++)
		if (!strcmp(m->env[i].name, name))
			return m->env[i].value;
	return NULL;
}

/* read_back of @mode for node root @root with the spec's default paths. */
static int read_back(enum ep_mode mode, const char *root, struct ep_member_desc *m,
		     struct ep_error *err)
{
	struct ep_spec spec;
	make_spec(&spec, mode, "3.5.21");
	struct ep_runtime_ctx ctx = {.root = root, .spec = &spec};
	ep_error_clear(err);
	int r = ep_runtime_get(mode)->read_back(&ctx, m, err);
	ep_spec_release(&spec);
	return r;
}

static void read_ok(enum ep_mode mode, const char *root, struct ep_member_desc *m)
{
	struct ep_error err;
	int r = read_back(mode, root, m, &err);
	if (r < 0)
		fail_msg("read_back %s: %s", root, err.msg);
}

static void fixture_root(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/tests/unit/data/units/%s", source_dir(), name);
}

/* ---- the unit file --------------------------------------------------------- */

static void test_unitfile_syntax(void **state)
{
	(void)state;
	static const char text[] = "\xef\xbb\xbf# a comment\n"
				   "; another\n"
				   "Orphan=1\n"
				   "[Unit]\n"
				   "  Description = etcd \\\n"
				   "# a comment inside the continuation is skipped\n"
				   "   key-value store  \n"
				   "\n"
				   "[Service]\r\n"
				   "ExecStart=/bin/etcd --a=\\\\\n"
				   "Environment=A=1\r"
				   "NoEquals\n"
				   "Environment=\n"
				   "Environment=B=2\n"
				   "ExecStart=/bin/etcd \\\n"
				   "  --x=1 \\\n"
				   "  --y=2\n"
				   "Empty=\n"
				   "Last=cont\\";
	struct ep_unit_entries e = {0};
	struct ep_strv notes = {0};
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_unitfile_parse(text, sizeof(text) - 1, "/u.service", &e, &notes, &err),
			 0);
	assert_int_equal(e.n, 8);
	assert_string_equal(e.v[0].section, "Unit");
	assert_string_equal(e.v[0].key, "Description");
	/* the backslash becomes a space, the comment line is skipped, ends trimmed */
	assert_string_equal(e.v[0].value, "etcd     key-value store");
	assert_int_equal(e.v[0].line, 5);
	/* an escaped backslash at the end continues nothing */
	assert_string_equal(e.v[1].value, "/bin/etcd --a=\\\\");
	assert_int_equal(e.v[1].line, 10);
	assert_string_equal(e.v[2].value, "A=1");
	assert_string_equal(e.v[5].value, "/bin/etcd    --x=1    --y=2");
	assert_int_equal(e.v[5].line, 15);
	assert_string_equal(e.v[6].key, "Empty");
	assert_string_equal(e.v[6].value, "");
	/* a continuation at the end of the file still counts */
	assert_string_equal(e.v[7].value, "cont");
	assert_int_equal(e.v[7].line, 19);
	assert_has(&notes, "/u.service:3: assignment outside of a section");
	assert_has(&notes, "/u.service:12: a line without '='");

	/* the reset rule: an empty assignment forgets the earlier ones */
	const struct ep_unit_entry **v = NULL;
	size_t n = 0;
	assert_int_equal(ep_unit_entries_get(&e, "Service", "Environment", &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0]->value, "B=2");
	free(v);
	assert_int_equal(ep_unit_entries_get(&e, "Service", "ExecStart", &v, &n), 0);
	assert_int_equal(n, 2);
	free(v);
	assert_int_equal(ep_unit_entries_get(&e, "Install", "WantedBy", &v, &n), 0);
	assert_int_equal(n, 0);
	assert_null(v);

	/* a broken header is refused, and the list keeps what it had */
	size_t before = e.n;
	assert_int_equal(
	    ep_unitfile_parse("[Service]\nA=1\n[Serv ice\nB=2\n", 29, "/d.conf", &e, &notes, &err),
	    -EBADMSG);
	assert_non_null(strstr(err.msg, "/d.conf:3: invalid section header"));
	assert_int_equal(e.n, before);
	ep_unit_entries_release(&e);
	/* the same on an empty list (found by fuzz_unitfile) */
	struct ep_unit_entries none = {0};
	assert_int_equal(ep_unitfile_parse(" [", 2, "/e.conf", &none, NULL, &err), -EBADMSG);
	assert_int_equal(none.n, 0);
	ep_unit_entries_release(&none);
	ep_strv_release(&notes);
}

static void expect_exec(const char *value, const struct ep_kvv *env, const char *path,
			unsigned flags, const char *const *argv)
{
	struct ep_unit_exec x;
	struct ep_error err;
	ep_error_clear(&err);
	if (ep_unit_exec_parse(value, "etcd.service", env, &x, NULL, &err) < 0)
		fail_msg("'%s': %s", value, err.msg);
	assert_string_equal(x.path, path);
	assert_int_equal(x.flags, flags);
	size_t n = 0;
	while (argv[n])
		n++;
	if (x.argv.n != n)
		fail_msg("'%s': %zu words, wanted %zu", value, x.argv.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(x.argv.v[i], argv[i]);
	ep_unit_exec_release(&x);
}

static void test_exec_parse(void **state)
{
	(void)state;
	struct ep_kvv env = {0};
	assert_int_equal(ep_kvv_push(&env, "NAME", "n1"), 0);
	assert_int_equal(ep_kvv_push(&env, "OPTS", "--a=1  \"--b=x y\"\t--c"), 0);
	assert_int_equal(ep_kvv_push(&env, "EMPTY", ""), 0);

	expect_exec("/usr/bin/etcd", &env, "/usr/bin/etcd", 0,
		    (const char *[]){"/usr/bin/etcd", NULL});
	expect_exec("-/usr/bin/etcd --name ${NAME}", &env, "/usr/bin/etcd", EP_EXEC_IGNORE_FAILURE,
		    (const char *[]){"/usr/bin/etcd", "--name", "n1", NULL});
	/* quotes anywhere in a word, C escapes inside and outside them */
	expect_exec("+/bin/etcd --x=\"a b\"c 'd\\x41' \\101 \"q\\\"q\"", &env, "/bin/etcd",
		    EP_EXEC_PRIVILEGED,
		    (const char *[]){"/bin/etcd", "--x=a bc", "dA", "A", "q\"q", NULL});
	/* $NAME alone splits, ${NAME} never does, $$ is a dollar, $X inside a word stays */
	expect_exec("/bin/etcd $OPTS ${OPTS} x$$y --n=$NAME $UNSET ${UNSET}", &env, "/bin/etcd", 0,
		    (const char *[]){"/bin/etcd", "--a=1", "--b=x y", "--c",
				     "--a=1  \"--b=x y\"\t--c", "x$y", "--n=$NAME", "", NULL});
	expect_exec("/bin/etcd ${EMPTY:-dflt} ${NAME:-dflt} ${NAME:+alt} ${EMPTY:+alt}", &env,
		    "/bin/etcd", 0, (const char *[]){"/bin/etcd", "dflt", "n1", "alt", "", NULL});
	/* ':' turns substitution off; '@' gives argv[0]; '!!' is one prefix */
	expect_exec(":/bin/etcd ${NAME}", &env, "/bin/etcd", EP_EXEC_NO_ENV_EXPAND,
		    (const char *[]){"/bin/etcd", "${NAME}", NULL});
	expect_exec("@!!/bin/etcd etcd-server --name=${NAME}", &env, "/bin/etcd",
		    EP_EXEC_ARGV0 | EP_EXEC_AMBIENT,
		    (const char *[]){"etcd-server", "--name=n1", NULL});
	/* specifiers: %n %N %% */
	expect_exec("/bin/etcd --name=%N --u=%n 100%%", &env, "/bin/etcd", 0,
		    (const char *[]){"/bin/etcd", "--name=etcd", "--u=etcd.service", "100%", NULL});
	expect_exec("etcd --x", &env, "etcd", 0, (const char *[]){"etcd", "--x", NULL});

	struct ep_strv notes = {0};
	struct ep_unit_exec x;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(
	    ep_unit_exec_parse("/bin/etcd --h=%H ${NOPE}", "etcd.service", &env, &x, &notes, &err),
	    0);
	assert_string_equal(x.argv.v[1], "--h=%H");
	assert_has(&notes, "'%H' is not expanded");
	assert_has(&notes, "$NOPE, which is not set");
	ep_unit_exec_release(&x);
	ep_strv_release(&notes);

	static const struct {
		const char *value, *why;
	} bad[] = {
	    {"", "empty"},
	    {"   ", "empty"},
	    {"/bin/etcd \"--x", "unterminated quote"},
	    {"/bin/etcd '--x", "unterminated quote"},
	    {"/bin/etcd --x=\\q", "bad escape"},
	    {"/bin/etcd --x=\\x00", "bad escape"},
	    {"/bin/etcd \\", "backslash at the end"},
	    {"bin/etcd", "neither an absolute path"},
	    {"/bin/etcd ; /bin/true", "several commands"},
	    {"@/bin/etcd", "argv[0]"},
	    {"-", "neither an absolute path"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ep_error_clear(&err);
		if (ep_unit_exec_parse(bad[i].value, "etcd.service", &env, &x, NULL, &err) !=
		    -EINVAL)
			fail_msg("'%s' was taken", bad[i].value);
		if (!strstr(err.msg, bad[i].why))
			fail_msg("'%s': %s", bad[i].value, err.msg);
	}
	ep_kvv_release(&env);
}

static void test_environment_parse(void **state)
{
	(void)state;
	struct ep_kvv kv = {0};
	struct ep_strv notes = {0};
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_unit_environment_parse("A=1 \"B=x y\" 'C=$z w' D=\\x41 not-valid=1 E= "
						   "3X=1 F=%n",
						   "etcd.service", &kv, &notes, &err),
			 0);
	assert_int_equal(kv.n, 6);
	assert_string_equal(kv.v[0].name, "A");
	assert_string_equal(kv.v[1].value, "x y");
	assert_string_equal(kv.v[2].value, "$z w");
	assert_string_equal(kv.v[3].value, "A");
	assert_string_equal(kv.v[4].name, "E");
	assert_string_equal(kv.v[4].value, "");
	assert_string_equal(kv.v[5].value, "etcd.service");
	assert_has(&notes, "'not-valid=1' is not a valid assignment");
	assert_has(&notes, "'3X=1' is not a valid assignment");
	assert_int_equal(ep_unit_environment_parse("A=\"1", "etcd.service", &kv, &notes, &err),
			 -EINVAL);
	assert_non_null(strstr(err.msg, "ignores the whole line"));
	ep_kvv_release(&kv);
	ep_strv_release(&notes);
}

/* ---- read back: the layouts met in the field --------------------------------------- */

static void test_read_back_kubespray(void **state)
{
	(void)state;
	char root[1024];
	fixture_root("kubespray", root, sizeof(root));
	struct ep_member_desc m;
	read_ok(EP_MODE_SYSTEMD, root, &m);
	assert_string_equal(m.source, "/etc/systemd/system/etcd.service");
	assert_int_equal(m.files.n, 2);
	assert_string_equal(m.files.v[1], "/etc/etcd.env");
	assert_string_equal(m.program, "/usr/local/bin/etcd");
	assert_null(m.version); /* no binary in the fixture */
	assert_int_equal(m.conflicts.n, 0);
	expect_flag(&m, "name", "etcd1", "/etc/etcd.env:12");
	expect_flag(&m, "data-dir", "/var/lib/etcd", "/etc/etcd.env:2");
	/* Ansible's "True" is a boolean etcd takes: written "true" */
	expect_flag(&m, "peer-client-cert-auth", "true", "/etc/etcd.env:32");
	expect_flag(&m, "experimental-initial-corrupt-check", "true", "/etc/etcd.env:44");
	expect_flag(&m, "client-cert-auth", "true", NULL);
	expect_flag(&m, "experimental-watch-progress-notify-interval", "5s", "/etc/etcd.env:47");
	assert_true(flag(&m, "name")->from_env);
	/* ETCD_PROXY=off is no member setting; ETCDCTL_* are etcdctl's */
	assert_null(flag(&m, "proxy"));
	assert_has(&m.notes, "ETCD_PROXY=off (/etc/etcd.env:13): a setting of etcd's v2 proxy");
	assert_string_equal(env_of(&m, "ETCDCTL_ENDPOINTS"), "https://127.0.0.1:2379");
	assert_string_equal(env_of(&m, "ETCDCTL_CERT"), "/etc/ssl/etcd/ssl/admin-node1.pem");
	assert_int_equal(m.nenv, 4);
	/* in the order etcd applies them: by flag name */
	for (size_t i = 1; i < m.nflags; i++)
		assert_true(strcmp(m.flags[i - 1].name, m.flags[i].name) < 0);
	assert_int_equal(m.nflags, 29);
	/* the spec terms */
	assert_string_equal(m.spec.name, "etcd1");
	assert_string_equal(m.spec.advertise_address, "10.0.0.21");
	assert_string_equal(m.spec.data_dir, "/var/lib/etcd");
	assert_null(m.spec.cert_dir); /* not kubeadm's layout */
	assert_string_equal(m.trusted_ca_file, "/etc/ssl/etcd/ssl/ca.pem");
	assert_string_equal(m.peer_key_file, "/etc/ssl/etcd/ssl/member-node1-key.pem");
	assert_string_equal(m.listen_client_urls, "https://10.0.0.21:2379,https://127.0.0.1:2379");
	assert_string_equal(m.initial_cluster_state, "new");
	assert_int_equal(m.initial_cluster.n, 3);
	assert_string_equal(m.initial_cluster.v[2].name, "etcd3");
	assert_string_equal(m.initial_cluster.v[2].value, "https://10.0.0.23:2380");
	assert_string_equal(m.spec.systemd.env_file, "/etc/etcd.env");
	assert_string_equal(m.spec.systemd.bin_dir, "/usr/local/bin");
	assert_string_equal(m.spec.systemd.unit_path, "/etc/systemd/system/etcd.service");
	ep_member_desc_release(&m);
}

static void test_read_back_etcdadm(void **state)
{
	(void)state;
	char root[1024];
	fixture_root("etcdadm", root, sizeof(root));
	struct ep_member_desc m;
	read_ok(EP_MODE_SYSTEMD, root, &m);
	assert_string_equal(m.program, "/opt/bin/etcd");
	assert_int_equal(m.files.n, 2); /* etcdctl.env is etcdctl's, not the unit's */
	assert_int_equal(m.conflicts.n, 0);
	expect_flag(&m, "name", "etcd-a", "/etc/etcd/etcd.env:1");
	expect_flag(&m, "initial-cluster-token", "8c1b5a2e", "/etc/etcd/etcd.env:5");
	expect_flag(&m, "strict-reconfig-check", "true", "/etc/etcd/etcd.env:28");
	expect_flag(&m, "trusted-ca-file", "/etc/etcd/pki/ca.crt", NULL);
	assert_string_equal(env_of(&m, "GOMAXPROCS"), "4");
	assert_int_equal(m.nenv, 1);
	assert_int_equal(m.nflags, 18);
	assert_string_equal(m.spec.name, "etcd-a");
	assert_string_equal(m.spec.advertise_address, "10.0.0.31");
	assert_string_equal(m.spec.systemd.bin_dir, "/opt/bin");
	assert_string_equal(m.spec.systemd.env_file, "/etc/etcd/etcd.env");
	assert_int_equal(m.initial_cluster.n, 1);
	ep_member_desc_release(&m);
}

static void test_read_back_hardway(void **state)
{
	(void)state;
	char root[1024];
	fixture_root("hardway", root, sizeof(root));
	struct ep_member_desc m;
	read_ok(EP_MODE_SYSTEMD, root, &m);
	static const char origin[] = "ExecStart (/etc/systemd/system/etcd.service:6)";
	assert_int_equal(m.conflicts.n, 0);
	assert_int_equal(m.nenv, 0);
	assert_int_equal(m.nflags, 17);
	/* the command line's order; --flag value, --flag=value and booleans alone */
	assert_string_equal(m.flags[0].name, "name");
	expect_flag(&m, "name", "controller-0", origin);
	expect_flag(&m, "cert-file", "/etc/etcd/kubernetes.pem", origin);
	expect_flag(&m, "peer-client-cert-auth", "true", origin);
	expect_flag(&m, "client-cert-auth", "true", origin);
	expect_flag(&m, "initial-cluster-state", "new", origin);
	expect_flag(&m, "data-dir", "/var/lib/etcd", origin);
	assert_string_equal(m.flags[16].name, "data-dir");
	assert_false(m.flags[0].from_env);
	assert_int_equal(m.initial_cluster.n, 3);
	assert_string_equal(m.spec.advertise_address, "10.240.0.10");
	assert_null(m.spec.systemd.env_file);
	ep_member_desc_release(&m);
}

static void test_read_back_etcdpilot(void **state)
{
	(void)state;
	char root[1024];
	fixture_root("etcdpilot", root, sizeof(root));
	struct ep_member_desc m;
	read_ok(EP_MODE_SYSTEMD, root, &m);
	assert_int_equal(m.conflicts.n, 0);
	assert_int_equal(m.notes.n, 1); /* only: the binary is not in the fixture */
	assert_has(&m.notes, "/usr/local/bin/etcd is not on the node");
	expect_flag(&m, "name", "cp1", "/etc/etcd/etcd.env:16");
	expect_flag(&m, "experimental-initial-corrupt-check", "true", NULL);
	assert_string_equal(m.spec.name, "cp1");
	assert_string_equal(m.spec.cert_dir, "/etc/kubernetes/pki"); /* kubeadm's layout */
	assert_string_equal(m.spec.advertise_address, "10.0.0.11");
	assert_string_equal(m.spec.data_dir, "/var/lib/etcd");

	/* the same flags as the static pod etcdpilot renders for that spec */
	struct ep_spec spec;
	make_spec(&spec, EP_MODE_SYSTEMD, "3.4.23");
	struct ep_kvv args = {0};
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_manifest_etcd_args(&spec, NULL, &args, &err), 0);
	assert_int_equal(args.n, m.nflags);
	for (size_t i = 0; i < args.n; i++)
		expect_flag(&m, args.v[i].name, args.v[i].value, NULL);
	ep_kvv_release(&args);
	ep_spec_release(&spec);
	ep_member_desc_release(&m);
}

/* ---- read back: hostile units ------------------------------------------------------ */

static const char *fake_etcd = "#!/bin/sh\n"
			       "[ \"$1\" = --version ] && echo 'etcd Version: 3.5.16' && exit 0\n"
			       "exit 1\n";

static void test_read_back_hostile(void **state)
{
	(void)state;
	char *root = scratch();
	struct ep_member_desc m;
	struct ep_error err;
	/* nothing installed */
	assert_int_equal(read_back(EP_MODE_SYSTEMD, root, &m, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no unit etcd.service"));

	put(root, "/lib/systemd/system/etcd.service",
	    "[Service]\n"
	    "Type=notify\n"
	    "Environment=ETCD_NAME=from-unit \"GOMAXPROCS=8\"\n"
	    "Environment=ETCD_DATA_DIR=/var/lib/etcd-unit\n"
	    "EnvironmentFile=-/etc/default/etcd-missing\n"
	    "EnvironmentFile=/etc/etcd/a.env\n"
	    "EnvironmentFile=-/etc/etcd/b.env\n"
	    "ExecStart=/usr/local/bin/etcd --listen-client-urls=https://127.0.0.1:2379 \\\n"
	    "  --name ${ETCD_NAME} --snapshot-count 100 --snapshot-count=200\n",
	    0644);
	put(root, "/etc/etcd/a.env",
	    "# a\nETCD_DATA_DIR=/var/lib/etcd-a\n\nETCD_SNAPSHOT_COUNT=\nETCD_BOGUS_THING=1\n"
	    "ETCD_MAX_WALS=\n"
	    "ETCD_CLIENT_CERT_AUTH=yes\nETCD_PEER_AUTO_TLS=t\n",
	    0640);
	put(root, "/etc/etcd/b.env", "ETCD_DATA_DIR=/var/lib/etcd-b\netcd_name=lower\n", 0640);
	put(root, "/usr/local/bin/etcd", fake_etcd, 0755);
	read_ok(EP_MODE_SYSTEMD, root, &m);
	/* found where systemd finds it */
	assert_string_equal(m.source, "/lib/systemd/system/etcd.service");
	assert_string_equal(m.version, "3.5.16");
	assert_string_equal(m.version_from, "/usr/local/bin/etcd --version");
	/* --name and ETCD_NAME: etcd refuses the pair, naming both places */
	assert_has(&m.conflicts, "ETCD_NAME (Environment= (/lib/systemd/system/etcd.service:3)) "
				 "and --name (ExecStart (/lib/systemd/system/etcd.service:8)): "
				 "etcd 3.5 refuses the same option");
	/* even an empty variable: etcd checks the name (as etcd 3.4.23 does here) */
	assert_has(&m.conflicts, "ETCD_SNAPSHOT_COUNT (/etc/etcd/a.env:4) and --snapshot-count");
	/* a bad boolean */
	assert_has(&m.conflicts,
		   "ETCD_CLIENT_CERT_AUTH (/etc/etcd/a.env:7): etcd 3.5 refuses 'yes'");
	if (m.conflicts.n != 3)
		dump(&m);
	assert_int_equal(m.conflicts.n, 3);
	/* files override Environment=, later files the earlier ones */
	expect_flag(&m, "data-dir", "/var/lib/etcd-b", "/etc/etcd/b.env:1");
	assert_has(&m.notes, "ETCD_DATA_DIR (Environment= (/lib/systemd/system/etcd.service:4)) is "
			     "overridden by /etc/etcd/a.env:2");
	assert_has(&m.notes,
		   "ETCD_DATA_DIR (/etc/etcd/a.env:2) is overridden by /etc/etcd/b.env:1");
	assert_has(&m.notes, "EnvironmentFile=-/etc/default/etcd-missing");
	assert_has(&m.notes, "ETCD_MAX_WALS (/etc/etcd/a.env:6) is empty: etcd ignores it");
	assert_has(&m.notes, "ETCD_BOGUS_THING=1 (/etc/etcd/a.env:5): etcd 3.5 has no such flag");
	/* etcd looks at ETCD_* only, as spelt */
	assert_string_equal(env_of(&m, "etcd_name"), "lower");
	assert_has(&m.notes,
		   "--snapshot-count=100 (ExecStart (/lib/systemd/system/etcd.service:8)) "
		   "is given again later");
	expect_flag(&m, "snapshot-count", "200", NULL);
	expect_flag(&m, "peer-auto-tls", "true", "/etc/etcd/a.env:8");
	/* ${ETCD_NAME} was expanded from the environment, as systemd does */
	expect_flag(&m, "name", "from-unit", NULL);
	assert_string_equal(env_of(&m, "GOMAXPROCS"), "8");
	/* the command line first, in order, then the environment by flag name */
	assert_string_equal(m.flags[0].name, "listen-client-urls");
	assert_string_equal(m.flags[1].name, "name");
	assert_string_equal(m.flags[2].name, "snapshot-count");
	assert_string_equal(m.flags[3].name, "data-dir");
	assert_string_equal(m.flags[4].name, "peer-auto-tls");
	assert_string_equal(m.spec.systemd.env_file, "/etc/etcd/a.env");

	/* a drop-in replaces ExecStart (after resetting it) and adds to the environment */
	put(root, "/etc/systemd/system/etcd.service.d/20-env.conf",
	    "[Service]\nEnvironment=\"ETCD_LOG_LEVEL=debug\"\n", 0644);
	put(root, "/run/systemd/system/etcd.service.d/10-exec.conf",
	    "[Service]\nExecStart=\nExecStart=/usr/local/bin/etcd --bogus --data-dir /x extra\n",
	    0644);
	put(root, "/usr/lib/systemd/system/etcd.service.d/10-exec.conf",
	    "[Service]\nExecStart=/nope\n", 0644);
	ep_member_desc_release(&m);
	read_ok(EP_MODE_SYSTEMD, root, &m);
	assert_int_equal(m.files.n, 5);
	assert_string_equal(m.files.v[1], "/run/systemd/system/etcd.service.d/10-exec.conf");
	assert_string_equal(m.files.v[2], "/etc/systemd/system/etcd.service.d/20-env.conf");
	assert_has(&m.conflicts,
		   "etcd 3.5 refuses '--bogus': flag provided but not defined: -bogus");
	/* the command line is not read past the unknown flag: data-dir is the environment's */
	expect_flag(&m, "data-dir", "/var/lib/etcd-b", "/etc/etcd/b.env:1");
	expect_flag(&m, "log-level", "debug", NULL);
	ep_member_desc_release(&m);

	/* a flag with no value left, and a word that is no flag */
	put(root, "/run/systemd/system/etcd.service.d/10-exec.conf",
	    "[Service]\nExecStart=\nExecStart=/usr/local/bin/etcd --data-dir /x extra\n", 0644);
	read_ok(EP_MODE_SYSTEMD, root, &m);
	expect_flag(&m, "data-dir", "/x", NULL);
	assert_has(&m.conflicts, "refuses 'extra': it is not a valid flag");
	ep_member_desc_release(&m);
	put(root, "/run/systemd/system/etcd.service.d/10-exec.conf",
	    "[Service]\nExecStart=\nExecStart=/usr/local/bin/etcd --data-dir\n", 0644);
	read_ok(EP_MODE_SYSTEMD, root, &m);
	assert_has(&m.conflicts, "flag needs an argument: -data-dir");
	ep_member_desc_release(&m);

	/* a required environment file that is not there */
	put(root, "/etc/systemd/system/etcd.service.d/30-req.conf",
	    "[Service]\nEnvironmentFile=/etc/etcd/nope.env\n", 0644);
	read_ok(EP_MODE_SYSTEMD, root, &m);
	assert_has(&m.conflicts,
		   "EnvironmentFile=/etc/etcd/nope.env (/etc/systemd/system/etcd.service.d/"
		   "30-req.conf:2) does not exist: systemd does not start the unit");
	ep_member_desc_release(&m);

	/* a drop-in masked by a link to /dev/null is not read */
	char path[2048];
	snprintf(path, sizeof(path), "%s/etc/systemd/system/etcd.service.d/30-req.conf", root);
	assert_int_equal(unlink(path), 0);
	link_at(root, "/etc/systemd/system/etcd.service.d/30-req.conf", "/dev/null");
	read_ok(EP_MODE_SYSTEMD, root, &m);
	assert_has(&m.notes, "drop-in /etc/systemd/system/etcd.service.d/30-req.conf is masked");
	/* left: the flag without its value, the bad boolean */
	assert_int_equal(m.conflicts.n, 2);
	ep_member_desc_release(&m);

	/* ExecStart that runs another program, two ExecStart=, none */
	put(root, "/etc/systemd/system/etcd.service",
	    "[Service]\nExecStart=/usr/bin/docker run quay.io/coreos/etcd\n", 0644);
	char cmd[4200];
	snprintf(cmd, sizeof(cmd),
		 "rm -rf '%s/run' '%s/usr/lib' '%s/etc/systemd/system/etcd.service.d'", root, root,
		 root);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(read_back(EP_MODE_SYSTEMD, root, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "runs '/usr/bin/docker', not an etcd binary"));
	put(root, "/etc/systemd/system/etcd.service",
	    "[Service]\nExecStart=/usr/local/bin/etcd\nExecStart=/usr/local/bin/etcd --x\n", 0644);
	assert_int_equal(read_back(EP_MODE_SYSTEMD, root, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "has 2 ExecStart="));
	put(root, "/etc/systemd/system/etcd.service", "[Service]\nType=notify\n", 0644);
	assert_int_equal(read_back(EP_MODE_SYSTEMD, root, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "has no ExecStart="));
	/* an environment file systemd would misread is an error naming its line */
	put(root, "/etc/systemd/system/etcd.service",
	    "[Service]\nEnvironmentFile=/etc/etcd/a.env\nExecStart=/usr/local/bin/etcd\n", 0644);
	put(root, "/etc/etcd/a.env", "ETCD_NAME=x\nETCD_DATA_DIR=\"/unterminated\n", 0640);
	assert_int_equal(read_back(EP_MODE_SYSTEMD, root, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "/etc/etcd/a.env:2: unterminated quote"));
	/* a masked unit is not installed */
	snprintf(path, sizeof(path), "%s/etc/systemd/system/etcd.service", root);
	assert_int_equal(unlink(path), 0);
	link_at(root, "/etc/systemd/system/etcd.service", "/dev/null");
	assert_int_equal(read_back(EP_MODE_SYSTEMD, root, &m, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "is masked"));
	rm_rf(root);
}

/* ---- read back: a static pod ------------------------------------------------------ */

static void test_read_back_manifest(void **state)
{
	(void)state;
	char *root = scratch();
	struct ep_member_desc m;
	struct ep_error err;
	assert_int_equal(read_back(EP_MODE_STATIC_POD, root, &m, &err), -ENOENT);
	assert_non_null(
	    strstr(err.msg, "no static pod manifest at /etc/kubernetes/manifests/etcd.yaml"));

	struct ep_spec spec;
	make_spec(&spec, EP_MODE_STATIC_POD, "3.5.21");
	assert_int_equal(ep_kvv_push(&spec.extra_args, "snapshot-count", "5000"), 0);
	assert_int_equal(ep_kvv_push(&spec.extra_envs, "GOMAXPROCS", "2"), 0);
	struct ep_runtime_ctx ctx = {.root = root, .spec = &spec};
	struct ep_runtime_files files;
	ep_error_clear(&err);
	assert_int_equal(ep_runtime_get(EP_MODE_STATIC_POD)->render(&ctx, NULL, &files, &err), 0);
	assert_int_equal(files.n, 1);
	assert_string_equal(files.v[0].path, "/etc/kubernetes/manifests/etcd.yaml");
	assert_int_equal(files.v[0].mode, 0600);
	assert_true(files.v[0].hidden_rename);
	put(root, files.v[0].path, files.v[0].content, 0600);

	read_ok(EP_MODE_STATIC_POD, root, &m);
	assert_int_equal(m.mode, EP_MODE_STATIC_POD);
	assert_string_equal(m.image, "registry.k8s.io/etcd:3.5.21-0");
	assert_null(m.program);
	assert_string_equal(m.version, "3.5.21");
	assert_string_equal(m.version_from, "image tag");
	assert_int_equal(m.conflicts.n, 0);
	expect_flag(&m, "snapshot-count", "5000", "/etc/kubernetes/manifests/etcd.yaml");
	expect_flag(&m, "name", "cp1", NULL);
	expect_flag(&m, "client-cert-auth", "true", NULL);
	assert_string_equal(env_of(&m, "GOMAXPROCS"), "2");
	assert_string_equal(m.spec.name, "cp1");
	assert_string_equal(m.spec.cert_dir, "/etc/kubernetes/pki");
	assert_string_equal(m.spec.data_dir, "/var/lib/etcd");
	assert_string_equal(m.spec.image_tag, "3.5.21-0");
	assert_string_equal(m.spec.manifest_dir, "/etc/kubernetes/manifests");
	assert_string_equal(m.cert_file, "/etc/kubernetes/pki/etcd/server.crt");
	assert_int_equal(m.initial_cluster.n, 1);
	ep_member_desc_release(&m);
	ep_runtime_files_release(&files);

	/* the container's env sets what a flag sets too: etcd refuses that */
	assert_int_equal(ep_kvv_push(&spec.extra_envs, "ETCD_SNAPSHOT_COUNT", "1"), 0);
	assert_int_equal(ep_kvv_push(&spec.extra_envs, "ETCD_PROXY", "off"), 0);
	assert_int_equal(ep_runtime_get(EP_MODE_STATIC_POD)->render(&ctx, NULL, &files, &err), 0);
	put(root, files.v[0].path, files.v[0].content, 0600);
	read_ok(EP_MODE_STATIC_POD, root, &m);
	assert_has(&m.conflicts,
		   "ETCD_SNAPSHOT_COUNT (/etc/kubernetes/manifests/etcd.yaml (env)) and "
		   "--snapshot-count (/etc/kubernetes/manifests/etcd.yaml): etcd 3.5 "
		   "refuses");
	assert_has(&m.notes, "ETCD_PROXY=off");
	ep_member_desc_release(&m);
	ep_runtime_files_release(&files);

	put(root, "/etc/kubernetes/manifests/etcd.yaml", "kind: Pod\nmetadata: [\n", 0600);
	assert_int_equal(read_back(EP_MODE_STATIC_POD, root, &m, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "/etc/kubernetes/manifests/etcd.yaml:"));
	ep_spec_release(&spec);
	rm_rf(root);
}

/* ---- logs ------------------------------------------------------------------------- */

static void test_cri_parse(void **state)
{
	(void)state;
	static const char text[] = "ad line from the middle\n"
				   "2024-05-01T10:00:00.123456789Z stdout F first\n"
				   "2024-05-01T10:00:01Z stderr P part one, \n"
				   "2024-05-01T10:00:01.5Z stdout F interleaved\n"
				   "2024-05-01T10:00:02+02:00 stderr P part two, \n"
				   "not a cri line at all\n"
				   "2024-05-01T10:00:03Z stderr F:x:y done\n"
				   "2024-05-01T10:00:03Z stdin F wrong stream\n"
				   "2024-05-01T10:00:03Z stdout X wrong tag\n"
				   "2024-13-01T10:00:03 stdout F no zone\n"
				   "2024-05-01T10:00:04Z stdout F \n"
				   "2024-05-01T10:00:05Z stdout F\n"
				   "2024-05-01T10:00:06Z stdout F tab\there \x1b[31m\n"
				   "2024-05-01T10:00:07Z stdout P cut off";
	struct ep_cri_log log;
	assert_int_equal(ep_cri_log_parse(text, sizeof(text) - 1, true, &log), 0);
	/* "<time> stdout F" without the space before an empty text is taken */
	assert_int_equal(log.garbage, 4);
	assert_int_equal(log.n, 7);
	assert_string_equal(log.v[0].text, "first");
	assert_string_equal(log.v[0].time, "2024-05-01T10:00:00.123456789Z");
	assert_string_equal(log.v[1].text, "interleaved");
	assert_string_equal(log.v[2].stream, "stderr");
	assert_string_equal(log.v[2].text, "part one, part two, done");
	assert_string_equal(log.v[2].time, "2024-05-01T10:00:01Z");
	assert_string_equal(log.v[3].text, "");
	assert_string_equal(log.v[4].text, "");
	assert_string_equal(log.v[5].text, "tab\there \x1b[31m");
	assert_string_equal(log.v[6].text, "cut off");
	assert_true(log.v[6].partial);
	assert_false(log.v[5].partial);
	ep_cri_log_release(&log);
	/* from the start, the first line counts (here: as garbage) */
	assert_int_equal(ep_cri_log_parse(text, sizeof(text) - 1, false, &log), 0);
	assert_int_equal(log.garbage, 5);
	ep_cri_log_release(&log);
	/* a tag at the very end of a buffer that is not NUL-terminated (found by fuzz_crilog) */
	static const char tail[] = "2024-05-01t00:00:07Z stderr P";
	char *exact = malloc(sizeof(tail) - 1);
	assert_non_null(exact);
	memcpy(exact, tail, sizeof(tail) - 1);
	assert_int_equal(ep_cri_log_parse(exact, sizeof(tail) - 1, false, &log), 0);
	assert_int_equal(log.n, 1);
	assert_string_equal(log.v[0].text, "");
	assert_true(log.v[0].partial);
	ep_cri_log_release(&log);
	free(exact);
	assert_int_equal(ep_cri_log_parse("", 0, true, &log), 0);
	assert_int_equal(log.n, 0);
	ep_cri_log_release(&log);
}

static void test_journal_parse(void **state)
{
	(void)state;
	struct ep_journal_line l;
	assert_int_equal(
	    ep_journal_line_parse("2024-05-01T10:00:00+0000 n1 etcd[123]: hello: world", &l), 1);
	assert_string_equal(l.ident, "etcd");
	assert_int_equal(l.pid, 123);
	assert_string_equal(l.message, "hello: world");
	ep_journal_line_release(&l);
	assert_int_equal(
	    ep_journal_line_parse("2024-05-01T10:00:00+00:00 n1 systemd[1]: etcd.service: "
				  "Failed with result 'exit-code'.",
				  &l),
	    1);
	assert_string_equal(l.ident, "systemd");
	assert_string_equal(l.message, "etcd.service: Failed with result 'exit-code'.");
	ep_journal_line_release(&l);
	assert_int_equal(ep_journal_line_parse("2024-05-01T10:00:00+0000 n1 kernel: x", &l), 1);
	assert_int_equal(l.pid, -1);
	ep_journal_line_release(&l);
	assert_int_equal(ep_journal_line_parse("2024-05-01T10:00:00+0000 n1 etcd[1]:", &l), 1);
	assert_string_equal(l.message, "");
	ep_journal_line_release(&l);
	assert_int_equal(ep_journal_line_parse("-- No entries --", &l), 0);
	assert_int_equal(ep_journal_line_parse("-- Boot 1234 --", &l), 0);
	assert_int_equal(ep_journal_line_parse("    continued", &l), 0);
	assert_int_equal(ep_journal_line_parse("", &l), 0);
	assert_int_equal(ep_journal_line_parse("2024-05-01T10:00:00+0000 n1", &l), 0);
}

/* ---- diagnosis ---------------------------------------------------------------------- */

struct text {
	char buf[16384];
	size_t len;
};

static void cri_add(struct text *t, const char *stream, const char *tag, const char *line)
{
	t->len += (size_t)snprintf(t->buf + t->len, sizeof(t->buf) - t->len,
				   "2024-05-01T10:00:00.5Z %s %s %s\n", stream, tag, line);
}

static const char *const usage[] = {
    "Usage:",
    "",
    "  etcd [flags]",
    "    Start an etcd server.",
    "",
    "  etcd --version",
    "    Show the version of etcd.",
    NULL,
};

static void test_diagnose_static_pod(void **state)
{
	(void)state;
	char *root = scratch();
	struct ep_spec spec;
	make_spec(&spec, EP_MODE_STATIC_POD, "3.4.23");
	struct ep_runtime_ctx ctx = {.root = root, .spec = &spec};
	const struct ep_runtime_ops *rt = ep_runtime_get(EP_MODE_STATIC_POD);
	struct ep_diagnosis d;

	/* nothing: no manifest, no pod log */
	assert_int_equal(rt->diagnose(&ctx, 10, &d), -ENOENT);
	assert_non_null(
	    strstr(d.summary, "no static pod manifest at /etc/kubernetes/manifests/etcd.yaml"));
	assert_non_null(strstr(d.summary, "the kubelet has written no log for the etcd pod "
					  "(/var/log/pods/kube-system_etcd-cp1_*)"));
	assert_null(ep_diagnosis_excerpt(&d, 3));
	ep_diagnosis_release(&d);

	/* restart 1 failed on a flag: its complaint, not the usage after it */
	struct text t = {0};
	cri_add(&t, "stderr", "F", "invalid value \"abc\" for flag -snapshot-count: parse error");
	for (size_t i = 0; usage[i]; i++)
		cri_add(&t, "stderr", "F", usage[i]);
	put(root, "/etc/kubernetes/manifests/etcd.yaml", "x", 0600);
	put(root, "/var/log/pods/kube-system_etcd-cp1_0a1b/etcd/0.log",
	    "2024-05-01T09:00:00Z stdout F old\n", 0640);
	put(root, "/var/log/pods/kube-system_etcd-cp1_0a1b/etcd/1.log", t.buf, 0640);
	/* another node's pod, written later, loses to this node's */
	put(root, "/var/log/pods/kube-system_etcd-other_ffff/etcd/0.log",
	    "2024-05-01T11:00:00Z stdout F not ours\n", 0640);
	put(root, "/var/log/pods/kube-system_kube-apiserver-cp1_1111/kube-apiserver/0.log",
	    "2024-05-01T11:00:00Z stdout F not etcd\n", 0640);
	assert_int_equal(rt->diagnose(&ctx, 20, &d), 0);
	assert_string_equal(d.summary,
			    "pod kube-system/etcd-cp1 (uid 0a1b): container etcd has been "
			    "restarted 1 time (its logs: 0.log to 1.log); the usage text etcd "
			    "printed after its complaint is left out");
	assert_int_equal(d.n, 1); /* no crictl under a scratch root unless named */
	assert_string_equal(d.v[0].label, "/var/log/pods/kube-system_etcd-cp1_0a1b/etcd/1.log");
	assert_true(d.v[0].etcd_output);
	assert_int_equal(d.v[0].lines.n, 1); /* the usage text after the complaint is cut */
	char *ex = ep_diagnosis_excerpt(&d, 3);
	assert_string_equal(
	    ex, "etcd's last log line (/var/log/pods/kube-system_etcd-cp1_0a1b/etcd/"
		"1.log): 'invalid value \"abc\" for flag -snapshot-count: parse error'");
	free(ex);
	ep_diagnosis_release(&d);

	/* the container of restart 2 has said nothing yet: restart 1 has; garbage is counted */
	put(root, "/var/log/pods/kube-system_etcd-cp1_0a1b/etcd/2.log", "garbage\n", 0640);
	assert_int_equal(rt->diagnose(&ctx, 2, &d), 0);
	assert_non_null(strstr(d.summary,
			       "restarted 2 times (its logs: 0.log to 2.log); 2.log is "
			       "empty so far; the usage text etcd printed after its complaint "
			       "is left out; 1 line of the log is not CRI-framed"));
	assert_string_equal(d.v[0].label, "/var/log/pods/kube-system_etcd-cp1_0a1b/etcd/1.log");
	/* the usage text is cut before the tail is taken: the complaint stays */
	assert_int_equal(d.v[0].lines.n, 1);
	assert_string_equal(d.v[0].lines.v[0],
			    "invalid value \"abc\" for flag -snapshot-count: parse error");

	/* the error gets the summary and etcd's words */
	struct ep_error err;
	ep_error_clear(&err);
	ep_error_set(&err, -ETIMEDOUT, "not healthy within 4s");
	assert_int_equal(ep_diagnosis_add_to_error(&d, &err), -ETIMEDOUT);
	assert_non_null(strstr(err.msg, "not healthy within 4s; pod kube-system/etcd-cp1"));
	ep_diagnosis_release(&d);

	/* crictl, when one is named for this root */
	char bin[2048];
	snprintf(bin, sizeof(bin), "%s-bin", root);
	char *bindir = strdup(bin);
	put(bin, "/fake-crictl",
	    "#!/bin/sh\n"
	    "case \"$1\" in\n"
	    "ps) echo "
	    "'{\"containers\":[{\"id\":\"aaaaaaaaaaaaaaaa\",\"createdAt\":\"100\",\"state\":"
	    "\"CONTAINER_EXITED\","
	    "\"metadata\":{\"name\":\"etcd\",\"attempt\":1},\"labels\":{\"io.kubernetes.pod.name\":"
	    "\"etcd-cp1\","
	    "\"io.kubernetes.pod.namespace\":\"kube-system\"}},{\"id\":\"bbbbbbbbbbbbbbbbbb\","
	    "\"createdAt\":\"200\","
	    "\"state\":\"CONTAINER_RUNNING\",\"metadata\":{\"name\":\"etcd\",\"attempt\":2},"
	    "\"labels\":{"
	    "\"io.kubernetes.pod.name\":\"etcd-cp1\",\"io.kubernetes.pod.namespace\":\"kube-"
	    "system\"}},"
	    "{\"id\":\"cccc\",\"createdAt\":\"300\",\"labels\":{\"io.kubernetes.pod.name\":"
	    "\"etcd\","
	    "\"io.kubernetes.pod.namespace\":\"default\"}}]}' ;;\n"
	    "logs) echo \"logs $2 $3 $4\"; echo 'etcd: the last words' ;;\n"
	    "esac\n",
	    0755);
	char prog[2100];
	snprintf(prog, sizeof(prog), "%s/fake-crictl", bin);
	ctx.crictl = prog;
	ctx.programs_named = true;
	assert_int_equal(rt->diagnose(&ctx, 7, &d), 0);
	assert_int_equal(d.n, 3);
	assert_false(d.v[1].etcd_output);
	assert_int_equal(d.v[1].lines.n, 2);
	assert_string_equal(d.v[1].lines.v[1],
			    "bbbbbbbbbbbbb CONTAINER_RUNNING attempt 2 pod etcd-cp1");
	assert_true(d.v[2].etcd_output);
	assert_non_null(strstr(d.v[2].label, "fake-crictl logs --tail 7 bbbbbbbbbbbbbbbbbb"));
	assert_string_equal(d.v[2].lines.v[0], "logs --tail 7 bbbbbbbbbbbbbbbbbb");
	char *text = ep_diagnosis_text(&d);
	assert_non_null(strstr(text, "  | etcd: the last words\n"));
	free(text);
	ep_diagnosis_release(&d);
	/* named, but the real crictl's name: not under a root that is not "/" */
	ctx.crictl = "/usr/bin/crictl";
	assert_int_equal(rt->diagnose(&ctx, 7, &d), 0);
	assert_int_equal(d.n, 1);
	ep_diagnosis_release(&d);

	ep_spec_release(&spec);
	rm_rf(bindir);
	rm_rf(root);
}

static void test_diagnose_systemd(void **state)
{
	(void)state;
	char *root = scratch();
	char bin[2048], sc[2100], jc[2100];
	snprintf(bin, sizeof(bin), "%s-bin", root);
	put(bin, "/my-systemctl",
	    "#!/bin/sh\n"
	    "[ -n \"$ETCDPILOT_ROOT\" ] || exit 99\n"
	    "case \"$1\" in\n"
	    "status) printf '%s\\n' \"* etcd.service - etcd\" "
	    "\"     Loaded: loaded (/etc/systemd/system/etcd.service; enabled; preset: enabled)\" "
	    "\"     Active: activating (auto-restart) (Result: exit-code) since Wed 2024-05-01 "
	    "10:00:00 UTC; 2s ago\" "
	    "\"   Main PID: 42 (code=exited, status=1/FAILURE)\"; exit 3 ;;\n"
	    "is-active) echo activating; exit 3 ;;\n"
	    "esac\n",
	    0755);
	put(bin, "/my-journalctl",
	    "#!/bin/sh\n"
	    "echo \"args: $*\" >&2\n"
	    "cat <<'EOF'\n"
	    "2024-05-01T10:00:00+0000 n1 systemd[1]: Started etcd.service - etcd.\n"
	    "2024-05-01T10:00:00+0000 n1 etcd[42]: [WARNING] Deprecated '--logger=capnslog' flag "
	    "is set\n"
	    "2024-05-01T10:00:00+0000 n1 etcd[42]: 2024-05-01 10:00:00.1 E | etcdmain: error "
	    "verifying flags, --election-timeout[100ms] should be at least as 5 times as "
	    "--heartbeat-interval[100ms]. See 'etcd --help'.\n"
	    "2024-05-01T10:00:00+0000 n1 systemd[1]: etcd.service: Main process exited, "
	    "code=exited, status=1/FAILURE\n"
	    "2024-05-01T10:00:00+0000 n1 systemd[1]: etcd.service: Failed with result "
	    "'exit-code'.\n"
	    "EOF\n",
	    0755);
	snprintf(sc, sizeof(sc), "%s/my-systemctl", bin);
	snprintf(jc, sizeof(jc), "%s/my-journalctl", bin);
	struct ep_spec spec;
	make_spec(&spec, EP_MODE_SYSTEMD, "3.4.23");
	struct ep_runtime_ctx ctx = {.root = root, .spec = &spec, .systemctl = sc};
	const struct ep_runtime_ops *rt = ep_runtime_get(EP_MODE_SYSTEMD);
	struct ep_diagnosis d;

	/* not named for this root: nothing is run */
	assert_int_equal(rt->diagnose(&ctx, 10, &d), -ENOENT);
	assert_non_null(strstr(d.summary, "systemctl not asked"));
	ep_diagnosis_release(&d);

	/* the journalctl beside the systemctl */
	ctx.programs_named = true;
	assert_int_equal(rt->diagnose(&ctx, 10, &d), 0);
	assert_string_equal(d.summary,
			    "etcd.service is activating (auto-restart) (Result: exit-code) "
			    "since Wed 2024-05-01 10:00:00 UTC; 2s ago");
	assert_int_equal(d.n, 3);
	assert_false(d.v[0].etcd_output);
	assert_true(d.v[1].etcd_output);
	assert_non_null(
	    strstr(d.v[1].label, "my-journalctl -u etcd.service -n 60 --no-pager -o short-iso"));
	/* etcd's own lines only (the "args:" line on stderr is the program's noise: not parsed) */
	assert_int_equal(d.v[1].lines.n, 2);
	assert_string_equal(d.v[2].lines.v[2], "etcd.service: Failed with result 'exit-code'.");
	char *ex = ep_diagnosis_excerpt(&d, 3);
	assert_non_null(strstr(ex, "etcd's last log lines ("));
	assert_non_null(
	    strstr(ex, "): '[WARNING] Deprecated '--logger=capnslog' flag is set' / '2024-05-01 "
		       "10:00:00.1 E | etcdmain: error verifying flags, --election-timeout[100ms] "
		       "should be at least as 5 times as --heartbeat-interval[100ms]. See 'etcd "
		       "--help'.'"));
	free(ex);
	ep_diagnosis_release(&d);

	/* status: is-active */
	struct ep_runtime_status st;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(rt->status(&ctx, &st, &err), 0);
	assert_false(st.running);
	assert_false(st.installed);
	assert_string_equal(st.state, "activating");
	ep_runtime_status_release(&st);

	/* a journalctl named on its own */
	ctx.journalctl = "/nonexistent/journalctl-x";
	assert_int_equal(rt->diagnose(&ctx, 10, &d), 0);
	assert_non_null(strstr(d.summary, "/nonexistent/journalctl-x"));
	assert_int_equal(d.n, 1);
	ep_diagnosis_release(&d);
	ep_spec_release(&spec);
	rm_rf(strdup(bin));
	rm_rf(root);
}

static void test_program_choice(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, EP_MODE_SYSTEMD, "3.4.23");
	struct ep_runtime_ctx ctx = {.root = "/", .spec = &spec};
	char buf[256];
	const char *p = NULL, *why = NULL;
	/* the real root: the real programs */
	assert_int_equal(rt_program(&ctx, RT_SYSTEMCTL, buf, sizeof(buf), &p, &why), 0);
	assert_string_equal(p, "systemctl");
	assert_int_equal(rt_program(&ctx, RT_JOURNALCTL, buf, sizeof(buf), &p, &why), 0);
	assert_string_equal(p, "journalctl");
	ctx.systemctl = "/usr/bin/systemctl";
	assert_int_equal(rt_program(&ctx, RT_JOURNALCTL, buf, sizeof(buf), &p, &why), 0);
	assert_string_equal(p, "/usr/bin/journalctl");
	ctx.systemctl = "/opt/x/systemctl-standin";
	assert_int_equal(rt_program(&ctx, RT_JOURNALCTL, buf, sizeof(buf), &p, &why), 0);
	assert_string_equal(p, "/opt/x/journalctl-standin");
	ctx.systemctl = "/opt/systemctl.d/sc";
	assert_int_equal(rt_program(&ctx, RT_JOURNALCTL, buf, sizeof(buf), &p, &why), 0);
	assert_string_equal(p, "journalctl");
	/* another root: named, and not the host's own */
	ctx.root = "/tmp/n1";
	ctx.systemctl = "/opt/x/my-systemctl";
	assert_int_equal(rt_program(&ctx, RT_SYSTEMCTL, buf, sizeof(buf), &p, &why), -EPERM);
	assert_non_null(strstr(why, "named"));
	ctx.programs_named = true;
	assert_int_equal(rt_program(&ctx, RT_SYSTEMCTL, buf, sizeof(buf), &p, &why), 0);
	assert_int_equal(rt_program(&ctx, RT_JOURNALCTL, buf, sizeof(buf), &p, &why), 0);
	assert_string_equal(p, "/opt/x/my-journalctl");
	assert_int_equal(rt_program(&ctx, RT_CRICTL, buf, sizeof(buf), &p, &why), -EPERM);
	assert_non_null(strstr(why, "this host"));
	ctx.systemctl = "/bin/systemctl";
	assert_int_equal(rt_program(&ctx, RT_SYSTEMCTL, buf, sizeof(buf), &p, &why), -EPERM);
	ep_spec_release(&spec);
}

static void test_excerpt(void **state)
{
	(void)state;
	struct ep_diagnosis d = {0};
	struct ep_diag_source *s = rt_diag_source(&d, "status", false);
	assert_non_null(s);
	assert_int_equal(rt_diag_lines(s, "Active: failed\n"), 0);
	assert_null(ep_diagnosis_excerpt(&d, 3)); /* a status is not etcd's output */
	s = rt_diag_source(&d,
			   "lab\x1b"
			   "el",
			   true);
	assert_non_null(s);
	char long_line[1000];
	memset(long_line, 'x', sizeof(long_line) - 1);
	long_line[sizeof(long_line) - 1] = '\0';
	assert_int_equal(rt_diag_lines(s, "one\n\n  \nred \x1b[31mtext\r\n"), 0);
	assert_int_equal(ep_strv_push(&s->lines, long_line), 0);
	assert_int_equal(ep_strv_push(&s->lines, "Usage:"), 0);
	assert_int_equal(ep_strv_push(&s->lines, "  etcd [flags]"), 0);
	char *ex = ep_diagnosis_excerpt(&d, 2);
	assert_non_null(ex);
	assert_non_null(
	    strstr(ex, "etcd's last log lines (lab\\x1bel): 'red \\x1b[31mtext' / 'xxx"));
	assert_non_null(strstr(ex, "xxx...'"));
	assert_int_equal(strlen(ex),
			 strlen("etcd's last log lines (lab\\x1bel): 'red \\x1b[31mtext' / ''") +
			     300 + 3);
	free(ex);
	/* "Usage:" first: nothing before it to cut to */
	struct ep_diagnosis d2 = {0};
	s = rt_diag_source(&d2, "x", true);
	assert_int_equal(rt_diag_lines(s, "Usage:\n  etcd\n"), 0);
	ex = ep_diagnosis_excerpt(&d2, 1);
	assert_string_equal(ex, "etcd's last log line (x): '  etcd'");
	free(ex);
	ep_diagnosis_release(&d2);
	char *text = ep_diagnosis_text(&d);
	assert_non_null(strstr(text, "status:\n  | Active: failed\n"));
	assert_non_null(strstr(text, "etcd's output (lab\\x1bel):\n  | one\n"));
	free(text);
	ep_diagnosis_release(&d);
}

/* ---- render and plans ------------------------------------------------------------- */

static void test_render_systemd(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, EP_MODE_SYSTEMD, "3.4.23");
	struct ep_runtime_ctx ctx = {.spec = &spec};
	struct ep_runtime_files files;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_runtime_get(EP_MODE_SYSTEMD)->render(&ctx, NULL, &files, &err), 0);
	assert_int_equal(files.n, 4);
	static const struct {
		const char *path;
		mode_t mode;
	} want[] = {
	    {"/etc/systemd/system/etcd.service", 0644},
	    {"/etc/etcd/etcd.env", 0640},
	    {"/etc/etcd/etcdctl.env", 0640},
	    {"/usr/local/bin/etcdctl.sh", 0755},
	};
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(files.v[i].path, want[i].path);
		assert_int_equal(files.v[i].mode, want[i].mode);
		assert_false(files.v[i].hidden_rename);
		assert_int_equal(strlen(files.v[i].content), files.v[i].len);
	}
	ep_runtime_files_release(&files);
	assert_null(ep_runtime_get((enum ep_mode)7));
	assert_string_equal(ep_runtime_get(EP_MODE_SYSTEMD)->name, "systemd");
	assert_string_equal(ep_runtime_get(EP_MODE_STATIC_POD)->name, "static-pod");
	ep_spec_release(&spec);
}

typedef int (*plan_files_fn)(const struct ep_runtime_ctx *, const struct ep_runtime_files *,
			     struct ep_plan *, const char *, struct ep_error *);
typedef int (*plan_fn)(const struct ep_runtime_ctx *, struct ep_plan *, const char *,
		       struct ep_error *);

static void expect_types(const struct ep_plan *plan, const char *const *types)
{
	size_t n = 0;
	while (types[n])
		n++;
	assert_int_equal(ep_plan_count(plan), n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(ep_plan_action_type(plan, i), types[i]);
		assert_string_equal(ep_plan_action_phase(plan, i), "etcd");
	}
}

static void test_plans(void **state)
{
	(void)state;
	const struct ep_runtime_ops *sp = ep_runtime_get(EP_MODE_STATIC_POD);
	const struct ep_runtime_ops *sd = ep_runtime_get(EP_MODE_SYSTEMD);
	/* the ops tables hold the plan builders */
	assert_ptr_equal(sp->plan_start, rt_static_pod_plan_start);
	assert_ptr_equal(sd->plan_stop, rt_systemd_plan_stop);
	plan_files_fn sp_start = sp->plan_start;
	plan_fn sp_stop = sp->plan_stop;
	plan_files_fn sp_restart = sp->plan_restart;
	plan_files_fn sd_start = sd->plan_start;
	plan_fn sd_stop = sd->plan_stop;
	plan_files_fn sd_restart = sd->plan_restart;

	struct ep_spec spec;
	make_spec(&spec, EP_MODE_STATIC_POD, "3.5.21");
	struct ep_runtime_ctx ctx = {.spec = &spec};
	struct ep_runtime_files files;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(sp->render(&ctx, NULL, &files, &err), 0);
	struct ep_plan *plan = ep_plan_new("test");
	assert_int_equal(sp_start(&ctx, &files, plan, "etcd", &err), 0);
	expect_types(plan, (const char *[]){"file.write", NULL});
	const json_t *p = ep_plan_action_params(plan, 0);
	assert_string_equal(json_string_value(json_object_get(p, "path")),
			    "/etc/kubernetes/manifests/etcd.yaml");
	assert_string_equal(json_string_value(json_object_get(p, "mode")), "0600");
	assert_true(json_is_true(json_object_get(p, "hidden_rename")));
	assert_string_equal(json_string_value(json_object_get(p, "content")), files.v[0].content);
	ep_plan_free(plan);
	plan = ep_plan_new("test");
	assert_int_equal(sp_stop(&ctx, plan, "etcd", &err), 0);
	expect_types(plan, (const char *[]){"file.move", NULL});
	p = ep_plan_action_params(plan, 0);
	assert_string_equal(json_string_value(json_object_get(p, "from")),
			    "/etc/kubernetes/manifests/etcd.yaml");
	assert_string_equal(json_string_value(json_object_get(p, "to")),
			    "/var/lib/etcdpilot/stopped/etcd.yaml");
	ep_plan_free(plan);
	plan = ep_plan_new("test");
	assert_int_equal(sp_restart(&ctx, &files, plan, "etcd", &err), 0);
	expect_types(plan, (const char *[]){"file.move", "file.write", NULL});
	assert_int_equal(sp_start(&ctx, NULL, plan, "etcd", &err), -EINVAL);
	ep_plan_free(plan);
	ep_runtime_files_release(&files);

	spec.mode = EP_MODE_SYSTEMD;
	assert_int_equal(sd->render(&ctx, NULL, &files, &err), 0);
	plan = ep_plan_new("test");
	assert_int_equal(sd_start(&ctx, &files, plan, "etcd", &err), 0);
	expect_types(plan, (const char *[]){"file.write", "file.write", "file.write", "file.write",
					    "systemd.daemon-reload", "systemd.enable-now", NULL});
	assert_string_equal(
	    json_string_value(json_object_get(ep_plan_action_params(plan, 5), "unit")),
	    "etcd.service");
	assert_string_equal(
	    json_string_value(json_object_get(ep_plan_action_params(plan, 3), "mode")), "0755");
	ep_plan_free(plan);
	plan = ep_plan_new("test");
	assert_int_equal(sd_stop(&ctx, plan, "etcd", &err), 0);
	expect_types(plan, (const char *[]){"systemd.stop", NULL});
	ep_plan_free(plan);
	plan = ep_plan_new("test");
	assert_int_equal(sd_restart(&ctx, &files, plan, "etcd", &err), 0);
	expect_types(plan, (const char *[]){"file.write", "file.write", "file.write", "file.write",
					    "systemd.daemon-reload", "systemd.restart", NULL});
	ep_plan_free(plan);
	ep_runtime_files_release(&files);
	ep_spec_release(&spec);
}

static void test_flag_table(void **state)
{
	(void)state;
	enum rt_flag_kind k;
	assert_true(rt_etcd_flag("client-cert-auth", 34, &k));
	assert_int_equal(k, RT_FLAG_BOOL);
	assert_true(rt_etcd_flag("snapshot-count", 36, &k));
	assert_int_equal(k, RT_FLAG_VALUE);
	assert_true(rt_etcd_flag("feature-gates", 36, NULL));
	assert_false(rt_etcd_flag("feature-gates", 35, NULL));
	assert_true(rt_etcd_flag("feature-gates", 0, NULL));
	assert_true(rt_etcd_flag("proxy", 34, &k));
	assert_int_equal(k, RT_FLAG_PROXY);
	assert_false(rt_etcd_flag("proxy", 36, NULL));
	assert_true(rt_etcd_flag("enable-v2", 35, NULL));
	assert_false(rt_etcd_flag("enable-v2", 36, NULL));
	assert_true(rt_etcd_flag("unsafe-no-fsync", 34, &k));
	assert_int_equal(k, RT_FLAG_BOOL);
	assert_true(rt_etcd_flag("v", 35, &k));
	assert_int_equal(k, RT_FLAG_IGNORED);
	assert_false(rt_etcd_flag("bogus", 0, NULL));
	assert_false(rt_etcd_flag("", 0, NULL));
}

/*
 * The race of issue 10, item 2, for the node reads: a thread swaps /etc/app
 * of the root for a symlink to a directory outside it (absolute, then
 * climbing out with ".."), again and again, while the reads the runtimes
 * make - rt_read, rt_read_tail, rt_lstat, rt_readlink, rt_list - go on
 * under /etc/app.  The outside directory holds entries of the same names;
 * no read may return what is there.
 */
#define READ_RACE_LOOPS 5000

/* What one loop of reads found outside the root, into @why; false when nothing. */
static bool read_once(const char *root, const struct stat *inside, unsigned *ok, char *why,
		      size_t size)
{
	char *text = NULL, target[64];
	size_t len = 0;
	bool mid = false, out = false;
	struct stat st;
	struct ep_strv names = {0};
	if (rt_read(root, "/etc/app/unit", 100, &text, &len, NULL) == 0) {
		if ((out = strcmp(text, "inside unit\n")))
			snprintf(why, size, "rt_read read '%s'", text);
		++*ok;
	}
	free(text);
	text = NULL;
	if (!out && rt_read_tail(root, "/etc/app/log", 100, &text, &len, &mid, NULL) == 0) {
		if ((out = strcmp(text, "inside log\n")))
			snprintf(why, size, "rt_read_tail read '%s'", text);
		++*ok;
	}
	free(text);
	if (!out && rt_lstat(root, "/etc/app/unit", &st) == 0) {
		if ((out = st.st_ino != inside->st_ino || st.st_dev != inside->st_dev))
			snprintf(why, size, "rt_lstat saw another file");
		++*ok;
	}
	if (!out && rt_readlink(root, "/etc/app/masked", target, sizeof(target)) == 0) {
		if ((out = strcmp(target, "/dev/null")))
			snprintf(why, size, "rt_readlink read '%s'", target);
		++*ok;
	}
	if (!out && rt_list(root, "/etc/app", &names) == 0) {
		if ((out = strv_has(&names, "only-outside")))
			snprintf(why, size, "rt_list listed the other directory");
		++*ok;
	}
	ep_strv_release(&names);
	return out;
}

static void read_race(const char *relative_target)
{
	char *dir = scratch();
	char root[512], out[512], app[600], unit[700];
	snprintf(root, sizeof(root), "%s/root", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	snprintf(app, sizeof(app), "%s/etc/app", root);
	snprintf(unit, sizeof(unit), "%s/unit", app);
	put(root, "/etc/app/unit", "inside unit\n", 0644);
	put(root, "/etc/app/log", "inside log\n", 0644);
	link_at(root, "/etc/app/masked", "/dev/null");
	put(dir, "/out/unit", "outside unit\n", 0644);
	put(dir, "/out/log", "outside log\n", 0644);
	put(dir, "/out/only-outside", "x\n", 0644);
	link_at(dir, "/out/masked", "/outside");
	struct stat inside;
	assert_int_equal(lstat(unit, &inside), 0);

	struct root_swap sw;
	assert_int_equal(root_swap_start(&sw, app, relative_target ? relative_target : out), 0);
	unsigned ok = 0;
	char why[200] = "";
	int i = 0;
	while (i < READ_RACE_LOOPS && !read_once(root, &inside, &ok, why, sizeof(why)))
		i++;
	unsigned long swaps = root_swap_stop(&sw);
	if (i < READ_RACE_LOOPS)
		fail_msg("loop %d of %d (%lu swaps so far), link to %s: %s outside the root", i,
			 READ_RACE_LOOPS, swaps, relative_target ? relative_target : out, why);
	print_message("%d loops, %lu swaps, %u reads went through\n", READ_RACE_LOOPS, swaps, ok);
	/* The race was real: the directory was swapped, and reads went through. */
	assert_true(swaps > 0);
	assert_true(ok > 0);
	rm_rf(dir);
}

static void test_read_race(void **state)
{
	(void)state;
	read_race(NULL);
	read_race("../../out");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_unitfile_syntax),	cmocka_unit_test(test_exec_parse),
	    cmocka_unit_test(test_environment_parse),	cmocka_unit_test(test_flag_table),
	    cmocka_unit_test(test_read_back_kubespray), cmocka_unit_test(test_read_back_etcdadm),
	    cmocka_unit_test(test_read_back_hardway),	cmocka_unit_test(test_read_back_etcdpilot),
	    cmocka_unit_test(test_read_back_hostile),	cmocka_unit_test(test_read_back_manifest),
	    cmocka_unit_test(test_cri_parse),		cmocka_unit_test(test_journal_parse),
	    cmocka_unit_test(test_diagnose_static_pod), cmocka_unit_test(test_diagnose_systemd),
	    cmocka_unit_test(test_program_choice),	cmocka_unit_test(test_excerpt),
	    cmocka_unit_test(test_render_systemd),	cmocka_unit_test(test_plans),
	    cmocka_unit_test(test_read_race),
	};
	int r = cmocka_run_group_tests_name("openat2", tests, NULL, NULL);
	/* All of it again as on a kernel without openat2(2): the component-by-component walk. */
	fs_test_no_openat2 = true;
	return r | cmocka_run_group_tests_name("walk", tests, NULL, NULL);
}
