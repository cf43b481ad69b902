/*
 * cidr.c - numeric CIDR matching for IPv4 and IPv6 (no string compares,
 * any IPv6 spelling, host bits masked, v4-mapped addresses as IPv4).
 */
#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "cidr.h"

int
pm_addr_from_sockaddr(const struct sockaddr *sa, struct pm_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET) {
		a->family = AF_INET;
		memcpy(a->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(in6)) {
			a->family = AF_INET;
			memcpy(a->b, &in6->s6_addr[12], 4);
		} else {
			a->family = AF_INET6;
			memcpy(a->b, in6, 16);
		}
		return 0;
	}
	return -1;
}

socklen_t
pm_addr_to_sockaddr(const struct pm_addr *a, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		memcpy(&s4->sin_addr, a->b, 4);
		return sizeof(*s4);
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons((uint16_t)port);
	memcpy(&s6->sin6_addr, a->b, 16);
	return sizeof(*s6);
}

const char *
pm_addr_str(const struct pm_addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->family, a->b, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "unknown");
	return buf;
}

int
pm_addr_parse(const char *s, struct pm_addr *a)
{
	struct in6_addr in6;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->b) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &in6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&in6)) {
			a->family = AF_INET;
			memcpy(a->b, &in6.s6_addr[12], 4);
		} else {
			a->family = AF_INET6;
			memcpy(a->b, &in6, 16);
		}
		return 0;
	}
	return -1;
}

static void
mask_bits(unsigned char *b, int bits, int total)
{
	for (int i = 0; i < total / 8; i++) {
		int keep = bits - i * 8;
		if (keep >= 8)
			continue;
		b[i] &= keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));
	}
}

int
cidr_parse(const char *s, struct cidr *c, char *err, size_t errlen)
{
	char buf[80], *slash, *host = buf, *end;
	struct pm_addr a;
	long bits;
	int max;

	memset(c, 0, sizeof(*c));
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "bad address \"%.40s...\": too long", s);
		return -1;
	}
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n < 3 || host[n - 1] != ']') {
			snprintf(err, errlen, "bad address \"%s\"", s);
			return -1;
		}
		host[n - 1] = '\0';
		host++;
	}
	/* a v4-mapped spelling is normalised like client addresses are */
	if (pm_addr_parse(host, &a) < 0) {
		snprintf(err, errlen, "bad address \"%s\": not a numeric IPv4 or IPv6 address", s);
		return -1;
	}
	max = a.family == AF_INET ? 32 : 128;
	bits = max;
	if (slash != NULL) {
		bits = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || bits < 0 || bits > 128) {
			snprintf(err, errlen, "bad prefix length in \"%s\"", s);
			return -1;
		}
		if (strchr(host, ':') != NULL && a.family == AF_INET) {
			/* ::ffff:a.b.c.d/n: the prefix counts the 96 mapped bits */
			if (bits < 96) {
				snprintf(err, errlen, "bad prefix length in \"%s\"", s);
				return -1;
			}
			bits -= 96;
		}
		if (bits > max) {
			snprintf(err, errlen, "bad prefix length in \"%s\": at most %d", s, max);
			return -1;
		}
	}
	c->family = a.family;
	memcpy(c->b, a.b, 16);
	c->bits = (int)bits;
	mask_bits(c->b, c->bits, max);
	char t[INET6_ADDRSTRLEN];
	inet_ntop(c->family, c->b, t, sizeof(t));
	snprintf(c->text, sizeof(c->text), "%s/%d", t, c->bits);
	return 0;
}

int
cidr_list_add(struct cidr_list *l, const char *s, char *err, size_t errlen)
{
	struct cidr c, *nv;

	if (cidr_parse(s, &c, err, errlen) < 0)
		return -1;
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (nv == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	nv[l->n++] = c;
	l->v = nv;
	return 0;
}

void
cidr_list_free(struct cidr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
in_cidr(const struct cidr *c, const struct pm_addr *a)
{
	int full, rest;

	if (c->family != a->family)
		return 0;
	full = c->bits / 8;
	rest = c->bits % 8;
	if (memcmp(c->b, a->b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	unsigned char m = (unsigned char)(0xff << (8 - rest));
	return (a->b[full] & m) == c->b[full];
}

const struct cidr *
cidr_match(const struct cidr_list *l, const struct pm_addr *a)
{
	for (size_t i = 0; i < l->n; i++)
		if (in_cidr(&l->v[i], a))
			return &l->v[i];
	return NULL;
}

static const char *const special_ranges[] = {
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
	"169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
	"192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
	"224.0.0.0/4", "240.0.0.0/4",
	"::/128", "::1/128", "fc00::/7", "fe80::/10", "2001:db8::/32", "ff00::/8",
};

#define NSPECIAL (sizeof(special_ranges) / sizeof(special_ranges[0]))
static struct cidr special_parsed[NSPECIAL];

static void
special_init(void)
{
	char err[128];
	for (size_t i = 0; i < NSPECIAL; i++)
		cidr_parse(special_ranges[i], &special_parsed[i], err, sizeof(err));
}

int
pm_addr_is_special(const struct pm_addr *a, const char **range)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	const struct cidr *parsed = special_parsed;

	pthread_once(&once, special_init);
	for (size_t i = 0; i < NSPECIAL; i++)
		if (in_cidr(&parsed[i], a)) {
			if (range != NULL)
				*range = special_ranges[i];
			return 1;
		}
	return 0;
}
