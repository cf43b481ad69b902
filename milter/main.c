/*
 * main.c - proxymilter: options, configuration, start-up order, signals.
 *
 * Start-up order: parse and check the config (fail before forking) ->
 * daemonize unless -f -> block HUP/TERM/INT/USR1/USR2, ignore PIPE ->
 * register with libmilter and open its socket -> create the probe engine
 * and its canary listener -> pid file -> drop privileges -> start the engine
 * thread and our signal thread -> smfi_main().  SIGHUP/SIGTERM/SIGINT belong
 * to libmilter (they stop the daemon); SIGUSR1 reloads, SIGUSR2 logs stats.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <sysexits.h>
#include <unistd.h>
#include <event2/event.h>
#include <libconfig.h>
#include "milter.h"
#include "pmconfig.h"
#include "log.h"
#include "guard.h"
#include "side.h"
#include "fleet.h"
#include "metrics.h"
#include "persist.h"
#include "control.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/proxymilter.conf"

static const char *config_file;		/* NULL: built-in defaults */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: proxymilter [-c config] [-f] [-p socket] [-t] [-V] [-h]\n"
	    "  -c FILE  configuration file (default %s; built-in defaults if it is missing)\n"
	    "  -f       stay in the foreground, log to stderr as well\n"
	    "  -p SPEC  milter socket, overrides 'socket' (inet:PORT@HOST, inet6:PORT@HOST, unix:/path)\n"
	    "  -t       check the configuration and exit (0 good, %d bad)\n"
	    "  -V       print the version and exit\n"
	    "  -h       this help\n", DEFAULT_CONFIG, EX_CONFIG);
}

static void
version(void)
{
	unsigned int maj, min, pl;
	smfi_version(&maj, &min, &pl);
	printf("proxymilter %s (libmilter %u.%u.%u, libevent %s, libconfig %d.%d)\n",
	    PACKAGE_VERSION, maj, min, pl, event_get_version(),
	    LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR);
}

/*
 * Start-up errors: logged, and also told to whoever started us.  In daemon
 * mode the parent waits on a pipe until the daemon is ready (socket bound,
 * pid file written, privileges dropped, threads running) or has failed,
 * and exits with the daemon's status and message.
 */
static int ready_fd = -1;	/* daemon: the pipe to the waiting parent */
static void pid_remove(void);
static int foreground;
static int to_stderr;		/* log lines go to stderr as well */

static int
startup_fail(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
startup_fail(int code, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_ERR, "error", "%s", msg);
	pid_remove();
	if (ready_fd >= 0) {
		dprintf(ready_fd, "%d %s", code, msg);
		close(ready_fd);
		ready_fd = -1;
	} else if (!to_stderr) {
		fprintf(stderr, "proxymilter: %s\n", msg);
	}
	log_async_stop();
	return code;
}

static void
startup_ready(void)
{
	if (ready_fd >= 0) {
		if (write(ready_fd, "0 ready", 7) < 0)
			log_msg(LOG_WARNING, "start", "cannot tell the parent: %s", strerror(errno));
		close(ready_fd);
		ready_fd = -1;
	}
}

/* the parent's side: wait for "CODE message" from the daemon */
static int
wait_ready(int fd)
{
	char buf[700];
	size_t n = 0;
	ssize_t r;
	int code;

	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (n == 0 || sscanf(buf, "%d", &code) != 1) {
		fprintf(stderr, "proxymilter: the daemon ended during start-up (see syslog)\n");
		return EX_SOFTWARE;
	}
	if (code != 0)
		fprintf(stderr, "proxymilter: %s\n", strchr(buf, ' ') ? strchr(buf, ' ') + 1 : buf);
	return code;
}

