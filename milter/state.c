/*
 * state.c - the state snapshot: the verdict table in a file, so that a
 * restart does not probe every client again (milter-greylist's dumpfile
 * is the model).  See state.h for the format.
 *
 * Decisions:
 * - Text, one verdict a line in the form it has everywhere outside the
 *   process (vrec.h), between a header that names the format, its version,
 *   when and by whom it was written, and an "end N" line that counts the
 *   verdicts: a file cut short (a full disk, a crash without the rename, a
 *   copy) lacks it or has the wrong count.
 * - Times in the file are Unix seconds (they must survive a reboot); the
 *   table's are monotonic.  vrec_from_entry and vrec_apply convert.
 * - Pending entries are not saved (vt_walk leaves them out): their probe
 *   sets die with the process.  Error verdicts are, with their short TTL.
 * - Saving: written to "FILE.tmp.PID" in the same directory (0600: only
 *   the milter reads it), fflush + fsync, renamed over FILE, the directory
 *   fsynced; on any error the temp file goes and the old file stays.  The
 *   table is walked a stripe at a time (vt_walk): the milter's threads
 *   wait for a stripe's copy, never for the disk.  Evidence and egress
 *   are made printable on the way out, so that a byte that slipped into a
 *   verdict cannot make the whole file unreadable.
 * - Loading, all or nothing: the file is hostile bytes.  A missing file is
 *   normal (the first start); a first line that is not ours, or of another
 *   version, is named in err; any bad line (vrec_parse's reason, with
 *   file:line), a line longer than a verdict can be, a missing end line,
 *   a wrong count or bytes after the end line empty the table again: a
 *   half-read snapshot would be a table nobody wrote.  Expired verdicts
 *   are dropped and counted, not an error.  A repeated address keeps the
 *   newer verdict (vt_put's VT_PUT_NEWER).
 * - Lines are read a byte at a time into a bounded buffer (getc_unlocked):
 *   no line, however long, costs more than VREC_MAX bytes, and a NUL in
 *   a line is seen (vrec_parse refuses control bytes).
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "state.h"
#include "vrec.h"

void
state_host_token(const char *in, char *out, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return;
	for (; in != NULL && *in != '\0' && n + 1 < len; in++)
		out[n++] = (*in > ' ' && *in < 0x7f) ? *in : '_';
	if (n == 0 && len > 1)
		out[n++] = '-';
	out[n] = '\0';
}

/* ---- writing ----------------------------------------------------------- */

/* fsync the directory that holds path, so that the rename is on disk too
 * (best effort: some file systems refuse it) */
static void
sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		return;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int
state_replace(const char *path, mode_t mode, int (*body)(FILE *, void *, char *, size_t),
    void *arg, char *err, size_t errlen, uint64_t *bytes)
{
	char tmp[PATH_MAX];
	FILE *f = NULL;
	off_t size;
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: name too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	if (body(f, arg, err, errlen) < 0)
		goto fail;
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno != 0 ? errno : EIO));
		goto fail;
	}
	size = ftello(f);
	if (fclose(f) != 0) {
		f = NULL;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	f = NULL;
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename %s to %s: %s", tmp, path, strerror(errno));
		goto fail;
	}
	sync_dir(path);
	if (bytes != NULL)
		*bytes = size > 0 ? (uint64_t)size : 0;
	return 0;
fail:
	if (f != NULL)
		fclose(f);
	unlink(tmp);
	return -1;
}

struct save_ctx {
	FILE *f;
	double now;
	int64_t unix_now;
	size_t n;
};

/* printable, and no spaces where a field ends at one */
static void
clean_text(char *s, int no_space)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || (no_space && *s == ' '))
			*s = '?';
}

static int
save_one(const struct vt_entry *e, void *arg)
{
	struct save_ctx *c = arg;
	struct vrec r;
	char line[VREC_MAX + 1];
	size_t n;

	vrec_from_entry(e, c->now, c->unix_now, &r);
	clean_text(r.egress, 1);
	clean_text(r.evidence, 0);
	n = vrec_format(&r, line, sizeof(line));
	line[n++] = '\n';
	if (fwrite(line, 1, n, c->f) != n)
		return 1;
	c->n++;
	return 0;
}

struct save_arg {
	struct vt *t;
	const char *host;
	struct save_ctx c;
};

