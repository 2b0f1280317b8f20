#!/usr/bin/env bash
# The command line: help, version, usage errors with suggestions, flags in
# any position, and agreement between the command table, --help and the
# man page.
. "$(dirname "$0")/lib.sh"

run "$EP" --version
expect_rc 0 "--version exits 0"
expect_in "$T/out" '^etcdpilot [0-9]+\.[0-9]+\.[0-9]+ \(git [0-9a-f]{7,}' "--version names the version and the git revision"

run "$EP" --help
expect_rc 0 "--help exits 0"
cp "$T/out" "$T/help"

run "$EP"
expect_rc 2 "no command is a usage error"
expect_in "$T/err" 'no command given' "no command says so"

run "$EP" intt
expect_rc 2 "unknown command exits 2"
expect_in "$T/err" "unknown command 'intt'; did you mean 'init'\?" "unknown command is named with a suggestion"

run "$EP" certs genrate
expect_rc 2 "unknown subcommand exits 2"
expect_in "$T/err" "unknown subcommand 'genrate'; did you mean 'certs generate'\?" "unknown subcommand suggests the closest"

run "$EP" init --nmae cp1
expect_rc 2 "unknown flag exits 2"
expect_in "$T/err" "unknown flag '--nmae'; did you mean '--name'\?" "unknown flag is named with a suggestion"

# A flag that takes a value never eats the next flag (--dry-run would be lost).
mkdir -p "$T/eat-root"
run "$EP" --root "$T/eat-root" join https://127.0.0.1:1 --name n1 --advertise-address 127.0.0.9 --remove-dead --dry-run
expect_rc 2 "a value-taking flag followed by a flag is a usage error"
expect_in "$T/err" "flag '--remove-dead' needs a value \(NAME\|ID\), but the next argument is the flag '--dry-run'; nothing was done" \
	"says the next argument is a flag"
expect_eq "$(find "$T/eat-root" -mindepth 1 | wc -l)" 0 "nothing was written"
run "$EP" --root "$T/eat-root" join https://127.0.0.1:1 --name n1 --advertise-address 127.0.0.9 --remove-dead=--x --dry-run
expect_not_in "$T/err" "needs a value" "--flag=VALUE takes a value that starts with '--'"

run "$EP" init --endpoints https://127.0.0.1:2379
expect_rc 2 "a flag of another command is a usage error"
expect_in "$T/err" "'--endpoints' is not a flag of 'init'" "says the flag belongs elsewhere"

run "$EP" --bogus
expect_rc 2 "unknown global flag exits 2"

run "$EP" config print --output yaml2
expect_rc 2 "unknown output format exits 2"

run "$EP" member remove
expect_rc 2 "missing argument exits 2"
expect_in "$T/err" "missing argument" "missing argument is named"

# Every command in the table answers --help, before or after global flags,
# and every command and flag it lists is in the man page.
man_text=$(sed -e 's/\\-/-/g' -e 's/\\f[BIR]//g' "$SRC/doc/etcdpilot.8")
commands=$(sed -n '/^Commands:/,/^$/p' "$T/help" | sed -n 's/^  \([a-z-]*\( [a-z-]*\)\?\)\( [A-Z[].*\)\?  .*/\1/p' | sed 's/ *$//')
n=0
while IFS= read -r cmd; do
	[[ -n $cmd ]] || continue
	n=$((n + 1))
	# shellcheck disable=SC2086
	run "$EP" $cmd --help
	[[ $RC -eq 0 ]] || fail "'$cmd --help' exits 0 (got $RC)"
	# shellcheck disable=SC2086
	run "$EP" --root /nonexistent -v $cmd -h
	[[ $RC -eq 0 ]] || fail "'-v $cmd -h' with global flags first exits 0 (got $RC)"
	grep -q -- "^$cmd\( \|$\)" <<<"$(grep -o -- "^\.B[I]* \"\?$cmd[^\"]*" "$SRC/doc/etcdpilot.8" | sed 's/^\.BI* "\?//')" ||
		fail "man page documents '$cmd'"
	while IFS= read -r flag; do
		grep -q -- "$flag\b" <<<"$man_text" || fail "man page documents '$flag' of '$cmd'"
	done < <(grep -oE '^ +(-[a-z], )?--[a-z0-9-]+' "$T/out" | grep -oE -- '--[a-z0-9-]+')
