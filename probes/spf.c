/*
 * spf.c - see spf.h.  Terms are read left to right; the first mechanism
 * that matches gives its qualifier's result; none: neutral.
 */
#include "config.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include "spf.h"

#define REC_MAX 1024		/* longer records: permerror (RFC 7208 wants
				 * them to fit in a 512-byte UDP reply) */

const char *
pe_spf_name(enum pe_spf r)
{
	static const char *const names[] = { "none", "pass", "fail", "softfail", "neutral",
		"unknown", "permerror", "temperror" };

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "unknown";
}

int
pe_spf_is_record(const char *rec, size_t len)
{
	return len >= 6 && strncasecmp(rec, "v=spf1", 6) == 0 && (len == 6 || rec[6] == ' ');
}

static int
is_v4(const unsigned char a[16])
{
	static const unsigned char pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pfx, 12) == 0;
}

/* do a and b agree in their first bits bits? */
static int
prefix_eq(const unsigned char a[16], const unsigned char b[16], int bits)
{
	int bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)bytes) != 0)
		return 0;
	return rest == 0 || ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest))) == 0;
}

static int
in_list(const unsigned char client[16], const unsigned char (*l)[16], size_t n, int c4, int c6)
{
	int v4 = is_v4(client);

	for (size_t i = 0; i < n; i++)
		if (is_v4(l[i]) == v4 && prefix_eq(client, l[i], v4 ? 96 + c4 : c6))
			return 1;
	return 0;
}

/* "N" within 0..max at *p; -1 if not */
static int
cidr(const char **p, int max)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)**p))
		return -1;
	v = strtol(*p, &end, 10);
	if (v > max || end - *p > 3)
		return -1;
	*p = end;
	return (int)v;
}

/* "[:domain][/c4][//c6]" after a or mx; 0 ok (dom NULL = none given) */
static int
dual_cidr(const char *p, const char **dom, size_t *domlen, int *c4, int *c6)
{
	*dom = NULL;
	*domlen = 0;
	*c4 = 32;
	*c6 = 128;
	if (*p == ':') {
		*dom = ++p;
		while (*p != '\0' && *p != '/')
			p++;
		*domlen = (size_t)(p - *dom);
		if (*domlen == 0)
			return -1;
	}
	if (p[0] == '/' && p[1] != '/') {
		p++;
		if ((*c4 = cidr(&p, 32)) < 0)
			return -1;
	}
	if (p[0] == '/' && p[1] == '/') {
		p += 2;
		if ((*c6 = cidr(&p, 128)) < 0)
			return -1;
	}
	return *p == '\0' ? 0 : -1;
}

/* an "a" or "mx" of the domain itself (no other domain, no macro)? */
static int
own_domain(const char *dom, size_t len, const char *domain)
{
	if (dom == NULL)
		return 1;
	if (len > 0 && dom[len - 1] == '.')
		len--;
	return memchr(dom, '%', len) == NULL && strlen(domain) == len &&
	    strncasecmp(dom, domain, len) == 0;
}

static enum pe_spf
qualified(char q)
{
	switch (q) {
	case '-': return PE_SPF_FAIL;
	case '~': return PE_SPF_SOFTFAIL;
	case '?': return PE_SPF_NEUTRAL;
	default: return PE_SPF_PASS;
	}
}

/* one mechanism: 1 match, 0 no match, -1 cannot say (unknown), -2 bad,
 * -3 its data could not be had (temperror, RFC 7208 5.4, 5.3) */
