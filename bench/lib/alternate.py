#!/usr/bin/python3
"""alternate.py - time whole commands in one run, alternating between them.

    alternate.py --runs N [--prep NAME=SHELL ...] NAME=COMMAND [NAME=COMMAND ...]

Each COMMAND is split like a shell word list (no shell runs it) and timed
from spawn to exit with a monotonic clock; the runs alternate A B C A B C
... so that a change in the machine's load falls on all of them alike.
A --prep command for NAME runs through the shell before each of NAME's
runs, untimed (to empty an output directory, say).  A command that exits
non-zero stops the benchmark with its stderr.  Prints, per NAME, the
median, minimum and maximum in milliseconds:

    NAME median_ms min_ms max_ms
"""
import argparse
import shlex
import statistics
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--prep", action="append", default=[])
    ap.add_argument("commands", nargs="+")
    a = ap.parse_args()

    cmds = []
    for c in a.commands:
        name, _, cmd = c.partition("=")
        cmds.append((name, shlex.split(cmd)))
    prep = {}
    for p in a.prep:
        name, _, cmd = p.partition("=")
        prep[name] = cmd

    times = {name: [] for name, _ in cmds}
    for _ in range(a.runs):
        for name, argv in cmds:
            if name in prep:
                subprocess.run(prep[name], shell=True, check=True)
            t0 = time.perf_counter_ns()
            p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            t1 = time.perf_counter_ns()
            if p.returncode != 0:
                sys.stderr.write(p.stderr.decode(errors="replace"))
                sys.exit(f"alternate.py: {name}: exit {p.returncode}: {shlex.join(argv)}")
            times[name].append((t1 - t0) / 1e6)
    for name, _ in cmds:
        v = times[name]
        print(f"{name} {statistics.median(v):.3f} {min(v):.3f} {max(v):.3f}")


if __name__ == "__main__":
    main()
