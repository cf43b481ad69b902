/*
 * fuzz_canary - the canary's input handling (proof.c): pe_canary_scan, what
 * canary_read does with each read (find "pxm-<32 hex>", keep a 64-byte tail
 * for a token split between reads, give up past the cap), on the input split
 * into chunks; and pe_nonce_find on the whole input.
 *
 * Checked against the plain stream: a token is reported exactly when the
 * first one in the stream has arrived, and it is that one; the kept tail is
 * at most 64 bytes; every byte is counted once against the cap.
 *
 * Input: 1 header byte (chunk sizes, fuzz.h), then the bytes a proxy relays
 * to the canary.
 */
#include "config.h"
#include "pe_int.h"
#include "fuzz.h"

static int
lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* is there a whole token at buf + i? */
static int
token_at(const char *buf, size_t len, size_t i)
{
	if (i + 4 + PE_NONCE_HEX > len || memcmp(buf + i, PE_NONCE_PREFIX, 4) != 0)
		return 0;
	for (size_t j = 0; j < PE_NONCE_HEX; j++)
		if (!lhex(buf[i + 4 + j]))
			return 0;
	return 1;
}

/* the first token in buf (offset of its hex digits), by plain search */
static long
first_token(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (token_at(buf, len, i))
			return (long)(i + 4);
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct evbuffer *in;
	struct fz_chunker ch;
	const char *stream;
	size_t fed = 0, seen = 0;
	char hex[PE_NONCE_HEX + 1];
	long want, off;

	if (in == NULL && (in = evbuffer_new()) == NULL)
		abort();
	evbuffer_drain(in, evbuffer_get_length(in));
	fz_chunker_init(&ch, fz_byte(&data, &size));
	stream = (const char *)data;

	/* pe_nonce_find on the whole input */
	off = pe_nonce_find(stream, size);
	FZ_CHECK(off == first_token(stream, size));
	/* tokens cannot overlap ("pxm-" is not hex), so the first token that is
	 * complete in a prefix of the stream is the first token, once its last
	 * digit has arrived */

	/* the canary, read by read */
	while (fed < size) {
		size_t k = fz_chunk(&ch, size - fed);
		int r;

		evbuffer_add(in, stream + fed, k);
		fed += k;
		r = pe_canary_scan(in, &seen, hex);
		want = off >= 0 && (size_t)off + PE_NONCE_HEX <= fed ? off : -1;
		if (r > 0) {
			FZ_CHECK(want >= 0);
			FZ_CHECK(strlen(hex) == PE_NONCE_HEX);
			FZ_CHECK(memcmp(hex, stream + want, PE_NONCE_HEX) == 0);
			/* and not complete before this read */
			FZ_CHECK((size_t)want + PE_NONCE_HEX > fed - k);
			FZ_CHECK(evbuffer_get_length(in) == 0);
			break;
		}
		FZ_CHECK(want < 0);
		if (r < 0)
			break;		/* past the cap: the canary closes */
		/* each byte counted once: the kept tail is not counted yet */
		FZ_CHECK(seen + evbuffer_get_length(in) == fed);
		FZ_CHECK(evbuffer_get_length(in) <= 64);
	}
	return 0;
}
