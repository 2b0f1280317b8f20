#!/usr/bin/env bash
# t33: a static-pod init whose etcd cannot start (an extraArgs value etcd
# refuses: --snapshot-count=abc) fails at the end of its wait with etcd's
# own complaint in the error, read where a real kubelet keeps it - the CRI
# log under /var/log/pods/kube-system_etcd-<node>_<uid>/etcd/<n>.log - and
# without the usage text etcd prints after it; the report on stderr shows
# the log's tail.  The kubelet stand-in writes those logs CRI-framed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"

NS=ep-t33-$$
ADDR=10.233.0.2
R=$T/n1
node_netns "$NS" "$ADDR"
standin_start "$R" "$NS" n1
cat >"$T/bad.yaml" <<'YAML'
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  local:
    extraArgs:
    - name: snapshot-count
      value: "abc"
YAML
# --no-rollback: the failed member stays for the stand-in checks below.
run in_ns "$NS" "$EP" --root "$R" --config "$T/bad.yaml" init --name n1 --advertise-address "$ADDR" \
	--etcd-version 3.4.23 --key-type ecdsa-p256 --timeout 6s --no-rollback
expect_rc 1 "init fails when etcd cannot start"
expect_in "$T/err" "run .etcdpilot init --resume. to finish it or .etcdpilot init --rollback. to undo it" \
	"with --no-rollback the error says how to go on"
grep '^etcdpilot: init: ' "$T/err" >"$T/error" || fail "init prints its error"
say "$(cat "$T/error")"
expect_in "$T/error" '^etcdpilot: init: \[wait\] wait for the local etcd member .*: the local etcd member did not become healthy within 6s: ' \
	"the error names the wait that timed out"
expect_in "$T/error" '; pod kube-system/etcd-n1 \(uid [0-9a-f]{32}\): container etcd has (not )?been restarted' \
	"and the pod's restarts, from the kubelet's log files"
expect_in "$T/error" "; etcd's last log line \(/var/log/pods/kube-system_etcd-n1_[0-9a-f]{32}/etcd/[0-9]+\.log\): 'invalid value \"abc\" for flag -snapshot-count: parse error'\$" \
	"and ends with etcd's own complaint, naming the container log it came from"
expect_not_in "$T/error" 'Usage' "etcd's usage text is left out of the error"
expect_in "$T/err" "^etcd's output \(/var/log/pods/kube-system_etcd-n1_[0-9a-f]{32}/etcd/[0-9]+\.log\):\$" \
	"the report on stderr names the log"
expect_in "$T/err" '^  \| invalid value "abc" for flag -snapshot-count: parse error$' "and shows etcd's lines"

# Stopped first: a running stand-in removes old logs as it restarts etcd.
standin_stop "$STANDIN_PID"
D=$(pod_log_dir "$R") || fail "the kubelet stand-in keeps the pod's log under /var/log/pods"
pass "the pod's log directory is $D"
ls "$D/etcd" >"$T/logs"
expect_in "$T/logs" '^[0-9]+\.log$' "one log per container start, named by its restart count"
run cri_framed "$D"/etcd/*.log
expect_rc 0 "every line of the container logs is CRI-framed"
f=$(ls "$D"/etcd/*.log | head -1)
expect_in "$f" ' stderr F invalid value "abc" for flag -snapshot-count: parse error$' \
	"etcd's stderr, one F line per line, as stream stderr"

# The interrupted run is undone by --rollback: the node as it was.
INIT=(in_ns "$NS" "$EP" --root "$R" --config "$T/bad.yaml" init --name n1 --advertise-address "$ADDR"
	--etcd-version 3.4.23 --key-type ecdsa-p256 --timeout 6s)
run "${INIT[@]}" --rollback
expect_rc 0 "init --rollback undoes the failed run"
expect_in "$T/out" "^\[journal\] Undoing the interrupted 'init'" "and says what it undoes"
for f in etc/kubernetes/manifests/etcd.yaml etc/kubernetes/pki/etcd/ca.key var/lib/etcd var/lib/etcdpilot/journal.json; do
	[[ -e $R/$f ]] && fail "--rollback removes $f"
done
pass "--rollback removed the manifest, the certificates, the data dir and the journal"
# Without --no-rollback a failed init undoes itself.
standin_start "$R" "$NS" n1
run "${INIT[@]}"
expect_rc 1 "init fails again"
expect_in "$T/err" "what this run had changed was undone" "and says it undid what it did"
for f in etc/kubernetes/manifests/etcd.yaml etc/kubernetes/pki/etcd/ca.key var/lib/etcd var/lib/etcdpilot var/lib/etcdpilot/journal.json; do
	[[ -e $R/$f ]] && fail "a failed init leaves no $f"
done
pass "a failed init leaves no manifest, certificate, data dir or journal behind"

# On a terminal a wait longer than a second shows one live line, rewritten
# in place ("...: Ns of at most Ms"); on a pipe (every run above) no control
# sequence at all.  script(1) gives the run a terminal.
expect_not_in "$T/err" $'\e' "no terminal control sequences when stderr is not a terminal"
printf -v TTYRUN '%q ' "$EP" --root "$R" --config "$T/bad.yaml" init --name n1 --advertise-address "$ADDR" \
	--etcd-version 3.4.23 --key-type ecdsa-p256 --timeout 4s
in_ns "$NS" script -qec "$TTYRUN" /dev/null >"$T/tty" 2>&1
expect_in "$T/tty" 'waiting for .*: [1-9][0-9]*s of at most 4s' "on a terminal the wait says how long it has waited, of how long"
grep -q $'\r\e\\[K\\[wait\\] waiting for' "$T/tty" || fail "the live line is rewritten in place (CR, erase line)"
pass "the live line is rewritten in place (CR, erase line)"
