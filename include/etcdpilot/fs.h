/*
 * fs.h - the only way the library writes files, and how it finds them.
 *
 * Every write goes through an atomic write: a temp file beside the target
 * (opened O_CREAT|O_EXCL|O_NOFOLLOW, so a symlink planted at the temp name is
 * never followed), write, fsync, rename over the target, fsync of the
 * directory.  A reader sees either the old file or the whole new one; a key
 * is never world-readable, not even for a moment, because the temp file is
 * created with the final mode.  Two files that must change together (a key
 * and its certificate) change as a pair: see ep_pair_commit_at().
 *
 * Roots.  Every path in the configuration names a path on the node (e.g.
 * /etc/kubernetes/pki).  With --root DIR the tool reads and writes it under
 * DIR instead.  A root is passed as the string --root gave: NULL, or a
 * string of slashes only ("/"), is the real root; "" is refused
 * (EP_ERR_USAGE), because an unset shell variable must never mean the real
 * node.  Every ep_root_*() operation takes a (root, node path) pair and
 * resolves the node path at the moment of the operation relative to a file
 * descriptor of the root that it cannot leave: openat2(2) with
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS (Linux >= 5.6) or, where the
 * kernel lacks openat2 (ENOSYS), a component-by-component O_NOFOLLOW walk on
 * directory fds with the same meaning (systemd's chase()): a symlink is
 * followed as if the root were "/" (an absolute target restarts at the
 * root), ".." stops at the root.  What the operation then does (create a
 * temp file, rename, mkdir, unlink) is done relative to the fd of the
 * directory that was resolved, never by path again, so a directory swapped
 * for a symlink while a command runs cannot carry a write, rename, mkdir or
 * read outside the root.  For the real root the node path is used as it is
 * (a relative path is relative to the working directory).  There is no root
 * handle: each call opens the root anew (one open(2)), and a workflow that
 * does several things in one directory (the PKI) opens that directory once
 * (ep_root_open_dir) and works with the *_at() functions.
 *
 * Messages name the real path: the root, then the node path ("/tmp/n1/etc/
 * kubernetes/pki/etcd/ca.crt"), or the node path alone for the real root.
 * ep_root_path() computes that string; it also refuses (EXDEV) a path that
 * leaves the root through ".." or a symlink, as a clear early error - but it
 * is only a string: nothing may be opened by it under a root.
 */
#ifndef ETCDPILOT_FS_H
#define ETCDPILOT_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct ep_error;

/* ---- roots --------------------------------------------------------------- */

/* True when @root means the real root: NULL or slashes only ("" is not: it is refused). */
bool ep_root_is_real(const char *root);

/*
 * Check the --root a command was given, before anything else: NULL is the
 * real root (0); "" is refused, and so is a @root that exists but is not a
 * directory, or that cannot be resolved (a symlink loop, a file on the way)
 * - all EP_ERR_USAGE, -EINVAL / -ENOTDIR / -ELOOP.  A @root that does not
 * exist yet is fine (writers create it).  Other errors (EACCES) are
 * failures.  Returns 0 or a negative errno with @err.
 */
int ep_root_check(const char *root, struct ep_error *err);

/*
 * The real path of the node path @path (absolute) under @root, for messages
 * and for comparing, as a heap string in *@ret: @root + the normalised
 * @path.  Existing components are inspected: a symlink is followed as if
 * @root were "/" (an absolute target restarts at @root), and ".." never
 * climbs above @root - either way of escaping is an error (-EXDEV,
 * EP_ERR_USAGE) naming the offending component.  Components that do not
 * exist yet are taken lexically.  A relative @path is an error (-EINVAL);
 * so is an empty @root.  Never open the result under a root: use the
 * ep_root_*() calls, which resolve again, safely, at the moment they act.
 */
int ep_root_path(const char *root, const char *path, char **ret, struct ep_error *err);

/*
 * Open the node path @path under @root with open(2) @flags (O_CLOEXEC is
 * added; O_NOFOLLOW refuses a symlink as the last component with -ELOOP, or
 * with O_PATH opens the link itself; @mode is used with O_CREAT).  *@ret_fd
 * gets the descriptor (caller closes).  Returns 0 or a negative errno
 * (-ENOENT also when the root does not exist); @err (may be NULL) gets
 * "opening '<real path>': <reason>".
 */
int ep_root_open(const char *root, const char *path, int flags, mode_t mode, int *ret_fd,
		 struct ep_error *err);

