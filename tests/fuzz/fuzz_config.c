/*
 * fuzz_config - config_load (milter/config.c: libconfig, then every key
 * checked) on the input as a config file.  The file is a temporary file
 * under /tmp, created once per process and unlinked at once; it is
 * rewritten for every input and read as /proc/self/fd/N.
 *
 * Inputs over 64 KiB are skipped (a config is small), and so are inputs
 * with libconfig's "@include" directive, which would read other files
 * (/dev/zero ...): that is the administrator's business, not the parser's.
 * Checked: a failure says why; a loaded config holds what was validated
 * (a scan list within the milter's cap, replies that split, a banner of at
 * most 60 characters).  config_unref frees it.
 */
#include "config.h"
#include <fcntl.h>
#include <strings.h>
#include <unistd.h>
#include "pmconfig.h"
#include "fuzz.h"

static int fd = -1;
static char path[64];

static void
init(void)
{
	char tmpl[] = "/tmp/fuzz_config.XXXXXX";

	if ((fd = mkstemp(tmpl)) < 0)
		abort();
	unlink(tmpl);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pm_config *cf;
	char err[1024], code[4], xcode[16];
	const char *text;

	if (size > 64 * 1024)
		return 0;
	for (size_t i = 0; i + 8 <= size; i++)
		if (data[i] == '@' && strncasecmp((const char *)data + i, "@include", 8) == 0)
			return 0;
	if (fd < 0)
		init();
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	err[0] = '\0';
	cf = config_load(path, err, sizeof(err));
	if (cf == NULL) {
		FZ_CHECK(err[0] != '\0');
		return 0;
	}
	FZ_CHECK(cf->refs == 1);
	FZ_CHECK(cf->probe.ntests >= 1 && cf->probe.ntests <= 1024);
	FZ_CHECK(strlen(cf->probe.banner) <= 60);
	FZ_CHECK(reply_split(cf->action.reject_reply, code, xcode, &text) == 0 && code[0] == '5');
	FZ_CHECK(reply_split(cf->action.tempfail_reply, code, xcode, &text) == 0 && code[0] == '4');
	FZ_CHECK(cf->probe.timing.timeout >= cf->probe.timing.connect_timeout);
	FZ_CHECK(cf->probe.target_kind <= PE_TARGET_BANNER);
	(void)stage_name(cf->action.stage);
	(void)action_name(cf->action.on_open);
	config_unref(config_ref(cf));
	FZ_CHECK(cf->refs == 1);
	config_unref(cf);
	return 0;
}
