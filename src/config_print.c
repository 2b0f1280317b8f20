/*
 * config_print.c - the node spec as data: one jansson object that 'config
 * print' renders as JSON, or as YAML through libyaml's emitter.
 *
 * The JSON field names are an interface (add, never rename).  The YAML
 * renderer is generic (any JSON value) and never builds YAML text by hand:
 * it only decides, per string, whether a plain scalar would read back as
 * something else (a number, a boolean, null, a date) and must be quoted.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <yaml.h>

#include "etcdpilot/config.h"
#include "etcdpilot/error.h"
#include "etcdpilot/spec.h"
#include "util/cleanup.h"

static json_t *strv_json(const struct ep_strv *sv)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < sv->n; i++)
		if (json_array_append_new(a, json_string(sv->v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *kvv_json(const struct ep_kvv *kv)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < kv->n; i++) {
		json_t *e = json_pack("{s:s, s:s}", "name", kv->v[i].name, "value", kv->v[i].value);
		/* An env's valueFrom goes out as the object it was given as. */
		if (e && kv->v[i].value_from) {
			json_object_del(e, "value");
			json_t *from = json_loads(kv->v[i].value_from, 0, NULL);
			if (!from || json_object_set_new(e, "valueFrom", from) < 0) {
				json_decref(e);
				e = NULL;
			}
		}
		if (json_array_append_new(a, e) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* A Go duration string as a json_t; NULL on ENOMEM. */
static json_t *dur_json(uint64_t ms)
{
	_cleanup_free_ char *s = ep_duration_format(ms);
	return s ? json_string(s) : NULL;
}

json_t *ep_spec_to_json(const struct ep_spec *spec)
{
	_cleanup_free_ char *image = NULL;
	if (spec->image_repository && spec->image_tag &&
	    asprintf(&image, "%s/etcd:%s", spec->image_repository, spec->image_tag) < 0)
		return NULL;

	json_t *external = json_null();
	if (spec->external.set)
		external = json_pack("{s:o, s:s?, s:s?, s:s?}", "endpoints",
				     strv_json(&spec->external.endpoints), "caFile",
				     spec->external.ca_file, "certFile", spec->external.cert_file,
				     "keyFile", spec->external.key_file);

	const struct ep_systemd *sd = &spec->systemd;
	json_t *systemd = json_pack(
	    "{s:s?, s:s?, s:s?, s:b, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "etcdBinary",
	    sd->etcd_binary, "releaseURL", sd->release_url, "etcdSHA256", sd->etcd_sha256,
	    "insecureSkipChecksum", sd->insecure_skip_checksum, "systemctl", sd->systemctl,
	    "unitPath", sd->unit_path, "envFile", sd->env_file, "etcdctlEnvFile",
	    sd->etcdctl_env_file, "binDir", sd->bin_dir, "cacheDir", sd->cache_dir);

	const struct ep_operator *op = &spec->op;
	json_t *oper = json_pack(
	    "{s:o, s:o, s:s?, s:o, s:I}", "interval", dur_json(op->interval_ms), "renewBefore",
	    dur_json(op->renew_before_ms), "backupDir", op->backup_dir, "backupInterval",
	    dur_json(op->backup_interval_ms), "backupKeep", (json_int_t)op->backup_keep);

	/* json_pack steals every "o" argument, also when it fails. */
	/* apiVersion and kind first: what 'config print' writes loads as --config. */
	return json_pack(
	    "{s:s, s:s, s:s?, s:s?, s:s, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?,"
	    " s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
	    "apiVersion", "etcdpilot.io/v1alpha1", "kind", "EtcdPilotConfiguration", "name",
	    spec->name, "advertiseAddress", spec->advertise_address, "mode",
	    ep_mode_name(spec->mode), "etcdVersion", spec->etcd_version, "kubernetesVersion",
	    spec->kubernetes_version, "image", image, "imageRepository", spec->image_repository,
	    "imageTag", spec->image_tag, "dataDir", spec->data_dir, "certificatesDir",
	    spec->cert_dir, "manifestDir", spec->manifest_dir, "extraArgs",
	    kvv_json(&spec->extra_args), "extraEnvs", kvv_json(&spec->extra_envs), "serverCertSANs",
	    strv_json(&spec->server_cert_sans), "peerCertSANs", strv_json(&spec->peer_cert_sans),
	    "external", external, "keyType", ep_key_type_name(spec->key_type),
	    "certificateValidityPeriod", dur_json(spec->cert_validity_s * 1000),
	    "caCertificateValidityPeriod", dur_json(spec->ca_cert_validity_s * 1000), "timeout",
	    dur_json(spec->timeout_ms), "controlPlaneComponentHealthCheck",
	    dur_json(spec->health_check_ms), "systemd", systemd, "operator", oper, "join",
	    spec->is_join);
}

/* ---- YAML --------------------------------------------------------------- */

/*
 * Plain scalars that YAML 1.1 (PyYAML, go-yaml v2) or 1.2 (core schema)
 * would not read back as a string.
 */
static const char *const non_string_patterns[] = {
    "^(~|null|Null|NULL)?$",
    "^(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$",
    "^[-+]?(0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+)$",
    "^[-+]?([0-9][0-9_]*(\\.[0-9_]*)?|\\.[0-9_]+)([eE][-+]?[0-9]+)?$",
    "^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\\.[0-9_]*)?$",
    "^[-+]?\\.(inf|Inf|INF)$",
    "^\\.(nan|NaN|NAN)$",
    "^[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?([Tt \t].*)?$",
    "^(<<|=)$",
};

#define N_PATTERNS (sizeof(non_string_patterns) / sizeof(non_string_patterns[0]))

struct emit {
	yaml_emitter_t emitter;
	regex_t re[N_PATTERNS];
	size_t nre;
	char *buf;
	size_t len, cap;
	bool oom;
};

static int write_cb(void *data, unsigned char *buffer, size_t size)
{
	struct emit *e = data;
	if (e->len + size + 1 > e->cap) {
		size_t cap = e->cap ? e->cap : 4096;
		while (cap < e->len + size + 1)
			cap *= 2;
		char *nb = realloc(e->buf, cap);
		if (!nb) {
			e->oom = true;
			return 0;
		}
		e->buf = nb;
		e->cap = cap;
	}
	memcpy(e->buf + e->len, buffer, size);
	e->len += size;
	e->buf[e->len] = '\0';
	return 1;
}

static bool needs_quotes(struct emit *e, const char *s)
{
	for (size_t i = 0; i < e->nre; i++)
		if (regexec(&e->re[i], s, 0, NULL, 0) == 0)
			return true;
	return false;
}

static int emit_event(struct emit *e, yaml_event_t *ev)
{
	return yaml_emitter_emit(&e->emitter, ev) ? 0 : -EINVAL;
}

static int emit_scalar(struct emit *e, const char *s, size_t len, yaml_scalar_style_t style)
{
	yaml_event_t ev;
	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)len, 1, 1, style))
		return -ENOMEM;
	return emit_event(e, &ev);
}

