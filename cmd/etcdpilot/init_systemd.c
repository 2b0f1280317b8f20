/*
 * init_systemd.c - etcdpilot init --mode systemd: the "manual" etcd, a
 * verified binary in /usr/local/bin run by etcd.service.
 *
 * Phases, in kubeadm's voice: preflight (a systemctl that can serve this
 * root: the host's real one only without --root and only where systemd
 * runs; root privileges; existing unit and environment identical or absent;
 * no static pod; data dir empty and ports free on a first run), install
 * (verified release or local binary, extraArgs checked by the binary itself;
 * first, so that a bad download changes nothing), certs (the same kubeadm
 * PKI as the static pod), systemd files, systemctl daemon-reload (when
 * the unit was written or etcd is not running) and enable --now, or restart
 * when the unit, the environment or a binary changed under a running etcd;
 * wait until the member answers healthy.  A re-run on a node in that state changes
 * nothing; a file or binary with only its mode wrong is chmod'ed; files
 * that differ otherwise are listed and nothing is touched.  --dry-run asks
 * the same questions (cache, binaries, files, is-active) and prints only
 * what would change.  It reuses the node phases for preflight and certs
 * and owns only the systemd-specific steps and their printing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "etcdpilot/client.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/install.h"
#include "etcdpilot/node.h"
#include "etcdpilot/pki.h"
#include "etcdpilot/runtime.h"
#include "etcdpilot/systemctl.h"
#include "etcdpilot/unit.h"
#include "init.h"
#include "util/cleanup.h"

/* A download progress bar on stderr, only when it is a terminal. */
struct progress {
	int last_pct;
	bool shown;
};

static void progress_cb(void *userdata, uint64_t done, uint64_t total)
{
	struct progress *p = userdata;
	int pct = total ? (int)(done * 100 / total) : -1;
	if (!total || pct == p->last_pct)
		return;
	p->last_pct = pct;
	p->shown = true;
	char bar[31];
	int fill = pct * 30 / 100;
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '=' : ' ';
	bar[30] = '\0';
	fprintf(stderr, "\r[install] [%s] %3d%% %.1f/%.1f MiB", bar, pct, done / 1048576.0,
		total / 1048576.0);
	fflush(stderr);
}

static void progress_end(struct progress *p)
{
	if (p->shown)
		fputc('\n', stderr);
	p->shown = false;
}

/*
 * The etcd version the user pinned: --etcd-version, else the config file's
 * etcdVersion (or its image tag's version, which validation made the
 * spec's).  NULL when neither says one (a default, or the one kubeadm pairs
 * with kubernetesVersion): then the binary being installed decides.
 */
static void pinned_version(const struct ep_spec *spec, char *buf, size_t len, const char **ret)
{
	char tagv[32];
	*ret = NULL;
	if (ep_spec_pinned(spec, "etcdVersion") ||
	    (ep_spec_pinned(spec, "imageTag") &&
	     ep_image_tag_version(spec->image_tag, tagv, sizeof(tagv)))) {
		snprintf(buf, len, "%s", spec->etcd_version);
		*ret = buf;
	}
}

/*
 * Which systemctl: the spec's, which is --systemctl, then
 * $ETCDPILOT_SYSTEMCTL, then the config's systemd.systemctl, then
 * "systemctl".  *@ret_named says whether the user named one at all (a
 * --root other than / needs that).
 */
static void pick_systemctl(const struct cli_ctx *ctx, const struct ep_spec *spec,
			   struct ep_systemctl *sc, bool *ret_named)
{
	sc->program = spec->systemd.systemctl;
	sc->root = ctx->root;
	sc->timeout_ms = spec->timeout_ms;
	*ret_named = ep_spec_pinned(spec, "systemd.systemctl");
}

int cli_systemd_version(struct cli_ctx *ctx, struct ep_spec *spec, char *buf, size_t len,
			struct ep_error *err)
{
	char pinbuf[32];
	const char *pinned = NULL;
	pinned_version(spec, pinbuf, sizeof(pinbuf), &pinned);
	int r = ep_install_source_version(spec, pinned, buf, len, err);
	if (r < 0)
		return r;
	if (strcmp(spec->etcd_version, buf) != 0) {
		char *v = strdup(buf);
		if (!v)
			return ep_error_set(err, -ENOMEM, "out of memory");
		free(spec->etcd_version);
		spec->etcd_version = v;
	}
	cli_verbose(ctx, "[install] etcd version %s (%s)", buf,
		    pinned ? "pinned" : "from the binary being installed");
	return 0;
}

