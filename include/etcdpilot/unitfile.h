/*
 * unitfile.h - reading systemd unit files as systemd does, for the units
 * met on real nodes: etcdpilot's own, kubespray's, etcdadm's and the
 * hand-written ones of "Kubernetes the Hard Way".
 *
 * Three parsers, each after the page that defines the syntax:
 *   - the file (systemd.syntax(7)): [Section] headers, Key=Value lines,
 *     '#' and ';' comment lines (also between continued lines), a trailing
 *     '\' continuing the line with a space in its place, whitespace around
 *     keys and values dropped, a UTF-8 BOM skipped;
 *   - a command line (systemd.service(5), "Command lines"): the prefixes
 *     '-', '@', ':', '+', '!', '!!', words split at whitespace with '...'
 *     and "..." quoting anywhere in a word and C escapes, "%%" and the
 *     unit-name specifiers, then "${VAR}" (also ${VAR:-default} and
 *     ${VAR:+alternative}) replaced inside a word and "$VAR" as a word of
 *     its own split at whitespace, "$$" a literal '$';
 *   - an Environment= value (systemd.exec(5)): NAME=value words quoted
 *     and escaped the same way.
 * EnvironmentFile= contents are read by ep_unit_env_parse (unit.h).
 *
 * Nothing here reads a file or knows about etcd: the caller gives the
 * text and says where it came from (for messages and origins).
 */
#ifndef ETCDPILOT_UNITFILE_H
#define ETCDPILOT_UNITFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "etcdpilot/spec.h"

struct ep_error;

/* One assignment of a unit file, in file order. */
struct ep_unit_entry {
	char *section; /* "Service" */
	char *key;     /* "ExecStart" */
	char *value;   /* continuation lines joined, whitespace trimmed (may be "") */
	char *file;    /* as given to ep_unitfile_parse */
	unsigned line; /* line of the key (the first of a continued line) */
};

struct ep_unit_entries {
	struct ep_unit_entry *v;
	size_t n;
};

void ep_unit_entries_release(struct ep_unit_entries *e);

/*
 * Parse the unit file text @buf (@len bytes, NUL bytes end a line) read
 * from @file and append its assignments to @ret (so that a unit and its
 * drop-ins, parsed in order, make one list).  What systemd ignores with a
 * warning - an assignment outside a section, a line without '=' - is
 * skipped and said in @notes (may be NULL) as "FILE:LINE: ...".  A section
 * header without its ']' is an error (systemd refuses to load the unit):
 * -EBADMSG with @err naming FILE:LINE.  Lines are limited to 1 MiB after
 * joining, as in systemd (-E2BIG).  Returns 0 or a negative errno; on
 * failure @ret keeps what it held before the call.
 */
int ep_unitfile_parse(const char *buf, size_t len, const char *file, struct ep_unit_entries *ret,
		      struct ep_strv *notes, struct ep_error *err);

/*
 * The values of @key in [@section] of @e, in order, with systemd's reset
 * rule: an empty assignment forgets every earlier one.  The entries are
 * borrowed from @e; *@ret (heap array of *@ret_n pointers, NULL when none)
 * is the caller's to free.  Returns 0 or -ENOMEM.
 */
int ep_unit_entries_get(const struct ep_unit_entries *e, const char *section, const char *key,
			const struct ep_unit_entry ***ret, size_t *ret_n);

/* Prefixes of a command line (systemd.service(5), table 2). */
enum {
	EP_EXEC_IGNORE_FAILURE = 1 << 0, /* '-' */
	EP_EXEC_ARGV0 = 1 << 1,		 /* '@': the second word is argv[0] */
	EP_EXEC_NO_ENV_EXPAND = 1 << 2,	 /* ':' */
	EP_EXEC_PRIVILEGED = 1 << 3,	 /* '+' */
	EP_EXEC_NO_SETUID = 1 << 4,	 /* '!' */
	EP_EXEC_AMBIENT = 1 << 5,	 /* '!!' */
};

/* A command line after splitting and expansion. */
struct ep_unit_exec {
	unsigned flags;	     /* EP_EXEC_* */
	char *path;	     /* the program to run, as written (absolute, or a bare name) */
	struct ep_strv argv; /* what the program gets: argv[0] first */
};

void ep_unit_exec_release(struct ep_unit_exec *x);

/*
 * Split the command line @value (an ExecStart= value of unit @unit_name,
 * e.g. "etcd.service", for the %n/%N/%p specifiers) into the zeroed @ret,
 * replacing variables from @env (NULL = none; unset ones are empty) unless
 * the ':' prefix says not to.  Specifiers other than %%, %n, %N, %p, %i
 * are left as written and said in @notes (may be NULL); so is a variable
 * that is not set.  Errors (-EINVAL, @err saying why): an empty command, a
 * bad escape or an unterminated quote (systemd ignores such an ExecStart=,
 * and the unit does not start), a ';' word (several commands, only for
 * Type=oneshot), '@' without the argv[0] word.  Returns 0 or a negative
 * errno; @ret is released on failure.
 */
int ep_unit_exec_parse(const char *value, const char *unit_name, const struct ep_kvv *env,
		       struct ep_unit_exec *ret, struct ep_strv *notes, struct ep_error *err);

/*
 * Split the Environment= value @value into NAME=value assignments appended
 * to @ret in order.  A word that is not NAME=value with a valid name is
 * ignored by systemd: skipped here and said in @notes (may be NULL).  A
 * bad escape or an unterminated quote makes systemd ignore the whole line:
 * -EINVAL with @err.  Returns 0 or a negative errno.
 */
int ep_unit_environment_parse(const char *value, const char *unit_name, struct ep_kvv *ret,
			      struct ep_strv *notes, struct ep_error *err);

#endif
