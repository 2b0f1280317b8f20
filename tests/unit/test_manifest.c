/*
 * test_manifest.c - the etcd static pod: golden files for every etcd line and
 * for extraArgs/extraEnvs/SANs/IPv6/join (byte for byte against
 * manifests/reference/), the kubeadm sample compared after normalisation,
 * render -> read back -> same node spec, the reader's errors, quoting of
 * number-like strings, and the diff.
 *
 * EP_UPDATE_GOLDEN=1 rewrites the golden files instead of comparing (review
 * the result with git diff before committing it).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <yaml.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/spec.h"

static const char *source_dir(void)
{
	const char *s = getenv("EP_SOURCE_DIR");
	return s && *s ? s : EP_TEST_SOURCE_DIR;
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

/* A spec as a user would get it: a few fields set, the defaults filled in. */
static void make_spec(struct ep_spec *spec, const char *version, const char *adv)
{
	struct ep_error err;
	ep_error_clear(&err);
	ep_spec_init(spec);
	spec->name = strdup("cp1");
	spec->advertise_address = strdup(adv ? adv : "10.0.0.11");
	spec->etcd_version = strdup(version);
	assert_int_equal(ep_spec_defaults(spec, &err), 0);
}

static char *render(const struct ep_spec *spec, const struct ep_kvv *cluster)
{
	char *out = NULL;
	size_t len = 0;
	struct ep_error err;
	ep_error_clear(&err);
	int r = ep_manifest_render(spec, cluster, &out, &len, &err);
	if (r < 0)
		print_error("render: %s\n", err.msg);
	assert_int_equal(r, 0);
	assert_non_null(out);
	assert_int_equal(strlen(out), len);
	return out;
}

/* Compare @got with the golden @name byte for byte; say where they part. */
static void expect_golden(const char *got, const char *name)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/manifests/reference/%s", source_dir(), name);
	if (getenv("EP_UPDATE_GOLDEN")) {
		struct ep_error err;
		ep_error_clear(&err);
		assert_int_equal(ep_write_atomic(path, got, strlen(got), 0644, &err), 0);
		return;
	}
	char *want = read_ref(name);
	assert_non_null(want);
	if (strcmp(got, want)) {
		size_t line = 1, i = 0;
		while (got[i] && got[i] == want[i]) {
			if (got[i] == '\n')
				line++;
			i++;
		}
		print_error("%s differs at line %zu\n--- got:\n%s\n", name, line, got);
	}
	assert_string_equal(got, want);
	free(want);
}

static void golden_case(const char *version, const char *golden)
{
	struct ep_spec spec;
	make_spec(&spec, version, NULL);
	char *out = render(&spec, NULL);
	expect_golden(out, golden);
	free(out);
	ep_spec_release(&spec);
}

static void test_golden_36(void **state)
{
	(void)state;
	golden_case("3.6.6", "etcd-3.6.yaml");
}

static void test_golden_35_livez(void **state)
{
	(void)state;
	golden_case("3.5.21", "etcd-3.5.21.yaml");
}

static void test_golden_35_health(void **state)
{
	(void)state;
	golden_case("3.5.10", "etcd-3.5.10.yaml");
}

static void test_golden_34(void **state)
{
	(void)state;
	golden_case("3.4.23", "etcd-3.4.yaml");
}

