/* rhtml: the HTML page of proxymilter-report.  The file is included, so
 * that its static escaping, number and geometry functions are reached;
 * the pages are written from reports built by hand (empty, one day, 400
 * days, gaps, hostile strings in every field, fields without a NUL) and
 * checked: one document, every section, nothing external, no script, the
 * hostile strings escaped, valid UTF-8 without control bytes, every <svg>
 * well-formed XML with role="img" and a <title>, bars counted against the
 * data; a write error is reported. */
#include "../../tools/rhtml.c"

#include <ctype.h>
#include <locale.h>
#include <strings.h>
#include "t.h"

/* ---- helpers --------------------------------------------------------------- */

static char *
page(const struct report *r, int top, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return NULL;
	*rc = report_html(f, r, top);
	fclose(f);
	return buf;
}

static size_t
count(const char *s, const char *what)
{
	size_t n = 0, l = strlen(what);

	for (const char *p = s; (p = strstr(p, what)) != NULL; p += l)
		n++;
	return n;
}

static int
icontains(const char *s, const char *what)
{
	size_t l = strlen(what);

	for (; *s != '\0'; s++)
		if (strncasecmp(s, what, l) == 0)
			return 1;
	return 0;
}

/* the text of section id (from its tag to its </section>), malloc'ed */
static char *
section(const char *s, const char *id)
{
	char tag[64];
	const char *p, *e;
	char *out;

	snprintf(tag, sizeof(tag), "<section id=\"%s\">", id);
	if ((p = strstr(s, tag)) == NULL || (e = strstr(p, "</section>")) == NULL)
		return NULL;
	if ((out = malloc((size_t)(e - p) + 1)) == NULL)
		return NULL;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return out;
}

static size_t
bars_in(const char *s, const char *id)
{
	char *sec = section(s, id);
	size_t n = sec != NULL ? count(sec, "<rect class=\"bar\"") : (size_t)-1;

	free(sec);
	return n;
}

static int
has_in(const char *s, const char *id, const char *what)
{
	char *sec = section(s, id);
	int r = sec != NULL && strstr(sec, what) != NULL;

	free(sec);
	return r;
}

/* every bar of section id ends at or before right (x + width) */
static int
bars_within(const char *s, const char *id, double right)
{
	char *sec = section(s, id);
	const char *p;
	double x, w;
	int ok = sec != NULL, n = 0;

	for (p = sec; ok && (p = strstr(p, "<rect class=\"bar\" x=\"")) != NULL; p++, n++)
		if (sscanf(p, "<rect class=\"bar\" x=\"%lf\" y=\"%*f\" width=\"%lf\"", &x, &w) != 2 ||
		    x < 0 || w < 0 || x + w > right + 0.05)
			ok = 0;
	free(sec);
	return ok && n > 0;
}

/* every byte sequence is UTF-8 and no control byte but \n */
static int
clean_utf8(const char *s)
{
	size_t n = strlen(s), i = 0, len;

	while (i < n) {
		long c = u8_next((const unsigned char *)s + i, n - i, &len);
		if (c < 0 || (c < 0x20 && c != '\n') || c == 0x7f || (c >= 0x80 && c <= 0x9f))
			return 0;
		i += len;
	}
	return 1;
}

static int
name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == ':' || c == '_';
}

/* an entity at s: &name; or &#N; */
static size_t
entity(const char *s, const char *end)
{
	const char *p = s + 1;

	if (p < end && *p == '#') {
		p++;
		while (p < end && isdigit((unsigned char)*p))
			p++;
	} else
		while (p < end && isalpha((unsigned char)*p))
			p++;
	return p < end && *p == ';' && p > s + 1 ? (size_t)(p - s + 1) : 0;
}

/* s[0..n) is well-formed XML: nested elements, quoted attributes, entities
 * only, no stray '<' or '>' */
