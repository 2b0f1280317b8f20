/*
 * pki_plan.c - certs generate (and so init/join's certs phase) and certs
 * renew, as lock, plan, then apply: under an flock on the certificate
 * directory every existing file is loaded and checked and every new key and
 * certificate is made in memory before the first byte is written, so a
 * failed check leaves the disk exactly as it was; the writes themselves are
 * all-or-nothing (a failure part-way puts back what was there).  It decides
 * what to write and writes it through ep_write_atomic; what a certificate
 * says is pki.c's business.
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
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "pki_internal.h"

int (*pki_test_write_hook)(const char *path);

/* What a file held before apply replaced it, to put it back on failure. */
struct saved {
	bool present;
	char *data;
	size_t len;
	mode_t mode;
};

struct pair {
	const struct ep_cert_profile *prof;
	char *crt_path, *key_path;	     /* real paths, for messages */
	struct pki_dir *dir;		     /* where the files are: one of plan.dirs */
	char crt_name[64], key_name[64];     /* "server.crt", "server.key" */
	char journal[64];		     /* "server.ep-pair": the pair's intent */
	bool crt_exists, key_exists;
	X509 *crt;     /* existing or new */
	EVP_PKEY *key; /* existing or new */
	bool write_key, write_crt;
	char *crt_pem, *key_pem;
	size_t crt_len, key_len;
	struct pki_sans sans;	 /* what a new certificate gets */
	X509_NAME *subject;	 /* of a new certificate */
	EXTENDED_KEY_USAGE *eku; /* of a new certificate */
	char *done_line;	 /* logged once every pair is written */
	struct saved old_crt, old_key;
	bool done;    /* the new pair is in place (written by this apply) */
	bool undone;  /* its commit failed half-way and put the old files back itself */
	bool pending; /* its commit failed and left a journal: the next run completes it */
};

struct plan {
	const struct ep_spec *spec;
	const char *root;
	time_t now;
	struct pair p[EP_CERT_COUNT];
	const char *tag;      /* "certs" or "renew": how its lines begin */
	struct ep_strv lines; /* logged once the plan holds */
	struct pki_dir dirs[2]; /* the certificate directory and its etcd/ */
	bool made[2];		/* created by this apply, removed on rollback */
};

static void saved_release(struct saved *sv)
{
	if (sv->data) {
		OPENSSL_cleanse(sv->data, sv->len);
		free(sv->data);
	}
	memset(sv, 0, sizeof(*sv));
}

static void plan_release(struct plan *pl)
{
	for (unsigned i = 0; i < EP_CERT_COUNT; i++) {
		struct pair *p = &pl->p[i];
		free(p->crt_path);
		free(p->key_path);
		X509_free(p->crt);
		EVP_PKEY_free(p->key);
		free(p->crt_pem);
		if (p->key_pem) {
			OPENSSL_cleanse(p->key_pem, p->key_len);
			free(p->key_pem);
		}
		pki_sans_release(&p->sans);
		X509_NAME_free(p->subject);
		EXTENDED_KEY_USAGE_free(p->eku);
		free(p->done_line);
		saved_release(&p->old_crt);
		saved_release(&p->old_key);
	}
	ep_strv_release(&pl->lines);
	for (size_t i = 0; i < 2; i++)
		pki_dir_release(&pl->dirs[i]);
}

static int plan_init(struct plan *pl, const struct ep_spec *spec, const char *root,
		     struct ep_error *err)
{
	memset(pl, 0, sizeof(*pl));
	pl->spec = spec;
	pl->root = root;
	pl->tag = "certs";
	pl->now = time(NULL);
	pl->dirs[0].fd = pl->dirs[1].fd = -1;
	for (unsigned i = 0; i < EP_CERT_COUNT; i++) {
		struct pair *p = &pl->p[i];
		p->prof = ep_cert_profile((enum ep_cert_id)i);
		int r = ep_pki_paths(spec, root, (enum ep_cert_id)i, &p->crt_path, &p->key_path,
				     err);
		if (r < 0)
			return r;
		/* Two directories: the certificate directory and its etcd/ (kubeadm's layout). */
		struct pki_dir *d = &pl->dirs[strchr(p->prof->base, '/') ? 1 : 0];
		const char *file = NULL;
		if (!d->node) {
			r = pki_dir_open(spec, root, p->prof, d, &file, err);
		} else {
			struct pki_dir tmp = {.fd = -1};
			r = pki_dir_open(spec, root, p->prof, &tmp, &file, err);
			pki_dir_release(&tmp);
		}
		if (r < 0)
			return r;
		p->dir = d;
		snprintf(p->crt_name, sizeof(p->crt_name), "%s.crt", file);
		snprintf(p->key_name, sizeof(p->key_name), "%s.key", file);
		snprintf(p->journal, sizeof(p->journal), "%s.ep-pair", file);
	}
	return 0;
}

