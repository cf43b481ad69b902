/*
 * config.c - the milter's configuration: the defaults, what every key of
 * the file means (the groups probe, probe.tags, verdict and action), the
 * canary and target addresses, and the life of a loaded config (immutable,
 * refcounted, one current).  Reading the file and its settings, with the
 * type and range checks, is confget.c's.
 *
 * Every key is checked for type and range; unknown keys are errors (a typo
 * must not silently become a default).  Errors read "file:line: message".
 *
 * Nothing aborts on out-of-memory: every allocation failure goes back to the
 * caller, who turns it into the safe outcome.  Loading a config, that is a
 * load error ("out of memory"): start-up fails with the message, a reload
 * (SIGUSR1) keeps the old config.
 */
#include "config.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <libconfig.h>
#include "pmconfig.h"
#include "confget.h"
#include "confrep.h"
#include "conffleet.h"
#include "log.h"

static const char *const stage_names[] = { "connect", "helo", "mail", "rcpt", "eom" };
static const char *const action_names[] = { "accept", "reject", "tempfail", "tag" };

const char *stage_name(enum pm_stage s) { return stage_names[s]; }
const char *action_name(enum pm_action a) { return action_names[a]; }

/* ---- defaults ------------------------------------------------------------- */

static const char *const default_scan[] = { "basic" };

/* NULL when there is no memory for them */
static struct pm_config *
config_defaults(struct cg_ctx *c)
{
	struct pm_config *cf = calloc(1, sizeof(*cf));
	char err[160];

	if (cf == NULL) {
		cg_oom(c);
		return NULL;
	}
	cf->refs = 1;
	cf->file = cg_strdup(c, c->file);
	cf->socket = cg_strdup(c, "inet:8890@127.0.0.1");
	cf->user = cg_strdup(c, "proxymilter");
	cf->pid_file = cg_strdup(c, "/run/proxymilter/proxymilter.pid");
	cf->socket_mode = 0660;
	cf->socket_group = cg_strdup(c, "");
	cf->syslog_facility = LOG_MAIL;
	cf->log_level = LOG_INFO;
	cf->mode = MODE_ENFORCE;
	if (cidr_list_add(&cf->allow, "127.0.0.0/8", err, sizeof(err)) < 0 ||
	    cidr_list_add(&cf->allow, "::1/128", err, sizeof(err)) < 0)
		cg_fail(c, NULL, "%s", err);
	cf->skip_authenticated = true;
	cg_strlist_add(c, &cf->skip_daemon_names, "ORIGINATING");
	cg_strlist_add(c, &cf->exempt_recipients, "postmaster@");
	cg_strlist_add(c, &cf->exempt_recipients, "abuse@");
	for (size_t i = 0; i < sizeof(default_scan) / sizeof(default_scan[0]); i++) {
		cg_strlist_add(c, &cf->probe.scan, default_scan[i]);
		if (pe_scan_parse(default_scan[i], NULL, &cf->probe.tests, &cf->probe.ntests,
		    err, sizeof(err)) < 0)
			cg_fail(c, NULL, "%s", err);
	}
	cf->probe.target = cg_strdup(c, "canary");
	cf->probe.canary_listen_text = cg_strdup(c, "127.0.0.1:2526");
	cf->probe.target_kind = PE_TARGET_CANARY;
	cf->probe.canary_address_text = cg_strdup(c, "");
	cf->probe.mta_address = cg_strdup(c, "");
	cf->probe.banner = cg_strdup(c, "220 ");
	cf->probe.timing.connect_timeout = 5.0;
	cf->probe.timing.timeout = 15.0;
	cf->probe.timing.retries = 1;
	cf->probe.max_inflight = 1024;
	cf->probe.max_per_client = 32;
	cf->probe.max_queue = 4096;
	cf->probe.max_queue_wait = 30.0;
	cf->probe.rate_limit = 60;
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
	cf->action.header = cg_strdup(c, "X-Proxy-Check");
	cf->action.reject_reply = cg_strdup(c, "550 5.7.1 Client host [%a] %c (%p)");
	cf->action.tempfail_reply = cg_strdup(c, "451 4.7.1 Client host [%a] is being checked, try again later");
	confrep_defaults(c, cf);
	conffleet_defaults(c, cf);
	if (c->failed) {
		config_unref(cf);
		return NULL;
	}
	return cf;
}

