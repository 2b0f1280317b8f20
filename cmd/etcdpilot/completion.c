/*
 * completion.c - etcdpilot completion bash|zsh: a completion script made
 * from the command table, so that it knows every command and flag the
 * binary does and nothing else.  The script is data (which commands, which
 * flags each takes, what each flag's value is) plus one small function,
 * written once in the subset of shell that bash and zsh share, that works
 * out what the words before the cursor leave to complete; each shell's own
 * wrapper hands the candidates to compgen or compadd.  It prints and
 * changes nothing else.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "etcdpilot/buildinfo.h"
#include "etcdpilot/spec.h"

static const unsigned groups[] = {0, CLI_NODE, CLI_SYSTEMD, CLI_CLIENT};
#define NGROUPS (sizeof(groups) / sizeof(groups[0]))

/* Every table of flags @c takes: the global ones, its groups', its own (NULL-terminated). */
static size_t opt_tables(const struct cli_command *c, const struct cli_opt *out[NGROUPS + 2])
{
	size_t n = 0;
	for (size_t g = 0; g < NGROUPS; g++)
		if (groups[g] == 0 || (c && (c->groups & groups[g])))
			out[n++] = cli_opt_group(groups[g]);
	if (c && c->opts)
		out[n++] = c->opts;
	out[n] = NULL;
	return n;
}

/* What the value of @o is, as _etcdpilot_value says it (see cli_opt's @argname). */
static void value_kind(FILE *f, const struct cli_opt *o, const struct cli_command *c)
{
	const char *a = o->argname;
	if (!strcmp(a, "FILE") || !strcmp(a, "PATH")) {
		fputs("file", f);
	} else if (!strcmp(a, "DIR")) {
		fputs("dir", f);
	} else if (!strcmp(a, "MODE")) {
		fputs("words", f);
		for (int m = 0; strcmp(ep_mode_name((enum ep_mode)m), "unknown"); m++)
			fprintf(f, " %s", ep_mode_name((enum ep_mode)m));
	} else if (!strcmp(a, "TYPE")) {
		fputs("words", f);
		for (int k = 0; strcmp(ep_key_type_flag_name((enum ep_key_type)k), "unknown"); k++)
			fprintf(f, " %s", ep_key_type_flag_name((enum ep_key_type)k));
	} else if (!strcmp(a, "FORMAT")) {
		/* Before the command is known, every format some command has. */
		bool json = !c, yaml = !c;
		for (size_t k = 0; !c && cli_commands[k]; k++)
			yaml |= cli_commands[k]->yaml_output;
		fprintf(f, "words text%s%s", json || c->json_output ? " json" : "",
			yaml || c->yaml_output ? " yaml" : "");
	} else {
		fputs("-", f); /* a value, but nothing to offer */
	}
}

static bool listed(const struct cli_command *c)
{
	return !c->hidden;
}

/* The first word of @name, into @buf. */
static const char *first_word(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s", name);
	char *sp = strchr(buf, ' ');
	if (sp)
		*sp = '\0';
	return buf;
}