static int plan_line(struct plan *pl, struct ep_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int plan_line(struct plan *pl, struct ep_error *err, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (ep_strv_push(&pl->lines, line) < 0)
		return ep_error_set(err, -ENOMEM, "out of memory");
	return 0;
}

/* The file name after the last slash, for "delete X and Y" advice. */
static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* fstatat() of @p's key or certificate, never following a link: 0 or -errno. */
static int pair_stat(const struct pair *p, bool key, struct stat *st)
{
	if (p->dir->fd < 0)
		return -p->dir->error;
	return fstatat(p->dir->fd, key ? p->key_name : p->crt_name, st, AT_SYMLINK_NOFOLLOW) < 0
		   ? -errno
		   : 0;
}

static int load_pair(struct pair *p, bool want_key, struct ep_error *err)
{
	int r = pki_load(p->dir, p->crt_name, p->crt_path, p->prof, &p->crt_exists, &p->crt, NULL,
			 err);
	if (r < 0)
		return r;
	if (want_key)
		return pki_load(p->dir, p->key_name, p->key_path, p->prof, &p->key_exists, NULL,
				&p->key, err);
	/* Only its kind matters: it is about to be replaced. */
	struct stat st;
	if ((r = pair_stat(p, true, &st)) == 0) {
		p->key_exists = true;
		if (S_ISLNK(st.st_mode))
			return ep_error_set(err, -ELOOP,
					    "'%s' is a symbolic link; etcdpilot never writes a key "
					    "through a link: replace it with a regular file",
					    p->key_path);
		if (!S_ISREG(st.st_mode))
			return ep_error_set(err, -EINVAL, "'%s' exists and is not a regular file",
					    p->key_path);
	} else if (r != -ENOENT) {
		return pki_inspect_error(p->key_path, -r, err);
	}
	return 0;
}

static int check_key_matches(struct pair *p, struct ep_error *err)
{
	int ok = X509_check_private_key(p->crt, p->key);
	ERR_clear_error();
	if (ok == 1)
		return 0;
	return ep_error_set(err, -EINVAL,
			    "'%s' does not match the public key of '%s'; restore the matching "
			    "pair, or delete %s and %s to regenerate them",
			    p->key_path, p->crt_path, base_name(p->crt_path),
			    base_name(p->key_path));
}

/* A group/world-readable key is reused, but said so. */
static int warn_key_mode(struct plan *pl, struct pair *p, struct ep_error *err)
{
	struct stat st;
	if (!p->key_exists || pair_stat(p, true, &st) < 0 || !(st.st_mode & 077))
		return 0;
	return plan_line(pl, err,
			 "[certs] WARNING: '%s' is readable by group or others (mode %04o); run "
			 "'chmod 600 %s'",
			 p->key_path, (unsigned)(st.st_mode & 07777), p->key_path);
}

static int warn_validity(struct plan *pl, struct pair *p, struct ep_error *err)
{
	time_t nb, na;
	char when[64];
	if (pki_cert_times(p->crt, &nb, &na) < 0)
		return ep_error_set(err, -EINVAL, "'%s': unreadable validity period", p->crt_path);
	if (pl->now > na) {
		ep_pki_format_expiry(na, when, sizeof(when));
		if (p->prof->is_ca)
			return plan_line(pl, err,
					 "[certs] WARNING: the etcd CA '%s' expired on %s; every "
					 "certificate it signed is rejected: rotate the CA by hand",
					 p->crt_path, when);
		return plan_line(pl, err,
				 "[certs] WARNING: '%s' expired on %s; renew it with 'etcdpilot "
				 "certs renew %s'",
				 p->crt_path, when, p->prof->name);
	}
	if (pl->now < nb) {
		ep_pki_format_expiry(nb, when, sizeof(when));
		return plan_line(pl, err,
				 "[certs] WARNING: '%s' is not valid before %s; check the clock",
				 p->crt_path, when);
	}
	return 0;
}

/*
 * The nearest existing directory at or above @path must be a writable
 * directory on a writable file system.  Checked the same way with and
 * without --dry-run, so that a dry run reports the error the real run would.
 */
static int check_writable_dir(const char *path, struct ep_error *err)
{
	_cleanup_free_ char *dir = strdup(path);
	if (!dir)
		return ep_error_set(err, -ENOMEM, "out of memory");
	for (;;) {
		char *slash = strrchr(dir, '/');
		if (!slash)
			return 0;
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		struct stat st;
		if (stat(dir, &st) == 0) {
			if (!S_ISDIR(st.st_mode))
				return ep_error_set(err, -ENOTDIR,
						    "'%s' exists and is not a directory; cannot "
						    "write '%s'",
						    dir, path);
			if (access(dir, W_OK) < 0)
				return ep_error_set(err, -errno, "cannot write into '%s': %s", dir,
						    strerror(errno));
			/* access() says EROFS too, but not for every caller on every kernel. */
			struct statvfs vfs;
			if (statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY))
				return ep_error_set(err, -EROFS, "cannot write into '%s': %s", dir,
						    strerror(EROFS));
			return 0;
		}
		if (errno != ENOENT && errno != ENOTDIR)
			return ep_error_set(err, -errno, "inspecting '%s': %s", dir,
					    strerror(errno));
		if (!strcmp(dir, "/"))
			return 0;
	}
}

/*
 * A leaf valid longer than its CA is refused by every verifier once the CA
 * has expired.  kubeadm's NewSignedCert gives a leaf its full period anyway
 * (and only its config validation warns when certificateValidityPeriod
 * exceeds caCertificateValidityPeriod); etcdpilot writes the same
 * certificate, and says so against the CA actually in use.
 */
static int warn_outlives_ca(struct plan *pl, struct pair *p, struct ep_error *err)
{
	const struct pair *ca = &pl->p[EP_CERT_CA];
	time_t leaf_na, ca_na;
	if (pki_cert_times(p->crt, NULL, &leaf_na) < 0 ||
	    pki_cert_times(ca->crt, NULL, &ca_na) < 0 || leaf_na <= ca_na)
		return 0;
	char leaf_when[64], ca_when[64];
	ep_pki_format_expiry(leaf_na, leaf_when, sizeof(leaf_when));
	ep_pki_format_expiry(ca_na, ca_when, sizeof(ca_when));
	return plan_line(pl, err,
			 "[%s] WARNING: \"%s\" will be valid until %s, but the etcd CA '%s' "
			 "expires on %s: from then on nothing accepts it; rotate the CA before "
			 "that, or shorten certificateValidityPeriod",
			 pl->tag, p->prof->base, leaf_when, ca->crt_path, ca_when);
}

