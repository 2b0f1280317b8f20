/*
 * config.c - PLACEHOLDER until the loader lands: applies defaults only.
 */
#include <errno.h>
#include <stdlib.h>

#include "etcdpilot/config.h"
#include "etcdpilot/error.h"

void ep_notes_release(struct ep_notes *notes)
{
	for (size_t i = 0; i < notes->n; i++)
		free(notes->v[i]);
	free(notes->v);
	notes->v = NULL;
	notes->n = 0;
}

int ep_config_load(struct ep_spec *spec, const char *path, const struct ep_overrides *ov,
		   struct ep_notes *notes, struct ep_error *err)
{
	(void)path;
	(void)ov;
	(void)notes;
	return ep_spec_defaults(spec, err);
}
