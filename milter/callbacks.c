/*
 * callbacks.c - the xxfi_* callbacks.
 *
 * Per-session state lives only behind smfi_setpriv: Debian's libmilter runs
 * one session's callbacks on different worker threads.  The connect
 * callback never waits for the network: it schedules probes and returns.
 * Only the enforcement stage may wait, at most action.pending_wait seconds,
 * on the verdict table's condition variable.
 */
#include "config.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "milter.h"
#include "pmconfig.h"
#include "policy.h"
#include "log.h"
#include "session.h"
#include "fleet.h"
#include "metrics.h"

struct pm_global pm;



static struct sess *
S(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

static void
new_id(char id[9])
{
	uint32_t r = 0;

	if (pe_random(&r, sizeof(r)) < 0) {	/* unique enough for a log */
		static uint32_t ctr;
		r = (uint32_t)getpid() * 2654435761u ^ __atomic_add_fetch(&ctr, 1, __ATOMIC_RELAXED) * 40503u ^ (uint32_t)(vt_now() * 1e6);
	}
	snprintf(id, 9, "%08x", r);
}

static void
update_qid(SMFICTX *ctx, struct sess *s)
{
	const char *q = smfi_getsymval(ctx, "i");
	if (q != NULL && *q != '\0')
		pe_printable(s->qid, sizeof(s->qid), q, strlen(q));
}

void
sess_line(struct lb *l, const struct sess *s, const char *event)
{
	lb_init(l, s->qid, event);
	lb_kv(l, "sess", s->id);
}

/* a new message (MAIL): its queue id comes when the MTA has one; the
 * last message's id stays for the lines after it (close) */
static void
reset_message(struct sess *s)
{
	s->hdr_copies = 0;
	s->msg_rcpts = s->msg_exempt = 0;
	s->tag = false;
	s->probe_msg = false;
	s->from[0] = '\0';
	s->authenticated = false;
	s->auth_user[0] = '\0';
	snprintf(s->qid, sizeof(s->qid), "NOQUEUE");
}

void
log_skip(struct sess *s, const char *reason, const char *k, const char *v, int stage)
{
	struct lb l;
	sess_line(&l, s, "skip");
	lb_kv(&l, "client", s->client);
	lb_kv(&l, "reason", reason);
	if (k != NULL)
		lb_kv(&l, k, v);
	if (stage >= 0)
		lb_kv(&l, "stage", stage_name((enum pm_stage)stage));
	lb_emit(&l, LOG_INFO);
	PM_COUNT(skipped);
}

/* ---- probe requests ------------------------------------------------------ */

/*
 * How long a pending entry may stand: the engine calls back exactly once
 * for every request it took, so the entry is normally completed long
 * before; this bound (the engine's own schedule: the longest wait in a
 * full queue plus the longest run) only keeps a lost request from
 * blocking an address for ever.  It never expires under a running or
 * queued probe set, so no second set starts for the same address.
 */
static double
pending_ttl(const struct pm_config *cf)
{
	return pe_pending_bound(pm.engine, cf->probe.ntests, &cf->probe.timing) + 60.0;
}

void
pm_submit(struct preq *q)
{
	const struct pm_config *cf = q->cf;
	struct lb l;

	lb_init(&l, "NOQUEUE", "probe-start");
	lb_kv(&l, "sess", q->sess);
	lb_kvf(&l, "client", "[%s]", q->addr);
	lb_kvf(&l, "tests", "%zu", cf->probe.ntests);
	lb_kvf(&l, "timeout", "%.1fs", cf->probe.timing.timeout);
	/* the verdict comes at most this long after the probes start */
	lb_kvf(&l, "deadline", "%.1fs", pe_job_budget(pm.engine, cf->probe.ntests,
	    &cf->probe.timing));
	lb_emit(&l, LOG_INFO);
	/* counted with its line: a set that cannot start ends in an error
	 * verdict of its own, so that the log adds up to the stats line */
	PM_COUNT(probed);
	if (pe_submit(pm.engine, (struct sockaddr *)&q->ss, q->sl, q->cf->probe.tests,
	    q->cf->probe.ntests, &q->tm, PE_F_STOP_ON_OPEN, q) == 0)
		return;
	log_msg(LOG_ERR, "error", "cannot schedule probes for %s: engine stopped or out of memory",
	    q->addr);
	PM_COUNT(v_error);
	vt_complete(pm.vt, &q->a, VT_ERROR, 0, "", "", vt_now(), (double)cf->verdict.error_ttl);
	lb_init(&l, "NOQUEUE", "verdict");
	lb_kv(&l, "sess", q->sess);
	lb_kvf(&l, "client", "[%s]", q->addr);
	lb_kv(&l, "verdict", "error");
	lb_kv(&l, "reason", "not-scheduled");
	lb_kvf(&l, "ttl", "%ld", cf->verdict.error_ttl);
	lb_emit(&l, LOG_INFO);
	pm_unsubmit(q);
}

void
pm_unsubmit(struct preq *q)
{
	config_unref(q->cf);
	free(q);
}

static void
start_probe(struct sess *s)
{
	struct preq *q = calloc(1, sizeof(*q));
	struct pe_timing *tm;

	if (q == NULL) {
		log_msg(LOG_ERR, "error", "cannot schedule probes for %s: out of memory", s->addr);
		vt_complete(pm.vt, &s->a, VT_ERROR, 0, "", "", vt_now(),
		    (double)s->cf->verdict.error_ttl);
		return;
	}
	q->cf = config_ref(s->cf);
	memcpy(q->sess, s->id, sizeof(q->sess));
	q->a = s->a;
	q->t_connect = s->t_connect;
	snprintf(q->addr, sizeof(q->addr), "%s", s->addr);
	q->sl = pm_addr_to_sockaddr(&s->a, 0, &q->ss);
	tm = &q->tm;
	*tm = s->cf->probe.timing;
	/* connect_back's EHLO name: the configured one, else the MTA's (j) */
	snprintf(tm->ours, sizeof(tm->ours), "%s", s->mta[0] != '\0' ? s->mta : pm.hostname);
	snprintf(tm->helo, sizeof(tm->helo), "%s", s->cf->connect_back.helo_name[0] != '\0' ?
	    s->cf->connect_back.helo_name : tm->ours);
	/* with Redis, another MX host may know the verdict or be probing */
	if (fleet_enabled())
		fleet_claim(q, pending_ttl(s->cf), pe_job_budget(pm.engine, s->cf->probe.ntests,
		    &s->cf->probe.timing));
	else
		pm_submit(q);
}

/* ---- callbacks ----------------------------------------------------------- */

static sfsistat
pm_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
    unsigned long f3, unsigned long *pf0, unsigned long *pf1, unsigned long *pf2,
    unsigned long *pf3)
{
	const unsigned long need = SMFIF_ADDHDRS | SMFIF_CHGHDRS;
	/*
	 * Not SMFIP_NODATA: with it, Postfix still sends the DATA macros but
	 * no DATA command, so nothing answers them; the next write from
	 * cleanup then waits for TCP's delayed ACK (Nagle): 40 ms per message
	 * on inet sockets (measured: 44 ms vs 3 ms per transaction).  A DATA
	 * callback that answers at once costs one round trip on loopback.
	 */
	const unsigned long skip = SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NOEOH;

	(void)f2;
	(void)f3;
	if ((f0 & need) != need) {
		log_msg(LOG_ERR, "error", "the MTA does not offer header changes "
		    "(actions 0x%lx): milter disabled for this connection", f0);
		return SMFIS_REJECT;
	}
	*pf0 = need | (f0 & SMFIF_SETSYMLIST);
	*pf1 = f1 & skip;
	*pf2 = 0;
	*pf3 = 0;
	if (f0 & SMFIF_SETSYMLIST) {
		smfi_setsymlist(ctx, SMFIM_CONNECT, "j {daemon_name}");
		smfi_setsymlist(ctx, SMFIM_ENVFROM, "i {auth_authen} {auth_type}");
		smfi_setsymlist(ctx, SMFIM_ENVRCPT, "i");
		smfi_setsymlist(ctx, SMFIM_DATA, "i");
		smfi_setsymlist(ctx, SMFIM_EOM, "i");
	}
	return SMFIS_CONTINUE;
}

