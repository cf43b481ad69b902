/*
 * hist.c - latency histogram (see hist.h).
 */
#include "config.h"
#include "hist.h"

static unsigned
bucket_of(uint64_t us)
{
	unsigned oct = 0;
	uint64_t base = HIST_LINEAR;

	if (us < HIST_LINEAR)
		return (unsigned)us;
	while (oct + 1 < HIST_OCTAVES && us >= base * 2) {
		base *= 2;
		oct++;
	}
	uint64_t sub = (us - base) * HIST_SUB / base;
	if (sub >= HIST_SUB)
		sub = HIST_SUB - 1;
	return HIST_LINEAR + oct * HIST_SUB + (unsigned)sub;
}

/* the largest value that falls into bucket i */
static uint64_t
bucket_top(unsigned i)
{
	if (i < HIST_LINEAR)
		return i;
	unsigned oct = (i - HIST_LINEAR) / HIST_SUB, sub = (i - HIST_LINEAR) % HIST_SUB;
	uint64_t base = (uint64_t)HIST_LINEAR << oct;
	return base + (base * (sub + 1) + HIST_SUB - 1) / HIST_SUB - 1;
}

void
hist_add(struct hist *h, uint64_t us)
{
	uint64_t m = __atomic_load_n(&h->max, __ATOMIC_RELAXED);

	__atomic_add_fetch(&h->b[bucket_of(us)], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&h->n, 1, __ATOMIC_RELAXED);
	while (us > m && !__atomic_compare_exchange_n(&h->max, &m, us, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

uint64_t
hist_count(const struct hist *h)
{
	return __atomic_load_n(&h->n, __ATOMIC_RELAXED);
}

uint64_t
hist_max(const struct hist *h)
{
	return __atomic_load_n(&h->max, __ATOMIC_RELAXED);
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t total = 0, seen = 0, want;

	for (unsigned i = 0; i < HIST_N; i++)
		total += __atomic_load_n(&h->b[i], __ATOMIC_RELAXED);
	if (total == 0)
		return 0;
	want = (uint64_t)(q * (double)total + 0.999999);
	if (want < 1)
		want = 1;
	for (unsigned i = 0; i < HIST_N; i++) {
		seen += __atomic_load_n(&h->b[i], __ATOMIC_RELAXED);
		if (seen >= want)
			return bucket_top(i);
	}
	return hist_max(h);
}
