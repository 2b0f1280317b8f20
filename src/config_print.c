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
