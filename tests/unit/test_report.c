/*
 * test_report - proxymilter-report's modules without main: timestamps
 * (every format, offsets, fractions, leap days, bad ones), the RFC 3164
 * year (rollover, the file's mtime), the line parser on hostile lines,
 * the aggregation's rules (provisional, quarantined, rejects joined by
 * address in any order, since/until edges, -c), and the writers' escaping
 * (JSON, CSV).  Runs in TZ=Europe/Berlin (set here) so that local times
 * have an offset and a summer time.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "t.h"
#include "report.h"

/* UTC seconds of a date and time (the expected values) */
static time_t
utc(int y, int mo, int d, int h, int mi, int s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

static time_t
ts(const char *s)
{
	const char *rest = NULL;
	return rlog_time(s, 2026, &rest);
}

static void
test_times(void)
{
	const time_t t0 = utc(2026, 11, 21, 10, 0, 0);
	const char *rest = NULL;

	T_OK(ts("2026-11-21T10:00:00Z") == t0, "RFC 3339 Z");
	T_OK(ts("2026-11-21T10:00:00z") == t0, "RFC 3339 lower-case z");
	T_OK(ts("2026-11-21T11:00:00+01:00") == t0, "RFC 3339 +01:00");
	T_OK(ts("2026-11-21T11:00:00+0100") == t0, "journald short-iso +0100");
	T_OK(ts("2026-11-21T05:30:00-04:30") == t0, "negative offset with minutes");
	T_OK(ts("2026-11-21T10:00:00.123456Z") == t0, "fraction of 6 digits dropped");
	T_OK(ts("2026-11-21T11:00:00.999999999+01:00") == t0, "fraction of 9 digits");
	T_OK(ts("2026-11-21T11:00:00.123") == t0, "milter stderr format: local time (CET)");
	T_OK(ts("2026-07-01T12:00:00.5") == utc(2026, 7, 1, 10, 0, 0), "local summer time (CEST)");
	T_OK(ts("2026-11-21 11:00:00") == t0, "space for T");
	T_OK(rlog_time("2026-11-21T10:00:00Z host proxymilter[1]: x", 0, &rest) == t0 &&
	    strcmp(rest, " host proxymilter[1]: x") == 0, "rest after the timestamp");
	T_OK(ts("2026-12-31T23:59:60Z") == utc(2027, 1, 1, 0, 0, 0), "leap second 60");
	T_OK(ts("2028-02-29T00:00:00Z") == utc(2028, 2, 29, 0, 0, 0), "leap day 2028");
	T_OK(ts("2000-02-29T00:00:00Z") == utc(2000, 2, 29, 0, 0, 0), "leap day 2000");
	T_OK(ts("2026-02-29T00:00:00Z") == -1, "no Feb 29 in 2026");
	T_OK(ts("2100-02-29T00:00:00Z") == -1, "no Feb 29 in 2100");
	T_OK(ts("2026-13-01T00:00:00Z") == -1, "month 13");
	T_OK(ts("2026-00-01T00:00:00Z") == -1, "month 0");
	T_OK(ts("2026-11-31T00:00:00Z") == -1, "Nov 31");
	T_OK(ts("2026-11-00T00:00:00Z") == -1, "day 0");
	T_OK(ts("2026-11-21T24:00:00Z") == -1, "hour 24");
	T_OK(ts("2026-11-21T10:60:00Z") == -1, "minute 60");
	T_OK(ts("2026-11-21T10:00:61Z") == -1, "second 61");
	T_OK(ts("2026-11-21T10:00Z") == -1, "a line's time needs seconds");
	T_OK(ts("2026-11-21T10:00:00+24:00") == -1, "offset hour 24");
	T_OK(ts("2026-11-21T10:00:00+01:60") == -1, "offset minute 60");
	T_OK(ts("2026-11-21T10:00:00+1") == -1, "short offset");
	T_OK(ts("2026-11-21T10:00:00.Z") == -1, "empty fraction");
	T_OK(ts("2026-11-21T10:00:00.1234567890Z") == -1, "fraction of 10 digits");
	T_OK(ts("2026-11-21T10:00:00Zx") == -1, "garbage after the offset");
	T_OK(ts("2026-11-21X10:00:00Z") == -1, "bad separator");
	T_OK(ts("2026-11-2110:00:00Z") == -1, "no separator");
	T_OK(ts("1969-12-31T23:59:59Z") == -1, "before 1970");
	T_OK(ts("1970-01-01T00:30:00+01:00") == -1, "before the epoch by the offset");
	T_OK(ts("") == -1 && ts("2") == -1 && ts("2026-1") == -1, "truncated");
	T_OK(ts("+026-11-21T10:00:00Z") == -1, "sign in the year");

	T_OK(rlog_time("Nov 21 11:00:00 mx", 2026, &rest) == t0 && strcmp(rest, " mx") == 0,
	    "RFC 3164 with the given year, local");
	T_OK(rlog_time("Nov  1 11:00:00", 2026, &rest) == utc(2026, 11, 1, 10, 0, 0),
	    "RFC 3164 space-padded day");
	T_OK(rlog_time("Nov 01 11:00:00", 2026, &rest) == utc(2026, 11, 1, 10, 0, 0),
	    "RFC 3164 zero-padded day");
	T_OK(rlog_time("Feb 29 12:00:00", 2028, &rest) == utc(2028, 2, 29, 11, 0, 0), "RFC 3164 leap day");
	T_OK(rlog_time("Feb 29 12:00:00", 2026, &rest) == -1, "RFC 3164 Feb 29 in 2026");
	T_OK(rlog_time("Nov 31 12:00:00", 2026, &rest) == -1, "RFC 3164 Nov 31");
	T_OK(rlog_time("nov 21 12:00:00", 2026, &rest) == -1, "RFC 3164 month is case-sensitive");
	T_OK(rlog_time("Nov 21 12:00", 2026, &rest) == -1, "RFC 3164 without seconds");
	T_OK(rlog_time("Nov 21 12:00:00x", 2026, &rest) == -1, "RFC 3164 with garbage");
	T_OK(rlog_time("Nov 21 25:00:00", 2026, &rest) == -1, "RFC 3164 hour 25");
	T_OK(rlog_time("Nov  0 12:00:00", 2026, &rest) == -1, "RFC 3164 day 0");
	T_OK(rlog_time("Nov", 2026, &rest) == -1 && rlog_time("", 2026, &rest) == -1, "RFC 3164 truncated");

	/* DATE arguments */
	T_OK(rlog_date("2026-11-21", 0) == utc(2026, 11, 20, 23, 0, 0), "DATE: a day starts at local 00:00");
	T_OK(rlog_date("2026-11-21", 1) == utc(2026, 11, 21, 23, 0, 0), "--until DATE: up to the day's end");
	T_OK(rlog_date("2026-10-25", 1) - rlog_date("2026-10-25", 0) == 25 * 3600,
	    "--until on the day summer time ends: 25 hours");
	T_OK(rlog_date("2026-11-21 10:30", 1) == utc(2026, 11, 21, 9, 30, 0), "DATE with HH:MM");
	T_OK(rlog_date("2026-11-21 10:30:15", 0) == utc(2026, 11, 21, 9, 30, 15), "DATE with seconds");
	T_OK(rlog_date("2026-11-21T10:30:00Z", 1) == utc(2026, 11, 21, 10, 30, 0), "DATE in RFC 3339");
	T_OK(rlog_date("2026-11-21x", 0) == -1 && rlog_date("21.11.2026", 0) == -1 &&
	    rlog_date("2026-11-21 10", 0) == -1 && rlog_date("", 0) == -1 &&
	    rlog_date("2026-11-21 10:30 ", 0) == -1, "bad DATEs");
	T_OK(rlog_midnight(utc(2026, 11, 21, 10, 0, 0), -1) == utc(2026, 11, 19, 23, 0, 0), "yesterday's midnight");
	T_OK(rlog_midnight(utc(2026, 3, 29, 12, 0, 0), 1) - rlog_midnight(utc(2026, 3, 29, 12, 0, 0), 0) ==
	    23 * 3600, "the day summer time begins has 23 hours");
	{
		char b[48];
		T_STREQ(rlog_rfc3339(t0, b, sizeof(b)), "2026-11-21T11:00:00+01:00", "RFC 3339 out, winter");
		T_STREQ(rlog_rfc3339(utc(2026, 7, 1, 10, 0, 0), b, sizeof(b)), "2026-07-01T12:00:00+02:00",
		    "RFC 3339 out, summer");
		T_STREQ(rlog_rfc3339(-1, b, sizeof(b)), "", "RFC 3339 out of -1");
	}
}

static time_t
y3164(struct ryear *ry, const char *s)
{
	const char *rest;
	return rlog_time_rfc3164(ry, s, &rest);
}

static void
test_years(void)
{
	struct ryear ry;

	/* a file last written on Jan 2 2027 that starts in December */
	rlog_year_init(&ry, utc(2027, 1, 2, 12, 0, 0));
	T_OK(y3164(&ry, "Dec 31 23:59:00") == utc(2026, 12, 31, 22, 59, 0),
	    "a December line in a file written in January is last year's");
	T_OK(y3164(&ry, "Jan  1 00:00:01") == utc(2026, 12, 31, 23, 0, 1), "Dec -> Jan: next year");
	T_OK(y3164(&ry, "Dec 31 23:59:59") == utc(2026, 12, 31, 22, 59, 59), "a late December line after the turn");
	T_OK(y3164(&ry, "Jan  2 10:00:00") == utc(2027, 1, 2, 9, 0, 0), "... and the year stays the new one");
	T_OK(ry.year == 2027, "year state after the rollover");

	/* a file written mid-year holding November lines: last year's */
	rlog_year_init(&ry, utc(2026, 6, 15, 12, 0, 0));
	T_OK(y3164(&ry, "Nov 21 11:00:00") == utc(2025, 11, 21, 10, 0, 0),
	    "a line more than a day after the mtime is last year's");
	rlog_year_init(&ry, utc(2026, 6, 15, 12, 0, 0));
	T_OK(y3164(&ry, "Jun 16 11:00:00") == utc(2026, 6, 16, 9, 0, 0), "less than a day after the mtime: this year");
	rlog_year_init(&ry, utc(2026, 6, 15, 12, 0, 0));
	T_OK(y3164(&ry, "Jun 17 11:00:00") == utc(2025, 6, 17, 9, 0, 0), "two days after the mtime: last year");

	/* sparse logs: months between two lines do not turn the year */
	rlog_year_init(&ry, utc(2026, 9, 30, 12, 0, 0));
	T_OK(y3164(&ry, "Feb  1 10:00:00") == utc(2026, 2, 1, 9, 0, 0) &&
	    y3164(&ry, "Sep 15 10:00:00") == utc(2026, 9, 15, 8, 0, 0),
	    "a gap of seven months forward stays in the year");
	rlog_year_init(&ry, utc(2027, 1, 10, 12, 0, 0));
	T_OK(y3164(&ry, "Jun  1 10:00:00") == utc(2026, 6, 1, 8, 0, 0) &&
	    y3164(&ry, "Jan  5 10:00:00") == utc(2027, 1, 5, 9, 0, 0),
	    "a gap of seven months across the turn moves to the next year");

	/* stdin: mtime = now, long after the log */
	rlog_year_init(&ry, utc(2027, 3, 1, 0, 0, 0));
	T_OK(y3164(&ry, "Dec 30 10:00:00") == utc(2026, 12, 30, 9, 0, 0) &&
	    y3164(&ry, "Jan  5 10:00:00") == utc(2027, 1, 5, 9, 0, 0), "rollover read from stdin");
	/* a leap day: Feb 29 2028 in a file from March 2028 */
	rlog_year_init(&ry, utc(2028, 3, 1, 0, 0, 0));
	T_OK(y3164(&ry, "Feb 29 10:00:00") == utc(2028, 2, 29, 9, 0, 0), "RFC 3164 leap day by the mtime's year");
	rlog_year_init(&ry, utc(2027, 3, 1, 0, 0, 0));
	T_OK(y3164(&ry, "Feb 29 10:00:00") == -1, "no Feb 29 in the mtime's year: no time");
	T_OK(y3164(&ry, "Foo 29 10:00:00") == -1, "not RFC 3164");
}

/* parse a copy of s; returns rlog_parse's result */
static char pbuf[9000];
static struct rline pl;

static int
parse(const char *s)
{
	struct ryear ry;
	rlog_year_init(&ry, utc(2026, 12, 1, 0, 0, 0));
	snprintf(pbuf, sizeof(pbuf), "%s", s);
	return rlog_parse(pbuf, &ry, &pl);
}

static void
test_parse(void)
{
	char big[4000];
	size_t n;

	T_OK(parse("Nov 21 10:00:01 mx proxymilter[812]: NOQUEUE: connect sess=5f3a1c0e "
	    "client=unknown[203.0.113.9]:51234 daemon=mx\n") == 1, "syslog line");
	T_STREQ(pl.qid, "NOQUEUE", "queue id");
	T_STREQ(pl.event, "connect", "event");
	T_OK(pl.nkv == 3, "three pairs");
	T_STREQ(rlog_get(&pl, "client"), "unknown[203.0.113.9]:51234", "rlog_get");
	T_OK(rlog_get(&pl, "nothere") == NULL, "rlog_get of a missing key");
	T_OK(pl.t == utc(2026, 11, 21, 9, 0, 1), "its time");
	T_OK(parse("2026-11-21T10:00:00.123 proxymilter[9]: stats connections=3 probed=2\r\n") == 1 &&
	    pl.qid == NULL && strcmp(pl.event, "stats") == 0 && strcmp(rlog_get(&pl, "probed"), "2") == 0,
	    "the milter's stderr line, no queue id, CRLF");
	T_OK(parse("2026-11-21T10:00:00+0100 mx proxymilter[9]: 4Bf2kN1xyzz: tag x=1") == 1 &&
	    strcmp(pl.qid, "4Bf2kN1xyzz") == 0, "journald short-iso, a Postfix long queue id");
	T_OK(parse("Nov 21 10:00:02 mx proxymilter[812]: NOQUEUE: reject reply=\"550 5.7.1 x\" "
	    "helo=\"<\\\"quoted \\\\ helo\\\">\" to=<c@d.example>") == 1, "quoted values");
	T_STREQ(rlog_get(&pl, "reply"), "550 5.7.1 x", "quoted value");
	T_STREQ(rlog_get(&pl, "helo"), "<\"quoted \\ helo\">", "escapes undone");
	T_STREQ(rlog_get(&pl, "to"), "<c@d.example>", "value after a quoted one");
	T_OK(parse("Nov 21 10:00:02 mx proxymilter[812]: NOQUEUE: x a=\"\" b=1") == 1 &&
	    strcmp(rlog_get(&pl, "a"), "") == 0, "empty quoted value");
	T_OK(parse("Nov 21 10:00:02 mx proxymilter[812]: NOQUEUE: x  a=1   b=2  ") == 1 && pl.nkv == 2,
	    "runs of spaces");
	T_OK(parse("Nov 21 10:00:02 mx proxymilter[812]: start") == 1 && pl.nkv == 0, "an event alone");

	/* not ours */
	T_OK(parse("Nov 21 10:00:02 mx postfix/smtpd[1]: connect from x[1.2.3.4]") == 0, "another program");
	T_OK(parse("Nov 21 10:00:02 mx sudo[1]: root : COMMAND=/usr/bin/grep proxymilter[1]: x") == 0,
	    "a line that only mentions the tag");
	T_OK(parse("Nov 21 10:00:02 mx xproxymilter[1]: NOQUEUE: connect a=1") == 0, "a longer tag");
	T_OK(parse("Nov 21 10:00:02 mx proxymilter[]: NOQUEUE: connect a=1") == 0, "no pid");
	T_OK(parse("Nov 21 10:00:02 mx proxymilter[12]:x") == 0, "no space after the tag");
	T_OK(parse("Nov 21 10:00:02 mx proxymilter[12345678901]: x") == 0, "pid of 11 digits");

	/* ours, but broken */
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: garbage without = signs here") == -1,
	    "words without =");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: ") == -1 &&
	    parse("Nov 21 10:00:12 mx proxymilter[812]:") == -1, "empty message");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: x a=\"open") == -1, "unterminated quote");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: x a=\"b\\n\"") == -1, "unknown escape");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: x a=\"b\\") == -1, "escape at the end");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: x a=\"b\"c") == -1, "text after a quote");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: x a=b\"c") == -1, "quote in a bare value");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: x =b") == -1, "empty key");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: x a b=c") == -1, "key without =");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: Connect a=1") == -1, "upper-case event");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NO-QUEUE: x a=1") == -1, "bad queue id");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE:") == -1, "queue id without event");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: x k\x01y=1") == -1, "control byte in a key");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: eventnameeventnameeventnameeventx a=1") == -1,
	    "event of 33 characters");
	strcpy(big, "Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: x");
	for (int i = 0; i < RL_MAXKV; i++) {
		n = strlen(big);
		snprintf(big + n, sizeof(big) - n, " k%d=v", i);
	}
	T_OK(parse(big) == 1 && pl.nkv == RL_MAXKV, "RL_MAXKV pairs");
	n = strlen(big);
	snprintf(big + n, sizeof(big) - n, " one=more");
	T_OK(parse(big) == -1, "one pair more than RL_MAXKV");
	T_OK(parse("Nov 21 10:00:12 mx proxymilter[812]: NOQUEUE: x a=\"\xff\x01\xc3\xa9 \\\"\"") == 1 &&
	    strcmp(rlog_get(&pl, "a"), "\xff\x01\xc3\xa9 \"") == 0, "any byte inside quotes is kept");

	/* lines without a time: ours (t = -1) when the tag is early */
	T_OK(parse("proxymilter[1]: NOQUEUE: connect a=1") == 1 && pl.t == -1, "no timestamp: t = -1");
	T_OK(parse("Nov 31 10:00:00 mx proxymilter[1]: NOQUEUE: connect a=1") == 1 && pl.t == -1,
	    "a broken timestamp: t = -1");
	T_OK(parse("a b c d e f proxymilter[1]: NOQUEUE: connect a=1") == 0, "tag too far for a line without a time");
	T_OK(parse("Nov 21 10:00:00 a b proxymilter[1]: NOQUEUE: connect a=1") == 0,
	    "after a timestamp the tag is the first or second word");
}

