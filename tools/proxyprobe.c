/*
 * proxyprobe.c - proxyprobe: test hosts for open proxies, by hand.
 *
 * The flags are pxytest's: [-a] [-h] [-M mail_server] [-m mail_addr]
 * [-S smtp_banner] [-T mail_tag] [-t num_threads] [-v verbosity]
 * target_host [port_spec ...].  It runs the same probe engine as the milter.
 * Without -M the proxy is asked to reach the built-in canary, listening on
 * the local address this host uses to reach target_host (or on
 * $PROXYPROBE_CANARY, "HOST:PORT"), and only a nonce that comes back through
 * the proxy counts.  With -M the target is that mail server and a line
 * starting with the banner (-S, default "220 ") counts: pxytest's rule.
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
 *
 * Exit status: 0 no open proxy, 2 open proxy found, 1 failure (-i: a host
 * not tested to the end, a read error), 64 usage, 66 (-i) the file cannot
 * be opened, 68 unknown host or mail server (-i: a line that is no usable
 * host), 69 canary not available.  With -i: 2 before 1 before 68.
 */
#include "config.h"
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <sysexits.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include "probes.h"

#define HL_LINE_MAX 1024	/* bytes of a host list line, newline excluded */
#define HL_HOST_MAX 255		/* a host word: a DNS name, an address */
#define HL_QUOTE_MAX 48		/* bytes of a bad line quoted in a message */
#define LIST_WINDOW 4096	/* -i: hosts submitted and not finished */
#define LIST_LOW 3072		/* ... a full window is refilled from here */
#define LIST_INFLIGHT 1024	/* -i: tests at once unless -t says */
#define EVIDENCE_SHOWN 8	/* open tests named on a host's line */

/* one host under test; the engine thread owns it once it is submitted */
struct host {
	char addr[PE_ADDRSTR_MAX];	/* address text: a result line's first word */
	char text[PE_ADDRSTR_MAX + 2];	/* the same, "[v6]" in test lines */
	char evidence[EVIDENCE_SHOWN * (PE_PROTO_NAME_MAX + 8)];
	char egress[PE_ADDRSTR_MAX];
	int nopen;
};

static int verbosity = 1;
static int all_tests;
static const char *mail_addr, *mail_tag = "proxyprobe";
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int finished;
static struct {
	int open;
	char first[PE_ADDRSTR_MAX + 48];
} out;
/* -i: counts, under mu */
static struct {
	int on;
	int pending;			/* submitted, no final verdict yet */
	int hosts, open, clean, error;
} list;

static void
usage(FILE *f)
{
	fprintf(f, "usage: proxyprobe [-a] [-h] [-M mail_server] [-m mail_addr] [-S smtp_banner]\n"
	    "                  [-T mail_tag] [-t num_threads] [-v verbosity] target_host [port_spec ...]\n"
	    "       proxyprobe [options] -i file [port_spec ...]\n");
}

static void
help(void)
{
	usage(stdout);
	printf("\n"
	    "  -a          test every port_spec; do not stop at the first open proxy\n"
	    "              (-i: also print a line for clean hosts and for errors)\n"
	    "  -h          this help, with the tags below\n"
	    "  -i file     test the hosts listed in file (\"-\": stdin), one a line;\n"
	    "              one line per host with an open proxy:\n"
	    "              ADDR open PROTO:PORT[,...] egress=ADDR\n"
	    "  -M server   ask proxies to reach this mail server (HOST[:PORT], port 25)\n"
	    "              instead of the built-in canary; a reply line starting with the\n"
	    "              banner is taken as success\n"
	    "  -m addr     relay a probe mail to addr through each open proxy found (needs -M)\n"
	    "  -S banner   the banner prefix for -M (default \"220 \")\n"
	    "  -T tag      tag for the X-Proxy-Spec header of -m mail (default proxyprobe)\n"
	    "  -t n        tests run at once (default: all; -i: %d in all)\n"
	    "  -v n        0 the final line only, 1 open proxies too (default),\n"
	    "              2 every test, 3 with excerpts of the replies, 4 timing\n"
	    "              (-i: the host lines at 0, a summary on stderr from 1)\n"
	    "\nport_spec: MIN[-MAX][/PROTO] or a tag; PROTO (default http-connect):", LIST_INFLIGHT);
	for (size_t i = 0; i < pe_kind_count(); i++)
		printf(" %s", pe_kind_name(pe_kind_at(i)));
	printf(" http cisco wingate all\n\ntags:\n");
	for (size_t i = 0; pe_builtin_tag(i) != NULL; i++) {
		const struct pe_tag *t = pe_builtin_tag(i);
		printf("  %-6s", t->name);
		for (const char *const *s = t->specs; *s != NULL; s++)
			printf(" %s", *s);
		printf("\n");
	}
	printf("\nexit status: 0 no open proxy found, 2 open proxy found, other: error\n");
}

