/*
 * engine.c - the probe engine: a libevent loop in its own thread.
 *
 * Requests arrive through a mutex-protected queue and a wake-up event.  A
 * request (job) is admitted only when its whole reservation of sockets,
 * min(tests, max_per_client), fits the global budget max_inflight; otherwise
 * it waits in FIFO order (at most max_queue jobs wait; more are answered
 * with verdict error, reason overload).  Each test is one bufferevent with a
 * connect deadline and an overall deadline, a read cap, and a protocol from
 * the table below.  When the protocol reports a tunnel, the test sends
 * "EHLO pxm-<nonce>" through it; the canary (proof.c) seeing the nonce, or the
 * canary's MAC coming back, proves it open.  Inconclusive tests are retried
 * after a back-off, `retries` times.
 *
 * Decisions recorded here:
 *  - a TCP connect that times out (SYN dropped, "filtered") is closed, not
 *    inconclusive: nothing reachable there can be a proxy for us;
 *  - a peer that hangs up before sending a byte is closed (ACL'd service);
 *    a hang-up after a partial reply is inconclusive;
 *  - the first line through a claimed tunnel must be the canary's greeting;
 *    anything else (a fake "220" from a decoy, an ISP interceptor) means the
 *    proxy did not reach our target: closed, reason foreign-peer.
 */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/queue.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/thread.h>
#include "pe_int.h"

/* The protocol table: adding a protocol = one file + one row here. */
static const struct pe_proto *const proto_table[] = {
	&pe_proto_http_connect,
	&pe_proto_socks4,
	&pe_proto_socks5,
};

#define NPROTO (sizeof(proto_table) / sizeof(proto_table[0]))

const struct pe_proto *
pe_proto_find(const char *name)
{
	if (strcmp(name, "http") == 0)
		name = "http-connect";
	for (size_t i = 0; i < NPROTO; i++)
		if (strcmp(proto_table[i]->name, name) == 0)
			return proto_table[i];
	return NULL;
}

const char *pe_proto_name(const struct pe_proto *p) { return p->name; }
size_t pe_proto_count(void) { return NPROTO; }
const struct pe_proto *pe_proto_at(size_t i) { return i < NPROTO ? proto_table[i] : NULL; }

enum test_state { T_WAITING = 0, T_RUNNING, T_BACKOFF, T_DONE };

struct job;

struct test {
	struct job *job;
	const struct pe_proto *proto;
	uint16_t port;
	enum test_state st;
	int attempt;
	struct bufferevent *bev;
	struct event *timer;
	double started;
	int connected, tunnel, greeted, have_nonce;
	const char *fail;		/* failure found while starting: reported from the timer */
	enum pe_result_kind fail_kind;
	size_t nread;
	char nonce[PE_NONCE_HEX + 1];
	struct pe_pstate ps;
	enum pe_result_kind result;
	char egress[PE_ADDRSTR_MAX];
};

struct job {
	TAILQ_ENTRY(job) link;
	struct pe_engine *e;
	struct sockaddr_storage addr;
	socklen_t alen;
	struct test *tests;
	size_t ntests;
	struct pe_timing tm;
	unsigned flags;
	void *arg;
	double submitted;
	int reserved, running, left;
	int nopen, nclosed, ninconc;
	int opened;			/* index of the first open test, -1 */
	int ending;
};
TAILQ_HEAD(jobq, job);

struct pe_engine {
	struct pe_options opt;
	pe_result_fn on_result;
	pe_done_fn on_done;
	struct event_base *base;
	struct event *wake;
	struct pe_proof *proof;
	pthread_t thr;
	int started;
	pthread_mutex_t mu;		/* guards incoming, stopping */
	struct jobq incoming;
	int stopping;
	struct jobq waiting, active;	/* engine thread only */
	int nwaiting, inflight;
	struct pe_stats st;		/* updated with atomics */
};

#define ST_ADD(e, f, n) __atomic_add_fetch(&(e)->st.f, (n), __ATOMIC_RELAXED)

