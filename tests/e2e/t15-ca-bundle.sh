#!/usr/bin/env bash
# t15-ca-bundle: the etcd CA shared between two node roots without an API
# server: export-bundle on one, import-bundle on the other, then certs
# generate there signs with the shared CA (openssl verify agrees both ways).
# Every refusal - a wrong or malformed key, a flipped byte (armour, header,
# ciphertext), a truncated file, an expired bundle, a file that is no bundle,
# a different CA on the target - says what is wrong and leaves the target
# root byte for byte as it was.  A CA copied by hand keeps working.
. "$(dirname "$0")/lib.sh"

A=$T/a
B=$T/b
PA=$A/etc/kubernetes/pki
PB=$B/etc/kubernetes/pki
BUNDLE=$T/ca.bundle

run "$EP" certs generate --root "$A" --name cp1 --advertise-address 10.0.0.11 --key-type ecdsa-p256
expect_rc 0 "node a: generate its PKI"

# --- export ----------------------------------------------------------------------
run "$EP" certs export-bundle "$BUNDLE" --root "$A"
expect_rc 0 "export-bundle"
KEY=$(grep -oE -- '--certificate-key [0-9a-f]{64}( |$)' "$T/out" | cut -d' ' -f2 | sort -u)
expect_eq "${#KEY}" 64 "the certificate key is printed: 64 hex digits, one key"
expect_in "$T/out" "^	etcdpilot certs import-bundle $BUNDLE --certificate-key $KEY$" "the output says how to import it on the other node"
expect_in "$T/out" "^	etcdpilot join https://<a member's address>:2379 --ca-bundle $BUNDLE --certificate-key $KEY --name <node name> --advertise-address <node IP>$" \
	"and how to join with it (no member runs here: the endpoint is left to fill in)"
expect_in "$T/out" "it can be imported until [0-9-]{10}T[0-9:]{8}Z \(2h0m0s\)" "it says when it expires (2h by default)"
expect_eq "$(stat -c %a "$BUNDLE")" 600 "the bundle is written with mode 0600"
expect_eq "$(head -1 "$BUNDLE")" "-----BEGIN ETCDPILOT CA BUNDLE-----" "it is armoured text"
fpr=$(openssl x509 -in "$PA/etcd/ca.crt" -noout -fingerprint -sha256 | cut -d= -f2)
expect_in "$BUNDLE" "^CA-SHA256: $fpr$" "its header names the CA by openssl's SHA-256 fingerprint"
expect_not_in "$BUNDLE" "PRIVATE KEY|$KEY" "neither the CA key nor the certificate key is in the clear"
expect_not_in "$T/err" "." "nothing on stderr"

before="$(tree_digest "$A") $(sha256sum <"$BUNDLE")"
run "$EP" certs export-bundle "$BUNDLE" --root "$A"
expect_rc 2 "an existing file is not replaced without --force"
expect_in "$T/err" "'$BUNDLE' exists; choose another file, or add --force to replace it" "and says so"
expect_eq "$(tree_digest "$A") $(sha256sum <"$BUNDLE")" "$before" "neither the bundle nor the node changed"
cp -p "$BUNDLE" "$T/keep"
run "$EP" certs export-bundle "$T/keep" --root "$A" --force --ttl 10m
expect_rc 0 "--force replaces it"
expect_in "$T/out" "\(10m0s\)" "with the --ttl given"
expect_eq "$(stat -c %a "$T/keep")" 600 "still mode 0600"
# what --force never replaces: a device, a file in the PKI directory (the CA)
mknod "$T/dev" c 1 7
before="$(tree_digest "$A")"
run "$EP" certs export-bundle "$T/dev" --root "$A" --force
expect_rc 2 "--force does not replace a character device"
expect_in "$T/err" "'$T/dev' is a character device, not a regular file; a bundle is written to a regular file of its own" "says what it is"
[[ -c $T/dev ]] || fail "the device is still a device"
pass "the device is still a device"
run "$EP" certs export-bundle "$PA/etcd/ca.crt" --root "$A" --force
expect_rc 2 "--force does not replace the CA certificate"
expect_in "$T/err" "'$PA/etcd/ca.crt' is inside the PKI directory .*: a bundle never goes there" "says a bundle never goes into the PKI directory"
expect_eq "$(tree_digest "$A")" "$before" "the node unchanged by both"

