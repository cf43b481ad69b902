/*
 * pe_int.h - what a check kind sees of the engine.
 *
 * A check kind (a proxy protocol, a port service, a DNS query set, a local
 * lookup) is one file with one `const struct pe_kind` plus one row in
 * registry.c's table.  It knows its own bytes and nothing else: the engine
 * allocates its private state (priv_size bytes, zeroed for every attempt),
 * owns the socket, the deadlines, the read cap and the nonce, and calls the
 * kind's functions with a context.  A stream kind is handed the connection to
 * the client's port: it writes requests into an output evbuffer and parses
 * what arrives in an input evbuffer.  A task kind (PE_K_TASK) gets no socket:
 * it starts its own work on ctx->base and ends it with pe_ctx_step().  A check
 * reports what it learnt as findings (pe_find); a proxy kind's proof is the
 * engine's business (PE_K_PROXY: nonce, tunnel, canary).  This keeps the
 * protocol code testable with plain evbuffers (tests/unit/test_protocols.c).
 */
#ifndef PE_INT_H
#define PE_INT_H

#include <stdarg.h>
#include <event2/buffer.h>
#include "probes.h"

enum pe_step {
	PE_STEP_MORE = 0,	/* need more input */
	PE_STEP_TUNNEL,		/* the proxy says the tunnel is up: the engine waits
				 * for the target's greeting, then sends the nonce */
	PE_STEP_CLOSED,		/* done: definite refusal / not this protocol; for
				 * a check that is no proxy test: finished (its
				 * findings, if any, are recorded) */
	PE_STEP_INCONCLUSIVE,	/* proxy willing but failed, or ambiguous: retried */
	PE_STEP_WAIT_PROOF,	/* the nonce went out inside the request (POST): the
				 * answer proves nothing either way; keep the nonce
				 * alive a little for the canary, then closed */
	PE_STEP_QUIT,		/* done: what the kind wrote last (an SMTP QUIT)
				 * goes out, then the server closes (2 s at most);
				 * closed */
	PE_STEP_AWAIT		/* PE_K_NONCE: the conversation is over (its last
				 * words go out as with QUIT), but the attempt
				 * waits for the milter's confirmations
				 * (on_confirm, out NULL) until the kind's timer
				 * (on_timer, out NULL) or its deadline */
};

struct event_base;
struct run;

/* One attempt of one check, as the kind sees it. */
struct pe_ctx {
	const struct sockaddr *client;	/* the address checked; stream kinds: with
					 * the port connected to */
	const struct sockaddr *target;	/* proxies: what the proxy must connect to */
	const char *nonce;		/* this attempt's token, PE_NONCE_HEX hex digits */
	const char *banner;		/* what the target's first line starts with */
	int target_kind;		/* enum pe_target_kind */
	void *priv;			/* the kind's own state: priv_size bytes */
	struct event_base *base;	/* task kinds: where to run their events */
	const struct pe_checks *checks;	/* the request's settings (never NULL
					 * in the engine: defaults when none) */
	const char *helo;		/* the request's own name (connect_back) */
	const char *ours;		/* our MTA's name (pe_timing.ours) */
	int noisy;			/* set: lines before the target's greeting are
				 	 * the gateway's chatter, not a foreign peer */
	double timer;			/* > 0: call on_timer after so many seconds;
					 * < 0: cancel; read and reset by the engine */
	const char *mechanism;		/* what the peer turned out to be, when the
					 * protocol can tell (telnet: "wingate",
					 * "cisco", "telnet"); results go by it */
	char reason[32];		/* short word for the log: http-403, socks5-rep-02 */
	char detail[PE_DETAIL_MAX];	/* printable excerpt of the reply */
	struct run *run;		/* the engine's; NULL in protocol unit tests */
};

#define PE_K_V4_ONLY 0x01	/* proxy target must be IPv4 (SOCKS4) */
#define PE_K_TLS 0x02		/* TLS to the port first (https-connect) */
#define PE_K_PROXY 0x04		/* a proxy test: nonce, tunnel and proof */
#define PE_K_TASK 0x08		/* no connection to the client: start() begins
				 * the kind's own work, pe_ctx_step() ends it */
#define PE_K_NONCE 0x10		/* no proxy, but a nonce that the milter may
				 * confirm (pe_confirm: it reached our MTA):
				 * on_confirm is called */

