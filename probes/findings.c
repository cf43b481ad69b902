/*
 * findings.c - what checks found, and the class and score made of it.
 *
 * A check records findings in its attempt (pe_find); they count only when
 * the attempt ends with a result (an attempt retried after an inconclusive
 * end leaves nothing behind).  The request's findings make its class, in
 * design section 6's precedence: open-proxy > open-relay > listed > suspect
 * > clean.  The score is the sum of every weight, DNSBL and DNSWL ones
 * included (a DNSWL's negative weight offsets weak findings, as in
 * postscreen); "listed" looks at the DNSBL/DNSWL weights alone.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "engine.h"

/* the settings of a request that names none (score.* defaults) */
const struct pe_checks pe_checks_default = {
	.guess_domain = 1, .w_fcrdns_fail = 1, .w_fcrdns_none = 0, .w_netbios = 2,
	.w_banner_mismatch = 1,
};

const char *
pe_verdict_name(enum pe_verdict v)
{
	switch (v) {
	case PE_V_OPEN: return "open-proxy";
	case PE_V_RELAY: return "open-relay";
	case PE_V_LISTED: return "listed";
	case PE_V_SUSPECT: return "suspect";
	case PE_V_ERROR: return "error";
	default: return "clean";
	}
}

/* precedence of the classes findings make; error and clean rank lowest */
int
pe_verdict_rank(enum pe_verdict v)
{
	switch (v) {
	case PE_V_OPEN: return 4;
	case PE_V_RELAY: return 3;
	case PE_V_LISTED: return 2;
	case PE_V_SUSPECT: return 1;
	default: return 0;
	}
}

enum pe_verdict
pe_classify(const struct pe_finding *f, size_t n, const struct pe_rules *rules, int *score)
{
	int dnsbl_thr = rules != NULL && rules->dnsbl_threshold > 0 ? rules->dnsbl_threshold : 1;
	int suspect_thr = rules != NULL && rules->suspect_threshold > 0 ? rules->suspect_threshold : 3;
	int open = 0, relay = 0, ndnsbl = 0;
	long sum = 0, dnsbl = 0;

	for (size_t i = 0; i < n; i++) {
		sum += f[i].weight;
		switch (f[i].fclass) {
		case PE_F_OPEN_PROXY: open = 1; break;
		case PE_F_OPEN_RELAY: relay = 1; break;
		case PE_F_DNSBL: ndnsbl++; dnsbl += f[i].weight; break;
		case PE_F_WEAK: break;
		}
	}
	if (score != NULL)
		*score = sum > 9999 ? 9999 : sum < -9999 ? -9999 : (int)sum;
	if (open)
		return PE_V_OPEN;
	if (relay)
		return PE_V_RELAY;
	if (ndnsbl > 0 && dnsbl >= dnsbl_thr)
		return PE_V_LISTED;
	if (sum >= suspect_thr)
		return PE_V_SUSPECT;
	return PE_V_CLEAN;
}

void
pe_findings_text(const struct pe_finding *f, size_t n, char *buf, size_t len)
{
	size_t at = 0;

	if (len == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n && at < len; i++) {
		int w;
		if (f[i].weight != 0)
			w = snprintf(buf + at, len - at, "%s%s=%s(%d)", at ? " " : "",
			    f[i].name, f[i].value, f[i].weight);
		else
			w = snprintf(buf + at, len - at, "%s%s=%s", at ? " " : "",
			    f[i].name, f[i].value);
		if (w < 0 || (size_t)w >= len - at) {
			buf[at] = '\0';		/* whole findings only */
			break;
		}
		at += (size_t)w;
	}
}

void
pe_find(struct pe_ctx *ctx, enum pe_fclass fc, int weight, const char *name,
    const char *fmt, ...)
{
	struct run *r = ctx->run;
	struct pe_finding *f;
	char value[PE_FINDING_VALUE_MAX * 2];
	va_list ap;

	if (r == NULL)
		return;
	/* full, but all of it is in the job already (pe_find_commit): make
	 * room; the result line then shows the later findings only */
	if (r->nfind >= PE_RUN_FINDINGS && r->ncommitted == r->nfind)
		r->nfind = r->ncommitted = 0;
	if ((r->dropped = r->nfind >= PE_RUN_FINDINGS))
		return;
	f = &r->find[r->nfind++];
	f->fclass = fc;
	f->weight = weight;
	f->ttl = 0;
	pe_printable(f->name, sizeof(f->name), name, strlen(name));
	va_start(ap, fmt);
	vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	pe_printable(f->value, sizeof(f->value), value, strlen(value));
	/* the text form is name=value: keep it one token */
	for (char *p = f->value; *p != '\0'; p++)
		if (*p == ' ' || *p == '=')
			*p = '_';
}

const char *
pe_ctx_finding(const struct pe_ctx *ctx, const char *name)
{
	const struct job *j = ctx->run != NULL ? ctx->run->t->job : NULL;

	for (size_t i = 0; j != NULL && i < j->nfind; i++)
		if (strcmp(j->find[i].name, name) == 0)
			return j->find[i].value;
	return NULL;
}

void
pe_find_drop(struct pe_ctx *ctx)
{
	if (ctx->run != NULL)
		ctx->run->nfind = ctx->run->ncommitted;
}

void
pe_find_ttl(struct pe_ctx *ctx, int ttl)
{
	struct run *r = ctx->run;

	if (r != NULL && r->nfind > 0 && !r->dropped)
		r->find[r->nfind - 1].ttl = ttl;
}