static void
say(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(int level, const char *fmt, ...)
{
	va_list ap;
	if (verbosity < level)
		return;
	flockfile(stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
	funlockfile(stdout);
}

/* an open test of h (engine thread): its name for the host's line */
static void
host_open(struct host *h, const struct pe_result *r)
{
	size_t n = strlen(h->evidence);

	if (h->nopen++ == 0)
		pe_printable(h->egress, sizeof(h->egress), r->egress, strlen(r->egress));
	if (h->nopen <= EVIDENCE_SHOWN)
		snprintf(h->evidence + n, sizeof(h->evidence) - n, "%s%s:%u", n > 0 ? "," : "",
		    r->proto, r->port);
}

static void
on_result(const struct pe_result *r, void *arg)
{
	struct host *h = arg;

	if (r->result == PE_OPEN) {
		host_open(h, r);
		/* -i: the host's line says it; the test's line is detail */
		say(list.on ? 2 : 1, "%s:%u/%s: open proxy (%s%s%s)\n", h->text, r->port, r->proto,
		    r->reason, r->egress[0] ? ", egress " : "", r->egress);
		if (list.on)
			return;
		pthread_mutex_lock(&mu);
		if (out.open++ == 0)
			snprintf(out.first, sizeof(out.first), "%s:%u/%s", h->text, r->port, r->proto);
		pthread_mutex_unlock(&mu);
		return;
	}
	say(2, "%s:%u/%s: %s (%s)%s%s", h->text, r->port, r->proto,
	    r->result == PE_CLOSED ? "closed" : "inconclusive", r->reason,
	    verbosity >= 3 && r->detail[0] ? " " : "", verbosity >= 3 ? r->detail : "");
	say(2, "%s", verbosity >= 4 ? "" : "\n");
	say(4, " elapsed=%.3fs attempt=%d\n", r->elapsed, r->attempt);
}

static void
on_done(const struct pe_summary *s, void *arg)
{
	(void)arg;
	if (!s->final) {
		say(4, "provisional verdict after %.3fs, retrying inconclusive tests\n", s->elapsed);
		return;
	}
	pthread_mutex_lock(&mu);
	finished = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	say(4, "tests=%d open=%d closed=%d inconclusive=%d elapsed=%.3fs\n", s->tests, s->open,
	    s->closed, s->inconclusive, s->elapsed);
}

/* -i: a host's final verdict is its line; then h is freed */
static void
on_done_list(const struct pe_summary *s, void *arg)
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
	pthread_mutex_lock(&mu);
	if (s->verdict == PE_V_OPEN)
		list.open++;
	else if (s->verdict != PE_V_ERROR)
		list.clean++;	/* no proxy */
	else
		list.error++;
	/* wake the reader only where it may wait: a wake-up per host costs
	 * the engine thread a context switch each */
	if (--list.pending == LIST_LOW || list.pending == 0)
		pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	free(h);
}

/* numeric ("[v6]" too, as -M takes it) or resolved address of a host;
 * -1 if unknown */
static int
resolve(const char *host, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints, *ai;
	char bare[256];
	size_t n = strlen(host);

	if (n >= 2 && n < sizeof(bare) && host[0] == '[' && host[n - 1] == ']') {
		memcpy(bare, host + 1, n - 2);
		bare[n - 2] = '\0';
		host = bare;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &ai) != 0)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* a single host's address: not 0.0.0.0/8 or ::, broadcast or multicast */
static int
unicast(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_UNSPECIFIED(a) || IN6_IS_ADDR_MULTICAST(a))
			return 0;
		if (!IN6_IS_ADDR_V4MAPPED(a))
			return 1;
		struct sockaddr_in v4 = { .sin_family = AF_INET };
		memcpy(&v4.sin_addr, &a->s6_addr[12], 4);
		return unicast((struct sockaddr *)&v4);
	}
	uint32_t v = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
	return (v >> 24) != 0 && (v >> 28) != 0xe && v != 0xffffffffu;
}

