/*
 * engine.c - the probe engine: a libevent loop in its own thread.
 *
 * Requests arrive through a mutex-protected queue and a wake-up event.  A
 * request (job) is admitted only when its whole reservation of sockets,
 * min(tests, max_per_client), fits the global budget max_inflight; otherwise
 * it waits in FIFO order (at most max_queue jobs wait; more are answered
 * with verdict error, reason overload).  Each test is one bufferevent with a
 * connect deadline and an overall deadline, a read cap, and a protocol from
 * the table below.  When the protocol reports a tunnel, the test waits for
 * the target's greeting, then sends "EHLO pxm-<nonce>" through it; the canary
 * (proof.c) seeing the nonce, or the canary's MAC coming back, proves it
 * open (target "mta": the milter seeing it and calling pe_confirm; target
 * "banner": a line starting with the banner).  Inconclusive tests are retried
 * in the background after a back-off (2 s, 4 s, ...), `retries` times: the
 * request's verdict is reported as soon as every test has a first result,
 * and again, final, when the retries are over.
 *
 * Decisions recorded here:
 *  - a TCP connect that times out (SYN dropped, "filtered") is closed, not
 *    inconclusive: nothing reachable there can be a proxy for us;
 *  - a peer that hangs up before sending a byte is closed (ACL'd service);
 *    a hang-up after a partial reply is inconclusive;
 *  - the first line through a claimed tunnel must be the target's greeting;
 *    anything else (a fake "220" from a decoy, an ISP interceptor) means the
 *    proxy did not reach our target: closed, reason foreign-peer.  Telnet
 *    gateways are "noisy" (Trying... Connected...): up to 16 lines of chatter
 *    may come first.
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
#include <event2/event_struct.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/thread.h>
#ifdef HAVE_LIBEVENT_OPENSSL
#include <openssl/ssl.h>
#include <event2/bufferevent_ssl.h>
#endif
#include "pe_int.h"

/* The protocol table: adding a protocol = one file + one row here. */
static const struct pe_proto *const proto_table[] = {
	&pe_proto_http_connect,
	&pe_proto_http_post,
	&pe_proto_socks4,
	&pe_proto_socks5,
	&pe_proto_telnet,
#ifdef HAVE_LIBEVENT_OPENSSL
	&pe_proto_https_connect,
#endif
};

#define NPROTO (sizeof(proto_table) / sizeof(proto_table[0]))

/* other names of table rows */
static const struct { const char *alias, *name; } proto_alias[] = {
	{ "http", "http-connect" },
	{ "cisco", "telnet" },		/* one adaptive probe reads the prompt */
	{ "wingate", "telnet" },
};

