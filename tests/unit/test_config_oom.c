/*
 * configuration out of memory: milter/config.c, confget.c and cidr.c are
 * compiled in here with calloc, realloc and strdup (what they allocate
 * with) that fail the Nth call, and in a second sweep every call from the
 * Nth on.  For every N up to the first load that needs no more than N-1
 * allocations, the load must fail with "file: out of memory" (cidr.c:
 * "file:line: out of memory"), never crash, never succeed with something
 * missing; under ASan nothing may leak.  libconfig and libc allocate on
 * their own and are not failed here.
 */
#include "config.h"
/* what the files below include, before their allocators are renamed */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <libconfig.h>
#include "t.h"

static long oom_n;		/* the call that fails, from 1; 0: none */
static int oom_after;		/* the calls after it fail too */
static long oom_calls;

static int
oom_fail(void)
{
	oom_calls++;
	return oom_n > 0 && (oom_calls == oom_n || (oom_after && oom_calls > oom_n));
}

static void *
oom_calloc(size_t n, size_t size)
{
	return oom_fail() ? NULL : calloc(n, size);
}

static void *
oom_realloc(void *p, size_t n)
{
	return oom_fail() ? NULL : realloc(p, n);
}

static char *
oom_strdup(const char *s)
{
	return oom_fail() ? NULL : strdup(s);
}

#define calloc(n, size) oom_calloc(n, size)
#define realloc(p, n) oom_realloc(p, n)
#define strdup(s) oom_strdup(s)
#include "milter/cidr.c"
#include "milter/confget.c"
#include "milter/config.c"
#include "milter/confrep.c"
#undef calloc
#undef realloc
#undef strdup

/* every key that allocates, user tags included */
static const char full[] =
    "socket = \"unix:/run/pm.sock\"; socket_group = \"\";\n"
    "user = \"pm\"; pid_file = \"/run/pm.pid\"; log_level = \"debug\";\n"
    "allow = [ \"192.0.2.0/24\", \"2001:db8::/32\" ];\n"
    "skip_daemon_names = [ \"ORIGINATING\", \"submission\" ];\n"
    "exempt_recipients = [ \"postmaster@\", \"@abuse.example\" ];\n"
    "probe: { tags = { web = [ \"80-82\", \"8080/all\" ]; mine = [ \"web\", \"socks\" ]; };\n"
    "  scan = [ \"mine\", \"23/cisco\" ]; canary_listen = \"[::1]:2600\";\n"
    "  canary_address = \"[::1]:2601\"; mta_address = \"\"; banner = \"220 mx\";\n"
    "  allow_private = [ \"127.0.0.0/8\" ]; };\n"
    "dns: { resolver = \"127.0.0.1:5353\"; dnsbl_sites = [ \"bl.example*2\", \"wl.example=127.0.[0..9].2*-3\" ];\n"
    "  dnsbl_reply_map = [ \"bl.example=a-list\" ]; };\n"
    "action: { header = \"X-PM\"; reject_reply = \"554 5.7.1 no %a\";\n"
    "  tempfail_reply = \"450 4.7.1 wait %p\"; };\n";

/* err is "file: out of memory" or "file:line: out of memory" */
static int
is_oom(const char *err, const char *file)
{
	const char *tail = ": out of memory";
	size_t fl = strlen(file), el = strlen(err), tl = strlen(tail);

	return strncmp(err, file, fl) == 0 && err[fl] == ':' && el >= fl + tl &&
	    strcmp(err + el - tl, tail) == 0;
}

/*
 * Fail call N, N = 1, 2, ... until a load goes through untouched.  The
 * number of loads tried, or -1 (and why on stdout) when one went wrong.
 */
static long
sweep(const char *file, int after)
{
	char err[600];
	struct pm_config *cf;

	for (long n = 1; n < 100000; n++) {
		oom_n = n;
		oom_after = after;
		oom_calls = 0;
		err[0] = '\0';
		cf = config_load(file, err, sizeof(err));
		oom_n = 0;
		if (oom_calls < n) {		/* nothing failed: the load is whole */
			if (cf == NULL)
				printf("  call %ld: %s\n", n, err);
			config_unref(cf);
			return cf != NULL && n > 1 ? n : -1;
		}
		if (cf != NULL || !is_oom(err, file != NULL ? file : "(built-in defaults)")) {
			printf("  call %ld of %ld failed: %s\n", n, oom_calls,
			    cf != NULL ? "the load succeeded" : err);
			config_unref(cf);
			return -1;
		}
	}
	return -1;
}

int
main(void)
{
	char path[64], err[600];
	struct pm_config *cf;
	FILE *f;

	t_prog = "config_oom: ";
	snprintf(path, sizeof(path), "/tmp/pm-test-config-oom-%ld.conf", (long)getpid());
	if ((f = fopen(path, "w")) == NULL || fputs(full, f) == EOF || fclose(f) != 0) {
		printf("FAIL: %scannot write %s\n", t_prog, path);
		return 1;
	}
	cf = config_load(path, err, sizeof(err));
	T_OK(cf != NULL && cf->probe.tags != NULL && cf->allow.n == 2, "the file loads");
	if (cf == NULL)
		printf("  got: %s\n", err);
	config_unref(cf);

	T_OK(sweep(NULL, 0) > 0, "defaults: each allocation failing alone is \"out of memory\"");
	T_OK(sweep(NULL, 1) > 0, "defaults: all failing from any on is \"out of memory\"");
	T_OK(sweep(path, 0) > 0, "file: each allocation failing alone is \"out of memory\"");
	T_OK(sweep(path, 1) > 0, "file: all failing from any on is \"out of memory\"");
	unlink(path);
	T_DONE();
}
