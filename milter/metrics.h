/*
 * metrics.h - Prometheus text exposition at /metrics (evhttp, on the side
 * loop): the counters of milter.h, the table's and the engine's gauges,
 * and what this module counts itself.
 */
#ifndef PM_METRICS_H
#define PM_METRICS_H

struct pm_config;
struct event_base;

/* listen on metrics.listen (nothing when ""); 0, or -1 and err */
int metrics_start(struct event_base *, const struct pm_config *, char *err, size_t errlen);

#endif
