/*
 * connect_back.c - the client's own port 25 (smtplooper's golden rule,
 * NST's relay check): a stream kind on the test's port, opt-in (it talks
 * SMTP to a third party's server).
 *
 *   banner   read the greeting (multi-line, capped: smtp.c); the finding
 *            banner=CLASS: ok (a 220), rblsmtpd (ucspi-tcp's rblsmtpd.local),
 *            intercepted (an ISP's 421/554 "use our server"), ours (the
 *            greeting names our own host, or our nonce reached our own MTA:
 *            the port forwards back to us; we stop at once, never loop),
 *            none (no 220: not SMTP, silence); and banner-host=HOST for
 *            the rDNS comparison (findings.c)
 *   EHLO     pxm-NONCE.<our name> (HELO if EHLO is refused): our MTA, if
 *            the port leads there, sees the nonce (on_confirm, HELO)
 *   relay    relay_test rcpt: MAIL FROM:<relay_address>, RCPT TO:<local+
 *            pxm-NONCE@domain>, RSET; never DATA.  RCPT accepted =
 *            relay-rcpt, class open-relay.  relay_test confirm: the same
 *            with MAIL FROM:<> (a probe that can never bounce), then one
 *            small message; relay-rcpt is then only a sign (weight 0), and
 *            relay-confirmed (class open-relay) comes when the message
 *            reaches our MTA and the milter sees the nonce (on_confirm,
 *            RELAY)
 *   bounce   backscatter_test: MAIL FROM:<local+pxm-NONCE-bounce@domain>,
 *            RCPT TO a user that does not exist at the client's own domain
 *            (the verified rDNS name's, else the greeting host's), only
 *            where the message stays with the client: the server refused
 *            to relay to us, or it is an MX host of its verified domain
 *            (mx=self); never through an open relay to a third party; and
 *            if accepted a
 *            small message: a bounce that reaches our MTA is backscatter
 *            (score.backscatter; on_confirm, BOUNCE)
 *   QUIT     always, politely; with a message out, the attempt then waits
 *            for the milter's word until connect_back.timeout (PE_STEP_AWAIT)
 *
 * A refusal or an unexpected reply ends the session with QUIT; the deadline,
 * the read cap and smtp.c's line and reply caps bound everything else.  One
 * message per transaction, at most two per session, and only to our own
 * mailbox or to a user of the client's own domain.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "pe_int.h"
#include "smtp.h"

enum { S_BANNER = 0, S_EHLO, S_HELO, S_PAUSE, S_MAIL, S_RCPT, S_DATA, S_BODY, S_RSET,
	S_BMAIL, S_BRCPT, S_BDATA, S_BBODY };
enum { B_NONE = 0, B_OK, B_RBLSMTPD, B_INTERCEPTED, B_OURS };
static const char *const bclass[] = { "none", "ok", "rblsmtpd", "intercepted", "ours" };

struct cb {
	int state, cls, told;
	int sent_relay, sent_bounce;	/* messages out, waiting for our MTA */
	int relay_refused;		/* our RCPT was refused: no open relay */
	double until;			/* connect_back.timeout */
	char host[PE_FINDING_VALUE_MAX];	/* the greeting's host */
	char domain[PE_FINDING_VALUE_MAX];	/* the client's own, for backscatter */
	struct pe_smtp_reply rep;
};

/* the greeting of an ISP's port-25 interceptor rather than a mail server:
 * a refusal that sends the client elsewhere */
static int
interceptor(const char *text)
{
	static const char *const hints[] = { "use your", "use our", "your isp", "your provider",
		"port 25", "smtp server of", "not allowed to send", "blocked by", "intercept", NULL };

	for (int i = 0; hints[i] != NULL; i++)
		if (strcasestr(text, hints[i]) != NULL)
			return 1;
	return 0;
}

static void
tell(struct pe_ctx *ctx, struct cb *st)
{
	if (st->told)
		return;
	st->told = 1;
	pe_find(ctx, PE_F_WEAK, 0, "banner", "%s", bclass[st->cls]);
	if (st->cls == B_OK && st->host[0] != '\0')	/* for the rDNS comparison */
		pe_find(ctx, PE_F_WEAK, 0, "banner-host", "%s", st->host);
}

/* the session ends: the banner class, QUIT; with a probe message out, wait
 * for our MTA to see it */
static enum pe_step
quit(struct pe_ctx *ctx, struct evbuffer *out)
{
	struct cb *st = ctx->priv;
	double left = st->until - pe_now();

	tell(ctx, st);
	if (out != NULL)
		evbuffer_add_printf(out, "QUIT\r\n");
	if ((st->sent_relay || st->sent_bounce) && left > 0 && st->cls != B_OURS) {
		ctx->timer = left;
		return PE_STEP_AWAIT;
	}
	return out != NULL ? PE_STEP_QUIT : PE_STEP_CLOSED;
}

