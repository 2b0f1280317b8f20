/*
 * test_config.c - the config loader: every field of kubeadm v1beta3 and
 * v1beta4 and of EtcdPilotConfiguration, flags over the file, defaults,
 * a table of malformed inputs with their exact "FILE:LINE:COL: path:"
 * prefix, the value checkers, the YAML renderer's quoting, and where each
 * field came from (origins, 'config print -v').
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

#include "etcdpilot/config.h"
#include "etcdpilot/error.h"
#include "etcdpilot/spec.h"

/* Parse @yaml as "t.yaml" into a fresh spec; the caller releases it. */
static int parse(const char *yaml, struct ep_spec *spec, struct ep_notes *notes,
		 struct ep_error *err)
{
	ep_spec_init(spec);
	ep_error_clear(err);
	return ep_config_parse(spec, "t.yaml", yaml, strlen(yaml), notes, err);
}

static void parse_ok(const char *yaml, struct ep_spec *spec, struct ep_notes *notes)
{
	struct ep_error err;
	int r = parse(yaml, spec, notes, &err);
	if (r < 0)
		fail_msg("unexpected error: %s", err.msg);
}

/* ---- value checkers ----------------------------------------------------- */

static void test_duration_parse(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int r;
		uint64_t ms;
	} cases[] = {
	    {"8760h", 0, 8760ull * 3600 * 1000},
	    {"1h30m", 0, 90ull * 60 * 1000},
	    {"90s", 0, 90000},
	    {"500ms", 0, 500},
	    {"8760h0m0s", 0, 8760ull * 3600 * 1000},
	    {"1.5s", 0, 1500},
	    {".5m", 0, 30000},
	    {"1m0.25s", 0, 60250},
	    {"+2m", 0, 120000},
	    {"0", 0, 0},
	    {"0s", 0, 0},
	    {"1500us", 0, 1},
	    {"2000000ns", 0, 2},
	    {"1\xc2\xb5s", 0, 0},
	    {"", -EINVAL, 0},
	    {"5", -EINVAL, 0},
	    {"-1s", -EINVAL, 0},
	    {"1d", -EINVAL, 0},
	    {"h", -EINVAL, 0},
	    {"1h 30m", -EINVAL, 0},
	    {"1.h", 0, 3600000},
	    {".s", -EINVAL, 0},
	    {"1e3s", -EINVAL, 0},
	    {"9999999h", -ERANGE, 0},
	    {"99999999999999999999s", -ERANGE, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ms = 12345;
		int r = ep_duration_parse(cases[i].in, &ms);
		if (r != cases[i].r)
			fail_msg("'%s': got %d, want %d", cases[i].in, r, cases[i].r);
		if (r == 0 && ms != cases[i].ms)
			fail_msg("'%s': got %llu ms, want %llu", cases[i].in,
				 (unsigned long long)ms, (unsigned long long)cases[i].ms);
	}
	assert_int_equal(ep_duration_parse(NULL, &(uint64_t){0}), -EINVAL);
}

