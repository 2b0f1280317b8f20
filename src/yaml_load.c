/*
 * yaml_load.c - the YAML document loader every reader of outside YAML uses
 * (config files, manifests on disk): libyaml's event parser composed into a
 * yaml_document_t, with a nesting limit checked on each collection as it
 * starts.  It owns nothing but the composing; callers report errors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yaml_load.h"

const char ep_yaml_too_deep[] = "nested too deeply";

/* Anchors by name: open addressing, so that many anchors stay linear. */
struct anchor {
	char *name;
	int id;
	yaml_mark_t mark;
};

struct anchors {
	struct anchor *v;
	size_t n, cap; /* cap: 0 or a power of two */
};

static size_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)h;
}

static struct anchor *anchor_find(const struct anchors *a, const char *name)
{
	if (!a->cap)
		return NULL;
	for (size_t i = name_hash(name) & (a->cap - 1);; i = (i + 1) & (a->cap - 1)) {
		if (!a->v[i].name)
			return NULL;
		if (!strcmp(a->v[i].name, name))
			return &a->v[i];
	}
}

/* Insert @an (its name is taken over); false on ENOMEM. */
static bool anchor_put(struct anchors *a, struct anchor an)
{
	if ((a->n + 1) * 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct anchor *v = calloc(cap, sizeof(*v));
		if (!v)
			return false;
		for (size_t i = 0; i < a->cap; i++) {
			if (!a->v[i].name)
				continue;
			size_t j = name_hash(a->v[i].name) & (cap - 1);
			while (v[j].name)
				j = (j + 1) & (cap - 1);
			v[j] = a->v[i];
		}
		free(a->v);
		a->v = v;
		a->cap = cap;
	}
	size_t j = name_hash(an.name) & (a->cap - 1);
	while (a->v[j].name)
		j = (j + 1) & (a->cap - 1);
	a->v[j] = an;
	a->n++;
	return true;
}

static void anchors_release(struct anchors *a)
{
	for (size_t i = 0; i < a->cap; i++)
		free(a->v[i].name);
	free(a->v);
}

/* An open collection: its node and, for a mapping, the key waiting for its value. */
struct frame {
	int id;
	int key;
};

static int fail(yaml_parser_t *p, yaml_error_type_t type, const char *context,
		yaml_mark_t context_mark, const char *problem, yaml_mark_t problem_mark)
{
	p->error = type;
	p->context = context;
	p->context_mark = context_mark;
	p->problem = problem;
	p->problem_mark = problem_mark;
	return 0;
}

static int oom(yaml_parser_t *p)
{
	p->error = YAML_MEMORY_ERROR;
	return 0;
}

/* Add node @id to the collection of @f (NULL: it is the root). */
static int attach(yaml_document_t *doc, struct frame *f, int id)
{
	if (!f)
		return 1;
	if (doc->nodes.start[f->id - 1].type == YAML_SEQUENCE_NODE)
		return yaml_document_append_sequence_item(doc, f->id, id);
	if (!f->key) {
		f->key = id;
		return 1;
	}
	int r = yaml_document_append_mapping_pair(doc, f->id, f->key, id);
	f->key = 0;
	return r;
}

/* "!" and no tag both mean the default tag, as in libyaml's loader. */
static yaml_char_t *tag_of(yaml_char_t *tag)
{
	return tag && strcmp((const char *)tag, "!") ? tag : NULL;
}

