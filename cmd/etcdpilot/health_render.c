/*
 * health_render.c - the text rendering of the `health` document
 * (health.c builds it from the library's report): the table, one row a
 * member, then each member's trouble, the list errors, the summary and the
 * alarms.  It only prints what the document holds, escaping everything that
 * came from the cluster; it must not probe, decide health or pick an exit
 * code.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "health_cli.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/* ------------------------------------------------------------------------ */
/* Text rendering of the JSON document                                       */

/*
 * Everything printed below that came from the cluster - names, URLs,
 * versions, errors quoting a member - goes through ep_escape(): a member
 * named "\e[2J..." or a URL holding "\r\n" must not clear the screen or
 * fake a line of the table.
 */

#define COLS 12

static const char *const headers[COLS] = {
	"ENDPOINT", "NAME", "ID", "HEALTH", "ROLE", "VERSION",
	"TERM", "INDEX", "LAG", "DB SIZE", "IN USE", "TOOK",
};

static const char *jstr(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

static uint64_t jnum(const json_t *o, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(o, k));
}

static bool jtrue(const json_t *o, const char *k)
{
	return json_is_true(json_object_get(o, k));
}

/* An escaped copy of @s for the terminal (NULL on ENOMEM). */
static char *esc(const char *s)
{
	return ep_escape(s);
}

static char *fmt_u64(uint64_t v)
{
	char *s = NULL;
	return asprintf(&s, "%" PRIu64, v) < 0 ? NULL : s;
}

/* The table, one row a member. */
static int print_table(const json_t *members)
{
	size_t n = json_array_size(members);
	char *(*cells)[COLS] = calloc(n ? n : 1, sizeof(*cells));
	size_t width[COLS];
	int r = 0;

	if (!cells)
		return -ENOMEM;
	for (size_t c = 0; c < COLS; c++)
		width[c] = strlen(headers[c]);
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(members, i);
		bool status = json_is_string(json_object_get(m, "version"));
		char **row = cells[i];
		char buf[64];
		row[0] = esc(jstr(m, "endpoint", "-"));
		row[1] = esc(jstr(m, "name", "-"));
		row[2] = esc(jstr(m, "id", "-"));
		row[3] = strdup(jtrue(m, "healthy")	    ? "healthy"
				: jtrue(m, "pending_learner") ? "not started"
							      : "UNHEALTHY");
		row[4] = strdup(jtrue(m, "is_learner")  ? "learner"
				: jtrue(m, "is_leader") ? "leader"
				: status		? "follower"
							: "voter");
		row[5] = esc(jstr(m, "version", "-"));
		if (status) {
			row[6] = fmt_u64(jnum(m, "raft_term"));
			row[7] = fmt_u64(jnum(m, "raft_index"));
			row[8] = fmt_u64(jnum(m, "raft_lag"));
			row[9] = strdup(cli_bytes(jnum(m, "db_size"), buf, sizeof(buf)));
			row[10] = strdup(cli_bytes(jnum(m, "db_size_in_use"), buf, sizeof(buf)));
		} else {
			for (size_t c = 6; c <= 10; c++)
				row[c] = strdup("-");
		}
		snprintf(buf, sizeof(buf), "%" PRIu64 "ms", jnum(m, "took_ms"));
		row[11] = strdup(buf);
		for (size_t c = 0; c < COLS; c++) {
			if (!row[c]) {
				r = -ENOMEM;
				goto out;
			}
			if (strlen(row[c]) > width[c])
				width[c] = strlen(row[c]);
		}
	}
	for (size_t c = 0; c < COLS; c++)
		printf("%-*s%s", c + 1 < COLS ? (int)width[c] : 0, headers[c],
		       c + 1 < COLS ? "  " : "\n");
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < COLS; c++)
			printf("%-*s%s", c + 1 < COLS ? (int)width[c] : 0, cells[i][c],
			       c + 1 < COLS ? "  " : "\n");
