/*
 * runtime.h - what runs this node's etcd member: a static pod (the kubelet
 * runs /etc/kubernetes/manifests/etcd.yaml) or a systemd service
 * (etcd.service with its environment file).  One table of operations per
 * runtime, after curl's struct Curl_ssl: the workflows (init, join, reset,
 * convert, the operator) call through ep_runtime_get(mode) and never ask
 * which one they hold.
 *
 * What a runtime knows:
 *   render     the files of a member, as one list (node path, content,
 *              mode, whether it must appear by a rename from a hidden name);
 *   read_back  what is installed on the node, read back into one member
 *              description for both runtimes (struct ep_member_desc);
 *   status     whether the member runs (static pod: the manifest is there
 *              and the local member answers; systemd: systemctl is-active);
 *   diagnose   etcd's own last lines, from where the real components keep
 *              them: the container log the kubelet writes under
 *              /var/log/pods and crictl for a static pod, systemctl status
 *              and journalctl for systemd;
 *   plan_*     start, stop and restart as actions added to a plan (plan.h).
 *
 * Every program (systemctl, journalctl, crictl, etcd --version) is run
 * through util/child.h with a deadline and bounded output.  Nothing here
 * prints; what came from a log is kept raw in the structs and escaped by
 * the functions that make text of it.
 */
#ifndef ETCDPILOT_RUNTIME_H
#define ETCDPILOT_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "etcdpilot/spec.h"

struct ep_error;
struct ep_plan;

/* ------------------------------------------------------------------------ */
/* What a runtime is given                                                  */

struct ep_runtime_ctx {
	const char *root; /* NULL or "/" = the real root */
	/* the node spec: paths (manifest dir, unit, env file, bin dir), name */
	const struct ep_spec *spec;
	/*
	 * Programs.  systemctl: NULL = "systemctl".  journalctl: NULL = the
	 * one beside the systemctl ("journalctl" in its name's place, so
	 * /usr/bin/systemctl gives /usr/bin/journalctl).  crictl: NULL =
	 * "crictl" from $PATH.  Under a root other than "/", a program is run
	 * only when it was named (@programs_named) and is not the real one
	 * (basename "systemctl", "journalctl", "crictl"): those would look at
	 * this host, not at the node the root stands for.  A program that
	 * serves another root gets ETCDPILOT_ROOT=<root> in its environment.
	 */
	const char *systemctl;
	const char *journalctl;
	const char *crictl;
	bool programs_named;
	uint64_t timeout_ms; /* per program run; 0 = 10 s */
};

/* ------------------------------------------------------------------------ */
/* Rendering                                                                */

/* One file of a member, to be written on the node. */
struct ep_runtime_file {
	char *path;    /* node path (heap) */
	char *content; /* heap, NUL-terminated */
	size_t len;
	mode_t mode;
	/*
	 * Write it under a hidden name (".<name>.etcdpilot-new") in the same
	 * directory, then rename it over @path: its directory is read by a
	 * component that takes every file not starting with a dot (the
	 * kubelet's manifest directory).
	 */
	bool hidden_rename;
};

struct ep_runtime_files {
	struct ep_runtime_file *v;
	size_t n;
};

void ep_runtime_files_release(struct ep_runtime_files *files);

/* ------------------------------------------------------------------------ */
/* The member description                                                   */

/* One etcd setting in effect. */
struct ep_member_flag {
	char *name;  /* without dashes: "snapshot-count" */
	char *value; /* as etcd takes it; booleans written "true" / "false" */
	/*
	 * Where it was given: "ExecStart (/etc/systemd/system/etcd.service:9)",
	 * "/etc/etcd.env:12", "Environment= (/etc/systemd/system/etcd.service:7)",
	 * "/etc/kubernetes/manifests/etcd.yaml", ".../etcd.yaml (env)".
	 */
	char *origin;
	bool from_env; /* an ETCD_* variable rather than a command-line flag */
};

/* One variable of the environment that is not an etcd setting. */
struct ep_member_var {
	char *name;
	char *value;
	char *origin;
};

/*
 * What is installed on the node, the same way for both runtimes.  Every
 * string is owned (heap); any may be NULL when the node does not say it.
 */