/* Make every new key at once (RSA keys in parallel), then every certificate. */
static int plan_make(struct plan *pl, struct ep_error *err)
{
	EVP_PKEY *keys[EP_CERT_COUNT] = {NULL};
	size_t n = 0;
	for (unsigned i = 0; i < EP_CERT_COUNT; i++)
		if (pl->p[i].write_key)
			n++;
	int r = pki_keys_new(pl->spec->key_type, keys, n, err);
	if (r < 0)
		return r;
	for (unsigned i = 0, k = 0; i < EP_CERT_COUNT; i++)
		if (pl->p[i].write_key)
			pl->p[i].key = keys[k++];

	struct pair *ca = &pl->p[EP_CERT_CA];
	for (unsigned i = 0; i < EP_CERT_COUNT; i++) {
		struct pair *p = &pl->p[i];
		if (!p->write_crt)
			continue;
		struct pki_cert_req req = {
		    .subject = p->subject,
		    .sans = &p->sans,
		    .eku = p->eku,
		    .is_ca = p->prof->is_ca,
		    .validity_s =
			p->prof->is_ca ? pl->spec->ca_cert_validity_s : pl->spec->cert_validity_s,
		    .now = pl->now,
		};
		X509 *crt = NULL;
		r = pki_cert_make(&req, p->key, p->prof->is_ca ? NULL : ca->crt,
				  p->prof->is_ca ? NULL : ca->key, &crt, err);
		if (r < 0)
			return ep_error_prefix(err, "issuing \"%s\"", p->prof->base);
		X509_free(p->crt);
		p->crt = crt;
		if (!p->prof->is_ca)
			r = warn_outlives_ca(pl, p, err);
		if (r < 0)
			return r;
		r = pki_cert_pem(p->crt, &p->crt_pem, &p->crt_len, err);
		if (r >= 0 && p->write_key)
			r = pki_key_pem(p->key, &p->key_pem, &p->key_len, err);
		if (r < 0)
			return r;
	}
	return 0;
}

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

static void dry_run_pair(struct pair *p, ep_log_fn log, void *ud)
{
	char kdesc[32], subj[256], until[64];
	time_t na = 0;
	ep_pki_key_describe(p->key, kdesc, sizeof(kdesc));
	pki_name_oneline(X509_get_subject_name(p->crt), subj, sizeof(subj));
	pki_cert_times(p->crt, NULL, &na);
	ep_pki_format_expiry(na, until, sizeof(until));
	if (p->write_key)
		emit(log, ud, "[dryrun] Would write file \"%s\" with mode 0600 (%s private key)",
		     p->key_path, kdesc);
	_cleanup_free_ char *sans = NULL;
	if (p->sans.dns.n || p->sans.ip.n)
		sans = pki_sans_describe(&p->sans, false);
	emit(log, ud,
	     "[dryrun] Would write file \"%s\" with mode 0644 (certificate %s%s%s, valid until %s)",
	     p->crt_path, subj, sans ? ", " : "", sans ? sans : "", until);
}

static bool plan_writes(const struct plan *pl)
{
	for (unsigned i = 0; i < EP_CERT_COUNT; i++)
		if (pl->p[i].write_crt)
			return true;
	return false;
}

/* "etcd/server.key": how the messages name a file of the pair. */
static void short_name(const struct pair *p, bool key, char *buf, size_t size)
{
	snprintf(buf, size, "%s.%s", p->prof->base, key ? "key" : "crt");
}

static int saved_load(struct pair *p, bool key, struct ep_error *err)
{
	struct saved *sv = key ? &p->old_key : &p->old_crt;
	const char *path = key ? p->key_path : p->crt_path;
	struct stat st;
	int r = pair_stat(p, key, &st);
	if (r < 0)
		return r == -ENOENT ? 0 : pki_inspect_error(path, -r, err);
	sv->present = true;
	sv->mode = st.st_mode & 07777;
	return ep_read_file_at(p->dir->fd, p->dir->shown, key ? p->key_name : p->crt_name,
			       PKI_MAX_FILE, &sv->data, &sv->len, err);
}

/* Keep what every file about to be replaced holds now, for the rollback. */
static int plan_save_old(struct plan *pl, struct ep_error *err)
{
	int r = 0;
	for (unsigned i = 0; r >= 0 && i < EP_CERT_COUNT; i++) {
		struct pair *p = &pl->p[i];
		if (p->write_crt)
			r = saved_load(p, false, err);
		if (r >= 0 && p->write_key)
			r = saved_load(p, true, err);
	}
	return r;
}

/*
 * Leftovers of an interrupted run (SIGKILL, power loss): the temp files of
 * the atomic writes and pairs beside any of the five pairs' files (and
 * their journals), whether or not this plan writes there.  Only under the
 * lock (or counted, in a dry run), and after plan_recover: then nobody else
 * is writing those files and no journal needs them.
 */
