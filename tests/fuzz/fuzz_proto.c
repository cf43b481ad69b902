/*
 * fuzz_proto - every protocol's reply parser (each row of the protocol
 * table: http-connect, http-post, socks4, socks5, telnet, https-connect),
 * driven as runner.c drives it and as tests/unit/test_protocols.c does on
 * plain evbuffers: start(), then on_read() with the proxy's reply split into
 * chunks; on_timer() when the protocol has one, asked for it (ps.timer > 0)
 * and the input says it fires before the next chunk arrives.  A claimed
 * tunnel goes on into the tunnel conversation (proof.c) with the bytes left,
 * as runner.c's pe_run_step and tunnel.c's pe_tunnel_read do.
 *
 * https-connect: the engine first does a TLS handshake (libevent's OpenSSL
 * filter) and then hands the decrypted bytes to pe_http_connect_read, the
 * same parser as http-connect's.  Here that parser gets the plain bytes; a
 * real TLS handshake in a fuzzer is out of scope.
 *
 * The engine's read cap (4096 bytes per test) is not applied: the parsers
 * must be safe on any length.
 *
 * Input: 5 header bytes, then the reply.
 *   [0] kind: pe_kind_at(b % pe_kind_count())
 *   [1] bits 0-1 target (v4, v6, v4-mapped v6, v4 high port; v6 falls back
 *       to v4 for IPv4-only protocols, which the engine never starts on v6);
 *       bits 2-3 target kind (canary, mta, banner; 3 = canary);
 *       bit 4: with a banner target, relay a probe mail (proxyprobe -m);
 *       bit 5: a "250 pxm-mac-" line gets the right MAC in the tunnel
 *   [2] chunk sizes (fuzz.h)
 *   [3] timer: bit (i % 8) set = the armed timer fires before chunk i
 *       (and bit 7 after the last chunk: the proxy went silent)
 *   [4] banner: < 0x80 one of four fixed banners, else the next (b & 63)
 *       bytes are the banner
 */
#include "config.h"
#include <arpa/inet.h>
#include "pe_int.h"
#include "fuzz.h"

static struct sockaddr_storage tgt[4];
static struct evbuffer *in, *out;
static struct pe_proof *pf;
static char nonce[PE_NONCE_HEX + 1], mac[PE_MAC_HEX + 1];

static void
init(void)
{
	static const char *const t[4] = {
		"192.0.2.10:2525", "[2001:db8::10]:2525", "[::ffff:192.0.2.10]:25",
		"127.0.0.1:65535"
	};
	struct pe_proof_hooks hooks = { NULL };
	char err[128];
	socklen_t sl;
	int dummy;

	for (int i = 0; i < 4; i++)
		if (pe_parse_hostport(t[i], &tgt[i], &sl) < 0)
			abort();
	in = evbuffer_new();
	out = evbuffer_new();
	pf = pe_proof_new(NULL, NULL, 0, 1, &hooks, err, sizeof(err));
	if (in == NULL || out == NULL || pf == NULL || pe_nonce_issue(pf, &dummy, nonce) < 0)
		abort();
	pe_nonce_mac(pf, nonce, mac);
}

static const struct pe_kind *p;

static void
check_ps(const struct pe_ctx *ps)
{
	FZ_CHECK(strnlen(ps->reason, sizeof(ps->reason)) < sizeof(ps->reason));
	FZ_CHECK(strnlen(ps->detail, sizeof(ps->detail)) < sizeof(ps->detail));
}

