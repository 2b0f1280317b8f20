/*
 * plan.c - the plan engine: the registry of action types, building a plan,
 * printing it (text or one JSON document), and applying it under a journal
 * that a later run can resume or roll back.
 *
 * It owns the order of things - journal before action, undo in reverse,
 * commit only after everything succeeded - and the journal file and its
 * lock.  It knows nothing of what an action does (the types in
 * plan_actions.c, plan_systemd.c and elsewhere do), touches the file system
 * only through plan_fs.c, and never prints: lines go to ctx->log, progress
 * to the observer.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "etcdpilot/error.h"
#include "etcdpilot/plan.h"
#include "plan_internal.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/strbuf.h"

#define EP_PLAN_API_VERSION "etcdpilot.io/v1alpha1"
#define EP_JOURNAL_MAX      (64u << 20)
#define EP_ACTION_TYPES_MAX 64

/* ---- registry ------------------------------------------------------------ */

static const struct ep_action_type *registered[EP_ACTION_TYPES_MAX];
static size_t nregistered;

static const struct ep_action_type *find_in(const struct ep_action_type *const *list,
					    const char *name)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(list[i]->name, name) == 0)
			return list[i];
	return NULL;
}

const struct ep_action_type *ep_action_type_find(const char *name)
{
	if (!name)
		return NULL;
	const struct ep_action_type *t = find_in(ep_plan_file_types, name);
	if (!t)
		t = find_in(ep_plan_systemd_types, name);
	if (!t)
		t = find_in(ep_plan_node_types, name);
	if (!t)
		t = find_in(ep_plan_cluster_types, name);
	if (!t)
		t = find_in(ep_plan_member_types, name);
	if (!t)
		t = find_in(ep_plan_convert_types, name);
	for (size_t i = 0; !t && i < nregistered; i++)
		if (strcmp(registered[i]->name, name) == 0)
			t = registered[i];
	return t;
}

int ep_action_type_register(const struct ep_action_type *t)
{
	if (!t || !t->name || !*t->name || !t->describe || !t->apply || (t->reversible && !t->undo))
		return -EINVAL;
	if (ep_action_type_find(t->name))
		return -EEXIST;
	if (nregistered >= EP_ACTION_TYPES_MAX)
		return -ENOSPC;
	registered[nregistered++] = t;
	return 0;
}

static const char *const state_names[] = {
	[EP_ACTION_PENDING] = "pending", [EP_ACTION_RUNNING] = "running",
	[EP_ACTION_DONE] = "done",       [EP_ACTION_UNDONE] = "undone",
	[EP_ACTION_SKIPPED] = "skipped", [EP_ACTION_FAILED] = "failed",
};

const char *ep_action_state_name(enum ep_action_state s)
{
	if ((size_t)s < sizeof(state_names) / sizeof(state_names[0]))
		return state_names[s];
	return "unknown";
}

static int state_parse(const char *s, enum ep_action_state *ret)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(s, state_names[i]) == 0) {
			*ret = (enum ep_action_state)i;
			return 0;
		}
	return -EINVAL;
}

/* ---- the plan ------------------------------------------------------------ */

enum run_status { RUN_APPLYING, RUN_ROLLING_BACK, RUN_COMMITTING };
static const char *const status_names[] = { "applying", "rolling-back", "committing" };

struct ep_action {
	char *phase;
	char *reason; /* NULL: none */
	const struct ep_action_type *type;
	json_t *params;
	json_t *undo; /* always an object */
	enum ep_action_state state;
	bool deferred; /* its undo was left for later (EP_UNDO_DEFERRED); journalled */
};

/* The journal directory and its parents, which a run may have to make. */
static const char *const journal_dirs[3] = { "/var", "/var/lib", EP_JOURNAL_DIR };

struct ep_plan {
	char *command;
	char id[17];      /* "" until applied or loaded */
	char started[32]; /* RFC 3339 */
	long long pid;
	enum run_status status;
	bool loaded; /* from a journal: resume or roll back, never apply */
	/*
	 * Bit i: journal_dirs[i] did not exist before the run made the
	 * journal; journalled, so that whichever run ends it (the first one,
	 * a resume or a rollback) removes them again when empty.
	 */
	unsigned made_dirs;
	struct ep_action *v;
	size_t n, alloc;
};

struct ep_plan *ep_plan_new(const char *command)
{
	struct ep_plan *plan = calloc(1, sizeof(*plan));
	if (!plan)
		return NULL;
	plan->command = strdup(command ? command : "");
	if (!plan->command) {
		free(plan);
		return NULL;
	}
	return plan;
}

static void action_release(struct ep_action *a)
{
	free(a->phase);
	free(a->reason);
	json_decref(a->params);
	json_decref(a->undo);
}

void ep_plan_free(struct ep_plan *plan)
{
	if (!plan)
		return;
	for (size_t i = 0; i < plan->n; i++)
		action_release(&plan->v[i]);
	free(plan->v);
	free(plan->command);
	free(plan);
}

/* Append an action whose type is known and params checked; steals @params and @undo. */
static int plan_push(struct ep_plan *plan, const char *phase, const struct ep_action_type *t,
		     json_t *params, const char *reason, json_t *undo, enum ep_action_state state,
		     struct ep_error *err)
{
	if (plan->n == plan->alloc) {
		size_t na = plan->alloc ? plan->alloc * 2 : 16;
		struct ep_action *nv = realloc(plan->v, na * sizeof(*nv));
		if (!nv)
			goto oom;
		plan->v = nv;
		plan->alloc = na;
	}
	struct ep_action a = {
		.phase = strdup(phase ? phase : ""),
		.reason = reason && *reason ? strdup(reason) : NULL,
		.type = t,
		.params = params,
		.undo = undo ? undo : json_object(),
		.state = state,
	};
	if (!a.phase || (reason && *reason && !a.reason) || !a.undo) {
		action_release(&a);
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	plan->v[plan->n] = a;
	return (int)plan->n++;
oom:
	json_decref(params);
	json_decref(undo);
	return ep_error_set(err, -ENOMEM, "out of memory");
}

int ep_plan_add(struct ep_plan *plan, const char *phase, const char *type, json_t *params,
		const char *reason, struct ep_error *err)
{
	if (!params)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (!json_is_object(params)) {
		json_decref(params);
		return ep_error_set(err, -EINVAL,
				    "the parameters of a '%s' action are not an object",
				    type ? type : "");
	}
	const struct ep_action_type *t = ep_action_type_find(type);
	if (!t) {
		json_decref(params);
		return ep_error_set(err, -EINVAL, "unknown action type '%s'", type ? type : "");
	}
	if (t->check) {
		int r = t->check(params, err);
		if (r < 0) {
			json_decref(params);
			return r;
		}
	}
	return plan_push(plan, phase, t, params, reason, NULL, EP_ACTION_PENDING, err);
}

size_t ep_plan_count(const struct ep_plan *plan)
{
	return plan->n;
}

bool ep_plan_changes(const struct ep_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].type->changes)
			return true;
	return false;
}

