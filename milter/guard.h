/*
 * guard.h - the self-test and the uniformity guard (guard.c).
 */
#ifndef PM_GUARD_H
#define PM_GUARD_H

#include "pmconfig.h"

/* the arg of the self-test's probe request (results.c tells it so) */
extern int guard_selftest_tag;
void guard_selftest_result(const struct pe_result *);
void guard_selftest_done(const struct pe_summary *);

/* the self-test at start, waited for: 1 when on_fail = stop says exit */
int guard_selftest_start(const struct pm_config *);
/* the later self-tests, every selftest.interval: a thread */
int guard_start(void);
/* a self-test alarm with on_fail = observe is in force: act on nothing */
int guard_observing(void);
/* a self-test alarm with on_fail = stop happened */
int guard_failed(void);

/* engine thread: 1 when the verdict rests on an egress or greeting host
 * seen for too many networks (its key, e.g. "egress 203.0.113.9") */
int guard_uniformity(const struct pm_config *, const struct pm_addr *client,
    const struct pe_summary *, char *key, size_t keylen);

#endif
