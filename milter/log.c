/*
 * log.c - key=value logging (see log.h).
 */
#include "config.h"
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "log.h"
#include "../probes/probes.h"

/* read by every thread, written on reload: atomics */
static int log_level = LOG_INFO;
static int log_stderr;
static char log_ident[32] = "proxymilter";

/*
 * Once log_async_start() ran, lines go through a bounded queue to a thread
 * of their own, so no callback (libmilter's or the engine's) ever waits
 * for syslogd or a slow stderr.  A full queue drops the line and counts it
 * (log_dropped, in the stats line).  The thread runs as SCHED_BATCH: waking
 * it for a line does not preempt the callback that wrote the line.
 */
#define QCAP 8192
struct qline {
	int prio;
	struct timespec when;
	char *msg;
};
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct qline q[QCAP];
	unsigned head, n;
	int running, stop;
	pthread_t thr;
	uint64_t dropped;
} lq = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, { { 0, { 0, 0 }, NULL } }, 0, 0, 0, 0, 0, 0 };

void
log_open(const char *ident, int facility)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
}

void
log_configure(int level, int to_stderr)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
	__atomic_store_n(&log_stderr, to_stderr, __ATOMIC_RELAXED);
}

static const struct { const char *name; int val; } levels[] = {
	{ "debug", LOG_DEBUG }, { "info", LOG_INFO }, { "notice", LOG_NOTICE },
	{ "warning", LOG_WARNING }, { "err", LOG_ERR }, { "error", LOG_ERR },
};

int
log_level_from_name(const char *n)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(n, levels[i].name) == 0)
			return levels[i].val;
	return -1;
}

static const struct { const char *name; int val; } facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

int
log_facility_from_name(const char *n)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(n, facilities[i].name) == 0)
			return facilities[i].val;
	return -1;
}

