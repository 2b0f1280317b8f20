/*
 * config.h - from config file and flags to a validated node spec.
 *
 * The loader reads a multi-document YAML file with libyaml: kubeadm's
 * InitConfiguration / JoinConfiguration / ClusterConfiguration
 * (kubeadm.k8s.io/v1beta3 and v1beta4) and etcdpilot's own
 * EtcdPilotConfiguration (etcdpilot.io/v1alpha1).  Other kubeadm-family
 * kinds are skipped with a note; anything else is an error.  Every error is
 * of kind EP_ERR_USAGE and reads "FILE:LINE:COL: field.path: what is wrong
 * (what is allowed)".
 */
#ifndef ETCDPILOT_CONFIG_H
#define ETCDPILOT_CONFIG_H

#include <stddef.h>

#include "etcdpilot/spec.h"

struct ep_error;

/*
 * Node flags as given on the command line (NULL = not given), and the
 * environment variables that stand in for a flag.  Each one overrides the
 * config file; a flag overrides its variable.  Values are borrowed, not
 * copied.  The library reads no environment: the caller fills the env_*
 * members (the ETCDCTL_* variables choose endpoints and client
 * certificates, which are not part of the node spec: see client.h).
 */
struct ep_overrides {
	const char *name;
	const char *advertise_address;
	const char *mode;
	const char *etcd_version;
	const char *image_repository;
	const char *data_dir;
	const char *cert_dir;
	const char *manifest_dir;
	const char *key_type;
	const char *timeout;        /* Go duration ("90s") */
	const char *etcd_binary;
	const char *release_url;
	const char *etcd_sha256;
	const char *systemctl;
	int insecure_skip_checksum; /* -1 not given, 0/1 */
	const char *env_systemctl;  /* $ETCDPILOT_SYSTEMCTL; NULL or "": not set */
};

/* Notes the loader has for the user (skipped kinds, external etcd...). */
struct ep_notes {
	char **v;
	size_t n;
};

void ep_notes_release(struct ep_notes *notes);

/*
 * Parse the YAML text @buf (@len bytes) named @filename (for messages) into
 * @spec, which must be initialised (ep_spec_init) and may already hold
 * values; fields present in the text replace them, and each records its
 * origin as EP_ORIGIN_FILE with "FILENAME:LINE:COL" and its field path
 * ("etcd.local.imageTag").  Notes are appended to
 * @notes (may be NULL).  Does not apply defaults.  Returns 0 or a negative
 * errno with @err set (EP_ERR_USAGE).
 */
int ep_config_parse(struct ep_spec *spec, const char *filename, const char *buf, size_t len,
		    struct ep_notes *notes, struct ep_error *err);

/*
 * Read @path (may be NULL: no file) and build the complete node spec:
 * parse, apply @ov (may be NULL), fill defaults, validate.  The config path
 * is a path of the invoking user, not a node path, so it is NOT mapped
 * under --root.  A file that cannot be read is a usage error too.  Returns 0
 * or a negative errno with @err set.
 */
int ep_config_load(struct ep_spec *spec, const char *path, const struct ep_overrides *ov,
		   struct ep_notes *notes, struct ep_error *err);

/*
 * Apply the flag overrides @ov to @spec (may be NULL: nothing to do),
 * checking each value; errors read "--name: 'Bad_Name' is not ...".
 * --etcd-binary and --release-url each replace the other's file setting
 * (one source of etcd); together they are an error.  Each field set (or
 * emptied) records the flag as its origin, or the variable for env_*.
 * 0 or -errno.
 */
int ep_config_apply_overrides(struct ep_spec *spec, const struct ep_overrides *ov,
			      struct ep_error *err);

/*
 * Check the whole, defaulted spec (names, addresses, versions, SANs, paths,
 * conflicting options).  Messages name the spec field as the config file
 * spells it ("serverCertSANs[1]: ..."); file positions and flag names are
 * reported earlier, by ep_config_parse and ep_config_apply_overrides.
 * Returns 0 or a negative errno with @err set (EP_ERR_USAGE).
 */
int ep_spec_validate(const struct ep_spec *spec, struct ep_error *err);

/*
 * Parse a Go duration ("8760h", "1h30m", "90s", "500ms", "8760h0m0s") into
 * milliseconds.  Returns 0 or -EINVAL / -ERANGE.
 */
