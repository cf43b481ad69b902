/*
 * Check kinds, findings and classes:
 *  - pe_classify: the precedence open-proxy > open-relay > listed > suspect
 *    > clean, the thresholds, the score, DNSWL weights;
 *  - pe_findings_text;
 *  - the registry: two kinds that exist only in this test (kind_banner.c, a
 *    stream kind; kind_later.c, a task kind), each one file plus one row
 *    (pe_kind_register), run by the real engine against 127.0.0.1;
 *  - port groups: tests on a refused port make one connect between them.
 */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include "t.h"
#include "tnet.h"
#include "pe_int.h"

extern const struct pe_kind kind_banner, kind_later;
extern int kind_banner_dirty;

static struct pe_finding
F(enum pe_fclass c, int w, const char *name, const char *value)
{
	struct pe_finding f;

	memset(&f, 0, sizeof(f));
	f.fclass = c;
	f.weight = w;
	snprintf(f.name, sizeof(f.name), "%s", name);
	snprintf(f.value, sizeof(f.value), "%s", value);
	return f;
}

static void
classes(void)
{
	struct pe_rules r = { 2, 3 };
	struct pe_finding f[8];
	int score;

	T_OK(pe_classify(NULL, 0, &r, &score) == PE_V_CLEAN && score == 0, "no findings: clean, 0");
	f[0] = F(PE_F_WEAK, 1, "fcrdns", "fail");
	f[1] = F(PE_F_WEAK, 1, "helo", "mismatch");
	T_OK(pe_classify(f, 2, &r, &score) == PE_V_CLEAN && score == 2, "weak findings under the threshold: clean");
	f[2] = F(PE_F_WEAK, 1, "netbios", "139");
	T_OK(pe_classify(f, 3, &r, &score) == PE_V_SUSPECT && score == 3, "weak findings reach suspect_threshold");
	f[3] = F(PE_F_DNSBL, 1, "dnsbl", "bl.one");
	T_OK(pe_classify(f, 4, &r, &score) == PE_V_SUSPECT && score == 4, "one DNSBL under dnsbl_threshold: not listed");
	f[4] = F(PE_F_DNSBL, 1, "dnsbl", "bl.two");
	T_OK(pe_classify(f, 5, &r, &score) == PE_V_LISTED && score == 5, "DNSBL weights reach dnsbl_threshold: listed > suspect");
	f[5] = F(PE_F_DNSBL, -4, "dnsbl", "wl.example");
	T_OK(pe_classify(f, 6, &r, &score) == PE_V_CLEAN && score == 1,
	    "a DNSWL's negative weight unlists and offsets the weak ones");
	f[5] = F(PE_F_OPEN_RELAY, 0, "relay", "confirmed");
	T_OK(pe_classify(f, 6, &r, &score) == PE_V_RELAY, "open-relay > listed");
	f[6] = F(PE_F_OPEN_PROXY, 0, "open-proxy", "socks5:1080");
	T_OK(pe_classify(f, 7, &r, &score) == PE_V_OPEN, "open-proxy > open-relay");
	T_OK(pe_classify(&f[6], 1, NULL, &score) == PE_V_OPEN && score == 0, "open-proxy alone, default rules");
	f[0] = F(PE_F_DNSBL, 1, "dnsbl", "bl.one");
	T_OK(pe_classify(f, 1, NULL, &score) == PE_V_LISTED, "default dnsbl_threshold is 1");
	f[0] = F(PE_F_DNSBL, 0, "dnsbl", "bl.zero");
	T_OK(pe_classify(f, 1, NULL, &score) == PE_V_CLEAN, "a DNSBL of weight 0 lists nothing");
	T_STREQ(pe_verdict_name(PE_V_LISTED), "listed", "class names");
	T_STREQ(pe_verdict_name(PE_V_RELAY), "open-relay", "class names (relay)");
}

