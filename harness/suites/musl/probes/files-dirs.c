/* Files and directories through stdio and syscalls: write, seek, read back with ungetc,
 * rename, dup2, O_CLOEXEC, fcntl record locks, and readdir sees what was made. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "probe.h"

static int cmp_names(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

int main(void)
{
	const char *dir = "/tmp/probe-files";
	REQUIRE(mkdir(dir, 0750) == 0, "mkdir %s: %m", dir);
	FILE *f = fopen("/tmp/probe-files/one.txt", "w+");
	REQUIRE(f != NULL, "fopen w+: %m");
	fprintf(f, "line %d\nsecond line\n", 1);
	CHECK(ftell(f) == 19, "ftell after writing: %ld", ftell(f));
	rewind(f);
	char line[32];
	CHECK(fgets(line, sizeof line, f) && strcmp(line, "line 1\n") == 0, "fgets read '%s'", line);
	int c = fgetc(f);
	ungetc(c, f);
	CHECK(c == 's' && fgetc(f) == 's', "ungetc did not push back");
	fclose(f);
	SAY("stdio write/seek/read/ungetc: ok");

	CHECK(rename("/tmp/probe-files/one.txt", "/tmp/probe-files/two.txt") == 0, "rename: %m");
	CHECK(access("/tmp/probe-files/one.txt", F_OK) != 0 && access("/tmp/probe-files/two.txt", R_OK) == 0, "rename left the wrong names");
	CHECK(symlink("two.txt", "/tmp/probe-files/link") == 0, "symlink: %m");
	char target[32] = "";
	CHECK(readlink("/tmp/probe-files/link", target, sizeof target - 1) == 7 && strcmp(target, "two.txt") == 0, "readlink gave %s", target);
	struct stat st;
	CHECK(stat("/tmp/probe-files/two.txt", &st) == 0 && st.st_size == 19 && S_ISREG(st.st_mode), "stat two.txt: size %lld", (long long)st.st_size);
	SAY("rename, symlink, readlink, stat: ok (size %lld)", (long long)st.st_size);

	int fd = open("/tmp/probe-files/two.txt", O_RDWR | O_CLOEXEC);
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "O_CLOEXEC not set");
	int copy = dup2(fd, 20);
	CHECK(copy == 20 && !(fcntl(copy, F_GETFD) & FD_CLOEXEC), "dup2 to 20 gave %d or kept FD_CLOEXEC", copy);
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 4 };
	CHECK(fcntl(fd, F_SETLK, &lk) == 0, "fcntl F_SETLK: %m");
	lk.l_type = F_UNLCK;
	CHECK(fcntl(fd, F_SETLK, &lk) == 0, "fcntl unlock: %m");
	close(copy);
	close(fd);
	SAY("O_CLOEXEC, dup2, fcntl locks: ok");

	struct dirent **names;
	int n = scandir(dir, &names, NULL, cmp_names);
	char joined[128] = "";
	for (int i = 0; i < n; i++) {
		strcat(joined, i ? " " : "");
		strcat(joined, names[i]->d_name);
		free(names[i]);
	}
	if (n >= 0) free(names);
	CHECK(strcmp(joined, ". .. link two.txt") == 0, "scandir saw: %s", joined);
	SAY("scandir: %s", joined);

	unlink("/tmp/probe-files/link");
	unlink("/tmp/probe-files/two.txt");
	CHECK(rmdir(dir) == 0, "rmdir: %m");
	return finish();
}
