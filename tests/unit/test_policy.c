/* policy: stage x verdict x mode x exemptions; replies; header values */
#include "config.h"
#include <stdio.h>
#include <unistd.h>
#include "t.h"
#include "policy.h"

int
main(void)
{
	char err[256], name[160], code[4], xcode[16], text[256];
	struct pm_config *cf = config_load(NULL, err, sizeof(err));
	struct pm_facts f;
	struct pm_decision d;
	const enum vt_state verdicts[] = { VT_NONE, VT_PENDING, VT_OPEN, VT_CLEAN, VT_ERROR,
	    VT_RELAY, VT_LISTED, VT_SUSPECT };
	const size_t nverdicts = sizeof(verdicts) / sizeof(verdicts[0]);
	const enum pm_action acts[] = { ACT_ACCEPT, ACT_REJECT, ACT_TEMPFAIL, ACT_TAG };

	t_prog = "policy: ";
	/* full matrix: enforcement stage x call stage x verdict x mode x auth x exempt */
	int cells = 0, wrong = 0;
	for (int es = STAGE_CONNECT; es <= STAGE_EOM; es++)
	for (int cs = STAGE_CONNECT; cs <= STAGE_EOM; cs++)
	for (size_t vi = 0; vi < nverdicts; vi++)
	for (int mode = 0; mode < 2; mode++)
	for (int auth = 0; auth < 2; auth++)
	for (int ex = 0; ex < 2; ex++)
	for (size_t oa = 0; oa < 4; oa++) {
		cf->action.stage = (enum pm_stage)es;
		cf->mode = (enum pm_mode)mode;
		cf->action.on_open = acts[oa];
		cf->action.on_pending = ACT_TAG;
		cf->action.on_error = ACT_TEMPFAIL;
		cf->action.on_clean = ACT_ACCEPT;
		cf->action.on_relay = acts[(oa + 1) % 4];
		cf->action.on_listed = acts[(oa + 2) % 4];
		cf->action.on_suspect = acts[(oa + 3) % 4];
		f.stage = (enum pm_stage)cs;
		f.verdict = verdicts[vi];
		f.authenticated = auth;
		f.exempt = ex;
		enum pm_decision_kind k = policy_decide(cf, &f, &d);
		enum pm_decision_kind wk;
		enum pm_action wa = ACT_ACCEPT;
		if (cs != es) wk = PD_NONE;
		else if (auth && cs >= STAGE_MAIL) wk = PD_SKIP;
		else if (ex && cs >= STAGE_RCPT) wk = PD_SKIP;
		else {
			wk = PD_ACT;
			wa = verdicts[vi] == VT_OPEN ? acts[oa] : verdicts[vi] == VT_PENDING ? ACT_TAG :
			    verdicts[vi] == VT_ERROR ? ACT_TEMPFAIL :
			    verdicts[vi] == VT_RELAY ? acts[(oa + 1) % 4] :
			    verdicts[vi] == VT_LISTED ? acts[(oa + 2) % 4] :
			    verdicts[vi] == VT_SUSPECT ? acts[(oa + 3) % 4] : ACT_ACCEPT;
		}
		cells++;
		if (k != wk || (k == PD_ACT && (d.action != wa || d.observe != (mode == 1)))) {
			wrong++;
			printf("  cell es=%d cs=%d v=%d mode=%d auth=%d ex=%d oa=%zu: got %d/%d want %d/%d\n",
			    es, cs, (int)verdicts[vi], mode, auth, ex, oa, k, d.action, wk, wa);
		}
	}
	snprintf(name, sizeof(name), "decision matrix (%d cells)", cells);
	T_OK(wrong == 0, name);
	cf->action.stage = STAGE_RCPT;
	cf->mode = MODE_ENFORCE;
	f.stage = STAGE_RCPT; f.verdict = VT_OPEN; f.authenticated = true; f.exempt = false;
	cf->skip_authenticated = false;
	T_OK(policy_decide(cf, &f, &d) == PD_ACT, "skip_authenticated=false enforces on auth users");
	cf->skip_authenticated = true;
	T_OK(policy_decide(cf, &f, &d) == PD_SKIP && strcmp(d.skip, "authenticated") == 0, "auth skip reason");

	/* recipients: default list postmaster@, abuse@ */
	T_OK(policy_rcpt_exempt(cf, "<Postmaster@Example.ORG>"), "postmaster@ any domain, any case");
	T_OK(policy_rcpt_exempt(cf, "abuse@example.net"), "abuse@ bare");
	T_OK(policy_rcpt_exempt(cf, "<postmaster>"), "RFC 5321 bare <postmaster>");
	T_OK(!policy_rcpt_exempt(cf, "<postmaster2@example.org>"), "prefix is not enough");
	T_OK(!policy_rcpt_exempt(cf, "<xpostmaster@example.org>"), "suffix is not enough");
	T_OK(!policy_rcpt_exempt(cf, "<user@postmaster.example>"), "domain part is not a local part");

	/* replies */
	T_OK(policy_reply("550 5.7.1 Client host [%a] %c (%p)", "192.0.2.7", policy_phrase(VT_OPEN),
	    "socks5:1080", code, xcode, text, sizeof(text)) == 0, "reply parses");
	T_STREQ(code, "550", "reply code");
	T_STREQ(xcode, "5.7.1", "enhanced code");
	T_STREQ(text, "Client host [192.0.2.7] is an open proxy (socks5:1080)", "expansion");
	policy_reply(cf->action.reject_reply, "192.0.2.7", policy_phrase(VT_LISTED),
	    "dnsbl=bl.example(3)", code, xcode, text, sizeof(text));
	T_STREQ(text, "Client host [192.0.2.7] is listed in DNS blocklists (dnsbl=bl.example(3))",
	    "the default reply says what the class is (%c)");
	policy_reply("451 4.7.1 100%% sure about %a", "::1", "is an open proxy", "", code, xcode, text, sizeof(text));
	T_STREQ(text, "100%% sure about ::1", "percent doubled for smfi_setreply");
	policy_reply("550 5.7.1 %p", "x", "is an open proxy", "bad\r\nvalue%", code, xcode, text, sizeof(text));
	T_STREQ(text, "bad??value%%", "inserted text made printable and escaped");
	{
		char small[8];
		policy_reply("550 5.7.1 %a%a%a", "255.255.255.255", "is an open proxy", "", code, xcode, small, sizeof(small));
		T_OK(strlen(small) < sizeof(small), "reply text never overflows");
	}
	T_OK(policy_reply("hello", "a", "is an open proxy", "p", code, xcode, text, sizeof(text)) < 0, "malformed template refused");

	/* header values */
	struct vt_info v = { 0 };
	v.state = VT_OPEN;
	snprintf(v.evidence, sizeof(v.evidence), "socks5:1080");
	snprintf(v.egress, sizeof(v.egress), "203.0.113.9");
	policy_header_value(cf, &v, "mx.example", text, sizeof(text));
	T_STREQ(text, "open-proxy socks5:1080 egress=203.0.113.9; host=mx.example", "open header");
	v.state = VT_CLEAN;
	v.evidence[0] = '\0';
	policy_header_value(cf, &v, "mx", text, sizeof(text));
	T_STREQ(text, "clean; host=mx", "clean header");
	snprintf(v.evidence, sizeof(v.evidence), "fcrdns=pass domain=example.org country=DE");
	policy_header_value(cf, &v, "mx", text, sizeof(text));
	T_STREQ(text, "clean score=0 fcrdns=pass domain=example.org country=DE; host=mx",
	    "clean header with what was found (the country)");
	v.evidence[0] = '\0';
	v.state = VT_PENDING;
	policy_header_value(cf, &v, "mx", text, sizeof(text));
	T_STREQ(text, "pending; host=mx", "pending header");
	v.state = VT_ERROR;
	policy_header_value(cf, &v, "mx", text, sizeof(text));
	T_STREQ(text, "error; host=mx", "error header");
	v.state = VT_LISTED;
	v.score = 4;
	snprintf(v.evidence, sizeof(v.evidence), "dnsbl=bl.example(3) fcrdns=fail(1) country=DE");
	policy_header_value(cf, &v, "mx", text, sizeof(text));
	T_STREQ(text, "listed score=4 dnsbl=bl.example(3) fcrdns=fail(1) country=DE; host=mx",
	    "listed header: class, score, findings (design section 6)");
	v.state = VT_SUSPECT;
	v.score = 3;
	snprintf(v.evidence, sizeof(v.evidence), "fcrdns=fail(1) netbios=139(2)");
	policy_header_value(cf, &v, "mx", text, sizeof(text));
	T_STREQ(text, "suspect score=3 fcrdns=fail(1) netbios=139(2); host=mx", "suspect header");
	config_unref(cf);

	/* dnsbl_reply_map, %p, HELO vs rDNS */
	{
		char path[64];
		FILE *fp;
		struct pm_addr cl;
		snprintf(path, sizeof(path), "/tmp/pm-test-policy-%ld.conf", (long)getpid());
		fp = fopen(path, "w");
		T_OK(fp != NULL, "config file written");
		if (fp == NULL)
			T_DONE();
		fputs("dns: { dnsbl_sites = [ \"secret.example*2\", \"bl.example\", \"wl.example*-2\" ];\n"
		    " dnsbl_reply_map = [ \"secret.example=private-list\" ]; };\n"
		    "score: { helo_mismatch = 2; suspect_threshold = 3; };\n", fp);
		fclose(fp);
		cf = config_load(path, err, sizeof(err));
		unlink(path);
		T_OK(cf != NULL, "config with a reply map loads");
		if (cf == NULL)
			T_DONE();
		memset(&v, 0, sizeof(v));
		v.state = VT_LISTED;
		v.score = 3;
		snprintf(v.evidence, sizeof(v.evidence),
		    "dnsbl=secret.example(2) dnsbl=bl.example(1) dnsbl=wl.example(-2) dnsbl=dead.example:temperror fcrdns=pass domain=example.org");
		policy_header_value(cf, &v, "mx", text, sizeof(text));
		T_STREQ(text, "listed score=3 dnsbl=private-list(2) dnsbl=bl.example(1) dnsbl=wl.example(-2) "
		    "dnsbl=dead.example:temperror fcrdns=pass domain=example.org; host=mx",
		    "the header names a private list by its public name");
		policy_reply_evidence(cf, &v, text, sizeof(text));
		T_STREQ(text, "private-list, bl.example", "%p of listed: the lists that count, public names");
		v.state = VT_SUSPECT;
		snprintf(v.evidence, sizeof(v.evidence), "fcrdns=fail(1) netbios=139(2) country=DE");
		policy_reply_evidence(cf, &v, text, sizeof(text));
		T_STREQ(text, "fcrdns=fail(1) netbios=139(2)", "%p of suspect: the findings that weigh");
		v.state = VT_OPEN;
		snprintf(v.evidence, sizeof(v.evidence), "socks5:1080");
		policy_reply_evidence(cf, &v, text, sizeof(text));
		T_STREQ(text, "socks5:1080", "%p of open-proxy: the test");

		pm_addr_parse("192.0.2.7", &cl);
		memset(&v, 0, sizeof(v));
		v.state = VT_CLEAN;
		snprintf(v.evidence, sizeof(v.evidence), "fcrdns=pass domain=example.co.uk mx=self");
		T_OK(!policy_helo(cf, "mail.example.co.uk", &cl, &v) && v.state == VT_CLEAN,
		    "HELO in the rDNS name's domain: match");
		T_OK(!policy_helo(cf, "EXAMPLE.CO.UK.", &cl, &v), "the domain itself, any case, a root dot: match");
		T_OK(!policy_helo(cf, "[192.0.2.7]", &cl, &v), "the client's address literal: match");
		T_OK(!policy_helo(cf, "", &cl, &v), "no HELO: nothing to compare");
		T_OK(policy_helo(cf, "[192.0.2.8]", &cl, &v) && v.score == 2 && v.state == VT_CLEAN,
		    "another address literal: mismatch, below the threshold");
		memset(&v, 0, sizeof(v));
		v.state = VT_CLEAN;
		v.score = 1;
		snprintf(v.evidence, sizeof(v.evidence), "fcrdns=pass domain=example.co.uk");
		T_OK(policy_helo(cf, "other.co.uk", &cl, &v) && v.score == 3 && v.state == VT_SUSPECT,
		    "another domain under the same suffix: mismatch; the score makes it suspect");
		T_STREQ(v.evidence, "fcrdns=pass domain=example.co.uk helo=mismatch(2)", "the finding joins the evidence");
		memset(&v, 0, sizeof(v));
		v.state = VT_CLEAN;
		snprintf(v.evidence, sizeof(v.evidence), "fcrdns=fail(1)");
		T_OK(!policy_helo(cf, "anything.example", &cl, &v), "no verified rDNS: no HELO finding");
		memset(&v, 0, sizeof(v));
		v.state = VT_CLEAN;
		snprintf(v.evidence, sizeof(v.evidence), "domain=example.org");
		T_OK(policy_helo(cf, "localhost", &cl, &v), "a HELO with no registrable domain: mismatch");
		T_OK(policy_helo(cf, "xn--bcher-kva.example\xff<script>", &cl, &v),
		    "a HELO with hostile bytes: mismatch, no crash");
		config_unref(cf);
	}
	T_DONE();
}
