/*
 * spec.c - the node spec's memory, names and defaults.  It knows kubeadm's
 * defaults; it does not parse files (config.c) and does not validate
 * (ep_spec_validate in config.c).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <strings.h>
#include <unistd.h>

#include "etcdpilot/config.h"
#include "etcdpilot/error.h"
#include "etcdpilot/spec.h"
#include "util/cleanup.h"

#define DEFAULT_ETCD_VERSION "3.6.6"

void ep_spec_init(struct ep_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->op.backup_keep = 0;
}

/*
 * The array @v of @n entries of @size bytes, with room for entry @n: the
 * allocation doubles when @n reaches a power of two (from 8), so that n
 * pushes cost O(n) without a capacity field.  NULL on ENOMEM (@v kept).
 */
static void *grow(void *v, size_t n, size_t size)
{
	if (n >= 8 && (n & (n - 1)))
		return v; /* not a power of two: the last doubling left room */
	return realloc(v, (n < 8 ? n + 1 : n * 2) * size);
}

int ep_strv_push(struct ep_strv *sv, const char *s)
{
	char *copy = strdup(s ? s : "");
	if (!copy)
		return -ENOMEM;
	char **nv = grow(sv->v, sv->n, sizeof(*sv->v));
	if (!nv) {
		free(copy);
		return -ENOMEM;
	}
	sv->v = nv;
	sv->v[sv->n++] = copy;
	return 0;
}

bool ep_strv_contains(const struct ep_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return true;
	return false;
}

