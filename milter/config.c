/*
 * config.c - libconfig -> validated, immutable, refcounted configuration.
 *
 * Every key is checked for type and range; unknown keys are errors (a typo
 * must not silently become a default).  Errors read "file:line: message".
 */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <grp.h>
#include <limits.h>
#include <sys/stat.h>
#include <libconfig.h>
#include "pmconfig.h"
#include "log.h"

struct ctx {
	const char *file;
	char *err;
	size_t errlen;
	int failed;
};

static void
fail_at(struct ctx *c, const config_setting_t *s, const char *fmt, ...)
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

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);
	if (d == NULL) {
		fprintf(stderr, "proxymilter: out of memory\n");
		abort();
	}
	return d;
}

static void
strlist_add(struct pm_strlist *l, const char *s)
{
	char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (nv == NULL) {
		fprintf(stderr, "proxymilter: out of memory\n");
		abort();
	}
	nv[l->n++] = xstrdup(s);
	l->v = nv;
}

static void
strlist_free(struct pm_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
setstr(char **dst, const char *s)
{
	free(*dst);
	*dst = xstrdup(s);
}

/* ---- typed getters -------------------------------------------------------- */

static void
check_known(struct ctx *c, const config_setting_t *grp, const char *const *names,
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
			fail_at(c, s, "unknown key \"%s%s\"", where, nm ? nm : "?");
	}
}

static const char *
get_str(struct ctx *c, const config_setting_t *g, const char *name, char **dst)
{
	config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL || c->failed)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		fail_at(c, s, "%s: expected a string", name);
		return NULL;
	}
	const char *v = config_setting_get_string(s);
	if (dst != NULL)
		setstr(dst, v);
	return v;
}

static void
get_bool(struct ctx *c, const config_setting_t *g, const char *name, bool *dst)
{
	config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL || c->failed)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		fail_at(c, s, "%s: expected true or false", name);
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
literal_check(const struct ctx *c, const config_setting_t *s, const char *name, long long v)
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

static void
get_num(struct ctx *c, const config_setting_t *g, const char *name, double *dst,
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
			fail_at(c, s, "%s: the number is out of range (%g to %g)", name, lo, hi);
			return;
		}
		break;
	case CONFIG_TYPE_FLOAT: v = config_setting_get_float(s); break;
	default:
		fail_at(c, s, "%s: expected a number", name);
		return;
	}
	if (!(v >= lo && v <= hi)) {
		fail_at(c, s, "%s: %g is out of range (%g to %g)", name, v, lo, hi);
		return;
	}
	*dst = v;
}

static void
get_long(struct ctx *c, const config_setting_t *g, const char *name, long *dst,
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
		fail_at(c, s, "%s: expected a whole number", name);
		return;
	}
	if (literal_check(c, s, name, v) < 0) {
		fail_at(c, s, "%s: the number is out of range (%ld to %ld)", name, lo, hi);
		return;
	}
	if (v < lo || v > hi) {
		fail_at(c, s, "%s: %lld is out of range (%ld to %ld)", name, v, lo, hi);
		return;
	}
	*dst = (long)v;
}

static void
get_int(struct ctx *c, const config_setting_t *g, const char *name, int *dst,
    int lo, int hi)
{
	long v = *dst;
	get_long(c, g, name, &v, lo, hi);
	*dst = (int)v;
}

/* an array of strings; each element goes through fn (which may fail) */
static void
get_list(struct ctx *c, const config_setting_t *g, const char *name,
    void (*fn)(struct ctx *, const config_setting_t *, const char *, void *),
    void *arg, struct pm_strlist *copy)
{
	config_setting_t *s = config_setting_get_member(g, name);
	if (s == NULL || c->failed)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		fail_at(c, s, "%s: expected a list of strings [ \"...\", ... ]", name);
		return;
	}
	if (copy != NULL)
		strlist_free(copy);
	int n = config_setting_length(s);
	for (int i = 0; i < n && !c->failed; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			fail_at(c, e, "%s: element %d is not a string", name, i + 1);
			return;
		}
		const char *v = config_setting_get_string(e);
		if (fn != NULL)
			fn(c, e, v, arg);
		if (copy != NULL && !c->failed)
			strlist_add(copy, v);
	}
}

