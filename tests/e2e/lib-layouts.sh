# tests/e2e/lib-layouts.sh - etcd members laid out on a node root as other
# installers leave them, to be run by the systemd stand-in and converted.
# Source it after lib.sh and lib-cluster.sh.
#
# The unit and environment files are tests/unit/data/units/<installer>:
# rendered from the installers' own templates (the README there says from
# which revision and with which values).  layout_render copies them onto a
# node root and substitutes the member's name, address and peers the way the
# template's variables would have, and makes the certificates where and as
# that installer makes them (openssl, ECDSA P-256, one CA for the cluster):
#
#   etcdadm     /etc/etcd/pki: ca (CN "etcd", its key beside it), server,
#               peer, etcdctl-etcd-client; no healthcheck-client;
#               /opt/bin/etcd; the first member's ETCD_INITIAL_CLUSTER
#               names only itself, forever
#   kubespray   /etc/ssl/etcd/ssl: ca.pem, ca-key.pem, member-<host>.pem
#               (server and peer, serverAuth+clientAuth), admin-<host>.pem;
#               everything in /etc/etcd.env (ETCD_PROXY=off, ETCDCTL_*,
#               booleans written True); /usr/local/bin/etcd; member etcdN
#               on host nodeN; ETCD_INITIAL_CLUSTER_STATE=existing once the
#               cluster is healthy, as the template writes it when it scales
#   hardway     flags inline in ExecStart with line continuations;
#               /etc/etcd: ca.pem (the Kubernetes CA, its key not on the
#               node), kubernetes.pem (serverAuth+clientAuth, server and
#               peer); /usr/local/bin/etcd; Type=simple
#
#   layout_ca DIR                      the cluster's CA (ca.crt, ca.key) in DIR
#   layout_render KIND I MEMBER HOST CLUSTER STATE
#                                      node I's root gets installer KIND's layout
#                                      for MEMBER on host HOST; CLUSTER is the
#                                      initial-cluster value, STATE new|existing
#   layout_client KIND I               "CA CERT KEY" of the client pair an
#                                      operator of that node uses (host paths)
#   layout_start I                     daemon-reload and enable --now etcd.service
#                                      in node I's namespace (the stand-in)

LAYOUTS=$SRC/tests/unit/data/units

layout_ca() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
		-subj /CN=etcd -keyout "$d/ca.key" -out "$d/ca.crt" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign,digitalSignature 2>/dev/null ||
		fail "openssl: the cluster's CA"
}

# _issue CADIR CRT KEY CN EKU [SAN]
_issue() {
	local ca=$1 crt=$2 key=$3 cn=$4 eku=$5 san=${6:-}
	local ext=$T/ext.$$.$RANDOM
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$eku"
		[[ -n $san ]] && echo "subjectAltName=$san"
	} >"$ext"
	mkdir -p "$(dirname "$crt")" "$(dirname "$key")"
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$cn" \
		-keyout "$key" -out "$crt.csr" 2>/dev/null &&
		openssl x509 -req -in "$crt.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
			-CAcreateserial -days 30 -extfile "$ext" -out "$crt" 2>/dev/null ||
		fail "openssl: $crt"
	rm -f "$crt.csr" "$ext"
	chmod 0600 "$key"
}

_binary() {
	local dst=$1
	mkdir -p "$(dirname "$dst")"
	cp /usr/bin/etcd "$dst" || fail "copy etcd to $dst"
}

