/*
 * ratelimit.c - token buckets per /24 (IPv4) or /64 (IPv6); see ratelimit.h.
 *
 * A bucket holds per_minute tokens and refills continuously at per_minute
 * tokens a minute.  Networks live in a hash table bounded by max_nets; when
 * it is full, the oldest touched network is forgotten (a forgotten network
 * starts with a full bucket: the limit errs towards probing).
 */
#include "config.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "ratelimit.h"

struct net {
	struct net *hnext, *prev, *next;	/* hash chain; LRU list */
	int family;
	unsigned char key[8];
	double tokens, at;
};

struct rl {
	pthread_mutex_t mu;
	struct net **tab;
	size_t nb, n, max;
	struct net *head, *tail;
};

struct rl *
rl_new(size_t max_nets)
{
	struct rl *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->max = max_nets < 16 ? 16 : max_nets;
	r->nb = 4096;
	if ((r->tab = calloc(r->nb, sizeof(*r->tab))) == NULL) {
		free(r);
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void
rl_free(struct rl *r)
{
	struct net *e, *n;
	if (r == NULL)
		return;
	for (e = r->head; e != NULL; e = n) {
		n = e->next;
		free(e);
	}
	free(r->tab);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static size_t
net_key(const struct pm_addr *a, unsigned char key[8])
{
	memset(key, 0, 8);
	if (a->family == AF_INET) {
		memcpy(key, a->b, 3);		/* /24 */
		return 3;
	}
	memcpy(key, a->b, 8);			/* /64 */
	return 8;
}

static size_t
hash(int family, const unsigned char key[8], size_t nb)
{
	unsigned h = 2166136261u ^ (unsigned)family;
	for (int i = 0; i < 8; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % nb;
}

static void
unlink_lru(struct rl *r, struct net *e)
{
	if (e->prev) e->prev->next = e->next; else r->head = e->next;
	if (e->next) e->next->prev = e->prev; else r->tail = e->prev;
	e->prev = e->next = NULL;
}

static void
push_front(struct rl *r, struct net *e)
{
	e->next = r->head;
	if (r->head) r->head->prev = e;
	r->head = e;
	if (r->tail == NULL) r->tail = e;
}

static void
drop(struct rl *r, struct net *e)
{
	struct net **pp = &r->tab[hash(e->family, e->key, r->nb)];
	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	unlink_lru(r, e);
	r->n--;
	free(e);
}

int
rl_take(struct rl *r, const struct pm_addr *a, double now, int per_minute)
{
	unsigned char key[8];
	struct net *e;
	int ok;

	if (per_minute <= 0)
		return 1;
	net_key(a, key);
	pthread_mutex_lock(&r->mu);
	for (e = r->tab[hash(a->family, key, r->nb)]; e != NULL; e = e->hnext)
		if (e->family == a->family && memcmp(e->key, key, 8) == 0)
			break;
	if (e == NULL) {
		if (r->n >= r->max)
			drop(r, r->tail);
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			pthread_mutex_unlock(&r->mu);
			return 1;
		}
		e->family = a->family;
		memcpy(e->key, key, 8);
		e->tokens = per_minute;
		e->at = now;
		size_t h = hash(a->family, key, r->nb);
		e->hnext = r->tab[h];
		r->tab[h] = e;
		r->n++;
	} else {
		unlink_lru(r, e);
		e->tokens += (now - e->at) * per_minute / 60.0;
		if (e->tokens > per_minute)
			e->tokens = per_minute;
		e->at = now;
	}
	push_front(r, e);
	ok = e->tokens >= 1.0;
	if (ok)
		e->tokens -= 1.0;
	pthread_mutex_unlock(&r->mu);
	return ok;
}

size_t
rl_size(struct rl *r)
{
	size_t n;
	pthread_mutex_lock(&r->mu);
	n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}
