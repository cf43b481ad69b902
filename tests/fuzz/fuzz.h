/*
 * fuzz.h - what the libFuzzer harnesses share: splitting an input into
 * chunks as a socket would deliver it, and the engine's tunnel_read loop.
 * Header-only (static functions), included by the harnesses that need it.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* abort with a message: libFuzzer reports it as a crash with this input */
#define FZ_CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

/* take one byte off the front (0 when empty) */
static inline uint8_t
fz_byte(const uint8_t **p, size_t *n)
{
	uint8_t b = 0;
	if (*n > 0) {
		b = **p;
		(*p)++;
		(*n)--;
	}
	return b;
}

/*
 * Chunk sizes from one seed byte: 0 = everything at once; otherwise sizes
 * 1..max from a small xorshift generator, max = (seed & 15) + 1, times 16
 * when bit 4 is set (1..16 or 16..256 bytes per read).
 */
struct fz_chunker {
	uint32_t rng;
	size_t max;
	int all;
};

static inline void
fz_chunker_init(struct fz_chunker *c, uint8_t seed)
{
	c->all = seed == 0;
	c->rng = 0x9e3779b9u ^ ((uint32_t)seed * 2654435761u);
	if (c->rng == 0)
		c->rng = 1;
	c->max = (size_t)(seed & 15) + 1;
	if (seed & 16)
		c->max *= 16;
}

static inline size_t
fz_chunk(struct fz_chunker *c, size_t left)
{
	size_t k;
	if (c->all)
		return left;
	c->rng ^= c->rng << 13;
	c->rng ^= c->rng >> 17;
	c->rng ^= c->rng << 5;
	k = 1 + c->rng % c->max;
	return k < left ? k : left;
}

#ifdef PE_INT_H
/*
 * tunnel.c's pe_tunnel_read(): whole lines (CRLF or LF) go to pe_tunnel_line
 * until it decides; more than 1024 bytes without a line end is a foreign
 * peer.  Returns 1 when the test is over, 0 to read more.
 */
/* the banner a target's greeting must start with: one of a few usual
 * ones, or up to 63 bytes taken from the input */
static inline void
fz_banner(const uint8_t **data, size_t *size, char *banner, size_t len)
{
	static const char *const usual[4] = { "220 ", "220 mx.example.org", "", "SSH-" };
	uint8_t b = fz_byte(data, size);
	size_t bl = b & 63;

	if (b < 0x80) {
		snprintf(banner, len, "%s", usual[b % 4]);
		return;
	}
	if (bl > *size)
		bl = *size;
	if (bl >= len)
		bl = len - 1;
	memcpy(banner, *data, bl);
	banner[bl] = '\0';
	*data += bl;
	*size -= bl;
}

static inline int
fz_tunnel_read(struct pe_tunnel *tn, struct pe_ctx *ps, struct evbuffer *in,
    struct evbuffer *out, const char *goodmac)
{
	char *line;
	size_t n;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		FZ_CHECK(line[n] == '\0');
		/* let the fuzzer reach the good-MAC branch too: the key is random */
		if (goodmac != NULL && n >= 12 + PE_MAC_HEX &&
		    strncmp(line, "250 pxm-mac-", 12) == 0)
			memcpy(line + 12, goodmac, PE_MAC_HEX);
		enum pe_tstep r = pe_tunnel_line(tn, ps, line, n, out);
		free(line);
		FZ_CHECK(strnlen(ps->reason, sizeof(ps->reason)) < sizeof(ps->reason));
		FZ_CHECK(strnlen(ps->detail, sizeof(ps->detail)) < sizeof(ps->detail));
		FZ_CHECK(strnlen(tn->mail.failed, sizeof(tn->mail.failed)) < sizeof(tn->mail.failed));
		switch (r) {
		case PE_T_MORE:
			continue;
		case PE_T_OPEN:
		case PE_T_OPEN_QUIT:
		case PE_T_CLOSED:
		case PE_T_INCONCLUSIVE:
			return 1;
		default:
			FZ_CHECK(!"pe_tunnel_line returned an unknown step");
		}
	}
	if (evbuffer_get_length(in) > 1024) {
		pe_set_reason(ps, "foreign-peer", evbuffer_pullup(in, 64), 64);
		return 1;
	}
	return 0;
}
/* the rest of the input, read by read, through the tunnel conversation
 * that pe_tunnel_start began, until it decides or the input ends */
static inline void
fz_tunnel_run(struct pe_tunnel *tn, struct pe_ctx *ps, struct evbuffer *in,
    struct evbuffer *out, const char *goodmac, struct fz_chunker *ch,
    const uint8_t *data, size_t size)
{
	pe_tunnel_start(tn, ps, out);
	for (;;) {
		evbuffer_drain(out, evbuffer_get_length(out));
		if (fz_tunnel_read(tn, ps, in, out, goodmac) || size == 0)
			return;
		size_t k = fz_chunk(ch, size);
		evbuffer_add(in, data, k);
		data += k;
		size -= k;
	}
}
#endif

#endif
