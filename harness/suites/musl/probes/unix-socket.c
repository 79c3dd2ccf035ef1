/* AF_UNIX sockets: a socketpair carries data both ways and passes an open file descriptor
 * with SCM_RIGHTS (cmsg layout differs per ISA), and a named socket in /tmp accepts a
 * connection. */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

int main(void)
{
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair: %m");
	int p[2];
	REQUIRE(pipe(p) == 0, "pipe: %m");
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } control;
	memset(&control, 0, sizeof control);
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
	CHECK(sendmsg(sv[0], &msg, 0) == 1, "sendmsg with SCM_RIGHTS: %m");

	char got = 0;
	struct iovec riov = { .iov_base = &got, .iov_len = 1 };
	union { struct cmsghdr align; char buf[CMSG_SPACE(sizeof(int))]; } rcontrol;
	struct msghdr rmsg = { .msg_iov = &riov, .msg_iovlen = 1, .msg_control = rcontrol.buf, .msg_controllen = sizeof rcontrol.buf };
	CHECK(recvmsg(sv[1], &rmsg, 0) == 1 && got == 'F', "recvmsg: %m");
	struct cmsghdr *rc = CMSG_FIRSTHDR(&rmsg);
	int passed = -1;
	if (rc && rc->cmsg_type == SCM_RIGHTS) memcpy(&passed, CMSG_DATA(rc), sizeof passed);
	CHECK(passed >= 0 && passed != p[1], "no file descriptor arrived");
	char back[8] = "";
	if (passed >= 0) write(passed, "via-fd", 6);
	CHECK(read(p[0], back, sizeof back - 1) == 6 && strcmp(back, "via-fd") == 0, "the passed descriptor does not reach the pipe");
	SAY("SCM_RIGHTS: passed a pipe end, wrote through it: %s", back);

	const char *path = "/tmp/probe-unix.sock";
	unlink(path);
	int srv = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	strcpy(sun.sun_path, path);
	REQUIRE(bind(srv, (struct sockaddr *)&sun, sizeof sun) == 0 && listen(srv, 1) == 0, "bind/listen %s: %m", path);
	pid_t pid = fork();
	if (pid == 0) {
		int c = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(c, (struct sockaddr *)&sun, sizeof sun) != 0) _exit(1);
		write(c, "hello", 5);
		_exit(0);
	}
	int conn = accept(srv, NULL, NULL);
	char hello[8] = "";
	CHECK(conn >= 0 && read(conn, hello, 5) == 5 && strcmp(hello, "hello") == 0, "accepted connection said '%s'", hello);
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "client status 0x%x", status);
	SAY("named socket: accepted '%s'", hello);
	unlink(path);
	return finish();
}
