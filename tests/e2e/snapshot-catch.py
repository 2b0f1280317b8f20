#!/usr/bin/python3
"""snapshot-catch.py DIR FIFO -- COMMAND... - run `etcdpilot snapshot save`
(COMMAND, writing into directory DIR) and catch it in the middle of its
transfer, frozen.

Starts COMMAND (its stdout and stderr are this script's), then polls its
open files until one that lives in DIR (the unnamed O_TMPFILE, shown as
'DIR/#<inode> (deleted)', or a named temp file) holds at least 1 MiB,
stops it with SIGSTOP and writes "PID BYTES" to FIFO.  Frozen, the process
can neither finish nor write more, so the scenario can break the stream at
a point it has seen, not one it guessed with a sleep; it then sends
SIGCONT (or SIGKILL).  The script is started before COMMAND so that its
own start-up, slow on a loaded machine, is not raced against the
transfer.  Exits with COMMAND's exit status (128 + N when a signal N ended
it); 99 when COMMAND ended before it was caught or nothing was seen
within 60 s (then "0 0" goes to FIFO).
"""
import os
import signal
import subprocess
import sys
import time


def main():
    d, fifo = os.path.realpath(sys.argv[1]), sys.argv[2]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    p = subprocess.Popen(cmd)
    fds = f"/proc/{p.pid}/fd"
    deadline = time.monotonic() + 60
    caught = 0
    while not caught and time.monotonic() < deadline and p.poll() is None:
        try:
            names = os.listdir(fds)
        except FileNotFoundError:
            break
        for n in names:
            try:
                if not os.readlink(f"{fds}/{n}").startswith(d + "/"):
                    continue
                if os.stat(f"{fds}/{n}").st_size < 1 << 20:
                    continue
                os.kill(p.pid, signal.SIGSTOP)
                caught = os.stat(f"{fds}/{n}").st_size
                break
            except OSError:
                continue
    with open(fifo, "w") as f:
        f.write(f"{p.pid if caught else 0} {caught}\n")
    if not caught:
        sys.stderr.write("snapshot-catch: the transfer was not caught in the middle\n")
        p.kill()
        p.wait()
        sys.exit(99)
    rc = p.wait()
    sys.exit(128 - rc if rc < 0 else rc)


if __name__ == "__main__":
    main()