/*
 * The directory @path under @root, opened O_RDONLY|O_DIRECTORY into
 * *@ret_fd (caller closes).  With @create, it and its missing parents (the
 * root too) are made first with @mode (exact for the ones created, whatever
 * the umask; existing ones keep theirs), one mkdirat(2) at a time relative
 * to the directory above; *@ret_made (may be NULL) says whether the last
 * component was created by this call.  A component that is not a directory,
 * or a symlink that does not lead to one, is an error (-ENOTDIR) naming it.
 * Returns 0 or a negative errno with @err.
 */
int ep_root_open_dir(const char *root, const char *path, bool create, mode_t mode, int *ret_fd,
		     bool *ret_made, struct ep_error *err);

/* ep_root_open_dir(@root, @path, true, @mode, ...) without keeping the fd. */
int ep_root_mkdir_p(const char *root, const char *path, mode_t mode, struct ep_error *err);

/*
 * Read the whole regular file @path under @root (at most @max bytes, else
 * -EFBIG) into a NUL-terminated heap buffer *@ret (caller frees);
 * *@ret_len gets the length without the NUL (may be NULL).  Refuses a
 * symlink as last component (-ELOOP) when @nofollow.  The file is opened
 * O_NONBLOCK and anything but a regular file - a FIFO, a socket, a device,
 * a directory - is refused (-EINVAL) without reading or blocking, with a
 * message that names the file and what it is.  Returns 0 or a negative
 * errno (-ENOENT when absent) with @err.
 */
int ep_root_read_file(const char *root, const char *path, size_t max, bool nofollow, char **ret,
		      size_t *ret_len, struct ep_error *err);

/*
 * Write @len bytes of @data to @path under @root atomically with permission
 * @mode (applied exactly, whatever the umask).  The parent directory must
 * exist.  Refuses (-ELOOP) when @path itself is a symlink - a key must
 * never be written through a link somebody planted - and (-EISDIR) a
 * directory.  On failure the target is untouched and the temp file is
 * removed.  Returns 0 or a negative errno with @err.
 */
int ep_root_write_atomic(const char *root, const char *path, const void *data, size_t len,
			 mode_t mode, struct ep_error *err);

/* lstat(2) of @path under @root (a symlink as last component is not followed): 0 or -errno. */
int ep_root_lstat(const char *root, const char *path, struct stat *ret);

/* True when @path exists under @root (as a symlink too). */
bool ep_root_exists(const char *root, const char *path);

/* True when directory @path under @root is absent or holds no entry besides . and .. */
bool ep_root_dir_empty_or_absent(const char *root, const char *path);

/*
 * chmod the regular file @path under @root (never through a symlink: -ELOOP;
 * anything but a regular file: -EINVAL) to @mode.  0 or -errno with @err.
 */
int ep_root_chmod(const char *root, const char *path, mode_t mode, struct ep_error *err);

/* rmdir(2) of @path under @root (only when empty).  0 or -errno, no message. */
int ep_root_rmdir(const char *root, const char *path);

/*
 * Take an exclusive flock(2) on the existing directory @path under @root,
 * so that one writer at a time works in it.  Never blocks past
 * @timeout_ms: the lock is polled (LOCK_NB), and when another process still
 * holds it at the deadline the call fails with -EBUSY and a message that
 * names the directory and says that another etcdpilot is writing there.  A
 * directory that was replaced while we waited is locked anew, so the lock
 * always belongs to what @path names.  On success *@ret_fd holds the lock
 * and is an O_RDONLY|O_DIRECTORY fd of the directory (O_CLOEXEC; usable with
 * the *_at() calls); closing it releases the lock, as does the process's
 * exit.  Locks are per open file: the same process locking @path twice
 * waits for itself.  Returns 0 or a negative errno (-ENOENT, -ENOTDIR,
 * -EACCES ... naming the directory).
 */
int ep_root_dir_lock(const char *root, const char *path, unsigned timeout_ms, int *ret_fd,
		     struct ep_error *err);

/*
 * Remove the temp files that an interrupted atomic write of @path under
 * @root left beside it: regular files named exactly "<name>.ep-" and 16
 * lowercase hex digits (never anything else, never what a symlink points
 * to).  Only call it while nobody else can be writing @path (under a dir
 * lock).  With @dry_run they are only counted.  Returns how many there were
 * (0 when the directory does not exist) or a negative errno.
 */
int ep_root_write_atomic_sweep(const char *root, const char *path, bool dry_run,
			       struct ep_error *err);

/* ---- in a directory already open ----------------------------------------- */

/*
 * The *_at() calls work on the entry @name (one component: no '/', not "."
 * or "..", else -EINVAL) of the directory open as @dirfd (O_RDONLY, e.g.
 * from ep_root_open_dir or ep_root_dir_lock).  @dir names that directory in
 * messages (its real path).  Nothing is ever followed through a symlink.
 */

