/*
 * dnsfake.c - see dnsfake.h.  One thread, one poll() loop over: a pipe
 * that says stop, the UDP socket, the TCP listener and a few TCP
 * connections (c-ares keeps one open per server).  Table rows are built by
 * the test's thread and read by the server's under one mutex.
 */
#include "config.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "dnsfake.h"

#define MAX_ENTRIES 256
#define MAX_CONNS 8
#define MAX_DELAYED 32
#define UDP_MAX 512			/* a reply to a client without EDNS */
#define HDR 12
#define QUESTION_MAX (255 + 4)		/* a wire name and type, class */
#define REPLY_MAX (HDR + QUESTION_MAX + DF_ANSWER_MAX)
#define TCP_QUERY_MAX 1024		/* c-ares' queries are < 300 bytes */

struct df_entry {
	struct dnsfake *d;
	char qname[256];
	int qtype;
	enum df_action action;
	int delay_ms;
	unsigned ancount;
	size_t alen;
	uint8_t answer[DF_ANSWER_MAX];	/* the answer section, wire format */
};

struct conn {
	int fd;				/* -1: free */
	size_t have;
	uint8_t buf[2 + TCP_QUERY_MAX];	/* length-prefixed queries */
};

/* a UDP reply that waits for its delay */
struct delayed {
	int used;
	double due;
	struct sockaddr_storage to;
	socklen_t tolen;
	size_t len;
	uint8_t msg[UDP_MAX];
};

struct dnsfake {
	pthread_t th;
	pthread_mutex_t mu;		/* entries, nentries, raw, st */
	int udp, tcp, wake[2], port;
	struct df_entry *entries;	/* MAX_ENTRIES */
	size_t nentries;
	df_raw_fn raw;
	void *rawarg;
	struct df_stats st;
	/* the server thread's own */
	struct conn conns[MAX_CONNS];
	struct delayed later[MAX_DELAYED];
	uint8_t reply[REPLY_MAX];
	uint8_t in[REPLY_MAX];
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* dotted text -> wire format (no compression) at out; its length or -1 */
static long
name_encode(const char *name, uint8_t *out, size_t cap)
{
	size_t n = strlen(name), at = 0;
	const char *p = name, *end;

	if (n > 0 && name[n - 1] == '.')
		n--;
	end = name + n;
	while (p < end) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		size_t l = (size_t)((dot != NULL ? dot : end) - p);
		if (l == 0 || l > 63 || at + 1 + l + 1 > cap || at + 1 + l + 1 > 255)
			return -1;
		out[at++] = (uint8_t)l;
		memcpy(out + at, p, l);
		at += l;
		p = dot != NULL ? dot + 1 : end;
	}
	if (at + 1 > cap)
		return -1;
	out[at++] = 0;
	return (long)at;
}

static void
put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* append one record to an entry's answer section */
static int
rr_add(struct df_entry *e, const char *owner, int type, uint32_t ttl, const uint8_t *rdata,
    size_t rdlen)
{
	uint8_t nm[256];
	long nl;
	int rc = -1;

	if (e == NULL)
		return -1;
	pthread_mutex_lock(&e->d->mu);
	nl = name_encode(owner != NULL ? owner : e->qname, nm, sizeof(nm));
	if (nl > 0 && rdlen <= 65535 && e->ancount < DF_MAX_RRS &&
	    e->alen + (size_t)nl + 10 + rdlen <= DF_ANSWER_MAX) {
		uint8_t *p = e->answer + e->alen;
		memcpy(p, nm, (size_t)nl);
		p += nl;
		put16(p, (unsigned)type);
		put16(p + 2, 1);			/* class IN */
		put16(p + 4, ttl >> 16);
		put16(p + 6, ttl & 0xffff);
		put16(p + 8, (unsigned)rdlen);
		memcpy(p + 10, rdata, rdlen);
		e->alen += (size_t)nl + 10 + rdlen;
		e->ancount++;
		rc = 0;
	}
	pthread_mutex_unlock(&e->d->mu);
	return rc;
}

int
df_a(struct df_entry *e, const char *owner, uint32_t ttl, const char *ipv4)
{
	uint8_t a[4];

	if (inet_pton(AF_INET, ipv4, a) != 1)
		return -1;
	return rr_add(e, owner, 1, ttl, a, 4);
}

int
df_aaaa(struct df_entry *e, const char *owner, uint32_t ttl, const char *ipv6)
{
	uint8_t a[16];

	if (inet_pton(AF_INET6, ipv6, a) != 1)
		return -1;
	return rr_add(e, owner, 28, ttl, a, 16);
}

