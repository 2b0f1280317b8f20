/*
 * test_convert.c - the translation of `etcdpilot convert` (convert.h): each
 * layout met in the field (tests/unit/data/units: kubespray, etcdadm, the
 * Hard Way, etcdpilot's own systemd mode), read back by the systemd
 * runtime and translated into a static pod: the manifest's flags, its
 * environment, which TLS files are copied where, the CA key and the
 * healthcheck-client decision, the notes; and the refusals with their
 * messages.  Certificates are made for each fixture with the library's own
 * PKI and put where the layout keeps them.
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

#include "etcdpilot/convert.h"
#include "etcdpilot/error.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/pki.h"
#include "etcdpilot/runtime.h"
#include "etcdpilot/spec.h"

static const char *source_dir(void)
{
	const char *s = getenv("EP_SOURCE_DIR");
	return s && *s ? s : EP_TEST_SOURCE_DIR;
}

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("failed: %s", cmd);
}

static void make_spec(struct ep_spec *spec, const char *name, const char *addr)
{
	struct ep_error err;
	ep_error_clear(&err);
	ep_spec_init(spec);
	spec->name = strdup(name);
	spec->advertise_address = strdup(addr);
	spec->etcd_version = strdup("3.4.23");
	spec->key_type = EP_KEY_ECDSA_P256;
	assert_int_equal(ep_spec_defaults(spec, &err), 0);
}

/*
 * A scratch node root holding fixture @layout, with certificates for member
 * @name at @addr (kubeadm's profiles: the server pair names the address
 * and the loopbacks) made under <root>/gen/etcd.
 */
static void scratch(const char *layout, const char *name, const char *addr, char *root,
		    size_t len)
{
	snprintf(root, len, "/tmp/test_convert.XXXXXX");
	assert_non_null(mkdtemp(root));
	sh("cp -a '%s/tests/unit/data/units/%s/.' '%s/'", source_dir(), layout, root);
	struct ep_spec g;
	make_spec(&g, name, addr);
	free(g.cert_dir);
	g.cert_dir = strdup("/gen");
	struct ep_error err;
	ep_error_clear(&err);
	if (ep_pki_ensure(&g, root, false, NULL, NULL, &err) < 0)
		fail_msg("pki: %s", err.msg);
	ep_spec_release(&g);
}

static void place(const char *root, const char *from, const char *to)
{
	sh("mkdir -p \"$(dirname '%s%s')\" && cp '%s/gen/etcd/%s' '%s%s'", root, to, root, from, root,
	   to);
}

static void read_member(const char *root, struct ep_member_desc *m)
{
	struct ep_spec s;
	make_spec(&s, "x", "10.9.9.9");
	s.mode = EP_MODE_SYSTEMD;
	struct ep_runtime_ctx ctx = { .root = root, .spec = &s };
	struct ep_error err;
	ep_error_clear(&err);
	if (ep_runtime_get(EP_MODE_SYSTEMD)->read_back(&ctx, m, &err) < 0)
		fail_msg("read_back: %s", err.msg);
	if (!m->version)
		m->version = strdup("3.4.23"); /* no binary in the fixtures */
	ep_spec_release(&s);
}

static int translate(const char *root, const struct ep_member_desc *m,
		     const struct ep_convert_peer *peers, size_t n, struct ep_convert *cv,
		     struct ep_error *err)
{
	struct ep_spec base;
	make_spec(&base, "x", "10.9.9.9");
	ep_error_clear(err);
	int r = ep_convert_to_static_pod(m, &base, peers, n, root, cv, err);
	ep_spec_release(&base);
	return r;
}

static const char *arg(const struct ep_kvv *kv, const char *name)
{
	for (size_t i = 0; i < kv->n; i++)
		if (!strcmp(kv->v[i].name, name))
			return kv->v[i].value;
	return NULL;
}

static bool has_note(const struct ep_convert *cv, const char *needle)
{
	for (size_t i = 0; i < cv->notes.n; i++)
		if (strstr(cv->notes.v[i], needle))
			return true;
	return false;
}

