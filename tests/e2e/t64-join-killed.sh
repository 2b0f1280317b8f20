#!/usr/bin/env bash
# t64: a join killed with SIGKILL is finished by the next plain run or undone
# by --rollback (the journal), and the member list never keeps a stale
# member.  Two kill points, each stopped at deterministically (no sleeps):
#
#   after member add   strace kills the joiner at its first mkdirat under
#                      /var/lib, the data dir's (the journal's directory
#                      exists beforehand): the member is in the cluster as a
#                      learner that never started, the node has no manifest;
#   after the manifest the node's kubelet stand-in is held (SIGSTOP), so the
#                      learner cannot start and the joiner waits in
#                      member.promote until it is killed: the manifest is
#                      written, the member not promoted.
#
# Each point once finished by a plain re-run and once undone by --rollback
# (given without ENDPOINT: the journal has it; a join under another name
# first is refused, naming the interrupted one):
# n2 (after add, re-run), n3 (after add, --rollback), n3 again (after the
# manifest, re-run), n4 (after the manifest, --rollback).  Three voters, all
# healthy, at the end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

command -v strace >/dev/null || fail "strace is needed (it kills the joiner at a system call)"

cluster_switch t64 10.64.0
for i in 1 2 3 4; do node_add $i static-pod; done
E=https://${NODE_ADDR[1]}:2379

run ep_node 1 init $(node_flags 1) --timeout 60s
expect_rc 0 "init on n1"
for i in 2 3 4; do ca_copy 1 $i; done

# "type state" for every action of the journal under node I's root
journal_states() {
	python3 -c 'import json,sys
for a in json.load(open(sys.argv[1]))["actions"]: print(a["type"], a["state"])' \
		"${NODE_ROOT[$1]}/var/lib/etcdpilot/journal.json"
}

# members_summary with "started|unstarted" dropped: what a finished join shows
expect_members() {
	members_summary 1 >"$T/m"
	expect_eq "$(cat "$T/m")" "$1" "$2"
}

# Join node I under strace, killed at its first mkdirat under /var/lib.
join_killed_after_add() {
	local i=$1 root=${NODE_ROOT[$1]}
	mkdir -p "$root/var/lib/etcdpilot"
	run on_node "$i" strace -qq -o /dev/null -P "$root/var/lib" -e trace=mkdirat \
		-e inject=mkdirat:signal=KILL "$EP" --root "$root" join "$E" $(node_flags "$i") --timeout 60s
	expect_rc 137 "n$i's join is killed (SIGKILL)"
	journal_states "$i" >"$T/j"
	expect_in "$T/j" "^member.add done$" "n$i's journal: the member was added"
	expect_in "$T/j" "^etcd.data-dir (pending|running)$" "n$i's journal: the data dir not made yet"
	[[ ! -e $root/etc/kubernetes/manifests/etcd.yaml ]] || fail "n$i has no manifest yet"
	pass "n$i has no manifest yet"
	members_summary 1 >"$T/m"
	expect_in "$T/m" "^(n$i|[0-9a-f]+) learner unstarted$" "the cluster has n$i's learner, never started"
}

# Join node I with its kubelet stand-in held, killed while it waits to promote.
join_killed_after_manifest() {
	local i=$1 root=${NODE_ROOT[$1]} pid
	kill -STOP "${NODE_STANDIN[$i]}"
	# (ip netns exec execs in place: $! is the etcdpilot process itself)
	ip netns exec "${NODE_NS[$i]}" "$EP" --root "$root" join "$E" $(node_flags "$i") \
		--timeout 60s >"$T/killed.out" 2>&1 &
	pid=$!
	wait_journal_state "$root" member.promote running 60 || fail "n$i's join reaches member.promote"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	pass "n$i's join is killed while it waits to promote"
	journal_states "$i" >"$T/j"
	expect_in "$T/j" "^runtime.files done$" "n$i's journal: the manifest was written"
	expect_in "$T/j" "^member.promote running$" "n$i's journal: the promotion not done"
	[[ -e $root/etc/kubernetes/manifests/etcd.yaml ]] || fail "n$i has its manifest"
	pass "n$i has its manifest"
	members_summary 1 >"$T/m"
	expect_in "$T/m" "^(n$i|[0-9a-f]+) learner unstarted$" "n$i is a learner, not started (its kubelet is held)"
	kill -CONT "${NODE_STANDIN[$i]}"
}

