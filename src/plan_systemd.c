/*
 * plan_systemd.c - the built-in action types that drive systemd:
 * systemd.daemon-reload, enable-now, start, stop, restart, disable, mask
 * and unmask, each through src/systemctl.c with the program of
 * ctx->systemctl (the tests' stand-in serves ctx->root).
 *
 * Each records the unit's prior state (is-active, is-enabled) in its undo
 * data before acting, so that its undo is the inverse of what it really
 * did: enable-now on a unit that was already running is undone by disable
 * alone, never by stopping a service it did not start.  They know nothing
 * of unit files (unit.c writes those, through file.write actions) and never
 * print.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/error.h"
#include "etcdpilot/plan.h"
#include "etcdpilot/systemctl.h"
#include "plan_internal.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/*
 * One systemctl call may take this long; not the run's deadline, which is
 * for waits - an undo after a wait timed out must still be able to run.
 */
#define SYSTEMCTL_TIMEOUT_MS 90000u

static void sc_init(const struct ep_apply_ctx *ctx, struct ep_systemctl *sc)
{
	sc->program = ctx->systemctl && *ctx->systemctl ? ctx->systemctl : "systemctl";
	sc->root = ctx->root;
	sc->timeout_ms = SYSTEMCTL_TIMEOUT_MS;
}

static int sc_run(const struct ep_apply_ctx *ctx, const char *a, const char *b, const char *c,
		  struct ep_error *err)
{
	struct ep_systemctl sc;
	sc_init(ctx, &sc);
	const char *args[] = { a, b, c, NULL };
	return ep_systemctl_run(&sc, args, NULL, NULL, err);
}

static int sc_active(const struct ep_apply_ctx *ctx, const char *unit, bool *ret,
		     struct ep_error *err)
{
	struct ep_systemctl sc;
	sc_init(ctx, &sc);
	return ep_systemctl_is_active(&sc, unit, ret, NULL, err);
}

/* The word "systemctl is-enabled" prints ("enabled", "disabled", "masked" ...). */
static int sc_enabled_state(const struct ep_apply_ctx *ctx, const char *unit, char state[32],
			    struct ep_error *err)
{
	struct ep_systemctl sc;
	sc_init(ctx, &sc);
	const char *args[] = { "is-enabled", unit, NULL };
	int status = 0;
	_cleanup_free_ char *out = NULL;
	int r = ep_systemctl_run(&sc, args, &status, &out, err);
	if (r < 0)
		return r;
	snprintf(state, 32, "%.*s", (int)strcspn(out ? out : "", "\n"), out ? out : "");
	return 0;
}

static bool is_masked(const char *state)
{
	return strncmp(state, "masked", 6) == 0;
}

static int record_bool(json_t *undo, const char *key, bool v,
		       struct ep_error *err)
{
	if (json_object_set_new(undo, key, json_boolean(v)) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

static const char *unit_of(const json_t *params)
{
	return ep_param_str(params, "unit");
}

static int unit_check(const json_t *params, struct ep_error *err)
{
	const char *u = unit_of(params);
	if (!u || !*u || strlen(u) > 255 || strchr(u, '/') || u[0] == '-' || ep_needs_escape(u))
		return ep_error_set(err, -EINVAL,
				    "a systemd action needs 'unit', a unit name such as "
				    "'etcd.service'");
	return 0;
}

static void describe_verb(const json_t *params, const char *verb, struct ep_strbuf *out)
{
	ep_strbuf_addf(out, "run systemctl %s", verb);
	const char *u = unit_of(params);
	if (u) {
		ep_strbuf_addch(out, ' ');
		ep_strbuf_add_escaped(out, u, strlen(u));
	}
}

#define DESCRIBE(fn, verb)                                                  \
	static void fn(const json_t *params, struct ep_strbuf *out)         \
	{                                                                   \
		describe_verb(params, verb, out);                           \
	}

/* ---- daemon-reload: undone by another reload, once the files are back ---- */

static int reload_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			struct ep_error *err)
{
	(void)params;
	(void)undo;
	return sc_run(ctx, "daemon-reload", NULL, NULL, err);
}

static int reload_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		       struct ep_error *err)
{
	(void)params;
	(void)undo;
	return sc_run(ctx, "daemon-reload", NULL, NULL, err);
}

