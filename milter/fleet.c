/*
 * fleet.c - verdicts shared between MX hosts through Redis (see fleet.h),
 * with hiredis' async API on the side loop (side.c).
 *
 * Two connections: one for commands, one subscribed to the channel (a
 * subscribed connection takes no other commands).  "up" means both are
 * connected, AUTH and SELECT done (a PING answered) and the SUBSCRIBE
 * confirmed; until then, and whenever Redis is down, claims are probed at
 * once and shares are dropped: the local table serves.
 *
 * A claim (an address this host has no verdict for) sends GET v:ADDR and
 * SET c:ADDR "host pid" NX PX pending_ttl together.  The answers decide:
 * a fresh verdict there -> it goes into the table (the local waiters wake)
 * and no probe; the claim got -> probe; another host's claim -> wait for
 * its verdict, which comes through the channel, for as long as its probe
 * set may take (+1 s), then probe if it has not come.  No answer within
 * fleet.timeout -> probe (counted as a fallback); a late answer is then
 * only logged.  A final verdict is written with EX = its TTL, the claim is
 * deleted, and the verdict is published; a peer keeps a published
 * proof or listing (a host that has not seen the client yet will know it
 * at its first connection), but a clean verdict only when it is waiting
 * for it, so that the tables do not all fill with every host's clean
 * clients.  Error verdicts are this host's own (overload, a quarantine):
 * never shared, but the claim is released.
 *
 * A Redis that stops answering (no reply for FLEET_STUCK seconds while
 * commands wait) is dropped like a lost connection.  Reconnection: after
 * 0.5 s, doubling up to 30 s; the state is logged once per change (up,
 * down with the reason).  At most FLEET_MAX_OUT commands wait for
 * answers; beyond that, claims are probed at once and shares dropped.
 * Values and messages that are not ours (vrec_parse) are ignored, counted
 * and logged at most once a second.
 */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>
#include "milter.h"
#include "pmconfig.h"
#include "fleet.h"
#include "side.h"
#include "vrec.h"

#define FLEET_MAX_OUT 4096	/* commands waiting for answers */
#define FLEET_STUCK 3.0		/* seconds without an answer while some wait */
#define FLEET_RETRY_MIN 0.5
#define FLEET_RETRY_MAX 30.0

static struct {
	int on;				/* fleet.redis is set */
	char where[300];		/* for logs: fleet.redis as written */
	char host[256];
	int port;
	const char *path;		/* unix socket, or NULL */
	char prefix[80];
	char channel[96];
	char *password;
	int database;
	double timeout;
	char id[300];			/* the claim's value: "host pid" */

	/* side loop only */
	redisAsyncContext *cmd, *sub;
	int cmd_ready, sub_ready;
	int logged;			/* state last logged: 1 up, 0 down, -1 none */
	double retry;			/* next back-off */
	struct event *retry_ev, *health_ev;
	unsigned out;			/* commands on cmd waiting for answers */
	double last_reply;
	double bad_logged;

	struct fleet_stats st;		/* atomics: read from any thread */
} F;

#define STAT(f) __atomic_add_fetch(&F.st.f, 1, __ATOMIC_RELAXED)

static void connect_all(void);

int
fleet_enabled(void)
{
	return F.on;
}

void
fleet_stats(struct fleet_stats *s)
{
	s->up = __atomic_load_n(&F.st.up, __ATOMIC_RELAXED);
#define LD(f) s->f = __atomic_load_n(&F.st.f, __ATOMIC_RELAXED)
	LD(hits); LD(learnt); LD(shared); LD(errors); LD(bad); LD(fallbacks);
#undef LD
}

static int
is_up(void)
{
	return F.cmd != NULL && F.sub != NULL && F.cmd_ready && F.sub_ready;
}

