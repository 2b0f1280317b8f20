# tests/e2e/lib-cluster.sh - simulated control-plane nodes on one switch,
# for scenarios with several members (join, reset).  Source it after lib.sh
# and lib-standin.sh.  Everything made here is torn down by lib.sh's cleanup
# (network namespaces, the stand-ins and the etcd they run), even when the
# scenario fails.
#
#   cluster_switch TAG BASE      a "switch" network namespace holding a bridge;
#                                BASE is the scenario's /24 ("10.61.0"): node i
#                                gets BASE.(10+i).  Nothing is added to the
#                                host's own namespace.
#   node_add I MODE [NAME]       node I: its namespace (eth0 on the switch), its
#                                root $T/nI, and its runtime: MODE static-pod
#                                starts a kubelet stand-in on the root; systemd
#                                uses hack/systemctl-standin (ETCDPILOT_SYSTEMCTL)
#   on_node I CMD...             run CMD in node I's namespace
#   ep_node I ARGS...            etcdpilot --root <root of I> ARGS... in node I's namespace
#   node_flags I                 the node flags of node I (name, address, mode ...)
#   link_cut I / link_restore I  the node's port on the switch down / up
#   ctl_json I ARGS...           etcdpilot member list -o json through node I's files
#   members_summary I            "name learner|voter" lines, sorted
#   wait_journal_state ROOT TYPE STATE [SECONDS]
#                                until the journal under ROOT shows an action of
#                                TYPE in STATE (a test hook that needs no product
#                                code: the journal is an interface)
#   wait_journal_undo ROOT TYPE KEY JSON [SECONDS]
#                                until that action's undo data holds KEY with
#                                the value JSON (say, promoting false)
#
# Node I's variables: NODE_NS[I], NODE_ADDR[I], NODE_ROOT[I], NODE_NAME[I],
# NODE_MODE[I], NODE_PORT[I].

declare -a NODE_NS NODE_ADDR NODE_ROOT NODE_NAME NODE_MODE NODE_PORT
SYSTEMCTL_STANDIN=$SRC/hack/systemctl-standin
export ETCDPILOT_SYSTEMCTL=$SYSTEMCTL_STANDIN

cluster_switch() {
	SW_TAG=$1
	SW_BASE=$2
	SW=ep-$SW_TAG-sw-$$
	ip netns add "$SW" || fail "cannot create network namespace $SW (root needed)"
	on_exit "ip netns del '$SW'"
	ip -n "$SW" link set lo up
	ip -n "$SW" link add br0 type bridge
	ip -n "$SW" link set br0 up
}

# The stand-in's etcd of a systemd node goes away even when the scenario fails.
_sd_stop() {
	local root=$1 pid f
	"$SYSTEMCTL_STANDIN" --root "$root" stop etcd.service >/dev/null 2>&1
	for f in supervisor.pid main.pid; do
		pid=$(cat "$root/run/systemd-standin/etcd.service/$f" 2>/dev/null) || continue
		[[ $pid -gt 0 ]] && kill -KILL "$pid" 2>/dev/null
	done
	return 0
}

node_add() {
	local i=$1 mode=$2 name=${3:-n$1}
	NODE_NS[$i]=ep-$SW_TAG-n$i-$$
	NODE_ADDR[$i]=$SW_BASE.$((10 + i))
	NODE_ROOT[$i]=$T/n$i
	NODE_NAME[$i]=$name
	NODE_MODE[$i]=$mode
	NODE_PORT[$i]=p$i
	local ns=${NODE_NS[$i]}
	ip netns add "$ns" || fail "cannot create network namespace $ns"
	on_exit "ip netns del '$ns'"
	ip -n "$ns" link set lo up
	ip -n "$SW" link add "p$i" type veth peer name eth0 netns "$ns"
	ip -n "$SW" link set "p$i" master br0
	ip -n "$SW" link set "p$i" up
	ip -n "$ns" addr add "${NODE_ADDR[$i]}/24" dev eth0
	ip -n "$ns" link set eth0 up
	mkdir -p "${NODE_ROOT[$i]}"
	if [[ $mode == static-pod ]]; then
		standin_start "${NODE_ROOT[$i]}" "$ns" "$name"
		NODE_STANDIN[$i]=$STANDIN_PID
	else
		on_exit "_sd_stop '${NODE_ROOT[$i]}'"
	fi
}

on_node() {
	local i=$1
	shift
	ip netns exec "${NODE_NS[$i]}" "$@"
}

ep_node() {
	local i=$1
	shift
	ip netns exec "${NODE_NS[$i]}" "$EP" --root "${NODE_ROOT[$i]}" "$@"
}

node_flags() {
	local i=$1
	local f=(--name "${NODE_NAME[$i]}" --advertise-address "${NODE_ADDR[$i]}"
		--etcd-version 3.4.23 --key-type ecdsa-p256 --mode "${NODE_MODE[$i]}")
	[[ ${NODE_MODE[$i]} == systemd ]] && f+=(--etcd-binary /usr/bin/etcd)
	[[ -n ${CLUSTER_CONFIG:-} ]] && f+=(--config "$CLUSTER_CONFIG")
	echo "${f[@]}"
}

link_cut() { ip -n "$SW" link set "${NODE_PORT[$1]}" down; }
link_restore() { ip -n "$SW" link set "${NODE_PORT[$1]}" up; }

# the CA of node FROM copied by hand to node TO
ca_copy() {
	local from=${NODE_ROOT[$1]}/etc/kubernetes/pki/etcd to=${NODE_ROOT[$2]}/etc/kubernetes/pki/etcd
	mkdir -p "$to"
	cp -p "$from/ca.crt" "$from/ca.key" "$to/"
}

ctl_json() {
	local i=$1
	shift
	ep_node "$i" member list -o json --endpoints "https://${NODE_ADDR[$i]}:2379" "$@"
}

# "name voter|learner started|unstarted" per member, sorted, asked through node I
members_summary() {
	ctl_json "$1" | python3 -c '
import json, sys
for m in json.load(sys.stdin)["members"]:
    print(m["name"] or m["id"], "learner" if m["is_learner"] else "voter", m["status"])' | sort
}

wait_journal_state() {
	local root=$1 type=$2 state=$3 secs=${4:-60}
	local deadline=$((SECONDS + secs))
	until python3 - "$root/var/lib/etcdpilot/journal.json" "$type" "$state" 2>/dev/null <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if any(a["type"] == sys.argv[2] and a["state"] == sys.argv[3] for a in d["actions"]) else 1)
PY
	do
		((SECONDS < deadline)) || return 1
		sleep 0.02
	done
}

wait_journal_undo() {
	local root=$1 type=$2 key=$3 value=$4 secs=${5:-60}
	local deadline=$((SECONDS + secs))
	until python3 - "$root/var/lib/etcdpilot/journal.json" "$type" "$key" "$value" 2>/dev/null <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
want = json.loads(sys.argv[4])
sys.exit(0 if any(a["type"] == sys.argv[2] and sys.argv[3] in a.get("undo", {}) and
                  a["undo"][sys.argv[3]] == want and type(a["undo"][sys.argv[3]]) is type(want)
                  for a in d["actions"]) else 1)
PY
	do
		((SECONDS < deadline)) || return 1
		sleep 0.02
	done
}
