/* smtp.c's reply parser and banner host, and connect_back's SMTP
 * conversation on plain evbuffers (no engine: ctx->run is NULL, so findings
 * are not recorded; the steps, ctx->reason, ctx->detail, ctx->timer and the
 * exact bytes written are what is checked) */
#include "config.h"
#include <arpa/inet.h>
#include <time.h>
#include "t.h"
#include "pe_int.h"
#include "smtp.h"

#define NONCE "0123456789abcdef0123456789abcdef"
#define HELO "mx.ours.example"
#define EHLO_LINE "EHLO pxm-" NONCE "." HELO "\r\n"
#define HELO_LINE "HELO pxm-" NONCE "." HELO "\r\n"
#define RCPT_LINE "RCPT TO:<probe+pxm-" NONCE "@relay.example>\r\n"

static struct sockaddr_storage client;
static struct evbuffer *in, *out;
static struct pe_ctx ps;
static struct pe_checks ck;
static const struct pe_kind *cb;
static _Alignas(16) unsigned char priv[4096];
static char obuf[8192];

/* ---------------- smtp.c ---------------- */

/* pe_smtp_read on a buffer that holds exactly s, r zeroed first */
static enum pe_smtp_rd
rd_str(struct pe_smtp_reply *r, const char *s, size_t len)
{
	memset(r, 0, sizeof(*r));
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_add(in, s, len);
	return pe_smtp_read(r, in);
}
#define RD(r, s) rd_str((r), (s), sizeof(s) - 1)

static enum pe_smtp_rd
line_str(struct pe_smtp_reply *r, const char *s)
{
	return pe_smtp_line(r, s, strlen(s));
}

/* one byte at a time: MORE until the last byte, then its result */
static int
read_bytewise(struct pe_smtp_reply *r, const char *s, size_t len, enum pe_smtp_rd last)
{
	memset(r, 0, sizeof(*r));
	evbuffer_drain(in, evbuffer_get_length(in));
	for (size_t i = 0; i + 1 < len; i++) {
		evbuffer_add(in, s + i, 1);
		if (pe_smtp_read(r, in) != PE_SMTP_MORE)
			return 0;
	}
	evbuffer_add(in, s + len - 1, 1);
	return pe_smtp_read(r, in) == last;
}

static int
text_terminated(const struct pe_smtp_reply *r)
{
	return memchr(r->text, '\0', sizeof(r->text)) != NULL;
}

