/*
 * version.c - etcdpilot version (and --version): the version, the git
 * revision and date of the source, and the libraries it runs with, as
 * 'kubeadm version' and 'etcdctl version' tell theirs; -o json for scripts.
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "cli.h"
#include "etcdpilot/buildinfo.h"

static int version_run(struct cli_ctx *ctx, struct ep_error *err)
{
	(void)err;
	struct ep_library_version libs[EP_LIBRARY_COUNT];
	ep_library_versions(libs);
	struct utsname u;
	const char *machine = uname(&u) == 0 ? u.machine : "unknown";
	if (!cli_json(ctx)) {
		/* The first line is what --version always printed: scripts read it. */
		printf("etcdpilot %s (git %s)\n", ep_version(), ep_git_revision());
		printf("build date: %s\n", ep_build_date());
		printf("platform:   linux/%s\n", machine);
		for (size_t i = 0; i < EP_LIBRARY_COUNT; i++) {
			const struct ep_library_version *l = &libs[i];
			printf("%-11s %s", l->name, l->running ? l->running : "-");
			if (l->detail)
				printf(" (%s)", l->detail);
			if (!l->running || strcmp(l->running, l->built))
				printf(", built with %s", l->built);
			printf("\n");
		}
		return 0;
	}
	json_t *jl = json_object();
	for (size_t i = 0; jl && i < EP_LIBRARY_COUNT; i++) {
		const struct ep_library_version *l = &libs[i];
		json_object_set_new(jl, l->name,
				    json_pack("{s:s? s:s s:s?}", "version", l->running, "builtWith",
					      l->built, "detail", l->detail));
	}
	char platform[80];
	snprintf(platform, sizeof(platform), "linux/%s", machine);
	cli_print_doc("Version", json_pack("{s:s s:s s:s s:s s:o}", "version", ep_version(),
					   "gitRevision", ep_git_revision(), "buildDate",
					   ep_build_date(), "platform", platform, "libraries", jl));
	return 0;
}

const struct cli_command cmd_version = {
    .name = "version",
    .run = version_run,
    .summary = "print the version, git revision, build date and library versions",
    .help = "Prints etcdpilot's version and the git revision it was built from (the first\n"
	    "line, also what --version prints), the build date (the time of that commit,\n"
	    "or $SOURCE_DATE_EPOCH: the same source builds the same binary), the platform,\n"
	    "and the versions of libcurl (with its TLS library), OpenSSL, jansson, libyaml\n"
	    "and libarchive it runs with now, with the version it was built with when that\n"
	    "differs.  libarchive is loaded only when it is needed (an etcd release\n"
	    "archive); a missing one is shown as '-'.  -o json prints one Version document.",
    .min_args = 0,
    .max_args = 0,
    .json_output = true,
};