/* runner.c's pe_run_step: the timer wish, then the step; 1 = test over */
static int
apply(struct pe_ctx *ps, enum pe_step st, int *armed)
{
	check_ps(ps);
	if (ps->timer > 0)
		*armed = 1;
	else if (ps->timer < 0)
		*armed = 0;
	ps->timer = 0;
	if (p->on_drained != NULL)	/* the output went out */
		p->on_drained(ps, out);
	evbuffer_drain(out, evbuffer_get_length(out));
	switch (st) {
	case PE_STEP_MORE:
		return 0;
	case PE_STEP_TUNNEL:
		return -1;	/* the caller goes on with the tunnel */
	case PE_STEP_CLOSED:
	case PE_STEP_INCONCLUSIVE:
	case PE_STEP_WAIT_PROOF:
	case PE_STEP_QUIT:
	case PE_STEP_AWAIT:
		return 1;
	}
	FZ_CHECK(!"unknown step");
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static _Alignas(16) unsigned char priv[4096];
	struct pe_ctx ps;
	struct pe_tunnel tn;
	struct fz_chunker ch;
	char banner[64];
	uint8_t b1, tbits;
	int armed = 0, r = 0;
	size_t i;

	if (in == NULL)
		init();
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_drain(out, evbuffer_get_length(out));
	p = pe_kind_at(fz_byte(&data, &size) % pe_kind_count());
	if (p->flags & PE_K_TASK)	/* no stream: fuzz_dns drives the DNS kinds */
		return 0;
	FZ_CHECK(p->priv_size <= sizeof(priv));
	memset(priv, 0, sizeof(priv));
	b1 = fz_byte(&data, &size);
	fz_chunker_init(&ch, fz_byte(&data, &size));
	tbits = fz_byte(&data, &size);
	fz_banner(&data, &size, banner, sizeof(banner));

	memset(&ps, 0, sizeof(ps));
	{
		int ti = b1 & 3;
		if ((p->flags & PE_K_V4_ONLY) && tgt[ti].ss_family != AF_INET)
			ti = 0;
		ps.target = (const struct sockaddr *)&tgt[ti];
	}
	ps.target_kind = (b1 >> 2) & 3;
	if (ps.target_kind > PE_TARGET_BANNER)
		ps.target_kind = PE_TARGET_CANARY;
	ps.priv = priv;
	ps.nonce = nonce;
	ps.banner = banner;
	{	/* the settings the engine always passes; connect_back's relay test on */
		static const struct pe_checks ck = { .w_netbios = 2, .w_banner_mismatch = 1,
			.cb_relay = PE_RELAY_RCPT, .cb_sender = "probe@mx.example",
			.cb_local = "probe", .cb_domain = "mx.example" };
		ps.checks = &ck;
		ps.helo = "mx.example";
		ps.client = (const struct sockaddr *)&tgt[0];
	}
	p->start(&ps, out);
	r = apply(&ps, PE_STEP_MORE, &armed);

	for (i = 0; r == 0 && size > 0; i++) {
		size_t k = fz_chunk(&ch, size);
		if (armed && p->on_timer != NULL && (tbits & (1u << (i % 8)))) {
			armed = 0;
			r = apply(&ps, p->on_timer(&ps, out), &armed);
			if (r != 0)
				break;
		}
		evbuffer_add(in, data, k);
		data += k;
		size -= k;
		r = apply(&ps, p->on_read(&ps, in, out), &armed);
	}
	if (r == 0 && armed && p->on_timer != NULL && (tbits & 0x80))
		r = apply(&ps, p->on_timer(&ps, out), &armed);
	if (r == 0 && p->on_hangup != NULL && (tbits & 0x40)) {	/* the peer left */
		(void)apply(&ps, p->on_hangup(&ps, i), &armed);
		return 0;
	}
	if (r >= 0)
		return 0;

	/* PE_STEP_TUNNEL: tunnel.c's pe_tunnel_begin, pe_tunnel_start, pe_tunnel_read */
	memset(&tn, 0, sizeof(tn));
	tn.kind = ps.target_kind;
	tn.banner = banner;
	tn.nonce = nonce;
	tn.proof = pf;
	if (ps.target_kind == PE_TARGET_BANNER && (b1 & 0x10)) {
		char a[PE_ADDRSTR_MAX];
		tn.want_mail = 1;
		tn.mail.rcpt = "postmaster@example.org";
		tn.mail.tag = "fuzz";
		tn.mail.agent = "proxyprobe fuzz";
		tn.mail.nonce = nonce;
		pe_addr_str(ps.target, a, sizeof(a));
		snprintf(tn.mail.spec, sizeof(tn.mail.spec), "%s:%u/%s", a, 1080u, p->name);
	}
	fz_tunnel_run(&tn, &ps, in, out, (b1 & 0x20) ? mac : NULL, &ch, data, size);
	return 0;
}
