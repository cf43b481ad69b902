/*
 * conffleet.c - the fleet groups of the config (design section 9): where
 * verdicts are shared (fleet: Redis), kept (state), exported (export:
 * rbldnsd), counted (metrics: Prometheus) and looked into (control:
 * proxymilter-ctl).  Every one of them is off by default: "" everywhere.
 * All of them take effect at start only (main.c warns on a reload).
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/util.h>
#include "pmconfig.h"
#include "confget.h"
#include "conffleet.h"

static const char *const fleet_keys[] = {
	"redis", "key_prefix", "password", "database", "timeout", NULL
};
static const char *const state_keys[] = { "file", "save_interval", NULL };
static const char *const export_keys[] = { "rbldnsd_zone", "interval", NULL };
static const char *const metrics_keys[] = { "listen", NULL };
static const char *const control_keys[] = { "socket", NULL };

void
conffleet_defaults(struct cg_ctx *c, struct pm_config *cf)
{
	cf->fleet.redis = cg_strdup(c, "");
	cf->fleet.key_prefix = cg_strdup(c, "pm:");
	cf->fleet.password = cg_strdup(c, "");
	cf->fleet.database = 0;
	cf->fleet.timeout = 0.05;
	cf->state.file = cg_strdup(c, "");
	cf->state.save_interval = 300;
	cf->exp.rbldnsd_zone = cg_strdup(c, "");
	cf->exp.interval = 60;
	cf->metrics.listen = cg_strdup(c, "");
	cf->control.socket = cg_strdup(c, "");
}

/* "HOST:PORT", "[V6]:PORT" or "unix:/path" */
static void
check_redis(struct cg_ctx *c, const config_setting_t *g, const char *s)
{
	const config_setting_t *e = config_setting_get_member(g, "redis");
	const char *colon;
	char *end, host[64];
	long port;
	size_t n;
	struct pm_addr a;

	if (*s == '\0')
		return;
	if (strncmp(s, "unix:", 5) == 0) {
		if (s[5] != '/')
			cg_fail(c, e, "fleet.redis: \"%s\": a unix socket needs an absolute path "
			    "(unix:/run/redis/redis.sock)", s);
		return;
	}
	if ((colon = strrchr(s, ':')) == NULL || colon == s ||
	    (s[0] == '[' && colon[-1] != ']')) {
		cg_fail(c, e, "fleet.redis: \"%s\" is not HOST:PORT, [V6]:PORT or unix:/path", s);
		return;
	}
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535 || colon[1] == '\0') {
		cg_fail(c, e, "fleet.redis: \"%s\": bad port", s);
		return;
	}
	/* numeric: a name would be looked up at each reconnection, and the
	 * Redis thread must not wait on DNS */
	n = (size_t)(colon - s);
	if (s[0] == '[') {
		s++;
		n -= 2;
	}
	if (n >= sizeof(host) || (memcpy(host, s, n), host[n] = '\0', pm_addr_parse(host, &a) < 0))
		cg_fail(c, e, "fleet.redis: \"%.*s\" is not a numeric address (10.0.0.5:6379, "
		    "[2001:db8::5]:6379 or unix:/path)", (int)n, s);
}

/* "ADDR:PORT" or "[V6]:PORT", numeric: a metrics listener */
static void
check_listen(struct cg_ctx *c, const config_setting_t *g, const char *s)
{
	struct sockaddr_storage ss;
	int len = (int)sizeof(ss);
	const char *colon = strrchr(s, ':');

	if (*s == '\0')
		return;
	if (colon == NULL || colon[1] == '\0' || (s[0] != '[' && strchr(s, ':') != colon) ||
	    evutil_parse_sockaddr_port(s, (struct sockaddr *)&ss, &len) < 0 ||
	    pe_target_port((struct sockaddr *)&ss) == 0)
		cg_fail(c, config_setting_get_member(g, "listen"),
		    "metrics.listen: \"%s\" is not ADDR:PORT (127.0.0.1:9187 or [::1]:9187)", s);
}

