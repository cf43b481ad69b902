/*
 * report-gen.c - a large, real-looking mail log for bench/report.sh:
 * proxymilter's lines as the milter writes them (sessions of clean
 * clients, open proxies, listed and suspect ones, cache hits, skips,
 * provisional verdicts), Postfix's lines around them and other programs'
 * lines (dovecot, cron, sshd, the kernel) in between, RFC 3164
 * timestamps over November 2026.  Written in 1 MB blocks to stdout until
 * the given size; the counts the report must find are printed to stderr
 * as "key=value" (the stats line's names).
 *
 *   report-gen MEGABYTES [SEED] >mail.log 2>expected.txt
 *
 * Not part of the build: bench/report.sh compiles it with cc -O2.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 32) % n;
}

static char out[1 << 20];
static size_t used;
static unsigned long long total, limit;
static long now_ms;			/* since Nov 1 00:00:00 */
static unsigned long sess_ctr;

static void
flush(void)
{
	if (used > 0 && fwrite(out, 1, used, stdout) != used) {
		perror("report-gen");
		exit(1);
	}
	total += used;
	used = 0;
}

static void line(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* one line: "Nov  1 00:00:00 mx PROG: ...", time moving on by 0-0.58 s */
static void
line(const char *prog, const char *fmt, ...)
{
	va_list ap;
	long s;
	int n;

	if (sizeof(out) - used < 4096)
		flush();
	now_ms += rnd(580);
	s = now_ms / 1000;
	if (s >= 30L * 86400)		/* stay in November */
		s = 30L * 86400 - 1;
	n = snprintf(out + used, sizeof(out) - used, "Nov %2ld %02ld:%02ld:%02ld mx %s: ",
	    s / 86400 + 1, s / 3600 % 24, s / 60 % 60, s % 60, prog);
	used += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(out + used, sizeof(out) - used, fmt, ap);
	va_end(ap);
	used += (size_t)n;
	out[used++] = '\n';
}

static const char *const cc[] = { "US", "CN", "RU", "BR", "DE", "IN", "VN", "NL", "FR", "ID" };
static const char *const tests[] = { "http-connect:3128", "http-connect:8080", "socks4:1080",
	"socks5:1080", "http-post:80", "wingate:23", "socks5:9050", "https-connect:443" };

static struct {
	long connections, probed, cache_hits, joined, skipped, rate_limited, provisional;
	long open, listed, suspect, clean, error, rejected, tagged;
} c;

static void
addr(char *b, size_t len, int proxy)
{
	if (proxy)		/* 5000 open proxies */
		snprintf(b, len, "203.%u.%u.%u", 100 + rnd(2), rnd(50), rnd(50));
	else			/* ~16 million others, most seen once */
		snprintf(b, len, "%u.%u.%u.%u", 11 + rnd(180), rnd(256), rnd(256), 1 + rnd(254));
}

static void
postfix_in(const char *ip, const char *qid, int delivered)
{
	line("postfix/smtpd[4411]", "connect from unknown[%s]", ip);
	if (delivered) {
		line("postfix/smtpd[4411]", "%s: client=unknown[%s]", qid, ip);
		line("postfix/cleanup[5120]", "%s: message-id=<%08x.%lu@example.net>", qid,
		    rnd(0xfffffff), sess_ctr);
		line("postfix/qmgr[900]", "%s: from=<news@example.net>, size=%u, nrcpt=1 (queue active)",
		    qid, 2000 + rnd(50000));
		line("postfix/smtp[5200]", "%s: to=<user%u@example.org>, relay=mail.example.org[192.0.2.25]:25, "
		    "delay=0.4, delays=0.1/0/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4Xy%06u)",
		    qid, rnd(1000), rnd(1000000));
		line("postfix/qmgr[900]", "%s: removed", qid);
	}
	line("postfix/smtpd[4411]", "disconnect from unknown[%s] ehlo=1 mail=1 rcpt=%d data=%d quit=1 commands=%d",
	    ip, delivered ? 1 : 0, delivered, delivered ? 5 : 3);
}

static void
session(void)
{
	char ip[32], qid[16], sess[9], pm[32];
	uint32_t k = rnd(1000);
	int proxy = k >= 850 && k < 930, delivered = 1;

	snprintf(pm, sizeof(pm), "proxymilter[%lu]", 812ul);
	snprintf(sess, sizeof(sess), "%08lx", (unsigned long)(sess_ctr++ * 2654435761u) & 0xfffffffful);
	snprintf(qid, sizeof(qid), "4%c%c%05uxyz", 'A' + rnd(26), 'a' + rnd(26), rnd(100000));
	addr(ip, sizeof(ip), proxy);
	line(pm, "NOQUEUE: connect sess=%s client=unknown[%s]:%u daemon=mx", sess, ip, 1024 + rnd(60000));
	c.connections++;
	if (k < 600) {			/* a new clean client */
		line(pm, "NOQUEUE: probe-start sess=%s client=[%s] tests=11 timeout=15.0s deadline=40.0s", sess, ip);
		c.probed++;
		for (int i = 0; i < 2; i++)
			line(pm, "NOQUEUE: probe sess=%s client=[%s] test=%s result=closed reason=refused "
			    "elapsed=0.%03us attempt=1", sess, ip, tests[rnd(8)], rnd(1000));
		if (k < 10) {		/* retried: provisional first */
			line(pm, "NOQUEUE: verdict sess=%s client=[%s] verdict=error reason=inconclusive "
			    "final=no ttl=300 tests=11 open=0 closed=10 inconclusive=1 elapsed=4.000s", sess, ip);
			c.provisional++;
		}
		line(pm, "NOQUEUE: verdict sess=%s client=[%s] verdict=clean country=%s%s ttl=3600 tests=11 "
		    "open=0 closed=11 inconclusive=0 elapsed=%u.%03us", sess, ip, cc[rnd(10)],
		    k < 10 ? " late=yes" : "", rnd(3), rnd(1000));
		c.clean++;
	} else if (k < 800) {		/* a known clean client */
		line(pm, "NOQUEUE: cache sess=%s client=[%s] hit=yes verdict=clean age=%us", sess, ip, rnd(3600));
		c.cache_hits++;
	} else if (k < 820) {		/* authenticated */
		line(pm, "NOQUEUE: cache sess=%s client=[%s] hit=inflight", sess, ip);
		c.joined++;
		line(pm, "%s: skip sess=%s client=unknown[%s]:%u reason=authenticated user=u%u stage=mail",
		    qid, sess, ip, 1024 + rnd(60000), rnd(100));
		c.skipped++;
	} else if (k < 830) {		/* rate-limited */
		line(pm, "NOQUEUE: skip sess=%s client=unknown[%s]:%u reason=rate-limit limit=per-24",
		    sess, ip, 1024 + rnd(60000));
		c.skipped++;
		c.rate_limited++;
	} else if (k < 850) {		/* listed or suspect */
		int listed = k < 840;
		line(pm, "NOQUEUE: probe-start sess=%s client=[%s] tests=11 timeout=15.0s", sess, ip);
		c.probed++;
		line(pm, "NOQUEUE: probe sess=%s client=[%s] test=dnsbl:0 result=closed reason=%s "
		    "findings=\"dnsbl=zen.example(%d)\" elapsed=0.050s detail=\"127.0.0.2 https://zen.example/query/ip/%s\"",
		    sess, ip, listed ? "listed" : "not-listed", listed ? 5 : 1, ip);
		line(pm, "NOQUEUE: verdict sess=%s client=[%s] verdict=%s evidence=%s score=%d findings=\"%s\" "
		    "country=%s ttl=600 tests=11 open=0 closed=11 inconclusive=0 elapsed=0.%03us", sess, ip,
		    listed ? "listed" : "suspect", listed ? "zen.example" : "fcrdns", listed ? 5 : 2,
		    listed ? "dnsbl=zen.example(5)" : "fcrdns=fail(1) helo=mismatch(1)", cc[rnd(10)], rnd(1000));
		if (listed) {
			c.listed++;
			line(pm, "%s: reject sess=%s stage=rcpt client=unknown[%s]:25 verdict=listed evidence=zen.example "
			    "reply=\"550 5.7.1 Client host [%s] is listed in DNS blocklists (zen.example)\" "
			    "from=<a@b.example> to=<u@example.org> helo=<pc%u>", qid, sess, ip, ip, rnd(1000));
			c.rejected++;
			delivered = 0;
		} else {
			c.suspect++;
			line(pm, "%s: tag sess=%s client=unknown[%s]:25 verdict=suspect header=X-Proxy-Check "
			    "value=\"suspect score=2 fcrdns=fail(1) helo=mismatch(1); host=mx\"", qid, sess, ip);
			c.tagged++;
		}
	} else if (proxy && k < 880) {	/* a new open proxy */
		const char *t = tests[rnd(8)];
		line(pm, "NOQUEUE: probe-start sess=%s client=[%s] tests=11 timeout=15.0s", sess, ip);
		c.probed++;
		line(pm, "NOQUEUE: probe sess=%s client=[%s] test=%s result=open reason=proved egress=%s "
		    "elapsed=0.%03us attempt=1 detail=\"HTTP/1.0 200 Connection established\"", sess, ip, t, ip, rnd(1000));
		line(pm, "NOQUEUE: probe sess=%s client=[%s] test=socks4:1080 result=inconclusive reason=timeout "
		    "elapsed=5.000s attempt=2", sess, ip);
		line(pm, "NOQUEUE: verdict sess=%s client=[%s] verdict=open-proxy evidence=%s egress=%s country=%s "
		    "ttl=86400 tests=11 open=1 closed=9 inconclusive=1 elapsed=0.%03us", sess, ip, t, ip,
		    cc[rnd(10)], rnd(1000));
		c.open++;
		goto reject;
	} else if (proxy) {		/* a known open proxy */
		line(pm, "NOQUEUE: cache sess=%s client=[%s] hit=yes verdict=open-proxy evidence=socks5:1080 age=%us",
		    sess, ip, rnd(80000));
		c.cache_hits++;
reject:
		line(pm, "NOQUEUE: reject sess=%s stage=rcpt client=unknown[%s]:%u verdict=open-proxy "
		    "evidence=socks5:1080 reply=\"550 5.7.1 Client host [%s] is an open proxy (socks5:1080)\" "
		    "from=<x%u@spam.example> to=<u%u@example.org> helo=<%s>", sess, ip, 1024 + rnd(60000), ip,
		    rnd(1000), rnd(1000), ip);
		c.rejected++;
		delivered = 0;
	} else {			/* an error verdict */
		line(pm, "NOQUEUE: probe-start sess=%s client=[%s] tests=11 timeout=15.0s", sess, ip);
		c.probed++;
		line(pm, "NOQUEUE: verdict sess=%s client=[%s] verdict=error reason=inconclusive ttl=300 tests=11 "
		    "open=0 closed=5 inconclusive=6 elapsed=15.000s", sess, ip);
		c.error++;
	}
	postfix_in(ip, qid, delivered);
	if (!delivered)
		line("postfix/smtpd[4411]", "NOQUEUE: milter-reject: RCPT from unknown[%s]: 550 5.7.1 Client host "
		    "rejected; from=<x@spam.example> to=<u@example.org> proto=ESMTP helo=<pc>", ip);
	line(pm, "%s: close sess=%s client=unknown[%s]:25 msgs=%d rcpts=%d rejected=%d duration=0.%03us",
	    delivered ? qid : "NOQUEUE", sess, ip, delivered, delivered, !delivered, rnd(1000));
}

static void
other(void)
{
	switch (rnd(5)) {
	case 0:
		line("dovecot[700]", "imap-login: Login: user=<u%u@example.org>, method=PLAIN, rip=192.0.2.%u, "
		    "lip=192.0.2.1, mpid=%u, TLS, session=<%08x>", rnd(1000), rnd(255), rnd(60000), rnd(0x7fffffff));
		break;
	case 1:
		line("CRON[9000]", "(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)");
		break;
	case 2:
		line("sshd[9100]", "Invalid user admin from 198.51.100.%u port %u", rnd(255), 1024 + rnd(60000));
		break;
	case 3:
		line("kernel", "[UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:12:34:56 SRC=198.51.100.%u DST=192.0.2.1 "
		    "LEN=40 TOS=0x00 PREC=0x00 TTL=240 ID=54321 PROTO=TCP SPT=%u DPT=23 WINDOW=65535 RES=0x00 SYN URGP=0",
		    rnd(255), 1024 + rnd(60000));
		break;
	default:
		line("postfix/anvil[950]", "statistics: max connection rate 3/60s for (smtp:198.51.100.%u) at Nov 21 10:00:00",
		    rnd(255));
	}
}

int
main(int argc, char **argv)
{
	if (argc < 2 || (limit = strtoull(argv[1], NULL, 10) * 1024 * 1024) == 0) {
		fprintf(stderr, "usage: report-gen MEGABYTES [SEED]\n");
		return 2;
	}
	if (argc > 2)
		rng ^= strtoull(argv[2], NULL, 10) * 0x9e3779b97f4a7c15ull;
	while (total + used < limit) {
		session();
		if (rnd(3) == 0)
			other();
	}
	flush();
	fprintf(stderr, "connections=%ld probed=%ld cache_hits=%ld joined=%ld skipped=%ld rate_limited=%ld "
	    "provisional=%ld open=%ld listed=%ld suspect=%ld clean=%ld error=%ld rejected=%ld tagged=%ld bytes=%llu\n",
	    c.connections, c.probed, c.cache_hits, c.joined, c.skipped, c.rate_limited, c.provisional,
	    c.open, c.listed, c.suspect, c.clean, c.error, c.rejected, c.tagged, total);
	return 0;
}
