/*
 * telnet.c - the port-23 family: WinGate, telnet gateways, Cisco routers
 * with the factory password.  One adaptive probe per port ("cisco" and
 * "wingate" are other names of it): it reads the prompt first and chooses
 * what to send.
 *
 *   "User Access Verification" + "Password:"  send "cisco"; a ">" or "#"
 *                      prompt then gets "telnet HOST PORT"; a second
 *                      "Password:" means a changed password: closed
 *   "WinGate>", "host[:port]:"-style            "HOST:PORT"
 *   "CCProxy Telnet>"                           "open HOST PORT"
 *   "SpoonProxy>"                               "HOST PORT"
 *   "tn-gw->", "telnet>", any other "...>"      "telnet HOST PORT"
 *   "login:", "username:", "user:"              closed (login-required)
 *   "Password:" alone                           closed (password-required)
 *   nothing recognisable within PROMPT_WAIT     "HOST:PORT" and
 *                      "telnet HOST PORT" both (proxycheck's fall-back)
 * Results go by the mechanism the prompt revealed, in pxytest's words:
 * "wingate" (WinGate-style HOST:PORT prompts), "cisco" (the factory
 * password worked), "telnet" (every other gateway, and the fall-back).
 * After a command, the far end has COMMAND_WAIT seconds to show the target's
 * greeting (the gateway's own chatter may come first); silence or a refusal
 * is closed.  So a silent port never holds a test until the overall
 * deadline.  Telnet option negotiation is refused (DO -> WONT, WILL -> DONT).
 */
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include "pe_int.h"

#define PROMPT_WAIT 3.0
#define COMMAND_WAIT 4.0

enum { S_PROMPT = 0, S_CISCO, S_SENT };

struct telnet {
	int state;
	int iac;		/* where in a telnet command we are */
	size_t tlen;
	char text[512];		/* the prompt so far, lower case, commands removed */
};

enum { IAC = 255, DONT = 254, DO = 253, WONT = 252, WILL = 251, SB = 250, SE = 240 };

static void
telnet_start(struct pe_ctx *ps, struct evbuffer *out)
{
	struct telnet *st = ps->priv;

	(void)out;
	st->state = S_PROMPT;
	ps->timer = PROMPT_WAIT;	/* the far end speaks first, or we fall back */
}

/* move input into st->text without telnet commands; answer negotiations */
static void
absorb(struct pe_ctx *ps, struct evbuffer *in, struct evbuffer *out)
{
	struct telnet *st = ps->priv;
	unsigned char b[256];
	int n;

	while ((n = evbuffer_remove(in, b, sizeof(b))) > 0) {
		for (int i = 0; i < n; i++) {
			unsigned char c = b[i];
			if (st->iac == 1) {		/* after IAC */
				if (c == DO || c == DONT || c == WILL || c == WONT) {
					st->iac = c;
					continue;
				}
				st->iac = c == SB ? 3 : 0;
				if (c != IAC)
					continue;	/* IAC IAC is a literal 255: dropped */
				continue;
			}
			if (st->iac == DO || st->iac == WILL || st->iac == DONT || st->iac == WONT) {
				unsigned char r[3] = { IAC, (unsigned char)(st->iac == DO ? WONT : DONT), c };
				if (st->iac == DO || st->iac == WILL)
					evbuffer_add(out, r, 3);
				st->iac = 0;
				continue;
			}
			if (st->iac == 3) {		/* inside SB ... IAC SE */
				if (c == IAC)
					st->iac = 4;
				continue;
			}
			if (st->iac == 4) {
				st->iac = c == SE ? 0 : 3;
				continue;
			}
			if (c == IAC) {
				st->iac = 1;
				continue;
			}
			if (c == '\0')
				continue;
			if (st->tlen + 1 >= sizeof(st->text)) {	/* keep the newest half */
				memmove(st->text, st->text + sizeof(st->text) / 2, sizeof(st->text) / 2);
				st->tlen = sizeof(st->text) / 2 - 1;
			}
			st->text[st->tlen++] = (char)tolower(c);
			st->text[st->tlen] = '\0';
		}
	}
}

/* does the text end with this prompt (trailing blanks ignored)? */
static int
ends_with(const struct pe_ctx *ps, const char *p)
{
	const struct telnet *st = ps->priv;
	size_t n = st->tlen, pl = strlen(p);
	while (n > 0 && (st->text[n - 1] == ' ' || st->text[n - 1] == '\r' ||
	    st->text[n - 1] == '\n' || st->text[n - 1] == '\t'))
		n--;
	return n >= pl && memcmp(st->text + n - pl, p, pl) == 0;
}