DESCRIBE(reload_describe, "daemon-reload")

/* ---- enable-now <-> stop (if it was inactive) + disable (if it was not enabled) */

static int enable_now_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			    struct ep_error *err)
{
	const char *unit = unit_of(params);
	if (!json_object_get(undo, "was_active")) {
		bool active = false;
		char state[32] = "";
		int r = sc_active(ctx, unit, &active, err);
		if (r >= 0)
			r = sc_enabled_state(ctx, unit, state, err);
		if (r < 0)
			return r;
		bool enabled = strcmp(state, "enabled") == 0;
		if (active && enabled)
			return EP_APPLY_SKIPPED;
		r = record_bool(undo, "was_active", active, err);
		if (r >= 0)
			r = record_bool(undo, "was_enabled", enabled, err);
		if (r >= 0)
			r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
	}
	return sc_run(ctx, "enable", "--now", unit, err);
}

static int enable_now_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			   struct ep_error *err)
{
	const char *unit = unit_of(params);
	const json_t *was_active = json_object_get(undo, "was_active");
	if (!was_active)
		return 0;
	int r = 0;
	if (json_is_false(was_active))
		r = sc_run(ctx, "stop", unit, NULL, err);
	if (r >= 0 && json_is_false(json_object_get(undo, "was_enabled")))
		r = sc_run(ctx, "disable", unit, NULL, err);
	return r;
}

DESCRIBE(enable_now_describe, "enable --now")

/* ---- start <-> stop ------------------------------------------------------------ */

static int start_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		       struct ep_error *err)
{
	const char *unit = unit_of(params);
	if (!json_object_get(undo, "was_active")) {
		bool active = false;
		int r = sc_active(ctx, unit, &active, err);
		if (r < 0)
			return r;
		if (active)
			return EP_APPLY_SKIPPED;
		r = record_bool(undo, "was_active", false, err);
		if (r >= 0)
			r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
	}
	return sc_run(ctx, "start", unit, NULL, err);
}

static int start_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		      struct ep_error *err)
{
	if (!json_is_false(json_object_get(undo, "was_active")))
		return 0;
	return sc_run(ctx, "stop", unit_of(params), NULL, err);
}

DESCRIBE(start_describe, "start")

/* ---- stop <-> start ------------------------------------------------------------ */

static int stop_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		      struct ep_error *err)
{
	const char *unit = unit_of(params);
	if (!json_object_get(undo, "was_active")) {
		bool active = false;
		char state[32] = "";
		struct ep_systemctl sc;
		sc_init(ctx, &sc);
		int r = ep_systemctl_is_active(&sc, unit, &active, state, err);
		if (r < 0)
			return r;
		/*
		 * "activating" is also a unit waiting to be restarted (Restart=
		 * after its process exited): only a stop cancels that.
		 */
		if (!active && strcmp(state, "activating") && strcmp(state, "deactivating") &&
		    strcmp(state, "reloading"))
			return EP_APPLY_SKIPPED;
		r = record_bool(undo, "was_active", true, err);
		if (r >= 0)
			r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
	}
	return sc_run(ctx, "stop", unit, NULL, err);
}

static int stop_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		     struct ep_error *err)
{
	if (!json_is_true(json_object_get(undo, "was_active")))
		return 0;
	return sc_run(ctx, "start", unit_of(params), NULL, err);
}

DESCRIBE(stop_describe, "stop")

/* ---- restart: undone last, by a restart on the restored files (or a stop) ---- */

static int restart_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			 struct ep_error *err)
{
	const char *unit = unit_of(params);
	if (!json_object_get(undo, "was_active")) {
		bool active = false;
		int r = sc_active(ctx, unit, &active, err);
		if (r >= 0)
			r = record_bool(undo, "was_active", active, err);
		if (r >= 0)
			r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
	}
	return sc_run(ctx, "restart", unit, NULL, err);
}

static int restart_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			struct ep_error *err)
{
	const json_t *was_active = json_object_get(undo, "was_active");
	if (!was_active)
		return 0;
	return sc_run(ctx, json_is_true(was_active) ? "restart" : "stop", unit_of(params), NULL,
		      err);
}

