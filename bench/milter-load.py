#!/usr/bin/env python3
"""milter-load.py - open-loop load driver that speaks the milter protocol.

Plays an MTA (the way Postfix does: protocol version 6, actions 0x1ff,
protocol flags 0x1fffff) against a milter on a loopback socket.  New
sessions start at a fixed rate, each from a client address never used
before (unless --repeat or --revisit is given), whatever the milter's speed: sessions
that are still waiting pile up (open loop, as on a real MX under attack).

Each session: OPTNEG, macros j and {daemon_name}, CONNECT, HELO, MAIL,
RCPT, then (with --data) DATA, a few headers, EOH, EOM, and QUIT.  What
the milter answered at each stage and how long each reply took are written
as one JSON object per session to --out; a progress line goes to stderr
every 5 s.  Only stdlib; loopback only (127.0.0.0/8, ::1).

  milter-load.py --milter 127.0.0.1:18890 --rate 200 --seconds 60 \\
      --class dropped=127.64.0.0/10:40 --class tarpit=127.128.0.0/10:20 \\
      --class closed=127.192.0.0/10:40 --out sessions.jsonl

Client i of a class whose network starts at 127.A.0.0 gets the address
127.(A + i // 256).(i % 256).(1 + i % 253): a /24 of its own, so that the
milter's rate limit per /24 (probe.rate_limit) never applies.
"""
import argparse
import asyncio
import ipaddress
import json
import random
import resource
import signal
import struct
import sys
import time

# mfdef.h
SMFIC_ABORT, SMFIC_BODY, SMFIC_CONNECT, SMFIC_MACRO = b"A", b"B", b"C", b"D"
SMFIC_BODYEOB, SMFIC_HELO, SMFIC_HEADER, SMFIC_MAIL = b"E", b"H", b"L", b"M"
SMFIC_EOH, SMFIC_OPTNEG, SMFIC_QUIT, SMFIC_RCPT, SMFIC_DATA = b"N", b"O", b"Q", b"R", b"T"

SMFIP_NOCONNECT, SMFIP_NOHELO, SMFIP_NOMAIL, SMFIP_NORCPT = 0x1, 0x2, 0x4, 0x8
SMFIP_NOBODY, SMFIP_NOHDRS, SMFIP_NOEOH, SMFIP_NR_HDR = 0x10, 0x20, 0x40, 0x80
SMFIP_NODATA = 0x200
SMFIP_NR_CONN, SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000
SMFIP_NR_DATA, SMFIP_NR_EOH, SMFIP_NR_BODY = 0x10000, 0x40000, 0x80000
SMFI_VERSION = 6
ACTIONS = 0x1FF          # SMFI_CURR_ACTS
PROTOCOL = 0x1FFFFF      # Postfix: MILTER8_V6_PROTO_MASK (all of SMFI_CURR_PROT)

REPLY = {
    "c": "continue", "r": "reject", "t": "tempfail", "a": "accept",
    "d": "discard", "s": "skip", "f": "connfail", "4": "shutdown",
}
MODS = set("+-2bdehilmq")   # modification actions (valid at EOM)


class SessionError(Exception):
    def __init__(self, kind, stage):
        super().__init__(kind)
        self.kind, self.stage = kind, stage