static void add_extra_args(struct ep_spec *spec)
{
	/* Unsorted, a duplicate name, and overrides of two defaults. */
	assert_int_equal(ep_kvv_push(&spec->extra_args, "snapshot-count", "5000"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_args, "cipher-suites",
				     "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_args, "listen-metrics-urls",
				     "http://10.0.0.11:2382,http://127.0.0.1:2382"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_args, "cipher-suites",
				     "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_args, "quota-backend-bytes", "8589934592"), 0);
}

static void test_golden_extra_args(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, "3.6.6", NULL);
	add_extra_args(&spec);
	char *out = render(&spec, NULL);
	expect_golden(out, "etcd-3.6-extra-args.yaml");
	/* Every default of an overridden name is gone, the probe follows the metrics URL. */
	assert_null(strstr(out, "--snapshot-count=10000"));
	assert_null(strstr(out, "--listen-metrics-urls=http://127.0.0.1:2381"));
	assert_non_null(strstr(out, "host: 10.0.0.11\n"));
	assert_non_null(strstr(out, "containerPort: 2382\n"));
	free(out);
	ep_spec_release(&spec);
}

/*
 * What an override names, the rest of the pod follows: the annotation
 * (advertise-client-urls), initial-cluster (initial-advertise-peer-urls),
 * the probes (listen-metrics-urls, its scheme in any case as Go's
 * url.Parse reads it), the local endpoint (listen-client-urls).
 */
static void test_overrides_followed(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, "3.6.6", NULL);
	assert_int_equal(ep_strv_push(&spec.server_cert_sans, "etcd.example.com"), 0);
	assert_int_equal(ep_kvv_push(&spec.extra_args, "advertise-client-urls",
				     "https://etcd.example.com:2379,https://10.0.0.11:2379"), 0);
	assert_int_equal(ep_kvv_push(&spec.extra_args, "initial-advertise-peer-urls",
				     "https://10.0.0.11:2390,https://127.0.0.1:2390"), 0);
	assert_int_equal(ep_kvv_push(&spec.extra_args, "listen-metrics-urls",
				     "HTTPS://127.0.0.1:2391"), 0);
	assert_int_equal(ep_kvv_push(&spec.extra_args, "listen-client-urls",
				     "https://10.0.0.11:2379,https://127.0.0.1:12379"), 0);
	char *out = render(&spec, NULL);
	assert_non_null(strstr(out, "    kubeadm.kubernetes.io/etcd.advertise-client-urls: "
				    "https://etcd.example.com:2379,https://10.0.0.11:2379\n"));
	assert_non_null(strstr(out, "    - --initial-cluster=cp1=https://10.0.0.11:2390,"
				    "cp1=https://127.0.0.1:2390\n"));
	assert_null(strstr(out, "scheme: HTTP\n"));
	assert_non_null(strstr(out, "        scheme: HTTPS\n"));
	assert_non_null(strstr(out, "    - containerPort: 2391\n"));
	char *local = ep_manifest_local_client_url(&spec);
	assert_string_equal(local, "https://127.0.0.1:12379");
	free(local);
	/* What is read back is what was written. */
	struct ep_manifest_info info;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_manifest_parse(out, strlen(out), "x", "cp1", NULL, &info, &err), 0);
	assert_string_equal(info.spec.advertise_address, "etcd.example.com");
	ep_manifest_info_release(&info);
	free(out);
	ep_spec_release(&spec);

	/* Without overrides: kubeadm's endpoint (::1 for IPv6). */
	make_spec(&spec, "3.6.6", "fd00::11");
	local = ep_manifest_local_client_url(&spec);
	assert_string_equal(local, "https://[::1]:2379");
	free(local);
	ep_spec_release(&spec);
}

/* extraEnvs valueFrom: the kubelet resolves it; rendered, read back, compared. */
static void test_env_value_from(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, "3.6.6", NULL);
	assert_int_equal(ep_kvv_push_at(&spec.extra_envs, "POD_IP", "", NULL,
					"{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":"
					"\"status.podIP\"}}"), 0);
	assert_int_equal(ep_kvv_push(&spec.extra_envs, "GOMAXPROCS", "4"), 0);
	char *out = render(&spec, NULL);
	assert_non_null(strstr(out, "    env:\n    - name: GOMAXPROCS\n      value: \"4\"\n"
				    "    - name: POD_IP\n      valueFrom:\n        fieldRef:\n"
				    "          apiVersion: v1\n          fieldPath: status.podIP\n"));
	struct ep_manifest_info have, want;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_manifest_parse(out, strlen(out), "x", "cp1", NULL, &want, &err), 0);
	assert_int_equal(want.spec.extra_envs.n, 2);
	assert_string_equal(want.spec.extra_envs.v[1].value_from,
			    "{\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"status.podIP\"}}");
	/* Another fieldPath on disk is a difference the diff names. */
	const char *at = strstr(out, "status.podIP");
	assert_non_null(at);
	char *edited = NULL;
	assert_true(asprintf(&edited, "%.*sstatus.hostIP%s", (int)(at - out), out, at + 12) > 0);
	assert_int_equal(ep_manifest_parse(edited, strlen(edited), "x", "cp1", NULL, &have, &err), 0);
	struct ep_strv lines = { 0 };
	assert_true(ep_manifest_diff(&have, edited, &want, out, &lines) > 0);
	bool named = false;
	for (size_t i = 0; i < lines.n; i++)
		named |= strstr(lines.v[i], "env POD_IP") != NULL;
	assert_true(named);
	ep_strv_release(&lines);
	ep_manifest_info_release(&have);
	ep_manifest_info_release(&want);
	free(edited);
	free(out);
	ep_spec_release(&spec);
}