static void
text(void)
{
	struct pe_finding f[3];
	char buf[64], small[20];

	f[0] = F(PE_F_DNSBL, 3, "dnsbl", "bl.example");
	f[1] = F(PE_F_WEAK, 1, "fcrdns", "fail");
	f[2] = F(PE_F_WEAK, 0, "country", "DE");
	pe_findings_text(f, 3, buf, sizeof(buf));
	T_STREQ(buf, "dnsbl=bl.example(3) fcrdns=fail(1) country=DE", "name=value(weight), weight 0 not shown");
	pe_findings_text(f, 3, small, sizeof(small));
	T_STREQ(small, "dnsbl=bl.example(3)", "capped at whole findings");
	pe_findings_text(f, 0, buf, sizeof(buf));
	T_STREQ(buf, "", "none: empty");
}

/* ---- the engine with the test kinds ---- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

struct outcome {
	int done, prov, prov_listed, results, refused;
	enum pe_verdict v;
	int score;
	char findings[256], reason[32], rfind[256];
};

static void
on_result(const struct pe_result *r, void *arg)
{
	struct outcome *o = arg;

	pthread_mutex_lock(&mu);
	o->results++;
	o->refused += strcmp(r->reason, "refused") == 0;
	if (r->findings[0] != '\0')
		snprintf(o->rfind, sizeof(o->rfind), "%s", r->findings);
	pthread_mutex_unlock(&mu);
}

static void
on_done(const struct pe_summary *s, void *arg)
{
	struct outcome *o = arg;

	pthread_mutex_lock(&mu);
	if (!s->final) {
		o->prov++;
		o->prov_listed += s->verdict == PE_V_LISTED;
	} else {
		o->done = 1;
		o->v = s->verdict;
		o->score = s->score;
		snprintf(o->findings, sizeof(o->findings), "%s", s->findings);
		snprintf(o->reason, sizeof(o->reason), "%s", s->reason);
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
}

static int
wait_done(struct outcome *o)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&mu);
	while (!o->done && pthread_cond_timedwait(&cv, &mu, &ts) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&mu);
	return o->done;
}

/* a service on 127.0.0.1 that says "SVC ready" after delay_ms */
struct svc { int fd, delay_ms, n; };

static void *
svc_main(void *arg)
{
	struct svc *s = arg;

	for (int i = 0; i < s->n; i++) {
		int c = accept(s->fd, NULL, NULL);
		if (c < 0)
			break;
		usleep((useconds_t)s->delay_ms * 1000);
		if (write(c, "SVC ready\r\n", 11) == 11)
			usleep(100000);
		close(c);
	}
	return NULL;
}

/* a port with nothing listening (bound, then closed) */
static int
dead_port(void)
{
	int port, fd = listen_any(&port);

	close(fd);
	return port;
}

static struct pe_engine *
engine(char *err, size_t errlen)
{
	struct pe_options o;
	struct sockaddr_in *t = (struct sockaddr_in *)&o.canary_target;

	memset(&o, 0, sizeof(o));
	o.target_kind = PE_TARGET_MTA;		/* no canary listener needed */
	t->sin_family = AF_INET;
	t->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t->sin_port = htons(25);
	o.canary_target_len = sizeof(*t);
	snprintf(o.banner, sizeof(o.banner), "220 ");
	o.max_inflight = 64;
	o.max_per_client = 8;
	return pe_create(&o, on_result, on_done, err, errlen);
}

static void
submit(struct pe_engine *e, const char *addr, const struct pe_test *t, size_t n,
    struct outcome *o)
{
	struct sockaddr_in sin = { 0 };
	struct pe_timing tm = { .connect_timeout = 1.0, .timeout = 2.0, .retries = 0, .checks = NULL };

	sin.sin_family = AF_INET;
	inet_pton(AF_INET, addr, &sin.sin_addr);
	if (pe_submit(e, (struct sockaddr *)&sin, sizeof(sin), t, n, &tm, 0, o) < 0)
		abort();
}

