/*
 * confget.c - the libconfig side of loading a config, for config.c: the
 * file (a regular file of at most 1 MiB, parsed), typed getters that check
 * type and range, the value checks (socket specs, SMTP replies, header and
 * tag names), and the first error of a load as "file:line: message".  What
 * the keys mean is config.c's business.
 *
 * An allocation failure is a load error like any other ("file: out of
 * memory"); nothing here aborts.
 */
#include "config.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <limits.h>
#include <sys/stat.h>
#include "confget.h"

void
cg_fail(struct cg_ctx *c, const config_setting_t *s, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (c->failed)
		return;		/* report the first problem only */
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s != NULL && config_setting_source_line(s) > 0)
		snprintf(c->err, c->errlen, "%s:%d: %s",
		    config_setting_source_file(s) ? config_setting_source_file(s) : c->file,
		    config_setting_source_line(s), msg);
	else
		snprintf(c->err, c->errlen, "%s: %s", c->file, msg);
}

void
cg_oom(struct cg_ctx *c)
{
	cg_fail(c, NULL, "out of memory");
}

char *
cg_strdup(struct cg_ctx *c, const char *s)
{
	char *d;

	if ((d = strdup(s)) == NULL)
		cg_oom(c);
	return d;
}

int
cg_strlist_add(struct cg_ctx *c, struct pm_strlist *l, const char *s)
{
	char **nv, *d;

	if ((d = cg_strdup(c, s)) == NULL)
		return -1;
	if ((nv = realloc(l->v, (l->n + 1) * sizeof(*nv))) == NULL) {
		free(d);
		cg_oom(c);
		return -1;
	}
	nv[l->n++] = d;
	l->v = nv;
	return 0;
}

void
cg_strlist_free(struct pm_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* *dst becomes a copy of s; when there is no memory, it stays as it was */
static int
setstr(struct cg_ctx *c, char **dst, const char *s)
{
	char *d;

	if ((d = cg_strdup(c, s)) == NULL)
		return -1;
	free(*dst);
	*dst = d;
	return 0;
}

/* ---- the file ------------------------------------------------------------- */

#define CONFIG_MAX_BYTES (1024 * 1024)

/* open, check and parse the file: a regular file of at most 1 MiB */
int
cg_read_file(config_t *lc, const char *file, char *err, size_t errlen)
{
	struct stat st;
	FILE *f;
	char dir[PATH_MAX], *slash;

	if ((f = fopen(file, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", file, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", file);
		fclose(f);
		return -1;
	}
	if (st.st_size > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: too large (%lld bytes; at most %d)", file,
		    (long long)st.st_size, CONFIG_MAX_BYTES);
		fclose(f);
		return -1;
	}
	config_init(lc);
	/* @include "x" is relative to the file's own directory */
	snprintf(dir, sizeof(dir), "%s", file);
	if ((slash = strrchr(dir, '/')) != NULL) {
		*slash = '\0';
		config_set_include_dir(lc, dir[0] ? dir : "/");
	}
	if (config_read(lc, f) != CONFIG_TRUE) {
		if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
			snprintf(err, errlen, "%s: cannot read: %s", file,
			    ferror(f) ? strerror(errno) : "I/O error");
		else
			snprintf(err, errlen, "%s:%d: %s",
			    config_error_file(lc) ? config_error_file(lc) : file,
			    config_error_line(lc), config_error_text(lc));
		config_destroy(lc);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* ---- typed getters -------------------------------------------------------- */

void
cg_check_known(struct cg_ctx *c, const config_setting_t *grp, const char *const *names,
    const char *where)
{
	int n = config_setting_length(grp);
	for (int i = 0; i < n && !c->failed; i++) {
		config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *nm = config_setting_name(s);
		int ok = 0;
		for (const char *const *k = names; *k != NULL; k++)
			if (nm != NULL && strcmp(nm, *k) == 0)
				ok = 1;
		if (!ok)
			cg_fail(c, s, "unknown key \"%s%s\"", where, nm ? nm : "?");
	}
}

config_setting_t *
cg_group(struct cg_ctx *c, config_setting_t *root, const char *name)
{
	config_setting_t *g = config_setting_get_member(root, name);
	if (g != NULL && config_setting_type(g) != CONFIG_TYPE_GROUP) {
		cg_fail(c, g, "%s: expected a group { ... }", name);
		return NULL;
	}
	return g;
}

const char *
cg_get_str(struct cg_ctx *c, const config_setting_t *g, const char *name, char **dst)
{
	config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL || c->failed)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cg_fail(c, s, "%s: expected a string", name);
		return NULL;
	}
	const char *v = config_setting_get_string(s);
	if (dst != NULL && setstr(c, dst, v) < 0)
		return NULL;
	return v;
}

void
cg_get_bool(struct cg_ctx *c, const config_setting_t *g, const char *name, bool *dst)
{
	config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL || c->failed)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		cg_fail(c, s, "%s: expected true or false", name);
		return;
	}
	*dst = config_setting_get_bool(s) != 0;
}

