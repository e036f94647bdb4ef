/*
 * fuzz.h: what every fuzz target in tests/fuzz shares.
 *
 * A target defines LLVMFuzzerTestOneInput() (and LLVMFuzzerInitialize()
 * when it needs set-up).  Built with clang -fsanitize=fuzzer it is a
 * libFuzzer binary; linked with driver.c (any compiler) it is a plain
 * program that runs the target once over each file or directory named on
 * its command line, which is how tests/hostile-fuzz-corpus.t replays the
 * corpus.  A broken invariant is a crash: FUZZ_CHECK prints what broke and
 * aborts, so libFuzzer saves the input as a crash-* file.
 */
#ifndef POSTIE_FUZZ_H
#define POSTIE_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int	 LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int	 LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * The report goes to stderr and, in a sanitizer build, through the
 * sanitizer's report channel too: libFuzzer's -close_fd_mask=2 (used for
 * the chatty sendmail targets) closes the target's stderr but keeps that.
 */
void	 __sanitizer_report_error_summary(const char *) __attribute__((weak));

static inline void __attribute__((noreturn, format(printf, 4, 5)))
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	char msg[1024];
	int n;
	va_list ap;

	n = snprintf(msg, sizeof msg, "%s:%d: invariant broken: %s: ", file, line, cond);
	if (n < 0 || (size_t)n >= sizeof msg)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", msg);
	if (__sanitizer_report_error_summary)
		__sanitizer_report_error_summary(msg);
	abort();
}

#define FUZZ_CHECK(cond, ...) do {					\
	if (!(cond))							\
		fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);	\
} while (0)

/* A NUL-terminated copy of the input (NULs inside are kept, so C string functions stop there). */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
