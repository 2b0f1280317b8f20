#!/usr/bin/env bash
# t02: every -o json document is exactly one JSON document on stdout, carries
# apiVersion and kind, and validates against its JSON Schema in
# docs/schemas/<kind>.json (Debian's python3-jsonschema); every command that
# takes -o json is run here (the list comes from the binary itself, so a new
# command with JSON output fails this test until it has a schema and a run
# here), against a real one- then two-member etcd and on scratch node roots;
# docs/json.md is made from the schemas.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

PY=/usr/bin/python3 # Debian's, with python3-jsonschema (hack/deps.sh)
SCHEMAS=$SRC/docs/schemas
J=$T/json
mkdir -p "$J"
"$PY" -c 'import jsonschema' 2>/dev/null || fail "python3-jsonschema is installed (hack/deps.sh)"

# The schemas themselves are valid JSON Schemas (draft 2020-12).
"$PY" - "$SCHEMAS" <<'PY' || fail "every schema in docs/schemas is a valid JSON Schema"
import json, os, sys
from jsonschema import Draft202012Validator
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    s = json.load(open(os.path.join(d, f)))
    Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema", f
    kind = s["title"]
    assert f == kind + ".json", f"{f}: titled {kind}"
    # A document names its kind, but for KeyspaceObject (docs/json.md says why).
    assert s["properties"]["kind"].get("const", kind) == kind or kind == "KeyspaceObject", f
PY
pass "every schema in docs/schemas is a valid JSON Schema named after its kind"

