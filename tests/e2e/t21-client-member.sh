#!/bin/bash
# t21-client-member: `etcdpilot member list|add|remove|promote` against a
# real 2-member TLS cluster: add a learner (ETCD_* lines like etcdctl),
# start it, see it as a learner in health, promote it; the quorum guards
# (a voter add and a healthy member's removal refused when members are down,
# --force with its warning under --dry-run); removing a dead member by hex
# ID; unknown names and IDs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

etcd_cluster_start m 2 127.0.21
export ETCDCTL_ENDPOINTS=$ETCD_ENDPOINTS ETCDCTL_CACERT=$ETCD_CACERT ETCDCTL_CERT=$ETCD_CERT \
	ETCDCTL_KEY=$ETCD_KEY

json_check() {
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"
}

# --- a learner --------------------------------------------------------------
# etcd refuses changes until the members have been connected for 5 s; the
# command waits for that within its --timeout.
run "$EP" member add m3 https://127.0.21.3:22380 --learner --timeout 20s
expect_rc 0 "member add --learner"
expect_in "$T/out" "^Member [0-9a-f]+ added to cluster [0-9a-f]+ as a learner$" "add: the etcdctl line"
expect_in "$T/out" '^ETCD_NAME="m3"$' "add: ETCD_NAME"
for n in 1 2; do
	expect_in "$T/out" "^ETCD_INITIAL_CLUSTER=\".*m$n=${ETCD_PEER_URL[$n]}" "add: m$n in ETCD_INITIAL_CLUSTER"
done
expect_in "$T/out" '^ETCD_INITIAL_CLUSTER=".*m3=https://127.0.21.3:22380' "add: m3 in ETCD_INITIAL_CLUSTER"
expect_in "$T/out" '^ETCD_INITIAL_ADVERTISE_PEER_URLS="https://127.0.21.3:22380"$' "add: peer URLs"
expect_in "$T/out" '^ETCD_INITIAL_CLUSTER_STATE="existing"$' "add: state existing"

run "$EP" member list -o json
expect_rc 0 "member list -o json"
json_check "$T/out" '
ms = d["members"]
l = [m for m in ms if m["peer_urls"] == ["https://127.0.21.3:22380"]][0]
assert l["is_learner"] and l["status"] == "unstarted" and l["name"] is None and l["client_urls"] == []
assert len(ms) == 3 and d["header"]["cluster_id"]
' || fail "unstarted learner in JSON"
pass "member list: the new learner is unstarted"
run "$EP" member list
expect_in "$T/out" "^[0-9a-f]+ +unstarted +https://127.0.21.3:22380 +true$" "table: unstarted learner row"

# A learner that never started is not an unhealthy cluster (issue 11, item 3).
run "$EP" health
expect_rc 0 "health with a learner not started yet: exit 0"
expect_in "$T/out" "^- +- +[0-9a-f]+ +not started +learner " "its row says not started"
expect_in "$T/out" "^learner \([0-9a-f]+\): learner, not started yet" "and why"
expect_in "$T/out" "is healthy: 2 of 3 members healthy \(and 1 learner not started yet\)" \
	"the summary counts it apart"

run "$EP" member add m4 https://127.0.21.4:22380 --learner
expect_rc 1 "a second learner: refused by etcd"
expect_in "$T/err" "too many learner members in cluster \(gRPC FailedPrecondition, HTTP 412\)" \
	"etcd's refusal decoded from its code (Debian's 412)"

etcd_member_join 3 m3 127.0.21.3
learner_healthy() {
	{ "$EP" health -o json 2>/dev/null || :; } | python3 -c '
import json, sys
d = json.load(sys.stdin)
m = [m for m in d["members"] if m["name"] == "m3"]
sys.exit(0 if m and m[0]["healthy"] and m[0]["is_learner"] else 1)'
}
wait_for 30 learner_healthy || fail "the learner did not become healthy"
run "$EP" health
expect_rc 0 "health with a started learner: exit 0"
expect_in "$T/out" "^${ETCD_CLIENT_URL[3]} +m3 +[0-9a-f]+ +healthy +learner " "health shows m3 as a learner"
expect_in "$T/out" "2 of 2 voters reachable from here; quorum held: .* \(quorum 2 of 2 voters\)$" \
	"the learner is not counted as a voter"

# --- promote ----------------------------------------------------------------
run "$EP" member promote m3 --timeout 20s
expect_rc 0 "member promote m3"
expect_in "$T/out" "^Member [0-9a-f]+ promoted in cluster [0-9a-f]+$" "promote: the etcdctl line"
run "$EP" member list
expect_in "$T/out" "^[0-9a-f]+ +started +m3 +https://127.0.21.3:22380 +${ETCD_CLIENT_URL[3]} +false$" \
	"m3 is a voter now"
