/* File timestamps keep nanoseconds: what utimensat and futimens set, stat, fstat and
 * fstatat read back exactly; UTIME_OMIT leaves a time alone and UTIME_NOW sets the clock's. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "probe.h"

static void expect_times(const char *how, const struct stat *st, long long asec, long ansec, long long msec, long mnsec)
{
	CHECK(st->st_atim.tv_sec == asec && st->st_atim.tv_nsec == ansec && st->st_mtim.tv_sec == msec && st->st_mtim.tv_nsec == mnsec,
		"%s read atime %lld.%09ld mtime %lld.%09ld, expected %lld.%09ld and %lld.%09ld", how,
		(long long)st->st_atim.tv_sec, st->st_atim.tv_nsec, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, asec, ansec, msec, mnsec);
	SAY("%s: atime %lld.%09ld mtime %lld.%09ld", how, (long long)st->st_atim.tv_sec, st->st_atim.tv_nsec, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

int main(void)
{
	const char *path = "/tmp/probe-file-times";
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	REQUIRE(fd >= 0, "open %s: %m", path);
	struct timespec set[2] = { { .tv_sec = 1000000000, .tv_nsec = 123456789 }, { .tv_sec = 2000000000, .tv_nsec = 987654321 } };
	CHECK(utimensat(AT_FDCWD, path, set, 0) == 0, "utimensat: %m");
	struct stat st;
	CHECK(stat(path, &st) == 0, "stat: %m");
	expect_times("utimensat then stat", &st, 1000000000, 123456789, 2000000000, 987654321);

	struct timespec omit_atime[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_sec = 1500000000, .tv_nsec = 1 } };
	CHECK(futimens(fd, omit_atime) == 0, "futimens: %m");
	CHECK(fstat(fd, &st) == 0, "fstat: %m");
	expect_times("futimens (atime omitted) then fstat", &st, 1000000000, 123456789, 1500000000, 1);

	struct timespec before;
	clock_gettime(CLOCK_REALTIME, &before);
	struct timespec now_mtime[2] = { { .tv_nsec = UTIME_OMIT }, { .tv_nsec = UTIME_NOW } };
	CHECK(utimensat(AT_FDCWD, path, now_mtime, 0) == 0, "utimensat UTIME_NOW: %m");
	CHECK(fstatat(AT_FDCWD, path, &st, 0) == 0, "fstatat: %m");
	CHECK(st.st_mtim.tv_sec >= before.tv_sec - 1 && st.st_atim.tv_sec == 1000000000, "UTIME_NOW set mtime %lld (clock %lld)", (long long)st.st_mtim.tv_sec, (long long)before.tv_sec);
	SAY("UTIME_NOW: mtime is the clock's, atime untouched");
	close(fd);
	unlink(path);
	return finish();
}
