/*
 * ctl.c - proxymilter-ctl: a command to a running proxymilter through its
 * control socket (control.socket; milter/control.c is the server).
 *
 *   proxymilter-ctl [-s SOCKET] show [ADDR] | flush ADDR|all | stats
 *
 * The words make one command line (ctlcmd.h), checked here with the
 * server's own parser before connecting, and sent in its canonical form.
 * The answer is key=value lines whose last one is "ok" or "error: REASON":
 * the lines before it go to stdout as they come (a show of a big table
 * streams), the last one decides the exit status.
 *
 * Exit: 0 ok; 1 the milter answered an error, or the answer was cut
 * short; 64 usage (bad words, bad address); 69 no milter at the socket
 * (missing, refused, not answering within ANSWER_TIMEOUT).
 *
 * The answer is read with a fixed buffer: a line longer than LINE_MAX is
 * an error, not an allocation (the bytes are the milter's, but still a
 * socket's).
 */
#include "config.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sysexits.h>
#include <unistd.h>
#include "milter/ctlcmd.h"

#define DEFAULT_SOCKET "/run/proxymilter/control.sock"
#define ANSWER_LINE_MAX 4096	/* one line of the answer */
#define ANSWER_TIMEOUT 30	/* seconds without a byte from the milter */

static const char *sock_path = DEFAULT_SOCKET;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: proxymilter-ctl [-s SOCKET] show [ADDR]\n"
	    "       proxymilter-ctl [-s SOCKET] flush ADDR|all\n"
	    "       proxymilter-ctl [-s SOCKET] stats\n"
	    "  -s SOCKET  the milter's control.socket (default %s)\n"
	    "  show       every verdict; show ADDR: one address's\n"
	    "  flush      drop ADDR's verdict (probed again at its next mail), or all\n"
	    "  stats      the milter's counters (its stats log line)\n", DEFAULT_SOCKET);
}

/* connect to the socket; the descriptor, or -1 after a message */
static int
connect_milter(void)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sock_path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "proxymilter-ctl: socket name %s is too long\n", sock_path);
		return -1;
	}
	memcpy(sun.sun_path, sock_path, strlen(sock_path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fprintf(stderr, "proxymilter-ctl: socket: %s\n", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;
		fprintf(stderr, "proxymilter-ctl: cannot connect to %s: %s%s\n", sock_path,
		    strerror(e), e == ENOENT || e == ECONNREFUSED ?
		    " (is proxymilter running, with control.socket set to this path?)" :
		    e == EACCES ? " (be root or in the milter user's group)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/*
 * The answer: every line but the last to stdout, the last one held back
 * until the next comes or the connection ends.  The exit status.
 */
static int
read_answer(int fd)
{
	char buf[ANSWER_LINE_MAX * 2], last[ANSWER_LINE_MAX];
	size_t n = 0, lastlen = 0;
	int have_last = 0;
	struct pollfd p = { fd, POLLIN, 0 };

	for (;;) {
		char *nl;
		ssize_t k;
		int r;

		while ((nl = memchr(buf, '\n', n)) != NULL) {
			size_t ll = (size_t)(nl - buf);
			if (ll >= ANSWER_LINE_MAX)
				break;
			if (have_last && (fwrite(last, 1, lastlen, stdout) != lastlen ||
			    putchar('\n') == EOF)) {
				fprintf(stderr, "proxymilter-ctl: writing the answer: %s\n",
				    strerror(errno));
				return EX_IOERR;
			}
			if (ll > 0 && buf[ll - 1] == '\r')
				ll--;
			memcpy(last, buf, ll);
			lastlen = ll;
			have_last = 1;
			n -= (size_t)(nl - buf) + 1;
			memmove(buf, nl + 1, n);
		}
		if (n >= ANSWER_LINE_MAX || (nl != NULL && nl - buf >= ANSWER_LINE_MAX)) {
			fprintf(stderr, "proxymilter-ctl: an answer line from %s is longer than %d "
			    "bytes\n", sock_path, ANSWER_LINE_MAX);
			return 1;
		}
		do
			r = poll(&p, 1, ANSWER_TIMEOUT * 1000);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			fprintf(stderr, "proxymilter-ctl: no answer from %s within %d s\n",
			    sock_path, ANSWER_TIMEOUT);
			return EX_UNAVAILABLE;
		}
		k = r < 0 ? -1 : recv(fd, buf + n, sizeof(buf) - n, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			fprintf(stderr, "proxymilter-ctl: reading from %s: %s\n", sock_path,
			    strerror(errno));
			return 1;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	fflush(stdout);
	if (n > 0 || !have_last) {
		fprintf(stderr, "proxymilter-ctl: the answer from %s was cut short%s\n", sock_path,
		    n > 0 ? " (a line without its newline)" : " (nothing)");
		return 1;
	}
	last[lastlen] = '\0';
	if (strcmp(last, "ok") == 0)
		return EX_OK;
	/* control bytes in the reason are shown as '?' */
	for (size_t i = 0; i < lastlen; i++)
		if ((unsigned char)last[i] < 0x20 || last[i] == 0x7f)
			last[i] = '?';
	if (strncmp(last, "error: ", 7) == 0)
		fprintf(stderr, "proxymilter-ctl: %s\n", last + 7);
	else
		fprintf(stderr, "proxymilter-ctl: the answer did not end with ok: %s\n", last);
	return 1;
}

int
main(int argc, char **argv)
{
	char line[CTL_LINE_MAX + 1], why[200];
	struct ctl_cmd c;
	size_t n = 0;
	int ch, fd, r;

	while ((ch = getopt(argc, argv, "+s:h")) != -1) {
		switch (ch) {
		case 's': sock_path = optarg; break;
		case 'h': usage(stdout); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return EX_USAGE;
	}
	/* the words as one line, checked by the server's parser */
	for (int i = optind; i < argc; i++) {
		size_t l = strlen(argv[i]);
		if (l == 0) {	/* show "$ADDR" with ADDR unset is not "show" */
			fprintf(stderr, "proxymilter-ctl: an empty argument\n");
			return EX_USAGE;
		}
		if (n + l + 2 > sizeof(line)) {
			fprintf(stderr, "proxymilter-ctl: command longer than %d bytes\n",
			    CTL_LINE_MAX);
			return EX_USAGE;
		}
		if (i > optind)
			line[n++] = ' ';
		memcpy(line + n, argv[i], l);
		n += l;
	}
	if (ctl_parse(line, n, &c, why, sizeof(why)) < 0) {
		fprintf(stderr, "proxymilter-ctl: %s\n", why);
		return EX_USAGE;
	}
	n = ctl_format(&c, line, sizeof(line) - 1);
	line[n++] = '\n';
	if ((fd = connect_milter()) < 0)
		return EX_UNAVAILABLE;
	if (send_all(fd, line, n) < 0) {
		fprintf(stderr, "proxymilter-ctl: writing to %s: %s\n", sock_path, strerror(errno));
		close(fd);
		return EX_UNAVAILABLE;
	}
	shutdown(fd, SHUT_WR);
	r = read_answer(fd);
	close(fd);
	return r;
}
