/*
 * verdict.c - the shared verdict table (see verdict.h).
 *
 * A chained hash table plus an LRU list (sys/queue.h), all under one
 * mutex; every operation is O(1) (the table doubles its buckets now and
 * then: amortised O(1)).  A full table drops its least recently used
 * verdict, expired or not; expired entries also go when they are looked
 * up.  Pending entries (a probe set in flight) are not in the LRU list
 * but in a list of their own and are never evicted: dropping one would
 * start a second probe set for the same address.  Their number is bounded
 * by the engine's queue, so the table may exceed max_entries by that much.
 */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/queue.h>
#include "verdict.h"

struct ent {
	struct ent *hnext;
	TAILQ_ENTRY(ent) lru;		/* verdicts: head = most recently used;
					 * pending entries: in t->pend */
	struct pm_addr a;
	enum vt_state state;
	double expires, set_at;
	char evidence[VT_EVIDENCE_MAX];
	char egress[VT_EGRESS_MAX];
};

/* waiters sleep on the condition variable of their address's stripe, so a
 * verdict wakes the few sessions that may wait for it, not all of them */
#define VT_NCV 256

struct vt {
	pthread_mutex_t mu;
	pthread_cond_t cv[VT_NCV];
	struct ent **tab;
	size_t nbuckets, n, npending, max;
	TAILQ_HEAD(entq, ent) lru, pend;
	uint64_t hits, misses, joins, evicted, expired;
};

double
vt_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *
vt_state_name(enum vt_state s)
{
	switch (s) {
	case VT_PENDING: return "pending";
	case VT_OPEN: return "open-proxy";
	case VT_CLEAN: return "clean";
	case VT_ERROR: return "error";
	default: return "none";
	}
}

static size_t
hash_addr(const struct pm_addr *a, size_t nb)
{
	uint64_t h = 1469598103934665603ull;
	size_t len = a->family == AF_INET ? 4 : 16;
	for (size_t i = 0; i < len; i++)
		h = (h ^ a->b[i]) * 1099511628211ull;
	h ^= (uint64_t)a->family;
	return (size_t)(h % nb);
}

static int
same(const struct pm_addr *x, const struct pm_addr *y)
{
	return x->family == y->family && memcmp(x->b, y->b, 16) == 0;
}

