/*
 * smtp.c - see smtp.h.
 */
#include "config.h"
#include <ctype.h>
#include <string.h>
#include "smtp.h"

enum pe_smtp_rd
pe_smtp_line(struct pe_smtp_reply *r, const char *line, size_t len)
{
	int code;
	size_t at;

	if (len < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) || line[0] < '2' || line[0] > '5' ||
	    (len > 3 && line[3] != '-' && line[3] != ' '))
		return PE_SMTP_BAD;
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if ((r->code != 0 && code != r->code) || r->lines >= PE_SMTP_LINES_MAX)
		return PE_SMTP_BAD;
	r->code = code;
	r->lines++;
	at = strlen(r->text);
	if (len > 4 && at + 4 < sizeof(r->text)) {
		if (at > 0) {
			memcpy(r->text + at, " / ", 4);
			at += 3;
		}
		pe_printable(r->text + at, sizeof(r->text) - at, line + 4, len - 4);
	}
	return len > 3 && line[3] == '-' ? PE_SMTP_MORE : PE_SMTP_DONE;
}

enum pe_smtp_rd
pe_smtp_read(struct pe_smtp_reply *r, struct evbuffer *in)
{
	char line[PE_SMTP_LINE_MAX + 2];

	for (;;) {
		struct evbuffer_ptr eol = evbuffer_search(in, "\n", 1, NULL);
		size_t n;
		enum pe_smtp_rd rd;

		if (eol.pos < 0)
			return evbuffer_get_length(in) > PE_SMTP_LINE_MAX ? PE_SMTP_BAD : PE_SMTP_MORE;
		if ((size_t)eol.pos > PE_SMTP_LINE_MAX)
			return PE_SMTP_BAD;
		n = (size_t)eol.pos;
		evbuffer_remove(in, line, n + 1);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if ((rd = pe_smtp_line(r, line, n)) != PE_SMTP_MORE)
			return rd;
	}
}

int
pe_smtp_banner_host(const char *text, char *host, size_t len)
{
	size_t n = strcspn(text, " ");

	if (n == 0 || n >= len)
		return -1;
	if (text[0] == '[') {
		if (n < 3 || text[n - 1] != ']')
			return -1;
	} else {
		if (text[0] == '.' || text[0] == '-' || text[n - 1] == '.' || text[n - 1] == '-')
			return -1;
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)text[i]) && text[i] != '-' && text[i] != '.' &&
			    text[i] != '_')
				return -1;
		if (strchr(text, '.') == NULL || (size_t)(strchr(text, '.') - text) >= n)
			return -1;	/* "localhost", "ESMTP": no host name */
	}
	for (size_t i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)text[i]);
	host[n] = '\0';
	return 0;
}
