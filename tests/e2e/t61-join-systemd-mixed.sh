#!/usr/bin/env bash
# t61: etcdpilot join in systemd mode (hack/systemctl-standin as systemd) and
# in a mixed cluster, each node its own network namespace on one switch:
#   A  n1 init --mode systemd, n2 and n3 join --mode systemd: three voters;
#   B  n4 init --mode systemd, n5 and n6 join as static pods (kubelet
#      stand-ins): three voters;
# every member healthy in both; the units and environments written by join
# start an existing cluster.  Reset of a systemd member (unit stopped,
# disabled and removed, member gone), then its node joins again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

cluster_switch t61 10.61.0
for i in 1 2 3 4; do node_add $i systemd; done
node_add 5 static-pod
node_add 6 static-pod

for c in "1 2 3" "4 5 6"; do
	set -- $c
	first=$1 second=$2 third=$3
	E=https://${NODE_ADDR[$first]}:2379
	run ep_node "$first" init $(node_flags "$first") --timeout 60s
	expect_rc 0 "init --mode ${NODE_MODE[$first]} on n$first"
	if ((first == 1)); then
		run ep_node 1 certs export-bundle "$T/bundle"
		expect_rc 0 "export-bundle on n1"
		expect_in "$T/out" "^	etcdpilot join $E --mode systemd --ca-bundle $T/bundle --certificate-key [0-9a-f]{64} --name <node name> --advertise-address <node IP> --etcd-version 3.4.23$" \
			"it prints the join command for a member run by systemd"
	fi
	shift
	for i in "$@"; do
		ca_copy "$first" "$i"
		run ep_node "$i" join "$E" $(node_flags "$i") --timeout 90s
		expect_rc 0 "n$i joins (--mode ${NODE_MODE[$i]})"
		expect_in "$T/out" "^\[promote\] Member 'n$i' \([0-9a-f]+\) promoted to a voting member" "n$i promoted"
		expect_in "$T/out" "^\[wait\] All [0-9]+ members are healthy" "every member healthy after n$i"
		if [[ ${NODE_MODE[$i]} == systemd ]]; then
			expect_in "$T/out" "^\[start\] Run systemctl enable --now etcd.service" "n$i: etcd started through systemd"
			env=${NODE_ROOT[$i]}/etc/etcd/etcd.env
			grep -q '^ETCD_INITIAL_CLUSTER_STATE=existing$' "$env" || fail "n$i's etcd.env starts an existing cluster"
			grep -q "^ETCD_INITIAL_CLUSTER=.*n$first=https://${NODE_ADDR[$first]}:2380" "$env" ||
				fail "n$i's etcd.env names n$first in the initial cluster"
			pass "n$i's etcd.env: ETCD_INITIAL_CLUSTER with n$first, state existing"
			[[ $(stat -c %a "$env") == 640 ]] || fail "etcd.env mode 0640"
		else
			grep -q -- "--initial-cluster-state=existing" "${NODE_ROOT[$i]}/etc/kubernetes/manifests/etcd.yaml" ||
				fail "n$i's manifest starts an existing cluster"
			pass "n$i's manifest starts an existing cluster"
		fi
	done
	members_summary "$first" >"$T/m"
	expect_eq "$(cat "$T/m")" "n$first voter started
n$second voter started
n$third voter started" "three voters: n$first, n$second, n$third"
	run ep_node "$first" health --endpoints "$E"
	expect_rc 0 "health of the cluster of n$first: every member healthy"
	expect_in "$T/out" "3 of 3 members healthy" "3 of 3"
done
"$SYSTEMCTL_STANDIN" --root "${NODE_ROOT[2]}" is-active etcd.service >"$T/state"
expect_eq "$(cat "$T/state")" active "n2's etcd.service is active"
"$SYSTEMCTL_STANDIN" --root "${NODE_ROOT[2]}" is-enabled etcd.service >"$T/state"
expect_eq "$(cat "$T/state")" enabled "and enabled"

