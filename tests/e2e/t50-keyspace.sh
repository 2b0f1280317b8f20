#!/bin/bash
# t50-keyspace: `etcdpilot keyspace` and `keyspace get` against a real TLS
# etcd holding a realistic /registry written by k8s-registry.py (protobuf
# envelopes for built-in resources, JSON custom resources, secrets under
# every encryption provider and in plaintext, events and master leases on
# etcd leases, churned nodes and node leases, malformed values, a key with
# ESC/CR/LF): exact counts and byte totals per resource and namespace,
# escaping, the encryption check and its exit code, one object's metadata,
# keys-only like etcdctl, a keyspace that changes (and one that is
# compacted) between two pages of a walk, an endpoint that is down.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-etcd.sh"

etcd_cluster_start k 1 127.0.50
URL=${ETCD_CLIENT_URL[1]}
CLIENT=(--endpoints "$URL" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY")
GEN=(python3 "$SRC/tests/e2e/k8s-registry.py")
GENTLS=(--endpoint "$URL" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY")
PROBE=${EP_BUILD_DIR:-$(dirname "$EP")}/ep_keyspace_probe
[[ -x $PROBE ]] || fail "the test helper ep_keyspace_probe is built beside etcdpilot ($PROBE)"

"${GEN[@]}" write "${GENTLS[@]}" --out "$T/expected.json" || fail "k8s-registry.py write"
pass "a realistic /registry written ($(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keys"])' "$T/expected.json") keys)"

# json_check FILE PYTHON: assertions on the JSON document in FILE (as `d`),
# with the generator's expectations as `x`
json_check() {
	python3 -c "import json,sys; d=json.load(open(sys.argv[1])); x=json.load(open(sys.argv[2])); $2" "$1" "$3"
}

# compare_tree: keyspace's JSON (`d`, depth >= 2, all children kept) equals
# what the generator wrote (`x`), resource by resource and namespace by namespace
read -r -d '' COMPARE <<'EOF'
res = {r["resource"]: r for r in d["resources"]}
want = x["resources"]
assert set(res) == set(want), ("resources", sorted(set(res) ^ set(want)))
for name, w in want.items():
    r = res[name]
    for f in ("keys", "bytes", "key_bytes", "value_bytes", "leased"):
        assert r[f] == w[f], (name, f, r[f], w[f])
    assert r["encodings"] == w["encodings"], (name, r["encodings"], w["encodings"])
    assert r["versions"]["total"] == w["versions"] and r["versions"]["max"] == w["version_max"], (name, r["versions"])
    enc = {e["provider"] + "/" + e["key"]: e["keys"] for e in r["encryption"]}
    assert enc == w["encryption"], (name, enc, w["encryption"])
    kinds = {k["api_version"] + " " + k["kind"]: k["keys"] for k in r["kinds"]}
    assert kinds == w["kinds"], (name, kinds, w["kinds"])
    assert r["plaintext"] == len(w["plaintext_keys"]), (name, r["plaintext"])
    scope = "namespaced" if w["namespaces"] else "resource" if name == "ranges/serviceips" else "cluster"
    assert r["scope"] == scope, (name, r["scope"], scope)
    assert r["namespaces"] == len(w["namespaces"]), (name, r["namespaces"])
    if scope == "namespaced":
        got = {c["name"]: {"keys": c["keys"], "bytes": c["bytes"]} for c in r["children"]}
        assert got == w["namespaces"], (name, got, w["namespaces"])
        assert r["more"]["count"] == 0
    shares = r["share"]
    assert abs(shares - 100.0 * r["bytes"] / d["bytes"]) < 0.051, (name, shares)
assert d["keys"] == x["keys"] == sum(w["keys"] for w in want.values())
assert d["bytes"] == sum(w["bytes"] for w in want.values())
assert d["revision"] >= x["revision"]
b = [r["bytes"] for r in d["resources"]]
assert b == sorted(b, reverse=True), "resources largest first"
EOF

