/*
 * fuzz_state - milter/state.c's loader (state_load_fp) on arbitrary bytes
 * as a state file, vrec_parse on the input as one line, and the rbldnsd
 * export (export_write) of whatever was loaded.
 *
 * Input: the bytes of a state file (read through fmemopen).
 * Checked: a refused file leaves the table empty (all or nothing) with an
 * error text; an accepted one counts every verdict line as loaded,
 * expired or older, and holds no more entries than it loaded; every
 * loaded verdict formats to a line that parses back to the same verdict;
 * the export's lines are printable ASCII with no '$' but in its specials;
 * a line that vrec_parse takes formats back to a line it takes the same.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "verdict.h"
#include "vrec.h"
#include "state.h"
#include "export.h"
#include "fuzz.h"

#define UNIX_NOW 1700000000LL

static struct vt *T;
static double NOW;

static void
same_vrec(const struct vrec *a, const struct vrec *b)
{
	FZ_CHECK(a->flush == b->flush && a->all == b->all);
	FZ_CHECK(a->all || memcmp(&a->a, &b->a, sizeof(a->a)) == 0);
	if (a->flush)
		return;
	FZ_CHECK(a->state == b->state && a->score == b->score);
	FZ_CHECK(a->set_at == b->set_at && a->expires == b->expires);
	FZ_CHECK(strcmp(a->egress, b->egress) == 0);
	FZ_CHECK(strcmp(a->evidence, b->evidence) == 0);
}

/* a record formats to a line that parses back to it */
static void
round_trip(const struct vrec *r)
{
	char line[VREC_MAX + 8];
	struct vrec back;
	const char *why;
	size_t n = vrec_format(r, line, sizeof(line));

	FZ_CHECK(n < VREC_MAX && strlen(line) == n);
	FZ_CHECK(vrec_parse(line, n, &back, &why) == 0);
	same_vrec(r, &back);
}

static int
each(const struct vt_entry *e, void *arg)
{
	struct vrec r;

	(void)arg;
	FZ_CHECK(e->v.state != VT_PENDING && e->v.state != VT_NONE);
	vrec_from_entry(e, NOW, UNIX_NOW, &r);
	FZ_CHECK(r.expires > UNIX_NOW);
	round_trip(&r);
	return 0;
}

static void
check_export(void)
{
	struct export_counts c;
	char *buf = NULL, *p, *nl;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL)
		return;
	memset(&c, 0, sizeof(c));
	FZ_CHECK(export_write(T, f, 60, "fuzz", NOW, UNIX_NOW, &c) == 0);
	fclose(f);
	for (p = buf; p < buf + len; p++)
		FZ_CHECK(*p == '\n' || (*p >= 0x20 && *p < 0x7f));
	for (p = buf; p < buf + len; p = nl + 1) {
		char *d;

		nl = memchr(p, '\n', (size_t)(buf + len - p));
		FZ_CHECK(nl != NULL);
		d = memchr(p, '$', (size_t)(nl - p));
		FZ_CHECK(d == NULL || d == p);		/* only "$TTL", "$DATASET" */
		FZ_CHECK(*p != ':' && *p != '!');	/* no default or exclusion lines */
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state_counts c;
	struct vt_stats st;
	struct vrec r;
	const char *why;
	char err[512];
	FILE *f;
	int rc;

	if (T == NULL) {
		T = vt_new(4096);
		NOW = vt_now();
	}
	/* the input as one verdict line */
	if (vrec_parse((const char *)data, size, &r, &why) == 0)
		round_trip(&r);
	else
		FZ_CHECK(why != NULL && *why != '\0');

	if (size == 0 || (f = fmemopen((void *)(uintptr_t)data, size, "r")) == NULL)
		return 0;
	err[0] = '\0';
	rc = state_load_fp(T, f, "fuzz", NOW, UNIX_NOW, err, sizeof(err), &c);
	fclose(f);
	vt_stats(T, &st);
	FZ_CHECK(rc == 0 || rc == -1);
	if (rc < 0) {
		FZ_CHECK(st.entries == 0 && c.loaded == 0);
		FZ_CHECK(strncmp(err, "fuzz", 4) == 0 && strlen(err) > 6);
	} else {
		FZ_CHECK(c.loaded + c.expired + c.older == c.verdicts);
		FZ_CHECK(st.entries <= c.loaded);
		FZ_CHECK(vt_walk(T, NOW, each, NULL) == 0);
		check_export();
	}
	vt_flush_all(T);
	return 0;
}
