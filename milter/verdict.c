/*
 * verdict.c - the shared verdict table (see verdict.h).
 *
 * Lock striping: a keyed hash of the address picks one of up to 256
 * stripes (a stripe gets at least 1024 of max_entries: small tables have
 * fewer, down to one), and each stripe has its own mutex, hash map with
 * LRU order (hmap.h), condition variable, counters and an equal share of
 * max_entries.  Lookups of different addresses rarely wait for each
 * other; every operation is O(1) (a map doubles its buckets now and then:
 * amortised O(1)).  The stats are exact: sums over the stripes.  A lookup
 * holds its stripe's lock across a cache miss or two, so a collision is
 * likely to end soon: the mutexes spin a little before they sleep
 * (glibc's adaptive ones), and 256 stripes rather than 64 made two
 * lookup threads half as fast again (bench/pmbench table).
 *
 * A full stripe drops its least recently used verdict, expired or not:
 * the LRU order is the stripe's, not the table's, which with a thousand
 * entries or more a stripe changes little.  max_entries is honoured in
 * total up to the rounding of the shares; as addresses do not spread
 * quite evenly, a full table holds a little less (99.4% of a million).
 * Expired entries also go when they are looked up.  Pending entries (a
 * probe set in flight) are hashed but not in the LRU order, so they are
 * never evicted: dropping one would start a second probe set for the
 * same address.  Their number is bounded by the engine's queue, so the
 * table may exceed max_entries by that much.
 *
 * An entry is small and as long as it needs: the address as 16 bytes
 * (IPv4 as ::ffff:a.b.c.d), times in 1/8 s ticks from the table's start
 * (+-8.5 years: later ones saturate), the state in a byte, then the
 * evidence and the egress address (4 or 16 bytes, or its text when it is
 * not an address that prints back the same) inline: 54 bytes and the
 * evidence (malloc's 64-byte chunks for pending, clean and error entries).
 * A verdict of another length than its entry moves to a new one in the
 * same place (hm_replace).  (Slabs of 64-byte slots were tried: no faster,
 * and 10% more memory.)
 */
#include "config.h"
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include "hmap.h"
#include "probes.h"
#include "verdict.h"

#define VT_STRIPES 256		/* at most; a power of two */
#define VT_STRIPE_MIN 1024	/* entries a stripe before there are two */
#define VT_TICKS 8.0		/* a second */

_Static_assert(VT_EVIDENCE_MAX <= 256 && VT_EGRESS_MAX <= 256, "lengths are bytes");

struct ent {
	struct hm_node node;		/* verdicts: in the LRU order */
	unsigned char key[16];		/* the address; IPv4 as ::ffff:a.b.c.d */
	int32_t set_at, expires;	/* ticks after t->base */
	uint8_t state;			/* enum vt_state */
	uint8_t evlen, eglen;		/* bytes of v[]: evidence, then egress */
	uint8_t egtext;			/* egress is text, not 4 or 16 address bytes */
	int16_t score;			/* in malloc's chunk's spare bytes */
	unsigned char v[];
};

struct stripe {
	pthread_mutex_t mu;
	pthread_cond_t cv;		/* waiters for this stripe's pending entries */
	struct hmap map;
	size_t npending, max;
	uint64_t hits, misses, joins, evicted, expired;
} __attribute__((aligned(64)));		/* no cache line shared with another */

struct vt {
	double base;			/* tick 0: a whole monotonic second */
	size_t nstripes;
	struct stripe s[];
};

double
vt_now(void)
{
	return pe_now();	/* the library's one clock */
}

const char *
vt_state_name(enum vt_state s)
{
	switch (s) {
	case VT_PENDING: return "pending";
	case VT_OPEN: return "open-proxy";
	case VT_RELAY: return "open-relay";
	case VT_LISTED: return "listed";
	case VT_SUSPECT: return "suspect";
	case VT_CLEAN: return "clean";
	case VT_ERROR: return "error";
	default: return "none";
	}
}

