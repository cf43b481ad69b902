/*
 * guard.c - never again BOPM (design section 8): our own network must not
 * lie to us.  A transparent proxy or an ISP interceptor in our outbound
 * path makes every client look open.
 *
 * Self-test: at start and every selftest.interval, the scan's ports and
 * port 25 of selftest.address, where nothing may answer.  A connection made
 * there (whatever follows) means our traffic is intercepted: an alarm, and
 * on_fail: observe (no action on any verdict until a later self-test
 * passes: every action becomes would-...) or stop (the daemon exits
 * EX_UNAVAILABLE with the reason; at start, before it takes connections).
 *
 * Uniformity (Nmap's "unusual uniformity"): the same proxy egress address,
 * or the same port-25 greeting host, for clients in selftest.uniformity
 * distinct /16s (IPv6 /48) within uniformity_window seconds: an alarm, and
 * verdicts that rest on it are quarantined until the window passes (logged
 * with quarantined=, kept as error, not acted on).  The table is the engine
 * thread's (results.c calls it); bounded, the oldest key goes.
 */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "hmap.h"
#include "milter.h"
#include "pmconfig.h"
#include "log.h"
#include "guard.h"

/* ---- self-test ----------------------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;	/* on CLOCK_MONOTONIC */
static unsigned gen;		/* the self-test in flight */
static int running, answered, done, notrun, observing, failed;
static char what[128];		/* the first answer: "http-connect:3128" */

static void
cv_init(void)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &a);
	pthread_condattr_destroy(&a);
}

int
guard_observing(void)
{
	return __atomic_load_n(&observing, __ATOMIC_RELAXED);
}

int
guard_failed(void)
{
	return __atomic_load_n(&failed, __ATOMIC_RELAXED);
}

void
guard_selftest_result(struct preq *q, const struct pe_result *r)
{
	pthread_mutex_lock(&mu);
	if (q->gen == gen && r->connected && answered++ == 0)
		snprintf(what, sizeof(what), "%s:%u", r->proto, r->port);
	pthread_mutex_unlock(&mu);
}

void
guard_selftest_done(struct preq *q, const struct pe_summary *s)
{
	if (!s->final)
		return;
	pthread_mutex_lock(&mu);
	if (q->gen == gen) {
		if (s->verdict == PE_V_OPEN && answered++ == 0)
			snprintf(what, sizeof(what), "%s", s->evidence);
		/* overload, shutdown, every test inconclusive: nothing was
		 * seen either way, so nothing passed */
		notrun = answered == 0 && (s->verdict == PE_V_ERROR || s->tests != s->closed);
		done = 1;
		pthread_cond_broadcast(&cv);
	}
	pthread_mutex_unlock(&mu);
	config_unref(q->cf);
	free(q);
}

/* the scan's tests that connect somewhere, and port 25 */
static struct pe_test *
selftest_tests(const struct pm_config *cf, size_t *n)
{
	struct pe_test *t = calloc(cf->probe.ntests + 1, sizeof(*t));
	size_t k = 0;

	if (t == NULL)
		return NULL;
	for (size_t i = 0; i < cf->probe.ntests; i++)
		if (cf->probe.tests[i].port != 0)
			t[k++] = cf->probe.tests[i];
	t[k].kind = pe_kind_find("http-connect");
	t[k++].port = 25;
	*n = k;
	return t;
}

