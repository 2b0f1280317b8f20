/*
 * test_install.c - the etcd installer: checksums (SHA256SUMS in both of
 * sha256sum's forms, either case, missing and contradictory entries),
 * release names, archive extraction against archives built here with
 * libarchive's writer (good ones, and "../x", absolute paths, symlinks and
 * hard links leading out, links in place of a binary, garbage), version
 * parsing of a real and fake etcd, file:// fetches, and whole installs into
 * a scratch root: verified, idempotent, refused on a bad checksum, rolled
 * back when the binary reports another version, a corrupt cache fetched
 * again.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "etcdpilot/install.h"
#include "etcdpilot/spec.h"

#define TOP "etcd-v3.4.23-linux-amd64"

enum kind { F, DIR_, SYM, HARD };

struct entry {
	enum kind kind;
	const char *name;
	const char *data; /* content, or the link target */
};

/* A gzip'd tar of @entries into a heap buffer. */
static char *make_tar(const struct entry *entries, size_t n, size_t *ret_len)
{
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	assert_non_null(buf);
	struct archive *a = archive_write_new();
	assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
	assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	size_t used = 0;
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, entries[i].name);
		switch (entries[i].kind) {
		case F:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0755);
			archive_entry_set_size(e, (la_int64_t)strlen(entries[i].data));
			break;
		case DIR_:
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			break;
		case SYM:
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, entries[i].data);
			break;
		case HARD:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, entries[i].data);
			archive_entry_set_size(e, 0);
			break;
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (entries[i].kind == F)
			assert_int_equal(archive_write_data(a, entries[i].data, strlen(entries[i].data)),
					 (la_ssize_t)strlen(entries[i].data));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*ret_len = used;
	return buf;
}

static int extract(const struct entry *entries, size_t n, struct ep_release_files *f,
		   struct ep_error *err)
{
	size_t len;
	char *tar = make_tar(entries, n, &len);
	memset(f, 0, sizeof(*f));
	ep_error_clear(err);
	int r = ep_release_extract(tar, len, TOP, f, err);
	free(tar);
	return r;
}

static void test_extract_good(void **state)
{
	(void)state;
	const struct entry good[] = {
		{ DIR_, TOP "/", NULL },
		{ F, TOP "/README.md", "readme" },
		{ F, TOP "/etcd", "ETCD" },
		{ F, TOP "/etcdctl", "CTL" },
		{ DIR_, TOP "/Documentation/", NULL },
		{ SYM, TOP "/Documentation/latest", "README.md" },
		{ SYM, TOP "/here", "." },
		{ F, "other-dir/etcd", "NOT THIS ONE" },
	};
	struct ep_release_files f;
	struct ep_error err;
	assert_int_equal(extract(good, 8, &f, &err), 0);
	assert_int_equal(f.etcd_len, 4);
	assert_memory_equal(f.etcd, "ETCD", 4);
	assert_int_equal(f.etcdctl_len, 3);
	assert_memory_equal(f.etcdctl, "CTL", 3);
	assert_null(f.etcdutl);
	ep_release_files_release(&f);

	/* "./" prefixes (tar -C dir .) and etcdutl (3.5+) */
	const struct entry dot[] = {
		{ F, "./" TOP "/etcd", "E" },
		{ F, "./" TOP "/etcdctl", "C" },
		{ F, "./" TOP "/etcdutl", "U" },
	};
	assert_int_equal(extract(dot, 3, &f, &err), 0);
	assert_memory_equal(f.etcdutl, "U", 1);
	ep_release_files_release(&f);
}

/*
 * Each hostile archive is refused whole, with the entry in the message.  A
 * link target that is absolute or holds a ".." component is refused however
 * it resolves: upstream tarballs have no links, and a lexical check is
 * fooled by links through links ("d -> ." makes "d/../.." leave the root).
 */
