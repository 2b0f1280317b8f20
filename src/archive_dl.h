/*
 * archive_dl.h - libarchive, loaded when it is first needed.
 *
 * Only the systemd-mode install reads archives, yet libarchive and what it
 * links (libxml2, ICU, libstdc++, four compressors) cost every etcdpilot
 * process ~1.7 ms of start-up when linked at build time.  As systemd does
 * for its optional libraries, the library is opened with dlopen() by the
 * code that needs it and its functions are called through the sym_
 * pointers below.  The prototypes come from <archive.h>, so a mismatch is
 * a compile error.  Not a public header.
 */
#ifndef ETCDPILOT_ARCHIVE_DL_H
#define ETCDPILOT_ARCHIVE_DL_H

#include <archive.h>
#include <archive_entry.h>

#include "etcdpilot/error.h"

#define EP_ARCHIVE_SYMS(X)                                                                   \
	X(archive_entry_filetype)                                                            \
	X(archive_entry_hardlink)                                                            \
	X(archive_entry_pathname)                                                            \
	X(archive_entry_size)                                                                \
	X(archive_entry_symlink)                                                             \
	X(archive_error_string)                                                              \
	X(archive_read_data)                                                                 \
	X(archive_read_free)                                                                 \
	X(archive_read_new)                                                                  \
	X(archive_read_next_header)                                                          \
	X(archive_read_open_memory)                                                          \
	X(archive_read_support_filter_gzip)                                                  \
	X(archive_read_support_format_tar)                                                   \
	X(archive_version_string)

#define EP_ARCHIVE_SYM_DECLARE(name) extern __typeof__(name) *sym_##name;
EP_ARCHIVE_SYMS(EP_ARCHIVE_SYM_DECLARE)
#undef EP_ARCHIVE_SYM_DECLARE

/*
 * Open libarchive (EP_LIBARCHIVE_SONAME) and resolve every sym_ pointer,
 * once per process; later calls return the first outcome at once.  0, or
 * -EOPNOTSUPP with @err saying which library or symbol is missing and what
 * to install.  Thread-safe.
 */
int ep_archive_dl_open(struct ep_error *err);

#endif
