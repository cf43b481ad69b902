/* per-network probe rate limit: /24 and /64 buckets, refill, bound */
#include "config.h"
#include "t.h"
#include "ratelimit.h"

int
main(void)
{
	struct rl *r = rl_new(16);
	struct pm_addr a, b, c;
	int ok = 0;
	char ip[48];

	t_prog = "ratelimit: ";
	pm_addr_parse("198.51.100.1", &a);
	for (int i = 0; i < 10; i++)
		ok += rl_take(r, &a, 1000.0, 5);
	T_OK(ok == 5, "a burst gets per_minute tokens");
	pm_addr_parse("198.51.100.200", &b);
	T_OK(!rl_take(r, &b, 1000.0, 5), "the same /24 shares the bucket");
	pm_addr_parse("198.51.101.1", &c);
	T_OK(rl_take(r, &c, 1000.0, 5), "another /24 has its own");
	T_OK(!rl_take(r, &a, 1011.0, 5) && rl_take(r, &a, 1012.1, 5), "refills at per_minute a minute");
	T_OK(rl_take(r, &a, 5000.0, 5) && rl_take(r, &a, 5000.0, 5), "refill capped, then usable");
	pm_addr_parse("2001:db8:1:2::1", &a);
	pm_addr_parse("2001:db8:1:2:ffff::9", &b);
	pm_addr_parse("2001:db8:1:3::1", &c);
	T_OK(rl_take(r, &a, 0, 1) && !rl_take(r, &b, 0, 1), "IPv6: the same /64 shares");
	T_OK(rl_take(r, &c, 0, 1), "IPv6: another /64 has its own");
	T_OK(rl_take(r, &a, 0, 0) && rl_take(r, &a, 0, 0), "0 = no limit");
	for (int i = 0; i < 100; i++) {
		snprintf(ip, sizeof(ip), "10.%d.0.1", i);
		pm_addr_parse(ip, &a);
		rl_take(r, &a, 0, 1);
	}
	T_OK(rl_size(r) == 16, "bounded: oldest networks forgotten");
	pm_addr_parse("10.0.0.1", &a);
	T_OK(rl_take(r, &a, 0, 1), "a forgotten network starts full");
	rl_free(r);

	/* the least recently touched network is the one forgotten */
	r = rl_new(16);
	for (int i = 0; i < 16; i++) {
		snprintf(ip, sizeof(ip), "10.%d.0.1", i);
		pm_addr_parse(ip, &a);
		rl_take(r, &a, 0, 1);
	}
	pm_addr_parse("10.0.0.1", &a);
	T_OK(!rl_take(r, &a, 1, 1), "net 0 empty, and touched");
	pm_addr_parse("10.99.0.1", &b);
	rl_take(r, &b, 1, 1);
	pm_addr_parse("10.1.0.1", &c);
	T_OK(rl_take(r, &c, 1, 1), "the oldest (net 1) forgotten: full again");
	T_OK(!rl_take(r, &a, 1, 1), "the touched one (net 0) remembered: still empty");
	rl_free(r);
	T_DONE();
}
