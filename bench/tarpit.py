#!/usr/bin/env python3
"""tarpit.py HOST PORT [--max-seconds N] [--stats FILE]

A TCP tarpit for the hostile-load benchmark: accepts every connection and
never sends a byte; a connection ends only when the peer closes it (or at
exit).  Loopback only.  Counts accepted connections and the peak number
held at once; writes them as JSON to --stats at exit (SIGTERM, SIGINT, or
after --max-seconds).
"""
import argparse
import asyncio
import ipaddress
import json
import signal
import sys
import time


class Pit(asyncio.Protocol):
    st = {"accepted": 0, "open": 0, "peak_open": 0, "bytes_in": 0}

    def connection_made(self, tr):
        s = Pit.st
        s["accepted"] += 1
        s["open"] += 1
        s["peak_open"] = max(s["peak_open"], s["open"])

    def data_received(self, data):
        Pit.st["bytes_in"] += len(data)     # read and ignore: never answer

    def eof_received(self):
        return False                        # close our side too

    def connection_lost(self, exc):
        Pit.st["open"] -= 1


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--max-seconds", type=float, default=900)
    p.add_argument("--stats")
    a = p.parse_args()
    if ipaddress.ip_address(a.host) not in ipaddress.ip_network("127.0.0.0/8") \
            and a.host != "::1":
        sys.exit("tarpit: refusing non-loopback address %s" % a.host)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(Pit, a.host, a.port, backlog=4096, reuse_address=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    t0 = time.monotonic()
    try:
        await asyncio.wait_for(stop.wait(), a.max_seconds)
    except asyncio.TimeoutError:
        pass
    srv.close()
    Pit.st["seconds"] = round(time.monotonic() - t0, 1)
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(Pit.st, f)


if __name__ == "__main__":
    asyncio.run(main())
