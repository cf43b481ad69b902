/*
 * hmap.h - an intrusive hash map with an optional LRU order.
 *
 * The user embeds a struct hm_node in its own struct and keeps the key in
 * that struct too, at a fixed offset from the node: klen bytes, or a
 * NUL-terminated string (klen 0), or whatever hash and eq callbacks make
 * of it.  Chains hang from a power-of-two bucket array that doubles when
 * the map holds half as many nodes as buckets (amortised O(1)); find,
 * insert, remove and replace are O(1) on average.  The hash is SipHash-1-3
 * with a random seed from getrandom(), so clients cannot choose colliding
 * keys.
 *
 * A node may also be in the map's LRU order (hm_touch puts it at the
 * newest end); hm_oldest is the eviction candidate, O(1).  Nodes never
 * touched are only hashed (verdict.c keeps its pending entries so).
 *
 * No locking: callers lock.  Only the inserts allocate (the buckets): out
 * of memory they return -1 and leave the map as it was, and the caller
 * decides what that means.  The map holds pointers to itself (the LRU
 * head): it must not be moved or copied after hm_init.
 */
#ifndef PM_HMAP_H
#define PM_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hm_node {
	struct hm_node *next;		/* hash chain */
	struct hm_node *older, *newer;	/* LRU order; older NULL: not in it */
};

struct hmap;
/* hash of a key; the default hashes klen bytes (or the string) with hm_hash */
typedef uint64_t hm_hash_fn(const struct hmap *, const void *key);
/* 1 when the keys are equal; the default compares klen bytes (or strings) */
typedef int hm_eq_fn(const void *a, const void *b);

struct hmap {
	struct hm_node **b;		/* nb chains, NULL until the first insert */
	size_t nb, n;			/* buckets (a power of two); nodes */
	ptrdiff_t koff;			/* the key is at (char *)node + koff */
	size_t klen;			/* key bytes; 0: a NUL-terminated string */
	hm_hash_fn *hash;
	hm_eq_fn *eq;
	uint64_t k0, k1;		/* hash seed */
	struct hm_node lru;		/* head: lru.newer oldest, lru.older newest */
};

/* the struct around a node, and the offset of a key from the node */
#define HM_ENTRY(node, type, field) \
	((type *)(void *)((char *)(node) - offsetof(type, field)))
#define HM_KEYOFF(type, nodefield, keyfield) \
	((ptrdiff_t)offsetof(type, keyfield) - (ptrdiff_t)offsetof(type, nodefield))

/* an empty map with a random seed; hash and eq may be NULL (defaults);
 * -1: no randomness */
int hm_init(struct hmap *, ptrdiff_t koff, size_t klen, hm_hash_fn *, hm_eq_fn *);
/* a fixed seed (tests, or maps that must hash alike); only while empty */
void hm_seed(struct hmap *, uint64_t k0, uint64_t k1);
/* frees the buckets; the nodes are the caller's (free them first, hm_next) */
void hm_destroy(struct hmap *);
/* SipHash-1-3 of len bytes under the map's seed */
uint64_t hm_hash(const struct hmap *, const void *p, size_t len);

struct hm_node *hm_find(const struct hmap *, const void *key);
/* the node's key must not be in the map yet; -1: no memory to grow,
 * the node was not inserted */
int hm_insert(struct hmap *, struct hm_node *);
/* a key's hash as the map computes it, and find and insert with it known:
 * for a caller that picks one of several maps (of one seed) by the hash */
uint64_t hm_key_hash(const struct hmap *, const void *key);
struct hm_node *hm_find_h(const struct hmap *, const void *key, uint64_t hash);
int hm_insert_h(struct hmap *, struct hm_node *, uint64_t hash);
/* out of the map and out of the LRU order */
void hm_remove(struct hmap *, struct hm_node *);
/* nw (same key, not in the map) takes old's place in the chain and in the
 * LRU order: for entries that change size */
void hm_replace(struct hmap *, struct hm_node *old, struct hm_node *nw);

/* to the newest end of the LRU order (into it if it was not there) */
void hm_touch(struct hmap *, struct hm_node *);
/* the least recently touched node, NULL when none is in the LRU order */
struct hm_node *hm_oldest(const struct hmap *);
/* the next newer one, NULL after the newest; n may be removed after this */
struct hm_node *hm_newer(const struct hmap *, const struct hm_node *);

/* every node once, in no particular order: hm_next(m, NULL) is the first.
 * The map must not change during the walk, except that a node may be
 * freed once hm_next has returned its successor (to empty the map before
 * hm_destroy; the map is then good for nothing else) */
struct hm_node *hm_next(const struct hmap *, const struct hm_node *);

#endif
