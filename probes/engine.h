/*
 * engine.h - what the engine's rooms share; check kinds never include it.
 *
 *   engine.c    the public face: create, thread, submit, stop, stats
 *   queue.c     admission under the fd budget, the queue, a job's life
 *   runner.c    one attempt of one check: socket, deadlines, read cap
 *   tunnel.c    a claimed tunnel: the proof conversation, polite close
 *   confirm.c   target "mta": nonces sent to our MTA, confirmed by the milter
 *   findings.c  findings -> class and score; the summaries
 *   registry.c  the table of check kinds
 *
 * A request is a job; a job is a list of tests (kind x port).  Tests on the
 * same port form a group: the first (the leader) connects alone, and when
 * the port turns out refused, unreachable or filtered, the others end with
 * the same result without a connect of their own.
 */
#ifndef PE_ENGINE_H
#define PE_ENGINE_H

#include <pthread.h>
#include <sys/queue.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/bufferevent.h>
#include "pe_int.h"
#include "hmap.h"

#define PE_RUN_FINDINGS 8	/* findings one attempt holds; more are
				 * dropped unless the kind commits them as it
				 * goes (pe_find_commit: the DNSBL check) */
#define PE_JOB_FINDINGS PE_JOB_FINDINGS_MAX

enum test_state { T_WAITING = 0, T_RUNNING, T_BACKOFF, T_DONE };

struct job;
struct test;
struct pe_engine;

/*
 * What a test needs while it runs: a job has one per socket it reserved
 * (allocated at admission, one allocation per job), so a job of 65535 x
 * every kind costs a few bytes per test until its turn comes.
 */
struct run {
	/* reset for every attempt (pe_test_start clears up to `priv`) */
	struct test *t;			/* NULL while free */
	SLIST_ENTRY(run) free;
	struct bufferevent *bev;	/* once connected */
	evutil_socket_t fd;		/* while connecting, else -1 */
	double started, deadline;	/* the request's timeout capped by the kind's */
	int connected, tunnel, have_nonce, lingering;
	int port_dead;			/* refused, unreachable or filtered */
	int starting;			/* inside the kind's start() */
	int awaiting;			/* PE_STEP_AWAIT: no connection, still running */
	int mta_waiting;		/* in the confirm table: the milter may confirm it */
	unsigned confirmed;		/* ... and did, 1 << what (guarded by e->mu) */
	const char *fail;		/* failure found while starting: reported from the timer */
	enum pe_result_kind fail_kind;
	enum pe_step early;		/* a task kind ended inside start(): applied from the timer */
	int has_early;
	size_t nread;			/* bytes received, each counted once */
	size_t kept;			/* bytes left unconsumed in the input buffer */
	size_t nfind;
	size_t ncommitted;		/* find[] already in the job (pe_find_commit) */
	int dropped;			/* the last pe_find found no room */
	LIST_HEAD(, pe_dnsq) dnsq;	/* DNS queries out (resolver.c) */
	int ndnsq;
	struct pe_ctx ctx;
	/* set when used: kept across attempts, so that a port that never
	 * answers costs no clearing of them */
	void *priv;			/* the kind's state: the job's largest priv_size */
	struct event cev;		/* the connecting socket's writability */
	struct event timer;		/* connect/overall deadline, linger */
	struct event ptimer;		/* the kind's own timer (prompt waits) */
	struct hm_node mnode;		/* in e->mwait, by nonce */
	struct sockaddr_storage client;	/* the client with this test's port */
	char nonce[PE_NONCE_HEX + 1];	/* issued once the port accepted */
	char egress[PE_ADDRSTR_MAX];	/* set with a proof */
	struct pe_tunnel tn;		/* cleared when a tunnel is claimed */
	struct pe_finding find[PE_RUN_FINDINGS];
};

struct test {
	struct job *job;
	const struct pe_kind *kind;
	struct run *r;			/* NULL unless running */
	STAILQ_ENTRY(test) link;	/* in a back-off list or the ready list */
	double due;			/* end of its back-off */
	uint16_t port;
	uint16_t followers;		/* leader: tests after it on the same port */
	uint8_t st;			/* enum test_state */
	uint8_t attempt;
};

