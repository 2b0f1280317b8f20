#!/usr/bin/env bash
# t60: etcdpilot join in static-pod mode on three simulated nodes (each its
# own network namespace and address on one switch, a kubelet stand-in per
# node): init on n1; n2 joins with the CA from 'certs export-bundle' (--ca-bundle
# --certificate-key), n3 with the CA copied by hand; both end as voters and
# every member is healthy; a second join of n2 changes nothing; bad input is
# refused with exit 2 and nothing changed (on the node or in the cluster), a
# CA of another cluster with what to do;
# --dry-run writes nothing; the init hint and export-bundle name the real
# join command; a join whose etcd never starts waits until its deadline,
# once, says why, and rolls back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"
. "$(dirname "$0")/lib-cluster.sh"

cluster_switch t60 10.60.0
for i in 1 2 3 4; do node_add $i static-pod; done
E1=https://${NODE_ADDR[1]}:2379

run ep_node 1 init $(node_flags 1) --timeout 60s
expect_rc 0 "init on n1"
expect_in "$T/out" "etcdpilot certs export-bundle FILE" "init's hint: export the CA as a bundle"
expect_in "$T/out" "etcdpilot join $E1 --ca-bundle FILE --certificate-key KEY --name <node name> --advertise-address <node IP> --etcd-version 3.4.23 --key-type ecdsa-p256$" \
	"init's hint: the join command with the bundle"

# --- bad input: exit 2, nothing changed --------------------------------------
before=$(tree_digest "${NODE_ROOT[4]}")
members_summary 1 >"$T/m0"
run ep_node 4 join "$E1" $(node_flags 4)
expect_rc 2 "join without the cluster's CA is refused"
expect_in "$T/err" "this node has no etcd CA .*etcdpilot certs export-bundle FILE.*--ca-bundle FILE --certificate-key KEY" \
	"and says how to bring the CA"
run ep_node 4 join "$E1" $(node_flags 4) --ca-bundle "$T/none"
expect_rc 2 "--ca-bundle without --certificate-key"
run ep_node 4 join "not a url!" $(node_flags 4)
expect_rc 2 "a bad ENDPOINT"
expect_in "$T/err" "ENDPOINT" "names the argument"
run ep_node 4 join "$E1" $(node_flags 4) --cacert /x
expect_rc 2 "--cacert without --cert and --key"
expect_eq "$(tree_digest "${NODE_ROOT[4]}")" "$before" "the refused joins wrote nothing"

# --- a CA of another cluster: the members' TLS refusal says so, and the way on --
"$EP" --root "$T/foreign" certs generate etcd-ca >/dev/null || fail "a CA of another cluster"
mkdir -p "${NODE_ROOT[4]}/etc/kubernetes/pki/etcd"
cp -p "$T/foreign/etc/kubernetes/pki/etcd/ca.crt" "$T/foreign/etc/kubernetes/pki/etcd/ca.key" \
	"${NODE_ROOT[4]}/etc/kubernetes/pki/etcd/"
before_f=$(tree_digest "${NODE_ROOT[4]}")
run ep_node 4 join "$E1" $(node_flags 4) --timeout 20s
expect_rc 1 "join with the CA of another cluster fails"
expect_in "$T/err" "TLS handshake failed: unknown CA: the member's certificate is not signed by the CA in '${NODE_ROOT[4]}/etc/kubernetes/pki/etcd/ca.crt' .*; this node's etcd CA is not the one that signed the cluster's certificates \(a CA of another cluster\?\): delete that ca.crt and its ca.key on this node and bring the cluster's: 'etcdpilot certs export-bundle FILE' on a member, then join with '--ca-bundle FILE --certificate-key KEY'; what this run had changed was undone$" \
	"says the CA is not the cluster's, and how to bring the right one"
