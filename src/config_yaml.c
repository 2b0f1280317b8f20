/*
 * config_yaml.c - the config file loader: multi-document YAML (libyaml's
 * document API) to struct ep_spec.
 *
 * It knows the shape of kubeadm's InitConfiguration, JoinConfiguration and
 * ClusterConfiguration in kubeadm.k8s.io/v1beta3 and v1beta4, and of
 * etcdpilot's EtcdPilotConfiguration: every field of those kinds is either
 * read (the etcd-related ones) or accepted and ignored (the rest, so that a
 * real kubeadm config loads), and anything else is an error with its file,
 * line, column and field path.  It applies no defaults and reads no file;
 * config.c does that.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <yaml.h>

#include "config_internal.h"
#include "etcdpilot/error.h"
#include "util/cleanup.h"
#include "yaml_load.h"

/*
 * Nesting deeper than this is not a config (kubeadm's are a few levels
 * deep), and the walk is recursive: the loader refuses it while parsing.
 */
#define MAX_DEPTH    64
#define PATH_MAX_LEN 256

/* Which schema a document follows; fields carry a mask of these. */
enum {
	V3 = 1 << 0,	/* kubeadm.k8s.io/v1beta3 */
	V4 = 1 << 1,	/* kubeadm.k8s.io/v1beta4 */
	PILOT = 1 << 2, /* etcdpilot.io/v1alpha1 */
	V34 = V3 | V4,
};

/*
 * Spec fields that more than one place in a file can set.  Each remembers
 * where it was set, so that two documents that disagree are an error
 * instead of a silent "last one wins".
 */
enum target {
	T_NONE = 0,
	T_NAME,
	T_ADDR,
	T_MODE,
	T_VERSION,
	T_KUBE_VERSION,
	T_IMAGE_REPO,	/* etcd.local.imageRepository */
	T_CLUSTER_REPO, /* ClusterConfiguration.imageRepository (the fallback) */
	T_IMAGE_TAG,
	T_DATA_DIR,
	T_CERT_DIR,
	T_MANIFEST_DIR,
	T_KEY_TYPE,
	T_CERT_VALIDITY,
	T_CA_VALIDITY,
	T_TIMEOUT,
	T_HEALTH_CHECK,
	T_SD_BINARY,
	T_SD_URL,
	T_SD_SHA256,
	T_SD_SKIP,
	T_SD_SYSTEMCTL,
	T_SD_UNIT,
	T_SD_ENV,
	T_SD_CTL_ENV,
	T_SD_BIN_DIR,
	T_SD_CACHE,
	T_OP_INTERVAL,
	T_OP_RENEW,
	T_OP_BACKUP_DIR,
	T_OP_BACKUP_INTERVAL,
	T_OP_BACKUP_KEEP,
	T__MAX,
};

enum vtype { VT_STR, VT_DUR_MS, VT_DUR_S, VT_BOOL, VT_UINT, VT_MODE, VT_KEY_TYPE };

typedef bool (*check_fn)(const char *v, char *why, size_t len);

static bool check_nonempty(const char *v, char *why, size_t len)
{
	if (v && *v)
		return false;
	snprintf(why, len, "is empty");
	return true;
}

/* The etcd version may be given as "v3.6.6" too; the spec keeps "3.6.6". */
static bool check_version_v(const char *v, char *why, size_t len)
{
	return ep_check_version(v && v[0] == 'v' ? v + 1 : v, why, len);
}

/* clang-format off */
static const struct target_info {
	enum vtype type;
	size_t off;       /* offset in struct ep_spec */
	check_fn check;   /* VT_STR only; NULL = any string */
	uint64_t min_ms;  /* durations */
	enum ep_field field; /* whose origin it records */
} targets[T__MAX] = {
#define S(m) offsetof(struct ep_spec, m)
	[T_NAME] = { VT_STR, S(name), ep_check_node_name, 0, EP_FIELD_NAME },
	[T_ADDR] = { VT_STR, S(advertise_address), ep_check_advertise_ip, 0, EP_FIELD_ADVERTISE_ADDRESS },
	[T_MODE] = { VT_MODE, S(mode), NULL, 0, EP_FIELD_MODE },
	[T_VERSION] = { VT_STR, S(etcd_version), check_version_v, 0, EP_FIELD_ETCD_VERSION },
	[T_KUBE_VERSION] = { VT_STR, S(kubernetes_version), check_nonempty, 0, EP_FIELD_KUBERNETES_VERSION },
	[T_IMAGE_REPO] = { VT_STR, S(image_repository), ep_check_repository, 0, EP_FIELD_IMAGE_REPOSITORY },
	[T_CLUSTER_REPO] = { VT_STR, 0, ep_check_repository, 0, EP_FIELD_IMAGE_REPOSITORY },
	[T_IMAGE_TAG] = { VT_STR, S(image_tag), ep_check_image_tag, 0, EP_FIELD_IMAGE_TAG },
	[T_DATA_DIR] = { VT_STR, S(data_dir), ep_check_abs_path, 0, EP_FIELD_DATA_DIR },
	[T_CERT_DIR] = { VT_STR, S(cert_dir), ep_check_abs_path, 0, EP_FIELD_CERT_DIR },
	[T_MANIFEST_DIR] = { VT_STR, S(manifest_dir), ep_check_abs_path, 0, EP_FIELD_MANIFEST_DIR },
	[T_KEY_TYPE] = { VT_KEY_TYPE, S(key_type), NULL, 0, EP_FIELD_KEY_TYPE },
	[T_CERT_VALIDITY] = { VT_DUR_S, S(cert_validity_s), NULL, 1000, EP_FIELD_CERT_VALIDITY },
	[T_CA_VALIDITY] = { VT_DUR_S, S(ca_cert_validity_s), NULL, 1000, EP_FIELD_CA_CERT_VALIDITY },
	[T_TIMEOUT] = { VT_DUR_MS, S(timeout_ms), NULL, 1000, EP_FIELD_TIMEOUT },
	[T_HEALTH_CHECK] = { VT_DUR_MS, S(health_check_ms), NULL, 10000, EP_FIELD_HEALTH_CHECK },
	[T_SD_BINARY] = { VT_STR, S(systemd.etcd_binary), ep_check_abs_path, 0, EP_FIELD_SD_ETCD_BINARY },
	[T_SD_URL] = { VT_STR, S(systemd.release_url), ep_check_url, 0, EP_FIELD_SD_RELEASE_URL },
	[T_SD_SHA256] = { VT_STR, S(systemd.etcd_sha256), ep_check_sha256, 0, EP_FIELD_SD_ETCD_SHA256 },
	[T_SD_SKIP] = { VT_BOOL, S(systemd.insecure_skip_checksum), NULL, 0, EP_FIELD_SD_INSECURE_SKIP_CHECKSUM },
	[T_SD_SYSTEMCTL] = { VT_STR, S(systemd.systemctl), check_nonempty, 0, EP_FIELD_SD_SYSTEMCTL },
	[T_SD_UNIT] = { VT_STR, S(systemd.unit_path), ep_check_abs_path, 0, EP_FIELD_SD_UNIT_PATH },
	[T_SD_ENV] = { VT_STR, S(systemd.env_file), ep_check_abs_path, 0, EP_FIELD_SD_ENV_FILE },
	[T_SD_CTL_ENV] = { VT_STR, S(systemd.etcdctl_env_file), ep_check_abs_path, 0, EP_FIELD_SD_ETCDCTL_ENV_FILE },
	[T_SD_BIN_DIR] = { VT_STR, S(systemd.bin_dir), ep_check_abs_path, 0, EP_FIELD_SD_BIN_DIR },
	[T_SD_CACHE] = { VT_STR, S(systemd.cache_dir), ep_check_abs_path, 0, EP_FIELD_SD_CACHE_DIR },
	[T_OP_INTERVAL] = { VT_DUR_MS, S(op.interval_ms), NULL, 1000, EP_FIELD_OP_INTERVAL },
	[T_OP_RENEW] = { VT_DUR_MS, S(op.renew_before_ms), NULL, 60000, EP_FIELD_OP_RENEW_BEFORE },
	[T_OP_BACKUP_DIR] = { VT_STR, S(op.backup_dir), ep_check_abs_path, 0, EP_FIELD_OP_BACKUP_DIR },
	[T_OP_BACKUP_INTERVAL] = { VT_DUR_MS, S(op.backup_interval_ms), NULL, 60000, EP_FIELD_OP_BACKUP_INTERVAL },
	[T_OP_BACKUP_KEEP] = { VT_UINT, S(op.backup_keep), NULL, 0, EP_FIELD_OP_BACKUP_KEEP },
#undef S
};
/* clang-format on */

