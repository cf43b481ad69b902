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
#include <sys/time.h>
#include <sys/socket.h>
#include <netinet/in.h>

/* Result of one test (one protocol on one port). */
enum pe_result_kind {
	PE_OPEN = 0,		/* nonce seen through the proxy: proved */
	PE_CLOSED,		/* refused, filtered, or a definite protocol refusal */
	PE_INCONCLUSIVE		/* timeout mid-way, garbage, reset: retried */
};

/*
 * Overall verdict of a request: a class made of the checks' findings, in
 * this precedence: open-proxy (proved) > open-relay (confirmed) > listed
 * (DNSBL/DNSWL weights >= dnsbl_threshold) > suspect (the score, every
 * finding's weight, >= suspect_threshold) > clean; error when no class
 * above clean is known and a check stayed inconclusive.
 */
enum pe_verdict {
	PE_V_CLEAN = 0,		/* every check done, nothing found */
	PE_V_OPEN,		/* at least one test proved an open proxy */
	PE_V_ERROR,		/* inconclusive after retries, overload, shutdown */
	PE_V_RELAY,		/* an open relay confirmed */
	PE_V_LISTED,		/* listed in DNSBLs */
	PE_V_SUSPECT		/* weak findings add up */
};
const char *pe_verdict_name(enum pe_verdict);	/* "open-proxy", "listed" ... */

/* What a finding counts towards (see pe_verdict). */
enum pe_fclass {
	PE_F_OPEN_PROXY = 0,	/* proved by our nonce */
	PE_F_OPEN_RELAY,	/* confirmed relaying */
	PE_F_DNSBL,		/* a DNSBL/DNSWL answer: its weight counts to "listed" */
	PE_F_WEAK		/* anything else: its weight counts to the score */
};

#define PE_JOB_FINDINGS_MAX 64	/* findings one request keeps */
#define PE_FINDING_NAME_MAX 16
#define PE_FINDING_VALUE_MAX 56
struct pe_finding {
	enum pe_fclass fclass;
	int weight;
	int ttl;				/* seconds it may be reused; 0 = no bound
						 * of its own (DNS answers: their TTL) */
	char name[PE_FINDING_NAME_MAX];		/* "open-proxy", "dnsbl", "netbios" */
	char value[PE_FINDING_VALUE_MAX];	/* printable: "socks5:1080", "bl.example" */
};
struct pe_rules {
	int dnsbl_threshold;		/* postscreen_dnsbl_threshold; 1 if 0 */
	int suspect_threshold;		/* 3 if 0 */
};
/* the class and score of a set of findings (pure; error is the caller's) */
enum pe_verdict pe_classify(const struct pe_finding *, size_t n, const struct pe_rules *,
    int *score);
/* "name=value(weight) ..." (weight shown when not 0), capped, NUL-terminated */
void pe_findings_text(const struct pe_finding *, size_t n, char *buf, size_t len);

#define PE_PROTO_NAME_MAX 24	/* a check kind's name */
#define PE_DETAIL_MAX 96
#define PE_ADDRSTR_MAX 64	/* enough for an IPv6 address text */

/* A check kind; the table lives in registry.c (one row per probes/<kind>.c). */
struct pe_kind;

struct pe_test {
	const struct pe_kind *kind;
	uint16_t port;			/* 0 for kinds that connect nowhere */
};

struct pe_result {
	const char *proto;		/* the check's name, e.g. "socks5" */
	uint16_t port;
	enum pe_result_kind result;
	const char *reason;		/* short word: refused, filtered, proved, http-403 ... */
	const char *detail;		/* printable, capped; may be "" */
	const char *egress;		/* proxy's egress address seen by the canary, or "" */
	double elapsed;			/* seconds since the attempt started */
	int attempt;			/* 1 = first try */
	const char *findings;		/* this attempt's findings as text, or "" */
	int connected;			/* the TCP connection was made (a port that
					 * answers; the self-test's alarm) */
};

