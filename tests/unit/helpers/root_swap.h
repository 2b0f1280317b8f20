/*
 * root_swap.h - for the race tests of issue 10, item 2: a thread that swaps
 * a directory of a scratch root with a symlink to a directory outside the
 * root, again and again, while the code under test works under the root.
 */
#ifndef EP_TEST_ROOT_SWAP_H
#define EP_TEST_ROOT_SWAP_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct root_swap {
	char dir[PATH_MAX], lnk[PATH_MAX];
	pthread_t thread;
	atomic_bool stop, pause, paused, done;
	atomic_ulong swaps;
	atomic_int error; /* errno of a swap that failed (the thread stops) */
};

/*
 * Create the symlink "@dir.lnk" -> @link_target beside the existing
 * directory @dir and start the thread: it exchanges the two names with
 * renameat2(RENAME_EXCHANGE), then exchanges them back, and again, so that
 * @dir is always there, as the directory or as the link.  0 or -errno.
 */
int root_swap_start(struct root_swap *s, const char *dir, const char *link_target);

/*
 * Hold the thread between two pairs of exchanges: on return @dir is the
 * directory and stays so until root_swap_resume().  False when the thread
 * has stopped (see ->error).
 */
bool root_swap_pause(struct root_swap *s);
void root_swap_resume(struct root_swap *s);

/* Stop and join the thread, remove the link; the number of pairs of exchanges done. */
unsigned long root_swap_stop(struct root_swap *s);

#endif