struct origin {
	bool set;
	size_t line, col;
	char path[PATH_MAX_LEN];
};

struct pctx {
	const char *file;
	yaml_document_t *doc;
	struct ep_spec *spec;
	struct ep_notes *notes;
	struct ep_error *err;
	unsigned schema; /* V3, V4 or PILOT of the document being read */
	const char *kind;
	struct origin origin[T__MAX];
	char *cluster_repo; /* ClusterConfiguration.imageRepository */
	size_t init_line, join_line, cluster_line, pilot_line; /* 0 = not seen */
	unsigned char *visited; /* per node of the current document, for alias-safe walks */
	const char *value_override; /* set_target: this string instead of the node's scalar */
};

struct field;
typedef int (*field_fn)(struct pctx *c, yaml_node_t *key, yaml_node_t *value, const char *path,
			const struct field *f);

struct field {
	const char *key;
	unsigned schemas;
	field_fn fn;		 /* NULL: accepted and ignored */
	enum target target;	 /* for set_target */
	const struct field *sub; /* for walk_sub */
	const char *what;	 /* for walk_sub: "etcd.local" in unknown-field messages */
};

/* ---- errors and small helpers ------------------------------------------ */

static size_t line_of(const yaml_node_t *n)
{
	return n ? n->start_mark.line + 1 : 1;
}

static size_t col_of(const yaml_node_t *n)
{
	return n ? n->start_mark.column + 1 : 1;
}

/* "FILE:LINE:COL: PATH: message" of kind EP_ERR_USAGE. */
static int perr(struct pctx *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int perr(struct pctx *c, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
	char msg[EP_ERROR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ep_error_usage(c->err, -EINVAL, "%s:%zu:%zu: %s: %s", c->file, line_of(n), col_of(n),
			      path, msg);
}

static int oom(struct pctx *c)
{
	return ep_error_set(c->err, -ENOMEM, "out of memory");
}

/* Append @s to the path @out (@len bytes), cutting what does not fit. */
static void path_append(char *out, size_t len, const char *s)
{
	size_t used = strnlen(out, len - 1), n = strlen(s);
	if (n > len - 1 - used)
		n = len - 1 - used;
	memcpy(out + used, s, n);
	out[used + n] = '\0';
}

/* Paths longer than PATH_MAX_LEN are cut; they only label messages. */
static void join_path(char *out, size_t len, const char *base, const char *key)
{
	out[0] = '\0';
	if (base && *base) {
		path_append(out, len, base);
		path_append(out, len, ".");
	}
	path_append(out, len, key);
}

static void index_path(char *out, size_t len, const char *base, size_t i)
{
	char idx[32];
	snprintf(idx, sizeof(idx), "[%zu]", i);
	out[0] = '\0';
	path_append(out, len, base);
	path_append(out, len, idx);
}

static const char *scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* A plain ~, null, Null, NULL or empty scalar: YAML's null. */
static bool is_null(const yaml_node_t *n)
{
	if (!n)
		return true;
	/* libyaml tags every untagged scalar !!str, so only the style tells. */
	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = scalar(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static const char *type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a map";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a string";
	}
}

static yaml_node_t *node_at(struct pctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

/* The value of a string field; wrong types and NUL bytes are errors. */
static int get_str(struct pctx *c, yaml_node_t *n, const char *path, const char *want,
		   const char **ret)
{
	if (n->type != YAML_SCALAR_NODE)
		return perr(c, n, path, "expected %s, got %s", want, type_name(n));
	if (strlen(scalar(n)) != n->data.scalar.length)
		return perr(c, n, path, "contains a NUL character");
	*ret = scalar(n);
	return 0;
}

static int get_bool(struct pctx *c, yaml_node_t *n, const char *path, bool *ret)
{
	const char *v = NULL;
	int r = get_str(c, n, path, "true or false", &v);
	if (r < 0)
		return r;
	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE")) {
			*ret = true;
			return 0;
		}
		if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE")) {
			*ret = false;
			return 0;
		}
	}
	return perr(c, n, path, "'%s' is not a boolean (true or false)", v);
}

static int get_uint(struct pctx *c, yaml_node_t *n, const char *path, unsigned *ret)
{
	const char *v = NULL;
	int r = get_str(c, n, path, "a number", &v);
	if (r < 0)
		return r;
	size_t len = strlen(v);
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || len == 0 || len > 6 ||
	    strspn(v, "0123456789") != len)
		return perr(c, n, path, "'%s' is not a whole number (e.g. 5)", v);
	unsigned long u = strtoul(v, NULL, 10);
	if (u == 0 || u > 100000)
		return perr(c, n, path, "%lu is out of range (1 to 100000)", u);
	*ret = (unsigned)u;
	return 0;
}

static int require_map(struct pctx *c, yaml_node_t *n, const char *path)
{
	if (n->type != YAML_MAPPING_NODE)
		return perr(c, n, path, "expected a map, got %s", type_name(n));
	return 0;
}

static int require_seq(struct pctx *c, yaml_node_t *n, const char *path)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return perr(c, n, path, "expected a list, got %s", type_name(n));
	return 0;
}

/* ---- duplicate keys and ignored subtrees -------------------------------- */

struct keyref {
	const char *s;
	size_t len;
	size_t i;
};

static int keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	int d = memcmp(x->s, y->s, x->len);
	if (d)
		return d;
	return x->i < y->i ? -1 : (x->i > y->i);
}

/* Report the first key of mapping @n that repeats an earlier one. */
static int check_dup_keys(struct pctx *c, yaml_node_t *n, const char *path)
{
	size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	if (count < 2)
		return 0;
	_cleanup_free_ struct keyref *refs = calloc(count, sizeof(*refs));
	if (!refs)
		return oom(c);
	size_t m = 0;
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *k = node_at(c, n->data.mapping.pairs.start[i].key);
		if (!k || k->type != YAML_SCALAR_NODE)
			continue;
		refs[m++] = (struct keyref){scalar(k), k->data.scalar.length, i};
	}
	qsort(refs, m, sizeof(*refs), keyref_cmp);
	size_t best = SIZE_MAX, first = 0;
	for (size_t j = 1; j < m; j++) {
		if (refs[j].len == refs[j - 1].len &&
		    !memcmp(refs[j].s, refs[j - 1].s, refs[j].len)) {
			size_t k = j;
			while (k > 0 && refs[k - 1].len == refs[j].len &&
			       !memcmp(refs[k - 1].s, refs[j].s, refs[j].len))
				k--;
			if (refs[j].i < best) {
				best = refs[j].i;
				first = refs[k].i;
			}
		}
	}
	if (best == SIZE_MAX)
		return 0;
	yaml_node_t *k = node_at(c, n->data.mapping.pairs.start[best].key);
	yaml_node_t *k0 = node_at(c, n->data.mapping.pairs.start[first].key);
	char p[PATH_MAX_LEN];
	join_path(p, sizeof(p), path, scalar(k));
	return perr(c, k, p, "duplicate key (first given at line %zu, column %zu)", line_of(k0),
		    col_of(k0));
}

/*
 * A field we accept without reading it: still no duplicate keys anywhere
 * below it, and a bounded depth.  Nodes shared through aliases are looked
 * at once.
 */
static int check_subtree(struct pctx *c, yaml_node_t *n, const char *path, unsigned depth)
{
	if (!n)
		return 0;
	if (depth > MAX_DEPTH)
		return perr(c, n, path, "nested too deeply (at most %d levels)", MAX_DEPTH);
	size_t id = (size_t)(n - c->doc->nodes.start);
	if (c->visited[id])
		return 0;
	c->visited[id] = 1;
	char p[PATH_MAX_LEN];
	int r;
	if (n->type == YAML_MAPPING_NODE) {
		if ((r = check_dup_keys(c, n, path)) < 0)
			return r;
		for (yaml_node_pair_t *pr = n->data.mapping.pairs.start;
		     pr < n->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = node_at(c, pr->key), *v = node_at(c, pr->value);
			join_path(p, sizeof(p), path,
				  k && k->type == YAML_SCALAR_NODE ? scalar(k) : "?");
			if ((r = check_subtree(c, k, p, depth + 1)) < 0 ||
			    (r = check_subtree(c, v, p, depth + 1)) < 0)
				return r;
		}
	} else if (n->type == YAML_SEQUENCE_NODE) {
		size_t i = 0;
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++, i++) {
			index_path(p, sizeof(p), path, i);
			if ((r = check_subtree(c, node_at(c, *it), p, depth + 1)) < 0)
				return r;
		}
	}
	return 0;
}