void
pe_detail_add(struct pe_ctx *ctx, const char *text, size_t len)
{
	size_t at = strlen(ctx->detail);

	if (at > 0 && at + 2 < sizeof(ctx->detail)) {
		memcpy(ctx->detail + at, "; ", 3);
		at += 2;
	}
	if (at + 1 < sizeof(ctx->detail))
		pe_printable(ctx->detail + at, sizeof(ctx->detail) - at, text, len);
}

/* the attempt ended with a result: its findings join the request's; a new
 * class above the last one reported goes out at once, provisionally */
void
pe_run_findings_commit(struct run *r)
{
	struct job *j = r->t->job;
	size_t from = r->ncommitted;
	uint32_t test = (uint32_t)(r->t - j->tests);

	r->ncommitted = r->nfind;
	if (from >= r->nfind)
		return;
	if (j->find == NULL && ((j->find = calloc(PE_JOB_FINDINGS, sizeof(*j->find))) == NULL ||
	    (j->find_test = calloc(PE_JOB_FINDINGS, sizeof(*j->find_test))) == NULL)) {
		free(j->find);
		j->find = NULL;
		return;		/* out of memory: the findings are lost, the test's result stays */
	}
	for (size_t i = from; i < r->nfind && j->nfind < PE_JOB_FINDINGS; i++) {
		size_t k;
		/* what an earlier attempt of this test committed (a retry
		 * finds it again) counts once */
		for (k = 0; k < j->nfind; k++)
			if (j->find_test[k] == test && strcmp(j->find[k].name, r->find[i].name) == 0 &&
			    strcmp(j->find[k].value, r->find[i].value) == 0)
				break;
		if (k == j->nfind) {
			j->find_test[j->nfind] = test;
			j->find[j->nfind++] = r->find[i];
		}
	}
}

void
pe_find_commit(struct pe_ctx *ctx, int announce)
{
	struct run *r = ctx->run;

	if (r == NULL)
		return;
	pe_run_findings_commit(r);
	if (announce && !r->t->job->ending)
		pe_job_provisional(r->t->job);
}

/* what two checks find together, when the request ends: the host the
 * client's port-25 greeting names (connect_back's banner-host) against the
 * verified rDNS name's registrable domain (fcrdns's domain): another domain
 * is banner-mismatch=HOST (score.banner_mismatch) */
void
pe_job_cross(struct job *j)
{
	const struct pe_checks *ck = j->tm.checks != NULL ? j->tm.checks : &pe_checks_default;
	const char *host = NULL, *dom = NULL;
	char hd[256];

	for (size_t i = 0; i < j->nfind; i++) {
		if (strcmp(j->find[i].name, "banner-host") == 0)
			host = j->find[i].value;
		else if (strcmp(j->find[i].name, "domain") == 0)
			dom = j->find[i].value;
	}
	if (host == NULL || dom == NULL || host[0] == '[' || j->nfind >= PE_JOB_FINDINGS ||
	    (pe_registrable_domain(host, hd, sizeof(hd)) == 0 && strcasecmp(hd, dom) == 0))
		return;
	j->find[j->nfind].fclass = PE_F_WEAK;
	j->find[j->nfind].weight = ck->w_banner_mismatch;
	j->find[j->nfind].ttl = 0;
	snprintf(j->find[j->nfind].name, sizeof(j->find[j->nfind].name), "banner-mismatch");
	snprintf(j->find[j->nfind].value, sizeof(j->find[j->nfind].value), "%s", host);
	j->find_test[j->nfind] = UINT32_MAX;
	j->nfind++;
}

/* the verdict so far; pending = tests still running, waiting or backing off;
 * the findings' text goes to text */
/* the class the job's findings make: a proved open proxy is one even when
 * its finding found no room */
enum pe_verdict
pe_job_class(const struct job *j, int *score)
{
	enum pe_verdict cls = pe_classify(j->find, j->nfind, j->tm.checks != NULL ? &j->tm.checks->rules : NULL, score);

	return j->nopen > 0 ? PE_V_OPEN : cls;
}

void
pe_summarise(struct job *j, const char *reason, int pending, struct pe_summary *s,
    char *text, size_t textlen)
{
	enum pe_verdict cls = pe_job_class(j, &s->score);
	double now = pe_now();

	s->tests = (int)j->ntests;
	s->open = j->nopen;
	s->closed = j->nclosed;
	/* a test backing off had an inconclusive attempt: count it so */
	s->inconclusive = j->ninconc + (pending ? j->retrying : 0);
	s->evidence = "";
	s->egress = "";
	s->reason = "";
	s->final = !pending;
	s->finding = j->find;
	s->nfindings = j->nfind;
	pe_findings_text(j->find, j->nfind, text, textlen);
	s->findings = text;
	s->ttl = 0;
	for (size_t i = 0; i < j->nfind; i++)
		if (j->find[i].ttl > 0 && (s->ttl == 0 || j->find[i].ttl < s->ttl))
			s->ttl = j->find[i].ttl;
	if (reason != NULL) {
		s->verdict = PE_V_ERROR;
		s->reason = reason;
	} else if (cls != PE_V_CLEAN) {
		s->verdict = cls;
		if (cls == PE_V_OPEN) {
			s->evidence = j->evidence;
			s->egress = j->egress;
			s->reason = "proved";
		} else {
			s->reason = "findings";
		}
	} else if (j->ninconc > 0 || pending) {
		s->verdict = PE_V_ERROR;
		s->reason = "inconclusive";
	} else {
		s->verdict = PE_V_CLEAN;
	}
	s->elapsed = now - j->submitted;
	s->queued = (j->admitted > 0 ? j->admitted : now) - j->submitted;
}