static void add_extra_envs(struct ep_spec *spec)
{
	assert_int_equal(ep_kvv_push(&spec->extra_envs, "GOMAXPROCS", "4"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_envs, "ETCD_UNSUPPORTED_ARCH", "arm64"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_envs, "DEBUG", "true"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_envs, "EMPTY", ""), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_envs, "NOTHING", "null"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_envs, "SINCE", "2024-01-02"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_envs, "UMASK", "0755"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_envs, "RATIO", "1.5e3"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_envs, "ANSWER", "yes"), 0);
	assert_int_equal(ep_kvv_push(&spec->extra_envs, "GREETING", "hello world"), 0);
}

static void test_golden_extra_envs(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, "3.6.6", NULL);
	add_extra_envs(&spec);
	char *out = render(&spec, NULL);
	expect_golden(out, "etcd-3.6-extra-envs.yaml");
	free(out);
	ep_spec_release(&spec);
}

/* Cert SANs go into the certificates only: the manifest is the plain 3.6 golden. */
static void test_golden_sans(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, "3.6.6", NULL);
	assert_int_equal(ep_strv_push(&spec.server_cert_sans, "etcd.example.com"), 0);
	assert_int_equal(ep_strv_push(&spec.server_cert_sans, "10.0.0.100"), 0);
	assert_int_equal(ep_strv_push(&spec.peer_cert_sans, "cp1.internal"), 0);
	char *out = render(&spec, NULL);
	expect_golden(out, "etcd-3.6.yaml");
	free(out);
	ep_spec_release(&spec);
}

static void test_golden_ipv6(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, "3.6.6", "fd00::11");
	char *out = render(&spec, NULL);
	expect_golden(out, "etcd-3.6-ipv6.yaml");
	assert_non_null(strstr(out, "--listen-client-urls=https://[::1]:2379,https://[fd00::11]:2379\n"));
	assert_non_null(strstr(out, "--listen-metrics-urls=http://[::1]:2381\n"));
	assert_non_null(strstr(out, "host: ::1\n"));
	free(out);
	ep_spec_release(&spec);
}

static void join_cluster(struct ep_kvv *cluster)
{
	assert_int_equal(ep_kvv_push(cluster, "cp0", "https://10.0.0.10:2380"), 0);
	assert_int_equal(ep_kvv_push(cluster, "cp1", "https://10.0.0.11:2380"), 0);
	assert_int_equal(ep_kvv_push(cluster, "cp2", "https://10.0.0.12:2380"), 0);
}

static void test_golden_join(void **state)
{
	(void)state;
	struct ep_spec spec;
	struct ep_kvv cluster = { 0 };
	make_spec(&spec, "3.6.6", NULL);
	join_cluster(&cluster);
	char *out = render(&spec, &cluster);
	expect_golden(out, "etcd-3.6-join.yaml");
	assert_non_null(strstr(out, "--initial-cluster=cp0=https://10.0.0.10:2380,"
				    "cp1=https://10.0.0.11:2380,cp2=https://10.0.0.12:2380\n"));
	assert_non_null(strstr(out, "--initial-cluster-state=existing\n"));
	free(out);
	ep_kvv_release(&cluster);
	ep_spec_release(&spec);
}

/*
 * A style-free form of a YAML document: one line per event, scalars by
 * value.  Flow and block layouts of the same data normalise alike.
 */
static char *normalise(const char *text)
{
	yaml_parser_t p;
	yaml_event_t ev;
	size_t cap = 1 << 16, len = 0;
	char *out = calloc(1, cap);
	assert_non_null(out);
	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	for (;;) {
		assert_true(yaml_parser_parse(&p, &ev));
		const char *what = "";
		char buf[1024] = "";
		switch (ev.type) {
		case YAML_MAPPING_START_EVENT: what = "{"; break;
		case YAML_MAPPING_END_EVENT: what = "}"; break;
		case YAML_SEQUENCE_START_EVENT: what = "["; break;
		case YAML_SEQUENCE_END_EVENT: what = "]"; break;
		case YAML_SCALAR_EVENT:
			snprintf(buf, sizeof(buf), "=%s", (char *)ev.data.scalar.value);
			what = buf;
			break;
		default: break;
		}
		size_t n = strlen(what);
		if (n) {
			assert_true(len + n + 2 < cap);
			memcpy(out + len, what, n);
			len += n;
			out[len++] = '\n';
		}
		bool done = ev.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&ev);
		if (done)
			break;
	}
	yaml_parser_delete(&p);
	return out;
}