def pkt(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def z(*strs):
    return b"".join(s.encode() + b"\0" for s in strs)


def loopback_only(addr):
    a = ipaddress.ip_address(addr)
    return a in ipaddress.ip_network("127.0.0.0/8") or a == ipaddress.ip_address("::1")


class Conn:
    def __init__(self, r, w, timeout):
        self.r, self.w, self.timeout = r, w, timeout

    async def read_pkt(self, stage):
        try:
            async with asyncio.timeout(self.timeout):
                hdr = await self.r.readexactly(4)
                n = struct.unpack(">I", hdr)[0]
                if n < 1 or n > 1 << 20:
                    raise SessionError("bad-length", stage)
                body = await self.r.readexactly(n)
        except TimeoutError:
            raise SessionError("timeout", stage)
        except asyncio.IncompleteReadError:
            raise SessionError("eof", stage)
        except (ConnectionError, OSError):
            raise SessionError("reset", stage)
        return chr(body[0]), body[1:]

    async def send(self, data, stage):
        try:
            self.w.write(data)
            if self.w.transport.get_write_buffer_size() > 0:
                async with asyncio.timeout(self.timeout):
                    await self.w.drain()
        except TimeoutError:
            raise SessionError("timeout", stage)
        except (ConnectionError, OSError):
            raise SessionError("reset", stage)

    async def command(self, data, stage, noreply=False):
        """send a command; return (reply word, latency ms, mods, text)"""
        t = time.monotonic()
        await self.send(data, stage)
        if noreply:
            return "noreply", 0.0, [], None
        mods = []
        while True:
            code, body = await self.read_pkt(stage)
            if code == "p":            # progress: keep waiting
                continue
            if code in MODS and code != "d":
                mods.append(code)
                continue
            ms = (time.monotonic() - t) * 1000.0
            if code == "y":
                text = body.rstrip(b"\0").decode("latin-1")
                word = {"4": "tempfail", "5": "reject"}.get(text[:1], "replycode")
                return word, ms, mods, text[:120]
            if code in REPLY:
                return REPLY[code], ms, mods, None
            raise SessionError("unexpected-reply-%r" % code, stage)


class Driver:
    def __init__(self, a):
        self.a = a
        self.host, self.port = a.milter.rsplit(":", 1)
        self.host = self.host.strip("[]")
        self.port = int(self.port)
        self.classes = []       # [name, network, share, next index]
        for spec in a.cls:
            name, rest = spec.split("=", 1)
            net, share = rest.rsplit(":", 1)
            net = ipaddress.ip_network(net, strict=False)
            if not net.subnet_of(ipaddress.ip_network("127.0.0.0/8")):
                sys.exit("milter-load: class %s: %s is not inside 127.0.0.0/8" % (name, net))
            self.classes.append([name, net, float(share), a.first_index])
        tot = sum(c[2] for c in self.classes)
        for c in self.classes:
            c[2] /= tot
        self.credit = [0.0] * len(self.classes)
        self.rng = random.Random(a.seed)
        self.seen = []          # (t, cls, addr) for --repeat
        self.launched = self.done = self.active = self.failed = 0
        self.peak_active = 0
        self.out = open(a.out, "w")
        self.lag_samples = []

    def next_client(self, now):
        # smooth weighted round robin: exact shares, interleaved
        for i, c in enumerate(self.classes):
            self.credit[i] += c[2]
        i = max(range(len(self.classes)), key=lambda k: self.credit[k])
        self.credit[i] -= 1.0
        name, net, _, idx = self.classes[i]
        if self.a.repeat > 0 and self.rng.random() < self.a.repeat:
            old = [s for s in self.seen if s[1] == name and now - s[0] >= self.a.repeat_min_age]
            if old:
                s = self.rng.choice(old)
                return name, s[2], "repeat"
        self.classes[i][3] += 1
        base = int(net.network_address)
        span = net.num_addresses // 256          # /24s in the class
        if idx >= span:
            sys.exit("milter-load: class %s: more clients than /24s in %s" % (name, net))
        addr = str(ipaddress.ip_address(base + idx * 256 + 1 + idx % 253))
        self.seen.append((now, name, addr))
        return name, addr, None

    async def looplag(self):
        """how late the event loop wakes up: the driver's own health"""
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.01)
            self.lag_samples.append((time.monotonic() - t - 0.01) * 1000.0)

    async def session(self, k, cls, addr, repeat, t_sched):
        a = self.a
        rec = {"i": k, "cls": cls, "addr": addr, "t": round(t_sched, 4),
               "lag": round((time.monotonic() - self.t0 - t_sched) * 1000, 2),
               "r": {}, "l": {}, "err": None}
        if repeat:
            rec[repeat] = True
        self.active += 1
        self.peak_active = max(self.peak_active, self.active)
        t_start = time.monotonic()
        w = None
        try:
            try:
                async with asyncio.timeout(a.timeout):
                    r, w = await asyncio.open_connection(self.host, self.port)
            except TimeoutError:
                raise SessionError("timeout", "tcp")
            except OSError as e:
                raise SessionError("refused" if isinstance(e, ConnectionRefusedError)
                                   else "oserror", "tcp")
            c = Conn(r, w, a.timeout)
            rec["l"]["tcp"] = round((time.monotonic() - t_start) * 1000, 3)
            t = time.monotonic()
            await c.send(pkt(SMFIC_OPTNEG, struct.pack(">III", SMFI_VERSION, ACTIONS, PROTOCOL)),
                         "optneg")
            code, body = await c.read_pkt("optneg")
            if code != "O" or len(body) < 12:
                raise SessionError("bad-optneg-%r" % code, "optneg")
            _, acts, proto = struct.unpack(">III", body[:12])
            rec["l"]["optneg"] = round((time.monotonic() - t) * 1000, 3)
            rec["r"]["optneg"] = "ok"

            async def stage(name, data, skipflag, nrflag, macros=None):
                if proto & skipflag:
                    return "skipped"
                if macros is not None:
                    await c.send(pkt(SMFIC_MACRO, macros), name)
                word, ms, mods, text = await c.command(data, name, bool(proto & nrflag))
                rec["r"][name] = word
                rec["l"][name] = round(ms, 3)
                if mods:
                    rec.setdefault("mods", []).extend(mods)
                if text:
                    rec.setdefault("text", {})[name] = text
                return word

            port = 1024 + (k * 7919) % 60000
            w1 = await stage("connect",
                             pkt(SMFIC_CONNECT, z("unknown") + b"4" + struct.pack(">H", port) + z(addr)),
                             SMFIP_NOCONNECT, SMFIP_NR_CONN,
                             b"C" + z("j", "mx.bench.test", "{daemon_name}", "smtpd",
                                      "_", "unknown [%s]" % addr))
            going = w1 in ("continue", "noreply", "skipped")
            if going:
                w1 = await stage("helo", pkt(SMFIC_HELO, z("pc%d.bench.test" % k)),
                                 SMFIP_NOHELO, SMFIP_NR_HELO, b"H")
                going = w1 in ("continue", "noreply", "skipped")
            if going:
                w1 = await stage("mail", pkt(SMFIC_MAIL, z("<s%d@sender.bench.test>" % k)),
                                 SMFIP_NOMAIL, SMFIP_NR_MAIL,
                                 b"M" + z("{mail_addr}", "s%d@sender.bench.test" % k))
                going = w1 in ("continue", "noreply", "skipped")
            if going:
                qid = "B%08X" % k
                t_r = time.monotonic()
                w1 = await stage("rcpt", pkt(SMFIC_RCPT, z("<user@bench.test>")),
                                 SMFIP_NORCPT, SMFIP_NR_RCPT,
                                 b"R" + z("i", qid, "{rcpt_addr}", "user@bench.test"))
                rec["rcpt_s"] = round(time.monotonic() - t_r, 4)
                going = w1 in ("continue", "noreply", "skipped")
                if going and a.data:
                    w1 = await stage("data", pkt(SMFIC_DATA), SMFIP_NODATA, SMFIP_NR_DATA,
                                     b"T" + z("i", qid))
                    if w1 in ("continue", "noreply", "skipped") and not proto & SMFIP_NOHDRS:
                        for hn, hv in (("From", "<s%d@sender.bench.test>" % k),
                                       ("To", "<user@bench.test>"), ("Subject", "load %d" % k)):
                            word, _, _, _ = await c.command(pkt(SMFIC_HEADER, z(hn, hv)),
                                                            "header", bool(proto & SMFIP_NR_HDR))
                            if word not in ("continue", "noreply"):
                                rec["r"]["header"] = word
                                break
                    if w1 in ("continue", "noreply", "skipped"):
                        await stage("eoh", pkt(SMFIC_EOH), SMFIP_NOEOH, SMFIP_NR_EOH)
                        if not proto & SMFIP_NOBODY:
                            await c.command(pkt(SMFIC_BODY, b"hello\r\n"), "body",
                                            bool(proto & SMFIP_NR_BODY))
                        await stage("eom", pkt(SMFIC_BODYEOB), 0, 0, b"E" + z("i", qid))
            await c.send(pkt(SMFIC_QUIT), "quit")
        except SessionError as e:
            rec["err"] = "%s@%s" % (e.kind, e.stage)
            self.failed += 1
        finally:
            if w is not None:
                w.close()
                try:
                    async with asyncio.timeout(2):
                        await w.wait_closed()
                except Exception:
                    pass
            rec["dur"] = round(time.monotonic() - t_start, 4)
            self.out.write(json.dumps(rec, separators=(",", ":")) + "\n")
            self.active -= 1
            self.done += 1

    async def progress(self):
        while True:
            await asyncio.sleep(5)
            print("milter-load: t=%.0fs launched=%d done=%d active=%d failed=%d"
                  % (time.monotonic() - self.t0, self.launched, self.done, self.active,
                     self.failed), file=sys.stderr, flush=True)

    async def run(self):
        a = self.a
        self.t0 = time.monotonic()
        n = int(a.rate * a.seconds)
        tasks = set()
        prog = asyncio.ensure_future(self.progress())
        lagt = asyncio.ensure_future(self.looplag())
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        for k in range(n):
            t_sched = k / a.rate
            delay = self.t0 + t_sched - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if stop.is_set():
                break
            cls, addr, rep = self.next_client(t_sched)
            tk = asyncio.ensure_future(self.session(k, cls, addr, rep, t_sched))
            tasks.add(tk)
            tk.add_done_callback(tasks.discard)
            self.launched += 1
        t_end = time.monotonic()
        # every session is bounded by its command timeouts; wait for them
        if tasks:
            await asyncio.wait(tasks, timeout=a.timeout * 12 + 5)
        print("milter-load: new-client phase done t=%.1fs" % (time.monotonic() - self.t0),
              file=sys.stderr, flush=True)
        nrev = 0
        if a.revisit > 0 and not stop.is_set():
            # reconnect from addresses first seen in the window, at t=revisit_at
            lo, hi = (float(x) for x in a.revisit_window.split(":"))
            pool = [x for x in self.seen if lo <= x[0] < hi]
            step = max(1, len(pool) // a.revisit)
            pick = pool[::step][:a.revisit]
            print("milter-load: revisit %d addresses first seen at %g-%gs, from t=%gs at %g/s"
                  % (len(pick), lo, hi, a.revisit_at, a.revisit_rate), file=sys.stderr, flush=True)
            for j, (t_first, cls, addr) in enumerate(pick):
                t_sched = a.revisit_at + j / a.revisit_rate
                delay = self.t0 + t_sched - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(min(delay, 1.0))
                    while not stop.is_set() and self.t0 + t_sched > time.monotonic():
                        await asyncio.sleep(min(1.0, self.t0 + t_sched - time.monotonic()))
                if stop.is_set():
                    break
                tk = asyncio.ensure_future(self.session(n + j, cls, addr, "revisit", t_sched))
                tasks.add(tk)
                tk.add_done_callback(tasks.discard)
                nrev += 1
            if tasks:
                await asyncio.wait(tasks, timeout=a.timeout * 12 + 5)
        prog.cancel()
        lagt.cancel()
        self.out.close()
        ls = sorted(self.lag_samples)
        q = lambda p: round(ls[int((len(ls) - 1) * p / 100)], 1) if ls else None
        ru = resource.getrusage(resource.RUSAGE_SELF)
        summ = {"launched": self.launched, "done": self.done, "failed": self.failed,
                "peak_active": self.peak_active,
                "launch_seconds": round(t_end - self.t0, 3),
                "total_seconds": round(time.monotonic() - self.t0, 3),
                "unfinished": len(tasks), "revisits": nrev,
                "loop_lag_ms": {"p50": q(50), "p99": q(99), "max": round(max(ls), 1) if ls else None},
                "cpu_seconds": round(ru.ru_utime + ru.ru_stime, 1)}
        print("milter-load: " + json.dumps(summ), file=sys.stderr, flush=True)
        if a.summary:
            with open(a.summary, "w") as f:
                json.dump(summ, f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--milter", required=True, help="HOST:PORT of the milter (loopback)")
    p.add_argument("--rate", type=float, default=200.0, help="new sessions per second")
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--class", dest="cls", action="append", required=True,
                   help="NAME=CIDR:SHARE (CIDR inside 127.0.0.0/8)")
    p.add_argument("--first-index", type=int, default=0,
                   help="index of the first client in each class")
    p.add_argument("--timeout", type=float, default=30.0,
                   help="per command, as Postfix's milter_command_timeout (30 s)")
    p.add_argument("--data", action="store_true", help="also DATA, headers, EOH, EOM")
    p.add_argument("--repeat", type=float, default=0.0,
                   help="share of sessions that reuse an earlier client's address")
    p.add_argument("--repeat-min-age", type=float, default=30.0)
    p.add_argument("--revisit", type=int, default=0,
                   help="after the new clients: reconnect from this many earlier addresses")
    p.add_argument("--revisit-window", default="15:25",
                   help="A:B: pick addresses first seen between A and B s into the run")
    p.add_argument("--revisit-at", type=float, default=120.0, help="start at this many s")
    p.add_argument("--revisit-rate", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", required=True)
    p.add_argument("--summary")
    a = p.parse_args()
    host = a.milter.rsplit(":", 1)[0].strip("[]")
    if not loopback_only(host):
        sys.exit("milter-load: refusing non-loopback milter address %s" % host)
    if a.rate <= 0 or a.seconds <= 0 or a.rate * a.seconds > 200000:
        sys.exit("milter-load: rate x seconds must be between 1 and 200000")
    asyncio.run(Driver(a).run())


if __name__ == "__main__":
    main()
