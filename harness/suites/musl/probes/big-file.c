/* Files over 4 GiB: a sparse file in /tmp with one block at 5 GiB; its size, the data
 * read back and lseek's offsets all need 64-bit off_t (also on 32-bit ISAs). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "probe.h"

int main(void)
{
	const char *path = "/tmp/probe-big-file";
	const off_t at = 5LL << 30;
	static const char data[] = "beyond four gibibytes";
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	REQUIRE(fd >= 0, "open %s: %m", path);
	CHECK(lseek(fd, at, SEEK_SET) == at, "lseek to 5 GiB: %m");
	CHECK(write(fd, data, sizeof data) == (ssize_t)sizeof data, "write at 5 GiB: %m");
	struct stat st;
	CHECK(fstat(fd, &st) == 0 && st.st_size == at + (off_t)sizeof data, "fstat size %lld, expected %lld", (long long)st.st_size, (long long)(at + (off_t)sizeof data));
	SAY("size %lld", (long long)st.st_size);
	CHECK(st.st_blocks * 512LL < (1LL << 30), "the file is not sparse: %lld blocks", (long long)st.st_blocks);

	char back[sizeof data] = "";
	CHECK(pread(fd, back, sizeof back, at) == (ssize_t)sizeof back && memcmp(back, data, sizeof data) == 0, "pread at 5 GiB: %m");
	SAY("read back at 5 GiB: %s", back);
	char hole[8] = "xxxxxxx";
	CHECK(pread(fd, hole, sizeof hole, 4LL << 30) == (ssize_t)sizeof hole && memcmp(hole, "\0\0\0\0\0\0\0\0", 8) == 0, "the hole at 4 GiB is not zeros");
	SAY("hole at 4 GiB reads zeros");
	CHECK(lseek(fd, 0, SEEK_END) == st.st_size, "SEEK_END offset wrong");
	CHECK(ftruncate(fd, 6LL << 30) == 0 && fstat(fd, &st) == 0 && st.st_size == 6LL << 30, "ftruncate to 6 GiB: %m");
	SAY("ftruncate to %lld", (long long)st.st_size);
	close(fd);
	FILE *f = fopen(path, "rb");
	CHECK(f && fseeko(f, at, SEEK_SET) == 0 && ftello(f) == at, "fseeko/ftello at 5 GiB failed");
	SAY("fseeko/ftello at %lld", f ? (long long)ftello(f) : -1LL);
	if (f) fclose(f);
	unlink(path);
	return finish();
}
