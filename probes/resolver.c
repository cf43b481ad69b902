/*
 * resolver.c - DNS for the checks: one c-ares channel driven by the
 * engine's event loop.
 *
 * libevent's evdns has no MX or TXT queries; c-ares has them, and lets the
 * caller own the sockets' readiness: c-ares says which sockets it wants
 * watched (sock_state_cb), the loop tells it when they are ready
 * (ares_process_fd), and a timer wakes it for its own timeouts.  Nothing
 * here blocks.  A query belongs to the attempt (run) that made it; when
 * the attempt ends, its queries still out are cancelled (their answers are
 * dropped when c-ares delivers them: c-ares 1.18 has no per-query cancel).
 * c-ares may call a query's callback from inside ares_query (a query that
 * could not be sent): such an answer is delivered from the loop instead,
 * so that a kind never sees it while it is still sending its queries.
 *
 * The time a query may take is bounded by a timer of its own (dns.timeout):
 * its end is ARES_ETIMEOUT for the kind, whatever c-ares is still trying
 * (each try gets a third of it, two tries, c-ares doubles the second, so
 * with one server c-ares gives up at about the same time).
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/nameser.h>
#include <ares.h>
#include "engine.h"

struct pe_dnsq {
	struct pe_dns *d;
	struct run *run;		/* NULL once the attempt ended */
	pe_dns_fn fn;
	void *arg;
	int status;			/* deferred: the answer to deliver */
	unsigned char *abuf;		/* ... its copy */
	int alen;
	struct event tmo;		/* dns.timeout */
	LIST_ENTRY(pe_dnsq) link;	/* in run->dnsq */
	TAILQ_ENTRY(pe_dnsq) later;	/* in d->deferred */
};

struct sockev {
	ares_socket_t fd;
	struct event ev;
	struct sockev *next;
};

struct pe_dns {
	struct pe_engine *e;
	ares_channel ch;
	struct event tmo;		/* c-ares' next timeout */
	struct event defer;		/* deliver answers given during ares_query */
	struct sockev *socks;
	int sending;			/* inside ares_query */
	int closing;			/* inside ares_destroy */
	double timeout;			/* dns.timeout */
	TAILQ_HEAD(, pe_dnsq) deferred;
};

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_rc;

static void
library_init(void)
{
	ares_init_rc = ares_library_init(ARES_LIB_INIT_ALL);
}

static void
rearm(struct pe_dns *d)
{
	struct timeval tv, *tvp;

	if ((tvp = ares_timeout(d->ch, NULL, &tv)) != NULL)
		evtimer_add(&d->tmo, tvp);
	else
		evtimer_del(&d->tmo);
}

static void
sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pe_dns *d = arg;

	ares_process_fd(d->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	rearm(d);
}

static void
tmo_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pe_dns *d = arg;

	(void)fd;
	(void)what;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(d);
}

/* c-ares: watch fd for reading and/or writing, or no more */
static void
sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct pe_dns *d = data;
	struct sockev **pp, *s;

	for (pp = &d->socks; (s = *pp) != NULL; pp = &s->next)
		if (s->fd == fd)
			break;
	if (s != NULL) {
		event_del(&s->ev);
		if (!readable && !writable) {
			*pp = s->next;
			free(s);
			return;
		}
	} else {
		if (!readable && !writable)
			return;
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return;		/* the query times out */
		s->fd = fd;
		s->next = d->socks;
		d->socks = s;
	}
	event_assign(&s->ev, d->e->base, fd,
	    (short)((readable ? EV_READ : 0) | (writable ? EV_WRITE : 0) | EV_PERSIST), sock_cb, d);
	event_add(&s->ev, NULL);
}

/* the query leaves its attempt (c-ares still owns it: it is freed at
 * c-ares' callback) */
static void
detach(struct pe_dnsq *q)
{
	LIST_REMOVE(q, link);
	q->run->ndnsq--;
	q->run = NULL;
	evtimer_del(&q->tmo);
}

/* hand the answer to the kind, once, while the attempt lasts */
static void
deliver(struct pe_dnsq *q, int status, const unsigned char *abuf, int alen)
{
	struct run *r = q->run;

	if (r == NULL)
		return;
	if (q->d->closing) {		/* the engine is going: no kind runs */
		evtimer_del(&q->tmo);
		return;
	}
	detach(q);
	if (status != ARES_SUCCESS && status != ARES_ENOTFOUND && status != ARES_ENODATA)
		ST_ADD(q->d->e, dns_failures, 1);
	q->fn(&r->ctx, q->arg, status, status == ARES_SUCCESS ? abuf : NULL,
	    status == ARES_SUCCESS ? alen : 0);
}

static void
qtmo_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	deliver(arg, ARES_ETIMEOUT, NULL, 0);
}

