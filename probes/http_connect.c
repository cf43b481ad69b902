/*
 * http_connect.c - HTTP CONNECT probe.
 *
 * Sends "CONNECT host:port HTTP/1.0" + blank line ([v6]:port for IPv6
 * targets), then one more CRLF as a separate write (MikroTik's HttpProxy
 * answers only then), and one more CRLF as soon as the first reply bytes
 * arrive without a complete status line (proxies that wait for more input).
 * Extra CRLFs that reach the target are empty lines: harmless.  A 2xx status
 * followed by the end of the header block means the proxy claims a tunnel;
 * the engine then proves it with the nonce.  Codes:
 *   2xx            tunnel claimed
 *   502, 503, 504  the proxy tried and failed to reach the target: inconclusive
 *   anything else  (400, 403, 405, 407, 501, 3xx ...) definitely closed
 *   not HTTP       closed (some other service on the port)
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include "pe_int.h"

enum { S_STATUS = 0, S_HEADERS };

#define MAX_LINE 1024

void
pe_hostport(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[PE_ADDRSTR_MAX];

	pe_addr_str(sa, host, sizeof(host));
	if (sa->sa_family == AF_INET6)
		snprintf(buf, len, "[%s]:%d", host, pe_target_port(sa));
	else
		snprintf(buf, len, "%s:%d", host, pe_target_port(sa));
}

void
pe_http_connect_start(struct pe_ctx *ps, struct evbuffer *out)
{
	char hp[PE_ADDRSTR_MAX + 8];

	pe_hostport(ps->target, hp, sizeof(hp));
	evbuffer_add_printf(out, "CONNECT %s HTTP/1.0\r\n\r\n", hp);
	((struct pe_http_connect *)ps->priv)->state = S_STATUS;
}

/* the request went out: one more CRLF as a write of its own (MikroTik) */
void
pe_http_connect_drained(struct pe_ctx *ps, struct evbuffer *out)
{
	struct pe_http_connect *st = ps->priv;

	if (st->nudged & 2)
		return;
	st->nudged |= 2;
	evbuffer_add(out, "\r\n", 2);
}

int
pe_http_status(const char *line)
{
	if (strncmp(line, "HTTP/", 5) != 0)
		return -1;
	const char *p = line + 5;
	if (!(p[0] >= '0' && p[0] <= '9') || p[1] != '.' ||
	    !(p[2] >= '0' && p[2] <= '9') || p[3] != ' ')
		return -1;
	p += 4;
	if (!(p[0] >= '1' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] >= '0' && p[2] <= '9') || (p[3] != ' ' && p[3] != '\0'))
		return -1;
	return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
}

/* One line out of in, without its CRLF/LF; 1 got one, 0 need more, -1 too long */
static int
take_line(struct evbuffer *in, char *buf, size_t buflen)
{
	size_t n;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);

	if (line == NULL)
		return evbuffer_get_length(in) >= buflen ? -1 : 0;
	if (n >= buflen)
		n = buflen - 1;
	memcpy(buf, line, n);
	buf[n] = '\0';
	free(line);
	return 1;
}

enum pe_step
pe_http_connect_read(struct pe_ctx *ps, struct evbuffer *in, struct evbuffer *out)
{
	struct pe_http_connect *st = ps->priv;
	char line[MAX_LINE];
	int r, code;

	for (;;) {
		r = take_line(in, line, sizeof(line));
		if (r == 0) {
			if (st->state == S_STATUS && !(st->nudged & 1) &&
			    evbuffer_get_length(in) > 0) {
				st->nudged |= 1;	/* first bytes, no full line: nudge */
				evbuffer_add(out, "\r\n", 2);
			}
			return PE_STEP_MORE;
		}
		if (r < 0) {
			pe_set_reason(ps, "http-line-too-long", NULL, 0);
			return PE_STEP_CLOSED;
		}
		if (st->state == S_STATUS) {
			if (line[0] == '\0' && st->blanks++ < 2)
				continue;	/* tolerate stray blank lines */
			code = pe_http_status(line);
			if (code < 0) {
				pe_set_reason(ps, "not-http", line, strlen(line));
				return PE_STEP_CLOSED;
			}
			char why[16];
			snprintf(why, sizeof(why), "http-%03d", code);
			pe_set_reason(ps, why, line, strlen(line));
			if (code >= 200 && code <= 299) {
				st->state = S_HEADERS;
				continue;
			}
			if (code == 502 || code == 503 || code == 504)
				return PE_STEP_INCONCLUSIVE;
			return PE_STEP_CLOSED;
		}
		/* S_HEADERS: skip until the blank line that ends the block */
		if (line[0] == '\0')
			return PE_STEP_TUNNEL;
	}
}

const struct pe_kind pe_kind_http_connect = {
	.name = "http-connect",
	.flags = PE_K_PROXY,
	.priv_size = sizeof(struct pe_http_connect),
	.start = pe_http_connect_start,
	.on_read = pe_http_connect_read,
	.on_drained = pe_http_connect_drained,
};
