#!/usr/bin/env bash
# t03: bash completion, as bash runs it: the script is loaded into a bash
# with Debian's bash-completion sourced (by default 'source <(etcdpilot
# completion bash)', as the man page says; with EP_COMPLETION=installed
# through bash-completion's own loader, __load_completion, from
# /usr/share/bash-completion/completions as the package installs it), the
# function 'complete -p etcdpilot' names is called with COMP_WORDS,
# COMP_CWORD, COMP_LINE and COMP_POINT set as readline sets them (words split
# at blanks and at COMP_WORDBREAKS' '='), and the candidates it leaves in
# COMPREPLY are compared, whole and sorted, with the command table's.
. "$(dirname "$0")/lib.sh"

BC=/usr/share/bash-completion/bash_completion
[[ -r $BC ]] || fail "bash-completion is installed (hack/deps.sh)"
mkdir -p "$T/files/sub" && touch "$T/files/ca.crt" "$T/files/ca.key"

# A bash that loads the completion once and answers one line per input line:
# LINE -> the sorted candidates, space-separated.
cat >"$T/driver.sh" <<'EOF'
set +o posix
. /usr/share/bash-completion/bash_completion
if [[ ${EP_COMPLETION:-} == installed ]]; then
	__load_completion etcdpilot || { echo "LOAD FAILED"; exit 1; }
	[[ $(complete -p etcdpilot) == *' etcdpilot' ]] || { echo "LOAD FAILED"; exit 1; }
else
	source <("$EP" completion bash) || { echo "LOAD FAILED"; exit 1; }
fi
fn=$(complete -p etcdpilot | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
[[ -n $fn ]] || { echo "NO FUNCTION"; exit 1; }
while IFS= read -r line; do
	# readline's words: blanks separate, '=' (in COMP_WORDBREAKS) is a word
	words=()
	w=
	for ((i = 0; i < ${#line}; i++)); do
		ch=${line:i:1}
		if [[ $ch == ' ' ]]; then
			[[ -n $w ]] && words+=("$w")
			w=
		elif [[ $ch == = ]]; then
			[[ -n $w ]] && words+=("$w")
			words+=("=")
			w=
		else
			w+=$ch
		fi
	done
	words+=("$w")
	COMP_WORDS=("${words[@]}")
	COMP_CWORD=$((${#words[@]} - 1))
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMP_TYPE=9
	COMPREPLY=()
	"$fn" etcdpilot "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//'
	echo
done
EOF

# complete LINE WANT: the candidates for LINE are exactly WANT (sorted)
complete_is() {
	local got want
	want=$(tr ' ' '\n' <<<"$2" | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')
	got=$(cd "$T/files" && printf '%s\n' "$1" | EP=$EP bash "$T/driver.sh" 2>"$T/err")
	[[ -s $T/err ]] && { cat "$T/err" >&2; fail "'$1<tab>': no error from the completion"; }
	echo "  '$1<tab>' -> $got"
	[[ $got == "$want" ]] || fail "'$1<tab>' offers '$want' (got '$got')"
	pass "'$1<tab>' offers: $want"
}

complete_is "etcdpilot ce" "certs"
complete_is "etcdpilot certs renew " \
	"all apiserver-etcd-client etcd-healthcheck-client etcd-peer etcd-server"
complete_is "etcdpilot init --mode " "static-pod systemd"
complete_is "etcdpilot init --mode=sy" "systemd"
complete_is "etcdpilot " \
	"certs completion config convert health init join keyspace member operate render reset snapshot version"
complete_is "etcdpilot certs " "check-expiration export-bundle generate import-bundle renew"
complete_is "etcdpilot init --key-type ecdsa" "ecdsa-p256 ecdsa-p384"
complete_is "etcdpilot health -o " "json text"
complete_is "etcdpilot render manifest -o " "text yaml"
# --key is a flag of its own, not a prefix match gone wrong: both are offered
complete_is "etcdpilot health --key" "--key --key-type"
complete_is "etcdpilot member remove --de" "--dead"
complete_is "etcdpilot join --remove" "--remove-dead"
complete_is "etcdpilot init phase " "certs etcd install preflight start wait"
complete_is "etcdpilot completion " "bash zsh"
# file and directory completion where a flag or argument takes a path
complete_is "etcdpilot health --cacert ca." "ca.crt ca.key"
complete_is "etcdpilot init --data-dir s" "sub"
complete_is "etcdpilot snapshot save c" "ca.crt ca.key"
