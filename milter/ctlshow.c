/*
 * ctlshow.c - a verdict as a line of proxymilter-ctl's "show" answer (see
 * ctlcmd.h).  Apart from ctlcmd.c so that the client, which only parses,
 * links neither the table nor the logger.
 *
 * Decisions: the values are escaped as log_escape does for the logs
 * (evidence and egress may hold bytes a proxy sent); ages are whole
 * seconds rounded down, TTLs rounded up (a verdict with 0.3 s to live is
 * not "ttl=0s").
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "ctlcmd.h"
#include "log.h"

#define ADDR_TEXT 64		/* an address printed */

/* whole seconds, never negative, never out of a long's range */
static long
whole(double s, double round)
{
	if (!(s > 0))
		return 0;
	if (s > 1e12)
		return (long)1e12;
	return (long)(s + round);
}

/* " key=value" (no space first), the value escaped as in the logs */
static void
put(char *buf, size_t len, size_t *n, const char *key, const char *val)
{
	size_t kl = strlen(key);

	if (*n + kl + 8 > len)
		return;
	if (*n > 0)
		buf[(*n)++] = ' ';
	memcpy(buf + *n, key, kl);
	*n += kl;
	buf[(*n)++] = '=';
	*n += log_escape(buf + *n, len - *n, val);
}

size_t
ctl_show_line(const struct pm_addr *a, const struct vt_info *v, double now, char *buf,
    size_t len)
{
	char addr[ADDR_TEXT], t[ADDR_TEXT + 2], num[32];
	double ttl = v->expires - now;
	size_t n = 0;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	snprintf(t, sizeof(t), "[%s]", pm_addr_str(a, addr, sizeof(addr)));
	put(buf, len, &n, "client", t);
	put(buf, len, &n, "verdict", vt_state_name(v->state));
	if (v->state != VT_NONE && v->state != VT_PENDING) {
		snprintf(num, sizeof(num), "%d", v->score);
		put(buf, len, &n, "score", num);
		snprintf(num, sizeof(num), "%lds", whole(v->age, 0));
		put(buf, len, &n, "age", num);
		snprintf(num, sizeof(num), "%lds", whole(ttl, 0.999));
		put(buf, len, &n, "ttl", num);
		if (v->egress[0] != '\0')
			put(buf, len, &n, "egress", v->egress);
		if (v->evidence[0] != '\0')
			put(buf, len, &n, "evidence", v->evidence);
	}
	buf[n < len ? n : len - 1] = '\0';
	return n < len ? n : len - 1;
}