static void test_extract_hostile(void **state)
{
	(void)state;
	static const struct {
		struct entry bad[2];
		const char *msg;
	} cases[] = {
		{ { { F, TOP "/../x", "evil" } }, "archive entry '" TOP "/../x': '..' in its path" },
		{ { { F, "../x", "evil" } }, "archive entry '../x': '..' in its path" },
		{ { { F, "/abs/etcd", "evil" } }, "archive entry '/abs/etcd': absolute path" },
		{ { { SYM, TOP "/lib", "/etc" } },
		  "archive entry '" TOP "/lib' -> /etc: symbolic link to an absolute path" },
		{ { { SYM, TOP "/up", "../../x" } },
		  "archive entry '" TOP "/up' -> ../../x: symbolic link with '..' in its target" },
		{ { { SYM, "up2", "a/../../x" } }, "symbolic link with '..' in its target" },
		/* Lexically inside (d/../.. from TOP is the archive root), really outside. */
		{ { { SYM, TOP "/d", "." }, { SYM, TOP "/l", "d/../.." } },
		  "archive entry '" TOP "/l' -> d/../..: symbolic link with '..' in its target" },
		/* Even a ".." that stays inside is refused. */
		{ { { SYM, TOP "/doc/latest", "../README.md" } },
		  "symbolic link with '..' in its target" },
		{ { { HARD, TOP "/h", "/etc/passwd" } },
		  "archive entry '" TOP "/h' -> /etc/passwd: hard link to an absolute path" },
		{ { { HARD, TOP "/h", "../x" } }, "hard link with '..' in its target" },
		{ { { HARD, TOP "/h", TOP "/a/../etcd" } }, "hard link with '..' in its target" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* The hostile entries come after the good binaries: nothing may be kept. */
		struct entry entries[4] = {
			{ F, TOP "/etcd", "ETCD" },
			{ F, TOP "/etcdctl", "CTL" },
			cases[i].bad[0],
		};
		size_t n = 3;
		if (cases[i].bad[1].name)
			entries[n++] = cases[i].bad[1];
		struct ep_release_files f;
		struct ep_error err;
		int r = extract(entries, n, &f, &err);
		if (r != -EPERM || !strstr(err.msg, cases[i].msg))
			print_error("case %zu: r=%d msg=%s\n", i, r, err.msg);
		assert_int_equal(r, -EPERM);
		assert_non_null(strstr(err.msg, cases[i].msg));
		assert_non_null(strstr(err.msg, "refusing the whole archive"));
		assert_null(f.etcd);
		ep_release_files_release(&f);
	}
}

static void test_extract_wrong_shapes(void **state)
{
	(void)state;
	struct ep_release_files f;
	struct ep_error err;

	/* etcd as a link, even one that stays inside, is not a binary. */
	const struct entry link[] = {
		{ F, TOP "/etcd-real", "ETCD" },
		{ SYM, TOP "/etcd", "etcd-real" },
		{ F, TOP "/etcdctl", "CTL" },
	};
	assert_int_equal(extract(link, 3, &f, &err), -EPERM);
	assert_non_null(strstr(err.msg, "'" TOP "/etcd' is not a regular file"));
	ep_release_files_release(&f);

	const struct entry hard[] = {
		{ F, TOP "/etcd", "ETCD" },
		{ HARD, TOP "/etcdctl", TOP "/etcd" },
	};
	assert_int_equal(extract(hard, 2, &f, &err), -EPERM);
	ep_release_files_release(&f);

	const struct entry noctl[] = { { F, TOP "/etcd", "ETCD" } };
	assert_int_equal(extract(noctl, 1, &f, &err), -ENOENT);
	assert_string_equal(err.msg, "archive has no '" TOP "/etcdctl'");
	ep_release_files_release(&f);

	/* Binaries of another version's directory are not these. */
	const struct entry other[] = {
		{ F, "etcd-v3.5.0-linux-amd64/etcd", "E" },
		{ F, "etcd-v3.5.0-linux-amd64/etcdctl", "C" },
	};
	assert_int_equal(extract(other, 2, &f, &err), -ENOENT);
	ep_release_files_release(&f);

	memset(&f, 0, sizeof(f));
	ep_error_clear(&err);
	const char junk[] = "this is not a tarball at all, just text";
	assert_true(ep_release_extract(junk, sizeof(junk), TOP, &f, &err) < 0);
	assert_true(ep_error_isset(&err));
	ep_release_files_release(&f);

	/* A truncated archive. */
	const struct entry good[] = {
		{ F, TOP "/etcd", "ETCD ETCD ETCD ETCD ETCD ETCD ETCD ETCD ETCD ETCD ETCD" },
		{ F, TOP "/etcdctl", "CTL" },
	};
	size_t len;
	char *tar = make_tar(good, 2, &len);
	memset(&f, 0, sizeof(f));
	ep_error_clear(&err);
	assert_true(ep_release_extract(tar, len / 2, TOP, &f, &err) < 0);
	ep_release_files_release(&f);
	free(tar);
}

static void test_sha256(void **state)
{
	(void)state;
	char hex[65];
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_sha256_hex("abc", 3, hex, &err), 0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	assert_int_equal(
		ep_sha256_hex_parse("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
				    hex),
		0);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(ep_sha256_hex_parse("ba7816bf", hex), -EINVAL);
	assert_int_equal(
		ep_sha256_hex_parse("zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
				    hex),
		-EINVAL);
	assert_int_equal(ep_sha256_hex_parse(NULL, hex), -EINVAL);
}

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "ABCDEFabcdef0000000000000000000000000000000000000000000000000000"

static void test_sha256sums(void **state)
{
	(void)state;
	const char *sums = "# a comment line\n"
			   H1 "  etcd-v3.4.23-darwin-amd64.zip\n"
			   "not a checksum line\n"
			   H2 " *./etcd-v3.4.23-linux-amd64.tar.gz\r\n"
			   "deadbeef  etcd-v3.4.23-linux-arm64.tar.gz\n"
			   H1 "  etcd-v3.4.23-linux-ppc64le.tar.gz";
	char hex[65];
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_sha256sums_find(sums, strlen(sums), "etcd-v3.4.23-linux-amd64.tar.gz",
					    hex, &err),
			 0);
	assert_string_equal(hex, "abcdefabcdef0000000000000000000000000000000000000000000000000000");
	/* The last line, without a newline. */
	assert_int_equal(ep_sha256sums_find(sums, strlen(sums),
					    "etcd-v3.4.23-linux-ppc64le.tar.gz", hex, &err),
			 0);
	assert_string_equal(hex, H1);
	/* A malformed line does not count as an entry. */
	assert_int_equal(ep_sha256sums_find(sums, strlen(sums), "etcd-v3.4.23-linux-arm64.tar.gz",
					    hex, &err),
			 -ENOENT);
	assert_string_equal(err.msg, "SHA256SUMS has no entry for 'etcd-v3.4.23-linux-arm64.tar.gz'");
	/* A prefix of a listed name is not that name. */
	ep_error_clear(&err);
	assert_int_equal(ep_sha256sums_find(sums, strlen(sums), "etcd-v3.4.23-linux-amd64.tar",
					    hex, &err),
			 -ENOENT);
	ep_error_clear(&err);
	assert_int_equal(ep_sha256sums_find("", 0, "x", hex, &err), -ENOENT);

	const char *twice = H1 "  x.tar.gz\n" H2 "  x.tar.gz\n";
	ep_error_clear(&err);
	assert_int_equal(ep_sha256sums_find(twice, strlen(twice), "x.tar.gz", hex, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "twice"));
	const char *same = H1 "  x.tar.gz\n" H1 "  x.tar.gz\n";
	ep_error_clear(&err);
	assert_int_equal(ep_sha256sums_find(same, strlen(same), "x.tar.gz", hex, &err), 0);
}