run "$EP" certs export-bundle "$T/b.json" --root "$A" -o json
expect_rc 0 "export-bundle -o json"
cp "$T/out" "$T/export.json"
run python3 - "$T/export.json" "$T/b.json" "$fpr" <<'EOF'
import json, sys, datetime
doc = json.load(open(sys.argv[1]))
assert doc["apiVersion"] == "etcdpilot.io/v1alpha1" and doc["kind"] == "CABundle", doc
assert doc["file"] == sys.argv[2] and doc["caFingerprint"] == sys.argv[3], doc
assert len(doc["certificateKey"]) == 64 and int(doc["certificateKey"], 16) >= 0, doc
c = datetime.datetime.strptime(doc["created"], "%Y-%m-%dT%H:%M:%SZ")
e = datetime.datetime.strptime(doc["expires"], "%Y-%m-%dT%H:%M:%SZ")
assert (e - c).total_seconds() == 7200 and doc["dryRun"] is False, doc
EOF
expect_rc 0 "JSON: one CABundle document with the key, the file, the expiry and the fingerprint"

run "$EP" certs export-bundle "$T/dry" --root "$A" --dry-run
expect_rc 0 "export-bundle --dry-run"
expect_in "$T/out" "\[dryrun\] Would write file \"$T/dry\" with mode 0600" "the dry run says what it would write"
[[ ! -e $T/dry ]] || fail "the dry run wrote $T/dry"
pass "the dry run wrote nothing"

# --- export refusals ---------------------------------------------------------------
for ttl in 25h 0s abc 1500ms; do
	run "$EP" certs export-bundle "$T/x" --root "$A" --ttl $ttl
	expect_rc 2 "--ttl $ttl is refused"
done
expect_in "$T/err" "whole seconds" "and says what a ttl is"
run "$EP" certs export-bundle "$T/x" --root "$T/empty"
expect_rc 1 "no CA: refused"
expect_in "$T/err" "there is no etcd CA to export: '$T/empty/etc/kubernetes/pki/etcd/ca.crt' does not exist" "and says so"
mkdir -p "$T/ext/etc/kubernetes/pki/etcd" && cp "$PA/etcd/ca.crt" "$T/ext/etc/kubernetes/pki/etcd/"
run "$EP" certs export-bundle "$T/x" --root "$T/ext"
expect_rc 1 "an external CA (no ca.key): refused"
expect_in "$T/err" "the etcd CA is external: .* has no key .*, so there is no CA key to share" "and says why"
[[ ! -e $T/x ]] || fail "a refused export wrote $T/x"
pass "refused exports wrote nothing"

# --- import refusals: the target root is left exactly as it was ----------------------
mkdir -p "$PB"
refuse() { # EXIT REGEX DESCRIPTION -- ARGS...: import fails so and changes nothing
	local rc=$1 re=$2 what=$3 before
	shift 4
	before=$(tree_digest "$B")
	run "$EP" certs import-bundle --root "$B" "$@"
	expect_rc "$rc" "$what is refused (exit $rc)"
	expect_in "$T/err" "$re" "$what: the error says what"
	expect_eq "$(tree_digest "$B")" "$before" "$what: the target root is unchanged"
}
WRONG=$(printf '%s' "$KEY" | tr '0-9a-f' '1-9a-f0')
refuse 1 "the certificate key is wrong or the bundle '$BUNDLE' was altered" "a wrong key" -- "$BUNDLE" --certificate-key "$WRONG"
refuse 2 "the certificate key is 63 characters long" "a short key" -- "$BUNDLE" --certificate-key "${KEY:1}"
refuse 2 "no hexadecimal digit at position 64" "a key with a non-hex digit" -- "$BUNDLE" --certificate-key "${KEY:0:63}g"
refuse 2 "--certificate-key is required" "no key" -- "$BUNDLE"

