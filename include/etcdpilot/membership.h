/*
 * membership.h - changing who is in the cluster: add (learner or voter),
 * remove, promote, with the checks etcd does not do and the waits it needs.
 *
 * Every change is plan -> apply.  A plan is made from one probe of the
 * cluster (ep_health_probe, status only) plus the names etcdpilot recorded
 * for members that have not started yet; it holds the steps, the started
 * voter the steps go through, and - when a guard was overridden with force -
 * why the change is unsafe.  `--dry-run` prints a plan; apply runs it, with
 * the retries etcd needs (see ep_change_classify), and returns what etcd
 * answered.  Nothing here prints: long waits report through a progress
 * callback.
 *
 * Names.  etcd accepts any string as a member name, but a name goes into
 * ETCD_NAME, ETCD_INITIAL_CLUSTER (name=URL,...), a static pod manifest, a
 * systemd environment file and terminal output, and `member remove NAME|ID`
 * must tell it from a member ID.  A new member's name is therefore 1-253
 * bytes of ASCII letters, digits, '-', '.' and '_', starting with a letter
 * or digit, and not 12-16 hex digits or "0x" + hex digits (a member ID
 * printed without leading zeros has 12 or more digits with probability
 * 1 - 2^-20).  Existing members are never refused for their names; they
 * are escaped when printed and replaced by their hex ID in
 * ETCD_INITIAL_CLUSTER when unsafe there.
 *
 * Names of members that never started.  etcd learns a member's name only
 * when it starts, so a second `member add` under the same name could not
 * be caught from the member list alone.  After every add, etcdpilot records
 * the name under the key "/etcdpilot/member-name/<hex ID>" (a put through
 * raft); plans read that prefix back and treat the recorded name of an
 * unstarted member as its name.  Records of removed members are left in
 * place (IDs are never reused) and ignored.  When the prefix cannot be read
 * (auth, no quorum), plans go on without it.
 *
 * Transient versus real refusals: ep_change_classify().  Only refusals
 * that changed nothing are retried, with backoff, until the deadline.
 *
 * Errors are negative errnos with @err set as everywhere (error.h); kind
 * EP_ERR_USAGE (exit 2) for bad names, URLs and arguments, ambiguous
 * lookups and duplicates; EP_ERR_FAILED for what the cluster refused or
 * could not do.  User input and names from the cluster are escaped in
 * messages (ep_escape).
 */
#ifndef ETCDPILOT_MEMBERSHIP_H
#define ETCDPILOT_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/spec.h"

/* ------------------------------------------------------------------------ */
/* Validation (pure)                                                         */

#define EP_MEMBER_NAME_MAX 253

/*
 * Check @name as the name of a new member (rules above).  Returns 0, or
 * -EINVAL (EP_ERR_USAGE) with @err saying what is wrong and what is
 * allowed.  NULL and "" are refused.
 */
int ep_member_name_check(const char *name, struct ep_error *err);

/*
 * Check one peer URL: "https://" or "http://", a host (IPv4, [IPv6] or a
 * DNS name) and an explicit port 1-65535; no user info, path (not even
 * "/"), query or fragment; not an unspecified (0.0.0.0/8, ::), broadcast
 * or multicast address.  Returns 0 or -EINVAL (EP_ERR_USAGE) naming the
 * URL.  NULL is refused.
 */
int ep_peer_url_check(const char *url, struct ep_error *err);

/*
 * Split the comma-separated @list into @ret (appended; owned copies),
 * checking each with ep_peer_url_check; empty items and a URL given twice
 * are refused.  Returns the number added (>= 1), or a negative errno
 * (-EINVAL usage, -ENOMEM) with @ret left as it was.  NULL is refused.
 */
int ep_peer_urls_parse(const char *list, struct ep_strv *ret, struct ep_error *err);

/* ------------------------------------------------------------------------ */
/* What a new member starts with (pure)                                      */

/*
 * ETCD_INITIAL_CLUSTER for @added, named @name: "name=peerURL" for every
 * peer URL of every member of @ml in its order, comma-separated, then
 * @added when @ml does not hold its ID.  The member with @added's ID is
 * called @name; a member that never started, or whose name could not be
 * written safely (ep_member_name_check fails), is called by its hex ID
 * (as kubeadm does): etcd needs every member listed, and matches the
 * others by peer URL.  @ml may be NULL; @added and @name may not.
 * *@ret gets a heap string the caller frees.  0 or -ENOMEM / -EINVAL
 * (@name unsafe, @added without peer URLs).
 */
int ep_initial_cluster(const struct ep_member_list *ml, const struct ep_member *added,
		       const char *name, char **ret, struct ep_error *err);

