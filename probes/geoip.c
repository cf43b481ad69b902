/*
 * geoip.c - the country of the client from a MaxMind DB file
 * (geoip.database; libmaxminddb, optional at configure time), and the
 * check kind that records it: a finding country=CC of weight 0, made at
 * once (the file is mapped into memory: a lookup is a few microseconds,
 * no I/O).  The database is opened when the configuration is loaded, so
 * a missing or corrupt file is an error there (at start, and on reload,
 * where the old configuration and its database stay).
 */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pe_int.h"
#ifdef HAVE_MAXMINDDB
#include <maxminddb.h>

void *
pe_geoip_open(const char *path, char *err, size_t errlen)
{
	MMDB_s *db = calloc(1, sizeof(*db));
	int rc;

	if (db == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((rc = MMDB_open(path, MMDB_MODE_MMAP, db)) != MMDB_SUCCESS) {
		snprintf(err, errlen, "%s: %s%s%s", path, MMDB_strerror(rc),
		    rc == MMDB_IO_ERROR ? ": " : "", rc == MMDB_IO_ERROR ? strerror(errno) : "");
		free(db);
		return NULL;
	}
	return db;
}

void
pe_geoip_close(void *p)
{
	if (p != NULL) {
		MMDB_close(p);
		free(p);
	}
}

int
pe_geoip_country(void *p, const struct sockaddr *sa, char cc[3])
{
	struct sockaddr_in sin;
	MMDB_lookup_result_s res;
	MMDB_entry_data_s data;
	int gai, rc;

	cc[0] = '\0';
	if (p == NULL)
		return -1;
	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)sa)->sin6_addr)) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		memcpy(&sin.sin_addr, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr + 12, 4);
		sa = (const struct sockaddr *)&sin;
	}
	res = MMDB_lookup_sockaddr(p, sa, &rc);
	if (rc != MMDB_SUCCESS || !res.found_entry)
		return -1;
	gai = MMDB_get_value(&res.entry, &data, "country", "iso_code", NULL);
	if (gai != MMDB_SUCCESS || !data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING ||
	    data.data_size != 2 || !isupper((unsigned char)data.utf8_string[0]) ||
	    !isupper((unsigned char)data.utf8_string[1]))
		return -1;
	cc[0] = data.utf8_string[0];
	cc[1] = data.utf8_string[1];
	cc[2] = '\0';
	return 0;
}
#else
void *
pe_geoip_open(const char *path, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s: this build has no GeoIP (configure found no libmaxminddb)",
	    path);
	return NULL;
}

void pe_geoip_close(void *p) { (void)p; }

int
pe_geoip_country(void *p, const struct sockaddr *sa, char cc[3])
{
	(void)p;
	(void)sa;
	cc[0] = '\0';
	return -1;
}
#endif

static void
geoip_start(struct pe_ctx *ctx, struct evbuffer *out)
{
	char cc[3];

	(void)out;
	if (pe_geoip_country(ctx->checks->geoip, ctx->client, cc) == 0) {
		pe_find(ctx, PE_F_WEAK, 0, "country", "%s", cc);
		snprintf(ctx->reason, sizeof(ctx->reason), "%s", cc);
	} else {
		snprintf(ctx->reason, sizeof(ctx->reason), "unknown");
	}
	pe_ctx_step(ctx, PE_STEP_CLOSED);
}

const struct pe_kind pe_kind_geoip = {
	.name = "geoip",
	.flags = PE_K_TASK,
	.start = geoip_start,
};
