/* the NetBIOS/SMB exposure kinds: request bytes and reply parsing, on plain
 * evbuffers (no engine: ctx->run is NULL, so findings are not recorded;
 * the step and the reason word are what is checked) */
#include "config.h"
#include <arpa/inet.h>
#include "t.h"
#include "pe_int.h"

static struct sockaddr_storage client;
static struct evbuffer *in, *out;
static struct pe_ctx ps;
static _Alignas(16) unsigned char priv[4096];

static void
begin(const struct pe_kind *p)
{
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_drain(out, evbuffer_get_length(out));
	memset(&ps, 0, sizeof(ps));
	memset(priv, 0, sizeof(priv));
	ps.priv = priv;
	ps.client = (const struct sockaddr *)&client;
	p->start(&ps, out);
}

static enum pe_step
feed(const struct pe_kind *p, const void *data, size_t len)
{
	evbuffer_add(in, data, len);
	return p->on_read(&ps, in, out);
}

/* feed len bytes one at a time: MORE until the last one, then its step */
static int
feed_bytewise(const struct pe_kind *p, const void *data, size_t len, enum pe_step last)
{
	const unsigned char *d = data;

	for (size_t i = 0; i + 1 < len; i++)
		if (feed(p, d + i, 1) != PE_STEP_MORE)
			return 0;
	return feed(p, d + len - 1, 1) == last;
}

#define FEEDS(p, s) feed((p), (s), sizeof(s) - 1)
#define REASON(s) (strcmp(ps.reason, (s)) == 0)

static const unsigned char smb2_reply[] = {
	0x00, 0x00, 0x00, 0xc8, 0xfe, 'S', 'M', 'B', 0x40, 0x00, 0x00, 0x00
};
static const unsigned char smb1_reply[] = {
	0x00, 0x00, 0x00, 0x25, 0xff, 'S', 'M', 'B', 0x72, 0x00
};

