/*
 * rtext.c - proxymilter-report's text, JSON and CSV output (report.h).
 *
 * Decisions:
 * - Every string in a report comes from the log and is hostile.  Text:
 *   anything but printable ASCII is written as '?' (no terminal escape
 *   sequence reaches a terminal; the milter itself logs printable ASCII
 *   only).  JSON: '"' and '\' escaped, every byte below 0x20 and 0x7f as
 *   \u00XX, '<', '>', '&' as \u003c, \u003e, \u0026 and U+2028/U+2029 as
 *   \u2028/\u2029 (the object can be put into an HTML <script> or read
 *   as JavaScript as it is); valid UTF-8 passes; every byte that is not
 *   part of a valid UTF-8 sequence (RFC 3629: no overlong forms, no
 *   surrogates, nothing above U+10FFFF) is written as \u00XX of the byte,
 *   i.e. read as Latin-1: the output is always valid UTF-8 and valid JSON
 *   and no byte is lost.  CSV: RFC 4180: CRLF after every record, a
 *   field with a comma, '"', CR or LF in it is quoted and its quotes
 *   doubled; the other control bytes are written as '?' and bytes that are
 *   not valid UTF-8 as their Latin-1 character (UTF-8 encoded), as in the
 *   JSON; a string field from the log that starts with '=', '+', '-',
 *   '@', a tab or a CR gets a leading "'" (a spreadsheet must not run an
 *   evidence string as a formula: OWASP's CSV injection advice).
 * - JSON is one object with stable keys (schema 1, described in
 *   proxymilter-report(1)); every table is written whole (no -n); every
 *   class, action and stage is present, zero or not; times are given
 *   twice, local RFC 3339 with the offset and Unix seconds, null when
 *   unknown.  Numbers are integers, means have 3 decimals (printf in the
 *   C locale: the program never calls setlocale).
 * - The writers check ferror() at the end: one write error makes the
 *   result -1, the caller reports it.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "report.h"

const char *const report_csv_tables[] = {
	"offenders", "verdicts", "actions", "tests", "days", "hours", "skips", "countries", NULL
};

static const char *const totals_names[] = {
	"connections", "probed", "cache_hits", "joined", "skipped", "rate_limited", "provisional"
};

/* the stats line's names of the verdict counters */
static const char *const stats_class[RC_N] = {
	"open", "relay", "listed", "suspect", "clean", "error"
};

static double
mean(double sum, long n)
{
	return n > 0 ? sum / (double)n : 0.0;
}

/* ---- UTF-8 ------------------------------------------------------------------ */

/* the length of the valid UTF-8 sequence at s (RFC 3629), 0 when invalid */
static size_t
u8len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
		    (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* ---- text --------------------------------------------------------------------- */

/* s with anything but printable ASCII as '?', cut to width bytes (0: all) */
static void
tput(FILE *f, const char *s, int width)
{
	int n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++, n++) {
		if (width > 0 && n == width)
			break;
		putc(*p >= 0x20 && *p < 0x7f ? *p : '?', f);
	}
	for (; n < width; n++)
		putc(' ', f);
}

/* "2026-11-21 10:00:00" local, or "-" */
static const char *
tstamp(time_t t, char *buf, size_t len)
{
	struct tm tm;
	if (t == -1 || localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "-");
	return buf;
}

static int
shown(size_t n, int top)
{
	return top > 0 && (size_t)top < n ? top : (int)n;
}