# --- reset of a member run by systemd, then the same node joins again -------
# The unit is stopped and disabled, the member removed, the data dir moved to
# a backup, the leaf certificates removed, the CA kept; the cluster shrinks
# to two healthy voters, and a new join of n2 makes three again.
before2=$(tree_digest "${NODE_ROOT[2]}/etc")
run ep_node 2 reset --mode static-pod --timeout 60s
expect_rc 2 "reset --mode static-pod of a node whose member is a unit is refused"
expect_in "$T/err" "--mode static-pod: this node has no etcd static pod manifest, but it has an etcd unit; nothing was changed" \
	"says what the node has"
run env -u ETCDPILOT_SYSTEMCTL ip netns exec "${NODE_NS[2]}" "$EP" --root "${NODE_ROOT[2]}" reset --timeout 60s
expect_rc 2 "reset under --root with no systemctl named is refused (never the host's)"
expect_in "$T/err" "--root '${NODE_ROOT[2]}' needs the systemctl named" "says a systemctl must be named"
expect_eq "$(tree_digest "${NODE_ROOT[2]}/etc")" "$before2" "n2's files unchanged by both"
"$SYSTEMCTL_STANDIN" --root "${NODE_ROOT[2]}" is-active etcd.service >"$T/state"
expect_eq "$(cat "$T/state")" active "n2's etcd.service still active"
run ep_node 2 reset --timeout 60s
expect_rc 0 "reset of n2 (systemd)"
expect_in "$T/out" "member 'n2' \([0-9a-f]+\) was removed from cluster" "n2's member is removed"
"$SYSTEMCTL_STANDIN" --root "${NODE_ROOT[2]}" is-active etcd.service >"$T/state"
expect_eq "$(cat "$T/state")" inactive "n2's etcd.service is stopped"
"$SYSTEMCTL_STANDIN" --root "${NODE_ROOT[2]}" is-enabled etcd.service >"$T/state" 2>&1
expect_not_in "$T/state" "^enabled$" "and not enabled"
[[ ! -e ${NODE_ROOT[2]}/etc/systemd/system/etcd.service && ! -e ${NODE_ROOT[2]}/etc/etcd/etcd.env ]] ||
	fail "n2's unit and environment file are removed"
pass "n2's unit and environment file are removed"
[[ ! -e ${NODE_ROOT[2]}/var/lib/etcd ]] || fail "n2's data dir is moved away"
ls -d "${NODE_ROOT[2]}"/var/lib/etcd-backup-* >/dev/null 2>&1 || fail "n2's data dir is kept as a backup"
pass "n2's data dir is moved to a timestamped backup"
[[ ! -e ${NODE_ROOT[2]}/etc/kubernetes/pki/etcd/server.crt && -e ${NODE_ROOT[2]}/etc/kubernetes/pki/etcd/ca.crt ]] ||
	fail "n2's leaf certificates are removed, its CA kept"
pass "n2's leaf certificates are removed, its CA kept"
members_summary 1 >"$T/m"
expect_eq "$(cat "$T/m")" "n1 voter started
n3 voter started" "n1 and n3 are left"
run ep_node 1 health --endpoints "https://${NODE_ADDR[1]}:2379"
expect_rc 0 "health: both healthy"
expect_in "$T/out" "2 of 2 members healthy" "2 of 2"
run ep_node 2 join "https://${NODE_ADDR[1]}:2379" $(node_flags 2) --timeout 90s
expect_rc 0 "n2 joins again after its reset"
members_summary 1 >"$T/m"
expect_eq "$(cat "$T/m")" "n1 voter started
n2 voter started
n3 voter started" "three voters again"
"$SYSTEMCTL_STANDIN" --root "${NODE_ROOT[2]}" is-active etcd.service >"$T/state"
expect_eq "$(cat "$T/state")" active "n2's etcd.service is active again"