struct vt *
vt_new(size_t max)
{
	struct vt *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (int i = 0; i < VT_NCV; i++)
		pthread_cond_init(&t->cv[i], &ca);
	pthread_condattr_destroy(&ca);
	t->max = max < 16 ? 16 : max;
	TAILQ_INIT(&t->lru);
	TAILQ_INIT(&t->pend);
	/* buckets grow with the table up to max; start small */
	t->nbuckets = 1024;
	t->tab = calloc(t->nbuckets, sizeof(*t->tab));
	if (t->tab == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
vt_free(struct vt *t)
{
	struct ent *e;
	if (t == NULL)
		return;
	while ((e = TAILQ_FIRST(&t->lru)) != NULL) {
		TAILQ_REMOVE(&t->lru, e, lru);
		free(e);
	}
	while ((e = TAILQ_FIRST(&t->pend)) != NULL) {
		TAILQ_REMOVE(&t->pend, e, lru);
		free(e);
	}
	free(t->tab);
	for (int i = 0; i < VT_NCV; i++)
		pthread_cond_destroy(&t->cv[i]);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

void
vt_set_max(struct vt *t, size_t max)
{
	pthread_mutex_lock(&t->mu);
	t->max = max < 16 ? 16 : max;
	pthread_mutex_unlock(&t->mu);
}

static struct entq *
list_of(struct vt *t, const struct ent *e)
{
	return e->state == VT_PENDING ? &t->pend : &t->lru;
}

/* e was used: to the front of the LRU list */
static void
touch(struct vt *t, struct ent *e)
{
	TAILQ_REMOVE(&t->lru, e, lru);
	TAILQ_INSERT_HEAD(&t->lru, e, lru);
}

static struct ent **
find_slot(struct vt *t, const struct pm_addr *a)
{
	struct ent **pp = &t->tab[hash_addr(a, t->nbuckets)];
	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (same(&(*pp)->a, a))
			return pp;
	return NULL;
}

static void
remove_ent(struct vt *t, struct ent *e)
{
	struct ent **pp = find_slot(t, &e->a);
	if (pp != NULL)
		*pp = e->hnext;
	TAILQ_REMOVE(list_of(t, e), e, lru);
	if (e->state == VT_PENDING)
		t->npending--;
	t->n--;
	free(e);
}

static void
rehash(struct vt *t)
{
	size_t nb = t->nbuckets * 2;
	struct ent **nt = calloc(nb, sizeof(*nt));
	if (nt == NULL)
		return;		/* keep the old, longer chains */
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct ent *e = t->tab[i], *n;
		for (; e != NULL; e = n) {
			n = e->hnext;
			size_t h = hash_addr(&e->a, nb);
			e->hnext = nt[h];
			nt[h] = e;
		}
	}
	free(t->tab);
	t->tab = nt;
	t->nbuckets = nb;
}

/* make room for one more: the least recently used verdict goes, O(1) */
static void
make_room(struct vt *t, double now)
{
	struct ent *e;

	while (t->n >= t->max && (e = TAILQ_LAST(&t->lru, entq)) != NULL) {
		if (e->expires <= now)
			t->expired++;
		else
			t->evicted++;
		remove_ent(t, e);
	}
}

static struct ent *
insert(struct vt *t, const struct pm_addr *a, double now)
{
	struct ent *e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	make_room(t, now);
	if (t->n + 1 > t->nbuckets && t->nbuckets < t->max)
		rehash(t);
	e->a = *a;
	size_t h = hash_addr(a, t->nbuckets);
	e->hnext = t->tab[h];
	t->tab[h] = e;
	TAILQ_INSERT_HEAD(&t->lru, e, lru);
	t->n++;
	return e;
}

static void
fill(const struct ent *e, double now, struct vt_info *out)
{
	memset(out, 0, sizeof(*out));
	if (e == NULL)
		return;
	out->state = e->state;
	memcpy(out->evidence, e->evidence, sizeof(out->evidence));
	memcpy(out->egress, e->egress, sizeof(out->egress));
	out->expires = e->expires;
	out->age = now - e->set_at;
}

static struct ent *
live(struct vt *t, const struct pm_addr *a, double now)
{
	struct ent **pp = find_slot(t, a);
	if (pp == NULL)
		return NULL;
	if ((*pp)->expires <= now) {
		remove_ent(t, *pp);
		t->expired++;
		return NULL;
	}
	return *pp;
}

enum vt_claim
vt_claim(struct vt *t, const struct pm_addr *a, double now, double pending_ttl,
    struct vt_info *out)
{
	struct ent *e;
	enum vt_claim r;

	pthread_mutex_lock(&t->mu);
	e = live(t, a, now);
	if (e != NULL && e->state == VT_PENDING) {
		t->joins++;
		r = VT_INFLIGHT;
	} else if (e != NULL) {
		t->hits++;
		touch(t, e);
		r = VT_HIT;
	} else {
		t->misses++;
		e = insert(t, a, now);
		if (e != NULL) {
			TAILQ_REMOVE(&t->lru, e, lru);
			e->state = VT_PENDING;
			TAILQ_INSERT_HEAD(&t->pend, e, lru);
			e->set_at = now;
			e->expires = now + pending_ttl;
			t->npending++;
		}
		r = VT_CLAIMED;
	}
	fill(e, now, out);
	pthread_mutex_unlock(&t->mu);
	return r;
}

void
vt_get(struct vt *t, const struct pm_addr *a, double now, struct vt_info *out)
{
	pthread_mutex_lock(&t->mu);
	fill(live(t, a, now), now, out);
	pthread_mutex_unlock(&t->mu);
}

void
vt_complete(struct vt *t, const struct pm_addr *a, enum vt_state st,
    const char *evidence, const char *egress, double now, double ttl)
{
	struct ent **pp, *e;

	pthread_mutex_lock(&t->mu);
	pp = find_slot(t, a);
	e = pp != NULL ? *pp : insert(t, a, now);
	if (e != NULL) {
		if (e->state == VT_PENDING) {	/* from the pending list to the LRU */
			t->npending--;
			TAILQ_REMOVE(&t->pend, e, lru);
			TAILQ_INSERT_HEAD(&t->lru, e, lru);
		} else {
			touch(t, e);
		}
		e->state = st;
		e->set_at = now;
		e->expires = now + ttl;
		snprintf(e->evidence, sizeof(e->evidence), "%s", evidence ? evidence : "");
		snprintf(e->egress, sizeof(e->egress), "%s", egress ? egress : "");
	}
	pthread_cond_broadcast(&t->cv[hash_addr(a, VT_NCV)]);
	pthread_mutex_unlock(&t->mu);
}

void
vt_wait(struct vt *t, const struct pm_addr *a, double deadline, struct vt_info *out)
{
	struct ent *e;
	double now;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		now = vt_now();
		e = live(t, a, now);
		if (e == NULL || e->state != VT_PENDING || now >= deadline)
			break;
		struct timespec ts;
		ts.tv_sec = (time_t)deadline;
		ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
		int r = pthread_cond_timedwait(&t->cv[hash_addr(a, VT_NCV)], &t->mu, &ts);
		if (r != 0 && r != ETIMEDOUT && r != EINTR)
			break;
	}
	fill(e, now, out);
	pthread_mutex_unlock(&t->mu);
}

void
vt_stats(struct vt *t, struct vt_stats *s)
{
	pthread_mutex_lock(&t->mu);
	s->entries = t->n;
	s->pending = t->npending;
	s->hits = t->hits;
	s->misses = t->misses;
	s->inflight_joins = t->joins;
	s->evicted = t->evicted;
	s->expired = t->expired;
	pthread_mutex_unlock(&t->mu);
}
