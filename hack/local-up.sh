#!/usr/bin/env bash
# hack/local-up.sh - a one-member etcd cluster run the kubeadm way on this
# machine: a simulated node (network namespace ep-local-n1 with its own
# address, 10.241.0.11, joined to the host by a veth pair on 10.241.0.0/24),
# the kubelet stand-in watching the node root /var/tmp/etcdpilot-local/n1,
# and 'etcdpilot init' writing certificates and the static pod there.
#
#   hack/local-up.sh          bring it up (idempotent: a second run changes nothing)
#   hack/local-up.sh down     stop the stand-in and etcd, remove namespace, veth, files
#
# Environment: BUILD_DIR (default build), ETCD_VERSION (default 3.4.23, the
# Debian etcd the stand-in maps registry.k8s.io/etcd:3.4.* to).  Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

NS=ep-local-n1
HOST_IF=ep-local-h1
NODE_IF=ep-local-n1
HOST_ADDR=10.241.0.1
NODE_ADDR=10.241.0.11
BASE=/var/tmp/etcdpilot-local
ROOT=$BASE/n1
BUILD_DIR=${BUILD_DIR:-build}
ETCD_VERSION=${ETCD_VERSION:-3.4.23}
PIDFILE=$BASE/standin-n1.pid
EP=$top/$BUILD_DIR/etcdpilot

say() { printf '[local-up] %s\n' "$*"; }

need_root() {
	[[ $(id -u) -eq 0 ]] || { echo "hack/local-up.sh: run as root (network namespaces, mounts)" >&2; exit 1; }
}

standin_pid() {
	local pid
	pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		grep -qa kubelet-standin "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

down() {
	need_root
	local pid i
	if pid=$(standin_pid); then
		say "stopping the kubelet stand-in (pid $pid) and its pods"
		kill -TERM "$pid"
		for ((i = 0; i < 150; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	fi
	if ip netns list | grep -qw "$NS"; then
		say "removing network namespace $NS (and the veth pair)"
		ip netns del "$NS"
	fi
	ip link del "$HOST_IF" 2>/dev/null || true
	if [[ -d $BASE ]]; then
		say "removing $BASE"
		rm -rf "$BASE"
	fi
	say "down"
}

up() {
	need_root
	hack/deps.sh
	say "building in $BUILD_DIR"
	cmake -S . -B "$BUILD_DIR" >/dev/null
	cmake --build "$BUILD_DIR" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

	if ! ip netns list | grep -qw "$NS"; then
		say "creating network namespace $NS: $NODE_ADDR (host side $HOST_ADDR)"
		ip netns add "$NS"
		ip link add "$HOST_IF" type veth peer name "$NODE_IF" netns "$NS"
		ip addr add "$HOST_ADDR/24" dev "$HOST_IF"
		ip link set "$HOST_IF" up
		ip -n "$NS" link set lo up
		ip -n "$NS" addr add "$NODE_ADDR/24" dev "$NODE_IF"
		ip -n "$NS" link set "$NODE_IF" up
		ip -n "$NS" route add default via "$HOST_ADDR"
	fi
	mkdir -p "$ROOT"
	if ! standin_pid >/dev/null; then
		say "starting the kubelet stand-in on $ROOT (log: $BASE/standin-n1.log)"
		nohup python3 "$top/hack/kubelet-standin" --root "$ROOT" --netns "$NS" --node-name n1 \
			>>"$BASE/standin-n1.log" 2>&1 </dev/null &
		echo $! >"$PIDFILE"
	fi

	say "etcdpilot init (inside $NS, node root $ROOT)"
	ip netns exec "$NS" "$EP" --root "$ROOT" init --name n1 --advertise-address "$NODE_ADDR" \
		--etcd-version "$ETCD_VERSION"

	echo
	if "$EP" --help | grep -E '^  health ' | grep -q 'not implemented'; then
		say "member list (etcdctl):"
		ip netns exec "$NS" etcdctl --endpoints "https://$NODE_ADDR:2379" \
			--cacert "$ROOT/etc/kubernetes/pki/etcd/ca.crt" \
			--cert "$ROOT/etc/kubernetes/pki/etcd/healthcheck-client.crt" \
			--key "$ROOT/etc/kubernetes/pki/etcd/healthcheck-client.key" member list -w table
	else
		say "etcdpilot health:"
		ip netns exec "$NS" "$EP" --root "$ROOT" health
	fi
	cat <<EOT

[local-up] One member, n1, runs as a static pod of the simulated node:
  manifest   $ROOT/etc/kubernetes/manifests/etcd.yaml
  pod status $ROOT/var/lib/kubelet-standin/pods/etcd/status.json (the stand-in's own)
  pod log    $ROOT/var/log/pods/kube-system_etcd-n1_<uid>/etcd/<restarts>.log (CRI-framed, as a kubelet writes it)
  client     https://$NODE_ADDR:2379 (reachable from the host through $HOST_IF)

Talk to it:  ip netns exec $NS $EP --root $ROOT health
Only one member for now: 'etcdpilot join' is not implemented yet (it says so and
exits 1). Once it is, this script brings up three, each a simulated node with its
own namespace and root, the etcd CA copied over.
Tear down:   hack/local-up.sh down
EOT
}

case ${1:-up} in
up) up ;;
down) down ;;
*) echo "usage: hack/local-up.sh [up|down]" >&2; exit 2 ;;
esac
