/*
 * spec.h - the node spec: the one plain struct that says what this node's
 * etcd member must look like, with every default filled in.
 *
 * It is built from the config file(s) and the flags (config.h), validated
 * before anything is written, and then read by every phase (certs,
 * manifest, unit, client...).  Paths in it are node paths (as on the real
 * host); ep_root_path() maps them under --root when files are touched.
 */
#ifndef ETCDPILOT_SPEC_H
#define ETCDPILOT_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ep_error;

enum ep_mode {
	EP_MODE_STATIC_POD = 0,
	EP_MODE_SYSTEMD,
};

enum ep_key_type {
	EP_KEY_RSA_2048 = 0,
	EP_KEY_RSA_3072,
	EP_KEY_RSA_4096,
	EP_KEY_ECDSA_P256,
	EP_KEY_ECDSA_P384,
};

/* A growable list of owned strings. */
struct ep_strv {
	char **v;
	size_t n;
};

/* name=value pair: an etcd extra argument or an environment variable. */
struct ep_kv {
	char *name;
	char *value;
	/*
	 * Where a config file gave it ("FILE:LINE:COL: etcd.local.extraArgs[2]"),
	 * for messages; NULL when it came from elsewhere.
	 */
	char *at;
	/*
	 * extraEnvs only: a Kubernetes EnvVarSource (valueFrom) as compact JSON
	 * with string values ({"fieldRef":{"fieldPath":"status.podIP"}}), the
	 * value then being empty; NULL for a plain value.
	 */
	char *value_from;
};

struct ep_kvv {
	struct ep_kv *v;
	size_t n;
};

struct ep_external {
	bool set;               /* etcd.external was given */
	struct ep_strv endpoints;
	char *ca_file;
	char *cert_file;
	char *key_file;
};

struct ep_systemd {
	char *etcd_binary;      /* local etcd to install (etcdctl beside it) */
	char *release_url;      /* https://, http:// or file:// tarball or its directory */
	char *etcd_sha256;      /* hex SHA-256 of the tarball */
	bool insecure_skip_checksum;
	char *systemctl;        /* systemctl to run; default "systemctl" */
	char *unit_path;        /* /etc/systemd/system/etcd.service */
	char *env_file;         /* /etc/etcd/etcd.env */
	char *etcdctl_env_file; /* /etc/etcd/etcdctl.env */
	char *bin_dir;          /* /usr/local/bin */
	char *cache_dir;        /* /var/cache/etcdpilot/etcd */
};

struct ep_operator {
	uint64_t interval_ms;       /* reconcile period, default 30s */
	uint64_t renew_before_ms;   /* renew leaf certs this long before expiry, default 30d */
	char *backup_dir;           /* snapshots, default /var/lib/etcdpilot/backup */
	uint64_t backup_interval_ms;/* periodic snapshot, default 6h */
	unsigned backup_keep;       /* snapshots kept, default 5 */
};

/*
 * Where a spec field's value came from.  Every field has one; a fresh spec
 * (ep_spec_init) has EP_ORIGIN_DEFAULT everywhere.
 */
enum ep_origin_kind {
	EP_ORIGIN_DEFAULT = 0, /* etcdpilot's (kubeadm's) default, or no value at all */
	EP_ORIGIN_FLAG,        /* a command-line flag */
	EP_ORIGIN_FILE,        /* the config file */
	EP_ORIGIN_ENV,         /* an environment variable */
	EP_ORIGIN_DETECTED,    /* read from this machine (host name, default route) */
	EP_ORIGIN_DERIVED,     /* computed from another field */
};

struct ep_origin {
	enum ep_origin_kind kind;
	/*
	 * FLAG: the flag ("--name"); FILE: "FILE:LINE:COL"; ENV: the variable
	 * ("ETCDPILOT_SYSTEMCTL"); DETECTED: how ("interface eth0 (default
	 * route)"); DERIVED: from what ("kubernetesVersion v1.34.2", "extraArgs
	 * data-dir"); DEFAULT: NULL.
	 */
	char *detail;
	/*
	 * FILE: the field's path in the file ("etcd.local.imageTag").  DERIVED:
	 * where the value it was derived from was given, as messages name it
	 * ("kubeadm.yaml:14:17: etcd.local.imageTag", "--etcd-version"), or NULL
	 * when that was not given either.  Otherwise NULL.
	 */
	char *path;
};

/*
 * The spec's fields by their config path names, the names ep_spec_to_json
 * prints ("etcdVersion", "systemd.systemctl"): the keys of the origin table.
 */
