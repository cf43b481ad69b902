/*
 * domain.c - the registrable domain of a host name, by the public suffix
 * list (libpsl: the newest of its built-in list and Debian's publicsuffix
 * file).  "mail.example.co.uk" -> "example.co.uk".  Names are compared in
 * their ASCII form: an IDN is matched as its xn-- labels; a name with
 * other bytes than letters, digits, '-', '_' and dots has no domain.
 */
#include "config.h"
#include <ctype.h>
#include <pthread.h>
#include <string.h>
#include <arpa/inet.h>
#include <libpsl.h>
#include "probes.h"

static pthread_once_t psl_once = PTHREAD_ONCE_INIT;
static const psl_ctx_t *psl;

static void
psl_load(void)
{
	psl = psl_latest(NULL);
	if (psl == NULL)
		psl = psl_builtin();
}

int
pe_registrable_domain(const char *name, char *buf, size_t len)
{
	char lower[256];
	size_t n = strlen(name);
	const char *d;
	unsigned char a[16];

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n >= sizeof(lower))
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return -1;
		lower[i] = (char)tolower(c);
	}
	lower[n] = '\0';
	if (inet_pton(AF_INET, lower, a) == 1)
		return -1;
	pthread_once(&psl_once, psl_load);
	if (psl == NULL || (d = psl_registrable_domain(psl, lower)) == NULL || strlen(d) >= len)
		return -1;
	memcpy(buf, d, strlen(d) + 1);
	return 0;
}
