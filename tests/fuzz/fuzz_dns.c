/*
 * fuzz_dns - the DNS replies the checks get, through c-ares' parsing and
 * ours (resolver.c, dnsbl.c, fcrdns.c, spf.c, domain.c), and the pure
 * functions of the DNS checks on the raw input.
 *
 * One engine for the whole run, its resolver a scripted DNS server in this
 * process (tests/unit/dnsfake.c: UDP and TCP on 127.0.0.1) in raw mode:
 * every query is answered with its own id and question (so that c-ares
 * takes the reply as the answer to it) followed by header words and
 * record bytes from the input, chosen by the query's type.  Per input,
 * one request for a client with the tests dnsbl and fcrdns (two sites, one
 * with a filter and one an allowlist; guess_domain on: MX, TXT/SPF and the
 * domain's addresses are asked too), waited for until its final summary
 * (the engine's deadlines bound it: no end within 5 s is a crash).  A reply
 * over 512 bytes makes c-ares ask again over TCP, where it gets the same.
 *
 * Input:
 *   [0] bit 0: the client is IPv6 (2001:db8::1), else IPv4 (192.0.2.1)
 *   then four sections, for A/AAAA, PTR, MX, TXT queries (other types
 *   get the A section), each a big-endian 16-bit length and that many
 *   bytes (cut at the input's end; a missing section = NXDOMAIN):
 *     [0-1] flags, [2-3] ancount, [4-5] nscount, [6-7] arcount (missing
 *     bytes: 0x8180 and zeros), then the records (at most 4096 bytes).
 *   Records may name the question by the pointer c0 0c: it is at offset 12
 *   of every reply.
 * The whole input, NUL-terminated, also goes to pe_spf_eval,
 * pe_spf_needs_a, pe_dnsbl_parse (+ pe_dnsbl_match) and
 * pe_registrable_domain.
 *
 * FUZZ_DNS_VERBOSE=1 prints every summary (to see what a seed reaches).
 *
 * Checked: the request ends once, finally, with a verdict; its findings
 * and every result line are printable and within their sizes.
 */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include "pe_int.h"
#include "spf.h"
#include "dnsfake.h"
#include "fuzz.h"

#define NSECT 4
#define SECT_MAX (8 + 4096)

static struct dnsfake *df;
static struct pe_engine *eng;
static struct pe_dnsbl_site sites[2];
static struct pe_checks ck;

/* the replies of the current input, read by the server's thread */
static pthread_mutex_t smu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t sect[NSECT][SECT_MAX];
static size_t slen[NSECT];
static int shave[NSECT];

/* the request's end */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done, finals;
static size_t seq;		/* the request's number: its callbacks' arg */
static int verbose;		/* FUZZ_DNS_VERBOSE set: print each summary */

static int
printable(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n == max)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

static long
raw_reply(void *arg, const char *qname, int qtype, uint16_t hdr[4], uint8_t *out, size_t cap)
{
	int i = qtype == ns_t_ptr ? 1 : qtype == ns_t_mx ? 2 : qtype == ns_t_txt ? 3 : 0;
	size_t n;

	(void)arg;
	(void)qname;
	pthread_mutex_lock(&smu);
	if (!shave[i]) {
		hdr[0] = 0x8183;		/* NXDOMAIN */
		hdr[1] = hdr[2] = hdr[3] = 0;
		pthread_mutex_unlock(&smu);
		return 0;
	}
	hdr[0] = 0x8180;
	hdr[1] = hdr[2] = hdr[3] = 0;
	for (int k = 0; k < 4; k++)
		if (slen[i] >= (size_t)k * 2 + 2)
			hdr[k] = (uint16_t)(sect[i][k * 2] << 8 | sect[i][k * 2 + 1]);
	n = slen[i] > 8 ? slen[i] - 8 : 0;
	if (n > cap)
		n = cap;
	memcpy(out, sect[i] + 8, n);
	pthread_mutex_unlock(&smu);
	return (long)n;
}

static void
on_result(const struct pe_result *r, void *arg)
{
	(void)arg;
	FZ_CHECK(printable(r->reason, 64));
	FZ_CHECK(printable(r->detail, PE_DETAIL_MAX));
	FZ_CHECK(printable(r->findings, 4096));
}

