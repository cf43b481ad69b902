/*
 * export.h - the proven verdicts as an rbldnsd data file (export.c), so
 * that postscreen, or any MTA, can use them as a DNSBL:
 *
 *   rbldnsd -b ADDR/PORT ZONE:combined:FILE
 *   postscreen_dnsbl_sites = ZONE=127.0.0.[2..4]
 *
 * 127.0.0.2 open-proxy, 127.0.0.3 open-relay, 127.0.0.4 listed; the TXT
 * is "CLASS EVIDENCE".  Other classes are not exported.
 */
#ifndef PM_EXPORT_H
#define PM_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "verdict.h"

#define EXPORT_TTL_MIN 60
#define EXPORT_TXT_MAX 250	/* one DNS character-string is 255 at most */

struct export_counts {
	size_t v4, v6;			/* lines written */
	uint64_t bytes;
	double elapsed;			/* seconds */
};

/* the A value of a class ("127.0.0.2"), or NULL: not exported */
const char *export_a_value(enum vt_state);
/* "CLASS EVIDENCE" as rbldnsd takes it: printable ASCII, no '$' (its
 * substitution character), no trailing spaces, at most EXPORT_TXT_MAX */
void export_txt(enum vt_state, const char *evidence, char *out, size_t len);

/*
 * Write the data file, atomically (state_replace; mode 0644: rbldnsd runs
 * as a user of its own); ttl is the $TTL, at least EXPORT_TTL_MIN; host
 * names the writer in the comment.  0, or -1 with err (the old file kept).
 */
int export_rbldnsd(struct vt *, const char *path, long ttl, const char *host, char *err,
    size_t errlen, struct export_counts *);
/* the same content on a stream (no atomicity): 0, or -1 on a write error */
int export_write(struct vt *, FILE *, long ttl, const char *host, double now, int64_t unix_now,
    struct export_counts *);

#endif
