/* persist.c - stub, being written */
#include "config.h"
#include <stddef.h>
#include "persist.h"
#include "pmconfig.h"
int
persist_start(const struct pm_config *cf, char *err, size_t errlen)
{
	(void)cf; (void)err; (void)errlen;
	return 0;
}
void
persist_stop(void)
{
}