/* ---- the schema walk ---------------------------------------------------- */

static const char *schema_name(unsigned schema)
{
	return schema == V3   ? "kubeadm.k8s.io/v1beta3"
	       : schema == V4 ? "kubeadm.k8s.io/v1beta4"
			      : "etcdpilot.io/v1alpha1";
}

static int unknown_field(struct pctx *c, yaml_node_t *key, const char *path,
			 const struct field *fields, const char *what)
{
	const char *k = scalar(key);
	if (!strcmp(k, "<<"))
		return perr(c, key, path,
			    "YAML merge keys are not supported (write the fields out)");
	for (const struct field *f = fields; f->key; f++)
		if (!strcmp(f->key, k))
			return perr(c, key, path, "unknown field in %s %s (%s only exists in %s)",
				    schema_name(c->schema), c->kind, k,
				    f->schemas & V4 ? "kubeadm.k8s.io/v1beta4"
						    : "kubeadm.k8s.io/v1beta3");
	char list[1024] = "";
	size_t used = 0;
	for (const struct field *f = fields; f->key; f++) {
		if (!(f->schemas & c->schema) || !strcmp(f->key, "apiVersion") ||
		    !strcmp(f->key, "kind"))
			continue;
		int w =
		    snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "", f->key);
		if (w < 0 || (size_t)w >= sizeof(list) - used)
			break;
		used += (size_t)w;
	}
	for (const struct field *f = fields; f->key; f++)
		if ((f->schemas & c->schema) && !strcasecmp(f->key, k))
			return perr(c, key, path, "unknown field (did you mean '%s'?)", f->key);
	return perr(c, key, path, "unknown field (%s%s%s has: %s)", what, *what ? " " : "", c->kind,
		    list);
}

/*
 * Walk mapping @n against @fields: every key must be a field of the
 * document's schema; each present, non-null value goes to its handler.
 */
static int walk_map(struct pctx *c, yaml_node_t *n, const char *path, const struct field *fields,
		    const char *what)
{
	int r;
	if ((r = require_map(c, n, path[0] ? path : "document")) < 0 ||
	    (r = check_dup_keys(c, n, path)) < 0)
		return r;
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = node_at(c, pr->key), *v = node_at(c, pr->value);
		if (!k || !v)
			continue;
		if (k->type != YAML_SCALAR_NODE)
			return perr(c, k, path[0] ? path : "document",
				    "a key is %s (keys are field names)", type_name(k));
		char p[PATH_MAX_LEN];
		join_path(p, sizeof(p), path, scalar(k));
		const struct field *f = fields;
		while (f->key && (strcmp(f->key, scalar(k)) || !(f->schemas & c->schema)))
			f++;
		if (!f->key)
			return unknown_field(c, k, p, fields, what);
		if (!f->fn) {
			if ((r = check_subtree(c, v, p, 1)) < 0)
				return r;
			continue;
		}
		if (is_null(v))
			continue;
		if ((r = f->fn(c, k, v, p, f)) < 0)
			return r;
	}
	return 0;
}

static int walk_sub(struct pctx *c, yaml_node_t *key, yaml_node_t *v, const char *path,
		    const struct field *f)
{
	(void)key;
	return walk_map(c, v, path, f->sub, f->what);
}

/* "FILE:LINE:COL" of @line and @col; NULL on ENOMEM. */
static char *position(struct pctx *c, size_t line, size_t col)
{
	char *pos = NULL;
	return asprintf(&pos, "%s:%zu:%zu", c->file, line, col) < 0 ? NULL : pos;
}

/* Record the spec field @f as given in the file at @n, field path @path. */
static int file_origin(struct pctx *c, enum ep_field f, const yaml_node_t *n, const char *path)
{
	_cleanup_free_ char *pos = position(c, line_of(n), col_of(n));
	if (!pos || ep_spec_set_origin(c->spec, f, EP_ORIGIN_FILE, pos, path) < 0)
		return oom(c);
	return 0;
}

/*
 * Store a scalar field into the spec, unless another place in the file
 * already gave it a different value.
 */
static int set_target(struct pctx *c, yaml_node_t *key, yaml_node_t *v, const char *path,
		      const struct field *f)
{
	(void)key;
	const struct target_info *t = &targets[f->target];
	char why[512];
	const char *s = NULL;
	int r;
	union {
		const char *str;
		uint64_t u64;
		bool b;
		unsigned u;
		enum ep_mode mode;
		enum ep_key_type kt;
	} val = {0};

	switch (t->type) {
	case VT_BOOL:
		if ((r = get_bool(c, v, path, &val.b)) < 0)
			return r;
		break;
	case VT_UINT:
		if ((r = get_uint(c, v, path, &val.u)) < 0)
			return r;
		break;
	default:
		if ((r = get_str(c, v, path, "a string", &s)) < 0)
			return r;
		if (c->value_override)
			s = c->value_override;
		break;
	}
	switch (t->type) {
	case VT_STR:
		if (t->check && t->check(s, why, sizeof(why)))
			return perr(c, v, path, "%s", why);
		val.str = (f->target == T_VERSION && s[0] == 'v') ? s + 1 : s;
		break;
	case VT_DUR_MS:
	case VT_DUR_S:
		if (ep_check_duration(s, t->min_ms, &val.u64, why, sizeof(why)))
			return perr(c, v, path, "%s", why);
		if (t->type == VT_DUR_S)
			val.u64 /= 1000;
		break;
	case VT_MODE:
		if (ep_check_mode(s, why, sizeof(why)))
			return perr(c, v, path, "%s", why);
		ep_mode_parse(s, &val.mode);
		break;
	case VT_KEY_TYPE:
		if (ep_check_key_type(s, why, sizeof(why)))
			return perr(c, v, path, "%s", why);
		ep_key_type_parse(s, &val.kt);
		break;
	default:
		break;
	}

	char *base = (char *)c->spec + t->off;
	struct origin *o = &c->origin[f->target];
	bool same = true;
	const char *oldstr = NULL;
	char oldbuf[64] = "";
	switch (t->type) {
	case VT_STR:
		oldstr = f->target == T_CLUSTER_REPO ? c->cluster_repo : *(char **)base;
		same = oldstr && !strcmp(oldstr, val.str);
		break;
	case VT_DUR_MS:
	case VT_DUR_S: {
		uint64_t old = *(uint64_t *)base;
		same = old == val.u64;
		_cleanup_free_ char *d = ep_duration_format(t->type == VT_DUR_S ? old * 1000 : old);
		snprintf(oldbuf, sizeof(oldbuf), "%s", d ? d : "?");
		break;
	}
	case VT_BOOL:
		same = *(bool *)base == val.b;
		snprintf(oldbuf, sizeof(oldbuf), "%s", *(bool *)base ? "true" : "false");
		break;
	case VT_UINT:
		same = *(unsigned *)base == val.u;
		snprintf(oldbuf, sizeof(oldbuf), "%u", *(unsigned *)base);
		break;
	case VT_MODE:
		same = *(enum ep_mode *)base == val.mode;
		snprintf(oldbuf, sizeof(oldbuf), "%s", ep_mode_name(*(enum ep_mode *)base));
		break;
	case VT_KEY_TYPE:
		same = *(enum ep_key_type *)base == val.kt;
		snprintf(oldbuf, sizeof(oldbuf), "%s", ep_key_type_name(*(enum ep_key_type *)base));
		break;
	}
	if (o->set) {
		if (same)
			return 0;
		return perr(
		    c, v, path,
		    "'%s' contradicts '%s' given at line %zu, column %zu (%s); give it once",
		    t->type == VT_BOOL ? (val.b ? "true" : "false") : s ? s : scalar(v),
		    oldstr ? oldstr : oldbuf, o->line, o->col, o->path);
	}
	o->set = true;
	o->line = line_of(v);
	o->col = col_of(v);
	snprintf(o->path, sizeof(o->path), "%s", path);
	/* ClusterConfiguration.imageRepository is only a fallback: finish() decides. */
	if (f->target != T_CLUSTER_REPO && (r = file_origin(c, t->field, v, path)) < 0)
		return r;

	switch (t->type) {
	case VT_STR: {
		char *copy = strdup(val.str);
		if (!copy)
			return oom(c);
		char **dst = f->target == T_CLUSTER_REPO ? &c->cluster_repo : (char **)base;
		free(*dst);
		*dst = copy;
		break;
	}
	case VT_DUR_MS:
	case VT_DUR_S:
		*(uint64_t *)base = val.u64;
		break;
	case VT_BOOL:
		*(bool *)base = val.b;
		break;
	case VT_UINT:
		*(unsigned *)base = val.u;
		break;
	case VT_MODE:
		*(enum ep_mode *)base = val.mode;
		break;
	case VT_KEY_TYPE:
		*(enum ep_key_type *)base = val.kt;
		break;
	}
	return 0;
}

