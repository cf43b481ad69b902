/*
 * smb.c - SMB exposure (port 445, direct TCP): a port-service check, no
 * proxy test.
 *
 * Request (112 bytes): one SMB2 NEGOTIATE in the direct-TCP framing of
 * MS-SMB2 2.1 (a 0 byte, then the message length in 24 bits, big endian:
 * 108).  The SMB2 header (MS-SMB2 2.2.1.2, 64 bytes): ProtocolId FE 'S' 'M'
 * 'B', StructureSize 64, Command 0 (NEGOTIATE), CreditRequest 1, every
 * other field 0 (MessageId 0: the first request of a connection).  The
 * NEGOTIATE body (MS-SMB2 2.2.3, 36 bytes + the dialects): StructureSize 36,
 * DialectCount 4, SecurityMode 1 (signing enabled), Capabilities 0, a zero
 * ClientGuid and ClientStartTime, dialects 2.0.2, 2.1, 3.0, 3.0.2 (no 3.1.1:
 * it would need negotiate contexts).  Multi-byte fields are little endian.
 *
 * Reply: 8 bytes are enough.  A 0 byte, a length no smaller than an SMB
 * header (32), then FE 'S' 'M' 'B' (an SMB2 server: reason smb2) or
 * FF 'S' 'M' 'B' (an SMB1 server answering in its own dialect: smb1): the
 * host offers SMB to anyone, a finding netbios=PORT (weak, score.netbios;
 * the design names both exposures so).  Whatever the server negotiated,
 * refused or asks next is not read: the header's magic is the answer.
 * Any other byte, as soon as it arrives: not SMB, no finding (not-smb with
 * an excerpt).  An open port that does not speak the protocol is not a
 * finding; neither is a closed or silent one.  Nothing more is sent.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "pe_int.h"

#define SMB2_HDR_LEN 64
#define SMB2_NEG_LEN 36		/* the fixed part of the NEGOTIATE body */
#define SMB_NDIALECTS 4
#define SMB_MSG_LEN (SMB2_HDR_LEN + SMB2_NEG_LEN + 2 * SMB_NDIALECTS)
#define SMB_MIN_REPLY 32	/* the SMB1 header; SMB2's is 64 */

static const unsigned short dialects[SMB_NDIALECTS] = { 0x0202, 0x0210, 0x0300, 0x0302 };

static void
le16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v & 0xff);
	p[1] = (unsigned char)((v >> 8) & 0xff);
}

static void
smb_start(struct pe_ctx *ctx, struct evbuffer *out)
{
	unsigned char req[4 + SMB_MSG_LEN];
	unsigned char *h = req + 4, *b = h + SMB2_HDR_LEN;

	(void)ctx;
	memset(req, 0, sizeof(req));
	/* direct TCP transport: 0, then the length in 24 bits */
	req[1] = (SMB_MSG_LEN >> 16) & 0xff;
	req[2] = (SMB_MSG_LEN >> 8) & 0xff;
	req[3] = SMB_MSG_LEN & 0xff;
	/* SMB2 header (sync) */
	memcpy(h, "\xfeSMB", 4);
	le16(h + 4, SMB2_HDR_LEN);	/* StructureSize */
					/* CreditCharge, Status: 0 */
	le16(h + 12, 0);		/* Command: NEGOTIATE */
	le16(h + 14, 1);		/* CreditRequest */
					/* Flags, NextCommand, MessageId, Reserved,
					 * TreeId, SessionId, Signature: 0 */
	/* NEGOTIATE request */
	le16(b, SMB2_NEG_LEN);		/* StructureSize */
	le16(b + 2, SMB_NDIALECTS);	/* DialectCount */
	le16(b + 4, 1);			/* SecurityMode: signing enabled */
					/* Reserved, Capabilities, ClientGuid (16),
					 * ClientStartTime (8): 0 */
	for (size_t i = 0; i < SMB_NDIALECTS; i++)
		le16(b + SMB2_NEG_LEN + 2 * i, dialects[i]);
	evbuffer_add(out, req, sizeof(req));
}

static enum pe_step
smb_read(struct pe_ctx *ctx, struct evbuffer *in, struct evbuffer *out)
{
	unsigned char b[32];
	size_t have = evbuffer_get_length(in), n = have < sizeof(b) ? have : sizeof(b);
	int bad = 0, w;

	(void)out;
	if (have == 0)
		return PE_STEP_MORE;
	evbuffer_copyout(in, b, n);
	/* every byte that arrived is checked as it comes: no waiting for 8
	 * bytes a foreign service may never send */
	if (b[0] != 0)
		bad = 1;		/* not a session message */
	else if (n >= 4 && (((size_t)b[1] << 16) | ((size_t)b[2] << 8) | b[3]) < SMB_MIN_REPLY)
		bad = 1;		/* too short for any SMB header */
	else if (n >= 5 && b[4] != 0xfe && b[4] != 0xff)
		bad = 1;
	else if (n >= 6 && b[5] != 'S')
		bad = 1;
	else if (n >= 7 && b[6] != 'M')
		bad = 1;
	else if (n >= 8 && b[7] != 'B')
		bad = 1;
	if (bad) {
		pe_set_reason(ctx, "not-smb", b, n);
		return PE_STEP_CLOSED;
	}
	if (n < 8)
		return PE_STEP_MORE;
	w = ctx->checks != NULL ? ctx->checks->w_netbios : 2;
	pe_find(ctx, PE_F_WEAK, w, "netbios", "%u",
	    ctx->client != NULL ? (unsigned)pe_target_port(ctx->client) : 0u);
	snprintf(ctx->reason, sizeof(ctx->reason), "%s", b[4] == 0xfe ? "smb2" : "smb1");
	return PE_STEP_CLOSED;
}

const struct pe_kind pe_kind_smb = {
	.name = "smb",
	.flags = 0,
	.priv_size = 0,		/* the reply's first 8 bytes decide: nothing to keep */
	.read_cap = 64,
	.start = smb_start,
	.on_read = smb_read,
};
