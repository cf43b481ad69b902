/*
 * engine.c - the probe engine's public face: a libevent loop in its own
 * thread, requests handed in through a mutex-protected queue and a wake-up
 * event, the stop, the stats.  The rooms behind it are named in engine.h:
 * queue.c admits jobs and runs their lives, runner.c runs one attempt of a
 * check, tunnel.c and proof.c prove proxies open, confirm.c takes the
 * milter's confirmations, findings.c makes the class, registry.c lists the
 * check kinds.
 */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/thread.h>
#ifdef HAVE_LIBEVENT_OPENSSL
#include <openssl/ssl.h>
#endif
#include "engine.h"

double
pe_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pe_reap(arg);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pe_engine *e = arg;
	struct jobq in;
	struct job *j;
	struct confirm *cf;
	int stop;

	(void)fd;
	(void)what;
	TAILQ_INIT(&in);
	pthread_mutex_lock(&e->mu);
	TAILQ_CONCAT(&in, &e->incoming, link);
	cf = e->confirms;
	e->confirms = NULL;
	stop = e->stopping;
	pthread_mutex_unlock(&e->mu);
	pe_confirms_run(e, cf);
	while ((j = TAILQ_FIRST(&in)) != NULL) {
		TAILQ_REMOVE(&in, j, link);
		pe_job_queue(e, j);
	}
	if (stop) {
		event_base_loopbreak(e->base);
		return;
	}
	pe_admit(e);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pe_admit(arg);
}

static void *
engine_main(void *arg)
{
	struct pe_engine *e = arg;

	pe_thread_batch();
	/* no listener in "mta" and "banner" modes: run even with nothing pending */
	event_base_loop(e->base, EVLOOP_NO_EXIT_ON_EMPTY);
	pe_job_shutdown(e);
	return NULL;
}

/* ---- public interface --------------------------------------------------- */

static void
evthread_init_once(void)
{
	evthread_use_pthreads();
}

struct pe_engine *
pe_create(const struct pe_options *opt, pe_result_fn on_result, pe_done_fn on_done,
    char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct pe_engine *e;
	struct pe_proof_hooks hooks = { pe_proved_hook };

	pthread_once(&once, evthread_init_once);
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	e->opt = *opt;
	if (e->opt.max_inflight < 1)
		e->opt.max_inflight = 1024;
	if (e->opt.max_per_client < 1)
		e->opt.max_per_client = 32;
	if (e->opt.max_queue < 1)
		e->opt.max_queue = 4096;
	if (e->opt.read_cap == 0)
		e->opt.read_cap = 4096;
	e->on_result = on_result;
	e->on_done = on_done;
	pthread_mutex_init(&e->mu, NULL);
	TAILQ_INIT(&e->incoming);
	TAILQ_INIT(&e->waiting);
	TAILQ_INIT(&e->active);
	TAILQ_INIT(&e->closers);
	TAILQ_INIT(&e->dead);
	if (pe_mwait_init(e) < 0) {
		snprintf(err, errlen, "no randomness (getrandom)");
		pthread_mutex_destroy(&e->mu);
		free(e);
		return NULL;
	}
	if ((e->base = event_base_new()) == NULL ||
	    (e->wake = event_new(e->base, -1, 0, wake_cb, e)) == NULL ||
	    (e->reaper = event_new(e->base, -1, 0, reap_cb, e)) == NULL ||
	    (e->sweep = event_new(e->base, -1, EV_PERSIST, sweep_cb, e)) == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		pe_free(e);
		return NULL;
	}
	e->proof = pe_proof_new(e->base, (struct sockaddr *)&opt->canary_listen,
	    opt->target_kind == PE_TARGET_CANARY ? opt->canary_listen_len : 0,
	    opt->max_canary_conns, &hooks, err, errlen);
	if (e->proof == NULL || (e->dns = pe_dns_new(e, err, errlen)) == NULL) {
		pe_free(e);
		return NULL;
	}
	{	/* load the public suffix list now, not in the loop's first check */
		char d[16];
		(void)pe_registrable_domain("example.org", d, sizeof(d));
	}
#ifdef HAVE_LIBEVENT_OPENSSL
	/* a proxy's certificate proves nothing and is not checked: the nonce is
	 * the proof */
	if ((e->ssl = SSL_CTX_new(TLS_client_method())) != NULL)
		SSL_CTX_set_verify((SSL_CTX *)e->ssl, SSL_VERIFY_NONE, NULL);
#endif
	return e;
}

int
pe_start(struct pe_engine *e)
{
	struct timeval sec = { 1, 0 };
	int r;

	if (e->opt.max_queue_wait > 0)
		evtimer_add(e->sweep, &sec);
	r = pthread_create(&e->thr, NULL, engine_main, e);
	if (r != 0) {
		errno = r;
		return -1;
	}
	e->started = 1;
	return 0;
}

/* tests in groups: task kinds first (they are quick and may decide), then
 * stream kinds by port, the scan list's order kept within a port */
static int
test_cmp(const void *a, const void *b)
{
	const struct test *x = a, *y = b;
	int tx = (x->kind->flags & PE_K_TASK) != 0, ty = (y->kind->flags & PE_K_TASK) != 0;

	if (tx != ty)
		return ty - tx;
	if (!tx && x->port != y->port)
		return (int)x->port - (int)y->port;
	return x->due < y->due ? -1 : x->due > y->due;	/* due holds the order here */
}