/* ep_root_write_atomic() of @dirfd/@name. */
int ep_write_atomic_at(int dirfd, const char *dir, const char *name, const void *data, size_t len,
		       mode_t mode, struct ep_error *err);

/* ep_root_read_file() of @dirfd/@name, never following a symlink. */
int ep_read_file_at(int dirfd, const char *dir, const char *name, size_t max, char **ret,
		    size_t *ret_len, struct ep_error *err);

/* ep_root_write_atomic_sweep() of @dirfd/@name. */
int ep_write_atomic_sweep_at(int dirfd, const char *dir, const char *name, bool dry_run,
			     struct ep_error *err);

/*
 * mkdirat(2) of @name with permission @mode (exact, whatever the umask),
 * then fsync of @dirfd.  -EEXIST without a message when anything is there
 * already, a symlink too.  Returns 0 or a negative errno with @err.
 */
int ep_mkdir_at(int dirfd, const char *dir, const char *name, mode_t mode, struct ep_error *err);

/*
 * unlinkat(2) of @name - with @rmdir an empty directory (AT_REMOVEDIR),
 * else anything but a directory; a symlink is removed itself - then fsync
 * of @dirfd.  -ENOENT, and with @rmdir -ENOTEMPTY, come without a message
 * (for the caller to judge).  Returns 0 or a negative errno with @err.
 */
int ep_unlink_at(int dirfd, const char *dir, const char *name, bool rmdir, struct ep_error *err);

/*
 * Rename @from of @fromfd (named @fromdir) to @to of @tofd (named @todir),
 * never replacing what is at @to: renameat2(RENAME_NOREPLACE), or on a file
 * system without it a look at @to, then renameat(2).  Then fsync of both
 * directories.  -EEXIST when something is at @to, -EXDEV across file
 * systems, each with a message that says so.  Returns 0 or a negative errno
 * with @err.
 */
int ep_rename_noreplace_at(int fromfd, const char *fromdir, const char *from, int tofd,
			   const char *todir, const char *to, struct ep_error *err);

/*
 * Set the permission bits of @name to @mode; a symlink is refused
 * (-ELOOP), never followed.  The entry is opened O_PATH|O_NOFOLLOW and the
 * mode set on what was opened (through /proc/self/fd; without /proc, a
 * regular file or a directory is opened for reading and checked to be the
 * same).  Returns 0 or a negative errno with @err.
 */
int ep_chmod_at(int dirfd, const char *dir, const char *name, mode_t mode, struct ep_error *err);

/*
 * Copy the regular file @from of @fromfd (a symlink is refused with -ELOOP,
 * anything else that is not a regular file with -EINVAL; opened O_NONBLOCK)
 * to @to of @tofd with permission @mode, atomically and streamed: a temp
 * file "<@to>.ep-<16 hex>" (as ep_write_temp_at's), the data, fsync,
 * rename over @to, fsync of @tofd.  On failure @to is untouched and the
 * temp file gone.  Returns 0 or a negative errno with @err.
 */
int ep_copy_at(int fromfd, const char *fromdir, const char *from, int tofd, const char *todir,
	       const char *to, mode_t mode, struct ep_error *err);

/*
 * rm -rf of @name, then fsync of @dirfd: a directory is emptied through
 * descriptors opened O_DIRECTORY|O_NOFOLLOW one level at a time (a symlink
 * in it is removed, never followed; a directory swapped for one meanwhile
 * is an error, never entered), at most 256 levels deep (-ENAMETOOLONG).  0
 * when @name is absent.  Returns 0 or a negative errno with @err.
 */
int ep_remove_tree_at(int dirfd, const char *dir, const char *name, struct ep_error *err);

/*
 * The first half of an atomic write: a new temp file "<@name>.ep-<16 hex>"
 * in @dirfd with @data and mode @mode, fsynced and closed; its name (heap)
 * in *@ret_temp.  Nothing else is touched.  For ep_pair_commit_at().
 * Returns 0 or a negative errno with @err (the temp file is then gone).
 */
int ep_write_temp_at(int dirfd, const char *dir, const char *name, const void *data, size_t len,
		     mode_t mode, char **ret_temp, struct ep_error *err);

/* One file of a pair: @target gets the temp file @temp, or is removed (@temp NULL). */
struct ep_pair_op {
	const char *target;
	const char *temp;
};