struct ep_member_desc {
	enum ep_mode mode;
	char *source;	      /* node path read: the manifest, or the unit file */
	struct ep_strv files; /* every node file read, in order (unit, drop-ins, env files) */
	char *program;	      /* systemd: the binary ExecStart runs (node path); static pod: NULL */
	char *image;	      /* static pod: the container image; systemd: NULL */
	char *version;	      /* "3.4.23" */
	char *
	    version_from; /* "image tag", "/usr/local/bin/etcd --version", "the manifest's flags" */
	/*
	 * The settings in effect, in the order etcd applies them: the
	 * command-line flags in their order (a repeated flag once, at its last
	 * place, with its last value), then those from ETCD_* variables in
	 * the order etcd visits its flags (by name).
	 */
	struct ep_member_flag *flags;
	size_t nflags;
	/* ETCDCTL_*, GOMAXPROCS, ETCD_UNSUPPORTED_ARCH and any other variable. */
	struct ep_member_var *env;
	size_t nenv;
	/* What was ignored and why ("ETCD_PROXY=off (/etc/etcd.env:14): ..."). */
	struct ep_strv notes;
	/*
	 * What etcd (or systemd) would refuse: the same option as a variable
	 * and as a flag, an unknown flag, a bad boolean, a required
	 * environment file that is missing ... each naming the places.  Not
	 * empty means this member does not start as configured.
	 */
	struct ep_strv conflicts;

	/*
	 * The terms of a node spec: name, advertise_address, data_dir,
	 * cert_dir (only when the CA is <dir>/etcd/ca.crt, kubeadm's layout),
	 * etcd_version, mode; static pod: image_repository, image_tag,
	 * manifest_dir; systemd: systemd.unit_path, systemd.env_file (the
	 * file that holds ETCD_NAME or else the first one), systemd.bin_dir.
	 * Other fields stay unset.
	 */
	struct ep_spec spec;
	char *cert_file, *key_file, *trusted_ca_file;
	char *peer_cert_file, *peer_key_file, *peer_trusted_ca_file;
	char *listen_client_urls, *advertise_client_urls;
	char *listen_peer_urls, *initial_advertise_peer_urls;
	char *listen_metrics_urls;
	struct ep_kvv initial_cluster; /* name=peerURL, in order */
	char *initial_cluster_state;
	char *initial_cluster_token;
};

void ep_member_desc_release(struct ep_member_desc *m);

/* The value of setting @name (no dashes) in effect, or NULL. */
const char *ep_member_flag_get(const struct ep_member_desc *m, const char *name);

/*
 * The member description as text, one line per fact, every value that
 * came from the node escaped.  Heap string or NULL on ENOMEM.
 */
char *ep_member_desc_text(const struct ep_member_desc *m);

/* ------------------------------------------------------------------------ */
/* Status and diagnosis                                                     */

struct ep_runtime_status {
	bool installed; /* the manifest / the unit file is there */
	bool running;	/* the member answers (static pod) / the unit is active (systemd) */
	char state[32]; /* "answering", "not answering", "absent" / what is-active said */
	char *detail;	/* one line (heap, may be NULL) */
};

void ep_runtime_status_release(struct ep_runtime_status *st);

/* Lines from one place. */
struct ep_diag_source {
	/*
	 * Where they came from, as the user would look: a node path
	 * ("/var/log/pods/kube-system_etcd-n1_<uid>/etcd/2.log") or a command
	 * ("journalctl -u etcd.service -n 60 --no-pager -o short-iso").
	 */
	char *label;
	struct ep_strv lines; /* raw, as read (escape before printing) */
	bool etcd_output;     /* etcd's own output; false: a status (systemctl status, crictl ps) */
};

struct ep_diagnosis {
	char *summary; /* one line on the state (not escaped; made of escaped parts) */
	struct ep_diag_source *v;
	size_t n;
};

void ep_diagnosis_release(struct ep_diagnosis *d);

/*
 * The lines of @d that are etcd's own, the last @max_lines of its first
 * such source, as one line for an error message: "etcd's last log lines
 * (<label>): '<line>' / '<line>'", each escaped and cut at 300 bytes.  A
 * Go flag error's usage text ("Usage:" and what follows) is left out: the
 * complaint stands before it.  NULL when there are no such lines; heap.
 */
char *ep_diagnosis_excerpt(const struct ep_diagnosis *d, unsigned max_lines);

/* The whole diagnosis as text, indented, escaped.  Heap or NULL on ENOMEM. */
char *ep_diagnosis_text(const struct ep_diagnosis *d);

/*
 * Append "; <summary>; <excerpt>" of @d to the message in @err (cut to
 * fit), keeping its code and kind.  Does nothing when @err is NULL or
 * holds no error.  Returns err->code (or 0).
 */