int
df_cname(struct df_entry *e, const char *owner, uint32_t ttl, const char *target)
{
	uint8_t nm[256];
	long nl = name_encode(target, nm, sizeof(nm));

	return nl < 0 ? -1 : rr_add(e, owner, 5, ttl, nm, (size_t)nl);
}

int
df_ptr(struct df_entry *e, uint32_t ttl, const char *name)
{
	uint8_t nm[256];
	long nl = name_encode(name, nm, sizeof(nm));

	return nl < 0 ? -1 : rr_add(e, NULL, 12, ttl, nm, (size_t)nl);
}

int
df_mx(struct df_entry *e, uint32_t ttl, int pref, const char *host)
{
	uint8_t rd[2 + 256];
	long nl = name_encode(host, rd + 2, sizeof(rd) - 2);

	if (nl < 0)
		return -1;
	put16(rd, (unsigned)pref);
	return rr_add(e, NULL, 15, ttl, rd, 2 + (size_t)nl);
}

int
df_txt(struct df_entry *e, uint32_t ttl, const void *data, size_t len)
{
	static uint8_t rd[DF_ANSWER_MAX];	/* the test's thread only */
	const uint8_t *p = data;
	size_t at = 0;

	do {		/* a record of 0 bytes is one empty string */
		size_t k = len > 255 ? 255 : len;
		if (at + 1 + k > sizeof(rd))
			return -1;
		rd[at++] = (uint8_t)k;
		memcpy(rd + at, p, k);
		at += k;
		p += k;
		len -= k;
	} while (len > 0);
	return rr_add(e, NULL, 16, ttl, rd, at);
}

struct df_entry *
df_add(struct dnsfake *d, const char *qname, int qtype, enum df_action action, int delay_ms)
{
	struct df_entry *e = NULL;

	pthread_mutex_lock(&d->mu);
	if (d->nentries < MAX_ENTRIES && strlen(qname) < sizeof(e->qname)) {
		e = &d->entries[d->nentries++];
		memset(e, 0, offsetof(struct df_entry, answer));
		e->d = d;
		snprintf(e->qname, sizeof(e->qname), "%s", qname);
		e->qtype = qtype;
		e->action = action;
		e->delay_ms = delay_ms;
	}
	pthread_mutex_unlock(&d->mu);
	return e;
}

void
df_clear(struct dnsfake *d)
{
	pthread_mutex_lock(&d->mu);
	d->nentries = 0;
	pthread_mutex_unlock(&d->mu);
}

void
df_set_raw(struct dnsfake *d, df_raw_fn fn, void *arg)
{
	pthread_mutex_lock(&d->mu);
	d->raw = fn;
	d->rawarg = arg;
	pthread_mutex_unlock(&d->mu);
}

void
df_get_stats(struct dnsfake *d, struct df_stats *st)
{
	pthread_mutex_lock(&d->mu);
	*st = d->st;
	pthread_mutex_unlock(&d->mu);
}

int
df_port(const struct dnsfake *d)
{
	return d->port;
}

/*
 * The reply to one query (q, qlen bytes) in d->reply: its length, 0 for
 * none.  *delay_ms: how long it should wait (UDP).
 */