static void
test_parser(void)
{
	struct pe_smtp_reply r;
	char big[PE_SMTP_LINE_MAX + 64];

	/* ---- pe_smtp_line ---- */
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "250 ok") == PE_SMTP_DONE && r.code == 250 && r.lines == 1,
	    "line: \"250 ok\" ends a reply");
	T_STREQ(r.text, "ok", "line: its text");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "250-first") == PE_SMTP_MORE && r.code == 250 && r.lines == 1,
	    "line: \"250-\" continues");
	T_OK(line_str(&r, "250 second") == PE_SMTP_DONE && r.lines == 2, "line: then \"250 \" ends");
	T_STREQ(r.text, "first / second", "line: texts joined with \" / \"");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "220") == PE_SMTP_DONE && r.code == 220 && r.lines == 1 && r.text[0] == '\0',
	    "line: \"220\" alone ends a reply, empty text");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "250 ") == PE_SMTP_DONE && r.code == 250 && r.text[0] == '\0',
	    "line: \"250 \" ends a reply, empty text");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "250-") == PE_SMTP_MORE && line_str(&r, "250 b") == PE_SMTP_DONE,
	    "line: an empty continuation line");
	T_STREQ(r.text, "b", "line: no separator after an empty first text");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "250-a") == PE_SMTP_MORE && line_str(&r, "250 ") == PE_SMTP_DONE && r.lines == 2,
	    "line: an empty last line");
	T_STREQ(r.text, "a", "line: no separator before an empty text");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "2500 x") == PE_SMTP_BAD, "line: \"2500 x\" is no reply line");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "ab1") == PE_SMTP_BAD, "line: \"ab1\" is no reply line");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "600 x") == PE_SMTP_BAD, "line: \"600 x\": no 6xx");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "199 x") == PE_SMTP_BAD, "line: \"199 x\": no 1xx");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "") == PE_SMTP_BAD, "line: \"\" is no reply line");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "25") == PE_SMTP_BAD, "line: \"25\" is too short");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "250x") == PE_SMTP_BAD, "line: \"250x\": neither '-' nor ' '");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "2a0 x") == PE_SMTP_BAD, "line: a letter in the code");
	T_OK(r.code == 0 && r.lines == 0, "line: a bad line leaves the reply untouched");
	memset(&r, 0, sizeof(r));
	T_OK(line_str(&r, "250-a") == PE_SMTP_MORE && line_str(&r, "251 b") == PE_SMTP_BAD,
	    "line: a code that changes within a reply");
	memset(&r, 0, sizeof(r));
	T_OK(pe_smtp_line(&r, "250 a\x01" "b\x7f" "c\x80\xff", 11) == PE_SMTP_DONE, "line: control bytes");
	T_STREQ(r.text, "a?b?c??", "line: control bytes made printable");
	memset(&r, 0, sizeof(r));
	{
		char l[80];
		memset(l, 'x', sizeof(l));
		memcpy(l, "250-", 4);
		T_OK(pe_smtp_line(&r, l, 64) == PE_SMTP_MORE && pe_smtp_line(&r, l, 64) == PE_SMTP_MORE &&
		    pe_smtp_line(&r, l, 64) == PE_SMTP_MORE && r.lines == 3, "line: three 60-byte texts");
		T_OK(strlen(r.text) == sizeof(r.text) - 1 && text_terminated(&r),
		    "line: the joined text is cut to its array, NUL-terminated");
		T_OK(strncmp(r.text + 60, " / xxx", 6) == 0, "line: the cut keeps the separator");
	}

	/* ---- pe_smtp_read ---- */
	evbuffer_drain(in, evbuffer_get_length(in));
	memset(&r, 0, sizeof(r));
	T_OK(pe_smtp_read(&r, in) == PE_SMTP_MORE, "read: nothing yet: MORE");
	T_OK(RD(&r, "220 mx.example.org ESMTP\r\n") == PE_SMTP_DONE && r.code == 220 && r.lines == 1,
	    "read: one-line reply");
	T_STREQ(r.text, "mx.example.org ESMTP", "read: its text without the line end");
	T_OK(evbuffer_get_length(in) == 0, "read: the reply is consumed");
	T_OK(RD(&r, "250-a\r\n250-b\r\n250 c\r\n") == PE_SMTP_DONE && r.code == 250 && r.lines == 3,
	    "read: multi-line reply, lines=3");
	T_STREQ(r.text, "a / b / c", "read: multi-line text joined");
	T_OK(RD(&r, "250-a\n250-b\n250 c\n") == PE_SMTP_DONE && r.lines == 3, "read: bare LF line ends");
	T_STREQ(r.text, "a / b / c", "read: bare LF: no CR left in the text");
	T_OK(RD(&r, "250-a\r\n250-b\n250 c\r\n") == PE_SMTP_DONE && r.lines == 3,
	    "read: CRLF and LF mixed");
	T_OK(RD(&r, "250 a\r\r\n") == PE_SMTP_DONE, "read: CR CR LF");
	T_STREQ(r.text, "a?", "read: only one CR is the line end");
	T_OK(RD(&r, "250 a\0b\r\n") == PE_SMTP_DONE, "read: a NUL in a line");
	T_STREQ(r.text, "a?b", "read: the NUL made printable");
	{
		static const char s[] = "250-mx.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
		T_OK(read_bytewise(&r, s, sizeof(s) - 1, PE_SMTP_DONE), "read: 1-byte adds: MORE until the end");
		T_OK(r.lines == 3 && r.code == 250, "read: 1-byte adds: all three lines");
		T_STREQ(r.text, "mx.example.org / PIPELINING / 8BITMIME", "read: 1-byte adds: the text");
	}
	T_OK(RD(&r, "250-a\r\n251 b\r\n") == PE_SMTP_BAD, "read: a code that changes mid-reply");
	T_OK(RD(&r, "2500 x\r\n") == PE_SMTP_BAD, "read: \"2500 x\"");
	T_OK(RD(&r, "ab1\r\n") == PE_SMTP_BAD, "read: \"ab1\"");
	T_OK(RD(&r, "600 x\r\n") == PE_SMTP_BAD, "read: \"600 x\"");
	T_OK(RD(&r, "\r\n") == PE_SMTP_BAD, "read: an empty line");
	T_OK(RD(&r, "\n") == PE_SMTP_BAD, "read: an empty bare-LF line");
	T_OK(RD(&r, "220\r\n") == PE_SMTP_DONE && r.code == 220 && r.lines == 1 && r.text[0] == '\0',
	    "read: \"220\" alone");
	T_OK(RD(&r, "250 partial") == PE_SMTP_MORE && evbuffer_get_length(in) == 11,
	    "read: a line without its end waits, unconsumed");
	T_OK(RD(&r, "250-a\r\n250 b") == PE_SMTP_MORE && r.lines == 1 && evbuffer_get_length(in) == 5,
	    "read: complete lines consumed, the partial one kept");

	/* two replies in one buffer */
	T_OK(RD(&r, "220 first\r\n250 second\r\n") == PE_SMTP_DONE && r.code == 220,
	    "read: two replies: the first is DONE");
	T_STREQ(r.text, "first", "read: two replies: the first's text only");
	T_OK(evbuffer_get_length(in) == 12 &&
	    memcmp(evbuffer_pullup(in, -1), "250 second\r\n", 12) == 0,
	    "read: two replies: the second stays in the buffer");
	memset(&r, 0, sizeof(r));
	T_OK(pe_smtp_read(&r, in) == PE_SMTP_DONE && r.code == 250 && evbuffer_get_length(in) == 0,
	    "read: two replies: the second after a reset");
	T_STREQ(r.text, "second", "read: two replies: the second's text");

	/* line length: PE_SMTP_LINE_MAX bytes before the LF are fine */
	memset(big, 'x', sizeof(big));
	memcpy(big, "250 ", 4);
	big[PE_SMTP_LINE_MAX] = '\n';
	T_OK(rd_str(&r, big, PE_SMTP_LINE_MAX + 1) == PE_SMTP_DONE && r.code == 250,
	    "read: a line of exactly PE_SMTP_LINE_MAX bytes");
	T_OK(strlen(r.text) == sizeof(r.text) - 1 && text_terminated(&r),
	    "read: a long line's text cut to its array");
	memset(big, 'x', sizeof(big));
	memcpy(big, "250 ", 4);
	T_OK(rd_str(&r, big, PE_SMTP_LINE_MAX) == PE_SMTP_MORE,
	    "read: PE_SMTP_LINE_MAX bytes without an end wait");
	evbuffer_add(in, "x", 1);
	T_OK(pe_smtp_read(&r, in) == PE_SMTP_BAD, "read: one byte more without an end: BAD");
	T_OK(rd_str(&r, big, PE_SMTP_LINE_MAX + 1) == PE_SMTP_BAD,
	    "read: PE_SMTP_LINE_MAX + 1 bytes at once without an end: BAD");
	big[PE_SMTP_LINE_MAX + 1] = '\n';
	T_OK(rd_str(&r, big, PE_SMTP_LINE_MAX + 2) == PE_SMTP_BAD,
	    "read: a line of PE_SMTP_LINE_MAX + 1 bytes with its end: BAD");

	/* lines per reply */
	{
		static char many[(PE_SMTP_LINES_MAX + 2) * 8];
		size_t n = 0;
		for (int i = 0; i < PE_SMTP_LINES_MAX - 1; i++)
			n += (size_t)snprintf(many + n, sizeof(many) - n, "250-%02d\r\n", i);
		n += (size_t)snprintf(many + n, sizeof(many) - n, "250 end\r\n");
		T_OK(rd_str(&r, many, n) == PE_SMTP_DONE && r.lines == PE_SMTP_LINES_MAX,
		    "read: PE_SMTP_LINES_MAX lines are one reply");
		T_OK(text_terminated(&r), "read: many lines: the text NUL-terminated");
		n = 0;
		for (int i = 0; i < PE_SMTP_LINES_MAX; i++)
			n += (size_t)snprintf(many + n, sizeof(many) - n, "250-%02d\r\n", i);
		T_OK(rd_str(&r, many, n) == PE_SMTP_MORE && r.lines == PE_SMTP_LINES_MAX,
		    "read: PE_SMTP_LINES_MAX continuation lines wait");
		n += (size_t)snprintf(many + n, sizeof(many) - n, "250 end\r\n");
		T_OK(rd_str(&r, many, n) == PE_SMTP_BAD && r.lines == PE_SMTP_LINES_MAX,
		    "read: one line more than PE_SMTP_LINES_MAX: BAD");
	}
}

