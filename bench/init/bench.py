#!/usr/bin/python3
"""bench/init/bench.py - the timing half of bench/init/run.sh (runs inside the
benchmark's network namespace).  See run.sh for what is measured."""

import argparse
import os
import re
import shutil
import signal
import statistics
import json
import subprocess
import sys
import threading
import time
import urllib.request

import yaml


def fresh_root(work, name):
    root = os.path.join(work, name)
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "etc/kubernetes"))
    shutil.copytree(os.path.join(work, "pki/etc/kubernetes/pki"),
                    os.path.join(root, "etc/kubernetes/pki"))
    return root


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def first_health(stop_evt, out):
    """Poll the metrics /health every 2 ms; store the first 200's perf_counter()."""
    while not stop_evt.is_set():
        try:
            with urllib.request.urlopen("http://127.0.0.1:2381/health", timeout=0.5) as r:
                if r.status == 200:
                    out.append(time.perf_counter())
                    return
        except OSError:
            pass
        time.sleep(0.002)


def run_etcdpilot(args, i):
    root = fresh_root(args.work, f"ep{i}")
    standin = subprocess.Popen(
        [sys.executable, args.standin, "--root", root, "--node-name", "n1", "--grace", "10"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)  # a kubelet is already running when init starts
    seen, stop_evt = [], threading.Event()
    poller = threading.Thread(target=first_health, args=(stop_evt, seen))
    poller.start()
    t0 = time.perf_counter()
    out = subprocess.run([args.etcdpilot, "--root", root, "init", *args.flags, "--timeout", "60s"],
                         capture_output=True, text=True)
    t1 = time.perf_counter()
    stop_evt.set()
    poller.join()
    status = json.load(open(os.path.join(root, "var/lib/kubelet-standin/pods/etcd/status.json")))
    stop(standin)
    if out.returncode != 0:
        sys.exit(f"etcdpilot init failed:\n{out.stdout}{out.stderr}")
    if "Generating" in out.stdout:
        sys.exit("etcdpilot init generated keys: the pre-generated PKI was not reused")
    # etcd's own exec-to-healthy time in this very run: from the container's
    # exec as the stand-in dated it (CLOCK_MONOTONIC, the clock perf_counter
    # reads) to the first /health 200.  The stand-in's reaction and container
    # set-up before the exec count as etcdpilot's overhead.
    etcd_own = (seen[0] - status["execMonotonic"]) * 1000 if seen else float("nan")
    return (t1 - t0) * 1000, etcd_own


def hand_argv(manifest, root):
    doc = yaml.safe_load(open(manifest))
    cmd = doc["spec"]["containers"][0]["command"]
    argv = ["/usr/bin/etcd"]
    for a in cmd[1:]:
        name, _, value = a.partition("=")
        if name in ("--data-dir", "--cert-file", "--key-file", "--trusted-ca-file",
                    "--peer-cert-file", "--peer-key-file", "--peer-trusted-ca-file"):
            value = root + value
        argv.append(f"{name}={value}")
    return argv


def run_by_hand(args, i):
    root = fresh_root(args.work, f"hand{i}")
    os.makedirs(os.path.join(root, "var/lib/etcd"), mode=0o700)
    argv = hand_argv(args.manifest, root)
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = t0 + 60
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:2381/health", timeout=0.5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.perf_counter() > deadline:
            stop(proc)
            sys.exit("etcd started by hand never answered /health")
        time.sleep(0.002)
    t1 = time.perf_counter()
    stop(proc)
    return (t1 - t0) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--etcdpilot", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--standin", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("flags", nargs="*")
    args = ap.parse_args()
    ep, own, hand = [], [], []
    for i in range(args.runs):
        t, o = run_etcdpilot(args, i)
        ep.append(t)
        own.append(o)
        hand.append(run_by_hand(args, i))
        print(f"run {i + 1:2}: etcdpilot init {t:7.1f} ms (etcd itself in it {o:7.1f} ms, "
              f"overhead {t - o:6.1f} ms)   etcd by hand {hand[-1]:7.1f} ms", flush=True)
    me, mh = statistics.median(ep), statistics.median(hand)
    mo = statistics.median(t - o for t, o in zip(ep, own))
    print(f"\nmedian of {args.runs} runs each (ms):")
    print(f"  etcdpilot init, exec to exit (member healthy)   {me:8.1f}")
    print(f"  etcd by hand, exec to first /health 200         {mh:8.1f}")
    print(f"  difference of the medians                       {me - mh:8.1f}")
    print(f"  paired overhead: init minus etcd's own start-up {mo:8.1f}   (target < 100)")
    print("  (etcd's start-up varies by hundreds of ms between runs - fsync, election -")
    print("   so the paired figure, measured inside each init run, is the stable one)")


if __name__ == "__main__":
    main()
