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
 * A claim (an address this host has no verdict for) sends GETRANGE
 * v:ADDR (a value longer than a verdict line is never read whole) and SET
 * c:ADDR "host:pid" NX PX pending_ttl together.  The answers decide: a
 * fresh verdict there -> it goes into the table (the local waiters wake)
 * and no probe; the claim got -> probe; another host's claim -> wait for
 * its verdict, which comes through the channel, for as long as its probe
 * set may take (+1 s), then probe if it has not come.  No answer within
 * fleet.timeout -> probe (counted as a fallback); a late answer is then
 * ignored.  Whenever a claim ends in a probe, the table is looked at
 * first: a peer's verdict may have come meanwhile.  A final verdict is
 * written with EX = its TTL (capped, from Redis, at our longest TTL), the
 * claim is let go if it is still ours (a Lua compare-and-delete), and the
 * verdict is published as "host:pid LINE" (a host skips its own); a peer
 * keeps a published
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
 * and logged at most once a second.  The Redis address is numeric (no DNS
 * on this loop); both connections have TCP keepalive.  At stop, claims
 * still undecided end unprobed (fleet_stop).
 */
#include "config.h"
#include <pthread.h>
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
	char id[300];			/* "host:pid": the claim's value, the publisher */
	long max_ttl;			/* the longest verdict TTL we would set */

	/* side loop only */
	redisAsyncContext *cmd, *sub;
	int cmd_ready, sub_ready;
	int cmd_failed, sub_failed;	/* a setup command failed: not ready this time */
	int logged;			/* state last logged: 1 up, 0 down, -1 none */
	char reason[200];		/* ... and the reason last logged for down */
	int stopping;
	struct claim *claims;		/* live ones, for fleet_stop */
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
	if (!up && reason == NULL)
		return;		/* still connecting */
	/* once per change; down again for another reason is a change too
	 * (a refused AUTH after a lost connection) */
	if (up == F.logged && (up || strcmp(reason, F.reason) == 0))
		return;
	F.logged = up;
	snprintf(F.reason, sizeof(F.reason), "%s", up ? "" : reason);
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
	struct timeval tv = pe_tv(F.retry);

	if (evtimer_pending(F.retry_ev, NULL))
		return;
	evtimer_add(F.retry_ev, &tv);
	F.retry = F.retry * 2 > FLEET_RETRY_MAX ? FLEET_RETRY_MAX : F.retry * 2;
}

