#!/usr/bin/env bash
# t63: a voting member that is down blocks every membership change in etcd
# 3.4: join refuses before it adds anything, naming the member and what to
# do, and leaves the node and the cluster as they were; join --remove-dead
# removes it first and the cluster has three voters again.  member remove
# --dead: refused for a member that answers, refused when the remaining
# voters would lack a quorum (as is join --remove-dead then), done once they
# have it.  A rebuilt node whose old member is still listed: join is
# refused and names --replace, which is refused for a member that runs and
# replaces the one that does not.  A cluster that has lost its quorum
# removes nothing.  A voter added by 'member add' is taken by its join.
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
expect_in "$T/out" "^\[cluster-check\] Cluster [0-9a-f]+: 3 members \(3 voting\), every voting member answers but n3 \([0-9a-f]+\), which --remove-dead removes first$" \
	"the summary does not claim n3 answers"
expect_in "$T/out" "^\[cluster-check\] Member [0-9a-f]+ removed from the cluster" "removes n3"
expect_in "$T/out" "^\[wait\] All 3 members are healthy" "three healthy members"
members_summary 1 >"$T/m"
expect_eq "$(cat "$T/m")" "n1 voter started
n2 voter started
n4 voter started" "4: three voters again (n1, n2, n4)"
run ep_node 5 join "$E" $(node_flags 5) --remove-dead n2 --timeout 30s
expect_rc 1 "join --remove-dead of a member that answers is refused"
expect_in "$T/err" "--remove-dead: member n2 \([0-9a-f]+\) answers at https://${NODE_ADDR[2]}:2379: it is not dead; nothing was changed: drop --remove-dead, or run 'etcdpilot reset' on its node" \
	"says n2 answers, in one sentence"

# --- n4's node rebuilt while its old member is still in the cluster ---------
# Its kubelet stops (and the pod with it), its disk is wiped, the CA copied
# back, the kubelet started again: a reinstalled node under the same name and
# address.  Its join is refused naming the old member and --replace; --replace
# of a member that runs (n2, from n5) is refused and changes nothing; join
# --replace removes the old n4 and joins: three voters, n4 under a new ID.
old4=$(ctl_json 1 | python3 -c 'import json, sys
print(*[m["id"] for m in json.load(sys.stdin)["members"] if m["name"] == "n4"])')
[[ $old4 =~ ^[0-9a-f]+$ ]] || fail "n4's member ID (got '$old4')"
standin_stop "${NODE_STANDIN[4]}"
rm -rf "${NODE_ROOT[4]}"
ca_copy 1 4
standin_start "${NODE_ROOT[4]}" "${NODE_NS[4]}" n4
NODE_STANDIN[4]=$STANDIN_PID
members_summary 1 >"$T/r0"
run ep_node 4 join "$E" $(node_flags 4) --timeout 60s
expect_rc 2 "join of the rebuilt n4 under its old name is refused"
expect_in "$T/err" "a member named 'n4' already exists and has started \($old4\), but does not answer: .*https://${NODE_ADDR[4]}:2379: .*; if its node is gone for good or was rebuilt as this one, remove it first \('etcdpilot member remove --dead 0x$old4'\); or run join again with --replace to remove it first" \
	"names the old member, that it does not answer, and --replace"
run ep_node 5 join "$E" --name n2 --advertise-address "${NODE_ADDR[5]}" --etcd-version 3.4.23 \
	--key-type ecdsa-p256 --mode static-pod --replace --timeout 60s
expect_rc 1 "join --replace of a member that runs (n2) is refused"
expect_in "$T/err" "--replace: member 'n2' \([0-9a-f]+\) answers at https://${NODE_ADDR[2]}:2379: it is running, and --replace takes the place only of a member that is down" \
	"says n2 runs, so it is not replaced"
members_summary 1 >"$T/r1"
cmp -s "$T/r0" "$T/r1" || fail "the refused joins changed nothing in the cluster"
pass "the refused joins changed nothing in the cluster"
[[ ! -e ${NODE_ROOT[5]}/var/lib/etcd && ! -e ${NODE_ROOT[5]}/etc/kubernetes/manifests/etcd.yaml ]] ||
	fail "n5 has no data dir and no manifest"
pass "n5 has no data dir and no manifest"
run ep_node 4 join "$E" $(node_flags 4) --replace --timeout 90s
expect_rc 0 "join --replace of the rebuilt n4"
expect_in "$T/out" "^\[cluster-check\] Cluster [0-9a-f]+: 3 members \(3 voting\), every voting member answers but n4 \($old4\), which --replace removes first$" \
	"says which voter does not answer, and why the join goes on"
expect_in "$T/out" "^\[cluster-check\] Member $old4 removed from the cluster" "removes the old n4"
expect_in "$T/out" "^\[wait\] All 3 members are healthy" "three healthy members"
members_summary 1 >"$T/m"
expect_eq "$(cat "$T/m")" "n1 voter started
n2 voter started
n4 voter started" "three voters again (n1, n2, the new n4)"
new4=$(ctl_json 1 | python3 -c 'import json, sys
print(*[m["id"] for m in json.load(sys.stdin)["members"] if m["name"] == "n4"])')
[[ $new4 =~ ^[0-9a-f]+$ && $new4 != "$old4" ]] || fail "n4 has a new member ID (old $old4, new '$new4')"
pass "n4 has a new member ID ($old4 -> $new4)"

# member remove --dead
run ep_node 1 member remove --dead n2 --endpoints "$E" --timeout 10s
expect_rc 1 "member remove --dead of a member that answers is refused"
expect_in "$T/err" "answers at .*: it is not dead" "says it answers"
standin_stop "${NODE_STANDIN[4]}"
standin_stop "${NODE_STANDIN[2]}"
run ep_node 1 member remove --dead n4 --endpoints "$E" --timeout 10s
expect_rc 1 "member remove --dead n4 while n2 is down too is refused"
expect_in "$T/err" "the cluster has lost its quorum: only 1 of its 3 voters is started \(down: n[24] \([0-9a-f]+\), n[24] \([0-9a-f]+\)\), so it commits no membership change, not even the removal of member 'n4'" \
	"by the quorum guard: the cluster has no quorum now"
run ep_node 5 join "$E" $(node_flags 5) --remove-dead n4 --timeout 30s
expect_rc 1 "join --remove-dead n4 then is refused too"
expect_in "$T/err" "the cluster has lost its quorum" "by the same guard"
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

# --- a voter added with 'member add' (never started) is taken by its join ---
# It does not answer, but it is this node's own: the join neither refuses
# it as a dead voter nor adds another; it starts it.
run ep_node 1 member add n5 "https://${NODE_ADDR[5]}:2380" --endpoints "$E" --timeout 30s
expect_rc 0 "member add n5 (a voter)"
run ep_node 5 join "$E" $(node_flags 5) --timeout 90s
expect_rc 0 "n5 joins and takes the never-started voter"
expect_in "$T/out" "^\[cluster-check\] Cluster [0-9a-f]+: 3 members \(3 voting\), every voting member answers but (n5|0x[0-9a-f]+) \([0-9a-f]+\), never started, which this join takes$" \
	"the cluster check says the voter down is the one it takes"
expect_in "$T/out" "^\[member-add\] Took the never-started member 'n5' \([0-9a-f]+\) as a voter: 3 members now$" "takes it, as a voter"
expect_in "$T/out" "^\[wait\] All 3 members are healthy" "three healthy members"
members_summary 1 >"$T/m4"
expect_eq "$(cat "$T/m4")" "n1 voter started
n2 voter started
n5 voter started" "n1, n2 and n5 are voters"
