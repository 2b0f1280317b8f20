#!/usr/bin/env bash
# t06: hostile and contradictory configuration, as a new user would write it
# (issues 10 and 11): every case exits 2 with where it is and what to do, in
# both modes alike, and leaves the node root untouched; an extraArgs data-dir
# alone becomes the data dir, and a member started that way keeps its data
# in the volume.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-standin.sh"

R=$T/root
mkdir -p "$R"
F=(--name cp1 --advertise-address 10.0.0.11)
V4C='apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration'

# refused CASE FILE-OR-- REGEX ARGS...: render manifest, render unit and
# init --dry-run all exit 2 with REGEX on stderr, nothing under $R changes.
refused() {
	local what=$1 re=$2
	shift 2
	local before
	before=$(tree_digest "$R")
	for cmd in "render manifest" "render unit" "init --dry-run"; do
		# shellcheck disable=SC2086
		run "$EP" --root "$R" $cmd "$@" --etcd-version 3.6.6
		expect_rc 2 "$what: $cmd exits 2"
		expect_in "$T/err" "$re" "$what: $cmd says where and why"
	done
	expect_not_in "$T/out" 'Generating' "$what: nothing was planned"
	expect_eq "$(tree_digest "$R")" "$before" "$what: the node root is untouched"
}

# issue 11.2 / 10.3: an extraArgs data-dir against dataDir
cat >"$T/datadir.yaml" <<YAML
$V4C
etcd:
  local:
    dataDir: /data/etcd
    extraArgs:
    - name: data-dir
      value: /elsewhere
YAML
refused "data-dir against dataDir" \
	"datadir\.yaml:7:13: etcd\.local\.extraArgs\[0\]: --data-dir='/elsewhere' contradicts the data directory '/data/etcd' \(.*datadir\.yaml:5:14: etcd\.local\.dataDir\): etcd would keep its data outside the etcd-data volume" \
	--config "$T/datadir.yaml" "${F[@]}"

# ... and alone it is the data dir: the volume, the mount and the unit follow.
sed -i '/dataDir:/d' "$T/datadir.yaml"
run "$EP" render manifest --config "$T/datadir.yaml" "${F[@]}"
expect_rc 0 "an extraArgs data-dir alone is taken"
expect_eq "$(grep -c -- '/elsewhere' "$T/out")" 3 "flag, mount and hostPath all name it"
expect_in "$T/out" '^    - mountPath: /elsewhere$' "the volume is mounted there"
run "$EP" render unit --config "$T/datadir.yaml" "${F[@]}" --etcd-version 3.6.6
expect_rc 0 "render unit takes it too"
expect_in "$T/out" '^ETCD_DATA_DIR=/elsewhere$' "the unit's data dir is it"

# issue 11.2: name, certificate flags, URLs
printf '%s\netcd:\n  local:\n    extraArgs:\n    - name: name\n      value: other\n' "$V4C" >"$T/name.yaml"
refused "a --name other than the node's" \
	"name\.yaml:6:13: etcd\.local\.extraArgs\[0\]: --name='other' contradicts the node name 'cp1'" \
	--config "$T/name.yaml" "${F[@]}"
printf '%s\netcd:\n  local:\n    extraArgs:\n    - name: peer-cert-file\n      value: /etc/ssl/peer.crt\n' "$V4C" >"$T/cert.yaml"
refused "a certificate outside the mounted directory" \
	"cert\.yaml:6:13: etcd\.local\.extraArgs\[0\]: --peer-cert-file='/etc/ssl/peer\.crt' is not a file in /etc/kubernetes/pki/etcd" \
	--config "$T/cert.yaml" "${F[@]}"
