/*
 * metrics.h - Prometheus text exposition at /metrics (evhttp, on the side
 * loop): the counters of milter.h, the table's and the engine's gauges,
 * and what this module counts itself (tests by protocol, actions by
 * stage, the connect-to-verdict histogram).
 */
#ifndef PM_METRICS_H
#define PM_METRICS_H

#include "pmconfig.h"

struct event_base;

/* listen on metrics.listen (nothing when ""); 0, or -1 and err */
int metrics_start(struct event_base *, const struct pm_config *, char *err, size_t errlen);

/* what the policy did (enforce.c, callbacks.c at EOM) */
enum metrics_act {
	MA_REJECT = 0, MA_TEMPFAIL, MA_TAG, MA_WOULD_REJECT, MA_WOULD_TEMPFAIL, MA_WOULD_TAG,
	MA_N
};

/* counters for any thread (atomics); they count whether or not a
 * listener runs, so a scrape agrees with the stats line */
void metrics_test(const char *proto, const char *result);	/* one test result */
void metrics_action(enum pm_stage, enum metrics_act);
void metrics_verdict_time(double seconds);	/* connect to final verdict */

#endif