const struct pe_proto *
pe_proto_find(const char *name)
{
	for (size_t i = 0; i < sizeof(proto_alias) / sizeof(proto_alias[0]); i++)
		if (strcmp(name, proto_alias[i].alias) == 0)
			name = proto_alias[i].name;
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
struct test;

/*
 * What a test needs while it runs: a job has one per socket it reserved
 * (allocated at admission, one allocation per job), so a job of 65535 x
 * every protocol costs a few bytes per test until its turn comes.
 */
struct run {
	struct test *t;			/* NULL while free */
	SLIST_ENTRY(run) free;
	struct bufferevent *bev;
	struct event timer;		/* connect/overall deadline, back-off, linger */
	struct event ptimer;		/* the protocol's own timer (prompt waits) */
	double started;
	int connected, tunnel, have_nonce, lingering;
	int mta_waiting;		/* in e->mwait: the milter may confirm it */
	int confirmed;			/* ... and did (guarded by e->mu) */
	LIST_ENTRY(run) mlink;
	struct pe_tunnel tn;		/* the conversation once a tunnel is claimed */
	const char *fail;		/* failure found while starting: reported from the timer */
	enum pe_result_kind fail_kind;
	size_t nread;			/* bytes received, each counted once */
	size_t kept;			/* bytes left unconsumed in the input buffer */
	char nonce[PE_NONCE_HEX + 1];
	struct pe_pstate ps;
	char egress[PE_ADDRSTR_MAX];
};

struct test {
	struct job *job;
	const struct pe_proto *proto;
	struct run *r;			/* NULL unless running */
	STAILQ_ENTRY(test) link;	/* in a back-off list or the ready list */
	double due;			/* end of its back-off */
	uint16_t port;
	uint8_t st;			/* enum test_state */
	uint8_t attempt;
};

struct job {
	TAILQ_ENTRY(job) link;
	struct pe_engine *e;
	struct sockaddr_storage addr;
	socklen_t alen;
	struct test *tests;
	size_t ntests;
	size_t cursor;			/* tests before it have had a first start */
	struct run *runs;		/* the reservation's run slots */
	SLIST_HEAD(, run) free_runs;
	STAILQ_HEAD(, test) ready;	/* back-off over: waiting for a slot */
	STAILQ_HEAD(, test) backing[PE_MAX_RETRIES];	/* by attempt: due times ascend */
	struct event retry_ev;
	double retry_at;		/* when retry_ev fires */
	struct pe_timing tm;
	unsigned flags;
	void *arg;
	double submitted, admitted;
	int reserved, running, left;
	int retrying;			/* inconclusive, waiting for another attempt */
	int nopen, nclosed, ninconc;
	int ending;
	int reported;			/* a provisional verdict went out */
	char evidence[PE_PROTO_NAME_MAX + 8];	/* the first open test */
	char egress[PE_ADDRSTR_MAX];
};

struct confirm {
	struct confirm *next;
	char nonce[PE_NONCE_HEX + 1];
	char egress[PE_ADDRSTR_MAX];
};
TAILQ_HEAD(jobq, job);

#define MWAIT_BUCKETS 256

struct pe_engine {
	struct pe_options opt;
	pe_result_fn on_result;
	pe_done_fn on_done;
	struct event_base *base;
	struct event *wake;
	struct pe_proof *proof;
	pthread_t thr;
	int started;
	pthread_mutex_t mu;		/* guards incoming, confirms, mwait, stopping */
	struct jobq incoming;
	struct confirm *confirms;
	LIST_HEAD(, run) mwait[MWAIT_BUCKETS];	/* target mta: nonces sent to our MTA */
	int stopping;			/* written under mu, read atomically */
#ifdef HAVE_LIBEVENT_OPENSSL
	SSL_CTX *ssl;
#endif
	struct jobq waiting, active;	/* engine thread only */
	struct jobq dead;		/* done, freed by the reaper: a callback
					 * that ended its job may still look at it */
	struct event *reaper;
	struct event *sweep;		/* once a second: requests waited too long */
	TAILQ_HEAD(, closer) closers;
	int nwaiting, inflight;
	struct pe_stats st;		/* every field read and written with atomics */
};

#define ST_ADD(e, f, n) __atomic_add_fetch(&(e)->st.f, (n), __ATOMIC_RELAXED)
#define ST_SET(e, f, v) __atomic_store_n(&(e)->st.f, (v), __ATOMIC_RELAXED)

static int
stopping(struct pe_engine *e)
{
	return __atomic_load_n(&e->stopping, __ATOMIC_ACQUIRE);
}

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

static unsigned
mwait_bucket(const char *nonce)
{
	return (unsigned)(((unsigned char)nonce[0] * 31u + (unsigned char)nonce[1]) % MWAIT_BUCKETS);
}

/* target mta: the nonce went to our MTA; from now on the milter may confirm it */
static void
mwait_add(struct run *r)
{
	struct pe_engine *e = r->t->job->e;

	pthread_mutex_lock(&e->mu);
	LIST_INSERT_HEAD(&e->mwait[mwait_bucket(r->nonce)], r, mlink);
	r->mta_waiting = 1;
	pthread_mutex_unlock(&e->mu);
}

static void
mwait_del(struct run *r)
{
	struct pe_engine *e = r->t->job->e;

	if (!r->mta_waiting)
		return;
	pthread_mutex_lock(&e->mu);
	LIST_REMOVE(r, mlink);
	r->mta_waiting = 0;
	pthread_mutex_unlock(&e->mu);
}

/* close the test's connection and timers; the run state stays */
static void
run_teardown(struct run *r)
{
	struct pe_engine *e = r->t->job->e;

	if (r->bev != NULL) {
		bufferevent_free(r->bev);
		r->bev = NULL;
	}
	evtimer_del(&r->timer);
	evtimer_del(&r->ptimer);
	r->lingering = 0;
	mwait_del(r);
	if (r->have_nonce) {
		pe_nonce_revoke(e->proof, r->nonce);
		r->have_nonce = 0;
	}
}

/* the test gives its run slot back to the job */
static void
run_release(struct test *t)
{
	struct run *r = t->r;

	if (r == NULL)
		return;
	run_teardown(r);
	r->t = NULL;
	SLIST_INSERT_HEAD(&t->job->free_runs, r, free);
	t->r = NULL;
}

/* the verdict so far; pending = tests still running, waiting or backing off */
static void
summarise(struct job *j, const char *reason, int pending, struct pe_summary *s)
{
	memset(s, 0, sizeof(*s));
	s->tests = (int)j->ntests;
	s->open = j->nopen;
	s->closed = j->nclosed;
	/* a test backing off had an inconclusive attempt: count it so */
	s->inconclusive = j->ninconc + (pending ? j->retrying : 0);
	s->evidence = "";
	s->egress = "";
	s->reason = "";
	s->final = !pending;
	if (reason != NULL) {
		s->verdict = PE_V_ERROR;
		s->reason = reason;
	} else if (j->nopen > 0) {
		s->verdict = PE_V_OPEN;
		s->evidence = j->evidence;
		s->egress = j->egress;
		s->reason = "proved";
	} else if (j->ninconc > 0 || pending) {
		s->verdict = PE_V_ERROR;
		s->reason = "inconclusive";
	} else {
		s->verdict = PE_V_CLEAN;
	}
	s->elapsed = now_mono() - j->submitted;
	s->queued = (j->admitted > 0 ? j->admitted : now_mono()) - j->submitted;
}

static void
job_done(struct job *j, const char *reason)
{
	struct pe_engine *e = j->e;
	struct pe_summary s;

	j->ending = 1;
	summarise(j, reason, 0, &s);
	if (j->runs != NULL) {
		for (int i = 0; i < j->reserved; i++)
			if (j->runs[i].t != NULL)
				run_release(j->runs[i].t);
		evtimer_del(&j->retry_ev);
	}
	if (j->reserved > 0) {
		e->inflight -= j->reserved;
		ST_SET(e, inflight, e->inflight);
		TAILQ_REMOVE(&e->active, j, link);
	}
	ST_ADD(e, finished, 1);
	e->on_done(&s, j->arg);
	TAILQ_INSERT_TAIL(&e->dead, j, link);
	event_active(e->reaper, EV_TIMEOUT, 0);
}

static void
job_free(struct job *j)
{
	free(j->runs);
	free(j->tests);
	free(j);
}

/* free the jobs that ended, once the callbacks that ended them returned */
static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pe_engine *e = arg;
	struct job *j;

	(void)fd;
	(void)what;
	while ((j = TAILQ_FIRST(&e->dead)) != NULL) {
		TAILQ_REMOVE(&e->dead, j, link);
		job_free(j);
	}
}

