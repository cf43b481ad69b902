/* promtext: label escaping, the bounded name set ("other" past it), the
 * histogram's buckets and text, the scrape's size cap; concurrent adders */
#include "config.h"
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include "t.h"
#include "promtext.h"

static struct pt_names N;
static struct pt_hist H;

static void *
adder(void *arg)
{
	char name[16];

	for (int i = 0; i < 20000; i++) {
		snprintf(name, sizeof(name), "p%d", (i + (int)(long)arg) % 40);
		(void)pt_names_index(&N, name);
		pt_hist_add(&H, (double)(i % 3));
	}
	return NULL;
}

/* does s contain line (a whole line)? */
static int
has_line(const char *s, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = s; (p = strstr(p, line)) != NULL; p++)
		if ((p == s || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

int
main(void)
{
	char l[64], big[200];
	struct pt_names s;
	struct pt_hist h;
	struct pt t;
	pthread_t th[4];
	static const double le[] = { 0.5, 1, 5 };
	static const double bad[] = { 1, 1 };

	t_prog = "promtext: ";

	/* labels */
	T_OK(pt_labels(l, sizeof(l), "protocol", "socks5", "result", "open", (const char *)NULL) == 0,
	    "two labels fit");
	T_STREQ(l, "{protocol=\"socks5\",result=\"open\"}", "labels text");
	T_OK(pt_labels(l, sizeof(l), "p", "a\"b\\c\nd", (const char *)NULL) == 0, "escaped value fits");
	T_STREQ(l, "{p=\"a\\\"b\\\\c\\nd\"}", "\\ \" and newline escaped");
	T_OK(pt_labels(l, sizeof(l), "p", "x\001y\xc3\xa9", (const char *)NULL) == 0, "control bytes fit");
	T_STREQ(l, "{p=\"x?y??\"}", "control and non-ASCII bytes become '?'");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	T_OK(pt_labels(l, sizeof(l), "p", big, (const char *)NULL) == -1 && l[0] == '\0',
	    "a value too long for the buffer: -1 and \"\", never cut");
	T_OK(pt_labels(l, 17, "p", "0123456789", (const char *)NULL) == 0 &&
	    strcmp(l, "{p=\"0123456789\"}") == 0, "exactly fitting (16 bytes + NUL in 17)");
	T_OK(pt_labels(l, 16, "p", "0123456789", (const char *)NULL) == -1, "one byte short: -1");
	T_OK(pt_labels(l, 2, "p", "x", (const char *)NULL) == -1 && l[0] == '\0', "tiny buffer: -1");

	/* names */
	pt_names_init(&s);
	T_OK(pt_names_index(&s, "socks5") == 0 && pt_names_index(&s, "http-connect") == 1 &&
	    pt_names_index(&s, "socks5") == 0, "names get stable indexes");
	T_OK(pt_names_index(&s, "") == PT_OTHER, "empty name: other");
	T_OK(pt_names_index(&s, NULL) == PT_OTHER, "NULL name: other");
	T_OK(pt_names_index(&s, "bad\nname") == PT_OTHER, "a control byte: other");
	T_OK(pt_names_index(&s, "caf\xc3\xa9") == PT_OTHER, "non-ASCII: other");
	big[PT_NAME_LEN] = '\0';
	T_OK(pt_names_index(&s, big) == PT_OTHER, "a name of PT_NAME_LEN bytes: other (not cut)");
	big[PT_NAME_LEN - 1] = '\0';
	T_OK(pt_names_index(&s, big) == 2, "a name of PT_NAME_LEN - 1 bytes fits");
	T_OK(pt_names_index(&s, "we\"ird") == 3, "a quote is printable: kept (escaped in labels)");
	for (int i = 0; i < 100; i++) {
		char n[16];
		snprintf(n, sizeof(n), "k%d", i);
		(void)pt_names_index(&s, n);
	}
	T_OK(pt_names_count(&s) == PT_NAMES_MAX - 1, "at most PT_NAMES_MAX - 1 names");
	T_OK(pt_names_index(&s, "k99") == PT_OTHER, "past the bound: other");
	T_OK(pt_names_index(&s, "socks5") == 0, "known names keep their index when full");
	T_STREQ(pt_names_at(&s, PT_OTHER), "other", "PT_OTHER reads \"other\"");
	T_STREQ(pt_names_at(&s, 1), "http-connect", "pt_names_at");

	/* histogram */
	T_OK(pt_hist_init(&h, bad, 2) == -1, "bounds that do not ascend are refused");
	T_OK(pt_hist_init(&h, le, 0) == -1, "no bounds refused");
	T_OK(pt_hist_init(&h, le, 3) == 0, "3 bounds");
	pt_hist_add(&h, 0.5);	/* le is inclusive */
	pt_hist_add(&h, 0.7);
	pt_hist_add(&h, 7);
	pt_hist_add(&h, -1);	/* as 0 */
	pt_hist_add(&h, NAN);	/* as 0 */
	pt_init(&t, 65536);
	pt_histogram(&t, "x_seconds", "A test.\nSecond line \\", &h);
	T_OK(!t.full && t.buf != NULL, "histogram text made");
	T_OK(has_line(t.buf, "# HELP x_seconds A test.\\nSecond line \\\\"), "HELP escaped");
	T_OK(has_line(t.buf, "# TYPE x_seconds histogram"), "TYPE line");
	T_OK(has_line(t.buf, "x_seconds_bucket{le=\"0.5\"} 3"), "le=0.5: 0.5, -1 and NaN (inclusive)");
	T_OK(has_line(t.buf, "x_seconds_bucket{le=\"1\"} 4"), "le=1 cumulative");
	T_OK(has_line(t.buf, "x_seconds_bucket{le=\"5\"} 4"), "le=5 cumulative");
	T_OK(has_line(t.buf, "x_seconds_bucket{le=\"+Inf\"} 5"), "+Inf: every observation");
	T_OK(has_line(t.buf, "x_seconds_count 5"), "_count = +Inf bucket");
	T_OK(has_line(t.buf, "x_seconds_sum 8.200000"), "_sum in seconds");
	T_OK(t.series == 6, "6 series (4 buckets, sum, count)");
	pt_free(&t);

	/* the cap: a scrape past it is refused whole */
	pt_init(&t, 100);
	for (int i = 0; i < 10; i++)
		pt_u64(&t, "some_metric_total", "", (uint64_t)i);
	T_OK(t.full && t.len <= 100, "past the cap: full, nothing beyond it");
	pt_free(&t);
	pt_init(&t, 1 << 20);
	for (int i = 0; i < 5000; i++)
		pt_u64(&t, "some_metric_total", "", (uint64_t)i);
	T_OK(!t.full && t.series == 5000 && has_line(t.buf, "some_metric_total 4999"),
	    "growing past the first allocation");
	pt_dbl(&t, "g", "", INFINITY);
	pt_dbl(&t, "g", "", NAN);
	T_OK(has_line(t.buf, "g +Inf") && has_line(t.buf, "g NaN"), "+Inf and NaN spelled as Prometheus does");
	pt_free(&t);

	/* concurrent adders: 40 names into 31 slots, all counted */
	pt_names_init(&N);
	T_OK(pt_hist_init(&H, le, 3) == 0, "shared histogram");
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, adder, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	T_OK(pt_names_count(&N) == PT_NAMES_MAX - 1, "4 threads: the set filled, no more");
	{
		int dup = 0;
		for (size_t i = 0; i < pt_names_count(&N); i++)
			for (size_t j = i + 1; j < pt_names_count(&N); j++)
				dup += strcmp(pt_names_at(&N, i), pt_names_at(&N, j)) == 0;
		T_OK(dup == 0, "4 threads: no name twice");
	}
	uint64_t sum = 0;
	for (size_t i = 0; i <= H.n; i++)
		sum += H.b[i];
	T_OK(sum == 80000, "4 threads x 20000 observations, none lost");
	T_OK(H.sum_us == (uint64_t)79996 * 1000000, "... and their sum (4 x 19999 s)");
	T_DONE();
}
