#!/usr/bin/env python3
"""fakepeer.py KIND ADDR PORT - small, honest emulations of peers that no
Debian package provides.  Loopback addresses only, for listening and for
every connection they make on a client's behalf.

  decoy     an "HTTP proxy" that answers any request with
            "HTTP/1.0 200 Connection established" and then prints a fake
            "220 ... ESMTP" banner itself, without connecting anywhere
            (honeypots and ISP interceptors do this): never an open proxy
  wingate   WinGate's telnet proxy: prompt "WinGate>", reads "host:port",
            connects there and relays
  telnetgw  a telnet gateway: prompt "tn-gw-> ", reads "telnet host port",
            says "Trying ..." / "Connected to ...", connects and relays
  cisco     a Cisco router with the factory password: "User Access
            Verification" / "Password:", "cisco" gives "Router>", where
            "telnet host port" connects and relays
  cisco-changed  the same router with another password: never open
  silent    accepts and never says a word
  mikrotik  an HTTP CONNECT proxy that answers only once one more CRLF has
            come after the request's blank line (MikroTik's HttpProxy), then
            connects and relays
  slow-connect  an open HTTP CONNECT proxy that takes 1.5 s to answer
  flaky     an overloaded HTTP CONNECT proxy: the first request gets
            "503 Service Unavailable", later ones are relayed
  Port 25 of a client (connect-back), where no package fits:
  interceptor  an ISP's port-25 interceptor: "554 ... use your ISP's
            SMTP server" to everyone, then closes
  smtp-named-NAME  a mail server whose greeting names NAME (our own host,
            as a port forwarded back to us would show it)
  smtp-endless  "220-" continuation lines for ever (a banner that never ends)
  rewrite-PORT  a port-25 forwarder to 127.0.0.1:PORT that rewrites the
            greeting's host (an appliance in front of a server): relays the
            rest unchanged
  smtp-hugeline  one 1 MB line without an end
"""
import re
import socket
import sys
import threading
import time


def loopback(host):
    return host.startswith("127.") or host == "::1"


def relay(a, b):
    """copy both ways until either side closes"""
    def pump(src, dst):
        try:
            while True:
                d = src.recv(4096)
                if not d:
                    break
                dst.sendall(d)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
    t = threading.Thread(target=pump, args=(b, a), daemon=True)
    t.start()
    pump(a, b)
    t.join(5)


def readline(conn, limit=512):
    buf = b""
    while not buf.endswith(b"\n") and len(buf) < limit:
        d = conn.recv(1)
        if not d:
            return None
        buf += d
    return buf.decode("latin-1").strip()


def dial(conn, host, port, say_before=b"", say_after=b""):
    if not loopback(host):
        conn.sendall(b"refusing non-loopback target\r\n")
        return
    conn.sendall(say_before)
    try:
        up = socket.create_connection((host, int(port)), timeout=5)
    except OSError:
        conn.sendall(b"% Connection refused by remote host\r\n")
        return
    up.settimeout(None)
    conn.sendall(say_after)
    relay(conn, up)
    up.close()


def decoy(conn):
    conn.recv(4096)
    conn.sendall(b"HTTP/1.0 200 Connection established\r\n\r\n"
                 b"220 mail.decoy.example ESMTP Postfix\r\n")
    while conn.recv(4096):
        conn.sendall(b"250 ok\r\n")


def wingate(conn):
    conn.sendall(b"WinGate>")
    line = readline(conn)
    m = re.match(r"^([0-9a-fA-F.:]+?):(\d+)$", line or "")
    if m:
        dial(conn, m.group(1), m.group(2),
             b"Connecting to host %s...Connected\r\n" % m.group(1).encode())


def telnetgw(conn):
    conn.sendall(b"tn-gw-> ")
    line = readline(conn)
    m = re.match(r"^telnet (\S+) (\d+)$", line or "")
    if m:
        dial(conn, m.group(1), m.group(2),
             b"Trying %s port %s...\r\n" % (m.group(1).encode(), m.group(2).encode()),
             b"Connected to %s.\r\n" % m.group(1).encode())


