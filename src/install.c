/*
 * install.c - getting verified etcd binaries onto a systemd-mode node.
 *
 * This module owns the binary source (a local etcd or a release tarball),
 * the download (libcurl, retries, timeouts), the checksum (EVP SHA-256
 * against --etcd-sha256 or SHA256SUMS), the download cache, the archive
 * extraction (libarchive, in memory, hostile entries refused) and the
 * installation into bin_dir with a version check and rollback.  It must not
 * print (progress and log lines go through callbacks), must not shell out
 * (the only child it runs is the etcd binary itself, with argv), and must
 * never install or extract anything whose checksum was not verified unless
 * the caller asked for --insecure-skip-checksum.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "archive_dl.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/install.h"
#include "util/child.h"
#include "util/cleanup.h"

#define FETCH_ATTEMPTS 4
#define VERSION_OUTPUT_MAX (64 * 1024)
#define VERSION_TIMEOUT_MS 10000

extern char **environ;

static void logf_(const struct ep_install_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void logf_(const struct ep_install_opts *o, const char *fmt, ...)
{
	if (!o->log)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	o->log(o->log_userdata, line);
}

/* ---- checksums ---------------------------------------------------------- */

int ep_sha256_hex_parse(const char *s, char ret[65])
{
	if (!s || strlen(s) != 64)
		return -EINVAL;
	for (size_t i = 0; i < 64; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
		ret[i] = (char)tolower((unsigned char)s[i]);
	}
	ret[64] = '\0';
	return 0;
}

