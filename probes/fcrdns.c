/*
 * fcrdns.c - forward-confirmed reverse DNS, and the domain it names (a
 * task kind; every query through resolver.c).
 *
 *   1. PTR of the client: no name = "fcrdns=none"; a failure or timeout =
 *      "fcrdns=temperror" (weight 0, reused PE_DNS_TEMP_TTL seconds).
 *   2. A (IPv4 client) or AAAA (IPv6) of each name, the first MAX_NAMES:
 *      one that contains the client = "fcrdns=pass" (the first such name
 *      in PTR order is the verified name, shown in the result's detail);
 *      none = "fcrdns=fail"; none, but a lookup failed = temperror.
 *      Weights: score.fcrdns_fail and score.fcrdns_none.
 *   3. Passed: the verified name's registrable domain (public suffix
 *      list) is "domain=D": the milter compares a HELO with it.
 *   4. dns.guess_domain: D's MX hosts and their addresses ("mx=self" when
 *      the client is one of them: a real mail server of its own domain;
 *      "mx=other", "mx=none", "mx=temperror") and D's SPF record
 *      ("spf=pass|fail|softfail|neutral|none|unknown|permerror|temperror",
 *      the cheap part, spf.h), all of weight 0: signs for the postmaster.
 *
 * Bounded: at most MAX_NAMES names, MAX_MX MX hosts, MAX_ADDRS addresses
 * each, one SPF record of at most SPF_MAX bytes; a PTR that loops or a
 * name that is no host name costs nothing more than its one query.
 */
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include "pe_int.h"
#include "spf.h"

#define MAX_NAMES 4
#define MAX_MX 10		/* RFC 7208 4.6.4: an mx mechanism looks at 10 */
#define MAX_ADDRS 16
#define SPF_MAX 1024
#define NAME_MAX_LEN 254

enum { Q_FWD = 0, Q_MXHOST = 16, Q_MX = 32, Q_TXT, Q_A };

struct fc {
	int family;			/* of the client: AF_INET or AF_INET6 */
	unsigned char client[16];	/* ::ffff:a.b.c.d for IPv4 */
	char names[MAX_NAMES][NAME_MAX_LEN];
	int nnames, matched, ftemp;
	long ttl;			/* the smallest TTL of the PTR and A answers */
	char domain[NAME_MAX_LEN];
	int mxstate, mxself, mxtemp;	/* mxstate: 0 none, 1 hosts, -1 failed */
	unsigned char mxaddr[2 * MAX_ADDRS][16];
	size_t nmxaddr;
	int spfstate;			/* 0 none, 1 one record, -1 temperror, -2 several */
	char spf[SPF_MAX + 1];
	int astate;			/* the domain's own A: 0 not asked, 1 asked, -1 failed */
	unsigned char aaddr[MAX_ADDRS][16];
	size_t naaddr;
};

struct fcrdns { struct fc *s; };

static int
host_name_ok(const char *n)
{
	size_t len = strlen(n);

	if (len == 0 || len >= NAME_MAX_LEN)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_' && n[i] != '.')
			return 0;
	return 1;
}

static void
ttl_seen(struct fc *s, long ttl)
{
	if (s->ttl == 0 || ttl < s->ttl)
		s->ttl = ttl < 1 ? 1 : ttl;
}

/* the addresses of an A or AAAA answer, as 16 bytes; the count; their
 * smallest TTL into *ttl when not NULL */
static size_t
addrs_of(const unsigned char *abuf, int alen, int family, unsigned char (*out)[16], size_t max,
    struct fc *ttl)
{
	int n = MAX_ADDRS;
	size_t k = 0;

