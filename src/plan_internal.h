/*
 * plan_internal.h - what the plan engine (plan.c), its built-in action
 * types (plan_actions.c, plan_systemd.c) and its file-system calls
 * (plan_fs.c) share.  Not a public header.
 */
#ifndef ETCDPILOT_PLAN_INTERNAL_H
#define ETCDPILOT_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <jansson.h>

#include "etcdpilot/plan.h"

struct ep_error;
struct ep_strbuf;

/* ---- the built-in types (plan_actions.c, plan_systemd.c) ------------------ */

extern const struct ep_action_type *const ep_plan_file_types[];    /* NULL-terminated */
extern const struct ep_action_type *const ep_plan_systemd_types[]; /* NULL-terminated */
/* pki.ensure, install.etcd, wait.healthy (actions_node.c), snapshot.save */
extern const struct ep_action_type *const ep_plan_node_types[];    /* NULL-terminated */
/* snapshot.save (actions_snapshot.c) */
extern const struct ep_action_type ep_snapshot_save_type;
/*
 * cluster.check, member.add, member.evict, member.promote, member.remove,
 * member.move-leader, wait.cluster (actions_cluster.c); runtime.files,
 * etcd.data-dir, pki.ca-bundle, wait.stopped (actions_member.c)
 */
extern const struct ep_action_type *const ep_plan_cluster_types[]; /* NULL-terminated */
extern const struct ep_action_type *const ep_plan_member_types[];  /* NULL-terminated */
/* convert.copy, convert.mark, convert.manifest, convert.wait-member (actions_convert.c) */
extern const struct ep_action_type *const ep_plan_convert_types[]; /* NULL-terminated */

/*
 * The node path of the run's data directory, EP_JOURNAL_DATA "/<run id>",
 * where file.write keeps its copies (heap, NULL on ENOMEM).
 */
char *ep_apply_data_dir(const struct ep_apply_ctx *ctx);

/* Create that directory (and the journal directory, 0700; its parents 0755). */
int ep_apply_data_dir_create(const struct ep_apply_ctx *ctx, struct ep_error *err);

/* ---- parameters ------------------------------------------------------------ */

/* @params' string member @key, or NULL. */
const char *ep_param_str(const json_t *params, const char *key);

/* @params' boolean member @key; @dflt when absent. */
bool ep_param_bool(const json_t *params, const char *key, bool dflt);

/* @params' "mode" ("0644") as bits; false when absent or not octal <= 07777. */
bool ep_param_mode(const json_t *params, const char *key, unsigned *ret);

/* A string member @key holding an absolute path; else -EINVAL with @err naming @type. */
int ep_param_check_path(const json_t *params, const char *type, const char *key,
			struct ep_error *err);

/* "0644" for @mode into @buf of 8 bytes. */
void ep_mode_str(unsigned mode, char buf[8]);

/* ---- file-system calls (plan_fs.c) -----------------------------------------
 *
 * Every file-system operation of the plan engine and its built-in types
 * goes through these few functions, each taking the (root, node path) pair
 * and resolving it at the moment it acts: the directory of the path is
 * opened through the root (fs.h: openat2 RESOLVE_IN_ROOT, or the walk; a
 * symlink in it is followed as if the root were "/", never out of it) and
 * the operation is made on the last component relative to that descriptor
 * (mkdirat, unlinkat, renameat2, ...), so that a directory swapped for a
 * symlink meanwhile cannot carry it out of the root.  The last component
 * of a path is never followed when it is a symlink (the operation acts on
 * the link), except by ep_pfs_stat(@follow) and ep_pfs_mkdir_p.  A path
 * whose directory leaves the root through ".." or a symlink is refused
 * early (-EXDEV, ep_root_path()'s message).  Errors name the real path.
 */

/* lstat(2) (@follow false) or stat(2) of @path under @root: 0 or -errno (no message). */
int ep_pfs_stat(const char *root, const char *path, bool follow, struct stat *ret);

/* One mkdir(2) with exactly @mode; -EEXIST when something is there. */
int ep_pfs_mkdir(const char *root, const char *path, mode_t mode, struct ep_error *err);

/* mkdir -p, every created directory with @mode. */
int ep_pfs_mkdir_p(const char *root, const char *path, mode_t mode, struct ep_error *err);

/* rmdir(2): 0 or -errno, no message (-ENOTEMPTY, -ENOENT are for the caller to judge). */
int ep_pfs_rmdir(const char *root, const char *path);

/* True when the directory @path holds no entry (false when absent or unreadable). */
bool ep_pfs_dir_empty(const char *root, const char *path);

/* unlink(2) of a non-directory; -ENOENT (no message) when absent. */
int ep_pfs_unlink(const char *root, const char *path, struct ep_error *err);

/* rename(2), never replacing what is at @to (-EEXIST); then fsync of both directories. */
int ep_pfs_rename_noreplace(const char *root, const char *from, const char *to,
			    struct ep_error *err);

/* chmod(2) of @path (never through a symlink: -ELOOP). */
int ep_pfs_chmod(const char *root, const char *path, mode_t mode, struct ep_error *err);

/* The regular file @path (no symlink) into a heap buffer; see ep_read_file. */
int ep_pfs_read(const char *root, const char *path, size_t max, char **ret, size_t *ret_len,
		struct ep_error *err);

/*
 * Write @path atomically with @mode.  With @hidden, the new file is first
 * written atomically under ".<name>.etcdpilot-new" in the same directory,
 * then renamed over @path and the directory fsynced (no temp file with a
 * visible name ever sits in that directory).
 */
int ep_pfs_write(const char *root, const char *path, const void *data, size_t len, mode_t mode,
		 bool hidden, struct ep_error *err);

/* The hidden name ep_pfs_write(@hidden) uses for @path (node path, heap; NULL on ENOMEM). */
char *ep_pfs_hidden_name(const char *path);

/* Copy the regular file @from to @to atomically, with @mode (streamed). */
int ep_pfs_copy(const char *root, const char *from, const char *to, mode_t mode,
		struct ep_error *err);

/* rm -rf of @path, never following a symlink; 0 when absent. */
int ep_pfs_remove_tree(const char *root, const char *path, struct ep_error *err);

/* Remove what an interrupted atomic write of @path left (ep_write_atomic_sweep). */
int ep_pfs_sweep(const char *root, const char *path, struct ep_error *err);

/* Lock the existing directory @path (ep_dir_lock). */
int ep_pfs_lock(const char *root, const char *path, unsigned timeout_ms, int *ret_fd,
		struct ep_error *err);

/* The real path of @path under @root, for messages only: never open it (heap; NULL on error). */
char *ep_pfs_real(const char *root, const char *path);

/* The directory part of the node path @path ("/a/b" -> "/a"; heap, NULL on ENOMEM). */
char *ep_path_dirname(const char *path);

/* The last component of @path (borrowed, inside @path). */
const char *ep_path_basename(const char *path);

#endif
