/*
 * policy.h - (stage, verdict, session facts, config) -> action.
 * Pure functions: no I/O, no locks, no libmilter; unit-tested exhaustively.
 */
#ifndef PM_POLICY_H
#define PM_POLICY_H

#include <stdbool.h>
#include "pmconfig.h"
#include "verdict.h"

struct pm_facts {
	enum pm_stage stage;		/* the callback we are in */
	enum vt_state verdict;		/* after any bounded wait */
	bool authenticated;		/* {auth_authen} seen at MAIL */
	bool exempt;			/* rcpt stage: this recipient; eom: all recipients */
};

enum pm_decision_kind {
	PD_NONE = 0,	/* not the enforcement stage: continue */
	PD_SKIP,	/* enforcement stage, but exempt (see .skip) */
	PD_ACT		/* apply .action (or log would-<action> when .observe) */
};

struct pm_decision {
	enum pm_action action;
	bool observe;
	const char *skip;	/* authenticated | exempt-recipient */
};

enum pm_decision_kind policy_decide(const struct pm_config *, const struct pm_facts *,
    struct pm_decision *);

/* does rcpt ("<Local@Domain>" or bare) match one of exempt_recipients? */
bool policy_rcpt_exempt(const struct pm_config *, const char *rcpt);

/*
 * Expand %a (client address), %c (what the verdict says: "is an open
 * proxy", policy_phrase), %p (evidence) and %% in a reply template and
 * split it: code, enhanced code, text.  The text comes back with '%' doubled,
 * as smfi_setreply wants it.  -1 when the template is malformed.
 */
int policy_reply(const char *tmpl, const char *addr, const char *what, const char *evidence,
    char code[4], char xcode[16], char *text, size_t textlen);
const char *policy_phrase(enum vt_state);

/* the tag header's value: "open-proxy socks5:1080 egress=a.b.c.d; host=h",
 * "suspect score=2 fcrdns=fail(1) helo=mismatch(1) country=DE; host=h" */
void policy_header_value(const struct pm_config *, const struct vt_info *, const char *host,
    char *buf, size_t len);
/* findings text as it may leave the host: DNSBLs by dns.dnsbl_reply_map */
void policy_public_evidence(const struct pm_config *, const char *evidence, char *out,
    size_t len);
/* what %p says: the open test; for listed, the lists that count; else the
 * findings that weigh */
void policy_reply_evidence(const struct pm_config *, const struct vt_info *, char *out,
    size_t len);
/* HELO vs the verified rDNS name's registrable domain (the "domain="
 * finding): a mismatch adds helo=mismatch(score.helo_mismatch) to v, which
 * may make a clean or error verdict suspect.  Same domain, or an address
 * literal of the client, match.  true when it added the finding. */
bool policy_helo(const struct pm_config *, const char *helo, const struct pm_addr *client,
    struct vt_info *v);

#endif
