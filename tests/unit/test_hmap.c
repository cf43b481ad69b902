/*
 * hmap: insert/find/remove, growth, LRU order and eviction, replace, walks,
 * seeds, collision chains, string keys, out of memory.  hmap.c is compiled
 * into this test with calloc (its bucket arrays) redirected, so that an
 * allocation can be made to fail.
 */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "t.h"

static int calloc_fails;

static void *
test_calloc(size_t n, size_t size)
{
	return calloc_fails ? NULL : calloc(n, size);
}
#define calloc test_calloc
#include "../../probes/hmap.c"
#undef calloc

struct obj {
	struct hm_node node;
	uint32_t key;
	int seen;
};

#define KEYOFF HM_KEYOFF(struct obj, node, key)
#define OBJ(n) HM_ENTRY(n, struct obj, node)

static struct obj *
find(struct hmap *m, uint32_t key)
{
	struct hm_node *n = hm_find(m, &key);
	return n != NULL ? OBJ(n) : NULL;
}

/* the keys in LRU order, oldest first, as "1 2 3" */
static const char *
lru_keys(const struct hmap *m)
{
	static char buf[512];
	size_t len = 0;

	buf[0] = '\0';
	for (struct hm_node *n = hm_oldest(m); n != NULL; n = hm_newer(m, n))
		if (len < sizeof(buf) - 16)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%u",
			    len ? " " : "", (unsigned)OBJ(n)->key);
	return buf;
}

static uint64_t
hash_zero(const struct hmap *m, const void *key)
{
	(void)m;
	(void)key;
	return 0;
}

/* keys compared without regard to case: a hash and an eq callback */
static uint64_t
hash_nocase(const struct hmap *m, const void *key)
{
	char low[64];
	size_t i;

	for (i = 0; i < sizeof(low) - 1 && ((const char *)key)[i] != '\0'; i++)
		low[i] = (char)(((const char *)key)[i] | 0x20);
	return hm_hash(m, low, i);
}

static int
eq_nocase(const void *a, const void *b)
{
	return strcasecmp(a, b) == 0;
}

struct word {
	struct hm_node node;
	char key[];
};

static struct word *
word(const char *s)
{
	struct word *w = malloc(sizeof(*w) + strlen(s) + 1);
	strcpy(w->key, s);
	return w;
}

static void
free_all(struct hmap *m, size_t off)
{
	struct hm_node *n, *next;

	for (n = hm_next(m, NULL); n != NULL; n = next) {
		next = hm_next(m, n);
		free((char *)n - off);
	}
	hm_destroy(m);
}