flip() { # FILE OFFSET OUT: a copy of FILE with the byte at OFFSET changed
	python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[int(sys.argv[2])] ^= 0x01; open(sys.argv[3], "wb").write(b)' "$@"
}
flip_b64() { # FILE N OUT: a copy of FILE with its Nth base64 character (negative: from the end) another one
	python3 - "$@" <<'PY'
import sys
text = open(sys.argv[1]).read()
head, body = text.split("\n\n", 1)
body = body.split("-----END", 1)[0]
pos = [len(head) + 2 + i for i, c in enumerate(body) if c.isalnum() or c in "+/"]
i = pos[int(sys.argv[2])]
b = list(text)
b[i] = "A" if b[i] != "A" else "B"
open(sys.argv[3], "w").write("".join(b))
PY
}
size=$(stat -c %s "$BUNDLE")
flip_b64 "$BUNDLE" 30 "$T/flipped" # the nonce is the first 16 characters
refuse 1 "the certificate key is wrong or the bundle '$T/flipped' was altered" "a changed character in the ciphertext" -- "$T/flipped" --certificate-key "$KEY"
flip_b64 "$BUNDLE" 5 "$T/flipped"
refuse 1 "wrong or the bundle .* was altered" "a changed character in the nonce" -- "$T/flipped" --certificate-key "$KEY"
flip_b64 "$BUNDLE" -10 "$T/flipped" # the tag is the last 22
refuse 1 "wrong or the bundle .* was altered" "a changed character in the tag" -- "$T/flipped" --certificate-key "$KEY"
sed 's/^\(CA-SHA256: ..\):/\1;/' "$BUNDLE" >"$T/flipped"
refuse 2 "'$T/flipped' is damaged at line 5 \(not a SHA-256 fingerprint" "a flipped byte in the header" -- "$T/flipped" --certificate-key "$KEY"
year=$(sed -n '3s/^Created: \([0-9]\{4\}\).*/\1/p' "$BUNDLE")
sed "3s/^Created: $year/Created: $((year - 1))/" "$BUNDLE" >"$T/flipped"
refuse 1 "wrong or the bundle .* was altered" "an earlier Created time (the header is authenticated)" -- "$T/flipped" --certificate-key "$KEY"
flip "$BUNDLE" 3 "$T/flipped"
refuse 2 "'$T/flipped' is not an etcdpilot CA bundle" "a flipped byte in the BEGIN line" -- "$T/flipped" --certificate-key "$KEY"
for cut in 20 200 $((size / 2)) $((size - 10)); do
	head -c $cut "$BUNDLE" >"$T/cut"
	refuse 2 "'$T/cut' is truncated: it has no '-----END ETCDPILOT CA BUNDLE-----' line; copy the whole file again" "a bundle cut at $cut of $size bytes" -- "$T/cut" --certificate-key "$KEY"
done
sed 's/^Version: 1$/Version: 2/' "$BUNDLE" >"$T/v2"
refuse 2 "is a version 2 CA bundle; this etcdpilot reads version 1" "an unknown format version" -- "$T/v2" --certificate-key "$KEY"
refuse 2 "holds a PEM 'CERTIFICATE' block, not an etcdpilot CA bundle" "a certificate given as the bundle" -- "$PA/etcd/ca.crt" --certificate-key "$KEY"
refuse 2 "reading '$T/nonexistent': No such file or directory" "a missing file" -- "$T/nonexistent" --certificate-key "$KEY"

run "$EP" certs export-bundle "$T/short" --root "$A" --ttl 1s
expect_rc 0 "export-bundle --ttl 1s"
SHORT_KEY=$(grep -oE -- '--certificate-key [0-9a-f]{64}( |$)' "$T/out" | cut -d' ' -f2 | sort -u)
sleep 2 # the bundle expired one second after it was made; two have passed
refuse 1 "the CA bundle '$T/short' expired at [0-9-]{10}T[0-9:]{8}Z \(.* ago; it was made at .*\); make a new one: run 'etcdpilot certs export-bundle FILE'" "an expired bundle" -- "$T/short" --certificate-key "$SHORT_KEY"

