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
 *
 * The findings in a verdict's evidence are "name=value(weight)" tokens;
 * what leaves the host (the tag header, a reply) names a DNSBL as
 * dns.dnsbl_reply_map says (a private list stays private), the logs keep
 * its own name.
 */
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "policy.h"
#include "confrep.h"

/* the next token of a findings text: its start and length; NULL at the end */
static const char *
token(const char **p, size_t *len)
{
	const char *t = *p;

	while (*t == ' ')
		t++;
	if (*t == '\0')
		return NULL;
	*len = strcspn(t, " ");
	*p = t + *len;
	return t;
}

/* a token's weight: the number in "(...)" at its end, 0 without */
static int
weight_of(const char *t, size_t len)
{
	const char *o = memchr(t, '(', len);

	return o != NULL && t[len - 1] == ')' ? atoi(o + 1) : 0;
}

/* append len bytes of s (and a separator before, if out has text) */
static void
put(char *out, size_t outlen, const char *sep, const char *s, size_t len)
{
	size_t at = strlen(out), sl = at > 0 ? strlen(sep) : 0;

	if (at + sl + len >= outlen)
		return;		/* whole tokens only */
	memcpy(out + at, sep, sl);
	memcpy(out + at + sl, s, len);
	out[at + sl + len] = '\0';
}

/* one token as others may see it: a DNSBL under its public name */
static void
put_public(const struct pm_config *cf, char *out, size_t outlen, const char *sep,
    const char *t, size_t len, bool list_only)
{
	char buf[VT_EVIDENCE_MAX];
	const char *name;
	size_t dl;

	if (len < 7 || strncmp(t, "dnsbl=", 6) != 0) {
		put(out, outlen, sep, t, len);
		return;
	}
	dl = strcspn(t + 6, ":(");
	if (dl > len - 6)
		dl = len - 6;
	if ((name = confrep_reply_name(cf, t + 6, dl)) == NULL)
		name = "";
	if (list_only) {
		if (*name != '\0')
			put(out, outlen, sep, name, strlen(name));
		else
			put(out, outlen, sep, t + 6, dl);
		return;
	}
	if (*name == '\0') {
		put(out, outlen, sep, t, len);
		return;
	}
	snprintf(buf, sizeof(buf), "dnsbl=%s%.*s", name, (int)(len - 6 - dl), t + 6 + dl);
	put(out, outlen, sep, buf, strlen(buf));
}

void
policy_public_evidence(const struct pm_config *cf, const char *ev, char *out, size_t len)
{
	const char *t;
	size_t tl;

	out[0] = '\0';
	while ((t = token(&ev, &tl)) != NULL)
		put_public(cf, out, len, " ", t, tl, false);
}

void
policy_reply_evidence(const struct pm_config *cf, const struct vt_info *v, char *out, size_t len)
{
	const char *ev = v->evidence, *t;
	size_t tl;

	out[0] = '\0';
	if (v->state == VT_OPEN) {
		snprintf(out, len, "%s", v->evidence);
	} else {
		while ((t = token(&ev, &tl)) != NULL) {
			int w = weight_of(t, tl);
			if (v->state == VT_LISTED ? w > 0 && strncmp(t, "dnsbl=", 6) == 0 : w != 0)
				put_public(cf, out, len, v->state == VT_LISTED ? ", " : " ", t, tl,
				    v->state == VT_LISTED);
		}
	}
	if (out[0] == '\0')
		snprintf(out, len, "%s", vt_state_name(v->state));
}

/* is the HELO name an address literal ([a.b.c.d], [IPv6:...]) of a? */
static int
literal_of(const char *helo, const struct pm_addr *a)
{
	char in[64];
	size_t n = strlen(helo);
	struct pm_addr h;

	if (n < 3 || helo[0] != '[' || helo[n - 1] != ']' || n - 2 >= sizeof(in))
		return -1;		/* not a literal */
	memcpy(in, helo + 1, n - 2);
	in[n - 2] = '\0';
	if (pm_addr_parse(strncasecmp(in, "IPv6:", 5) == 0 ? in + 5 : in, &h) < 0)
		return 0;
	return h.family == a->family && memcmp(h.b, a->b, a->family == AF_INET ? 4 : 16) == 0;
}

bool
policy_helo(const struct pm_config *cf, const char *helo, const struct pm_addr *client,
    struct vt_info *v)
{
	const char *ev = v->evidence, *t, *dom = NULL;
	size_t tl, dl = 0;
	char hd[256], add[48];
	int lit, w = cf->score.helo_mismatch;

	if (helo[0] == '\0')
		return false;
	while ((t = token(&ev, &tl)) != NULL)
		if (tl > 7 && strncmp(t, "domain=", 7) == 0) {
			dom = t + 7;
			dl = tl - 7;
		}
	if (dom == NULL)
		return false;		/* no verified rDNS name to compare with */
	if ((lit = literal_of(helo, client)) == 1)
		return false;
	if (lit < 0 && pe_registrable_domain(helo, hd, sizeof(hd)) == 0 && strlen(hd) == dl &&
	    strncasecmp(hd, dom, dl) == 0)
		return false;
	if (w != 0)
		snprintf(add, sizeof(add), "helo=mismatch(%d)", w);
	else
		snprintf(add, sizeof(add), "helo=mismatch");
	put(v->evidence, sizeof(v->evidence), " ", add, strlen(add));
	v->score += w;
	if ((v->state == VT_CLEAN || v->state == VT_ERROR) &&
	    v->score >= cf->checks.rules.suspect_threshold)
		v->state = VT_SUSPECT;
	return true;
}

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
policy_header_value(const struct pm_config *cf, const struct vt_info *v, const char *host,
    char *buf, size_t len)
{
	char ev[VT_EVIDENCE_MAX];

	policy_public_evidence(cf, v->evidence, ev, sizeof(ev));
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
		    ev, host);
		break;
	case VT_CLEAN:		/* what was found all the same: country=DE ... */
		if (ev[0] != '\0')
			snprintf(buf, len, "clean score=%d %s; host=%s", v->score, ev, host);
		else
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
