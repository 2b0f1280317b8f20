#!/bin/bash
# t24-client-five: a real 5-member cluster: all healthy; two members
# stopped: health exits 3 with the quorum kept (3 of 5), removing a healthy
# voter is refused (the 4 left would have only 2 started), removing a dead
# one works.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

etcd_cluster_start f 5 127.0.24
export ETCDCTL_ENDPOINTS=$ETCD_ENDPOINTS ETCDCTL_CACERT=$ETCD_CACERT ETCDCTL_CERT=$ETCD_CERT \
	ETCDCTL_KEY=$ETCD_KEY

run "$EP" health
expect_rc 0 "five members: healthy"
expect_in "$T/out" "5 of 5 members healthy, .* 5 of 5 voters reachable from here; quorum held: .* \(quorum 3 of 5 voters\)$" \
	"summary for five"

etcd_member_stop 4
etcd_member_stop 5
settled() {
	{ "$EP" health -o json 2>/dev/null || :; } | python3 -c '
import json, sys
s = json.load(sys.stdin)["summary"]
sys.exit(0 if s["healthy"] == 3 else 1)'
}
wait_for 20 settled || fail "three members did not settle"
run "$EP" health -o json
expect_rc 3 "two of five down: exit 3"
python3 - "$T/out" <<'PY' || fail "report with two down"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["summary"]
assert s["members"] == 5 and s["healthy"] == 3 and s["started_voters"] == 3
assert s["quorum"] == 3 and s["has_quorum"] and not s["healthy_cluster"]
down = sorted(m["name"] for m in d["members"] if not m["healthy"])
assert down == ["f4", "f5"], down
PY
pass "JSON: f4 and f5 down, quorum kept"

run "$EP" member remove f1
expect_rc 1 "remove a healthy voter with two down: refused"
expect_in "$T/err" "the 4 remaining voters need 3 started, but only 2 are \(down: " "the reason"
expect_in "$T/err" "down: .*f4 \([0-9a-f]+\)" "the reason names f4"
expect_in "$T/err" "down: .*f5 \([0-9a-f]+\)" "the reason names f5"
run "$EP" member remove f5 --timeout 10s
expect_rc 0 "remove a dead member"
run "$EP" member list
expect_eq "$(grep -c started "$T/out")" 4 "four members left"

# --- quorum really lost: 1 of 4 voters left (issue 11, item 3: the summary
# must say so when raft says so, and only then) ------------------------------
etcd_member_stop 2
etcd_member_stop 3
lost() {
	{ "$EP" health --timeout 3s -o json 2>/dev/null || :; } | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["summary"]["quorum_state"] == "lost" else 1)'
}
wait_for 30 lost || fail "the last member never lost its leader"
run "$EP" health --timeout 3s
expect_rc 3 "one of four voters left: exit 3"
expect_in "$T/out" "NO LEADER, 1 of 4 voters reachable from here; QUORUM LOST: no member that answers has a leader \(quorum 3 of 4 voters\)$" \
	"the summary says QUORUM LOST, and why"
