/*
 * log.h - key=value log lines to syslog (and stderr).
 *
 * A line is "<QID|NOQUEUE>: <event> key=value ..." for session events and
 * "<event> key=value ..." for daemon-wide ones (start, stop, reload, stats,
 * error).  Values with space, '"', '=' or '\' are double-quoted with '\'
 * escapes; every value is made printable and capped, since most of them
 * (HELO, addresses, replies, proxy bytes) come from the network.
 */
#ifndef PM_LOG_H
#define PM_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

#define LOG_VALUE_CAP 200	/* characters of one value kept */
#define LOG_LINE_MAX 2048

struct lb {
	char buf[LOG_LINE_MAX];
	size_t len;
};

void log_open(const char *ident, int facility);
void log_configure(int level, int to_stderr);
int log_level_from_name(const char *);
int log_facility_from_name(const char *);

void lb_init(struct lb *, const char *qid, const char *event);
void lb_kv(struct lb *, const char *key, const char *value);
void lb_kvf(struct lb *, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void lb_emit(struct lb *, int prio);

/* from now on lines go through a queue to a logging thread (never blocks
 * the caller; a full queue drops and counts); stop flushes it */
int log_async_start(void);
void log_async_stop(void);
uint64_t log_dropped(void);

/* plain daemon messages: "error msg=..." etc. */
void log_msg(int prio, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* escape one value as it appears after "key="; returns its length */
size_t log_escape(char *dst, size_t dstlen, const char *src);

#endif
