#!/usr/bin/env bash
# t70: etcdpilot convert --to static-pod on a three-member cluster that
# etcdpilot installed in systemd mode (hack/systemctl-standin as systemd, a
# kubelet stand-in on every node), one node at a time while a writer keeps
# writing keys: after each step the same member IDs, every member healthy,
# the unit stopped, disabled, kept aside and masked, the manifest written;
# at the end every acknowledged key is there.  Then n1 goes back with
# convert --to systemd and comes to a static pod again (the round trip).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

cluster_switch t70 10.70.0
for i in 1 2 3; do node_add $i systemd; done
E=https://${NODE_ADDR[1]}:2379
run ep_node 1 init $(node_flags 1) --timeout 60s
expect_rc 0 "init --mode systemd on n1"
for i in 2 3; do
	ca_copy 1 $i
	run ep_node $i join "$E" $(node_flags $i) --timeout 90s
	expect_rc 0 "n$i joins in systemd mode"
done
for i in 1 2 3; do
	standin_start "${NODE_ROOT[$i]}" "${NODE_NS[$i]}" "${NODE_NAME[$i]}"
done

ids() { ctl_json 1 | python3 -c '
import json, sys
for m in sorted(json.load(sys.stdin)["members"], key=lambda m: m["name"]):
    print(m["name"], m["id"])'; }
ids >"$T/ids0"
[[ $(wc -l <"$T/ids0") == 3 ]] || fail "three members before the conversion"

PKI=${NODE_ROOT[1]}/etc/kubernetes/pki/etcd
EPS="https://${NODE_ADDR[1]}:2379 https://${NODE_ADDR[2]}:2379 https://${NODE_ADDR[3]}:2379"
on_node 1 python3 "$SRC/tests/e2e/convert-writer.py" "$T/acked" "$T/stop-writer" \
	"$PKI/ca.crt" "$PKI/healthcheck-client.crt" "$PKI/healthcheck-client.key" $EPS &
WRITER=$!
on_exit "touch '$T/stop-writer'; kill $WRITER"
wait_for 20 test -s "$T/acked" || fail "the writer writes"

acked() { wc -l <"$T/acked"; }
for i in 1 2 3; do
	before=$(acked)
	run ep_node $i convert --to static-pod --timeout 90s
	expect_rc 0 "n$i: convert --to static-pod"
	expect_in "$T/out" "^\[wait\] Member [0-9a-f]+ is back, healthy and caught up; it was unavailable for [0-9.]+s" "n$i: the same member is back, downtime said"
	expect_in "$T/out" "^\[stop\] Run systemctl stop etcd.service|^\[stop\] .*stop.*etcd.service" "n$i: unit stopped"
	expect_in "$T/out" "etcdpilot's systemd mode wrote the old unit: run etcdpilot on this node with --mode static-pod" "n$i: says what could undo it (etcdpilot's own systemd mode)"
	"$SYSTEMCTL_STANDIN" --root "${NODE_ROOT[$i]}" is-enabled etcd.service >"$T/state" 2>&1
	expect_eq "$(cat "$T/state")" masked "n$i: etcd.service is masked"
	ls "${NODE_ROOT[$i]}"/etc/systemd/system/etcd.service.etcdpilot-converted-* >/dev/null 2>&1 ||
		fail "n$i: the old unit file is kept aside"
	grep -q -- "--initial-cluster-state=existing" "${NODE_ROOT[$i]}/etc/kubernetes/manifests/etcd.yaml" ||
		fail "n$i: the manifest joins the existing cluster"
	ls "${NODE_ROOT[$i]}"/var/lib/etcdpilot/backup/convert-n$i-*.db >/dev/null 2>&1 ||
		fail "n$i: a snapshot in the backup dir"
	pass "n$i: unit kept aside, manifest for the existing cluster, snapshot saved"
	ids >"$T/ids"
	expect_eq "$(cat "$T/ids")" "$(cat "$T/ids0")" "n$i: the same member IDs"
	run ep_node 1 health --endpoints "$E"
	expect_rc 0 "n$i: every member healthy after its conversion"
	wait_for 20 bash -c "(( \$(wc -l <'$T/acked') > $before + 20 ))" || fail "n$i: the writer goes on writing"
	pass "n$i: the writer went on ($(acked) keys acknowledged)"
done
[[ -e ${NODE_ROOT[1]}/var/lib/etcdpilot/journal.json ]] && fail "no journal left behind"

# the round trip: n1 back to systemd, then to a static pod again
run ep_node 1 convert --to systemd --etcd-binary /usr/bin/etcd --timeout 90s
expect_rc 0 "n1: convert --to systemd"
expect_in "$T/out" "^\[wait\] Member [0-9a-f]+ is back" "n1: the same member is back under systemd"
"$SYSTEMCTL_STANDIN" --root "${NODE_ROOT[1]}" is-active etcd.service >"$T/state" 2>&1
expect_eq "$(cat "$T/state")" active "n1: etcd.service active again"
[[ -e ${NODE_ROOT[1]}/etc/kubernetes/manifests/etcd.yaml ]] && fail "n1: the manifest is gone"
grep -q '^ETCD_INITIAL_CLUSTER_STATE=existing$' "${NODE_ROOT[1]}/etc/etcd/etcd.env" ||
	fail "n1: etcd.env starts an existing cluster"
pass "n1: manifest gone, etcd.env for the existing cluster"
ids >"$T/ids"
expect_eq "$(cat "$T/ids")" "$(cat "$T/ids0")" "n1: the same member IDs after the way back"
run ep_node 1 convert --to static-pod --timeout 90s
expect_rc 0 "n1: convert --to static-pod again (round trip)"
ids >"$T/ids"
expect_eq "$(cat "$T/ids")" "$(cat "$T/ids0")" "n1: the same member IDs after the round trip"
run ep_node 1 health --endpoints "$E"
expect_rc 0 "every member healthy after the round trip"

touch "$T/stop-writer"
wait "$WRITER" 2>/dev/null
run on_node 1 python3 "$SRC/tests/e2e/convert-check.py" "$T/acked" "$PKI/ca.crt" \
	"$PKI/healthcheck-client.crt" "$PKI/healthcheck-client.key" "$E"
expect_rc 0 "every acknowledged key is there"
say "$(cat "$T/out")"