/* ---- the groups ----------------------------------------------------------- */

static const char *const top_keys[] = {
	"socket", "socket_mode", "socket_group", "user", "pid_file", "syslog_facility", "log_level", "log_stderr",
	"mode", "allow", "skip_authenticated", "skip_daemon_names",
	"exempt_recipients", "probe", "verdict", "action", "dns", "geoip", "score", "connect_back",
	"selftest", "fleet", "state", "export", "metrics", "control", NULL
};
static const char *const probe_keys[] = {
	"scan", "tags", "target", "canary_listen", "canary_address", "mta_address",
	"banner", "connect_timeout", "timeout", "retries", "max_inflight",
	"max_per_client", "max_queue", "max_queue_wait", "rate_limit", "allow_private", NULL
};
static const char *const verdict_keys[] = {
	"open_ttl", "clean_ttl", "error_ttl", "max_entries", NULL
};
static const char *const action_keys[] = {
	"stage", "on_open", "on_relay", "on_listed", "on_suspect", "on_pending",
	"on_error", "on_clean", "pending_wait",
	"header", "reject_reply", "tempfail_reply", NULL
};

#define MAX_MILTER_TESTS 1024	/* per client; the CLI has no such cap */

static void
add_scan(struct cg_ctx *c, const config_setting_t *e, const char *v, void *arg)
{
	struct pm_config *cf = arg;
	char err[160];
	if (pe_scan_parse(v, cf->probe.tags, &cf->probe.tests, &cf->probe.ntests, err,
	    sizeof(err)) < 0)
		cg_fail(c, e, "probe.scan: %s", err);
	else if (cf->probe.ntests > MAX_MILTER_TESTS)
		cg_fail(c, e, "probe.scan: %zu tests per client is too many (at most %d)",
		    cf->probe.ntests, MAX_MILTER_TESTS);
}

/* probe.tags = { name = [ "port_spec", ... ]; ... } */
static void
load_tags(struct cg_ctx *c, struct pm_config *cf, config_setting_t *g)
{
	int n = config_setting_length(g);
	size_t total = 0, k = 0;
	char **strs, err[160];

	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		cg_fail(c, g, "tags: expected a group { name = [ \"port_spec\", ... ]; }");
		return;
	}
	/* first pass: check the names and the lists, count the strings */
	for (int i = 0; i < n && !c->failed; i++) {
		config_setting_t *t = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(t);
		if (!cg_tag_name_ok(name)) {
			cg_fail(c, t, "tags: \"%s\" is not a usable tag name (letters, digits, - and _; "
			    "not basic, full, socks or all)", name);
			return;
		}
		cg_get_list(c, g, name, cg_nonempty, NULL, NULL);
		total += (size_t)config_setting_length(t) + 2;
	}
	if (c->failed)
		return;
	/* second pass: the strings, in one NULL-separated list that owns them */
	if ((strs = calloc(total + 1, sizeof(char *))) == NULL) {
		cg_oom(c);
		return;
	}
	cf->probe.tag_specs.v = strs;
	cf->probe.tag_specs.n = total;
	if ((cf->probe.tags = calloc((size_t)n + 1, sizeof(struct pe_tag))) == NULL) {
		cg_oom(c);
		return;
	}
	for (int i = 0; i < n && !c->failed; i++) {
		config_setting_t *t = config_setting_get_elem(g, (unsigned)i);
		cf->probe.tags[i].name = strs[k++] = cg_strdup(c, config_setting_name(t));
		cf->probe.tags[i].specs = (const char *const *)&strs[k];
		for (int j = 0; j < config_setting_length(t); j++)
			strs[k++] = cg_strdup(c,
			    config_setting_get_string(config_setting_get_elem(t, (unsigned)j)));
		strs[k++] = NULL;
	}
	/* every tag must expand */
	for (int i = 0; i < n && !c->failed; i++) {
		struct pe_test *tt = NULL;
		size_t nt = 0;
		if (pe_scan_parse(cf->probe.tags[i].name, cf->probe.tags, &tt, &nt, err, sizeof(err)) < 0)
			cg_fail(c, config_setting_get_elem(g, (unsigned)i), "tags: %s: %s",
			    cf->probe.tags[i].name, err);
		free(tt);
	}
}

