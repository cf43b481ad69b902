/*
 * runner.c - one attempt of one check.
 *
 * A stream kind gets a bufferevent to the client's port with a connect
 * deadline, then the overall deadline (the request's timeout, capped by the
 * kind's own), a read cap (the engine's, or the kind's own), and its timer
 * wish; a task kind gets the overall deadline and its timer.  A proxy kind
 * also gets a fresh nonce; when it claims a tunnel, tunnel.c leads the
 * proof.  Decisions recorded here:
 *  - a TCP connect that times out (SYN dropped, "filtered") is closed, not
 *    inconclusive: nothing reachable there can be a proxy for us;
 *  - a peer that hangs up before sending a byte is closed (ACL'd service);
 *    a hang-up after a partial reply is inconclusive, unless the kind says
 *    otherwise (a telnet gateway that said no and left is closed);
 *  - the leader of a port group settles its followers: refused, unreachable
 *    or filtered closes them all with its reason; a connected port lets them
 *    start.
 * A connect is a bare non-blocking socket and one event: most ports do not
 * answer, and they cost no bufferevent; one is made once the port accepts.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <event2/buffer.h>
#ifdef HAVE_LIBEVENT_OPENSSL
#include <openssl/ssl.h>
#include <event2/bufferevent_ssl.h>
#endif
#include "engine.h"

static void test_event(struct bufferevent *, short, void *);

struct timeval
pe_tv(double s)
{
	struct timeval tv;

	if (s < 0)
		s = 0;
	tv.tv_sec = (time_t)s;
	tv.tv_usec = (suseconds_t)((s - (double)tv.tv_sec) * 1e6);
	return tv;
}

/* the name a result goes by: the mechanism the peer revealed, when the
 * kind tells one (telnet: wingate, cisco or telnet) */
const char *
pe_test_name(const struct test *t)
{
	return t->r != NULL && t->r->ctx.mechanism != NULL ? t->r->ctx.mechanism : t->kind->name;
}

/* close the attempt's connection, timers and the kind's own work */
static void
run_teardown(struct run *r)
{
	struct pe_engine *e = r->t->job->e;

	/* the kind's own work ends first; ctx->run = NULL makes a step it
	 * reports from inside its cleanup a no-op */
	if (r->ctx.run != NULL) {
		pe_dns_cancel_run(r);
		r->ctx.run = NULL;
		if (r->t->kind->cleanup != NULL)
			r->t->kind->cleanup(&r->ctx);
	}
	if (r->bev != NULL) {
		bufferevent_free(r->bev);
		r->bev = NULL;
	}
	if (r->fd >= 0) {
		event_del(&r->cev);
		evutil_closesocket(r->fd);
		r->fd = -1;
	}
	evtimer_del(&r->timer);
	evtimer_del(&r->ptimer);
	r->lingering = 0;
	pe_mwait_del(r);
	if (r->have_nonce) {
		pe_nonce_revoke(e->proof, r->nonce);
		r->have_nonce = 0;
	}
}

/* the test gives its (torn down) run slot back to the job */
static void
slot_release(struct test *t)
{
	t->r->t = NULL;
	SLIST_INSERT_HEAD(&t->job->free_runs, t->r, free);
	t->r = NULL;
}

/* the job ends under a running test: no result */
void
pe_test_abandon(struct test *t)
{
	if (t->r == NULL)
		return;
	run_teardown(t->r);
	slot_release(t);
}

static void
report(struct test *t, enum pe_result_kind kind, const char *reason, const char *detail,
    const char *egress, double elapsed, const char *findings, int connected)
{
	struct pe_engine *e = t->job->e;
	struct pe_result res;

	memset(&res, 0, sizeof(res));
	res.proto = pe_test_name(t);
	res.port = t->port;
	res.result = kind;
	res.reason = reason;
	res.detail = detail;
	res.egress = egress;
	res.elapsed = elapsed;
	res.attempt = t->attempt;
	res.findings = findings;
	res.connected = connected;
	ST_ADD(e, tests, 1);
	if (kind == PE_OPEN)
		ST_ADD(e, open, 1);
	else if (kind == PE_CLOSED)
		ST_ADD(e, closed, 1);
	else
		ST_ADD(e, inconclusive, 1);
	e->on_result(&res, t->job->arg);
}