/* one self-test, waited for; 0 pass, 1 an answer (what), -1 not run */
static int
selftest_once(struct pm_config *cf)
{
	struct sockaddr_storage ss;
	socklen_t sl = pm_addr_to_sockaddr(&cf->selftest.addr, 0, &ss);
	struct pe_timing tm = cf->probe.timing;
	struct pe_test *t;
	struct preq *q;
	size_t n;
	struct timespec ts;
	int rc = -1;

	pthread_once(&once, cv_init);
	if ((t = selftest_tests(cf, &n)) == NULL || (q = calloc(1, sizeof(*q))) == NULL) {
		free(t);
		return -1;
	}
	tm.retries = 0;
	tm.checks = &cf->checks;		/* q holds cf until the final report */
	snprintf(tm.helo, sizeof(tm.helo), "%s", pm.hostname);
	q->cf = config_ref(cf);
	q->selftest = 1;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(pe_pending_bound(pm.engine, n, &tm) + 10.0);
	pthread_mutex_lock(&mu);
	q->gen = ++gen;
	answered = done = notrun = 0;
	what[0] = '\0';
	pthread_mutex_unlock(&mu);
	if (pe_submit(pm.engine, (struct sockaddr *)&ss, sl, t, n, &tm, 0, q) < 0) {
		config_unref(q->cf);
		free(q);
	} else {
		pthread_mutex_lock(&mu);
		while (!done && pthread_cond_timedwait(&cv, &mu, &ts) != ETIMEDOUT)
			;
		rc = !done || notrun ? -1 : answered > 0;
		pthread_mutex_unlock(&mu);
	}
	free(t);
	return rc;
}

/* log the outcome and act on it; 1 when the daemon must stop */
static int
selftest_judge(const struct pm_config *cf, int rc)
{
	struct lb l;
	char w[sizeof(what)];

	pthread_mutex_lock(&mu);
	memcpy(w, what, sizeof(w));
	pthread_mutex_unlock(&mu);
	lb_init(&l, NULL, rc == 1 ? "alarm" : "selftest");
	lb_kv(&l, "selftest", cf->selftest.address);
	if (rc == 1) {
		lb_kv(&l, "answer", w);
		lb_kv(&l, "meaning", "our outbound traffic is intercepted: every client would look open");
		lb_kv(&l, "on_fail", cf->selftest.stop ? "stop" : "observe");
		lb_emit(&l, LOG_CRIT);
		if (cf->selftest.stop) {
			__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
			return 1;
		}
		__atomic_store_n(&observing, 1, __ATOMIC_RELAXED);
		return 0;
	}
	lb_kv(&l, "result", rc == 0 ? "pass" : "not-run");
	if (rc == 0 && guard_observing()) {
		lb_kv(&l, "acting", "again");
		__atomic_store_n(&observing, 0, __ATOMIC_RELAXED);
	}
	lb_emit(&l, rc == 0 ? LOG_INFO : LOG_WARNING);
	return 0;
}

int
guard_selftest_start(struct pm_config *cf)
{
	/* only on_fail = stop waits for it: observe starts at once, the
	 * thread runs the first self-test */
	if (cf->selftest.address[0] == '\0' || !cf->selftest.stop)
		return 0;
	return selftest_judge(cf, selftest_once(cf));
}

static void *
selftest_thread(void *arg)
{
	int first = *(int *)arg;

	pe_thread_batch();
	for (;; first = 0) {
		struct pm_config *cf = config_current();
		long interval = cf != NULL ? cf->selftest.interval : 3600;
		config_unref(cf);
		if (!first)
			sleep((unsigned)interval);
		cf = config_current();
		if (cf != NULL && cf->selftest.address[0] != '\0' &&
		    selftest_judge(cf, selftest_once(cf)) == 1) {
			log_msg(LOG_CRIT, "stop", "selftest.on_fail = stop: stopping");
			smfi_stop();
		}
		config_unref(cf);
	}
	return NULL;
}

int
guard_start(const struct pm_config *cf)
{
	static int first;
	pthread_t t;

	if (__atomic_exchange_n(&running, 1, __ATOMIC_RELAXED))
		return 0;
	first = !cf->selftest.stop;	/* stop: the first one ran at start */
	if (pthread_create(&t, NULL, selftest_thread, &first) != 0)
		return -1;
	pthread_detach(t);
	return 0;
}

/* ---- uniformity ---------------------------------------------------------- */

#define UNI_KEYS 4096		/* egresses and banner hosts watched */
#define UNI_NETS 64		/* networks remembered per key */

struct uni {
	struct hm_node node;
	char key[72];		/* "egress 203.0.113.9", "banner mx.isp.example" */
	uint64_t net[UNI_NETS];
	double seen[UNI_NETS];
	double quarantine_until;
};
static struct hmap uni;		/* engine thread only */
static int uni_ready;