/* the local address the kernel would use to reach sa (no packet is sent) */
static int
local_toward(const struct sockaddr_storage *sa, socklen_t len, struct sockaddr_storage *out_ss,
    socklen_t *out_len)
{
	struct sockaddr_storage t = *sa;
	int fd = socket(sa->ss_family, SOCK_DGRAM, 0), r;

	if (fd < 0)
		return -1;
	if (t.ss_family == AF_INET)
		((struct sockaddr_in *)&t)->sin_port = htons(9);
	else
		((struct sockaddr_in6 *)&t)->sin6_port = htons(9);
	*out_len = sizeof(*out_ss);
	r = connect(fd, (struct sockaddr *)&t, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)out_ss, out_len) == 0 ? 0 : -1;
	close(fd);
	return r;
}

/* a free TCP port on addr (the canary needs a fixed one to tell proxies) */
static int
pick_port(struct sockaddr_storage *ss, socklen_t len)
{
	int fd = socket(ss->ss_family, SOCK_STREAM, 0);
	socklen_t l = len;

	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = 0;
	else
		((struct sockaddr_in6 *)ss)->sin6_port = 0;
	if (fd < 0 || bind(fd, (struct sockaddr *)ss, len) < 0 ||
	    getsockname(fd, (struct sockaddr *)ss, &l) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* the two texts of a host's address */
static void
host_init(struct host *h, const struct sockaddr *sa)
{
	memset(h, 0, sizeof(*h));
	pe_addr_str(sa, h->addr, sizeof(h->addr));
	snprintf(h->text, sizeof(h->text), strchr(h->addr, ':') ? "[%s]" : "%s", h->addr);
}

static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)sa)->sin6_addr);
	return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
}

/* ---- host lists (-i) ------------------------------------------------------ */

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

/*
 * -i: stream the hosts of f into one engine, created at the first host
 * (the canary goes where that host is reached from, unless o has one).
 */
