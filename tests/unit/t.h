/*
 * t.h - a tiny test harness: each check prints "PASS: name" or
 * "FAIL: name (file:line: detail)"; the program exits non-zero on any
 * failure.  tests/run-all.sh counts the lines.
 */
#ifndef T_H
#define T_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failed, t_passed;
static const char *t_prog = "";

#define T_OK(cond, name) do { \
	if (cond) { t_passed++; printf("PASS: %s%s\n", t_prog, name); } \
	else { t_failed++; printf("FAIL: %s%s (%s:%d: %s)\n", t_prog, name, __FILE__, __LINE__, #cond); } \
} while (0)

#define T_STREQ(got, want, name) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ != NULL && strcmp(g_, w_) == 0) { t_passed++; printf("PASS: %s%s\n", t_prog, name); } \
	else { t_failed++; printf("FAIL: %s%s (%s:%d: got \"%s\", want \"%s\")\n", t_prog, name, __FILE__, __LINE__, g_ ? g_ : "(null)", w_); } \
} while (0)

#define T_DONE() do { fflush(stdout); return t_failed ? 1 : 0; } while (0)
#endif
