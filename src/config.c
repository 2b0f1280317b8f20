/*
 * config.c - from config file and flags to a validated node spec.
 *
 * This module owns the whole way from user input to a complete struct
 * ep_spec: the value checkers (names, addresses, durations, versions), the
 * flag overrides, the YAML loader (see config_yaml.c) and the final
 * validation.  It never prints and never touches node files: notes for the
 * user are handed back in struct ep_notes, errors in struct ep_error (kind
 * EP_ERR_USAGE).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "etcdpilot/config.h"
#include "etcdpilot/error.h"
#include "util/cleanup.h"

static inline void ep_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* A config file larger than this is not a config file. */
#define CONFIG_MAX_BYTES (4u << 20)

void ep_notes_release(struct ep_notes *notes)
{
	if (!notes)
		return;
	for (size_t i = 0; i < notes->n; i++)
		free(notes->v[i]);
	free(notes->v);
	notes->v = NULL;
	notes->n = 0;
}

int ep_notes_add(struct ep_notes *notes, const char *fmt, ...)
{
	if (!notes)
		return 0;
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0)
		return -ENOMEM;
	char **nv = realloc(notes->v, (notes->n + 1) * sizeof(*nv));
	if (!nv) {
		free(s);
		return -ENOMEM;
	}
	notes->v = nv;
	notes->v[notes->n++] = s;
	return 0;
}

