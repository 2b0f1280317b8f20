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

/* Held: sleep until resumed or stopped. */
static void hold(struct root_swap *s)
{
	pthread_mutex_lock(&s->lock);
	s->paused = true;
	pthread_cond_broadcast(&s->cond);
	while (atomic_load(&s->pause) && !atomic_load(&s->stop))
		pthread_cond_wait(&s->cond, &s->lock);
	s->paused = false;
	pthread_mutex_unlock(&s->lock);
}

static void *swap_loop(void *arg)
{
	struct root_swap *s = arg;
	int e = 0;
	while (!atomic_load(&s->stop)) {
		if (atomic_load(&s->pause)) {
			hold(s);
			continue;
		}
		if (renameat2(AT_FDCWD, s->dir, AT_FDCWD, s->lnk, RENAME_EXCHANGE) < 0) {
			e = errno;
			break;
		}
		sched_yield();
		if (renameat2(AT_FDCWD, s->dir, AT_FDCWD, s->lnk, RENAME_EXCHANGE) < 0) {
			e = errno;
			break;
		}
		atomic_fetch_add(&s->swaps, 1);
		sched_yield();
	}
	pthread_mutex_lock(&s->lock);
	s->error = e;
	atomic_store(&s->done, true);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int root_swap_start(struct root_swap *s, const char *dir, const char *link_target)
{
	memset(s, 0, sizeof(*s));
	if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s", dir) >= sizeof(s->dir) ||
	    (size_t)snprintf(s->lnk, sizeof(s->lnk), "%s.lnk", dir) >= sizeof(s->lnk))
		return -ENAMETOOLONG;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
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
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->pause, true);
	while (!s->paused && !atomic_load(&s->done))
		pthread_cond_wait(&s->cond, &s->lock);
	bool held = s->paused;
	pthread_mutex_unlock(&s->lock);
	return held;
}

void root_swap_resume(struct root_swap *s)
{
	unsigned long before = atomic_load(&s->swaps);
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->pause, false);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	/* Until it has swapped again: it runs when the code under test starts. */
	while (atomic_load(&s->swaps) == before && !atomic_load(&s->done))
		sched_yield();
}

unsigned long root_swap_stop(struct root_swap *s)
{
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->stop, true);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	unlink(s->lnk);
	return atomic_load(&s->swaps);
}
