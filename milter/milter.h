/*
 * milter.h - what the daemon's modules share: the verdict table, the probe
 * engine, counters.
 */
#ifndef PM_MILTER_H
#define PM_MILTER_H

#include <stdint.h>
#include <libmilter/mfapi.h>
#include "../probes/probes.h"
#include "verdict.h"
#include "ratelimit.h"
#include "hist.h"
#include "log.h"

/* every field is read and written with atomics only */
struct pm_counters {
	uint64_t connections, probed, cache_hits, joined, skipped, rate_limited;
	uint64_t v_open, v_relay, v_listed, v_suspect, v_clean, v_error, provisional;
	uint64_t rejected, tempfailed, tagged, would;
};

struct pm_global {
	struct vt *vt;
	struct pe_engine *engine;
	struct rl *rl;
	char hostname[256];
	struct pm_counters c;	/* updated with atomics */
	struct hist connect_us;	/* time spent in the connect callback */
	int64_t emfile_at;	/* when a probe last found no descriptor (monotonic s, atomic) */
};

extern struct pm_global pm;
extern struct smfiDesc pm_desc;

#define PM_COUNT(field) __atomic_add_fetch(&pm.c.field, 1, __ATOMIC_RELAXED)

/* what the engine carries for us, one per probe request */
struct pm_config;
struct preq {
	struct pm_config *cf;
	char sess[9];
	struct pm_addr a;
	char addr[64];
	int reported;			/* a provisional verdict was written */
	double t_connect;		/* when the client that claimed it connected */
	struct pe_timing tm;		/* what pm_submit hands to the engine */
	struct sockaddr_storage ss;
	socklen_t sl;
	int selftest;			/* the self-test's (guard.c), not a client's */
	unsigned gen;			/* ... which one */
};

/* hand q to the engine (it is freed when its verdict is in), or drop it
 * unprobed: a verdict came from elsewhere (callbacks.c) */
void pm_submit(struct preq *q);
void pm_unsubmit(struct preq *q);

/* the stats line's fields, for the log and for proxymilter-ctl stats */
void pm_stats_line(struct lb *);

/* engine callbacks (engine thread; results.c) */
void pm_probe_result(const struct pe_result *, void *arg);
void pm_probe_done(const struct pe_summary *, void *arg);
void pm_log_stats(void);

#endif