static void
registry(void)
{
	static const struct pe_kind dup = { .name = "banner-test", .start = NULL };
	struct pe_kind odd = { .name = "task-proxy", .flags = PE_K_TASK | PE_K_PROXY };
	struct pe_test *t = NULL;
	size_t n = 0, nproxy = 0;
	char err[128];

	T_OK(pe_kind_register(&kind_banner) == 0, "a kind is registered (its one row)");
	T_OK(pe_kind_register(&kind_later) == 0, "a task kind is registered");
	T_OK(pe_kind_register(&kind_banner) < 0 && pe_kind_register(&dup) < 0, "the same name twice is refused");
	odd.start = kind_banner.start;
	T_OK(pe_kind_register(&odd) < 0, "a task kind cannot be a proxy test (no connection to tunnel)");
	T_OK(pe_kind_find("banner-test") == &kind_banner && !pe_kind_is_proxy(&kind_banner), "found by name; not a proxy");
	T_OK(pe_scan_parse("139/banner-test", NULL, &t, &n, err, sizeof(err)) == 0 && n == 1 &&
	    t[0].kind == &kind_banner && t[0].port == 139, "port_spec names it: 139/banner-test");
	for (size_t i = 0; i < pe_kind_count(); i++)
		nproxy += pe_kind_is_proxy(pe_kind_at(i));
	T_OK(pe_scan_parse("1080/all", NULL, &t, &n, err, sizeof(err)) == 0 && n == 1 + nproxy,
	    "\"all\" is every proxy protocol, not every kind");
	free(t);
}

static void
run_kinds(void)
{
	char err[256];
	struct pe_engine *e = engine(err, sizeof(err));
	struct svc s;
	pthread_t th;
	int port, dead = dead_port();
	struct outcome o1, o2, o3, o4;

	if (e == NULL || pe_start(e) < 0) {
		T_OK(0, err);
		return;
	}
	s.fd = listen_any(&port);
	s.delay_ms = 300;
	s.n = 2;
	pthread_create(&th, NULL, svc_main, &s);

	/* both kinds on one client: the DNSBL-like finding (50 ms) makes it
	 * listed while the service still holds its banner (300 ms) */
	{
		struct pe_test t[2] = { { &kind_banner, (uint16_t)port }, { &kind_later, 0 } };
		char want[64];
		memset(&o1, 0, sizeof(o1));
		submit(e, "127.0.0.1", t, 2, &o1);
		T_OK(wait_done(&o1), "the engine ran the test kinds");
		T_OK(o1.v == PE_V_LISTED && o1.score == 5, "their findings make the class (listed) and the score (5)");
		snprintf(want, sizeof(want), "dnsbl=bl.test(3) svc=%d(2)", port);
		T_STREQ(o1.findings, want, "findings in the summary, task kinds first");
		T_OK(o1.prov >= 1 && o1.prov_listed >= 1, "listed went out provisionally before the slow check ended");
		T_OK(o1.results == 2, "one result a test (a step from a kind's cleanup is ignored)");
		T_OK(!kind_banner_dirty, "private state zeroed for the attempt");
	}
	/* the same stream kind again in the same slot: its state is fresh */
	{
		struct pe_test t[1] = { { &kind_banner, (uint16_t)port } };
		memset(&o2, 0, sizeof(o2));
		submit(e, "127.0.0.1", t, 1, &o2);
		T_OK(wait_done(&o2) && o2.v == PE_V_CLEAN && o2.score == 2 && !kind_banner_dirty,
		    "a weak finding alone: clean, score 2, state fresh again");
		T_OK(strstr(o2.rfind, "svc=") != NULL, "the test's result line carries its finding");
	}
	/* a task kind that never answers: inconclusive, error; no finding left */
	{
		struct pe_test t[1] = { { &kind_later, 0 } };
		memset(&o3, 0, sizeof(o3));
		submit(e, "127.0.0.66", t, 1, &o3);
		T_OK(wait_done(&o3) && o3.v == PE_V_ERROR && strcmp(o3.reason, "inconclusive") == 0 &&
		    o3.findings[0] == '\0' && o3.results == 1, "a silent task kind ends at the deadline: error");
	}
	/* three kinds on a refused port: one connect settles all three */
	{
		struct pe_stats before, after;
		struct pe_test t[3] = {
			{ pe_kind_find("socks5"), (uint16_t)dead },
			{ &kind_banner, (uint16_t)dead },
			{ pe_kind_find("http-connect"), (uint16_t)dead },
		};
		pe_get_stats(e, &before);
		memset(&o4, 0, sizeof(o4));
		submit(e, "127.0.0.1", t, 3, &o4);
		T_OK(wait_done(&o4) && o4.v == PE_V_CLEAN && o4.results == 3 && o4.refused == 3,
		    "refused port: every test on it closed, reason refused");
		pe_get_stats(e, &after);
		T_OK(after.connects - before.connects == 1, "... with one connect");
	}
	pe_stop(e);
	pe_free(e);
	pthread_join(th, NULL);
	close(s.fd);

	/* an engine stopped before it started still answers every request */
	if ((e = engine(err, sizeof(err))) != NULL) {
		struct pe_test t[1] = { { &kind_later, 0 } };
		memset(&o4, 0, sizeof(o4));
		submit(e, "127.0.0.1", t, 1, &o4);
		pe_stop(e);
		T_OK(o4.done && o4.v == PE_V_ERROR && strcmp(o4.reason, "shutdown") == 0,
		    "stopped before it started: the request ends, reason shutdown");
		pe_free(e);
	}
}