/* The ETCD_* settings a member added to a running cluster starts with. */
struct ep_member_env {
	char *name;                /* ETCD_NAME */
	char *initial_cluster;     /* ETCD_INITIAL_CLUSTER */
	char *advertise_peer_urls; /* ETCD_INITIAL_ADVERTISE_PEER_URLS, comma-separated */
	const char *cluster_state; /* ETCD_INITIAL_CLUSTER_STATE: "existing" (static) */
};

/*
 * Fill the zeroed @ret for @added named @name (see ep_initial_cluster).
 * 0 or a negative errno with @ret released.
 */
int ep_member_env_build(const struct ep_member_list *ml, const struct ep_member *added,
			const char *name, struct ep_member_env *ret, struct ep_error *err);

/* Free what @env owns and zero it.  NULL fine. */
void ep_member_env_release(struct ep_member_env *env);

/* ------------------------------------------------------------------------ */
/* Judgements on a probe (pure)                                              */

/*
 * The client URL a change about member @concerned (an index of @hr, or
 * SIZE_MAX for none, e.g. an add) goes through: a started voter other than
 * @concerned that answered Status, preferring the one whose client URL
 * answered the member list.  NULL when there is none (the caller says why).
 * The string belongs to @hr.
 */
const char *ep_membership_endpoint(const struct ep_health_report *hr, size_t concerned);

/*
 * Find member @arg of @hr: its name, the name it was added under
 * (@hints[i], may be NULL or hold NULLs; used for members that never
 * started), or its hex ID as etcdctl prints it ("0x" allowed).  Returns the
 * index, or:
 *   -EINVAL (usage) for NULL or "", for a name several members carry, and
 *   when @arg is one member's name and another member's ID (both listed);
 *   -ENOENT (failed) when nothing matches, listing the members.
 */
int ep_membership_lookup(const struct ep_health_report *hr, char *const *hints, const char *arg,
			 struct ep_error *err);

/* What etcd's refusal of a change means for whoever asked. */
enum ep_change_class {
	EP_CHANGE_OK = 0,    /* r >= 0 */
	EP_CHANGE_FAILED,    /* refused for good, or a local/transport failure before
				anything was sent: report it */
	EP_CHANGE_RETRY,     /* nothing changed and etcd may accept shortly (no leader,
				leader changed, too many requests, proposal dropped,
				Unavailable): retry with backoff until the deadline */
	EP_CHANGE_UNHEALTHY, /* "unhealthy cluster": the member has not been connected to
				every voter (3.4, 3.5 < 3.5.30; to a quorum for removals)
				for 5 s.  Transient right after a start or join; real
				while a voter is down: probe before retrying */
	EP_CHANGE_NOT_IN_SYNC, /* promote: the learner has not caught up: wait, retry */
	EP_CHANGE_UNKNOWN,   /* the request may have been applied (timed out, connection
				broken after sending): never repeat blindly; read the
				member list to see */
};

/*
 * Classify the result @r of a MemberAdd/Remove/Promote call and its error
 * message @msg (may be NULL).  The etcd message decides where it says more
 * than the errno (client_decode.c maps gRPC codes to errnos).
 */
enum ep_change_class ep_change_classify(int r, const char *msg);

/* "ok", "failed", "retry", "unhealthy", "not-in-sync", "unknown". */
const char *ep_change_class_name(enum ep_change_class c);

/*
 * True when a learner whose raft applied index is @learner_index has caught
 * up with a leader at @leader_index: etcd promotes a learner whose raft
 * progress is at least 90% of the leader's, so the same rule is applied to
 * the applied indexes (leader index 0: not known, false).
 */
bool ep_learner_caught_up(uint64_t learner_index, uint64_t leader_index);

/* ------------------------------------------------------------------------ */
/* Plans                                                                     */

enum ep_membership_phase {
	EP_PHASE_WAIT_START, /* the member has not started, or does not answer (reason) */
	EP_PHASE_CATCH_UP,   /* the learner is at learner_index of leader_index */
	EP_PHASE_CAUGHT_UP,  /* ... and has caught up: promoting */
	EP_PHASE_RETRY,      /* etcd refused for now (reason); next try in retry_in_ms */
};

/* One progress report; every pointer is borrowed for the call only. */
struct ep_membership_progress {
	enum ep_membership_phase phase;
	uint64_t member_id;
	const char *member_name;  /* may be NULL */
	uint64_t learner_index;   /* CATCH_UP, CAUGHT_UP */
	uint64_t leader_index;    /* CATCH_UP, CAUGHT_UP; 0 when not known yet */
	const char *reason;       /* WAIT_START, RETRY; may be NULL */
	uint64_t retry_in_ms;     /* RETRY */
	uint64_t elapsed_ms;      /* since apply started */
};