	if (family == AF_INET) {
		struct ares_addrttl a[MAX_ADDRS];
		if (ares_parse_a_reply(abuf, alen, NULL, a, &n) != ARES_SUCCESS)
			return 0;
		for (int i = 0; i < n && k < max; i++, k++) {
			memset(out[k], 0, 10);
			out[k][10] = out[k][11] = 0xff;
			memcpy(out[k] + 12, &a[i].ipaddr, 4);
			if (ttl != NULL)
				ttl_seen(ttl, a[i].ttl);
		}
	} else {
		struct ares_addr6ttl a[MAX_ADDRS];
		if (ares_parse_aaaa_reply(abuf, alen, NULL, a, &n) != ARES_SUCCESS)
			return 0;
		for (int i = 0; i < n && k < max; i++, k++) {
			memcpy(out[k], &a[i].ip6addr, 16);
			if (ttl != NULL)
				ttl_seen(ttl, a[i].ttl);
		}
	}
	return k;
}

static int
addr_type(const struct fc *s)
{
	return s->family == AF_INET ? ns_t_a : ns_t_aaaa;
}

static void
finish(struct pe_ctx *ctx)
{
	struct fc *s = ((struct fcrdns *)ctx->priv)->s;

	if (s->mxstate == 1)
		pe_find(ctx, PE_F_WEAK, 0, "mx", s->mxself ? "self" : s->mxtemp ? "temperror" : "other");
	else
		pe_find(ctx, PE_F_WEAK, 0, "mx", s->mxstate < 0 ? "temperror" : "none");
	if (s->spfstate == 1) {
		struct pe_spf_in in = { .domain = s->domain, .a = s->aaddr, .na = s->naaddr,
			.a_failed = s->astate < 0, .mx = s->mxaddr, .nmx = s->nmxaddr,
			.mx_failed = s->mxstate < 0 || s->mxtemp };
		memcpy(in.client, s->client, 16);
		pe_find(ctx, PE_F_WEAK, 0, "spf", "%s", pe_spf_name(pe_spf_eval(s->spf, &in)));
	} else {
		pe_find(ctx, PE_F_WEAK, 0, "spf", "%s", pe_spf_name(s->spfstate == -1 ?
		    PE_SPF_TEMPERROR : s->spfstate == -2 ? PE_SPF_PERMERROR :
		    s->spfstate == -3 ? PE_SPF_UNKNOWN : PE_SPF_NONE));
	}
	pe_ctx_step(ctx, PE_STEP_CLOSED);
}

static void guess_answer(struct pe_ctx *, void *, int, const unsigned char *, int);

/* the forward lookups are in: the verdict on the name */
static void
confirmed(struct pe_ctx *ctx)
{
	struct fc *s = ((struct fcrdns *)ctx->priv)->s;
	char d[NAME_MAX_LEN];

	if (s->matched < 0) {
		if (s->ftemp > 0) {
			pe_find(ctx, PE_F_WEAK, 0, "fcrdns", "temperror");
			pe_find_ttl(ctx, PE_DNS_TEMP_TTL);
			snprintf(ctx->reason, sizeof(ctx->reason), "temperror");
		} else {
			pe_find(ctx, PE_F_WEAK, ctx->checks->w_fcrdns_fail, "fcrdns", "fail");
			pe_find_ttl(ctx, pe_dns_ttl(s->ttl));
			snprintf(ctx->reason, sizeof(ctx->reason), "fail");
		}
		pe_ctx_step(ctx, PE_STEP_CLOSED);
		return;
	}
	pe_find(ctx, PE_F_WEAK, 0, "fcrdns", "pass");
	pe_find_ttl(ctx, pe_dns_ttl(s->ttl));
	snprintf(ctx->reason, sizeof(ctx->reason), "pass");
	pe_detail_add(ctx, s->names[s->matched], strlen(s->names[s->matched]));
	if (pe_registrable_domain(s->names[s->matched], d, sizeof(d)) < 0) {
		pe_ctx_step(ctx, PE_STEP_CLOSED);
		return;
	}
	memcpy(s->domain, d, sizeof(d));
	/* a value cut short would fail the HELO check: a longer domain is not
	 * shown (and no HELO is compared with it) */
	if (strlen(d) < PE_FINDING_VALUE_MAX)
		pe_find(ctx, PE_F_WEAK, 0, "domain", "%s", d);
	if (!ctx->checks->guess_domain) {
		pe_ctx_step(ctx, PE_STEP_CLOSED);
		return;
	}
	if (pe_dns_query(ctx, d, ns_t_mx, guess_answer, (void *)(size_t)Q_MX) < 0)
		s->mxstate = -1;
	if (pe_dns_query(ctx, d, ns_t_txt, guess_answer, (void *)(size_t)Q_TXT) < 0)
		s->spfstate = -1;
	if (pe_dns_pending(ctx) == 0)
		finish(ctx);
}