void ep_strv_release(struct ep_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

int ep_kvv_push_at(struct ep_kvv *kv, const char *name, const char *value, const char *at,
		   const char *value_from)
{
	char *n = strdup(name ? name : ""), *v = strdup(value ? value : "");
	char *a = at ? strdup(at) : NULL, *f = value_from ? strdup(value_from) : NULL;
	struct ep_kv *nv = n && v && (!at || a) && (!value_from || f)
				   ? grow(kv->v, kv->n, sizeof(*kv->v))
				   : NULL;
	if (!nv) {
		free(n);
		free(v);
		free(a);
		free(f);
		return -ENOMEM;
	}
	kv->v = nv;
	kv->v[kv->n] = (struct ep_kv){ n, v, a, f };
	kv->n++;
	return 0;
}

int ep_kvv_push(struct ep_kvv *kv, const char *name, const char *value)
{
	return ep_kvv_push_at(kv, name, value, NULL, NULL);
}

void ep_kvv_release(struct ep_kvv *kv)
{
	for (size_t i = 0; i < kv->n; i++) {
		free(kv->v[i].name);
		free(kv->v[i].value);
		free(kv->v[i].at);
		free(kv->v[i].value_from);
	}
	free(kv->v);
	kv->v = NULL;
	kv->n = 0;
}

void ep_spec_release(struct ep_spec *spec)
{
	if (!spec)
		return;
	free(spec->name);
	free(spec->advertise_address);
	free(spec->etcd_version);
	free(spec->kubernetes_version);
	free(spec->patches_dir);
	if (spec->certificate_key)
		OPENSSL_cleanse(spec->certificate_key, strlen(spec->certificate_key));
	free(spec->certificate_key);
	free(spec->image_repository);
	free(spec->image_tag);
	free(spec->data_dir);
	free(spec->cert_dir);
	free(spec->manifest_dir);
	ep_kvv_release(&spec->extra_args);
	ep_kvv_release(&spec->extra_envs);
	ep_strv_release(&spec->server_cert_sans);
	ep_strv_release(&spec->peer_cert_sans);
	ep_strv_release(&spec->external.endpoints);
	free(spec->external.ca_file);
	free(spec->external.cert_file);
	free(spec->external.key_file);
	free(spec->systemd.etcd_binary);
	free(spec->systemd.release_url);
	free(spec->systemd.etcd_sha256);
	free(spec->systemd.systemctl);
	free(spec->systemd.unit_path);
	free(spec->systemd.env_file);
	free(spec->systemd.etcdctl_env_file);
	free(spec->systemd.bin_dir);
	free(spec->systemd.cache_dir);
	free(spec->op.backup_dir);
	for (size_t i = 0; i < EP_FIELD__MAX; i++) {
		free(spec->origin[i].detail);
		free(spec->origin[i].path);
	}
	memset(spec, 0, sizeof(*spec));
}

static int dup_into(char **dst, const char *src)
{
	if (!src) {
		*dst = NULL;
		return 0;
	}
	*dst = strdup(src);
	return *dst ? 0 : -ENOMEM;
}

static int strv_copy(struct ep_strv *dst, const struct ep_strv *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (ep_strv_push(dst, src->v[i]) < 0)
			return -ENOMEM;
	return 0;
}

static int kvv_copy(struct ep_kvv *dst, const struct ep_kvv *src)
{
	for (size_t i = 0; i < src->n; i++)
		if (ep_kvv_push_at(dst, src->v[i].name, src->v[i].value, src->v[i].at,
				   src->v[i].value_from) < 0)
			return -ENOMEM;
	return 0;
}

int ep_spec_copy(struct ep_spec *dst, const struct ep_spec *src)
{
	/* Copy the scalars, then replace every pointer by a private copy. */
	*dst = *src;
	memset(&dst->extra_args, 0, sizeof(dst->extra_args));
	memset(&dst->extra_envs, 0, sizeof(dst->extra_envs));
	memset(&dst->server_cert_sans, 0, sizeof(dst->server_cert_sans));
	memset(&dst->peer_cert_sans, 0, sizeof(dst->peer_cert_sans));
	memset(&dst->external.endpoints, 0, sizeof(dst->external.endpoints));
	int r = 0;
	r |= dup_into(&dst->name, src->name);
	r |= dup_into(&dst->advertise_address, src->advertise_address);
	r |= dup_into(&dst->etcd_version, src->etcd_version);
	r |= dup_into(&dst->kubernetes_version, src->kubernetes_version);
	r |= dup_into(&dst->patches_dir, src->patches_dir);
	r |= dup_into(&dst->certificate_key, src->certificate_key);
	r |= dup_into(&dst->image_repository, src->image_repository);
	r |= dup_into(&dst->image_tag, src->image_tag);
	r |= dup_into(&dst->data_dir, src->data_dir);
	r |= dup_into(&dst->cert_dir, src->cert_dir);
	r |= dup_into(&dst->manifest_dir, src->manifest_dir);
	r |= dup_into(&dst->external.ca_file, src->external.ca_file);
	r |= dup_into(&dst->external.cert_file, src->external.cert_file);
	r |= dup_into(&dst->external.key_file, src->external.key_file);
	r |= dup_into(&dst->systemd.etcd_binary, src->systemd.etcd_binary);
	r |= dup_into(&dst->systemd.release_url, src->systemd.release_url);
	r |= dup_into(&dst->systemd.etcd_sha256, src->systemd.etcd_sha256);
	r |= dup_into(&dst->systemd.systemctl, src->systemd.systemctl);
	r |= dup_into(&dst->systemd.unit_path, src->systemd.unit_path);
	r |= dup_into(&dst->systemd.env_file, src->systemd.env_file);
	r |= dup_into(&dst->systemd.etcdctl_env_file, src->systemd.etcdctl_env_file);
	r |= dup_into(&dst->systemd.bin_dir, src->systemd.bin_dir);
	r |= dup_into(&dst->systemd.cache_dir, src->systemd.cache_dir);
	r |= dup_into(&dst->op.backup_dir, src->op.backup_dir);
	r |= kvv_copy(&dst->extra_args, &src->extra_args);
	r |= kvv_copy(&dst->extra_envs, &src->extra_envs);
	r |= strv_copy(&dst->server_cert_sans, &src->server_cert_sans);
	r |= strv_copy(&dst->peer_cert_sans, &src->peer_cert_sans);
	r |= strv_copy(&dst->external.endpoints, &src->external.endpoints);
	for (size_t i = 0; i < EP_FIELD__MAX; i++) {
		r |= dup_into(&dst->origin[i].detail, src->origin[i].detail);
		r |= dup_into(&dst->origin[i].path, src->origin[i].path);
	}
	if (r) {
		ep_spec_release(dst);
		return -ENOMEM;
	}
	return 0;
}

/* ---- origins ------------------------------------------------------------ */

static const char *const field_names[EP_FIELD__MAX] = {
	[EP_FIELD_NAME] = "name",
	[EP_FIELD_ADVERTISE_ADDRESS] = "advertiseAddress",
	[EP_FIELD_MODE] = "mode",
	[EP_FIELD_ETCD_VERSION] = "etcdVersion",
	[EP_FIELD_KUBERNETES_VERSION] = "kubernetesVersion",
	[EP_FIELD_IMAGE] = "image",
	[EP_FIELD_IMAGE_REPOSITORY] = "imageRepository",
	[EP_FIELD_IMAGE_TAG] = "imageTag",
	[EP_FIELD_DATA_DIR] = "dataDir",
	[EP_FIELD_CERT_DIR] = "certificatesDir",
	[EP_FIELD_MANIFEST_DIR] = "manifestDir",
	[EP_FIELD_EXTRA_ARGS] = "extraArgs",
	[EP_FIELD_EXTRA_ENVS] = "extraEnvs",
	[EP_FIELD_SERVER_CERT_SANS] = "serverCertSANs",
	[EP_FIELD_PEER_CERT_SANS] = "peerCertSANs",
	[EP_FIELD_EXTERNAL] = "external",
	[EP_FIELD_KEY_TYPE] = "keyType",
	[EP_FIELD_CERT_VALIDITY] = "certificateValidityPeriod",
	[EP_FIELD_CA_CERT_VALIDITY] = "caCertificateValidityPeriod",
	[EP_FIELD_TIMEOUT] = "timeout",
	[EP_FIELD_HEALTH_CHECK] = "controlPlaneComponentHealthCheck",
	[EP_FIELD_SD_ETCD_BINARY] = "systemd.etcdBinary",
	[EP_FIELD_SD_RELEASE_URL] = "systemd.releaseURL",
	[EP_FIELD_SD_ETCD_SHA256] = "systemd.etcdSHA256",
	[EP_FIELD_SD_INSECURE_SKIP_CHECKSUM] = "systemd.insecureSkipChecksum",
	[EP_FIELD_SD_SYSTEMCTL] = "systemd.systemctl",
	[EP_FIELD_SD_UNIT_PATH] = "systemd.unitPath",
	[EP_FIELD_SD_ENV_FILE] = "systemd.envFile",
	[EP_FIELD_SD_ETCDCTL_ENV_FILE] = "systemd.etcdctlEnvFile",
	[EP_FIELD_SD_BIN_DIR] = "systemd.binDir",
	[EP_FIELD_SD_CACHE_DIR] = "systemd.cacheDir",
	[EP_FIELD_OP_INTERVAL] = "operator.interval",
	[EP_FIELD_OP_RENEW_BEFORE] = "operator.renewBefore",
	[EP_FIELD_OP_BACKUP_DIR] = "operator.backupDir",
	[EP_FIELD_OP_BACKUP_INTERVAL] = "operator.backupInterval",
	[EP_FIELD_OP_BACKUP_KEEP] = "operator.backupKeep",
	[EP_FIELD_JOIN] = "join",
	[EP_FIELD_PATCHES_DIRECTORY] = "patches.directory",
	[EP_FIELD_CERTIFICATE_KEY] = "controlPlane.certificateKey",
};

const char *ep_field_name(enum ep_field field)
{
	return (unsigned)field < EP_FIELD__MAX ? field_names[field] : NULL;
}

int ep_field_lookup(const char *name)
{
	for (int i = 0; name && i < EP_FIELD__MAX; i++)
		if (strcmp(field_names[i], name) == 0)
			return i;
	return -ENOENT;
}

const struct ep_origin *ep_spec_origin(const struct ep_spec *spec, const char *name)
{
	int f = ep_field_lookup(name);
	return f < 0 ? NULL : &spec->origin[f];
}

bool ep_spec_pinned(const struct ep_spec *spec, const char *name)
{
	const struct ep_origin *o = ep_spec_origin(spec, name);
	return o && (o->kind == EP_ORIGIN_FLAG || o->kind == EP_ORIGIN_FILE ||
		     o->kind == EP_ORIGIN_ENV);
}

int ep_spec_set_origin(struct ep_spec *spec, enum ep_field field, enum ep_origin_kind kind,
		       const char *detail, const char *path)
{
	if ((unsigned)field >= EP_FIELD__MAX)
		return -EINVAL;
	char *d = detail ? strdup(detail) : NULL, *p = path ? strdup(path) : NULL;
	if ((detail && !d) || (path && !p)) {
		free(d);
		free(p);
		return -ENOMEM;
	}
	struct ep_origin *o = &spec->origin[field];
	free(o->detail);
	free(o->path);
	*o = (struct ep_origin){ kind, d, p };
	return 0;
}

const char *ep_origin_kind_name(enum ep_origin_kind kind)
{
	static const char *const names[] = {
		[EP_ORIGIN_DEFAULT] = "default",   [EP_ORIGIN_FLAG] = "flag",
		[EP_ORIGIN_FILE] = "file",	   [EP_ORIGIN_ENV] = "environment",
		[EP_ORIGIN_DETECTED] = "detected", [EP_ORIGIN_DERIVED] = "derived",
	};
	return (unsigned)kind <= EP_ORIGIN_DERIVED ? names[kind] : "unknown";
}

char *ep_origin_describe(const struct ep_origin *o)
{
	const char *d = o->detail ? o->detail : "", *p = o->path;
	char *out = NULL;
	int r;
	switch (o->kind) {
	case EP_ORIGIN_FLAG:
		r = asprintf(&out, "from %s", d);
		break;
	case EP_ORIGIN_FILE:
		r = p ? asprintf(&out, "from %s (%s)", d, p) : asprintf(&out, "from %s", d);
		break;
	case EP_ORIGIN_ENV:
		r = asprintf(&out, "from $%s", d);
		break;
	case EP_ORIGIN_DETECTED:
		r = asprintf(&out, "detected: %s", d);
		break;
	case EP_ORIGIN_DERIVED:
		r = p ? asprintf(&out, "derived from %s (%s)", d, p)
		      : asprintf(&out, "derived from %s", d);
		break;
	default:
		r = o->detail ? asprintf(&out, "default (%s)", d) : asprintf(&out, "default");
		break;
	}
	return r < 0 ? NULL : out;
}

const char *ep_origin_at(const struct ep_origin *o, const char *fallback, char *buf, size_t len)
{
	if (!o || !len)
		return fallback;
	switch (o->kind) {
	case EP_ORIGIN_FILE:
		if (o->path)
			snprintf(buf, len, "%s: %s", o->detail ? o->detail : "", o->path);
		else
			snprintf(buf, len, "%s", o->detail ? o->detail : "");
		return buf;
	case EP_ORIGIN_FLAG:
	case EP_ORIGIN_ENV:
		snprintf(buf, len, "%s", o->detail ? o->detail : "");
		return buf;
	case EP_ORIGIN_DERIVED:
		if (!o->path)
			return fallback;
		snprintf(buf, len, "%s (%s)", o->path, o->detail ? o->detail : "");
		return buf;
	default:
		return fallback;
	}
}

static const char *const mode_names[] = {
	[EP_MODE_STATIC_POD] = "static-pod",
	[EP_MODE_SYSTEMD] = "systemd",
};

static const char *const key_names[] = {
	[EP_KEY_RSA_2048] = "RSA-2048",     [EP_KEY_RSA_3072] = "RSA-3072",
	[EP_KEY_RSA_4096] = "RSA-4096",     [EP_KEY_ECDSA_P256] = "ECDSA-P256",
	[EP_KEY_ECDSA_P384] = "ECDSA-P384",
};

static const char *const key_flag_names[] = {
	[EP_KEY_RSA_2048] = "rsa-2048",     [EP_KEY_RSA_3072] = "rsa-3072",
	[EP_KEY_RSA_4096] = "rsa-4096",     [EP_KEY_ECDSA_P256] = "ecdsa-p256",
	[EP_KEY_ECDSA_P384] = "ecdsa-p384",
};

const char *ep_mode_name(enum ep_mode mode)
{
	return (unsigned)mode < 2 ? mode_names[mode] : "unknown";
}

const char *ep_key_type_name(enum ep_key_type kt)
{
	return (unsigned)kt < 5 ? key_names[kt] : "unknown";
}

const char *ep_key_type_flag_name(enum ep_key_type kt)
{
	return (unsigned)kt < 5 ? key_flag_names[kt] : "unknown";
}

int ep_mode_parse(const char *s, enum ep_mode *ret)
{
	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < 2; i++)
		if (strcasecmp(s, mode_names[i]) == 0) {
			*ret = (enum ep_mode)i;
			return 0;
		}
	return -EINVAL;
}

