/*
 * hist.h - a lock-free latency histogram (microseconds): callbacks record,
 * the stats line reads quantiles.  1 µs buckets below 1 ms, then 64
 * buckets per power of two up to ~1 h; counters are updated with atomics,
 * so a reader sees each bucket whole (a quantile may lag a few samples).
 */
#ifndef PM_HIST_H
#define PM_HIST_H

#include <stdint.h>

#define HIST_LINEAR 1024
#define HIST_SUB 64
#define HIST_OCTAVES 22
#define HIST_N (HIST_LINEAR + HIST_SUB * HIST_OCTAVES)

struct hist {
	uint64_t b[HIST_N];
	uint64_t n, max;
};

void hist_add(struct hist *, uint64_t us);
/* the q-quantile (0 < q <= 1) in µs, as the upper edge of its bucket; 0 when empty */
uint64_t hist_quantile(const struct hist *, double q);
uint64_t hist_count(const struct hist *);
uint64_t hist_max(const struct hist *);

#endif
