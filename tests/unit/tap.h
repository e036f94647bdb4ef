/*
 * tap.h - a tiny header-only TAP producer for Postie's C unit tests.
 *
 *	#include "tap.h"
 *	int main(void)
 *	{
 *		tap_plan(3);			// optional
 *		tap_ok(1 + 1 == 2, "addition %s", "works");
 *		tap_is_str(got, "expected", "string is right");
 *		tap_is_int(n, 42, "count is right");
 *		return tap_done();		// 0 if all passed, else 1
 *	}
 *
 * Each test prints "ok N - name" or "not ok N - name" on stdout; failure
 * diagnostics go to stderr as "# " lines. tap_done() prints the plan "1..N"
 * if tap_plan() was not called, and returns the exit status for main().
 * Use tap_diag() for extra diagnostics and tap_skip() for skipped tests.
 */
#ifndef POSTIE_TAP_H
#define POSTIE_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TAP_UNUSED __attribute__((unused))
#else
#define TAP_PRINTF(f, a)
#define TAP_UNUSED
#endif

static struct {
	int run;	/* tests run */
	int failed;	/* tests failed */
	int planned;	/* plan given, -1 if none */
} tap_state TAP_UNUSED = { 0, 0, -1 };

static inline void tap_plan(int n)
{
	tap_state.planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

/* tap_diag(fmt, ...): a "# " diagnostic line on stderr. */
static inline TAP_PRINTF(1, 2) void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("# ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* Print a test name with newlines replaced and '#' escaped. */
static inline void tap_print_name_(const char *name)
{
	for (; *name; name++) {
		if (*name == '\n' || *name == '\r')
			putchar(' ');
		else if (*name == '#')
			fputs("\\#", stdout);
		else
			putchar(*name);
	}
}

static inline TAP_PRINTF(2, 0) int tap_vok_(int cond, const char *fmt, va_list ap)
{
	char name[1024];

	vsnprintf(name, sizeof name, fmt, ap);
	tap_state.run++;
	if (!cond)
		tap_state.failed++;
	printf("%sok %d - ", cond ? "" : "not ", tap_state.run);
	tap_print_name_(name);
	putchar('\n');
	fflush(stdout);
	if (!cond)
		tap_diag("  Failed test '%s'", name);
	return cond;
}

/* tap_ok(cond, fmt, ...): one test, passed if cond is non-zero. Returns cond != 0. */
static inline TAP_PRINTF(2, 3) int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = tap_vok_(cond != 0, fmt, ap);
	va_end(ap);
	return r;
}

/* tap_skip(reason, fmt, ...): a test not run, counted as passed. */
static inline TAP_PRINTF(2, 3) void tap_skip(const char *reason, const char *fmt, ...)
{
	char name[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(name, sizeof name, fmt, ap);
	va_end(ap);
	tap_state.run++;
	printf("ok %d - ", tap_state.run);
	tap_print_name_(name);
	printf(" # SKIP %s\n", reason ? reason : "");
	fflush(stdout);
}

/* Print a string for a diagnostic, with control characters escaped. */
static inline void tap_show_str_(const char *label, const char *s)
{
	char buf[1024];
	size_t n = 0;

	if (s == NULL) {
		tap_diag("%s NULL", label);
		return;
	}
	for (; *s && n + 8 < sizeof buf; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\n') {
			buf[n++] = '\\';
			buf[n++] = 'n';
		} else if (c == '\r') {
			buf[n++] = '\\';
			buf[n++] = 'r';
		} else if (c == '\t') {
			buf[n++] = '\\';
			buf[n++] = 't';
		} else if (c == '\\' || c == '"') {
			buf[n++] = '\\';
			buf[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(buf + n, sizeof buf - n, "\\x%02x", c);
		} else {
			buf[n++] = (char)c;
		}
	}
	buf[n] = '\0';
	tap_diag("%s \"%s\"%s", label, buf, *s ? "..." : "");
}

/* tap_is_str(got, expected, name): string equality, NULL-safe (NULL == NULL). */
static inline int tap_is_str(const char *got, const char *expected, const char *name)
{
	int same = (got == NULL || expected == NULL) ? got == expected
						      : strcmp(got, expected) == 0;

	tap_ok(same, "%s", name);
	if (!same) {
		tap_show_str_("         got:", got);
		tap_show_str_("    expected:", expected);
	}
	return same;
}

/* tap_is_int(got, expected, name): integer equality. */
static inline int tap_is_int(long long got, long long expected, const char *name)
{
	int same = got == expected;

	tap_ok(same, "%s", name);
	if (!same) {
		tap_diag("         got: %lld", got);
		tap_diag("    expected: %lld", expected);
	}
	return same;
}

/* tap_is_mem(got, got_len, expected, expected_len, name): byte equality. */
static inline int tap_is_mem(const void *got, size_t got_len, const void *expected,
			     size_t expected_len, const char *name)
{
	int same = got_len == expected_len &&
		   (got_len == 0 || (got != NULL && expected != NULL &&
				     memcmp(got, expected, got_len) == 0));

	tap_ok(same, "%s", name);
	if (!same) {
		const unsigned char *g = got, *e = expected;
		size_t i = 0;

		while (g && e && i < got_len && i < expected_len && g[i] == e[i])
			i++;
		tap_diag("    got %zu bytes, expected %zu bytes, first difference at offset %zu",
			 got_len, expected_len, i);
	}
	return same;
}

/* tap_done(): print the plan if none was given; return the exit status for main(). */
static inline int tap_done(void)
{
	if (tap_state.planned < 0)
		printf("1..%d\n", tap_state.run);
	fflush(stdout);
	if (tap_state.planned >= 0 && tap_state.planned != tap_state.run) {
		tap_diag("Looks like you planned %d tests but ran %d.", tap_state.planned,
			 tap_state.run);
		return 255;
	}
	if (tap_state.failed) {
		tap_diag("Looks like you failed %d test(s) of %d.", tap_state.failed, tap_state.run);
		return 1;
	}
	return 0;
}

#endif /* POSTIE_TAP_H */