# --- the tree, exactly ----------------------------------------------------
run "$EP" keyspace "${CLIENT[@]}" -o json --top 100
expect_rc 0 "keyspace -o json: exit 0"
json_check "$T/out" "$COMPARE" "$T/expected.json" || fail "keys, bytes, encodings, encryption, kinds, versions, leases and namespaces per resource"
pass "every resource and namespace: keys, bytes, encodings, encryption, kinds, versions, leases as written"
json_check "$T/out" '
r = {r["resource"]: r for r in d["resources"]}
assert r["example.com/widgets"]["group"] and r["example.com/widgets"]["scope"] == "namespaced"
assert r["example.com/clusterwidgets"]["scope"] == "cluster" and r["minions"]["scope"] == "cluster"
assert r["services/specs"]["scope"] == "namespaced" and r["services/endpoints"]["namespaces"] == 1
assert [c["name"] for c in r["minions"]["children"]] == ["node-3", "node-2", "node-1"]
assert all(c["type"] == "object" for c in r["minions"]["children"])
assert r["configmaps"]["encodings"]["unknown"] == 4   # truncated, garbage, empty, huge
assert r["events"]["leased"] == 17 and r["masterleases"]["leased"] == 1 and d["leased"] == 18
assert r["leases"]["versions"]["max"] == 13
' "$T/expected.json" || fail "layout details"
pass "custom and cluster-scoped resources at the right depth; malformed values counted as unknown"

run "$EP" keyspace "${CLIENT[@]}" -o json --depth 1
json_check "$T/out" 'assert all("children" not in r for r in d["resources"]) and d["depth"] == 1' "$T/expected.json" ||
	fail "--depth 1 stops at resources"
run "$EP" keyspace "${CLIENT[@]}" -o json --depth 3 --top 2 --hot 3
json_check "$T/out" '
r = {r["resource"]: r for r in d["resources"]}
p = r["pods"]
assert len(p["children"]) == 2 and p["more"]["count"] == 2
assert [c["name"] for c in p["children"]] == ["kube-system", "team-a"]
ks = p["children"][0]
assert len(ks["children"]) == 2 and ks["more"]["count"] == 3 and ks["objects"] == 5
assert sum(c["bytes"] for c in ks["children"]) + ks["more"]["bytes"] == ks["bytes"]
assert [h["key"] for h in d["hot"]] == ["/registry/leases/kube-node-lease/node-3", "/registry/leases/kube-node-lease/node-2", "/registry/leases/kube-node-lease/node-1"]
assert [h["version"] for h in d["hot"]] == [13, 12, 11]
assert r["minions"]["hot"][0]["version"] == 6
' "$T/expected.json" || fail "--depth 3 --top 2 --hot 3"
pass "--depth, --top (with the rest summed) and --hot"

# --- text: escaped keys, no value content -----------------------------------
run "$EP" keyspace "${CLIENT[@]}" --depth 3 --top 100 --hot 2
expect_rc 0 "text: exit 0"
expect_in "$T/out" '^ +[0-9,]+ +[0-9.]+ [kM]?B +[0-9.]+%  pods \(namespaced, 4 namespaces\)$' "text: a resource row"
expect_in "$T/out" '^ +1 +[0-9.]+ [kM]?B +[0-9.]+%      \\x1b\[31mred\\r\\n$' "text: the key with ESC, CR and LF escaped"
[[ $(tr -cd '\033\r' <"$T/out" | wc -c) -eq 0 ]] || fail "no raw ESC or CR reaches the terminal"
pass "no raw ESC or CR in the output"
web0=$(python3 -c 'import hashlib; print(hashlib.sha256(b"web-0").hexdigest())')
expect_not_in "$T/out" "$web0" "no value content printed"
expect_in "$T/out" '^secrets: 14 of 17 values encrypted \(aescbc key .key1. 4, aesgcm key .key2. 3, secretbox key .key3. 2, kms-v1 key .kms-v1. 2, kms-v2 key .kms-v2. 3\); 3 in plaintext$' \
	"text: encryption at rest per provider and key"

# --- the encryption check ----------------------------------------------------
run "$EP" keyspace "${CLIENT[@]}" --check-encryption --depth 1
expect_rc 4 "--check-encryption with plaintext secrets: exit 4"
expect_in "$T/out" 'ENCRYPTION CHECK \(secrets\): FAILED, 3 of 17 values are stored in plaintext:' "the check says how many"
for s in db-password legacy-token tls-cert; do
	grep -q "^  /registry/secrets/team-b/$s\$" "$T/out" || fail "the check names $s"
