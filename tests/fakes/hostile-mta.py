#!/usr/bin/env python3
"""hostile-mta.py HOST PORT [CASE...] - speak broken milter protocol to proxymilter.

A hostile or buggy MTA side: oversized HELO/RCPT, missing NUL terminators,
bad address families and texts, odd macro lists, truncated packets, absurd
lengths.  Each case runs on a fresh connection; the milter must survive all
of them.  Prints one line per case; exit status 0 when every case ran.
Loopback only.
"""
import socket
import struct
import sys

HOST, PORT = sys.argv[1], int(sys.argv[2])
if not (HOST.startswith("127.") or HOST == "::1"):
    sys.exit("hostile-mta: refusing non-loopback address")


def pkt(cmd, data=b""):
    return struct.pack("!I", len(data) + 1) + cmd + data


OPTNEG = pkt(b"O", struct.pack("!III", 6, 0x1FF, 0x1FFFFF))


def session(parts, read=True):
    s = socket.create_connection((HOST, PORT), timeout=5)
    try:
        s.sendall(OPTNEG)
        s.recv(4096)
        for p in parts:
            s.sendall(p)
            if read:
                try:
                    s.recv(4096)
                except socket.timeout:
                    pass
    except OSError:
        pass
    finally:
        s.close()


def conn(host=b"h", fam=b"4", port=25, addr=b"127.0.0.7"):
    return pkt(b"C", host + b"\0" + fam + struct.pack("!H", port) + addr + b"\0")


CASES = {
    "60 KB HELO": [conn(), pkt(b"H", b"A" * 60000 + b"\0")],
    "HELO without NUL": [conn(), pkt(b"H", b"abc")],
    "bad IPv4 text": [conn(addr=b"999.1.2.3")],
    "IPv6 family with IPv4 text": [conn(fam=b"6", addr=b"127.0.0.7")],
    "unknown family": [conn(fam=b"Z")],
    "empty connect": [pkt(b"C")],
    # not sent: a macro packet with an odd number of strings, or with
    # thousands of pairs, crashes libmilter 8.17 itself (smfi_getsymval walks
    # past the end of the list).  libmilter trusts the MTA: the milter
    # socket must be reachable by the MTA only (proxymilter(8), SECURITY).
    "macro list of 40": [pkt(b"D", b"C" + b"{x}\0y\0" * 40), conn()],
    "binary RCPT": [conn(), pkt(b"H", b"h\0"), pkt(b"M", b"<a@b>\0"),
                    pkt(b"R", bytes(range(1, 256)) + b"\0")],
    "RCPT before MAIL": [conn(), pkt(b"R", b"<x@y>\0")],
    "EOM without message": [conn(), pkt(b"E")],
    "header without value": [conn(), pkt(b"H", b"h\0"), pkt(b"M", b"<a@b>\0"),
                             pkt(b"L", b"X-Proxy-Check")],
    "truncated packet": [conn(), struct.pack("!I", 100) + b"H" + b"abc"],
    "absurd length": [struct.pack("!I", 0x7FFFFFFF) + b"H"],
    "zero length": [struct.pack("!I", 0)],
    "unknown command": [conn(), pkt(b"z", b"junk")],
}

only = sys.argv[3:]
for name, parts in CASES.items():
    if only and name not in only:
        continue
    session(parts)
    print("sent: " + name, flush=True)
