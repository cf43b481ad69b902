/*
 * http_connect.c - HTTP CONNECT probe.
 *
 * Sends "CONNECT host:port HTTP/1.0" + blank line ([v6]:port for IPv6
 * targets).  A 2xx status followed by the end of the header block means the
 * proxy claims a tunnel; the engine then proves it with the nonce.  Codes:
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

static void
connect_start(struct pe_pstate *ps, struct evbuffer *out)
{
	char host[PE_ADDRSTR_MAX];
	int port = pe_target_port(ps->target);

	pe_addr_str(ps->target, host, sizeof(host));
	if (ps->target->sa_family == AF_INET6)
		evbuffer_add_printf(out, "CONNECT [%s]:%d HTTP/1.0\r\n\r\n", host, port);
	else
		evbuffer_add_printf(out, "CONNECT %s:%d HTTP/1.0\r\n\r\n", host, port);
	ps->state = S_STATUS;
}

/* "HTTP/1.x NNN ..." -> NNN, or -1 when the line is not an HTTP status line */
static int
status_code(const char *line)
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

static enum pe_step
connect_read(struct pe_pstate *ps, struct evbuffer *in, struct evbuffer *out)
{
	char line[MAX_LINE];
	int r, code;

	(void)out;
	for (;;) {
		r = take_line(in, line, sizeof(line));
		if (r == 0)
			return PE_STEP_MORE;
		if (r < 0) {
			pe_set_reason(ps, "http-line-too-long", NULL, 0);
			return PE_STEP_CLOSED;
		}
		if (ps->state == S_STATUS) {
			if (line[0] == '\0' && ps->aux++ < 2)
				continue;	/* tolerate stray blank lines */
			code = status_code(line);
			if (code < 0) {
				pe_set_reason(ps, "not-http", line, strlen(line));
				return PE_STEP_CLOSED;
			}
			char why[16];
			snprintf(why, sizeof(why), "http-%03d", code);
			pe_set_reason(ps, why, line, strlen(line));
			if (code >= 200 && code <= 299) {
				ps->state = S_HEADERS;
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

const struct pe_proto pe_proto_http_connect = {
	.name = "http-connect",
	.flags = 0,
	.start = connect_start,
	.on_read = connect_read,
};
