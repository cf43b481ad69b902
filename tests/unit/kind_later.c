/*
 * kind_later.c - a test-only task kind (no connection): it asks for its
 * timer, and when it fires records a DNSBL-class finding of weight 3
 * ("dnsbl=bl.test(3)"), like a DNS answer arriving.  With the client
 * 127.0.0.66 it stays silent until the engine's deadline (inconclusive).
 * Its cleanup reports a step at once, as a resolver library does when its
 * queries are cancelled (c-ares calls their callbacks): the engine must
 * ignore it, the attempt is already over.
 */
#include "config.h"
#include <arpa/inet.h>
#include "pe_int.h"

static void
later_start(struct pe_ctx *ctx, struct evbuffer *out)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ctx->client;

	(void)out;
	if (sin->sin_addr.s_addr != htonl(0x7f000042))
		ctx->timer = 0.05;
}

static enum pe_step
later_timer(struct pe_ctx *ctx, struct evbuffer *out)
{
	(void)out;
	pe_find(ctx, PE_F_DNSBL, 3, "dnsbl", "bl.test");
	return PE_STEP_CLOSED;
}

static void
later_cleanup(struct pe_ctx *ctx)
{
	pe_ctx_step(ctx, PE_STEP_INCONCLUSIVE);
}

const struct pe_kind kind_later = {
	.name = "later-test",
	.flags = PE_K_TASK,
	.start = later_start,
	.on_timer = later_timer,
	.cleanup = later_cleanup,
};
