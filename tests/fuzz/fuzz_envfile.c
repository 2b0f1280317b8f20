/*
 * fuzz_envfile.c - libFuzzer target for the two line formats of outside
 * input in systemd mode: an environment file as EnvironmentFile= reads it
 * (what etcdpilot compares with, and what an operator may have edited) and
 * a SHA256SUMS file from a release server.  Every value parsed back must
 * survive ep_unit_env_line -> ep_unit_env_parse unchanged.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/error.h"
#include "etcdpilot/install.h"
#include "etcdpilot/unit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct ep_error err;
	ep_error_clear(&err);
	char hex[65];
	int r = ep_sha256sums_find(text, size, "etcd-v3.4.23-linux-amd64.tar.gz", hex, &err);
	if (r == 0 && strlen(hex) != 64)
		abort();
	if (r < 0 && !err.msg[0])
		abort();

	struct ep_kvv kv = { 0 };
	ep_error_clear(&err);
	r = ep_unit_env_parse(text, size, "fuzz.env", &kv, &err);
	if (r < 0 && !err.msg[0])
		abort();
	for (size_t i = 0; r == 0 && i < kv.n; i++) {
		/* Values with a newline cannot be written (unit.c refuses them). */
		if (strchr(kv.v[i].value, '\n'))
			continue;
		char *line = ep_unit_env_line(kv.v[i].name, kv.v[i].value);
		if (!line)
			abort();
		struct ep_kvv back = { 0 };
		if (ep_unit_env_parse(line, strlen(line), "line", &back, NULL) != 0 || back.n != 1 ||
		    strcmp(back.v[0].name, kv.v[i].name) != 0 ||
		    strcmp(back.v[0].value, kv.v[i].value) != 0)
			abort();
		ep_kvv_release(&back);
		free(line);
	}
	ep_kvv_release(&kv);
	return 0;
}