int ep_sha256_hex(const void *data, size_t len, char ret[65], struct ep_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return ep_error_ssl(err, "computing SHA-256");
	for (unsigned i = 0; i < 32; i++)
		snprintf(ret + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int ep_sha256sums_find(const char *text, size_t len, const char *filename, char ret[65],
		       struct ep_error *err)
{
	bool found = false;
	size_t pos = 0;
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - line) : len - pos;
		pos += llen + (nl ? 1 : 0);
		if (llen && line[llen - 1] == '\r')
			llen--;
		/* "<64 hex><space><space or *><name>" */
		if (llen < 67 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*'))
			continue;
		char hex[65], digest[65];
		memcpy(hex, line, 64);
		hex[64] = '\0';
		if (ep_sha256_hex_parse(hex, digest) < 0)
			continue;
		const char *name = line + 66;
		size_t nlen = llen - 66;
		if (nlen >= 2 && name[0] == '.' && name[1] == '/') {
			name += 2;
			nlen -= 2;
		}
		if (nlen != strlen(filename) || memcmp(name, filename, nlen) != 0)
			continue;
		if (found && strcmp(ret, digest) != 0)
			return ep_error_set(err, -EINVAL,
					    "SHA256SUMS lists '%s' twice with different digests",
					    filename);
		memcpy(ret, digest, 65);
		found = true;
	}
	if (!found)
		return ep_error_set(err, -ENOENT, "SHA256SUMS has no entry for '%s'", filename);
	return 0;
}

/* ---- names ------------------------------------------------------------- */

const char *ep_host_arch(void)
{
	struct utsname u;
	if (uname(&u) < 0)
		return NULL;
	static const struct {
		const char *machine, *go;
	} map[] = {
		{ "x86_64", "amd64" }, { "aarch64", "arm64" }, { "arm64", "arm64" },
		{ "ppc64le", "ppc64le" }, { "s390x", "s390x" },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(u.machine, map[i].machine) == 0)
			return map[i].go;
	return NULL;
}

int ep_release_name_parse(const char *name, char *version, size_t vlen, char *arch, size_t alen)
{
	static const char prefix[] = "etcd-v", suffix[] = ".tar.gz", mid[] = "-linux-";
	size_t n = strlen(name);
	if (n <= strlen(prefix) + strlen(suffix) || strncmp(name, prefix, strlen(prefix)) != 0 ||
	    strcmp(name + n - strlen(suffix), suffix) != 0)
		return -EINVAL;
	const char *v = name + strlen(prefix);
	const char *m = strstr(v, mid);
	if (!m)
		return -EINVAL;
	size_t vl = (size_t)(m - v);
	const char *a = m + strlen(mid);
	size_t al = (size_t)(name + n - strlen(suffix) - a);
	if (vl == 0 || vl >= vlen || al == 0 || al >= alen)
		return -EINVAL;
	memcpy(version, v, vl);
	version[vl] = '\0';
	memcpy(arch, a, al);
	arch[al] = '\0';
	if (!ep_is_version(version))
		return -EINVAL;
	for (size_t i = 0; i < al; i++)
		if (!isalnum((unsigned char)arch[i]))
			return -EINVAL;
	return 0;
}

/* ---- download ---------------------------------------------------------- */

struct fetch_buf {
	char *data;
	size_t len, cap, max;
	bool too_big;
	ep_progress_fn progress;
	void *userdata;
};

static size_t fetch_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct fetch_buf *b = userdata;
	size_t n = size * nmemb;
	if (n > b->max - b->len) {
		b->too_big = true;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64 * 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *nd = realloc(b->data, cap);
		if (!nd)
			return 0;
		b->data = nd;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static int fetch_xferinfo(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			  curl_off_t ulnow)
{
	(void)ultotal;
	(void)ulnow;
	struct fetch_buf *b = userdata;
	if (b->progress)
		b->progress(b->userdata, (uint64_t)(dlnow > 0 ? dlnow : 0),
			    (uint64_t)(dltotal > 0 ? dltotal : 0));
	return 0;
}

static bool curl_code_transient(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool url_scheme_ok(const char *url)
{
	return strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0 ||
	       strncmp(url, "file://", 7) == 0;
}

/* One attempt.  0, or -errno with @err; *@transient says whether to retry. */
static int fetch_once(const char *url, struct fetch_buf *b, bool *transient, struct ep_error *err)
{
	*transient = false;
	CURL *c = curl_easy_init();
	if (!c)
		return ep_error_set(err, -ENOMEM, "%s: cannot create a curl handle", url);
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	/*
	 * An https:// release must stay https:// across redirects: a server (or
	 * whoever sits on the path of a plain hop) could otherwise answer the
	 * redirected request with anything, SHA256SUMS included.
	 */
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
			 strncmp(url, "https://", 8) == 0 ? "https" : "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	/* Less than 1 KiB/s for 30 s: the transfer is stuck, give up and retry. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "etcdpilot");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, b->progress ? 0L : 1L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, fetch_xferinfo);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, b);
	CURLcode cc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);

	if (b->too_big)
		return ep_error_set(err, -EFBIG, "%s: larger than %zu bytes", url, b->max);
	if (cc == CURLE_FILE_COULDNT_READ_FILE)
		return ep_error_set(err, -ENOENT, "%s: no such file", url);
	if (cc != CURLE_OK) {
		*transient = curl_code_transient(cc);
		return ep_error_set(err, -EIO, "%s: %s", url,
				    errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	if (strncmp(url, "file://", 7) == 0 || status == 200)
		return 0;
	if (status == 404 || status == 410)
		return ep_error_set(err, -ENOENT, "%s: HTTP %ld (not found)", url, status);
	*transient = status >= 500 || status == 429 || status == 408;
	return ep_error_set(err, -EIO, "%s: HTTP %ld", url, status);
}

int ep_fetch(const char *url, size_t max, unsigned retry_base_ms, ep_progress_fn progress,
	     void *userdata, char **ret, size_t *ret_len, struct ep_error *err)
{
	if (!url_scheme_ok(url))
		return ep_error_usage(err, -EINVAL,
				      "'%s': unsupported URL; use https://, http:// or file://", url);
	static bool curl_ready;
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return ep_error_set(err, -EIO, "cannot initialise libcurl");
		curl_ready = true;
	}
	unsigned delay = retry_base_ms ? retry_base_ms : 500;
	struct ep_error last = { 0 };
	for (int attempt = 1; attempt <= FETCH_ATTEMPTS; attempt++) {
		struct fetch_buf b = { .max = max, .progress = progress, .userdata = userdata };
		bool transient = false;
		ep_error_clear(&last);
		int r = fetch_once(url, &b, &transient, &last);
		if (r == 0) {
			if (!b.data) {
				b.data = strdup("");
				if (!b.data)
					return ep_error_set(err, -ENOMEM, "out of memory");
			}
			*ret = b.data;
			*ret_len = b.len;
			return 0;
		}
		free(b.data);
		if (!transient || attempt == FETCH_ATTEMPTS) {
			if (transient)
				ep_error_prefix(&last, "after %d attempts", attempt);
			if (err && !ep_error_isset(err))
				*err = last;
			return r;
		}
		sleep_ms(delay);
		delay *= 2;
	}
	return -EIO; /* not reached */
}

/* ---- archive ----------------------------------------------------------- */

void ep_release_files_release(struct ep_release_files *f)
{
	if (!f)
		return;
	free(f->etcd);
	free(f->etcdctl);
	free(f->etcdutl);
	memset(f, 0, sizeof(*f));
}

static bool has_dotdot(const char *p)
{
	for (const char *s = p; (s = strstr(s, "..")); s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return true;
	return false;
}

/*
 * Why entry @name (link target @target, may be NULL) is hostile; NULL if
 * fine.  Upstream release tarballs hold no links at all, so a link target
 * is judged by its text alone and strictly: absolute, or with a ".."
 * component anywhere, is refused.  Resolving it lexically is not enough:
 * with "d -> ." beside it, "l -> d/../.." climbs out although it looks as if
 * it stayed inside.
 */
static const char *entry_hostile(const char *name, const char *target, bool symlink)
{
	if (name[0] == '/')
		return "absolute path";
	if (has_dotdot(name))
		return "'..' in its path";
	if (!target)
		return NULL;
	if (target[0] == '/')
		return symlink ? "symbolic link to an absolute path" : "hard link to an absolute path";
	if (has_dotdot(target))
		return symlink ? "symbolic link with '..' in its target"
			       : "hard link with '..' in its target";
	return NULL;
}

/* "./a//b/" -> "a/b" into @buf. */
static void entry_name_clean(const char *name, char *buf, size_t len)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	size_t o = 0;
	for (const char *s = name; *s && o + 1 < len; s++) {
		if (*s == '/' && (o == 0 ? false : buf[o - 1] == '/'))
			continue;
		buf[o++] = *s;
	}
	while (o > 1 && buf[o - 1] == '/')
		o--;
	buf[o] = '\0';
}

static int read_entry_data(struct archive *a, const char *name, int64_t size, char **ret,
			   size_t *ret_len, struct ep_error *err)
{
	if (size < 0 || (uint64_t)size > EP_INSTALL_MAX_SIZE)
		return ep_error_set(err, -EFBIG, "archive entry '%s' is too large", name);
	char *buf = malloc((size_t)size + 1);
	if (!buf)
		return ep_error_set(err, -ENOMEM, "out of memory");
	size_t got = 0;
	while (got < (size_t)size) {
		la_ssize_t n = sym_archive_read_data(a, buf + got, (size_t)size - got);
		if (n < 0) {
			free(buf);
			return ep_error_set(err, -EIO, "reading archive entry '%s': %s", name,
					    sym_archive_error_string(a));
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got != (size_t)size) {
		free(buf);
		return ep_error_set(err, -EIO, "archive entry '%s' is truncated", name);
	}
	free(*ret); /* a later duplicate entry wins, as tar would have it */
	*ret = buf;
	*ret_len = got;
	return 0;
}

int ep_release_extract(const void *data, size_t len, const char *topdir,
		       struct ep_release_files *ret, struct ep_error *err)
{
	int r = ep_archive_dl_open(err);
	if (r < 0)
		return r;
	struct archive *a = sym_archive_read_new();
	if (!a)
		return ep_error_set(err, -ENOMEM, "out of memory");
	sym_archive_read_support_filter_gzip(a);
	sym_archive_read_support_format_tar(a);
	if (sym_archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		r = ep_error_set(err, -EINVAL, "not a gzip'd tar archive: %s",
				 sym_archive_error_string(a));
		goto out;
	}
	size_t tlen = strlen(topdir);
	for (;;) {
		struct archive_entry *e;
		int ar = sym_archive_read_next_header(a, &e);
		if (ar == ARCHIVE_EOF)
			break;
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
			r = ep_error_set(err, -EINVAL, "corrupt archive: %s",
					 sym_archive_error_string(a));
			goto out;
		}
		const char *raw = sym_archive_entry_pathname(e);
		if (!raw || !raw[0]) {
			r = ep_error_set(err, -EPERM, "archive has an entry without a name; refusing "
						      "the whole archive");
			goto out;
		}
		const char *sym = sym_archive_entry_symlink(e);
		const char *hard = sym_archive_entry_hardlink(e);
		const char *why = entry_hostile(raw, sym ? sym : hard, sym != NULL);
		if (why) {
			r = ep_error_set(err, -EPERM,
					 "archive entry '%s'%s%s: %s; refusing the whole archive", raw,
					 sym || hard ? " -> " : "", sym ? sym : hard ? hard : "", why);
			goto out;
		}
		char name[4096];
		entry_name_clean(raw, name, sizeof(name));
		if (strncmp(name, topdir, tlen) != 0 || name[tlen] != '/')
			continue;
		const char *base = name + tlen + 1;
		char **dst = NULL;
		size_t *dlen = NULL;
		if (strcmp(base, "etcd") == 0) {
			dst = &ret->etcd;
			dlen = &ret->etcd_len;
		} else if (strcmp(base, "etcdctl") == 0) {
			dst = &ret->etcdctl;
			dlen = &ret->etcdctl_len;
		} else if (strcmp(base, "etcdutl") == 0) {
			dst = &ret->etcdutl;
			dlen = &ret->etcdutl_len;
		} else {
			continue;
		}
		if (sym_archive_entry_filetype(e) != AE_IFREG || hard) {
			r = ep_error_set(err, -EPERM,
					 "archive entry '%s' is not a regular file; refusing the "
					 "whole archive", raw);
			goto out;
		}
		r = read_entry_data(a, raw, sym_archive_entry_size(e), dst, dlen, err);
		if (r < 0)
			goto out;
	}
	if (!ret->etcd || !ret->etcdctl) {
		r = ep_error_set(err, -ENOENT, "archive has no '%s/%s'", topdir,
				 ret->etcd ? "etcdctl" : "etcd");
		goto out;
	}
out:
	sym_archive_read_free(a);
	if (r < 0)
		ep_release_files_release(ret); /* a refused archive gives nothing, not even half */
	return r;
}

/* ---- running the binary ------------------------------------------------ */

/*
 * Run "@path @arg" (no shell, stdin /dev/null, a minimal environment,
 * @timeout_ms at most for all of it, exit included) and capture
 * stdout and stderr (at most VERSION_OUTPUT_MAX bytes) into *@ret_out
 * (heap, NUL-terminated); the exit status (or 128 + signal) goes to
 * *@ret_status.
 */
static int run_capture_argv(const char *path, char *const *argv, uint64_t timeout_ms,
			    char **ret_out, int *ret_status, struct ep_error *err)
{
	(void)path; /* argv[0] */
	static const char *const envp[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"ETCDCTL_API=3", NULL
	};
	struct ep_child child = {
		.argv = (const char *const *)argv,
		.envp = envp,
		.timeout_ms = timeout_ms,
		.output_max = VERSION_OUTPUT_MAX,
	};
	struct ep_child_result res = { 0 };
	int r = ep_child_run(&child, &res, err);
	if (r < 0)
		return r;
	*ret_status = res.status;
	*ret_out = TAKE_PTR(res.output);
	ep_child_result_release(&res);
	return 0;
}

static int run_capture(const char *path, const char *arg, uint64_t timeout_ms, char **ret_out,
		       int *ret_status, struct ep_error *err)
{
	char *argv[] = { (char *)path, (char *)arg, NULL };
	return run_capture_argv(path, argv, timeout_ms, ret_out, ret_status, err);
}

/* The deadline of each run of a new binary (--version, the extraArgs check). */
static uint64_t version_timeout(const struct ep_install_opts *o)
{
	return o && o->version_timeout_ms ? o->version_timeout_ms : VERSION_TIMEOUT_MS;
}

static int binary_version(const char *path, bool etcdctl, uint64_t timeout_ms, char *buf,
			  size_t len, struct ep_error *err)
{
	const char *arg = etcdctl ? "version" : "--version";
	_cleanup_free_ char *out = NULL;
	int status = 0;
	int r = run_capture(path, arg, timeout_ms, &out, &status, err);
	if (r < 0)
		return r;
	if (status != 0)
		return ep_error_set(err, -EIO, "'%s %s' failed (%s %d)", path, arg,
				    status < 128 ? "exit status" : "signal",
				    status < 128 ? status : status - 128);
	const char *key = etcdctl ? "etcdctl version: " : "etcd Version: ";
	for (char *line = out; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (strncmp(line, key, strlen(key)) == 0) {
			const char *v = line + strlen(key);
			while (*v == ' ')
				v++;
			if (*v == 'v')
				v++;
			char ver[32];
			snprintf(ver, sizeof(ver), "%.*s", (int)strcspn(v, " \r\t"), v);
			if (!ep_is_version(ver))
				break;
			if (strlen(ver) >= len)
				return ep_error_set(err, -ERANGE, "version too long");
			memcpy(buf, ver, strlen(ver) + 1);
			return 0;
		}
		line = nl ? nl + 1 : NULL;
	}
	return ep_error_set(err, -EINVAL, "'%s %s' printed no '%sX.Y.Z' line", path, arg, key);
}

int ep_etcd_binary_version(const char *path, bool etcdctl, char *buf, size_t len,
			   struct ep_error *err)
{
	return binary_version(path, etcdctl, VERSION_TIMEOUT_MS, buf, len, err);
}

static int check_args(const char *path, const char *version, const struct ep_kvv *args,
		      const char *env_file, uint64_t timeout_ms, struct ep_error *err)
{
	if (!args->n)
		return 0;
	/*
	 * etcd parses every flag before it acts on --version, with the same
	 * parser that reads the unit's environment: "etcd --version --a=b ..."
	 * exits 0 exactly when each name is one of its flags and each value
	 * parses.  (Its --help is no list to check against: 3.4 accepts flags
	 * such as --unsafe-no-fsync that it does not show.)
	 */
	_cleanup_free_ char **argv = calloc(args->n + 3, sizeof(char *));
	if (!argv)
		return ep_error_set(err, -ENOMEM, "out of memory");
	argv[0] = (char *)path;
	argv[1] = "--version";
	int r = 0;
	for (size_t i = 0; i < args->n && r == 0; i++)
		if (asprintf(&argv[i + 2], "--%s=%s", args->v[i].name, args->v[i].value) < 0) {
			argv[i + 2] = NULL;
			r = ep_error_set(err, -ENOMEM, "out of memory");
		}
	_cleanup_free_ char *out = NULL;
	int status = 0;
	if (r == 0)
		r = run_capture_argv(path, argv, timeout_ms, &out, &status, err);
	for (size_t i = 0; i < args->n; i++)
		free(argv[i + 2]);
	if (r < 0)
		return ep_error_prefix(err, "checking extraArgs with '%s --version'", path);
	if (status == 0)
		return 0;
	/* The first line says what etcd refused: "flag provided but not defined: -x". */
	char line[512];
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(out, "\n"), out);
	const char *undefined = "flag provided but not defined: -";
	if (!strncmp(line, undefined, strlen(undefined)))
		return ep_error_usage(err, -EINVAL,
				      "etcd %s has no flag '--%s'; in %s it would only be warned "
				      "about and ignored, while the static pod would refuse it: fix "
				      "or remove that extraArgs entry",
				      version, line + strlen(undefined), env_file);
	return ep_error_usage(err, -EINVAL,
			      "etcd %s refuses the extraArgs: %s; in %s it would be warned about "
			      "or ignored, while the static pod would not start: fix that entry",
			      version, line[0] ? line : "(no message)", env_file);
}

int ep_etcd_check_args(const char *path, const char *version, const struct ep_kvv *args,
		       const char *env_file, struct ep_error *err)
{
	return check_args(path, version, args, env_file, VERSION_TIMEOUT_MS, err);
}

/*
 * etcd reads an ETCD_* variable it has no flag for as a warning
 * ("unrecognized environment variable") and runs on without it, while the
 * static pod's etcd refuses the unknown flag.  So in systemd mode the
 * extraArgs must be ones the etcd about to run (@etcd, version @version)
 * itself accepts.  EP_ERR_USAGE when one is not.
 */
static int check_extra_args(const struct ep_spec *spec, const char *etcd, const char *version,
			    uint64_t timeout_ms, struct ep_error *err)
{
	return check_args(etcd, version, &spec->extra_args, spec->systemd.env_file, timeout_ms,
			  err);
}

/* ---- sources ----------------------------------------------------------- */

/*
 * The binaries to install, wherever they came from, and - for a release -
 * what goes into the cache once they have passed every check (never
 * before: a refused archive must not be left behind as if it were good).
 */
struct staged {
	struct ep_release_files f;
	char version[32];
	char source[4096]; /* for messages */
	char *cache;       /* the cached tarball's path under the root; NULL: no caching */
	char *cache_node;  /* the same as a node path, for messages */
	char *tar;         /* a downloaded tarball to cache; NULL when the cache holds it */
	size_t tar_len;
	char digest[65];   /* its verified sha256 */
	bool record;       /* the digest is to be recorded beside it (not there yet) */
};

static void staged_release(struct staged *st)
{
	ep_release_files_release(&st->f);
	free(st->cache);
	free(st->cache_node);
	free(st->tar);
}

static int stage_local(const struct ep_spec *spec, const struct ep_install_opts *o,
		       struct staged *st, struct ep_error *err)
{
	const char *etcd = spec->systemd.etcd_binary;
	if (etcd[0] != '/')
		return ep_error_usage(err, -EINVAL, "--etcd-binary '%s': not an absolute path",
				      etcd);
	_cleanup_free_ char *dir = strdup(etcd);
	if (!dir)
		return ep_error_set(err, -ENOMEM, "out of memory");
	*strrchr(dir, '/') = '\0';
	char ctl[4096], utl[4096];
	snprintf(ctl, sizeof(ctl), "%s/etcdctl", dir);
	snprintf(utl, sizeof(utl), "%s/etcdutl", dir);
	snprintf(st->source, sizeof(st->source), "%s", etcd);
	if (access(etcd, X_OK) < 0)
		return ep_error_usage(err, -errno, "--etcd-binary '%s': %s", etcd, strerror(errno));
	if (access(ctl, X_OK) < 0)
		return ep_error_usage(err, -errno,
				      "--etcd-binary '%s': no executable etcdctl beside it (%s): %s",
				      etcd, ctl, strerror(errno));
	int r = binary_version(etcd, false, version_timeout(o), st->version, sizeof(st->version),
			       err);
	if (r < 0)
		return ep_error_prefix(err, "--etcd-binary");
	logf_(o, "[install] Using the local etcd %s (%s)", st->version, etcd);
	/* The binaries are read even on a dry run: comparing is not changing. */
	r = ep_read_file(etcd, EP_INSTALL_MAX_SIZE, false, &st->f.etcd, &st->f.etcd_len, err);
	if (r >= 0)
		r = ep_read_file(ctl, EP_INSTALL_MAX_SIZE, false, &st->f.etcdctl,
				 &st->f.etcdctl_len, err);
	if (r >= 0 && access(utl, X_OK) == 0)
		r = ep_read_file(utl, EP_INSTALL_MAX_SIZE, false, &st->f.etcdutl,
				 &st->f.etcdutl_len, err);
	return r;
}

/* Where a release lives: the tarball's URL, its name and SHA256SUMS' URL. */
struct release {
	char tar_url[4096];
	char sums_url[4096];
	char name[256];
	char version[32];
	char arch[32];
};

static int release_resolve(const struct ep_spec *spec, const struct ep_install_opts *o,
			   struct release *rel, struct ep_error *err)
{
	const char *url = spec->systemd.release_url;
	if (!url_scheme_ok(url))
		return ep_error_usage(err, -EINVAL,
				      "--release-url '%s': use https://, http:// or file://", url);
	const char *host_arch = ep_host_arch();
	if (!host_arch)
		return ep_error_set(err, -ENOTSUP, "unknown machine architecture; etcd publishes "
						   "amd64, arm64, ppc64le and s390x builds");
	size_t n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n >= 7 && strncmp(url + n - 7, ".tar.gz", 7) == 0) {
		const char *slash = memrchr(url, '/', n);
		snprintf(rel->name, sizeof(rel->name), "%.*s", (int)(url + n - slash - 1),
			 slash + 1);
		if (ep_release_name_parse(rel->name, rel->version, sizeof(rel->version),
					  rel->arch, sizeof(rel->arch)) < 0)
			return ep_error_usage(err, -EINVAL,
					      "--release-url '%s': the tarball must be named "
					      "etcd-vX.Y.Z-linux-<arch>.tar.gz", url);
		snprintf(rel->tar_url, sizeof(rel->tar_url), "%.*s", (int)n, url);
		snprintf(rel->sums_url, sizeof(rel->sums_url), "%.*s/SHA256SUMS",
			 (int)(slash - url), url);
	} else {
		const char *v = o->want_version ? o->want_version : spec->etcd_version;
		snprintf(rel->version, sizeof(rel->version), "%s", v);
		snprintf(rel->arch, sizeof(rel->arch), "%s", host_arch);
		snprintf(rel->name, sizeof(rel->name), "etcd-v%s-linux-%s.tar.gz", rel->version,
			 rel->arch);
		snprintf(rel->tar_url, sizeof(rel->tar_url), "%.*s/%s", (int)n, url, rel->name);
		snprintf(rel->sums_url, sizeof(rel->sums_url), "%.*s/SHA256SUMS", (int)n, url);
	}
	if (strcmp(rel->arch, host_arch) != 0)
		return ep_error_usage(err, -EINVAL,
				      "--release-url '%s': built for %s, but this machine is %s",
				      url, rel->arch, host_arch);
	if (o->want_version && strcmp(o->want_version, rel->version) != 0)
		return ep_error_usage(err, -EINVAL,
				      "--release-url '%s' is etcd %s, but etcd %s was asked for; "
				      "make --etcd-version and the release agree", url,
				      rel->version, o->want_version);
	return 0;
}

/* The digest SHA256SUMS beside the tarball lists for it, into @want. */
static int sums_digest(const struct ep_install_opts *o, const struct release *rel, char want[65],
		       struct ep_error *err)
{
	if (strncmp(rel->sums_url, "http://", 7) == 0)
		logf_(o, "[install] WARNING: %s comes over plain http:// from the same server as the "
			 "tarball: it catches a damaged download but authenticates nothing; pass "
			 "--etcd-sha256 HEX from a source you trust, or use an https:// release URL",
		      rel->sums_url);
	_cleanup_free_ char *sums = NULL;
	size_t slen = 0;
	struct ep_error e2 = { 0 };
	int r = ep_fetch(rel->sums_url, 1024 * 1024, o->retry_base_ms, NULL, NULL, &sums, &slen,
			 &e2);
	if (r == -ENOENT)
		return ep_error_set(err, r,
				    "no checksum for %s: %s; pass --etcd-sha256 HEX (or, "
				    "dangerously, --insecure-skip-checksum)", rel->name, e2.msg);
	if (r < 0)
		return ep_error_set(err, r, "fetching the checksums: %s", e2.msg);
	r = ep_sha256sums_find(sums, slen, rel->name, want, &e2);
	if (r < 0)
		return ep_error_set(err, r, "no checksum for %s: %s (%s); pass --etcd-sha256 HEX",
				    rel->name, e2.msg, rel->sums_url);
	logf_(o, "[install] Expecting sha256 %s for %s (from %s)", want, rel->name, rel->sums_url);
	return 0;
}

/*
 * The digest recorded beside the cached tarball @name (in sha256sum's
 * format, written only after that tarball was verified and its etcd had
 * passed its checks) into @ret; "" when there is none or it is unreadable.
 */
static void recorded_digest(const char *root, const char *path, const char *name, char ret[65])
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	ret[0] = '\0';
	if (ep_root_read_file(root, path, 4096, true, &text, &len, NULL) < 0 ||
	    ep_sha256sums_find(text, len, name, ret, NULL) < 0)
		ret[0] = '\0';
}

