/*
 * rlog.c - proxymilter-report's reading of one log line (see report.h):
 * the syslog timestamp, and proxymilter's "QID: event key=value ..." text.
 *
 * Decisions:
 * - Timestamps: RFC 3164 "Mmm dd hh:mm:ss" (the day space- or
 *   zero-padded; local time; the year from struct ryear), RFC 3339 and
 *   journald's short-iso / short-iso-precise
 *   "YYYY-MM-DDThh:mm:ss[.frac](Z|+hh:mm|+hhmm)" (the offset makes the
 *   time exact) and the milter's stderr format "YYYY-MM-DDThh:mm:ss.mmm"
 *   without an offset (local time).  A space may stand for the 'T'.
 *   Fractions (1 to 9 digits) are read and dropped: times are whole
 *   seconds.  Every field is range-checked (Feb 29 only in leap years;
 *   second 60 as RFC 3339 allows, which is the next minute's first
 *   second); the timestamp must be followed by a space or the end.
 *   Anything else is -1: no time.
 * - Local times go through mktime() once per hour of the log: a cache
 *   holds the last hour's start (mktime per line costs more than the rest
 *   of the parse).  The cache is keyed by the date and hour only, so the
 *   TZ must not change while a program runs.
 * - A line is ours when, after the timestamp, the first word (the
 *   milter's stderr) or the second (syslog: the host name first) is
 *   "proxymilter[PID]:".  A line that only mentions proxymilter further on
 *   (sudo's, grep's, a Postfix reply quoting it) is not ours.  A line
 *   without a timestamp we read (none, or a broken one) is ours when one
 *   of its first five words is that tag, with t = -1: the aggregator
 *   counts it as bad (it cannot be placed in time).
 * - The text is parsed strictly: an optional queue id ("NOQUEUE:" or
 *   letters and digits, then ':'), an event ([a-z0-9_-], at most 32),
 *   then key=value pairs (keys [A-Za-z0-9_.-]).  A value is unquoted
 *   (no '"' in it) or quoted with the only escapes the milter writes,
 *   \" and \\; the closing quote must end the value.  More than RL_MAXKV
 *   pairs, a key without '=', an unterminated quote or another escape
 *   make the line unparsable (-1), counted and skipped, never guessed
 *   at.  Runs of spaces between pairs and a trailing CR are tolerated.
 * - Nothing here allocates; the line's bytes may be anything but NUL
 *   (the reader deals with NULs and lengths: report.c).
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "report.h"

/* ---- dates ----------------------------------------------------------------- */

