#!/usr/bin/env bash
# t68: t64's kills in systemd mode (hack/systemctl-standin as systemd): a
# join killed with SIGKILL is finished by the next plain run or undone by
# --rollback, and the member list never keeps a stale member.
#
#   after member add   strace kills the joiner at its first mkdirat under
#                      /var/lib (the data dir's): the learner is in the
#                      cluster, never started; no unit yet;
#   after the unit     a poller (every 5 ms) kills the joiner the moment its
#                      journal shows 'systemctl enable --now etcd.service'
#                      done: the unit is written and running, the learner
#                      being promoted (or just promoted: both are points a
#                      kill can hit, and the journal says which).
#
# n2: after the unit, finished by a re-run; n3: after the unit, undone by
# --rollback (unit stopped and gone, data dir gone); n4: after member add,
# undone by --rollback; n3 then joins for good.  Three voters, all
# healthy, at the end.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

command -v strace >/dev/null || fail "strace is needed (it kills the joiner at a system call)"

cluster_switch t68 10.68.0
for i in 1 2 3 4; do node_add $i systemd; done
E=https://${NODE_ADDR[1]}:2379

run ep_node 1 init $(node_flags 1) --timeout 60s
expect_rc 0 "init --mode systemd on n1"
for i in 2 3 4; do ca_copy 1 $i; done

SC() { "$SYSTEMCTL_STANDIN" --root "${NODE_ROOT[$1]}" "${@:2}" 2>&1; }
journal_states() {
	python3 -c 'import json,sys
for a in json.load(open(sys.argv[1]))["actions"]: print(a["type"], a["state"])' \
		"${NODE_ROOT[$1]}/var/lib/etcdpilot/journal.json"
}
expect_members() {
	members_summary 1 >"$T/m"
	expect_eq "$(cat "$T/m")" "$1" "$2"
}

# Join node I; SIGKILL it once its journal shows systemd.enable-now done.
join_killed_after_unit() {
	local i=$1 root=${NODE_ROOT[$1]} pid
	ip netns exec "${NODE_NS[$i]}" "$EP" --root "$root" join "$E" $(node_flags "$i") \
		--timeout 60s >"$T/killed.out" 2>&1 &
	pid=$!
	python3 - "$root/var/lib/etcdpilot/journal.json" "$pid" <<'PY' || { cat "$T/killed.out"; fail "n$i's join reaches systemd.enable-now"; }
import json, os, signal, sys, time
path, pid, end = sys.argv[1], int(sys.argv[2]), time.time() + 60
while time.time() < end:
    try:
        d = json.load(open(path))
    except (OSError, ValueError):
        time.sleep(0.005)
        continue
    if any(a["type"] == "systemd.enable-now" and a["state"] == "done" for a in d["actions"]):
        os.kill(pid, signal.SIGKILL)
        sys.exit(0)
    time.sleep(0.005)
sys.exit(1)
PY
	wait "$pid" 2>/dev/null
	expect_eq "$?" 137 "n$i's join is killed (SIGKILL) after its unit started"
	journal_states "$i" >"$T/j"
	expect_in "$T/j" "^runtime.files done$" "n$i's journal: the unit and its environment were written"
	expect_in "$T/j" "^systemd.enable-now done$" "n$i's journal: etcd.service started"
	expect_in "$T/j" "^wait.cluster (pending|running)$" "n$i's journal: the join not finished"
	say "n$i killed at: $(grep -E '^(member.promote|wait.cluster) ' "$T/j" | tr '\n' ' ')"
	expect_eq "$(SC "$i" is-active etcd.service)" active "n$i: etcd.service active"
}

# ---- after the unit: a plain re-run finishes the join ----------------------------
join_killed_after_unit 2
run ep_node 2 join "$E" $(node_flags 2) --timeout 60s
expect_rc 0 "the next join on n2 finishes it"
expect_in "$T/out" "^\[journal\] Finishing the interrupted 'join' started " "and says it does"
[[ ! -e ${NODE_ROOT[2]}/var/lib/etcdpilot/journal.json ]] || fail "n2: the journal is gone"
pass "n2: the journal is gone"
expect_members "n1 voter started
n2 voter started" "two voters, no stale member"

# ---- after the unit: --rollback undoes it ----------------------------------------
join_killed_after_unit 3
run ep_node 3 join "$E" $(node_flags 3) --rollback --timeout 60s
expect_rc 0 "join --rollback on n3 undoes it"
expect_in "$T/out" "^\[journal\] Undoing the interrupted 'join' started " "and says it does"
expect_in "$T/out" "Member [0-9a-f]+ (removed from the cluster|was already gone)" "the member is removed"
expect_members "n1 voter started
n2 voter started" "two voters again, no stale member"
expect_eq "$(SC 3 is-active etcd.service)" inactive "n3: etcd.service stopped"
[[ ! -e ${NODE_ROOT[3]}/etc/systemd/system/etcd.service && ! -e ${NODE_ROOT[3]}/etc/etcd/etcd.env &&
	! -e ${NODE_ROOT[3]}/var/lib/etcd && ! -e ${NODE_ROOT[3]}/var/lib/etcdpilot/journal.json ]] ||
	fail "n3: no unit, env file, data dir or journal left"
pass "n3: no unit, env file, data dir or journal left"
run ep_node 1 health --endpoints "$E"
expect_rc 0 "health: both members healthy"

# ---- after member add: --rollback undoes it --------------------------------------
root=${NODE_ROOT[4]}
mkdir -p "$root/var/lib/etcdpilot"
run on_node 4 strace -qq -o /dev/null -P "$root/var/lib" -e trace=mkdirat \
	-e inject=mkdirat:signal=KILL "$EP" --root "$root" join "$E" $(node_flags 4) --timeout 60s
expect_rc 137 "n4's join is killed (SIGKILL) after member add"
journal_states 4 >"$T/j"
expect_in "$T/j" "^member.add done$" "n4's journal: the member was added"
[[ ! -e $root/etc/systemd/system/etcd.service ]] || fail "n4 has no unit yet"
pass "n4 has no unit yet"
members_summary 1 >"$T/m"
expect_in "$T/m" "^(n4|[0-9a-f]+) learner unstarted$" "the cluster has n4's learner, never started"
run ep_node 4 join "$E" $(node_flags 4) --rollback --timeout 60s
expect_rc 0 "join --rollback on n4 undoes it"
expect_in "$T/out" "Member [0-9a-f]+ removed from the cluster" "the learner is removed"
expect_members "n1 voter started
n2 voter started" "two voters again, no stale learner"
[[ ! -e $root/var/lib/etcd && ! -e $root/var/lib/etcdpilot/journal.json ]] ||
	fail "n4: no data dir, no journal left"
pass "n4: no data dir, no journal left"

# ---- n3 joins for good -----------------------------------------------------------
run ep_node 3 join "$E" $(node_flags 3) --timeout 60s
expect_rc 0 "n3 joins after its rollback"
expect_members "n1 voter started
n2 voter started
n3 voter started" "three voters"
run ep_node 1 health --endpoints "$E"
expect_rc 0 "health: every member healthy"
expect_in "$T/out" "3 of 3 members healthy" "3 of 3"