struct job {
	TAILQ_ENTRY(job) link;
	struct pe_engine *e;
	struct sockaddr_storage addr;
	socklen_t alen;
	struct test *tests;		/* grouped: task kinds, then by port */
	size_t ntests;
	size_t cursor;			/* tests before it started or were settled */
	struct run *runs;		/* the reservation's run slots */
	char *privs;			/* their kinds' states */
	size_t priv_size;
	SLIST_HEAD(, run) free_runs;
	STAILQ_HEAD(, test) ready;	/* back-off over, or its port answered */
	STAILQ_HEAD(, test) backing[PE_MAX_RETRIES];	/* by attempt: due times ascend */
	struct event retry_ev;
	double retry_at;		/* when retry_ev fires */
	struct pe_timing tm;
	unsigned flags;
	void *arg;
	double submitted, admitted;
	int reserved, running, left;
	int retrying;			/* inconclusive, waiting for another attempt */
	int nopen, nclosed, ninconc;
	int ending;
	int reported;			/* the retries' provisional verdict went out */
	int last_class;			/* class of the last provisional, -1 none */
	char evidence[PE_PROTO_NAME_MAX + 8];	/* the first open test */
	char egress[PE_ADDRSTR_MAX];
	size_t nfind;
	struct pe_finding *find;	/* PE_JOB_FINDINGS, allocated at the first */
	uint32_t *find_test;		/* ... the test each came from */
};

TAILQ_HEAD(jobq, job);
struct confirm;
struct closer;

struct pe_engine {
	struct pe_options opt;
	pe_result_fn on_result;
	pe_done_fn on_done;
	struct event_base *base;
	struct event *wake;
	struct pe_proof *proof;
	pthread_t thr;
	int started;
	pthread_mutex_t mu;		/* guards incoming, confirms, mwait, stopping */
	struct jobq incoming;
	struct confirm *confirms;
	struct hmap mwait;		/* target mta: runs whose nonce went to our MTA */
	struct hmap spent;		/* ... their nonces after they ended (LRU) */
	int stopping;			/* written under mu, read atomically */
	void *ssl;			/* SSL_CTX, when built with OpenSSL */
	struct jobq waiting, active;	/* engine thread only */
	struct jobq dead;		/* done, freed by the reaper: a callback
					 * that ended its job may still look at it */
	struct event *reaper;
	struct event *sweep;		/* once a second: requests waited too long */
	TAILQ_HEAD(, closer) closers;
	int nwaiting, inflight;
	struct pe_stats st;		/* every field read and written with atomics */
	struct pe_dns *dns;		/* the c-ares channel (resolver.c) */
};

#define ST_ADD(e, f, n) __atomic_add_fetch(&(e)->st.f, (n), __ATOMIC_RELAXED)
#define ST_SET(e, f, v) __atomic_store_n(&(e)->st.f, (v), __ATOMIC_RELAXED)

static inline int
pe_stopping(struct pe_engine *e)
{
	return __atomic_load_n(&e->stopping, __ATOMIC_ACQUIRE);
}

/* queue.c */
void pe_admit(struct pe_engine *);
void pe_job_pump(struct job *);
void pe_job_done(struct job *, const char *reason);
void pe_job_settled(struct job *);	/* a test has its result: go on or end */
void pe_job_provisional(struct job *);	/* a new class above clean goes out */
void pe_job_queue(struct pe_engine *, struct job *);
void pe_job_shutdown(struct pe_engine *);
void pe_reap(struct pe_engine *);
int pe_reservation(const struct pe_engine *, size_t ntests);

/* runner.c */
void pe_test_start(struct test *);
void pe_test_finish(struct test *, enum pe_result_kind, const char *reason);
void pe_test_abandon(struct test *);	/* the job ends: no result */
void pe_run_init(struct pe_engine *, struct run *, void *priv);
void pe_run_step(struct run *, enum pe_step);
const char *pe_test_name(const struct test *);

/* tunnel.c */
void pe_tunnel_begin(struct run *);
void pe_tunnel_read(struct run *, struct evbuffer *in, struct evbuffer *out);
void pe_linger(struct run *);
void pe_polite_close(struct run *);
void pe_closers_free(struct pe_engine *);
void pe_proved_hook(void *owner, const char *egress);

/* confirm.c */
int pe_mwait_init(struct pe_engine *);
void pe_mwait_free(struct pe_engine *);
void pe_mwait_add(struct run *);
void pe_mwait_del(struct run *);
void pe_confirms_run(struct pe_engine *, struct confirm *);
void pe_confirms_free(struct confirm *);

/* the deadline of an attempt whose DNS queries wait for each other
 * (pe_kind.dns_rounds, at most PE_DNS_ROUNDS_MAX) */
#define PE_DNS_ROUNDS_MAX 4
double pe_dns_bound(const struct pe_engine *, int rounds);

/* resolver.c */
struct pe_dns;
struct pe_dns *pe_dns_new(struct pe_engine *, char *err, size_t errlen);
void pe_dns_free(struct pe_dns *);
void pe_dns_cancel_run(struct run *);	/* the attempt ends */

/* findings.c */
extern const struct pe_checks pe_checks_default;
void pe_run_findings_commit(struct run *);
void pe_summarise(struct job *, const char *reason, int pending, struct pe_summary *,
    char *text, size_t textlen);
int pe_verdict_rank(enum pe_verdict);
enum pe_verdict pe_job_class(const struct job *, int *score);
void pe_job_cross(struct job *);	/* findings two checks make together */

#endif
