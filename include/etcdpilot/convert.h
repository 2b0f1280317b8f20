/*
 * convert.h - what `etcdpilot convert` decides before it touches anything:
 * the translation of a member read back from one runtime (runtime.h,
 * struct ep_member_desc) into the node spec of the other, with the
 * certificates it needs and what it cannot carry over.
 *
 * To a static pod: the same name, data dir, peer and client URLs, every
 * other etcd setting that differs from kubeadm's manifest kept as an extra
 * argument; --initial-cluster from the LIVE member list (never the stale
 * line of the unit) with --initial-cluster-state=existing; the TLS files
 * copied into kubeadm's layout (<cert dir>/etcd/{ca,server,peer}.*) after
 * checking that they cover what the pod serves (key matches, signed by the
 * CA, not expired, key usages, SANs for every host of the URLs), or used
 * where they are when they are kubeadm's layout already; the CA key too
 * when it is on the node (then kubeadm's healthcheck-client pair can be
 * made).  GOMAXPROCS and ETCD_UNSUPPORTED_ARCH stay in the environment;
 * ETCDCTL_* are etcdctl's and stay behind; what etcd ignores (ETCD_PROXY)
 * is said and dropped.
 *
 * To systemd: the static pod's spec read back (the extra arguments
 * kubeadm's defaults do not cover) in systemd mode, with the live member
 * list.  Nothing here changes the node; the library never prints.
 */
#ifndef ETCDPILOT_CONVERT_H
#define ETCDPILOT_CONVERT_H

#include <stdbool.h>
#include <stddef.h>

#include "etcdpilot/runtime.h"
#include "etcdpilot/spec.h"

struct ep_error;

/* A file copied into kubeadm's layout (node paths). */
struct ep_convert_copy {
	char *from;
	char *to;
	unsigned mode; /* 0644 certificates, 0600 keys */
	bool same;     /* @to already holds the same bytes: nothing to copy */
};

/*
 * Which installer left a systemd member's files, as far as they tell: the
 * tool that may write the unit again and start it after a conversion.
 *   kubespray  /etc/etcd.env, or certificates in /etc/ssl/etcd/ssl
 *   etcdadm    the CA at /etc/etcd/pki/ca.crt, or /opt/bin/etcd with
 *              /etc/etcd/etcd.env
 *   etcdpilot  /etc/etcd/etcd.env with the CA in kubeadm's layout
 *              (<cert dir>/etcd/ca.crt): etcdpilot's systemd mode
 *   unknown    anything else (by hand, the Hard Way, configuration management)
 */
enum ep_installer {
	EP_INSTALLER_UNKNOWN,
	EP_INSTALLER_ETCDPILOT,
	EP_INSTALLER_KUBESPRAY,
	EP_INSTALLER_ETCDADM,
};
enum ep_installer ep_convert_installer(const struct ep_member_desc *m);

struct ep_convert {
	/*
	 * The node spec of the member in the target runtime (base: the spec
	 * given to ep_convert_translate, with the member's own name, advertise
	 * address, data dir, cert dir, version, image tag, extra args and
	 * environment).
	 */
	struct ep_spec spec;
	struct ep_kvv initial_cluster; /* name=peerURL of every live member */
	struct ep_convert_copy *copies;
	size_t ncopies;
	bool ca_key;            /* the CA key is (or will be) at <cert dir>/etcd/ca.key */
	bool make_healthcheck;  /* a healthcheck-client pair is to be made from it */
	struct ep_strv notes;   /* what changes, what is dropped and why (escaped when shown) */

	/* filled by the workflow's preflight (workflow_convert.c) for its later phases */
	char member_id[17];     /* hex, as the cluster gave it */
	char *local_url;        /* the member's client URL on this node */
	char *unit_path, *manifest_path;
	char *client_ca, *client_cert, *client_key; /* the pair that reaches the cluster */
	bool client_node_paths; /* node files (under --root), not the user's --cacert ... */
	const char *client_what;
	struct ep_strv client_urls; /* every member's client URLs, this one's local too */
	enum ep_installer installer; /* who laid out the systemd member (to static pod only) */
};

void ep_convert_release(struct ep_convert *cv);


/* One member of the live list: its name and peer URLs (comma list). */
struct ep_convert_peer {
	const char *name;
	const char *peer_urls;
};

/*
 * Translate the systemd member @m (read back) into a static pod spec in
 * the zeroed @ret, from @base (the command's spec: manifest dir, image
 * repository, timeouts; copied) and the live member list @peers (@npeers;
 * this member included).  The TLS files named by @m are read under @root
 * and checked.  Refusals are usage errors (EP_ERR_USAGE: nothing changed)
 * naming the file and line the setting came from and what to do: what
 * etcd would refuse (m->conflicts), no name, data dir, peer or client URL,
 * plain http, a version etcdpilot cannot render, a certificate that does
 * not cover the member's URLs or lacks a key usage, a key that does not
 * match, a peer CA other than the client CA, a kubeadm path already
 * holding another file.  0 or -errno with @err.
 */
int ep_convert_to_static_pod(const struct ep_member_desc *m, const struct ep_spec *base,
			     const struct ep_convert_peer *peers, size_t npeers, const char *root,
			     struct ep_convert *ret, struct ep_error *err);

/*
 * The static pod member @m (read back) as a systemd-mode spec in the
 * zeroed @ret, from @base (unit path, env file, bin dir, binary source)
 * and the live member list.  Usage errors as above.  0 or -errno.
 */
int ep_convert_to_systemd(const struct ep_member_desc *m, const struct ep_spec *base,
			  const struct ep_convert_peer *peers, size_t npeers,
			  struct ep_convert *ret, struct ep_error *err);

#endif
