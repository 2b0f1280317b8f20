/*
 * runtime_plan.c - start, stop and restart of a member as plan actions
 * (plan.h): the runtimes say what to do, the plan engine does it under its
 * journal.  Actions used, all data:
 *   file.write            {path, mode, content, hidden_rename}
 *   file.move             {from, to}
 *   systemd.daemon-reload {}
 *   systemd.enable-now    {unit}
 *   systemd.restart       {unit}
 *   systemd.stop          {unit}
 * A static pod is started by writing its manifest (the kubelet runs what
 * appears in its directory) and stopped by moving the manifest out of that
 * directory to /var/lib/etcdpilot/stopped/ (the kubelet stops a pod whose
 * manifest is gone, within its file check period); waiting for either is
 * the phase's business.  Nothing here writes, runs or prints.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "etcdpilot/error.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/runtime.h"
#include "runtime_internal.h"
#include "util/cleanup.h"

#define STOPPED_DIR "/var/lib/etcdpilot/stopped"

static int write_files(const struct ep_runtime_files *files, struct ep_plan *plan,
		       const char *phase, const char *reason, struct ep_error *err)
{
	if (!files || !files->n)
		return ep_error_set(err, -EINVAL, "no files to write: render them first");
	for (size_t i = 0; i < files->n; i++) {
		const struct ep_runtime_file *f = &files->v[i];
		int r = ep_plan_add_file_write(plan, phase, f->path, (unsigned)f->mode, f->content,
					       f->hidden_rename, reason, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int manifest_file(const struct ep_runtime_ctx *ctx, char **ret)
{
	const char *dir =
	    ctx->spec->manifest_dir ? ctx->spec->manifest_dir : "/etc/kubernetes/manifests";
	return asprintf(ret, "%s/etcd.yaml", dir) < 0 ? -ENOMEM : 0;
}

int rt_static_pod_plan_start(const struct ep_runtime_ctx *ctx, const struct ep_runtime_files *files,
			     struct ep_plan *plan, const char *phase, struct ep_error *err)
{
	(void)ctx;
	return write_files(files, plan, phase,
			   "the kubelet starts the static pod whose manifest appears", err);
}

int rt_static_pod_plan_stop(const struct ep_runtime_ctx *ctx, struct ep_plan *plan,
			    const char *phase, struct ep_error *err)
{
	_cleanup_free_ char *from = NULL;
	if (manifest_file(ctx, &from) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	int r = ep_plan_add_file_move(plan, phase, from, STOPPED_DIR "/etcd.yaml", false,
				      "the kubelet stops a static pod whose manifest is gone", err);
	return r < 0 ? r : 0;
}

int rt_static_pod_plan_restart(const struct ep_runtime_ctx *ctx,
			       const struct ep_runtime_files *files, struct ep_plan *plan,
			       const char *phase, struct ep_error *err)
{
	int r = rt_static_pod_plan_stop(ctx, plan, phase, err);
	if (r == 0)
		r = write_files(files, plan, phase,
				"written again once the kubelet has stopped the old pod", err);
	return r;
}

static const char *unit_name(const struct ep_runtime_ctx *ctx)
{
	const char *p =
	    ctx->spec->systemd.unit_path ? ctx->spec->systemd.unit_path : "etcd.service";
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

int rt_systemd_plan_start(const struct ep_runtime_ctx *ctx, const struct ep_runtime_files *files,
			  struct ep_plan *plan, const char *phase, struct ep_error *err)
{
	int r = write_files(files, plan, phase, "the unit, its environment and the etcdctl wrapper",
			    err);
	if (r == 0)
		r = ep_plan_add_systemd(plan, phase, "daemon-reload", NULL,
					"systemd reads unit files at daemon-reload", err);
	if (r >= 0)
		r = ep_plan_add_systemd(plan, phase, "enable-now", unit_name(ctx),
					"start etcd now and at every boot", err);
	return r < 0 ? r : 0;
}

int rt_systemd_plan_stop(const struct ep_runtime_ctx *ctx, struct ep_plan *plan, const char *phase,
			 struct ep_error *err)
{
	int r = ep_plan_add_systemd(plan, phase, "stop", unit_name(ctx), NULL, err);
	return r < 0 ? r : 0;
}

int rt_systemd_plan_restart(const struct ep_runtime_ctx *ctx, const struct ep_runtime_files *files,
			    struct ep_plan *plan, const char *phase, struct ep_error *err)
{
	int r = write_files(files, plan, phase, "the unit, its environment and the etcdctl wrapper",
			    err);
	if (r == 0)
		r = ep_plan_add_systemd(plan, phase, "daemon-reload", NULL,
					"systemd reads unit files at daemon-reload", err);
	if (r >= 0)
		r = ep_plan_add_systemd(plan, phase, "restart", unit_name(ctx),
					"etcd reads its settings when it starts", err);
	return r < 0 ? r : 0;
}
