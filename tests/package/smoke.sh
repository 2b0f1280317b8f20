#!/usr/bin/env bash
# The e2e smoke test of an installed etcdpilot (EP_BINARY, by default the
# package's /usr/sbin/etcdpilot): init in static-pod mode on a simulated node
# (a network namespace and the kubelet stand-in), then health, which must
# find the one member healthy (exit 0), as text and as a HealthReport.
EP_BINARY=${EP_BINARY:-/usr/sbin/etcdpilot}
export EP_BINARY
. "$(dirname "$0")/../e2e/lib.sh"
. "$(dirname "$0")/../e2e/lib-standin.sh"

NS=ep-smoke-$$
ADDR=10.231.0.2
R=$T/n1
node_netns "$NS" "$ADDR"
standin_start "$R" "$NS" n1
EPN=(in_ns "$NS" "$EP" --root "$R")
FLAGS=(--name n1 --advertise-address "$ADDR" --etcd-version 3.4.23 --key-type ecdsa-p256)

say "etcdpilot under test: $EP ($("$EP" --version | head -1))"
run "${EPN[@]}" init "${FLAGS[@]}" --timeout 60s
expect_rc 0 "init: the member the stand-in started is healthy"
expect_in "$T/out" '^\[wait\] The local etcd member is healthy after' "init waited for it"
PKI=$R/etc/kubernetes/pki/etcd
CLIENT=(--endpoints "https://$ADDR:2379" --cacert "$PKI/ca.crt" --cert "$PKI/healthcheck-client.crt"
	--key "$PKI/healthcheck-client.key")
run "${EPN[@]}" health "${CLIENT[@]}"
expect_rc 0 "health: every member healthy"
expect_in "$T/out" "n1" "health names the member"
run "${EPN[@]}" health "${CLIENT[@]}" -o json
expect_rc 0 "health -o json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["kind"]=="HealthReport", d' "$T/out" ||
	fail "health -o json is a HealthReport"
pass "health -o json is a HealthReport"
