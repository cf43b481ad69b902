/*
 * fuzz_ctl - milter/ctlcmd.c: ctl_parse, the control socket's language,
 * on arbitrary bytes (what anyone who may connect to control.socket can
 * write); milter/ctlshow.c: ctl_show_line with the same bytes as evidence
 * and egress (they come from proxies and DNS).
 *
 * Checked: a refusal has a reason that is one printable line that fits;
 * an accepted command has no NUL or control byte before its line end, and
 * its canonical form parses back to the same command; a reason cut to a
 * tiny buffer is still terminated; a show line is one printable line
 * within its buffer.
 */
#include "config.h"
#include "ctlcmd.h"
#include "fuzz.h"

static void
printable_line(const char *s, size_t cap)
{
	size_t n = strnlen(s, cap);

	FZ_CHECK(n < cap);
	for (size_t i = 0; i < n; i++)
		FZ_CHECK((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f);
}

static void
show(const uint8_t *data, size_t size)
{
	static const enum vt_state st[] = {
		VT_NONE, VT_PENDING, VT_OPEN, VT_CLEAN, VT_ERROR, VT_RELAY, VT_LISTED, VT_SUSPECT
	};
	struct vt_info v;
	struct pm_addr a;
	char line[CTL_ANSWER_MAX];
	size_t k, n;

	memset(&v, 0, sizeof(v));
	memset(&a, 0, sizeof(a));
	v.state = st[fz_byte(&data, &size) % 8];
	v.score = (int8_t)fz_byte(&data, &size);
	v.age = (double)fz_byte(&data, &size) * 1e10 - 5;
	v.expires = (double)fz_byte(&data, &size) * 1e10 - 5;
	a.family = fz_byte(&data, &size) & 1 ? AF_INET6 : AF_INET;
	k = size < sizeof(a.b) ? size : sizeof(a.b);
	memcpy(a.b, data, k);
	k = size < sizeof(v.egress) - 1 ? size : sizeof(v.egress) - 1;
	memcpy(v.egress, data, k);
	k = size < sizeof(v.evidence) - 1 ? size : sizeof(v.evidence) - 1;
	memcpy(v.evidence, data, k);
	n = ctl_show_line(&a, &v, 0, line, sizeof(line));
	FZ_CHECK(n < sizeof(line) && strlen(line) == n);
	printable_line(line, sizeof(line));
	FZ_CHECK(strncmp(line, "client=[", 8) == 0);
	n = ctl_show_line(&a, &v, 0, line, 1 + size % 40);
	FZ_CHECK(strlen(line) == n && n < 1 + size % 40);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct ctl_cmd c, again;
	char why[200], tiny[9], canon[CTL_LINE_MAX];
	size_t n, body = size;
	int r;

	if (size > 4 * CTL_LINE_MAX)
		return 0;
	memset(why, 'z', sizeof(why));
	r = ctl_parse(s, size, &c, why, sizeof(why));
	FZ_CHECK(r == 0 || r == -1);
	FZ_CHECK(ctl_parse(s, size, &again, tiny, sizeof(tiny)) == r);
	FZ_CHECK(strnlen(tiny, sizeof(tiny)) < sizeof(tiny));
	if (r < 0) {
		FZ_CHECK(why[0] != '\0');
		printable_line(why, sizeof(why));
	} else {
		FZ_CHECK(size <= CTL_LINE_MAX);
		if (body > 0 && s[body - 1] == '\n')
			body--;
		if (body > 0 && s[body - 1] == '\r' && body < size)
			body--;
		for (size_t i = 0; i < body; i++)
			FZ_CHECK(s[i] == '\t' || ((unsigned char)s[i] >= 0x20 && s[i] != 0x7f));
		FZ_CHECK(c.op >= CTL_SHOW_ALL && c.op <= CTL_STATS);
		n = ctl_format(&c, canon, sizeof(canon));
		FZ_CHECK(n == strlen(canon));
		FZ_CHECK(ctl_parse(canon, n, &again, why, sizeof(why)) == 0);
		FZ_CHECK(again.op == c.op);
		if (c.op == CTL_SHOW || c.op == CTL_FLUSH)
			FZ_CHECK(memcmp(&again.a, &c.a, sizeof(c.a)) == 0);
	}
	show(data, size);
	return 0;
}
