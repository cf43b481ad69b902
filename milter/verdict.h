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

struct vt_stats {
	size_t entries, pending;
	uint64_t hits, misses, inflight_joins, evicted, expired;
};
void vt_stats(struct vt *, struct vt_stats *);

double vt_now(void);	/* CLOCK_MONOTONIC seconds */
const char *vt_state_name(enum vt_state);

#endif
