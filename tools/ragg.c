/*
 * ragg.c - proxymilter-report's aggregation: log lines into a struct
 * report (see report.h).
 *
 * Decisions (the counts are those of the milter's stats line for the same
 * lines: milter/callbacks.c, enforce.c and results.c count exactly when
 * they write these lines):
 * - connect = connections; probe-start = probed; cache hit=yes =
 *   cache_hits, hit=inflight = joined; every skip line = skipped (by its
 *   reason), reason=rate-limit also = rate_limited (the milter counts
 *   both for it); a verdict line with final=no = provisional and nothing
 *   else; a final verdict line (without final=no, late=yes or not) =
 *   verdicts[its class], with quarantined= it is error whatever its
 *   verdict= says (the milter counts a quarantined verdict as error and
 *   logs the engine's class); reject, tempfail, tag and would-* lines =
 *   actions[event][stage=] (rejected, tempfailed, tagged, would).  A tag
 *   line has no stage (the header is added at the end of the message,
 *   whichever stage decided): it counts at eom.
 * - A line without a time is bad; one outside --since/--until is counted
 *   in outside and nothing else; one whose client= does not contain -c's
 *   text (or that has none) in filtered and nothing else.  first/last are
 *   the times of the first and last line counted.
 * - An unknown event is ours and counted in no table; a verdict line with
 *   an unknown class, or an action line with an unknown stage, is bad.
 * - Offenders: per client address (from client=, "[addr]" or
 *   "name[addr]:port"; only hex digits, '.' and ':' are taken as an
 *   address).  An address is an offender when a line shows it with a
 *   class other than clean and error: its final verdict lines, and the
 *   cache hits and action lines that carry such a verdict= (a client found
 *   before the period and rejected in it is an offender of the period).
 *   first/last are the first and last of those lines and of its reject
 *   lines; class and evidence are the latest such line's (by time, so the
 *   order of the files does not matter); country the latest verdict's
 *   with one.  verdicts counts its final verdict lines, rejects its reject
 *   lines (joined by address, whatever their order).
 * - Tests by test= (proto:port): result open, closed, or anything else
 *   (inconclusive, retried) as inconclusive; elapsed summed.  With
 *   log_level info the milter leaves out closed tests without findings
 *   (level debug): closed counts what the log holds.
 * - Days and hours are local; the last hour's date is cached (localtime
 *   per line costs more than the rest).
 * - Hash maps (probes/hmap.h) with a random seed: a log cannot choose
 *   colliding keys.  Out of memory, the line is left uncounted and
 *   ragg_finish() returns NULL (errno ENOMEM): a report that silently
 *   lacks lines is worse than none.
 */
#include "config.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "hmap.h"
#include "report.h"

static const char *const class_names[RC_N] = {
	"open-proxy", "open-relay", "listed", "suspect", "clean", "error"
};
static const char *const action_names[RA_N] = {
	"reject", "tempfail", "tag", "would-reject", "would-tempfail", "would-tag"
};
static const char *const stage_names[RS_N] = { "connect", "helo", "mail", "rcpt", "eom" };

const char *
rclass_name(enum rclass c)
{
	return (unsigned)c < RC_N ? class_names[c] : "?";
}

const char *
raction_name(enum raction a)
{
	return (unsigned)a < RA_N ? action_names[a] : "?";
}

const char *
rstage_name(enum rstage s)
{
	return (unsigned)s < RS_N ? stage_names[s] : "?";
}

static int
lookup(const char *const *names, int n, const char *s)
{
	if (s != NULL)
		for (int i = 0; i < n; i++)
			if (strcmp(names[i], s) == 0)
				return i;
	return -1;
}

struct client {
	struct hm_node node;
	struct roffender o;		/* o.addr is the key */
	time_t at, country_at;		/* the lines cls/evidence and country come from */
	int offender;
};

struct test {
	struct hm_node node;
	struct rtest t;			/* t.name is the key */
};

struct day {
	struct hm_node node;
	int key;			/* y * 10000 + m * 100 + d */
	struct rday d;
};

struct count {
	struct hm_node node;
	struct rcount c;		/* c.name is the key */
};