/*
 * libconfig turns an integer literal that does not fit into garbage
 * (9999999999 reads as 1410065407, 99999999999999999999 as -1) without a
 * word: read the literal on the setting's own line again and compare.
 * 0 when it agrees with v (or cannot be found), -1 when it does not.
 */
static int
literal_check(const struct cg_ctx *c, const config_setting_t *s, const char *name, long long v)
{
	const char *file = config_setting_source_file(s) ? config_setting_source_file(s) : c->file;
	int want = config_setting_source_line(s), ln = 1;
	char buf[4096];
	FILE *f;
	int r = 0;

	if (file == NULL || want < 1 || (f = fopen(file, "r")) == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		size_t n = strlen(buf);
		if (ln == want) {
			size_t nl = strlen(name);
			for (char *p = buf; (p = strstr(p, name)) != NULL; p += nl) {
				char *q = p + nl, *end;
				if (p > buf && (p[-1] == '_' || (p[-1] >= 'a' && p[-1] <= 'z')))
					continue;
				while (*q == ' ' || *q == '\t')
					q++;
				if (*q != '=' && *q != ':')
					continue;
				q++;
				while (*q == ' ' || *q == '\t')
					q++;
				errno = 0;
				long long lit = strtoll(q, &end, 0);
				if (end != q && (errno == ERANGE || lit != v))
					r = -1;
				break;
			}
			break;
		}
		if (n > 0 && buf[n - 1] == '\n')
			ln++;
	}
	fclose(f);
	return r;
}

void
cg_get_num(struct cg_ctx *c, const config_setting_t *g, const char *name, double *dst,
    double lo, double hi)
{
	config_setting_t *s = config_setting_get_member(g, name);
	double v;
	if (s == NULL || c->failed)
		return;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		v = (double)config_setting_get_int64(s);
		if (literal_check(c, s, name, config_setting_get_int64(s)) < 0) {
			cg_fail(c, s, "%s: the number is out of range (%g to %g)", name, lo, hi);
			return;
		}
		break;
	case CONFIG_TYPE_FLOAT: v = config_setting_get_float(s); break;
	default:
		cg_fail(c, s, "%s: expected a number", name);
		return;
	}
	if (!(v >= lo && v <= hi)) {
		cg_fail(c, s, "%s: %g is out of range (%g to %g)", name, v, lo, hi);
		return;
	}
	*dst = v;
}

void
cg_get_long(struct cg_ctx *c, const config_setting_t *g, const char *name, long *dst,
    long lo, long hi)
{
	config_setting_t *s = config_setting_get_member(g, name);
	long long v;
	if (s == NULL || c->failed)
		return;
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT: v = config_setting_get_int(s); break;
	case CONFIG_TYPE_INT64: v = config_setting_get_int64(s); break;
	default:
		cg_fail(c, s, "%s: expected a whole number", name);
		return;
	}
	if (literal_check(c, s, name, v) < 0) {
		cg_fail(c, s, "%s: the number is out of range (%ld to %ld)", name, lo, hi);
		return;
	}
	if (v < lo || v > hi) {
		cg_fail(c, s, "%s: %lld is out of range (%ld to %ld)", name, v, lo, hi);
		return;
	}
	*dst = (long)v;
}

void
cg_get_int(struct cg_ctx *c, const config_setting_t *g, const char *name, int *dst,
    int lo, int hi)
{
	long v = *dst;
	cg_get_long(c, g, name, &v, lo, hi);
	*dst = (int)v;
}

static int
pick(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcasecmp(v, names[i]) == 0)
			return i;
	return -1;
}

void
cg_get_enum(struct cg_ctx *c, const config_setting_t *g, const char *name,
    const char *const *names, int n, int *dst)
{
	const char *v = cg_get_str(c, g, name, NULL);
	if (v == NULL)
		return;
	int i = pick(v, names, n);
	if (i < 0) {
		char allowed[128] = "";
		for (int k = 0; k < n; k++) {
			strncat(allowed, names[k], sizeof(allowed) - strlen(allowed) - 1);
			if (k + 1 < n)
				strncat(allowed, " | ", sizeof(allowed) - strlen(allowed) - 1);
		}
		cg_fail(c, config_setting_get_member(g, name),
		    "%s: \"%s\" is not one of %s", name, v, allowed);
		return;
	}
	*dst = i;
}

void
cg_get_list(struct cg_ctx *c, const config_setting_t *g, const char *name,
    cg_elem_fn *fn, void *arg, struct pm_strlist *copy)
{
	config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL || c->failed)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		cg_fail(c, s, "%s: expected a list of strings [ \"...\", ... ]", name);
		return;
	}
	if (copy != NULL)
		cg_strlist_free(copy);
	int n = config_setting_length(s);
	for (int i = 0; i < n && !c->failed; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			cg_fail(c, e, "%s: element %d is not a string", name, i + 1);
			return;
		}
		const char *v = config_setting_get_string(e);
		if (fn != NULL)
			fn(c, e, v, arg);
		if (copy != NULL && !c->failed)
			cg_strlist_add(c, copy, v);
	}
}