/* The shell code both shells run: data, then the function that reads it. */
static void print_core(FILE *f)
{
	char w[64], w2[64];

	/* Top-level words: the first word of every command, once. */
	fputs("_etcdpilot_top='", f);
	bool any = false;
	for (size_t k = 0; cli_commands[k]; k++) {
		if (!listed(cli_commands[k]))
			continue;
		first_word(cli_commands[k]->name, w, sizeof(w));
		bool seen = false;
		for (size_t j = 0; j < k; j++)
			if (listed(cli_commands[j]) &&
			    !strcmp(first_word(cli_commands[j]->name, w2, sizeof(w2)), w))
				seen = true;
		if (!seen)
			fprintf(f, "%s%s", any ? " " : "", w), any = true;
	}
	fputs("'\n\n", f);

	fputs("# _etcdpilot_is_command WORDS: true when WORDS name a command\n"
	      "_etcdpilot_is_command() {\n\tcase $1 in\n\t",
	      f);
	any = false;
	for (size_t k = 0; cli_commands[k]; k++)
		if (listed(cli_commands[k]))
			fprintf(f, "%s'%s'", any ? "|" : "", cli_commands[k]->name), any = true;
	fputs(") return 0 ;;\n\tesac\n\treturn 1\n}\n\n", f);

	fputs("# _etcdpilot_sub WORD: the subcommands of WORD into _ep_v\n"
	      "_etcdpilot_sub() {\n\t_ep_v=\n\tcase $1 in\n",
	      f);
	for (size_t k = 0; cli_commands[k]; k++) {
		const struct cli_command *c = cli_commands[k];
		const char *sp = strchr(c->name, ' ');
		if (!listed(c) || !sp)
			continue;
		first_word(c->name, w, sizeof(w));
		bool seen = false;
		for (size_t j = 0; j < k; j++)
			if (listed(cli_commands[j]) && strchr(cli_commands[j]->name, ' ') &&
			    !strcmp(first_word(cli_commands[j]->name, w2, sizeof(w2)), w))
				seen = true;
		if (seen)
			continue;
		fprintf(f, "\t'%s') _ep_v='", w);
		bool first = true;
		for (size_t j = k; cli_commands[j]; j++) {
			const char *n = cli_commands[j]->name;
			if (listed(cli_commands[j]) && !strncmp(n, w, strlen(w)) &&
			    n[strlen(w)] == ' ')
				fprintf(f, "%s%s", first ? "" : " ", n + strlen(w) + 1),
				    first = false;
		}
		fputs("' ;;\n", f);
	}
	fputs("\tesac\n}\n\n", f);

	/* Flags per command ('' = no command yet: the global flags). */
	fputs("# _etcdpilot_flags COMMAND: the flags COMMAND takes into _ep_v\n"
	      "_etcdpilot_flags() {\n\tcase $1 in\n",
	      f);
	for (size_t k = 0;; k++) {
		const struct cli_command *c = k ? cli_commands[k - 1] : NULL;
		if (k && !c)
			break;
		if (c && !listed(c))
			continue;
		const struct cli_opt *tabs[NGROUPS + 2];
		opt_tables(c, tabs);
		fprintf(f, "\t'%s') _ep_v='", c ? c->name : "");
		bool first = true;
		for (size_t t = 0; tabs[t]; t++)
			for (const struct cli_opt *o = tabs[t]; o->name; o++) {
				fprintf(f, "%s--%s", first ? "" : " ", o->name), first = false;
				if (o->short_name)
					fprintf(f, " -%c", o->short_name);
			}
		if (!c)
			fputs(" --version", f);
		fputs("' ;;\n", f);
	}
	fputs("\tesac\n}\n\n", f);

	/*
	 * What each flag's value is.  The parser looks a flag up in every table
	 * to know whether it takes a value (main.c's find_command), and so does
	 * this; -o is the one whose values depend on the command.
	 */
	fputs("# _etcdpilot_value FLAG COMMAND: what FLAG's value is, into _ep_v: empty for a\n"
	      "# switch, '-' for free text, 'file', 'dir', or 'words W...'\n"
	      "_etcdpilot_value() {\n\t_ep_v=\n\tcase $1 in\n",
	      f);
	fputs("\t--output|-o)\n\t\tcase $2 in\n", f);
	for (size_t k = 0; cli_commands[k]; k++) {
		const struct cli_command *c = cli_commands[k];
		if (!listed(c))
			continue;
		fprintf(f, "\t\t'%s') _ep_v='", c->name);
		value_kind(f, &(struct cli_opt){.argname = "FORMAT"}, c);
		fputs("' ;;\n", f);
	}
	fputs("\t\t*) _ep_v='", f);
	value_kind(f, &(struct cli_opt){.argname = "FORMAT"}, NULL);
	fputs("' ;;\n\t\tesac ;;\n", f);
	/* Each other flag once, with the first table's meaning. */
	const char *done[512];
	size_t ndone = 0;
	for (size_t k = 0;; k++) {
		const struct cli_command *c = k ? cli_commands[k - 1] : NULL;
		if (k && !c)
			break;
		const struct cli_opt *tabs[NGROUPS + 2];
		opt_tables(c ? c : NULL, tabs);
		for (size_t t = 0; tabs[t]; t++)
			for (const struct cli_opt *o = tabs[t]; o->name; o++) {
				bool seen = !strcmp(o->name, "output");
				for (size_t d = 0; d < ndone && !seen; d++)
					seen = !strcmp(done[d], o->name);
				if (seen || !o->takes_value ||
				    ndone == sizeof(done) / sizeof(done[0]))
					continue;
				done[ndone++] = o->name;
				fprintf(f, "\t--%s", o->name);
				if (o->short_name)
					fprintf(f, "|-%c", o->short_name);
				fputs(") _ep_v='", f);
				value_kind(f, o, c);
				fputs("' ;;\n", f);
			}
	}
	fputs("\tesac\n}\n\n", f);

	fputs("# _etcdpilot_arg COMMAND: what COMMAND's first argument is, into _ep_v\n"
	      "_etcdpilot_arg() {\n\t_ep_v=\n\tcase $1 in\n",
	      f);
	for (size_t k = 0; cli_commands[k]; k++) {
		const struct cli_command *c = cli_commands[k];
		if (!listed(c) || !c->args)
			continue;
		if (c->arg_words) {
			fprintf(f, "\t'%s') _ep_v='words", c->name);
			char *buf = NULL;
			size_t len = 0;
			FILE *m = open_memstream(&buf, &len);
			if (m) {
				c->arg_words(m);
				fclose(m);
				for (char *p = buf, *nl; p && *p; p = nl ? nl + 1 : NULL) {
					nl = strchr(p, '\n');
					if (nl)
						*nl = '\0';
					if (*p)
						fprintf(f, " %s", p);
				}
				free(buf);
			}
			fputs("' ;;\n", f);
		} else if (!strncmp(c->args, "FILE", 4) || !strncmp(c->args, "[FILE", 5)) {
			fprintf(f, "\t'%s') _ep_v=file ;;\n", c->name);
		}
	}
	fputs("\tesac\n}\n\n", f);

	/* The one function: portable between bash and zsh (no arrays, no splitting). */
	fputs("# _etcdpilot_complete CUR WORD...: what to offer for CUR after the WORDs (the\n"
	      "# command line before it, without 'etcdpilot'): sets _ep_kind (words, file, dir\n"
	      "# or empty), _ep_words and _ep_prefix ('--flag=' when CUR is --flag=VALUE)\n"
	      "_etcdpilot_complete() {\n"
	      "\tlocal cur=$1 w skip= flag= n=0 c1= c2= cmd= nargs=0\n"
	      "\tshift\n"
	      "\t_ep_kind= _ep_words= _ep_prefix=\n"
	      "\tfor w in \"$@\"; do\n"
	      "\t\tif [ -n \"$skip\" ]; then\n"
	      "\t\t\tskip=\n"
	      "\t\t\tcontinue\n"
	      "\t\tfi\n"
	      "\t\tcase $w in\n"
	      "\t\t--*=*) ;;\n"
	      "\t\t-?*)\n"
	      "\t\t\t_etcdpilot_value \"$w\" ''\n"
	      "\t\t\tif [ -n \"$_ep_v\" ]; then skip=1; flag=$w; fi ;;\n"
	      "\t\t*)\n"
	      "\t\t\tn=$((n + 1))\n"
	      "\t\t\tcase $n in 1) c1=$w ;; 2) c2=$w ;; esac ;;\n"
	      "\t\tesac\n"
	      "\tdone\n"
	      "\tif [ $n -ge 2 ] && _etcdpilot_is_command \"$c1 $c2\"; then\n"
	      "\t\tcmd=\"$c1 $c2\" nargs=$((n - 2))\n"
	      "\telif [ $n -ge 1 ] && _etcdpilot_is_command \"$c1\"; then\n"
	      "\t\tcmd=$c1 nargs=$((n - 1))\n"
	      "\tfi\n"
	      "\tcase $cur in\n"
	      "\t--*=*)\n"
	      "\t\tflag=${cur%%=*} _ep_prefix=\"${cur%%=*}=\" skip=1 ;;\n"
	      "\tesac\n"
	      "\tif [ -n \"$skip\" ]; then\n"
	      "\t\t_etcdpilot_value \"$flag\" \"$cmd\"\n"
	      "\t\tcase $_ep_v in\n"
	      "\t\tfile | dir) _ep_kind=$_ep_v ;;\n"
	      "\t\t'words '*) _ep_kind=words _ep_words=${_ep_v#words } ;;\n"
	      "\t\tesac\n"
	      "\t\treturn 0\n"
	      "\tfi\n"
	      "\tcase $cur in\n"
	      "\t-*)\n"
	      "\t\t_etcdpilot_flags \"$cmd\"\n"
	      "\t\t_ep_kind=words _ep_words=$_ep_v\n"
	      "\t\treturn 0 ;;\n"
	      "\tesac\n"
	      "\tif [ $n -eq 0 ]; then\n"
	      "\t\t_ep_kind=words _ep_words=$_etcdpilot_top\n"
	      "\t\treturn 0\n"
	      "\tfi\n"
	      "\tif [ $n -eq 1 ]; then\n"
	      "\t\t_etcdpilot_sub \"$c1\"\n"
	      "\t\t_ep_kind=words _ep_words=$_ep_v\n"
	      "\tfi\n"
	      "\tif [ -n \"$cmd\" ] && [ $nargs -eq 0 ]; then\n"
	      "\t\t_etcdpilot_arg \"$cmd\"\n"
	      "\t\tcase $_ep_v in\n"
	      "\t\tfile | dir) [ -z \"$_ep_words\" ] && _ep_kind=$_ep_v ;;\n"
	      "\t\t'words '*) _ep_kind=words _ep_words=\"$_ep_words ${_ep_v#words }\" ;;\n"
	      "\t\tesac\n"
	      "\tfi\n"
	      "\treturn 0\n"
	      "}\n",
	      f);
}

