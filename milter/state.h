/*
 * state.h - the verdict table as a file, the state snapshot (state.c), and
 * the one way both the snapshot and the rbldnsd export (export.h) reach
 * the disk: a temp file next to the target, fsync, rename.
 *
 *   proxymilter-state 1 UNIXTIME HOSTNAME
 *   pm1 ADDR STATE SCORE SET_AT EXPIRES EGRESS EVIDENCE     (vrec.h, one a verdict)
 *   ...
 *   end N                                                    (N verdict lines)
 *
 * Pure file functions on a struct vt: no globals of the daemon, no log
 * lines (the caller logs what the counts and err say).
 */
#ifndef PM_STATE_H
#define PM_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include "verdict.h"

#define STATE_MAGIC "proxymilter-state"
#define STATE_VERSION 1

struct state_counts {
	size_t verdicts;		/* verdict lines written, or read */
	size_t loaded;			/* load: put into the table */
	size_t expired;			/* load: expired since the save: dropped */
	size_t older;			/* load: the table had a newer verdict for it */
	uint64_t bytes;			/* the file's size */
	int64_t saved_at;		/* load: the header's Unix time */
	char host[64];			/* load: the header's host name */
	double elapsed;			/* seconds */
};

/*
 * Write every verdict of the table (pending entries are none) to path,
 * atomically; host names the writer in the header (NULL: gethostname).
 * 0, or -1 with err: the old file is kept, no temp file is left.
 */
int state_save(struct vt *, const char *path, const char *host, char *err, size_t errlen,
    struct state_counts *);

/*
 * Read path into the table (meant for the empty table at start).
 * 0: loaded (expired verdicts dropped and counted).  1: no such file.
 * -1: a file that is not ours, of another version, truncated or with a
 * bad line, or that cannot be read: err says which ("file:line: why"),
 * and the table is emptied (vt_flush_all): all or nothing.
 */
int state_load(struct vt *, const char *path, char *err, size_t errlen, struct state_counts *);
/* the same on an open stream; name is for err; now is monotonic, unix_now
 * the Unix time that goes with it (state_load: vt_now(), time()) */
int state_load_fp(struct vt *, FILE *, const char *name, double now, int64_t unix_now,
    char *err, size_t errlen, struct state_counts *);

/*
 * Replace path: body writes the content to a temp file "path.tmp.PID" in
 * the same directory (created with mode, whatever the umask), which is
 * flushed, fsynced and renamed over path.  body returns 0, or -1 having
 * written into err.  0 and the size in *bytes, or -1 with err: the temp
 * file is gone and path is as it was.
 */
int state_replace(const char *path, mode_t mode, int (*body)(FILE *, void *, char *, size_t),
    void *arg, char *err, size_t errlen, uint64_t *bytes);

/* a host name as one header token: printable, no spaces, capped ("-" when empty) */
void state_host_token(const char *in, char *out, size_t len);

#endif