static sfsistat
connect_cb(SMFICTX *ctx, char *host, _SOCK_ADDR *hostaddr)
{
	struct sess *s = S(ctx);
	struct pm_config *cf;
	struct lb l;
	const char *dn, *range, *j;
	const struct cidr *rule;
	struct vt_info v;
	char name[256];
	int port = 0;

	if (s != NULL) {		/* a new connect on the same ctx (QUIT_NC) */
		config_unref(s->cf);
		free(s);
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (cf = config_current()) == NULL) {
		free(s);
		smfi_setpriv(ctx, NULL);
		return SMFIS_CONTINUE;
	}
	s->cf = cf;
	smfi_setpriv(ctx, s);
	new_id(s->id);
	reset_message(s);
	s->t_connect = vt_now();
	PM_COUNT(connections);

	pe_printable(name, sizeof(name), host ? host : "unknown", host ? strlen(host) : 7);
	if (name[0] == '[' || name[0] == '\0')
		snprintf(name, sizeof(name), "unknown");
	if (pm_addr_from_sockaddr(hostaddr, &s->a) == 0) {
		s->have_addr = true;
		pm_addr_str(&s->a, s->addr, sizeof(s->addr));
		port = pe_target_port(hostaddr);
		snprintf(s->client, sizeof(s->client), "%s[%s]:%d", name, s->addr, port);
	} else {
		snprintf(s->addr, sizeof(s->addr), "local");
		snprintf(s->client, sizeof(s->client), "%s[local]", name);
	}
	if ((j = smfi_getsymval(ctx, "j")) != NULL)
		pe_printable(s->mta, sizeof(s->mta), j, strlen(j));
	sess_line(&l, s, "connect");
	lb_kv(&l, "client", s->client);
	if ((dn = smfi_getsymval(ctx, "{daemon_name}")) != NULL)
		lb_kv(&l, "daemon", dn);
	lb_emit(&l, LOG_INFO);

	if (!s->have_addr) {
		s->skip = "local";
		log_skip(s, "local", NULL, NULL, -1);
		return SMFIS_CONTINUE;
	}
	if ((rule = cidr_match(&cf->allow, &s->a)) != NULL) {
		log_skip(s, "allowlist", "rule", rule->text, -1);
		return SMFIS_ACCEPT;
	}
	for (size_t i = 0; dn != NULL && i < cf->skip_daemon_names.n; i++)
		if (strcmp(dn, cf->skip_daemon_names.v[i]) == 0) {
			s->skip = "daemon-name";
			log_skip(s, "daemon-name", "daemon", dn, -1);
			return SMFIS_CONTINUE;
		}
	if (pm_addr_is_special(&s->a, &range) && cidr_match(&cf->probe.allow_private, &s->a) == NULL) {
		s->skip = "reserved-range";
		log_skip(s, "reserved-range", "range", range, -1);
		return SMFIS_CONTINUE;
	}
	switch (vt_claim(pm.vt, &s->a, vt_now(), pending_ttl(cf), &v)) {
	case VT_HIT:
		PM_COUNT(cache_hits);
		sess_line(&l, s, "cache");
		lb_kvf(&l, "client", "[%s]", s->addr);
		lb_kv(&l, "hit", "yes");
		lb_kv(&l, "verdict", vt_state_name(v.state));
		if (v.evidence[0] != '\0')
			lb_kv(&l, "evidence", v.evidence);
		lb_kvf(&l, "age", "%.0fs", v.age);
		lb_emit(&l, LOG_INFO);
		break;
	case VT_INFLIGHT:
		PM_COUNT(joined);
		sess_line(&l, s, "cache");
		lb_kvf(&l, "client", "[%s]", s->addr);
		lb_kv(&l, "hit", "inflight");
		lb_emit(&l, LOG_INFO);
		break;
	case VT_CLAIMED:
		if (!rl_take(pm.rl, &s->a, vt_now(), cf->probe.rate_limit)) {
			/* too many new probe sets for this network: no probe now;
			 * error for a minute (on_error applies), then try again */
			double ttl = cf->verdict.error_ttl < 60 ? (double)cf->verdict.error_ttl : 60.0;
			vt_complete(pm.vt, &s->a, VT_ERROR, 0, "", "", vt_now(), ttl);
			PM_COUNT(rate_limited);
			log_skip(s, "rate-limit", "limit", s->a.family == AF_INET ?
			    "per-24" : "per-64", -1);
			break;
		}
		start_probe(s);
		break;
	}
	return pm_enforce(ctx, s, STAGE_CONNECT, NULL, false);
}

