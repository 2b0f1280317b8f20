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
 *   - apply leaves in its undo object the facts its undo needs ("undo
 *     data": the backup it made, the member ID etcd gave, the mode a file
 *     had), which go into the journal before the next action starts.  A
 *     fact that the change itself destroys (the old content of a file, the
 *     old mode, whether a unit was running) must be journalled BEFORE the
 *     change, with ep_apply_checkpoint(), as SQLite's rollback journal holds
 *     the old page before the page is written: after a crash in the middle
 *     of the change, undo finds it, and the re-apply of a resume finds it
 *     too (the undo object is handed back to apply as it was recorded) and
 *     must not record it again from the half-changed state;
 *   - apply may answer EP_APPLY_SKIPPED (nothing to do, already the case):
 *     the engine then never undoes the action.  It honours SKIPPED only when
 *     the undo object is empty: an action that recorded something (a re-apply
 *     after a crash) is DONE, and its undo runs on rollback;
 *   - undo is idempotent and tolerates an action that was never applied or
 *     only partly (it is called for the action that was running when a run
 *     died, or whose apply failed, with whatever undo data was recorded -
 *     an empty object when none);
 *   - an action whose effect cannot be undone (a member removed from the
 *     cluster, data deleted) is irreversible: rollback stops before it, and
 *     a plan puts such actions after everything that may still fail.  Its
 *     undo, if the type has one, is only a check, called when it is not
 *     known whether the action took effect (it was running when the run
 *     died, or its apply failed): 0 means it did not, and rollback goes on;
 *     an error (or no undo at all) stops rollback there;
 *   - an undo that needs the cluster (a "remote" type) and cannot reach it
 *     may answer EP_UNDO_DEFERRED when undoing the node's own changes
 *     before it is safe all the same (a learner that does not vote): the
 *     action keeps its state and undo data, the rollback goes on with the
 *     node's actions and stops before the next remote one (what comes
 *     before it, this node's certificates, is what reaches the cluster),
 *     and the journal is kept for a later rollback, which alone can end
 *     the run (applying it again would restart a member from a new data
 *     dir).
 *
 * Nothing here prints: lines go to the ep_log_fn of the context, in
 * kubeadm's voice ("[etcd] Write ...: done").  Secret material (private
 * keys) is never put in an action's parameters or the journal: the pki
 * actions name the pairs and let src/pki* write them (file.write refuses
 * content that holds a PEM private key).
 *
 * The journal (an interface: fields are added, never renamed).  One JSON
 * document, rewritten atomically (temp file, fsync, rename, fsync of the
 * directory) at every step, at <root>/var/lib/etcdpilot/journal.json:
 *
 *   {
 *     "apiVersion": "etcdpilot.io/v1alpha1",
 *     "kind": "Journal",
 *     "id": "<16 hex digits: this run>",
 *     "command": "join",
 *     "started": "2025-01-31T12:00:00Z",      (RFC 3339, UTC)
 *     "pid": 4242,                              (the process that started it)
 *     "status": "applying" | "rolling-back" | "committing",
 *     "actions": [
 *       { "phase": "etcd", "type": "file.write", "params": {...},
 *         "reason": "...", "state": "pending" | "running" | "done" |
 *         "skipped" | "failed" | "undone", "undo": {...} }, ...
 *     ]
 *   }
 *
 * Beside it, <root>/var/lib/etcdpilot/journal.d/<id>/ holds what the run
 * needs to undo itself (copies of the files that file.write replaced);
 * both go when the run completes or is rolled back.  The directory
 * <root>/var/lib/etcdpilot is locked (flock) for the whole of a run, a
 * resume or a rollback, so two runs never share a journal.
 *
 * The steps, each journalled before the next: the plan with every action
 * "pending"; for each action, "running", then (apply's checkpoints, then)
 * "done" or "skipped" with its undo data, or "failed".  On success, status
 * "committing"; each done action's commit (deleting what it moved aside);
 * the journal removed.  On failure, status "rolling-back"; each done,
 * running or failed action undone in reverse ("undone" after each), the
 * ones of types with undo_last afterwards in plan order; the journal
 * removed - or, when the rollback could not finish, kept.
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
struct ep_ca_bundle; /* bundle.h */
struct ep_strbuf; /* src/util/strbuf.h */
struct ep_plan;
struct ep_apply_ctx;

/* The node directory of the journal, its file and the directory of undo data. */
#define EP_JOURNAL_DIR  "/var/lib/etcdpilot"
#define EP_JOURNAL_FILE EP_JOURNAL_DIR "/journal.json"
#define EP_JOURNAL_DATA EP_JOURNAL_DIR "/journal.d"

/* How long a run waits for another etcdpilot's lock on the journal directory. */
#define EP_JOURNAL_LOCK_TIMEOUT_MS 1000u

/* Where an action stands in the journal. */
enum ep_action_state {
	EP_ACTION_PENDING = 0,
	EP_ACTION_RUNNING,  /* started, not known to have finished */
	EP_ACTION_DONE,
	EP_ACTION_UNDONE,
	EP_ACTION_SKIPPED,  /* nothing to do when its turn came (already the case) */
	EP_ACTION_FAILED,   /* apply returned an error: may be partly applied */
};

const char *ep_action_state_name(enum ep_action_state s); /* "pending", ... */

/* An action type: how to describe, apply and undo actions of one kind. */
struct ep_action_type {
	const char *name;  /* "file.write": the journal's key; never renamed */
	bool reversible;   /* false: rollback cannot go past an applied one */
	bool changes;      /* false for waits, checks and reloads: not a change */
	bool remote;       /* apply and undo talk to the cluster, not to the node */
	/*
	 * Undo after the rest of the rollback, in plan order: for actions
	 * whose undo must see what the other undos restore (systemd's
	 * daemon-reload and restart read the unit files that file.write's
	 * undo puts back).
	 */
	bool undo_last;
	/*
	 * Optional: validate @params (when the action is added to a plan and
	 * when a journal is loaded).  0, or -EINVAL with @err saying what is
	 * wrong.
	 */
	int (*check)(const json_t *params, struct ep_error *err);
	/*
	 * One human line for --dry-run and the log, without the "[phase] "
	 * prefix: "write /etc/kubernetes/manifests/etcd.yaml (mode 0600)".
	 * Anything from outside is escaped.
	 */
	void (*describe)(const json_t *params, struct ep_strbuf *out);
	/*
	 * Do it.  @undo is the action's undo data, owned by the engine: an
	 * empty object on the first attempt, what an earlier attempt recorded
	 * when the action is applied again (resume).  apply adds what undo will
	 * need (see the contract above; ep_apply_checkpoint() journals it
	 * before a change).  Returns 0, EP_APPLY_SKIPPED when there was nothing
	 * to do, or -errno with @err.
	 */
	int (*apply)(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		     struct ep_error *err);
	/*
	 * Undo it (@undo is never NULL: an empty object when nothing was
	 * recorded; see the contract above).  0 or -errno with @err, or for a
	 * remote type EP_UNDO_DEFERRED with @err saying what is left and why
	 * the node's own undos may go on.  May be NULL for an irreversible
	 * type.
	 */
	int (*undo)(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		    struct ep_error *err);
	/*
	 * Optional: the whole run succeeded - drop what undo kept (delete the
	 * file that file.remove moved aside).  Called once per done action, in
	 * order, after the status "committing" is journalled; idempotent.  0 or
	 * -errno with @err (the journal is then kept and --resume finishes it).
	 */
	int (*commit)(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		      struct ep_error *err);
};

#define EP_APPLY_SKIPPED 1
#define EP_UNDO_DEFERRED 2

/*
 * The type called @name: a built-in one (a static table in the library),
 * or one added with ep_action_type_register.  NULL when unknown.
 */
const struct ep_action_type *ep_action_type_find(const char *name);

/*
 * Add a type to the registry (tests add fake ones; modules add their own).
 * @t is borrowed for the life of the process; it needs a name, describe,
 * apply, and undo when reversible (else -EINVAL).  -EEXIST for a name
 * taken, -ENOSPC when the registry is full.  Not thread-safe: register
 * before any plan is built.
 */
int ep_action_type_register(const struct ep_action_type *t);

/* ------------------------------------------------------------------------ */
/* Building a plan                                                           */

/* A new, empty plan for @command ("init", "join", "reset" ...).  NULL on ENOMEM. */
struct ep_plan *ep_plan_new(const char *command);

/* Free @plan and everything it owns (NULL fine). */
void ep_plan_free(struct ep_plan *plan);

/*
 * Append an action of type @type (must be registered) added by phase
 * @phase, with @params (a JSON object; stolen reference: the plan owns it,
 * even on failure) and @reason (one line, copied; may be NULL).  The
 * type's check runs on @params.  Returns the action's index or -ENOMEM /
 * -EINVAL (unknown type, params refused) with @err set.
 */
int ep_plan_add(struct ep_plan *plan, const char *phase, const char *type, json_t *params,
		const char *reason, struct ep_error *err);

/*
 * Builders for the built-in types (each returns what ep_plan_add returns).
 * Paths are node paths (absolute; --root is applied when the action runs);
 * modes are permission bits (07777 at most).
 *
 *   dir.create   {path, mode: "0700"}: mkdir -p; the missing parents get
 *                0755 and the last directory @mode (as mkdir -p -m).  Undo
 *                removes the directories it created, deepest first, each
 *                only when empty.
 *   file.write   {path, mode, content, hidden_rename: bool}: replace @path
 *                atomically with @content (text) and @mode.  A file there
 *                already is first copied into the journal's data directory
 *                (undo data {"backup": name, "mode"} or {"backup":
 *                "absent"}); undo restores it, or removes what was written.
 *                With hidden_rename the new file is first written under a
 *                hidden name in the same directory (".<name>.etcdpilot-new")
 *                then renamed over @path: the kubelet loads every
 *                non-hidden file of the manifest directory.  Never for
 *                private keys (refused).  Skipped when the file already has
 *                that content and mode.  The parent directory must exist.
 *   file.chmod   {path, mode}: undo data {"mode": old}; skipped when equal.
 *   file.move    {from, to, into: bool}: rename @from to @to (with @into,
 *                into the existing directory @to, keeping its name), on the
 *                same file system; refuses to replace anything at the
 *                destination; undo moves it back.  Skipped when @from is
 *                absent.
 *   file.remove  {path, recursive: bool}: move @path aside to a hidden name
 *                in the same directory (".<name>.etcdpilot-trash-<run>-<i>");
 *                deleted (with everything in it when @recursive) only when
 *                the whole run succeeded; undo puts it back.  A directory
 *                that is not empty needs @recursive.  Skipped when absent.
 *   systemd.<verb> {unit}: verbs daemon-reload (no unit), enable-now,
 *                start, stop, restart, disable, mask, unmask, run through
 *                ctx->systemctl.  Each records the unit's prior state
 *                (is-active, is-enabled) before acting and is skipped when
 *                there is nothing to do; undo is the natural inverse of
 *                what was done: enable-now <-> stop (if it was inactive) and
 *                disable (if it was disabled), start <-> stop, stop <->
 *                start, disable <-> enable, mask <-> unmask; daemon-reload
 *                and restart (restart again, or stop when it was inactive)
 *                are undone last, once the files are back.
 */
int ep_plan_add_dir_create(struct ep_plan *plan, const char *phase, const char *path,
			   unsigned mode, const char *reason, struct ep_error *err);
int ep_plan_add_file_write(struct ep_plan *plan, const char *phase, const char *path,
			   unsigned mode, const char *content, bool hidden_rename,
			   const char *reason, struct ep_error *err);
int ep_plan_add_file_chmod(struct ep_plan *plan, const char *phase, const char *path,
			   unsigned mode, const char *reason, struct ep_error *err);
int ep_plan_add_file_move(struct ep_plan *plan, const char *phase, const char *from,
			  const char *to, bool into, const char *reason, struct ep_error *err);
int ep_plan_add_file_remove(struct ep_plan *plan, const char *phase, const char *path,
			    bool recursive, const char *reason, struct ep_error *err);
/* @verb: "daemon-reload" (@unit NULL), "enable-now", "start", "stop", ... */
int ep_plan_add_systemd(struct ep_plan *plan, const char *phase, const char *verb,
			const char *unit, const char *reason, struct ep_error *err);

size_t ep_plan_count(const struct ep_plan *plan);

/* True when the plan has an action that changes something (not just waits). */
bool ep_plan_changes(const struct ep_plan *plan);

/*
 * After a run: how many actions that change something are done - "changed"
 * is this, never a reading of the log.
 */
size_t ep_plan_count_changed(const struct ep_plan *plan);

/* Accessors for action @i (< count): borrowed. */
const char *ep_plan_action_type(const struct ep_plan *plan, size_t i);
const char *ep_plan_action_phase(const struct ep_plan *plan, size_t i);
const char *ep_plan_action_reason(const struct ep_plan *plan, size_t i); /* NULL: none */
const json_t *ep_plan_action_params(const struct ep_plan *plan, size_t i);
const json_t *ep_plan_action_undo(const struct ep_plan *plan, size_t i); /* an object */
enum ep_action_state ep_plan_action_state(const struct ep_plan *plan, size_t i);

/* The description of action @i (its type's describe), appended to @out. */
void ep_plan_action_describe(const struct ep_plan *plan, size_t i, struct ep_strbuf *out);

/*
 * The plan as one JSON document (new reference): {"apiVersion":
 * "etcdpilot.io/v1alpha1", "kind": "Plan", "command", "changes": bool,
 * "actions": [{"phase", "type", "description", "reason", "params", "state"}]}
 * ("reason" only when there is one; "undo" too when an action has undo
 * data, as in a loaded journal).  NULL on ENOMEM.
 */
json_t *ep_plan_to_json(const struct ep_plan *plan);

/*
 * The plan as text for --dry-run, appended to @out: one line per action,
 * "[dryrun] [<phase>] Would <description>: <reason>", and after an action
 * whose params have a "content" string (file.write) that content, each
 * line indented by a tab and escaped.  An empty plan is one line saying
 * there is nothing to do.
 */
void ep_plan_to_text(const struct ep_plan *plan, struct ep_strbuf *out);

/* ------------------------------------------------------------------------ */
/* Applying a plan                                                           */

/*
 * Progress of a run (every member may be NULL): one call per action
 * started and finished, per action undone, and after each journal write
 * (@n counts the writes of this run, from 1: a test kills the run there).
 */
struct ep_plan_observer {
	void (*action_start)(void *userdata, const struct ep_plan *plan, size_t i);
	void (*action_end)(void *userdata, const struct ep_plan *plan, size_t i, int r);
	void (*undo_start)(void *userdata, const struct ep_plan *plan, size_t i);
	/* @r: 0, -errno, or EP_UNDO_DEFERRED when the undo was left for later */
	void (*undo_end)(void *userdata, const struct ep_plan *plan, size_t i, int r);
	void (*journal_synced)(void *userdata, const struct ep_plan *plan, unsigned n);
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
	const char *systemctl;          /* program for systemd.* actions (NULL = "systemctl") */
	uint64_t deadline_ms;           /* ep_now_ms() clock; 0 = none: waits are bounded by it */
	/*
	 * When the whole command must end, rollback included (0 = none: each
	 * undo has its own budget).  A command that reserves time for its
	 * rollback sets deadline_ms that much earlier; undos bound their
	 * waits with ep_undo_deadline().
	 */
	uint64_t undo_deadline_ms;
	/*
	 * join --ca-bundle: the opened bundle, in memory only (its key never
	 * enters a plan or the journal); NULL when none was given or opened.
	 */
	const struct ep_ca_bundle *ca_bundle;
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
 * removed.  With EP_APPLY_NO_JOURNAL there is no journal and no lock (a
 * failure is still undone, from memory).
 *
 * Refuses (-EBUSY, EP_ERR_USAGE, nothing changed) when a journal of an
 * interrupted run is on the node: the message names its command and when
 * it started and ends with what to run ("run 'etcdpilot <command> --resume'
 * to finish it or 'etcdpilot <command> --rollback' to undo it"); the caller
 * resolves that first (ep_journal_load).  -EBUSY too when another etcdpilot
 * holds the journal directory's lock.  Returns 0 or the failed action's
 * -errno with @err set ("[<phase>] <description>: <cause>", then what
 * became of the run: undone, or what to run).
 */
int ep_plan_apply(struct ep_plan *plan, struct ep_apply_ctx *ctx, unsigned flags,
		  const struct ep_plan_observer *obs, struct ep_error *err);

/* ------------------------------------------------------------------------ */
/* For the implementations of action types (during apply, undo or commit)   */

/*
 * Journal the undo data of the running action now, before a change that
 * destroys a fact undo needs.  A no-op without a journal.  0 or -errno.
 */
int ep_apply_checkpoint(struct ep_apply_ctx *ctx, struct ep_error *err);

/* The run's id (16 hex digits; the same on resume) and the running action's index. */
const char *ep_apply_run_id(const struct ep_apply_ctx *ctx);
size_t ep_apply_index(const struct ep_apply_ctx *ctx);

/*
 * The undo data of the nearest action of type @type before the running one
 * that is done (what it recorded: the member ID and list member.add got),
 * or NULL when there is none.  Borrowed: valid while the action runs.  An
 * action reads another's record only through this, so that a resumed run
 * finds it in the journal exactly as the first run left it.
 */
const json_t *ep_apply_prior_undo(const struct ep_apply_ctx *ctx, const char *type);

/*
 * The deadline of an undo's wait on the node that may take @budget_ms (a
 * pod to stop): at most ctx->undo_deadline_ms when one is set, but never
 * less than EP_UNDO_MIN_MS from now - enough for a member to be seen down
 * (its port refusing 1.5 s in a row), so that a rollback can always end,
 * even past a very short --timeout.
 */
#define EP_UNDO_MIN_MS 3000u
uint64_t ep_undo_deadline(const struct ep_apply_ctx *ctx, uint64_t budget_ms);

/* One line to ctx->log (if set), printf-style. */
void ep_apply_log(const struct ep_apply_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------------ */
/* The journal of an interrupted run                                         */

/*
 * Load the journal under @root into *@ret (a plan with each action's state
 * and undo data as recorded).  -ENOENT when there is none; -EINVAL (usage)
 * when it cannot be read as a journal (or names an action type this
 * program does not know), naming the file and what to do.
 */
int ep_journal_load(const char *root, struct ep_plan **ret, struct ep_error *err);

/* The command that wrote a loaded journal ("join") and when it started (RFC 3339). */
const char *ep_plan_command(const struct ep_plan *plan);
const char *ep_plan_started(const struct ep_plan *plan);

/*
 * True when the loaded @plan was being rolled back when its run stopped
 * (status "rolling-back"): the run had decided to undo itself, and a plain
 * re-run should go on undoing it rather than apply it again.
 */
bool ep_journal_rolling_back(const struct ep_plan *plan);

/*
 * Whether ep_journal_rollback can undo the loaded @plan: false when an
 * irreversible action is done (or may be: it was running when the run
 * died and its type has no check), or when the run had completed and was
 * only cleaning up.  Then only resuming can end it.
 */
bool ep_journal_can_rollback(const struct ep_plan *plan);

/*
 * Whether the loaded @plan can be applied again (resumed): false when an
 * undo of its rollback was left for later (EP_UNDO_DEFERRED; the journal
 * marks the action "deferred": true until it is undone): the node's own
 * changes after it are undone, so only a rollback can end the run.
 */
bool ep_journal_can_resume(const struct ep_plan *plan);

/*
 * Finish a loaded journal: run every action that is not done or skipped,
 * from the first one (the one that was running or failed is applied
 * again: apply is idempotent; undone ones too).  Takes the lock and reads
 * the journal again (-ESTALE when it is no longer the one loaded).
 * Refuses (-EPERM, usage) what ep_journal_can_resume() says no to.  Same
 * failure handling as ep_plan_apply.
 */
int ep_journal_resume(struct ep_plan *plan, struct ep_apply_ctx *ctx, unsigned flags,
		      const struct ep_plan_observer *obs, struct ep_error *err);

/*
 * Undo a loaded journal: every done, running or failed action, in reverse.
 * Stops with -EPERM before an applied irreversible action (the error names
 * it and says that only resuming can end the run), and refuses a run that
 * had completed and was cleaning up.  A deferred undo (EP_UNDO_DEFERRED)
 * ends it with -EAGAIN, the journal kept, after the node's own undos that
 * follow it.  On success the journal is removed.
 */
int ep_journal_rollback(struct ep_plan *plan, struct ep_apply_ctx *ctx,
			const struct ep_plan_observer *obs, struct ep_error *err);

#endif
