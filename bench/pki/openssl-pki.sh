#!/usr/bin/env bash
# openssl-pki.sh DIR NAME ADDRESS [rsa|ecdsa]
#
# The etcd PKI kubeadm makes (etcd/ca, etcd/server, etcd/peer,
# etcd/healthcheck-client, apiserver-etcd-client; same CN, SANs, key usages
# and validity), written with the openssl CLI only, in as few commands as
# OpenSSL 3 allows (one `openssl req` per pair).  It is what a user would run
# instead of etcdpilot, and the baseline of bench/pki/run.sh.
set -euo pipefail
dir=$1 name=$2 addr=$3 kt=${4:-rsa}
case $kt in
rsa) newkey=(-newkey rsa:2048) ;;
ecdsa) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
*) echo "key type: rsa or ecdsa" >&2; exit 2 ;;
esac
mkdir -p "$dir/etcd"
umask 077
cnf=$dir/.openssl-pki.cnf
cat >"$cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign
subjectKeyIdentifier = hash
subjectAltName = DNS:etcd-ca
[serving]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:$name,DNS:localhost,IP:$addr,IP:127.0.0.1,IP:::1
[client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
ca=(-CA "$dir/etcd/ca.crt" -CAkey "$dir/etcd/ca.key")
req() { openssl req -x509 -config "$cnf" "${newkey[@]}" -nodes -sha256 "$@" 2>/dev/null; }
req -extensions ca -days 3650 -subj /CN=etcd-ca -keyout "$dir/etcd/ca.key" -out "$dir/etcd/ca.crt"
req -extensions serving "${ca[@]}" -days 365 -subj "/CN=$name" \
	-keyout "$dir/etcd/server.key" -out "$dir/etcd/server.crt"
req -extensions serving "${ca[@]}" -days 365 -subj "/CN=$name" \
	-keyout "$dir/etcd/peer.key" -out "$dir/etcd/peer.crt"
req -extensions client "${ca[@]}" -days 365 -subj /CN=kube-etcd-healthcheck-client \
	-keyout "$dir/etcd/healthcheck-client.key" -out "$dir/etcd/healthcheck-client.crt"
req -extensions client "${ca[@]}" -days 365 -subj /CN=kube-apiserver-etcd-client \
	-keyout "$dir/apiserver-etcd-client.key" -out "$dir/apiserver-etcd-client.crt"
rm -f "$cnf"
chmod 644 "$dir/etcd/"*.crt "$dir/apiserver-etcd-client.crt"
