/*
 * fs_internal.h - pieces of fs.c exposed for the unit tests only.
 */
#ifndef ETCDPILOT_FS_INTERNAL_H
#define ETCDPILOT_FS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ep_error;

/*
 * ep_write_atomic() with a caller-chosen temp name @tmp (in the same
 * directory as @path): what sits at @tmp (a file, or a symlink somebody
 * planted) makes it fail with -EEXIST without touching it or what it points
 * to.
 */
int ep_write_atomic_via(const char *path, const char *tmp, const void *data, size_t len,
			mode_t mode, struct ep_error *err);

/*
 * For the unit tests only (false in the program): resolve every path under
 * a root with the component-by-component walk, as on a kernel without
 * openat2(2), so that both ways are tested.
 */
extern bool fs_test_no_openat2;

/*
 * For the unit tests only (NULL in the program): called at each point where
 * a crash leaves something new on disk - a temp file written, a journal in
 * place, each rename or removal of a pair, the journal gone - with a short
 * name of that point.  A test forks, and the child _exit()s at the Nth call
 * to play a kill -9 there.
 */
extern void (*fs_test_crash_point)(const char *what);

#endif
