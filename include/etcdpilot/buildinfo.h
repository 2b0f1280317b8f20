/*
 * buildinfo.h - what this etcdpilot is: its version, the git revision and
 * date of the source it was built from, and the versions of the libraries
 * it runs with (which may be newer than the ones it was built against: a
 * Debian security update replaces libssl3 under an installed etcdpilot).
 */
#ifndef ETCDPILOT_BUILDINFO_H
#define ETCDPILOT_BUILDINFO_H

#include <stddef.h>

/* "0.1.0", "02b3870abcde-dirty" (or "unknown"), "2026-05-01T12:00:00Z" (or "unknown"). */
const char *ep_version(void);
const char *ep_git_revision(void);
const char *ep_build_date(void);

/* One library: static strings, never NULL but for @detail and @running. */
struct ep_library_version {
	const char *name;    /* "libcurl", "OpenSSL", "jansson", "libyaml", "libarchive" */
	const char *running; /* the version in use now; NULL: not loaded (libarchive missing) */
	const char *built;   /* the version of the headers etcdpilot was built with */
	const char *detail;  /* "OpenSSL/3.0.15" (libcurl's TLS), "libarchive.so.13, loaded
				on demand"; may be NULL */
};

#define EP_LIBRARY_COUNT 5

/*
 * Fill @v with the EP_LIBRARY_COUNT libraries, in the order above.
 * libarchive is opened to ask for its version (it is otherwise loaded only
 * when an etcd release archive is read); when it cannot be, its @running is
 * NULL and @detail says why.  Cannot fail.
 */
void ep_library_versions(struct ep_library_version v[EP_LIBRARY_COUNT]);

#endif