/* A list of strings, each checked with @check, replacing *@out. */
static int read_strv(struct pctx *c, yaml_node_t *v, const char *path, check_fn check,
		     struct ep_strv *out)
{
	int r;
	if ((r = require_seq(c, v, path)) < 0)
		return r;
	struct ep_strv sv = {0};
	size_t i = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++, i++) {
		yaml_node_t *item = node_at(c, *it);
		char p[PATH_MAX_LEN], why[512];
		const char *s = NULL;
		index_path(p, sizeof(p), path, i);
		if ((r = get_str(c, item, p, "a string", &s)) < 0)
			goto fail;
		if (check && check(s, why, sizeof(why))) {
			r = perr(c, item, p, "%s", why);
			goto fail;
		}
		if (ep_strv_push(&sv, s) < 0) {
			r = oom(c);
			goto fail;
		}
	}
	ep_strv_release(out);
	*out = sv;
	return 0;
fail:
	ep_strv_release(&sv);
	return r;
}

static int h_server_sans(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
			 const struct field *f)
{
	(void)k;
	(void)f;
	int r = read_strv(c, v, path, ep_check_san, &c->spec->server_cert_sans);
	return r < 0 ? r : file_origin(c, EP_FIELD_SERVER_CERT_SANS, v, path);
}

static int h_peer_sans(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
		       const struct field *f)
{
	(void)k;
	(void)f;
	int r = read_strv(c, v, path, ep_check_san, &c->spec->peer_cert_sans);
	return r < 0 ? r : file_origin(c, EP_FIELD_PEER_CERT_SANS, v, path);
}

static bool check_endpoint(const char *v, char *why, size_t len)
{
	if (v && (!strncmp(v, "https://", 8) || !strncmp(v, "http://", 7)) && v[7] &&
	    !strpbrk(v, " \t\r\n"))
		return false;
	snprintf(why, len, "'%s' is not an etcd endpoint (https://HOST:PORT)", v ? v : "");
	return true;
}

static int h_ext_endpoints(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
			   const struct field *f)
{
	(void)k;
	(void)f;
	return read_strv(c, v, path, check_endpoint, &c->spec->external.endpoints);
}

static int h_ext_file(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
		      const struct field *f)
{
	const char *s = NULL;
	char why[512];
	int r = get_str(c, v, path, "a string", &s);
	if (r < 0)
		return r;
	if (ep_check_abs_path(s, why, sizeof(why)))
		return perr(c, v, path, "%s", why);
	char **dst = !strcmp(scalar(k), "caFile")     ? &c->spec->external.ca_file
		     : !strcmp(scalar(k), "certFile") ? &c->spec->external.cert_file
						      : &c->spec->external.key_file;
	(void)f;
	char *copy = strdup(s);
	if (!copy)
		return oom(c);
	free(*dst);
	*dst = copy;
	return 0;
}

/* "FILE:LINE:COL: PATH" of @n, for messages that come later; NULL on ENOMEM. */
static char *where(struct pctx *c, const yaml_node_t *n, const char *path)
{
	char *at = NULL;
	return asprintf(&at, "%s:%zu:%zu: %s", c->file, line_of(n), col_of(n), path) < 0 ? NULL
											 : at;
}

/*
 * An etcd flag name and value pair into the spec's list, with where it was
 * given (@entry: the entry's path, "etcd.local.extraArgs[2]").  The value
 * is checked here too, so that its error has the value's own position.
 */
static int push_arg(struct pctx *c, yaml_node_t *namenode, yaml_node_t *valnode,
		    const char *name, const char *value, const char *path, const char *entry,
		    struct ep_kvv *out)
{
	char why[512];
	if (ep_check_arg_name(name, why, sizeof(why)))
		return perr(c, namenode, path, "%s", why);
	if (ep_check_arg_value(value, why, sizeof(why)))
		return perr(c, valnode ? valnode : namenode, entry, "--%s: %s", name, why);
	_cleanup_free_ char *at = where(c, namenode, entry);
	if (!at || ep_kvv_push_at(out, name, value, at, NULL) < 0)
		return oom(c);
	return 0;
}

/* v1beta3: a map of flag name to value. */
static int read_args_map(struct pctx *c, yaml_node_t *v, const char *path, struct ep_kvv *out)
{
	int r;
	if (v->type == YAML_SEQUENCE_NODE)
		return perr(c, v, path,
			    "expected a map of flag name to value in kubeadm.k8s.io/v1beta3, got "
			    "a list (the name/value list is v1beta4)");
	if ((r = require_map(c, v, path)) < 0 || (r = check_dup_keys(c, v, path)) < 0)
		return r;
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = node_at(c, pr->key), *val = node_at(c, pr->value);
		const char *name = NULL, *value = "";
		if ((r = get_str(c, k, path, "a flag name", &name)) < 0)
			return r;
		char p[PATH_MAX_LEN];
		join_path(p, sizeof(p), path, name);
		if (!is_null(val) && (r = get_str(c, val, p, "a string", &value)) < 0)
			return r;
		if ((r = push_arg(c, k, is_null(val) ? NULL : val, name, value, p, p, out)) < 0)
			return r;
	}
	return 0;
}

/*
 * An extraEnvs valueFrom as compact JSON with sorted keys: what a static
 * pod may use - fieldRef {fieldPath, apiVersion} and resourceFieldRef
 * {resource, containerName, divisor}, which the kubelet resolves; a
 * ConfigMap or Secret it refuses for static pods.  *@ret is heap.
 */
static int read_value_from(struct pctx *c, yaml_node_t *v, const char *path, char **ret)
{
	static const struct {
		const char *key;
		const char *fields[3]; /* the first is required */
	} sources[] = {
	    {"fieldRef", {"fieldPath", "apiVersion", NULL}},
	    {"resourceFieldRef", {"resource", "containerName", "divisor"}},
	};
	int r;
	if ((r = require_map(c, v, path)) < 0 || (r = check_dup_keys(c, v, path)) < 0)
		return r;
	size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	if (n != 1)
		return perr(c, v, path,
			    "give exactly one source (fieldRef or resourceFieldRef), got %zu", n);
	yaml_node_pair_t *pr = v->data.mapping.pairs.start;
	yaml_node_t *k = node_at(c, pr->key), *src = node_at(c, pr->value);
	const char *key = NULL;
	char p[PATH_MAX_LEN], pf[PATH_MAX_LEN];
	if ((r = get_str(c, k, path, "a field name", &key)) < 0)
		return r;
	join_path(p, sizeof(p), path, key);
	size_t s = 0;
	while (s < sizeof(sources) / sizeof(sources[0]) && strcmp(sources[s].key, key))
		s++;
	if (s == sizeof(sources) / sizeof(sources[0]))
		return perr(c, k, p,
			    !strcmp(key, "configMapKeyRef") || !strcmp(key, "secretKeyRef")
				? "a static pod cannot take values from ConfigMaps or Secrets (the "
				  "kubelet refuses it); use fieldRef or resourceFieldRef, or give "
				  "the value itself"
				: "unknown source (fieldRef or resourceFieldRef)");
	if ((r = require_map(c, src, p)) < 0 || (r = check_dup_keys(c, src, p)) < 0)
		return r;
	json_t *fields = json_object(), *obj = json_object();
	if (!fields || !obj || json_object_set(obj, key, fields) < 0) {
		json_decref(fields);
		json_decref(obj);
		return oom(c);
	}
	json_decref(fields); /* obj holds it */
	r = 0;
	for (yaml_node_pair_t *fp = src->data.mapping.pairs.start;
	     r == 0 && fp < src->data.mapping.pairs.top; fp++) {
		yaml_node_t *fk = node_at(c, fp->key), *fv = node_at(c, fp->value);
		const char *fname = NULL, *fval = NULL;
		if ((r = get_str(c, fk, p, "a field name", &fname)) < 0)
			break;
		join_path(pf, sizeof(pf), p, fname);
		size_t j = 0;
		while (j < 3 && sources[s].fields[j] && strcmp(sources[s].fields[j], fname))
			j++;
		if (j == 3 || !sources[s].fields[j]) {
			r = perr(c, fk, pf, "unknown field (%s has %s%s%s%s%s)", key,
				 sources[s].fields[0], sources[s].fields[1] ? ", " : "",
				 sources[s].fields[1] ? sources[s].fields[1] : "",
				 sources[s].fields[2] ? ", " : "",
				 sources[s].fields[2] ? sources[s].fields[2] : "");
			break;
		}
		if ((r = get_str(c, fv, pf, "a string", &fval)) < 0)
			break;
		if (json_object_set_new(fields, fname, json_string(fval)) < 0)
			r = oom(c);
	}
	if (r == 0 && !json_object_get(fields, sources[s].fields[0])) {
		join_path(pf, sizeof(pf), p, sources[s].fields[0]);
		r = perr(c, src, pf, "missing (%s needs %s)", key, sources[s].fields[0]);
	}
	if (r == 0) {
		*ret = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
		if (!*ret)
			r = oom(c);
	}
	json_decref(obj);
	return r;
}

