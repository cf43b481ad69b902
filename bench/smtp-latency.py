#!/usr/bin/env python3
"""smtp-latency.py PORT FIRST LAST REPEAT - time SMTP transactions
(connect, EHLO, MAIL, RCPT, DATA, QUIT) to 127.0.0.1:PORT, each from source
address 127.0.0.N for N in FIRST..LAST, REPEAT rounds.  Round 1 is each
address's first connection (uncached: the milter probes it); later rounds
hit the verdict table.  Prints per-round median and p90 in milliseconds."""
import smtplib
import statistics
import sys
import time

port, first, last, repeat = (int(a) for a in sys.argv[1:5])
msg = b"Subject: bench\r\n\r\nbody\r\n"
for rnd in range(1, repeat + 1):
    times = []
    for n in range(first, last + 1):
        src = "127.0.0.%d" % n
        t0 = time.monotonic()
        s = smtplib.SMTP("127.0.0.1", port, source_address=(src, 0), timeout=30)
        s.ehlo("bench.test.invalid")
        s.sendmail("bench@test.invalid", ["user@remote.test.invalid"], msg)
        s.quit()
        times.append((time.monotonic() - t0) * 1000)
    times.sort()
    print("round=%d clients=%d median_ms=%.1f p90_ms=%.1f max_ms=%.1f" % (
        rnd, len(times), statistics.median(times),
        times[int(len(times) * 0.9) - 1], times[-1]))
