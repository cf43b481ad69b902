/*
 * socks5.c - SOCKS5 CONNECT probe, no authentication (RFC 1928).
 *
 * Greeting 05 01 00; the CONNECT request is sent only after the method reply
 * arrives (microsocks drops a request pipelined with the greeting).  Request:
 * 05 01 00 ATYP ADDR PORT, ATYP 01 (IPv4, 4 bytes) or 04 (IPv6, 16 bytes).
 * Method reply: 05 00 = go on; 05 FF or any other method = authentication
 * required: closed; 00 5B (SOCKS4 server) or other bytes: closed.
 * CONNECT reply: 05 REP 00 ATYP BND.ADDR BND.PORT; REP 00 = tunnel; 02 (ruleset),
 * 07 (command), 08 (address type) = closed; 01, 03-06 = the proxy tried and
 * failed: inconclusive; other values: closed.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include "pe_int.h"

enum { S_METHOD = 0, S_REPLY };
struct socks5 { int state; };

static void
socks5_start(struct pe_ctx *ps, struct evbuffer *out)
{
	static const unsigned char greet[3] = { 5, 1, 0 };

	evbuffer_add(out, greet, sizeof(greet));
	((struct socks5 *)ps->priv)->state = S_METHOD;
}

static void
socks5_request(const struct sockaddr *t, struct evbuffer *out)
{
	unsigned char req[22];
	size_t n = 0;

	req[n++] = 5;
	req[n++] = 1;
	req[n++] = 0;
	if (t->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)t;
		req[n++] = 4;
		memcpy(req + n, &s6->sin6_addr, 16);
		n += 16;
		memcpy(req + n, &s6->sin6_port, 2);
	} else {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)t;
		req[n++] = 1;
		memcpy(req + n, &s4->sin_addr, 4);
		n += 4;
		memcpy(req + n, &s4->sin_port, 2);
	}
	n += 2;
	evbuffer_add(out, req, n);
}

static enum pe_step
socks5_read(struct pe_ctx *ps, struct evbuffer *in, struct evbuffer *out)
{
	struct socks5 *st = ps->priv;
	unsigned char b[4 + 1 + 255 + 2];
	size_t have = evbuffer_get_length(in), need;
	char why[24];

	if (st->state == S_METHOD) {
		if (have < 2)
			return PE_STEP_MORE;
		evbuffer_remove(in, b, 2);
		if (b[0] != 5) {
			pe_set_reason(ps, b[0] == 0 ? "socks4-only" : "not-socks5", b, 2);
			return PE_STEP_CLOSED;
		}
		if (b[1] != 0) {
			pe_set_reason(ps, "socks5-auth-required", b, 2);
			return PE_STEP_CLOSED;
		}
		socks5_request(ps->target, out);
		st->state = S_REPLY;
		return PE_STEP_MORE;
	}
	/* S_REPLY: 05 REP 00 ATYP ... */
	if (have < 2)
		return PE_STEP_MORE;
	evbuffer_copyout(in, b, have < 5 ? have : 5);
	if (b[0] != 5) {
		pe_set_reason(ps, "not-socks5", b, have < 5 ? have : 5);
		return PE_STEP_CLOSED;
	}
	if (b[1] != 0) {
		snprintf(why, sizeof(why), "socks5-rep-%02x", b[1]);
		pe_set_reason(ps, why, b, have < 5 ? have : 5);
		switch (b[1]) {
		case 1: case 3: case 4: case 5: case 6:
			return PE_STEP_INCONCLUSIVE;
		default:
			return PE_STEP_CLOSED;
		}
	}
	if (have < 5)
		return PE_STEP_MORE;
	switch (b[3]) {
	case 1: need = 4 + 4 + 2; break;
	case 4: need = 4 + 16 + 2; break;
	case 3: need = 4 + 1 + (size_t)b[4] + 2; break;
	default:
		pe_set_reason(ps, "socks5-bad-atyp", b, 5);
		return PE_STEP_CLOSED;
	}
	if (have < need)
		return PE_STEP_MORE;
	evbuffer_remove(in, b, need);
	pe_set_reason(ps, "socks5-granted", b, need < 10 ? need : 10);
	return PE_STEP_TUNNEL;
}

const struct pe_kind pe_kind_socks5 = {
	.name = "socks5",
	.flags = PE_K_PROXY,
	.priv_size = sizeof(struct socks5),
	.start = socks5_start,
	.on_read = socks5_read,
};
