/*
 * root_swap.c - the swapping thread of the race tests (root_swap.h).
 */
#include "helpers/root_swap.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void *swap_loop(void *arg)
{
	struct root_swap *s = arg;
	while (!atomic_load(&s->stop)) {
		if (atomic_load(&s->pause)) {
			atomic_store(&s->paused, true);
			while (atomic_load(&s->pause) && !atomic_load(&s->stop))
				sched_yield();
			atomic_store(&s->paused, false);
			continue;
		}
		if (renameat2(AT_FDCWD, s->dir, AT_FDCWD, s->lnk, RENAME_EXCHANGE) < 0) {
			atomic_store(&s->error, errno);
			break;
		}
		sched_yield();
		if (renameat2(AT_FDCWD, s->dir, AT_FDCWD, s->lnk, RENAME_EXCHANGE) < 0) {
			atomic_store(&s->error, errno);
			break;
		}
		atomic_fetch_add(&s->swaps, 1);
		sched_yield();
	}
	atomic_store(&s->done, true);
	return NULL;
}

int root_swap_start(struct root_swap *s, const char *dir, const char *link_target)
{
	memset(s, 0, sizeof(*s));
	if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s", dir) >= sizeof(s->dir) ||
	    (size_t)snprintf(s->lnk, sizeof(s->lnk), "%s.lnk", dir) >= sizeof(s->lnk))
		return -ENAMETOOLONG;
	if (symlink(link_target, s->lnk) < 0)
		return -errno;
	int r = pthread_create(&s->thread, NULL, swap_loop, s);
	if (r != 0) {
		unlink(s->lnk);
		return -r;
	}
	return 0;
}

bool root_swap_pause(struct root_swap *s)
{
	atomic_store(&s->pause, true);
	while (!atomic_load(&s->paused))
		if (atomic_load(&s->done))
			return false;
		else
			sched_yield();
	return true;
}

void root_swap_resume(struct root_swap *s)
{
	atomic_store(&s->pause, false);
	/* Wait until it runs again, so that the next pause waits for a new hold. */
	while (atomic_load(&s->paused) && !atomic_load(&s->done))
		sched_yield();
}

unsigned long root_swap_stop(struct root_swap *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	unlink(s->lnk);
	return atomic_load(&s->swaps);
}
