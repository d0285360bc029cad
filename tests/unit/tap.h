/* A tiny TAP producer for the C unit tests (header-only):
 *
 *	plan(3);            or no plan: done_testing() prints "1..N"
 *	ok(x > 0, "x is positive");
 *	is_int(got, 42, "answer");
 *	is_str(msg, "config.json: ...", "error names the path");
 *	return done_testing();  exit status 1 if any failed
 *
 * A failing is_int/is_str prints what it got and what it expected as TAP
 * diagnostics ("# got: ..."), so a failure is readable without a debugger. */
#ifndef OCR_TAP_H
#define OCR_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define TAP_UNUSED __attribute__((unused))

struct tap_state {
	int planned; /* -1: no plan given */
	int run, failed;
};

/* The one piece of mutable state: a test binary is one TAP stream. */
static struct tap_state tap_state_ = {-1, 0, 0};

TAP_UNUSED static void plan(int n)
{
	tap_state_.planned = n;
	printf("1..%d\n", n);
}

__attribute__((format(printf, 2, 0))) TAP_UNUSED static bool tap_vok(bool cond, const char *fmt, va_list ap)
{
	tap_state_.run++;
	if (!cond)
		tap_state_.failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_state_.run);
	vprintf(fmt, ap);
	putchar('\n');
	return cond;
}

__attribute__((format(printf, 2, 3))) TAP_UNUSED static bool ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cond = tap_vok(cond, fmt, ap);
	va_end(ap);
	return cond;
}

__attribute__((format(printf, 3, 4))) TAP_UNUSED static bool is_int(long long got, long long expected, const char *fmt,
								    ...)
{
	va_list ap;
	bool cond = got == expected;

	va_start(ap, fmt);
	tap_vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got:      %lld\n#   expected: %lld\n", got, expected);
	return cond;
}

/* NULL equals only NULL. */
__attribute__((format(printf, 3, 4))) TAP_UNUSED static bool is_str(const char *got, const char *expected,
								    const char *fmt, ...)
{
	va_list ap;
	bool cond = (got == NULL || expected == NULL) ? got == expected : strcmp(got, expected) == 0;

	va_start(ap, fmt);
	tap_vok(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   got:      %s%s%s\n#   expected: %s%s%s\n", got ? "\"" : "", got ? got : "NULL",
		       got ? "\"" : "", expected ? "\"" : "", expected ? expected : "NULL", expected ? "\"" : "");
	return cond;
}

__attribute__((format(printf, 1, 2))) TAP_UNUSED static void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Print the plan if none was given and the summary; the exit status for
 * main(): 0 only if every test ran and passed. */
TAP_UNUSED static int done_testing(void)
{
	if (tap_state_.planned < 0)
		printf("1..%d\n", tap_state_.run);
	printf("# %d passed, %d failed\n", tap_state_.run - tap_state_.failed, tap_state_.failed);
	if (tap_state_.planned >= 0 && tap_state_.planned != tap_state_.run) {
		printf("# planned %d tests but ran %d\n", tap_state_.planned, tap_state_.run);
		return 1;
	}
	fflush(stdout);
	return tap_state_.failed == 0 ? 0 : 1;
}

#endif
