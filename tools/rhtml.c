/*
 * rhtml.c - proxymilter-report's HTML page: one self-contained file.
 *
 * Decisions:
 * - Self-contained: an inline <style> and SVG charts drawn here; no script,
 *   font, image, stylesheet or link to anything (not even the SVG
 *   namespace URI: inline SVG in HTML5 needs none).  A
 *   Content-Security-Policy meta (default-src 'none', inline styles only)
 *   makes the browser refuse anything else as well, so that even an
 *   escaping bug could neither run nor load a thing.
 * - No JavaScript at all: tooltips are SVG <title> elements (also what a
 *   screen reader reads), the numbers are in plain tables.  The page works
 *   printed, with scripts off, in a mail client's viewer.
 * - Every string from the log (addresses, classes' evidence, countries,
 *   test names, skip reasons) is hostile: & < > " ' become entities;
 *   control characters (C0, DEL, C1), bidi controls and invalid UTF-8
 *   become U+FFFD; it is cut at a number of characters with "...".  Numbers
 *   are formatted here; SVG coordinates with integer arithmetic, so that a
 *   locale's decimal comma can never break the SVG.
 * - Responsive: charts are SVG with a viewBox at width 100%; their font
 *   sizes are CSS (a narrow screen enlarges them in user units); tables
 *   scroll sideways in their own box.  Print: white, every section on its
 *   own page, nothing cut.
 * - Every page has every section (ids chart-days, chart-verdicts,
 *   chart-tests, table-offenders, chart-countries, chart-hours,
 *   table-actions, table-skips); one without data says "no data" instead
 *   of drawing an empty chart.  Bars are <rect class="bar"> with a <title>;
 *   a chart draws one for every value, zero included (zero size), so the
 *   bars can be counted against the data.
 * - Days: one bar per calendar day from the first day to the last, days
 *   the log has no line for included (a gap shows as a gap), unless the
 *   days are not sorted or span more than DAYS_FILL_MAX: then one bar per
 *   day of the report.  Labels are thinned to at most VB_LABELS.
 * - The page is written as it goes (nothing is built in memory beyond one
 *   escaped string), so a report with many offenders costs no more than
 *   its output.
 */
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "report.h"

#define ESC_BUF		2048	/* an escaped string: CUT_* characters * 8 + "..." */
#define CUT_ADDR	45	/* an IPv6 address's longest text */
#define CUT_EVID	160
#define CUT_NAME	48	/* test names, countries, skip reasons */
#define CUT_LABEL	18	/* in a chart's label column (the <title> has more) */
#define DAYS_FILL_MAX	1100
#define VB_LABELS	10	/* most labels under a vertical bar chart */

#define ELLIPSIS	"\xe2\x80\xa6"
#define REPLACEMENT	"\xef\xbf\xbd"

/* ---- escaping -------------------------------------------------------------- */

/* the code point at s[0..n) (RFC 3629, strict); its length in *len; -1 for
 * an invalid sequence (length 1) */
static long
u8_next(const unsigned char *s, size_t n, size_t *len)
{
	size_t need, i;
	long c;

	*len = 1;
	if (s[0] < 0x80)
		return s[0];
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		c = s[0] & 0x07;
	} else
		return -1;
	if (need > n)
		return -1;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && c < 0x800) || (need == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*len = need;
	return c;
}

/* characters a page must not show as they are: controls, bidi controls
 * (they reorder the text around them), noncharacters */
static int
u_bad(long c)
{
	return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x61c || c == 0x200e ||
	    c == 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) ||
	    c == 0xfffe || c == 0xffff;
}

/*
 * s[0..n) (or up to a NUL) as HTML text or a quoted attribute value into
 * out, NUL-terminated, never more than outsz bytes: & < > " ' as entities,
 * bad characters and invalid UTF-8 as U+FFFD, at most max characters and
 * then "...".  Returns the length written.
 */
static size_t
h_esc(char *out, size_t outsz, const char *s, size_t n, size_t max)
{
	size_t i = 0, o = 0, chars = 0, len, rl;
	const char *rep;
	int cut = 0;
	long c;

	if (outsz < 1)
		return 0;
	while (i < n && s[i] != '\0') {
		if (chars == max) {
			cut = 1;
			break;
		}
		c = u8_next((const unsigned char *)s + i, n - i, &len);
		rep = s + i;
		rl = len;
		if (c < 0 || u_bad(c)) {
			rep = REPLACEMENT;
			rl = 3;
		} else if (c == '&') {
			rep = "&amp;";
			rl = 5;
		} else if (c == '<') {
			rep = "&lt;";
			rl = 4;
		} else if (c == '>') {
			rep = "&gt;";
			rl = 4;
		} else if (c == '"') {
			rep = "&quot;";
			rl = 6;
		} else if (c == '\'') {
			rep = "&#39;";
			rl = 5;
		}
		/* room for it, a possible "..." and the NUL */
		if (o + rl + sizeof(ELLIPSIS) > outsz) {
			cut = 1;
			break;
		}
		memcpy(out + o, rep, rl);
		o += rl;
		i += len;
		chars++;
	}
	if (cut && o + sizeof(ELLIPSIS) <= outsz) {
		memcpy(out + o, ELLIPSIS, sizeof(ELLIPSIS) - 1);
		o += sizeof(ELLIPSIS) - 1;
	}
	out[o] = '\0';
	return o;
}

