/*
 * pmbench - micro-benchmarks of the probe engine and the verdict table.
 *
 *   pmbench engine N   N clients (127.1.x.y, nothing listening), the 8
 *                      tests of "basic" each, under the default budget:
 *                      wall time, tests/s, peak RSS
 *   pmbench table N    N verdicts inserted and looked up: ns per operation,
 *                      bytes per entry
 * Loopback only.
 */
#include "config.h"
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "../probes/probes.h"
#include "../milter/verdict.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static long done_n, open_n;

static void on_result(const struct pe_result *r, void *a) { (void)r; (void)a; }
static void
on_done(const struct pe_summary *s, void *a)
{
	(void)a;
	pthread_mutex_lock(&mu);
	done_n++;
	open_n += s->verdict == PE_V_OPEN;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long
rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = 0;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			v = atol(line + 6);
	if (f)
		fclose(f);
	return v;
}

static int
bench_engine(long n)
{
	struct pe_options o;
	struct pe_test *tests = NULL;
	size_t nt = 0;
	char err[256];
	struct pe_timing tm = { 5.0, 15.0, 1 };
	struct pe_engine *e;
	struct pe_stats st;
	struct rusage ru;

	memset(&o, 0, sizeof(o));
	pe_parse_hostport("127.0.0.1:22526", &o.canary_listen, &o.canary_listen_len);
	o.canary_target = o.canary_listen;
	o.canary_target_len = o.canary_listen_len;
	o.max_inflight = 1024;
	o.max_per_client = 32;
	o.max_queue = (int)n + 1;
	pe_scan_parse("basic", NULL, &tests, &nt, err, sizeof(err));
	if ((e = pe_create(&o, on_result, on_done, err, sizeof(err))) == NULL) {
		fprintf(stderr, "pmbench: %s\n", err);
		return 1;
	}
	pe_start(e);
	long rss0 = rss_kb();
	double t0 = now();
	for (long i = 0; i < n; i++) {
		struct sockaddr_in sin = { 0 };
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(0x7f010000u | (uint32_t)(i % 65000 + 1));
		pe_submit(e, (struct sockaddr *)&sin, sizeof(sin), tests, nt, &tm, PE_F_STOP_ON_OPEN, NULL);
	}
	pthread_mutex_lock(&mu);
	while (done_n < n)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	double dt = now() - t0;
	pe_get_stats(e, &st);
	getrusage(RUSAGE_SELF, &ru);
	printf("engine: clients=%ld tests=%llu open=%ld wall=%.3fs tests_per_s=%.0f "
	    "clients_per_s=%.0f inflight_max=%d rss_growth_kb=%ld maxrss_kb=%ld\n",
	    n, (unsigned long long)st.tests, open_n, dt, (double)st.tests / dt, (double)n / dt,
	    st.inflight_max, rss_kb() - rss0, ru.ru_maxrss);
	pe_stop(e);
	pe_free(e);
	free(tests);
	return 0;
}

static int
bench_table(long n)
{
	struct vt *t = vt_new((size_t)n);
	struct pm_addr a;
	struct vt_info v;
	long rss0 = rss_kb();
	double t0 = now(), base = 1000.0;
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	for (long i = 0; i < n; i++) {
		uint32_t ip = htonl(0x0a000000u + (uint32_t)i);
		memcpy(a.b, &ip, 4);
		vt_claim(t, &a, base, 60, &v);
		vt_complete(t, &a, VT_CLEAN, "", "", base, 3600);
	}
	double t1 = now();
	long found = 0;
	for (long i = 0; i < n; i++) {
		uint32_t ip = htonl(0x0a000000u + (uint32_t)i);
		memcpy(a.b, &ip, 4);
		vt_get(t, &a, base + 1, &v);
		found += v.state == VT_CLEAN;
	}
	double t2 = now();
	long rss = rss_kb() - rss0;
	printf("table: entries=%ld found=%ld insert_ns=%.0f lookup_ns=%.0f rss_kb=%ld bytes_per_entry=%.0f\n",
	    n, found, (t1 - t0) / (double)n * 1e9, (t2 - t1) / (double)n * 1e9, rss,
	    (double)rss * 1024.0 / (double)n);
	vt_free(t);
	return 0;
}

int
main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[2]) : 1000;
	if (argc > 1 && strcmp(argv[1], "engine") == 0)
		return bench_engine(n);
	if (argc > 1 && strcmp(argv[1], "table") == 0)
		return bench_table(n);
	fprintf(stderr, "usage: pmbench engine|table N\n");
	return 2;
}
