/*
 * The engine against small peers run by this test on 127.0.0.1:
 *   relay  - an honest SOCKS5 server that really connects where asked
 *   decoy  - answers CONNECT with 200 and a fake 220 banner, connects nowhere
 *   liar   - SOCKS5 "granted", then a copied canary greeting and a forged MAC
 *   silent - accepts and never answers
 * plus a port with nothing listening.  Also: fd-budget admission and overload.
 */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <sys/socket.h>
#include "t.h"
#include "tnet.h"
#include "pe_int.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

struct outcome {
	int done, provisional;
	int prov_inconclusive;		/* what the provisional verdict counted */
	struct pe_summary s;
	char evidence[64], egress[64], reason[32];
	char last_reason[32];
	int results, retried;
};

static void
on_result(const struct pe_result *r, void *arg)
{
	struct outcome *o = arg;
	pthread_mutex_lock(&mu);
	o->results++;
	if (r->attempt > 1)
		o->retried++;
	snprintf(o->last_reason, sizeof(o->last_reason), "%s", r->reason);
	pthread_mutex_unlock(&mu);
}

static void
on_done(const struct pe_summary *s, void *arg)
{
	struct outcome *o = arg;
	pthread_mutex_lock(&mu);
	if (!s->final) {
		o->provisional++;
		o->prov_inconclusive = s->inconclusive;
		pthread_mutex_unlock(&mu);
		return;
	}
	o->s = *s;
	snprintf(o->evidence, sizeof(o->evidence), "%s", s->evidence);
	snprintf(o->egress, sizeof(o->egress), "%s", s->egress);
	snprintf(o->reason, sizeof(o->reason), "%s", s->reason);
	o->done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

static int
wait_done(struct outcome *o, int n, double secs)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)secs + 1;
	pthread_mutex_lock(&mu);
	for (;;) {
		int all = 1;
		for (int i = 0; i < n; i++)
			all &= o[i].done;
		if (all || pthread_cond_timedwait(&cv, &mu, &ts) == ETIMEDOUT) {
			pthread_mutex_unlock(&mu);
			return all;
		}
	}
}

static int
readn(int fd, unsigned char *b, size_t n)
{
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, b + got, n - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static void
pump(int a, int b)
{
	struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
	char buf[2048];
	while (poll(p, 2, 3000) > 0) {
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = read(p[i].fd, buf, sizeof(buf));
			if (r <= 0 || write(p[1 - i].fd, buf, (size_t)r) != r)
				return;
		}
	}
}

static void *
relay_conn(void *arg)
{
	int c = (int)(long)arg, up = -1;
	unsigned char b[10];
	struct sockaddr_in sin = { 0 };

	if (readn(c, b, 3) < 0 || write(c, "\x05\x00", 2) != 2 || readn(c, b, 10) < 0)
		goto out;
	sin.sin_family = AF_INET;
	memcpy(&sin.sin_addr, b + 4, 4);
	memcpy(&sin.sin_port, b + 8, 2);
	up = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(up, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		(void)!write(c, "\x05\x05\x00\x01\x00\x00\x00\x00\x00\x00", 10);
		goto out;
	}
	if (write(c, "\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00", 10) != 10)
		goto out;
	pump(c, up);
out:
	if (up >= 0)
		close(up);
	close(c);
	return NULL;
}

enum kind { RELAY, DECOY, LIAR, SILENT, JUNK };
struct srv { int fd; enum kind k; };

static void *
serve(void *arg)
{
	struct srv *s = arg;
	for (;;) {
		int c = accept(s->fd, NULL, NULL);
		unsigned char b[256];
		pthread_t t;
		if (c < 0)
			return NULL;
		switch (s->k) {
		case RELAY:
			pthread_create(&t, NULL, relay_conn, (void *)(long)c);
			pthread_detach(t);
			continue;
		case DECOY:
			(void)!read(c, b, sizeof(b));
			(void)!write(c, "HTTP/1.0 200 Connection established\r\n\r\n"
			    "220 mail.example.com ESMTP Postfix\r\n", 76);
			while (read(c, b, sizeof(b)) > 0)
				;
			break;
		case LIAR: {
			const char *g = PE_CANARY_GREETING "250 pxm-mac-00000000000000000000000000000000\r\n";
			if (readn(c, b, 3) == 0 && write(c, "\x05\x00", 2) == 2 && readn(c, b, 10) == 0 &&
			    write(c, "\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00", 10) == 10)
				(void)!write(c, g, strlen(g));
			while (read(c, b, sizeof(b)) > 0)
				;
			break;
		}
		case SILENT:
			while (read(c, b, sizeof(b)) > 0)
				;
			break;
		case JUNK: {	/* SOCKS5 "granted", then 4 KB without a line end */
			char junk[4096];
			memset(junk, 'x', sizeof(junk));
			if (readn(c, b, 3) == 0 && write(c, "\x05\x00", 2) == 2 && readn(c, b, 10) == 0 &&
			    write(c, "\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00", 10) == 10)
				(void)!write(c, junk, sizeof(junk));
			while (read(c, b, sizeof(b)) > 0)
				;
			break;
		}
		}
		close(c);
	}
}