static void
test_banner_host(void)
{
	char h[256], small[8];

	T_OK(pe_smtp_banner_host("mx.example.org ESMTP Postfix", h, sizeof(h)) == 0, "host: a host name");
	T_STREQ(h, "mx.example.org", "host: the first word");
	T_OK(pe_smtp_banner_host("MX.Example.ORG ESMTP", h, sizeof(h)) == 0, "host: uppercase");
	T_STREQ(h, "mx.example.org", "host: lowercased");
	T_OK(pe_smtp_banner_host("[192.0.2.1] ready", h, sizeof(h)) == 0, "host: an IPv4 literal");
	T_STREQ(h, "[192.0.2.1]", "host: the literal with its brackets");
	T_OK(pe_smtp_banner_host("[IPv6:2001:db8::1] hi", h, sizeof(h)) == 0, "host: an IPv6 literal");
	T_STREQ(h, "[ipv6:2001:db8::1]", "host: the IPv6 literal, lowercased");
	T_OK(pe_smtp_banner_host("mx.example.org", h, sizeof(h)) == 0, "host: the whole text");
	T_STREQ(h, "mx.example.org", "host: the whole text is the host");
	T_OK(pe_smtp_banner_host("mail-1_a.example.org x", h, sizeof(h)) == 0, "host: '-' and '_'");
	T_STREQ(h, "mail-1_a.example.org", "host: '-' and '_' kept");
	strcpy(h, "unchanged");
	T_OK(pe_smtp_banner_host("localhost ESMTP", h, sizeof(h)) == -1, "host: \"localhost\" (no dot)");
	T_OK(pe_smtp_banner_host("ESMTP ready", h, sizeof(h)) == -1, "host: \"ESMTP ready\"");
	T_OK(pe_smtp_banner_host("ESMTP ready.", h, sizeof(h)) == -1, "host: a dot after the first word");
	T_OK(pe_smtp_banner_host("", h, sizeof(h)) == -1, "host: empty text");
	T_OK(pe_smtp_banner_host(" mx.example.org", h, sizeof(h)) == -1, "host: a leading space");
	T_OK(pe_smtp_banner_host("[192.0.2.1 ready", h, sizeof(h)) == -1, "host: an unclosed literal");
	T_OK(pe_smtp_banner_host("mx.exa$mple.org ESMTP", h, sizeof(h)) == -1, "host: a '$' in the name");
	T_OK(pe_smtp_banner_host("mx.example.org: ESMTP", h, sizeof(h)) == -1, "host: a ':' after the name");
	T_STREQ(h, "unchanged", "host: nothing written on -1");
	{
		char w[301];
		memset(w, 'a', 300);
		w[3] = '.';
		w[300] = '\0';
		T_OK(pe_smtp_banner_host(w, small, sizeof(small)) == -1, "host: a 300-char word, small buffer");
		T_OK(pe_smtp_banner_host(w, h, sizeof(h)) == -1, "host: a 300-char word, 256-byte buffer");
	}
	T_OK(pe_smtp_banner_host("a.bcdefg x", small, sizeof(small)) == -1, "host: 8 chars in 8 bytes: -1");
	T_OK(pe_smtp_banner_host("a.bcdef x", small, sizeof(small)) == 0, "host: 7 chars in 8 bytes fit");
	T_STREQ(small, "a.bcdef", "host: 7 chars in 8 bytes");
	T_OK(pe_smtp_banner_host("mx.ex ample", h, sizeof(h)) == 0, "host: \"mx.ex ample\"");
	T_STREQ(h, "mx.ex", "host: the word before the space");
}

/* ---------------- connect_back ---------------- */

/* the output so far, NUL-terminated; drained */
static const char *
outs(void)
{
	size_t n = evbuffer_get_length(out);

	if (n >= sizeof(obuf))
		n = sizeof(obuf) - 1;
	evbuffer_remove(out, obuf, n);
	obuf[n] = '\0';
	evbuffer_drain(out, evbuffer_get_length(out));
	return obuf;
}

static void
checks_default(void)
{
	memset(&ck, 0, sizeof(ck));
	ck.cb_relay = PE_RELAY_NONE;
}

static void
checks_relay(void)
{
	memset(&ck, 0, sizeof(ck));
	ck.cb_relay = PE_RELAY_RCPT;
	ck.cb_sender = "probe@relay.example";
	ck.cb_local = "probe";
	ck.cb_domain = "relay.example";
}

static void
begin(void)
{
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_drain(out, evbuffer_get_length(out));
	memset(&ps, 0, sizeof(ps));
	memset(priv, 0, sizeof(priv));
	ps.priv = priv;
	ps.client = (const struct sockaddr *)&client;
	ps.checks = &ck;
	ps.helo = HELO;
	ps.nonce = NONCE;
	cb->start(&ps, out);
}

static enum pe_step
feed(const void *data, size_t len)
{
	evbuffer_add(in, data, len);
	return cb->on_read(&ps, in, out);
}
#define FEEDS(s) feed((s), sizeof(s) - 1)
#define REASON(s) (strcmp(ps.reason, (s)) == 0)

/* a fresh session with these settings (relay address as checks_relay's) */
static void
fresh(int relay, int backscatter, double timeout)
{
	checks_relay();
	ck.cb_relay = relay;
	ck.cb_backscatter = backscatter;
	ck.cb_timeout = timeout;
	begin();
}

