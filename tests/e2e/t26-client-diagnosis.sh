#!/bin/bash
# t26-client-diagnosis: what health says against a real 2-member cluster
# when a member's client endpoint fails but raft is fine (issue 11, item 3),
# and the other diagnoses of item 9:
#   - q2's serving certificate has expired (q2's peer certificate is fine, so
#     it stays a voter): health exits 3, names the expiry date and the
#     remedy, and does not claim QUORUM LOST; once renewed as told, healthy;
#   - a learner added with 'member add --learner' that never starts:
#     "learner, not started yet", and health exits 0 because of it alone;
#   - an expired client certificate is refused before connecting (exit 1,
#     the file, its date, the remedy);
#   - http:// to a TLS member, a peer URL, port 2380: each gets its hint.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

etcd_cluster_start q 2 127.0.26
CLIENT=(--cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY")

# backdated ROOT LEAF CN EKU SANS: replace ROOT's etcd/LEAF.crt by one for the
# same key, signed by the CA, valid only on 1-2 January 2020 (the openssl CLI
# of Debian 12 dates a certificate only through 'openssl ca').
backdated() {
	local d=$1/etc/kubernetes/pki/etcd leaf=$2 cn=$3 eku=$4 sans=$5 db=$T/ca-$2-$RANDOM
	mkdir -p "$db/new"
	: >"$db/index.txt"
	echo 01 >"$db/serial"
	cat >"$db/ca.cnf" <<EOF
[ca]
default_ca = x
[x]
database = $db/index.txt
serial = $db/serial
new_certs_dir = $db/new
default_md = sha256
policy = p
[p]
commonName = supplied
[ext]
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = $eku
${sans:+subjectAltName = $sans}
EOF
	openssl req -new -key "$d/$leaf.key" -subj "/CN=$cn" -out "$db/leaf.csr" 2>"$db/log" &&
		openssl ca -batch -config "$db/ca.cnf" -cert "$d/ca.crt" -keyfile "$d/ca.key" \
			-startdate 20200101000000Z -enddate 20200102000000Z -extensions ext \
			-in "$db/leaf.csr" -out "$d/$leaf.crt.new" >>"$db/log" 2>&1 &&
		mv "$d/$leaf.crt.new" "$d/$leaf.crt" || { cat "$db/log" >&2; return 1; }
}

json_check() {
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); $2" "$1"
}

# A learner that will never start (added while the cluster is whole: etcd
# 3.4 refuses membership changes until every voter has been connected 5 s).
run "$EP" member add q3 https://127.0.26.3:22380 --learner --timeout 20s \
	--endpoints "${ETCD_CLIENT_URL[1]}" "${CLIENT[@]}"
expect_rc 0 "member add --learner (q3 never starts)"

# --- q2's serving certificate expired ---------------------------------------
backdated "${ETCD_ROOT[2]}" server q2 serverAuth,clientAuth \
	"DNS:q2,DNS:localhost,IP:${ETCD_ADDR[2]},IP:127.0.0.1" || fail "an expired server certificate"
etcd_member_stop 2
etcd_member_run 2 existing
# q2 rejoins through the peer port (its peer certificate is fine): wait until
# q1 names a leader again, and q2 answers nothing on its client URL.
q1_has_leader() {
	"$ETCDCTL_BIN" --endpoints "${ETCD_CLIENT_URL[1]}" "${CLIENT[@]}" \
		endpoint status -w json 2>/dev/null | grep -q '"leader":[1-9]'
}
wait_for 30 q1_has_leader || fail "q1 has no leader after q2's restart"
wait_for 30 etcd_healthy "${ETCD_CLIENT_URL[1]}" || fail "q1 does not serve"

run "$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}"
expect_rc 3 "q2's endpoint fails: exit 3"
expect_in "$T/out" "^q2 \([0-9a-f]+\): unreachable from here: ${ETCD_CLIENT_URL[2]}: TLS: the member's serving certificate expired on Jan 02, 2020 00:00 UTC; renew it on that member's node with 'etcdpilot certs renew etcd-server', then restart etcd there$" \
	"the cause, its date and the remedy"
expect_not_in "$T/out" "QUORUM LOST" "raft still has quorum: no QUORUM LOST"
expect_in "$T/out" "is UNHEALTHY: 1 of 3 members healthy \(and 1 learner not started yet\), leader q[12] \([0-9a-f]+\), 1 of 2 voters reachable from here; quorum held: leader agreed on, a linearizable read served \(quorum 2 of 2 voters\)$" \
	"the summary: quorum held, one voter not reachable from here"
