/*
 * report.c - proxymilter-report: what proxymilter did, from its log lines.
 *
 *   proxymilter-report [--format text|csv|json|html] [-o FILE] [--since DATE]
 *       [--until DATE] [-d today|yesterday] [--table NAME] [-n top]
 *       [-c client] [file ...]
 *
 * Reads syslog files (plain or gzip'ed: zlib's gzread reads both; "-" or
 * none = stdin, which may be gzip'ed too), in the order given: the report
 * sorts its days itself and takes the first and last times from the lines,
 * so rotated files may come in any order.  rlog.c reads a line, ragg.c
 * counts it, rtext.c and rhtml.c write the report.
 *
 * Decisions:
 * - Streamed: lines are split in a 256 KB block, nothing is kept; a line
 *   longer than RL_LINE_MAX (8 KB) is cut there, counted (as bad when
 *   its start is ours) and the rest of it skipped; a line with a NUL byte
 *   likewise.  proxymilter writes at most 2 KB a line.
 * - Every file is opened (and checked not to be a directory) before any
 *   is read: a mistyped name fails at once (EX_NOINPUT) and writes no
 *   report.  A read error or corrupt gzip data is reported with the file's
 *   name; the lines read so far count, the other files are read, the
 *   report is written and the exit status is EX_IOERR or EX_DATAERR.
 * - RFC 3164 years: per file, from its modification time (stdin: its
 *   mtime when it is a file, else now), see rlog.c.
 * - -o FILE is written atomically: a temporary file in the same directory
 *   (mode 0666 less the umask), flushed, fsync'ed and renamed over FILE;
 *   on any error FILE is left as it was.  Without -o: stdout.
 * - -d today|yesterday is since local 00:00 of that day until the next
 *   00:00 (as pflogsumm's -d); it does not combine with --since/--until.
 *   --until with a date alone means up to the end of that day.
 * - Exit status (sysexits.h): 0 done; 64 usage; 65 corrupt (gzip) input;
 *   66 a file cannot be opened; 70 a report format not built in; 71 out
 *   of memory or no randomness; 73 -o's file cannot be created; 74 a read
 *   or write error.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include "report.h"

#define RL_LINE_MAX	8192		/* longer lines are cut and skipped */
#define BLOCK		(256 * 1024)

static const char *prog = "proxymilter-report";

struct input {
	const char *name;		/* as given; "-" = stdin */
	int fd;
	time_t mtime;
};

/* one line (NUL-terminated at len, may be modified); over: it was cut */
static void
one_line(struct ragg *a, struct ryear *ry, char *p, size_t len, int over)
{
	struct rline l;
	int r;

	if (over || memchr(p, '\0', len) != NULL) {
		ragg_other(a, rlog_parse(p, ry, &l) != 0);
		return;
	}
	r = rlog_parse(p, ry, &l);
	if (r == 1)
		ragg_line(a, &l);
	else
		ragg_other(a, r < 0);
}

/* reads one input through; 0, or EX_IOERR / EX_DATAERR after a message */
static int
read_input(struct ragg *a, struct input *in, char *blk)
{
	struct ryear ry;
	gzFile g;
	size_t have = 0;
	int skipping = 0, rc = 0;

	rlog_year_init(&ry, in->mtime);
	if (in->fd < 0 && (in->fd = open(in->name, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, in->name, strerror(errno));
		return EX_NOINPUT;
	}
	if ((g = gzdopen(in->fd, "rb")) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, in->name, strerror(errno ? errno : ENOMEM));
		close(in->fd);
		in->fd = -1;
		return EX_OSERR;
	}
	in->fd = -1;			/* gzclose closes it */
	gzbuffer(g, BLOCK);
	for (;;) {
		int n = gzread(g, blk + have, BLOCK);
		char *p = blk, *end, *nl;

		if (n < 0) {
			int zerr;
			const char *msg = gzerror(g, &zerr);
			if (zerr == Z_ERRNO) {
				fprintf(stderr, "%s: %s: read error: %s\n", prog, in->name, strerror(errno));
				rc = EX_IOERR;
			} else {
				fprintf(stderr, "%s: %s: %s\n", prog, in->name, msg);
				rc = EX_DATAERR;
			}
			break;
		}
		if (n == 0) {
			int zerr;
			const char *msg = gzerror(g, &zerr);
			if (zerr != Z_OK && zerr != Z_STREAM_END) {
				fprintf(stderr, "%s: %s: %s\n", prog, in->name, msg);
				rc = zerr == Z_ERRNO ? EX_IOERR : EX_DATAERR;
			}
			break;
		}
		have += (size_t)n;
		end = blk + have;
		while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
			size_t len = (size_t)(nl - p);
			*nl = '\0';
			if (skipping)
				skipping = 0;	/* the end of a cut line */
			else if (len > RL_LINE_MAX) {
				p[RL_LINE_MAX] = '\0';
				one_line(a, &ry, p, RL_LINE_MAX, 1);
			} else
				one_line(a, &ry, p, len, 0);
			p = nl + 1;
		}
		have = (size_t)(end - p);
		if (skipping) {
			have = 0;
		} else if (have > RL_LINE_MAX) {
			p[RL_LINE_MAX] = '\0';
			one_line(a, &ry, p, RL_LINE_MAX, 1);
			skipping = 1;
			have = 0;
		} else if (have > 0 && p != blk) {
			memmove(blk, p, have);
		}
	}
	if (have > 0 && !skipping) {		/* the last line, without '\n' */
		blk[have] = '\0';
		one_line(a, &ry, blk, have, 0);
	}
	gzclose(g);
	return rc;
}