static void
mx_answer(struct pe_ctx *ctx, struct fc *s, int status, const unsigned char *abuf, int alen)
{
	struct ares_mx_reply *mx = NULL;
	const struct ares_mx_reply *best[MAX_MX];
	int n = 0;

	if (status == ARES_ENOTFOUND || status == ARES_ENODATA)
		return;
	if (status != ARES_SUCCESS || ares_parse_mx_reply(abuf, alen, &mx) != ARES_SUCCESS) {
		s->mxstate = -1;
		return;
	}
	/* the MAX_MX most preferred, in order */
	for (const struct ares_mx_reply *m = mx; m != NULL; m = m->next) {
		int at = n < MAX_MX ? n : MAX_MX - 1;
		if (!host_name_ok(m->host) || (n == MAX_MX && m->priority >= best[at]->priority))
			continue;
		while (at > 0 && best[at - 1]->priority > m->priority) {
			best[at] = best[at - 1];
			at--;
		}
		best[at] = m;
		if (n < MAX_MX)
			n++;
	}
	for (int i = 0; i < n; i++)
		if (pe_dns_query(ctx, best[i]->host, addr_type(s), guess_answer,
		    (void *)(size_t)(Q_MXHOST + i)) == 0)
			s->mxstate = 1;
	if (n > 0 && s->mxstate == 0)
		s->mxstate = -1;	/* none could be asked */
	ares_free_data(mx);
}

static void
txt_answer(struct pe_ctx *ctx, struct fc *s, int status, const unsigned char *abuf, int alen)
{
	struct ares_txt_ext *txt = NULL;
	char rec[SPF_MAX + 1];
	size_t at = 0;
	int found = 0, over = 0;

	if (status == ARES_ENOTFOUND || status == ARES_ENODATA)
		return;
	if (status != ARES_SUCCESS || ares_parse_txt_reply_ext(abuf, alen, &txt) != ARES_SUCCESS) {
		s->spfstate = -1;
		return;
	}
	/* a record is the concatenation of its strings (RFC 7208 3.3) */
	for (struct ares_txt_ext *t = txt; ; t = t->next) {
		if (t == NULL || (t->record_start && t != txt)) {
			rec[at] = '\0';
			if (pe_spf_is_record(rec, at)) {
				found++;
				if (over)
					s->spfstate = -3;	/* not evaluated */
				else
					memcpy(s->spf, rec, at + 1);
			}
			if (t == NULL)
				break;
			at = 0;
			over = 0;
		}
		if (at + t->length > SPF_MAX)
			over = 1;
		else {
			memcpy(rec + at, t->txt, t->length);
			at += t->length;
		}
	}
	ares_free_data(txt);
	if (found > 1)
		s->spfstate = -2;	/* RFC 7208 4.5: permerror */
	else if (found == 1 && s->spfstate == 0) {
		for (char *c = s->spf; *c != '\0'; c++)
			if (!isprint((unsigned char)*c))
				*c = ' ';
		s->spfstate = 1;
		if (pe_spf_needs_a(s->spf, s->domain)) {
			s->astate = pe_dns_query(ctx, s->domain, addr_type(s), guess_answer,
			    (void *)(size_t)Q_A) == 0 ? 1 : -1;
		}
	}
}