static double
now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct timeval
tv_of(double s)
{
	struct timeval tv;
	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

static void test_start(struct test *);
static void job_pump(struct job *);
static void admit(struct pe_engine *);

/* ---- finishing ---------------------------------------------------------- */

static void
test_teardown(struct test *t)
{
	struct pe_engine *e = t->job->e;

	if (t->bev != NULL) {
		bufferevent_free(t->bev);
		t->bev = NULL;
	}
	if (t->timer != NULL)
		evtimer_del(t->timer);
	if (t->have_nonce) {
		pe_nonce_revoke(e->proof, t->nonce);
		t->have_nonce = 0;
	}
}

static void
job_done(struct job *j, const char *reason)
{
	struct pe_engine *e = j->e;
	struct pe_summary s;
	char evidence[PE_PROTO_NAME_MAX + 8] = "";

	j->ending = 1;
	for (size_t i = 0; i < j->ntests; i++) {
		test_teardown(&j->tests[i]);
		if (j->tests[i].timer != NULL)
			event_free(j->tests[i].timer);
		j->tests[i].timer = NULL;
	}
	memset(&s, 0, sizeof(s));
	s.tests = (int)j->ntests;
	s.open = j->nopen;
	s.closed = j->nclosed;
	s.inconclusive = j->ninconc;
	s.egress = "";
	s.reason = "";
	if (reason != NULL) {
		s.verdict = PE_V_ERROR;
		s.reason = reason;
	} else if (j->opened >= 0) {
		struct test *t = &j->tests[j->opened];
		s.verdict = PE_V_OPEN;
		snprintf(evidence, sizeof(evidence), "%s:%u", t->proto->name, t->port);
		s.egress = t->egress;
		s.reason = "proved";
	} else if (j->ninconc > 0) {
		s.verdict = PE_V_ERROR;
		s.reason = "inconclusive";
	} else {
		s.verdict = PE_V_CLEAN;
	}
	s.evidence = evidence;
	s.elapsed = now_mono() - j->submitted;
	if (j->reserved > 0) {
		e->inflight -= j->reserved;
		__atomic_store_n(&e->st.inflight, e->inflight, __ATOMIC_RELAXED);
		TAILQ_REMOVE(&e->active, j, link);
	}
	ST_ADD(e, finished, 1);
	e->on_done(&s, j->arg);
	free(j->tests);
	free(j);
}

static void
test_finish(struct test *t, enum pe_result_kind r, const char *reason)
{
	struct job *j = t->job;
	struct pe_engine *e = j->e;
	struct pe_result res;

	if (t->st != T_RUNNING)
		return;
	test_teardown(t);
	j->running--;
	if (reason != NULL)
		snprintf(t->ps.reason, sizeof(t->ps.reason), "%s", reason);
	memset(&res, 0, sizeof(res));
	res.proto = t->proto->name;
	res.port = t->port;
	res.result = r;
	res.reason = t->ps.reason;
	res.detail = t->ps.detail;
	res.egress = r == PE_OPEN ? t->egress : "";
	res.elapsed = now_mono() - t->started;
	res.attempt = t->attempt;
	ST_ADD(e, tests, 1);
	if (r == PE_OPEN)
		ST_ADD(e, open, 1);
	else if (r == PE_CLOSED)
		ST_ADD(e, closed, 1);
	else
		ST_ADD(e, inconclusive, 1);
	e->on_result(&res, j->arg);

	if (r == PE_INCONCLUSIVE && t->attempt <= j->tm.retries && !e->stopping) {
		/* back off 1 s, 2 s, ... then try again with a fresh nonce */
		struct timeval tv = tv_of((double)t->attempt);
		t->st = T_BACKOFF;
		ST_ADD(e, retried, 1);
		evtimer_add(t->timer, &tv);
		job_pump(j);
		return;
	}
	t->st = T_DONE;
	t->result = r;
	j->left--;
	if (r == PE_OPEN) {
		j->nopen++;
		if (j->opened < 0)
			j->opened = (int)(t - j->tests);
	} else if (r == PE_CLOSED)
		j->nclosed++;
	else
		j->ninconc++;
	if (j->left == 0 || (r == PE_OPEN && (j->flags & PE_F_STOP_ON_OPEN))) {
		job_done(j, NULL);
		admit(e);
		return;
	}
	job_pump(j);
}

/* ---- one test ----------------------------------------------------------- */

static void
proved_hook(void *owner, const char *egress)
{
	struct test *t = owner;

	snprintf(t->egress, sizeof(t->egress), "%s", egress);
	test_finish(t, PE_OPEN, "proved");
}

static void
tunnel_read(struct test *t, struct evbuffer *in)
{
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		if (!t->greeted) {
			int ours = strncmp(line, "220 ", 4) == 0 &&
			    strstr(line, PE_CANARY_TAG) != NULL;
			if (!ours) {
				pe_set_reason(&t->ps, "foreign-peer", line, n);
				free(line);
				test_finish(t, PE_CLOSED, NULL);
				return;
			}
			t->greeted = 1;
		} else if (strncmp(line, "250 pxm-mac-", 12) == 0) {
			char mac[PE_MAC_HEX + 1];
			pe_nonce_mac(t->job->e->proof, t->nonce, mac);
			int good = n >= 12 + PE_MAC_HEX &&
			    memcmp(line + 12, mac, PE_MAC_HEX) == 0;
			free(line);
			if (good)
				test_finish(t, PE_OPEN, "mac");
			else
				test_finish(t, PE_CLOSED, "bad-mac");
			return;
		} else if (strncmp(line, "550 ", 4) == 0) {
			free(line);
			test_finish(t, PE_INCONCLUSIVE, "canary-refused");
			return;
		}
		free(line);
	}
	if (evbuffer_get_length(in) > 1024) {
		pe_set_reason(&t->ps, "foreign-peer", evbuffer_pullup(in, 64), 64);
		test_finish(t, PE_CLOSED, NULL);
	}
}

