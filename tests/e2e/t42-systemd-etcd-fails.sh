#!/usr/bin/env bash
# t42: an init --mode systemd whose etcd cannot start - an extraArgs value
# that etcd's flag parser takes (so 'etcd --version --election-timeout=100',
# the install check, passes) but that etcd refuses when it starts
# (--election-timeout below 5 x --heartbeat-interval) - fails at
# 'systemctl enable --now' (Type=notify: the start job fails when etcd exits
# before READY=1) with the unit's state and etcd's own complaint in the
# error, read from journalctl; 'systemctl status' and the journal are in the
# report on stderr.  The stand-in's journalctl and systemctl status look
# like systemd's.
. "$(dirname "$0")/lib.sh"

STANDIN=$SRC/hack/systemctl-standin
JOURNAL=$SRC/hack/journalctl-standin
export ETCDPILOT_SYSTEMCTL=$STANDIN

in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

NS=ep-t42-$$
ADDR=10.242.0.2
ip netns add "$NS" || fail "cannot create network namespace $NS (root needed)"
on_exit "ip netns del '$NS'"
ip -n "$NS" link set lo up
ip -n "$NS" link add v0 type veth peer name v1
ip -n "$NS" link set v0 up
ip -n "$NS" link set v1 up
ip -n "$NS" addr add "$ADDR/24" dev v0

R=$T/n1
mkdir -p "$R"
stop_unit() {
	local pid f
	"$STANDIN" --root "$R" stop etcd.service
	for f in supervisor.pid main.pid; do
		pid=$(cat "$R/run/systemd-standin/etcd.service/$f" 2>/dev/null) || continue
		[[ $pid -gt 0 ]] && kill -KILL "$pid" 2>/dev/null
	done
	return 0
}
on_exit stop_unit

cat >"$T/bad.yaml" <<'YAML'
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  local:
    extraArgs:
    - name: election-timeout
      value: "100"
YAML
COMPLAINT="--election-timeout\[100ms\] should be at least as 5 times as --heartbeat-interval\[100ms\]"
run in_ns "$NS" "$EP" --root "$R" --config "$T/bad.yaml" init --mode systemd --name n1 \
	--advertise-address "$ADDR" --key-type ecdsa-p256 --etcd-binary /usr/bin/etcd --timeout 30s \
	--no-rollback
expect_rc 1 "init --mode systemd fails when etcd cannot start (--no-rollback: the unit stays for the checks below)"
expect_in "$T/out" "^\[install\] " "the install check let the value through (etcd's flag parser takes it)"
grep '^etcdpilot: init: ' "$T/err" >"$T/error" || fail "init prints its error"
say "$(cat "$T/error")"
expect_in "$T/error" "^etcdpilot: init: \[start\] run systemctl enable --now etcd.service: '.*systemctl-standin enable --now etcd.service' failed \(exit status 1\): " \
	"the error names the systemctl call that failed"
expect_in "$T/error" "; etcd.service is (activating|failed) \([^;]*Result: exit-code\)" \
	"and the unit's state, from systemctl status"
expect_in "$T/error" "; etcd's last log lines \(.*journalctl-standin -u etcd.service -n [0-9]+ --no-pager -o short-iso\): .*etcdmain: error verifying flags, $COMPLAINT\. See 'etcd --help'\.'\$" \
	"and ends with etcd's own complaint, read from journalctl"
expect_in "$T/err" '^  \|      Active: ' "the report shows systemctl status"
expect_in "$T/err" "^etcd's output \(.*journalctl-standin -u etcd.service" "and names the journal query"

# The stand-in as systemd: the journal and systemctl status.
run "$JOURNAL" --root "$R" -u etcd.service -n 200 --no-pager -o short-iso
expect_rc 0 "journalctl -u etcd.service"
expect_in "$T/out" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-][0-9]{4} [^ ]+ etcd\[[0-9]+\]: .*$COMPLAINT" \
	"etcd's stderr is in the journal as etcd[pid], in short-iso"