expect_eq "$(tree_digest "${NODE_ROOT[4]}")" "$before_f" "n4 as it was (the other CA alone)"
members_summary 1 >"$T/mf"
cmp -s "$T/m0" "$T/mf" || fail "the cluster is unchanged by it"
pass "the cluster is unchanged by it"
rm -rf "${NODE_ROOT[4]}/etc"

run ep_node 1 certs export-bundle "$T/bundle" -o json
expect_rc 0 "export-bundle on n1"
KEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["certificateKey"])' "$T/out")
run ep_node 1 certs export-bundle "$T/bundle-text"
expect_rc 0 "export-bundle on n1, as text"
expect_in "$T/out" "^	etcdpilot join $E1 --ca-bundle $T/bundle-text --certificate-key [0-9a-f]{64} --name <node name> --advertise-address <node IP> --etcd-version 3.4.23$" \
	"it prints the join command, through this member's client URL, with its etcd version"
expect_in "$T/out" "^	etcdpilot certs import-bundle $T/bundle-text --certificate-key [0-9a-f]{64}$" \
	"and the import command"
WRONG=$(printf '%064d' 7)
run ep_node 4 join "$E1" $(node_flags 4) --ca-bundle "$T/bundle" --certificate-key "$WRONG"
expect_rc 1 "a wrong certificate key is refused"
expect_in "$T/err" "the certificate key is wrong or the bundle .* was altered" "in the bundle's words"
expect_eq "$(tree_digest "${NODE_ROOT[4]}")" "$before" "and nothing was written"
head -c 300 "$T/bundle" >"$T/bundle-cut"
run ep_node 4 join "$E1" $(node_flags 4) --ca-bundle "$T/bundle-cut" --certificate-key "$KEY"
expect_rc 2 "a truncated bundle is refused"
expect_in "$T/err" "'$T/bundle-cut' is truncated" "says it is truncated"
expect_eq "$(tree_digest "${NODE_ROOT[4]}")" "$before" "and nothing was written"
run ep_node 1 certs export-bundle "$T/bundle-short" --ttl 1s -o json
expect_rc 0 "a bundle that expires in 1 s"
SHORT=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["certificateKey"])' "$T/out")
sleep 2
run ep_node 4 join "$E1" $(node_flags 4) --ca-bundle "$T/bundle-short" --certificate-key "$SHORT"
expect_rc 1 "an expired bundle is refused"
expect_in "$T/err" "the CA bundle '$T/bundle-short' expired at .*make a new one: run 'etcdpilot certs export-bundle FILE'" "says it expired, and what to do"
expect_eq "$(tree_digest "${NODE_ROOT[4]}")" "$before" "and nothing was written"
run ep_node 4 join "https://${NODE_ADDR[1]}:2380" $(node_flags 4) --ca-bundle "$T/bundle" \
	--certificate-key "$KEY" --timeout 20s
expect_rc 1 "a join through n1's peer URL fails"
expect_in "$T/err" "https://${NODE_ADDR[1]}:2380: not etcd's client gateway: .* a peer URL\? clients talk to the client URL \(port 2379" \
	"says it is a peer URL"
expect_eq "$(grep -o "clients talk to the client URL" "$T/err" | wc -l)" 1 "once"
expect_eq "$(tree_digest "${NODE_ROOT[4]}")" "$before" "and leaves n4 as it was"
members_summary 1 >"$T/m1"
cmp -s "$T/m0" "$T/m1" || fail "the cluster is unchanged by refused joins"
pass "the cluster is unchanged by refused joins"

# --- dry run: the plan, nothing written ---------------------------------------
run ep_node 4 join "$E1" $(node_flags 4) --ca-bundle "$T/bundle" --certificate-key "$KEY" --dry-run
expect_rc 0 "join --dry-run"
expect_in "$T/out" "^\[dryrun\] \[certs\] Would install the etcd CA " "plans the CA from the bundle"
expect_in "$T/out" "^\[dryrun\] \[member-add\] Would add member 'n4' as a learner with peer URL https://${NODE_ADDR[4]}:2380" \
	"plans the learner"