static void
test_read(struct bufferevent *bev, void *arg)
{
	struct test *t = arg;
	struct pe_engine *e = t->job->e;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t len = evbuffer_get_length(in);

	t->nread += len;
	if (t->nread > e->opt.read_cap) {
		test_finish(t, PE_INCONCLUSIVE, "read-cap");
		return;
	}
	if (!t->tunnel) {
		enum pe_step st = t->proto->on_read(&t->ps, in, out);
		switch (st) {
		case PE_STEP_MORE:
			return;
		case PE_STEP_CLOSED:
			test_finish(t, PE_CLOSED, NULL);
			return;
		case PE_STEP_INCONCLUSIVE:
			test_finish(t, PE_INCONCLUSIVE, NULL);
			return;
		case PE_STEP_TUNNEL:
			break;
		}
		if (pe_nonce_issue(e->proof, t, t->nonce) < 0) {
			test_finish(t, PE_INCONCLUSIVE, "no-nonce");
			return;
		}
		t->have_nonce = 1;
		t->tunnel = 1;
		evbuffer_add_printf(out, "EHLO " PE_NONCE_PREFIX "%s\r\n", t->nonce);
	}
	tunnel_read(t, in);
}

static void
test_event(struct bufferevent *bev, short what, void *arg)
{
	struct test *t = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		struct timeval tv;
		int one = 1;
		evutil_socket_t fd = bufferevent_getfd(bev);
		t->connected = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		t->proto->start(&t->ps, bufferevent_get_output(bev));
		tv = tv_of(t->started + t->job->tm.timeout - now_mono());
		evtimer_add(t->timer, &tv);
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		return;
	}
	if (!t->connected) {
		switch (err) {
		case ECONNREFUSED:
			test_finish(t, PE_CLOSED, "refused");
			break;
		case EHOSTUNREACH:
		case ENETUNREACH:
		case EHOSTDOWN:
			test_finish(t, PE_CLOSED, "unreachable");
			break;
		default:
			pe_set_reason(&t->ps, "connect-error", strerror(err), strlen(strerror(err)));
			test_finish(t, PE_INCONCLUSIVE, NULL);
			break;
		}
		return;
	}
	if (t->nread == 0 && !t->tunnel)
		test_finish(t, PE_CLOSED, "hung-up");
	else if (what & BEV_EVENT_EOF)
		test_finish(t, PE_INCONCLUSIVE, t->tunnel ? "tunnel-eof" : "eof");
	else
		test_finish(t, PE_INCONCLUSIVE, "reset");
}