/*
 * @p as one line in kubeadm's voice, names escaped, for whoever prints
 * progress (member promote, join): "[member] learner 'c4' (8e9e...)
 * catching up: applied index 12 of the leader's 40".  A heap string the
 * caller frees; NULL on ENOMEM.
 */
char *ep_membership_progress_line(const struct ep_membership_progress *p);

/* Called during long waits of ep_membership_apply; @p is borrowed for the call. */
typedef void (*ep_membership_progress_fn)(void *userdata, const struct ep_membership_progress *p);

struct ep_member_step;

/* What the library needs to talk to the cluster; everything is borrowed. */
struct ep_cluster_access {
	struct ep_client *client;      /* its per-call timeout is changed by every call here */
	const char *const *endpoints;  /* where to ask for the member list (n >= 1) */
	size_t n_endpoints;
	uint64_t deadline_ms;          /* ep_now_ms() value by which plan/apply must end */
	uint64_t call_timeout_ms;      /* one call at most (0 = 5 s), never past the deadline */
	ep_membership_progress_fn progress; /* may be NULL */
	void *progress_userdata;
	/*
	 * May be NULL: called right before each request that changes the
	 * membership (MemberAdd, MemberRemove, MemberPromote), with the step;
	 * a negative return stops the step there, nothing sent, with @err.
	 * A caller journals here what its undo must know may have happened.
	 */
	int (*before_change)(void *userdata, const struct ep_member_step *st,
			     struct ep_error *err);
	void *change_userdata;
	/*
	 * What the error of a promotion tells to do when the learner never
	 * started.  NULL: start etcd on its node with what 'member add'
	 * printed, then promote again (the member command's case); "": nothing
	 * (a join, which started it itself, says what its runtime shows).
	 */
	const char *not_started_hint;
};

enum ep_member_action {
	EP_STEP_ADD,     /* MemberAdd */
	EP_STEP_REUSE,   /* an unstarted member with these peer URLs exists: no call */
	EP_STEP_REMOVE,  /* MemberRemove (the member being replaced, or the one asked for) */
	EP_STEP_PROMOTE, /* wait until started and caught up, then MemberPromote */
};

/* "add", "reuse", "remove", "promote". */
const char *ep_member_action_name(enum ep_member_action a);

struct ep_member_step {
	enum ep_member_action action;
	uint64_t id;              /* 0 for ADD (not known yet) */
	char *name;               /* the name (given, started, or recorded); NULL if none */
	struct ep_strv peer_urls;
	bool learner;             /* ADD: as a learner; others: the member is one */
	bool dead;                /* REMOVE: the member did not answer the probe */
	size_t idx;               /* index in the plan's report; SIZE_MAX for ADD */
	char *summary;            /* one line, names escaped: "add member 'c4' (learner) with
				     peer URLs https://10.0.0.14:2380 through https://..." */
};

struct ep_member_plan {
	uint64_t cluster_id;
	char *endpoint;                /* the started voter every step goes through */
	struct ep_member_step *steps;
	size_t n_steps;
	struct ep_error unsafe;        /* kind EP_ERR_NONE, or why the change is unsafe when a
					  guard was overridden ("removing a voting member
					  although it is unsafe: ..."): print it as a warning */
	struct ep_health_report report; /* the probe the plan was made from */
	char **hints;                  /* per report member: its recorded name, or NULL */
	bool hints_read;               /* the records could be read */
};

/* Free what @plan owns and zero it.  NULL fine. */
void ep_member_plan_release(struct ep_member_plan *plan);

struct ep_add_request {
	const char *name;             /* checked with ep_member_name_check */
	const char *const *peer_urls; /* each checked with ep_peer_url_check; n >= 1 */
	size_t n_peer_urls;
	bool learner;
	bool reuse;    /* join: an unstarted member with exactly these peer URLs and no other
			  recorded name is reused (step REUSE) instead of refused */
	bool replace;  /* join --replace: a member holding this name or one of these peer
			  URLs is removed first (quorum-guarded) instead of refused */
	bool force;    /* go on when a quorum guard refuses; plan->unsafe says why */
	bool offer_replace; /* join: a refusal for a member that does not answer names
			       --replace */
};

/*
 * The duplicate checks of an add, on @hr with @hints (may be NULL) - pure,
 * so that join and the tests share them.  A member counts as started when
 * the report says so.  Against every member:
 *   - a started member with this name or one of these peer URLs: refused
 *     with instructions (-EEXIST, usage: reset on its node when it answers,
 *     member remove --dead or join --replace when it does not), or with
 *     @req->replace its index goes to *@ret_replace - only when it does not
 *     answer (-EBUSY otherwise: removing a running member would stop its
 *     etcd for good);
 *   - an unstarted member with exactly these peer URLs whose recorded name
 *     is this one or unknown: with @req->reuse its index goes to
 *     *@ret_reuse, else refused;
 *   - an unstarted member recorded under this name, or sharing a peer URL
 *     under another recorded name: refused (or replaced, as above).
 * Two different conflicting members are refused even with replace.
 * *@ret_reuse and *@ret_replace are SIZE_MAX when not used (never both
 * set).  Returns 0 or a negative errno with @err set.
 */
