/* metrics.c - stub, being written */
#include "config.h"
#include <stddef.h>
#include "metrics.h"
#include "pmconfig.h"
int
metrics_start(struct event_base *b, const struct pm_config *cf, char *err, size_t errlen)
{
	(void)b; (void)cf; (void)err; (void)errlen;
	return 0;
}