/* the connect callback, timed: it must return at once whatever happens */
static sfsistat
pm_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *hostaddr)
{
	double t0 = vt_now();
	sfsistat r = connect_cb(ctx, host, hostaddr);
	double us = (vt_now() - t0) * 1e6;

	hist_add(&pm.connect_us, us > 0 ? (uint64_t)us : 0);
	return r;
}

static sfsistat
pm_helo(SMFICTX *ctx, char *helo)
{
	struct sess *s = S(ctx);
	struct lb l;

	if (s == NULL)
		return SMFIS_CONTINUE;
	pe_printable(s->helo, sizeof(s->helo), helo ? helo : "", helo ? strlen(helo) : 0);
	/*
	 * target "mta": one of our probes may have reached us through a proxy.
	 * Only a nonce that a running test sent here and that was not used
	 * before proves it; the session itself is treated like any other
	 * (our probe says QUIT; anybody else meets the policy as usual).
	 */
	if ((s->cf->probe.target_kind == PE_TARGET_MTA || s->cf->connect_back.enable) &&
	    helo != NULL && pe_nonce_find(helo, strlen(helo)) >= 0) {
		int r = s->have_addr ? pe_confirm(pm.engine, helo, s->addr) : -1;
		sess_line(&l, s, "probe-confirm");
		lb_kv(&l, "client", s->client);
		lb_kv(&l, "helo", s->helo);
		lb_kv(&l, "result", r == 0 ? "confirmed" : "unknown-nonce");
		if (r == 0)
			lb_kv(&l, "egress", s->addr);
		lb_emit(&l, r == 0 ? LOG_INFO : LOG_NOTICE);
	}
	return pm_enforce(ctx, s, STAGE_HELO, NULL, false);
}

