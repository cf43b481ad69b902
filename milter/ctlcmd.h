/*
 * ctlcmd.h - the control socket's language (proxymilter-ctl <-> the
 * milter), pure: no I/O, shared by the server (control.c) and the client
 * (tools/ctl.c), so that both refuse the same input with the same words.
 *
 * A request is one line of at most CTL_LINE_MAX bytes, newline included:
 *
 *   show            every verdict
 *   show ADDR       one address ("[ADDR]" too)
 *   flush ADDR      drop one verdict
 *   flush all       drop every verdict
 *   stats           the stats line
 *
 * The answer is key=value lines, the last one "ok" or "error: REASON".
 */
#ifndef PM_CTLCMD_H
#define PM_CTLCMD_H

#include <stddef.h>
#include "cidr.h"
#include "verdict.h"

#define CTL_LINE_MAX 512	/* a request, its newline included */
#define CTL_ANSWER_MAX 1024	/* one line of a show answer, newline included */
#define CTL_TIMEOUT 5		/* seconds for a request; a stalled answer */
#define CTL_USAGE "show [ADDR] | flush ADDR|all | stats"

enum ctl_op { CTL_SHOW_ALL = 1, CTL_SHOW, CTL_FLUSH, CTL_FLUSH_ALL, CTL_STATS };

struct ctl_cmd {
	enum ctl_op op;
	struct pm_addr a;		/* CTL_SHOW, CTL_FLUSH */
};

/*
 * len bytes of one request; one trailing "\n" or "\r\n" is allowed, and
 * spaces and tabs around the words.  0, or -1 with a reason in why ("empty
 * command", "unknown command \"frob\" (...)", "\"1.2.3.999\" is not an
 * address", ...): what the client is told after "error: ".
 */
int ctl_parse(const char *line, size_t len, struct ctl_cmd *out, char *why, size_t whylen);

/* the canonical request for a parsed one ("flush 192.0.2.1"), no newline */
size_t ctl_format(const struct ctl_cmd *, char *buf, size_t len);

/*
 * One line of a show answer, no newline (ctlshow.c: the client does not
 * link it):
 *   client=[ADDR] verdict=CLASS score=N age=Ns ttl=Ns egress=E evidence=V
 * (egress and evidence only when not empty, values escaped as in the
 * logs); for VT_NONE and VT_PENDING "client=[ADDR] verdict=none|pending".
 * now: the monotonic seconds v.expires was read with.  Its length.
 */
size_t ctl_show_line(const struct pm_addr *, const struct vt_info *v, double now,
    char *buf, size_t len);

#endif