out:
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < COLS; c++)
			free(cells[i][c]);
	free(cells);
	return r;
}

/* Under the table: each member's trouble, the list errors, the summary, the alarms. */
static int print_notes(const json_t *doc)
{
	const json_t *members = json_object_get(doc, "members");
	size_t n = json_array_size(members);
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(members, i);
		const char *e = jstr(m, "error", NULL);
		if (!e)
			continue;
		_cleanup_free_ char *name = esc(jstr(m, "name", jtrue(m, "is_learner") ? "learner"
											: "unstarted"));
		_cleanup_free_ char *why = esc(e);
		if (!name || !why)
			return -ENOMEM;
		printf("%s (%s): %s\n", name, jstr(m, "id", "-"), why);
	}
	const json_t *s = json_object_get(doc, "summary");
	const json_t *le = json_object_get(s, "list_errors");
	for (size_t i = 0; i < json_array_size(le); i++) {
		_cleanup_free_ char *why = esc(json_string_value(json_array_get(le, i)));
		if (!why)
			return -ENOMEM;
		printf("member list: %s\n", why);
	}

	const char *leader = jstr(s, "leader", NULL);
	const char *leader_name = NULL;
	for (size_t i = 0; leader && i < n; i++) {
		const json_t *m = json_array_get(members, i);
		if (!strcmp(jstr(m, "id", ""), leader))
			leader_name = jstr(m, "name", NULL);
	}
	_cleanup_free_ char *lname = esc(leader_name ? leader_name : "?");
	_cleanup_free_ char *qwhy = esc(jstr(s, "quorum_reason", "?"));
	if (!lname || !qwhy)
		return -ENOMEM;
	printf("cluster %s is %s: %" PRIu64 " of %" PRIu64 " members healthy",
	       jstr(doc, "cluster_id", "-"), jtrue(s, "healthy_cluster") ? "healthy" : "UNHEALTHY",
	       jnum(s, "healthy"), jnum(s, "members"));
	if (jnum(s, "pending_learners"))
		printf(" (and %" PRIu64 " learner%s not started yet)", jnum(s, "pending_learners"),
		       jnum(s, "pending_learners") == 1 ? "" : "s");
	if (leader)
		printf(", leader %s (%s)", lname, leader);
	else
		printf(", NO LEADER");
	printf(", %" PRIu64 " of %" PRIu64 " voters reachable from here", jnum(s, "started_voters"),
	       jnum(s, "voters"));
	const char *q = jstr(s, "quorum_state", "unknown");
	printf("; %s: %s (quorum %" PRIu64 " of %" PRIu64 " voters)\n",
	       !strcmp(q, "held")   ? "quorum held"
	       : !strcmp(q, "lost") ? "QUORUM LOST"
				    : "quorum unknown",
	       qwhy, jnum(s, "quorum"), jnum(s, "voters"));

	const json_t *alarms = json_object_get(s, "alarms");
	for (size_t k = 0; k < json_array_size(alarms); k++) {
		const json_t *a = json_array_get(alarms, k);
		_cleanup_free_ char *who = esc(jstr(a, "member_name", "an unstarted member"));
		if (!who)
			return -ENOMEM;
		printf("alarm %s on %s (%s): %s:\n", jstr(a, "alarm", "?"), who,
		       jstr(a, "member_id", "?"), jstr(a, "meaning", ""));
		/* the remedy, one command a line, each escaped */
		for (const char *line = jstr(a, "remedy", ""); *line;) {
			size_t l = strcspn(line, "\n");
			_cleanup_free_ char *part = strndup(line, l);
			_cleanup_free_ char *e = part ? esc(part) : NULL;
			if (!e)
				return -ENOMEM;
			printf("  %s\n", e);
			line += l + (line[l] == '\n');
		}
	}
	return 0;
}

int health_print_text(const json_t *doc)
{
	int r = print_table(json_object_get(doc, "members"));
	return r < 0 ? r : print_notes(doc);
}
