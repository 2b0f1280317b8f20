/*
 * member_list.c - etcdpilot member list: ask every endpoint at once, take
 * the first answer, and print etcdctl's table or one JSON document (each
 * member as member.c's member_json() makes it).  It changes nothing in the
 * cluster and must not pick an exit code beyond returning the error.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_client.h"
#include "member_cli.h"
#include "etcdpilot/client.h"
#include "etcdpilot/membership.h"
#include "util/cleanup.h"
#include "util/strbuf.h"

/* The strings of @a joined by commas, escaped for the terminal; heap, NULL on ENOMEM. */
static char *join_strv(const json_t *a)
{
	struct ep_strbuf sb = EP_STRBUF_INIT;
	ep_strbuf_adds(&sb, "");
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *v = json_string_value(json_array_get(a, i));
		if (i)
			ep_strbuf_addch(&sb, ',');
		if (v)
			ep_strbuf_add_escaped(&sb, v, strlen(v));
	}
	return ep_strbuf_detach(&sb, NULL);
}

/*
 * The table etcdctl prints with -w table, from the JSON members array.
 * Names and URLs come from the cluster: control characters are escaped, so
 * that no member can draw a line of the table itself.
 */
static int print_members(const json_t *members)
{
	static const char *const headers[6] = { "ID",	      "STATUS",	      "NAME",
						"PEER ADDRS", "CLIENT ADDRS", "IS LEARNER" };
	size_t n = json_array_size(members);
	char *(*cells)[6] = calloc(n ? n : 1, sizeof(*cells));
	size_t width[6];
	int r = 0;
	if (!cells)
		return -ENOMEM;
	for (size_t c = 0; c < 6; c++)
		width[c] = strlen(headers[c]);
	for (size_t i = 0; i < n; i++) {
		const json_t *m = json_array_get(members, i);
		const char *name = json_string_value(json_object_get(m, "name"));
		cells[i][0] = ep_escape(json_string_value(json_object_get(m, "id")));
		cells[i][1] = ep_escape(json_string_value(json_object_get(m, "status")));
		cells[i][2] = ep_escape(name ? name : "");
		cells[i][3] = join_strv(json_object_get(m, "peer_urls"));
		cells[i][4] = join_strv(json_object_get(m, "client_urls"));
		cells[i][5] = strdup(json_is_true(json_object_get(m, "is_learner")) ? "true" : "false");
		for (size_t c = 0; c < 6; c++) {
			if (!cells[i][c]) {
				r = -ENOMEM;
				goto out;
			}
			if (strlen(cells[i][c]) > width[c])
				width[c] = strlen(cells[i][c]);
		}
	}
	for (size_t c = 0; c < 6; c++)
		printf("%-*s%s", c < 5 ? (int)width[c] : 0, headers[c], c < 5 ? "  " : "\n");
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < 6; c++)
			printf("%-*s%s", c < 5 ? (int)width[c] : 0, cells[i][c], c < 5 ? "  " : "\n");
out:
	for (size_t i = 0; i < n; i++)
		for (size_t c = 0; c < 6; c++)
			free(cells[i][c]);
	free(cells);
	return r;
}

static int member_list_run(struct cli_ctx *ctx, struct ep_error *err)
{
	struct cli_client cc = { 0 };
	struct ep_member_list ml = { 0 };
	char hex[17], hex2[17];

	int r = cli_client_open(ctx, MEMBER_DEFAULT_TIMEOUT_MS, &cc, err);
	if (r >= 0)
		r = ep_member_list_any(cc.client, (const char *const *)cc.cfg.endpoints.v,
				       cc.cfg.endpoints.n, &ml, err);
	cli_client_release(&cc);
	if (r < 0)
		return r;
	json_t *members = json_array();
	for (size_t i = 0; i < ml.n; i++)
		json_array_append_new(members, member_json(&ml.v[i]));
	json_t *doc = json_pack("{s:{s:s s:s s:I} s:o}", "header", "cluster_id",
				ep_member_id_hex(ml.cluster_id, hex), "member_id",
				ep_member_id_hex(ml.member_id, hex2), "raft_term",
				(json_int_t)ml.raft_term, "members", members);
	ep_member_list_release(&ml);
	if (!doc)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (cli_json(ctx)) {
		cli_print_doc("MemberList", doc);
	} else {
		r = print_members(json_object_get(doc, "members"));
		json_decref(doc);
		if (r < 0)
			return ep_error_set(err, r, "out of memory");
	}
	return 0;
}

const struct cli_command cmd_member_list = {
	.name = "member list",
	.run = member_list_run,
	.groups = CLI_NODE | CLI_CLIENT,
	.args = NULL,
	.summary = "list the cluster's members",
	.help = "List the members as etcdctl does (ID, STATUS, NAME, PEER ADDRS, CLIENT ADDRS,\n"
		"IS LEARNER), asking every endpoint at once and taking the first answer.",
	.min_args = 0,
	.max_args = 0,
	.json_output = true,
};
