/*
 * systemctl.h - driving systemd for a systemd-mode node: the few systemctl
 * verbs etcdpilot needs, run as a child process with argv (never a shell).
 *
 * The program is spec->systemd.systemctl ("systemctl", looked up in PATH,
 * or a path).  A systemctl named for a --root other than "/" serves that
 * root: so that it knows which, the child gets ETCDPILOT_ROOT=<root> in
 * its environment (the real systemctl ignores it).
 */
#ifndef ETCDPILOT_SYSTEMCTL_H
#define ETCDPILOT_SYSTEMCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "etcdpilot/spec.h"

struct ep_error;

/* Where and how long: the program, the node root and a deadline per call. */
struct ep_systemctl {
	const char *program; /* "systemctl" or a path */
	const char *root;    /* NULL or "/" = the real root */
	uint64_t timeout_ms; /* 0 = no deadline */
};

/*
 * Run "<program> <args...>" (@args NULL-terminated, without the program).
 * Its output (stdout and stderr, at most 64 KiB) goes to *@ret_output (heap,
 * may be NULL to discard); its exit status to *@ret_status (may be NULL:
 * then a non-zero status is an error).  A child that outlives the deadline
 * is killed (-ETIMEDOUT).  Returns 0 or a negative errno with @err set
 * (the message quotes the command and its last output line).
 */
int ep_systemctl_run(const struct ep_systemctl *sc, const char *const *args, int *ret_status,
		     char **ret_output, struct ep_error *err);

/* The verbs.  Each returns 0 or a negative errno with @err set. */
int ep_systemctl_daemon_reload(const struct ep_systemctl *sc, struct ep_error *err);
int ep_systemctl_enable_now(const struct ep_systemctl *sc, const char *unit,
			    struct ep_error *err);
int ep_systemctl_stop(const struct ep_systemctl *sc, const char *unit, struct ep_error *err);
int ep_systemctl_disable(const struct ep_systemctl *sc, const char *unit, struct ep_error *err);
int ep_systemctl_mask(const struct ep_systemctl *sc, const char *unit, struct ep_error *err);

/*
 * "is-active": *@ret_active is true when the unit is active; *@ret_state
 * (may be NULL) gets the word systemctl printed ("active", "inactive",
 * "failed", "activating"...), at most 31 characters plus NUL into a buffer
 * of 32.  A non-zero exit is not an error here.  Returns 0 or -errno.
 */
int ep_systemctl_is_active(const struct ep_systemctl *sc, const char *unit, bool *ret_active,
			   char ret_state[32], struct ep_error *err);

/*
 * True when @program (NULL or "" = "systemctl") is systemd's own systemctl,
 * by name: "systemctl" or a path ending in "/systemctl".
 */
bool ep_systemctl_is_real(const char *program);

/*
 * Before anything is written: can @sc manage this node's etcd.service?
 * With a root other than "/" the systemctl must have been @named
 * explicitly (--systemctl, $ETCDPILOT_SYSTEMCTL or systemd.systemctl) and
 * must not be the real one: systemctl drives the host's systemd, whatever
 * root the files were written under.  The real systemctl needs a running
 * systemd: <@run_dir>/systemd/system (@run_dir NULL = "/run", as
 * sd_booted() checks).  EP_ERR_USAGE errors saying so; returns 0 or -errno.
 */
int ep_systemctl_preflight(const struct ep_systemctl *sc, bool named, const char *run_dir,
			   struct ep_error *err);

#endif