static int
mechanism(const char *t, const struct pe_spf_in *in, int *needs_a)
{
	const char *dom;
	size_t domlen;
	int c4, c6;

	if (strcasecmp(t, "all") == 0)
		return 1;
	if (strncasecmp(t, "ip4:", 4) == 0 || strncasecmp(t, "ip6:", 4) == 0) {
		int v6 = t[2] == '6', bits = v6 ? 128 : 32;
		char addr[64];
		const char *slash = strchr(t + 4, '/'), *p;
		size_t alen = slash != NULL ? (size_t)(slash - t - 4) : strlen(t + 4);
		unsigned char a[16];
		if (alen == 0 || alen >= sizeof(addr))
			return -2;
		memcpy(addr, t + 4, alen);
		addr[alen] = '\0';
		if (slash != NULL) {
			p = slash + 1;
			if ((bits = cidr(&p, v6 ? 128 : 32)) < 0 || *p != '\0')
				return -2;
		}
		memset(a, 0, sizeof(a));
		if (v6 ? inet_pton(AF_INET6, addr, a) != 1 :
		    (a[10] = a[11] = 0xff, inet_pton(AF_INET, addr, a + 12) != 1))
			return -2;
		if (is_v4(in->client) != !v6)
			return 0;
		return prefix_eq(in->client, a, v6 ? bits : 96 + bits);
	}
	if ((strncasecmp(t, "a", 1) == 0 && (t[1] == '\0' || t[1] == ':' || t[1] == '/')) ||
	    (strncasecmp(t, "mx", 2) == 0 && (t[2] == '\0' || t[2] == ':' || t[2] == '/'))) {
		int mx = tolower((unsigned char)t[0]) == 'm';
		if (dual_cidr(t + (mx ? 2 : 1), &dom, &domlen, &c4, &c6) < 0)
			return -2;
		if (!own_domain(dom, domlen, in->domain))
			return -1;
		if (!mx && needs_a != NULL)
			*needs_a = 1;
		if (mx ? in->mx_failed : in->a_failed)
			return -3;
		return mx ? in_list(in->client, in->mx, in->nmx, c4, c6) :
		    in_list(in->client, in->a, in->na, c4, c6);
	}
	if (strncasecmp(t, "include:", 8) == 0 || strncasecmp(t, "exists:", 7) == 0 ||
	    strcasecmp(t, "ptr") == 0 || strncasecmp(t, "ptr:", 4) == 0)
		return t[strlen(t) - 1] == ':' ? -2 : -1;
	return -2;
}

/* walk the record: evaluate, or (!evaluate) check every term's syntax
 * (neutral: fine) and find out whether "a" is used (RFC 7208 4.6: a term
 * that does not parse is a permerror wherever it stands) */
static enum pe_spf
walk(const char *rec, const struct pe_spf_in *in, int evaluate, int *needs_a)
{
	char buf[REC_MAX + 1], *save = NULL, *t;
	size_t len = strlen(rec);
	int redirect = 0;

	if (!pe_spf_is_record(rec, len))
		return PE_SPF_NONE;
	if (len > REC_MAX)
		return PE_SPF_PERMERROR;
	memcpy(buf, rec + 6, len - 5);
	for (t = strtok_r(buf, " ", &save); t != NULL; t = strtok_r(NULL, " ", &save)) {
		char q = '+';
		const char *eq = strchr(t, '='), *colon = strchr(t, ':'), *m;
		int rc;
		if (eq != NULL && (colon == NULL || eq < colon) && isalpha((unsigned char)t[0])) {
			/* a modifier: name=value; redirect= needs a record of its own */
			for (m = t; m < eq; m++)
				if (!isalnum((unsigned char)*m) && *m != '-' && *m != '_' && *m != '.')
					return PE_SPF_PERMERROR;
			if (strncasecmp(t, "redirect=", 9) == 0)
				redirect = 1;
			continue;
		}
		if (strchr("+-~?", t[0]) != NULL)
			q = *t++;
		if ((rc = mechanism(t, in, needs_a)) == -2)
			return PE_SPF_PERMERROR;
		if (!evaluate)
			continue;
		if (rc == -1)
			return PE_SPF_UNKNOWN;
		if (rc == -3)
			return PE_SPF_TEMPERROR;
		if (rc == 1)
			return qualified(q);
	}
	return redirect && evaluate ? PE_SPF_UNKNOWN : PE_SPF_NEUTRAL;
}

int
pe_spf_needs_a(const char *rec, const char *domain)
{
	struct pe_spf_in in;
	int needs = 0;

	memset(&in, 0, sizeof(in));
	in.domain = domain;
	walk(rec, &in, 0, &needs);
	return needs;
}

enum pe_spf
pe_spf_eval(const char *rec, const struct pe_spf_in *in)
{
	enum pe_spf r = walk(rec, in, 0, NULL);

	return r == PE_SPF_NEUTRAL ? walk(rec, in, 1, NULL) : r;
}
