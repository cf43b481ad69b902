/*
 * report.c - proxymilter-report: a summary of proxymilter's log lines.
 *
 * Reads syslog files (or stdin) and looks only at lines from proxymilter
 * ("proxymilter[PID]: "); pflogsumm does not count milter rejects, so this
 * is where a postmaster sees what the milter did.  Every other line, and
 * every line it cannot parse, is skipped and counted.
 *
 *   proxymilter-report [-n top] [-c client] [file ...]
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include "hmap.h"

#define MAXKV 40

struct kv {
	char *k, *v;
};

/* one parsed line: events and key=value pairs point into a scratch copy */
struct line {
	char *qid, *event;
	struct kv kv[MAXKV];
	int nkv;
};

static const char *
get(const struct line *l, const char *k)
{
	for (int i = 0; i < l->nkv; i++)
		if (strcmp(l->kv[i].k, k) == 0)
			return l->kv[i].v;
	return NULL;
}

/* parse "value" or "quoted \"value\"" in place; returns the next position */
static char *
value(char *p, char **out)
{
	char *w;
	if (*p != '"') {
		*out = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
		return p;
	}
	*out = w = ++p;
	while (*p && *p != '"') {
		if (*p == '\\' && p[1])
			p++;
		*w++ = *p++;
	}
	if (*p == '"')
		p++;
	*w = '\0';
	if (*p == ' ')
		p++;
	return p;
}

/* 1 when buf is a proxymilter line; fills l (buf is modified) */
static int
parse(char *buf, struct line *l)
{
	char *p = strstr(buf, "proxymilter[");
	size_t n = strlen(buf);

	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (p == NULL || (p = strstr(p, "]: ")) == NULL)
		return 0;
	p += 3;
	memset(l, 0, sizeof(*l));
	char *sp = strchr(p, ' ');
	char *first = p;
	if (sp != NULL && sp > p && sp[-1] == ':') {	/* "QID: event" */
		sp[-1] = '\0';
		l->qid = first;
		p = sp + 1;
		sp = strchr(p, ' ');
	}
	l->event = p;
	if (sp == NULL)
		return *p != '\0';
	*sp = '\0';
	p = sp + 1;
	while (*p && l->nkv < MAXKV) {
		char *eq = strchr(p, '=');
		char *space = strchr(p, ' ');
		if (eq == NULL || (space != NULL && space < eq))
			return 0;	/* not ours after all */
		*eq = '\0';
		l->kv[l->nkv].k = p;
		p = value(eq + 1, &l->kv[l->nkv].v);
		l->nkv++;
	}
	return 1;
}

/* a small string-keyed table of counters (hmap.h, set up at first use) */
struct item {
	struct hm_node node;
	long n[6];
	double sum;
	char extra[96];
	char key[];
};

struct table {
	struct hmap m;
	int ready;
};

static void
nomem(void)
{
	fprintf(stderr, "proxymilter-report: out of memory\n");
	exit(EX_OSERR);
}

/* the count of key, without creating it */
static long
peek(const struct table *t, const char *key)
{
	struct hm_node *n = t->ready ? hm_find(&t->m, key) : NULL;
	return n != NULL ? HM_ENTRY(n, struct item, node)->n[0] : 0;
}

static struct item *
find(struct table *t, const char *key)
{
	struct hm_node *n;
	struct item *i;
	size_t len = strlen(key);

	if (!t->ready) {
		if (hm_init(&t->m, HM_KEYOFF(struct item, node, key), 0, NULL, NULL) < 0) {
			fprintf(stderr, "proxymilter-report: no randomness\n");
			exit(EX_OSERR);
		}
		t->ready = 1;
	}
	if ((n = hm_find(&t->m, key)) != NULL)
		return HM_ENTRY(n, struct item, node);
	if ((i = calloc(1, sizeof(*i) + len + 1)) == NULL)
		nomem();
	memcpy(i->key, key, len + 1);
	if (hm_insert(&t->m, &i->node) < 0)
		nomem();
	return i;
}

static struct table events, verdicts, skips, actions, tests, opens, stages, cache, countries;
static long lines_total, lines_ours, lines_bad;