static void
ehlo(struct pe_ctx *ctx, struct evbuffer *out, const char *verb)
{
	evbuffer_add_printf(out, "%s %s%s.%s\r\n", verb, PE_NONCE_PREFIX, ctx->nonce, ctx->helo);
}

static enum pe_step
greeting(struct pe_ctx *ctx, struct cb *st, struct evbuffer *out)
{
	char host[256];

	if (st->rep.code != 220) {
		st->cls = (st->rep.code == 421 || st->rep.code == 554) && interceptor(st->rep.text) ?
		    B_INTERCEPTED : B_NONE;
		pe_set_reason(ctx, st->cls == B_INTERCEPTED ? "intercepted" : "refused",
		    st->rep.text, strlen(st->rep.text));
		return quit(ctx, out);
	}
	st->cls = B_OK;
	if (pe_smtp_banner_host(st->rep.text, host, sizeof(host)) == 0) {
		if (strcmp(host, "rblsmtpd.local") == 0)
			st->cls = B_RBLSMTPD;
		else if (strcasecmp(host, ctx->helo) == 0 ||
		    (ctx->ours != NULL && strcasecmp(host, ctx->ours) == 0))
			st->cls = B_OURS;
		else if (strlen(host) < sizeof(st->host))
			memcpy(st->host, host, strlen(host) + 1);
	}
	pe_set_reason(ctx, bclass[st->cls], st->rep.text, strlen(st->rep.text));
	if (st->cls == B_OURS)		/* our own MTA: stop here */
		return quit(ctx, out);
	ehlo(ctx, out, "EHLO");
	st->state = S_EHLO;
	return PE_STEP_MORE;
}

/* one small message with the nonce, then "." */
static void
message(struct pe_ctx *ctx, struct evbuffer *out, const char *from, const char *to,
    const char *what)
{
	char date[64];

	pe_mail_date(date, sizeof(date));
	/* a null envelope sender still needs an author (RFC 5322 3.6.2) */
	evbuffer_add_printf(out, "Date: %s\r\nFrom: <%s%s>\r\nTo: <%s>\r\n"
	    "Subject: %s test %s%s\r\nMessage-ID: <%s%s.%s@%s>\r\n\r\n"
	    "A test of this server's mail handling (%s) by %s.\r\n"
	    "It goes to a mailbox of the tester, who discards it on arrival.\r\n.\r\n",
	    date, from[0] != '\0' ? from : "postmaster@", from[0] != '\0' ? "" : ctx->helo, to,
	    what, PE_NONCE_PREFIX, ctx->nonce, PE_NONCE_PREFIX, ctx->nonce, what,
	    ctx->helo, what, ctx->helo);
}

/* the backscatter test, if it is on and the client's domain is known;
 * else the end */
static enum pe_step
bounce_test(struct pe_ctx *ctx, struct cb *st, struct evbuffer *out)
{
	const char *d = pe_ctx_finding(ctx, "domain");	/* the verified rDNS name's */
	const char *mx = pe_ctx_finding(ctx, "mx");

	if (!ctx->checks->cb_backscatter || ctx->checks->cb_domain == NULL)
		return quit(ctx, out);
	if (!st->relay_refused && (d == NULL || mx == NULL || strcmp(mx, "self") != 0))
		return quit(ctx, out);	/* it might relay our message elsewhere */
	if (d == NULL && (st->host[0] == '\0' ||
	    pe_registrable_domain(st->host, st->domain, sizeof(st->domain)) < 0))
		return quit(ctx, out);
	if (d != NULL)
		snprintf(st->domain, sizeof(st->domain), "%s", d);
	evbuffer_add_printf(out, "MAIL FROM:<%s+%s%s%s@%s>\r\n", ctx->checks->cb_local,
	    PE_NONCE_PREFIX, ctx->nonce, PE_BOUNCE_TAG, ctx->checks->cb_domain);
	st->state = S_BMAIL;
	return PE_STEP_MORE;
}

