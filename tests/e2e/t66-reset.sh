#!/usr/bin/env bash
# t66: etcdpilot reset on four static-pod nodes (init + three joins):
#   - a follower: its member is removed, the cluster shrinks to three and
#     stays healthy; the node's manifest is gone, the pod stopped, the data
#     dir moved to a backup, its leaf certificates gone, the CA kept;
#   - the leader: leadership is handed away first, then the same;
#   - a member already removed from the cluster ('member remove' from
#     another node) whose node files are half gone (data dir and server and
#     peer pairs deleted by hand): reset says so and still cleans up;
#   - refused, nothing changed: when the removal would cost the quorum (the
#     other voter hangs); when the cluster cannot be asked (the client key
#     gone); a manifest that cannot be read (exit 2, the way by hand);
#   - the last voter (a learner beside it): not removed (the cluster ends
#     with it), cleaned up, --delete-data and --remove-ca leave no data and
#     no CA.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

cluster_switch t66 10.66.0
for i in 1 2 3 4; do node_add $i static-pod; done

run ep_node 1 init $(node_flags 1) --timeout 60s
expect_rc 0 "init on n1"
for i in 2 3 4; do
	ca_copy 1 $i
	run ep_node $i join "https://${NODE_ADDR[1]}:2379" $(node_flags $i) --timeout 60s
	expect_rc 0 "n$i joins"
done

# The node index of the leader, asked through node I
leader_of() {
	ep_node "$1" health -o json --endpoints "https://${NODE_ADDR[$1]}:2379" | python3 -c '
import json, sys
for m in json.load(sys.stdin)["members"]:
    if m.get("is_leader"): print(m["name"][1:])'
}

# After a reset of node I: nothing of its member left on it
expect_node_clean() {
	local i=$1 r=${NODE_ROOT[$1]}
	[[ ! -e $r/etc/kubernetes/manifests/etcd.yaml ]] || fail "n$i: the manifest is gone"
	pass "n$i: the manifest is gone"
	wait_for 30 standin_field_is "$r" phase = Stopped || fail "n$i: the pod is stopped"
	pass "n$i: the pod is stopped"
	[[ ! -e $r/var/lib/etcd ]] || fail "n$i: no data dir left in place"
	pass "n$i: no data dir left in place"
	local left
	left=$(cd "$r/etc/kubernetes/pki/etcd" 2>/dev/null && ls | grep -Ev '^ca\.(crt|key)$' | tr '\n' ' ')
	expect_eq "$left" "" "n$i: no leaf certificate left"
	[[ ! -e $r/var/lib/etcdpilot/journal.json ]] || fail "n$i: no journal left"
	pass "n$i: no journal left"
}

# ---- a follower -------------------------------------------------------------------
L=$(leader_of 1)
[[ $L =~ ^[1-4]$ ]] || fail "a leader among n1..n4 (got '$L')"
F=4
[[ $L == 4 ]] && F=3
run ep_node $F reset --timeout 60s
expect_rc 0 "reset of follower n$F"
expect_in "$T/out" "^\[preflight\] This node runs member 'n$F' \(peer URL https://${NODE_ADDR[$F]}:2380" \
	"finds its member by the manifest's peer URL"
expect_in "$T/out" "Member [0-9a-f]+ removed from the cluster" "removes it"
expect_node_clean $F
ls -d "${NODE_ROOT[$F]}"/var/lib/etcd-backup-* >/dev/null 2>&1 || fail "n$F: the data dir was backed up"
pass "n$F: the data dir was backed up"
[[ -e ${NODE_ROOT[$F]}/etc/kubernetes/pki/etcd/ca.crt && -e ${NODE_ROOT[$F]}/etc/kubernetes/pki/etcd/ca.key ]] ||
	fail "n$F: the CA is kept"
pass "n$F: the CA is kept"
K=$(for i in 1 2 3 4; do [[ $i != "$F" ]] && echo $i; done)
members_summary $L >"$T/m"
expect_eq "$(cat "$T/m")" "$(for i in $K; do echo "n$i voter started"; done)" "three voters left"
run ep_node $L health --endpoints "https://${NODE_ADDR[$L]}:2379"
expect_rc 0 "the cluster of three is healthy"
expect_in "$T/out" "3 of 3 members healthy" "3 of 3"

# ---- the leader --------------------------------------------------------------------
run ep_node $L reset --timeout 60s
expect_rc 0 "reset of the leader n$L"
expect_in "$T/out" "Moved leadership from [0-9a-f]+ to [0-9a-f]+" "leadership is moved first"
expect_in "$T/out" "Member [0-9a-f]+ removed from the cluster" "then the member removed"
expect_node_clean $L
K=$(for i in $K; do [[ $i != "$L" ]] && echo $i; done)
A=$(echo $K | cut -d' ' -f1)
B=$(echo $K | cut -d' ' -f2)
members_summary $A >"$T/m"
expect_eq "$(cat "$T/m")" "n$A voter started
n$B voter started" "two voters left"
run ep_node $A health --endpoints "https://${NODE_ADDR[$A]}:2379"
expect_rc 0 "the cluster of two is healthy"

# ---- refusals: nothing changed --------------------------------------------------------
# n$B hangs (SIGSTOP): one of two voters started, the cluster has no quorum
# and can commit no removal of n$A.
pidB=$(standin_field "${NODE_ROOT[$B]}" pid)
[[ $pidB =~ ^[0-9]+$ ]] || fail "n$B's etcd pid (got '$pidB')"
kill -STOP "$pidB"
on_exit "kill -CONT $pidB 2>/dev/null"
beforeA=$(tree_digest "${NODE_ROOT[$A]}/etc")
run ep_node $A reset --timeout 60s
expect_rc 1 "reset of n$A while n$B hangs is refused"
expect_in "$T/err" "\[remove-member\] the cluster has lost its quorum: only 1 of its 2 voters is started \(down: n$B \([0-9a-f]+\)\), so it commits no membership change, not even the removal of member 'n$A' \([0-9a-f]+\); bring enough of them back first; .*; nothing was changed$" \
	"by the quorum guard, naming n$B"
