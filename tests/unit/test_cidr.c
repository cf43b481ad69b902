/* CIDR parsing and numeric matching, IPv4 and IPv6 */
#include "config.h"
#include <arpa/inet.h>
#include "t.h"
#include "cidr.h"

static int
match(const char *cidr, const char *addr)
{
	struct cidr_list l = { 0 };
	struct pm_addr a;
	char err[128];
	int r;
	if (cidr_list_add(&l, cidr, err, sizeof(err)) < 0 || pm_addr_parse(addr, &a) < 0) {
		cidr_list_free(&l);
		return -1;
	}
	r = cidr_match(&l, &a) != NULL;
	cidr_list_free(&l);
	return r;
}

static const char *
canon(const char *s)
{
	static struct cidr c;
	char err[128];
	if (cidr_parse(s, &c, err, sizeof(err)) < 0)
		return "ERROR";
	return c.text;
}

int
main(void)
{
	char err[128];
	struct cidr c;
	struct pm_addr a;
	const char *range;

	t_prog = "cidr: ";
	T_OK(match("127.0.0.0/8", "127.1.2.3") == 1, "v4 /8 matches inside");
	T_OK(match("127.0.0.0/8", "128.0.0.1") == 0, "v4 /8 rejects outside");
	T_OK(match("192.0.2.77/24", "192.0.2.1") == 1, "host bits are masked");
	T_STREQ(canon("192.0.2.77/24"), "192.0.2.0/24", "canonical text masks host bits");
	T_OK(match("10.0.0.1", "10.0.0.1") == 1, "bare v4 is /32");
	T_OK(match("10.0.0.1", "10.0.0.2") == 0, "bare v4 /32 exact");
	T_OK(match("0.0.0.0/0", "203.0.113.9") == 1, "v4 /0 matches all v4");
	T_OK(match("0.0.0.0/0", "2001:db8::1") == 0, "v4 /0 does not match v6");
	T_OK(match("172.16.0.0/12", "172.31.255.255") == 1, "v4 /12 upper edge");
	T_OK(match("172.16.0.0/12", "172.32.0.0") == 0, "v4 /12 just outside");
	T_OK(match("::1/128", "::1") == 1, "v6 loopback");
	T_OK(match("::1/128", "0:0:0:0:0:0:0:1") == 1, "v6 any spelling");
	T_OK(match("2001:DB8::/32", "2001:db8:ffff::1") == 1, "v6 upper-case prefix");
	T_OK(match("2001:db8::/33", "2001:db8:8000::1") == 0, "v6 /33 bit boundary");
	T_OK(match("[2001:db8::]/64", "2001:db8:0:1::") == 0, "bracketed v6 /64 outside");
	T_OK(match("[2001:db8::]/48", "2001:db8::abcd") == 1, "bracketed v6 /48 inside");
	T_OK(match("::ffff:192.0.2.0/120", "192.0.2.5") == 1, "v4-mapped CIDR becomes v4 /24");
	T_OK(match("192.0.2.0/24", "::ffff:192.0.2.5") == 1, "v4-mapped client matches v4 CIDR");
	T_STREQ(canon("::ffff:192.0.2.0/120"), "192.0.2.0/24", "v4-mapped CIDR canonical text");
	T_OK(cidr_parse("192.0.2.0/33", &c, err, sizeof(err)) < 0, "v4 /33 refused");
	T_OK(strstr(err, "prefix") != NULL, "v4 /33 error names the prefix");
	T_OK(cidr_parse("2001:db8::/129", &c, err, sizeof(err)) < 0, "v6 /129 refused");
	T_OK(cidr_parse("host.example.com", &c, err, sizeof(err)) < 0, "names refused");
	T_OK(strstr(err, "numeric") != NULL, "name error says numeric");
	T_OK(cidr_parse("1.2.3.4/", &c, err, sizeof(err)) < 0, "empty prefix refused");
	T_OK(cidr_parse("1.2.3.4/8x", &c, err, sizeof(err)) < 0, "junk prefix refused");
	T_OK(cidr_parse("", &c, err, sizeof(err)) < 0, "empty refused");
	T_OK(cidr_parse("[::1", &c, err, sizeof(err)) < 0, "unbalanced bracket refused");
	T_OK(cidr_parse("1.2.3.4.5", &c, err, sizeof(err)) < 0, "five octets refused");
	{
		char big[300];
		memset(big, '1', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		T_OK(cidr_parse(big, &c, err, sizeof(err)) < 0, "overlong input refused");
	}
	/* normalisation of sockaddrs */
	{
		struct sockaddr_in6 s6 = { 0 };
		char buf[64];
		s6.sin6_family = AF_INET6;
		inet_pton(AF_INET6, "::ffff:198.51.100.7", &s6.sin6_addr);
		T_OK(pm_addr_from_sockaddr((struct sockaddr *)&s6, &a) == 0 && a.family == AF_INET,
		    "v4-mapped sockaddr normalised to AF_INET");
		T_STREQ(pm_addr_str(&a, buf, sizeof(buf)), "198.51.100.7", "v4-mapped shown as IPv4");
		T_OK(pm_addr_from_sockaddr(NULL, &a) < 0, "NULL hostaddr is local");
		struct sockaddr su = { .sa_family = AF_UNIX };
		T_OK(pm_addr_from_sockaddr(&su, &a) < 0, "AF_UNIX is local");
	}
	pm_addr_parse("10.1.2.3", &a);
	T_OK(pm_addr_is_special(&a, &range) && strcmp(range, "10.0.0.0/8") == 0, "10/8 is special");
	pm_addr_parse("8.8.8.8", &a);
	T_OK(!pm_addr_is_special(&a, &range), "public v4 not special");
	pm_addr_parse("fe80::1", &a);
	T_OK(pm_addr_is_special(&a, &range), "link-local v6 special");
	pm_addr_parse("2a00:1450::1", &a);
	T_OK(!pm_addr_is_special(&a, &range), "public v6 not special");
	T_DONE();
}