static void print_bash(FILE *f)
{
	fprintf(f,
		"# bash completion for etcdpilot                           -*- shell-script -*-\n"
		"# Made by 'etcdpilot completion bash' (etcdpilot %s) from its command table.\n"
		"# Load it with: source <(etcdpilot completion bash)\n\n",
		ep_version());
	print_core(f);
	fputs("\n_etcdpilot() {\n"
	      "\tlocal i w cur=${COMP_WORDS[COMP_CWORD]} n=$COMP_CWORD value\n"
	      "\tlocal -a before=()\n"
	      "\t# COMP_WORDBREAKS cuts --flag=value in three words: join them again.\n"
	      "\tif [[ $cur == = ]]; then\n"
	      "\t\tcur=\"${COMP_WORDS[COMP_CWORD - 1]}=\" n=$((COMP_CWORD - 1))\n"
	      "\telif ((COMP_CWORD >= 2)) && [[ ${COMP_WORDS[COMP_CWORD - 1]} == = ]]; then\n"
	      "\t\tcur=\"${COMP_WORDS[COMP_CWORD - 2]}=$cur\" n=$((COMP_CWORD - 2))\n"
	      "\tfi\n"
	      "\tfor ((i = 1; i < n; i++)); do\n"
	      "\t\tw=${COMP_WORDS[i]}\n"
	      "\t\tif [[ $w == = ]] && ((${#before[@]} > 0)); then\n"
	      "\t\t\tbefore[${#before[@]} - 1]+='='\n"
	      "\t\t\tif ((i + 1 < n)); then\n"
	      "\t\t\t\ti=$((i + 1))\n"
	      "\t\t\t\tbefore[${#before[@]} - 1]+=${COMP_WORDS[i]}\n"
	      "\t\t\tfi\n"
	      "\t\telse\n"
	      "\t\t\tbefore+=(\"$w\")\n"
	      "\t\tfi\n"
	      "\tdone\n"
	      "\t_etcdpilot_complete \"$cur\" \"${before[@]}\"\n"
	      "\tvalue=${cur#\"$_ep_prefix\"}\n"
	      "\t# The word bash replaces holds --flag= only when '=' is no word break.\n"
	      "\tlocal keep=\n"
	      "\t[[ ${COMP_WORDS[COMP_CWORD]} == *=* ]] && keep=$_ep_prefix\n"
	      "\tCOMPREPLY=()\n"
	      "\tcase $_ep_kind in\n"
	      "\twords) COMPREPLY=($(compgen -P \"$keep\" -W \"$_ep_words\" -- \"$value\")) ;;\n"
	      "\tfile | dir)\n"
	      "\t\tcompopt -o filenames 2>/dev/null\n"
	      "\t\tif [[ $_ep_kind == dir ]]; then\n"
	      "\t\t\tCOMPREPLY=($(compgen -P \"$keep\" -d -- \"$value\"))\n"
	      "\t\telse\n"
	      "\t\t\tCOMPREPLY=($(compgen -P \"$keep\" -f -- \"$value\"))\n"
	      "\t\tfi ;;\n"
	      "\tesac\n"
	      "\treturn 0\n"
	      "}\n"
	      "complete -F _etcdpilot etcdpilot\n"
	      "# ex: filetype=sh\n",
	      f);
}

