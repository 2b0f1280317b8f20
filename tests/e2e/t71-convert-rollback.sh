#!/usr/bin/env bash
# t71: a conversion that fails, and conversions killed at each step.
#   A  the pod cannot start (another process takes 127.0.0.1:2381, the
#      metrics port its probes need, the moment the unit lets it go): the
#      wait times out and the rollback removes the manifest, unmasks, puts
#      the unit file back, enables and starts it - the same member runs
#      under systemd again, healthy, with its data;
#   B  convert killed (SIGKILL) after each of its steps, then --rollback
#      or --resume (alternately): each ends with a healthy member with its
#      data, under systemd after a rollback, as a static pod after a resume;
#   C  the same for convert --to systemd (from the static pod): a rollback
#      ends with the pod running and the unit masked, a resume with the
#      unit active and enabled and no manifest.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

cluster_switch t71 10.71.0
for i in 1 2 3; do node_add $i systemd; done
E=https://${NODE_ADDR[1]}:2379
run ep_node 1 init $(node_flags 1) --timeout 60s
expect_rc 0 "init --mode systemd on n1"
for i in 2 3; do
	ca_copy 1 $i
	run ep_node $i join "$E" $(node_flags $i) --timeout 90s
	expect_rc 0 "n$i joins in systemd mode"