static void
add_cidr(struct ctx *c, const config_setting_t *e, const char *v, void *arg)
{
	char err[160];
	if (cidr_list_add(arg, v, err, sizeof(err)) < 0)
		fail_at(c, e, "%s", err);
}

static void
check_nonempty(struct ctx *c, const config_setting_t *e, const char *v, void *arg)
{
	(void)arg;
	if (v[0] == '\0')
		fail_at(c, e, "empty string in list");
}

/* ---- value checks --------------------------------------------------------- */

static int
pick(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcasecmp(v, names[i]) == 0)
			return i;
	return -1;
}

static const char *const stage_names[] = { "connect", "helo", "mail", "rcpt", "eom" };
static const char *const action_names[] = { "accept", "reject", "tempfail", "tag" };

const char *stage_name(enum pm_stage s) { return stage_names[s]; }
const char *action_name(enum pm_action a) { return action_names[a]; }

static void
get_enum(struct ctx *c, const config_setting_t *g, const char *name,
    const char *const *names, int n, int *dst)
{
	const char *v = get_str(c, g, name, NULL);
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
		fail_at(c, config_setting_get_member(g, name),
		    "%s: \"%s\" is not one of %s", name, v, allowed);
		return;
	}
	*dst = i;
}

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

static void
check_reply(struct ctx *c, const config_setting_t *g, const char *name, char cls)
{
	char code[4], xcode[16];
	const char *text, *v = get_str(c, g, name, NULL);
	if (v == NULL)
		return;
	if (reply_split(v, code, xcode, &text) < 0 || code[0] != cls) {
		fail_at(c, config_setting_get_member(g, name),
		    "%s: must look like \"%cNN %c.7.1 text\" (printable ASCII)", name, cls, cls);
		return;
	}
	if (xcode[0] == '\0' || text[0] == '\0' || strlen(v) > 900) {
		fail_at(c, config_setting_get_member(g, name),
		    "%s: needs an enhanced status code (%c.X.X) and a text of at most 900 characters",
		    name, cls);
		return;
	}
	for (const char *p = text; (p = strchr(p, '%')) != NULL; p += 2) {
		if (p[1] != 'a' && p[1] != 'c' && p[1] != 'p' && p[1] != '%') {
			fail_at(c, config_setting_get_member(g, name),
			    "%s: unknown escape \"%%%c\" (use %%a, %%c, %%p or %%%%)", name,
			    p[1] ? p[1] : ' ');
			return;
		}
	}
}

static int
header_name_ok(const char *h)
{
	if (*h == '\0' || strlen(h) > 64)
		return 0;
	for (; *h; h++)
		if (*h <= 0x20 || *h >= 0x7f || *h == ':')
			return 0;
	return 1;
}

#define MAX_MILTER_TESTS 1024	/* per client; the CLI has no such cap */

static void
add_scan(struct ctx *c, const config_setting_t *e, const char *v, void *arg)
{
	struct pm_config *cf = arg;
	char err[160];
	if (pe_scan_parse(v, cf->probe.tags, &cf->probe.tests, &cf->probe.ntests, err,
	    sizeof(err)) < 0)
		fail_at(c, e, "probe.scan: %s", err);
	else if (cf->probe.ntests > MAX_MILTER_TESTS)
		fail_at(c, e, "probe.scan: %zu tests per client is too many (at most %d)",
		    cf->probe.ntests, MAX_MILTER_TESTS);
}

static int
tag_name_ok(const char *n)
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