/* log the state when it changed since last logged */
static void
set_state(const char *reason)
{
	int up = is_up();
	struct lb l;

	__atomic_store_n(&F.st.up, up, __ATOMIC_RELAXED);
	if (up == F.logged || (!up && reason == NULL))
		return;		/* no change, or still connecting */
	F.logged = up;
	lb_init(&l, NULL, "fleet");
	lb_kv(&l, "redis", F.where);
	lb_kv(&l, "state", up ? "up" : "down");
	if (!up && reason != NULL)
		lb_kv(&l, "reason", reason);
	if (!up)
		lb_kvf(&l, "retry", "%.1fs", F.retry);
	lb_emit(&l, up ? LOG_NOTICE : LOG_WARNING);
}

static void
bad_value(const char *what, const char *addr, const char *why)
{
	double now = vt_now();
	struct lb l;

	STAT(bad);
	if (now - F.bad_logged < 1.0)
		return;
	F.bad_logged = now;
	lb_init(&l, NULL, "fleet");
	lb_kv(&l, "ignored", what);
	if (addr != NULL)
		lb_kvf(&l, "client", "[%s]", addr);
	lb_kv(&l, "reason", why);
	lb_emit(&l, LOG_WARNING);
}

/* ---- connections ---------------------------------------------------------- */

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	connect_all();
}

static void
schedule_retry(void)
{
	struct timeval tv;

	if (evtimer_pending(F.retry_ev, NULL))
		return;
	tv.tv_sec = (time_t)F.retry;
	tv.tv_usec = (suseconds_t)((F.retry - (double)tv.tv_sec) * 1e6);
	evtimer_add(F.retry_ev, &tv);
	F.retry = F.retry * 2 > FLEET_RETRY_MAX ? FLEET_RETRY_MAX : F.retry * 2;
}

/* hiredis frees the context after this callback (either one) */
static void
lost(const redisAsyncContext *ac, const char *why)
{
	if (ac != F.cmd && ac != F.sub)
		return;		/* one we dropped ourselves (health_cb) */
	if (ac == F.cmd) {
		F.cmd = NULL;
		F.cmd_ready = 0;
		F.out = 0;
	} else if (ac == F.sub) {
		F.sub = NULL;
		F.sub_ready = 0;
	}
	STAT(errors);
	set_state(why);
	schedule_retry();
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK)
		lost(ac, ac->errstr[0] != '\0' ? ac->errstr : "cannot connect");
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	lost(ac, status == REDIS_OK ? "disconnected" : ac->errstr[0] != '\0' ? ac->errstr :
	    "connection lost");
}

/* a reply on the command connection (every callback starts with this) */
static void
answered(redisAsyncContext *ac)
{
	if (ac == F.cmd && F.out > 0)
		F.out--;
	F.last_reply = vt_now();
}

/* the answer to a command nobody waits for */
static void
on_ack(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *rp = r;

	(void)arg;
	answered(ac);
	if (rp != NULL && rp->type == REDIS_REPLY_ERROR)
		STAT(errors);
}

static int
send_cmd(redisCallbackFn *fn, void *arg, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (F.cmd == NULL)
		return -1;
	if (fn == NULL)
		fn = on_ack;
	va_start(ap, fmt);
	r = redisvAsyncCommand(F.cmd, fn, arg, fmt, ap);
	va_end(ap);
	if (r != REDIS_OK)
		return -1;
	if (F.out++ == 0)
		F.last_reply = vt_now();	/* the wait starts now */
	return 0;
}

/* an answer to AUTH, SELECT or PING: errors drop the connection */
static void
on_setup(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *rp = r;
	char why[200];

	answered(ac);
	if (rp == NULL)
		return;		/* lost: on_disconnect says why */
	if (rp->type == REDIS_REPLY_ERROR) {
		snprintf(why, sizeof(why), "%s: %.*s", (const char *)arg, (int)rp->len, rp->str);
		F.logged = -1;	/* say it even if already down */
		STAT(errors);
		F.retry = FLEET_RETRY_MAX;	/* a config error: no quick retries */
		redisAsyncDisconnect(ac);
		if (ac == F.cmd)
			F.cmd_ready = 0;
		else
			F.sub_ready = 0;
		set_state(why);
		return;
	}
	if (strcmp(arg, "PING") == 0) {
		F.cmd_ready = 1;
		F.retry = FLEET_RETRY_MIN;
		set_state(NULL);
	}
}

