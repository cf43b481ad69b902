/*
 * persist.c - the verdict table on disk (see persist.h): the state file
 * (state.c) and the rbldnsd export (export.c), on a thread of their own.
 *
 * Decisions:
 * - persist_start loads the state file before the milter serves (main.c
 *   calls it before smfi_main): the first connections find their
 *   verdicts.  A missing file is the first start (one info line); a file
 *   that is not ours, of another version or damaged is one warning that
 *   says what was found, and an empty table: the milter starts anyway,
 *   since probing again is the worst that can happen.
 * - One thread saves every state.save_interval and exports every
 *   export.interval, the first export at once (rbldnsd wants the file to
 *   exist).  It sleeps in pthread_cond_timedwait on CLOCK_MONOTONIC (a
 *   clock step changes nothing), so persist_stop wakes it at once; the
 *   last snapshot is written by persist_stop after the join, when the
 *   probe engine has stopped: it holds every verdict made.
 * - Files are written as the milter's user (privileges are dropped by
 *   then): the directory must be writable by it.  A failed write is one
 *   error line per attempt and the old file stays; the next interval tries
 *   again.
 * - Nothing at all (no thread) when state.file and export.rbldnsd_zone
 *   are both "".  Both keys take effect at start only (conffleet.c).
 */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "persist.h"
#include "pmconfig.h"
#include "milter.h"
#include "state.h"
#include "export.h"
#include "log.h"

static struct {
	pthread_t thr;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int running, stop;
	char *state_file, *export_file;
	long save_interval, export_interval;
} P = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void
load(void)
{
	struct state_counts c;
	char err[512];
	struct lb l;
	int r;

	r = state_load(pm.vt, P.state_file, err, sizeof(err), &c);
	lb_init(&l, NULL, "state");
	if (r == 1) {
		lb_kv(&l, "loaded", "0");
		lb_kv(&l, "file", P.state_file);
		lb_kv(&l, "msg", "no state file yet: an empty start");
		lb_emit(&l, LOG_INFO);
		return;
	}
	if (r < 0) {
		lb_kv(&l, "loaded", "0");
		lb_kv(&l, "file", P.state_file);
		lb_kv(&l, "error", err);
		lb_kv(&l, "msg", "state file ignored: an empty start");
		lb_emit(&l, LOG_WARNING);
		return;
	}
	lb_kvf(&l, "loaded", "%zu", c.loaded);
	lb_kvf(&l, "expired", "%zu", c.expired);
	if (c.older > 0)
		lb_kvf(&l, "older", "%zu", c.older);
	lb_kv(&l, "file", P.state_file);
	lb_kv(&l, "host", c.host);
	lb_kvf(&l, "age", "%llds", (long long)time(NULL) - (long long)c.saved_at);
	lb_kvf(&l, "bytes", "%llu", (unsigned long long)c.bytes);
	lb_kvf(&l, "elapsed", "%.3fs", c.elapsed);
	lb_emit(&l, LOG_NOTICE);
}

static void
save(void)
{
	struct state_counts c;
	char err[512];
	struct lb l;

	lb_init(&l, NULL, "state");
	if (state_save(pm.vt, P.state_file, pm.hostname, err, sizeof(err), &c) < 0) {
		lb_kv(&l, "saved", "0");
		lb_kv(&l, "file", P.state_file);
		lb_kv(&l, "error", err);
		lb_emit(&l, LOG_ERR);
		return;
	}
	lb_kvf(&l, "saved", "%zu", c.verdicts);
	lb_kvf(&l, "bytes", "%llu", (unsigned long long)c.bytes);
	lb_kv(&l, "file", P.state_file);
	lb_kvf(&l, "elapsed", "%.3fs", c.elapsed);
	lb_emit(&l, LOG_INFO);
}

static void
do_export(int first)
{
	struct export_counts c;
	char err[512];
	struct lb l;

	lb_init(&l, NULL, "export");
	if (export_rbldnsd(pm.vt, P.export_file, P.export_interval, pm.hostname, err, sizeof(err),
	    &c) < 0) {
		lb_kv(&l, "file", P.export_file);
		lb_kv(&l, "error", err);
		lb_emit(&l, LOG_ERR);
		return;
	}
	lb_kvf(&l, "entries", "%zu", c.v4 + c.v6);
	lb_kvf(&l, "v4", "%zu", c.v4);
	lb_kvf(&l, "v6", "%zu", c.v6);
	lb_kvf(&l, "bytes", "%llu", (unsigned long long)c.bytes);
	lb_kv(&l, "file", P.export_file);
	lb_kvf(&l, "elapsed", "%.3fs", c.elapsed);
	lb_emit(&l, first ? LOG_INFO : LOG_DEBUG);	/* every minute: quiet */
}

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
loop(void *arg)
{
	double now = mono(), next_save = now + (double)P.save_interval, next_export = now;
	struct timespec ts;
	double until;
	int first = 1;

	(void)arg;
	pthread_mutex_lock(&P.mu);
	while (!P.stop) {
		now = mono();
		if (P.export_file != NULL && now >= next_export) {
			pthread_mutex_unlock(&P.mu);
			do_export(first);
			first = 0;
			pthread_mutex_lock(&P.mu);
			next_export = mono() + (double)P.export_interval;
			continue;
		}
		if (P.state_file != NULL && now >= next_save) {
			pthread_mutex_unlock(&P.mu);
			save();
			pthread_mutex_lock(&P.mu);
			next_save = mono() + (double)P.save_interval;
			continue;
		}
		until = 1e18;
		if (P.export_file != NULL)
			until = next_export;
		if (P.state_file != NULL && next_save < until)
			until = next_save;
		ts.tv_sec = (time_t)until;
		ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
		if (ts.tv_nsec >= 1000000000L)
			ts.tv_nsec = 999999999L;
		pthread_cond_timedwait(&P.cv, &P.mu, &ts);
	}
	pthread_mutex_unlock(&P.mu);
	return NULL;
}

int
persist_start(const struct pm_config *cf, char *err, size_t errlen)
{
	pthread_condattr_t ca;
	int r;

	if (cf->state.file[0] != '\0' && (P.state_file = strdup(cf->state.file)) == NULL)
		goto oom;
	if (cf->exp.rbldnsd_zone[0] != '\0' &&
	    (P.export_file = strdup(cf->exp.rbldnsd_zone)) == NULL)
		goto oom;
	if (P.state_file == NULL && P.export_file == NULL)
		return 0;
	P.save_interval = cf->state.save_interval;
	P.export_interval = cf->exp.interval;
	if (P.state_file != NULL)
		load();
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&P.cv, &ca);
	pthread_condattr_destroy(&ca);
	P.stop = 0;
	if ((r = pthread_create(&P.thr, NULL, loop, NULL)) != 0) {
		snprintf(err, errlen, "cannot start the state/export thread: %s", strerror(r));
		pthread_cond_destroy(&P.cv);
		goto fail;
	}
	P.running = 1;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
fail:
	free(P.state_file);
	free(P.export_file);
	P.state_file = P.export_file = NULL;
	return -1;
}

void
persist_stop(void)
{
	if (!P.running)
		return;
	pthread_mutex_lock(&P.mu);
	P.stop = 1;
	pthread_cond_signal(&P.cv);
	pthread_mutex_unlock(&P.mu);
	pthread_join(P.thr, NULL);
	P.running = 0;
	pthread_cond_destroy(&P.cv);
	if (P.state_file != NULL)
		save();
	free(P.state_file);
	free(P.export_file);
	P.state_file = P.export_file = NULL;
}
