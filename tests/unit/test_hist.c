/* latency histogram: buckets, quantiles, max; concurrent adders */
#include "config.h"
#include <pthread.h>
#include "t.h"
#include "hist.h"

static struct hist H;

static void *
adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100000; i++)
		hist_add(&H, (uint64_t)(i % 100));
	return NULL;
}

int
main(void)
{
	static struct hist h;
	pthread_t th[4];

	t_prog = "hist: ";
	T_OK(hist_quantile(&h, 0.5) == 0 && hist_count(&h) == 0, "empty: 0");
	for (uint64_t us = 1; us <= 1000; us++)
		hist_add(&h, us);
	T_OK(hist_quantile(&h, 0.50) == 500, "p50 of 1..1000 us is 500 (1 us buckets below 1 ms)");
	T_OK(hist_quantile(&h, 0.99) == 990, "p99 of 1..1000 us is 990");
	T_OK(hist_max(&h) == 1000 && hist_count(&h) == 1000, "max and count");
	hist_add(&h, 50000);
	uint64_t q = hist_quantile(&h, 1.0);
	T_OK(q >= 50000 && q <= 50000 + 50000 / 64 + 1, "50 ms lands in a bucket within 1/64 of it");
	hist_add(&h, (uint64_t)1 << 40);
	T_OK(hist_max(&h) == (uint64_t)1 << 40 && hist_quantile(&h, 1.0) > 50000,
	    "a value past the last octave is kept (max) and counted");
	for (int i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, adder, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	T_OK(hist_count(&H) == 400000 && hist_max(&H) == 99, "4 threads x 100000 samples, none lost");
	T_OK(hist_quantile(&H, 0.5) == 49, "their median");
	T_DONE();
}