static void test_release_name(void **state)
{
	(void)state;
	char v[32], a[32];
	assert_int_equal(ep_release_name_parse("etcd-v3.4.23-linux-amd64.tar.gz", v, sizeof(v), a,
					       sizeof(a)),
			 0);
	assert_string_equal(v, "3.4.23");
	assert_string_equal(a, "amd64");
	assert_int_equal(ep_release_name_parse("etcd-v3.6.6-linux-arm64.tar.gz", v, sizeof(v), a,
					       sizeof(a)),
			 0);
	assert_string_equal(a, "arm64");
	static const char *const bad[] = {
		"etcd-3.4.23-linux-amd64.tar.gz", "etcd-v3.4-linux-amd64.tar.gz",
		"etcd-v3.4.23-linux-amd64.zip",	  "etcd-v3.4.23-darwin-amd64.tar.gz",
		"etcd-v3.4.23-linux-.tar.gz",	  "etcd-v3.4.23-linux-am/d64.tar.gz",
		"etcd-v.tar.gz",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ep_release_name_parse(bad[i], v, sizeof(v), a, sizeof(a)), -EINVAL);
	assert_non_null(ep_host_arch());
}

/* ---- with files ---------------------------------------------------------- */

static char *scratch(void)
{
	char *d = strdup("/tmp/ep-test-install.XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_rf(const char *path)
{
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static void put(const char *dir, const char *name, const char *data, mode_t mode)
{
	char path[2048];
	struct ep_error err;
	ep_error_clear(&err);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(ep_write_atomic(path, data, strlen(data), mode, &err), 0);
}

static char *slurp(const char *dir, const char *name)
{
	char path[2048];
	char *out = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (ep_read_file(path, 1 << 20, false, &out, NULL, NULL) < 0)
		return NULL;
	return out;
}

#define FAKE_ETCD(v) "#!/bin/sh\necho 'etcd Version: " v "'\necho 'Git SHA: fake'\n"
#define FAKE_CTL(v) "#!/bin/sh\necho 'etcdctl version: " v "'\necho 'API version: 3.4'\n"

static void test_binary_version(void **state)
{
	(void)state;
	char v[32];
	struct ep_error err;
	ep_error_clear(&err);
	if (access("/usr/bin/etcd", X_OK) == 0) {
		assert_int_equal(ep_etcd_binary_version("/usr/bin/etcd", false, v, sizeof(v), &err),
				 0);
		assert_string_equal(v, "3.4.23");
	}
	char *d = scratch();
	put(d, "etcd", FAKE_ETCD("3.5.21"), 0755);
	put(d, "etcdctl", FAKE_CTL("3.5.21"), 0755);
	put(d, "junk", "#!/bin/sh\necho hello\n", 0755);
	put(d, "fails", "#!/bin/sh\necho 'etcd Version: 3.5.21'\nexit 3\n", 0755);
	char p[1024];
	snprintf(p, sizeof(p), "%s/etcd", d);
	assert_int_equal(ep_etcd_binary_version(p, false, v, sizeof(v), &err), 0);
	assert_string_equal(v, "3.5.21");
	snprintf(p, sizeof(p), "%s/etcdctl", d);
	assert_int_equal(ep_etcd_binary_version(p, true, v, sizeof(v), &err), 0);
	assert_string_equal(v, "3.5.21");
	snprintf(p, sizeof(p), "%s/junk", d);
	ep_error_clear(&err);
	assert_int_equal(ep_etcd_binary_version(p, false, v, sizeof(v), &err), -EINVAL);
	assert_non_null(strstr(err.msg, "printed no 'etcd Version: X.Y.Z' line"));
	snprintf(p, sizeof(p), "%s/fails", d);
	ep_error_clear(&err);
	assert_int_equal(ep_etcd_binary_version(p, false, v, sizeof(v), &err), -EIO);
	assert_non_null(strstr(err.msg, "exit status 3"));
	snprintf(p, sizeof(p), "%s/absent", d);
	ep_error_clear(&err);
	assert_true(ep_etcd_binary_version(p, false, v, sizeof(v), &err) < 0);
	rm_rf(d);
	free(d);
}

static void test_fetch_file(void **state)
{
	(void)state;
	char *d = scratch();
	put(d, "SHA256SUMS", "hello\n", 0644);
	char url[1100];
	snprintf(url, sizeof(url), "file://%s/SHA256SUMS", d);
	char *out = NULL;
	size_t len = 0;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_fetch(url, 1024, 1, NULL, NULL, &out, &len, &err), 0);
	assert_int_equal(len, 6);
	assert_string_equal(out, "hello\n");
	free(out);
	/* Over the limit. */
	ep_error_clear(&err);
	assert_int_equal(ep_fetch(url, 3, 1, NULL, NULL, &out, &len, &err), -EFBIG);
	snprintf(url, sizeof(url), "file://%s/absent", d);
	ep_error_clear(&err);
	assert_int_equal(ep_fetch(url, 1024, 1, NULL, NULL, &out, &len, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no such file"));
	ep_error_clear(&err);
	assert_int_equal(ep_fetch("ftp://example.invalid/x", 1024, 1, NULL, NULL, &out, &len, &err),
			 -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	rm_rf(d);
	free(d);
}

/* A release directory whose etcd and etcdctl are the scripts given, with its SHA256SUMS. */
static void make_release_scripts(const char *dir, const char *etcd, const char *ctl, bool sums)
{
	const struct entry e[] = {
		{ F, TOP "/etcd", etcd },
		{ F, TOP "/etcdctl", ctl },
		{ F, TOP "/README.md", "readme" },
	};
	size_t len;
	char *tar = make_tar(e, 3, &len);
	char path[1024], hex[65];
	struct ep_error err;
	ep_error_clear(&err);
	snprintf(path, sizeof(path), "%s/" TOP ".tar.gz", dir);
	assert_int_equal(ep_write_atomic(path, tar, len, 0644, &err), 0);
	assert_int_equal(ep_sha256_hex(tar, len, hex, &err), 0);
	free(tar);
	if (sums) {
		char line[256];
		snprintf(line, sizeof(line), "%s  " TOP ".tar.gz\n", hex);
		put(dir, "SHA256SUMS", line, 0644);
	}
}

/* A release directory with a fake etcd @v (reporting @reports) and its SHA256SUMS. */
static void make_release(const char *dir, const char *reports, bool sums)
{
	char etcd[1024], ctl[256];
	/*
	 * Like etcd: every flag is parsed before --version is acted on; an
	 * unknown one or a bad value is refused in etcd's words (a few of its
	 * flags stand for all of them).
	 */
	snprintf(etcd, sizeof(etcd),
		 "#!/bin/sh\n"
		 "known=' name snapshot-count data-dir unsafe-no-fsync heartbeat-interval '\n"
		 "for a in \"$@\"; do\n"
		 "\t[ \"$a\" = --version ] && continue\n"
		 "\tn=${a#--}; n=${n%%%%=*}; v=${a#*=}\n"
		 "\tcase \"$known\" in *\" $n \"*) ;; *) echo \"flag provided but not defined: -$n\" >&2;"
		 " exit 2;; esac\n"
		 "\tif [ \"$n\" = heartbeat-interval ]; then case \"$v\" in ''|*[!0-9]*)"
		 " echo \"invalid value \\\"$v\\\" for flag -heartbeat-interval: parse error\" >&2;"
		 " exit 2;; esac; fi\n"
		 "done\n"
		 "echo 'etcd Version: %s'\n",
		 reports);
	snprintf(ctl, sizeof(ctl), "#!/bin/sh\necho 'etcdctl version: %s'\n", reports);
	make_release_scripts(dir, etcd, ctl, sums);
}

static void log_collect(void *userdata, const char *line)
{
	struct ep_strv *sv = userdata;
	ep_strv_push(sv, line);
}

static bool logged(const struct ep_strv *sv, const char *needle)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strstr(sv->v[i], needle))
			return true;
	return false;
}

static void spec_for(struct ep_spec *spec, const char *url)
{
	struct ep_error err;
	ep_error_clear(&err);
	ep_spec_init(spec);
	spec->name = strdup("cp1");
	spec->advertise_address = strdup("127.0.0.1");
	spec->mode = EP_MODE_SYSTEMD;
	spec->systemd.release_url = strdup(url);
	assert_int_equal(ep_spec_defaults(spec, &err), 0);
}

static bool exists_under(const char *root, const char *rel)
{
	char p[2048];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return ep_path_exists(p);
}

static ino_t inode_of(const char *dir, const char *name)
{
	char p[2048];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(stat(p, &sb), 0);
	return sb.st_ino;
}

#define CACHED "var/cache/etcdpilot/etcd/v3.4.23/" TOP ".tar.gz"

static void test_install_release(void **state)
{
	(void)state;
	char *rel = scratch(), *root = scratch();
	make_release(rel, "3.4.23", true);
	char url[1100], bin[1100], sums[1100];
	snprintf(url, sizeof(url), "file://%s/", rel);
	snprintf(bin, sizeof(bin), "%s/usr/local/bin", root);
	snprintf(sums, sizeof(sums), "%s/SHA256SUMS", rel);
	char *good_sums = slurp(rel, "SHA256SUMS");
	struct ep_spec spec;
	spec_for(&spec, url);
	struct ep_strv log = { 0 };
	struct ep_install_opts o = { .root = root, .want_version = "3.4.23", .log = log_collect,
				     .log_userdata = &log, .retry_base_ms = 1 };
	struct ep_install_result res;
	struct ep_error err;

	/* Dry run: a plan, no file. */
	o.dry_run = true;
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), 0);
	assert_true(res.changed);
	assert_string_equal(res.version, "3.4.23");
	assert_false(ep_path_exists(bin));
	assert_false(exists_under(root, "var"));
	assert_true(logged(&log, "Would download"));
	o.dry_run = false;

	ep_strv_release(&log);
	ep_error_clear(&err);
	int r = ep_install_etcd(&spec, &o, &res, &err);
	if (r < 0)
		print_error("install: %s\n", err.msg);
	assert_int_equal(r, 0);
	assert_true(res.changed);
	char *got = slurp(bin, "etcd");
	assert_non_null(strstr(got, "etcd Version: 3.4.23"));
	free(got);
	char p[1200];
	struct stat sb;
	snprintf(p, sizeof(p), "%s/etcdctl", bin);
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);
	snprintf(p, sizeof(p), "%s/" CACHED, root);
	assert_true(ep_path_exists(p));
	assert_true(logged(&log, "Verified sha256"));
	/* The verified digest is recorded beside the cached tarball, as sha256sum writes it. */
	char *rec = slurp(root, CACHED ".sha256");
	assert_non_null(rec);
	assert_string_equal(rec, good_sums);
	free(rec);
	/* No temp file or backup is left beside the binaries. */
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s' | grep -v '^etcd$\\|^etcdctl$')\"", bin);
	assert_int_equal(system(cmd), 0);

	/* A dry run on this node predicts nothing: the cache and binaries are in order. */
	ep_strv_release(&log);
	o.dry_run = true;
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), 0);
	assert_false(res.changed);
	assert_false(res.mode_fixed);
	assert_true(logged(&log, "already installed"));
	assert_false(logged(&log, "Would"));
	o.dry_run = false;

	/* Again, with the release server gone: the recorded digest vouches for the cache. */
	assert_int_equal(unlink(sums), 0);
	ep_strv_release(&log);
	ep_error_clear(&err);
	ino_t ino = inode_of(bin, "etcd");
	r = ep_install_etcd(&spec, &o, &res, &err);
	if (r < 0)
		print_error("re-run without network: %s\n", err.msg);
	assert_int_equal(r, 0);
	assert_false(res.changed);
	assert_true(logged(&log, "Using the cached"));
	assert_true(logged(&log, "the digest recorded when it was verified"));
	assert_true(logged(&log, "already installed"));
	assert_int_equal(inode_of(bin, "etcd"), ino);

	/* A binary with the right content but another mode: only chmod'ed, same inode. */
	snprintf(p, sizeof(p), "%s/etcd", bin);
	assert_int_equal(chmod(p, 0700), 0);
	ep_strv_release(&log);
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), 0);
	assert_false(res.changed);
	assert_true(res.mode_fixed);
	assert_true(logged(&log, "Changed the mode of /usr/local/bin/etcd from 0700 to 0755"));
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0755);
	assert_int_equal(inode_of(bin, "etcd"), ino);

	/* A corrupt cache is never trusted, even with a recorded digest: it needs SHA256SUMS. */
	put(root, CACHED, "garbage", 0644);
	ep_strv_release(&log);
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -ENOENT);
	assert_true(logged(&log, "does not match its checksum"));
	assert_non_null(strstr(err.msg, "no checksum for " TOP ".tar.gz"));
	put(rel, "SHA256SUMS", good_sums, 0644);
	ep_strv_release(&log);
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), 0);
	assert_true(logged(&log, "does not match its checksum"));
	assert_true(logged(&log, "Downloading"));
	char *c = slurp(root, CACHED);
	assert_string_not_equal(c, "garbage");
	free(c);

	/* A wrong --etcd-sha256 wins over the recorded digest: refused, nothing cached. */
	free(spec.systemd.etcd_sha256);
	spec.systemd.etcd_sha256 = strdup(H1);
	ep_strv_release(&log);
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -EBADMSG);
	assert_true(logged(&log, "does not match its checksum"));
	assert_non_null(strstr(err.msg, "checksum mismatch"));
	assert_non_null(strstr(err.msg, "expected " H1));
	snprintf(p, sizeof(p), "%s/" CACHED, root);
	unlink(p);
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -EBADMSG);
	assert_false(ep_path_exists(p));

	/* A pinned version the release is not. */
	free(spec.systemd.etcd_sha256);
	spec.systemd.etcd_sha256 = NULL;
	o.want_version = "3.5.0";
	ep_error_clear(&err);
	assert_true(ep_install_etcd(&spec, &o, &res, &err) < 0);
	o.want_version = "3.4.23";

	free(good_sums);
	ep_strv_release(&log);
	ep_spec_release(&spec);
	rm_rf(rel);
	rm_rf(root);
	free(rel);
	free(root);
}

