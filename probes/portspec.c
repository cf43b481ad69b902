/*
 * portspec.c - scan-list entries "PORT[/PROTO]".
 *
 * PORT is 1..65535; PROTO defaults to http-connect ("http" is an alias).
 * Errors use pxytest's wording: "bad port specification" and
 * "unknown proxy type".  The built-in tags carry pxytest's exact
 * definitions; an entry whose protocol this build does not have yet is
 * skipped (the catalogue grows one protocol file at a time), so a tag only
 * ever expands to tests that can run.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pe_int.h"

static const char *const tag_basic[] = {
	"80", "80/http-post", "3128", "8080", "8080/http-post", "8081",
	"1080/socks4", "1080/socks5", "23/telnet", "23/cisco", "23/wingate",
	"6588", "1180/socks4", NULL
};
static const char *const tag_full_extra[] = {
	"81", "85", "1182", "1282", "4480", "7033", "8000", "8085", "8090",
	"8095", "8100", "8105", "8110", "8888", "1180/socks5", "1181/cisco",
	"1181/telnet", "1181/wingate", NULL
};
static const char *const tag_socks[] = { "1080/socks4", "1080/socks5", NULL };

static const struct {
	const char *name;
	const char *const *parts[2];
} builtin_tags[] = {
	{ "basic", { tag_basic, NULL } },
	{ "full", { tag_basic, tag_full_extra } },
	{ "socks", { tag_socks, NULL } },
};

static int parse_one(const char *spec, struct pe_test **tests, size_t *ntests,
    char *err, size_t errlen, int skip_unknown);

int
pe_scan_parse(const char *spec, struct pe_test **tests, size_t *ntests,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(builtin_tags) / sizeof(builtin_tags[0]); i++) {
		if (strcmp(spec, builtin_tags[i].name) != 0)
			continue;
		for (int k = 0; k < 2; k++)
			for (const char *const *p = builtin_tags[i].parts[k]; p && *p; p++)
				if (parse_one(*p, tests, ntests, err, errlen, 1) < 0)
					return -1;
		return 0;
	}
	return parse_one(spec, tests, ntests, err, errlen, 0);
}

static int
parse_one(const char *spec, struct pe_test **tests, size_t *ntests,
    char *err, size_t errlen, int skip_unknown)
{
	char buf[64];
	const char *proto = "http-connect";
	char *slash, *end;
	long port;
	const struct pe_proto *p;
	struct pe_test *nt;

	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "bad port specification \"%.32s...\"", spec);
		return -1;
	}
	strcpy(buf, spec);
	if ((slash = strchr(buf, '/')) != NULL) {
		*slash = '\0';
		proto = slash + 1;
	}
	port = strtol(buf, &end, 10);
	if (buf[0] < '0' || buf[0] > '9' || *end != '\0' || port < 1 || port > 65535) {
		snprintf(err, errlen, "bad port specification \"%s\"", spec);
		return -1;
	}
	if ((p = pe_proto_find(proto)) == NULL) {
		if (skip_unknown)
			return 0;
		snprintf(err, errlen, "unknown proxy type \"%s\"", proto);
		return -1;
	}
	for (size_t i = 0; i < *ntests; i++)
		if ((*tests)[i].proto == p && (*tests)[i].port == port)
			return 0;	/* duplicate: scan once */
	nt = realloc(*tests, (*ntests + 1) * sizeof(*nt));
	if (nt == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	nt[*ntests].proto = p;
	nt[*ntests].port = (uint16_t)port;
	*tests = nt;
	(*ntests)++;
	return 0;
}