static void on_message(redisAsyncContext *, void *, void *);

static redisAsyncContext *
open_one(int subscriber)
{
	redisAsyncContext *ac = F.path != NULL ? redisAsyncConnectUnix(F.path) :
	    redisAsyncConnect(F.host, F.port);

	if (ac == NULL || ac->err) {
		STAT(errors);
		set_state(ac != NULL && ac->errstr[0] != '\0' ? ac->errstr : "cannot connect");
		if (ac != NULL)
			redisAsyncFree(ac);
		schedule_retry();
		return NULL;
	}
	redisLibeventAttach(ac, side_base());
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (F.password[0] != '\0')
		redisAsyncCommand(ac, on_setup, "AUTH", "AUTH %s", F.password);
	if (subscriber) {
		redisAsyncCommand(ac, on_message, NULL, "SUBSCRIBE %s", F.channel);
	} else {
		if (F.database != 0)
			redisAsyncCommand(ac, on_setup, "SELECT", "SELECT %d", F.database);
		redisAsyncCommand(ac, on_setup, "PING", "PING");
		/* these wait for answers too (the stuck check) */
		F.out = 1 + (F.password[0] != '\0') + (F.database != 0);
		F.last_reply = vt_now();
	}
	return ac;
}

static void
connect_all(void)
{
	if (F.cmd == NULL)
		F.cmd = open_one(0);
	if (F.sub == NULL)
		F.sub = open_one(1);
}

/* a Redis that takes commands and answers none is as good as down */
static void
health_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (F.cmd != NULL && F.out > 0 && vt_now() - F.last_reply > FLEET_STUCK) {
		redisAsyncContext *ac = F.cmd;
		char why[80];
		snprintf(why, sizeof(why), "no answer for %.0f s", FLEET_STUCK);
		F.cmd = NULL;
		F.cmd_ready = 0;
		F.out = 0;
		STAT(errors);
		set_state(why);
		/* its callbacks run now, with no reply; the disconnect
		 * callback too (lost() finds no match: F.cmd is NULL) */
		redisAsyncFree(ac);
		schedule_retry();
	}
}

static int
split_redis(const char *s)
{
	const char *colon = strrchr(s, ':');
	size_t n;

	if (strncmp(s, "unix:", 5) == 0) {
		F.path = s + 5;
		return 0;
	}
	if (colon == NULL)
		return -1;
	n = (size_t)(colon - s);
	if (s[0] == '[' && n >= 2) {	/* [V6]:PORT */
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(F.host))
		return -1;
	memcpy(F.host, s, n);
	F.host[n] = '\0';
	F.port = atoi(colon + 1);
	return 0;
}

