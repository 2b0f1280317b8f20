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
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool pause; /* asked: hold between two pairs of exchanges */
	bool paused;	   /* under lock: held */
	atomic_bool done;  /* the thread has ended */
	atomic_bool stop;
	atomic_ulong swaps; /* pairs of exchanges done */
	int error;	    /* under lock: errno of an exchange that failed (the thread ends) */
};

/*
 * Create the symlink "@dir.lnk" -> @link_target beside the existing
 * directory @dir and start the thread: it exchanges the two names with
 * renameat2(RENAME_EXCHANGE), then exchanges them back, and again, so that
 * @dir is always there, as the directory or as the link.  0 or -errno.
 */
int root_swap_start(struct root_swap *s, const char *dir, const char *link_target);

/*
 * Hold the thread between two pairs of exchanges (it sleeps meanwhile): on
 * return @dir is the directory and stays so until root_swap_resume().
 * False when the thread has ended (->error says why).
 */
bool root_swap_pause(struct root_swap *s);

/* Let it go on; returns once it has swapped again (or ended): it is running. */
void root_swap_resume(struct root_swap *s);

/* Stop and join the thread, remove the link; the number of pairs of exchanges done. */
unsigned long root_swap_stop(struct root_swap *s);

#endif
