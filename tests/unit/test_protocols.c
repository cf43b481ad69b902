/* each protocol's request bytes and reply parsing, on plain evbuffers */
#include "config.h"
#include <arpa/inet.h>
#include "t.h"
#include "pe_int.h"

static struct sockaddr_storage tgt4, tgt6;
static struct evbuffer *in, *out;
static struct pe_ctx ps;
static _Alignas(16) unsigned char priv[4096];

static void
begin(const struct pe_kind *p, const struct sockaddr_storage *t)
{
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_drain(out, evbuffer_get_length(out));
	memset(&ps, 0, sizeof(ps));
	memset(priv, 0, sizeof(priv));
	ps.priv = priv;
	ps.target = (const struct sockaddr *)t;
	ps.nonce = "00000000000000000000000000000000";
	ps.banner = "220 ";
	p->start(&ps, out);
}

static int
out_is(const void *want, size_t len)
{
	size_t n = evbuffer_get_length(out);
	int ok = n == len && memcmp(evbuffer_pullup(out, -1), want, len) == 0;
	evbuffer_drain(out, n);
	return ok;
}

static int
has(const char *m, size_t ml, const char *needle)
{
	return memmem(m, ml, needle, strlen(needle)) != NULL;
}

static void
begin0(const struct pe_kind *p, const struct sockaddr_storage *t, const char *nonce)
{
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_drain(out, evbuffer_get_length(out));
	memset(&ps, 0, sizeof(ps));
	memset(priv, 0, sizeof(priv));
	ps.priv = priv;
	ps.target = (const struct sockaddr *)t;
	ps.nonce = nonce;
	ps.banner = "220 ";
	p->start(&ps, out);
}

static enum pe_step
feed(const struct pe_kind *p, const void *data, size_t len)
{
	evbuffer_add(in, data, len);
	return p->on_read(&ps, in, out);
}

/* proxy kinds: what "all" expands to */
static size_t
nproxy(void)
{
	size_t n = 0;

	for (size_t i = 0; i < pe_kind_count(); i++)
		n += pe_kind_is_proxy(pe_kind_at(i));
	return n;
}

#define FEEDS(p, s) feed((p), (s), sizeof(s) - 1)
#define OUT_IS(s) out_is((s), sizeof(s) - 1)

