#!/usr/bin/env bash
# t72: etcdpilot convert --to static-pod on members that other installers
# laid out (tests/e2e/lib-layouts.sh renders them from the installers'
# templates in tests/unit/data/units): one three-member cluster whose nodes
# are each one installer's -
#   n1 etcdadm's first member (etcd-a, /opt/bin/etcd, /etc/etcd/pki, the
#      initial cluster naming only itself, GOMAXPROCS in the env file),
#   n2 kubespray's (member etcd2 on host node2, /etc/etcd.env with
#      ETCD_PROXY=off, ETCDCTL_* and True booleans, /etc/ssl/etcd/ssl,
#      its 5 s election timeout),
#   n3 the Hard Way's (controller-2, flags inline in ExecStart, the CA key
#      not on the node) -
# started by the systemd stand-in, the later two added with etcdctl member
# add as those installers do.  Each node is converted in turn while a writer
# keeps writing keys: after each step the same member IDs, every member
# healthy, the unit masked and kept aside, the manifest carrying what the
# layout said (and not what it must not), the old TLS files still in place
# for the kube-apiserver; at the end every acknowledged key is there.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"
. "$(dirname "$0")/lib-layouts.sh"

cluster_switch t72 10.72.0
node_add 1 systemd etcd-a
node_add 2 systemd node2
node_add 3 systemd controller-2
KIND=([1]=etcdadm [2]=kubespray [3]=hardway)
MEMBER=([1]=etcd-a [2]=etcd2 [3]=controller-2)
# what could undo each conversion: the installer, run again
UNDO=([1]="etcdadm laid out the old unit: 'etcdadm reset' on this node removes this member"
	[2]="kubespray laid out the old unit: a kubespray run re-templates /etc/etcd.env"
	[3]="whatever wrote /etc/systemd/system/etcd.service \\(a provisioning script")
peer() { echo "${MEMBER[$1]}=https://${NODE_ADDR[$1]}:2380"; }
layout_ca "$T/layout-ca"

# etcdctl through node 1's etcdadm client pair, in node 1's namespace
read -r CA1 CRT1 KEY1 <<<"$(layout_client etcdadm 1)"
E1=https://${NODE_ADDR[1]}:2379
ctl() { on_node 1 etcdctl --cacert "$CA1" --cert "$CRT1" --key "$KEY1" --endpoints "$E1" "$@"; }

layout_render etcdadm 1 etcd-a etcd-a "$(peer 1)" new
layout_start 1
wait_for 30 ctl endpoint health >/dev/null 2>&1 || fail "n1 (etcdadm's first member) serves"
pass "n1: etcdadm's first member runs under the systemd stand-in"
cluster="$(peer 1)"
for i in 2 3; do
	cluster+=",$(peer "$i")"
	# etcdadm's ETCD_STRICT_RECONFIG_CHECK=true: etcd refuses a change until
	# every started member has been connected for 5 s ("unhealthy cluster")
	wait_for 30 ctl member add "${MEMBER[$i]}" --peer-urls="https://${NODE_ADDR[$i]}:2380" ||
		fail "etcdctl member add ${MEMBER[$i]}"
	layout_render "${KIND[$i]}" "$i" "${MEMBER[$i]}" "${NODE_NAME[$i]}" "$cluster" existing
	layout_start "$i"
	wait_for 30 on_node "$i" etcdctl --cacert "$CA1" --cert "$CRT1" --key "$KEY1" \
		--endpoints "https://${NODE_ADDR[$i]}:2379" endpoint health >/dev/null 2>&1 ||
		fail "n$i (${KIND[$i]}) serves"
	pass "n$i: ${KIND[$i]}'s member ${MEMBER[$i]} joined and serves"
done
for i in 1 2 3; do
	standin_start "${NODE_ROOT[$i]}" "${NODE_NS[$i]}" "${NODE_NAME[$i]}"
done