/*
 * extraArgs must be flags the etcd about to be installed lists in its
 * --help: in an env file etcd would only warn about an unknown one.
 */
static void test_install_extra_args(void **state)
{
	(void)state;
	char *rel = scratch(), *root = scratch();
	make_release(rel, "3.4.23", true);
	char url[1100];
	snprintf(url, sizeof(url), "file://%s/", rel);
	struct ep_spec spec;
	spec_for(&spec, url);
	ep_kvv_push(&spec.extra_args, "snapshot-count", "5000");
	ep_kvv_push(&spec.extra_args, "snapshot-countt", "5000");
	struct ep_install_opts o = { .root = root, .want_version = "3.4.23", .retry_base_ms = 1 };
	struct ep_install_result res;
	struct ep_error err;
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "etcd 3.4.23 has no flag '--snapshot-countt'"));
	/* Checked before anything went in: no binary, no cache, not even the directories. */
	assert_false(exists_under(root, "usr"));
	assert_false(exists_under(root, "var"));

	/* A value etcd cannot parse is refused with etcd's own words. */
	ep_kvv_release(&spec.extra_args);
	ep_kvv_push(&spec.extra_args, "heartbeat-interval", "abc");
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	assert_non_null(strstr(err.msg, "etcd 3.4.23 refuses the extraArgs: invalid value \"abc\" "
					"for flag -heartbeat-interval"));
	assert_false(exists_under(root, "usr"));

	/* Known names pass, also one etcd 3.4 takes without listing it in --help. */
	ep_kvv_release(&spec.extra_args);
	ep_kvv_push(&spec.extra_args, "snapshot-count", "5000");
	ep_kvv_push(&spec.extra_args, "data-dir", "/x");
	ep_kvv_push(&spec.extra_args, "unsafe-no-fsync", "false");
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), 0);

	/* The installed etcd is asked again on a re-run, and on a dry run. */
	ep_kvv_push(&spec.extra_args, "nme", "x");
	o.dry_run = true;
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "has no flag '--nme'"));

	ep_spec_release(&spec);
	rm_rf(rel);
	rm_rf(root);
	free(rel);
	free(root);
}

