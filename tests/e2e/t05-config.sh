#!/usr/bin/env bash
# config print: the committed kubeadm examples print exactly the committed
# effective spec, -o json is one valid JSON document, a malformed config is
# exit 2 with FILE:LINE:COL, and flags win over the file; -v says where each
# field came from, and what it prints still loads as --config.
. "$(dirname "$0")/lib.sh"

EX=$SRC/manifests/examples

for v in v1beta4 v1beta3; do
	run "$EP" config print --config "$EX/kubeadm-$v.yaml"
	expect_rc 0 "config print of kubeadm-$v.yaml exits 0"
	if ! diff -u "$EX/kubeadm-$v.print.yaml" "$T/out" >&2; then
		fail "kubeadm-$v.yaml prints kubeadm-$v.print.yaml byte for byte"
	fi
	pass "kubeadm-$v.yaml prints kubeadm-$v.print.yaml byte for byte"
done

run "$EP" config print --config "$EX/kubeadm-v1beta4.yaml"
expect_in "$T/err" "^\[config\] .*kubeadm-v1beta4.yaml:[0-9]+: skipping KubeletConfiguration \(not about etcd\)$" \
	"the KubeletConfiguration document is skipped with a note on stderr"

run "$EP" config print --config "$EX/kubeadm-v1beta4.yaml" -o json
expect_rc 0 "config print -o json exits 0"
if ! python3 -m json.tool "$T/out" >/dev/null 2>"$T/jsonerr"; then
	cat "$T/jsonerr" >&2
	fail "-o json prints valid JSON"
fi
pass "-o json prints valid JSON"
# The YAML and the JSON are the same document.
python3 - "$EX/kubeadm-v1beta4.print.yaml" "$T/out" <<'PY' || fail "YAML and JSON output hold the same data"
import json, sys, yaml
y = yaml.safe_load(open(sys.argv[1]))
j = json.load(open(sys.argv[2]))
sys.exit(0 if y == j else 1)
PY
pass "YAML and JSON output hold the same data"

for f in join-v1beta4 etcdpilot-systemd; do
	run "$EP" config print --config "$EX/$f.yaml" -o json
	expect_rc 0 "$f.yaml loads"
done
expect_in "$T/out" '"mode": "systemd"' "the EtcdPilotConfiguration example is in systemd mode"

cat >"$T/bad.yaml" <<'YAML'
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  local:
    extraArgs:
    - name: --snapshot-count
      value: "5000"
YAML
run "$EP" config print --config "$T/bad.yaml" --advertise-address 10.0.0.1
expect_rc 2 "a malformed config exits 2"
expect_in "$T/err" "bad\.yaml:6:13: etcd\.local\.extraArgs\[0\]\.name: '--snapshot-count' starts with a dash" \
	"the error names FILE:LINE:COL and the field path"
expect_eq "$(wc -c <"$T/out")" 0 "nothing on stdout when the config is bad"

printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd: {local: {dataDir: /x}\n' >"$T/syntax.yaml"
run "$EP" config print --config "$T/syntax.yaml" --advertise-address 10.0.0.1
expect_rc 2 "a YAML syntax error exits 2"
expect_in "$T/err" "syntax\.yaml:[0-9]+:[0-9]+: yaml: " "a syntax error has FILE:LINE:COL"

run "$EP" config print --config "$EX/kubeadm-v1beta4.yaml" --name cp-9 --advertise-address 10.9.9.9 \
	--data-dir /srv/etcd --key-type rsa-4096 --timeout 90s
expect_rc 0 "flags with a config exit 0"
expect_in "$T/out" '^name: cp-9$' "--name overrides nodeRegistration.name"
expect_in "$T/out" '^advertiseAddress: 10\.9\.9\.9$' "--advertise-address overrides localAPIEndpoint"
expect_in "$T/out" '^dataDir: /srv/etcd$' "--data-dir overrides etcd.local.dataDir"
expect_in "$T/out" '^keyType: RSA-4096$' "--key-type overrides encryptionAlgorithm"
expect_in "$T/out" '^timeout: 1m30s$' "--timeout overrides timeouts.controlPlaneComponentHealthCheck"
expect_in "$T/out" '^imageTag: 3\.6\.6-0$' "what no flag touches stays as the file says"

run "$EP" config print --config "$EX/kubeadm-v1beta4.yaml" --name Bad_Name
expect_rc 2 "a bad flag value exits 2"
expect_in "$T/err" "--name: 'Bad_Name' is not a valid node name \(lowercase RFC 1123: a-z, 0-9, '-', '\.'\)" \
	"the flag error names the flag"

run "$EP" config print --config "$T/missing.yaml"
expect_rc 2 "a missing config file exits 2"

# What config print writes loads again as --config and prints the same (YAML and JSON).
for v in v1beta4 v1beta3; do
	run "$EP" config print --config "$EX/kubeadm-$v.print.yaml"
	expect_rc 0 "config print's output ($v) loads as --config"
	cmp -s "$T/out" "$EX/kubeadm-$v.print.yaml" || fail "and prints the same again ($v)"
	pass "and prints the same again ($v)"
done
"$EP" config print --config "$EX/kubeadm-v1beta4.yaml" -o json >"$T/print.json" 2>/dev/null
run "$EP" config print --config "$T/print.json"
expect_rc 0 "the JSON form loads as --config too"
cmp -s "$T/out" "$EX/kubeadm-v1beta4.print.yaml" || fail "and prints the same"
pass "and prints the same"

# A v1beta3-only field in a v1beta4 file: a warning naming the v1beta4 field.
printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\napiServer:\n  timeoutForControlPlane: 6m\n' >"$T/v3field.yaml"
run "$EP" config print --config "$T/v3field.yaml" --name cp1 --advertise-address 10.0.0.1
expect_rc 0 "a v1beta3 field in v1beta4 is not an error"
expect_in "$T/err" "v3field\.yaml:4:3: WARNING: apiServer\.timeoutForControlPlane is kubeadm\.k8s\.io/v1beta3 only and is ignored; in v1beta4 it is timeouts\.controlPlaneComponentHealthCheck" \
	"but a warning that names the v1beta4 field"

# A tab gets a sentence, not libyaml's "cannot start any token".
printf 'apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n\tlocal: {}\n' >"$T/tab.yaml"
run "$EP" config print --config "$T/tab.yaml" --name cp1 --advertise-address 10.0.0.1
expect_rc 2 "a tab in the config exits 2"
expect_in "$T/err" "tab\.yaml:4:1: yaml: a tab character where YAML allows only spaces \(YAML indents with spaces; replace the tab with spaces\)" \
	"and says so in a sentence"

# config print -v: where each field came from (issue 9 item 5): the file
# with FILE:LINE:COL and the field's path, a flag, the environment, a
# default, what is derived and what is detected.
run env ETCDPILOT_SYSTEMCTL=/opt/sc/systemctl "$EP" config print --config "$EX/kubeadm-v1beta4.yaml" \
	--name cp-9 --key-type rsa-4096 -v
expect_rc 0 "config print -v exits 0"
cp "$T/out" "$T/v.yaml"
expect_in "$T/v.yaml" '^name: cp-9 +# from --name$' "-v: a flag names itself"
expect_in "$T/v.yaml" '^keyType: RSA-4096 +# from --key-type$' "-v: the flag, not the file's encryptionAlgorithm"
expect_in "$T/v.yaml" '^advertiseAddress: 10\.0\.0\.11 +# from .*/kubeadm-v1beta4\.yaml:29:21 \(localAPIEndpoint\.advertiseAddress\)$' \
	"-v: a file field has FILE:LINE:COL and its path there"
expect_in "$T/v.yaml" '^dataDir: /var/lib/etcd +# from .*/kubeadm-v1beta4\.yaml:68:14 \(etcd\.local\.dataDir\)$' \
	"-v: a nested file field too"
expect_in "$T/v.yaml" '^extraArgs: +# from .*/kubeadm-v1beta4\.yaml:70:7 \(etcd\.local\.extraArgs\)$' \
	"-v: a list's origin is on its key's line"
expect_in "$T/v.yaml" '^etcdVersion: 3\.6\.6 +# derived from imageTag 3\.6\.6-0 \(.*/kubeadm-v1beta4\.yaml:67:15: etcd\.local\.imageTag\)$' \
	"-v: the etcd version is derived from the image tag, which the file gave"
expect_in "$T/v.yaml" '^manifestDir: /etc/kubernetes/manifests +# default$' "-v: a default says so"
expect_in "$T/v.yaml" '^  systemctl: /opt/sc/systemctl +# from \$ETCDPILOT_SYSTEMCTL$' \
	"-v: \$ETCDPILOT_SYSTEMCTL is an origin"
expect_in "$T/v.yaml" '^  unitPath: /etc/systemd/system/etcd\.service +# default$' "-v: nested defaults"
expect_eq "$(grep -c ' # ' "$T/v.yaml")" 37 "-v: one comment per printed field"
# Only comments were added.
run env ETCDPILOT_SYSTEMCTL=/opt/sc/systemctl "$EP" config print --config "$EX/kubeadm-v1beta4.yaml" \
	--name cp-9 --key-type rsa-4096
sed -E 's/ +# .*$//' "$T/v.yaml" | cmp -s - "$T/out" || fail "-v adds comments and nothing else"
pass "-v adds comments and nothing else"
cp "$T/out" "$T/plain.yaml"
# What -v prints loads as --config and prints the same spec.
run "$EP" config print --config "$T/v.yaml"
expect_rc 0 "config print -v output loads as --config"
cmp -s "$T/out" "$T/plain.yaml" || fail "and prints the same spec again"
pass "and prints the same spec again"
run "$EP" config print --config "$T/v.yaml" -v
expect_in "$T/out" '^name: cp-9 +# from .*/v\.yaml:3:7 \(name\)$' "loaded again, every field is the file's"

# Detected: the host name (and the default route's address, where there is one).
if grep -Eq '^[^[:space:]]+[[:space:]]+00000000[[:space:]]' /proc/net/route; then
	run "$EP" config print -v
	expect_rc 0 "config print -v without a file or flags"
	expect_in "$T/out" '^advertiseAddress: [0-9.]+ +# detected: interface [^ ]+ \(default route\)$' \
		"-v: the address is detected, naming the interface of the default route"
else
	run "$EP" config print -v --advertise-address 10.0.0.1
	expect_rc 0 "config print -v without a file (no default route here)"
fi
expect_in "$T/out" '^name: [^ ]+ +# detected: the host name$' "-v: the name is the host's"
expect_in "$T/out" '^imageTag: 3\.6\.6-0 +# derived from etcdVersion 3\.6\.6$' "-v: the image tag follows the version"

# -o json -v: an "origins" object beside the unchanged fields, and it loads as --config too.
run "$EP" config print --config "$EX/kubeadm-v1beta4.yaml" --name cp-9 -o json -v
expect_rc 0 "config print -o json -v exits 0"
cp "$T/out" "$T/v.json"
python3 - "$T/v.json" "$EX/kubeadm-v1beta4.print.yaml" <<'PY' || fail "-o json -v: the spec plus origins"
import json, sys, yaml
j = json.load(open(sys.argv[1]))
o = j.pop("origins")
want = yaml.safe_load(open(sys.argv[2]))
want["name"] = "cp-9"
assert j == want, "the fields are those of -o json"
assert o["name"] == {"kind": "flag", "detail": "--name", "text": "from --name"}, o["name"]
f = o["certificatesDir"]
assert f["kind"] == "file" and f["detail"].endswith("kubeadm-v1beta4.yaml:44:18") and f["path"] == "certificatesDir", f
assert o["etcdVersion"]["kind"] == "derived", o["etcdVersion"]
assert o["systemd.binDir"] == {"kind": "default", "text": "default"}, o["systemd.binDir"]
assert len(o) == 37, len(o)
PY
pass "-o json -v: the spec plus origins"
run "$EP" config print --config "$T/v.json"
expect_rc 0 "config print -o json -v output loads as --config"
expect_in "$T/out" '^name: cp-9$' "and holds the same spec"

# Nothing re-reads the config file to learn what was pinned.
if grep -rn raw_config "$SRC/cmd" "$SRC/src" >&2; then
	fail "no command re-parses --config (raw_config)"
fi
pass "no command re-parses --config (raw_config)"