static void print_zsh(FILE *f)
{
	fprintf(
	    f,
	    "#compdef etcdpilot\n"
	    "# zsh completion for etcdpilot, made by 'etcdpilot completion zsh' (etcdpilot %s)\n"
	    "# from its command table.  Load it with: source <(etcdpilot completion zsh)\n"
	    "# after compinit, or put it in $fpath as _etcdpilot.\n\n",
	    ep_version());
	print_core(f);
	fputs("\n_etcdpilot() {\n"
	      "\t_etcdpilot_complete \"${words[CURRENT]}\" \"${(@)words[2,CURRENT-1]}\"\n"
	      "\t[[ -n $_ep_prefix ]] && compset -P '*='\n"
	      "\tcase $_ep_kind in\n"
	      "\twords) compadd -- ${=_ep_words} ;;\n"
	      "\tfile) _files ;;\n"
	      "\tdir) _files -/ ;;\n"
	      "\tesac\n"
	      "}\n\n"
	      "if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then\n"
	      "\t_etcdpilot \"$@\"\n"
	      "else\n"
	      "\tcompdef _etcdpilot etcdpilot\n"
	      "fi\n",
	      f);
}

static int completion_run(struct cli_ctx *ctx, struct ep_error *err)
{
	const char *shell = ctx->args[0];
	if (!strcmp(shell, "bash"))
		print_bash(stdout);
	else if (!strcmp(shell, "zsh"))
		print_zsh(stdout);
	else
		return ep_error_usage(err, -EINVAL, "unknown shell '%s' (bash or zsh)", shell);
	return 0;
}

static void shell_words(FILE *f)
{
	fputs("bash\nzsh\n", f);
}

const struct cli_command cmd_completion = {
    .name = "completion",
    .run = completion_run,
    .args = "bash|zsh",
    .summary = "print a shell completion script for bash or zsh",
    .help = "Prints a script that completes etcdpilot's commands, subcommands and the\n"
	    "flags of each, the values of --mode, --key-type and -o, the certificate names\n"
	    "of 'certs generate' and 'certs renew', the phases of 'init phase', and file\n"
	    "names where a flag or argument takes a path.  It is made from the command\n"
	    "table of this binary.  The package installs it for both shells; by hand:\n"
	    "  source <(etcdpilot completion bash)        # in ~/.bashrc\n"
	    "  etcdpilot completion zsh > \"${fpath[1]}/_etcdpilot\"",
    .arg_words = shell_words,
    .min_args = 1,
    .max_args = 1,
};