/* checks every input first, so that a wrong name fails before any work */
static int
open_inputs(struct input *v, int n)
{
	struct stat st;

	for (int i = 0; i < n; i++) {
		if (strcmp(v[i].name, "-") == 0)
			v[i].fd = dup(STDIN_FILENO);
		else
			v[i].fd = open(v[i].name, O_RDONLY | O_CLOEXEC);
		if (v[i].fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, v[i].name, strerror(errno));
			return EX_NOINPUT;
		}
		if (fstat(v[i].fd, &st) < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, v[i].name, strerror(errno));
			return EX_NOINPUT;
		}
		if (S_ISDIR(st.st_mode)) {
			fprintf(stderr, "%s: %s: is a directory\n", prog, v[i].name);
			return EX_NOINPUT;
		}
		v[i].mtime = S_ISREG(st.st_mode) ? st.st_mtime : time(NULL);
		if (strcmp(v[i].name, "-") != 0) {
			close(v[i].fd);	/* opened again when read: a thousand */
			v[i].fd = -1;	/* rotated files need no thousand descriptors */
		}
	}
	return 0;
}

enum fmt { F_TEXT, F_CSV, F_JSON, F_HTML };

static int
write_report(FILE *f, enum fmt fmt, const struct report *r, int top, const char *table)
{
	switch (fmt) {
	case F_CSV: return report_csv(f, r, table);
	case F_JSON: return report_json(f, r);
	case F_HTML: return report_html(f, r, top);
	default: return report_text(f, r, top);
	}
}

static int
write_error(const char *what)
{
	if (errno == ENOSYS) {
		fprintf(stderr, "%s: this format is not built in\n", prog);
		return EX_SOFTWARE;
	}
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno ? errno : EIO));
	return EX_IOERR;
}

/* to stdout, or to FILE by way of a temporary file and rename */
static int
output(const char *path, enum fmt fmt, const struct report *r, int top, const char *table)
{
	char *tmp;
	size_t n;
	int fd, rc;
	mode_t um;
	FILE *f;

	if (path == NULL) {
		errno = 0;
		if (write_report(stdout, fmt, r, top, table) < 0 || fflush(stdout) != 0)
			return write_error("stdout");
		return EX_OK;
	}
	n = strlen(path) + 8;
	if ((tmp = malloc(n)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return EX_OSERR;
	}
	snprintf(tmp, n, "%s.XXXXXX", path);
	if ((fd = mkstemp(tmp)) < 0) {
		fprintf(stderr, "%s: %s: cannot create a temporary file here: %s\n", prog, path,
		    strerror(errno));
		free(tmp);
		return EX_CANTCREAT;
	}
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) < 0 || (f = fdopen(fd, "w")) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		free(tmp);
		return EX_CANTCREAT;
	}
	errno = 0;
	rc = write_report(f, fmt, r, top, table);
	if (rc < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
		rc = write_error(path);
		fclose(f);
		unlink(tmp);
	} else if (fclose(f) != 0) {
		rc = write_error(path);
		unlink(tmp);
	} else if (rename(tmp, path) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		unlink(tmp);
		rc = EX_CANTCREAT;
	} else
		rc = EX_OK;
	free(tmp);
	return rc;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: %s [--format text|csv|json|html] [-o FILE] [--since DATE]\n"
	    "           [--until DATE] [-d today|yesterday] [--table NAME] [-n top]\n"
	    "           [-c client] [file ...]\n"
	    "  --format F     text (default), csv (one table), json, html (a page)\n"
	    "  -o FILE        write the report to FILE (atomically) instead of stdout\n"
	    "  --since DATE   lines from DATE on; DATE: YYYY-MM-DD, \"YYYY-MM-DD HH:MM[:SS]\"\n"
	    "                 or RFC 3339 (local time unless it has an offset)\n"
	    "  --until DATE   lines before DATE; a date alone: up to the end of that day\n"
	    "  -d DAY         today or yesterday (local)\n"
	    "  --table NAME   csv: offenders (default), verdicts, actions, tests, days,\n"
	    "                 hours, skips, countries\n"
	    "  -n N           rows in the top lists of text and html (default 20; 0 = all)\n"
	    "  -c TEXT        only lines whose client= contains TEXT, e.g. \"[192.0.2.1]\"\n"
	    "  file           syslog files, plain or gzip'ed, any order (default or -: stdin)\n",
	    prog);
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage(stderr);
	return EX_USAGE;
}