/*
 * A release whose etcd closes its output and then lingers (issue 10, item
 * 8): 'etcd --version' is cut off at the version deadline, with its process
 * group, and the install fails with the timeout, installing and caching
 * nothing.  The deadline is made short here; the command's own is 10 s.
 */
static void test_install_lingering_etcd(void **state)
{
	(void)state;
	char *rel = scratch(), *root = scratch();
	make_release_scripts(rel, "#!/bin/sh\nexec >/dev/null 2>&1 </dev/null\nsleep 30\n",
			     FAKE_CTL("3.4.23"), true);
	char url[1100];
	snprintf(url, sizeof(url), "file://%s/", rel);
	struct ep_spec spec;
	spec_for(&spec, url);
	struct ep_install_opts o = { .root = root, .want_version = "3.4.23", .retry_base_ms = 1,
				     .version_timeout_ms = 300 };
	struct ep_install_result res;
	struct ep_error err;
	ep_error_clear(&err);
	int r = ep_install_etcd(&spec, &o, &res, &err);
	if (r != -ETIMEDOUT)
		fail_msg("want -ETIMEDOUT, got %d: %s", r, err.msg);
	assert_int_equal(err.kind, EP_ERR_FAILED);
	assert_non_null(strstr(err.msg, "checking etcd from"));
	assert_non_null(strstr(err.msg, "nothing was installed"));
	assert_non_null(strstr(err.msg, "did not finish within 0.300 s; it was killed"));
	/* Nothing installed, nothing cached, no temp file left behind. */
	assert_false(exists_under(root, "usr/local/bin/etcd"));
	assert_false(exists_under(root, "usr/local/bin/etcdctl"));
	assert_false(exists_under(root, "var"));
	char cmd[1400];
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s/usr/local/bin' 2>/dev/null)\"", root);
	assert_int_equal(system(cmd), 0);

	ep_spec_release(&spec);
	rm_rf(rel);
	rm_rf(root);
	free(rel);
	free(root);
}

