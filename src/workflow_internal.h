/*
 * workflow_internal.h - the pieces of init's phases (workflow_init.c) that
 * join and reset use too: the same preflight rules for a new member, the
 * install and start phases of systemd mode.  Not a public header.
 */
#ifndef ETCDPILOT_WORKFLOW_INTERNAL_H
#define ETCDPILOT_WORKFLOW_INTERNAL_H

#include <stdbool.h>

#include "etcdpilot/workflow.h"

struct ep_error;

/* systemd mode: the etcd version the binary to install runs, into wf->spec. */
int ep_wf_settle_version(struct ep_wf *wf, struct ep_error *err);

/* systemd mode: can this systemctl manage the node's unit?  A failed check when not. */
int ep_wf_systemd_check(struct ep_wf *wf, bool *ret_usable, struct ep_error *err);

/* A new member: its data dir empty or absent, its ports free (failed checks recorded). */
int ep_wf_new_member_checks(struct ep_wf *wf, struct ep_error *err);

/* dir.create for the missing directories of wf->files (the manifest's 0700). */
int ep_wf_parents_plan(struct ep_wf *wf, struct ep_error *err);

/* The plan functions of init's install and start phases (systemd), as they are. */
int ep_wf_install_plan(struct ep_wf *wf, struct ep_error *err);
int ep_wf_start_plan(struct ep_wf *wf, struct ep_error *err);

#endif
