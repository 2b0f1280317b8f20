#!/usr/bin/python3
"""port-holder.py - hold a TCP port as soon as it is free, let it go when a
journal starts rolling back (t71).

  port-holder.py HOST PORT JOURNAL READY

Binds HOST:PORT (retrying every 10 ms while something else has it: the
member that runs now), touches READY once it holds it, then listens until
JOURNAL says "status": "rolling-back" (or disappears after having existed),
and exits: the member the rollback starts again finds the port free.
"""
import json, os, socket, sys, time

host, port, journal, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
while True:
    try:
        s.bind((host, port))
        break
    except OSError:
        time.sleep(0.01)
s.listen(16)
open(ready, "w").close()
seen = False
while True:
    try:
        with open(journal) as f:
            seen = True
            if json.load(f).get("status") == "rolling-back":
                break
    except FileNotFoundError:
        if seen:
            break
    except ValueError:
        pass
    time.sleep(0.02)
s.close()