static void
group_tests(struct job *j, const struct pe_test *tests, size_t ntests)
{
	size_t lead = 0;

	for (size_t i = 0; i < ntests; i++) {
		j->tests[i].job = j;
		j->tests[i].kind = tests[i].kind;
		j->tests[i].port = tests[i].port;
		j->tests[i].due = (double)i;
	}
	qsort(j->tests, ntests, sizeof(*j->tests), test_cmp);
	for (size_t i = 0; i < ntests; i++) {
		struct test *t = &j->tests[i];
		t->due = 0;
		if (i > 0 && !(t->kind->flags & PE_K_TASK) &&
		    !(j->tests[lead].kind->flags & PE_K_TASK) &&
		    j->tests[lead].port == t->port && j->tests[lead].followers < UINT16_MAX)
			j->tests[lead].followers++;
		else
			lead = i;
	}
}

int
pe_submit(struct pe_engine *e, const struct sockaddr *sa, socklen_t salen,
    const struct pe_test *tests, size_t ntests, const struct pe_timing *tm,
    unsigned flags, void *arg)
{
	struct job *j;

	if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
	    salen > sizeof(j->addr)) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return -1;
	if (ntests > 0 && (j->tests = calloc(ntests, sizeof(*j->tests))) == NULL) {
		free(j);
		return -1;
	}
	j->e = e;
	memcpy(&j->addr, sa, salen);
	j->alen = salen;
	j->ntests = ntests;
	j->left = (int)ntests;
	j->tm = *tm;
	if (j->tm.retries < 0)
		j->tm.retries = 0;
	if (j->tm.retries > PE_MAX_RETRIES)
		j->tm.retries = PE_MAX_RETRIES;
	j->flags = flags;
	j->arg = arg;
	j->last_class = -1;
	j->submitted = pe_now();
	group_tests(j, tests, ntests);
	pthread_mutex_lock(&e->mu);
	if (e->stopping) {
		pthread_mutex_unlock(&e->mu);
		free(j->tests);
		free(j);
		errno = ESHUTDOWN;
		return -1;
	}
	TAILQ_INSERT_TAIL(&e->incoming, j, link);
	pthread_mutex_unlock(&e->mu);
	ST_ADD(e, submitted, 1);
	event_active(e->wake, EV_READ, 0);
	return 0;
}

double
pe_backoff(int attempt)
{
	return 2.0 * (double)(1 << (attempt - 1));
}

/*
 * The longest a request can take once admitted: each of its `want` slots
 * runs its share of the tests one after the other, every attempt within
 * the timeout; a retry waits for its back-off first.
 */
double
pe_job_budget(const struct pe_engine *e, size_t ntests, const struct pe_timing *tm)
{
	int want = pe_reservation(e, ntests);
	int retries = tm->retries < 0 ? 0 : tm->retries > PE_MAX_RETRIES ? PE_MAX_RETRIES : tm->retries;
	double waves = (double)((ntests + (size_t)want - 1) / (size_t)want);
	double t = waves * (retries + 1) * tm->timeout;

	for (int a = 1; a <= retries; a++)
		t += pe_backoff(a);
	/* the DNS checks' own deadlines may be longer than the timeout */
	return t + (retries + 1) * pe_dns_bound(e, PE_DNS_ROUNDS_MAX);
}

double
pe_dns_bound(const struct pe_engine *e, int rounds)
{
	return rounds * (e->opt.dns_timeout > 0 ? e->opt.dns_timeout : 3.0) + 1.0;
}

/* ... and with the longest possible wait in the queue before it: at most
 * max_queue_wait (and the sweep's second), else a full queue's waves */
double
pe_pending_bound(const struct pe_engine *e, size_t ntests, const struct pe_timing *tm)
{
	int slots = e->opt.max_inflight / pe_reservation(e, ntests);
	double budget = pe_job_budget(e, ntests, tm);
	double waves = (double)((e->opt.max_queue + slots - 1) / (slots > 0 ? slots : 1));

	if (e->opt.max_queue_wait > 0 && e->opt.max_queue_wait + 1.0 < waves * budget)
		return e->opt.max_queue_wait + 1.0 + budget;
	return (1.0 + waves) * budget;
}

void
pe_stop(struct pe_engine *e)
{
	pthread_mutex_lock(&e->mu);
	__atomic_store_n(&e->stopping, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&e->mu);
	if (e->started) {
		event_active(e->wake, EV_READ, 0);
		pthread_join(e->thr, NULL);
		e->started = 0;
	} else {
		pe_job_shutdown(e);	/* never started: the callbacks come here */
	}
}

void
pe_free(struct pe_engine *e)
{
	if (e == NULL)
		return;
	pe_proof_free(e->proof);
	pe_dns_free(e->dns);
#ifdef HAVE_LIBEVENT_OPENSSL
	if (e->ssl != NULL)
		SSL_CTX_free((SSL_CTX *)e->ssl);
#endif
	pe_confirms_free(e->confirms);
	pe_mwait_free(e);
	if (e->wake != NULL)
		event_free(e->wake);
	if (e->reaper != NULL)
		event_free(e->reaper);
	if (e->sweep != NULL)
		event_free(e->sweep);
	if (e->base != NULL)
		event_base_free(e->base);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

void
pe_get_stats(struct pe_engine *e, struct pe_stats *s)
{
#define LD(f) s->f = __atomic_load_n(&e->st.f, __ATOMIC_RELAXED)
	LD(submitted); LD(admitted); LD(finished); LD(overload);
	LD(tests); LD(open); LD(closed); LD(inconclusive); LD(retried); LD(connects);
	LD(inflight); LD(inflight_max); LD(queued); LD(dns_queries); LD(dns_failures);
#undef LD
	pe_proof_stats(e->proof, &s->canary_conns, &s->canary_proofs, &s->canary_unknown);
}
