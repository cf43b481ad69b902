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

struct test {
	struct job *job;
	const struct pe_proto *proto;
	uint16_t port;
	enum test_state st;
	int attempt;
	struct bufferevent *bev;
	struct event *timer;		/* connect/overall deadline, back-off, linger */
	struct event *ptimer;		/* the protocol's own timer (prompt waits) */
	double started;
	int connected, tunnel, have_nonce, lingering;
	struct pe_tunnel tn;		/* the conversation once a tunnel is claimed */
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
	int reported;			/* a provisional verdict went out */
	enum pe_verdict last;		/* ... and what it said */
};

struct confirm {
	struct confirm *next;
	char nonce[PE_NONCE_HEX + 1];
	char egress[PE_ADDRSTR_MAX];
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
	pthread_mutex_t mu;		/* guards incoming, confirms, stopping */
	struct jobq incoming;
	struct confirm *confirms;
	int stopping;
#ifdef HAVE_LIBEVENT_OPENSSL
	SSL_CTX *ssl;
#endif
	struct jobq waiting, active;	/* engine thread only */
	TAILQ_HEAD(, closer) closers;
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
	if (t->ptimer != NULL)
		evtimer_del(t->ptimer);
	t->lingering = 0;
	if (t->have_nonce) {
		pe_nonce_revoke(e->proof, t->nonce);
		t->have_nonce = 0;
	}
}

/* the verdict so far; pending = tests still running, waiting or backing off */
static void
summarise(struct job *j, const char *reason, int pending, struct pe_summary *s,
    char *evidence, size_t evlen)
{
	memset(s, 0, sizeof(*s));
	evidence[0] = '\0';
	s->tests = (int)j->ntests;
	s->open = j->nopen;
	s->closed = j->nclosed;
	s->inconclusive = j->ninconc;
	s->egress = "";
	s->reason = "";
	s->final = !pending;
	if (reason != NULL) {
		s->verdict = PE_V_ERROR;
		s->reason = reason;
	} else if (j->opened >= 0) {
		struct test *t = &j->tests[j->opened];
		s->verdict = PE_V_OPEN;
		snprintf(evidence, evlen, "%s:%u", t->proto->name, t->port);
		s->egress = t->egress;
		s->reason = "proved";
	} else if (j->ninconc > 0 || pending) {
		s->verdict = PE_V_ERROR;
		s->reason = "inconclusive";
	} else {
		s->verdict = PE_V_CLEAN;
	}
	s->evidence = evidence;
	s->elapsed = now_mono() - j->submitted;
}