/* a string from the log, escaped and cut: s is read up to n bytes */
static void
put_esc(FILE *f, const char *s, size_t n, size_t max)
{
	char b[ESC_BUF];

	if (s == NULL)
		s = "";
	h_esc(b, sizeof(b), s, n, max);
	fputs(b, f);
}

/* a char array field: never read past its end, even without a NUL */
#define PUT_FIELD(f, field, max) put_esc((f), (field), sizeof(field), (max))
#define PUT_STR(f, s, max) put_esc((f), (s), (size_t)-1, (max))

/* ---- numbers and times ----------------------------------------------------- */

/* n with thousands separators ("12,345"); b has at least 32 bytes */
static const char *
fmt_num(char *b, long n)
{
	char t[32];
	unsigned long u = n < 0 ? 0UL - (unsigned long)n : (unsigned long)n;
	int k = 0, d = 0, o = 0;

	do {
		if (d > 0 && d % 3 == 0)
			t[k++] = ',';
		t[k++] = (char)('0' + u % 10);
		u /= 10;
		d++;
	} while (u > 0);
	if (n < 0)
		b[o++] = '-';
	while (k > 0)
		b[o++] = t[--k];
	b[o] = '\0';
	return b;
}

/* an axis label: at most 4 characters for the values nice_max gives
 * ("250", "2.5k", "25k", "1M"); b has at least 32 bytes */
static const char *
fmt_compact(char *b, long v)
{
	static const char unit[] = "kMGTPE";
	long div = 1;
	int u = -1;

	if (v < 1000) {
		snprintf(b, 32, "%ld", v < 0 ? 0 : v);
		return b;
	}
	while (v / div >= 1000 && u < 5) {
		div *= 1000;
		u++;
	}
	if (v / div < 10 && v % div != 0)
		snprintf(b, 32, "%d.%d%c", (int)(v / div), (int)((v % div) / (div / 10)), unit[u]);
	else
		snprintf(b, 32, "%d%c", (int)(v / div), unit[u]);
	return b;
}

/* seconds as "0.412 s"; "-" for what is not a time; b has 32 bytes */
static const char *
fmt_secs(char *b, double s)
{
	long ms;

	if (!isfinite(s) || s < 0) {
		snprintf(b, 32, "-");
		return b;
	}
	if (s >= 1e9) {
		snprintf(b, 32, ">1e9 s");
		return b;
	}
	ms = (long)(s * 1000 + 0.5);
	snprintf(b, 32, "%ld.%03ld s", ms / 1000, ms % 1000);
	return b;
}