static int
run_list(FILE *f, const char *name, struct pe_options *o, int canary_auto,
    const struct pe_test *tests, size_t ntests, const struct pe_timing *tm)
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
			if ((e = pe_create(o, on_result, on_done_list, err, sizeof(err))) == NULL) {
				fprintf(stderr, "proxyprobe: %s\n", err);
				return EX_UNAVAILABLE;
			}
			if (pe_start(e) < 0) {
				fprintf(stderr, "proxyprobe: cannot start the probe engine: %s\n",
				    strerror(errno));
				pe_free(e);
				return 1;
			}
			say(4, "testing the hosts of %s: %zu tests each, %d at once, target %s port %d (%s)\n",
			    name, ntests, o->max_inflight,
			    pe_addr_str((struct sockaddr *)&o->canary_target, a, sizeof(a)),
			    pe_target_port((struct sockaddr *)&o->canary_target),
			    o->target_kind == PE_TARGET_CANARY ? "canary" : "mail server");
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
		pthread_mutex_lock(&mu);
		if (list.pending >= LIST_WINDOW)
			while (list.pending > LIST_LOW)
				pthread_cond_wait(&cv, &mu);
		list.pending++;
		list.hosts++;
		pthread_mutex_unlock(&mu);
		if (pe_submit(e, (struct sockaddr *)&ss, sl, tests, ntests, tm,
		    all_tests ? 0 : PE_F_STOP_ON_OPEN, h) < 0) {
			fprintf(stderr, "proxyprobe: cannot submit %s: %s\n", h->addr, strerror(errno));
			pthread_mutex_lock(&mu);
			list.pending--;
			list.hosts--;
			pthread_mutex_unlock(&mu);
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
	pthread_mutex_lock(&mu);
	while (list.pending > 0)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
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

int
main(int argc, char **argv)
{
	const char *mail_server = NULL, *banner = "220 ", *list_file = NULL;
	int threads = 0, ch, canary_auto = 0;
	char err[256];
	struct pe_options o;
	struct pe_test *tests = NULL;
	size_t ntests = 0;
	struct sockaddr_storage host;
	socklen_t hostlen = 0;
	struct host single;
	struct pe_engine *e;
	struct pe_timing tm = { 5.0, 15.0, 1 };
	FILE *lf = NULL;
	char *end;

	while ((ch = getopt(argc, argv, "ahi:M:m:S:T:t:v:")) != -1) {
		switch (ch) {
		case 'a': all_tests = 1; break;
		case 'h': help(); return EX_OK;
		case 'i': list_file = optarg; break;
		case 'M': mail_server = optarg; break;
		case 'm': mail_addr = optarg; break;
		case 'S': banner = optarg; break;
		case 'T': mail_tag = optarg; break;
		case 't':
			threads = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || threads < 1 || threads > 100000) {
				fprintf(stderr, "proxyprobe: bad thread count \"%s\"\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'v':
			verbosity = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || verbosity < 0 || verbosity > 4) {
				fprintf(stderr, "proxyprobe: verbosity must be 0 to 4\n");
				return EX_USAGE;
			}
			break;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	list.on = list_file != NULL;
	if (!list.on && optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strlen(banner) == 0 || strlen(banner) >= sizeof(o.banner)) {
		fprintf(stderr, "proxyprobe: the banner must be 1 to %zu characters\n", sizeof(o.banner) - 1);
		return EX_USAGE;
	}
	if (!list.on) {
		const char *target_host = argv[optind++];
		if (resolve(target_host, &host, &hostlen) < 0) {
			fprintf(stderr, "proxyprobe: unknown host \"%s\"\n", target_host);
			return EX_NOHOST;
		}
		if (!unicast((struct sockaddr *)&host)) {
			/* 0.0.0.0 would reach this host itself, a multicast address nobody */
			fprintf(stderr, "proxyprobe: \"%s\" is not a host's address "
			    "(unspecified, broadcast or multicast)\n", target_host);
			return EX_NOHOST;
		}
		host_init(&single, (struct sockaddr *)&host);
	}
	if (optind == argc) {
		if (pe_scan_parse("basic", NULL, &tests, &ntests, err, sizeof(err)) < 0)
			return EX_SOFTWARE;
	}
	for (; optind < argc; optind++)
		if (pe_scan_parse(argv[optind], NULL, &tests, &ntests, err, sizeof(err)) < 0) {
			fprintf(stderr, "proxyprobe: %s\n", err);
			free(tests);
			return EX_USAGE;
		}

	memset(&o, 0, sizeof(o));
	snprintf(o.banner, sizeof(o.banner), "%s", banner);
	if (mail_addr != NULL && mail_server == NULL) {
		fprintf(stderr, "proxyprobe: cannot locate mailserver: -m needs -M mail_server\n");
		{ free(tests); return EX_NOHOST; }
	}
	if (mail_server != NULL) {
		char hostpart[256];
		const char *colon = strrchr(mail_server, ':');
		int port = 25;
		snprintf(hostpart, sizeof(hostpart), "%s", mail_server);
		if (mail_server[0] == '[') {	/* [v6]:port or [v6] */
			char *rb = strchr(hostpart, ']');
			if (rb != NULL) {
				if (rb[1] == ':')
					port = atoi(rb + 2);
				*rb = '\0';
				memmove(hostpart, hostpart + 1, strlen(hostpart));
			}
		} else if (colon != NULL && strchr(mail_server, ':') == colon) {
			port = atoi(colon + 1);
			hostpart[colon - mail_server] = '\0';
		}
		if (port < 1 || port > 65535 || resolve(hostpart, &o.canary_target, &o.canary_target_len) < 0) {
			fprintf(stderr, "proxyprobe: cannot locate mailserver \"%s\"\n", mail_server);
			{ free(tests); return EX_NOHOST; }
		}
		if (o.canary_target.ss_family == AF_INET)
			((struct sockaddr_in *)&o.canary_target)->sin_port = htons((uint16_t)port);
		else
			((struct sockaddr_in6 *)&o.canary_target)->sin6_port = htons((uint16_t)port);
		o.target_kind = PE_TARGET_BANNER;
	} else {
		const char *env = getenv("PROXYPROBE_CANARY");
		o.target_kind = PE_TARGET_CANARY;
		if (env != NULL && *env != '\0') {
			if (pe_parse_hostport(env, &o.canary_listen, &o.canary_listen_len) < 0) {
				fprintf(stderr, "proxyprobe: PROXYPROBE_CANARY=\"%s\" is not a numeric HOST:PORT\n", env);
				{ free(tests); return EX_USAGE; }
			}
		} else if (list.on) {
			canary_auto = 1;	/* toward the list's first host */
		} else if (local_toward(&host, hostlen, &o.canary_listen, &o.canary_listen_len) < 0 ||
		    pick_port(&o.canary_listen, o.canary_listen_len) < 0) {
			fprintf(stderr, "proxyprobe: no local address to reach %s: %s\n", single.text,
			    strerror(errno));
			{ free(tests); return EX_UNAVAILABLE; }
		}
		o.canary_target = o.canary_listen;
		o.canary_target_len = o.canary_listen_len;
	}
	if (list.on) {
		if (strcmp(list_file, "-") == 0) {
			lf = stdin;
		} else if ((lf = fopen(list_file, "r")) == NULL) {
			fprintf(stderr, "proxyprobe: cannot open %s: %s\n", list_file, strerror(errno));
			free(tests);
			return EX_NOINPUT;
		}
	}
	/* sockets at once: all tests if the descriptor limit allows */
	struct rlimit rl;
	int fds = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max > 65536 ? 65536 : rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
		}
		fds = rl.rlim_cur > 65536 ? 65536 : (int)rl.rlim_cur;
	}
	fds = fds / 2 - 16;	/* each open test may also hold a canary connection */
	if (fds < 1)
		fds = 1;
	if (list.on) {
		/* -t: tests at once over all hosts; each host's tests run together */
		o.max_inflight = threads > 0 ? threads : LIST_INFLIGHT;
		if (o.max_inflight > fds)
			o.max_inflight = fds;
		o.max_per_client = (int)ntests > o.max_inflight ? o.max_inflight : (int)ntests;
		o.max_queue = LIST_WINDOW;	/* never "overload": the reader waits */
	} else {
		o.max_inflight = (int)ntests > fds ? fds : (int)ntests;
		o.max_per_client = threads > 0 ? threads : o.max_inflight;
		o.max_queue = 2;
	}
	o.max_canary_conns = o.max_inflight + 16;
	o.read_cap = 4096;
	if (mail_addr != NULL) {
		snprintf(o.mail_rcpt, sizeof(o.mail_rcpt), "%s", mail_addr);
		snprintf(o.mail_tag, sizeof(o.mail_tag), "%s", mail_tag);
		snprintf(o.mail_agent, sizeof(o.mail_agent), "proxyprobe %s", PACKAGE_VERSION);
	}
	signal(SIGPIPE, SIG_IGN);
	if (list.on) {
		int rc = run_list(lf, lf == stdin ? "stdin" : list_file, &o, canary_auto, tests,
		    ntests, &tm);
		if (lf != stdin)
			fclose(lf);
		free(tests);
		return rc;
	}
	if ((e = pe_create(&o, on_result, on_done, err, sizeof(err))) == NULL) {
		fprintf(stderr, "proxyprobe: %s\n", err);
		free(tests);
		return EX_UNAVAILABLE;
	}
	if (verbosity >= 4) {
		char a[PE_ADDRSTR_MAX];
		printf("testing %s: %zu tests, target %s port %d (%s)\n", single.text, ntests,
		    pe_addr_str((struct sockaddr *)&o.canary_target, a, sizeof(a)),
		    pe_target_port((struct sockaddr *)&o.canary_target),
		    o.target_kind == PE_TARGET_CANARY ? "canary" : "mail server");
	}
	if (pe_start(e) < 0 || pe_submit(e, (struct sockaddr *)&host, hostlen, tests, ntests, &tm,
	    all_tests ? 0 : PE_F_STOP_ON_OPEN, &single) < 0) {
		fprintf(stderr, "proxyprobe: cannot start the probe engine: %s\n", strerror(errno));
		return 1;
	}
	pthread_mutex_lock(&mu);
	while (!finished)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	pe_stop(e);
	pe_free(e);
	free(tests);
	if (out.open == 0) {
		say(0, "Test complete - no proxies found\n");
		return EX_OK;
	}
	if (all_tests && out.open > 1)
		say(0, "Test complete - identified %d open proxies\n", out.open);
	else
		say(0, "Test complete - identified open proxy %s\n", out.first);
	return 2;
}
