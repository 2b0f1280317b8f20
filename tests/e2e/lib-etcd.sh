# tests/e2e/lib-etcd.sh - real etcd clusters for e2e scenarios.  Source it
# after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/lib-etcd.sh"
#   etcd_cluster_start c 3 127.0.21      # members c1..c3 on 127.0.21.1..3
#
# Every member runs Debian's /usr/bin/etcd with TLS for clients and peers
# (client and peer certificate auth on), on its own loopback address, with
# its own data dir under $T.  Certificates come from `etcdpilot certs
# generate` (one CA shared by every node root: etcd/ca.{crt,key} copied in
# before generating); the openssl CLI is used only when that command is not
# available.  Cleanup is registered with on_exit: stopped (SIGSTOP) members
# are continued, then everything is killed and waited for, even when the
# scenario fails.
#
# After etcd_cluster_start NAME COUNT BASEADDR:
#   ETCD_ENDPOINTS     comma-separated client URLs of the started members
#   ETCD_CLIENT_URL[i] ETCD_PEER_URL[i] ETCD_MEMBER[i] ETCD_PID[i] (i = 1..COUNT)
#   ETCD_ROOT[i]       node root of member i (etc/kubernetes/pki/etcd/...)
#   ETCD_CACERT ETCD_CERT ETCD_KEY   CA and healthcheck-client cert/key (node 1)
#   ETCD_CTL           etcdctl with the endpoints and TLS flags, as an array
# Ports default to 22379/22380 (ETCD_CLIENT_PORT / ETCD_PEER_PORT) so that a
# member never collides with a 2379 bound on the wildcard address.

ETCD_BIN=${ETCD_BIN:-/usr/bin/etcd}
ETCDCTL_BIN=${ETCDCTL_BIN:-/usr/bin/etcdctl}
ETCD_CLIENT_PORT=${ETCD_CLIENT_PORT:-22379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-22380}
declare -a ETCD_CLIENT_URL ETCD_PEER_URL ETCD_MEMBER ETCD_PID ETCD_ROOT ETCD_ADDR ETCD_ARGS
ETCD_ENDPOINTS=
ETCD_CLUSTER=
ETCD_INITIAL_CLUSTER=

_etcd_cleanup_registered=

_etcd_cleanup() {
	local pid
	for pid in "${ETCD_PID[@]}"; do
		[[ -n $pid ]] || continue
		kill -CONT "$pid" 2>/dev/null
		kill -KILL "$pid" 2>/dev/null
	done
	for pid in "${ETCD_PID[@]}"; do
		[[ -n $pid ]] && wait "$pid" 2>/dev/null
	done
	return 0
}

# _etcd_openssl_certs ROOT NAME ADDR: kubeadm's layout with the openssl CLI,
# signed by $T/etcd-ca/ca.{crt,key} (created on first use).
_etcd_openssl_certs() {
	local root=$1 name=$2 addr=$3 d=$1/etc/kubernetes/pki/etcd
	mkdir -p "$d" "$T/etcd-ca"
	if [[ ! -f $T/etcd-ca/ca.key ]]; then
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
			-subj /CN=etcd-ca -keyout "$T/etcd-ca/ca.key" -out "$T/etcd-ca/ca.crt" \
			2>/dev/null || return 1
	fi
	cp "$T/etcd-ca/ca.crt" "$T/etcd-ca/ca.key" "$d/"
	local leaf cn ext
	for leaf in server peer healthcheck-client; do
		case $leaf in
		server | peer)
			cn=$name
			ext="subjectAltName=DNS:$name,DNS:localhost,IP:$addr,IP:127.0.0.1,IP:::1
extendedKeyUsage=serverAuth,clientAuth"
			;;
		*)
			cn=kube-etcd-healthcheck-client
			ext="extendedKeyUsage=clientAuth"
			;;
		esac
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
			-keyout "$d/$leaf.key" -out "$d/$leaf.csr" 2>/dev/null || return 1
		openssl x509 -req -in "$d/$leaf.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -extfile <(printf '%s\n' "$ext") \
			-out "$d/$leaf.crt" 2>/dev/null || return 1
		rm -f "$d/$leaf.csr"
	done
}

# etcd_node_certs ROOT NAME ADDR: certificates for one node, sharing the CA.
etcd_node_certs() {
	local root=$1 name=$2 addr=$3 d=$1/etc/kubernetes/pki/etcd
	mkdir -p "$d"
	if [[ -f $T/etcd-ca/ca.key ]]; then
		cp "$T/etcd-ca/ca.crt" "$T/etcd-ca/ca.key" "$d/"
	fi
	if "$EP" certs generate --root "$root" --name "$name" --advertise-address "$addr" \
		--key-type "${ETCD_KEY_TYPE:-ecdsa-p256}" >"$T/certs-$name.log" 2>&1; then
		if [[ ! -f $T/etcd-ca/ca.key ]]; then
			mkdir -p "$T/etcd-ca"
			cp "$d/ca.crt" "$d/ca.key" "$T/etcd-ca/"
		fi
		return 0
	fi
	say "etcdpilot certs generate failed ($(tail -1 "$T/certs-$name.log")); using openssl"
	_etcd_openssl_certs "$root" "$name" "$addr"
}