static sfsistat
pm_envfrom(SMFICTX *ctx, char **argv)
{
	struct sess *s = S(ctx);
	const char *au;
	if (s == NULL)
		return SMFIS_CONTINUE;
	reset_message(s);
	update_qid(ctx, s);
	s->msgs++;
	if (argv != NULL && argv[0] != NULL) {
		const char *f = argv[0];
		size_t n = strlen(f);
		if (n >= 2 && f[0] == '<' && f[n - 1] == '>') {
			f++;
			n -= 2;
		}
		pe_printable(s->from, sizeof(s->from), f, n);
	}
	if ((au = smfi_getsymval(ctx, "{auth_authen}")) != NULL && *au != '\0') {
		s->authenticated = true;
		pe_printable(s->auth_user, sizeof(s->auth_user), au, strlen(au));
	}
	return pm_enforce(ctx, s, STAGE_MAIL, NULL, false);
}

static sfsistat
pm_envrcpt(SMFICTX *ctx, char **argv)
{
	struct sess *s = S(ctx);
	char rcpt[256] = "";
	bool exempt;
	sfsistat r;

	if (s == NULL)
		return SMFIS_CONTINUE;
	update_qid(ctx, s);
	if (argv != NULL && argv[0] != NULL) {
		const char *t = argv[0];
		size_t n = strlen(t);
		if (n >= 2 && t[0] == '<' && t[n - 1] == '>') {
			t++;
			n -= 2;
		}
		pe_printable(rcpt, sizeof(rcpt), t, n);
	}
	/* connect_back: our own probe message (or a bounce of it) comes
	 * back to us; only nonces our engine issued count, a forged one is
	 * just an address.  It counts at the message's end (a callout that
	 * stops here proves nothing); the message is ours to drop */
	if (s->cf->connect_back.enable && pe_nonce_find(rcpt, strlen(rcpt)) >= 0 &&
	    pe_nonce_ours(pm.engine, rcpt)) {
		s->probe_msg = true;
		snprintf(s->probe_rcpt, sizeof(s->probe_rcpt), "%s", rcpt);
		s->msg_rcpts++;
		s->rcpts++;
		return SMFIS_CONTINUE;
	}
	exempt = policy_rcpt_exempt(s->cf, rcpt);
	r = pm_enforce(ctx, s, STAGE_RCPT, rcpt, exempt);
	if (r == SMFIS_CONTINUE) {
		s->msg_rcpts++;
		s->rcpts++;
		if (exempt)
			s->msg_exempt++;
	}
	return r;
}

