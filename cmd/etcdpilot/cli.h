/*
 * cli.h - what every command file shares: the command descriptor, the
 * parsed invocation, and the few helpers that turn flags into a node spec
 * and results into output.  Only cmd/ prints; only main.c picks exit codes.
 */
#ifndef ETCDPILOT_CLI_H
#define ETCDPILOT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "etcdpilot/config.h"
#include "etcdpilot/error.h"
#include "etcdpilot/log.h"
#include "etcdpilot/spec.h"

/*
 * One flag: long name without the dashes, optional one-letter form.
 * @argname also says what the value is, for shell completion: FILE and PATH
 * complete file names, DIR directories, MODE the modes, TYPE the key types,
 * FORMAT the command's output formats; any other name completes nothing.
 */
struct cli_opt {
	const char *name;
	char short_name;
	bool takes_value;
	const char *argname; /* "DIR", "FILE"...; NULL for switches */
	const char *help;
};

/* Flag groups a command accepts on top of the global ones. */
enum {
	CLI_NODE = 1 << 0,    /* --name, --advertise-address, --mode, ... */
	CLI_CLIENT = 1 << 1,  /* --endpoints, --cacert, --cert, --key */
	CLI_SYSTEMD = 1 << 2, /* --etcd-binary, --release-url, ... */
};

struct cli_ctx;

/*
 * A command's run function: 0 on success, a negative errno with @err set on
 * failure (the error's kind decides exit 1 or 2), CLI_UNHEALTHY (exit 3) or
 * CLI_PLAINTEXT (exit 4).
 */
#define CLI_UNHEALTHY 3
#define CLI_PLAINTEXT 4 /* keyspace --check-encryption: values stored in plaintext (exit 4) */
typedef int (*cli_run_fn)(struct cli_ctx *ctx, struct ep_error *err);

struct cli_command {
	const char *name;     /* "init", "certs generate": matched exactly */
	cli_run_fn run;       /* NULL: not implemented yet (exit 1, says so) */
	unsigned groups;      /* CLI_* */
	const struct cli_opt *opts; /* own flags, terminated by {0}; may be NULL */
	const char *args;     /* positional synopsis: "ENDPOINT", "[NAME|all]" */
	const char *summary;  /* one line for the command list */
	const char *help;     /* paragraph(s) for COMMAND --help */
	int min_args, max_args; /* positional word count; max -1 = unbounded */
	bool json_output;     /* -o json prints one JSON document (else -o json is refused) */
	bool yaml_output;     /* -o yaml prints one YAML document (else -o yaml is refused) */
	const char *instead;  /* not implemented yet: the manual way to do it today */
	void (*help_extra)(FILE *f); /* more help made at run time (a phase list); may be NULL */
	/*
	 * The words the first positional argument takes, printed to @f one per
	 * line (certificate names, phases), for shell completion; NULL: an
	 * @args starting with FILE completes file names, anything else nothing.
	 */
	void (*arg_words)(FILE *f);
	bool hidden; /* the build's own helpers: not in --help, completion or man pages */
};

/*
 * The exit codes, in order: main.c maps results to them, and --help, the
 * man pages and their test read this one table.  @command names the only
 * command that uses the code (NULL: any).
 */
struct cli_exit_code {
	int code;
	const char *command;
	const char *meaning;
};
extern const struct cli_exit_code cli_exit_codes[]; /* terminated by a NULL meaning */

/*
 * The flags of a group: 0 for the global flags, else one of CLI_NODE,
 * CLI_CLIENT, CLI_SYSTEMD.  A table terminated by {0}; NULL for anything else.
 */
const struct cli_opt *cli_opt_group(unsigned group);

/* The heading a group's flags have in --help and the man pages ("Node flags"). */
const char *cli_opt_group_title(unsigned group);

/* The API version of etcdpilot's own -o json documents (docs/json.md). */
#define CLI_API_VERSION "etcdpilot.io/v1alpha1"

#define CLI_MAX_LOCAL 32

struct cli_ctx {
	const struct cli_command *cmd;

	/* global flags */
	const char *root;   /* NULL = "/" */
	const char *config;
	const char *output; /* "text" (default), "json", "yaml" where supported */
	bool dry_run;
	int verbose;

	/* node and systemd flags, handed to the config loader */
	struct ep_overrides ov;