static void
on_done(const struct pe_summary *s, void *arg)
{
	FZ_CHECK(printable(s->findings, 8192));
	FZ_CHECK(s->nfindings == 0 || s->finding != NULL);
	for (size_t i = 0; i < s->nfindings; i++) {
		FZ_CHECK(printable(s->finding[i].name, PE_FINDING_NAME_MAX));
		FZ_CHECK(printable(s->finding[i].value, PE_FINDING_VALUE_MAX));
		FZ_CHECK(s->finding[i].ttl >= 0 && s->finding[i].ttl <= PE_DNS_MAX_TTL);
	}
	if (!s->final)
		return;
	if (verbose)
		fprintf(stderr, "fuzz_dns: #%zu %s %s [%s] %.3f s\n", (size_t)arg,
		    pe_verdict_name(s->verdict), s->reason, s->findings, s->elapsed);
	FZ_CHECK(s->verdict != PE_V_OPEN && s->verdict != PE_V_RELAY);
	pthread_mutex_lock(&mu);
	finals++;
	done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static void
init(void)
{
	static const char *const specs[2] = { "bl.example=127.0.0.[2..11;20]*2", "wl.example*-1" };
	struct pe_options o;
	struct sockaddr_in *t = (struct sockaddr_in *)&o.canary_target;
	char err[256];

	verbose = getenv("FUZZ_DNS_VERBOSE") != NULL;
	if ((df = df_start(err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_dns: %s\n", err);
		abort();
	}
	df_set_raw(df, raw_reply, NULL);
	memset(&o, 0, sizeof(o));
	o.target_kind = PE_TARGET_MTA;		/* no canary listener */
	t->sin_family = AF_INET;
	t->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t->sin_port = htons(25);
	o.canary_target_len = sizeof(*t);
	snprintf(o.banner, sizeof(o.banner), "220 ");
	o.max_inflight = 16;
	o.max_per_client = 4;
	snprintf(o.dns_resolver, sizeof(o.dns_resolver), "127.0.0.1:%d", df_port(df));
	o.dns_timeout = 0.05;
	for (int i = 0; i < 2; i++)
		if (pe_dnsbl_parse(specs[i], &sites[i], err, sizeof(err)) < 0)
			abort();
	ck.sites = sites;
	ck.nsites = 2;
	ck.guess_domain = 1;
	ck.w_fcrdns_fail = 1;
	ck.w_fcrdns_none = 1;
	if ((eng = pe_create(&o, on_result, on_done, err, sizeof(err))) == NULL || pe_start(eng) < 0) {
		fprintf(stderr, "fuzz_dns: %s\n", err);
		abort();
	}
}

/* the pure functions on the input as a string */
static void
pure(const uint8_t *data, size_t size)
{
	static const unsigned char a[2][16] = {
		{ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1 },
		{ 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	};
	char *s = malloc(size + 1), buf[256];
	struct pe_dnsbl_site site;
	struct pe_spf_in in;
	enum pe_spf r;

	if (s == NULL)
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&in, 0, sizeof(in));
	in.domain = "example.org";
	memcpy(in.client, a[size & 1], 16);
	in.a = a;
	in.na = 2;
	in.mx = a + 1;
	in.nmx = 1;
	r = pe_spf_eval(s, &in);
	FZ_CHECK(r >= PE_SPF_NONE && r <= PE_SPF_TEMPERROR);
	FZ_CHECK((r == PE_SPF_NONE) == !pe_spf_is_record(s, strlen(s)));
	(void)pe_spf_needs_a(s, "example.org");
	if (pe_dnsbl_parse(s, &site, buf, sizeof(buf)) == 0) {
		FZ_CHECK(site.domain != NULL && site.weight != 0);
		FZ_CHECK(strlen(site.domain) > 0 && strlen(site.domain) <= 180);
		(void)pe_dnsbl_match(&site, a[0] + 12);
		pe_dnsbl_site_free(&site);
	} else {
		FZ_CHECK(site.domain == NULL && strnlen(buf, sizeof(buf)) < sizeof(buf));
	}
	if (pe_registrable_domain(s, buf, sizeof(buf)) == 0) {
		FZ_CHECK(strlen(buf) > 0 && strlen(buf) <= strlen(s));
		for (char *c = buf; *c != '\0'; c++)
			FZ_CHECK(*c != ' ' && (unsigned char)*c < 0x80 && !(*c >= 'A' && *c <= 'Z'));
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t n = size;
	struct sockaddr_storage ss;
	struct pe_test t[2];
	struct pe_timing tm = { .connect_timeout = 0.5, .timeout = 1.0, .retries = 0, .checks = &ck };
	struct timespec ts;
	socklen_t sl;
	int v6;

	if (eng == NULL)
		init();
	pure(data, size);

	v6 = fz_byte(&p, &n) & 1;
	pthread_mutex_lock(&smu);
	for (int i = 0; i < NSECT; i++) {
		size_t l;
		shave[i] = n >= 2;
		l = n >= 2 ? (size_t)(p[0] << 8 | p[1]) : 0;
		p += n >= 2 ? 2 : n;
		n -= n >= 2 ? 2 : n;
		if (l > n)
			l = n;
		slen[i] = l < SECT_MAX ? l : SECT_MAX;
		memcpy(sect[i], p, slen[i]);
		p += l;
		n -= l;
	}
	pthread_mutex_unlock(&smu);

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		inet_pton(AF_INET6, "2001:db8::1", &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		inet_pton(AF_INET, "192.0.2.1", &s4->sin_addr);
		sl = sizeof(*s4);
	}
	t[0].kind = pe_kind_find("dnsbl");
	t[1].kind = pe_kind_find("fcrdns");
	t[0].port = t[1].port = 0;
	FZ_CHECK(t[0].kind != NULL && t[1].kind != NULL);

	pthread_mutex_lock(&mu);
	done = 0;
	finals = 0;
	pthread_mutex_unlock(&mu);
	FZ_CHECK(pe_submit(eng, (struct sockaddr *)&ss, sl, t, 2, &tm, 0, (void *)++seq) == 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&mu);
	while (!done && pthread_cond_timedwait(&cv, &mu, &ts) != ETIMEDOUT)
		;
	FZ_CHECK(done && finals == 1);
	pthread_mutex_unlock(&mu);
	return 0;
}
