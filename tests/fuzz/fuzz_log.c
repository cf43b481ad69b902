/*
 * fuzz_log - milter/log.c: log_escape (every value of a log line, most of
 * them from the network) into small and large buffers, and a line built
 * with lb_init/lb_kv/lb_kvf.  Nothing is emitted: lb_emit is never called
 * (and the level is set so that it would print nothing anyway).
 *
 * Input: [0] the small buffer's size (0..31), then NUL-separated strings:
 * the first two are the queue id and the event, the rest key/value pairs.
 * Checked: the result fits, is NUL-terminated, its length is returned; in
 * the large buffer it is printable and quoted exactly when it must be.
 */
#include "config.h"
#include "log.h"
#include "fuzz.h"

#define MAXSTR 64

static int
needs_quote(const char *s)
{
	if (*s == '\0')
		return 1;
	for (; *s != '\0'; s++)
		if (*s == ' ' || *s == '"' || *s == '=' || *s == '\\' ||
		    (unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return 1;
	return 0;
}

static void
escape_checks(const char *s, size_t small)
{
	char sb[32], lb[4 * LOG_VALUE_CAP + 16];
	size_t n;

	memset(sb, 'X', sizeof(sb));
	n = log_escape(sb, small, s);
	if (small > 0) {
		FZ_CHECK(n < small);
		FZ_CHECK(strlen(sb) == n);
	}
	for (size_t i = small; i < sizeof(sb); i++)
		FZ_CHECK(sb[i] == 'X');		/* nothing written past dstlen */

	n = log_escape(lb, sizeof(lb), s);
	FZ_CHECK(n < sizeof(lb) && strlen(lb) == n);
	for (size_t i = 0; i < n; i++)
		FZ_CHECK((unsigned char)lb[i] >= 0x20 && (unsigned char)lb[i] < 0x7f);
	if (needs_quote(s))
		FZ_CHECK(n >= 2 && lb[0] == '"' && lb[n - 1] == '"');
	else
		FZ_CHECK(strchr(lb, '"') == NULL && strchr(lb, ' ') == NULL);
	/* capped: at most LOG_VALUE_CAP characters, each escaped to 2, quotes, "..." */
	FZ_CHECK(n <= 2 * LOG_VALUE_CAP + 2 + 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int configured;
	const char *str[MAXSTR];
	size_t nstr = 0, small;
	char *text, *p, *end;
	struct lb l;

	if (!configured) {
		log_configure(-1, 0);	/* below LOG_EMERG: nothing would be emitted */
		configured = 1;
	}
	if (size > 65536)
		return 0;
	small = fz_byte(&data, &size) % 32;
	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	for (p = text, end = text + size; nstr < MAXSTR && p <= end; p += strlen(p) + 1)
		str[nstr++] = p;

	for (size_t i = 0; i < nstr; i++)
		escape_checks(str[i], small);

	lb_init(&l, nstr > 0 && str[0][0] != '\0' ? str[0] : NULL, nstr > 1 ? str[1] : "event");
	FZ_CHECK(l.len < sizeof(l.buf) && strlen(l.buf) == l.len);
	for (size_t i = 2; i + 1 < nstr; i += 2) {
		if (i % 4 == 2)
			lb_kv(&l, str[i], str[i + 1]);
		else
			lb_kvf(&l, str[i], "%s/%zu", str[i + 1], i);
		FZ_CHECK(l.len < sizeof(l.buf) && strlen(l.buf) == l.len);
	}
	if (nstr > 2)
		lb_kv(&l, "last", nstr % 2 ? NULL : str[nstr - 1]);
	FZ_CHECK(l.len < sizeof(l.buf) && strlen(l.buf) == l.len);
	if (nstr > 0) {
		(void)log_level_from_name(str[0]);
		(void)log_facility_from_name(str[0]);
	}
	free(text);
	return 0;
}
