/*
 * metrics.c - Prometheus text exposition at /metrics (see metrics.h).
 *
 * The counters are bumped with atomics by the milter's threads; all the
 * rest runs on the side loop (side.c), and nothing there waits: a scrape
 * reads atomics and the verdict table's stripe counters (a lock each,
 * held for a few loads).  A scrape reads the same sources as the stats
 * line (pm_stats_line: pm.c, vt_stats, pe_get_stats, fleet_stats,
 * log_dropped), so the two agree for the same moment.
 *
 * The listener is evhttp on a socket bound here (evconnlistener), and it
 * is bounded, since whoever reaches it may flood it and libevent 2.1 has
 * no connection limit of its own:
 *   - at most MAX_CONNS (16) connections open at once and ACCEPT_RATE (32)
 *     accepted per second: past either, the listener is switched off (the
 *     kernel's backlog, BACKLOG = 16, holds or drops the rest) until a
 *     connection closes or the next second; each pause is counted
 *     (proxymilter_metrics_throttled_total) and logged at most once a
 *     minute;
 *   - evhttp closes a connection idle or stalled for IDLE_TIMEOUT (5 s),
 *     and one older than MAX_AGE (15 s) is shut down here, so that a
 *     client trickling its headers byte by byte cannot keep a slot;
 *   - headers at most MAX_HEADERS (4 KiB), no body, GET and HEAD only
 *     (evhttp answers other methods with 501, a body with 413), another
 *     path than /metrics gets 404;
 *   - the series are bounded at build time: fixed label sets, and check
 *     names past PT_NAMES_MAX - 1 count as protocol="other" (promtext.h);
 *     a scrape is 8 to 10 KB and 80 to 100 series (the sample config), at
 *     most about 200 series and 20 KB (31 check names, fleet); MAX_SCRAPE
 *     (256 KiB) is a cap it never reaches (past it: 500, and a log line).
 * So metrics hold at most MAX_CONNS + 1 descriptors of the daemon.
 *
 * How connections are known: evhttp makes each connection's bufferevent
 * through our callback (evhttp_set_bevcb), which takes a slot and a
 * reference on the bufferevent.  Right after the accept (an event made
 * active in that callback), the slot learns its evhttp connection, the
 * bufferevent's callback argument, and sets a close callback that frees
 * the slot.  The reference keeps the bufferevent valid for that look-up
 * and for the once-a-second check, which also frees a slot whose
 * bufferevent evhttp dropped without that callback (a dropped
 * bufferevent has no callbacks left).  The close callback names its slot
 * by a number never reused, not by a pointer.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include "milter.h"
#include "metrics.h"
#include "fleet.h"
#include "promtext.h"

#define MAX_CONNS 16		/* open at once */
#define ACCEPT_RATE 32		/* accepted per second */
#define BACKLOG 16
#define IDLE_TIMEOUT 5		/* seconds (evhttp: read and write) */
#define MAX_AGE 15.0		/* seconds a connection may live */
#define MAX_HEADERS 4096
#define MAX_SCRAPE (256 * 1024)

/* ---- counters (any thread) ------------------------------------------------- */

static const char *const results[] = { "open", "closed", "inconclusive", "other" };
#define NRESULTS (sizeof(results) / sizeof(results[0]))

static const char *const acts[MA_N] = {
	"reject", "tempfail", "tag", "would-reject", "would-tempfail", "would-tag"
};
#define NSTAGES (STAGE_EOM + 1)

/* connect to final verdict, seconds: a probe set takes seconds
 * (timeouts, retries), a queue under load minutes */
#define VERDICT_LE 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60

static struct {
	struct pt_names protos;
	uint64_t tests[PT_NAMES_MAX][NRESULTS];
	uint64_t actions[NSTAGES][MA_N];
	struct pt_hist verdict;
} cnt = {
	.protos = { .mu = PTHREAD_MUTEX_INITIALIZER },
	.verdict = {
		.n = sizeof((double[]){ VERDICT_LE }) / sizeof(double),
		.le = { VERDICT_LE },
	},
};

void
metrics_test(const char *proto, const char *result)
{
	size_t p = pt_names_index(&cnt.protos, proto), r;

	for (r = 0; r + 1 < NRESULTS && strcmp(results[r], result) != 0; r++)
		;
	__atomic_add_fetch(&cnt.tests[p][r], 1, __ATOMIC_RELAXED);
}