struct pe_summary {
	enum pe_verdict verdict;
	int final;			/* 0: provisional (a decisive class is known
					 * while checks go on, or retries are pending
					 * in the background); the last call has
					 * final = 1 */
	const char *evidence;		/* "socks5:1080" for open, "" otherwise */
	const char *egress;		/* egress of the open test, or "" */
	const char *reason;		/* for error: overload, shutdown, inconclusive */
	int tests, open, closed, inconclusive;
	int score;			/* sum of the findings' weights */
	int ttl;			/* the smallest finding ttl, 0 = none */
	const char *findings;		/* every finding as text, or "" */
	const struct pe_finding *finding;	/* ... and as records */
	size_t nfindings;
	double elapsed;			/* seconds since submission */
	double queued;			/* ... of which waiting for admission */
};

typedef void (*pe_result_fn)(const struct pe_result *, void *arg);
/*
 * The verdict of a request: called once with final = 1, or first with
 * provisional verdicts (final = 0) -- when a class above clean becomes
 * known while other checks still run, or when every test has a first
 * result but inconclusive ones are being retried in the background -- then
 * once more with final = 1.  arg may be released after the final call.
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
	/* DNS for the checks (c-ares): "" = /etc/resolv.conf, else
	 * "ADDR" or "ADDR:PORT" / "[V6]:PORT"; the timeout bounds each query */
	char dns_resolver[80];
	double dns_timeout;		/* seconds; 3 if 0 */
};

/*
 * The checks that are not proxy tests, as configured (design section 7).
 * Built by the caller, read by the engine's kinds; it must outlive every
 * request that names it (the milter keeps it in its refcounted config).
 */
#define PE_DNSBL_MAX_RANGES 16
struct pe_dnsbl_site {
	char *domain;			/* "zen.example.org" */
	int weight;			/* *W, default 1; negative: an allowlist */
	/* filter "=127.0.0.[2..11]": per octet, ranges; nranges[i] == 0 = any */
	int has_filter;
	uint8_t nranges[4];
	uint8_t lo[4][PE_DNSBL_MAX_RANGES], hi[4][PE_DNSBL_MAX_RANGES];
};
struct pe_checks {
	struct pe_dnsbl_site *sites;
	size_t nsites;
	int guess_domain;		/* dns.guess_domain: MX and SPF of the
					 * rDNS name's registrable domain */
	int w_fcrdns_fail, w_fcrdns_none, w_netbios;	/* score.* */
	int w_banner_mismatch;
	struct pe_rules rules;		/* findings -> class */
	/* connect_back: the client's own port 25 (the test's port) */
	int cb_relay;			/* enum pe_relay_test */
	int cb_backscatter;		/* backscatter_test */
	int w_backscatter;
	double cb_timeout;		/* the session's bound (0: the request's) */
	const char *cb_sender;		/* MAIL FROM of the relay test ("" = <>) */
	const char *cb_local, *cb_domain;	/* relay_address: local+NONCE@domain */
	void *geoip;			/* pe_geoip_open's, or NULL */
};
enum pe_relay_test { PE_RELAY_NONE = 0, PE_RELAY_RCPT, PE_RELAY_CONFIRM };
/* "domain[=filter][*weight]" (postscreen_dnsbl_sites); -1 and a message */
int pe_dnsbl_parse(const char *spec, struct pe_dnsbl_site *, char *err, size_t errlen);
void pe_dnsbl_site_free(struct pe_dnsbl_site *);
/* does a reply address (network order) pass the site's filter? */
int pe_dnsbl_match(const struct pe_dnsbl_site *, const unsigned char a[4]);
/* the DNSBL query name of an address: reversed octets or nibbles + domain;
 * -1 when it does not fit */
int pe_dnsbl_qname(const struct sockaddr *, const char *domain, char *buf, size_t len);
/* MaxMind DB (geoip.database): NULL and a message when it cannot be used
 * (missing, corrupt, or this build has no libmaxminddb) */
