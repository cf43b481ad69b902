/*
 * test_fleet.c - what the fleet's pieces share: a verdict as a line of
 * text (vrec.c: round trips, flushes, refusals with a reason) and the
 * table's entry points for verdicts made elsewhere (verdict.c: vt_put,
 * vt_flush, vt_flush_all, vt_walk), and the two together across a
 * restart (vrec_from_entry, then vrec_apply into a new table).
 *
 * Decisions: refusals are checked with their reason's exact text, so a
 * line refused for another reason than the one meant fails; times are
 * fixed numbers except where a thread waits (vt_wait reads the clock).
 */
#include "config.h"
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include "t.h"
#include "verdict.h"
#include "vrec.h"

/* ---- vrec ------------------------------------------------------------------ */

static int
vrec_eq(const struct vrec *a, const struct vrec *b)
{
	return a->a.family == b->a.family &&
	    memcmp(a->a.b, b->a.b, a->a.family == AF_INET ? 4 : 16) == 0 &&
	    a->all == b->all && a->flush == b->flush && a->state == b->state &&
	    a->score == b->score && a->set_at == b->set_at && a->expires == b->expires &&
	    strcmp(a->egress, b->egress) == 0 && strcmp(a->evidence, b->evidence) == 0;
}

static void
mkrec(struct vrec *r, const char *addr, enum vt_state st, int score, int64_t set_at,
    int64_t expires, const char *egress, const char *evidence)
{
	memset(r, 0, sizeof(*r));
	if (pm_addr_parse(addr, &r->a) < 0) {
		fprintf(stderr, "bad test address %s\n", addr);
		exit(2);
	}
	r->state = st;
	r->score = score;
	r->set_at = set_at;
	r->expires = expires;
	snprintf(r->egress, sizeof(r->egress), "%s", egress);
	snprintf(r->evidence, sizeof(r->evidence), "%s", evidence);
}

/* format, compare with the expected line, parse back, compare the records */
static void
round_trip(const struct vrec *r, const char *want, const char *name)
{
	char line[VREC_MAX], tn[160];
	struct vrec back;
	const char *why = NULL;
	size_t n;

	n = vrec_format(r, line, sizeof(line));
	snprintf(tn, sizeof(tn), "%s: formatted", name);
	T_STREQ(line, want, tn);
	snprintf(tn, sizeof(tn), "%s: length returned", name);
	T_OK(n == strlen(want), tn);
	snprintf(tn, sizeof(tn), "%s: parsed back equal", name);
	T_OK(vrec_parse(line, n, &back, &why) == 0 && why == NULL && vrec_eq(r, &back), tn);
}

/* s (len bytes) is refused, for the reason want */
static void
refused_n(const char *s, size_t len, const char *want, const char *name)
{
	struct vrec r;
	const char *why = NULL;
	char tn[160];
	int rc = vrec_parse(s, len, &r, &why);

	snprintf(tn, sizeof(tn), "refused: %s", name);
	T_OK(rc == -1, tn);
	snprintf(tn, sizeof(tn), "refused: %s: why", name);
	T_STREQ(why, want, tn);
}

static void
refused(const char *s, const char *want, const char *name)
{
	refused_n(s, strlen(s), want, name);
}

/* refused, for some reason: a field longer than the parser's buffer is
 * reported as a missing one, which is no contract to hold it to */
static void
refused_any(const char *s, const char *name)
{
	struct vrec r;
	const char *why = NULL;
	char tn[160];

	snprintf(tn, sizeof(tn), "refused: %s", name);
	T_OK(vrec_parse(s, strlen(s), &r, &why) == -1 && why != NULL && why[0] != '\0', tn);
}

static int
parse(const char *s, struct vrec *r, const char **why)
{
	*why = NULL;
	return vrec_parse(s, strlen(s), r, why);
}

