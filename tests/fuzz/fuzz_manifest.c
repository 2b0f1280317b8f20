/*
 * fuzz_manifest.c - libFuzzer target for the static pod manifest reader:
 * arbitrary bytes as an existing /etc/kubernetes/manifests/etcd.yaml.
 * Every failure must carry a message; what reads as an etcd pod is rendered
 * back from the derived spec, our own rendering must read back, and the
 * diff between the two must run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/error.h"
#include "etcdpilot/manifest.h"
#include "etcdpilot/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_manifest_info have, want;
	struct ep_error err;
	ep_error_clear(&err);
	const char *expect = size && (data[0] & 1) ? "cp1" : NULL;
	int r = ep_manifest_parse((const char *)data, size, "etcd.yaml", expect, "3.5.21", &have,
				  &err);
	if (r < 0) {
		if (!err.msg[0])
			abort();
		return 0;
	}
	if (!have.spec.name || !have.spec.etcd_version)
		abort();

	char *text = NULL;
	size_t len = 0;
	ep_error_clear(&err);
	r = ep_manifest_render(&have.spec, have.state_existing ? &have.initial_cluster : NULL,
			       &text, &len, &err);
	if (r < 0) {
		if (!err.msg[0])
			abort();
		ep_manifest_info_release(&have);
		return 0;
	}
	ep_error_clear(&err);
	if (ep_manifest_parse(text, len, "rendered", have.spec.name, NULL, &want, &err) < 0)
		abort(); /* our own output must read back */
	struct ep_strv lines = { 0 };
	char *input = strndup((const char *)data, size);
	if (input && ep_manifest_diff(&have, input, &want, text, &lines) < 0)
		abort();
	free(input);
	ep_strv_release(&lines);
	ep_manifest_info_release(&want);
	ep_manifest_info_release(&have);
	free(text);
	return 0;
}