/* seconds -> ticks, rounded down (an entry's age is never negative) */
static int32_t
ticks(const struct vt *t, double when)
{
	double x = (when - t->base) * VT_TICKS;
	int32_t i;

	if (x >= (double)INT32_MAX)
		return INT32_MAX;
	if (x <= (double)INT32_MIN)
		return INT32_MIN;
	i = (int32_t)x;
	return (double)i > x ? i - 1 : i;
}

static double
secs(const struct vt *t, int32_t tk)
{
	return t->base + (double)tk / VT_TICKS;
}

/* The key is written as two words because the hash reads it so: a load
 * that spans several smaller stores cannot take its bytes from the store
 * buffer and waits until they are written out, which keeps the next
 * lookup from overlapping this one's cache misses (bytes and a 4-byte
 * copy here cost a third of the lookups a second in bench/pmbench). */
static void
addr_key(const struct pm_addr *a, unsigned char k[16])
{
	uint64_t w[2];
	uint32_t v4;

	if (a->family == AF_INET) {
		memcpy(&v4, a->b, 4);
		w[0] = 0;
		w[1] = htole64(0xffff0000ull | (uint64_t)le32toh(v4) << 32);
	} else {
		memcpy(w, a->b, 16);
	}
	memcpy(k, w, 16);
}

/* the stripes' maps share one seed, so one hash does for both: bits 40-47
 * pick the stripe, the low bits a bucket in it */
static struct stripe *
stripe_of(struct vt *t, const unsigned char k[16], uint64_t *h)
{
	*h = hm_key_hash(&t->s[0].map, k);
	return &t->s[(*h >> 40) & (t->nstripes - 1)];
}

struct vt *
vt_new(size_t max)
{
	pthread_mutexattr_t ma;
	pthread_condattr_t ca;
	size_t ns = 1;
	struct vt *t;

	while (ns < VT_STRIPES && max / (ns * 2) >= VT_STRIPE_MIN)
		ns *= 2;
	if ((t = aligned_alloc(64, sizeof(*t) + ns * sizeof(t->s[0]))) == NULL)
		return NULL;
	memset(t, 0, sizeof(*t) + ns * sizeof(t->s[0]));
	t->base = (double)(int64_t)vt_now();
	t->nstripes = ns;
	pthread_mutexattr_init(&ma);
#ifdef PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (size_t i = 0; i < ns; i++) {
		pthread_mutex_init(&t->s[i].mu, &ma);
		pthread_cond_init(&t->s[i].cv, &ca);
	}
	pthread_condattr_destroy(&ca);
	pthread_mutexattr_destroy(&ma);
	for (size_t i = 0; i < ns; i++) {
		if (hm_init(&t->s[i].map, HM_KEYOFF(struct ent, node, key), 16,
		    NULL, NULL) < 0) {
			vt_free(t);
			return NULL;
		}
		hm_seed(&t->s[i].map, t->s[0].map.k0, t->s[0].map.k1);
	}
	vt_set_max(t, max);
	return t;
}

void
vt_free(struct vt *t)
{
	struct hm_node *n, *next;

	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nstripes; i++) {
		struct stripe *s = &t->s[i];
		for (n = hm_next(&s->map, NULL); n != NULL; n = next) {
			next = hm_next(&s->map, n);
			free(HM_ENTRY(n, struct ent, node));
		}
		hm_destroy(&s->map);
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
	}
	free(t);
}

void
vt_set_max(struct vt *t, size_t max)
{
	if (max < 16)
		max = 16;
	for (size_t i = 0; i < t->nstripes; i++) {
		pthread_mutex_lock(&t->s[i].mu);
		t->s[i].max = (max + t->nstripes - 1) / t->nstripes;
		pthread_mutex_unlock(&t->s[i].mu);
	}
}

static void
drop(struct stripe *s, struct ent *e)
{
	hm_remove(&s->map, &e->node);
	if (e->state == VT_PENDING)
		s->npending--;
	free(e);
}

/* make room for one more: the least recently used verdict goes, O(1) */
static void
make_room(const struct vt *t, struct stripe *s, double now)
{
	struct hm_node *n;

	while (s->map.n >= s->max && (n = hm_oldest(&s->map)) != NULL) {
		struct ent *e = HM_ENTRY(n, struct ent, node);
		if (secs(t, e->expires) <= now)
			s->expired++;
		else
			s->evicted++;
		drop(s, e);
	}
}