/* probe.tags = { name = [ "port_spec", ... ]; ... } */
static void
load_tags(struct ctx *c, struct pm_config *cf, config_setting_t *g)
{
	int n = config_setting_length(g);
	size_t total = 0;
	char err[160];

	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		fail_at(c, g, "tags: expected a group { name = [ \"port_spec\", ... ]; }");
		return;
	}
	/* first pass: copy strings (pointers into the list stay valid after) */
	for (int i = 0; i < n && !c->failed; i++) {
		config_setting_t *t = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(t);
		if (!tag_name_ok(name)) {
			fail_at(c, t, "tags: \"%s\" is not a usable tag name (letters, digits, - and _; "
			    "not basic, full, socks or all)", name);
			return;
		}
		get_list(c, g, name, check_nonempty, NULL, NULL);
		total += (size_t)config_setting_length(t) + 2;
	}
	if (c->failed)
		return;
	char **strs = calloc(total + 1, sizeof(char *));
	cf->probe.tags = calloc((size_t)n + 1, sizeof(struct pe_tag));
	if (strs == NULL || cf->probe.tags == NULL) {
		fprintf(stderr, "proxymilter: out of memory\n");
		abort();
	}
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		config_setting_t *t = config_setting_get_elem(g, (unsigned)i);
		cf->probe.tags[i].name = strs[k++] = xstrdup(config_setting_name(t));
		cf->probe.tags[i].specs = (const char *const *)&strs[k];
		for (int j = 0; j < config_setting_length(t); j++)
			strs[k++] = xstrdup(config_setting_get_string(config_setting_get_elem(t, (unsigned)j)));
		strs[k++] = NULL;
	}
	cf->probe.tag_specs.v = strs;
	cf->probe.tag_specs.n = k;
	/* every tag must expand */
	for (int i = 0; i < n && !c->failed; i++) {
		struct pe_test *tt = NULL;
		size_t nt = 0;
		if (pe_scan_parse(cf->probe.tags[i].name, cf->probe.tags, &tt, &nt, err, sizeof(err)) < 0)
			fail_at(c, config_setting_get_elem(g, (unsigned)i), "tags: %s: %s",
			    cf->probe.tags[i].name, err);
		free(tt);
	}
}

/* ---- defaults and loading ------------------------------------------------- */

static const char *const default_scan[] = { "basic" };

static struct pm_config *
config_defaults(void)
{
	struct pm_config *cf = calloc(1, sizeof(*cf));
	char err[160];

	if (cf == NULL) {
		fprintf(stderr, "proxymilter: out of memory\n");
		abort();
	}
	cf->refs = 1;
	cf->socket = xstrdup("inet:8890@127.0.0.1");
	cf->user = xstrdup("proxymilter");
	cf->pid_file = xstrdup("/run/proxymilter/proxymilter.pid");
	cf->socket_mode = 0660;
	cf->socket_group = xstrdup("");
	cf->syslog_facility = LOG_MAIL;
	cf->log_level = LOG_INFO;
	cf->mode = MODE_ENFORCE;
	cidr_list_add(&cf->allow, "127.0.0.0/8", err, sizeof(err));
	cidr_list_add(&cf->allow, "::1/128", err, sizeof(err));
	cf->skip_authenticated = true;
	strlist_add(&cf->skip_daemon_names, "ORIGINATING");
	strlist_add(&cf->exempt_recipients, "postmaster@");
	strlist_add(&cf->exempt_recipients, "abuse@");
	for (size_t i = 0; i < sizeof(default_scan) / sizeof(default_scan[0]); i++) {
		strlist_add(&cf->probe.scan, default_scan[i]);
		pe_scan_parse(default_scan[i], NULL, &cf->probe.tests, &cf->probe.ntests, err, sizeof(err));
	}
	cf->probe.target = xstrdup("canary");
	cf->probe.canary_listen_text = xstrdup("127.0.0.1:2526");
	cf->probe.target_kind = PE_TARGET_CANARY;
	cf->probe.canary_address_text = xstrdup("");
	cf->probe.mta_address = xstrdup("");
	cf->probe.banner = xstrdup("220 ");
	cf->probe.timing.connect_timeout = 5.0;
	cf->probe.timing.timeout = 15.0;
	cf->probe.timing.retries = 1;
	cf->probe.max_inflight = 1024;
	cf->probe.max_per_client = 32;
	cf->probe.max_queue = 4096;
	cf->probe.max_queue_wait = 30.0;
	cf->probe.rate_limit = 60;
	cf->probe.resolver = xstrdup("");
	cf->verdict.open_ttl = 86400;
	cf->verdict.clean_ttl = 3600;
	cf->verdict.error_ttl = 300;
	cf->verdict.max_entries = 1000000;
	cf->action.stage = STAGE_RCPT;
	cf->action.on_open = ACT_REJECT;
	cf->action.on_relay = ACT_REJECT;
	cf->action.on_listed = ACT_REJECT;
	cf->action.on_suspect = ACT_TAG;
	cf->action.on_pending = ACT_TAG;
	cf->action.on_error = ACT_ACCEPT;
	cf->action.on_clean = ACT_ACCEPT;
	cf->action.pending_wait = 5.0;
	cf->action.header = xstrdup("X-Proxy-Check");
	cf->action.reject_reply = xstrdup("550 5.7.1 Client host [%a] %c (%p)");
	cf->action.tempfail_reply = xstrdup("451 4.7.1 Client host [%a] is being checked, try again later");
	return cf;
}