def cisco_with(password):
    def cisco(conn):
        conn.sendall(b"\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\xff\xfd\x1f"
                     b"\r\n\r\nUser Access Verification\r\n\r\nPassword: ")
        for _ in range(3):
            line = readline(conn)
            if line is None:
                return
            line = re.sub("\xff[\xfb-\xfe].", "", line)  # option answers
            if line == password:
                break
            conn.sendall(b"\r\n% Access denied\r\n\r\nPassword: ")
        else:
            conn.sendall(b"\r\n% Bad passwords\r\n")
            return
        conn.sendall(b"\r\nRouter>")
        line = readline(conn)
        m = re.match(r"^telnet (\S+) (\d+)$", line or "")
        if m:
            dial(conn, m.group(1), m.group(2),
                 b"Trying %s, %s ... Open\r\n" % (m.group(1).encode(), m.group(2).encode()))
    return cisco


def silent(conn):
    while conn.recv(4096):
        pass


def connect_proxy(conn, need_extra_crlf=False):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = conn.recv(4096)
        if not d:
            return
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    while need_extra_crlf and len(rest) < 2:     # wait for the extra CRLF
        d = conn.recv(4096)
        if not d:
            return
        rest += d
    m = re.match(rb"^CONNECT \[?([0-9a-fA-F.:]+?)\]?:(\d+) HTTP/1\.[01]", head)
    if not m or not loopback(m.group(1).decode()):
        conn.sendall(b"HTTP/1.0 403 Forbidden\r\n\r\n")
        return
    try:
        up = socket.create_connection((m.group(1).decode(), int(m.group(2))), timeout=5)
    except OSError:
        conn.sendall(b"HTTP/1.0 502 Bad Gateway\r\n\r\n")
        return
    conn.sendall(b"HTTP/1.0 200 Connection established\r\nServer: Mikrotik HttpProxy\r\n\r\n")
    relay(conn, up)
    up.close()


def slow_connect(conn):
    """an open HTTP CONNECT proxy that takes 1.5 s to answer"""
    time.sleep(1.5)
    connect_proxy(conn)


def mikrotik(conn):
    connect_proxy(conn, need_extra_crlf=True)


FLAKY = {"served": 0}


def flaky(conn):
    FLAKY["served"] += 1
    if FLAKY["served"] == 1:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 503 Service Unavailable\r\n\r\n")
        return
    connect_proxy(conn)


def busy(conn):
    """a proxy that is always overloaded: inconclusive on every attempt"""
    conn.recv(4096)
    conn.sendall(b"HTTP/1.0 503 Service Unavailable\r\n\r\n")


def interceptor(conn):
    conn.sendall(b"554 5.7.1 Port 25 blocked: please use your ISP's SMTP server "
                 b"smtp.isp.example\r\n")


def smtp_named(name):
    def handler(conn):
        conn.sendall(b"220 %s ESMTP\r\n" % name.encode())
        while True:
            line = readline(conn)
            if not line:
                return
            if line.upper().startswith("QUIT"):
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            conn.sendall(b"250 ok\r\n")
    return handler


def rewrite_to(port):
    def handler(conn):
        up = socket.create_connection(("127.0.0.1", port), timeout=10)
        greeting = readline(up) or ""
        conn.sendall(re.sub(r"^220[ -]\S+", "220 gateway.appliance.example", greeting)
                     .encode("latin-1") + b"\r\n")
        relay(conn, up)
        up.close()
    return handler


def smtp_endless(conn):
    try:
        while True:
            conn.sendall(b"220-still greeting you, please wait\r\n")
    except OSError:
        pass


def smtp_hugeline(conn):
    try:
        conn.sendall(b"220 " + b"x" * (1 << 20))
        silent(conn)
    except OSError:
        pass


KINDS = {"busy": busy, "decoy": decoy, "wingate": wingate, "telnetgw": telnetgw,
         "cisco": cisco_with("cisco"), "cisco-changed": cisco_with("s3cret"),
         "silent": silent, "mikrotik": mikrotik, "slow-connect": slow_connect, "flaky": flaky,
         "interceptor": interceptor, "smtp-endless": smtp_endless,
         "smtp-hugeline": smtp_hugeline}


def serve(handler, conn):
    conn.settimeout(30)
    try:
        handler(conn)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    kind, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if not loopback(addr):
        sys.exit("fakepeer: refusing non-loopback address " + addr)
    if kind.startswith("smtp-named-"):
        handler = smtp_named(kind[11:])
    elif kind.startswith("rewrite-"):
        handler = rewrite_to(int(kind[8:]))
    else:
        handler = KINDS[kind]
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(64)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(handler, conn), daemon=True).start()


if __name__ == "__main__":
    main()
