/*
 * workflow.h - commands that change a node (init, join, reset, convert)
 * are lists of named phases, after kubeadm's phases/workflow: each phase
 * looks at the node and adds actions to one plan (plan.h); the plan is
 * printed (--dry-run) or applied under the journal.  `etcdpilot init phase
 * NAME` runs one phase alone and `--skip-phases a,b` leaves some out; help,
 * `init phase --help` and the plan all read the same table.
 *
 * Phases never print and never change the node while planning: they read
 * (files, `systemctl is-active`, the cluster) and say what they found
 * through the workflow's log.  Every change is an action.
 *
 * Preflight checks are named as kubeadm names them (Port-2379,
 * DirAvailable--var-lib-etcd, FileAvailable--etc-kubernetes-manifests-
 * etcd.yaml, IsPrivilegedUser ...); a failed check is recorded, not
 * returned, so that every failure is reported at once and a dry run can
 * show the whole plan and say which checks would stop a real run.
 * `--ignore-preflight-errors=NAME,...|all` turns named checks into
 * warnings.
 */
#ifndef ETCDPILOT_WORKFLOW_H
#define ETCDPILOT_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcdpilot/log.h"
#include "etcdpilot/runtime.h"
#include "etcdpilot/spec.h"

struct ep_error;
struct ep_plan;
struct ep_wf;
struct ep_ca_bundle; /* bundle.h */
struct ep_convert;   /* convert.h */

/* One failed preflight check. */
struct ep_check {
	char *name;    /* "Port-2379" */
	char *message; /* what is wrong and what to do (not escaped: made by us) */
	int code;      /* negative errno */
	bool ignored;  /* named in --ignore-preflight-errors: a warning */
};

/* A phase: a name, one line of help, and what it adds to the plan. */
struct ep_phase {
	const char *name; /* "certs": what `phase NAME` and --skip-phases take */
	const char *help; /* one line for `init phase --help` */
	unsigned modes;   /* EP_PHASE_* the phase applies to */
	/* Look at the node and add actions to wf->plan.  0 or -errno with @err. */
	int (*plan)(struct ep_wf *wf, struct ep_error *err);
};

enum {
	EP_PHASE_STATIC_POD = 1 << EP_MODE_STATIC_POD,
	EP_PHASE_SYSTEMD = 1 << EP_MODE_SYSTEMD,
	EP_PHASE_ANY = EP_PHASE_STATIC_POD | EP_PHASE_SYSTEMD,
};

/* A workflow: the phases of a command, in order, NULL-terminated. */
struct ep_workflow {
	const char *command; /* "init" */
	const struct ep_phase *const *phases;
};

/* The workflow of `etcdpilot init`. */
extern const struct ep_workflow ep_workflow_init;

/*
 * The workflow of `etcdpilot join ENDPOINT`: preflight, install (systemd),
 * certs, cluster-check, member-add, etcd, start (systemd), promote, wait
 * (workflow_join.c; docs/design.md, "Join and reset").
 */
extern const struct ep_workflow ep_workflow_join;

/*
 * The workflow of `etcdpilot reset`: preflight, remove-member, stop, data,
 * certs, files (workflow_reset.c).  It works on what ep_workflow_reset_mode
 * found on the node.
 */
extern const struct ep_workflow ep_workflow_reset;

/*
 * The workflow of `etcdpilot convert --to MODE` (workflow_convert.c):
 * preflight, install (to systemd), certs (to a static pod), snapshot, stop,
 * start, wait.  wf->spec->mode is the target; the member is read back from
 * the other runtime and translated (convert.h).
 */
extern const struct ep_workflow ep_workflow_convert;

/*
 * Which runtime runs this node's member, from what is on the node: a
 * static pod manifest, or an etcd unit (read back through each runtime).
 * Both: @mode_given (--mode) decides, else a usage error; *@ret_both (may
 * be NULL) says so, for wf->keep_leaf_certs.  --mode naming the runtime
 * that has nothing while the other has a member: a usage error.  Neither:
 * *@ret stays spec->mode.  0 or -errno with @err.
 */
int ep_workflow_reset_mode(const struct ep_spec *spec, const char *root, bool mode_given,
			   enum ep_mode *ret, bool *ret_both, struct ep_error *err);

/* The phase called @name in @wf, or NULL. */
const struct ep_phase *ep_workflow_phase(const struct ep_workflow *wf, const char *name);

/*
 * What the phases of one run share.  The command fills the inputs, the
 * phases fill the rest; ep_wf_release() frees what the run owns.
 */
