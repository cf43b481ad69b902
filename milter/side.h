/*
 * side.h - the milter's second event loop, in a thread of its own, for
 * what talks to the network besides the probes: Redis (fleet.c) and the
 * metrics listener (metrics.c).  Nothing on it blocks for long; what may
 * (writing a snapshot of the table) has a thread of its own (persist.c).
 */
#ifndef PM_SIDE_H
#define PM_SIDE_H

struct event_base;

/* the loop, made at the first call (NULL: out of memory) */
struct event_base *side_base(void);
/* run fn(arg) on the loop, from any thread; -1 when it cannot be queued */
int side_call(void (*fn)(void *), void *arg);
int side_start(void);		/* the thread; -1 and errno */
void side_stop(void);		/* ends the loop and joins the thread */

#endif