/* ---- aggregation ---------------------------------------------------------------- */

static struct ragg *ag;
static struct ryear agry;

static void
feed(const char *s)
{
	struct rline l;
	char b[4096];
	int r;

	snprintf(b, sizeof(b), "%s", s);
	r = rlog_parse(b, &agry, &l);
	if (r == 1)
		ragg_line(ag, &l);
	else
		ragg_other(ag, r < 0);
}

#define P "Nov 21 "
#define M " mx proxymilter[812]: "

static void
test_agg(void)
{
	const struct report *r;

	rlog_year_init(&agry, utc(2026, 12, 1, 0, 0, 0));
	ag = ragg_new(-1, -1, NULL);
	T_OK(ag != NULL, "ragg_new");
	/* the reject comes before the verdict (files in reverse order) */
	feed(P "10:00:05" M "NOQUEUE: reject sess=1 stage=rcpt client=x[203.0.113.9]:5 verdict=open-proxy "
	    "evidence=socks5:1080 reply=\"550 x\"");
	feed(P "10:00:01" M "NOQUEUE: connect sess=1 client=x[203.0.113.9]:5");
	feed(P "10:00:01" M "NOQUEUE: probe-start sess=1 client=[203.0.113.9] tests=2");
	feed(P "10:00:02" M "NOQUEUE: probe sess=1 client=[203.0.113.9] test=socks5:1080 result=open elapsed=0.400s");
	feed(P "10:00:02" M "NOQUEUE: probe sess=1 client=[203.0.113.9] test=socks4:1080 result=closed elapsed=0.200s");
	feed(P "10:00:02" M "NOQUEUE: probe sess=1 client=[203.0.113.9] test=socks4:1080 result=inconclusive elapsed=1.000s");
	feed(P "10:00:02" M "NOQUEUE: verdict sess=1 client=[203.0.113.9] verdict=open-proxy evidence=http-connect:3128 "
	    "final=no elapsed=0.3s");
	feed(P "10:00:03" M "NOQUEUE: verdict sess=1 client=[203.0.113.9] verdict=open-proxy evidence=socks5:1080 "
	    "country=DE late=yes elapsed=0.500s");
	feed(P "10:00:04" M "NOQUEUE: verdict sess=2 client=[192.0.2.7] verdict=open-proxy evidence=socks5:1080 "
	    "quarantined=selftest elapsed=1.000s");
	feed(P "10:00:04" M "NOQUEUE: verdict sess=3 client=[192.0.2.8] verdict=listed evidence=zen elapsed=0.100s "
	    "country=US");
	feed(P "10:00:06" M "NOQUEUE: cache sess=4 client=[203.0.113.9] hit=yes verdict=open-proxy evidence=late:1 age=3s");
	feed(P "10:00:06" M "NOQUEUE: cache sess=5 client=[192.0.2.9] hit=inflight");
	feed(P "10:00:07" M "NOQUEUE: skip sess=6 client=y[192.0.2.10]:6 reason=rate-limit limit=per-24");
	feed(P "10:00:07" M "NOQUEUE: skip sess=6 client=y[192.0.2.10]:6 reason=authenticated user=a stage=mail");
	feed(P "10:00:08" M "NOQUEUE: would-tempfail sess=7 stage=connect client=z[192.0.2.11]:7 verdict=suspect mode=observe");
	feed(P "10:00:08" M "NOQUEUE: tag sess=7 client=z[192.0.2.11]:7 verdict=suspect header=X value=y");
	feed(P "10:00:09" M "NOQUEUE: reject sess=8 stage=banana client=z[192.0.2.11]:7 verdict=suspect");
	feed(P "10:00:09" M "NOQUEUE: verdict sess=9 client=[192.0.2.12] verdict=purple");
	feed(P "10:00:09" M "NOQUEUE: whatever sess=9 client=[192.0.2.12] a=b");
	feed("proxymilter[812]: NOQUEUE: connect sess=10 client=[192.0.2.13]");
	feed(P "10:00:10 mx postfix/smtpd[1]: connect from x");
	feed(P "10:00:10" M "garbage here");
	r = ragg_finish(ag);
	T_OK(r != NULL, "ragg_finish");
	T_OK(r->lines == 22 && r->ours == 21 && r->bad == 4, "lines, ours, bad (no time, bad stage, bad class, garbage)");
	T_OK(r->connections == 1 && r->probed == 1 && r->cache_hits == 1 && r->joined == 1, "totals");
	T_OK(r->provisional == 1 && r->verdicts[RC_OPEN] == 1, "a provisional line counts in provisional only");
	T_OK(r->verdicts[RC_ERROR] == 1, "a quarantined verdict counts as error, as the milter counts it");
	T_OK(r->verdicts[RC_LISTED] == 1, "listed");
	T_OK(r->skipped == 2 && r->rate_limited == 1, "skips, rate-limit counted in both");
	T_OK(r->actions[RA_REJECT][RS_RCPT] == 1, "reject at rcpt");
	T_OK(r->actions[RA_WOULD_TEMPFAIL][RS_CONNECT] == 1, "would-tempfail at connect");
	T_OK(r->actions[RA_TAG][RS_EOM] == 1, "a tag line counts at eom");
	T_OK(r->ncountries == 2 && r->countries[0].n == 1, "countries of final verdicts");
	T_OK(r->ntests == 2 && strcmp(r->tests[0].name, "socks4:1080") == 0 && r->tests[0].run == 2 &&
	    r->tests[0].closed == 1 && r->tests[0].inconclusive == 1 && r->tests[1].open == 1,
	    "tests sorted by runs, results");
	T_OK(r->tests[0].elapsed > 1.199 && r->tests[0].elapsed < 1.201, "test elapsed summed");
	T_OK(r->verdict_timed[RC_OPEN] == 1 && r->verdict_elapsed[RC_OPEN] > 0.499 &&
	    r->verdict_elapsed[RC_OPEN] < 0.501, "time to verdict");
	T_OK(r->noffenders == 3, "offenders: the proxy, the listed one, the suspect one");
	T_STREQ(r->offenders[0].addr, "203.0.113.9", "the most rejected first");
	T_OK(r->offenders[0].rejects == 1 && r->offenders[0].verdicts == 1,
	    "a reject before its verdict is joined by address");
	T_STREQ(r->offenders[0].evidence, "late:1", "evidence of the latest line");
	T_STREQ(r->offenders[0].country, "DE", "country of the verdict");
	T_OK(r->offenders[0].first == utc(2026, 11, 21, 9, 0, 3) && r->offenders[0].last ==
	    utc(2026, 11, 21, 9, 0, 6), "first and last seen as an offender");
	T_OK(r->ndays == 1 && r->days[0].connections == 1 && r->days[0].detections == 2 &&
	    r->days[0].rejects == 1, "per day");
	T_OK(r->hours[10] == 1, "per hour, local");
	T_OK(r->first == utc(2026, 11, 21, 9, 0, 1) && r->last == utc(2026, 11, 21, 9, 0, 9), "first and last");
	ragg_free(ag);

	/* since/until: since <= t < until; -c */
	ag = ragg_new(utc(2026, 11, 21, 9, 0, 1), utc(2026, 11, 21, 9, 0, 3), NULL);
	feed(P "10:00:00" M "NOQUEUE: connect sess=1 client=a[192.0.2.1]:1");
	feed(P "10:00:01" M "NOQUEUE: connect sess=2 client=a[192.0.2.2]:1");
	feed(P "10:00:02" M "NOQUEUE: connect sess=3 client=a[192.0.2.3]:1");
	feed(P "10:00:03" M "NOQUEUE: connect sess=4 client=a[192.0.2.4]:1");
	feed("proxymilter[812]: NOQUEUE: connect sess=5 client=a[192.0.2.5]:1");
	r = ragg_finish(ag);
	T_OK(r->connections == 2 && r->outside == 2 && r->bad == 1, "since inclusive, until exclusive, no time is bad");
	T_OK(r->first == utc(2026, 11, 21, 9, 0, 1) && r->last == utc(2026, 11, 21, 9, 0, 2), "first/last inside");
	ragg_free(ag);
	ag = ragg_new(-1, -1, "[192.0.2.2]");
	feed(P "10:00:00" M "NOQUEUE: connect sess=1 client=a[192.0.2.1]:1");
	feed(P "10:00:01" M "NOQUEUE: connect sess=2 client=a[192.0.2.2]:1");
	feed(P "10:00:01" M "stats connections=2");
	r = ragg_finish(ag);
	T_OK(r->connections == 1 && r->filtered == 2, "-c keeps the client's lines only");
	ragg_free(ag);
}

