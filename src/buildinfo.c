/*
 * buildinfo.c - the version of etcdpilot and of the libraries it runs
 * with, read from the libraries themselves.  It reads nothing else and
 * changes nothing (but for loading libarchive, as an archive read would).
 */
#include <stdbool.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <yaml.h>

#include "archive_dl.h"
#include "etcdpilot/buildinfo.h"
#include "etcdpilot/version.h"

const char *ep_version(void)
{
	return EP_VERSION;
}

const char *ep_git_revision(void)
{
	return EP_GIT_REVISION;
}

const char *ep_build_date(void)
{
	return EP_BUILD_DATE;
}

void ep_library_versions(struct ep_library_version v[EP_LIBRARY_COUNT])
{
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	v[0] =
	    (struct ep_library_version){"libcurl", cv->version, LIBCURL_VERSION, cv->ssl_version};
	v[1] = (struct ep_library_version){"OpenSSL", OpenSSL_version(OPENSSL_VERSION_STRING),
					   OPENSSL_VERSION_STR, NULL};
	v[2] = (struct ep_library_version){"jansson", jansson_version_str(), JANSSON_VERSION, NULL};
	v[3] = (struct ep_library_version){"libyaml", yaml_get_version_string(),
					   EP_LIBYAML_BUILT_VERSION, NULL};
	struct ep_error err;
	ep_error_clear(&err);
	bool loaded = ep_archive_dl_open(&err) == 0;
	const char *av = loaded ? sym_archive_version_string() : NULL; /* "libarchive 3.6.2" */
	if (av && !strncmp(av, "libarchive ", 11))
		av += 11;
	v[4] = (struct ep_library_version){
	    "libarchive", av, ARCHIVE_VERSION_ONLY_STRING,
	    loaded ? EP_LIBARCHIVE_SONAME ", loaded on demand"
		   : EP_LIBARCHIVE_SONAME " not found (install libarchive13 for --release-url)"};
}
