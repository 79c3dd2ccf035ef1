/* Randomness without any file but /dev: getrandom(2) fills the buffer, /dev/urandom reads,
 * and two draws differ (the bytes themselves are never printed). */
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include "probe.h"

static int all_zero(const unsigned char *b, size_t n) { for (size_t i = 0; i < n; i++) if (b[i]) return 0; return 1; }

int main(void)
{
	unsigned char a[32], b[32];
	ssize_t n = getrandom(a, sizeof a, 0);
	CHECK(n == (ssize_t)sizeof a, "getrandom returned %zd: %m", n);
	CHECK(getrandom(b, sizeof b, GRND_NONBLOCK) == (ssize_t)sizeof b, "getrandom GRND_NONBLOCK: %m");
	CHECK(!all_zero(a, sizeof a) && memcmp(a, b, sizeof a) != 0, "getrandom gave zeros or the same bytes twice");
	SAY("getrandom: %zd bytes, two draws differ", n);

	int fd = open("/dev/urandom", O_RDONLY);
	REQUIRE(fd >= 0, "open /dev/urandom: %m");
	CHECK(read(fd, a, sizeof a) == (ssize_t)sizeof a && read(fd, b, sizeof b) == (ssize_t)sizeof b, "read /dev/urandom: %m");
	close(fd);
	CHECK(!all_zero(a, sizeof a) && memcmp(a, b, sizeof a) != 0, "/dev/urandom gave zeros or the same bytes twice");
	SAY("/dev/urandom: two reads of 32 bytes differ");

	char name[] = "/tmp/probe-random-XXXXXX";
	fd = mkstemp(name);
	CHECK(fd >= 0 && strncmp(name, "/tmp/probe-random-", 18) == 0 && strcmp(name + 18, "XXXXXX") != 0, "mkstemp: %m");
	if (fd >= 0) { close(fd); unlink(name); }
	SAY("mkstemp made a unique name");
	return finish();
}
