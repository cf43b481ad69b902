/*
 * hostlist.c - proxyprobe -i: the hosts of a list, one a line.
 *
 * -i FILE ("-": stdin) reads the hosts from FILE, one a line, and every
 * argument is a port_spec.  All hosts go to one engine, which admits them
 * under its socket budget; the file is read as verdicts come back (at most
 * LIST_WINDOW hosts submitted and unfinished), so a list may be endless.
 * Each host's final verdict is one line on stdout:
 *   ADDR open PROTO:PORT[,PROTO:PORT...] [egress=ADDR] [more=N]
 * and with -a also "ADDR clean" and "ADDR error REASON".  A line that is no
 * usable host is reported as "FILE:LINE: ..." on stderr and skipped.  The
 * canary listens on the local address toward the list's first host (or on
 * $PROXYPROBE_CANARY): one canary serves the whole list.
 */
#include "config.h"
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include "probes.h"
#include "proxyprobe.h"

#define HL_LINE_MAX 1024	/* bytes of a host list line, newline excluded */
#define HL_HOST_MAX 255		/* a host word: a DNS name, an address */
#define HL_QUOTE_MAX 48		/* bytes of a bad line quoted in a message */
#define LIST_LOW 3072		/* a full window is refilled from here */

/* the window and the counts, under mu */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pending;			/* submitted, no final verdict yet */
	int hosts, open, clean, error;
} list = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/*
 * One line of a host list, at most cap - 1 bytes (the newline dropped);
 * a longer one is read to its end and cut.  1: a line, -1: a line that was
 * too long, 0: end of file (or a read error: see ferror).
 */
static int
hl_read(FILE *f, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	int c, over = 0;

	while ((c = getc_unlocked(f)) != EOF && c != '\n') {
		if (n + 1 < cap)
			buf[n++] = (char)c;
		else
			over = 1;
	}
	if (c == EOF && n == 0 && !over)
		return 0;
	buf[n] = '\0';
	*len = n;
	return over ? -1 : 1;
}

static int
hl_blank(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* a character of a host name or a numeric address (with %scope) */
static int
hl_hostchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '.' || c == '-' || c == '_' || c == ':' || c == '%';
}

/* a bad line's text for a message: printable, capped, quoted */
static void
hl_quote(char *dst, size_t dstlen, const char *s, size_t len)
{
	char p[HL_QUOTE_MAX + 1];

	pe_printable(p, sizeof(p), s, len);
	snprintf(dst, dstlen, "\"%s\"%s", p, len > HL_QUOTE_MAX ? "..." : "");
}

/*
 * One line of a host list (len bytes; it may hold NUL bytes): a host name
 * or a numeric address ("[v6]" too), white space around it, optionally a
 * comment "# ..." after it.  Blank lines and comments hold no host.
 * 1: *host is the word (NUL-terminated inside line); 0: no host; -1: not a
 * host line, with a message.
 */
static int
hostline(char *line, size_t len, char **host, char *err, size_t errlen)
{
	char *p = line, *end = line + len, *w;
	char q[HL_QUOTE_MAX + 8];
	size_t wl;

	if (memchr(line, '\0', len) != NULL) {
		snprintf(err, errlen, "a NUL byte in the line");
		return -1;
	}
	while (p < end && hl_blank(*p))
		p++;
	if (p == end || *p == '#')
		return 0;
	for (w = p; p < end && !hl_blank(*p); p++)
		;
	wl = (size_t)(p - w);
	while (p < end && hl_blank(*p))
		p++;
	if (p < end && *p != '#') {
		hl_quote(q, sizeof(q), w, (size_t)(end - w));
		snprintf(err, errlen, "one host a line (and a # comment): %s", q);
		return -1;
	}
	hl_quote(q, sizeof(q), w, wl);
	if (w[0] == '[') {
		if (wl < 3 || w[wl - 1] != ']') {
			snprintf(err, errlen, "not a host name or address: %s", q);
			return -1;
		}
		w++;
		wl -= 2;
	}
	if (wl > HL_HOST_MAX) {
		snprintf(err, errlen, "too long for a host name: %s", q);
		return -1;
	}
	for (size_t i = 0; i < wl; i++)
		if (!hl_hostchar((unsigned char)w[i])) {
			snprintf(err, errlen, "not a host name or address: %s", q);
			return -1;
		}
	w[wl] = '\0';
	*host = w;
	return 1;
}

/*
 * A host word's address: numeric, or (unless numeric_only) looked up by
 * name, the first address as for target_host; v4-mapped made IPv4.  -1 with
 * a message for an unknown name and for what is no single host's address.
 */