static int check_no_static_pod(const struct cli_ctx *ctx, const struct ep_spec *spec,
			       struct ep_error *err)
{
	_cleanup_free_ char *node_path = NULL, *path = NULL;
	if (asprintf(&node_path, "%s/etcd.yaml", spec->manifest_dir) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	int r = ep_root_path(ctx->root, node_path, &path, err);
	if (r < 0)
		return r;
	if (ep_root_exists(ctx->root, node_path))
		return ep_error_set(err, -EEXIST,
				    "[preflight] this node runs etcd as a static pod (%s); nothing was "
				    "changed: use 'etcdpilot convert --to systemd' to move it to "
				    "systemd", node_path);
	return 0;
}

static int make_data_dir(const struct cli_ctx *ctx, const struct ep_spec *spec,
			 struct ep_error *err)
{
	_cleanup_free_ char *path = NULL;
	int r = ep_root_path(ctx->root, spec->data_dir, &path, err);
	if (r < 0 || ep_root_exists(ctx->root, spec->data_dir))
		return r;
	if (ctx->dry_run) {
		printf("[dryrun] Would create directory \"%s\" with mode 0700\n", path);
		return 0;
	}
	_cleanup_free_ char *parent = strdup(spec->data_dir);
	if (!parent)
		return ep_error_set(err, -ENOMEM, "out of memory");
	char *slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		r = ep_root_mkdir_p(ctx->root, parent, 0755, err);
		if (r < 0)
			return r;
	}
	struct ep_error merr = { 0 };
	if ((r = ep_root_mkdir_p(ctx->root, spec->data_dir, 0700, &merr)) < 0)
		return ep_error_set(err, r, "creating the data directory %s: %s", path, merr.msg);
	printf("[etcd] Created the data directory %s (mode 0700)\n", spec->data_dir);
	return 0;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * etcd did not come up: what systemd and etcd itself said, from the
 * systemd runtime's diagnosis - the report on stderr, the unit's state and
 * etcd's last log lines appended to @err.  The journalctl is
 * $ETCDPILOT_JOURNALCTL, else the one beside the systemctl.
 */
static void explain_failure(const struct cli_ctx *ctx, const struct ep_spec *spec,
			    const struct ep_systemctl *sc, bool named, struct ep_error *err)
{
	const char *jc = getenv("ETCDPILOT_JOURNALCTL");
	struct ep_runtime_ctx rc = {
		.root = ctx->root,
		.spec = spec,
		.systemctl = sc->program,
		.journalctl = jc && *jc ? jc : NULL,
		.programs_named = named || (jc && *jc),
		.timeout_ms = 10000,
	};
	struct ep_diagnosis d;
	if (ep_runtime_get(EP_MODE_SYSTEMD)->diagnose(&rc, 20, &d) == -ENOMEM)
		return;
	_cleanup_free_ char *text = ep_diagnosis_text(&d);
	if (text)
		fprintf(stderr, "%s", text);
	ep_diagnosis_add_to_error(&d, err);
	ep_diagnosis_release(&d);
}

static int wait_healthy(const struct cli_ctx *ctx, const struct ep_spec *spec,
			const struct ep_systemctl *sc, bool named, struct ep_error *err)
{
	_cleanup_free_ char *endpoint = ep_node_local_endpoint(spec);
	if (!endpoint)
		return ep_error_set(err, -ENOMEM, "out of memory");
	unsigned long long secs = (unsigned long long)(spec->timeout_ms + 999) / 1000;
	if (ctx->dry_run) {
		printf("[dryrun] Would wait for the local etcd member to become healthy at %s\n",
		       endpoint);
		return 0;
	}
	printf("[systemd] Waiting for the local etcd member to become healthy at %s. This can "
	       "take up to %llus\n", endpoint, secs);
	fflush(stdout);
	struct ep_tls tls = { 0 };
	int r = ep_pki_paths(spec, ctx->root, EP_CERT_CA, &tls.cacert, NULL, err);
	if (r >= 0)
		r = ep_pki_paths(spec, ctx->root, EP_CERT_HEALTHCHECK_CLIENT, &tls.cert, &tls.key,
				 err);
	if (r < 0) {
		ep_tls_release(&tls);
		return r;
	}
	uint64_t t0 = mono_ms();
	struct ep_error werr = { 0 };
	r = ep_wait_healthy(&tls, endpoint, spec->timeout_ms, &werr);
	ep_tls_release(&tls);
	if (r == 0) {
		uint64_t took = mono_ms() - t0;
		printf("[systemd] The local etcd member is healthy after %llu.%03llus\n",
		       (unsigned long long)took / 1000, (unsigned long long)took % 1000);
		return 0;
	}
	r = ep_error_set(err, r, "the local etcd member did not become healthy within %llus: %s",
			 secs, werr.msg);
	explain_failure(ctx, spec, sc, named, err);
	return r;
}

static void print_join_hint(const struct ep_spec *spec)
{
	_cleanup_free_ char *client = ep_url("https", spec->advertise_address, 2379);
	printf("\nYour etcd member '%s' is running as %s (etcd %s) and is healthy.\n"
	       "Run etcdctl with its certificates through %s/etcdctl.sh, e.g.\n"
	       "\t%s/etcdctl.sh endpoint health\n\n"
	       "To add another member, copy the etcd CA (%s/etcd/ca.crt and ca.key) to the\n"
	       "new node, then run there:\n\n"
	       "\tetcdpilot join %s --mode systemd --name <node name> --advertise-address "
	       "<node IP> --etcd-version %s\n",
	       spec->name, EP_UNIT_NAME, spec->etcd_version, spec->systemd.bin_dir,
	       spec->systemd.bin_dir, spec->cert_dir, client ? client : "", spec->etcd_version);
}

static int run_systemctl(const struct cli_ctx *ctx, const struct ep_systemctl *sc,
			 const char *a, const char *b, const char *c, struct ep_error *err)
{
	const char *args[] = { a, b, c, NULL };
	char cmd[512];
	size_t n = (size_t)snprintf(cmd, sizeof(cmd), "%s", sc->program);
	for (int i = 0; args[i] && n < sizeof(cmd); i++)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " %s", args[i]);
	printf("[%s] %s '%s'\n", ctx->dry_run ? "dryrun" : "systemd",
	       ctx->dry_run ? "Would run" : "Running", cmd);
	fflush(stdout);
	if (ctx->dry_run)
		return 0;
	return ep_systemctl_run(sc, args, NULL, NULL, err);
}