static const struct ep_convert_copy *copy_to(const struct ep_convert *cv, const char *to)
{
	for (size_t i = 0; i < cv->ncopies; i++)
		if (!strcmp(cv->copies[i].to, to))
			return &cv->copies[i];
	return NULL;
}

static char *manifest_of(const struct ep_convert *cv)
{
	char *text = NULL;
	struct ep_error err;
	ep_error_clear(&err);
	if (ep_manifest_render(&cv->spec, &cv->initial_cluster, &text, NULL, &err) < 0)
		fail_msg("render: %s", err.msg);
	return text;
}

static void expect_copy(const struct ep_convert *cv, const char *from, const char *to,
			unsigned mode)
{
	const struct ep_convert_copy *c = copy_to(cv, to);
	if (!c)
		fail_msg("no copy to %s", to);
	assert_string_equal(c->from, from);
	assert_int_equal(c->mode, mode);
	assert_false(c->same);
}

/* ---- the layouts ------------------------------------------------------------------- */

static const struct ep_convert_peer kubespray_peers[] = {
	{ "etcd1", "https://10.0.0.21:2380" },
	{ "etcd2", "https://10.0.0.22:2380" },
	{ "etcd3", "https://10.0.0.23:2380" },
};

static void kubespray_root(char *root, size_t len)
{
	scratch("kubespray", "node1", "10.0.0.21", root, len);
	place(root, "ca.crt", "/etc/ssl/etcd/ssl/ca.pem");
	place(root, "ca.key", "/etc/ssl/etcd/ssl/ca-key.pem");
	place(root, "server.crt", "/etc/ssl/etcd/ssl/member-node1.pem");
	place(root, "server.key", "/etc/ssl/etcd/ssl/member-node1-key.pem");
}

