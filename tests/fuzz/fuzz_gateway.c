/*
 * fuzz_gateway.c - libFuzzer target for the decoding of etcd v3 JSON gateway
 * answers: the envelope (success, gateway error, not etcd) and every
 * decoder of a successful answer, plus the helpers that read decoded data
 * (alarms in status errors, member lookup) and the health verdicts on what
 * was decoded (a member list's members, a status as every member's answer).
 * The first input byte picks the HTTP status; the rest is the body.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Judge a report of @ml's members (taken over), each answering Status with
 * a copy of @st (may be NULL: none answered), reads as bit 4 of @flags says.
 */
static void judge(struct ep_member_list *ml, const struct ep_status *st, uint8_t flags)
{
	struct ep_health_report rep = { 0 };
	rep.v = calloc(ml->n ? ml->n : 1, sizeof(*rep.v));
	if (!rep.v)
		return;
	for (size_t i = 0; i < ml->n; i++) {
		struct ep_member_health *m = &rep.v[i];
		m->member = ml->v[i];
		memset(&ml->v[i], 0, sizeof(ml->v[i]));
		rep.n++;
		m->started = m->probed = m->member.name && m->member.client_urls.n;
		if (st && m->started) {
			m->status_ok = true;
			m->status.leader = st->leader;
			m->status.raft_index = st->raft_index;
			for (size_t k = 0; k < st->errors.n; k++)
				ep_strv_push(&m->status.errors, st->errors.v[k]);
		}
		m->read_done = true;
		m->read_ok = flags & 16;
		m->read_code = flags & 16 ? 0 : -ETIMEDOUT;
	}
	ep_health_judge(&rep);
	ep_health_report_release(&rep);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 400, 404, 412, 429, 500, 503, 405 };
	struct ep_error err = { 0 };
	json_t *obj = NULL;

	if (size < 1)
		return 0;
	long status = statuses[data[0] % 8];
	const char *body = (const char *)data + 1;
	size_t len = size - 1;

	if (ep_gateway_decode("https://127.0.0.1:2379", status, data[0] & 8 ? "application/json" : NULL,
			      body, len, &obj, &err) < 0)
		return 0;

	struct ep_member_list ml;
	if (ep_decode_member_list(obj, &ml, &err) == 0) {
		ep_member_list_lookup(&ml, "etcd-1", NULL);
		ep_member_list_lookup(&ml, "8e9e05c52164694d", NULL);
		judge(&ml, NULL, data[0]);
		ep_member_list_release(&ml);
	}
	struct ep_member m;
	if (ep_decode_member_add(obj, &m, &ml, &err) == 0) {
		ep_member_release(&m);
		ep_member_list_release(&ml);
	}
	struct ep_status st;
	if (ep_decode_status(obj, &st, &err) == 0) {
		struct ep_alarm_list al = { 0 };
		ep_status_alarms(&st, &al);
		ep_alarm_list_release(&al);
		/* a two-member cluster, both answering with this status */
		struct ep_member_list two = { 0 };
		struct ep_member pair[2] = { { .id = st.member_id }, { .id = st.leader } };
		for (size_t i = 0; i < 2; i++) {
			pair[i].name = strdup(i ? "b" : "a");
			ep_strv_push(&pair[i].client_urls, "https://127.0.0.1:2379");
		}
		two.v = pair;
		two.n = 2;
		judge(&two, &st, data[0]);
		for (size_t i = 0; i < 2; i++)
			ep_member_release(&pair[i]);
		ep_status_release(&st);
	}
	struct ep_alarm_list al;
	if (ep_decode_alarms(obj, &al, &err) == 0)
		ep_alarm_list_release(&al);
	struct ep_range_result rr;
	if (ep_decode_range(obj, &rr, &err) == 0)
		ep_range_result_release(&rr);
	uint64_t rev;
	ep_decode_put(obj, &rev, &err);
	json_decref(obj);
	return 0;
}
