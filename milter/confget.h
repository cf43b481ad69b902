/*
 * confget.h - what config.c uses of libconfig: the file, typed getters that
 * check type and range, value checks, and the first error of a load as
 * "file:line: message".  Private to config.c and confget.c.
 *
 * Only the first error counts, and the getters do nothing once the load
 * has failed (c->failed): a loader reads key after key and looks at
 * c->failed when it needs to.  An allocation failure is a load error too:
 * "file: out of memory".
 */
#ifndef PM_CONFGET_H
#define PM_CONFGET_H

#include <stdbool.h>
#include <stddef.h>
#include <libconfig.h>
#include "pmconfig.h"

struct cg_ctx {
	const char *file;	/* for errors without a line */
	char *err;		/* the first error goes here */
	size_t errlen;
	int failed;
};

void cg_fail(struct cg_ctx *, const config_setting_t *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
void cg_oom(struct cg_ctx *);

/* copies that report an allocation failure to the load: NULL or -1 */
char *cg_strdup(struct cg_ctx *, const char *);
int cg_strlist_add(struct cg_ctx *, struct pm_strlist *, const char *);
void cg_strlist_free(struct pm_strlist *);

/* open, check and parse file into lc; -1 and "file[:line]: message" in err */
int cg_read_file(config_t *lc, const char *file, char *err, size_t errlen);

/*
 * Getters: an absent key leaves *dst alone.  cg_get_str returns the
 * string (libconfig's, valid until config_destroy) or NULL when absent or
 * failed; with dst, a copy replaces *dst.
 */
void cg_check_known(struct cg_ctx *, const config_setting_t *grp,
    const char *const *names, const char *where);
config_setting_t *cg_group(struct cg_ctx *, config_setting_t *root, const char *);
const char *cg_get_str(struct cg_ctx *, const config_setting_t *, const char *, char **dst);
void cg_get_bool(struct cg_ctx *, const config_setting_t *, const char *, bool *dst);
void cg_get_num(struct cg_ctx *, const config_setting_t *, const char *, double *dst,
    double lo, double hi);
void cg_get_long(struct cg_ctx *, const config_setting_t *, const char *, long *dst,
    long lo, long hi);
void cg_get_int(struct cg_ctx *, const config_setting_t *, const char *, int *dst,
    int lo, int hi);
/* names[0..n-1], case-insensitive; *dst is the index */
void cg_get_enum(struct cg_ctx *, const config_setting_t *, const char *,
    const char *const *names, int n, int *dst);

/* a list of strings; each element goes through fn (which may fail), and
 * with copy, the list replaces *copy */
typedef void cg_elem_fn(struct cg_ctx *, const config_setting_t *, const char *, void *);
void cg_get_list(struct cg_ctx *, const config_setting_t *, const char *,
    cg_elem_fn *fn, void *arg, struct pm_strlist *copy);
void cg_add_cidr(struct cg_ctx *, const config_setting_t *, const char *,
    void *cidr_list);
void cg_nonempty(struct cg_ctx *, const config_setting_t *, const char *, void *);

/* value checks */
void cg_check_reply(struct cg_ctx *, const config_setting_t *, const char *, char cls);
int cg_header_ok(const char *);
int cg_tag_name_ok(const char *);

#endif
