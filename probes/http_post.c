/*
 * http_post.c - HTTP POST probe.
 *
 * "POST http://host:port/ HTTP/1.0" with a text/plain body that carries the
 * nonce as an SMTP dialogue (RSET first: some proxies leak their headers
 * into the stream; then EHLO pxm-<nonce>, QUIT).  The proxy relays the
 * request to the target, headers and all; the canary finds the nonce behind
 * them, and that alone is the proof.  What the proxy answers proves nothing:
 * squid passes the target's reply back as HTTP/0.9 "200 OK", tinyproxy
 * relays the POST and then answers 503, privoxy 502.  So:
 *   400, 401, 403, 405, 407, 411, 501  refused before relaying: closed
 *   any other answer, or none           wait a moment for the canary (engine
 *                                       PE_STEP_WAIT_PROOF), then closed
 *   not HTTP at all                     closed
 * With an external target (pxytest -M/-S) there is no nonce to prove: the
 * body must carry a line that starts with the banner.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pe_int.h"

static void
post_start(struct pe_ctx *ps, struct evbuffer *out)
{
	char hp[PE_ADDRSTR_MAX + 8], body[128];
	int n;

	pe_hostport(ps->target, hp, sizeof(hp));
	n = snprintf(body, sizeof(body), "RSET\r\nEHLO " PE_NONCE_PREFIX "%s\r\nQUIT\r\n",
	    ps->nonce);
	evbuffer_add_printf(out, "POST http://%s/ HTTP/1.0\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %d\r\n"
	    "\r\n%s", hp, n, body);
}

static enum pe_step
post_read(struct pe_ctx *ps, struct evbuffer *in, struct evbuffer *out)
{
	int *state = ps->priv;
	size_t n;
	char *line;
	int code;

	(void)out;
	if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) == NULL) {
		if (evbuffer_get_length(in) > 1024) {
			pe_set_reason(ps, "not-http", evbuffer_pullup(in, 64), 64);
			return PE_STEP_CLOSED;
		}
		return PE_STEP_MORE;
	}
	while (*state == 1) {	/* banner target: skip the reply headers */
		int end = line[0] == '\0';
		free(line);
		if (end)
			return PE_STEP_TUNNEL;
		if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) == NULL)
			return PE_STEP_MORE;
	}
	code = pe_http_status(line);
	if (code < 0) {
		/* a bare HTTP/0.9 relay shows the target's own first line */
		int ours = strncmp(line, "220 ", 4) == 0;
		pe_set_reason(ps, ours ? "post-relayed" : "not-http", line, n);
		if (ours && ps->target_kind == PE_TARGET_BANNER) {
			evbuffer_prepend(in, "\r\n", 2);
			evbuffer_prepend(in, line, n);
			free(line);
			return PE_STEP_TUNNEL;
		}
		free(line);
		return ours ? PE_STEP_WAIT_PROOF : PE_STEP_CLOSED;
	}
	char why[16];
	snprintf(why, sizeof(why), "http-%03d", code);
	pe_set_reason(ps, why, line, n);
	free(line);
	switch (code) {
	case 400: case 401: case 403: case 405: case 407: case 411: case 501:
		return PE_STEP_CLOSED;
	default:
		break;
	}
	if (ps->target_kind == PE_TARGET_BANNER) {
		/* pxytest -M: the target's banner must come back in the body */
		*state = 1;
		return post_read(ps, in, out);
	}
	evbuffer_drain(in, evbuffer_get_length(in));
	return PE_STEP_WAIT_PROOF;
}

const struct pe_kind pe_kind_http_post = {
	.name = "http-post",
	.flags = PE_K_PROXY,
	.priv_size = sizeof(int),
	.start = post_start,
	.on_read = post_read,
};
