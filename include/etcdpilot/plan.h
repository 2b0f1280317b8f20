/*
 * plan.h - every change etcdpilot makes to a node or a cluster is an action
 * in a plan.  Phases look at the node and add actions; --dry-run prints the
 * plan (text, or one JSON document) and stops; applying runs the actions in
 * order under a journal.
 *
 * An action is data, not code: a type name ("file.write", "member.add",
 * "systemd.enable-now" ...), a JSON object of parameters, the phase that
 * added it and one line saying why.  The type - looked up in a registry of
 * built-in types - knows how to describe, apply and undo it.  Because an
 * action is data, the whole plan is written to the journal
 * (<root>/var/lib/etcdpilot/journal.json, 0600 in a 0700 directory) before
 * the first action runs, and the journal is updated and fsynced before and
 * after each action: a run killed at any point leaves on disk exactly what
 * is needed to finish it (resume) or undo it (rollback), as git's sequencer
 * keeps its todo list under .git/.
 *
 * Contract of every action type:
 *   - apply is idempotent: applying an action that was already (fully or
 *     partly) applied finishes it, never does it twice (a killed run may
 *     have applied it without recording so);
 *   - apply returns the facts its undo needs ("undo data": the backup it
 *     made, the member ID etcd gave, the mode a file had), which go into the
 *     journal before the next action starts;
 *   - undo is idempotent and tolerates an action that was never applied or
 *     only partly (it is called for the action that was running when a run
 *     died, whose undo data may be missing);
 *   - an action whose effect cannot be undone (a member removed from the
 *     cluster, data deleted) is irreversible: rollback stops before it, and
 *     a plan puts such actions after everything that may still fail.
 *
 * Nothing here prints: lines go to the ep_log_fn of the context, in
 * kubeadm's voice ("[etcd] Wrote ...").  Secret material (private keys) is
 * never put in an action's parameters or the journal: the pki actions name
 * the pairs and let src/pki* write them.
 */
#ifndef ETCDPILOT_PLAN_H
#define ETCDPILOT_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "etcdpilot/log.h"

struct ep_error;
struct ep_spec;
struct ep_strbuf; /* src/util/strbuf.h */
struct ep_plan;
struct ep_apply_ctx;

/* Where an action stands in the journal. */
enum ep_action_state {
	EP_ACTION_PENDING = 0,
	EP_ACTION_RUNNING,  /* started, not known to have finished */
	EP_ACTION_DONE,
	EP_ACTION_UNDONE,
	EP_ACTION_SKIPPED,  /* nothing to do when its turn came (already the case) */
};

const char *ep_action_state_name(enum ep_action_state s); /* "pending", ... */

/* An action type: how to describe, apply and undo actions of one kind. */
struct ep_action_type {
	const char *name;  /* "file.write": the journal's key; never renamed */
	bool reversible;   /* false: rollback cannot go past an applied one */
	bool changes;      /* false for waits and checks: do not count as a change */
	/*
	 * One human line for --dry-run and the log, without the "[phase] "
	 * prefix: "write /etc/kubernetes/manifests/etcd.yaml (mode 0600)".
	 */
	void (*describe)(const json_t *params, struct ep_strbuf *out);
	/*
	 * Do it.  *@ret_undo (may stay NULL) gets a new JSON object with what
	 * undo needs; it is journalled before the next action.  Returns 0,
	 * EP_APPLY_SKIPPED when there was nothing to do, or -errno with @err.
	 */
	int (*apply)(struct ep_apply_ctx *ctx, const json_t *params, json_t **ret_undo,
		     struct ep_error *err);
	/* Undo it (@undo may be NULL: see the contract above).  0 or -errno. */
	int (*undo)(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		    struct ep_error *err);
};

#define EP_APPLY_SKIPPED 1

/*
 * The type called @name: a built-in one (a static table in the library),
 * or one added with ep_action_type_register.  NULL when unknown.
 */
const struct ep_action_type *ep_action_type_find(const char *name);

/*
 * Add a type to the registry (tests add fake ones; modules add their own).
 * @t is borrowed for the life of the process.  -EEXIST for a name taken,
 * -ENOSPC when the registry is full.
 */
int ep_action_type_register(const struct ep_action_type *t);

/* ------------------------------------------------------------------------ */
/* Building a plan                                                           */

/* A new, empty plan for @command ("init", "join", "reset" ...).  NULL on ENOMEM. */
struct ep_plan *ep_plan_new(const char *command);
void ep_plan_free(struct ep_plan *plan);

/*
 * Append an action of type @type (must be registered) added by phase
 * @phase, with @params (stolen reference: the plan owns it, even on
 * failure) and @reason (one line, copied; may be NULL).  Returns the
 * action's index or -ENOMEM / -EINVAL (unknown type) with @err set.
 */
