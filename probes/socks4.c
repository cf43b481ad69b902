/*
 * socks4.c - SOCKS4 CONNECT probe (IPv4 targets only).
 *
 * Request (9 bytes): VN=4, CD=1, DSTPORT (2, big endian), DSTIP (4), empty
 * USERID terminated by NUL.  Reply (8 bytes): VN (0; some servers send 4),
 * CD: 0x5A granted, 0x5B rejected or failed, 0x5C/0x5D identd trouble.
 * A reply starting with 0x05 comes from a SOCKS5-only server (microsocks
 * answers 05 FF): closed.  Anything else is not SOCKS4: closed.
 */
#include "config.h"
#include <string.h>
#include <arpa/inet.h>
#include "pe_int.h"

static void
socks4_start(struct pe_ctx *ps, struct evbuffer *out)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ps->target;
	unsigned char req[9];

	req[0] = 4;
	req[1] = 1;
	memcpy(req + 2, &sin->sin_port, 2);
	memcpy(req + 4, &sin->sin_addr, 4);
	req[8] = 0;
	evbuffer_add(out, req, sizeof(req));
}

static enum pe_step
socks4_read(struct pe_ctx *ps, struct evbuffer *in, struct evbuffer *out)
{
	unsigned char rep[8];
	size_t have = evbuffer_get_length(in);

	(void)out;
	if (have >= 1) {
		evbuffer_copyout(in, rep, 1);
		if (rep[0] != 0 && rep[0] != 4) {
			evbuffer_copyout(in, rep, have < 8 ? have : 8);
			pe_set_reason(ps, rep[0] == 5 ? "socks5-only" : "not-socks4",
			    rep, have < 8 ? have : 8);
			return PE_STEP_CLOSED;
		}
	}
	if (have < 8)
		return PE_STEP_MORE;
	evbuffer_remove(in, rep, 8);
	switch (rep[1]) {
	case 0x5a:
		pe_set_reason(ps, "socks4-granted", rep, 8);
		return PE_STEP_TUNNEL;
	case 0x5b:
		pe_set_reason(ps, "socks4-rejected", rep, 8);
		return PE_STEP_CLOSED;
	case 0x5c:
	case 0x5d:
		pe_set_reason(ps, "socks4-identd", rep, 8);
		return PE_STEP_CLOSED;
	default:
		pe_set_reason(ps, "not-socks4", rep, 8);
		return PE_STEP_CLOSED;
	}
}

const struct pe_kind pe_kind_socks4 = {
	.name = "socks4",
	.flags = PE_K_PROXY | PE_K_V4_ONLY,
	.start = socks4_start,
	.on_read = socks4_read,
};
