/* getpwnam/getpwuid/getgrnam read /etc/passwd and /etc/group (no NSS modules): root is
 * uid 0 with home /root, and a name that is not there gives NULL. */
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include "probe.h"

int main(void)
{
	struct passwd *pw = getpwnam("root");
	REQUIRE(pw != NULL, "getpwnam(root) found nothing: is /etc/passwd there?");
	CHECK(pw->pw_uid == 0 && pw->pw_gid == 0 && strcmp(pw->pw_dir, "/root") == 0, "root is uid %u gid %u home %s", (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, pw->pw_dir);
	SAY("getpwnam(root): uid %u gid %u home %s", (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, pw->pw_dir);
	pw = getpwuid(0);
	CHECK(pw && strcmp(pw->pw_name, "root") == 0, "getpwuid(0) is %s", pw ? pw->pw_name : "(none)");
	SAY("getpwuid(0): %s", pw ? pw->pw_name : "(none)");
	struct group *gr = getgrnam("root");
	CHECK(gr && gr->gr_gid == 0, "getgrnam(root) gid %d", gr ? (int)gr->gr_gid : -1);
	SAY("getgrnam(root): gid %d", gr ? (int)gr->gr_gid : -1);
	CHECK(getpwnam("no-such-user-here") == NULL, "found a user that does not exist");
	SAY("getpwnam(no-such-user-here): none");

	char buf[1024];
	struct passwd entry, *result = NULL;
	int rc = getpwnam_r("root", &entry, buf, sizeof buf, &result);
	CHECK(rc == 0 && result == &entry && entry.pw_uid == 0, "getpwnam_r(root): rc %d", rc);
	SAY("getpwnam_r(root): %s", result ? "found" : "none");
	return finish();
}
