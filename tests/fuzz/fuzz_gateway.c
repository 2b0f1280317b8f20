/*
 * fuzz_gateway.c - libFuzzer target for the decoding of etcd v3 JSON gateway
 * answers: the envelope (success, gateway error, not etcd) and every
 * decoder of a successful answer, plus the helpers that read decoded data
 * (alarms in status errors, member lookup).  The first input byte picks the
 * HTTP status; the rest is the body.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