static int
xml_ok(const char *s, size_t n)
{
	const char *stack[64], *end = s + n, *p = s;
	size_t slen[64], l, e;
	int sp = 0;

	while (p < end) {
		if (*p == '&') {
			if ((e = entity(p, end)) == 0)
				return 0;
			p += e;
		} else if (*p == '>')
			return 0;
		else if (*p != '<')
			p++;
		else if (p + 1 < end && p[1] == '/') {
			p += 2;
			for (l = 0; p + l < end && name_char(p[l]); l++)
				;
			if (sp == 0 || l != slen[sp - 1] || strncmp(p, stack[sp - 1], l) != 0)
				return 0;
			sp--;
			p += l;
			if (p >= end || *p != '>')
				return 0;
			p++;
		} else {
			p++;
			for (l = 0; p + l < end && name_char(p[l]); l++)
				;
			if (l == 0 || sp == 64)
				return 0;
			stack[sp] = p;
			slen[sp] = l;
			p += l;
			for (;;) {
				if (p >= end)
					return 0;
				if (*p == '>') {
					sp++;
					p++;
					break;
				}
				if (*p == '/' && p + 1 < end && p[1] == '>') {
					p += 2;
					break;
				}
				if (*p != ' ' && *p != '\n')
					return 0;
				while (p < end && (*p == ' ' || *p == '\n'))
					p++;
				if (p < end && (*p == '>' || *p == '/'))
					continue;
				for (l = 0; p + l < end && name_char(p[l]); l++)
					;
				if (l == 0 || p + l + 1 >= end || p[l] != '=' || p[l + 1] != '"')
					return 0;
				for (p += l + 2; p < end && *p != '"'; p++) {
					if (*p == '<')
						return 0;
					if (*p == '&') {
						if ((e = entity(p, end)) == 0)
							return 0;
						p += e - 1;
					}
				}
				if (p >= end)
					return 0;
				p++;
			}
		}
	}
	return sp == 0;
}

/* every <svg>...</svg> is well-formed, has role="img" and a <title> first;
 * returns the number of them, -1 on the first bad one */
static long
svgs_ok(const char *s)
{
	long n = 0;
	const char *p = s, *e;

	while ((p = strstr(p, "<svg")) != NULL) {
		if ((e = strstr(p, "</svg>")) == NULL)
			return -1;
		e += 6;
		if (!xml_ok(p, (size_t)(e - p)))
			return -1;
		const char *gt = strchr(p, '>');
		if (gt == NULL || strstr(p, "role=\"img\"") == NULL || strstr(p, "role=\"img\"") > gt ||
		    strncmp(gt + 1, "\n<title", 7) != 0)
			return -1;
		n++;
		p = e;
	}
	return n;
}

/* nothing external, no script: the page's elements are all of a short
 * list, no tag has an event handler, a source or a link, the style
 * imports nothing, no URL anywhere */
static int
self_contained(const char *s)
{
	static const char *const tags[] = {
		"!DOCTYPE", "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p",
		"time", "dl", "div", "dt", "dd", "main", "section", "svg", "rect", "text", "line",
		"table", "thead", "tbody", "tr", "th", "td", "footer",
	};
	static const char *const attrs[] = {
		" on", "src=", "href=", "url(", "//", "xlink", "javascript", "data:", "style=",
	};
	const char *p = s, *st = strstr(s, "<style>"), *se = strstr(s, "</style>"), *gt;
	char css[8192];
	size_t l, k;

	if (icontains(s, "http:") || icontains(s, "https:") || icontains(s, "ftp:") ||
	    st == NULL || se == NULL || (size_t)(se - st) >= sizeof(css)) {
		printf("# a URL, or no style\n");
		return 0;
	}
	memcpy(css, st, (size_t)(se - st));
	css[se - st] = '\0';
	if (icontains(css, "@import") || icontains(css, "url(") || icontains(css, "expression(") ||
	    icontains(css, "@font-face")) {
		printf("# the style loads something\n");
		return 0;
	}
	while ((p = strchr(p, '<')) != NULL) {
		if (p > st && p < se) {
			p = se;
			continue;
		}
		const char *q = p + 1 + (p[1] == '/');
		for (l = 0; q[l] != '\0' && q[l] != ' ' && q[l] != '>' && q[l] != '/' &&
		    q[l] != '\n'; l++)
			;
		for (k = 0; k < sizeof(tags) / sizeof(tags[0]); k++)
			if (strlen(tags[k]) == l && strncasecmp(q, tags[k], l) == 0)
				break;
		if (k == sizeof(tags) / sizeof(tags[0]) || (gt = strchr(p, '>')) == NULL) {
			printf("# element \"%.*s\"\n", (int)l, q);
			return 0;
		}
		char tag[1024];
		snprintf(tag, sizeof(tag), "%.*s", (int)(gt - p + 1), p);
		for (k = 0; k < sizeof(attrs) / sizeof(attrs[0]); k++)
			if (icontains(tag, attrs[k])) {
				printf("# \"%s\" in %s\n", attrs[k], tag);
				return 0;
			}
		p = gt;
	}
	return 1;
}