/* greeting, EHLO accepted, the pause over, MAIL accepted: RCPT written */
static void
to_rcpt(void)
{
	FEEDS("220 mx.client.example ESMTP\r\n");
	FEEDS("250 ok\r\n");
	cb->on_timer(&ps, out);
	FEEDS("250 ok\r\n");
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* the output is one probe message: a Date line, then exactly rest */
static int
message_is(const char *rest)
{
	const char *o = outs(), *eol = strstr(o, "\r\n");

	return strncmp(o, "Date: ", 6) == 0 && eol != NULL && eol - o > 20 && eol - o < 50 &&
	    strcmp(eol + 2, rest) == 0;
}

#define RELAY_MSG "From: <postmaster@" HELO ">\r\nTo: <probe+pxm-" NONCE "@relay.example>\r\n" \
	"Subject: relay test pxm-" NONCE "\r\nMessage-ID: <pxm-" NONCE ".relay@" HELO ">\r\n\r\n" \
	"A test of this server's mail handling (relay) by " HELO ".\r\n" \
	"It goes to a mailbox of the tester, who discards it on arrival.\r\n.\r\n"
#define BOUNCE_MSG "From: <probe@relay.example>\r\nTo: <nonexistent-0123456789ab@client.example>\r\n" \
	"Subject: bounce test pxm-" NONCE "\r\nMessage-ID: <pxm-" NONCE ".bounce@" HELO ">\r\n\r\n" \
	"A test of this server's mail handling (bounce) by " HELO ".\r\n" \
	"It goes to a mailbox of the tester, who discards it on arrival.\r\n.\r\n"
#define BMAIL_LINE "MAIL FROM:<probe+pxm-" NONCE "-bounce@relay.example>\r\n"
#define BRCPT_LINE "RCPT TO:<nonexistent-0123456789ab@client.example>\r\n"

/* begin, greeting, EHLO reply: the relay test's pause */
static int
to_pause(void)
{
	fresh(PE_RELAY_RCPT, 0, 0);
	if (FEEDS("220 mx.client.example ESMTP\r\n") != PE_STEP_MORE || strcmp(outs(), EHLO_LINE) != 0)
		return 0;
	return FEEDS("250-mx\r\n250 PIPELINING\r\n") == PE_STEP_MORE && outs()[0] == '\0' &&
	    ps.timer == 0.2;
}

static void
test_connect_back(void)
{
	/* the kind */
	T_OK(cb != NULL, "cb: connect-back is a registered kind");
	if (cb == NULL)
		return;
	T_OK(!pe_kind_is_proxy(cb) && !(cb->flags & PE_K_TASK) && (cb->flags & PE_K_NONCE),
	    "cb: a stream kind with a nonce, no proxy test");
	T_OK(cb->on_timer != NULL && cb->on_confirm != NULL && cb->on_hangup != NULL &&
	    cb->on_deadline != NULL, "cb: timer, confirm, hangup and deadline handlers");
	T_OK(cb->priv_size <= sizeof(priv), "cb: its state fits the test's priv");

	/* the session without a relay test */
	checks_default();
	begin();
	T_OK(evbuffer_get_length(out) == 0 && ps.timer == 0, "cb: start writes nothing, no timer");
	T_OK(FEEDS("220 mx.client.example ESMTP\r\n") == PE_STEP_MORE, "cb: greeting: MORE");
	T_STREQ(outs(), EHLO_LINE, "cb: greeting: EHLO pxm-NONCE.HELO");
	T_OK(REASON("ok"), "cb: greeting: reason ok");
	T_STREQ(ps.detail, "mx.client.example ESMTP", "cb: greeting: detail is its text");
	T_OK(evbuffer_get_length(in) == 0, "cb: greeting consumed");
	T_OK(FEEDS("250-mx\r\n") == PE_STEP_MORE && evbuffer_get_length(out) == 0,
	    "cb: a partial EHLO reply waits");
	T_OK(FEEDS("250 PIPELINING\r\n") == PE_STEP_QUIT, "cb: EHLO reply, no relay test: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: EHLO reply, no relay test: QUIT written");
	T_OK(ps.timer == 0, "cb: no relay test: no pause timer");

	checks_default();
	begin();
	{
		static const char g[] = "220-mx.client.example ESMTP\r\n220-second\r\n220 third\r\n";
		int more = 1;
		for (size_t i = 0; i + 1 < sizeof(g) - 1; i++)
			if (feed(g + i, 1) != PE_STEP_MORE || evbuffer_get_length(out) != 0)
				more = 0;
		T_OK(more, "cb: a multi-line greeting in 1-byte reads: MORE, nothing written");
		T_OK(feed(g + sizeof(g) - 2, 1) == PE_STEP_MORE, "cb: its last byte");
		T_STREQ(outs(), EHLO_LINE, "cb: multi-line greeting: EHLO at its end");
		T_STREQ(ps.detail, "mx.client.example ESMTP / second / third",
		    "cb: multi-line greeting: detail");
	}

	/* a timer wish of connect_back.timeout at start */
	checks_default();
	ck.cb_timeout = 5;
	begin();
	T_OK(ps.timer == 5, "cb: start asks for a timer of connect_back.timeout");

	/* EHLO refused: HELO */
	checks_default();
	begin();
	FEEDS("220 mx.client.example ESMTP\r\n");
	(void)outs();
	T_OK(FEEDS("502 5.5.2 Error: command not recognized\r\n") == PE_STEP_MORE,
	    "cb: EHLO refused: MORE");
	T_STREQ(outs(), HELO_LINE, "cb: EHLO refused: HELO pxm-NONCE.HELO");
	T_OK(FEEDS("250 x\r\n") == PE_STEP_QUIT, "cb: HELO accepted, no relay test: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: HELO accepted, no relay test: QUIT written");
	fresh(PE_RELAY_RCPT, 0, 0);
	FEEDS("220 mx.client.example ESMTP\r\n");
	(void)outs();
	FEEDS("500 what\r\n");
	T_STREQ(outs(), HELO_LINE, "cb: relay test, EHLO refused: HELO");
	T_OK(FEEDS("250 x\r\n") == PE_STEP_MORE && ps.timer == 0.2, "cb: HELO accepted: continues to the pause");
	T_STREQ(outs(), "", "cb: HELO accepted: nothing written in the pause");
	ps.timer = 0;
	T_OK(cb->on_timer(&ps, out) == PE_STEP_MORE, "cb: after HELO: the pause ends");
	T_STREQ(outs(), "MAIL FROM:<probe@relay.example>\r\n", "cb: after HELO: MAIL FROM");
	fresh(PE_RELAY_RCPT, 0, 0);
	FEEDS("220 mx.client.example ESMTP\r\n");
	FEEDS("500 what\r\n");
	(void)outs();
	T_OK(FEEDS("502 no\r\n") == PE_STEP_QUIT, "cb: HELO refused too: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: HELO refused too: QUIT written");

	/* the relay test */
	T_OK(to_pause(), "cb: relay: EHLO reply: MORE, nothing written, timer 0.2");
	ps.timer = 0;
	T_OK(cb->on_timer(&ps, out) == PE_STEP_MORE, "cb: relay: the pause's timer: MORE");
	T_STREQ(outs(), "MAIL FROM:<probe@relay.example>\r\n", "cb: relay: MAIL FROM:<sender>");
	T_OK(ps.timer == 0, "cb: relay: no timeout, no new timer");
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_MORE, "cb: relay: MAIL accepted: MORE");
	T_STREQ(outs(), RCPT_LINE, "cb: relay: RCPT TO:<local+pxm-NONCE@domain>");
	T_OK(FEEDS("250 2.1.5 Ok\r\n") == PE_STEP_MORE, "cb: relay: RCPT accepted: MORE");
	T_OK(REASON("relay-rcpt"), "cb: relay: RCPT accepted: reason relay-rcpt");
	T_STREQ(ps.detail, "RCPT TO:<probe+pxm-" NONCE "@relay.example> 250 2.1.5 Ok",
	    "cb: relay: RCPT accepted: detail");
	T_STREQ(outs(), "RSET\r\n", "cb: relay: RSET after RCPT");
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_QUIT, "cb: relay: RSET's reply: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: relay: QUIT written");

	T_OK(to_pause(), "cb: relay 251: to the pause");
	cb->on_timer(&ps, out);
	FEEDS("250 ok\r\n");
	(void)outs();
	T_OK(FEEDS("251 2.1.5 will forward\r\n") == PE_STEP_MORE && REASON("relay-rcpt"),
	    "cb: relay: RCPT 251 is relay-rcpt too");
	T_STREQ(outs(), "RSET\r\n", "cb: relay 251: RSET");

	T_OK(to_pause(), "cb: relay refused: to the pause");
	cb->on_timer(&ps, out);
	T_STREQ(outs(), "MAIL FROM:<probe@relay.example>\r\n", "cb: relay refused: MAIL FROM");
	FEEDS("250 ok\r\n");
	T_STREQ(outs(), RCPT_LINE, "cb: relay refused: RCPT");
	T_OK(FEEDS("554 5.7.1 Relay access denied\r\n") == PE_STEP_MORE, "cb: RCPT refused: MORE");
	T_STREQ(outs(), "RSET\r\n", "cb: RCPT refused: RSET");
	T_OK(REASON("ok"), "cb: RCPT refused: not relay-rcpt");
	T_OK(FEEDS("250 2.0.0 Ok\r\n") == PE_STEP_QUIT, "cb: RCPT refused, RSET's reply: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: RCPT refused: QUIT written");

	T_OK(to_pause(), "cb: relay 450: to the pause");
	cb->on_timer(&ps, out);
	FEEDS("250 ok\r\n");
	(void)outs();
	T_OK(FEEDS("450 4.1.1 try later\r\n") == PE_STEP_MORE && REASON("ok"),
	    "cb: RCPT 450 is no relay-rcpt");
	T_STREQ(outs(), "RSET\r\n", "cb: RCPT 450: RSET");
	T_OK(FEEDS("500 no\r\n") == PE_STEP_QUIT, "cb: RSET refused: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: RSET refused: QUIT written");

	T_OK(to_pause(), "cb: MAIL refused: to the pause");
	cb->on_timer(&ps, out);
	(void)outs();
	T_OK(FEEDS("553 5.7.1 sender rejected\r\n") == PE_STEP_QUIT, "cb: MAIL refused: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: MAIL refused: QUIT, no RCPT");

	T_OK(to_pause(), "cb: null sender: to the pause");
	ck.cb_sender = NULL;
	cb->on_timer(&ps, out);
	T_STREQ(outs(), "MAIL FROM:<>\r\n", "cb: no sender: MAIL FROM:<>");

	checks_relay();
	ck.cb_domain = NULL;
	begin();
	FEEDS("220 mx.client.example ESMTP\r\n");
	(void)outs();
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_QUIT && ps.timer == 0, "cb: relay test without a domain: QUIT");
	T_STREQ(outs(), "QUIT\r\n", "cb: relay test without a domain: QUIT written");

	/* in the pause */
	T_OK(to_pause(), "cb: out of turn: to the pause");
	T_OK(FEEDS("250 hello again\r\n") == PE_STEP_QUIT, "cb: a reply in the pause: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: a reply in the pause: QUIT written, no MAIL");
	T_OK(to_pause(), "cb: out of turn, partial: to the pause");
	T_OK(FEEDS("250 hel") == PE_STEP_MORE && evbuffer_get_length(out) == 0,
	    "cb: a partial line in the pause waits");
	T_OK(to_pause(), "cb: confirm: to the pause");
	ps.timer = 0;
	T_OK(cb->on_confirm(&ps, out, PE_CONFIRM_HELO) == PE_STEP_QUIT, "cb: confirm in the pause: QUIT step");
	T_OK(REASON("ours"), "cb: confirm in the pause: reason ours");
	T_STREQ(outs(), "QUIT\r\n", "cb: confirm in the pause: QUIT written, no MAIL");
	T_OK(ps.timer < 0, "cb: confirm in the pause: the timer cancelled");
	T_OK(to_pause(), "cb: confirm without a connection: to the pause");
	T_OK(cb->on_confirm(&ps, NULL, PE_CONFIRM_HELO) == PE_STEP_CLOSED && REASON("ours"),
	    "cb: confirm without output: CLOSED, ours");

	/* greeting classes */
	checks_default();
	begin();
	T_OK(FEEDS("220 rblsmtpd.local\r\n") == PE_STEP_MORE && REASON("rblsmtpd"),
	    "cb: rblsmtpd greeting: reason rblsmtpd");
	T_STREQ(outs(), EHLO_LINE, "cb: rblsmtpd greeting: EHLO all the same");
	fresh(PE_RELAY_RCPT, 0, 0);
	T_OK(FEEDS("220 " HELO " ESMTP Postfix\r\n") == PE_STEP_QUIT && REASON("ours"),
	    "cb: a greeting naming our host: ours, QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: a greeting naming our host: QUIT, no EHLO");
	checks_default();
	begin();
	T_OK(FEEDS("220 MX.OURS.Example ESMTP\r\n") == PE_STEP_QUIT && REASON("ours"),
	    "cb: our host in capitals: ours");
	T_STREQ(outs(), "QUIT\r\n", "cb: our host in capitals: QUIT only");
	checks_default();
	begin();
	ps.helo = "MX.Ours.Example";
	T_OK(FEEDS("220 mx.ours.example ESMTP\r\n") == PE_STEP_QUIT && REASON("ours"),
	    "cb: our host configured in capitals: ours");
	T_STREQ(outs(), "QUIT\r\n", "cb: our host configured in capitals: QUIT only");
	checks_default();
	begin();
	T_OK(FEEDS("220 mx.ours.example.evil ESMTP\r\n") == PE_STEP_MORE && REASON("ok"),
	    "cb: a longer name that starts with ours is not ours");
	T_STREQ(outs(), EHLO_LINE, "cb: not ours: EHLO");
	checks_default();
	begin();
	T_OK(FEEDS("554 5.7.1 Port 25 blocked: please use your ISP's SMTP server\r\n") == PE_STEP_QUIT &&
	    REASON("intercepted"), "cb: an ISP interceptor: intercepted, QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: an ISP interceptor: QUIT written");
	T_STREQ(ps.detail, "5.7.1 Port 25 blocked: please use your ISP's SMTP server",
	    "cb: an ISP interceptor: detail");
	checks_default();
	begin();
	T_OK(FEEDS("421 Outbound SMTP blocked by your provider\r\n") == PE_STEP_QUIT &&
	    REASON("intercepted"), "cb: a 421 interceptor: intercepted");
	{
		static const char *const hints[] = { "554 Use Your own relay host",
			"554 use our smarthost", "421 contact your ISP", "554 ask your provider",
			"554 PORT 25 is closed", "554 use the SMTP server of the ISP",
			"554 you are not allowed to send mail directly", "421 blocked by policy",
			"554 connection intercepted", NULL };
		int all = 1;
		for (int i = 0; hints[i] != NULL; i++) {
			checks_default();
			begin();
			evbuffer_add_printf(in, "%s\r\n", hints[i]);
			if (cb->on_read(&ps, in, out) != PE_STEP_QUIT || !REASON("intercepted") ||
			    strcmp(outs(), "QUIT\r\n") != 0) {
				all = 0;
				printf("  not intercepted: %s\n", hints[i]);
			}
		}
		T_OK(all, "cb: each interceptor hint, any case, in a 421 or 554: intercepted");
	}
	checks_default();
	begin();
	T_OK(FEEDS("554 go away\r\n") == PE_STEP_QUIT && REASON("refused"), "cb: 554 go away: refused");
	T_STREQ(outs(), "QUIT\r\n", "cb: refused: QUIT written");
	T_STREQ(ps.detail, "go away", "cb: refused: detail");
	checks_default();
	begin();
	T_OK(FEEDS("450 please use your ISP's server\r\n") == PE_STEP_QUIT && REASON("refused"),
	    "cb: an interceptor's words in a 450: refused, not intercepted");
	checks_default();
	begin();
	T_OK(FEEDS("SSH-2.0-OpenSSH_9.2\r\n") == PE_STEP_QUIT && REASON("not-smtp"),
	    "cb: an ssh banner: not-smtp, QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: an ssh banner: QUIT written");
	checks_default();
	begin();
	T_OK(FEEDS("SSH-2.0-Open") == PE_STEP_MORE, "cb: a partial foreign line waits for its end");
	checks_default();
	begin();
	{
		char junk[PE_SMTP_LINE_MAX + 1];
		memset(junk, 'A', sizeof(junk));
		T_OK(feed(junk, PE_SMTP_LINE_MAX) == PE_STEP_MORE, "cb: PE_SMTP_LINE_MAX bytes without a line end wait");
		T_OK(feed(junk, 1) == PE_STEP_QUIT && REASON("not-smtp"),
		    "cb: one more byte: not-smtp, QUIT step");
		T_STREQ(outs(), "QUIT\r\n", "cb: an endless line: QUIT written");
	}
	checks_default();
	begin();
	{
		int i, step = PE_STEP_MORE;
		for (i = 0; i < 100 && step == PE_STEP_MORE; i++)
			step = FEEDS("220-mx.client.example still greeting\r\n");
		T_OK(step == PE_STEP_QUIT && REASON("not-smtp"), "cb: 220- 100 times: not-smtp, QUIT step");
		T_OK(i == PE_SMTP_LINES_MAX + 1, "cb: 220- forever: cut at the line after PE_SMTP_LINES_MAX");
		T_STREQ(outs(), "QUIT\r\n", "cb: 220- forever: QUIT only, no EHLO");
	}
	checks_default();
	begin();
	{
		static char g[100 * 12];
		size_t n = 0;
		for (int i = 0; i < 100; i++)
			n += (size_t)snprintf(g + n, sizeof(g) - n, "220-line%02d\r\n", i);
		T_OK(feed(g, n) == PE_STEP_QUIT && REASON("not-smtp"), "cb: 100 220- lines at once: not-smtp");
		T_STREQ(outs(), "QUIT\r\n", "cb: 100 220- lines at once: QUIT only");
	}
	checks_default();
	begin();
	FEEDS("220 mx.client.example ESMTP\r\n");
	(void)outs();
	T_OK(FEEDS("HTTP/1.0 400 Bad\r\n") == PE_STEP_QUIT && REASON("not-smtp"),
	    "cb: garbage after the greeting: not-smtp");
	T_STREQ(outs(), "QUIT\r\n", "cb: garbage after the greeting: QUIT");

	/* hang-up and deadline */
	checks_default();
	begin();
	T_OK(cb->on_hangup(&ps, 0) == PE_STEP_CLOSED && REASON("hung-up"), "cb: hang-up before anything: hung-up, CLOSED");
	T_OK(evbuffer_get_length(out) == 0, "cb: hang-up: nothing written");
	checks_default();
	begin();
	FEEDS("220 mx.client.example ESMTP\r\n");
	(void)outs();
	T_OK(cb->on_hangup(&ps, 31) == PE_STEP_CLOSED && REASON("ok"),
	    "cb: hang-up after the greeting: CLOSED, the reason kept");
	checks_default();
	begin();
	snprintf(ps.reason, sizeof(ps.reason), "timeout");	/* as the engine does */
	T_OK(cb->on_deadline(&ps, out) == PE_STEP_QUIT && REASON("timeout"), "cb: the deadline: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: the deadline: QUIT written");
	T_OK(to_pause(), "cb: deadline in the pause: to the pause");
	T_OK(cb->on_deadline(&ps, out) == PE_STEP_QUIT, "cb: the deadline in the pause: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: the deadline in the pause: QUIT written");

	/* connect_back.timeout */
	checks_default();
	ck.cb_timeout = 0.01;
	begin();
	T_OK(ps.timer == 0.01, "cb: timeout: the timer asked for at start");
	ps.timer = 0;
	sleep_ms(20);
	T_OK(cb->on_timer(&ps, out) == PE_STEP_QUIT && REASON("timeout"),
	    "cb: timeout in the banner state: timeout, QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: timeout in the banner state: QUIT written");
	checks_relay();
	ck.cb_timeout = 0.01;
	begin();
	FEEDS("220 mx.client.example ESMTP\r\n");
	(void)outs();
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_MORE && ps.timer == 0.2, "cb: timeout: to the pause");
	ps.timer = 0;
	sleep_ms(20);
	T_OK(cb->on_timer(&ps, out) == PE_STEP_QUIT && REASON("timeout"),
	    "cb: the pause's timer after the timeout: timeout, QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "cb: the pause's timer after the timeout: QUIT, no MAIL");
	fresh(PE_RELAY_RCPT, 0, 30);
	FEEDS("220 mx.client.example ESMTP\r\n");
	FEEDS("250 ok\r\n");
	(void)outs();
	ps.timer = 0;
	T_OK(cb->on_timer(&ps, out) == PE_STEP_MORE, "cb: the pause's timer within the timeout: MORE");
	T_STREQ(outs(), "MAIL FROM:<probe@relay.example>\r\n", "cb: within the timeout: MAIL FROM");
	T_OK(ps.timer > 29 && ps.timer <= 30, "cb: within the timeout: the timer re-armed to what is left");
	ps.timer = 0;
	T_OK(cb->on_timer(&ps, out) == PE_STEP_QUIT && REASON("timeout"),
	    "cb: the timer while MAIL waits: timeout");
	T_STREQ(outs(), "QUIT\r\n", "cb: the timer while MAIL waits: QUIT");
	fresh(PE_RELAY_RCPT, 0, 0);
	T_OK(to_pause(), "cb: the pause's timer without output: to the pause");
	T_OK(cb->on_timer(&ps, NULL) == PE_STEP_CLOSED, "cb: the pause's timer without output: CLOSED");
}

