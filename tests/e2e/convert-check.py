#!/usr/bin/python3
"""convert-check.py - every acknowledged key is there (t70-t73).

  convert-check.py ACKED CACERT CERT KEY ENDPOINT

Reads /convert/ (linearizable) and prints "N acknowledged, M missing";
exits 1 when a key written and acknowledged is missing or has another value.
"""
import base64, json, ssl, sys, urllib.request

acked, ca, cert, key, ep = sys.argv[1:6]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
ctx.check_hostname = False
body = json.dumps({"key": base64.b64encode(b"/convert/").decode(),
                   "range_end": base64.b64encode(b"/convert0").decode()}).encode()
req = urllib.request.Request(ep + "/v3/kv/range", data=body,
                             headers={"Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
    d = json.load(r)
have = {}
for kv in d.get("kvs", []):
    have[base64.b64decode(kv["key"]).decode()] = base64.b64decode(kv.get("value", "")).decode()
want = [int(l) for l in open(acked) if l.strip()]
missing = [n for n in want if have.get("/convert/k%d" % n) != "v%d" % n]
print("%d acknowledged, %d missing%s" % (len(want), len(missing),
      (": " + " ".join(map(str, missing[:10]))) if missing else ""))
sys.exit(1 if missing or not want else 0)
