#!/usr/bin/env bash
# bench/convert/run.sh [ETCDPILOT] - how long a member is unavailable while
# 'etcdpilot convert' moves it, against etcd's own cold start on the same
# data.
#
# One member made by 'etcdpilot init --mode systemd' (hack/systemctl-standin
# as systemd, the kubelet stand-in watching the node root), in a private
# network namespace.  In one run, N times each (default 5), alternating:
#   cold start   the unit stopped; the same etcd binary started directly
#                with the member's own environment (paths mapped under the
#                node root); from exec to its first linearizable read;
#   to pod       'convert --to static-pod --allow-downtime' while a poller
#                reads (linearizable) every 5 ms: the longest gap between
#                two served reads (from the unit's stop to the pod serving),
#                and the downtime convert itself reports;
#   to systemd   the same for 'convert --to systemd'.
# Prints the medians and each conversion's excess over the cold start
# (target: at most 1 s).  Needs root.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH} # Debian's python3 and tools first
here=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$here/../.." && pwd)
EP=${1:-${EP_BINARY:-$SRC/build/etcdpilot}}
EP=$(realpath "$EP")
N=${N:-5}
[[ -x $EP ]] || { echo "no etcdpilot binary at '$EP' (pass its path)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "bench/convert/run.sh: run as root (netns, mounts)" >&2; exit 2; }

NS=ep-bench-convert-$$
ADDR=10.244.0.2
W=$(mktemp -d /tmp/ep-bench-convert.XXXXXX)
SPID=
cleanup() {
	[[ -n $SPID ]] && { kill -TERM "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null || true; }
	"$SRC/hack/systemctl-standin" --root "$W/n1" stop etcd.service >/dev/null 2>&1 || true
	for f in supervisor.pid main.pid; do
		pid=$(cat "$W/n1/run/systemd-standin/etcd.service/$f" 2>/dev/null) || continue
		[[ $pid -gt 0 ]] && kill -KILL "$pid" 2>/dev/null || true
	done
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

export ETCDPILOT_SYSTEMCTL=$SRC/hack/systemctl-standin
R=$W/n1
ip netns exec "$NS" "$EP" --root "$R" init --mode systemd --name n1 --advertise-address "$ADDR" \
	--etcd-version 3.4.23 --key-type ecdsa-p256 --etcd-binary /usr/bin/etcd --timeout 60s >"$W/init.log" 2>&1 ||
	{ cat "$W/init.log" >&2; exit 1; }
python3 "$SRC/hack/kubelet-standin" --root "$R" --netns "$NS" --node-name n1 --grace 5 \
	--backoff-initial 1 --backoff-max 4 >"$W/standin.log" 2>&1 &
SPID=$!
ip netns exec "$NS" python3 "$here/bench.py" --etcdpilot "$EP" --root "$R" --runs "$N" \
	--systemctl "$ETCDPILOT_SYSTEMCTL"