/*
 * Get the release's binaries: from the cache when the cached tarball has
 * the digest it must have (--etcd-sha256 when given, else the one recorded
 * when it was cached, else SHA256SUMS'), else downloaded and verified.
 * Returns 0 with @st filled, 1 on a dry run that would have to download the
 * tarball (nothing staged), or a negative errno with @err set.
 */
static int stage_release(const struct ep_spec *spec, const struct ep_install_opts *o,
			 struct staged *st, struct ep_error *err)
{
	struct release rel = { 0 };
	int r = release_resolve(spec, o, &rel, err);
	if (r < 0)
		return r;
	snprintf(st->version, sizeof(st->version), "%s", rel.version);
	snprintf(st->source, sizeof(st->source), "%s", rel.tar_url);

	char want[65] = "", recorded[65] = "", got[65] = "";
	const char *via = NULL;
	bool insecure = false;
	if (spec->systemd.etcd_sha256) {
		if (ep_sha256_hex_parse(spec->systemd.etcd_sha256, want) < 0)
			return ep_error_usage(err, -EINVAL,
					      "--etcd-sha256 '%s': not 64 hexadecimal digits",
					      spec->systemd.etcd_sha256);
		via = "--etcd-sha256";
	} else if (spec->systemd.insecure_skip_checksum) {
		insecure = true;
		logf_(o, "[install] WARNING: --insecure-skip-checksum: NOT VERIFYING %s; whatever "
			 "the server sends will be installed and run as root", rel.tar_url);
	}

