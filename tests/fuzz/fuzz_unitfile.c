/*
 * fuzz_unitfile.c - libFuzzer target for the systemd unit syntax etcdpilot
 * reads from nodes (unitfile.h): the file, then every ExecStart= and
 * Environment= value in it as a command line and as assignments, with the
 * assignments found so far as the environment.  Invariants: an error
 * always says why; a parse that fails leaves the entry list as it was; a
 * parsed command has a program and argv[0]; every name parsed from
 * Environment= is a valid variable name.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/error.h"
#include "etcdpilot/unitfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_unit_entries e = {0};
	struct ep_strv notes = {0};
	struct ep_error err;
	ep_error_clear(&err);
	int r = ep_unitfile_parse((const char *)data, size, "/fuzz.service", &e, &notes, &err);
	if (r < 0 && (!err.msg[0] || e.n != 0))
		abort();
	struct ep_kvv env = {0};
	for (size_t i = 0; r == 0 && i < e.n; i++) {
		if (!e.v[i].section || !e.v[i].key || !e.v[i].value || !e.v[i].line)
			abort();
		ep_error_clear(&err);
		if (!strcmp(e.v[i].key, "Environment")) {
			size_t before = env.n;
			if (ep_unit_environment_parse(e.v[i].value, "etcd.service", &env, &notes,
						      &err) < 0 &&
			    !err.msg[0])
				abort();
			for (size_t k = before; k < env.n; k++) {
				const char *n = env.v[k].name;
				if (!*n || isdigit((unsigned char)*n))
					abort();
				for (; *n; n++)
					if (!isalnum((unsigned char)*n) && *n != '_')
						abort();
			}
		} else if (!strcmp(e.v[i].key, "ExecStart")) {
			struct ep_unit_exec x;
			int xr = ep_unit_exec_parse(e.v[i].value, "etcd.service", &env, &x, &notes,
						    &err);
			if (xr < 0 && !err.msg[0])
				abort();
			if (xr == 0 && (!x.path || !*x.path))
				abort();
			if (xr == 0 && !(x.flags & EP_EXEC_ARGV0) &&
			    (!x.argv.n || strcmp(x.argv.v[0], x.path)))
				abort();
			ep_unit_exec_release(&x);
		}
	}
	const struct ep_unit_entry **v = NULL;
	size_t n = 0;
	if (ep_unit_entries_get(&e, "Service", "ExecStart", &v, &n) == 0)
		for (size_t i = 0; i < n; i++)
			if (!v[i]->value[0])
				abort(); /* the reset rule leaves no empty assignment */
	free(v);
	ep_kvv_release(&env);
	ep_strv_release(&notes);
	ep_unit_entries_release(&e);
	return 0;
}
