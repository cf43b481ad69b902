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

enum { IAC = 255, DONT = 254, DO = 253, WONT = 252, WILL = 251, SB = 250, SE = 240 };

static void
telnet_start(struct pe_pstate *ps, struct evbuffer *out)
{
	(void)out;
	ps->state = S_PROMPT;
	ps->timer = PROMPT_WAIT;	/* the far end speaks first, or we fall back */
}

/* move input into ps->text without telnet commands; answer negotiations */
static void
absorb(struct pe_pstate *ps, struct evbuffer *in, struct evbuffer *out)
{
	unsigned char b[256];
	int n;

	while ((n = evbuffer_remove(in, b, sizeof(b))) > 0) {
		for (int i = 0; i < n; i++) {
			unsigned char c = b[i];
			if (ps->aux == 1) {		/* after IAC */
				if (c == DO || c == DONT || c == WILL || c == WONT) {
					ps->aux = c;
					continue;
				}
				ps->aux = c == SB ? 3 : 0;
				if (c != IAC)
					continue;	/* IAC IAC is a literal 255: dropped */
				continue;
			}
			if (ps->aux == DO || ps->aux == WILL || ps->aux == DONT || ps->aux == WONT) {
				unsigned char r[3] = { IAC, (unsigned char)(ps->aux == DO ? WONT : DONT), c };
				if (ps->aux == DO || ps->aux == WILL)
					evbuffer_add(out, r, 3);
				ps->aux = 0;
				continue;
			}
			if (ps->aux == 3) {		/* inside SB ... IAC SE */
				if (c == IAC)
					ps->aux = 4;
				continue;
			}
			if (ps->aux == 4) {
				ps->aux = c == SE ? 0 : 3;
				continue;
			}
			if (c == IAC) {
				ps->aux = 1;
				continue;
			}
			if (c == '\0')
				continue;
			if (ps->tlen + 1 >= sizeof(ps->text)) {	/* keep the newest half */
				memmove(ps->text, ps->text + sizeof(ps->text) / 2, sizeof(ps->text) / 2);
				ps->tlen = sizeof(ps->text) / 2 - 1;
			}
			ps->text[ps->tlen++] = (char)tolower(c);
			ps->text[ps->tlen] = '\0';
		}
	}
}

/* does the text end with this prompt (trailing blanks ignored)? */
static int
ends_with(const struct pe_pstate *ps, const char *p)
{
	size_t n = ps->tlen, pl = strlen(p);
	while (n > 0 && (ps->text[n - 1] == ' ' || ps->text[n - 1] == '\r' ||
	    ps->text[n - 1] == '\n' || ps->text[n - 1] == '\t'))
		n--;
	return n >= pl && memcmp(ps->text + n - pl, p, pl) == 0;
}

static void
send_cmd(struct pe_pstate *ps, struct evbuffer *out, const char *style)
{
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
	ps->state = S_SENT;
	ps->noisy = 1;
	ps->tlen = 0;
	ps->text[0] = '\0';
	ps->timer = COMMAND_WAIT;
}

static enum pe_step
refuse(struct pe_pstate *ps, const char *why)
{
	pe_set_reason(ps, why, ps->text, ps->tlen);
	return PE_STEP_CLOSED;
}

static enum pe_step
telnet_read(struct pe_pstate *ps, struct evbuffer *in, struct evbuffer *out)
{
	if (ps->state == S_SENT) {
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
	if (ps->state == S_CISCO) {
		if (ends_with(ps, "password:"))
			return refuse(ps, "cisco-bad-password");
		if (ends_with(ps, ">") || ends_with(ps, "#")) {
			send_cmd(ps, out, "cisco");
			return PE_STEP_MORE;
		}
		return PE_STEP_MORE;
	}
	/* S_PROMPT */
	if (strstr(ps->text, "user access verification") != NULL) {
		if (ends_with(ps, "password:")) {
			evbuffer_add(out, "cisco\r\n", 7);
			ps->state = S_CISCO;
			ps->tlen = 0;
			ps->text[0] = '\0';
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
telnet_timer(struct pe_pstate *ps, struct evbuffer *out)
{
	switch (ps->state) {
	case S_PROMPT:
		/* silent, or a prompt we do not know: try both classic commands */
		pe_set_reason(ps, "no-prompt", ps->text, ps->tlen);
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

const struct pe_proto pe_proto_telnet = {
	.name = "telnet",
	.flags = 0,
	.start = telnet_start,
	.on_read = telnet_read,
	.on_timer = telnet_timer,
};