int
main(int argc, char **argv)
{
	enum { O_SINCE = 256, O_UNTIL, O_FORMAT, O_TABLE };
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, O_FORMAT },
		{ "since", required_argument, NULL, O_SINCE },
		{ "until", required_argument, NULL, O_UNTIL },
		{ "table", required_argument, NULL, O_TABLE },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *client = NULL, *out = NULL, *table = NULL, *day = NULL;
	const char *since_s = NULL, *until_s = NULL;
	time_t since = -1, until = -1;
	enum fmt fmt = F_TEXT;
	int top = 20, ch, rc = EX_OK, n;
	struct input *in;
	struct ragg *a;
	const struct report *r;
	char *blk, *end;

	while ((ch = getopt_long(argc, argv, "o:d:n:c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case O_FORMAT:
			if (strcmp(optarg, "text") == 0)
				fmt = F_TEXT;
			else if (strcmp(optarg, "csv") == 0)
				fmt = F_CSV;
			else if (strcmp(optarg, "json") == 0)
				fmt = F_JSON;
			else if (strcmp(optarg, "html") == 0)
				fmt = F_HTML;
			else
				return bad_usage("unknown format \"%s\" (text, csv, json, html)", optarg);
			break;
		case O_SINCE:
			since_s = optarg;
			if ((since = rlog_date(optarg, 0)) == -1)
				return bad_usage("bad date \"%s\" (YYYY-MM-DD, \"YYYY-MM-DD HH:MM[:SS]\", RFC 3339)", optarg);
			break;
		case O_UNTIL:
			until_s = optarg;
			if ((until = rlog_date(optarg, 1)) == -1)
				return bad_usage("bad date \"%s\" (YYYY-MM-DD, \"YYYY-MM-DD HH:MM[:SS]\", RFC 3339)", optarg);
			break;
		case O_TABLE:
			table = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'd':
			day = optarg;
			break;
		case 'n': {
			long v;
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || v < 0 || v > 1000000)
				return bad_usage("bad number \"%s\"", optarg);
			top = (int)v;
			break;
		}
		case 'c':
			client = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (day != NULL) {
		time_t now = time(NULL);
		if (since_s != NULL || until_s != NULL)
			return bad_usage("-d %s does not combine with --since or --until", day);
		if (strcmp(day, "today") == 0) {
			since = rlog_midnight(now, 0);
			until = rlog_midnight(now, 1);
		} else if (strcmp(day, "yesterday") == 0) {
			since = rlog_midnight(now, -1);
			until = rlog_midnight(now, 0);
		} else
			return bad_usage("-d takes today or yesterday, not \"%s\"", day);
		if (since == -1 || until == -1)
			return bad_usage("-d %s: the local time cannot be computed", day);
	}
	if (since != -1 && until != -1 && until <= since)
		return bad_usage("the period ends before it begins (--until %s)", until_s ? until_s : "");
	if (table != NULL) {
		int ok = 0;
		if (fmt != F_CSV)
			return bad_usage("--table %s goes with --format csv", table);
		for (int i = 0; report_csv_tables[i] != NULL; i++)
			if (strcmp(table, report_csv_tables[i]) == 0)
				ok = 1;
		if (!ok)
			return bad_usage("unknown table \"%s\" (offenders, verdicts, actions, tests, "
			    "days, hours, skips, countries)", table);
	}

	n = optind < argc ? argc - optind : 1;
	a = NULL;
	blk = NULL;
	if ((in = calloc((size_t)n, sizeof(*in))) == NULL ||
	    (blk = malloc(BLOCK + RL_LINE_MAX + 2)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		rc = EX_OSERR;
		goto done;
	}
	for (int i = 0; i < n; i++) {
		in[i].name = optind < argc ? argv[optind + i] : "-";
		in[i].fd = -1;
	}
	if ((rc = open_inputs(in, n)) != 0)
		goto done;
	if ((a = ragg_new(since, until, client)) == NULL) {
		fprintf(stderr, "%s: %s\n", prog, errno == ENOMEM ? "out of memory" :
		    "no randomness for the hash tables (getrandom)");
		rc = EX_OSERR;
		goto done;
	}
	for (int i = 0; i < n; i++) {
		int e = read_input(a, &in[i], blk);
		if (e != 0 && (rc == 0 || e == EX_IOERR))
			rc = e;
	}
	if ((r = ragg_finish(a)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		rc = EX_OSERR;
		goto done;
	}
	if ((ch = output(out, fmt, r, top, table)) != EX_OK)
		rc = ch;
done:
	for (int i = 0; in != NULL && i < n; i++)
		if (in[i].fd >= 0)
			close(in[i].fd);
	ragg_free(a);
	free(blk);
	free(in);
	return rc;
}
