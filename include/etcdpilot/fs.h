/*
 * fs.h - the only way the library writes files, and how it finds them.
 *
 * Every write goes through ep_write_atomic(): a temp file beside the target
 * (opened O_CREAT|O_EXCL|O_NOFOLLOW, so a symlink planted at the temp name is
 * never followed), write, fsync, rename over the target, fsync of the
 * directory.  A reader sees either the old file or the whole new one; a key
 * is never world-readable, not even for a moment, because the temp file is
 * created with the final mode.
 *
 * Every path in the configuration names a path on the node (e.g.
 * /etc/kubernetes/pki).  With --root DIR the tool reads and writes it under
 * DIR instead; ep_root_path() maps one to the other and refuses any path that
 * would leave DIR through "..", or through a symlink that points outside.
 */
#ifndef ETCDPILOT_FS_H
#define ETCDPILOT_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ep_error;

/*
 * Write @len bytes of @data to @path atomically with permission @mode
 * (applied exactly, whatever the umask).  The parent directory must exist.
 * Refuses (-ELOOP) when @path itself is a symlink: a key must never be
 * written through a link somebody planted.  On failure the target is
 * untouched and the temp file is removed.  Returns 0 or a negative errno.
 */
int ep_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		    struct ep_error *err);

/*
 * Create directory @path and its missing parents with @mode (exact for the
 * ones created; existing ones are left alone).  A path component that is a
 * symlink or not a directory is an error.  Returns 0 or a negative errno.
 */
int ep_mkdir_p(const char *path, mode_t mode, struct ep_error *err);

/*
 * Read the whole regular file @path (at most @max bytes, else -EFBIG) into a
 * NUL-terminated heap buffer *@ret (caller frees); *@ret_len gets the length
 * without the NUL (may be NULL).  Refuses symlinks when @nofollow.
 * Returns 0 or a negative errno (-ENOENT when absent).
 */
int ep_read_file(const char *path, size_t max, bool nofollow, char **ret, size_t *ret_len,
		 struct ep_error *err);

/*
 * Map the node path @path (absolute) to where it lives under @root ("/" or
 * NULL means the real root).  The result, a heap string in *@ret, is
 * @root + the normalised @path.  Existing components are inspected: a
 * symlink is followed as if @root were "/" (an absolute target restarts at
 * @root), and ".." never climbs above @root - either way of escaping is an
 * error (-EXDEV) naming the offending component.  Components that do not
 * exist yet are taken lexically (so the path of a file about to be created
 * resolves too).  A relative @path is an error (-EINVAL).
 */
int ep_root_path(const char *root, const char *path, char **ret, struct ep_error *err);

/*
 * Remove the temp files that an interrupted ep_write_atomic(@path, ...) left
 * beside @path: regular files named exactly "<@path>.ep-" and 16 lowercase
 * hex digits (never anything else, never what a symlink points to).  Only
 * call it while nobody else can be writing @path (under ep_dir_lock()).
 * With @dry_run they are only counted.  Returns how many there were (0 when
 * the directory does not exist) or a negative errno.
 */
int ep_write_atomic_sweep(const char *path, bool dry_run, struct ep_error *err);

/*
 * Take an exclusive flock(2) on the existing directory @path, so that one
 * writer at a time works in it.  Never blocks past @timeout_ms: the lock is
 * polled (LOCK_NB), and when another process still holds it at the
 * deadline the call fails with -EBUSY and a message that names @path and
 * says that another etcdpilot is writing there.  A directory that was
 * replaced while we waited is locked anew, so the lock always belongs to
 * what @path names.  On success *@ret_fd holds the lock (O_CLOEXEC); closing
 * it releases the lock, as does the process's exit.  Locks are per open
 * file: the same process locking @path twice waits for itself.  Returns 0
 * or a negative errno (-ENOENT, -ENOTDIR, -EACCES ... naming @path).
 */
int ep_dir_lock(const char *path, unsigned timeout_ms, int *ret_fd, struct ep_error *err);

/* Return true when @path exists (lstat succeeds). */
bool ep_path_exists(const char *path);

/* True when directory @path is absent or holds no entry besides . and .. */
bool ep_dir_empty_or_absent(const char *path);

#endif