size_t ep_plan_count_changed(const struct ep_plan *plan)
{
	size_t n = 0;
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].type->changes && plan->v[i].state == EP_ACTION_DONE)
			n++;
	return n;
}

const char *ep_plan_action_type(const struct ep_plan *plan, size_t i)
{
	return plan->v[i].type->name;
}

const char *ep_plan_action_phase(const struct ep_plan *plan, size_t i)
{
	return plan->v[i].phase;
}

const char *ep_plan_action_reason(const struct ep_plan *plan, size_t i)
{
	return plan->v[i].reason;
}

const json_t *ep_plan_action_params(const struct ep_plan *plan, size_t i)
{
	return plan->v[i].params;
}

const json_t *ep_plan_action_undo(const struct ep_plan *plan, size_t i)
{
	return plan->v[i].undo;
}

enum ep_action_state ep_plan_action_state(const struct ep_plan *plan, size_t i)
{
	return plan->v[i].state;
}

void ep_plan_action_describe(const struct ep_plan *plan, size_t i, struct ep_strbuf *out)
{
	plan->v[i].type->describe(plan->v[i].params, out);
}

const char *ep_plan_command(const struct ep_plan *plan)
{
	return plan->command;
}

const char *ep_plan_started(const struct ep_plan *plan)
{
	return plan->started;
}

/* ---- parameters ------------------------------------------------------------ */

const char *ep_param_str(const json_t *params, const char *key)
{
	return json_string_value(json_object_get(params, key));
}

bool ep_param_bool(const json_t *params, const char *key, bool dflt)
{
	const json_t *v = json_object_get(params, key);
	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

bool ep_param_mode(const json_t *params, const char *key, unsigned *ret)
{
	const char *s = ep_param_str(params, key);
	if (!s || !*s || strlen(s) > 5)
		return false;
	unsigned m = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '7')
			return false;
		m = m * 8 + (unsigned)(*p - '0');
	}
	if (m > 07777)
		return false;
	*ret = m;
	return true;
}

void ep_mode_str(unsigned mode, char buf[8])
{
	snprintf(buf, 8, "%04o", mode & 07777);
}

int ep_param_check_path(const json_t *params, const char *type, const char *key,
			struct ep_error *err)
{
	const char *p = ep_param_str(params, key);
	if (!p || p[0] != '/')
		return ep_error_set(err, -EINVAL, "a '%s' action needs '%s', an absolute path",
				    type, key);
	return 0;
}

/* ---- builders for the built-in types -------------------------------------- */

static int set_str(json_t *o, const char *key, const char *val)
{
	json_t *s = json_string(val);
	return s ? json_object_set_new(o, key, s) : -1;
}

static int set_mode(json_t *o, unsigned mode)
{
	char buf[8];
	ep_mode_str(mode, buf);
	return set_str(o, "mode", buf);
}

/* Hand a built params object to ep_plan_add (@bad: building it failed). */
static int add_built(struct ep_plan *plan, const char *phase, const char *type, json_t *params,
		     bool bad, const char *reason, struct ep_error *err)
{
	if (!params || bad) {
		json_decref(params);
		return ep_error_set(err, -EINVAL,
				    "a '%s' action: a parameter is missing or not UTF-8 text",
				    type);
	}
	return ep_plan_add(plan, phase, type, params, reason, err);
}

int ep_plan_add_dir_create(struct ep_plan *plan, const char *phase, const char *path,
			   unsigned mode, const char *reason, struct ep_error *err)
{
	json_t *p = json_object();
	bool bad = !p || !path || set_str(p, "path", path) || set_mode(p, mode);
	return add_built(plan, phase, "dir.create", p, bad, reason, err);
}

int ep_plan_add_file_write(struct ep_plan *plan, const char *phase, const char *path,
			   unsigned mode, const char *content, bool hidden_rename,
			   const char *reason, struct ep_error *err)
{
	json_t *p = json_object();
	bool bad = !p || !path || !content || set_str(p, "path", path) || set_mode(p, mode) ||
		   set_str(p, "content", content) ||
		   json_object_set_new(p, "hidden_rename", json_boolean(hidden_rename));
	return add_built(plan, phase, "file.write", p, bad, reason, err);
}

int ep_plan_add_file_chmod(struct ep_plan *plan, const char *phase, const char *path,
			   unsigned mode, const char *reason, struct ep_error *err)
{
	json_t *p = json_object();
	bool bad = !p || !path || set_str(p, "path", path) || set_mode(p, mode);
	return add_built(plan, phase, "file.chmod", p, bad, reason, err);
}

int ep_plan_add_file_move(struct ep_plan *plan, const char *phase, const char *from,
			  const char *to, bool into, const char *reason, struct ep_error *err)
{
	json_t *p = json_object();
	bool bad = !p || !from || !to || set_str(p, "from", from) || set_str(p, "to", to) ||
		   json_object_set_new(p, "into", json_boolean(into));
	return add_built(plan, phase, "file.move", p, bad, reason, err);
}

int ep_plan_add_file_remove(struct ep_plan *plan, const char *phase, const char *path,
			    bool recursive, const char *reason, struct ep_error *err)
{
	json_t *p = json_object();
	bool bad = !p || !path || set_str(p, "path", path) ||
		   json_object_set_new(p, "recursive", json_boolean(recursive));
	return add_built(plan, phase, "file.remove", p, bad, reason, err);
}

int ep_plan_add_systemd(struct ep_plan *plan, const char *phase, const char *verb,
			const char *unit, const char *reason, struct ep_error *err)
{
	char type[64];
	if (!verb || snprintf(type, sizeof(type), "systemd.%s", verb) >= (int)sizeof(type))
		return ep_error_set(err, -EINVAL, "unknown systemd verb '%s'", verb ? verb : "");
	json_t *p = json_object();
	bool bad = !p || (unit && set_str(p, "unit", unit));
	return add_built(plan, phase, type, p, bad, reason, err);
}