static void test_kubespray(void **state)
{
	(void)state;
	char root[256];
	kubespray_root(root, sizeof(root));
	struct ep_member_desc m;
	read_member(root, &m);
	struct ep_convert cv;
	struct ep_error err;
	if (translate(root, &m, kubespray_peers, 3, &cv, &err) < 0)
		fail_msg("translate: %s", err.msg);
	/* the member's name differs from the host's: it is the member's */
	assert_string_equal(cv.spec.name, "etcd1");
	assert_int_equal(cv.installer, EP_INSTALLER_KUBESPRAY);
	assert_string_equal(cv.spec.advertise_address, "10.0.0.21");
	assert_string_equal(cv.spec.data_dir, "/var/lib/etcd");
	assert_string_equal(cv.spec.cert_dir, "/etc/kubernetes/pki");
	/* its tuning stays; ETCD_PROXY=off never becomes --proxy */
	assert_string_equal(arg(&cv.spec.extra_args, "election-timeout"), "5000");
	assert_string_equal(arg(&cv.spec.extra_args, "heartbeat-interval"), "250");
	assert_string_equal(arg(&cv.spec.extra_args, "snapshot-count"), "100000");
	assert_string_equal(arg(&cv.spec.extra_args, "quota-backend-bytes"), "2147483648");
	assert_string_equal(arg(&cv.spec.extra_args, "metrics"), "basic");
	assert_string_equal(arg(&cv.spec.extra_args, "initial-cluster-token"), "k8s_etcd");
	assert_string_equal(arg(&cv.spec.extra_args, "listen-client-urls"),
			    "https://10.0.0.21:2379,https://127.0.0.1:2379");
	assert_null(arg(&cv.spec.extra_args, "proxy"));
	assert_null(arg(&cv.spec.extra_args, "cert-file")); /* kubeadm's path now */
	assert_null(arg(&cv.spec.extra_args, "initial-cluster-state"));
	assert_int_equal(cv.spec.extra_envs.n, 0); /* ETCDCTL_* stay behind */
	/* member-node1.pem is both server and peer certificate */
	expect_copy(&cv, "/etc/ssl/etcd/ssl/ca.pem", "/etc/kubernetes/pki/etcd/ca.crt", 0644);
	expect_copy(&cv, "/etc/ssl/etcd/ssl/member-node1.pem",
		    "/etc/kubernetes/pki/etcd/server.crt", 0644);
	expect_copy(&cv, "/etc/ssl/etcd/ssl/member-node1-key.pem",
		    "/etc/kubernetes/pki/etcd/server.key", 0600);
	expect_copy(&cv, "/etc/ssl/etcd/ssl/member-node1.pem", "/etc/kubernetes/pki/etcd/peer.crt",
		    0644);
	expect_copy(&cv, "/etc/ssl/etcd/ssl/ca-key.pem", "/etc/kubernetes/pki/etcd/ca.key", 0600);
	assert_true(cv.ca_key);
	assert_true(cv.make_healthcheck);
	assert_true(has_note(&cv, "ETCD_PROXY"));
	assert_true(has_note(&cv, "ETCDCTL_* variables"));
	assert_true(has_note(&cv, "added --listen-metrics-urls=http://127.0.0.1:2381"));
	assert_true(has_note(&cv, "kube-apiserver"));
	/* the manifest: the live peers, an existing cluster, the probes on 2381 */
	char *text = manifest_of(&cv);
	assert_non_null(strstr(text, "--initial-cluster=etcd1=https://10.0.0.21:2380,"
				     "etcd2=https://10.0.0.22:2380,etcd3=https://10.0.0.23:2380"));
	assert_non_null(strstr(text, "--initial-cluster-state=existing"));
	assert_non_null(strstr(text, "--election-timeout=5000"));
	assert_non_null(strstr(text, "--listen-metrics-urls=http://127.0.0.1:2381"));
	assert_non_null(strstr(text, "--cert-file=/etc/kubernetes/pki/etcd/server.crt"));
	assert_non_null(strstr(text, "name: etcd-data"));
	assert_null(strstr(text, "proxy"));
	assert_null(strstr(text, "ETCDCTL"));
	free(text);
	ep_convert_release(&cv);
	ep_member_desc_release(&m);
	sh("rm -rf '%s'", root);
}

static void test_etcdadm(void **state)
{
	(void)state;
	char root[256];
	scratch("etcdadm", "etcd-a", "10.0.0.31", root, sizeof(root));
	place(root, "ca.crt", "/etc/etcd/pki/ca.crt");
	place(root, "ca.key", "/etc/etcd/pki/ca.key");
	place(root, "server.crt", "/etc/etcd/pki/server.crt");
	place(root, "server.key", "/etc/etcd/pki/server.key");
	place(root, "peer.crt", "/etc/etcd/pki/peer.crt");
	place(root, "peer.key", "/etc/etcd/pki/peer.key");
	struct ep_member_desc m;
	read_member(root, &m);
	/* the first member's ETCD_INITIAL_CLUSTER names only itself, forever */
	const struct ep_convert_peer peers[] = {
		{ "etcd-a", "https://10.0.0.31:2380" },
		{ "etcd-b", "https://10.0.0.32:2380" },
		{ "etcd-c", "https://10.0.0.33:2380" },
	};
	struct ep_convert cv;
	struct ep_error err;
	if (translate(root, &m, peers, 3, &cv, &err) < 0)
		fail_msg("translate: %s", err.msg);
	assert_string_equal(cv.spec.name, "etcd-a");
	assert_int_equal(cv.installer, EP_INSTALLER_ETCDADM);
	assert_int_equal(cv.initial_cluster.n, 3);
	assert_true(has_note(&cv, "not from the stale line in /etc/etcd/etcd.env"));
	/* GOMAXPROCS is etcd's runtime, not a flag: it stays in the environment */
	assert_int_equal(cv.spec.extra_envs.n, 1);
	assert_string_equal(cv.spec.extra_envs.v[0].name, "GOMAXPROCS");
	assert_string_equal(cv.spec.extra_envs.v[0].value, "4");
	assert_string_equal(arg(&cv.spec.extra_args, "strict-reconfig-check"), "true");
	expect_copy(&cv, "/etc/etcd/pki/peer.key", "/etc/kubernetes/pki/etcd/peer.key", 0600);
	expect_copy(&cv, "/etc/etcd/pki/ca.key", "/etc/kubernetes/pki/etcd/ca.key", 0600);
	assert_true(cv.make_healthcheck); /* etcdadm has none; the CA key is here */
	char *text = manifest_of(&cv);
	assert_non_null(strstr(text, "name: GOMAXPROCS"));
	assert_non_null(strstr(text, "--initial-cluster=etcd-a=https://10.0.0.31:2380,etcd-b="));
	free(text);
	ep_convert_release(&cv);
	ep_member_desc_release(&m);
	sh("rm -rf '%s'", root);
}

