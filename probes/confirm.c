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

/* a spent nonce: one that a check's confirmation may still bring back */
struct spent {
	struct hm_node node;
	char nonce[PE_NONCE_HEX];
};
#define SPENT_MAX 4096		/* nonces remembered after their check ended */

int
pe_mwait_init(struct pe_engine *e)
{
	if (hm_init(&e->mwait, HM_KEYOFF(struct run, mnode, nonce), PE_NONCE_HEX, NULL, NULL) < 0)
		return -1;
	if (hm_init(&e->spent, HM_KEYOFF(struct spent, node, nonce), PE_NONCE_HEX, NULL, NULL) < 0) {
		hm_destroy(&e->mwait);
		return -1;
	}
	return 0;
}

void
pe_mwait_free(struct pe_engine *e)
{
	struct hm_node *n;

	while ((n = hm_oldest(&e->spent)) != NULL) {
		hm_remove(&e->spent, n);
		free(HM_ENTRY(n, struct spent, node));
	}
	hm_destroy(&e->spent);
	hm_destroy(&e->mwait);
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

/* the attempt ends; a connect-back's nonce is remembered a while, so that
 * a late or second delivery of its probe is still known as ours */
void
pe_mwait_del(struct run *r)
{
	struct pe_engine *e = r->t->job->e;
	struct spent *sp = NULL;
	struct hm_node *old;

	if (!r->mta_waiting)
		return;
	if ((r->t->kind->flags & PE_K_NONCE) && (sp = malloc(sizeof(*sp))) != NULL)
		memcpy(sp->nonce, r->nonce, PE_NONCE_HEX);
	pthread_mutex_lock(&e->mu);
	hm_remove(&e->mwait, &r->mnode);
	r->mta_waiting = 0;
	if (sp != NULL) {
		if (e->spent.n >= SPENT_MAX && (old = hm_oldest(&e->spent)) != NULL) {
			hm_remove(&e->spent, old);
			free(HM_ENTRY(old, struct spent, node));
		}
		if (hm_find(&e->spent, sp->nonce) == NULL && hm_insert(&e->spent, &sp->node) == 0) {
			hm_touch(&e->spent, &sp->node);
			sp = NULL;
		}
	}
	pthread_mutex_unlock(&e->mu);
	free(sp);
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
 * A nonce (pxm-<32 hex>) in what our MTA saw: the first one that a running
 * attempt waits for, and that was not confirmed this way before, is
 * queued for the engine thread: 0.  1: one of ours, but spent or confirmed
 * already; -1: none of ours.
 */
static int
confirm_text(struct pe_engine *e, const char *text, const char *egress, int what, int commit)
{
	size_t len = strlen(text), at = 0;
	struct confirm *c = NULL;
	long off;
	int known = 0;

	while (c == NULL && at < len && (off = pe_nonce_find(text + at, len - at)) >= 0) {
		const char *nonce = text + at + off;
		int w = what;
		struct hm_node *n;
		struct run *r;

		at += (size_t)off + PE_NONCE_HEX;
		if (what == PE_CONFIRM_RELAY &&
		    strncmp(text + at, PE_BOUNCE_TAG, sizeof(PE_BOUNCE_TAG) - 1) == 0)
			w = PE_CONFIRM_BOUNCE;
		pthread_mutex_lock(&e->mu);
		n = hm_find(&e->mwait, nonce);
		r = n != NULL ? HM_ENTRY(n, struct run, mnode) : NULL;
		/* a mail confirms a connect-back only, never a proxy test */
		if (r != NULL && w != PE_CONFIRM_HELO && !(r->t->kind->flags & PE_K_NONCE))
			r = NULL;
		if (commit && r != NULL && !(r->confirmed & (1u << w)) &&
		    (c = calloc(1, sizeof(*c))) != NULL) {
			r->confirmed |= 1u << w;
			memcpy(c->nonce, nonce, PE_NONCE_HEX);
			c->what = w;
			snprintf(c->egress, sizeof(c->egress), "%s", egress);
			c->next = e->confirms;
			e->confirms = c;
		} else if (r != NULL || hm_find(&e->spent, nonce) != NULL) {
			known = 1;
		}
		pthread_mutex_unlock(&e->mu);
	}
	if (c == NULL)
		return known ? 1 : -1;
	event_active(e->wake, EV_READ, 0);
	return 0;
}

/* A HELO carries "pxm-<nonce>": our probe reached our MTA (-1: just a HELO) */
int
pe_confirm(struct pe_engine *e, const char *helo, const char *egress)
{
	return confirm_text(e, helo, egress, PE_CONFIRM_HELO, 1) == 0 ? 0 : -1;
}

int
pe_nonce_ours(struct pe_engine *e, const char *rcpt)
{
	return confirm_text(e, rcpt, "", PE_CONFIRM_RELAY, 0) >= 0;
}

int
pe_confirm_mail(struct pe_engine *e, const char *rcpt, const char *from, const char *egress)
{
	/* a bounce has a null sender: a "bounce" with a sender is somebody
	 * writing to our -bounce address (a sender-verification callout
	 * never gets this far: it ends before DATA) */
	if (from[0] != '\0' && strstr(rcpt, PE_BOUNCE_TAG "@") != NULL)
		return pe_nonce_ours(e, rcpt) ? 1 : -1;
	return confirm_text(e, rcpt, egress, PE_CONFIRM_RELAY, 1);
}