DESCRIBE(restart_describe, "restart")

/* ---- disable <-> enable ---------------------------------------------------------- */

static int disable_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			 struct ep_error *err)
{
	const char *unit = unit_of(params);
	if (!json_object_get(undo, "was_enabled")) {
		char state[32] = "";
		int r = sc_enabled_state(ctx, unit, state, err);
		if (r < 0)
			return r;
		if (strcmp(state, "enabled") != 0)
			return EP_APPLY_SKIPPED;
		r = record_bool(undo, "was_enabled", true, err);
		if (r >= 0)
			r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
	}
	return sc_run(ctx, "disable", unit, NULL, err);
}

static int disable_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
			struct ep_error *err)
{
	if (!json_is_true(json_object_get(undo, "was_enabled")))
		return 0;
	return sc_run(ctx, "enable", unit_of(params), NULL, err);
}

DESCRIBE(disable_describe, "disable")

/* ---- mask <-> unmask --------------------------------------------------------------- */

static int mask_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
		      struct ep_error *err)
{
	const char *unit = unit_of(params);
	if (!json_object_get(undo, "was_masked")) {
		char state[32] = "";
		int r = sc_enabled_state(ctx, unit, state, err);
		if (r < 0)
			return r;
		if (is_masked(state))
			return EP_APPLY_SKIPPED;
		r = record_bool(undo, "was_masked", false, err);
		if (r >= 0)
			r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
	}
	return sc_run(ctx, "mask", unit, NULL, err);
}

static int mask_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		     struct ep_error *err)
{
	if (!json_is_false(json_object_get(undo, "was_masked")))
		return 0;
	return sc_run(ctx, "unmask", unit_of(params), NULL, err);
}

DESCRIBE(mask_describe, "mask")

static int unmask_apply(struct ep_apply_ctx *ctx, const json_t *params, json_t *undo,
			struct ep_error *err)
{
	const char *unit = unit_of(params);
	if (!json_object_get(undo, "was_masked")) {
		char state[32] = "";
		int r = sc_enabled_state(ctx, unit, state, err);
		if (r < 0)
			return r;
		if (!is_masked(state))
			return EP_APPLY_SKIPPED;
		r = record_bool(undo, "was_masked", true, err);
		if (r >= 0)
			r = ep_apply_checkpoint(ctx, err);
		if (r < 0)
			return r;
	}
	return sc_run(ctx, "unmask", unit, NULL, err);
}

static int unmask_undo(struct ep_apply_ctx *ctx, const json_t *params, const json_t *undo,
		       struct ep_error *err)
{
	if (!json_is_true(json_object_get(undo, "was_masked")))
		return 0;
	return sc_run(ctx, "mask", unit_of(params), NULL, err);
}

DESCRIBE(unmask_describe, "unmask")

/* ---- the table ------------------------------------------------------------------------ */

#define UNIT_TYPE(var, tname, fn, last)                                                   \
	static const struct ep_action_type var = {                                         \
		.name = tname,                                                             \
		.reversible = true,                                                        \
		.changes = true,                                                           \
		.undo_last = last,                                                         \
		.check = unit_check,                                                       \
		.describe = fn##_describe,                                                 \
		.apply = fn##_apply,                                                       \
		.undo = fn##_undo,                                                         \
	}

static const struct ep_action_type reload = {
	.name = "systemd.daemon-reload",
	.reversible = true,
	.changes = false, /* makes systemd read what other actions changed */
	.undo_last = true,
	.describe = reload_describe,
	.apply = reload_apply,
	.undo = reload_undo,
};
UNIT_TYPE(enable_now, "systemd.enable-now", enable_now, false);
UNIT_TYPE(start, "systemd.start", start, false);
UNIT_TYPE(stop, "systemd.stop", stop, false);
UNIT_TYPE(restart, "systemd.restart", restart, true);
UNIT_TYPE(disable, "systemd.disable", disable, false);
UNIT_TYPE(mask, "systemd.mask", mask, false);
UNIT_TYPE(unmask, "systemd.unmask", unmask, false);

const struct ep_action_type *const ep_plan_systemd_types[] = {
	&reload, &enable_now, &start, &stop, &restart, &disable, &mask, &unmask, NULL,
};