done
pass "the check names every plaintext secret"
expect_in "$T/err" 'stored in plaintext' "and says so on stderr"
run "$EP" keyspace /registry/secrets/kube-system/ "${CLIENT[@]}" --check-encryption -o json
expect_rc 0 "only encrypted secrets under the prefix: exit 0"
json_check "$T/out" 'c = d["encryption_check"]; assert c["ok"] and c["values"] == 9 and c["plaintext"] == 0' "$T/expected.json" ||
	fail "check document"
run "$EP" keyspace "${CLIENT[@]}" --check-encryption --resource widgets.example.com,configmaps -o json
expect_rc 4 "--resource widgets.example.com,configmaps: exit 4"
json_check "$T/out" 'c = d["encryption_check"]; assert c["plaintext"] == 5 + 11 and c["resources"] == ["widgets.example.com", "configmaps"] and not c["unmatched"]' "$T/expected.json" ||
	fail "--resource in the EncryptionConfiguration spelling"
run "$EP" keyspace "${CLIENT[@]}" --resource secrets
expect_rc 2 "--resource without --check-encryption: usage error"
run "$EP" keyspace "${CLIENT[@]}" --depth 4
expect_rc 2 "--depth 4: usage error"

# --- one object ----------------------------------------------------------------
run "$EP" keyspace get /registry/pods/kube-system/etcd-node-1 "${CLIENT[@]}" -o json
expect_rc 0 "get a pod: exit 0"
modrev=$("${ETCD_CTL[@]}" get /registry/pods/kube-system/etcd-node-1 -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["mod_revision"])')
json_check "$T/out" "
assert d['api_version'] == 'v1' and d['kind'] == 'Pod' and d['encoding'] == 'protobuf'
assert d['namespace'] == 'kube-system' and d['name'] == 'etcd-node-1' and d['meta_from'] == 'value'
assert d['uid'] and d['creation_timestamp'] == '2024-05-01T12:00:00Z' and d['generation'] == 1
assert d['resource_version'] == '$modrev' and d['version'] == 3 and d['lease'] is None
assert d['create_revision'] == d['mod_revision'] - 2  # written three times
assert d['encrypted'] is False and d['encryption'] is None
" "$T/expected.json" || fail "pod metadata"
pass "get: a pod's apiVersion, kind, namespace/name, uid, creation time, resourceVersion"
run "$EP" keyspace get /registry/events/default/pod-0.17a8b000c4d2e "${CLIENT[@]}" -o json
json_check "$T/out" 'assert d["kind"] == "Event" and d["lease"] and int(d["lease"], 16) > 0' "$T/expected.json" ||
	fail "an event's lease"
run "$EP" keyspace get /registry/example.com/widgets/team-a/w1 "${CLIENT[@]}"
expect_rc 0 "get a custom resource: exit 0"
expect_in "$T/out" '^kind +Widget$' "get: a JSON custom resource's kind"
expect_in "$T/out" '^apiVersion +example.com/v1$' "get: its apiVersion"
run "$EP" keyspace get /registry/secrets/kube-system/s04 "${CLIENT[@]}"
expect_in "$T/out" "^encryption +aesgcm, key 'key2'$" "get: an encrypted secret's provider and key"
expect_in "$T/out" '^name +s04$' "get: its name, from the key"
run "$EP" keyspace get /registry/secrets/team-b/db-password "${CLIENT[@]}"
expect_in "$T/out" '^encryption +none: stored in plaintext' "get: a plaintext secret says so"
run "$EP" keyspace get /registry/pods/default/nope "${CLIENT[@]}"
expect_rc 1 "get a missing key: exit 1"
expect_in "$T/err" "no key '/registry/pods/default/nope' at revision [0-9]+" "and says so"