/* a Unix time as local "2026-11-21 10:00:00"; "-" for none; b has 32 bytes */
static const char *
fmt_time(char *b, time_t t)
{
	struct tm tm;

	if (t < 0 || localtime_r(&t, &tm) == NULL || strftime(b, 32, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(b, 32, "-");
	return b;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * algorithm) */
static long
days_from_civil(long y, long m, long d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(long z, int *y, int *m, int *d)
{
	long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int
date_ok(const struct rday *d)
{
	return d->y >= 1 && d->y <= 9999 && d->m >= 1 && d->m <= 12 && d->d >= 1 && d->d <= 31;
}

/* ---- chart geometry -------------------------------------------------------- */

/* the smallest 1, 2 or 5 times a power of ten >= v (at least 1) */
static long
nice_max(long v)
{
	long p;

	if (v <= 1)
		return 1;
	for (p = 1;; p *= 10) {
		if (p >= v)
			return p;
		if (p <= LONG_MAX / 2 && 2 * p >= v)
			return 2 * p;
		if (p <= LONG_MAX / 5 && 5 * p >= v)
			return 5 * p;
		if (p > LONG_MAX / 10)
			return v;
	}
}

/* a bar's length: v of max over full, within [0, full] */
static double
bar_len(long v, long max, double full)
{
	if (v <= 0 || max <= 0)
		return 0;
	if (v >= max)
		return full;
	return full * ((double)v / (double)max);
}

/* the vertical bar chart's layout in viewBox units */
#define VB_W	800.0
#define VB_H	260.0
#define VB_ML	64.0		/* the y axis's labels */
#define VB_MR	8.0
#define VB_MT	12.0
#define VB_MB	36.0		/* the x axis's labels */
#define VB_BARMAX 48.0

struct vgeom {
	double slot;		/* width per value */
	double bw;		/* bar width */
	double pad;		/* from the slot's left to the bar */
	size_t every;		/* a label every this many values */
};

static void
vgeom(size_t n, double plotw, size_t maxlabels, struct vgeom *g)
{
	memset(g, 0, sizeof(*g));
	g->every = 1;
	if (n == 0 || plotw <= 0)
		return;
	g->slot = plotw / (double)n;
	g->bw = g->slot * 0.8;
	if (g->bw > VB_BARMAX)
		g->bw = VB_BARMAX;
	g->pad = (g->slot - g->bw) / 2;
	if (maxlabels > 0 && n > maxlabels)
		g->every = (n + maxlabels - 1) / maxlabels;
}

/* the horizontal bar chart's layout */
#define HB_W	420.0
#define HB_LABEL 160.0		/* the label column; labels end 6 before */
#define HB_BAR	200.0		/* the longest bar; the count follows it */
#define HB_ROW	24.0
#define HB_BARH	16.0
#define HB_MT	8.0
#define HB_LEGEND 24.0

/* ---- SVG output ------------------------------------------------------------ */

/* a coordinate with one decimal, integer arithmetic (no locale) */
static void
attr_num(FILE *f, const char *name, double v)
{
	long t;

	if (!isfinite(v) || v < 0)
		v = 0;
	if (v > 1e7)
		v = 1e7;
	t = (long)(v * 10 + 0.5);
	fprintf(f, " %s=\"%ld.%ld\"", name, t / 10, t % 10);
}

static void
svg_begin(FILE *f, const char *cls, const char *id, const char *title, double w, double h)
{
	fprintf(f, "<svg class=\"%s\" role=\"img\" aria-labelledby=\"%s-t\" viewBox=\"0 0 %ld %ld\">\n"
	    "<title id=\"%s-t\">%s</title>\n", cls, id, (long)(w + 0.5), (long)(h + 0.5), id, title);
}

/* a bar: x y w h, its fill, and its tooltip (already escaped) */
static void
svg_bar(FILE *f, double x, double y, double w, double h, const char *fill, const char *tip)
{
	fputs("<rect class=\"bar\"", f);
	attr_num(f, "x", x);
	attr_num(f, "y", y);
	attr_num(f, "width", w);
	attr_num(f, "height", h);
	fprintf(f, " fill=\"%s\"><title>%s</title></rect>\n", fill, tip);
}

static void
svg_text(FILE *f, const char *cls, double x, double y, const char *anchor, const char *text)
{
	fprintf(f, "<text class=\"%s\"", cls);
	attr_num(f, "x", x);
	attr_num(f, "y", y);
	fprintf(f, " text-anchor=\"%s\">%s</text>\n", anchor, text);
}

static void
svg_line(FILE *f, const char *cls, double x1, double y1, double x2, double y2)
{
	fprintf(f, "<line class=\"%s\"", cls);
	attr_num(f, "x1", x1);
	attr_num(f, "y1", y1);
	attr_num(f, "x2", x2);
	attr_num(f, "y2", y2);
	fputs("/>\n", f);
}

/* a vertical bar chart, written bar by bar */
struct vchart {
	FILE *f;
	long max;		/* the y axis's top */
	double plotw, ploth;
	struct vgeom g;
};

static void
vchart_begin(struct vchart *c, FILE *f, const char *id, const char *title, size_t n, long maxv)
{
	char b[32];
	double y;

	c->f = f;
	c->max = nice_max(maxv);
	c->plotw = VB_W - VB_ML - VB_MR;
	c->ploth = VB_H - VB_MT - VB_MB;
	vgeom(n, c->plotw, VB_LABELS, &c->g);
	svg_begin(f, "v", id, title, VB_W, VB_H);
	/* grid lines and labels at 0, half (when whole) and the top */
	for (int k = 0; k <= 2; k++) {
		long v = k == 0 ? 0 : k == 1 ? c->max / 2 : c->max;
		if (k == 1 && (c->max < 2 || c->max % 2 != 0))
			continue;
		y = VB_MT + c->ploth - bar_len(v, c->max, c->ploth);
		svg_line(f, k == 0 ? "axis" : "grid", VB_ML, y, VB_W - VB_MR, y);
		svg_text(f, "ax yl", VB_ML - 6, y, "end", fmt_compact(b, v));
	}
}

/* value i: its bar, and its label when it is one of those shown */
static void
vchart_bar(struct vchart *c, size_t i, long v, const char *label, const char *fill, const char *tip)
{
	double h = bar_len(v, c->max, c->ploth);

	svg_bar(c->f, VB_ML + c->g.slot * (double)i + c->g.pad, VB_MT + c->ploth - h, c->g.bw, h,
	    fill, tip);
	if (label != NULL && i % c->g.every == 0)
		svg_text(c->f, "ax xl", VB_ML + c->g.slot * (double)i + c->g.slot / 2,
		    VB_MT + c->ploth + 6, "middle", label);
}

/* a horizontal bar chart: one row of up to 3 stacked segments per name */
struct hseg {
	long v;
	const char *fill;
	const char *tip;	/* escaped */
};

struct hchart {
	FILE *f;
	long max;
	double y0;
	size_t row;
};

static void
hchart_begin(struct hchart *c, FILE *f, const char *id, const char *title, size_t n, long maxv,
    const struct hseg *legend, int nlegend)
{
	double x = 6;

	c->f = f;
	c->max = maxv;
	c->row = 0;
	c->y0 = HB_MT + (nlegend > 0 ? HB_LEGEND : 0);
	svg_begin(f, "h", id, title, HB_W, c->y0 + (double)n * HB_ROW + 4);
	for (int k = 0; k < nlegend; k++) {
		fputs("<rect class=\"key\"", f);
		attr_num(f, "x", x);
		attr_num(f, "y", HB_MT);
		attr_num(f, "width", 12);
		attr_num(f, "height", 12);
		fprintf(f, " fill=\"%s\"/>\n", legend[k].fill);
		svg_text(f, "t", x + 16, HB_MT + 11, "start", legend[k].tip);
		x += 28 + 9.5 * (double)strlen(legend[k].tip);	/* the swatch, the text at 15 */
	}
}

/* label and right are escaped */
static void
hchart_row(struct hchart *c, const char *label, const char *right, const struct hseg *seg, int nseg)
{
	double y = c->y0 + (double)c->row * HB_ROW, x = HB_LABEL, w;

	svg_text(c->f, "t", HB_LABEL - 6, y + HB_BARH - 3, "end", label);
	for (int k = 0; k < nseg; k++) {
		w = bar_len(seg[k].v, c->max, HB_BAR);
		if (x + w > HB_LABEL + HB_BAR)	/* the segments add up to more than the max */
			w = HB_LABEL + HB_BAR - x;
		svg_bar(c->f, x, y, w, HB_BARH, seg[k].fill, seg[k].tip);
		x += w;
	}
	svg_text(c->f, "t", x + 6, y + HB_BARH - 3, "start", right);
	c->row++;
}

static void
nodata(FILE *f, const char *what)
{
	fprintf(f, "<p class=\"nodata\">no data%s%s</p>\n", what ? ": " : "", what ? what : "");
}

/* ---- the page -------------------------------------------------------------- */

static const char *const class_fill[RC_N] = {
	"#c0392b", "#d35400", "#8e44ad", "#c99700", "#2e8b57", "#7f8c8d"
};
#define FILL_BAR	"#2f6db5"
#define FILL_OPEN	"#c0392b"
#define FILL_CLOSED	"#2e8b57"
#define FILL_INCONCL	"#a3acb5"

static const char *
cls_name(int c)
{
	const char *s = c >= 0 && c < RC_N ? rclass_name((enum rclass)c) : NULL;
	return s != NULL ? s : "?";
}

/* "12.5%" of v in total; b has 32 bytes */
static const char *
fmt_pct(char *b, long v, long total)
{
	long pm;

	if (total <= 0 || v < 0) {
		snprintf(b, 32, "-");
		return b;
	}
	pm = (long)(1000.0 * (double)v / (double)total + 0.5);
	snprintf(b, 32, "%ld.%ld%%", pm / 10, pm % 10);
	return b;
}

static void
style(FILE *f)
{
	fputs("<style>\n"
	    ":root{color-scheme:light}\n"
	    "*{box-sizing:border-box}\n"
	    "body{margin:0;font:15px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Helvetica Neue\","
	    "\"Noto Sans\",\"Liberation Sans\",Arial,sans-serif;color:#1d232a;background:#f4f5f7}\n"
	    "header,main,footer{max-width:1100px;margin:0 auto;padding:0 16px}\n"
	    "header{padding-top:12px}\n"
	    "h1{font-size:1.5rem;margin:.4rem 0}\n"
	    "h2{font-size:1.1rem;margin:0 0 .5rem}\n"
	    "p{margin:.3rem 0}\n"
	    ".period,.note,footer{color:#4f5b66}\n"
	    ".note{font-size:.9rem}\n"
	    ".empty{background:#fff6d6;border:1px solid #e8cf74;border-radius:6px;padding:8px 12px}\n"
	    "dl.totals{display:grid;grid-template-columns:repeat(auto-fill,minmax(8.5rem,1fr));"
	    "gap:8px;margin:12px 0}\n"
	    "dl.totals div{background:#fff;border:1px solid #dce0e5;border-radius:6px;padding:6px 10px}\n"
	    "dt{font-size:.8rem;color:#55616c}\n"
	    "dd{margin:0;font-size:1.25rem;font-weight:600;font-variant-numeric:tabular-nums}\n"
	    "section{background:#fff;border:1px solid #dce0e5;border-radius:8px;padding:12px 16px;"
	    "margin:14px 0}\n"
	    "svg{display:block;width:100%;height:auto}\n"
	    "svg.h{max-width:520px;overflow:visible}\n"
	    "svg text{fill:#1d232a}\n"
	    "svg .t{font-size:13px}\n"
	    "svg .ax{font-size:11px;fill:#55616c}\n"
	    "svg .xl{dominant-baseline:hanging}\n"
	    "svg .yl{dominant-baseline:middle}\n"
	    "svg .axis{stroke:#55616c;stroke-width:1}\n"
	    "svg .grid{stroke:#dce0e5;stroke-width:1}\n"
	    ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}\n"
	    "table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums;font-size:.92rem}\n"
	    "th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e6e9ed;white-space:nowrap;"
	    "vertical-align:top}\n"
	    "th{font-weight:600;color:#3a4550}\n"
	    ".n{text-align:right}\n"
	    "td.ev{white-space:normal;min-width:14rem;overflow-wrap:anywhere}\n"
	    "td.addr{font-family:ui-monospace,\"SFMono-Regular\",Menlo,Consolas,\"Liberation Mono\",monospace}\n"
	    ".c0{color:#b03020}.c1{color:#b54700}.c2{color:#7d3c98}.c3{color:#8a6a00}"
	    ".c4{color:#23744a}.c5{color:#5f6b6d}\n"
	    ".cls{font-weight:600}\n"
	    ".nodata{color:#66717c;font-style:italic}\n"
	    "footer{font-size:.85rem;padding-bottom:24px}\n"
	    "@media (max-width:600px){\n"
	    " body{font-size:14px}\n"
	    " header,main,footer{padding:0 8px}\n"
	    " section{padding:10px;margin:10px 0}\n"
	    " dl.totals{grid-template-columns:repeat(auto-fill,minmax(6.5rem,1fr));gap:6px}\n"
	    " dd{font-size:1.1rem}\n"
	    " svg .t{font-size:15px}\n"
	    " svg .ax{font-size:24px}\n"
	    "}\n"
	    "@media print{\n"
	    " body{background:none;font-size:10pt}\n"
	    " header,main,footer{max-width:none;padding:0}\n"
	    " section{border:0;padding:0}\n"
	    " main>section+section{break-before:page}\n"
	    " dl.totals div{border-color:#999}\n"
	    " .scroll{overflow:visible}\n"
	    " th,td{white-space:normal}\n"
	    " svg{break-inside:avoid}\n"
	    "}\n"
	    "</style>\n", f);
}

static void
header(FILE *f, const struct report *r)
{
	char a[32], b[32];
	long det = r->verdicts[RC_OPEN] + r->verdicts[RC_RELAY] + r->verdicts[RC_LISTED];
	const struct {
		const char *name;
		long v;
	} tot[] = {
		{ "connections", r->connections },
		{ "probed", r->probed },
		{ "cache hits", r->cache_hits },
		{ "joined", r->joined },
		{ "skipped", r->skipped },
		{ "rate-limited", r->rate_limited },
	};

	fputs("<header>\n<h1>proxymilter report</h1>\n", f);
	if (r->first >= 0)
		fprintf(f, "<p class=\"period\">Lines from <time>%s</time> to <time>%s</time>",
		    fmt_time(a, r->first), fmt_time(b, r->last));
	else
		fputs("<p class=\"period\">No lines counted", f);
	if (r->since >= 0)
		fprintf(f, "; since %s", fmt_time(a, r->since));
	if (r->until >= 0)
		fprintf(f, "; until %s", fmt_time(a, r->until));
	fputs(".</p>\n", f);
	if (r->lines == 0)
		fputs("<p class=\"empty\">The input was empty: there is nothing to report.</p>\n", f);
	else if (r->ours == 0)
		fprintf(f, "<p class=\"empty\">None of the %s lines read is proxymilter's: "
		    "there is nothing to report.</p>\n", fmt_num(a, r->lines));
	else if (r->first < 0)
		fputs("<p class=\"empty\">No proxymilter line is in the period: "
		    "there is nothing to report.</p>\n", f);
	fputs("<dl class=\"totals\">\n", f);
	for (size_t k = 0; k < sizeof(tot) / sizeof(tot[0]); k++)
		fprintf(f, "<div><dt>%s</dt><dd>%s</dd></div>\n", tot[k].name,
		    fmt_num(a, tot[k].v));
	fprintf(f, "<div><dt>detections</dt><dd>%s</dd></div>\n", fmt_num(a, det));
	long would = report_action_total(r, RA_WOULD_REJECT) +
	    report_action_total(r, RA_WOULD_TEMPFAIL) + report_action_total(r, RA_WOULD_TAG);

	fprintf(f, "<div><dt>rejected</dt><dd>%s</dd></div>\n",
	    fmt_num(a, report_action_total(r, RA_REJECT)));
	fprintf(f, "<div><dt>tempfailed</dt><dd>%s</dd></div>\n",
	    fmt_num(a, report_action_total(r, RA_TEMPFAIL)));
	fprintf(f, "<div><dt>tagged</dt><dd>%s</dd></div>\n",
	    fmt_num(a, report_action_total(r, RA_TAG)));
	if (would > 0)
		fprintf(f, "<div><dt>would act (observe)</dt><dd>%s</dd></div>\n", fmt_num(a, would));
	fputs("</dl>\n</header>\n", f);
}

static void
sec_days(FILE *f, const struct report *r)
{
	size_t nd = r->days != NULL ? r->ndays : 0, nbars, j = 0;
	long d0 = 0, d1 = 0, prev = 0, maxv = 0, total = 0;
	int fill = 1, y, m, d;
	struct vchart c;
	char label[16], tip[200], n1[32], n2[32], n3[32], n4[32];

	fputs("<section id=\"chart-days\">\n<h2>Detections per day</h2>\n", f);
	if (nd == 0) {
		nodata(f, NULL);
		fputs("</section>\n", f);
		return;
	}
	for (size_t i = 0; i < nd; i++) {
		const struct rday *x = &r->days[i];
		long dn = date_ok(x) ? days_from_civil(x->y, x->m, x->d) : 0;
		if (!date_ok(x) || (i > 0 && dn <= prev))
			fill = 0;
		if (i == 0)
			d0 = dn;
		prev = d1 = dn;
		if (x->detections > maxv)
			maxv = x->detections;
		if (x->detections > 0 && total <= LONG_MAX - x->detections)
			total += x->detections;
	}
	if (fill && d1 - d0 + 1 > DAYS_FILL_MAX)
		fill = 0;
	nbars = fill ? (size_t)(d1 - d0 + 1) : nd;
	vchart_begin(&c, f, "days", "Detections per day (final open-proxy, open-relay and listed "
	    "verdicts)", nbars, maxv);
	for (size_t k = 0; k < nbars; k++) {
		const struct rday *x = NULL;
		if (fill) {
			civil_from_days(d0 + (long)k, &y, &m, &d);
			if (j < nd && days_from_civil(r->days[j].y, r->days[j].m, r->days[j].d) ==
			    d0 + (long)k)
				x = &r->days[j++];
		} else {
			x = &r->days[k];
			y = x->y;
			m = x->m;
			d = x->d;
		}
		if (x != NULL && !date_ok(x)) {
			snprintf(label, sizeof(label), "?");
			snprintf(tip, sizeof(tip), "(a date out of range): %s detections",
			    fmt_num(n1, x->detections));
		} else {
			snprintf(label, sizeof(label), "%02d-%02d", m, d);
			if (x != NULL)
				snprintf(tip, sizeof(tip), "%04d-%02d-%02d: %s detections, %s connections, "
				    "%s probed, %s rejects", y, m, d, fmt_num(n1, x->detections),
				    fmt_num(n2, x->connections), fmt_num(n3, x->probed),
				    fmt_num(n4, x->rejects));
			else
				snprintf(tip, sizeof(tip), "%04d-%02d-%02d: no lines", y, m, d);
		}
		vchart_bar(&c, k, x != NULL ? x->detections : 0, label, FILL_OPEN, tip);
	}
	fputs("</svg>\n", f);
	if (fill) {
		civil_from_days(d0, &y, &m, &d);
		snprintf(label, sizeof(label), "%04d-%02d-%02d", y, m, d);
		civil_from_days(d1, &y, &m, &d);
		fprintf(f, "<p class=\"note\">%s to %04d-%02d-%02d: %s days, %s detections.</p>\n",
		    label, y, m, d, fmt_num(n1, (long)nbars), fmt_num(n2, total));
	} else
		fprintf(f, "<p class=\"note\">%s days with lines, %s detections.</p>\n",
		    fmt_num(n1, (long)nbars), fmt_num(n2, total));
	fputs("</section>\n", f);
}

static void
sec_verdicts(FILE *f, const struct report *r)
{
	long total = 0, maxv = 0;
	struct hchart c;
	struct hseg s;
	char n1[32], n2[32], n3[32], tip[200];

	fputs("<section id=\"chart-verdicts\">\n<h2>Verdicts by class</h2>\n", f);
	for (int k = 0; k < RC_N; k++) {
		if (r->verdicts[k] > 0 && total <= LONG_MAX - r->verdicts[k])
			total += r->verdicts[k];
		if (r->verdicts[k] > maxv)
			maxv = r->verdicts[k];
	}
	if (total == 0) {
		nodata(f, NULL);
		fputs("</section>\n", f);
		return;
	}
	hchart_begin(&c, f, "verdicts", "Final verdicts by class", RC_N, maxv, NULL, 0);
	for (int k = 0; k < RC_N; k++) {
		if (r->verdict_timed[k] > 0)
			snprintf(n3, sizeof(n3), "%s", fmt_secs(n2, r->verdict_elapsed[k] /
			    (double)r->verdict_timed[k]));
		else
			snprintf(n3, sizeof(n3), "-");
		snprintf(tip, sizeof(tip), "%s: %s final verdicts (%s), mean time to verdict %s",
		    cls_name(k), fmt_num(n1, r->verdicts[k]), fmt_pct(n2, r->verdicts[k], total), n3);
		s.v = r->verdicts[k];
		s.fill = class_fill[k];
		s.tip = tip;
		hchart_row(&c, cls_name(k), fmt_num(n1, r->verdicts[k]), &s, 1);
	}
	fputs("</svg>\n", f);
	fprintf(f, "<p class=\"note\">%s final verdicts", fmt_num(n1, total));
	if (r->provisional > 0)
		fprintf(f, "; %s provisional ones (final=no) are not counted",
		    fmt_num(n2, r->provisional));
	fputs(".</p>\n</section>\n", f);
}

static void
sec_tests(FILE *f, const struct report *r, int top)
{
	size_t n = r->tests != NULL ? r->ntests : 0, shown = n;
	long maxv = 0;
	struct hchart c;
	struct hseg s[3];
	static const struct hseg legend[3] = {
		{ 0, FILL_OPEN, "open" }, { 0, FILL_CLOSED, "closed" }, { 0, FILL_INCONCL, "inconclusive" }
	};
	char name[ESC_BUF], label[ESC_BUF], tip[3][ESC_BUF + 100];
	char n1[32], n2[32], n3[32], n4[32], n5[32];

	fputs("<section id=\"chart-tests\">\n<h2>Tests by protocol and port</h2>\n", f);
	if (n == 0) {
		nodata(f, NULL);
		fputs("</section>\n", f);
		return;
	}
	if (top > 0 && (size_t)top < n)
		shown = (size_t)top;
	for (size_t i = 0; i < shown; i++) {
		const struct rtest *t = &r->tests[i];
		long sum = 0;
		if (t->open > 0)
			sum += t->open;
		if (t->closed > 0 && sum <= LONG_MAX - t->closed)
			sum += t->closed;
		if (t->inconclusive > 0 && sum <= LONG_MAX - t->inconclusive)
			sum += t->inconclusive;
		if (sum > maxv)
			maxv = sum;
		if (t->run > maxv)
			maxv = t->run;
	}
	hchart_begin(&c, f, "tests", "Tests by protocol and port: open, closed, inconclusive",
	    shown, maxv, legend, 3);
	for (size_t i = 0; i < shown; i++) {
		const struct rtest *t = &r->tests[i];
		h_esc(name, sizeof(name), t->name, sizeof(t->name), CUT_NAME);
		h_esc(label, sizeof(label), t->name, sizeof(t->name), CUT_LABEL);
		snprintf(tip[0], sizeof(tip[0]), "%s: open %s of %s runs", name, fmt_num(n1, t->open),
		    fmt_num(n2, t->run));
		snprintf(tip[1], sizeof(tip[1]), "%s: closed %s of %s runs", name,
		    fmt_num(n1, t->closed), fmt_num(n2, t->run));
		snprintf(tip[2], sizeof(tip[2]), "%s: inconclusive %s of %s runs", name,
		    fmt_num(n1, t->inconclusive), fmt_num(n2, t->run));
		s[0] = (struct hseg){ t->open, FILL_OPEN, tip[0] };
		s[1] = (struct hseg){ t->closed, FILL_CLOSED, tip[1] };
		s[2] = (struct hseg){ t->inconclusive, FILL_INCONCL, tip[2] };
		hchart_row(&c, label, fmt_num(n1, t->run), s, 3);
	}
	fputs("</svg>\n", f);
	fputs("<div class=\"scroll\"><table>\n<thead><tr><th>test</th><th class=\"n\">runs</th>"
	    "<th class=\"n\">open</th><th class=\"n\">closed</th><th class=\"n\">inconclusive</th>"
	    "<th class=\"n\">mean time</th></tr></thead>\n<tbody>\n", f);
	for (size_t i = 0; i < shown; i++) {
		const struct rtest *t = &r->tests[i];
		fputs("<tr><td>", f);
		PUT_FIELD(f, t->name, CUT_NAME);
		fprintf(f, "</td><td class=\"n\">%s</td><td class=\"n\">%s</td><td class=\"n\">%s</td>"
		    "<td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n", fmt_num(n1, t->run),
		    fmt_num(n2, t->open), fmt_num(n3, t->closed), fmt_num(n4, t->inconclusive),
		    t->run > 0 ? fmt_secs(n5, t->elapsed / (double)t->run) : "-");
	}
	fputs("</tbody></table></div>\n", f);
	if (shown < n)
		fprintf(f, "<p class=\"note\">%s more tests not shown.</p>\n", fmt_num(n1, (long)(n - shown)));
	fputs("</section>\n", f);
}

static void
sec_offenders(FILE *f, const struct report *r, int top)
{
	size_t n = r->offenders != NULL ? r->noffenders : 0, shown = n;
	char n1[32], n2[32];

	fputs("<section id=\"table-offenders\">\n<h2>Top offenders</h2>\n", f);
	if (n == 0) {
		nodata(f, "no client had a verdict above clean");
		fputs("</section>\n", f);
		return;
	}
	if (top > 0 && (size_t)top < n)
		shown = (size_t)top;
	fputs("<div class=\"scroll\"><table>\n<thead><tr><th>address</th><th>class</th>"
	    "<th>evidence</th><th>country</th><th>first seen</th><th>last seen</th>"
	    "<th class=\"n\">verdicts</th><th class=\"n\">rejects</th></tr></thead>\n<tbody>\n", f);
	for (size_t i = 0; i < shown; i++) {
		const struct roffender *o = &r->offenders[i];
		int cls = (int)o->cls;
		fputs("<tr><td class=\"addr\">", f);
		PUT_FIELD(f, o->addr, CUT_ADDR);
		fprintf(f, "</td><td class=\"cls c%d\">%s</td><td class=\"ev\">",
		    cls >= 0 && cls < RC_N ? cls : RC_ERROR, cls_name(cls));
		PUT_FIELD(f, o->evidence, CUT_EVID);
		fputs("</td><td>", f);
		PUT_FIELD(f, o->country, CUT_NAME);
		fprintf(f, "</td><td>%s</td>", fmt_time(n1, o->first));
		fprintf(f, "<td>%s</td>", fmt_time(n1, o->last));
		fprintf(f, "<td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n",
		    fmt_num(n1, o->verdicts), fmt_num(n2, o->rejects));
	}
	fputs("</tbody></table></div>\n", f);
	fprintf(f, "<p class=\"note\">%s clients with a verdict other than clean or error",
	    fmt_num(n1, (long)n));
	if (shown < n)
		fprintf(f, "; the first %s shown", fmt_num(n2, (long)shown));
	fputs(".</p>\n</section>\n", f);
}

static void
sec_countries(FILE *f, const struct report *r, int top)
{
	size_t n = r->countries != NULL ? r->ncountries : 0, shown = n;
	long maxv = 0, total = 0;
	struct hchart c;
	struct hseg s;
	char name[ESC_BUF], label[ESC_BUF], tip[ESC_BUF + 100], n1[32], n2[32];

	fputs("<section id=\"chart-countries\">\n<h2>Top countries</h2>\n", f);
	if (top > 0 && (size_t)top < n)
		shown = (size_t)top;
	for (size_t i = 0; i < n; i++) {
		if (r->countries[i].n > maxv && i < shown)
			maxv = r->countries[i].n;
		if (r->countries[i].n > 0 && total <= LONG_MAX - r->countries[i].n)
			total += r->countries[i].n;
	}
	if (n == 0 || total == 0) {
		nodata(f, "no verdict line had a country");
		fputs("</section>\n", f);
		return;
	}
	hchart_begin(&c, f, "countries", "Final verdicts by the client's country", shown, maxv, NULL, 0);
	for (size_t i = 0; i < shown; i++) {
		const struct rcount *x = &r->countries[i];
		h_esc(name, sizeof(name), x->name, sizeof(x->name), CUT_NAME);
		h_esc(label, sizeof(label), x->name, sizeof(x->name), CUT_LABEL);
		snprintf(tip, sizeof(tip), "%s: %s final verdicts (%s)", name, fmt_num(n1, x->n),
		    fmt_pct(n2, x->n, total));
		s = (struct hseg){ x->n, FILL_BAR, tip };
		hchart_row(&c, label, fmt_num(n1, x->n), &s, 1);
	}
	fputs("</svg>\n", f);
	fprintf(f, "<p class=\"note\">%s verdicts with a country, %s countries", fmt_num(n1, total),
	    fmt_num(n2, (long)n));
	if (shown < n)
		fprintf(f, "; the first %s shown", fmt_num(n1, (long)shown));
	fputs(".</p>\n</section>\n", f);
}

static void
sec_hours(FILE *f, const struct report *r)
{
	long maxv = 0;
	struct vchart c;
	char label[16], tip[96], n1[32];

	fputs("<section id=\"chart-hours\">\n<h2>Connections by hour of day</h2>\n", f);
	for (int h = 0; h < 24; h++)
		if (r->hours[h] > maxv)
			maxv = r->hours[h];
	if (maxv == 0) {
		nodata(f, NULL);
		fputs("</section>\n", f);
		return;
	}
	vchart_begin(&c, f, "hours", "Connections by hour of day (local time)", 24, maxv);
	for (int h = 0; h < 24; h++) {
		snprintf(label, sizeof(label), "%02d", h);
		snprintf(tip, sizeof(tip), "%02d:00-%02d:59: %s connections", h, h,
		    fmt_num(n1, r->hours[h]));
		vchart_bar(&c, (size_t)h, r->hours[h], label, FILL_BAR, tip);
	}
	fputs("</svg>\n</section>\n", f);
}

static void
sec_actions(FILE *f, const struct report *r)
{
	int any = 0;
	char n1[32];

	fputs("<section id=\"table-actions\">\n<h2>Actions by stage</h2>\n", f);
	for (int a = 0; a < RA_N; a++)
		for (int s = 0; s < RS_N; s++)
			if (r->actions[a][s] != 0)
				any = 1;
	if (!any) {
		nodata(f, "no reject, tempfail or tag");
		fputs("</section>\n", f);
		return;
	}
	fputs("<div class=\"scroll\"><table>\n<thead><tr><th>action</th>", f);
	for (int s = 0; s < RS_N; s++)
		fprintf(f, "<th class=\"n\">%s</th>", rstage_name((enum rstage)s));
	fputs("<th class=\"n\">total</th></tr></thead>\n<tbody>\n", f);
	for (int a = 0; a < RA_N; a++) {
		int row = 0;
		for (int s = 0; s < RS_N; s++)
			if (r->actions[a][s] != 0)
				row = 1;
		if (!row)
			continue;
		fprintf(f, "<tr><td>%s</td>", raction_name((enum raction)a));
		for (int s = 0; s < RS_N; s++)
			fprintf(f, "<td class=\"n\">%s</td>", fmt_num(n1, r->actions[a][s]));
		fprintf(f, "<td class=\"n\">%s</td></tr>\n", fmt_num(n1, report_action_total(r, a)));
	}
	fputs("</tbody></table></div>\n</section>\n", f);
}

static void
sec_skips(FILE *f, const struct report *r, int top)
{
	size_t n = r->skips != NULL ? r->nskips : 0, shown = n;
	char n1[32];

	fputs("<section id=\"table-skips\">\n<h2>Skipped clients by reason</h2>\n", f);
	if (n == 0) {
		nodata(f, NULL);
		fputs("</section>\n", f);
		return;
	}
	if (top > 0 && (size_t)top < n)
		shown = (size_t)top;
	fputs("<div class=\"scroll\"><table>\n<thead><tr><th>reason</th><th class=\"n\">count</th>"
	    "</tr></thead>\n<tbody>\n", f);
	for (size_t i = 0; i < shown; i++) {
		fputs("<tr><td>", f);
		PUT_FIELD(f, r->skips[i].name, CUT_NAME);
		fprintf(f, "</td><td class=\"n\">%s</td></tr>\n", fmt_num(n1, r->skips[i].n));
	}
	fputs("</tbody></table></div>\n", f);
	if (shown < n)
		fprintf(f, "<p class=\"note\">%s more reasons not shown.</p>\n",
		    fmt_num(n1, (long)(n - shown)));
	fputs("</section>\n", f);
}

int
report_html(FILE *f, const struct report *r, int top)
{
	char a[32], b[32], c[32], d[32];

	if (f == NULL || r == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (top < 0)
		top = 0;
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
	    "style-src 'unsafe-inline'\">\n"
	    "<meta name=\"generator\" content=\"proxymilter-report " PACKAGE_VERSION "\">\n", f);
	if (r->first >= 0) {
		fmt_time(a, r->first);
		fmt_time(b, r->last);
		a[10] = b[10] = '\0';	/* the dates */
		fprintf(f, "<title>proxymilter report %s to %s</title>\n", a, b);
	} else
		fputs("<title>proxymilter report</title>\n", f);
	style(f);
	fputs("</head>\n<body>\n", f);
	header(f, r);
	fputs("<main>\n", f);
	sec_days(f, r);
	sec_verdicts(f, r);
	sec_tests(f, r, top);
	sec_offenders(f, r, top);
	sec_countries(f, r, top);
	sec_hours(f, r);
	sec_actions(f, r);
	sec_skips(f, r, top);
	fprintf(f, "</main>\n<footer>\n<p>%s lines read, %s of them proxymilter's, %s unparsable, "
	    "%s outside the period", fmt_num(a, r->lines), fmt_num(b, r->ours), fmt_num(c, r->bad),
	    fmt_num(d, r->outside));
	if (r->filtered > 0)
		fprintf(f, ", %s about other clients (-c)", fmt_num(a, r->filtered));
	fputs(". Written by proxymilter-report " PACKAGE_VERSION "; times are the log's local time."
	    "</p>\n</footer>\n</body>\n</html>\n", f);
	if (fflush(f) == EOF || ferror(f))
		return -1;
	return 0;
}
