#!/usr/bin/python3
"""snapshot-load.py - grow a real etcd's database to a given size, fast, for
t16-snapshot and bench/snapshot.

    snapshot-load.py --endpoint URL --cacert F --cert F --key F --db-mb N

Puts random (incompressible) 512 KiB values under /bench/snapshot/<n>
through the JSON gateway over HTTPS, from 4 connections at once, until the
member's Maintenance Status says its database holds at least N MB
(10^6 bytes).  Prints the database size it reached.
"""
import argparse
import base64
import http.client
import json
import os
import ssl
import sys
import threading
import urllib.parse

VALUE = 512 * 1024
BATCH = 4  # puts per thread between two looks at the size


def conn(a):
    u = urllib.parse.urlsplit(a.endpoint)
    ctx = ssl.create_default_context(cafile=a.cacert)
    ctx.load_cert_chain(a.cert, a.key)
    return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)


def post(c, path, body):
    c.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit(f"load.py: {path}: HTTP {r.status}: {data[:200]!r}")
    return json.loads(data)


def db_size(c):
    return int(post(c, "/v3/maintenance/status", {}).get("dbSize", "0"))


def main():
    ap = argparse.ArgumentParser()
    for f in ("endpoint", "cacert", "cert", "key"):
        ap.add_argument("--" + f, required=True)
    ap.add_argument("--db-mb", type=int, required=True)
    a = ap.parse_args()
    want = a.db_mb * 10**6
    c = conn(a)
    counter = [int(post(c, "/v3/maintenance/status", {})["header"].get("revision", "1"))]
    lock = threading.Lock()

    def worker():
        wc = conn(a)
        for _ in range(BATCH):
            with lock:
                n = counter[0]
                counter[0] += 1
            key = base64.b64encode(b"/bench/snapshot/%012d" % n).decode()
            value = base64.b64encode(os.urandom(VALUE)).decode()
            post(wc, "/v3/kv/put", {"key": key, "value": value})

    while db_size(c) < want:
        ts = [threading.Thread(target=worker) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    print(db_size(c))


if __name__ == "__main__":
    main()