static void test_install_refusals(void **state)
{
	(void)state;
	char *rel = scratch(), *root = scratch();
	char url[1100], p[1200];
	struct ep_spec spec;
	struct ep_install_result res;
	struct ep_error err;
	struct ep_install_opts o = { .root = root, .retry_base_ms = 1 };

	/* A previous etcd is installed. */
	snprintf(p, sizeof(p), "%s/usr/local/bin", root);
	ep_error_clear(&err);
	assert_int_equal(ep_mkdir_p(p, 0755, &err), 0);
	put(p, "etcd", FAKE_ETCD("3.4.22"), 0755);
	put(p, "etcdctl", FAKE_CTL("3.4.22"), 0755);

	/* No SHA256SUMS and no --etcd-sha256: refused. */
	make_release(rel, "3.4.23", false);
	snprintf(url, sizeof(url), "file://%s/" TOP ".tar.gz", rel);
	spec_for(&spec, url);
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "no checksum for " TOP ".tar.gz"));
	assert_non_null(strstr(err.msg, "--etcd-sha256"));
	char *e = slurp(p, "etcd");
	assert_string_equal(e, FAKE_ETCD("3.4.22"));
	free(e);

	/* --insecure-skip-checksum installs, and says so loudly. */
	struct ep_strv log = { 0 };
	o.log = log_collect;
	o.log_userdata = &log;
	spec.systemd.insecure_skip_checksum = true;
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), 0);
	assert_true(logged(&log, "WARNING: --insecure-skip-checksum: NOT VERIFYING"));
	e = slurp(p, "etcd");
	assert_non_null(strstr(e, "3.4.23"));
	free(e);
	ep_spec_release(&spec);
	put(p, "etcd", FAKE_ETCD("3.4.22"), 0700);

	/*
	 * The binary says another version than the release: checked beside the
	 * old one before it would go in, so the old one never left (same inode),
	 * and the refused release is not cached.
	 */
	make_release(rel, "3.9.9", true);
	spec_for(&spec, url);
	ino_t ino = inode_of(p, "etcd");
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "etcd from file://"));
	assert_non_null(strstr(err.msg, "reports version 3.9.9, expected 3.4.23; nothing was "
					"installed, the previous binaries are untouched"));
	e = slurp(p, "etcd");
	assert_string_equal(e, FAKE_ETCD("3.4.22"));
	free(e);
	struct stat sb;
	char ep[1300];
	snprintf(ep, sizeof(ep), "%s/etcd", p);
	assert_int_equal(stat(ep, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);
	assert_int_equal(inode_of(p, "etcd"), ino);
	assert_false(exists_under(root, "var/cache/etcdpilot/etcd/v3.4.23"));
	snprintf(ep, sizeof(ep), "test \"$(ls -A '%s')\" = \"$(printf 'etcd\\netcdctl')\"", p);
	assert_int_equal(system(ep), 0); /* no temp file left behind */

	/* With no etcd installed before, nothing is, and the message does not pretend otherwise. */
	char *bare = scratch();
	struct ep_install_opts ob = { .root = bare, .retry_base_ms = 1 };
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &ob, &res, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "expected 3.4.23; nothing was installed in /usr/local/bin"));
	assert_null(strstr(err.msg, "previous"));
	assert_false(exists_under(bare, "usr"));
	assert_false(exists_under(bare, "var"));
	rm_rf(bare);
	free(bare);
	ep_spec_release(&spec);

	/* Neither or both sources. */
	spec_for(&spec, url);
	spec.systemd.etcd_binary = strdup("/usr/bin/etcd");
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -EINVAL);
	assert_int_equal(err.kind, EP_ERR_USAGE);
	free(spec.systemd.release_url);
	spec.systemd.release_url = NULL;
	free(spec.systemd.etcd_binary);
	spec.systemd.etcd_binary = NULL;
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--etcd-binary PATH or --release-url URL"));
	ep_spec_release(&spec);

	/* Another architecture's tarball. */
	spec_for(&spec, "file:///nonexistent/etcd-v3.4.23-linux-s390x.tar.gz");
	ep_error_clear(&err);
	if (strcmp(ep_host_arch(), "s390x") != 0) {
		assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -EINVAL);
		assert_non_null(strstr(err.msg, "built for s390x"));
	}
	ep_spec_release(&spec);

	ep_strv_release(&log);
	rm_rf(rel);
	rm_rf(root);
	free(rel);
	free(root);
}