struct pe_kind {
	const char *name;
	unsigned flags;
	size_t priv_size;		/* private state per attempt */
	size_t read_cap;		/* bytes read per attempt; 0: the engine's */
	double timeout;			/* cap on the attempt's deadline; 0: the request's */
	int dns_rounds;			/* DNS kinds: queries that wait for each other;
					 * the deadline is then that many dns.timeout
					 * (+1 s), whatever the request's: a query's
					 * own timeout always ends it first */
	/* connected (stream) or started (task; out is NULL): begin */
	void (*start)(struct pe_ctx *, struct evbuffer *out);
	/* bytes arrived: consume what belongs to the protocol, maybe write more */
	enum pe_step (*on_read)(struct pe_ctx *, struct evbuffer *in,
	    struct evbuffer *out);
	/* optional: the timer the kind asked for (ctx->timer) expired */
	enum pe_step (*on_timer)(struct pe_ctx *, struct evbuffer *out);
	/* optional: everything written so far went out (a separate write) */
	void (*on_drained)(struct pe_ctx *, struct evbuffer *out);
	/* optional: the deadline passed on a connected attempt (ctx->reason
	 * is "timeout"), or the read cap ("read-cap"); its step ends the
	 * attempt (MORE: inconclusive, or closed at the read cap); without
	 * it: inconclusive, and retried (closed at the read cap) */
	enum pe_step (*on_deadline)(struct pe_ctx *, struct evbuffer *out);
	/* PE_K_NONCE: the milter saw our nonce (what: enum pe_confirm_what) */
	enum pe_step (*on_confirm)(struct pe_ctx *, struct evbuffer *out, int what);
	/* optional: the peer hung up after nread bytes, no tunnel claimed;
	 * without it: nothing read = closed (hung-up), else inconclusive */
	enum pe_step (*on_hangup)(struct pe_ctx *, size_t nread);
	/* optional: the attempt ends (any way): release what priv holds and
	 * cancel every pending callback of the kind's own (its run slot and
	 * ctx are reused by the next attempt: a callback delivered after the
	 * cancel must not call pe_ctx_step); required for task kinds that
	 * leave work in flight.  A step reported from inside it is ignored. */
	void (*cleanup)(struct pe_ctx *);
};

/* A finding of a check (design section 6): what the verdict is made of.
 * name=value(weight) in logs and headers, e.g. "dnsbl=bl.example(3)". */
