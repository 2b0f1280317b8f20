/*
 * workflow_init.c - the phases of `etcdpilot init`, for both runtimes:
 *
 *   preflight  the etcd version, root, what is already on the node (the
 *              manifest or the unit files: the same, absent, or other),
 *              the data dir and the ports of a new member, systemd running;
 *   install    (systemd) a verified etcd in the bin dir;
 *   certs      the etcd CA and this node's pairs (valid ones are reused);
 *   etcd       the data dir and the runtime's files (manifest, or unit +
 *              environment + etcdctl wrapper);
 *   start      (systemd) daemon-reload and enable --now, or restart when
 *              what etcd reads changed under a running etcd;
 *   wait       until the member answers healthy through its client URL.
 *
 * Each phase only looks and adds actions (plan.h); the library calls that
 * can say what they would do (ep_pki_generate_ex, ep_install_etcd) are
 * asked with dry_run, and their lines reach the user only on a dry run.
 * It owns the preflight rules of a new member; rendering is the runtime's,
 * comparison the manifest's and unit's, writing the plan engine's.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/install.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/pki.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/systemctl.h"
#include "etcdpilot/unit.h"
#include "etcdpilot/workflow.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

#define MANIFEST_READ_MAX (1u << 20)

/*
 * The library's own lines while planning (ep_install_etcd and
 * ep_pki_generate_ex asked with dry_run): a dry run shows them as they
 * come; a real run keeps them and shows them only when the phase has
 * nothing to do (then they are all it says: "etcd 3.4.23 is already
 * installed"), since otherwise the action says the same when it acts.
 */
struct held {
	const struct ep_wf *wf;
	struct ep_strv lines;
};

static void held_log(void *userdata, const char *line)
{
	struct held *h = userdata;
	if (h->wf->dry_run) {
		if (h->wf->log)
			h->wf->log(h->wf->userdata, line);
		return;
	}
	ep_strv_push(&h->lines, line);
}

/* Show what was held when @acted is false, then forget it. */
static void held_end(struct held *h, bool acted)
{
	for (size_t i = 0; !acted && h->wf->log && i < h->lines.n; i++)
		h->wf->log(h->wf->userdata, h->lines.v[i]);
	ep_strv_release(&h->lines);
}

static bool is_systemd(const struct ep_wf *wf)
{
	return wf->spec->mode == EP_MODE_SYSTEMD;
}

/* ---- preflight -------------------------------------------------------------- */

/* Split "https://[::1]:2379" into host and port; false when it is no URL. */
static bool url_host_port(const char *url, char *host, size_t hlen, char *port, size_t plen)
{
	const char *p = strstr(url, "://");
	if (!p)
		return false;
	p += 3;
	size_t n = strcspn(p, "/?#");
	char hp[300];
	if (n >= sizeof(hp))
		return false;
	memcpy(hp, p, n);
	hp[n] = '\0';
	char *h = hp, *pt = NULL;
	if (*h == '[') {
		char *close = strchr(h, ']');
		if (!close)
			return false;
		*close = '\0';
		h++;
		if (close[1] == ':')
			pt = close + 2;
	} else {
		char *colon = strrchr(h, ':');
		if (colon) {
			*colon = '\0';
			pt = colon + 1;
		}
	}
	if (!pt || !*pt)
		pt = !strncmp(url, "https", 5) ? "443" : "80";
	snprintf(host, hlen, "%s", h);
	snprintf(port, plen, "%s", pt);
	return true;
}