expect_in "$T/out" "^\[dryrun\] \[promote\] Would wait until learner 'n4' has started and caught up" "plans the promotion"
expect_eq "$(tree_digest "${NODE_ROOT[4]}")" "$before" "join --dry-run wrote nothing"
run ep_node 4 join "$E1" $(node_flags 4) --ca-bundle "$T/bundle" --certificate-key "$KEY" --dry-run -o json
expect_rc 0 "join --dry-run -o json"
python3 - "$T/out" "$KEY" <<'PY' || fail "the plan as one JSON document"
import json, sys
text = open(sys.argv[1]).read()
d = json.loads(text)
types = [a["type"] for a in d["actions"]]
assert types == ["pki.ca-bundle", "pki.ensure", "cluster.check", "member.add", "etcd.data-dir",
                 "dir.create", "runtime.files", "member.promote", "wait.cluster"], types
assert sys.argv[2] not in text and "PRIVATE KEY" not in text, "no key material"
PY
pass "the plan as one JSON document, no key in it"

# --- n2 joins with the bundle, n3 with the CA copied by hand -------------------
# n2's key comes as kubeadm users carry it: a JoinConfiguration's
# controlPlane.certificateKey (a secret: 'config print' never shows it)
cat >"$T/join.yaml" <<EOF
apiVersion: kubeadm.k8s.io/v1beta3
kind: JoinConfiguration
controlPlane:
  certificateKey: $KEY
EOF
run ep_node 2 config print --config "$T/join.yaml" --name n2 --advertise-address "${NODE_ADDR[2]}" -v
expect_rc 0 "config print of the JoinConfiguration"
expect_not_in "$T/out" "$KEY" "does not print the certificate key"
expect_not_in "$T/err" "$KEY" "not even on stderr"
run ep_node 2 join "$E1" $(node_flags 2) --config "$T/join.yaml" --ca-bundle "$T/bundle" --timeout 60s
expect_rc 0 "n2 joins with --ca-bundle and the JoinConfiguration's certificateKey"
expect_in "$T/out" "^\[certs\] Install the etcd CA " "the CA comes from the bundle"
expect_in "$T/out" "^\[member-add\] Added member 'n2' \([0-9a-f]+\) as a learner: 2 members now" "added as a learner"
expect_in "$T/out" "^\[promote\] Member 'n2' \([0-9a-f]+\) promoted to a voting member" "promoted"
expect_in "$T/out" "^\[wait\] All 2 members are healthy" "every member healthy"
expect_in "$T/out" "is a voting member of the cluster and every member is healthy \(joined in " "the closing line"
cmp -s "${NODE_ROOT[1]}/etc/kubernetes/pki/etcd/ca.crt" "${NODE_ROOT[2]}/etc/kubernetes/pki/etcd/ca.crt" ||
	fail "n2 has n1's CA"
pass "n2 has n1's CA"
[[ -e ${NODE_ROOT[2]}/var/lib/etcdpilot/journal.json ]] && fail "the journal is gone after the join"
pass "the journal is gone after the join"
grep -q -- "--initial-cluster-state=existing" "${NODE_ROOT[2]}/etc/kubernetes/manifests/etcd.yaml" ||
	fail "n2's manifest starts an existing cluster"
grep -Eq -- "--initial-cluster=(n1=https://${NODE_ADDR[1]}:2380,n2=https://${NODE_ADDR[2]}:2380|n2=https://${NODE_ADDR[2]}:2380,n1=https://${NODE_ADDR[1]}:2380)$" \
	"${NODE_ROOT[2]}/etc/kubernetes/manifests/etcd.yaml" || fail "n2's initial cluster: n1 and n2"
pass "n2's manifest: --initial-cluster n1,n2 and --initial-cluster-state=existing"