void
metrics_action(enum pm_stage stage, enum metrics_act a)
{
	if ((unsigned)stage < NSTAGES && (unsigned)a < MA_N)
		__atomic_add_fetch(&cnt.actions[stage][a], 1, __ATOMIC_RELAXED);
}

void
metrics_verdict_time(double seconds)
{
	pt_hist_add(&cnt.verdict, seconds);
}

/* ---- the scrape --------------------------------------------------------------- */

static struct {
	struct evhttp *http;
	struct evconnlistener *lev;
	struct event *adopt, *tick;
	struct conn {
		struct bufferevent *bev;	/* NULL: a free slot; else we hold a reference */
		uint64_t id;			/* the close callback's argument */
		int adopted, shut;
		double since;
	} conn[MAX_CONNS];
	int nconn, accepted, on;
	uint64_t next_id;
	double warned;
	char listen[80];
	time_t started;
	/* side loop only; read by the scrape on the same loop */
	uint64_t throttled, req_ok, req_notfound, req_toolarge;
} m;

static void
one(struct pt *t, const char *name, const char *type, const char *help, uint64_t v)
{
	pt_head(t, name, type, help);
	pt_u64(t, name, "", v);
}

static void
labelled(struct pt *t, const char *name, const char *k, const char *v, uint64_t n)
{
	char l[128];

	if (pt_labels(l, sizeof(l), k, v, (const char *)NULL) == 0)
		pt_u64(t, name, l, n);
}

static void
render_tests(struct pt *t)
{
	const char *name = "proxymilter_tests_total";
	size_t np = pt_names_count(&cnt.protos);
	char l[160];

	pt_head(t, name, "counter", "Test results of the clients' probe sets, by check "
	    "(protocol) and result; self-tests are not counted.");
	for (size_t p = 0; p < PT_NAMES_MAX; p++) {
		uint64_t v[NRESULTS];
		if (p >= np && p != PT_OTHER)
			continue;
		for (size_t r = 0; r < NRESULTS; r++)
			v[r] = __atomic_load_n(&cnt.tests[p][r], __ATOMIC_RELAXED);
		if (p == PT_OTHER && v[0] + v[1] + v[2] + v[3] == 0)
			continue;
		for (size_t r = 0; r < NRESULTS; r++) {
			if (r + 1 == NRESULTS && v[r] == 0)	/* "other" result: only when seen */
				continue;
			if (pt_labels(l, sizeof(l), "protocol", pt_names_at(&cnt.protos, p),
			    "result", results[r], (const char *)NULL) == 0)
				pt_u64(t, name, l, v[r]);
		}
	}
}

static void
render_actions(struct pt *t)
{
	const char *name = "proxymilter_actions_total";
	char l[160];

	pt_head(t, name, "counter", "What the policy did, by enforcement stage and action "
	    "(would-*: observe mode); tags count at the end of the message, under the stage "
	    "that decided them.");
	for (int s = 0; s < NSTAGES; s++)
		for (int a = 0; a < MA_N; a++)
			if (pt_labels(l, sizeof(l), "stage", stage_name((enum pm_stage)s),
			    "action", acts[a], (const char *)NULL) == 0)
				pt_u64(t, name, l, __atomic_load_n(&cnt.actions[s][a], __ATOMIC_RELAXED));
}

