/*
 * config_yaml.c - PLACEHOLDER: the YAML loader lands next.
 */
#include <errno.h>

#include "config_internal.h"
#include "etcdpilot/error.h"

int ep_config_parse(struct ep_spec *spec, const char *filename, const char *buf, size_t len,
		    struct ep_notes *notes, struct ep_error *err)
{
	(void)spec;
	(void)buf;
	(void)len;
	(void)notes;
	return ep_error_usage(err, -ENOTSUP, "%s: config files are not supported yet", filename);
}