/* every test has a first result, some are retried in the background:
 * report the verdict so far once */
static void
job_provisional(struct job *j)
{
	struct pe_summary s;

	if (j->reported || j->running > 0 || j->cursor < j->ntests)
		return;
	summarise(j, NULL, 1, &s);
	j->reported = 1;
	j->e->on_done(&s, j->arg);
}

/* the name a result goes by: the mechanism the peer revealed, when the
 * protocol tells one (telnet: wingate, cisco or telnet) */
static const char *
result_name(const struct test *t)
{
	return t->r != NULL && t->r->ps.mechanism != NULL ? t->r->ps.mechanism : t->proto->name;
}

static void
test_finish(struct test *t, enum pe_result_kind kind, const char *reason)
{
	struct job *j = t->job;
	struct pe_engine *e = j->e;
	struct run *r = t->r;
	struct pe_result res;

	if (t->st != T_RUNNING || r == NULL)
		return;
	run_teardown(r);
	j->running--;
	if (reason != NULL)
		snprintf(r->ps.reason, sizeof(r->ps.reason), "%s", reason);
	memset(&res, 0, sizeof(res));
	res.proto = result_name(t);
	res.port = t->port;
	res.result = kind;
	res.reason = r->ps.reason;
	res.detail = r->ps.detail;
	res.egress = kind == PE_OPEN ? r->egress : "";
	res.elapsed = now_mono() - r->started;
	res.attempt = t->attempt;
	ST_ADD(e, tests, 1);
	if (kind == PE_OPEN)
		ST_ADD(e, open, 1);
	else if (kind == PE_CLOSED)
		ST_ADD(e, closed, 1);
	else
		ST_ADD(e, inconclusive, 1);
	e->on_result(&res, j->arg);

	if (kind == PE_INCONCLUSIVE && t->attempt <= j->tm.retries && !stopping(e)) {
		/* back off 2 s, 4 s, ... then try again with a fresh nonce */
		run_release(t);
		t->st = T_BACKOFF;
		t->due = now_mono() + pe_backoff(t->attempt);
		j->retrying++;
		STAILQ_INSERT_TAIL(&j->backing[t->attempt - 1], t, link);
		if (!evtimer_pending(&j->retry_ev, NULL) || t->due < j->retry_at) {
			struct timeval tv = tv_of(t->due - now_mono());
			j->retry_at = t->due;
			evtimer_add(&j->retry_ev, &tv);
		}
		ST_ADD(e, retried, 1);
		job_pump(j);
		job_provisional(j);
		return;
	}
	t->st = T_DONE;
	j->left--;
	if (kind == PE_OPEN) {
		if (j->nopen++ == 0) {
			snprintf(j->evidence, sizeof(j->evidence), "%s:%u", res.proto, t->port);
			snprintf(j->egress, sizeof(j->egress), "%s", r->egress);
		}
	} else if (kind == PE_CLOSED) {
		j->nclosed++;
	} else {
		j->ninconc++;
	}
	run_release(t);
	if (j->left == 0 || (kind == PE_OPEN && (j->flags & PE_F_STOP_ON_OPEN))) {
		job_done(j, NULL);
		admit(e);
		return;
	}
	job_pump(j);
	job_provisional(j);
}