/* v1beta4: a list of {name, value} (extraArgs) or, with @env, of {name, value, valueFrom}. */
static int read_kv_list(struct pctx *c, yaml_node_t *v, const char *path, bool env,
			struct ep_kvv *out)
{
	int r;
	if (!env && v->type == YAML_MAPPING_NODE)
		return perr(c, v, path,
			    "expected a list of {name, value} in kubeadm.k8s.io/v1beta4, got a map "
			    "(the map form is v1beta3)");
	if ((r = require_seq(c, v, path)) < 0)
		return r;
	size_t i = 0;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++, i++) {
		yaml_node_t *item = node_at(c, *it);
		char p[PATH_MAX_LEN], pn[PATH_MAX_LEN];
		index_path(p, sizeof(p), path, i);
		if ((r = require_map(c, item, p)) < 0 || (r = check_dup_keys(c, item, p)) < 0)
			return r;
		const char *name = NULL, *value = "";
		yaml_node_t *namenode = NULL, *valnode = NULL, *fromkey = NULL;
		_cleanup_free_ char *from = NULL;
		for (yaml_node_pair_t *pr = item->data.mapping.pairs.start;
		     pr < item->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = node_at(c, pr->key), *val = node_at(c, pr->value);
			const char *key = NULL;
			if ((r = get_str(c, k, p, "a field name", &key)) < 0)
				return r;
			join_path(pn, sizeof(pn), p, key);
			if (!strcmp(key, "name")) {
				if ((r = get_str(c, val, pn, "a string", &name)) < 0)
					return r;
				namenode = val;
			} else if (!strcmp(key, "value")) {
				if (!is_null(val) &&
				    (r = get_str(c, val, pn, "a string", &value)) < 0)
					return r;
				valnode = is_null(val) ? NULL : val;
			} else if (env && !strcmp(key, "valueFrom")) {
				if (!is_null(val) && (r = read_value_from(c, val, pn, &from)) < 0)
					return r;
				fromkey = k;
			} else {
				return perr(c, k, pn, "unknown field (%s)",
					    env ? "an environment variable has name, value and "
						  "valueFrom"
						: "an argument has name and value");
			}
		}
		join_path(pn, sizeof(pn), p, "name");
		if (!name)
			return perr(c, item, pn, "missing (every entry needs a name)");
		char why[512];
		if (env) {
			if (ep_check_env_name(name, why, sizeof(why)))
				return perr(c, namenode, pn, "%s", why);
			if (from && *value) {
				join_path(pn, sizeof(pn), p, "valueFrom");
				return perr(c, fromkey, pn,
					    "cannot be combined with a value (line %zu); give one of "
					    "them",
					    line_of(valnode));
			}
			_cleanup_free_ char *at = where(c, namenode, p);
			if (!at || ep_kvv_push_at(out, name, value, at, from) < 0)
				return oom(c);
		} else if ((r = push_arg(c, namenode, valnode, name, value, pn, p, out)) < 0) {
			return r;
		}
	}
	return 0;
}

static int h_extra_args(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
			const struct field *f)
{
	(void)k;
	(void)f;
	struct ep_kvv kv = {0};
	int r =
	    c->schema == V3 ? read_args_map(c, v, path, &kv) : read_kv_list(c, v, path, false, &kv);
	if (r < 0) {
		ep_kvv_release(&kv);
		return r;
	}
	ep_kvv_release(&c->spec->extra_args);
	c->spec->extra_args = kv;
	return file_origin(c, EP_FIELD_EXTRA_ARGS, v, path);
}

static int h_extra_envs(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
			const struct field *f)
{
	(void)k;
	(void)f;
	struct ep_kvv kv = {0};
	int r = read_kv_list(c, v, path, true, &kv);
	if (r < 0) {
		ep_kvv_release(&kv);
		return r;
	}
	ep_kvv_release(&c->spec->extra_envs);
	c->spec->extra_envs = kv;
	return file_origin(c, EP_FIELD_EXTRA_ENVS, v, path);
}

/* ---- schemas ------------------------------------------------------------ */

#define IGNORE(k, s)                                                                               \
	{                                                                                          \
		.key = k, .schemas = s                                                             \
	}
#define SET(k, s, t)                                                                               \
	{                                                                                          \
		.key = k, .schemas = s, .fn = set_target, .target = t                              \
	}
#define SUB(k, s, table, w)                                                                        \
	{                                                                                          \
		.key = k, .schemas = s, .fn = walk_sub, .sub = table, .what = w                    \
	}
#define CALL(k, s, f)                                                                              \
	{                                                                                          \
		.key = k, .schemas = s, .fn = f                                                    \
	}

static const struct field local_etcd_fields[] = {
    SET("imageRepository", V34, T_IMAGE_REPO), SET("imageTag", V34, T_IMAGE_TAG),
    SET("dataDir", V34, T_DATA_DIR),	       CALL("extraArgs", V34, h_extra_args),
    CALL("extraEnvs", V4, h_extra_envs),       CALL("serverCertSANs", V34, h_server_sans),
    CALL("peerCertSANs", V34, h_peer_sans),    {0},
};

static const struct field external_etcd_fields[] = {
    CALL("endpoints", V34 | PILOT, h_ext_endpoints),
    CALL("caFile", V34 | PILOT, h_ext_file),
    CALL("certFile", V34 | PILOT, h_ext_file),
    CALL("keyFile", V34 | PILOT, h_ext_file),
    IGNORE("httpEndpoints", V4),
    {0},
};

static int h_etcd(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
		  const struct field *f);

/*
 * apiServer is not about etcd, but v1beta3's apiServer.timeoutForControlPlane
 * is what kubeadm gave etcd's startup probe (v1beta4 moved it to
 * timeouts.controlPlaneComponentHealthCheck).  The rest is skipped unread.
 */
static yaml_node_t *map_get(struct pctx *c, yaml_node_t *map, const char *key,
			    yaml_node_t **ret_key);

static int h_api_server(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
			const struct field *f)
{
	(void)k;
	(void)f;
	if (!v || v->type != YAML_MAPPING_NODE)
		return 0;
	yaml_node_t *tk = NULL;
	yaml_node_t *t = map_get(c, v, "timeoutForControlPlane", &tk);
	if (!t || is_null(t))
		return 0;
	if (c->schema != V3) {
		/* kubeadm v1beta4 has no such field: say where it went instead of silence. */
		if (ep_notes_add(c->notes,
				 "%s:%zu:%zu: WARNING: %s.timeoutForControlPlane is "
				 "kubeadm.k8s.io/v1beta3 only and is ignored; in v1beta4 it is "
				 "timeouts.controlPlaneComponentHealthCheck of the InitConfiguration "
				 "(or JoinConfiguration), which sets etcd's startup probe",
				 c->file, line_of(tk), col_of(tk), path) < 0)
			return oom(c);
		return 0;
	}
	char p[PATH_MAX_LEN];
	join_path(p, sizeof(p), path, "timeoutForControlPlane");
	static const struct field health = { .key = "timeoutForControlPlane",
					     .target = T_HEALTH_CHECK };
	return set_target(c, tk, t, p, &health);
}

