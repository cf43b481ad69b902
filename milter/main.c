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
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include <event2/event.h>
#include <libconfig.h>
#include "milter.h"
#include "pmconfig.h"
#include "log.h"

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

static int
daemonize(void)
{
	pid_t p = fork();
	int fd;

	if (p < 0)
		return -1;
	if (p > 0)
		_exit(0);
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

static int
write_pid(const char *path, const struct passwd *pw)
{
	char dir[512], *slash;
	FILE *f;

	if (path == NULL || *path == '\0')
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) == 0 && pw != NULL && geteuid() == 0)
			if (chown(dir, pw->pw_uid, pw->pw_gid) < 0)
				log_msg(LOG_WARNING, "error", "chown %s: %s", dir, strerror(errno));
	}
	if ((f = fopen(path, "w")) == NULL) {
		log_msg(LOG_ERR, "error", "cannot write pid file %s: %s", path, strerror(errno));
		return -1;
	}
	fprintf(f, "%ld\n", (long)getpid());
	fclose(f);
	return 0;
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
	if ((pw = getpwnam(user)) == NULL) {
		log_msg(LOG_ERR, "error", "user \"%s\" does not exist (create it, or set user = \"\")", user);
		return -1;
	}
	*pwp = pw;
	return 0;
}

static int
become(const struct passwd *pw)
{
	if (pw == NULL)
		return 0;
	if (setgroups(0, NULL) < 0 || initgroups(pw->pw_name, pw->pw_gid) < 0 ||
	    setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		log_msg(LOG_ERR, "error", "cannot become %s: %s", pw->pw_name, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		log_msg(LOG_ERR, "error", "privileges could be regained after dropping them");
		return -1;
	}
	return 0;
}

/* settings that only a restart changes */
static void
warn_restart_only(const struct pm_config *o, const struct pm_config *n)
{
	const char *what = NULL;
	if (strcmp(o->socket, n->socket) != 0) what = "socket";
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
	else if (o->syslog_facility != n->syslog_facility) what = "syslog_facility";
	if (what != NULL)
		log_msg(LOG_WARNING, "reload", "%s changed: it takes effect only after a restart", what);
}

static int foreground;

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
	warn_restart_only(o, n);
	log_configure(n->log_level, n->log_stderr || foreground);
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

int
main(int argc, char **argv)
{
	const char *sock_override = NULL;
	bool check_only = false;
	char err[600];
	struct pm_config *cf;
	struct passwd *pw = NULL;
	int ch;
	struct pe_options po;
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
		printf("proxymilter: configuration %s is valid (%zu tests, target %s)\n",
		    cf->file, cf->probe.ntests, cf->probe.target);
		config_unref(cf);
		return EX_OK;
	}

	log_open("proxymilter", cf->syslog_facility);
	log_configure(cf->log_level, cf->log_stderr || foreground);
	if (!foreground && daemonize() < 0) {
		fprintf(stderr, "proxymilter: cannot daemonize: %s\n", strerror(errno));
		return EX_OSERR;
	}
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
		return EX_NOUSER;
	if (smfi_setconn(cf->socket) != MI_SUCCESS || smfi_register(pm_desc) != MI_SUCCESS) {
		log_msg(LOG_ERR, "error", "libmilter refused socket %s", cf->socket);
		return EX_SOFTWARE;
	}
	umask(007);
	if (smfi_opensocket(true) != MI_SUCCESS) {
		log_msg(LOG_ERR, "error", "cannot open milter socket %s (in use? bad address?)", cf->socket);
		return EX_UNAVAILABLE;
	}
	if (pw != NULL && strncmp(cf->socket, "unix:", 5) == 0)
		if (chown(cf->socket + 5, pw->pw_uid, pw->pw_gid) < 0)
			log_msg(LOG_WARNING, "error", "chown %s: %s", cf->socket + 5, strerror(errno));
	if (strncmp(cf->socket, "local:", 6) == 0 && pw != NULL)
		if (chown(cf->socket + 6, pw->pw_uid, pw->pw_gid) < 0)
			log_msg(LOG_WARNING, "error", "chown %s: %s", cf->socket + 6, strerror(errno));

	/* room for the probe budget, the canary's connections and the MTA's */
	{
		struct rlimit rl;
		rlim_t want = (rlim_t)cf->probe.max_inflight * 2 + 256;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
			rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
			if (rl.rlim_cur < want)
				log_msg(LOG_WARNING, "start", "descriptor limit %llu is below %llu "
				    "(probe.max_inflight x 2 + 256): probes may fail with emfile",
				    (unsigned long long)rl.rlim_cur, (unsigned long long)want);
		}
	}
	if ((pm.vt = vt_new((size_t)cf->verdict.max_entries)) == NULL ||
	    (pm.rl = rl_new(65536)) == NULL)
		return EX_OSERR;
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
	po.max_inflight = cf->probe.max_inflight;
	po.max_per_client = cf->probe.max_per_client;
	po.max_queue = cf->probe.max_queue;
	po.max_canary_conns = cf->probe.max_inflight;
	po.read_cap = 4096;
	if ((pm.engine = pe_create(&po, pm_probe_result, pm_probe_done, err, sizeof(err))) == NULL) {
		log_msg(LOG_ERR, "error", "%s", err);
		return EX_UNAVAILABLE;
	}
	if (write_pid(cf->pid_file, pw) < 0)
		return EX_CANTCREAT;
	if (become(pw) < 0)
		return EX_NOPERM;
	config_install(config_ref(cf));
	if (pe_start(pm.engine) < 0) {
		log_msg(LOG_ERR, "error", "cannot start the probe thread: %s", strerror(errno));
		return EX_OSERR;
	}
	sigemptyset(&usr);
	sigaddset(&usr, SIGUSR1);
	sigaddset(&usr, SIGUSR2);
	if (pthread_create(&sigthr, NULL, signal_thread, &usr) != 0) {
		log_msg(LOG_ERR, "error", "cannot start the signal thread");
		return EX_OSERR;
	}
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
	int r = smfi_main();
	pe_stop(pm.engine);
	pm_log_stats();
	log_msg(LOG_NOTICE, "stop", "%s", r == MI_SUCCESS ? "normal shutdown" : "libmilter failed");
	if (cf->pid_file[0] != '\0')
		unlink(cf->pid_file);
	/* libmilter does not wait for running sessions: the table and the
	 * engine object stay allocated until the process exits */
	config_unref(cf);
	return r == MI_SUCCESS ? EX_OK : EX_SOFTWARE;
}
