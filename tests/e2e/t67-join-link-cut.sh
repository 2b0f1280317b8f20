#!/usr/bin/env bash
# t67: the joiner's link is cut during the join (its port on the switch down,
# after member add and the manifest, while it waits to promote its learner).
#
# What happens, and what this checks:
#   - the join keeps part of --timeout for its rollback (a quarter, at least
#     5 s): it fails when the rest runs out and is undone within --timeout.
#     The undo of member.promote must remove the learner from the cluster,
#     which the joiner cannot reach: it tries for a third of the time left,
#     then leaves that for later - the member is a learner that was never
#     promoted, so this node's own changes are undone all the same (pod
#     stopped, manifest and data dir gone) - and stops before member.add,
#     which needs the cluster too (the certificates that reach it are kept).
#     The journal is kept, saying to run 'join --rollback'; '--resume' is
#     refused (it would restart that member from a new data dir);
#   - meanwhile the cluster keeps its quorum: the member left behind is a
#     learner, which does not vote;
#   - a plain re-run while the link is still down goes on undoing, leaves
#     it for later again, within its own --timeout;
#   - once the link is back, 'join --rollback' on the joiner removes the
#     learner and cleans the node: no stale member;
#   - the same cut, but the member removed from the side that still reaches
#     the cluster ('member remove ID' on n1) while the link is down: the
#     joiner's 'join --rollback' then finds it gone and cleans the node;
#   - cut after the promotion (the join waiting for every member to be
#     healthy): the member may vote now, and stopping a voter the cluster
#     cannot drop could cost it its quorum, so nothing is undone, the pod
#     keeps running and the error says why; 'join --rollback' once the link
#     is back removes the voter while its etcd runs, then cleans the node.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

cluster_switch t67 10.67.0
for i in 1 2 3; do node_add $i static-pod; done
E=https://${NODE_ADDR[1]}:2379
TIMEOUT=12

run ep_node 1 init $(node_flags 1) --timeout 60s
expect_rc 0 "init on n1"
for i in 2 3; do ca_copy 1 $i; done
run ep_node 2 join "$E" $(node_flags 2) --timeout 60s
expect_rc 0 "n2 joins"

# Join n3 and cut its link once it waits to promote (its kubelet held until
# then, so that the cut falls there); JOIN_RC, JOIN_SECS: how it ended.
join_cut() {
	local pid t0
	kill -STOP "${NODE_STANDIN[3]}"
	t0=$SECONDS
	ip netns exec "${NODE_NS[3]}" "$EP" --root "${NODE_ROOT[3]}" join "$E" $(node_flags 3) \
		--timeout ${TIMEOUT}s >"$T/out" 2>"$T/err" &
	pid=$!
	wait_journal_state "${NODE_ROOT[3]}" member.promote running 30 || fail "n3's join reaches member.promote"
	# the learner's ID journalled, the promotion not asked (it waits for the
	# learner to catch up, and its etcd is held): the cut falls in that wait
	wait_journal_undo "${NODE_ROOT[3]}" member.promote promoting false 30 ||
		fail "n3's join journals its learner before it waits to promote"
	link_cut 3
	kill -CONT "${NODE_STANDIN[3]}"
	pass "n3's link is cut while it waits to promote"
	wait "$pid"
	JOIN_RC=$?
	JOIN_SECS=$((SECONDS - t0))
}

# 'join --rollback' on n3 once its link is back: the member removed ($1, said
# as $2), no stale member, nothing of this join left on n3
rollback_once_back() {
	run ep_node 3 join "$E" $(node_flags 3) --rollback --timeout 60s
	expect_rc 0 "join --rollback once the link is back"
	expect_in "$T/out" "$1" "$2"
	members_summary 1 >"$T/m"
	expect_eq "$(cat "$T/m")" "n1 voter started
n2 voter started" "no stale member"
	[[ ! -e ${NODE_ROOT[3]}/etc/kubernetes/manifests/etcd.yaml && ! -e ${NODE_ROOT[3]}/var/lib/etcd &&
		! -e ${NODE_ROOT[3]}/var/lib/etcdpilot/journal.json &&
		! -e ${NODE_ROOT[3]}/etc/kubernetes/pki/etcd/healthcheck-client.crt ]] ||
		fail "no manifest, data dir, journal or certificate of this join on n3"
	pass "no manifest, data dir, journal or certificate of this join on n3"
}

