/*
 * plan_stub.c - the few plan.h functions the runtimes' start/stop/restart
 * builders call, for test_runtime only, until the plan engine is merged
 * (TODO(lead): delete this file and its CMake lines with EP_PLAN_ENGINE).
 * A plan is a JSON array of {phase, type, params, reason}; every type the
 * runtimes use is accepted, any other refused as the engine would.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "etcdpilot/error.h"
#include "etcdpilot/plan.h"

struct ep_plan {
	json_t *actions;
};

static const char *const known[] = {
    "file.write",   "file.move", "systemd.daemon-reload", "systemd.enable-now", "systemd.restart",
    "systemd.stop", NULL};

struct ep_plan *ep_plan_new(const char *command)
{
	(void)command;
	struct ep_plan *p = calloc(1, sizeof(*p));
	if (p && !(p->actions = json_array())) {
		free(p);
		return NULL;
	}
	return p;
}

void ep_plan_free(struct ep_plan *plan)
{
	if (!plan)
		return;
	json_decref(plan->actions);
	free(plan);
}

int ep_plan_add(struct ep_plan *plan, const char *phase, const char *type, json_t *params,
		const char *reason, struct ep_error *err)
{
	bool ok = false;
	for (size_t i = 0; known[i]; i++)
		ok |= !strcmp(known[i], type);
	if (!ok) {
		json_decref(params);
		return ep_error_set(err, -EINVAL, "unknown action type '%s'", type);
	}
	json_t *a = json_pack("{s:s, s:s, s:o, s:s?}", "phase", phase, "type", type, "params",
			      params, "reason", reason);
	if (!a || json_array_append_new(plan->actions, a) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return (int)json_array_size(plan->actions) - 1;
}

size_t ep_plan_count(const struct ep_plan *plan)
{
	return json_array_size(plan->actions);
}

const char *ep_plan_action_type(const struct ep_plan *plan, size_t i)
{
	return json_string_value(json_object_get(json_array_get(plan->actions, i), "type"));
}

const char *ep_plan_action_phase(const struct ep_plan *plan, size_t i)
{
	return json_string_value(json_object_get(json_array_get(plan->actions, i), "phase"));
}

const json_t *ep_plan_action_params(const struct ep_plan *plan, size_t i)
{
	return json_object_get(json_array_get(plan->actions, i), "params");
}