/* ---- one test ----------------------------------------------------------- */

static void
proved_hook(void *owner, const char *egress)
{
	struct run *r = owner;

	snprintf(r->egress, sizeof(r->egress), "%s", egress);
	test_finish(r->t, PE_OPEN, "proved");
}

/* connections being closed politely; the engine frees what is left at stop */
struct closer {
	TAILQ_ENTRY(closer) link;
	struct pe_engine *e;
	struct bufferevent *bev;
};

static void
closer_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void
closer_free(struct closer *c)
{
	TAILQ_REMOVE(&c->e->closers, c, link);
	bufferevent_free(c->bev);
	free(c);
}

static void
closer_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)bev;
	closer_free(arg);
}

/* end a session with a mail server politely: what we wrote (QUIT) goes out,
 * then we wait for the server to close, at most 2 s; the test no longer
 * owns the connection */
static void
polite_close(struct run *r)
{
	struct timeval tv = { 2, 0 };
	struct bufferevent *bev = r->bev;
	struct closer *c;

	if (bev == NULL)
		return;
	r->bev = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		bufferevent_free(bev);
		return;
	}
	c->e = r->t->job->e;
	c->bev = bev;
	TAILQ_INSERT_TAIL(&c->e->closers, c, link);
	bufferevent_setcb(bev, closer_read, NULL, closer_event, c);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* the tunnel is claimed: proof.c leads the conversation, line by line */
static void
tunnel_read(struct run *r, struct evbuffer *in, struct evbuffer *out)
{
	struct test *t = r->t;
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		enum pe_tstep st = pe_tunnel_line(&r->tn, &r->ps, line, n, out);
		free(line);
		switch (st) {
		case PE_T_MORE:
			continue;
		case PE_T_OPEN_QUIT:
			polite_close(r);
			/* FALLTHROUGH */
		case PE_T_OPEN:
			test_finish(t, PE_OPEN, NULL);
			return;
		case PE_T_CLOSED:
			test_finish(t, PE_CLOSED, NULL);
			return;
		case PE_T_INCONCLUSIVE:
			test_finish(t, PE_INCONCLUSIVE, NULL);
			return;
		}
	}
	if (evbuffer_get_length(in) > 1024) {
		pe_set_reason(&r->ps, "foreign-peer", evbuffer_pullup(in, 64), 64);
		test_finish(t, PE_CLOSED, NULL);
		return;
	}
	if (r->tn.kind == PE_TARGET_MTA && r->tn.nonce_sent && !r->mta_waiting)
		mwait_add(r);
}

/* set up the tunnel conversation when the protocol claims a tunnel */
static void
tunnel_begin(struct run *r)
{
	struct test *t = r->t;
	struct pe_engine *e = t->job->e;
	struct pe_tunnel *tn = &r->tn;

	memset(tn, 0, sizeof(*tn));
	tn->kind = (int)e->opt.target_kind;
	tn->banner = e->opt.banner;
	tn->nonce = r->nonce;
	tn->proof = e->proof;
	if (e->opt.target_kind == PE_TARGET_BANNER && e->opt.mail_rcpt[0] != '\0') {
		char a[PE_ADDRSTR_MAX];
		pe_addr_str((struct sockaddr *)&t->job->addr, a, sizeof(a));
		tn->want_mail = 1;
		tn->mail.rcpt = e->opt.mail_rcpt;
		tn->mail.tag = e->opt.mail_tag;
		tn->mail.agent = e->opt.mail_agent;
		tn->mail.nonce = r->nonce;
		snprintf(tn->mail.spec, sizeof(tn->mail.spec),
		    t->job->addr.ss_family == AF_INET6 ? "[%s]:%u/%s" : "%s:%u/%s",
		    a, t->port, result_name(t));
	}
}

/* the answer to a request that carried the nonce (POST) proves nothing:
 * keep the nonce registered a moment for the canary, then give up */