# ---- the joiner alone: its rollback cannot reach the cluster ----------------------
join_cut
RC=$JOIN_RC
expect_rc 1 "the join fails"
((JOIN_SECS <= TIMEOUT + 2)) || fail "it ends within its --timeout, rollback included (took ${JOIN_SECS}s)"
pass "it ends within its --timeout, rollback included (${JOIN_SECS}s of ${TIMEOUT}s)"
expect_in "$T/err" "member [0-9a-f]+ could not be removed from the cluster .*it is a learner \(never promoted\)" \
	"says the learner could not be removed, and why that is safe"
expect_in "$T/err" "is left for later: .*own changes were undone all the same, but not '\[member-add\] .*and what comes before it" \
	"says this node's changes were undone, down to member add"
expect_in "$T/err" "etcdpilot join --rollback" "and what to run"
expect_in "$T/out" "Left for later: the cluster cannot be reached" "the log says it was left for later"
expect_in "$T/out" "\[rollback\] Removed /etc/kubernetes/manifests/etcd.yaml" "the manifest is removed"
expect_in "$T/out" "\[rollback\] The etcd pod has stopped" "the pod has stopped"
[[ ! -e ${NODE_ROOT[3]}/etc/kubernetes/manifests/etcd.yaml && ! -e ${NODE_ROOT[3]}/var/lib/etcd ]] ||
	fail "no manifest or data dir on n3"
pass "no manifest or data dir on n3"
standin_field_is "${NODE_ROOT[3]}" phase = Stopped || fail "n3's pod is stopped"
pass "n3's pod is stopped"
[[ -e ${NODE_ROOT[3]}/etc/kubernetes/pki/etcd/healthcheck-client.crt &&
	-e ${NODE_ROOT[3]}/var/lib/etcdpilot/journal.json ]] || fail "the journal and the certificates that reach the cluster are kept"
pass "the journal and the certificates that reach the cluster are kept"
python3 - "${NODE_ROOT[3]}/var/lib/etcdpilot/journal.json" <<'PY' || fail "the journal says the member was never promoted"
import json, sys
j = json.load(open(sys.argv[1]))
a = {x["type"]: x for x in j["actions"]}
p = a["member.promote"]
assert j["status"] == "rolling-back", j["status"]
assert p["state"] in ("running", "failed") and p.get("deferred") is True, p
assert p["undo"].get("promoting") is False, p  # the promotion was never asked for
assert a["member.add"]["state"] == "done" and a["runtime.files"]["state"] == "undone", a
assert a["member.add"]["undo"].get("learner") is True, a["member.add"]
PY
pass "the journal: promote left for later (deferred), never asked for (promoting: false), member add (a learner) not undone, the manifest undone"
members_summary 1 >"$T/m"
expect_in "$T/m" "^(n3|[0-9a-f]+) learner (started|unstarted)$" "n3's learner is still in the cluster while the link is down"
run ep_node 1 health --endpoints "$E"
expect_rc 0 "health: the two voters are healthy (a learner does not count)"
run ep_node 1 member list --endpoints "$E"
expect_rc 0 "the cluster answers (two voters, quorum kept)"

run ep_node 3 join "$E" $(node_flags 3) --resume --timeout 60s
expect_rc 2 "join --resume is refused"
expect_in "$T/err" "partly undone: .*run 'etcdpilot join --rollback'" "says why, and what to run"
run ep_node 3 join "$E" $(node_flags 3) --resume --dry-run
expect_rc 2 "join --resume --dry-run says the same"
expect_in "$T/err" "a real run would refuse" "that a real run would refuse"
run ep_node 3 join "$E" $(node_flags 3) --dry-run
expect_rc 0 "join --dry-run"
expect_in "$T/out" "a real run would undo it" "says a real run would go on undoing it"
t0=$SECONDS
run ep_node 3 join "$E" $(node_flags 3) --timeout ${TIMEOUT}s
expect_rc 1 "a plain re-run while the link is down fails"
expect_in "$T/out" "was being undone: going on undoing it$" "it goes on undoing (and does not offer --resume)"
expect_in "$T/err" "could not be removed from the cluster" "and leaves the member for later again"
((SECONDS - t0 <= TIMEOUT + 2)) || fail "within its --timeout (took $((SECONDS - t0))s)"
pass "within its --timeout ($((SECONDS - t0))s)"

link_restore 3
rollback_once_back "Member [0-9a-f]+ removed from the cluster" "removes the learner"

