/*
 * results.c - what the probe engine reports, on the engine thread: one line
 * per test result, and the verdict of each probe set written to the verdict
 * table (which wakes the sessions waiting for it).  Nothing here blocks: the
 * table's lock and the log queue are all it touches.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "milter.h"
#include "fleet.h"
#include "vrec.h"
#include "pmconfig.h"
#include "log.h"
#include "guard.h"
#include "metrics.h"

static const char *
result_word(enum pe_result_kind k)
{
	return k == PE_OPEN ? "open" : k == PE_CLOSED ? "closed" : "inconclusive";
}

void
pm_probe_result(const struct pe_result *r, void *arg)
{
	struct preq *q = arg;
	struct lb l;
	static double emfile_warned;	/* engine thread only */

	if (q->selftest) {
		guard_selftest_result(q, r);
		return;
	}
	if (strcmp(r->reason, "emfile") == 0) {
		__atomic_store_n(&pm.emfile_at, (int64_t)vt_now(), __ATOMIC_RELAXED);
		if (vt_now() - emfile_warned >= 60.0) {
			emfile_warned = vt_now();
			log_msg(LOG_WARNING, "error", "out of descriptors: probes fail with emfile, "
			    "and sessions do not wait for pending verdicts while it lasts "
			    "(raise the limit: ulimit -n, LimitNOFILE=; or lower probe.max_inflight)");
		}
	}

	metrics_test(r->proto, result_word(r->result));
	lb_init(&l, "NOQUEUE", "probe");
	lb_kv(&l, "sess", q->sess);
	lb_kvf(&l, "client", "[%s]", q->addr);
	lb_kvf(&l, "test", "%s:%u", r->proto, r->port);
	lb_kv(&l, "result", result_word(r->result));
	lb_kv(&l, "reason", r->reason);
	if (r->egress[0] != '\0')
		lb_kv(&l, "egress", r->egress);
	if (r->findings[0] != '\0')
		lb_kv(&l, "findings", r->findings);
	lb_kvf(&l, "elapsed", "%.3fs", r->elapsed);
	if (r->attempt > 1)
		lb_kvf(&l, "attempt", "%d", r->attempt);
	if (r->detail[0] != '\0' && r->result != PE_OPEN)
		lb_kv(&l, "detail", r->detail);
	lb_emit(&l, r->result == PE_CLOSED && r->findings[0] == '\0' ? LOG_DEBUG : LOG_INFO);
}

/* the engine's class -> the table's state, and how long it holds */
static enum vt_state
state_of(const struct pm_config *cf, enum pe_verdict v, long *ttl)
{
	switch (v) {
	case PE_V_OPEN:
		*ttl = cf->verdict.open_ttl;
		return VT_OPEN;
	case PE_V_RELAY:
		*ttl = cf->verdict.open_ttl;
		return VT_RELAY;
	case PE_V_LISTED:
		*ttl = cf->verdict.clean_ttl;
		return VT_LISTED;
	case PE_V_SUSPECT:
		*ttl = cf->verdict.clean_ttl;
		return VT_SUSPECT;
	case PE_V_CLEAN:
		*ttl = cf->verdict.clean_ttl;
		return VT_CLEAN;
	case PE_V_ERROR:
		break;
	}
	*ttl = cf->verdict.error_ttl;
	return VT_ERROR;
}

/* the findings as the table keeps them (VT_EVIDENCE_MAX, whole findings):
 * those that weigh and the domain (the HELO check needs it) first */
static void
table_evidence(const struct pe_summary *sm, char *buf, size_t len)
{
	struct pe_finding f[PE_JOB_FINDINGS_MAX];
	size_t n = 0;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < sm->nfindings && n < PE_JOB_FINDINGS_MAX; i++) {
			int first = sm->finding[i].weight != 0 ||
			    strcmp(sm->finding[i].name, "domain") == 0;
			if (first == (pass == 0))
				f[n++] = sm->finding[i];
		}
	pe_findings_text(f, n, buf, len);
}

/* findings other than the open proxies that evidence= names already */
static int
beyond_proxy(const struct pe_summary *sm)
{
	for (size_t i = 0; i < sm->nfindings; i++)
		if (sm->finding[i].fclass != PE_F_OPEN_PROXY)
			return 1;
	return 0;
}

