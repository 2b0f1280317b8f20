/*
 * render_unit.c - etcdpilot render unit: print the systemd unit and environment.
 *
 * Prints, for the node spec, the four files init --mode systemd writes
 * (etcd.service, etcd.env, etcdctl.env, etcdctl.sh), each after a
 * "# /path" header line, exactly as they would be written.  With
 * --etcd-binary or --release-url the etcd version is that binary's, as for
 * init.  Reads nothing from the node and changes nothing.
 */
#include <stdio.h>

#include "cli.h"
#include "etcdpilot/unit.h"
#include "cli_node.h"

static int cmd_render_unit_run(struct cli_ctx *ctx, struct ep_error *err)
{
	struct ep_spec spec;
	ep_spec_init(&spec);
	int r = cli_load_spec(ctx, &spec, err);
	struct ep_unit_files files = { 0 };
	/* With a binary source, its version decides the flags, as init would. */
	char version[32];
	if (r >= 0 && (spec.systemd.etcd_binary || spec.systemd.release_url))
		r = cli_systemd_version(ctx, &spec, version, sizeof(version), err);
	if (r >= 0)
		r = ep_unit_render(&spec, NULL, &files, err);
	if (r >= 0) {
		if (cli_json(ctx)) {
			json_t *doc = json_object();
			for (int i = 0; i < EP_UNIT_NFILES; i++) {
				json_t *f = json_object();
				json_object_set_new(f, "mode", json_integer(files.f[i].mode));
				json_object_set_new(f, "content",
						    json_stringn(files.f[i].content,
								 files.f[i].len));
				json_object_set_new(doc, files.f[i].path, f);
			}
			cli_print_doc("UnitFiles", doc);
		} else {
			for (int i = 0; i < EP_UNIT_NFILES; i++) {
				printf("%s# %s\n", i ? "\n" : "", files.f[i].path);
				fwrite(files.f[i].content, 1, files.f[i].len, stdout);
			}
		}
	}
	ep_unit_files_release(&files);
	ep_spec_release(&spec);
	return r;
}

const struct cli_command cmd_render_unit = {
	.name = "render unit",
	.run = cmd_render_unit_run,
	.groups = CLI_NODE | CLI_SYSTEMD,
	.args = NULL,
	.summary = "print the systemd unit and environment init/join would write",
	.help = "Prints etcd.service, the environment file etcd reads its flags from (each\n"
		"--foo-bar=V of the static pod becomes ETCD_FOO_BAR=V), etcdctl.env and\n"
		"the etcdctl.sh wrapper, each after a '# /path' line, exactly as\n"
		"'init --mode systemd' writes them.  -o json prints one object keyed by path.",
	.min_args = 0,
	.max_args = 0,
	.json_output = true,
};