enum ep_field {
	EP_FIELD_NAME = 0,
	EP_FIELD_ADVERTISE_ADDRESS,
	EP_FIELD_MODE,
	EP_FIELD_ETCD_VERSION,
	EP_FIELD_KUBERNETES_VERSION,
	EP_FIELD_IMAGE, /* always derived from imageRepository and imageTag */
	EP_FIELD_IMAGE_REPOSITORY,
	EP_FIELD_IMAGE_TAG,
	EP_FIELD_DATA_DIR,
	EP_FIELD_CERT_DIR,
	EP_FIELD_MANIFEST_DIR,
	EP_FIELD_EXTRA_ARGS, /* the list; each entry's own position is its ep_kv.at */
	EP_FIELD_EXTRA_ENVS,
	EP_FIELD_SERVER_CERT_SANS,
	EP_FIELD_PEER_CERT_SANS,
	EP_FIELD_EXTERNAL,
	EP_FIELD_KEY_TYPE,
	EP_FIELD_CERT_VALIDITY,
	EP_FIELD_CA_CERT_VALIDITY,
	EP_FIELD_TIMEOUT,
	EP_FIELD_HEALTH_CHECK,
	EP_FIELD_SD_ETCD_BINARY,
	EP_FIELD_SD_RELEASE_URL,
	EP_FIELD_SD_ETCD_SHA256,
	EP_FIELD_SD_INSECURE_SKIP_CHECKSUM,
	EP_FIELD_SD_SYSTEMCTL,
	EP_FIELD_SD_UNIT_PATH,
	EP_FIELD_SD_ENV_FILE,
	EP_FIELD_SD_ETCDCTL_ENV_FILE,
	EP_FIELD_SD_BIN_DIR,
	EP_FIELD_SD_CACHE_DIR,
	EP_FIELD_OP_INTERVAL,
	EP_FIELD_OP_RENEW_BEFORE,
	EP_FIELD_OP_BACKUP_DIR,
	EP_FIELD_OP_BACKUP_INTERVAL,
	EP_FIELD_OP_BACKUP_KEEP,
	EP_FIELD_JOIN,
	EP_FIELD_PATCHES_DIRECTORY, /* kubeadm's patches.directory; not printed */
	EP_FIELD_CERTIFICATE_KEY,   /* controlPlane.certificateKey; a secret: not printed */
	EP_FIELD__MAX,
};

struct ep_spec {
	/* node identity */
	char *name;              /* nodeRegistration.name / --name; RFC 1123 */
	char *advertise_address; /* IPv4 or IPv6 literal, no brackets */
	enum ep_mode mode;

	/* etcd version and image */
	char *etcd_version;      /* "3.6.6": X.Y.Z */
	char *kubernetes_version;/* from ClusterConfiguration: picks the etcd version; may be NULL */
	char *patches_dir;       /* kubeadm's patches.directory; NULL when not given */
	char *certificate_key;   /* a JoinConfiguration's controlPlane.certificateKey: the
				    key of join --ca-bundle when --certificate-key is not
				    given; a secret, never printed; NULL when not given */
	char *image_repository;  /* etcd.local.imageRepository or the cluster's; registry.k8s.io */
	char *image_tag;         /* "3.6.6-0" */

	/* files */
	char *data_dir;          /* /var/lib/etcd */
	char *cert_dir;          /* certificatesDir, /etc/kubernetes/pki */
	char *manifest_dir;      /* /etc/kubernetes/manifests */

	/* etcd.local */
	struct ep_kvv extra_args; /* name without dashes; duplicates allowed, order kept */
	struct ep_kvv extra_envs;
	struct ep_strv server_cert_sans;
	struct ep_strv peer_cert_sans;
	struct ep_external external;

	/* PKI */
	enum ep_key_type key_type;
	uint64_t cert_validity_s;     /* 8760h */
	uint64_t ca_cert_validity_s;  /* 87600h */

	/* join (JoinConfiguration / etcdpilot join) */
	bool is_join;

	uint64_t timeout_ms;          /* wait deadline for init/join; default health_check_ms */
	/*
	 * kubeadm's timeouts.controlPlaneComponentHealthCheck (v1beta4), default
	 * 4m: how long the startup probe gives etcd (its failureThreshold is
	 * this over the 10 s period), and the wait's deadline unless --timeout
	 * or EtcdPilotConfiguration.timeout says otherwise.
	 */
	uint64_t health_check_ms;

	struct ep_systemd systemd;
	struct ep_operator op;

	/* Where each field came from (ep_spec_origin); owned by the spec. */
	struct ep_origin origin[EP_FIELD__MAX];
};

/* Zero @spec; call ep_spec_release() when done. */
void ep_spec_init(struct ep_spec *spec);

/* Free everything @spec owns and zero it.  NULL is fine. */
void ep_spec_release(struct ep_spec *spec);

/* Deep copy @src into the zeroed @dst, origins included.  Returns 0 or -ENOMEM. */
int ep_spec_copy(struct ep_spec *dst, const struct ep_spec *src);

/*
 * Fill every unset field of @spec with its default (kubeadm's where kubeadm
 * has one).  The name defaults to the lowercased host name, the advertise
 * address to the address of the interface that carries the default route;
 * an IPv4-mapped IPv6 advertise address (::ffff:10.0.0.1) becomes the IPv4
 * address it is, so that every URL, probe and SAN treats it as IPv4.
 * Each field it fills is recorded as a default, detected (the name, the
 * address and its interface) or derived (the etcd version from the image
 * tag or kubernetesVersion, the image tag from the version, the timeout
 * from the health check...); the origins of fields already set are kept.
 * Returns 0, or a negative errno with @err set when a default cannot be
 * found (e.g. no advertise address could be detected).
 */
