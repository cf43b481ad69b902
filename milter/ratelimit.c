/*
 * ratelimit.c - token buckets per /24 (IPv4) or /64 (IPv6); see ratelimit.h.
 *
 * A bucket holds per_minute tokens and refills continuously at per_minute
 * tokens a minute.  Networks live in a hash map with an LRU order
 * (hmap.h) bounded by max_nets; when it is full, the least recently
 * touched network is forgotten (a forgotten network starts with a full
 * bucket: the limit errs towards probing).  One mutex: rl_take runs once
 * per probe set, not per connection.
 */
#include "config.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "hmap.h"
#include "ratelimit.h"

#define KEYLEN 9

struct net {
	struct hm_node node;			/* in the LRU order */
	unsigned char key[KEYLEN];		/* 4 or 6, then the /24 or the /64 */
	double tokens, at;
};

struct rl {
	pthread_mutex_t mu;
	struct hmap map;
	size_t max;
};

struct rl *
rl_new(size_t max_nets)
{
	struct rl *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	if (hm_init(&r->map, HM_KEYOFF(struct net, node, key), KEYLEN, NULL, NULL) < 0) {
		free(r);
		return NULL;
	}
	r->max = max_nets < 16 ? 16 : max_nets;
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void
rl_free(struct rl *r)
{
	struct hm_node *n, *next;
	if (r == NULL)
		return;
	for (n = hm_next(&r->map, NULL); n != NULL; n = next) {
		next = hm_next(&r->map, n);
		free(HM_ENTRY(n, struct net, node));
	}
	hm_destroy(&r->map);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

static void
net_key(const struct pm_addr *a, unsigned char key[KEYLEN])
{
	memset(key, 0, KEYLEN);
	if (a->family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, a->b, 3);	/* /24 */
	} else {
		key[0] = 6;
		memcpy(key + 1, a->b, 8);	/* /64 */
	}
}

int
rl_take(struct rl *r, const struct pm_addr *a, double now, int per_minute)
{
	unsigned char key[KEYLEN];
	struct hm_node *n;
	struct net *e;
	int ok;

	if (per_minute <= 0)
		return 1;
	net_key(a, key);
	pthread_mutex_lock(&r->mu);
	if ((n = hm_find(&r->map, key)) != NULL) {
		e = HM_ENTRY(n, struct net, node);
		e->tokens += (now - e->at) * per_minute / 60.0;
		if (e->tokens > per_minute)
			e->tokens = per_minute;
		e->at = now;
	} else {
		if (r->map.n >= r->max && (n = hm_oldest(&r->map)) != NULL) {
			hm_remove(&r->map, n);
			free(HM_ENTRY(n, struct net, node));
		}
		if ((e = calloc(1, sizeof(*e))) == NULL) {
			pthread_mutex_unlock(&r->mu);
			return 1;
		}
		memcpy(e->key, key, KEYLEN);
		e->tokens = per_minute;
		e->at = now;
		if (hm_insert(&r->map, &e->node) < 0) {
			free(e);
			pthread_mutex_unlock(&r->mu);
			return 1;
		}
	}
	hm_touch(&r->map, &e->node);
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
	n = r->map.n;
	pthread_mutex_unlock(&r->mu);
	return n;
}