static void
test_vrec(void)
{
	struct vrec r, p;
	const char *why;
	char line[VREC_MAX + 8], buf[VREC_MAX + 8];
	char ev[VT_EVIDENCE_MAX];
	static const struct {
		enum vt_state st;
		const char *name;
	} cls[] = {
		{ VT_OPEN, "open-proxy" }, { VT_RELAY, "open-relay" }, { VT_LISTED, "listed" },
		{ VT_SUSPECT, "suspect" }, { VT_CLEAN, "clean" }, { VT_ERROR, "error" },
	};

	/* IPv4 and IPv6, an egress address and "-" */
	mkrec(&r, "192.0.2.7", VT_OPEN, 0, 1700000000, 1700086400, "198.51.100.2",
	    "socks5:1080");
	round_trip(&r, "pm1 192.0.2.7 open-proxy 0 1700000000 1700086400 198.51.100.2 socks5:1080",
	    "v4, egress v4");
	mkrec(&r, "2001:db8::9", VT_OPEN, 0, 1700000000, 1700000001, "2001:db8:1::2",
	    "http-connect:8080");
	round_trip(&r, "pm1 2001:db8::9 open-proxy 0 1700000000 1700000001 2001:db8:1::2 "
	    "http-connect:8080", "v6, egress v6");
	mkrec(&r, "2001:db8::9", VT_CLEAN, 0, 5, 5, "", "");
	round_trip(&r, "pm1 2001:db8::9 clean 0 5 5 - ", "v6, no egress, empty evidence, expires = set_at");

	/* every class, with a score of each sign */
	for (size_t i = 0; i < sizeof(cls) / sizeof(cls[0]); i++) {
		char want[VREC_MAX], tn[64];
		int score = (int)i * 7 - 20;
		mkrec(&r, "203.0.113.200", cls[i].st, score, 1000, 2000, "", "x");
		snprintf(want, sizeof(want), "pm1 203.0.113.200 %s %d 1000 2000 - x", cls[i].name,
		    score);
		snprintf(tn, sizeof(tn), "class %s", cls[i].name);
		round_trip(&r, want, tn);
	}

	/* evidence: spaces (leading, inner, trailing), '"' and '=' */
	mkrec(&r, "192.0.2.1", VT_LISTED, 3, 10, 20, "",
	    "dnsbl=bl.example(3) helo=\"a b\"  x=");
	round_trip(&r, "pm1 192.0.2.1 listed 3 10 20 - dnsbl=bl.example(3) helo=\"a b\"  x=",
	    "evidence with spaces, '\"' and '='");
	mkrec(&r, "192.0.2.1", VT_SUSPECT, -100000, 0, 1099511627776LL, "192.0.2.1",
	    " lead and trail ");
	round_trip(&r, "pm1 192.0.2.1 suspect -100000 0 1099511627776 192.0.2.1  lead and trail ",
	    "evidence with leading and trailing spaces, limits of score and times");
	mkrec(&r, "192.0.2.1", VT_RELAY, 100000, 1, 2, "unknown", "smtp:25");
	round_trip(&r, "pm1 192.0.2.1 open-relay 100000 1 2 unknown smtp:25",
	    "egress that is text");
	/* the longest evidence */
	memset(ev, 'e', VT_EVIDENCE_MAX - 1);
	ev[VT_EVIDENCE_MAX - 1] = '\0';
	mkrec(&r, "192.0.2.1", VT_OPEN, 1, 1, 2, "", ev);
	snprintf(line, sizeof(line), "pm1 192.0.2.1 open-proxy 1 1 2 - %s", ev);
	round_trip(&r, line, "evidence of VT_EVIDENCE_MAX - 1 bytes");

	/* a v4-mapped address is the IPv4 client */
	T_OK(parse("pm1 ::ffff:192.0.2.9 clean 0 1 2 - ", &p, &why) == 0 &&
	    p.a.family == AF_INET && memcmp(p.a.b, "\xc0\x00\x02\x09", 4) == 0,
	    "v4-mapped address parsed as AF_INET");

	/* flushes */
	memset(&r, 0, sizeof(r));
	pm_addr_parse("192.0.2.44", &r.a);
	r.flush = 1;
	round_trip(&r, "pm1 192.0.2.44 flush", "flush of one v4 address");
	memset(&r, 0, sizeof(r));
	pm_addr_parse("2001:db8::44", &r.a);
	r.flush = 1;
	round_trip(&r, "pm1 2001:db8::44 flush", "flush of one v6 address");
	memset(&r, 0, sizeof(r));
	r.all = r.flush = 1;
	round_trip(&r, "pm1 all flush", "flush of all");
	T_OK(parse("pm1 all flush", &p, &why) == 0 && p.all == 1 && p.flush == 1,
	    "\"pm1 all flush\": all and flush set");
	T_OK(parse("pm1 192.0.2.44 flush", &p, &why) == 0 && p.all == 0 &&
	    p.flush == 1 && p.a.family == AF_INET, "\"pm1 ADDR flush\": flush, not all");

	/* line ends */
	T_OK(parse("pm1 192.0.2.1 clean 0 1 2 - ok\n", &p, &why) == 0 &&
	    strcmp(p.evidence, "ok") == 0 && why == NULL, "trailing \\n accepted, not evidence");
	T_OK(parse("pm1 192.0.2.1 clean 0 1 2 - ok\r\n", &p, &why) == 0 &&
	    strcmp(p.evidence, "ok") == 0, "trailing \\r\\n accepted, not evidence");
	T_OK(parse("pm1 all flush\r\n", &p, &why) == 0 && p.all == 1 && p.flush == 1,
	    "flush with \\r\\n accepted");
	T_OK(parse("pm1 192.0.2.1 clean 0 1 2 - \n", &p, &why) == 0 &&
	    p.evidence[0] == '\0', "empty evidence then \\n");
	/* only len bytes are read: what follows is not part of the line */
	T_OK(vrec_parse("pm1 192.0.2.1 clean 0 1 2 - okXYZ", 30, &p, &why) == 0 &&
	    strcmp(p.evidence, "ok") == 0, "only len bytes read");

	/* refusals, each for its reason */
	refused("pm2 192.0.2.1 clean 0 1 2 - ", "not a proxymilter verdict (or another version)",
	    "another magic");
	refused("pm10 192.0.2.1 clean 0 1 2 - ", "not a proxymilter verdict (or another version)",
	    "a longer magic");
	refused("PM1 192.0.2.1 clean 0 1 2 - ", "not a proxymilter verdict (or another version)",
	    "magic in capitals");
	refused("", "not a proxymilter verdict (or another version)", "empty input");
	refused_n("", 0, "not a proxymilter verdict (or another version)", "empty input, len 0");
	refused("\n", "not a proxymilter verdict (or another version)", "a newline alone");
	refused(" pm1 192.0.2.1 clean 0 1 2 - ", "not a proxymilter verdict (or another version)",
	    "a leading space");
	/* truncated at every field boundary, with and without its space */
	refused("pm1", "no address", "truncated after magic");
	refused("pm1 ", "no address", "truncated after magic and space");
	refused("pm1 192.0.2.1", "no class", "truncated after address");
	refused("pm1 192.0.2.1 ", "no class", "truncated after address and space");
	refused("pm1 all", "no class", "truncated after \"all\"");
	refused("pm1 192.0.2.1 clean", "bad score", "truncated after class");
	refused("pm1 192.0.2.1 clean ", "bad score", "truncated after class and space");
	refused("pm1 192.0.2.1 clean 0", "bad set time", "truncated after score");
	refused("pm1 192.0.2.1 clean 0 ", "bad set time", "truncated after score and space");
	refused("pm1 192.0.2.1 clean 0 1", "bad expiry", "truncated after set time");
	refused("pm1 192.0.2.1 clean 0 1 ", "bad expiry", "truncated after set time and space");
	refused("pm1 192.0.2.1 clean 0 1 2", "no egress", "truncated after expiry");
	refused("pm1 192.0.2.1 clean 0 1 2 ", "no egress", "truncated after expiry and space");
	refused("pm1 192.0.2.1 clean 0 1 2\n", "no egress", "truncated after expiry, \\n");
	/* two spaces are an empty field */
	refused("pm1  192.0.2.1 clean 0 1 2 - ", "no address", "two spaces after magic");
	refused("pm1 192.0.2.1  clean 0 1 2 - ", "no class", "two spaces after address");
	/* addresses */
	refused("pm1 192.0.2 clean 0 1 2 - ", "bad address", "three-part v4 address");
	refused("pm1 192.0.2.256 clean 0 1 2 - ", "bad address", "v4 octet 256");
	refused("pm1 2001:db8:::1 clean 0 1 2 - ", "bad address", "v6 with :::");
	refused("pm1 192.0.2.0/24 clean 0 1 2 - ", "bad address", "a CIDR");
	refused("pm1 [2001:db8::1] clean 0 1 2 - ", "bad address", "v6 in brackets");
	refused("pm1 example.org clean 0 1 2 - ", "bad address", "a host name");
	refused("pm1 ALL flush", "bad address", "\"ALL\" in capitals");
	refused_any("pm1 0123456789012345678901234567890123456789012345678901234567890 flush",
	    "an address longer than the field buffer");
	/* classes */
	refused("pm1 192.0.2.1 pending 0 1 2 - ", "unknown class", "class pending");
	refused("pm1 192.0.2.1 none 0 1 2 - ", "unknown class", "class none");
	refused("pm1 192.0.2.1 open 0 1 2 - ", "unknown class", "class open");
	refused("pm1 192.0.2.1 CLEAN 0 1 2 - ", "unknown class", "class in capitals");
	refused("pm1 192.0.2.1 Flush", "unknown class", "Flush in capitals");
	/* scores */
	refused("pm1 192.0.2.1 clean 100001 1 2 - ", "bad score", "score 100001");
	refused("pm1 192.0.2.1 clean -100001 1 2 - ", "bad score", "score -100001");
	refused("pm1 192.0.2.1 clean 99999999999999999999 1 2 - ", "bad score",
	    "score beyond long long");
	refused("pm1 192.0.2.1 clean +5 1 2 - ", "bad score", "score +5");
	refused("pm1 192.0.2.1 clean 5x 1 2 - ", "bad score", "score 5x");
	refused("pm1 192.0.2.1 clean - 1 2 - ", "bad score", "score -");
	refused("pm1 192.0.2.1 clean 0x10 1 2 - ", "bad score", "score in hex");
	/* times */
	refused("pm1 192.0.2.1 clean 0 abc 2 - ", "bad set time", "set time abc");
	refused("pm1 192.0.2.1 clean 0 1.5 2 - ", "bad set time", "set time 1.5");
	refused("pm1 192.0.2.1 clean 0 1e9 2 - ", "bad set time", "set time 1e9");
	refused("pm1 192.0.2.1 clean 0 -1 2 - ", "bad set time", "set time -1");
	refused("pm1 192.0.2.1 clean 0 1099511627777 1099511627778 - ", "bad set time",
	    "set time past 2^40");
	refused("pm1 192.0.2.1 clean 0 1 2z - ", "bad expiry", "expiry 2z");
	refused("pm1 192.0.2.1 clean 0 1 +2 - ", "bad expiry", "expiry +2");
	refused("pm1 192.0.2.1 clean 0 1 1099511627777 - ", "bad expiry", "expiry past 2^40");
	refused("pm1 192.0.2.1 clean 0 1700000000 1699999999 - ", "bad expiry",
	    "expires < set_at");
	/* "all" and flush */
	refused("pm1 all clean 0 1 2 - ", "\"all\" with a verdict", "\"all\" with a verdict");
	refused("pm1 all open-proxy 0 1 2 - socks5:1080", "\"all\" with a verdict",
	    "\"all\" with an open-proxy verdict");
	refused("pm1 192.0.2.1 flush x", "text after flush", "text after flush");
	refused("pm1 all flush now", "text after flush", "text after \"all flush\"");
	refused("pm1 192.0.2.1 flush 0 1 2 - ", "text after flush", "a verdict's fields after flush");
	/* egress */
	refused("pm1 192.0.2.1 clean 0 1 2 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa x",
	    "egress too long", "egress of VT_EGRESS_MAX bytes");
	refused_any("pm1 192.0.2.1 clean 0 1 2 "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa x",
	    "egress of 80 bytes");
	/* control bytes anywhere, also inside len past a NUL */
	refused("pm1 192.0.2.1 clean 0 1 2 - a\tb", "a control byte", "a tab in evidence");
	refused("pm1\t192.0.2.1 clean 0 1 2 - ", "a control byte", "a tab as separator");
	refused("pm1 192.0.2.1 clean 0 1 2 - \x01", "a control byte", "\\x01 in evidence");
	refused("pm1 192.0.2.1 clean 0 1 2 - a\x7f", "a control byte", "\\x7f in evidence");
	refused("pm1 192.0.2.1 clean 0 1 2 - \x1b[31m", "a control byte", "an escape in evidence");
	refused_n("pm1 192.0.2.1 clean 0 1 2 - a\0b", 31, "a control byte", "a NUL inside len");
	refused_n("pm1 192.0.2.1 clean 0 1 2 - \0", 29, "a control byte", "a NUL last inside len");
	refused("pm1 192.0.2.1 clean 0 1 2 - a\nb", "a control byte", "a newline inside");
	refused("pm1 192.0.2.1 clean 0 1 2 - a\rb", "a control byte", "a CR inside");
	refused("pm1 192.0.2.1 clean 0 1 2 - ok\n\n", "a control byte", "two newlines");
	refused("pm1 192.0.2.1 clean 0 1 2 - ok\n\r", "a control byte", "\\n\\r");
	refused("pm1 192.0.2.1 clean 0 1 2 - ok\r", "a control byte",
	    "a lone trailing \\r (only \\n or \\r\\n end a line)");
	/* lengths: the line, the evidence */
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "pm1 192.0.2.1 clean 0 1 2 - ", 28);
	refused_n(buf, VREC_MAX, "too long", "a line of VREC_MAX bytes");
	refused_n(buf, VREC_MAX + 1, "too long", "a line of VREC_MAX + 1 bytes");
	buf[VREC_MAX] = '\n';
	refused_n(buf, VREC_MAX + 1, "too long", "VREC_MAX bytes and \\n");
	refused_n(buf, 28 + VT_EVIDENCE_MAX, "evidence too long",
	    "evidence of VT_EVIDENCE_MAX bytes");
	refused_n(buf, 28 + VT_EVIDENCE_MAX + 50, "evidence too long",
	    "evidence of VT_EVIDENCE_MAX + 50 bytes");
	T_OK(vrec_parse(buf, 28 + VT_EVIDENCE_MAX - 1, &p, &why) == 0 &&
	    strlen(p.evidence) == VT_EVIDENCE_MAX - 1, "evidence of VT_EVIDENCE_MAX - 1 bytes parsed");

	/* which classes travel */
	T_OK(vrec_shared_state(VT_OPEN) == 1, "shared: open-proxy");
	T_OK(vrec_shared_state(VT_RELAY) == 1, "shared: open-relay");
	T_OK(vrec_shared_state(VT_LISTED) == 1, "shared: listed");
	T_OK(vrec_shared_state(VT_SUSPECT) == 1, "shared: suspect");
	T_OK(vrec_shared_state(VT_CLEAN) == 1, "shared: clean");
	T_OK(vrec_shared_state(VT_ERROR) == 0, "not shared: error");
	T_OK(vrec_shared_state(VT_PENDING) == 0, "not shared: pending");
	T_OK(vrec_shared_state(VT_NONE) == 0, "not shared: none");
}