/*
 * The sample manifest of reference/kubeadm-etcd.md (a real v1.35.0 file,
 * partly in flow style) and our 3.6 render for the same inputs are the
 * same data in the same order.
 */
static void test_sample_matches(void **state)
{
	(void)state;
	char *sample = read_ref("kubeadm-v1.35-sample.yaml");
	assert_non_null(sample);
	struct ep_spec spec;
	make_spec(&spec, "3.6.6", NULL);
	char *out = render(&spec, NULL);
	char *a = normalise(sample), *b = normalise(out);
	assert_string_equal(b, a);
	free(a);
	free(b);
	free(out);
	free(sample);
	ep_spec_release(&spec);
}

static void kvv_sorted_str(const struct ep_kvv *kv, char *buf, size_t len)
{
	/* Order-insensitive text of a list: sorted "name=value;" entries. */
	char **items = calloc(kv->n + 1, sizeof(*items));
	assert_non_null(items);
	for (size_t i = 0; i < kv->n; i++)
		assert_true(asprintf(&items[i], "%s=%s;", kv->v[i].name, kv->v[i].value) > 0);
	for (size_t i = 0; i < kv->n; i++)
		for (size_t j = i + 1; j < kv->n; j++)
			if (strcmp(items[i], items[j]) > 0) {
				char *t = items[i];
				items[i] = items[j];
				items[j] = t;
			}
	buf[0] = '\0';
	for (size_t i = 0; i < kv->n; i++) {
		strncat(buf, items[i], len - strlen(buf) - 1);
		free(items[i]);
	}
	free(items);
}

static void round_trip(struct ep_spec *spec, const struct ep_kvv *cluster)
{
	char *out = render(spec, cluster);
	struct ep_manifest_info info;
	struct ep_error err;
	ep_error_clear(&err);
	int r = ep_manifest_parse(out, strlen(out), "etcd.yaml", spec->name, NULL, &info, &err);
	if (r < 0)
		print_error("parse: %s\n", err.msg);
	assert_int_equal(r, 0);
	assert_string_equal(info.spec.name, spec->name);
	assert_string_equal(info.spec.advertise_address, spec->advertise_address);
	assert_string_equal(info.spec.data_dir, spec->data_dir);
	assert_string_equal(info.spec.cert_dir, spec->cert_dir);
	assert_string_equal(info.spec.image_repository, spec->image_repository);
	assert_string_equal(info.spec.image_tag, spec->image_tag);
	assert_string_equal(info.spec.etcd_version, spec->etcd_version);
	char a[4096], b[4096];
	kvv_sorted_str(&info.spec.extra_args, a, sizeof(a));
	kvv_sorted_str(&spec->extra_args, b, sizeof(b));
	assert_string_equal(a, b);
	kvv_sorted_str(&info.spec.extra_envs, a, sizeof(a));
	kvv_sorted_str(&spec->extra_envs, b, sizeof(b));
	assert_string_equal(a, b);
	assert_int_equal(info.missing_defaults.n, 0);
	bool join = cluster && cluster->n;
	assert_int_equal(info.state_existing, join);
	if (join) {
		kvv_sorted_str(&info.initial_cluster, a, sizeof(a));
		kvv_sorted_str(cluster, b, sizeof(b));
		assert_string_equal(a, b);
	} else {
		assert_int_equal(info.initial_cluster.n, 1);
		assert_string_equal(info.initial_cluster.v[0].name, spec->name);
	}

	/* What was read renders to the very same file. */
	struct ep_spec again;
	ep_spec_init(&again);
	assert_int_equal(ep_spec_copy(&again, &info.spec), 0);
	char *out2 = render(&again, join ? &info.initial_cluster : NULL);
	assert_string_equal(out2, out);
	free(out2);
	ep_spec_release(&again);
	ep_manifest_info_release(&info);
	free(out);
}

