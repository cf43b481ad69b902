/*
 * side.c - the side loop (see side.h).
 */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <event2/event.h>
#include <event2/thread.h>
#include "side.h"

static struct event_base *base;
static pthread_t thr;
static int running;

struct event_base *
side_base(void)
{
	if (base == NULL) {
		evthread_use_pthreads();	/* side_call comes from other threads */
		base = event_base_new();
	}
	return base;
}

struct call {
	void (*fn)(void *);
	void *arg;
};

static void
call_cb(evutil_socket_t fd, short what, void *p)
{
	struct call c = *(struct call *)p;

	(void)fd;
	(void)what;
	free(p);
	c.fn(c.arg);
}

int
side_call(void (*fn)(void *), void *arg)
{
	static const struct timeval now = { 0, 0 };
	struct call *c;

	if (base == NULL || (c = malloc(sizeof(*c))) == NULL)
		return -1;
	c->fn = fn;
	c->arg = arg;
	if (event_base_once(base, -1, EV_TIMEOUT, call_cb, c, &now) < 0) {
		free(c);
		return -1;
	}
	return 0;
}

static void *
loop(void *arg)
{
	(void)arg;
	/* also when nothing is registered yet: side_call may add work */
	event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int
side_start(void)
{
	int e;

	if (side_base() == NULL)
		return -1;
	if ((e = pthread_create(&thr, NULL, loop, NULL)) != 0) {
		errno = e;
		return -1;
	}
	running = 1;
	return 0;
}

void
side_stop(void)
{
	if (!running)
		return;
	event_base_loopbreak(base);
	pthread_join(thr, NULL);
	running = 0;
}