static int
host_addr(const char *word, int numeric_only, struct sockaddr_storage *ss, socklen_t *len,
    char *err, size_t errlen)
{
	struct addrinfo hints, *ai;
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST;
	r = getaddrinfo(word, NULL, &hints, &ai);
	if (r != 0 && !numeric_only && strchr(word, ':') == NULL) {
		hints.ai_flags = 0;
		r = getaddrinfo(word, NULL, &hints, &ai);
	}
	if (r != 0) {
		if (r == EAI_NONAME || r == EAI_NODATA || r == EAI_FAMILY || numeric_only)
			snprintf(err, errlen, "unknown host \"%.*s\"", HL_QUOTE_MAX, word);
		else	/* the resolver failed: say how */
			snprintf(err, errlen, "unknown host \"%.*s\" (%s)", HL_QUOTE_MAX, word,
			    gai_strerror(r));
		return -1;
	}
	if (ai->ai_addrlen > sizeof(*ss) ||
	    (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "unknown host \"%.*s\"", HL_QUOTE_MAX, word);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	if (ss->ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)ss)->sin6_addr)) {
		struct sockaddr_in v4 = { .sin_family = AF_INET };
		memcpy(&v4.sin_addr, &((struct sockaddr_in6 *)ss)->sin6_addr.s6_addr[12], 4);
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &v4, sizeof(v4));
		*len = sizeof(v4);
	}
	if (!unicast((struct sockaddr *)ss)) {
		snprintf(err, errlen, "\"%.*s\" is not a host's address "
		    "(unspecified, broadcast or multicast)", HL_QUOTE_MAX, word);
		return -1;
	}
	return 0;
}

static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
}

/*
 * The canary was placed for the list's first host: say once when a later
 * host is one whose proxies cannot (loopback canary) or may not (the other
 * address family) reach it.
 */
static void
canary_reach(const struct sockaddr *canary, const struct sockaddr *sa, const char *addr,
    const char *name, unsigned long lineno)
{
	static int warned;
	char c[PE_ADDRSTR_MAX];

	if (warned)
		return;
	if (is_loopback(canary) && !is_loopback(sa))
		fprintf(stderr, "proxyprobe: %s:%lu: warning: proxies on %s cannot reach the canary "
		    "on loopback (%s); set PROXYPROBE_CANARY to an address they can reach\n",
		    name, lineno, addr, pe_addr_str(canary, c, sizeof(c)));
	else if (canary->sa_family != sa->sa_family)
		fprintf(stderr, "proxyprobe: %s:%lu: warning: proxies on %s must reach the canary "
		    "over IPv%d (%s); set PROXYPROBE_CANARY, or list each family apart\n",
		    name, lineno, addr, canary->sa_family == AF_INET ? 4 : 6,
		    pe_addr_str(canary, c, sizeof(c)));
	else
		return;
	warned = 1;
}

/* a test's line is detail: the host's line says it */
static void
list_result(const struct pe_result *r, void *arg)
{
	host_result(arg, r, 2);
}

/* a host's final verdict is its line; then h is freed */
static void
list_done(const struct pe_summary *s, void *arg)
{
	struct host *h = arg;
	const char *reason = s->reason != NULL && s->reason[0] != '\0' ? s->reason : "unknown";

	if (!s->final) {
		say(4, "%s: provisional verdict after %.3fs, retrying inconclusive tests\n",
		    h->text, s->elapsed);
		return;
	}
	say(4, "%s: tests=%d open=%d closed=%d inconclusive=%d elapsed=%.3fs queued=%.3fs\n",
	    h->text, s->tests, s->open, s->closed, s->inconclusive, s->elapsed, s->queued);
	if (s->verdict == PE_V_OPEN) {
		char more[24] = "";
		if (h->nopen == 0) {	/* no test result named it: the summary does */
			snprintf(h->evidence, sizeof(h->evidence), "%s", s->evidence);
			pe_printable(h->egress, sizeof(h->egress), s->egress, strlen(s->egress));
		}
		if (h->nopen > EVIDENCE_SHOWN)
			snprintf(more, sizeof(more), " more=%d", h->nopen - EVIDENCE_SHOWN);
		say(0, "%s open %s%s%s%s\n", h->addr, h->evidence, h->egress[0] ? " egress=" : "",
		    h->egress, more);
	} else if (s->verdict == PE_V_CLEAN) {
		if (all_tests)
			say(0, "%s clean\n", h->addr);
	} else if (s->verdict != PE_V_ERROR) {
		/* a class made of other checks' findings (port_specs naming a
		 * kind that is no proxy test): "ADDR listed score=4 FINDINGS" */
		if (all_tests)
			say(0, "%s %s score=%d %s\n", h->addr, pe_verdict_name(s->verdict),
			    s->score, s->findings);
	} else if (all_tests) {
		say(0, "%s error %s\n", h->addr, reason);
	} else if (verbosity >= 1) {
		fprintf(stderr, "proxyprobe: %s: not tested to the end (%s)\n", h->addr, reason);
	}
	pthread_mutex_lock(&list.mu);
	if (s->verdict == PE_V_OPEN)
		list.open++;
	else if (s->verdict != PE_V_ERROR)
		list.clean++;	/* no proxy */
	else
		list.error++;
	/* wake the reader only where it may wait: a wake-up per host costs
	 * the engine thread a context switch each */
	if (--list.pending == LIST_LOW || list.pending == 0)
		pthread_cond_signal(&list.cv);
	pthread_mutex_unlock(&list.mu);
	free(h);
}