layout_render() {
	local kind=$1 i=$2 member=$3 host=$4 cluster=$5 state=$6
	local r=${NODE_ROOT[$i]} a=${NODE_ADDR[$i]} ca=$T/layout-ca
	local san="IP:$a,IP:127.0.0.1,DNS:localhost,DNS:$host"
	mkdir -p "$r"
	cp -a "$LAYOUTS/$kind/." "$r/"
	case $kind in
	etcdadm)
		sed -i -e "s/10\.0\.0\.31/$a/g" -e "s/etcd-a/$member/g" \
			-e "s|^ETCD_INITIAL_CLUSTER=.*|ETCD_INITIAL_CLUSTER=$cluster|" \
			-e "s|^ETCD_INITIAL_CLUSTER_STATE=.*|ETCD_INITIAL_CLUSTER_STATE=$state|" \
			"$r/etc/etcd/etcd.env"
		local p=$r/etc/etcd/pki
		mkdir -p "$p"
		cp "$ca/ca.crt" "$ca/ca.key" "$p/"
		_issue "$ca" "$p/server.crt" "$p/server.key" "$member" serverAuth,clientAuth "$san"
		_issue "$ca" "$p/peer.crt" "$p/peer.key" "$member" serverAuth,clientAuth "$san"
		_issue "$ca" "$p/etcdctl-etcd-client.crt" "$p/etcdctl-etcd-client.key" \
			etcdctl-etcd-client clientAuth
		_binary "$r/opt/bin/etcd"
		;;
	kubespray)
		sed -i -e "s/10\.0\.0\.21/$a/g" -e "s/node1/$host/g" \
			-e "s/^ETCD_NAME=.*/ETCD_NAME=$member/" \
			-e "s|^ETCD_INITIAL_CLUSTER=.*|ETCD_INITIAL_CLUSTER=$cluster|" \
			-e "s|^ETCD_INITIAL_CLUSTER_STATE=.*|ETCD_INITIAL_CLUSTER_STATE=$state|" \
			"$r/etc/etcd.env"
		local p=$r/etc/ssl/etcd/ssl
		mkdir -p "$p"
		cp "$ca/ca.crt" "$p/ca.pem"
		cp "$ca/ca.key" "$p/ca-key.pem"
		_issue "$ca" "$p/member-$host.pem" "$p/member-$host-key.pem" "etcd-member-$host" \
			serverAuth,clientAuth "$san"
		_issue "$ca" "$p/admin-$host.pem" "$p/admin-$host-key.pem" "etcd-admin-$host" \
			clientAuth
		_binary "$r/usr/local/bin/etcd"
		;;
	hardway)
		sed -i -e "s/10\.240\.0\.10/$a/g" -e "s/--name controller-0/--name $member/" \
			-e "s|--initial-cluster [^ ]*|--initial-cluster $cluster|" \
			-e "s|--initial-cluster-state new|--initial-cluster-state $state|" \
			"$r/etc/systemd/system/etcd.service"
		local p=$r/etc/etcd
		mkdir -p "$p"
		cp "$ca/ca.crt" "$p/ca.pem"
		_issue "$ca" "$p/kubernetes.pem" "$p/kubernetes-key.pem" kubernetes \
			serverAuth,clientAuth "$san"
		_binary "$r/usr/local/bin/etcd"
		;;
	*) fail "layout_render: no layout $kind" ;;
	esac
	mkdir -p "$r/var/lib/etcd"
	chmod 0700 "$r/var/lib/etcd"
}

layout_client() {
	local kind=$1 r=${NODE_ROOT[$2]}
	case $kind in
	etcdadm) echo "$r/etc/etcd/pki/ca.crt $r/etc/etcd/pki/etcdctl-etcd-client.crt $r/etc/etcd/pki/etcdctl-etcd-client.key" ;;
	kubespray) echo "$r/etc/ssl/etcd/ssl/ca.pem $r/etc/ssl/etcd/ssl/admin-node$2.pem $r/etc/ssl/etcd/ssl/admin-node$2-key.pem" ;;
	hardway) echo "$r/etc/etcd/ca.pem $r/etc/etcd/kubernetes.pem $r/etc/etcd/kubernetes-key.pem" ;;
	esac
}

layout_start() {
	local r=${NODE_ROOT[$1]}
	on_node "$1" "$SYSTEMCTL_STANDIN" --root "$r" daemon-reload || fail "n$1: daemon-reload"
	on_node "$1" "$SYSTEMCTL_STANDIN" --root "$r" enable --now etcd.service ||
		fail "n$1: systemctl enable --now etcd.service"
}