void *pe_geoip_open(const char *path, char *err, size_t errlen);
void pe_geoip_close(void *);
/* the ISO country code of an address ("" when unknown); 0 or -1 */
int pe_geoip_country(void *, const struct sockaddr *, char cc[3]);
/* the registrable domain of a host name (public suffix list), lowercased;
 * -1 when it has none (a suffix itself, an address, garbage) */
int pe_registrable_domain(const char *name, char *buf, size_t len);

/* Per-request settings; may differ between requests (config reload). */
#define PE_MAX_RETRIES 5
struct pe_timing {
	double connect_timeout;		/* seconds to TCP connect */
	double timeout;			/* seconds for the whole test attempt */
	int retries;			/* extra attempts for inconclusive tests
					 * (at most PE_MAX_RETRIES) */
	const struct pe_checks *checks;	/* NULL: no DNSBL sites, default weights */
	char helo[256];			/* connect_back's EHLO name ("" = "localhost") */
	char ours[256];			/* our MTA's own name: a greeting naming it
					 * (or helo) is our own MTA's */
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
/* what our MTA saw of a nonce (a kind's on_confirm is told) */
enum pe_confirm_what {
	PE_CONFIRM_HELO = 0,	/* in a HELO: the client's port 25 leads to us */
	PE_CONFIRM_RELAY,	/* a recipient local+pxm-NONCE: relayed to us */
	PE_CONFIRM_BOUNCE	/* a recipient local+pxm-NONCE-bounce: a bounce */
};
#define PE_BOUNCE_TAG "-bounce"
/*
 * Our MTA got a whole message (its end: a callout that stops at RCPT is
 * no confirmation) from sender from ("" = <>) for rcpt.  0: rcpt carries
 * a nonce that a running connect-back sent and that was not confirmed
 * this way before (the check learns it; the message is our probe: discard
 * it); a -bounce address counts only with a null sender.  1: one of our
 * nonces again (a second delivery, or after the check ended: discard it,
 * it proves nothing more); -1: not ours (a forged nonce-shaped address is
 * just an address).  Thread-safe and quick.
 */
int pe_confirm_mail(struct pe_engine *, const char *rcpt, const char *from, const char *egress);
/* does rcpt carry a nonce of a connect-back running or recently ended? */
int pe_nonce_ours(struct pe_engine *, const char *rcpt);

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
	uint64_t connects;		/* TCP connects begun (a dead port's other
					 * tests make none) */
	uint64_t canary_conns, canary_proofs, canary_unknown;
	uint64_t dns_queries, dns_failures;	/* failures: timeouts, SERVFAIL,
						 * refused (not NXDOMAIN) */
	int inflight, inflight_max, queued;
};
void pe_get_stats(struct pe_engine *, struct pe_stats *);

/* The check kinds ("cisco" and "wingate" name the adaptive telnet probe).
 * pe_kind_register adds a kind that is not in the table (tests, embedders);
 * call it before any engine is created; -1 when full or the name is taken. */
const struct pe_kind *pe_kind_find(const char *name);
const char *pe_kind_name(const struct pe_kind *);
int pe_kind_is_proxy(const struct pe_kind *);
size_t pe_kind_count(void);
const struct pe_kind *pe_kind_at(size_t);
size_t pe_kind_index(const struct pe_kind *);
int pe_kind_register(const struct pe_kind *);

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
struct timeval pe_tv(double seconds);	/* for libevent timers */
/* The calling thread becomes SCHED_BATCH (Linux): a wake-up of it no longer
 * preempts the thread that woke it (a libmilter callback handing it work);
 * it still gets its fair share of the CPU.  Best effort. */
void pe_thread_batch(void);
/* The library's clock: CLOCK_MONOTONIC seconds. */
double pe_now(void);
/* The one source of randomness (getrandom); 0, or -1 when there is none. */
int pe_random(void *buf, size_t len);
/* Address text without port (v4-mapped shown as IPv4). */
const char *pe_addr_str(const struct sockaddr *, char *buf, size_t len);
/* Copy printable ASCII of src into dst (cap dstlen-1), others as '?'. */
size_t pe_printable(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
