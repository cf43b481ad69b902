/*
 * vrec.h - a verdict as one line of text, the form it has outside the
 * process: a Redis value, a published message, a line of the state file.
 *
 *   pm1 ADDR STATE SCORE SET_AT EXPIRES EGRESS EVIDENCE...
 *   pm1 ADDR flush            (published: drop ADDR's verdict; ADDR "all": every one)
 *
 * STATE is a verdict class as the logs name it (open-proxy, open-relay,
 * listed, suspect, clean, error); SET_AT and EXPIRES are Unix seconds (the
 * hosts' clocks, not their monotonic ones); EGRESS is an address or "-";
 * EVIDENCE is the rest of the line, printable, possibly empty.  Anything
 * else - another version, a field out of range, a control byte, too long
 * - is refused with a reason: the bytes come from a network service that
 * other programs may write to, or from a file on disk.
 */
#ifndef PM_VREC_H
#define PM_VREC_H

#include <stddef.h>
#include <stdint.h>
#include "verdict.h"

#define VREC_MAGIC "pm1"
#define VREC_MAX 400		/* longest line, without a newline */

struct vrec {
	struct pm_addr a;
	int all;			/* a flush of every verdict (a is unset) */
	int flush;			/* a flush message: the fields below are unset */
	enum vt_state state;
	int score;
	int64_t set_at, expires;	/* Unix seconds */
	char egress[VT_EGRESS_MAX];	/* "" = none */
	char evidence[VT_EVIDENCE_MAX];
};

/* the line, NUL-terminated, no newline; its length (< VREC_MAX) */
size_t vrec_format(const struct vrec *, char *buf, size_t len);
/* len bytes (a trailing "\n" or "\r\n" is allowed); 0, or -1 and why */
int vrec_parse(const char *s, size_t len, struct vrec *out, const char **why);

/* between the table's monotonic times and Unix ones */
void vrec_from_entry(const struct vt_entry *, double now, int64_t unix_now, struct vrec *);
/* into the table (vt_put); 0 when expired, older, or not wanted */
int vrec_apply(struct vt *, const struct vrec *, enum vt_put, double now, int64_t unix_now);

/* is a class one that travels (a proof or a listing, or clean)?  error and
 * pending are this host's own business */
int vrec_shared_state(enum vt_state);

#endif
