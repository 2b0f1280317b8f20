#!/usr/bin/env bash
# t32: an existing etcd.yaml that etcdpilot must not take over - not YAML,
# another pod, another member - makes init fail with a clear message that
# names the file, and nothing on the node changes; and a new member's
# preflight reports every failed check at once.
. "$(dirname "$0")/lib.sh"

FLAGS=(--name n1 --advertise-address 127.0.0.1 --etcd-version 3.4.23 --key-type ecdsa-p256)

bad() { # DESCRIPTION CONTENT REGEX
	local root=$T/$RANDOM
	mkdir -p "$root/etc/kubernetes/manifests"
	printf '%s' "$2" >"$root/etc/kubernetes/manifests/etcd.yaml"
	local before
	before=$(tree_digest "$root")
	run "$EP" --root "$root" init "${FLAGS[@]}"
	expect_rc 1 "$1: init fails"
	expect_in "$T/err" "$3" "$1: the message says why"
	expect_in "$T/err" "$root/etc/kubernetes/manifests/etcd.yaml" "$1: and names the file"
	expect_eq "$(tree_digest "$root")" "$before" "$1: nothing changed"
}

bad "not YAML" $'apiVersion: v1\nkind: Pod\nmetadata: {name: [etcd\n' \
	'etcd.yaml:4:1: not valid YAML'
bad "another kind" $'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: etcd\n' \
	"not a Pod manifest \\(kind 'Deployment'\\)"
bad "another pod" $'apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\nspec:\n  containers:\n  - name: kube-apiserver\n' \
	"a different pod \\('kube-apiserver', not 'etcd'\\)"
"$EP" render manifest --name n7 --advertise-address 127.0.0.1 --etcd-version 3.4.23 >"$T/n7.yaml" ||
	fail "render manifest for n7"
bad "another member" "$(cat "$T/n7.yaml")" \
	"the manifest is for member 'n7', not for this node's 'n1'"
bad "a pod in another namespace" $'apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: default\nspec:\n  containers:\n  - name: etcd\n' \
	"the pod 'etcd' there is in namespace 'default', not 'kube-system'"

# Preflight for a new member reports every failed check at once, as kubeadm
# does, and writes nothing: here the data dir is a file and two ports are taken.
P=$T/preflight
mkdir -p "$P/var/lib"
echo "not a directory" >"$P/var/lib/etcd"
PORT_C=$(free_port)
PORT_M=$(free_port)
cat >"$T/ports.yaml" <<YAML
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  local:
    extraArgs:
    - name: listen-client-urls
      value: https://127.0.0.1:$PORT_C
    - name: listen-metrics-urls
      value: http://127.0.0.1:$PORT_M
YAML
python3 -c '
import socket, sys, time
ss = []
for p in sys.argv[1:]:
    s = socket.socket(); s.bind(("127.0.0.1", int(p))); s.listen(); ss.append(s)
print("ready", flush=True)
time.sleep(30)' "$PORT_C" "$PORT_M" >"$T/holder.out" &
HOLDER=$!
on_exit "kill $HOLDER"
wait_for 10 grep -q ready "$T/holder.out" || fail "holding two ports"
before=$(tree_digest "$P")
run "$EP" --root "$P" --config "$T/ports.yaml" init "${FLAGS[@]}"
expect_rc 1 "preflight failures: init fails"
expect_in "$T/err" "^	\[ERROR DirAvailable--var-lib-etcd\]: the data directory '/var/lib/etcd' \($P/var/lib/etcd\) exists and is not a directory" \
	"every failed check is listed on its own line, by kubeadm's name: the data dir"
expect_in "$T/err" "^	\[ERROR Port-$PORT_C\]: port $PORT_C on '127.0.0.1' is in use \(--listen-client-urls=https://127.0.0.1:$PORT_C\)" \
	"the client port"
expect_in "$T/err" "^	\[ERROR Port-$PORT_M\]: port $PORT_M on '127.0.0.1' is in use \(--listen-metrics-urls=http://127.0.0.1:$PORT_M\)" \
	"the metrics port"
expect_in "$T/err" "\[preflight\] 3 checks failed \(listed above\); nothing was changed: .*--ignore-preflight-errors=DirAvailable--var-lib-etcd" \
	"the error counts them and says how to make one non-fatal"
run "$EP" --root "$P" --config "$T/ports.yaml" init "${FLAGS[@]}" --dry-run
expect_rc 1 "--dry-run with failing checks exits 1"
expect_in "$T/out" "^\[dryrun\] \[etcd\] Would write /etc/kubernetes/manifests/etcd.yaml" \
	"but shows the whole plan (issue 11 item 6)"
expect_in "$T/err" "a real run would stop at preflight" "and says a real run would stop"
run "$EP" --root "$P" --config "$T/ports.yaml" init "${FLAGS[@]}" --dry-run \
	--ignore-preflight-errors "Port-$PORT_C,Port-$PORT_M,DirAvailable--var-lib-etcd"
expect_rc 0 "--ignore-preflight-errors turns the named checks into warnings"
expect_in "$T/err" "^	\[WARNING Port-$PORT_C\]: " "each shown as a warning"
expect_eq "$(tree_digest "$P")" "$before" "preflight failures: nothing changed"
kill "$HOLDER" 2>/dev/null
