/*
 * control.c - the control socket (control.socket) that proxymilter-ctl
 * talks to: show the verdict table, flush verdicts, print the stats line.
 *
 * Protocol (ctlcmd.h has the language): the client connects and writes
 * one command line (at most 512 bytes, "\n" ended); the server writes the
 * answer, key=value lines like the logs whose last line is "ok" or
 * "error: REASON", and closes.  Anything after the first newline is not
 * read.
 *
 * Decisions:
 *  - A unix socket only, made after privileges are dropped, so it belongs
 *    to the milter's user; group its primary group, mode 0660: who may
 *    flush verdicts is who may be in that group (and root).  The peer's
 *    uid (SO_PEERCRED) is logged with each flush.
 *  - A socket file left by a dead milter is removed, after a connect to it
 *    is refused (nobody answers); a live one, or anything at the path that
 *    is not a socket, is a start-up error: never unlink what is not ours.
 *    control_stop removes the file only if it is still the one we made.
 *  - A thread of its own, one connection at a time: the requests are rare
 *    and short, and the table is read with its own locks (vt_get, vt_walk:
 *    a stripe at a time), so nothing of the milter's sessions waits on a
 *    client.  A client gets CTL_TIMEOUT (5 s) for its command and for each
 *    write of the answer to make progress; one that holds the connection
 *    delays the next one by at most that.  control_stop wakes the thread
 *    out of any wait (a pipe).
 *  - "show" of everything streams through vt_walk and a fixed buffer: the
 *    table may hold a million entries, the answer is never built whole.
 *  - Every flush is logged: "flush client=[ADDR]|all by=control uid=N
 *    flushed=N"; fleet_flush tells Redis and the peers (fleet.h).
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "control.h"
#include "ctlcmd.h"
#include "fleet.h"
#include "log.h"
#include "milter.h"
#include "pmconfig.h"

#define OUT_BUF 8192

static struct {
	int fd;				/* listening; -1 when off */
	int wake[2];			/* control_stop -> the thread */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;			/* the socket file we made */
	ino_t ino;
	pthread_t thr;
	int running;
} ctl = { -1, { -1, -1 }, "", 0, 0, 0, 0 };

/* an answer on its way out: a fixed buffer, flushed as it fills */
struct out {
	int fd;
	char buf[OUT_BUF];
	size_t n;
	int failed;			/* the client is gone, stalled, or we stop */
};

/*
 * Wait until fd is ready for ev or the deadline (ms from now) passes; 1
 * ready, 0 timeout, -1 stopping (the wake pipe) or an error.
 */
static int
wait_fd(int fd, short ev, int ms)
{
	struct pollfd p[2] = { { fd, ev, 0 }, { ctl.wake[0], POLLIN, 0 } };
	int r;

	do
		r = poll(p, 2, ms);
	while (r < 0 && errno == EINTR);
	if (r < 0 || (p[1].revents & POLLIN))
		return -1;
	if (r == 0)
		return 0;
	return 1;
}

static void
out_flush(struct out *o)
{
	size_t sent = 0;
	ssize_t k;
	int r;

	/* send first, wait when the socket is full: a last error line still
	 * goes out while the milter stops */
	while (sent < o->n && !o->failed) {
		k = send(o->fd, o->buf + sent, o->n - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k > 0) {
			sent += (size_t)k;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			o->failed = 1;
			break;
		}
		if ((r = wait_fd(o->fd, POLLOUT, CTL_TIMEOUT * 1000)) <= 0) {
			if (r == 0)
				log_msg(LOG_INFO, "control-error",
				    "client stopped reading for %d s: answer cut", CTL_TIMEOUT);
			o->failed = 1;
		}
	}
	o->n = 0;
}

/* one line of the answer; a newline is added */
static void
out_line(struct out *o, const char *s)
{
	size_t len = strlen(s);

	if (o->failed)
		return;
	if (len + 1 > sizeof(o->buf))
		len = sizeof(o->buf) - 1;
	if (o->n + len + 1 > sizeof(o->buf))
		out_flush(o);
	memcpy(o->buf + o->n, s, len);
	o->n += len;
	o->buf[o->n++] = '\n';
}

static void
out_error(struct out *o, const char *why)
{
	char line[CTL_LINE_MAX + 64];

	snprintf(line, sizeof(line), "error: %s", why);
	out_line(o, line);
}

struct walk {
	struct out *o;
	double now;
};

static int
show_one(const struct vt_entry *e, void *arg)
{
	struct walk *w = arg;
	char line[CTL_ANSWER_MAX];

	ctl_show_line(&e->a, &e->v, w->now, line, sizeof(line));
	out_line(w->o, line);
	return w->o->failed;
}

