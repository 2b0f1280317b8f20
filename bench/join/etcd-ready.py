#!/usr/bin/python3
"""etcd-ready.py - etcd's own start-to-ready time from a pod log (CRI
format: "<RFC3339Nano> <stream> <P|F> <text>", as the kubelet stand-in
writes it): from its first line to its "ready to serve client requests"
line, in ms.  Exit 1 when the log has no such line."""
import datetime
import re
import sys


def ts(line):
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z ", line)
    t = datetime.datetime.fromisoformat(m.group(1))
    return t.timestamp() + float("0." + (m.group(2) or "0"))


lines = [l for l in open(sys.argv[1], errors="replace") if l.strip()]
ready = next((l for l in lines if "ready to serve client requests" in l), None)
if not lines or not ready:
    sys.exit(1)
print("%.0f" % ((ts(ready) - ts(lines[0])) * 1000))
