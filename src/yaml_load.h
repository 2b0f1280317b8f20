/*
 * yaml_load.h - libyaml's yaml_parser_load with a nesting limit enforced
 * while the events arrive.  Not a public header.
 *
 * libyaml 0.2.5 (Debian 12's) has no nesting limit of its own (the
 * process-wide yaml_set_max_nest_level() came later, in libyaml's master),
 * and its scanner spends time proportional to the nesting depth on every
 * token: 100 000 nested '[' took 16 s to load, and a limit checked on the
 * loaded tree came too late.  ep_yaml_load() builds the same document from
 * the parser's events and stops at the first collection nested deeper than
 * the limit, having scanned little more than that far.
 */
#ifndef ETCDPILOT_YAML_LOAD_H
#define ETCDPILOT_YAML_LOAD_H

#include <stdbool.h>

#include <yaml.h>

/* parser->problem when ep_yaml_load() stopped at the nesting limit. */
extern const char ep_yaml_too_deep[];

/*
 * Load the next document of @parser's stream into @doc, as
 * yaml_parser_load() does (same nodes, tags, styles, marks and anchors;
 * a duplicate anchor and an undefined alias are composer errors; at the
 * end of the stream @doc has no root node).  A collection nested more than
 * @max_depth levels deep (the root collection is level 1) stops the load:
 * parser->error is YAML_COMPOSER_ERROR, parser->problem is
 * ep_yaml_too_deep and parser->problem_mark is where that collection
 * starts.  Returns 1, or 0 with @doc empty and parser's error fields set
 * like yaml_parser_load's.
 */
int ep_yaml_load(yaml_parser_t *parser, yaml_document_t *doc, unsigned max_depth);

/*
 * A sentence for the libyaml error in @parser when it is about a tab
 * character (YAML indents with spaces only; libyaml's own words are "found
 * character that cannot start any token"), NULL otherwise.  @buf and @len
 * are the parsed text.  Static string.
 */
const char *ep_yaml_tab_problem(const yaml_parser_t *parser, const char *buf, size_t len);

#endif
