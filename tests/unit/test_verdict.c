/* verdict table: TTLs, in-flight claims, eviction, concurrent waiters */
#include "config.h"
#include <pthread.h>
#include <unistd.h>
#include "t.h"
#include "verdict.h"

static struct vt *T;
static struct pm_addr A;
static int woke_state[8];

/* claims, completions and lookups of overlapping addresses from several
 * threads at once, in a striped table (races show under TSan) */
#define HAMMER_OPS 20000
static long hammer_claims[4];

static void *
hammer(void *arg)
{
	int id = (int)(long)arg;
	unsigned x = 12345u + (unsigned)id * 7919u;
	struct pm_addr a;
	struct vt_info v;
	char ip[32];

	for (int i = 0; i < HAMMER_OPS; i++) {
		x = x * 1103515245u + 12345u;
		unsigned n = (x >> 8) % 100000;
		snprintf(ip, sizeof(ip), "10.%u.%u.%u", n >> 16, (n >> 8) & 255, n & 255);
		pm_addr_parse(ip, &a);
		switch (x >> 29) {
		case 0: case 1: case 2:
			if (vt_claim(T, &a, 1000.0, 60, &v) == VT_CLAIMED)
				vt_complete(T, &a, (x & 1) ? VT_CLEAN : VT_OPEN, 0,
				    (x & 1) ? "" : "socks5:1080", (x & 1) ? "" : ip, 1000.0, 100);
			hammer_claims[id]++;
			break;
		case 3:
			vt_set_max(T, 65536 - (x & 1) * 16384);
			break;
		default:
			vt_get(T, &a, 1000.0, &v);
			break;
		}
	}
	return NULL;
}

static void *
waiter(void *arg)
{
	struct vt_info v;
	int i = (int)(long)arg;
	vt_wait(T, &A, vt_now() + 5.0, &v);
	woke_state[i] = (int)v.state;
	return NULL;
}