/* ---- writers ----------------------------------------------------------------------- */

static char *
write_out(int which, const char *table)
{
	const struct report *r = ragg_finish(ag);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL || r == NULL)
		return NULL;
	rc = which == 0 ? report_json(f, r) : which == 1 ? report_csv(f, r, table) :
	    report_text(f, r, 0);
	fclose(f);
	if (rc < 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void
test_writers(void)
{
	char *out;

	rlog_year_init(&agry, utc(2026, 12, 1, 0, 0, 0));
	ag = ragg_new(-1, -1, NULL);
	feed(P "10:00:03" M "NOQUEUE: verdict sess=1 client=[203.0.113.9] verdict=open-proxy "
	    "evidence=\"a\\\"b\\\\c\x01\x7f<>&\xc3\xa9\xff\xe2\x80\xa8\xed\xa0\x80\xf4\x90\x80\x80 =x,y\" "
	    "country=\"D\\\"E\"");
	feed(P "10:00:04" M "NOQUEUE: verdict sess=2 client=[192.0.2.1] verdict=listed evidence=\"=cmd|x\"");
	feed(P "10:00:05" M "NOQUEUE: probe sess=2 client=[192.0.2.1] test=\"we,ird:99999\" result=open");
	out = write_out(0, NULL);
	T_OK(out != NULL, "JSON written");
	T_OK(out != NULL && strstr(out, "\"evidence\": \"a\\\"b\\\\c\\u0001\\u007f\\u003c\\u003e\\u0026"
	    "\xc3\xa9\\u00ff\\u2028\\u00ed\\u00a0\\u0080\\u00f4\\u0090\\u0080\\u0080 =x,y\"") != NULL,
	    "JSON escapes: quotes, controls, <>&, valid UTF-8 kept, invalid bytes as \\u00XX, U+2028, no surrogates, nothing above U+10FFFF");
	T_OK(out != NULL && strstr(out, "\"country\": \"D\\\"E\"") != NULL, "JSON country escaped");
	T_OK(out != NULL && strstr(out, "\"schema\": 1,") != NULL, "schema version");
	T_OK(out != NULL && strstr(out, "\"test\": \"we,ird:99999\", \"protocol\": \"we,ird\", \"port\": null") != NULL,
	    "a port out of range is null");
	T_OK(out != NULL && strstr(out, "\"first\": \"2026-11-21T10:00:03+01:00\", \"first_unix\": 1795251603") != NULL,
	    "times as RFC 3339 and Unix seconds");
	free(out);
	out = write_out(1, "offenders");
	T_OK(out != NULL && strncmp(out, "address,class,evidence,country,first,first_unix,last,last_unix,"
	    "verdicts,rejects\r\n", 75) == 0, "CSV header and CRLF");
	T_OK(out != NULL && strstr(out, ",open-proxy,\"a\"\"b\\c?" "?<>&\xc3\xa9\xc3\xbf\xe2\x80\xa8\xc3\xad\xc2\xa0"
	    "\xc2\x80\xc3\xb4\xc2\x90\xc2\x80\xc2\x80 =x,y\",\"D\"\"E\",") != NULL,
	    "CSV: quoted, quotes doubled, controls as ?, invalid bytes as Latin-1");
	T_OK(out != NULL && strstr(out, ",listed,'=cmd|x,,") != NULL, "CSV: a formula is defused");
	free(out);
	out = write_out(1, "tests");
	T_OK(out != NULL && strstr(out, "\"we,ird:99999\",\"we,ird\",,1,1,0,0,0.000\r\n") != NULL, "CSV tests row");
	free(out);
	{
		const struct report *r = ragg_finish(ag);
		FILE *f = fopen("/dev/null", "w");
		errno = 0;
		T_OK(report_csv(f, r, "nonsense") == -1 && errno == EINVAL, "unknown CSV table: EINVAL");
		for (int i = 0; report_csv_tables[i] != NULL; i++)
			T_OK(report_csv(f, r, report_csv_tables[i]) == 0, report_csv_tables[i]);
		fclose(f);
	}
	out = write_out(2, NULL);
	T_OK(out != NULL && strstr(out, "a\"b\\c?" "?<>&") != NULL && strchr(out, '\x01') == NULL &&
	    strchr(out, '\x7f') == NULL && strchr(out, '\xff') == NULL, "text: printable ASCII only");
	free(out);
	ragg_free(ag);
}

int
main(void)
{
	t_prog = "report: ";
	setenv("TZ", "Europe/Berlin", 1);
	tzset();
	test_times();
	test_years();
	test_parse();
	test_agg();
	test_writers();
	T_DONE();
}