int ep_key_type_parse(const char *s, enum ep_key_type *ret)
{
	if (!s)
		return -EINVAL;
	for (unsigned i = 0; i < 5; i++)
		if (strcasecmp(s, key_names[i]) == 0) {
			*ret = (enum ep_key_type)i;
			return 0;
		}
	return -EINVAL;
}

unsigned ep_etcd_minor(const char *version)
{
	if (!version)
		return 0;
	if (version[0] == 'v')
		version++;
	unsigned maj, min;
	if (sscanf(version, "%u.%u", &maj, &min) != 2 || maj > 9 || min > 99)
		return 0;
	return maj * 10 + min;
}

/* "X.Y.Z" with decimal numbers, no leading 'v', nothing after. */
bool ep_is_version(const char *s)
{
	if (!s)
		return false;
	for (int part = 0; part < 3; part++) {
		if (!isdigit((unsigned char)*s))
			return false;
		size_t n = 0;
		while (isdigit((unsigned char)*s)) {
			s++;
			if (++n > 6)
				return false;
		}
		if (part < 2 && *s++ != '.')
			return false;
	}
	return *s == '\0';
}

/*
 * The etcd version an image tag names ("3.5.21-0" -> "3.5.21"), written to
 * @buf; false when the tag does not start with one ("latest", "v3.5.21").
 */