static void
linger(struct run *r)
{
	double left = r->started + r->t->job->tm.timeout - now_mono();
	struct timeval tv = tv_of(left < 2.0 ? left : 2.0);

	r->lingering = 1;
	if (r->bev != NULL) {
		bufferevent_free(r->bev);
		r->bev = NULL;
	}
	evtimer_add(&r->timer, &tv);
}

/* after every protocol call: its timer wish, its separate write, its step */
static void
apply_step(struct run *r, enum pe_step st)
{
	struct test *t = r->t;

	if (r->ps.timer != 0) {
		if (r->ps.timer > 0) {
			struct timeval tv = tv_of(r->ps.timer);
			evtimer_add(&r->ptimer, &tv);
		} else {
			evtimer_del(&r->ptimer);
		}
		r->ps.timer = 0;
	}
	switch (st) {
	case PE_STEP_MORE:
		return;
	case PE_STEP_CLOSED:
		test_finish(t, PE_CLOSED, NULL);
		return;
	case PE_STEP_INCONCLUSIVE:
		test_finish(t, PE_INCONCLUSIVE, NULL);
		return;
	case PE_STEP_WAIT_PROOF:
		linger(r);
		return;
	case PE_STEP_TUNNEL:
		break;
	}
	evtimer_del(&r->ptimer);
	r->tunnel = 1;
	tunnel_begin(r);
	pe_tunnel_start(&r->tn, &r->ps, bufferevent_get_output(r->bev));
	tunnel_read(r, bufferevent_get_input(r->bev), bufferevent_get_output(r->bev));
}

static void
test_read(struct bufferevent *bev, void *arg)
{
	struct run *r = arg;
	struct test *t = r->t;
	struct pe_engine *e = t->job->e;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t len = evbuffer_get_length(in);

	/* count each byte once: what is new since the last call */
	r->nread += len - r->kept;
	if (r->tunnel)
		tunnel_read(r, in, out);
	else
		apply_step(r, t->proto->on_read(&r->ps, in, out));
	if (t->job->ending || t->st != T_RUNNING || r->t != t || r->bev != bev)
		return;		/* finished (the job is freed later), or lingering */
	r->kept = evbuffer_get_length(in);
	/* a peer that talks on without proving anything is no proxy of ours */
	if (r->nread > e->opt.read_cap)
		test_finish(t, PE_CLOSED, "read-cap");
}

/* output drained: the protocol's separate write, if it asked for one */
static void
test_write(struct bufferevent *bev, void *arg)
{
	struct run *r = arg;

	if (r->ps.later_len > 0) {
		evbuffer_add(bufferevent_get_output(bev), r->ps.later, r->ps.later_len);
		r->ps.later_len = 0;
	}
}

static void
ptimer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	struct test *t = r->t;

	(void)fd;
	(void)what;
	if (t == NULL || t->st != T_RUNNING || r->tunnel || r->bev == NULL || t->proto->on_timer == NULL)
		return;
	apply_step(r, t->proto->on_timer(&r->ps, bufferevent_get_output(r->bev)));
}

static void test_event(struct bufferevent *, short, void *);

/* the proxy port is reached (and, for TLS, the handshake done): speak */
static void
test_speak(struct run *r)
{
	struct timeval tv;

	r->t->proto->start(&r->ps, bufferevent_get_output(r->bev));
	tv = tv_of(r->started + r->t->job->tm.timeout - now_mono());
	evtimer_add(&r->timer, &tv);
	bufferevent_enable(r->bev, EV_READ | EV_WRITE);
	apply_step(r, PE_STEP_MORE);
}

