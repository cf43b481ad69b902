/*
 * portspec.c - pxytest's port_spec language and tags.
 *
 *   port_spec = MIN[-MAX][/KIND]      KIND defaults to http-connect;
 *                                     "all" = every proxy protocol of this
 *                                     build
 *   tag       = basic | full | socks | a user tag (probe.tags, -T in none)
 *
 * Errors use pxytest's wording: "bad port specification" and "unknown proxy
 * type".  Each (protocol, port) is kept once, in the order first named.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pe_int.h"

#define MAX_TESTS (65535 * 64)	/* every port x many kinds */

static const char *const tag_basic[] = {
	"80", "80/http-post", "3128", "8080", "8080/http-post", "8081",
	"1080/socks4", "1080/socks5", "23/telnet", "23/cisco", "23/wingate",
	"6588", "1180/socks4", NULL
};
static const char *const tag_full[] = {
	"basic", "81", "85", "1182", "1282", "4480", "7033", "8000", "8085", "8090",
	"8095", "8100", "8105", "8110", "8888", "1180/socks5", "1181/cisco",
	"1181/telnet", "1181/wingate", NULL
};
static const char *const tag_socks[] = { "1080/socks4", "1080/socks5", NULL };

static const struct pe_tag builtin_tags[] = {
	{ "basic", tag_basic },
	{ "full", tag_full },
	{ "socks", tag_socks },
};
#define NBUILTIN (sizeof(builtin_tags) / sizeof(builtin_tags[0]))

const struct pe_tag *
pe_builtin_tag(size_t i)
{
	return i < NBUILTIN ? &builtin_tags[i] : NULL;
}

/* (kind, port) pairs already in the list: one bit each, a row per kind */
struct seen {
	unsigned char (*bit)[65536 / 8];
	/* tags expanded to the end in this call: meeting one again adds
	 * nothing (its tests are all in), so it is skipped; without this, tags
	 * nesting other tags cost fanout^depth x their port ranges (fuzzing
	 * found 18 s for a 200-byte config) */
	const struct pe_tag *done[64];
	size_t ndone;
};

static int
add_test(struct seen *sn, const struct pe_kind *p, long port, struct pe_test **tests,
    size_t *ntests, char *err, size_t errlen)
{
	struct pe_test *nt;
	size_t pi = pe_kind_index(p);

	if (sn->bit[pi][port / 8] & (1u << (port % 8)))
		return 0;
	if (*ntests >= MAX_TESTS) {
		snprintf(err, errlen, "too many tests (more than %d)", MAX_TESTS);
		return -1;
	}
	/* capacity grows by doubling: an array built here always has room up
	 * to the next power of two */
	nt = *tests;
	if (*ntests == 0 || (*ntests >= 8 && (*ntests & (*ntests - 1)) == 0)) {
		size_t cap = *ntests < 8 ? 8 : *ntests * 2;
		if ((nt = realloc(*tests, cap * sizeof(*nt))) == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	nt[*ntests].kind = p;
	nt[*ntests].port = (uint16_t)port;
	*tests = nt;
	(*ntests)++;
	sn->bit[pi][port / 8] |= (unsigned char)(1u << (port % 8));
	return 0;
}

static int
parse_port(const char *s, const char **end)
{
	long v = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9' && v <= 65535)
		v = v * 10 + (*p++ - '0');
	*end = p;
	return v >= 1 && v <= 65535 ? (int)v : -1;
}

static int
parse_spec(struct seen *sn, const char *spec, struct pe_test **tests, size_t *ntests, char *err, size_t errlen)
{
	const char *p = spec, *proto = "http-connect";
	int lo, hi;

	if ((lo = parse_port(p, &p)) < 0)
		goto bad;
	hi = lo;
	if (*p == '-' && ((hi = parse_port(p + 1, &p)) < 0 || hi < lo))
		goto bad;
	if (*p == '/')
		proto = p + 1;
	else if (*p != '\0')
		goto bad;
	if (strcmp(proto, "all") == 0) {
		for (int port = lo; port <= hi; port++)
			for (size_t i = 0; i < pe_kind_count(); i++)
				if (pe_kind_is_proxy(pe_kind_at(i)) &&
				    add_test(sn, pe_kind_at(i), port, tests, ntests, err, errlen) < 0)
					return -1;
		return 0;
	}
	const struct pe_kind *pr = pe_kind_find(proto);
	if (pr == NULL) {
		snprintf(err, errlen, "unknown proxy type \"%.40s\"", proto);
		return -1;
	}
	if (pr->flags & PE_K_TASK) {	/* dnsbl, fcrdns, geoip: no port */
		snprintf(err, errlen, "\"%.40s\" is not a port check (its own settings run it)",
		    proto);
		return -1;
	}
	for (int port = lo; port <= hi; port++)
		if (add_test(sn, pr, port, tests, ntests, err, errlen) < 0)
			return -1;
	return 0;
bad:
	snprintf(err, errlen, "bad port specification \"%.40s\"", spec);
	return -1;
}

static const struct pe_tag *
find_tag(const char *name, const struct pe_tag *user)
{
	for (const struct pe_tag *t = user; t != NULL && t->name != NULL; t++)
		if (strcmp(t->name, name) == 0)
			return t;
	for (size_t i = 0; i < NBUILTIN; i++)
		if (strcmp(builtin_tags[i].name, name) == 0)
			return &builtin_tags[i];
	return NULL;
}

static int
expand(struct seen *sn, const char *spec, const struct pe_tag *user, int depth, struct pe_test **tests,
    size_t *ntests, char *err, size_t errlen)
{
	const struct pe_tag *t = (spec[0] < '0' || spec[0] > '9') ? find_tag(spec, user) : NULL;

	if (t == NULL)
		return parse_spec(sn, spec, tests, ntests, err, errlen);
	for (size_t i = 0; i < sn->ndone; i++)
		if (sn->done[i] == t)
			return 0;
	if (depth > 4) {
		snprintf(err, errlen, "tag \"%.40s\" nests too deep (a loop?)", spec);
		return -1;
	}
	for (const char *const *s = t->specs; *s != NULL; s++)
		if (expand(sn, *s, user, depth + 1, tests, ntests, err, errlen) < 0)
			return -1;
	/* marked only once finished, so a loop still nests too deep */
	if (sn->ndone < sizeof(sn->done) / sizeof(sn->done[0]))
		sn->done[sn->ndone++] = t;
	return 0;
}

int
pe_scan_parse(const char *spec, const struct pe_tag *user_tags, struct pe_test **tests,
    size_t *ntests, char *err, size_t errlen)
{
	struct seen *sn = calloc(1, sizeof(*sn));
	int r;

	if (sn == NULL || (sn->bit = calloc(pe_kind_count(), sizeof(*sn->bit))) == NULL) {
		free(sn);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < *ntests; i++) {
		size_t pi = pe_kind_index((*tests)[i].kind);
		sn->bit[pi][(*tests)[i].port / 8] |= (unsigned char)(1u << ((*tests)[i].port % 8));
	}
	r = expand(sn, spec, user_tags, 0, tests, ntests, err, errlen);
	free(sn->bit);
	free(sn);
	return r;
}
