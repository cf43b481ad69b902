/*
 * confrep.c - the reputation groups of the config (design section 7):
 * dns, geoip and score, and what they add to every probe set: the checks
 * (dnsbl, fcrdns, geoip) and the settings their kinds read (pe_checks).
 * The GeoIP database is opened here, so that a missing or corrupt file is
 * a load error: at start, and on reload, where the old config (and its
 * database) stays in force.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include "pmconfig.h"
#include "confget.h"
#include "confrep.h"

static const char *const dns_keys[] = {
	"resolver", "timeout", "dnsbl_sites", "dnsbl_threshold", "dnsbl_reply_map", "fcrdns",
	"guess_domain", NULL
};
static const char *const geoip_keys[] = { "database", NULL };
static const char *const score_keys[] = {
	"fcrdns_fail", "fcrdns_none", "helo_mismatch", "banner_mismatch", "netbios",
	"backscatter", "suspect_threshold", NULL
};
static const char *const selftest_keys[] = {
	"address", "on_fail", "interval", "uniformity", "uniformity_window", NULL
};
static const char *const cb_keys[] = {
	"enable", "port", "timeout", "helo_name", "relay_test", "relay_address", "backscatter_test",
	NULL
};

void
confrep_defaults(struct cg_ctx *c, struct pm_config *cf)
{
	cf->dns.resolver = cg_strdup(c, "");
	cf->dns.timeout = 3.0;
	cf->dns.fcrdns = true;
	cf->dns.guess_domain = true;
	cf->geoip.database = cg_strdup(c, "");
	cf->score.helo_mismatch = 1;
	cf->checks.w_fcrdns_fail = 1;
	cf->checks.w_fcrdns_none = 0;
	cf->checks.w_netbios = 2;
	cf->checks.guess_domain = 1;
	cf->checks.rules.dnsbl_threshold = 1;
	cf->checks.rules.suspect_threshold = 3;
	cf->checks.w_banner_mismatch = 1;
	cf->checks.w_backscatter = 2;
	cf->selftest.address = cg_strdup(c, "192.0.2.1");
	pm_addr_parse("192.0.2.1", &cf->selftest.addr);
	cf->selftest.interval = 3600;
	cf->selftest.uniformity = 8;
	cf->selftest.window = 600;
	cf->connect_back.port = 25;
	cf->connect_back.timeout = 10.0;
	cf->checks.cb_timeout = 10.0;
	cf->connect_back.helo_name = cg_strdup(c, "");
	cf->connect_back.relay_test = cg_strdup(c, "none");
	cf->connect_back.relay_address = cg_strdup(c, "");
}

/* connect_back: relay_test and relay_address go together; the address
 * must be ours (the probe's RCPT is local+NONCE@domain) */
