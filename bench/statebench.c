/*
 * statebench.c - how long the state file takes for a big table: fill a
 * table with N verdicts (default 1,000,000: a tenth open proxies with
 * evidence and egress, a tenth listed, the rest clean; one address in
 * seven IPv6), save it (state_save), export it (export_rbldnsd), load it
 * into a second table (state_load), and print seconds, sizes and the
 * peak RSS.  Not part of check:
 *   make -C BUILD bench/statebench && BUILD/bench/statebench [N] [DIR]
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include "verdict.h"
#include "state.h"
#include "export.h"

static long
peak_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

int
main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	char path[512], zone[512], err[512], ip[64];
	struct state_counts sc, lc;
	struct export_counts ec;
	struct vt *a, *b;
	struct pm_addr x;
	double now, t0;

	snprintf(path, sizeof(path), "%s/statebench.%ld", dir, (long)getpid());
	snprintf(zone, sizeof(zone), "%s/statebench-zone.%ld", dir, (long)getpid());
	if ((a = vt_new(n + n / 8)) == NULL)
		return 1;
	now = vt_now();
	t0 = vt_now();
	for (size_t i = 0; i < n; i++) {
		if (i % 7 == 3)
			snprintf(ip, sizeof(ip), "2001:db8:%zx:%zx::%zx", (i >> 32) & 0xffff,
			    (i >> 16) & 0xffff, i & 0xffff);
		else
			snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu", (i >> 16) & 255, (i >> 8) & 255,
			    i & 255);
		pm_addr_parse(ip, &x);
		if (i % 10 == 0)
			vt_complete(a, &x, VT_OPEN, 0, "socks5:1080", ip, now, 86400);
		else if (i % 10 == 1)
			vt_complete(a, &x, VT_LISTED, 3, "dnsbl=zen.spamhaus.example(3)", "", now, 3600);
		else
			vt_complete(a, &x, VT_CLEAN, 0, "", "", now, 86400);
	}
	printf("fill: %zu verdicts in %.2fs, peak RSS %ld MB\n", n, vt_now() - t0, peak_kb() / 1024);

	if (state_save(a, path, "bench", err, sizeof(err), &sc) < 0) {
		fprintf(stderr, "save: %s\n", err);
		return 1;
	}
	printf("save: %zu verdicts, %.1f MB, %.2fs, peak RSS %ld MB\n", sc.verdicts,
	    (double)sc.bytes / 1e6, sc.elapsed, peak_kb() / 1024);

	if (export_rbldnsd(a, zone, 60, "bench", err, sizeof(err), &ec) < 0) {
		fprintf(stderr, "export: %s\n", err);
		return 1;
	}
	printf("export: %zu v4 + %zu v6 lines, %.1f MB, %.2fs\n", ec.v4, ec.v6,
	    (double)ec.bytes / 1e6, ec.elapsed);

	if ((b = vt_new(n + n / 8)) == NULL)
		return 1;
	if (state_load(b, path, err, sizeof(err), &lc) != 0) {
		fprintf(stderr, "load: %s\n", err);
		return 1;
	}
	printf("load: %zu loaded, %zu expired, %.2fs, peak RSS %ld MB (two tables)\n", lc.loaded,
	    lc.expired, lc.elapsed, peak_kb() / 1024);
	unlink(path);
	unlink(zone);
	vt_free(a);
	vt_free(b);
	return lc.loaded == sc.verdicts ? 0 : 1;
}
