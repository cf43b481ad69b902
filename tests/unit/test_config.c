/* configuration: defaults, every key, errors with file:line */
#include "config.h"
#include <unistd.h>
#include "t.h"
#include "pmconfig.h"

static char path[64];

static struct pm_config *
load(const char *text, char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	return config_load(path, err, errlen);
}

/* expect an error at line `line` whose message contains `frag` */
static void
bad(const char *text, int line, const char *frag, const char *name)
{
	char err[600], want[96];
	struct pm_config *cf = load(text, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:%d: ", path, line);
	int ok = cf == NULL && strncmp(err, want, strlen(want)) == 0 && strstr(err, frag) != NULL;
	if (!ok)
		printf("  got: %s\n", err);
	T_OK(ok, name);
	config_unref(cf);
}

int
main(void)
{
	char err[600];
	struct pm_config *cf;

	t_prog = "config: ";
	snprintf(path, sizeof(path), "/tmp/pm-test-config-%ld.conf", (long)getpid());

	cf = config_load(NULL, err, sizeof(err));
	T_OK(cf != NULL, "built-in defaults load");
	T_STREQ(cf->socket, "inet:8890@127.0.0.1", "default socket");
	T_OK(cf->mode == MODE_ENFORCE && cf->action.stage == STAGE_RCPT, "default mode and stage");
	T_OK(cf->action.on_open == ACT_REJECT && cf->action.on_pending == ACT_TAG &&
	    cf->action.on_error == ACT_ACCEPT, "default actions");
	T_OK(cf->allow.n == 2, "default allow has 127/8 and ::1");
	T_OK(cf->probe.ntests >= 8, "default scan 'basic' expands");
	T_OK(cf->verdict.open_ttl == 86400 && cf->verdict.clean_ttl == 3600 &&
	    cf->verdict.error_ttl == 300, "default TTLs");
	config_unref(cf);

	cf = load(
	    "socket = \"unix:/run/pm.sock\";\n"
	    "user = \"\"; pid_file = \"\";\n"
	    "syslog_facility = \"local5\"; log_level = \"debug\"; log_stderr = true;\n"
	    "mode = \"observe\";\n"
	    "allow = [ \"192.0.2.0/24\", \"2001:db8::/32\" ];\n"
	    "skip_authenticated = false;\n"
	    "skip_daemon_names = [ \"ORIGINATING\", \"submission\" ];\n"
	    "exempt_recipients = [ \"postmaster@\", \"@abuse.example\" ];\n"
	    "probe: { scan = [ \"3128\", \"1080/socks5\", \"1080/socks4\", \"8080/http\" ];\n"
	    "  tags = { }; target = \"canary\"; canary_listen = \"[::1]:2600\";\n"
	    "  canary_address = \"\"; mta_address = \"\"; banner = \"220 \";\n"
	    "  connect_timeout = 2; timeout = 7.5; retries = 2; max_inflight = 64;\n"
	    "  max_per_client = 4; max_queue = 100; rate_limit = 10; allow_private = [ \"127.0.0.0/8\" ];\n"
	    "  };\n"
	    "dns: { resolver = \"127.0.0.1:5353\"; timeout = 2.5; dnsbl_threshold = 2;\n"
	    "  dnsbl_sites = [ \"zen.example.org*3\", \"bl.example.net=127.0.0.[2..11;20]*2\", \"wl.example*-4\" ];\n"
	    "  dnsbl_reply_map = [ \"zen.example.org=a-list\" ]; fcrdns = true; guess_domain = false; };\n"
	    "geoip: { database = \"\"; };\n"
	    "score: { fcrdns_fail = 2; fcrdns_none = 1; helo_mismatch = 3; netbios = 4; suspect_threshold = 5; };\n"
	    "verdict: { open_ttl = 60; clean_ttl = 30; error_ttl = 10; max_entries = 1000; };\n"
	    "action: { stage = \"eom\"; on_open = \"tag\"; on_pending = \"tempfail\";\n"
	    "  on_error = \"tag\"; on_clean = \"tag\"; pending_wait = 2.5; header = \"X-PM\";\n"
	    "  reject_reply = \"554 5.7.1 no %a\"; tempfail_reply = \"450 4.7.1 wait %% %p\"; };\n",
	    err, sizeof(err));
	T_OK(cf != NULL, "a file with every key loads");
	if (cf == NULL) {
		printf("  got: %s\n", err);
		T_DONE();
	}
	T_OK(cf->mode == MODE_OBSERVE && cf->action.stage == STAGE_EOM, "mode and stage read");
	T_OK(cf->probe.ntests == 6 && cf->probe.tests[4].kind == pe_kind_find("dnsbl") &&
	    cf->probe.tests[5].kind == pe_kind_find("fcrdns"), "scan list read, the DNS checks after it");
	T_OK(cf->checks.nsites == 3 && cf->checks.sites[0].weight == 3 &&
	    cf->checks.sites[2].weight == -4 && cf->checks.sites[1].has_filter &&
	    strcmp(cf->checks.sites[1].domain, "bl.example.net") == 0, "dnsbl_sites read");
	T_OK(cf->checks.rules.dnsbl_threshold == 2 && cf->checks.rules.suspect_threshold == 5 &&
	    cf->checks.w_fcrdns_fail == 2 && cf->checks.w_fcrdns_none == 1 &&
	    cf->checks.w_netbios == 4 && cf->score.helo_mismatch == 3 && !cf->checks.guess_domain,
	    "score and thresholds read");
	T_OK(cf->probe.timing.checks == &cf->checks && strcmp(cf->dns.resolver, "127.0.0.1:5353") == 0 &&
	    cf->dns.timeout == 2.5, "dns read; requests carry the checks");
	T_OK(cf->probe.canary_listen.ss_family == AF_INET6, "IPv6 canary");
	T_OK(cf->probe.timing.connect_timeout == 2.0 && cf->probe.timing.timeout == 7.5 &&
	    cf->probe.timing.retries == 2, "timing read (int and float)");
	T_OK(cf->action.on_clean == ACT_TAG && cf->action.pending_wait == 2.5, "action read");
	T_OK(cf->verdict.max_entries == 1000, "verdict read");
	T_OK(cf->probe.rate_limit == 10, "rate_limit read");
	T_OK(cf->exempt_recipients.n == 2 && cf->skip_daemon_names.n == 2, "lists read");
	config_unref(cf);

	bad("socket = \"inet:8890@127.0.0.1\";\nsokcet = \"x\";\n", 2, "unknown key \"sokcet\"", "unknown top key");
	bad("probe: {\n  scna = [ ];\n};\n", 2, "unknown key \"probe.scna\"", "unknown probe key");
	bad("action: {\n stage = \"rcpt\";\n\n on_open = \"drop\";\n};\n", 4, "not one of", "bad action value");
	bad("socket = \"inet:127.0.0.1:8890\";\n", 1, "inet:PORT@HOST", "postfix-style socket explained");
	bad("socket = \"tcp:1\";\n", 1, "expected unix", "unknown socket type");
	bad("\nmode = = 3;\n", 2, "syntax error", "libconfig syntax error has a line");
	bad("mode = 1;\n", 1, "expected a string", "type error");
	bad("log_stderr = \"yes\";\n", 1, "true or false", "bool type error");
	bad("allow = [ \"10.0.0.0/8\", \"bogus\" ];\n", 1, "bad address \"bogus\"", "bad CIDR in allow");
	bad("\nprobe: { scan = [ \"3128/gopher\" ]; };\n", 2, "unknown proxy type", "unknown proxy type");
	bad("probe: { scan = [ \"99999\" ]; };\n", 1, "bad port specification", "bad port");
	bad("probe: { scan = [ ]; };\ndns: { fcrdns = false; };\n", 1, "nothing would be checked",
	    "empty scan list and no DNS check");
	cf = load("probe: { scan = [ ]; };\ndns: { dnsbl_sites = [ \"bl.example\" ]; };\n", err, sizeof(err));
	T_OK(cf != NULL && cf->probe.ntests == 2, "DNS checks alone, no proxy tests");
	config_unref(cf);
	bad("probe: {\n resolver = \"127.0.0.1\"; };\n", 2, "now dns.resolver", "probe.resolver moved");
	cf = load("connect_back: { enable = true; port = 2525; timeout = 5.0; helo_name = \"probe.example.org\";\n"
	    "  relay_test = \"rcpt\"; relay_address = \"probe@example.org\"; };\n"
	    "score: { banner_mismatch = 2; };\n", err, sizeof(err));
	T_OK(cf != NULL && cf->probe.tests[cf->probe.ntests - 1].kind == pe_kind_find("connect-back") &&
	    cf->probe.tests[cf->probe.ntests - 1].port == 2525, "connect_back: its test on its port");
	T_OK(cf != NULL && cf->checks.cb_relay == PE_RELAY_RCPT && strcmp(cf->checks.cb_local, "probe") == 0 &&
	    strcmp(cf->checks.cb_domain, "example.org") == 0 && cf->checks.cb_timeout == 5.0 &&
	    cf->checks.w_banner_mismatch == 2, "connect_back: relay address split, timeout, weight");
	config_unref(cf);
	cf = load("connect_back: { relay_test = \"none\"; };\n", err, sizeof(err));
	T_OK(cf != NULL && cf->probe.tests[cf->probe.ntests - 1].kind != pe_kind_find("connect-back"),
	    "connect_back: off by default (opt-in)");
	config_unref(cf);
	bad("connect_back: {\n enable = true;\n relay_test = \"rcpt\"; };\n", 3, "need relay_address",
	    "connect_back: rcpt needs relay_address");
	bad("connect_back: { relay_test = \"rcpt\";\n relay_address = \"no-at-sign\"; };\n", 2,
	    "need relay_address", "connect_back: relay_address local@domain");
	bad("connect_back: {\n backscatter_test = true; };\n", 2, "need relay_address",
	    "connect_back: backscatter needs relay_address");
	bad("connect_back: { relay_test = \"confirm\";\n relay_address = \"a+b@example.org\"; };\n", 2,
	    "without '+'", "connect_back: relay_address without '+'");
	bad("connect_back: { relay_test = \"rcpt\";\n relay_address = \"probe\\r\\nRSET@example.org\"; };\n", 2,
	    "need relay_address", "connect_back: relay_address with a control byte");
	bad("connect_back: { relay_test = \"always\"; };\n", 1, "not one of", "connect_back: relay_test values");
	bad("connect_back: { helo_name = \"bad name\"; };\n", 1, "not a host name", "connect_back: helo_name");
	bad("connect_back: { port = 0; };\n", 1, "out of range", "connect_back: port range");
	cf = load("selftest: { address = \"::1\"; on_fail = \"stop\"; interval = 5; uniformity = 4;\n"
	    "  uniformity_window = 60; };\n", err, sizeof(err));
	T_OK(cf != NULL && cf->selftest.addr.family == AF_INET6 && cf->selftest.stop &&
	    cf->selftest.interval == 5 && cf->selftest.uniformity == 4 && cf->selftest.window == 60,
	    "selftest: every key read");
	config_unref(cf);
	cf = load("selftest: { address = \"\"; uniformity = 0; };\n", err, sizeof(err));
	T_OK(cf != NULL && cf->selftest.address[0] == '\0' && cf->selftest.uniformity == 0,
	    "selftest: off, uniformity off");
	config_unref(cf);
	bad("selftest: {\n address = \"test.example\"; };\n", 2, "not a numeric address", "selftest: numeric address");
	bad("selftest: { on_fail = \"panic\"; };\n", 1, "not one of", "selftest: on_fail values");
	bad("selftest: { uniformity = 1; };\n", 1, "at least 2", "selftest: uniformity 1 refused");
	bad("dns: {\n resolver = \"dns.example\"; };\n", 2, "not a numeric", "dns.resolver numeric");
	bad("dns: { dnsbl_sites = [\n \"bl.example\",\n \"zen.example=127.0.0.[2..x]\" ]; };\n", 3,
	    "bad filter", "dnsbl filter error has the element's line");
	bad("dns: { dnsbl_sites = [ \"bl.example=127.0.0.[9..2]\" ]; };\n", 1, "bad filter", "dnsbl range backwards");
	bad("dns: { dnsbl_sites = [ \"bl.example=127.0.0.300\" ]; };\n", 1, "bad filter", "dnsbl octet > 255");
	bad("dns: { dnsbl_sites = [ \"bl.example*x\" ]; };\n", 1, "weight", "dnsbl weight not a number");
	bad("dns: { dnsbl_sites = [ \"bl.example*0\" ]; };\n", 1, "weight", "dnsbl weight 0");
	bad("dns: { dnsbl_sites = [ \"bl.example*2=127.0.0.2\" ]; };\n", 1, "comes last", "weight before filter");
	bad("dns: { dnsbl_sites = [ \"bl..example\" ]; };\n", 1, "not a DNS domain", "bad dnsbl domain");
	bad("dns: { dnsbl_reply_map = [ \"bl.example=a list\" ]; };\n", 1, "letters", "reply map name");
	bad("score: { suspect_threshold = 0; };\n", 1, "out of range", "suspect_threshold range");
	bad("geoip: {\n database = \"/nonexistent/x.mmdb\"; };\n", 2, "x.mmdb", "missing mmdb");
	{
		FILE *f = fopen("/tmp/pm-test-corrupt.mmdb", "w");
		if (f != NULL) {
			fputs("this is not a MaxMind DB\n", f);
			fclose(f);
		}
		bad("geoip: { database = \"/tmp/pm-test-corrupt.mmdb\"; };\n", 1, "pm-test-corrupt.mmdb: ",
		    "corrupt mmdb");
		unlink("/tmp/pm-test-corrupt.mmdb");
	}
	bad("probe: {\n timeout = 1.0;\n connect_timeout = 5.0; };\n", 2, "shorter", "timeout < connect_timeout");
	bad("probe: { retries = 99; };\n", 1, "out of range", "retries range");
	/* the fleet groups (conffleet.c) */
	bad("fleet: {\n redis = \"redis.example:6379\"; };\n", 2, "not a numeric address", "fleet.redis numeric");
	bad("fleet: { redis = \"127.0.0.1\"; };\n", 1, "not HOST:PORT", "fleet.redis needs a port");
	bad("fleet: { redis = \"127.0.0.1:0\"; };\n", 1, "bad port", "fleet.redis port 0");
	bad("fleet: { redis = \"unix:relative.sock\"; };\n", 1, "absolute path", "fleet.redis unix path");
	bad("fleet: { key_prefix = \"pm :\"; };\n", 1, "no spaces", "fleet.key_prefix spaces");
	bad("fleet: { timeout = 10.0; };\n", 1, "out of range", "fleet.timeout range");
	bad("fleet: { redsi = \"x\"; };\n", 1, "unknown key \"fleet.redsi\"", "unknown fleet key");
	bad("state: { file = \"relative.state\"; };\n", 1, "absolute file name", "state.file absolute");
	bad("state: { save_interval = 1; };\n", 1, "out of range", "state.save_interval range");
	bad("export: { rbldnsd_zone = \"/var/lib/x/\"; };\n", 1, "absolute file name", "export: a directory");
	bad("metrics: { listen = \"9187\"; };\n", 1, "not ADDR:PORT", "metrics.listen needs an address");
	bad("metrics: { listen = \"::1:9187\"; };\n", 1, "not ADDR:PORT", "metrics.listen v6 needs brackets");
	bad("metrics: { listen = \"127.0.0.1:0\"; };\n", 1, "not ADDR:PORT", "metrics.listen port 0");
	bad("control: { socket = \"ctl.sock\"; };\n", 1, "absolute file name", "control.socket absolute");
	bad("probe: { rate_limit = -1; };\n", 1, "out of range", "rate_limit range");
	bad("probe: { canary_listen = \"localhost:25\"; };\n", 1, "numeric HOST:PORT", "canary must be numeric");
	bad("probe: { canary_listen = \"0.0.0.0:2526\"; };\n", 1, "canary_address", "wildcard canary needs an address");
	bad("probe: { target = \"mta\"; };\n", 1, "mta_address", "target mta needs mta_address");
	bad("probe: {\n target = \"mail.example.com:25\"; };\n", 2, "not canary, mta or a numeric HOST:PORT", "target must be numeric");
	bad("probe: { tags = { basic = [ \"80\" ]; }; };\n", 1, "not a usable tag name", "built-in tag names reserved");
	bad("probe: { tags = {\n mine = [ \"80/gopher\" ]; }; };\n", 2, "unknown proxy type", "bad user tag");
	bad("probe: { tags = { a = [ \"b\" ]; b = [ \"a\" ]; }; };\n", 1, "too deep", "tag loop refused");
	bad("probe: { scan = [ \"1-65535\" ]; };\n", 1, "too many", "milter scan list bounded");
	bad("verdict: { max_entries = 2; };\n", 1, "out of range", "max_entries range");
	bad("action: { pending_wait = 60.0; };\n", 1, "out of range", "pending_wait capped below MTA timeouts");
	bad("action: { reject_reply = \"450 4.7.1 x\"; };\n", 1, "5NN", "reject reply must be 5xx");
	bad("action: { tempfail_reply = \"550 5.7.1 x\"; };\n", 1, "4NN", "tempfail reply must be 4xx");
	bad("action: { reject_reply = \"550 no enhanced code\"; };\n", 1, "enhanced", "enhanced code required");
	bad("action: { reject_reply = \"550 5.7.1 100%\"; };\n", 1, "escape", "stray percent refused");
	bad("action: { on_pending = \"reject\"; };\n", 1, "permanent", "pending never rejects");
	bad("action: { header = \"X Bad: header\"; };\n", 1, "header name", "bad header name");
	bad("action: { on_clean = \"reject\"; };\n", 1, "clean", "clean cannot be rejected");
	bad("probe = 3;\n", 1, "group", "probe must be a group");
	cf = load("probe: { tags = { web = [ \"80-82\", \"8080/all\" ]; mine = [ \"web\", \"socks\" ]; };\n"
	    "  scan = [ \"mine\", \"23/cisco\" ]; target = \"127.0.0.1:25\"; banner = \"220 mx\"; };\n", err, sizeof(err));
	T_OK(cf != NULL && cf->probe.ntests == 3 + 6 + 2 + 1 + 1,
	    "user tags nest and expand (80-82, 8080/all, socks, 23/cisco; + fcrdns, on by default)");
	T_OK(cf != NULL && cf->probe.target_kind == PE_TARGET_BANNER, "target HOST:PORT = banner mode");
	if (cf == NULL)
		printf("  got: %s\n", err);
	config_unref(cf);
	cf = load("probe: { target = \"mta\"; mta_address = \"[::1]:25\"; };\n", err, sizeof(err));
	T_OK(cf != NULL && cf->probe.target_kind == PE_TARGET_MTA, "target mta with an IPv6 MTA address");
	config_unref(cf);
	cf = config_load("/nonexistent/pm.conf", err, sizeof(err));
	T_OK(cf == NULL && strstr(err, "/nonexistent/pm.conf: cannot open: No such file") != NULL, "missing file");
	unlink(path);
	T_DONE();
}
