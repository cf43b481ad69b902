/*
 * fuzz_report - proxymilter-report's reading and counting (tools/rlog.c,
 * ragg.c) and its writers (rtext.c).  The input is a log: each line goes
 * through rlog_time (with a year from the input's first byte) and
 * rlog_parse + ragg_line / ragg_other, as report.c feeds them, into two
 * aggregators (one with a --since/--until period and a -c filter); then
 * the reports are written as text, JSON, every CSV table and the HTML
 * page (which must hold no "<script").  Checks: the
 * counts are consistent (bad <= ours <= lines, every line counted once),
 * every parsed pair points into the line, the JSON is valid UTF-8 without
 * a raw control byte and the text output is printable ASCII.
 */
#define _GNU_SOURCE	/* memmem */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../tools/report.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* valid UTF-8 (RFC 3629) without a byte below 0x20 but '\n' */
static int
json_clean(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k;
		if (c < 0x80) {
			if (c < 0x20 && c != '\n')
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return 0;
		for (size_t j = 1; j <= k; j++)
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return 0;
		if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f) ||
		    (c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
			return 0;
		i += k + 1;
	}
	return 1;
}

static void
write_all(const struct report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL)
		abort();
	FZ_CHECK(report_json(f, r) == 0);
	fclose(f);
	FZ_CHECK(len > 0 && buf[0] == '{' && json_clean((unsigned char *)buf, len));
	free(buf);

	buf = NULL;
	if ((f = open_memstream(&buf, &len)) == NULL)
		abort();
	FZ_CHECK(report_text(f, r, 5) == 0);
	fclose(f);
	for (size_t i = 0; i < len; i++)
		FZ_CHECK(buf[i] == '\n' || (buf[i] >= 0x20 && buf[i] < 0x7f));
	free(buf);

	if ((f = fopen("/dev/null", "w")) == NULL)
		abort();
	for (int i = 0; report_csv_tables[i] != NULL; i++)
		FZ_CHECK(report_csv(f, r, report_csv_tables[i]) == 0);
	errno = 0;
	FZ_CHECK(report_csv(f, r, "none") == -1 && errno == EINVAL);
	fclose(f);

	/* the page: no element of the log's may open in it */
	buf = NULL;
	if ((f = open_memstream(&buf, &len)) == NULL)
		abort();
	FZ_CHECK(report_html(f, r, 5) == 0);
	fclose(f);
	FZ_CHECK(len > 0 && memmem(buf, len, "<script", 7) == NULL);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ragg *a[2];
	struct ryear ry[2];
	const struct report *r;
	char *buf;
	long nlines = 0;
	int year;

	if (size < 2 || size > 64 * 1024)
		return 0;
	year = 1960 + data[0];		/* 1960..2215: below 1970 is refused */
	data++, size--;
	a[0] = ragg_new(-1, -1, NULL);
	a[1] = ragg_new(1790000000, 1800000000, "203.0.113.");
	if (a[0] == NULL || a[1] == NULL || (buf = malloc(size + 1)) == NULL)
		abort();
	rlog_year_init(&ry[0], 1795255200);
	rlog_year_init(&ry[1], (time_t)data[0] * 86400 * 30);

	for (size_t off = 0; off < size;) {
		const uint8_t *nl = memchr(data + off, '\n', size - off);
		size_t n = nl != NULL ? (size_t)(nl - (data + off)) : size - off;
		const char *rest = NULL;
		struct rline l;
		char *line = buf;

		nlines++;
		memcpy(line, data + off, n);
		line[n] = '\0';
		off += n + 1;
		{
			time_t t = rlog_time(line, year, &rest);
			FZ_CHECK(t == -1 || (rest >= line && rest <= line + n));
		}
		for (int k = 0; k < 2; k++) {
			int res;
			memcpy(line, data + off - n - 1, n);	/* rlog_parse modifies it */
			line[n] = '\0';
			res = rlog_parse(line, &ry[k], &l);
			FZ_CHECK(res >= -1 && res <= 1);
			if (res == 1) {
				FZ_CHECK(l.event != NULL && l.nkv >= 0 && l.nkv <= RL_MAXKV);
				for (int i = 0; i < l.nkv; i++)
					FZ_CHECK(l.kv[i].k >= line && l.kv[i].k < line + n + 1 &&
					    l.kv[i].v >= line && l.kv[i].v <= line + n);
				ragg_line(a[k], &l);
			} else
				ragg_other(a[k], res < 0);
		}
	}
	for (int k = 0; k < 2; k++) {
		long sum = 0;
		FZ_CHECK((r = ragg_finish(a[k])) != NULL);
		FZ_CHECK(r->lines == nlines);
		FZ_CHECK(r->bad <= r->ours && r->ours <= r->lines);
		FZ_CHECK(r->outside + r->filtered + r->bad <= r->ours);
		for (size_t i = 0; i < r->ndays; i++)
			sum += r->days[i].connections;
		FZ_CHECK(sum == r->connections);
		for (size_t i = 1; i < r->ndays; i++)
			FZ_CHECK(r->days[i - 1].y * 10000 + r->days[i - 1].m * 100 + r->days[i - 1].d <
			    r->days[i].y * 10000 + r->days[i].m * 100 + r->days[i].d);
		for (size_t i = 0; i < r->noffenders; i++)
			FZ_CHECK(r->offenders[i].cls < RC_CLEAN && r->offenders[i].addr[0] != '\0');
		write_all(r);
		ragg_free(a[k]);
	}
	free(buf);
	return 0;
}