static int
by_n0(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a, *y = *(struct item *const *)b;
	if (x->n[0] != y->n[0])
		return x->n[0] < y->n[0] ? 1 : -1;
	return strcmp(x->key, y->key);
}

static struct item **
sorted(struct table *t)
{
	struct item **v = calloc(t->m.n + 1, sizeof(*v));
	size_t k = 0;
	if (v == NULL)
		exit(EX_OSERR);
	for (struct hm_node *n = hm_next(&t->m, NULL); n != NULL; n = hm_next(&t->m, n))
		v[k++] = HM_ENTRY(n, struct item, node);
	qsort(v, k, sizeof(*v), by_n0);
	return v;
}

static void
account(const struct line *l, const char *client_filter)
{
	const char *client = get(l, "client"), *v;

	if (client_filter != NULL && (client == NULL || strstr(client, client_filter) == NULL))
		return;
	find(&events, l->event)->n[0]++;
	if (strcmp(l->event, "verdict") == 0 && (v = get(l, "verdict")) != NULL) {
		const char *fin = get(l, "final");
		if (fin != NULL && strcmp(fin, "no") == 0)
			return;		/* provisional: the final line follows */
		const char *cc = get(l, "country");
		find(&verdicts, v)->n[0]++;
		if (cc != NULL)
			find(&countries, cc)->n[0]++;
		if (strcmp(v, "open-proxy") == 0 && client != NULL) {
			struct item *o = find(&opens, client);
			const char *ev = get(l, "evidence"), *eg = get(l, "egress");
			o->n[0]++;
			snprintf(o->extra, sizeof(o->extra), "%s%s%s", ev ? ev : "",
			    eg ? " egress=" : "", eg ? eg : "");
		}
		const char *el = get(l, "elapsed");
		if (el != NULL) {
			struct item *vi = find(&verdicts, v);
			vi->sum += atof(el);
			vi->n[1]++;
		}
	} else if (strcmp(l->event, "cache") == 0 && (v = get(l, "hit")) != NULL) {
		find(&cache, v)->n[0]++;
	} else if (strcmp(l->event, "skip") == 0 && (v = get(l, "reason")) != NULL) {
		find(&skips, v)->n[0]++;
	} else if (strcmp(l->event, "probe") == 0 && (v = get(l, "test")) != NULL) {
		struct item *t = find(&tests, v);
		const char *r = get(l, "result"), *el = get(l, "elapsed");
		t->n[0]++;
		if (r != NULL && strcmp(r, "open") == 0)
			t->n[1]++;
		else if (r != NULL && strcmp(r, "closed") == 0)
			t->n[2]++;
		else
			t->n[3]++;
		if (el != NULL)
			t->sum += atof(el);
	} else if (strcmp(l->event, "reject") == 0 || strcmp(l->event, "tempfail") == 0 ||
	    strcmp(l->event, "tag") == 0 || strncmp(l->event, "would-", 6) == 0) {
		find(&actions, l->event)->n[0]++;
		if ((v = get(l, "stage")) != NULL) {
			char k[64];
			snprintf(k, sizeof(k), "%s at %s", l->event, v);
			find(&stages, k)->n[0]++;
		}
		if (strcmp(l->event, "reject") == 0 && client != NULL) {
			/* "name[addr]:port" -> "[addr]" to match the verdict's client */
			const char *lb = strchr(client, '['), *rb = lb ? strchr(lb, ']') : NULL;
			if (lb != NULL && rb != NULL) {
				char k[80];
				snprintf(k, sizeof(k), "%.*s", (int)(rb - lb + 1), lb);
				find(&opens, k)->n[1]++;
			}
		}
	}
}

static void
section(const char *title, struct table *t, int top)
{
	struct item **v;
	if (t->m.n == 0)
		return;
	printf("\n%s\n", title);
	v = sorted(t);
	for (int i = 0; v[i] != NULL && (top <= 0 || i < top); i++)
		printf("  %8ld  %s\n", v[i]->n[0], v[i]->key);
	free(v);
}