/* ---- vt_put, vt_flush, vt_flush_all ---------------------------------------- */

static struct vt *W;
static struct pm_addr WA;
static int w_done;		/* __atomic: read by the main thread */
static struct vt_info w_info;

static void *
put_waiter(void *arg)
{
	(void)arg;
	vt_wait(W, &WA, vt_now() + 5.0, &w_info);
	__atomic_store_n(&w_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void
test_put(void)
{
	struct vt *t = vt_new(100);
	struct pm_addr a, b, c;
	struct vt_info v;
	struct vt_stats st;
	double now = 1000.0;

	pm_addr_parse("192.0.2.10", &a);
	pm_addr_parse("2001:db8::10", &b);
	pm_addr_parse("192.0.2.11", &c);

	/* NEWER: set when absent, with what was given */
	T_OK(vt_put(t, &a, VT_OPEN, 5, "socks5:1080", "198.51.100.3", now - 10, now + 100,
	    VT_PUT_NEWER, now) == 1, "put newer: absent -> set");
	vt_get(t, &a, now, &v);
	T_OK(v.state == VT_OPEN && v.score == 5 && strcmp(v.evidence, "socks5:1080") == 0 &&
	    strcmp(v.egress, "198.51.100.3") == 0, "put newer: stored as given");
	T_OK(v.expires == now + 100, "put newer: expiry kept");
	T_OK(v.age >= 10.0 && v.age < 10.125, "put newer: age = now - set_at (within a tick)");
	/* a set_at between ticks: age rounds up by less than 1/8 s */
	T_OK(vt_put(t, &b, VT_LISTED, -2, "dnsbl=bl.example(2)", "", now - 37.3, now + 50,
	    VT_PUT_NEWER, now) == 1, "put newer: v6 absent -> set");
	vt_get(t, &b, now, &v);
	T_OK(v.state == VT_LISTED && v.score == -2 && v.egress[0] == '\0',
	    "put newer: v6 stored");
	T_OK(v.age >= 37.3 - 1e-9 && v.age < 37.3 + 0.125, "put newer: age 37.3 within a tick");
	vt_get(t, &b, now + 20, &v);
	T_OK(v.age >= 57.3 - 1e-9 && v.age < 57.3 + 0.125, "put newer: age grows with now");

	/* an older one does not replace a newer one; equal set_at neither */
	T_OK(vt_put(t, &a, VT_CLEAN, 0, "", "", now - 20, now + 500, VT_PUT_NEWER, now) == 0,
	    "put newer: older verdict refused");
	T_OK(vt_put(t, &a, VT_CLEAN, 0, "", "", now - 10, now + 500, VT_PUT_NEWER, now) == 0,
	    "put newer: same set_at refused");
	vt_get(t, &a, now, &v);
	T_OK(v.state == VT_OPEN && strcmp(v.evidence, "socks5:1080") == 0 && v.expires == now + 100,
	    "put newer: the newer verdict kept");
	/* a newer one replaces an older one, shorter evidence and no egress */
	T_OK(vt_put(t, &a, VT_CLEAN, 0, "", "", now - 1, now + 500, VT_PUT_NEWER, now) == 1,
	    "put newer: newer verdict replaces");
	vt_get(t, &a, now, &v);
	T_OK(v.state == VT_CLEAN && v.evidence[0] == '\0' && v.egress[0] == '\0' &&
	    v.expires == now + 500 && v.age >= 1.0 && v.age < 1.125,
	    "put newer: the replacement as given");
	/* over a verdict set here by vt_complete */
	vt_complete(t, &c, VT_ERROR, 0, "timeout", "", now, 60);
	T_OK(vt_put(t, &c, VT_OPEN, 0, "socks4:1080", "", now - 5, now + 100, VT_PUT_NEWER,
	    now) == 0, "put newer: older than a local verdict refused");
	T_OK(vt_put(t, &c, VT_OPEN, 0, "socks4:1080", "", now + 1, now + 100, VT_PUT_NEWER,
	    now + 2) == 1, "put newer: newer than a local verdict replaces");
	vt_get(t, &c, now + 2, &v);
	T_OK(v.state == VT_OPEN && strcmp(v.evidence, "socks4:1080") == 0,
	    "put newer: local verdict replaced");
	/* an expired local verdict does not count */
	vt_complete(t, &c, VT_CLEAN, 0, "", "", now + 10, 5);
	T_OK(vt_put(t, &c, VT_OPEN, 0, "late", "", now + 3, now + 100, VT_PUT_NEWER,
	    now + 20) == 1, "put newer: over an expired verdict, even if set earlier");

	/* refused: expired, pending, none */
	pm_addr_parse("192.0.2.12", &c);
	T_OK(vt_put(t, &c, VT_OPEN, 0, "x", "", now - 10, now, VT_PUT_NEWER, now) == 0,
	    "put: expires == now refused");
	T_OK(vt_put(t, &c, VT_OPEN, 0, "x", "", now - 10, now - 1, VT_PUT_NEWER, now) == 0,
	    "put: expires < now refused");
	T_OK(vt_put(t, &c, VT_PENDING, 0, "", "", now, now + 60, VT_PUT_NEWER, now) == 0,
	    "put: VT_PENDING refused");
	T_OK(vt_put(t, &c, VT_NONE, 0, "", "", now, now + 60, VT_PUT_NEWER, now) == 0,
	    "put: VT_NONE refused");
	T_OK(vt_put(t, &c, VT_PENDING, 0, "", "", now, now + 60, VT_PUT_PENDING, now) == 0,
	    "put pending: VT_PENDING refused");
	vt_get(t, &c, now, &v);
	T_OK(v.state == VT_NONE, "put: refusals left nothing");
	vt_stats(t, &st);
	T_OK(st.entries == 3 && st.pending == 0, "put: 3 entries, none pending");

	/* NEWER over a pending entry, even one set later (a claim is no verdict) */
	T_OK(vt_claim(t, &c, now, 60, &v) == VT_CLAIMED, "claim for put over pending");
	T_OK(vt_put(t, &c, VT_SUSPECT, 4, "helo", "", now - 100, now + 100, VT_PUT_NEWER,
	    now + 1) == 1, "put newer: over pending, set before the claim");
	vt_get(t, &c, now + 1, &v);
	T_OK(v.state == VT_SUSPECT && v.score == 4, "put newer: pending replaced");
	vt_stats(t, &st);
	T_OK(st.pending == 0 && st.entries == 4, "put newer: no pending entry counted after");

	/* PENDING: only over a pending entry */
	pm_addr_parse("192.0.2.13", &c);
	T_OK(vt_put(t, &c, VT_CLEAN, 0, "", "", now, now + 100, VT_PUT_PENDING, now) == 0,
	    "put pending: absent -> 0");
	vt_get(t, &c, now, &v);
	T_OK(v.state == VT_NONE, "put pending: absent stays absent");
	T_OK(vt_put(t, &a, VT_OPEN, 0, "socks5:1080", "", now + 1, now + 100, VT_PUT_PENDING,
	    now + 1) == 0, "put pending: over a verdict -> 0");
	vt_get(t, &a, now + 1, &v);
	T_OK(v.state == VT_CLEAN, "put pending: the verdict kept");
	T_OK(vt_claim(t, &c, now, 60, &v) == VT_CLAIMED, "claim for put pending");
	T_OK(vt_put(t, &c, VT_CLEAN, 0, "", "2001:db8::99", now - 3, now + 100, VT_PUT_PENDING,
	    now + 1) == 1, "put pending: over pending -> set");
	vt_get(t, &c, now + 1, &v);
	T_OK(v.state == VT_CLEAN && strcmp(v.egress, "2001:db8::99") == 0 &&
	    v.age >= 4.0 && v.age < 4.125, "put pending: stored with its set_at");
	pm_addr_parse("192.0.2.14", &c);
	vt_claim(t, &c, now, 1, &v);
	T_OK(vt_put(t, &c, VT_CLEAN, 0, "", "", now, now + 100, VT_PUT_PENDING, now + 2) == 0,
	    "put pending: over an expired pending entry -> 0");
	vt_get(t, &c, now + 2, &v);
	T_OK(v.state == VT_NONE, "put pending: expired pending entry not replaced");
	vt_free(t);

	/* NEWER over pending wakes a thread blocked in vt_wait */
	W = vt_new(100);
	pm_addr_parse("203.0.113.77", &WA);
	T_OK(vt_claim(W, &WA, vt_now(), 60, &v) == VT_CLAIMED, "claim for the waiter");
	pthread_t th;
	w_done = 0;
	pthread_create(&th, NULL, put_waiter, NULL);
	usleep(150000);
	T_OK(__atomic_load_n(&w_done, __ATOMIC_SEQ_CST) == 0, "waiter blocked on the pending entry");
	double t0 = vt_now();
	T_OK(vt_put(W, &WA, VT_OPEN, 0, "socks5:1080", "", t0 - 1, t0 + 100, VT_PUT_NEWER,
	    t0) == 1, "put newer for the waiter");
	pthread_join(th, NULL);
	T_OK(w_info.state == VT_OPEN && strcmp(w_info.evidence, "socks5:1080") == 0,
	    "waiter sees the put verdict");
	T_OK(vt_now() - t0 < 2.0, "waiter woken by vt_put, not by its deadline");
	/* and PENDING the same */
	pm_addr_parse("203.0.113.78", &WA);
	vt_claim(W, &WA, vt_now(), 60, &v);
	w_done = 0;
	pthread_create(&th, NULL, put_waiter, NULL);
	usleep(150000);
	t0 = vt_now();
	T_OK(vt_put(W, &WA, VT_CLEAN, 0, "", "", t0, t0 + 100, VT_PUT_PENDING, t0) == 1,
	    "put pending for the waiter");
	pthread_join(th, NULL);
	T_OK(w_info.state == VT_CLEAN && vt_now() - t0 < 2.0, "waiter woken by put pending");
	vt_free(W);
}

static void
test_flush(void)
{
	struct vt *t = vt_new(100);
	struct pm_addr a, b, p1, p2, n;
	struct vt_info v;
	struct vt_stats st;
	double now = 1000.0;

	pm_addr_parse("192.0.2.20", &a);
	pm_addr_parse("2001:db8::20", &b);
	pm_addr_parse("192.0.2.21", &p1);
	pm_addr_parse("2001:db8::21", &p2);
	pm_addr_parse("192.0.2.22", &n);
	vt_complete(t, &a, VT_OPEN, 0, "socks5:1080", "", now, 100);
	vt_complete(t, &b, VT_CLEAN, 0, "", "", now, 100);
	vt_claim(t, &p1, now, 60, &v);
	vt_claim(t, &p2, now, 60, &v);

	T_OK(vt_flush(t, &a) == 1, "flush: a verdict -> 1");
	vt_get(t, &a, now, &v);
	T_OK(v.state == VT_NONE, "flush: the verdict is gone");
	T_OK(vt_flush(t, &a) == 0, "flush: again -> 0");
	T_OK(vt_flush(t, &n) == 0, "flush: none -> 0");
	T_OK(vt_flush(t, &p1) == 0, "flush: pending -> 0");
	T_OK(vt_claim(t, &p1, now + 1, 60, &v) == VT_INFLIGHT, "flush: pending entry kept");
	vt_get(t, &b, now, &v);
	T_OK(v.state == VT_CLEAN, "flush: other verdicts untouched");
	vt_stats(t, &st);
	T_OK(st.entries == 3 && st.pending == 2, "flush: 3 entries left, 2 pending");

	/* flush all: the verdicts, not the pending entries */
	for (int i = 0; i < 10; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "198.51.100.%d", i);
		pm_addr_parse(ip, &n);
		vt_complete(t, &n, i & 1 ? VT_CLEAN : VT_LISTED, 0, "", "", now, 100);
	}
	T_OK(vt_flush_all(t) == 11, "flush all: 11 verdicts counted");
	vt_stats(t, &st);
	T_OK(st.entries == 2 && st.pending == 2, "flush all: the 2 pending entries left");
	T_OK(vt_claim(t, &p1, now + 1, 60, &v) == VT_INFLIGHT &&
	    vt_claim(t, &p2, now + 1, 60, &v) == VT_INFLIGHT, "flush all: still in flight");
	vt_get(t, &b, now, &v);
	T_OK(v.state == VT_NONE, "flush all: verdicts gone");
	T_OK(vt_flush_all(t) == 0, "flush all: again -> 0");
	vt_free(t);

	/* in a striped table */
	t = vt_new(16384);
	for (int i = 0; i < 3000; i++) {
		char ip[32];
		snprintf(ip, sizeof(ip), "10.1.%d.%d", i >> 8, i & 255);
		pm_addr_parse(ip, &n);
		if (i % 100 == 0)
			vt_claim(t, &n, now, 60, &v);
		else
			vt_complete(t, &n, VT_CLEAN, 0, "", "", now, 100);
	}
	T_OK(vt_flush_all(t) == 2970, "flush all, striped: 2970 verdicts");
	vt_stats(t, &st);
	T_OK(st.entries == 30 && st.pending == 30, "flush all, striped: 30 pending left");
	vt_free(t);
}

/* ---- vt_walk --------------------------------------------------------------- */

#define WALK_V4 5000
#define WALK_V6 500

struct walk {
	int seen[WALK_V4 + WALK_V6];
	int calls, bad, stop_after, ret;
	struct vt *t;
	double now;
	int flush;
};

static void
walk_addr(int i, char *ip, size_t len)
{
	if (i < WALK_V4)
		snprintf(ip, len, "10.2.%d.%d", i >> 8, i & 255);
	else
		snprintf(ip, len, "2001:db8:77::1:%x", i - WALK_V4);	/* canonical */
}

/* which entry: from the address bytes, checked against the text form */
static int
walk_index(const struct pm_addr *a)
{
	char ip[64], want[64];
	int i;

	if (a->family == AF_INET && a->b[0] == 10 && a->b[1] == 2)
		i = a->b[2] << 8 | a->b[3];
	else if (a->family == AF_INET6)
		i = WALK_V4 + (a->b[14] << 8 | a->b[15]);
	else
		return -1;
	if (i >= WALK_V4 + WALK_V6 || (a->family == AF_INET) != (i < WALK_V4))
		return -1;
	walk_addr(i, want, sizeof(want));
	pm_addr_str(a, ip, sizeof(ip));
	return strcmp(ip, want) == 0 ? i : -1;
}

static int
walk_fn(const struct vt_entry *e, void *arg)
{
	struct walk *w = arg;
	char ev[32];
	int i = walk_index(&e->a);

	w->calls++;
	if (i < 0) {
		w->bad++;
		return 0;
	}
	w->seen[i]++;
	snprintf(ev, sizeof(ev), "ev%d", i);
	if (e->v.state != (i % 2 ? VT_CLEAN : VT_OPEN) || e->v.score != i % 1000 ||
	    strcmp(e->v.evidence, ev) != 0 || e->v.expires != 1000.0 + 100 ||
	    e->v.age != w->now - 1000.0)
		w->bad++;
	if (w->flush && vt_flush(w->t, &e->a) != 1)	/* fn may use the table */
		w->bad++;
	if (w->stop_after > 0 && w->calls == w->stop_after)
		return w->ret;
	return 0;
}

static void
test_walk(void)
{
	static struct walk w;
	struct vt *t = vt_new(16384);
	struct pm_addr a;
	struct vt_info v;
	struct vt_stats st;
	double now = 1000.0;
	char ip[64], ev[32];
	int once, missing;

	for (int i = 0; i < WALK_V4 + WALK_V6; i++) {
		walk_addr(i, ip, sizeof(ip));
		pm_addr_parse(ip, &a);
		snprintf(ev, sizeof(ev), "ev%d", i);
		vt_complete(t, &a, i % 2 ? VT_CLEAN : VT_OPEN, i % 1000, ev, "", now, 100);
	}
	/* pending entries, and verdicts that expire before the walk */
	for (int i = 0; i < 100; i++) {
		snprintf(ip, sizeof(ip), "172.20.0.%d", i);
		pm_addr_parse(ip, &a);
		vt_claim(t, &a, now, 60, &v);
		snprintf(ip, sizeof(ip), "2001:db8:88::%d", i);
		pm_addr_parse(ip, &a);
		vt_complete(t, &a, VT_OPEN, 0, "short", "", now, 5);
	}
	vt_stats(t, &st);
	T_OK(st.entries == WALK_V4 + WALK_V6 + 200 && st.pending == 100 && st.evicted == 0,
	    "walk: table of 5700 entries, none evicted");

	memset(&w, 0, sizeof(w));
	w.t = t;
	w.now = now + 10;
	T_OK(vt_walk(t, now + 10, walk_fn, &w) == 0, "walk: returns 0 when fn does");
	once = missing = 0;
	for (int i = 0; i < WALK_V4 + WALK_V6; i++) {
		once += w.seen[i] == 1;
		missing += w.seen[i] == 0;
	}
	T_OK(w.calls == WALK_V4 + WALK_V6, "walk: 5500 calls (no pending, no expired)");
	T_OK(once == WALK_V4 + WALK_V6 && missing == 0, "walk: every verdict exactly once");
	T_OK(w.bad == 0, "walk: addresses (v4 as AF_INET), classes, scores, evidence, times equal");

	/* before they expire, the short ones are walked too */
	memset(&w, 0, sizeof(w));
	w.t = t;
	w.now = now + 1;
	vt_walk(t, now + 1, walk_fn, &w);
	T_OK(w.calls == WALK_V4 + WALK_V6 + 100 && w.bad == 100,
	    "walk: unexpired short verdicts walked, pending ones not");

	/* fn's nonzero value ends the walk */
	memset(&w, 0, sizeof(w));
	w.t = t;
	w.now = now + 10;
	w.stop_after = 10;
	w.ret = 7;
	T_OK(vt_walk(t, now + 10, walk_fn, &w) == 7, "walk: fn's 7 returned");
	T_OK(w.calls == 10, "walk: stopped after the 10th call");
	memset(&w, 0, sizeof(w));
	w.t = t;
	w.now = now + 10;
	w.stop_after = 1;
	w.ret = -5;
	T_OK(vt_walk(t, now + 10, walk_fn, &w) == -5 && w.calls == 1, "walk: fn's -5 at once");

	/* fn may use the table: flush each verdict as it comes */
	memset(&w, 0, sizeof(w));
	w.t = t;
	w.now = now + 10;
	w.flush = 1;
	T_OK(vt_walk(t, now + 10, walk_fn, &w) == 0 && w.calls == WALK_V4 + WALK_V6 &&
	    w.bad == 0, "walk: fn flushes each verdict");
	vt_stats(t, &st);
	T_OK(st.pending == 100 && st.entries == 200, "walk: only pending and expired ones left");
	memset(&w, 0, sizeof(w));
	w.t = t;
	w.now = now + 10;
	T_OK(vt_walk(t, now + 10, walk_fn, &w) == 0 && w.calls == 0, "walk: nothing left to walk");
	vt_free(t);

	/* an empty table */
	t = vt_new(100);
	memset(&w, 0, sizeof(w));
	T_OK(vt_walk(t, now, walk_fn, &w) == 0 && w.calls == 0, "walk: empty table");
	vt_free(t);
}

/* ---- across a restart -------------------------------------------------------- */

struct carry {
	struct vrec r[8];
	int n;
	double now;
	int64_t unix_now;
};

static int
carry_fn(const struct vt_entry *e, void *arg)
{
	struct carry *c = arg;

	if (c->n >= 8)
		return 1;
	vrec_from_entry(e, c->now, c->unix_now, &c->r[c->n++]);
	return 0;
}

static const struct vrec *
carried(const struct carry *c, const char *addr)
{
	struct pm_addr a;

	pm_addr_parse(addr, &a);
	for (int i = 0; i < c->n; i++)
		if (c->r[i].a.family == a.family && memcmp(c->r[i].a.b, a.b, 16) == 0)
			return &c->r[i];
	return NULL;
}

static void
test_restart(void)
{
	struct vt *t1 = vt_new(100), *t2;
	struct pm_addr a;
	struct vt_info v;
	struct carry c;
	const struct vrec *r;
	double now1 = 5000.0, now2 = 40.0;	/* the monotonic clock restarts */
	int64_t unix1 = 1700000000, unix2 = unix1 + 20;
	char line[VREC_MAX];
	struct vrec back;
	const char *why;

	/* set 30 s before the save, 100 s left: after 20 s down, age 50, 80 left */
	pm_addr_parse("192.0.2.30", &a);
	vt_complete(t1, &a, VT_OPEN, 9, "socks5:1080", "198.51.100.30", now1 - 30, 130);
	/* set 1000 s before, 3600 left */
	pm_addr_parse("2001:db8::30", &a);
	vt_complete(t1, &a, VT_LISTED, -4, "dnsbl=bl.example(4)", "", now1 - 1000, 4600);
	/* 10 s left: expired after 20 s down */
	pm_addr_parse("192.0.2.31", &a);
	vt_complete(t1, &a, VT_CLEAN, 0, "", "", now1 - 50, 60);
	/* 20.4 s left: 0.4 s after the restart, still there */
	pm_addr_parse("192.0.2.32", &a);
	vt_complete(t1, &a, VT_ERROR, 0, "timeout", "", now1 - 1, 21.4);

	memset(&c, 0, sizeof(c));
	c.now = now1;
	c.unix_now = unix1;
	T_OK(vt_walk(t1, now1, carry_fn, &c) == 0 && c.n == 4, "restart: 4 verdicts saved");
	vt_free(t1);

	r = carried(&c, "192.0.2.30");
	T_OK(r != NULL && r->set_at == unix1 - 30 && r->expires == unix1 + 100 &&
	    r->state == VT_OPEN && r->score == 9 && strcmp(r->evidence, "socks5:1080") == 0 &&
	    strcmp(r->egress, "198.51.100.30") == 0, "from_entry: Unix times and fields");
	r = carried(&c, "192.0.2.32");
	T_OK(r != NULL && r->expires == unix1 + 21, "from_entry: 20.4 s left rounds up to 21");

	/* through the text form, as the state file and Redis carry them */
	int same = 0;
	for (int i = 0; i < c.n; i++) {
		size_t n = vrec_format(&c.r[i], line, sizeof(line));
		why = NULL;
		if (vrec_parse(line, n, &back, &why) == 0 && vrec_eq(&c.r[i], &back))
			same++;
		else
			printf("#   line \"%s\": %s\n", line, why ? why : "differs");
		c.r[i] = back;
	}
	T_OK(same == 4, "restart: the 4 lines parsed back equal");

	t2 = vt_new(100);
	r = carried(&c, "192.0.2.30");
	T_OK(r != NULL && vrec_apply(t2, r, VT_PUT_NEWER, now2, unix2) == 1,
	    "apply: v4 open-proxy set");
	pm_addr_parse("192.0.2.30", &a);
	vt_get(t2, &a, now2, &v);
	T_OK(v.state == VT_OPEN && v.score == 9 && strcmp(v.evidence, "socks5:1080") == 0 &&
	    strcmp(v.egress, "198.51.100.30") == 0, "apply: fields survive");
	T_OK(v.age > 49.0 && v.age < 51.0, "apply: age 50 s within 1 s");
	T_OK(v.expires - now2 > 79.0 && v.expires - now2 < 81.0, "apply: 80 s left within 1 s");

	r = carried(&c, "2001:db8::30");
	T_OK(r != NULL && vrec_apply(t2, r, VT_PUT_NEWER, now2, unix2) == 1,
	    "apply: v6 listed set");
	pm_addr_parse("2001:db8::30", &a);
	vt_get(t2, &a, now2, &v);
	T_OK(v.state == VT_LISTED && v.score == -4 && v.age > 1019.0 && v.age < 1021.0 &&
	    v.expires - now2 > 3579.0 && v.expires - now2 < 3581.0,
	    "apply: v6 age 1020 s, 3580 s left, within 1 s");

	r = carried(&c, "192.0.2.31");
	T_OK(r != NULL && vrec_apply(t2, r, VT_PUT_NEWER, now2, unix2) == 0,
	    "apply: an expired verdict -> 0");
	pm_addr_parse("192.0.2.31", &a);
	vt_get(t2, &a, now2, &v);
	T_OK(v.state == VT_NONE, "apply: the expired verdict is not in the table");

	r = carried(&c, "192.0.2.32");
	T_OK(r != NULL && vrec_apply(t2, r, VT_PUT_NEWER, now2, unix2) == 1,
	    "apply: a verdict with 1 s left (rounded up) set");
	pm_addr_parse("192.0.2.32", &a);
	vt_get(t2, &a, now2, &v);
	T_OK(v.state == VT_ERROR && v.expires - now2 > 0.0 && v.expires - now2 < 1.5,
	    "apply: its remaining second kept");

	/* applied again: not newer, so not set; a flush record is never applied */
	r = carried(&c, "192.0.2.30");
	T_OK(vrec_apply(t2, r, VT_PUT_NEWER, now2 + 1, unix2 + 1) == 0,
	    "apply: the same verdict again -> 0");
	memset(&back, 0, sizeof(back));
	pm_addr_parse("192.0.2.33", &back.a);
	back.flush = 1;
	back.state = VT_OPEN;
	back.set_at = unix2;
	back.expires = unix2 + 100;
	T_OK(vrec_apply(t2, &back, VT_PUT_NEWER, now2, unix2) == 0, "apply: a flush record -> 0");
	/* PENDING: only where a claim waits */
	mkrec(&back, "192.0.2.34", VT_CLEAN, 0, unix2 - 2, unix2 + 100, "", "");
	T_OK(vrec_apply(t2, &back, VT_PUT_PENDING, now2, unix2) == 0,
	    "apply pending: no claim -> 0");
	pm_addr_parse("192.0.2.34", &a);
	vt_claim(t2, &a, now2, 60, &v);
	T_OK(vrec_apply(t2, &back, VT_PUT_PENDING, now2, unix2) == 1,
	    "apply pending: over the claim -> 1");
	vt_get(t2, &a, now2, &v);
	T_OK(v.state == VT_CLEAN && v.age >= 2.0 && v.age < 2.125 &&
	    v.expires == now2 + 100, "apply pending: age and expiry");
	vt_free(t2);
}

int
main(void)
{
	t_prog = "fleet: ";
	test_vrec();
	test_put();
	test_flush();
	test_walk();
	test_restart();
	T_DONE();
}