	/* An unverified tarball is neither taken from the cache nor put into it. */
	_cleanup_free_ char *data = NULL, *record_path = NULL;
	size_t len = 0;
	bool cached = false;
	if (!insecure) {
		if (asprintf(&st->cache_node, "%s/v%s/%s", spec->systemd.cache_dir, rel.version,
			     rel.name) < 0) {
			st->cache_node = NULL;
			return ep_error_set(err, -ENOMEM, "out of memory");
		}
		/* st->cache only says that a cache is used (the cache goes through ep_root_*()) */
		r = ep_root_path(o->root, st->cache_node, &st->cache, err);
		if (r < 0)
			return r;
		if (asprintf(&record_path, "%s.sha256", st->cache_node) < 0) {
			record_path = NULL;
			return ep_error_set(err, -ENOMEM, "out of memory");
		}
		recorded_digest(o->root, record_path, rel.name, recorded);
		/*
		 * What a run killed while it cached the tarball left beside it (a
		 * partial tarball can be hundreds of MB).  A real run holds the
		 * journal's lock, so nobody else is writing the cache now; a dry
		 * run only looks.
		 */
		if (!o->dry_run) {
			(void)ep_root_write_atomic_sweep(o->root, st->cache_node, false, NULL);
			(void)ep_root_write_atomic_sweep(o->root, record_path, false, NULL);
		}
	}
	if (!insecure && ep_root_exists(o->root, st->cache_node)) {
		if (!want[0] && recorded[0]) {
			memcpy(want, recorded, sizeof(want));
			via = "the digest recorded when it was verified";
		}
		if (!want[0]) {
			r = sums_digest(o, &rel, want, err);
			if (r < 0)
				return r;
			via = "SHA256SUMS";
		}
		/* Re-verified on every use: a cache is only as good as its last check. */
		struct ep_error e2 = { 0 };
		if (ep_root_read_file(o->root, st->cache_node, EP_INSTALL_MAX_SIZE, true, &data, &len,
				      &e2) == 0 &&
		    ep_sha256_hex(data, len, got, &e2) == 0 && strcmp(got, want) == 0) {
			logf_(o, "[install] Using the cached %s (sha256 verified: %s)", st->cache_node,
			      via);
			cached = true;
		} else {
			logf_(o, "[install] The cached %s does not match its checksum (sha256 %s); "
				 "downloading it again", st->cache_node, e2.msg[0] ? e2.msg : got);
			free(data);
			data = NULL;
			/* A recorded digest that failed proves nothing about the download. */
			if (via && !strcmp(via, "the digest recorded when it was verified"))
				want[0] = '\0';
		}
	}
	if (!cached) {
		if (!insecure && !want[0]) {
			r = sums_digest(o, &rel, want, err);
			if (r < 0)
				return r;
			via = "SHA256SUMS";
		}
		if (o->dry_run && insecure) {
			logf_(o, "[install] Would download %s (NOT VERIFIED: --insecure-skip-checksum) "
				 "and not cache it", rel.tar_url);
			return 1; /* nothing staged */
		}
		if (o->dry_run) {
			logf_(o, "[install] Would download %s, verify it (%s) and cache it in %s",
			      rel.tar_url, via, st->cache_node);
			return 1;
		}
		logf_(o, "[install] Downloading %s", rel.tar_url);
		r = ep_fetch(rel.tar_url, EP_INSTALL_MAX_SIZE, o->retry_base_ms, o->progress,
			     o->progress_userdata, &data, &len, err);
		if (r < 0)
			return ep_error_prefix(err, "downloading etcd %s", rel.version);
		r = ep_sha256_hex(data, len, got, err);
		if (r < 0)
			return r;
		if (want[0] && strcmp(got, want) != 0)
			return ep_error_set(err, -EBADMSG,
					    "checksum mismatch for %s: sha256 %s, expected %s; "
					    "nothing was installed", rel.tar_url, got, want);
		if (want[0])
			logf_(o, "[install] Verified sha256 %s", got);
	}
	char topdir[300];
	snprintf(topdir, sizeof(topdir), "etcd-v%s-linux-%s", rel.version, rel.arch);
	r = ep_release_extract(data, len, topdir, &st->f, err);
	if (r < 0)
		return ep_error_prefix(err, "%s", rel.name);
	if (!insecure) {
		if (!cached) {
			st->tar = TAKE_PTR(data);
			st->tar_len = len;
		}
		memcpy(st->digest, got, sizeof(st->digest));
		st->record = strcmp(recorded, got) != 0;
	}
	return 0;
}

