/*
 * runtime_internal.h - what runtime.c shares with the two runtimes: the
 * few functions that touch the node (file reads, directory listings,
 * programs), etcd's flag table, the resolution of flags and ETCD_*
 * variables into settings in effect, and the builders of a diagnosis.
 * Not installed; the unit tests include it.
 */
#ifndef ETCDPILOT_RUNTIME_INTERNAL_H
#define ETCDPILOT_RUNTIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "etcdpilot/runtime.h"
#include "etcdpilot/spec.h"

struct ep_error;
struct ep_plan;

extern const struct ep_runtime_ops ep_runtime_static_pod;
extern const struct ep_runtime_ops ep_runtime_systemd;

/*
 * ---- the node: every read goes through these ------------------------------------
 * Each resolves its node path under @root at the moment it reads, through
 * the root-relative calls of fs.h (a symlink swapped in meanwhile cannot
 * lead out of the root); files are opened O_NONBLOCK and only regular ones
 * read.
 */

bool rt_real_root(const char *root);

/* Read the node file @path under @root (at most @max bytes; symlinks inside the root followed). */
int rt_read(const char *root, const char *path, size_t max, char **ret, size_t *ret_len,
	    struct ep_error *err);

/*
 * Read at most the last @max bytes of node file @path: *@ret_mid says
 * whether the text starts inside the file (not at offset 0).
 */
int rt_read_tail(const char *root, const char *path, size_t max, char **ret, size_t *ret_len,
		 bool *ret_mid, struct ep_error *err);

/* lstat of the node path @path under @root (its last component not followed): 0 or -errno. */
int rt_lstat(const char *root, const char *path, struct stat *ret);

/* The target of the symlink at node path @path, into @buf (@len bytes): 0 or -errno. */
int rt_readlink(const char *root, const char *path, char *buf, size_t len);

/* The names in node directory @dir (not "." and ".."), sorted; -ENOENT when absent. */
int rt_list(const char *root, const char *dir, struct ep_strv *ret);

/* ---- programs -------------------------------------------------------------------- */

enum rt_program {
	RT_SYSTEMCTL = 0,
	RT_JOURNALCTL,
	RT_CRICTL,
};

/*
 * The program of kind @which for @ctx (see struct ep_runtime_ctx).  *@ret
 * points into @ctx or a static string, or is @buf.  -EPERM (with @why, a
 * human reason, set) when it may not run for this root.
 */
int rt_program(const struct ep_runtime_ctx *ctx, enum rt_program which, char *buf, size_t len,
	       const char **ret, const char **why);

/*
 * Run @argv (argv[0] the program) for @ctx: its deadline, ETCDPILOT_ROOT for
 * another root, output (stdout and stderr together, at most 256 KiB) into
 * *@ret_output, exit status into *@ret_status.  0 or -errno with @err.
 */
int rt_run(const struct ep_runtime_ctx *ctx, const char *const *argv, char **ret_output,
	   int *ret_status, struct ep_error *err);

/* ---- etcd's flags ----------------------------------------------------------------- */

enum rt_flag_kind {
	RT_FLAG_VALUE = 0,
	RT_FLAG_BOOL,
	RT_FLAG_IGNORED, /* accepted and ignored by etcd (its list of old flags) */
	RT_FLAG_PROXY,	 /* the v2 proxy of etcd 3.4/3.5: not a member setting */
};

/*
 * Whether etcd @minor (34, 35, 36; 0 = any of them) has flag @name (no
 * dashes), and its kind.  false when it has none.
 */
bool rt_etcd_flag(const char *name, unsigned minor, enum rt_flag_kind *ret_kind);

/* A flag, or an environment assignment, as given. */
struct rt_given {
	char *name;
	char *value;
	char *origin;
	bool has_value; /* flags: "--x=v" or "--x v" (false: "--x" alone) */
};

struct rt_givens {
	struct rt_given *v;
	size_t n;
};

int rt_givens_push(struct rt_givens *g, const char *name, const char *value, bool has_value,
		   const char *origin);
void rt_givens_release(struct rt_givens *g);

/*
 * Parse etcd's command-line arguments @args (after the program) as Go's
 * flag package does for etcd @minor: "-x" or "--x", "=value" or the next
 * argument as the value of a non-boolean flag; an unknown flag, a flag
 * without its value and a word that is no flag are what etcd refuses,
 * added to @d->conflicts.  Appends to @ret.  0 or -ENOMEM.
 */
int rt_flags_from_args(struct ep_member_desc *d, const struct ep_strv *args, size_t first,
		       const char *origin, unsigned minor, struct rt_givens *ret);

/*
 * Resolve the flags @cmd and the final environment @env (one assignment
 * per name, as the process gets it) into @d's settings, env, notes and
 * conflicts, as etcd @minor (0 = unknown) would take them; then derive
 * the spec terms and paths.  0 or -ENOMEM.
 */
int rt_resolve(struct ep_member_desc *d, const struct rt_givens *cmd, const struct rt_givens *env,
	       unsigned minor);

int rt_note(struct ep_strv *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- diagnosis --------------------------------------------------------------------- */

/* A new source at the end of @d (label copied); NULL on ENOMEM. */
struct ep_diag_source *rt_diag_source(struct ep_diagnosis *d, const char *label, bool etcd_output);

/*
 * Where etcd's own lines end in @lines (@n of them): before the last
 * "Usage:" line - the usage text Go's flag package prints after a flag
 * error - when something stands before it; else @n.
 */
size_t rt_lines_end(char *const *lines, size_t n);

/*
 * The last @tail of @lines up to rt_lines_end() appended to @s; *@ret_cut
 * (may be NULL) says whether usage text was left out.  0 or -ENOMEM.
 */
int rt_diag_tail(struct ep_diag_source *s, const struct ep_strv *lines, unsigned tail,
		 bool *ret_cut);

/* Split @text into lines appended to @s (a trailing newline adds none). 0 or -ENOMEM. */
int rt_diag_lines(struct ep_diag_source *s, const char *text);

/* ---- plans (runtime_plan.c; linked with the plan engine) ---------------------------- */

int rt_static_pod_plan_start(const struct ep_runtime_ctx *ctx, const struct ep_runtime_files *files,
			     struct ep_plan *plan, const char *phase, struct ep_error *err);
int rt_static_pod_plan_stop(const struct ep_runtime_ctx *ctx, struct ep_plan *plan,
			    const char *phase, struct ep_error *err);
int rt_static_pod_plan_restart(const struct ep_runtime_ctx *ctx,
			       const struct ep_runtime_files *files, struct ep_plan *plan,
			       const char *phase, struct ep_error *err);
int rt_systemd_plan_start(const struct ep_runtime_ctx *ctx, const struct ep_runtime_files *files,
			  struct ep_plan *plan, const char *phase, struct ep_error *err);
int rt_systemd_plan_stop(const struct ep_runtime_ctx *ctx, struct ep_plan *plan, const char *phase,
			 struct ep_error *err);
int rt_systemd_plan_restart(const struct ep_runtime_ctx *ctx, const struct ep_runtime_files *files,
			    struct ep_plan *plan, const char *phase, struct ep_error *err);

#endif
