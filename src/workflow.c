/*
 * workflow.c - running a command's phases into one plan (workflow.h): which
 * phases run (one alone, some skipped, only those of this runtime), the
 * preflight checks they record, and what the run owns.  It knows no phase
 * of its own; those live with their command (workflow_init.c ...).  It
 * never prints and never changes the node.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "etcdpilot/bundle.h"
#include "etcdpilot/error.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/convert.h"
#include "etcdpilot/workflow.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

const struct ep_phase *ep_workflow_phase(const struct ep_workflow *wf, const char *name)
{
	for (size_t i = 0; name && wf->phases[i]; i++)
		if (!strcmp(wf->phases[i]->name, name))
			return wf->phases[i];
	return NULL;
}

uint64_t ep_rollback_reserve_ms(uint64_t timeout_ms)
{
	uint64_t r = timeout_ms / 4, floor = timeout_ms / 2 < 5000 ? timeout_ms / 2 : 5000;
	if (r < floor)
		r = floor;
	return r > 20000 ? 20000 : r;
}

void ep_wf_release(struct ep_wf *wf)
{
	if (!wf)
		return;
	ep_plan_free(wf->plan);
	wf->plan = NULL;
	ep_runtime_files_release(&wf->files);
	for (size_t i = 0; i < wf->nchecks; i++) {
		free(wf->checks[i].name);
		free(wf->checks[i].message);
	}
	free(wf->checks);
	wf->checks = NULL;
	wf->nchecks = 0;
	ep_strv_release(&wf->diffs);
	ep_strv_release(&wf->notes);
	if (wf->have_installed)
		ep_member_desc_release(&wf->installed);
	wf->have_installed = false;
	if (wf->bundle) {
		ep_ca_bundle_release(wf->bundle);
		free(wf->bundle);
		wf->bundle = NULL;
	}
	if (wf->convert) {
		ep_convert_release(wf->convert);
		free(wf->convert);
		wf->convert = NULL;
	}
	wf->member_running = wf->files_in_place = wf->etcd_changed = false;
}

void ep_wf_say(const struct ep_wf *wf, const char *fmt, ...)
{
	if (!wf->log)
		return;
	struct ep_strbuf sb = EP_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	ep_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (!ep_strbuf_oom(&sb))
		wf->log(wf->userdata, ep_strbuf_str(&sb));
	ep_strbuf_release(&sb);
}

static bool ignored(const struct ep_wf *wf, const char *name)
{
	if (!wf->ignore)
		return false;
	for (size_t i = 0; i < wf->ignore->n; i++)
		if (!strcasecmp(wf->ignore->v[i], "all") || !strcasecmp(wf->ignore->v[i], name))
			return true;
	return false;
}

int ep_wf_check_fail(struct ep_wf *wf, const char *name, int code, const char *fmt, ...)
{
	struct ep_check *n = realloc(wf->checks, (wf->nchecks + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	wf->checks = n;
	struct ep_strbuf sb = EP_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	ep_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	struct ep_check c = {
		.name = strdup(name),
		.message = ep_strbuf_detach(&sb, NULL),
		.code = code < 0 ? code : -EINVAL,
		.ignored = ignored(wf, name),
	};
	if (!c.name || !c.message) {
		free(c.name);
		free(c.message);
		return -ENOMEM;
	}
	wf->checks[wf->nchecks++] = c;
	return 0;
}

char *ep_check_name(const char *kind, const char *path)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_strbuf_adds(&sb, kind);
	ep_strbuf_addch(&sb, '-');
	for (const char *p = path; *p; p++)
		ep_strbuf_addch(&sb, *p == '/' ? '-' : *p);
	return ep_strbuf_detach(&sb, NULL);
}

static bool skipped(const struct ep_wf *wf, const char *name)
{
	return wf->skip && ep_strv_contains(wf->skip, name);
}

/* "preflight, certs, ..." for @mode: an error message is one line (heap). */
static char *phase_names(const struct ep_workflow *w, enum ep_mode mode)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	for (size_t i = 0; w->phases[i]; i++)
		if (w->phases[i]->modes & (1u << mode))
			ep_strbuf_addf(&sb, "%s%s", sb.len ? ", " : "", w->phases[i]->name);
	return ep_strbuf_detach(&sb, NULL);
}

