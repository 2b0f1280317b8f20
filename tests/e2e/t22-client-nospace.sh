#!/bin/bash
# t22-client-nospace: a real 1-member cluster with a tiny backend quota:
# healthy at first (and a voter may join a one-member cluster, etcd's rule,
# checked with --dry-run; its only voter may not be removed); then filled
# with puts until etcd raises NOSPACE: health reports the alarm (table and
# JSON) and exits 3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

ETCD_ARGS[1]="--quota-backend-bytes 262144"
etcd_cluster_start s 1 127.0.22
CLIENT=(--endpoints "$ETCD_ENDPOINTS" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY")

run "$EP" health "${CLIENT[@]}"
expect_rc 0 "one member: healthy"
expect_in "$T/out" "is healthy: 1 of 1 members healthy, leader s1 " "summary: one member, its own leader"

run "$EP" member add s2 https://127.0.22.2:22380 --dry-run "${CLIENT[@]}"
expect_rc 0 "a second voter may join a one-member cluster (etcd's exception)"
expect_in "$T/out" "^would add member 's2' \(voter\)" "dry run: nothing added"
run "$EP" member remove s1 "${CLIENT[@]}"
expect_rc 1 "the only voter cannot be removed"
expect_in "$T/err" "is the last voting member" "said so"

# fill the quota
v=$(head -c 60000 /dev/zero | tr '\0' x)
for i in $(seq 1 60); do
	if ! out=$("${ETCD_CTL[@]}" put "k$i" "$v" 2>&1); then
		[[ $out == *"database space exceeded"* ]] && break
		fail "put k$i: $out"
	fi
done
[[ $out == *"database space exceeded"* ]] || fail "the quota never filled"
pass "puts filled the quota: $out"

run "$EP" health "${CLIENT[@]}"
expect_rc 3 "NOSPACE: exit 3"
expect_in "$T/out" "^s1 \([0-9a-f]+\): active alarm: NOSPACE raised by [0-9a-f]+" "the member is unhealthy by its alarm"
expect_in "$T/out" "^alarm NOSPACE raised by member [0-9a-f]+$" "the alarm line"
run "$EP" health "${CLIENT[@]}" -o json
expect_rc 3 "NOSPACE JSON: exit 3"
python3 - "$T/out" <<'PY' || fail "NOSPACE in the JSON report"
import json, sys
d = json.load(open(sys.argv[1]))
m = d["members"][0]
assert m["alarms"] == ["NOSPACE"] and not m["healthy"] and m["reachable"], m
assert d["summary"]["alarms"] == [{"member_id": m["id"], "alarm": "NOSPACE"}]
assert m["db_size"] > 200000
PY
pass "JSON: the member carries NOSPACE, the summary lists it"
