/* fnmatch patterns and glob over a directory the probe makes in /tmp: sorted results,
 * GLOB_NOMATCH, GLOB_MARK and brace-free classes. */
#include <fnmatch.h>
#include <glob.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "probe.h"

static void fn(const char *pattern, const char *name, int flags, int want)
{
	int rc = fnmatch(pattern, name, flags);
	CHECK((rc == 0) == want, "fnmatch(%s, %s, %d) = %d", pattern, name, flags, rc);
	SAY("fnmatch %s %s flags %d: %s", pattern, name, flags, rc == 0 ? "match" : "no match");
}

int main(void)
{
	fn("*.c", "probe.c", 0, 1);
	fn("*.c", "dir/probe.c", FNM_PATHNAME, 0);
	fn("*/*.c", "dir/probe.c", FNM_PATHNAME, 1);
	fn("*", ".hidden", FNM_PERIOD, 0);
	fn("[a-c]?[!x]", "bzy", 0, 1);
	fn("[[:upper:]]*", "Alpine", 0, 1);
	fn("\\*", "*", 0, 1);
	fn("ALP*", "alpine", FNM_CASEFOLD, 1);

	const char *dir = "/tmp/probe-glob";
	static const char *const names[] = { "b.txt", "a.txt", "c.log", "sub" };
	mkdir(dir, 0755);
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char path[64];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (strcmp(names[i], "sub") == 0) mkdir(path, 0755);
		else close(open(path, O_CREAT | O_WRONLY, 0644));
	}
	glob_t g;
	int rc = glob("/tmp/probe-glob/*", GLOB_MARK, NULL, &g);
	CHECK(rc == 0 && g.gl_pathc == 4, "glob * found %zu entries (rc %d)", rc ? 0 : g.gl_pathc, rc);
	char joined[256] = "";
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
		strcat(joined, i ? " " : "");
		strcat(joined, g.gl_pathv[i] + strlen(dir) + 1);
	}
	CHECK(strcmp(joined, "a.txt b.txt c.log sub/") == 0, "glob gave %s", joined);
	SAY("glob *: %s", joined);
	if (rc == 0) globfree(&g);
	rc = glob("/tmp/probe-glob/*.txt", 0, NULL, &g);
	CHECK(rc == 0 && g.gl_pathc == 2, "glob *.txt found %zu", rc ? 0 : g.gl_pathc);
	SAY("glob *.txt: %zu", rc ? 0 : g.gl_pathc);
	if (rc == 0) globfree(&g);
	rc = glob("/tmp/probe-glob/*.none", 0, NULL, &g);
	CHECK(rc == GLOB_NOMATCH, "glob *.none gave %d", rc);
	SAY("glob *.none: %s", rc == GLOB_NOMATCH ? "GLOB_NOMATCH" : "other");

	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char path[64];
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		remove(path);
	}
	rmdir(dir);
	return finish();
}