/* a report with n consecutive days from y-m-d, detections i % 7 */
static void
days(struct report *r, size_t n, int y, int m, int d)
{
	long z = days_from_civil(y, m, d);

	r->days = calloc(n ? n : 1, sizeof(*r->days));
	r->ndays = n;
	for (size_t i = 0; i < n; i++) {
		civil_from_days(z + (long)i, &r->days[i].y, &r->days[i].m, &r->days[i].d);
		r->days[i].detections = (long)(i % 7);
		r->days[i].connections = 10 * (long)i;
	}
}

static void
empty_report(struct report *r)
{
	memset(r, 0, sizeof(*r));
	r->first = r->last = r->since = r->until = -1;
}

static void
free_report(struct report *r)
{
	free(r->days);
	free(r->tests);
	free(r->offenders);
	free(r->skips);
	free(r->countries);
}

/* rclass_name and friends come from ragg.c, linked in */

int
main(void)
{
	char b[ESC_BUF], n[32], *s;
	struct report r;
	struct vgeom g;
	int rc = -1, ok;
	static const char *const ids[] = {
		"chart-days", "chart-verdicts", "chart-tests", "table-offenders", "chart-countries",
		"chart-hours", "table-actions", "table-skips",
	};

	t_prog = "rhtml: ";

	/* ---- escaping ---- */
	h_esc(b, sizeof(b), "<script>alert(1)</script>", (size_t)-1, 100);
	T_STREQ(b, "&lt;script&gt;alert(1)&lt;/script&gt;", "<script> escaped");
	h_esc(b, sizeof(b), "\"><img src=x onerror=alert(1)>", (size_t)-1, 100);
	T_STREQ(b, "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;", "attribute breakout escaped");
	h_esc(b, sizeof(b), "&amp; it's", (size_t)-1, 100);
	T_STREQ(b, "&amp;amp; it&#39;s", "& and ' escaped (an entity in the log stays text)");
	h_esc(b, sizeof(b), "a\001b\x7f\033[31mc\n", (size_t)-1, 100);
	T_STREQ(b, "a" REPLACEMENT "b" REPLACEMENT REPLACEMENT "[31mc" REPLACEMENT,
	    "control bytes become U+FFFD");
	h_esc(b, sizeof(b), "\xff\xfe|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82", (size_t)-1, 100);
	T_STREQ(b, REPLACEMENT REPLACEMENT "|" REPLACEMENT REPLACEMENT "|" REPLACEMENT REPLACEMENT
	    REPLACEMENT "|" REPLACEMENT REPLACEMENT REPLACEMENT REPLACEMENT "|" REPLACEMENT REPLACEMENT,
	    "invalid UTF-8 (bad bytes, overlong, surrogate, > U+10FFFF, cut) byte by byte");
	h_esc(b, sizeof(b), "Z\xc3\xbcrich \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80", (size_t)-1, 100);
	T_STREQ(b, "Z\xc3\xbcrich \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80", "valid UTF-8 kept");
	h_esc(b, sizeof(b), "a\xc2\x85" "b\xe2\x80\xae" "c\xe2\x81\xa6", (size_t)-1, 100);
	T_STREQ(b, "a" REPLACEMENT "b" REPLACEMENT "c" REPLACEMENT, "C1 and bidi controls replaced");
	h_esc(b, sizeof(b), "abcdef", (size_t)-1, 3);
	T_STREQ(b, "abc" ELLIPSIS, "cut at max characters, with an ellipsis");
	h_esc(b, sizeof(b), "\xc3\xbc\xc3\xbc\xc3\xbc\xc3\xbc", (size_t)-1, 2);
	T_STREQ(b, "\xc3\xbc\xc3\xbc" ELLIPSIS, "cut counts characters, not bytes");
	h_esc(b, sizeof(b), "abc", (size_t)-1, 3);
	T_STREQ(b, "abc", "exactly max characters: no ellipsis");
	h_esc(b, sizeof(b), "abcdef", 4, 100);
	T_STREQ(b, "abcd", "reads no more than n bytes");
	h_esc(b, 8, "&&&&", (size_t)-1, 100);
	T_STREQ(b, ELLIPSIS, "a small buffer: an entity that does not fit is cut");
	h_esc(b, 10, "&&&&", (size_t)-1, 100);
	T_STREQ(b, "&amp;" ELLIPSIS, "a small buffer: as many as fit");
	T_OK(h_esc(b, 3, "abcdef", (size_t)-1, 100) == 0 && b[0] == '\0',
	    "a buffer too small for the ellipsis: empty, NUL-terminated");
	T_OK(h_esc(b, 0, "x", 1, 1) == 0, "no buffer: nothing written");
	{
		char big[5001];
		size_t l;
		memset(big, '<', 5000);
		big[5000] = '\0';
		l = h_esc(b, sizeof(b), big, (size_t)-1, 160);
		T_OK(l == 160 * 4 + 3 && strncmp(b, "&lt;&lt;", 8) == 0 &&
		    strcmp(b + l - 3, ELLIPSIS) == 0, "5000 '<': 160 of them escaped, then the ellipsis");
		memset(big, 0xff, 5000);
		l = h_esc(b, sizeof(b), big, (size_t)-1, 240);
		T_OK(l == 240 * 3 + 3 && l < sizeof(b), "5000 invalid bytes: 240 replacements, cut");
		memset(big, '"', 5000);
		l = h_esc(b, sizeof(b), big, (size_t)-1, 5000);
		T_OK(l < sizeof(b) && strcmp(b + l - 3, ELLIPSIS) == 0 && count(b, "&quot;") ==
		    (sizeof(b) - 4) / 6, "5000 quotes, no character limit: the buffer bounds it");
	}

	/* ---- numbers ---- */
	T_STREQ(fmt_num(n, 0), "0", "0");
	T_STREQ(fmt_num(n, 999), "999", "999");
	T_STREQ(fmt_num(n, 1000), "1,000", "1,000");
	T_STREQ(fmt_num(n, 1234567), "1,234,567", "1,234,567");
	T_STREQ(fmt_num(n, -1234), "-1,234", "negative");
	T_STREQ(fmt_num(n, LONG_MIN), "-9,223,372,036,854,775,808", "LONG_MIN");
	T_STREQ(fmt_num(n, LONG_MAX), "9,223,372,036,854,775,807", "LONG_MAX");
	T_STREQ(fmt_compact(n, 0), "0", "axis 0");
	T_STREQ(fmt_compact(n, 500), "500", "axis 500");
	T_STREQ(fmt_compact(n, 1000), "1k", "axis 1k");
	T_STREQ(fmt_compact(n, 2500), "2.5k", "axis 2.5k");
	T_STREQ(fmt_compact(n, 25000), "25k", "axis 25k");
	T_STREQ(fmt_compact(n, 250000), "250k", "axis 250k");
	T_STREQ(fmt_compact(n, 2500000), "2.5M", "axis 2.5M");
	T_STREQ(fmt_compact(n, 5000000000L), "5G", "axis 5G");
	T_OK(strlen(fmt_compact(n, LONG_MAX)) <= 5, "axis LONG_MAX is short");
	T_STREQ(fmt_secs(n, 0.4124), "0.412 s", "seconds");
	T_STREQ(fmt_secs(n, 12.0), "12.000 s", "seconds, whole");
	T_STREQ(fmt_secs(n, NAN), "-", "NaN seconds");
	T_STREQ(fmt_secs(n, INFINITY), "-", "infinite seconds");
	T_STREQ(fmt_secs(n, -1), "-", "negative seconds");
	T_STREQ(fmt_secs(n, 1e300), ">1e9 s", "huge seconds");
	T_STREQ(fmt_pct(n, 1, 8), "12.5%", "percent");
	T_STREQ(fmt_pct(n, 1, 0), "-", "percent of nothing");
	T_STREQ(fmt_time(n, -1), "-", "no time");

	/* ---- geometry ---- */
	T_OK(nice_max(0) == 1 && nice_max(1) == 1 && nice_max(2) == 2 && nice_max(3) == 5 &&
	    nice_max(6) == 10 && nice_max(11) == 20 && nice_max(101) == 200 && nice_max(250) == 500 &&
	    nice_max(-5) == 1, "nice_max: 1, 2, 5 times a power of ten");
	T_OK(nice_max(LONG_MAX) == LONG_MAX && nice_max(LONG_MAX / 3) >= LONG_MAX / 3,
	    "nice_max does not overflow");
	T_OK(bar_len(0, 10, 100) == 0 && bar_len(-3, 10, 100) == 0 && bar_len(5, 10, 100) == 50 &&
	    bar_len(20, 10, 100) == 100 && bar_len(5, 0, 100) == 0, "bar_len within [0, full]");
	vgeom(0, 736, VB_LABELS, &g);
	T_OK(g.slot == 0 && g.bw == 0 && g.every == 1, "vgeom: 0 values");
	vgeom(1, 736, VB_LABELS, &g);
	T_OK(g.bw == VB_BARMAX && g.pad > 0 && g.pad + g.bw <= 736 && g.every == 1,
	    "vgeom: 1 value, a bar of the widest size, centred");
	vgeom(400, 736, VB_LABELS, &g);
	T_OK(g.bw > 0 && g.bw < g.slot && g.slot * 399 + g.pad + g.bw <= 736 + 1e-6 && g.every == 40,
	    "vgeom: 400 values, thin bars within the plot, a label every 40");
	vgeom(24, 736, VB_LABELS, &g);
	T_OK(g.every == 3, "vgeom: 24 hours, a label every 3");
	ok = 1;
	for (long z = -800000; z <= 800000; z += 7) {
		int y, m, d;
		civil_from_days(z, &y, &m, &d);
		if (days_from_civil(y, m, d) != z)
			ok = 0;
	}
	T_OK(ok && days_from_civil(1970, 1, 1) == 0 && days_from_civil(2024, 3, 1) -
	    days_from_civil(2024, 2, 28) == 2, "dates: round trip, leap day");

	/* ---- the empty report ---- */
	empty_report(&r);
	s = page(&r, 20, &rc);
	T_OK(s != NULL && rc == 0, "empty report: written");
	if (s == NULL)
		T_DONE();
	T_OK(strncmp(s, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0 && count(s, "<html") == 1 &&
	    count(s, "</html>") == 1 && count(s, "<body>") == 1, "empty report: one HTML document");
	T_OK(strstr(s, "<meta charset=\"utf-8\">") && strstr(s, "<meta name=\"viewport\""),
	    "charset and viewport");
	T_OK(strstr(s, "The input was empty") != NULL, "empty report: says so");
	ok = 1;
	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++)
		if (!has_in(s, ids[k], "no data"))
			ok = 0;
	T_OK(ok, "empty report: every section, each saying \"no data\"");
	T_OK(count(s, "<svg") == 0, "empty report: no empty SVG");
	T_OK(self_contained(s), "empty report: nothing external, no script");
	T_OK(clean_utf8(s), "empty report: UTF-8, no control bytes");
	free(s);

	/* lines, none ours */
	r.lines = 12;
	s = page(&r, 20, &rc);
	T_OK(s != NULL && rc == 0 && strstr(s, "None of the 12 lines read is proxymilter") != NULL,
	    "no line of ours: says so");
	free(s);

	/* ---- one day ---- */
	empty_report(&r);
	r.lines = r.ours = 10;
	r.first = r.last = 1763719200;
	days(&r, 1, 2026, 11, 21);
	r.days[0].detections = 3;
	r.verdicts[RC_OPEN] = 3;
	r.verdicts[RC_CLEAN] = 5;
	r.hours[10] = 7;
	s = page(&r, 20, &rc);
	T_OK(s != NULL && rc == 0, "one day: written");
	T_OK(s != NULL && bars_in(s, "chart-days") == 1 && has_in(s, "chart-days",
	    "<title>2026-11-21: 3 detections"), "one day: one bar, its title with the value");
	T_OK(s != NULL && bars_in(s, "chart-verdicts") == RC_N, "verdicts: a bar per class");
	T_OK(s != NULL && has_in(s, "chart-verdicts", "open-proxy: 3 final verdicts (37.5%)"),
	    "verdicts: count and share in the bar's title");
	T_OK(s != NULL && bars_in(s, "chart-hours") == 24, "hours: 24 bars");
	T_OK(s != NULL && svgs_ok(s) == 3, "one day: 3 charts, each well-formed with role and title");
	T_OK(s != NULL && has_in(s, "chart-tests", "no data") && has_in(s, "chart-countries",
	    "no data"), "charts without data say so");
	free(s);
	free_report(&r);

	/* ---- 400 days, with locale that has a decimal comma when there is one ---- */
	empty_report(&r);
	r.lines = r.ours = 100000;
	r.first = 1700000000;
	r.last = 1734560000;
	days(&r, 400, 2025, 12, 1);
	if (setlocale(LC_NUMERIC, "de_DE.UTF-8") == NULL)
		(void)setlocale(LC_NUMERIC, "fr_FR.UTF-8");
	s = page(&r, 20, &rc);
	(void)setlocale(LC_NUMERIC, "C");
	T_OK(s != NULL && rc == 0 && bars_in(s, "chart-days") == 400, "400 days: 400 bars");
	T_OK(s != NULL && svgs_ok(s) == 1, "400 days: the SVG is well-formed");
	T_OK(s != NULL && count(s, "class=\"ax xl\"") == 10, "400 days: labels thinned to 10");
	T_OK(s != NULL && has_in(s, "chart-days", "2025-12-01 to 2027-01-04: 400 days"),
	    "400 days: the span under the chart");
	T_OK(s != NULL && strstr(s, "width=\"1.5\"") != NULL && !strstr(s, "width=\"1,"),
	    "coordinates with a decimal point whatever the locale");
	free(s);

	/* gaps are days too; unsorted days and a span too long are not filled */
	r.ndays = 3;
	r.days[1] = r.days[4];
	r.days[2] = r.days[9];
	s = page(&r, 20, &rc);
	T_OK(s != NULL && bars_in(s, "chart-days") == 10 && count(s, ": no lines</title>") == 7,
	    "3 days over 10: 10 bars, 7 of them empty days");
	free(s);
	r.days[2] = r.days[0];
	s = page(&r, 20, &rc);
	T_OK(s != NULL && bars_in(s, "chart-days") == 3 && svgs_ok(s) == 1,
	    "unsorted days: one bar each");
	free(s);
	r.days[2].y = 2031;
	s = page(&r, 20, &rc);
	T_OK(s != NULL && bars_in(s, "chart-days") == 3, "a span of years: one bar per day present");
	free(s);
	r.days[1].m = 13;
	r.days[2].y = -4;
	s = page(&r, 20, &rc);
	T_OK(s != NULL && rc == 0 && bars_in(s, "chart-days") == 3 && svgs_ok(s) == 1 &&
	    count(s, "(a date out of range)") == 2, "dates out of range: drawn, marked");
	free(s);
	free_report(&r);

	/* ---- hostile strings everywhere ---- */
	empty_report(&r);
	r.lines = r.ours = 50;
	r.first = 1763719200;
	r.last = 1763805600;
	r.since = 1763700000;
	days(&r, 2, 2026, 11, 21);
	r.verdicts[RC_OPEN] = 30;
	r.verdicts[RC_SUSPECT] = 2;
	r.verdict_elapsed[RC_OPEN] = 12.36;
	r.verdict_timed[RC_OPEN] = 30;
	r.actions[RA_REJECT][RS_RCPT] = 40;
	r.actions[RA_WOULD_TAG][RS_EOM] = 2;
	r.provisional = 4;
	r.hours[3] = 1;
	r.noffenders = 30;
	r.offenders = calloc(r.noffenders, sizeof(*r.offenders));
	for (size_t i = 0; i < r.noffenders; i++) {
		struct roffender *o = &r.offenders[i];
		snprintf(o->addr, sizeof(o->addr), "192.0.2.%zu", i);
		snprintf(o->evidence, sizeof(o->evidence), "socks5:1080");
		o->cls = RC_OPEN;
		o->first = 1763719200;
		o->last = -1;
		o->verdicts = 1;
		o->rejects = 30 - (long)i;
	}
	snprintf(r.offenders[0].addr, sizeof(r.offenders[0].addr), "<script>alert(1)</script>");
	snprintf(r.offenders[0].evidence, sizeof(r.offenders[0].evidence),
	    "helo=\"><img src=x onerror=alert(1)> it's &amp; \001\033[0m \xff\xc3");
	snprintf(r.offenders[0].country, sizeof(r.offenders[0].country), "<b>");
	memset(r.offenders[1].addr, 'A', sizeof(r.offenders[1].addr));	/* no NUL */
	memset(r.offenders[1].evidence, '&', sizeof(r.offenders[1].evidence));
	memset(r.offenders[1].country, '"', sizeof(r.offenders[1].country));
	r.offenders[2].cls = (enum rclass)77;
	r.ntests = 3;
	r.tests = calloc(r.ntests, sizeof(*r.tests));
	snprintf(r.tests[0].name, sizeof(r.tests[0].name), "socks5:1080");
	r.tests[0].run = 10;
	r.tests[0].open = 3;
	r.tests[0].closed = 6;
	r.tests[0].inconclusive = 1;
	r.tests[0].elapsed = 4.0;
	snprintf(r.tests[1].name, sizeof(r.tests[1].name), "<svg onload=alert(1)>:80");
	r.tests[1].run = 5;
	r.tests[1].closed = 5;
	memset(r.tests[2].name, '\'', sizeof(r.tests[2].name));
	r.tests[2].run = 1;
	r.tests[2].open = LONG_MAX;	/* more than run: bars stay within the chart */
	r.tests[2].elapsed = NAN;
	r.ncountries = 2;
	r.countries = calloc(r.ncountries, sizeof(*r.countries));
	snprintf(r.countries[0].name, sizeof(r.countries[0].name), "&amp;");
	r.countries[0].n = 3;
	memset(r.countries[1].name, '<', sizeof(r.countries[1].name));
	r.countries[1].n = 1;
	r.nskips = 1;
	r.skips = calloc(r.nskips, sizeof(*r.skips));
	snprintf(r.skips[0].name, sizeof(r.skips[0].name), "</td></tr></table><script>x</script>");
	r.skips[0].n = 2;
	s = page(&r, 20, &rc);
	T_OK(s != NULL && rc == 0, "hostile: written");
	if (s == NULL)
		T_DONE();
	T_OK(self_contained(s), "hostile: no script, no element from the log, nothing external");
	T_OK(strstr(s, "&lt;script&gt;alert(1)&lt;/script&gt;") != NULL,
	    "hostile: the address shown escaped");
	T_OK(strstr(s, "helo=&quot;&gt;&lt;img src=x onerror=alert(1)&gt; it&#39;s &amp;amp; "
	    REPLACEMENT REPLACEMENT "[0m " REPLACEMENT REPLACEMENT) != NULL,
	    "hostile: the evidence shown escaped, controls and bad bytes replaced");
	T_OK(strstr(s, "&lt;b&gt;") != NULL && strstr(s, "&amp;amp;") != NULL,
	    "hostile: the countries escaped");
	T_OK(strstr(s, "&lt;svg onload=alert(1)&gt;:80") != NULL && count(s, "<svg") == 5,
	    "hostile: a test name is no element");
	T_OK(strstr(s, "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;script&gt;") != NULL,
	    "hostile: a skip reason escaped");
	T_OK(clean_utf8(s), "hostile: the page is UTF-8 without control bytes");
	T_OK(strstr(s, "<td class=\"addr\">AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" ELLIPSIS
	    "</td>") != NULL, "a field without a NUL: read within it, cut at 45");
	T_OK(count(s, "<tr><td class=\"addr\">") == 20 && strstr(s, "the first 20 shown") != NULL,
	    "top 20 of 30 offenders");
	T_OK(strstr(s, "<td class=\"cls c5\">") != NULL, "a class out of range: shown as such");
	T_OK(bars_in(s, "chart-tests") == 9 && bars_in(s, "chart-countries") == 2 &&
	    bars_in(s, "chart-days") == 2 && bars_in(s, "chart-verdicts") == RC_N,
	    "bars: 3 per test, 1 per country, 1 per day, 1 per class");
	T_OK(svgs_ok(s) == 5, "hostile: 5 charts, each well-formed XML with role and title");
	T_OK(bars_within(s, "chart-tests", HB_LABEL + HB_BAR) && bars_within(s, "chart-days", VB_W) &&
	    has_in(s, "chart-tests", "width=\"200.0\""), "stacked bars stop at the chart's width");
	T_OK(has_in(s, "chart-verdicts", "4 provisional ones") && has_in(s, "chart-verdicts",
	    "mean time to verdict 0.412 s"), "provisional count and mean time");
	T_OK(has_in(s, "table-actions", "<td>reject</td>") && has_in(s, "table-actions",
	    "<td>would-tag</td>") && !has_in(s, "table-actions", "<td>tempfail</td>"),
	    "actions: rows with counts only");
	T_OK(strstr(s, "; since ") != NULL, "the filter in the header");
	free(s);

	/* top 0 = all; top 1 */
	s = page(&r, 0, &rc);
	T_OK(s != NULL && count(s, "<tr><td class=\"addr\">") == 30, "top 0: every offender");
	free(s);
	s = page(&r, 1, &rc);
	T_OK(s != NULL && bars_in(s, "chart-tests") == 3 && bars_in(s, "chart-countries") == 1 &&
	    strstr(s, "2 more tests not shown") != NULL, "top 1: one test, one country");
	free(s);

	/* a write error is reported */
	{
		FILE *f = fopen("/dev/full", "w");
		if (f != NULL) {
			T_OK(report_html(f, &r, 0) == -1, "a write error: -1");
			fclose(f);
		}
	}
	T_OK(report_html(stdout, NULL, 0) == -1 && errno == EINVAL, "no report: EINVAL");
	free_report(&r);

	/* through the real parser and aggregator: what a log can put on the page */
	{
		static const char *const log[] = {
			"2026-11-21T10:00:00Z mx proxymilter[1]: NOQUEUE: connect sess=1 "
			    "client=\"<script>alert(1)</script>[192.0.2.7]:25\"",
			"2026-11-21T10:00:01Z mx proxymilter[1]: NOQUEUE: probe sess=1 client=[192.0.2.7] "
			    "test=\"<b onmouseover=alert(2)>:1\" result=open elapsed=0.5s",
			"2026-11-21T10:00:02Z mx proxymilter[1]: NOQUEUE: verdict sess=1 client=[192.0.2.7] "
			    "verdict=open-proxy evidence=\"\\\"><img src=x onerror=alert(3)>\" country=\"<a\"",
			"2026-11-21T10:00:03Z mx proxymilter[1]: NOQUEUE: reject sess=1 stage=rcpt "
			    "client=\"<script>alert(1)</script>[192.0.2.7]:25\" verdict=open-proxy "
			    "helo=\"<script>alert(4)</script>\"",
			"2026-11-21T10:00:04Z mx proxymilter[1]: NOQUEUE: skip sess=2 client=[192.0.2.8]:1 "
			    "reason=\"<iframe>\"",
		};
		struct ragg *ag = ragg_new(-1, -1, NULL);
		struct ryear ry;
		struct rline l;
		const struct report *rr;
		char line[512];

		rlog_year_init(&ry, time(NULL));
		for (size_t k = 0; ag != NULL && k < sizeof(log) / sizeof(log[0]); k++) {
			snprintf(line, sizeof(line), "%s", log[k]);
			if (rlog_parse(line, &ry, &l) == 1)
				ragg_line(ag, &l);
			else
				ragg_other(ag, 1);
		}
		rr = ag != NULL ? ragg_finish(ag) : NULL;
		T_OK(rr != NULL && rr->bad == 0 && rr->noffenders == 1 && rr->ntests == 1 &&
		    rr->nskips == 1, "parsed and aggregated: an offender, a test, a skip");
		s = rr != NULL ? page(rr, 20, &rc) : NULL;
		T_OK(s != NULL && rc == 0 && self_contained(s) && clean_utf8(s) && svgs_ok(s) == 5,
		    "log to page: self-contained, 5 well-formed charts");
		T_OK(s != NULL && strstr(s, "&quot;&gt;&lt;img src=x onerror=alert(3)&gt;") != NULL &&
		    strstr(s, "&lt;b onmouseover=alert(2)&gt;:1") != NULL &&
		    strstr(s, "&lt;iframe&gt;") != NULL, "log to page: evidence, test, reason escaped");
		T_OK(s != NULL && strstr(s, "alert(1)") == NULL && strstr(s, "alert(4)") == NULL,
		    "log to page: the client's name and the HELO are not shown");
		free(s);
		ragg_free(ag);
	}
	T_DONE();
}