static void
count(struct job *j, enum pe_result_kind kind)
{
	if (kind == PE_CLOSED)
		j->nclosed++;
	else if (kind == PE_INCONCLUSIVE)
		j->ninconc++;
}

/* the leader's port answered (or did not): its followers start, or end
 * with the leader's reason when the port is dead */
static void
settle_followers(struct test *t, const char *reason, int dead)
{
	struct job *j = t->job;
	size_t first = (size_t)(t - j->tests) + 1, n = t->followers;

	t->followers = 0;
	for (size_t i = first; i < first + n && !j->ending; i++) {
		struct test *f = &j->tests[i];
		if (!dead) {
			STAILQ_INSERT_TAIL(&j->ready, f, link);
			continue;
		}
		f->attempt = 1;
		f->st = T_DONE;
		j->left--;
		count(j, PE_CLOSED);
		report(f, PE_CLOSED, reason, "", "", 0, "", 0);
	}
}

void
pe_test_finish(struct test *t, enum pe_result_kind kind, const char *reason)
{
	struct job *j = t->job;
	struct run *r = t->r;
	char ftext[PE_RUN_FINDINGS * (PE_FINDING_NAME_MAX + PE_FINDING_VALUE_MAX + 8)];

	if (t->st != T_RUNNING || r == NULL)
		return;
	run_teardown(r);
	j->running--;
	if (reason != NULL)
		snprintf(r->ctx.reason, sizeof(r->ctx.reason), "%s", reason);
	/* the result line says "open" itself: its text is the other findings */
	pe_findings_text(r->find, r->nfind, ftext, sizeof(ftext));
	if (kind == PE_OPEN && r->nfind < PE_RUN_FINDINGS) {
		struct pe_finding *f = &r->find[r->nfind++];
		memset(f, 0, sizeof(*f));
		f->fclass = PE_F_OPEN_PROXY;
		snprintf(f->name, sizeof(f->name), "open-proxy");
		snprintf(f->value, sizeof(f->value), "%s:%u", pe_test_name(t), t->port);
	}
	report(t, kind, r->ctx.reason, r->ctx.detail, kind == PE_OPEN ? r->egress : "",
	    pe_now() - r->started, ftext, r->connected);
	if (t->followers > 0)
		settle_followers(t, r->ctx.reason, r->port_dead);

	if (kind == PE_INCONCLUSIVE && t->attempt <= j->tm.retries && !pe_stopping(j->e)) {
		/* back off 2 s, 4 s, ... then try again with a fresh nonce; what
		 * this attempt found is dropped with it (but what it committed) */
		r->nfind = r->ncommitted = 0;
		slot_release(t);
		t->st = T_BACKOFF;
		t->due = pe_now() + pe_backoff(t->attempt);
		j->retrying++;
		STAILQ_INSERT_TAIL(&j->backing[t->attempt - 1], t, link);
		if (!evtimer_pending(&j->retry_ev, NULL) || t->due < j->retry_at) {
			struct timeval tv = pe_tv(t->due - pe_now());
			j->retry_at = t->due;
			evtimer_add(&j->retry_ev, &tv);
		}
		ST_ADD(j->e, retried, 1);
		pe_job_settled(j);
		return;
	}
	t->st = T_DONE;
	j->left--;
	if (kind == PE_OPEN && j->nopen++ == 0) {
		snprintf(j->evidence, sizeof(j->evidence), "%s:%u", pe_test_name(t), t->port);
		snprintf(j->egress, sizeof(j->egress), "%s", r->egress);
	}
	count(j, kind);
	pe_run_findings_commit(r);
	slot_release(t);
	if (kind == PE_OPEN && (j->flags & PE_F_STOP_ON_OPEN)) {
		pe_job_done(j, NULL);
		pe_admit(j->e);
		return;
	}
	pe_job_settled(j);
}

