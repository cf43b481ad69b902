/*
 * persist.h - the verdict table on disk: the state file (a snapshot, saved
 * every state.save_interval and at stop, loaded at start) and the rbldnsd
 * export (every export.interval).  A thread of its own: writing a big
 * table takes a while, and nothing else waits for it.
 */
#ifndef PM_PERSIST_H
#define PM_PERSIST_H

struct pm_config;

/* load the state file into pm.vt, start the thread; 0, or -1 and err */
int persist_start(const struct pm_config *, char *err, size_t errlen);
void persist_stop(void);	/* the last snapshot; joins the thread */

#endif