static const char *const top_keys[] = {
	"socket", "socket_mode", "socket_group", "user", "pid_file", "syslog_facility", "log_level", "log_stderr",
	"mode", "allow", "skip_authenticated", "skip_daemon_names",
	"exempt_recipients", "probe", "verdict", "action", NULL
};
static const char *const probe_keys[] = {
	"scan", "tags", "target", "canary_listen", "canary_address", "mta_address",
	"banner", "connect_timeout", "timeout", "retries", "max_inflight",
	"max_per_client", "max_queue", "max_queue_wait", "rate_limit", "allow_private", "resolver", NULL
};
static const char *const verdict_keys[] = {
	"open_ttl", "clean_ttl", "error_ttl", "max_entries", NULL
};
static const char *const action_keys[] = {
	"stage", "on_open", "on_relay", "on_listed", "on_suspect", "on_pending",
	"on_error", "on_clean", "pending_wait",
	"header", "reject_reply", "tempfail_reply", NULL
};

static config_setting_t *
group(struct ctx *c, config_setting_t *root, const char *name)
{
	config_setting_t *g = config_setting_get_member(root, name);
	if (g != NULL && config_setting_type(g) != CONFIG_TYPE_GROUP) {
		fail_at(c, g, "%s: expected a group { ... }", name);
		return NULL;
	}
	return g;
}

static void
load_probe(struct ctx *c, struct pm_config *cf, config_setting_t *g)
{
	config_setting_t *s;

	check_known(c, g, probe_keys, "probe.");
	s = config_setting_get_member(g, "tags");
	if (s != NULL && !c->failed)
		load_tags(c, cf, s);
	if (config_setting_get_member(g, "scan") != NULL) {
		free(cf->probe.tests);
		cf->probe.tests = NULL;
		cf->probe.ntests = 0;
		get_list(c, g, "scan", add_scan, cf, &cf->probe.scan);
		if (!c->failed && cf->probe.ntests == 0)
			fail_at(c, config_setting_get_member(g, "scan"),
			    "scan: the list is empty: nothing would be probed");
	}
	get_str(c, g, "target", &cf->probe.target);
	get_str(c, g, "canary_listen", &cf->probe.canary_listen_text);
	get_str(c, g, "canary_address", &cf->probe.canary_address_text);
	get_str(c, g, "mta_address", &cf->probe.mta_address);
	if (get_str(c, g, "banner", &cf->probe.banner) != NULL && strlen(cf->probe.banner) > 60)
		fail_at(c, config_setting_get_member(g, "banner"), "banner: at most 60 characters");
	get_num(c, g, "connect_timeout", &cf->probe.timing.connect_timeout, 0.1, 60);
	get_num(c, g, "timeout", &cf->probe.timing.timeout, 0.2, 300);
	get_int(c, g, "retries", &cf->probe.timing.retries, 0, 5);
	get_int(c, g, "max_inflight", &cf->probe.max_inflight, 1, 65536);
	get_int(c, g, "max_per_client", &cf->probe.max_per_client, 1, 256);
	get_int(c, g, "max_queue", &cf->probe.max_queue, 1, 1000000);
	get_num(c, g, "max_queue_wait", &cf->probe.max_queue_wait, 0, 3600);
	get_int(c, g, "rate_limit", &cf->probe.rate_limit, 0, 100000);
	get_list(c, g, "allow_private", add_cidr, &cf->probe.allow_private, NULL);
	get_str(c, g, "resolver", &cf->probe.resolver);
	if (c->failed)
		return;
	if (cf->probe.timing.timeout < cf->probe.timing.connect_timeout)
		fail_at(c, config_setting_get_member(g, "timeout"),
		    "timeout (%g) must not be shorter than connect_timeout (%g)",
		    cf->probe.timing.timeout, cf->probe.timing.connect_timeout);
	if (cf->probe.resolver[0] != '\0') {
		struct pm_addr a;
		struct sockaddr_storage ss;
		socklen_t sl;
		if (pm_addr_parse(cf->probe.resolver, &a) < 0 &&
		    pe_parse_hostport(cf->probe.resolver, &ss, &sl) < 0)
			fail_at(c, config_setting_get_member(g, "resolver"),
			    "resolver: \"%s\" is not a numeric address or HOST:PORT", cf->probe.resolver);
	}
}

