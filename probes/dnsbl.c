/*
 * dnsbl.c - the DNSBL/DNSWL check (a task kind): one A query per
 * configured list domain, postscreen's syntax and sums.
 *
 * A site is "domain[=filter][*weight]" (postscreen_dnsbl_sites): the
 * filter is d.d.d.d where each d is a number or a bracketed list of
 * numbers and ranges, "127.0.0.[2..11]", "127.0.0.[2;4;8..9]"; the weight
 * defaults to 1 and is negative for an allowlist.  A list that answers
 * with an address its filter takes is a finding dnsbl=DOMAIN with the
 * site's weight (counted once however many addresses it gave; sites of
 * one domain share its query and their weights add up), reused as
 * long as the answer's TTL says (clamped, pe_dns_ttl); its TXT record
 * follows in the result line's detail.  NXDOMAIN or no A record: not
 * listed.  A list that does not answer in time or fails: a finding
 * dnsbl=DOMAIN:temperror of weight 0 (postscreen ignores it too), reused
 * for PE_DNS_TEMP_TTL seconds only.
 *
 * The answers count as they come (pe_find_commit: a listing need not wait
 * for a slow list), but not before every allowlist has answered: an
 * allowlist's negative weight may undo a listing, as in postscreen, which
 * also waits for all of its lists.
 */
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ares.h>
#include "pe_int.h"

#define MAX_ADDRS 16

/* a list's domain: host name syntax, labels of at most 63 bytes, and
 * short enough that "DOMAIN:temperror" fits a finding's value whole */
#define DOMAIN_MAX (PE_FINDING_VALUE_MAX - 1 - sizeof(":temperror") + 1)
static int
valid_domain(const char *d, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > DOMAIN_MAX || d[0] == '.' || d[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (!(isalnum((unsigned char)d[i]) || d[i] == '-' || d[i] == '_' ||
		    (d[i] == '.' && d[i + 1] != '.')))
			return 0;
		label = d[i] == '.' ? 0 : label + 1;
		if (label > 63)
			return 0;
	}
	return 1;
}

static int
number(const char **p, long max, long *out)
{
	char *end;

	if (!isdigit((unsigned char)**p))
		return -1;
	*out = strtol(*p, &end, 10);
	if (*out > max)
		return -1;
	*p = end;
	return 0;
}

/* "d.d.d.d" with [..] patterns; -1 on a syntax error */
static int
parse_filter(const char *p, struct pe_dnsbl_site *s)
{
	for (int oct = 0; oct < 4; oct++) {
		long lo, hi;
		if (oct > 0 && *p++ != '.')
			return -1;
		if (*p != '[') {
			if (number(&p, 255, &lo) < 0)
				return -1;
			s->lo[oct][0] = s->hi[oct][0] = (uint8_t)lo;
			s->nranges[oct] = 1;
			continue;
		}
		p++;
		for (;;) {
			if (number(&p, 255, &lo) < 0)
				return -1;
			hi = lo;
			if (p[0] == '.' && p[1] == '.') {
				p += 2;
				if (number(&p, 255, &hi) < 0 || hi < lo)
					return -1;
			}
			if (s->nranges[oct] >= PE_DNSBL_MAX_RANGES)
				return -1;
			s->lo[oct][s->nranges[oct]] = (uint8_t)lo;
			s->hi[oct][s->nranges[oct]] = (uint8_t)hi;
			s->nranges[oct]++;
			if (*p == ';') {
				p++;
				continue;
			}
			if (*p++ != ']')
				return -1;
			break;
		}
	}
	return *p == '\0' ? 0 : -1;
}

