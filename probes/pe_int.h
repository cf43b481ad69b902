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
	PE_STEP_TUNNEL,		/* the proxy says the tunnel is up: engine sends the nonce */
	PE_STEP_CLOSED,		/* definite refusal / not this protocol */
	PE_STEP_INCONCLUSIVE	/* proxy willing but failed, or ambiguous */
};

/* Per-test protocol state; protocols use state/aux as they like. */
struct pe_pstate {
	const struct sockaddr *target;	/* what the proxy must connect to */
	int state;
	int aux;
	char reason[32];		/* short word for the log: http-403, socks5-rep-02 */
	char detail[PE_DETAIL_MAX];	/* printable excerpt of the reply */
};

#define PE_PROTO_V4_ONLY 0x01	/* target must be IPv4 (SOCKS4) */

struct pe_proto {
	const char *name;
	unsigned flags;
	/* connected: write the first request */
	void (*start)(struct pe_pstate *, struct evbuffer *out);
	/* bytes arrived: consume what belongs to the protocol, maybe write more */
	enum pe_step (*on_read)(struct pe_pstate *, struct evbuffer *in,
	    struct evbuffer *out);
};

extern const struct pe_proto pe_proto_http_connect;
extern const struct pe_proto pe_proto_socks4;
extern const struct pe_proto pe_proto_socks5;

/* helpers shared by protocol files (engine.c) */
void pe_set_reason(struct pe_pstate *, const char *reason, const void *data,
    size_t len);

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
/* find "pxm-<32 hex>" in buf; returns offset of the hex or -1 */
long pe_nonce_find(const char *buf, size_t len);

#endif