static void test_round_trip(void **state)
{
	(void)state;
	const char *versions[] = { "3.4.23", "3.5.10", "3.5.21", "3.6.6" };
	for (size_t i = 0; i < 4; i++) {
		struct ep_spec spec;
		make_spec(&spec, versions[i], NULL);
		round_trip(&spec, NULL);
		ep_spec_release(&spec);
	}
	struct ep_spec spec;
	make_spec(&spec, "3.6.6", NULL);
	add_extra_args(&spec);
	add_extra_envs(&spec);
	round_trip(&spec, NULL);
	ep_spec_release(&spec);

	make_spec(&spec, "3.5.21", "fd00::11");
	free(spec.data_dir);
	spec.data_dir = strdup("/data/etcd");
	free(spec.cert_dir);
	spec.cert_dir = strdup("/srv/pki");
	free(spec.image_repository);
	spec.image_repository = strdup("mirror.example.com:5000/k8s");
	struct ep_kvv cluster = { 0 };
	join_cluster(&cluster);
	round_trip(&spec, &cluster);
	ep_kvv_release(&cluster);
	ep_spec_release(&spec);
}

static void expect_parse_error(const char *text, const char *expect_name, const char *needle)
{
	struct ep_manifest_info info;
	struct ep_error err;
	ep_error_clear(&err);
	int r = ep_manifest_parse(text, strlen(text), "/etc/kubernetes/manifests/etcd.yaml",
				  expect_name, NULL, &info, &err);
	assert_true(r < 0);
	if (!strstr(err.msg, needle))
		print_error("message '%s' lacks '%s'\n", err.msg, needle);
	assert_non_null(strstr(err.msg, needle));
	assert_non_null(strstr(err.msg, "/etc/kubernetes/manifests/etcd.yaml"));
}

static void test_reader_errors(void **state)
{
	(void)state;
	expect_parse_error("apiVersion: v1\nkind: Pod\nmetadata: {name: [etcd\n", NULL,
			   "etcd.yaml:4:1: not valid YAML");
	expect_parse_error("\tkind: Pod\n", NULL, "etcd.yaml:1:1: not valid YAML");
	expect_parse_error("just a string\n", NULL, "not a Pod manifest");
	expect_parse_error("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: etcd}\n", NULL,
			   "not a Pod manifest (kind 'Deployment')");
	expect_parse_error("apiVersion: v1\nkind: Pod\nmetadata: {name: kube-apiserver}\n"
			   "spec: {containers: [{name: kube-apiserver}]}\n",
			   NULL, "a different pod ('kube-apiserver', not 'etcd')");
	expect_parse_error("apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\n"
			   "spec: {containers: [{name: sidecar}]}\n",
			   NULL, "no container named 'etcd'");
	expect_parse_error("apiVersion: v1\nkind: Pod\nmetadata: {name: etcd}\n"
			   "spec: {containers: [{name: etcd}]}\n",
			   NULL, "in namespace 'default', not 'kube-system'");
	expect_parse_error("apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: team-a}\n"
			   "spec: {containers: [{name: etcd}]}\n",
			   NULL, "in namespace 'team-a', not 'kube-system'");
	expect_parse_error("apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\n"
			   "---\napiVersion: v1\nkind: Pod\nmetadata: {name: x}\n",
			   NULL, "holds more than one YAML document");
	expect_parse_error("", NULL, "empty file");
	/* Two --name flags (found by fuzz_manifest): which member is it? */
	expect_parse_error("apiVersion: v1\nkind: Pod\nmetadata: {name: etcd, namespace: kube-system}\n"
			   "spec: {containers: [{name: etcd, command: [etcd, --name=mp1, "
			   "--name=cp1, --data-dir=/var/lib/etcd]}]}\n",
			   NULL, "sets --name twice ('mp1' and 'cp1')");

	/*
	 * 1 MiB of nesting (the most node.c reads) is refused while parsing,
	 * in the first document and in a second one; it used to take minutes.
	 */
	size_t size = 1u << 20;
	char *deep = malloc(size + 1);
	assert_non_null(deep);
	static const char *const heads[] = {
		"apiVersion: v1\nkind: Pod\nspec: ",
		"apiVersion: v1\nkind: Pod\n---\nspec: ",
	};
	static const char *const where[] = {
		"etcd.yaml:3:70: not valid YAML: nested more than 64 levels deep",
		"holds more than one YAML document",
	};
	for (size_t h = 0; h < 2; h++) {
		size_t n = strlen(heads[h]);
		memcpy(deep, heads[h], n);
		memset(deep + n, '[', size - n);
		deep[size] = '\0';
		expect_parse_error(deep, NULL, where[h]);
	}
	free(deep);

	struct ep_spec spec;
	make_spec(&spec, "3.6.6", NULL);
	char *out = render(&spec, NULL);
	expect_parse_error(out, "cp2", "the manifest is for member 'cp1', not for this node's 'cp2'");
	free(out);
	ep_spec_release(&spec);
}