done
standin_start "${NODE_ROOT[1]}" "${NODE_NS[1]}" n1
R=${NODE_ROOT[1]}
PKI=$R/etc/kubernetes/pki/etcd
SC() { "$SYSTEMCTL_STANDIN" --root "$R" "$@" 2>&1; }
id_of_n1() { ctl_json 2 --endpoints "https://${NODE_ADDR[2]}:2379" | python3 -c '
import json, sys
print([m["id"] for m in json.load(sys.stdin)["members"] if m["name"] == "n1"][0])'; }
ID=$(id_of_n1)
put() { on_node 1 etcdctl --cacert "$PKI/ca.crt" --cert "$PKI/healthcheck-client.crt" \
	--key "$PKI/healthcheck-client.key" --endpoints "$E" put "$1" "$2" >/dev/null; }
get() { on_node 1 etcdctl --cacert "$PKI/ca.crt" --cert "$PKI/healthcheck-client.crt" \
	--key "$PKI/healthcheck-client.key" --endpoints "https://127.0.0.1:2379" get --print-value-only "$1"; }
put /t71/before yes || fail "a key before the conversions"

# the member runs under systemd, as it did, with its data
as_systemd() {
	expect_eq "$(SC is-active etcd.service)" active "$1: etcd.service active"
	expect_eq "$(SC is-enabled etcd.service)" enabled "$1: and enabled (not masked)"
	[[ -f $R/etc/systemd/system/etcd.service && ! -e $R/etc/kubernetes/manifests/etcd.yaml ]] ||
		fail "$1: the unit file is back, no manifest"
	ls "$R"/etc/systemd/system/etcd.service.etcdpilot-converted-* >/dev/null 2>&1 &&
		fail "$1: nothing left aside"
	pass "$1: the unit file back in place, no manifest"
}
healthy_with_data() {
	expect_eq "$(id_of_n1)" "$ID" "$1: the same member ID"
	run ep_node 1 health --endpoints "$E"
	expect_rc 0 "$1: every member healthy"
	wait_for 20 bash -c "[[ \$(ip netns exec ${NODE_NS[1]} etcdctl --cacert $PKI/ca.crt --cert $PKI/healthcheck-client.crt --key $PKI/healthcheck-client.key --endpoints https://127.0.0.1:2379 get --print-value-only /t71/before) == yes ]]" ||
		fail "$1: n1 serves the data written before"
	pass "$1: n1 serves the data written before"
	[[ -e $R/var/lib/etcdpilot/journal.json ]] && fail "$1: no journal left"
	pass "$1: no journal left"
}

# until the journal under $R shows an action of type $1 done (one poller,
# every 5 ms); on a timeout, what it saw
journal_done() {
	python3 - "$R/var/lib/etcdpilot/journal.json" "$1" "$2" <<'PY'
import json, sys, time
path, want, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
seen, end = [], time.time() + secs
while time.time() < end:
    try:
        d = json.load(open(path))
    except (OSError, ValueError):
        time.sleep(0.005)
        continue
    st = [(a["type"], a["state"]) for a in d["actions"]]
    if st not in seen[-1:]:
        seen.append(st)
    if any(t == want and s in ("done", "skipped") for t, s in st):
        sys.exit(0)
    time.sleep(0.005)
for st in seen[-3:]:
    print(" ".join("%s=%s" % x for x in st), file=sys.stderr)
sys.exit(1)
PY
}

# ---- a backup is never replaced: a run in the same second as the last takes another name ----
B=$R/var/lib/etcdpilot/backup
mkdir -p "$B"
now=$(date +%s)
for k in 0 1 2 3 4 5 6 7 8 9; do
	: >"$B/convert-n1-$(date -u -d "@$((now + k))" +%Y%m%dT%H%M%SZ).db"
done
run ep_node 1 convert --to static-pod --dry-run
expect_rc 0 "convert --dry-run with backups of this second already there"
planned=$(grep -o '/var/lib/etcdpilot/backup/convert-n1-[0-9TZ-]*\.db' "$T/out" | head -1)
[[ $planned =~ ^/var/lib/etcdpilot/backup/convert-n1-[0-9]{8}T[0-9]{6}Z-2\.db$ && ! -e $R$planned ]] ||
	fail "the planned backup takes the next free name (planned: '$planned')"
pass "the planned backup takes the next free name ($planned)"
rm -f "$B"/convert-n1-*.db

# ---- A: the pod cannot start ----
if [[ -z ${T71_STEPS:-} ]]; then
on_node 1 python3 "$SRC/tests/e2e/port-holder.py" 127.0.0.1 2381 "$R/var/lib/etcdpilot/journal.json" "$T/held" &
HOLDER=$!
on_exit "kill $HOLDER"
run ep_node 1 convert --to static-pod --timeout 15s
expect_rc 1 "A: convert fails"
[[ -e $T/held ]] || fail "A: the port was held when the unit let it go"
expect_in "$T/err" "did not come back healthy" "A: the error says the member did not come back"
expect_in "$T/err" "undone" "A: and that the run was undone"
expect_in "$T/out" "^\[rollback\] Undoing: write the static pod manifest" "A: the manifest removed"
expect_in "$T/out" "^\[rollback\] Undoing: run systemctl mask etcd.service" "A: unmasked"
expect_in "$T/out" "^\[rollback\] Undoing: run systemctl stop etcd.service" "A: started again"
wait "$HOLDER" 2>/dev/null
as_systemd A
healthy_with_data A
fi

# ---- B: killed after each step, then --rollback or --resume ----
EPC=("$EP" --root "$R" convert --to static-pod --timeout 60s)
n=0
for step in ${T71_STEPS:-snapshot.save systemd.stop systemd.disable file.move systemd.mask convert.manifest}; do
	n=$((n + 1))
	if ((n % 2)); then how=rollback; else how=resume; fi
	ip netns exec "${NODE_NS[1]}" "${EPC[@]}" >"$T/killed.out" 2>&1 &
	pid=$!
	journal_done "$step" 60 || { cat "$T/killed.out"; fail "B: $step done"; }
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	[[ -e $R/var/lib/etcdpilot/journal.json ]] || fail "B: a journal after the kill at $step"
	run ip netns exec "${NODE_NS[1]}" "${EPC[@]}" "--$how"
	expect_rc 0 "B: killed after $step, then --$how"
	if [[ $how == rollback ]]; then
		as_systemd "B $step"
	else
		expect_eq "$(SC is-enabled etcd.service)" masked "B $step: etcd.service masked"
		[[ -f $R/etc/kubernetes/manifests/etcd.yaml ]] || fail "B $step: the manifest"
		pass "B $step: the manifest written"
	fi
	healthy_with_data "B $step"
	if [[ $how == resume ]]; then
		# back to systemd for the next kill
		run ep_node 1 convert --to systemd --etcd-binary /usr/bin/etcd --timeout 60s
		expect_rc 0 "B $step: back to systemd"
		rm -f "$R"/etc/systemd/system/etcd.service.etcdpilot-converted-*
	fi
done

# ---- C: convert --to systemd killed after each step, then --rollback or --resume ----
run ep_node 1 convert --to static-pod --timeout 60s
expect_rc 0 "C: n1 is a static pod again"
as_pod() {
	expect_eq "$(SC is-enabled etcd.service)" masked "$1: etcd.service masked"
	[[ -f $R/etc/kubernetes/manifests/etcd.yaml ]] || fail "$1: the manifest is back"
	ls "$R"/etc/kubernetes/manifests/ | grep -v '^etcd.yaml$' && fail "$1: nothing else in the manifest dir"
	pass "$1: the manifest in place, the unit masked"
}
EPS=("$EP" --root "$R" convert --to systemd --etcd-binary /usr/bin/etcd --timeout 60s)
n=0
for step in ${T71_SD_STEPS:-systemd.unmask file.write file.remove wait.stopped systemd.enable-now}; do
	n=$((n + 1))
	if ((n % 2)); then how=rollback; else how=resume; fi
	ip netns exec "${NODE_NS[1]}" "${EPS[@]}" >"$T/killed.out" 2>&1 &
	pid=$!
	journal_done "$step" 60 || { cat "$T/killed.out"; fail "C: $step done"; }
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	[[ -e $R/var/lib/etcdpilot/journal.json ]] || fail "C: a journal after the kill at $step"
	run ip netns exec "${NODE_NS[1]}" "${EPS[@]}" "--$how"
	expect_rc 0 "C: killed after $step, then --$how"
	if [[ $how == rollback ]]; then
		# once the pod was stopped (after convert.mark), the rollback waits until it serves again
		if [[ $step != systemd.unmask && $step != file.write ]]; then
			expect_in "$T/out" "^\[rollback\] Member [0-9a-f]+ is back, healthy and caught up" \
				"C $step: the rollback waits until the restored pod serves"
		fi
		as_pod "C $step"
	else
		expect_eq "$(SC is-active etcd.service)" active "C $step: etcd.service active"
		expect_eq "$(SC is-enabled etcd.service)" enabled "C $step: and enabled"
		[[ -e $R/etc/kubernetes/manifests/etcd.yaml ]] && fail "C $step: no manifest"
		pass "C $step: no manifest"
	fi
	healthy_with_data "C $step"
	if [[ $how == resume ]]; then
		run ep_node 1 convert --to static-pod --timeout 60s
		expect_rc 0 "C $step: back to a static pod"
	fi
done