int
report_text(FILE *f, const struct report *r, int top)
{
	char a[32], b[32];
	int n;

	fprintf(f, "proxymilter-report: %ld lines read, %ld from proxymilter, %ld unparsable\n",
	    r->lines, r->ours, r->bad);
	if (r->first != -1)
		fprintf(f, "period: %s .. %s\n", tstamp(r->first, a, sizeof(a)),
		    tstamp(r->last, b, sizeof(b)));
	else
		fprintf(f, "period: no line counted\n");
	if (r->since != -1 || r->until != -1)
		fprintf(f, "filter: since %s, until before %s: %ld lines outside\n",
		    tstamp(r->since, a, sizeof(a)), tstamp(r->until, b, sizeof(b)), r->outside);
	if (r->filtered > 0)
		fprintf(f, "client filter: %ld lines left out\n", r->filtered);

	fprintf(f, "\nconnections %ld, probed %ld, cache hits %ld, joined %ld\n",
	    r->connections, r->probed, r->cache_hits, r->joined);
	fprintf(f, "skipped %ld (rate-limited %ld), provisional verdicts %ld (not counted below)\n",
	    r->skipped, r->rate_limited, r->provisional);

	fprintf(f, "\nVerdicts (final)       count  mean time\n");
	for (int c = 0; c < RC_N; c++) {
		fprintf(f, "  %-16s %10ld", rclass_name(c), r->verdicts[c]);
		if (r->verdict_timed[c] > 0)
			fprintf(f, "  %8.3fs", mean(r->verdict_elapsed[c], r->verdict_timed[c]));
		fputc('\n', f);
	}

	fprintf(f, "\nActions by stage        ");
	for (int s = 0; s < RS_N; s++)
		fprintf(f, " %8s", rstage_name(s));
	fprintf(f, "    total\n");
	for (int x = 0; x < RA_N; x++) {
		fprintf(f, "  %-22s", raction_name(x));
		for (int s = 0; s < RS_N; s++)
			fprintf(f, " %8ld", r->actions[x][s]);
		fprintf(f, " %8ld\n", report_action_total(r, x));
	}

	if (r->noffenders > 0) {
		n = shown(r->noffenders, top);
		fprintf(f, "\nOffenders (%zu%s)\n", r->noffenders, (size_t)n < r->noffenders ?
		    ", the first by rejects" : "");
		fprintf(f, "  %-39s %-10s %8s %8s %-19s %-19s %-3s %s\n", "address", "class",
		    "verdicts", "rejects", "first seen", "last seen", "cc", "evidence");
		for (int i = 0; i < n; i++) {
			const struct roffender *o = &r->offenders[i];
			fputs("  ", f);
			tput(f, o->addr, 39);
			fprintf(f, " %-10s %8ld %8ld %-19s %-19s ", rclass_name(o->cls), o->verdicts,
			    o->rejects, tstamp(o->first, a, sizeof(a)), tstamp(o->last, b, sizeof(b)));
			tput(f, o->country[0] ? o->country : "-", 3);
			fputc(' ', f);
			tput(f, o->evidence, 0);
			fputc('\n', f);
		}
	}

	if (r->ntests > 0) {
		n = shown(r->ntests, top);
		fprintf(f, "\nTests by protocol and port (%zu)\n", r->ntests);
		fprintf(f, "  %-24s %8s %8s %8s %12s %10s\n", "test", "run", "open", "closed",
		    "inconclusive", "mean time");
		for (int i = 0; i < n; i++) {
			const struct rtest *t = &r->tests[i];
			fputs("  ", f);
			tput(f, t->name, 24);
			fprintf(f, " %8ld %8ld %8ld %12ld %9.3fs\n", t->run, t->open, t->closed,
			    t->inconclusive, mean(t->elapsed, t->run));
		}
	}

	if (r->ndays > 0) {
		fprintf(f, "\nPer day        connections   probed detections  rejects\n");
		for (size_t i = 0; i < r->ndays; i++) {
			const struct rday *d = &r->days[i];
			fprintf(f, "  %04d-%02d-%02d %12ld %8ld %10ld %8ld\n", d->y, d->m, d->d,
			    d->connections, d->probed, d->detections, d->rejects);
		}
	}

	if (r->connections > 0) {
		fprintf(f, "\nPer hour (connections)\n");
		for (int h = 0; h < 24; h++)
			fprintf(f, "  %02d %10ld%s", h, r->hours[h], h % 4 == 3 ? "\n" : "");
	}

	if (r->nskips > 0) {
		fprintf(f, "\nSkipped (reason)\n");
		for (size_t i = 0; i < r->nskips; i++) {
			fprintf(f, "  %8ld  ", r->skips[i].n);
			tput(f, r->skips[i].name, 0);
			fputc('\n', f);
		}
	}

	if (r->ncountries > 0) {
		n = shown(r->ncountries, top);
		fprintf(f, "\nCountries (final verdicts)\n");
		for (int i = 0; i < n; i++) {
			fprintf(f, "  %8ld  ", r->countries[i].n);
			tput(f, r->countries[i].name, 0);
			fputc('\n', f);
		}
	}
	return ferror(f) ? -1 : 0;
}

/* ---- JSON ----------------------------------------------------------------------- */