int
main(void)
{
	const struct pe_kind *hc = pe_kind_find("http-connect");
	const struct pe_kind *s4 = pe_kind_find("socks4");
	const struct pe_kind *s5 = pe_kind_find("socks5");
	socklen_t sl;

	t_prog = "protocols: ";
	in = evbuffer_new();
	out = evbuffer_new();
	pe_parse_hostport("192.0.2.10:2525", &tgt4, &sl);
	pe_parse_hostport("[2001:db8::10]:2525", &tgt6, &sl);

	T_OK(pe_kind_find("http") == hc, "http is an alias of http-connect");
	T_OK(pe_kind_find("gopher") == NULL, "unknown protocol");

	/* HTTP CONNECT */
	begin(hc, &tgt4);
	T_OK(OUT_IS("CONNECT 192.0.2.10:2525 HTTP/1.0\r\n\r\n"), "CONNECT request v4");
	T_OK(FEEDS(hc, "HTTP/1.1 200 Connection established\r\n") == PE_STEP_MORE, "200 waits for the header end");
	T_OK(FEEDS(hc, "Proxy-agent: x\r\n\r\n220 greeting") == PE_STEP_TUNNEL, "tunnel after blank line");
	T_OK(evbuffer_get_length(in) == 12, "tunnel bytes left for the engine");
	begin(hc, &tgt6);
	T_OK(OUT_IS("CONNECT [2001:db8::10]:2525 HTTP/1.0\r\n\r\n"), "CONNECT request v6 in brackets");
	begin(hc, &tgt4);
	T_OK(FEEDS(hc, "HTTP/1.0 200 OK\n\n") == PE_STEP_TUNNEL, "bare LF accepted");
	begin(hc, &tgt4);
	T_OK(FEEDS(hc, "HTTP/1.1 403 Forbidden\r\n") == PE_STEP_CLOSED && strcmp(ps.reason, "http-403") == 0, "403 closed");
	begin(hc, &tgt4);
	T_OK(FEEDS(hc, "HTTP/1.0 407 Proxy Authentication Required\r\n") == PE_STEP_CLOSED, "407 closed");
	begin(hc, &tgt4);
	T_OK(FEEDS(hc, "HTTP/1.1 503 Service Unavailable\r\n") == PE_STEP_INCONCLUSIVE, "503 inconclusive");
	begin(hc, &tgt4);
	T_OK(FEEDS(hc, "HTTP/1.0 500 Unable to connect\r\n") == PE_STEP_CLOSED, "500 closed");
	begin(hc, &tgt4);
	T_OK(FEEDS(hc, "SSH-2.0-OpenSSH_9.2\r\n") == PE_STEP_CLOSED && strcmp(ps.reason, "not-http") == 0, "other service closed");
	T_STREQ(ps.detail, "SSH-2.0-OpenSSH_9.2", "detail keeps the printable reply");
	begin(hc, &tgt4);
	T_OK(FEEDS(hc, "HTTP/1.1 2000 x\r\n") == PE_STEP_CLOSED, "4-digit status is not HTTP");
	begin(hc, &tgt4);
	T_OK(FEEDS(hc, "HTTP/1.1 20") == PE_STEP_MORE, "partial status line waits");
	begin(hc, &tgt4);
	{
		char junk[1500];
		memset(junk, 'A', sizeof(junk));
		T_OK(feed(hc, junk, sizeof(junk)) == PE_STEP_CLOSED, "endless line closed");
	}
	begin(hc, &tgt4);
	T_OK(FEEDS(hc, "HTTP/1.1 200 OK\r\nX: \x01\xff\r\n\r\n") == PE_STEP_TUNNEL, "binary header bytes tolerated");

	/* SOCKS4 */
	begin(s4, &tgt4);
	T_OK(out_is("\x04\x01\x09\xdd\xc0\x00\x02\x0a\x00", 9), "SOCKS4 request bytes");
	T_OK(feed(s4, "\x00\x5a\x00", 3) == PE_STEP_MORE, "partial SOCKS4 reply waits");
	T_OK(feed(s4, "\x00\x00\x00\x00\x00", 5) == PE_STEP_TUNNEL, "0x5A granted");
	begin(s4, &tgt4);
	T_OK(feed(s4, "\x00\x5b\x00\x19\x7f\x00\x00\x01", 8) == PE_STEP_CLOSED && strcmp(ps.reason, "socks4-rejected") == 0, "0x5B rejected");
	T_STREQ(ps.detail, "00 5b 00 19 7f 00 00 01", "binary reply logged as hex");
	begin(s4, &tgt4);
	T_OK(feed(s4, "\x05\xff", 2) == PE_STEP_CLOSED && strcmp(ps.reason, "socks5-only") == 0, "SOCKS5-only server");
	begin(s4, &tgt4);
	T_OK(feed(s4, "\x04\x5a\x00\x00\x00\x00\x00\x00", 8) == PE_STEP_TUNNEL, "VN=4 reply tolerated");
	begin(s4, &tgt4);
	T_OK(FEEDS(s4, "HTTP/1.0 400 Bad") == PE_STEP_CLOSED, "HTTP answer is not SOCKS4");
	T_OK(s4->flags & PE_K_V4_ONLY, "SOCKS4 marked IPv4-only");

	/* SOCKS5 */
	begin(s5, &tgt4);
	T_OK(out_is("\x05\x01\x00", 3), "SOCKS5 greeting");
	T_OK(feed(s5, "\x05", 1) == PE_STEP_MORE, "partial method reply waits");
	T_OK(evbuffer_get_length(out) == 0, "no request before the method reply");
	T_OK(feed(s5, "\x00", 1) == PE_STEP_MORE, "method accepted");
	T_OK(out_is("\x05\x01\x00\x01\xc0\x00\x02\x0a\x09\xdd", 10), "SOCKS5 CONNECT v4 bytes");
	T_OK(feed(s5, "\x05\x00\x00\x01\x7f\x00", 6) == PE_STEP_MORE, "partial CONNECT reply waits");
	T_OK(feed(s5, "\x00\x04\x04\x38", 4) == PE_STEP_TUNNEL, "granted after full v4 BND");
	begin(s5, &tgt6);
	evbuffer_drain(out, evbuffer_get_length(out));
	feed(s5, "\x05\x00", 2);
	T_OK(out_is("\x05\x01\x00\x04\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x10\x09\xdd", 22),
	    "SOCKS5 CONNECT v6 bytes (ATYP 4)");
	T_OK(feed(s5, "\x05\x00\x00\x03\x03" "abc" "\x00\x19", 10) == PE_STEP_TUNNEL, "domain-name BND parsed");
	begin(s5, &tgt4);
	T_OK(feed(s5, "\x05\xff", 2) == PE_STEP_CLOSED && strcmp(ps.reason, "socks5-auth-required") == 0, "05 FF closed");
	begin(s5, &tgt4);
	T_OK(feed(s5, "\x05\x02", 2) == PE_STEP_CLOSED, "username/password method closed");
	begin(s5, &tgt4);
	T_OK(feed(s5, "\x00\x5b", 2) == PE_STEP_CLOSED && strcmp(ps.reason, "socks4-only") == 0, "SOCKS4-only server");
	begin(s5, &tgt4);
	feed(s5, "\x05\x00", 2);
	evbuffer_drain(out, evbuffer_get_length(out));
	T_OK(feed(s5, "\x05\x02\x00\x01\x7f\x00\x00\x01\x00\x19", 10) == PE_STEP_CLOSED && strcmp(ps.reason, "socks5-rep-02") == 0, "ruleset refusal closed");
	begin(s5, &tgt4);
	feed(s5, "\x05\x00", 2);
	T_OK(feed(s5, "\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 10) == PE_STEP_INCONCLUSIVE, "connection refused at target inconclusive");
	begin(s5, &tgt4);
	feed(s5, "\x05\x00", 2);
	T_OK(feed(s5, "\x05\x00\x00\x09\x00", 5) == PE_STEP_CLOSED, "bad ATYP closed");
	begin(s5, &tgt4);
	feed(s5, "\x05\x00", 2);
	T_OK(feed(s5, "\x04\x00", 2) == PE_STEP_CLOSED, "wrong version in reply closed");

	/* HTTP CONNECT quirks */
	begin(hc, &tgt4);
	evbuffer_drain(out, evbuffer_get_length(out));
	hc->on_drained(&ps, out);
	T_OK(OUT_IS("\r\n"), "extra CRLF as a separate write once the request went out");
	hc->on_drained(&ps, out);
	T_OK(evbuffer_get_length(out) == 0, "... once");
	T_OK(FEEDS(hc, "HTTP/1.0 2") == PE_STEP_MORE && OUT_IS("\r\n"), "CRLF after the first reply bytes");
	T_OK(FEEDS(hc, "00 OK\r\n") == PE_STEP_MORE && evbuffer_get_length(out) == 0, "nudged once only");

	/* HTTP POST */
	{
		const struct pe_kind *hp = pe_kind_find("http-post");
		const char *want = "POST http://192.0.2.10:2525/ HTTP/1.0\r\nContent-Type: text/plain\r\n"
		    "Content-Length: 55\r\n\r\nRSET\r\nEHLO pxm-00112233445566778899aabbccddeeff\r\nQUIT\r\n";
		begin0(hp, &tgt4, "00112233445566778899aabbccddeeff");
		T_OK(out_is(want, strlen(want)), "POST request carries the nonce in its body");
		T_OK(FEEDS(hp, "HTTP/1.0 503 Could not retrieve all the headers\r\n") == PE_STEP_WAIT_PROOF,
		    "tinyproxy's 503 after relaying: wait for the canary");
		begin0(hp, &tgt4, "00112233445566778899aabbccddeeff");
		T_OK(FEEDS(hp, "HTTP/1.1 403 Forbidden\r\n") == PE_STEP_CLOSED, "403 refused before relaying");
		begin0(hp, &tgt4, "00112233445566778899aabbccddeeff");
		T_OK(FEEDS(hp, "220 proxymilter-canary ESMTP ready\r\n") == PE_STEP_WAIT_PROOF, "HTTP/0.9 relay");
		begin0(hp, &tgt6, "00112233445566778899aabbccddeeff");
		T_OK(strstr((const char *)evbuffer_pullup(out, -1), "POST http://[2001:db8::10]:2525/") != NULL, "POST to an IPv6 target");
		begin0(hp, &tgt4, "00112233445566778899aabbccddeeff");
		T_OK(FEEDS(hp, "SSH-2.0-x\r\n") == PE_STEP_CLOSED, "POST to a non-HTTP service closed");
		begin0(hp, &tgt4, "00112233445566778899aabbccddeeff");
		ps.target_kind = PE_TARGET_BANNER;
		ps.banner = "220 ";
		T_OK(FEEDS(hp, "HTTP/1.1 200 OK\r\nVia: x\r\n\r\n") == PE_STEP_TUNNEL, "banner mode: tunnel after the reply headers");
	}

	/* telnet family */
	{
		const struct pe_kind *tn = pe_kind_find("telnet");
		T_OK(pe_kind_find("cisco") == tn && pe_kind_find("wingate") == tn, "cisco and wingate name the adaptive probe");
		begin(tn, &tgt4);
		T_OK(evbuffer_get_length(out) == 0 && ps.timer > 0, "telnet waits for the prompt");
		T_OK(FEEDS(tn, "\r\n\r\nUser Access Verification\r\n\r\nPassword: ") == PE_STEP_MORE && OUT_IS("cisco\r\n"),
		    "Cisco: factory password sent");
		T_OK(FEEDS(tn, "\r\nRouter>") == PE_STEP_MORE && OUT_IS("telnet 192.0.2.10 2525\r\n"), "Cisco: telnet to the target");
		T_STREQ(ps.mechanism, "cisco", "the factory password names the result cisco");
		T_OK(FEEDS(tn, "Trying 192.0.2.10, 2525 ... Open\r\n") == PE_STEP_MORE, "gateway chatter waits");
		T_OK(FEEDS(tn, "220 proxymilter-canary ESMTP ready\r\n") == PE_STEP_TUNNEL && ps.noisy, "canary greeting: tunnel (noisy)");
		begin(tn, &tgt4);
		FEEDS(tn, "User Access Verification\r\nPassword: ");
		evbuffer_drain(out, evbuffer_get_length(out));
		T_OK(FEEDS(tn, "\r\n% Access denied\r\n\r\nPassword: ") == PE_STEP_CLOSED && strcmp(ps.reason, "cisco-bad-password") == 0,
		    "Cisco: changed password closed");
		begin(tn, &tgt4);
		T_OK(FEEDS(tn, "\xff\xfb\x01\xff\xfd\x18WinGate>") == PE_STEP_MORE, "WinGate prompt behind telnet options");
		T_OK(OUT_IS("\xff\xfe\x01\xff\xfc\x18" "192.0.2.10:2525\r\n"), "options refused, host:port sent");
		T_OK(FEEDS(tn, "Connecting to host 192.0.2.10...Connected\r\n220 proxymilter-canary ESMTP ready\r\n") == PE_STEP_TUNNEL,
		    "WinGate: tunnel");
		T_STREQ(ps.mechanism, "wingate", "a WinGate prompt names the result wingate");
		begin(tn, &tgt4);
		T_OK(FEEDS(tn, "Debian GNU/Linux 12\r\nhost login: ") == PE_STEP_CLOSED && strcmp(ps.reason, "login-required") == 0,
		    "login prompt closed");
		begin(tn, &tgt4);
		T_OK(FEEDS(tn, "Password: ") == PE_STEP_CLOSED && strcmp(ps.reason, "password-required") == 0, "bare password prompt closed");
		begin(tn, &tgt4);
		T_OK(FEEDS(tn, "tn-gw-> ") == PE_STEP_MORE && OUT_IS("telnet 192.0.2.10 2525\r\n"), "telnet gateway prompt");
		T_STREQ(ps.mechanism, "telnet", "a telnet gateway names the result telnet");
		T_OK(FEEDS(tn, "telnet: connect: Connection refused\r\n") == PE_STEP_CLOSED && strcmp(ps.reason, "gateway-refused") == 0,
		    "gateway refusal closed");
		begin(tn, &tgt4);
		T_OK(FEEDS(tn, "CCProxy Telnet>") == PE_STEP_MORE && OUT_IS("open 192.0.2.10 2525\r\n"), "CCProxy prompt");
		begin(tn, &tgt4);
		T_OK(tn->on_timer(&ps, out) == PE_STEP_MORE && OUT_IS("192.0.2.10:2525\r\ntelnet 192.0.2.10 2525\r\n") && ps.timer > 0,
		    "silent: both classic commands after the prompt wait");
		T_OK(tn->on_timer(&ps, out) == PE_STEP_CLOSED && strcmp(ps.reason, "silent") == 0, "still silent: closed, not hung");
	}

	/* the canary's input: each byte counted once against its 8 KiB cap,
	 * though a 64-byte tail stays in the buffer between reads */
	{
		char hex[PE_NONCE_HEX + 1], chunk[100];
		size_t seen = 0;
		int r = 0, n;
		memset(chunk, 'x', sizeof(chunk));
		evbuffer_drain(in, evbuffer_get_length(in));
		for (n = 0; n < 80 && r == 0; n++) {
			evbuffer_add(in, chunk, sizeof(chunk));
			r = pe_canary_scan(in, &seen, hex);
		}
		T_OK(r == 0 && seen + evbuffer_get_length(in) == 8000, "canary: 8000 bytes in 100-byte reads are 8000, not more");
		for (; n < 100 && r == 0; n++) {
			evbuffer_add(in, chunk, sizeof(chunk));
			r = pe_canary_scan(in, &seen, hex);
		}
		T_OK(r < 0 && n == 82, "canary: closed as the 8 KiB cap is passed");
		evbuffer_drain(in, evbuffer_get_length(in));
		seen = 0;
		evbuffer_add(in, "EHLO pxm-0123456789abcdef", 25);
		T_OK(pe_canary_scan(in, &seen, hex) == 0, "canary: a token split across reads waits");
		evbuffer_add(in, "0123456789abcdef\r\n", 18);
		T_OK(pe_canary_scan(in, &seen, hex) == 1 && strcmp(hex, "0123456789abcdef0123456789abcdef") == 0,
		    "canary: ... and is found when the rest arrives");
		evbuffer_drain(in, evbuffer_get_length(in));
	}

	/* the conversation through a tunnel (proof.c) */
	{
		struct pe_tunnel tn;
		char err[128];
		struct pe_proof_hooks hooks = { NULL };
		struct pe_proof *pf = pe_proof_new(NULL, NULL, 0, 1, &hooks, err, sizeof(err));
		char nonce[PE_NONCE_HEX + 1], mac[PE_MAC_HEX + 1], line[128];
		pe_nonce_issue(pf, &tn, nonce);
		pe_nonce_mac(pf, nonce, mac);

#define TL(s) pe_tunnel_line(&tn, &ps, (s), strlen(s), out)
		memset(&tn, 0, sizeof(tn));
		memset(&ps, 0, sizeof(ps));
		tn.kind = PE_TARGET_CANARY;
		tn.nonce = nonce;
		tn.proof = pf;
		evbuffer_drain(out, evbuffer_get_length(out));
		snprintf(line, sizeof(line), "EHLO pxm-%s\r\n", nonce);
		pe_tunnel_start(&tn, &ps, out);
		T_OK(out_is(line, strlen(line)), "canary: the nonce goes out as soon as the tunnel is claimed");
		T_OK(TL("220 proxymilter-canary ESMTP ready") == PE_T_MORE && evbuffer_get_length(out) == 0,
		    "canary greeting accepted, the nonce not sent twice");
		tn.nonce_sent = 0;
		tn.greeted = 0;
		ps.noisy = 1;
		pe_tunnel_start(&tn, &ps, out);
		T_OK(evbuffer_get_length(out) == 0, "through a telnet gateway the nonce waits for the greeting");
		T_OK(TL("220 proxymilter-canary ESMTP ready") == PE_T_MORE, "canary greeting accepted");
		T_OK(out_is(line, strlen(line)), "nonce sent after the greeting");
		ps.noisy = 0;
		tn.kind = PE_TARGET_MTA;
		tn.nonce_sent = 0;
		pe_tunnel_start(&tn, &ps, out);
		T_OK(evbuffer_get_length(out) == 0, "an MTA is not spoken to before its banner");
		tn.kind = PE_TARGET_CANARY;
		snprintf(line, sizeof(line), "250 pxm-mac-%s", mac);
		T_OK(TL(line) == PE_T_OPEN && strcmp(ps.reason, "mac") == 0, "the canary's MAC proves it");
		tn.greeted = 0;
		TL("220 proxymilter-canary ESMTP ready");
		T_OK(TL("250 pxm-mac-00000000000000000000000000000000") == PE_T_CLOSED &&
		    strcmp(ps.reason, "bad-mac") == 0, "a forged MAC is not proof");
		tn.greeted = 0;
		T_OK(TL("220 mail.example.com ESMTP") == PE_T_CLOSED && strcmp(ps.reason, "foreign-peer") == 0,
		    "another server's banner: foreign peer");
		tn.greeted = 0;
		tn.noise = 0;
		ps.noisy = 1;
		T_OK(TL("Trying 192.0.2.10...") == PE_T_MORE && TL("Connected.") == PE_T_MORE &&
		    TL("220 proxymilter-canary ESMTP ready") == PE_T_MORE, "a gateway's chatter is skipped");
		tn.greeted = 0;
		tn.noise = 0;
		for (int i = 0; i < 16; i++)
			TL("chatter");
		T_OK(TL("chatter") == PE_T_CLOSED, "but not forever");
		ps.noisy = 0;

		memset(&tn, 0, sizeof(tn));
		tn.kind = PE_TARGET_BANNER;
		tn.banner = "220 mx";
		tn.nonce = nonce;
		T_OK(TL("220 mx.example ESMTP") == PE_T_OPEN && strcmp(ps.reason, "banner") == 0, "banner target: the banner line");
		memset(&tn, 0, sizeof(tn));
		tn.kind = PE_TARGET_BANNER;
		tn.banner = "220 mx";
		tn.nonce = nonce;
		tn.want_mail = 1;
		tn.mail.rcpt = "probe@example.org";
		tn.mail.tag = "t1";
		tn.mail.agent = "proxyprobe test";
		tn.mail.nonce = nonce;
		snprintf(tn.mail.spec, sizeof(tn.mail.spec), "192.0.2.7:1080/socks5");
		evbuffer_drain(out, evbuffer_get_length(out));
		T_OK(TL("220 mx.example ESMTP") == PE_T_MORE &&
		    strncmp((const char *)evbuffer_pullup(out, -1), "EHLO ", 5) == 0, "-m: EHLO after the banner");
		evbuffer_drain(out, evbuffer_get_length(out));
		T_OK(TL("250-mx.example") == PE_T_MORE && evbuffer_get_length(out) == 0, "multi-line reply: wait for the last line");
		T_OK(TL("250 PIPELINING") == PE_T_MORE && OUT_IS("MAIL FROM:<probe@example.org>\r\n"), "-m: MAIL FROM");
		T_OK(TL("250 2.1.0 Ok") == PE_T_MORE && OUT_IS("RCPT TO:<probe@example.org>\r\n"), "-m: RCPT TO");
		T_OK(TL("250 2.1.5 Ok") == PE_T_MORE && OUT_IS("DATA\r\n"), "-m: DATA, one command at a time");
		T_OK(TL("354 go ahead") == PE_T_MORE, "-m: message after 354");
		{
			const char *m = (const char *)evbuffer_pullup(out, -1);
			size_t ml = evbuffer_get_length(out);
			T_OK(m != NULL && has(m, ml, "\r\nSubject: open proxy test\r\n") &&
			    has(m, ml, "\r\nX-Mailer: proxyprobe test\r\n") &&
			    has(m, ml, "\r\nX-Proxy-Spec: 192.0.2.7:1080/socks5 t1\r\n") &&
			    ml > 5 && memcmp(m + ml - 5, "\r\n.\r\n", 5) == 0, "-m: the message's headers and end");
			evbuffer_drain(out, ml);
		}
		T_OK(TL("250 2.0.0 queued") == PE_T_OPEN_QUIT && OUT_IS("QUIT\r\n") && strcmp(ps.reason, "mail-sent") == 0,
		    "-m: QUIT after the message");
		memset(&tn.mail.failed, 0, sizeof(tn.mail.failed));
		tn.greeted = 0;
		tn.mailing = 0;
		TL("220 mx.example ESMTP");
		TL("250 ok");
		evbuffer_drain(out, evbuffer_get_length(out));
		T_OK(TL("550 5.7.1 relaying denied") == PE_T_OPEN_QUIT && strcmp(ps.reason, "mail-refused") == 0,
		    "-m: a refusal still proves the tunnel, and is reported");
#undef TL
		pe_proof_free(pf);
	}

	/* nonce search used by the canary */
	{
		const char *s = "POST / HTTP/1.0\r\nVia: x\r\n\r\nEHLO pxm-0123456789abcdef0123456789abcdef\r\n";
		long off = pe_nonce_find(s, strlen(s));
		T_OK(off > 0 && strncmp(s + off, "0123456789abcdef", 16) == 0, "nonce found behind headers");
		T_OK(pe_nonce_find("pxm-0123", 8) < 0, "short token not a nonce");
		T_OK(pe_nonce_find("pxm-0123456789ABCDEF0123456789abcdef", 36) < 0, "upper-case hex is not ours");
	}
	/* scan entries */
	{
		struct pe_test *t = NULL;
		size_t n = 0;
		char err[128];
		T_OK(pe_scan_parse("3128", NULL, &t, &n, err, sizeof(err)) == 0 && n == 1 && t[0].kind == hc && t[0].port == 3128, "bare port = http-connect");
		T_OK(pe_scan_parse("1080/socks5", NULL, &t, &n, err, sizeof(err)) == 0 && n == 2 && t[1].kind == s5, "port/proto");
		T_OK(pe_scan_parse("3128/http", NULL, &t, &n, err, sizeof(err)) == 0 && n == 2, "duplicate scanned once");
		T_OK(pe_scan_parse("0", NULL, &t, &n, err, sizeof(err)) < 0 && strstr(err, "bad port specification"), "port 0 refused");
		T_OK(pe_scan_parse("80/foo", NULL, &t, &n, err, sizeof(err)) < 0 && strstr(err, "unknown proxy type"), "unknown type refused");
		T_OK(pe_scan_parse("abc", NULL, &t, &n, err, sizeof(err)) < 0, "non-numeric refused");
		T_OK(pe_scan_parse("socks", NULL, &t, &n, err, sizeof(err)) == 0 && n == 3, "tag socks expands (duplicates scanned once)");
		free(t);
		t = NULL;
		n = 0;
		T_OK(pe_scan_parse("basic", NULL, &t, &n, err, sizeof(err)) == 0 && n == 11,
		    "tag basic: pxytest's 13 entries, the 3 on port 23 as one adaptive test");
		free(t);
		t = NULL;
		n = 0;
		T_OK(pe_scan_parse("full", NULL, &t, &n, err, sizeof(err)) == 0 && n == 11 + 14 + 2,
		    "tag full = basic + 14 http ports + 1180/socks5 + 1181 telnet family");
		free(t);
		t = NULL;
		n = 0;
		T_OK(pe_scan_parse("8000-8009", NULL, &t, &n, err, sizeof(err)) == 0 && n == 10 &&
		    t[9].port == 8009 && t[0].kind == hc, "range");
		T_OK(pe_scan_parse("1080/all", NULL, &t, &n, err, sizeof(err)) == 0 && n == 10 + nproxy(),
		    "all = every protocol");
		T_OK(pe_scan_parse("9-8", NULL, &t, &n, err, sizeof(err)) < 0 && strstr(err, "bad port specification"), "reversed range refused");
		T_OK(pe_scan_parse("80-", NULL, &t, &n, err, sizeof(err)) < 0, "open range refused");
		T_OK(pe_scan_parse("80-70000", NULL, &t, &n, err, sizeof(err)) < 0, "range past 65535 refused");
		T_OK(pe_scan_parse("80/", NULL, &t, &n, err, sizeof(err)) < 0 && strstr(err, "unknown proxy type"), "empty type refused");
		T_OK(pe_scan_parse("99999999999999999999", NULL, &t, &n, err, sizeof(err)) < 0, "huge number refused");
		free(t);
		t = NULL;
		n = 0;
		T_OK(pe_scan_parse("1-65535", NULL, &t, &n, err, sizeof(err)) == 0 && n == 65535, "whole port range, fast dedupe");
		free(t);
		t = NULL;
		n = 0;
		T_OK(pe_scan_parse("1-65535/all", NULL, &t, &n, err, sizeof(err)) == 0 && n == 65535 * nproxy(),
		    "1-65535/all: every port x every protocol");
		free(t);
		static const char *const web[] = { "80", "3128/all", NULL };
		static const char *const mine[] = { "web", "socks", NULL };
		const struct pe_tag ut[] = { { "web", web }, { "mine", mine }, { NULL, NULL } };
		t = NULL;
		n = 0;
		T_OK(pe_scan_parse("mine", ut, &t, &n, err, sizeof(err)) == 0 && n == 1 + nproxy() + 2, "user tags nest");
		free(t);
		/* five tags of eight, each naming the next eight times, the last
		 * the whole range: each tag is expanded once (it took 18 s) */
		static const char *const ta[] = { "b", "b", "b", "b", "b", "b", "b", "b", NULL };
		static const char *const tb[] = { "c", "c", "c", "c", "c", "c", "c", "c", NULL };
		static const char *const tc[] = { "d", "d", "d", "d", "d", "d", "d", "d", NULL };
		static const char *const td[] = { "e", "e", "e", "e", "e", "e", "e", "e", NULL };
		static const char *const te[] = { "1-65535/all", NULL };
		const struct pe_tag deep[] = { { "a", ta }, { "b", tb }, { "c", tc }, { "d", td },
		    { "e", te }, { NULL, NULL } };
		t = NULL;
		n = 0;
		T_OK(pe_scan_parse("a", deep, &t, &n, err, sizeof(err)) == 0 && n == 65535 * nproxy(),
		    "nested tags named many times are expanded once each");
		free(t);
		static const char *const la[] = { "80", "lb", NULL };
		static const char *const lb[] = { "la", NULL };
		const struct pe_tag loop[] = { { "la", la }, { "lb", lb }, { NULL, NULL } };
		t = NULL;
		n = 0;
		T_OK(pe_scan_parse("la", loop, &t, &n, err, sizeof(err)) < 0 && strstr(err, "nests too deep"),
		    "a tag loop is still refused");
		free(t);
		T_OK(pe_builtin_tag(0) != NULL && strcmp(pe_builtin_tag(0)->name, "basic") == 0 && pe_builtin_tag(3) == NULL,
		    "built-in tags listed");
	}
	evbuffer_free(in);
	evbuffer_free(out);
	T_DONE();
}