printf '%s\netcd:\n  local:\n    extraArgs:\n    - name: advertise-client-urls\n      value: https://10.9.9.9:2379\n' "$V4C" >"$T/url.yaml"
refused "an advertised host the certificate does not cover" \
	"url\.yaml:6:13: etcd\.local\.extraArgs\[0\]: --advertise-client-urls: '10\.9\.9\.9' is not among the SANs of the server certificate.*add it to etcd\.local\.serverCertSANs" \
	--config "$T/url.yaml" "${F[@]}"

# issue 10.10: unusable advertise addresses, flag and config
for a in 0.0.0.0 :: 255.255.255.255 224.0.0.1; do
	refused "--advertise-address $a" "--advertise-address: '$a' is (the unspecified|the broadcast|a multicast) address" \
		--name cp1 --advertise-address "$a"
	printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: "%s"\n' "$a" >"$T/addr.yaml"
	refused "advertiseAddress $a" "addr\.yaml:4:21: localAPIEndpoint\.advertiseAddress: '$a' is" \
		--config "$T/addr.yaml" --name cp1
done

# issue 10.14: data directories
refused "a newline in --data-dir" "--data-dir: '/var/lib/etcd\?x' contains a newline" \
	"${F[@]}" --data-dir $'/var/lib/etcd\nx'
refused "the data dir inside the certificate dir" \
	"--data-dir: '/etc/kubernetes/pki/etcd-data' is inside certificatesDir '/etc/kubernetes/pki'" \
	"${F[@]}" --data-dir /etc/kubernetes/pki/etcd-data
refused "the data dir equal to the manifest dir" \
	"--data-dir: '/etc/kubernetes/manifests' is manifestDir '/etc/kubernetes/manifests'" \
	"${F[@]}" --data-dir /etc/kubernetes/manifests

# issue 10.16: one validation for both modes
printf '%s\netcd:\n  local:\n    extraArgs:\n    - name: a/b\n      value: x\n' "$V4C" >"$T/slash.yaml"
refused "a flag named a/b" "slash\.yaml:6:13: etcd\.local\.extraArgs\[0\]\.name: 'a/b' is not an etcd flag name" \
	--config "$T/slash.yaml" "${F[@]}"
printf '%s\netcd:\n  local:\n    extraArgs:\n    - name: log-level\n      value: "info\\ndebug"\n' "$V4C" >"$T/nl.yaml"
refused "a newline in a value" "nl\.yaml:7:14: etcd\.local\.extraArgs\[0\]: --log-level: the value holds a newline" \
	--config "$T/nl.yaml" "${F[@]}"

# issue 10.15: 100 000 extraArgs: exit 2 in both modes (render unit was quadratic)
python3 - "$T/many.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  local:\n    extraArgs:\n")
    for i in range(100000):
        f.write("    - {name: flag-%d, value: \"1\"}\n" % i)
PY
run "$EP" render manifest --config "$T/many.yaml" "${F[@]}"
expect_rc 2 "render manifest refuses 100000 extraArgs with exit 2"
expect_in "$T/err" "the etcd manifest would be larger than 1024 KiB \(100000 extraArgs" "and says why"
run "$EP" render unit --config "$T/many.yaml" "${F[@]}" --etcd-version 3.6.6
expect_rc 2 "render unit refuses them with exit 2 too"
expect_in "$T/err" "/etc/etcd/etcd\.env would be larger than 1024 KiB \(100000 extraArgs" "and says why"

# issue 10.6: deep nesting is refused while parsing, in the config and in a manifest on the node
python3 -c 'import sys; sys.stdout.write("apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nnetworking: " + "[" * (4 * 1024 * 1024 - 100))' >"$T/deep.yaml"
run "$EP" config print --config "$T/deep.yaml" "${F[@]}"
expect_rc 2 "a 4 MiB nested config exits 2"
expect_in "$T/err" "deep\.yaml:3:76: yaml: nested more than 64 levels deep" "at the level past the limit"
D=$T/deepnode
mkdir -p "$D/etc/kubernetes/manifests"
python3 -c 'import sys; sys.stdout.write("apiVersion: v1\nkind: Pod\nspec: " + "[" * (1024 * 1024 - 40))' \
	>"$D/etc/kubernetes/manifests/etcd.yaml"