/* a new entry for k (hash h) with room for len bytes of evidence and
 * egress; it is hashed, not yet in the LRU order */
static struct ent *
insert(const struct vt *t, struct stripe *s, const unsigned char k[16], uint64_t h,
    size_t len, double now)
{
	struct ent *e;

	make_room(t, s, now);
	if ((e = malloc(offsetof(struct ent, v) + len)) == NULL)
		return NULL;
	memset(e, 0, offsetof(struct ent, v));
	memcpy(e->key, k, 16);
	if (hm_insert_h(&s->map, &e->node, h) < 0) {
		free(e);
		return NULL;
	}
	return e;
}

static struct ent *
find(struct stripe *s, const unsigned char k[16], uint64_t h)
{
	struct hm_node *n = hm_find_h(&s->map, k, h);
	return n != NULL ? HM_ENTRY(n, struct ent, node) : NULL;
}

/* the entry as a vt_info: only what it holds is written (a vt_info is
 * mostly text buffers; clearing them all cost a tenth of a lookup) */
static void
fill(const struct vt *t, const struct ent *e, double now, struct vt_info *out)
{
	out->evidence[0] = out->egress[0] = '\0';
	if (e == NULL) {
		out->state = VT_NONE;
		out->score = 0;
		out->expires = out->age = 0;
		return;
	}
	out->state = e->state;
	out->score = e->score;
	memcpy(out->evidence, e->v, e->evlen);
	out->evidence[e->evlen] = '\0';
	if (e->egtext) {
		memcpy(out->egress, e->v + e->evlen, e->eglen);
		out->egress[e->eglen] = '\0';
	} else if (e->eglen > 0) {
		struct pm_addr a;
		a.family = e->eglen == 4 ? AF_INET : AF_INET6;
		memcpy(a.b, e->v + e->evlen, e->eglen);
		pm_addr_str(&a, out->egress, sizeof(out->egress));
	}
	out->expires = secs(t, e->expires);
	out->age = now - secs(t, e->set_at);
}

static struct ent *
live(const struct vt *t, struct stripe *s, const unsigned char k[16], uint64_t h,
    double now)
{
	struct ent *e = find(s, k, h);

	if (e != NULL && secs(t, e->expires) <= now) {
		drop(s, e);
		s->expired++;
		return NULL;
	}
	return e;
}

enum vt_claim
vt_claim(struct vt *t, const struct pm_addr *a, double now, double pending_ttl,
    struct vt_info *out)
{
	unsigned char k[16];
	uint64_t h;
	struct stripe *s;
	struct ent *e;
	enum vt_claim r;

	addr_key(a, k);
	s = stripe_of(t, k, &h);
	pthread_mutex_lock(&s->mu);
	e = live(t, s, k, h, now);
	if (e != NULL && e->state == VT_PENDING) {
		s->joins++;
		r = VT_INFLIGHT;
	} else if (e != NULL) {
		s->hits++;
		hm_touch(&s->map, &e->node);
		r = VT_HIT;
	} else {
		s->misses++;
		if ((e = insert(t, s, k, h, 0, now)) != NULL) {
			e->state = VT_PENDING;
			e->set_at = ticks(t, now);
			e->expires = ticks(t, now + pending_ttl);
			s->npending++;
		}
		r = VT_CLAIMED;
	}
	fill(t, e, now, out);
	pthread_mutex_unlock(&s->mu);
	return r;
}

void
vt_get(struct vt *t, const struct pm_addr *a, double now, struct vt_info *out)
{
	unsigned char k[16];
	uint64_t h;
	struct stripe *s;

	addr_key(a, k);
	s = stripe_of(t, k, &h);
	pthread_mutex_lock(&s->mu);
	fill(t, live(t, s, k, h, now), now, out);
	pthread_mutex_unlock(&s->mu);
}

/* the egress as stored: 4 or 16 address bytes when it is an address that
 * prints back as the same text, else the text; its length */