/* featureGates: RootlessControlPlane changes the etcd pod, which etcdpilot does not do yet. */
static int h_feature_gates(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
			   const struct field *f)
{
	(void)k;
	(void)f;
	int r;
	if ((r = require_map(c, v, path)) < 0 || (r = check_subtree(c, v, path, 1)) < 0)
		return r;
	yaml_node_t *gk = NULL, *g = map_get(c, v, "RootlessControlPlane", &gk);
	bool on = false;
	char p[PATH_MAX_LEN];
	join_path(p, sizeof(p), path, "RootlessControlPlane");
	if (!g || is_null(g) || (r = get_bool(c, g, p, &on)) < 0 || !on)
		return r < 0 ? r : 0;
	return perr(c, g, p,
		    "etcdpilot does not run etcd rootless yet (kubeadm's gate runs it as the user "
		    "kubeadm-etcd, with the data dir and keys handed to that user), and would "
		    "write a pod that runs as root; remove the gate or set it to false");
}

/*
 * controlPlane.certificateKey of a JoinConfiguration: kubeadm's key for its
 * uploaded certificates, here the key of join --ca-bundle (when
 * --certificate-key is not given).  64 hexadecimal digits; a secret: the
 * message never repeats it.
 */
static int h_certificate_key(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
			     const struct field *f)
{
	(void)f;
	const char *key = NULL;
	const char *p = path;
	int r;
	if (is_null(v))
		return 0;
	if ((r = get_str(c, v, p, "a string", &key)) < 0)
		return r;
	if (!*key)
		return 0;
	size_t n = strlen(key);
	if (n != 64 || strspn(key, "0123456789abcdefABCDEF") != n)
		return perr(c, v, p,
			    "not a certificate key: %zu characters, where a key is the 64 "
			    "hexadecimal digits 'etcdpilot certs export-bundle' printed", n);
	(void)k;
	free(c->spec->certificate_key);
	if (!(c->spec->certificate_key = strdup(key)))
		return oom(c);
	return file_origin(c, EP_FIELD_CERTIFICATE_KEY, v, p);
}

/* patches.directory: kept with its position; ep_config_load looks for etcd patches there. */
static int h_patches(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
		     const struct field *f)
{
	(void)k;
	(void)f;
	int r;
	if ((r = require_map(c, v, path)) < 0 || (r = check_dup_keys(c, v, path)) < 0)
		return r;
	for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *pk = node_at(c, pr->key), *pv = node_at(c, pr->value);
		const char *key = NULL, *dir = NULL;
		char p[PATH_MAX_LEN];
		if ((r = get_str(c, pk, path, "a field name", &key)) < 0)
			return r;
		join_path(p, sizeof(p), path, key);
		if (strcmp(key, "directory"))
			return perr(c, pk, p, "unknown field (patches has: directory)");
		if (is_null(pv))
			continue;
		if ((r = get_str(c, pv, p, "a string", &dir)) < 0)
			return r;
		if (!*dir)
			continue;
		free(c->spec->patches_dir);
		c->spec->patches_dir = strdup(dir);
		if (!c->spec->patches_dir)
			return oom(c);
		if ((r = file_origin(c, EP_FIELD_PATCHES_DIRECTORY, pv, p)) < 0)
			return r;
	}
	return 0;
}

static const struct field apiendpoint_fields[] = {
    SET("advertiseAddress", V34, T_ADDR),
    IGNORE("bindPort", V34),
    {0},
};

static const struct field nodereg_fields[] = {
    SET("name", V34, T_NAME),
    IGNORE("criSocket", V34),
    IGNORE("taints", V34),
    IGNORE("kubeletExtraArgs", V34),
    IGNORE("ignorePreflightErrors", V34),
    IGNORE("imagePullPolicy", V34),
    IGNORE("imagePullSerial", V4),
    {0},
};

static const struct field timeouts_fields[] = {
    SET("controlPlaneComponentHealthCheck", V4, T_HEALTH_CHECK),
    IGNORE("kubeletHealthCheck", V4),
    IGNORE("kubernetesAPICall", V4),
    IGNORE("etcdAPICall", V4),
    IGNORE("tlsBootstrap", V4),
    IGNORE("discovery", V4),
    IGNORE("upgradeManifests", V4),
    {0},
};

static const struct field join_cp_fields[] = {
    SUB("localAPIEndpoint", V34, apiendpoint_fields, "controlPlane.localAPIEndpoint of"),
    CALL("certificateKey", V34, h_certificate_key),
    {0},
};

static const struct field init_fields[] = {
    IGNORE("apiVersion", V34),
    IGNORE("kind", V34),
    IGNORE("bootstrapTokens", V34),
    IGNORE("dryRun", V4),
    SUB("nodeRegistration", V34, nodereg_fields, "nodeRegistration of"),
    SUB("localAPIEndpoint", V34, apiendpoint_fields, "localAPIEndpoint of"),
    IGNORE("certificateKey", V34),
    IGNORE("skipPhases", V34),
    CALL("patches", V34, h_patches),
    SUB("timeouts", V4, timeouts_fields, "timeouts of"),
    {0},
};

static const struct field join_fields[] = {
    IGNORE("apiVersion", V34),
    IGNORE("kind", V34),
    IGNORE("dryRun", V4),
    SUB("nodeRegistration", V34, nodereg_fields, "nodeRegistration of"),
    IGNORE("caCertPath", V34),
    IGNORE("discovery", V34),
    SUB("controlPlane", V34, join_cp_fields, "controlPlane of"),
    IGNORE("skipPhases", V34),
    CALL("patches", V34, h_patches),
    SUB("timeouts", V4, timeouts_fields, "timeouts of"),
    {0},
};

static const struct field cluster_fields[] = {
    IGNORE("apiVersion", V34),
    IGNORE("kind", V34),
    CALL("etcd", V34, h_etcd),
    IGNORE("networking", V34),
    SET("kubernetesVersion", V34, T_KUBE_VERSION),
    IGNORE("controlPlaneEndpoint", V34),
    CALL("apiServer", V34, h_api_server),
    IGNORE("controllerManager", V34),
    IGNORE("scheduler", V34),
    IGNORE("dns", V34),
    IGNORE("proxy", V4),
    SET("certificatesDir", V34, T_CERT_DIR),
    SET("imageRepository", V34, T_CLUSTER_REPO),
    CALL("featureGates", V34, h_feature_gates),
    IGNORE("clusterName", V34),
    SET("encryptionAlgorithm", V4, T_KEY_TYPE),
    SET("certificateValidityPeriod", V4, T_CERT_VALIDITY),
    SET("caCertificateValidityPeriod", V4, T_CA_VALIDITY),
    {0},
};

static const struct field systemd_fields[] = {
    SET("etcdBinary", PILOT, T_SD_BINARY),
    SET("releaseURL", PILOT, T_SD_URL),
    SET("etcdSHA256", PILOT, T_SD_SHA256),
    SET("insecureSkipChecksum", PILOT, T_SD_SKIP),
    SET("systemctl", PILOT, T_SD_SYSTEMCTL),
    SET("unitPath", PILOT, T_SD_UNIT),
    SET("envFile", PILOT, T_SD_ENV),
    SET("etcdctlEnvFile", PILOT, T_SD_CTL_ENV),
    SET("binDir", PILOT, T_SD_BIN_DIR),
    SET("cacheDir", PILOT, T_SD_CACHE),
    {0},
};

static const struct field operator_fields[] = {
    SET("interval", PILOT, T_OP_INTERVAL),	SET("renewBefore", PILOT, T_OP_RENEW),
    SET("backupDir", PILOT, T_OP_BACKUP_DIR),	SET("backupInterval", PILOT, T_OP_BACKUP_INTERVAL),
    SET("backupKeep", PILOT, T_OP_BACKUP_KEEP), {0},
};

/*
 * EtcdPilotConfiguration's image (as 'config print' writes it): REPO/etcd:TAG,
 * the same as imageRepository and imageTag, which must agree with it.
 */
