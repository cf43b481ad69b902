/*
 * spf.h - the cheap part of SPF (RFC 7208), evaluated on data the fcrdns
 * check fetches anyway: a pure function, fuzzed (tests/fuzz/fuzz_dns.c).
 *
 * Evaluated: ip4, ip6, a and mx of the domain itself (with /cidr and
 * //cidr6), all, the qualifiers.  Not evaluated: include, exists, ptr, a
 * or mx of another domain, macros, redirect= (each would cost queries of
 * its own, and libspf2 is synchronous): when one of them comes before a
 * mechanism that matches, the result is "unknown".  More than one
 * v=spf1 record or a term that does not parse is "permerror".
 */
#ifndef PE_SPF_H
#define PE_SPF_H

#include <stddef.h>

enum pe_spf {
	PE_SPF_NONE = 0, PE_SPF_PASS, PE_SPF_FAIL, PE_SPF_SOFTFAIL, PE_SPF_NEUTRAL,
	PE_SPF_UNKNOWN, PE_SPF_PERMERROR, PE_SPF_TEMPERROR
};
const char *pe_spf_name(enum pe_spf);

/* addresses as 16 bytes, IPv4 as ::ffff:a.b.c.d */
struct pe_spf_in {
	const char *domain;			/* the domain whose record it is */
	unsigned char client[16];
	const unsigned char (*a)[16];		/* the domain's A or AAAA */
	size_t na;
	int a_failed;				/* ... could not be had: temperror */
	const unsigned char (*mx)[16];		/* its MX hosts' addresses */
	size_t nmx;
	int mx_failed;				/* ... could not all be had */
};

/* is rec an SPF record ("v=spf1" then a space or its end)? */
int pe_spf_is_record(const char *rec, size_t len);
/* does rec use the domain's own addresses (an "a" mechanism)? */
int pe_spf_needs_a(const char *rec, const char *domain);
/* evaluate one record */
enum pe_spf pe_spf_eval(const char *rec, const struct pe_spf_in *);

#endif