# ---- removed from the side that reaches the cluster ----------------------------------
join_cut
RC=$JOIN_RC
expect_rc 1 "the second cut join fails"
id=$(ctl_json 1 | python3 -c '
import json, sys
print(next(m["id"] for m in json.load(sys.stdin)["members"] if m["is_learner"]))')
run ep_node 1 member remove "$id" --endpoints "$E"
expect_rc 0 "the learner is removed through n1 while n3's link is down"
link_restore 3
run ep_node 3 join "$E" $(node_flags 3) --rollback --timeout 60s
expect_rc 0 "join --rollback on n3 once the link is back"
expect_in "$T/out" "Member [0-9a-f]+ was already gone from the cluster" "finds the member gone"
[[ ! -e ${NODE_ROOT[3]}/etc/kubernetes/manifests/etcd.yaml && ! -e ${NODE_ROOT[3]}/var/lib/etcdpilot/journal.json ]] ||
	fail "n3 is clean"
pass "n3 is clean"

# ---- promoted, then cut: a member that may vote is left running --------------------
# n3's learner is fed by n1 (made the leader); once promoted, n3's wait for
# every member to be healthy cannot reach n2 (a blackhole route on n3), so
# the join waits there; then its link is cut and it fails: the undo of
# member.promote cannot remove a member that is a voter now, and stopping
# it could cost the cluster its quorum, so nothing is undone.
P1=${NODE_ROOT[1]}/etc/kubernetes/pki/etcd
ctl1() {
	on_node 1 etcdctl --cacert "$P1/ca.crt" --cert "$P1/healthcheck-client.crt" \
		--key "$P1/healthcheck-client.key" "$@"
}
read -r n1id leader < <(ctl1 --endpoints "$E" endpoint status -w json | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["Status"]
print("%x %x" % (s["header"]["member_id"], s["leader"]))')
if [[ $n1id != "$leader" ]]; then
	ctl1 --endpoints "$E,https://${NODE_ADDR[2]}:2379" move-leader "$n1id" >/dev/null ||
		fail "n1 takes the lead"
fi
pass "n1 leads"
kill -STOP "${NODE_STANDIN[3]}"
t0=$SECONDS
ip netns exec "${NODE_NS[3]}" "$EP" --root "${NODE_ROOT[3]}" join "$E" $(node_flags 3) \
	--timeout 16s >"$T/out" 2>"$T/err" &
pid=$!
wait_journal_state "${NODE_ROOT[3]}" member.promote running 30 || fail "n3's join reaches member.promote"
ip -n "${NODE_NS[3]}" route add blackhole "${NODE_ADDR[2]}/32"
on_exit ip -n "${NODE_NS[3]}" route del blackhole "${NODE_ADDR[2]}/32"
kill -CONT "${NODE_STANDIN[3]}"
wait_journal_state "${NODE_ROOT[3]}" wait.cluster running 30 || fail "n3 is promoted and waits for every member"
members_summary 1 >"$T/m"
expect_in "$T/m" "^n3 voter started$" "n3 is a voter"
link_cut 3
wait "$pid"
RC=$?
expect_rc 1 "the join fails"
((SECONDS - t0 <= 16 + 2)) || fail "within its --timeout (took $((SECONDS - t0))s)"
pass "within its --timeout ($((SECONDS - t0))s)"
expect_in "$T/err" "it may be a voting member already, so its etcd is left running: stopping a voter the cluster still counts could cost it its quorum" \
	"says the member may vote, so its etcd is left running"
expect_in "$T/err" "the rollback did not finish" "the rollback stopped there"
expect_not_in "$T/out" "Left for later" "nothing is left for later"
[[ -e ${NODE_ROOT[3]}/etc/kubernetes/manifests/etcd.yaml && -e ${NODE_ROOT[3]}/var/lib/etcd/member &&
	-e ${NODE_ROOT[3]}/var/lib/etcdpilot/journal.json ]] || fail "the manifest, the data dir and the journal are kept"
pass "the manifest, the data dir and the journal are kept"
expect_eq "$(standin_field "${NODE_ROOT[3]}" phase)" Running "n3's pod still runs"
run ep_node 1 member list --endpoints "$E"
expect_rc 0 "the cluster answers (two voters of three reachable, quorum kept)"

link_restore 3
ip -n "${NODE_NS[3]}" route del blackhole "${NODE_ADDR[2]}/32"
rollback_once_back "Member [0-9a-f]+ removed from the cluster while its etcd still runs" \
	"removes the voter while its etcd runs"
wait_for 30 standin_field_is "${NODE_ROOT[3]}" phase = Stopped || fail "n3's pod is stopped"
pass "n3's pod is stopped"

# n3 can join for good now
run ep_node 3 join "$E" $(node_flags 3) --timeout 60s
expect_rc 0 "n3 joins once its link is back"
members_summary 1 >"$T/m"
expect_eq "$(cat "$T/m")" "n1 voter started
n2 voter started
n3 voter started" "three voters"
run ep_node 1 health --endpoints "$E"
expect_rc 0 "health: every member healthy"