static void
answer_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct pe_dnsq *q = arg;

	(void)timeouts;
	if (q->d->sending && !q->d->closing) {	/* from inside ares_query */
		q->status = status;
		/* newer c-ares answer from their cache at once: keep it */
		if (status == ARES_SUCCESS && alen > 0 &&
		    (q->abuf = malloc((size_t)alen)) != NULL) {
			memcpy(q->abuf, abuf, (size_t)alen);
			q->alen = alen;
		} else if (status == ARES_SUCCESS) {
			q->status = ARES_ENOMEM;
		}
		TAILQ_INSERT_TAIL(&q->d->deferred, q, later);
		event_active(&q->d->defer, EV_TIMEOUT, 1);
		return;
	}
	deliver(q, status, abuf, alen);
	free(q);
}

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pe_dns *d = arg;
	struct pe_dnsq *q;

	(void)fd;
	(void)what;
	while ((q = TAILQ_FIRST(&d->deferred)) != NULL) {
		TAILQ_REMOVE(&d->deferred, q, later);
		deliver(q, q->status, q->abuf, q->alen);
		free(q->abuf);
		free(q);
	}
}

struct pe_dns *
pe_dns_new(struct pe_engine *e, char *err, size_t errlen)
{
	struct pe_dns *d;
	struct ares_options o;
	int rc, ms;
	double timeout = e->opt.dns_timeout > 0 ? e->opt.dns_timeout : 3.0;

	pthread_once(&ares_once, library_init);
	if (ares_init_rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(ares_init_rc));
		return NULL;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->e = e;
	TAILQ_INIT(&d->deferred);
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = d;
	o.tries = 2;
	ms = (int)(timeout * 1000.0 / 3.0);
	o.timeout = ms < 100 ? 100 : ms;
#ifdef ARES_OPT_QUERY_CACHE
	/* c-ares >= 1.23 caches answers: the TTLs are the checks' business */
	o.qcache_max_ttl = 0;
#define PE_ARES_QCACHE ARES_OPT_QUERY_CACHE
#else
#define PE_ARES_QCACHE 0
#endif
	if ((rc = ares_init_options(&d->ch, &o,
	    ARES_OPT_SOCK_STATE_CB | ARES_OPT_TRIES | ARES_OPT_TIMEOUTMS | PE_ARES_QCACHE)) !=
	    ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		free(d);
		return NULL;
	}
	if (e->opt.dns_resolver[0] != '\0' &&
	    (rc = ares_set_servers_ports_csv(d->ch, e->opt.dns_resolver)) != ARES_SUCCESS) {
		snprintf(err, errlen, "dns resolver \"%s\": %s", e->opt.dns_resolver,
		    ares_strerror(rc));
		ares_destroy(d->ch);
		free(d);
		return NULL;
	}
	d->timeout = timeout;
	evtimer_assign(&d->tmo, e->base, tmo_cb, d);
	event_assign(&d->defer, e->base, -1, 0, defer_cb, d);
	return d;
}

void
pe_dns_free(struct pe_dns *d)
{
	struct pe_dnsq *q;

	if (d == NULL)
		return;
	d->closing = 1;
	ares_destroy(d->ch);		/* every query's callback: dropped */
	while ((q = TAILQ_FIRST(&d->deferred)) != NULL) {
		TAILQ_REMOVE(&d->deferred, q, later);
		evtimer_del(&q->tmo);
		free(q->abuf);
		free(q);
	}
	while (d->socks != NULL) {
		struct sockev *s = d->socks;
		d->socks = s->next;
		event_del(&s->ev);
		free(s);
	}
	evtimer_del(&d->tmo);
	event_del(&d->defer);
	free(d);
}

int
pe_dns_query(struct pe_ctx *ctx, const char *name, int type, pe_dns_fn fn, void *arg)
{
	struct run *r = ctx->run;
	struct pe_dns *d;
	struct pe_dnsq *q;
	struct timeval tv;

	if (r == NULL || (d = r->t->job->e->dns) == NULL || (q = calloc(1, sizeof(*q))) == NULL)
		return -1;
	q->d = d;
	q->run = r;
	q->fn = fn;
	q->arg = arg;
	LIST_INSERT_HEAD(&r->dnsq, q, link);
	r->ndnsq++;
	tv = pe_tv(d->timeout);
	evtimer_assign(&q->tmo, d->e->base, qtmo_cb, q);
	evtimer_add(&q->tmo, &tv);
	ST_ADD(d->e, dns_queries, 1);
	d->sending = 1;
	ares_query(d->ch, name, ns_c_in, type, answer_cb, q);
	d->sending = 0;
	rearm(d);
	return 0;
}

int
pe_dns_pending(const struct pe_ctx *ctx)
{
	return ctx->run != NULL ? ctx->run->ndnsq : 0;
}

void
pe_dns_cancel_run(struct run *r)
{
	struct pe_dnsq *q;

	while ((q = LIST_FIRST(&r->dnsq)) != NULL)
		detach(q);
}

int
pe_dns_ttl(long ttl)
{
	return ttl < PE_DNS_MIN_TTL ? PE_DNS_MIN_TTL : ttl > PE_DNS_MAX_TTL ? PE_DNS_MAX_TTL : (int)ttl;
}