static int plan_sweep(struct plan *pl, bool dry_run, struct ep_error *err)
{
	for (unsigned i = 0; i < EP_CERT_COUNT; i++) {
		struct pair *p = &pl->p[i];
		if (p->dir->fd < 0)
			continue;
		const char *names[] = {p->crt_name, p->key_name, p->journal};
		const char *paths[] = {p->crt_path, p->key_path, NULL};
		for (size_t k = 0; k < 3; k++) {
			int n = ep_write_atomic_sweep_at(p->dir->fd, p->dir->shown, names[k], dry_run,
							 err);
			if (n < 0)
				return n;
			if (n == 0)
				continue;
			char jpath[600];
			if (!paths[k])
				snprintf(jpath, sizeof(jpath), "%s/%s", p->dir->shown, names[k]);
			int r =
			    plan_line(pl, err,
				      "%s %d stale temporary file%s of '%s' left by an interrupted "
				      "run",
				      dry_run ? "[dryrun] Would remove" : "[certs] Removed", n,
				      n == 1 ? "" : "s", paths[k] ? paths[k] : jpath);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/*
 * Finish what a run that was killed while it replaced a pair began (its
 * journal is in place, so both new files were complete): roll forward, so
 * that the pair is the new one, whole.  Under the lock, before anything is
 * read.  A dry run only says what it would do.
 */
static int plan_recover(struct plan *pl, bool dry_run, ep_log_fn log, void *ud,
			struct ep_error *err)
{
	for (unsigned i = 0; i < EP_CERT_COUNT; i++) {
		struct pair *p = &pl->p[i];
		struct stat st;
		if (p->dir->fd < 0)
			continue;
		/* No journal, or a directory that may not be searched: the plan says so, for
		 * every file of it, in its own words. */
		if (fstatat(p->dir->fd, p->journal, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
		    (errno == ENOENT || errno == EACCES))
			continue;
		const char *names[] = {p->crt_name, p->key_name};
		int r = ep_pair_recover_at(p->dir->fd, p->dir->shown, p->journal, names, 2, dry_run,
					   err);
		if (r < 0)
			return r;
		if (r > 0)
			emit(log, ud,
			     "%s the interrupted write of \"%s\" (%s and %s) that a killed run left",
			     dry_run ? "[dryrun] Would complete" : "[certs] Completed",
			     p->prof->base, p->key_name, p->crt_name);
	}
	return 0;
}

/* Put the new key (when the plan makes one) and certificate of @p in place, as a pair. */
static int apply_pair(struct pair *p, struct ep_error *err)
{
	int dfd = p->dir->fd;
	const char *dir = p->dir->shown;
	_cleanup_free_ char *ktmp = NULL, *ctmp = NULL;
	char name[128];
	int r = 0;
	/* Key first, then the certificate: the order the test hook sees. */
	for (int k = 0; k < 2 && r >= 0; k++) {
		bool key = k == 0;
		if (key && !p->write_key)
			continue;
		const char *path = key ? p->key_path : p->crt_path;
		r = pki_test_write_hook ? pki_test_write_hook(path) : 0;
		if (r < 0)
			ep_error_set(err, r, "'%s': %s", path, strerror(-r));
		else if (key)
			r = ep_write_temp_at(dfd, dir, p->key_name, p->key_pem, p->key_len, 0600,
					     &ktmp, err);
		else
			r = ep_write_temp_at(dfd, dir, p->crt_name, p->crt_pem, p->crt_len, 0644,
					     &ctmp, err);
		if (r < 0) {
			short_name(p, key, name, sizeof(name));
			ep_error_prefix(err, "writing %s", name);
		}
	}
	if (r < 0) {
		if (ktmp)
			unlinkat(dfd, ktmp, 0);
		return r;
	}
	struct ep_pair_op ops[2];
	size_t n = 0;
	if (ktmp)
		ops[n++] = (struct ep_pair_op){p->key_name, ktmp};
	ops[n++] = (struct ep_pair_op){p->crt_name, ctmp};
	struct ep_error cerr;
	ep_error_clear(&cerr);
	r = ep_pair_commit_at(dfd, dir, p->journal, ops, n, &p->pending, &cerr);
	if (r < 0) {
		/* A rename failed half-way: the message says what went back. */
		p->undone = !p->pending && strstr(cerr.msg, "; put back the previous ") != NULL;
		if (err && !ep_error_isset(err))
			*err = cerr;
		return ep_error_prefix(err, "writing \"%s\"", p->prof->base);
	}
	return 0;
}

/*
 * Put @p back as it was, as a pair: the previous contents rewritten, or the
 * files this apply created removed.  On failure the pair stays the new one,
 * whole.
 */
static int undo_pair(struct pair *p, struct ep_error *err)
{
	int dfd = p->dir->fd;
	const char *dir = p->dir->shown;
	struct ep_pair_op ops[2];
	char *temps[2] = {NULL, NULL};
	size_t n = 0;
	int r = 0;
	for (int k = 0; k < 2 && r >= 0; k++) {
		bool key = k == 1;
		if (key && !p->write_key)
			continue;
		const struct saved *old = key ? &p->old_key : &p->old_crt;
		const char *path = key ? p->key_path : p->crt_path;
		const char *fname = key ? p->key_name : p->crt_name;
		if (pki_test_write_hook && (r = pki_test_write_hook(path)) < 0) {
			ep_error_set(err, r, "%s", strerror(-r));
			break;
		}
		ops[n].target = fname;
		ops[n].temp = NULL;
		if (old->present) {
			r = ep_write_temp_at(dfd, dir, fname, old->data, old->len, old->mode,
					     &temps[n], err);
			ops[n].temp = temps[n];
		}
		n++;
	}
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			if (temps[i])
				unlinkat(dfd, temps[i], 0);
	} else {
		/* On failure the commit removes the temps itself. */
		bool pending = false;
		r = ep_pair_commit_at(dfd, dir, p->journal, ops, n, &pending, err);
		p->pending |= pending;
	}
	free(temps[0]);
	free(temps[1]);
	return r;
}

/* Append ", @item" (or @item) to the list in @buf, truncating at @size. */
static void list_add(char *buf, size_t size, const char *item)
{
	size_t n = strlen(buf);
	const char *parts[] = {n ? ", " : "", item};
	for (size_t k = 0; k < 2; k++)
		for (const char *c = parts[k]; *c && n + 1 < size; c++)
			buf[n++] = *c;
	buf[n] = '\0';
}

/*
 * Undo what this apply wrote, newest pair first, and say in @err exactly
 * what is on disk now.  Each pair goes back as a pair (ep_pair_commit_at),
 * so a key and its certificate are either both the old ones or both the
 * new ones, never a mix.
 */
static void plan_rollback(struct plan *pl, const char *root, struct ep_error *err)
{
	char removed[512] = "", restored[512] = "", failed[EP_ERROR_MAX] = "";
	bool wrote = false, self_undone = false;
	for (unsigned i = EP_CERT_COUNT; i-- > 0;) {
		struct pair *p = &pl->p[i];
		self_undone |= p->undone;
		if (!p->done && !p->pending)
			continue;
		wrote = true;
		char crt[128], key[128], item[EP_ERROR_MAX + 512];
		short_name(p, false, crt, sizeof(crt));
		short_name(p, true, key, sizeof(key));
		struct ep_error e;
		ep_error_clear(&e);
		if (p->pending) {
			/* Never written over: its journal is what the next run completes. */
			snprintf(item, sizeof(item),
				 "\"%s\" is half-changed: its journal '%s/%s' makes the next run "
				 "complete it",
				 p->prof->base, p->dir->shown, p->journal);
			list_add(failed, sizeof(failed), item);
		} else if (undo_pair(p, &e) == 0) {
			list_add(p->old_crt.present ? restored : removed,
				 p->old_crt.present ? sizeof(restored) : sizeof(removed), crt);
			if (p->write_key)
				list_add(p->old_key.present ? restored : removed,
					 p->old_key.present ? sizeof(restored) : sizeof(removed),
					 key);
		} else if (p->pending) {
			snprintf(item, sizeof(item),
				 "could not %s %s and %s (%s): the next run completes that",
				 p->old_crt.present ? "restore the previous" : "remove the new", crt,
				 key, e.msg);
			list_add(failed, sizeof(failed), item);
		} else if (p->write_key) {
			snprintf(item, sizeof(item),
				 "could not %s %s and %s (%s): they hold the new certificate and "
				 "its key",
				 p->old_crt.present ? "restore the previous" : "remove the new", crt,
				 key, e.msg);
			list_add(failed, sizeof(failed), item);
		} else {
			snprintf(item, sizeof(item), "could not %s %s (%s): it holds the new certificate",
				 p->old_crt.present ? "restore the previous" : "remove the new", crt,
				 e.msg);
			list_add(failed, sizeof(failed), item);
		}
	}
	/* Directories this apply made go again - only if empty: what could not be undone stays. */
	for (size_t i = 2; i-- > 0;)
		if (pl->made[i]) {
			if (pl->dirs[i].fd >= 0)
				close(pl->dirs[i].fd);
			pl->dirs[i].fd = -1;
			ep_root_rmdir(root, pl->dirs[i].node);
		}

	char undone[1100] = "";
	if (removed[0] || restored[0])
		snprintf(undone, sizeof(undone), "%s%s%s%s%s", removed[0] ? "removed the new " : "",
			 removed, removed[0] && restored[0] ? "; " : "",
			 restored[0] ? "restored the previous " : "", restored);
	if (!wrote && self_undone)
		ep_error_append(err, ", so no file was changed");
	else if (!wrote)
		ep_error_append(err, "; nothing was written");
	else if (!failed[0])
		ep_error_append(err, "; rolled back (%s), so no file was changed", undone);
	else
		ep_error_append(err,
			   "; rolling back: %s%s%s; no other file was touched: check these files "
			   "before running again",
			   failed, undone[0] ? "; " : "", undone);
}

static void plan_log_lines(const struct plan *pl, ep_log_fn log, void *ud)
{
	for (size_t i = 0; log && i < pl->lines.n; i++)
		log(ud, pl->lines.v[i]);
}

static void plan_dry_run(struct plan *pl, ep_log_fn log, void *ud)
{
	plan_log_lines(pl, log, ud);
	for (unsigned i = 0; i < EP_CERT_COUNT; i++)
		if (pl->p[i].write_crt)
			dry_run_pair(&pl->p[i], log, ud);
}

static int apply_pairs(struct plan *pl, const char *root, struct ep_error *err)
{
	/* Directories first, so that no pair is written when one cannot be. */
	for (size_t d = 0; d < 2; d++) {
		bool used = false;
		for (unsigned i = 0; i < EP_CERT_COUNT; i++)
			used |= pl->p[i].write_crt && pl->p[i].dir == &pl->dirs[d];
		if (!used)
			continue;
		int fd = -1;
		int r = ep_root_open_dir(root, pl->dirs[d].node, true, 0755, &fd, &pl->made[d], err);
		if (r < 0)
			return r;
		if (pl->dirs[d].fd >= 0)
			close(pl->dirs[d].fd);
		pl->dirs[d].fd = fd;
		pl->dirs[d].error = 0;
	}
	for (unsigned i = 0; i < EP_CERT_COUNT; i++) {
		struct pair *p = &pl->p[i];
		if (!p->write_crt)
			continue;
		int r = apply_pair(p, err);
		if (r < 0)
			return r;
		p->done = true;
	}
	return 0;
}

/*
 * Write every pair of the plan, all or nothing: on a failure part-way,
 * what was written is rolled back and the message says what is on disk.
 * SIGINT, SIGTERM and SIGHUP wait until the writes (and any rollback) are
 * over; a SIGKILL or a crash leaves each pair old or new (its journal), and
 * the next run completes the pair that was being replaced.
 */
static int plan_apply(struct plan *pl, const char *root, ep_log_fn log, void *ud,
		      struct ep_error *err)
{
	plan_log_lines(pl, log, ud);
	if (!plan_writes(pl))
		return 0;

	sigset_t block, saved_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &saved_mask);
	int r = apply_pairs(pl, root, err);
	if (r < 0)
		plan_rollback(pl, root, err);
	pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	if (r < 0)
		return r;
	for (unsigned i = 0; log && i < EP_CERT_COUNT; i++)
		if (pl->p[i].write_crt && pl->p[i].done_line)
			log(ud, pl->p[i].done_line);
	return 0;
}

/* What generate or renew decides: fills @pl from what is on disk. */
typedef int (*plan_fn)(struct plan *pl, unsigned mask, struct ep_error *err);

static int plan_build(struct plan *pl, plan_fn fn, unsigned mask, struct ep_error *err)
{
	int r = fn(pl, mask, err);
	for (unsigned i = 0; r >= 0 && i < EP_CERT_COUNT; i++)
		if (pl->p[i].write_crt)
			r = check_writable_dir(pl->p[i].crt_path, err);
	return r;
}

static int plan_reset(struct plan *pl, const struct ep_spec *spec, const char *root,
		      const char *tag, struct ep_error *err)
{
	plan_release(pl);
	int r = plan_init(pl, spec, root, err);
	pl->tag = tag;
	return r;
}

void (*pki_test_unlocked_hook)(int step);

/*
 * Lock the certificate directory, then read, plan and apply, so that two
 * runs at once cannot interleave their writes (two CAs, one key beside the
 * other's certificate).  A dry run takes no lock and writes nothing.  When
 * the directory does not exist yet there is nothing to lock: the plan is
 * checked first, without the lock, on what plan_init found (no directory,
 * so no file is read that another run may be writing), so that a refusal
 * does not even create the directory; then it is created, locked, and
 * everything is read and planned again under the lock.  When that unlocked
 * check fails but the directory has appeared meanwhile, another run is
 * writing there: its result, read under the lock, decides.
 */
static int plan_run(struct plan *pl, const struct ep_spec *spec, const char *root, const char *tag,
		    unsigned mask, bool dry_run, plan_fn fn, ep_log_fn log, void *ud,
		    struct ep_error *err)
{
	int r = plan_init(pl, spec, root, err);
	pl->tag = tag;
	if (r < 0)
		return r;
	if (dry_run) {
		r = plan_recover(pl, true, log, ud, err);
		if (r >= 0)
			r = plan_build(pl, fn, mask, err);
		if (r >= 0)
			r = plan_sweep(pl, true, err);
		if (r >= 0)
			r = plan_make(pl, err);
		if (r >= 0)
			plan_dry_run(pl, log, ud);
		return r;
	}

	if (pl->dirs[0].fd < 0 && pl->dirs[0].error == ENOENT) {
		if (pki_test_unlocked_hook)
			pki_test_unlocked_hook(0);
		struct ep_error uerr;
		ep_error_clear(&uerr);
		r = plan_build(pl, fn, mask, &uerr);
		if (pki_test_unlocked_hook)
			pki_test_unlocked_hook(1);
		if (r < 0 && !ep_root_exists(root, spec->cert_dir)) {
			if (err && !ep_error_isset(err))
				*err = uerr;
			return r;
		}
		if (r >= 0 && !plan_writes(pl)) {
			plan_log_lines(pl, log, ud);
			return r;
		}
		if (r >= 0 && (r = ep_root_mkdir_p(root, spec->cert_dir, 0755, err)) < 0)
			return r;
	}
	_cleanup_close_ int lock_fd = -1;
	r = ep_root_dir_lock(root, spec->cert_dir, PKI_LOCK_TIMEOUT_MS, &lock_fd, err);
	if (r < 0)
		return r;
	/* Everything is looked at anew under the lock. */
	r = plan_reset(pl, spec, root, tag, err);
	if (r >= 0)
		r = plan_recover(pl, false, log, ud, err);
	if (r >= 0)
		r = plan_build(pl, fn, mask, err);
	if (r >= 0)
		r = plan_save_old(pl, err);
	if (r >= 0)
		r = plan_sweep(pl, false, err);
	if (r >= 0)
		r = plan_make(pl, err);
	if (r >= 0)
		r = plan_apply(pl, root, log, ud, err);
	return r;
}

/* ---- generate ----------------------------------------------------------- */

/*
 * ca.key without ca.crt: issuing a new CA certificate for the old key would
 * make a CA that no other member trusts (a new serial and validity under the
 * same name), so neither generate nor renew guesses.
 */
static int ca_key_alone(const struct plan *pl, const struct pair *ca, struct ep_error *err)
{
	return ep_error_set(
	    err, -ENOENT,
	    "'%s' exists without '%s'; restore %s (for instance from another "
	    "control-plane node's %s/%s.crt), or remove %s to start a new CA (every "
	    "member's certificates must then be reissued)",
	    ca->key_path, ca->crt_path, base_name(ca->crt_path), pl->spec->cert_dir, ca->prof->base,
	    base_name(ca->key_path));
}

static int plan_ca(struct plan *pl, unsigned mask, bool need_ca, struct ep_error *err)
{
	struct pair *ca = &pl->p[EP_CERT_CA];
	int r = load_pair(ca, true, err);
	if (r < 0)
		return r;
	bool in_mask = mask & EP_CERT_BIT(EP_CERT_CA);

	if (!ca->crt_exists && ca->key_exists)
		return ca_key_alone(pl, ca, err);
	if (ca->crt_exists) {
		if (!pki_cert_is_ca(ca->crt)) {
			char subj[256];
			pki_name_oneline(X509_get_subject_name(ca->crt), subj, sizeof(subj));
			return ep_error_set(
			    err, -EINVAL,
			    "'%s' (%s) is not a CA certificate: it lacks "
			    "basicConstraints CA:TRUE; put the etcd CA there, or delete "
			    "%s and %s to generate a new CA",
			    ca->crt_path, subj, base_name(ca->crt_path), base_name(ca->key_path));
		}
		if (ca->key_exists) {
			r = check_key_matches(ca, err);
			if (r < 0)
				return r;
		}
		r = warn_validity(pl, ca, err);
		if (r >= 0)
			r = warn_key_mode(pl, ca, err);
		if (r < 0 || !in_mask)
			return r;
		if (ca->key_exists)
			return plan_line(pl, err,
					 "[certs] Using the existing \"%s\" certificate and key",
					 ca->prof->base);
		return plan_line(pl, err,
				 "[certs] Using the existing \"%s\" certificate: external CA mode "
				 "(no '%s'), every certificate must already exist",
				 ca->prof->base, ca->key_path);
	}
	if (!in_mask) {
		if (!need_ca)
			return 0;
		return ep_error_set(
		    err, -ENOENT,
		    "the etcd CA certificate '%s' does not exist; run 'etcdpilot "
		    "certs generate etcd-ca' (or 'all') first, or copy the cluster's "
		    "CA (ca.crt and ca.key) from another control-plane node",
		    ca->crt_path);
	}
	ca->write_crt = true;
	ca->write_key = true;
	ca->subject = pki_name_cn(ca->prof->cn);
	if (!ca->subject)
		return ep_error_set(err, -ENOMEM, "out of memory");
	r = pki_sans_desired(pl->spec, ca->prof, &ca->sans, NULL, NULL, err);
	if (r < 0)
		return r;
	return plan_line(pl, err, "[certs] Generating \"%s\" certificate and key", ca->prof->base);
}

/* Lines from pki_sans_desired's warnings go into the plan, not out at once. */
static void plan_log_cb(void *ud, const char *line)
{
	struct plan *pl = ud;
	plan_line(pl, NULL, "%s", line);
}

static int plan_leaf(struct plan *pl, struct pair *p, struct ep_error *err)
{
	struct pair *ca = &pl->p[EP_CERT_CA];
	int r = load_pair(p, true, err);
	if (r < 0)
		return r;
	r = pki_sans_desired(pl->spec, p->prof, &p->sans, plan_log_cb, pl, err);
	if (r < 0)
		return r;

	if (p->crt_exists && !p->key_exists)
		return ep_error_set(err, -ENOENT,
				    "'%s' exists but its key '%s' does not; restore the key, or "
				    "delete %s to regenerate the pair",
				    p->crt_path, p->key_path, base_name(p->crt_path));
	if (p->crt_exists) {
		r = check_key_matches(p, err);
		if (r < 0)
			return r;
		if (ca->write_crt)
			return ep_error_set(
			    err, -EINVAL,
			    "'%s' exists but the etcd CA that issued it does not "
			    "('%s' is missing); restore that CA, or delete %s and %s "
			    "to regenerate them with a new CA",
			    p->crt_path, ca->crt_path, base_name(p->crt_path),
			    base_name(p->key_path));
		if (!pki_cert_issued_by(p->crt, ca->crt)) {
			char issuer[256];
			pki_name_oneline(X509_get_issuer_name(p->crt), issuer, sizeof(issuer));
			return ep_error_set(
			    err, -EINVAL,
			    "'%s' is not signed by the etcd CA '%s' (its issuer is "
			    "%s); delete %s and %s to regenerate them with this CA, "
			    "or put back the CA that issued them",
			    p->crt_path, ca->crt_path, issuer, base_name(p->crt_path),
			    base_name(p->key_path));
		}
		struct pki_sans have = {0};
		r = pki_sans_of_cert(p->crt, &have, err);
		bool oom = false;
		_cleanup_free_ char *missing =
		    r < 0 ? NULL : pki_sans_missing(&p->sans, &have, &oom);
		_cleanup_free_ char *has = missing ? pki_sans_describe(&have, true) : NULL;
		pki_sans_release(&have);
		if (r < 0)
			return r;
		if (oom || (missing && !has))
			return ep_error_set(err, -ENOMEM, "out of memory");
		if (missing)
			return ep_error_set(
			    err, -EINVAL,
			    "'%s' lacks SAN%s %s (has %s); delete %s and %s to "
			    "regenerate them, or fix the node name, advertise address "
			    "or %s in the configuration",
			    p->crt_path, strchr(missing, ',') ? "s" : "", missing, has,
			    base_name(p->crt_path), base_name(p->key_path),
			    p->prof->id == EP_CERT_SERVER ? "serverCertSANs" : "peerCertSANs");
		r = warn_validity(pl, p, err);
		if (r >= 0)
			r = warn_key_mode(pl, p, err);
		if (r < 0)
			return r;
		return plan_line(pl, err, "[certs] Using the existing \"%s\" certificate and key",
				 p->prof->base);
	}

	/* No certificate: issue one. */
	if (!ca->key && !ca->write_key)
		return ep_error_set(err, -ENOENT,
				    "'%s' does not exist and the etcd CA is external ('%s' has no "
				    "'%s' beside it), so etcdpilot cannot issue it; provide %s and "
				    "%s signed by that CA, or put the CA key in place",
				    p->crt_path, ca->crt_path, base_name(ca->key_path),
				    base_name(p->crt_path), base_name(p->key_path));
	p->write_crt = true;
	p->write_key = !p->key_exists;
	p->subject = pki_name_cn(p->prof->cn ? p->prof->cn : pl->spec->name);
	p->eku = pki_profile_eku(p->prof);
	if (!p->subject || !p->eku)
		return ep_error_set(err, -ENOMEM, "out of memory");
	if (p->key_exists)
		r = plan_line(
		    pl, err,
		    "[certs] Using the existing \"%s\" key to issue its missing certificate",
		    p->prof->base);
	else
		r = plan_line(pl, err, "[certs] Generating \"%s\" certificate and key",
			      p->prof->base);
	if (r >= 0 && p->prof->node_sans) {
		_cleanup_free_ char *desc = pki_sans_describe(&p->sans, false);
		if (!desc)
			return ep_error_set(err, -ENOMEM, "out of memory");
		r = plan_line(pl, err, "[certs] %s serving cert is signed for %s", p->prof->base,
			      desc);
	}
	return r;
}

static int plan_generate(struct plan *pl, unsigned mask, struct ep_error *err)
{
	int r = plan_ca(pl, mask, (mask & EP_CERT_LEAVES) != 0, err);
	for (unsigned i = EP_CERT_CA + 1; r >= 0 && i < EP_CERT_COUNT; i++)
		if (mask & EP_CERT_BIT(i))
			r = plan_leaf(pl, &pl->p[i], err);
	return r;
}

int ep_pki_generate_ex(const struct ep_spec *spec, const char *root, unsigned mask, bool dry_run,
		       ep_log_fn log, void *userdata, unsigned *ret_written, struct ep_error *err)
{
	if (ret_written)
		*ret_written = 0;
	if (!mask || (mask & ~EP_CERT_ALL))
		return ep_error_usage(err, -EINVAL, "no certificate selected");
	if (!spec->name || !spec->advertise_address)
		return ep_error_usage(err, -EINVAL,
				      "the node spec has no name or advertise address");

	_cleanup_(plan_release) struct plan pl;
	int r = plan_run(&pl, spec, root, "certs", mask, dry_run, plan_generate, log, userdata, err);
	if (r >= 0 && ret_written)
		for (unsigned i = 0; i < EP_CERT_COUNT; i++)
			if (pl.p[i].write_crt)
				*ret_written |= EP_CERT_BIT(i);
	return r;
}

int ep_pki_generate(const struct ep_spec *spec, const char *root, unsigned mask, bool dry_run,
		    ep_log_fn log, void *userdata, struct ep_error *err)
{
	return ep_pki_generate_ex(spec, root, mask, dry_run, log, userdata, NULL, err);
}

int ep_pki_ensure(const struct ep_spec *spec, const char *root, bool dry_run, ep_log_fn log,
		  void *userdata, struct ep_error *err)
{
	return ep_pki_generate(spec, root, EP_CERT_ALL, dry_run, log, userdata, err);
}

/* ---- renew -------------------------------------------------------------- */

/*
 * kubeadm's certToConfig: CN and O of the old subject, nothing else, written
 * as Go's pkix.Name.ToRDNSequence writes them: every O first, then the CN.
 * Go keeps one CN (the last one it parsed), so a subject with several gets
 * the last.
 */
static X509_NAME *renewed_subject(const X509 *old)
{
	const X509_NAME *on = X509_get_subject_name(old);
	X509_NAME *n = X509_NAME_new();
	if (!n)
		return NULL;
	int idx = -1, cn = -1;
	while ((idx = X509_NAME_get_index_by_NID(on, NID_organizationName, idx)) >= 0)
		if (!X509_NAME_add_entry(n, X509_NAME_get_entry(on, idx), -1, 0))
			goto fail;
	while ((idx = X509_NAME_get_index_by_NID(on, NID_commonName, idx)) >= 0)
		cn = idx;
	if (cn >= 0 && !X509_NAME_add_entry(n, X509_NAME_get_entry(on, cn), -1, 0))
		goto fail;
	return n;
fail:
	X509_NAME_free(n);
	return NULL;
}

static int plan_renew_leaf(struct plan *pl, struct pair *p, bool only, struct ep_error *err)
{
	struct pair *ca = &pl->p[EP_CERT_CA];
	int r = load_pair(p, false, err);
	if (r < 0)
		return r;
	if (!p->crt_exists) {
		if (only)
			return ep_error_set(
			    err, -ENOENT,
			    "'%s' does not exist, so there is nothing to renew; run "
			    "'etcdpilot certs generate %s' to create it",
			    p->crt_path, p->prof->name);
		return plan_line(pl, err, "[renew] MISSING! %s ('%s'), skipped", p->prof->name,
				 p->crt_path);
	}
	if (!pki_cert_issued_by(p->crt, ca->crt)) {
		r = plan_line(pl, err,
			      "[renew] WARNING: '%s' was not issued by the etcd CA '%s'; the "
			      "renewed certificate will be",
			      p->crt_path, ca->crt_path);
		if (r < 0)
			return r;
	}
	p->subject = renewed_subject(p->crt);
	p->eku = X509_get_ext_d2i(p->crt, NID_ext_key_usage, NULL, NULL);
	if (!p->eku)
		p->eku = pki_profile_eku(p->prof);
	if (!p->subject || !p->eku)
		return ep_error_set(err, -ENOMEM, "out of memory");
	r = pki_sans_of_cert(p->crt, &p->sans, err);
	if (r < 0)
		return r;
	p->write_crt = p->write_key = true;
	if (asprintf(&p->done_line, "[renew] %s renewed", p->prof->purpose) < 0) {
		p->done_line = NULL;
		return ep_error_set(err, -ENOMEM, "out of memory");
	}
	return 0;
}

static int plan_renew(struct plan *pl, unsigned mask, struct ep_error *err)
{
	struct pair *ca = &pl->p[EP_CERT_CA];
	int r = load_pair(ca, true, err);
	if (r < 0)
		return r;
	if (!ca->crt_exists && ca->key_exists)
		return ca_key_alone(pl, ca, err);
	if (!ca->crt_exists)
		return ep_error_set(
		    err, -ENOENT,
		    "the etcd CA certificate '%s' does not exist, so nothing can be "
		    "renewed; run 'etcdpilot certs generate' first",
		    ca->crt_path);
	if (!ca->key_exists)
		return ep_error_set(err, -ENOENT,
				    "the etcd CA is managed externally ('%s' has no key '%s'), so "
				    "etcdpilot cannot renew its certificates; renew them with that "
				    "CA, or put the CA key in place",
				    ca->crt_path, ca->key_path);
	if (!pki_cert_is_ca(ca->crt))
		return ep_error_set(err, -EINVAL,
				    "'%s' is not a CA certificate: it lacks basicConstraints "
				    "CA:TRUE",
				    ca->crt_path);
	r = check_key_matches(ca, err);
	if (r < 0)
		return r;

	bool only = __builtin_popcount(mask) == 1;
	for (unsigned i = EP_CERT_CA + 1; r >= 0 && i < EP_CERT_COUNT; i++)
		if (mask & EP_CERT_BIT(i))
			r = plan_renew_leaf(pl, &pl->p[i], only, err);
	return r;
}

int ep_pki_renew(const struct ep_spec *spec, const char *root, unsigned mask, bool dry_run,
		 unsigned *ret_renewed, ep_log_fn log, void *userdata, struct ep_error *err)
{
	if (ret_renewed)
		*ret_renewed = 0;
	if (mask & EP_CERT_BIT(EP_CERT_CA))
		return ep_error_usage(err, -EINVAL,
				      "the etcd CA is never renewed (nor by kubeadm): a new CA "
				      "means re-issuing every certificate of every member; rotate "
				      "it by hand");
	if (!mask || (mask & ~EP_CERT_ALL))
		return ep_error_usage(err, -EINVAL, "no certificate selected");

	_cleanup_(plan_release) struct plan pl;
	int r = plan_run(&pl, spec, root, "renew", mask, dry_run, plan_renew, log, userdata, err);
	if (r < 0)
		return r;
	if (ret_renewed)
		for (unsigned i = 0; i < EP_CERT_COUNT; i++)
			if (pl.p[i].write_crt)
				*ret_renewed |= EP_CERT_BIT(i);
	return 0;
}
