/* state file and rbldnsd export: round trips, refusals (all or nothing),
 * atomic replacement, the export's exact lines */
#include "config.h"
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "t.h"
#include "verdict.h"
#include "vrec.h"
#include "state.h"
#include "export.h"

static char dir[64];

static const char *
path(const char *name)
{
	static char p[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", dir, name);
	return p[i];
}

static void
put(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "w");

	if (f == NULL) {
		perror(name);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static char *
slurp(const char *p)
{
	static char buf[65536];
	FILE *f = fopen(p, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static size_t
entries(struct vt *t)
{
	struct vt_stats st;

	vt_stats(t, &st);
	return st.entries;
}

/* files in dir other than the given ones: a temp file left behind */
static int
strays(const char *keep1, const char *keep2)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, keep1) == 0 ||
		    (keep2 != NULL && strcmp(e->d_name, keep2) == 0))
			continue;
		printf("# stray file %s\n", e->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void
set(struct vt *t, const char *ip, enum vt_state st, int score, const char *ev, const char *eg,
    double ttl)
{
	struct pm_addr a;

	pm_addr_parse(ip, &a);
	vt_complete(t, &a, st, score, ev, eg, vt_now(), ttl);
}

static int
same(struct vt *t, const char *ip, enum vt_state st, int score, const char *ev, const char *eg)
{
	struct pm_addr a;
	struct vt_info v;

	pm_addr_parse(ip, &a);
	vt_get(t, &a, vt_now(), &v);
	if (v.state != st || v.score != score || strcmp(v.evidence, ev) != 0 ||
	    strcmp(v.egress, eg) != 0) {
		printf("# %s: %s %d \"%s\" \"%s\"\n", ip, vt_state_name(v.state), v.score,
		    v.evidence, v.egress);
		return 0;
	}
	return 1;
}

/* load text as the file "in": the return value, err in e */
static int
load_text(struct vt *t, const char *text, char *e, size_t elen, struct state_counts *c)
{
	put("in", text);
	return state_load(t, path("in"), e, elen, c);
}

static void
round_trip(void)
{
	struct vt *a = vt_new(1000), *b = vt_new(1000);
	struct state_counts c;
	struct pm_addr x;
	struct vt_info v;
	char err[512];

	set(a, "192.0.2.1", VT_OPEN, 0, "socks5:1080", "198.51.100.7", 86400);
	set(a, "192.0.2.2", VT_RELAY, 5, "relay-rcpt \"quoted\"  two spaces", "", 3600);
	set(a, "192.0.2.3", VT_LISTED, 3, "dnsbl=bl.example(3) dnsbl=x.example(1)", "", 600);
	set(a, "192.0.2.4", VT_SUSPECT, -2, "fcrdns=fail(1) helo=mismatch(1)", "", 600);
	set(a, "192.0.2.5", VT_CLEAN, 0, "", "", 600);
	set(a, "192.0.2.6", VT_ERROR, 0, "emfile", "", 60);
	set(a, "2001:db8::1", VT_OPEN, 0, "http-connect:3128", "2001:db8::99", 86400);
	set(a, "2001:db8:1::2", VT_CLEAN, 1, "", "", 600);
	set(a, "192.0.2.7", VT_OPEN, 0, "bad\nbyte\there", "", 600);
	pm_addr_parse("192.0.2.8", &x);
	vt_claim(a, &x, vt_now(), 60, &v);	/* pending: not saved */

	T_OK(state_save(a, path("state"), "mx1.example.org", err, sizeof(err), &c) == 0, "save");
	T_OK(c.verdicts == 9, "save counts 9 verdicts (the pending one left out)");
	T_OK(c.bytes > 0 && c.bytes == (uint64_t)strlen(slurp(path("state"))), "save counts its bytes");
	T_OK(strays("state", NULL) == 0, "no temp file left after a save");
	T_OK(strncmp(slurp(path("state")), "proxymilter-state 1 ", 20) == 0 &&
	    strstr(slurp(path("state")), " mx1.example.org\n") != NULL, "header line");
	T_OK(strstr(slurp(path("state")), "\nend 9\n") != NULL, "end line counts");
	{
		struct stat st;
		T_OK(stat(path("state"), &st) == 0 && (st.st_mode & 0777) == 0600, "state file mode 0600");
	}

	T_OK(state_load(b, path("state"), err, sizeof(err), &c) == 0, "load");
	T_OK(c.loaded == 9 && c.expired == 0 && c.verdicts == 9, "load counts 9");
	T_STREQ(c.host, "mx1.example.org", "load reads the writer's host");
	T_OK(c.saved_at >= (int64_t)time(NULL) - 5 && c.saved_at <= (int64_t)time(NULL),
	    "load reads the save time");
	T_OK(same(b, "192.0.2.1", VT_OPEN, 0, "socks5:1080", "198.51.100.7"), "v4 open-proxy with egress");
	T_OK(same(b, "192.0.2.2", VT_RELAY, 5, "relay-rcpt \"quoted\"  two spaces", ""),
	    "open-relay, evidence with quotes and spaces");
	T_OK(same(b, "192.0.2.3", VT_LISTED, 3, "dnsbl=bl.example(3) dnsbl=x.example(1)", ""), "listed");
	T_OK(same(b, "192.0.2.4", VT_SUSPECT, -2, "fcrdns=fail(1) helo=mismatch(1)", ""),
	    "suspect, negative score");
	T_OK(same(b, "192.0.2.5", VT_CLEAN, 0, "", ""), "clean, empty evidence");
	T_OK(same(b, "192.0.2.6", VT_ERROR, 0, "emfile", ""), "error");
	T_OK(same(b, "2001:db8::1", VT_OPEN, 0, "http-connect:3128", "2001:db8::99"), "v6 open-proxy");
	T_OK(same(b, "2001:db8:1::2", VT_CLEAN, 1, "", ""), "v6 clean");
	T_OK(same(b, "192.0.2.7", VT_OPEN, 0, "bad?byte?here", ""),
	    "control bytes in evidence saved as '?' (the file stays readable)");
	pm_addr_parse("192.0.2.8", &x);
	vt_get(b, &x, vt_now(), &v);
	T_OK(v.state == VT_NONE, "pending entry not loaded");
	pm_addr_parse("192.0.2.1", &x);
	vt_get(b, &x, vt_now(), &v);
	T_OK(v.expires - vt_now() > 86390 && v.expires - vt_now() < 86402, "TTL kept across the file");

	/* loading again: same set times, nothing newer */
	T_OK(state_load(b, path("state"), err, sizeof(err), &c) == 0 && c.loaded == 0 &&
	    c.older == 9, "a second load finds nothing newer");
	unlink(path("state"));
	vt_free(a);
	vt_free(b);
}

static void
refusals(void)
{
	struct vt *t = vt_new(1000);
	struct state_counts c;
	char err[512], f[2048];
	long long now = (long long)time(NULL);
	int r;

	r = state_load(t, path("nonexistent"), err, sizeof(err), &c);
	T_OK(r == 1 && entries(t) == 0, "missing file: 1, empty table");
	T_OK(strstr(err, "No such file") != NULL, "missing file: says so");

	snprintf(f, sizeof(f), "proxymilter-state 1 %lld h\n"
	    "pm1 192.0.2.1 open-proxy 0 %lld %lld - socks5:1080\n"
	    "pm1 192.0.2.2 open-proxy 0 %lld %lld - old\n"
	    "pm1 2001:db8::5 clean 0 %lld %lld - \n"
	    "end 3\n", now, now - 100, now + 100, now - 1000, now - 10, now - 1000, now - 1);
	r = load_text(t, f, err, sizeof(err), &c);
	T_OK(r == 0 && c.loaded == 1 && c.expired == 2 && entries(t) == 1,
	    "expired entries dropped and counted");
	T_OK(same(t, "192.0.2.1", VT_OPEN, 0, "socks5:1080", ""), "the fresh one loaded");

	snprintf(f, sizeof(f), "proxymilter-state 1 %lld h\n"
	    "pm1 192.0.2.9 listed 1 %lld %lld - older\n"
	    "pm1 192.0.2.9 listed 2 %lld %lld - newer\n"
	    "pm1 192.0.2.9 listed 3 %lld %lld - oldest\n"
	    "end 3\n", now, now - 100, now + 100, now - 50, now + 100, now - 200, now + 100);
	r = load_text(t, f, err, sizeof(err), &c);
	T_OK(r == 0 && c.loaded == 2 && c.older == 1, "a repeated address: the newer verdict kept");
	T_OK(same(t, "192.0.2.9", VT_LISTED, 2, "newer", ""), "... and it is the newer one");

	/* every refusal empties the table, even of what the file had loaded */
	r = load_text(t, "GIF89a\x01\x02garbage\n", err, sizeof(err), &c);
	T_OK(r == -1 && entries(t) == 0, "foreign file: -1, empty table");
	T_OK(strstr(err, "/in: not a proxymilter state file (line 1: \"GIF89a??garbage\")") != NULL,
	    "foreign file: the error names the file and what was found");

	r = load_text(t, "", err, sizeof(err), &c);
	T_OK(r == -1 && strstr(err, "empty") != NULL, "empty file refused");

	snprintf(f, sizeof(f), "proxymilter-state 2 %lld h\npm2 192.0.2.1 x\nend 1\n", now);
	r = load_text(t, f, err, sizeof(err), &c);
	T_OK(r == -1 && entries(t) == 0, "another version: -1");
	T_OK(strstr(err, "a state file of another version (line 1: \"proxymilter-state 2 ") != NULL &&
	    strstr(err, "reads version 1") != NULL, "another version: said clearly");

	snprintf(f, sizeof(f), "proxymilter-state 1 %lld h extra\nend 0\n", now);
	T_OK(load_text(t, f, err, sizeof(err), &c) == -1 && strstr(err, ":1: bad header") != NULL,
	    "header with an extra field refused");
	T_OK(load_text(t, "proxymilter-state 1 12x h\nend 0\n", err, sizeof(err), &c) == -1 &&
	    strstr(err, ":1: bad header") != NULL, "header with a bad time refused");

	snprintf(f, sizeof(f), "proxymilter-state 1 %lld h\n"
	    "pm1 192.0.2.1 open-proxy 0 %lld %lld - socks5:1080\n"
	    "pm1 192.0.2.2 open-proxy 0 %lld %lld - socks5:1080\n", now, now, now + 100, now, now + 100);
	r = load_text(t, f, err, sizeof(err), &c);
	T_OK(r == -1 && entries(t) == 0 && c.loaded == 0, "truncated (no end line): empty table");
	T_OK(strstr(err, "/in:4: truncated: no end line (2 verdicts read)") != NULL,
	    "truncated: said with file:line");

	f[strlen(f) - 1] = '\0';	/* cut inside the last line */
	r = load_text(t, f, err, sizeof(err), &c);
	T_OK(r == -1 && entries(t) == 0 && strstr(err, "/in:3: truncated") != NULL,
	    "cut inside a line: refused");

	snprintf(f, sizeof(f), "proxymilter-state 1 %lld h\n"
	    "pm1 192.0.2.1 open-proxy 0 %lld %lld - socks5:1080\n"
	    "pm1 192.0.2.2 wide-open 0 %lld %lld - socks5:1080\n"
	    "pm1 192.0.2.3 open-proxy 0 %lld %lld - socks5:1080\n"
	    "end 3\n", now, now, now + 100, now, now + 100, now, now + 100);
	r = load_text(t, f, err, sizeof(err), &c);
	T_OK(r == -1 && entries(t) == 0, "a bad line in the middle: all or nothing");
	T_STREQ(strstr(err, "/in:"), "/in:3: unknown class", "bad line: file:line and vrec_parse's reason");

	snprintf(f, sizeof(f), "proxymilter-state 1 %lld h\n"
	    "pm1 192.0.2.1 open-proxy 0 %lld %lld - socks5:1080\n"
	    "end 2\n", now, now, now + 100);
	r = load_text(t, f, err, sizeof(err), &c);
	T_OK(r == -1 && entries(t) == 0, "count mismatch refused");
	T_STREQ(strstr(err, "/in:"), "/in:3: the end line counts 2 verdicts, the file has 1",
	    "count mismatch: said");

	snprintf(f, sizeof(f), "proxymilter-state 1 %lld h\nend 0\nmore\n", now);
	T_OK(load_text(t, f, err, sizeof(err), &c) == -1 && strstr(err, "data after the end line"),
	    "data after the end line refused");
	snprintf(f, sizeof(f), "proxymilter-state 1 %lld h\npm1 all flush\nend 1\n", now);
	T_OK(load_text(t, f, err, sizeof(err), &c) == -1 && strstr(err, ":2: a flush message"),
	    "a flush message refused");
	snprintf(f, sizeof(f), "proxymilter-state 1 %lld h\n%0500d\nend 1\n", now, 7);
	T_OK(load_text(t, f, err, sizeof(err), &c) == -1 && strstr(err, ":2: too long"),
	    "a long line refused");
	{
		char nul[] = "proxymilter-state 1 5 h\npm1 192.0.2.1 clean 0 5 99999999999 - a\0b\nend 1\n";
		FILE *fp = fopen(path("in"), "w");
		fwrite(nul, 1, sizeof(nul) - 1, fp);
		fclose(fp);
		T_OK(state_load(t, path("in"), err, sizeof(err), &c) == -1 &&
		    strstr(err, ":2: a control byte"), "a NUL byte refused");
	}
	T_OK(state_load(t, dir, err, sizeof(err), &c) == -1 && strstr(err, "not a regular file"),
	    "a directory refused");
	unlink(path("in"));
	vt_free(t);
}

static void
atomic(void)
{
	struct vt *t = vt_new(1000), *b = vt_new(1000);
	struct state_counts c;
	char err[512], before[65536], blocker[160];
	int r;

	set(t, "192.0.2.1", VT_OPEN, 0, "socks5:1080", "", 600);
	T_OK(state_save(t, path("keep"), "h", err, sizeof(err), &c) == 0, "save the old file");
	snprintf(before, sizeof(before), "%s", slurp(path("keep")));
	set(t, "192.0.2.2", VT_OPEN, 0, "socks4:1080", "", 600);

	/* the temp file's name is taken by a directory: the save fails */
	snprintf(blocker, sizeof(blocker), "%s.tmp.%ld", path("keep"), (long)getpid());
	mkdir(blocker, 0700);
	r = state_save(t, path("keep"), "h", err, sizeof(err), &c);
	T_OK(r == -1 && strstr(err, ".tmp.") != NULL, "save fails when its temp file cannot be made");
	T_STREQ(slurp(path("keep")), before, "the old file is kept");
	T_OK(state_load(b, path("keep"), err, sizeof(err), &c) == 0 && c.loaded == 1,
	    "the old file still loads");
	rmdir(blocker);

	/* rename over a directory fails after the temp file was written */
	mkdir(path("adir"), 0700);
	r = state_save(t, path("adir"), "h", err, sizeof(err), &c);
	T_OK(r == -1 && strstr(err, "rename") != NULL, "rename failure reported");
	T_OK(strays("keep", "adir") == 0, "no temp file left after a failed rename");
	rmdir(path("adir"));

	r = state_save(t, "/nonexistent-pmtest-dir/state", "h", err, sizeof(err), &c);
	T_OK(r == -1 && strstr(err, "/nonexistent-pmtest-dir/state.tmp.") != NULL &&
	    strstr(err, "No such file") != NULL, "save into a missing directory: clear error");

	T_OK(state_save(t, path("keep"), "h", err, sizeof(err), &c) == 0 && c.verdicts == 2,
	    "a later save succeeds");
	T_OK(strays("keep", NULL) == 0, "and leaves nothing behind");
	unlink(path("keep"));
	vt_free(t);
	vt_free(b);
}

static int
has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

static void
export(void)
{
	struct vt *t = vt_new(1000);
	struct export_counts c;
	char err[512], txt[512], *s;
	const char *v6set;
	struct stat st;

	set(t, "192.0.2.1", VT_OPEN, 0, "socks5:1080", "192.0.2.1", 600);
	set(t, "192.0.2.2", VT_RELAY, 4, "relay-rcpt", "", 600);
	set(t, "192.0.2.3", VT_LISTED, 3, "dnsbl=bl.example(3) $1 pay $$ now ", "", 600);
	set(t, "192.0.2.4", VT_SUSPECT, 2, "fcrdns=fail(1)", "", 600);
	set(t, "192.0.2.5", VT_CLEAN, 0, "", "", 600);
	set(t, "192.0.2.6", VT_ERROR, 0, "", "", 600);
	set(t, "2001:db8::1", VT_OPEN, 0, "http-connect:3128", "", 600);
	set(t, "2001:db8::2", VT_CLEAN, 0, "", "", 600);
	set(t, "2001:db8::3", VT_LISTED, 2, "dnsbl=bl6.example(2)", "", 600);
	set(t, "::1", VT_RELAY, 2, "relay-rcpt", "", 600);

	T_OK(export_rbldnsd(t, path("zone"), 10, "mx1", err, sizeof(err), &c) == 0, "export");
	T_OK(c.v4 == 3 && c.v6 == 3, "export counts 3 v4 and 3 v6 lines");
	T_OK(strays("zone", NULL) == 0, "no temp file left after an export");
	T_OK(stat(path("zone"), &st) == 0 && (st.st_mode & 0777) == 0644, "export file mode 0644");
	s = slurp(path("zone"));
	T_OK(c.bytes == strlen(s), "export counts its bytes");
	T_OK(has_line(s, "$TTL 60"), "$TTL at least 60");
	T_OK(has_line(s, "$DATASET ip4set:proxymilter @"), "ip4set dataset line");
	T_OK(has_line(s, "$DATASET ip6trie:proxymilter6 @"), "ip6trie dataset line");
	v6set = strstr(s, "$DATASET ip6trie");
	T_OK(has_line(s, "192.0.2.1 :127.0.0.2:open-proxy socks5:1080"), "open-proxy line exact");
	T_OK(has_line(s, "192.0.2.2 :127.0.0.3:open-relay relay-rcpt"), "open-relay line exact");
	T_OK(has_line(s, "192.0.2.3 :127.0.0.4:listed dnsbl=bl.example(3) _1 pay __ now"),
	    "listed line exact, '$' replaced, trailing space gone");
	T_OK(strstr(s, "192.0.2.1 ") < v6set && strstr(s, "192.0.2.3 ") < v6set,
	    "IPv4 lines in the ip4set section");
	T_OK(has_line(v6set, "2001:db8::1/128 :127.0.0.2:open-proxy http-connect:3128"),
	    "v6 open-proxy line exact, in the ip6trie section");
	T_OK(has_line(v6set, "2001:db8::3/128 :127.0.0.4:listed dnsbl=bl6.example(2)"),
	    "v6 listed line exact");
	T_OK(has_line(v6set, "0::1/128 :127.0.0.3:open-relay relay-rcpt"),
	    "::1 written as 0::1 (a line starting with ':' is rbldnsd's defaults)");
	T_OK(strstr(s, "192.0.2.4") == NULL && strstr(s, "192.0.2.5") == NULL &&
	    strstr(s, "192.0.2.6") == NULL && strstr(s, "2001:db8::2") == NULL,
	    "suspect, clean and error not exported");
	{
		int dollars = 0;
		for (const char *p = s; *p != '\0'; p++)
			dollars += *p == '$';
		T_OK(dollars == 3, "no '$' but in $TTL and the two $DATASET lines");
	}

	T_OK(export_rbldnsd(t, path("zone"), 300, "mx1", err, sizeof(err), &c) == 0 &&
	    has_line(slurp(path("zone")), "$TTL 300"), "$TTL = export.interval above 60");

	export_txt(VT_OPEN, "a\x01" "b\xff", txt, sizeof(txt));
	T_STREQ(txt, "open-proxy a?b?", "TXT: printable ASCII only");
	memset(err, 'x', 400);
	err[400] = '\0';
	export_txt(VT_LISTED, err, txt, sizeof(txt));
	T_OK(strlen(txt) == EXPORT_TXT_MAX, "TXT capped at EXPORT_TXT_MAX");
	T_OK(export_a_value(VT_SUSPECT) == NULL && export_a_value(VT_CLEAN) == NULL &&
	    export_a_value(VT_PENDING) == NULL, "only proofs and listings have an A value");

	T_OK(export_rbldnsd(t, "/nonexistent-pmtest-dir/zone", 60, "h", err, sizeof(err), &c) == -1 &&
	    strstr(err, "No such file") != NULL, "export into a missing directory: clear error");
	unlink(path("zone"));
	vt_free(t);
}

int
main(void)
{
	t_prog = "state: ";
	snprintf(dir, sizeof(dir), "/tmp/pmstate.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	round_trip();
	refusals();
	atomic();
	export();
	T_OK(rmdir(dir) == 0, "test directory left empty");
	T_DONE();
}
