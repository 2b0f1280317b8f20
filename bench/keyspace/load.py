#!/usr/bin/python3
"""load.py - add keys to a real etcd's /registry, in the mix a busy cluster
has (~1 KB values on average), for bench/keyspace.

    load.py --endpoint URL --cacert F --cert F --key F --from N --to M

Writes keys number N to M-1 (so that a second call grows the same
keyspace): events (35%, on an etcd lease), pods, replicasets, configmaps,
secrets (half encrypted at rest), endpointslices, leases, serviceaccounts,
and custom resources as JSON, over 200 namespaces.  Values are built as the
API server stores them (tests/e2e/k8s-registry.py).  Puts go 128 to a
transaction (etcd's --max-txn-ops default) through the JSON gateway over
HTTPS, from 4 connections at once.
"""
import argparse
import base64
import http.client
import importlib.util
import json
import os
import ssl
import sys
import threading
import urllib.parse

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("reg", os.path.join(here, "../../tests/e2e/k8s-registry.py"))
reg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reg)

MIX = [("events", 35), ("pods", 15), ("replicasets", 8), ("configmaps", 10), ("secrets", 10),
       ("discovery.k8s.io/endpointslices", 6), ("leases", 4), ("serviceaccounts", 4),
       ("example.com/widgets", 8)]
KINDS = {"events": ("v1", "Event"), "pods": ("v1", "Pod"), "replicasets": ("apps/v1", "ReplicaSet"),
         "configmaps": ("v1", "ConfigMap"), "secrets": ("v1", "Secret"),
         "discovery.k8s.io/endpointslices": ("discovery.k8s.io/v1", "EndpointSlice"),
         "leases": ("coordination.k8s.io/v1", "Lease"), "serviceaccounts": ("v1", "ServiceAccount")}
NAMESPACES = ["default", "kube-system", "monitoring", "ingress-nginx"] + [f"team-{i:03d}" for i in range(196)]


def item(i):
    """Key and value of the i-th object: deterministic, so the keyspace can grow in steps."""
    x = (i * 2654435761) & 0xFFFFFFFF
    pick = x % 100
    for res, w in MIX:
        if pick < w:
            break
        pick -= w
    ns = NAMESPACES[(x >> 8) % len(NAMESPACES)] if x % 3 else NAMESPACES[(x >> 8) % 4]
    name = f"app-{(x >> 4) % 9973:04x}-{i:07x}"
    size = 300 + (x >> 12) % 1500
    if res == "events":
        name += f".{x:08x}"
    key = f"/registry/{res}/{ns}/{name}".encode()
    if res == "example.com/widgets":
        value = reg.cr_json("example.com/v1", "Widget", ns, name, size)
    elif res == "secrets" and x % 2:
        value = reg.encrypted("k8s:enc:aescbc:v1:key1:", size)
    else:
        value = reg.envelope(*KINDS[res], ns, name, size)
    return key, value, res == "events"


def worker(a, lease, lo, hi):
    u = urllib.parse.urlparse(a.endpoint)
    ctx = ssl.create_default_context(cafile=a.cacert)
    ctx.load_cert_chain(a.cert, a.key)
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)
    for start in range(lo, hi, 128):
        ops = []
        for i in range(start, min(start + 128, hi)):
            k, v, leased = item(i)
            put = {"key": base64.b64encode(k).decode(), "value": base64.b64encode(v).decode()}
            if leased:
                put["lease"] = str(lease)
            ops.append({"request_put": put})
        c.request("POST", "/v3/kv/txn", json.dumps({"success": ops}))
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            sys.exit(f"load.py: txn: HTTP {r.status}: {body[:200]}")


def main():
    ap = argparse.ArgumentParser()
    for f in ("endpoint", "cacert", "cert", "key"):
        ap.add_argument("--" + f, required=True)
    ap.add_argument("--from", dest="lo", type=int, default=0)
    ap.add_argument("--to", dest="hi", type=int, required=True)
    a = ap.parse_args()
    etcd = reg.Etcd(a)
    lease = etcd.lease(24 * 3600)
    n = a.hi - a.lo
    threads = [threading.Thread(target=worker, args=(a, lease, a.lo + n * t // 4, a.lo + n * (t + 1) // 4))
               for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