# etcd_member_run I STATE: start member I (its variables must be set).
etcd_member_run() {
	local i=$1 state=$2 n=${ETCD_MEMBER[$1]} a=${ETCD_ADDR[$1]}
	local pki=${ETCD_ROOT[$i]}/etc/kubernetes/pki/etcd
	mkdir -p "$T/$n"
	"$ETCD_BIN" --name "$n" --data-dir "$T/$n/data" \
		--listen-client-urls "${ETCD_CLIENT_URL[$i]}" \
		--advertise-client-urls "${ETCD_CLIENT_URL[$i]}" \
		--listen-peer-urls "${ETCD_PEER_URL[$i]}" \
		--initial-advertise-peer-urls "${ETCD_PEER_URL[$i]}" \
		--initial-cluster "$ETCD_INITIAL_CLUSTER" \
		--initial-cluster-state "$state" --initial-cluster-token "$ETCD_CLUSTER" \
		--cert-file "$pki/server.crt" --key-file "$pki/server.key" \
		--client-cert-auth --trusted-ca-file "$pki/ca.crt" \
		--peer-cert-file "$pki/peer.crt" --peer-key-file "$pki/peer.key" \
		--peer-client-cert-auth --peer-trusted-ca-file "$pki/ca.crt" \
		--heartbeat-interval 50 --election-timeout 500 \
		--snapshot-count 10000 ${ETCD_ARGS[$i]:-} \
		>>"$T/$n/etcd.log" 2>&1 &
	ETCD_PID[$i]=$!
	if [[ -z $_etcd_cleanup_registered ]]; then
		on_exit _etcd_cleanup
		_etcd_cleanup_registered=1
	fi
}

# etcd_member_define I NAME ADDR: set the variables of member I and make its certs.
etcd_member_define() {
	local i=$1 n=$2 a=$3 host=$3
	[[ $a == *:* ]] && host="[$a]"
	ETCD_MEMBER[$i]=$n
	ETCD_ADDR[$i]=$a
	ETCD_CLIENT_URL[$i]=https://$host:$ETCD_CLIENT_PORT
	ETCD_PEER_URL[$i]=https://$host:$ETCD_PEER_PORT
	ETCD_ROOT[$i]=$T/root-$n
	etcd_node_certs "${ETCD_ROOT[$i]}" "$n" "$a" || fail "certificates for $n"
}

# etcd_healthy URL: a linearizable read through etcdctl succeeds
etcd_healthy() {
	"$ETCDCTL_BIN" --endpoints "$1" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" \
		--key "$ETCD_KEY" --dial-timeout 1s --command-timeout 2s endpoint health >/dev/null 2>&1
}

# etcd_cluster_start NAME COUNT BASEADDR: members NAME1..NAMEn on BASEADDR.1..n
etcd_cluster_start() {
	local name=$1 count=$2 base=$3 i
	ETCD_CLUSTER=$name-$$
	ETCD_INITIAL_CLUSTER=
	for ((i = 1; i <= count; i++)); do
		etcd_member_define "$i" "$name$i" "$base.$i"
		ETCD_INITIAL_CLUSTER+=${ETCD_INITIAL_CLUSTER:+,}$name$i=${ETCD_PEER_URL[$i]}
	done
	local pki=${ETCD_ROOT[1]}/etc/kubernetes/pki/etcd
	ETCD_CACERT=$pki/ca.crt
	ETCD_CERT=$pki/healthcheck-client.crt
	ETCD_KEY=$pki/healthcheck-client.key
	ETCD_ENDPOINTS=
	for ((i = 1; i <= count; i++)); do
		etcd_member_run "$i" new
		ETCD_ENDPOINTS+=${ETCD_ENDPOINTS:+,}${ETCD_CLIENT_URL[$i]}
	done
	ETCD_CTL=("$ETCDCTL_BIN" --endpoints "$ETCD_ENDPOINTS" --cacert "$ETCD_CACERT"
		--cert "$ETCD_CERT" --key "$ETCD_KEY")
	for ((i = 1; i <= count; i++)); do
		wait_for 30 etcd_healthy "${ETCD_CLIENT_URL[$i]}" ||
			{ tail -20 "$T/$name$i/etcd.log" >&2; fail "etcd member $name$i did not start"; }
	done
	say "etcd cluster $name: $count members at $ETCD_ENDPOINTS"
}

# etcd_member_stop I: kill member I (SIGKILL) and wait for it
etcd_member_stop() {
	local pid=${ETCD_PID[$1]}
	[[ -n $pid ]] || return 0
	kill -CONT "$pid" 2>/dev/null
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	ETCD_PID[$1]=
}

# etcd_member_hang I / etcd_member_resume I: SIGSTOP / SIGCONT member I
etcd_member_hang() { kill -STOP "${ETCD_PID[$1]}"; }
etcd_member_resume() { kill -CONT "${ETCD_PID[$1]}"; }

# etcd_member_join I NAME ADDR: start a member already added with
# `member add` (initial cluster = the current members + it, state existing).
etcd_member_join() {
	local i=$1
	etcd_member_define "$i" "$2" "$3"
	ETCD_INITIAL_CLUSTER+=,$2=${ETCD_PEER_URL[$i]}
	etcd_member_run "$i" existing
}

# etcd_cluster_stop: kill every member and forget the cluster (its files
# stay under $T), so that another cluster can be started in the same scenario.
etcd_cluster_stop() {
	local i
	for i in "${!ETCD_PID[@]}"; do
		etcd_member_stop "$i"
	done
	ETCD_CLIENT_URL=() ETCD_PEER_URL=() ETCD_MEMBER=() ETCD_PID=() ETCD_ROOT=() ETCD_ADDR=()
	ETCD_ENDPOINTS= ETCD_INITIAL_CLUSTER=
}
