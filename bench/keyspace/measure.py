#!/usr/bin/python3
"""measure.py - wall time and peak memory of whole commands, alternating.

    measure.py --runs N NAME=COMMAND [NAME=COMMAND ...]

Like bench/lib/alternate.py (runs alternate A B C A B C ... so that load
falls on all alike; a command exiting non-zero stops the benchmark), but
each COMMAND runs through /bin/sh (so pipelines work) with stdout to
/dev/null, and its peak resident memory is read from wait4(): for a
pipeline, the largest process in it.  Prints per NAME:

    NAME median_ms min_ms max_ms peak_rss_kib
"""
import argparse
import os
import statistics
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("commands", nargs="+")
    a = ap.parse_args()
    cmds = [c.partition("=")[::2] for c in a.commands]
    times = {n: [] for n, _ in cmds}
    peak = {n: 0 for n, _ in cmds}
    for _ in range(a.runs):
        for name, cmd in cmds:
            t0 = time.perf_counter_ns()
            p = subprocess.Popen(["/bin/sh", "-c", cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            err = p.stderr.read()
            _, status, ru = os.wait4(p.pid, 0)
            t1 = time.perf_counter_ns()
            p.returncode = os.waitstatus_to_exitcode(status)
            if p.returncode != 0:
                sys.stderr.write(err.decode(errors="replace"))
                sys.exit(f"measure.py: {name}: exit {p.returncode}: {cmd}")
            times[name].append((t1 - t0) / 1e6)
            peak[name] = max(peak[name], ru.ru_maxrss)
    for name, _ in cmds:
        v = times[name]
        print(f"{name} {statistics.median(v):.1f} {min(v):.1f} {max(v):.1f} {peak[name]}")


if __name__ == "__main__":
    main()