static void
test_event(struct bufferevent *bev, short what, void *arg)
{
	struct run *r = arg;
	struct test *t = r->t;
	int err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		if (r->connected) {		/* TLS handshake finished */
			test_speak(r);
			return;
		}
		int one = 1;
		evutil_socket_t fd = bufferevent_getfd(bev);
		r->connected = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
#ifdef HAVE_LIBEVENT_OPENSSL
		if (t->proto->flags & PE_PROTO_TLS) {
			struct pe_engine *e = t->job->e;
			SSL *ssl = e->ssl != NULL ? SSL_new(e->ssl) : NULL;
			struct bufferevent *f = ssl == NULL ? NULL :
			    bufferevent_openssl_filter_new(e->base, bev, ssl,
			    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
			if (f == NULL) {
				if (ssl != NULL)
					SSL_free(ssl);
				test_finish(t, PE_INCONCLUSIVE, "no-tls");
				return;
			}
			r->bev = f;	/* owns the socket bufferevent now */
			bufferevent_setcb(f, test_read, test_write, test_event, r);
			bufferevent_enable(f, EV_READ | EV_WRITE);
			return;
		}
#endif
		test_speak(r);
		return;
	}
	if (!r->connected) {
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
			pe_set_reason(&r->ps, "connect-error", strerror(err), strlen(strerror(err)));
			test_finish(t, PE_INCONCLUSIVE, NULL);
			break;
		}
		return;
	}
	if ((t->proto->flags & PE_PROTO_TLS) && r->nread == 0 && !r->tunnel &&
	    r->ps.reason[0] == '\0')
		test_finish(t, PE_CLOSED, "tls-failed");	/* not a TLS port */
	else if (r->nread == 0 && !r->tunnel)
		test_finish(t, PE_CLOSED, "hung-up");
	else if (!r->tunnel && t->proto->on_timer != NULL && r->ps.reason[0] != '\0')
		test_finish(t, PE_CLOSED, NULL);	/* a gateway that said no and left */
	else if (what & BEV_EVENT_EOF)
		test_finish(t, PE_INCONCLUSIVE, r->tunnel ? "tunnel-eof" : "eof");
	else
		test_finish(t, PE_INCONCLUSIVE, "reset");
}

static void
test_timer(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	struct test *t = r->t;

	(void)fd;
	(void)what;
	if (t == NULL || t->st != T_RUNNING)
		return;
	if (r->lingering) {
		if (r->ps.reason[0] == '\0')
			snprintf(r->ps.reason, sizeof(r->ps.reason), "no-proof");
		test_finish(t, PE_CLOSED, NULL);
		return;
	}
	if (r->fail != NULL)
		test_finish(t, r->fail_kind, r->fail);
	else if (!r->connected)
		test_finish(t, PE_CLOSED, "filtered");
	else
		test_finish(t, PE_INCONCLUSIVE, r->tunnel ? "tunnel-timeout" : "timeout");
}

/* report a failure found inside test_start from the event loop, so that
 * job_pump never sees its job freed under it */
static void
test_fail_soon(struct run *r, enum pe_result_kind kind, const char *reason)
{
	struct timeval tv = { 0, 0 };

	r->fail = reason;
	r->fail_kind = kind;
	evtimer_add(&r->timer, &tv);
}