/* after every call of the kind: its timer wish, then its step */
void
pe_run_step(struct run *r, enum pe_step st)
{
	struct test *t = r->t;

	if (r->ctx.timer != 0) {
		if (r->ctx.timer > 0) {
			struct timeval tv = pe_tv(r->ctx.timer);
			evtimer_add(&r->ptimer, &tv);
		} else {
			evtimer_del(&r->ptimer);
		}
		r->ctx.timer = 0;
	}
	if (!(t->kind->flags & PE_K_PROXY) && (st == PE_STEP_TUNNEL || st == PE_STEP_WAIT_PROOF))
		st = PE_STEP_CLOSED;	/* no proof to wait for: done */
	switch (st) {
	case PE_STEP_MORE:
		return;
	case PE_STEP_CLOSED:
		pe_test_finish(t, PE_CLOSED, NULL);
		return;
	case PE_STEP_INCONCLUSIVE:
		pe_test_finish(t, PE_INCONCLUSIVE, NULL);
		return;
	case PE_STEP_WAIT_PROOF:
		pe_linger(r);
		return;
	case PE_STEP_QUIT:
		pe_polite_close(r);
		pe_test_finish(t, PE_CLOSED, NULL);
		return;
	case PE_STEP_AWAIT:
		if (!(t->kind->flags & PE_K_NONCE)) {
			pe_run_step(r, PE_STEP_QUIT);
			return;
		}
		pe_polite_close(r);
		r->awaiting = 1;
		return;
	case PE_STEP_TUNNEL:
		break;
	}
	evtimer_del(&r->ptimer);
	r->tunnel = 1;
	pe_tunnel_begin(r);
	pe_tunnel_start(&r->tn, &r->ctx, bufferevent_get_output(r->bev));
	pe_tunnel_read(r, bufferevent_get_input(r->bev), bufferevent_get_output(r->bev));
}

void
pe_ctx_step(struct pe_ctx *ctx, enum pe_step st)
{
	struct run *r = ctx->run;

	if (r == NULL || r->t == NULL || r->t->st != T_RUNNING)
		return;
	if (r->starting) {
		if (st == PE_STEP_MORE)
			return;
		r->early = st;
		r->has_early = 1;
		return;
	}
	pe_run_step(r, st);
}

/* the kind ends the attempt its own way (on_deadline: an SMTP QUIT);
 * reason: why, unless it has one; if it would go on: fallback */
static void
kind_ends(struct run *r, const char *reason, enum pe_step fallback)
{
	enum pe_step st;

	if (reason != NULL)
		snprintf(r->ctx.reason, sizeof(r->ctx.reason), "%s", reason);
	st = r->t->kind->on_deadline(&r->ctx, r->bev != NULL ?
	    bufferevent_get_output(r->bev) : NULL);
	pe_run_step(r, st == PE_STEP_MORE ? fallback : st);
}

static void
test_read(struct bufferevent *bev, void *arg)
{
	struct run *r = arg;
	struct test *t = r->t;
	struct job *j = t->job;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	size_t len = evbuffer_get_length(in);
	size_t cap = t->kind->read_cap > 0 ? t->kind->read_cap : j->e->opt.read_cap;

	/* count each byte once: what is new since the last call */
	r->nread += len - r->kept;
	if (r->tunnel)
		pe_tunnel_read(r, in, out);
	else
		pe_run_step(r, t->kind->on_read(&r->ctx, in, out));
	if (j->ending || t->st != T_RUNNING || r->t != t || r->bev != bev)
		return;		/* finished (the job is freed later), or lingering */
	r->kept = evbuffer_get_length(in);
	/* a peer that talks on without proving anything is no proxy of ours;
	 * a kind that ends its own way (an SMTP QUIT) is asked to */
	if (r->nread > cap && t->kind->on_deadline != NULL && !r->tunnel)
		kind_ends(r, "read-cap", PE_STEP_CLOSED);
	else if (r->nread > cap)
		pe_test_finish(t, PE_CLOSED, "read-cap");
}

