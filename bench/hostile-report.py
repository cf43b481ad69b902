#!/usr/bin/env python3
"""hostile-report.py DIR - the report of one hostile-load.sh scenario.

Reads what hostile-load.sh left in DIR: meta.json (the run's parameters),
sessions.jsonl (milter-load.py, one line per session), milter.log
(proxymilter -f stderr), rss.txt (1 s samples of /proc/PID/status), ss.txt
(socket counts in the namespace), syslog.txt (libmilter's syslog lines),
tarpit.json and driver.json.  Prints one "== section" per measurement.
"""
import collections
import datetime
import json
import os
import re
import sys

KV = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)')
LINE = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}) \S+?\[\d+\]: (.*)$')


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    k = (len(v) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(v) - 1)
    return v[f] + (v[c] - v[f]) * (k - f)


def fmt(x, unit="", nd=1):
    if x is None:
        return "-"
    return ("%." + str(nd) + "f%s") % (x, unit)


def dist(v, unit="", nd=1):
    if not v:
        return "n=0"
    return "n=%d p50=%s p99=%s max=%s" % (len(v), fmt(pct(v, 50), unit, nd),
                                          fmt(pct(v, 99), unit, nd), fmt(max(v), unit, nd))


def ts(s):
    d = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f")
    return d.timestamp()


def parse_log(path):
    """yield (epoch, qid or None, event, {k: v}, raw message)"""
    with open(path, errors="replace") as f:
        for line in f:
            m = LINE.match(line.rstrip("\n"))
            if not m:
                yield None, None, "raw", {}, line.rstrip("\n")
                continue
            t = ts(m.group(1))
            msg = m.group(2)
            toks = msg.split(" ", 2)
            qid = None
            if toks[0].endswith(":") and len(toks) > 1:
                qid = toks[0][:-1]
                ev = toks[1]
                rest = toks[2] if len(toks) > 2 else ""
            else:
                ev = toks[0]
                rest = msg[len(ev) + 1:]
            kv = {}
            for k, v in KV.findall(rest):
                if v.startswith('"'):
                    v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
                kv[k] = v
            yield t, qid, ev, kv, msg


def secs(v):
    try:
        return float(v.rstrip("s"))
    except (ValueError, AttributeError):
        return None