static void test_hardway(void **state)
{
	(void)state;
	char root[256];
	scratch("hardway", "controller-0", "10.240.0.10", root, sizeof(root));
	/* the Kubernetes CA is etcd's CA; its key is not on the controllers */
	place(root, "ca.crt", "/etc/etcd/ca.pem");
	place(root, "server.crt", "/etc/etcd/kubernetes.pem");
	place(root, "server.key", "/etc/etcd/kubernetes-key.pem");
	struct ep_member_desc m;
	read_member(root, &m);
	const struct ep_convert_peer peers[] = {
		{ "controller-0", "https://10.240.0.10:2380" },
		{ "controller-1", "https://10.240.0.11:2380" },
		{ "controller-2", "https://10.240.0.12:2380" },
	};
	struct ep_convert cv;
	struct ep_error err;
	if (translate(root, &m, peers, 3, &cv, &err) < 0)
		fail_msg("translate: %s", err.msg);
	assert_string_equal(cv.spec.name, "controller-0");
	assert_int_equal(cv.installer, EP_INSTALLER_UNKNOWN);
	/* value-less booleans came through as true; the defaults say the same */
	assert_null(arg(&cv.spec.extra_args, "client-cert-auth"));
	assert_null(arg(&cv.spec.extra_args, "peer-client-cert-auth"));
	assert_string_equal(arg(&cv.spec.extra_args, "initial-cluster-token"), "etcd-cluster-0");
	expect_copy(&cv, "/etc/etcd/kubernetes.pem", "/etc/kubernetes/pki/etcd/peer.crt", 0644);
	assert_false(cv.ca_key);
	assert_false(cv.make_healthcheck);
	assert_true(has_note(&cv, "no healthcheck-client certificate is made: the CA key is not on "
				  "this node (looked for /etc/etcd/ca-key.pem"));
	ep_convert_release(&cv);
	ep_member_desc_release(&m);
	sh("rm -rf '%s'", root);
}

static void test_etcdpilot_layout(void **state)
{
	(void)state;
	char root[256];
	scratch("etcdpilot", "cp1", "10.0.0.11", root, sizeof(root));
	sh("mkdir -p '%s/etc/kubernetes/pki' && cp -a '%s/gen/etcd' '%s/etc/kubernetes/pki/'", root,
	   root, root);
	struct ep_member_desc m;
	read_member(root, &m);
	const struct ep_convert_peer peers[] = { { "cp1", "https://10.0.0.11:2380" } };
	struct ep_convert cv;
	struct ep_error err;
	if (translate(root, &m, peers, 1, &cv, &err) < 0)
		fail_msg("translate: %s", err.msg);
	assert_int_equal(cv.installer, EP_INSTALLER_ETCDPILOT);
	/* kubeadm's layout already: every file used where it is */
	for (size_t i = 0; i < cv.ncopies; i++)
		assert_true(cv.copies[i].same);
	assert_false(cv.make_healthcheck); /* it has one */
	/* nothing but the member's own differences from kubeadm's defaults */
	assert_int_equal(cv.spec.extra_args.n, 0);
	ep_convert_release(&cv);
	ep_member_desc_release(&m);
	sh("rm -rf '%s'", root);
}