ids() { ctl member list -w json | python3 -c '
import json, sys
for m in sorted(json.load(sys.stdin)["members"], key=lambda m: m["name"]):
    print(m["name"], "%x" % m["ID"], ",".join(m["peerURLs"]))'; }
ids >"$T/ids0"
[[ $(wc -l <"$T/ids0") == 3 ]] || fail "three members before the conversions: $(cat "$T/ids0")"

EPS="https://${NODE_ADDR[1]}:2379 https://${NODE_ADDR[2]}:2379 https://${NODE_ADDR[3]}:2379"
on_node 1 python3 "$SRC/tests/e2e/convert-writer.py" "$T/acked" "$T/stop-writer" \
	"$CA1" "$CRT1" "$KEY1" $EPS &
WRITER=$!
on_exit "touch '$T/stop-writer'; kill $WRITER"
wait_for 20 test -s "$T/acked" || fail "the writer writes"
acked() { wc -l <"$T/acked"; }

for i in 1 2 3; do
	R=${NODE_ROOT[$i]}
	M=$R/etc/kubernetes/manifests/etcd.yaml
	before=$(acked)
	find "$R/etc/etcd" "$R/etc/ssl" -type f 2>/dev/null | sort | xargs -r sha256sum >"$T/tls-before"
	run ep_node "$i" convert --to static-pod --timeout 90s
	expect_rc 0 "n$i (${KIND[$i]}): convert --to static-pod"
	cp "$T/out" "$T/convert-n$i"
	expect_in "$T/out" "^\[wait\] Member [0-9a-f]+ is back, healthy and caught up; it was unavailable for [0-9.]+s" \
		"n$i: the same member is back, downtime said"
	expect_in "$T/out" "${UNDO[$i]}" "n$i: says what could undo it (${KIND[$i]})"
	expect_eq "$("$SYSTEMCTL_STANDIN" --root "$R" is-enabled etcd.service 2>&1)" masked \
		"n$i: etcd.service is masked"
	ls "$R"/etc/systemd/system/etcd.service.etcdpilot-converted-* >/dev/null 2>&1 ||
		fail "n$i: the old unit file is kept aside"
	grep -q -- "--name=${MEMBER[$i]}$" "$M" || fail "n$i: the manifest keeps the member's name ${MEMBER[$i]}"
	for j in 1 2 3; do
		grep -q -- "--initial-cluster=.*$(peer "$j")" "$M" ||
			fail "n$i: the manifest's initial cluster names $(peer "$j") (the live member list)"
	done
	grep -q -- "--initial-cluster-state=existing" "$M" || fail "n$i: the manifest joins the existing cluster"
	grep -q -- "--listen-metrics-urls=http://127.0.0.1:2381" "$M" || fail "n$i: kubeadm's probes get 2381"
	grep -q -- "--data-dir=/var/lib/etcd$" "$M" || fail "n$i: the same data dir"
	pass "n$i: manifest with the member's name, the live peers, the same data dir, the metrics port"
	find "$R/etc/etcd" "$R/etc/ssl" -type f 2>/dev/null | sort | xargs -r sha256sum >"$T/tls-after"
	diff -q "$T/tls-before" "$T/tls-after" >/dev/null ||
		fail "n$i: the installer's TLS and env files are untouched (the kube-apiserver still uses them)"
	pass "n$i: the installer's TLS and env files are where they were, unchanged"
	ids >"$T/ids"
	expect_eq "$(cat "$T/ids")" "$(cat "$T/ids0")" "n$i: the same member IDs"
	run ctl endpoint health --cluster
	expect_rc 0 "n$i: every member healthy after its conversion"
	wait_for 20 bash -c "(( \$(wc -l <'$T/acked') > $before + 20 ))" ||
		fail "n$i: the writer goes on writing"
	pass "n$i: the writer went on ($(acked) keys acknowledged)"
	[[ -e $R/var/lib/etcdpilot/journal.json ]] && fail "n$i: no journal left behind"

	case ${KIND[$i]} in
	etcdadm)
		grep -A1 -- "name: GOMAXPROCS" "$M" | grep -q 'value: "4"' ||
			fail "n1: GOMAXPROCS stays etcd's environment"
		[[ -s $R/etc/kubernetes/pki/etcd/healthcheck-client.crt ]] ||
			fail "n1: a healthcheck-client pair made from etcdadm's CA key"
		expect_in "$T/convert-n$i" "not from the stale line in /etc/etcd/etcd.env" \
			"n1: says the peers came from the member list, not etcdadm's stale line"
		;;
	kubespray)
		grep -q -- "--election-timeout=5000$" "$M" && grep -q -- "--heartbeat-interval=250$" "$M" ||
			fail "n2: kubespray's timeouts stay"
		grep -qi -- "proxy\|ETCDCTL" "$M" && fail "n2: ETCD_PROXY and ETCDCTL_* stay out of the manifest"
		expect_in "$T/convert-n$i" "ETCD_PROXY" "n2: says why ETCD_PROXY=off was left out"
		[[ -s $R/etc/kubernetes/pki/etcd/healthcheck-client.crt ]] ||
			fail "n2: a healthcheck-client pair made from kubespray's ca-key.pem"
		;;
	hardway)
		grep -q -- "--initial-cluster-token=etcd-cluster-0$" "$M" || fail "n3: the Hard Way's token stays"
		[[ -e $R/etc/kubernetes/pki/etcd/healthcheck-client.crt ]] &&
			fail "n3: no healthcheck-client pair without the CA key"
		expect_in "$T/convert-n$i" "no healthcheck-client certificate is made: the CA key is not on" \
			"n3: says why there is no healthcheck-client pair"
		;;
	esac
	pass "n$i: what ${KIND[$i]}'s layout said is in the pod"
done

touch "$T/stop-writer"
wait "$WRITER" 2>/dev/null
run on_node 1 python3 "$SRC/tests/e2e/convert-check.py" "$T/acked" "$CA1" "$CRT1" "$KEY1" "$E1"
expect_rc 0 "every acknowledged key is there"
say "$(cat "$T/out")"