static void
jstr(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putc('"', f);
	while (*p != '\0') {
		unsigned char c = *p;
		size_t n;
		if (c == '"' || c == '\\') {
			putc('\\', f);
			putc(c, f);
			p++;
		} else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&') {
			fprintf(f, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			putc(c, f);
			p++;
		} else if ((n = u8len(p)) == 0) {
			fprintf(f, "\\u%04x", c);	/* the byte, as Latin-1 */
			p++;
		} else if (n == 3 && p[0] == 0xe2 && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
			fprintf(f, "\\u%04x", p[2] == 0xa8 ? 0x2028 : 0x2029);
			p += 3;
		} else {
			fwrite(p, 1, n, f);
			p += n;
		}
	}
	putc('"', f);
}

/* "key": "2026-11-21T10:00:00+01:00", "key_unix": 1763715600 (or nulls) */
static void
jtime(FILE *f, const char *key, time_t t, const char *sep)
{
	char buf[48];

	if (t == -1) {
		fprintf(f, "\"%s\": null, \"%s_unix\": null%s", key, key, sep);
		return;
	}
	fprintf(f, "\"%s\": \"%s\", \"%s_unix\": %lld%s", key, rlog_rfc3339(t, buf, sizeof(buf)),
	    key, (long long)t, sep);
}

static void
jmean(FILE *f, double sum, long n)
{
	if (n > 0)
		fprintf(f, "%.3f", sum / (double)n);
	else
		fputs("null", f);
}

/* "socks5:1080": the protocol's length (up to the last ':') and the port,
 * or -1 when there is none or it is not a port number */
static long
test_port(const char *name, size_t *plen)
{
	const char *c = strrchr(name, ':');
	long port = 0;

	*plen = c != NULL ? (size_t)(c - name) : strlen(name);
	if (c == NULL || c[1] == '\0')
		return -1;
	for (const char *p = c + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || port > 65535)
			return -1;
		port = port * 10 + (*p - '0');
	}
	return port > 65535 ? -1 : port;
}