/* kubeadm's own layout (flow parts, v1.35 sample) reads as a plain cp1 spec. */
static void test_reader_kubeadm_sample(void **state)
{
	(void)state;
	char *sample = read_ref("kubeadm-v1.35-sample.yaml");
	assert_non_null(sample);
	struct ep_manifest_info info;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_manifest_parse(sample, strlen(sample), "etcd.yaml", "cp1", NULL, &info,
					   &err),
			 0);
	assert_string_equal(info.spec.advertise_address, "10.0.0.11");
	assert_string_equal(info.spec.etcd_version, "3.6.6");
	assert_string_equal(info.spec.image_repository, "registry.k8s.io");
	assert_int_equal(info.spec.extra_args.n, 0);
	assert_int_equal(info.missing_defaults.n, 0);
	ep_manifest_info_release(&info);
	free(sample);
}

static void test_quoting(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, "3.6.6", NULL);
	add_extra_envs(&spec);
	char *out = render(&spec, NULL);
	const char *quoted[] = {
		"value: \"4\"\n",     "value: \"true\"\n",
		"value: \"null\"\n",  "value: \"2024-01-02\"\n", "value: \"0755\"\n",
		"value: \"1.5e3\"\n", "value: \"yes\"\n",
	};
	for (size_t i = 0; i < sizeof(quoted) / sizeof(*quoted); i++) {
		if (!strstr(out, quoted[i]))
			print_error("missing %s", quoted[i]);
		assert_non_null(strstr(out, quoted[i]));
	}
	/* An empty value is left out, as corev1.EnvVar's omitempty makes kubeadm do. */
	assert_non_null(strstr(out, "    - name: EMPTY\n    - name: "));
	assert_null(strstr(out, "value: \"\"\n"));
	/* Strings that read back as strings stay plain; integers are plain integers. */
	assert_non_null(strstr(out, "value: arm64\n"));
	assert_non_null(strstr(out, "value: hello world\n"));
	assert_non_null(strstr(out, "priority: 2000001000\n"));
	assert_non_null(strstr(out, "containerPort: 2381\n"));
	assert_non_null(strstr(out, "hostNetwork: true\n"));
	/* And a YAML 1.1 reader gets the strings back as they were. */
	struct ep_manifest_info info;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_manifest_parse(out, strlen(out), "x", NULL, NULL, &info, &err), 0);
	char a[4096], b[4096];
	kvv_sorted_str(&info.spec.extra_envs, a, sizeof(a));
	kvv_sorted_str(&spec.extra_envs, b, sizeof(b));
	assert_string_equal(a, b);
	ep_manifest_info_release(&info);
	free(out);
	ep_spec_release(&spec);

	/* go-yaml v2 quotes only what its timestamp layouts parse whole, with a real date. */
	static const struct {
		const char *v;
		bool quoted;
	} dates[] = {
		{ "2024-01-02", true },		  { "2024-1-2", true },
		{ "2024-01-02T10:00:00Z", true }, { "2024-01-02t1:2:3.5+02:00", true },
		{ "2024-01-02 10:00:00", true },  { "2024-02-29", true },
		{ "2024-01-02 x", false },	  { "2024-13-45", false },
		{ "2023-02-29", false },	  { "2024-01-02T25:00:00Z", false },
		{ "2024-01-02T10:00:00", false }, { "24-01-02", false },
	};
	for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
		make_spec(&spec, "3.6.6", NULL);
		assert_int_equal(ep_kvv_push(&spec.extra_envs, "D", dates[i].v), 0);
		out = render(&spec, NULL);
		char want[128];
		snprintf(want, sizeof(want), dates[i].quoted ? "value: \"%s\"\n" : "value: %s\n",
			 dates[i].v);
		if (!strstr(out, want))
			fail_msg("'%s' should be written as %s", dates[i].v, want);
		free(out);
		ep_spec_release(&spec);
	}
}

