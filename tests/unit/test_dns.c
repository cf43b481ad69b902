/*
 * The DNS checks:
 *  - the pure parts: pe_dnsbl_parse/match/qname, pe_registrable_domain,
 *    SPF (pe_spf_eval, pe_spf_needs_a, pe_spf_is_record);
 *  - the task kinds dnsbl, fcrdns and geoip in a real engine whose resolver
 *    is a scripted DNS server in this process (dnsfake.c): listings,
 *    filters, allowlists, dead and failing lists, TTLs, a TXT record too big
 *    for UDP (the fake sends it truncated with TC over UDP and whole over
 *    TCP, as a real server does: c-ares asks again over TCP), forward-
 *    confirmed rDNS with the domain's MX and SPF, PTR loops and garbage.
 */
#include "config.h"
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include "t.h"
#include "tnet.h"
#include "pe_int.h"
#include "spf.h"
#include "dnsfake.h"

/* ---- pure functions ---- */

static struct sockaddr_storage
sa_of(const char *addr)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			abort();
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			abort();
	}
	return ss;
}

static void
dnsbl_parse(void)
{
	static const struct { const char *spec, *what; } bad[] = {
		{ "bl.example=127.0.0", "filter of three octets" },
		{ "bl.example=127.0.0.2.5", "filter of five octets" },
		{ "bl.example=127.0.0.[2..]", "range without its end" },
		{ "bl.example=127.0.0.[2", "list without ]" },
		{ "bl.example=127.0.0.[]", "empty list" },
		{ "bl.example=127.0.0.[2;]", "list ending in ;" },
		{ "bl.example=127.0.0.2]", "stray ]" },
		{ "bl.example=127.0.0.x", "octet not a number" },
		{ "bl.example=127.0.0.-1", "negative octet" },
		{ "bl.example=127.0.0.256", "octet 256" },
		{ "bl.example=127.0.0.[2..256]", "range to 256" },
		{ "bl.example=127.0.0.[11..2]", "reversed range" },
		{ "bl.example=127.0.0.[1;2;3;4;5;6;7;8;9;10;11;12;13;14;15;16;17]", "17 ranges in one octet" },
		{ "bl.example=", "empty filter" },
		{ "bl.example=127.0.0.2=127.0.0.3", "two filters" },
		{ "bl.example*0", "weight 0" },
		{ "bl.example*-0", "weight -0" },
		{ "bl.example*1001", "weight 1001" },
		{ "bl.example*-1001", "weight -1001" },
		{ "bl.example*99999999999999999999999", "weight overflowing a long" },
		{ "bl.example*abc", "weight not a number" },
		{ "bl.example*3x", "weight with garbage after it" },
		{ "bl.example*", "empty weight" },
		{ "bl.example*2=127.0.0.2", "weight before the filter" },
		{ "", "empty spec" },
		{ "=127.0.0.2", "empty domain before =" },
		{ "*3", "empty domain before *" },
		{ "a..b", "a..b" },
		{ ".bl.example", "leading dot" },
		{ "bl.example.", "trailing dot" },
		{ "bl example", "space in the domain" },
		{ " bl.example", "leading space" },
		{ "bl.example ", "trailing space" },
		{ "bl.example=127.0.0.2 ", "trailing space after the filter" },
		{ "bl/example", "slash in the domain" },
		{ "bl.ex\xc3\xa4mple", "non-ASCII domain" },
	};
	struct pe_dnsbl_site s;
	char err[256], big[1001], name[160];
	int ok;

	ok = pe_dnsbl_parse("bl.example=127.0.0.[2..11;20]*-3", &s, err, sizeof(err)) == 0;
	T_OK(ok && strcmp(s.domain, "bl.example") == 0 && s.weight == -3 && s.has_filter &&
	    s.nranges[0] == 1 && s.lo[0][0] == 127 && s.hi[0][0] == 127 &&
	    s.nranges[1] == 1 && s.lo[1][0] == 0 && s.nranges[2] == 1 && s.hi[2][0] == 0 &&
	    s.nranges[3] == 2 && s.lo[3][0] == 2 && s.hi[3][0] == 11 && s.lo[3][1] == 20 &&
	    s.hi[3][1] == 20, "parse: domain=127.0.0.[2..11;20]*-3");
	if (ok) {
		const unsigned char a2[4] = { 127, 0, 0, 2 }, a11[4] = { 127, 0, 0, 11 },
		    a12[4] = { 127, 0, 0, 12 }, a20[4] = { 127, 0, 0, 20 }, a1[4] = { 127, 0, 0, 1 },
		    b2[4] = { 127, 0, 1, 2 }, c2[4] = { 128, 0, 0, 2 };
		T_OK(pe_dnsbl_match(&s, a2) && pe_dnsbl_match(&s, a11) && pe_dnsbl_match(&s, a20),
		    "match: 127.0.0.2, .11 (range ends) and .20 (list) pass the filter");
		T_OK(!pe_dnsbl_match(&s, a12) && !pe_dnsbl_match(&s, a1) && !pe_dnsbl_match(&s, b2) &&
		    !pe_dnsbl_match(&s, c2), "match: 127.0.0.12, .1, 127.0.1.2, 128.0.0.2 do not");
	}
	pe_dnsbl_site_free(&s);
	T_OK(s.domain == NULL, "site_free clears the domain");

	ok = pe_dnsbl_parse("Zen.Example.ORG", &s, err, sizeof(err)) == 0;
	T_OK(ok && strcmp(s.domain, "zen.example.org") == 0 && s.weight == 1 && !s.has_filter,
	    "parse: a bare domain: lowercased, weight 1, no filter");
	if (ok) {
		const unsigned char any[4] = { 10, 1, 2, 3 };
		T_OK(pe_dnsbl_match(&s, any), "match: no filter takes any answer");
	}
	pe_dnsbl_site_free(&s);
	ok = pe_dnsbl_parse("b_l-1.example=127.[0..255].0.2*1000", &s, err, sizeof(err)) == 0;
	T_OK(ok && strcmp(s.domain, "b_l-1.example") == 0 && s.weight == 1000 &&
	    s.nranges[1] == 1 && s.lo[1][0] == 0 && s.hi[1][0] == 255,
	    "parse: '_' and '-' in the domain, [0..255], weight 1000");
	pe_dnsbl_site_free(&s);
	T_OK(pe_dnsbl_parse("wl.example*-1000", &s, err, sizeof(err)) == 0 && s.weight == -1000,
	    "parse: weight -1000");
	pe_dnsbl_site_free(&s);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		snprintf(name, sizeof(name), "parse refuses %s", bad[i].what);
		ok = pe_dnsbl_parse(bad[i].spec, &s, err, sizeof(err));
		T_OK(ok < 0 && s.domain == NULL && err[0] != '\0', name);
		pe_dnsbl_site_free(&s);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	T_OK(pe_dnsbl_parse(big, &s, err, sizeof(err)) < 0 && s.domain == NULL,
	    "parse refuses a 1000-char domain");
	memcpy(big, "bl.example=", 11);
	T_OK(pe_dnsbl_parse(big, &s, err, sizeof(err)) < 0 && s.domain == NULL,
	    "parse refuses a 1000-char filter");
	memcpy(big, "bl.example*", 11);
	memset(big + 11, '9', sizeof(big) - 12);
	T_OK(pe_dnsbl_parse(big, &s, err, sizeof(err)) < 0 && s.domain == NULL,
	    "parse refuses a 1000-char weight");
	T_OK(pe_dnsbl_parse("bl.example=127.0.0.256", &s, err, 8) < 0 && strlen(err) == 7,
	    "parse: the message is capped at the buffer");
}