static void
guess_answer(struct pe_ctx *ctx, void *arg, int status, const unsigned char *abuf, int alen)
{
	struct fc *s = ((struct fcrdns *)ctx->priv)->s;
	size_t what = (size_t)arg;

	if (what == Q_MX) {
		mx_answer(ctx, s, status, abuf, alen);
	} else if (what == Q_TXT) {
		txt_answer(ctx, s, status, abuf, alen);
	} else if (what == Q_A) {
		if (status == ARES_SUCCESS)
			s->naaddr = addrs_of(abuf, alen, s->family, s->aaddr, MAX_ADDRS, NULL);
		else if (status != ARES_ENOTFOUND && status != ARES_ENODATA)
			s->astate = -1;
	} else if (status == ARES_SUCCESS) {	/* an MX host's addresses */
		size_t n = addrs_of(abuf, alen, s->family, s->mxaddr + s->nmxaddr,
		    2 * MAX_ADDRS - s->nmxaddr, NULL);
		for (size_t i = 0; i < n; i++)
			if (memcmp(s->mxaddr[s->nmxaddr + i], s->client, 16) == 0)
				s->mxself = 1;
		s->nmxaddr += n;
	} else if (status != ARES_ENOTFOUND && status != ARES_ENODATA) {
		s->mxtemp = 1;
	}
	if (pe_dns_pending(ctx) == 0)
		finish(ctx);
}

static void
fwd_answer(struct pe_ctx *ctx, void *arg, int status, const unsigned char *abuf, int alen)
{
	struct fc *s = ((struct fcrdns *)ctx->priv)->s;
	int i = (int)(size_t)arg;
	unsigned char a[MAX_ADDRS][16];
	size_t n;

	if (status == ARES_SUCCESS) {
		n = addrs_of(abuf, alen, s->family, a, MAX_ADDRS, s);
		for (size_t k = 0; k < n; k++)
			if (memcmp(a[k], s->client, 16) == 0 && (s->matched < 0 || i < s->matched))
				s->matched = i;
	} else if (status != ARES_ENOTFOUND && status != ARES_ENODATA) {
		s->ftemp++;
	}
	if (pe_dns_pending(ctx) == 0)
		confirmed(ctx);
}

static void
add_name(struct fc *s, const char *name)
{
	if (s->nnames >= MAX_NAMES || !host_name_ok(name))
		return;
	for (int i = 0; i < s->nnames; i++)
		if (strcasecmp(s->names[i], name) == 0)
			return;
	snprintf(s->names[s->nnames++], NAME_MAX_LEN, "%s", name);
}

static uint16_t
be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* the step over a name at p (its wire length), or -1 */
static long
name_len(const unsigned char *p, const unsigned char *abuf, int alen)
{
	char *name;
	long len;

	if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS)
		return -1;
	ares_free_string(name);
	return len;
}

/*
 * The PTR names of an answer, in their order.  c-ares' own parser refuses
 * the whole answer when one name is no host name (bytes >= 0x80, spaces):
 * here such a name is skipped (add_name, host_name_ok) and the others
 * count.  PTR records are taken wherever they stand in the answer section,
 * so that a CNAME to them (RFC 2317 delegation) works.  -1: the reply does
 * not parse.
 */
static int
ptr_names(struct fc *s, const unsigned char *abuf, int alen)
{
	const unsigned char *p = abuf + NS_HFIXEDSZ, *end = abuf + alen;
	unsigned qd, an;
	long n;

	if (alen < NS_HFIXEDSZ)
		return -1;
	qd = be16(abuf + 4);
	an = be16(abuf + 6);
	for (unsigned i = 0; i < qd; i++) {
		if ((n = name_len(p, abuf, alen)) < 0 || end - (p + n) < NS_QFIXEDSZ)
			return -1;
		p += n + NS_QFIXEDSZ;
	}
	for (unsigned i = 0; i < an; i++) {
		unsigned type, rdlen;
		char *name;
		long len;
		if ((n = name_len(p, abuf, alen)) < 0 || end - (p + n) < NS_RRFIXEDSZ)
			return -1;
		p += n;
		type = be16(p);
		rdlen = be16(p + 8);
		p += NS_RRFIXEDSZ;
		if (end - p < (long)rdlen)
			return -1;
		if (type == ns_t_ptr && ares_expand_name(p, abuf, alen, &name, &len) == ARES_SUCCESS) {
			add_name(s, name);
			ares_free_string(name);
			/* the TTL: 32 bits after the type and the class */
			ttl_seen(s, (long)((uint32_t)be16(p - NS_RRFIXEDSZ + 4) << 16 |
			    be16(p - NS_RRFIXEDSZ + 6)) & 0x7fffffffL);
		}
		p += rdlen;
	}
	return 0;
}

