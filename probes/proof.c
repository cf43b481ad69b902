/*
 * proof.c - nonces, the canary listener and proof of an open proxy.
 *
 * Every test gets a fresh 128-bit random nonce, registered here with an
 * owner (the engine's test).  The proxy is asked to connect to the canary;
 * the canary greets first with an SMTP-like 220 line (some tunnels relay only
 * after the far end speaks), then scans what arrives for "pxm-<32 hex>",
 * also behind HTTP headers a proxy may add.  A registered nonce proves the
 * owner open; the canary records the address the connection came from (the
 * proxy's egress) and answers "250 pxm-mac-<HMAC-SHA256(key, nonce)>" so the
 * prober can also learn it over the tunnel.  Unknown nonces get 550 and are
 * counted.  Connections are capped in number, time and bytes.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_SYS_RANDOM_H
#endif
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include "hmap.h"
#include "pe_int.h"

#define CANARY_READ_CAP 8192
#define CANARY_TIMEOUT_S 20

struct nonce_ent {
	struct hm_node node;
	char hex[PE_NONCE_HEX + 1];
	void *owner;
};

struct canary_conn {
	struct canary_conn *prev, *next;	/* all live ones, freed with the proof */
	struct pe_proof *pf;
	struct bufferevent *bev;
	char peer[PE_ADDRSTR_MAX];
	size_t seen;
	int done;
};

struct pe_proof {
	struct event_base *base;
	struct evconnlistener *lst;
	struct pe_proof_hooks hooks;
	struct hmap nonces;		/* struct nonce_ent by hex */
	unsigned char key[32];
	struct canary_conn *live;
	int conns, max_conns;
	uint64_t nconns, nproofs, nunknown;	/* atomics: the stats line reads them */
	struct event *pause;		/* accept failed (EMFILE): listen again later */
};

static void
to_hex(const unsigned char *b, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int
pe_nonce_issue(struct pe_proof *pf, void *owner, char *hex)
{
	unsigned char raw[PE_NONCE_HEX / 2];
	struct nonce_ent *e;

	if (pe_random(raw, sizeof(raw)) < 0)
		return -1;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	to_hex(raw, sizeof(raw), e->hex);
	e->owner = owner;
	if (hm_insert(&pf->nonces, &e->node) < 0) {
		free(e);
		return -1;
	}
	memcpy(hex, e->hex, PE_NONCE_HEX + 1);
	return 0;
}

static struct nonce_ent *
nonce_find(struct pe_proof *pf, const char *hex)
{
	struct hm_node *n = hm_find(&pf->nonces, hex);
	return n != NULL ? HM_ENTRY(n, struct nonce_ent, node) : NULL;
}

void *
pe_nonce_owner(struct pe_proof *pf, const char *hex)
{
	struct nonce_ent *e = nonce_find(pf, hex);
	return e != NULL ? e->owner : NULL;
}

void
pe_nonce_revoke(struct pe_proof *pf, const char *hex)
{
	struct nonce_ent *e = nonce_find(pf, hex);
	if (e == NULL)
		return;
	hm_remove(&pf->nonces, &e->node);
	free(e);
}

void
pe_nonce_mac(const struct pe_proof *pf, const char *hex, char *machex)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	HMAC(EVP_sha256(), pf->key, sizeof(pf->key), (const unsigned char *)hex,
	    PE_NONCE_HEX, md, &mdlen);
	to_hex(md, PE_MAC_HEX / 2, machex);
}

static int
is_lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

long
pe_nonce_find(const char *buf, size_t len)
{
	const size_t plen = sizeof(PE_NONCE_PREFIX) - 1;
	for (size_t i = 0; i + plen + PE_NONCE_HEX <= len; i++) {
		if (memcmp(buf + i, PE_NONCE_PREFIX, plen) != 0)
			continue;
		size_t j = 0;
		while (j < PE_NONCE_HEX && is_lhex(buf[i + plen + j]))
			j++;
		if (j == PE_NONCE_HEX)
			return (long)(i + plen);
	}
	return -1;
}