struct ep_wf {
	/* inputs (borrowed) */
	const struct ep_workflow *workflow;
	struct ep_spec *spec;      /* the node spec; a phase may settle the etcd version */
	const char *root;          /* NULL or "/" = the real root */
	bool dry_run;
	const char *pinned_version;/* the etcd version the user pinned, NULL = the source's */
	bool systemctl_named;      /* --systemctl / $ETCDPILOT_SYSTEMCTL / config named one */
	const char *systemctl;     /* the program; NULL = "systemctl" */
	const char *journalctl;    /* NULL = beside the systemctl */
	const char *only_phase;    /* `phase NAME`: plan this phase alone */
	const struct ep_strv *skip;    /* --skip-phases */
	const struct ep_strv *ignore;  /* --ignore-preflight-errors ("all" = every check) */
	const struct ep_runtime_ops *rt; /* NULL = ep_runtime_get(spec->mode) (tests pass a fake) */
	ep_log_fn log;             /* what phases found ("[preflight] ..."); may be NULL */
	void *userdata;
	/* install progress (download bar); may be NULL */
	void (*progress)(void *userdata, uint64_t done, uint64_t total);
	/* the whole run's deadline (ep_now_ms() clock) for the actions' waits; 0 = none */
	uint64_t deadline_ms;
	/*
	 * When the command must end, its rollback included (0 = none: each
	 * undo its own budget); deadline_ms is then earlier by
	 * ep_rollback_reserve_ms() (join).
	 */
	uint64_t undo_deadline_ms;

	/* join and reset (unset for init) */
	const struct ep_strv *endpoints; /* client URLs of the cluster (join: ENDPOINT) */
	const char *cacert, *cert, *key; /* --cacert/--cert/--key; NULL: the node's own files */
	const char *ca_bundle;           /* join --ca-bundle FILE (the invoking user's path) */
	const char *certificate_key;     /* join --certificate-key HEX (secret: never in a plan) */
	const char *remove_dead;         /* join --remove-dead NAME|ID */
	bool replace;                    /* join --replace */
	bool delete_data;                /* reset --delete-data */
	bool remove_ca;                  /* reset --remove-ca */
	bool keep_leaf_certs;            /* reset: the other runtime's member uses them too */

	/* convert (unset for the others) */
	bool allow_downtime;             /* convert --allow-downtime */
	const char *backup_dir;          /* convert --backup-dir (node path); NULL: spec->op.backup_dir */
	struct ep_convert *convert;      /* what preflight translated (owned; convert.h) */

	/* filled by the phases */
	struct ep_plan *plan;
	struct ep_runtime_ctx rtctx;
	struct ep_runtime_files files; /* what the runtime renders for this member */
	struct ep_check *checks;       /* failed preflight checks */
	size_t nchecks;
	bool member_running;           /* the member is already up (a re-run) */
	bool files_in_place;           /* the runtime files are already what they must be */
	bool etcd_changed;             /* something etcd reads changes: restart it (systemd) */
	struct ep_strv diffs;          /* files that differ from what would be written */
	struct ep_ca_bundle *bundle;   /* join: the opened --ca-bundle (wiped on release) */
	struct ep_strv notes;          /* what the command says at the end (reset: the member) */
	struct ep_member_desc installed; /* reset: what the runtime read back (have_installed) */
	bool have_installed;
};

/* Free what the run owns (the plan too) and zero the outputs. */
void ep_wf_release(struct ep_wf *wf);

/*
 * How much of a command's --timeout @timeout_ms is kept for its rollback,
 * so that a run that fails at its deadline is undone within --timeout: a
 * quarter, at least 5 s (but no more than half) and at most 20 s.
 */
uint64_t ep_rollback_reserve_ms(uint64_t timeout_ms);

/*
 * join: open wf->ca_bundle with wf->certificate_key into wf->bundle (once;
 * bundle.h's order of refusals: a file that is no bundle, truncated or
 * damaged is a usage error; expired, a wrong key or an altered file a
 * failure).  Nothing to do without --ca-bundle.  0 or -errno with @err.
 */
int ep_wf_open_bundle(struct ep_wf *wf, struct ep_error *err);

/*
 * Plan the run: each phase of wf->workflow in order (only wf->only_phase
 * when set; the ones in wf->skip left out; the ones not for this mode left
 * out) adds its actions to a new wf->plan.  Failed checks are recorded in
 * wf->checks.  Returns 0 when the plan may be applied; -EPERM (failed
 * preflight checks that are not ignored; every one is in wf->checks, and
 * @err says how many and what to do) - a dry run gets its whole plan all
 * the same; or another -errno with @err (EP_ERR_USAGE for an unknown phase
 * name).
 */
int ep_wf_plan(struct ep_wf *wf, struct ep_error *err);

/*
 * Record a failed preflight check @name (message printf-style).  Checks
 * named in wf->ignore are recorded as ignored.  0 or -ENOMEM.
 */
int ep_wf_check_fail(struct ep_wf *wf, const char *name, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* kubeadm's name of a check on a path: "DirAvailable" + "/var/lib/etcd" -> "DirAvailable--var-lib-etcd" (heap). */
char *ep_check_name(const char *kind, const char *path);

/* Say something found while planning (a line in kubeadm's voice) to wf->log. */
void ep_wf_say(const struct ep_wf *wf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The phases that apply to @mode, for `phase --help`: "name\thelp" lines (heap). */
char *ep_workflow_help(const struct ep_workflow *wf, enum ep_mode mode);

#endif