static int
save_body(FILE *f, void *arg, char *err, size_t errlen)
{
	struct save_arg *a = arg;
	int r;

	a->c.f = f;
	fprintf(f, STATE_MAGIC " %d %lld %s\n", STATE_VERSION, (long long)a->c.unix_now, a->host);
	r = vt_walk(a->t, a->c.now, save_one, &a->c);
	if (r < 0) {
		snprintf(err, errlen, "out of memory walking the table");
		return -1;
	}
	fprintf(f, "end %zu\n", a->c.n);
	if (r != 0 || ferror(f)) {
		snprintf(err, errlen, "write error: %s", strerror(errno != 0 ? errno : EIO));
		return -1;
	}
	return 0;
}

int
state_save(struct vt *t, const char *path, const char *host, char *err, size_t errlen,
    struct state_counts *cnt)
{
	struct save_arg a;
	char hn[256], tok[64];
	double t0 = vt_now();
	uint64_t bytes = 0;
	int r;

	memset(&a, 0, sizeof(a));
	if (host == NULL) {
		if (gethostname(hn, sizeof(hn) - 1) < 0)
			hn[0] = '\0';
		hn[sizeof(hn) - 1] = '\0';
		host = hn;
	}
	state_host_token(host, tok, sizeof(tok));
	a.t = t;
	a.host = tok;
	a.c.now = vt_now();
	a.c.unix_now = (int64_t)time(NULL);
	r = state_replace(path, 0600, save_body, &a, err, errlen, &bytes);
	if (cnt != NULL) {
		memset(cnt, 0, sizeof(*cnt));
		cnt->verdicts = r == 0 ? a.c.n : 0;
		cnt->bytes = bytes;
		cnt->elapsed = vt_now() - t0;
	}
	return r;
}

/* ---- reading ----------------------------------------------------------- */

enum { L_EOF = -1, L_LONG = -2 };

/* one line into buf (NUL-terminated, without its newline): its length, or
 * L_EOF at the end of the file, or L_LONG when it does not fit; *nl says
 * whether a newline ended it */
static long
read_line(FILE *f, char *buf, size_t len, int *nl)
{
	size_t n = 0;
	int ch;

	*nl = 0;
	while ((ch = getc_unlocked(f)) != EOF) {
		if (ch == '\n') {
			*nl = 1;
			break;
		}
		if (n + 1 >= len)
			return L_LONG;
		buf[n++] = (char)ch;
	}
	buf[n] = '\0';
	if (ch == EOF && n == 0)
		return L_EOF;
	return (long)n;
}