static int
daemonize(void)
{
	int pfd[2], fd;
	pid_t p;

	if (pipe(pfd) < 0)
		return -1;
	if ((p = fork()) < 0)
		return -1;
	if (p > 0) {
		close(pfd[1]);
		_exit(wait_ready(pfd[0]));
	}
	close(pfd[0]);
	ready_fd = pfd[1];
	if (setsid() < 0)
		return -1;
	if ((p = fork()) < 0)
		return -1;
	if (p > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

/*
 * The pid file is locked (flock) for as long as we run: a second instance
 * with the same file refuses to start instead of taking it over, and we
 * remove only the file we locked.
 */
static int pid_fd = -1;
static const char *pid_path;

static int
pid_lock(const char *path, const struct passwd *pw)
{
	char dir[512], *slash, buf[32];
	ssize_t n;

	if (path == NULL || *path == '\0')
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0 && pw != NULL && geteuid() == 0)
			if (chown(dir, pw->pw_uid, pw->pw_gid) < 0)
				log_msg(LOG_WARNING, "error", "chown %s: %s", dir, strerror(errno));
	}
	if ((pid_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0)
		return startup_fail(EX_CANTCREAT, "cannot open pid file %s: %s", path, strerror(errno));
	if (flock(pid_fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		n = pread(pid_fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		close(pid_fd);
		pid_fd = -1;
		if (e == EWOULDBLOCK)
			return startup_fail(EX_UNAVAILABLE, "pid file %s is locked: proxymilter "
			    "is already running (pid %s)", path, buf[0] ? buf : "?");
		return startup_fail(EX_CANTCREAT, "cannot lock pid file %s: %s", path, strerror(e));
	}
	pid_path = path;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(pid_fd, 0) < 0 || pwrite(pid_fd, buf, (size_t)n, 0) != n)
		return startup_fail(EX_CANTCREAT, "cannot write pid file %s: %s", path, strerror(errno));
	return 0;
}

/* remove the pid file if it is still the one we locked */
static void
pid_remove(void)
{
	struct stat a, b;

	if (pid_fd < 0)
		return;
	if (pid_path != NULL && fstat(pid_fd, &a) == 0 && stat(pid_path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		unlink(pid_path);
	close(pid_fd);
	pid_fd = -1;
}

static int
drop_privileges(const char *user, struct passwd **pwp)
{
	struct passwd *pw;

	*pwp = NULL;
	if (geteuid() != 0) {
		return 0;	/* not root: nothing to drop */
	}
	if (user == NULL || *user == '\0') {
		log_msg(LOG_WARNING, "start", "running as root: set 'user' to drop privileges");
		return 0;
	}
	if ((pw = getpwnam(user)) == NULL)
		return -1;
	*pwp = pw;
	return 0;
}

/* NULL, or what went wrong */
static const char *
become(const struct passwd *pw)
{
	static char why[200];

	if (pw == NULL)
		return NULL;
	if (setgroups(0, NULL) < 0 || initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		snprintf(why, sizeof(why), "cannot become %s: %s", pw->pw_name, strerror(errno));
		return why;
	}
	if (setuid(0) == 0)
		return "privileges could be regained after dropping them";
	return NULL;
}

/* settings that only a restart changes */
static void
warn_restart_only(const struct pm_config *o, const struct pm_config *n)
{
	const char *what = NULL;
	if (strcmp(o->socket, n->socket) != 0) what = "socket";
	else if (o->socket_mode != n->socket_mode) what = "socket_mode";
	else if (strcmp(o->socket_group, n->socket_group) != 0) what = "socket_group";
	else if (strcmp(o->user, n->user) != 0) what = "user";
	else if (strcmp(o->pid_file, n->pid_file) != 0) what = "pid_file";
	else if (strcmp(o->probe.canary_listen_text, n->probe.canary_listen_text) != 0) what = "probe.canary_listen";
	else if (strcmp(o->probe.canary_address_text, n->probe.canary_address_text) != 0) what = "probe.canary_address";
	else if (strcmp(o->probe.target, n->probe.target) != 0) what = "probe.target";
	else if (strcmp(o->probe.mta_address, n->probe.mta_address) != 0) what = "probe.mta_address";
	else if (strcmp(o->probe.banner, n->probe.banner) != 0) what = "probe.banner";
	else if (o->probe.max_inflight != n->probe.max_inflight) what = "probe.max_inflight";
	else if (o->probe.max_per_client != n->probe.max_per_client) what = "probe.max_per_client";
	else if (o->probe.max_queue != n->probe.max_queue) what = "probe.max_queue";
	else if (o->probe.max_queue_wait != n->probe.max_queue_wait) what = "probe.max_queue_wait";
	else if (o->syslog_facility != n->syslog_facility) what = "syslog_facility";
	else if (strcmp(o->dns.resolver, n->dns.resolver) != 0) what = "dns.resolver";
	else if (o->dns.timeout != n->dns.timeout) what = "dns.timeout";
	else if (strcmp(o->fleet.redis, n->fleet.redis) != 0) what = "fleet.redis";
	else if (strcmp(o->fleet.key_prefix, n->fleet.key_prefix) != 0) what = "fleet.key_prefix";
	else if (strcmp(o->fleet.password, n->fleet.password) != 0) what = "fleet.password";
	else if (o->fleet.database != n->fleet.database) what = "fleet.database";
	else if (o->fleet.timeout != n->fleet.timeout) what = "fleet.timeout";
	else if (strcmp(o->state.file, n->state.file) != 0) what = "state.file";
	else if (o->state.save_interval != n->state.save_interval) what = "state.save_interval";
	else if (strcmp(o->exp.rbldnsd_zone, n->exp.rbldnsd_zone) != 0) what = "export.rbldnsd_zone";
	else if (o->exp.interval != n->exp.interval) what = "export.interval";
	else if (strcmp(o->metrics.listen, n->metrics.listen) != 0) what = "metrics.listen";
	else if (strcmp(o->control.socket, n->control.socket) != 0) what = "control.socket";
	if (what != NULL)
		log_msg(LOG_WARNING, "reload", "%s changed: it takes effect only after a restart", what);
}

static const char *sock_override;	/* -p */

static void
reload(void)
{
	char err[600];
	struct pm_config *n = config_load(config_file, err, sizeof(err));
	struct pm_config *o = config_current();
	struct lb l;

	lb_init(&l, NULL, "reload");
	lb_kv(&l, "file", config_file ? config_file : "(built-in defaults)");
	if (n == NULL) {
		lb_kv(&l, "result", "failed");
		lb_kv(&l, "error", err);
		lb_emit(&l, LOG_ERR);
		config_unref(o);
		return;
	}
	if (sock_override != NULL) {	/* -p still rules */
		free(n->socket);
		if ((n->socket = strdup(sock_override)) == NULL) {
			log_msg(LOG_ERR, "reload", "out of memory");
			config_unref(n);
			config_unref(o);
			return;
		}
	}
	warn_restart_only(o, n);
	log_configure(n->log_level, n->log_stderr || to_stderr);
	vt_set_max(pm.vt, (size_t)n->verdict.max_entries);
	config_unref(o);
	config_install(n);
	lb_kv(&l, "result", "ok");
	lb_emit(&l, LOG_NOTICE);
}

static void *
signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGUSR1)
			reload();
		else if (sig == SIGUSR2)
			pm_log_stats();
	}
	return NULL;
}

/* unix socket: mode and group as configured, owner the user we become */
static int
socket_perms(const struct pm_config *cf, const struct passwd *pw)
{
	const char *path;
	gid_t gid = (gid_t)-1;
	struct group *gr;

	if (strncmp(cf->socket, "unix:", 5) == 0)
		path = cf->socket + 5;
	else if (strncmp(cf->socket, "local:", 6) == 0)
		path = cf->socket + 6;
	else
		return 0;
	if (cf->socket_group[0] != '\0') {
		if ((gr = getgrnam(cf->socket_group)) == NULL)
			return startup_fail(EX_NOUSER, "socket_group: no group \"%s\"", cf->socket_group);
		gid = gr->gr_gid;
	} else if (pw != NULL) {
		gid = pw->pw_gid;
	}
	if (chown(path, pw != NULL ? pw->pw_uid : (uid_t)-1, gid) < 0)
		return startup_fail(EX_NOPERM, "chown %s: %s", path, strerror(errno));
	if (chmod(path, (mode_t)cf->socket_mode) < 0)
		return startup_fail(EX_NOPERM, "chmod %s: %s", path, strerror(errno));
	return 0;
}

/*
 * Room for the probe budget (a socket per test, a canary connection per
 * tunnel) and for the MTA's connections.  When the limit cannot be raised
 * that far, the probe budget shrinks to what leaves a quarter (at least 32)
 * of the descriptors to libmilter: with none left, libmilter's accept loop
 * spins on EMFILE and the MTA waits.  Returns the budget to use.
 */
static int
fd_budget(const struct pm_config *cf)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cf->probe.max_inflight * 2 + 256, reserve;
	long budget;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return cf->probe.max_inflight;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur >= want)
		return cf->probe.max_inflight;
	reserve = rl.rlim_cur / 4 > 32 ? rl.rlim_cur / 4 : 32;
	budget = rl.rlim_cur > reserve + 2 ? (long)(rl.rlim_cur - reserve) / 2 : 1;
	if (budget > cf->probe.max_inflight)
		budget = cf->probe.max_inflight;
	log_msg(LOG_WARNING, "start", "descriptor limit %llu is below %llu "
	    "(probe.max_inflight x 2 + 256): probe sockets limited to %ld, leaving "
	    "%llu descriptors to the MTA's connections; raise the limit "
	    "(ulimit -n, LimitNOFILE=)", (unsigned long long)rl.rlim_cur,
	    (unsigned long long)want, budget, (unsigned long long)reserve);
	return (int)budget;
}

