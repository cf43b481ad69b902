/*
 * report.h - proxymilter-report's model: what the log lines add up to.
 *
 * Reading (report.c: files, gzip, stdin, date filters) turns each line into
 * a struct rline (rlog.c: the syslog timestamp, the milter's key=value
 * pairs); ragg.c adds the lines up in a struct report; the writers turn the
 * report into text, CSV or JSON (rtext.c) or a self-contained HTML page
 * (rhtml.c).  Nothing here holds a line after it has been counted: a log of
 * any size is streamed; memory grows only with what is kept per client
 * (the offenders: clients with a verdict other than clean or error) and per
 * test, day and country.
 *
 * Times are Unix seconds; days and hours are the local time of the log's
 * timestamps (as pflogsumm does).
 */
#ifndef PM_REPORT_H
#define PM_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define RL_MAXKV 48

struct rkv {
	char *k, *v;
};

/* one of proxymilter's lines: pointers into the caller's (modified) buffer */
struct rline {
	time_t t;			/* -1 when the line has no timestamp we read */
	char *qid;			/* "NOQUEUE", a queue id, or NULL */
	char *event;
	struct rkv kv[RL_MAXKV];
	int nkv;
};

/*
 * The timestamp at the start of a syslog line: RFC 3164 ("Nov 21 10:00:00",
 * no year: *year is the year to use, see rlog_year), RFC 3339 / journald
 * short-iso ("2026-11-21T10:00:00.123456+01:00", "...+0100", "...Z") and
 * the milter's own stderr format ("2026-11-21T10:00:00.123", local time).
 * Returns the time and sets *rest to what follows the timestamp; -1 when
 * the line does not start with one.
 */
time_t rlog_time(const char *line, int year, const char **rest);

/*
 * RFC 3164 has no year.  A reader keeps one struct ryear per file: the
 * year starts as the year of the file's modification time (a rotated
 * log's lines are older than the file); a line more than a day before the
 * line before it moves to the next year (Dec -> Jan), one a day or less
 * before it from last year is a late one, and a line more than a day
 * after the file's modification time is last year's (rlog.c).
 */
struct ryear {
	int year;			/* the year for the next line */
	time_t last;			/* the line before's time, -1 before the first */
	time_t mtime;			/* the file's, or now for stdin */
};
void rlog_year_init(struct ryear *, time_t mtime);
time_t rlog_time_rfc3164(struct ryear *, const char *line, const char **rest);

/* 1 when buf is one of proxymilter's lines (parsed into l, buf modified),
 * 0 for any other line, -1 for a proxymilter line that does not parse */
int rlog_parse(char *buf, struct ryear *, struct rline *l);
const char *rlog_get(const struct rline *, const char *key);

/*
 * --since/--until DATE: "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]" (or with
 * 'T'), RFC 3339 with an offset; local time unless an offset is given.
 * until = 1: a date alone means the end of that day, i.e. the next day's
 * 00:00 (the filter is since <= t < until).  -1 when s is not a DATE.
 */
time_t rlog_date(const char *s, int until);
/* local 00:00 of the day of t, add_days later (-d today|yesterday) */
time_t rlog_midnight(time_t t, int add_days);
/* t as local RFC 3339 with its offset, "2026-11-21T10:00:00+01:00";
 * "" for -1; returns buf */
char *rlog_rfc3339(time_t t, char *buf, size_t len);

/* ---- the report ------------------------------------------------------------ */

enum rclass { RC_OPEN, RC_RELAY, RC_LISTED, RC_SUSPECT, RC_CLEAN, RC_ERROR, RC_N };
const char *rclass_name(enum rclass);	/* "open-proxy", ... as the milter logs */

enum raction { RA_REJECT, RA_TEMPFAIL, RA_TAG, RA_WOULD_REJECT, RA_WOULD_TEMPFAIL,
	RA_WOULD_TAG, RA_N };
const char *raction_name(enum raction);	/* "reject", ..., "would-tag" */
enum rstage { RS_CONNECT, RS_HELO, RS_MAIL, RS_RCPT, RS_EOM, RS_N };
const char *rstage_name(enum rstage);

/* a client with a verdict that is neither clean nor error */
struct roffender {
	char addr[64];			/* "203.0.113.9" (no brackets) */
	enum rclass cls;		/* the latest line's that shows it as one (ragg.c) */
	char evidence[200];		/* the latest one's (or the verdict's findings) */
	char country[4];		/* the latest verdict's; "" when not logged */
	time_t first, last;		/* first and last such line (and reject) */
	long verdicts, rejects;
};

struct rtest {
	char name[48];			/* "socks5:1080" */
	long run, open, closed, inconclusive;
	double elapsed;			/* sum, seconds */
};

struct rday {
	int y, m, d;			/* local date */
	long connections, probed, detections;	/* detections: final open/relay/listed */
	long rejects;
};

struct rcount {				/* a name and its count (skips, countries) */
	char name[64];
	long n;
};

struct report {
	/* the input */
	long lines, ours, bad, outside;	/* outside: --since/--until left it out */
	long filtered;			/* lines of ours that -c left out */
	time_t first, last;		/* -1 before the first line counted */
	time_t since, until;		/* the filter (since <= t < until); -1 = none */

	/* the milter's stats line, field by field (same names) */
	long connections, probed, cache_hits, joined, skipped, rate_limited;
	long verdicts[RC_N], provisional;
	long actions[RA_N][RS_N];	/* rejected = sum of RA_REJECT over stages ... */

	long hours[24];			/* connections by hour of day */
	struct rday *days;		/* sorted by date */
	size_t ndays;
	struct rtest *tests;		/* sorted by run, then name */
	size_t ntests;
	struct roffender *offenders;	/* sorted by rejects, then verdicts, then addr */
	size_t noffenders;
	struct rcount *skips, *countries;	/* sorted by count, then name */
	size_t nskips, ncountries;
	double verdict_elapsed[RC_N];	/* sums, for the mean time to verdict */
	long verdict_timed[RC_N];
};

/* the aggregator: counts a line (with its time), then hands out the report */
struct ragg;
struct ragg *ragg_new(time_t since, time_t until, const char *client_filter);
void ragg_line(struct ragg *, const struct rline *);	/* a line of ours */
void ragg_other(struct ragg *, int bad);		/* a line not ours / unparsable */
const struct report *ragg_finish(struct ragg *);	/* sorted; valid until ragg_free */
long report_action_total(const struct report *, int action);	/* over the stages */
void ragg_free(struct ragg *);

/* the writers; top = rows in top lists (0 = all); 0, or -1 on a write error */
int report_text(FILE *, const struct report *, int top);
int report_json(FILE *, const struct report *);
/* table: offenders (default), verdicts, actions, tests, days, hours, skips,
 * countries; -1 and errno EINVAL for another name */
int report_csv(FILE *, const struct report *, const char *table);
extern const char *const report_csv_tables[];	/* those names, NULL-terminated */
int report_html(FILE *, const struct report *, int top);

#endif