/*
 * Stream the hosts of f into one engine, created at the first host (the
 * canary goes where that host is reached from, unless o has one).
 */
int
run_list(FILE *f, const char *name, struct pe_options *o, int canary_auto,
    const struct scan *sc)
{
	struct pe_engine *e = NULL;
	char line[HL_LINE_MAX + 1], err[256];
	size_t len;
	unsigned long lineno = 0;
	int r, bad = 0, failed = 0;

	while ((r = hl_read(f, line, sizeof(line), &len)) != 0) {
		struct sockaddr_storage ss;
		socklen_t sl;
		struct host *h;
		char *word;

		lineno++;
		if (r < 0) {
			snprintf(err, sizeof(err), "line longer than %d bytes", HL_LINE_MAX);
			r = -1;
		} else {
			r = hostline(line, len, &word, err, sizeof(err));
			if (r == 0)
				continue;
			if (r > 0 && host_addr(word, 0, &ss, &sl, err, sizeof(err)) < 0)
				r = -1;
		}
		if (r < 0) {
			fprintf(stderr, "proxyprobe: %s:%lu: %s\n", name, lineno, err);
			bad++;
			continue;
		}
		if (e == NULL) {
			char a[PE_ADDRSTR_MAX];
			int rc;

			if (canary_auto) {
				/* no route to it: a bad line, the next host may place it */
				if (local_toward(&ss, sl, &o->canary_listen, &o->canary_listen_len) < 0) {
					fprintf(stderr, "proxyprobe: %s:%lu: no local address to reach %s: %s\n",
					    name, lineno, pe_addr_str((struct sockaddr *)&ss, a, sizeof(a)),
					    strerror(errno));
					bad++;
					continue;
				}
				if (pick_port(&o->canary_listen, o->canary_listen_len) < 0) {
					fprintf(stderr, "proxyprobe: no port for the canary on %s: %s\n",
					    pe_addr_str((struct sockaddr *)&o->canary_listen, a, sizeof(a)),
					    strerror(errno));
					return EX_UNAVAILABLE;
				}
				o->canary_target = o->canary_listen;
				o->canary_target_len = o->canary_listen_len;
			}
			if ((e = engine_start(o, list_result, list_done, &rc,
			    "the hosts of %s: %zu tests each, %d at once", name, sc->ntests,
			    o->max_inflight)) == NULL)
				return rc;
		}
		if ((h = malloc(sizeof(*h))) == NULL) {
			fprintf(stderr, "proxyprobe: out of memory\n");
			failed = 1;
			break;
		}
		host_init(h, (struct sockaddr *)&ss);
		if (canary_auto)
			canary_reach((struct sockaddr *)&o->canary_target, (struct sockaddr *)&ss,
			    h->addr, name, lineno);
		pthread_mutex_lock(&list.mu);
		if (list.pending >= LIST_WINDOW)
			while (list.pending > LIST_LOW)
				pthread_cond_wait(&list.cv, &list.mu);
		list.pending++;
		list.hosts++;
		pthread_mutex_unlock(&list.mu);
		if (pe_submit(e, (struct sockaddr *)&ss, sl, sc->tests, sc->ntests, &sc->tm, sc->flags,
		    h) < 0) {
			fprintf(stderr, "proxyprobe: cannot submit %s: %s\n", h->addr, strerror(errno));
			pthread_mutex_lock(&list.mu);
			list.pending--;
			list.hosts--;
			pthread_mutex_unlock(&list.mu);
			free(h);
			failed = 1;
			break;
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "proxyprobe: %s: read error after line %lu: %s\n", name, lineno,
		    strerror(errno));
		failed = 1;
	}
	pthread_mutex_lock(&list.mu);
	while (list.pending > 0)
		pthread_cond_wait(&list.cv, &list.mu);
	pthread_mutex_unlock(&list.mu);
	if (e != NULL) {
		pe_stop(e);
		pe_free(e);
	}
	if (verbosity >= 1)
		fprintf(stderr, "Test complete - %d host%s: %d open, %d clean, %d error%s; "
		    "%d bad line%s\n", list.hosts, list.hosts == 1 ? "" : "s", list.open, list.clean,
		    list.error, list.error == 1 ? "" : "s", bad, bad == 1 ? "" : "s");
	if (list.open > 0)
		return 2;
	if (failed || list.error > 0)
		return 1;
	return bad > 0 ? EX_NOHOST : EX_OK;
}