int ep_wf_plan(struct ep_wf *wf, struct ep_error *err)
{
	const struct ep_workflow *w = wf->workflow;
	unsigned mode_bit = 1u << wf->spec->mode;
	if (wf->only_phase) {
		const struct ep_phase *p = ep_workflow_phase(w, wf->only_phase);
		if (!p) {
			_cleanup_free_ char *list = phase_names(w, wf->spec->mode);
			return ep_error_usage(err, -EINVAL,
					      "'%s' has no phase '%s'; its phases are %s (see "
					      "'etcdpilot %s --help')", w->command, wf->only_phase,
					      list ? list : "", w->command);
		}
		if (!(p->modes & mode_bit))
			return ep_error_usage(err, -EINVAL, "phase '%s' of '%s' is not for --mode %s",
					      p->name, w->command, ep_mode_name(wf->spec->mode));
	}
	for (size_t i = 0; wf->skip && i < wf->skip->n; i++)
		if (!ep_workflow_phase(w, wf->skip->v[i])) {
			_cleanup_free_ char *list = phase_names(w, wf->spec->mode);
			return ep_error_usage(err, -EINVAL,
					      "--skip-phases: '%s' has no phase '%s'; its phases are %s "
					      "(see 'etcdpilot %s --help')", w->command, wf->skip->v[i],
					      list ? list : "", w->command);
		}
	if (!wf->rt)
		wf->rt = ep_runtime_get(wf->spec->mode);
	wf->rtctx = (struct ep_runtime_ctx){
		.root = wf->root,
		.spec = wf->spec,
		.systemctl = wf->systemctl,
		.journalctl = wf->journalctl,
		.programs_named = wf->systemctl_named,
	};
	if (!wf->plan && !(wf->plan = ep_plan_new(w->command)))
		return ep_error_set(err, -ENOMEM, "out of memory");

	for (size_t i = 0; w->phases[i]; i++) {
		const struct ep_phase *p = w->phases[i];
		if (!(p->modes & mode_bit))
			continue;
		/*
		 * preflight always runs: a phase run alone or a skip list still
		 * needs the facts it gathers (the rendered files, what is in
		 * place), and its checks stay its own to skip.
		 */
		bool is_preflight = !strcmp(p->name, "preflight");
		bool run = wf->only_phase ? !strcmp(p->name, wf->only_phase) : !skipped(wf, p->name);
		if (!run && !is_preflight)
			continue;
		size_t before = wf->nchecks;
		int r = p->plan(wf, err);
		if (r < 0)
			return r;
		if (!run) /* preflight skipped: its facts, not its checks */
			for (size_t k = before; k < wf->nchecks; k++)
				wf->checks[k].ignored = true;
		/* a real run that preflight stops plans no further; a dry run shows it all */
		bool stop = false;
		for (size_t k = 0; is_preflight && !wf->dry_run && k < wf->nchecks; k++)
			stop |= !wf->checks[k].ignored;
		if (stop)
			break;
	}
	size_t fatal = 0;
	const char *first = NULL;
	for (size_t i = 0; i < wf->nchecks; i++)
		if (!wf->checks[i].ignored) {
			fatal++;
			if (!first)
				first = wf->checks[i].name;
		}
	if (fatal)
		return ep_error_set(err, -EPERM,
				    "[preflight] %zu check%s failed (listed above); nothing was changed: "
				    "fix %s, or make a check non-fatal with "
				    "--ignore-preflight-errors=%s (or =all) if you know what you are doing",
				    fatal, fatal == 1 ? "" : "s", fatal == 1 ? "it" : "them", first);
	return 0;
}

char *ep_workflow_help(const struct ep_workflow *wf, enum ep_mode mode)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	for (size_t i = 0; wf->phases[i]; i++) {
		const struct ep_phase *p = wf->phases[i];
		if (!(p->modes & (1u << mode)))
			continue;
		ep_strbuf_addf(&sb, "  %-14s %s\n", p->name, p->help);
	}
	return ep_strbuf_detach(&sb, NULL);
}
