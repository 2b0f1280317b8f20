#!/usr/bin/env bash
# t67: the joiner's link is cut during the join (its port on the switch down,
# after member add and the manifest, while it waits to promote its learner).
#
# What happens, and what this checks:
#   - the join fails at its deadline (--timeout) and rolls back: the undo
#     of member.promote must remove the learner from the cluster, which the
#     joiner cannot reach; it tries for the undo budget (20 s), then stops
#     the rollback there - nothing after it is undone, so the node still
#     holds everything the journal describes - and keeps the journal,
#     saying to run 'join --rollback' (exit 1, well within deadline + 20 s);
#   - meanwhile the cluster keeps its quorum: the member left behind is a
#     learner, which does not vote;
#   - once the link is back, 'join --rollback' on the joiner removes the
#     learner and cleans the node: no stale member;
#   - the same cut, but the member removed from the side that still reaches
#     the cluster ('member remove ID' on n1) while the link is down: the
#     joiner's 'join --rollback' then finds it gone and cleans the node.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

cluster_switch t67 10.67.0
for i in 1 2 3; do node_add $i static-pod; done
E=https://${NODE_ADDR[1]}:2379
TIMEOUT=10

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
	link_cut 3
	kill -CONT "${NODE_STANDIN[3]}"
	pass "n3's link is cut while it waits to promote"
	wait "$pid"
	JOIN_RC=$?
	JOIN_SECS=$((SECONDS - t0))
}

# ---- the joiner alone: its rollback cannot reach the cluster ----------------------
join_cut
RC=$JOIN_RC
expect_rc 1 "the join fails"
((JOIN_SECS <= TIMEOUT + 20 + 5)) || fail "it ends within its deadline and the undo budget (took ${JOIN_SECS}s)"
pass "it ends within its deadline and the undo budget (${JOIN_SECS}s)"
expect_in "$T/err" "the rollback did not finish: .*removing member [0-9a-f]+ from the cluster" \
	"says the member could not be removed"
expect_in "$T/err" "etcdpilot join --rollback" "and what to run"
[[ -e ${NODE_ROOT[3]}/var/lib/etcdpilot/journal.json ]] || fail "the journal is kept"
pass "the journal is kept"
members_summary 1 >"$T/m"
expect_in "$T/m" "^(n3|[0-9a-f]+) learner (started|unstarted)$" "n3's learner is still in the cluster while the link is down"
run ep_node 1 health --endpoints "$E"
expect_in "$T/out" "n1 .*healthy|2 of 2 voting" "n1 answers"
run ep_node 1 member list --endpoints "$E"
expect_rc 0 "the cluster answers (two voters, quorum kept)"

link_restore 3
run ep_node 3 join "$E" $(node_flags 3) --rollback --timeout 60s
expect_rc 0 "join --rollback once the link is back"
expect_in "$T/out" "Member [0-9a-f]+ removed from the cluster" "removes the learner"
members_summary 1 >"$T/m"
expect_eq "$(cat "$T/m")" "n1 voter started
n2 voter started" "no stale member"
[[ ! -e ${NODE_ROOT[3]}/etc/kubernetes/manifests/etcd.yaml && ! -e ${NODE_ROOT[3]}/var/lib/etcd &&
	! -e ${NODE_ROOT[3]}/var/lib/etcdpilot/journal.json ]] || fail "no manifest, data dir or journal on n3"
pass "no manifest, data dir or journal on n3"
wait_for 30 standin_field_is "${NODE_ROOT[3]}" phase = Stopped || fail "n3's pod is stopped"
pass "n3's pod is stopped"

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

# n3 can join for good now
run ep_node 3 join "$E" $(node_flags 3) --timeout 60s
expect_rc 0 "n3 joins once its link is back"
members_summary 1 >"$T/m"
expect_eq "$(cat "$T/m")" "n1 voter started
n2 voter started
n3 voter started" "three voters"
run ep_node 1 health --endpoints "$E"
expect_rc 0 "health: every member healthy"
