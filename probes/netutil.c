/*
 * netutil.c - address text, numeric host:port parsing, printable excerpts.
 */
#include "config.h"
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "pe_int.h"

const char *
pe_addr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a))
			inet_ntop(AF_INET, &a->s6_addr[12], buf, (socklen_t)len);
		else
			inet_ntop(AF_INET6, a, buf, (socklen_t)len);
	} else {
		snprintf(buf, len, "unknown");
	}
	return buf;
}

int
pe_target_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return 0;
}

int
pe_parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[PE_ADDRSTR_MAX];
	const char *colon, *h = s;
	size_t hl;
	char *end;
	long port;

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL || rb[1] != ':')
			return -1;
		h = s + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || memchr(s, ':', (size_t)(colon - s)) != NULL)
			return -1;	/* bare IPv6 needs brackets */
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
		return -1;
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}

void
pe_thread_batch(void)
{
#ifdef SCHED_BATCH
	struct sched_param sp;

	memset(&sp, 0, sizeof(sp));
	(void)pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
#endif
}

size_t
pe_printable(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = 0;

	if (dstlen == 0)
		return 0;
	for (size_t i = 0; i < srclen && n + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[n] = '\0';
	return n;
}

/* reason word + a printable (or hex, for binary replies) excerpt */
void
pe_set_reason(struct pe_ctx *ps, const char *reason, const void *data, size_t len)
{
	const unsigned char *b = data;
	int binary = 0;

	snprintf(ps->reason, sizeof(ps->reason), "%s", reason);
	ps->detail[0] = '\0';
	if (data == NULL || len == 0)
		return;
	for (size_t i = 0; i < len; i++)
		if (b[i] < 0x20 || b[i] >= 0x7f) {
			if (b[i] == '\r' || b[i] == '\n')
				continue;
			binary = 1;
			break;
		}
	if (!binary) {
		pe_printable(ps->detail, sizeof(ps->detail), data, len);
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < len && n + 4 < sizeof(ps->detail); i++)
		n += (size_t)snprintf(ps->detail + n, sizeof(ps->detail) - n,
		    i ? " %02x" : "%02x", b[i]);
}

int
pe_greeting_seen(const struct pe_ctx *ps, const char *buf, size_t len)
{
	size_t bl = strlen(ps->banner);

	for (size_t i = 0; i < len; i++) {
		if (i > 0 && buf[i - 1] != '\n')
			continue;	/* only at the start of a line */
		if (ps->target_kind == PE_TARGET_CANARY) {
			if (len - i >= 4 && memcmp(buf + i, "220 ", 4) == 0) {
				const char *eol = memchr(buf + i, '\n', len - i);
				size_t ll = eol ? (size_t)(eol - (buf + i)) : len - i;
				for (size_t k = 0; k + sizeof(PE_CANARY_TAG) - 1 <= ll; k++)
					if (memcmp(buf + i + k, PE_CANARY_TAG, sizeof(PE_CANARY_TAG) - 1) == 0)
						return 1;
			}
		} else if (bl > 0 && len - i >= bl && memcmp(buf + i, ps->banner, bl) == 0) {
			return 1;
		}
	}
	return 0;
}