static int
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
mdays(int y, int m)		/* m 1-12 */
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil) */
static long long
days_from_civil(long long y, int m, int d)
{
	y -= m <= 2;
	long long era = (y >= 0 ? y : y - 399) / 400;
	long long yoe = y - era * 400;
	long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* local time of a checked date and time; the hour's start is cached */
static time_t
local_time(int y, int mon, int d, int h, int mi, int s)
{
	static int cy = -1, cm, cd, ch;
	static time_t base;
	struct tm tm;

	if (y != cy || mon != cm || d != cd || h != ch) {
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mon - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_isdst = -1;
		if ((base = mktime(&tm)) == (time_t)-1) {
			cy = -1;
			return -1;
		}
		cy = y, cm = mon, cd = d, ch = h;
	}
	return base + mi * 60 + s;
}

/* exactly n digits at *p */
static int
num(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int
hms_ok(int h, int mi, int s)
{
	return h <= 23 && mi <= 59 && s <= 60;
}

enum { ISO_LINE, ISO_DATE };

/*
 * "YYYY-MM-DD(T| )hh:mm:ss[.frac][Z|+hh:mm|+hhmm]".  ISO_LINE: the time of
 * day is required and the timestamp must end in a space or NUL;
 * ISO_DATE: the time of day (and its seconds) may be left out, nothing may
 * follow, and *dateonly says whether it was.
 */
static time_t
iso_time(const char *line, int mode, const char **rest, int *dateonly)
{
	const char *p = line;
	int y, mon, d, h = 0, mi = 0, s = 0, off = 0, have_off = 0;

	if (num(&p, 4, &y) < 0 || *p++ != '-' || num(&p, 2, &mon) < 0 || *p++ != '-' ||
	    num(&p, 2, &d) < 0)
		return -1;
	if (y < 1970 || mon < 1 || mon > 12 || d < 1 || d > mdays(y, mon))
		return -1;
	if (dateonly != NULL)
		*dateonly = 0;
	if (mode == ISO_DATE && *p == '\0') {
		if (dateonly != NULL)
			*dateonly = 1;
		*rest = p;
		return local_time(y, mon, d, 0, 0, 0);
	}
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (num(&p, 2, &h) < 0 || *p++ != ':' || num(&p, 2, &mi) < 0)
		return -1;
	if (*p == ':') {
		p++;
		if (num(&p, 2, &s) < 0)
			return -1;
	} else if (mode == ISO_LINE)
		return -1;
	if (!hms_ok(h, mi, s))
		return -1;
	if (*p == '.' || (*p == ',' && mode == ISO_DATE)) {
		int k = 0;
		for (p++; *p >= '0' && *p <= '9'; p++)
			k++;
		if (k < 1 || k > 9)
			return -1;
	}
	if (*p == 'Z' || *p == 'z') {
		have_off = 1;
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (num(&p, 2, &oh) < 0)
			return -1;
		if (*p == ':')
			p++;
		if (num(&p, 2, &om) < 0 || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
		have_off = 1;
	}
	if (mode == ISO_LINE ? (*p != ' ' && *p != '\0') : *p != '\0')
		return -1;
	*rest = p;
	if (!have_off)
		return local_time(y, mon, d, h, mi, s);
	long long t = days_from_civil(y, mon, d) * 86400LL + h * 3600 + mi * 60 + s - off;
	return t < 0 ? -1 : (time_t)t;
}

static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* "Mmm dd hh:mm:ss": *mon 0-11; -1 when it is not one */
static int
rfc3164_fields(const char *line, int *mon, int *d, int *h, int *mi, int *s, const char **rest)
{
	const char *p = line + 4;

	*mon = -1;
	if (strnlen(line, 4) < 4)
		return -1;
	for (int i = 0; i < 12; i++)
		if (memcmp(line, months[i], 3) == 0) {
			*mon = i;
			break;
		}
	if (*mon < 0 || line[3] != ' ')
		return -1;
	if (*p == ' ') {		/* " 1" */
		p++;
		if (num(&p, 1, d) < 0)
			return -1;
	} else if (num(&p, 2, d) < 0)
		return -1;
	if (*p++ != ' ' || num(&p, 2, h) < 0 || *p++ != ':' || num(&p, 2, mi) < 0 ||
	    *p++ != ':' || num(&p, 2, s) < 0)
		return -1;
	if (*p != ' ' && *p != '\0')
		return -1;
	if (*d < 1 || *d > 31 || !hms_ok(*h, *mi, *s))
		return -1;
	*rest = p;
	return 0;
}

time_t
rlog_time(const char *line, int year, const char **rest)
{
	int mon, d, h, mi, s;
	const char *r;
	time_t t;

	if (line[0] >= '0' && line[0] <= '9')
		t = iso_time(line, ISO_LINE, &r, NULL);
	else if (rfc3164_fields(line, &mon, &d, &h, &mi, &s, &r) < 0 ||
	    year < 1970 || year > 9999 || d > mdays(year, mon + 1))
		t = -1;
	else
		t = local_time(year, mon + 1, d, h, mi, s);
	if (t != -1 && rest != NULL)
		*rest = r;
	return t;
}

void
rlog_year_init(struct ryear *ry, time_t mtime)
{
	struct tm tm;

	ry->mtime = mtime;
	ry->last = -1;
	ry->year = localtime_r(&mtime, &tm) != NULL ? tm.tm_year + 1900 : 1970;
}

/* mon 0-11; -1 when that day is not in year y */
static time_t
in_year(int y, int mon, int d, int h, int mi, int s)
{
	if (y < 1970 || y > 9999 || d > mdays(y, mon + 1))
		return -1;
	return local_time(y, mon + 1, d, h, mi, s);
}

/*
 * Decided with whole times, not months, so that gaps of months in a
 * sparse log do not fool it: a line more than a day before the line
 * before it is next year's (the year turned); a line more than a day
 * after it that is, a year earlier, within the day before it, was written
 * late (it does not move the year); and a line more than a day after the
 * file's modification time is last year's.
 */
time_t
rlog_time_rfc3164(struct ryear *ry, const char *line, const char **rest)
{
	int mon, d, h, mi, s, y = ry->year;
	const char *r;
	time_t t, t2;

	if (rfc3164_fields(line, &mon, &d, &h, &mi, &s, &r) < 0)
		return -1;
	t = in_year(y, mon, d, h, mi, s);
	if (ry->last != -1) {
		if ((t == -1 || t < ry->last - 86400) &&
		    (t2 = in_year(y + 1, mon, d, h, mi, s)) != -1) {
			t = t2;
			y++;
		} else if (t != -1 && t > ry->last + 86400 &&
		    (t2 = in_year(y - 1, mon, d, h, mi, s)) != -1 &&
		    t2 <= ry->last && t2 >= ry->last - 86400) {
			if (rest != NULL)
				*rest = r;
			return t2;
		}
	}
	if (t != -1 && t > ry->mtime + 86400 && (t2 = in_year(y - 1, mon, d, h, mi, s)) != -1) {
		t = t2;
		y--;
	}
	if (t == -1)
		return -1;
	ry->year = y;
	ry->last = t;
	if (rest != NULL)
		*rest = r;
	return t;
}

time_t
rlog_date(const char *s, int until)
{
	const char *rest;
	int dateonly;
	time_t t = iso_time(s, ISO_DATE, &rest, &dateonly);

	if (t == -1 || !until || !dateonly)
		return t;
	return rlog_midnight(t, 1);
}

time_t
rlog_midnight(time_t t, int add_days)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return -1;
	tm.tm_mday += add_days;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

char *
rlog_rfc3339(time_t t, char *buf, size_t len)
{
	struct tm tm;
	char when[32];
	long off;

	if (len == 0)
		return buf;
	if (t == -1 || localtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		buf[0] = '\0';
		return buf;
	}
	off = tm.tm_gmtoff;
	snprintf(buf, len, "%s%c%02ld:%02ld", when, off < 0 ? '-' : '+',
	    (off < 0 ? -off : off) / 3600, (off < 0 ? -off : off) / 60 % 60);
	return buf;
}

/* ---- proxymilter's lines --------------------------------------------------- */

static const char tag[] = "proxymilter[";

/* "proxymilter[PID]:" followed by a space or the end: the message */
static char *
is_tag(char *w)
{
	char *p = w + sizeof(tag) - 1;
	int n = 0;

	if (strncmp(w, tag, sizeof(tag) - 1) != 0)
		return NULL;
	while (*p >= '0' && *p <= '9' && n < 10)
		p++, n++;
	if (n == 0 || p[0] != ']' || p[1] != ':' || (p[2] != ' ' && p[2] != '\0'))
		return NULL;
	return p[2] == ' ' ? p + 3 : p + 2;
}

static char *
next_word(char *p)
{
	while (*p != ' ' && *p != '\0')
		p++;
	while (*p == ' ')
		p++;
	return p;
}

static int
keychar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '-' || c == '.';
}

/* one value at p, NUL-terminated in place (quoted: unescaped); returns the
 * next position, or NULL when the value is not one the milter writes */
static char *
value(char *p, char **out)
{
	char *w;

	if (*p != '"') {
		*out = p;
		while (*p != ' ' && *p != '\0') {
			if (*p == '"')
				return NULL;
			p++;
		}
		if (*p == ' ')
			*p++ = '\0';
		return p;
	}
	*out = w = ++p;
	for (;;) {
		if (*p == '\0')
			return NULL;		/* unterminated */
		if (*p == '"')
			break;
		if (*p == '\\') {
			if (p[1] != '"' && p[1] != '\\')
				return NULL;
			p++;
		}
		*w++ = *p++;
	}
	p++;				/* the closing quote */
	if (*p != ' ' && *p != '\0')
		return NULL;
	*w = '\0';			/* w < p: the quote's place at least */
	if (*p == ' ')
		p++;
	return p;
}

int
rlog_parse(char *buf, struct ryear *ry, struct rline *l)
{
	char *p, *msg, *w;
	const char *rest;
	size_t n;

	if (strstr(buf, tag) == NULL)		/* the fast way out */
		return 0;
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	l->qid = l->event = NULL;
	l->nkv = 0;
	if (buf[0] >= '0' && buf[0] <= '9')
		l->t = rlog_time(buf, 0, &rest);
	else if (ry != NULL)
		l->t = rlog_time_rfc3164(ry, buf, &rest);
	else {
		struct tm tm;
		time_t now = time(NULL);
		l->t = rlog_time(buf, localtime_r(&now, &tm) ? tm.tm_year + 1900 : 1970, &rest);
	}
	p = l->t != -1 ? buf + (rest - buf) : buf;
	while (*p == ' ')
		p++;
	/* after a timestamp: the first or second word; without one (t = -1,
	 * a bad line if ours) any of the first five */
	msg = NULL;
	for (int i = 0; i < (l->t != -1 ? 2 : 5) && *p != '\0'; i++, p = next_word(p))
		if ((msg = is_tag(p)) != NULL)
			break;
	if (msg == NULL)
		return 0;
	/* ours from here on: 1 or -1 */
	p = msg;
	if (*p == '\0' || *p == ' ')
		return -1;
	w = p;
	while (*p != ' ' && *p != '\0')
		p++;
	if (p > w + 1 && p[-1] == ':') {	/* "QID: " */
		for (char *q = w; q < p - 1; q++)
			if (!((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
			    (*q >= '0' && *q <= '9')))
				return -1;
		if (*p != ' ')
			return -1;
		p[-1] = '\0';
		l->qid = w;
		p++;
		w = p;
		while (*p != ' ' && *p != '\0')
			p++;
	}
	if (p == w || p - w > 32)
		return -1;
	for (char *q = w; q < p; q++)
		if (!((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '-' || *q == '_'))
			return -1;
	l->event = w;
	if (*p == ' ')
		*p++ = '\0';
	for (;;) {
		char *k;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			break;
		if (l->nkv == RL_MAXKV)
			return -1;
		k = p;
		while (keychar((unsigned char)*p))
			p++;
		if (p == k || *p != '=')
			return -1;
		*p++ = '\0';
		l->kv[l->nkv].k = k;
		if ((p = value(p, &l->kv[l->nkv].v)) == NULL)
			return -1;
		l->nkv++;
	}
	return 1;
}

const char *
rlog_get(const struct rline *l, const char *key)
{
	for (int i = 0; i < l->nkv; i++)
		if (strcmp(l->kv[i].k, key) == 0)
			return l->kv[i].v;
	return NULL;
}