static void
test_timer(evutil_socket_t fd, short what, void *arg)
{
	struct test *t = arg;

	(void)fd;
	(void)what;
	if (t->st == T_BACKOFF) {
		t->st = T_WAITING;
		job_pump(t->job);
		return;
	}
	if (t->st != T_RUNNING)
		return;
	if (t->fail != NULL)
		test_finish(t, t->fail_kind, t->fail);
	else if (!t->connected)
		test_finish(t, PE_CLOSED, "filtered");
	else
		test_finish(t, PE_INCONCLUSIVE, t->tunnel ? "tunnel-timeout" : "timeout");
}

/* report a failure found inside test_start from the event loop, so that
 * job_pump never sees its job freed under it */
static void
test_fail_soon(struct test *t, enum pe_result_kind kind, const char *reason)
{
	struct timeval tv = { 0, 0 };

	t->fail = reason;
	t->fail_kind = kind;
	evtimer_add(t->timer, &tv);
}

static void
test_start(struct test *t)
{
	struct job *j = t->job;
	struct pe_engine *e = j->e;
	struct sockaddr_storage ss = j->addr;
	struct timeval tv;

	t->st = T_RUNNING;
	t->attempt++;
	t->connected = t->tunnel = t->greeted = 0;
	t->nread = 0;
	t->fail = NULL;
	t->egress[0] = '\0';
	memset(&t->ps, 0, sizeof(t->ps));
	t->ps.target = (const struct sockaddr *)&e->opt.canary_target;
	t->started = now_mono();
	j->running++;
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(t->port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(t->port);
	if ((t->proto->flags & PE_PROTO_V4_ONLY) &&
	    e->opt.canary_target.ss_family != AF_INET) {
		test_fail_soon(t, PE_CLOSED, "no-ipv4-target");
		return;
	}
	t->bev = bufferevent_socket_new(e->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (t->bev == NULL) {
		test_fail_soon(t, PE_INCONCLUSIVE, "no-socket");
		return;
	}
	bufferevent_setcb(t->bev, test_read, NULL, test_event, t);
	tv = tv_of(j->tm.connect_timeout < j->tm.timeout ? j->tm.connect_timeout : j->tm.timeout);
	evtimer_add(t->timer, &tv);
	if (bufferevent_socket_connect(t->bev, (struct sockaddr *)&ss, (int)j->alen) < 0) {
		int err = EVUTIL_SOCKET_ERROR();
		/* bufferevent_socket_connect freed the socket but not the bev */
		test_fail_soon(t, PE_INCONCLUSIVE,
		    (err == EMFILE || err == ENFILE) ? "emfile" : "connect-failed");
	}
}

/* start waiting tests while the job's reservation allows */
static void
job_pump(struct job *j)
{
	for (size_t i = 0; i < j->ntests && j->running < j->reserved && !j->ending; i++)
		if (j->tests[i].st == T_WAITING)
			test_start(&j->tests[i]);
}

/* ---- admission and the queue -------------------------------------------- */

static void
admit(struct pe_engine *e)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&e->waiting)) != NULL) {
		int want = (int)j->ntests < e->opt.max_per_client ?
		    (int)j->ntests : e->opt.max_per_client;
		if (want > e->opt.max_inflight)
			want = e->opt.max_inflight;
		if (want < 1)
			want = 1;
		if (e->inflight + want > e->opt.max_inflight)
			break;
		TAILQ_REMOVE(&e->waiting, j, link);
		e->nwaiting--;
		e->inflight += want;
		j->reserved = want;
		TAILQ_INSERT_TAIL(&e->active, j, link);
		ST_ADD(e, admitted, 1);
		if (e->inflight > e->st.inflight_max)
			__atomic_store_n(&e->st.inflight_max, e->inflight, __ATOMIC_RELAXED);
		__atomic_store_n(&e->st.inflight, e->inflight, __ATOMIC_RELAXED);
		if (j->ntests == 0) {
			job_done(j, NULL);
			continue;
		}
		job_pump(j);
	}
	__atomic_store_n(&e->st.queued, e->nwaiting, __ATOMIC_RELAXED);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pe_engine *e = arg;
	struct jobq in;
	struct job *j;
	int stopping;

	(void)fd;
	(void)what;
	TAILQ_INIT(&in);
	pthread_mutex_lock(&e->mu);
	TAILQ_CONCAT(&in, &e->incoming, link);
	stopping = e->stopping;
	pthread_mutex_unlock(&e->mu);
	while ((j = TAILQ_FIRST(&in)) != NULL) {
		TAILQ_REMOVE(&in, j, link);
		if (stopping) {
			job_done(j, "shutdown");
		} else if (e->nwaiting >= e->opt.max_queue) {
			ST_ADD(e, overload, 1);
			job_done(j, "overload");
		} else {
			TAILQ_INSERT_TAIL(&e->waiting, j, link);
			e->nwaiting++;
		}
	}
	if (stopping) {
		event_base_loopbreak(e->base);
		return;
	}
	admit(e);
}