ca_copy 1 3
run ep_node 3 join "$E1" $(node_flags 3) --timeout 60s
expect_rc 0 "n3 joins with the CA copied by hand"
expect_in "$T/out" "^\[wait\] All 3 members are healthy" "three healthy members"

members_summary 1 >"$T/m"
expect_eq "$(cat "$T/m")" "n1 voter started
n2 voter started
n3 voter started" "1: three voters"
run ep_node 3 health --endpoints "$E1"
expect_rc 0 "health: every member healthy"
expect_in "$T/out" "3 of 3 members healthy" "3 of 3"

# --- a second join of n2 changes nothing ---------------------------------------
before2=$(tree_digest "${NODE_ROOT[2]}/etc")
run ep_node 2 join "$E1" $(node_flags 2) --timeout 30s
expect_rc 0 "a second join of n2"
expect_in "$T/out" "already installed" "sees its member installed"
expect_in "$T/out" "Nothing to do: .* nothing was changed" "and changes nothing"
expect_eq "$(tree_digest "${NODE_ROOT[2]}/etc")" "$before2" "n2's files untouched"
members_summary 1 >"$T/m2"
cmp -s "$T/m" "$T/m2" || fail "the cluster is unchanged by the second join"
pass "the cluster is unchanged by the second join"

# a join under another name on a node that runs a member: refused
run ep_node 3 join "$E1" --name other --advertise-address "${NODE_ADDR[3]}" --etcd-version 3.4.23 \
	--key-type ecdsa-p256
expect_rc 1 "join of another member on n3 is refused"
expect_in "$T/err" "this node already runs etcd member 'n3'.*run 'etcdpilot reset' first" "says reset first"

# A join of n4 undone: the member list (in FILE) as in $T/m, no manifest,
# data dir or journal left on n4, its /etc as before ($before); WHEN ends
# each check's name.
expect_undone() {
	local members=$1 when=$2
	cmp -s "$T/m" "$members" || fail "the cluster is as it was$when"
	pass "the cluster is as it was$when"
	[[ ! -e ${NODE_ROOT[4]}/etc/kubernetes/manifests/etcd.yaml && ! -e ${NODE_ROOT[4]}/var/lib/etcd &&
		! -e ${NODE_ROOT[4]}/var/lib/etcdpilot/journal.json ]] ||
		fail "no manifest, data dir or journal left on n4$when"
	pass "no manifest, data dir or journal left on n4$when"
	expect_eq "$(tree_digest "${NODE_ROOT[4]}/etc")" "$before" "n4's /etc as it was (the CA alone)$when"
}

# --- n4's etcd never starts (an image the kubelet cannot pull) ------------------
# The join waits for its learner until the deadline (what --timeout leaves
# once the rollback's share is kept), once, not asked again; says so in
# the join's words (no 'promote it again': it rolls back) with what the
# kubelet shows, once; and the rollback leaves the cluster and n4 as they were.
ca_copy 1 4
before=$(tree_digest "${NODE_ROOT[4]}/etc")
t0=$SECONDS
run ep_node 4 join "$E1" --name n4 --advertise-address "${NODE_ADDR[4]}" --etcd-version 3.5.21 \
	--key-type ecdsa-p256 --mode static-pod --timeout 20s
took=$((SECONDS - t0))
expect_rc 1 "a join whose etcd never starts fails"
((took <= 22)) || fail "it ends within its --timeout (took ${took}s)"
pass "it ends within its --timeout (${took}s of 20s)"
expect_in "$T/err" "promoting member 'n4' \([0-9a-f]+\): the learner has not started within [0-9]+\.[0-9] s \(it never showed its name and client URLs in the member list\); what this run had changed was undone" \
	"says how long the learner was waited for, and that the join was undone"
