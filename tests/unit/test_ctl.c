/* control socket language (ctlcmd.c): every command, spacing, line ends,
 * garbage, bad addresses; the show line (ctlshow.c) */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "t.h"
#include "ctlcmd.h"

static struct ctl_cmd C;
static char why[200];

/* parse a C string (its strlen) */
static int
P(const char *s)
{
	return ctl_parse(s, strlen(s), &C, why, sizeof(why));
}

/* parse n bytes and expect a refusal whose reason contains want */
static void
bad(const char *s, size_t n, const char *want, const char *name)
{
	int r = ctl_parse(s, n, &C, why, sizeof(why));
	char label[160];

	snprintf(label, sizeof(label), "%s: refused", name);
	T_OK(r == -1, label);
	snprintf(label, sizeof(label), "%s: reason has \"%s\"", name, want);
	if (strstr(why, want) != NULL)
		T_OK(1, label);
	else
		T_STREQ(why, want, label);
}

static const char *
addr(const struct pm_addr *a)
{
	static char buf[64];
	return pm_addr_str(a, buf, sizeof(buf));
}

static const char *
canon(void)
{
	static char buf[CTL_LINE_MAX];
	ctl_format(&C, buf, sizeof(buf));
	return buf;
}

static void
parser(void)
{
	char big[CTL_LINE_MAX + 100];

	T_OK(P("show\n") == 0 && C.op == CTL_SHOW_ALL, "show");
	T_OK(P("show") == 0 && C.op == CTL_SHOW_ALL, "show without a newline (the parser's input)");
	T_OK(P("show 192.0.2.1\n") == 0 && C.op == CTL_SHOW, "show ADDR");
	T_STREQ(addr(&C.a), "192.0.2.1", "show ADDR: the address");
	T_OK(P("show [2001:db8::1]\n") == 0 && C.op == CTL_SHOW && C.a.family == AF_INET6,
	    "show [V6] (brackets as the answers print it)");
	T_STREQ(canon(), "show 2001:db8::1", "canonical form of show [V6]");
	T_OK(P("show ::ffff:192.0.2.7\n") == 0 && C.a.family == AF_INET, "v4-mapped is IPv4");
	T_STREQ(addr(&C.a), "192.0.2.7", "v4-mapped: the IPv4 address");
	T_OK(P("flush 198.51.100.9\n") == 0 && C.op == CTL_FLUSH, "flush ADDR");
	T_STREQ(canon(), "flush 198.51.100.9", "canonical form of flush ADDR");
	T_OK(P("flush all\n") == 0 && C.op == CTL_FLUSH_ALL, "flush all");
	T_STREQ(canon(), "flush all", "canonical form of flush all");
	T_OK(P("stats\n") == 0 && C.op == CTL_STATS, "stats");
	T_STREQ(canon(), "stats", "canonical form of stats");

	/* spacing and line ends */
	T_OK(P("  \t show \t 192.0.2.1  \t\n") == 0 && C.op == CTL_SHOW, "spaces and tabs around words");
	T_OK(P("stats\r\n") == 0 && C.op == CTL_STATS, "CR LF");
	T_OK(P("flush\tall\r\n") == 0 && C.op == CTL_FLUSH_ALL, "a tab between words, CR LF");
	bad("stats\r", 6, "control byte 0x0d", "a lone CR");
	bad("stats\n\n", 7, "more than one line", "two newlines");
	bad("show\nflush all\n", 15, "more than one line", "two commands");

	/* empty, garbage */
	bad("\n", 1, "empty command", "an empty line");
	bad("", 0, "empty command", "nothing");
	bad(" \t \r\n", 5, "empty command", "only blanks");
	bad("frob\n", 5, "unknown command \"frob\" (show [ADDR] | flush ADDR|all | stats)",
	    "an unknown command");
	bad("SHOW\n", 5, "unknown command \"SHOW\"", "commands are lower case");
	bad("\x1b[31mred\n", 9, "control byte 0x1b", "an escape sequence");
	bad("sh\x7fow\n", 7, "control byte 0x7f", "DEL");
	bad("show\0 1.2.3.4\n", 14, "NUL byte", "a NUL byte");
	bad("\0\0\0\0", 4, "NUL byte", "only NUL bytes");
	bad("\xff\xfe garbage\n", 11, "unknown command \"??\"", "non-ASCII bytes quoted as ?");
	bad("\"quoted\\\n", 9, "unknown command \"\\\"quoted\\\\\"", "quotes and backslashes escaped");
	memset(big, 'x', 300);
	memcpy(big + 300, "\n", 2);
	bad(big, 301, "unknown command \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\"",
	    "a long word is cut in the reason");
	T_OK(strlen(why) < 120, "the reason stays short");

	/* too long */
	memset(big, ' ', sizeof(big));
	memcpy(big, "stats", 5);
	big[CTL_LINE_MAX - 1] = '\n';
	T_OK(ctl_parse(big, CTL_LINE_MAX, &C, why, sizeof(why)) == 0 && C.op == CTL_STATS,
	    "512 bytes with the newline: taken");
	bad(big, CTL_LINE_MAX + 1, "longer than 512 bytes", "513 bytes");
	bad(big, sizeof(big), "longer than 512 bytes", "600 bytes");

	/* arguments */
	bad("flush\n", 6, "flush takes one address or \"all\"", "flush with no argument");
	bad("flush 1.2.3.4 5.6.7.8\n", 22, "flush takes one address", "flush with two");
	bad("show a b\n", 9, "show takes one address at most", "show a b");
	bad("stats now\n", 10, "stats takes no argument", "stats with an argument");
	bad("show 1.2.3.999\n", 15, "\"1.2.3.999\" is not an address", "show 1.2.3.999");
	bad("flush 1.2.3.999\n", 16, "\"1.2.3.999\" is not an address", "flush 1.2.3.999");
	bad("flush 10.0.0.0/8\n", 17, "\"10.0.0.0/8\" is not an address", "a network is not an address");
	bad("flush mx.example.org\n", 21, "is not an address", "a name is not an address");
	bad("show []\n", 8, "\"[]\" is not an address", "empty brackets");
	bad("show [1.2.3.4\n", 14, "is not an address", "an unclosed bracket");
	bad("show fe80::1%eth0\n", 18, "is not an address", "a scoped address");
	bad("show 1.2.3\n", 11, "is not an address", "three octets");
	bad("show 01.2.3.4\n", 14, "is not an address", "a leading zero");
	bad("flush ALL\n", 10, "\"ALL\" is not an address", "ALL is no keyword");
	bad("show all\n", 9, "\"all\" is not an address", "show all is not show");
	memset(big, '1', 200);
	memcpy(big, "show ", 5);
	bad(big, 200, "is not an address", "a 195-digit address");
}

