/*
 * dnsfake.h - a scripted DNS server in the test process, for the engine's
 * DNS checks (tests/unit/test_dns.c) and the DNS fuzz harness
 * (tests/fuzz/fuzz_dns.c).
 *
 * One thread answers on 127.0.0.1, UDP and TCP on the same port of the
 * kernel's choice (the engine's dns_resolver is then "127.0.0.1:PORT").
 * Every query is answered from a table of (question name, type) -> reply,
 * built with the small helpers below; a question the table does not know
 * gets NXDOMAIN.  A reply always carries the query's id and its question
 * section, byte for byte.  Over UDP, a reply longer than 512 bytes goes out
 * truncated (the header and the question, TC set), as a real server does
 * for a client without EDNS; c-ares then asks again over TCP, which gets
 * the whole reply.
 *
 * Instead of the table, a callback may build every reply past its question
 * (df_set_raw: the fuzz harness); such replies go out as they are, any
 * size, over UDP too.
 *
 * Test code, but bounded: names and replies are built in fixed buffers and
 * the helpers return -1 when something does not fit.
 */
#ifndef DNSFAKE_H
#define DNSFAKE_H

#include <stddef.h>
#include <stdint.h>

enum df_action {
	DF_REPLY = 0,		/* NOERROR with the entry's records (none: NODATA) */
	DF_NXDOMAIN,
	DF_SERVFAIL,
	DF_DROP			/* no answer at all: the client times out */
};

struct dnsfake;
struct df_entry;

/* the server, running; NULL and a message on error */
struct dnsfake *df_start(char *err, size_t errlen);
int df_port(const struct dnsfake *);
void df_stop(struct dnsfake *);

/*
 * A table row for qname (case-insensitive, no trailing dot) and qtype
 * (ns_t_a, ns_t_txt ...); the reply goes out delay_ms after the query
 * (UDP only; TCP answers at once).  NULL when the table is full.
 */
struct df_entry *df_add(struct dnsfake *, const char *qname, int qtype, enum df_action,
    int delay_ms);
/* forget every row */
void df_clear(struct dnsfake *);

/*
 * Records of an entry's answer section.  owner NULL: the question's name.
 * Names are dotted text; a label may hold any byte but '.' (garbage names
 * on purpose).  -1 when the record does not fit (names over 255 bytes,
 * labels over 63, the answer over DF_ANSWER_MAX bytes or DF_MAX_RRS records).
 */
#define DF_ANSWER_MAX 12288
#define DF_MAX_RRS 200
int df_a(struct df_entry *, const char *owner, uint32_t ttl, const char *ipv4);
int df_aaaa(struct df_entry *, const char *owner, uint32_t ttl, const char *ipv6);
int df_cname(struct df_entry *, const char *owner, uint32_t ttl, const char *target);
int df_ptr(struct df_entry *, uint32_t ttl, const char *name);
int df_mx(struct df_entry *, uint32_t ttl, int pref, const char *host);
/* one TXT record of len bytes: as many <= 255-byte strings as it takes */
int df_txt(struct df_entry *, uint32_t ttl, const void *data, size_t len);

/*
 * Raw replies (fuzz): fn gets the question (name as dotted text, type) and
 * writes the header words hdr[0..3] = flags, ancount, nscount, arcount
 * (host order; the query's id and qdcount are the server's) and up to cap
 * bytes that follow the question; it returns their length, or -1: no reply.
 * fn runs on the server's thread.  NULL: back to the table.
 */
typedef long (*df_raw_fn)(void *arg, const char *qname, int qtype, uint16_t hdr[4],
    uint8_t *out, size_t cap);
void df_set_raw(struct dnsfake *, df_raw_fn, void *arg);

struct df_stats {
	unsigned long udp, tcp;		/* queries read */
	unsigned long truncated;	/* UDP replies sent with TC */
	unsigned long dropped;		/* DF_DROP, or a query that did not parse */
};
void df_get_stats(struct dnsfake *, struct df_stats *);

#endif