int
main(void)
{
	struct hmap m, m2;
	static struct obj o[100000];
	int ok;

	t_prog = "hmap: ";
	for (uint32_t i = 0; i < 100000; i++)
		o[i].key = i;

	/* insert, find, remove */
	T_OK(hm_init(&m, KEYOFF, sizeof(uint32_t), NULL, NULL) == 0, "init");
	T_OK(find(&m, 1) == NULL && hm_oldest(&m) == NULL && hm_next(&m, NULL) == NULL,
	    "an empty map finds nothing");
	ok = 1;
	for (int i = 0; i < 1000; i++)
		ok &= hm_insert(&m, &o[i].node) == 0;
	T_OK(ok && m.n == 1000, "1000 inserted");
	ok = 1;
	for (uint32_t i = 0; i < 1000; i++)
		ok &= find(&m, i) == &o[i];
	T_OK(ok && find(&m, 1000) == NULL, "each found, a missing key not");
	for (int i = 0; i < 1000; i += 2)
		hm_remove(&m, &o[i].node);
	ok = m.n == 500;
	for (uint32_t i = 0; i < 1000; i++)
		ok &= find(&m, i) == (i % 2 ? &o[i] : NULL);
	T_OK(ok, "removed ones gone, the others found");
	hm_destroy(&m);

	/* growth across many doublings; a walk sees every node once */
	hm_init(&m, KEYOFF, sizeof(uint32_t), NULL, NULL);
	ok = 1;
	for (int i = 0; i < 100000; i++)
		ok &= hm_insert(&m, &o[i].node) == 0;
	for (uint32_t i = 0; i < 100000; i++)
		ok &= find(&m, i) == &o[i];
	T_OK(ok && m.n == 100000, "100000 found after growing");
	T_OK(m.nb == 262144, "buckets doubled from 8 to 2^18 (load at most 1/2)");
	size_t longest = 0;
	for (size_t b = 0; b < m.nb; b++) {
		size_t len = 0;
		for (struct hm_node *n = m.b[b]; n != NULL; n = n->next)
			len++;
		longest = len > longest ? len : longest;
	}
	T_OK(longest <= 12, "chains stay short");
	size_t walked = 0;
	ok = 1;
	for (struct hm_node *n = hm_next(&m, NULL); n != NULL; n = hm_next(&m, n), walked++)
		ok &= OBJ(n)->seen++ == 0;
	T_OK(ok && walked == 100000, "hm_next visits each node once");
	hm_destroy(&m);

	/* LRU order and touch */
	hm_init(&m, KEYOFF, sizeof(uint32_t), NULL, NULL);
	for (int i = 0; i < 5; i++)
		hm_insert(&m, &o[i].node);
	T_OK(hm_oldest(&m) == NULL, "inserted nodes are not in the LRU order");
	for (int i = 0; i < 5; i++)
		hm_touch(&m, &o[i].node);
	T_STREQ(lru_keys(&m), "0 1 2 3 4", "touched: oldest first");
	hm_touch(&m, &o[0].node);
	hm_touch(&m, &o[3].node);
	T_STREQ(lru_keys(&m), "1 2 4 0 3", "touch moves to the newest end");
	hm_remove(&m, &o[2].node);
	T_STREQ(lru_keys(&m), "1 4 0 3", "remove leaves the LRU order");
	hm_destroy(&m);

	/* oldest-first eviction at a bound of 100 */
	hm_init(&m, KEYOFF, sizeof(uint32_t), NULL, NULL);
	for (int i = 0; i < 1000; i++) {
		if (m.n >= 100)
			hm_remove(&m, hm_oldest(&m));
		hm_insert(&m, &o[i].node);
		hm_touch(&m, &o[i].node);
	}
	ok = m.n == 100;
	for (uint32_t i = 900; i < 1000; i++)
		ok &= find(&m, i) == &o[i];
	T_OK(ok, "bounded at 100: the 100 most recent survive");
	T_OK(OBJ(hm_oldest(&m))->key == 900, "the oldest is the next to go");
	hm_touch(&m, &o[900].node);
	T_OK(OBJ(hm_oldest(&m))->key == 901, "a touched one is not");
	hm_remove(&m, &o[900].node);

	/* remove during an LRU walk */
	for (struct hm_node *n = hm_oldest(&m), *next; n != NULL; n = next) {
		next = hm_newer(&m, n);
		if (OBJ(n)->key % 2 == 0)
			hm_remove(&m, n);
	}
	ok = m.n == 50;
	uint32_t prev = 0;
	for (struct hm_node *n = hm_oldest(&m); n != NULL; n = hm_newer(&m, n)) {
		ok &= OBJ(n)->key % 2 == 1 && OBJ(n)->key > prev;
		prev = OBJ(n)->key;
	}
	T_OK(ok && prev == 999, "removing during the walk: the odd ones remain, in order");

	/* replace: same place in the chain and in the LRU order */
	struct obj r = { .key = 951 };
	hm_replace(&m, &o[951].node, &r.node);
	T_OK(find(&m, 951) == &r && m.n == 50, "replaced node found");
	ok = 1;
	prev = 0;
	for (struct hm_node *n = hm_oldest(&m); n != NULL; n = hm_newer(&m, n)) {
		ok &= OBJ(n)->key > prev && n != &o[951].node;
		prev = OBJ(n)->key;
	}
	T_OK(ok && prev == 999, "replaced node keeps its LRU place");
	hm_destroy(&m);

	/* seeds: the same seed hashes and walks alike, another one differs */
	hm_init(&m, KEYOFF, sizeof(uint32_t), NULL, NULL);
	hm_init(&m2, KEYOFF, sizeof(uint32_t), NULL, NULL);
	T_OK(m.k0 != m2.k0 || m.k1 != m2.k1, "random seeds differ");
	hm_seed(&m, 1, 2);
	hm_seed(&m2, 1, 2);
	T_OK(hm_hash(&m, "203.0.113.9", 11) == hm_hash(&m2, "203.0.113.9", 11),
	    "same seed, same hash");
	for (int i = 0; i < 50; i++)
		hm_insert(&m, &o[i].node);
	static struct obj o2[50];
	for (int i = 0; i < 50; i++) {
		o2[i].key = (uint32_t)i;
		hm_insert(&m2, &o2[i].node);
	}
	ok = 1;
	struct hm_node *a = hm_next(&m, NULL), *b = hm_next(&m2, NULL);
	for (; a != NULL && b != NULL; a = hm_next(&m, a), b = hm_next(&m2, b))
		ok &= OBJ(a)->key == OBJ(b)->key;
	ok &= a == NULL && b == NULL;
	T_OK(ok, "same seed, same walk order");
	hm_seed(&m2, 1, 3);
	ok = 0;
	for (int i = 0; i < 8; i++)
		ok += hm_hash(&m, &i, sizeof(i)) != hm_hash(&m2, &i, sizeof(i));
	T_OK(ok == 8, "another seed, other hashes");
	hm_destroy(&m);
	hm_destroy(&m2);

	/* collision chains: every key hashes to 0 */
	hm_init(&m, KEYOFF, sizeof(uint32_t), hash_zero, NULL);
	for (int i = 0; i < 200; i++)
		hm_insert(&m, &o[i].node);
	ok = 1;
	for (uint32_t i = 0; i < 200; i++)
		ok &= find(&m, i) == &o[i];
	T_OK(ok && find(&m, 200) == NULL, "one chain of 200: all found");
	hm_remove(&m, &o[199].node);	/* head of the chain */
	hm_remove(&m, &o[0].node);	/* tail */
	hm_remove(&m, &o[100].node);
	ok = m.n == 197;
	for (uint32_t i = 0; i < 200; i++)
		ok &= find(&m, i) == (i == 0 || i == 100 || i == 199 ? NULL : &o[i]);
	T_OK(ok, "removal at the head, tail and middle of a chain");
	struct obj r2 = { .key = 50 };
	hm_replace(&m, &o[50].node, &r2.node);
	T_OK(find(&m, 50) == &r2 && find(&m, 49) == &o[49] && find(&m, 51) == &o[51],
	    "replace in a chain");
	hm_destroy(&m);

	/* string keys; hash and eq callbacks */
	hm_init(&m, HM_KEYOFF(struct word, node, key), 0, NULL, NULL);
	hm_insert(&m, &word("socks5:1080")->node);
	hm_insert(&m, &word("socks4:1080")->node);
	T_OK(hm_find(&m, "socks5:1080") != NULL && hm_find(&m, "socks5:108") == NULL &&
	    hm_find(&m, "SOCKS5:1080") == NULL, "string keys");
	free_all(&m, offsetof(struct word, node));
	hm_init(&m, HM_KEYOFF(struct word, node, key), 0, hash_nocase, eq_nocase);
	hm_insert(&m, &word("Postmaster")->node);
	T_OK(hm_find(&m, "POSTMASTER") != NULL && hm_find(&m, "postmistress") == NULL,
	    "callbacks: keys without regard to case");
	free_all(&m, offsetof(struct word, node));

	/* out of memory: the insert fails and the map is as it was */
	hm_init(&m, KEYOFF, sizeof(uint32_t), NULL, NULL);
	calloc_fails = 1;
	T_OK(hm_insert(&m, &o[0].node) == -1 && m.n == 0 && find(&m, 0) == NULL,
	    "no memory for the first buckets: -1, still empty");
	calloc_fails = 0;
	for (int i = 0; i < 4; i++) {
		hm_insert(&m, &o[i].node);
		hm_touch(&m, &o[i].node);
	}
	calloc_fails = 1;
	T_OK(m.nb == 8 && hm_insert(&m, &o[4].node) == -1, "no memory to grow: -1");
	ok = m.n == 4 && m.nb == 8 && find(&m, 4) == NULL;
	for (uint32_t i = 0; i < 4; i++)
		ok &= find(&m, i) == &o[i];
	T_OK(ok, "the map is as it was");
	T_STREQ(lru_keys(&m), "0 1 2 3", "and so is its LRU order");
	calloc_fails = 0;
	T_OK(hm_insert(&m, &o[4].node) == 0 && find(&m, 4) == &o[4] && m.nb == 16,
	    "with memory again it grows");
	hm_destroy(&m);
	T_DONE();
}
