/*
 * pki_bundle.c - the CA bundle on a node: export reads the etcd CA pair
 * under the root and writes the sealed bundle to a file of the invoking
 * user; install puts an opened bundle's pair in place as ca.crt and ca.key,
 * as a pair, under the certificate directory's lock, or refuses when
 * another CA is there.  The format and its checks are bundle.c's; what a
 * certificate says is pki.c's.  It never leaves a half-written pair, never
 * replaces a CA, and never writes the certificate key anywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "bundle_internal.h"
#include "etcdpilot/bundle.h"
#include "etcdpilot/config.h"
#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "pki_internal.h"

#define CA_CRT	   "ca.crt"
#define CA_KEY	   "ca.key"
#define CA_JOURNAL "ca.ep-pair" /* the name pki_plan.c gives the CA pair's journal */

static void emit(ep_log_fn log, void *ud, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void emit(ep_log_fn log, void *ud, const char *fmt, ...)
{
	if (!log)
		return;
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log(ud, line);
}

static void wipe_free(void *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

/* A CA that has expired or is not valid yet is shared all the same, but said so. */
static void warn_ca_validity(X509 *crt, const char *path, ep_log_fn log, void *ud)
{
	time_t nb = 0, na = 0, now = time(NULL);
	char when[64];
	if (pki_cert_times(crt, &nb, &na) < 0)
		return;
	if (now > na) {
		ep_pki_format_expiry(na, when, sizeof(when));
		emit(log, ud,
		     "[certs] WARNING: the etcd CA '%s' expired on %s; every certificate it signs "
		     "is rejected: rotate the CA by hand",
		     path, when);
	} else if (now < nb) {
		ep_pki_format_expiry(nb, when, sizeof(when));
		emit(log, ud,
		     "[certs] WARNING: the etcd CA '%s' is not valid before %s; check the "
		     "clock",
		     path, when);
	}
}

/* fstatat() of @name in @d without following a link: 0, or -errno (-ENOENT: absent). */
static int dir_stat(const struct pki_dir *d, const char *name, struct stat *st)
{
	if (d->fd < 0)
		return -d->error;
	return fstatat(d->fd, name, st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

/* An interrupted write of the CA pair: certs generate completes it. */
static int journal_pending(const struct pki_dir *d, struct ep_error *err)
{
	struct stat st;
	if (dir_stat(d, CA_JOURNAL, &st) < 0)
		return 0;
	return ep_error_set(err, -EBUSY,
			    "an interrupted write of the etcd CA left '%s/%s'; run 'etcdpilot "
			    "certs generate etcd-ca' to complete it, then export again",
			    d->shown, CA_JOURNAL);
}

/* ---- export --------------------------------------------------------------- */

/* The CA pair's files as they are, checked; under the lock unless @dry_run. */
struct ca_files {
	char *crt_path, *key_path; /* real paths, for messages */
	char *crt_pem, *key_pem;
	size_t crt_len, key_len;
	X509 *crt;
	EVP_PKEY *key;
};

static void ca_files_release(struct ca_files *f)
{
	free(f->crt_path);
	free(f->key_path);
	free(f->crt_pem);
	wipe_free(f->key_pem, f->key_len);
	X509_free(f->crt);
	EVP_PKEY_free(f->key);
	memset(f, 0, sizeof(*f));
}

static int no_ca(const struct ca_files *f, struct ep_error *err)
{
	return ep_error_set(err, -ENOENT,
			    "there is no etcd CA to export: '%s' does not exist; run 'etcdpilot "
			    "certs export-bundle' on a control-plane node that has the CA, or "
			    "'etcdpilot certs generate' first on the first one",
			    f->crt_path);
}

static int ca_read(const struct ep_spec *spec, const char *root, bool dry_run, struct ca_files *f,
		   struct ep_error *err)
{
	const struct ep_cert_profile *prof = ep_cert_profile(EP_CERT_CA);
	int r = ep_pki_paths(spec, root, EP_CERT_CA, &f->crt_path, &f->key_path, err);
	if (r < 0)
		return r;
	_cleanup_close_ int lock_fd = -1;
	if (!dry_run && ep_root_exists(root, spec->cert_dir)) {
		r = ep_root_dir_lock(root, spec->cert_dir, PKI_LOCK_TIMEOUT_MS, &lock_fd, err);
		if (r < 0)
			return r;
	}
	_cleanup_(pki_dir_release) struct pki_dir d = {.fd = -1};
	r = pki_dir_open(spec, root, prof, &d, NULL, err);
	if (r < 0)
		return r;
	if (d.fd < 0 && d.error != ENOENT)
		return pki_inspect_error(f->crt_path, d.error, err);
	r = journal_pending(&d, err);
	if (r < 0)
		return r;

	struct stat st;
	int rc = dir_stat(&d, CA_CRT, &st), rk = dir_stat(&d, CA_KEY, &st);
	if (rc < 0 && rc != -ENOENT)
		return pki_inspect_error(f->crt_path, -rc, err);
	if (rk < 0 && rk != -ENOENT)
		return pki_inspect_error(f->key_path, -rk, err);
	if (rc == -ENOENT && rk == -ENOENT)
		return no_ca(f, err);
	if (rc == -ENOENT)
		return ep_error_set(
		    err, -ENOENT,
		    "'%s' exists without '%s', so there is no CA to export; restore "
		    "%s (for instance from another control-plane node's %s/%s.crt)",
		    f->key_path, f->crt_path, CA_CRT, spec->cert_dir, prof->base);
	if (rk == -ENOENT)
		return ep_error_set(
		    err, -ENOENT,
		    "the etcd CA is external: '%s' has no key '%s' beside it, so "
		    "there is no CA key to share; issue each node's certificates "
		    "with that CA, or copy ca.crt alone to the other node (external "
		    "CA mode: every certificate must then exist there)",
		    f->crt_path, f->key_path);
	r = ep_read_file_at(d.fd, d.shown, CA_CRT, EP_BUNDLE_MAX_PART, &f->crt_pem, &f->crt_len,
			    err);
	if (r >= 0)
		r = ep_read_file_at(d.fd, d.shown, CA_KEY, EP_BUNDLE_MAX_PART, &f->key_pem,
				    &f->key_len, err);
	if (r >= 0)
		r = ep_pki_cert_parse(f->crt_pem, f->crt_len, f->crt_path, &f->crt, err);
	if (r >= 0)
		r = ep_pki_key_parse(f->key_pem, f->key_len, f->key_path, &f->key, err);
	if (r < 0)
		return r;
	if (!pki_cert_is_ca(f->crt))
		return ep_error_set(err, -EINVAL,
				    "'%s' is not a CA certificate: it lacks basicConstraints "
				    "CA:TRUE; put the etcd CA there",
				    f->crt_path);
	int ok = X509_check_private_key(f->crt, f->key);
	ERR_clear_error();
	if (ok != 1)
		return ep_error_set(err, -EINVAL,
				    "'%s' does not match the public key of '%s'; restore the "
				    "matching CA pair before sharing it",
				    f->key_path, f->crt_path);
	return 0;
}

/* The directory part of the user's @path ("." for a bare name, "/" at the top); heap. */
static char *dir_of(const char *path)
{
	char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	if (!dir)
		return NULL;
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	return dir;
}

/*
 * Write @data to the user's @path with @mode: a complete temp file beside
 * it, then rename over it (@force) or link(2) it to the name, which fails
 * when the name exists - the check and the write in one step.
 */
static int write_user_file(const char *path, const void *data, size_t len, mode_t mode, bool force,
			   struct ep_error *err)
{
	_cleanup_free_ char *dir = dir_of(path);
	if (!dir)
		return ep_error_set(err, -ENOMEM, "out of memory");
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return ep_error_usage(err, -EISDIR, "'%s' names a directory, not a file", path);
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return ep_error_usage(err, -errno, "cannot write '%s': directory '%s': %s", path,
				      dir, strerror(errno));
	if (force)
		return ep_write_atomic_at(dfd, dir, name, data, len, mode, err);
	_cleanup_free_ char *tmp = NULL;
	int r = ep_write_temp_at(dfd, dir, name, data, len, mode, &tmp, err);
	if (r < 0)
		return r;
	if (linkat(dfd, tmp, dfd, name, 0) < 0) {
		int e = errno;
		unlinkat(dfd, tmp, 0);
		if (e == EEXIST)
			return ep_error_usage(err, -EEXIST,
					      "'%s' exists (it appeared while the bundle was "
					      "made); choose another file, or add --force",
					      path);
		return ep_error_set(err, -e, "writing '%s': %s", path, strerror(e));
	}
	unlinkat(dfd, tmp, 0);
	if (fsync(dfd) < 0 && errno != EINVAL)
		return ep_error_set(err, -errno, "writing '%s': fsync of '%s': %s", path, dir,
				    strerror(errno));
	return 0;
}

/*
 * What --force may replace: a regular file outside the PKI directory.  A
 * device, a FIFO or a socket would be replaced by a regular file (a
 * /dev/full made a file holding the CA); a file inside the PKI directory
 * could be the CA itself.
 */
static int target_check(const struct ep_spec *spec, const char *root, const char *file,
			struct ep_error *err)
{
	struct stat st;
	if (lstat(file, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) &&
	    !S_ISDIR(st.st_mode))
		return ep_error_usage(err, -EINVAL,
				      "'%s' is a %s, not a regular file; a bundle is written to a "
				      "regular file of its own: choose another path", file,
				      S_ISCHR(st.st_mode)	? "character device"
				      : S_ISBLK(st.st_mode) ? "block device"
				      : S_ISFIFO(st.st_mode) ? "FIFO"
							     : "socket");
	_cleanup_free_ char *pki = NULL, *dir = dir_of(file);
	if (!dir || ep_root_path(root, spec->cert_dir, &pki, NULL) < 0)
		return dir ? 0 : ep_error_set(err, -ENOMEM, "out of memory");
	_cleanup_free_ char *rdir = realpath(dir, NULL), *rpki = realpath(pki, NULL);
	size_t n = rpki ? strlen(rpki) : 0;
	if (rdir && rpki && !strncmp(rdir, rpki, n) && (rdir[n] == '\0' || rdir[n] == '/'))
		return ep_error_usage(err, -EINVAL,
				      "'%s' is inside the PKI directory %s: a bundle never goes "
				      "there (it could replace the CA or a node certificate); "
				      "choose a path outside it", file, rpki);
	return 0;
}

int ep_pki_bundle_export(const struct ep_spec *spec, const char *root, const char *file,
			 uint64_t ttl_s, time_t now, bool force, bool dry_run,
			 char ret_key_hex[EP_BUNDLE_KEY_HEX_LEN + 1],
			 struct ep_bundle_info *ret_info, ep_log_fn log, void *userdata,
			 struct ep_error *err)
{
	ret_key_hex[0] = '\0';
	if (!file || !*file)
		return ep_error_usage(err, -EINVAL, "no file named to write the bundle to");
	if (ttl_s < 1 || ttl_s > EP_BUNDLE_TTL_MAX_S)
		return ep_error_usage(err, -ERANGE,
				      "--ttl: a CA bundle lives between 1s and %dh (default 2h, as "
				      "kubeadm's uploaded certificates)",
				      EP_BUNDLE_TTL_MAX_S / 3600);
	int tr = target_check(spec, root, file, err);
	if (tr < 0)
		return tr;
	struct stat st;
	if (!force && lstat(file, &st) == 0)
		return ep_error_usage(err, -EEXIST,
				      "'%s' exists; choose another file, or add --force to "
				      "replace it",
				      file);

	_cleanup_(ca_files_release) struct ca_files f = {0};
	int r = ca_read(spec, root, dry_run, &f, err);
	if (r < 0)
		return r;
	warn_ca_validity(f.crt, f.crt_path, log, userdata);

	struct ep_bundle_info info = {
	    .version = EP_BUNDLE_VERSION, .created = now, .expires = now + (time_t)ttl_s};
	if (bundle_fingerprint(f.crt, info.ca_sha256) < 0)
		return ep_error_set(err, -EIO, "cannot hash '%s'", f.crt_path);
	if (dry_run) {
		char exp[32];
		ep_bundle_format_time(info.expires, exp, sizeof(exp));
		emit(log, userdata,
		     "[dryrun] Would write file \"%s\" with mode 0600 (the etcd CA SHA256 %s and "
		     "its key, encrypted with a new certificate key; expires at %s)",
		     file, info.ca_sha256, exp);
		if (ret_info)
			*ret_info = info;
		return 0;
	}

	unsigned char key[EP_BUNDLE_KEY_LEN];
	if (RAND_bytes(key, sizeof(key)) != 1)
		return ep_error_ssl(err, "making a random certificate key");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	r = ep_bundle_seal(f.crt_pem, f.crt_len, f.key_pem, f.key_len, key, now, ttl_s, &text, &len,
			   &info, err);
	if (r >= 0)
		r = write_user_file(file, text, len, 0600, force, err);
	if (r >= 0) {
		for (size_t i = 0; i < EP_BUNDLE_KEY_LEN; i++)
			snprintf(ret_key_hex + 2 * i, 3, "%02x", key[i]);
		if (ret_info)
			*ret_info = info;
	}
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

/* ---- install --------------------------------------------------------------- */

/* What is at ca.crt and ca.key now, and what the install then does. */
struct ca_state {
	struct pki_dir dir;
	char *crt_path, *key_path;
	bool crt_exists, key_exists;
	X509 *crt;
	EVP_PKEY *key;
	bool write_crt, write_key;
};

static void ca_state_release(struct ca_state *s)
{
	pki_dir_release(&s->dir);
	free(s->crt_path);
	free(s->key_path);
	X509_free(s->crt);
	EVP_PKEY_free(s->key);
	memset(s, 0, sizeof(*s));
	s->dir.fd = -1;
}

static bool key_of(X509 *crt, EVP_PKEY *key)
{
	int ok = X509_check_private_key(crt, key);
	ERR_clear_error();
	return ok == 1;
}

/* Complete an interrupted pair write and sweep temp files (counted only, @dry_run). */
static int state_recover(struct ca_state *s, bool dry_run, ep_log_fn log, void *ud,
			 struct ep_error *err)
{
	struct stat st;
	if (s->dir.fd < 0)
		return 0;
	if (dir_stat(&s->dir, CA_JOURNAL, &st) == 0) {
		const char *names[] = {CA_CRT, CA_KEY};
		int r =
		    ep_pair_recover_at(s->dir.fd, s->dir.shown, CA_JOURNAL, names, 2, dry_run, err);
		if (r < 0)
			return r;
		if (r > 0)
			emit(log, ud,
			     "%s the interrupted write of \"etcd/ca\" (ca.key and ca.crt) that a "
			     "killed run left",
			     dry_run ? "[dryrun] Would complete" : "[certs] Completed");
	}
	const char *names[] = {CA_CRT, CA_KEY, CA_JOURNAL};
	for (size_t i = 0; i < 3; i++) {
		int n = ep_write_atomic_sweep_at(s->dir.fd, s->dir.shown, names[i], dry_run, err);
		if (n < 0)
			return n;
		if (n > 0)
			emit(log, ud,
			     "%s %d stale temporary file%s of '%s/%s' left by an interrupted "
			     "run",
			     dry_run ? "[dryrun] Would remove" : "[certs] Removed", n,
			     n == 1 ? "" : "s", s->dir.shown, names[i]);
	}
	return 0;
}

static int different_ca(const struct ca_state *s, const struct ep_ca_bundle *b,
			struct ep_error *err)
{
	char fpr[EP_BUNDLE_FPR_LEN + 1] = "?", subj[256];
	bundle_fingerprint(s->crt, fpr);
	pki_name_oneline(X509_get_subject_name(s->crt), subj, sizeof(subj));
	return ep_error_set(
	    err, -EEXIST,
	    "this node already has a different etcd CA: '%s' (%s, SHA256 %s), and the bundle "
	    "holds the CA SHA256 %s; installing it would split the cluster's trust (members "
	    "would reject each other's certificates), so nothing was changed; if this node is "
	    "to join the bundle's cluster, move away '%s' with its key and every certificate "
	    "that CA signed (etcd/server, etcd/peer, etcd/healthcheck-client and "
	    "apiserver-etcd-client) and import again; otherwise export the bundle on a member "
	    "of this node's cluster",
	    s->crt_path, subj, fpr, b->info.ca_sha256, s->crt_path);
}

/* Look at what is there and decide (see ep_pki_bundle_install). */
static int state_decide(struct ca_state *s, const struct ep_ca_bundle *b, struct ep_error *err)
{
	const struct ep_cert_profile *prof = ep_cert_profile(EP_CERT_CA);
	int r = pki_load(&s->dir, CA_CRT, s->crt_path, prof, &s->crt_exists, &s->crt, NULL, err);
	if (r >= 0)
		r = pki_load(&s->dir, CA_KEY, s->key_path, prof, &s->key_exists, NULL, &s->key,
			     err);
	if (r < 0)
		return r;
	if (s->crt_exists) {
		if (X509_cmp(s->crt, b->crt) != 0)
			return different_ca(s, b, err);
		if (s->key_exists && !key_of(s->crt, s->key))
			return ep_error_set(
			    err, -EEXIST,
			    "'%s' holds the bundle's CA, but '%s' does not match it; "
			    "nothing was changed: move %s away and import again to "
			    "install the CA key from the bundle",
			    s->crt_path, s->key_path, CA_KEY);
		s->write_key = !s->key_exists;
		return 0;
	}
	if (s->key_exists) {
		if (!key_of(b->crt, s->key))
			return ep_error_set(
			    err, -EEXIST,
			    "'%s' exists without '%s' and is not the key of the bundle's CA "
			    "(SHA256 "
			    "%s): this node had another CA; nothing was changed: move %s away and "
			    "import again, if this node is to use the bundle's CA",
			    s->key_path, s->crt_path, b->info.ca_sha256, CA_KEY);
		s->write_crt = true;
		return 0;
	}
	s->write_crt = s->write_key = true;
	return 0;
}

static int state_load(struct ca_state *s, const struct ep_spec *spec, const char *root,
		      struct ep_error *err)
{
	ca_state_release(s);
	int r = ep_pki_paths(spec, root, EP_CERT_CA, &s->crt_path, &s->key_path, err);
	if (r >= 0)
		r = pki_dir_open(spec, root, ep_cert_profile(EP_CERT_CA), &s->dir, NULL, err);
	if (r >= 0 && s->dir.fd < 0 && s->dir.error != ENOENT)
		r = pki_inspect_error(s->crt_path, s->dir.error, err);
	return r;
}

/* Write what @s decided, as one pair, in the directory (made when missing). */
static int state_apply(struct ca_state *s, const char *root, const struct ep_ca_bundle *b,
		       struct ep_error *err)
{
	_cleanup_close_ int dfd = -1;
	bool made = false;
	int r = ep_root_open_dir(root, s->dir.node, true, 0755, &dfd, &made, err);
	if (r < 0)
		return r;
	char *ktmp = NULL, *ctmp = NULL;
	struct ep_pair_op ops[2];
	size_t n = 0;
	if (s->write_key) {
		r = ep_write_temp_at(dfd, s->dir.shown, CA_KEY, b->key_pem, b->key_len, 0600, &ktmp,
				     err);
		if (r >= 0)
			ops[n++] = (struct ep_pair_op){CA_KEY, ktmp};
	}
	if (r >= 0 && s->write_crt) {
		r = ep_write_temp_at(dfd, s->dir.shown, CA_CRT, b->crt_pem, b->crt_len, 0644, &ctmp,
				     err);
		if (r >= 0)
			ops[n++] = (struct ep_pair_op){CA_CRT, ctmp};
	}
	if (r >= 0) {
		bool pending = false;
		/* On failure the commit removes the temps and puts back what was there. */
		r = ep_pair_commit_at(dfd, s->dir.shown, CA_JOURNAL, ops, n, &pending, err);
	} else {
		for (size_t i = 0; i < n; i++)
			unlinkat(dfd, ops[i].temp, 0);
	}
	free(ktmp);
	free(ctmp);
	if (r < 0 && made) {
		close(TAKE_FD(dfd));
		ep_root_rmdir(root, s->dir.node);
	}
	return r;
}

int ep_pki_bundle_install(const struct ep_spec *spec, const char *root,
			  const struct ep_ca_bundle *b, bool dry_run, bool *ret_changed,
			  ep_log_fn log, void *userdata, struct ep_error *err)
{
	if (ret_changed)
		*ret_changed = false;
	if (!b || !b->crt || !b->key || !b->crt_pem || !b->key_pem)
		return ep_error_usage(err, -EINVAL, "no opened CA bundle to install");
	_cleanup_close_ int lock_fd = -1;
	int r;
	if (!dry_run) {
		/* Every check of the bundle passed: the directory may be made now. */
		r = ep_root_mkdir_p(root, spec->cert_dir, 0755, err);
		if (r >= 0)
			r = ep_root_dir_lock(root, spec->cert_dir, PKI_LOCK_TIMEOUT_MS, &lock_fd,
					     err);
		if (r < 0)
			return r;
	}
	_cleanup_(ca_state_release) struct ca_state s = {.dir.fd = -1};
	r = state_load(&s, spec, root, err);
	if (r >= 0)
		r = state_recover(&s, dry_run, log, userdata, err);
	if (r >= 0 && !dry_run)
		r = state_load(&s, spec, root, err); /* what recovery left */
	if (r >= 0)
		r = state_decide(&s, b, err);
	if (r < 0)
		return r;

	if (!s.write_crt && !s.write_key) {
		emit(log, userdata,
		     "[certs] The etcd CA '%s' is already the bundle's CA (SHA256 %s): nothing to "
		     "do",
		     s.crt_path, b->info.ca_sha256);
		return 0;
	}
	warn_ca_validity(b->crt, s.crt_path, log, userdata);
	if (ret_changed)
		*ret_changed = true;
	if (dry_run) {
		char kdesc[32], subj[256];
		ep_pki_key_describe(b->key, kdesc, sizeof(kdesc));
		pki_name_oneline(X509_get_subject_name(b->crt), subj, sizeof(subj));
		if (s.write_key)
			emit(log, userdata,
			     "[dryrun] Would write file \"%s\" with mode 0600 (%s private key of "
			     "the "
			     "etcd CA, from the bundle)",
			     s.key_path, kdesc);
		if (s.write_crt)
			emit(log, userdata,
			     "[dryrun] Would write file \"%s\" with mode 0644 (CA certificate %s, "
			     "SHA256 %s, from the bundle)",
			     s.crt_path, subj, b->info.ca_sha256);
		return 0;
	}

	sigset_t block, saved;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &saved);
	r = state_apply(&s, root, b, err);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (r < 0)
		return ep_error_prefix(err, "installing the etcd CA from the bundle");
	emit(log, userdata, "[certs] Installed the etcd CA from the bundle (SHA256 %s)",
	     b->info.ca_sha256);
	if (s.write_crt)
		emit(log, userdata, "[certs] Wrote \"%s\" (mode 0644)", s.crt_path);
	if (s.write_key)
		emit(log, userdata, "[certs] Wrote \"%s\" (mode 0600)", s.key_path);
	return 0;
}

int ep_pki_bundle_import(const struct ep_spec *spec, const char *root, const char *file,
			 const char *key_hex, time_t now, bool dry_run,
			 struct ep_bundle_info *ret_info, bool *ret_changed, ep_log_fn log,
			 void *userdata, struct ep_error *err)
{
	if (ret_changed)
		*ret_changed = false;
	unsigned char key[EP_BUNDLE_KEY_LEN];
	int r = ep_bundle_key_parse(key_hex, key, err);
	if (r < 0)
		return r;
	if (!file || !*file) {
		OPENSSL_cleanse(key, sizeof(key));
		return ep_error_usage(err, -EINVAL, "no CA bundle file named");
	}
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct ep_error rerr;
	ep_error_clear(&rerr);
	r = ep_read_file(file, EP_BUNDLE_MAX_FILE, false, &buf, &len, &rerr);
	if (r < 0) {
		OPENSSL_cleanse(key, sizeof(key));
		/* The user's argument, not the node: a usage error, nothing changed. */
		return ep_error_usage(err, r,
				      "%s; name the file 'etcdpilot certs export-bundle' "
				      "wrote",
				      rerr.msg);
	}
	_cleanup_(ep_ca_bundle_release) struct ep_ca_bundle b = {0};
	r = ep_bundle_open(buf, len, file, key, now, &b, err);
	OPENSSL_cleanse(key, sizeof(key));
	if (ret_info && (r >= 0 || b.info.version))
		*ret_info = b.info;
	if (r < 0)
		return r;
	return ep_pki_bundle_install(spec, root, &b, dry_run, ret_changed, log, userdata, err);
}
