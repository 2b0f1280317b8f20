/*
 * init.h - the modes of 'etcdpilot init' that live in their own files.
 */
#ifndef ETCDPILOT_CMD_INIT_H
#define ETCDPILOT_CMD_INIT_H

#include "cli.h"

/*
 * init --mode systemd (init_systemd.c): preflight (including whether the
 * systemctl can serve --root), install, certs, unit and environment,
 * systemctl daemon-reload + enable --now (restart only for a changed unit,
 * environment or binary), wait until healthy.  @spec is the loaded spec (its
 * etcd_version is replaced by the version of the binary being installed).
 * Returns 0 or a negative errno with @err set.
 */
int cli_init_systemd(struct cli_ctx *ctx, struct ep_spec *spec, struct ep_error *err);

/*
 * The etcd version a systemd-mode node runs: the one pinned by
 * --etcd-version or the config file, checked against the binary source
 * (--etcd-binary's 'etcd --version', the release tarball's name), else the
 * source's own.  Sets spec->etcd_version to it and writes it to @buf.
 * Runs --etcd-binary but fetches nothing.  0 or -errno with @err set.
 */
int cli_systemd_version(struct cli_ctx *ctx, struct ep_spec *spec, char *buf, size_t len,
			struct ep_error *err);

#endif