/* output drained: the kind's separate write, if it wants one */
static void
test_write(struct bufferevent *bev, void *arg)
{
	struct run *r = arg;

	if (!r->tunnel && r->t->kind->on_drained != NULL)
		r->t->kind->on_drained(&r->ctx, bufferevent_get_output(bev));
}

static void
ptimer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	struct test *t = r->t;

	(void)fd;
	(void)what;
	if (t == NULL || t->st != T_RUNNING || r->tunnel || t->kind->on_timer == NULL)
		return;
	if (r->bev == NULL && !(t->kind->flags & PE_K_TASK) && !r->awaiting)
		return;
	pe_run_step(r, t->kind->on_timer(&r->ctx, r->bev != NULL ? bufferevent_get_output(r->bev) : NULL));
}

/* the port is reached (and, for TLS, the handshake done): speak */
static void
test_speak(struct run *r)
{
	struct timeval tv;
	struct job *j = r->t->job;

	/* a proxy test's nonce, only now: most ports never get this far; a
	 * kind that sends its nonce to someone else's server waits for the
	 * milter to see it come back (pe_confirm) */
	if (r->t->kind->flags & (PE_K_PROXY | PE_K_NONCE)) {
		if (pe_nonce_issue(j->e->proof, r, r->nonce) < 0) {
			pe_test_finish(r->t, PE_INCONCLUSIVE, "no-nonce");
			return;
		}
		r->have_nonce = 1;
		if (r->t->kind->flags & PE_K_NONCE)
			pe_mwait_add(r);
	}
	r->t->kind->start(&r->ctx, bufferevent_get_output(r->bev));
	tv = pe_tv(r->deadline - pe_now());
	evtimer_add(&r->timer, &tv);
	bufferevent_enable(r->bev, EV_READ | EV_WRITE);
	pe_run_step(r, PE_STEP_MORE);
}

/* connected: the port's other tests may start; TLS kinds begin the handshake */
static void
test_connected(struct run *r, struct bufferevent *bev)
{
	struct test *t = r->t;
	int one = 1;

	r->connected = 1;
	setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (t->followers > 0) {
		settle_followers(t, NULL, 0);
		pe_job_pump(t->job);
	}
#ifdef HAVE_LIBEVENT_OPENSSL
	if (t->kind->flags & PE_K_TLS) {
		struct pe_engine *e = t->job->e;
		SSL *ssl = e->ssl != NULL ? SSL_new(e->ssl) : NULL;
		struct bufferevent *f = ssl == NULL ? NULL :
		    bufferevent_openssl_filter_new(e->base, bev, ssl,
		    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
		if (f == NULL) {	/* libevent freed the SSL (CLOSE_ON_FREE) */
			pe_test_finish(t, PE_INCONCLUSIVE, "no-tls");
			return;
		}
		r->bev = f;	/* owns the socket bufferevent now */
		bufferevent_setcb(f, test_read, test_write, test_event, r);
		bufferevent_enable(f, EV_READ | EV_WRITE);
		return;
	}
#endif
	test_speak(r);
}

/* a connect error that means the port is dead (and the word for it), or NULL */
static const char *
dead_port(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return "refused";
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EHOSTDOWN:
		return "unreachable";
	default:
		return NULL;
	}
}