static void
canary_close(struct canary_conn *cc)
{
	if (cc->prev != NULL)
		cc->prev->next = cc->next;
	else
		cc->pf->live = cc->next;
	if (cc->next != NULL)
		cc->next->prev = cc->prev;
	cc->pf->conns--;
	bufferevent_free(cc->bev);
	free(cc);
}

static void
canary_drained(struct bufferevent *bev, void *arg)
{
	struct canary_conn *cc = arg;
	(void)bev;
	if (cc->done)
		canary_close(cc);
}

/*
 * What the canary does with its input, without the socket: look for
 * "pxm-<nonce>" in what has arrived, keeping a 64-byte tail across reads
 * (it may hold the start of a split token).  1: found, hex holds the nonce
 * (PE_NONCE_HEX + 1 bytes) and the input is drained; 0: read more; -1: more
 * than CANARY_READ_CAP seen without a token (close).
 */
int
pe_canary_scan(struct evbuffer *in, size_t *seen, char *hex)
{
	size_t len = evbuffer_get_length(in);
	const char *data = (const char *)evbuffer_pullup(in, -1);
	long off = data != NULL ? pe_nonce_find(data, len) : -1;

	if (off >= 0) {
		memcpy(hex, data + off, PE_NONCE_HEX);
		hex[PE_NONCE_HEX] = '\0';
		evbuffer_drain(in, len);
		return 1;
	}
	/* keep a tail that may hold the start of a split token; it comes
	 * back with the next read, so it is not counted yet (each byte once) */
	size_t kept = len < 64 ? len : 64;
	*seen += len - kept;
	if (*seen + kept > CANARY_READ_CAP)
		return -1;
	evbuffer_drain(in, len - kept);
	return 0;
}

static void
canary_read(struct bufferevent *bev, void *arg)
{
	struct canary_conn *cc = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char hex[PE_NONCE_HEX + 1];
	int r;

	if (cc->done) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	r = pe_canary_scan(in, &cc->seen, hex);
	if (r > 0) {
		char mac[PE_MAC_HEX + 1];
		struct nonce_ent *e;

		cc->done = 1;
		e = nonce_find(cc->pf, hex);
		if (e == NULL) {
			__atomic_add_fetch(&cc->pf->nunknown, 1, __ATOMIC_RELAXED);
			evbuffer_add_printf(bufferevent_get_output(bev),
			    "550 unknown token\r\n");
		} else {
			void *owner = e->owner;
			__atomic_add_fetch(&cc->pf->nproofs, 1, __ATOMIC_RELAXED);
			pe_nonce_mac(cc->pf, hex, mac);
			evbuffer_add_printf(bufferevent_get_output(bev),
			    "250 pxm-mac-%s\r\n", mac);
			/* the owner revokes its nonce when it finishes */
			cc->pf->hooks.proved(owner, cc->peer);
		}
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		return;
	}
	if (r < 0)
		canary_close(cc);
}

static void
canary_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	canary_close(arg);
}