static sfsistat
pm_data(SMFICTX *ctx)
{
	struct sess *s = S(ctx);
	if (s != NULL)
		update_qid(ctx, s);
	return SMFIS_CONTINUE;
}

static sfsistat
pm_header(SMFICTX *ctx, char *name, char *value)
{
	struct sess *s = S(ctx);
	(void)value;
	if (s != NULL && name != NULL && strcasecmp(name, s->cf->action.header) == 0)
		s->hdr_copies++;
	return SMFIS_CONTINUE;
}

static sfsistat
pm_eom(SMFICTX *ctx)
{
	struct sess *s = S(ctx);
	sfsistat r;
	struct lb l;

	if (s == NULL)
		return SMFIS_CONTINUE;
	update_qid(ctx, s);
	if (s->probe_msg) {		/* our connect-back's probe: nobody gets it */
		int c = s->have_addr ? pe_confirm_mail(pm.engine, s->probe_rcpt, s->from, s->addr) : -1;
		sess_line(&l, s, "probe-confirm");
		lb_kv(&l, "client", s->client);
		lb_kvf(&l, "to", "<%s>", s->probe_rcpt);
		lb_kvf(&l, "from", "<%s>", s->from);
		lb_kv(&l, "result", c == 0 ? "confirmed" : c == 1 ? "again" : "unknown-nonce");
		lb_emit(&l, LOG_INFO);
		sess_line(&l, s, "discard");
		lb_kv(&l, "client", s->client);
		lb_kv(&l, "reason", "probe-message");
		lb_emit(&l, LOG_INFO);
		return SMFIS_DISCARD;
	}
	/* client-supplied copies of our header go, whatever the verdict */
	for (int i = s->hdr_copies; i >= 1; i--)
		smfi_chgheader(ctx, s->cf->action.header, i, NULL);
	if (s->hdr_copies > 0) {
		sess_line(&l, s, "strip");
		lb_kv(&l, "header", s->cf->action.header);
		lb_kvf(&l, "count", "%d", s->hdr_copies);
		lb_emit(&l, LOG_INFO);
	}
	r = pm_enforce(ctx, s, STAGE_EOM, NULL,
	    s->msg_rcpts > 0 && s->msg_exempt == s->msg_rcpts);
	if (r != SMFIS_CONTINUE)
		return r;
	if (s->tag || s->sess_tag) {
		char val[VT_EVIDENCE_MAX + VT_EGRESS_MAX + 300];
		struct vt_info now;
		if (!s->tag)
			s->tag_info = s->sess_tag_info;
		/* the verdict may have arrived since the decision: show the latest,
		 * with the session's own HELO finding as the decision had it */
		vt_get(pm.vt, &s->a, vt_now(), &now);
		if (now.state != VT_NONE && now.state != VT_PENDING) {
			policy_helo(s->cf, s->helo, &s->a, &now);
			s->tag_info = now;
		}
		policy_header_value(s->cf, &s->tag_info, s->mta[0] ? s->mta : pm.hostname, val, sizeof(val));
#ifdef HAVE_SMFI_INSHEADER
		if (smfi_insheader(ctx, 0, s->cf->action.header, val) != MI_SUCCESS)
#else
		if (smfi_addheader(ctx, s->cf->action.header, val) != MI_SUCCESS)
#endif
			log_msg(LOG_WARNING, "error", "cannot add header for sess=%s", s->id);
		sess_line(&l, s, "tag");
		lb_kv(&l, "client", s->client);
		lb_kv(&l, "verdict", vt_state_name(s->tag_info.state));
		lb_kv(&l, "header", s->cf->action.header);
		lb_kv(&l, "value", val);
		lb_emit(&l, LOG_INFO);
		PM_COUNT(tagged);
		metrics_action(s->cf->action.stage, MA_TAG);	/* the stage that decided it */
	}
	/* the message is done; its queue id stays for the close line */
	s->tag = false;
	s->hdr_copies = 0;
	return SMFIS_CONTINUE;
}