int ep_spec_defaults(struct ep_spec *spec, struct ep_error *err);

/*
 * The config path name of @field ("etcdVersion", "systemd.systemctl"),
 * static; NULL for a value out of range.
 */
const char *ep_field_name(enum ep_field field);

/* The field called @name (exact match); -ENOENT when there is none. */
int ep_field_lookup(const char *name);

/*
 * Where the field called @name of @spec came from.  The pointer belongs to
 * @spec; NULL when no field has that name.
 */
const struct ep_origin *ep_spec_origin(const struct ep_spec *spec, const char *name);

/*
 * True when the user set the field called @name: by a flag, in the config
 * file or in the environment (not a default, not detected, not derived).
 * False for an unknown name.
 */
bool ep_spec_pinned(const struct ep_spec *spec, const char *name);

/*
 * Record where @field came from, replacing what was recorded: @detail and
 * @path (each may be NULL) as struct ep_origin describes them, copied.
 * Returns 0 or -ENOMEM (the old origin is kept then), -EINVAL for a field
 * out of range.
 */
int ep_spec_set_origin(struct ep_spec *spec, enum ep_field field, enum ep_origin_kind kind,
		       const char *detail, const char *path);

/* "default", "flag", "file", "environment", "detected", "derived". */
const char *ep_origin_kind_name(enum ep_origin_kind kind);

/*
 * @o in words, for people: "from kubeadm.yaml:14:17 (etcd.local.imageTag)",
 * "from --name", "from $ETCDPILOT_SYSTEMCTL", "default", "detected:
 * interface eth0 (default route)", "derived from kubernetesVersion v1.34.2
 * (kubeadm.yaml:9:20: kubernetesVersion)".  The strings are copied as they
 * are; escaping is the printer's business.  Heap string, NULL on ENOMEM.
 */
char *ep_origin_describe(const struct ep_origin *o);

/*
 * Where @o says a value was given, as error messages name it, into @buf
 * (@len bytes): "FILE:LINE:COL: field.path" for the file, the flag or the
 * variable, "SOURCE (what)" for a derived value with a source ("t.yaml:7:13:
 * etcd.local.extraArgs[0] (extraArgs data-dir)"), else @fallback.  Returns
 * @buf, or @fallback itself.
 */
const char *ep_origin_at(const struct ep_origin *o, const char *fallback, char *buf, size_t len);

/* Textual names, as in configs and flags ("static-pod", "ECDSA-P256", ...). */
const char *ep_mode_name(enum ep_mode mode);
const char *ep_key_type_name(enum ep_key_type kt);      /* "RSA-2048" */
const char *ep_key_type_flag_name(enum ep_key_type kt); /* "rsa-2048" */
/* Parse either spelling, case-insensitively.  0 or -EINVAL. */
int ep_mode_parse(const char *s, enum ep_mode *ret);
int ep_key_type_parse(const char *s, enum ep_key_type *ret);

/* The etcd minor line of @version "3.5.21" -> 35; 0 when unparsable. */
unsigned ep_etcd_minor(const char *version);

/* True for "X.Y.Z" (decimal numbers, no 'v', nothing after). */
bool ep_is_version(const char *s);

/*
 * The etcd version an image tag names ("3.5.21-0" -> "3.5.21") into @buf
 * (@len bytes); false when the tag does not start with X.Y.Z ("latest").
 */
bool ep_image_tag_version(const char *tag, char *buf, size_t len);

/* Default image tag for an etcd version: "3.5.21" -> "3.5.21-0". Heap. */
char *ep_default_image_tag(const char *version);

/*
 * Lookup the last extra arg called @name (no dashes); NULL when absent.
 * The returned pointer belongs to @spec.
 */
const char *ep_spec_extra_arg(const struct ep_spec *spec, const char *name);

/* True when @addr is an IPv6 literal. */
bool ep_addr_is_ipv6(const char *addr);

/*
 * Format "https://<addr>:<port>" with brackets for IPv6.  Heap string or
 * NULL on ENOMEM.  @scheme is "https" or "http".
 */
char *ep_url(const char *scheme, const char *addr, unsigned port);

/*
 * ep_strv / ep_kvv helpers.  All return 0 or -ENOMEM and copy their input;
 * pushing n entries costs O(n) in all.  ep_kvv_push_at also records @at
 * and @value_from (each may be NULL).
 */
int ep_strv_push(struct ep_strv *sv, const char *s);
bool ep_strv_contains(const struct ep_strv *sv, const char *s);
void ep_strv_release(struct ep_strv *sv);
int ep_kvv_push(struct ep_kvv *kv, const char *name, const char *value);
int ep_kvv_push_at(struct ep_kvv *kv, const char *name, const char *value, const char *at,
		   const char *value_from);
void ep_kvv_release(struct ep_kvv *kv);

#endif