/* relay_test confirm and backscatter_test: messages, PE_STEP_AWAIT, and
 * the milter's confirmations */
static void
test_messages(void)
{
	if (cb == NULL)
		return;

	/* relay_test confirm */
	fresh(PE_RELAY_CONFIRM, 0, 30);
	FEEDS("220 mx.client.example ESMTP\r\n");
	T_STREQ(outs(), EHLO_LINE, "confirm: EHLO");
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_MORE && ps.timer == 0.2, "confirm: the pause");
	ps.timer = 0;
	T_OK(cb->on_timer(&ps, out) == PE_STEP_MORE, "confirm: the pause ends");
	T_STREQ(outs(), "MAIL FROM:<>\r\n", "confirm: MAIL FROM:<>, whatever the sender");
	T_OK(FEEDS("250 2.1.0 Ok\r\n") == PE_STEP_MORE, "confirm: MAIL accepted");
	T_STREQ(outs(), RCPT_LINE, "confirm: RCPT TO:<local+pxm-NONCE@domain>");
	T_OK(FEEDS("250 2.1.5 Ok\r\n") == PE_STEP_MORE && REASON("relay-rcpt"),
	    "confirm: RCPT accepted: relay-rcpt (a sign)");
	T_STREQ(outs(), "DATA\r\n", "confirm: RCPT accepted: DATA, no RSET");
	T_OK(FEEDS("354 End data with <CR><LF>.<CR><LF>\r\n") == PE_STEP_MORE, "confirm: 354");
	T_OK(message_is(RELAY_MSG), "confirm: the message: headers with the nonce, a line, \".\"");
	ps.timer = 0;
	T_OK(FEEDS("250 2.0.0 Ok: queued as 1234\r\n") == PE_STEP_AWAIT,
	    "confirm: the message accepted: AWAIT");
	T_STREQ(outs(), "QUIT\r\n", "confirm: the message accepted: QUIT written");
	T_OK(ps.timer > 29 && ps.timer <= 30, "confirm: AWAIT until connect_back.timeout");
	T_OK(cb->on_confirm(&ps, NULL, PE_CONFIRM_RELAY) == PE_STEP_CLOSED && REASON("relay-confirmed"),
	    "confirm: our MTA saw the message: relay-confirmed, CLOSED");
	T_OK(evbuffer_get_length(out) == 0, "confirm: nothing written after the QUIT");

	fresh(PE_RELAY_CONFIRM, 0, 30);
	to_rcpt();
	FEEDS("250 ok\r\n");
	FEEDS("354 go\r\n");
	(void)outs();
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_AWAIT, "confirm, no word: AWAIT");
	(void)outs();
	ps.timer = 0;
	T_OK(cb->on_timer(&ps, NULL) == PE_STEP_CLOSED && REASON("relay-rcpt"),
	    "confirm, no word: the wait's timer: CLOSED, the reason kept");
	T_OK(evbuffer_get_length(out) == 0, "confirm, no word: nothing written");

	fresh(PE_RELAY_CONFIRM, 0, 30);
	to_rcpt();
	FEEDS("250 ok\r\n");
	(void)outs();
	T_OK(FEEDS("554 5.5.1 no valid recipients\r\n") == PE_STEP_QUIT, "confirm: DATA refused: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "confirm: DATA refused: QUIT, no message");

	fresh(PE_RELAY_CONFIRM, 0, 30);
	to_rcpt();
	FEEDS("250 ok\r\n");
	FEEDS("354 go\r\n");
	(void)outs();
	T_OK(FEEDS("554 5.7.1 message rejected\r\n") == PE_STEP_QUIT,
	    "confirm: the message refused: QUIT step, nothing to wait for");
	T_STREQ(outs(), "QUIT\r\n", "confirm: the message refused: QUIT written");

	fresh(PE_RELAY_CONFIRM, 0, 0);
	to_rcpt();
	(void)outs();
	T_OK(FEEDS("554 5.7.1 Relay access denied\r\n") == PE_STEP_MORE && REASON("ok"),
	    "confirm: RCPT refused: no relay-rcpt");
	T_STREQ(outs(), "RSET\r\n", "confirm: RCPT refused: RSET, no DATA");

	/* backscatter_test: the client's domain is the verified rDNS name's
	 * (none here: no engine), else the greeting's, but only after the
	 * server refused to relay to us */
	fresh(PE_RELAY_NONE, 1, 30);
	FEEDS("220 mx.client.example ESMTP\r\n");
	(void)outs();
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_MORE && ps.timer == 0.2, "bounce: the pause");
	ps.timer = 0;
	T_OK(cb->on_timer(&ps, out) == PE_STEP_QUIT, "bounce alone, no rDNS: the greeting's domain is not trusted");
	T_STREQ(outs(), "QUIT\r\n", "bounce alone, no rDNS: QUIT, no MAIL");