void pe_find(struct pe_ctx *, enum pe_fclass, int weight, const char *name,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* the value of a finding the request has (committed by another check,
 * e.g. fcrdns's "domain"), or NULL */
const char *pe_ctx_finding(const struct pe_ctx *, const char *name);
/* forget this attempt's findings that were not committed */
void pe_find_drop(struct pe_ctx *);
/* the ttl (seconds) of the last finding this attempt recorded */
void pe_find_ttl(struct pe_ctx *, int ttl);
/* the findings so far count now, whatever the attempt's end (a DNS answer
 * is a fact even when another query of the attempt times out), and make
 * room for more; announce: the class the request's findings make goes out
 * at once, provisionally, if it is new and above clean.  A finding an earlier attempt of this test committed
 * (a retry's) is not added twice. */
void pe_find_commit(struct pe_ctx *, int announce);
/* task kinds: the attempt ends with this step (from the kind's own events) */
void pe_ctx_step(struct pe_ctx *, enum pe_step);

/*
 * resolver.c: DNS on the engine's loop (c-ares).  A query belongs to the
 * attempt that asked: its answer comes through fn on the engine thread
 * (status ARES_SUCCESS, ARES_ENOTFOUND, ARES_ENODATA, or an error such as
 * ARES_ETIMEOUT; abuf is the raw reply, NULL on errors: parse it with
 * c-ares' ares_parse_*_reply).  fn is never called from inside
 * pe_dns_query, and never after the attempt ended: the engine cancels what
 * is still out.  -1 when the query could not be sent (no memory, no
 * resolver): then fn is not called.
 */
typedef void (*pe_dns_fn)(struct pe_ctx *, void *arg, int status,
    const unsigned char *abuf, int alen);
int pe_dns_query(struct pe_ctx *, const char *name, int type, pe_dns_fn, void *arg);
/* queries of this attempt still out */
int pe_dns_pending(const struct pe_ctx *);
/* a DNS TTL as a finding's: clamped to [PE_DNS_MIN_TTL, PE_DNS_MAX_TTL] */
#define PE_DNS_MIN_TTL 60
#define PE_DNS_MAX_TTL 86400
#define PE_DNS_TEMP_TTL 60	/* a temperror finding is reused this long */
int pe_dns_ttl(long ttl);
/* append printable text to ctx->detail, "; " between pieces */
void pe_detail_add(struct pe_ctx *, const char *text, size_t len);

/* shared by http_connect.c and https_connect.c */
struct pe_http_connect { int state, blanks, nudged; };
void pe_http_connect_start(struct pe_ctx *, struct evbuffer *out);
enum pe_step pe_http_connect_read(struct pe_ctx *, struct evbuffer *in,
    struct evbuffer *out);
void pe_http_connect_drained(struct pe_ctx *, struct evbuffer *out);
/* "HTTP/1.x NNN" -> NNN, -1 when the line is not an HTTP status line */
int pe_http_status(const char *line);
/* does buf hold the target's greeting line (canary tag / banner)? */
int pe_greeting_seen(const struct pe_ctx *, const char *buf, size_t len);
/* "a.b.c.d:port" or "[v6]:port" of a sockaddr */
void pe_hostport(const struct sockaddr *, char *buf, size_t len);

/* reason word + a printable (or hex, for binary replies) excerpt */
void pe_set_reason(struct pe_ctx *, const char *reason, const void *data,
    size_t len);

/* mail.c: proxyprobe -m, a probe mail through a tunnel to a mail server */
struct pe_mail {
	int state;
	const char *rcpt, *tag, *agent, *nonce;
	char spec[PE_ADDRSTR_MAX + 40];	/* addr:port/proto */
	char failed[64];
};
enum pe_mail_step { PE_MAIL_MORE = 0, PE_MAIL_SENT, PE_MAIL_FAILED };
/* now as an RFC 5322 Date: value (UTC) */
void pe_mail_date(char *buf, size_t len);
void pe_mail_begin(struct pe_mail *, struct evbuffer *out);
enum pe_mail_step pe_mail_line(struct pe_mail *, const char *line, struct evbuffer *out);

/* proof.c: the conversation through a claimed tunnel, one line at a time */
struct pe_proof;
struct pe_tunnel {
	int kind;			/* enum pe_target_kind */
	const char *banner;
	const char *nonce;
	struct pe_proof *proof;
	int greeted, noise, mailing;
	int nonce_sent;
	int want_mail;			/* banner target and -m: relay a probe mail */
	struct pe_mail mail;
};
enum pe_tstep {
	PE_T_MORE = 0,
	PE_T_OPEN,			/* proved (MAC, banner) */
	PE_T_OPEN_QUIT,			/* proved, and a mail session to end politely */
	PE_T_CLOSED,
	PE_T_INCONCLUSIVE
};
/* the tunnel is claimed: send the nonce at once where that is safe */
void pe_tunnel_start(struct pe_tunnel *, const struct pe_ctx *, struct evbuffer *out);
enum pe_tstep pe_tunnel_line(struct pe_tunnel *, struct pe_ctx *, const char *line,
    size_t len, struct evbuffer *out);

/* proof.c */
#define PE_NONCE_HEX 32			/* 128-bit nonce, hex */
#define PE_NONCE_PREFIX "pxm-"
#define PE_MAC_HEX 32
#define PE_CANARY_GREETING "220 proxymilter-canary ESMTP ready\r\n"
#define PE_CANARY_TAG "proxymilter-canary"

struct pe_proof;
struct pe_proof_hooks {
	/* the canary saw a registered nonce: prove the test owning it */
	void (*proved)(void *owner, const char *egress);
};
struct event_base;
struct pe_proof *pe_proof_new(struct event_base *, const struct sockaddr *,
    socklen_t, int max_conns, const struct pe_proof_hooks *, char *err,
    size_t errlen);
void pe_proof_free(struct pe_proof *);
/* fresh nonce, registered for owner; writes PE_NONCE_HEX+1 bytes */
int pe_nonce_issue(struct pe_proof *, void *owner, char *hex);
void pe_nonce_revoke(struct pe_proof *, const char *hex);
/* hex MAC of a nonce under the engine's key */
void pe_nonce_mac(const struct pe_proof *, const char *hex, char *machex);
void pe_proof_stats(const struct pe_proof *, uint64_t *conns, uint64_t *proofs,
    uint64_t *unknown);
/* the owner of a registered nonce, or NULL */
void *pe_nonce_owner(struct pe_proof *, const char *hex);
/* the canary's input, no socket: 1 nonce found (hex, PE_NONCE_HEX + 1 bytes),
 * 0 read more (a tail is kept), -1 too much without one (close) */
int pe_canary_scan(struct evbuffer *in, size_t *seen, char *hex);

#endif
