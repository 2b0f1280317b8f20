/*
 * fuzz_crilog.c - libFuzzer target for the logs the runtimes read back
 * (runtime.h): the CRI log a container runtime writes under /var/log/pods,
 * parsed from the start and as a tail that starts inside a line, and each
 * line of journalctl's short-iso output.  Invariants: every line and the
 * garbage count account for the input; every parsed line has its time and
 * a known stream; the excerpt of a diagnosis made of the lines is escaped
 * (no control character reaches an error message).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcdpilot/runtime.h"
#include "runtime_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t newlines = 0;
	for (size_t i = 0; i < size; i++)
		newlines += data[i] == '\n';
	for (int mid = 0; mid < 2; mid++) {
		struct ep_cri_log log;
		if (ep_cri_log_parse(text, size, mid, &log) < 0)
			abort();
		if (log.n + log.garbage > newlines + 1)
			abort();
		struct ep_diagnosis d = {0};
		struct ep_diag_source *s = rt_diag_source(&d, "fuzz", true);
		if (!s)
			abort();
		for (size_t i = 0; i < log.n; i++) {
			if (!log.v[i].time || !log.v[i].text ||
			    (strcmp(log.v[i].stream, "stdout") &&
			     strcmp(log.v[i].stream, "stderr")))
				abort();
			if (ep_strv_push(&s->lines, log.v[i].text) < 0)
				abort();
		}
		char *ex = ep_diagnosis_excerpt(&d, 3);
		for (const char *p = ex; p && *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort();
		free(ex);
		ep_diagnosis_release(&d);
		ep_cri_log_release(&log);
	}
	/* journalctl lines: one NUL-terminated line at a time */
	char *copy = malloc(size + 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *line = copy; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		struct ep_journal_line jl;
		int r = ep_journal_line_parse(line, &jl);
		if (r < 0)
			abort();
		if (r == 1 && (!jl.time || !jl.ident || !*jl.ident || !jl.message))
			abort();
		if (r == 1)
			ep_journal_line_release(&jl);
		line = nl ? nl + 1 : NULL;
	}
	free(copy);
	return 0;
}