static void
start_srv(enum kind k, int *port)
{
	struct srv *s = calloc(1, sizeof(*s));
	pthread_t t;
	s->k = k;
	s->fd = listen_any(port);
	pthread_create(&t, NULL, serve, s);
	pthread_detach(t);
}

static int
free_port(void)
{
	int p, fd = listen_any(&p);
	close(fd);
	return p;
}

static double queue_wait;	/* max_queue_wait of the next engine */

static struct pe_engine *
engine(int max_inflight, int per_client, int max_queue)
{
	struct pe_options o;
	char err[256];
	struct pe_engine *e;
	memset(&o, 0, sizeof(o));
	pe_parse_hostport("127.0.0.1:0", &o.canary_listen, &o.canary_listen_len);
	/* canary on a fixed free port, so proxies can be told where it is */
	char hp[32];
	snprintf(hp, sizeof(hp), "127.0.0.1:%d", free_port());
	pe_parse_hostport(hp, &o.canary_listen, &o.canary_listen_len);
	o.canary_target = o.canary_listen;
	o.canary_target_len = o.canary_listen_len;
	o.max_inflight = max_inflight;
	o.max_per_client = per_client;
	o.max_queue = max_queue;
	o.max_queue_wait = queue_wait;
	e = pe_create(&o, on_result, on_done, err, sizeof(err));
	if (e == NULL) {
		printf("engine: %s\n", err);
		abort();
	}
	pe_start(e);
	return e;
}

static void
probe(struct pe_engine *e, const char *proto, int port, double timeout, int retries,
    struct outcome *o)
{
	struct sockaddr_in sin = { 0 };
	struct pe_test t = { pe_kind_find(proto), (uint16_t)port };
	struct pe_timing tm = { .connect_timeout = 1.0, .timeout = timeout, .retries = retries, .checks = NULL };
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memset(o, 0, sizeof(*o));
	pe_submit(e, (struct sockaddr *)&sin, sizeof(sin), &t, 1, &tm, PE_F_STOP_ON_OPEN, o);
}