def main():
    d = sys.argv[1]
    P = lambda n: os.path.join(d, n)
    meta = json.load(open(P("meta.json")))
    t0 = meta["t0"]
    out = []
    pr = out.append

    # ---- sessions (the MTA side) -----------------------------------------
    allsess = [json.loads(l) for l in open(P("sessions.jsonl")) if l.strip()]
    cls_of = {}
    for s in sorted(allsess, key=lambda s: s["t"]):
        cls_of.setdefault(s["addr"], s["cls"])
    revis = [s for s in allsess if s.get("revisit")]
    sess = [s for s in allsess if not s.get("revisit")]   # new clients (and --repeat)
    classes = [c.split("=")[0] for c in meta["classes"]]
    drv = {}
    if os.path.exists(P("driver.json")):
        drv = json.load(open(P("driver.json")))

    pr("== run: %s" % meta["scenario"])
    pr("rate=%s/s seconds=%s classes=%s repeat=%s" % (meta["rate"], meta["seconds"],
       " ".join(meta["classes"]), meta.get("repeat", 0)))
    pr("proxymilter %s (build %s, tree %s), fd limit %s, config: %s" % (
        meta.get("binary"), meta.get("build_time"), meta.get("tree"), meta.get("nofile"),
        meta.get("config_summary")))
    pr("machine load average (1/5/15 min) at the start %s, at the end %s (the 2 cores are shared)" % (
        meta.get("load_start"), meta.get("load_end")))
    pr("namespace %s; milter inet:%s; canary %s; tarpit 127.0.0.1:%s" % (
        meta["ns"], meta["milter"], meta["canary"], meta["tarpit_port"]))

    pr("== driver")
    lags = [s["lag"] for s in sess]
    pr("sessions launched=%s (new clients%s) finished=%s failed=%s unfinished=%s peak "
       "concurrent=%s; revisits=%d" % (
        drv.get("launched", len(sess)), ", %d of them repeats" % sum(1 for s in sess if s.get("repeat"))
        if any(s.get("repeat") for s in sess) else "", drv.get("done", len(sess)),
        sum(1 for s in allsess if s["err"]), drv.get("unfinished", "?"), drv.get("peak_active", "?"),
        len(revis)))
    pr("launch lag behind schedule (driver health): %s" % dist(lags, " ms"))
    ll = drv.get("loop_lag_ms") or {}
    pr("driver event-loop lag (a 10 ms sleep woke late by): p50=%s p99=%s max=%s ms; driver CPU "
       "%s s (its latencies include this lag)" % (ll.get("p50"), ll.get("p99"), ll.get("max"),
                                                  drv.get("cpu_seconds")))
    pr("launch phase %ss, until the last session ended %ss" % (
        drv.get("launch_seconds", "?"), drv.get("total_seconds", "?")))

    if os.path.exists(P("witness.jsonl")):
        wit = [json.loads(l) for l in open(P("witness.jsonl")) if l.strip()]
        pr("== witness: a separate driver process, %d sessions (closed-port clients, "
           "127.32.0.0/11)" % len(wit))
        pr("failed: %d; launch lag %s" % (sum(1 for s in wit if s["err"]),
                                          dist([s["lag"] for s in wit], " ms")))
        for st in ("optneg", "connect", "helo", "mail", "rcpt"):
            v = [s["l"][st] for s in wit if st in s["l"]]
            pr("  %-8s %s" % (st, dist(v, " ms", 2)))
        wb = collections.defaultdict(list)
        for s in wit:
            if "connect" in s["l"]:
                wb[int(s["t"] // 10) * 10].append(s["l"]["connect"])
        pr("  CONNECT p50/max ms by start time: " + " ".join(
            "%ds:%s/%s" % (b, fmt(pct(v, 50), "", 1), fmt(max(v), "", 1))
            for b, v in sorted(wb.items())))

    pr("== MTA side: replies per stage")
    stages = ["optneg", "connect", "helo", "mail", "rcpt", "data", "eoh", "eom"]
    words = collections.OrderedDict()
    for st in stages:
        c = collections.Counter(s["r"].get(st) for s in sess if st in s["r"])
        if c:
            words[st] = c
    for st, c in words.items():
        pr("%-8s %s" % (st, " ".join("%s=%d" % kv for kv in sorted(c.items()))))
    errs = collections.Counter(s["err"] for s in sess if s["err"])
    pr("sessions failed or timed out on the driver side: %d %s" % (
        sum(errs.values()), " ".join("%s=%d" % kv for kv in errs.most_common())))
    mods = collections.Counter(m for s in sess for m in s.get("mods", []))
    if mods:
        pr("EOM modifications: %s (i=insert header, m=change header, h=add header)" %
           " ".join("%s=%d" % kv for kv in sorted(mods.items())))
    per_cls = collections.defaultdict(collections.Counter)
    for s in sess:
        per_cls[s["cls"]][s["r"].get("rcpt", "none")] += 1
    pr("RCPT reply per class: " + "; ".join(
        "%s: %s" % (c, " ".join("%s=%d" % kv for kv in sorted(per_cls[c].items())))
        for c in classes))

    pr("== MTA side: command latency (driver-measured, ms)")
    for st in stages:
        v = [s["l"][st] for s in sess if st in s["l"] and s["r"].get(st) != "noreply"]
        if v:
            pr("%-8s %s" % (st, dist(v, "", 2)))
    rc = [s["rcpt_s"] for s in sess if "rcpt_s" in s]
    pr("RCPT (may wait action.pending_wait=%ss; Postfix milter_command_timeout 30 s): %s"
       % (meta.get("pending_wait"), dist(rc, " s", 3)))
    for c in classes:
        v = [s["rcpt_s"] for s in sess if "rcpt_s" in s and s["cls"] == c]
        pr("  RCPT %-8s %s" % (c, dist(v, " s", 3)))
    over = sum(1 for x in rc if x > float(meta.get("pending_wait", 5)) + 1.0)
    pr("  RCPT replies later than pending_wait + 1 s: %d" % over)
    # RCPT latency over time (by session start)
    buckets = collections.defaultdict(list)
    for s in sess:
        if "rcpt_s" in s:
            buckets[int(s["t"] // 10) * 10].append(s["rcpt_s"])
    pr("  RCPT p50/p99 by session start time: " + " ".join(
        "%ds:%s/%s" % (b, fmt(pct(v, 50), "", 2), fmt(pct(v, 99), "", 2))
        for b, v in sorted(buckets.items())))

    # ---- the milter's log ------------------------------------------------
    probe_starts = collections.defaultdict(list)
    verdicts = collections.defaultdict(list)   # addr -> [(t, kv)]
    events = collections.Counter()
    stats = []
    errors = collections.Counter()
    probe_reasons = collections.Counter()
    emfile_first = None
    connects = {}
    raw_lines = collections.Counter()
    cache_by_addr = collections.defaultdict(list)
    warn_lines = collections.Counter()
    last_t = None
    t_cut = meta.get("t_stop", meta.get("t_drain_end", 1e18) + 0.5)
    late_verdicts = collections.Counter()
    for t, qid, ev, kv, msg in parse_log(P("milter.log")):
        events[ev] += 1
        if ev == "verdict" and (kv.get("reason") == "shutdown" or t is not None and t > t_cut):
            late_verdicts[kv.get("reason", kv.get("verdict"))] += 1
            continue
        if t is not None:
            last_t = t
        if ev == "raw":
            if msg.strip():
                raw_lines[re.sub(r"\d+", "N", msg)[:160]] += 1
            continue
        if ev == "probe-start":
            probe_starts[kv.get("client", "").strip("[]")].append((t, kv.get("sess")))
        elif ev == "verdict":
            verdicts[kv.get("client", "").strip("[]")].append((t, kv))
        elif ev == "probe":
            r = "%s/%s" % (kv.get("result"), kv.get("reason"))
            probe_reasons[r] += 1
            if kv.get("reason") == "emfile" and emfile_first is None:
                emfile_first = (t, msg)
        elif ev == "stats":
            kv["_t"] = t
            stats.append(kv)
        elif ev == "connect":
            connects[kv.get("sess")] = t
        elif ev == "cache":
            cache_by_addr[kv.get("client", "").strip("[]")].append(
                kv.get("hit", "?") + ("/" + kv["verdict"] if "verdict" in kv else ""))
        elif ev in ("error", "warning") or (ev == "start" and "descriptor" in msg):
            errors[re.sub(r"\d+", "N", msg)[:200]] += 1

    pr("== CONNECT callback latency")
    have_in = [s for s in stats if "connect_p50_us" in s]
    if have_in:
        last = have_in[-1]
        pr("inside the milter (stats, last line): p50=%s us p99=%s us max=%s us" % (
            last.get("connect_p50_us"), last.get("connect_p99_us"), last.get("connect_max_us")))
        pr("  per stats line (t: p50/p99/max us): " + " ".join(
            "%d:%s/%s/%s" % (s["_t"] - t0, s.get("connect_p50_us"), s.get("connect_p99_us"),
                             s.get("connect_max_us")) for s in have_in))
    else:
        pr("inside the milter: not available (no connect_p50_us/connect_p99_us/"
           "connect_max_us in the stats lines of this build)")
    v = [s["l"]["connect"] for s in sess if "connect" in s["l"]]
    pr("driver-side CONNECT reply latency (includes the loopback round trip and "
       "libmilter's dispatch): %s" % dist(v, " ms", 2))
    for c in classes:
        v = [s["l"]["connect"] for s in sess if "connect" in s["l"] and s["cls"] == c]
        pr("  %-8s %s" % (c, dist(v, " ms", 2)))
    v = [s["l"]["optneg"] for s in sess if "optneg" in s["l"]]
    pr("driver-side OPTNEG (accept + worker dispatch): %s" % dist(v, " ms", 2))

    # ---- samples ---------------------------------------------------------
    rss = []
    if os.path.exists(P("rss.txt")):
        for l in open(P("rss.txt")):
            f = l.split()
            if len(f) >= 5:
                rss.append((float(f[0]) - t0, int(f[1]), int(f[2]), int(f[3]), int(f[4]),
                            int(f[5]) if len(f) > 5 else 0))
    hz = os.sysconf("SC_CLK_TCK")

    def cpu_pct(t):
        """proxymilter's CPU use (% of one core) over the 5 s before t"""
        a = [x for x in rss if t - 5.5 <= x[0] <= t + 0.5]
        if len(a) < 2 or a[-1][0] <= a[0][0]:
            return None
        return (a[-1][4] - a[0][4]) / hz / (a[-1][0] - a[0][0]) * 100.0

    def ctxt_rate(t):
        """the machine's context switches a second over the 5 s before t"""
        a = [x for x in rss if t - 5.5 <= x[0] <= t + 0.5 and x[5] > 0]
        if len(a) < 2 or a[-1][0] <= a[0][0]:
            return None
        return (a[-1][5] - a[0][5]) / (a[-1][0] - a[0][0])
    ss = []
    if os.path.exists(P("ss.txt")):
        for l in open(P("ss.txt")):
            f = l.split()
            if len(f) >= 5:
                ss.append((float(f[0]) - t0,) + tuple(int(x) for x in f[1:5]))

    pr("== engine over time (stats every 5 s; max_inflight=%s, max_queue=%s)" % (
        meta.get("max_inflight"), meta.get("max_queue")))
    pr("%6s %6s %6s %8s %6s %8s %6s %7s %6s %7s | %7s %5s %5s %5s %7s | %6s %6s %6s" % (
        "t(s)", "conns", "probed", "inflight", "max", "queued", "overl", "table",
        "clean", "error", "RSS MB", "thr", "fds", "CPU%", "cs/s", "synsnt", "tarpit", "mtases"))

    def near(series, t):
        best = None
        for x in series:
            if best is None or abs(x[0] - t) < abs(best[0] - t):
                best = x
        return best

    for s in stats:
        t = s["_t"] - t0
        r = near(rss, t)
        q = near(ss, t)
        c = cpu_pct(t)
        cs = ctxt_rate(t)
        pr("%6.0f %6s %6s %8s %6s %8s %6s %7s %6s %7s | %7s %5s %5s %5s %7s | %6s %6s %6s" % (
            t, s.get("connections"), s.get("probed"), s.get("probes_inflight"),
            s.get("probes_inflight_max"), s.get("queued"), s.get("overload"),
            s.get("table_entries"), s.get("clean"), s.get("error"),
            "%.1f" % (r[1] / 1024.0) if r else "-", r[2] if r else "-", r[3] if r else "-",
            "%.0f" % c if c is not None else "-", "%.0f" % cs if cs is not None else "-", q[1] if q else "-", q[2] if q else "-", q[3] if q else "-"))
    pr("(inflight = reserved probe sockets; CPU% = proxymilter over the last 5 s, 100 = one "
       "core; cs/s = context switches a second on the whole machine; synsnt = probe sockets in SYN-SENT, tarpit = "
       "connections the tarpit holds, mtases = milter sessions, all counted with ss)")
    if stats:
        last = stats[-1]
        pr("last stats: " + " ".join("%s=%s" % (k, v) for k, v in last.items() if k != "_t"))
        mi = max(int(s.get("probes_inflight", 0)) for s in stats)
        mq = max(int(s.get("queued", 0)) for s in stats)
        pr("peak probes_inflight (sampled)=%d, probes_inflight_max=%s of max_inflight=%s; "
           "peak queued=%d of max_queue=%s; overload=%s; rate_limited=%s" % (
               mi, last.get("probes_inflight_max"), meta.get("max_inflight"), mq,
               meta.get("max_queue"), last.get("overload"), last.get("rate_limited")))

    pr("== RSS and CPU")
    if rss:
        mx = max(rss, key=lambda x: x[1])
        pr("VmRSS start=%.1f MB max=%.1f MB (t=%.0fs) end=%.1f MB; threads max=%d; fds max=%d; "
           "%d samples (1 s)" % (rss[0][1] / 1024.0, mx[1] / 1024.0, mx[0], rss[-1][1] / 1024.0,
                                 max(x[2] for x in rss), max(x[3] for x in rss), len(rss)))
        pts = [x for x in rss if int(x[0]) % 10 == 0]
        seen = set()
        row = []
        for x in pts:
            k = int(x[0])
            if k in seen:
                continue
            seen.add(k)
            row.append("%d:%.0f" % (k, x[1] / 1024.0))
        pr("RSS MB every 10 s: " + " ".join(row))
        pr("CPU: %.1f s of CPU time in %.0f s (%.0f%% of one core on average)" % (
            (rss[-1][4] - rss[0][4]) / hz, rss[-1][0] - rss[0][0],
            (rss[-1][4] - rss[0][4]) / hz / max(1e-9, rss[-1][0] - rss[0][0]) * 100))
    else:
        pr("no samples")

    if os.path.exists(P("threads.txt")):
        th = []
        for l in open(P("threads.txt")):
            f = l.split()
            if len(f) >= 3:
                th.append((int(f[0]), f[1], int(f[2]), int(f[3]) if len(f) > 3 else None))
        if th:
            if all(x[3] is not None for x in th):
                th.sort(key=lambda x: (x[3], x[0]))
                kind = "user+system"
            else:
                kind = "system only (older threads.txt)"
            main_tid = meta.get("pid", th[0][0])
            order = [x[0] for x in th]
            top = sorted(th, key=lambda x: -x[2])[:5]
            pr("CPU (%s) by thread still alive at the end of the drain (%d; #n = order of "
               "creation; main = libmilter's listener): %s" % (kind, len(th), ", ".join(
                   "#%d%s %.1fs" % (order.index(t[0]), " (main)" if t[0] == main_tid else "",
                                    t[2] / hz) for t in top)))

    pr("== verdicts by their deadline")
    ct, to, rt = meta["connect_timeout"], meta["timeout"], meta["retries"]
    backoff = sum(2.0 * (1 << i) for i in range(rt))
    pend = meta["pending_ttl"]
    nominal = {"dropped": "every test filtered after connect_timeout: verdict clean at ~%gs" % ct,
               "tarpit": "every test times out at timeout=%gs: provisional error at ~%gs, "
                         "final after %d retry(ies) and %gs back-off at ~%gs" % (
                             to, to, rt, backoff, to * (rt + 1) + backoff),
               "closed": "refused at once: clean in ms"}
    pr("elapsed = from pe_submit to the verdict (queueing for admission included); the old "
       "table kept a pending claim for pending_ttl=%gs (timeout x attempts + back-offs + 60 s). "
       "Only verdicts logged before the end of the drain count; those written when proxymilter "
       "was stopped after it: %s. (Since 34ae25d the claim lasts the engine's own bound, "
       "pe_pending_bound() + 60 s = %s s here.)" % (pend, " ".join("%s=%d" % kv for kv in late_verdicts.items())
                                      or "none", meta.get("pending_bound_new", "?")))
    probed = set(probe_starts)
    tot_nofinal = tot_none = tot_overload = 0
    for c in classes:
        addrs = [a for a in probed if cls_of.get(a) == c]
        first, final, real, prov_only, none, late = [], [], [], 0, 0, 0
        vcount = collections.Counter()
        reasons = collections.Counter()
        for a in addrs:
            vs = verdicts.get(a, [])
            if not vs:
                none += 1
                continue
            e0 = secs(vs[0][1].get("elapsed"))
            if e0 is not None:
                first.append(e0)
            fin = [kv for _, kv in vs if kv.get("final") != "no"]
            if fin:
                e = secs(fin[-1].get("elapsed"))
                if e is not None:
                    final.append(e)
                    if e > pend:
                        late += 1
                    if fin[-1].get("reason") not in ("overload", "shutdown"):
                        real.append(e)
                vcount[fin[-1].get("verdict")] += 1
                reasons[fin[-1].get("reason", "-")] += 1
            else:
                prov_only += 1
                vcount[vs[-1][1].get("verdict") + "(provisional)"] += 1
                reasons[vs[-1][1].get("reason", "-")] += 1
        pr("-- %s: %d clients probed; nominal: %s" % (c, len(addrs), nominal.get(c, "?")))
        pr("   first verdict elapsed: %s" % dist(first, " s", 2))
        pr("   final verdict elapsed: %s; later than pending_ttl: %d" % (dist(final, " s", 2), late))
        pr("   ... of those from probes that ran (not overload/shutdown): %s" % dist(real, " s", 2))
        pr("   verdicts: %s; reasons: %s" % (" ".join("%s=%d" % kv for kv in vcount.most_common()),
                                             " ".join("%s=%d" % kv for kv in reasons.most_common())))
        pr("   no verdict line at all by the end of the drain: %d; provisional (final=no) line only: %d"
           % (none, prov_only))
        tot_none += none
        tot_nofinal += prov_only
    ov = sum(1 for a, vs in verdicts.items() for _, kv in vs if kv.get("reason") == "overload")
    st_in = [s for s in stats if s["_t"] <= t_cut] or stats
    engine_idle = bool(st_in) and st_in[-1].get("probes_inflight") == "0" and \
        st_in[-1].get("queued") == "0"
    pr("clients probed: %d; with no verdict at all at the end of the drain: %d; provisional only: %d "
       "(engine idle at the end: %s%s)" % (
           len(probed), tot_none, tot_nofinal, "yes" if engine_idle else "NO",
           ": this build logs no second line when retries change nothing"
           if engine_idle and tot_nofinal else "" if engine_idle else
           ": their retries may still run"))
    nw = sum(1 for a in probed if a not in cls_of)
    if nw:
        pr("(%d more probed clients belong to the witness driver and are not counted above)" % nw)
    pr("verdicts with reason=overload: %d" % ov)
    pr("drain: %s" % meta.get("drain", "?"))
    unprobed = [a for a in cls_of if a not in probed]
    skips = events.get("skip", 0)
    pr("connected addresses never probed: %d (skip lines: %d, cache lines: %d)" % (
        len(unprobed), skips, events.get("cache", 0)))

    revisit_cache = collections.Counter()
    for s in revis:
        hits = cache_by_addr.get(s["addr"])
        revisit_cache["cache:" + hits[-1] if hits else "no-cache-line"] += 1
    if revis:
        pr("== revisits (old clients reconnecting during the drain)")
        ft = {}
        for s in sorted(sess, key=lambda s: s["t"]):
            ft.setdefault(s["addr"], s["t"])
        ages = [s["t"] - ft[s["addr"]] for s in revis if s["addr"] in ft]
        pr("%d sessions from addresses first seen %s s earlier" % (len(revis), dist(ages, "", 0)))
        rw = collections.Counter(s["r"].get("rcpt", s["err"] or "none") for s in revis)
        pr("RCPT replies: %s; RCPT latency: %s" % (
            " ".join("%s=%d" % kv for kv in rw.most_common()),
            dist([s["rcpt_s"] for s in revis if "rcpt_s" in s], " s", 3)))
        ra = set(s["addr"] for s in revis)
        again = sum(1 for a in ra if len(probe_starts.get(a, [])) > 1)
        pr("revisited addresses probed again (a second probe-start): %d of %d; table says: %s" % (
            again, len(ra), " ".join("%s=%d" % kv for kv in revisit_cache.most_common()) or "-"))

    pr("== duplicate probe sets")
    dups = {a: v for a, v in probe_starts.items() if len(v) > 1}
    pr("addresses with more than one probe-start: %d (of %d probed; %d probe-start lines)" % (
        len(dups), len(probe_starts), sum(len(v) for v in probe_starts.values())))
    for a, v in list(dups.items())[:5]:
        pr("  %s (%s): %s" % (a, cls_of.get(a), ", ".join(
            "sess=%s at t=%.1fs" % (sid, t - t0) for t, sid in v)))

    pr("== milter log health")
    pr("lines by event: " + " ".join("%s=%d" % kv for kv in events.most_common()))
    pr("probe lines (info level: open and inconclusive only) by result/reason: " +
       " ".join("%s=%d" % kv for kv in probe_reasons.most_common()))
    if emfile_first:
        pr("first emfile at t=%.1fs: %s" % (emfile_first[0] - t0, emfile_first[1][:220]))
    for m, n in errors.most_common(8):
        pr("  %dx %s" % (n, m))
    for m, n in raw_lines.most_common(5):
        pr("  %dx (not a log line) %s" % (n, m))
    sl = collections.Counter()
    if os.path.exists(P("syslog.txt")):
        for l in open(P("syslog.txt"), errors="replace"):
            body = re.sub(r"^<\d+>\w{3} [ \d]\d \d\d:\d\d:\d\d ", "", l.rstrip("\n"))
            if "sess=" in body or re.search(r"\]: (stats|start|stop|reload) ", body):
                continue        # proxymilter's own lines (also in milter.log)
            sl[re.sub(r"\d+", "N", body)[:200]] += 1
    pr("libmilter's syslog lines (caught on a private /dev/log): %d" % sum(sl.values()))
    for m, n in sl.most_common(8):
        pr("  %dx %s" % (n, m))
    if meta.get("exit"):
        pr("proxymilter exit: %s" % meta["exit"])

    if os.path.exists(P("tarpit.json")):
        tp = json.load(open(P("tarpit.json")))
        pr("== tarpit")
        pr("connections accepted=%s peak held at once=%s bytes received=%s" % (
            tp.get("accepted"), tp.get("peak_open"), tp.get("bytes_in")))
    print("\n".join(out))


if __name__ == "__main__":
    main()
