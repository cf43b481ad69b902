/* fleet.c - being written */
#include "config.h"
#include <string.h>
#include "milter.h"
#include "fleet.h"
int fleet_init(const struct pm_config *cf, char *err, size_t errlen) { (void)cf; (void)err; (void)errlen; return 0; }
int fleet_enabled(void) { return 0; }
void fleet_claim(struct preq *q, double p, double w) { (void)p; (void)w; pm_submit(q); }
void fleet_share(const struct pm_addr *a, const struct vt_info *v) { (void)a; (void)v; }
void fleet_flush(const struct pm_addr *a) { (void)a; }
void fleet_stats(struct fleet_stats *s) { memset(s, 0, sizeof(*s)); }
