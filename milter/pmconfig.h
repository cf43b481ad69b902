/*
 * pmconfig.h - the milter's configuration: parsed by libconfig, validated,
 * then immutable and reference-counted.  A session holds the config it
 * started with; SIGUSR1 installs a new one for later sessions.
 */
#ifndef PM_CONFIG_H
#define PM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "cidr.h"
#include "../probes/probes.h"

enum pm_mode { MODE_ENFORCE = 0, MODE_OBSERVE };
enum pm_stage { STAGE_CONNECT = 0, STAGE_HELO, STAGE_MAIL, STAGE_RCPT, STAGE_EOM };
enum pm_action { ACT_ACCEPT = 0, ACT_REJECT, ACT_TEMPFAIL, ACT_TAG };

struct pm_strlist {
	char **v;
	size_t n;
};

struct pm_config {
	int refs;
	char *file;			/* where it came from, or "(built-in defaults)" */

	char *socket;
	int socket_mode;		/* unix sockets: permission bits */
	char *socket_group;		/* unix sockets: group ("" = the user's) */
	char *user;
	char *pid_file;
	int syslog_facility;
	int log_level;
	bool log_stderr;
	enum pm_mode mode;

	struct cidr_list allow;
	bool skip_authenticated;
	struct pm_strlist skip_daemon_names;
	struct pm_strlist exempt_recipients;

	struct {
		struct pm_strlist scan;		/* as written, for logs */
		struct pe_test *tests;		/* expanded */
		size_t ntests;
		struct pe_tag *tags;		/* user tags, {NULL} terminated */
		struct pm_strlist tag_specs;	/* owns the strings of tags */
		char *target;
		enum pe_target_kind target_kind;
		struct sockaddr_storage target_addr;	/* mta / HOST:PORT */
		socklen_t target_addr_len;
		struct sockaddr_storage canary_listen;
		socklen_t canary_listen_len;
		struct sockaddr_storage canary_address;
		socklen_t canary_address_len;
		char *canary_listen_text, *canary_address_text;
		char *mta_address;
		char *banner;
		struct pe_timing timing;
		int max_inflight, max_per_client, max_queue;
		double max_queue_wait;
		int rate_limit;			/* new probe sets per /24 (/64) a minute */
		struct cidr_list allow_private;
	} probe;

	/* reputation (confrep.c): design section 7 */
	struct {
		char *resolver;			/* "" = /etc/resolv.conf */
		double timeout;
		struct pm_strlist dnsbl_sites;	/* as written */
		struct pm_strlist dnsbl_reply_map;	/* "domain=text" */
		bool fcrdns, guess_domain;
	} dns;
	struct { char *database; } geoip;
	struct {
		bool enable;
		int port;
		double timeout;
		char *helo_name;		/* "" = the MTA's name (macro j) */
		char *relay_test;		/* none | rcpt | confirm */
		bool backscatter_test;
		char *relay_address;		/* local@domain, ours */
		char *local, *domain;		/* ... split */
	} connect_back;
	struct { int helo_mismatch; } score;	/* the others are in checks */
	struct {				/* design section 8 */
		char *address;			/* "" = no self-test */
		struct pm_addr addr;
		bool stop;			/* on_fail = stop (else observe) */
		long interval;			/* seconds between self-tests */
		int uniformity;			/* distinct /16s (v6 /48); 0 = off */
		long window;			/* uniformity_window */
	} selftest;
	struct pe_checks checks;		/* what the engine's kinds read */

	struct {
		long open_ttl, clean_ttl, error_ttl;
		long max_entries;
	} verdict;

	/* fleet, state, export, metrics, control (conffleet.c): design section 9 */
	struct {
		char *redis;			/* "HOST:PORT" | "unix:/path"; "" = local table only */
		char *key_prefix;
		char *password;			/* "" = no AUTH */
		int database;			/* SELECT n */
		double timeout;			/* longest wait for Redis before probing alone */
	} fleet;
	struct {
		char *file;			/* "" = no snapshot */
		long save_interval;
	} state;
	struct {
		char *rbldnsd_zone;		/* "" = no export */
		long interval;
	} exp;					/* "export" in the file */
	struct { char *listen; } metrics;	/* "ADDR:PORT"; "" = off */
	struct { char *socket; } control;	/* unix socket path; "" = off */

	struct {
		enum pm_stage stage;
		enum pm_action on_open, on_relay, on_listed, on_suspect;
		enum pm_action on_pending, on_error, on_clean;
		double pending_wait;
		char *header;
		char *reject_reply;
		char *tempfail_reply;
	} action;
};

/*
 * Load a file; NULL file = built-in defaults only.  On error returns NULL and
 * writes "file:line: message" (or "file: message") into err; no memory is
 * such an error too ("file: out of memory"), never an abort.
 */
struct pm_config *config_load(const char *file, char *err, size_t errlen);
struct pm_config *config_ref(struct pm_config *);
void config_unref(struct pm_config *);

/* the config in force; the returned reference must be released */
struct pm_config *config_current(void);
void config_install(struct pm_config *);	/* takes over the reference */

const char *stage_name(enum pm_stage);
const char *action_name(enum pm_action);

/* is s a socket spec libmilter takes (unix:/path, inet:PORT@HOST, ...)?
 * 0 and a reason in why when not */
int config_socket_ok(const char *s, char *why, size_t len);

/* split "550 5.7.1 text" into its parts; -1 if malformed */
int reply_split(const char *reply, char code[4], char xcode[16], const char **text);

#endif