#define REFUSED_RELAY() do { \
	FEEDS("220 mx.client.example ESMTP\r\n"); \
	FEEDS("250 ok\r\n"); \
	cb->on_timer(&ps, out); \
	FEEDS("250 ok\r\n"); \
	FEEDS("554 5.7.1 Relay access denied\r\n"); \
	(void)outs(); \
} while (0)
	fresh(PE_RELAY_RCPT, 1, 30);
	REFUSED_RELAY();
	T_OK(FEEDS("250 2.0.0 Ok\r\n") == PE_STEP_MORE, "bounce: after a refused relay, RSET done");
	T_STREQ(outs(), BMAIL_LINE, "bounce: MAIL FROM:<local+pxm-NONCE-bounce@domain>");
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_MORE, "bounce: MAIL accepted");
	T_STREQ(outs(), BRCPT_LINE, "bounce: RCPT TO a nonexistent user of the greeting's domain");
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_MORE, "bounce: RCPT accepted");
	T_STREQ(outs(), "DATA\r\n", "bounce: DATA");
	T_OK(FEEDS("354 go\r\n") == PE_STEP_MORE, "bounce: 354");
	T_OK(message_is(BOUNCE_MSG), "bounce: the message");
	ps.timer = 0;
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_AWAIT, "bounce: the message accepted: AWAIT");
	T_STREQ(outs(), "QUIT\r\n", "bounce: QUIT written");
	T_OK(ps.timer > 29 && ps.timer <= 30, "bounce: AWAIT until connect_back.timeout");
	T_OK(cb->on_confirm(&ps, NULL, PE_CONFIRM_RELAY) == PE_STEP_MORE,
	    "bounce: a relay confirmation nobody asked for: MORE");
	T_OK(cb->on_confirm(&ps, NULL, PE_CONFIRM_BOUNCE) == PE_STEP_CLOSED && REASON("backscatter"),
	    "bounce: the bounce reached our MTA: backscatter, CLOSED");

	fresh(PE_RELAY_RCPT, 1, 30);
	REFUSED_RELAY();
	FEEDS("250 2.0.0 Ok\r\n");
	FEEDS("250 ok\r\n");
	(void)outs();
	T_OK(FEEDS("550 5.1.1 <nonexistent-0123456789ab@client.example>: Recipient address rejected\r\n") ==
	    PE_STEP_QUIT, "bounce: RCPT refused at once: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "bounce: RCPT refused: QUIT, no DATA");

	fresh(PE_RELAY_RCPT, 1, 30);
	FEEDS("220 mail.client.co.uk ESMTP\r\n");
	FEEDS("250 ok\r\n");
	cb->on_timer(&ps, out);
	FEEDS("250 ok\r\n");
	FEEDS("554 5.7.1 Relay access denied\r\n");
	FEEDS("250 2.0.0 Ok\r\n");
	FEEDS("250 ok\r\n");
	T_OK(strstr(outs(), BMAIL_LINE "RCPT TO:<nonexistent-0123456789ab@client.co.uk>\r\n") != NULL,
	    "bounce: the registrable domain of the greeting's host (co.uk)");

	fresh(PE_RELAY_RCPT, 1, 30);
	FEEDS("220 [192.0.2.10] ESMTP\r\n");
	FEEDS("250 ok\r\n");
	cb->on_timer(&ps, out);
	FEEDS("250 ok\r\n");
	FEEDS("554 5.7.1 Relay access denied\r\n");
	(void)outs();
	T_OK(FEEDS("250 2.0.0 Ok\r\n") == PE_STEP_QUIT, "bounce: no domain known: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "bounce: no domain known: QUIT, no MAIL");

	/* both on, an open relay, no rDNS: the relay message, no bounce test
	 * (the greeting's domain could be anyone's, relayed to) */
	fresh(PE_RELAY_CONFIRM, 1, 30);
	to_rcpt();
	FEEDS("250 ok\r\n");
	FEEDS("354 go\r\n");
	(void)outs();
	T_OK(cb->on_confirm(&ps, out, PE_CONFIRM_RELAY) == PE_STEP_MORE && REASON("relay-confirmed"),
	    "both: the relay confirmed before the message's 250: kept, MORE");
	T_OK(evbuffer_get_length(out) == 0, "both: the confirmation writes nothing");
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_QUIT, "both: then the 250: QUIT, nothing left to wait for");
	T_STREQ(outs(), "QUIT\r\n", "both: open relay, no rDNS: no bounce test");

	fresh(PE_RELAY_CONFIRM, 1, 30);
	to_rcpt();
	FEEDS("250 ok\r\n");
	FEEDS("354 go\r\n");
	(void)outs();
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_AWAIT, "both: the relay message accepted, not yet back: AWAIT");
	T_STREQ(outs(), "QUIT\r\n", "both: QUIT written, no bounce test (no rDNS, an open relay)");

	fresh(PE_RELAY_CONFIRM, 0, 30);
	to_rcpt();
	FEEDS("250 ok\r\n");
	FEEDS("354 go\r\n");
	(void)outs();
	T_OK(cb->on_hangup(&ps, 200) == PE_STEP_AWAIT, "confirm: hang-up with the message out: AWAIT");
	T_OK(cb->on_confirm(&ps, NULL, PE_CONFIRM_RELAY) == PE_STEP_CLOSED && REASON("relay-confirmed"),
	    "confirm: hang-up, then the relay confirmed: CLOSED");

	fresh(PE_RELAY_CONFIRM, 0, 30);
	to_rcpt();
	FEEDS("250 ok\r\n");
	FEEDS("354 go\r\n");
	(void)outs();
	T_OK(cb->on_deadline(&ps, out) == PE_STEP_QUIT, "confirm: the deadline with a message out: QUIT, no wait");
	T_STREQ(outs(), "QUIT\r\n", "confirm: the deadline: QUIT written");

	/* one reply per command: a second 250 in the buffer is out of turn */
	fresh(PE_RELAY_RCPT, 0, 0);
	FEEDS("220 mx.client.example ESMTP\r\n");
	FEEDS("250 ok\r\n");
	cb->on_timer(&ps, out);
	(void)outs();
	T_OK(FEEDS("250 2.1.0 Ok\r\n250 2.1.0 Ok\r\n") == PE_STEP_QUIT && REASON("out-of-turn"),
	    "a doubled MAIL reply: out of turn, QUIT (no relay-rcpt)");
	fresh(PE_RELAY_RCPT, 0, 0);
	FEEDS("220 mx.client.example ESMTP\r\n");
	(void)outs();
	T_OK(FEEDS("250 mx\r\n250 extra\r\n") == PE_STEP_QUIT && REASON("out-of-turn"),
	    "a reply after the EHLO reply, before the pause ends: out of turn");

	fresh(PE_RELAY_NONE, 1, 30);
	to_rcpt();
	FEEDS("250 ok\r\n");
	FEEDS("354 go\r\n");
	(void)outs();
	T_OK(FEEDS("554 5.7.1 rejected\r\n") == PE_STEP_QUIT,
	    "bounce: the message refused: QUIT step, nothing to wait for");
	T_STREQ(outs(), "QUIT\r\n", "bounce: the message refused: QUIT written");
	fresh(PE_RELAY_NONE, 1, 30);
	to_rcpt();
	FEEDS("250 ok\r\n");
	(void)outs();
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_QUIT, "bounce: DATA answered 250, not 354: QUIT step");
	T_STREQ(outs(), "QUIT\r\n", "bounce: DATA answered 250: QUIT, no message");

	/* connect_back.timeout over while the message was out: no waiting */
	checks_relay();
	ck.cb_relay = PE_RELAY_CONFIRM;
	ck.cb_timeout = 0.3;
	begin();
	to_rcpt();
	FEEDS("250 ok\r\n");
	FEEDS("354 go\r\n");
	T_OK(strstr(outs(), "MAIL FROM:<>\r\n" RCPT_LINE "DATA\r\nDate: ") != NULL,
	    "confirm, short timeout: the message went out within it");
	sleep_ms(350);
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_QUIT,
	    "confirm: the message accepted after connect_back.timeout: QUIT step, no wait");
	T_STREQ(outs(), "QUIT\r\n", "confirm: after connect_back.timeout: QUIT written");

	/* rcpt mode, then the bounce test after RSET */
	fresh(PE_RELAY_RCPT, 1, 0);
	to_rcpt();
	FEEDS("554 no relay\r\n");
	(void)outs();
	T_OK(FEEDS("250 ok\r\n") == PE_STEP_MORE, "rcpt+bounce: RSET accepted: MORE");
	T_STREQ(outs(), BMAIL_LINE, "rcpt+bounce: the bounce test's MAIL after RSET");

	/* our MTA saw the EHLO while a message is out: no waiting */
	fresh(PE_RELAY_CONFIRM, 1, 30);
	to_rcpt();
	FEEDS("250 ok\r\n");
	FEEDS("354 go\r\n");
	FEEDS("250 ok\r\n");
	(void)outs();
	T_OK(cb->on_confirm(&ps, out, PE_CONFIRM_HELO) == PE_STEP_QUIT && REASON("ours"),
	    "helo confirm with a message out: ours, QUIT step (no wait)");
	T_STREQ(outs(), "QUIT\r\n", "helo confirm with a message out: QUIT written");
}

int
main(void)
{
	socklen_t sl;

	t_prog = "smtp: ";
	in = evbuffer_new();
	out = evbuffer_new();
	pe_parse_hostport("192.0.2.10:25", &client, &sl);
	cb = pe_kind_find("connect-back");

	test_parser();
	test_banner_host();
	test_connect_back();
	test_messages();

	evbuffer_free(in);
	evbuffer_free(out);
	T_DONE();
}
