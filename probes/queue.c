/*
 * queue.c - admission under the fd budget, the queue, and a job's life.
 *
 * A request (job) is admitted only when its whole reservation of sockets,
 * min(tests, max_per_client), fits the global budget max_inflight; until
 * then it waits in FIFO order (at most max_queue jobs wait; more are
 * answered with verdict error, reason overload; a job older than
 * max_queue_wait ends so too).  An admitted job gets its run slots in one
 * allocation and starts tests while its reservation allows: retries and
 * tests whose port answered first, then the next port group's leader.
 * Inconclusive tests are retried after a back-off (2 s, 4 s, ...), in the
 * background: the verdict so far is reported when every test has a first
 * result, and again, final, when the retries are over.  A class above
 * clean is reported as soon as it is known.  A finished job is freed by the
 * reaper, after the callback that finished it has returned.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "engine.h"

#define FTEXT_MAX (PE_JOB_FINDINGS * 24)

void
pe_job_done(struct job *j, const char *reason)
{
	struct pe_engine *e = j->e;
	struct pe_summary s;
	char ftext[FTEXT_MAX];

	j->ending = 1;
	if (reason == NULL)
		pe_job_cross(j);
	pe_summarise(j, reason, 0, &s, ftext, sizeof(ftext));
	if (j->runs != NULL) {
		for (int i = 0; i < j->reserved; i++)
			if (j->runs[i].t != NULL)
				pe_test_abandon(j->runs[i].t);
		evtimer_del(&j->retry_ev);
	}
	if (j->reserved > 0) {
		e->inflight -= j->reserved;
		ST_SET(e, inflight, e->inflight);
		TAILQ_REMOVE(&e->active, j, link);
	}
	ST_ADD(e, finished, 1);
	e->on_done(&s, j->arg);
	TAILQ_INSERT_TAIL(&e->dead, j, link);
	event_active(e->reaper, EV_TIMEOUT, 0);
}

static void
job_free(struct job *j)
{
	free(j->find);
	free(j->find_test);
	free(j->privs);
	free(j->runs);
	free(j->tests);
	free(j);
}

/* free the jobs that ended, once the callbacks that ended them returned */
void
pe_reap(struct pe_engine *e)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&e->dead)) != NULL) {
		TAILQ_REMOVE(&e->dead, j, link);
		job_free(j);
	}
}

/* provisional verdicts: a class above clean that is new, or -- once --
 * every test has a first result and some are retried in the background */
void
pe_job_provisional(struct job *j)
{
	struct pe_summary s;
	char ftext[FTEXT_MAX];
	int idle = j->running == 0 && j->cursor >= j->ntests && STAILQ_EMPTY(&j->ready);
	enum pe_verdict cls = pe_job_class(j, NULL);

	/* the summary is made only when it goes out: this runs at every result */
	if (pe_verdict_rank(cls) > 0 && (int)cls != j->last_class)
		j->last_class = (int)cls;
	else if (!j->reported && idle && j->last_class < 0)
		j->reported = 1;
	else
		return;
	pe_summarise(j, NULL, 1, &s, ftext, sizeof(ftext));
	j->e->on_done(&s, j->arg);
}

/* a test has its result (or went to back-off): end the job, or go on */
void
pe_job_settled(struct job *j)
{
	if (j->ending)
		return;
	if (j->left == 0) {
		pe_job_done(j, NULL);
		pe_admit(j->e);
		return;
	}
	pe_job_pump(j);
	if (!j->ending)
		pe_job_provisional(j);
}

/* start waiting tests while the job's reservation allows: retries and
 * tests whose port answered first, then the next group's leader; O(1) per
 * started test */
void
pe_job_pump(struct job *j)
{
	struct test *t;

	while (j->running < j->reserved && !j->ending) {
		if ((t = STAILQ_FIRST(&j->ready)) != NULL) {
			STAILQ_REMOVE_HEAD(&j->ready, link);
		} else if (j->cursor < j->ntests) {
			t = &j->tests[j->cursor];
			j->cursor += 1 + (size_t)t->followers;
		} else {
			break;
		}
		pe_test_start(t);
	}
}

/* back-offs over: to the ready list; the timer follows the earliest left */
static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;
	double now = pe_now(), next = 0;
	struct test *t;

	(void)fd;
	(void)what;
	for (int k = 0; k < PE_MAX_RETRIES; k++) {
		while ((t = STAILQ_FIRST(&j->backing[k])) != NULL && t->due <= now + 0.001) {
			STAILQ_REMOVE_HEAD(&j->backing[k], link);
			t->st = T_WAITING;
			STAILQ_INSERT_TAIL(&j->ready, t, link);
		}
		if (t != NULL && (next == 0 || t->due < next))
			next = t->due;
	}
	if (next > 0) {
		struct timeval tv = pe_tv(next - now);
		j->retry_at = next;
		evtimer_add(&j->retry_ev, &tv);
	}
	pe_job_pump(j);
}

