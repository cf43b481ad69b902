/* log value escaping: printable, quoted, capped */
#include "config.h"
#include <unistd.h>
#include "t.h"
#include "log.h"

static const char *
esc(const char *s)
{
	static char buf[1024];
	log_escape(buf, sizeof(buf), s);
	return buf;
}

int
main(void)
{
	struct lb l;
	char big[600];

	t_prog = "log: ";
	T_STREQ(esc("plain"), "plain", "plain value unquoted");
	T_STREQ(esc(""), "\"\"", "empty value quoted");
	T_STREQ(esc("two words"), "\"two words\"", "space quotes");
	T_STREQ(esc("a=b"), "\"a=b\"", "equals quotes");
	T_STREQ(esc("say \"hi\""), "\"say \\\"hi\\\"\"", "quotes escaped");
	T_STREQ(esc("back\\slash"), "\"back\\\\slash\"", "backslash escaped");
	T_STREQ(esc("evil\r\nX-Injected: yes"), "\"evil??X-Injected: yes\"", "CR LF made printable");
	T_STREQ(esc("\x1b[31mred"), "\"?[31mred\"", "escape sequence neutralised");
	T_STREQ(esc("caf\xc3\xa9"), "\"caf??\"", "8-bit made printable");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	T_OK(strlen(esc(big)) == LOG_VALUE_CAP + 3, "long value capped with ...");
	T_OK(strcmp(esc(big) + LOG_VALUE_CAP, "...") == 0, "cap marker at the end");
	{
		char tiny[6];
		log_escape(tiny, sizeof(tiny), "abcdefgh");
		T_OK(strlen(tiny) < sizeof(tiny), "tiny buffer never overflows");
	}
	lb_init(&l, "NOQUEUE", "connect");
	lb_kv(&l, "sess", "0a1b2c3d");
	lb_kv(&l, "helo", "bad guy");
	lb_kvf(&l, "n", "%d", 42);
	T_STREQ(l.buf, "NOQUEUE: connect sess=0a1b2c3d helo=\"bad guy\" n=42", "line format");
	lb_init(&l, NULL, "stats");
	for (int i = 0; i < 100; i++)
		lb_kv(&l, "key", big);
	T_OK(l.len < sizeof(l.buf) && strlen(l.buf) == l.len, "line never overflows");
	T_OK(log_level_from_name("debug") == LOG_DEBUG && log_level_from_name("nope") < 0, "levels");
	T_OK(log_facility_from_name("local3") == LOG_LOCAL3 && log_facility_from_name("x") < 0, "facilities");

	/* the logging thread: every line out, in order, none dropped */
	{
		char path[] = "/tmp/pmlogXXXXXX", line[256];
		int fd = mkstemp(path), n = 0, inorder = 1;
		FILE *f;
		fflush(stdout);
		if (fd < 0 || dup2(fd, 2) < 0)
			abort();
		log_configure(LOG_DEBUG, 1);
		T_OK(log_async_start() == 0, "logging thread starts");
		for (int i = 0; i < 2000; i++) {
			lb_init(&l, NULL, "seq");
			lb_kvf(&l, "n", "%d", i);
			lb_emit(&l, LOG_DEBUG);
		}
		log_async_stop();
		f = fopen(path, "r");
		while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
			const char *p = strstr(line, "seq n=");
			if (p != NULL && atoi(p + 6) != n++)
				inorder = 0;
		}
		if (f != NULL)
			fclose(f);
		unlink(path);
		T_OK(n == 2000 && inorder, "2000 lines through the logging thread, in order");
		T_OK(log_dropped() == 0, "none dropped");
	}
	T_DONE();
}