expect_eq "$(tree_digest "${NODE_ROOT[$A]}/etc")" "$beforeA" "n$A's files unchanged"
kill -CONT "$pidB"
wait_for 30 ep_node $A health --endpoints "https://${NODE_ADDR[$A]}:2379" || fail "n$B is back"
pass "n$A and n$B healthy again"

# n$A's client pair unreadable: the cluster cannot be asked, so n$A is not
# stopped unasked (it may be a voter the cluster needs).
key=${NODE_ROOT[$A]}/etc/kubernetes/pki/etcd/healthcheck-client.key
mv "$key" "$key.aside"
beforeA=$(tree_digest "${NODE_ROOT[$A]}/etc")
run ep_node $A reset --timeout 60s
expect_rc 1 "reset of n$A without its client key is refused"
expect_in "$T/err" "\[remove-member\] the cluster cannot be asked about member 'n$A' \(https://${NODE_ADDR[$A]}:2380\): .*healthcheck-client.key.*; nothing was changed: reset removes the member while it still runs, so that the cluster keeps its quorum.  Give --cacert, --cert and --key of a client the cluster trusts; or, if the cluster is gone or the member removed already, leave the removal out with '--skip-phases remove-member'$" \
	"says the cluster cannot be asked, and the two ways on"
expect_eq "$(tree_digest "${NODE_ROOT[$A]}/etc")" "$beforeA" "n$A's files unchanged"
mv "$key.aside" "$key"

# A manifest that cannot be read (on n$F, reset already): refused, exit 2,
# with the way by hand; once it is deleted, reset cleans what is left.
printf 'apiVersion: v1\nkind: Pod\nspec:\n\tcontainers: []\n' >"${NODE_ROOT[$F]}/etc/kubernetes/manifests/etcd.yaml"
beforeF=$(tree_digest "${NODE_ROOT[$F]}")
run ep_node $F reset --timeout 30s
expect_rc 2 "reset with a manifest that cannot be read is refused"
expect_in "$T/err" "\[preflight\] this node's etcd member cannot be read back: .*etcd.yaml:4:1: .*; reset takes the member out of its cluster by the peer URL that file gives, and stops it through it, so nothing was changed.  Fix the file; or reset by hand: remove this node's member on a member \('etcdpilot member remove NAME\|ID'\), delete the manifest \(the kubelet then stops the pod\), then run 'etcdpilot reset' again to clean up what is left$" \
	"names the file and line, and the way by hand"
expect_eq "$(tree_digest "${NODE_ROOT[$F]}")" "$beforeF" "n$F unchanged"
rm "${NODE_ROOT[$F]}/etc/kubernetes/manifests/etcd.yaml"
run ep_node $F reset --timeout 30s
expect_rc 0 "reset once the manifest is deleted"
expect_in "$T/out" "No etcd member is installed on this node" "finds nothing installed"

# ---- a member already gone, its node files half gone ------------------------------
run ep_node $A member remove "n$B" --endpoints "https://${NODE_ADDR[$A]}:2379"
expect_rc 0 "n$B removed from the cluster through n$A"
rm -rf "${NODE_ROOT[$B]}/var/lib/etcd" "${NODE_ROOT[$B]}"/etc/kubernetes/pki/etcd/{server,peer}.*
run ep_node $B reset --timeout 60s
expect_rc 0 "reset of n$B, already removed, files half gone"
expect_in "$T/out" "^\[remove-member\] Member 'n$B' \(https://${NODE_ADDR[$B]}:2380\) is not in cluster .* any more" "says the member is gone already"
expect_in "$T/out" "member 'n$B' was no longer in its cluster" "and in its summary"
expect_node_clean $B
members_summary $A >"$T/m"
expect_eq "$(cat "$T/m")" "n$A voter started" "one voter left"

# ---- the last member (the last voter, with a learner never started) ---------------
run ep_node $A member add n9 "https://${SW_BASE}.99:2380" --learner --endpoints "https://${NODE_ADDR[$A]}:2379"
expect_rc 0 "a learner added beside the last voter"
run ep_node $A reset --delete-data --remove-ca --timeout 60s
expect_rc 0 "reset of the last voter n$A"
expect_in "$T/out" "Member 'n$A' is the last voting member of cluster [0-9a-f]+: it is not removed \(the cluster ends with it, and its learners with it\)" \
	"says it is the last voting member"
expect_node_clean $A
ls -d "${NODE_ROOT[$A]}"/var/lib/etcd-backup-* >/dev/null 2>&1 && fail "n$A: --delete-data keeps no backup"
pass "n$A: --delete-data keeps no backup"
[[ ! -e ${NODE_ROOT[$A]}/etc/kubernetes/pki/etcd/ca.crt && ! -e ${NODE_ROOT[$A]}/etc/kubernetes/pki/etcd/ca.key ]] ||
	fail "n$A: --remove-ca removes the CA"
pass "n$A: --remove-ca removes the CA"

# a second reset finds nothing to do
run ep_node $A reset --timeout 30s
expect_rc 0 "a second reset of n$A"
expect_in "$T/out" "No etcd member is installed on this node" "finds nothing installed"
