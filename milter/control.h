/*
 * control.h - the control socket that proxymilter-ctl talks to: a unix
 * socket (control.socket) owned by the milter's user, one command per
 * connection, served by a thread of its own.
 */
#ifndef PM_CONTROL_H
#define PM_CONTROL_H

#include <pwd.h>

struct pm_config;

/* bind control.socket (nothing when ""); 0, or -1 and err */
int control_start(const struct pm_config *, const struct passwd *, char *err, size_t errlen);
void control_stop(void);	/* closes and removes the socket */

#endif
