/*
 * mail.c - relay one probe mail through a tunnel the engine has opened to a
 * mail server (proxyprobe -m: pxytest's behaviour).  Only on explicit
 * request: nothing else in proxymilter sends mail.
 *
 * One SMTP command at a time (antivirus proxies on port 25 drop pipelined
 * commands): EHLO, MAIL FROM, RCPT TO, DATA, the message, ".", QUIT.  The
 * message carries Subject "open proxy test", X-Mailer and
 * "X-Proxy-Spec: addr:port/proto TAG".
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "pe_int.h"

enum { M_EHLO = 0, M_MAIL, M_RCPT, M_DATA, M_BODY, M_QUIT };

void
pe_mail_begin(struct pe_mail *m, struct evbuffer *out)
{
	char host[128];

	if (gethostname(host, sizeof(host) - 1) < 0 || strchr(host, '.') == NULL)
		snprintf(host, sizeof(host), "proxyprobe.invalid");
	m->state = M_EHLO;
	evbuffer_add_printf(out, "EHLO %s\r\n", host);
}

void
pe_mail_date(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

static void
message(const struct pe_mail *m, struct evbuffer *out)
{
	char date[64];

	pe_mail_date(date, sizeof(date));
	evbuffer_add_printf(out,
	    "From: <%s>\r\nTo: <%s>\r\nDate: %s\r\nSubject: open proxy test\r\n"
	    "Message-ID: <%ld.%s@proxyprobe.invalid>\r\nX-Mailer: %s\r\n"
	    "X-Proxy-Spec: %s %s\r\n\r\n"
	    "This message was relayed through the open proxy %s\r\n"
	    "by %s, to show that it relays mail.\r\n.\r\n",
	    m->rcpt, m->rcpt, date, (long)time(NULL), m->nonce, m->agent, m->spec, m->tag,
	    m->spec, m->agent);
}

enum pe_mail_step
pe_mail_line(struct pe_mail *m, const char *line, struct evbuffer *out)
{
	/* multi-line replies: only the last line ("NNN ") counts */
	if (strlen(line) >= 4 && line[3] == '-')
		return PE_MAIL_MORE;
	int ok = line[0] == '2' || (m->state == M_DATA && line[0] == '3');
	if (!ok) {
		snprintf(m->failed, sizeof(m->failed), "%.60s", line);
		evbuffer_add_printf(out, "QUIT\r\n");
		return PE_MAIL_FAILED;
	}
	switch (m->state) {
	case M_EHLO:
		evbuffer_add_printf(out, "MAIL FROM:<%s>\r\n", m->rcpt);
		break;
	case M_MAIL:
		evbuffer_add_printf(out, "RCPT TO:<%s>\r\n", m->rcpt);
		break;
	case M_RCPT:
		evbuffer_add_printf(out, "DATA\r\n");
		break;
	case M_DATA:
		message(m, out);
		break;
	case M_BODY:
		evbuffer_add_printf(out, "QUIT\r\n");
		m->state = M_QUIT;
		return PE_MAIL_SENT;
	default:
		return PE_MAIL_SENT;
	}
	m->state++;
	return PE_MAIL_MORE;
}