static void
ptr_answer(struct pe_ctx *ctx, void *arg, int status, const unsigned char *abuf, int alen)
{
	struct fc *s = ((struct fcrdns *)ctx->priv)->s;
	int sent = 0;

	(void)arg;
	if (status == ARES_SUCCESS && ptr_names(s, abuf, alen) < 0)
		status = ARES_EBADRESP;
	if (status != ARES_SUCCESS && status != ARES_ENOTFOUND && status != ARES_ENODATA) {
		pe_find(ctx, PE_F_WEAK, 0, "fcrdns", "temperror");
		pe_find_ttl(ctx, PE_DNS_TEMP_TTL);
		snprintf(ctx->reason, sizeof(ctx->reason), "temperror");
		pe_ctx_step(ctx, PE_STEP_CLOSED);
		return;
	}
	for (int i = 0; i < s->nnames; i++)
		if (pe_dns_query(ctx, s->names[i], addr_type(s), fwd_answer, (void *)(size_t)i) == 0)
			sent++;
	if (sent == 0) {	/* no PTR, or no name that is a host name */
		pe_find(ctx, PE_F_WEAK, ctx->checks->w_fcrdns_none, "fcrdns", "none");
		snprintf(ctx->reason, sizeof(ctx->reason), "none");
		pe_ctx_step(ctx, PE_STEP_CLOSED);
	}
}

static void
fcrdns_start(struct pe_ctx *ctx, struct evbuffer *out)
{
	struct fcrdns *p = ctx->priv;
	const struct sockaddr *sa = ctx->client;
	struct sockaddr_in sin;
	char qname[128];

	(void)out;
	if ((p->s = calloc(1, sizeof(*p->s))) == NULL) {
		snprintf(ctx->reason, sizeof(ctx->reason), "no-memory");
		pe_ctx_step(ctx, PE_STEP_INCONCLUSIVE);
		return;
	}
	p->s->matched = -1;
	if (sa->sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		p->s->family = AF_INET6;
		memcpy(p->s->client, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	} else {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, sa->sa_family == AF_INET ?
		    (const void *)&((const struct sockaddr_in *)sa)->sin_addr :
		    (const void *)(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr + 12), 4);
		sa = (const struct sockaddr *)&sin;
		p->s->family = AF_INET;
		p->s->client[10] = p->s->client[11] = 0xff;
		memcpy(p->s->client + 12, &sin.sin_addr, 4);
	}
	if (pe_dnsbl_qname(sa, p->s->family == AF_INET ? "in-addr.arpa" : "ip6.arpa", qname,
	    sizeof(qname)) < 0 || pe_dns_query(ctx, qname, ns_t_ptr, ptr_answer, NULL) < 0) {
		snprintf(ctx->reason, sizeof(ctx->reason), "no-query");
		pe_ctx_step(ctx, PE_STEP_INCONCLUSIVE);
	}
}

static void
fcrdns_cleanup(struct pe_ctx *ctx)
{
	struct fcrdns *p = ctx->priv;

	free(p->s);
	p->s = NULL;
}

const struct pe_kind pe_kind_fcrdns = {
	.name = "fcrdns",
	.flags = PE_K_TASK,
	.priv_size = sizeof(struct fcrdns),
	.dns_rounds = 4,		/* PTR, A, MX and TXT, an MX host's A */
	.start = fcrdns_start,
	.cleanup = fcrdns_cleanup,
};
