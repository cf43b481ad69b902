/* verdict table: TTLs, in-flight claims, eviction, concurrent waiters */
#include "config.h"
#include <pthread.h>
#include <unistd.h>
#include "t.h"
#include "verdict.h"

static struct vt *T;
static struct pm_addr A;
static int woke_state[8];

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
	vt_complete(T, &A, VT_OPEN, "socks5:1080", "203.0.113.9", now + 2, 100);
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
		vt_complete(T, &b, VT_CLEAN, "", "", now, i == 5 ? 1 : 1000);
	}
	pm_addr_parse("192.0.2.0", &b);
	vt_claim(T, &b, now + 2, 60, &v);	/* touch .0: most recent now */
	pm_addr_parse("198.51.100.1", &b);
	vt_complete(T, &b, VT_CLEAN, "", "", now + 3, 1000);
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
		vt_complete(T, &b, VT_CLEAN, "", "", now, 1000);
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
		vt_complete(T, &b, VT_CLEAN, "", "", now, 1000);
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

	/* concurrent waiters are all woken by one completion */
	T = vt_new(100);
	vt_claim(T, &A, vt_now(), 60, &v);
	pthread_t th[8];
	for (long i = 0; i < 8; i++)
		pthread_create(&th[i], NULL, waiter, (void *)i);
	usleep(100000);
	double t0 = vt_now();
	vt_complete(T, &A, VT_CLEAN, "", "", vt_now(), 100);
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
	T_DONE();
}
