#!/usr/bin/python3
"""k8s-registry.py - write a realistic Kubernetes /registry into a real etcd
and say exactly what was written, for the keyspace scenarios (t50).

    k8s-registry.py write   --endpoint URL --cacert F --cert F --key F --out EXPECTED.json
    k8s-registry.py mutate  --endpoint URL ... --out EXPECTED.json   (deletes, adds, rewrites)
    k8s-registry.py compact --endpoint URL ...                       (compacts to the current revision)

Values are built the way the API server stores them: built-in resources as
"k8s\\0" + runtime.Unknown{1 TypeMeta{1 apiVersion, 2 kind}, 2 raw, 3
contentEncoding, 4 contentType}, raw being the object whose field 1 is
ObjectMeta{1 name, 2 generateName, 3 namespace, 4 selfLink, 5 uid, 6
resourceVersion, 7 generation, 8 creationTimestamp{1 seconds, 2 nanos}};
custom resources as JSON; secrets partly encrypted at rest with every
provider's prefix ("k8s:enc:aescbc:v1:<key>:" ...) and partly in plaintext;
events and master leases attached to etcd leases; node leases and nodes
rewritten many times (churn); a few malformed values (a truncated envelope,
garbage, an empty value, a 1 MB value); a key with ESC, CR and LF in it;
and a key outside /registry.  Talks to etcd's JSON gateway over HTTPS with
the client certificate; python3 standard library only.

EXPECTED.json holds, per resource, what keyspace must report: keys, bytes
(keys + values), encodings, encryption providers and keys, kinds, leased
keys, the sum and maximum of versions, the namespaces with their keys and
bytes, and the plaintext keys of secrets.
"""
import argparse
import base64
import hashlib
import http.client
import json
import ssl
import sys
import urllib.parse


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, data):
    """A protobuf field: bytes/strings (wire type 2) or integers (wire type 0)."""
    if isinstance(data, int):
        return varint(num << 3) + varint(data)
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def uid(s):
    h = hashlib.sha256(s.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def envelope(api_version, kind, ns, name, size):
    """What the API server writes for a built-in object, padded with a spec to about @size bytes."""
    ts = field(1, 1714564800) + field(2, 0)
    meta = (field(1, name) + field(2, "") + field(3, ns) + field(4, "") + field(5, uid(ns + "/" + name))
            + field(6, "") + field(7, 1) + field(8, ts))
    meta += field(11, field(1, "app") + field(2, name.split("-")[0]))  # a label
    spec = hashlib.sha256(name.encode()).hexdigest().encode() * (1 + size // 64)
    obj = field(1, meta) + field(2, spec[:max(0, size - len(meta) - 40)])
    unknown = field(1, field(1, api_version) + field(2, kind)) + field(2, obj) + field(3, "") + field(4, "")
    return b"k8s\x00" + unknown


def cr_json(api_version, kind, ns, name, size):
    doc = {"apiVersion": api_version, "kind": kind,
           "metadata": {"creationTimestamp": "2024-05-01T12:00:00Z", "generation": 1, "name": name,
                        "uid": uid(ns + "/" + name)},
           "spec": {"replicas": 3, "note": "w" * size}}
    if ns:
        doc["metadata"]["namespace"] = ns
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def encrypted(prefix, size):
    return prefix.encode() + hashlib.sha512(prefix.encode()).digest() * (1 + size // 64)


class Etcd:
    def __init__(self, a):
        u = urllib.parse.urlparse(a.endpoint)
        ctx = ssl.create_default_context(cafile=a.cacert)
        ctx.load_cert_chain(a.cert, a.key)
        self.conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)

    def call(self, rpc, body):
        self.conn.request("POST", "/v3/" + rpc, json.dumps(body))
        r = self.conn.getresponse()
        d = json.loads(r.read() or b"{}")
        if r.status != 200:
            sys.exit(f"k8s-registry.py: {rpc}: HTTP {r.status}: {d}")
        return d

    def put(self, key, value, lease=0):
        body = {"key": base64.b64encode(key).decode(), "value": base64.b64encode(value).decode()}
        if lease:
            body["lease"] = str(lease)
        return int(self.call("kv/put", body)["header"]["revision"])

    def delete(self, key):
        self.call("kv/deleterange", {"key": base64.b64encode(key).decode()})

    def lease(self, ttl):
        return int(self.call("lease/grant", {"TTL": str(ttl)})["ID"])

    def revision(self):
        return int(self.call("kv/range", {"key": base64.b64encode(b"compact").decode()})["header"]["revision"])


NAMESPACES = ["default", "kube-system", "kube-public", "kube-node-lease", "team-a", "team-b"]


def registry(lease_events, lease_master):
    """(key, value, lease, writes) of the whole keyspace, in no order."""
    out = []

    def add(key, value, lease=0, writes=1):
        out.append((key if isinstance(key, bytes) else key.encode(), value, lease, writes))

    for ns in NAMESPACES:
        add(f"/registry/namespaces/{ns}", envelope("v1", "Namespace", "", ns, 300))
        add(f"/registry/configmaps/{ns}/kube-root-ca.crt", envelope("v1", "ConfigMap", ns, "kube-root-ca.crt", 1500))
        add(f"/registry/serviceaccounts/{ns}/default", envelope("v1", "ServiceAccount", ns, "default", 200))
    for i in range(1, 4):
        add(f"/registry/minions/node-{i}", envelope("v1", "Node", "", f"node-{i}", 4000 + 500 * i), writes=6)
        add(f"/registry/leases/kube-node-lease/node-{i}",
            envelope("coordination.k8s.io/v1", "Lease", "kube-node-lease", f"node-{i}", 250), writes=10 + i)
    pods = {"kube-system": ["coredns-5d78c9869d-x7k2p", "coredns-5d78c9869d-q2w9z", "etcd-node-1",
                            "kube-apiserver-node-1", "kube-proxy-abcde"],
            "default": ["web-0", "web-1", "web-2"], "team-a": ["api-7f9c-1", "api-7f9c-2", "worker-0"],
            "team-b": ["batch-1"]}
    for ns, names in pods.items():
        for j, name in enumerate(names):
            add(f"/registry/pods/{ns}/{name}", envelope("v1", "Pod", ns, name, 2000 + 700 * j), writes=1 + j % 3)
    add("/registry/deployments/kube-system/coredns", envelope("apps/v1", "Deployment", "kube-system", "coredns", 1800))
    add("/registry/replicasets/kube-system/coredns-5d78c9869d",
        envelope("apps/v1", "ReplicaSet", "kube-system", "coredns-5d78c9869d", 1700))
    add("/registry/services/specs/default/kubernetes", envelope("v1", "Service", "default", "kubernetes", 400))
    add("/registry/services/endpoints/default/kubernetes", envelope("v1", "Endpoints", "default", "kubernetes", 300))
    add("/registry/ranges/serviceips", envelope("v1", "RangeAllocation", "", "", 120))
    add("/registry/masterleases/10.0.0.1", envelope("v1", "Endpoints", "", "10.0.0.1", 150), lease=lease_master)
    for name in ("cluster-admin", "system:node", "view"):
        add(f"/registry/clusterroles/{name}",
            envelope("rbac.authorization.k8s.io/v1", "ClusterRole", "", name, 600))
    add("/registry/apiregistration.k8s.io/apiservices/v1.apps",
        cr_json("apiregistration.k8s.io/v1", "APIService", "", "v1.apps", 100))
    add("/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com",
        envelope("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com", 2500))
    for ns in ("team-a", "team-b"):
        for i in range(3 if ns == "team-a" else 2):
            add(f"/registry/example.com/widgets/{ns}/w{i}", cr_json("example.com/v1", "Widget", ns, f"w{i}", 300 + 50 * i))
    add("/registry/example.com/clusterwidgets/global", cr_json("example.com/v1", "ClusterWidget", "", "global", 200))
    for ns, n in (("default", 5), ("kube-system", 8), ("team-a", 4)):
        for i in range(n):
            name = f"pod-{i}.17a8b{i:03x}c4d2e"
            add(f"/registry/events/{ns}/{name}", envelope("v1", "Event", ns, name, 500 + 20 * i), lease=lease_events)
    secrets = [("aescbc", "key1", 4), ("aesgcm", "key2", 3), ("secretbox", "key3", 2)]
    i = 0
    for provider, key, n in secrets:
        for _ in range(n):
            add(f"/registry/secrets/kube-system/s{i:02d}", encrypted(f"k8s:enc:{provider}:v1:{key}:", 900 + 10 * i))
            i += 1
    for kms, n in (("v1", 2), ("v2", 3)):
        for _ in range(n):
            add(f"/registry/secrets/team-a/s{i:02d}", encrypted(f"k8s:enc:kms:{kms}:kms-{kms}:", 700 + 10 * i))
            i += 1
    for name in ("db-password", "legacy-token", "tls-cert"):  # written before encryption was on
        add(f"/registry/secrets/team-b/{name}", envelope("v1", "Secret", "team-b", name, 1200))
    add("/registry/configmaps/junk/truncated", envelope("v1", "ConfigMap", "junk", "truncated", 800)[:-30])
    add("/registry/configmaps/junk/garbage", hashlib.sha512(b"garbage").digest() * 8)
    add("/registry/configmaps/junk/empty", b"")
    add("/registry/configmaps/junk/huge", b"\x00\x01" * 500_000)
    add(b"/registry/configmaps/evil/\x1b[31mred\r\n", envelope("v1", "ConfigMap", "evil", "red", 100))
    add("/other-app/config", b"not kubernetes")
    return out


def kind_of(value):
    """(apiVersion, kind) the way the test expects keyspace to read them, or None."""
    if value.startswith(b"k8s\x00"):
        # runtime.Unknown: field 1 TypeMeta first, as written above
        tm_len = value[5]
        tm = value[6:6 + tm_len]
        av_len = tm[1]
        av = tm[2:2 + av_len].decode()
        k_len = tm[3 + av_len]
        return av, tm[4 + av_len:4 + av_len + k_len].decode()
    if value.startswith(b"{"):
        d = json.loads(value)
        return d["apiVersion"], d["kind"]
    return None


TRUNCATED = b"/registry/configmaps/junk/truncated"


def encoding(key, value):
    if value.startswith(b"k8s:enc:"):
        return "encrypted"
    if value.startswith(b"k8s\x00") and key != TRUNCATED:
        return "protobuf"
    if value.startswith(b"{"):
        return "json"
    return "unknown"


def resource_of(key):
    """(resource, namespace or None) as the API server lays keys out."""
    if not key.startswith(b"/registry/"):
        return None, None
    parts = key[len(b"/registry/"):].split(b"/")
    n = 2 if (b"." in parts[0] or parts[0] in (b"services", b"ranges")) and len(parts) > 1 else 1
    res, rest = b"/".join(parts[:n]).decode(), parts[n:]
    return res, (rest[0].decode("latin-1") if len(rest) == 2 else None)


def expected(entries):
    res = {}
    for key, value, lease, writes in entries:
        r, ns = resource_of(key)
        if r is None:
            continue
        e = res.setdefault(r, {"keys": 0, "bytes": 0, "key_bytes": 0, "value_bytes": 0,
                               "encodings": {"protobuf": 0, "json": 0, "encrypted": 0, "unknown": 0},
                               "encryption": {}, "kinds": {}, "leased": 0, "versions": 0, "version_max": 0,
                               "namespaces": {}, "plaintext_keys": []})
        e["keys"] += 1
        e["key_bytes"] += len(key)
        e["value_bytes"] += len(value)
        e["bytes"] += len(key) + len(value)
        enc = encoding(key, value)
        e["encodings"][enc] += 1
        if enc == "encrypted":
            prov, ver, kname = value.split(b":")[2:5]
            p = {"aescbc": "aescbc", "aesgcm": "aesgcm", "secretbox": "secretbox"}.get(prov.decode(), f"kms-{ver.decode()}")
            e["encryption"][f"{p}/{kname.decode()}"] = e["encryption"].get(f"{p}/{kname.decode()}", 0) + 1
        else:
            e["plaintext_keys"].append(key.decode("latin-1"))
        if enc in ("protobuf", "json"):
            av, k = kind_of(value)
            e["kinds"][f"{av} {k}"] = e["kinds"].get(f"{av} {k}", 0) + 1
        e["leased"] += 1 if lease else 0
        e["versions"] += writes
        e["version_max"] = max(e["version_max"], writes)
        if ns is not None:
            n = e["namespaces"].setdefault(ns, {"keys": 0, "bytes": 0})
            n["keys"] += 1
            n["bytes"] += len(key) + len(value)
    return res


DELETED = (b"/registry/pods/default/web-1", b"/registry/secrets/team-b/db-password",
           b"/registry/minions/node-3")


def added():
    return [(b"/registry/pods/zz-late/late-pod", envelope("v1", "Pod", "zz-late", "late-pod", 3000), 0, 1),
            (b"/registry/secrets/team-b/new-plain", envelope("v1", "Secret", "team-b", "new-plain", 700), 0, 1)]


REWRITTEN = (b"/registry/example.com/widgets/team-a/w0",
             cr_json("example.com/v1", "Widget", "team-a", "w0", 5000))


def after_mutation(entries):
    out = [e for e in entries if e[0] not in DELETED and e[0] != REWRITTEN[0]]
    out += added()
    old = [e for e in entries if e[0] == REWRITTEN[0]][0]
    out.append((REWRITTEN[0], REWRITTEN[1], 0, old[3] + 1))
    return out


def document(etcd, entries):
    return {"revision": etcd.revision(), "resources": expected(entries),
            "keys": sum(1 for k, *_ in entries if k.startswith(b"/registry/"))}


def write(a):
    etcd = Etcd(a)
    lease_events = etcd.lease(3600)
    lease_master = etcd.lease(600)
    entries = registry(lease_events, lease_master)
    for key, value, lease, writes in entries:
        for w in range(writes):  # rewrites: etcd's version counts them
            etcd.put(key, value if w == writes - 1 else value + b" ", lease)
    json.dump(document(etcd, entries), open(a.out, "w"), indent=1, sort_keys=True)


def mutate(a):
    """Change the keyspace: what a walk at an earlier revision must not see."""
    etcd = Etcd(a)
    for key in DELETED:
        etcd.delete(key)
    for key, value, lease, writes in added():
        etcd.put(key, value)
    etcd.put(*REWRITTEN)
    json.dump(document(etcd, after_mutation(registry(1, 1))), open(a.out, "w"), indent=1,
              sort_keys=True)


def compact(a):
    etcd = Etcd(a)
    rev = etcd.put(b"/registry-compaction-marker", b"x")
    etcd.call("kv/compaction", {"revision": str(rev), "physical": True})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["write", "mutate", "compact"])
    for f in ("endpoint", "cacert", "cert", "key"):
        ap.add_argument("--" + f, required=True)
    ap.add_argument("--out")
    a = ap.parse_args()
    {"write": write, "mutate": mutate, "compact": compact}[a.command](a)


if __name__ == "__main__":
    main()