static size_t
pack_egress(const char *egress, unsigned char *out, int *text)
{
	struct pm_addr a;
	char back[VT_EGRESS_MAX];
	size_t len;

	*text = 0;
	if (egress == NULL || *egress == '\0')
		return 0;
	if (pm_addr_parse(egress, &a) == 0 &&
	    strcmp(pm_addr_str(&a, back, sizeof(back)), egress) == 0) {
		len = a.family == AF_INET ? 4 : 16;
		memcpy(out, a.b, len);
		return len;
	}
	*text = 1;
	len = strnlen(egress, VT_EGRESS_MAX - 1);
	memcpy(out, egress, len);
	return len;
}

/* set k's entry (found or not: e may be NULL) to a verdict; s is locked */
static void
set_entry(struct vt *t, struct stripe *s, struct ent *e, const unsigned char k[16], uint64_t h,
    enum vt_state st, int score, const char *evidence, const char *egress, double set_at,
    double expires, double now)
{
	unsigned char eg[VT_EGRESS_MAX];
	size_t evlen = evidence != NULL ? strnlen(evidence, VT_EVIDENCE_MAX - 1) : 0;
	int egtext;
	size_t eglen = pack_egress(egress, eg, &egtext);
	size_t need = evlen + eglen, room = need;
	struct ent *ne;

	if (e == NULL) {
		e = insert(t, s, k, h, need, now);
	} else if ((size_t)e->evlen + e->eglen != need) {
		/* a new entry of the new length takes the old one's place; out
		 * of memory, the old one keeps what fits */
		if ((ne = malloc(offsetof(struct ent, v) + need)) != NULL) {
			memcpy(ne, e, offsetof(struct ent, v));
			hm_replace(&s->map, &e->node, &ne->node);
			free(e);
			e = ne;
		} else {
			room = (size_t)e->evlen + e->eglen;
		}
	}
	if (e != NULL) {
		if (e->state == VT_PENDING)
			s->npending--;
		e->state = (uint8_t)st;
		e->score = (int16_t)(score > INT16_MAX ? INT16_MAX : score < INT16_MIN ? INT16_MIN : score);
		e->set_at = ticks(t, set_at);
		e->expires = ticks(t, expires);
		e->evlen = (uint8_t)(evlen < room ? evlen : room);
		e->eglen = (uint8_t)(e->evlen + eglen <= room ? eglen : 0);
		e->egtext = (uint8_t)(e->eglen > 0 && egtext);
		memcpy(e->v, evidence != NULL ? evidence : "", e->evlen);
		memcpy(e->v + e->evlen, eg, e->eglen);
		hm_touch(&s->map, &e->node);
	}
	pthread_cond_broadcast(&s->cv);
}

void
vt_complete(struct vt *t, const struct pm_addr *a, enum vt_state st, int score,
    const char *evidence, const char *egress, double now, double ttl)
{
	unsigned char k[16];
	uint64_t h;
	struct stripe *s;

	addr_key(a, k);
	s = stripe_of(t, k, &h);
	pthread_mutex_lock(&s->mu);
	set_entry(t, s, find(s, k, h), k, h, st, score, evidence, egress, now, now + ttl, now);
	pthread_mutex_unlock(&s->mu);
}

int
vt_put(struct vt *t, const struct pm_addr *a, enum vt_state st, int score,
    const char *evidence, const char *egress, double set_at, double expires,
    enum vt_put how, double now)
{
	unsigned char k[16];
	uint64_t h;
	struct stripe *s;
	struct ent *e;
	int ok;

	if (expires <= now || st == VT_NONE || st == VT_PENDING)
		return 0;
	addr_key(a, k);
	s = stripe_of(t, k, &h);
	pthread_mutex_lock(&s->mu);
	e = live(t, s, k, h, now);
	if (how == VT_PUT_PENDING)
		ok = e != NULL && e->state == VT_PENDING;
	else
		ok = e == NULL || e->state == VT_PENDING || ticks(t, set_at) > e->set_at;
	if (ok)
		set_entry(t, s, e, k, h, st, score, evidence, egress, set_at, expires, now);
	pthread_mutex_unlock(&s->mu);
	return ok;
}