static int
is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == 0;
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* canary addresses are checked after all keys are read, whatever the order */
static void
resolve_canary(struct ctx *c, struct pm_config *cf, config_setting_t *g)
{
	config_setting_t *s;

	if (c->failed)
		return;
	/* target: canary | mta | HOST:PORT */
	s = g ? config_setting_get_member(g, "target") : NULL;
	if (strcmp(cf->probe.target, "mta") == 0) {
		cf->probe.target_kind = PE_TARGET_MTA;
		if (pe_parse_hostport(cf->probe.mta_address, &cf->probe.target_addr,
		    &cf->probe.target_addr_len) < 0 || is_wildcard(&cf->probe.target_addr)) {
			config_setting_t *m = g ? config_setting_get_member(g, "mta_address") : NULL;
			fail_at(c, m != NULL ? m : s,
			    "target \"mta\" needs probe.mta_address: the numeric HOST:PORT of this "
			    "MTA's smtpd as proxies reach it");
		}
		return;
	}
	if (strcmp(cf->probe.target, "canary") != 0) {
		cf->probe.target_kind = PE_TARGET_BANNER;
		if (pe_parse_hostport(cf->probe.target, &cf->probe.target_addr,
		    &cf->probe.target_addr_len) < 0 || is_wildcard(&cf->probe.target_addr)) {
			fail_at(c, s, "target: \"%s\" is not canary, mta or a numeric HOST:PORT",
			    cf->probe.target);
			return;
		}
		if (cf->probe.banner[0] == '\0')
			fail_at(c, g ? config_setting_get_member(g, "banner") : NULL,
			    "banner: must not be empty with target HOST:PORT");
		return;
	}
	s = g ? config_setting_get_member(g, "canary_listen") : NULL;
	if (pe_parse_hostport(cf->probe.canary_listen_text, &cf->probe.canary_listen,
	    &cf->probe.canary_listen_len) < 0) {
		fail_at(c, s, "canary_listen: \"%s\" is not a numeric HOST:PORT ([v6]:PORT for IPv6)",
		    cf->probe.canary_listen_text);
		return;
	}
	if (cf->probe.canary_address_text[0] == '\0') {
		if (is_wildcard(&cf->probe.canary_listen)) {
			fail_at(c, s, "canary_listen is a wildcard address: set probe.canary_address "
			    "to the address proxies must connect to");
			return;
		}
		cf->probe.canary_address = cf->probe.canary_listen;
		cf->probe.canary_address_len = cf->probe.canary_listen_len;
		return;
	}
	s = g ? config_setting_get_member(g, "canary_address") : NULL;
	if (pe_parse_hostport(cf->probe.canary_address_text, &cf->probe.canary_address,
	    &cf->probe.canary_address_len) < 0 || is_wildcard(&cf->probe.canary_address))
		fail_at(c, s, "canary_address: \"%s\" is not a numeric, non-wildcard HOST:PORT",
		    cf->probe.canary_address_text);
}