done <<<"$commands"
((n >= 19)) || fail "--help lists every command of the contract (found $n)"
pass "--help, COMMAND --help and the man page agree on $n commands and their flags"

# A command that is not implemented says so and exits 1, never a silent
# success; whatever runs is given the argument count it asks for.
unimpl=0
while IFS= read -r cmd; do
	# shellcheck disable=SC2086
	run "$EP" $cmd --help
	grep -q 'not implemented yet' "$T/out" || continue
	unimpl=$((unimpl + 1))
	for args in "" "a" "a b"; do
		# shellcheck disable=SC2086
		run "$EP" $cmd $args
		grep -q 'missing argument' "$T/err" || break
	done
	[[ $RC -eq 1 ]] || fail "'$cmd' (not implemented) exits 1, got $RC"
	grep -q "$cmd: not implemented yet" "$T/err" || fail "'$cmd' says it is not implemented"
done <<<"$commands"
pass "the $unimpl unimplemented commands say so and exit 1"

mkdir -p "$T/empty-root"
# convert is implemented: its usage errors are exit 2 before anything runs
run "$EP" convert
expect_rc 2 "'convert' without --to is a usage error"
expect_in "$T/err" "--to is required: 'static-pod'" "... and says what --to takes"
run "$EP" convert --to docker
expect_rc 2 "'convert --to docker' is a usage error"
expect_in "$T/err" "the mode is 'static-pod' or 'systemd'" "... and names the modes"
run "$EP" convert --to static-pod --mode systemd
expect_rc 2 "'convert --mode' is a usage error (the member's mode is read from the node)"
run "$EP" convert --to static-pod --cacert /x
expect_rc 2 "'convert --cacert' alone is a usage error"
run "$EP" convert --to static-pod --backup-dir relative/dir
expect_rc 2 "'convert --backup-dir' relative is a usage error"
run "$EP" convert --to static-pod --resume --root "$T/empty-root"
expect_rc 2 "'convert --resume' without an interrupted run is a usage error"
expect_not_in "$T/err" "not implemented" "convert is implemented"
# snapshot save is implemented: a FILE it cannot write is a usage error before any member is asked
run "$EP" snapshot save "$T/no/such/dir/snap.db"
expect_rc 2 "snapshot save into a missing directory: exit 2"
expect_in "$T/err" 'the directory does not exist' "... and says so"
# join and reset are implemented: a usage error is exit 2 before anything runs
run "$EP" join
expect_rc 2 "'join' without ENDPOINT is a usage error"
run "$EP" join https://10.0.0.1:2379 --ca-bundle "$T/none" --name cp1 --advertise-address 10.0.0.1
expect_rc 2 "'join --ca-bundle' without --certificate-key is a usage error"
expect_not_in "$T/err" "not implemented" "join is implemented"

# A group asked for help lists its subcommands and exits 0 (issue 11 item 10).
run "$EP" member --help
expect_rc 0 "'member --help' exits 0"
expect_in "$T/out" 'etcdpilot member promote NAME\|ID' "'member --help' lists the subcommands"
run "$EP" certs
expect_rc 2 "'certs' alone is still a usage error"

# convert --to is a flag the parser knows.
run "$EP" convert --to static-pod --dry-run --root "$T/empty-root"
expect_not_in "$T/err" "unknown flag" "'--to' is a flag of convert"
expect_in "$T/err" "there is no systemd etcd member on this node" "convert on an empty node says there is nothing to convert"

# -v levels as kubeadm takes them.
run "$EP" --v=2 config print --name cp1 --advertise-address 10.0.0.1
expect_rc 0 "--v=2 is accepted"
run "$EP" -vv config print --name cp1 --advertise-address 10.0.0.1
expect_rc 0 "-vv is accepted"
run "$EP" --v=loud config print --name cp1 --advertise-address 10.0.0.1
expect_rc 2 "--v with a non-number is a usage error"