# ---- after member add: a plain re-run finishes the join -------------------------
join_killed_after_add 2
run ep_node 2 join "$E" $(node_flags 2) --timeout 60s
expect_rc 0 "the next join on n2 finishes it"
expect_in "$T/out" "^\[journal\] Finishing the interrupted 'join' started " "and says it does"
expect_in "$T/out" "^\[promote\] Member 'n2' \([0-9a-f]+\) promoted to a voting member" "n2 promoted"
[[ ! -e ${NODE_ROOT[2]}/var/lib/etcdpilot/journal.json ]] || fail "the journal is gone"
pass "the journal is gone"
expect_members "n1 voter started
n2 voter started" "two voters, no stale member"

# ---- after member add: --rollback undoes it -------------------------------------
before=$(tree_digest "${NODE_ROOT[3]}/etc/kubernetes/pki")
join_killed_after_add 3
# a new join under another name does not finish the old one in its stead
jbefore=$(sha256sum <"${NODE_ROOT[3]}/var/lib/etcdpilot/journal.json")
run ep_node 3 join "$E" --name n9 --advertise-address "${NODE_ADDR[3]}" --etcd-version 3.4.23 \
	--key-type ecdsa-p256 --timeout 60s
expect_rc 2 "a join under another name while n3's join is interrupted is refused"
expect_in "$T/err" "an interrupted 'etcdpilot join' of member 'n3' \(https://${NODE_ADDR[3]}:2380\), started .*, is on this node, and this run names member 'n9'; nothing was changed: finish that one with 'etcdpilot join --resume' or undo it with 'etcdpilot join --rollback'" \
	"names both members and the two ways on"
expect_eq "$(sha256sum <"${NODE_ROOT[3]}/var/lib/etcdpilot/journal.json")" "$jbefore" "the journal is untouched"
# --rollback needs no ENDPOINT: the journal has it
run ep_node 3 join --rollback --timeout 60s
expect_rc 0 "join --rollback on n3 undoes it"
expect_in "$T/out" "^\[journal\] Undoing the interrupted 'join' started " "and says it does"
expect_in "$T/out" "Member [0-9a-f]+ removed from the cluster" "the learner is removed"
expect_members "n1 voter started
n2 voter started" "two voters again, no stale learner"
[[ ! -e ${NODE_ROOT[3]}/var/lib/etcdpilot/journal.json && ! -e ${NODE_ROOT[3]}/var/lib/etcd ]] ||
	fail "no journal, no data dir left on n3"
pass "no journal, no data dir left on n3"
expect_eq "$(tree_digest "${NODE_ROOT[3]}/etc/kubernetes/pki")" "$before" "n3's certificates are undone"

# ---- after the manifest: a plain re-run finishes the join -----------------------
join_killed_after_manifest 3
run ep_node 3 join "$E" $(node_flags 3) --timeout 60s
expect_rc 0 "the next join on n3 finishes it"
expect_in "$T/out" "^\[journal\] Finishing the interrupted 'join' started " "and says it does"
expect_in "$T/out" "^\[wait\] All 3 members are healthy" "three healthy members"
expect_members "n1 voter started
n2 voter started
n3 voter started" "three voters, no stale member"

# ---- after the manifest: --rollback undoes it -----------------------------------
join_killed_after_manifest 4
run ep_node 4 join "$E" $(node_flags 4) --rollback --timeout 60s
expect_rc 0 "join --rollback on n4 undoes it"
expect_in "$T/out" "Member [0-9a-f]+ (removed from the cluster|was already gone)" "the member is removed"
expect_members "n1 voter started
n2 voter started
n3 voter started" "three voters again, no stale member"
[[ ! -e ${NODE_ROOT[4]}/etc/kubernetes/manifests/etcd.yaml && ! -e ${NODE_ROOT[4]}/var/lib/etcd &&
	! -e ${NODE_ROOT[4]}/var/lib/etcdpilot/journal.json ]] || fail "no manifest, data dir or journal left on n4"
pass "no manifest, data dir or journal left on n4"
wait_for 30 standin_field_is "${NODE_ROOT[4]}" phase = Stopped || fail "n4's pod is stopped"
pass "n4's pod is stopped"

run ep_node 1 health --endpoints "$E"
expect_rc 0 "health: every member healthy"
expect_in "$T/out" "3 of 3 members healthy" "3 of 3"
