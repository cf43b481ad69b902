/*
 * fuzz_hostline - proxyprobe's host lists (-i, tools/hostlist.c): the
 * line reader hl_read, the line parser hostline and host_addr on numeric
 * words only (no name is ever looked up).  Those are static functions of
 * hostlist.c, reached by including it, and with it tools/proxyprobe.c,
 * what it needs, with main renamed (fuzz_report includes a program too).
 *
 * Input: a host list.  It is read through hl_read from an fmemopen()
 * stream with a small line cap (so that long lines occur), and each line
 * goes through hostline, then host_addr.  Checked: a line is capped and
 * holds no newline; a host word is non-empty, within the cap, made of host
 * characters and lies inside the line; every message is printable and
 * NUL-terminated; an address that parsed is a single host's, and its text
 * parses back to the same address.
 */
#define main proxyprobe_main
int proxyprobe_main(int, char **);
#include "../../tools/proxyprobe.c"
#undef main
#include "../../tools/hostlist.c"

#include "fuzz.h"

#define FZ_LINE_CAP 160		/* hl_read's cap: HL_LINE_MAX is too long to reach often */

static void
printable_msg(const char *m, size_t cap)
{
	size_t n = strnlen(m, cap);

	FZ_CHECK(n > 0 && n < cap);
	for (size_t i = 0; i < n; i++)
		FZ_CHECK((unsigned char)m[i] >= 0x20 && (unsigned char)m[i] < 0x7f);
}

static void
one_line(char *line, size_t len)
{
	char err[256], *host = NULL;
	struct sockaddr_storage ss, again;
	socklen_t sl, al;
	int r;

	memset(err, 0x55, sizeof(err));
	r = hostline(line, len, &host, err, sizeof(err));
	FZ_CHECK(r >= -1 && r <= 1);
	if (r < 0) {
		printable_msg(err, sizeof(err));
		return;
	}
	if (r == 0)
		return;
	size_t hl = strlen(host);
	FZ_CHECK(host >= line && host + hl <= line + len);
	FZ_CHECK(hl > 0 && hl <= HL_HOST_MAX);
	for (size_t i = 0; i < hl; i++)
		FZ_CHECK(hl_hostchar((unsigned char)host[i]));
	memset(err, 0x55, sizeof(err));
	if (host_addr(host, 1, &ss, &sl, err, sizeof(err)) < 0) {
		printable_msg(err, sizeof(err));
		return;
	}
	FZ_CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
	FZ_CHECK(sl == (ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) :
	    sizeof(struct sockaddr_in6)));
	FZ_CHECK(unicast((struct sockaddr *)&ss));

	/* the result line's address text parses back to the same address */
	struct host h;
	host_init(&h, (struct sockaddr *)&ss);
	FZ_CHECK(h.addr[0] != '\0' && strlen(h.text) >= strlen(h.addr));
	FZ_CHECK(host_addr(h.addr, 1, &again, &al, err, sizeof(err)) == 0);
	FZ_CHECK(again.ss_family == ss.ss_family);
	if (ss.ss_family == AF_INET)
		FZ_CHECK(memcmp(&((struct sockaddr_in *)&ss)->sin_addr,
		    &((struct sockaddr_in *)&again)->sin_addr, 4) == 0);
	else
		FZ_CHECK(memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr,
		    &((struct sockaddr_in6 *)&again)->sin6_addr, 16) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[FZ_LINE_CAP];
	size_t len, lines = 0, newlines = 0;
	FILE *f;
	int r;

	if (size == 0 || size > 16384)
		return 0;
	for (size_t i = 0; i < size; i++)
		newlines += data[i] == '\n';
	if ((f = fmemopen((void *)(uintptr_t)data, size, "r")) == NULL)
		abort();
	while ((r = hl_read(f, line, sizeof(line), &len)) != 0) {
		lines++;
		FZ_CHECK(len < sizeof(line) && line[len] == '\0');
		FZ_CHECK(memchr(line, '\n', len) == NULL);
		if (r > 0)
			one_line(line, len);
		else
			FZ_CHECK(len == sizeof(line) - 1);
	}
	FZ_CHECK(!ferror(f));
	/* every newline ends a line; a last line may lack one */
	FZ_CHECK(lines == newlines + (data[size - 1] != '\n'));
	fclose(f);
	return 0;
}
