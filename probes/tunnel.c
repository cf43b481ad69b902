/*
 * tunnel.c - a proxy claims a tunnel: the proof conversation through it.
 *
 * proof.c knows the conversation line by line (pe_tunnel_line: the target's
 * greeting first -- anything else is a foreign peer --, then the nonce);
 * this file hands it the attempt's bytes, ends the attempt with the answer,
 * keeps a POST's nonce alive a moment for the canary (linger), and closes
 * sessions with mail servers politely.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include "engine.h"

/* the canary saw the nonce of this attempt */
void
pe_proved_hook(void *owner, const char *egress)
{
	struct run *r = owner;

	/* only a proxy test's nonce proves a proxy (a connect-back's that
	 * reaches the canary proves nothing of the kind) */
	if (r->t == NULL || !(r->t->kind->flags & PE_K_PROXY))
		return;
	snprintf(r->egress, sizeof(r->egress), "%s", egress);
	pe_test_finish(r->t, PE_OPEN, "proved");
}

/* connections being closed politely; the engine frees what is left at stop */
struct closer {
	TAILQ_ENTRY(closer) link;
	struct pe_engine *e;
	struct bufferevent *bev;
	struct event end;		/* 2 s, however the peer trickles */
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
	evtimer_del(&c->end);
	bufferevent_free(c->bev);
	free(c);
}

static void
closer_end(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	closer_free(arg);
}

static void
closer_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)bev;
	closer_free(arg);
}

void
pe_closers_free(struct pe_engine *e)
{
	while (!TAILQ_EMPTY(&e->closers))
		closer_free(TAILQ_FIRST(&e->closers));
}

/* end a session with a mail server politely: what we wrote (QUIT) goes out,
 * then we wait for the server to close, at most 2 s; the attempt no longer
 * owns the connection */
void
pe_polite_close(struct run *r)
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
	evtimer_assign(&c->end, c->e->base, closer_end, c);
	evtimer_add(&c->end, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* the tunnel is claimed: proof.c leads the conversation, line by line */
void
pe_tunnel_read(struct run *r, struct evbuffer *in, struct evbuffer *out)
{
	struct test *t = r->t;
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		enum pe_tstep st = pe_tunnel_line(&r->tn, &r->ctx, line, n, out);
		free(line);
		switch (st) {
		case PE_T_MORE:
			continue;
		case PE_T_OPEN_QUIT:
			pe_polite_close(r);
			/* FALLTHROUGH */
		case PE_T_OPEN:
			pe_test_finish(t, PE_OPEN, NULL);
			return;
		case PE_T_CLOSED:
			pe_test_finish(t, PE_CLOSED, NULL);
			return;
		case PE_T_INCONCLUSIVE:
			pe_test_finish(t, PE_INCONCLUSIVE, NULL);
			return;
		}
	}
	if (evbuffer_get_length(in) > 1024) {
		pe_set_reason(&r->ctx, "foreign-peer", evbuffer_pullup(in, 64), 64);
		pe_test_finish(t, PE_CLOSED, NULL);
		return;
	}
	if (r->tn.kind == PE_TARGET_MTA && r->tn.nonce_sent && !r->mta_waiting)
		pe_mwait_add(r);
}

/* set up the tunnel conversation when the kind claims a tunnel */
void
pe_tunnel_begin(struct run *r)
{
	struct test *t = r->t;
	struct job *j = t->job;
	struct pe_engine *e = j->e;
	struct pe_tunnel *tn = &r->tn;

	memset(tn, 0, sizeof(*tn));
	tn->kind = (int)e->opt.target_kind;
	tn->banner = e->opt.banner;
	tn->nonce = r->nonce;
	tn->proof = e->proof;
	if (e->opt.target_kind == PE_TARGET_BANNER && e->opt.mail_rcpt[0] != '\0') {
		char a[PE_ADDRSTR_MAX];
		pe_addr_str((struct sockaddr *)&j->addr, a, sizeof(a));
		tn->want_mail = 1;
		tn->mail.rcpt = e->opt.mail_rcpt;
		tn->mail.tag = e->opt.mail_tag;
		tn->mail.agent = e->opt.mail_agent;
		tn->mail.nonce = r->nonce;
		snprintf(tn->mail.spec, sizeof(tn->mail.spec),
		    j->addr.ss_family == AF_INET6 ? "[%s]:%u/%s" : "%s:%u/%s",
		    a, t->port, pe_test_name(t));
	}
}

/* the answer to a request that carried the nonce (POST) proves nothing:
 * keep the nonce registered a moment for the canary, then give up */
void
pe_linger(struct run *r)
{
	double left = r->deadline - pe_now();
	struct timeval tv = pe_tv(left < 2.0 ? left : 2.0);

	r->lingering = 1;
	if (r->bev != NULL) {
		bufferevent_free(r->bev);
		r->bev = NULL;
	}
	evtimer_add(&r->timer, &tv);
}
