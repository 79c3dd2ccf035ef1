/* 64-bit time on every ISA, 32-bit ones included: time_t is 64-bit, dates after 2038
 * format right, file timestamps past 2038 survive utimensat/stat (to the second:
 * file-times checks nanoseconds), and the clocks work. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "probe.h"

static void show(time_t t, const char *want)
{
	struct tm tm;
	char buf[64] = "";
	CHECK(gmtime_r(&t, &tm) != NULL, "gmtime_r(%lld) failed", (long long)t);
	strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %a", &tm);
	CHECK(strcmp(buf, want) == 0, "gmtime(%lld) is %s, expected %s", (long long)t, buf, want);
	CHECK(timegm(&tm) == t, "timegm does not invert gmtime for %lld", (long long)t);
	SAY("%lld = %s", (long long)t, buf);
}

int main(void)
{
	CHECK(sizeof(time_t) == 8, "sizeof(time_t) is %zu", sizeof(time_t));
	SAY("sizeof(time_t) %zu", sizeof(time_t));
	show(0, "1970-01-01 00:00:00 Thu");
	show(2147483647, "2038-01-19 03:14:07 Tue");
	show(2147483648LL, "2038-01-19 03:14:08 Tue");
	show(4102444800LL, "2100-01-01 00:00:00 Fri");
	show(-2208988800LL, "1900-01-01 00:00:00 Mon");

	struct timespec rt, m1, m2;
	CHECK(clock_gettime(CLOCK_REALTIME, &rt) == 0 && rt.tv_sec > 1577836800, "CLOCK_REALTIME says %lld, before 2020", (long long)rt.tv_sec);
	CHECK(clock_gettime(CLOCK_MONOTONIC, &m1) == 0, "CLOCK_MONOTONIC: %m");
	for (volatile int i = 0; i < 100000; i++) {}
	clock_gettime(CLOCK_MONOTONIC, &m2);
	CHECK(m2.tv_sec > m1.tv_sec || (m2.tv_sec == m1.tv_sec && m2.tv_nsec >= m1.tv_nsec), "CLOCK_MONOTONIC went back");
	CHECK(time(NULL) >= rt.tv_sec, "time() is behind CLOCK_REALTIME");
	SAY("clock_gettime: realtime after 2020, monotonic non-decreasing");

	const char *path = "/tmp/probe-time64";
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	REQUIRE(fd >= 0, "open %s: %m", path);
	close(fd);
	struct timespec times[2] = { { .tv_sec = 4102444800LL }, { .tv_sec = 2147483648LL + 86400 } };
	CHECK(utimensat(AT_FDCWD, path, times, 0) == 0, "utimensat past 2038: %m");
	struct stat st;
	CHECK(stat(path, &st) == 0, "stat: %m");
	CHECK(st.st_mtime == times[1].tv_sec && st.st_atime == times[0].tv_sec, "mtime, atime read back as %lld, %lld", (long long)st.st_mtime, (long long)st.st_atime);
	SAY("file mtime %lld atime %lld", (long long)st.st_mtime, (long long)st.st_atime);
	unlink(path);
	return finish();
}
