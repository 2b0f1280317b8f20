/*
 * cleanup.h - scope-bound release of resources, after systemd's macros.
 * Every destructor here accepts NULL (or -1 for file descriptors).
 */
#ifndef ETCDPILOT_CLEANUP_H
#define ETCDPILOT_CLEANUP_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void ep_freep(void *p)
{
	free(*(void **)p);
}

static inline void ep_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}

static inline void ep_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_(x) __attribute__((cleanup(x)))
#define _cleanup_free_ _cleanup_(ep_freep)
#define _cleanup_close_ _cleanup_(ep_closep)
#define _cleanup_fclose_ _cleanup_(ep_fclosep)

/* Define a destructor `<name>p` that calls @fn on a non-NULL pointer. */
#define EP_DEFINE_CLEANUP(type, fn)                  \
	static inline void fn##p(type *p)            \
	{                                            \
		if (*p)                              \
			fn(*p);                      \
	}

/* Hand ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p)                          \
	({                                   \
		__typeof__(p) _tp_ = (p);    \
		(p) = NULL;                  \
		_tp_;                        \
	})

#define TAKE_FD(fd)                  \
	({                           \
		int _tf_ = (fd);     \
		(fd) = -1;           \
		_tf_;                \
	})

#endif
