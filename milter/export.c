/*
 * export.c - the proven verdicts as an rbldnsd data file (see export.h).
 *
 * Decisions:
 * - One file for rbldnsd's "combined" dataset (rbldnsd(8)): a comment
 *   header, "$TTL" in the common section (export.interval, at least 60 s:
 *   a resolver may keep an answer that long after the file changed), then
 *   "$DATASET ip4set:proxymilter @" with the IPv4 addresses and
 *   "$DATASET ip6trie:proxymilter6 @" with the IPv6 ones, each as a /128
 *   (a bare IPv6 prefix means less to rbldnsd), written "0::1" rather than
 *   "::1": a line that starts with ':' sets rbldnsd's defaults (a
 *   fuzzer found it).  Both datasets are always
 *   there, if empty, so that the zone answers NXDOMAIN rather than
 *   failing to load.  The operator's $SOA and $NS go in a file of their
 *   own listed before ours (ZONE:combined:SOAFILE,FILE).
 * - One line a verdict, "ADDR :A:TXT": the A value says the class
 *   (127.0.0.2 open-proxy, 127.0.0.3 open-relay, 127.0.0.4 listed, as
 *   postscreen_dnsbl_sites can filter them), the TXT is "CLASS EVIDENCE".
 *   Only proofs and listings are exported: suspect is a guess, clean and
 *   error say nothing about the address to anyone else.
 * - The TXT is ours but made of bytes that came from the network (a
 *   DNSBL's name, a banner's host): only printable ASCII goes out, '$'
 *   (rbldnsd's substitution character: "$" is the address, "$1".."$9"
 *   variables) becomes '_', trailing spaces go (rbldnsd trims them
 *   anyway), and it is cut at EXPORT_TXT_MAX (a DNS character-string
 *   holds 255 bytes).  After ":A:" the rest of the line is the TXT, so
 *   ':', '#' and ';' are fine there.
 * - Written like the state file (state_replace: temp file, fsync,
 *   rename), since rbldnsd rereads the file whenever its mtime changes and
 *   must never see half of it; mode 0644, as rbldnsd runs as its own user.
 *   The table is walked twice, once per family: the datasets must not
 *   interleave, and holding the IPv6 lines aside would cost memory for
 *   nothing.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "export.h"
#include "state.h"

const char *
export_a_value(enum vt_state st)
{
	switch (st) {
	case VT_OPEN: return "127.0.0.2";
	case VT_RELAY: return "127.0.0.3";
	case VT_LISTED: return "127.0.0.4";
	default: return NULL;
	}
}

void
export_txt(enum vt_state st, const char *evidence, char *out, size_t len)
{
	size_t n;
	int k;

	if (len == 0)
		return;
	if (len > EXPORT_TXT_MAX + 1)
		len = EXPORT_TXT_MAX + 1;
	k = snprintf(out, len, "%s %s", vt_state_name(st), evidence != NULL ? evidence : "");
	n = k < 0 ? 0 : (size_t)k < len ? (size_t)k : len - 1;
	out[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c < 0x20 || c >= 0x7f)
			out[i] = '?';
		else if (c == '$')
			out[i] = '_';
	}
	while (n > 0 && out[n - 1] == ' ')
		out[--n] = '\0';
}

struct walk {
	FILE *f;
	int family;
	size_t n;
};

static int
line(const struct vt_entry *e, void *arg)
{
	struct walk *w = arg;
	const char *a = export_a_value(e->v.state);
	char addr[64], txt[EXPORT_TXT_MAX + 1];

	if (a == NULL || e->a.family != w->family)
		return 0;
	pm_addr_str(&e->a, addr, sizeof(addr));
	export_txt(e->v.state, e->v.evidence, txt, sizeof(txt));
	/* "::1" would be a line of defaults (":A:TXT"): "0::1" is the same address */
	if (fprintf(w->f, "%s%s%s :%s:%s\n", addr[0] == ':' ? "0" : "", addr,
	    w->family == AF_INET6 ? "/128" : "", a, txt) < 0)
		return 1;
	w->n++;
	return 0;
}

int
export_write(struct vt *t, FILE *f, long ttl, const char *host, double now, int64_t unix_now,
    struct export_counts *cnt)
{
	struct walk w = { f, AF_INET, 0 };
	char tok[64], when[32];
	time_t tt = (time_t)unix_now;
	struct tm tm;

	if (ttl < EXPORT_TTL_MIN)
		ttl = EXPORT_TTL_MIN;
	state_host_token(host, tok, sizeof(tok));
	if (gmtime_r(&tt, &tm) == NULL || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof(when), "%lld", (long long)unix_now);
	fprintf(f, "# proxymilter verdicts: an rbldnsd data file for a \"combined\" dataset,\n"
	    "# rbldnsd -b ADDR/PORT ZONE:combined:THIS_FILE\n"
	    "# 127.0.0.2 open-proxy, 127.0.0.3 open-relay, 127.0.0.4 listed; TXT: class evidence\n"
	    "# written by proxymilter on %s at %s; rewritten every export.interval\n"
	    "$TTL %ld\n"
	    "$DATASET ip4set:proxymilter @\n", tok, when, ttl);
	if (vt_walk(t, now, line, &w) != 0)
		return -1;
	cnt->v4 = w.n;
	fprintf(f, "$DATASET ip6trie:proxymilter6 @\n");
	w.family = AF_INET6;
	w.n = 0;
	if (vt_walk(t, now, line, &w) != 0)
		return -1;
	cnt->v6 = w.n;
	return ferror(f) ? -1 : 0;
}

struct body_arg {
	struct vt *t;
	long ttl;
	const char *host;
	struct export_counts *cnt;
};

static int
body(FILE *f, void *arg, char *err, size_t errlen)
{
	struct body_arg *b = arg;

	if (export_write(b->t, f, b->ttl, b->host, vt_now(), (int64_t)time(NULL), b->cnt) < 0) {
		snprintf(err, errlen, "write error (or out of memory walking the table)");
		return -1;
	}
	return 0;
}

int
export_rbldnsd(struct vt *t, const char *path, long ttl, const char *host, char *err,
    size_t errlen, struct export_counts *cnt)
{
	struct export_counts c;
	struct body_arg b = { t, ttl, host, &c };
	double t0 = vt_now();
	char hn[256];
	int r;

	memset(&c, 0, sizeof(c));
	if (host == NULL) {
		if (gethostname(hn, sizeof(hn) - 1) < 0)
			hn[0] = '\0';
		hn[sizeof(hn) - 1] = '\0';
		b.host = hn;
	}
	r = state_replace(path, 0644, body, &b, err, errlen, &c.bytes);
	c.elapsed = vt_now() - t0;
	if (r < 0)
		c.v4 = c.v6 = 0;
	if (cnt != NULL)
		*cnt = c;
	return r;
}