/* Can etcd bind @host:@port (SO_REUSEADDR, like Go's listeners)?  A failed check when not. */
static int port_check(struct ep_wf *wf, const char *flag, const char *url)
{
	char host[300], port[16], name[32];
	if (!url_host_port(url, host, sizeof(host), port, sizeof(port)))
		return ep_wf_check_fail(wf, "URL", -EINVAL, "--%s: '%s' is not a URL", flag, url);
	snprintf(name, sizeof(name), "Port-%s", port);
	for (size_t i = 0; i < wf->nchecks; i++) /* the same port listed twice (127.0.0.1 advertised) */
		if (!strcmp(wf->checks[i].name, name))
			return 0;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (g != 0)
		return ep_wf_check_fail(wf, name, -EINVAL, "--%s: cannot resolve '%s': %s", flag, host,
					gai_strerror(g));
	int r = 0;
	for (struct addrinfo *ai = res; ai && r == 0; ai = ai->ai_next) {
		_cleanup_close_ int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		int one = 1;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			continue;
		int e = errno;
		if (e == EADDRINUSE)
			r = ep_wf_check_fail(wf, name, -e,
					     "port %s on '%s' is in use (--%s=%s): another etcd or "
					     "program listens there; stop it, or run 'etcdpilot reset' "
					     "if it is an old member of this node",
					     port, host, flag, url);
		else if (e == EADDRNOTAVAIL)
			r = ep_wf_check_fail(wf, name, -e,
					     "'%s' (--%s=%s) is not an address of this host; check "
					     "--advertise-address",
					     host, flag, url);
		else
			r = ep_wf_check_fail(wf, name, -e, "cannot bind '%s' port %s (--%s): %s", host,
					     port, flag, strerror(e));
	}
	freeaddrinfo(res);
	return r;
}

static int ports_check(struct ep_wf *wf, struct ep_error *err)
{
	static const char *const flags[] = { "listen-client-urls", "listen-peer-urls",
					     "listen-metrics-urls", NULL };
	struct ep_kvv args = { 0 };
	int r = ep_manifest_etcd_args(wf->spec, NULL, &args, err);
	for (size_t i = 0; r == 0 && i < args.n; i++) {
		bool listen = false;
		for (size_t f = 0; flags[f]; f++)
			listen |= !strcmp(args.v[i].name, flags[f]);
		if (!listen)
			continue;
		_cleanup_free_ char *list = strdup(args.v[i].value);
		if (!list) {
			r = ep_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		char *save = NULL;
		for (char *u = strtok_r(list, ",", &save); u && r == 0;
		     u = strtok_r(NULL, ",", &save))
			if (port_check(wf, args.v[i].name, u) < 0)
				r = ep_error_set(err, -ENOMEM, "out of memory");
	}
	ep_kvv_release(&args);
	return r;
}

/* The runtime files still on the node, "a, b" (heap; "" when none). */
static char *present_files(const struct ep_wf *wf)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	size_t n = 0;
	for (size_t i = 0; i < wf->files.n; i++)
		if (ep_root_exists(wf->root, wf->files.v[i].path))
			ep_strbuf_addf(&sb, "%s%s", n++ ? ", " : "", wf->files.v[i].path);
	return ep_strbuf_detach(&sb, NULL);
}