static int emit_string(struct emit *e, const char *s, size_t len)
{
	/* Strings with NUL bytes cannot be told apart from the cut string by regexec. */
	bool quote = strlen(s) != len || needs_quotes(e, s);
	return emit_scalar(e, s, len,
			   quote ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static int emit_value(struct emit *e, const json_t *v, unsigned depth)
{
	yaml_event_t ev;
	char num[64];
	int r;
	if (depth > 64)
		return -ELOOP;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
							 YAML_BLOCK_MAPPING_STYLE))
			return -ENOMEM;
		if ((r = emit_event(e, &ev)) < 0)
			return r;
		const char *key;
		json_t *item;
		json_object_foreach((json_t *)v, key, item)
		{
			if ((r = emit_string(e, key, strlen(key))) < 0 ||
			    (r = emit_value(e, item, depth + 1)) < 0)
				return r;
		}
		if (!yaml_mapping_end_event_initialize(&ev))
			return -ENOMEM;
		return emit_event(e, &ev);
	}
	case JSON_ARRAY: {
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
							  YAML_BLOCK_SEQUENCE_STYLE))
			return -ENOMEM;
		if ((r = emit_event(e, &ev)) < 0)
			return r;
		size_t i;
		json_t *item;
		json_array_foreach(v, i,
				   item) if ((r = emit_value(e, item, depth + 1)) < 0) return r;
		if (!yaml_sequence_end_event_initialize(&ev))
			return -ENOMEM;
		return emit_event(e, &ev);
	}
	case JSON_STRING:
		return emit_string(e, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return emit_scalar(e, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		return emit_scalar(e, num, strlen(num), YAML_PLAIN_SCALAR_STYLE);
	case JSON_TRUE:
		return emit_scalar(e, "true", 4, YAML_PLAIN_SCALAR_STYLE);
	case JSON_FALSE:
		return emit_scalar(e, "false", 5, YAML_PLAIN_SCALAR_STYLE);
	case JSON_NULL:
	default:
		return emit_scalar(e, "null", 4, YAML_PLAIN_SCALAR_STYLE);
	}
}

