/*
 * keyspace-probe.c - a test helper for t50: walks a prefix with the
 * library's ep_keyspace_walk in small pages and, after page K, runs a shell
 * command (which changes or compacts the keyspace), so that "a keyspace
 * that changes during the walk" is tested deterministically rather than by
 * racing writes against a timer.  Prints per resource keys and bytes as one
 * JSON object.  Not installed; built with the tests.
 *
 *   ep_keyspace_probe ENDPOINT CACERT CERT KEY PREFIX PAGE_LIMIT AFTER_PAGE COMMAND
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/client.h"
#include "etcdpilot/error.h"
#include "etcdpilot/keyspace.h"

struct probe {
	uint64_t after;
	const char *command;
	int ran;
};

static int on_page(void *userdata, const struct ep_keyspace_progress *p)
{
	struct probe *pr = userdata;
	if (p->requests == pr->after && !pr->ran) {
		fprintf(stderr, "probe: after page %" PRIu64 " (%" PRIu64 " keys at revision %" PRIu64
				"): %s\n",
			p->requests, p->keys, p->revision, pr->command);
		pr->ran = 1 + (system(pr->command) != 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr, "usage: %s ENDPOINT CACERT CERT KEY PREFIX PAGE_LIMIT AFTER_PAGE "
				"COMMAND\n", argv[0]);
		return 2;
	}
	struct probe pr = { .after = strtoull(argv[7], NULL, 10), .command = argv[8] };
	struct ep_tls tls = { .cacert = argv[2], .cert = argv[3], .key = argv[4] };
	struct ep_error err = { 0 };
	struct ep_client *c = NULL;
	struct ep_keyspace *ks = NULL;
	const char *eps[] = { argv[1] };
	struct ep_keyspace_opts o = { .prefix = argv[5], .prefix_len = strlen(argv[5]),
				      .page_limit = strtoull(argv[6], NULL, 10), .timeout_ms = 60000,
				      .on_page = on_page, .userdata = &pr };
	int r = ep_client_new(&tls, 60000, &c, &err);
	if (r == 0 && (r = ep_keyspace_new(&o, &ks)) < 0)
		ep_error_set(&err, r, "out of memory");
	if (r == 0)
		r = ep_keyspace_walk(ks, c, eps, 1, &err);
	if (r < 0) {
		fprintf(stderr, "probe: %s\n", err.msg);
		ep_keyspace_free(ks);
		ep_client_free(c);
		return 1;
	}
	printf("{\"revision\": %" PRIu64 ", \"keys\": %" PRIu64 ", \"bytes\": %" PRIu64
	       ", \"requests\": %" PRIu64 ", \"command_ran\": %d, \"resources\": {",
	       ks->done.revision, ks->keys, ks->key_bytes + ks->value_bytes, ks->done.requests,
	       pr.ran);
	for (size_t i = 0; i < ks->nres; i++)
		printf("%s\"%s\": {\"keys\": %" PRIu64 ", \"bytes\": %" PRIu64 "}", i ? ", " : "",
		       ks->res[i]->name, ks->res[i]->keys,
		       ks->res[i]->key_bytes + ks->res[i]->value_bytes);
	printf("}}\n");
	ep_keyspace_free(ks);
	ep_client_free(c);
	return 0;
}
