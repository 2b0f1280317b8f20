#!/usr/bin/env bash
# t11-certs-etcd: real etcd (Debian's 3.4) runs on what etcdpilot generated.
# Two members on their own loopback addresses share the etcd CA (copied from
# node 1 to node 2, as between control-plane nodes) and have their own
# server and peer certificates; with --client-cert-auth and
# --peer-client-cert-auth they form a cluster only if the peer certificates
# are right.  healthcheck-client and apiserver-etcd-client are accepted; a
# client certificate from another CA, or none, is rejected.
. "$(dirname "$0")/lib.sh"

ETCD=${ETCD:-/usr/bin/etcd}
ETCDCTL=${ETCDCTL:-/usr/bin/etcdctl}
[[ -x $ETCD && -x $ETCDCTL ]] || fail "etcd and etcdctl are needed ($ETCD, $ETCDCTL)"

A1=127.0.11.1 A2=127.0.11.2
C1=$(free_port) P1=$(free_port) C2=$(free_port) P2=$(free_port)
R1=$T/n1 R2=$T/n2
K1=$R1/etc/kubernetes/pki K2=$R2/etc/kubernetes/pki

# node 1 makes the CA (RSA-2048, kubeadm's default); node 2 gets the CA copied
# and makes its own leaves (ECDSA-P256): mixed key types in one cluster
run "$EP" certs generate --root "$R1" --name cp1 --advertise-address $A1
expect_rc 0 "node 1: generate (RSA-2048)"
mkdir -p "$K2/etcd"
cp -p "$K1/etcd/ca.crt" "$K1/etcd/ca.key" "$K2/etcd/"
run "$EP" certs generate --root "$R2" --name cp2 --advertise-address $A2 --key-type ecdsa-p256
expect_rc 0 "node 2: generate with the shared CA (ECDSA-P256)"
expect_in "$T/out" 'Using the existing "etcd/ca" certificate and key' "node 2 reuses the CA"

# a foreign CA and its client certificate
run "$EP" certs generate --root "$T/foreign" --name cp1 --advertise-address $A1 --key-type ecdsa-p384
expect_rc 0 "a foreign PKI"
F=$T/foreign/etc/kubernetes/pki

