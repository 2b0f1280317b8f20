/*
 * install.h - where the etcd binaries of a systemd-mode node come from and
 * how they get to /usr/local/bin without ever trusting what was fetched.
 *
 * A source is either a local etcd (--etcd-binary, etcdctl beside it) or an
 * upstream-style release tarball etcd-vX.Y.Z-linux-<arch>.tar.gz named by
 * --release-url (https://, http:// or file://; the tarball itself or the
 * directory holding it and SHA256SUMS).  A tarball is checked against
 * --etcd-sha256 or the SHA256SUMS beside it before a single byte of it is
 * used: a mismatch or a missing checksum installs nothing.  Once its etcd
 * has passed every check the tarball is cached under <cache_dir>/vX.Y.Z/,
 * with the verified digest beside it (<tarball>.sha256); the cache is
 * re-verified on every use - against --etcd-sha256 when given, else the
 * recorded digest, else SHA256SUMS - and a corrupt one is fetched again.  A
 * re-run whose cache and installed binaries are in order needs no network.
 * Only etcd, etcdctl and etcdutl are taken out of the top directory
 * etcd-vX.Y.Z-linux-<arch>/, and an archive with an entry that could escape
 * (absolute path, "..", a link to an absolute path or with ".." in its
 * target) is refused whole.  Each new binary is written beside its target
 * and must report the expected version (and etcd list every extraArgs name
 * in its --help) before any of them is renamed into place.
 */
#ifndef ETCDPILOT_INSTALL_H
#define ETCDPILOT_INSTALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcdpilot/log.h"
#include "etcdpilot/spec.h"

struct ep_error;

/* Largest tarball or binary the installer accepts (bytes). */
#define EP_INSTALL_MAX_SIZE (512u * 1024 * 1024)

/* Download progress: @done of @total bytes (@total 0 when unknown). */
typedef void (*ep_progress_fn)(void *userdata, uint64_t done, uint64_t total);

struct ep_install_opts {
	const char *root;          /* --root; NULL or "/" = the real root */
	bool dry_run;              /* plan only: write nothing on the node, download no
				      tarball (SHA256SUMS only when the real run would) */
	const char *want_version;  /* pinned "X.Y.Z" (config or flag), NULL = the source's */
	ep_log_fn log;             /* "[install] ..." lines; may be NULL */
	void *log_userdata;
	ep_progress_fn progress;   /* may be NULL */
	void *progress_userdata;
	unsigned retry_base_ms;    /* first download retry delay; 0 = 500 ms */
	uint64_t version_timeout_ms; /* deadline of each run of a new binary ('etcd
				      --version', 'etcdctl version', the extraArgs
				      check), exit included; 0 = 10 s */
};

struct ep_install_result {
	char version[32];  /* the version installed (or that would be), "3.4.23" */
	bool changed;      /* a binary was (dry-run: would be) replaced */
	bool mode_fixed;   /* a binary with the right content got (would get) mode 0755 */
};

/*
 * Install etcd and etcdctl (and etcdutl when the source has it) from the
 * source @spec->systemd names into <root>/<bin_dir> with mode 0755.  Each
 * binary that differs is written to a hidden temp file beside its target;
 * etcd's and etcdctl's versions are checked there (and, with extraArgs, that
 * etcd's --help lists each name: EP_ERR_USAGE "etcd X.Y.Z has no flag
 * '--x'" otherwise), and only then are they renamed into place, the
 * previous files kept as hard links until all are in.  A release is cached
 * only after all that passed.  Binaries already identical are left alone
 * (ret->changed false); one with the right content but another mode is only
 * chmod'ed to 0755 (ret->mode_fixed).  On a dry run the same is inspected
 * (the cache, the installed binaries; the new binaries are checked in a
 * scratch directory off the node) and the lines say "Would".  Nothing is
 * installed when any check fails.  @ret may be NULL.  Returns 0 or a
 * negative errno with @err set (EP_ERR_USAGE for a bad source or flags).
 */
int ep_install_etcd(const struct ep_spec *spec, const struct ep_install_opts *opts,
		    struct ep_install_result *ret, struct ep_error *err);

/*
 * The etcd version the source of @spec->systemd provides, without fetching
 * or changing anything: "etcd --version" of --etcd-binary, the version in
 * the tarball's name, or - for a release directory - @want_version (else
 * spec->etcd_version).  When @want_version (may be NULL) is given and the
 * source is another version, that is an EP_ERR_USAGE error.  Writes "X.Y.Z"
 * into @buf (@len bytes).  Returns 0 or a negative errno with @err set.
 */
