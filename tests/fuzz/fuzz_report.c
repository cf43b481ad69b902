/*
 * fuzz_report - proxymilter-report's line parser (tools/report.c).  The
 * program is one file with main(); its static parse(), account() and
 * read_stream() are reached by including the file with main renamed.  The
 * input is a log, read through read_stream() from an fmemopen() stream,
 * once without and once with a client filter (-c) into the same tables;
 * then every table is sorted as the summary does and freed for the next
 * input.
 */
#define main report_main
int report_main(int, char **);
#include "../../tools/report.c"
#undef main

#include "fuzz.h"

static struct table *const all[] = {
	&events, &verdicts, &skips, &actions, &tests, &opens, &stages, &cache
};

static void
reset(void)
{
	for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
		struct table *t = all[k];
		struct item **v;
		size_t n = 0;

		if (!t->ready)
			continue;
		v = sorted(t);
		for (; v[n] != NULL; n++)
			if (v[n + 1] != NULL)
				FZ_CHECK(by_n0(&v[n], &v[n + 1]) <= 0);
		FZ_CHECK(n == t->m.n);
		for (n = 0; v[n] != NULL; n++)
			free(v[n]);
		free(v);
		hm_destroy(&t->m);
		t->ready = 0;
	}
	lines_total = lines_ours = lines_bad = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const filters[2] = { NULL, "203.0.113." };
	FILE *f;

	if (size == 0 || size > 256 * 1024)
		return 0;
	for (int k = 0; k < 2; k++) {
		if ((f = fmemopen((void *)data, size, "r")) == NULL)
			abort();
		FZ_CHECK(read_stream(f, filters[k]) == 0);
		fclose(f);
		FZ_CHECK(lines_bad <= lines_ours && lines_ours <= lines_total);
	}
	reset();
	return 0;
}
