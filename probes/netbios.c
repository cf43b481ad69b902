/*
 * netbios.c - NetBIOS session service exposure (port 139): a port-service
 * check, no proxy test.
 *
 * Request (72 bytes, RFC 1002 4.3.2): SESSION REQUEST, type 0x81, flags 0,
 * length 68 (2 bytes, big endian), then the called name "*SMBSERVER"
 * (padded with spaces to 15 characters, suffix 0x20: the file server) and
 * the calling name "PROXYMILTER" (suffix 0x00: a workstation), each
 * first-level encoded (RFC 1001 14.1: every byte b becomes 'A' + (b >> 4),
 * 'A' + (b & 15)) as a 32-byte label behind its length 0x20 and before the
 * root's 0.  "*SMBSERVER" is the name every SMB server answers to, whatever
 * its own NetBIOS name is.
 *
 * Reply: its first byte is the packet type, and only that is looked at.
 *   0x82 POSITIVE SESSION RESPONSE   the host offers NetBIOS sessions (and
 *                    SMB behind them) to anyone: a finding netbios=PORT
 *                    (weak, score.netbios), reason netbios-session
 *   0x83 NEGATIVE SESSION RESPONSE   speaks NetBIOS but refused the names:
 *                    no finding (netbios-refused)
 *   anything else    not NetBIOS: no finding (not-netbios, with an excerpt)
 * An open port that does not speak the protocol is not a finding; neither
 * is a closed or silent one (the engine's refused / hung-up / timeout).
 * Nothing more is sent: no SMB session follows.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "pe_int.h"

#define NB_SESSION_REQUEST 0x81
#define NB_POSITIVE 0x82
#define NB_NEGATIVE 0x83
#define NB_NAME_LEN 34		/* 0x20, 32 encoded bytes, 0 */
#define NB_REQ_LEN (4 + 2 * NB_NAME_LEN)

/* one NetBIOS name, first-level encoded, as a length-prefixed label */
static void
nb_encode(unsigned char *dst, const char *name, unsigned char suffix)
{
	unsigned char raw[16];
	size_t n = strlen(name);

	memset(raw, ' ', 15);
	memcpy(raw, name, n < 15 ? n : 15);
	raw[15] = suffix;
	dst[0] = 0x20;
	for (size_t i = 0; i < 16; i++) {
		dst[1 + 2 * i] = (unsigned char)('A' + (raw[i] >> 4));
		dst[2 + 2 * i] = (unsigned char)('A' + (raw[i] & 0x0f));
	}
	dst[NB_NAME_LEN - 1] = 0;
}

static void
netbios_start(struct pe_ctx *ctx, struct evbuffer *out)
{
	unsigned char req[NB_REQ_LEN];

	(void)ctx;
	req[0] = NB_SESSION_REQUEST;
	req[1] = 0;
	req[2] = (2 * NB_NAME_LEN) >> 8;
	req[3] = (2 * NB_NAME_LEN) & 0xff;
	nb_encode(req + 4, "*SMBSERVER", 0x20);
	nb_encode(req + 4 + NB_NAME_LEN, "PROXYMILTER", 0x00);
	evbuffer_add(out, req, sizeof(req));
}

static enum pe_step
netbios_read(struct pe_ctx *ctx, struct evbuffer *in, struct evbuffer *out)
{
	unsigned char b[32];
	size_t have = evbuffer_get_length(in);
	int w;

	(void)out;
	if (have < 1)
		return PE_STEP_MORE;
	evbuffer_copyout(in, b, 1);
	switch (b[0]) {
	case NB_POSITIVE:
		w = ctx->checks != NULL ? ctx->checks->w_netbios : 2;
		pe_find(ctx, PE_F_WEAK, w, "netbios", "%u",
		    ctx->client != NULL ? (unsigned)pe_target_port(ctx->client) : 0u);
		snprintf(ctx->reason, sizeof(ctx->reason), "netbios-session");
		return PE_STEP_CLOSED;
	case NB_NEGATIVE:
		/* the error code follows (0x80-0x83); only the type is trusted */
		snprintf(ctx->reason, sizeof(ctx->reason), "netbios-refused");
		return PE_STEP_CLOSED;
	default:
		have = have < sizeof(b) ? have : sizeof(b);
		evbuffer_copyout(in, b, have);
		pe_set_reason(ctx, "not-netbios", b, have);
		return PE_STEP_CLOSED;
	}
}

const struct pe_kind pe_kind_netbios = {
	.name = "netbios",
	.flags = 0,
	.priv_size = 0,		/* the first byte decides: nothing to keep */
	.read_cap = 64,
	.start = netbios_start,
	.on_read = netbios_read,
};