static void *
engine_main(void *arg)
{
	struct pe_engine *e = arg;
	struct job *j;

	event_base_dispatch(e->base);
	/* shutting down: end everything, each request's done callback once */
	while ((j = TAILQ_FIRST(&e->active)) != NULL)
		job_done(j, "shutdown");
	while ((j = TAILQ_FIRST(&e->waiting)) != NULL) {
		TAILQ_REMOVE(&e->waiting, j, link);
		e->nwaiting--;
		job_done(j, "shutdown");
	}
	pthread_mutex_lock(&e->mu);
	while ((j = TAILQ_FIRST(&e->incoming)) != NULL) {
		TAILQ_REMOVE(&e->incoming, j, link);
		pthread_mutex_unlock(&e->mu);
		job_done(j, "shutdown");
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
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
	struct pe_proof_hooks hooks = { proved_hook };

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
	if ((e->base = event_base_new()) == NULL ||
	    (e->wake = event_new(e->base, -1, 0, wake_cb, e)) == NULL) {
		snprintf(err, errlen, "cannot create the event loop");
		pe_free(e);
		return NULL;
	}
	e->proof = pe_proof_new(e->base, (struct sockaddr *)&opt->canary_listen,
	    opt->canary_listen_len, opt->max_canary_conns, &hooks, err, errlen);
	if (e->proof == NULL) {
		pe_free(e);
		return NULL;
	}
	return e;
}

int
pe_start(struct pe_engine *e)
{
	int r = pthread_create(&e->thr, NULL, engine_main, e);
	if (r != 0) {
		errno = r;
		return -1;
	}
	e->started = 1;
	return 0;
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
	j->flags = flags;
	j->arg = arg;
	j->opened = -1;
	j->submitted = now_mono();
	for (size_t i = 0; i < ntests; i++) {
		struct test *t = &j->tests[i];
		t->job = j;
		t->proto = tests[i].proto;
		t->port = tests[i].port;
		t->timer = evtimer_new(e->base, test_timer, t);
		if (t->timer == NULL) {
			for (size_t k = 0; k < i; k++)
				event_free(j->tests[k].timer);
			free(j->tests);
			free(j);
			return -1;
		}
	}
	pthread_mutex_lock(&e->mu);
	if (e->stopping) {
		pthread_mutex_unlock(&e->mu);
		for (size_t k = 0; k < ntests; k++)
			event_free(j->tests[k].timer);
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

void
pe_stop(struct pe_engine *e)
{
	pthread_mutex_lock(&e->mu);
	e->stopping = 1;
	pthread_mutex_unlock(&e->mu);
	if (e->started) {
		event_active(e->wake, EV_READ, 0);
		pthread_join(e->thr, NULL);
		e->started = 0;
	}
}

void
pe_free(struct pe_engine *e)
{
	if (e == NULL)
		return;
	pe_proof_free(e->proof);
	if (e->wake != NULL)
		event_free(e->wake);
	if (e->base != NULL)
		event_base_free(e->base);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

void
pe_get_stats(struct pe_engine *e, struct pe_stats *s)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	*s = e->st;
	pe_proof_stats(e->proof, &s->canary_conns, &s->canary_proofs, &s->canary_unknown);
}
