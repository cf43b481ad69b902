/*
 * log.c - key=value logging (see log.h).
 */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "log.h"

static int log_level = LOG_INFO;
static int log_stderr;
static char log_ident[32] = "proxymilter";

void
log_open(const char *ident, int facility)
{
	snprintf(log_ident, sizeof(log_ident), "%s", ident);
	openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
}

void
log_configure(int level, int to_stderr)
{
	log_level = level;
	log_stderr = to_stderr;
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

void
lb_emit(struct lb *l, int prio)
{
	if (prio > log_level)
		return;
	syslog(prio, "%s", l->buf);
	if (log_stderr) {
		struct timespec ts;
		struct tm tm;
		char when[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		flockfile(stderr);
		fprintf(stderr, "%s.%03ld %s[%ld]: %s\n", when, ts.tv_nsec / 1000000,
		    log_ident, (long)getpid(), l->buf);
		fflush(stderr);
		funlockfile(stderr);
	}
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