int ep_diagnosis_add_to_error(const struct ep_diagnosis *d, struct ep_error *err);

/* ------------------------------------------------------------------------ */
/* The operations                                                           */

struct ep_runtime_ops {
	const char *name; /* "static-pod", "systemd" */
	enum ep_mode mode;
	/*
	 * The files for ctx->spec (join: @initial_cluster, may be NULL) into
	 * the zeroed @ret.  0 or -errno with @err (EP_ERR_USAGE for what the
	 * spec cannot say).
	 */
	int (*render)(const struct ep_runtime_ctx *ctx, const struct ep_kvv *initial_cluster,
		      struct ep_runtime_files *ret, struct ep_error *err);
	/*
	 * Read what is installed into the zeroed @ret.  -ENOENT (with @err
	 * saying what was looked for) when nothing is; -EINVAL when what is
	 * there cannot be read as the runtime would (not YAML, a unit without
	 * ExecStart, an environment file systemd would misread ...).  What
	 * etcd would refuse is not an error here: see ret->conflicts.
	 */
	int (*read_back)(const struct ep_runtime_ctx *ctx, struct ep_member_desc *ret,
			 struct ep_error *err);
	/* Fill the zeroed @ret.  0 or -errno (a program that cannot run). */
	int (*status)(const struct ep_runtime_ctx *ctx, struct ep_runtime_status *ret,
		      struct ep_error *err);
	/*
	 * Gather etcd's last @tail lines and the state of the member into the
	 * zeroed @ret.  Best effort: what cannot be read is said in the
	 * summary or a source's lines.  0, or -ENOENT when nothing at all was
	 * found (@ret still says where it looked), -ENOMEM.
	 */
	int (*diagnose)(const struct ep_runtime_ctx *ctx, unsigned tail, struct ep_diagnosis *ret);
	/*
	 * Add the actions that start (write the files and let the component
	 * run them), stop, and restart the member to @plan under @phase.
	 * @files is what render gave (start and restart; may be NULL for
	 * stop).
	 */
	int (*plan_start)(const struct ep_runtime_ctx *ctx, const struct ep_runtime_files *files,
			  struct ep_plan *plan, const char *phase, struct ep_error *err);
	int (*plan_stop)(const struct ep_runtime_ctx *ctx, struct ep_plan *plan, const char *phase,
			 struct ep_error *err);
	int (*plan_restart)(const struct ep_runtime_ctx *ctx, const struct ep_runtime_files *files,
			    struct ep_plan *plan, const char *phase, struct ep_error *err);
};

/* The runtime for @mode; never NULL for a valid mode (NULL otherwise). */
const struct ep_runtime_ops *ep_runtime_get(enum ep_mode mode);

/* ------------------------------------------------------------------------ */
/* Logs of the real components                                              */

/* One line of a container log, P chunks joined. */
struct ep_cri_line {
	char *time;	/* RFC 3339 timestamp of its first chunk, as written */
	char stream[8]; /* "stdout" or "stderr" */
	char *text;	/* without the newline */
	bool partial;	/* the log ended before its F chunk */
};

struct ep_cri_log {
	struct ep_cri_line *v;
	size_t n;
	size_t garbage; /* lines that are not CRI-framed (skipped) */
};

void ep_cri_log_release(struct ep_cri_log *log);

/*
 * Parse the CRI log text @buf (@len bytes) the kubelet reads back: lines
 * "<RFC3339Nano> <stdout|stderr> <P|F>[:tags] <text>"; a P chunk is joined
 * with what follows on the same stream up to its F chunk.  @mid_line: the
 * text starts inside a line (a tail of the file): the first line is
 * dropped.  Lines that are not so framed are counted in ret->garbage and
 * skipped.  Fills the zeroed @ret; 0 or -ENOMEM.
 */
int ep_cri_log_parse(const char *buf, size_t len, bool mid_line, struct ep_cri_log *ret);

/* One line of 'journalctl -o short-iso'. */
struct ep_journal_line {
	char *time;
	char *ident; /* "etcd", "systemd" */
	long pid;    /* -1 when not given */
	char *message;
};

/*
 * Parse one line of 'journalctl -o short-iso' output ("<time> <host>
 * <ident>[<pid>]: <message>") into the zeroed @ret.  Returns 1 when it is
 * such a line, 0 when not (a "-- No entries --" marker, a continuation),
 * -ENOMEM.
 */
int ep_journal_line_parse(const char *line, struct ep_journal_line *ret);
void ep_journal_line_release(struct ep_journal_line *l);

#endif