/*
 * Put the verified tarball of @st and its digest into the cache (each
 * atomically; the digest last, so that it never vouches for a tarball that
 * is not there).  Nothing to do when the cache holds both already.
 */
static int cache_release(const struct staged *st, const struct ep_install_opts *o,
			 struct ep_error *err)
{
	if (!st->cache || (!st->tar && !st->record))
		return 0;
	_cleanup_free_ char *dir = strdup(st->cache_node), *record = NULL, *line = NULL;
	const char *name = strrchr(st->cache_node, '/') + 1;
	if (!dir || asprintf(&record, "%s.sha256", st->cache_node) < 0 ||
	    asprintf(&line, "%s  %s\n", st->digest, name) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	*strrchr(dir, '/') = '\0';
	int r = ep_root_mkdir_p(o->root, dir[0] ? dir : "/", 0755, err);
	if (r >= 0 && st->tar)
		r = ep_root_write_atomic(o->root, st->cache_node, st->tar, st->tar_len, 0644, err);
	if (r >= 0 && st->record)
		r = ep_root_write_atomic(o->root, record, line, strlen(line), 0644, err);
	if (r < 0)
		return ep_error_prefix(err, "caching the release");
	if (st->tar)
		logf_(o, "[install] Cached %s (sha256 %s)", st->cache_node, st->digest);
	return 0;
}

int ep_install_source_version(const struct ep_spec *spec, const char *want_version, char *buf,
			      size_t len, struct ep_error *err)
{
	char v[32];
	if (!spec->systemd.etcd_binary == !spec->systemd.release_url)
		return ep_error_usage(err, -EINVAL,
				      spec->systemd.etcd_binary
					      ? "--etcd-binary and --release-url exclude each other"
					      : "systemd mode needs etcd: pass --etcd-binary PATH or "
						"--release-url URL");
	if (spec->systemd.etcd_binary) {
		if (spec->systemd.etcd_binary[0] != '/')
			return ep_error_usage(err, -EINVAL,
					      "--etcd-binary '%s': not an absolute path",
					      spec->systemd.etcd_binary);
		int r = ep_etcd_binary_version(spec->systemd.etcd_binary, false, v, sizeof(v), err);
		if (r < 0) {
			if (err)
				err->kind = EP_ERR_USAGE;
			return ep_error_prefix(err, "--etcd-binary");
		}
		if (want_version && strcmp(want_version, v) != 0)
			return ep_error_usage(err, -EINVAL,
					      "--etcd-binary '%s' is etcd %s, but etcd %s was asked "
					      "for; make --etcd-version and the binary agree",
					      spec->systemd.etcd_binary, v, want_version);
	} else {
		struct ep_install_opts o = { .want_version = want_version };
		struct release rel = { 0 };
		int r = release_resolve(spec, &o, &rel, err);
		if (r < 0)
			return r;
		snprintf(v, sizeof(v), "%s", rel.version);
	}
	if (strlen(v) >= len)
		return ep_error_set(err, -ERANGE, "version too long");
	memcpy(buf, v, strlen(v) + 1);
	return 0;
}

/* ---- installing -------------------------------------------------------- */

struct slot {
	const char *name;
	const char *data;
	size_t len;
	char *path;      /* the target's real path under the root (messages) */
	int dfd;         /* where the temp file is: the binaries directory (or scratch); borrowed */
	char *tmp_name;  /* the new binary beside the target (in @dfd) */
	char *tmp;       /* its real path, to run it */
	char *backup;    /* a hard link to the previous binary while the new one goes in */
	mode_t prev_mode;
	bool had_prev;
	bool differs;    /* content (or file type) differs: the binary is replaced */
	bool bad_mode;   /* same content, mode other than 0755: only chmod'ed */
	bool placed;
};

static void slots_release(struct slot *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i].tmp_name && s[i].dfd >= 0)
			unlinkat(s[i].dfd, s[i].tmp_name, 0);
		if (s[i].backup && s[i].dfd >= 0)
			unlinkat(s[i].dfd, s[i].backup, 0);
		free(s[i].path);
		free(s[i].tmp);
		free(s[i].tmp_name);
		free(s[i].backup);
	}
}