/* hiredis frees the context after this callback (either one) */
static void
lost(const redisAsyncContext *ac, const char *why)
{
	int failed;

	if (ac != F.cmd && ac != F.sub)
		return;		/* one we dropped ourselves (health_cb) */
	if (ac == F.cmd) {
		failed = F.cmd_failed;
		F.cmd = NULL;
		F.cmd_ready = 0;
		F.out = 0;
	} else {
		failed = F.sub_failed;
		F.sub = NULL;
		F.sub_ready = 0;
	}
	if (!failed)
		STAT(errors);
	set_state(failed ? NULL : why);	/* the set-up's error said why */
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
		if ((ac == F.cmd && F.cmd_failed) || (ac == F.sub && F.sub_failed))
			return;	/* the first error of this connection said it */
		snprintf(why, sizeof(why), "%s: %.*s", (const char *)arg, (int)rp->len, rp->str);
		STAT(errors);
		F.retry = FLEET_RETRY_MAX;	/* a config error: no quick retries */
		/* deferred by hiredis: the replies already read still come,
		 * and the PING's must not make this connection ready */
		redisAsyncDisconnect(ac);
		if (ac == F.cmd)
			F.cmd_ready = 0, F.cmd_failed = 1;
		else
			F.sub_ready = 0, F.sub_failed = 1;
		set_state(why);
		return;
	}
	if (strcmp(arg, "PING") == 0 && ac == F.cmd && !F.cmd_failed) {
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
	/* a peer that vanished (a partition, a NAT timeout) shows up as a
	 * dead connection within a minute, the subscribed one too */
	redisEnableKeepAlive(&ac->c);
	if (subscriber)
		F.sub_failed = 0;
	else
		F.cmd_failed = 0;
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
	snprintf(F.id, sizeof(F.id), "%s:%ld", pm.hostname, (long)getpid());
	for (char *p = F.id; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f)
			*p = '_';
	F.max_ttl = cf->verdict.open_ttl;
	if (cf->verdict.clean_ttl > F.max_ttl)
		F.max_ttl = cf->verdict.clean_ttl;
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

/* the claim's key, let go only if it is still ours (it may have expired
 * and be another host's by now) */
#define RELEASE "if redis.call('get', KEYS[1]) == ARGV[1] then " \
	"return redis.call('del', KEYS[1]) else return 0 end"

struct claim {
	struct preq *q;			/* NULL once decided */
	double pending_ttl, wait;
	int refs;			/* replies and the timer */
	int have;			/* a verdict came with GET */
	struct vrec rec;
	struct event *timer;
	struct claim *prev, *next;	/* F.claims, while undecided */
};

static void
claim_unref(struct claim *c)
{
	if (--c->refs > 0)
		return;
	if (c->timer != NULL)
		event_free(c->timer);
	free(c);
}

/*
 * The end of a claim: probe the client, or not (a verdict came).  A verdict
 * may also have come by the channel meanwhile: then no probe either.
 */
static void
claim_decide(struct claim *c, int probe)
{
	struct preq *q = c->q;
	struct vt_info v;

	c->q = NULL;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else if (F.claims == c)
		F.claims = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	if (probe && !F.stopping) {
		vt_get(pm.vt, &q->a, vt_now(), &v);
		probe = v.state == VT_PENDING || v.state == VT_NONE;
	} else {
		probe = 0;
	}
	if (probe)
		pm_submit(q);
	else
		pm_unsubmit(q);
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

/* a verdict from Redis lasts no longer than one of ours would */
static void
cap_ttl(struct vrec *r)
{
	int64_t now = time(NULL);

	if (r->expires - now > F.max_ttl)
		r->expires = now + F.max_ttl;
}

/* a peer's claim: its verdict comes through the channel; if it has not
 * come when the peer's probes must have ended, probe */
static void
wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct claim *c = arg;

	(void)fd;
	(void)what;
	if (c->q != NULL) {
		STAT(fallbacks);
		claim_line(c, "peer", "silent");
		claim_decide(c, 1);	/* not if the verdict came */
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
		claim_decide(c, 1);
	}
	claim_unref(c);
}

/* GETRANGE, not GET: a value longer than a verdict is not read whole */
static void
on_get(redisAsyncContext *ac, void *r, void *arg)
{
	struct claim *c = arg;
	redisReply *rp = r;
	const char *why;
	char a[64];

	answered(ac);
	if (rp != NULL && c->q != NULL) {
		if (rp->type == REDIS_REPLY_STRING && rp->len > 0) {
			if (vrec_parse(rp->str, rp->len, &c->rec, &why) < 0)
				bad_value("value", c->q->addr, why);
			else if (c->rec.flush || c->rec.all ||
			    strcmp(pm_addr_str(&c->rec.a, a, sizeof(a)), c->q->addr) != 0)
				bad_value("value", c->q->addr, "another address's verdict");
			else if (!vrec_shared_state(c->rec.state))
				bad_value("value", c->q->addr, "a class that is not shared");
			else
				c->have = 1;
			cap_ttl(&c->rec);
		} else if (rp->type != REDIS_REPLY_STRING && rp->type != REDIS_REPLY_NIL) {
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
	if (c->q == NULL) {		/* decided already (the timeout, a stop) */
		claim_unref(c);
		return;
	}
	event_del(c->timer);
	claim_unref(c);			/* the timer's reference */
	if (c->have && vrec_apply(pm.vt, &c->rec, VT_PUT_NEWER, vt_now(), time(NULL))) {
		STAT(hits);
		claim_line(c, "from", "redis");
		if (got)	/* ours by a hair: let it go */
			send_cmd(NULL, NULL, "EVAL %s 1 %sc:%s %s", RELEASE, F.prefix, c->q->addr, F.id);
		claim_decide(c, 0);
	} else if (got || rp == NULL || rp->type != REDIS_REPLY_NIL) {
		if (!got) {
			STAT(errors);
			STAT(fallbacks);
		}
		claim_decide(c, 1);
	} else {			/* another host's claim */
		struct timeval tv = pe_tv(c->wait + 1.0);
		claim_line(c, "wait", "peer");
		c->refs++;
		event_assign(c->timer, side_base(), -1, 0, wait_cb, c);
		evtimer_add(c->timer, &tv);
	}
	claim_unref(c);
}

static void
do_claim(void *arg)
{
	struct claim *c = arg;
	struct timeval tv;
	long long px = (long long)(c->pending_ttl * 1000.0);

	if ((c->next = F.claims) != NULL)
		c->next->prev = c;
	F.claims = c;
	c->refs = 1;			/* until the commands are sent */
	if (F.stopping || !is_up() || F.out + 2 > FLEET_MAX_OUT ||
	    (c->timer = evtimer_new(side_base(), timeout_cb, c)) == NULL) {
		if (!F.stopping)
			STAT(fallbacks);
		claim_decide(c, 1);
		claim_unref(c);
		return;
	}
	if (send_cmd(on_get, c, "GETRANGE %sv:%s 0 %d", F.prefix, c->q->addr, VREC_MAX) == 0)
		c->refs++;
	if (send_cmd(on_set, c, "SET %sc:%s %s NX PX %lld", F.prefix, c->q->addr, F.id,
	    px) < 0) {			/* the connection broke: probe */
		STAT(fallbacks);
		claim_decide(c, 1);
		claim_unref(c);
		return;
	}
	c->refs++;
	tv = pe_tv(F.timeout);
	evtimer_add(c->timer, &tv);	/* the first reference is the timer's now */
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

/* ---- stop ----------------------------------------------------------------- */

static pthread_mutex_t stop_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cv = PTHREAD_COND_INITIALIZER;
static int stopped;

/* undecided claims end unprobed: every request is let go once */
static void
do_stop(void *arg)
{
	(void)arg;
	F.stopping = 1;
	while (F.claims != NULL)
		claim_decide(F.claims, 0);
	pthread_mutex_lock(&stop_mu);
	stopped = 1;
	pthread_cond_broadcast(&stop_cv);
	pthread_mutex_unlock(&stop_mu);
}

void
fleet_stop(void)
{
	struct timespec ts;

	if (!F.on || side_call(do_stop, NULL) < 0)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	pthread_mutex_lock(&stop_mu);
	while (!stopped)
		if (pthread_cond_timedwait(&stop_cv, &stop_mu, &ts) != 0)
			break;		/* the loop is stuck: go on stopping */
	pthread_mutex_unlock(&stop_mu);
}

/* ---- shares, flushes, messages ---------------------------------------------- */

/* messages on the channel: "PUBLISHER LINE", so that a host skips its own */
static void
publish(const char *line)
{
	char msg[sizeof(F.id) + VREC_MAX + 2];

	snprintf(msg, sizeof(msg), "%s %s", F.id, line);
	send_cmd(NULL, NULL, "PUBLISH %s %s", F.channel, msg);	/* one argument each */
}

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
			publish(line);
			STAT(shared);
		}
		send_cmd(NULL, NULL, "EVAL %s 1 %sc:%s %s", RELEASE, F.prefix, a, F.id);
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

/* flush all: SCAN ... MATCH v:*, one DEL per page, until the cursor is
 * back at 0; then the flush is published (peers would otherwise find the
 * keys not yet deleted) */
static void
on_scan(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *rp = r, *keys;
	const char *argv[1001];
	size_t argl[1001], n = 1;

	answered(ac);
	if (rp == NULL || rp->type != REDIS_REPLY_ARRAY || rp->elements != 2 ||
	    rp->element[0]->type != REDIS_REPLY_STRING ||
	    rp->element[1]->type != REDIS_REPLY_ARRAY) {
		free(arg);
		return;
	}
	keys = rp->element[1];
	argv[0] = "DEL";
	argl[0] = 3;
	for (size_t i = 0; i < keys->elements && n < 1001; i++)
		if (keys->element[i]->type == REDIS_REPLY_STRING) {
			argv[n] = keys->element[i]->str;
			argl[n++] = keys->element[i]->len;
		}
	if (n > 1 && F.cmd != NULL && redisAsyncCommandArgv(F.cmd, on_ack, NULL, (int)n, argv,
	    argl) == REDIS_OK)
		F.out++;
	if (strcmp(rp->element[0]->str, "0") != 0) {
		if (send_cmd(on_scan, arg, "SCAN %s MATCH %sv:* COUNT 1000",
		    rp->element[0]->str, F.prefix) < 0)
			free(arg);
	} else {
		publish(arg);
		free(arg);
	}
}

static void
do_flush(void *arg)
{
	struct vrec *r = arg;
	char a[64], *line;

	if (is_up() && (line = malloc(VREC_MAX)) != NULL) {
		vrec_format(r, line, VREC_MAX);
		if (r->all) {
			if (send_cmd(on_scan, line, "SCAN 0 MATCH %sv:* COUNT 1000", F.prefix) < 0)
				free(line);
		} else {
			pm_addr_str(&r->a, a, sizeof(a));
			send_cmd(NULL, NULL, "DEL %sv:%s", F.prefix, a);
			publish(line);
			free(line);
		}
	}
	free(r);
}

int
fleet_flush(const struct pm_addr *a)
{
	struct vrec *r;

	if (!F.on)
		return 0;
	if (!__atomic_load_n(&F.st.up, __ATOMIC_RELAXED) || (r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->flush = 1;
	if (a != NULL)
		r->a = *a;
	else
		r->all = 1;
	if (side_call(do_flush, r) < 0) {
		free(r);
		return -1;
	}
	return 1;
}

/* the subscribed connection: the SUBSCRIBE confirmation, then messages */
static void
on_message(redisAsyncContext *ac, void *r, void *arg)
{
	redisReply *rp = r, *kind, *payload;
	struct vrec rec;
	const char *why, *sp;
	size_t idlen = strlen(F.id);
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
		if (F.sub_failed)
			return;
		F.sub_ready = 1;
		set_state(NULL);
		return;
	}
	if (strcmp(kind->str, "message") != 0)
		return;
	payload = rp->element[2];
	if (payload->type != REDIS_REPLY_STRING ||
	    (sp = memchr(payload->str, ' ', payload->len)) == NULL) {
		bad_value("message", NULL, "not PUBLISHER LINE");
		return;
	}
	if ((size_t)(sp - payload->str) == idlen && memcmp(payload->str, F.id, idlen) == 0)
		return;			/* our own */
	sp++;
	if (vrec_parse(sp, payload->len - (size_t)(sp - payload->str), &rec, &why) < 0) {
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
	cap_ttl(&rec);
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
