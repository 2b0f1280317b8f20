# tests/e2e/lib-standin.sh - simulated static-pod nodes: a network namespace
# with its own address and the kubelet stand-in (hack/kubelet-standin)
# watching a node root.  Source it after lib.sh.  Everything started here is
# torn down by lib.sh's cleanup, even when the scenario fails.
#
#   node_netns NS ADDR            netns NS: lo up, ADDR/24 on a veth pair
#                                 (both ends inside NS; nothing reaches the host)
#   standin_start ROOT NS NODE [ARGS...]   start the stand-in; its pid in $STANDIN_PID
#   standin_stop PID              SIGTERM it and wait (its pods stop first)
#   standin_field ROOT KEY        one field of the etcd pod's status.json (the
#                                 stand-in's own file: for tests only)
#   standin_field_is ROOT KEY OP V  test(1) of that field, read afresh each call:
#                                 for wait_for ('wait_for 30 test "$(standin_field ...)"'
#                                 would test the value read once, before waiting)
#   pod_log_dir ROOT [POD]        the kubelet's log directory of a kube-system pod
#                                 (default etcd-*): <root>/var/log/pods/kube-system_<pod>_<uid>
#   cri_framed FILE...            every line of the files is a CRI log line
#   in_ns NS CMD...               run CMD in the namespace

STANDIN=${STANDIN:-$SRC/hack/kubelet-standin}

in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

node_netns() {
	local ns=$1 addr=$2
	ip netns add "$ns" || fail "cannot create network namespace $ns (root needed)"
	on_exit "ip netns del '$ns'"
	ip -n "$ns" link set lo up
	ip -n "$ns" link add v0 type veth peer name v1
	ip -n "$ns" link set v0 up
	ip -n "$ns" link set v1 up
	ip -n "$ns" addr add "$addr/24" dev v0
}

# Kill the container a stand-in left behind (only if that pid still is an etcd).
_standin_reap() {
	local root=$1 pid
	pid=$(standin_field "$root" pid 2>/dev/null) || return 0
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	if [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == *etcd* ]]; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

standin_start() {
	local root=$1 ns=$2 node=$3
	shift 3
	mkdir -p "$root"
	python3 "$STANDIN" --root "$root" --netns "$ns" --node-name "$node" --grace 5 \
		--backoff-initial 1 --backoff-max 4 "$@" >>"$T/standin-$node.log" 2>&1 &
	STANDIN_PID=$!
	on_exit "_standin_reap '$root'"
	on_exit "standin_stop $STANDIN_PID"
}

standin_stop() {
	kill -TERM "$1" 2>/dev/null || return 0
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

standin_field() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' \
		"$1/var/lib/kubelet-standin/pods/etcd/status.json" "$2"
}

standin_field_is() {
	test "$(standin_field "$1" "$2")" "$3" "$4"
}

pod_log_dir() {
	local d
	for d in "$1"/var/log/pods/kube-system_${2:-etcd-*}_*; do
		[[ -d $d ]] && { echo "$d"; return 0; }
	done
	return 1
}

# cri_framed FILE...: "<RFC3339Nano> <stdout|stderr> <P|F> <text>" on every
# line (what containerd writes and the kubelet reads back); says which line
# is not, and fails then.
cri_framed() {
	python3 - "$@" <<'PY'
import re, sys
line_re = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d) (stdout|stderr) (P|F) ")
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    if data and not data.endswith(b"\n"):
        sys.exit(f"{path}: does not end with a newline")
    for n, line in enumerate(data.split(b"\n")[:-1], 1):
        if not line_re.match(line):
            sys.exit(f"{path}:{n}: not a CRI log line: {line[:120]!r}")
PY
}
