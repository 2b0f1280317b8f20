#!/usr/bin/python3
"""timed.py - run a command, time it from spawn to exit, and say when its
output first matched a pattern.

    timed.py [--mark REGEX] -- COMMAND...

Prints one line: "<wall_ms> <exit code> <ms from spawn to the first output
line matching REGEX, or -> <ms from that line to exit, or ->".  The output
(stdout and stderr, merged) goes to stderr, so that a failure can be read.
"""
import argparse
import re
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mark")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    mark = re.compile(a.mark) if a.mark else None
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen = None
    for line in p.stdout:
        if mark and seen is None and mark.search(line.decode(errors="replace")):
            seen = time.monotonic()
        sys.stderr.buffer.write(line)
    rc = p.wait()
    t1 = time.monotonic()
    ms = lambda x: "%.0f" % (x * 1000)
    print(ms(t1 - t0), rc, ms(seen - t0) if seen else "-", ms(t1 - seen) if seen else "-")


main()
