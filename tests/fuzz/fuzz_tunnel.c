/*
 * fuzz_tunnel - the conversation through a claimed tunnel (proof.c:
 * pe_tunnel_start, pe_tunnel_line) for the three target kinds (canary, mta,
 * banner; banner with and without the -m probe mail of mail.c:
 * pe_mail_begin/pe_mail_line), fed as tunnel.c's pe_tunnel_read does: bytes
 * arrive in chunks, evbuffer_readln(EVBUFFER_EOL_CRLF) cuts lines, more
 * than 1024 bytes without a line end end the test.
 *
 * Input: 3 header bytes, then what comes back through the tunnel.
 *   [0] bits 0-1 target kind (canary, mta, banner; 3 = banner with -m mail);
 *       bit 2: ps.noisy (a telnet gateway: chatter before the greeting);
 *       bit 3: a "250 pxm-mac-" line gets the right MAC (the key is random);
 *       bit 4: the prober's address is IPv6 (the mail's X-Proxy-Spec)
 *   [1] chunk sizes (fuzz.h)
 *   [2] banner: < 0x80 one of four fixed banners, else the next (b & 63)
 *       bytes are the banner
 */
#include "config.h"
#include "pe_int.h"
#include "fuzz.h"

static struct evbuffer *in, *out;
static struct pe_proof *pf;
static char nonce[PE_NONCE_HEX + 1], mac[PE_MAC_HEX + 1];

static void
init(void)
{
	struct pe_proof_hooks hooks = { NULL };
	char err[128];
	int dummy;

	in = evbuffer_new();
	out = evbuffer_new();
	pf = pe_proof_new(NULL, NULL, 0, 1, &hooks, err, sizeof(err));
	if (in == NULL || out == NULL || pf == NULL || pe_nonce_issue(pf, &dummy, nonce) < 0)
		abort();
	pe_nonce_mac(pf, nonce, mac);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pe_ctx ps;
	struct pe_tunnel tn;
	struct fz_chunker ch;
	char banner[64];
	uint8_t b0;

	if (in == NULL)
		init();
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_drain(out, evbuffer_get_length(out));
	b0 = fz_byte(&data, &size);
	fz_chunker_init(&ch, fz_byte(&data, &size));
	fz_banner(&data, &size, banner, sizeof(banner));

	/* what the protocol left in ps, and tunnel.c's pe_tunnel_begin */
	memset(&ps, 0, sizeof(ps));
	ps.target_kind = b0 & 3;
	if (ps.target_kind > PE_TARGET_BANNER)
		ps.target_kind = PE_TARGET_BANNER;
	ps.nonce = nonce;
	ps.banner = banner;
	ps.noisy = (b0 & 4) != 0;
	memset(&tn, 0, sizeof(tn));
	tn.kind = ps.target_kind;
	tn.banner = banner;
	tn.nonce = nonce;
	tn.proof = pf;
	if ((b0 & 3) == 3) {
		tn.want_mail = 1;
		tn.mail.rcpt = "postmaster@example.org";
		tn.mail.tag = "fuzz";
		tn.mail.agent = "proxyprobe fuzz";
		tn.mail.nonce = nonce;
		snprintf(tn.mail.spec, sizeof(tn.mail.spec), (b0 & 16) ? "[%s]:%u/%s" : "%s:%u/%s",
		    (b0 & 16) ? "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff" : "203.0.113.255",
		    65535u, "https-connect");
	}
	fz_tunnel_run(&tn, &ps, in, out, (b0 & 8) ? mac : NULL, &ch, data, size);
	return 0;
}
