/* control.c - stub, being written */
#include "config.h"
#include <stddef.h>
#include "control.h"
#include "pmconfig.h"
int
control_start(const struct pm_config *cf, const struct passwd *pw, char *err, size_t errlen)
{
	(void)cf; (void)pw; (void)err; (void)errlen;
	return 0;
}
void
control_stop(void)
{
}
