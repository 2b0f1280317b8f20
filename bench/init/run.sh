#!/usr/bin/env bash
# bench/init/run.sh [ETCDPILOT] - what 'etcdpilot init' (static-pod mode,
# through the kubelet stand-in) costs on top of etcd's own start-up.
#
# In one run, alternating, N times each (default 7), inside a private
# network namespace with its own address:
#   etcdpilot  wall time of 'etcdpilot init' from exec to its exit after the
#              member answered healthy; the stand-in is already watching the
#              node root (as a kubelet would be) and the PKI is pre-generated
#              (init reuses it), so key generation is not counted;
#   by hand    the same etcd binary started directly with the same flags
#              (paths mapped under the node root), from exec to its first
#              successful /health on the metrics URL (polled every 2 ms).
# Prints the medians and the difference: etcdpilot's overhead (preflight,
# manifest, the stand-in noticing it and building the container, TLS
# health checks).  Needs root.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH} # Debian's python3 and tools first
here=$(cd "$(dirname "$0")" && pwd)
EP=${1:-${EP_BINARY:-$here/../../build/etcdpilot}}
EP=$(realpath "$EP")
N=${N:-7}
[[ -x $EP ]] || { echo "no etcdpilot binary at '$EP' (pass its path)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "bench/init/run.sh: run as root (netns, mounts)" >&2; exit 2; }

NS=ep-bench-init-$$
ADDR=10.243.0.2
W=$(mktemp -d /tmp/ep-bench-init.XXXXXX)
cleanup() {
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$W"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add v0 type veth peer name v1
ip -n "$NS" link set v0 up
ip -n "$NS" link set v1 up
ip -n "$NS" addr add "$ADDR/24" dev v0

FLAGS=(--name n1 --advertise-address "$ADDR" --etcd-version 3.4.23 --key-type ecdsa-p256)
ip netns exec "$NS" "$EP" --root "$W/pki" certs generate all "${FLAGS[@]}" >/dev/null
"$EP" render manifest "${FLAGS[@]}" >"$W/etcd.yaml"

ip netns exec "$NS" python3 "$here/bench.py" --etcdpilot "$EP" --work "$W" --runs "$N" \
	--standin "$here/../../hack/kubelet-standin" --manifest "$W/etcd.yaml" -- "${FLAGS[@]}"
