/*
 * pmbench - micro-benchmarks of the probe engine and the verdict table.
 *
 *   pmbench engine N   N clients (127.1.x.y, nothing listening), the 8
 *                      tests of "basic" each, under the default budget:
 *                      wall time, tests/s, peak RSS
 *   pmbench table N [SECS [RATE]]
 *                      N distinct verdicts inserted and looked up: ns per
 *                      operation, bytes per entry and MiB for the whole
 *                      table (RSS and malloc's count); then lookups/s of 1
 *                      and 2 threads (random addresses of the N) for SECS
 *                      seconds (2) while one thread claims and completes
 *                      RATE new addresses a second (20000), evicting the
 *                      oldest; also per CPU second of the lookup threads
 *                      and the cores they had (less than 2 on a busy
 *                      machine, or when they wait for a lock)
 * Loopback only.
 */
#include "config.h"
#include <arpa/inet.h>
#include <malloc.h>
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
	struct pe_timing tm = { .connect_timeout = 5.0, .timeout = 15.0, .retries = 1, .checks = NULL };
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

/* the verdict table: n distinct addresses 10.x.y.z from index i */
static void
table_addr(struct pm_addr *a, long i)
{
	uint32_t ip = htonl(0x0a000000u + (uint32_t)i);
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	memcpy(a->b, &ip, 4);
}

/* malloc'd bytes in use, mmapped chunks included */
static size_t
heap_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
#else
	return 0;
#endif
}

static double
thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct tb {
	struct vt *t;
	long n, next;			/* filled addresses; the inserter's next one */
	int rate;			/* inserter: claims + completions a second */
	int stop;			/* set once: the threads end */
	long lookups, found, inserted;
	double cpu;			/* the thread's CPU seconds */
	unsigned seed;
};

/* claims + completions of new addresses at a steady rate: each
 * millisecond those that are due (a wake-up per insert would cost the
 * lookup threads more than the inserts do) */
static void *
inserter(void *arg)
{
	struct tb *b = arg;
	struct pm_addr a;
	struct vt_info v;
	struct timespec ms = { 0, 1000000 };
	double t0 = now();
	long k = 0;

	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		long due = (long)((now() - t0) * b->rate);
		for (; k < due; k++) {
			table_addr(&a, b->next++);
			vt_claim(b->t, &a, 1000.0, 60, &v);
			vt_complete(b->t, &a, VT_CLEAN, 0, "", "", 1000.0, 3600);
		}
		nanosleep(&ms, NULL);
	}
	b->inserted = k;
	return NULL;
}

static void *
looker(void *arg)
{
	struct tb *b = arg;
	struct pm_addr a;
	struct vt_info v;
	unsigned x = b->seed;
	long k = 0, found = 0;
	double c0 = thread_cpu();

	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		for (int j = 0; j < 256; j++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			table_addr(&a, (long)(x % (unsigned)b->n));
			vt_get(b->t, &a, 1001.0, &v);
			found += v.state == VT_CLEAN;
		}
		k += 256;
	}
	b->lookups = k;
	b->found = found;
	b->cpu = thread_cpu() - c0;
	return NULL;
}

/* lookups/s of nthreads lookup threads while one thread inserts; also per
 * CPU second of the lookup threads, and the cores they had (a busy machine
 * gives them less than nthreads) */
static void
table_concurrent(struct vt *t, long n, int nthreads, double secs, int rate)
{
	struct tb ins = { t, n, n, rate, 0, 0, 0, 0, 0, 0 };
	struct tb lk[2];
	pthread_t ti, tl[2];
	long total = 0, found = 0;
	double cpu = 0;

	pthread_create(&ti, NULL, inserter, &ins);
	for (int i = 0; i < nthreads; i++) {
		lk[i] = ins;
		lk[i].seed = 2463534242u + (unsigned)i * 7919u;
		pthread_create(&tl[i], NULL, looker, &lk[i]);
	}
	struct timespec ts = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
	double t0 = now();
	nanosleep(&ts, NULL);
	for (int i = 0; i < nthreads; i++)
		__atomic_store_n(&lk[i].stop, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&ins.stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(tl[i], NULL);
		total += lk[i].lookups;
		found += lk[i].found;
		cpu += lk[i].cpu;
	}
	double dt = now() - t0;
	pthread_join(ti, NULL);
	printf("table: lookup_threads=%d lookups_per_s=%.0f per_cpu_s=%.0f cores=%.2f "
	    "found=%.1f%% inserts_per_s=%.0f (asked %d) seconds=%.1f\n", nthreads,
	    (double)total / dt, cpu > 0 ? (double)total / cpu : 0.0, cpu / dt,
	    total ? 100.0 * (double)found / (double)total : 0.0, (double)ins.inserted / dt,
	    rate, dt);
}

static int
bench_table(long n, double secs, int rate)
{
	struct pm_addr a;
	struct vt_info v;
	long rss0 = rss_kb();
	size_t heap0 = heap_bytes();
	double t0 = now(), base = 1000.0;
	struct vt *t = vt_new((size_t)n);

	for (long i = 0; i < n; i++) {
		table_addr(&a, i);
		vt_claim(t, &a, base, 60, &v);
		vt_complete(t, &a, VT_CLEAN, 0, "", "", base, 3600);
	}
	double t1 = now();
	long rss = rss_kb() - rss0;
	size_t heap = heap_bytes() - heap0;
	long found = 0;
	for (long i = 0; i < n; i++) {
		table_addr(&a, i);
		vt_get(t, &a, base + 1, &v);
		found += v.state == VT_CLEAN;
	}
	double t2 = now();
	printf("table: entries=%ld found=%ld insert_ns=%.0f lookup_ns=%.0f (one thread, in order)\n",
	    n, found, (t1 - t0) / (double)n * 1e9, (t2 - t1) / (double)n * 1e9);
	printf("table: memory rss_mib=%.1f rss_bytes_per_entry=%.1f heap_mib=%.1f "
	    "heap_bytes_per_entry=%.1f\n", (double)rss / 1024.0, (double)rss * 1024.0 / (double)n,
	    (double)heap / 1048576.0, (double)heap / (double)n);
	table_concurrent(t, n, 1, secs, rate);
	table_concurrent(t, n, 2, secs, rate);
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
		return bench_table(n, argc > 3 ? atof(argv[3]) : 2.0,
		    argc > 4 ? atoi(argv[4]) : 20000);
	fprintf(stderr, "usage: pmbench engine N | table N [seconds [inserts_per_s]]\n");
	return 2;
}