void
cg_add_cidr(struct cg_ctx *c, const config_setting_t *e, const char *v, void *arg)
{
	char err[160];
	if (cidr_list_add(arg, v, err, sizeof(err)) < 0)
		cg_fail(c, e, "%s", err);
}

void
cg_nonempty(struct cg_ctx *c, const config_setting_t *e, const char *v, void *arg)
{
	(void)arg;
	if (v[0] == '\0')
		cg_fail(c, e, "empty string in list");
}

/* ---- value checks --------------------------------------------------------- */

/* libmilter socket spec: unix:/path, local:/path, inet:PORT[@HOST], inet6:PORT[@HOST] */
int
config_socket_ok(const char *s, char *why, size_t len)
{
	const char *p;
	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
		p = strchr(s, ':') + 1;
		if (*p != '/') {
			snprintf(why, len, "unix socket path must be absolute");
			return 0;
		}
		return 1;
	}
	if (strncmp(s, "inet:", 5) == 0 || strncmp(s, "inet6:", 6) == 0) {
		p = strchr(s, ':') + 1;
		char *end;
		long port = strtol(p, &end, 10);
		if (end == p || port < 1 || port > 65535 || (*end != '\0' && *end != '@')) {
			if (strchr(p, ':') != NULL || strchr(p, '.') != NULL)
				snprintf(why, len, "libmilter writes inet:PORT@HOST "
				    "(Postfix's inet:HOST:PORT is the other way round)");
			else
				snprintf(why, len, "bad port");
			return 0;
		}
		if (*end == '@' && end[1] == '\0') {
			snprintf(why, len, "empty host after '@'");
			return 0;
		}
		return 1;
	}
	snprintf(why, len, "expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST");
	return 0;
}

int
reply_split(const char *reply, char code[4], char xcode[16], const char **text)
{
	const char *p = reply, *x;
	size_t xl;

	if (!(p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' &&
	    p[2] >= '0' && p[2] <= '9' && p[3] == ' '))
		return -1;
	memcpy(code, p, 3);
	code[3] = '\0';
	p += 4;
	x = p;
	xl = strcspn(x, " ");
	xcode[0] = '\0';
	/* enhanced status code d.d{1,3}.d{1,3} */
	if (xl >= 5 && xl < 16 && x[0] == code[0] && x[1] == '.') {
		int dots = 0, ok = 1;
		for (size_t i = 1; i < xl; i++) {
			if (x[i] == '.')
				dots++;
			else if (x[i] < '0' || x[i] > '9')
				ok = 0;
		}
		if (ok && dots == 2) {
			memcpy(xcode, x, xl);
			xcode[xl] = '\0';
			p = x[xl] == ' ' ? x + xl + 1 : x + xl;
		}
	}
	for (const char *t = p; *t != '\0'; t++)
		if ((unsigned char)*t < 0x20 || (unsigned char)*t >= 0x7f)
			return -1;
	*text = p;
	return 0;
}

/* an SMTP reply of class cls ('4', '5') with %a %c %p %% escapes only */
void
cg_check_reply(struct cg_ctx *c, const config_setting_t *g, const char *name, char cls)
{
	char code[4], xcode[16];
	const char *text, *v = cg_get_str(c, g, name, NULL);
	if (v == NULL)
		return;
	if (reply_split(v, code, xcode, &text) < 0 || code[0] != cls) {
		cg_fail(c, config_setting_get_member(g, name),
		    "%s: must look like \"%cNN %c.7.1 text\" (printable ASCII)", name, cls, cls);
		return;
	}
	if (xcode[0] == '\0' || text[0] == '\0' || strlen(v) > 900) {
		cg_fail(c, config_setting_get_member(g, name),
		    "%s: needs an enhanced status code (%c.X.X) and a text of at most 900 characters",
		    name, cls);
		return;
	}
	for (const char *p = text; (p = strchr(p, '%')) != NULL; p += 2) {
		if (p[1] != 'a' && p[1] != 'c' && p[1] != 'p' && p[1] != '%') {
			cg_fail(c, config_setting_get_member(g, name),
			    "%s: unknown escape \"%%%c\" (use %%a, %%c, %%p or %%%%)", name,
			    p[1] ? p[1] : ' ');
			return;
		}
	}
}

int
cg_header_ok(const char *h)
{
	if (*h == '\0' || strlen(h) > 64)
		return 0;
	for (; *h; h++)
		if (*h <= 0x20 || *h >= 0x7f || *h == ':')
			return 0;
	return 1;
}

/* a user tag: letters, digits, - and _, not a number, a built-in or "all" */
int
cg_tag_name_ok(const char *n)
{
	if (n[0] >= '0' && n[0] <= '9')
		return 0;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return 0;
	for (size_t i = 0; pe_builtin_tag(i) != NULL; i++)
		if (strcmp(pe_builtin_tag(i)->name, n) == 0)
			return 0;
	return strcmp(n, "all") != 0;
}
