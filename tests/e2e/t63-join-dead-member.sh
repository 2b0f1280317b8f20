#!/usr/bin/env bash
# t63: a voting member that is down blocks every membership change in etcd
# 3.4: join refuses before it adds anything, naming the member and what to
# do, and leaves the node and the cluster as they were; join --remove-dead
# removes it first and the cluster has three voters again.  member remove
# --dead: refused for a member that answers, refused when the remaining
# voters would lack a quorum (as is join --remove-dead then), done once they
# have it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

cluster_switch t63 10.63.0
for i in 1 2 3 4 5; do node_add $i static-pod; done
E=https://${NODE_ADDR[1]}:2379

run ep_node 1 init $(node_flags 1) --timeout 60s
expect_rc 0 "init on n1"
for i in 2 3 4 5; do ca_copy 1 $i; done
for i in 2 3; do
	run ep_node $i join "$E" $(node_flags $i) --timeout 90s
	expect_rc 0 "n$i joins"
done

# n3 goes down for good: its kubelet stand-in stops, and with it the pod.
standin_stop "${NODE_STANDIN[3]}"
members_summary 1 >"$T/m0"
before=$(tree_digest "${NODE_ROOT[4]}/etc")
run ep_node 4 join "$E" $(node_flags 4) --timeout 60s
expect_rc 1 "join while n3 is down is refused"
expect_in "$T/err" "a voting member does not answer: 'n3' \([0-9a-f]+\) at https://${NODE_ADDR[3]}:2379: " "names n3 and its URL"
expect_in "$T/err" "etcd does not say since when" "says whether it can tell since when"
expect_in "$T/err" "refuse every membership change, learners included, while a voting member is unreachable" "says etcd would refuse"
expect_in "$T/err" "'--remove-dead n3'.*'etcdpilot member remove --dead n3'" "and what to do"
expect_in "$T/err" "what this run had changed was undone" "the certificates it wrote are undone"
expect_eq "$(tree_digest "${NODE_ROOT[4]}/etc")" "$before" "n4's files are as they were"
[[ ! -e ${NODE_ROOT[4]}/var/lib/etcd && ! -e ${NODE_ROOT[4]}/var/lib/etcdpilot ]] || fail "no data dir, no journal"
pass "no data dir, no journal left on n4"
members_summary 1 >"$T/m1"
cmp -s "$T/m0" "$T/m1" || fail "the cluster is unchanged"
pass "the cluster is unchanged"

run ep_node 4 join "$E" $(node_flags 4) --remove-dead n3 --timeout 90s
expect_rc 0 "join --remove-dead n3"
expect_in "$T/out" "^\[cluster-check\] --remove-dead: member 'n3' .* will be removed first" "announces the removal"
expect_in "$T/out" "^\[cluster-check\] Member [0-9a-f]+ removed from the cluster" "removes n3"
expect_in "$T/out" "^\[wait\] All 3 members are healthy" "three healthy members"
members_summary 1 >"$T/m"
expect_eq "$(cat "$T/m")" "n1 voter started
n2 voter started
n4 voter started" "4: three voters again (n1, n2, n4)"

# member remove --dead
run ep_node 1 member remove --dead n2 --endpoints "$E" --timeout 10s
expect_rc 1 "member remove --dead of a member that answers is refused"
expect_in "$T/err" "answers at .*: it is not dead" "says it answers"
standin_stop "${NODE_STANDIN[4]}"
standin_stop "${NODE_STANDIN[2]}"
run ep_node 1 member remove --dead n4 --endpoints "$E" --timeout 10s
expect_rc 1 "member remove --dead n4 while n2 is down too is refused"
expect_in "$T/err" "would leave the cluster without quorum" "by the quorum guard"
run ep_node 5 join "$E" $(node_flags 5) --remove-dead n4 --timeout 30s
expect_rc 1 "join --remove-dead n4 then is refused too"
expect_in "$T/err" "would leave the cluster without quorum" "by the same guard"
members_summary 1 >"$T/m2"
cmp -s "$T/m" "$T/m2" || fail "the refusals changed nothing"
pass "the refusals changed nothing"
standin_start "${NODE_ROOT[2]}" "${NODE_NS[2]}" n2
wait_for 60 ep_node 1 member list --endpoints "https://${NODE_ADDR[2]}:2379" ||
	fail "n2 answers again"
run ep_node 1 member remove --dead n4 --endpoints "$E" --timeout 30s
expect_rc 0 "member remove --dead n4 once n2 is back"
members_summary 1 >"$T/m3"
expect_eq "$(cat "$T/m3")" "n1 voter started
n2 voter started" "n1 and n2 are left"