/*
 * Write @len bytes at @data into a new hidden file ".@name.etcdpilot-new.XXXXXX"
 * of the directory @dfd (named @dir), mode 0755, fsynced; its name and real
 * path into @s.
 */
static int write_temp(int dfd, const char *dir, struct slot *s, struct ep_error *err)
{
	static const char abc[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char name[300];
	int fd = -1;
	for (int attempt = 0; fd < 0 && attempt < 16; attempt++) {
		unsigned char rnd[6];
		if (getentropy(rnd, sizeof(rnd)) < 0)
			memset(rnd, attempt * 7 + getpid(), sizeof(rnd));
		char suffix[7];
		for (size_t i = 0; i < 6; i++)
			suffix[i] = abc[rnd[i] % (sizeof(abc) - 1)];
		suffix[6] = '\0';
		snprintf(name, sizeof(name), ".%s.etcdpilot-new.%s", s->name, suffix);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0)
		return ep_error_set(err, -errno, "creating a temporary file in %s: %s", dir,
				    strerror(errno));
	int r = fchmod(fd, 0755) < 0 ? -errno : 0;
	for (size_t off = 0; r == 0 && off < s->len;) {
		ssize_t n = write(fd, s->data + off, s->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		else
			off += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	/* Closed before it runs: a file open for writing cannot be executed (ETXTBSY). */
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0) {
		unlinkat(dfd, name, 0);
		return ep_error_set(err, r, "writing %s/%s: %s", dir, name, strerror(-r));
	}
	s->dfd = dfd;
	s->tmp_name = strdup(name);
	if (!s->tmp_name || asprintf(&s->tmp, "%s/%s", dir, name) < 0) {
		s->tmp = NULL;
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

/* chmod the regular file @name of @dfd (never through a symlink) to @mode. */
static int fix_mode(int dfd, const char *name, const char *path, mode_t mode,
		    struct ep_error *err)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	int r = fd < 0 || fstat(fd, &st) < 0 ? -errno : !S_ISREG(st.st_mode) ? -EINVAL : 0;
	if (r == 0 && fchmod(fd, mode) < 0)
		r = -errno;
	if (fd >= 0)
		close(fd);
	if (r < 0)
		return ep_error_set(err, r, "chmod %04o %s: %s", (unsigned)mode, path, strerror(-r));
	return 0;
}

/*
 * Leftovers of an interrupted run (".etcd.etcdpilot-new.XXXXXX" and the
 * "-old" hard links beside them) are removed: the binaries themselves are
 * always whole, old or new.
 */
static void remove_leftovers(int bfd)
{
	int fd = openat(bfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	for (struct dirent *e; (e = readdir(d));) {
		static const char *const prefixes[] = { ".etcd.", ".etcdctl.", ".etcdutl." };
		for (size_t i = 0; i < 3; i++) {
			size_t n = strlen(prefixes[i]);
			if (strncmp(e->d_name, prefixes[i], n) == 0 &&
			    (strncmp(e->d_name + n, "etcdpilot-new.", 14) == 0 ||
			     strncmp(e->d_name + n, "etcdpilot-old.", 14) == 0))
				unlinkat(dirfd(d), e->d_name, 0);
		}
	}
	closedir(d);
}

/*
 * Rename each new binary over its target, in the binaries directory @bfd.
 * The previous one is kept as a hard link until all are in, so that a
 * failure half-way puts the very same files (same inodes) back.
 */
static int slots_place(struct slot *s, size_t n, int bfd, const char *bindir, struct ep_error *err)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < n; i++) {
		if (!s[i].tmp_name)
			continue;
		if (s[i].had_prev) {
			/* ".etcd.etcdpilot-new.XXXXXX" -> ".etcd.etcdpilot-old.XXXXXX" */
			s[i].backup = strdup(s[i].tmp_name);
			if (!s[i].backup) {
				r = ep_error_set(err, -ENOMEM, "out of memory");
				break;
			}
			memcpy(strstr(s[i].backup, "etcdpilot-new.") + 10, "old", 3);
			if (linkat(bfd, s[i].name, bfd, s[i].backup, 0) < 0) {
				r = ep_error_set(err, -errno, "keeping the previous %s: link %s/%s: %s",
						 s[i].name, bindir, s[i].backup, strerror(errno));
				free(s[i].backup);
				s[i].backup = NULL;
				break;
			}
		}
		if (renameat(bfd, s[i].tmp_name, bfd, s[i].name) < 0) {
			r = ep_error_set(err, -errno, "rename %s to %s: %s", s[i].tmp, s[i].path,
					 strerror(errno));
			break;
		}
		free(s[i].tmp_name);
		s[i].tmp_name = NULL;
		s[i].placed = true;
	}
	if (r < 0) {
		bool ok = true;
		for (size_t i = n; i-- > 0;) {
			if (!s[i].placed)
				continue;
			if (s[i].backup ? renameat(bfd, s[i].backup, bfd, s[i].name) < 0
					: unlinkat(bfd, s[i].name, 0) < 0)
				ok = false;
			else if (s[i].backup) {
				free(s[i].backup);
				s[i].backup = NULL;
			}
		}
		if (err)
			ep_error_prefix(err, "installing etcd (%s)",
					ok ? "the previous binaries are back"
					   : "restoring the previous binaries FAILED");
		return r;
	}
	fsync(bfd);
	for (size_t i = 0; i < n; i++)
		if (s[i].backup) {
			unlinkat(bfd, s[i].backup, 0);
			free(s[i].backup);
			s[i].backup = NULL;
		}
	return 0;
}

/* The binary's version must be the one the flags are rendered for. */
static int check_version(const struct slot *s, bool etcdctl, const char *source,
			 const char *version, const char *bin_dir, bool any_prev,
			 uint64_t timeout_ms, struct ep_error *err)
{
	const char *run = s->tmp ? s->tmp : s->path;
	char have[32] = "";
	int r = binary_version(run, etcdctl, timeout_ms, have, sizeof(have), err);
	const char *tail = any_prev ? "nothing was installed, the previous binaries are untouched"
				    : "nothing was installed";
	if (r < 0)
		return ep_error_prefix(err, "checking %s from %s (%s)", s->name, source, tail);
	if (strcmp(have, version) != 0)
		return ep_error_set(err, -EBADMSG,
				    "%s from %s reports version %s, expected %s; %s in %s", s->name,
				    source, have, version, tail, bin_dir);
	return 0;
}

int ep_install_etcd(const struct ep_spec *spec, const struct ep_install_opts *o,
		    struct ep_install_result *ret, struct ep_error *err)
{
	if (!spec->systemd.etcd_binary == !spec->systemd.release_url)
		return ep_error_usage(err, -EINVAL,
				      spec->systemd.etcd_binary
					      ? "--etcd-binary and --release-url exclude each other"
					      : "systemd mode needs etcd: pass --etcd-binary PATH or "
						"--release-url URL");
	if (o->want_version && !ep_is_version(o->want_version))
		return ep_error_usage(err, -EINVAL, "etcd version '%s': expected X.Y.Z",
				      o->want_version);
	struct staged st = { 0 };
	_cleanup_free_ char *bindir = NULL; /* before any goto out */
	struct slot slots[3] = { { .name = "etcd", .dfd = -1 }, { .name = "etcdctl", .dfd = -1 },
				 { .name = "etcdutl", .dfd = -1 } };
	char scratch[4096] = "";
	int bfd = -1, sfd = -1; /* the binaries directory; the dry run's scratch directory */
	char *made[16] = { 0 }; /* directories created for the binaries, deepest first */
	size_t nmade = 0;
	bool placed = false;
	int r = spec->systemd.etcd_binary ? stage_local(spec, o, &st, err)
					  : stage_release(spec, o, &st, err);
	if (r < 0)
		goto out;
	if (o->want_version && strcmp(o->want_version, st.version) != 0) {
		r = ep_error_usage(err, -EINVAL, "'%s' is etcd %s, but etcd %s was asked for",
				   st.source, st.version, o->want_version);
		goto out;
	}
	if (ret) {
		snprintf(ret->version, sizeof(ret->version), "%s", st.version);
		ret->changed = true;
		ret->mode_fixed = false;
	}
	if (r == 1) { /* dry run of a release that would be downloaded: nothing to compare */
		logf_(o, "[install] Would install etcd %s into %s", st.version,
		      spec->systemd.bin_dir);
		if (spec->extra_args.n)
			logf_(o, "[install] Would check the extraArgs with the downloaded etcd "
				 "('etcd --version --flag=value ...')");
		r = 0;
		goto out;
	}

	slots[0].data = st.f.etcd, slots[0].len = st.f.etcd_len;
	slots[1].data = st.f.etcdctl, slots[1].len = st.f.etcdctl_len;
	slots[2].data = st.f.etcdutl, slots[2].len = st.f.etcdutl_len;
	size_t nslots = st.f.etcdutl ? 3 : 2;
	/*
	 * For messages - and the path check_version() runs a binary by (its temp
	 * file, or the one in place): that exec is by path, not root-relative.
	 */
	r = ep_root_path(o->root, spec->systemd.bin_dir, &bindir, err);
	if (r < 0)
		goto out;
	/* Every binary is looked at, and later written, relative to this directory. */
	struct ep_error derr = { 0 };
	if (ep_root_open(o->root, spec->systemd.bin_dir, O_PATH | O_DIRECTORY, 0, &bfd, &derr) < 0 &&
	    derr.code != -ENOENT) {
		r = ep_error_set(err, derr.code, "%s", derr.msg);
		goto out;
	}
	bool changed = false, mode_fixed = false, any_prev = false;
	for (size_t i = 0; i < nslots; i++) {
		struct slot *s = &slots[i];
		if (asprintf(&s->path, "%s/%s", bindir, s->name) < 0) {
			s->path = NULL;
			r = ep_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		struct stat sb;
		errno = ENOENT;
		if (bfd >= 0 && fstatat(bfd, s->name, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
			if (!S_ISREG(sb.st_mode)) {
				r = ep_error_set(err, -EEXIST,
						 "%s/%s exists and is not a regular file; move it "
						 "away first", spec->systemd.bin_dir, s->name);
				goto out;
			}
			_cleanup_free_ char *prev = NULL;
			size_t prev_len = 0;
			r = ep_read_file_at(bfd, bindir, s->name, EP_INSTALL_MAX_SIZE, &prev, &prev_len,
					    err);
			if (r < 0)
				goto out;
			s->had_prev = true;
			s->prev_mode = sb.st_mode & 07777;
			s->differs = prev_len != s->len || memcmp(prev, s->data, s->len) != 0;
			s->bad_mode = !s->differs && s->prev_mode != 0755;
		} else if (errno == ENOENT) {
			s->differs = true;
		} else {
			r = ep_error_set(err, -errno, "%s: %s", s->path, strerror(errno));
			goto out;
		}
		changed |= s->differs;
		mode_fixed |= s->bad_mode;
		any_prev |= s->had_prev;
	}
	if (ret) {
		ret->changed = changed;
		ret->mode_fixed = mode_fixed;
	}

	/*
	 * Every new binary is written beside its target (or, on a dry run, into a
	 * scratch directory off the node) and checked there - its version, and
	 * that it takes the extraArgs - before any of them is put in place.
	 */
	const char *tmpdir = bindir;
	int tmpfd = -1;
	if (changed && o->dry_run) {
		const char *t = getenv("TMPDIR");
		snprintf(scratch, sizeof(scratch), "%s/etcdpilot-dryrun.XXXXXX",
			 t && *t ? t : "/tmp");
		if (!mkdtemp(scratch)) {
			scratch[0] = '\0';
			r = ep_error_set(err, -errno, "creating a scratch directory: %s",
					 strerror(errno));
			goto out;
		}
		tmpdir = scratch;
		tmpfd = sfd = open(scratch, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sfd < 0) {
			r = ep_error_set(err, -errno, "opening %s: %s", scratch, strerror(errno));
			goto out;
		}
	} else if (changed) {
		/* Remember what mkdir -p creates (node paths), to take it away again on failure. */
		_cleanup_free_ char *p = strdup(spec->systemd.bin_dir);
		if (!p) {
			r = ep_error_set(err, -ENOMEM, "out of memory");
			goto out;
		}
		while (p[0] && !ep_root_exists(o->root, p) && nmade < sizeof(made) / sizeof(made[0])) {
			made[nmade] = strdup(p);
			if (!made[nmade++]) {
				r = ep_error_set(err, -ENOMEM, "out of memory");
				goto out;
			}
			char *slash = strrchr(p, '/');
			if (!slash || slash == p)
				break;
			*slash = '\0';
		}
		if (bfd >= 0)
			close(bfd);
		bfd = -1;
		r = ep_root_open_dir(o->root, spec->systemd.bin_dir, true, 0755, &bfd, NULL, err);
		if (r < 0)
			goto out;
		remove_leftovers(bfd);
		tmpfd = bfd;
	}
	for (size_t i = 0; i < nslots; i++) {
		if (!slots[i].differs)
			continue;
		r = write_temp(tmpfd, tmpdir, &slots[i], err);
		if (r < 0) {
			ep_error_prefix(err, "installing etcd (nothing was installed)");
			goto out;
		}
	}
	r = check_version(&slots[0], false, st.source, st.version, spec->systemd.bin_dir, any_prev,
			  version_timeout(o), err);
	if (r >= 0)
		r = check_version(&slots[1], true, st.source, st.version, spec->systemd.bin_dir,
				  any_prev, version_timeout(o), err);
	if (r >= 0)
		r = check_extra_args(spec, slots[0].tmp ? slots[0].tmp : slots[0].path, st.version,
				     version_timeout(o), err);
	if (r < 0)
		goto out;

	if (o->dry_run) {
		if (!changed && !mode_fixed)
			logf_(o, "[install] etcd %s is already installed in %s", st.version,
			      spec->systemd.bin_dir);
		for (size_t i = 0; i < nslots; i++) {
			if (slots[i].differs)
				logf_(o, "[dryrun] Would write file \"%s\" with mode 0755 (%s %s)",
				      slots[i].path, slots[i].name, st.version);
			else if (slots[i].bad_mode)
				logf_(o, "[dryrun] Would change the mode of \"%s\" from %04o to 0755",
				      slots[i].path, (unsigned)slots[i].prev_mode);
		}
		r = 0;
		goto out;
	}

	/* Only now, with everything checked, the release is worth caching. */
	r = cache_release(&st, o, err);
	if (r < 0)
		goto out;
	if (changed) {
		r = slots_place(slots, nslots, bfd, bindir, err);
		if (r < 0)
			goto out;
		placed = true;
		for (size_t i = 0; i < nslots; i++)
			if (slots[i].differs)
				logf_(o, "[install] Installed %s/%s", spec->systemd.bin_dir,
				      slots[i].name);
	}
	for (size_t i = 0; i < nslots; i++) {
		if (!slots[i].bad_mode)
			continue;
		r = fix_mode(bfd, slots[i].name, slots[i].path, 0755, err);
		if (r < 0)
			goto out;
		logf_(o, "[install] Changed the mode of %s/%s from %04o to 0755",
		      spec->systemd.bin_dir, slots[i].name, (unsigned)slots[i].prev_mode);
	}
	if (changed)
		logf_(o, "[install] %s/etcd reports version %s", spec->systemd.bin_dir, st.version);
	else if (!mode_fixed)
		logf_(o, "[install] etcd %s is already installed in %s", st.version,
		      spec->systemd.bin_dir);
	r = 0;
out:
	slots_release(slots, 3);
	if (bfd >= 0)
		close(bfd);
	if (sfd >= 0)
		close(sfd);
	if (scratch[0])
		rmdir(scratch);
	/* Directories made for binaries that did not go in: gone again (when empty). */
	for (size_t i = 0; i < nmade; i++) {
		if (r < 0 && !placed)
			ep_root_rmdir(o->root, made[i]);
		free(made[i]);
	}
	staged_release(&st);
	return r;
}
