/*
 * session.h - one SMTP session as the callbacks see it (behind
 * smfi_setpriv), shared by callbacks.c and enforce.c.
 */
#ifndef PM_SESSION_H
#define PM_SESSION_H

#include <stdbool.h>
#include "milter.h"
#include "pmconfig.h"
#include "log.h"

struct sess {
	struct pm_config *cf;
	char id[9];
	char qid[32];
	char client[400];		/* name[addr]:port, for logs */
	char addr[64];
	struct pm_addr a;
	bool have_addr;
	const char *skip;		/* set at connect: never enforce */
	bool authenticated;
	char auth_user[128];
	char helo[128];
	char from[256];
	char mta[128];			/* the MTA's name (macro j), for the header */
	double t_connect;
	int msgs, rcpts, rejected;
	/* a tag decided at connect or helo holds for every message */
	bool sess_tag;
	struct vt_info sess_tag_info;
	/* per message */
	int hdr_copies;
	int msg_rcpts, msg_exempt;
	bool tag;
	struct vt_info tag_info;
	bool probe_msg;			/* our connect-back's probe came back: discard */
	char probe_rcpt[256];		/* ... its recipient (confirmed at the end) */
};

/* a session line: "<qid> EVENT sess=ID" */
void sess_line(struct lb *, const struct sess *, const char *event);
/* a skip line (reason, one key=value, the stage when >= 0), counted */
void log_skip(struct sess *, const char *reason, const char *k, const char *v, int stage);
/* the enforcement stage (and only it) acts on the verdict */
sfsistat pm_enforce(SMFICTX *, struct sess *, enum pm_stage, const char *rcpt, bool exempt);

#endif