int
pe_dnsbl_parse(const char *spec, struct pe_dnsbl_site *s, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '='), *star = strrchr(spec, '*');
	size_t dlen = eq != NULL ? (size_t)(eq - spec) : star != NULL ? (size_t)(star - spec) :
	    strlen(spec);
	char filter[128];

	memset(s, 0, sizeof(*s));
	s->weight = 1;
	if (star != NULL && eq != NULL && star < eq) {
		snprintf(err, errlen, "\"%s\": the weight comes last (domain=filter*weight)", spec);
		return -1;
	}
	if (!valid_domain(spec, dlen)) {
		snprintf(err, errlen, "\"%s\": not a DNS domain (at most %zu characters) before "
		    "'=' or '*'", spec, (size_t)DOMAIN_MAX);
		return -1;
	}
	if (star != NULL) {
		char *end;
		long w = strtol(star + 1, &end, 10);
		if (star[1] == '\0' || *end != '\0' || w < -1000 || w > 1000 || w == 0) {
			snprintf(err, errlen, "\"%s\": the weight must be a whole number from "
			    "-1000 to 1000, not 0", spec);
			return -1;
		}
		s->weight = (int)w;
	}
	if (eq != NULL) {
		size_t flen = (star != NULL ? (size_t)(star - eq) : strlen(eq)) - 1;
		if (flen >= sizeof(filter) || (memcpy(filter, eq + 1, flen), filter[flen] = '\0',
		    parse_filter(filter, s) < 0)) {
			memset(s->nranges, 0, sizeof(s->nranges));
			snprintf(err, errlen, "\"%s\": bad filter: want d.d.d.d, where d is a "
			    "number or [list] of numbers and ranges, e.g. 127.0.0.[2..11;20]", spec);
			return -1;
		}
		s->has_filter = 1;
	}
	if ((s->domain = strndup(spec, dlen)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (char *c = s->domain; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}

void
pe_dnsbl_site_free(struct pe_dnsbl_site *s)
{
	free(s->domain);
	s->domain = NULL;
}

int
pe_dnsbl_match(const struct pe_dnsbl_site *s, const unsigned char a[4])
{
	if (!s->has_filter)
		return 1;
	for (int oct = 0; oct < 4; oct++) {
		int ok = 0;
		for (int i = 0; i < s->nranges[oct] && !ok; i++)
			ok = a[oct] >= s->lo[oct][i] && a[oct] <= s->hi[oct][i];
		if (!ok)
			return 0;
	}
	return 1;
}

int
pe_dnsbl_qname(const struct sockaddr *sa, const char *domain, char *buf, size_t len)
{
	const unsigned char *b;
	size_t at = 0;
	int w;

	if (sa->sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
		for (int i = 15; i >= 0; i--) {
			w = snprintf(at < len ? buf + at : buf, at < len ? len - at : 0, "%x.%x.",
			    b[i] & 0xf, b[i] >> 4);
			at += (size_t)w;
		}
	} else {
		b = sa->sa_family == AF_INET ?
		    (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr :
		    ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr + 12;
		w = snprintf(buf, len, "%u.%u.%u.%u.", b[3], b[2], b[1], b[0]);
		at = (size_t)w;
	}
	w = snprintf(buf + (at < len ? at : 0), at < len ? len - at : 0, "%s", domain);
	return at + (size_t)w < len ? 0 : -1;
}

/*
 * The check: one A query per distinct list domain; every site of that
 * domain is matched against its answer, and the weights of those that
 * match add up (postscreen counts "zen=127.0.0.2*3" and "zen=127.0.0.[4..7]*2"
 * both).  A domain's result is a finding once every allowlist answered.
 */
struct dom {
	size_t first;			/* its first site */
	int allow;			/* one of its sites is an allowlist */
	int answered, emitted;
	int listed, weight, ttl, temperror, positive;
};
struct dnsbl {
	struct dom *d;
	size_t nd;
	int allow_pending;
};

/* the answered domains' findings, each committed at once (no cap on how
 * many lists count); announce: the class they make together goes out now */
static void
emit(struct pe_ctx *ctx, int announce)
{
	struct dnsbl *st = ctx->priv;
	const char *dom;
	int any = 0;

	for (size_t i = 0; i < st->nd; i++) {
		struct dom *d = &st->d[i];
		if (!d->answered || d->emitted || (!d->listed && !d->temperror))
			continue;
		d->emitted = any = 1;
		dom = ctx->checks->sites[d->first].domain;
		if (d->listed) {
			pe_find(ctx, PE_F_DNSBL, d->weight, "dnsbl", "%s", dom);
			pe_find_ttl(ctx, d->ttl);
		} else {
			pe_find(ctx, PE_F_DNSBL, 0, "dnsbl", "%s:temperror", dom);
			pe_find_ttl(ctx, PE_DNS_TEMP_TTL);
		}
		pe_find_commit(ctx, 0);
	}
	if (any && announce)
		pe_find_commit(ctx, 1);
}

/* every answer is in: the last findings, and the reason word */
static void
maybe_done(struct pe_ctx *ctx)
{
	const struct dnsbl *st = ctx->priv;
	int listed = 0, temperror = 0;

	if (pe_dns_pending(ctx) > 0)
		return;
	emit(ctx, 0);		/* the attempt's end reports them */
	for (size_t i = 0; i < st->nd; i++) {
		listed += st->d[i].listed && st->d[i].positive;
		temperror += st->d[i].temperror;
	}
	snprintf(ctx->reason, sizeof(ctx->reason), "%s", st->nd == 0 ? "no-query" :
	    listed ? "listed" : temperror ? "temperror" : "not-listed");
	pe_ctx_step(ctx, PE_STEP_CLOSED);
}

/* the TXT record of a listing: into the result line's detail */
static void
txt_answer(struct pe_ctx *ctx, void *arg, int status, const unsigned char *abuf, int alen)
{
	const struct pe_dnsbl_site *s = &ctx->checks->sites[(size_t)arg];
	struct ares_txt_ext *txt = NULL;
	char line[PE_DETAIL_MAX];
	size_t at;

	at = (size_t)snprintf(line, sizeof(line), "%s:", s->domain);
	if (status == ARES_SUCCESS && ares_parse_txt_reply_ext(abuf, alen, &txt) == ARES_SUCCESS) {
		/* the first record, its strings joined */
		for (struct ares_txt_ext *t = txt; t != NULL && at + 1 < sizeof(line); t = t->next) {
			if (t != txt && t->record_start)
				break;
			at += pe_printable(line + at, sizeof(line) - at, (const char *)t->txt,
			    t->length);
		}
		ares_free_data(txt);
	}
	pe_detail_add(ctx, line, strlen(line));
	maybe_done(ctx);
}

static void
a_answer(struct pe_ctx *ctx, void *arg, int status, const unsigned char *abuf, int alen)
{
	struct dnsbl *st = ctx->priv;
	struct dom *d = &st->d[(size_t)arg];
	const struct pe_dnsbl_site *sites = ctx->checks->sites;
	const char *dom = sites[d->first].domain;
	struct ares_addrttl at[MAX_ADDRS];
	int n = MAX_ADDRS;
	char qname[256];

	d->answered = 1;
	if (d->allow)
		st->allow_pending--;
	if (status == ARES_SUCCESS && ares_parse_a_reply(abuf, alen, NULL, at, &n) != ARES_SUCCESS)
		status = ARES_EBADRESP;
	if (status == ARES_SUCCESS) {
		d->ttl = PE_DNS_MAX_TTL;
		for (size_t i = d->first; i < ctx->checks->nsites; i++) {
			int hit = -1;
			if (strcmp(sites[i].domain, dom) != 0)
				continue;
			for (int k = 0; k < n && hit < 0; k++)
				if (pe_dnsbl_match(&sites[i], (const unsigned char *)&at[k].ipaddr))
					hit = k;
			if (hit < 0)
				continue;
			d->listed = 1;
			d->weight += sites[i].weight;
			d->positive |= sites[i].weight > 0;
			if (pe_dns_ttl(at[hit].ttl) < d->ttl)
				d->ttl = pe_dns_ttl(at[hit].ttl);
		}
		/* a listing's reason, not an allowlist's */
		if (d->positive && pe_dnsbl_qname(ctx->client, dom, qname, sizeof(qname)) == 0)
			pe_dns_query(ctx, qname, ns_t_txt, txt_answer, (void *)d->first);
	} else if (status != ARES_ENOTFOUND && status != ARES_ENODATA) {
		d->temperror = 1;
	}
	if (st->allow_pending == 0 && pe_dns_pending(ctx) > 0)
		emit(ctx, 1);	/* a listing need not wait for slower lists */
	maybe_done(ctx);
}

static void
dnsbl_start(struct pe_ctx *ctx, struct evbuffer *out)
{
	struct dnsbl *st = ctx->priv;
	const struct pe_dnsbl_site *sites = ctx->checks->sites;
	char qname[256];

	(void)out;
	if (ctx->checks->nsites > 0 &&
	    (st->d = calloc(ctx->checks->nsites, sizeof(*st->d))) == NULL) {
		snprintf(ctx->reason, sizeof(ctx->reason), "no-memory");
		pe_ctx_step(ctx, PE_STEP_INCONCLUSIVE);
		return;
	}
	for (size_t i = 0; i < ctx->checks->nsites; i++) {
		size_t j;
		for (j = 0; j < st->nd; j++)
			if (strcmp(sites[st->d[j].first].domain, sites[i].domain) == 0)
				break;
		if (j == st->nd)
			st->d[st->nd++].first = i;
		st->d[j].allow |= sites[i].weight < 0;
	}
	for (size_t j = 0; j < st->nd; j++) {
		if (pe_dnsbl_qname(ctx->client, sites[st->d[j].first].domain, qname,
		    sizeof(qname)) < 0 || pe_dns_query(ctx, qname, ns_t_a, a_answer, (void *)j) < 0) {
			st->d[j].answered = st->d[j].temperror = 1;	/* could not ask */
			continue;
		}
		st->allow_pending += st->d[j].allow;
	}
	maybe_done(ctx);
}

static void
dnsbl_cleanup(struct pe_ctx *ctx)
{
	struct dnsbl *st = ctx->priv;

	free(st->d);
	st->d = NULL;
}

const struct pe_kind pe_kind_dnsbl = {
	.name = "dnsbl",
	.flags = PE_K_TASK,
	.priv_size = sizeof(struct dnsbl),
	.dns_rounds = 2,		/* the A queries, then a listing's TXT */
	.start = dnsbl_start,
	.cleanup = dnsbl_cleanup,
};
