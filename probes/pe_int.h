/*
 * pe_int.h - what a protocol file sees of the engine.
 *
 * A protocol is one file with one `const struct pe_proto` that engine.c lists
 * in its table.  It knows its own bytes and nothing else: it is given the
 * target (the address the proxy is asked to reach), writes requests into an
 * output evbuffer and parses what arrives in an input evbuffer.  It never
 * touches sockets, timers or the nonce; the engine does that.  This keeps the
 * protocol code testable with plain evbuffers (tests/unit/test_protocols.c).
 */
#ifndef PE_INT_H
#define PE_INT_H

#include <event2/buffer.h>
#include "probes.h"

enum pe_step {
	PE_STEP_MORE = 0,	/* need more input */
	PE_STEP_TUNNEL,		/* the proxy says the tunnel is up: the engine waits
				 * for the target's greeting, then sends the nonce */
	PE_STEP_CLOSED,		/* definite refusal / not this protocol */
	PE_STEP_INCONCLUSIVE,	/* proxy willing but failed, or ambiguous */
	PE_STEP_WAIT_PROOF	/* the nonce went out inside the request (POST): the
				 * answer proves nothing either way; keep the nonce
				 * alive a little for the canary, then closed */
};

/* Per-test protocol state; protocols use state/aux as they like. */
struct pe_pstate {
	const struct sockaddr *target;	/* what the proxy must connect to */
	const char *nonce;		/* this attempt's token, PE_NONCE_HEX hex digits */
	const char *banner;		/* what the target's first line starts with */
	int kind;			/* enum pe_target_kind */
	int state;
	int aux, aux2;
	int noisy;			/* set: lines before the target's greeting are
				 	 * the gateway's chatter, not a foreign peer */
	double timer;			/* > 0: call on_timer after so many seconds;
					 * < 0: cancel; read and reset by the engine */
	char later[8];			/* bytes to send as a separate write once the */
	size_t later_len;		/* current output has gone out (MikroTik CRLF) */
	const char *mechanism;		/* what the peer turned out to be, when the
					 * protocol can tell (telnet: "wingate",
					 * "cisco", "telnet"); results go by it */
	char reason[32];		/* short word for the log: http-403, socks5-rep-02 */
	char detail[PE_DETAIL_MAX];	/* printable excerpt of the reply */
	char text[512];			/* protocol scratch (telnet: the prompt so far) */
	size_t tlen;
};

#define PE_PROTO_V4_ONLY 0x01	/* target must be IPv4 (SOCKS4) */
#define PE_PROTO_TLS 0x02	/* TLS to the proxy port first (https-connect) */

struct pe_proto {
	const char *name;
	unsigned flags;
	/* connected: write the first request */
	void (*start)(struct pe_pstate *, struct evbuffer *out);
	/* bytes arrived: consume what belongs to the protocol, maybe write more */
	enum pe_step (*on_read)(struct pe_pstate *, struct evbuffer *in,
	    struct evbuffer *out);
	/* optional: the timer the protocol asked for (ps->timer) expired */
	enum pe_step (*on_timer)(struct pe_pstate *, struct evbuffer *out);
};

extern const struct pe_proto pe_proto_http_connect;
extern const struct pe_proto pe_proto_http_post;
extern const struct pe_proto pe_proto_socks4;
extern const struct pe_proto pe_proto_socks5;
extern const struct pe_proto pe_proto_telnet;
extern const struct pe_proto pe_proto_https_connect;

/* shared by http_connect.c and https_connect.c */
void pe_http_connect_start(struct pe_pstate *, struct evbuffer *out);
enum pe_step pe_http_connect_read(struct pe_pstate *, struct evbuffer *in,
    struct evbuffer *out);
/* "HTTP/1.x NNN" -> NNN, -1 when the line is not an HTTP status line */
int pe_http_status(const char *line);
/* does buf hold the target's greeting line (canary tag / banner)? */
int pe_greeting_seen(const struct pe_pstate *, const char *buf, size_t len);
/* "a.b.c.d:port" or "[v6]:port" of a sockaddr */
void pe_hostport(const struct sockaddr *, char *buf, size_t len);

/* helpers shared by protocol files (engine.c) */
void pe_set_reason(struct pe_pstate *, const char *reason, const void *data,
    size_t len);

/* mail.c: proxyprobe -m, a probe mail through a tunnel to a mail server */
struct pe_mail {
	int state;
	const char *rcpt, *tag, *agent, *nonce;
	char spec[PE_ADDRSTR_MAX + 40];	/* addr:port/proto */
	char failed[64];
};
enum pe_mail_step { PE_MAIL_MORE = 0, PE_MAIL_SENT, PE_MAIL_FAILED };
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
void pe_tunnel_start(struct pe_tunnel *, const struct pe_pstate *, struct evbuffer *out);
enum pe_tstep pe_tunnel_line(struct pe_tunnel *, struct pe_pstate *, const char *line,
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