static enum pe_step
reply(struct pe_ctx *ctx, struct cb *st, struct evbuffer *out)
{
	int ok = st->rep.code / 100 == 2, confirm = ctx->checks->cb_relay == PE_RELAY_CONFIRM;
	char to[PE_DETAIL_MAX * 2];

	switch (st->state) {
	case S_BANNER:
		return greeting(ctx, st, out);
	case S_EHLO:
	case S_HELO:
		if (!ok && st->state == S_EHLO) {	/* an old server: HELO */
			ehlo(ctx, out, "HELO");
			st->state = S_HELO;
			return PE_STEP_MORE;
		}
		if (!ok || ctx->checks->cb_domain == NULL ||
		    (ctx->checks->cb_relay == PE_RELAY_NONE && !ctx->checks->cb_backscatter))
			return quit(ctx, out);
		/* a moment for our MTA's word: if the nonce reached it, the
		 * port leads to us and no mail test is made (on_confirm) */
		st->state = S_PAUSE;
		ctx->timer = 0.2;
		return PE_STEP_MORE;
	case S_MAIL:
		if (!ok)
			return quit(ctx, out);
		evbuffer_add_printf(out, "RCPT TO:<%s+%s%s@%s>\r\n", ctx->checks->cb_local,
		    PE_NONCE_PREFIX, ctx->nonce, ctx->checks->cb_domain);
		st->state = S_RCPT;
		return PE_STEP_MORE;
	case S_RCPT:
		if (st->rep.code == 250 || st->rep.code == 251) {
			/* rcpt: the postmaster's chosen proof; confirm: a sign */
			pe_find(ctx, confirm ? PE_F_WEAK : PE_F_OPEN_RELAY, 0, "relay-rcpt", "%u",
			    pe_target_port(ctx->client));
			snprintf(to, sizeof(to), "RCPT TO:<%s+%s%s@%s> %d %s", ctx->checks->cb_local,
			    PE_NONCE_PREFIX, ctx->nonce, ctx->checks->cb_domain, st->rep.code,
			    st->rep.text);
			pe_set_reason(ctx, "relay-rcpt", to, strlen(to));
			if (confirm) {
				evbuffer_add_printf(out, "DATA\r\n");
				st->state = S_DATA;
				return PE_STEP_MORE;
			}
		} else {
			st->relay_refused = 1;
		}
		evbuffer_add_printf(out, "RSET\r\n");
		st->state = S_RSET;
		return PE_STEP_MORE;
	case S_DATA:
	case S_BDATA:
		if (st->rep.code != 354)
			return quit(ctx, out);
		/* out from now on: a confirmation may come before the 250 */
		if (st->state == S_DATA) {
			snprintf(to, sizeof(to), "%s+%s%s@%s", ctx->checks->cb_local, PE_NONCE_PREFIX,
			    ctx->nonce, ctx->checks->cb_domain);
			message(ctx, out, "", to, "relay");
			st->sent_relay = 1;
		} else {
			snprintf(to, sizeof(to), "nonexistent-%.12s@%s", ctx->nonce, st->domain);
			message(ctx, out, ctx->checks->cb_sender, to, "bounce");
			st->sent_bounce = 1;
		}
		st->state = st->state == S_DATA ? S_BODY : S_BBODY;
		return PE_STEP_MORE;
	case S_BODY:
		if (!ok)
			st->sent_relay = 0;	/* refused: nothing to wait for */
		return ok ? bounce_test(ctx, st, out) : quit(ctx, out);
	case S_RSET:
		return ok ? bounce_test(ctx, st, out) : quit(ctx, out);
	case S_BMAIL:
		if (!ok)
			return quit(ctx, out);
		evbuffer_add_printf(out, "RCPT TO:<nonexistent-%.12s@%s>\r\n", ctx->nonce, st->domain);
		st->state = S_BRCPT;
		return PE_STEP_MORE;
	case S_BRCPT:
		if (st->rep.code != 250 && st->rep.code != 251)
			return quit(ctx, out);	/* refused at once: as it should */
		evbuffer_add_printf(out, "DATA\r\n");
		st->state = S_BDATA;
		return PE_STEP_MORE;
	case S_BBODY:
		if (!ok)
			st->sent_bounce = 0;
		return quit(ctx, out);
	default:
		return quit(ctx, out);
	}
}

static void
cb_start(struct pe_ctx *ctx, struct evbuffer *out)
{
	struct cb *st = ctx->priv;

	(void)out;		/* the server speaks first */
	if (ctx->checks->cb_timeout > 0) {
		st->until = pe_now() + ctx->checks->cb_timeout;
		ctx->timer = ctx->checks->cb_timeout;
	}
}

