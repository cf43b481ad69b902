/*
 * ctlcmd.c - the control socket's language (see ctlcmd.h).
 *
 * Decisions:
 *  - A request is one line: a trailing "\n" or "\r\n" is allowed, any other
 *    control byte (NUL, a second line, a lone CR, ESC ...) refuses the
 *    whole request; words are separated by spaces or tabs, any number of
 *    them, around the words too.  Command words are lower case, exactly.
 *  - An address is numeric IPv4 or IPv6, optionally in brackets as the
 *    answers print it ("[192.0.2.1]"); an IPv4-mapped IPv6 address is the
 *    IPv4 one (pm_addr_parse), like the client addresses of the table.
 *  - The bytes come from whoever may connect to the socket (and, in the
 *    client, from its command line): a word quoted back in a reason is cut
 *    to 40 characters and made printable, so that the answer stays one
 *    line of plain text.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include "ctlcmd.h"

#define MAXWORDS 3		/* one more than any command takes */
#define QUOTE_MAX 40		/* characters of a word quoted back */
#define ADDR_MAX 64		/* longer words are no address */
#define ADDR_TEXT 64		/* an address printed */

struct word {
	const char *p;
	size_t n;
};

/* "WORD" as it may be shown: at most QUOTE_MAX characters, printable */
static void
quote(char *dst, size_t dstlen, const struct word *w)
{
	size_t n = 0, i;

	if (dstlen < 8) {
		if (dstlen > 0)
			dst[0] = '\0';
		return;
	}
	dst[n++] = '"';
	for (i = 0; i < w->n && i < QUOTE_MAX && n + 6 < dstlen; i++) {
		unsigned char c = (unsigned char)w->p[i];
		if (c == '"' || c == '\\')
			dst[n++] = '\\';
		dst[n++] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	if (i < w->n && n + 5 < dstlen) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n++] = '"';
	dst[n] = '\0';
}

static int
is(const struct word *w, const char *s)
{
	return w->n == strlen(s) && memcmp(w->p, s, w->n) == 0;
}

/* a word as an address: numeric, brackets allowed; 0 or -1 and why */
static int
word_addr(const struct word *w, struct pm_addr *a, char *why, size_t whylen)
{
	char buf[ADDR_MAX], q[QUOTE_MAX * 2 + 8];
	const char *p = w->p;
	size_t n = w->n;

	if (n >= 2 && p[0] == '[' && p[n - 1] == ']') {
		p++;
		n -= 2;
	}
	if (n > 0 && n < sizeof(buf)) {
		memcpy(buf, p, n);
		buf[n] = '\0';
		if (pm_addr_parse(buf, a) == 0)
			return 0;
	}
	quote(q, sizeof(q), w);
	snprintf(why, whylen, "%s is not an address", q);
	return -1;
}

/* split into words; the number of words (at most MAXWORDS counted) */
static int
split(const char *s, size_t len, struct word *w)
{
	size_t i = 0;
	int nw = 0;

	while (i < len) {
		size_t start;
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && s[i] != ' ' && s[i] != '\t')
			i++;
		if (nw < MAXWORDS) {
			w[nw].p = s + start;
			w[nw].n = i - start;
		}
		if (nw <= MAXWORDS)
			nw++;
	}
	return nw;
}

int
ctl_parse(const char *s, size_t len, struct ctl_cmd *out, char *why, size_t whylen)
{
	struct word w[MAXWORDS];
	char q[QUOTE_MAX * 2 + 8];
	int nw;

	memset(out, 0, sizeof(*out));
	if (whylen > 0)
		why[0] = '\0';
	if (len > CTL_LINE_MAX) {
		snprintf(why, whylen, "command longer than %d bytes", CTL_LINE_MAX);
		return -1;
	}
	if (len > 0 && s[len - 1] == '\n') {
		len--;
		if (len > 0 && s[len - 1] == '\r')
			len--;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0') {
			snprintf(why, whylen, "NUL byte in the command");
			return -1;
		}
		if (c == '\n') {
			snprintf(why, whylen, "more than one line: one command per connection");
			return -1;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			snprintf(why, whylen, "control byte 0x%02x in the command", c);
			return -1;
		}
	}
	if ((nw = split(s, len, w)) == 0) {
		snprintf(why, whylen, "empty command (" CTL_USAGE ")");
		return -1;
	}
	if (is(&w[0], "show")) {
		if (nw == 1) {
			out->op = CTL_SHOW_ALL;
			return 0;
		}
		if (nw > 2) {
			snprintf(why, whylen, "show takes one address at most");
			return -1;
		}
		out->op = CTL_SHOW;
		return word_addr(&w[1], &out->a, why, whylen);
	}
	if (is(&w[0], "flush")) {
		if (nw != 2) {
			snprintf(why, whylen, "flush takes one address or \"all\"");
			return -1;
		}
		if (is(&w[1], "all")) {
			out->op = CTL_FLUSH_ALL;
			return 0;
		}
		out->op = CTL_FLUSH;
		return word_addr(&w[1], &out->a, why, whylen);
	}
	if (is(&w[0], "stats")) {
		if (nw != 1) {
			snprintf(why, whylen, "stats takes no argument");
			return -1;
		}
		out->op = CTL_STATS;
		return 0;
	}
	quote(q, sizeof(q), &w[0]);
	snprintf(why, whylen, "unknown command %s (" CTL_USAGE ")", q);
	return -1;
}

size_t
ctl_format(const struct ctl_cmd *c, char *buf, size_t len)
{
	char addr[ADDR_TEXT];
	int n;

	switch (c->op) {
	case CTL_SHOW_ALL: n = snprintf(buf, len, "show"); break;
	case CTL_SHOW: n = snprintf(buf, len, "show %s", pm_addr_str(&c->a, addr, sizeof(addr))); break;
	case CTL_FLUSH: n = snprintf(buf, len, "flush %s", pm_addr_str(&c->a, addr, sizeof(addr))); break;
	case CTL_FLUSH_ALL: n = snprintf(buf, len, "flush all"); break;
	case CTL_STATS: n = snprintf(buf, len, "stats"); break;
	default: n = snprintf(buf, len, "?"); break;
	}
	if (n < 0)
		n = 0;
	return len == 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}