static int h_image(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
		   const struct field *f)
{
	(void)f;
	const char *img = NULL;
	int r = get_str(c, v, path, "a string", &img);
	if (r < 0)
		return r;
	const char *slash = strrchr(img, '/'), *colon = slash ? strchr(slash, ':') : NULL;
	if (!slash || !colon || (size_t)(colon - slash) != 5 || strncmp(slash, "/etcd", 5))
		return perr(c, v, path,
			    "'%s' is not an etcd image (REPOSITORY/etcd:TAG, e.g. "
			    "registry.k8s.io/etcd:3.6.6-0)",
			    img);
	_cleanup_free_ char *repo = strndup(img, (size_t)(slash - img));
	if (!repo)
		return oom(c);
	static const struct field frepo = { .key = "image", .target = T_IMAGE_REPO };
	static const struct field ftag = { .key = "image", .target = T_IMAGE_TAG };
	c->value_override = repo;
	r = set_target(c, k, v, path, &frepo);
	c->value_override = colon + 1;
	if (r == 0)
		r = set_target(c, k, v, path, &ftag);
	c->value_override = NULL;
	return r;
}

/* EtcdPilotConfiguration's external (as printed): etcd.external's fields. */
static int h_pilot_external(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
			    const struct field *f)
{
	(void)f;
	int r = walk_map(c, v, path, external_etcd_fields, "external of");
	if (r < 0)
		return r;
	c->spec->external.set = true;
	if ((r = file_origin(c, EP_FIELD_EXTERNAL, k, path)) < 0)
		return r;
	if (ep_notes_add(c->notes, "%s:%zu: external etcd is not managed by etcdpilot", c->file,
			 line_of(k)) < 0)
		return oom(c);
	return 0;
}

/* EtcdPilotConfiguration's join (as printed): true means a joining node. */
static int h_join(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
		  const struct field *f)
{
	(void)f;
	bool b = false;
	int r = get_bool(c, v, path, &b);
	if (r < 0)
		return r;
	/* false keeps a JoinConfiguration's true (and where it was given). */
	if (!b && c->spec->is_join)
		return 0;
	c->spec->is_join = b;
	return file_origin(c, EP_FIELD_JOIN, k, path);
}

static const struct field pilot_fields[] = {
    IGNORE("apiVersion", PILOT),
    IGNORE("kind", PILOT),
    SET("mode", PILOT, T_MODE),
    SET("etcdVersion", PILOT, T_VERSION),
    SET("nodeName", PILOT, T_NAME),
    SET("name", PILOT, T_NAME), /* as 'config print' writes it */
    SET("advertiseAddress", PILOT, T_ADDR),
    SET("kubernetesVersion", PILOT, T_KUBE_VERSION),
    CALL("image", PILOT, h_image),
    SET("imageRepository", PILOT, T_IMAGE_REPO),
    SET("imageTag", PILOT, T_IMAGE_TAG),
    CALL("extraArgs", PILOT, h_extra_args),
    CALL("extraEnvs", PILOT, h_extra_envs),
    CALL("serverCertSANs", PILOT, h_server_sans),
    CALL("peerCertSANs", PILOT, h_peer_sans),
    CALL("external", PILOT, h_pilot_external),
    SET("certificateValidityPeriod", PILOT, T_CERT_VALIDITY),
    SET("caCertificateValidityPeriod", PILOT, T_CA_VALIDITY),
    SET("controlPlaneComponentHealthCheck", PILOT, T_HEALTH_CHECK),
    CALL("join", PILOT, h_join),
    SET("keyType", PILOT, T_KEY_TYPE),
    SET("timeout", PILOT, T_TIMEOUT),
    SET("dataDir", PILOT, T_DATA_DIR),
    SET("certificatesDir", PILOT, T_CERT_DIR),
    SET("manifestDir", PILOT, T_MANIFEST_DIR),
    SUB("systemd", PILOT, systemd_fields, "systemd of"),
    SUB("operator", PILOT, operator_fields, "operator of"),
    /* 'config print -o json -v' adds where each field came from: for people. */
    IGNORE("origins", PILOT),
    {0},
};

static const struct field etcd_fields[] = {
    SUB("local", V34, local_etcd_fields, "etcd.local of"),
    SUB("external", V34, external_etcd_fields, "etcd.external of"),
    {0},
};

static yaml_node_t *map_get(struct pctx *c, yaml_node_t *m, const char *key, yaml_node_t **ret_key)
{
	if (!m || m->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	     pr++) {
		yaml_node_t *k = node_at(c, pr->key);
		if (k && k->type == YAML_SCALAR_NODE && !strcmp(scalar(k), key)) {
			if (ret_key)
				*ret_key = k;
			return node_at(c, pr->value);
		}
	}
	return NULL;
}

static int h_etcd(struct pctx *c, yaml_node_t *k, yaml_node_t *v, const char *path,
		  const struct field *f)
{
	(void)k;
	(void)f;
	int r;
	if ((r = walk_map(c, v, path, etcd_fields, "etcd of")) < 0)
		return r;
	yaml_node_t *lk = NULL, *ek = NULL;
	yaml_node_t *local = map_get(c, v, "local", &lk), *ext = map_get(c, v, "external", &ek);
	if (local && ext && !is_null(local) && !is_null(ext)) {
		char p[PATH_MAX_LEN];
		join_path(p, sizeof(p), path, "external");
		return perr(c, ek, p,
			    "cannot be combined with etcd.local (at line %zu; local and external "
			    "are mutually exclusive)",
			    line_of(lk));
	}
	if (ext && !is_null(ext)) {
		char p[PATH_MAX_LEN];
		join_path(p, sizeof(p), path, "external");
		c->spec->external.set = true;
		if ((r = file_origin(c, EP_FIELD_EXTERNAL, ek, p)) < 0)
			return r;
		if (ep_notes_add(c->notes, "%s:%zu: external etcd is not managed by etcdpilot",
				 c->file, line_of(ek)) < 0)
			return oom(c);
	}
	return 0;
}

/* ---- documents ---------------------------------------------------------- */

struct kind_info {
	const char *kind;
	unsigned schemas;
	const struct field *fields; /* NULL: skipped with a note */
};

static const struct kind_info kubeadm_kinds[] = {
    {"InitConfiguration", V34, init_fields}, {"ClusterConfiguration", V34, cluster_fields},
    {"JoinConfiguration", V34, join_fields}, {"ResetConfiguration", V4, NULL},
    {"UpgradeConfiguration", V4, NULL},	     {NULL, 0, NULL},
};

static int seen_kind(struct pctx *c, yaml_node_t *root, size_t *seen, const char *kind)
{
	if (*seen)
		return perr(c, root, "kind",
			    "a second %s (the first starts at line %zu; give each kind once)", kind,
			    *seen);
	*seen = line_of(root);
	return 0;
}

