/*
 * guard.h - the self-test and the uniformity guard (guard.c).
 */
#ifndef PM_GUARD_H
#define PM_GUARD_H

#include "pmconfig.h"

/* the self-test's probe request (preq.selftest), on the engine thread */
struct preq;
void guard_selftest_result(struct preq *, const struct pe_result *);
void guard_selftest_done(struct preq *, const struct pe_summary *);

/* on_fail = stop: the self-test at start, waited for: 1 says exit */
int guard_selftest_start(struct pm_config *);
/* the self-tests in a thread: the first at once (observe), then every
 * selftest.interval */
int guard_start(const struct pm_config *);
/* a self-test alarm with on_fail = observe is in force: act on nothing */
int guard_observing(void);
/* a self-test alarm with on_fail = stop happened */
int guard_failed(void);

/* engine thread: 1 when the verdict (class st) rests on an egress or a
 * greeting host seen for too many networks (its key, "egress 203.0.113.9") */
int guard_uniformity(const struct pm_config *, const struct pm_addr *client,
    const struct pe_summary *, enum vt_state st, char *key, size_t keylen);

#endif