static enum pe_step
cb_read(struct pe_ctx *ctx, struct evbuffer *in, struct evbuffer *out)
{
	struct cb *st = ctx->priv;

	for (;;) {
		enum pe_smtp_rd rd = pe_smtp_read(&st->rep, in);
		enum pe_step step;
		if (rd == PE_SMTP_MORE)
			return PE_STEP_MORE;
		if (rd == PE_SMTP_BAD) {
			pe_set_reason(ctx, "not-smtp", st->rep.text, strlen(st->rep.text));
			if (st->state == S_BANNER)
				st->cls = B_NONE;
			return quit(ctx, out);
		}
		if (st->state == S_PAUSE)	/* talking out of turn */
			return quit(ctx, out);
		step = reply(ctx, st, out);
		memset(&st->rep, 0, sizeof(st->rep));
		if (step != PE_STEP_MORE)
			return step;
		/* one reply per command, and we never pipeline: more bytes
		 * now answer a command not sent (a server that says 250 twice
		 * must not pass for one that accepted our RCPT) */
		if (evbuffer_get_length(in) > 0) {
			pe_set_reason(ctx, "out-of-turn", "", 0);
			return quit(ctx, out);
		}
		if (st->state == S_PAUSE)
			return step;
	}
}

static enum pe_step
cb_timer(struct pe_ctx *ctx, struct evbuffer *out)
{
	struct cb *st = ctx->priv;
	double left = st->until - pe_now();

	if (st->state != S_PAUSE || out == NULL || (st->until > 0 && left <= 0)) {
		if (out != NULL)
			snprintf(ctx->reason, sizeof(ctx->reason), "timeout");
		st->sent_relay = st->sent_bounce = 0;	/* no more waiting */
		return quit(ctx, out);		/* connect_back.timeout */
	}
	if (st->until > 0)
		ctx->timer = left;
	if (ctx->checks->cb_relay == PE_RELAY_NONE)	/* backscatter only */
		return bounce_test(ctx, st, out);
	evbuffer_add_printf(out, "MAIL FROM:<%s>\r\n", ctx->checks->cb_relay == PE_RELAY_CONFIRM ?
	    "" : ctx->checks->cb_sender != NULL ? ctx->checks->cb_sender : "");
	st->state = S_MAIL;
	return PE_STEP_MORE;
}

/* our MTA saw our nonce: in the EHLO (the port leads back to us), as the
 * recipient of the relayed message, or as the recipient of a bounce */
static enum pe_step
cb_confirm(struct pe_ctx *ctx, struct evbuffer *out, int what)
{
	struct cb *st = ctx->priv;

	if (what == PE_CONFIRM_HELO) {
		st->cls = B_OURS;
		st->sent_relay = st->sent_bounce = 0;
		pe_find_drop(ctx);	/* what our own MTA said proves nothing */
		ctx->timer = -1;
		snprintf(ctx->reason, sizeof(ctx->reason), "ours");
		return quit(ctx, out);
	}
	if (what == PE_CONFIRM_RELAY && st->sent_relay) {
		st->sent_relay = 0;
		pe_find(ctx, PE_F_OPEN_RELAY, 0, "relay-confirmed", "%u", pe_target_port(ctx->client));
		pe_find_commit(ctx, 1);		/* decisive: out now, not after the wait */
		snprintf(ctx->reason, sizeof(ctx->reason), "relay-confirmed");
	} else if (what == PE_CONFIRM_BOUNCE && st->sent_bounce) {
		st->sent_bounce = 0;
		pe_find(ctx, PE_F_WEAK, ctx->checks->w_backscatter, "backscatter", "%s", st->domain);
		if (strcmp(ctx->reason, "relay-confirmed") != 0)
			snprintf(ctx->reason, sizeof(ctx->reason), "backscatter");
	} else {
		return PE_STEP_MORE;	/* not what we wait for (yet) */
	}
	/* still talking: the session goes on; over: done when nothing is out */
	if (out != NULL || st->sent_relay || st->sent_bounce)
		return PE_STEP_MORE;
	tell(ctx, st);
	return PE_STEP_CLOSED;
}

/* hung up, or silent until the deadline: before a greeting that is
 * none; later, a server that dropped us or stalled: what we learnt stays,
 * and it is not asked again (one session per client and TTL) */
static enum pe_step
cb_hangup(struct pe_ctx *ctx, size_t nread)
{
	if (nread == 0)
		snprintf(ctx->reason, sizeof(ctx->reason), "hung-up");
	return quit(ctx, NULL) == PE_STEP_AWAIT ? PE_STEP_AWAIT : PE_STEP_CLOSED;
}

static enum pe_step
cb_deadline(struct pe_ctx *ctx, struct evbuffer *out)
{
	struct cb *st = ctx->priv;

	st->sent_relay = st->sent_bounce = 0;	/* the wait is over too */
	return quit(ctx, out);
}

const struct pe_kind pe_kind_connect_back = {
	.name = "connect-back",
	.flags = PE_K_NONCE,
	.priv_size = sizeof(struct cb),
	.read_cap = 16384,
	.start = cb_start,
	.on_read = cb_read,
	.on_timer = cb_timer,
	.on_confirm = cb_confirm,
	.on_hangup = cb_hangup,
	.on_deadline = cb_deadline,
};