static void
load_probe(struct cg_ctx *c, struct pm_config *cf, config_setting_t *g)
{
	config_setting_t *s;

	if (config_setting_get_member(g, "resolver") != NULL) {
		cg_fail(c, config_setting_get_member(g, "resolver"),
		    "probe.resolver is now dns.resolver (it is what the DNS checks use)");
		return;
	}
	cg_check_known(c, g, probe_keys, "probe.");
	s = config_setting_get_member(g, "tags");
	if (s != NULL && !c->failed)
		load_tags(c, cf, s);
	if (config_setting_get_member(g, "scan") != NULL) {
		free(cf->probe.tests);
		cf->probe.tests = NULL;
		cf->probe.ntests = 0;
		cg_get_list(c, g, "scan", add_scan, cf, &cf->probe.scan);
	}
	cg_get_str(c, g, "target", &cf->probe.target);
	cg_get_str(c, g, "canary_listen", &cf->probe.canary_listen_text);
	cg_get_str(c, g, "canary_address", &cf->probe.canary_address_text);
	cg_get_str(c, g, "mta_address", &cf->probe.mta_address);
	if (cg_get_str(c, g, "banner", &cf->probe.banner) != NULL && strlen(cf->probe.banner) > 60)
		cg_fail(c, config_setting_get_member(g, "banner"), "banner: at most 60 characters");
	cg_get_num(c, g, "connect_timeout", &cf->probe.timing.connect_timeout, 0.1, 60);
	cg_get_num(c, g, "timeout", &cf->probe.timing.timeout, 0.2, 300);
	cg_get_int(c, g, "retries", &cf->probe.timing.retries, 0, 5);
	cg_get_int(c, g, "max_inflight", &cf->probe.max_inflight, 1, 65536);
	cg_get_int(c, g, "max_per_client", &cf->probe.max_per_client, 1, 256);
	cg_get_int(c, g, "max_queue", &cf->probe.max_queue, 1, 1000000);
	cg_get_num(c, g, "max_queue_wait", &cf->probe.max_queue_wait, 0, 3600);
	cg_get_int(c, g, "rate_limit", &cf->probe.rate_limit, 0, 100000);
	cg_get_list(c, g, "allow_private", cg_add_cidr, &cf->probe.allow_private, NULL);
	if (c->failed)
		return;
	if (cf->probe.timing.timeout < cf->probe.timing.connect_timeout)
		cg_fail(c, config_setting_get_member(g, "timeout"),
		    "timeout (%g) must not be shorter than connect_timeout (%g)",
		    cf->probe.timing.timeout, cf->probe.timing.connect_timeout);
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
resolve_canary(struct cg_ctx *c, struct pm_config *cf, config_setting_t *g)
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
			cg_fail(c, m != NULL ? m : s,
			    "target \"mta\" needs probe.mta_address: the numeric HOST:PORT of this "
			    "MTA's smtpd as proxies reach it");
		}
		return;
	}
	if (strcmp(cf->probe.target, "canary") != 0) {
		cf->probe.target_kind = PE_TARGET_BANNER;
		if (pe_parse_hostport(cf->probe.target, &cf->probe.target_addr,
		    &cf->probe.target_addr_len) < 0 || is_wildcard(&cf->probe.target_addr)) {
			cg_fail(c, s, "target: \"%s\" is not canary, mta or a numeric HOST:PORT",
			    cf->probe.target);
			return;
		}
		if (cf->probe.banner[0] == '\0')
			cg_fail(c, g ? config_setting_get_member(g, "banner") : NULL,
			    "banner: must not be empty with target HOST:PORT");
		return;
	}
	s = g ? config_setting_get_member(g, "canary_listen") : NULL;
	if (pe_parse_hostport(cf->probe.canary_listen_text, &cf->probe.canary_listen,
	    &cf->probe.canary_listen_len) < 0) {
		cg_fail(c, s, "canary_listen: \"%s\" is not a numeric HOST:PORT ([v6]:PORT for IPv6)",
		    cf->probe.canary_listen_text);
		return;
	}
	if (cf->probe.canary_address_text[0] == '\0') {
		if (is_wildcard(&cf->probe.canary_listen)) {
			cg_fail(c, s, "canary_listen is a wildcard address: set probe.canary_address "
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
		cg_fail(c, s, "canary_address: \"%s\" is not a numeric, non-wildcard HOST:PORT",
		    cf->probe.canary_address_text);
}

static void
get_action(struct cg_ctx *c, const config_setting_t *g, const char *name,
    enum pm_action *dst)
{
	int v = (int)*dst;

	cg_get_enum(c, g, name, action_names, 4, &v);
	*dst = (enum pm_action)v;
}

static void
load_action(struct cg_ctx *c, struct pm_config *cf, config_setting_t *g)
{
	int v;
	const char *h;

	cg_check_known(c, g, action_keys, "action.");
	v = (int)cf->action.stage;
	cg_get_enum(c, g, "stage", stage_names, 5, &v);
	cf->action.stage = (enum pm_stage)v;
	get_action(c, g, "on_open", &cf->action.on_open);
	get_action(c, g, "on_relay", &cf->action.on_relay);
	get_action(c, g, "on_listed", &cf->action.on_listed);
	get_action(c, g, "on_suspect", &cf->action.on_suspect);
	get_action(c, g, "on_pending", &cf->action.on_pending);
	get_action(c, g, "on_error", &cf->action.on_error);
	get_action(c, g, "on_clean", &cf->action.on_clean);
	if (!c->failed && cf->action.on_clean != ACT_ACCEPT && cf->action.on_clean != ACT_TAG)
		cg_fail(c, config_setting_get_member(g, "on_clean"),
		    "on_clean: only accept or tag make sense for a clean client");
	/* must stay well under the MTA's command timeout (Sendmail R=10s by
	 * default in INPUT_MAIL_FILTER examples, Postfix 30s) */
	cg_get_num(c, g, "pending_wait", &cf->action.pending_wait, 0, 25);
	if ((h = cg_get_str(c, g, "header", &cf->action.header)) != NULL && !cg_header_ok(h))
		cg_fail(c, config_setting_get_member(g, "header"),
		    "header: \"%s\" is not a valid header name", h);
	cg_check_reply(c, g, "reject_reply", '5');
	cg_get_str(c, g, "reject_reply", &cf->action.reject_reply);
	cg_check_reply(c, g, "tempfail_reply", '4');
	cg_get_str(c, g, "tempfail_reply", &cf->action.tempfail_reply);
	if (c->failed)
		return;
	if (cf->action.on_pending == ACT_REJECT)
		cg_fail(c, config_setting_get_member(g, "on_pending"),
		    "on_pending: reject would turn an unknown into a permanent failure; "
		    "use tempfail, tag or accept");
	else if (cf->action.on_error == ACT_REJECT)
		cg_fail(c, config_setting_get_member(g, "on_error"),
		    "on_error: reject would turn an unknown into a permanent failure; "
		    "use tempfail, tag or accept");
}

/* ---- loading and the config in force -------------------------------------- */

/* the file's keys over the defaults */
static void
load_root(struct cg_ctx *c, struct pm_config *cf, config_setting_t *root)
{
	config_setting_t *g, *pg = NULL;
	int v;
	const char *s;

	cg_check_known(c, root, top_keys, "");
	if (cg_get_str(c, root, "socket", &cf->socket) != NULL) {
		char why[128];
		if (!config_socket_ok(cf->socket, why, sizeof(why)))
			cg_fail(c, config_setting_get_member(root, "socket"),
			    "socket: \"%s\": %s", cf->socket, why);
	}
	if ((s = cg_get_str(c, root, "socket_mode", NULL)) != NULL) {
		char *end;
		long m = strtol(s, &end, 8);
		if (*s == '\0' || *end != '\0' || m < 0 || m > 0777 || strlen(s) > 4)
			cg_fail(c, config_setting_get_member(root, "socket_mode"),
			    "socket_mode: \"%s\" is not an octal mode such as \"0660\"", s);
		else if ((m & 0600) != 0600)
			cg_fail(c, config_setting_get_member(root, "socket_mode"),
			    "socket_mode: %s would lock proxymilter out of its own socket "
			    "(the owner needs rw)", s);
		else
			cf->socket_mode = (int)m;
	}
	if ((s = cg_get_str(c, root, "socket_group", &cf->socket_group)) != NULL &&
	    *s != '\0' && getgrnam(s) == NULL)
		cg_fail(c, config_setting_get_member(root, "socket_group"),
		    "socket_group: there is no group \"%s\" (the MTA's group, e.g. postfix)", s);
	cg_get_str(c, root, "user", &cf->user);
	cg_get_str(c, root, "pid_file", &cf->pid_file);
	if ((s = cg_get_str(c, root, "syslog_facility", NULL)) != NULL &&
	    (cf->syslog_facility = log_facility_from_name(s)) < 0)
		cg_fail(c, config_setting_get_member(root, "syslog_facility"),
		    "syslog_facility: unknown facility \"%s\" (mail, daemon, user, local0..local7)", s);
	if ((s = cg_get_str(c, root, "log_level", NULL)) != NULL &&
	    (cf->log_level = log_level_from_name(s)) < 0)
		cg_fail(c, config_setting_get_member(root, "log_level"),
		    "log_level: unknown level \"%s\" (debug, info, notice, warning, err)", s);
	cg_get_bool(c, root, "log_stderr", &cf->log_stderr);
	v = (int)cf->mode;
	cg_get_enum(c, root, "mode", (const char *const[]){ "enforce", "observe" }, 2, &v);
	cf->mode = (enum pm_mode)v;
	if (config_setting_get_member(root, "allow") != NULL) {
		cidr_list_free(&cf->allow);
		cg_get_list(c, root, "allow", cg_add_cidr, &cf->allow, NULL);
	}
	cg_get_bool(c, root, "skip_authenticated", &cf->skip_authenticated);
	cg_get_list(c, root, "skip_daemon_names", cg_nonempty, NULL, &cf->skip_daemon_names);
	cg_get_list(c, root, "exempt_recipients", cg_nonempty, NULL, &cf->exempt_recipients);
	if ((g = cg_group(c, root, "probe")) != NULL && !c->failed) {
		pg = g;
		load_probe(c, cf, g);
	}
	resolve_canary(c, cf, pg);
	if ((g = cg_group(c, root, "verdict")) != NULL && !c->failed) {
		cg_check_known(c, g, verdict_keys, "verdict.");
		cg_get_long(c, g, "open_ttl", &cf->verdict.open_ttl, 0, 365L * 86400);
		cg_get_long(c, g, "clean_ttl", &cf->verdict.clean_ttl, 0, 365L * 86400);
		cg_get_long(c, g, "error_ttl", &cf->verdict.error_ttl, 0, 365L * 86400);
		cg_get_long(c, g, "max_entries", &cf->verdict.max_entries, 16, 100000000L);
	}
	if ((g = cg_group(c, root, "action")) != NULL && !c->failed)
		load_action(c, cf, g);
	if (!c->failed)
		confrep_load(c, cf, root);
	if (!c->failed)
		conffleet_load(c, cf, root);
}

struct pm_config *
config_load(const char *file, char *err, size_t errlen)
{
	struct cg_ctx c = { file ? file : "(built-in defaults)", err, errlen, 0 };
	struct pm_config *cf;
	config_t lc;

	if ((cf = config_defaults(&c)) == NULL)
		return NULL;
	if (file != NULL) {
		if (cg_read_file(&lc, file, err, errlen) < 0) {
			config_unref(cf);
			return NULL;
		}
		load_root(&c, cf, config_root_setting(&lc));
		confrep_finish(&c, cf, config_root_setting(&lc));
		config_destroy(&lc);
	} else {
		resolve_canary(&c, cf, NULL);
		confrep_finish(&c, cf, NULL);
	}
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
	cg_strlist_free(&cf->skip_daemon_names);
	cg_strlist_free(&cf->exempt_recipients);
	cg_strlist_free(&cf->probe.scan);
	free(cf->probe.tests);
	free(cf->probe.tags);
	cg_strlist_free(&cf->probe.tag_specs);
	free(cf->probe.target);
	free(cf->probe.canary_listen_text);
	free(cf->probe.canary_address_text);
	free(cf->probe.mta_address);
	free(cf->probe.banner);
	cidr_list_free(&cf->probe.allow_private);
	confrep_free(cf);
	conffleet_free(cf);
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
