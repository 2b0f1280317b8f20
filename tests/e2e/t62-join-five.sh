#!/usr/bin/env bash
# t62: five members: init on n1, then n2..n5 join one after the other, each
# waiting out etcd's "unhealthy cluster" (every voter connected for 5 s) right
# after the one before it; five voters, every member healthy, each member's
# initial cluster holding every member that was there when it joined.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

cluster_switch t62 10.62.0
for i in 1 2 3 4 5; do node_add $i static-pod; done
E=https://${NODE_ADDR[1]}:2379

run ep_node 1 init $(node_flags 1) --timeout 60s
expect_rc 0 "init on n1"
for i in 2 3 4 5; do
	ca_copy 1 $i
	run ep_node $i join "$E" $(node_flags $i) --timeout 90s
	expect_rc 0 "n$i joins"
	expect_in "$T/out" "^\[member-add\] Added member 'n$i' \([0-9a-f]+\) as a learner: $i members now" "n$i added as member $i"
	expect_in "$T/out" "^\[wait\] All $i members are healthy" "$i members healthy"
	n=$(grep -o -- "--initial-cluster=[^ ]*" "${NODE_ROOT[$i]}/etc/kubernetes/manifests/etcd.yaml" | tr , '\n' | wc -l)
	expect_eq "$n" "$i" "n$i's initial cluster lists $i members"
	cp "$T/out" "$T/join$i.out"
done
# each join comes within etcd's 5 s of the one before: at least one is told so
# (not every one: a slow start may let the window pass)
n=$(cat "$T"/join[345].out | grep -c "^\[member\] etcd refused for now, trying again in [0-9]* ms: every voting member answers, but etcd takes no membership change until each has been connected for 5 s (one joined or restarted a moment ago)$")
((n >= 1)) || fail "a join right after another waits out etcd's 5 s rule, and says so"
pass "a join right after another waits out etcd's 5 s rule, and says so ($n of 3)"
members_summary 3 >"$T/m"
expect_eq "$(grep -c ' voter started$' "$T/m")" 5 "3: five voters"
run ep_node 5 health --endpoints "$E"
expect_rc 0 "health: every member healthy"
expect_in "$T/out" "5 of 5 members healthy" "5 of 5"
expect_in "$T/out" "quorum held" "quorum held"
