/*
 * kind_banner.c - a check kind that exists only for the tests: it proves
 * that a kind is one file plus one row (here the row is pe_kind_register in
 * test_checks.c).  A stream kind: it reads the service's first line; a line
 * starting with "SVC" is a finding, weight 2 ("svc=PORT(2)"); anything else
 * is no finding.  Its private state is large on purpose (the engine sizes
 * the slot by the kind) and must be zero at every start.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "pe_int.h"

struct banner_state {
	int started;
	char big[3000];
};

int kind_banner_dirty;		/* a start saw state left from before */

static void
banner_start(struct pe_ctx *ctx, struct evbuffer *out)
{
	struct banner_state *st = ctx->priv;

	(void)out;
	for (size_t i = 0; i < sizeof(st->big); i++)
		if (st->big[i] != 0)
			kind_banner_dirty = 1;
	if (st->started)
		kind_banner_dirty = 1;
	st->started = 1;
	memset(st->big, 'x', sizeof(st->big));
}

static enum pe_step
banner_read(struct pe_ctx *ctx, struct evbuffer *in, struct evbuffer *out)
{
	size_t n;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);

	(void)out;
	if (line == NULL)
		return PE_STEP_MORE;
	if (strncmp(line, "SVC", 3) == 0)
		pe_find(ctx, PE_F_WEAK, 2, "svc", "%d",
		    ntohs(((const struct sockaddr_in *)ctx->client)->sin_port));
	pe_set_reason(ctx, "banner", line, n);
	free(line);
	return PE_STEP_CLOSED;
}

const struct pe_kind kind_banner = {
	.name = "banner-test",
	.priv_size = sizeof(struct banner_state),
	.timeout = 5.0,
	.start = banner_start,
	.on_read = banner_read,
};