# doc NAME KIND CMD...: run CMD (exit 0, or $WANT_RC), keep stdout as NAME,
# and check it: one document, apiVersion and kind, valid against KIND's schema.
declare -A COVERED
WANT_RC=0
doc() {
	local name=$1 kind=$2
	shift 2
	run "$@"
	if [[ $RC -ne $WANT_RC ]]; then
		echo "--- stdout" >&2; cat "$T/out" >&2
		echo "--- stderr" >&2; cat "$T/err" >&2
		fail "$name: exit $RC, expected $WANT_RC"
	fi
	cp "$T/out" "$J/$name.json"
	"$PY" - "$J/$name.json" "$SCHEMAS" "$kind" <<'PY' || fail "$name: a valid $kind document"
import json, sys
from jsonschema import Draft202012Validator
path, schemas, kind = sys.argv[1:]
text = open(path).read()
doc, end = json.JSONDecoder().raw_decode(text)
assert text[end:].strip() == "", f"{path}: more than one document on stdout: {text[end:][:80]!r}"
schema = json.load(open(f"{schemas}/{kind}.json"))
if "const" in schema["properties"]["kind"]:
    assert doc.get("kind") == kind, f"{path}: kind {doc.get('kind')!r}, expected {kind!r}"
    assert isinstance(doc.get("apiVersion"), str) and "/" in doc["apiVersion"], f"{path}: apiVersion"
errors = sorted(Draft202012Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
for e in errors[:10]:
    print(f"{path}: {'/'.join(map(str, e.path)) or '(top)'}: {e.message[:300]}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY
	COVERED[$kind]=1
	# The command words (and what follows), to check every JSON command was run.
	local w words=
	for w in "${@:2}"; do
		[[ $w == -* ]] && break
		words+=${words:+ }$w
		COVERED["cmd:$words"]=1
	done
	pass "$name: one $kind document, valid against docs/schemas/$kind.json"
}

# --- on scratch node roots ----------------------------------------------------
doc version Version "$EP" version -o json
doc version-flag Version "$EP" --version -o json
N=(--name j1 --advertise-address 127.0.2.1 --key-type ecdsa-p256)
mkdir -p "$T/dry"
doc config-print EtcdPilotConfiguration "$EP" config print "${N[@]}" -o json
doc config-print-v EtcdPilotConfiguration "$EP" config print "${N[@]}" -o json -v
doc render-unit UnitFiles "$EP" render unit "${N[@]}" --etcd-version 3.5.21 -o json
doc init-dry-run Plan "$EP" init --root "$T/dry" "${N[@]}" --etcd-version 3.5.21 --dry-run -o json \
	--ignore-preflight-errors all
doc init-phase-dry-run Plan "$EP" init phase certs --root "$T/dry" "${N[@]}" --etcd-version 3.5.21 \
	--dry-run -o json --ignore-preflight-errors all

# --- against a real etcd ------------------------------------------------------
# kubeadm's ports: the scratch node made below for reset and convert describes member j1
ETCD_CLIENT_PORT=2379 ETCD_PEER_PORT=2380
etcd_cluster_start j 1 127.0.2
R=${ETCD_ROOT[1]}
CLIENT=(--endpoints "$ETCD_ENDPOINTS" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY")
doc certs-check-expiration CertificateExpirationInfo "$EP" certs check-expiration --root "$R" -o json
doc certs-export-bundle CABundle "$EP" certs export-bundle "$T/ca.bundle" --root "$R" -o json
doc certs-export-bundle-dry CABundle "$EP" certs export-bundle "$T/ca2.bundle" --root "$R" --dry-run -o json

doc health HealthReport "$EP" health "${CLIENT[@]}" -o json
doc member-list MemberList "$EP" member list "${CLIENT[@]}" -o json
doc member-add-dry MemberChangePlan "$EP" member add j2 https://127.0.2.2:22380 --learner --dry-run \
	"${CLIENT[@]}" -o json
doc member-add MemberAdded "$EP" member add j2 https://127.0.2.2:22380 --learner "${CLIENT[@]}" -o json
J2_CLUSTER=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["env"]["ETCD_INITIAL_CLUSTER"])' "$J/member-add.json")
etcd_member_define 2 j2 127.0.2.2
ETCD_INITIAL_CLUSTER=$J2_CLUSTER
etcd_member_run 2 existing
doc member-promote-dry MemberChangePlan "$EP" member promote j2 --dry-run "${CLIENT[@]}" -o json
doc member-promote MemberPromoted "$EP" member promote j2 --timeout 60s "${CLIENT[@]}" -o json
doc health-two HealthReport "$EP" health "${CLIENT[@]}" -o json
doc member-remove-dry MemberChangePlan "$EP" member remove j2 --dry-run "${CLIENT[@]}" -o json
# etcd refuses changes for 5 s after a member became active: the timeout lets it retry.
doc member-remove MemberRemoved "$EP" member remove j2 --timeout 30s "${CLIENT[@]}" -o json
etcd_member_stop 2

# A small /registry: a pod as JSON, a secret in plaintext.
"${ETCD_CTL[@]}" put /registry/pods/default/web-1 \
	'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1","namespace":"default","uid":"u-1"}}' >/dev/null &&
	"${ETCD_CTL[@]}" put /registry/secrets/default/token \
		'{"apiVersion":"v1","kind":"Secret","metadata":{"name":"token","namespace":"default"}}' >/dev/null ||
	fail "etcdctl put"
doc keyspace Keyspace "$EP" keyspace "${CLIENT[@]}" -o json --hot 2
WANT_RC=4 doc keyspace-check Keyspace "$EP" keyspace "${CLIENT[@]}" --check-encryption -o json
doc keyspace-get KeyspaceObject "$EP" keyspace get /registry/pods/default/web-1 "${CLIENT[@]}" -o json
doc keyspace-keys KeyList "$EP" keyspace get /registry/ --keys-only "${CLIENT[@]}" -o json

# join and reset plan against this cluster; snapshot save reads it.
JN=$T/node-j3
mkdir -p "$JN/etc/kubernetes/pki/etcd"
cp "$T/etcd-ca/ca.crt" "$T/etcd-ca/ca.key" "$JN/etc/kubernetes/pki/etcd/"
doc join-dry-run Plan "$EP" join "${ETCD_CLIENT_URL[1]}" --root "$JN" --name j3 --advertise-address 127.0.2.3 \
	--key-type ecdsa-p256 --etcd-version 3.5.21 --dry-run -o json --ignore-preflight-errors all
# reset reads back what runs the member: a node where init's files are (not started).
RN=$T/node-r1
mkdir -p "$RN/etc/kubernetes/pki/etcd"
cp "$T/etcd-ca/ca.crt" "$T/etcd-ca/ca.key" "$RN/etc/kubernetes/pki/etcd/"
run "$EP" init phase certs --root "$RN" "${N[@]}" --etcd-version 3.5.21 --ignore-preflight-errors all
expect_rc 0 "init phase certs on a scratch node (for reset)"
run "$EP" init phase etcd --root "$RN" "${N[@]}" --etcd-version 3.4.23 --ignore-preflight-errors all
expect_rc 0 "init phase etcd on a scratch node (for reset)"
doc reset-dry-run Plan "$EP" reset --root "$RN" "${CLIENT[@]}" --dry-run -o json
# convert reads back the same node's manifest (member j1 is in the live list)
doc convert-dry-run Plan "$EP" convert --to systemd --allow-downtime --etcd-binary /usr/bin/etcd --root "$RN" --dry-run -o json \
	--ignore-preflight-errors all
doc snapshot-save-dry Snapshot "$EP" snapshot save "$T/snap.db" "${CLIENT[@]}" --dry-run -o json
doc snapshot-save Snapshot "$EP" snapshot save "$T/snap.db" "${CLIENT[@]}" -o json

# --- every JSON command was run, every kind is documented ----------------------
run "$EP" render manifest -o json --name j1 --advertise-address 127.0.2.1
json_cmds=$(sed -n 's/.*commands with JSON output: //p' "$T/err" | tr ',' '\n' | sed 's/^ *//')
[[ -n $json_cmds ]] || fail "the binary lists the commands with JSON output"
while IFS= read -r c; do
	[[ -n ${COVERED["cmd:$c"]:-} ]] || fail "'$c -o json' is run and validated here"
done <<<"$json_cmds"
pass "every command with JSON output was run and validated: $(tr '\n' ',' <<<"$json_cmds" | sed 's/,$//; s/,/, /g')"

for s in "$SCHEMAS"/*.json; do
	k=$(basename "$s" .json)
	[[ -n ${COVERED[$k]:-} ]] || fail "schema $k.json has a document checked against it here"
done
pass "every schema was used"

"$PY" "$SRC/hack/json-doc.py" >"$T/json.md" || fail "hack/json-doc.py runs"
if ! diff -u "$SRC/docs/json.md" "$T/json.md" >"$T/json.md.diff"; then
	head -40 "$T/json.md.diff" >&2
	fail "docs/json.md is what hack/json-doc.py makes of the schemas (run: hack/json-doc.py > docs/json.md)"
fi
pass "docs/json.md lists every kind and field of the schemas (hack/json-doc.py)"
