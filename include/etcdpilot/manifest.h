/*
 * manifest.h - the etcd static pod: rendering /etc/kubernetes/manifests/etcd.yaml
 * exactly as kubeadm writes it, and reading one back (kubeadm's or ours).
 *
 * Layout: the newest kubeadm (v1.34+): sigs.k8s.io/yaml output, i.e. keys
 * sorted at every level, block style, 2-space indent, sequences not
 * indented under their key, `status: {}` and no `creationTimestamp`; the
 * probes use the named container port `probe-port`.  The target etcd
 * version decides the flags and the probe paths:
 *
 *   3.4         --experimental-initial-corrupt-check=true,
 *               --experimental-watch-progress-notify-interval=5s;
 *               liveness /health?exclude=NOSPACE, startup /health, no readiness
 *               (3.4 honours `exclude` but ignores `serializable`, see manifest.c)
 *   3.5 < .11   experimental flags; liveness /health?exclude=NOSPACE&serializable=true,
 *               startup /health?serializable=false, no readiness (kubeadm 1.25-1.30)
 *   3.5 >= .11  experimental flags; /livez, /readyz (readiness and startup)
 *   3.6         --feature-gates=InitialCorruptCheck=true,
 *               --watch-progress-notify-interval=5s; /livez, /readyz
 */
#ifndef ETCDPILOT_MANIFEST_H
#define ETCDPILOT_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "etcdpilot/spec.h"

struct ep_error;

/* Ports kubeadm gives etcd. */
#define EP_ETCD_CLIENT_PORT 2379
#define EP_ETCD_PEER_PORT 2380
#define EP_ETCD_METRICS_PORT 2381

/*
 * The most a rendered file may hold (the manifest, or each file of the
 * systemd mode): more is refused as a usage error, in both modes alike.
 */
#define EP_RENDER_MAX (1u << 20)

/* The annotation kubeadm reads to discover etcd endpoints. */
#define EP_ANNOTATION_CLIENT_URLS "kubeadm.kubernetes.io/etcd.advertise-client-urls"

/*
 * True when @version ("3.5.21") is an etcd line etcdpilot can render for:
 * 3.4, 3.5 or 3.6.
 */
bool ep_manifest_version_supported(const char *version);

/*
 * The etcd flags for @spec, as kubeadm's getEtcdCommand + ArgumentsToCommand
 * build them: defaults for the target version, every default whose name
 * appears in spec->extra_args dropped, the extra args added, the whole list
 * sorted by name then value.  @initial_cluster (may be NULL or empty) holds
 * name=peerURL pairs of every member including this one, for a join: it
 * replaces --initial-cluster and adds --initial-cluster-state=existing.
 * Appends to @ret (names without dashes); caller releases it.
 * Returns 0 or a negative errno with @err set (EP_ERR_USAGE for an
 * unsupported version).
 */
int ep_manifest_etcd_args(const struct ep_spec *spec, const struct ep_kvv *initial_cluster,
			  struct ep_kvv *ret, struct ep_error *err);

/*
 * The client URL this node reaches its own member at: the first https URL
 * of listen-client-urls on a loopback address (an unspecified one taken as
 * loopback), by default https://127.0.0.1:2379 (https://[::1]:2379 for an
 * IPv6 advertise address).  Heap string, NULL on ENOMEM.
 */
char *ep_manifest_local_client_url(const struct ep_spec *spec);

/*
 * Render the static pod for @spec (see ep_manifest_etcd_args for
 * @initial_cluster) with libyaml's emitter.  *@ret gets a NUL-terminated
 * heap string (caller frees), *@ret_len its length (may be NULL).
 * Returns 0 or a negative errno with @err set.
 */
int ep_manifest_render(const struct ep_spec *spec, const struct ep_kvv *initial_cluster,
		       char **ret, size_t *ret_len, struct ep_error *err);

/* What a manifest on disk says, read back into the terms of a node spec. */
struct ep_manifest_info {
	/*
	 * name, advertise_address (from the annotation, else
	 * --advertise-client-urls), data_dir (the etcd-data hostPath), cert_dir
	 * (the etcd-certs hostPath without "/etcd"), image_repository,
	 * image_tag, etcd_version (from the tag; else guessed from the flags),
	 * extra_args (every flag whose values differ from the defaults for the
	 * above, all values of it), extra_envs.  Other fields stay unset.
	 */
	struct ep_spec spec;
	char *image;                  /* as written */
	struct ep_kvv args;           /* every flag as written, in order */
	struct ep_kvv initial_cluster;/* --initial-cluster split into name=peerURL */
	bool state_existing;          /* --initial-cluster-state=existing */
	struct ep_strv missing_defaults; /* default flags absent from the file */
};

void ep_manifest_info_release(struct ep_manifest_info *info);

/*
 * Parse the manifest text @buf (@len bytes) read from @filename (for
 * messages) into the zeroed @ret.  @expect_name (may be NULL) is this node's
 * member name: a manifest for another member is an error.  @fallback_version
 * (may be NULL) is used for the defaults when the image tag names no
 * version.  Errors (EP_ERR_FAILED, nothing is changed by this call):
 * not YAML ("FILE:LINE:COL: ..."), not a Pod, not the etcd pod, no etcd
 * container, a different member name.  Returns 0 or a negative errno.
 */
int ep_manifest_parse(const char *buf, size_t len, const char *filename,
		      const char *expect_name, const char *fallback_version,
		      struct ep_manifest_info *ret, struct ep_error *err);

/*
 * Say what differs between the manifest @have (on disk) and @want (what
 * etcdpilot would write), one human line per difference appended to @ret:
 * member name, advertise address, data and cert dirs, each flag ("flag
 * --snapshot-count: manifest has '5000', wanted '10000'"), each env var,
 * then - from the texts @have_text and @want_text, compared as YAML trees -
 * everything else by its path ("spec.containers[etcd].startupProbe
 * .failureThreshold: manifest has 24, wanted 30"), at most 20 of those.
 * Layout alone (flow or block style, key order, quoting that keeps the
 * value) is no difference: 0 then means the files are equivalent.
 * Returns the number of lines added, or a negative errno (ENOMEM).
 */
int ep_manifest_diff(const struct ep_manifest_info *have, const char *have_text,
		     const struct ep_manifest_info *want, const char *want_text,
		     struct ep_strv *ret);

#endif