static void
render(struct pt *t)
{
	struct pm_counters c;
	struct vt_stats vs;
	struct pe_stats ps;
	struct fleet_stats fs;
	const char *n;

#define LD(f) c.f = __atomic_load_n(&pm.c.f, __ATOMIC_RELAXED)
	LD(connections); LD(probed); LD(cache_hits); LD(joined); LD(skipped);
	LD(rate_limited); LD(v_open); LD(v_relay); LD(v_listed); LD(v_suspect);
	LD(v_clean); LD(v_error); LD(provisional);
#undef LD
	vt_stats(pm.vt, &vs);
	pe_get_stats(pm.engine, &ps);

	n = "proxymilter_build_info";
	pt_head(t, n, "gauge", "Always 1; the version in a label.");
	labelled(t, n, "version", PACKAGE_VERSION, 1);
	one(t, "proxymilter_start_time_seconds", "gauge",
	    "When the daemon started, seconds since the epoch.", (uint64_t)m.started);

	one(t, "proxymilter_connections_total", "counter",
	    "SMTP client connections the milter saw.", c.connections);
	one(t, "proxymilter_probe_sets_total", "counter",
	    "Probe sets started for clients (stats: probed).", c.probed);
	one(t, "proxymilter_cache_hits_total", "counter",
	    "Connections answered from the verdict table.", c.cache_hits);
	one(t, "proxymilter_joined_total", "counter",
	    "Connections that joined a probe set already running for their address.", c.joined);
	one(t, "proxymilter_skipped_total", "counter",
	    "Sessions, stages or recipients not checked (local, allowlist, daemon name, "
	    "reserved range, rate limit, exempt).", c.skipped);
	one(t, "proxymilter_rate_limited_total", "counter",
	    "Probe sets not started: the network's probe.rate_limit.", c.rate_limited);

	n = "proxymilter_verdicts_total";
	pt_head(t, n, "counter", "Final verdicts of probe sets, by class.");
	labelled(t, n, "class", "open-proxy", c.v_open);
	labelled(t, n, "class", "open-relay", c.v_relay);
	labelled(t, n, "class", "listed", c.v_listed);
	labelled(t, n, "class", "suspect", c.v_suspect);
	labelled(t, n, "class", "clean", c.v_clean);
	labelled(t, n, "class", "error", c.v_error);
	one(t, "proxymilter_provisional_verdicts_total", "counter",
	    "Provisional verdicts: a class known while checks went on.", c.provisional);
	pt_histogram(t, "proxymilter_verdict_seconds", "Seconds from the client's connect "
	    "to the final verdict of its probe set.", &cnt.verdict);
	render_actions(t);
	render_tests(t);

	n = "proxymilter_connect_callback_seconds";
	pt_head(t, n, "summary", "Time spent in the connect callback (it never waits for "
	    "the network); quantiles since start.");
	pt_dbl(t, n, "{quantile=\"0.5\"}", (double)hist_quantile(&pm.connect_us, 0.50) / 1e6);
	pt_dbl(t, n, "{quantile=\"0.99\"}", (double)hist_quantile(&pm.connect_us, 0.99) / 1e6);
	pt_u64(t, "proxymilter_connect_callback_seconds_count", "", hist_count(&pm.connect_us));
	n = "proxymilter_connect_callback_max_seconds";
	pt_head(t, n, "gauge", "The longest connect callback since start.");
	pt_dbl(t, n, "", (double)hist_max(&pm.connect_us) / 1e6);

	one(t, "proxymilter_engine_tests_total", "counter",
	    "Test results the probe engine reported, self-tests included (stats: tests).", ps.tests);
	one(t, "proxymilter_engine_overload_total", "counter",
	    "Probe sets the engine refused: its queue was full.", ps.overload);
	one(t, "proxymilter_probes_inflight", "gauge", "Tests running now.", (uint64_t)ps.inflight);
	one(t, "proxymilter_probes_inflight_max", "gauge", "The most tests running at once "
	    "since start.", (uint64_t)ps.inflight_max);
	one(t, "proxymilter_probes_queued", "gauge", "Probe sets waiting for admission.",
	    (uint64_t)ps.queued);
	one(t, "proxymilter_canary_connections_total", "counter",
	    "Connections to the canary listener.", ps.canary_conns);
	one(t, "proxymilter_canary_unknown_total", "counter",
	    "Canary connections that brought no nonce of ours.", ps.canary_unknown);
	one(t, "proxymilter_dns_queries_total", "counter", "DNS queries sent.", ps.dns_queries);
	one(t, "proxymilter_dns_failures_total", "counter",
	    "DNS queries that failed (timeout, SERVFAIL, refused; not NXDOMAIN).", ps.dns_failures);
	one(t, "proxymilter_table_entries", "gauge", "Addresses in the verdict table, "
	    "pending ones included.", vs.entries);
	one(t, "proxymilter_table_pending", "gauge", "Addresses being probed now.", vs.pending);
	one(t, "proxymilter_table_evicted_total", "counter",
	    "Verdicts dropped from the full table before they expired.", vs.evicted);
	one(t, "proxymilter_log_dropped_total", "counter",
	    "Log lines dropped: the log queue was full.", log_dropped());

	if (fleet_enabled()) {
		fleet_stats(&fs);
		one(t, "proxymilter_fleet_up", "gauge", "1 when connected to Redis.", fs.up ? 1 : 0);
		one(t, "proxymilter_fleet_hits_total", "counter",
		    "Claims answered by a verdict from Redis.", fs.hits);
		one(t, "proxymilter_fleet_learnt_total", "counter",
		    "Verdicts published by other hosts and kept.", fs.learnt);
		one(t, "proxymilter_fleet_shared_total", "counter",
		    "Our verdicts written to Redis.", fs.shared);
		one(t, "proxymilter_fleet_fallbacks_total", "counter",
		    "Claims probed without Redis' answer.", fs.fallbacks);
		one(t, "proxymilter_fleet_errors_total", "counter",
		    "Redis errors: error replies, timeouts, lost connections.", fs.errors);
		one(t, "proxymilter_fleet_bad_total", "counter",
		    "Values or messages in Redis that are not ours.", fs.bad);
	}

	n = "proxymilter_metrics_requests_total";
	pt_head(t, n, "counter", "Requests to this listener, by HTTP status (this one included).");
	labelled(t, n, "code", "200", m.req_ok);
	labelled(t, n, "code", "404", m.req_notfound);
	labelled(t, n, "code", "500", m.req_toolarge);
	one(t, "proxymilter_metrics_throttled_total", "counter", "Times this listener paused: "
	    "16 connections open or 32 accepted in a second.", m.throttled);
}

