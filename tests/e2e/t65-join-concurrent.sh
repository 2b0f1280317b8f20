#!/usr/bin/env bash
# t65: two joins started at the same moment both end as voters.  etcd takes
# one learner at a time: the join that adds its learner first holds the
# slot, the other waits its turn with a message and does not fail.
#
#   round 1  n2 and n3 start together with their kubelet stand-ins held
#            (SIGSTOP): whichever adds its learner first cannot finish (its
#            etcd cannot start), so the other is seen waiting for the slot -
#            no timing assumption; then both kubelets go on;
#   round 2  n4 and n5 start together with nothing held: whatever the order,
#            both end as voters.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

cluster_switch t65 10.65.0
for i in 1 2 3 4 5; do node_add $i static-pod; done
E=https://${NODE_ADDR[1]}:2379

run ep_node 1 init $(node_flags 1) --timeout 60s
expect_rc 0 "init on n1"
for i in 2 3 4 5; do ca_copy 1 $i; done

# Start the joins of nodes A and B at the same moment; PIDS gets their pids
# (ip netns exec execs in place: $! is etcdpilot itself).
start_pair() {
	local i
	PIDS=()
	for i in "$@"; do
		ip netns exec "${NODE_NS[$i]}" "$EP" --root "${NODE_ROOT[$i]}" join "$E" $(node_flags "$i") \
			--timeout 120s >"$T/join$i.out" 2>"$T/join$i.err" &
		PIDS+=($!)
	done
}

# Wait for both, expecting exit 0 each
finish_pair() {
	local k i rc
	for k in 0 1; do
		i=$1
		shift
		wait "${PIDS[$k]}"
		rc=$?
		if ((rc != 0)); then
			cat "$T/join$i.out" "$T/join$i.err" >&2
			fail "n$i's join ends with 0 (got $rc)"
		fi
		pass "n$i's join ends with 0"
	done
}

waits_turn() { grep -Eq "waits its turn|waiting for its turn" "$T/join$1.out" "$T/join$1.err"; }

# ---- round 1: n2 and n3, the overlap held --------------------------------------------
kill -STOP "${NODE_STANDIN[2]}" "${NODE_STANDIN[3]}"
start_pair 2 3
waiter=
deadline=$((SECONDS + 60))
while [[ -z $waiter ]]; do
	for i in 2 3; do waits_turn $i && waiter=$i; done
	((SECONDS < deadline)) || fail "one of the two joins waits for the learner slot"
	[[ -n $waiter ]] || sleep 0.1
done
holder=$((waiter == 2 ? 3 : 2))
pass "n$waiter waits its turn while n$holder's learner holds the slot"
wait_journal_state "${NODE_ROOT[$holder]}" member.promote running 30 ||
	fail "n$holder waits to promote its learner"
pass "n$holder waits to promote its learner"
members_summary 1 >"$T/m"
expect_eq "$(grep -c learner "$T/m")" 1 "one learner at a time"
kill -CONT "${NODE_STANDIN[2]}" "${NODE_STANDIN[3]}"
finish_pair 2 3
expect_in "$T/join$waiter.out" "^\[promote\] Member 'n$waiter' \([0-9a-f]+\) promoted to a voting member" \
	"the waiting join promotes its member too"
members_summary 1 >"$T/m"
expect_eq "$(cat "$T/m")" "n1 voter started
n2 voter started
n3 voter started" "three voters"

# ---- round 2: n4 and n5, nothing held ---------------------------------------------------
start_pair 4 5
finish_pair 4 5
members_summary 1 >"$T/m"
expect_eq "$(cat "$T/m")" "n1 voter started
n2 voter started
n3 voter started
n4 voter started
n5 voter started" "five voters"
run ep_node 1 health --endpoints "$E"
expect_rc 0 "health: every member healthy"
expect_in "$T/out" "5 of 5 members healthy" "5 of 5"
for i in 2 3 4 5; do
	[[ ! -e ${NODE_ROOT[$i]}/var/lib/etcdpilot/journal.json ]] || fail "n$i: no journal left"
done
pass "no journal left on the joiners"
