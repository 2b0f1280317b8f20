/*
 * unit.h - the files of a systemd-mode node: etcd.service, the environment
 * file etcd reads its configuration from, the etcdctl environment and the
 * etcdctl.sh wrapper.
 *
 * The environment is derived from the very flag list the static pod uses
 * (ep_manifest_etcd_args): --foo-bar=V becomes ETCD_FOO_BAR=V, so both
 * modes configure etcd identically (same certificates under
 * <cert_dir>/etcd, same data dir, same version-dependent flags) and
 * converting between them moves no file but the unit or manifest itself.
 */
#ifndef ETCDPILOT_UNIT_H
#define ETCDPILOT_UNIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "etcdpilot/log.h"
#include "etcdpilot/spec.h"

struct ep_error;

/* The unit name etcdpilot manages. */
#define EP_UNIT_NAME "etcd.service"

enum ep_unit_file_kind {
	EP_UNIT_SERVICE = 0, /* /etc/systemd/system/etcd.service, 0644 */
	EP_UNIT_ENV,         /* /etc/etcd/etcd.env, 0640 */
	EP_UNIT_ETCDCTL_ENV, /* /etc/etcd/etcdctl.env, 0640 */
	EP_UNIT_WRAPPER,     /* /usr/local/bin/etcdctl.sh, 0755 */
	EP_UNIT_NFILES,
};

struct ep_unit_file {
	char *path;    /* node path (heap) */
	char *content; /* heap, NUL-terminated */
	size_t len;
	mode_t mode;
};

struct ep_unit_files {
	struct ep_unit_file f[EP_UNIT_NFILES];
};

/* Free what @files owns (NULL fine) and zero it. */
void ep_unit_files_release(struct ep_unit_files *files);

/*
 * Render the four files for @spec into the zeroed @ret.  @initial_cluster
 * (may be NULL) is as for ep_manifest_etcd_args (a join's member list).
 * Paths that systemd could not read literally (whitespace, quotes, '%',
 * '\') and values with a newline are EP_ERR_USAGE errors; so is an
 * extraEnvs entry that would shadow one of the ETCD_* variables, and a flag
 * (an extraArgs entry) with an empty value: the pod's "--flag=" has no
 * env-file equivalent, etcd ignores an empty ETCD_FLAG.  (Whether etcd
 * knows each extraArgs name is checked against the binary by
 * ep_install_etcd.)  Returns 0 or a negative errno with @err set; @ret is
 * released on failure.
 */
int ep_unit_render(const struct ep_spec *spec, const struct ep_kvv *initial_cluster,
		   struct ep_unit_files *ret, struct ep_error *err);

/*
 * The ETCD_* name for etcd flag @flag (without dashes): "listen-client-urls"
 * -> "ETCD_LISTEN_CLIENT_URLS", into @buf (@len bytes).  Returns 0 or
 * -EINVAL when @flag has characters other than [A-Za-z0-9-_] or does not fit.
 */
int ep_unit_env_name(const char *flag, char *buf, size_t len);

/*
 * One assignment line of an environment file, as systemd's EnvironmentFile=
 * (and sh) read it: NAME=value, double-quoted with \ escapes when @value has
 * anything beyond [A-Za-z0-9_.,:/=@+%-].  Heap string with the trailing
 * newline, or NULL on ENOMEM.
 */
char *ep_unit_env_line(const char *name, const char *value);

/*
 * How the files on disk compare with the rendered ones.  A file with the
 * right content but another mode counts as identical here (its mode is
 * repaired, see ep_unit_write); ep_unit_compare reports it separately.
 */
enum ep_unit_state {
	EP_UNIT_ABSENT = 0,  /* none of the files exist */
	EP_UNIT_SAME,        /* all exist with identical content */
	EP_UNIT_PARTIAL,     /* some are missing, the others have identical content */
	EP_UNIT_DIFFERENT,   /* at least one exists with other content, or is no file */
};

/*
 * Compare @files with what is on disk under @root.  Each difference is
 * appended to @ret_diffs (may be NULL) as one human line naming the file
 * ("/etc/etcd/etcd.env: ETCD_NAME is 'a', wanted 'b'"; for the environment
 * files per variable, for the others the first differing line; the mode of
 * a file whose content differs too).  *@ret_state gets the overall state;
 * *@ret_missing (may be NULL) a bit per missing file (1 << kind) and
 * *@ret_bad_mode (may be NULL) a bit per file whose content is right but
 * mode is not.  Returns 0 or a negative errno (an unreadable file).
 */
int ep_unit_compare(const struct ep_unit_files *files, const char *root,
		    enum ep_unit_state *ret_state, unsigned *ret_missing, unsigned *ret_bad_mode,
		    struct ep_strv *ret_diffs, struct ep_error *err);

/*
 * Write every file of @files that is missing or differs under @root
 * (parents created 0755; atomic; exact modes), logging "[systemd] Wrote
 * <path>" lines; a file with the right content and the wrong mode is only
 * chmod'ed ("[systemd] Changed the mode of <path> from 0644 to 0640").  With
 * @dry_run nothing is changed and the lines say what would be, naming the
 * file where it is under @root ("[dryrun] Would write file \"<root><path>\"
 * with mode 0640").  *@ret_written
 * and *@ret_mode_fixed (each may be NULL) get a bit (1 << kind) per file
 * written, resp. chmod'ed (or that would be).  Returns 0 or a negative
 * errno with @err set.
 */
int ep_unit_write(const struct ep_unit_files *files, const char *root, bool dry_run,
		  ep_log_fn log, void *userdata, unsigned *ret_written, unsigned *ret_mode_fixed,
		  struct ep_error *err);

/*
 * Parse the environment file text @buf as systemd's EnvironmentFile= does
 * (systemd.exec(5): '#' and ';' comment lines, blank lines, a value quoted
 * only when it starts with ' or ", backslash escapes, line continuation)
 * into @ret, in file order.  Returns 0, or -EINVAL with @err naming
 * @filename:line for a line systemd would skip or could misread: no '=', a
 * name that is not [A-Za-z_][A-Za-z0-9_]* (so "export X=1": systemd has no
 * "export"), an unterminated quote.
 */
int ep_unit_env_parse(const char *buf, size_t len, const char *filename, struct ep_kvv *ret,
		      struct ep_error *err);

#endif
