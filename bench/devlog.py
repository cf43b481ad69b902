#!/usr/bin/env python3
"""devlog.py PATH OUTFILE [--max-seconds N]

A minimal syslog receiver for the hostile-load benchmark: binds a unix
datagram socket at PATH (which hostile-load.sh makes /dev/log inside
proxymilter's private mount namespace) and appends every message to
OUTFILE, one per line.  libmilter reports its own trouble (accept()
failures, thread creation failures) only through syslog; this catches it.
"""
import argparse
import os
import select
import signal
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("path")
    p.add_argument("out")
    p.add_argument("--max-seconds", type=float, default=900)
    a = p.parse_args()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    try:
        os.unlink(a.path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(a.path)
    os.chmod(a.path, 0o666)
    t_end = time.monotonic() + a.max_seconds
    with open(a.out, "ab", buffering=1 << 16) as f:
        while not stop and time.monotonic() < t_end:
            try:
                r, _, _ = select.select([s], [], [], 0.5)
            except InterruptedError:
                continue
            if not r:
                continue
            for _ in range(1000):
                try:
                    m = s.recv(65536, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                f.write(m.rstrip(b"\0\n") + b"\n")
    s.close()
    os.unlink(a.path)


if __name__ == "__main__":
    sys.exit(main())