int ep_membership_add_check(const struct ep_health_report *hr, char *const *hints,
			    const struct ep_add_request *req, size_t *ret_reuse,
			    size_t *ret_replace, struct ep_error *err);

/*
 * Plan an add: validate @req (usage errors before any call), probe the
 * cluster, read the recorded names, run ep_membership_add_check and the
 * quorum guards (ep_quorum_check_add; ep_quorum_check_remove for a
 * replaced member), pick the endpoint.  Steps: [REMOVE replaced] ADD, or
 * REUSE.  Fills the zeroed @ret (released on failure).  Returns 0 or a
 * negative errno with @err set: -EINVAL/-EEXIST (usage), -EBUSY (a guard
 * refused and !force), -ENOENT/-ECONNREFUSED/... (no member list, no
 * voter to go through).
 */
int ep_membership_plan_add(const struct ep_cluster_access *ca, const struct ep_add_request *req,
			   struct ep_member_plan *ret, struct ep_error *err);

enum {
	EP_REMOVE_FORCE = 1 << 0, /* go on when the quorum guard refuses (plan->unsafe) */
	EP_REMOVE_DEAD = 1 << 1,  /* only a member that does not answer: refused (-EBUSY)
				     when it answers.  Since when it has been down cannot
				     be told through etcd's gateway (no peer contact
				     times): the plan says only that it does not answer
				     and why */
};

/*
 * Plan the removal of member @arg (NAME|ID, ep_membership_lookup): the
 * quorum guard (ep_quorum_check_remove), and the endpoint: never the
 * member itself while another voter answers; through itself only with
 * EP_REMOVE_FORCE when no other voter answers.  Step: REMOVE.
 * Fills the zeroed @ret (released on failure).  0 or a negative errno.
 */
int ep_membership_plan_remove(const struct ep_cluster_access *ca, const char *arg,
			      unsigned flags, struct ep_member_plan *ret, struct ep_error *err);

/*
 * Plan the promotion of learner @arg (NAME|ID): -EINVAL (usage) when it is
 * already a voter; the endpoint is a started voter.  Step: PROMOTE.
 * Fills the zeroed @ret (released on failure).  0 or a negative errno.
 */
int ep_membership_plan_promote(const struct ep_cluster_access *ca, const char *arg,
			       struct ep_member_plan *ret, struct ep_error *err);

/* ------------------------------------------------------------------------ */
/* Apply                                                                     */

struct ep_member_result {
	uint64_t cluster_id;
	struct ep_member member;       /* the member of the last step, as etcd showed it (an
					  added member has no name until it starts) */
	char *name;                    /* ADD/REUSE: the name given; else the member's, or NULL */
	struct ep_member_list members; /* the members after the change (ADD: as MemberAdd
					  returned them, the new one included) */
	bool reused;                   /* REUSE: nothing was added */
	bool already;                  /* REMOVE: it was gone; PROMOTE: it was a voter */
	bool out_of_time;              /* PROMOTE: the deadline passed while it waited for the
					  learner (not a lost answer: asking again is no use);
					  the one field a failed apply leaves set */
	struct ep_strv warnings;       /* what did not stop the change (name not recorded, an
					  answer lost but the change found applied) */
};

/* Free what @res owns and zero it.  NULL fine. */
void ep_member_result_release(struct ep_member_result *res);

/*
 * Run the steps of @plan in order through plan->endpoint until
 * ca->deadline_ms, each retried while ep_change_classify says RETRY,
 * UNHEALTHY (after a probe: a voter other than the member concerned that
 * does not answer fails the change at once, naming it and saying what to
 * do) or NOT_IN_SYNC, with backoff from 200 ms doubling to 3.2 s.  An
 * UNKNOWN outcome is settled by reading the member list.  ADD records the
 * name (a failure is a warning).  PROMOTE first waits until the learner
 * has started and its applied index has caught up with the leader's
 * (Maintenance Status on the learner's and the leader's client URLs),
 * reporting progress; a learner that has not started by the deadline is an
 * error naming it.  Fills the zeroed @ret.  Returns 0, or a negative errno
 * with @err saying which step failed ("adding member 'c4': ...") and
 * @ret released but for out_of_time.
 */
int ep_membership_apply(const struct ep_cluster_access *ca, const struct ep_member_plan *plan,
			struct ep_member_result *ret, struct ep_error *err);

#endif