/*
 * Change the (at most 4) files of @ops in @dirfd as one: after any crash,
 * either all are as before or all are as new, never a mix (git's lockfile
 * pairs; SQLite's journal).  The temp files must be complete (from
 * ep_write_temp_at).  First an intent, the journal @journal (a name of
 * @dirfd, e.g. "server.ep-pair"), is written atomically and fsynced; then
 * hard links to the files about to be replaced are kept ("<target>.ep-<16
 * hex>", best effort), each temp is renamed over its target (or the target
 * removed), the directory fsynced, the journal and the links removed.  A
 * run that dies before the journal is in place leaves only temp files
 * (ep_write_atomic_sweep_at removes them: the old files stay); one that
 * dies after it is completed by ep_pair_recover_at().  A rename that fails
 * (not a crash) after the journal puts back what went in, from the links,
 * through an undo journal that replaces the intent, and says so in @err
 * ("; put back the previous server.key").  *@ret_pending (may be NULL)
 * says whether a journal is left for the next run to complete (putting
 * back failed too, or a link could not be made: then the change goes
 * forward, whole); otherwise nothing changed and no temp file is left.
 * Returns 0 or a negative errno with @err.
 */
int ep_pair_commit_at(int dirfd, const char *dir, const char *journal, const struct ep_pair_op *ops,
		      size_t n, bool *ret_pending, struct ep_error *err);

/*
 * Complete the change an interrupted ep_pair_commit_at() recorded in
 * @journal of @dirfd (roll forward): rename the temps it lists that are
 * still there over their targets, remove what it says to remove, fsync,
 * remove the journal.  Only targets among @names (@n of them) are touched;
 * a journal naming anything else, or unreadable, or not a regular file, is
 * an error (-EBADMSG) that says to remove it.  Call it under the lock of
 * the directory, before sweeping temp files.  With @dry_run nothing is
 * changed.  Returns 1 when there was a journal (completed, or with
 * @dry_run would be), 0 when there was none, or a negative errno.
 */
int ep_pair_recover_at(int dirfd, const char *dir, const char *journal, const char *const *names,
		       size_t n, bool dry_run, struct ep_error *err);

/* ---- plain paths: the real root ------------------------------------------ */

/*
 * The same for a path that is not under a --root (the real root: a
 * relative path is relative to the working directory): --config, a
 * --cacert, --etcd-binary, or a test's scratch file.  Each is its ep_root_*
 * call with root NULL.
 */
int ep_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
		    struct ep_error *err);
int ep_mkdir_p(const char *path, mode_t mode, struct ep_error *err);
int ep_read_file(const char *path, size_t max, bool nofollow, char **ret, size_t *ret_len,
		 struct ep_error *err);
int ep_write_atomic_sweep(const char *path, bool dry_run, struct ep_error *err);
int ep_dir_lock(const char *path, unsigned timeout_ms, int *ret_fd, struct ep_error *err);
bool ep_path_exists(const char *path);
bool ep_dir_empty_or_absent(const char *path);

/* ---- a file written as a stream ------------------------------------------ */

/*
 * For a file too large to hold in memory (a snapshot of etcd's database):
 * the same promise as ep_root_write_atomic - a reader sees no file or the
 * whole new one - with the data handed over in pieces.  The new file is
 * made unnamed in the target's directory (O_TMPFILE) wherever the file
 * system allows it, so that a run killed at any moment, even with SIGKILL,
 * leaves nothing behind; elsewhere it is a temp file "<name>.ep-<16 hex>"
 * (ep_write_atomic_sweep finds it) that every failure removes.
 *
 * ep_root_atomic_file_begin: the target @path under @root (parent
 * directory must exist: -ENOENT "the directory does not exist"; a symlink
 * is refused, -ELOOP; a directory, -EISDIR), mode @mode exactly.  Without
 * @replace an existing target is -EEXIST, now and again at commit (the
 * kernel checks it: link(2) or RENAME_NOREPLACE), never replaced.
 * ep_atomic_file_write appends (-errno, e.g. -ENOSPC, naming the file).
 * ep_atomic_file_commit fsyncs the file, gives it its name, fsyncs the
 * directory, and frees @f whatever happens (nothing is left on failure).
 * ep_atomic_file_abort drops the new file and frees @f (NULL fine).  All
 * return 0 or a negative errno with @err.
 */
struct ep_atomic_file;
int ep_root_atomic_file_begin(const char *root, const char *path, mode_t mode, bool replace,
			      struct ep_atomic_file **ret, struct ep_error *err);
int ep_atomic_file_begin(const char *path, mode_t mode, bool replace, struct ep_atomic_file **ret,
			 struct ep_error *err);
int ep_atomic_file_write(struct ep_atomic_file *f, const void *data, size_t len,
			 struct ep_error *err);
int ep_atomic_file_commit(struct ep_atomic_file *f, struct ep_error *err);
void ep_atomic_file_abort(struct ep_atomic_file *f);
/* True when the new file has no name until commit (O_TMPFILE). */
bool ep_atomic_file_unnamed(const struct ep_atomic_file *f);

#endif