/* the connect failed with err: a dead port, or inconclusive */
static void
connect_failed(struct run *r, int err)
{
	const char *dead = dead_port(err);

	if (dead != NULL) {
		r->port_dead = 1;
		pe_test_finish(r->t, PE_CLOSED, dead);
		return;
	}
	pe_set_reason(&r->ctx, "connect-error", strerror(err), strlen(strerror(err)));
	pe_test_finish(r->t, PE_INCONCLUSIVE, NULL);
}

/* the connecting socket is writable: connected, or the error is known */
static void
connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	int err = 0;
	socklen_t el = sizeof(err);

	(void)what;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (err != 0) {
		connect_failed(r, err);
		return;
	}
	r->fd = -1;		/* the bufferevent owns it now */
	if ((r->bev = bufferevent_socket_new(r->ctx.base, fd, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		evutil_closesocket(fd);
		pe_test_finish(r->t, PE_INCONCLUSIVE, "no-socket");
		return;
	}
	bufferevent_setcb(r->bev, test_read, test_write, test_event, r);
	test_connected(r, r->bev);
}

static void
test_event(struct bufferevent *bev, short what, void *arg)
{
	struct run *r = arg;
	struct test *t = r->t;

	if (what & BEV_EVENT_CONNECTED) {
		if (r->connected)		/* TLS handshake finished */
			test_speak(r);
		else
			test_connected(r, bev);
		return;
	}
	if (!r->connected) {		/* the TLS filter never got going */
		pe_test_finish(t, PE_INCONCLUSIVE, "no-tls");
		return;
	}
	if (!r->tunnel && t->kind->on_hangup != NULL) {
		enum pe_step st = t->kind->on_hangup(&r->ctx, r->nread);
		if (st != PE_STEP_MORE) {
			pe_run_step(r, st);
			return;
		}
	}
	if ((t->kind->flags & PE_K_TLS) && r->nread == 0 && !r->tunnel &&
	    r->ctx.reason[0] == '\0')
		pe_test_finish(t, PE_CLOSED, "tls-failed");	/* not a TLS port */
	else if (r->nread == 0 && !r->tunnel)
		pe_test_finish(t, PE_CLOSED, "hung-up");
	else if (what & BEV_EVENT_EOF)
		pe_test_finish(t, PE_INCONCLUSIVE, r->tunnel ? "tunnel-eof" : "eof");
	else
		pe_test_finish(t, PE_INCONCLUSIVE, "reset");
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
		if (r->ctx.reason[0] == '\0')
			snprintf(r->ctx.reason, sizeof(r->ctx.reason), "no-proof");
		pe_test_finish(t, PE_CLOSED, NULL);
		return;
	}
	if (r->has_early) {
		r->has_early = 0;
		pe_run_step(r, r->early);
	} else if (r->fail != NULL) {
		pe_test_finish(t, r->fail_kind, r->fail);
	} else if (!r->connected && !(t->kind->flags & PE_K_TASK)) {
		r->port_dead = 1;
		pe_test_finish(t, PE_CLOSED, "filtered");
	} else if (t->kind->on_deadline != NULL && (r->bev != NULL || r->awaiting) && !r->tunnel) {
		kind_ends(r, r->awaiting ? NULL : "timeout", PE_STEP_INCONCLUSIVE);
	} else {
		pe_test_finish(t, PE_INCONCLUSIVE, r->tunnel ? "tunnel-timeout" : "timeout");
	}
}

/* report a failure found inside pe_test_start from the event loop, so
 * that the pump never sees its job freed under it */
static void
test_fail_soon(struct run *r, enum pe_result_kind kind, const char *reason)
{
	struct timeval tv = { 0, 0 };

	r->fail = reason;
	r->fail_kind = kind;
	evtimer_add(&r->timer, &tv);
}

void
pe_run_init(struct pe_engine *e, struct run *r, void *priv)
{
	/* the rest is written before it is read (see struct run) */
	memset(r, 0, offsetof(struct run, priv));
	r->fd = -1;
	evtimer_assign(&r->timer, e->base, test_timer, r);
	evtimer_assign(&r->ptimer, e->base, ptimer_cb, r);
	r->priv = priv;
}