int
main(void)
{
	int relay, decoy, liar, silent, closed, junk;
	struct outcome o[6];
	struct pe_engine *e;
	struct pe_stats st;

	t_prog = "engine: ";
	signal(SIGPIPE, SIG_IGN);
	start_srv(RELAY, &relay);
	start_srv(DECOY, &decoy);
	start_srv(LIAR, &liar);
	start_srv(SILENT, &silent);
	start_srv(JUNK, &junk);
	closed = free_port();

	e = engine(64, 8, 100);
	probe(e, "socks5", relay, 3.0, 0, &o[0]);
	probe(e, "http-connect", decoy, 3.0, 0, &o[1]);
	probe(e, "socks5", liar, 3.0, 0, &o[2]);
	probe(e, "socks5", silent, 0.3, 1, &o[3]);
	probe(e, "socks4", closed, 3.0, 1, &o[4]);
	probe(e, "socks5", junk, 3.0, 1, &o[5]);
	T_OK(wait_done(o, 6, 8.0), "every request ends with one done callback");
	T_OK(o[0].s.verdict == PE_V_OPEN && strncmp(o[0].evidence, "socks5:", 7) == 0,
	    "honest relay proved open by the canary");
	T_STREQ(o[0].egress, "127.0.0.1", "egress recorded");
	T_OK(o[1].s.verdict == PE_V_CLEAN && strcmp(o[1].last_reason, "foreign-peer") == 0,
	    "decoy with fake 220 is not open");
	T_OK(o[2].s.verdict == PE_V_CLEAN && strcmp(o[2].last_reason, "bad-mac") == 0,
	    "copied greeting and forged MAC are not proof");
	T_OK(o[3].s.verdict == PE_V_ERROR && o[3].results == 2 && o[3].retried == 1,
	    "silent peer: timeout, retried once, verdict error");
	T_OK(o[3].provisional == 1 && o[0].provisional == 0,
	    "a provisional verdict while retrying in the background, none otherwise");
	T_OK(o[3].prov_inconclusive == 1 && o[3].s.inconclusive == 1,
	    "the provisional verdict counts the test being retried as inconclusive");
	T_OK(o[5].s.verdict == PE_V_CLEAN && o[5].results == 1 &&
	    strcmp(o[5].last_reason, "foreign-peer") == 0,
	    "SOCKS5 granted + 4 KB of junk: closed (foreign-peer), not read-cap");
	T_STREQ(o[3].last_reason, "timeout", "silent peer reason");
	T_OK(o[4].s.verdict == PE_V_CLEAN && o[4].results == 1 && strcmp(o[4].last_reason, "refused") == 0,
	    "nothing listening: closed, not retried");
	pe_get_stats(e, &st);
	T_OK(st.canary_proofs >= 1 && st.canary_unknown == 0, "canary counted the proof");
	pe_stop(e);
	pe_free(e);

	/* admission: 12 requests x 4 tests under a budget of 3 sockets */
	{
		struct outcome many[12];
		struct sockaddr_in sin = { 0 };
		struct pe_test t[4];
		struct pe_timing tm = { .connect_timeout = 1.0, .timeout = 2.0, .retries = 0, .checks = NULL };
		e = engine(3, 2, 100);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		for (int i = 0; i < 4; i++) {
			t[i].kind = pe_kind_find(i % 2 ? "socks4" : "http-connect");
			t[i].port = (uint16_t)(i < 2 ? closed : silent);
		}
		tm.timeout = 0.2;
		memset(many, 0, sizeof(many));
		for (int i = 0; i < 12; i++)
			pe_submit(e, (struct sockaddr *)&sin, sizeof(sin), t, 4, &tm, 0, &many[i]);
		T_OK(wait_done(many, 12, 10.0), "12 requests finish under a 3-socket budget");
		pe_get_stats(e, &st);
		T_OK(st.inflight_max <= 3 && st.inflight_max >= 2, "budget never exceeded");
		T_OK(st.tests == 48, "every test ran");
		pe_stop(e);
		pe_free(e);
	}
	/* a big job: 20000 tests, each refused at once; scheduling stays O(1)
	 * per test (it used to rescan the job from the start) */
	{
		struct outcome big;
		struct sockaddr_in sin = { 0 };
		struct pe_timing tm = { .connect_timeout = 1.0, .timeout = 2.0, .retries = 0, .checks = NULL };
		size_t n = 20000;
		struct pe_test *t = calloc(n, sizeof(*t));
		e = engine(256, 64, 10);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		for (size_t i = 0; i < n; i++) {
			t[i].kind = pe_kind_find("http-connect");
			t[i].port = (uint16_t)closed;
		}
		memset(&big, 0, sizeof(big));
		pe_submit(e, (struct sockaddr *)&sin, sizeof(sin), t, n, &tm, 0, &big);
		T_OK(wait_done(&big, 1, 60.0), "a 20000-test request finishes");
		T_OK(big.results == 20000 && big.s.closed == 20000 && big.s.verdict == PE_V_CLEAN,
		    "every one of its tests reported once");
		T_OK(pe_confirm(e, "EHLO pxm-0123456789abcdef0123456789abcdef", "127.0.0.9") < 0,
		    "pe_confirm: a well-formed nonce nobody issued is refused");
		free(t);
		pe_stop(e);
		pe_free(e);
	}
	/* overload: a queue of 1 */
	{
		struct outcome q[6];
		struct sockaddr_in sin = { 0 };
		struct pe_test t = { pe_kind_find("socks5"), (uint16_t)silent };
		struct pe_timing tm = { .connect_timeout = 1.0, .timeout = 0.3, .retries = 0, .checks = NULL };
		int over = 0;
		e = engine(1, 1, 1);
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		memset(q, 0, sizeof(q));
		for (int i = 0; i < 6; i++)
			pe_submit(e, (struct sockaddr *)&sin, sizeof(sin), &t, 1, &tm, 0, &q[i]);
		T_OK(wait_done(q, 6, 5.0), "overloaded engine still answers every request");
		for (int i = 0; i < 6; i++)
			over += strcmp(q[i].reason, "overload") == 0;
		T_OK(over >= 1 && over <= 5, "some requests refused as overload");
		pe_stop(e);
		pe_free(e);
	}
	/* a request that waited too long for admission ends as overload
	 * instead of being probed after its session is long gone */
	{
		struct outcome q[3];
		queue_wait = 0.3;
		e = engine(1, 1, 100);
		queue_wait = 0;
		for (int i = 0; i < 3; i++)
			probe(e, "socks5", silent, 3.0, 0, &q[i]);
		T_OK(wait_done(q, 3, 6.0), "three requests under a budget of one socket end");
		T_OK(strcmp(q[0].reason, "inconclusive") == 0 && q[0].results == 1,
		    "the first one ran (silent peer: timeout)");
		T_OK(strcmp(q[1].reason, "overload") == 0 && strcmp(q[2].reason, "overload") == 0 &&
		    q[1].results == 0 && q[2].results == 0,
		    "the others waited past max_queue_wait: overload, never probed");
		pe_stop(e);
		pe_free(e);
	}
	/* shutdown with work in flight: done callbacks still come, once */
	{
		struct outcome q[3];
		e = engine(8, 8, 100);
		for (int i = 0; i < 3; i++)
			probe(e, "socks5", silent, 5.0, 0, &q[i]);
		usleep(100000);
		pe_stop(e);
		T_OK(q[0].done && q[1].done && q[2].done && strcmp(q[0].reason, "shutdown") == 0,
		    "stop ends running requests with reason shutdown");
		pe_free(e);
	}
	T_DONE();
}
