/*
 * policy.c - what to do with a verdict at a stage (see policy.h).
 *
 * Rules, in order:
 *  1. only the configured stage (action.stage) enforces; other stages go on;
 *  2. authenticated senders (skip_authenticated) and exempt recipients are
 *     skipped, with the reason logged by the caller;
 *  3. open-proxy -> on_open, open-relay -> on_relay, listed -> on_listed,
 *     suspect -> on_suspect, pending -> on_pending, error -> on_error,
 *     clean -> on_clean, no verdict (never probed) -> accept;
 *  4. observe mode turns every action into a would-<action> log line.
 */
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "policy.h"

enum pm_decision_kind
policy_decide(const struct pm_config *cf, const struct pm_facts *f, struct pm_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (f->stage != cf->action.stage)
		return PD_NONE;
	if (cf->skip_authenticated && f->authenticated && f->stage >= STAGE_MAIL) {
		d->skip = "authenticated";
		return PD_SKIP;
	}
	if (f->exempt && f->stage >= STAGE_RCPT) {
		d->skip = "exempt-recipient";
		return PD_SKIP;
	}
	switch (f->verdict) {
	case VT_OPEN: d->action = cf->action.on_open; break;
	case VT_RELAY: d->action = cf->action.on_relay; break;
	case VT_LISTED: d->action = cf->action.on_listed; break;
	case VT_SUSPECT: d->action = cf->action.on_suspect; break;
	case VT_PENDING: d->action = cf->action.on_pending; break;
	case VT_ERROR: d->action = cf->action.on_error; break;
	case VT_CLEAN: d->action = cf->action.on_clean; break;
	default: d->action = ACT_ACCEPT; break;
	}
	d->observe = cf->mode == MODE_OBSERVE;
	return PD_ACT;
}

/* "<Local@Domain>" -> "local@domain" (lower case, no brackets) */
static void
normalise_addr(const char *in, char *out, size_t len)
{
	size_t n = 0;
	if (*in == '<')
		in++;
	for (; *in != '\0' && *in != '>' && n + 1 < len; in++)
		out[n++] = (char)tolower((unsigned char)*in);
	out[n] = '\0';
}

bool
policy_rcpt_exempt(const struct pm_config *cf, const char *rcpt)
{
	char a[512];
	const char *at;

	normalise_addr(rcpt, a, sizeof(a));
	at = strrchr(a, '@');
	for (size_t i = 0; i < cf->exempt_recipients.n; i++) {
		const char *e = cf->exempt_recipients.v[i];
		size_t el = strlen(e);
		if (e[0] == '@') {			/* "@domain": the whole domain */
			if (at != NULL && strcasecmp(at, e) == 0)
				return true;
		} else if (e[el - 1] == '@') {		/* "local@": any domain */
			if (at != NULL ? (size_t)(at - a + 1) == el && strncasecmp(a, e, el) == 0
			    : (strlen(a) == el - 1 && strncasecmp(a, e, el - 1) == 0))
				return true;
		} else if (strchr(e, '@') == NULL) {	/* "local": like "local@" */
			size_t ll = at != NULL ? (size_t)(at - a) : strlen(a);
			if (ll == el && strncasecmp(a, e, el) == 0)
				return true;
		} else if (strcasecmp(a, e) == 0) {	/* full address */
			return true;
		}
	}
	return false;
}

int
policy_reply(const char *tmpl, const char *addr, const char *what, const char *evidence,
    char code[4], char xcode[16], char *text, size_t textlen)
{
	const char *t;
	size_t n = 0;

	if (reply_split(tmpl, code, xcode, &t) < 0 || textlen == 0)
		return -1;
	for (; *t != '\0'; t++) {
		const char *ins = NULL;
		char one[2] = { *t, '\0' };
		if (*t == '%' && t[1] == 'a') {
			ins = addr;
			t++;
		} else if (*t == '%' && t[1] == 'p') {
			ins = evidence;
			t++;
		} else if (*t == '%' && t[1] == 'c') {
			ins = what;
			t++;
		} else if (*t == '%' && t[1] == '%') {
			ins = "%";
			t++;
		} else {
			ins = one;
		}
		for (; *ins != '\0'; ins++) {
			unsigned char c = (unsigned char)*ins;
			if (c < 0x20 || c >= 0x7f)
				c = '?';
			if (c == '%') {
				if (n + 2 >= textlen)
					goto done;
				text[n++] = '%';
			}
			if (n + 1 >= textlen)
				goto done;
			text[n++] = (char)c;
		}
	}
done:
	text[n] = '\0';
	return 0;
}

const char *
policy_phrase(enum vt_state st)
{
	switch (st) {
	case VT_OPEN: return "is an open proxy";
	case VT_RELAY: return "is an open relay";
	case VT_LISTED: return "is listed in DNS blocklists";
	case VT_SUSPECT: return "looks suspicious";
	case VT_PENDING: return "is being checked";
	case VT_ERROR: return "could not be checked";
	default: return "was checked";
	}
}

void
policy_header_value(const struct vt_info *v, const char *host, char *buf, size_t len)
{
	switch (v->state) {
	case VT_OPEN:
		if (v->egress[0] != '\0')
			snprintf(buf, len, "open-proxy %s egress=%s; host=%s", v->evidence,
			    v->egress, host);
		else
			snprintf(buf, len, "open-proxy %s; host=%s", v->evidence, host);
		break;
	case VT_RELAY:
	case VT_LISTED:
	case VT_SUSPECT:
		/* "listed score=4 dnsbl=bl.example(3) fcrdns=fail(1); host=mx" */
		snprintf(buf, len, "%s score=%d %s; host=%s", vt_state_name(v->state), v->score,
		    v->evidence, host);
		break;
	case VT_CLEAN:
		snprintf(buf, len, "clean; host=%s", host);
		break;
	case VT_PENDING:
		snprintf(buf, len, "pending; host=%s", host);
		break;
	case VT_ERROR:
		snprintf(buf, len, "error; host=%s", host);
		break;
	default:
		snprintf(buf, len, "none; host=%s", host);
		break;
	}
}
