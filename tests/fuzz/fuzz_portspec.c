/*
 * fuzz_portspec - pe_scan_parse (portspec.c), the port_spec and tag
 * language of probe.scan, probe.tags and proxyprobe's arguments, with user
 * tags built from the input (nesting, loops and all).
 *
 * Input: text lines.
 *   line 1    a scan entry, parsed into an empty list
 *   line 2    a second entry, appended to the same list (the de-duplication
 *             of what is already there, the array growing by doubling)
 *   line 3..  user tags, at most 6: "NAME SPEC SPEC ..." (at most 4 specs
 *             each; more would only make nesting exponentially slow, which
 *             the depth limit of 4 bounds but does not make fast)
 * Checked: on success each (protocol, port) once, a known protocol, port
 * 1..65535 (also in what a failing entry left); on failure a message.
 * Everything allocated is freed.
 */
#include "config.h"
#include "pe_int.h"
#include "fuzz.h"

#define MAXTAGS 6
#define MAXSPECS 4

#define MAXKINDS 64
static unsigned char seenbits[MAXKINDS][65536 / 8];

static void
check_list(const struct pe_test *t, size_t n)
{
	size_t np = pe_kind_count();

	FZ_CHECK(np <= MAXKINDS);
	for (size_t i = 0; i < n; i++) {
		size_t pi = np;
		for (size_t k = 0; k < np; k++)
			if (pe_kind_at(k) == t[i].kind)
				pi = k;
		FZ_CHECK(pi < np);
		FZ_CHECK(t[i].port != 0);
		FZ_CHECK(!(seenbits[pi][t[i].port / 8] & (1u << (t[i].port % 8))));
		seenbits[pi][t[i].port / 8] |= (unsigned char)(1u << (t[i].port % 8));
	}
	memset(seenbits, 0, sizeof(seenbits));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *lines[2 + MAXTAGS], *save = NULL, *l;
	const char *specs[MAXTAGS][MAXSPECS + 1];
	struct pe_tag tags[MAXTAGS + 1];
	struct pe_test *tests = NULL;
	size_t ntests = 0, nlines = 0, ntags = 0;
	char err[160];

	if (size > 4096)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	/* strsep keeps empty lines: an empty spec is input too */
	for (save = text; nlines < 2 + MAXTAGS && (l = strsep(&save, "\n")) != NULL;)
		lines[nlines++] = l;
	for (size_t i = 2; i < nlines; i++) {
		char *w, *s = lines[i];
		size_t k = 0;
		tags[ntags].name = strsep(&s, " ");
		while (k < MAXSPECS && (w = strsep(&s, " ")) != NULL)
			specs[ntags][k++] = w;
		specs[ntags][k] = NULL;
		tags[ntags].specs = specs[ntags];
		ntags++;
	}
	tags[ntags].name = NULL;
	tags[ntags].specs = NULL;

	for (size_t i = 0; i < 2 && i < nlines; i++) {
		err[0] = '\0';
		if (pe_scan_parse(lines[i], tags, &tests, &ntests, err, sizeof(err)) < 0)
			FZ_CHECK(err[0] != '\0');
		/* what was added before a failure is still a valid list */
		check_list(tests, ntests);
	}
	free(tests);
	free(text);
	return 0;
}
