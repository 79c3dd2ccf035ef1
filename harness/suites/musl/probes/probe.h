/* Shared by every probe: CHECK records a failure with a clear message on stderr and goes
 * on, so one run reports every broken promise; SAY prints what the probe saw on stdout
 * (only facts that hold on every ISA, unless the probe is ISA-specific); finish() turns
 * the failure count into the exit status. */
#ifndef PROBE_H
#define PROBE_H
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int probe_failures;

/* Prints one failure; errno is kept so a %m in the message names the failing call's error. */
static void probe_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	fprintf(stderr, "FAIL %s:%d: %s: ", file, line, cond);
	errno = saved;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	errno = saved;
	probe_failures++;
}

#define CHECK(cond, ...) do { if (!(cond)) probe_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); } while (0)

/* A failure that makes the rest of the probe meaningless. */
#define REQUIRE(cond, ...) do { \
	if (!(cond)) { probe_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); fflush(stdout); exit(2); } \
} while (0)

#define SAY(...) do { printf(__VA_ARGS__); putchar('\n'); } while (0)

static inline int finish(void)
{
	fflush(stdout);
	if (probe_failures) fprintf(stderr, "%d check(s) failed\n", probe_failures);
	return probe_failures ? 1 : 0;
}
#endif
