/*
 * probes.h - the probe engine's public interface (libprobes).
 *
 * The engine runs a libevent loop in a thread of its own.  Callers (the
 * milter's libmilter threads, the proxyprobe CLI) hand it requests through
 * pe_submit(), which is thread-safe and never blocks on the network.  Each
 * request names one client address and a list of tests (protocol, port).
 * Every test's outcome is reported through the result callback; the request's
 * overall verdict is reported exactly once through the done callback, which
 * is also where the caller's argument may be released.  Both callbacks run on
 * the engine thread and must not block.
 *
 * Proof: a test is "open" only when a fresh per-test nonce, sent through the
 * proxy, reaches the engine's own canary listener (or its keyed MAC comes
 * back through the tunnel).  Nothing a proxy says about itself counts.
 *
 * This library knows nothing of libmilter.
 */
#ifndef PROBES_H
#define PROBES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* Result of one test (one protocol on one port). */
enum pe_result_kind {
	PE_OPEN = 0,		/* nonce seen through the proxy: proved */
	PE_CLOSED,		/* refused, filtered, or a definite protocol refusal */
	PE_INCONCLUSIVE		/* timeout mid-way, garbage, reset: retried */
};

/* Overall verdict of a request. */
enum pe_verdict {
	PE_V_CLEAN = 0,		/* every test closed */
	PE_V_OPEN,		/* at least one test proved open */
	PE_V_ERROR		/* inconclusive after retries, overload, shutdown */
};

#define PE_PROTO_NAME_MAX 24
#define PE_DETAIL_MAX 96
#define PE_ADDRSTR_MAX 64	/* enough for an IPv6 address text */

/* A protocol; the table lives in engine.c (one row per probes/<proto>.c). */
struct pe_proto;

struct pe_test {
	const struct pe_proto *proto;
	uint16_t port;
};

struct pe_result {
	const char *proto;		/* protocol name, e.g. "socks5" */
	uint16_t port;
	enum pe_result_kind result;
	const char *reason;		/* short word: refused, filtered, proved, http-403 ... */
	const char *detail;		/* printable, capped; may be "" */
	const char *egress;		/* proxy's egress address seen by the canary, or "" */
	double elapsed;			/* seconds since the attempt started */
	int attempt;			/* 1 = first try */
};

struct pe_summary {
	enum pe_verdict verdict;
	int final;			/* 0: provisional (retries still pending in the
					 * background); the last call has final = 1 */
	const char *evidence;		/* "socks5:1080" for open, "" otherwise */
	const char *egress;		/* egress of the open test, or "" */
	const char *reason;		/* for error: overload, shutdown, inconclusive */
	int tests, open, closed, inconclusive;
	double elapsed;			/* seconds since submission */
	double queued;			/* ... of which waiting for admission */
};

typedef void (*pe_result_fn)(const struct pe_result *, void *arg);
/*
 * The verdict of a request: called once with final = 1, or first with a
 * provisional verdict (final = 0) when every test has a first result but
 * inconclusive ones are being retried in the background, then once more
 * with final = 1.  arg may be released after the final call.
 */
typedef void (*pe_done_fn)(const struct pe_summary *, void *arg);

/* What proxies are asked to connect to, and what proves them open. */
enum pe_target_kind {
	PE_TARGET_CANARY = 0,	/* our canary; proof = the nonce reaches it */
	PE_TARGET_MTA,		/* our own MTA; proof = the milter sees the nonce
				 * in EHLO and calls pe_confirm() */
	PE_TARGET_BANNER	/* an external server; "proof" = a line that starts
				 * with the banner (pxytest -M/-S; the weakest) */
};

struct pe_options {
	enum pe_target_kind target_kind;
	/* the canary listener (PE_TARGET_CANARY; len 0 = none) */
	struct sockaddr_storage canary_listen;
	socklen_t canary_listen_len;
	/* the address proxies are asked to reach */
	struct sockaddr_storage canary_target;
	socklen_t canary_target_len;
	char banner[64];		/* PE_TARGET_BANNER / MTA: first-line prefix */
	/* PE_TARGET_BANNER only: relay a probe mail to mail_rcpt through every
	 * tunnel found (proxyprobe -m); empty = never send mail */
	char mail_rcpt[256], mail_tag[64], mail_agent[64];
	int max_inflight;		/* global budget of probe sockets */
	int max_per_client;		/* concurrent tests per request */
	int max_queue;			/* requests waiting for admission */
	double max_queue_wait;		/* seconds a request may wait for admission;
					 * older ones end with verdict error (reason
					 * overload): probing a client minutes after it
					 * left helps nobody; 0 = no limit */
	int max_canary_conns;		/* concurrent canary connections */
	size_t read_cap;		/* bytes read per test before giving up */
};

