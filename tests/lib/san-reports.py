#!/usr/bin/env python3
"""san-reports.py FILE... - sort sanitizer reports written with log_path.

A report counts as ours when a frame of the stacks that describe what
happened (the accesses of a race, the use of a mutex, the failing access of
ASan/UBSan) is in this project's sources (milter/, probes/).  Debian's
libmilter 8.17 destroys its mutexes at shutdown while its own threads still
use them (mi_stop_milters, mi_closener, mi_listener): such reports have no
frame of ours in those stacks and are printed as INFO only.  The threads'
creation stacks are not looked at (every libmilter worker is created by
libmilter and runs our callbacks).
Prints one line per report; exits 1 when any report is ours."""
import re
import sys

OURS = re.compile(r"[ /](milter|probes)/[a-z_]+\.c:\d+")


def reports(text):
    block = []
    for line in text.splitlines():
        if line.startswith("WARNING: ThreadSanitizer") or line.startswith("==") and "ERROR:" in line \
                or "runtime error:" in line:
            if block:
                yield block
            block = [line]
        elif block:
            block.append(line)
    if block:
        yield block


def relevant_frames(block):
    """frames of the access/use stacks; stop at thread-creation stacks"""
    skip = False
    for line in block:
        s = line.strip()
        if re.match(r"(Thread T\d+|Main thread|Mutex M\d+ .*created at|Location is)", s):
            skip = True
        elif re.match(r"(Write|Read|Previous|Atomic|Mutex M\d+ acquired|READ|WRITE|freed by|previously allocated)", s, re.I):
            skip = False
        if not skip and s.startswith("#"):
            yield s


ours = 0
for path in sys.argv[1:]:
    try:
        text = open(path, errors="replace").read()
    except OSError:
        continue
    for b in reports(text):
        summary = next((l for l in b if l.startswith("SUMMARY")), b[0]).strip()
        if any(OURS.search(f) for f in relevant_frames(b)) or "runtime error:" in b[0]:
            ours += 1
            print("OURS: %s: %s" % (path, summary))
        else:
            print("INFO: libmilter-internal: %s" % summary)
sys.exit(1 if ours else 0)