int
report_json(FILE *f, const struct report *r)
{
	const long totals[] = { r->connections, r->probed, r->cache_hits, r->joined,
		r->skipped, r->rate_limited, r->provisional };
	char proto[sizeof(r->tests[0].name)];
	size_t i;

	fprintf(f, "{\n  \"schema\": 1,\n  \"generator\": \"proxymilter-report %s\",\n",
	    PACKAGE_VERSION);
	fprintf(f, "  \"input\": {\"lines\": %ld, \"ours\": %ld, \"bad\": %ld, \"outside\": %ld, "
	    "\"filtered\": %ld},\n", r->lines, r->ours, r->bad, r->outside, r->filtered);
	fputs("  \"period\": {", f);
	jtime(f, "since", r->since, ", ");
	jtime(f, "until", r->until, ", ");
	jtime(f, "first", r->first, ", ");
	jtime(f, "last", r->last, "},\n");

	fputs("  \"totals\": {", f);
	for (i = 0; i < sizeof(totals) / sizeof(totals[0]); i++)
		fprintf(f, "\"%s\": %ld, ", totals_names[i], totals[i]);
	for (int c = 0; c < RC_N; c++)
		fprintf(f, "\"%s\": %ld, ", stats_class[c], r->verdicts[c]);
	fprintf(f, "\"rejected\": %ld, \"tempfailed\": %ld, \"tagged\": %ld, \"would\": %ld},\n",
	    report_action_total(r, RA_REJECT), report_action_total(r, RA_TEMPFAIL), report_action_total(r, RA_TAG),
	    report_action_total(r, RA_WOULD_REJECT) + report_action_total(r, RA_WOULD_TEMPFAIL) +
	    report_action_total(r, RA_WOULD_TAG));

	fputs("  \"verdicts\": [", f);
	for (int c = 0; c < RC_N; c++) {
		fprintf(f, "%s\n    {\"class\": \"%s\", \"count\": %ld, \"timed\": %ld, "
		    "\"mean_elapsed\": ", c ? "," : "", rclass_name(c), r->verdicts[c],
		    r->verdict_timed[c]);
		jmean(f, r->verdict_elapsed[c], r->verdict_timed[c]);
		fputc('}', f);
	}
	fputs("\n  ],\n  \"actions\": [", f);
	for (int a = 0; a < RA_N; a++) {
		fprintf(f, "%s\n    {\"action\": \"%s\", \"total\": %ld, \"stages\": {", a ? "," : "",
		    raction_name(a), report_action_total(r, a));
		for (int s = 0; s < RS_N; s++)
			fprintf(f, "%s\"%s\": %ld", s ? ", " : "", rstage_name(s), r->actions[a][s]);
		fputs("}}", f);
	}

	fputs("\n  ],\n  \"offenders\": [", f);
	for (i = 0; i < r->noffenders; i++) {
		const struct roffender *o = &r->offenders[i];
		fprintf(f, "%s\n    {\"address\": ", i ? "," : "");
		jstr(f, o->addr);
		fprintf(f, ", \"class\": \"%s\", \"evidence\": ", rclass_name(o->cls));
		jstr(f, o->evidence);
		fputs(", \"country\": ", f);
		if (o->country[0] != '\0')
			jstr(f, o->country);
		else
			fputs("null", f);
		fputs(", ", f);
		jtime(f, "first", o->first, ", ");
		jtime(f, "last", o->last, ", ");
		fprintf(f, "\"verdicts\": %ld, \"rejects\": %ld}", o->verdicts, o->rejects);
	}

	fputs("\n  ],\n  \"tests\": [", f);
	for (i = 0; i < r->ntests; i++) {
		const struct rtest *t = &r->tests[i];
		size_t pl;
		long port = test_port(t->name, &pl);
		fprintf(f, "%s\n    {\"test\": ", i ? "," : "");
		jstr(f, t->name);
		snprintf(proto, sizeof(proto), "%.*s", (int)pl, t->name);
		fputs(", \"protocol\": ", f);
		jstr(f, proto);
		if (port >= 0)
			fprintf(f, ", \"port\": %ld", port);
		else
			fputs(", \"port\": null", f);
		fprintf(f, ", \"run\": %ld, \"open\": %ld, \"closed\": %ld, \"inconclusive\": %ld, "
		    "\"mean_elapsed\": ", t->run, t->open, t->closed, t->inconclusive);
		jmean(f, t->elapsed, t->run);
		fputc('}', f);
	}

	fputs("\n  ],\n  \"days\": [", f);
	for (i = 0; i < r->ndays; i++) {
		const struct rday *d = &r->days[i];
		fprintf(f, "%s\n    {\"date\": \"%04d-%02d-%02d\", \"connections\": %ld, "
		    "\"probed\": %ld, \"detections\": %ld, \"rejects\": %ld}", i ? "," : "",
		    d->y, d->m, d->d, d->connections, d->probed, d->detections, d->rejects);
	}
	fputs("\n  ],\n  \"hours\": [", f);
	for (int h = 0; h < 24; h++)
		fprintf(f, "%s%ld", h ? ", " : "", r->hours[h]);

	fputs("],\n  \"skips\": [", f);
	for (i = 0; i < r->nskips; i++) {
		fprintf(f, "%s\n    {\"reason\": ", i ? "," : "");
		jstr(f, r->skips[i].name);
		fprintf(f, ", \"count\": %ld}", r->skips[i].n);
	}
	fputs("\n  ],\n  \"countries\": [", f);
	for (i = 0; i < r->ncountries; i++) {
		fprintf(f, "%s\n    {\"country\": ", i ? "," : "");
		jstr(f, r->countries[i].name);
		fprintf(f, ", \"count\": %ld}", r->countries[i].n);
	}
	fputs("\n  ]\n}\n", f);
	return ferror(f) ? -1 : 0;
}

/* ---- CSV --------------------------------------------------------------------------- */

/* a string field from the log */
static void
cstr(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int quote = 0;

	for (const char *q = s; *q != '\0'; q++)
		if (*q == ',' || *q == '"' || *q == '\r' || *q == '\n')
			quote = 1;
	if (quote)
		putc('"', f);
	if (*p == '=' || *p == '+' || *p == '-' || *p == '@' || *p == '\t' || *p == '\r')
		putc('\'', f);
	while (*p != '\0') {
		unsigned char c = *p;
		size_t n;
		if (c == '"') {
			fputs("\"\"", f);
			p++;
		} else if (c == '\r' || c == '\n' || c == '\t') {
			putc(c, f);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			putc('?', f);
			p++;
		} else if (c < 0x80) {
			putc(c, f);
			p++;
		} else if ((n = u8len(p)) == 0) {
			putc(0xc0 | (c >> 6), f);	/* the byte as Latin-1, in UTF-8 */
			putc(0x80 | (c & 0x3f), f);
			p++;
		} else {
			fwrite(p, 1, n, f);
			p += n;
		}
	}
	if (quote)
		putc('"', f);
}

