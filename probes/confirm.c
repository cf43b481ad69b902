/*
 * confirm.c - target "mta": the proxy reached our own MTA, and the milter
 * saw our nonce in a HELO.
 *
 * An attempt that sent its nonce to our MTA waits in a table (under the
 * engine mutex: the milter's threads look it up).  pe_confirm counts only a
 * nonce that a running attempt sent and that nobody confirmed before, once;
 * the confirmation itself is queued and applied on the engine thread.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include "engine.h"

struct confirm {
	struct confirm *next;
	int what;			/* enum pe_confirm_what */
	char nonce[PE_NONCE_HEX + 1];
	char egress[PE_ADDRSTR_MAX];
};

int
pe_mwait_init(struct pe_engine *e)
{
	return hm_init(&e->mwait, HM_KEYOFF(struct run, mnode, nonce), PE_NONCE_HEX, NULL, NULL);
}

/* the nonce went to our MTA; from now on the milter may confirm it (out of
 * memory it cannot: the test ends at its deadline) */
void
pe_mwait_add(struct run *r)
{
	struct pe_engine *e = r->t->job->e;

	pthread_mutex_lock(&e->mu);
	r->mta_waiting = hm_insert(&e->mwait, &r->mnode) == 0;
	pthread_mutex_unlock(&e->mu);
}

void
pe_mwait_del(struct run *r)
{
	struct pe_engine *e = r->t->job->e;

	if (!r->mta_waiting)
		return;
	pthread_mutex_lock(&e->mu);
	hm_remove(&e->mwait, &r->mnode);
	r->mta_waiting = 0;
	pthread_mutex_unlock(&e->mu);
}

/* engine thread: the confirmations taken from the queue */
void
pe_confirms_run(struct pe_engine *e, struct confirm *cf)
{
	struct confirm *next;

	for (; cf != NULL; cf = next) {
		struct run *r = pe_nonce_owner(e->proof, cf->nonce);
		next = cf->next;
		if (r != NULL && r->t != NULL && r->t->st == T_RUNNING &&
		    r->t->kind->on_confirm != NULL) {
			/* a kind of its own (connect_back): it says what it means */
			pe_run_step(r, r->t->kind->on_confirm(&r->ctx, r->bev != NULL ?
			    bufferevent_get_output(r->bev) : NULL, cf->what));
		} else if (r != NULL && r->t != NULL && r->t->st == T_RUNNING) {
			snprintf(r->egress, sizeof(r->egress), "%s", cf->egress);
			if (r->bev != NULL && r->tn.greeted) {
				evbuffer_add_printf(bufferevent_get_output(r->bev), "QUIT\r\n");
				pe_polite_close(r);
			}
			pe_test_finish(r->t, PE_OPEN, "confirmed");
		}
		free(cf);
	}
}

void
pe_confirms_free(struct confirm *cf)
{
	while (cf != NULL) {
		struct confirm *n = cf->next;
		free(cf);
		cf = n;
	}
}

/*
 * A HELO carries "pxm-<nonce>".  Only a nonce that a running attempt has
 * sent to our MTA and that is not confirmed yet counts, once.
 */
int
pe_confirm(struct pe_engine *e, const char *helo, const char *egress)
{
	size_t len = strlen(helo), at = 0;
	struct confirm *c = NULL;
	long off;

	while (c == NULL && at < len && (off = pe_nonce_find(helo + at, len - at)) >= 0) {
		const char *nonce = helo + at + off;
		struct hm_node *n;
		struct run *r;

		at += (size_t)off + PE_NONCE_HEX;
		pthread_mutex_lock(&e->mu);
		n = hm_find(&e->mwait, nonce);
		r = n != NULL ? HM_ENTRY(n, struct run, mnode) : NULL;
		if (r != NULL && !r->confirmed && (c = calloc(1, sizeof(*c))) != NULL) {
			r->confirmed = 1;
			memcpy(c->nonce, nonce, PE_NONCE_HEX);
			c->what = PE_CONFIRM_HELO;
			snprintf(c->egress, sizeof(c->egress), "%s", egress);
			c->next = e->confirms;
			e->confirms = c;
		}
		pthread_mutex_unlock(&e->mu);
	}
	if (c == NULL)
		return -1;
	event_active(e->wake, EV_READ, 0);
	return 0;
}