expect_in "$T/out" " systemd\[1\]: etcd.service: Main process exited, code=exited, status=1/FAILURE$" \
	"systemd's own words on the exit"
expect_in "$T/out" " systemd\[1\]: etcd.service: Failed with result 'exit-code'\.$" "and on the result"
expect_not_in "$T/out" 'standin' "the stand-in's own notes are not in the journal"
run "$JOURNAL" --root "$R" -u etcd.service -n 1 --no-pager -o cat
expect_eq "$(wc -l <"$T/out")" 1 "-n 1 is one line"
run "$JOURNAL" --root "$R" -u other.service --no-pager
expect_eq "$(cat "$T/out")" "-- No entries --" "a unit without entries"
run "$STANDIN" --root "$R" status --no-pager etcd.service
expect_rc 3 "systemctl status of a unit that does not run exits 3"
expect_in "$T/out" '^. etcd.service - etcd key-value store \(managed by etcdpilot\)$' "status: the unit and its description"
expect_in "$T/out" '^     Loaded: loaded \(/etc/systemd/system/etcd.service; enabled; preset: enabled\)$' "status: Loaded:"
expect_in "$T/out" '^     Active: (activating \((auto-restart|start)\)|failed) \(Result: exit-code\)' "status: Active:"
expect_in "$T/out" '^   Main PID: [0-9]+ \(code=exited, status=1/FAILURE\)$' "status: Main PID:"
expect_in "$T/out" "etcd\[[0-9]+\]: .*$COMPLAINT" "status: the last lines of the journal"
run "$STANDIN" --root "$R" status nope.service
expect_rc 4 "systemctl status of an unknown unit exits 4"
expect_in "$T/err" '^Unit nope.service could not be found\.$' "and says so"

# --rollback undoes the failed run: unit stopped and disabled, files and binaries gone.
run in_ns "$NS" "$EP" --root "$R" --config "$T/bad.yaml" init --mode systemd --name n1 \
	--advertise-address "$ADDR" --key-type ecdsa-p256 --etcd-binary /usr/bin/etcd --rollback
expect_rc 0 "init --mode systemd --rollback undoes the failed run"
run "$STANDIN" --root "$R" is-active etcd.service
expect_rc 3 "etcd.service is no longer active"
for f in etc/systemd/system/etcd.service etc/etcd/etcd.env usr/local/bin/etcd etc/kubernetes/pki/etcd/ca.key var/lib/etcdpilot/journal.json; do
	[[ -e $R/$f ]] && fail "--rollback removes $f"
done
pass "--rollback removed the unit, its environment, the binaries, the certificates and the journal"

# The stand-in's start job: a supervisor killed before READY=1 fails the job
# ("the supervisor died", exit 1); one that is alive keeps it waiting.
mkdir -p "$R/etc/systemd/system"
cat >"$R/etc/systemd/system/sleeper.service" <<'UNIT'
[Unit]
Description=never ready

[Service]
Type=notify
ExecStart=/bin/sleep 60
UNIT
"$STANDIN" --root "$R" daemon-reload
"$STANDIN" --root "$R" start sleeper.service >"$T/sleeper.out" 2>"$T/sleeper.err" &
spid=$!
on_exit "kill -KILL $spid"
SD=$R/run/systemd-standin/sleeper.service
wait_for 10 test -s "$SD/supervisor.pid" || fail "the sleeper's supervisor began"
sleep 0.5
kill -0 "$spid" 2>/dev/null || fail "start waits while the supervisor lives and READY=1 has not come"
pass "start waits while the supervisor lives and READY=1 has not come"
sup=$(cat "$SD/supervisor.pid")
main=$(cat "$SD/main.pid")
kill -KILL "$sup"
[[ $main -gt 0 ]] && kill -KILL "$main" 2>/dev/null
wait "$spid"
RC=$?
expect_rc 1 "start fails once its supervisor is killed"
expect_in "$T/sleeper.err" "^Job for sleeper.service failed: the supervisor died\.$" "and says so"
