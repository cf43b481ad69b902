/*
 * fuzz_cidr - milter/cidr.c: cidr_list_add (the allow lists of the config),
 * pm_addr_parse (numeric addresses), cidr_match on what parsed.
 *
 * Input: text lines; each line is tried as a CIDR entry and as an address.
 * Checked: a match is right bit by bit; every entry matches its own network
 * address; an entry's canonical text parses back to the same entry; an
 * address survives text and sockaddr round trips.
 */
#include "config.h"
#include <arpa/inet.h>
#include "cidr.h"
#include "fuzz.h"

#define MAXADDR 64

/* does a lie in c?  (the plain definition, bit by bit) */
static int
inside(const struct cidr *c, const struct pm_addr *a)
{
	if (c->family != a->family)
		return 0;
	for (int i = 0; i < c->bits; i++) {
		int m = 0x80 >> (i % 8);
		if ((c->b[i / 8] & m) != (a->b[i / 8] & m))
			return 0;
	}
	return 1;
}

static void
check_addr(const struct cidr_list *l, const struct pm_addr *a)
{
	const struct cidr *m = cidr_match(l, a);
	size_t first = l->n;
	char buf[INET6_ADDRSTRLEN + 8];
	struct pm_addr b;
	struct sockaddr_storage ss;
	const char *range = NULL;

	for (size_t i = 0; i < l->n && first == l->n; i++)
		if (inside(&l->v[i], a))
			first = i;
	FZ_CHECK(first == l->n ? m == NULL : m == &l->v[first]);
	pm_addr_str(a, buf, sizeof(buf));
	FZ_CHECK(pm_addr_parse(buf, &b) == 0 && memcmp(a, &b, sizeof(b)) == 0);
	pm_addr_to_sockaddr(a, 25, &ss);
	FZ_CHECK(pm_addr_from_sockaddr((struct sockaddr *)&ss, &b) == 0 &&
	    memcmp(a, &b, sizeof(b)) == 0);
	if (pm_addr_is_special(a, &range))
		FZ_CHECK(range != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cidr_list l = { NULL, 0 };
	struct pm_addr addrs[MAXADDR];
	size_t na = 0;
	char *text, *save, *line, err[160];

	if (size > 8192)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	for (save = text; (line = strsep(&save, "\n")) != NULL;) {
		err[0] = '\0';
		if (cidr_list_add(&l, line, err, sizeof(err)) < 0)
			FZ_CHECK(err[0] != '\0');
		if (na < MAXADDR && pm_addr_parse(line, &addrs[na]) == 0) {
			FZ_CHECK(addrs[na].family == AF_INET || addrs[na].family == AF_INET6);
			na++;
		}
	}
	for (size_t i = 0; i < l.n; i++) {
		const struct cidr *c = &l.v[i];
		struct cidr again;
		struct pm_addr net;

		FZ_CHECK(c->family == AF_INET || c->family == AF_INET6);
		FZ_CHECK(c->bits >= 0 && c->bits <= (c->family == AF_INET ? 32 : 128));
		FZ_CHECK(strnlen(c->text, sizeof(c->text)) < sizeof(c->text));
		FZ_CHECK(cidr_parse(c->text, &again, err, sizeof(err)) == 0);
		FZ_CHECK(again.family == c->family && again.bits == c->bits &&
		    memcmp(again.b, c->b, sizeof(c->b)) == 0 && strcmp(again.text, c->text) == 0);
		memset(&net, 0, sizeof(net));
		net.family = c->family;
		memcpy(net.b, c->b, sizeof(net.b));
		FZ_CHECK(cidr_match(&l, &net) != NULL);
		check_addr(&l, &net);
	}
	for (size_t i = 0; i < na; i++)
		check_addr(&l, &addrs[i]);
	cidr_list_free(&l);
	free(text);
	return 0;
}