struct ragg {
	struct report r;
	char *filter;
	struct hmap clients, tests, days, skips, countries;
	int oom;
	time_t hour0;			/* the start of the last line's local hour */
	int y, m, d, h;
};

static void
copy(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

struct ragg *
ragg_new(time_t since, time_t until, const char *client_filter)
{
	struct ragg *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	if (client_filter != NULL && (a->filter = strdup(client_filter)) == NULL) {
		free(a);
		return NULL;
	}
	if (hm_init(&a->clients, HM_KEYOFF(struct client, node, o.addr), 0, NULL, NULL) < 0 ||
	    hm_init(&a->tests, HM_KEYOFF(struct test, node, t.name), 0, NULL, NULL) < 0 ||
	    hm_init(&a->days, HM_KEYOFF(struct day, node, key), sizeof(int), NULL, NULL) < 0 ||
	    hm_init(&a->skips, HM_KEYOFF(struct count, node, c.name), 0, NULL, NULL) < 0 ||
	    hm_init(&a->countries, HM_KEYOFF(struct count, node, c.name), 0, NULL, NULL) < 0) {
		free(a->filter);
		free(a);
		errno = EIO;		/* no randomness for the seeds */
		return NULL;
	}
	a->r.first = a->r.last = -1;
	a->r.since = since;
	a->r.until = until;
	a->hour0 = -1;
	return a;
}

/* ---- the tables -------------------------------------------------------------- */

static struct count *
count_of(struct ragg *a, struct hmap *m, const char *name)
{
	char key[sizeof(((struct rcount *)0)->name)];
	struct hm_node *n;
	struct count *c;

	copy(key, sizeof(key), name);
	if ((n = hm_find(m, key)) != NULL)
		return HM_ENTRY(n, struct count, node);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		a->oom = 1;
		return NULL;
	}
	memcpy(c->c.name, key, sizeof(key));
	if (hm_insert(m, &c->node) < 0) {
		free(c);
		a->oom = 1;
		return NULL;
	}
	return c;
}

static void
bump(struct ragg *a, struct hmap *m, const char *name)
{
	struct count *c = count_of(a, m, name);
	if (c != NULL)
		c->c.n++;
}

static struct test *
test_of(struct ragg *a, const char *name)
{
	char key[sizeof(((struct rtest *)0)->name)];
	struct hm_node *n;
	struct test *t;

	copy(key, sizeof(key), name);
	if ((n = hm_find(&a->tests, key)) != NULL)
		return HM_ENTRY(n, struct test, node);
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		a->oom = 1;
		return NULL;
	}
	memcpy(t->t.name, key, sizeof(key));
	if (hm_insert(&a->tests, &t->node) < 0) {
		free(t);
		a->oom = 1;
		return NULL;
	}
	return t;
}

/* the local date and hour of t (cached per hour) */
static void
when(struct ragg *a, time_t t)
{
	struct tm tm;

	if (a->hour0 != -1 && t >= a->hour0 && t - a->hour0 < 3600)
		return;
	if (localtime_r(&t, &tm) == NULL) {
		a->hour0 = -1;
		a->y = 1970, a->m = 1, a->d = 1, a->h = 0;
		return;
	}
	a->hour0 = t - tm.tm_min * 60 - (tm.tm_sec > 59 ? 59 : tm.tm_sec);
	a->y = tm.tm_year + 1900;
	a->m = tm.tm_mon + 1;
	a->d = tm.tm_mday;
	a->h = tm.tm_hour;
}

static struct rday *
day_of(struct ragg *a)
{
	int key = a->y * 10000 + a->m * 100 + a->d;
	struct hm_node *n;
	struct day *d;

	if ((n = hm_find(&a->days, &key)) != NULL)
		return &HM_ENTRY(n, struct day, node)->d;
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		a->oom = 1;
		return NULL;
	}
	d->key = key;
	d->d.y = a->y;
	d->d.m = a->m;
	d->d.d = a->d;
	if (hm_insert(&a->days, &d->node) < 0) {
		free(d);
		a->oom = 1;
		return NULL;
	}
	return &d->d;
}