static void
log_flush(const char *client, long uid, size_t n)
{
	struct lb l;

	lb_init(&l, NULL, "flush");
	lb_kv(&l, "client", client);
	lb_kv(&l, "by", "control");
	if (uid >= 0)
		lb_kvf(&l, "uid", "%ld", uid);
	lb_kvf(&l, "flushed", "%zu", n);
	lb_emit(&l, LOG_NOTICE);
}

/* carry out a parsed command, the answer into o */
static void
run(const struct ctl_cmd *c, long uid, struct out *o)
{
	char line[CTL_ANSWER_MAX], addr[64], client[70];
	struct vt_info v;
	struct lb l;
	double now = vt_now();
	size_t n;
	int fl;

	switch (c->op) {
	case CTL_SHOW_ALL: {
		struct walk w = { o, now };
		int r = vt_walk(pm.vt, now, show_one, &w);
		if (r < 0)
			out_error(o, "out of memory");
		else if (!o->failed)
			out_line(o, "ok");
		return;
	}
	case CTL_SHOW:
		vt_get(pm.vt, &c->a, now, &v);
		ctl_show_line(&c->a, &v, now, line, sizeof(line));
		out_line(o, line);
		break;
	case CTL_FLUSH:
	case CTL_FLUSH_ALL:
		if (c->op == CTL_FLUSH) {
			n = (size_t)vt_flush(pm.vt, &c->a);
			fl = fleet_flush(&c->a);
			snprintf(client, sizeof(client), "[%s]", pm_addr_str(&c->a, addr, sizeof(addr)));
		} else {
			n = vt_flush_all(pm.vt);
			fl = fleet_flush(NULL);
			snprintf(client, sizeof(client), "all");
		}
		log_flush(client, uid, n);
		snprintf(line, sizeof(line), "flushed=%zu", n);
		out_line(o, line);
		if (fl < 0)
			out_line(o, "redis=down (not flushed there nor on the other MX hosts)");
		break;
	case CTL_STATS:
		pm_stats_line(&l);
		l.buf[l.len < sizeof(l.buf) ? l.len : sizeof(l.buf) - 1] = '\0';
		out_line(o, l.buf);
		break;
	}
	out_line(o, "ok");
}

/*
 * Read the command: up to its first newline, at most CTL_LINE_MAX bytes,
 * within CTL_TIMEOUT.  Its length, or -1 with why.
 */
static ssize_t
read_command(int fd, char *buf, size_t len, char *why, size_t whylen)
{
	double deadline = vt_now() + CTL_TIMEOUT;
	size_t n = 0;
	ssize_t k;
	char *nl;
	int r;

	for (;;) {
		double left = deadline - vt_now();
		if (left <= 0 || (r = wait_fd(fd, POLLIN, (int)(left * 1000) + 1)) == 0) {
			snprintf(why, whylen, n == 0 ? "no command within %d s" :
			    "command not ended by a newline within %d s", CTL_TIMEOUT);
			return -1;
		}
		if (r < 0) {
			snprintf(why, whylen, "the milter is stopping");
			return -1;
		}
		k = recv(fd, buf + n, len - n, MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			continue;
		if (k < 0) {
			snprintf(why, whylen, "read: %s", strerror(errno));
			return -1;
		}
		if (k == 0) {
			snprintf(why, whylen, n == 0 ? "no command" : "command not ended by a newline");
			return -1;
		}
		if ((nl = memchr(buf + n, '\n', (size_t)k)) != NULL)
			return nl - buf + 1;
		n += (size_t)k;
		if (n == len) {
			snprintf(why, whylen, "command longer than %d bytes", CTL_LINE_MAX);
			return -1;
		}
	}
}

static long
peer_uid(int fd)
{
#ifdef SO_PEERCRED
	struct ucred uc;
	socklen_t sl = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &sl) == 0)
		return (long)uc.uid;
#else
	(void)fd;
#endif
	return -1;
}

static void
serve(int fd)
{
	char buf[CTL_LINE_MAX], why[CTL_LINE_MAX];
	struct ctl_cmd c;
	struct out o;
	ssize_t n;
	long uid = peer_uid(fd);

	memset(&o, 0, sizeof(o));
	o.fd = fd;
	why[0] = '\0';
	if ((n = read_command(fd, buf, sizeof(buf), why, sizeof(why))) < 0 ||
	    ctl_parse(buf, (size_t)n, &c, why, sizeof(why)) < 0) {
		struct lb l;
		lb_init(&l, NULL, "control-error");
		lb_kv(&l, "reason", why);
		if (uid >= 0)
			lb_kvf(&l, "uid", "%ld", uid);
		lb_emit(&l, LOG_INFO);
		out_error(&o, why);
	} else {
		run(&c, uid, &o);
	}
	out_flush(&o);
}