before=$(tree_digest "$D")
run "$EP" --root "$D" init --dry-run "${F[@]}"
expect_rc 1 "init --dry-run with a 1 MiB nested etcd.yaml on the node fails"
expect_in "$T/err" "etcd\.yaml:3:70: not valid YAML: nested more than 64 levels deep" "and says where"
expect_eq "$(tree_digest "$D")" "$before" "nothing changed"

# issue 11.1: a JoinConfiguration or external etcd never bootstraps a cluster
before=$(tree_digest "$R")
run "$EP" --root "$R" init --dry-run --config "$SRC/manifests/examples/join-v1beta4.yaml"
expect_rc 2 "init with a JoinConfiguration exits 2"
expect_in "$T/err" "join-v1beta4\.yaml:6:7: kind: a JoinConfiguration is for a node that joins an existing cluster, but 'etcdpilot init' bootstraps a new one.*Join with 'etcdpilot join ENDPOINT --config FILE'" \
	"and says to join instead"
expect_not_in "$T/out" 'Generating' "no CA is planned"
expect_eq "$(tree_digest "$R")" "$before" "the node root is untouched"
printf '%s\netcd:\n  external:\n    endpoints: [https://10.0.0.5:2379]\n' "$V4C" >"$T/ext.yaml"
run "$EP" --root "$R" init --dry-run --config "$T/ext.yaml" "${F[@]}"
expect_rc 2 "init with etcd.external exits 2"
expect_in "$T/err" "ext\.yaml:4:3: etcd\.external: etcd\.external names an etcd cluster that runs elsewhere, and etcdpilot manages only the member on this node" \
	"and says etcdpilot does not manage it"
expect_not_in "$T/out" 'Generating' "no CA is planned"

# issue 11.11: kubeadm patches for etcd and RootlessControlPlane are refused, not ignored
mkdir -p "$T/patches"
echo '[{"op": "replace", "path": "/spec/priority", "value": 0}]' >"$T/patches/etcd+json.json"
printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\npatches:\n  directory: %s\n' "$T/patches" >"$T/patch.yaml"
refused "a kubeadm patch for etcd" \
	"patch\.yaml:4:14: patches\.directory: '.*/patches/etcd\+json\.json' is a kubeadm patch for the etcd static pod, and etcdpilot does not apply patches" \
	--config "$T/patch.yaml" "${F[@]}"
printf '%s\nfeatureGates:\n  RootlessControlPlane: true\n' "$V4C" >"$T/rootless.yaml"
refused "RootlessControlPlane" "rootless\.yaml:4:25: featureGates\.RootlessControlPlane: etcdpilot does not run etcd rootless yet" \
	--config "$T/rootless.yaml" "${F[@]}"

# A member whose data dir came from extraArgs writes its data into the volume.
NS=ep-t06-$$
ADDR=10.206.0.2
node_netns "$NS" "$ADDR"
N=$T/n1
standin_start "$N" "$NS" n1
printf '%s\netcd:\n  local:\n    extraArgs:\n    - name: data-dir\n      value: /var/lib/etcd-elsewhere\n' "$V4C" >"$T/dd.yaml"
run in_ns "$NS" "$EP" --root "$N" --config "$T/dd.yaml" init --name n1 --advertise-address "$ADDR" \
	--etcd-version 3.4.23 --key-type ecdsa-p256 --timeout 60s
expect_rc 0 "init with an extraArgs data-dir brings the member up"
[[ -d $N/var/lib/etcd-elsewhere/member ]] || fail "etcd wrote its data into the volume at the extraArgs data-dir"
pass "etcd wrote its data into the volume at the extraArgs data-dir"
[[ -e $N/var/lib/etcd ]] && fail "and nothing into the default one"
pass "and nothing into the default one"