# -o yaml only where there is a YAML document; -o json only where there is JSON.
run "$EP" health -o yaml --endpoints https://127.0.0.1:1
expect_rc 2 "'health -o yaml' is refused"
expect_in "$T/err" "no YAML document.*config print" "the refusal names the commands with YAML output"
run "$EP" render manifest -o json --name cp1 --advertise-address 10.0.0.1
expect_rc 2 "'render manifest -o json' is refused"
expect_not_in "$T/err" "prints progress" "the refusal does not call a manifest progress"
run "$EP" config print -o yaml --name cp1 --advertise-address 10.0.0.1
expect_rc 0 "'config print -o yaml' works"

# A result that cannot be written is a failure, as in git (issue 9 item 6).
if [[ -w /dev/full ]]; then
	"$EP" render manifest --name cp1 --advertise-address 10.0.0.1 >/dev/full 2>"$T/err"
	RC=$?
	expect_rc 1 "'render manifest >/dev/full' exits 1"
	expect_in "$T/err" 'writing to standard output: No space left on device' "it says stdout could not be written"
fi

# reset on a node with both an etcd manifest and an etcd unit (a convert
# left half done), told --mode systemd: the unit goes, the manifest and the
# certificates it uses stay; --mode naming a runtime with nothing is refused.
BOTH=$T/both-root
mkdir -p "$BOTH/etc/kubernetes/manifests"
NODE=(--name n1 --advertise-address 127.0.0.5 --etcd-version 3.4.23)
"$EP" --root "$BOTH" render manifest "${NODE[@]}" >"$BOTH/etc/kubernetes/manifests/etcd.yaml" ||
	fail "render manifest"
"$EP" --root "$BOTH" render unit "${NODE[@]}" --etcd-binary /usr/bin/etcd 2>/dev/null | python3 -c '
import os, sys
root, out = sys.argv[1], None
for line in sys.stdin:
    if line.startswith("# /"):
        path = root + line[2:].strip().rstrip(":")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        out = open(path, "w")
    elif out:
        out.write(line)' "$BOTH" || fail "render unit"
"$EP" --root "$BOTH" certs generate all "${NODE[@]}" >/dev/null 2>&1 || fail "certs generate"
[[ -e $BOTH/etc/systemd/system/etcd.service && -e $BOTH/etc/kubernetes/pki/etcd/server.crt ]] ||
	fail "a node with a manifest, a unit and certificates"
run env ETCDPILOT_SYSTEMCTL="$SRC/hack/systemctl-standin" "$EP" --root "$BOTH" reset --timeout 10s
expect_rc 2 "reset with both a manifest and a unit and no --mode is refused"
expect_in "$T/err" "this node has both an etcd static pod manifest and an etcd unit" "says so"
run env ETCDPILOT_SYSTEMCTL="$SRC/hack/systemctl-standin" "$EP" --root "$BOTH" reset --mode systemd --timeout 10s
expect_rc 0 "reset --mode systemd"
expect_in "$T/out" "^\[certs\] This node's certificates stay: the etcd static pod manifest on this node uses them too$" \
	"says the certificates stay, and why"
[[ ! -e $BOTH/etc/systemd/system/etcd.service && -e $BOTH/etc/kubernetes/manifests/etcd.yaml &&
	-e $BOTH/etc/kubernetes/pki/etcd/server.crt && -e $BOTH/etc/kubernetes/pki/etcd/peer.key ]] ||
	fail "the unit is gone; the manifest and its certificates stay"
pass "the unit is gone; the manifest and its certificates stay"
run "$EP" --root "$BOTH" reset --mode systemd --timeout 10s
expect_rc 2 "reset --mode systemd with only a manifest left is refused"
expect_in "$T/err" "--mode systemd: this node has no etcd unit, but it has an etcd static pod manifest; nothing was changed" \
	"says what the node has"