int ep_plan_add(struct ep_plan *plan, const char *phase, const char *type, json_t *params,
		const char *reason, struct ep_error *err);

size_t ep_plan_count(const struct ep_plan *plan);

/* True when the plan has an action that changes something (not just waits). */
bool ep_plan_changes(const struct ep_plan *plan);

/* Accessors for action @i (< count): borrowed. */
const char *ep_plan_action_type(const struct ep_plan *plan, size_t i);
const char *ep_plan_action_phase(const struct ep_plan *plan, size_t i);
const json_t *ep_plan_action_params(const struct ep_plan *plan, size_t i);
enum ep_action_state ep_plan_action_state(const struct ep_plan *plan, size_t i);

/*
 * The plan as one JSON document (new reference): {"apiVersion":
 * "etcdpilot.io/v1alpha1", "kind": "Plan", "command", "changes": bool,
 * "actions": [{"phase", "type", "description", "reason", "params", "state"}]}.
 * NULL on ENOMEM.
 */
json_t *ep_plan_to_json(const struct ep_plan *plan);

/*
 * The plan as text, one line per action ("[dryrun] [certs] generate ..."),
 * each file.write followed by its content indented by a tab, for --dry-run.
 * Appended to @out.
 */
void ep_plan_to_text(const struct ep_plan *plan, struct ep_strbuf *out);

/* ------------------------------------------------------------------------ */
/* Applying a plan                                                           */

/* Progress of the run: one call per action started and finished. */
struct ep_plan_observer {
	void (*action_start)(void *userdata, const struct ep_plan *plan, size_t i);
	void (*action_end)(void *userdata, const struct ep_plan *plan, size_t i, int r);
	void *userdata;
};

/*
 * What actions need to run: the node root, and the things that talk to the
 * outside (the etcd client's files, systemctl, the log).  Filled by the
 * command; borrowed by the plan for the run.  The action implementations
 * read only these (and their params), never globals.
 */
struct ep_apply_ctx {
	const char *root;               /* NULL or "/" = the real root */
	const struct ep_spec *spec;     /* the node spec of the run (may be NULL on rollback) */
	const char *systemctl;          /* program for systemd.* actions */
	uint64_t deadline_ms;           /* ep_now_ms() clock; 0 = none: waits are bounded by it */
	ep_log_fn log;                  /* may be NULL */
	void *userdata;
	/* private to the engine */
	void *engine;
};

enum {
	EP_APPLY_NO_ROLLBACK = 1 << 0, /* on failure keep what was applied (the journal stays) */
	EP_APPLY_NO_JOURNAL = 1 << 1,  /* plans that change nothing on the node (tests) */
};

/*
 * Apply @plan: write the journal, then run each action in order, updating
 * and fsyncing the journal before and after each.  On a failed action
 * every applied action is undone in reverse (unless EP_APPLY_NO_ROLLBACK),
 * then the journal is removed when the undo completed (kept, and the error
 * says so and how to go on, when it did not).  On success the journal is
 * removed.  Refuses (-EBUSY, EP_ERR_USAGE) when a journal of another run is
 * on the node: the caller resolves that first (ep_journal_load).  Returns 0
 * or the failed action's -errno with @err set ("<phase>: <description>:
 * <cause>"; when the rollback failed too, that is appended).
 */
int ep_plan_apply(struct ep_plan *plan, struct ep_apply_ctx *ctx, unsigned flags,
		  const struct ep_plan_observer *obs, struct ep_error *err);

/* ------------------------------------------------------------------------ */
/* The journal of an interrupted run                                         */

/*
 * Load the journal under @root into *@ret (a plan with each action's state
 * and undo data as recorded).  -ENOENT when there is none; -EINVAL (usage)
 * when it cannot be read as a journal, naming the file and what to do.
 */
int ep_journal_load(const char *root, struct ep_plan **ret, struct ep_error *err);

/* The command that wrote a loaded journal ("join") and when it started (RFC 3339). */
const char *ep_plan_command(const struct ep_plan *plan);
const char *ep_plan_started(const struct ep_plan *plan);

/*
 * Finish a loaded journal: run every action that is not done, from the
 * first one (the one that was running is applied again: apply is
 * idempotent).  Same failure handling as ep_plan_apply.
 */
int ep_journal_resume(struct ep_plan *plan, struct ep_apply_ctx *ctx, unsigned flags,
		      const struct ep_plan_observer *obs, struct ep_error *err);

/*
 * Undo a loaded journal: every done or running action, in reverse.  Stops
 * with -EPERM before an applied irreversible action (the error names it
 * and says that only resuming can end the run).  On success the journal is
 * removed.
 */
int ep_journal_rollback(struct ep_plan *plan, struct ep_apply_ctx *ctx,
			const struct ep_plan_observer *obs, struct ep_error *err);

#endif
