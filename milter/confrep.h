/*
 * confrep.h - the config's reputation groups (dns, geoip, score), for
 * config.c; and the dnsbl_reply_map lookup, for policy.c.
 */
#ifndef PM_CONFREP_H
#define PM_CONFREP_H

#include "pmconfig.h"
#include "confget.h"

void confrep_defaults(struct cg_ctx *, struct pm_config *);
void confrep_load(struct cg_ctx *, struct pm_config *, config_setting_t *root);
/* after every group: the checks join the tests; root may be NULL */
void confrep_finish(struct cg_ctx *, struct pm_config *, config_setting_t *root);
void confrep_free(struct pm_config *);
/* dns.dnsbl_reply_map: the name to show for a list (len bytes of domain),
 * or NULL to show the list's own */
const char *confrep_reply_name(const struct pm_config *, const char *domain, size_t len);

#endif