static void
canary_accept(struct evconnlistener *lst, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct pe_proof *pf = arg;
	struct canary_conn *cc;
	struct timeval tv = { CANARY_TIMEOUT_S, 0 };

	(void)lst;
	(void)salen;
	if (pf->conns >= pf->max_conns || (cc = calloc(1, sizeof(*cc))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	cc->bev = bufferevent_socket_new(pf->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (cc->bev == NULL) {
		evutil_closesocket(fd);
		free(cc);
		return;
	}
	cc->pf = pf;
	cc->next = pf->live;
	if (pf->live != NULL)
		pf->live->prev = cc;
	pf->live = cc;
	pf->conns++;
	__atomic_add_fetch(&pf->nconns, 1, __ATOMIC_RELAXED);
	pe_addr_str(sa, cc->peer, sizeof(cc->peer));
	bufferevent_setcb(cc->bev, canary_read, canary_drained, canary_event, cc);
	bufferevent_set_timeouts(cc->bev, &tv, &tv);
	bufferevent_enable(cc->bev, EV_READ | EV_WRITE);
	evbuffer_add(bufferevent_get_output(cc->bev), PE_CANARY_GREETING,
	    sizeof(PE_CANARY_GREETING) - 1);
}

/*
 * accept() failed for want of descriptors (EMFILE, ENFILE, ENOBUFS): the
 * pending connection keeps the listener readable, so without a pause the
 * loop would spin.  Stop listening for a moment; the proxies retry.
 */
static void
canary_accept_error(struct evconnlistener *lst, void *arg)
{
	struct pe_proof *pf = arg;
	struct timeval tv = { 0, 200000 };

	evconnlistener_disable(lst);
	evtimer_add(pf->pause, &tv);
}

static void
canary_resume(evutil_socket_t fd, short what, void *arg)
{
	struct pe_proof *pf = arg;

	(void)fd;
	(void)what;
	evconnlistener_enable(pf->lst);
}

struct pe_proof *
pe_proof_new(struct event_base *base, const struct sockaddr *sa, socklen_t salen,
    int max_conns, const struct pe_proof_hooks *hooks, char *err, size_t errlen)
{
	struct pe_proof *pf = calloc(1, sizeof(*pf));
	char a[PE_ADDRSTR_MAX];

	if (pf == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pf->base = base;
	pf->hooks = *hooks;
	pf->max_conns = max_conns > 0 ? max_conns : 256;
	if (pe_random(pf->key, sizeof(pf->key)) < 0) {
		snprintf(err, errlen, "no randomness for the canary key");
		free(pf);
		return NULL;
	}
	if (hm_init(&pf->nonces, HM_KEYOFF(struct nonce_ent, node, hex), PE_NONCE_HEX,
	    NULL, NULL) < 0) {
		snprintf(err, errlen, "no randomness for the nonce table");
		free(pf);
		return NULL;
	}
	if (base != NULL && sa != NULL && salen > 0) {
		pf->lst = evconnlistener_new_bind(base, canary_accept, pf,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128, sa, (int)salen);
		if (pf->lst == NULL) {
			snprintf(err, errlen, "canary listener on %s port %d: %s",
			    pe_addr_str(sa, a, sizeof(a)), pe_target_port(sa),
			    strerror(errno));
			free(pf);
			return NULL;
		}
		if ((pf->pause = evtimer_new(base, canary_resume, pf)) == NULL) {
			snprintf(err, errlen, "out of memory");
			evconnlistener_free(pf->lst);
			free(pf);
			return NULL;
		}
		evconnlistener_set_error_cb(pf->lst, canary_accept_error);
	}
	return pf;
}

void
pe_proof_free(struct pe_proof *pf)
{
	if (pf == NULL)
		return;
	while (pf->live != NULL)
		canary_close(pf->live);
	if (pf->lst != NULL)
		evconnlistener_free(pf->lst);
	if (pf->pause != NULL)
		event_free(pf->pause);
	for (struct hm_node *n = hm_next(&pf->nonces, NULL), *next; n != NULL; n = next) {
		next = hm_next(&pf->nonces, n);
		free(HM_ENTRY(n, struct nonce_ent, node));
	}
	hm_destroy(&pf->nonces);
	free(pf);
}

/*
 * Through a claimed tunnel the nonce goes out as "EHLO pxm-<nonce>".  To the
 * canary it goes at once: the canary greets first anyway, and a reply of ours
 * also acknowledges the proxy's answer (a proxy that writes its answer and
 * the relayed greeting as two small segments otherwise waits for our
 * delayed ACK: 40 ms with microsocks).  Through a telnet gateway, whose
 * command line would take the line for a command, and to an MTA, which must
 * not be spoken to before its banner, it goes after the target's greeting.
 */
void
pe_tunnel_start(struct pe_tunnel *tn, const struct pe_ctx *ps, struct evbuffer *out)
{
	if (tn->kind == PE_TARGET_CANARY && !ps->noisy) {
		evbuffer_add_printf(out, "EHLO " PE_NONCE_PREFIX "%s\r\n", tn->nonce);
		tn->nonce_sent = 1;
	}
}

/*
 * Then, line by line: the target's greeting must come first (telnet
 * gateways may chatter up to 16 lines before it); the canary's
 * "250 pxm-mac-<mac>" proves the test (the canary usually proves it first,
 * directly).  With a banner target the greeting itself is the (weak) proof,
 * and with -m a probe mail follows.
 */
enum pe_tstep
pe_tunnel_line(struct pe_tunnel *tn, struct pe_ctx *ps, const char *line, size_t n,
    struct evbuffer *out)
{
	if (!tn->greeted) {
		int ours;
		if (tn->kind == PE_TARGET_CANARY)
			ours = strncmp(line, "220 ", 4) == 0 && strstr(line, PE_CANARY_TAG) != NULL;
		else
			ours = strncmp(line, tn->banner, strlen(tn->banner)) == 0;
		if (!ours && ps->noisy && n < 512 && tn->noise++ < 16)
			return PE_T_MORE;	/* a gateway's "Trying ..." */
		if (!ours) {
			pe_set_reason(ps, "foreign-peer", line, n);
			return PE_T_CLOSED;
		}
		tn->greeted = 1;
		if (tn->kind == PE_TARGET_BANNER) {
			pe_set_reason(ps, "banner", line, n);
			if (!tn->want_mail)
				return PE_T_OPEN;
			tn->mailing = 1;
			pe_mail_begin(&tn->mail, out);
			return PE_T_MORE;
		}
		if (!tn->nonce_sent)
			evbuffer_add_printf(out, "EHLO " PE_NONCE_PREFIX "%s\r\n", tn->nonce);
		tn->nonce_sent = 1;
		return PE_T_MORE;
	}
	if (tn->mailing) {
		enum pe_mail_step ms = pe_mail_line(&tn->mail, line, out);
		if (ms == PE_MAIL_MORE)
			return PE_T_MORE;
		if (ms == PE_MAIL_FAILED)
			pe_set_reason(ps, "mail-refused", tn->mail.failed, strlen(tn->mail.failed));
		else
			pe_set_reason(ps, "mail-sent", NULL, 0);
		return PE_T_OPEN_QUIT;
	}
	if (tn->kind != PE_TARGET_CANARY)
		return PE_T_MORE;	/* mta: the milter's confirmation proves it */
	if (strncmp(line, "250 pxm-mac-", 12) == 0) {
		char mac[PE_MAC_HEX + 1];
		pe_nonce_mac(tn->proof, tn->nonce, mac);
		int good = n >= 12 + PE_MAC_HEX && memcmp(line + 12, mac, PE_MAC_HEX) == 0;
		pe_set_reason(ps, good ? "mac" : "bad-mac", NULL, 0);
		return good ? PE_T_OPEN : PE_T_CLOSED;
	}
	if (strncmp(line, "550 ", 4) == 0) {
		pe_set_reason(ps, "canary-refused", NULL, 0);
		return PE_T_INCONCLUSIVE;
	}
	return PE_T_MORE;
}

void
pe_proof_stats(const struct pe_proof *pf, uint64_t *conns, uint64_t *proofs,
    uint64_t *unknown)
{
	*conns = __atomic_load_n(&pf->nconns, __ATOMIC_RELAXED);
	*proofs = __atomic_load_n(&pf->nproofs, __ATOMIC_RELAXED);
	*unknown = __atomic_load_n(&pf->nunknown, __ATOMIC_RELAXED);
}