start_member() { # NAME ADDR CLIENT_PORT PEER_PORT PKI
	local name=$1 addr=$2 cport=$3 pport=$4 pki=$5
	"$ETCD" --name "$name" --data-dir "$T/$name.data" \
		--listen-client-urls "https://127.0.0.1:$cport,https://$addr:$cport" \
		--advertise-client-urls "https://$addr:$cport" \
		--listen-peer-urls "https://$addr:$pport" \
		--initial-advertise-peer-urls "https://$addr:$pport" \
		--initial-cluster "cp1=https://$A1:$P1,cp2=https://$A2:$P2" \
		--initial-cluster-token "t11-$$" \
		--cert-file "$pki/etcd/server.crt" --key-file "$pki/etcd/server.key" \
		--trusted-ca-file "$pki/etcd/ca.crt" --client-cert-auth=true \
		--peer-cert-file "$pki/etcd/peer.crt" --peer-key-file "$pki/etcd/peer.key" \
		--peer-trusted-ca-file "$pki/etcd/ca.crt" --peer-client-cert-auth=true \
		--snapshot-count 10000 >"$T/$name.log" 2>&1 &
}
# stop_pid PID: TERM, wait until it is gone (KILL after 5 s), so its ports are free
stop_pid() {
	kill "$1" 2>/dev/null || return 0
	local i
	for ((i = 0; i < 50; i++)); do
		kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
start_member cp1 $A1 "$C1" "$P1" "$K1"
pid1=$!
on_exit 'stop_pid $pid1'
start_member cp2 $A2 "$C2" "$P2" "$K2"
pid2=$!
on_exit 'stop_pid $pid2'

health() { # PKI ADDR PORT CERT KEY
	curl -sS --max-time 3 --cacert "$1/etcd/ca.crt" --cert "$4" --key "$5" "https://$2:$3/health"
}
if ! wait_for 20 sh -c "curl -sS --max-time 2 --cacert '$K1/etcd/ca.crt' --cert '$K1/etcd/healthcheck-client.crt' --key '$K1/etcd/healthcheck-client.key' https://$A1:$C1/health | grep -q '\"health\":\"true\"'"; then
	tail -20 "$T/cp1.log" "$T/cp2.log" >&2
	fail "the two-member cluster did not become healthy"
fi
pass "two members with etcdpilot's peer certificates formed a healthy cluster"

run health "$K1" $A1 "$C1" "$K1/etcd/healthcheck-client.crt" "$K1/etcd/healthcheck-client.key"
expect_in "$T/out" '"health":"true"' "member 1 accepts healthcheck-client"
run health "$K2" $A2 "$C2" "$K2/etcd/healthcheck-client.crt" "$K2/etcd/healthcheck-client.key"
expect_in "$T/out" '"health":"true"' "member 2 accepts its own healthcheck-client"
run health "$K1" 127.0.0.1 "$C1" "$K1/etcd/healthcheck-client.crt" "$K1/etcd/healthcheck-client.key"
expect_in "$T/out" '"health":"true"' "server cert valid for 127.0.0.1"
run health "$K1" localhost "$C1" "$K1/etcd/healthcheck-client.crt" "$K1/etcd/healthcheck-client.key"
expect_in "$T/out" '"health":"true"' "server cert valid for localhost"

# the apiserver's client certificate reads and writes (through etcdctl, v3 API)
CTL=("$ETCDCTL" --endpoints "https://$A1:$C1,https://$A2:$C2" --cacert "$K1/etcd/ca.crt"
	--cert "$K1/apiserver-etcd-client.crt" --key "$K1/apiserver-etcd-client.key" --dial-timeout 3s)
run env ETCDCTL_API=3 "${CTL[@]}" put /t11/key value
expect_rc 0 "apiserver-etcd-client can write"
run env ETCDCTL_API=3 "${CTL[@]}" --endpoints "https://$A2:$C2" get /t11/key --print-value-only
expect_eq "$(cat "$T/out")" "value" "the write replicated to member 2 over the peer TLS link"
run env ETCDCTL_API=3 "${CTL[@]}" member list
expect_in "$T/out" "started, cp1, https://$A1:$P1" "member list shows cp1 started"
expect_in "$T/out" "started, cp2, https://$A2:$P2" "member list shows cp2 started"

# rejected: a client certificate from another CA, and no client certificate
run health "$K1" $A1 "$C1" "$F/etcd/healthcheck-client.crt" "$F/etcd/healthcheck-client.key"
[[ $RC -ne 0 ]] || fail "a client certificate from a foreign CA was accepted: $(cat "$T/out")"
expect_not_in "$T/out" 'health' "a client certificate from a foreign CA is rejected"
run curl -sS --max-time 3 --cacert "$K1/etcd/ca.crt" "https://$A1:$C1/health"
[[ $RC -ne 0 ]] || fail "a client without a certificate was accepted: $(cat "$T/out")"
pass "a client without a certificate is rejected"
run env ETCDCTL_API=3 "$ETCDCTL" --endpoints "https://$A1:$C1" --cacert "$K1/etcd/ca.crt" \
	--cert "$F/apiserver-etcd-client.crt" --key "$F/apiserver-etcd-client.key" --dial-timeout 2s \
	--command-timeout 3s get /t11/key
[[ $RC -ne 0 ]] || fail "etcdctl with a foreign client certificate was accepted"
pass "etcdctl with a foreign apiserver-etcd-client is rejected"
# and the client refuses a server whose CA it does not trust
run curl -sS --max-time 3 --cacert "$F/etcd/ca.crt" --cert "$F/etcd/healthcheck-client.crt" \
	--key "$F/etcd/healthcheck-client.key" "https://$A1:$C1/health"
[[ $RC -ne 0 ]] || fail "curl trusted a server cert from another CA"
pass "the server certificate does not verify against a foreign CA"

# renewed certificates keep working: renew node 1's server and peer, restart it
run "$EP" certs renew etcd-server --root "$R1"
expect_rc 0 "renew etcd-server on node 1"
run "$EP" certs renew etcd-peer --root "$R1"
expect_rc 0 "renew etcd-peer on node 1"
stop_pid "$pid1"
start_member cp1 $A1 "$C1" "$P1" "$K1"
pid1=$!
if ! wait_for 20 sh -c "ETCDCTL_API=3 '$ETCDCTL' --endpoints https://$A1:$C1 --cacert '$K1/etcd/ca.crt' --cert '$K1/apiserver-etcd-client.crt' --key '$K1/apiserver-etcd-client.key' --dial-timeout 2s endpoint health"; then
	tail -20 "$T/cp1.log" >&2
	fail "member 1 did not come back with renewed certificates"
fi
pass "member 1 restarted with the renewed server and peer certificates"
run env ETCDCTL_API=3 "${CTL[@]}" --endpoints "https://$A1:$C1" get /t11/key --print-value-only
expect_eq "$(cat "$T/out")" "value" "member 1 is back in the cluster with its data"
kill -0 "$pid1" 2>/dev/null || fail "the restarted member 1 exited (see $T/cp1.log)"
served=$(openssl s_client -connect "$A1:$C1" -CAfile "$K1/etcd/ca.crt" \
	-cert "$K1/etcd/healthcheck-client.crt" -key "$K1/etcd/healthcheck-client.key" </dev/null 2>/dev/null |
	openssl x509 -noout -fingerprint -sha256)
expect_eq "$served" "$(openssl x509 -in "$K1/etcd/server.crt" -noout -fingerprint -sha256)" \
	"member 1 serves the renewed server certificate"
