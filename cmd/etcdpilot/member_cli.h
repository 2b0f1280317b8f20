/*
 * member_cli.h - what the member command files share: member.c (add,
 * remove, promote) and member_list.c (list).
 */
#ifndef ETCDPILOT_MEMBER_CLI_H
#define ETCDPILOT_MEMBER_CLI_H

#include <jansson.h>

#include "etcdpilot/membership.h"

#define MEMBER_DEFAULT_TIMEOUT_MS 5000

/*
 * @m as one object of the member list's JSON document (id, status, name,
 * peer_urls, client_urls, is_learner); a new reference, NULL on ENOMEM.
 */
json_t *member_json(const struct ep_member *m);

#endif