static void
job_done(struct job *j, const char *reason)
{
	struct pe_engine *e = j->e;
	struct pe_summary s;
	char evidence[PE_PROTO_NAME_MAX + 8];

	j->ending = 1;
	for (size_t i = 0; i < j->ntests; i++) {
		test_teardown(&j->tests[i]);
		if (j->tests[i].timer != NULL)
			event_free(j->tests[i].timer);
		if (j->tests[i].ptimer != NULL)
			event_free(j->tests[i].ptimer);
		j->tests[i].timer = j->tests[i].ptimer = NULL;
	}
	summarise(j, reason, 0, &s, evidence, sizeof(evidence));
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

/* every test has a first result, some are retried in the background:
 * report the verdict so far once */
static void
job_provisional(struct job *j)
{
	struct pe_summary s;
	char evidence[PE_PROTO_NAME_MAX + 8];

	if (j->reported)
		return;
	for (size_t i = 0; i < j->ntests; i++)
		if (j->tests[i].st == T_RUNNING || (j->tests[i].st == T_WAITING &&
		    j->tests[i].attempt == 0))
			return;
	summarise(j, NULL, 1, &s, evidence, sizeof(evidence));
	j->reported = 1;
	j->last = s.verdict;
	j->e->on_done(&s, j->arg);
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
		/* back off 2 s, 4 s, ... then try again with a fresh nonce */
		struct timeval tv = tv_of(2.0 * (double)(1 << (t->attempt - 1)));
		t->st = T_BACKOFF;
		ST_ADD(e, retried, 1);
		evtimer_add(t->timer, &tv);
		job_pump(j);
		job_provisional(j);
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
	job_provisional(j);
}

/* ---- one test ----------------------------------------------------------- */

static void
proved_hook(void *owner, const char *egress)
{
	struct test *t = owner;

	snprintf(t->egress, sizeof(t->egress), "%s", egress);
	test_finish(t, PE_OPEN, "proved");
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
polite_close(struct test *t)
{
	struct timeval tv = { 2, 0 };
	struct bufferevent *bev = t->bev;
	struct closer *c;

	if (bev == NULL)
		return;
	t->bev = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		bufferevent_free(bev);
		return;
	}
	c->e = t->job->e;
	c->bev = bev;
	TAILQ_INSERT_TAIL(&c->e->closers, c, link);
	bufferevent_setcb(bev, closer_read, NULL, closer_event, c);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* the tunnel is claimed: proof.c leads the conversation, line by line */
static void
tunnel_read(struct test *t, struct evbuffer *in, struct evbuffer *out)
{
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		enum pe_tstep r = pe_tunnel_line(&t->tn, &t->ps, line, n, out);
		free(line);
		switch (r) {
		case PE_T_MORE:
			continue;
		case PE_T_OPEN_QUIT:
			polite_close(t);
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
		pe_set_reason(&t->ps, "foreign-peer", evbuffer_pullup(in, 64), 64);
		test_finish(t, PE_CLOSED, NULL);
	}
}

/* set up the tunnel conversation when the protocol claims a tunnel */
static void
tunnel_begin(struct test *t)
{
	struct pe_engine *e = t->job->e;
	struct pe_tunnel *tn = &t->tn;

	memset(tn, 0, sizeof(*tn));
	tn->kind = (int)e->opt.target_kind;
	tn->banner = e->opt.banner;
	tn->nonce = t->nonce;
	tn->proof = e->proof;
	if (e->opt.target_kind == PE_TARGET_BANNER && e->opt.mail_rcpt[0] != '\0') {
		char a[PE_ADDRSTR_MAX];
		pe_addr_str((struct sockaddr *)&t->job->addr, a, sizeof(a));
		tn->want_mail = 1;
		tn->mail.rcpt = e->opt.mail_rcpt;
		tn->mail.tag = e->opt.mail_tag;
		tn->mail.agent = e->opt.mail_agent;
		tn->mail.nonce = t->nonce;
		snprintf(tn->mail.spec, sizeof(tn->mail.spec),
		    t->job->addr.ss_family == AF_INET6 ? "[%s]:%u/%s" : "%s:%u/%s",
		    a, t->port, t->proto->name);
	}
}

/* the answer to a request that carried the nonce (POST) proves nothing:
 * keep the nonce registered a moment for the canary, then give up */
static void
linger(struct test *t)
{
	double left = t->started + t->job->tm.timeout - now_mono();
	struct timeval tv = tv_of(left < 2.0 ? left : 2.0);

	t->lingering = 1;
	if (t->bev != NULL) {
		bufferevent_free(t->bev);
		t->bev = NULL;
	}
	evtimer_add(t->timer, &tv);
}

/* after every protocol call: its timer wish, its separate write, its step */
static void
apply_step(struct test *t, enum pe_step st)
{
	struct evbuffer *in, *out;

	if (t->ps.timer != 0 && t->ptimer != NULL) {
		if (t->ps.timer > 0) {
			struct timeval tv = tv_of(t->ps.timer);
			evtimer_add(t->ptimer, &tv);
		} else {
			evtimer_del(t->ptimer);
		}
		t->ps.timer = 0;
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
		linger(t);
		return;
	case PE_STEP_TUNNEL:
		break;
	}
	evtimer_del(t->ptimer);
	t->tunnel = 1;
	tunnel_begin(t);
	in = bufferevent_get_input(t->bev);
	out = bufferevent_get_output(t->bev);
	pe_tunnel_start(&t->tn, &t->ps, out);
	tunnel_read(t, in, out);
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
	if (t->tunnel)
		tunnel_read(t, in, out);
	else
		apply_step(t, t->proto->on_read(&t->ps, in, out));
}

/* output drained: the protocol's separate write, if it asked for one */
static void
test_write(struct bufferevent *bev, void *arg)
{
	struct test *t = arg;

	if (t->ps.later_len > 0) {
		evbuffer_add(bufferevent_get_output(bev), t->ps.later, t->ps.later_len);
		t->ps.later_len = 0;
	}
}

static void
ptimer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct test *t = arg;

	(void)fd;
	(void)what;
	if (t->st != T_RUNNING || t->tunnel || t->bev == NULL || t->proto->on_timer == NULL)
		return;
	apply_step(t, t->proto->on_timer(&t->ps, bufferevent_get_output(t->bev)));
}

static void test_event(struct bufferevent *, short, void *);

/* the proxy port is reached (and, for TLS, the handshake done): speak */
static void
test_speak(struct test *t)
{
	struct timeval tv;

	t->proto->start(&t->ps, bufferevent_get_output(t->bev));
	tv = tv_of(t->started + t->job->tm.timeout - now_mono());
	evtimer_add(t->timer, &tv);
	bufferevent_enable(t->bev, EV_READ | EV_WRITE);
	apply_step(t, PE_STEP_MORE);
}

static void
test_event(struct bufferevent *bev, short what, void *arg)
{
	struct test *t = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if (what & BEV_EVENT_CONNECTED) {
		if (t->connected) {		/* TLS handshake finished */
			test_speak(t);
			return;
		}
		int one = 1;
		evutil_socket_t fd = bufferevent_getfd(bev);
		t->connected = 1;
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
			t->bev = f;	/* owns the socket bufferevent now */
			bufferevent_setcb(f, test_read, test_write, test_event, t);
			bufferevent_enable(f, EV_READ | EV_WRITE);
			return;
		}
#endif
		test_speak(t);
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
	if ((t->proto->flags & PE_PROTO_TLS) && t->nread == 0 && !t->tunnel &&
	    t->ps.reason[0] == '\0')
		test_finish(t, PE_CLOSED, "tls-failed");	/* not a TLS port */
	else if (t->nread == 0 && !t->tunnel)
		test_finish(t, PE_CLOSED, "hung-up");
	else if (!t->tunnel && t->proto->on_timer != NULL && t->ps.reason[0] != '\0')
		test_finish(t, PE_CLOSED, NULL);	/* a gateway that said no and left */
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
	if (t->lingering) {
		if (t->ps.reason[0] == '\0')
			snprintf(t->ps.reason, sizeof(t->ps.reason), "no-proof");
		test_finish(t, PE_CLOSED, NULL);
		return;
	}
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
	t->connected = t->tunnel = 0;
	memset(&t->tn, 0, sizeof(t->tn));
	t->nread = 0;
	t->lingering = 0;
	t->fail = NULL;
	t->egress[0] = '\0';
	memset(&t->ps, 0, sizeof(t->ps));
	t->ps.target = (const struct sockaddr *)&e->opt.canary_target;
	t->ps.banner = e->opt.banner;
	t->ps.kind = (int)e->opt.target_kind;
	t->ps.nonce = t->nonce;
	t->started = now_mono();
	j->running++;
	if (pe_nonce_issue(e->proof, t, t->nonce) < 0) {
		test_fail_soon(t, PE_INCONCLUSIVE, "no-nonce");
		return;
	}
	t->have_nonce = 1;
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
	bufferevent_setcb(t->bev, test_read, test_write, test_event, t);
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
	struct confirm *cf, *next;

	TAILQ_INIT(&in);
	pthread_mutex_lock(&e->mu);
	TAILQ_CONCAT(&in, &e->incoming, link);
	cf = e->confirms;
	e->confirms = NULL;
	stopping = e->stopping;
	pthread_mutex_unlock(&e->mu);
	for (; cf != NULL; cf = next) {
		struct test *t = pe_nonce_owner(e->proof, cf->nonce);
		next = cf->next;
		if (t != NULL && t->st == T_RUNNING) {
			snprintf(t->egress, sizeof(t->egress), "%s", cf->egress);
			if (t->bev != NULL && t->tn.greeted) {
				evbuffer_add_printf(bufferevent_get_output(t->bev), "QUIT\r\n");
				polite_close(t);
			}
			test_finish(t, PE_OPEN, "confirmed");
		}
		free(cf);
	}
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
	if ((e->base = event_base_new()) == NULL ||
	    (e->wake = event_new(e->base, -1, 0, wake_cb, e)) == NULL) {
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
		t->ptimer = evtimer_new(e->base, ptimer_cb, t);
		if (t->timer == NULL || t->ptimer == NULL) {
			if (t->timer != NULL)
				event_free(t->timer);
			if (t->ptimer != NULL)
				event_free(t->ptimer);
			for (size_t k = 0; k < i; k++) {
				event_free(j->tests[k].timer);
				event_free(j->tests[k].ptimer);
			}
			free(j->tests);
			free(j);
			return -1;
		}
	}
	pthread_mutex_lock(&e->mu);
	if (e->stopping) {
		pthread_mutex_unlock(&e->mu);
		for (size_t k = 0; k < ntests; k++) {
			event_free(j->tests[k].timer);
			event_free(j->tests[k].ptimer);
		}
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

int
pe_confirm(struct pe_engine *e, const char *helo, const char *egress)
{
	long off = pe_nonce_find(helo, strlen(helo));
	struct confirm *c;

	if (off < 0 || (c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	memcpy(c->nonce, helo + off, PE_NONCE_HEX);
	snprintf(c->egress, sizeof(c->egress), "%s", egress);
	pthread_mutex_lock(&e->mu);
	c->next = e->confirms;
	e->confirms = c;
	pthread_mutex_unlock(&e->mu);
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