/* ---- refusals ------------------------------------------------------------------------ */

static void expect_refusal(const char *root, const struct ep_member_desc *m,
			   const struct ep_convert_peer *peers, size_t n, const char *needle)
{
	struct ep_convert cv;
	struct ep_error err;
	int r = translate(root, m, peers, n, &cv, &err);
	if (r >= 0)
		fail_msg("translated; expected a refusal with '%s'", needle);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	if (!strstr(err.msg, needle))
		fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_refusals(void **state)
{
	(void)state;
	char root[256];
	kubespray_root(root, sizeof(root));
	struct ep_member_desc m;
	read_member(root, &m);

	/* not in the live list */
	expect_refusal(root, &m, kubespray_peers + 1, 2, "is not in the live member list");
	/* a member that never started */
	const struct ep_convert_peer unstarted[] = { kubespray_peers[0], { "", "https://x:2380" } };
	expect_refusal(root, &m, unstarted, 2, "never started");

	/* a certificate for another address: the SAN check names the file and the URL */
	sh("rm -rf '%s/gen'", root);
	struct ep_spec g;
	make_spec(&g, "node1", "10.0.0.99");
	free(g.cert_dir);
	g.cert_dir = strdup("/gen");
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_pki_ensure(&g, root, false, NULL, NULL, &err), 0);
	ep_spec_release(&g);
	sh("cp '%s/gen/etcd/server.key' '%s/keep.key'", root, root);
	place(root, "ca.crt", "/etc/ssl/etcd/ssl/ca.pem");
	place(root, "server.crt", "/etc/ssl/etcd/ssl/member-node1.pem");
	place(root, "server.key", "/etc/ssl/etcd/ssl/member-node1-key.pem");
	expect_refusal(root, &m, kubespray_peers, 3,
		       "/etc/etcd.env:25: the server certificate /etc/ssl/etcd/ssl/member-node1.pem "
		       "has no SAN for '10.0.0.21'");
	/* a key of another pair */
	place(root, "peer.key", "/etc/ssl/etcd/ssl/member-node1-key.pem");
	expect_refusal(root, &m, kubespray_peers, 3, "do not match");

	/* a kubeadm path holding another file */
	kubespray_root(root, sizeof(root)); /* a fresh root, matching pairs */
	ep_member_desc_release(&m);
	read_member(root, &m);
	sh("mkdir -p '%s/etc/kubernetes/pki/etcd' && echo other > "
	   "'%s/etc/kubernetes/pki/etcd/server.crt'", root, root);
	expect_refusal(root, &m, kubespray_peers, 3,
		       "/etc/kubernetes/pki/etcd/server.crt already holds another file");

	/* what etcd itself would refuse */
	ep_strv_push(&m.conflicts, "ETCD_NAME (/etc/etcd.env:12) and --name (ExecStart) both set");
	expect_refusal(root, &m, kubespray_peers, 3, "would not start (ETCD_NAME");
	ep_member_desc_release(&m);
	sh("rm -rf '%s'", root);
}

static void test_plain_http(void **state)
{
	(void)state;
	char root[256];
	scratch("hardway", "controller-0", "10.240.0.10", root, sizeof(root));
	sh("sed -i 's|--advertise-client-urls https://|--advertise-client-urls http://|' "
	   "'%s/etc/systemd/system/etcd.service'", root);
	struct ep_member_desc m;
	read_member(root, &m);
	const struct ep_convert_peer peers[] = { { "controller-0", "https://10.240.0.10:2380" } };
	expect_refusal(root, &m, peers, 1, "is not https");
	ep_member_desc_release(&m);
	sh("rm -rf '%s'", root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kubespray),     cmocka_unit_test(test_etcdadm),
		cmocka_unit_test(test_hardway),	      cmocka_unit_test(test_etcdpilot_layout),
		cmocka_unit_test(test_refusals),      cmocka_unit_test(test_plain_http),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
