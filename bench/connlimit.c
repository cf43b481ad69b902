/*
 * connlimit.c - the connect limit: how fast one process can run a TCP
 * connect to every host:port of a list, and nothing else (no protocol, no
 * proof).  bench/vs-proxycheck.sh builds it with cc and runs it beside
 * proxycheck and proxyprobe as the ceiling of what a prober can do on this
 * machine.
 *
 * usage: connlimit [-n inflight] [-p port[-port],...] [-r repeat] hostfile
 *
 * hostfile: numeric IPv4/IPv6 addresses, one a line ('#' and blank lines
 * skipped).  Each host is connected to on every port of -p (default 80), in
 * that order, the whole list -r times (default 1); a port named twice is
 * connected to twice, as a prober with two protocols on one port does.
 * Non-blocking sockets, one epoll set, at most -n connects at once (default
 * 256).  Prints one line:
 *   connects=N refused=N connected=N other=N inflight=N elapsed=S
 * Exit 0, or 1 when a connect failed for a local reason (EMFILE ...).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

struct target {
	struct sockaddr_storage ss;
	socklen_t len;
};

static struct target *targets;
static size_t ntargets;
static unsigned short *ports;
static size_t nports, cap_ports;
static unsigned long refused, connected, other, local_err, at_once;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
add_port(long p)
{
	if (nports == cap_ports) {
		cap_ports = cap_ports ? cap_ports * 2 : 64;
		if ((ports = realloc(ports, cap_ports * sizeof(*ports))) == NULL)
			return -1;
	}
	ports[nports++] = (unsigned short)p;
	return 0;
}

/* "80,80,3128,1-1024": in this order */
static int
parse_ports(char *s)
{
	char *tok, *end;
	long lo, hi;

	nports = 0;
	for (tok = strtok(s, ","); tok != NULL; tok = strtok(NULL, ",")) {
		lo = hi = strtol(tok, &end, 10);
		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		if (*end != '\0' || lo < 1 || hi > 65535 || lo > hi)
			return -1;
		for (long p = lo; p <= hi; p++)
			if (add_port(p) < 0)
				return -1;
	}
	return nports > 0 ? 0 : -1;
}

static int
read_hosts(const char *file)
{
	FILE *f = fopen(file, "r");
	char line[256], *p;
	size_t cap = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		struct target t;
		struct sockaddr_in *s4 = (struct sockaddr_in *)&t.ss;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t.ss;

		line[strcspn(line, "\r\n# \t")] = '\0';
		p = line;
		if (*p == '\0')
			continue;
		memset(&t, 0, sizeof(t));
		if (inet_pton(AF_INET, p, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			t.len = sizeof(*s4);
		} else if (inet_pton(AF_INET6, p, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			t.len = sizeof(*s6);
		} else {
			fprintf(stderr, "connlimit: not a numeric address: %.64s\n", p);
			fclose(f);
			return -1;
		}
		if (ntargets == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((targets = realloc(targets, cap * sizeof(*targets))) == NULL) {
				fclose(f);
				return -1;
			}
		}
		targets[ntargets++] = t;
	}
	fclose(f);
	return 0;
}

static void
count(int err)
{
	if (err == 0)
		connected++;
	else if (err == ECONNREFUSED)
		refused++;
	else
		other++;
}

/* start connect number i (host i / nports, port i % nports); 1 if it is
 * in flight, 0 if it ended at once, -1 on a local failure */
static int
start(int ep, size_t i)
{
	struct target *t = &targets[i / nports];
	struct epoll_event ev;
	int fd;

	if (t->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&t->ss)->sin_port = htons(ports[i % nports]);
	else
		((struct sockaddr_in6 *)&t->ss)->sin6_port = htons(ports[i % nports]);
	fd = socket(t->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&t->ss, t->len) == 0 || errno != EINPROGRESS) {
		count(errno == EINPROGRESS ? 0 : errno);
		at_once++;
		close(fd);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.fd = fd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return -1;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	char defports[] = "80";
	int ch, inflight = 256, running = 0, ep;
	long repeat = 1;
	size_t next = 0, total;
	struct epoll_event evs[256];
	double t0, t1;
	char *end;

	if (parse_ports(defports) < 0)
		return 1;
	while ((ch = getopt(argc, argv, "n:p:r:")) != -1) {
		switch (ch) {
		case 'n':
			inflight = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || inflight < 1) {
				fprintf(stderr, "connlimit: bad -n\n");
				return 64;
			}
			break;
		case 'p':
			if (parse_ports(optarg) < 0) {
				fprintf(stderr, "connlimit: bad -p\n");
				return 64;
			}
			break;
		case 'r':
			repeat = strtol(optarg, &end, 10);
			if (*end != '\0' || repeat < 1 || repeat > 64) {
				fprintf(stderr, "connlimit: bad -r\n");
				return 64;
			}
			break;
		default:
			fprintf(stderr, "usage: connlimit [-n inflight] [-p port[-port],...] [-r repeat] hostfile\n");
			return 64;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: connlimit [-n inflight] [-p port[-port],...] [-r repeat] hostfile\n");
		return 64;
	}
	for (size_t n = nports, k = 1; k < (size_t)repeat; k++)
		for (size_t i = 0; i < n; i++)
			if (add_port(ports[i]) < 0) {
				fprintf(stderr, "connlimit: out of memory\n");
				return 1;
			}
	if (read_hosts(argv[optind]) < 0) {
		fprintf(stderr, "connlimit: cannot read %s\n", argv[optind]);
		return 1;
	}
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("connlimit: epoll_create1");
		return 1;
	}
	total = ntargets * nports;
	t0 = now();
	while (next < total || running > 0) {
		while (next < total && running < inflight) {
			int r = start(ep, next++);
			if (r < 0)
				local_err++;
			else
				running += r;
		}
		if (running == 0)
			continue;
		int n = epoll_wait(ep, evs, sizeof(evs) / sizeof(evs[0]), 10000);
		if (n < 0 && errno != EINTR) {
			perror("connlimit: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, err = 0;
			socklen_t el = sizeof(err);

			if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
				err = errno;
			count(err);
			close(fd);	/* also leaves the epoll set */
			running--;
		}
	}
	t1 = now();
	printf("connects=%zu refused=%lu connected=%lu other=%lu at_once=%lu local_errors=%lu "
	    "inflight=%d elapsed=%.4f\n", total, refused, connected, other, at_once, local_err,
	    inflight, t1 - t0);
	return local_err > 0 ? 1 : 0;
}
