/*
 * proxyprobe.h - what proxyprobe's two modes share: proxyprobe.c (the
 * options, one target_host) and hostlist.c (-i, a list of hosts).
 */
#ifndef PROXYPROBE_H
#define PROXYPROBE_H

#include <stdio.h>
#include <sys/socket.h>
#include "probes.h"

#define LIST_WINDOW 4096	/* -i: hosts submitted and not finished */
#define LIST_INFLIGHT 1024	/* -i: tests at once unless -t says */
#define EVIDENCE_SHOWN 8	/* open tests named on a host's line */

/* one host under test; the engine thread owns it once it is submitted */
struct host {
	char addr[PE_ADDRSTR_MAX];	/* address text: a result line's first word */
	char text[PE_ADDRSTR_MAX + 2];	/* the same, "[v6]" in test lines */
	char evidence[EVIDENCE_SHOWN * (PE_PROTO_NAME_MAX + 8)];
	char egress[PE_ADDRSTR_MAX];
	int nopen;
};

/* what every host is tested for: the port_specs, -a */
struct scan {
	struct pe_test *tests;
	size_t ntests;
	struct pe_timing tm;
	unsigned flags;			/* pe_submit's */
};

extern int verbosity;		/* -v */
extern int all_tests;		/* -a */

/* proxyprobe.c */
void say(int level, const char *, ...) __attribute__((format(printf, 2, 3)));
void host_init(struct host *, const struct sockaddr *);
void host_result(struct host *, const struct pe_result *, int open_level);
int unicast(const struct sockaddr *);
int local_toward(const struct sockaddr_storage *, socklen_t, struct sockaddr_storage *,
    socklen_t *);
int pick_port(struct sockaddr_storage *, socklen_t);
struct pe_engine *engine_start(const struct pe_options *, pe_result_fn, pe_done_fn, int *rc,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* hostlist.c */
int run_list(FILE *, const char *name, struct pe_options *, int canary_auto,
    const struct scan *);

#endif
