/*
 * enforce.c - the enforcement stage: the verdict (after at most
 * pending_wait seconds on the table's condition variable), the policy's
 * decision, and what follows from it: a reply (reject, tempfail), a tag
 * for the end of the message, or a would-... line in observe mode.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "milter.h"
#include "pmconfig.h"
#include "policy.h"
#include "log.h"
#include "session.h"
#include "guard.h"
#include "metrics.h"

sfsistat
pm_enforce(SMFICTX *ctx, struct sess *s, enum pm_stage stage, const char *rcpt,
    bool exempt)
{
	const struct pm_config *cf = s->cf;
	struct pm_facts f;
	struct pm_decision d;
	struct vt_info v;
	enum pm_decision_kind k;
	struct lb l;

	if (s->skip != NULL || !s->have_addr || stage != cf->action.stage)
		return SMFIS_CONTINUE;
	vt_get(pm.vt, &s->a, vt_now(), &v);
	/* short of descriptors (a probe found none in the last 10 s), a session
	 * held open for a verdict takes one more that libmilter needs to
	 * accept the next: then do not wait, on_pending applies at once */
	if (v.state == VT_PENDING && cf->action.pending_wait > 0 &&
	    vt_now() - (double)__atomic_load_n(&pm.emfile_at, __ATOMIC_RELAXED) > 10.0)
		vt_wait(pm.vt, &s->a, vt_now() + cf->action.pending_wait, &v);
	/* the session's own finding: its HELO against the client's rDNS */
	if (v.state != VT_PENDING && v.state != VT_NONE)
		policy_helo(cf, s->helo, &s->a, &v);
	f.stage = stage;
	f.verdict = v.state;
	f.authenticated = s->authenticated;
	f.exempt = exempt;
	k = policy_decide(cf, &f, &d);
	/* a self-test alarm (on_fail = observe): act on nothing */
	if (k == PD_ACT && guard_observing())
		d.observe = true;
	if (k == PD_NONE)
		return SMFIS_CONTINUE;
	if (k == PD_SKIP) {
		log_skip(s, d.skip, d.skip[0] == 'a' ? "user" : "to",
		    d.skip[0] == 'a' ? s->auth_user : rcpt, (int)stage);
		return SMFIS_CONTINUE;
	}
	if (d.action == ACT_ACCEPT)
		return SMFIS_CONTINUE;
	if (d.action == ACT_TAG) {
		if (d.observe) {
			sess_line(&l, s, "would-tag");
			lb_kv(&l, "stage", stage_name(stage));
			lb_kv(&l, "client", s->client);
			lb_kv(&l, "verdict", vt_state_name(v.state));
			lb_kv(&l, "mode", "observe");
			lb_emit(&l, LOG_INFO);
			PM_COUNT(would);
			metrics_action(stage, MA_WOULD_TAG);
			return SMFIS_CONTINUE;
		}
		if (stage <= STAGE_HELO) {	/* for every message of the session */
			s->sess_tag = true;
			s->sess_tag_info = v;
		} else {
			s->tag = true;
			s->tag_info = v;
		}
		return SMFIS_CONTINUE;
	}
	/* reject or tempfail */
	char code[4], xcode[16], text[1024], ev[VT_EVIDENCE_MAX];
	bool rej = d.action == ACT_REJECT;
	policy_reply_evidence(cf, &v, ev, sizeof(ev));
	if (policy_reply(rej ? cf->action.reject_reply : cf->action.tempfail_reply,
	    s->addr, policy_phrase(v.state), ev, code, xcode, text, sizeof(text)) < 0) {
		/* the templates were checked at load: this is a bug; say so
		 * and still refuse with a fixed reply */
		log_msg(LOG_ERR, "error", "bad reply template for sess=%s: using a fixed reply", s->id);
		snprintf(code, 4, "%s", rej ? "550" : "451");
		snprintf(xcode, 16, "%s", rej ? "5.7.1" : "4.7.1");
		snprintf(text, sizeof(text), "%s", rej ? "Client host rejected" :
		    "Client host is being checked, try again later");
	}
	/*
	 * At connect, Postfix greets a rejected client with its own "554 HOST
	 * ESMTP not accepting connections" (a tempfailed one "421 HOST Service
	 * unavailable") whatever the milter set, and logs the milter's reply:
	 * send and log that code, and say that the text is the MTA's
	 * (mta=own-banner).
	 */
	if (stage == STAGE_CONNECT)
		snprintf(code, 4, "%s", rej ? "554" : "421");
	sess_line(&l, s, d.observe ? (rej ? "would-reject" : "would-tempfail")
	    : (rej ? "reject" : "tempfail"));
	lb_kv(&l, "stage", stage_name(stage));
	lb_kv(&l, "client", s->client);
	lb_kv(&l, "verdict", vt_state_name(v.state));
	if (v.evidence[0] != '\0')
		lb_kv(&l, "evidence", v.evidence);
	{
		/* the reply as the MTA will show it (our '%%' undone) */
		char shown[1100];
		size_t n = 0;
		for (const char *p = text; *p && n + 1 < sizeof(shown); p++) {
			if (p[0] == '%' && p[1] == '%')
				p++;
			shown[n++] = *p;
		}
		shown[n] = '\0';
		lb_kvf(&l, "reply", "%s %s %s", code, xcode, shown);
	}
	if (s->from[0] != '\0')
		lb_kvf(&l, "from", "<%s>", s->from);
	if (rcpt != NULL)
		lb_kvf(&l, "to", "<%s>", rcpt);
	if (s->helo[0] != '\0')
		lb_kvf(&l, "helo", "<%s>", s->helo);
	if (stage == STAGE_CONNECT)	/* the client gets the code, not our text */
		lb_kv(&l, "mta", "own-banner");
	if (d.observe)
		lb_kv(&l, "mode", "observe");
	lb_emit(&l, LOG_NOTICE);
	if (d.observe) {
		PM_COUNT(would);
		metrics_action(stage, rej ? MA_WOULD_REJECT : MA_WOULD_TEMPFAIL);
		return SMFIS_CONTINUE;
	}
	if (smfi_setreply(ctx, code, xcode[0] ? xcode : NULL, text) != MI_SUCCESS)
		log_msg(LOG_WARNING, "error", "smfi_setreply failed for sess=%s", s->id);
	s->rejected++;
	if (rej) {
		PM_COUNT(rejected);
		metrics_action(stage, MA_REJECT);
		return SMFIS_REJECT;
	}
	PM_COUNT(tempfailed);
	metrics_action(stage, MA_TEMPFAIL);
	return SMFIS_TEMPFAIL;
}