# --- keys only, like etcdctl ---------------------------------------------------
run "$EP" keyspace get --keys-only /registry/ "${CLIENT[@]}"
expect_rc 0 "--keys-only: exit 0"
"${ETCD_CTL[@]}" get /registry/ --prefix --keys-only -w json >"$T/ctl-keys.json" || fail "etcdctl get --keys-only"
python3 - "$T/out" "$T/ctl-keys.json" "$T/expected.json" <<'EOF' || fail "--keys-only lists what etcd holds, in order, escaped"
import base64, json, sys
keys = [base64.b64decode(kv["key"]) for kv in json.load(open(sys.argv[2]))["kvs"]]
def esc(b):  # the project's escaping, for the ASCII these keys hold
    named = {0x5c: "\\\\", 0x0a: "\\n", 0x0d: "\\r", 0x09: "\\t"}
    return "".join(named.get(c) or (chr(c) if 0x20 <= c < 0x7f else "\\x%02x" % c) for c in b)
got = open(sys.argv[1]).read().split("\n")[:-1]
assert len(got) == json.load(open(sys.argv[3]))["keys"] == len(keys), (len(got), len(keys))
assert got == [esc(k) for k in keys], "same keys as etcdctl, in its order"
assert "/registry/configmaps/evil/\\x1b[31mred\\r\\n" in got
EOF
pass "--keys-only: the same keys as etcdctl get --prefix --keys-only, escaped"
run "$EP" keyspace get --keys-only /registry/minions/ "${CLIENT[@]}" -o json
json_check "$T/out" 'assert d["keys"] == ["/registry/minions/node-1", "/registry/minions/node-2", "/registry/minions/node-3"] and d["count"] == 3 and d["complete"]' "$T/expected.json" ||
	fail "--keys-only -o json"

# --- a keyspace that changes during the walk ------------------------------------
# Pages of 7 keys; after the second page the generator deletes, adds and
# rewrites keys both behind and ahead of the walk.
run "$PROBE" "$URL" "$ETCD_CACERT" "$ETCD_CERT" "$ETCD_KEY" /registry/ 7 2 \
	"python3 $SRC/tests/e2e/k8s-registry.py mutate --endpoint $URL --cacert $ETCD_CACERT --cert $ETCD_CERT --key $ETCD_KEY --out $T/after.json"
expect_rc 0 "a walk with writes between its pages: exit 0"
json_check "$T/out" '
assert d["command_ran"] == 1 and d["requests"] > 10, d
want = {k: {"keys": v["keys"], "bytes": v["bytes"]} for k, v in x["resources"].items()}
assert d["resources"] == want, [(k, d["resources"].get(k), want.get(k)) for k in set(d["resources"]) | set(want) if d["resources"].get(k) != want.get(k)]
assert d["revision"] == x["revision"]
' "$T/expected.json" || fail "the walk shows the keyspace as it was at its first page's revision"
pass "changes during the walk: the view is the first page's revision, exactly"
run "$EP" keyspace "${CLIENT[@]}" -o json --top 100
json_check "$T/out" "$COMPARE" "$T/after.json" || fail "a new walk sees the changes"
pass "a new walk sees the changed keyspace, exactly"

# --- compacted during the walk ---------------------------------------------------
run "$PROBE" "$URL" "$ETCD_CACERT" "$ETCD_CERT" "$ETCD_KEY" /registry/ 7 2 \
	"python3 $SRC/tests/e2e/k8s-registry.py compact --endpoint $URL --cacert $ETCD_CACERT --cert $ETCD_CERT --key $ETCD_KEY"
expect_rc 1 "a walk whose revision is compacted meanwhile: exit 1"
expect_in "$T/err" 'revision [0-9]+ was compacted while the walk was under way \([0-9]+ of [0-9]+ keys read.*run it again' \
	"compaction: the error says what happened and what to do"

# --- endpoints ---------------------------------------------------------------------
run "$EP" keyspace --endpoints "https://127.0.50.9:22379,$URL" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" -o json
expect_rc 0 "the first endpoint down: the next one answers"
json_check "$T/out" "assert d['endpoint'] == '$URL'" "$T/expected.json" || fail "the document names the member read"
run "$EP" keyspace --endpoints https://127.0.50.9:22379 --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY"
expect_rc 1 "no member: exit 1"
expect_in "$T/err" 'connection refused' "no member: says why"