# --- import ---------------------------------------------------------------------------
before=$(tree_digest "$B")
run "$EP" certs import-bundle "$BUNDLE" --root "$B" --certificate-key "$KEY" --dry-run
expect_rc 0 "import-bundle --dry-run"
expect_in "$T/out" "\[dryrun\] Would write file \"$PB/etcd/ca.key\" with mode 0600" "the dry run names the key and its mode"
expect_eq "$(tree_digest "$B")" "$before" "the dry run changed nothing"

run "$EP" certs import-bundle "$BUNDLE" --root "$B" --certificate-key "$KEY"
expect_rc 0 "import-bundle"
expect_in "$T/out" "\[certs\] Installed the etcd CA from the bundle \(SHA256 $fpr\)" "it says which CA it installed"
expect_in "$T/out" "Run 'etcdpilot certs generate' on this node" "and what comes next"
expect_eq "$(stat -c %a "$PB/etcd/ca.key")" 600 "ca.key mode 0600"
expect_eq "$(stat -c %a "$PB/etcd/ca.crt")" 644 "ca.crt mode 0644"
cmp -s "$PA/etcd/ca.key" "$PB/etcd/ca.key" && cmp -s "$PA/etcd/ca.crt" "$PB/etcd/ca.crt" ||
	fail "the imported pair is not byte for byte the exported one"
pass "the imported pair is byte for byte the exported one"
ls "$PB/etcd" | grep -q 'ep-' && fail "temporary files left in $PB/etcd"
pass "no temporary file left behind"

before=$(tree_digest "$B")
run "$EP" certs import-bundle "$BUNDLE" --root "$B" --certificate-key "$KEY"
expect_rc 0 "importing the same CA again succeeds"
expect_in "$T/out" "is already the bundle's CA \(SHA256 $fpr\): nothing to do" "and says there is nothing to do"
expect_eq "$(tree_digest "$B")" "$before" "and changes nothing"

run "$EP" certs generate --root "$B" --name cp2 --advertise-address 10.0.0.12 --key-type ecdsa-p256
expect_rc 0 "node b: generate its certificates"
expect_in "$T/out" '^\[certs\] Using the existing "etcd/ca" certificate and key$' "with the shared CA"
run openssl verify -CAfile "$PA/etcd/ca.crt" "$PB/etcd/server.crt" "$PB/etcd/peer.crt" \
	"$PB/etcd/healthcheck-client.crt" "$PB/apiserver-etcd-client.crt"
expect_rc 0 "openssl verify: node b's certificates chain to node a's CA"
run openssl verify -CAfile "$PB/etcd/ca.crt" "$PA/etcd/peer.crt"
expect_rc 0 "openssl verify: node a's peer certificate chains to node b's CA"

# --- a different CA on the target ------------------------------------------------------
C=$T/c
"$EP" certs generate --root "$C" --name cp3 --advertise-address 10.0.0.13 --key-type ecdsa-p256 >/dev/null ||
	fail "node c: generate"
before=$(tree_digest "$C")
run "$EP" certs import-bundle "$BUNDLE" --root "$C" --certificate-key "$KEY"
expect_rc 1 "a different CA on the node is not replaced"
expect_in "$T/err" "this node already has a different etcd CA: '$C/etc/kubernetes/pki/etcd/ca.crt' \(CN=etcd-ca, SHA256 [0-9A-F:]{95}\), and the bundle holds the CA SHA256 $fpr; installing it would split the cluster's trust" "the error names both CAs and why"
expect_eq "$(tree_digest "$C")" "$before" "the node's own CA is untouched"

# --- a CA copied by hand keeps working ----------------------------------------------------
D=$T/d
mkdir -p "$D/etc/kubernetes/pki/etcd"
cp "$PA/etcd/ca.crt" "$D/etc/kubernetes/pki/etcd/" && install -m 600 "$PA/etcd/ca.key" "$D/etc/kubernetes/pki/etcd/"
run "$EP" certs generate --root "$D" --name cp4 --advertise-address 10.0.0.14 --key-type ecdsa-p256
expect_rc 0 "a CA copied by hand: generate works"
run openssl verify -CAfile "$PA/etcd/ca.crt" "$D/etc/kubernetes/pki/etcd/server.crt"
expect_rc 0 "and signs with it"
run "$EP" certs export-bundle "$T/from-d" --root "$D"
expect_rc 0 "and that node can export the CA in turn"
