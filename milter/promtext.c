/*
 * promtext.c - Prometheus text exposition pieces (see promtext.h).
 */
#include "config.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "promtext.h"

/* ---- a bounded set of label values ----------------------------------------- */

void
pt_names_init(struct pt_names *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
}

/* printable ASCII, 1 .. PT_NAME_LEN - 1 bytes */
static int
name_ok(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		if (i + 1 >= PT_NAME_LEN || name[i] < 0x20 || name[i] > 0x7e)
			return 0;
	return i > 0;
}

static size_t
find(struct pt_names *s, const char *name, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->v[i], name) == 0)
			return i;
	return PT_OTHER;
}

size_t
pt_names_index(struct pt_names *s, const char *name)
{
	size_t n, i;

	if (name == NULL || !name_ok(name))
		return PT_OTHER;
	n = __atomic_load_n(&s->n, __ATOMIC_ACQUIRE);
	if ((i = find(s, name, n)) != PT_OTHER || n >= PT_OTHER)
		return i;
	pthread_mutex_lock(&s->mu);
	n = s->n;	/* another thread may have added it meanwhile */
	if ((i = find(s, name, n)) == PT_OTHER && n < PT_OTHER) {
		snprintf(s->v[n], PT_NAME_LEN, "%s", name);
		__atomic_store_n(&s->n, n + 1, __ATOMIC_RELEASE);
		i = n;
	}
	pthread_mutex_unlock(&s->mu);
	return i;
}

size_t
pt_names_count(struct pt_names *s)
{
	return __atomic_load_n(&s->n, __ATOMIC_ACQUIRE);
}

const char *
pt_names_at(struct pt_names *s, size_t i)
{
	return i < pt_names_count(s) ? s->v[i] : "other";
}

/* ---- histogram ------------------------------------------------------------- */

int
pt_hist_init(struct pt_hist *h, const double *le, size_t n)
{
	memset(h, 0, sizeof(*h));
	if (n == 0 || n > PT_BUCKETS_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(le[i]) || (i > 0 && le[i] <= le[i - 1]))
			return -1;
		h->le[i] = le[i];
	}
	h->n = n;
	return 0;
}

void
pt_hist_add(struct pt_hist *h, double v)
{
	size_t i;

	if (!(v > 0))		/* NaN too */
		v = 0;
	for (i = 0; i < h->n && v > h->le[i]; i++)
		;
	__atomic_add_fetch(&h->b[i], 1, __ATOMIC_RELAXED);
	/* an hour at most per observation: the sum cannot overflow in practice */
	__atomic_add_fetch(&h->sum_us, (uint64_t)(v < 3600.0 ? v * 1e6 : 3600e6), __ATOMIC_RELAXED);
}

/* ---- the text ------------------------------------------------------------------ */

void
pt_init(struct pt *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
}

void
pt_free(struct pt *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

static void
add(struct pt *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
add(struct pt *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->full)
		return;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		n = t->buf != NULL ? vsnprintf(t->buf + t->len, room, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		/* grow: double, at least enough for this line, never past max */
		size_t want = t->cap ? t->cap * 2 : 4096;
		if (n >= 0 && want < t->len + (size_t)n + 1)
			want = t->len + (size_t)n + 1;
		if (want > t->max + 1)
			want = t->max + 1;
		char *nb;
		if (want <= t->cap || (nb = realloc(t->buf, want)) == NULL) {
			t->full = 1;
			if (t->buf != NULL)
				t->buf[t->len] = '\0';
			return;
		}
		t->buf = nb;
		t->cap = want;
		if (t->len == 0)
			t->buf[0] = '\0';
	}
}

void
pt_head(struct pt *t, const char *name, const char *type, const char *help)
{
	char h[512];
	size_t n = 0;

	/* HELP escapes only '\' and newline */
	for (const char *p = help; *p != '\0' && n + 3 < sizeof(h); p++) {
		if (*p == '\\' || *p == '\n') {
			h[n++] = '\\';
			h[n++] = *p == '\n' ? 'n' : '\\';
		} else
			h[n++] = *p;
	}
	h[n] = '\0';
	add(t, "# HELP %s %s\n# TYPE %s %s\n", name, h, name, type);
}

void
pt_u64(struct pt *t, const char *name, const char *labels, uint64_t v)
{
	add(t, "%s%s %llu\n", name, labels, (unsigned long long)v);
	t->series++;
}

void
pt_dbl(struct pt *t, const char *name, const char *labels, double v)
{
	if (isnan(v))
		add(t, "%s%s NaN\n", name, labels);
	else if (isinf(v))
		add(t, "%s%s %cInf\n", name, labels, v > 0 ? '+' : '-');
	else
		add(t, "%s%s %.6f\n", name, labels, v);
	t->series++;
}

void
pt_histogram(struct pt *t, const char *name, const char *help, struct pt_hist *h)
{
	char n[128], l[64];
	uint64_t cum = 0;

	pt_head(t, name, "histogram", help);
	snprintf(n, sizeof(n), "%s_bucket", name);
	for (size_t i = 0; i <= h->n; i++) {
		cum += __atomic_load_n(&h->b[i], __ATOMIC_RELAXED);
		if (i < h->n)
			snprintf(l, sizeof(l), "{le=\"%g\"}", h->le[i]);
		else
			snprintf(l, sizeof(l), "{le=\"+Inf\"}");
		pt_u64(t, n, l, cum);
	}
	snprintf(n, sizeof(n), "%s_sum", name);
	pt_dbl(t, n, "", (double)__atomic_load_n(&h->sum_us, __ATOMIC_RELAXED) / 1e6);
	snprintf(n, sizeof(n), "%s_count", name);
	pt_u64(t, n, "", cum);
}

int
pt_labels(char *dst, size_t len, ...)
{
	va_list ap;
	const char *k, *v;
	size_t n = 0;
	int first = 1;

	if (len < 3) {
		if (len > 0)
			dst[0] = '\0';
		return -1;
	}
	dst[n++] = '{';
	va_start(ap, len);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		/* ,k=" */
		size_t kl = strlen(k);
		if (n + kl + 4 >= len)
			goto toolong;
		if (!first)
			dst[n++] = ',';
		first = 0;
		memcpy(dst + n, k, kl);
		n += kl;
		dst[n++] = '=';
		dst[n++] = '"';
		for (const unsigned char *p = (const unsigned char *)(v ? v : ""); *p; p++) {
			char e = *p == '\\' ? '\\' : *p == '"' ? '"' : *p == '\n' ? 'n' : 0;
			if (n + (e ? 2 : 1) + 2 >= len)	/* room for '"' '}' */
				goto toolong;
			if (e) {
				dst[n++] = '\\';
				dst[n++] = e;
			} else
				dst[n++] = *p >= 0x20 && *p < 0x7f ? (char)*p : '?';
		}
		if (n + 2 >= len)
			goto toolong;
		dst[n++] = '"';
	}
	va_end(ap);
	if (n + 2 > len)
		goto toolong_noend;
	dst[n++] = '}';
	dst[n] = '\0';
	return 0;
toolong:
	va_end(ap);
toolong_noend:
	dst[0] = '\0';
	return -1;
}