static void
dnsbl_qname(void)
{
	struct sockaddr_storage v4 = sa_of("192.0.2.1"), v6 = sa_of("::1"),
	    m = sa_of("::ffff:198.51.100.7"), d6 = sa_of("2001:db8:1::ab");
	char buf[256], want[256];
	size_t at = 0;

	T_OK(pe_dnsbl_qname((struct sockaddr *)&v4, "bl.example", buf, sizeof(buf)) == 0,
	    "qname: IPv4 fits");
	T_STREQ(buf, "1.2.0.192.bl.example", "qname: IPv4 reversed octets");
	at += (size_t)snprintf(want, sizeof(want), "1.");
	for (int i = 0; i < 31; i++)
		at += (size_t)snprintf(want + at, sizeof(want) - at, "0.");
	snprintf(want + at, sizeof(want) - at, "bl.example");
	T_OK(pe_dnsbl_qname((struct sockaddr *)&v6, "bl.example", buf, sizeof(buf)) == 0,
	    "qname: IPv6 fits");
	T_STREQ(buf, want, "qname: ::1 is 32 nibbles, lowest first");
	T_OK(pe_dnsbl_qname((struct sockaddr *)&d6, "ip6.arpa", buf, sizeof(buf)) == 0, "qname: ip6.arpa");
	T_STREQ(buf, "b.a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
	    "qname: 2001:db8:1::ab in nibbles");
	T_OK(pe_dnsbl_qname((struct sockaddr *)&m, "bl.example", buf, sizeof(buf)) == 0,
	    "qname: v4-mapped fits");
	T_STREQ(buf, "7.100.51.198.bl.example", "qname: v4-mapped IPv6 in its IPv4 form");
	/* "1.2.0.192.bl.example" is 20 bytes: 21 fit, 20 do not */
	T_OK(pe_dnsbl_qname((struct sockaddr *)&v4, "bl.example", buf, 21) == 0 &&
	    strcmp(buf, "1.2.0.192.bl.example") == 0, "qname: exactly fits (21 bytes)");
	T_OK(pe_dnsbl_qname((struct sockaddr *)&v4, "bl.example", buf, 20) < 0, "qname: one byte short: -1");
	T_OK(pe_dnsbl_qname((struct sockaddr *)&v4, "bl.example", buf, 5) < 0, "qname: IPv4 in 5 bytes: -1");
	T_OK(pe_dnsbl_qname((struct sockaddr *)&v6, "bl.example", buf, 20) < 0, "qname: IPv6 in 20 bytes: -1");
	T_OK(pe_dnsbl_qname((struct sockaddr *)&v6, "bl.example", buf, 64) < 0, "qname: IPv6 nibbles fit, domain not: -1");
	{
		/* nothing written past the length given */
		char guard[80];
		memset(guard, 'G', sizeof(guard));
		(void)pe_dnsbl_qname((struct sockaddr *)&v6, "bl.example", guard, 40);
		T_OK(guard[40] == 'G' && guard[79] == 'G', "qname: nothing written past a short buffer");
	}
}

static void
registrable(void)
{
	static const struct { const char *in, *out; } good[] = {
		{ "mail.example.co.uk", "example.co.uk" },
		{ "a.b.lab.invalid", "lab.invalid" },
		{ "EXAMPLE.org.", "example.org" },
		{ "example.org", "example.org" },
		{ "Mx1.Mail.Example.COM", "example.com" },
		{ "xn--bcher-kva.example", "xn--bcher-kva.example" },
		{ "_dmarc.example.net", "example.net" },
	};
	static const struct { const char *in, *what; } bad[] = {
		{ "co.uk", "a public suffix (co.uk)" },
		{ "uk", "a TLD" },
		{ "192.0.2.1", "an IPv4 address" },
		{ "2001:db8::1", "an IPv6 address" },
		{ "m\xc3\xa4il.example.org", "UTF-8 bytes" },
		{ "mail.ex\x80mple.org", "a byte 0x80" },
		{ "mail example.org", "a space" },
		{ "", "empty" },
		{ ".", "a lone dot" },
		{ "mail.example.org/x", "a slash" },
	};
	char buf[256], name[128], big[301];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(name, sizeof(name), "registrable domain of %s", good[i].in);
		buf[0] = '\0';
		if (pe_registrable_domain(good[i].in, buf, sizeof(buf)) < 0)
			snprintf(buf, sizeof(buf), "(-1)");
		T_STREQ(buf, good[i].out, name);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "no registrable domain: %s", bad[i].what);
		T_OK(pe_registrable_domain(bad[i].in, buf, sizeof(buf)) < 0, name);
	}
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 63; i < sizeof(big) - 1; i += 64)
		big[i] = '.';
	T_OK(pe_registrable_domain(big, buf, sizeof(buf)) < 0, "no registrable domain: a 300-char name");
	T_OK(pe_registrable_domain("mail.example.org", buf, 11) < 0, "buffer too small for example.org: -1");
	T_OK(pe_registrable_domain("mail.example.org", buf, 12) == 0 && strcmp(buf, "example.org") == 0,
	    "buffer of exactly 12 bytes for example.org");
}

/* ---- SPF ---- */

static void
addr16(const char *s, unsigned char out[16])
{
	memset(out, 0, 16);
	if (strchr(s, ':') != NULL) {
		if (inet_pton(AF_INET6, s, out) != 1)
			abort();
	} else {
		out[10] = out[11] = 0xff;
		if (inet_pton(AF_INET, s, out + 12) != 1)
			abort();
	}
}

static int spf_a_failed, spf_mx_failed;	/* the next spf()'s lookups failed */

/* evaluate rec for client with the domain's A and MX addresses (NULL-ended) */
static enum pe_spf
spf(const char *rec, const char *client, const char *const *a, const char *const *mx)
{
	static unsigned char aa[8][16], mm[8][16];
	struct pe_spf_in in;
	size_t na = 0, nmx = 0;

	memset(&in, 0, sizeof(in));
	in.domain = "example.org";
	addr16(client, in.client);
	for (; a != NULL && a[na] != NULL && na < 8; na++)
		addr16(a[na], aa[na]);
	for (; mx != NULL && mx[nmx] != NULL && nmx < 8; nmx++)
		addr16(mx[nmx], mm[nmx]);
	in.a = (const unsigned char (*)[16])aa;
	in.na = na;
	in.mx = (const unsigned char (*)[16])mm;
	in.nmx = nmx;
	in.a_failed = spf_a_failed;
	in.mx_failed = spf_mx_failed;
	return pe_spf_eval(rec, &in);
}

#define SPF(rec, client, a, mx, want, name) \
	T_STREQ(pe_spf_name(spf(rec, client, a, mx)), pe_spf_name(want), name)