static uint64_t
net_of(const struct pm_addr *a)
{
	uint64_t v = 0;

	memcpy(&v, a->b, a->family == AF_INET ? 2 : 6);	/* /16, /48 */
	return v << 1 | (a->family == AF_INET);
}

/* the client's network seen with key now; 1 when the key is quarantined */
static int
uni_see(const struct pm_config *cf, const char *key, const struct pm_addr *client, double now)
{
	struct hm_node *n;
	struct uni *u;
	uint64_t net = net_of(client);
	int distinct = 0, slot = -1;
	char k[sizeof(u->key)];

	if (!uni_ready && hm_init(&uni, HM_KEYOFF(struct uni, node, key), sizeof(k), NULL, NULL) == 0)
		uni_ready = 1;
	if (!uni_ready)
		return 0;
	memset(k, 0, sizeof(k));
	snprintf(k, sizeof(k), "%s", key);
	if ((n = hm_find(&uni, k)) != NULL) {
		u = HM_ENTRY(n, struct uni, node);
	} else {
		if (uni.n >= UNI_KEYS && (n = hm_oldest(&uni)) != NULL) {
			hm_remove(&uni, n);
			free(HM_ENTRY(n, struct uni, node));
		}
		if ((u = calloc(1, sizeof(*u))) == NULL)
			return 0;
		memcpy(u->key, k, sizeof(k));
		if (hm_insert(&uni, &u->node) < 0) {
			free(u);
			return 0;
		}
	}
	hm_touch(&uni, &u->node);
	for (int i = 0; i < UNI_NETS; i++) {
		if (u->seen[i] > 0 && now - u->seen[i] > (double)cf->selftest.window)
			u->seen[i] = 0;		/* out of the window */
		if (u->seen[i] > 0 && u->net[i] == net)
			slot = i;
		if (slot < 0 && u->seen[i] == 0)
			slot = i;
	}
	if (slot < 0)
		slot = 0;	/* full of fresh networks: the alarm is long on */
	u->net[slot] = net;
	u->seen[slot] = now;
	for (int i = 0; i < UNI_NETS; i++)
		distinct += u->seen[i] > 0;
	if (distinct >= cf->selftest.uniformity && u->quarantine_until <= now) {
		struct lb l;
		u->quarantine_until = now + (double)cf->selftest.window;
		lb_init(&l, NULL, "alarm");
		lb_kv(&l, "uniformity", u->key);
		lb_kvf(&l, "networks", "%d", distinct);
		lb_kvf(&l, "window", "%lds", cf->selftest.window);
		lb_kv(&l, "meaning", "one proxy or interceptor answers for unrelated networks");
		lb_kvf(&l, "quarantine", "%lds", cf->selftest.window);
		lb_emit(&l, LOG_CRIT);
	}
	return u->quarantine_until > now;
}

int
guard_uniformity(const struct pm_config *cf, const struct pm_addr *client,
    const struct pe_summary *s, enum vt_state st, char *key, size_t keylen)
{
	double now = vt_now();
	int q = 0;
	char k[80];

	key[0] = '\0';
	if (cf->selftest.uniformity == 0)
		return 0;
	/* each key quarantines only what rests on it: an egress a proxy's
	 * proof, a greeting host what the connect-back found */
	if (s->egress[0] != '\0') {
		snprintf(k, sizeof(k), "egress %s", s->egress);
		if (uni_see(cf, k, client, now) && st == VT_OPEN) {
			snprintf(key, keylen, "%s", k);
			q = 1;
		}
	}
	for (size_t i = 0; i < s->nfindings; i++)
		if (strcmp(s->finding[i].name, "banner-host") == 0) {
			snprintf(k, sizeof(k), "banner %s", s->finding[i].value);
			if (uni_see(cf, k, client, now) && !q && (st == VT_RELAY || st == VT_SUSPECT)) {
				snprintf(key, keylen, "%s", k);
				q = 1;
			}
		}
	return q;
}
