/*
 * fleet.h - verdicts shared between MX hosts through Redis (design
 * section 9), on the side loop (side.c).  Keys, under fleet.key_prefix:
 *
 *   v:ADDR   a verdict (vrec.h's line), EXPIRE = its TTL
 *   c:ADDR   a claim: "host:pid", SET NX PX = the pending TTL
 *   verdicts the channel: "host:pid LINE", verdicts and flushes
 *
 * Nothing here waits on Redis in a caller's thread: requests are queued
 * to the side loop, and a claim that Redis does not answer within
 * fleet.timeout is probed locally.  Redis down: the local table serves.
 */
#ifndef PM_FLEET_H
#define PM_FLEET_H

#include <stdint.h>
#include "verdict.h"

struct pm_config;
struct preq;

/* connect (in the background) when fleet.redis is set; 0, or -1 and err */
int fleet_init(const struct pm_config *, char *err, size_t errlen);
int fleet_enabled(void);

/* a claimed address: ask Redis first (its verdict, another host's
 * claim); q is probed (pm_submit) or dropped (pm_unsubmit) later, from
 * the side loop.  Takes q over. */
void fleet_claim(struct preq *q, double pending_ttl, double wait);
/* a final verdict this host made: to Redis and to the peers */
void fleet_share(const struct pm_addr *, const struct vt_info *);
/* a flush (proxymilter-ctl): addr, or every verdict when addr is NULL;
 * 1 sent to Redis and the peers, 0 no fleet, -1 Redis is down */
int fleet_flush(const struct pm_addr *);
/* before the engine stops: claims still waiting end unprobed */
void fleet_stop(void);

struct fleet_stats {
	int up;				/* connected, both connections */
	uint64_t hits;			/* claims answered by a peer's verdict */
	uint64_t learnt;		/* published verdicts kept */
	uint64_t shared;		/* our verdicts written */
	uint64_t errors;		/* error replies, timeouts, lost connections */
	uint64_t bad;			/* values or messages that are not ours */
	uint64_t fallbacks;		/* claims probed without Redis' answer */
};
void fleet_stats(struct fleet_stats *);

#endif