static struct pe_engine *
make_engine(const struct pm_config *cf, int max_inflight, char *err, size_t errlen)
{
	struct pe_options po;

	memset(&po, 0, sizeof(po));
	po.target_kind = cf->probe.target_kind;
	snprintf(po.banner, sizeof(po.banner), "%s", cf->probe.banner);
	if (cf->probe.target_kind == PE_TARGET_CANARY) {
		po.canary_listen = cf->probe.canary_listen;
		po.canary_listen_len = cf->probe.canary_listen_len;
		po.canary_target = cf->probe.canary_address;
		po.canary_target_len = cf->probe.canary_address_len;
	} else {
		po.canary_target = cf->probe.target_addr;
		po.canary_target_len = cf->probe.target_addr_len;
	}
	po.max_inflight = max_inflight;
	po.max_per_client = cf->probe.max_per_client;
	po.max_queue = cf->probe.max_queue;
	po.max_queue_wait = cf->probe.max_queue_wait;
	po.max_canary_conns = max_inflight;
	po.read_cap = 4096;
	snprintf(po.dns_resolver, sizeof(po.dns_resolver), "%s", cf->dns.resolver);
	po.dns_timeout = cf->dns.timeout;
	return pe_create(&po, pm_probe_result, pm_probe_done, err, errlen);
}