int
main(void)
{
	struct vt_info v;
	struct pm_addr b;
	struct vt_stats st;
	double now = 1000.0;
	char ip[32];

	t_prog = "verdict: ";
	T = vt_new(100);
	pm_addr_parse("203.0.113.9", &A);
	T_OK(vt_claim(T, &A, now, 60, &v) == VT_CLAIMED && v.state == VT_PENDING, "first claim");
	T_OK(vt_claim(T, &A, now + 1, 60, &v) == VT_INFLIGHT, "second connection joins in-flight");
	vt_complete(T, &A, VT_OPEN, 0, "socks5:1080", "203.0.113.9", now + 2, 100);
	T_OK(vt_claim(T, &A, now + 3, 60, &v) == VT_HIT && v.state == VT_OPEN, "hit after completion");
	T_STREQ(v.evidence, "socks5:1080", "evidence kept");
	T_STREQ(v.egress, "203.0.113.9", "egress kept");
	vt_get(T, &A, now + 101.9, &v);
	T_OK(v.state == VT_OPEN, "alive just before its TTL");
	vt_get(T, &A, now + 102.1, &v);
	T_OK(v.state == VT_NONE, "expired after its TTL");
	T_OK(vt_claim(T, &A, now + 103, 60, &v) == VT_CLAIMED, "re-probe after expiry");
	T_OK(vt_claim(T, &A, now + 200, 60, &v) == VT_CLAIMED, "a stuck pending entry expires too");

	/* IPv4 and IPv6 keys do not collide; v4-mapped is the same client as v4 */
	pm_addr_parse("::ffff:203.0.113.9", &b);
	T_OK(vt_claim(T, &b, now + 201, 60, &v) == VT_INFLIGHT, "v4-mapped = v4 key");
	pm_addr_parse("2001:db8::cb00:7109", &b);
	T_OK(vt_claim(T, &b, now + 201, 60, &v) == VT_CLAIMED, "v6 key distinct");
	vt_free(T);

	/* eviction: the least recently used verdict goes (O(1)); an expired
	 * entry goes when it is looked up */
	T = vt_new(16);
	for (int i = 0; i < 16; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		pm_addr_parse(ip, &b);
		vt_complete(T, &b, VT_CLEAN, 0, "", "", now, i == 5 ? 1 : 1000);
	}
	pm_addr_parse("192.0.2.0", &b);
	vt_claim(T, &b, now + 2, 60, &v);	/* touch .0: most recent now */
	pm_addr_parse("198.51.100.1", &b);
	vt_complete(T, &b, VT_CLEAN, 0, "", "", now + 3, 1000);
	pm_addr_parse("192.0.2.0", &b);
	vt_get(T, &b, now + 3, &v);
	T_OK(v.state == VT_CLEAN, "recently used entry survives");
	pm_addr_parse("192.0.2.1", &b);
	vt_get(T, &b, now + 3, &v);
	T_OK(v.state == VT_NONE, "least recently used evicted");
	pm_addr_parse("192.0.2.5", &b);
	vt_get(T, &b, now + 3, &v);
	T_OK(v.state == VT_NONE, "expired entry is not served");
	vt_stats(T, &st);
	T_OK(st.entries == 15 && st.evicted == 1 && st.expired == 1, "bounded at max_entries");
	vt_free(T);

	/* pending entries (probe sets in flight) are never evicted */
	T = vt_new(16);
	for (int i = 0; i < 16; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		pm_addr_parse(ip, &b);
		vt_claim(T, &b, now, 60, &v);
	}
	for (int i = 0; i < 40; i++) {
		snprintf(ip, sizeof(ip), "198.51.100.%d", i);
		pm_addr_parse(ip, &b);
		vt_complete(T, &b, VT_CLEAN, 0, "", "", now, 1000);
	}
	int inflight = 0;
	for (int i = 0; i < 16; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		pm_addr_parse(ip, &b);
		inflight += vt_claim(T, &b, now + 1, 60, &v) == VT_INFLIGHT;
	}
	T_OK(inflight == 16, "16 pending entries survive 40 verdicts in a table of 16");
	vt_stats(T, &st);
	T_OK(st.pending == 16 && st.entries == 17, "verdicts evicted, never pending entries");
	vt_free(T);

	/* many entries: table grows and every entry is found */
	T = vt_new(50000);
	for (int i = 0; i < 40000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		pm_addr_parse(ip, &b);
		vt_complete(T, &b, VT_CLEAN, 0, "", "", now, 1000);
	}
	int found = 0;
	for (int i = 0; i < 40000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		pm_addr_parse(ip, &b);
		vt_get(T, &b, now + 1, &v);
		found += v.state == VT_CLEAN;
	}
	T_OK(found == 40000, "40000 entries all found after growth");
	vt_free(T);

	/* evidence and egress are stored as long as they are: v4, v6, text */
	T = vt_new(100);
	pm_addr_parse("192.0.2.7", &b);
	vt_claim(T, &b, now, 60, &v);
	vt_complete(T, &b, VT_OPEN, 0, "http-connect:8080", "2001:db8::1", now, 100);
	vt_get(T, &b, now + 1, &v);
	T_OK(v.state == VT_OPEN && strcmp(v.evidence, "http-connect:8080") == 0 &&
	    strcmp(v.egress, "2001:db8::1") == 0, "longer evidence, v6 egress");
	vt_complete(T, &b, VT_OPEN, 0, "socks4:1080", "::ffff:192.0.2.1", now, 100);
	vt_get(T, &b, now + 1, &v);
	T_STREQ(v.egress, "::ffff:192.0.2.1", "egress text that is no canonical address: kept as text");
	vt_complete(T, &b, VT_OPEN, 0, "socks4:1080", "unknown", now, 100);
	vt_get(T, &b, now + 1, &v);
	T_STREQ(v.egress, "unknown", "egress that is no address: kept as text");
	char longev[VT_EVIDENCE_MAX + 60];
	memset(longev, 'x', sizeof(longev) - 1);
	longev[sizeof(longev) - 1] = '\0';
	vt_complete(T, &b, VT_OPEN, 0, longev, "192.0.2.99", now, 100);
	vt_get(T, &b, now + 1, &v);
	T_OK(strlen(v.evidence) == VT_EVIDENCE_MAX - 1 && strcmp(v.egress, "192.0.2.99") == 0,
	    "evidence cut at VT_EVIDENCE_MAX - 1");
	vt_complete(T, &b, VT_LISTED, -3, "dnsbl=bl.example(3)", "", now + 1, 100);
	vt_get(T, &b, now + 1, &v);
	T_OK(v.state == VT_LISTED && v.score == -3 && strcmp(v.evidence, "dnsbl=bl.example(3)") == 0,
	    "a class made of findings keeps its score and findings");
	T_STREQ(vt_state_name(VT_SUSPECT), "suspect", "class names");
	vt_complete(T, &b, VT_CLEAN, 0, "", "", now + 2, 100);
	vt_get(T, &b, now + 2, &v);
	T_OK(v.state == VT_CLEAN && v.evidence[0] == '\0' && v.egress[0] == '\0' &&
	    v.age == 0.0, "shorter again");
	vt_stats(T, &st);
	T_OK(st.entries == 1 && st.pending == 0, "one entry for all of it");
	vt_free(T);

	/* a big table is striped: max_entries holds in total, each stripe
	 * evicts its own least recently used (65536 = 64 stripes of 1024;
	 * 80000 addresses overflow every stripe, by 226 on average: the
	 * keyed hash would have to be 6 sigma off for one not to) */
	T = vt_new(65536);
	for (int i = 0; i < 80000; i++) {
		if (i == 40000) {
			for (int j = 0; j < 100; j++) {
				snprintf(ip, sizeof(ip), "10.%d.%d.%d", j >> 16, (j >> 8) & 255, j & 255);
				pm_addr_parse(ip, &b);
				vt_claim(T, &b, now, 60, &v);
			}
		}
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		pm_addr_parse(ip, &b);
		vt_complete(T, &b, VT_CLEAN, 0, "", "", now, 1000);
	}
	vt_stats(T, &st);
	T_OK(st.entries == 65536 && st.evicted == 80000 - 65536 && st.expired == 0,
	    "striped: bounded at max_entries in total");
	int touched = 0, oldest = 0, newest = 0;
	for (int i = 0; i < 200; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		pm_addr_parse(ip, &b);
		vt_get(T, &b, now + 1, &v);
		if (i < 100)
			touched += v.state == VT_CLEAN;
		else
			oldest += v.state == VT_NONE;
	}
	for (int i = 79000; i < 80000; i++) {
		snprintf(ip, sizeof(ip), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
		pm_addr_parse(ip, &b);
		vt_get(T, &b, now + 1, &v);
		newest += v.state == VT_CLEAN;
	}
	T_OK(touched == 100 && oldest == 100 && newest == 1000,
	    "striped: the least recently used go, touched and new ones stay");
	vt_stats(T, &st);
	T_OK(st.hits == 100 && st.misses == 0, "striped: stats summed over the stripes");

	/* pending entries survive in every stripe; vt_set_max shrinks all */
	for (int i = 0; i < 1000; i++) {
		snprintf(ip, sizeof(ip), "198.18.%d.%d", i >> 8, i & 255);
		pm_addr_parse(ip, &b);
		vt_claim(T, &b, now, 60, &v);
	}
	for (int i = 0; i < 100000; i++) {
		snprintf(ip, sizeof(ip), "172.16.%d.%d", i >> 8, i & 255);
		pm_addr_parse(ip, &b);
		vt_complete(T, &b, VT_CLEAN, 0, "", "", now, 1000);
	}
	vt_set_max(T, 16384);
	for (int i = 0; i < 20000; i++) {
		snprintf(ip, sizeof(ip), "172.17.%d.%d", i >> 8, i & 255);
		pm_addr_parse(ip, &b);
		vt_complete(T, &b, VT_CLEAN, 0, "", "", now, 1000);
	}
	inflight = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(ip, sizeof(ip), "198.18.%d.%d", i >> 8, i & 255);
		pm_addr_parse(ip, &b);
		inflight += vt_claim(T, &b, now + 1, 60, &v) == VT_INFLIGHT;
	}
	vt_stats(T, &st);
	T_OK(inflight == 1000 && st.pending == 1000, "striped: pending entries never evicted");
	T_OK(st.entries == 16384, "striped: vt_set_max lowers the bound of every stripe");
	vt_free(T);

	/* four threads at once: the stats stay exact, the bound holds */
	T = vt_new(65536);
	pthread_t hm[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&hm[i], NULL, hammer, (void *)i);
	long claims = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(hm[i], NULL);
		claims += hammer_claims[i];
	}
	vt_stats(T, &st);
	T_OK(st.hits + st.misses + st.inflight_joins == (uint64_t)claims && st.pending == 0 &&
	    st.entries <= 65536, "4 threads: every claim counted once, bound kept");
	vt_free(T);

	/* concurrent waiters are all woken by one completion */
	T = vt_new(100);
	vt_claim(T, &A, vt_now(), 60, &v);
	pthread_t th[8];
	for (long i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, waiter, (void *)i);
	usleep(100000);
	double t0 = vt_now();
	vt_complete(T, &A, VT_CLEAN, 0, "", "", vt_now(), 100);
	int all = 1;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		all &= woke_state[i] == VT_CLEAN;
	}
	T_OK(all, "8 waiters see the verdict");
	T_OK(vt_now() - t0 < 2.0, "waiters woke on completion, not on their deadline");
	/* a wait on a pending entry ends at its deadline */
	pm_addr_parse("198.51.100.99", &b);
	vt_claim(T, &b, vt_now(), 60, &v);
	t0 = vt_now();
	vt_wait(T, &b, t0 + 0.2, &v);
	T_OK(v.state == VT_PENDING && vt_now() - t0 >= 0.19, "wait bounded by its deadline");
	vt_free(T);

	/* the same in a striped table: the waiters sleep on A's stripe, and
	 * verdicts for other addresses (in that stripe or not) do not end
	 * their wait */
	T = vt_new(65536);
	vt_claim(T, &A, vt_now(), 60, &v);
	for (long i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, waiter, (void *)i);
	usleep(100000);
	for (int i = 0; i < 64; i++) {
		snprintf(ip, sizeof(ip), "192.0.2.%d", i);
		pm_addr_parse(ip, &b);
		vt_complete(T, &b, VT_OPEN, 0, "socks5:1080", ip, vt_now(), 100);
	}
	t0 = vt_now();
	vt_complete(T, &A, VT_CLEAN, 0, "", "", vt_now(), 100);
	all = 1;
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		all &= woke_state[i] == VT_CLEAN;
	}
	T_OK(all && vt_now() - t0 < 2.0, "striped: 8 waiters woken by their verdict");
	vt_free(T);
	T_DONE();
}