/* ---- printing ------------------------------------------------------------ */

static void add_capitalized(struct ep_strbuf *out, const char *s)
{
	if (s[0] >= 'a' && s[0] <= 'z') {
		ep_strbuf_addch(out, (char)toupper((unsigned char)s[0]));
		s++;
	}
	ep_strbuf_adds(out, s);
}

json_t *ep_plan_to_json(const struct ep_plan *plan)
{
	json_t *doc = json_object(), *actions = json_array();
	if (!doc || !actions)
		goto oom;
	int bad = json_object_set_new(doc, "apiVersion", json_string(EP_PLAN_API_VERSION)) |
		  json_object_set_new(doc, "kind", json_string("Plan")) |
		  json_object_set_new(doc, "command", json_string(plan->command)) |
		  json_object_set_new(doc, "changes", json_boolean(ep_plan_changes(plan)));
	if (bad)
		goto oom;
	for (size_t i = 0; i < plan->n; i++) {
		const struct ep_action *a = &plan->v[i];
		struct ep_strbuf desc = EP_STRBUF_INIT;
		a->type->describe(a->params, &desc);
		json_t *o = json_object();
		bad = !o || ep_strbuf_oom(&desc);
		if (!bad)
			bad = json_object_set_new(o, "phase", json_string(a->phase)) |
			      json_object_set_new(o, "type", json_string(a->type->name)) |
			      json_object_set_new(o, "description",
						  json_string(ep_strbuf_str(&desc))) |
			      (a->reason ? json_object_set_new(o, "reason", json_string(a->reason))
					 : 0) |
			      json_object_set_new(o, "params", json_deep_copy(a->params)) |
			      json_object_set_new(o, "state",
						  json_string(ep_action_state_name(a->state))) |
			      (json_object_size(a->undo)
				       ? json_object_set_new(o, "undo", json_deep_copy(a->undo))
				       : 0);
		ep_strbuf_release(&desc);
		if (bad || json_array_append_new(actions, o)) {
			json_decref(o);
			goto oom;
		}
	}
	if (json_object_set_new(doc, "actions", actions) == 0)
		return doc;
	actions = NULL;
oom:
	json_decref(actions);
	json_decref(doc);
	return NULL;
}

void ep_plan_to_text(const struct ep_plan *plan, struct ep_strbuf *out)
{
	if (plan->n == 0) {
		ep_strbuf_addf(out, "[dryrun] Nothing to do: the plan of '%s' is empty\n",
			       plan->command);
		return;
	}
	for (size_t i = 0; i < plan->n; i++) {
		const struct ep_action *a = &plan->v[i];
		ep_strbuf_adds(out, "[dryrun] [");
		ep_strbuf_adds(out, a->phase);
		ep_strbuf_adds(out, "] Would ");
		a->type->describe(a->params, out);
		if (a->reason) {
			ep_strbuf_adds(out, ": ");
			ep_strbuf_add_escaped(out, a->reason, strlen(a->reason));
		}
		ep_strbuf_addch(out, '\n');
		const char *content = ep_param_str(a->params, "content");
		if (!content)
			continue;
		size_t len = json_string_length(json_object_get(a->params, "content"));
		const char *end = content + len;
		for (const char *p = content; p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);
			ep_strbuf_addch(out, '\t');
			ep_strbuf_add_escaped(out, p, l);
			ep_strbuf_addch(out, '\n');
			p += l + (nl ? 1 : 0);
		}
	}
}

/* ---- the journal document -------------------------------------------------- */

static json_t *journal_json(const struct ep_plan *plan)
{
	json_t *doc = json_object(), *actions = json_array();
	if (!doc || !actions)
		goto oom;
	int bad = json_object_set_new(doc, "apiVersion", json_string(EP_PLAN_API_VERSION)) |
		  json_object_set_new(doc, "kind", json_string("Journal")) |
		  json_object_set_new(doc, "id", json_string(plan->id)) |
		  json_object_set_new(doc, "command", json_string(plan->command)) |
		  json_object_set_new(doc, "started", json_string(plan->started)) |
		  json_object_set_new(doc, "pid", json_integer(plan->pid)) |
		  json_object_set_new(doc, "status", json_string(status_names[plan->status]));
	json_t *made = json_array();
	for (int i = 0; made && i < 3; i++)
		if (plan->made_dirs & (1u << i))
			bad |= json_array_append_new(made, json_string(journal_dirs[i]));
	bad |= json_object_set_new(doc, "madeDirs", made);
	if (bad)
		goto oom;
	for (size_t i = 0; i < plan->n; i++) {
		const struct ep_action *a = &plan->v[i];
		json_t *o = json_object();
		if (!o)
			goto oom;
		bad = json_object_set_new(o, "phase", json_string(a->phase)) |
		      json_object_set_new(o, "type", json_string(a->type->name)) |
		      json_object_set_new(o, "params", json_deep_copy(a->params)) |
		      (a->reason ? json_object_set_new(o, "reason", json_string(a->reason)) : 0) |
		      json_object_set_new(o, "state", json_string(ep_action_state_name(a->state))) |
		      json_object_set_new(o, "undo", json_deep_copy(a->undo)) |
		      (a->deferred ? json_object_set_new(o, "deferred", json_true()) : 0);
		if (bad || json_array_append_new(actions, o)) {
			json_decref(o);
			goto oom;
		}
	}
	if (json_object_set_new(doc, "actions", actions) == 0)
		return doc;
	actions = NULL;
oom:
	json_decref(actions);
	json_decref(doc);
	return NULL;
}