# (20 s less the rollback's 5 s, less member add: etcd may refuse it for up
# to 5 s after n3 joined; a wait asked again would say less than a second)
waited=$(sed -n 's/.*has not started within \([0-9]*\)\.[0-9] s.*/\1/p' "$T/err")
((${waited:-0} >= 5)) || fail "the learner was waited for all that was left (${waited:-?} s)"
pass "the learner was waited for all that was left (${waited} s)"
expect_not_in "$T/err" "promote it again" "does not say to promote it again (the member is gone)"
expect_eq "$(grep -c "the kubelet has written no log for the etcd pod" "$T/err")" 1 \
	"says once what the kubelet shows"
expect_eq "$(grep -cE "^\[member\] waiting for 'n4' \([0-9a-f]+\): it has not started yet \(no name and no client URLs in the member list\)$" "$T/out")" 1 \
	"one wait for the learner (a wait that ran out of time is not asked again)"
expect_in "$T/out" "^\[member\] waiting for 'n4' .*; 5 s so far$" "the repeated waiting line says how long it has been"
expect_in "$T/out" "^\[rollback\] Member [0-9a-f]+ removed from the cluster" "the learner is removed"
members_summary 1 >"$T/m4"
expect_undone "$T/m4" ""

# --- the same with --no-rollback: the state stays, and the way out is named ----
# The learner, n4's manifest and its journal stay for debugging; the error
# says so and names the two ways on ('join --resume', 'join --rollback');
# 'join --rollback' then leaves the cluster and n4 as they were.
run ep_node 4 join "$E1" --name n4 --advertise-address "${NODE_ADDR[4]}" --etcd-version 3.5.21 \
	--key-type ecdsa-p256 --mode static-pod --timeout 10s --no-rollback
expect_rc 1 "a join whose etcd never starts fails (--no-rollback)"
expect_in "$T/err" "the learner has not started within" "says why"
waited=$(sed -n 's/.*has not started within \([0-9]*\)\.[0-9] s.*/\1/p' "$T/err")
# (10 s less member add, which etcd may hold up to 5 s after the last join;
# with the rollback's share kept it would be at most 5 s)
((${waited:-0} >= 6)) || fail "no share of --timeout is kept for a rollback that will not run (waited ${waited:-?} s)"
pass "no share of --timeout is kept for a rollback that will not run (waited ${waited} s)"
expect_in "$T/err" "nothing was undone \(no rollback was asked for\)" "says nothing was undone, and why"
expect_in "$T/err" "the journal '.*/var/lib/etcdpilot/journal.json' is kept: run 'etcdpilot join --resume' to finish it or 'etcdpilot join --rollback' to undo it" \
	"names the journal and the two ways on"
members_summary 1 >"$T/m5"
expect_in "$T/m5" "^[0-9a-f]+ learner " "the learner stays in the member list"
[[ -e ${NODE_ROOT[4]}/etc/kubernetes/manifests/etcd.yaml && -e ${NODE_ROOT[4]}/var/lib/etcdpilot/journal.json ]] ||
	fail "n4's manifest and journal stay"
pass "n4's manifest and journal stay"
run ep_node 1 health --endpoints "$E1"
expect_rc 0 "health: the learner not started yet does not make the cluster unhealthy"
expect_in "$T/out" "^learner \([0-9a-f]+\): learner, not started yet .*left by an 'etcdpilot join' that did not finish: run 'etcdpilot join --resume' or 'etcdpilot join --rollback' on its node\)$" \
	"health names the learner and the way on from an unfinished join"
run ep_node 4 join "$E1" --name n4 --advertise-address "${NODE_ADDR[4]}" --etcd-version 3.5.21 \
	--key-type ecdsa-p256 --mode static-pod --timeout 30s --rollback
expect_rc 0 "join --rollback undoes the kept join"
expect_in "$T/out" "Undoing the interrupted 'join'" "says what it undoes"
members_summary 1 >"$T/m6"
expect_undone "$T/m6" " after join --rollback"