int ep_duration_parse(const char *s, uint64_t *ret_ms);

/* Format @ms as a Go duration ("8760h0m0s"). Heap string or NULL. */
char *ep_duration_format(uint64_t ms);

/* RFC 1123 label / subdomain checks, as Kubernetes applies them to node names. */
bool ep_is_dns1123_subdomain(const char *s);

/* True for a valid IPv4 or IPv6 literal (no brackets, no zone). */
bool ep_is_ip(const char *s);

/*
 * Why the IP literal @s cannot be a member's address ("the unspecified
 * address", "the broadcast address", "a multicast address", ...; an
 * IPv4-mapped IPv6 address as its IPv4 address), NULL when it can (or is
 * no IP literal).  Static string.
 */
const char *ep_addr_unusable(const char *s);

/*
 * The extraArgs of @spec against what etcdpilot derives (ep_spec_validate
 * runs it; so does ep_manifest_etcd_args, which both modes render from):
 * flag names of letters, digits, '-' and '_'; values of one printable line;
 * --name equal to the node name; --data-dir equal to the data dir (an
 * extraArgs data-dir alone becomes the data dir when the config is
 * loaded); no --initial-cluster or --initial-cluster-state (etcdpilot's);
 * certificate flags naming files in <cert_dir>/etcd; the URL flags parsed,
 * listen URLs on IP addresses, advertised hosts reachable, https hosts
 * among the certificate's SANs, listen-client-urls keeping an https URL
 * on a loopback (or the unspecified) address; an identity flag repeated only
 * with the same value.  Errors (EP_ERR_USAGE) start with the entry's
 * FILE:LINE:COL and field path when it came from a file, else
 * "extraArgs[N]".  Returns 0 or -EINVAL.
 */
int ep_spec_check_args(const struct ep_spec *spec, struct ep_error *err);

/*
 * What 'etcdpilot init' cannot take: a JoinConfiguration (the node is to
 * join a cluster; init would bootstrap a second one with its own CA) or
 * etcd.external (not a member etcdpilot runs).  EP_ERR_USAGE naming the
 * file position and what to do instead, or 0.
 */
int ep_spec_check_init(const struct ep_spec *spec, struct ep_error *err);

/*
 * Render the effective spec as a jansson object (caller owns; json_decref),
 * NULL on ENOMEM.  Every spec field is present (unset ones as null), in a
 * fixed order; the names are an interface.  Used by 'config print' for both
 * YAML and JSON output.
 */
struct json_t;
struct json_t *ep_spec_to_json(const struct ep_spec *spec);

/*
 * The origins of @spec's printed fields as a jansson object (caller owns),
 * NULL on ENOMEM: one member per field ep_spec_to_json prints, keyed by its
 * path name ("etcdVersion", "systemd.systemctl"), in the same order, each
 * {"kind": "file", "detail": "kubeadm.yaml:14:17", "path":
 * "etcd.local.imageTag", "text": "from kubeadm.yaml:14:17
 * (etcd.local.imageTag)"} (detail and path only when set).  'config print
 * -o json -v' adds it to the spec object as "origins".
 */
struct json_t *ep_spec_origins_json(const struct ep_spec *spec);

/*
 * @yaml as ep_json_to_yaml rendered ep_spec_to_json(@spec) (with or without
 * "origins"), with a comment after each field saying where its value came
 * from ("etcdVersion: 3.5.21  # from kubeadm.yaml:14:17
 * (etcd.local.imageTag)"), on the value's line (a list's or map's on its
 * key's line).  The comments are escaped to one line of printable text, so
 * that the result reads back as the same YAML.  *@ret is a heap string.
 * Returns 0 or a negative errno with @err set (-EINVAL: @yaml does not
 * parse).
 */
int ep_spec_yaml_annotate(const struct ep_spec *spec, const char *yaml, char **ret,
			  struct ep_error *err);

/*
 * Emit a JSON value as block YAML with libyaml's emitter into a heap string
 * *@ret.  Strings that would read back as numbers, booleans or null are
 * quoted.  Returns 0 or a negative errno.
 */
int ep_json_to_yaml(const struct json_t *value, char **ret, struct ep_error *err);

#endif
