/*
 * promtext.h - the pieces of a Prometheus text exposition (format 0.0.4)
 * that metrics.c builds a scrape from: a bounded set of label values, a
 * histogram with fixed buckets, and the text itself.
 *
 * Decisions:
 * - Label values that come from elsewhere (a check's name) go through a
 *   pt_names set: at most PT_NAMES_MAX - 1 of them, each printable ASCII
 *   and shorter than PT_NAME_LEN; anything else is counted as "other".  A
 *   long name is not cut (two names would then share a series).  So the
 *   number of series of a family is fixed at build time whatever is fed.
 * - Counting (pt_names_index, pt_hist_add) may run on any thread: values
 *   are added under a mutex and published with a release store, bucket
 *   counts are atomics; readers never wait for a writer's lock.
 * - The text has a size cap: a scrape that would pass it is refused
 *   (pt.full), never sent cut short, since a cut scrape parses as valid
 *   and lies.
 */
#ifndef PM_PROMTEXT_H
#define PM_PROMTEXT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define PT_NAMES_MAX 32			/* label values of a set, "other" included */
#define PT_NAME_LEN 32			/* bytes of one value, NUL included */
#define PT_OTHER (PT_NAMES_MAX - 1)	/* the index of "other" */

struct pt_names {
	pthread_mutex_t mu;		/* adding only */
	size_t n;			/* values published (atomic) */
	char v[PT_NAMES_MAX - 1][PT_NAME_LEN];
};

void pt_names_init(struct pt_names *);
/* name's index, added when new and there is room; PT_OTHER for a name
 * that does not fit (no room, too long, empty, not printable ASCII) */
size_t pt_names_index(struct pt_names *, const char *name);
size_t pt_names_count(struct pt_names *);
/* value i < pt_names_count(); "other" for PT_OTHER */
const char *pt_names_at(struct pt_names *, size_t i);

#define PT_BUCKETS_MAX 16

struct pt_hist {
	size_t n;			/* finite upper bounds */
	double le[PT_BUCKETS_MAX];	/* ascending, seconds */
	uint64_t b[PT_BUCKETS_MAX + 1];	/* per bucket (not cumulative); [n]: above le[n-1] */
	uint64_t sum_us;		/* the observations' sum, microseconds */
};

/* 0, or -1 when there are too many bounds or they do not ascend */
int pt_hist_init(struct pt_hist *, const double *le, size_t n);
/* one observation in seconds (negative or NaN counts as 0) */
void pt_hist_add(struct pt_hist *, double seconds);

struct pt {
	char *buf;
	size_t len, cap, max;
	int full;			/* max passed or out of memory: incomplete */
	size_t series;			/* sample lines written */
};

void pt_init(struct pt *, size_t max);
void pt_free(struct pt *);
/* a family's HELP and TYPE lines (the help text is escaped) */
void pt_head(struct pt *, const char *name, const char *type, const char *help);
/* a sample; labels is "" or what pt_labels made */
void pt_u64(struct pt *, const char *name, const char *labels, uint64_t v);
void pt_dbl(struct pt *, const char *name, const char *labels, double v);
/* a histogram family: HELP, TYPE, cumulative buckets, _sum and _count
 * (which is the +Inf bucket: the two always agree) */
void pt_histogram(struct pt *, const char *name, const char *help, struct pt_hist *);

/* "{k1=\"v1\",k2=\"v2\"}" from key, value pairs ended by a NULL key, each
 * value escaped (\\, \", \n; other bytes outside printable ASCII become
 * '?'); 0, or -1 when it does not fit in len (dst is then "") */
int pt_labels(char *dst, size_t len, ...);

#endif