/* the address in "[addr]", "name[addr]:port": into buf, or NULL */
static const char *
address(const char *client, char *buf, size_t len)
{
	const char *rb, *lb;
	size_t n;

	if (client == NULL || (rb = strrchr(client, ']')) == NULL)
		return NULL;
	for (lb = rb; lb > client && lb[-1] != '['; lb--)
		;
	if (lb == client || (n = (size_t)(rb - lb)) == 0 || n >= len)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = lb[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
		    c == '.' || c == ':'))
			return NULL;
	}
	memcpy(buf, lb, n);
	buf[n] = '\0';
	return buf;
}

static struct client *
client_of(struct ragg *a, const char *client)
{
	char key[sizeof(((struct roffender *)0)->addr)];
	struct hm_node *n;
	struct client *c;

	if (address(client, key, sizeof(key)) == NULL)
		return NULL;
	if ((n = hm_find(&a->clients, key)) != NULL)
		return HM_ENTRY(n, struct client, node);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		a->oom = 1;
		return NULL;
	}
	memcpy(c->o.addr, key, sizeof(key));
	c->o.first = c->o.last = c->at = c->country_at = -1;
	c->o.cls = RC_ERROR;
	if (hm_insert(&a->clients, &c->node) < 0) {
		free(c);
		a->oom = 1;
		return NULL;
	}
	return c;
}

/* a line that shows the client as an offender (cls < RC_CLEAN), or one of
 * its rejects (cls -1) */
static void
seen(struct client *c, time_t t, int cls, const char *evidence)
{
	if (c->o.first == -1 || t < c->o.first)
		c->o.first = t;
	if (c->o.last == -1 || t > c->o.last)
		c->o.last = t;
	if (cls < 0 || cls >= RC_CLEAN)
		return;
	c->offender = 1;
	if (c->at == -1 || t >= c->at) {
		/* class and evidence go together: a line of another class
		 * without evidence leaves none; one of the same class keeps
		 * what an earlier line said */
		if (evidence != NULL || (c->at != -1 && c->o.cls != (enum rclass)cls))
			copy(c->o.evidence, sizeof(c->o.evidence), evidence != NULL ? evidence : "");
		c->at = t;
		c->o.cls = (enum rclass)cls;
	}
}

/* "0.412s": seconds, or -1 */
static double
seconds(const char *s)
{
	char *end;
	double v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	v = strtod(s, &end);
	if (end == s || (*end != '\0' && strcmp(end, "s") != 0) || !isfinite(v) || v < 0 || v > 1e7)
		return -1;
	return v;
}

/* ---- the lines ------------------------------------------------------------- */

static int
verdict_line(struct ragg *a, const struct rline *l, time_t t, const char *client)
{
	const char *fin = rlog_get(l, "final"), *cc = rlog_get(l, "country");
	const char *ev = rlog_get(l, "evidence");
	int cls;
	double el;
	struct client *c;

	if (fin != NULL && strcmp(fin, "no") == 0) {
		a->r.provisional++;
		return 0;
	}
	if ((cls = lookup(class_names, RC_N, rlog_get(l, "verdict"))) < 0)
		return -1;
	if (rlog_get(l, "quarantined") != NULL)
		cls = RC_ERROR;
	a->r.verdicts[cls]++;
	if ((el = seconds(rlog_get(l, "elapsed"))) >= 0) {
		a->r.verdict_elapsed[cls] += el;
		a->r.verdict_timed[cls]++;
	}
	if (cc != NULL && cc[0] != '\0')
		bump(a, &a->countries, cc);
	if (cls <= RC_LISTED) {
		struct rday *d = day_of(a);
		if (d != NULL)
			d->detections++;
	}
	if (cls < RC_CLEAN && (c = client_of(a, client)) != NULL) {
		c->o.verdicts++;
		seen(c, t, cls, ev != NULL ? ev : rlog_get(l, "findings"));
		if (cc != NULL && cc[0] != '\0' && (c->country_at == -1 || t >= c->country_at)) {
			c->country_at = t;
			copy(c->o.country, sizeof(c->o.country), cc);
		}
	}
	return 0;
}