bool ep_image_tag_version(const char *tag, char *buf, size_t len)
{
	if (!tag || !len)
		return false;
	/* registry.k8s.io tags are "3.6.6-0"; etcd's own images are "v3.6.6". */
	if (tag[0] == 'v')
		tag++;
	size_t n = strcspn(tag, "-");
	if (n >= len)
		return false;
	memcpy(buf, tag, n);
	buf[n] = '\0';
	return ep_is_version(buf);
}

char *ep_default_image_tag(const char *version)
{
	if (!version)
		return NULL;
	if (version[0] == 'v')
		version++;
	char *out = NULL;
	if (asprintf(&out, "%s-0", version) < 0)
		return NULL;
	return out;
}

const char *ep_spec_extra_arg(const struct ep_spec *spec, const char *name)
{
	const char *found = NULL;
	for (size_t i = 0; i < spec->extra_args.n; i++)
		if (strcmp(spec->extra_args.v[i].name, name) == 0)
			found = spec->extra_args.v[i].value;
	return found;
}

bool ep_addr_is_ipv6(const char *addr)
{
	struct in6_addr a6;
	return addr && inet_pton(AF_INET6, addr, &a6) == 1;
}

char *ep_url(const char *scheme, const char *addr, unsigned port)
{
	char *out = NULL;
	int r = ep_addr_is_ipv6(addr) ? asprintf(&out, "%s://[%s]:%u", scheme, addr, port)
				      : asprintf(&out, "%s://%s:%u", scheme, addr, port);
	return r < 0 ? NULL : out;
}