/*
 * The data directory is not empty but this node has no etcd.env: say what
 * that data may be, and what to do, without claiming it is another
 * member's - deleting etcd.env under a running member leads here too.
 */
static int data_dir_refusal(const struct cli_ctx *ctx, const struct ep_spec *spec,
			    const struct ep_unit_files *files, unsigned missing,
			    const struct ep_error *orig, struct ep_error *err)
{
	_cleanup_free_ char *data = NULL, *member = NULL;
	int r = ep_root_path(ctx->root, spec->data_dir, &data, err);
	if (r < 0)
		return r;
	if (ep_root_dir_empty_or_absent(ctx->root, spec->data_dir)) { /* not the data dir after all */
		if (err && orig)
			*err = *orig;
		return orig ? orig->code : -ENOTEMPTY;
	}
	if (asprintf(&member, "%s/member", spec->data_dir) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	const char *what =
		ep_root_exists(ctx->root, member) ? "it holds etcd data" : "it is not empty";
	/* The files of this member that are still there, e.g. "etcd.service". */
	char present[1024] = "";
	size_t n = 0;
	for (int i = 0; i < EP_UNIT_NFILES; i++)
		if (!(missing & (1u << i)) && n < sizeof(present))
			n += (size_t)snprintf(present + n, sizeof(present) - n, "%s%s",
					      n ? ", " : "", files->f[i].path);
	if (present[0])
		return ep_error_set(err, -ENOTEMPTY,
				    "[preflight] the data directory '%s' (%s) is not empty: %s, "
				    "which may be this member's own: %s %s in place but its "
				    "environment file %s is missing; nothing was changed: restore "
				    "%s with the settings it was created with ('etcdpilot render "
				    "unit' with those settings prints it; mode 0640) and re-run, or "
				    "run 'etcdpilot reset' to take this member and its data away",
				    spec->data_dir, data, what, present, strchr(present, ',') ? "are" : "is",
				    spec->systemd.env_file, spec->systemd.env_file);
	return ep_error_set(err, -ENOTEMPTY,
			    "[preflight] the data directory '%s' (%s) is not empty: %s (a member's "
			    "from an earlier install - this one's, if its %s was removed - or "
			    "another member's); nothing was changed: restore %s with the settings "
			    "it was created with, move the data directory away, or run 'etcdpilot "
			    "reset' first",
			    spec->data_dir, data, what, spec->systemd.env_file, spec->systemd.env_file);
}

int cli_init_systemd(struct cli_ctx *ctx, struct ep_spec *spec, struct ep_error *err)
{
	struct ep_unit_files files = { 0 };
	struct ep_strv diffs = { 0 };
	struct ep_preflight pf = { 0 };
	struct ep_systemctl sc = { 0 };
	bool named = false;
	_cleanup_free_ char *data_path = NULL; /* before any goto out */

	/* A systemctl that can serve this root, before anything else: nothing is written yet. */
	pick_systemctl(ctx, spec, &sc, &named);
	int r = ep_systemctl_preflight(&sc, named, NULL, err);
	if (r < 0)
		goto out;

	char version[32];
	r = cli_systemd_version(ctx, spec, version, sizeof(version), err);
	if (r < 0)
		goto out;

	r = ep_unit_render(spec, NULL, &files, err);
	if (r < 0)
		goto out;

	/* preflight */
	enum ep_unit_state ustate;
	unsigned missing = 0, bad_mode = 0;
	r = ep_unit_compare(&files, ctx->root, &ustate, &missing, &bad_mode, &diffs, err);
	if (r < 0)
		goto out;
	if (ustate == EP_UNIT_DIFFERENT) {
		printf("[preflight] Running pre-flight checks\n");
		fprintf(stderr, "[preflight] the systemd files differ from what this init would "
				"write:\n");
		for (size_t i = 0; i < diffs.n; i++)
			fprintf(stderr, "  - %s\n", diffs.v[i]);
		r = ep_error_set(err, -EEXIST,
				 "this node already has an etcd unit or environment with other "
				 "settings (%zu difference%s, listed above); nothing was changed: "
				 "pass the settings it was created with, or run 'etcdpilot reset' "
				 "first", diffs.n, diffs.n == 1 ? "" : "s");
		goto out;
	}
	/*
	 * etcd.env in place and as this init would write it: a re-run (the data
	 * and the ports are this member's); missing files, the unit among them,
	 * are written again.
	 */
	bool configured = !(missing & (1u << EP_UNIT_ENV)) && ustate != EP_UNIT_ABSENT;
	if (configured) {
		printf("[preflight] Running pre-flight checks\n");
		if (ep_root_is_real(ctx->root) && geteuid() != 0) {
			r = ep_error_set(err, -EPERM,
					 "[preflight] this must run as root: it writes under /etc "
					 "and /usr/local/bin; run it with sudo, or pass --root DIR");
			goto out;
		}
		if (missing & (1u << EP_UNIT_SERVICE))
			printf("[preflight] %s is in place and up to date; %s is missing and "
			       "will be written again\n", spec->systemd.env_file,
			       spec->systemd.unit_path);
		else
			printf("[preflight] %s and %s are already in place and up to date%s\n",
			       spec->systemd.unit_path, spec->systemd.env_file,
			       bad_mode ? ", but for a file mode that is fixed below" : "");
	} else {
		struct ep_node node = {
			.spec = spec,
			.root = ctx->root,
			.dry_run = ctx->dry_run,
			.log = cli_print_line,
		};
		struct ep_error perr = { 0 };
		r = ep_node_preflight(&node, &pf, &perr);
		if (r == -ENOTEMPTY)
			r = data_dir_refusal(ctx, spec, &files, missing, &perr, err);
		else if (r < 0 && err)
			*err = perr;
		if (r < 0)
			goto out;
		if (pf.state != EP_MANIFEST_ABSENT) {
			r = check_no_static_pod(ctx, spec, err);
			if (r >= 0)
				r = ep_error_set(err, -EEXIST, "[preflight] a static pod manifest "
							       "exists; nothing was changed");
			goto out;
		}
	}
	r = check_no_static_pod(ctx, spec, err);
	if (r < 0)
		goto out;

	/*
	 * install: before anything else is written, so that a download that fails
	 * its checks leaves the node exactly as it was.
	 */
	struct progress prog = { .last_pct = -1 };
	struct ep_install_opts io = {
		.root = ctx->root,
		.dry_run = ctx->dry_run,
		.want_version = version,
		.log = cli_print_line,
		.progress = isatty(STDERR_FILENO) ? progress_cb : NULL,
		.progress_userdata = &prog,
	};
	struct ep_install_result ires = { 0 };
	r = ep_install_etcd(spec, &io, &ires, err);
	progress_end(&prog);
	if (r < 0)
		goto out;

	/* certs */
	struct ep_node node = {
		.spec = spec,
		.root = ctx->root,
		.dry_run = ctx->dry_run,
		.log = cli_print_line,
	};
	bool certs_changed = false;
	r = ep_node_certs(&node, &certs_changed, err);
	if (r < 0)
		goto out;

	/* unit, environment, data dir */
	r = ep_root_path(ctx->root, spec->data_dir, &data_path, err);
	if (r < 0)
		goto out;
	bool data_dir_made = !ep_root_exists(ctx->root, spec->data_dir);
	r = make_data_dir(ctx, spec, err);
	if (r < 0)
		goto out;
	unsigned written = 0, mode_fixed = 0;
	r = ep_unit_write(&files, ctx->root, ctx->dry_run, cli_print_line, NULL, &written,
			  &mode_fixed, err);
	if (r < 0)
		goto out;
	if (ctx->dry_run)
		for (int i = 0; i < EP_UNIT_NFILES; i++) {
			if (!(written & (1u << i)))
				continue;
			printf("[dryrun] %s%s:\n", ep_root_is_real(ctx->root) ? "" : ctx->root,
			       files.f[i].path);
			fwrite(files.f[i].content, 1, files.f[i].len, stdout);
		}

	/*
	 * systemctl.  is-active only reads, so a dry run asks too.  etcd reads
	 * only the unit, its environment and its binary: a repaired etcdctl.env
	 * or etcdctl.sh, or a fixed mode, is no reason to restart it.  systemd
	 * reads the unit file only at daemon-reload (or when it first loads it).
	 */
	bool active = false;
	char state[32] = "";
	r = ep_systemctl_is_active(&sc, EP_UNIT_NAME, &active, state, err);
	if (r < 0)
		goto out;
	bool unit_written = written & (1u << EP_UNIT_SERVICE);
	bool etcd_changed =
		ires.changed || (written & ((1u << EP_UNIT_SERVICE) | (1u << EP_UNIT_ENV)));
	if (unit_written || !active) {
		r = run_systemctl(ctx, &sc, "daemon-reload", NULL, NULL, err);
		if (r < 0)
			goto out;
	}
	if (active && etcd_changed) {
		/* A new binary or configuration under a running etcd: restart it. */
		r = run_systemctl(ctx, &sc, "restart", EP_UNIT_NAME, NULL, err);
		if (r < 0)
			explain_failure(ctx, spec, &sc, named, err);
	} else if (!active) {
		/* For Type=notify the start job fails when etcd exits before READY=1. */
		r = run_systemctl(ctx, &sc, "enable", "--now", EP_UNIT_NAME, err);
		if (r < 0)
			explain_failure(ctx, spec, &sc, named, err);
	} else {
		printf("[%s] %s is already active%s\n", ctx->dry_run ? "dryrun" : "systemd",
		       EP_UNIT_NAME, etcd_changed ? "" : " and needs no restart");
	}
	if (r < 0)
		goto out;

	bool changed = certs_changed || ires.changed || ires.mode_fixed || written || mode_fixed ||
		       data_dir_made;
	if (ctx->dry_run && active && !changed) {
		printf("[dryrun] Nothing would change: %s is active, and its binaries, files and "
		       "certificates are up to date (a real run only checks that the member is "
		       "healthy)\n", EP_UNIT_NAME);
		goto out;
	}

	/* wait */
	r = wait_healthy(ctx, spec, &sc, named, err);
	if (r < 0)
		goto out;

	if (ctx->dry_run)
		printf("[dryrun] Finished dry-running successfully; above are the files, binaries "
		       "and commands that would be created or run\n");
	else if (active && !changed)
		printf("\nNothing to do: this node's etcd member '%s' was already initialised and "
		       "is healthy; nothing was changed.\n", spec->name);
	else if (active && !etcd_changed)
		printf("\nRepaired: this node's etcd member '%s' was already initialised and is "
		       "healthy; only what is listed above was changed, and etcd was not "
		       "restarted.\n", spec->name);
	else
		print_join_hint(spec);
out:
	ep_preflight_release(&pf);
	ep_strv_release(&diffs);
	ep_unit_files_release(&files);
	return r;
}