static void
spf_eval(void)
{
	static const char *const a_self[] = { "192.0.2.10", NULL }, *const a_near[] = { "192.0.2.99", NULL },
	    *const a_v6[] = { "2001:db8::99", NULL }, *const mx_self[] = { "198.51.100.1", "192.0.2.10", NULL };
	const char *c4 = "192.0.2.10", *c6 = "2001:db8::5";
	char big[2100];
	size_t at;

	SPF("v=spf1 ip4:192.0.2.10 -all", c4, NULL, NULL, PE_SPF_PASS, "spf: ip4 exact: pass");
	spf_mx_failed = 1;
	SPF("v=spf1 mx -all", c4, NULL, NULL, PE_SPF_TEMPERROR, "spf: mx whose lookup failed: temperror, not fail");
	SPF("v=spf1 ip4:192.0.2.10 mx -all", c4, NULL, NULL, PE_SPF_PASS,
	    "spf: a match before the failed mx: pass");
	spf_mx_failed = 0;
	spf_a_failed = 1;
	SPF("v=spf1 a ~all", c4, NULL, NULL, PE_SPF_TEMPERROR, "spf: a whose lookup failed: temperror");
	SPF("v=spf1 ip4:192.0.2.10 a -all", c4, NULL, NULL, PE_SPF_PASS, "spf: a match before the failed a: pass");
	spf_a_failed = 0;
	SPF("v=spf1 ip4:192.0.2.10 foo:bar", c4, NULL, NULL, PE_SPF_PERMERROR,
	    "spf: a bad term after the match: permerror (the whole record is checked first)");
	SPF("v=spf1 ip4:192.0.2.11 -all", c4, NULL, NULL, PE_SPF_FAIL, "spf: ip4 another: -all: fail");
	SPF("v=spf1 ip4:192.0.2.0/24 -all", c4, NULL, NULL, PE_SPF_PASS, "spf: ip4/24: pass");
	SPF("v=spf1 ip4:192.0.2.8/30 -all", c4, NULL, NULL, PE_SPF_PASS, "spf: ip4/30 around .10: pass");
	SPF("v=spf1 ip4:192.0.2.12/30 -all", c4, NULL, NULL, PE_SPF_FAIL, "spf: ip4/30 beside .10: fail");
	SPF("v=spf1 ip4:0.0.0.0/0 -all", c4, NULL, NULL, PE_SPF_PASS, "spf: ip4/0: pass");
	SPF("v=spf1 ip4:198.51.100.0/24 -all", c4, NULL, NULL, PE_SPF_FAIL, "spf: ip4 other net: fail");
	SPF("v=spf1 ip6:2001:db8::/32 -all", c6, NULL, NULL, PE_SPF_PASS, "spf: ip6/32: pass");
	SPF("v=spf1 ip6:2001:db8::5 -all", c6, NULL, NULL, PE_SPF_PASS, "spf: ip6 exact: pass");
	SPF("v=spf1 ip6:2001:db9::/32 -all", c6, NULL, NULL, PE_SPF_FAIL, "spf: ip6 other net: fail");
	SPF("v=spf1 ip6:::/0 -all", c4, NULL, NULL, PE_SPF_FAIL, "spf: ip6 never matches an IPv4 client");
	SPF("v=spf1 ip4:0.0.0.0/0 -all", c6, NULL, NULL, PE_SPF_FAIL, "spf: ip4 never matches an IPv6 client");
	SPF("v=spf1 a -all", c4, a_self, NULL, PE_SPF_PASS, "spf: a with the domain's address: pass");
	SPF("v=spf1 a -all", c4, a_near, NULL, PE_SPF_FAIL, "spf: a, another address: fail");
	SPF("v=spf1 a -all", c4, NULL, NULL, PE_SPF_FAIL, "spf: a, the domain has no address: fail");
	SPF("v=spf1 a/24 -all", c4, a_near, NULL, PE_SPF_PASS, "spf: a/24: pass");
	SPF("v=spf1 a/24 -all", c6, a_v6, NULL, PE_SPF_FAIL, "spf: a/24 says nothing of IPv6 (/128): fail");
	SPF("v=spf1 a//64 -all", c6, a_v6, NULL, PE_SPF_PASS, "spf: a//64: pass");
	SPF("v=spf1 a/24//64 -all", c4, a_near, NULL, PE_SPF_PASS, "spf: a/24//64 for IPv4: pass");
	SPF("v=spf1 a:example.org -all", c4, a_self, NULL, PE_SPF_PASS, "spf: a:own-domain: pass");
	SPF("v=spf1 a:EXAMPLE.ORG. -all", c4, a_self, NULL, PE_SPF_PASS, "spf: a:OWN-DOMAIN. (case, dot): pass");
	SPF("v=spf1 mx -all", c4, NULL, mx_self, PE_SPF_PASS, "spf: mx, the client is an MX host: pass");
	SPF("v=spf1 mx -all", c4, a_self, NULL, PE_SPF_FAIL, "spf: mx, it is not: fail");
	SPF("v=spf1 mx/24 -all", c4, NULL, a_near, PE_SPF_PASS, "spf: mx/24: pass");
	SPF("v=spf1 -all", c4, NULL, NULL, PE_SPF_FAIL, "spf: -all: fail");
	SPF("v=spf1 ~all", c4, NULL, NULL, PE_SPF_SOFTFAIL, "spf: ~all: softfail");
	SPF("v=spf1 ?all", c4, NULL, NULL, PE_SPF_NEUTRAL, "spf: ?all: neutral");
	SPF("v=spf1 +all", c4, NULL, NULL, PE_SPF_PASS, "spf: +all: pass");
	SPF("v=spf1 all", c4, NULL, NULL, PE_SPF_PASS, "spf: all: pass");
	SPF("v=spf1 -ip4:192.0.2.10 +all", c4, NULL, NULL, PE_SPF_FAIL, "spf: -ip4 matching: fail");
	SPF("v=spf1 ~ip4:192.0.2.10 -all", c4, NULL, NULL, PE_SPF_SOFTFAIL, "spf: ~ip4 matching: softfail");
	SPF("v=spf1 ip4:198.51.100.1", c4, NULL, NULL, PE_SPF_NEUTRAL, "spf: nothing matches: neutral");
	SPF("v=spf1", c4, NULL, NULL, PE_SPF_NEUTRAL, "spf: an empty record: neutral");
	SPF("v=spf1   ip4:192.0.2.10   -all  ", c4, NULL, NULL, PE_SPF_PASS, "spf: extra spaces");
	SPF("v=spf1 include:_spf.example.net ip4:192.0.2.10 -all", c4, NULL, NULL, PE_SPF_UNKNOWN,
	    "spf: include before the match: unknown");
	SPF("v=spf1 ip4:192.0.2.10 include:_spf.example.net -all", c4, NULL, NULL, PE_SPF_PASS,
	    "spf: include after the match: the match");
	SPF("v=spf1 ip4:192.0.2.99 include:_spf.example.net -all", c4, NULL, NULL, PE_SPF_UNKNOWN,
	    "spf: include before -all: unknown");
	SPF("v=spf1 a:other.example -all", c4, a_self, NULL, PE_SPF_UNKNOWN, "spf: a:otherdomain: unknown");
	SPF("v=spf1 mx:other.example -all", c4, NULL, mx_self, PE_SPF_UNKNOWN, "spf: mx:otherdomain: unknown");
	SPF("v=spf1 a:%{d}.example -all", c4, a_self, NULL, PE_SPF_UNKNOWN, "spf: a with a macro: unknown");
	SPF("v=spf1 exists:%{i}.bl.example -all", c4, NULL, NULL, PE_SPF_UNKNOWN, "spf: exists: unknown");
	SPF("v=spf1 ptr -all", c4, NULL, NULL, PE_SPF_UNKNOWN, "spf: ptr: unknown");
	SPF("v=spf1 redirect=_spf.example.net", c4, NULL, NULL, PE_SPF_UNKNOWN,
	    "spf: redirect= and nothing matched: unknown");
	SPF("v=spf1 ip4:192.0.2.10 redirect=_spf.example.net", c4, NULL, NULL, PE_SPF_PASS,
	    "spf: redirect= after a match: the match");
	SPF("v=spf1 exp=explain.example.org ip4:192.0.2.99", c4, NULL, NULL, PE_SPF_NEUTRAL,
	    "spf: an unknown modifier is ignored");
	SPF("v=spf1 ip4:300.1.1.1 -all", c4, NULL, NULL, PE_SPF_PERMERROR, "spf: ip4:300.1.1.1: permerror");
	SPF("v=spf1 foo:bar -all", c4, NULL, NULL, PE_SPF_PERMERROR, "spf: foo:bar: permerror");
	SPF("v=spf1 ip4:1.2.3.4/33 -all", c4, NULL, NULL, PE_SPF_PERMERROR, "spf: ip4/33: permerror");
	SPF("v=spf1 ip4:1.2.3.4/ -all", c4, NULL, NULL, PE_SPF_PERMERROR, "spf: ip4/ (no bits): permerror");
	SPF("v=spf1 ip6:2001:db8::/129 -all", c6, NULL, NULL, PE_SPF_PERMERROR, "spf: ip6/129: permerror");
	SPF("v=spf1 ip4: -all", c4, NULL, NULL, PE_SPF_PERMERROR, "spf: ip4: (empty): permerror");
	/* RFC 7208 4.6: a syntax error anywhere in the record is permerror,
	 * "without further interpretation or evaluation" (spf.h: "a term
	 * that does not parse is permerror") */
	SPF("v=spf1 ip4:192.0.2.10 foo:bar", c4, NULL, NULL, PE_SPF_PERMERROR,
	    "spf: a bad term after the match: permerror (RFC 7208 4.6)");
	SPF("v=spf1 include:_spf.example.net ip4:300.1.1.1 -all", c4, NULL, NULL, PE_SPF_PERMERROR,
	    "spf: a bad term after an include: permerror, not unknown");
	SPF("v=spf1 include: -all", c4, NULL, NULL, PE_SPF_PERMERROR, "spf: include: (empty): permerror");
	SPF("v=spf1 a/33 -all", c4, a_self, NULL, PE_SPF_PERMERROR, "spf: a/33: permerror");
	SPF("v=spf1 a: -all", c4, a_self, NULL, PE_SPF_PERMERROR, "spf: a: (empty): permerror");
	SPF("v=spf1 - -all", c4, NULL, NULL, PE_SPF_PERMERROR, "spf: a lone qualifier: permerror");
	SPF("v=spf1 re%direct=x -all", c4, NULL, NULL, PE_SPF_PERMERROR, "spf: a bad modifier name: permerror");
	SPF("V=SPF1 IP4:192.0.2.10 -ALL", c4, NULL, NULL, PE_SPF_PASS, "spf: uppercase V=SPF1 IP4:...: pass");
	SPF("V=SPF1 IP4:192.0.2.99 -ALL", c4, NULL, NULL, PE_SPF_FAIL, "spf: uppercase -ALL: fail");
	SPF("v=spf10 ip4:192.0.2.10 -all", c4, NULL, NULL, PE_SPF_NONE, "spf: v=spf10 is no record: none");
	SPF("spf1 -all", c4, NULL, NULL, PE_SPF_NONE, "spf: no v=: none");
	SPF("", c4, NULL, NULL, PE_SPF_NONE, "spf: empty: none");

	at = (size_t)snprintf(big, sizeof(big), "v=spf1");
	while (at + 18 < 2000)
		at += (size_t)snprintf(big + at, sizeof(big) - at, " ip4:198.51.100.99");
	snprintf(big + at, sizeof(big) - at, " ip4:192.0.2.10 -all");
	T_OK(strlen(big) > 2000, "spf: a 2000-byte record built");
	SPF(big, c4, NULL, NULL, PE_SPF_PERMERROR, "spf: a 2000-byte record: permerror");
	big[6 + 55 * 18] = '\0';	/* 55 whole terms: 996 bytes */
	SPF(big, c4, NULL, NULL, PE_SPF_NEUTRAL, "spf: a 996-byte record is evaluated");

	T_OK(pe_spf_is_record("v=spf1", 6) && pe_spf_is_record("v=spf1 -all", 11) &&
	    pe_spf_is_record("V=SpF1 a", 8), "is_record: v=spf1, v=spf1 ..., any case");
	T_OK(!pe_spf_is_record("v=spf10", 7) && !pe_spf_is_record("v=spf", 5) &&
	    !pe_spf_is_record("v=spf1-all", 10) && !pe_spf_is_record("x v=spf1", 8) &&
	    !pe_spf_is_record("", 0), "is_record: v=spf10, v=spf, v=spf1-all, x v=spf1, empty are not");
	T_OK(!pe_spf_is_record("v=spf1 -all", 5), "is_record: only len bytes count");
	T_OK(pe_spf_needs_a("v=spf1 a -all", "example.org") && pe_spf_needs_a("v=spf1 a/24 -all", "example.org") &&
	    pe_spf_needs_a("v=spf1 include:x.example a:example.org -all", "example.org"),
	    "needs_a: a, a/24, a:own (after an include)");
	T_OK(!pe_spf_needs_a("v=spf1 mx -all", "example.org") &&
	    !pe_spf_needs_a("v=spf1 a:other.example -all", "example.org") &&
	    !pe_spf_needs_a("v=spf1 ip4:192.0.2.1 all", "example.org") &&
	    !pe_spf_needs_a("v=spf10 a", "example.org") && !pe_spf_needs_a("v=spf1 ~all", "example.org"),
	    "needs_a: not for mx, a:other, ip4, v=spf10, all");
}