/* two checks' findings together (findings.c pe_job_cross): a greeting's
 * host against the rDNS domain; the host depends on the client */
static void
fact_banner(struct pe_ctx *ctx, struct evbuffer *out)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ctx->client;

	(void)out;
	pe_find(ctx, PE_F_WEAK, 0, "banner-host", "%s",
	    sin->sin_addr.s_addr == htonl(0x7f000001) ? "mx.other.example" : "mx.example.org");
	pe_ctx_step(ctx, PE_STEP_CLOSED);
}

static void
fact_domain(struct pe_ctx *ctx, struct evbuffer *out)
{
	(void)out;
	pe_find(ctx, PE_F_WEAK, 0, "domain", "example.org");
	pe_ctx_step(ctx, PE_STEP_CLOSED);
}

static const struct pe_kind kind_fact_banner = { .name = "fact-banner", .flags = PE_K_TASK,
	.start = fact_banner };
static const struct pe_kind kind_fact_domain = { .name = "fact-domain", .flags = PE_K_TASK,
	.start = fact_domain };

static void
cross(void)
{
	char err[256];
	struct pe_engine *e;
	struct outcome o;
	struct pe_test t[2] = { { &kind_fact_banner, 0 }, { &kind_fact_domain, 0 } };

	T_OK(pe_kind_register(&kind_fact_banner) == 0 && pe_kind_register(&kind_fact_domain) == 0,
	    "cross: two fact kinds registered");
	if ((e = engine(err, sizeof(err))) == NULL || pe_start(e) < 0) {
		T_OK(0, "cross: engine starts");
		return;
	}
	memset(&o, 0, sizeof(o));
	submit(e, "127.0.0.1", t, 2, &o);
	T_OK(wait_done(&o) && strstr(o.findings, "banner-mismatch=mx.other.example(1)") != NULL &&
	    o.score == 1, "cross: a greeting host outside the rDNS domain: banner-mismatch(1)");
	memset(&o, 0, sizeof(o));
	submit(e, "127.0.0.2", t, 2, &o);
	T_OK(wait_done(&o) && strstr(o.findings, "banner-mismatch") == NULL && o.score == 0,
	    "cross: a greeting host in the rDNS domain: no mismatch");
	pe_stop(e);
	pe_free(e);
}

int
main(void)
{
	t_prog = "test_checks: ";
	cross();
	classes();
	text();
	registry();
	run_kinds();
	T_DONE();
}