void
pm_probe_done(const struct pe_summary *sm, void *arg)
{
	struct preq *q = arg;
	const struct pm_config *cf;
	enum vt_state st;
	long ttl;
	struct lb l;
	char evidence[VT_EVIDENCE_MAX], quarantine[80];

	if (q->selftest) {
		guard_selftest_done(q, sm);
		return;
	}
	cf = q->cf;
	/* every request ends with one final line, which the stats and the
	 * report count; provisional ones (final=no) may come before it */
	if (sm->verdict == PE_V_OPEN)
		snprintf(evidence, sizeof(evidence), "%s", sm->evidence);
	else
		table_evidence(sm, evidence, sizeof(evidence));
	st = state_of(cf, sm->verdict, &ttl);
	/* a class made of DNS answers holds no longer than the answers do
	 * (their TTL, at least PE_DNS_MIN_TTL); a proof holds open_ttl */
	if (sm->ttl > 0 && sm->ttl < ttl && (st == VT_LISTED || st == VT_SUSPECT || st == VT_CLEAN))
		ttl = sm->ttl;
	/* one egress or greeting host for too many networks: what rests on
	 * it is not acted on while the alarm lasts (guard.c) */
	if (guard_observing() && (st == VT_OPEN || st == VT_RELAY))
		snprintf(quarantine, sizeof(quarantine), "selftest");	/* made on a lying path */
	else
		guard_uniformity(cf, &q->a, sm, st, quarantine, sizeof(quarantine));
	if (quarantine[0] != '\0') {
		st = VT_ERROR;
		ttl = cf->verdict.error_ttl < cf->selftest.window ? cf->verdict.error_ttl :
		    cf->selftest.window;
		snprintf(evidence, sizeof(evidence), "quarantined %s", quarantine);
	}
	if (!sm->final)
		PM_COUNT(provisional);
	else if (st == VT_OPEN)
		PM_COUNT(v_open);
	else if (st == VT_RELAY)
		PM_COUNT(v_relay);
	else if (st == VT_LISTED)
		PM_COUNT(v_listed);
	else if (st == VT_SUSPECT)
		PM_COUNT(v_suspect);
	else if (st == VT_CLEAN)
		PM_COUNT(v_clean);
	else
		PM_COUNT(v_error);
	if (sm->final)	/* from the connect that claimed the address */
		metrics_verdict_time(vt_now() - q->t_connect);
	vt_complete(pm.vt, &q->a, st, sm->score, evidence, sm->egress, vt_now(), (double)ttl);
	lb_init(&l, "NOQUEUE", "verdict");
	lb_kv(&l, "sess", q->sess);
	lb_kvf(&l, "client", "[%s]", q->addr);
	lb_kv(&l, "verdict", quarantine[0] != '\0' ? pe_verdict_name(sm->verdict) : vt_state_name(st));
	if (quarantine[0] != '\0')
		lb_kv(&l, "quarantined", quarantine);
	if (sm->evidence[0] != '\0')
		lb_kv(&l, "evidence", sm->evidence);
	if (sm->egress[0] != '\0')
		lb_kv(&l, "egress", sm->egress);
	if (sm->score != 0)
		lb_kvf(&l, "score", "%d", sm->score);
	if (beyond_proxy(sm))
		lb_kv(&l, "findings", sm->findings);
	for (size_t i = 0; i < sm->nfindings; i++)
		if (strcmp(sm->finding[i].name, "country") == 0)
			lb_kv(&l, "country", sm->finding[i].value);
	if (st == VT_ERROR)
		lb_kv(&l, "reason", sm->reason);
	if (!sm->final)
		lb_kv(&l, "final", "no");
	else if (q->reported)
		lb_kv(&l, "late", "yes");
	lb_kvf(&l, "ttl", "%ld", ttl);
	lb_kvf(&l, "tests", "%d", sm->tests);
	lb_kvf(&l, "open", "%d", sm->open);
	lb_kvf(&l, "closed", "%d", sm->closed);
	lb_kvf(&l, "inconclusive", "%d", sm->inconclusive);
	lb_kvf(&l, "elapsed", "%.3fs", sm->elapsed);
	if (sm->queued >= 0.001)
		lb_kvf(&l, "queued", "%.3fs", sm->queued);
	lb_emit(&l, st == VT_OPEN || st == VT_RELAY ? LOG_NOTICE : LOG_INFO);
	if (!sm->final) {
		q->reported = 1;
		return;
	}
	if (fleet_enabled()) {	/* to the peers, or at least the claim let go */
		struct vt_info v;
		vt_get(pm.vt, &q->a, vt_now(), &v);
		fleet_share(&q->a, &v);
	}
	pm_unsubmit(q);
}