int ep_json_to_yaml(const json_t *value, char **ret, struct ep_error *err)
{
	struct emit e = {0};
	yaml_event_t ev;
	int r = 0;

	*ret = NULL;
	if (!value)
		return ep_error_set(err, -EINVAL, "rendering YAML: no value");
	for (; e.nre < N_PATTERNS; e.nre++)
		if (regcomp(&e.re[e.nre], non_string_patterns[e.nre], REG_EXTENDED | REG_NOSUB)) {
			r = ep_error_set(err, -ENOMEM, "rendering YAML: cannot compile a pattern");
			goto out_re;
		}
	if (!yaml_emitter_initialize(&e.emitter)) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto out_re;
	}
	yaml_emitter_set_output(&e.emitter, write_cb, &e);
	yaml_emitter_set_unicode(&e.emitter, 1);
	yaml_emitter_set_width(&e.emitter, -1); /* never fold long values */
	yaml_emitter_set_indent(&e.emitter, 2);

	if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) ||
	    emit_event(&e, &ev) < 0 ||
	    !yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
	    emit_event(&e, &ev) < 0 || emit_value(&e, value, 0) < 0 ||
	    !yaml_document_end_event_initialize(&ev, 1) || emit_event(&e, &ev) < 0 ||
	    !yaml_stream_end_event_initialize(&ev) || emit_event(&e, &ev) < 0 ||
	    !yaml_emitter_flush(&e.emitter)) {
		if (e.oom || e.emitter.error == YAML_MEMORY_ERROR)
			r = ep_error_set(err, -ENOMEM, "out of memory");
		else
			r = ep_error_set(err, -EINVAL, "rendering YAML: %s",
					 e.emitter.problem ? e.emitter.problem : "emitter failed");
	}
	yaml_emitter_delete(&e.emitter);
	if (r == 0) {
		*ret = e.buf ? e.buf : strdup("");
		e.buf = NULL;
		if (!*ret)
			r = ep_error_set(err, -ENOMEM, "out of memory");
	}
out_re:
	for (size_t i = 0; i < e.nre; i++)
		regfree(&e.re[i]);
	free(e.buf);
	return r;
}

/* ---- origins ------------------------------------------------------------ */

/*
 * @s as one line that YAML reads back inside a comment: control characters
 * (C0, DEL, C1 with NEL), the line and paragraph separators, U+FEFF and
 * the non-characters U+FFFE/U+FFFF as \xNN or \uNNNN, a byte that is not
 * UTF-8 as \xNN.  Everything else, other UTF-8 included, stays.  Heap.
 */
