/*
 * hmap.c - the intrusive hash map of hmap.h.
 *
 * The verdict table, the rate limiter, the canary's nonces and
 * proxymilter-report each had a hash table of their own, two of them with
 * an LRU list; this is the one they share.
 *
 * Separate chaining with at most one node per two buckets (they double
 * before that): a successful lookup visits 1.25 nodes on average, not 1.5
 * as at one per bucket, and in a big table each node is a cache miss (in
 * the verdict table 8 more bytes a node bought a quarter more lookups a
 * second).  Chains are so short that removal walks one instead of keeping
 * a back pointer.  The LRU order is a circular doubly linked list through
 * the map's head node.  The hash is keyed (SipHash-1-3): addresses and
 * nonces come from the network, and a fixed hash would let a client pick
 * colliding keys.
 */
#include "config.h"
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include "hmap.h"
#include "probes.h"

#define HM_MINBUCKETS 8

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND do { \
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
} while (0)

uint64_t
hm_hash(const struct hmap *m, const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t v0 = m->k0 ^ 0x736f6d6570736575ull, v1 = m->k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = m->k0 ^ 0x6c7967656e657261ull, v3 = m->k1 ^ 0x7465646279746573ull;
	uint64_t w, last = (uint64_t)len << 56;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		w = le64toh(w);		/* the same hash on every host */
		v3 ^= w;
		SIPROUND;
		v0 ^= w;
	}
	for (size_t i = 0; i < len; i++)
		last |= (uint64_t)s[i] << (8 * i);
	v3 ^= last;
	SIPROUND;
	v0 ^= last;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static const void *
key_of(const struct hmap *m, const struct hm_node *n)
{
	return (const char *)n + m->koff;
}

uint64_t
hm_key_hash(const struct hmap *m, const void *key)
{
	if (m->hash != NULL)
		return m->hash(m, key);
	return hm_hash(m, key, m->klen > 0 ? m->klen : strlen(key));
}

static int
same_key(const struct hmap *m, const void *a, const void *b)
{
	if (m->eq != NULL)
		return m->eq(a, b);
	return m->klen > 0 ? memcmp(a, b, m->klen) == 0 : strcmp(a, b) == 0;
}

/* the link that points to n, which is in the map */
static struct hm_node **
link_to(const struct hmap *m, const struct hm_node *n)
{
	struct hm_node **pp = &m->b[hm_key_hash(m, key_of(m, n)) & (m->nb - 1)];

	while (*pp != n)
		pp = &(*pp)->next;
	return pp;
}

int
hm_init(struct hmap *m, ptrdiff_t koff, size_t klen, hm_hash_fn *hash, hm_eq_fn *eq)
{
	uint64_t k[2];

	memset(m, 0, sizeof(*m));
	m->koff = koff;
	m->klen = klen;
	m->hash = hash;
	m->eq = eq;
	m->lru.older = m->lru.newer = &m->lru;
	if (pe_random(k, sizeof(k)) < 0)
		return -1;
	hm_seed(m, k[0], k[1]);
	return 0;
}

void
hm_seed(struct hmap *m, uint64_t k0, uint64_t k1)
{
	m->k0 = k0;
	m->k1 = k1;
}

void
hm_destroy(struct hmap *m)
{
	free(m->b);
	m->b = NULL;
	m->nb = m->n = 0;
	m->lru.older = m->lru.newer = &m->lru;
}

struct hm_node *
hm_find_h(const struct hmap *m, const void *key, uint64_t hash)
{
	struct hm_node *n;

	if (m->n == 0)
		return NULL;
	for (n = m->b[hash & (m->nb - 1)]; n != NULL; n = n->next)
		if (same_key(m, key_of(m, n), key))
			return n;
	return NULL;
}

struct hm_node *
hm_find(const struct hmap *m, const void *key)
{
	return hm_find_h(m, key, hm_key_hash(m, key));
}

/* twice the buckets; the nodes move to their new chains */
static int
grow(struct hmap *m)
{
	size_t nb = m->nb > 0 ? m->nb * 2 : HM_MINBUCKETS;
	struct hm_node **b, *n, *next;

	if ((b = calloc(nb, sizeof(*b))) == NULL)
		return -1;
	for (size_t i = 0; i < m->nb; i++) {
		for (n = m->b[i]; n != NULL; n = next) {
			size_t h = hm_key_hash(m, key_of(m, n)) & (nb - 1);
			next = n->next;
			n->next = b[h];
			b[h] = n;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

int
hm_insert_h(struct hmap *m, struct hm_node *n, uint64_t hash)
{
	struct hm_node **pp;

	if (m->n >= m->nb / 2 && grow(m) < 0)
		return -1;
	pp = &m->b[hash & (m->nb - 1)];
	n->next = *pp;
	n->older = n->newer = NULL;
	*pp = n;
	m->n++;
	return 0;
}

int
hm_insert(struct hmap *m, struct hm_node *n)
{
	return hm_insert_h(m, n, hm_key_hash(m, key_of(m, n)));
}

static void
lru_unlink(struct hm_node *n)
{
	if (n->older == NULL)
		return;
	n->older->newer = n->newer;
	n->newer->older = n->older;
	n->older = n->newer = NULL;
}

void
hm_remove(struct hmap *m, struct hm_node *n)
{
	*link_to(m, n) = n->next;
	lru_unlink(n);
	m->n--;
}

void
hm_replace(struct hmap *m, struct hm_node *old, struct hm_node *nw)
{
	*link_to(m, old) = nw;
	nw->next = old->next;
	nw->older = old->older;
	nw->newer = old->newer;
	if (nw->older != NULL) {
		nw->older->newer = nw;
		nw->newer->older = nw;
	}
}

void
hm_touch(struct hmap *m, struct hm_node *n)
{
	struct hm_node *h = &m->lru;

	lru_unlink(n);
	n->newer = h;
	n->older = h->older;
	h->older->newer = n;
	h->older = n;
}

struct hm_node *
hm_oldest(const struct hmap *m)
{
	return m->lru.newer != &m->lru ? m->lru.newer : NULL;
}

struct hm_node *
hm_newer(const struct hmap *m, const struct hm_node *n)
{
	return n->newer != &m->lru ? n->newer : NULL;
}

struct hm_node *
hm_next(const struct hmap *m, const struct hm_node *n)
{
	size_t i = 0;

	if (n != NULL) {
		if (n->next != NULL)
			return n->next;
		i = (hm_key_hash(m, key_of(m, n)) & (m->nb - 1)) + 1;
	}
	for (; i < m->nb; i++)
		if (m->b[i] != NULL)
			return m->b[i];
	return NULL;
}