static int compose(yaml_parser_t *p, yaml_document_t *doc, unsigned max_depth,
		   struct frame *frames, struct anchors *anchors)
{
	size_t depth = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(p, &ev))
			return 0;
		struct frame *top = depth ? &frames[depth - 1] : NULL;
		yaml_char_t *anchor = NULL;
		int id = 0;
		bool done = false, opened = false, closed = false;
		switch (ev.type) {
		case YAML_SCALAR_EVENT:
			anchor = ev.data.scalar.anchor;
			id = yaml_document_add_scalar(doc, tag_of(ev.data.scalar.tag),
						      ev.data.scalar.value, (int)ev.data.scalar.length,
						      ev.data.scalar.style);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (depth >= max_depth) {
				yaml_mark_t m = ev.start_mark;
				yaml_event_delete(&ev);
				return fail(p, YAML_COMPOSER_ERROR, NULL, m, ep_yaml_too_deep, m);
			}
			if (ev.type == YAML_SEQUENCE_START_EVENT) {
				anchor = ev.data.sequence_start.anchor;
				id = yaml_document_add_sequence(doc,
								tag_of(ev.data.sequence_start.tag),
								ev.data.sequence_start.style);
			} else {
				anchor = ev.data.mapping_start.anchor;
				id = yaml_document_add_mapping(doc, tag_of(ev.data.mapping_start.tag),
							       ev.data.mapping_start.style);
			}
			opened = true;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			/* Attached to its parent when it started. */
			id = frames[--depth].id;
			doc->nodes.start[id - 1].end_mark = ev.end_mark;
			closed = true;
			break;
		case YAML_ALIAS_EVENT: {
			const struct anchor *a =
			    anchor_find(anchors, (const char *)ev.data.alias.anchor);
			if (!a) {
				yaml_mark_t m = ev.start_mark;
				yaml_event_delete(&ev);
				return fail(p, YAML_COMPOSER_ERROR, NULL, m, "found undefined alias", m);
			}
			id = a->id;
			break;
		}
		case YAML_DOCUMENT_END_EVENT:
			doc->end_implicit = ev.data.document_end.implicit;
			doc->end_mark = ev.end_mark;
			done = true;
			break;
		default:
			break;
		}
		if (done) {
			yaml_event_delete(&ev);
			return 1;
		}
		if (!id) {
			yaml_event_delete(&ev);
			return oom(p);
		}
		if (ev.type == YAML_SCALAR_EVENT || opened) {
			yaml_node_t *n = &doc->nodes.start[id - 1];
			n->start_mark = ev.start_mark;
			n->end_mark = ev.end_mark;
		}
		if (anchor) {
			const struct anchor *first = anchor_find(anchors, (const char *)anchor);
			if (first) {
				yaml_mark_t m = first->mark;
				yaml_event_delete(&ev);
				return fail(p, YAML_COMPOSER_ERROR,
					    "found duplicate anchor; first occurrence", m,
					    "second occurrence", doc->nodes.start[id - 1].start_mark);
			}
			struct anchor an = { strdup((const char *)anchor), id,
					     doc->nodes.start[id - 1].start_mark };
			if (!an.name || !anchor_put(anchors, an)) {
				free(an.name);
				yaml_event_delete(&ev);
				return oom(p);
			}
		}
		yaml_event_delete(&ev);
		if (closed)
			continue;
		if (!attach(doc, top, id))
			return oom(p);
		if (opened)
			frames[depth++] = (struct frame){ id, 0 };
	}
}

int ep_yaml_load(yaml_parser_t *parser, yaml_document_t *doc, unsigned max_depth)
{
	yaml_event_t ev;
	memset(doc, 0, sizeof(*doc));
	if (!parser->stream_start_produced) {
		if (!yaml_parser_parse(parser, &ev))
			return 0;
		yaml_event_delete(&ev);
	}
	if (parser->stream_end_produced)
		return 1;
	if (!yaml_parser_parse(parser, &ev))
		return 0;
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		yaml_event_delete(&ev); /* the end of the stream */
		return 1;
	}
	int ok = yaml_document_initialize(doc, ev.data.document_start.version_directive,
					  ev.data.document_start.tag_directives.start,
					  ev.data.document_start.tag_directives.end,
					  ev.data.document_start.implicit, 1);
	yaml_mark_t start = ev.start_mark;
	yaml_event_delete(&ev);
	if (!ok)
		return oom(parser);
	doc->start_mark = start;
	struct frame *frames = calloc(max_depth ? max_depth : 1, sizeof(*frames));
	struct anchors anchors = { 0 };
	ok = frames ? compose(parser, doc, max_depth, frames, &anchors) : oom(parser);
	free(frames);
	anchors_release(&anchors);
	if (!ok)
		yaml_document_delete(doc);
	return ok;
}

/* The byte offset of 0-based @line, @col (characters) in @buf. */
static size_t mark_offset(const char *buf, size_t len, size_t line, size_t col)
{
	size_t i = 0;
	for (size_t l = 0; l < line && i < len; i++)
		if (buf[i] == '\n')
			l++;
	for (size_t c = 0; c < col && i < len; c++) {
		i++;
		while (i < len && ((unsigned char)buf[i] & 0xc0) == 0x80)
			i++;
	}
	return i;
}

const char *ep_yaml_tab_problem(const yaml_parser_t *parser, const char *buf, size_t len)
{
	if (parser->error != YAML_SCANNER_ERROR || !parser->problem)
		return NULL;
	size_t off = mark_offset(buf, len, parser->problem_mark.line, parser->problem_mark.column);
	if (!strstr(parser->problem, "tab") && !(off < len && buf[off] == '\t'))
		return NULL;
	return "a tab character where YAML allows only spaces (YAML indents with spaces; "
	       "replace the tab with spaces)";
}
