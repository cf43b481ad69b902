/*
 * conffleet.h - the config's fleet groups (design section 9): fleet
 * (Redis), state, export, metrics and control; for config.c.
 */
#ifndef PM_CONFFLEET_H
#define PM_CONFFLEET_H

#include "pmconfig.h"
#include "confget.h"

void conffleet_defaults(struct cg_ctx *, struct pm_config *);
void conffleet_load(struct cg_ctx *, struct pm_config *, config_setting_t *root);
void conffleet_free(struct pm_config *);

#endif