int
main(void)
{
	const struct pe_kind *nb = pe_kind_find("netbios");
	const struct pe_kind *smb = pe_kind_find("smb");
	socklen_t sl;

	t_prog = "exposure: ";
	in = evbuffer_new();
	out = evbuffer_new();
	pe_parse_hostport("192.0.2.10:139", &client, &sl);

	T_OK(nb != NULL && smb != NULL, "netbios and smb are registered kinds");
	if (nb == NULL || smb == NULL)
		T_DONE();
	T_OK(!pe_kind_is_proxy(nb) && !pe_kind_is_proxy(smb), "neither is a proxy test");
	T_OK(!(nb->flags & PE_K_TASK) && !(smb->flags & PE_K_TASK), "both are stream kinds");
	T_OK(nb->read_cap > 0 && nb->read_cap <= 64 && smb->read_cap > 0 && smb->read_cap <= 64,
	    "both read little");

	/* ---- NetBIOS session request ---- */
	begin(nb);
	{
		const unsigned char *r = evbuffer_pullup(out, -1);
		size_t n = evbuffer_get_length(out);
		T_OK(n == 72, "netbios: request is 72 bytes");
		T_OK(n == 72 && r[0] == 0x81 && r[1] == 0 && r[2] == 0 && r[3] == 68,
		    "netbios: SESSION REQUEST, length 68");
		T_OK(n == 72 && r[4] == 0x20 && memcmp(r + 5, "CKFDENECFDEFFCFGEFFCCACACACACACA", 32) == 0 &&
		    r[37] == 0, "netbios: called name *SMBSERVER<20>, encoded and terminated");
		T_OK(n == 72 && r[38] == 0x20 && memcmp(r + 39, "FAFCEPFIFJENEJEMFEEFFCCACACACAAA", 32) == 0 &&
		    r[71] == 0, "netbios: calling name PROXYMILTER<00>");
		evbuffer_drain(out, n);
	}
	T_OK(feed(nb, "", 0) == PE_STEP_MORE, "netbios: nothing read yet waits");
	T_OK(feed(nb, "\x82\x00\x00\x00", 4) == PE_STEP_CLOSED && REASON("netbios-session"),
	    "netbios: positive session response");
	T_OK(evbuffer_get_length(out) == 0, "netbios: nothing more sent");
	begin(nb);
	T_OK(feed(nb, "\x82", 1) == PE_STEP_CLOSED && REASON("netbios-session"),
	    "netbios: one byte decides (1-byte pieces)");
	begin(nb);
	T_OK(feed(nb, "\x83\x00\x00\x01\x82", 5) == PE_STEP_CLOSED && REASON("netbios-refused"),
	    "netbios: negative session response is no finding");
	begin(nb);
	T_OK(FEEDS(nb, "HTTP/1.0 400 Bad\r\n\r\n") == PE_STEP_CLOSED && REASON("not-netbios"),
	    "netbios: an HTTP server is not NetBIOS");
	T_OK(strncmp(ps.detail, "HTTP/1.0 400 Bad", 16) == 0, "netbios: excerpt of the foreign reply");
	begin(nb);
	T_OK(feed(nb, "\x00\x00\x00\x85", 4) == PE_STEP_CLOSED && REASON("not-netbios"),
	    "netbios: a session message (SMB framing) is not a session response");
	T_STREQ(ps.detail, "00 00 00 85", "netbios: binary excerpt in hex");
	begin(nb);
	T_OK(feed(nb, "\x85\x00\x00\x00", 4) == PE_STEP_CLOSED && REASON("not-netbios"),
	    "netbios: keep-alive instead of an answer is not a session");
	begin(nb);
	{
		unsigned char big[4096];
		memset(big, 0x82, sizeof(big));
		big[0] = 0x82;
		T_OK(feed(nb, big, sizeof(big)) == PE_STEP_CLOSED && REASON("netbios-session"),
		    "netbios: a long reply is read no further than its first byte");
	}

	/* ---- SMB2 NEGOTIATE ---- */
	begin(smb);
	{
		const unsigned char *r = evbuffer_pullup(out, -1), *h = r + 4, *b = r + 68;
		size_t n = evbuffer_get_length(out);
		static const unsigned char dial[8] = { 0x02, 0x02, 0x10, 0x02, 0x00, 0x03, 0x02, 0x03 };
		int zero = 1;
		T_OK(n == 4 + 64 + 36 + 8, "smb: request is 112 bytes");
		if (n != 112)
			T_DONE();
		T_OK(r[0] == 0 && r[1] == 0 && r[2] == 0 && r[3] == 64 + 36 + 8,
		    "smb: direct-TCP framing, length 108");
		T_OK(memcmp(h, "\xfeSMB", 4) == 0, "smb: ProtocolId FE 'SMB'");
		T_OK(h[4] == 64 && h[5] == 0, "smb: header StructureSize 64 (LE)");
		T_OK(h[12] == 0 && h[13] == 0, "smb: Command NEGOTIATE");
		T_OK(h[14] == 1 && h[15] == 0, "smb: CreditRequest 1");
		for (size_t i = 6; i < 64; i++)
			if (i != 14 && h[i] != 0)
				zero = 0;
		T_OK(zero, "smb: every other header field 0");
		T_OK(b[0] == 36 && b[1] == 0, "smb: NEGOTIATE StructureSize 36");
		T_OK(b[2] == 4 && b[3] == 0, "smb: DialectCount 4");
		T_OK(b[4] == 1 && b[5] == 0, "smb: SecurityMode signing enabled");
		zero = 1;
		for (size_t i = 6; i < 36; i++)
			if (b[i] != 0)
				zero = 0;
		T_OK(zero, "smb: Reserved, Capabilities, ClientGuid, ClientStartTime 0");
		T_OK(memcmp(b + 36, dial, 8) == 0, "smb: dialects 0x0202 0x0210 0x0300 0x0302 (LE)");
		evbuffer_drain(out, n);
	}
	T_OK(feed(smb, "", 0) == PE_STEP_MORE, "smb: nothing read yet waits");
	T_OK(feed(smb, smb2_reply, sizeof(smb2_reply)) == PE_STEP_CLOSED && REASON("smb2"),
	    "smb: SMB2 reply");
	T_OK(evbuffer_get_length(out) == 0, "smb: nothing more sent");
	begin(smb);
	T_OK(feed_bytewise(smb, smb2_reply, 8, PE_STEP_CLOSED) && REASON("smb2"),
	    "smb: SMB2 reply in 1-byte pieces: MORE until 8 bytes");
	begin(smb);
	T_OK(feed(smb, smb2_reply, 7) == PE_STEP_MORE && feed(smb, smb2_reply + 7, 1) == PE_STEP_CLOSED &&
	    REASON("smb2"), "smb: 7 bytes wait, the 8th decides");
	begin(smb);
	T_OK(feed(smb, smb1_reply, sizeof(smb1_reply)) == PE_STEP_CLOSED && REASON("smb1"),
	    "smb: SMB1 reply");
	begin(smb);
	T_OK(FEEDS(smb, "HTTP/1.0 400 Bad\r\n\r\n") == PE_STEP_CLOSED && REASON("not-smb"),
	    "smb: an HTTP server is not SMB");
	T_OK(strncmp(ps.detail, "HTTP/1.0 400 Bad", 16) == 0, "smb: excerpt of the foreign reply");
	begin(smb);
	T_OK(FEEDS(smb, "H") == PE_STEP_CLOSED && REASON("not-smb"),
	    "smb: a foreign first byte decides at once");
	begin(smb);
	T_OK(FEEDS(smb, "SSH-2.0-OpenSSH_9.2\r\n") == PE_STEP_CLOSED && REASON("not-smb"),
	    "smb: an ssh banner is not SMB");
	begin(smb);
	T_OK(feed(smb, "\x00\x00\x00\x10", 4) == PE_STEP_CLOSED && REASON("not-smb"),
	    "smb: a session message too short for an SMB header");
	begin(smb);
	T_OK(feed(smb, "\x00\x00\x00\x40" "HTTP", 8) == PE_STEP_CLOSED && REASON("not-smb"),
	    "smb: a session message that does not start with the magic");
	T_STREQ(ps.detail, "00 00 00 40 48 54 54 50", "smb: binary excerpt in hex");
	begin(smb);
	T_OK(feed(smb, "\x00\x00\x00\x40\xfe" "SMX", 8) == PE_STEP_CLOSED && REASON("not-smb"),
	    "smb: a near miss of the magic");
	begin(smb);
	T_OK(feed(smb, "\x00\x00\x00\x40\xfe", 5) == PE_STEP_MORE && feed(smb, "X", 1) == PE_STEP_CLOSED &&
	    REASON("not-smb"), "smb: a split reply is rejected at its first wrong byte");
	begin(smb);
	T_OK(feed(smb, "\x82\x00\x00\x00", 4) == PE_STEP_CLOSED && REASON("not-smb"),
	    "smb: a NetBIOS session response is not SMB");
	begin(smb);
	{
		unsigned char big[4096];
		memset(big, 0, sizeof(big));
		memcpy(big, smb2_reply, sizeof(smb2_reply));
		T_OK(feed(smb, big, sizeof(big)) == PE_STEP_CLOSED && REASON("smb2"),
		    "smb: a long reply: only its head is looked at");
	}

	evbuffer_free(in);
	evbuffer_free(out);
	T_DONE();
}