/* ---- the engine against the scripted server ---- */

static struct dnsfake *df;
static struct pe_engine *eng;
static struct pe_dnsbl_site sites[12];
static struct pe_checks ck;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static double req_timeout = 3.0;	/* pe_timing.timeout of the requests */

struct outcome {
	int done, prov, prov_listed, results;
	enum pe_verdict v;
	int score, ttl;
	double elapsed;
	size_t nfind;
	struct pe_finding f[8];
	char findings[512], reason[32];
	/* the result lines, by kind */
	char dreason[32], ddetail[PE_DETAIL_MAX], freason[32], fdetail[PE_DETAIL_MAX],
	    greason[32], gfind[128];
};

static void
on_result(const struct pe_result *r, void *arg)
{
	struct outcome *o = arg;

	pthread_mutex_lock(&mu);
	o->results++;
	if (strcmp(r->proto, "dnsbl") == 0) {
		snprintf(o->dreason, sizeof(o->dreason), "%s", r->reason);
		snprintf(o->ddetail, sizeof(o->ddetail), "%s", r->detail);
	} else if (strcmp(r->proto, "fcrdns") == 0) {
		snprintf(o->freason, sizeof(o->freason), "%s", r->reason);
		snprintf(o->fdetail, sizeof(o->fdetail), "%s", r->detail);
	} else if (strcmp(r->proto, "geoip") == 0) {
		snprintf(o->greason, sizeof(o->greason), "%s", r->reason);
		snprintf(o->gfind, sizeof(o->gfind), "%s", r->findings);
	}
	pthread_mutex_unlock(&mu);
}

static void
on_done(const struct pe_summary *s, void *arg)
{
	struct outcome *o = arg;

	pthread_mutex_lock(&mu);
	if (!s->final) {
		o->prov++;
		o->prov_listed += s->verdict == PE_V_LISTED;
	} else {
		o->v = s->verdict;
		o->score = s->score;
		o->ttl = s->ttl;
		o->elapsed = s->elapsed;
		o->nfind = s->nfindings < 8 ? s->nfindings : 8;
		if (o->nfind > 0)	/* s->finding is NULL when there are none */
			memcpy(o->f, s->finding, o->nfind * sizeof(*o->f));
		snprintf(o->findings, sizeof(o->findings), "%s", s->findings);
		snprintf(o->reason, sizeof(o->reason), "%s", s->reason);
		o->done = 1;
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
}

/* the sites of the next requests, from specs */
static void
set_sites(const char *const *specs, size_t n)
{
	char err[256];

	for (size_t i = 0; i < ck.nsites; i++)
		pe_dnsbl_site_free(&sites[i]);
	ck.nsites = 0;
	for (size_t i = 0; i < n && i < sizeof(sites) / sizeof(sites[0]); i++) {
		if (pe_dnsbl_parse(specs[i], &sites[i], err, sizeof(err)) < 0) {
			printf("# %s\n", err);
			abort();
		}
		ck.nsites++;
	}
	ck.sites = sites;
}

/*
 * One request for client with the kinds named in kinds ("dnsbl fcrdns"),
 * waited for (5 s at most): 1 when it ended.
 */
static int
run(const char *client, const char *kinds, struct outcome *o)
{
	struct sockaddr_storage ss = sa_of(client);
	struct pe_timing tm = { .connect_timeout = 1.0, .timeout = req_timeout, .retries = 0, .checks = &ck };
	struct pe_test t[3];
	size_t n = 0;
	char buf[64], *save = NULL;
	struct timespec ts;

	memset(o, 0, sizeof(*o));
	snprintf(buf, sizeof(buf), "%s", kinds);
	for (char *k = strtok_r(buf, " ", &save); k != NULL && n < 3; k = strtok_r(NULL, " ", &save)) {
		if ((t[n].kind = pe_kind_find(k)) == NULL)
			abort();
		t[n++].port = 0;
	}
	if (pe_submit(eng, (struct sockaddr *)&ss, ss.ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6), t, n, &tm, 0, o) < 0)
		abort();
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&mu);
	while (!o->done && pthread_cond_timedwait(&cv, &mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&mu);
	if (!o->done) {
		/* the engine still owns o: never return while it may write it */
		printf("FAIL: test_dns: request for %s (%s) did not end in 5 s\n", client, kinds);
		fflush(stdout);
		_exit(1);
	}
	return 1;
}

