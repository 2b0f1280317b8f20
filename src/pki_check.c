/*
 * pki_check.c - what check-expiration shows: one status record per etcd
 * certificate, read once, and kubeadm's formatting of its dates and
 * residual times.  It reads only; rendering the table or the JSON is the
 * command's job.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "etcdpilot/error.h"
#include "etcdpilot/fs.h"
#include "pki_internal.h"

void ep_pki_status_release(struct ep_pki_status *st)
{
	if (!st)
		return;
	for (unsigned i = 0; i < EP_CERT_COUNT; i++) {
		free(st->certs[i].crt_path);
		st->certs[i].crt_path = NULL;
	}
}

int ep_pki_status_read(const struct ep_spec *spec, const char *root, struct ep_pki_status *st,
		       struct ep_error *err)
{
	memset(st, 0, sizeof(*st));
	st->now = time(NULL);

	bool ca_key = false;
	for (unsigned i = 0; i < EP_CERT_COUNT; i++) {
		struct ep_cert_status *cs = &st->certs[i];
		cs->id = (enum ep_cert_id)i;
		_cleanup_free_ char *key_path = NULL;
		int r = ep_pki_paths(spec, root, cs->id, &cs->crt_path, &key_path, err);
		if (r < 0)
			return r;
		bool exists = false;
		_cleanup_(X509_freep) X509 *crt = NULL;
		_cleanup_(pki_dir_release) struct pki_dir dir = {.fd = -1};
		const char *file = NULL;
		char name[256];
		r = pki_dir_open(spec, root, ep_cert_profile(cs->id), &dir, &file, err);
		if (r < 0)
			return r;
		snprintf(name, sizeof(name), "%s.crt", file);
		r = pki_load(&dir, name, cs->crt_path, ep_cert_profile(cs->id), &exists, &crt, NULL,
			     err);
		if (r < 0)
			return r;
		cs->missing = !exists;
		if (exists && pki_cert_times(crt, &cs->not_before, &cs->not_after) < 0)
			return ep_error_set(err, -EINVAL, "'%s': unreadable validity period",
					    cs->crt_path);
		if (i == EP_CERT_CA) {
			/* Whether ca.key exists is all that "externally managed" asks. */
			struct stat kst;
			snprintf(name, sizeof(name), "%s.key", file);
			ca_key = dir.fd >= 0 && fstatat(dir.fd, name, &kst, AT_SYMLINK_NOFOLLOW) == 0;
			cs->external = exists && !ca_key;
		} else {
			cs->external = !st->certs[EP_CERT_CA].missing && !ca_key;
		}
	}
	return 0;
}

void ep_pki_format_expiry(time_t t, char *buf, size_t size)
{
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(buf, size, "%b %d, %Y %H:%M UTC", &tm))
		snprintf(buf, size, "?");
}

void ep_pki_format_residual(time_t now, time_t not_after, char *buf, size_t size)
{
	long long s = (long long)not_after - (long long)now;
	/* Go's time.Now() is mid-second while NotAfter is whole seconds, so kubeadm
	 * sees a hair less than the whole-second difference: 365d shows as "364d". */
	if (s >= 1)
		s--;
	if (s < -1)
		snprintf(buf, size, "<invalid>");
	else if (s < 0)
		snprintf(buf, size, "0s");
	else if (s < 60)
		snprintf(buf, size, "%llds", s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm", s / 60);
	else if (s < 86400)
		snprintf(buf, size, "%lldh", s / 3600);
	else if (s < 86400LL * 365)
		snprintf(buf, size, "%lldd", s / 86400);
	else
		snprintf(buf, size, "%lldy", s / (86400LL * 365));
}