static void
show_line(void)
{
	struct vt_info v;
	struct pm_addr a;
	char line[CTL_ANSWER_MAX];
	size_t n;

	pm_addr_parse("192.0.2.5", &a);
	memset(&v, 0, sizeof(v));
	v.state = VT_OPEN;
	v.score = 0;
	v.expires = 1000.0 + 86399.2;
	v.age = 1.7;
	snprintf(v.egress, sizeof(v.egress), "192.0.2.99");
	snprintf(v.evidence, sizeof(v.evidence), "socks5:1080");
	ctl_show_line(&a, &v, 1000.0, line, sizeof(line));
	T_STREQ(line, "client=[192.0.2.5] verdict=open-proxy score=0 age=1s ttl=86400s "
	    "egress=192.0.2.99 evidence=socks5:1080", "show line of an open proxy");

	v.state = VT_SUSPECT;
	v.score = 2;
	v.egress[0] = '\0';
	snprintf(v.evidence, sizeof(v.evidence), "fcrdns=fail(1) helo=\"x\"\x01(1)");
	ctl_show_line(&a, &v, 1000.0, line, sizeof(line));
	T_STREQ(line, "client=[192.0.2.5] verdict=suspect score=2 age=1s ttl=86400s "
	    "evidence=\"fcrdns=fail(1) helo=\\\"x\\\"?(1)\"",
	    "show line: evidence quoted and escaped as in the logs, no egress");

	v.state = VT_CLEAN;
	v.evidence[0] = '\0';
	v.expires = 999.0;
	v.age = -3;
	pm_addr_parse("2001:db8::25", &a);
	ctl_show_line(&a, &v, 1000.0, line, sizeof(line));
	T_STREQ(line, "client=[2001:db8::25] verdict=clean score=2 age=0s ttl=0s",
	    "show line: IPv6, no evidence, never negative");

	v.state = VT_NONE;
	ctl_show_line(&a, &v, 1000.0, line, sizeof(line));
	T_STREQ(line, "client=[2001:db8::25] verdict=none", "show line: none");
	v.state = VT_PENDING;
	ctl_show_line(&a, &v, 1000.0, line, sizeof(line));
	T_STREQ(line, "client=[2001:db8::25] verdict=pending", "show line: pending");

	v.state = VT_LISTED;
	v.expires = 1e300;
	v.age = 1e300;
	memset(v.evidence, '"', sizeof(v.evidence) - 1);
	v.evidence[sizeof(v.evidence) - 1] = '\0';
	memset(v.egress, 'e', sizeof(v.egress) - 1);
	v.egress[sizeof(v.egress) - 1] = '\0';
	T_OK(ctl_show_line(&a, &v, 0, line, sizeof(line)) < sizeof(line) &&
	    strlen(line) < sizeof(line) && strchr(line, '\n') == NULL,
	    "show line: the longest values fit, one line");
	T_OK(strstr(line, "age=1000000000000s ttl=1000000000000s") != NULL,
	    "show line: huge times capped");
	n = ctl_show_line(&a, &v, 0, line, 20);
	T_OK(n < 20 && strlen(line) == n, "show line: cut to a small buffer, NUL-terminated");
}

int
main(void)
{
	t_prog = "ctl: ";
	parser();
	show_line();
	T_DONE();
}
