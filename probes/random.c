/*
 * random.c - the one source of randomness: nonces, the canary's MAC key,
 * hash seeds, session ids.  getrandom(2) from the kernel's CSPRNG; a short
 * read (signals, early boot) is retried, a failure is reported.
 */
#include "config.h"
#include <errno.h>
#include <sys/random.h>
#include "probes.h"

int
pe_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
