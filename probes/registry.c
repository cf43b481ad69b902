/*
 * registry.c - the table of check kinds.
 *
 * Adding a kind = one file (probes/<kind>.c with its `const struct pe_kind`)
 * + one row in KINDS below (and the file's name in
 * Makefile.am's source list: automake has no wildcards).  Nothing in the
 * scheduling code knows a kind by name: the engine reads the flags, sizes
 * and functions of the row.  pe_kind_register adds kinds at run time
 * (tests, embedders); they must come before any engine is created.
 */
#include "config.h"
#include <string.h>
#include "engine.h"

/* the table: a kind's row is its name here (probes/<name>.c defines
 * pe_kind_<name>); the row declares it and lists it */
#ifdef HAVE_LIBEVENT_OPENSSL
#define TLS_KINDS(X) X(https_connect)
#else
#define TLS_KINDS(X)
#endif
#define KINDS(X) \
	X(http_connect) \
	X(http_post) \
	X(socks4) \
	X(socks5) \
	X(telnet) \
	X(netbios) \
	X(smb) \
	X(dnsbl) \
	X(fcrdns) \
	X(geoip) \
	X(connect_back) \
	TLS_KINDS(X)

#define DECLARE(k) extern const struct pe_kind pe_kind_##k;
#define ROW(k) &pe_kind_##k,
KINDS(DECLARE)
static const struct pe_kind *const builtin[] = { KINDS(ROW) };
#define NBUILTIN (sizeof(builtin) / sizeof(builtin[0]))

/* other names of table rows */
static const struct { const char *alias, *name; } aliases[] = {
	{ "http", "http-connect" },
	{ "cisco", "telnet" },		/* one adaptive probe reads the prompt */
	{ "wingate", "telnet" },
};

#define MAX_EXTRA 16
static const struct pe_kind *extra[MAX_EXTRA];
static size_t nextra;

size_t
pe_kind_count(void)
{
	return NBUILTIN + nextra;
}

const struct pe_kind *
pe_kind_at(size_t i)
{
	if (i < NBUILTIN)
		return builtin[i];
	return i - NBUILTIN < nextra ? extra[i - NBUILTIN] : NULL;
}

const struct pe_kind *
pe_kind_find(const char *name)
{
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(name, aliases[i].alias) == 0)
			name = aliases[i].name;
	for (size_t i = 0; i < pe_kind_count(); i++)
		if (strcmp(pe_kind_at(i)->name, name) == 0)
			return pe_kind_at(i);
	return NULL;
}

size_t
pe_kind_index(const struct pe_kind *k)
{
	for (size_t i = 0; i < pe_kind_count(); i++)
		if (pe_kind_at(i) == k)
			return i;
	return 0;
}

int
pe_kind_register(const struct pe_kind *k)
{
	if (nextra >= MAX_EXTRA || k->name == NULL || strlen(k->name) >= PE_PROTO_NAME_MAX ||
	    pe_kind_find(k->name) != NULL || k->start == NULL ||
	    (!(k->flags & PE_K_TASK) && k->on_read == NULL) ||
	    ((k->flags & PE_K_TASK) && (k->flags & (PE_K_PROXY | PE_K_TLS))) ||
	    k->dns_rounds < 0 || k->dns_rounds > PE_DNS_ROUNDS_MAX ||
	    ((k->flags & PE_K_NONCE) && (k->on_confirm == NULL || (k->flags & PE_K_TASK))))
		return -1;
	extra[nextra++] = k;
	return 0;
}

const char *pe_kind_name(const struct pe_kind *k) { return k->name; }
int pe_kind_is_proxy(const struct pe_kind *k) { return (k->flags & PE_K_PROXY) != 0; }
