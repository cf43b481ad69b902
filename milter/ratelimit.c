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
#include <sys/queue.h>
#include "ratelimit.h"

struct net {
	struct net *hnext;			/* hash chain */
	TAILQ_ENTRY(net) lru;			/* head = most recently used */
	int family;
	unsigned char key[8];
	double tokens, at;
};

struct rl {
	pthread_mutex_t mu;
	struct net **tab;
	size_t nb, n, max;
	TAILQ_HEAD(netq, net) lru;
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
	TAILQ_INIT(&r->lru);
	return r;
}

void
rl_free(struct rl *r)
{
	struct net *e;
	if (r == NULL)
		return;
	while ((e = TAILQ_FIRST(&r->lru)) != NULL) {
		TAILQ_REMOVE(&r->lru, e, lru);
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
drop(struct rl *r, struct net *e)
{
	struct net **pp = &r->tab[hash(e->family, e->key, r->nb)];
	for (; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	TAILQ_REMOVE(&r->lru, e, lru);
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
			drop(r, TAILQ_LAST(&r->lru, netq));
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
		TAILQ_REMOVE(&r->lru, e, lru);
		e->tokens += (now - e->at) * per_minute / 60.0;
		if (e->tokens > per_minute)
			e->tokens = per_minute;
		e->at = now;
	}
	TAILQ_INSERT_HEAD(&r->lru, e, lru);
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