static bool is_hex16(const char *s)
{
	if (!s || strlen(s) != 16)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* Refuse a journal that cannot be read, naming it and what to do. */
static int journal_bad(const char *path, struct ep_error *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int journal_bad(const char *path, struct ep_error *err, const char *fmt, ...)
{
	char why[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return ep_error_usage(err, -EINVAL,
			      "the journal '%s' cannot be read: %s; the run it records can be "
			      "neither resumed nor rolled back by this etcdpilot: check the node "
			      "against it by hand, then move it away",
			      path, why);
}

static int parse_action(struct ep_plan *plan, const json_t *o, size_t i, const char *path,
			struct ep_error *err)
{
	const char *phase = json_string_value(json_object_get(o, "phase"));
	const char *type = json_string_value(json_object_get(o, "type"));
	const char *state = json_string_value(json_object_get(o, "state"));
	json_t *params = json_object_get(o, "params");
	json_t *reason = json_object_get(o, "reason");
	json_t *undo = json_object_get(o, "undo");
	json_t *deferred = json_object_get(o, "deferred");
	enum ep_action_state s;
	if (!phase || !type || !state || !json_is_object(params) ||
	    (reason && !json_is_string(reason) && !json_is_null(reason)) ||
	    (deferred && !json_is_boolean(deferred)) ||
	    (undo && !json_is_object(undo)) || state_parse(state, &s) < 0)
		return journal_bad(path, err, "action %zu is malformed", i + 1);
	const struct ep_action_type *t = ep_action_type_find(type);
	if (!t)
		return journal_bad(path, err,
				   "action %zu is of the type '%s', which this etcdpilot does not "
				   "know (was it written by another version?)",
				   i + 1, type);
	struct ep_error cerr = { 0 };
	if (t->check && t->check(params, &cerr) < 0)
		return journal_bad(path, err, "action %zu: %s", i + 1, cerr.msg);
	int r = plan_push(plan, phase, t, json_incref(params), json_string_value(reason),
			  undo ? json_incref(undo) : NULL, s, err);
	if (r >= 0)
		plan->v[r].deferred = json_is_true(deferred);
	return r;
}

static int journal_parse(const char *text, size_t len, const char *path, struct ep_plan **ret,
			 struct ep_error *err)
{
	json_error_t jerr;
	_cleanup_(json_decrefp) json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return journal_bad(path, err, "line %d column %d: %s", jerr.line, jerr.column,
				   jerr.text);
	const char *api = json_string_value(json_object_get(doc, "apiVersion"));
	const char *kind = json_string_value(json_object_get(doc, "kind"));
	if (!api || strcmp(api, EP_PLAN_API_VERSION) || !kind || strcmp(kind, "Journal"))
		return journal_bad(path, err, "it is not a %s Journal", EP_PLAN_API_VERSION);
	const char *id = json_string_value(json_object_get(doc, "id"));
	const char *cmd = json_string_value(json_object_get(doc, "command"));
	const char *started = json_string_value(json_object_get(doc, "started"));
	const char *status = json_string_value(json_object_get(doc, "status"));
	json_t *pid = json_object_get(doc, "pid");
	json_t *actions = json_object_get(doc, "actions");
	if (!is_hex16(id) || !cmd || !*cmd || !started || strlen(started) >= 32 || !status ||
	    !json_is_integer(pid) || !json_is_array(actions))
		return journal_bad(path, err,
				   "'id', 'command', 'started', 'pid', 'status' or 'actions' is "
				   "missing or malformed");
	int st = -1;
	for (int i = 0; i < 3; i++)
		if (strcmp(status, status_names[i]) == 0)
			st = i;
	if (st < 0)
		return journal_bad(path, err, "unknown status '%s'", status);

	struct ep_plan *plan = ep_plan_new(cmd);
	if (!plan)
		return ep_error_set(err, -ENOMEM, "out of memory");
	memcpy(plan->id, id, 17);
	snprintf(plan->started, sizeof(plan->started), "%s", started);
	plan->pid = json_integer_value(pid);
	plan->status = (enum run_status)st;
	plan->loaded = true;
	size_t mi;
	json_t *mv;
	json_array_foreach(json_object_get(doc, "madeDirs"), mi, mv)
		for (int k = 0; k < 3; k++)
			if (json_is_string(mv) && !strcmp(json_string_value(mv), journal_dirs[k]))
				plan->made_dirs |= 1u << k;

	size_t i;
	json_t *o;
	json_array_foreach(actions, i, o)
	{
		int r = parse_action(plan, o, i, path, err);
		if (r < 0) {
			ep_plan_free(plan);
			return r;
		}
	}
	*ret = plan;
	return 0;
}

int ep_journal_load(const char *root, struct ep_plan **ret, struct ep_error *err)
{
	_cleanup_free_ char *text = NULL, *real = ep_pfs_real(root, EP_JOURNAL_FILE);
	size_t len = 0;
	struct ep_error rerr = { 0 };
	int r = ep_pfs_read(root, EP_JOURNAL_FILE, EP_JOURNAL_MAX, &text, &len, &rerr);
	if (r == -ENOENT)
		return ep_error_set(err, -ENOENT, "no journal at '%s'",
				    real ? real : EP_JOURNAL_FILE);
	if (r < 0)
		return journal_bad(real ? real : EP_JOURNAL_FILE, err, "%s", rerr.msg);
	return journal_parse(text, len, real ? real : EP_JOURNAL_FILE, ret, err);
}

bool ep_journal_rolling_back(const struct ep_plan *plan)
{
	return plan->status == RUN_ROLLING_BACK;
}

bool ep_journal_can_rollback(const struct ep_plan *plan)
{
	if (plan->status == RUN_COMMITTING)
		return false;
	for (size_t i = 0; i < plan->n; i++) {
		const struct ep_action *a = &plan->v[i];
		if (a->type->reversible)
			continue;
		if (a->state == EP_ACTION_DONE)
			return false;
		bool unknown = a->state == EP_ACTION_RUNNING || a->state == EP_ACTION_FAILED;
		if (unknown && !a->type->undo)
			return false;
	}
	return true;
}

/* The first action whose undo was left for later (EP_UNDO_DEFERRED); SIZE_MAX if none. */
static size_t partly_undone(const struct ep_plan *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		if (plan->v[i].deferred)
			return i;
	return SIZE_MAX;
}

bool ep_journal_can_resume(const struct ep_plan *plan)
{
	return partly_undone(plan) == SIZE_MAX;
}

/* ---- running ----------------------------------------------------------------- */

struct run {
	struct ep_plan *plan;
	struct ep_apply_ctx *ctx;
	const struct ep_plan_observer *obs;
	void *saved_engine;
	bool journal; /* kept on disk */
	int lock_fd;
	size_t cur;
	unsigned writes;
};



static struct run *run_of(const struct ep_apply_ctx *ctx)
{
	return ctx ? ctx->engine : NULL;
}

uint64_t ep_undo_deadline(const struct ep_apply_ctx *ctx, uint64_t budget_ms)
{
	uint64_t now = ep_now_ms(), d = now + budget_ms;
	if (ctx && ctx->undo_deadline_ms && ctx->undo_deadline_ms < d)
		d = ctx->undo_deadline_ms;
	return d < now + EP_UNDO_MIN_MS ? now + EP_UNDO_MIN_MS : d;
}

void ep_apply_log(const struct ep_apply_ctx *ctx, const char *fmt, ...)
{
	if (!ctx || !ctx->log)
		return;
	struct ep_strbuf sb = EP_STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	ep_strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	if (!ep_strbuf_oom(&sb))
		ctx->log(ctx->userdata, ep_strbuf_str(&sb));
	ep_strbuf_release(&sb);
}

const json_t *ep_apply_prior_undo(const struct ep_apply_ctx *ctx, const char *type)
{
	struct run *run = run_of(ctx);
	if (!run || !type)
		return NULL;
	for (size_t i = run->cur; i-- > 0;) {
		const struct ep_action *a = &run->plan->v[i];
		if (a->state == EP_ACTION_DONE && !strcmp(a->type->name, type))
			return a->undo;
	}
	return NULL;
}

const char *ep_apply_run_id(const struct ep_apply_ctx *ctx)
{
	struct run *run = run_of(ctx);
	return run ? run->plan->id : "";
}

size_t ep_apply_index(const struct ep_apply_ctx *ctx)
{
	struct run *run = run_of(ctx);
	return run ? run->cur : 0;
}

char *ep_apply_data_dir(const struct ep_apply_ctx *ctx)
{
	char *out = NULL;
	if (asprintf(&out, "%s/%s", EP_JOURNAL_DATA, ep_apply_run_id(ctx)) < 0)
		return NULL;
	return out;
}

/* "[phase] description" of action @i (heap; NULL on ENOMEM). */
static char *action_label(const struct ep_plan *plan, size_t i)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_strbuf_addf(&sb, "[%s] ", plan->v[i].phase);
	plan->v[i].type->describe(plan->v[i].params, &sb);
	return ep_strbuf_detach(&sb, NULL);
}

static void log_action(const struct run *run, const char *prefix, size_t i, const char *what)
{
	/* an observer that announces actions says it its own way */
	if (!run->ctx->log || (run->obs && run->obs->action_start))
		return;
	const struct ep_action *a = &run->plan->v[i];
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_strbuf_addf(&sb, "%s[%s] ", prefix, a->phase);
	struct ep_strbuf desc = EP_STRBUF_INIT;
	a->type->describe(a->params, &desc);
	add_capitalized(&sb, ep_strbuf_str(&desc));
	ep_strbuf_addf(&sb, ": %s", what);
	if (!ep_strbuf_oom(&sb) && !ep_strbuf_oom(&desc))
		run->ctx->log(run->ctx->userdata, ep_strbuf_str(&sb));
	ep_strbuf_release(&desc);
	ep_strbuf_release(&sb);
}

/* What to run to end an interrupted run, for messages (heap; NULL on ENOMEM). */
static char *journal_hint(const struct ep_plan *plan)
{
	_cleanup_free_ char *cmd = ep_escape(plan->command);
	char *out = NULL;
	if (!cmd)
		return NULL;
	int n;
	if (!ep_journal_can_resume(plan))
		n = asprintf(&out, "run 'etcdpilot %s --rollback' to finish undoing it", cmd);
	else if (ep_journal_can_rollback(plan))
		n = asprintf(&out,
			     "run 'etcdpilot %s --resume' to finish it or 'etcdpilot %s "
			     "--rollback' to undo it",
			     cmd, cmd);
	else
		n = asprintf(&out,
			     "run 'etcdpilot %s --resume' to finish it (it can no longer be "
			     "undone)",
			     cmd);
	return n < 0 ? NULL : out;
}

static void error_append_kept(struct ep_error *err, const struct run *run)
{
	_cleanup_free_ char *hint = journal_hint(run->plan);
	_cleanup_free_ char *real = ep_pfs_real(run->ctx->root, EP_JOURNAL_FILE);
	ep_error_append(err, "; the journal '%s' is kept: %s", real ? real : EP_JOURNAL_FILE,
		     hint ? hint : "see etcdpilot(8)");
}

static int journal_write(struct run *run, struct ep_error *err)
{
	if (!run->journal)
		return 0;
	_cleanup_(json_decrefp) json_t *doc = journal_json(run->plan);
	_cleanup_free_ char *text =
		doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (!text)
		return ep_error_set(err, -ENOMEM, "writing the journal: out of memory");
	int r = ep_pfs_write(run->ctx->root, EP_JOURNAL_FILE, text, strlen(text), 0600, false,
			     err);
	if (r < 0)
		return ep_error_prefix(err, "writing the journal");
	run->writes++;
	if (run->obs && run->obs->journal_synced)
		run->obs->journal_synced(run->obs->userdata, run->plan, run->writes);
	return 0;
}

int ep_apply_checkpoint(struct ep_apply_ctx *ctx, struct ep_error *err)
{
	struct run *run = run_of(ctx);
	return run ? journal_write(run, err) : 0;
}

static void run_begin(struct run *run, struct ep_plan *plan, struct ep_apply_ctx *ctx,
		      const struct ep_plan_observer *obs, bool journal)
{
	*run = (struct run){
		.plan = plan,
		.ctx = ctx,
		.obs = obs,
		.saved_engine = ctx->engine,
		.journal = journal,
		.lock_fd = -1,
	};
	ctx->engine = run;
}

static void run_end(struct run *run)
{
	if (run->lock_fd >= 0)
		close(run->lock_fd);
	run->lock_fd = -1;
	run->ctx->engine = run->saved_engine;
}

/* Create the journal directory (0700; its parents 0755) if it is not there. */
static int make_journal_dir(const char *root, struct ep_error *err)
{
	struct stat st;
	if (ep_pfs_stat(root, EP_JOURNAL_DIR, true, &st) == 0)
		return 0;
	_cleanup_free_ char *parent = ep_path_dirname(EP_JOURNAL_DIR);
	if (!parent)
		return ep_error_set(err, -ENOMEM, "out of memory");
	int r = ep_pfs_mkdir_p(root, parent, 0755, err);
	if (r >= 0) {
		r = ep_pfs_mkdir(root, EP_JOURNAL_DIR, 0700, err);
		if (r == -EEXIST)
			r = 0;
	}
	return r < 0 ? ep_error_prefix(err, "creating the journal directory") : 0;
}

int ep_apply_data_dir_create(const struct ep_apply_ctx *ctx, struct ep_error *err)
{
	_cleanup_free_ char *data = ep_apply_data_dir(ctx);
	if (!data)
		return ep_error_set(err, -ENOMEM, "out of memory");
	int r = make_journal_dir(ctx->root, err);
	return r < 0 ? r : ep_pfs_mkdir_p(ctx->root, data, 0700, err);
}

/* Create the journal directory if needed and lock it for this run. */
static int run_lock(struct run *run, struct ep_error *err)
{
	const char *root = run->ctx->root;
	struct stat st;
	if (!run->plan->loaded)
		for (int i = 0; i < 3; i++)
			if (ep_pfs_stat(root, journal_dirs[i], false, &st) < 0)
				run->plan->made_dirs |= 1u << i;
	/*
	 * The run we waited for may end by removing the journal directory
	 * (when it made it): then there is nothing to wait for any more - make
	 * it again and lock that.
	 */
	int r = -ENOENT;
	for (int tries = 0; r == -ENOENT && tries < 3; tries++) {
		struct ep_error lerr = { 0 };
		r = make_journal_dir(root, &lerr);
		if (r >= 0)
			r = ep_pfs_lock(root, EP_JOURNAL_DIR, EP_JOURNAL_LOCK_TIMEOUT_MS,
					&run->lock_fd, &lerr);
		if (r < 0 && (r != -ENOENT || tries == 2) && err)
			*err = lerr;
	}
	/* A run killed while it rewrote the journal left a temp file beside it. */
	if (r >= 0)
		r = ep_pfs_sweep(root, EP_JOURNAL_FILE, err);
	return r < 0 ? r : 0;
}

/* Under the lock: remove the journal and this run's data (the run is over). */
static int journal_remove(struct run *run, struct ep_error *err)
{
	const char *root = run->ctx->root;
	_cleanup_free_ char *data = ep_apply_data_dir(run->ctx);
	if (!data)
		return ep_error_set(err, -ENOMEM, "out of memory");
	int r = ep_pfs_remove_tree(root, data, err);
	if (r < 0)
		return r;
	(void)ep_pfs_rmdir(root, EP_JOURNAL_DATA); /* only when no other run's data is left */
	if (!run->journal)
		return 0;
	r = ep_pfs_unlink(root, EP_JOURNAL_FILE, err);
	if (r < 0 && r != -ENOENT)
		return r;
	/* the node as it was: the directories this run made, when nothing else is in them */
	for (int i = 2; i >= 0; i--)
		if (run->plan->made_dirs & (1u << i))
			(void)ep_pfs_rmdir(root, journal_dirs[i]);
	return 0;
}

/*
 * Run every action that is not done or skipped, in order.  On failure
 * *@ret_failed is the action's index and @err says "[phase] desc: cause".
 */
static int forward(struct run *run, size_t *ret_failed, struct ep_error *err)
{
	struct ep_plan *plan = run->plan;
	const struct ep_plan_observer *obs = run->obs;
	for (size_t i = 0; i < plan->n; i++) {
		struct ep_action *a = &plan->v[i];
		if (a->state == EP_ACTION_DONE || a->state == EP_ACTION_SKIPPED)
			continue;
		*ret_failed = i;
		run->cur = i;
		if (a->state == EP_ACTION_UNDONE || a->state == EP_ACTION_PENDING) {
			/* A fresh start: what an undone attempt recorded no longer holds. */
			json_object_clear(a->undo);
		}
		a->state = EP_ACTION_RUNNING;
		int r = journal_write(run, err);
		if (r < 0)
			return r;
		if (obs && obs->action_start)
			obs->action_start(obs->userdata, plan, i);
		struct ep_error aerr = { 0 };
		r = a->type->apply(run->ctx, a->params, a->undo, &aerr);
		if (r < 0) {
			a->state = EP_ACTION_FAILED;
			(void)journal_write(run, NULL);
			if (obs && obs->action_end)
				obs->action_end(obs->userdata, plan, i, r);
			_cleanup_free_ char *label = action_label(plan, i);
			if (!ep_error_isset(&aerr))
				ep_error_set(&aerr, r, "%s", strerror(-r));
			if (err && !ep_error_isset(err)) {
				*err = aerr;
				ep_error_prefix(err, "%s", label ? label : a->phase);
			}
			return r;
		}
		bool skipped = r == EP_APPLY_SKIPPED && json_object_size(a->undo) == 0;
		a->state = skipped ? EP_ACTION_SKIPPED : EP_ACTION_DONE;
		log_action(run, "", i, skipped ? "nothing to do" : "done");
		r = journal_write(run, err);
		if (obs && obs->action_end)
			obs->action_end(obs->userdata, plan, i, r);
		if (r < 0)
			return r;
	}
	return 0;
}

static int undo_one(struct run *run, size_t j, struct ep_error *err)
{
	struct ep_plan *plan = run->plan;
	struct ep_action *a = &plan->v[j];
	const struct ep_plan_observer *obs = run->obs;
	run->cur = j;
	if (obs && obs->undo_start)
		obs->undo_start(obs->userdata, plan, j);
	struct ep_error uerr = { 0 };
	int r = a->type->undo ? a->type->undo(run->ctx, a->params, a->undo, &uerr) : 0;
	if (r == EP_UNDO_DEFERRED && a->type->remote) {
		/* left as it stands, for a later rollback; the caller goes on */
		a->deferred = true;
		if (obs && obs->undo_end)
			obs->undo_end(obs->userdata, plan, j, r);
		log_action(run, "[rollback] ", j, "left for later (the cluster cannot be reached)");
		if (!ep_error_isset(&uerr))
			ep_error_set(&uerr, -EAGAIN, "the cluster cannot be reached");
		if (err)
			*err = uerr;
		(void)journal_write(run, NULL);
		return EP_UNDO_DEFERRED;
	}
	if (r > 0)
		r = ep_error_set(&uerr, -EINVAL, "its undo answered %d", r);
	if (r < 0) {
		if (obs && obs->undo_end)
			obs->undo_end(obs->userdata, plan, j, r);
		_cleanup_free_ char *label = action_label(plan, j);
		if (!ep_error_isset(&uerr))
			ep_error_set(&uerr, r, "%s", strerror(-r));
		return ep_error_set(err, r, "undoing '%s': %s", label ? label : a->phase, uerr.msg);
	}
	a->state = EP_ACTION_UNDONE;
	a->deferred = false;
	json_object_clear(a->undo);
	log_action(run, "[rollback] ", j, "undone");
	r = journal_write(run, err);
	if (obs && obs->undo_end)
		obs->undo_end(obs->userdata, plan, j, r);
	return r;
}

/*
 * Undo every done, running or failed action in reverse (undo_last ones
 * after the others, in plan order), stopping before an irreversible one
 * that took (or may have taken) effect.  0, or -errno with @err.
 */
static int backward(struct run *run, struct ep_error *err)
{
	struct ep_plan *plan = run->plan;
	plan->status = RUN_ROLLING_BACK;
	int r = journal_write(run, err);
	if (r < 0)
		return r;
	_cleanup_free_ size_t *deferred = calloc(plan->n + 1, sizeof(*deferred));
	if (!deferred)
		return ep_error_set(err, -ENOMEM, "out of memory");
	size_t nd = 0, stop = 0, deferred_at = SIZE_MAX, kept = SIZE_MAX;
	/* the first applied remote action: what comes before it reaches the cluster */
	size_t first_remote = SIZE_MAX;
	for (size_t i = 0; i < plan->n && first_remote == SIZE_MAX; i++)
		if (plan->v[i].type->remote &&
		    (plan->v[i].state == EP_ACTION_DONE || plan->v[i].state == EP_ACTION_RUNNING ||
		     plan->v[i].state == EP_ACTION_FAILED))
			first_remote = i;
	bool stopped = false;
	struct ep_error derr = { 0 };
	for (size_t j = plan->n; j-- > 0;) {
		struct ep_action *a = &plan->v[j];
		if (a->state != EP_ACTION_DONE && a->state != EP_ACTION_RUNNING &&
		    a->state != EP_ACTION_FAILED)
			continue;
		if (deferred_at != SIZE_MAX && (a->type->remote || j < first_remote)) {
			/*
			 * It needs the cluster too, or it comes before the first action
			 * that does (this node's certificates): a later rollback needs
			 * them to reach the cluster.
			 */
			kept = j;
			break;
		}
		if (!a->type->reversible && (a->state == EP_ACTION_DONE || !a->type->undo)) {
			stopped = true;
			stop = j;
			break;
		}
		if (a->type->undo_last && a->type->reversible) {
			deferred[nd++] = j;
			continue;
		}
		struct ep_error uerr = { 0 };
		r = undo_one(run, j, &uerr);
		if (r == EP_UNDO_DEFERRED) {
			if (deferred_at == SIZE_MAX) {
				deferred_at = j;
				derr = uerr;
			}
		} else if (r < 0) {
			if (err)
				*err = uerr;
			goto failed;
		}
	}
	for (size_t k = nd; k-- > 0;) {
		struct ep_error uerr = { 0 };
		r = undo_one(run, deferred[k], &uerr);
		if (r == EP_UNDO_DEFERRED && deferred_at == SIZE_MAX) {
			deferred_at = deferred[k];
			derr = uerr;
		} else if (r < 0 && r != EP_UNDO_DEFERRED) {
			if (err)
				*err = uerr;
			goto failed;
		}
	}
	if (deferred_at != SIZE_MAX) {
		_cleanup_free_ char *label = action_label(plan, deferred_at);
		_cleanup_free_ char *rest = kept != SIZE_MAX ? action_label(plan, kept) : NULL;
		ep_error_set(err, -EAGAIN, "'%s' is left for later: %s; this node's own changes "
					   "were undone all the same",
			     label ? label : plan->v[deferred_at].phase, derr.msg);
		if (kept != SIZE_MAX)
			ep_error_append(err, ", but not '%s' and what comes before it, kept until then "
					  "(they reach the cluster)",
				     rest ? rest : plan->v[kept].phase);
		return -EAGAIN;
	}
	if (stopped) {
		_cleanup_free_ char *label = action_label(plan, stop);
		bool done = plan->v[stop].state == EP_ACTION_DONE;
		return ep_error_set(err, -EPERM,
				    "'%s' %s and cannot be undone, so the rollback stopped there "
				    "(what came after it was undone)",
				    label ? label : plan->v[stop].phase,
				    done ? "was done" : "may have taken effect (the run stopped "
							"while it ran)");
	}
	return 0;
failed:
	/* an undo failed after one was left for later: both are said */
	if (deferred_at != SIZE_MAX) {
		_cleanup_free_ char *label = action_label(plan, deferred_at);
		ep_error_append(err, "; and '%s' was left for later: %s",
			     label ? label : plan->v[deferred_at].phase, derr.msg);
	}
	return r;
}

/* Everything succeeded: commit each done action, then remove the journal. */
static int commit(struct run *run, struct ep_error *err)
{
	struct ep_plan *plan = run->plan;
	plan->status = RUN_COMMITTING;
	int r = journal_write(run, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < plan->n; i++) {
		struct ep_action *a = &plan->v[i];
		if (a->state != EP_ACTION_DONE || !a->type->commit)
			continue;
		run->cur = i;
		struct ep_error cerr = { 0 };
		r = a->type->commit(run->ctx, a->params, a->undo, &cerr);
		if (r < 0) {
			_cleanup_free_ char *label = action_label(plan, i);
			if (!ep_error_isset(&cerr))
				ep_error_set(&cerr, r, "%s", strerror(-r));
			ep_error_set(err, r, "every action succeeded, but cleaning up after '%s' "
					     "failed: %s", label ? label : a->phase, cerr.msg);
			if (run->journal)
				error_append_kept(err, run);
			return r;
		}
	}
	r = journal_remove(run, err);
	if (r < 0)
		return ep_error_prefix(err, "every action succeeded, but removing the journal "
					    "failed");
	return 0;
}

/* After a failed action (@aerr): roll back unless told not to; @err gets the whole story. */
static int fail(struct run *run, unsigned flags, int code, const struct ep_error *aerr,
		struct ep_error *err)
{
	if (err && !ep_error_isset(err))
		*err = *aerr;
	if (flags & EP_APPLY_NO_ROLLBACK) {
		ep_error_append(err, "; nothing was undone (no rollback was asked for)");
		if (run->journal)
			error_append_kept(err, run);
		return code;
	}
	struct ep_error rerr = { 0 };
	int r = backward(run, &rerr);
	if (r >= 0)
		r = journal_remove(run, &rerr);
	if (r >= 0) {
		ep_error_append(err, "; what this run had changed was undone");
		return code;
	}
	ep_error_append(err, "; the rollback did not finish: %s", rerr.msg);
	if (run->journal)
		error_append_kept(err, run);
	return code;
}

/* Run the plan from where it stands to its end (or its failure), then commit. */
static int drive(struct run *run, unsigned flags, struct ep_error *err)
{
	struct ep_plan *plan = run->plan;
	if (plan->status != RUN_COMMITTING) {
		plan->status = RUN_APPLYING;
		int r = journal_write(run, err);
		if (r < 0)
			return r;
		size_t failed = 0;
		struct ep_error aerr = { 0 };
		r = forward(run, &failed, &aerr);
		if (r < 0)
			return fail(run, flags, r, &aerr, err);
	}
	return commit(run, err);
}

static void new_run_identity(struct ep_plan *plan)
{
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	snprintf(plan->id, sizeof(plan->id), "%016llx", (unsigned long long)rnd);
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(plan->started, sizeof(plan->started), "%Y-%m-%dT%H:%M:%SZ", &tm);
	plan->pid = (long long)getpid();
	plan->status = RUN_APPLYING;
}

/* Under the lock, with a journal on disk that this run did not write: refuse. */
static int refuse_other(const struct run *run, struct ep_error *err)
{
	struct ep_plan *other = NULL;
	struct ep_error lerr = { 0 };
	int r = ep_journal_load(run->ctx->root, &other, &lerr);
	if (r < 0) {
		if (err && !ep_error_isset(err)) {
			*err = lerr;
			err->code = -EBUSY;
		}
		return -EBUSY;
	}
	_cleanup_free_ char *real = ep_pfs_real(run->ctx->root, EP_JOURNAL_FILE);
	_cleanup_free_ char *hint = journal_hint(other);
	_cleanup_free_ char *cmd = ep_escape(other->command);
	_cleanup_free_ char *started = ep_escape(other->started);
	r = ep_error_usage(err, -EBUSY,
			   "an interrupted 'etcdpilot %s' (started %s, pid %lld) left its journal "
			   "'%s'; nothing was changed: %s",
			   cmd ? cmd : "?", started ? started : "?", other->pid,
			   real ? real : EP_JOURNAL_FILE, hint ? hint : "see etcdpilot(8)");
	ep_plan_free(other);
	return r;
}

int ep_plan_apply(struct ep_plan *plan, struct ep_apply_ctx *ctx, unsigned flags,
		  const struct ep_plan_observer *obs, struct ep_error *err)
{
	if (plan->loaded)
		return ep_error_set(err, -EINVAL,
				    "a plan loaded from a journal is resumed or rolled back, not "
				    "applied again");
	bool journal = !(flags & EP_APPLY_NO_JOURNAL);
	new_run_identity(plan);
	for (size_t i = 0; i < plan->n; i++) {
		plan->v[i].state = EP_ACTION_PENDING;
		json_object_clear(plan->v[i].undo);
	}
	struct run run;
	run_begin(&run, plan, ctx, obs, journal);
	int r = 0;
	if (journal) {
		r = run_lock(&run, err);
		struct stat st;
		if (r >= 0 && ep_pfs_stat(ctx->root, EP_JOURNAL_FILE, false, &st) == 0)
			r = refuse_other(&run, err);
	}
	if (r >= 0)
		r = drive(&run, flags, err);
	run_end(&run);
	return r;
}

/* Lock, then take the journal on disk as the truth (it must still be @plan's run). */
static int reload_locked(struct run *run, struct ep_error *err)
{
	int r = run_lock(run, err);
	if (r < 0)
		return r;
	struct ep_plan *disk = NULL;
	r = ep_journal_load(run->ctx->root, &disk, err);
	if (r == -ENOENT) {
		ep_error_clear(err);
		return ep_error_usage(err, -ESTALE,
				      "the journal of this '%s' run is gone: another etcdpilot "
				      "finished or undid it; nothing was changed",
				      run->plan->command);
	}
	if (r < 0)
		return r;
	if (strcmp(disk->id, run->plan->id) != 0) {
		ep_plan_free(disk);
		return ep_error_usage(err, -ESTALE,
				      "the journal changed since it was read (another etcdpilot "
				      "ran meanwhile); nothing was changed: look at it again");
	}
	struct ep_plan tmp = *run->plan;
	*run->plan = *disk;
	*disk = tmp;
	ep_plan_free(disk);
	return 0;
}

int ep_journal_resume(struct ep_plan *plan, struct ep_apply_ctx *ctx, unsigned flags,
		      const struct ep_plan_observer *obs, struct ep_error *err)
{
	if (!plan->loaded)
		return ep_error_set(err, -EINVAL, "only a plan loaded from a journal is resumed");
	struct run run;
	run_begin(&run, plan, ctx, obs, true);
	int r = reload_locked(&run, err);
	size_t left = r >= 0 ? partly_undone(plan) : SIZE_MAX;
	if (left != SIZE_MAX) {
		_cleanup_free_ char *cmd = ep_escape(plan->command);
		_cleanup_free_ char *label = action_label(plan, left);
		r = ep_error_usage(err, -EPERM,
				   "the interrupted '%s' was partly undone: '%s' was left for "
				   "later (the cluster could not be reached) while this node's own "
				   "changes were undone, and applying it again would restart that "
				   "on top of what is left; nothing was changed: run 'etcdpilot %s "
				   "--rollback' to finish undoing it",
				   cmd ? cmd : "?", label ? label : plan->v[left].phase,
				   cmd ? cmd : "?");
	}
	if (r >= 0)
		r = drive(&run, flags & ~(unsigned)EP_APPLY_NO_JOURNAL, err);
	run_end(&run);
	return r;
}

int ep_journal_rollback(struct ep_plan *plan, struct ep_apply_ctx *ctx,
			const struct ep_plan_observer *obs, struct ep_error *err)
{
	if (!plan->loaded)
		return ep_error_set(err, -EINVAL,
				    "only a plan loaded from a journal is rolled back");
	struct run run;
	run_begin(&run, plan, ctx, obs, true);
	int r = reload_locked(&run, err);
	if (r >= 0 && plan->status == RUN_COMMITTING) {
		_cleanup_free_ char *cmd = ep_escape(plan->command);
		r = ep_error_usage(err, -EPERM,
				   "the '%s' run had completed and was only cleaning up: it cannot "
				   "be undone; run 'etcdpilot %s --resume' to finish it",
				   cmd ? cmd : "?", cmd ? cmd : "?");
	} else if (r >= 0) {
		r = backward(&run, err);
		if (r >= 0)
			r = journal_remove(&run, err);
		if (r < 0)
			error_append_kept(err, &run);
	}
	run_end(&run);
	return r;
}