static int parse_document(struct pctx *c, yaml_node_t *root)
{
	int r;
	if (root->type != YAML_MAPPING_NODE)
		return perr(c, root, "document", "expected a map with apiVersion and kind, got %s",
			    type_name(root));
	yaml_node_t *avk = NULL, *kk = NULL;
	yaml_node_t *av = map_get(c, root, "apiVersion", &avk), *kd = map_get(c, root, "kind", &kk);
	const char *api = NULL, *kind = NULL;
	if (!av || is_null(av))
		return perr(c, avk ? avk : root, "apiVersion",
			    "missing (every document needs apiVersion and kind, e.g. "
			    "kubeadm.k8s.io/v1beta4 and ClusterConfiguration)");
	if (!kd || is_null(kd))
		return perr(c, kk ? kk : root, "kind",
			    "missing (every document needs apiVersion and kind, e.g. "
			    "kubeadm.k8s.io/v1beta4 and ClusterConfiguration)");
	if ((r = get_str(c, av, "apiVersion", "a string", &api)) < 0 ||
	    (r = get_str(c, kd, "kind", "a string", &kind)) < 0)
		return r;
	c->kind = kind;

	const struct field *fields = NULL;
	if (!strncmp(api, "kubeadm.k8s.io/", 15)) {
		const char *ver = api + 15;
		if (!strcmp(ver, "v1beta3"))
			c->schema = V3;
		else if (!strcmp(ver, "v1beta4"))
			c->schema = V4;
		else
			return perr(c, av, "apiVersion",
				    "'%s' is not supported (kubeadm.k8s.io/v1beta3 or v1beta4; "
				    "convert older files with 'kubeadm config migrate')",
				    api);
		const struct kind_info *ki = kubeadm_kinds;
		while (ki->kind && strcmp(ki->kind, kind))
			ki++;
		if (!ki->kind || !(ki->schemas & c->schema))
			return perr(c, kd, "kind",
				    "unknown kind '%s' in %s (InitConfiguration, "
				    "ClusterConfiguration or JoinConfiguration%s)",
				    kind, api,
				    c->schema == V4 ? "; ResetConfiguration and "
						      "UpgradeConfiguration are skipped"
						    : "");
		if (!ki->fields)
			goto skip;
		fields = ki->fields;
		if (!strcmp(kind, "InitConfiguration")) {
			if ((r = seen_kind(c, root, &c->init_line, kind)) < 0)
				return r;
		} else if (!strcmp(kind, "JoinConfiguration")) {
			if ((r = seen_kind(c, root, &c->join_line, kind)) < 0)
				return r;
		} else if ((r = seen_kind(c, root, &c->cluster_line, kind)) < 0) {
			return r;
		}
		if (c->init_line && c->join_line)
			return perr(c, kd, "kind",
				    "InitConfiguration (line %zu) and JoinConfiguration (line %zu) "
				    "in one file (a node either starts a cluster or joins one)",
				    c->init_line, c->join_line);
	} else if (!strcmp(api, "etcdpilot.io/v1alpha1")) {
		if (strcmp(kind, "EtcdPilotConfiguration"))
			return perr(c, kd, "kind",
				    "unknown kind '%s' in etcdpilot.io/v1alpha1 "
				    "(EtcdPilotConfiguration)",
				    kind);
		c->schema = PILOT;
		fields = pilot_fields;
		if ((r = seen_kind(c, root, &c->pilot_line, kind)) < 0)
			return r;
	} else if ((!strncmp(api, "kubelet.config.k8s.io/", 22) &&
		    !strcmp(kind, "KubeletConfiguration")) ||
		   (!strncmp(api, "kubeproxy.config.k8s.io/", 24) &&
		    !strcmp(kind, "KubeProxyConfiguration"))) {
		goto skip;
	} else if (strncmp(api, "etcdpilot.io/", 13) == 0) {
		return perr(c, av, "apiVersion", "'%s' is not supported (etcdpilot.io/v1alpha1)",
			    api);
	} else {
		return perr(c, kd, "kind",
			    "unknown apiVersion/kind '%s' %s (kubeadm.k8s.io/v1beta3 or v1beta4 "
			    "Init/Join/ClusterConfiguration, or etcdpilot.io/v1alpha1 "
			    "EtcdPilotConfiguration)",
			    api, kind);
	}
	if ((r = walk_map(c, root, "", fields, "")) < 0)
		return r;
	if (!strcmp(kind, "JoinConfiguration")) {
		c->spec->is_join = true;
		if ((r = file_origin(c, EP_FIELD_JOIN, kd, "kind")) < 0)
			return r;
		yaml_node_t *cp = map_get(c, root, "controlPlane", NULL);
		if ((!cp || is_null(cp)) &&
		    ep_notes_add(c->notes,
				 "%s:%zu: JoinConfiguration has no controlPlane section; "
				 "etcdpilot joins this node's etcd member anyway",
				 c->file, line_of(root)) < 0)
			return oom(c);
	}
	return 0;
skip:
	if (ep_notes_add(c->notes, "%s:%zu: skipping %s (not about etcd)", c->file, line_of(root),
			 kind) < 0)
		return oom(c);
	return 0;
}

/* Cross-document rules, once every document is in. */
static int finish(struct pctx *c)
{
	struct ep_spec *s = c->spec;
	struct origin *ov = &c->origin[T_VERSION], *ot = &c->origin[T_IMAGE_TAG];
	char tagv[64];
	if (ov->set && ot->set && ep_image_tag_version(s->image_tag, tagv, sizeof(tagv)) &&
	    strcmp(tagv, s->etcd_version))
		return ep_error_usage(c->err, -EINVAL,
				      "%s:%zu:%zu: %s: '%s' contradicts %s '%s' at line %zu, "
				      "column %zu (which runs etcd %s; drop one of them)",
				      c->file, ov->line, ov->col, ov->path, s->etcd_version,
				      ot->path, s->image_tag, ot->line, ot->col, tagv);
	struct origin *ob = &c->origin[T_SD_BINARY], *ou = &c->origin[T_SD_URL];
	if (ob->set && ou->set) {
		struct origin *later = ob->line > ou->line ? ob : ou;
		struct origin *earlier = later == ob ? ou : ob;
		return ep_error_usage(c->err, -EINVAL,
				      "%s:%zu:%zu: %s: cannot be combined with %s at line %zu "
				      "(give a local binary or a release to download, not both)",
				      c->file, later->line, later->col, later->path, earlier->path,
				      earlier->line);
	}
	struct origin *osum = &c->origin[T_SD_SHA256], *oskip = &c->origin[T_SD_SKIP];
	if (osum->set && oskip->set && s->systemd.insecure_skip_checksum)
		return ep_error_usage(c->err, -EINVAL,
				      "%s:%zu:%zu: %s: true contradicts %s at line %zu (a checksum "
				      "to verify and no verification; drop one of them)",
				      c->file, oskip->line, oskip->col, oskip->path, osum->path,
				      osum->line);
	struct origin *ocr = &c->origin[T_CLUSTER_REPO];
	if (c->cluster_repo && !c->origin[T_IMAGE_REPO].set) {
		free(s->image_repository);
		s->image_repository = TAKE_PTR(c->cluster_repo);
		_cleanup_free_ char *pos = position(c, ocr->line, ocr->col);
		if (!pos || ep_spec_set_origin(s, EP_FIELD_IMAGE_REPOSITORY, EP_ORIGIN_FILE, pos,
					       ocr->path) < 0)
			return oom(c);
	}
	return 0;
}

/* libyaml's complaint as "FILE:LINE:COL: yaml: problem (context at L:C)". */
static int syntax_error(struct pctx *c, yaml_parser_t *p, const char *buf, size_t len)
{
	size_t line = p->problem_mark.line + 1, col = p->problem_mark.column + 1;
	if (p->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, not a mark. */
		line = 1;
		col = 1;
		for (size_t i = 0; i < p->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
	}
	const char *problem = p->problem ? p->problem : "unreadable YAML";
	if (p->error == YAML_MEMORY_ERROR)
		return oom(c);
	if (p->problem == ep_yaml_too_deep)
		return ep_error_usage(c->err, -EINVAL,
				      "%s:%zu:%zu: yaml: nested more than %d levels deep (a "
				      "configuration is a few levels deep)",
				      c->file, line, col, MAX_DEPTH);
	const char *tab = ep_yaml_tab_problem(p, buf, len);
	if (tab)
		return ep_error_usage(c->err, -EINVAL, "%s:%zu:%zu: yaml: %s", c->file, line, col,
				      tab);
	if (p->context)
		return ep_error_usage(c->err, -EINVAL,
				      "%s:%zu:%zu: yaml: %s (%s at line %zu, column %zu)", c->file,
				      line, col, problem, p->context, p->context_mark.line + 1,
				      p->context_mark.column + 1);
	return ep_error_usage(c->err, -EINVAL, "%s:%zu:%zu: yaml: %s", c->file, line, col, problem);
}

int ep_config_parse(struct ep_spec *spec, const char *filename, const char *buf, size_t len,
		    struct ep_notes *notes, struct ep_error *err)
{
	struct pctx c = {
	    .file = filename ? filename : "<config>",
	    .spec = spec,
	    .notes = notes,
	    .err = err,
	};
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		return ep_error_set(err, -ENOMEM, "out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

	int r = 0;
	for (;;) {
		yaml_document_t doc;
		if (!ep_yaml_load(&parser, &doc, MAX_DEPTH)) {
			r = syntax_error(&c, &parser, buf, len);
			break;
		}
		yaml_node_t *root = yaml_document_get_root_node(&doc);
		if (!root) { /* the end of the stream */
			yaml_document_delete(&doc);
			break;
		}
		c.doc = &doc;
		if (!is_null(root)) {
			size_t nnodes = (size_t)(doc.nodes.top - doc.nodes.start);
			c.visited = calloc(nnodes ? nnodes : 1, 1);
			r = c.visited ? parse_document(&c, root) : oom(&c);
			free(c.visited);
			c.visited = NULL;
		}
		c.doc = NULL;
		yaml_document_delete(&doc);
		if (r < 0)
			break;
	}
	yaml_parser_delete(&parser);
	if (r >= 0)
		r = finish(&c);
	free(c.cluster_repo);
	if (r < 0)
		ep_error_printable(err);
	return r < 0 ? r : 0;
}