/* The interface of the IPv4 default route, from /proc/net/route. */
static int default_route_iface(char *ifname, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/net/route", "re");
	if (!f)
		return -errno;
	char line[512];
	if (!fgets(line, sizeof(line), f))
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		char name[IFNAMSIZ + 1];
		unsigned long dest, mask;
		unsigned gw, flags;
		if (sscanf(line, "%16s %lx %x %x %*d %*d %*d %lx", name, &dest, &gw, &flags,
			   &mask) != 5)
			continue;
		if (dest == 0 && mask == 0 && (flags & 0x1)) {
			snprintf(ifname, len, "%s", name);
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * The primary IPv4 address of the default route's interface, as kubeadm
 * picks it.  One SIOCGIFADDR ioctl instead of getifaddrs(), whose netlink
 * dump of every link and address cost each command about a millisecond.
 */
static int detect_address(char **ret, char *ifname, size_t ifname_len)
{
	if (default_route_iface(ifname, ifname_len) < 0)
		return -ENOENT;
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	size_t n = strlen(ifname);
	if (n >= sizeof(ifr.ifr_name))
		return -ENOENT; /* no interface has a name that long */
	memcpy(ifr.ifr_name, ifname, n + 1);
	if (ioctl(fd, SIOCGIFADDR, &ifr) < 0 || ifr.ifr_addr.sa_family != AF_INET)
		return -ENOENT;
	char buf[INET_ADDRSTRLEN];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&ifr.ifr_addr;
	if (!inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)))
		return -ENOENT;
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

/*
 * The etcd kubeadm runs with a Kubernetes minor version: one row per minor,
 * each the entry of kubeadm's SupportedEtcdVersion
 * (cmd/kubeadm/app/constants/constants.go) in the newest kubeadm source
 * read that lists that minor - patch releases move these, so the source of
 * each row is named:
 *   1.35       3.6.6   v1.35.0's manifest (kubernetes PR #135271, "Update etcd to v3.6.6")
 *   1.34       3.6.5   constants.go of the 1.34 line: {31-33: 3.5.24-0, 34: 3.6.5-0}
 *   1.29-1.33  3.5.24  the 1.34 line (31-33) and kubernetes@00886ac0 of the 1.32 line
 *                      ({29-32: 3.5.24-0}, the 3.5.24 backports #134692, #134779)
 *   1.22-1.28  3.5.24  no longer in any table: kubeadm takes the nearest entry (the
 *                      oldest row above), as EtcdSupportedVersion does with a warning
 *   1.19-1.21  3.4.13, 1.17-1.18 3.4.3   kubeadm of those releases
 * A minor newer than the table gets its newest row, as kubeadm takes the
 * nearest entry.  NULL for a label such as "stable" (the newest, so the
 * default); "" for a release older than 1.17, whose etcd 3.3 etcdpilot does
 * not run.
 */
static const char *etcd_for_kubernetes(const char *kv)
{
	static const struct {
		unsigned minor;
		const char *etcd;
	} table[] = {
		{ 35, "3.6.6" },  { 34, "3.6.5" },  { 33, "3.5.24" }, { 32, "3.5.24" },
		{ 31, "3.5.24" }, { 30, "3.5.24" }, { 29, "3.5.24" }, { 28, "3.5.24" },
		{ 27, "3.5.24" }, { 26, "3.5.24" }, { 25, "3.5.24" }, { 24, "3.5.24" },
		{ 23, "3.5.24" }, { 22, "3.5.24" }, { 21, "3.4.13" }, { 20, "3.4.13" },
		{ 19, "3.4.13" }, { 18, "3.4.3" },  { 17, "3.4.3" },
	};
	if (kv[0] == 'v')
		kv++;
	unsigned major, minor;
	int used = 0;
	if (sscanf(kv, "%u.%u%n", &major, &minor, &used) != 2 || major != 1 ||
	    (kv[used] && kv[used] != '.' && kv[used] != '-' && kv[used] != '+'))
		return NULL;
	if (minor > table[0].minor)
		return table[0].etcd;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (minor == table[i].minor)
			return table[i].etcd;
	return "";
}

/* Fill the string field @f at @field with @value unless it is set; a default then. */
static int set_default(struct ep_spec *spec, enum ep_field f, char **field, const char *value)
{
	if (*field)
		return 0;
	*field = strdup(value);
	if (!*field)
		return -ENOMEM;
	return ep_spec_set_origin(spec, f, EP_ORIGIN_DEFAULT, NULL, NULL);
}

/* Likewise for a number that is unset while 0. */
static int set_default_u64(struct ep_spec *spec, enum ep_field f, uint64_t *field,
			   uint64_t value)
{
	if (*field)
		return 0;
	*field = value;
	return ep_spec_set_origin(spec, f, EP_ORIGIN_DEFAULT, NULL, NULL);
}

/*
 * Record @f as derived from @what ("imageTag 3.6.6-0"), naming where the
 * source field @from was given when the user gave it.
 */
static int set_derived(struct ep_spec *spec, enum ep_field f, enum ep_field from,
		       const char *what)
{
	char at[EP_ERROR_MAX];
	const char *src = ep_spec_pinned(spec, ep_field_name(from))
				  ? ep_origin_at(&spec->origin[from], NULL, at, sizeof(at))
				  : NULL;
	return ep_spec_set_origin(spec, f, EP_ORIGIN_DERIVED, what, src);
}

/* As set_derived, with @what "NAME DURATION" of the field @from. */
static int set_derived_dur(struct ep_spec *spec, enum ep_field f, enum ep_field from,
			   const char *prefix, uint64_t ms)
{
	_cleanup_free_ char *d = ep_duration_format(ms), *what = NULL;
	if (!d || asprintf(&what, "%s%s %s", prefix, ep_field_name(from), d) < 0)
		return -ENOMEM;
	return set_derived(spec, f, from, what);
}

int ep_spec_defaults(struct ep_spec *spec, struct ep_error *err)
{
	char at[EP_ERROR_MAX], what[256];
	int r = 0;
	if (!spec->name) {
		char host[256] = "";
		if (gethostname(host, sizeof(host) - 1) < 0 || !host[0])
			return ep_error_usage(err, -ENOENT,
					      "node name: cannot read the host name; set "
					      "nodeRegistration.name or --name");
		for (char *p = host; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		r |= set_default(spec, EP_FIELD_NAME, &spec->name, host);
		r |= ep_spec_set_origin(spec, EP_FIELD_NAME, EP_ORIGIN_DETECTED, "the host name",
					NULL);
	}
	if (!spec->advertise_address) {
		char ifname[IFNAMSIZ + 1] = "";
		int d = detect_address(&spec->advertise_address, ifname, sizeof(ifname));
		if (d == -ENOMEM)
			return ep_error_set(err, d, "out of memory");
		if (d < 0)
			return ep_error_usage(err, -ENOENT,
					      "advertise address: no default route to take an "
					      "address from; set localAPIEndpoint.advertiseAddress "
					      "or --advertise-address");
		snprintf(what, sizeof(what), "interface %s (default route)", ifname);
		r |= ep_spec_set_origin(spec, EP_FIELD_ADVERTISE_ADDRESS, EP_ORIGIN_DETECTED, what,
					NULL);
	}
	/*
	 * An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is the IPv4 address
	 * it maps, and is written as one everywhere: URLs, probes, SANs.  It
	 * keeps its origin: the user gave this address, in another spelling.
	 */
	struct in6_addr a6;
	if (inet_pton(AF_INET6, spec->advertise_address, &a6) == 1 &&
	    IN6_IS_ADDR_V4MAPPED(&a6)) {
		char v4[INET_ADDRSTRLEN];
		if (inet_ntop(AF_INET, &a6.s6_addr[12], v4, sizeof(v4))) {
			char *c = strdup(v4);
			if (!c)
				return ep_error_set(err, -ENOMEM, "out of memory");
			free(spec->advertise_address);
			spec->advertise_address = c;
		}
	}
	/*
	 * The version: given, else read from the image tag, else the one
	 * kubeadm pairs with kubernetesVersion, else the default.  A tag that
	 * names no version ("latest") cannot decide the flags and probes.
	 */
	char tagv[32];
	if (!spec->etcd_version && spec->image_tag) {
		if (!ep_image_tag_version(spec->image_tag, tagv, sizeof(tagv)))
			return ep_error_usage(err, -EINVAL,
					      "%s: '%s' does not say which etcd version the image "
					      "runs, and the version decides the flags and probes; "
					      "give it with --etcd-version or etcdVersion in an "
					      "EtcdPilotConfiguration",
					      ep_origin_at(&spec->origin[EP_FIELD_IMAGE_TAG],
							   "etcd.local.imageTag", at, sizeof(at)),
					      spec->image_tag);
		r |= set_default(spec, EP_FIELD_ETCD_VERSION, &spec->etcd_version, tagv);
		snprintf(what, sizeof(what), "imageTag %s", spec->image_tag);
		r |= set_derived(spec, EP_FIELD_ETCD_VERSION, EP_FIELD_IMAGE_TAG, what);
	}
	if (!spec->etcd_version && spec->kubernetes_version) {
		const char *v = etcd_for_kubernetes(spec->kubernetes_version);
		if (v && !*v)
			return ep_error_usage(err, -EINVAL,
					      "%s: '%s' ran etcd 3.3 or older, which etcdpilot does "
					      "not run (3.4, 3.5 and 3.6); give --etcd-version",
					      ep_origin_at(&spec->origin[EP_FIELD_KUBERNETES_VERSION],
							   "kubernetesVersion", at, sizeof(at)),
					      spec->kubernetes_version);
		if (v) {
			r |= set_default(spec, EP_FIELD_ETCD_VERSION, &spec->etcd_version, v);
			/* kubernetesVersion is free text: %.200s keeps the detail bounded. */
			snprintf(what, sizeof(what), "kubernetesVersion %.200s",
				 spec->kubernetes_version);
			r |= set_derived(spec, EP_FIELD_ETCD_VERSION, EP_FIELD_KUBERNETES_VERSION,
					 what);
		}
	}
	r |= set_default(spec, EP_FIELD_ETCD_VERSION, &spec->etcd_version, DEFAULT_ETCD_VERSION);
	if (!spec->image_tag) {
		spec->image_tag = ep_default_image_tag(spec->etcd_version);
		if (!spec->image_tag)
			r = -ENOMEM;
		snprintf(what, sizeof(what), "etcdVersion %s", spec->etcd_version);
		r |= set_derived(spec, EP_FIELD_IMAGE_TAG, EP_FIELD_ETCD_VERSION, what);
	}
	r |= set_default(spec, EP_FIELD_IMAGE_REPOSITORY, &spec->image_repository,
			 "registry.k8s.io");
	r |= ep_spec_set_origin(spec, EP_FIELD_IMAGE, EP_ORIGIN_DERIVED,
				"imageRepository and imageTag", NULL);
	r |= set_default(spec, EP_FIELD_DATA_DIR, &spec->data_dir, "/var/lib/etcd");
	r |= set_default(spec, EP_FIELD_CERT_DIR, &spec->cert_dir, "/etc/kubernetes/pki");
	r |= set_default(spec, EP_FIELD_MANIFEST_DIR, &spec->manifest_dir,
			 "/etc/kubernetes/manifests");
	r |= set_default_u64(spec, EP_FIELD_CERT_VALIDITY, &spec->cert_validity_s, 8760ull * 3600);
	r |= set_default_u64(spec, EP_FIELD_CA_CERT_VALIDITY, &spec->ca_cert_validity_s,
			     87600ull * 3600);
	r |= set_default_u64(spec, EP_FIELD_HEALTH_CHECK, &spec->health_check_ms,
			     4ull * 60 * 1000);
	if (!spec->timeout_ms) {
		spec->timeout_ms = spec->health_check_ms;
		r |= set_derived_dur(spec, EP_FIELD_TIMEOUT, EP_FIELD_HEALTH_CHECK, "",
				     spec->health_check_ms);
	}

	r |= set_default(spec, EP_FIELD_SD_SYSTEMCTL, &spec->systemd.systemctl, "systemctl");
	r |= set_default(spec, EP_FIELD_SD_UNIT_PATH, &spec->systemd.unit_path,
			 "/etc/systemd/system/etcd.service");
	r |= set_default(spec, EP_FIELD_SD_ENV_FILE, &spec->systemd.env_file, "/etc/etcd/etcd.env");
	r |= set_default(spec, EP_FIELD_SD_ETCDCTL_ENV_FILE, &spec->systemd.etcdctl_env_file,
			 "/etc/etcd/etcdctl.env");
	r |= set_default(spec, EP_FIELD_SD_BIN_DIR, &spec->systemd.bin_dir, "/usr/local/bin");
	r |= set_default(spec, EP_FIELD_SD_CACHE_DIR, &spec->systemd.cache_dir,
			 "/var/cache/etcdpilot/etcd");

	r |= set_default_u64(spec, EP_FIELD_OP_INTERVAL, &spec->op.interval_ms, 30ull * 1000);
	/* 30 days before expiry, or a third of a shorter validity (kubeadm allows 48h). */
	if (!spec->op.renew_before_ms) {
		spec->op.renew_before_ms = 30ull * 24 * 3600 * 1000;
		r |= ep_spec_set_origin(spec, EP_FIELD_OP_RENEW_BEFORE, EP_ORIGIN_DEFAULT, NULL,
					NULL);
		if (spec->op.renew_before_ms >= spec->cert_validity_s * 1000 / 3) {
			spec->op.renew_before_ms = spec->cert_validity_s * 1000 / 3;
			r |= set_derived_dur(spec, EP_FIELD_OP_RENEW_BEFORE, EP_FIELD_CERT_VALIDITY,
					     "a third of ", spec->cert_validity_s * 1000);
		}
		if (!spec->op.renew_before_ms)
			spec->op.renew_before_ms = 1;
	}
	r |= set_default_u64(spec, EP_FIELD_OP_BACKUP_INTERVAL, &spec->op.backup_interval_ms,
			     6ull * 3600 * 1000);
	if (!spec->op.backup_keep) {
		spec->op.backup_keep = 5;
		r |= ep_spec_set_origin(spec, EP_FIELD_OP_BACKUP_KEEP, EP_ORIGIN_DEFAULT, NULL,
					NULL);
	}
	r |= set_default(spec, EP_FIELD_OP_BACKUP_DIR, &spec->op.backup_dir,
			 "/var/lib/etcdpilot/backup");
	if (r)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}
