/*
 * cidr.h - numeric IPv4/IPv6 addresses and CIDR lists.
 */
#ifndef PM_CIDR_H
#define PM_CIDR_H

#include <stddef.h>
#include <sys/socket.h>

/* A normalised client address: v4-mapped IPv6 becomes IPv4. */
struct pm_addr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char b[16];		/* 4 or 16 bytes used */
};

struct cidr {
	int family;
	unsigned char b[16];		/* host bits cleared */
	int bits;
	char text[64];			/* canonical text, for logs */
};

struct cidr_list {
	struct cidr *v;
	size_t n;
};

/* sockaddr -> normalised address; -1 for anything but AF_INET/AF_INET6 */
int pm_addr_from_sockaddr(const struct sockaddr *, struct pm_addr *);
/* normalised address -> sockaddr with the given port */
socklen_t pm_addr_to_sockaddr(const struct pm_addr *, int port, struct sockaddr_storage *);
const char *pm_addr_str(const struct pm_addr *, char *buf, size_t len);
int pm_addr_parse(const char *s, struct pm_addr *);

/* "a.b.c.d[/n]", "v6[/n]" or "[v6][/n]"; host bits are masked. */
int cidr_parse(const char *s, struct cidr *, char *err, size_t errlen);
int cidr_list_add(struct cidr_list *, const char *s, char *err, size_t errlen);
void cidr_list_free(struct cidr_list *);
const struct cidr *cidr_match(const struct cidr_list *, const struct pm_addr *);
/* reserved / private / documentation ranges that are never probed by default */
int pm_addr_is_special(const struct pm_addr *, const char **range);

#endif