int
fleet_init(const struct pm_config *cf, char *err, size_t errlen)
{
	if (cf->fleet.redis[0] == '\0')
		return 0;
	snprintf(F.where, sizeof(F.where), "%s", cf->fleet.redis);
	if (split_redis(F.where) < 0) {
		snprintf(err, errlen, "fleet.redis: \"%s\" is not HOST:PORT or unix:/path", F.where);
		return -1;
	}
	snprintf(F.prefix, sizeof(F.prefix), "%s", cf->fleet.key_prefix);
	snprintf(F.channel, sizeof(F.channel), "%sverdicts", F.prefix);
	if ((F.password = strdup(cf->fleet.password)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	F.database = cf->fleet.database;
	F.timeout = cf->fleet.timeout;
	snprintf(F.id, sizeof(F.id), "%s %ld", pm.hostname, (long)getpid());
	F.logged = -1;
	F.retry = FLEET_RETRY_MIN;
	if (side_base() == NULL ||
	    (F.retry_ev = evtimer_new(side_base(), retry_cb, NULL)) == NULL ||
	    (F.health_ev = event_new(side_base(), -1, EV_PERSIST, health_cb, NULL)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	{
		struct timeval one = { 1, 0 };
		evtimer_add(F.health_ev, &one);
	}
	F.on = 1;
	/* the first connection is made on the loop; until it is up, the
	 * local table serves */
	if (side_call((void (*)(void *))connect_all, NULL) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- claims --------------------------------------------------------------- */

struct claim {
	struct preq *q;			/* NULL once decided */
	double pending_ttl, wait;
	int refs;			/* replies and the timer */
	int have;			/* a verdict came with GET */
	struct vrec rec;
	struct event *timer;
};

static void
claim_unref(struct claim *c)
{
	if (--c->refs > 0)
		return;
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->q != NULL)
		pm_submit(c->q);	/* not reached: the timer decides at the latest */
	free(c);
}

static void
claim_probe(struct claim *c)
{
	struct preq *q = c->q;

	c->q = NULL;
	pm_submit(q);
}

static void
claim_line(const struct claim *c, const char *key, const char *value)
{
	struct lb l;

	lb_init(&l, "NOQUEUE", "fleet");
	lb_kv(&l, "sess", c->q->sess);
	lb_kvf(&l, "client", "[%s]", c->q->addr);
	lb_kv(&l, key, value);
	if (c->have) {
		lb_kv(&l, "verdict", vt_state_name(c->rec.state));
		if (c->rec.evidence[0] != '\0')
			lb_kv(&l, "evidence", c->rec.evidence);
		lb_kvf(&l, "age", "%llds", (long long)(time(NULL) - c->rec.set_at));
	}
	lb_emit(&l, LOG_INFO);
}

/* a peer's claim: its verdict comes through the channel; if it has not
 * come when the peer's probes must have ended, probe */
static void
wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct claim *c = arg;
	struct vt_info v;

	(void)fd;
	(void)what;
	vt_get(pm.vt, &c->q->a, vt_now(), &v);
	if (v.state != VT_PENDING && v.state != VT_NONE) {
		pm_unsubmit(c->q);
		c->q = NULL;
	} else {
		STAT(fallbacks);
		claim_line(c, "peer", "silent");
		claim_probe(c);
	}
	claim_unref(c);
}

static void
timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct claim *c = arg;

	(void)fd;
	(void)what;
	if (c->q != NULL) {
		STAT(fallbacks);
		STAT(errors);
		claim_line(c, "redis", "timeout");
		claim_probe(c);
	}
	claim_unref(c);
}

static void
on_get(redisAsyncContext *ac, void *r, void *arg)
{
	struct claim *c = arg;
	redisReply *rp = r;
	const char *why;
	char a[64];

	answered(ac);
	if (rp != NULL && c->q != NULL) {
		if (rp->type == REDIS_REPLY_STRING) {
			if (vrec_parse(rp->str, rp->len, &c->rec, &why) < 0)
				bad_value("value", c->q->addr, why);
			else if (c->rec.flush || c->rec.all ||
			    strcmp(pm_addr_str(&c->rec.a, a, sizeof(a)), c->q->addr) != 0)
				bad_value("value", c->q->addr, "another address's verdict");
			else
				c->have = 1;
		} else if (rp->type != REDIS_REPLY_NIL) {
			bad_value("value", c->q->addr, rp->type == REDIS_REPLY_ERROR ?
			    "an error reply" : "not a string");
		}
	}
	claim_unref(c);
}

static void
on_set(redisAsyncContext *ac, void *r, void *arg)
{
	struct claim *c = arg;
	redisReply *rp = r;
	int got = rp != NULL && rp->type == REDIS_REPLY_STATUS && strcasecmp(rp->str, "OK") == 0;

	answered(ac);
	if (c->q == NULL) {		/* decided by the timeout: we probe */
		claim_unref(c);
		return;
	}
	event_del(c->timer);
	claim_unref(c);			/* the timer's reference */
	if (c->have && vrec_apply(pm.vt, &c->rec, VT_PUT_NEWER, vt_now(), time(NULL))) {
		STAT(hits);
		claim_line(c, "from", "redis");
		if (got)	/* ours by a hair: let it go */
			send_cmd(NULL, NULL, "DEL %sc:%s", F.prefix, c->q->addr);
		pm_unsubmit(c->q);
		c->q = NULL;
	} else if (got || rp == NULL || rp->type != REDIS_REPLY_NIL) {
		if (!got) {
			STAT(errors);
			STAT(fallbacks);
		}
		claim_probe(c);
	} else {			/* another host's claim */
		struct timeval tv;
		double w = c->wait + 1.0;
		claim_line(c, "wait", "peer");
		c->refs++;
		event_assign(c->timer, side_base(), -1, 0, wait_cb, c);
		tv.tv_sec = (time_t)w;
		tv.tv_usec = (suseconds_t)((w - (double)tv.tv_sec) * 1e6);
		evtimer_add(c->timer, &tv);
	}
	claim_unref(c);
}

static void
do_claim(void *arg)
{
	struct claim *c = arg;
	struct timeval tv;
	char a[64];
	long long px = (long long)(c->pending_ttl * 1000.0);

	pm_addr_str(&c->q->a, a, sizeof(a));
	if (!is_up() || F.out + 2 > FLEET_MAX_OUT ||
	    (c->timer = evtimer_new(side_base(), timeout_cb, c)) == NULL) {
		STAT(fallbacks);
		claim_probe(c);
		free(c);
		return;
	}
	c->refs = 1;			/* the timer */
	if (send_cmd(on_get, c, "GET %sv:%s", F.prefix, a) == 0)
		c->refs++;
	if (send_cmd(on_set, c, "SET %sc:%s %s NX PX %lld", F.prefix, a, F.id, px) == 0)
		c->refs++;
	else {				/* the connection broke: probe */
		event_free(c->timer);
		c->timer = NULL;
		c->refs--;
		STAT(fallbacks);
		claim_probe(c);
		if (c->refs == 0)
			free(c);
		return;
	}
	tv.tv_sec = (time_t)F.timeout;
	tv.tv_usec = (suseconds_t)((F.timeout - (double)tv.tv_sec) * 1e6);
	evtimer_add(c->timer, &tv);
}

void
fleet_claim(struct preq *q, double pending_ttl, double wait)
{
	struct claim *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		pm_submit(q);
		return;
	}
	c->q = q;
	c->pending_ttl = pending_ttl;
	c->wait = wait;
	if (side_call(do_claim, c) < 0) {
		free(c);
		pm_submit(q);
	}
}

/* ---- shares, flushes, messages ---------------------------------------------- */

struct share {
	struct vrec rec;
	int publish;			/* a class that travels */
};

static void
do_share(void *arg)
{
	struct share *s = arg;
	char a[64], line[VREC_MAX];
	long long ttl = s->rec.expires - time(NULL);

	pm_addr_str(&s->rec.a, a, sizeof(a));
	if (is_up() && F.out + 3 <= FLEET_MAX_OUT) {
		if (s->publish && ttl > 0) {
			vrec_format(&s->rec, line, sizeof(line));
			send_cmd(NULL, NULL, "SET %sv:%s %s EX %lld", F.prefix, a, line, ttl);
			send_cmd(NULL, NULL, "PUBLISH %s %s", F.channel, line);
			STAT(shared);
		}
		send_cmd(NULL, NULL, "DEL %sc:%s", F.prefix, a);
	}
	free(s);
}

void
fleet_share(const struct pm_addr *a, const struct vt_info *v)
{
	struct share *s;
	struct vt_entry e;

	if (!F.on || (s = calloc(1, sizeof(*s))) == NULL)
		return;
	e.a = *a;
	e.v = *v;
	vrec_from_entry(&e, vt_now(), time(NULL), &s->rec);
	s->publish = vrec_shared_state(v->state);
	if (side_call(do_share, s) < 0)
		free(s);
}

/* SCAN ... MATCH v:*, and DEL what it finds, until the cursor is back at 0 */
static void
on_scan(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *rp = r, *keys;

	(void)arg;
	answered(ac);
	if (rp == NULL || rp->type != REDIS_REPLY_ARRAY || rp->elements != 2 ||
	    rp->element[0]->type != REDIS_REPLY_STRING ||
	    rp->element[1]->type != REDIS_REPLY_ARRAY)
		return;
	keys = rp->element[1];
	for (size_t i = 0; i < keys->elements; i++)
		if (keys->element[i]->type == REDIS_REPLY_STRING)
			send_cmd(NULL, NULL, "DEL %b", keys->element[i]->str,
			    (size_t)keys->element[i]->len);
	if (strcmp(rp->element[0]->str, "0") != 0)
		send_cmd(on_scan, NULL, "SCAN %s MATCH %sv:* COUNT 1000",
		    rp->element[0]->str, F.prefix);
}

static void
do_flush(void *arg)
{
	struct vrec *r = arg;
	char a[64], line[VREC_MAX];

	if (is_up()) {
		vrec_format(r, line, sizeof(line));
		if (r->all) {
			send_cmd(on_scan, NULL, "SCAN 0 MATCH %sv:* COUNT 1000", F.prefix);
		} else {
			pm_addr_str(&r->a, a, sizeof(a));
			send_cmd(NULL, NULL, "DEL %sv:%s", F.prefix, a);
		}
		send_cmd(NULL, NULL, "PUBLISH %s %s", F.channel, line);
	}
	free(r);
}

void
fleet_flush(const struct pm_addr *a)
{
	struct vrec *r;

	if (!F.on || (r = calloc(1, sizeof(*r))) == NULL)
		return;
	r->flush = 1;
	if (a != NULL)
		r->a = *a;
	else
		r->all = 1;
	if (side_call(do_flush, r) < 0)
		free(r);
}

/* the subscribed connection: the SUBSCRIBE confirmation, then messages */
static void
on_message(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *rp = r, *kind, *payload;
	struct vrec rec;
	const char *why;
	char a[64];
	struct lb l;

	(void)arg;
	if (rp == NULL || ac != F.sub)
		return;
	if (rp->type == REDIS_REPLY_ERROR) {
		on_setup(ac, r, "SUBSCRIBE");
		return;
	}
	if (rp->type != REDIS_REPLY_ARRAY || rp->elements != 3 ||
	    (kind = rp->element[0])->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(kind->str, "subscribe") == 0) {
		F.sub_ready = 1;
		set_state(NULL);
		return;
	}
	if (strcmp(kind->str, "message") != 0)
		return;
	payload = rp->element[2];
	if (payload->type != REDIS_REPLY_STRING) {
		bad_value("message", NULL, "not a string");
		return;
	}
	if (vrec_parse(payload->str, payload->len, &rec, &why) < 0) {
		bad_value("message", NULL, why);
		return;
	}
	if (rec.flush) {
		if (rec.all)
			vt_flush_all(pm.vt);
		else
			vt_flush(pm.vt, &rec.a);
		lb_init(&l, NULL, "flush");
		if (rec.all)
			lb_kv(&l, "client", "all");
		else
			lb_kvf(&l, "client", "[%s]", pm_addr_str(&rec.a, a, sizeof(a)));
		lb_kv(&l, "by", "peer");
		lb_emit(&l, LOG_NOTICE);
		return;
	}
	if (!vrec_shared_state(rec.state)) {
		bad_value("message", NULL, "a class that is not shared");
		return;
	}
	if (vrec_apply(pm.vt, &rec, rec.state == VT_CLEAN ? VT_PUT_PENDING : VT_PUT_NEWER,
	    vt_now(), time(NULL))) {
		STAT(learnt);
		lb_init(&l, "NOQUEUE", "fleet");
		lb_kvf(&l, "client", "[%s]", pm_addr_str(&rec.a, a, sizeof(a)));
		lb_kv(&l, "from", "peer");
		lb_kv(&l, "verdict", vt_state_name(rec.state));
		if (rec.evidence[0] != '\0')
			lb_kv(&l, "evidence", rec.evidence);
		lb_kvf(&l, "ttl", "%llds", (long long)(rec.expires - time(NULL)));
		lb_emit(&l, LOG_INFO);
	}
}