static const char *const relay_tests[] = { "none", "rcpt", "confirm" };
static void
load_connect_back(struct cg_ctx *c, struct pm_config *cf, config_setting_t *g)
{
	const char *ra, *at;
	int v = 0;

	cg_check_known(c, g, cb_keys, "connect_back.");
	cg_get_bool(c, g, "enable", &cf->connect_back.enable);
	cg_get_int(c, g, "port", &cf->connect_back.port, 1, 65535);
	cg_get_num(c, g, "timeout", &cf->connect_back.timeout, 1.0, 120);
	cf->checks.cb_timeout = cf->connect_back.timeout;
	cg_get_str(c, g, "helo_name", &cf->connect_back.helo_name);
	cg_get_enum(c, g, "relay_test", relay_tests, 3, &v);
	free(cf->connect_back.relay_test);
	cf->connect_back.relay_test = cg_strdup(c, relay_tests[v]);
	cf->checks.cb_relay = v == 2 ? PE_RELAY_CONFIRM : v == 1 ? PE_RELAY_RCPT : PE_RELAY_NONE;
	cg_get_str(c, g, "relay_address", &cf->connect_back.relay_address);
	cg_get_bool(c, g, "backscatter_test", &cf->connect_back.backscatter_test);
	cf->checks.cb_backscatter = cf->connect_back.backscatter_test;
	if (c->failed)
		return;
	if (cf->connect_back.helo_name[0] != '\0' &&
	    (strlen(cf->connect_back.helo_name) > 200 ||
	    strspn(cf->connect_back.helo_name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != strlen(cf->connect_back.helo_name)))
		cg_fail(c, config_setting_get_member(g, "helo_name"),
		    "helo_name: \"%s\" is not a host name", cf->connect_back.helo_name);
	ra = cf->connect_back.relay_address;
	at = strrchr(ra, '@');
	for (const char *p = ra; *p != '\0'; p++)
		if (!isgraph((unsigned char)*p))
			at = NULL;	/* no space, no control byte: it goes into SMTP commands */
	if ((v > 0 || cf->connect_back.backscatter_test) && (at == NULL || at == ra ||
	    at[1] == '\0' || strpbrk(ra, " <>\"\\,;+") != NULL || strlen(ra) > 200))
		cg_fail(c, config_setting_get_member(g, ra[0] == '\0' ? (v > 0 ? "relay_test" :
		    "backscatter_test") : "relay_address"), "relay_test and backscatter_test need "
		    "relay_address: a mailbox of this MTA, local@domain without '+' (the probes "
		    "use local+NONCE@domain)");
	if (c->failed || at == NULL)
		return;
	cf->connect_back.local = strndup(ra, (size_t)(at - ra));
	cf->connect_back.domain = cg_strdup(c, at + 1);
	if (cf->connect_back.local == NULL)
		cg_oom(c);
	cf->checks.cb_sender = ra;
	cf->checks.cb_local = cf->connect_back.local;
	cf->checks.cb_domain = cf->connect_back.domain;
}

static void
add_site(struct cg_ctx *c, const config_setting_t *e, const char *v, void *arg)
{
	struct pm_config *cf = arg;
	struct pe_dnsbl_site *n;
	char err[256];

	if ((n = realloc(cf->checks.sites, (cf->checks.nsites + 1) * sizeof(*n))) == NULL) {
		cg_oom(c);
		return;
	}
	cf->checks.sites = n;
	if (pe_dnsbl_parse(v, &n[cf->checks.nsites], err, sizeof(err)) < 0)
		cg_fail(c, e, "dnsbl_sites: %s", err);
	else
		cf->checks.nsites++;
}

static void
check_map(struct cg_ctx *c, const config_setting_t *e, const char *v, void *arg)
{
	const char *eq = strchr(v, '=');

	(void)arg;
	if (eq == NULL || eq == v || eq[1] == '\0' || strlen(eq + 1) > 40) {
		cg_fail(c, e, "dnsbl_reply_map: \"%s\" is not DOMAIN=NAME (NAME: at most 40 "
		    "characters)", v);
		return;
	}
	for (const char *p = eq + 1; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_') {
			cg_fail(c, e, "dnsbl_reply_map: \"%s\": the name shown may have letters, "
			    "digits, '-', '.' and '_' only (it goes into headers)", v);
			return;
		}
}

static void
check_resolver(struct cg_ctx *c, const config_setting_t *g, const char *r)
{
	struct pm_addr a;
	struct sockaddr_storage ss;
	socklen_t sl;

	if (r[0] != '\0' && pm_addr_parse(r, &a) < 0 && pe_parse_hostport(r, &ss, &sl) < 0)
		cg_fail(c, config_setting_get_member(g, "resolver"),
		    "resolver: \"%s\" is not a numeric ADDR, ADDR:PORT or [V6]:PORT", r);
}

void
confrep_load(struct cg_ctx *c, struct pm_config *cf, config_setting_t *root)
{
	config_setting_t *g;

	if ((g = cg_group(c, root, "dns")) != NULL && !c->failed) {
		cg_check_known(c, g, dns_keys, "dns.");
		if (cg_get_str(c, g, "resolver", &cf->dns.resolver) != NULL)
			check_resolver(c, g, cf->dns.resolver);
		cg_get_num(c, g, "timeout", &cf->dns.timeout, 0.1, 60);
		cg_get_list(c, g, "dnsbl_sites", add_site, cf, &cf->dns.dnsbl_sites);
		cg_get_int(c, g, "dnsbl_threshold", &cf->checks.rules.dnsbl_threshold, 1, 100000);
		cg_get_list(c, g, "dnsbl_reply_map", check_map, NULL, &cf->dns.dnsbl_reply_map);
		cg_get_bool(c, g, "fcrdns", &cf->dns.fcrdns);
		cg_get_bool(c, g, "guess_domain", &cf->dns.guess_domain);
		cf->checks.guess_domain = cf->dns.guess_domain;
	}
	if ((g = cg_group(c, root, "geoip")) != NULL && !c->failed) {
		cg_check_known(c, g, geoip_keys, "geoip.");
		cg_get_str(c, g, "database", &cf->geoip.database);
		if (!c->failed && cf->geoip.database[0] != '\0') {
			char err[400];
			if ((cf->checks.geoip = pe_geoip_open(cf->geoip.database, err,
			    sizeof(err))) == NULL)
				cg_fail(c, config_setting_get_member(g, "database"),
				    "geoip.database: %s", err);
		}
	}
	if ((g = cg_group(c, root, "connect_back")) != NULL && !c->failed)
		load_connect_back(c, cf, g);
	if ((g = cg_group(c, root, "selftest")) != NULL && !c->failed) {
		int v = 0;
		cg_check_known(c, g, selftest_keys, "selftest.");
		if (cg_get_str(c, g, "address", &cf->selftest.address) != NULL &&
		    cf->selftest.address[0] != '\0' &&
		    pm_addr_parse(cf->selftest.address, &cf->selftest.addr) < 0)
			cg_fail(c, config_setting_get_member(g, "address"),
			    "address: \"%s\" is not a numeric address (\"\" = no self-test)",
			    cf->selftest.address);
		cg_get_enum(c, g, "on_fail", (const char *const[]){ "observe", "stop" }, 2, &v);
		cf->selftest.stop = v == 1;
		cg_get_long(c, g, "interval", &cf->selftest.interval, 1, 86400);
		cg_get_int(c, g, "uniformity", &cf->selftest.uniformity, 0, 64);
		if (cf->selftest.uniformity == 1)
			cg_fail(c, config_setting_get_member(g, "uniformity"),
			    "uniformity: 0 (off) or at least 2 networks");
		cg_get_long(c, g, "uniformity_window", &cf->selftest.window, 10, 86400);
	}
	if ((g = cg_group(c, root, "score")) != NULL && !c->failed) {
		cg_check_known(c, g, score_keys, "score.");
		cg_get_int(c, g, "fcrdns_fail", &cf->checks.w_fcrdns_fail, -100, 100);
		cg_get_int(c, g, "fcrdns_none", &cf->checks.w_fcrdns_none, -100, 100);
		cg_get_int(c, g, "helo_mismatch", &cf->score.helo_mismatch, -100, 100);
		cg_get_int(c, g, "banner_mismatch", &cf->checks.w_banner_mismatch, -100, 100);
		cg_get_int(c, g, "netbios", &cf->checks.w_netbios, -100, 100);
		cg_get_int(c, g, "backscatter", &cf->checks.w_backscatter, -100, 100);
		cg_get_int(c, g, "suspect_threshold", &cf->checks.rules.suspect_threshold, 1, 100000);
	}
}

static void
add_check(struct cg_ctx *c, struct pm_config *cf, const char *kind, int port)
{
	struct pe_test *n = realloc(cf->probe.tests, (cf->probe.ntests + 1) * sizeof(*n));

	if (n == NULL) {
		cg_oom(c);
		return;
	}
	cf->probe.tests = n;
	n[cf->probe.ntests].kind = pe_kind_find(kind);
	n[cf->probe.ntests].port = (uint16_t)port;
	cf->probe.ntests++;
}

void
confrep_finish(struct cg_ctx *c, struct pm_config *cf, config_setting_t *root)
{
	config_setting_t *g;

	if (c->failed)
		return;
	if (cf->checks.nsites > 0)
		add_check(c, cf, "dnsbl", 0);
	if (cf->dns.fcrdns)
		add_check(c, cf, "fcrdns", 0);
	if (cf->checks.geoip != NULL)
		add_check(c, cf, "geoip", 0);
	if (cf->connect_back.enable)
		add_check(c, cf, "connect-back", cf->connect_back.port);
	cf->probe.timing.checks = &cf->checks;
	if (cf->probe.ntests == 0 && !c->failed) {
		g = root != NULL ? config_setting_get_member(root, "probe") : NULL;
		cg_fail(c, g != NULL ? config_setting_get_member(g, "scan") : NULL,
		    "probe.scan is empty and no DNS or GeoIP check is on: nothing would be checked");
	}
}

void
confrep_free(struct pm_config *cf)
{
	free(cf->dns.resolver);
	cg_strlist_free(&cf->dns.dnsbl_sites);
	cg_strlist_free(&cf->dns.dnsbl_reply_map);
	free(cf->geoip.database);
	free(cf->selftest.address);
	free(cf->connect_back.helo_name);
	free(cf->connect_back.relay_test);
	free(cf->connect_back.relay_address);
	free(cf->connect_back.local);
	free(cf->connect_back.domain);
	for (size_t i = 0; i < cf->checks.nsites; i++)
		pe_dnsbl_site_free(&cf->checks.sites[i]);
	free(cf->checks.sites);
	pe_geoip_close(cf->checks.geoip);
}

const char *
confrep_reply_name(const struct pm_config *cf, const char *domain, size_t len)
{
	for (size_t i = 0; i < cf->dns.dnsbl_reply_map.n; i++) {
		const char *m = cf->dns.dnsbl_reply_map.v[i], *eq = strchr(m, '=');
		if ((size_t)(eq - m) == len && strncasecmp(m, domain, len) == 0)
			return eq + 1;
	}
	return NULL;
}
