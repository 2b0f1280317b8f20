#!/usr/bin/env bash
# t32: an existing etcd.yaml that etcdpilot must not take over - not YAML,
# another pod, another member - makes init fail with a clear message that
# names the file, and nothing on the node changes.
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