static char *comment_escape(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n * 6 + 1), *w = out; /* \uNNNN for at most 2 bytes, \xNN for 1 */
	if (!out)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				w += sprintf(w, "\\x%02x", c);
			else
				*w++ = (char)c;
			p++;
			continue;
		}
		/* 0x80-0xc1 and 0xf5-0xff start no (shortest-form) sequence */
		size_t len = c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;
		unsigned cp = len == 4 ? c & 0x07 : len == 3 ? c & 0x0f : c & 0x1f;
		for (size_t i = 1; i < len; i++) {
			if ((p[i] & 0xc0) != 0x80) {
				len = 0;
				break;
			}
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if (len == 0 || (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
			w += sprintf(w, "\\x%02x", c); /* not UTF-8: this byte alone */
			p++;
			continue;
		}
		if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029 || cp == 0xfeff || cp == 0xfffe ||
		    cp == 0xffff)
			w += sprintf(w, "\\u%04x", cp);
		else {
			memcpy(w, p, len);
			w += len;
		}
		p += len;
	}
	*w = '\0';
	return out;
}

/* @s as a JSON string; one that is not UTF-8 (a file name may not be) escaped. */
static json_t *json_text(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	_cleanup_free_ char *e = comment_escape(s);
	return e ? json_string(e) : NULL;
}

json_t *ep_spec_origins_json(const struct ep_spec *spec)
{
	json_t *all = json_object();
	for (int f = 0; all && f < EP_FIELD__MAX; f++) {
		if (f == EP_FIELD_PATCHES_DIRECTORY || f == EP_FIELD_CERTIFICATE_KEY)
			continue; /* not a field 'config print' prints (the key: a secret) */
		const struct ep_origin *o = &spec->origin[f];
		_cleanup_free_ char *text = ep_origin_describe(o);
		json_t *e = text ? json_pack("{s:s}", "kind", ep_origin_kind_name(o->kind)) : NULL;
		/* detail and path only when set: absent, not null */
		if (e && ((o->detail && json_object_set_new(e, "detail", json_text(o->detail))) ||
			  (o->path && json_object_set_new(e, "path", json_text(o->path))) ||
			  json_object_set_new(e, "text", json_text(text)))) {
			json_decref(e);
			e = NULL;
		}
		if (json_object_set_new(all, ep_field_name((enum ep_field)f), e) < 0) {
			json_decref(all);
			return NULL;
		}
	}
	return all;
}

#define MAX_FRAMES 16

/* Where the comment of each field goes: a line of the YAML text (0-based). */
struct note {
	size_t line;
	char *text;
};

/* One open collection while walking the YAML. */
struct frame {
	bool mapping, want_key;
	bool as_key;	 /* this collection is a key of the mapping above (never in ours) */
	char key[64];	 /* mapping: the key whose value comes next */
	size_t key_line; /* and its line */
};

/* The dotted path of the keys of @fr[0..@n) ("systemd.unitPath"); false inside a list. */
static bool frames_path(const struct frame *fr, size_t n, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!fr[i].mapping)
			return false;
		int w = snprintf(out + used, len - used, "%s%s", i ? "." : "", fr[i].key);
		if (w < 0 || (size_t)w >= len - used)
			return false;
		used += (size_t)w;
	}
	return true;
}

/* The comment for the value whose path @fr[0..@n) names, put on @line. */
static int add_note(const struct ep_spec *spec, const struct frame *fr, size_t n, size_t line,
		    struct note *notes)
{
	char path[256];
	if (!frames_path(fr, n, path, sizeof(path)))
		return 0;
	int f = ep_field_lookup(path);
	if (f < 0 || notes[f].text)
		return 0;
	_cleanup_free_ char *text = ep_origin_describe(&spec->origin[f]);
	if (!text || !(notes[f].text = comment_escape(text)))
		return -ENOMEM;
	notes[f].line = line;
	return 0;
}