static void
handle(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u != NULL ? evhttp_uri_get_path(u) : NULL;
	struct evbuffer *out;
	struct pt t;

	(void)arg;
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		m.req_notfound++;
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	m.req_ok++;
	pt_init(&t, MAX_SCRAPE);
	render(&t);
	if (t.full || (out = evbuffer_new()) == NULL || evbuffer_add(out, t.buf, t.len) < 0) {
		m.req_ok--;
		m.req_toolarge++;
		log_msg(LOG_ERR, "error", "metrics: the scrape is larger than %d bytes or memory "
		    "is short: answered 500", MAX_SCRAPE);
		pt_free(&t);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	pt_free(&t);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", out);
	evbuffer_free(out);
}

/* ---- connections ---------------------------------------------------------------- */

/* on while under both bounds; a pause is counted and (once a minute) logged */
static void
listener_update(void)
{
	int want = m.nconn < MAX_CONNS && m.accepted < ACCEPT_RATE;
	struct lb l;

	if (want == m.on)
		return;
	if (want) {
		evconnlistener_enable(m.lev);
		m.on = 1;
		return;
	}
	evconnlistener_disable(m.lev);
	m.on = 0;
	m.throttled++;
	if (vt_now() - m.warned >= 60.0 || m.warned == 0) {
		m.warned = vt_now();
		lb_init(&l, NULL, "metrics");
		lb_kv(&l, "listen", m.listen);
		lb_kv(&l, "paused", m.nconn >= MAX_CONNS ? "connections" : "rate");
		lb_kvf(&l, "open", "%d", m.nconn);
		lb_kvf(&l, "accepted", "%d", m.accepted);
		lb_kvf(&l, "pauses", "%llu", (unsigned long long)m.throttled);
		lb_emit(&l, LOG_WARNING);
	}
}

static void
conn_release(struct conn *c)
{
	bufferevent_decref(c->bev);
	memset(c, 0, sizeof(*c));
	m.nconn--;
}

/* evhttp dropped the bufferevent (callbacks cleared), our reference kept it */
static int
conn_dropped(struct conn *c)
{
	bufferevent_data_cb r, w;
	bufferevent_event_cb e;

	bufferevent_getcb(c->bev, &r, &w, &e, NULL);
	return r == NULL && w == NULL && e == NULL;
}

static void
closed(struct evhttp_connection *evcon, void *arg)
{
	uint64_t id = (uint64_t)(uintptr_t)arg;

	(void)evcon;
	for (int i = 0; i < MAX_CONNS; i++)
		if (m.conn[i].bev != NULL && m.conn[i].id == id) {
			conn_release(&m.conn[i]);
			listener_update();
			return;
		}
}

static void
adopt(struct conn *c)
{
	void *arg = NULL;

	if (conn_dropped(c)) {
		conn_release(c);
		return;
	}
	bufferevent_getcb(c->bev, NULL, NULL, NULL, &arg);
	if (arg != NULL)	/* evhttp's callbacks always carry their connection */
		evhttp_connection_set_closecb(arg, closed, (void *)(uintptr_t)c->id);
	c->adopted = 1;
}

static void
adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	for (int i = 0; i < MAX_CONNS; i++)
		if (m.conn[i].bev != NULL && !m.conn[i].adopted)
			adopt(&m.conn[i]);
	listener_update();
}