static void
load_action(struct ctx *c, struct pm_config *cf, config_setting_t *g)
{
	int v;
	const char *h;

	check_known(c, g, action_keys, "action.");
	v = (int)cf->action.stage;
	get_enum(c, g, "stage", stage_names, 5, &v);
	cf->action.stage = (enum pm_stage)v;
	v = (int)cf->action.on_open;
	get_enum(c, g, "on_open", action_names, 4, &v);
	cf->action.on_open = (enum pm_action)v;
	v = (int)cf->action.on_relay;
	get_enum(c, g, "on_relay", action_names, 4, &v);
	cf->action.on_relay = (enum pm_action)v;
	v = (int)cf->action.on_listed;
	get_enum(c, g, "on_listed", action_names, 4, &v);
	cf->action.on_listed = (enum pm_action)v;
	v = (int)cf->action.on_suspect;
	get_enum(c, g, "on_suspect", action_names, 4, &v);
	cf->action.on_suspect = (enum pm_action)v;
	v = (int)cf->action.on_pending;
	get_enum(c, g, "on_pending", action_names, 4, &v);
	cf->action.on_pending = (enum pm_action)v;
	v = (int)cf->action.on_error;
	get_enum(c, g, "on_error", action_names, 4, &v);
	cf->action.on_error = (enum pm_action)v;
	v = (int)cf->action.on_clean;
	get_enum(c, g, "on_clean", action_names, 4, &v);
	if (!c->failed && v != ACT_ACCEPT && v != ACT_TAG)
		fail_at(c, config_setting_get_member(g, "on_clean"),
		    "on_clean: only accept or tag make sense for a clean client");
	cf->action.on_clean = (enum pm_action)v;
	/* must stay well under the MTA's command timeout (Sendmail R=10s by
	 * default in INPUT_MAIL_FILTER examples, Postfix 30s) */
	get_num(c, g, "pending_wait", &cf->action.pending_wait, 0, 25);
	if ((h = get_str(c, g, "header", &cf->action.header)) != NULL && !header_name_ok(h))
		fail_at(c, config_setting_get_member(g, "header"),
		    "header: \"%s\" is not a valid header name", h);
	check_reply(c, g, "reject_reply", '5');
	get_str(c, g, "reject_reply", &cf->action.reject_reply);
	check_reply(c, g, "tempfail_reply", '4');
	get_str(c, g, "tempfail_reply", &cf->action.tempfail_reply);
	if (c->failed)
		return;
	if (cf->action.on_pending == ACT_REJECT)
		fail_at(c, config_setting_get_member(g, "on_pending"),
		    "on_pending: reject would turn an unknown into a permanent failure; "
		    "use tempfail, tag or accept");
	else if (cf->action.on_error == ACT_REJECT)
		fail_at(c, config_setting_get_member(g, "on_error"),
		    "on_error: reject would turn an unknown into a permanent failure; "
		    "use tempfail, tag or accept");
}

#define CONFIG_MAX_BYTES (1024 * 1024)

/* open, check and parse the file: a regular file of at most 1 MiB */
static int
read_config_file(config_t *lc, const char *file, char *err, size_t errlen)
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