static int
action_line(struct ragg *a, const struct rline *l, int act, time_t t, const char *client)
{
	int st = RS_EOM, cls = lookup(class_names, RC_N, rlog_get(l, "verdict"));
	const char *s = rlog_get(l, "stage");
	struct client *c = NULL;

	if (act != RA_TAG && (st = lookup(stage_names, RS_N, s)) < 0)
		return -1;
	a->r.actions[act][st]++;
	if (act == RA_REJECT) {
		struct rday *d = day_of(a);
		if (d != NULL)
			d->rejects++;
		if ((c = client_of(a, client)) != NULL)
			c->o.rejects++;
	}
	if (cls >= 0 && cls < RC_CLEAN && c == NULL)
		c = client_of(a, client);
	if (c != NULL)
		seen(c, t, cls, rlog_get(l, "evidence"));
	return 0;
}

void
ragg_line(struct ragg *a, const struct rline *l)
{
	const char *ev = l->event, *client, *v;
	time_t t = l->t;
	int bad = 0, act;

	a->r.lines++;
	a->r.ours++;
	if (t == -1 || ev == NULL) {
		a->r.bad++;
		return;
	}
	if ((a->r.since != -1 && t < a->r.since) || (a->r.until != -1 && t >= a->r.until)) {
		a->r.outside++;
		return;
	}
	client = rlog_get(l, "client");
	if (a->filter != NULL && (client == NULL || strstr(client, a->filter) == NULL)) {
		a->r.filtered++;
		return;
	}
	when(a, t);
	if (strcmp(ev, "probe") == 0) {
		struct test *x;
		double el;
		if ((v = rlog_get(l, "test")) == NULL || (x = test_of(a, v)) == NULL)
			goto counted;
		x->t.run++;
		v = rlog_get(l, "result");
		if (v != NULL && strcmp(v, "open") == 0)
			x->t.open++;
		else if (v != NULL && strcmp(v, "closed") == 0)
			x->t.closed++;
		else
			x->t.inconclusive++;
		if ((el = seconds(rlog_get(l, "elapsed"))) >= 0)
			x->t.elapsed += el;
	} else if (strcmp(ev, "verdict") == 0) {
		bad = verdict_line(a, l, t, client) < 0;
	} else if (strcmp(ev, "connect") == 0) {
		struct rday *d = day_of(a);
		a->r.connections++;
		a->r.hours[a->h]++;
		if (d != NULL)
			d->connections++;
	} else if (strcmp(ev, "probe-start") == 0) {
		struct rday *d = day_of(a);
		a->r.probed++;
		if (d != NULL)
			d->probed++;
	} else if (strcmp(ev, "cache") == 0) {
		v = rlog_get(l, "hit");
		if (v != NULL && strcmp(v, "yes") == 0) {
			int cls = lookup(class_names, RC_N, rlog_get(l, "verdict"));
			struct client *c;
			a->r.cache_hits++;
			if (cls >= 0 && cls < RC_CLEAN && (c = client_of(a, client)) != NULL)
				seen(c, t, cls, rlog_get(l, "evidence"));
		} else if (v != NULL && strcmp(v, "inflight") == 0)
			a->r.joined++;
	} else if (strcmp(ev, "skip") == 0) {
		v = rlog_get(l, "reason");
		a->r.skipped++;
		if (v != NULL && strcmp(v, "rate-limit") == 0)
			a->r.rate_limited++;
		bump(a, &a->skips, v != NULL && v[0] != '\0' ? v : "unknown");
	} else if ((act = lookup(action_names, RA_N, ev)) >= 0) {
		bad = action_line(a, l, act, t, client) < 0;
	}
counted:
	if (bad) {
		a->r.bad++;
		return;
	}
	if (a->r.first == -1 || t < a->r.first)
		a->r.first = t;
	if (a->r.last == -1 || t > a->r.last)
		a->r.last = t;
}

void
ragg_other(struct ragg *a, int bad)
{
	a->r.lines++;
	if (bad) {
		a->r.ours++;
		a->r.bad++;
	}
}

/* ---- the report ------------------------------------------------------------- */

