/*
 * fs_internal.h - pieces of fs.c exposed for the unit tests only.
 */
#ifndef ETCDPILOT_FS_INTERNAL_H
#define ETCDPILOT_FS_INTERNAL_H

#include <stddef.h>
#include <sys/types.h>

struct ep_error;

/*
 * ep_write_atomic() with a caller-chosen temp name @tmp: what sits at @tmp
 * (a file, or a symlink somebody planted) makes it fail with -EEXIST
 * without touching it or what it points to.
 */
int ep_write_atomic_via(const char *path, const char *tmp, const void *data, size_t len,
			mode_t mode, struct ep_error *err);

#endif