int
vt_flush(struct vt *t, const struct pm_addr *a)
{
	unsigned char k[16];
	uint64_t h;
	struct stripe *s;
	struct ent *e;
	int r = 0;

	addr_key(a, k);
	s = stripe_of(t, k, &h);
	pthread_mutex_lock(&s->mu);
	if ((e = find(s, k, h)) != NULL && e->state != VT_PENDING) {
		drop(s, e);
		r = 1;
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

size_t
vt_flush_all(struct vt *t)
{
	struct hm_node *n, *next;
	size_t r = 0;

	for (size_t i = 0; i < t->nstripes; i++) {
		struct stripe *s = &t->s[i];
		pthread_mutex_lock(&s->mu);
		for (n = hm_next(&s->map, NULL); n != NULL; n = next) {
			struct ent *e = HM_ENTRY(n, struct ent, node);
			next = hm_next(&s->map, n);
			if (e->state != VT_PENDING) {
				drop(s, e);
				r++;
			}
		}
		pthread_mutex_unlock(&s->mu);
	}
	return r;
}

/* the key back as an address */
static void
key_addr(const unsigned char k[16], struct pm_addr *a)
{
	static const unsigned char v4[12] = { 0,0,0,0, 0,0,0,0, 0,0,0xff,0xff };

	memset(a, 0, sizeof(*a));
	if (memcmp(k, v4, 12) == 0) {
		a->family = AF_INET;
		memcpy(a->b, k + 12, 4);
	} else {
		a->family = AF_INET6;
		memcpy(a->b, k, 16);
	}
}

int
vt_walk(struct vt *t, double now, int (*fn)(const struct vt_entry *, void *), void *arg)
{
	struct vt_entry *buf = NULL;
	size_t cap = 0, n;
	struct hm_node *hn;
	int r = 0;

	for (size_t i = 0; i < t->nstripes && r == 0; i++) {
		struct stripe *s = &t->s[i];
		pthread_mutex_lock(&s->mu);
		while (s->map.n > cap) {	/* room, allocated without the lock */
			size_t want = s->map.n + s->map.n / 8 + 16;
			struct vt_entry *nb;
			pthread_mutex_unlock(&s->mu);
			if ((nb = realloc(buf, want * sizeof(*buf))) == NULL) {
				free(buf);
				return -1;
			}
			buf = nb;
			cap = want;
			pthread_mutex_lock(&s->mu);
		}
		n = 0;
		for (hn = hm_next(&s->map, NULL); hn != NULL; hn = hm_next(&s->map, hn)) {
			const struct ent *e = HM_ENTRY(hn, struct ent, node);
			if (e->state == VT_PENDING || secs(t, e->expires) <= now)
				continue;
			key_addr(e->key, &buf[n].a);
			fill(t, e, now, &buf[n].v);
			n++;
		}
		pthread_mutex_unlock(&s->mu);
		for (size_t j = 0; j < n && r == 0; j++)
			r = fn(&buf[j], arg);
	}
	free(buf);
	return r;
}

void
vt_wait(struct vt *t, const struct pm_addr *a, double deadline, struct vt_info *out)
{
	unsigned char k[16];
	uint64_t h;
	struct stripe *s;
	struct ent *e;
	double now;

	addr_key(a, k);
	s = stripe_of(t, k, &h);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		now = vt_now();
		e = live(t, s, k, h, now);
		if (e == NULL || e->state != VT_PENDING || now >= deadline)
			break;
		struct timespec ts;
		ts.tv_sec = (time_t)deadline;
		ts.tv_nsec = (long)((deadline - (double)ts.tv_sec) * 1e9);
		int r = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		if (r != 0 && r != ETIMEDOUT && r != EINTR)
			break;
	}
	fill(t, e, now, out);
	pthread_mutex_unlock(&s->mu);
}

void
vt_stats(struct vt *t, struct vt_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (size_t i = 0; i < t->nstripes; i++) {
		struct stripe *s = &t->s[i];
		pthread_mutex_lock(&s->mu);
		st->entries += s->map.n;
		st->pending += s->npending;
		st->hits += s->hits;
		st->misses += s->misses;
		st->inflight_joins += s->joins;
		st->evicted += s->evicted;
		st->expired += s->expired;
		pthread_mutex_unlock(&s->mu);
	}
}