static void test_versions(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, "3.3.27", NULL);
	char *out = NULL;
	struct ep_error err;
	ep_error_clear(&err);
	assert_true(ep_manifest_render(&spec, NULL, &out, NULL, &err) < 0);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "etcd version '3.3.27' is not supported"));
	assert_null(out);
	ep_spec_release(&spec);

	assert_true(ep_manifest_version_supported("3.4.23"));
	assert_true(ep_manifest_version_supported("3.5.0"));
	assert_true(ep_manifest_version_supported("3.6.6"));
	assert_false(ep_manifest_version_supported("3.7.0"));
	assert_false(ep_manifest_version_supported(NULL));
}

static void test_diff(void **state)
{
	(void)state;
	struct ep_spec a, b;
	make_spec(&a, "3.6.6", NULL);
	make_spec(&b, "3.6.6", NULL);
	assert_int_equal(ep_kvv_push(&b.extra_args, "snapshot-count", "5000"), 0);
	free(b.name);
	b.name = strdup("cp9");
	char *ta = render(&a, NULL), *tb = render(&b, NULL);
	struct ep_manifest_info ia, ib;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_manifest_parse(ta, strlen(ta), "a", NULL, NULL, &ia, &err), 0);
	assert_int_equal(ep_manifest_parse(tb, strlen(tb), "b", NULL, NULL, &ib, &err), 0);
	struct ep_strv lines = { 0 };
	int n = ep_manifest_diff(&ia, ta, &ib, tb, &lines);
	assert_true(n >= 3);
	assert_int_equal((size_t)n, lines.n);
	assert_string_equal(lines.v[0], "member name: manifest has 'cp1', wanted 'cp9'");
	bool snap = false, cluster = false;
	for (size_t i = 0; i < lines.n; i++) {
		if (!strcmp(lines.v[i], "flag --snapshot-count: manifest has '10000', wanted '5000'"))
			snap = true;
		if (strstr(lines.v[i], "flag --initial-cluster: manifest has 'cp1=https://10.0.0.11:2380'"))
			cluster = true;
	}
	assert_true(snap);
	assert_true(cluster);
	ep_strv_release(&lines);

	/* Same file: nothing to say. */
	assert_int_equal(ep_manifest_diff(&ia, ta, &ia, ta, &lines), 0);
	assert_int_equal(lines.n, 0);

	/* Same flags, another value elsewhere: named by its path. */
	char *tc = strdup(ta);
	char *p = strstr(tc, "cpu: 100m");
	assert_non_null(p);
	p[5] = '2';
	n = ep_manifest_diff(&ia, tc, &ia, ta, &lines);
	assert_int_equal(n, 1);
	assert_string_equal(lines.v[0], "spec.containers[etcd].resources.requests.cpu: manifest has "
					"'200m', wanted '100m'");
	ep_strv_release(&lines);
	free(tc);

	/* A number written as a string is a difference; a key the manifest adds too. */
	tc = strdup(ta);
	p = strstr(tc, "failureThreshold: 8");
	assert_non_null(p);
	char *tq = NULL;
	assert_true(asprintf(&tq, "%.*sfailureThreshold: \"8\"%s", (int)(p - tc), tc, p + 19) > 0);
	n = ep_manifest_diff(&ia, tq, &ia, ta, &lines);
	assert_int_equal(n, 1);
	assert_string_equal(lines.v[0], "spec.containers[etcd].livenessProbe.failureThreshold: "
					"manifest has '8', wanted 8");
	ep_strv_release(&lines);
	free(tq);
	p = strstr(tc, "    resources:\n");
	assert_non_null(p);
	assert_true(asprintf(&tq, "%.*s    resources:\n      limits:\n        memory: 1Gi\n%s",
			     (int)(p - tc), tc, p + 15) > 0);
	n = ep_manifest_diff(&ia, tq, &ia, ta, &lines);
	assert_int_equal(n, 1);
	assert_string_equal(lines.v[0], "spec.containers[etcd].resources.limits: manifest has a map, "
					"wanted none");
	ep_strv_release(&lines);
	free(tq);
	free(tc);

	/* Layout alone: flow style, key order and quoting that keeps the value. */
	char *sample = read_ref("kubeadm-v1.35-sample.yaml");
	struct ep_manifest_info is;
	assert_non_null(sample);
	assert_int_equal(ep_manifest_parse(sample, strlen(sample), "s", NULL, NULL, &is, &err), 0);
	n = ep_manifest_diff(&is, sample, &ia, ta, &lines);
	for (size_t i = 0; i < lines.n; i++)
		print_message("sample: %s\n", lines.v[i]);
	assert_int_equal(n, 0);
	ep_manifest_info_release(&is);
	free(sample);

	ep_manifest_info_release(&ia);
	ep_manifest_info_release(&ib);
	free(ta);
	free(tb);
	ep_spec_release(&a);
	ep_spec_release(&b);
}