/* Per-request timing; may differ between requests (config reload). */
#define PE_MAX_RETRIES 5
struct pe_timing {
	double connect_timeout;		/* seconds to TCP connect */
	double timeout;			/* seconds for the whole test attempt */
	int retries;			/* extra attempts for inconclusive tests
					 * (at most PE_MAX_RETRIES) */
};

#define PE_F_STOP_ON_OPEN 0x01		/* cancel the rest at the first open test */

struct pe_engine;

/* Create the engine and its canary listener; NULL and a message on error. */
struct pe_engine *pe_create(const struct pe_options *, pe_result_fn, pe_done_fn,
    char *err, size_t errlen);
/* Start the event thread.  0 or -1 (errno set). */
int pe_start(struct pe_engine *);
/*
 * Queue a probe request; thread-safe.  The tests array is copied.  Returns 0;
 * the done callback will be called exactly once.  Returns -1 only when the
 * engine is stopped or out of memory; then no callback happens.
 */
int pe_submit(struct pe_engine *, const struct sockaddr *, socklen_t,
    const struct pe_test *, size_t ntests, const struct pe_timing *,
    unsigned flags, void *arg);
/*
 * PE_TARGET_MTA: the MTA side saw a HELO with "pxm-<nonce>" from egress.
 * Thread-safe and quick (a lookup under a mutex).  0 when the nonce is one
 * a running test sent to our MTA and that was not confirmed before: that
 * test is then proved (in the engine thread).  -1 otherwise: the HELO is
 * just a HELO.
 */
int pe_confirm(struct pe_engine *, const char *helo, const char *egress);

/* back-off before attempt+1 (2 s, 4 s, ...) */
double pe_backoff(int attempt);
/* the longest a request of ntests can take once admitted (its schedule:
 * waves of max_per_client tests, every attempt, the back-offs) */
double pe_job_budget(const struct pe_engine *, size_t ntests, const struct pe_timing *);
/* ... plus the longest wait in a full queue: a bound for "in flight" */
double pe_pending_bound(const struct pe_engine *, size_t ntests, const struct pe_timing *);
/* find "pxm-<32 hex>" in buf; returns the offset of the hex digits or -1 */
long pe_nonce_find(const char *buf, size_t len);

/* Stop the thread; pending requests end with verdict error (reason shutdown). */
void pe_stop(struct pe_engine *);
void pe_free(struct pe_engine *);

struct pe_stats {
	uint64_t submitted, admitted, finished, overload;
	uint64_t tests, open, closed, inconclusive, retried;
	uint64_t canary_conns, canary_proofs, canary_unknown;
	int inflight, inflight_max, queued;
};
void pe_get_stats(struct pe_engine *, struct pe_stats *);

/* Protocol table ("cisco" and "wingate" name the adaptive telnet probe). */
const struct pe_proto *pe_proto_find(const char *name);
const char *pe_proto_name(const struct pe_proto *);
size_t pe_proto_count(void);
const struct pe_proto *pe_proto_at(size_t);

/*
 * Scan lists (arrays built only by this function: it grows them by doubling):
 * port specs "MIN[-MAX][/PROTO]" (default proto http-connect;
 * "all" = every protocol) and tags (built-in: basic, full, socks; plus the
 * caller's).  Appends to *tests (realloc'd), each (proto, port) once; -1 and
 * a message ("bad port specification ...", "unknown proxy type ...") on bad
 * input.
 */
struct pe_tag {
	const char *name;
	const char *const *specs;	/* NULL-terminated */
};
int pe_scan_parse(const char *spec, const struct pe_tag *user_tags,
    struct pe_test **tests, size_t *ntests, char *err, size_t errlen);
/* built-in tags, for listings: NULL past the end */
const struct pe_tag *pe_builtin_tag(size_t i);

/* Numeric "HOST:PORT" / "[V6]:PORT" -> sockaddr; -1 on error. */
int pe_parse_hostport(const char *s, struct sockaddr_storage *, socklen_t *);
/* port of an AF_INET/AF_INET6 sockaddr */
int pe_target_port(const struct sockaddr *);
/* The calling thread becomes SCHED_BATCH (Linux): a wake-up of it no longer
 * preempts the thread that woke it (a libmilter callback handing it work);
 * it still gets its fair share of the CPU.  Best effort. */
void pe_thread_batch(void);
/* Address text without port (v4-mapped shown as IPv4). */
const char *pe_addr_str(const struct sockaddr *, char *buf, size_t len);
/* Copy printable ASCII of src into dst (cap dstlen-1), others as '?'. */
size_t pe_printable(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
