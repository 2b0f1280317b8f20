#!/bin/bash
# t27-client-no-route: the commands that only talk to a cluster work on a
# node without a default route (issue 11, item 5): in a network namespace
# with one address and no route out, a real etcd member inside it, health,
# member list and member add --dry-run succeed; before, each exited 2 with
# "advertise address: no default route" although no advertise address is
# needed to ask a cluster.  A real mistake in the node flags is still
# reported as such.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"
. "$(dirname "$0")/lib-standin.sh"

NS=ep-t27-$$
ADDR=10.27.0.11
node_netns "$NS" "$ADDR"
in_ns "$NS" ip -4 route show default >"$T/routes" || fail "ip route in $NS"
[[ ! -s $T/routes ]] || fail "the namespace has a default route: $(cat "$T/routes")"
pass "namespace $NS: $ADDR and no default route"

# One member inside the namespace: etcd started through 'ip netns exec'
# (which execs it: the pid lib-etcd.sh keeps is etcd's own).
cat >"$T/etcd-in-ns" <<EOF
#!/bin/sh
exec ip netns exec $NS $ETCD_BIN "\$@"
EOF
chmod +x "$T/etcd-in-ns"
ETCD_BIN=$T/etcd-in-ns
ETCD_CLUSTER=r-$$
etcd_member_define 1 r1 "$ADDR"
ETCD_INITIAL_CLUSTER=r1=${ETCD_PEER_URL[1]}
etcd_member_run 1 new
pki=${ETCD_ROOT[1]}/etc/kubernetes/pki/etcd
CLIENT=(--endpoints "${ETCD_CLIENT_URL[1]}" --cacert "$pki/ca.crt"
	--cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key")
ns_healthy() {
	in_ns "$NS" "$ETCDCTL_BIN" --endpoints "${ETCD_CLIENT_URL[1]}" --cacert "$pki/ca.crt" \
		--cert "$pki/healthcheck-client.crt" --key "$pki/healthcheck-client.key" \
		--dial-timeout 1s --command-timeout 2s endpoint health
}
wait_for 30 ns_healthy || { tail -20 "$T/r1/etcd.log" >&2; fail "etcd in $NS did not start"; }

run in_ns "$NS" "$EP" health "${CLIENT[@]}"
expect_rc 0 "health without a default route: exit 0"
expect_in "$T/out" "^${ETCD_CLIENT_URL[1]} +r1 +[0-9a-f]+ +healthy +leader " "the member is healthy"
expect_not_in "$T/err" "advertise address" "no word about an advertise address"

run in_ns "$NS" "$EP" member list "${CLIENT[@]}"
expect_rc 0 "member list without a default route: exit 0"
expect_in "$T/out" "^[0-9a-f]+ +started +r1 " "the member is listed"

run in_ns "$NS" "$EP" member add r2 https://10.27.0.12:22380 --learner --dry-run "${CLIENT[@]}"
expect_rc 0 "member add --dry-run without a default route: exit 0"
expect_in "$T/out" "^would add member 'r2' \(learner\)" "the plan is printed"

# The endpoint comes from the node's own manifest under --root, as on a node.
mkdir -p "${ETCD_ROOT[1]}/etc/kubernetes/manifests"
printf 'metadata:\n  annotations:\n    kubeadm.kubernetes.io/etcd.advertise-client-urls: %s\n' \
	"${ETCD_CLIENT_URL[1]}" >"${ETCD_ROOT[1]}/etc/kubernetes/manifests/etcd.yaml"
run in_ns "$NS" env -u ETCDCTL_ENDPOINTS "$EP" health --root "${ETCD_ROOT[1]}"
expect_rc 0 "health from the node's own files, without a default route: exit 0"

# A real mistake is still said as it is.
run in_ns "$NS" "$EP" health "${CLIENT[@]}" --name Bad_Name
expect_rc 2 "a bad --name: usage error"
expect_in "$T/err" "--name: 'Bad_Name'" "the flag is named"
expect_not_in "$T/err" "default route" "not the advertise address"