/* A new member must start from an empty data directory. */
static int data_dir_check(struct ep_wf *wf, struct ep_error *err)
{
	const struct ep_spec *spec = wf->spec;
	_cleanup_free_ char *name = ep_check_name("DirAvailable", spec->data_dir);
	_cleanup_free_ char *real = NULL;
	if (!name)
		return ep_error_set(err, -ENOMEM, "out of memory");
	ep_root_path(wf->root, spec->data_dir, &real, NULL); /* for messages */
	struct stat st;
	int r = 0;
	if (ep_root_lstat(wf->root, spec->data_dir, &st) == 0 && !S_ISDIR(st.st_mode))
		r = ep_wf_check_fail(wf, name, -ENOTDIR,
				     "the data directory '%s' (%s) exists and is not a directory; "
				     "move it away",
				     spec->data_dir, real ? real : spec->data_dir);
	else if (!ep_root_dir_empty_or_absent(wf->root, spec->data_dir) && is_systemd(wf)) {
		/*
		 * No etcd.env, data in place: deleting etcd.env under a running
		 * member leads here too, so the data may be this member's own.
		 */
		_cleanup_free_ char *present = present_files(wf), *member = NULL;
		if (!present || asprintf(&member, "%s/member", spec->data_dir) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
		const char *what = ep_root_exists(wf->root, member) ? "it holds etcd data"
								   : "it is not empty";
		if (*present)
			r = ep_wf_check_fail(
				wf, name, -ENOTEMPTY,
				"the data directory '%s' (%s) is not empty: %s, which may be this "
				"member's own: %s %s in place but its environment file %s is "
				"missing; nothing was changed: restore %s with the settings it was "
				"created with ('etcdpilot render unit' with those settings prints it; "
				"mode 0640) and re-run, or run 'etcdpilot reset' to take this member "
				"and its data away",
				spec->data_dir, real ? real : spec->data_dir, what, present,
				strchr(present, ',') ? "are" : "is", spec->systemd.env_file,
				spec->systemd.env_file);
		else
			r = ep_wf_check_fail(
				wf, name, -ENOTEMPTY,
				"the data directory '%s' (%s) is not empty: %s (a member's from an "
				"earlier install - this one's, if its %s was removed - or another "
				"member's); nothing was changed: restore %s with the settings it was "
				"created with, move the data directory away, or run 'etcdpilot "
				"reset' first",
				spec->data_dir, real ? real : spec->data_dir, what,
				spec->systemd.env_file, spec->systemd.env_file);
	} else if (!ep_root_dir_empty_or_absent(wf->root, spec->data_dir))
		r = ep_wf_check_fail(wf, name, -ENOTEMPTY,
				     "the data directory '%s' is not empty (%s): it holds etcd data, "
				     "and a new member must start from an empty one; move it away, or "
				     "run 'etcdpilot reset' if it is an old member of this node",
				     spec->data_dir, real ? real : spec->data_dir);
	return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
}

/* The manifest on the node against the rendered one: in place, absent, or a failed check. */
static int manifest_check(struct ep_wf *wf, const struct ep_runtime_file *want,
			  struct ep_error *err)
{
	_cleanup_free_ char *have = NULL;
	size_t have_len = 0;
	struct ep_error rerr = { 0 };
	int r = ep_root_read_file(wf->root, want->path, MANIFEST_READ_MAX, true, &have, &have_len,
				  &rerr);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return ep_error_set(err, r, "[preflight] reading the existing manifest: %s", rerr.msg);
	if (have_len == want->len && !memcmp(have, want->content, have_len)) {
		wf->files_in_place = true;
		ep_wf_say(wf, "[preflight] The etcd static Pod manifest \"%s\" is already in place and "
			      "up to date", want->path);
		return 0;
	}
	struct ep_manifest_info hi, wi;
	_cleanup_free_ char *real = NULL; /* messages name the file where it is under --root */
	ep_root_path(wf->root, want->path, &real, NULL);
	r = ep_manifest_parse(have, have_len, real ? real : want->path, wf->spec->name,
			      wf->spec->etcd_version, &hi, err);
	if (r < 0)
		return ep_error_prefix(err, "[preflight] existing manifest");
	r = ep_manifest_parse(want->content, want->len, "(rendered)", NULL, wf->spec->etcd_version,
			      &wi, err);
	if (r < 0) {
		ep_manifest_info_release(&hi);
		return r;
	}
	size_t before = wf->diffs.n;
	r = ep_manifest_diff(&hi, have, &wi, want->content, &wf->diffs);
	ep_manifest_info_release(&hi);
	ep_manifest_info_release(&wi);
	if (r < 0)
		return ep_error_set(err, r, "out of memory");
	if (r == 0) {
		/* Equivalent but laid out otherwise (kubeadm's own file, say): left as it is. */
		wf->files_in_place = true;
		ep_wf_say(wf, "[preflight] The etcd static Pod manifest \"%s\" is already in place and "
			      "up to date (laid out otherwise than etcdpilot writes it; left as it is)",
			  want->path);
		return 0;
	}
	_cleanup_free_ char *name = ep_check_name("FileAvailable", want->path);
	struct ep_strbuf sb = EP_STRBUF_INIT;
	for (size_t i = before; i < wf->diffs.n; i++) {
		ep_strbuf_adds(&sb, "\n\t\t- ");
		ep_strbuf_add_escaped(&sb, wf->diffs.v[i], strlen(wf->diffs.v[i]));
	}
	r = ep_wf_check_fail(wf, name ? name : "FileAvailable", -EEXIST,
			     "this node already has an etcd manifest with other settings (%zu "
			     "difference%s):%s\n\t\tpass the settings it was created with, or run "
			     "'etcdpilot reset' first",
			     wf->diffs.n - before, wf->diffs.n - before == 1 ? "" : "s",
			     ep_strbuf_str(&sb));
	ep_strbuf_release(&sb);
	return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
}

/* systemd: the unit files against the rendered ones. */
static int unit_check(struct ep_wf *wf, unsigned *ret_missing, unsigned *ret_bad_mode,
		      enum ep_unit_state *ret_state, struct ep_error *err)
{
	struct ep_unit_files files = { 0 };
	size_t before = wf->diffs.n;
	int r = ep_unit_render(wf->spec, NULL, &files, err);
	if (r >= 0)
		r = ep_unit_compare(&files, wf->root, ret_state, ret_missing, ret_bad_mode, &wf->diffs,
				    err);
	if (r >= 0 && *ret_state == EP_UNIT_DIFFERENT) {
		struct ep_strbuf sb = EP_STRBUF_INIT;
		for (size_t i = before; i < wf->diffs.n; i++) {
			ep_strbuf_adds(&sb, "\n\t\t- ");
			ep_strbuf_add_escaped(&sb, wf->diffs.v[i], strlen(wf->diffs.v[i]));
		}
		_cleanup_free_ char *name = ep_check_name("FileAvailable", wf->spec->systemd.env_file);
		r = ep_wf_check_fail(wf, name ? name : "FileAvailable", -EEXIST,
				     "this node already has an etcd unit or environment with other "
				     "settings (%zu difference%s):%s\n\t\tpass the settings it was "
				     "created with, or run 'etcdpilot reset' first",
				     wf->diffs.n - before, wf->diffs.n - before == 1 ? "" : "s",
				     ep_strbuf_str(&sb));
		ep_strbuf_release(&sb);
		if (r < 0)
			r = ep_error_set(err, r, "out of memory");
	}
	ep_unit_files_release(&files);
	return r;
}

/* systemd: can this systemctl manage the node's etcd.service? */
static int systemd_check(struct ep_wf *wf, bool *ret_usable, struct ep_error *err)
{
	*ret_usable = true;
	struct ep_systemctl sc = { .program = wf->systemctl, .root = wf->root };
	struct ep_error serr = { 0 };
	int r = ep_systemctl_preflight(&sc, wf->systemctl_named, NULL, &serr);
	if (r >= 0)
		return 0;
	if (r != -ENOTSUP) { /* a systemctl that cannot serve this root: a usage error */
		if (err)
			*err = serr;
		return r;
	}
	*ret_usable = false;
	const char *m = serr.msg;
	if (!strncmp(m, "[preflight] ", 12))
		m += 12;
	r = ep_wf_check_fail(wf, "SystemdRunning", r, "%s", m);
	return r < 0 ? ep_error_set(err, r, "out of memory") : 0;
}

static int version_phase(struct ep_wf *wf, struct ep_error *err)
{
	char version[32];
	int r = ep_install_source_version(wf->spec, wf->pinned_version, version, sizeof(version),
					  err);
	if (r < 0)
		return r;
	if (strcmp(wf->spec->etcd_version ? wf->spec->etcd_version : "", version)) {
		char *v = strdup(version);
		if (!v)
			return ep_error_set(err, -ENOMEM, "out of memory");
		free(wf->spec->etcd_version);
		wf->spec->etcd_version = v;
	}
	return 0;
}

static int preflight_plan(struct ep_wf *wf, struct ep_error *err)
{
	struct ep_spec *spec = wf->spec;
	ep_wf_say(wf, "[preflight] Running pre-flight checks");
	bool systemctl_usable = true;
	int r;
	if (is_systemd(wf)) {
		if ((r = systemd_check(wf, &systemctl_usable, err)) < 0)
			return r;
		/* no systemd here: a real run stops at this check (a dry run goes on) */
		if (!systemctl_usable && !wf->dry_run && !wf->checks[wf->nchecks - 1].ignored)
			return 0;
		if ((r = version_phase(wf, err)) < 0)
			return r;
	}
	if (!ep_manifest_version_supported(spec->etcd_version))
		return ep_error_usage(err, -EINVAL,
				      "[preflight] etcd version '%s' is not supported: etcdpilot "
				      "runs 3.4, 3.5 and 3.6; set --etcd-version",
				      spec->etcd_version ? spec->etcd_version : "");
	if (ep_root_is_real(wf->root) && geteuid() != 0 &&
	    ep_wf_check_fail(wf, "IsPrivilegedUser", -EPERM,
			     "this must run as root: it writes under /etc and /var/lib; run it with "
			     "sudo, or pass --root DIR to work on a directory tree") < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");

	if ((r = wf->rt->render(&wf->rtctx, NULL, &wf->files, err)) < 0)
		return r;

	_cleanup_free_ char *manifest = NULL;
	if (asprintf(&manifest, "%s/etcd.yaml", spec->manifest_dir) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (!is_systemd(wf)) {
		if ((r = manifest_check(wf, &wf->files.v[0], err)) < 0)
			return r;
		wf->member_running = wf->files_in_place;
	} else {
		if (ep_root_exists(wf->root, manifest))
			return ep_error_set(err, -EEXIST,
					    "[preflight] this node runs etcd as a static pod (%s); "
					    "nothing was changed: use 'etcdpilot convert --to systemd' "
					    "to move it to systemd",
					    manifest);
		unsigned missing = 0, bad_mode = 0;
		enum ep_unit_state state;
		if ((r = unit_check(wf, &missing, &bad_mode, &state, err)) < 0)
			return r;
		/* etcd.env as this init would write it: a re-run, its data and ports are its own */
		wf->files_in_place = state != EP_UNIT_ABSENT && state != EP_UNIT_DIFFERENT &&
				     !(missing & (1u << EP_UNIT_ENV));
		if (wf->files_in_place) {
			if (missing & (1u << EP_UNIT_SERVICE))
				ep_wf_say(wf, "[preflight] %s is in place and up to date; %s is missing "
					      "and will be written again",
					  spec->systemd.env_file, spec->systemd.unit_path);
			else
				ep_wf_say(wf, "[preflight] %s and %s are already in place and up to "
					      "date%s",
					  spec->systemd.unit_path, spec->systemd.env_file,
					  bad_mode ? ", but for a file mode that is fixed below" : "");
		}
		if (systemctl_usable) {
			struct ep_systemctl sc = { .program = wf->systemctl, .root = wf->root,
						   .timeout_ms = 10000 };
			char state_word[32] = "";
			if ((r = ep_systemctl_is_active(&sc, EP_UNIT_NAME, &wf->member_running,
							state_word, err)) < 0)
				return r;
		}
	}
	/* A new member: its data dir and ports. */
	if (!wf->files_in_place) {
		if ((r = data_dir_check(wf, err)) < 0 || (r = ports_check(wf, err)) < 0)
			return r;
	}
	return 0;
}

static const struct ep_phase preflight_phase = {
	.name = "preflight",
	.help = "check the node: etcd version, root, existing files, data dir, ports",
	.modes = EP_PHASE_ANY,
	.plan = preflight_plan,
};

static bool plan_creates(const struct ep_wf *wf, const char *path);

/* ---- install (systemd) -------------------------------------------------------------- */

static int install_plan(struct ep_wf *wf, struct ep_error *err)
{
	struct held h = { .wf = wf };
	struct ep_install_opts io = {
		.root = wf->root,
		.dry_run = true,
		.want_version = wf->spec->etcd_version,
		.log = held_log,
		.log_userdata = &h,
		.progress = wf->dry_run ? wf->progress : NULL,
		.progress_userdata = wf->userdata,
	};
	struct ep_install_result res = { 0 };
	int r = ep_install_etcd(wf->spec, &io, &res, err);
	held_end(&h, r >= 0 && (res.changed || res.mode_fixed)); /* a failure: what led to it */
	if (r < 0)
		return r;
	if (!res.changed && !res.mode_fixed)
		return 0;
	wf->etcd_changed |= res.changed;
	const struct ep_systemd *sd = &wf->spec->systemd;
	if (!ep_root_exists(wf->root, sd->bin_dir) &&
	    (r = ep_plan_add_dir_create(wf->plan, "install", sd->bin_dir, 0755, NULL, err)) < 0)
		return r;
	json_t *params = json_pack("{s:s, s:s, s:s?}", "version", res.version, "bin_dir",
				   sd->bin_dir, "source",
				   sd->etcd_binary ? sd->etcd_binary : sd->release_url);
	r = ep_plan_add(wf->plan, "install", "install.etcd", params,
			res.changed ? "a verified etcd release" : "fix the mode of the binaries", err);
	return r < 0 ? r : 0;
}

static const struct ep_phase install_phase = {
	.name = "install",
	.help = "a verified etcd, etcdctl and etcdutl in the bin dir (--etcd-binary or a release)",
	.modes = EP_PHASE_SYSTEMD,
	.plan = install_plan,
};

/* ---- certs ------------------------------------------------------------------------- */

static int certs_plan(struct ep_wf *wf, struct ep_error *err)
{
	unsigned written = 0;
	struct held h = { .wf = wf };
	int r = ep_pki_generate_ex(wf->spec, wf->root, EP_CERT_ALL, true, held_log, &h, &written,
				   err);
	held_end(&h, r >= 0 && written);
	if (r < 0 || !written)
		return r;
	json_t *pairs = json_array();
	for (unsigned id = 0; pairs && id < EP_CERT_COUNT; id++)
		if (written & EP_CERT_BIT(id))
			json_array_append_new(pairs, json_string(ep_cert_profile(id)->name));
	json_t *params = pairs ? json_pack("{s:o, s:s}", "pairs", pairs, "cert_dir",
					   wf->spec->cert_dir)
			       : NULL;
	r = ep_plan_add(wf->plan, "certs", "pki.ensure", params,
			"the etcd CA and this node's certificates (valid ones are reused)", err);
	return r < 0 ? r : 0;
}

static const struct ep_phase certs_phase = {
	.name = "certs",
	.help = "the etcd CA and this node's server, peer and client certificates",
	.modes = EP_PHASE_ANY,
	.plan = certs_plan,
};

/* ---- etcd: data dir and the runtime's files ----------------------------------------- */

static int data_dir_plan(struct ep_wf *wf, struct ep_error *err)
{
	struct stat st;
	if (ep_root_lstat(wf->root, wf->spec->data_dir, &st) == 0)
		return 0; /* there (a directory, or preflight said otherwise) */
	int r = ep_plan_add_dir_create(wf->plan, "etcd", wf->spec->data_dir, 0700,
				       "etcd's data directory, 0700 (a kubelet would make it 0755)",
				       err);
	return r < 0 ? r : 0;
}

/* A file with the right content but the wrong mode: chmod it. */
static int mode_plan(struct ep_wf *wf, const struct ep_runtime_file *f, struct ep_error *err)
{
	struct stat st;
	if (ep_root_lstat(wf->root, f->path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & 07777) == f->mode)
		return 0;
	char why[96];
	snprintf(why, sizeof(why), "it is %04o", (unsigned)(st.st_mode & 07777));
	int r = ep_plan_add_file_chmod(wf->plan, "etcd", f->path, (unsigned)f->mode, why, err);
	return r < 0 ? r : 0;
}

/* True when the plan already creates the directory @path. */
static bool plan_creates(const struct ep_wf *wf, const char *path)
{
	for (size_t i = 0; i < ep_plan_count(wf->plan); i++) {
		const char *p = json_string_value(
			json_object_get(ep_plan_action_params(wf->plan, i), "path"));
		if (!strcmp(ep_plan_action_type(wf->plan, i), "dir.create") && p && !strcmp(p, path))
			return true;
	}
	return false;
}

/* The directories the files go into, when missing: the manifest's 0700 as kubeadm makes it. */
static int parents_plan(struct ep_wf *wf, struct ep_error *err)
{
	struct ep_strv made = { 0 };
	int r = 0;
	for (size_t i = 0; r >= 0 && i < wf->files.n; i++) {
		_cleanup_free_ char *dir = strdup(wf->files.v[i].path);
		char *slash = dir ? strrchr(dir, '/') : NULL;
		if (!slash) {
			r = ep_error_set(err, -ENOMEM, "out of memory");
			break;
		}
		*slash = '\0';
		if (!*dir || ep_strv_contains(&made, dir) || ep_root_exists(wf->root, dir) ||
		    plan_creates(wf, dir))
			continue;
		bool manifests = !strcmp(dir, wf->spec->manifest_dir);
		r = ep_plan_add_dir_create(wf->plan, "etcd", dir, manifests ? 0700 : 0755,
					   manifests ? "the static pod directory, 0700 as kubeadm "
						       "makes it" : NULL, err);
		if (r >= 0 && ep_strv_push(&made, dir) < 0)
			r = ep_error_set(err, -ENOMEM, "out of memory");
	}
	ep_strv_release(&made);
	return r < 0 ? r : 0;
}

static int files_plan(struct ep_wf *wf, struct ep_error *err)
{
	int r = data_dir_plan(wf, err);
	if (r >= 0 && !wf->files_in_place)
		r = parents_plan(wf, err);
	if (r < 0)
		return r;
	if (!is_systemd(wf)) {
		/*
		 * A run killed between writing the manifest under its hidden name
		 * and renaming it left that file (the kubelet ignores it, people
		 * do not): a new write replaces it, otherwise it goes.
		 */
		_cleanup_free_ char *hidden = NULL;
		const char *mpath = wf->files.v[0].path, *base = strrchr(mpath, '/');
		if (asprintf(&hidden, "%.*s/.%s.etcdpilot-new", (int)(base - mpath), mpath,
			     base + 1) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
		struct stat st;
		if (wf->files_in_place && ep_root_lstat(wf->root, hidden, &st) == 0 &&
		    S_ISREG(st.st_mode) &&
		    (r = ep_plan_add_file_remove(wf->plan, "etcd", hidden, false,
						 "left by an interrupted run", err)) < 0)
			return r;
		if (wf->files_in_place)
			return mode_plan(wf, &wf->files.v[0], err);
		return wf->rt->plan_start(&wf->rtctx, &wf->files, wf->plan, "etcd", err);
	}
	/* systemd: each file that is missing or differs; the mode of one that is right */
	for (size_t i = 0; i < wf->files.n; i++) {
		const struct ep_runtime_file *f = &wf->files.v[i];
		_cleanup_free_ char *have = NULL;
		size_t len = 0;
		struct ep_error rerr = { 0 };
		int rr = ep_root_read_file(wf->root, f->path, 1u << 20, true, &have, &len, &rerr);
		if (rr == 0 && len == f->len && !memcmp(have, f->content, len)) {
			if ((r = mode_plan(wf, f, err)) < 0)
				return r;
			continue;
		}
		const char *base = strrchr(f->path, '/');
		base = base ? base + 1 : f->path;
		/* etcd reads only its unit and environment: the others need no restart */
		if (!strcmp(f->path, wf->spec->systemd.unit_path) ||
		    !strcmp(f->path, wf->spec->systemd.env_file))
			wf->etcd_changed = true;
		r = ep_plan_add_file_write(wf->plan, "etcd", f->path, (unsigned)f->mode, f->content,
					   false, rr == -ENOENT ? "missing" : "differs", err);
		if (r < 0)
			return r;
		(void)base;
	}
	return 0;
}

static const struct ep_phase etcd_phase = {
	.name = "etcd",
	.help = "the data dir and the static pod manifest (or the unit and its environment)",
	.modes = EP_PHASE_ANY,
	.plan = files_plan,
};

/* ---- start (systemd) ----------------------------------------------------------------- */

static bool plan_writes(const struct ep_wf *wf, const char *path)
{
	for (size_t i = 0; i < ep_plan_count(wf->plan); i++) {
		const char *p = json_string_value(
			json_object_get(ep_plan_action_params(wf->plan, i), "path"));
		if (!strcmp(ep_plan_action_type(wf->plan, i), "file.write") && p && !strcmp(p, path))
			return true;
	}
	return false;
}

static int start_plan(struct ep_wf *wf, struct ep_error *err)
{
	bool unit_written = plan_writes(wf, wf->spec->systemd.unit_path);
	bool active = wf->member_running;
	int r = 0;
	/* systemd reads the unit file only at daemon-reload (or when it first loads it) */
	if (unit_written || !active)
		r = ep_plan_add_systemd(wf->plan, "start", "daemon-reload", NULL,
					"systemd reads unit files at daemon-reload", err);
	if (r >= 0 && active && wf->etcd_changed)
		r = ep_plan_add_systemd(wf->plan, "start", "restart", EP_UNIT_NAME,
					"a new binary or configuration under a running etcd", err);
	else if (r >= 0 && !active)
		r = ep_plan_add_systemd(wf->plan, "start", "enable-now", EP_UNIT_NAME,
					"start etcd now and at every boot", err);
	else if (r >= 0)
		ep_wf_say(wf, "[start] %s is already active%s", EP_UNIT_NAME,
			  wf->etcd_changed ? "" : " and needs no restart");
	return r < 0 ? r : 0;
}

static const struct ep_phase start_phase = {
	.name = "start",
	.help = "systemctl daemon-reload and enable --now (restart for a changed etcd)",
	.modes = EP_PHASE_SYSTEMD,
	.plan = start_plan,
};

/* ---- wait ----------------------------------------------------------------------------- */

static int wait_plan(struct ep_wf *wf, struct ep_error *err)
{
	const struct ep_spec *spec = wf->spec;
	_cleanup_free_ char *endpoint = ep_manifest_local_client_url(spec);
	_cleanup_free_ char *ca = NULL, *crt = NULL, *key = NULL;
	if (!endpoint || asprintf(&ca, "%s/etcd/ca.crt", spec->cert_dir) < 0 ||
	    asprintf(&crt, "%s/etcd/healthcheck-client.crt", spec->cert_dir) < 0 ||
	    asprintf(&key, "%s/etcd/healthcheck-client.key", spec->cert_dir) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	json_t *params = json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s?, s:b}", "endpoint", endpoint,
				   "cacert", ca, "cert", crt, "key", key, "timeout_ms",
				   (json_int_t)spec->timeout_ms, "mode", ep_mode_name(spec->mode),
				   "journalctl", wf->journalctl, "programs_named",
				   wf->systemctl_named);
	int r = ep_plan_add(wf->plan, "wait", "wait.healthy", params,
			    "the member answers a linearizable read through its client URL", err);
	return r < 0 ? r : 0;
}

static const struct ep_phase wait_phase = {
	.name = "wait",
	.help = "wait until the member answers healthy (at most --timeout)",
	.modes = EP_PHASE_ANY,
	.plan = wait_plan,
};

static const struct ep_phase *const init_phases[] = {
	&preflight_phase, &install_phase, &certs_phase, &etcd_phase,
	&start_phase,     &wait_phase,    NULL,
};

const struct ep_workflow ep_workflow_init = {
	.command = "init",
	.phases = init_phases,
};

/* ---- shared with join and reset (workflow_internal.h) ------------------------------- */

int ep_wf_settle_version(struct ep_wf *wf, struct ep_error *err)
{
	return version_phase(wf, err);
}

int ep_wf_systemd_check(struct ep_wf *wf, bool *ret_usable, struct ep_error *err)
{
	return systemd_check(wf, ret_usable, err);
}

int ep_wf_new_member_checks(struct ep_wf *wf, struct ep_error *err)
{
	int r = data_dir_check(wf, err);
	return r < 0 ? r : ports_check(wf, err);
}

int ep_wf_parents_plan(struct ep_wf *wf, struct ep_error *err)
{
	return parents_plan(wf, err);
}

int ep_wf_install_plan(struct ep_wf *wf, struct ep_error *err)
{
	return install_plan(wf, err);
}

int ep_wf_start_plan(struct ep_wf *wf, struct ep_error *err)
{
	return start_plan(wf, err);
}