static size_t
reply(struct dnsfake *d, const uint8_t *q, size_t qlen, int udp, int *delay_ms)
{
	uint8_t *r = d->reply;
	char qname[256];
	size_t at = HDR, nlen = 0, len;
	int qtype, rcode = 0;
	unsigned an = 0, ns = 0, ar = 0, flags;
	df_raw_fn raw;
	void *rawarg;

	*delay_ms = 0;
	/* a query: QR clear, one question, an uncompressed name */
	if (qlen < HDR || (q[2] & 0x80) || q[4] != 0 || q[5] != 1)
		goto drop;
	for (;;) {
		uint8_t l;
		if (at >= qlen)
			goto drop;
		if ((l = q[at++]) == 0)
			break;
		if (l > 63 || at + l > qlen || nlen + 1 + l >= sizeof(qname))
			goto drop;
		if (nlen > 0)
			qname[nlen++] = '.';
		memcpy(qname + nlen, q + at, l);
		nlen += l;
		at += l;
	}
	qname[nlen] = '\0';
	if (at + 4 > qlen || at - HDR + 4 > QUESTION_MAX)
		goto drop;
	qtype = q[at] << 8 | q[at + 1];
	at += 4;				/* the end of the question */
	memcpy(r, q, 2);			/* the id */
	memcpy(r + HDR, q + HDR, at - HDR);	/* the question */
	len = at;
	/* QR, the opcode and RD as asked, AA, RA */
	flags = 0x8000u | (unsigned)(q[2] & 0x79) << 8 | 0x0400 | 0x0080;

	pthread_mutex_lock(&d->mu);
	raw = d->raw;
	rawarg = d->rawarg;
	if (raw == NULL) {
		struct df_entry *e = NULL;
		for (size_t i = 0; i < d->nentries && e == NULL; i++)
			if (d->entries[i].qtype == qtype && strcasecmp(d->entries[i].qname, qname) == 0)
				e = &d->entries[i];
		if (e == NULL) {
			rcode = 3;			/* NXDOMAIN */
		} else if (e->action == DF_DROP) {
			pthread_mutex_unlock(&d->mu);
			goto drop;
		} else {
			rcode = e->action == DF_NXDOMAIN ? 3 : e->action == DF_SERVFAIL ? 2 : 0;
			if (rcode == 0) {
				memcpy(r + len, e->answer, e->alen);
				len += e->alen;
				an = e->ancount;
			}
			*delay_ms = e->delay_ms;
		}
		flags |= (unsigned)rcode;
		if (udp && len > UDP_MAX) {	/* too big: truncated, TC */
			flags |= 0x0200;
			len = at;
			an = 0;
			d->st.truncated++;
		}
	}
	pthread_mutex_unlock(&d->mu);
	if (raw != NULL) {
		uint16_t hdr[4] = { 0x8180, 0, 0, 0 };
		long n = raw(rawarg, qname, qtype, hdr, r + len, sizeof(d->reply) - len);
		if (n < 0 || (size_t)n > sizeof(d->reply) - len)
			goto drop;
		len += (size_t)n;
		flags = hdr[0];
		an = hdr[1];
		ns = hdr[2];
		ar = hdr[3];
	}
	put16(r + 2, flags);
	put16(r + 4, 1);
	put16(r + 6, an);
	put16(r + 8, ns);
	put16(r + 10, ar);
	return len;
drop:
	pthread_mutex_lock(&d->mu);
	d->st.dropped++;
	pthread_mutex_unlock(&d->mu);
	return 0;
}

static void
count(struct dnsfake *d, int udp)
{
	pthread_mutex_lock(&d->mu);
	if (udp)
		d->st.udp++;
	else
		d->st.tcp++;
	pthread_mutex_unlock(&d->mu);
}

static void
udp_read(struct dnsfake *d)
{
	struct sockaddr_storage from;
	socklen_t fl = sizeof(from);
	ssize_t n = recvfrom(d->udp, d->in, sizeof(d->in), MSG_DONTWAIT,
	    (struct sockaddr *)&from, &fl);
	size_t len;
	int delay;

	if (n <= 0)
		return;
	count(d, 1);
	if ((len = reply(d, d->in, (size_t)n, 1, &delay)) == 0)
		return;
	if (delay > 0 && len <= UDP_MAX) {
		for (int i = 0; i < MAX_DELAYED; i++) {
			struct delayed *l = &d->later[i];
			if (l->used)
				continue;
			l->used = 1;
			l->due = now() + delay / 1000.0;
			memcpy(&l->to, &from, fl);
			l->tolen = fl;
			memcpy(l->msg, d->reply, len);
			l->len = len;
			return;
		}
	}
	(void)sendto(d->udp, d->reply, len, 0, (struct sockaddr *)&from, fl);
}

static void
conn_close(struct conn *c)
{
	close(c->fd);
	c->fd = -1;
	c->have = 0;
}

/* TCP: queries with a two-byte length in front, replies the same */
static void
tcp_read(struct dnsfake *d, struct conn *c)
{
	ssize_t n = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, MSG_DONTWAIT);

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	c->have += (size_t)n;
	while (c->have >= 2) {
		size_t mlen = (size_t)c->buf[0] << 8 | c->buf[1], len;
		int delay;
		uint8_t pfx[2];
		if (mlen > TCP_QUERY_MAX) {
			conn_close(c);
			return;
		}
		if (c->have < 2 + mlen)
			break;
		count(d, 0);
		if ((len = reply(d, c->buf + 2, mlen, 0, &delay)) > 0) {
			put16(pfx, (unsigned)len);
			if (send(c->fd, pfx, 2, MSG_NOSIGNAL) != 2 ||
			    send(c->fd, d->reply, len, MSG_NOSIGNAL) != (ssize_t)len) {
				conn_close(c);
				return;
			}
		}
		memmove(c->buf, c->buf + 2 + mlen, c->have - 2 - mlen);
		c->have -= 2 + mlen;
	}
}