/* a fresh attempt in a free slot of the job (running < reserved) */
void
pe_test_start(struct test *t)
{
	struct job *j = t->job;
	struct pe_engine *e = j->e;
	const struct pe_kind *k = t->kind;
	struct run *r = SLIST_FIRST(&j->free_runs);
	struct timeval tv;
	double limit;

	SLIST_REMOVE_HEAD(&j->free_runs, free);
	memset(r, 0, offsetof(struct run, priv));	/* the attempt's state */
	r->egress[0] = r->nonce[0] = '\0';
	r->fd = -1;
	if (k->priv_size > 0)
		memset(r->priv, 0, k->priv_size);
	r->t = t;
	t->r = r;
	if (t->attempt > 0)
		j->retrying--;
	t->st = T_RUNNING;
	t->attempt++;
	r->client = j->addr;
	if (r->client.ss_family == AF_INET)
		((struct sockaddr_in *)&r->client)->sin_port = htons(t->port);
	else
		((struct sockaddr_in6 *)&r->client)->sin6_port = htons(t->port);
	r->ctx.client = (const struct sockaddr *)&r->client;
	r->ctx.target = (const struct sockaddr *)&e->opt.canary_target;
	r->ctx.banner = e->opt.banner;
	r->ctx.target_kind = (int)e->opt.target_kind;
	r->ctx.nonce = r->nonce;
	r->ctx.priv = r->priv;
	r->ctx.base = e->base;
	r->ctx.checks = j->tm.checks != NULL ? j->tm.checks : &pe_checks_default;
	r->ctx.helo = j->tm.helo[0] != '\0' ? j->tm.helo : "localhost";
	r->ctx.ours = j->tm.ours[0] != '\0' ? j->tm.ours : r->ctx.helo;
	r->ctx.run = r;
	r->started = pe_now();
	j->running++;
	if ((k->flags & PE_K_V4_ONLY) && e->opt.canary_target.ss_family != AF_INET) {
		test_fail_soon(r, PE_CLOSED, "no-ipv4-target");
		return;
	}
	if (k->dns_rounds > 0)
		limit = pe_dns_bound(e, k->dns_rounds);
	else
		limit = k->timeout > 0 && k->timeout < j->tm.timeout ? k->timeout : j->tm.timeout;
	r->deadline = r->started + limit;
	if (k->flags & PE_K_TASK) {
		tv = pe_tv(limit);
		evtimer_add(&r->timer, &tv);
		r->starting = 1;
		k->start(&r->ctx, NULL);
		r->starting = 0;
		if (r->has_early) {	/* ended at once: report from the loop */
			tv = pe_tv(0);
			evtimer_add(&r->timer, &tv);
		}
		pe_run_step(r, PE_STEP_MORE);
		return;
	}
	tv = pe_tv(j->tm.connect_timeout < limit ? j->tm.connect_timeout : limit);
	evtimer_add(&r->timer, &tv);
	r->fd = socket(r->client.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (r->fd < 0) {
		test_fail_soon(r, PE_INCONCLUSIVE,
		    (errno == EMFILE || errno == ENFILE) ? "emfile" : "no-socket");
		return;
	}
	ST_ADD(e, connects, 1);
	if (connect(r->fd, (struct sockaddr *)&r->client, j->alen) < 0 && errno != EINPROGRESS) {
		/* settled from the loop, so that the pump never sees it */
		const char *dead = dead_port(errno);
		evutil_closesocket(r->fd);
		r->fd = -1;
		r->port_dead = dead != NULL;
		test_fail_soon(r, dead != NULL ? PE_CLOSED : PE_INCONCLUSIVE,
		    dead != NULL ? dead : "connect-failed");
		return;
	}
	event_assign(&r->cev, e->base, r->fd, EV_WRITE, connect_cb, r);
	event_add(&r->cev, NULL);
}