run "$EP" member promote m3
expect_rc 2 "promote a voter: usage error"
expect_in "$T/err" "member 'm3' \([0-9a-f]+\) is already a voting member" "promote a voter: said so"
run "$EP" member remove nosuch
expect_rc 1 "remove an unknown member: exit 1"
expect_in "$T/err" "no member named 'nosuch' or with ID 'nosuch'; members: .*m1 \([0-9a-f]+\)" \
	"unknown member: the members are listed"

# --- quorum guards ----------------------------------------------------------
M3_ID=$("$EP" member list | awk '$3 == "m3" { print $1 }')
[[ $M3_ID =~ ^[0-9a-f]+$ ]] || fail "m3's ID from member list ('$M3_ID')"
"$EP" member list >"$T/list-before"
etcd_member_stop 3
run "$EP" member add m4 https://127.0.21.4:22380
expect_rc 1 "add a voter with 1 of 3 voters down: refused"
expect_in "$T/err" "adding a voting member would leave the cluster without quorum: 3 voters \+ the new one need 3 started, but only 2 of 3 are started \(down: m3 \($M3_ID\)\)" \
	"add refused with the reason"
run "$EP" member remove m1
expect_rc 1 "remove a healthy voter with another one down: refused"
expect_in "$T/err" "removing member 'm1' \([0-9a-f]+\) would leave the cluster without quorum: the 2 remaining voters need 2 started, but only 1 is \(down: m3 \($M3_ID\)\)" \
	"remove refused with the reason"
run "$EP" member remove m1 --force --dry-run
expect_rc 0 "--force --dry-run: goes on"
expect_in "$T/err" "^WARNING: --force: removing a voting member although it is unsafe" "--force warns loudly"
expect_in "$T/out" "^would remove member 'm1'" "--dry-run changes nothing"
run "$EP" member add m4 https://127.0.21.4:22380 --learner
expect_rc 1 "a learner with a voter down: etcd 3.4 refuses"
expect_in "$T/err" "etcd refuses membership changes while a voting member is unreachable \(1 voter is down here" \
	"the refusal is explained"
"$EP" member list >"$T/list-after"
expect_eq "$(cat "$T/list-after")" "$(cat "$T/list-before")" "refused changes changed nothing"

run "$EP" member remove "$M3_ID" --timeout 10s
expect_rc 0 "remove the dead member by its hex ID"
expect_in "$T/out" "^Member $M3_ID removed from cluster [0-9a-f]+$" "remove: the etcdctl line"
run "$EP" member list
expect_not_in "$T/out" "m3" "m3 is gone"
run "$EP" health
expect_rc 0 "two members left: healthy"

# --- a peer URL added, removed and added again within one second -------------
# etcd derives a new member's ID from its peer URLs and the time in whole
# seconds and never reuses a removed ID ("member not found"): a join rolled
# back and run again at once meets that.  The add asks again a second later.
# Started at the beginning of a second so that the three calls share it; if
# the machine is too slow for that, another try with another peer URL.
collided=
for try in 1 2 3; do
	url=https://127.0.21.$((4 + try)):22380
	python3 -c 'import time; time.sleep(1.02 - time.time() % 1)'
	id=$(etcdctl member add "x$try" --learner --peer-urls "$url" | awk '/^Member/ { print $2; exit }')
	[[ $id =~ ^[0-9a-f]+$ ]] || fail "etcdctl member add x$try"
	etcdctl member remove "$id" >/dev/null || fail "etcdctl member remove $id"
	run "$EP" member add "m$((4 + try))" "$url" --learner --timeout 20s
	expect_rc 0 "try $try: the same peer URL added again right after its removal"
	new=$(awk '/^Member [0-9a-f]+ added/ { print $2 }' "$T/out")
	[[ $new =~ ^[0-9a-f]+$ && $new != "$id" ]] || fail "try $try: a new member ID ($new, removed $id)"
	etcdctl member remove "$new" >/dev/null || fail "etcdctl member remove $new"
	if grep -q "trying again in 1000 ms: .*member not found" "$T/out" "$T/err"; then
		collided=$try
		break
	fi
done
[[ -n $collided ]] || fail "three tries, and never an add in the second of the removed ID's"
pass "etcd refused the removed ID (member not found); the add asked again a second later and got a new one (try $collided)"
run "$EP" member list
expect_not_in "$T/out" "unstarted" "no learner left behind"