/* a path we create files next to: absolute, and not a directory */
static void
check_path(struct cg_ctx *c, const config_setting_t *g, const char *key, const char *where,
    const char *s)
{
	if (*s == '\0')
		return;
	if (s[0] != '/' || s[strlen(s) - 1] == '/')
		cg_fail(c, config_setting_get_member(g, key),
		    "%s: \"%s\" must be an absolute file name", where, s);
	else if (strlen(s) > 100 && strcmp(where, "control.socket") == 0)
		cg_fail(c, config_setting_get_member(g, key),
		    "%s: \"%s\" is longer than a unix socket name may be", where, s);
}

void
conffleet_load(struct cg_ctx *c, struct pm_config *cf, config_setting_t *root)
{
	config_setting_t *g;
	const char *s;

	if ((g = cg_group(c, root, "fleet")) != NULL && !c->failed) {
		cg_check_known(c, g, fleet_keys, "fleet.");
		if ((s = cg_get_str(c, g, "redis", &cf->fleet.redis)) != NULL)
			check_redis(c, g, s);
		if ((s = cg_get_str(c, g, "key_prefix", &cf->fleet.key_prefix)) != NULL) {
			for (const char *p = s; *p != '\0' && !c->failed; p++)
				if (*p <= ' ' || *p >= 0x7f)
					cg_fail(c, config_setting_get_member(g, "key_prefix"),
					    "fleet.key_prefix: \"%s\": no spaces or control bytes", s);
			if (strlen(s) > 64)
				cg_fail(c, config_setting_get_member(g, "key_prefix"),
				    "fleet.key_prefix: longer than 64 bytes");
		}
		if ((s = cg_get_str(c, g, "password", &cf->fleet.password)) != NULL && strlen(s) > 512)
			cg_fail(c, config_setting_get_member(g, "password"),
			    "fleet.password: longer than 512 bytes");
		cg_get_int(c, g, "database", &cf->fleet.database, 0, 65535);
		cg_get_num(c, g, "timeout", &cf->fleet.timeout, 0.001, 5.0);
	}
	if ((g = cg_group(c, root, "state")) != NULL && !c->failed) {
		cg_check_known(c, g, state_keys, "state.");
		if ((s = cg_get_str(c, g, "file", &cf->state.file)) != NULL)
			check_path(c, g, "file", "state.file", s);
		cg_get_long(c, g, "save_interval", &cf->state.save_interval, 10, 86400);
	}
	if ((g = cg_group(c, root, "export")) != NULL && !c->failed) {
		cg_check_known(c, g, export_keys, "export.");
		if ((s = cg_get_str(c, g, "rbldnsd_zone", &cf->exp.rbldnsd_zone)) != NULL)
			check_path(c, g, "rbldnsd_zone", "export.rbldnsd_zone", s);
		cg_get_long(c, g, "interval", &cf->exp.interval, 1, 86400);
	}
	if ((g = cg_group(c, root, "metrics")) != NULL && !c->failed) {
		cg_check_known(c, g, metrics_keys, "metrics.");
		if ((s = cg_get_str(c, g, "listen", &cf->metrics.listen)) != NULL)
			check_listen(c, g, s);
	}
	if ((g = cg_group(c, root, "control")) != NULL && !c->failed) {
		cg_check_known(c, g, control_keys, "control.");
		if ((s = cg_get_str(c, g, "socket", &cf->control.socket)) != NULL)
			check_path(c, g, "socket", "control.socket", s);
	}
}

void
conffleet_free(struct pm_config *cf)
{
	free(cf->fleet.redis);
	free(cf->fleet.key_prefix);
	free(cf->fleet.password);
	free(cf->state.file);
	free(cf->exp.rbldnsd_zone);
	free(cf->metrics.listen);
	free(cf->control.socket);
}