static void *
serve(void *arg)
{
	struct dnsfake *d = arg;

	for (;;) {
		struct pollfd p[3 + MAX_CONNS];
		int who[3 + MAX_CONNS], np = 3, tmo = -1;
		double t = now();

		p[0].fd = d->wake[0];
		p[1].fd = d->udp;
		p[2].fd = d->tcp;
		for (int i = 0; i < MAX_CONNS; i++)
			if (d->conns[i].fd >= 0) {
				who[np] = i;
				p[np++].fd = d->conns[i].fd;
			}
		for (int i = 0; i < np; i++)
			p[i].events = POLLIN;
		for (int i = 0; i < MAX_DELAYED; i++)
			if (d->later[i].used) {
				int ms = (int)((d->later[i].due - t) * 1000.0) + 1;
				if (ms < 0)
					ms = 0;
				if (tmo < 0 || ms < tmo)
					tmo = ms;
			}
		if (poll(p, (nfds_t)np, tmo) < 0 && errno != EINTR)
			break;
		if (p[0].revents != 0)
			break;			/* df_stop */
		t = now();
		for (int i = 0; i < MAX_DELAYED; i++) {
			struct delayed *l = &d->later[i];
			if (l->used && l->due <= t) {
				(void)sendto(d->udp, l->msg, l->len, 0, (struct sockaddr *)&l->to,
				    l->tolen);
				l->used = 0;
			}
		}
		if (p[1].revents & POLLIN)
			udp_read(d);
		if (p[2].revents & POLLIN) {
			int fd = accept(d->tcp, NULL, NULL), i;
			for (i = 0; fd >= 0 && i < MAX_CONNS; i++)
				if (d->conns[i].fd < 0) {
					d->conns[i].fd = fd;
					d->conns[i].have = 0;
					break;
				}
			if (fd >= 0 && i == MAX_CONNS)
				close(fd);
		}
		for (int i = 3; i < np; i++)
			if (p[i].revents != 0 && d->conns[who[i]].fd == p[i].fd)
				tcp_read(d, &d->conns[who[i]]);
	}
	return NULL;
}

struct dnsfake *
df_start(char *err, size_t errlen)
{
	struct dnsfake *d = calloc(1, sizeof(*d));
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int one = 1;

	if (d == NULL || (d->entries = calloc(MAX_ENTRIES, sizeof(*d->entries))) == NULL) {
		snprintf(err, errlen, "dnsfake: out of memory");
		free(d);
		return NULL;
	}
	pthread_mutex_init(&d->mu, NULL);
	for (int i = 0; i < MAX_CONNS; i++)
		d->conns[i].fd = -1;
	d->udp = d->tcp = d->wake[0] = d->wake[1] = -1;
	/* a UDP port of the kernel's choice, and TCP on the same number (a
	 * few tries: TCP may have it taken) */
	for (int tries = 0; tries < 20 && d->tcp < 0; tries++) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (d->udp >= 0)
			close(d->udp);
		if ((d->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
		    bind(d->udp, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    getsockname(d->udp, (struct sockaddr *)&sin, &sl) < 0)
			break;
		d->tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(d->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (d->tcp >= 0 && (bind(d->tcp, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    listen(d->tcp, 8) < 0)) {
			close(d->tcp);
			d->tcp = -1;
		}
	}
	if (d->udp < 0 || d->tcp < 0 || pipe(d->wake) < 0) {
		snprintf(err, errlen, "dnsfake: sockets: %s", strerror(errno));
		goto fail;
	}
	d->port = ntohs(sin.sin_port);
	if (pthread_create(&d->th, NULL, serve, d) != 0) {
		snprintf(err, errlen, "dnsfake: no thread");
		goto fail;
	}
	return d;
fail:
	if (d->udp >= 0)
		close(d->udp);
	if (d->tcp >= 0)
		close(d->tcp);
	if (d->wake[0] >= 0) {
		close(d->wake[0]);
		close(d->wake[1]);
	}
	free(d->entries);
	free(d);
	return NULL;
}

void
df_stop(struct dnsfake *d)
{
	ssize_t w;

	if (d == NULL)
		return;
	w = write(d->wake[1], "x", 1);
	(void)w;
	pthread_join(d->th, NULL);
	for (int i = 0; i < MAX_CONNS; i++)
		if (d->conns[i].fd >= 0)
			close(d->conns[i].fd);
	close(d->udp);
	close(d->tcp);
	close(d->wake[0]);
	close(d->wake[1]);
	pthread_mutex_destroy(&d->mu);
	free(d->entries);
	free(d);
}
