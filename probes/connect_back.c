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
 *            none (no 220: refused at the greeting, not SMTP); and
 *            banner-host=HOST for the rDNS comparison (findings.c)
 *   EHLO     pxm-NONCE.<our name> (HELO if EHLO is refused): our MTA, if
 *            the port leads there, sees the nonce (on_confirm)
 *   relay    relay_test rcpt: MAIL FROM:<sender> RCPT TO:<local+pxm-NONCE@domain>,
 *            then RSET; never DATA.  RCPT accepted = relay-rcpt (class
 *            open-relay)
 *   QUIT     always, politely (PE_STEP_QUIT)
 *
 * A refusal or an unexpected reply ends the session with QUIT; the deadline,
 * the read cap and smtp.c's line and reply caps bound everything else.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "pe_int.h"
#include "smtp.h"

enum { S_BANNER = 0, S_EHLO, S_HELO, S_PAUSE, S_MAIL, S_RCPT, S_RSET };
enum { B_NONE = 0, B_OK, B_RBLSMTPD, B_INTERCEPTED, B_OURS };
static const char *const bclass[] = { "none", "ok", "rblsmtpd", "intercepted", "ours" };

struct cb {
	int state, cls, told;
	double until;			/* connect_back.timeout */
	char host[PE_FINDING_VALUE_MAX];	/* the greeting's host */
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

/* the session ends: the banner class, QUIT */
static enum pe_step
quit(struct pe_ctx *ctx, struct evbuffer *out)
{
	struct cb *st = ctx->priv;

	if (!st->told) {
		st->told = 1;
		pe_find(ctx, PE_F_WEAK, 0, "banner", "%s", bclass[st->cls]);
		if (st->cls == B_OK && st->host[0] != '\0')	/* for the rDNS comparison */
			pe_find(ctx, PE_F_WEAK, 0, "banner-host", "%s", st->host);
	}
	if (out == NULL)
		return PE_STEP_CLOSED;
	evbuffer_add_printf(out, "QUIT\r\n");
	return PE_STEP_QUIT;
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
	if (pe_smtp_banner_host(st->rep.text, host, sizeof(host)) == 0) {
		if (strcmp(host, "rblsmtpd.local") == 0)
			st->cls = B_RBLSMTPD;
		else if (strcasecmp(host, ctx->helo) == 0)
			st->cls = B_OURS;
		else if (strlen(host) < sizeof(st->host))
			memcpy(st->host, host, strlen(host) + 1);
	}
	pe_set_reason(ctx, bclass[st->cls == B_NONE ? B_OK : st->cls], st->rep.text,
	    strlen(st->rep.text));
	if (st->cls == B_OURS)		/* our own MTA: stop here */
		return quit(ctx, out);
	if (st->cls == B_NONE)
		st->cls = B_OK;
	evbuffer_add_printf(out, "EHLO %s%s.%s\r\n", PE_NONCE_PREFIX, ctx->nonce, ctx->helo);
	st->state = S_EHLO;
	return PE_STEP_MORE;
}

static void
mail_from(struct pe_ctx *ctx, struct cb *st, struct evbuffer *out)
{
	evbuffer_add_printf(out, "MAIL FROM:<%s>\r\n", ctx->checks->cb_sender != NULL ?
	    ctx->checks->cb_sender : "");
	st->state = S_MAIL;
}

static enum pe_step
reply(struct pe_ctx *ctx, struct cb *st, struct evbuffer *out)
{
	int ok = st->rep.code / 100 == 2;

	switch (st->state) {
	case S_BANNER:
		return greeting(ctx, st, out);
	case S_EHLO:
	case S_HELO:
		if (!ok && st->state == S_EHLO) {	/* an old server: HELO */
			evbuffer_add_printf(out, "HELO %s%s.%s\r\n", PE_NONCE_PREFIX, ctx->nonce,
			    ctx->helo);
			st->state = S_HELO;
			return PE_STEP_MORE;
		}
		if (!ok || ctx->checks->cb_relay == PE_RELAY_NONE || ctx->checks->cb_domain == NULL)
			return quit(ctx, out);
		/* a moment for our MTA's word: if the nonce reached it, the
		 * port leads to us and no relay test is made (on_confirm) */
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
			char what[PE_DETAIL_MAX * 2];
			pe_find(ctx, PE_F_OPEN_RELAY, 0, "relay-rcpt", "%u", pe_target_port(ctx->client));
			snprintf(what, sizeof(what), "RCPT TO:<%s+%s%s@%s> %d %s", ctx->checks->cb_local,
			    PE_NONCE_PREFIX, ctx->nonce, ctx->checks->cb_domain, st->rep.code,
			    st->rep.text);
			pe_set_reason(ctx, "relay-rcpt", what, strlen(what));
		}
		evbuffer_add_printf(out, "RSET\r\n");
		st->state = S_RSET;
		return PE_STEP_MORE;
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
		if (step != PE_STEP_MORE || st->state == S_PAUSE)
			return step;
	}
}

static enum pe_step
cb_timer(struct pe_ctx *ctx, struct evbuffer *out)
{
	struct cb *st = ctx->priv;
	double left = st->until - pe_now();

	if (st->state != S_PAUSE || out == NULL || (st->until > 0 && left <= 0)) {
		snprintf(ctx->reason, sizeof(ctx->reason), "timeout");
		return quit(ctx, out);		/* connect_back.timeout */
	}
	mail_from(ctx, st, out);
	if (st->until > 0)
		ctx->timer = left;
	return PE_STEP_MORE;
}

static enum pe_step
cb_confirm(struct pe_ctx *ctx, struct evbuffer *out, int what)
{
	struct cb *st = ctx->priv;

	(void)what;
	st->cls = B_OURS;		/* the port leads back to our MTA */
	ctx->timer = -1;
	snprintf(ctx->reason, sizeof(ctx->reason), "ours");
	return quit(ctx, out);
}

/* hung up, or silent until the deadline: before a greeting that is
 * none; later, a server that dropped us or stalled: what we learnt stays,
 * and it is not asked again (one session per client and TTL) */
static enum pe_step
cb_hangup(struct pe_ctx *ctx, size_t nread)
{
	if (nread == 0)
		snprintf(ctx->reason, sizeof(ctx->reason), "hung-up");
	return quit(ctx, NULL);
}

static enum pe_step
cb_deadline(struct pe_ctx *ctx, struct evbuffer *out)
{
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
