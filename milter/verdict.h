/*
 * verdict.h - the shared verdict table: client address -> verdict.
 *
 * One entry per address with an expiry (open_ttl, clean_ttl, error_ttl);
 * a pending entry marks a probe set in flight, so a second connection from
 * the same address waits for the first one's result instead of probing
 * again.  Bounded by max_entries: the least recently used verdict goes (the
 * order is kept per stripe of the table, see verdict.c); expired entries
 * also go when they are looked up.  Waiters sleep on a condition variable.
 */
#ifndef PM_VERDICT_H
#define PM_VERDICT_H

#include <stddef.h>
#include <stdint.h>
#include "cidr.h"

enum vt_state {
	VT_NONE = 0, VT_PENDING, VT_OPEN, VT_CLEAN, VT_ERROR,
	VT_RELAY, VT_LISTED, VT_SUSPECT		/* made of findings (probes.h) */
};

#define VT_EVIDENCE_MAX 200	/* "socks5:1080", or the findings */
#define VT_EGRESS_MAX 48

struct vt_info {
	enum vt_state state;
	int score;			/* the findings' weights */
	char evidence[VT_EVIDENCE_MAX];	/* "socks5:1080", "dnsbl=bl.example(3) ..." */
	char egress[VT_EGRESS_MAX];
	double expires;			/* monotonic seconds */
	double age;			/* seconds since the verdict was set */
};

enum vt_claim { VT_HIT = 0, VT_INFLIGHT, VT_CLAIMED };

struct vt;

struct vt *vt_new(size_t max_entries);
void vt_free(struct vt *);
void vt_set_max(struct vt *, size_t max_entries);

/*
 * Look up addr.  HIT: a fresh verdict, copied to *out.  INFLIGHT: a probe
 * set is running.  CLAIMED: nothing fresh was there; a pending entry now is,
 * valid for pending_ttl seconds, and the caller must probe and complete it.
 */
enum vt_claim vt_claim(struct vt *, const struct pm_addr *, double now,
    double pending_ttl, struct vt_info *out);
/* read without claiming; state VT_NONE when absent or expired */
void vt_get(struct vt *, const struct pm_addr *, double now, struct vt_info *out);
/* set the final verdict for addr and wake the waiters */
void vt_complete(struct vt *, const struct pm_addr *, enum vt_state, int score, const char *evidence,
    const char *egress, double now, double ttl);
/* wait until addr is no longer pending or the deadline passes */
void vt_wait(struct vt *, const struct pm_addr *, double deadline, struct vt_info *out);

/*
 * A verdict made elsewhere (a peer's, through Redis; the state file's):
 * set_at and expires are monotonic seconds.  NEWER: set when there is no
 * fresh verdict, or a pending one, or an older one (set earlier); PENDING:
 * only when a pending entry waits for it (a peer's clean verdict is kept
 * only by a host that is waiting for it).  Wakes the waiters.  1 if set.
 */
enum vt_put { VT_PUT_NEWER, VT_PUT_PENDING };
int vt_put(struct vt *, const struct pm_addr *, enum vt_state, int score, const char *evidence,
    const char *egress, double set_at, double expires, enum vt_put how, double now);

/* drop addr's verdict (1) or find none (0); a pending entry stays: its
 * probe set is running and will set the verdict */
int vt_flush(struct vt *, const struct pm_addr *);
size_t vt_flush_all(struct vt *);	/* every verdict; the number dropped */

/*
 * Every fresh verdict (pending entries are not verdicts: left out), a
 * stripe at a time: copied out under the stripe's lock, fn called without
 * it, so fn may take its time (write a file) and may use the table.  fn
 * returns nonzero to stop the walk; vt_walk returns that value, else 0,
 * or -1 when out of memory.  Entries set or dropped during the walk may
 * or may not be seen.
 */
struct vt_entry {
	struct pm_addr a;
	struct vt_info v;		/* v.expires, v.age as vt_get's */
};
int vt_walk(struct vt *, double now, int (*fn)(const struct vt_entry *, void *), void *arg);

struct vt_stats {
	size_t entries, pending;
	uint64_t hits, misses, inflight_joins, evicted, expired;
};
void vt_stats(struct vt *, struct vt_stats *);

double vt_now(void);	/* CLOCK_MONOTONIC seconds */
const char *vt_state_name(enum vt_state);

#endif