struct pm_config *
config_load(const char *file, char *err, size_t errlen)
{
	struct pm_config *cf = config_defaults();
	struct ctx c = { file ? file : "(built-in defaults)", err, errlen, 0 };
	config_t lc;
	config_setting_t *root, *g, *pg = NULL;
	int v;
	const char *s;

	cf->file = xstrdup(c.file);
	if (file == NULL) {
		resolve_canary(&c, cf, NULL);
		return cf;
	}
	if (read_config_file(&lc, file, err, errlen) < 0) {
		config_unref(cf);
		return NULL;
	}
	root = config_root_setting(&lc);
	check_known(&c, root, top_keys, "");
	if (get_str(&c, root, "socket", &cf->socket) != NULL) {
		char why[128];
		if (!config_socket_ok(cf->socket, why, sizeof(why)))
			fail_at(&c, config_setting_get_member(root, "socket"),
			    "socket: \"%s\": %s", cf->socket, why);
	}
	if ((s = get_str(&c, root, "socket_mode", NULL)) != NULL) {
		char *end;
		long m = strtol(s, &end, 8);
		if (*s == '\0' || *end != '\0' || m < 0 || m > 0777 || strlen(s) > 4)
			fail_at(&c, config_setting_get_member(root, "socket_mode"),
			    "socket_mode: \"%s\" is not an octal mode such as \"0660\"", s);
		else if ((m & 0600) != 0600)
			fail_at(&c, config_setting_get_member(root, "socket_mode"),
			    "socket_mode: %s would lock proxymilter out of its own socket "
			    "(the owner needs rw)", s);
		else
			cf->socket_mode = (int)m;
	}
	if ((s = get_str(&c, root, "socket_group", &cf->socket_group)) != NULL &&
	    *s != '\0' && getgrnam(s) == NULL)
		fail_at(&c, config_setting_get_member(root, "socket_group"),
		    "socket_group: there is no group \"%s\" (the MTA's group, e.g. postfix)", s);
	get_str(&c, root, "user", &cf->user);
	get_str(&c, root, "pid_file", &cf->pid_file);
	if ((s = get_str(&c, root, "syslog_facility", NULL)) != NULL &&
	    (cf->syslog_facility = log_facility_from_name(s)) < 0)
		fail_at(&c, config_setting_get_member(root, "syslog_facility"),
		    "syslog_facility: unknown facility \"%s\" (mail, daemon, user, local0..local7)", s);
	if ((s = get_str(&c, root, "log_level", NULL)) != NULL &&
	    (cf->log_level = log_level_from_name(s)) < 0)
		fail_at(&c, config_setting_get_member(root, "log_level"),
		    "log_level: unknown level \"%s\" (debug, info, notice, warning, err)", s);
	get_bool(&c, root, "log_stderr", &cf->log_stderr);
	v = (int)cf->mode;
	get_enum(&c, root, "mode", (const char *const[]){ "enforce", "observe" }, 2, &v);
	cf->mode = (enum pm_mode)v;
	if (config_setting_get_member(root, "allow") != NULL) {
		cidr_list_free(&cf->allow);
		get_list(&c, root, "allow", add_cidr, &cf->allow, NULL);
	}
	get_bool(&c, root, "skip_authenticated", &cf->skip_authenticated);
	get_list(&c, root, "skip_daemon_names", check_nonempty, NULL, &cf->skip_daemon_names);
	get_list(&c, root, "exempt_recipients", check_nonempty, NULL, &cf->exempt_recipients);
	if ((g = group(&c, root, "probe")) != NULL && !c.failed) {
		pg = g;
		load_probe(&c, cf, g);
	}
	resolve_canary(&c, cf, pg);
	if ((g = group(&c, root, "verdict")) != NULL && !c.failed) {
		check_known(&c, g, verdict_keys, "verdict.");
		get_long(&c, g, "open_ttl", &cf->verdict.open_ttl, 0, 365L * 86400);
		get_long(&c, g, "clean_ttl", &cf->verdict.clean_ttl, 0, 365L * 86400);
		get_long(&c, g, "error_ttl", &cf->verdict.error_ttl, 0, 365L * 86400);
		get_long(&c, g, "max_entries", &cf->verdict.max_entries, 16, 100000000L);
	}
	if ((g = group(&c, root, "action")) != NULL && !c.failed)
		load_action(&c, cf, g);
	config_destroy(&lc);
	if (c.failed) {
		config_unref(cf);
		return NULL;
	}
	return cf;
}

struct pm_config *
config_ref(struct pm_config *cf)
{
	__atomic_add_fetch(&cf->refs, 1, __ATOMIC_ACQ_REL);
	return cf;
}

void
config_unref(struct pm_config *cf)
{
	if (cf == NULL || __atomic_sub_fetch(&cf->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	free(cf->file);
	free(cf->socket);
	free(cf->socket_group);
	free(cf->user);
	free(cf->pid_file);
	cidr_list_free(&cf->allow);
	strlist_free(&cf->skip_daemon_names);
	strlist_free(&cf->exempt_recipients);
	strlist_free(&cf->probe.scan);
	free(cf->probe.tests);
	free(cf->probe.tags);
	strlist_free(&cf->probe.tag_specs);
	free(cf->probe.target);
	free(cf->probe.canary_listen_text);
	free(cf->probe.canary_address_text);
	free(cf->probe.mta_address);
	free(cf->probe.banner);
	cidr_list_free(&cf->probe.allow_private);
	free(cf->probe.resolver);
	free(cf->action.header);
	free(cf->action.reject_reply);
	free(cf->action.tempfail_reply);
	free(cf);
}

static pthread_mutex_t cur_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pm_config *cur;

struct pm_config *
config_current(void)
{
	struct pm_config *cf;
	pthread_mutex_lock(&cur_mu);
	cf = cur != NULL ? config_ref(cur) : NULL;
	pthread_mutex_unlock(&cur_mu);
	return cf;
}

void
config_install(struct pm_config *cf)
{
	struct pm_config *old;
	pthread_mutex_lock(&cur_mu);
	old = cur;
	cur = cf;
	pthread_mutex_unlock(&cur_mu);
	config_unref(old);
}