run "$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}" -o json
expect_rc 3 "JSON: exit 3"
json_check "$T/out" '
s = d["summary"]
assert s["has_quorum"] and s["quorum_state"] == "held", s
m = [m for m in d["members"] if m["name"] == "q2"][0]
assert not m["reachable"] and "serving certificate expired" in m["error"], m
' || fail "JSON: quorum held, q2 unreachable with the cause"
pass "JSON: quorum held, q2 unreachable with the cause"

# --- the learner, seen with q2 unreachable ------------------------------------
run "$EP" health --endpoints "${ETCD_CLIENT_URL[1]}" "${CLIENT[@]}"
expect_rc 3 "still exit 3: q2 is unreachable"
expect_in "$T/out" "^learner \([0-9a-f]+\): learner, not started yet" "the learner is named as not started"
expect_in "$T/out" "^- +- +[0-9a-f]+ +not started +learner " "its row"
expect_not_in "$T/out" "QUORUM LOST" "still no QUORUM LOST"

# The remedy, as told: renew q2's serving certificate on its node, restart
# etcd there (etcd 3.4's gateway keeps the connection to its own gRPC server
# that the expired certificate broke).
run "$EP" certs renew etcd-server --root "${ETCD_ROOT[2]}" --name q2 \
	--advertise-address "${ETCD_ADDR[2]}"
expect_rc 0 "certs renew etcd-server on q2's node"
etcd_member_stop 2
etcd_member_run 2 existing
two_healthy() {
	"$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}" -o json 2>/dev/null |
		python3 -c 'import json,sys; sys.exit(json.load(sys.stdin)["summary"]["healthy"] != 2)'
}
wait_for 30 two_healthy || fail "q2 does not serve with its renewed certificate"
run "$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}"
expect_rc 0 "renewed: exit 0, the learner not started yet does not count against it"
expect_in "$T/out" "is healthy: 2 of 3 members healthy \(and 1 learner not started yet\)" \
	"the summary counts the learner apart"
run "$EP" health --endpoints "$ETCD_ENDPOINTS" "${CLIENT[@]}" -o json
json_check "$T/out" '
s = d["summary"]
assert s["healthy_cluster"] and s["pending_learners"] == 1 and s["unhealthy"] == 0, s
l = [m for m in d["members"] if m["is_learner"]][0]
assert l["pending_learner"] and not l["healthy"] and l["name"] is None, l
' || fail "JSON: healthy cluster with a pending learner"
pass "JSON: healthy cluster with a pending learner"

# --- an expired client certificate ------------------------------------------
X=$T/expired
mkdir -p "$X/etc/kubernetes/pki/etcd"
cp "${ETCD_ROOT[1]}"/etc/kubernetes/pki/etcd/{ca.crt,ca.key,healthcheck-client.key} \
	"$X/etc/kubernetes/pki/etcd/"
backdated "$X" healthcheck-client kube-etcd-healthcheck-client clientAuth "" ||
	fail "an expired client certificate"
XC=$X/etc/kubernetes/pki/etcd/healthcheck-client.crt
run "$EP" health --endpoints "$ETCD_ENDPOINTS" --cacert "$ETCD_CACERT" --cert "$XC" \
	--key "$X/etc/kubernetes/pki/etcd/healthcheck-client.key"
expect_rc 1 "expired client certificate: exit 1"
expect_in "$T/err" "client certificate '$XC' expired on Jan 02, 2020 00:00 UTC: etcd refuses it; renew it with 'etcdpilot certs renew etcd-healthcheck-client'" \
	"refused before connecting: the file, its date, the remedy"
run "$EP" member list --endpoints "$ETCD_ENDPOINTS" --cacert "$ETCD_CACERT" --cert "$XC" \
	--key "$X/etc/kubernetes/pki/etcd/healthcheck-client.key"
expect_rc 1 "member list too"
expect_in "$T/err" "expired on Jan 02, 2020" "member list says why"

# --- wrong endpoints ----------------------------------------------------------
H1=${ETCD_CLIENT_URL[1]#https://}
run "$EP" health --endpoints "http://$H1" "${CLIENT[@]}"
expect_rc 1 "http:// to a TLS member: exit 1"
expect_in "$T/err" "http://$H1: .*; .*use 'https://$H1'" "the hint: use https://"
run "$EP" member list --endpoints "${ETCD_PEER_URL[1]}" "${CLIENT[@]}"
expect_rc 1 "the peer URL as endpoint: exit 1"
expect_in "$T/err" "${ETCD_PEER_URL[1]}: not etcd.* a peer URL\? clients talk to the client URL" \
	"the hint: a peer URL"
run "$EP" health --endpoints "https://127.0.26.9:2380" "${CLIENT[@]}" --timeout 2s
expect_rc 1 "port 2380: exit 1"
expect_in "$T/err" "https://127.0.26.9:2380: .*; 2380 is etcd's peer port: clients talk to the client URL \(port 2379" \
	"the hint: 2380 is the peer port"