/* the findings text with its words sorted: for requests of several kinds,
 * whose findings come in the order the kinds end */
static const char *
sorted(const char *text)
{
	static char out[512];
	char buf[512], *w[32], *save = NULL;
	size_t n = 0, at = 0;

	snprintf(buf, sizeof(buf), "%s", text);
	for (char *k = strtok_r(buf, " ", &save); k != NULL && n < 32; k = strtok_r(NULL, " ", &save))
		w[n++] = k;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(w[j - 1], w[j]) > 0; j--) {
			char *x = w[j];
			w[j] = w[j - 1];
			w[j - 1] = x;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		at += (size_t)snprintf(out + at, sizeof(out) - at, "%s%s", i ? " " : "", w[i]);
	return out;
}

/* a reverse name: in-addr.arpa / ip6.arpa of client */
static const char *
rev(const char *client, const char *domain)
{
	static char q[256];
	struct sockaddr_storage ss = sa_of(client);

	if (pe_dnsbl_qname((struct sockaddr *)&ss, domain, q, sizeof(q)) < 0)
		abort();
	return q;
}

#define ROW(q, t, act, delay) df_add(df, (q), (t), (act), (delay))

static void
dnsbl_engine(void)
{
	static const char *const one[] = { "bl.example=127.0.0.[2..11]*3" };
	static const char *const allow[] = { "bl.example*2", "wl.example*-5" };
	static const char *const deadplus[] = { "dead.example", "bl.example=127.0.0.[2..11]*3" };
	static const char *const dead[] = { "dead.example" };
	static const char *const sf[] = { "sf.example*2" };
	struct df_entry *e;
	struct df_stats st0, st1;
	struct pe_stats ps0, ps1;
	struct outcome o;
	char huge[40 * 255];

	/* listed, with its TXT record */
	e = ROW(rev("192.0.2.1", "bl.example"), ns_t_a, DF_REPLY, 0);
	df_a(e, NULL, 3600, "127.0.0.2");
	e = ROW(rev("192.0.2.1", "bl.example"), ns_t_txt, DF_REPLY, 0);
	df_txt(e, 3600, "listed: see http://bl.example/192.0.2.1", 39);
	/* an answer outside the filter */
	df_a(ROW(rev("192.0.2.2", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 3600, "127.0.0.12");
	/* two addresses: the second one passes */
	e = ROW(rev("192.0.2.3", "bl.example"), ns_t_a, DF_REPLY, 0);
	df_a(e, NULL, 3600, "127.0.0.1");
	df_a(e, NULL, 3600, "127.0.0.4");
	/* blocklist and (slower) allowlist */
	df_a(ROW(rev("192.0.2.4", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 600, "127.0.0.2");
	df_a(ROW(rev("192.0.2.4", "wl.example"), ns_t_a, DF_REPLY, 150), NULL, 600, "127.0.0.2");
	df_a(ROW(rev("192.0.2.5", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 600, "127.0.0.2");
	ROW(rev("192.0.2.5", "wl.example"), ns_t_a, DF_NXDOMAIN, 150);
	/* dead and failing lists */
	ROW(rev("192.0.2.6", "dead.example"), ns_t_a, DF_DROP, 0);
	ROW(rev("192.0.2.12", "dead.example"), ns_t_a, DF_DROP, 0);
	df_a(ROW(rev("192.0.2.12", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 600, "127.0.0.3");
	ROW(rev("192.0.2.7", "sf.example"), ns_t_a, DF_SERVFAIL, 0);
	/* TTLs */
	df_a(ROW(rev("192.0.2.8", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 0, "127.0.0.2");
	df_a(ROW(rev("192.0.2.9", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 2147483647u, "127.0.0.2");
	df_a(ROW(rev("192.0.2.13", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 4294967295u, "127.0.0.2");
	/* a TXT record of 40 strings of 255 bytes: over UDP it is truncated */
	df_a(ROW(rev("192.0.2.10", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 3600, "127.0.0.2");
	memset(huge, 'x', sizeof(huge));
	memcpy(huge, "huge", 4);
	e = ROW(rev("192.0.2.10", "bl.example"), ns_t_txt, DF_REPLY, 0);
	T_OK(df_txt(e, 3600, huge, sizeof(huge)) == 0, "fake: a 10200-byte TXT record built");
	/* IPv6 and v4-mapped clients */
	df_a(ROW(rev("2001:db8::25", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 3600, "127.0.0.2");
	df_a(ROW(rev("192.0.2.11", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 3600, "127.0.0.2");

	set_sites(one, 1);
	run("192.0.2.1", "dnsbl", &o);
	T_OK(o.v == PE_V_LISTED && o.score == 3, "dnsbl: listed: class listed, score 3");
	T_STREQ(o.findings, "dnsbl=bl.example(3)", "dnsbl: listed: finding dnsbl=bl.example(3)");
	T_OK(o.nfind == 1 && o.f[0].fclass == PE_F_DNSBL && o.f[0].weight == 3 && o.f[0].ttl == 3600,
	    "dnsbl: listed: the record: class dnsbl, weight 3, ttl 3600");
	T_OK(o.ttl == 3600, "dnsbl: listed: summary ttl is the answer's (3600)");
	T_STREQ(o.dreason, "listed", "dnsbl: listed: result reason");
	T_STREQ(o.ddetail, "bl.example:listed: see http://bl.example/192.0.2.1", "dnsbl: listed: TXT in the detail");
	T_OK(o.prov_listed >= 1, "dnsbl: listed went out provisionally while the TXT query was out");

	run("192.0.2.2", "dnsbl", &o);
	T_OK(o.v == PE_V_CLEAN && o.findings[0] == '\0' && o.nfind == 0 && o.prov == 0,
	    "dnsbl: an answer outside the filter: no finding, clean");
	T_STREQ(o.dreason, "not-listed", "dnsbl: outside the filter: reason not-listed");

	run("192.0.2.3", "dnsbl", &o);
	T_STREQ(o.findings, "dnsbl=bl.example(3)", "dnsbl: two addresses, the second in the filter: listed");

	run("192.0.2.99", "dnsbl", &o);
	T_OK(o.v == PE_V_CLEAN && o.findings[0] == '\0', "dnsbl: NXDOMAIN: no finding, clean");
	T_STREQ(o.dreason, "not-listed", "dnsbl: NXDOMAIN: reason not-listed");

	set_sites(allow, 2);
	run("192.0.2.4", "dnsbl", &o);
	T_STREQ(o.findings, "dnsbl=bl.example(2) dnsbl=wl.example(-5)", "dnsbl: allowlist: both findings");
	T_OK(o.v == PE_V_CLEAN && o.score == -3, "dnsbl: allowlist outweighs the listing: clean, score -3");
	T_OK(o.prov_listed == 0, "dnsbl: the listing waited for the (slower) allowlist: never listed provisionally");
	run("192.0.2.5", "dnsbl", &o);
	T_OK(o.v == PE_V_LISTED && o.score == 2 && strcmp(o.findings, "dnsbl=bl.example(2)") == 0,
	    "dnsbl: allowlist says NXDOMAIN: listed, score 2");

	set_sites(dead, 1);
	df_get_stats(df, &st0);
	pe_get_stats(eng, &ps0);
	run("192.0.2.6", "dnsbl", &o);
	pe_get_stats(eng, &ps1);
	T_STREQ(o.findings, "dnsbl=dead.example:temperror", "dnsbl: a dead list: temperror finding");
	T_OK(o.nfind == 1 && o.f[0].weight == 0 && o.f[0].ttl == PE_DNS_TEMP_TTL && o.ttl == 60,
	    "dnsbl: dead list: weight 0, ttl 60");
	T_OK(o.v == PE_V_CLEAN && o.score == 0, "dnsbl: dead list: clean (postscreen ignores it too)");
	T_OK(o.elapsed > 0.25 && o.elapsed < 1.0, "dnsbl: dead list: the request ends after dns.timeout (0.3 s), < 1 s");
	T_STREQ(o.dreason, "temperror", "dnsbl: dead list: reason temperror");
	T_OK(ps1.dns_failures - ps0.dns_failures == 1, "dnsbl: dead list: one dns failure counted");
	set_sites(deadplus, 2);
	run("192.0.2.12", "dnsbl", &o);
	T_STREQ(o.findings, "dnsbl=bl.example(3) dnsbl=dead.example:temperror",
	    "dnsbl: listed by one, the other dead: both findings");
	T_OK(o.v == PE_V_LISTED && o.prov_listed >= 1,
	    "dnsbl: ... listed, and provisionally before the dead one timed out");

	set_sites(sf, 1);
	pe_get_stats(eng, &ps0);
	run("192.0.2.7", "dnsbl", &o);
	pe_get_stats(eng, &ps1);
	T_STREQ(o.findings, "dnsbl=sf.example:temperror", "dnsbl: SERVFAIL: temperror");
	T_OK(o.v == PE_V_CLEAN && o.elapsed < 0.25, "dnsbl: SERVFAIL: clean, and at once (no timeout)");
	T_OK(ps1.dns_failures - ps0.dns_failures == 1, "dnsbl: SERVFAIL counts as a dns failure");

	set_sites(one, 1);
	run("192.0.2.8", "dnsbl", &o);
	T_OK(o.v == PE_V_LISTED && o.ttl == PE_DNS_MIN_TTL, "dnsbl: TTL 0 -> finding ttl 60");
	run("192.0.2.9", "dnsbl", &o);
	T_OK(o.v == PE_V_LISTED && o.ttl == PE_DNS_MAX_TTL, "dnsbl: TTL 2147483647 -> 86400");
	run("192.0.2.13", "dnsbl", &o);
	T_OK(o.v == PE_V_LISTED && o.ttl == PE_DNS_MIN_TTL,
	    "dnsbl: TTL 4294967295 (high bit set: 0, RFC 2181) -> 60");

	df_get_stats(df, &st0);
	run("192.0.2.10", "dnsbl", &o);
	df_get_stats(df, &st1);
	T_OK(o.v == PE_V_LISTED && strcmp(o.findings, "dnsbl=bl.example(3)") == 0,
	    "dnsbl: huge TXT record: the listing counts");
	T_OK(st1.truncated - st0.truncated == 1 && st1.tcp - st0.tcp == 1,
	    "dnsbl: huge TXT: truncated over UDP, asked again over TCP");
	T_OK(strncmp(o.ddetail, "bl.example:hugexxxx", 19) == 0 && strlen(o.ddetail) == PE_DETAIL_MAX - 1,
	    "dnsbl: huge TXT: its start in the detail, capped");

	run("2001:db8::25", "dnsbl", &o);
	T_OK(o.v == PE_V_LISTED && strcmp(o.findings, "dnsbl=bl.example(3)") == 0,
	    "dnsbl: IPv6 client listed (nibble query)");
	run("::ffff:192.0.2.11", "dnsbl", &o);
	T_OK(o.v == PE_V_LISTED && strcmp(o.findings, "dnsbl=bl.example(3)") == 0,
	    "dnsbl: v4-mapped client listed (IPv4 query)");

	/* a listing, a slower allowlist that outweighs it, and a dead list that
	 * keeps the check open: the allowlist's answer announces the class of
	 * both together, never the listing alone */
	{
		static const char *const three[] = { "bl.example*2", "wl.example*-5", "dead.example" };
		df_a(ROW(rev("192.0.2.16", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 600, "127.0.0.2");
		df_a(ROW(rev("192.0.2.16", "wl.example"), ns_t_a, DF_REPLY, 100), NULL, 600, "127.0.0.2");
		ROW(rev("192.0.2.16", "dead.example"), ns_t_a, DF_DROP, 0);
		set_sites(three, 3);
		run("192.0.2.16", "dnsbl", &o);
		T_OK(o.prov_listed == 0 && o.v == PE_V_CLEAN && o.score == -3,
		    "dnsbl: an allowlist answering while another list is out: never listed, clean -3");
	}
	/* two sites of one domain (postscreen adds both up): one query */
	{
		static const char *const two[] = { "zen.example=127.0.0.2*3", "zen.example=127.0.0.[4..7]*2" };
		e = ROW(rev("192.0.2.14", "zen.example"), ns_t_a, DF_REPLY, 0);
		df_a(e, NULL, 3600, "127.0.0.2");
		df_a(e, NULL, 3600, "127.0.0.4");
		set_sites(two, 2);
		df_get_stats(df, &st0);
		run("192.0.2.14", "dnsbl", &o);
		df_get_stats(df, &st1);
		T_OK(o.v == PE_V_LISTED && o.score == 5 && strcmp(o.findings, "dnsbl=zen.example(5)") == 0,
		    "dnsbl: two sites of one domain both match: their weights add up (5)");
		T_OK(st1.udp - st0.udp == 2, "dnsbl: ... one A query for both (and the TXT)");
	}
	/* nine lists listing, a slow allowlist: every one counts */
	{
		static const char *const nine[] = { "b1.example", "b2.example", "b3.example", "b4.example",
			"b5.example", "b6.example", "b7.example", "b8.example", "b9.example", "w.example*-1" };
		char d[16];
		for (int i = 1; i <= 9; i++) {
			snprintf(d, sizeof(d), "b%d.example", i);
			df_a(ROW(rev("192.0.2.15", d), ns_t_a, DF_REPLY, 0), NULL, 86400, "127.0.0.2");
		}
		ROW(rev("192.0.2.15", "w.example"), ns_t_a, DF_SERVFAIL, 100);
		set_sites(nine, 10);
		run("192.0.2.15", "dnsbl", &o);
		T_OK(o.v == PE_V_LISTED && o.score == 9, "dnsbl: nine listings beside a slow allowlist: score 9");
		T_OK(o.ttl == PE_DNS_TEMP_TTL, "dnsbl: ... the allowlist's temperror bounds the ttl (60)");
		T_OK(strstr(o.findings, "dnsbl=b9.example(1)") != NULL &&
		    strstr(o.findings, "dnsbl=w.example:temperror") != NULL, "dnsbl: ... the ninth and the temperror kept");
	}

	set_sites(NULL, 0);
	run("192.0.2.1", "dnsbl", &o);
	T_OK(o.v == PE_V_CLEAN && o.findings[0] == '\0' && strcmp(o.dreason, "no-query") == 0,
	    "dnsbl: no sites: no query, clean");
}

/* the fcrdns scenarios: client -> PTR -> name -> A, and the domain */
static void
fcrdns_engine(void)
{
	static const char *const one[] = { "bl.example=127.0.0.[2..11]*3" };
	struct df_entry *e;
	struct df_stats st0, st1;
	struct outcome o;
	char name[64];

	/* pass, mx=self, spf=pass (a) */
	df_ptr(ROW(rev("192.0.2.20", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0), 3600, "mail.example.org");
	df_a(ROW("mail.example.org", ns_t_a, DF_REPLY, 0), NULL, 3600, "192.0.2.20");
	df_mx(ROW("example.org", ns_t_mx, DF_REPLY, 0), 3600, 10, "mx.example.org");
	df_a(ROW("mx.example.org", ns_t_a, DF_REPLY, 0), NULL, 3600, "192.0.2.20");
	e = ROW("example.org", ns_t_txt, DF_REPLY, 0);
	df_txt(e, 3600, "google-site-verification=abc", 28);
	df_txt(e, 3600, "v=spf1 a -all", 13);
	df_a(ROW("example.org", ns_t_a, DF_REPLY, 0), NULL, 3600, "192.0.2.20");
	df_a(ROW(rev("192.0.2.20", "bl.example"), ns_t_a, DF_REPLY, 0), NULL, 3600, "127.0.0.2");
	/* pass, mx=other, spf=fail */
	df_ptr(ROW(rev("192.0.2.21", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0), 3600, "smtp.example.net");
	df_a(ROW("smtp.example.net", ns_t_a, DF_REPLY, 0), NULL, 3600, "192.0.2.21");
	e = ROW("example.net", ns_t_mx, DF_REPLY, 0);
	df_mx(e, 3600, 20, "mx2.example.net");
	df_mx(e, 3600, 10, "mx1.example.net");
	df_a(ROW("mx1.example.net", ns_t_a, DF_REPLY, 0), NULL, 3600, "198.51.100.1");
	df_a(ROW("mx2.example.net", ns_t_a, DF_REPLY, 0), NULL, 3600, "198.51.100.2");
	df_txt(ROW("example.net", ns_t_txt, DF_REPLY, 0), 3600, "v=spf1 ip4:198.51.100.0/24 -all", 31);
	/* pass, mx=none (NXDOMAIN), spf=unknown (include) */
	df_ptr(ROW(rev("192.0.2.22", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0), 3600, "host.example.com");
	df_a(ROW("host.example.com", ns_t_a, DF_REPLY, 0), NULL, 3600, "192.0.2.22");
	df_txt(ROW("example.com", ns_t_txt, DF_REPLY, 0), 3600, "v=spf1 include:_spf.example.com ~all", 36);
	/* pass under a two-label suffix, mx=none (NODATA), spf=none */
	df_ptr(ROW(rev("192.0.2.23", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0), 3600, "a.b.mail.example.co.uk");
	df_a(ROW("a.b.mail.example.co.uk", ns_t_a, DF_REPLY, 0), NULL, 3600, "192.0.2.23");
	ROW("example.co.uk", ns_t_mx, DF_REPLY, 0);
	/* pass, MX SERVFAIL, TXT dead */
	df_ptr(ROW(rev("192.0.2.24", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0), 3600, "relay.example.edu");
	df_a(ROW("relay.example.edu", ns_t_a, DF_REPLY, 0), NULL, 3600, "192.0.2.24");
	ROW("example.edu", ns_t_mx, DF_SERVFAIL, 0);
	ROW("example.edu", ns_t_txt, DF_DROP, 0);
	/* fail, PTR SERVFAIL */
	df_ptr(ROW(rev("192.0.2.30", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0), 3600, "host.fail.example");
	df_a(ROW("host.fail.example", ns_t_a, DF_REPLY, 0), NULL, 3600, "198.51.100.7");
	ROW(rev("192.0.2.38", "in-addr.arpa"), ns_t_ptr, DF_SERVFAIL, 0);
	/* loops: a CNAME to itself, a CNAME chain back to the start */
	df_ptr(ROW(rev("192.0.2.32", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0), 3600, "loop.example");
	df_cname(ROW("loop.example", ns_t_a, DF_REPLY, 0), NULL, 3600, "loop.example");
	df_ptr(ROW(rev("192.0.2.33", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0), 3600, "ping.example");
	e = ROW("ping.example", ns_t_a, DF_REPLY, 0);
	df_cname(e, "ping.example", 3600, "pong.example");
	df_cname(e, "pong.example", 3600, "ping.example");
	df_cname(e, "ping.example", 3600, "pong.example");
	/* 50 PTR names, the second one confirmed */
	e = ROW(rev("192.0.2.34", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0);
	for (int i = 1; i <= 50; i++) {
		snprintf(name, sizeof(name), "n%d.many.example", i);
		df_ptr(e, 3600, name);
	}
	df_a(ROW("n2.many.example", ns_t_a, DF_REPLY, 0), NULL, 3600, "192.0.2.34");
	/* two names, both confirmed: the first in PTR order is the verified one */
	e = ROW(rev("192.0.2.35", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0);
	df_ptr(e, 3600, "mx.first.example");
	df_ptr(e, 3600, "mx.second.example");
	df_a(ROW("mx.first.example", ns_t_a, DF_REPLY, 0), NULL, 3600, "192.0.2.35");
	df_a(ROW("mx.second.example", ns_t_a, DF_REPLY, 0), NULL, 3600, "192.0.2.35");
	/* garbage names: a byte >= 0x80, a space */
	df_ptr(ROW(rev("192.0.2.36", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0), 3600, "m\xe4il.example.org");
	df_ptr(ROW(rev("192.0.2.37", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0), 3600, "bad name.example.org");
	e = ROW(rev("192.0.2.40", "in-addr.arpa"), ns_t_ptr, DF_REPLY, 0);
	df_ptr(e, 3600, "bad name.example.org");
	df_ptr(e, 3600, "good.example.org");
	df_a(ROW("good.example.org", ns_t_a, DF_REPLY, 0), NULL, 3600, "192.0.2.40");
	/* IPv6 */
	df_ptr(ROW(rev("2001:db8::25", "ip6.arpa"), ns_t_ptr, DF_REPLY, 0), 3600, "v6.example.org");
	df_aaaa(ROW("v6.example.org", ns_t_aaaa, DF_REPLY, 0), NULL, 3600, "2001:db8::25");

	ck.guess_domain = 1;
	run("192.0.2.20", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=pass domain=example.org mx=self spf=pass",
	    "fcrdns: pass, domain, mx=self, spf=pass (a)");
	T_OK(strcmp(o.freason, "pass") == 0 && strcmp(o.fdetail, "mail.example.org") == 0,
	    "fcrdns: pass: reason pass, the verified name in the detail");
	T_OK(o.v == PE_V_CLEAN && o.score == 0, "fcrdns: pass: clean, score 0");

	run("192.0.2.21", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=pass domain=example.net mx=other spf=fail",
	    "fcrdns: mx=other, spf=fail (ip4 of another net)");
	run("192.0.2.22", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=pass domain=example.com mx=none spf=unknown",
	    "fcrdns: mx=none (NXDOMAIN), spf=unknown (include)");
	run("192.0.2.23", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=pass domain=example.co.uk mx=none spf=none",
	    "fcrdns: domain under co.uk, mx=none (NODATA), spf=none");
	run("192.0.2.24", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=pass domain=example.edu mx=temperror spf=temperror",
	    "fcrdns: MX SERVFAIL: mx=temperror; TXT dead: spf=temperror");
	T_OK(o.elapsed < 1.0, "fcrdns: ... within 1 s");

	ck.guess_domain = 0;
	run("192.0.2.20", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=pass domain=example.org", "fcrdns: guess_domain off: no mx, no spf");
	ck.guess_domain = 1;

	run("192.0.2.30", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=fail(2)", "fcrdns: the name's A is another address: fail, score.fcrdns_fail");
	T_OK(o.score == 2 && strcmp(o.freason, "fail") == 0, "fcrdns: fail: score 2, reason fail");
	run("192.0.2.31", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=none(1)", "fcrdns: no PTR (NXDOMAIN): none, score.fcrdns_none");
	run("192.0.2.38", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=temperror", "fcrdns: PTR SERVFAIL: temperror");
	T_OK(o.ttl == PE_DNS_TEMP_TTL, "fcrdns: temperror: ttl 60");

	df_get_stats(df, &st0);
	run("192.0.2.32", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=fail(2)", "fcrdns: the name's A is a CNAME to itself: fail");
	run("192.0.2.33", "fcrdns", &o);
	df_get_stats(df, &st1);
	T_STREQ(o.findings, "fcrdns=fail(2)", "fcrdns: a CNAME chain back to the name: fail");
	T_OK(st1.udp - st0.udp == 4, "fcrdns: loops: one PTR and one A query each, no more");

	df_get_stats(df, &st0);
	run("192.0.2.34", "fcrdns", &o);
	df_get_stats(df, &st1);
	T_STREQ(o.findings, "fcrdns=pass domain=many.example mx=none spf=none",
	    "fcrdns: 50 PTR names: the confirmed one found among the first");
	T_STREQ(o.fdetail, "n2.many.example", "fcrdns: 50 PTR names: n2 verified");
	T_OK(st1.udp - st0.udp <= 1 + 4 + 2, "fcrdns: 50 PTR names: at most 4 forward queries");

	run("192.0.2.35", "fcrdns", &o);
	T_STREQ(o.fdetail, "mx.first.example", "fcrdns: two confirmed names: the first in PTR order is verified");

	run("192.0.2.36", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=none(1)", "fcrdns: a PTR name with a byte >= 0x80: ignored, none");
	run("192.0.2.37", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=none(1)", "fcrdns: a PTR name with a space: ignored, none");
	run("192.0.2.40", "fcrdns", &o);
	T_STREQ(o.fdetail, "good.example.org",
	    "fcrdns: a garbage PTR name beside a good one: the good one is checked (pass)");

	run("2001:db8::25", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=pass domain=example.org mx=other spf=fail",
	    "fcrdns: IPv6 (ip6.arpa, AAAA; the MX and the domain have no AAAA)");

	/* a request timeout (0.2 s) shorter than dns.timeout (0.3 s): a DNS
	 * check's deadline is its own (dns_rounds x dns.timeout), so the query's
	 * timeout ends it, a temperror; c-ares still tries the dropped query
	 * after that, and its late end must not reach the next attempt in the
	 * same run slot */
	ROW(rev("192.0.2.39", "in-addr.arpa"), ns_t_ptr, DF_DROP, 0);
	req_timeout = 0.2;
	run("192.0.2.39", "fcrdns", &o);
	req_timeout = 3.0;
	T_OK(o.v == PE_V_CLEAN && strcmp(o.findings, "fcrdns=temperror") == 0,
	    "fcrdns: a request timeout below dns.timeout does not cut the DNS check");
	run("192.0.2.20", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=pass domain=example.org mx=self spf=pass",
	    "fcrdns: the next request after it is not disturbed by the late query");
	usleep(400000);		/* c-ares gives up on the dropped query meanwhile */
	run("192.0.2.21", "fcrdns", &o);
	T_STREQ(o.findings, "fcrdns=pass domain=example.net mx=other spf=fail",
	    "fcrdns: ... nor the one after c-ares gave up on it");

	/* both kinds in one request */
	set_sites(one, 1);
	run("192.0.2.20", "dnsbl fcrdns", &o);
	T_STREQ(sorted(o.findings), "dnsbl=bl.example(3) domain=example.org fcrdns=pass mx=self spf=pass",
	    "dnsbl+fcrdns: every finding of both");
	T_OK(o.v == PE_V_LISTED && o.score == 3 && o.results == 2, "dnsbl+fcrdns: listed, score 3, two results");
	set_sites(NULL, 0);
}

static void
geoip_engine(void)
{
	struct outcome o;
	char err[256];

	err[0] = '\0';
	T_OK(pe_geoip_open("/nonexistent/GeoLite2-Country.mmdb", err, sizeof(err)) == NULL &&
	    strstr(err, "/nonexistent/GeoLite2-Country.mmdb") != NULL, "geoip: a missing database: NULL, a message");
	ck.geoip = NULL;
	run("192.0.2.1", "geoip", &o);
	T_OK(o.v == PE_V_CLEAN && o.findings[0] == '\0' && o.gfind[0] == '\0',
	    "geoip: no database: no finding");
	T_STREQ(o.greason, "unknown", "geoip: no database: reason unknown");
}

static struct pe_engine *
engine(const char *resolver, char *err, size_t errlen)
{
	struct pe_options o;
	struct sockaddr_in *t = (struct sockaddr_in *)&o.canary_target;

	memset(&o, 0, sizeof(o));
	o.target_kind = PE_TARGET_MTA;		/* no canary listener needed */
	t->sin_family = AF_INET;
	t->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t->sin_port = htons(25);
	o.canary_target_len = sizeof(*t);
	snprintf(o.banner, sizeof(o.banner), "220 ");
	o.max_inflight = 64;
	o.max_per_client = 8;
	snprintf(o.dns_resolver, sizeof(o.dns_resolver), "%s", resolver);
	o.dns_timeout = 0.3;
	return pe_create(&o, on_result, on_done, err, errlen);
}

int
main(void)
{
	char err[256], resolver[64];
	struct pe_engine *bad;
	double t0 = pe_now();

	t_prog = "test_dns: ";
	dnsbl_parse();
	dnsbl_qname();
	registrable();
	spf_eval();

	if ((df = df_start(err, sizeof(err))) == NULL) {
		T_OK(0, err);
		T_DONE();
	}
	bad = engine("no-such-resolver", err, sizeof(err));
	T_OK(bad == NULL && strstr(err, "dns resolver") != NULL, "engine: a resolver that is no address is refused");
	if (bad != NULL)
		pe_free(bad);
	snprintf(resolver, sizeof(resolver), "127.0.0.1:%d", df_port(df));
	if ((eng = engine(resolver, err, sizeof(err))) == NULL || pe_start(eng) < 0) {
		T_OK(0, err);
		T_DONE();
	}
	ck.w_fcrdns_fail = 2;
	ck.w_fcrdns_none = 1;
	ck.rules.dnsbl_threshold = 1;
	ck.rules.suspect_threshold = 3;
	dnsbl_engine();
	fcrdns_engine();
	geoip_engine();
	{
		/* stopped with queries out: the request ends (shutdown), c-ares'
		 * queries are dropped at pe_free */
		static const char *const dead[] = { "dead.example" };
		struct sockaddr_storage ss = sa_of("192.0.2.6");
		struct pe_test t[2] = { { pe_kind_find("dnsbl"), 0 }, { pe_kind_find("fcrdns"), 0 } };
		struct pe_timing tm = { .connect_timeout = 1.0, .timeout = 3.0, .retries = 0, .checks = &ck };
		static struct outcome o;
		ROW(rev("192.0.2.6", "in-addr.arpa"), ns_t_ptr, DF_DROP, 0);
		set_sites(dead, 1);
		memset(&o, 0, sizeof(o));
		if (pe_submit(eng, (struct sockaddr *)&ss, sizeof(struct sockaddr_in), t, 2, &tm, 0, &o) < 0)
			abort();
		usleep(100000);
		pe_stop(eng);
		T_OK(o.done && o.v == PE_V_ERROR && strcmp(o.reason, "shutdown") == 0,
		    "engine stopped with DNS queries out: the request ends, reason shutdown");
	}
	pe_free(eng);
	set_sites(NULL, 0);
	df_stop(df);
	T_OK(pe_now() - t0 < 10.0, "the whole test took under 10 s");
	T_DONE();
}
