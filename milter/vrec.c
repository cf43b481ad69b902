/*
 * vrec.c - a verdict as one line of text (see vrec.h).
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "vrec.h"

static const enum vt_state classes[] = {
	VT_OPEN, VT_RELAY, VT_LISTED, VT_SUSPECT, VT_CLEAN, VT_ERROR
};

int
vrec_shared_state(enum vt_state st)
{
	return st == VT_OPEN || st == VT_RELAY || st == VT_LISTED || st == VT_SUSPECT ||
	    st == VT_CLEAN;
}

size_t
vrec_format(const struct vrec *r, char *buf, size_t len)
{
	char addr[64];
	int n;

	if (r->all)
		snprintf(addr, sizeof(addr), "all");
	else
		pm_addr_str(&r->a, addr, sizeof(addr));
	if (r->flush)
		n = snprintf(buf, len, VREC_MAGIC " %s flush", addr);
	else
		n = snprintf(buf, len, VREC_MAGIC " %s %s %d %lld %lld %s %s", addr,
		    vt_state_name(r->state), r->score, (long long)r->set_at,
		    (long long)r->expires, r->egress[0] != '\0' ? r->egress : "-", r->evidence);
	if (n < 0)
		n = 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

/* the next space-separated field of [*p, end): NUL-terminated copy in f */
static int
field(const char **p, const char *end, char *f, size_t flen)
{
	size_t n = 0;

	while (*p < end && **p != ' ') {
		if (n + 1 >= flen)
			return -1;
		f[n++] = *(*p)++;
	}
	f[n] = '\0';
	if (*p < end)
		(*p)++;		/* the one space */
	return n > 0 ? 0 : -1;
}

static int
number(const char *f, long long lo, long long hi, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(f, &end, 10);
	return errno == 0 && *end == '\0' && (f[0] == '-' || (f[0] >= '0' && f[0] <= '9')) &&
	    *out >= lo && *out <= hi ? 0 : -1;
}

#define FAIL(w) do { *why = (w); return -1; } while (0)

int
vrec_parse(const char *s, size_t len, struct vrec *r, const char **why)
{
	const char *p = s, *end;
	char f[VT_EGRESS_MAX + 8];
	long long n;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (len > 0 && s[len - 1] == '\n') {
		len--;
		if (len > 0 && s[len - 1] == '\r')
			len--;
	}
	end = s + len;
	if (len >= VREC_MAX)
		FAIL("too long");
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			FAIL("a control byte");
	if (field(&p, end, f, sizeof(f)) < 0 || strcmp(f, VREC_MAGIC) != 0)
		FAIL("not a proxymilter verdict (or another version)");
	if (field(&p, end, f, sizeof(f)) < 0)
		FAIL("no address");
	if (strcmp(f, "all") == 0)
		r->all = 1;
	else if (pm_addr_parse(f, &r->a) < 0)
		FAIL("bad address");
	if (field(&p, end, f, sizeof(f)) < 0)
		FAIL("no class");
	if (strcmp(f, "flush") == 0) {
		if (p != end)
			FAIL("text after flush");
		r->flush = 1;
		return 0;
	}
	if (r->all)
		FAIL("\"all\" with a verdict");
	r->state = VT_NONE;
	for (i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (strcmp(f, vt_state_name(classes[i])) == 0)
			r->state = classes[i];
	if (r->state == VT_NONE)
		FAIL("unknown class");
	if (field(&p, end, f, sizeof(f)) < 0 || number(f, -100000, 100000, &n) < 0)
		FAIL("bad score");
	r->score = (int)n;
	if (field(&p, end, f, sizeof(f)) < 0 || number(f, 0, (1LL << 40), &n) < 0)
		FAIL("bad set time");
	r->set_at = n;
	if (field(&p, end, f, sizeof(f)) < 0 || number(f, 0, (1LL << 40), &n) < 0 ||
	    n < r->set_at)
		FAIL("bad expiry");
	r->expires = n;
	if (field(&p, end, f, sizeof(f)) < 0)
		FAIL("no egress");
	if (strcmp(f, "-") != 0) {
		if (strlen(f) >= VT_EGRESS_MAX)
			FAIL("egress too long");
		snprintf(r->egress, sizeof(r->egress), "%s", f);
	}
	if ((size_t)(end - p) >= VT_EVIDENCE_MAX)
		FAIL("evidence too long");
	memcpy(r->evidence, p, (size_t)(end - p));
	r->evidence[end - p] = '\0';
	return 0;
}

void
vrec_from_entry(const struct vt_entry *e, double now, int64_t unix_now, struct vrec *r)
{
	memset(r, 0, sizeof(*r));
	r->a = e->a;
	r->state = e->v.state;
	r->score = e->v.score;
	r->set_at = unix_now - (int64_t)(e->v.age + 0.5);
	/* rounded up: a verdict that has a second left is not expired */
	r->expires = unix_now + (int64_t)(e->v.expires - now + 0.999);
	snprintf(r->egress, sizeof(r->egress), "%s", e->v.egress);
	snprintf(r->evidence, sizeof(r->evidence), "%s", e->v.evidence);
}

int
vrec_apply(struct vt *t, const struct vrec *r, enum vt_put how, double now, int64_t unix_now)
{
	/* a clock ahead of ours does not make a verdict newer than now */
	int64_t set_at = r->set_at < unix_now ? r->set_at : unix_now;

	if (r->flush || r->expires <= unix_now)
		return 0;
	return vt_put(t, &r->a, r->state, r->score, r->evidence, r->egress,
	    now - (double)(unix_now - set_at), now + (double)(r->expires - unix_now), how, now);
}