static void
send_cmd(struct pe_ctx *ps, struct evbuffer *out, const char *style)
{
	struct telnet *st = ps->priv;
	char host[PE_ADDRSTR_MAX];
	int port = pe_target_port(ps->target);

	pe_addr_str(ps->target, host, sizeof(host));
	if (strcmp(style, "wingate") == 0)
		evbuffer_add_printf(out, "%s:%d\r\n", host, port);
	else if (strcmp(style, "ccproxy") == 0)
		evbuffer_add_printf(out, "open %s %d\r\n", host, port);
	else if (strcmp(style, "spoon") == 0)
		evbuffer_add_printf(out, "%s %d\r\n", host, port);
	else if (strcmp(style, "fallback") == 0)
		evbuffer_add_printf(out, "%s:%d\r\ntelnet %s %d\r\n", host, port, host, port);
	else
		evbuffer_add_printf(out, "telnet %s %d\r\n", host, port);
	snprintf(ps->reason, sizeof(ps->reason), "%s", style);
	/* pxytest's words for what the prompt revealed */
	ps->mechanism = strcmp(style, "wingate") == 0 ? "wingate" :
	    strcmp(style, "cisco") == 0 ? "cisco" : "telnet";
	st->state = S_SENT;
	ps->noisy = 1;
	st->tlen = 0;
	st->text[0] = '\0';
	ps->timer = COMMAND_WAIT;
}

static enum pe_step
refuse(struct pe_ctx *ps, const char *why)
{
	struct telnet *st = ps->priv;

	pe_set_reason(ps, why, st->text, st->tlen);
	return PE_STEP_CLOSED;
}

static enum pe_step
telnet_read(struct pe_ctx *ps, struct evbuffer *in, struct evbuffer *out)
{
	struct telnet *st = ps->priv;

	if (st->state == S_SENT) {
		/* wait for the target's greeting; leave the bytes for the engine */
		size_t len = evbuffer_get_length(in);
		const char *data = (const char *)evbuffer_pullup(in, -1);
		if (data != NULL && pe_greeting_seen(ps, data, len))
			return PE_STEP_TUNNEL;
		if (len > 2048)
			return refuse(ps, "gateway-chatter");
		char low[256];
		size_t n = len < sizeof(low) - 1 ? len : sizeof(low) - 1;
		for (size_t i = 0; i < n; i++)
			low[i] = (char)tolower((unsigned char)data[i]);
		low[n] = '\0';
		if (strstr(low, "password:") || strstr(low, "login:") || strstr(low, "username:")) {
			pe_set_reason(ps, "login-required", data, n);
			return PE_STEP_CLOSED;
		}
		if (strstr(low, "refused") || strstr(low, "unable to") ||
		    strstr(low, "failed") || strstr(low, "% ")) {
			pe_set_reason(ps, "gateway-refused", data, n);
			return PE_STEP_CLOSED;
		}
		return PE_STEP_MORE;
	}
	absorb(ps, in, out);
	if (st->state == S_CISCO) {
		if (ends_with(ps, "password:"))
			return refuse(ps, "cisco-bad-password");
		if (ends_with(ps, ">") || ends_with(ps, "#")) {
			send_cmd(ps, out, "cisco");
			return PE_STEP_MORE;
		}
		return PE_STEP_MORE;
	}
	/* S_PROMPT */
	if (strstr(st->text, "user access verification") != NULL) {
		if (ends_with(ps, "password:")) {
			evbuffer_add(out, "cisco\r\n", 7);
			st->state = S_CISCO;
			st->tlen = 0;
			st->text[0] = '\0';
			ps->timer = PROMPT_WAIT;
		}
		if (ends_with(ps, "username:"))
			return refuse(ps, "login-required");
		return PE_STEP_MORE;
	}
	if (ends_with(ps, "login:") || ends_with(ps, "username:") ||
	    ends_with(ps, "user name:") || ends_with(ps, "user:"))
		return refuse(ps, "login-required");
	if (ends_with(ps, "password:"))
		return refuse(ps, "password-required");
	if (ends_with(ps, "wingate>") || ends_with(ps, "host[:port]:") ||
	    ends_with(ps, "host_name:port") || ends_with(ps, "mngtr>"))
		send_cmd(ps, out, "wingate");
	else if (ends_with(ps, "ccproxy telnet>"))
		send_cmd(ps, out, "ccproxy");
	else if (ends_with(ps, "spoonproxy>"))
		send_cmd(ps, out, "spoon");
	else if (ends_with(ps, ">") || ends_with(ps, "tn-gw->"))
		send_cmd(ps, out, "telnet");
	return PE_STEP_MORE;
}

static enum pe_step
telnet_timer(struct pe_ctx *ps, struct evbuffer *out)
{
	struct telnet *st = ps->priv;

	switch (st->state) {
	case S_PROMPT:
		/* silent, or a prompt we do not know: try both classic commands */
		pe_set_reason(ps, "no-prompt", st->text, st->tlen);
		send_cmd(ps, out, "fallback");
		return PE_STEP_MORE;
	case S_CISCO:
		return refuse(ps, "cisco-no-prompt");
	default:
		pe_set_reason(ps, strcmp(ps->reason, "fallback") == 0 ? "silent" : "no-connect",
		    NULL, 0);
		return PE_STEP_CLOSED;
	}
}

/* a gateway that said something (a refusal, our command sent) and left */
static enum pe_step
telnet_hangup(struct pe_ctx *ps, size_t nread)
{
	return nread > 0 && ps->reason[0] != '\0' ? PE_STEP_CLOSED : PE_STEP_MORE;
}

const struct pe_kind pe_kind_telnet = {
	.name = "telnet",
	.flags = PE_K_PROXY,
	.priv_size = sizeof(struct telnet),
	.start = telnet_start,
	.on_read = telnet_read,
	.on_timer = telnet_timer,
	.on_hangup = telnet_hangup,
};
