/*
 * health_cli.h - what the health command files share: health.c builds the
 * one JSON document of a probe, health_render.c prints it as text.
 */
#ifndef ETCDPILOT_HEALTH_CLI_H
#define ETCDPILOT_HEALTH_CLI_H

#include <jansson.h>

/*
 * Print the `health` document @doc (as health.c builds it) as the table and
 * the notes under it, on stdout.  0, or -ENOMEM (nothing more is printed).
 */
int health_print_text(const json_t *doc);

#endif