/* evhttp's new connection: its bufferevent, in a slot */
static struct bufferevent *
new_bev(struct event_base *base, void *arg)
{
	struct bufferevent *bev;
	struct conn *c = NULL;

	(void)arg;
	for (int i = 0; i < MAX_CONNS && c == NULL; i++)
		if (m.conn[i].bev == NULL)
			c = &m.conn[i];
	m.accepted++;
	/* no slot cannot happen (the listener is off when they are taken);
	 * without memory evhttp makes its own: untracked, still timed out */
	if (c == NULL || (bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		listener_update();
		return NULL;
	}
	bufferevent_incref(bev);
	c->bev = bev;
	c->id = ++m.next_id;
	c->since = vt_now();
	m.nconn++;
	event_active(m.adopt, EV_TIMEOUT, 1);
	listener_update();	/* off now when full: the accept loop stops */
	return bev;
}

/* once a second: a new accept window, old connections shut, lost ones freed */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	double now = vt_now();

	(void)fd;
	(void)what;
	(void)arg;
	m.accepted = 0;
	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &m.conn[i];
		if (c->bev == NULL)
			continue;
		if (!c->adopted) {
			adopt(c);
			continue;
		}
		if (conn_dropped(c)) {
			conn_release(c);
		} else if (now - c->since > MAX_AGE && !c->shut) {
			/* evhttp sees the end of the stream and closes it */
			evutil_socket_t s = bufferevent_getfd(c->bev);
			if (s >= 0)
				shutdown(s, SHUT_RDWR);
			c->shut = 1;
		}
	}
	listener_update();
}

/* ---- start ------------------------------------------------------------------------- */

/* the configured checks' names first, so that their series exist at 0 */
static void
known_protocols(const struct pm_config *cf)
{
	for (size_t i = 0; i < cf->probe.ntests; i++)
		if (cf->probe.tests[i].kind != NULL)
			(void)pt_names_index(&cnt.protos, pe_kind_name(cf->probe.tests[i].kind));
}

int
metrics_start(struct event_base *base, const struct pm_config *cf, char *err, size_t errlen)
{
	static const struct timeval second = { 1, 0 };
	struct sockaddr_storage ss;
	int sl = (int)sizeof(ss);
	struct lb l;

	m.started = time(NULL);
	if (cf->metrics.listen[0] == '\0')
		return 0;
	snprintf(m.listen, sizeof(m.listen), "%s", cf->metrics.listen);
	if (evutil_parse_sockaddr_port(m.listen, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(err, errlen, "metrics.listen: \"%s\" is not ADDR:PORT", m.listen);
		return -1;
	}
	if (base == NULL || (m.http = evhttp_new(base)) == NULL ||
	    (m.adopt = event_new(base, -1, 0, adopt_cb, NULL)) == NULL ||
	    (m.tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL)) == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return -1;
	}
	m.lev = evconnlistener_new_bind(base, NULL, NULL, LEV_OPT_CLOSE_ON_FREE |
	    LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE, BACKLOG, (struct sockaddr *)&ss, sl);
	if (m.lev == NULL) {
		snprintf(err, errlen, "metrics.listen %s: cannot listen: %s", m.listen,
		    strerror(errno));
		return -1;
	}
	evhttp_set_timeout(m.http, IDLE_TIMEOUT);
	evhttp_set_max_headers_size(m.http, MAX_HEADERS);
	evhttp_set_max_body_size(m.http, 0);
	evhttp_set_allowed_methods(m.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(m.http, handle, NULL);
	evhttp_set_bevcb(m.http, new_bev, NULL);
	if (evhttp_bind_listener(m.http, m.lev) == NULL || event_add(m.tick, &second) < 0) {
		snprintf(err, errlen, "metrics: out of memory");
		return -1;
	}
	m.on = 1;
	known_protocols(cf);
	lb_init(&l, NULL, "metrics");
	lb_kv(&l, "listen", m.listen);
	lb_kv(&l, "path", "/metrics");
	lb_emit(&l, LOG_INFO);
	return 0;
}
