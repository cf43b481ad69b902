#!/usr/bin/env python3
"""fakepeer.py KIND ADDR PORT - small, honest emulations of peers that no
Debian package provides.  Loopback addresses only.

  decoy   an "HTTP proxy" that answers any request with
          "HTTP/1.0 200 Connection established" and then prints a fake
          "220 ... ESMTP" banner itself, without connecting anywhere
          (honeypots and ISP interceptors do this).  It must never be
          reported as an open proxy.
"""
import socket
import sys
import threading


def decoy(conn):
    conn.settimeout(20)
    try:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 200 Connection established\r\n\r\n"
                     b"220 mail.decoy.example ESMTP Postfix\r\n")
        while conn.recv(4096):
            conn.sendall(b"250 ok\r\n")
    except OSError:
        pass
    finally:
        conn.close()


KINDS = {"decoy": decoy}


def main():
    kind, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if not (addr.startswith("127.") or addr == "::1"):
        sys.exit("fakepeer: refusing non-loopback address " + addr)
    handler = KINDS[kind]
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(64)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
