#!/usr/bin/python3
"""convert-writer.py - keeps writing keys while a conversion runs (t70-t73).

  convert-writer.py ACKED STOPFILE CACERT CERT KEY ENDPOINT...

Puts /convert/k<N> = v<N> through the gateway (POST /v3/kv/put), N counting
up, trying the endpoints in turn; after each put that etcd acknowledged, N
is appended to ACKED (flushed).  Stops when STOPFILE exists.  A put that
failed is retried with the same N on the next endpoint, so every N in
ACKED must be readable afterwards; one that timed out may or may not have
been applied (it is not in ACKED).
"""
import base64, json, os, ssl, sys, time, urllib.request

acked, stop, ca, cert, key = sys.argv[1:6]
eps = sys.argv[6:]
ctx = ssl.create_default_context(cafile=ca)
ctx.load_cert_chain(cert, key)
ctx.check_hostname = False
n, i = 0, 0
with open(acked, "a") as out:
    while not os.path.exists(stop):
        ep = eps[i % len(eps)]
        body = json.dumps({"key": base64.b64encode(b"/convert/k%d" % n).decode(),
                           "value": base64.b64encode(b"v%d" % n).decode()}).encode()
        try:
            req = urllib.request.Request(ep + "/v3/kv/put", data=body,
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=2, context=ctx) as r:
                d = json.load(r)
            if "header" in d:
                out.write("%d\n" % n)
                out.flush()
                n += 1
                time.sleep(0.01)
                continue
        except Exception:
            pass
        i += 1
        time.sleep(0.05)
