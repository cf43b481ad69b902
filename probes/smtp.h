/*
 * smtp.h - SMTP replies as a client reads them (RFC 5321 4.2), for the
 * connect_back check: every byte is the peer's, and a peer may send a
 * banner that never ends, 1 MB lines or "220-" forever.  Pure functions
 * on evbuffers; fuzzed (tests/fuzz/fuzz_smtp.c).
 */
#ifndef PE_SMTP_H
#define PE_SMTP_H

#include <stddef.h>
#include <event2/buffer.h>
#include "probes.h"

#define PE_SMTP_LINE_MAX 1000	/* RFC 5321 4.5.3.1.5: 512; servers send more */
#define PE_SMTP_LINES_MAX 40	/* lines of one reply (an EHLO reply has ~15) */

struct pe_smtp_reply {
	int code;			/* 0 until the first line */
	int lines;
	char text[PE_DETAIL_MAX];	/* the lines' texts, printable, " / " between */
};

enum pe_smtp_rd { PE_SMTP_MORE = 0, PE_SMTP_DONE = 1, PE_SMTP_BAD = -1 };

/* one line without its line end: "NNN-text" continues, "NNN text" or
 * "NNN" ends; a line that is no reply line, a code that changes within a
 * reply or too many lines: BAD */
enum pe_smtp_rd pe_smtp_line(struct pe_smtp_reply *, const char *line, size_t len);
/* the lines that arrived in in (CRLF or LF ends), consumed up to the end
 * of a reply: DONE (r holds it), MORE, or BAD (also a line longer than
 * PE_SMTP_LINE_MAX); start each reply with r zeroed */
enum pe_smtp_rd pe_smtp_read(struct pe_smtp_reply *, struct evbuffer *in);
/* the host a greeting names: its first word, when that is a host name or
 * an address literal ("[192.0.2.1]", "[IPv6:...]"), lowercased; -1 if not */
int pe_smtp_banner_host(const char *text, char *host, size_t len);

#endif