size_t
log_escape(char *dst, size_t dstlen, const char *src)
{
	size_t n = 0, kept = 0;
	int quote = src[0] == '\0';
	char *p = dst;

	if (dstlen < 4) {
		if (dstlen > 0)
			dst[0] = '\0';
		return 0;
	}
	for (const char *s = src; *s != '\0'; s++)
		if (*s == ' ' || *s == '"' || *s == '=' || *s == '\\' ||
		    (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			quote = 1;
	if (quote)
		p[n++] = '"';
	for (const char *s = src; *s != '\0' && kept < LOG_VALUE_CAP; s++, kept++) {
		unsigned char c = (unsigned char)*s;
		if (n + 4 >= dstlen)
			break;
		if (c == '"' || c == '\\') {
			p[n++] = '\\';
			p[n++] = (char)c;
		} else if (c < 0x20 || c >= 0x7f) {
			p[n++] = '?';
		} else {
			p[n++] = (char)c;
		}
	}
	if (kept == LOG_VALUE_CAP && src[kept] != '\0' && n + 5 < dstlen) {
		memcpy(p + n, "...", 3);
		n += 3;
	}
	if (quote)
		p[n++] = '"';
	p[n] = '\0';
	return n;
}

void
lb_init(struct lb *l, const char *qid, const char *event)
{
	int r;
	if (qid != NULL)
		r = snprintf(l->buf, sizeof(l->buf), "%s: %s", qid, event);
	else
		r = snprintf(l->buf, sizeof(l->buf), "%s", event);
	l->len = r < 0 ? 0 : (size_t)r < sizeof(l->buf) ? (size_t)r : sizeof(l->buf) - 1;
}

void
lb_kv(struct lb *l, const char *key, const char *value)
{
	size_t room = sizeof(l->buf) - l->len;
	size_t kl = strlen(key);

	if (value == NULL)
		value = "";
	if (room < kl + 8)
		return;
	l->buf[l->len++] = ' ';
	memcpy(l->buf + l->len, key, kl);
	l->len += kl;
	l->buf[l->len++] = '=';
	l->len += log_escape(l->buf + l->len, sizeof(l->buf) - l->len, value);
}

void
lb_kvf(struct lb *l, const char *key, const char *fmt, ...)
{
	char v[LOG_VALUE_CAP * 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	lb_kv(l, key, v);
}

static void
write_line(int prio, const struct timespec *ts, const char *msg)
{
	syslog(prio, "%s", msg);
	if (__atomic_load_n(&log_stderr, __ATOMIC_RELAXED)) {
		struct tm tm;
		char when[32];
		localtime_r(&ts->tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		flockfile(stderr);
		fprintf(stderr, "%s.%03ld %s[%ld]: %s\n", when, ts->tv_nsec / 1000000,
		    log_ident, (long)getpid(), msg);
		fflush(stderr);
		funlockfile(stderr);
	}
}

static void *
log_thread(void *arg)
{
	struct qline batch[64];
	unsigned n;

	(void)arg;
	pe_thread_batch();
	pthread_mutex_lock(&lq.mu);
	for (;;) {
		while (lq.n == 0 && !lq.stop)
			pthread_cond_wait(&lq.cv, &lq.mu);
		if (lq.n == 0 && lq.stop)
			break;
		for (n = 0; n < 64 && lq.n > 0; n++) {
			batch[n] = lq.q[lq.head];
			lq.head = (lq.head + 1) % QCAP;
			lq.n--;
		}
		pthread_mutex_unlock(&lq.mu);
		for (unsigned i = 0; i < n; i++) {
			write_line(batch[i].prio, &batch[i].when, batch[i].msg);
			free(batch[i].msg);
		}
		pthread_mutex_lock(&lq.mu);
	}
	pthread_mutex_unlock(&lq.mu);
	return NULL;
}

int
log_async_start(void)
{
	pthread_mutex_lock(&lq.mu);
	lq.stop = 0;
	if (!lq.running && pthread_create(&lq.thr, NULL, log_thread, NULL) == 0)
		__atomic_store_n(&lq.running, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&lq.mu);
	return __atomic_load_n(&lq.running, __ATOMIC_ACQUIRE) ? 0 : -1;
}

void
log_async_stop(void)
{
	pthread_mutex_lock(&lq.mu);
	if (!__atomic_load_n(&lq.running, __ATOMIC_ACQUIRE)) {
		pthread_mutex_unlock(&lq.mu);
		return;
	}
	/* later lines are written directly; the thread drains the queue */
	__atomic_store_n(&lq.running, 0, __ATOMIC_RELEASE);
	lq.stop = 1;
	pthread_cond_signal(&lq.cv);
	pthread_mutex_unlock(&lq.mu);
	pthread_join(lq.thr, NULL);
}

uint64_t
log_dropped(void)
{
	uint64_t n;
	pthread_mutex_lock(&lq.mu);
	n = lq.dropped;
	pthread_mutex_unlock(&lq.mu);
	return n;
}

void
lb_emit(struct lb *l, int prio)
{
	struct timespec ts;
	char *copy;

	if (prio > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (!__atomic_load_n(&lq.running, __ATOMIC_ACQUIRE)) {
		write_line(prio, &ts, l->buf);
		return;
	}
	copy = malloc(l->len + 1);
	pthread_mutex_lock(&lq.mu);
	if (lq.n == QCAP || copy == NULL) {
		lq.dropped++;
		pthread_mutex_unlock(&lq.mu);
		free(copy);
		return;
	}
	memcpy(copy, l->buf, l->len + 1);
	lq.q[(lq.head + lq.n) % QCAP] = (struct qline){ prio, ts, copy };
	lq.n++;
	pthread_cond_signal(&lq.cv);
	pthread_mutex_unlock(&lq.mu);
}

void
log_msg(int prio, const char *event, const char *fmt, ...)
{
	struct lb l;
	char v[LOG_LINE_MAX / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v, sizeof(v), fmt, ap);
	va_end(ap);
	lb_init(&l, NULL, event);
	lb_kv(&l, "msg", v);
	lb_emit(&l, prio);
}