static int
by_test(const void *x, const void *y)
{
	const struct rtest *a = x, *b = y;
	if (a->run != b->run)
		return a->run > b->run ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int
by_offender(const void *x, const void *y)
{
	const struct roffender *a = x, *b = y;
	if (a->rejects != b->rejects)
		return a->rejects > b->rejects ? -1 : 1;
	if (a->verdicts != b->verdicts)
		return a->verdicts > b->verdicts ? -1 : 1;
	return strcmp(a->addr, b->addr);
}

static int
by_day(const void *x, const void *y)
{
	const struct rday *a = x, *b = y;
	long ka = (long)a->y * 10000 + a->m * 100 + a->d, kb = (long)b->y * 10000 + b->m * 100 + b->d;
	return ka < kb ? -1 : ka > kb;
}

static int
by_count(const void *x, const void *y)
{
	const struct rcount *a = x, *b = y;
	if (a->n != b->n)
		return a->n > b->n ? -1 : 1;
	return strcmp(a->name, b->name);
}

static void *
array(size_t n, size_t size)
{
	return calloc(n > 0 ? n : 1, size);
}

static void
drop_arrays(struct report *r)
{
	free(r->days);
	free(r->tests);
	free(r->offenders);
	free(r->skips);
	free(r->countries);
	r->days = NULL, r->tests = NULL, r->offenders = NULL, r->skips = NULL, r->countries = NULL;
	r->ndays = r->ntests = r->noffenders = r->nskips = r->ncountries = 0;
}

static struct rcount *
counts(const struct hmap *m, size_t *n)
{
	struct rcount *v = array(m->n, sizeof(*v));
	size_t k = 0;

	if (v == NULL)
		return NULL;
	for (struct hm_node *x = hm_next(m, NULL); x != NULL; x = hm_next(m, x))
		v[k++] = HM_ENTRY(x, struct count, node)->c;
	qsort(v, k, sizeof(*v), by_count);
	*n = k;
	return v;
}

const struct report *
ragg_finish(struct ragg *a)
{
	struct report *r = &a->r;
	struct hm_node *x;
	size_t k;

	drop_arrays(r);
	if (a->oom) {
		errno = ENOMEM;
		return NULL;
	}
	if ((r->days = array(a->days.n, sizeof(*r->days))) == NULL ||
	    (r->tests = array(a->tests.n, sizeof(*r->tests))) == NULL ||
	    (r->offenders = array(a->clients.n, sizeof(*r->offenders))) == NULL ||
	    (r->skips = counts(&a->skips, &r->nskips)) == NULL ||
	    (r->countries = counts(&a->countries, &r->ncountries)) == NULL) {
		drop_arrays(r);
		errno = ENOMEM;
		return NULL;
	}
	for (k = 0, x = hm_next(&a->days, NULL); x != NULL; x = hm_next(&a->days, x))
		r->days[k++] = HM_ENTRY(x, struct day, node)->d;
	r->ndays = k;
	qsort(r->days, r->ndays, sizeof(*r->days), by_day);
	for (k = 0, x = hm_next(&a->tests, NULL); x != NULL; x = hm_next(&a->tests, x))
		r->tests[k++] = HM_ENTRY(x, struct test, node)->t;
	r->ntests = k;
	qsort(r->tests, r->ntests, sizeof(*r->tests), by_test);
	for (k = 0, x = hm_next(&a->clients, NULL); x != NULL; x = hm_next(&a->clients, x)) {
		struct client *c = HM_ENTRY(x, struct client, node);
		if (c->offender)
			r->offenders[k++] = c->o;
	}
	r->noffenders = k;
	qsort(r->offenders, r->noffenders, sizeof(*r->offenders), by_offender);
	return r;
}

static void
empty(struct hmap *m, size_t off)
{
	struct hm_node *x = hm_next(m, NULL), *nx;

	while (x != NULL) {
		nx = hm_next(m, x);
		free((char *)x - off);
		x = nx;
	}
	hm_destroy(m);
}

void
ragg_free(struct ragg *a)
{
	if (a == NULL)
		return;
	drop_arrays(&a->r);
	empty(&a->clients, offsetof(struct client, node));
	empty(&a->tests, offsetof(struct test, node));
	empty(&a->days, offsetof(struct day, node));
	empty(&a->skips, offsetof(struct count, node));
	empty(&a->countries, offsetof(struct count, node));
	free(a->filter);
	free(a);
}

long
report_action_total(const struct report *r, int a)
{
	long n = 0;

	for (int s = 0; s < RS_N; s++)
		n += r->actions[a][s];
	return n;
}