static sfsistat
pm_abort(SMFICTX *ctx)
{
	struct sess *s = S(ctx);
	if (s != NULL)
		reset_message(s);
	return SMFIS_CONTINUE;
}

static sfsistat
pm_close(SMFICTX *ctx)
{
	struct sess *s = S(ctx);
	struct lb l;

	if (s == NULL)
		return SMFIS_CONTINUE;
	smfi_setpriv(ctx, NULL);
	sess_line(&l, s, "close");
	lb_kv(&l, "client", s->client);
	lb_kvf(&l, "msgs", "%d", s->msgs);
	lb_kvf(&l, "rcpts", "%d", s->rcpts);
	lb_kvf(&l, "rejected", "%d", s->rejected);
	lb_kvf(&l, "duration", "%.3fs", vt_now() - s->t_connect);
	lb_emit(&l, LOG_INFO);
	config_unref(s->cf);
	free(s);
	return SMFIS_CONTINUE;
}

void
pm_stats_line(struct lb *l)
{
	struct pm_counters c;
	struct vt_stats vs;
	struct pe_stats ps;
	struct fleet_stats fs;

#define LD(f) c.f = __atomic_load_n(&pm.c.f, __ATOMIC_RELAXED)
	LD(connections); LD(probed); LD(cache_hits); LD(joined); LD(skipped);
	LD(rate_limited); LD(v_open); LD(v_relay); LD(v_listed); LD(v_suspect);
	LD(v_clean); LD(v_error); LD(provisional);
	LD(rejected); LD(tempfailed); LD(tagged); LD(would);
#undef LD
	vt_stats(pm.vt, &vs);
	pe_get_stats(pm.engine, &ps);
	lb_init(l, NULL, "stats");
	lb_kvf(l, "connections", "%llu", (unsigned long long)c.connections);
	lb_kvf(l, "probed", "%llu", (unsigned long long)c.probed);
	lb_kvf(l, "cache_hits", "%llu", (unsigned long long)c.cache_hits);
	lb_kvf(l, "joined", "%llu", (unsigned long long)c.joined);
	lb_kvf(l, "open", "%llu", (unsigned long long)c.v_open);
	lb_kvf(l, "relay", "%llu", (unsigned long long)c.v_relay);
	lb_kvf(l, "listed", "%llu", (unsigned long long)c.v_listed);
	lb_kvf(l, "suspect", "%llu", (unsigned long long)c.v_suspect);
	lb_kvf(l, "clean", "%llu", (unsigned long long)c.v_clean);
	lb_kvf(l, "error", "%llu", (unsigned long long)c.v_error);
	lb_kvf(l, "provisional", "%llu", (unsigned long long)c.provisional);
	lb_kvf(l, "rejected", "%llu", (unsigned long long)c.rejected);
	lb_kvf(l, "tempfailed", "%llu", (unsigned long long)c.tempfailed);
	lb_kvf(l, "tagged", "%llu", (unsigned long long)c.tagged);
	lb_kvf(l, "would", "%llu", (unsigned long long)c.would);
	lb_kvf(l, "skipped", "%llu", (unsigned long long)c.skipped);
	lb_kvf(l, "rate_limited", "%llu", (unsigned long long)c.rate_limited);
	lb_kvf(l, "tests", "%llu", (unsigned long long)ps.tests);
	lb_kvf(l, "overload", "%llu", (unsigned long long)ps.overload);
	lb_kvf(l, "probes_inflight", "%d", ps.inflight);
	lb_kvf(l, "probes_inflight_max", "%d", ps.inflight_max);
	lb_kvf(l, "queued", "%d", ps.queued);
	lb_kvf(l, "canary_conns", "%llu", (unsigned long long)ps.canary_conns);
	lb_kvf(l, "canary_unknown", "%llu", (unsigned long long)ps.canary_unknown);
	lb_kvf(l, "dns_queries", "%llu", (unsigned long long)ps.dns_queries);
	lb_kvf(l, "dns_failures", "%llu", (unsigned long long)ps.dns_failures);
	lb_kvf(l, "table_entries", "%zu", vs.entries);
	lb_kvf(l, "table_evicted", "%llu", (unsigned long long)vs.evicted);
	lb_kvf(l, "connect_p50_us", "%llu", (unsigned long long)hist_quantile(&pm.connect_us, 0.50));
	lb_kvf(l, "connect_p99_us", "%llu", (unsigned long long)hist_quantile(&pm.connect_us, 0.99));
	lb_kvf(l, "connect_max_us", "%llu", (unsigned long long)hist_max(&pm.connect_us));
	lb_kvf(l, "log_dropped", "%llu", (unsigned long long)log_dropped());
	if (fleet_enabled()) {
		fleet_stats(&fs);
		lb_kv(l, "fleet", fs.up ? "up" : "down");
		lb_kvf(l, "fleet_hits", "%llu", (unsigned long long)fs.hits);
		lb_kvf(l, "fleet_learnt", "%llu", (unsigned long long)fs.learnt);
		lb_kvf(l, "fleet_shared", "%llu", (unsigned long long)fs.shared);
		lb_kvf(l, "fleet_fallbacks", "%llu", (unsigned long long)fs.fallbacks);
		lb_kvf(l, "fleet_errors", "%llu", (unsigned long long)fs.errors);
		lb_kvf(l, "fleet_bad", "%llu", (unsigned long long)fs.bad);
	}
}

void
pm_log_stats(void)
{
	struct lb l;

	pm_stats_line(&l);
	lb_emit(&l, LOG_INFO);
}

struct smfiDesc pm_desc = {
	.xxfi_name = "proxymilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_SETSYMLIST,
	.xxfi_connect = pm_connect,
	.xxfi_helo = pm_helo,
	.xxfi_envfrom = pm_envfrom,
	.xxfi_envrcpt = pm_envrcpt,
	.xxfi_header = pm_header,
	.xxfi_eoh = NULL,
	.xxfi_body = NULL,
	.xxfi_eom = pm_eom,
	.xxfi_abort = pm_abort,
	.xxfi_close = pm_close,
	.xxfi_unknown = NULL,
	.xxfi_data = pm_data,
	.xxfi_negotiate = pm_negotiate,
};