int ep_install_source_version(const struct ep_spec *spec, const char *want_version, char *buf,
			      size_t len, struct ep_error *err);

/*
 * Normalise the hex SHA-256 @s (64 hex digits, either case) to lowercase in
 * @ret (65 bytes with the NUL).  Returns 0 or -EINVAL.
 */
int ep_sha256_hex_parse(const char *s, char ret[65]);

/* Lowercase hex SHA-256 of @len bytes at @data into @ret.  0 or -EIO. */
int ep_sha256_hex(const void *data, size_t len, char ret[65], struct ep_error *err);

/*
 * Find @filename in the SHA256SUMS text @text (@len bytes; lines
 * "<hex>  <name>" or "<hex> *<name>", as sha256sum writes them; a "./" in
 * front of the name is ignored) and write its digest in lowercase to @ret.
 * Lines that are not of that form are skipped.  Returns 0, -ENOENT when the
 * file is not listed, -EINVAL when it is listed twice with different
 * digests; @err says which.
 */
int ep_sha256sums_find(const char *text, size_t len, const char *filename, char ret[65],
		       struct ep_error *err);

/*
 * Split a release tarball name "etcd-v3.4.23-linux-amd64.tar.gz" into its
 * version ("3.4.23", @vlen bytes) and architecture ("amd64", @alen bytes).
 * Returns 0 or -EINVAL.
 */
int ep_release_name_parse(const char *name, char *version, size_t vlen, char *arch,
			  size_t alen);

/* The Go architecture name of this host ("amd64", "arm64"...); NULL if unknown. */
const char *ep_host_arch(void);

/* Binaries taken out of a release archive (heap buffers; NULL when absent). */
struct ep_release_files {
	char *etcd, *etcdctl, *etcdutl;
	size_t etcd_len, etcdctl_len, etcdutl_len;
};

void ep_release_files_release(struct ep_release_files *files);

/*
 * Take etcd, etcdctl and (when present) etcdutl out of the gzip'd tar
 * archive in @data (@len bytes); they must be regular files directly under
 * @topdir ("etcd-v3.4.23-linux-amd64").  Every entry of the archive is
 * checked: an absolute path, a ".." component, or a symbolic or hard link
 * whose target is absolute or has a ".." component at all (upstream
 * tarballs have no links; a link target is not resolved, so links through
 * links cannot fool the check) refuses the whole archive (-EPERM, the entry
 * named in @err).  A missing etcd or etcdctl is -ENOENT.  Fills @ret
 * (zeroed by the caller); on failure @ret is released again, so a refused
 * archive yields no binary at all.  Returns 0 or a negative errno.
 */
int ep_release_extract(const void *data, size_t len, const char *topdir,
		       struct ep_release_files *ret, struct ep_error *err);

/*
 * Run "@path --version" (no shell, a clean environment, 10 s at most) and
 * parse "etcd Version: X.Y.Z" into @buf (@len bytes).  For etcdctl, when
 * @etcdctl is true, run "@path version" and parse "etcdctl version: X.Y.Z".
 * Returns 0 or a negative errno with @err set.
 */
int ep_etcd_binary_version(const char *path, bool etcdctl, char *buf, size_t len,
			   struct ep_error *err);

/*
 * Ask the etcd binary @path (reporting @version) whether it takes @args as
 * flags: "@path --version --name=value ..." is run the same way (etcd parses
 * every flag before it prints its version).  0 when it does; EP_ERR_USAGE
 * naming the flag etcd has no such flag for, or quoting etcd's complaint
 * about a value (@env_file is named as where the setting would go).
 * Another negative errno when the binary cannot be run.
 */
int ep_etcd_check_args(const char *path, const char *version, const struct ep_kvv *args,
		       const char *env_file, struct ep_error *err);

/*
 * Fetch @url (https://, http:// or file://) into a heap buffer *@ret of
 * *@ret_len bytes (at most @max).  Connect and low-speed timeouts apply;
 * transient failures (connection refused or reset, timeouts, truncated
 * transfers, HTTP 5xx/429) are retried with exponential backoff starting at
 * @retry_base_ms (0 = 500 ms), 4 attempts in all; HTTP 404/410 and a missing
 * file:// are -ENOENT at once.  @progress may be NULL.  Returns 0 or a
 * negative errno with @err set.
 */
int ep_fetch(const char *url, size_t max, unsigned retry_base_ms, ep_progress_fn progress,
	     void *userdata, char **ret, size_t *ret_len, struct ep_error *err);

#endif
