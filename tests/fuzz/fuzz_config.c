/*
 * fuzz_config.c - libFuzzer target for the config loader: arbitrary bytes
 * as a config file.  What parses is also defaulted, validated and rendered
 * as JSON and YAML, with and without origins (-v), so the whole path
 * 'config print' takes is exercised; the annotated YAML must load as the
 * plain YAML does, to the same spec.
 * The advertise address and name are set before defaults so that no run
 * depends on the machine's routes or host name.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "etcdpilot/config.h"
#include "etcdpilot/error.h"
#include "etcdpilot/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ep_spec spec;
	struct ep_notes notes = {0};
	struct ep_error err;
	ep_spec_init(&spec);
	ep_error_clear(&err);

	int r = ep_config_parse(&spec, "fuzz.yaml", (const char *)data, size, &notes, &err);
	if (r < 0) {
		/* Every failure is a usage error with a message. */
		if (err.kind != EP_ERR_USAGE && r != -ENOMEM)
			abort();
		if (!err.msg[0])
			abort();
		goto out;
	}
	if (!spec.name)
		spec.name = strdup("fuzz");
	if (!spec.advertise_address)
		spec.advertise_address = strdup("10.0.0.1");
	ep_error_clear(&err);
	if (ep_spec_defaults(&spec, &err) < 0)
		goto out;
	ep_error_clear(&err);
	(void)ep_spec_validate(&spec, &err);

	json_t *doc = ep_spec_to_json(&spec);
	if (doc) {
		char *yaml = NULL, *js = json_dumps(doc, JSON_COMPACT);
		ep_error_clear(&err);
		if (ep_json_to_yaml(doc, &yaml, &err) == 0 && !yaml)
			abort();
		json_t *origins = ep_spec_origins_json(&spec);
		json_decref(origins);
		char *ann = NULL;
		ep_error_clear(&err);
		if (yaml && ep_spec_yaml_annotate(&spec, yaml, &ann, &err) < 0 && err.code != -ENOMEM)
			abort(); /* our own YAML always parses */
		if (ann) {
			struct ep_spec a, b;
			struct ep_error ea, eb;
			ep_spec_init(&a);
			ep_spec_init(&b);
			ep_error_clear(&ea);
			ep_error_clear(&eb);
			int ra = ep_config_parse(&a, "a.yaml", yaml, strlen(yaml), NULL, &ea);
			int rb = ep_config_parse(&b, "a.yaml", ann, strlen(ann), NULL, &eb);
			if ((ra < 0) != (rb < 0) && ra != -ENOMEM && rb != -ENOMEM)
				abort(); /* the comments changed whether it loads */
			if (ra == 0 && rb == 0) {
				json_t *ja = ep_spec_to_json(&a), *jb = ep_spec_to_json(&b);
				if (ja && jb && !json_equal(ja, jb))
					abort(); /* ... or what it says */
				json_decref(ja);
				json_decref(jb);
			}
			ep_spec_release(&a);
			ep_spec_release(&b);
		}
		free(ann);
		free(yaml);
		free(js);
		json_decref(doc);
	}
out:
	ep_notes_release(&notes);
	ep_spec_release(&spec);
	return 0;
}
