/*
 * archive_dl.c - opens libarchive on first use and resolves the functions
 * install.c calls (see archive_dl.h for why).  It owns nothing else: no
 * archive is read here.
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "archive_dl.h"

#define EP_ARCHIVE_SYM_DEFINE(name) __typeof__(name) *sym_##name;
EP_ARCHIVE_SYMS(EP_ARCHIVE_SYM_DEFINE)
#undef EP_ARCHIVE_SYM_DEFINE

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int open_result;
static char open_error[EP_ERROR_MAX];

static void archive_dl_load(void)
{
	void *dl = dlopen(EP_LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		snprintf(open_error, sizeof(open_error),
			 "cannot load %s, needed to unpack etcd release archives: %s; install "
			 "Debian's libarchive13",
			 EP_LIBARCHIVE_SONAME, dlerror());
		open_result = -EOPNOTSUPP;
		return;
	}
	/* The handle stays open for the life of the process: the pointers live on. */
#define EP_ARCHIVE_SYM_LOAD(name)                                                            \
	if (!(*(void **)&sym_##name = dlsym(dl, #name))) {                                   \
		snprintf(open_error, sizeof(open_error),                                     \
			 "%s has no '%s': it is older than the libarchive etcdpilot was "    \
			 "built against; upgrade libarchive13",                              \
			 EP_LIBARCHIVE_SONAME, #name);                                       \
		open_result = -EOPNOTSUPP;                                                   \
		return;                                                                      \
	}
	EP_ARCHIVE_SYMS(EP_ARCHIVE_SYM_LOAD)
#undef EP_ARCHIVE_SYM_LOAD
}

int ep_archive_dl_open(struct ep_error *err)
{
	pthread_once(&once, archive_dl_load);
	if (open_result < 0)
		return ep_error_set(err, open_result, "%s", open_error);
	return 0;
}