static void *
loop(void *arg)
{
	int fd, r;

	(void)arg;
	for (;;) {
		if ((r = wait_fd(ctl.fd, POLLIN, -1)) < 0)
			break;
		fd = accept4(ctl.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* no descriptor: the client waits in the backlog */
				log_msg(LOG_WARNING, "control-error", "accept: %s", strerror(errno));
				if (wait_fd(ctl.wake[0], POLLIN, 1000) != 0)
					break;
			}
			continue;
		}
		serve(fd);
		close(fd);
	}
	return NULL;
}

/* is something answering at path (a live socket)?  1 yes, 0 no, -1 error */
static int
answering(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), r, e;

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 || errno == EAGAIN)
		r = 1;		/* EAGAIN: a listener with a full backlog */
	else
		r = errno == ECONNREFUSED ? 0 : -1;
	e = errno;
	close(fd);
	errno = e;
	return r;
}

static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* a start-up error: the message, ": strerror(e)" when e is not 0 */
static int
fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
	char m[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m, sizeof(m), fmt, ap);
	va_end(ap);
	if (e != 0)
		snprintf(err, errlen, "%s: %s", m, strerror(e));
	else
		snprintf(err, errlen, "%s", m);
	if (ctl.fd >= 0)
		close(ctl.fd);
	ctl.fd = -1;
	return -1;
}

int
control_start(const struct pm_config *cf, const struct passwd *pw, char *err, size_t errlen)
{
	const char *path = cf->control.socket;
	struct sockaddr_un sun;
	struct stat st;
	struct lb l;
	int r, stale = 0;

	if (path[0] == '\0')
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return fail(err, errlen, 0, "control.socket %s: name too long for a unix socket", path);
	memcpy(sun.sun_path, path, strlen(path));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return fail(err, errlen, 0, "control.socket %s exists and is not a socket: "
			    "refusing to replace it", path);
		if ((r = answering(&sun)) == 1)
			return fail(err, errlen, 0, "control.socket %s: another process answers on it "
			    "(is a proxymilter running already?)", path);
		if (r < 0)
			return fail(err, errlen, errno, "control.socket %s: cannot tell whether it "
			    "is in use", path);
		if (unlink(path) < 0)
			return fail(err, errlen, errno, "control.socket %s: cannot remove the stale "
			    "socket", path);
		stale = 1;
	} else if (errno != ENOENT) {
		return fail(err, errlen, errno, "control.socket %s", path);
	}
	if ((ctl.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		return fail(err, errlen, errno, "control.socket %s: socket", path);
	/* the umask in force (022) leaves it writable by us alone until the chmod */
	if (bind(ctl.fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		r = errno;
		if (r == ENOENT || r == EACCES)
			return fail(err, errlen, r, "cannot bind control.socket %s (its directory must "
			    "exist and be writable by user %s)", path,
			    pw != NULL ? pw->pw_name : "the milter runs as");
		return fail(err, errlen, r, "cannot bind control.socket %s", path);
	}
	if ((pw != NULL && chown(path, (uid_t)-1, pw->pw_gid) < 0) || chmod(path, 0660) < 0 ||
	    stat(path, &st) < 0) {
		r = errno;
		unlink(path);
		return fail(err, errlen, r, "control.socket %s: chown/chmod", path);
	}
	ctl.dev = st.st_dev;
	ctl.ino = st.st_ino;
	snprintf(ctl.path, sizeof(ctl.path), "%s", path);
	if (listen(ctl.fd, 16) < 0 || pipe2(ctl.wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = errno;
		unlink(path);
		return fail(err, errlen, r, "control.socket %s: listen", path);
	}
	if ((r = pthread_create(&ctl.thr, NULL, loop, NULL)) != 0) {
		unlink(path);
		close(ctl.wake[0]);
		close(ctl.wake[1]);
		ctl.wake[0] = ctl.wake[1] = -1;
		return fail(err, errlen, r, "control.socket %s: cannot start its thread", path);
	}
	ctl.running = 1;
	lb_init(&l, NULL, "control-start");
	lb_kv(&l, "socket", path);
	lb_kv(&l, "mode", "0660");
	if (stale)	/* a dead milter's: nobody answered on it */
		lb_kv(&l, "stale", "removed");
	lb_emit(&l, stale ? LOG_NOTICE : LOG_INFO);
	return 0;
}

void
control_stop(void)
{
	struct stat st;

	if (!ctl.running)
		return;
	while (write(ctl.wake[1], "x", 1) < 0 && errno == EINTR)
		;
	pthread_join(ctl.thr, NULL);
	ctl.running = 0;
	close(ctl.fd);
	ctl.fd = -1;
	/* only our socket: a successor may have taken the path meanwhile */
	if (lstat(ctl.path, &st) == 0 && st.st_dev == ctl.dev && st.st_ino == ctl.ino)
		unlink(ctl.path);
	close(ctl.wake[0]);
	close(ctl.wake[1]);
	ctl.wake[0] = ctl.wake[1] = -1;
}