void ep_error_printable(struct ep_error *err)
{
	if (!ep_error_isset(err))
		return;
	for (char *p = err->msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

/* ---- value checks ------------------------------------------------------ */

/* Go's time.ParseDuration units, in nanoseconds. */
static const struct {
	const char *name;
	uint64_t ns;
} duration_units[] = {
    {"ns", 1ull},
    {"us", 1000ull},
    {"\xc2\xb5s", 1000ull}, /* U+00B5 micro sign */
    {"\xce\xbcs", 1000ull}, /* U+03BC Greek mu */
    {"ms", 1000000ull},
    {"s", 1000000000ull},
    {"m", 60ull * 1000000000ull},
    {"h", 3600ull * 1000000000ull},
};

int ep_duration_parse(const char *s, uint64_t *ret_ms)
{
	if (!s || !*s)
		return -EINVAL;
	if (*s == '-')
		return -EINVAL;
	if (*s == '+')
		s++;
	if (strcmp(s, "0") == 0) {
		*ret_ms = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	uint64_t total_ns = 0;
	while (*s) {
		if (!isdigit((unsigned char)*s) && *s != '.')
			return -EINVAL;
		/* integer part, then an optional fraction, as Go allows ("1.5h", ".5s") */
		uint64_t whole = 0;
		bool digits = false, range = false;
		while (isdigit((unsigned char)*s)) {
			if (whole > (UINT64_MAX - 9) / 10)
				range = true;
			else
				whole = whole * 10 + (uint64_t)(*s - '0');
			digits = true;
			s++;
		}
		uint64_t frac = 0, scale = 1;
		if (*s == '.') {
			s++;
			while (isdigit((unsigned char)*s)) {
				if (scale < 1000000000000000000ull) {
					frac = frac * 10 + (uint64_t)(*s - '0');
					scale *= 10;
				}
				digits = true;
				s++;
			}
		}
		if (!digits)
			return -EINVAL;
		size_t best = 0;
		uint64_t unit = 0;
		for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
			size_t l = strlen(duration_units[i].name);
			if (l > best && strncmp(s, duration_units[i].name, l) == 0) {
				best = l;
				unit = duration_units[i].ns;
			}
		}
		if (!best)
			return -EINVAL; /* Go: "missing unit in duration" */
		s += best;
		if (range)
			return -ERANGE;
		if (whole > UINT64_MAX / unit)
			return -ERANGE;
		uint64_t v = whole * unit;
		/* frac/scale * unit without overflow: unit <= 3.6e12, frac < 1e18 */
		long double f = (long double)frac * (long double)unit / (long double)scale;
		if ((long double)(UINT64_MAX - v) < f)
			return -ERANGE;
		v += (uint64_t)f;
		if (total_ns > UINT64_MAX - v)
			return -ERANGE;
		total_ns += v;
	}
	/* Go's Duration is an int64 of nanoseconds. */
	if (total_ns > (uint64_t)INT64_MAX)
		return -ERANGE;
	*ret_ms = total_ns / 1000000ull;
	return 0;
}

char *ep_duration_format(uint64_t ms)
{
	char *out = NULL;
	int r;
	if (ms == 0)
		r = asprintf(&out, "0s");
	else if (ms < 1000)
		r = asprintf(&out, "%llums", (unsigned long long)ms);
	else {
		unsigned long long h = ms / 3600000, m = ms / 60000 % 60, sec = ms / 1000 % 60,
				   frac = ms % 1000;
		/* ".5", ".25", ".125": the fraction without trailing zeroes, as Go prints it */
		char fs[8] = "";
		if (frac) {
			unsigned digits = 3;
			while (frac % 10 == 0) {
				frac /= 10;
				digits--;
			}
			snprintf(fs, sizeof(fs), ".%0*llu", (int)digits, frac);
		}
		if (h)
			r = asprintf(&out, "%lluh%llum%llu%ss", h, m, sec, fs);
		else if (m)
			r = asprintf(&out, "%llum%llu%ss", m, sec, fs);
		else
			r = asprintf(&out, "%llu%ss", sec, fs);
	}
	return r < 0 ? NULL : out;
}

static bool is_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? of @len bytes. */
static bool is_dns1123_label_n(const char *s, size_t len)
{
	if (len == 0 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_label_char(s[i]))
			return false;
	return true;
}

bool ep_is_dns1123_subdomain(const char *s)
{
	if (!s)
		return false;
	size_t len = strlen(s);
	if (len == 0 || len > 253)
		return false;
	const char *p = s;
	for (;;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (!is_dns1123_label_n(p, l))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

bool ep_is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];
	if (!s)
		return false;
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* "*.example.com", as Kubernetes' IsWildcardDNS1123Subdomain. */
static bool is_wildcard_subdomain(const char *s)
{
	return s && s[0] == '*' && s[1] == '.' && ep_is_dns1123_subdomain(s + 2);
}

/* Kubernetes' environment variable name rule: [-._a-zA-Z][-._a-zA-Z0-9]*. */
static bool is_env_name(const char *s)
{
	if (!s || !*s || isdigit((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
			return false;
	return true;
}

/*
 * The checkers below say what is wrong with one value, in the words of
 * "'VALUE' is not ... (what is allowed)", or return false when it is fine.
 * Where the value came from (a file position, a flag, a spec field) is the
 * caller's business, so flags, the YAML loader and ep_spec_validate share
 * one wording.
 */
bool ep_check_node_name(const char *v, char *why, size_t len)
{
	/* it is the common name of this node's etcd certificates: X.509 allows 64 */
	if (ep_is_dns1123_subdomain(v) && strlen(v) > 64) {
		snprintf(why, len,
			 "'%.40s...' is %zu characters long: the node name is the common name of "
			 "this node's etcd certificates, which X.509 limits to 64; give a shorter "
			 "name", v, strlen(v));
		return true;
	}
	if (ep_is_dns1123_subdomain(v))
		return false;
	if (v && strlen(v) > 253)
		snprintf(why, len,
			 "'%.40s...' is %zu characters long (a node name has at most 253)", v,
			 strlen(v));
	else
		snprintf(why, len,
			 "'%s' is not a valid node name (lowercase RFC 1123: a-z, 0-9, '-', '.')",
			 v ? v : "");
	return true;
}

bool ep_check_ip(const char *v, char *why, size_t len)
{
	if (ep_is_ip(v))
		return false;
	snprintf(why, len, "'%s' is not an IP address (an IPv4 or IPv6 literal, without brackets)",
		 v ? v : "");
	return true;
}

const char *ep_addr_unusable(const char *v)
{
	unsigned char a[16];
	const unsigned char *v4 = NULL;
	if (inet_pton(AF_INET, v, a) == 1) {
		v4 = a;
	} else if (inet_pton(AF_INET6, v, a) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
		if (!memcmp(a, mapped, 12))
			v4 = a + 12;
		else if (a[0] == 0xff)
			return "a multicast address";
		else if (!memcmp(a, (unsigned char[16]){ 0 }, 16))
			return "the unspecified address";
		else
			return NULL;
	} else {
		return NULL;
	}
	if (v4[0] == 0)
		return v4[1] || v4[2] || v4[3] ? "in 0.0.0.0/8 ('this network', never a destination)"
					       : "the unspecified address";
	if (v4[0] == 255 && v4[1] == 255 && v4[2] == 255 && v4[3] == 255)
		return "the broadcast address";
	if (v4[0] >= 224 && v4[0] < 240)
		return "a multicast address";
	if (v4[0] >= 240)
		return "a reserved address (240.0.0.0/4)";
	return NULL;
}

bool ep_check_advertise_ip(const char *v, char *why, size_t len)
{
	if (ep_check_ip(v, why, len))
		return true;
	const char *bad = ep_addr_unusable(v);
	if (!bad)
		return false;
	snprintf(why, len,
		 "'%s' is %s, which no other member can reach this one at (give this node's own "
		 "IP address, or leave it out to use the address of the default route)",
		 v, bad);
	return true;
}

bool ep_check_version(const char *v, char *why, size_t len)
{
	if (ep_is_version(v))
		return false;
	snprintf(why, len, "'%s' is not an etcd version (X.Y.Z, e.g. 3.6.6)", v ? v : "");
	return true;
}

bool ep_check_san(const char *v, char *why, size_t len)
{
	if (ep_is_ip(v) || ep_is_dns1123_subdomain(v) || is_wildcard_subdomain(v))
		return false;
	snprintf(why, len,
		 "'%s' is not a valid SAN (an IP address, an RFC 1123 DNS name or a wildcard "
		 "like *.example.com)",
		 v ? v : "");
	return true;
}

bool ep_check_arg_name(const char *v, char *why, size_t len)
{
	if (!v || !*v)
		snprintf(why, len,
			 "the flag name is empty (an etcd flag name without dashes, e.g. "
			 "'snapshot-count')");
	else if (v[0] == '-')
		snprintf(why, len,
			 "'%s' starts with a dash (give the etcd flag name without dashes, e.g. "
			 "'%s')",
			 v, v + strspn(v, "-"));
	else if (strchr(v, '='))
		snprintf(why, len,
			 "'%s' contains '=' (put the flag name in name and the value in value)", v);
	else if (strspn(v, " \t\r\n") || strpbrk(v, " \t\r\n"))
		snprintf(why, len,
			 "'%s' contains white space (an etcd flag name, e.g. "
			 "'snapshot-count')",
			 v);
	else if (strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
		 strlen(v))
		snprintf(why, len,
			 "'%s' is not an etcd flag name (letters, digits, '-' and '_', e.g. "
			 "'snapshot-count')",
			 v);
	else
		return false;
	return true;
}

bool ep_check_arg_value(const char *v, char *why, size_t len)
{
	for (const char *p = v ? v : ""; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f) {
			snprintf(why, len,
				 "the value holds %s (a flag value is one line of printable text)",
				 *p == '\n' ? "a newline" : "a control character");
			return true;
		}
	return false;
}

bool ep_check_env_name(const char *v, char *why, size_t len)
{
	if (is_env_name(v))
		return false;
	snprintf(why, len,
		 "'%s' is not a valid environment variable name (letters, digits, '_', '-', '.'; "
		 "not starting with a digit)",
		 v ? v : "");
	return true;
}

bool ep_check_abs_path(const char *v, char *why, size_t len)
{
	size_t n = v ? strlen(v) : 0;
	bool dotdot = v && (strstr(v, "/../") || (n >= 3 && !strcmp(v + n - 3, "/..")));
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			snprintf(why, len,
				 "'%s' contains %s (a path is one line of printable characters)", v,
				 v[i] == '\n' ? "a newline" : "a control character");
			return true;
		}
	if (n && v[0] == '/' && !dotdot)
		return false;
	snprintf(why, len, "'%s' is not an absolute path (a path starting with '/', no '..')",
		 v ? v : "");
	return true;
}

bool ep_check_sha256(const char *v, char *why, size_t len)
{
	size_t n = v ? strlen(v) : 0;
	if (n == 64 && strspn(v, "0123456789abcdefABCDEF") == 64)
		return false;
	snprintf(why, len, "'%s' is not a SHA-256 digest (64 hexadecimal digits)", v ? v : "");
	return true;
}

bool ep_check_url(const char *v, char *why, size_t len)
{
	if (v &&
	    (strncmp(v, "https://", 8) == 0 || strncmp(v, "http://", 7) == 0 ||
	     strncmp(v, "file:///", 8) == 0) &&
	    !strpbrk(v, " \t\r\n"))
		return false;
	snprintf(why, len, "'%s' is not a release URL (https://, http:// or file:///)", v ? v : "");
	return true;
}

/* A container image reference's repository: no spaces, no tag. */
bool ep_check_repository(const char *v, char *why, size_t len)
{
	if (v && *v && !strpbrk(v, " \t\r\n@") && v[strlen(v) - 1] != '/')
		return false;
	snprintf(why, len, "'%s' is not an image repository (e.g. registry.k8s.io)", v ? v : "");
	return true;
}

/* An image tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}, as the OCI distribution spec. */
bool ep_check_image_tag(const char *v, char *why, size_t len)
{
	size_t n = v ? strlen(v) : 0;
	bool ok = n > 0 && n <= 128 && v[0] != '.' && v[0] != '-';
	for (size_t i = 0; ok && i < n; i++)
		ok = (v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z') ||
		     (v[i] >= '0' && v[i] <= '9') || v[i] == '_' || v[i] == '.' || v[i] == '-';
	if (ok)
		return false;
	snprintf(why, len,
		 "'%s' is not an image tag (letters, digits, '_', '.', '-'; e.g. 3.6.6-0)",
		 v ? v : "");
	return true;
}

bool ep_check_mode(const char *v, char *why, size_t len)
{
	enum ep_mode m;
	if (ep_mode_parse(v, &m) == 0)
		return false;
	snprintf(why, len, "unknown mode '%s' (static-pod or systemd)", v ? v : "");
	return true;
}

bool ep_check_key_type(const char *v, char *why, size_t len)
{
	enum ep_key_type k;
	if (ep_key_type_parse(v, &k) == 0)
		return false;
	snprintf(why, len,
		 "unknown key type '%s' (RSA-2048, RSA-3072, RSA-4096, ECDSA-P256 or ECDSA-P384)",
		 v ? v : "");
	return true;
}

/*
 * A positive Go duration into *ret_ms.  @what is "a timeout" etc. for the
 * message; @min_ms the smallest value that makes sense.
 */
bool ep_check_duration(const char *v, uint64_t min_ms, uint64_t *ret_ms, char *why, size_t len)
{
	uint64_t ms = 0;
	int r = ep_duration_parse(v, &ms);
	if (r == -ERANGE)
		snprintf(why, len, "duration '%s' is too long", v);
	else if (r < 0 && v && v[0] == '-')
		snprintf(why, len, "duration '%s' is negative (a positive duration, e.g. '90s')",
			 v);
	else if (r < 0)
		snprintf(why, len,
			 "'%s' is not a duration (Go syntax: a number and a unit, e.g. '90s', "
			 "'1h30m', '8760h')",
			 v ? v : "");
	else if (ms == 0 || ms < min_ms) {
		_cleanup_free_ char *m = ep_duration_format(min_ms ? min_ms : 1);
		snprintf(why, len, "duration '%s' is too short (at least %s)", v, m ? m : "1ms");
	} else {
		*ret_ms = ms;
		return false;
	}
	return true;
}

/* ---- flags ------------------------------------------------------------- */

static int replace_str(char **field, const char *value)
{
	char *c = strdup(value);
	if (!c)
		return -ENOMEM;
	free(*field);
	*field = c;
	return 0;
}

typedef bool (*check_fn)(const char *v, char *why, size_t len);

/* Record that @flag set field @f (or, for the cleared ones, emptied it). */
static int flag_origin(struct ep_spec *spec, enum ep_field f, const char *flag,
		       struct ep_error *err)
{
	if (ep_spec_set_origin(spec, f, EP_ORIGIN_FLAG, flag, NULL) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/*
 * Check @value with @check and store it in the spec's field @f at @field,
 * with @flag as its origin; "--FLAG: why" on failure.
 */
static int flag_str(struct ep_spec *spec, enum ep_field f, char **field, const char *flag,
		    const char *value, check_fn check, struct ep_error *err)
{
	char why[512];
	if (!value)
		return 0;
	if (check && check(value, why, sizeof(why)))
		return ep_error_usage(err, -EINVAL, "%s: %s", flag, why);
	if (replace_str(field, value) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return flag_origin(spec, f, flag, err);
}

static int apply_overrides(struct ep_spec *spec, const struct ep_overrides *ov,
			   struct ep_error *err);

int ep_config_apply_overrides(struct ep_spec *spec, const struct ep_overrides *ov,
			      struct ep_error *err)
{
	int r = apply_overrides(spec, ov, err);
	if (r < 0)
		ep_error_printable(err);
	return r;
}

static int apply_overrides(struct ep_spec *spec, const struct ep_overrides *ov,
			   struct ep_error *err)
{
	char why[512];
	int r;
	if (!ov)
		return 0;
	if ((r = flag_str(spec, EP_FIELD_NAME, &spec->name, "--name", ov->name,
			  ep_check_node_name, err)) < 0 ||
	    (r = flag_str(spec, EP_FIELD_ADVERTISE_ADDRESS, &spec->advertise_address,
			  "--advertise-address", ov->advertise_address, ep_check_advertise_ip,
			  err)) < 0)
		return r;
	if (ov->mode) {
		if (ep_check_mode(ov->mode, why, sizeof(why)))
			return ep_error_usage(err, -EINVAL, "--mode: %s", why);
		ep_mode_parse(ov->mode, &spec->mode);
		if ((r = flag_origin(spec, EP_FIELD_MODE, "--mode", err)) < 0)
			return r;
	}
	if (ov->etcd_version) {
		const char *v =
		    ov->etcd_version[0] == 'v' ? ov->etcd_version + 1 : ov->etcd_version;
		char tagv[64];
		if (ep_check_version(v, why, sizeof(why)))
			return ep_error_usage(err, -EINVAL, "--etcd-version: %s", why);
		if (ep_image_tag_version(spec->image_tag, tagv, sizeof(tagv)) && strcmp(tagv, v))
			return ep_error_usage(
			    err, -EINVAL,
			    "--etcd-version: '%s' contradicts the image tag '%s' "
			    "of the config file (drop etcd.local.imageTag or give "
			    "--etcd-version %s)",
			    v, spec->image_tag, tagv);
		if ((r = flag_str(spec, EP_FIELD_ETCD_VERSION, &spec->etcd_version,
				  "--etcd-version", v, NULL, err)) < 0)
			return r;
	}
	if ((r = flag_str(spec, EP_FIELD_IMAGE_REPOSITORY, &spec->image_repository,
			  "--image-repository", ov->image_repository, ep_check_repository, err)) <
		0 ||
	    (r = flag_str(spec, EP_FIELD_DATA_DIR, &spec->data_dir, "--data-dir", ov->data_dir,
			  ep_check_abs_path, err)) < 0 ||
	    (r = flag_str(spec, EP_FIELD_CERT_DIR, &spec->cert_dir, "--cert-dir", ov->cert_dir,
			  ep_check_abs_path, err)) < 0 ||
	    (r = flag_str(spec, EP_FIELD_MANIFEST_DIR, &spec->manifest_dir, "--manifest-dir",
			  ov->manifest_dir, ep_check_abs_path, err)) < 0)
		return r;
	if (ov->key_type) {
		if (ep_check_key_type(ov->key_type, why, sizeof(why)))
			return ep_error_usage(err, -EINVAL, "--key-type: %s", why);
		ep_key_type_parse(ov->key_type, &spec->key_type);
		if ((r = flag_origin(spec, EP_FIELD_KEY_TYPE, "--key-type", err)) < 0)
			return r;
	}
	if (ov->timeout) {
		if (ep_check_duration(ov->timeout, 1000, &spec->timeout_ms, why, sizeof(why)))
			return ep_error_usage(err, -EINVAL, "--timeout: %s", why);
		if ((r = flag_origin(spec, EP_FIELD_TIMEOUT, "--timeout", err)) < 0)
			return r;
	}

	/* Where the etcd binary comes from: one flag replaces the file's choice. */
	if (ov->etcd_binary && ov->release_url)
		return ep_error_usage(err, -EINVAL,
				      "--etcd-binary: cannot be combined with --release-url (give "
				      "a local binary or a release to download, not both)");
	if (ov->etcd_binary) {
		if ((r = flag_str(spec, EP_FIELD_SD_ETCD_BINARY, &spec->systemd.etcd_binary,
				  "--etcd-binary", ov->etcd_binary, ep_check_abs_path, err)) < 0)
			return r;
		free(spec->systemd.release_url);
		spec->systemd.release_url = NULL;
		/* The file's checksum was of its release tarball, gone with it. */
		free(spec->systemd.etcd_sha256);
		spec->systemd.etcd_sha256 = NULL;
		if ((r = flag_origin(spec, EP_FIELD_SD_RELEASE_URL, "--etcd-binary", err)) < 0 ||
		    (r = flag_origin(spec, EP_FIELD_SD_ETCD_SHA256, "--etcd-binary", err)) < 0)
			return r;
	}
	if (ov->release_url) {
		if ((r = flag_str(spec, EP_FIELD_SD_RELEASE_URL, &spec->systemd.release_url,
				  "--release-url", ov->release_url, ep_check_url, err)) < 0)
			return r;
		free(spec->systemd.etcd_binary);
		spec->systemd.etcd_binary = NULL;
		if ((r = flag_origin(spec, EP_FIELD_SD_ETCD_BINARY, "--release-url", err)) < 0)
			return r;
	}
	if ((r = flag_str(spec, EP_FIELD_SD_ETCD_SHA256, &spec->systemd.etcd_sha256,
			  "--etcd-sha256", ov->etcd_sha256, ep_check_sha256, err)) < 0)
		return r;
	/* --systemctl, else $ETCDPILOT_SYSTEMCTL (when not empty), else the file's. */
	if (ov->systemctl && !ov->systemctl[0])
		return ep_error_usage(err, -EINVAL, "--systemctl: the path is empty");
	if ((r = flag_str(spec, EP_FIELD_SD_SYSTEMCTL, &spec->systemd.systemctl, "--systemctl",
			  ov->systemctl, NULL, err)) < 0)
		return r;
	if (!ov->systemctl && ov->env_systemctl && ov->env_systemctl[0]) {
		if (replace_str(&spec->systemd.systemctl, ov->env_systemctl) < 0 ||
		    ep_spec_set_origin(spec, EP_FIELD_SD_SYSTEMCTL, EP_ORIGIN_ENV,
				       "ETCDPILOT_SYSTEMCTL", NULL) < 0)
			return ep_error_set(err, -ENOMEM, "out of memory");
	}
	if (ov->insecure_skip_checksum >= 0) {
		spec->systemd.insecure_skip_checksum = ov->insecure_skip_checksum != 0;
		if ((r = flag_origin(spec, EP_FIELD_SD_INSECURE_SKIP_CHECKSUM,
				     "--insecure-skip-checksum", err)) < 0)
			return r;
	}
	return 0;
}

/* ---- the whole spec ---------------------------------------------------- */

static int check_field(const char *field, const char *v, check_fn check, struct ep_error *err)
{
	char why[512];
	if (v && check(v, why, sizeof(why)))
		return ep_error_usage(err, -EINVAL, "%s: %s", field, why);
	return 0;
}

/*
 * How directory @a relates to directory @b: 0 apart, 1 the same, 2 @a
 * inside @b, 3 @a contains @b.  Compared by components ("//" and "/./"
 * and a trailing "/" change nothing; ".." is refused before).
 */
static int dir_relation(const char *a, const char *b)
{
	for (;;) {
		while (*a == '/' || (a[0] == '.' && (a[1] == '/' || !a[1])))
			a++;
		while (*b == '/' || (b[0] == '.' && (b[1] == '/' || !b[1])))
			b++;
		if (!*a && !*b)
			return 1;
		if (!*a)
			return 3;
		if (!*b)
			return 2;
		size_t na = strcspn(a, "/"), nb = strcspn(b, "/");
		if (na != nb || memcmp(a, b, na))
			return 0;
		a += na;
		b += nb;
	}
}

/* etcd's data dir shares no directory with the certificates or the manifests. */
static int check_dirs(const struct ep_spec *spec, struct ep_error *err)
{
	static const char *const how[] = { "", "is", "is inside", "contains" };
	char at[EP_ERROR_MAX];
	const struct {
		const char *field, *path, *what;
	} others[] = {
		{ "certificatesDir", spec->cert_dir, "the certificates and keys" },
		{ "manifestDir", spec->manifest_dir, "the kubelet's static pod manifests" },
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		int rel = dir_relation(spec->data_dir, others[i].path);
		if (!rel)
			continue;
		int r = ep_error_usage(err, -EINVAL,
				       "%s: '%s' %s %s '%s': etcd's data and %s must not share a "
				       "directory (resetting the member empties its data dir); give "
				       "the data a directory of its own, e.g. /var/lib/etcd",
				       ep_origin_at(&spec->origin[EP_FIELD_DATA_DIR], "dataDir", at,
						    sizeof(at)),
				       spec->data_dir, how[rel], others[i].field, others[i].path,
				       others[i].what);
		ep_error_printable(err);
		return r;
	}
	return 0;
}

int ep_spec_check_init(const struct ep_spec *spec, struct ep_error *err)
{
	char at[EP_ERROR_MAX];
	if (spec->is_join)
		return ep_error_usage(
		    err, -EINVAL,
		    "%s: a JoinConfiguration is for a node that joins an existing cluster, but "
		    "'etcdpilot init' bootstraps a new one (a second cluster, with a CA of its "
		    "own); nothing was changed.  Join with 'etcdpilot join ENDPOINT --config FILE' "
		    "(ENDPOINT: a client URL of a member of the cluster)",
		    ep_origin_at(&spec->origin[EP_FIELD_JOIN], "JoinConfiguration", at,
				 sizeof(at)));
	if (spec->external.set)
		return ep_error_usage(
		    err, -EINVAL,
		    "%s: etcd.external names an etcd cluster that runs elsewhere, and etcdpilot "
		    "manages only the member on this node (etcd.local); nothing was changed.  "
		    "Remove etcd.external to run a local member here, or keep managing the "
		    "external cluster with its own tools",
		    ep_origin_at(&spec->origin[EP_FIELD_EXTERNAL], "etcd.external", at,
				 sizeof(at)));
	return 0;
}

int ep_spec_validate(const struct ep_spec *spec, struct ep_error *err)
{
	char why[512];
	int r;
	if (!spec->name || !spec->advertise_address || !spec->etcd_version || !spec->image_tag ||
	    !spec->image_repository || !spec->data_dir || !spec->cert_dir || !spec->manifest_dir)
		return ep_error_usage(err, -EINVAL,
				      "the node spec is incomplete (name, advertise address, "
				      "version and paths must be set)");
	if ((r = check_field("name", spec->name, ep_check_node_name, err)) < 0 ||
	    (r = check_field("advertiseAddress", spec->advertise_address, ep_check_advertise_ip,
			     err)) < 0 ||
	    (r = check_field("etcdVersion", spec->etcd_version, ep_check_version, err)) < 0 ||
	    (r = check_field("dataDir", spec->data_dir, ep_check_abs_path, err)) < 0 ||
	    (r = check_field("certificatesDir", spec->cert_dir, ep_check_abs_path, err)) < 0 ||
	    (r = check_field("manifestDir", spec->manifest_dir, ep_check_abs_path, err)) < 0)
		return r;
	if ((unsigned)spec->mode > EP_MODE_SYSTEMD)
		return ep_error_usage(err, -EINVAL, "mode: unknown mode (static-pod or systemd)");
	if ((unsigned)spec->key_type > EP_KEY_ECDSA_P384)
		return ep_error_usage(err, -EINVAL,
				      "keyType: unknown key type (RSA-2048, RSA-3072, RSA-4096, "
				      "ECDSA-P256 or ECDSA-P384)");
	if ((r = check_field("imageRepository", spec->image_repository, ep_check_repository, err)) <
		0 ||
	    (r = check_field("imageTag", spec->image_tag, ep_check_image_tag, err)) < 0)
		return r;
	char tagv[64];
	if (ep_image_tag_version(spec->image_tag, tagv, sizeof(tagv)) &&
	    strcmp(tagv, spec->etcd_version))
		return ep_error_usage(err, -EINVAL,
				      "etcdVersion: '%s' contradicts the image tag '%s' (which "
				      "runs etcd %s; drop one of them)",
				      spec->etcd_version, spec->image_tag, tagv);
	if ((r = check_dirs(spec, err)) < 0 || (r = ep_spec_check_args(spec, err)) < 0)
		return r;
	for (size_t i = 0; i < spec->extra_envs.n; i++)
		if (ep_check_env_name(spec->extra_envs.v[i].name, why, sizeof(why)))
			return ep_error_usage(err, -EINVAL, "extraEnvs[%zu].name: %s", i, why);
	for (size_t i = 0; i < spec->server_cert_sans.n; i++)
		if (ep_check_san(spec->server_cert_sans.v[i], why, sizeof(why)))
			return ep_error_usage(err, -EINVAL, "serverCertSANs[%zu]: %s", i, why);
	for (size_t i = 0; i < spec->peer_cert_sans.n; i++)
		if (ep_check_san(spec->peer_cert_sans.v[i], why, sizeof(why)))
			return ep_error_usage(err, -EINVAL, "peerCertSANs[%zu]: %s", i, why);
	if (spec->external.set && (spec->extra_args.n || spec->extra_envs.n ||
				   spec->server_cert_sans.n || spec->peer_cert_sans.n))
		return ep_error_usage(err, -EINVAL,
				      "external: etcd.external cannot be combined with etcd.local "
				      "settings (extraArgs, extraEnvs, SANs)");
	if (!spec->cert_validity_s || !spec->ca_cert_validity_s || !spec->timeout_ms)
		return ep_error_usage(err, -EINVAL,
				      "certificate validity periods and the timeout must be "
				      "positive");
	if (spec->systemd.etcd_binary && spec->systemd.release_url)
		return ep_error_usage(err, -EINVAL,
				      "systemd.etcdBinary: cannot be combined with "
				      "systemd.releaseURL (give a local binary or a release to "
				      "download, not both)");
	if ((r = check_field("systemd.etcdBinary", spec->systemd.etcd_binary, ep_check_abs_path,
			     err)) < 0 ||
	    (r = check_field("systemd.releaseURL", spec->systemd.release_url, ep_check_url, err)) <
		0 ||
	    (r = check_field("systemd.etcdSHA256", spec->systemd.etcd_sha256, ep_check_sha256,
			     err)) < 0 ||
	    (r = check_field("systemd.unitPath", spec->systemd.unit_path, ep_check_abs_path, err)) <
		0 ||
	    (r = check_field("systemd.envFile", spec->systemd.env_file, ep_check_abs_path, err)) <
		0 ||
	    (r = check_field("systemd.etcdctlEnvFile", spec->systemd.etcdctl_env_file,
			     ep_check_abs_path, err)) < 0 ||
	    (r = check_field("systemd.binDir", spec->systemd.bin_dir, ep_check_abs_path, err)) <
		0 ||
	    (r = check_field("systemd.cacheDir", spec->systemd.cache_dir, ep_check_abs_path, err)) <
		0 ||
	    (r = check_field("operator.backupDir", spec->op.backup_dir, ep_check_abs_path, err)) <
		0)
		return r;
	if (spec->systemd.systemctl && !spec->systemd.systemctl[0])
		return ep_error_usage(err, -EINVAL, "systemd.systemctl: the path is empty");
	/* A checksum is of a release tarball, and skipping it while giving it means nothing. */
	if (spec->systemd.etcd_sha256 && spec->systemd.insecure_skip_checksum)
		return ep_error_usage(err, -EINVAL,
				      "--insecure-skip-checksum contradicts --etcd-sha256 "
				      "(systemd.etcdSHA256): give the checksum to verify, or skip "
				      "verification, not both");
	if (spec->systemd.etcd_sha256 && spec->systemd.etcd_binary)
		return ep_error_usage(err, -EINVAL,
				      "--etcd-sha256 (systemd.etcdSHA256) is the checksum of a "
				      "release tarball, but the binary comes from --etcd-binary "
				      "'%s'; drop one of them",
				      spec->systemd.etcd_binary);
	if (!spec->op.interval_ms || !spec->op.renew_before_ms || !spec->op.backup_interval_ms ||
	    !spec->op.backup_keep)
		return ep_error_usage(err, -EINVAL,
				      "operator: interval, renewBefore, backupInterval and "
				      "backupKeep must be positive");
	if (spec->op.renew_before_ms / 1000 >= spec->cert_validity_s) {
		_cleanup_free_ char *rb = ep_duration_format(spec->op.renew_before_ms);
		_cleanup_free_ char *cv = ep_duration_format(spec->cert_validity_s * 1000);
		return ep_error_usage(err, -EINVAL,
				      "operator.renewBefore: %s is not shorter than "
				      "certificateValidityPeriod (%s): every certificate would be "
				      "renewed at once; give a shorter renewBefore",
				      rb ? rb : "?", cv ? cv : "?");
	}
	return 0;
}

/* ---- loading ----------------------------------------------------------- */

static int read_config_file(const char *path, char **ret, size_t *ret_len, struct ep_error *err)
{
	/* O_NONBLOCK: a FIFO must not hang the command; it is refused below. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ENXIO) /* a socket */
		return ep_error_usage(err, -EINVAL, "%s: not a regular file, not a config file",
				      path);
	if (fd < 0)
		return ep_error_usage(err, -errno, "%s: cannot open the config file: %s", path,
				      strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return ep_error_usage(err, -errno, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return ep_error_usage(err, -EISDIR, "%s: is a directory, not a config file", path);
	if (!S_ISREG(st.st_mode))
		return ep_error_usage(err, -EINVAL, "%s: is %s, not a regular file; refusing to read "
					     "it as the config file",
				      path, S_ISFIFO(st.st_mode) ? "a FIFO" : "a device or special file");
	size_t cap = 8192, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return ep_error_set(err, -ENOMEM, "out of memory");
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= CONFIG_MAX_BYTES)
				return ep_error_usage(err, -EFBIG,
						      "%s: the config file is larger than %u MiB",
						      path, CONFIG_MAX_BYTES >> 20);
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				return ep_error_set(err, -ENOMEM, "out of memory");
			buf = nb;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return ep_error_usage(err, -errno, "%s: reading: %s", path,
					      strerror(errno));
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_len = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

/*
 * Is @name a kubeadm patch file for the etcd target (kubeadm's
 * patches.go: "etcd[suffix][+strategic|+merge|+json].(yaml|json)", the
 * suffix without '.' or '+')?  *@bad_type says '+' came with no known type.
 */
static bool etcd_patch_name(const char *name, bool *bad_type)
{
	size_t n = strlen(name);
	*bad_type = false;
	if (strncmp(name, "etcd", 4) ||
	    !((n > 5 && !strcmp(name + n - 5, ".yaml")) || (n > 5 && !strcmp(name + n - 5, ".json"))))
		return false;
	const char *p = name + 4 + strcspn(name + 4, ".+\n");
	if (*p == '+')
		*bad_type = strncmp(p + 1, "json", 4) && strncmp(p + 1, "merge", 5) &&
			    strncmp(p + 1, "strategic", 9);
	return true;
}

/* The first non-empty etcd patch under @dir (kubeadm walks sub-directories too). */
static int find_etcd_patch(const char *dir, unsigned depth, char **ret)
{
	_cleanup_(ep_closedirp) DIR *d = opendir(dir);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/%s", dir, e->d_name) < 0)
			return -ENOMEM;
		struct stat st;
		if (lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int r = depth < 16 ? find_etcd_patch(p, depth + 1, ret) : 0;
			if (r < 0 || *ret)
				return r;
			continue;
		}
		bool bad_type;
		if (!etcd_patch_name(e->d_name, &bad_type))
			continue;
		if (stat(p, &st) == 0 && st.st_size == 0)
			continue; /* kubeadm ignores an empty file */
		*ret = TAKE_PTR(p);
		return 0;
	}
	return 0;
}

/*
 * kubeadm's patches.directory with a patch for the etcd pod: etcdpilot
 * does not apply patches, and an ignored patch is a pod other than the
 * user meant; refused.  Like --config, the path is the invoking user's.
 */
static int check_patches(const struct ep_spec *spec, struct ep_error *err)
{
	char at[EP_ERROR_MAX];
	if (!spec->patches_dir)
		return 0;
	const char *where = ep_origin_at(&spec->origin[EP_FIELD_PATCHES_DIRECTORY],
					 "patches.directory", at, sizeof(at));
	_cleanup_free_ char *found = NULL;
	int r = find_etcd_patch(spec->patches_dir, 0, &found);
	if (r == -ENOMEM)
		return ep_error_set(err, r, "out of memory");
	if (r < 0)
		return ep_error_usage(err, r,
				      "%s: cannot read '%s': %s (kubeadm cannot either; fix the "
				      "path or remove patches.directory)",
				      where, spec->patches_dir, strerror(-r));
	if (!found)
		return 0;
	r = ep_error_usage(err, -EOPNOTSUPP,
			   "%s: '%s' is a kubeadm patch for the etcd static pod, and etcdpilot "
			   "does not apply patches (strategic, merge or json) yet: the pod would "
			   "not be what the patch says.  Put the change into etcd.local "
			   "(extraArgs, extraEnvs, imageRepository, imageTag), or move the file "
			   "out of the directory; patches for other components are fine",
			   where, found);
	ep_error_printable(err);
	return r;
}

int ep_config_load(struct ep_spec *spec, const char *path, const struct ep_overrides *ov,
		   struct ep_notes *notes, struct ep_error *err)
{
	int r;
	if (path) {
		_cleanup_free_ char *buf = NULL;
		size_t len = 0;
		if ((r = read_config_file(path, &buf, &len, err)) < 0)
			return r;
		if ((r = ep_config_parse(spec, path, buf, len, notes, err)) < 0)
			return r;
		if ((r = check_patches(spec, err)) < 0)
			return r;
	}
	if ((r = ep_config_apply_overrides(spec, ov, err)) < 0)
		return r;
	if ((r = ep_spec_adopt_args(spec, err)) < 0)
		return r;
	if ((r = ep_spec_defaults(spec, err)) < 0)
		return r;
	return ep_spec_validate(spec, err);
}
