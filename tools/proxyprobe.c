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
 * argument is a port_spec: hostlist.c.
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
#include "proxyprobe.h"

int verbosity = 1;
int all_tests;
static const char *mail_addr, *mail_tag = "proxyprobe";
/* one target_host: finished under mu; first_open is read once it is */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int finished;
static char first_open[PE_ADDRSTR_MAX + 48];	/* "ADDR:PORT/PROTO" */

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

void
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

/* the two texts of a host's address */
void
host_init(struct host *h, const struct sockaddr *sa)
{
	memset(h, 0, sizeof(*h));
	pe_addr_str(sa, h->addr, sizeof(h->addr));
	snprintf(h->text, sizeof(h->text), strchr(h->addr, ':') ? "[%s]" : "%s", h->addr);
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

/* a test's result (engine thread): the host keeps an open one; its line
 * at open_level if open, else at 2 (3: with excerpts, 4: timing) */
void
host_result(struct host *h, const struct pe_result *r, int open_level)
{
	if (r->result == PE_OPEN) {
		host_open(h, r);
		say(open_level, "%s:%u/%s: open proxy (%s%s%s)\n", h->text, r->port, r->proto,
		    r->reason, r->egress[0] ? ", egress " : "", r->egress);
		return;
	}
	/* a check that is no proxy test says what it found (netbios=139(2)) */
	const char *f = r->findings != NULL ? r->findings : "";
	say(2, "%s:%u/%s: %s (%s)%s%s%s%s", h->text, r->port, r->proto,
	    r->result == PE_CLOSED ? "closed" : "inconclusive", r->reason,
	    f[0] == '\0' ? "" : strchr(f, ' ') != NULL ? " findings " : " finding ", f,
	    verbosity >= 3 && r->detail[0] ? " " : "", verbosity >= 3 ? r->detail : "");
	say(2, "%s", verbosity >= 4 ? "" : "\n");
	say(4, " elapsed=%.3fs attempt=%d\n", r->elapsed, r->attempt);
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
int
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
int
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
int
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

/*
 * The engine, started; at -v 4 the line "testing WHAT, target ..." (WHAT
 * is fmt).  NULL with a message and *rc the exit status.
 */
struct pe_engine *
engine_start(const struct pe_options *o, pe_result_fn result, pe_done_fn done, int *rc,
    const char *fmt, ...)
{
	struct pe_engine *e;
	char err[256], a[PE_ADDRSTR_MAX];
	va_list ap;

	if ((e = pe_create(o, result, done, err, sizeof(err))) == NULL) {
		fprintf(stderr, "proxyprobe: %s\n", err);
		*rc = EX_UNAVAILABLE;
		return NULL;
	}
	if (pe_start(e) < 0) {
		fprintf(stderr, "proxyprobe: cannot start the probe engine: %s\n", strerror(errno));
		pe_free(e);
		*rc = 1;
		return NULL;
	}
	if (verbosity >= 4) {
		flockfile(stdout);
		printf("testing ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf(", target %s port %d (%s)\n",
		    pe_addr_str((struct sockaddr *)&o->canary_target, a, sizeof(a)),
		    pe_target_port((struct sockaddr *)&o->canary_target),
		    o->target_kind == PE_TARGET_CANARY ? "canary" : "mail server");
		fflush(stdout);
		funlockfile(stdout);
	}
	return e;
}

/* ---- one target_host ----------------------------------------------------- */

static void
on_result(const struct pe_result *r, void *arg)
{
	struct host *h = arg;

	host_result(h, r, 1);
	if (r->result == PE_OPEN && h->nopen == 1)
		snprintf(first_open, sizeof(first_open), "%s:%u/%s", h->text, r->port, r->proto);
}

static void
on_done(const struct pe_summary *s, void *arg)
{
	(void)arg;
	if (!s->final) {
		say(4, "provisional verdict %s after %.3fs, other tests still running\n",
		    pe_verdict_name(s->verdict), s->elapsed);
		return;
	}
	/* what checks found besides proxies (netbios, ...): before the last line */
	if (s->findings[0] != '\0' && s->verdict != PE_V_OPEN)
		say(2, "verdict %s score=%d %s\n", pe_verdict_name(s->verdict), s->score, s->findings);
	say(4, "tests=%d open=%d closed=%d inconclusive=%d elapsed=%.3fs\n", s->tests, s->open,
	    s->closed, s->inconclusive, s->elapsed);
	pthread_mutex_lock(&mu);
	finished = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
}

/* test h at sa: the tests' lines, then "Test complete - ..." */
static int
run_host(const struct pe_options *o, struct host *h, const struct sockaddr *sa, socklen_t len,
    const struct scan *sc)
{
	struct pe_engine *e;
	int rc;

	if ((e = engine_start(o, on_result, on_done, &rc, "%s: %zu tests", h->text,
	    sc->ntests)) == NULL)
		return rc;
	if (pe_submit(e, sa, len, sc->tests, sc->ntests, &sc->tm, sc->flags, h) < 0) {
		fprintf(stderr, "proxyprobe: cannot start the probe engine: %s\n", strerror(errno));
		return 1;
	}
	pthread_mutex_lock(&mu);
	while (!finished)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	pe_stop(e);
	pe_free(e);
	if (h->nopen == 0) {
		say(0, "Test complete - no proxies found\n");
		return EX_OK;
	}
	if (all_tests && h->nopen > 1)
		say(0, "Test complete - identified %d open proxies\n", h->nopen);
	else
		say(0, "Test complete - identified open proxy %s\n", first_open);
	return 2;
}

/* ---- the options --------------------------------------------------------- */

/*
 * The engine's budgets: sockets at once, all tests if the descriptor limit
 * allows (-i: LIST_INFLIGHT over all hosts), and -t.
 */
static void
set_budget(struct pe_options *o, int threads, size_t ntests, int listing)
{
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
	if (listing) {
		/* -t: tests at once over all hosts; each host's tests run together */
		o->max_inflight = threads > 0 ? threads : LIST_INFLIGHT;
		if (o->max_inflight > fds)
			o->max_inflight = fds;
		o->max_per_client = (int)ntests > o->max_inflight ? o->max_inflight : (int)ntests;
		o->max_queue = LIST_WINDOW;	/* never "overload": the reader waits */
	} else {
		o->max_inflight = (int)ntests > fds ? fds : (int)ntests;
		o->max_per_client = threads > 0 ? threads : o->max_inflight;
		o->max_queue = 2;
	}
	o->max_canary_conns = o->max_inflight + 16;
	o->read_cap = 4096;
}

int
main(int argc, char **argv)
{
	const char *mail_server = NULL, *banner = "220 ", *list_file = NULL;
	int threads = 0, ch, canary_auto = 0, rc;
	char err[256];
	struct pe_options o;
	struct scan sc = { .tm = { .connect_timeout = 5.0, .timeout = 15.0, .retries = 1, .checks = NULL } };
	struct sockaddr_storage host;
	socklen_t hostlen = 0;
	struct host single;
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
	if (list_file == NULL && optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strlen(banner) == 0 || strlen(banner) >= sizeof(o.banner)) {
		fprintf(stderr, "proxyprobe: the banner must be 1 to %zu characters\n", sizeof(o.banner) - 1);
		return EX_USAGE;
	}
	if (list_file == NULL) {
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
		if (pe_scan_parse("basic", NULL, &sc.tests, &sc.ntests, err, sizeof(err)) < 0)
			return EX_SOFTWARE;
	}
	for (; optind < argc; optind++)
		if (pe_scan_parse(argv[optind], NULL, &sc.tests, &sc.ntests, err, sizeof(err)) < 0) {
			fprintf(stderr, "proxyprobe: %s\n", err);
			free(sc.tests);
			return EX_USAGE;
		}
	sc.flags = all_tests ? 0 : PE_F_STOP_ON_OPEN;

	memset(&o, 0, sizeof(o));
	snprintf(o.banner, sizeof(o.banner), "%s", banner);
	if (mail_addr != NULL && mail_server == NULL) {
		fprintf(stderr, "proxyprobe: cannot locate mailserver: -m needs -M mail_server\n");
		{ free(sc.tests); return EX_NOHOST; }
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
			{ free(sc.tests); return EX_NOHOST; }
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
				{ free(sc.tests); return EX_USAGE; }
			}
		} else if (list_file != NULL) {
			canary_auto = 1;	/* toward the list's first host */
		} else if (local_toward(&host, hostlen, &o.canary_listen, &o.canary_listen_len) < 0 ||
		    pick_port(&o.canary_listen, o.canary_listen_len) < 0) {
			fprintf(stderr, "proxyprobe: no local address to reach %s: %s\n", single.text,
			    strerror(errno));
			{ free(sc.tests); return EX_UNAVAILABLE; }
		}
		o.canary_target = o.canary_listen;
		o.canary_target_len = o.canary_listen_len;
	}
	if (list_file != NULL) {
		if (strcmp(list_file, "-") == 0) {
			lf = stdin;
		} else if ((lf = fopen(list_file, "r")) == NULL) {
			fprintf(stderr, "proxyprobe: cannot open %s: %s\n", list_file, strerror(errno));
			free(sc.tests);
			return EX_NOINPUT;
		}
	}
	set_budget(&o, threads, sc.ntests, list_file != NULL);
	if (mail_addr != NULL) {
		snprintf(o.mail_rcpt, sizeof(o.mail_rcpt), "%s", mail_addr);
		snprintf(o.mail_tag, sizeof(o.mail_tag), "%s", mail_tag);
		snprintf(o.mail_agent, sizeof(o.mail_agent), "proxyprobe %s", PACKAGE_VERSION);
	}
	signal(SIGPIPE, SIG_IGN);
	if (list_file == NULL) {
		rc = run_host(&o, &single, (struct sockaddr *)&host, hostlen, &sc);
	} else {
		rc = run_list(lf, lf == stdin ? "stdin" : list_file, &o, canary_auto, &sc);
		if (lf != stdin)
			fclose(lf);
	}
	free(sc.tests);
	return rc;
}
