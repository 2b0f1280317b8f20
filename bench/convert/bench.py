#!/usr/bin/python3
"""bench/convert/bench.py - the measuring half of bench/convert/run.sh (in
the node's network namespace)."""
import argparse, base64, json, os, re, ssl, statistics, subprocess, threading, time
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("--etcdpilot", required=True)
ap.add_argument("--root", required=True)
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("--systemctl", required=True)
a = ap.parse_args()
R = a.root
PKI = R + "/etc/kubernetes/pki/etcd"
URL = "https://127.0.0.1:2379"
ctx = ssl.create_default_context(cafile=PKI + "/ca.crt")
ctx.load_cert_chain(PKI + "/healthcheck-client.crt", PKI + "/healthcheck-client.key")
ctx.check_hostname = False
BODY = json.dumps({"key": base64.b64encode(b"bench").decode()}).encode()


def read_ok(timeout=0.5):
    """One linearizable read (the gateway's range is linearizable by default)."""
    try:
        req = urllib.request.Request(URL + "/v3/kv/range", data=BODY,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return "header" in json.load(r)
    except Exception:
        return False


def wait_ok(secs=60):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if read_ok():
            return True
        time.sleep(0.05)
    raise SystemExit("the member did not answer")


class Poller(threading.Thread):
    """Reads every 5 ms; the longest gap between two served reads."""
    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.gap, self.last = False, 0.0, None

    def run(self):
        while not self.stop:
            if read_ok(0.3):
                now = time.monotonic()
                if self.last is not None:
                    self.gap = max(self.gap, now - self.last)
                self.last = now
            time.sleep(0.005)


def convert(to):
    p = Poller()
    wait_ok()
    p.start()
    time.sleep(0.3)
    out = subprocess.run([a.etcdpilot, "--root", R, "convert", "--to", to, "--allow-downtime",
                          "--etcd-binary", "/usr/bin/etcd", "--timeout", "90s"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("convert --to %s failed:\n%s%s" % (to, out.stdout, out.stderr))
    wait_ok()
    time.sleep(0.3)
    p.stop = True
    p.join()
    m = re.search(r"unavailable for ([0-9.]+)s", out.stdout)
    # the snapshots of earlier runs would be refused? no: each has its own time stamp
    return p.gap, float(m.group(1)) if m else float("nan")


def env_of_member():
    env = {}
    for line in open(R + "/etc/etcd/etcd.env"):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        if k.startswith("ETCD_"):
            # node paths under the root
            v = ",".join(R + x if x.startswith("/") else x for x in v.split(","))
            env[k] = v
    return env


def cold_start():
    """The unit stopped, etcd started by hand on the same data: exec -> first read."""
    sc = [a.systemctl, "--root", R]
    subprocess.run(sc + ["stop", "etcd.service"], check=True, capture_output=True)
    env = dict(os.environ)
    env.update(env_of_member())
    t0 = time.monotonic()
    p = subprocess.Popen(["/usr/bin/etcd"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    while not read_ok(0.3):
        if p.poll() is not None:
            raise SystemExit("etcd started by hand exited %d" % p.returncode)
        time.sleep(0.005)
    took = time.monotonic() - t0
    p.terminate()
    p.wait()
    subprocess.run(sc + ["start", "etcd.service"], check=True, capture_output=True)
    wait_ok()
    return took


cold, sp, sp_rep, sd, sd_rep = [], [], [], [], []
wait_ok()
for i in range(a.runs):
    cold.append(cold_start())
    g, rep = convert("static-pod")
    sp.append(g), sp_rep.append(rep)
    g, rep = convert("systemd")
    sd.append(g), sd_rep.append(rep)
    print("run %d: cold start %.3fs; to pod: gap %.3fs (reported %.3fs); to systemd: gap %.3fs "
          "(reported %.3fs)" % (i + 1, cold[-1], sp[-1], sp_rep[-1], sd[-1], sd_rep[-1]),
          flush=True)
med = statistics.median
print("\nmedians over %d runs (etcd 3.4.23, one member, its data of this run):" % a.runs)
print("  etcd cold start (exec -> first linearizable read)   %.3fs" % med(cold))
print("  convert --to static-pod: unavailable                %.3fs (convert reports %.3fs)"
      % (med(sp), med(sp_rep)))
print("  convert --to systemd:    unavailable                %.3fs (convert reports %.3fs)"
      % (med(sd), med(sd_rep)))
print("  excess over the cold start: to pod %+.3fs, to systemd %+.3fs (target <= +1s)"
      % (med(sp) - med(cold), med(sd) - med(cold)))
