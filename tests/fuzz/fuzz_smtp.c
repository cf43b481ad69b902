/*
 * fuzz_smtp - smtp.c, the SMTP reply parser that connect_back runs on every
 * byte a client's port 25 sends: pe_smtp_read (and through it
 * pe_smtp_line) on the input split into chunks as reads deliver it, the
 * reply reset after each DONE (as connect_back does), until BAD or the input
 * ends; pe_smtp_banner_host on the text of every DONE reply.
 *
 * Checked, by design (smtp.h):
 *   - the text is NUL-terminated within its array and printable;
 *   - lines <= PE_SMTP_LINES_MAX; a DONE reply has 1.. lines and a code of
 *     200..599; a reply in progress has a code only once it has a line;
 *   - after MORE the buffer holds no line end and at most PE_SMTP_LINE_MAX
 *     bytes (a longer line is BAD at once);
 *   - the chunking changes nothing: the replies, the BAD and what is left
 *     over are those of the same stream read at once;
 *   - a banner host is the text's first word, lowercased, fits the buffer,
 *     and is an address literal or a dotted name of [A-Za-z0-9._-].
 *
 * Input: 2 header bytes, then the stream.
 *   [0] chunk sizes (fuzz.h)
 *   [1] pe_smtp_banner_host's buffer: < 0x80 256 bytes, else (b & 63) + 1
 */
#include "config.h"
#include <ctype.h>
#include "pe_int.h"
#include "smtp.h"
#include "fuzz.h"

/* FNV-1a over what a run saw */
static void
mix(uint64_t *h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		*h ^= b[i];
		*h *= 1099511628211ULL;
	}
}

static void
check_reply(const struct pe_smtp_reply *r)
{
	const char *nul = memchr(r->text, '\0', sizeof(r->text));

	FZ_CHECK(nul != NULL);
	for (const char *p = r->text; p < nul; p++)
		FZ_CHECK(*p >= 0x20 && *p < 0x7f);
	FZ_CHECK(r->lines >= 0 && r->lines <= PE_SMTP_LINES_MAX);
	FZ_CHECK(r->lines == 0 ? r->code == 0 && r->text[0] == '\0' :
	    r->code >= 200 && r->code <= 599);
}

static void
check_host(const char *text, size_t hlen)
{
	char host[256];
	size_t n;

	memset(host, 0x55, sizeof(host));
	if (pe_smtp_banner_host(text, host, hlen) != 0) {
		FZ_CHECK(host[0] == 0x55);	/* nothing written */
		return;
	}
	n = strnlen(host, hlen);
	FZ_CHECK(n > 0 && n < hlen);
	FZ_CHECK(text[n] == ' ' || text[n] == '\0');
	for (size_t i = 0; i < n; i++) {
		FZ_CHECK(host[i] == tolower((unsigned char)text[i]));
		FZ_CHECK(host[i] != ' ' && !isupper((unsigned char)host[i]));
	}
	if (host[0] == '[') {
		FZ_CHECK(host[n - 1] == ']');
	} else {
		FZ_CHECK(memchr(host, '.', n) != NULL);
		for (size_t i = 0; i < n; i++)
			FZ_CHECK(isalnum((unsigned char)host[i]) || host[i] == '.' || host[i] == '-' ||
			    host[i] == '_');
	}
}

/* the stream through pe_smtp_read, chunked (ch) or at once (NULL); a hash
 * of every reply, the BAD and the state at the end */
static uint64_t
run(struct evbuffer *in, struct fz_chunker *ch, const uint8_t *data, size_t size, size_t hlen)
{
	struct pe_smtp_reply r;
	uint64_t h = 14695981039346656037ULL;

	evbuffer_drain(in, evbuffer_get_length(in));
	memset(&r, 0, sizeof(r));
	while (size > 0) {
		size_t k = ch != NULL ? fz_chunk(ch, size) : size;

		evbuffer_add(in, data, k);
		data += k;
		size -= k;
		for (;;) {
			enum pe_smtp_rd rd = pe_smtp_read(&r, in);

			check_reply(&r);
			if (rd == PE_SMTP_MORE) {
				struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
				FZ_CHECK(eol.pos < 0);
				FZ_CHECK(evbuffer_get_length(in) <= PE_SMTP_LINE_MAX);
				break;
			}
			FZ_CHECK(rd == PE_SMTP_DONE || rd == PE_SMTP_BAD);
			mix(&h, &rd, sizeof(rd));
			if (rd == PE_SMTP_BAD) {
				mix(&h, "BAD", 3);
				return h;
			}
			FZ_CHECK(r.lines >= 1);
			mix(&h, &r.code, sizeof(r.code));
			mix(&h, &r.lines, sizeof(r.lines));
			mix(&h, r.text, strlen(r.text) + 1);
			check_host(r.text, hlen);
			memset(&r, 0, sizeof(r));
		}
	}
	{	/* what is left: a reply in progress, a partial line */
		size_t left = evbuffer_get_length(in);
		mix(&h, &r.code, sizeof(r.code));
		mix(&h, &r.lines, sizeof(r.lines));
		mix(&h, r.text, strlen(r.text) + 1);
		mix(&h, &left, sizeof(left));
		mix(&h, evbuffer_pullup(in, -1), left);
	}
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct evbuffer *in;
	struct fz_chunker ch;
	uint8_t b1;
	size_t hlen;
	uint64_t chunked, whole;

	if (in == NULL && (in = evbuffer_new()) == NULL)
		abort();
	fz_chunker_init(&ch, fz_byte(&data, &size));
	b1 = fz_byte(&data, &size);
	hlen = b1 < 0x80 ? 256 : (size_t)(b1 & 63) + 1;

	chunked = run(in, &ch, data, size, hlen);
	whole = run(in, NULL, data, size, hlen);
	FZ_CHECK(chunked == whole);
	return 0;
}