static void test_duration_format(void **state)
{
	(void)state;
	static const struct {
		uint64_t ms;
		const char *out;
	} cases[] = {
	    {0, "0s"},
	    {500, "500ms"},
	    {1000, "1s"},
	    {1500, "1.5s"},
	    {1250, "1.25s"},
	    {90000, "1m30s"},
	    {240000, "4m0s"},
	    {8760ull * 3600 * 1000, "8760h0m0s"},
	    {3600000 + 1001, "1h0m1.001s"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = ep_duration_format(cases[i].ms);
		assert_non_null(s);
		assert_string_equal(s, cases[i].out);
		/* What we print reads back as the same value. */
		uint64_t back = 0;
		assert_int_equal(ep_duration_parse(s, &back), 0);
		assert_true(back == cases[i].ms);
		free(s);
	}
}

static void test_dns1123(void **state)
{
	(void)state;
	const char *good[] = {"cp1", "cp-1", "a", "0", "node.example.com", "a-b.c-d", "1.2.3.4"};
	const char *bad[] = {"",   "Bad_Name", "CP1", "-cp", "cp-",	      "a..b",
			     ".a", "a.",       "a_b", "a b", "*.example.com", "node.-x"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!ep_is_dns1123_subdomain(good[i]))
			fail_msg("'%s' should be a valid subdomain", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ep_is_dns1123_subdomain(bad[i]))
			fail_msg("'%s' should not be a valid subdomain", bad[i]);
	assert_false(ep_is_dns1123_subdomain(NULL));
	char longname[300];
	memset(longname, 'a', sizeof(longname));
	longname[253] = '\0';
	assert_true(ep_is_dns1123_subdomain(longname));
	longname[253] = 'a';
	longname[254] = '\0';
	assert_false(ep_is_dns1123_subdomain(longname));
}

static void test_is_ip(void **state)
{
	(void)state;
	const char *good[] = {"10.0.0.1",    "127.0.0.1",	"::1",	  "fd00::12",
			      "2001:db8::1", "::ffff:10.0.0.1", "0.0.0.0"};
	const char *bad[] = {"",	   "10.0.0",	"10.0.0.256", "[::1]",	   "fe80::1%eth0",
			     "1.2.3.4/24", "localhost", "10.0.0.1 ",  "010.0.0.1x"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!ep_is_ip(good[i]))
			fail_msg("'%s' should be an IP", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (ep_is_ip(bad[i]))
			fail_msg("'%s' should not be an IP", bad[i]);
	assert_false(ep_is_ip(NULL));
}

static void test_version_helpers(void **state)
{
	(void)state;
	char buf[32];
	assert_true(ep_is_version("3.6.6"));
	assert_true(ep_is_version("10.20.30"));
	assert_false(ep_is_version("3.6"));
	assert_false(ep_is_version("v3.6.6"));
	assert_false(ep_is_version("3.6.6-0"));
	assert_false(ep_is_version("3..6"));
	assert_true(ep_image_tag_version("3.5.21-0", buf, sizeof(buf)));
	assert_string_equal(buf, "3.5.21");
	assert_true(ep_image_tag_version("3.6.6", buf, sizeof(buf)));
	assert_false(ep_image_tag_version("latest", buf, sizeof(buf)));
	assert_true(ep_image_tag_version("v3.5.21", buf, sizeof(buf))); /* etcd's own images */
	assert_string_equal(buf, "3.5.21");
	assert_false(ep_image_tag_version("v3.5", buf, sizeof(buf)));
	assert_false(ep_image_tag_version(NULL, buf, sizeof(buf)));
}

/* ---- kubeadm v1beta4 ------------------------------------------------------ */

static const char v1beta4_full[] =
    "apiVersion: kubeadm.k8s.io/v1beta4\n"
    "kind: InitConfiguration\n"
    "bootstrapTokens:\n"
    "- token: abcdef.0123456789abcdef\n"
    "  ttl: 24h0m0s\n"
    "dryRun: false\n"
    "nodeRegistration:\n"
    "  name: cp-1\n"
    "  criSocket: unix:///run/containerd/containerd.sock\n"
    "  taints: []\n"
    "  kubeletExtraArgs:\n"
    "  - name: node-ip\n"
    "    value: 10.0.0.11\n"
    "  ignorePreflightErrors: [all]\n"
    "  imagePullPolicy: IfNotPresent\n"
    "  imagePullSerial: true\n"
    "localAPIEndpoint:\n"
    "  advertiseAddress: 10.0.0.11\n"
    "  bindPort: 6443\n"
    "certificateKey: abc\n"
    "skipPhases: [addon/kube-proxy]\n"
    "patches:\n"
    "  directory: /etc/kubernetes/patches\n"
    "timeouts:\n"
    "  controlPlaneComponentHealthCheck: 90s\n"
    "  etcdAPICall: 2m\n"
    "---\n"
    "apiVersion: kubeadm.k8s.io/v1beta4\n"
    "kind: ClusterConfiguration\n"
    "kubernetesVersion: v1.35.0\n"
    "certificatesDir: /srv/pki\n"
    "imageRepository: cluster.example.com/k8s\n"
    "encryptionAlgorithm: RSA-4096\n"
    "certificateValidityPeriod: 2160h\n"
    "caCertificateValidityPeriod: 43800h\n"
    "clusterName: c1\n"
    "controlPlaneEndpoint: api.example.com:6443\n"
    "networking: {podSubnet: 10.244.0.0/16}\n"
    "apiServer: {certSANs: [api.example.com]}\n"
    "controllerManager: {}\n"
    "scheduler: {}\n"
    "dns: {disabled: true}\n"
    "proxy: {disabled: true}\n"
    "featureGates: {EtcdLearnerMode: true}\n"
    "etcd:\n"
    "  local:\n"
    "    imageRepository: etcd.example.com/mirror\n"
    "    imageTag: 3.5.21-0\n"
    "    dataDir: /data/etcd\n"
    "    extraArgs:\n"
    "    - name: snapshot-count\n"
    "      value: \"5000\"\n"
    "    - name: listen-metrics-urls\n"
    "      value: http://0.0.0.0:2381\n"
    "    - name: snapshot-count\n"
    "      value: \"6000\"\n"
    "    - name: experimental-flag\n"
    "    extraEnvs:\n"
    "    - name: GOMAXPROCS\n"
    "      value: \"4\"\n"
    "    - name: ETCD_UNSUPPORTED_ARCH\n"
    "      value: arm64\n"
    "    serverCertSANs: [etcd.example.com, 10.0.0.100, \"*.etcd.example.com\", \"fd00::1\"]\n"
    "    peerCertSANs:\n"
    "    - peer.example.com\n";

static void test_v1beta4_every_field(void **state)
{
	(void)state;
	struct ep_spec s;
	struct ep_notes notes = {0};
	parse_ok(v1beta4_full, &s, &notes);
	assert_string_equal(s.name, "cp-1");
	assert_string_equal(s.advertise_address, "10.0.0.11");
	assert_string_equal(s.kubernetes_version, "v1.35.0");
	assert_string_equal(s.cert_dir, "/srv/pki");
	/* etcd.local.imageRepository wins over the cluster's. */
	assert_string_equal(s.image_repository, "etcd.example.com/mirror");
	assert_string_equal(s.image_tag, "3.5.21-0");
	assert_null(s.etcd_version); /* the parser applies no defaults */
	assert_string_equal(s.data_dir, "/data/etcd");
	assert_int_equal(s.key_type, EP_KEY_RSA_4096);
	assert_true(s.cert_validity_s == 2160ull * 3600);
	assert_true(s.ca_cert_validity_s == 43800ull * 3600);
	assert_true(s.health_check_ms == 90000); /* the startup probe's budget */
	assert_true(s.timeout_ms == 0);         /* the wait defaults to it later */
	assert_int_equal(s.extra_args.n, 4);
	assert_string_equal(s.extra_args.v[0].name, "snapshot-count");
	assert_string_equal(s.extra_args.v[0].value, "5000");
	assert_string_equal(s.extra_args.v[1].value, "http://0.0.0.0:2381");
	assert_string_equal(s.extra_args.v[2].value, "6000");
	assert_string_equal(s.extra_args.v[3].name, "experimental-flag");
	assert_string_equal(s.extra_args.v[3].value, "");
	assert_string_equal(ep_spec_extra_arg(&s, "snapshot-count"), "6000");
	assert_int_equal(s.extra_envs.n, 2);
	assert_string_equal(s.extra_envs.v[0].name, "GOMAXPROCS");
	assert_string_equal(s.extra_envs.v[0].value, "4");
	assert_string_equal(s.extra_envs.v[1].value, "arm64");
	assert_int_equal(s.server_cert_sans.n, 4);
	assert_string_equal(s.server_cert_sans.v[2], "*.etcd.example.com");
	assert_string_equal(s.server_cert_sans.v[3], "fd00::1");
	assert_int_equal(s.peer_cert_sans.n, 1);
	assert_string_equal(s.peer_cert_sans.v[0], "peer.example.com");
	assert_false(s.is_join);
	assert_false(s.external.set);
	assert_int_equal(notes.n, 0);
	ep_notes_release(&notes);
	ep_spec_release(&s);
}

static void test_v1beta4_encryption_algorithms(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		enum ep_key_type kt;
	} cases[] = {
	    {"RSA-2048", EP_KEY_RSA_2048},     {"RSA-3072", EP_KEY_RSA_3072},
	    {"RSA-4096", EP_KEY_RSA_4096},     {"ECDSA-P256", EP_KEY_ECDSA_P256},
	    {"ECDSA-P384", EP_KEY_ECDSA_P384},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char yaml[256];
		snprintf(yaml, sizeof(yaml),
			 "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
			 "encryptionAlgorithm: %s\n",
			 cases[i].name);
		struct ep_spec s;
		parse_ok(yaml, &s, NULL);
		assert_int_equal(s.key_type, cases[i].kt);
		ep_spec_release(&s);
	}
}

/* ---- kubeadm v1beta3 ------------------------------------------------------ */

static void test_v1beta3_every_field(void **state)
{
	(void)state;
	static const char yaml[] =
	    "apiVersion: kubeadm.k8s.io/v1beta3\n"
	    "kind: InitConfiguration\n"
	    "bootstrapTokens: [{token: abcdef.0123456789abcdef}]\n"
	    "nodeRegistration:\n"
	    "  name: master-a\n"
	    "  criSocket: unix:///run/containerd/containerd.sock\n"
	    "  kubeletExtraArgs: {cgroup-driver: systemd}\n"
	    "  ignorePreflightErrors: [NumCPU]\n"
	    "  imagePullPolicy: Always\n"
	    "  taints: null\n"
	    "localAPIEndpoint: {advertiseAddress: 192.168.56.10, bindPort: 6443}\n"
	    "certificateKey: x\n"
	    "skipPhases: []\n"
	    "patches: {directory: /p}\n"
	    "---\n"
	    "apiVersion: kubeadm.k8s.io/v1beta3\n"
	    "kind: ClusterConfiguration\n"
	    "kubernetesVersion: v1.29.4\n"
	    "certificatesDir: /etc/kubernetes/pki\n"
	    "imageRepository: mirror.example.com\n"
	    "clusterName: lab\n"
	    "controlPlaneEndpoint: 192.168.56.100:6443\n"
	    "networking: {podSubnet: 172.16.0.0/16}\n"
	    "apiServer: {timeoutForControlPlane: 3m30s, certSANs: [a.example.com]}\n"
	    "controllerManager: {extraArgs: {bind-address: 0.0.0.0}}\n"
	    "scheduler: {}\n"
	    "dns: {imageTag: v1.11.1}\n"
	    "featureGates: {}\n"
	    "etcd:\n"
	    "  local:\n"
	    "    imageTag: 3.5.12-0\n"
	    "    dataDir: /data/etcd\n"
	    "    extraArgs:\n"
	    "      election-timeout: \"2500\"\n"
	    "      heartbeat-interval: 250\n"
	    "      empty-one:\n"
	    "    serverCertSANs: [192.168.56.100, etcd.lab.local]\n"
	    "    peerCertSANs: [192.168.56.10]\n";
	struct ep_spec s;
	parse_ok(yaml, &s, NULL);
	assert_string_equal(s.name, "master-a");
	assert_string_equal(s.advertise_address, "192.168.56.10");
	assert_string_equal(s.kubernetes_version, "v1.29.4");
	/* No etcd.local.imageRepository: the cluster's applies. */
	assert_string_equal(s.image_repository, "mirror.example.com");
	assert_string_equal(s.image_tag, "3.5.12-0");
	assert_string_equal(s.data_dir, "/data/etcd");
	assert_string_equal(s.cert_dir, "/etc/kubernetes/pki");
	assert_int_equal(s.extra_args.n, 3);
	assert_true(s.health_check_ms == 210000); /* apiServer.timeoutForControlPlane */
	assert_string_equal(s.extra_args.v[0].name, "election-timeout");
	assert_string_equal(s.extra_args.v[0].value, "2500");
	assert_string_equal(s.extra_args.v[1].name, "heartbeat-interval");
	assert_string_equal(s.extra_args.v[1].value, "250");
	assert_string_equal(s.extra_args.v[2].value, "");
	assert_int_equal(s.server_cert_sans.n, 2);
	assert_int_equal(s.peer_cert_sans.n, 1);
	assert_int_equal(s.extra_envs.n, 0);
	assert_int_equal(s.key_type, EP_KEY_RSA_2048);
	ep_spec_release(&s);
}

/* ---- JoinConfiguration and external etcd ---------------------------------- */

static void test_join(void **state)
{
	(void)state;
	static const char yaml[] =
	    "apiVersion: kubeadm.k8s.io/v1beta4\n"
	    "kind: JoinConfiguration\n"
	    "dryRun: false\n"
	    "nodeRegistration: {name: cp-2}\n"
	    "caCertPath: /etc/kubernetes/pki/ca.crt\n"
	    "discovery:\n"
	    "  bootstrapToken: {apiServerEndpoint: a:6443, token: t}\n"
	    "controlPlane:\n"
	    "  localAPIEndpoint: {advertiseAddress: \"fd00::12\", bindPort: 6443}\n"
	    "  certificateKey: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF\n"
	    "skipPhases: []\n"
	    "patches: {}\n"
	    "timeouts: {controlPlaneComponentHealthCheck: 3m, discovery: 5m}\n";
	struct ep_spec s;
	struct ep_notes notes = {0};
	parse_ok(yaml, &s, &notes);
	assert_true(s.is_join);
	assert_string_equal(s.name, "cp-2");
	assert_string_equal(s.advertise_address, "fd00::12");
	assert_true(s.health_check_ms == 180000);
	/* kubeadm's certificate key: join --ca-bundle's key when no --certificate-key */
	assert_string_equal(s.certificate_key,
			    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF");
	assert_int_equal(notes.n, 0);
	ep_notes_release(&notes);
	ep_spec_release(&s);

	/* a certificate key that is none: the position, its length, never the value */
	struct ep_error err = {0};
	assert_true(parse("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n"
			  "controlPlane:\n  certificateKey: secretish\n",
			  &s, &notes, &err) < 0);
	ep_notes_release(&notes);
	ep_spec_release(&s);
	assert_string_equal(err.msg, "t.yaml:4:19: controlPlane.certificateKey: not a certificate "
				     "key: 9 characters, where a key is the 64 hexadecimal digits "
				     "'etcdpilot certs export-bundle' printed");

	/* v1beta3 join, and a join without controlPlane gets a note. */
	parse_ok("apiVersion: kubeadm.k8s.io/v1beta3\nkind: JoinConfiguration\n"
		 "nodeRegistration: {name: w1}\ndiscovery: {file: {kubeConfigPath: /x}}\n",
		 &s, &notes);
	assert_true(s.is_join);
	assert_int_equal(notes.n, 1);
	assert_string_equal(notes.v[0], "t.yaml:1: JoinConfiguration has no controlPlane "
					"section; etcdpilot joins this node's etcd member anyway");
	ep_notes_release(&notes);
	ep_spec_release(&s);
}

static void test_external(void **state)
{
	(void)state;
	static const char yaml[] = "apiVersion: kubeadm.k8s.io/v1beta4\n"
				   "kind: ClusterConfiguration\n"
				   "etcd:\n"
				   "  external:\n"
				   "    endpoints: [https://10.0.0.5:2379, https://10.0.0.6:2379]\n"
				   "    caFile: /etc/etcd/ca.crt\n"
				   "    certFile: /etc/etcd/client.crt\n"
				   "    keyFile: /etc/etcd/client.key\n"
				   "    httpEndpoints: [http://10.0.0.5:2381]\n";
	struct ep_spec s;
	struct ep_notes notes = {0};
	parse_ok(yaml, &s, &notes);
	assert_true(s.external.set);
	assert_int_equal(s.external.endpoints.n, 2);
	assert_string_equal(s.external.endpoints.v[1], "https://10.0.0.6:2379");
	assert_string_equal(s.external.ca_file, "/etc/etcd/ca.crt");
	assert_string_equal(s.external.cert_file, "/etc/etcd/client.crt");
	assert_string_equal(s.external.key_file, "/etc/etcd/client.key");
	assert_int_equal(notes.n, 1);
	assert_string_equal(notes.v[0], "t.yaml:4: external etcd is not managed by etcdpilot");
	ep_notes_release(&notes);
	ep_spec_release(&s);
}

/* ---- EtcdPilotConfiguration ----------------------------------------------- */

static const char pilot_full[] =
    "apiVersion: etcdpilot.io/v1alpha1\n"
    "kind: EtcdPilotConfiguration\n"
    "mode: systemd\n"
    "etcdVersion: v3.5.21\n"
    "nodeName: etcd-1\n"
    "advertiseAddress: 10.0.1.21\n"
    "keyType: ecdsa-p384\n"
    "timeout: 3m\n"
    "dataDir: /var/lib/etcd2\n"
    "certificatesDir: /etc/pki2\n"
    "manifestDir: /etc/manifests2\n"
    "systemd:\n"
    "  releaseURL: https://example.com/etcd-v3.5.21-linux-amd64.tar.gz\n"
    "  etcdSHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF\n"
    "  insecureSkipChecksum: false\n"
    "  systemctl: /bin/systemctl\n"
    "  unitPath: /etc/systemd/system/etcd2.service\n"
    "  envFile: /etc/etcd/e.env\n"
    "  etcdctlEnvFile: /etc/etcd/c.env\n"
    "  binDir: /opt/bin\n"
    "  cacheDir: /var/cache/x\n"
    "operator:\n"
    "  interval: 1m\n"
    "  renewBefore: 240h\n"
    "  backupDir: /backup\n"
    "  backupInterval: 2h\n"
    "  backupKeep: 9\n";

static void test_pilot_every_field(void **state)
{
	(void)state;
	struct ep_spec s;
	parse_ok(pilot_full, &s, NULL);
	assert_int_equal(s.mode, EP_MODE_SYSTEMD);
	assert_string_equal(s.etcd_version, "3.5.21");
	assert_string_equal(s.name, "etcd-1");
	assert_string_equal(s.advertise_address, "10.0.1.21");
	assert_int_equal(s.key_type, EP_KEY_ECDSA_P384);
	assert_true(s.timeout_ms == 180000);
	assert_string_equal(s.data_dir, "/var/lib/etcd2");
	assert_string_equal(s.cert_dir, "/etc/pki2");
	assert_string_equal(s.manifest_dir, "/etc/manifests2");
	assert_string_equal(s.systemd.release_url,
			    "https://example.com/etcd-v3.5.21-linux-amd64.tar.gz");
	assert_null(s.systemd.etcd_binary);
	assert_int_equal(strlen(s.systemd.etcd_sha256), 64);
	assert_false(s.systemd.insecure_skip_checksum);
	assert_string_equal(s.systemd.systemctl, "/bin/systemctl");
	assert_string_equal(s.systemd.unit_path, "/etc/systemd/system/etcd2.service");
	assert_string_equal(s.systemd.env_file, "/etc/etcd/e.env");
	assert_string_equal(s.systemd.etcdctl_env_file, "/etc/etcd/c.env");
	assert_string_equal(s.systemd.bin_dir, "/opt/bin");
	assert_string_equal(s.systemd.cache_dir, "/var/cache/x");
	assert_true(s.op.interval_ms == 60000);
	assert_true(s.op.renew_before_ms == 240ull * 3600 * 1000);
	assert_string_equal(s.op.backup_dir, "/backup");
	assert_true(s.op.backup_interval_ms == 2ull * 3600 * 1000);
	assert_int_equal(s.op.backup_keep, 9);
	ep_spec_release(&s);

	parse_ok("apiVersion: etcdpilot.io/v1alpha1\nkind: EtcdPilotConfiguration\n"
		 "systemd: {etcdBinary: /opt/etcd/etcd, insecureSkipChecksum: true}\n",
		 &s, NULL);
	assert_string_equal(s.systemd.etcd_binary, "/opt/etcd/etcd");
	assert_true(s.systemd.insecure_skip_checksum);
	ep_spec_release(&s);
}

/* kubeadm and etcdpilot documents side by side: equal values are fine. */
static void test_documents_combine(void **state)
{
	(void)state;
	static const char yaml[] = "apiVersion: kubeadm.k8s.io/v1beta4\n"
				   "kind: InitConfiguration\n"
				   "nodeRegistration: {name: cp-1}\n"
				   "---\n"
				   "apiVersion: etcdpilot.io/v1alpha1\n"
				   "kind: EtcdPilotConfiguration\n"
				   "nodeName: cp-1\n"
				   "etcdVersion: 3.5.21\n"
				   "---\n"
				   "apiVersion: kubeadm.k8s.io/v1beta4\n"
				   "kind: ClusterConfiguration\n"
				   "etcd: {local: {imageTag: 3.5.21-0}}\n";
	struct ep_spec s;
	parse_ok(yaml, &s, NULL);
	assert_string_equal(s.name, "cp-1");
	assert_string_equal(s.etcd_version, "3.5.21");
	assert_string_equal(s.image_tag, "3.5.21-0");
	ep_spec_release(&s);
}

static void test_skipped_and_empty_documents(void **state)
{
	(void)state;
	static const char yaml[] = "# only a comment\n"
				   "---\n"
				   "apiVersion: kubelet.config.k8s.io/v1beta1\n"
				   "kind: KubeletConfiguration\n"
				   "cgroupDriver: systemd\n"
				   "---\n"
				   "---\n"
				   "apiVersion: kubeproxy.config.k8s.io/v1alpha1\n"
				   "kind: KubeProxyConfiguration\n"
				   "mode: ipvs\n"
				   "---\n"
				   "apiVersion: kubeadm.k8s.io/v1beta4\n"
				   "kind: ResetConfiguration\n"
				   "force: true\n"
				   "---\n"
				   "apiVersion: kubeadm.k8s.io/v1beta4\n"
				   "kind: UpgradeConfiguration\n"
				   "apply: {etcdUpgrade: true}\n"
				   "...\n";
	struct ep_spec s;
	struct ep_notes notes = {0};
	parse_ok(yaml, &s, &notes);
	assert_int_equal(notes.n, 4);
	assert_string_equal(notes.v[0], "t.yaml:3: skipping KubeletConfiguration (not about etcd)");
	assert_string_equal(notes.v[1],
			    "t.yaml:8: skipping KubeProxyConfiguration (not about etcd)");
	assert_string_equal(notes.v[2], "t.yaml:12: skipping ResetConfiguration (not about etcd)");
	assert_string_equal(notes.v[3],
			    "t.yaml:16: skipping UpgradeConfiguration (not about etcd)");
	assert_null(s.name);
	ep_notes_release(&notes);
	ep_spec_release(&s);

	/* An empty file is no configuration at all. */
	parse_ok("", &s, &notes);
	assert_int_equal(notes.n, 0);
	ep_spec_release(&s);
	/* Notes may be NULL. */
	parse_ok(yaml, &s, NULL);
	ep_spec_release(&s);
}

/* ---- load: flags over file, defaults -------------------------------------- */

static char *write_temp(const char *text)
{
	char *path = strdup("/tmp/test_config.XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_flags_override_file(void **state)
{
	(void)state;
	char *path = write_temp(pilot_full);
	struct ep_overrides ov = {
	    .name = "cp-9",
	    .advertise_address = "10.9.9.9",
	    .mode = "static-pod",
	    .etcd_version = "3.6.6",
	    .image_repository = "flags.example.com",
	    .data_dir = "/flag/data",
	    .cert_dir = "/flag/pki",
	    .manifest_dir = "/flag/manifests",
	    .key_type = "rsa-3072",
	    .timeout = "45s",
	    .etcd_binary = "/flag/etcd",
	    .etcd_sha256 = NULL,
	    .systemctl = "/flag/systemctl",
	    .insecure_skip_checksum = -1,
	};
	struct ep_spec s;
	struct ep_error err;
	ep_spec_init(&s);
	ep_error_clear(&err);
	int r = ep_config_load(&s, path, &ov, NULL, &err);
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(s.name, "cp-9");
	assert_string_equal(s.advertise_address, "10.9.9.9");
	assert_int_equal(s.mode, EP_MODE_STATIC_POD);
	assert_string_equal(s.etcd_version, "3.6.6");
	assert_string_equal(s.image_tag, "3.6.6-0");
	assert_string_equal(s.image_repository, "flags.example.com");
	assert_string_equal(s.data_dir, "/flag/data");
	assert_string_equal(s.cert_dir, "/flag/pki");
	assert_string_equal(s.manifest_dir, "/flag/manifests");
	assert_int_equal(s.key_type, EP_KEY_RSA_3072);
	assert_true(s.timeout_ms == 45000);
	/* --etcd-binary replaces the file's releaseURL: one source of etcd. */
	assert_string_equal(s.systemd.etcd_binary, "/flag/etcd");
	assert_null(s.systemd.release_url);
	assert_string_equal(s.systemd.systemctl, "/flag/systemctl");
	/* What no flag touched stays as the file says. */
	assert_string_equal(s.op.backup_dir, "/backup");
	ep_spec_release(&s);

	/* A --release-url replaces a file's etcdBinary the same way. */
	struct ep_overrides ov2 = {.release_url = "file:///srv/etcd.tar.gz",
				   .insecure_skip_checksum = 1};
	char *path2 = write_temp("apiVersion: etcdpilot.io/v1alpha1\n"
				 "kind: EtcdPilotConfiguration\n"
				 "nodeName: a\nadvertiseAddress: 10.0.0.1\n"
				 "systemd: {etcdBinary: /opt/etcd}\n");
	ep_spec_init(&s);
	r = ep_config_load(&s, path2, &ov2, NULL, &err);
	if (r < 0)
		fail_msg("%s", err.msg);
	assert_null(s.systemd.etcd_binary);
	assert_string_equal(s.systemd.release_url, "file:///srv/etcd.tar.gz");
	assert_true(s.systemd.insecure_skip_checksum);
	ep_spec_release(&s);
	unlink(path);
	unlink(path2);
	free(path);
	free(path2);
}

static void test_defaults(void **state)
{
	(void)state;
	struct ep_overrides ov = {
	    .name = "cp1", .advertise_address = "10.0.0.1", .insecure_skip_checksum = -1};
	struct ep_spec s;
	struct ep_error err;
	ep_spec_init(&s);
	ep_error_clear(&err);
	assert_int_equal(ep_config_load(&s, NULL, &ov, NULL, &err), 0);
	assert_string_equal(s.etcd_version, "3.6.6");
	assert_string_equal(s.image_tag, "3.6.6-0");
	assert_string_equal(s.image_repository, "registry.k8s.io");
	assert_string_equal(s.data_dir, "/var/lib/etcd");
	assert_string_equal(s.cert_dir, "/etc/kubernetes/pki");
	assert_string_equal(s.manifest_dir, "/etc/kubernetes/manifests");
	assert_int_equal(s.mode, EP_MODE_STATIC_POD);
	assert_int_equal(s.key_type, EP_KEY_RSA_2048);
	assert_true(s.cert_validity_s == 8760ull * 3600);
	assert_true(s.ca_cert_validity_s == 87600ull * 3600);
	assert_true(s.timeout_ms == 240000);
	assert_string_equal(s.systemd.systemctl, "systemctl");
	assert_string_equal(s.systemd.unit_path, "/etc/systemd/system/etcd.service");
	assert_string_equal(s.systemd.env_file, "/etc/etcd/etcd.env");
	assert_string_equal(s.systemd.bin_dir, "/usr/local/bin");
	assert_true(s.op.interval_ms == 30000);
	assert_int_equal(s.op.backup_keep, 5);
	assert_false(s.is_join);
	ep_spec_release(&s);

	/* An image tag with a version implies it; one without does not. */
	char *path = write_temp("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
				"etcd: {local: {imageTag: 3.5.21-0}}\n");
	ep_spec_init(&s);
	assert_int_equal(ep_config_load(&s, path, &ov, NULL, &err), 0);
	assert_string_equal(s.etcd_version, "3.5.21");
	assert_string_equal(s.image_tag, "3.5.21-0");
	ep_spec_release(&s);
	unlink(path);
	free(path);
	/* A tag that names no version cannot decide the flags: refused, unless the version is given. */
	path = write_temp("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
			  "etcd: {local: {imageTag: custom-build}}\n");
	ep_spec_init(&s);
	ep_error_clear(&err);
	assert_int_equal(ep_config_load(&s, path, &ov, NULL, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "'custom-build' does not say which etcd version"));
	char where[600];
	snprintf(where, sizeof(where), "%s:3:26: etcd.local.imageTag: 'custom-build'", path);
	if (strncmp(err.msg, where, strlen(where)))
		fail_msg("got '%s', want it to start with '%s'", err.msg, where);
	assert_non_null(strstr(err.msg, "--etcd-version"));
	ep_spec_release(&s);
	struct ep_overrides with_version = ov;
	with_version.etcd_version = "3.5.21";
	ep_spec_init(&s);
	assert_int_equal(ep_config_load(&s, path, &with_version, NULL, &err), 0);
	assert_string_equal(s.etcd_version, "3.5.21");
	assert_string_equal(s.image_tag, "custom-build");
	ep_spec_release(&s);
	unlink(path);
	free(path);

	/* kubernetesVersion picks the etcd kubeadm runs with that release. */
	static const struct {
		const char *kube, *etcd;
	} kv[] = {
		{ "v1.35.0", "3.6.6" }, { "v1.34.2", "3.6.5" }, { "v1.33.5", "3.5.24" },
		{ "v1.31.0", "3.5.24" }, { "v1.22.1", "3.5.24" }, { "v1.21.14", "3.4.13" },
		{ "v1.17.0", "3.4.3" },  { "stable-1", "3.6.6" }, { "v1.40.0", "3.6.6" },
		{ "v1.18.20", "3.4.3" }, { "v1.19.0", "3.4.13" }, { "v1.29.0", "3.5.24" },
		{ "1.35.0-rc.1", "3.6.6" },
	};
	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		char doc[256];
		snprintf(doc, sizeof(doc),
			 "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
			 "kubernetesVersion: %s\n",
			 kv[i].kube);
		char *kpath = write_temp(doc);
		ep_spec_init(&s);
		assert_int_equal(ep_config_load(&s, kpath, &ov, NULL, &err), 0);
		if (strcmp(s.etcd_version, kv[i].etcd))
			fail_msg("kubernetesVersion %s: etcd %s, want %s", kv[i].kube,
				 s.etcd_version, kv[i].etcd);
		ep_spec_release(&s);
		unlink(kpath);
		free(kpath);
	}
	path = write_temp("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
			  "kubernetesVersion: v1.16.15\n");
	ep_spec_init(&s);
	ep_error_clear(&err);
	assert_int_equal(ep_config_load(&s, path, &ov, NULL, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "kubernetesVersion: 'v1.16.15' ran etcd 3.3 or older"));
	snprintf(where, sizeof(where), "%s:3:20: kubernetesVersion: 'v1.16.15'", path);
	if (strncmp(err.msg, where, strlen(where)))
		fail_msg("got '%s', want it to start with '%s'", err.msg, where);
	ep_spec_release(&s);
	unlink(path);
	free(path);
}

static void test_load_file_errors(void **state)
{
	(void)state;
	struct ep_overrides ov = {.insecure_skip_checksum = -1};
	struct ep_spec s;
	struct ep_error err;
	ep_spec_init(&s);
	ep_error_clear(&err);
	assert_int_equal(ep_config_load(&s, "/nonexistent/etcdpilot.yaml", &ov, NULL, &err),
			 -ENOENT);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_string_equal(err.msg, "/nonexistent/etcdpilot.yaml: cannot open the config file: "
				     "No such file or directory");
	ep_spec_release(&s);
	ep_spec_init(&s);
	ep_error_clear(&err);
	assert_int_equal(ep_config_load(&s, "/", &ov, NULL, &err), -EISDIR);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	ep_spec_release(&s);
}

/* ---- malformed input ------------------------------------------------------ */

#define V4C "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
#define V4I "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n"
#define V3C "apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n"
#define EPC "apiVersion: etcdpilot.io/v1alpha1\nkind: EtcdPilotConfiguration\n"

static const struct bad_case {
	const char *yaml;
	const char *prefix; /* the exact start of the message */
} bad_cases[] = {
    /* 1 syntax */
    {V4C "etcd:\n  local: {dataDir: /x\n", "t.yaml:5:1: yaml: "},
    {V4C "etcd:\n local:\n   dataDir: /x\n  bad: 1\n", "t.yaml:6:3: yaml: "},
    {"apiVersion: \"unterminated\n", "t.yaml:2:1: yaml: "},
    {V4C "a: *nowhere\n", "t.yaml:3:4: yaml: "},
    /* 5 documents */
    {"- a\n- b\n", "t.yaml:1:1: document: expected a map with apiVersion and kind, got a list"},
    {"kind: ClusterConfiguration\n", "t.yaml:1:1: apiVersion: missing"},
    {"apiVersion: kubeadm.k8s.io/v1beta4\n", "t.yaml:1:1: kind: missing"},
    {"apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\n",
     "t.yaml:1:13: apiVersion: 'kubeadm.k8s.io/v1beta2' is not supported"},
    {"apiVersion: kubeadm.k8s.io/v1beta4\nkind: NodeConfiguration\n",
     "t.yaml:2:7: kind: unknown kind 'NodeConfiguration'"},
    {"apiVersion: kubeadm.k8s.io/v1beta3\nkind: ResetConfiguration\n",
     "t.yaml:2:7: kind: unknown kind 'ResetConfiguration' in kubeadm.k8s.io/v1beta3"},
    {"apiVersion: v1\nkind: Pod\n", "t.yaml:2:7: kind: unknown apiVersion/kind 'v1' Pod"},
    {"apiVersion: etcdpilot.io/v1alpha1\nkind: Etcd\n", "t.yaml:2:7: kind: unknown kind 'Etcd'"},
    {"apiVersion: [a]\nkind: X\n", "t.yaml:1:13: apiVersion: expected a string, got a list"},
    {V4C "---\n" V4C,
     "t.yaml:4:1: kind: a second ClusterConfiguration (the first starts at line 1"},
    {V4I "---\napiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n",
     "t.yaml:5:7: kind: InitConfiguration (line 1) and JoinConfiguration (line 4) in one file"},
    /* 16 unknown fields */
    {V4C "bogus: 1\n", "t.yaml:3:1: bogus: unknown field (ClusterConfiguration has: etcd, "},
    {V4C "etcd:\n  local:\n    dataDirectory: /x\n",
     "t.yaml:5:5: etcd.local.dataDirectory: unknown field (etcd.local of ClusterConfiguration "
     "has: imageRepository, "},
    {V4C "etcd:\n  local:\n    datadir: /x\n",
     "t.yaml:5:5: etcd.local.datadir: unknown field (did you mean 'dataDir'?)"},
    {V3C "encryptionAlgorithm: RSA-2048\n",
     "t.yaml:3:1: encryptionAlgorithm: unknown field in kubeadm.k8s.io/v1beta3 "
     "ClusterConfiguration (encryptionAlgorithm only exists in kubeadm.k8s.io/v1beta4)"},
    {V3C "etcd:\n  local:\n    extraEnvs: []\n",
     "t.yaml:5:5: etcd.local.extraEnvs: unknown field in kubeadm.k8s.io/v1beta3"},
    {V4I "nodeRegistration:\n  hostname: x\n",
     "t.yaml:4:3: nodeRegistration.hostname: unknown field"},
    {V4I "metadata: {name: x}\n", "t.yaml:3:1: metadata: unknown field"},
    {EPC "systemd:\n  etcdBin: /x\n", "t.yaml:4:3: systemd.etcdBin: unknown field"},
    {V4C "<<: {a: 1}\n", "t.yaml:3:1: <<: YAML merge keys are not supported"},
    /* 25 duplicate keys */
    {V4C "etcd:\n  local:\n    dataDir: /a\n    dataDir: /b\n",
     "t.yaml:6:5: etcd.local.dataDir: duplicate key (first given at line 5, column 5)"},
    {V4C "networking:\n  podSubnet: a\n  podSubnet: b\n",
     "t.yaml:5:3: networking.podSubnet: duplicate key (first given at line 4, column 3)"},
    {V4C "kind: ClusterConfiguration\n", "t.yaml:3:1: kind: duplicate key"},
    {V3C "etcd:\n  local:\n    extraArgs:\n      a: 1\n      a: 2\n",
     "t.yaml:7:7: etcd.local.extraArgs.a: duplicate key"},
    /* 29 wrong types */
    {V4C "etcd:\n  local:\n    dataDir: {a: b}\n",
     "t.yaml:5:14: etcd.local.dataDir: expected a string, got a map"},
    {V4C "etcd:\n  local:\n    serverCertSANs: etcd.example.com\n",
     "t.yaml:5:21: etcd.local.serverCertSANs: expected a list, got a string"},
    {V4C "etcd: [local]\n", "t.yaml:3:7: etcd: expected a map, got a list"},
    {V4C "etcd:\n  local:\n    extraArgs:\n      snapshot-count: \"5\"\n",
     "t.yaml:6:7: etcd.local.extraArgs: expected a list of {name, value} in "
     "kubeadm.k8s.io/v1beta4, got a map"},
    {V3C "etcd:\n  local:\n    extraArgs:\n    - name: a\n",
     "t.yaml:6:5: etcd.local.extraArgs: expected a map of flag name to value in "
     "kubeadm.k8s.io/v1beta3, got a list"},
    {V4C "etcd:\n  local:\n    extraArgs:\n    - name: [a]\n",
     "t.yaml:6:13: etcd.local.extraArgs[0].name: expected a string, got a list"},
    {EPC "systemd:\n  insecureSkipChecksum: yes please\n",
     "t.yaml:4:25: systemd.insecureSkipChecksum: 'yes please' is not a boolean (true or false)"},
    {EPC "operator:\n  backupKeep: many\n",
     "t.yaml:4:15: operator.backupKeep: 'many' is not a whole number"},
    {EPC "operator:\n  backupKeep: 0\n", "t.yaml:4:15: operator.backupKeep: 0 is out of range"},
    {V4I "nodeRegistration: cp-1\n", "t.yaml:3:19: nodeRegistration: expected a map, got a string"},
    /* 39 extraArgs and extraEnvs */
    {V4C "etcd:\n  local:\n    extraArgs:\n    - name: snapshot-count\n      value: \"1\"\n"
	 "    - name: --listen-peer-urls\n      value: x\n",
     "t.yaml:8:13: etcd.local.extraArgs[1].name: '--listen-peer-urls' starts with a dash"},
    {V4C "etcd:\n  local:\n    extraArgs:\n    - name: a=b\n",
     "t.yaml:6:13: etcd.local.extraArgs[0].name: 'a=b' contains '='"},
    {V4C "etcd:\n  local:\n    extraArgs:\n    - value: b\n",
     "t.yaml:6:7: etcd.local.extraArgs[0].name: missing (every entry needs a name)"},
    {V4C "etcd:\n  local:\n    extraArgs:\n    - name: a\n      valu: b\n",
     "t.yaml:7:7: etcd.local.extraArgs[0].valu: unknown field"},
    {V3C "etcd:\n  local:\n    extraArgs:\n      -snapshot-count: 1\n",
     "t.yaml:6:7: etcd.local.extraArgs.-snapshot-count: '-snapshot-count' starts with a dash"},
    {V4C "etcd:\n  local:\n    extraEnvs:\n    - name: TOKEN\n      valueFrom:\n"
	 "        secretKeyRef: {name: s, key: k}\n",
     "t.yaml:8:9: etcd.local.extraEnvs[0].valueFrom.secretKeyRef: a static pod cannot take "
     "values from ConfigMaps or Secrets"},
    {V4C "etcd:\n  local:\n    extraEnvs:\n    - name: 1BAD\n      value: x\n",
     "t.yaml:6:13: etcd.local.extraEnvs[0].name: '1BAD' is not a valid environment variable "
     "name"},
    /* 46 bad values */
    {V4I "localAPIEndpoint:\n  advertiseAddress: 10.0.0.256\n",
     "t.yaml:4:21: localAPIEndpoint.advertiseAddress: '10.0.0.256' is not an IP address"},
    {"apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\ncontrolPlane:\n"
     "  localAPIEndpoint:\n    advertiseAddress: cp-2.example.com\n",
     "t.yaml:5:23: controlPlane.localAPIEndpoint.advertiseAddress: 'cp-2.example.com' is not "
     "an IP address"},
    {V4I "nodeRegistration:\n  name: Bad_Name\n",
     "t.yaml:4:9: nodeRegistration.name: 'Bad_Name' is not a valid node name (lowercase RFC "
     "1123: a-z, 0-9, '-', '.')"},
    {EPC "nodeName: -cp\n", "t.yaml:3:11: nodeName: '-cp' is not a valid node name"},
    {V4C "etcd:\n  local:\n    serverCertSANs: [ok.example.com, \"bad name\"]\n",
     "t.yaml:5:38: etcd.local.serverCertSANs[1]: 'bad name' is not a valid SAN"},
    {V4C "etcd:\n  local:\n    peerCertSANs:\n    - \"*\"\n",
     "t.yaml:6:7: etcd.local.peerCertSANs[0]: '*' is not a valid SAN"},
    {V4C "certificateValidityPeriod: 1y\n",
     "t.yaml:3:28: certificateValidityPeriod: '1y' is not a duration (Go syntax"},
    {V4C "caCertificateValidityPeriod: -87600h\n",
     "t.yaml:3:30: caCertificateValidityPeriod: duration '-87600h' is negative"},
    {V4C "certificateValidityPeriod: 0s\n",
     "t.yaml:3:28: certificateValidityPeriod: duration '0s' is too short (at least 1s)"},
    {V4I "timeouts:\n  controlPlaneComponentHealthCheck: 4\n",
     "t.yaml:4:37: timeouts.controlPlaneComponentHealthCheck: '4' is not a duration"},
    {EPC "operator:\n  renewBefore: 30s\n",
     "t.yaml:4:16: operator.renewBefore: duration '30s' is too short (at least 1m0s)"},
    {V4C "encryptionAlgorithm: DSA-1024\n",
     "t.yaml:3:22: encryptionAlgorithm: unknown key type 'DSA-1024' (RSA-2048, RSA-3072, "
     "RSA-4096, ECDSA-P256 or ECDSA-P384)"},
    {EPC "mode: docker\n", "t.yaml:3:7: mode: unknown mode 'docker' (static-pod or systemd)"},
    {EPC "etcdVersion: 3.6\n", "t.yaml:3:14: etcdVersion: '3.6' is not an etcd version (X.Y.Z"},
    {V4C "etcd:\n  local:\n    imageTag: \"3.6.6:0\"\n",
     "t.yaml:5:15: etcd.local.imageTag: '3.6.6:0' is not an image tag"},
    {V4C "etcd:\n  local:\n    dataDir: var/lib/etcd\n",
     "t.yaml:5:14: etcd.local.dataDir: 'var/lib/etcd' is not an absolute path"},
    {V4C "imageRepository: \"registry.k8s.io/\"\n",
     "t.yaml:3:18: imageRepository: 'registry.k8s.io/' is not an image repository"},
    {EPC "systemd:\n  releaseURL: ftp://example.com/etcd.tgz\n",
     "t.yaml:4:15: systemd.releaseURL: 'ftp://example.com/etcd.tgz' is not a release URL"},
    {EPC "systemd:\n  etcdSHA256: abc\n",
     "t.yaml:4:15: systemd.etcdSHA256: 'abc' is not a SHA-256 digest (64 hexadecimal digits)"},
    {V4C "etcd:\n  external:\n    endpoints: [10.0.0.1:2379]\n",
     "t.yaml:5:17: etcd.external.endpoints[0]: '10.0.0.1:2379' is not an etcd endpoint"},
    {V4C "etcd:\n  external:\n    caFile: ca.crt\n",
     "t.yaml:5:13: etcd.external.caFile: 'ca.crt' is not an absolute path"},
    {V4C "etcd:\n  local:\n    dataDir: \"/a\\0b\"\n",
     "t.yaml:5:14: etcd.local.dataDir: contains a NUL character"},
    /* 68 conflicts */
    {V4C "etcd:\n  local: {dataDir: /x}\n  external:\n    endpoints: [https://a:2379]\n",
     "t.yaml:5:3: etcd.external: cannot be combined with etcd.local (at line 4; local and "
     "external are mutually exclusive)"},
    {EPC "systemd:\n  etcdBinary: /opt/etcd\n  releaseURL: https://example.com/e.tgz\n",
     "t.yaml:5:15: systemd.releaseURL: cannot be combined with systemd.etcdBinary at line 4"},
    {EPC "systemd:\n  insecureSkipChecksum: true\n  etcdSHA256: "
	 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
     "t.yaml:4:25: systemd.insecureSkipChecksum: true contradicts systemd.etcdSHA256 at line 5"},
    {EPC "etcdVersion: 3.6.6\n---\n" V4C "etcd: {local: {imageTag: 3.5.21-0}}\n",
     "t.yaml:3:14: etcdVersion: '3.6.6' contradicts etcd.local.imageTag '3.5.21-0' at line 7, "
     "column 26 (which runs etcd 3.5.21; drop one of them)"},
    {V4I "nodeRegistration: {name: cp-1}\n---\n" EPC "nodeName: cp-2\n",
     "t.yaml:7:11: nodeName: 'cp-2' contradicts 'cp-1' given at line 3, column 26 "
     "(nodeRegistration.name); give it once"},
    {V4C "encryptionAlgorithm: RSA-2048\n---\n" EPC "keyType: ECDSA-P256\n",
     "t.yaml:7:10: keyType: 'ECDSA-P256' contradicts 'RSA-2048' given at line 3, column 22"},
    {V4I "timeouts: {controlPlaneComponentHealthCheck: 5s}\n",
     "t.yaml:3:46: timeouts.controlPlaneComponentHealthCheck: duration '5s' is too short (at "
     "least 10s)"},
    /* 75 a value with a newline is reported on one line */
    {V4I "nodeRegistration:\n  name: \"a\\nb\\tc\"\n",
     "t.yaml:4:9: nodeRegistration.name: 'a?b?c' is not a valid node name"},
    /* 76 depth */
    {V4C "networking: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"
	 "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
     "t.yaml:3:76: yaml: nested more than 64 levels deep (a configuration is a few levels "
     "deep)"},
    /* 77 a tab gets a sentence, not libyaml's "cannot start any token" */
    {V4C "etcd:\n\tlocal: {}\n", "t.yaml:4:1: yaml: a tab character where YAML allows only "
				   "spaces (YAML indents with spaces; replace the tab with spaces)"},
    {V4C "etcd:\n  local:\n    extraArgs:\n    -\tname: a\n",
     "t.yaml:6:6: yaml: a tab character where YAML allows only spaces"},
    /* 79 anchors */
    {V4C "a: &x 1\nb: &x 2\n", "t.yaml:4:4: yaml: second occurrence (found duplicate anchor; "
				"first occurrence at line 3, column 4)"},
};

static void test_malformed(void **state)
{
	(void)state;
	size_t failures = 0;
	assert_true(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 30);
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct ep_spec s;
		struct ep_error err;
		struct ep_notes notes = {0};
		int r = parse(bad_cases[i].yaml, &s, &notes, &err);
		if (getenv("EP_TEST_VERBOSE"))
			print_message("case %zu: %s\n", i + 1, err.msg);
		/* Report every case that is off, not just the first. */
		if (r >= 0) {
			print_message("case %zu: accepted, wanted '%s'\n", i + 1,
				      bad_cases[i].prefix);
			failures++;
		} else if (err.kind != EP_ERR_USAGE) {
			print_message("case %zu: kind %d: %s\n", i + 1, err.kind, err.msg);
			failures++;
		} else if (strncmp(err.msg, bad_cases[i].prefix, strlen(bad_cases[i].prefix)) !=
			   0) {
			print_message("case %zu:\n  got: %s\n want: %s...\n", i + 1, err.msg,
				      bad_cases[i].prefix);
			failures++;
		}
		ep_notes_release(&notes);
		ep_spec_release(&s);
	}
	assert_int_equal(failures, 0);
}

/*
 * Deep nesting is refused while parsing, before the scanner's per-token
 * cost (which grows with the depth) adds up: 4 MiB of '[' (just under the
 * size limit) used to run for minutes.  Each shape of nesting, through the
 * file loader too.
 */
static void test_deep_nesting(void **state)
{
	(void)state;
	static const struct {
		const char *key, *open;
		const char *prefix;
	} shapes[] = {
	    {"networking: ", "[", "t.yaml:3:76: yaml: nested more than 64 levels deep"},
	    {"networking: ", "{a: ", "t.yaml:3:265: yaml: nested more than 64 levels deep"},
	    {"networking:\n", "- ", "t.yaml:4:127: yaml: nested more than 64 levels deep"},
	};
	size_t size = (4u << 20) - 1; /* the largest config file that is read */
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		char *yaml = malloc(size + 1);
		assert_non_null(yaml);
		size_t n = snprintf(yaml, size, V4C "%s", shapes[i].key);
		size_t step = strlen(shapes[i].open);
		while (n + step < size) {
			memcpy(yaml + n, shapes[i].open, step);
			n += step;
		}
		yaml[n] = '\0';
		struct ep_spec s;
		struct ep_error err;
		assert_true(parse(yaml, &s, NULL, &err) < 0);
		assert_int_equal(err.kind, EP_ERR_USAGE);
		if (strncmp(err.msg, shapes[i].prefix, strlen(shapes[i].prefix)))
			fail_msg("shape '%s': got '%s', want '%s...'", shapes[i].open, err.msg,
				 shapes[i].prefix);
		ep_spec_release(&s);
		if (i == 0) {
			char *path = write_temp(yaml);
			struct ep_overrides ov = {.insecure_skip_checksum = -1};
			ep_spec_init(&s);
			ep_error_clear(&err);
			assert_int_equal(ep_config_load(&s, path, &ov, NULL, &err), -EINVAL);
			assert_int_equal(err.kind, EP_ERR_USAGE);
			assert_non_null(strstr(err.msg, ":3:76: yaml: nested more than 64 levels deep"));
			ep_spec_release(&s);
			unlink(path);
			free(path);
		}
		free(yaml);
	}
	/* 64 levels are fine: the limit is not off by one. */
	char ok[512];
	size_t n = snprintf(ok, sizeof(ok), V4C "networking: ");
	for (int d = 0; d < 63; d++)
		ok[n++] = '[';
	for (int d = 0; d < 63; d++)
		ok[n++] = ']';
	ok[n++] = '\n';
	ok[n] = '\0';
	struct ep_spec s;
	parse_ok(ok, &s, NULL);
	ep_spec_release(&s);
}

/*
 * Load @yaml (may be NULL) with @ov over it as a user would; the temp
 * file's name is replaced by "t.yaml" in the message.
 */
static int load_as(const char *yaml, struct ep_overrides ov, struct ep_spec *s,
		   struct ep_error *err)
{
	char *path = yaml ? write_temp(yaml) : NULL;
	ov.insecure_skip_checksum = -1;
	ep_spec_init(s);
	ep_error_clear(err);
	int r = ep_config_load(s, path, &ov, NULL, err);
	if (path) {
		char *at;
		while ((at = strstr(err->msg, path))) {
			size_t pl = strlen(path);
			memcpy(at, "t.yaml", 6);
			memmove(at + 6, at + pl, strlen(at + pl) + 1);
		}
		unlink(path);
		free(path);
	}
	return r;
}

#define LOCAL(args) V4C "etcd:\n  local:\n    serverCertSANs: [etcd.example.com]\n" \
		    "    extraArgs:\n" args

/*
 * extraArgs that name what etcdpilot derives: followed or refused, with
 * the entry's FILE:LINE:COL and what to do (issue: an extraArgs data-dir
 * put etcd's data outside the mounted volume).
 */
static void test_extra_args_rules(void **state)
{
	(void)state;
	static const struct {
		const char *yaml;
		const char *data_dir; /* --data-dir */
		const char *msg;      /* NULL: accepted */
	} cases[] = {
	    /* 0 data-dir */
	    {V4C "etcd:\n  local:\n    dataDir: /data/etcd\n    extraArgs:\n"
		 "    - name: data-dir\n      value: /elsewhere\n",
	     NULL,
	     "t.yaml:7:13: etcd.local.extraArgs[0]: --data-dir='/elsewhere' contradicts the data "
	     "directory '/data/etcd' (t.yaml:5:14: etcd.local.dataDir): etcd would keep its data "
	     "outside the etcd-data volume"},
	    {LOCAL("    - name: data-dir\n      value: /elsewhere\n"), "/var/lib/etcd",
	     "t.yaml:7:13: etcd.local.extraArgs[0]: --data-dir='/elsewhere' contradicts the data "
	     "directory '/var/lib/etcd' (--data-dir)"},
	    {LOCAL("    - name: data-dir\n      value: /var/lib/etcd\n"), "/var/lib/etcd", NULL},
	    {LOCAL("    - name: data-dir\n      value: /a\n    - name: data-dir\n      value: /b\n"),
	     NULL, "t.yaml:9:13: etcd.local.extraArgs[1]: --data-dir='/b' contradicts the earlier "
		   "entry --data-dir='/a' at t.yaml:7:13: etcd.local.extraArgs[0]; give it once"},
	    {LOCAL("    - name: data-dir\n      value: /etc/kubernetes/pki/data\n"), NULL,
	     "t.yaml:7:13: etcd.local.extraArgs[0] (extraArgs data-dir): '/etc/kubernetes/pki/data' "
	     "is inside certificatesDir '/etc/kubernetes/pki'"},
	    /* 5 name */
	    {LOCAL("    - name: name\n      value: other\n"), NULL,
	     "t.yaml:7:13: etcd.local.extraArgs[0]: --name='other' contradicts the node name 'cp1'"},
	    {LOCAL("    - name: name\n      value: cp1\n"), NULL, NULL},
	    /* 7 URLs */
	    {LOCAL("    - name: advertise-client-urls\n      value: https://etcd.example.com:2379\n"),
	     NULL, NULL},
	    {LOCAL("    - name: advertise-client-urls\n      value: https://10.0.0.99:2379\n"),
	     NULL,
	     "t.yaml:7:13: etcd.local.extraArgs[0]: --advertise-client-urls: '10.0.0.99' is not "
	     "among the SANs of the server certificate, so clients that verify it would refuse "
	     "the member; add it to etcd.local.serverCertSANs"},
	    {LOCAL("    - name: initial-advertise-peer-urls\n      value: https://224.0.0.1:2380\n"),
	     NULL,
	     "t.yaml:7:13: etcd.local.extraArgs[0]: --initial-advertise-peer-urls: '224.0.0.1' is "
	     "a multicast address"},
	    {LOCAL("    - name: listen-client-urls\n      value: https://10.0.0.11:2379\n"), NULL,
	     "t.yaml:7:13: etcd.local.extraArgs[0]: --listen-client-urls 'https://10.0.0.11:2379' "
	     "has no https URL on the loopback address"},
	    {LOCAL("    - name: listen-client-urls\n      value: https://0.0.0.0:2379\n"), NULL,
	     NULL},
	    {LOCAL("    - name: listen-peer-urls\n      value: https://peer.example.com:2380\n"),
	     NULL,
	     "t.yaml:7:13: etcd.local.extraArgs[0]: --listen-peer-urls: 'peer.example.com' is not "
	     "an IP address, and etcd listens on IP addresses only"},
	    {LOCAL("    - name: listen-metrics-urls\n      value: ftp://127.0.0.1:2381\n"), NULL,
	     "t.yaml:7:13: etcd.local.extraArgs[0]: --listen-metrics-urls: 'ftp://127.0.0.1:2381' "
	     "is not an http:// or https:// URL"},
	    {LOCAL("    - name: listen-metrics-urls\n      value: HTTP://0.0.0.0:2381\n"), NULL,
	     NULL},
	    /* 15 certificates, initial-cluster */
	    {LOCAL("    - name: trusted-ca-file\n      value: /etc/kubernetes/pki/etcd/other-ca.crt\n"),
	     NULL, NULL},
	    {LOCAL("    - name: cert-file\n      value: /etc/ssl/etcd.crt\n"), NULL,
	     "t.yaml:7:13: etcd.local.extraArgs[0]: --cert-file='/etc/ssl/etcd.crt' is not a file "
	     "in /etc/kubernetes/pki/etcd, the certificate directory etcd is given (the etcd-certs "
	     "volume)"},
	    {LOCAL("    - name: initial-cluster-state\n      value: existing\n"), NULL,
	     "t.yaml:7:13: etcd.local.extraArgs[0]: --initial-cluster-state is etcdpilot's to set"},
	    /* 18 names and values, v1beta3 positions */
	    {LOCAL("    - name: a/b\n      value: x\n"), NULL,
	     "t.yaml:7:13: etcd.local.extraArgs[0].name: 'a/b' is not an etcd flag name"},
	    {LOCAL("    - name: log-level\n      value: \"info\\ndebug\"\n"), NULL,
	     "t.yaml:8:14: etcd.local.extraArgs[0]: --log-level: the value holds a newline"},
	    {V3C "etcd:\n  local:\n    extraArgs:\n      name: other\n", NULL,
	     "t.yaml:6:7: etcd.local.extraArgs.name: --name='other' contradicts the node name"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ep_spec s;
		struct ep_error err;
		struct ep_overrides ov = {.name = "cp1", .advertise_address = "10.0.0.11",
					  .data_dir = cases[i].data_dir};
		int r = load_as(cases[i].yaml, ov, &s, &err);
		if (!cases[i].msg && r < 0)
			fail_msg("case %zu: unexpected error: %s", i, err.msg);
		if (cases[i].msg &&
		    (r >= 0 || err.kind != EP_ERR_USAGE ||
		     strncmp(err.msg, cases[i].msg, strlen(cases[i].msg))))
			fail_msg("case %zu: r=%d\n got: %s\nwant: %s...", i, r, err.msg,
				 cases[i].msg);
		ep_spec_release(&s);
	}

	/* An extraArgs data-dir alone is the data dir: the volume and everything else follow. */
	struct ep_spec s;
	struct ep_error err;
	struct ep_overrides ov = {.name = "cp1", .advertise_address = "10.0.0.11"};
	assert_int_equal(load_as(LOCAL("    - name: data-dir\n      value: /srv/etcd\n"), ov, &s,
				 &err),
			 0);
	assert_string_equal(s.data_dir, "/srv/etcd");
	char at[512];
	assert_non_null(strstr(ep_origin_at(ep_spec_origin(&s, "dataDir"), "", at, sizeof(at)),
			       ":7:13: etcd.local.extraArgs[0] (extraArgs data-dir)"));
	assert_int_equal(ep_spec_origin(&s, "dataDir")->kind, EP_ORIGIN_DERIVED);
	ep_spec_release(&s);
}

/* Addresses no member can reach are refused wherever they are given. */
static void test_advertise_address(void **state)
{
	(void)state;
	static const struct {
		const char *addr, *why;
	} bad[] = {
	    {"0.0.0.0", "the unspecified address"},  {"::", "the unspecified address"},
	    {"255.255.255.255", "the broadcast address"}, {"224.0.0.1", "a multicast address"},
	    {"ff02::1", "a multicast address"},        {"::ffff:0.0.0.0", "the unspecified address"},
	    {"0.1.2.3", "in 0.0.0.0/8 ('this network', never a destination)"},               {"240.0.0.1", "a reserved address (240.0.0.0/4)"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ep_spec s;
		struct ep_error err;
		char want[256], yaml[256];
		struct ep_overrides ov = {.name = "cp1", .advertise_address = bad[i].addr};
		assert_true(load_as(NULL, ov, &s, &err) < 0);
		snprintf(want, sizeof(want), "--advertise-address: '%s' is %s, which no other member",
			 bad[i].addr, bad[i].why);
		if (err.kind != EP_ERR_USAGE || strncmp(err.msg, want, strlen(want)))
			fail_msg("flag %s: got '%s'", bad[i].addr, err.msg);
		ep_spec_release(&s);
		snprintf(yaml, sizeof(yaml), V4I "localAPIEndpoint:\n  advertiseAddress: \"%s\"\n",
			 bad[i].addr);
		ov.advertise_address = NULL;
		assert_true(load_as(yaml, ov, &s, &err) < 0);
		snprintf(want, sizeof(want), "t.yaml:4:21: localAPIEndpoint.advertiseAddress: '%s' is %s",
			 bad[i].addr, bad[i].why);
		if (err.kind != EP_ERR_USAGE || strncmp(err.msg, want, strlen(want)))
			fail_msg("config %s: got '%s'", bad[i].addr, err.msg);
		ep_spec_release(&s);
	}
	/* An IPv4-mapped IPv6 address is the IPv4 address it maps. */
	struct ep_spec s;
	struct ep_error err;
	struct ep_overrides ov = {.name = "cp1", .advertise_address = "::ffff:10.0.0.11"};
	assert_int_equal(load_as(NULL, ov, &s, &err), 0);
	assert_string_equal(s.advertise_address, "10.0.0.11");
	ep_spec_release(&s);
}

/* The data dir: one printable line, sharing no directory with the certs or manifests. */
static void test_data_dir(void **state)
{
	(void)state;
	static const struct {
		struct ep_overrides ov;
		const char *msg;
	} cases[] = {
	    {{.data_dir = "/var/lib/etcd\nx"},
	     "--data-dir: '/var/lib/etcd?x' contains a newline (a path is one line of printable "
	     "characters)"},
	    {{.data_dir = "/etc/kubernetes/pki"},
	     "--data-dir: '/etc/kubernetes/pki' is certificatesDir '/etc/kubernetes/pki': etcd's "
	     "data and the certificates and keys must not share a directory"},
	    {{.data_dir = "/etc/kubernetes/pki/etcd/"},
	     "--data-dir: '/etc/kubernetes/pki/etcd/' is inside certificatesDir"},
	    {{.data_dir = "/etc/kubernetes//manifests/./etcd"},
	     "--data-dir: '/etc/kubernetes//manifests/./etcd' is inside manifestDir "
	     "'/etc/kubernetes/manifests'"},
	    {{.data_dir = "/srv", .cert_dir = "/srv/pki"},
	     "--data-dir: '/srv' contains certificatesDir '/srv/pki'"},
	    {{.manifest_dir = "/var/lib/etcd/manifests"},
	     "dataDir: '/var/lib/etcd' contains manifestDir '/var/lib/etcd/manifests'"},
	    {{.data_dir = "/etc/kubernetes/pki-data"}, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ep_spec s;
		struct ep_error err;
		struct ep_overrides ov = cases[i].ov;
		ov.name = "cp1";
		ov.advertise_address = "10.0.0.1";
		int r = load_as(NULL, ov, &s, &err);
		if (!cases[i].msg ? r < 0
				  : r >= 0 || err.kind != EP_ERR_USAGE ||
					strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)))
			fail_msg("case %zu: r=%d got '%s', want '%s'", i, r, err.msg,
				 cases[i].msg ? cases[i].msg : "(accepted)");
		ep_spec_release(&s);
	}
}

/* init refuses what would bootstrap a second cluster or is no local member. */
static void test_check_init(void **state)
{
	(void)state;
	struct ep_spec s;
	struct ep_error err;
	struct ep_overrides ov = {0};
	assert_int_equal(load_as("apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n"
				 "nodeRegistration: {name: cp-2}\ncontrolPlane:\n"
				 "  localAPIEndpoint: {advertiseAddress: 10.0.0.12}\n",
				 ov, &s, &err),
			 0);
	ep_error_clear(&err);
	assert_int_equal(ep_spec_check_init(&s, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_true(!strncmp(err.msg, "t.yaml:2:7: kind: a JoinConfiguration is for a node that joins "
			     "an existing cluster, but 'etcdpilot init' bootstraps a new one",
			     60) ||
		    strstr(err.msg, ":2:7: kind: a JoinConfiguration is for a node that joins"));
	assert_non_null(strstr(err.msg, "Join with 'etcdpilot join ENDPOINT --config FILE'"));
	ep_spec_release(&s);

	ov.name = "cp1";
	ov.advertise_address = "10.0.0.1";
	assert_int_equal(load_as(V4C "etcd:\n  external:\n    endpoints: [https://10.0.0.5:2379]\n",
				 ov, &s, &err),
			 0);
	ep_error_clear(&err);
	assert_int_equal(ep_spec_check_init(&s, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, ":4:3: etcd.external: etcd.external names an etcd cluster "
					"that runs elsewhere, and etcdpilot manages only the member "
					"on this node"));
	ep_spec_release(&s);

	assert_int_equal(load_as(V4C "etcd: {local: {dataDir: /var/lib/etcd}}\n", ov, &s, &err), 0);
	assert_int_equal(ep_spec_check_init(&s, &err), 0);
	ep_spec_release(&s);
}

/*
 * What etcdpilot does not do yet is refused where it is asked for, never
 * ignored: kubeadm patches for the etcd pod (kubeadm's file naming, in
 * sub-directories too), RootlessControlPlane.  A v1beta3-only field in a
 * v1beta4 file gets a warning naming its v1beta4 place.
 */
static void test_kubeadm_features(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_config_patches.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[512], yaml[1024];
	snprintf(path, sizeof(path), "%s/kube-apiserver+json.json", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("[]\n", f);
	fclose(f);
	snprintf(yaml, sizeof(yaml), V4I "patches:\n  directory: %s\n", dir);
	struct ep_spec s;
	struct ep_error err;
	struct ep_overrides ov = {.name = "cp1", .advertise_address = "10.0.0.1"};
	assert_int_equal(load_as(yaml, ov, &s, &err), 0); /* other components' patches: fine */
	ep_spec_release(&s);
	static const char *const names[] = {"etcd.yaml", "etcd0+merge.yaml", "etcdsuffix+json.json",
					    "sub/etcd+strategic.json"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/sub", dir);
		mkdir(path, 0755);
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		f = fopen(path, "w");
		assert_non_null(f);
		fputs("{}\n", f);
		fclose(f);
		assert_int_equal(load_as(yaml, ov, &s, &err), -EOPNOTSUPP);
		assert_int_equal(err.kind, EP_ERR_USAGE);
		char want[700];
		snprintf(want, sizeof(want),
			 "t.yaml:4:14: patches.directory: '%s' is a kubeadm patch for the etcd static "
			 "pod, and etcdpilot does not apply patches",
			 path);
		if (strncmp(err.msg, want, strlen(want)))
			fail_msg("%s: got '%s'", names[i], err.msg);
		ep_spec_release(&s);
		unlink(path);
	}
	/* Not etcd's: another extension, an empty file. */
	snprintf(path, sizeof(path), "%s/etcd.yml", dir);
	fclose(fopen(path, "w"));
	assert_int_equal(load_as(yaml, ov, &s, &err), 0);
	ep_spec_release(&s);
	unlink(path);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/kube-apiserver+json.json", dir);
	unlink(path);
	rmdir(dir);
	/* A directory that cannot be read: kubeadm fails on it too. */
	assert_true(load_as(yaml, ov, &s, &err) < 0);
	assert_non_null(strstr(err.msg, "patches.directory: cannot read"));
	ep_spec_release(&s);

	assert_true(load_as(V4C "featureGates: {EtcdLearnerMode: true, RootlessControlPlane: true}\n",
			    ov, &s, &err) < 0);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_true(!strncmp(err.msg, "t.yaml:3:61: featureGates.RootlessControlPlane: etcdpilot does "
			     "not run etcd rootless yet", 80));
	ep_spec_release(&s);
	assert_int_equal(load_as(V4C "featureGates: {RootlessControlPlane: false}\n", ov, &s, &err), 0);
	ep_spec_release(&s);

	struct ep_notes notes = {0};
	parse_ok(V4C "apiServer:\n  timeoutForControlPlane: 4m\n", &s, &notes);
	assert_int_equal(notes.n, 1);
	assert_string_equal(notes.v[0],
			    "t.yaml:4:3: WARNING: apiServer.timeoutForControlPlane is "
			    "kubeadm.k8s.io/v1beta3 only and is ignored; in v1beta4 it is "
			    "timeouts.controlPlaneComponentHealthCheck of the InitConfiguration (or "
			    "JoinConfiguration), which sets etcd's startup probe");
	assert_true(s.health_check_ms == 0);
	ep_notes_release(&notes);
	ep_spec_release(&s);
}

/* ---- flag errors and the whole-spec check --------------------------------- */

static void test_flag_errors(void **state)
{
	(void)state;
	static const struct {
		struct ep_overrides ov;
		const char *msg;
	} cases[] = {
	    {{.name = "Bad_Name"},
	     "--name: 'Bad_Name' is not a valid node name (lowercase RFC 1123: a-z, 0-9, '-', "
	     "'.')"},
	    {{.name = "a1234567890123456789012345678901234567890123456789012345678901234"},
	     "--name: 'a123456789012345678901234567890123456789...' is 65 characters long: the "
	     "node name is the common name of this node's etcd certificates, which X.509 limits "
	     "to 64; give a shorter name"},
	    {{.advertise_address = "[::1]"},
	     "--advertise-address: '[::1]' is not an IP address (an IPv4 or IPv6 literal, "
	     "without brackets)"},
	    {{.mode = "k8s"}, "--mode: unknown mode 'k8s' (static-pod or systemd)"},
	    {{.etcd_version = "3.6"},
	     "--etcd-version: '3.6' is not an etcd version (X.Y.Z, e.g. 3.6.6)"},
	    {{.key_type = "ed25519"},
	     "--key-type: unknown key type 'ed25519' (RSA-2048, RSA-3072, RSA-4096, ECDSA-P256 "
	     "or ECDSA-P384)"},
	    {{.timeout = "90"},
	     "--timeout: '90' is not a duration (Go syntax: a number and a unit, e.g. '90s', "
	     "'1h30m', '8760h')"},
	    {{.timeout = "100ms"}, "--timeout: duration '100ms' is too short (at least 1s)"},
	    {{.data_dir = "relative"},
	     "--data-dir: 'relative' is not an absolute path (a path starting with '/', no "
	     "'..')"},
	    {{.cert_dir = "/etc/../x"}, "--cert-dir: '/etc/../x' is not an absolute path"},
	    {{.manifest_dir = ""}, "--manifest-dir: '' is not an absolute path"},
	    {{.image_repository = ""},
	     "--image-repository: '' is not an image repository (e.g. registry.k8s.io)"},
	    {{.etcd_binary = "/a", .release_url = "https://b"},
	     "--etcd-binary: cannot be combined with --release-url"},
	    {{.release_url = "ftp://x"},
	     "--release-url: 'ftp://x' is not a release URL (https://, http:// or file:///)"},
	    {{.etcd_sha256 = "xyz"},
	     "--etcd-sha256: 'xyz' is not a SHA-256 digest (64 hexadecimal digits)"},
	    {{.systemctl = ""}, "--systemctl: the path is empty"},
	    {{.name = "a\nb"},
	     "--name: 'a?b' is not a valid node name (lowercase RFC 1123: a-z, 0-9, '-', '.')"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ep_spec s;
		struct ep_error err;
		ep_spec_init(&s);
		ep_error_clear(&err);
		struct ep_overrides ov = cases[i].ov;
		ov.insecure_skip_checksum = -1;
		assert_true(ep_config_apply_overrides(&s, &ov, &err) < 0);
		assert_int_equal(err.kind, EP_ERR_USAGE);
		if (strncmp(err.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
			fail_msg("case %zu:\n got: %s\nwant: %s", i + 1, err.msg, cases[i].msg);
		ep_spec_release(&s);
	}

	/* Checksum flags that mean nothing together, from flags and from the file. */
	static const char *const sha =
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	static const struct {
		const char *file;
		struct ep_overrides ov;
		const char *msg;
	} combos[] = {
	    {NULL, {.etcd_sha256 = sha, .insecure_skip_checksum = 1},
	     "--insecure-skip-checksum contradicts --etcd-sha256"},
	    {EPC "systemd: {etcdSHA256: " "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}\n",
	     {.insecure_skip_checksum = 1}, "--insecure-skip-checksum contradicts --etcd-sha256"},
	    {NULL, {.etcd_binary = "/opt/etcd/etcd", .etcd_sha256 = sha},
	     "--etcd-sha256 (systemd.etcdSHA256) is the checksum of a release tarball, but the "
	     "binary comes from --etcd-binary '/opt/etcd/etcd'"},
	    {V4C "certificateValidityPeriod: 48h\n---\n" EPC "operator: {renewBefore: 720h}\n",
	     {.insecure_skip_checksum = -1},
	     "operator.renewBefore: 720h0m0s is not shorter than certificateValidityPeriod "
	     "(48h0m0s)"},
	};
	for (size_t i = 0; i < sizeof(combos) / sizeof(combos[0]); i++) {
		struct ep_spec s;
		struct ep_error err;
		ep_spec_init(&s);
		ep_error_clear(&err);
		struct ep_overrides ov = combos[i].ov;
		ov.name = "a";
		ov.advertise_address = "10.0.0.1";
		if (!ov.insecure_skip_checksum)
			ov.insecure_skip_checksum = -1;
		char *cpath = combos[i].file ? write_temp(combos[i].file) : NULL;
		assert_true(ep_config_load(&s, cpath, &ov, NULL, &err) < 0);
		assert_int_equal(err.kind, EP_ERR_USAGE);
		if (!strstr(err.msg, combos[i].msg))
			fail_msg("combo %zu:\n got: %s\nwant: %s", i + 1, err.msg, combos[i].msg);
		ep_spec_release(&s);
		if (cpath) {
			unlink(cpath);
			free(cpath);
		}
	}
	/* A short validity alone is kubeadm's right: the renewal default follows it. */
	char *short_v = write_temp(V4C "certificateValidityPeriod: 48h\n");
	struct ep_overrides sov = { .name = "a", .advertise_address = "10.0.0.1",
				    .insecure_skip_checksum = -1 };
	struct ep_spec ss;
	struct ep_error serr;
	ep_spec_init(&ss);
	ep_error_clear(&serr);
	assert_int_equal(ep_config_load(&ss, short_v, &sov, NULL, &serr), 0);
	assert_true(ss.op.renew_before_ms == 16ull * 3600 * 1000);
	ep_spec_release(&ss);
	unlink(short_v);
	free(short_v);

	/* --etcd-version against the file's image tag. */
	char *path = write_temp(V4C "etcd: {local: {imageTag: 3.5.21-0}}\n");
	struct ep_overrides ov = {.name = "a",
				  .advertise_address = "10.0.0.1",
				  .etcd_version = "3.6.6",
				  .insecure_skip_checksum = -1};
	struct ep_spec s;
	struct ep_error err;
	ep_spec_init(&s);
	ep_error_clear(&err);
	assert_true(ep_config_load(&s, path, &ov, NULL, &err) < 0);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_string_equal(err.msg, "--etcd-version: '3.6.6' contradicts the image tag "
				     "'3.5.21-0' of the config file (drop etcd.local.imageTag or "
				     "give --etcd-version 3.5.21)");
	ep_spec_release(&s);
	unlink(path);
	free(path);
}

static void test_validate(void **state)
{
	(void)state;
	struct ep_overrides ov = {
	    .name = "cp1", .advertise_address = "10.0.0.1", .insecure_skip_checksum = -1};
	struct ep_spec good, s;
	struct ep_error err;
	ep_spec_init(&good);
	ep_error_clear(&err);
	assert_int_equal(ep_config_load(&good, NULL, &ov, NULL, &err), 0);
	assert_int_equal(ep_spec_validate(&good, &err), 0);

	/* Each mutation of a valid spec is caught with the field's name. */
	assert_int_equal(ep_spec_copy(&s, &good), 0);
	free(s.name);
	s.name = strdup("UPPER");
	assert_true(ep_spec_validate(&s, &err) < 0);
	assert_string_equal(err.msg, "name: 'UPPER' is not a valid node name (lowercase RFC 1123: "
				     "a-z, 0-9, '-', '.')");
	ep_spec_release(&s);

	ep_error_clear(&err);
	assert_int_equal(ep_spec_copy(&s, &good), 0);
	free(s.etcd_version);
	s.etcd_version = strdup("3.5.0");
	free(s.image_tag);
	s.image_tag = strdup("3.5.21-0");
	assert_true(ep_spec_validate(&s, &err) < 0);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_string_equal(err.msg, "etcdVersion: '3.5.0' contradicts the image tag '3.5.21-0' "
				     "(which runs etcd 3.5.21; drop one of them)");
	ep_spec_release(&s);

	ep_error_clear(&err);
	assert_int_equal(ep_spec_copy(&s, &good), 0);
	ep_strv_push(&s.server_cert_sans, "under_score");
	assert_true(ep_spec_validate(&s, &err) < 0);
	assert_string_equal(err.msg, "serverCertSANs[0]: 'under_score' is not a valid SAN (an IP "
				     "address, an RFC 1123 DNS name or a wildcard like "
				     "*.example.com)");
	ep_spec_release(&s);

	ep_error_clear(&err);
	assert_int_equal(ep_spec_copy(&s, &good), 0);
	ep_kvv_push(&s.extra_args, "--x", "1");
	assert_true(ep_spec_validate(&s, &err) < 0);
	assert_string_equal(err.msg, "extraArgs[0].name: '--x' starts with a dash (give the etcd "
				     "flag name without dashes, e.g. 'x')");
	ep_spec_release(&s);

	ep_error_clear(&err);
	assert_int_equal(ep_spec_copy(&s, &good), 0);
	s.external.set = true;
	ep_kvv_push(&s.extra_args, "x", "1");
	assert_true(ep_spec_validate(&s, &err) < 0);
	assert_true(strncmp(err.msg, "external: ", 10) == 0);
	ep_spec_release(&s);

	ep_error_clear(&err);
	assert_int_equal(ep_spec_copy(&s, &good), 0);
	s.systemd.etcd_binary = strdup("/a");
	s.systemd.release_url = strdup("https://b");
	assert_true(ep_spec_validate(&s, &err) < 0);
	assert_true(strncmp(err.msg, "systemd.etcdBinary: cannot be combined", 38) == 0);
	ep_spec_release(&s);

	ep_error_clear(&err);
	assert_int_equal(ep_spec_copy(&s, &good), 0);
	s.op.renew_before_ms = s.cert_validity_s * 1000;
	assert_true(ep_spec_validate(&s, &err) < 0);
	assert_true(strncmp(err.msg, "operator.renewBefore: ", 22) == 0);
	ep_spec_release(&s);

	ep_error_clear(&err);
	ep_spec_init(&s);
	assert_true(ep_spec_validate(&s, &err) < 0);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	ep_spec_release(&s);
	ep_spec_release(&good);
}

/* ---- rendering ------------------------------------------------------------ */

static void test_json_to_yaml_quoting(void **state)
{
	(void)state;
	json_t *doc = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:b, s:n, s:[], s:{}, "
	    "s:[s,s], s:{s:s}}",
	    "plain", "registry.k8s.io", "version", "3.6.6", "ip", "10.0.0.1", "int", "5000",
	    "float", "1.5", "exp", "1e3", "hex", "0x1F", "octal", "0o17", "bool", "true", "yes",
	    "yes", "off", "Off", "null", "null", "tilde", "~", "empty", "", "date", "2001-12-14",
	    "inf", ".inf", "sexagesimal", "1:20", "duration", "8760h0m0s", "n", 42, "b", 1,
	    "nothing", "emptylist", "emptymap", "list", "a", "*.x.io", "map", "true", "on");
	assert_non_null(doc);
	char *y = NULL;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_json_to_yaml(doc, &y, &err), 0);
	assert_string_equal(y, "plain: registry.k8s.io\n"
			       "version: 3.6.6\n"
			       "ip: 10.0.0.1\n"
			       "int: '5000'\n"
			       "float: '1.5'\n"
			       "exp: '1e3'\n"
			       "hex: '0x1F'\n"
			       "octal: '0o17'\n"
			       "bool: 'true'\n"
			       "'yes': 'yes'\n"
			       "'off': 'Off'\n"
			       "'null': 'null'\n"
			       "tilde: '~'\n"
			       "empty: ''\n"
			       "date: '2001-12-14'\n"
			       "inf: '.inf'\n"
			       "sexagesimal: '1:20'\n"
			       "duration: 8760h0m0s\n"
			       "'n': 42\n"
			       "b: true\n"
			       "nothing: null\n"
			       "emptylist: []\n"
			       "emptymap: {}\n"
			       "list:\n"
			       "- a\n"
			       "- '*.x.io'\n"
			       "map:\n"
			       "  'true': 'on'\n");
	free(y);
	json_decref(doc);
}

static void test_spec_to_json(void **state)
{
	(void)state;
	struct ep_overrides ov = {
	    .name = "cp1", .advertise_address = "10.0.0.1", .insecure_skip_checksum = -1};
	struct ep_spec s;
	struct ep_error err;
	ep_spec_init(&s);
	ep_error_clear(&err);
	assert_int_equal(ep_config_load(&s, NULL, &ov, NULL, &err), 0);
	ep_kvv_push(&s.extra_args, "snapshot-count", "5000");
	s.external.set = true;
	ep_strv_push(&s.external.endpoints, "https://10.0.0.5:2379");
	json_t *j = ep_spec_to_json(&s);
	assert_non_null(j);
	static const char *const keys[] = {
	    "apiVersion",
	    "kind",
	    "name",
	    "advertiseAddress",
	    "mode",
	    "etcdVersion",
	    "kubernetesVersion",
	    "image",
	    "imageRepository",
	    "imageTag",
	    "dataDir",
	    "certificatesDir",
	    "manifestDir",
	    "extraArgs",
	    "extraEnvs",
	    "serverCertSANs",
	    "peerCertSANs",
	    "external",
	    "keyType",
	    "certificateValidityPeriod",
	    "caCertificateValidityPeriod",
	    "timeout",
	    "controlPlaneComponentHealthCheck",
	    "systemd",
	    "operator",
	    "join",
	};
	size_t i = 0;
	const char *key;
	json_t *v;
	json_object_foreach(j, key, v)
	{
		assert_true(i < sizeof(keys) / sizeof(keys[0]));
		assert_string_equal(key, keys[i]);
		i++;
	}
	assert_int_equal(i, sizeof(keys) / sizeof(keys[0]));
	assert_string_equal(json_string_value(json_object_get(j, "image")),
			    "registry.k8s.io/etcd:3.6.6-0");
	assert_string_equal(json_string_value(json_object_get(j, "timeout")), "4m0s");
	assert_string_equal(json_string_value(json_object_get(j, "certificateValidityPeriod")),
			    "8760h0m0s");
	assert_string_equal(json_string_value(json_object_get(j, "keyType")), "RSA-2048");
	json_t *ext = json_object_get(j, "external");
	assert_true(json_is_object(ext));
	assert_string_equal(json_string_value(json_array_get(json_object_get(ext, "endpoints"), 0)),
			    "https://10.0.0.5:2379");
	assert_true(json_is_null(json_object_get(ext, "caFile")));
	json_t *arg = json_array_get(json_object_get(j, "extraArgs"), 0);
	assert_string_equal(json_string_value(json_object_get(arg, "value")), "5000");
	json_t *op = json_object_get(j, "operator");
	assert_int_equal(json_integer_value(json_object_get(op, "backupKeep")), 5);
	assert_string_equal(json_string_value(json_object_get(op, "renewBefore")), "720h0m0s");
	assert_true(json_is_false(json_object_get(j, "join")));
	assert_true(json_is_null(json_object_get(json_object_get(j, "systemd"), "etcdBinary")));
	json_decref(j);
	ep_spec_release(&s);
}

/* The committed examples load, and each is what its comment says. */
static void test_examples(void **state)
{
	(void)state;
	const char *src = getenv("EP_SOURCE_DIR");
	if (!src || !*src)
		src = EP_TEST_SOURCE_DIR;
	static const struct {
		const char *file;
		const char *name;
		size_t notes;
		bool join;
	} cases[] = {
	    {"kubeadm-v1beta4.yaml", "cp-1", 1, false},
	    {"kubeadm-v1beta3.yaml", "master-a", 0, false},
	    {"join-v1beta4.yaml", "cp-2", 0, true},
	    {"etcdpilot-systemd.yaml", "etcd-1", 0, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/manifests/examples/%s", src, cases[i].file);
		struct ep_overrides ov = {.insecure_skip_checksum = -1};
		struct ep_spec s;
		struct ep_notes notes = {0};
		struct ep_error err;
		ep_spec_init(&s);
		ep_error_clear(&err);
		if (ep_config_load(&s, path, &ov, &notes, &err) < 0)
			fail_msg("%s: %s", cases[i].file, err.msg);
		assert_string_equal(s.name, cases[i].name);
		assert_int_equal(notes.n, cases[i].notes);
		assert_int_equal(s.is_join, cases[i].join);
		ep_notes_release(&notes);
		ep_spec_release(&s);
	}
}

/*
 * What 'config print' writes loads as --config, as YAML and as JSON, and
 * prints the same again: for every example, a valueFrom and an external.
 */
static void test_print_round_trip(void **state)
{
	(void)state;
	const char *src = getenv("EP_SOURCE_DIR");
	if (!src || !*src)
		src = EP_TEST_SOURCE_DIR;
	static const char *const files[] = {
	    "kubeadm-v1beta4.yaml", "kubeadm-v1beta3.yaml", "join-v1beta4.yaml",
	    "etcdpilot-systemd.yaml", NULL, NULL,
	};
	static const char *const inline_docs[] = {
	    NULL, NULL, NULL, NULL,
	    V4C "etcd:\n  local:\n    extraEnvs:\n    - name: POD_IP\n      valueFrom:\n"
		"        fieldRef: {fieldPath: status.podIP}\n    - name: EMPTY\n",
	    V4C "etcd:\n  external:\n    endpoints: [https://10.0.0.5:2379]\n"
		"    caFile: /etc/etcd/ca.crt\n",
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct ep_overrides ov = {.insecure_skip_checksum = -1};
		if (!files[i]) {
			ov.name = "cp1";
			ov.advertise_address = "10.0.0.1";
		}
		char path[4096];
		char *tmp = files[i] ? NULL : write_temp(inline_docs[i]);
		if (files[i])
			snprintf(path, sizeof(path), "%s/manifests/examples/%s", src, files[i]);
		else
			snprintf(path, sizeof(path), "%s", tmp);
		struct ep_spec s, back;
		struct ep_error err;
		ep_spec_init(&s);
		ep_error_clear(&err);
		if (ep_config_load(&s, path, &ov, NULL, &err) < 0)
			fail_msg("%zu: %s", i, err.msg);
		json_t *j = ep_spec_to_json(&s);
		assert_non_null(j);
		char *yaml = NULL;
		assert_int_equal(ep_json_to_yaml(j, &yaml, &err), 0);
		char *js = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		assert_non_null(js);
		/* -v: the YAML with a comment per field, the JSON with "origins". */
		char *yaml_v = NULL;
		assert_int_equal(ep_spec_yaml_annotate(&s, yaml, &yaml_v, &err), 0);
		json_t *jv = json_deep_copy(j);
		assert_int_equal(json_object_set_new(jv, "origins", ep_spec_origins_json(&s)), 0);
		char *js_v = json_dumps(jv, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		assert_non_null(js_v);
		json_decref(jv);
		const char *forms[] = {yaml, js, yaml_v, js_v};
		for (int form = 0; form < 4; form++) {
			char *printed = write_temp(forms[form]);
			struct ep_overrides none = {.insecure_skip_checksum = -1};
			ep_spec_init(&back);
			ep_error_clear(&err);
			if (ep_config_load(&back, printed, &none, NULL, &err) < 0)
				fail_msg("%zu (%s%s): the printed config does not load: %s", i,
					 form & 1 ? "JSON" : "YAML", form & 2 ? " -v" : "", err.msg);
			json_t *j2 = ep_spec_to_json(&back);
			if (!json_equal(j, j2)) {
				char *a = json_dumps(j2, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
				fail_msg("%zu (%s%s): prints differently after loading:\n%s\nwas\n%s",
					 i, form & 1 ? "JSON" : "YAML", form & 2 ? " -v" : "", a, js);
			}
			json_decref(j2);
			ep_spec_release(&back);
			unlink(printed);
			free(printed);
		}
		free(js);
		free(yaml);
		free(js_v);
		free(yaml_v);
		json_decref(j);
		ep_spec_release(&s);
		if (tmp) {
			unlink(tmp);
			free(tmp);
		}
	}
}

/* ---- origins -------------------------------------------------------------- */

/* The origin of @field in @s, which must exist. */
static const struct ep_origin *origin_of(const struct ep_spec *s, const char *field)
{
	const struct ep_origin *o = ep_spec_origin(s, field);
	if (!o)
		fail_msg("no field '%s'", field);
	return o;
}

static void assert_origin(const struct ep_spec *s, const char *field, enum ep_origin_kind kind,
			  const char *detail, const char *path)
{
	const struct ep_origin *o = origin_of(s, field);
	if (o->kind != kind)
		fail_msg("%s: kind %s, want %s", field, ep_origin_kind_name(o->kind),
			 ep_origin_kind_name(kind));
	if (!detail != !o->detail || (detail && strcmp(detail, o->detail)))
		fail_msg("%s: detail '%s', want '%s'", field, o->detail ? o->detail : "(null)",
			 detail ? detail : "(null)");
	if (!path != !o->path || (path && strcmp(path, o->path)))
		fail_msg("%s: path '%s', want '%s'", field, o->path ? o->path : "(null)",
			 path ? path : "(null)");
}

static const char origins_yaml[] = V4I "nodeRegistration:\n"
				       "  name: cp-1\n"
				       "---\n" V4C "kubernetesVersion: v1.34.2\n"
				       "certificatesDir: /etc/pki\n"
				       "etcd:\n"
				       "  local:\n"
				       "    dataDir: /srv/etcd\n"
				       "    serverCertSANs: [a.example.com]\n";

/* Each kind of origin, for a file, flags, the environment and defaults together. */
static void test_origins_each_kind(void **state)
{
	(void)state;
	char *path = write_temp(origins_yaml);
	struct ep_overrides ov = {
	    .advertise_address = "10.0.0.7",
	    .cert_dir = "/flag/pki",
	    .key_type = "ecdsa-p256",
	    .env_systemctl = "/env/systemctl",
	    .insecure_skip_checksum = -1,
	};
	struct ep_spec s;
	struct ep_error err;
	char want[4200], want2[4200];
	ep_spec_init(&s);
	ep_error_clear(&err);
	if (ep_config_load(&s, path, &ov, NULL, &err) < 0)
		fail_msg("%s", err.msg);

	snprintf(want, sizeof(want), "%s:4:9", path);
	assert_origin(&s, "name", EP_ORIGIN_FILE, want, "nodeRegistration.name");
	snprintf(want, sizeof(want), "%s:8:20", path);
	assert_origin(&s, "kubernetesVersion", EP_ORIGIN_FILE, want, "kubernetesVersion");
	snprintf(want, sizeof(want), "%s:12:14", path);
	assert_origin(&s, "dataDir", EP_ORIGIN_FILE, want, "etcd.local.dataDir");
	snprintf(want, sizeof(want), "%s:13:21", path);
	assert_origin(&s, "serverCertSANs", EP_ORIGIN_FILE, want, "etcd.local.serverCertSANs");
	/* The flag beats the file, and says so. */
	assert_string_equal(s.cert_dir, "/flag/pki");
	assert_origin(&s, "certificatesDir", EP_ORIGIN_FLAG, "--cert-dir", NULL);
	assert_origin(&s, "advertiseAddress", EP_ORIGIN_FLAG, "--advertise-address", NULL);
	assert_origin(&s, "keyType", EP_ORIGIN_FLAG, "--key-type", NULL);
	assert_string_equal(s.systemd.systemctl, "/env/systemctl");
	assert_origin(&s, "systemd.systemctl", EP_ORIGIN_ENV, "ETCDPILOT_SYSTEMCTL", NULL);
	/* Derived: from a source the user gave (named), and from one that was derived. */
	assert_string_equal(s.etcd_version, "3.6.5");
	snprintf(want, sizeof(want), "%s:8:20: kubernetesVersion", path);
	assert_origin(&s, "etcdVersion", EP_ORIGIN_DERIVED, "kubernetesVersion v1.34.2", want);
	assert_origin(&s, "imageTag", EP_ORIGIN_DERIVED, "etcdVersion 3.6.5", NULL);
	assert_origin(&s, "image", EP_ORIGIN_DERIVED, "imageRepository and imageTag", NULL);
	assert_origin(&s, "timeout", EP_ORIGIN_DERIVED, "controlPlaneComponentHealthCheck 4m0s",
		      NULL);
	/* Defaults. */
	assert_origin(&s, "manifestDir", EP_ORIGIN_DEFAULT, NULL, NULL);
	assert_origin(&s, "extraArgs", EP_ORIGIN_DEFAULT, NULL, NULL);
	assert_origin(&s, "mode", EP_ORIGIN_DEFAULT, NULL, NULL);
	assert_origin(&s, "operator.backupKeep", EP_ORIGIN_DEFAULT, NULL, NULL);
	assert_origin(&s, "controlPlaneComponentHealthCheck", EP_ORIGIN_DEFAULT, NULL, NULL);

	/* Pinned: set by a flag, the file or the environment. */
	assert_true(ep_spec_pinned(&s, "name"));
	assert_true(ep_spec_pinned(&s, "certificatesDir"));
	assert_true(ep_spec_pinned(&s, "systemd.systemctl"));
	assert_false(ep_spec_pinned(&s, "etcdVersion"));
	assert_false(ep_spec_pinned(&s, "manifestDir"));
	assert_false(ep_spec_pinned(&s, "noSuchField"));
	assert_null(ep_spec_origin(&s, "noSuchField"));
	assert_null(ep_spec_origin(&s, "systemd"));

	/* In words, and as messages name them. */
	char *d = ep_origin_describe(origin_of(&s, "name"));
	snprintf(want, sizeof(want), "from %s:4:9 (nodeRegistration.name)", path);
	assert_string_equal(d, want);
	free(d);
	d = ep_origin_describe(origin_of(&s, "etcdVersion"));
	snprintf(want, sizeof(want), "derived from kubernetesVersion v1.34.2 (%s:8:20: "
				     "kubernetesVersion)", path);
	assert_string_equal(d, want);
	free(d);
	d = ep_origin_describe(origin_of(&s, "systemd.systemctl"));
	assert_string_equal(d, "from $ETCDPILOT_SYSTEMCTL");
	free(d);
	d = ep_origin_describe(origin_of(&s, "certificatesDir"));
	assert_string_equal(d, "from --cert-dir");
	free(d);
	d = ep_origin_describe(origin_of(&s, "manifestDir"));
	assert_string_equal(d, "default");
	free(d);
	char at[4200];
	snprintf(want, sizeof(want), "%s:12:14: etcd.local.dataDir", path);
	assert_string_equal(ep_origin_at(origin_of(&s, "dataDir"), "x", at, sizeof(at)), want);
	assert_string_equal(ep_origin_at(origin_of(&s, "certificatesDir"), "x", at, sizeof(at)),
			    "--cert-dir");
	assert_string_equal(ep_origin_at(origin_of(&s, "manifestDir"), "x", at, sizeof(at)), "x");
	ep_spec_release(&s);

	/*
	 * The image tag decides the version; the file's health check the
	 * timeout; a short validity renewBefore; --systemctl beats the
	 * environment, and an empty variable is no variable.
	 */
	char *path2 = write_temp(EPC "nodeName: a\n"
				     "advertiseAddress: 10.0.0.1\n"
				     "imageTag: 3.5.21-0\n"
				     "controlPlaneComponentHealthCheck: 2m\n"
				     "certificateValidityPeriod: 48h\n"
				     "systemd: {systemctl: /file/systemctl}\n");
	struct ep_overrides ov2 = {.systemctl = "/flag/systemctl",
				   .env_systemctl = "/env/systemctl",
				   .insecure_skip_checksum = -1};
	ep_spec_init(&s);
	if (ep_config_load(&s, path2, &ov2, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	snprintf(want, sizeof(want), "%s:5:11: imageTag", path2);
	assert_origin(&s, "etcdVersion", EP_ORIGIN_DERIVED, "imageTag 3.5.21-0", want);
	assert_false(ep_spec_pinned(&s, "etcdVersion"));
	assert_true(ep_spec_pinned(&s, "imageTag"));
	snprintf(want, sizeof(want), "%s:6:35: controlPlaneComponentHealthCheck", path2);
	assert_origin(&s, "timeout", EP_ORIGIN_DERIVED, "controlPlaneComponentHealthCheck 2m0s",
		      want);
	snprintf(want, sizeof(want), "%s:7:28: certificateValidityPeriod", path2);
	assert_origin(&s, "operator.renewBefore", EP_ORIGIN_DERIVED,
		      "a third of certificateValidityPeriod 48h0m0s", want);
	assert_true(s.op.renew_before_ms == 16ull * 3600 * 1000);
	assert_string_equal(s.systemd.systemctl, "/flag/systemctl");
	assert_origin(&s, "systemd.systemctl", EP_ORIGIN_FLAG, "--systemctl", NULL);
	ep_spec_release(&s);

	ov2.systemctl = NULL;
	ov2.env_systemctl = "";
	ep_spec_init(&s);
	if (ep_config_load(&s, path2, &ov2, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(s.systemd.systemctl, "/file/systemctl");
	snprintf(want2, sizeof(want2), "%s:8:22", path2);
	assert_origin(&s, "systemd.systemctl", EP_ORIGIN_FILE, want2, "systemd.systemctl");
	ep_spec_release(&s);

	ov2.env_systemctl = "/env/systemctl";
	ep_spec_init(&s);
	if (ep_config_load(&s, path2, &ov2, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(s.systemd.systemctl, "/env/systemctl");
	assert_origin(&s, "systemd.systemctl", EP_ORIGIN_ENV, "ETCDPILOT_SYSTEMCTL", NULL);
	ep_spec_release(&s);

	unlink(path);
	unlink(path2);
	free(path);
	free(path2);
}

/* What the flags do to the file's fields, and the fields only defaults fill. */
static void test_origins_flags_and_defaults(void **state)
{
	(void)state;
	/* Every flag of test_flags_override_file replaces the file's origin by its own. */
	char *path = write_temp(pilot_full);
	struct ep_overrides ov = {
	    .name = "cp-9",
	    .mode = "static-pod",
	    .etcd_version = "v3.6.6",
	    .image_repository = "flags.example.com",
	    .data_dir = "/flag/data",
	    .manifest_dir = "/flag/manifests",
	    .timeout = "45s",
	    .etcd_binary = "/flag/etcd",
	    .insecure_skip_checksum = 1,
	};
	struct ep_spec s;
	struct ep_error err;
	char want[4200];
	ep_spec_init(&s);
	ep_error_clear(&err);
	if (ep_config_load(&s, path, &ov, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	static const struct {
		const char *field, *flag;
	} flags[] = {
	    {"name", "--name"},
	    {"mode", "--mode"},
	    {"etcdVersion", "--etcd-version"},
	    {"imageRepository", "--image-repository"},
	    {"dataDir", "--data-dir"},
	    {"manifestDir", "--manifest-dir"},
	    {"timeout", "--timeout"},
	    {"systemd.etcdBinary", "--etcd-binary"},
	    /* emptied by --etcd-binary: one source of etcd */
	    {"systemd.releaseURL", "--etcd-binary"},
	    {"systemd.etcdSHA256", "--etcd-binary"},
	    {"systemd.insecureSkipChecksum", "--insecure-skip-checksum"},
	};
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		assert_origin(&s, flags[i].field, EP_ORIGIN_FLAG, flags[i].flag, NULL);
	assert_null(s.systemd.release_url);
	assert_string_equal(s.etcd_version, "3.6.6");
	/* The tag follows the flag's version; what no flag touched stays the file's. */
	assert_origin(&s, "imageTag", EP_ORIGIN_DERIVED, "etcdVersion 3.6.6", "--etcd-version");
	snprintf(want, sizeof(want), "%s:6:19", path);
	assert_origin(&s, "advertiseAddress", EP_ORIGIN_FILE, want, "advertiseAddress");
	snprintf(want, sizeof(want), "%s:17:13", path);
	assert_origin(&s, "systemd.unitPath", EP_ORIGIN_FILE, want, "systemd.unitPath");
	snprintf(want, sizeof(want), "%s:27:15", path);
	assert_origin(&s, "operator.backupKeep", EP_ORIGIN_FILE, want, "operator.backupKeep");
	ep_spec_release(&s);
	unlink(path);
	free(path);

	/* No file, no flags but the address: the name is the host's. */
	struct ep_overrides ov2 = {.advertise_address = "10.0.0.1", .insecure_skip_checksum = -1};
	ep_spec_init(&s);
	if (ep_config_load(&s, NULL, &ov2, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_origin(&s, "name", EP_ORIGIN_DETECTED, "the host name", NULL);
	assert_origin(&s, "etcdVersion", EP_ORIGIN_DEFAULT, NULL, NULL);
	for (int f = 0; f < EP_FIELD__MAX; f++) {
		const struct ep_origin *o = &s.origin[f];
		if (f == EP_FIELD_NAME || f == EP_FIELD_ADVERTISE_ADDRESS)
			continue;
		if (o->kind != EP_ORIGIN_DEFAULT && o->kind != EP_ORIGIN_DERIVED)
			fail_msg("%s: %s without a file or a flag", ep_field_name((enum ep_field)f),
				 ep_origin_kind_name(o->kind));
	}
	ep_spec_release(&s);

	/*
	 * The address of the default route, naming its interface.  A machine
	 * without one cannot detect it: that is an error saying what to set.
	 */
	struct ep_overrides ov3 = {.name = "cp1", .insecure_skip_checksum = -1};
	ep_spec_init(&s);
	ep_error_clear(&err);
	if (ep_config_load(&s, NULL, &ov3, NULL, &err) == 0) {
		const struct ep_origin *o = origin_of(&s, "advertiseAddress");
		assert_int_equal(o->kind, EP_ORIGIN_DETECTED);
		assert_true(!strncmp(o->detail, "interface ", 10));
		assert_non_null(strstr(o->detail, " (default route)"));
	} else {
		assert_non_null(strstr(err.msg, "no default route"));
	}
	ep_spec_release(&s);

	/* An IPv4-mapped address is rewritten but keeps its origin. */
	struct ep_overrides ov4 = {.name = "cp1", .advertise_address = "::ffff:10.0.0.9",
				   .insecure_skip_checksum = -1};
	ep_spec_init(&s);
	if (ep_config_load(&s, NULL, &ov4, NULL, &err) < 0)
		fail_msg("%s", err.msg);
	assert_string_equal(s.advertise_address, "10.0.0.9");
	assert_origin(&s, "advertiseAddress", EP_ORIGIN_FLAG, "--advertise-address", NULL);
	ep_spec_release(&s);

	/* A JoinConfiguration, etcd.external and patches: where messages point. */
	struct ep_spec j;
	parse_ok(V4C "etcd:\n  external:\n    endpoints: [https://10.0.0.5:2379]\n---\n"
		     "apiVersion: kubeadm.k8s.io/v1beta4\nkind: JoinConfiguration\n",
		 &j, NULL);
	assert_origin(&j, "external", EP_ORIGIN_FILE, "t.yaml:4:3", "etcd.external");
	assert_origin(&j, "join", EP_ORIGIN_FILE, "t.yaml:8:7", "kind");
	ep_spec_release(&j);
	parse_ok(V4I "patches:\n  directory: /tmp/p\n", &j, NULL);
	assert_origin(&j, "patches.directory", EP_ORIGIN_FILE, "t.yaml:4:14", "patches.directory");
	ep_spec_release(&j);
	/* ClusterConfiguration.imageRepository is a fallback, and says so when taken. */
	parse_ok(V4C "imageRepository: mirror.example.com\n", &j, NULL);
	assert_origin(&j, "imageRepository", EP_ORIGIN_FILE, "t.yaml:3:18", "imageRepository");
	ep_spec_release(&j);
	parse_ok(V4C "imageRepository: mirror.example.com\netcd:\n  local:\n"
		     "    imageRepository: etcd.example.com\n",
		 &j, NULL);
	assert_string_equal(j.image_repository, "etcd.example.com");
	assert_origin(&j, "imageRepository", EP_ORIGIN_FILE, "t.yaml:6:22",
		      "etcd.local.imageRepository");
	ep_spec_release(&j);
}

/* The table's names are the printed names; a copy owns its origins. */
static void test_origins_names_and_copy(void **state)
{
	(void)state;
	struct ep_overrides ov = {.name = "cp1", .advertise_address = "10.0.0.1",
				  .insecure_skip_checksum = -1};
	struct ep_spec s, c;
	struct ep_error err;
	ep_spec_init(&s);
	ep_error_clear(&err);
	assert_int_equal(ep_config_load(&s, NULL, &ov, NULL, &err), 0);
	json_t *doc = ep_spec_to_json(&s);
	assert_non_null(doc);
	size_t printed = 0;
	for (int f = 0; f < EP_FIELD__MAX; f++) {
		const char *name = ep_field_name((enum ep_field)f);
		assert_non_null(name);
		assert_int_equal(ep_field_lookup(name), f);
		char buf[128];
		snprintf(buf, sizeof(buf), "%s", name);
		char *dot = strchr(buf, '.');
		json_t *v = doc;
		if (dot) {
			*dot = '\0';
			v = json_object_get(v, buf);
			v = v ? json_object_get(v, dot + 1) : NULL;
		} else {
			v = json_object_get(v, buf);
		}
		if (f == EP_FIELD_PATCHES_DIRECTORY || f == EP_FIELD_CERTIFICATE_KEY)
			assert_null(v); /* not printed (the key: a secret) */
		else if (!v)
			fail_msg("'%s' is not a field ep_spec_to_json prints", name);
		else
			printed++;
	}
	/* ... and every printed field is in the table. */
	const char *key;
	json_t *v;
	size_t leaves = 0;
	json_object_foreach(doc, key, v)
	{
		if (!strcmp(key, "apiVersion") || !strcmp(key, "kind"))
			continue;
		if (!strcmp(key, "systemd") || !strcmp(key, "operator")) {
			const char *k2;
			json_t *v2;
			json_object_foreach(v, k2, v2)
			{
				char name[128];
				snprintf(name, sizeof(name), "%s.%s", key, k2);
				if (ep_field_lookup(name) < 0)
					fail_msg("printed '%s' has no origin", name);
				leaves++;
			}
			continue;
		}
		if (ep_field_lookup(key) < 0)
			fail_msg("printed '%s' has no origin", key);
		leaves++;
	}
	assert_int_equal(leaves, printed);
	assert_int_equal(ep_field_lookup("nope"), -ENOENT);
	assert_int_equal(ep_field_lookup(NULL), -ENOENT);
	assert_null(ep_field_name(EP_FIELD__MAX));
	assert_int_equal(ep_spec_set_origin(&s, EP_FIELD__MAX, EP_ORIGIN_FLAG, "--x", NULL),
			 -EINVAL);

	/* The origins object: every printed field, detail and path only when set. */
	json_t *origins = ep_spec_origins_json(&s);
	assert_non_null(origins);
	assert_int_equal(json_object_size(origins), printed);
	json_t *o = json_object_get(origins, "name");
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "flag");
	assert_string_equal(json_string_value(json_object_get(o, "detail")), "--name");
	assert_string_equal(json_string_value(json_object_get(o, "text")), "from --name");
	assert_null(json_object_get(o, "path"));
	o = json_object_get(origins, "systemd.unitPath");
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "default");
	assert_null(json_object_get(o, "detail"));
	json_decref(origins);
	json_decref(doc);

	/* A copy is its own (ASan: no double free, no use after free, no leak). */
	assert_int_equal(ep_spec_set_origin(&s, EP_FIELD_DATA_DIR, EP_ORIGIN_FILE, "f.yaml:1:2",
					    "etcd.local.dataDir"),
			 0);
	assert_int_equal(ep_spec_copy(&c, &s), 0);
	ep_spec_release(&s);
	assert_origin(&c, "dataDir", EP_ORIGIN_FILE, "f.yaml:1:2", "etcd.local.dataDir");
	assert_origin(&c, "name", EP_ORIGIN_FLAG, "--name", NULL);
	assert_origin(&c, "imageTag", EP_ORIGIN_DERIVED, "etcdVersion 3.6.6", NULL);
	/* Setting replaces (and frees) what was there. */
	assert_int_equal(ep_spec_set_origin(&c, EP_FIELD_DATA_DIR, EP_ORIGIN_DEFAULT, NULL, NULL),
			 0);
	assert_origin(&c, "dataDir", EP_ORIGIN_DEFAULT, NULL, NULL);
	ep_spec_release(&c);
	ep_spec_release(NULL);
}

/* The line of @text that starts with @prefix (a static copy), or fail. */
static const char *line_starting(const char *text, const char *prefix)
{
	static char line[1024];
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");
		if (!strncmp(p, prefix, strlen(prefix))) {
			snprintf(line, sizeof(line), "%.*s", (int)n, p);
			return line;
		}
		p += n + (p[n] == '\n');
	}
	fail_msg("no line starts with '%s' in:\n%s", prefix, text);
	return NULL;
}

/* config print -v: a comment per field, on its line, and the YAML is the same YAML. */
static void test_yaml_annotate(void **state)
{
	(void)state;
	struct ep_spec s, back;
	struct ep_error err;
	parse_ok(origins_yaml, &s, NULL);
	struct ep_overrides ov = {.advertise_address = "10.0.0.7", .insecure_skip_checksum = -1};
	assert_int_equal(ep_config_apply_overrides(&s, &ov, &err), 0);
	assert_int_equal(ep_spec_defaults(&s, &err), 0);
	json_t *doc = ep_spec_to_json(&s);
	char *yaml = NULL, *ann = NULL;
	assert_int_equal(ep_json_to_yaml(doc, &yaml, &err), 0);
	assert_int_equal(ep_spec_yaml_annotate(&s, yaml, &ann, &err), 0);
	assert_non_null(strstr(line_starting(ann, "name: cp-1 "),
			       "  # from t.yaml:4:9 (nodeRegistration.name)"));
	assert_non_null(strstr(line_starting(ann, "advertiseAddress: 10.0.0.7 "),
			       "  # from --advertise-address"));
	assert_non_null(strstr(line_starting(ann, "etcdVersion: 3.6.5 "),
			       "  # derived from kubernetesVersion v1.34.2 (t.yaml:8:20: "
			       "kubernetesVersion)"));
	/* A list's comment is on its key's line; nested fields have their own. */
	assert_non_null(strstr(line_starting(ann, "serverCertSANs:"),
			       "# from t.yaml:13:21 (etcd.local.serverCertSANs)"));
	assert_non_null(strstr(line_starting(ann, "  unitPath: "), "  # default"));
	assert_non_null(strstr(line_starting(ann, "external: null "), "  # default"));
	assert_null(strstr(line_starting(ann, "systemd:"), "#"));
	assert_null(strstr(line_starting(ann, "- a.example.com"), "#"));
	/* Nothing but comments were added: without them it is the same text. */
	size_t nlines = 0, ncomments = 0;
	for (const char *p = ann; *p; p++)
		nlines += *p == '\n';
	for (const char *p = ann; (p = strstr(p, "  # ")); p++)
		ncomments++;
	size_t ylines = 0;
	for (const char *p = yaml; *p; p++)
		ylines += *p == '\n';
	assert_int_equal(nlines, ylines);
	assert_int_equal(ncomments, EP_FIELD__MAX - 2); /* all but patches and the key */

	/*
	 * Comments are one line of what YAML reads: a file name or value with a
	 * newline, NEL, LINE SEPARATOR, a control or a byte that is not UTF-8
	 * is escaped; other UTF-8 stays.  The result loads as the same config.
	 */
	assert_int_equal(ep_spec_set_origin(&s, EP_FIELD_DATA_DIR, EP_ORIGIN_FILE,
					    "a\nname: evil\xc2\x85x\xe2\x80\xa8y\xff\x01.yaml:1:1",
					    "caf\xc3\xa9"),
			 0);
	free(ann);
	ann = NULL;
	assert_int_equal(ep_spec_yaml_annotate(&s, yaml, &ann, &err), 0);
	assert_non_null(strstr(line_starting(ann, "dataDir: /srv/etcd "),
			       "# from a\\x0aname: evil\\u0085x\\u2028y\\xff\\x01.yaml:1:1 "
			       "(caf\xc3\xa9)"));
	parse_ok(ann, &back, NULL);
	json_t *doc2 = ep_spec_to_json(&back);
	/* The origins differ (the reload is all file); the values do not. */
	if (!json_equal(doc, doc2))
		fail_msg("the annotated YAML loads differently:\n%s", ann);
	json_decref(doc2);
	ep_spec_release(&back);

	/* Not YAML: an error, no output. */
	char *out = (char *)"x";
	ep_error_clear(&err);
	assert_int_equal(ep_spec_yaml_annotate(&s, "a: [b\n", &out, &err), -EINVAL);
	assert_null(out);
	assert_non_null(strstr(err.msg, "annotating YAML"));

	free(ann);
	free(yaml);
	json_decref(doc);
	ep_spec_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_parse),
	    cmocka_unit_test(test_duration_format),
	    cmocka_unit_test(test_dns1123),
	    cmocka_unit_test(test_is_ip),
	    cmocka_unit_test(test_version_helpers),
	    cmocka_unit_test(test_v1beta4_every_field),
	    cmocka_unit_test(test_v1beta4_encryption_algorithms),
	    cmocka_unit_test(test_v1beta3_every_field),
	    cmocka_unit_test(test_join),
	    cmocka_unit_test(test_external),
	    cmocka_unit_test(test_pilot_every_field),
	    cmocka_unit_test(test_documents_combine),
	    cmocka_unit_test(test_skipped_and_empty_documents),
	    cmocka_unit_test(test_flags_override_file),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_load_file_errors),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_extra_args_rules),
	    cmocka_unit_test(test_advertise_address),
	    cmocka_unit_test(test_data_dir),
	    cmocka_unit_test(test_check_init),
	    cmocka_unit_test(test_kubeadm_features),
	    cmocka_unit_test(test_flag_errors),
	    cmocka_unit_test(test_validate),
	    cmocka_unit_test(test_json_to_yaml_quoting),
	    cmocka_unit_test(test_spec_to_json),
	    cmocka_unit_test(test_examples),
	    cmocka_unit_test(test_print_round_trip),
	    cmocka_unit_test(test_origins_each_kind),
	    cmocka_unit_test(test_origins_flags_and_defaults),
	    cmocka_unit_test(test_origins_names_and_copy),
	    cmocka_unit_test(test_yaml_annotate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