int
main(int argc, char **argv)
{
	bool check_only = false;
	char err[600];
	struct pm_config *cf;
	struct passwd *pw = NULL;
	int ch, r, max_inflight;
	const char *why;
	sigset_t all, usr;
	pthread_t sigthr;

	while ((ch = getopt(argc, argv, "c:fp:tVh")) != -1) {
		switch (ch) {
		case 'c': config_file = optarg; break;
		case 'f': foreground = 1; break;
		case 'p': sock_override = optarg; break;
		case 't': check_only = true; break;
		case 'V': version(); return EX_OK;
		case 'h': usage(stdout); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (sock_override != NULL && !config_socket_ok(sock_override, err, sizeof(err))) {
		fprintf(stderr, "proxymilter: -p \"%s\": %s\n", sock_override, err);
		return EX_USAGE;
	}
	if (config_file == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		config_file = DEFAULT_CONFIG;
	if ((cf = config_load(config_file, err, sizeof(err))) == NULL) {
		fprintf(stderr, "proxymilter: %s\n", err);
		return EX_CONFIG;
	}
	if (sock_override != NULL) {
		free(cf->socket);
		if ((cf->socket = strdup(sock_override)) == NULL)
			return EX_OSERR;
	}
	if (check_only) {
		printf("proxymilter: configuration %s is valid (%zu tests, target %s, socket %s)\n",
		    cf->file, cf->probe.ntests, cf->probe.target, cf->socket);
		config_unref(cf);
		return EX_OK;
	}

	/*
	 * -f: stay in the foreground.  Lines go to syslog, and to stderr too
	 * when log_stderr is set or stderr is a terminal; under systemd,
	 * stderr is the journal, which has them from syslog already.
	 */
	to_stderr = cf->log_stderr || (foreground && isatty(STDERR_FILENO));
	log_open("proxymilter", cf->syslog_facility);
	log_configure(cf->log_level, to_stderr);
	if (!foreground && daemonize() < 0)
		return startup_fail(EX_OSERR, "cannot daemonize: %s", strerror(errno));
	if (gethostname(pm.hostname, sizeof(pm.hostname) - 1) < 0)
		snprintf(pm.hostname, sizeof(pm.hostname), "localhost");

	/* signals: libmilter's own thread takes HUP/TERM/INT; ours takes USR1/USR2 */
	sigemptyset(&all);
	sigaddset(&all, SIGHUP);
	sigaddset(&all, SIGTERM);
	sigaddset(&all, SIGINT);
	sigaddset(&all, SIGUSR1);
	sigaddset(&all, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (drop_privileges(cf->user, &pw) < 0)
		return startup_fail(EX_NOUSER, "user \"%s\" does not exist (create it, or set user = \"\")",
		    cf->user);
	if ((r = pid_lock(cf->pid_file, pw)) != 0)
		return r;
	if (smfi_setconn(cf->socket) != MI_SUCCESS || smfi_register(pm_desc) != MI_SUCCESS)
		return startup_fail(EX_SOFTWARE, "libmilter refused socket %s", cf->socket);
	umask(077);	/* the socket's mode is set right after */
	if (smfi_opensocket(true) != MI_SUCCESS)
		return startup_fail(EX_UNAVAILABLE, "cannot open milter socket %s (in use? bad address?)",
		    cf->socket);
	umask(022);
	if ((r = socket_perms(cf, pw)) != 0)
		return r;
	max_inflight = fd_budget(cf);
	if ((pm.vt = vt_new((size_t)cf->verdict.max_entries)) == NULL ||
	    (pm.rl = rl_new(65536)) == NULL)
		return startup_fail(EX_OSERR, "out of memory");
	if ((pm.engine = make_engine(cf, max_inflight, err, sizeof(err))) == NULL)
		return startup_fail(EX_UNAVAILABLE, "%s", err);
	if ((why = become(pw)) != NULL)
		return startup_fail(EX_NOPERM, "%s", why);
	config_install(config_ref(cf));
	log_async_start();
	/* the table as it was (state.file), then the ways to share and show it */
	if (persist_start(cf, err, sizeof(err)) < 0 ||
	    fleet_init(cf, err, sizeof(err)) < 0 ||
	    metrics_start(side_base(), cf, err, sizeof(err)) < 0 ||
	    control_start(cf, pw, err, sizeof(err)) < 0)
		return startup_fail(EX_UNAVAILABLE, "%s", err);
	if (side_start() < 0)
		return startup_fail(EX_OSERR, "cannot start the side thread: %s", strerror(errno));
	if (pe_start(pm.engine) < 0)
		return startup_fail(EX_OSERR, "cannot start the probe thread: %s", strerror(errno));
	sigemptyset(&usr);
	sigaddset(&usr, SIGUSR1);
	sigaddset(&usr, SIGUSR2);
	if (pthread_create(&sigthr, NULL, signal_thread, &usr) != 0)
		return startup_fail(EX_OSERR, "cannot start the signal thread");
	pthread_detach(sigthr);
	{
		struct lb l;
		lb_init(&l, NULL, "start");
		lb_kv(&l, "version", PACKAGE_VERSION);
		lb_kv(&l, "config", cf->file);
		lb_kv(&l, "socket", cf->socket);
		lb_kv(&l, "target", cf->probe.target);
		if (cf->probe.target_kind == PE_TARGET_CANARY)
			lb_kv(&l, "canary", cf->probe.canary_listen_text);
		lb_kvf(&l, "tests", "%zu", cf->probe.ntests);
		lb_kv(&l, "mode", cf->mode == MODE_OBSERVE ? "observe" : "enforce");
		lb_kv(&l, "stage", stage_name(cf->action.stage));
		lb_emit(&l, LOG_NOTICE);
	}
	/* is our own outbound path honest?  (on_fail = stop: not started) */
	if (guard_selftest_start(cf) == 1) {
		pe_stop(pm.engine);
		return startup_fail(EX_UNAVAILABLE, "self-test: %s answered: our outbound traffic "
		    "is intercepted (selftest.on_fail = stop)", cf->selftest.address);
	}
	if (guard_start(cf) < 0)
		return startup_fail(EX_OSERR, "cannot start the self-test thread");
	startup_ready();
	r = smfi_main();
	control_stop();
	fleet_stop();
	pe_stop(pm.engine);
	persist_stop();
	side_stop();
	pm_log_stats();
	log_msg(LOG_NOTICE, "stop", "%s", r == MI_SUCCESS ? "normal shutdown" : "libmilter failed");
	log_async_stop();
	pid_remove();
	/* libmilter does not wait for running sessions: the table and the
	 * engine object stay allocated until the process exits */
	config_unref(cf);
	if (guard_failed())
		return EX_UNAVAILABLE;	/* a later self-test said stop */
	return r == MI_SUCCESS ? EX_OK : EX_SOFTWARE;
}