static void
test_start(struct test *t)
{
	struct job *j = t->job;
	struct pe_engine *e = j->e;
	struct sockaddr_storage ss = j->addr;
	struct run *r = SLIST_FIRST(&j->free_runs);
	struct event tm, ptm;
	struct timeval tv;

	/* a free slot exists: running < reserved */
	SLIST_REMOVE_HEAD(&j->free_runs, free);
	tm = r->timer;
	ptm = r->ptimer;
	memset(r, 0, sizeof(*r));	/* fresh state, the slot's timers */
	r->timer = tm;
	r->ptimer = ptm;
	r->t = t;
	t->r = r;
	if (t->attempt > 0)
		j->retrying--;
	t->st = T_RUNNING;
	t->attempt++;
	r->ps.target = (const struct sockaddr *)&e->opt.canary_target;
	r->ps.banner = e->opt.banner;
	r->ps.kind = (int)e->opt.target_kind;
	r->ps.nonce = r->nonce;
	r->started = now_mono();
	j->running++;
	if (pe_nonce_issue(e->proof, r, r->nonce) < 0) {
		test_fail_soon(r, PE_INCONCLUSIVE, "no-nonce");
		return;
	}
	r->have_nonce = 1;
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(t->port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(t->port);
	if ((t->proto->flags & PE_PROTO_V4_ONLY) &&
	    e->opt.canary_target.ss_family != AF_INET) {
		test_fail_soon(r, PE_CLOSED, "no-ipv4-target");
		return;
	}
	r->bev = bufferevent_socket_new(e->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (r->bev == NULL) {
		test_fail_soon(r, PE_INCONCLUSIVE, "no-socket");
		return;
	}
	bufferevent_setcb(r->bev, test_read, test_write, test_event, r);
	tv = tv_of(j->tm.connect_timeout < j->tm.timeout ? j->tm.connect_timeout : j->tm.timeout);
	evtimer_add(&r->timer, &tv);
	if (bufferevent_socket_connect(r->bev, (struct sockaddr *)&ss, (int)j->alen) < 0) {
		int err = EVUTIL_SOCKET_ERROR();
		/* bufferevent_socket_connect freed the socket but not the bev */
		test_fail_soon(r, PE_INCONCLUSIVE,
		    (err == EMFILE || err == ENFILE) ? "emfile" : "connect-failed");
	}
}

/* start waiting tests while the job's reservation allows: retries first,
 * then the next test never started; O(1) per started test */
static void
job_pump(struct job *j)
{
	struct test *t;

	while (j->running < j->reserved && !j->ending) {
		if ((t = STAILQ_FIRST(&j->ready)) != NULL)
			STAILQ_REMOVE_HEAD(&j->ready, link);
		else if (j->cursor < j->ntests)
			t = &j->tests[j->cursor++];
		else
			break;
		test_start(t);
	}
}

/* back-offs over: to the ready list; the timer follows the earliest left */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	double now = now_mono(), next = 0;
	struct test *t;

	(void)fd;
	(void)what;
	for (int k = 0; k < PE_MAX_RETRIES; k++) {
		while ((t = STAILQ_FIRST(&j->backing[k])) != NULL && t->due <= now + 0.001) {
			STAILQ_REMOVE_HEAD(&j->backing[k], link);
			t->st = T_WAITING;
			STAILQ_INSERT_TAIL(&j->ready, t, link);
		}
		if (t != NULL && (next == 0 || t->due < next))
			next = t->due;
	}
	if (next > 0) {
		struct timeval tv = tv_of(next - now);
		j->retry_at = next;
		evtimer_add(&j->retry_ev, &tv);
	}
	job_pump(j);
}

/* ---- admission and the queue -------------------------------------------- */

/* the job's run slots and timers; -1 when out of memory */
static int
job_setup(struct pe_engine *e, struct job *j, int want)
{
	if ((j->runs = calloc((size_t)want, sizeof(*j->runs))) == NULL)
		return -1;
	SLIST_INIT(&j->free_runs);
	for (int i = want - 1; i >= 0; i--) {
		struct run *r = &j->runs[i];
		evtimer_assign(&r->timer, e->base, test_timer, r);
		evtimer_assign(&r->ptimer, e->base, ptimer_cb, r);
		SLIST_INSERT_HEAD(&j->free_runs, r, free);
	}
	STAILQ_INIT(&j->ready);
	for (int k = 0; k < PE_MAX_RETRIES; k++)
		STAILQ_INIT(&j->backing[k]);
	evtimer_assign(&j->retry_ev, e->base, retry_cb, j);
	return 0;
}

static int
reservation(const struct pe_engine *e, size_t ntests)
{
	int want = ntests < (size_t)e->opt.max_per_client ? (int)ntests : e->opt.max_per_client;
	if (want > e->opt.max_inflight)
		want = e->opt.max_inflight;
	return want < 1 ? 1 : want;
}

static void
admit(struct pe_engine *e)
{
	struct job *j;
	double now = now_mono();

	while ((j = TAILQ_FIRST(&e->waiting)) != NULL) {
		int want = reservation(e, j->ntests);
		/* FIFO: when the head is not too old, none behind it is */
		if (e->opt.max_queue_wait > 0 && now - j->submitted > e->opt.max_queue_wait) {
			TAILQ_REMOVE(&e->waiting, j, link);
			e->nwaiting--;
			ST_ADD(e, overload, 1);
			job_done(j, "overload");
			continue;
		}
		if (e->inflight + want > e->opt.max_inflight)
			break;
		TAILQ_REMOVE(&e->waiting, j, link);
		e->nwaiting--;
		e->inflight += want;
		j->reserved = want;
		j->admitted = now_mono();
		TAILQ_INSERT_TAIL(&e->active, j, link);
		ST_ADD(e, admitted, 1);
		if (e->inflight > __atomic_load_n(&e->st.inflight_max, __ATOMIC_RELAXED))
			ST_SET(e, inflight_max, e->inflight);
		ST_SET(e, inflight, e->inflight);
		if (j->ntests == 0) {
			job_done(j, NULL);
			continue;
		}
		if (job_setup(e, j, want) < 0) {
			job_done(j, "no-memory");
			continue;
		}
		job_pump(j);
	}
	ST_SET(e, queued, e->nwaiting);
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pe_engine *e = arg;
	struct jobq in;
	struct job *j;
	struct confirm *cf, *next;
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
	for (; cf != NULL; cf = next) {
		struct run *r = pe_nonce_owner(e->proof, cf->nonce);
		next = cf->next;
		if (r != NULL && r->t->st == T_RUNNING) {
			snprintf(r->egress, sizeof(r->egress), "%s", cf->egress);
			if (r->bev != NULL && r->tn.greeted) {
				evbuffer_add_printf(bufferevent_get_output(r->bev), "QUIT\r\n");
				polite_close(r);
			}
			test_finish(r->t, PE_OPEN, "confirmed");
		}
		free(cf);
	}
	while ((j = TAILQ_FIRST(&in)) != NULL) {
		TAILQ_REMOVE(&in, j, link);
		if (stop) {
			job_done(j, "shutdown");
		} else if (e->nwaiting >= e->opt.max_queue) {
			ST_ADD(e, overload, 1);
			job_done(j, "overload");
		} else {
			TAILQ_INSERT_TAIL(&e->waiting, j, link);
			e->nwaiting++;
		}
	}
	if (stop) {
		event_base_loopbreak(e->base);
		return;
	}
	admit(e);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	admit(arg);
}

static void *
engine_main(void *arg)
{
	struct pe_engine *e = arg;
	struct job *j;

	pe_thread_batch();
	/* no listener in "mta" and "banner" modes: run even with nothing pending */
	event_base_loop(e->base, EVLOOP_NO_EXIT_ON_EMPTY);
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
	while (!TAILQ_EMPTY(&e->closers))
		closer_free(TAILQ_FIRST(&e->closers));
	reap_cb(-1, 0, e);
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
	TAILQ_INIT(&e->closers);
	TAILQ_INIT(&e->dead);
	for (int i = 0; i < MWAIT_BUCKETS; i++)
		LIST_INIT(&e->mwait[i]);
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
	if (e->proof == NULL) {
		pe_free(e);
		return NULL;
	}
#ifdef HAVE_LIBEVENT_OPENSSL
	/* a proxy's certificate proves nothing and is not checked: the nonce is
	 * the proof */
	if ((e->ssl = SSL_CTX_new(TLS_client_method())) != NULL)
		SSL_CTX_set_verify(e->ssl, SSL_VERIFY_NONE, NULL);
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
	j->submitted = now_mono();
	for (size_t i = 0; i < ntests; i++) {
		j->tests[i].job = j;
		j->tests[i].proto = tests[i].proto;
		j->tests[i].port = tests[i].port;
	}
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

/*
 * Target mta: a HELO carries "pxm-<nonce>".  Only a nonce that a running
 * test has sent to our MTA and that is not confirmed yet counts, once.
 */
int
pe_confirm(struct pe_engine *e, const char *helo, const char *egress)
{
	size_t len = strlen(helo), at = 0;
	struct confirm *c = NULL;
	long off;

	while (c == NULL && at < len && (off = pe_nonce_find(helo + at, len - at)) >= 0) {
		const char *nonce = helo + at + off;
		struct run *r;

		at += (size_t)off + PE_NONCE_HEX;
		pthread_mutex_lock(&e->mu);
		LIST_FOREACH(r, &e->mwait[mwait_bucket(nonce)], mlink)
			if (!r->confirmed && memcmp(r->nonce, nonce, PE_NONCE_HEX) == 0)
				break;
		if (r != NULL && (c = calloc(1, sizeof(*c))) != NULL) {
			r->confirmed = 1;
			memcpy(c->nonce, nonce, PE_NONCE_HEX);
			snprintf(c->egress, sizeof(c->egress), "%s", egress);
			c->next = e->confirms;
			e->confirms = c;
		}
		pthread_mutex_unlock(&e->mu);
	}
	if (c == NULL)
		return -1;
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
	int want = reservation(e, ntests);
	int retries = tm->retries < 0 ? 0 : tm->retries > PE_MAX_RETRIES ? PE_MAX_RETRIES : tm->retries;
	double waves = (double)((ntests + (size_t)want - 1) / (size_t)want);
	double t = waves * (retries + 1) * tm->timeout;

	for (int a = 1; a <= retries; a++)
		t += pe_backoff(a);
	return t;
}

/* ... and with the longest possible wait in the queue before it: at most
 * max_queue_wait (and the sweep's second), else a full queue's waves */
double
pe_pending_bound(const struct pe_engine *e, size_t ntests, const struct pe_timing *tm)
{
	int slots = e->opt.max_inflight / reservation(e, ntests);
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
	}
}

void
pe_free(struct pe_engine *e)
{
	if (e == NULL)
		return;
	pe_proof_free(e->proof);
#ifdef HAVE_LIBEVENT_OPENSSL
	if (e->ssl != NULL)
		SSL_CTX_free(e->ssl);
#endif
	while (e->confirms != NULL) {
		struct confirm *n = e->confirms->next;
		free(e->confirms);
		e->confirms = n;
	}
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
	LD(tests); LD(open); LD(closed); LD(inconclusive); LD(retried);
	LD(inflight); LD(inflight_max); LD(queued);
#undef LD
	pe_proof_stats(e->proof, &s->canary_conns, &s->canary_proofs, &s->canary_unknown);
}
