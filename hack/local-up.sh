#!/usr/bin/env bash
# hack/local-up.sh - a three-member etcd cluster run the kubeadm way on this
# machine: three simulated nodes n1..n3 (network namespaces ep-local-n1..3,
# addresses 10.241.0.11..13 on a host bridge ep-local-br, 10.241.0.1), each
# with its own node root /var/tmp/etcdpilot-local/nI and its kubelet
# stand-in.  'etcdpilot init' on n1; the etcd CA leaves n1 as an encrypted
# bundle ('certs export-bundle') and n2 and n3 join with it ('join
# --ca-bundle --certificate-key'); then 'etcdpilot health'.
#
#   hack/local-up.sh          bring it up (re-runnable: a second run changes nothing)
#   hack/local-up.sh down     stop the stand-ins and etcd, remove namespaces, bridge, files
#
# Environment: BUILD_DIR (default build), ETCD_VERSION (default 3.4.23, the
# Debian etcd the stand-in maps registry.k8s.io/etcd:3.4.* to).  Needs root.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH} # Debian's python3 and tools first
cd "$(dirname "$0")/.."
top=$PWD

BR=ep-local-br
HOST_ADDR=10.241.0.1
BASE=/var/tmp/etcdpilot-local
BUILD_DIR=${BUILD_DIR:-build}
ETCD_VERSION=${ETCD_VERSION:-3.4.23}
EP=$top/$BUILD_DIR/etcdpilot
NODES=(1 2 3)

ns_of() { echo "ep-local-n$1"; }
addr_of() { echo "10.241.0.$((10 + $1))"; }
root_of() { echo "$BASE/n$1"; }
pidfile_of() { echo "$BASE/standin-n$1.pid"; }
ep_on() {
	local i=$1
	shift
	ip netns exec "$(ns_of "$i")" "$EP" --root "$(root_of "$i")" "$@"
}

say() { printf '[local-up] %s\n' "$*"; }

need_root() {
	[[ $(id -u) -eq 0 ]] || { echo "hack/local-up.sh: run as root (network namespaces, mounts)" >&2; exit 1; }
}

standin_pid() {
	local pid
	pid=$(cat "$(pidfile_of "$1")" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
		grep -qa kubelet-standin "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}

down() {
	need_root
	local pid i k
	for i in "${NODES[@]}"; do
		if pid=$(standin_pid "$i"); then
			say "stopping n$i's kubelet stand-in (pid $pid) and its pods"
			kill -TERM "$pid"
			for ((k = 0; k < 150; k++)); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
		if ip netns list | grep -qw "$(ns_of "$i")"; then
			say "removing network namespace $(ns_of "$i") (and its veth pair)"
			ip netns del "$(ns_of "$i")" 2>/dev/null || true
		fi
		ip link del "ep-local-h$i" 2>/dev/null || true
	done
	ip link del "$BR" 2>/dev/null && say "removed bridge $BR"
	if [[ -d $BASE ]]; then
		say "removing $BASE"
		rm -rf "$BASE"
	fi
	say "down"
}

node_up() {
	local i=$1 ns addr root
	ns=$(ns_of "$i") addr=$(addr_of "$i") root=$(root_of "$i")
	if ! ip netns list | grep -qw "$ns"; then
		say "creating network namespace $ns: $addr on $BR"
		ip netns add "$ns"
		ip link add "ep-local-h$i" type veth peer name eth0 netns "$ns"
		ip link set "ep-local-h$i" master "$BR"
		ip link set "ep-local-h$i" up
		ip -n "$ns" link set lo up
		ip -n "$ns" addr add "$addr/24" dev eth0
		ip -n "$ns" link set eth0 up
		ip -n "$ns" route add default via "$HOST_ADDR"
	fi
	mkdir -p "$root"
	if ! standin_pid "$i" >/dev/null; then
		say "starting n$i's kubelet stand-in on $root (log: $BASE/standin-n$i.log)"
		# it outlives this script: none of the caller's descriptors (a lock held
		# around this script, a pipe) stays open in it
		(
			for fd in /proc/$BASHPID/fd/*; do
				fd=${fd##*/}
				((fd > 2)) && eval "exec $fd>&-"
			done
			exec nohup python3 "$top/hack/kubelet-standin" --root "$root" --netns "$ns" \
				--node-name "n$i" >>"$BASE/standin-n$i.log" 2>&1 </dev/null
		) &
		echo $! >"$(pidfile_of "$i")"
	fi
}

up() {
	need_root
	hack/deps.sh
	say "building in $BUILD_DIR"
	cmake -S . -B "$BUILD_DIR" >/dev/null
	cmake --build "$BUILD_DIR" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

	mkdir -p "$BASE"
	if ! ip link show "$BR" >/dev/null 2>&1; then
		say "creating bridge $BR ($HOST_ADDR/24)"
		ip link add "$BR" type bridge
		ip addr add "$HOST_ADDR/24" dev "$BR"
		ip link set "$BR" up
	fi
	local i
	for i in "${NODES[@]}"; do node_up "$i"; done

	local e1="https://$(addr_of 1):2379"
	say "n1: etcdpilot init"
	ep_on 1 init --name n1 --advertise-address "$(addr_of 1)" --etcd-version "$ETCD_VERSION"

	say "n1: etcdpilot certs export-bundle (the etcd CA, encrypted; the key printed once)"
	local bundle=$BASE/ca-bundle key
	key=$(ep_on 1 certs export-bundle "$bundle" --force -o json |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["certificateKey"])')
	for i in "${NODES[@]:1}"; do
		say "n$i: etcdpilot join $e1 --ca-bundle $bundle --certificate-key <key>"
		ep_on "$i" join "$e1" --ca-bundle "$bundle" --certificate-key "$key" --name "n$i" \
			--advertise-address "$(addr_of "$i")" --etcd-version "$ETCD_VERSION"
	done
	rm -f "$bundle"

	echo
	say "etcdpilot health:"
	ep_on 1 health
	cat <<EOT

[local-up] Three members, n1..n3, each a static pod of its simulated node:
  node roots  $BASE/n1 .. n3 (manifest: etc/kubernetes/manifests/etcd.yaml)
  pod status  $BASE/nI/var/lib/kubelet-standin/pods/etcd/status.json (the stand-in's own)
  pod logs    $BASE/nI/var/log/pods/kube-system_etcd-nI_<uid>/etcd/<restarts>.log
  clients     https://10.241.0.11..13:2379 (reachable from the host through $BR)

Talk to it:  ip netns exec $(ns_of 1) $EP --root $(root_of 1) health
             ip netns exec $(ns_of 1) $EP --root $(root_of 1) member list
Take a member out:  ip netns exec $(ns_of 3) $EP --root $(root_of 3) reset
Stop it all:        hack/local-up.sh down
EOT
}

case ${1:-up} in
up) up ;;
down) down ;;
*) echo "usage: hack/local-up.sh [up|down]" >&2; exit 2 ;;
esac