static void
ctime_field(FILE *f, time_t t)
{
	char buf[48];
	if (t != -1)
		fprintf(f, "%s,%lld", rlog_rfc3339(t, buf, sizeof(buf)), (long long)t);
	else
		fputc(',', f);
}

#define EOR "\r\n"

int
report_csv(FILE *f, const struct report *r, const char *table)
{
	size_t i;

	if (table == NULL)
		table = "offenders";
	if (strcmp(table, "offenders") == 0) {
		fputs("address,class,evidence,country,first,first_unix,last,last_unix,"
		    "verdicts,rejects" EOR, f);
		for (i = 0; i < r->noffenders; i++) {
			const struct roffender *o = &r->offenders[i];
			cstr(f, o->addr);
			fprintf(f, ",%s,", rclass_name(o->cls));
			cstr(f, o->evidence);
			putc(',', f);
			cstr(f, o->country);
			putc(',', f);
			ctime_field(f, o->first);
			putc(',', f);
			ctime_field(f, o->last);
			fprintf(f, ",%ld,%ld" EOR, o->verdicts, o->rejects);
		}
	} else if (strcmp(table, "verdicts") == 0) {
		fputs("class,count,timed,mean_elapsed" EOR, f);
		for (int c = 0; c < RC_N; c++) {
			fprintf(f, "%s,%ld,%ld,", rclass_name(c), r->verdicts[c], r->verdict_timed[c]);
			if (r->verdict_timed[c] > 0)
				fprintf(f, "%.3f", mean(r->verdict_elapsed[c], r->verdict_timed[c]));
			fputs(EOR, f);
		}
	} else if (strcmp(table, "actions") == 0) {
		fputs("action,stage,count" EOR, f);
		for (int a = 0; a < RA_N; a++)
			for (int s = 0; s < RS_N; s++)
				fprintf(f, "%s,%s,%ld" EOR, raction_name(a), rstage_name(s),
				    r->actions[a][s]);
	} else if (strcmp(table, "tests") == 0) {
		fputs("test,protocol,port,run,open,closed,inconclusive,mean_elapsed" EOR, f);
		for (i = 0; i < r->ntests; i++) {
			const struct rtest *t = &r->tests[i];
			char proto[sizeof(t->name)];
			size_t pl;
			long port = test_port(t->name, &pl);
			snprintf(proto, sizeof(proto), "%.*s", (int)pl, t->name);
			cstr(f, t->name);
			putc(',', f);
			cstr(f, proto);
			putc(',', f);
			if (port >= 0)
				fprintf(f, "%ld", port);
			fprintf(f, ",%ld,%ld,%ld,%ld,", t->run, t->open, t->closed, t->inconclusive);
			if (t->run > 0)
				fprintf(f, "%.3f", mean(t->elapsed, t->run));
			fputs(EOR, f);
		}
	} else if (strcmp(table, "days") == 0) {
		fputs("date,connections,probed,detections,rejects" EOR, f);
		for (i = 0; i < r->ndays; i++) {
			const struct rday *d = &r->days[i];
			fprintf(f, "%04d-%02d-%02d,%ld,%ld,%ld,%ld" EOR, d->y, d->m, d->d,
			    d->connections, d->probed, d->detections, d->rejects);
		}
	} else if (strcmp(table, "hours") == 0) {
		fputs("hour,connections" EOR, f);
		for (int h = 0; h < 24; h++)
			fprintf(f, "%d,%ld" EOR, h, r->hours[h]);
	} else if (strcmp(table, "skips") == 0 || strcmp(table, "countries") == 0) {
		int sk = table[0] == 's';
		const struct rcount *v = sk ? r->skips : r->countries;
		size_t n = sk ? r->nskips : r->ncountries;
		fputs(sk ? "reason,count" EOR : "country,count" EOR, f);
		for (i = 0; i < n; i++) {
			cstr(f, v[i].name);
			fprintf(f, ",%ld" EOR, v[i].n);
		}
	} else {
		errno = EINVAL;
		return -1;
	}
	return ferror(f) ? -1 : 0;
}