/* the job's run slots, their kinds' states and timers; -1 when out of memory */
static int
job_setup(struct pe_engine *e, struct job *j, int want)
{
	size_t ps = 0;

	evtimer_assign(&j->retry_ev, e->base, retry_cb, j);	/* job_done deletes it */
	for (size_t i = 0; i < j->ntests; i++)
		if (j->tests[i].kind->priv_size > ps)
			ps = j->tests[i].kind->priv_size;
	ps = (ps + 15) & ~(size_t)15;
	j->priv_size = ps;
	/* not cleared here: a slot is set up by pe_run_init, a kind's state
	 * is cleared at every attempt */
	j->runs = malloc((size_t)want * sizeof(*j->runs));
	j->privs = ps > 0 ? malloc((size_t)want * ps) : NULL;
	if (j->runs == NULL || (ps > 0 && j->privs == NULL)) {
		free(j->runs);
		free(j->privs);
		j->runs = NULL;
		j->privs = NULL;
		return -1;
	}
	SLIST_INIT(&j->free_runs);
	for (int i = want - 1; i >= 0; i--) {
		struct run *r = &j->runs[i];
		pe_run_init(e, r, ps > 0 ? j->privs + (size_t)i * ps : NULL);
		SLIST_INSERT_HEAD(&j->free_runs, r, free);
	}
	STAILQ_INIT(&j->ready);
	for (int k = 0; k < PE_MAX_RETRIES; k++)
		STAILQ_INIT(&j->backing[k]);
	return 0;
}

int
pe_reservation(const struct pe_engine *e, size_t ntests)
{
	int want = ntests < (size_t)e->opt.max_per_client ? (int)ntests : e->opt.max_per_client;
	if (want > e->opt.max_inflight)
		want = e->opt.max_inflight;
	return want < 1 ? 1 : want;
}

void
pe_admit(struct pe_engine *e)
{
	struct job *j;
	double now = pe_now();

	while ((j = TAILQ_FIRST(&e->waiting)) != NULL) {
		int want = pe_reservation(e, j->ntests);
		/* FIFO: when the head is not too old, none behind it is */
		if (e->opt.max_queue_wait > 0 && now - j->submitted > e->opt.max_queue_wait) {
			TAILQ_REMOVE(&e->waiting, j, link);
			e->nwaiting--;
			ST_ADD(e, overload, 1);
			pe_job_done(j, "overload");
			continue;
		}
		if (e->inflight + want > e->opt.max_inflight)
			break;
		TAILQ_REMOVE(&e->waiting, j, link);
		e->nwaiting--;
		e->inflight += want;
		j->reserved = want;
		j->admitted = now;
		TAILQ_INSERT_TAIL(&e->active, j, link);
		ST_ADD(e, admitted, 1);
		if (e->inflight > __atomic_load_n(&e->st.inflight_max, __ATOMIC_RELAXED))
			ST_SET(e, inflight_max, e->inflight);
		ST_SET(e, inflight, e->inflight);
		if (j->ntests == 0) {
			pe_job_done(j, NULL);
			continue;
		}
		if (job_setup(e, j, want) < 0) {
			pe_job_done(j, "no-memory");
			continue;
		}
		pe_job_pump(j);
	}
	ST_SET(e, queued, e->nwaiting);
}

/* a submitted job reaches the engine thread */
void
pe_job_queue(struct pe_engine *e, struct job *j)
{
	if (pe_stopping(e)) {
		pe_job_done(j, "shutdown");
	} else if (e->nwaiting >= e->opt.max_queue) {
		ST_ADD(e, overload, 1);
		pe_job_done(j, "overload");
	} else {
		TAILQ_INSERT_TAIL(&e->waiting, j, link);
		e->nwaiting++;
	}
}

/* the loop stopped: end everything, each request's done callback once */
void
pe_job_shutdown(struct pe_engine *e)
{
	struct job *j;

	while ((j = TAILQ_FIRST(&e->active)) != NULL)
		pe_job_done(j, "shutdown");
	while ((j = TAILQ_FIRST(&e->waiting)) != NULL) {
		TAILQ_REMOVE(&e->waiting, j, link);
		e->nwaiting--;
		pe_job_done(j, "shutdown");
	}
	pthread_mutex_lock(&e->mu);
	while ((j = TAILQ_FIRST(&e->incoming)) != NULL) {
		TAILQ_REMOVE(&e->incoming, j, link);
		pthread_mutex_unlock(&e->mu);
		pe_job_done(j, "shutdown");
		pthread_mutex_lock(&e->mu);
	}
	pthread_mutex_unlock(&e->mu);
	pe_closers_free(e);
	pe_reap(e);
}