/* Find each field's line in @yaml by parsing it: the emitter's layout is its own. */
static int find_lines(const struct ep_spec *spec, const char *yaml, struct note *notes,
		      struct ep_error *err)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return ep_error_set(err, -ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, strlen(yaml));
	struct frame fr[MAX_FRAMES];
	size_t depth = 0, skipped = 0; /* collections below MAX_FRAMES: not walked */
	int r = 0;
	bool done = false;
	while (!done && r == 0) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&parser, &ev)) {
			r = parser.error == YAML_MEMORY_ERROR
				? ep_error_set(err, -ENOMEM, "out of memory")
				: ep_error_set(err, -EINVAL, "annotating YAML: %s",
					       parser.problem ? parser.problem : "does not parse");
			break;
		}
		struct frame *top = depth && !skipped ? &fr[depth - 1] : NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (skipped || depth == MAX_FRAMES) {
				skipped++;
				break;
			}
			/* A collection's comment goes on its key's line. */
			if (top && top->mapping && !top->want_key)
				r = add_note(spec, fr, depth, top->key_line, notes);
			fr[depth++] = (struct frame){
			    .mapping = ev.type == YAML_MAPPING_START_EVENT,
			    .want_key = true,
			    .as_key = top && top->mapping && top->want_key,
			};
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (skipped) {
				skipped--;
				break;
			}
			if (!depth)
				break;
			depth--;
			if (depth && fr[depth - 1].mapping) {
				fr[depth - 1].want_key = fr[depth].as_key ? false : true;
				if (fr[depth].as_key)
					snprintf(fr[depth - 1].key, sizeof(fr[depth - 1].key), "?");
			}
			break;
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			if (!top || !top->mapping)
				break;
			if (top->want_key) {
				snprintf(top->key, sizeof(top->key), "%s",
					 ev.type == YAML_SCALAR_EVENT
					     ? (const char *)ev.data.scalar.value
					     : "");
				top->key_line = ev.start_mark.line;
				top->want_key = false;
			} else {
				r = add_note(spec, fr, depth, ev.end_mark.line, notes);
				top->want_key = true;
			}
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return r;
}

int ep_spec_yaml_annotate(const struct ep_spec *spec, const char *yaml, char **ret,
			  struct ep_error *err)
{
	struct note notes[EP_FIELD__MAX] = {0};
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = NULL;
	*ret = NULL;
	int r = find_lines(spec, yaml, notes, err);
	if (r < 0)
		goto done;

	/* Comments line up after the longest commented line, up to a point. */
	size_t col = 0, line = 0;
	for (const char *p = yaml; *p; line++) {
		size_t n = strcspn(p, "\n");
		for (int i = 0; i < EP_FIELD__MAX; i++)
			if (notes[i].text && notes[i].line == line && n > col)
				col = n;
		p += n + (p[n] == '\n');
	}
	col = (col > 56 ? 56 : col) + 2;

	f = open_memstream(&out, &outlen);
	if (!f) {
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto done;
	}
	line = 0;
	for (const char *p = yaml; *p; line++) {
		size_t n = strcspn(p, "\n");
		fwrite(p, 1, n, f);
		bool first = true;
		for (int i = 0; i < EP_FIELD__MAX; i++) {
			if (!notes[i].text || notes[i].line != line)
				continue;
			if (first)
				fprintf(f, "%*s# %s", (int)(n + 2 > col ? 2 : col - n), "",
					notes[i].text);
			else
				fprintf(f, "; %s", notes[i].text);
			first = false;
		}
		if (p[n] == '\n')
			fputc('\n', f);
		p += n + (p[n] == '\n');
	}
	if (fclose(f) != 0) {
		f = NULL;
		r = ep_error_set(err, -ENOMEM, "out of memory");
		goto done;
	}
	f = NULL;
	*ret = TAKE_PTR(out);
done:
	if (f)
		fclose(f);
	free(out);
	for (int i = 0; i < EP_FIELD__MAX; i++)
		free(notes[i].text);
	return r;
}