	/* client flags (CLI_CLIENT) */
	const char *endpoints;
	const char *cacert;
	const char *cert;
	const char *key;

	/* the command's own flags, in the order given */
	struct {
		const char *name;
		const char *value; /* "" for switches */
	} local[CLI_MAX_LOCAL];
	size_t nlocal;

	char **args; /* positional words after the command name */
	int nargs;
};

/* The value of the command's own flag @name (last one wins); NULL if absent. */
const char *cli_get(const struct cli_ctx *ctx, const char *name);
bool cli_has(const struct cli_ctx *ctx, const char *name);

/* True when -o json was asked for. */
bool cli_json(const struct cli_ctx *ctx);

/*
 * Build the complete node spec from --config and the node flags; notes from
 * the loader go to stderr as "[config] ...".  Returns 0 or -errno with @err.
 */
int cli_load_spec(struct cli_ctx *ctx, struct ep_spec *spec, struct ep_error *err);

/*
 * cli_load_spec() for commands that read only the certificate directory,
 * key type and validity (certs check-expiration, renew, export-bundle,
 * import-bundle): an advertise address that cannot be detected (no default
 * route) must not stop them, so a placeholder stands in when none is given.
 */
int cli_load_spec_any_address(struct cli_ctx *ctx, struct ep_spec *spec, struct ep_error *err);

/*
 * The ep_log_fn every command hands the library: progress lines
 * ("[certs] Generating ...") to stdout, warnings (a line holding "WARNING")
 * to stderr, each flushed at once so that the two streams interleave in
 * order on a terminal.
 */
void cli_print_line(void *userdata, const char *line);

/* The same to stderr: for progress while stdout holds one JSON document. */
void cli_print_line_stderr(void *userdata, const char *line);
/*
 * The log function for @ctx's command: cli_print_line, or with -o json one
 * that prints every line to stderr, where it cannot spoil the document.
 */
ep_log_fn cli_log(const struct cli_ctx *ctx);

/* Print @doc (stolen reference) to stdout as one JSON document. */
void cli_print_json(json_t *doc);

/*
 * Print @doc (stolen reference) as one of etcdpilot's documents: with
 * "apiVersion": CLI_API_VERSION and "kind": @kind first, then @doc's own
 * fields in their order (docs/json.md lists the kinds).
 */
void cli_print_doc(const char *kind, json_t *doc);

/* Print a diagnostic line to stderr when -v was given. */
void cli_verbose(const struct cli_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Every command, in the order --help lists them (defined in main.c). */
extern const struct cli_command *const cli_commands[];

/* The commands, each defined in its own file. */
extern const struct cli_command cmd_init, cmd_init_phase, cmd_join, cmd_reset, cmd_health;
extern const struct cli_command cmd_member_list, cmd_member_add, cmd_member_remove,
	cmd_member_promote;
extern const struct cli_command cmd_certs_generate, cmd_certs_check_expiration,
	cmd_certs_renew, cmd_certs_export_bundle, cmd_certs_import_bundle;
extern const struct cli_command cmd_render_manifest, cmd_render_unit;
extern const struct cli_command cmd_convert, cmd_snapshot_save, cmd_config_print,
	cmd_operate;
extern const struct cli_command cmd_keyspace, cmd_keyspace_get;
extern const struct cli_command cmd_version, cmd_completion, cmd_docs;

/*
 * @s to @f as one shell word: as it is when it needs no quoting, else in
 * single quotes.  False, nothing printed, when it holds a control
 * character (no line a user copies can hold it).
 */
bool cli_print_shell_word(FILE *f, const char *s);

/*
 * "\tetcdpilot join ENDPOINT --ca-bundle FILE --certificate-key KEY --name
 * <node name> --advertise-address <node IP> ..." to stdout: the command a
 * new control-plane node runs to join the member @spec describes (init's
 * spec, or one read back from a manifest or unit: unset fields are left
 * out), with the flags whose values are not the defaults.  @endpoint,
 * @bundle and @key may be NULL (placeholders then).
 */
void cli_print_join_command(const struct ep_spec *spec, const char *endpoint,
			    const char *bundle, const char *key);

/* The certificate names 'certs generate' and 'certs renew' take, one a line. */
void cli_cert_words(FILE *f);
void cli_cert_leaf_words(FILE *f);

#endif