/* what a line shows in an error: printable, quoted by the caller, capped */
static const char *
shown(const char *s, size_t n, char *out, size_t len)
{
	size_t i, k = 0;

	for (i = 0; i < n && k + 4 < len && k < 40; i++)
		out[k++] = ((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f &&
		    s[i] != '"') ? s[i] : '?';
	if (i < n && k + 4 < len) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

/* a decimal number, the whole of s, in [0, hi] */
static int
count_of(const char *s, long long hi, long long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= hi ? 0 : -1;
}

/* the next token of s (ended by one space or the end): its length, or 0 */
static size_t
token(const char **s, char *out, size_t len)
{
	size_t n = 0;

	while (**s != '\0' && **s != ' ') {
		if (n + 1 >= len)
			return 0;
		out[n++] = *(*s)++;
	}
	out[n] = '\0';
	if (**s == ' ')
		(*s)++;
	return n;
}

/* line 1: "proxymilter-state 1 UNIXTIME HOSTNAME", nothing else */
static int
header(const char *name, const char *s, size_t n, struct state_counts *cnt, char *err,
    size_t errlen)
{
	char sh[64], ver[16], num[24], host[sizeof(cnt->host)];
	const char *p;
	long long when;
	size_t ml = strlen(STATE_MAGIC);

	if (n < ml + 1 || memcmp(s, STATE_MAGIC " ", ml + 1) != 0) {
		snprintf(err, errlen, "%s: not a proxymilter state file (line 1: \"%s\")", name,
		    shown(s, n, sh, sizeof(sh)));
		return -1;
	}
	p = s + ml + 1;
	if (token(&p, ver, sizeof(ver)) == 0 || strcmp(ver, "1") != 0) {
		snprintf(err, errlen, "%s: a state file of another version (line 1: \"%s\"); "
		    "this proxymilter reads version %d", name, shown(s, n, sh, sizeof(sh)),
		    STATE_VERSION);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) {
			snprintf(err, errlen, "%s:1: bad header: a control byte", name);
			return -1;
		}
	if (token(&p, num, sizeof(num)) == 0 || count_of(num, (1LL << 40), &when) < 0 ||
	    token(&p, host, sizeof(host)) == 0 || *p != '\0' || p[-1] == ' ') {
		snprintf(err, errlen, "%s:1: bad header (\"%s\"): want \"" STATE_MAGIC
		    " %d UNIXTIME HOSTNAME\"", name, shown(s, n, sh, sizeof(sh)), STATE_VERSION);
		return -1;
	}
	cnt->saved_at = when;
	snprintf(cnt->host, sizeof(cnt->host), "%s", host);
	return 0;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); goto bad; } while (0)

int
state_load_fp(struct vt *t, FILE *f, const char *name, double now, int64_t unix_now,
    char *err, size_t errlen, struct state_counts *cnt)
{
	char line[VREC_MAX + 2], sh[64];
	struct vrec r;
	const char *why;
	size_t lineno = 1;
	long long want;
	long n;
	int nl;

	memset(cnt, 0, sizeof(*cnt));
	flockfile(f);
	n = read_line(f, line, sizeof(line), &nl);
	if (n == L_EOF)
		BAD("%s: empty: not a proxymilter state file", name);
	if (n == L_LONG)
		BAD("%s: not a proxymilter state file (line 1 is longer than %zu bytes)", name,
		    sizeof(line) - 2);
	if (header(name, line, (size_t)n, cnt, err, errlen) < 0)
		goto bad;
	if (!nl)
		BAD("%s:1: truncated: no end line", name);
	for (;;) {
		n = read_line(f, line, sizeof(line), &nl);
		lineno++;
		if (n == L_EOF && ferror(f))
			BAD("%s:%zu: read error: %s", name, lineno, strerror(errno != 0 ? errno : EIO));
		if (n == L_EOF)
			BAD("%s:%zu: truncated: no end line (%zu verdicts read)", name, lineno,
			    cnt->verdicts);
		if (n == L_LONG)
			BAD("%s:%zu: too long", name, lineno);
		if (!nl)
			BAD("%s:%zu: truncated: the last line has no newline", name, lineno);
		if (strncmp(line, "end ", 4) == 0) {
			if (strlen(line) != (size_t)n || count_of(line + 4, (1LL << 40), &want) < 0)
				BAD("%s:%zu: bad end line \"%s\"", name, lineno,
				    shown(line, (size_t)n, sh, sizeof(sh)));
			if ((size_t)want != cnt->verdicts)
				BAD("%s:%zu: the end line counts %lld verdicts, the file has %zu",
				    name, lineno, want, cnt->verdicts);
			break;
		}
		if (vrec_parse(line, (size_t)n, &r, &why) < 0)
			BAD("%s:%zu: %s", name, lineno, why);
		if (r.flush)
			BAD("%s:%zu: a flush message, not a verdict", name, lineno);
		cnt->verdicts++;
		if (r.expires <= unix_now)
			cnt->expired++;
		else if (vrec_apply(t, &r, VT_PUT_NEWER, now, unix_now))
			cnt->loaded++;
		else
			cnt->older++;
	}
	if (getc_unlocked(f) != EOF)
		BAD("%s:%zu: data after the end line", name, lineno + 1);
	if (ferror(f))
		BAD("%s: read error: %s", name, strerror(errno != 0 ? errno : EIO));
	funlockfile(f);
	return 0;
bad:
	funlockfile(f);
	vt_flush_all(t);
	cnt->loaded = 0;
	return -1;
}

int
state_load(struct vt *t, const char *path, char *err, size_t errlen, struct state_counts *cnt)
{
	struct stat st;
	double t0 = vt_now();
	FILE *f;
	int r;

	memset(cnt, 0, sizeof(*cnt));
	if ((f = fopen(path, "re")) == NULL) {
		int e = errno;

		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return e == ENOENT ? 1 : -1;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		fclose(f);
		return -1;
	}
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	r = state_load_fp(t, f, path, vt_now(), (int64_t)time(NULL), err, errlen, cnt);
	fclose(f);
	cnt->bytes = (uint64_t)st.st_size;
	cnt->elapsed = vt_now() - t0;
	return r;
}