/* kubeadm inputs the renderer follows: the health-check timeout, duplicate env names. */
static void test_kubeadm_inputs(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, "3.6.6", NULL);
	spec.health_check_ms = 5 * 60 * 1000; /* timeouts.controlPlaneComponentHealthCheck: 5m */
	assert_int_equal(ep_kvv_push(&spec.extra_envs, "GOMAXPROCS", "1"), 0);
	assert_int_equal(ep_kvv_push(&spec.extra_envs, "A_FIRST", "x"), 0);
	assert_int_equal(ep_kvv_push(&spec.extra_envs, "GOMAXPROCS", "2"), 0);
	char *out = render(&spec, NULL);
	/* ceil(5m / 10s) */
	assert_non_null(strstr(out, "    startupProbe:\n      failureThreshold: 30\n"));
	/* MergeKubeadmEnvVars: one entry per name, the last one wins, sorted by name */
	assert_non_null(strstr(out, "    env:\n    - name: A_FIRST\n      value: x\n"
				    "    - name: GOMAXPROCS\n      value: \"2\"\n    image:"));
	struct ep_manifest_info info;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_manifest_parse(out, strlen(out), "e", "cp1", NULL, &info, &err), 0);
	assert_true(info.spec.health_check_ms == 300000);
	ep_manifest_info_release(&info);
	free(out);
	/* 95s is not a whole number of periods: rounded up, as kubeadm does. */
	spec.health_check_ms = 95000;
	out = render(&spec, NULL);
	assert_non_null(strstr(out, "    startupProbe:\n      failureThreshold: 10\n"));
	free(out);
	ep_spec_release(&spec);
}

/* An image pinned by digest: the tag is before the '@', the digest is not a version. */
static void test_reader_image_digest(void **state)
{
	(void)state;
	struct ep_spec spec;
	make_spec(&spec, "3.5.21", NULL);
	char *out = render(&spec, NULL);
	const char *digest = "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	char *p = strstr(out, "etcd:3.5.21-0\n");
	assert_non_null(p);
	char *pinned = NULL;
	assert_true(asprintf(&pinned, "%.*setcd:3.5.21-0%s%s", (int)(p - out), out, digest,
			     p + strlen("etcd:3.5.21-0")) > 0);
	struct ep_manifest_info info;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_manifest_parse(pinned, strlen(pinned), "e", "cp1", NULL, &info, &err), 0);
	assert_string_equal(info.spec.image_tag, "3.5.21-0");
	assert_string_equal(info.spec.image_repository, "registry.k8s.io");
	assert_string_equal(info.spec.etcd_version, "3.5.21");
	ep_manifest_info_release(&info);
	free(pinned);
	free(out);
	ep_spec_release(&spec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_36),
		cmocka_unit_test(test_golden_35_livez),
		cmocka_unit_test(test_golden_35_health),
		cmocka_unit_test(test_golden_34),
		cmocka_unit_test(test_golden_extra_args),
		cmocka_unit_test(test_golden_extra_envs),
		cmocka_unit_test(test_overrides_followed),
		cmocka_unit_test(test_env_value_from),
		cmocka_unit_test(test_golden_sans),
		cmocka_unit_test(test_golden_ipv6),
		cmocka_unit_test(test_golden_join),
		cmocka_unit_test(test_sample_matches),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_reader_errors),
		cmocka_unit_test(test_reader_kubeadm_sample),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_kubeadm_inputs),
		cmocka_unit_test(test_reader_image_digest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
