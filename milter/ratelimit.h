/*
 * ratelimit.h - new probe sets per network (/24 for IPv4, /64 for IPv6),
 * a token bucket per network: a good citizen does not turn a burst of
 * connections from one network into a port scan of it.
 */
#ifndef PM_RATELIMIT_H
#define PM_RATELIMIT_H

#include <stddef.h>
#include "cidr.h"

struct rl;

/* per_minute tokens per network, at most max_nets networks remembered */
struct rl *rl_new(size_t max_nets);
void rl_free(struct rl *);
/* take one token for addr's network at time now (seconds); 1 = allowed.
 * per_minute 0 = no limit */
int rl_take(struct rl *, const struct pm_addr *, double now, int per_minute);
size_t rl_size(struct rl *);

#endif