static int
read_stream(FILE *f, const char *client_filter)
{
	char buf[8192];
	struct line l;

	while (fgets(buf, sizeof(buf), f) != NULL) {
		size_t n = strlen(buf);
		lines_total++;
		if (n == sizeof(buf) - 1 && buf[n - 1] != '\n') {
			/* longer than any line proxymilter writes: skip the rest */
			int c;
			while ((c = getc(f)) != EOF && c != '\n')
				;
			if (strstr(buf, "proxymilter[") != NULL) {
				lines_ours++;
				lines_bad++;
			}
			continue;
		}
		if (strstr(buf, "proxymilter[") == NULL)
			continue;
		lines_ours++;
		if (!parse(buf, &l)) {
			lines_bad++;
			continue;
		}
		account(&l, client_filter);
	}
	return ferror(f) ? -1 : 0;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: proxymilter-report [-n top] [-c client] [file ...]\n"
	    "  -n N       rows in the top lists (default 20; 0 = all)\n"
	    "  -c TEXT    only lines whose client contains TEXT\n"
	    "  file       syslog files with proxymilter's lines (default: stdin)\n");
}

int
main(int argc, char **argv)
{
	int top = 20, ch;
	const char *client_filter = NULL;
	char *end;

	while ((ch = getopt(argc, argv, "n:c:h")) != -1) {
		switch (ch) {
		case 'n':
			top = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || top < 0) {
				fprintf(stderr, "proxymilter-report: bad number \"%s\"\n", optarg);
				return EX_USAGE;
			}
			break;
		case 'c': client_filter = optarg; break;
		case 'h': usage(stdout); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind == argc) {
		if (read_stream(stdin, client_filter) < 0) {
			fprintf(stderr, "proxymilter-report: stdin: %s\n", strerror(errno));
			return EX_IOERR;
		}
	}
	for (; optind < argc; optind++) {
		FILE *f = fopen(argv[optind], "r");
		if (f == NULL) {
			fprintf(stderr, "proxymilter-report: %s: %s\n", argv[optind], strerror(errno));
			return EX_NOINPUT;
		}
		int r = read_stream(f, client_filter);
		fclose(f);
		if (r < 0) {
			fprintf(stderr, "proxymilter-report: %s: read error\n", argv[optind]);
			return EX_IOERR;
		}
	}

	printf("proxymilter-report: %ld lines read, %ld from proxymilter, %ld unparsable\n",
	    lines_total, lines_ours, lines_bad);
	printf("\nconnections %ld, probed %ld, cache hits %ld, joined %ld\n",
	    peek(&events, "connect"), peek(&events, "probe-start"), peek(&cache, "yes"),
	    peek(&cache, "inflight"));
	section("Verdicts", &verdicts, 0);
	{
		struct item **v = sorted(&verdicts);
		for (int i = 0; v[i] != NULL; i++)
			if (v[i]->n[1] > 0)
				printf("            %s: mean time to verdict %.3fs\n", v[i]->key,
				    v[i]->sum / (double)v[i]->n[1]);
		free(v);
	}
	section("Actions", &actions, 0);
	section("Actions by stage", &stages, 0);
	section("Skipped (reason)", &skips, 0);
	if (opens.m.n > 0) {
		struct item **v = sorted(&opens);
		printf("\nOpen proxies (verdicts, rejects, evidence)\n");
		for (int i = 0; v[i] != NULL && (top <= 0 || i < top); i++)
			if (v[i]->n[0] > 0)
				printf("  %8ld %6ld  %-40s %s\n", v[i]->n[0], v[i]->n[1], v[i]->key, v[i]->extra);
		free(v);
	}
	if (tests.m.n > 0) {
		struct item **v = sorted(&tests);
		printf("\nTests (run, open, closed, inconclusive, mean time)\n");
		for (int i = 0; v[i] != NULL && (top <= 0 || i < top); i++)
			printf("  %8ld %6ld %6ld %6ld  %7.3fs  %s\n", v[i]->n[0], v[i]->n[1], v[i]->n[2],
			    v[i]->n[3], v[i]->sum / (double)v[i]->n[0], v[i]->key);
		free(v);
	}
	section("Countries (final verdicts)", &countries, top);
	section("Events", &events, 0);
	return EX_OK;
}