static void test_install_local(void **state)
{
	(void)state;
	char *src = scratch(), *root = scratch();
	put(src, "etcd", FAKE_ETCD("3.5.21"), 0755);
	put(src, "etcdctl", FAKE_CTL("3.5.21"), 0755);
	put(src, "etcdutl", "#!/bin/sh\n", 0755);
	struct ep_spec spec;
	struct ep_error err;
	ep_error_clear(&err);
	ep_spec_init(&spec);
	spec.name = strdup("cp1");
	spec.advertise_address = strdup("127.0.0.1");
	char p[1100];
	snprintf(p, sizeof(p), "%s/etcd", src);
	spec.systemd.etcd_binary = strdup(p);
	assert_int_equal(ep_spec_defaults(&spec, &err), 0);
	struct ep_install_opts o = { .root = root };
	struct ep_install_result res;
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), 0);
	assert_string_equal(res.version, "3.5.21");
	assert_true(res.changed);
	snprintf(p, sizeof(p), "%s/usr/local/bin", root);
	char *u = slurp(p, "etcdutl");
	assert_string_equal(u, "#!/bin/sh\n");
	free(u);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), 0);
	assert_false(res.changed);

	/* A pinned version the binary is not: refused before anything. */
	o.want_version = "3.6.6";
	ep_error_clear(&err);
	assert_int_equal(ep_install_etcd(&spec, &o, &res, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "is etcd 3.5.21, but etcd 3.6.6 was asked for"));

	/* No etcdctl beside it. */
	snprintf(p, sizeof(p), "%s/etcdctl", src);
	unlink(p);
	o.want_version = NULL;
	ep_error_clear(&err);
	assert_true(ep_install_etcd(&spec, &o, &res, &err) < 0);
	assert_non_null(strstr(err.msg, "no executable etcdctl beside it"));
	ep_spec_release(&spec);
	rm_rf(src);
	rm_rf(root);
	free(src);
	free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_extract_good),
		cmocka_unit_test(test_extract_hostile),
		cmocka_unit_test(test_extract_wrong_shapes),
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_sha256sums),
		cmocka_unit_test(test_release_name),
		cmocka_unit_test(test_binary_version),
		cmocka_unit_test(test_fetch_file),
		cmocka_unit_test(test_install_release),
		cmocka_unit_test(test_install_extra_args),
		cmocka_unit_test(test_install_lingering_etcd),
		cmocka_unit_test(test_install_refusals),
		cmocka_unit_test(test_install_local),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
