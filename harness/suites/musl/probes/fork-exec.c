/* fork, execve and wait with pipes: a child re-executes this binary and answers through a
 * pipe; exit statuses and deaths by signal come back through waitpid; posix_spawn works. */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

extern char **environ;

static int child_mode(const char *arg)
{
	char buf[64];
	ssize_t n = read(0, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = 0;
	printf("child %s read '%s' env %s\n", arg, buf, getenv("PROBE_VAR") ? getenv("PROBE_VAR") : "(unset)");
	return 7;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--child") == 0) return child_mode(argv[2]);

	/* argv[0] of a static binary run by path is that path; /proc/self/exe would name the
	 * emulator to execve under QEMU. */
	const char *self = argv[0];
	int to_child[2], from_child[2];
	REQUIRE(pipe(to_child) == 0 && pipe2(from_child, O_CLOEXEC) == 0, "pipe: %m");
	pid_t pid = fork();
	REQUIRE(pid >= 0, "fork: %m");
	if (pid == 0) {
		dup2(to_child[0], 0);
		dup2(from_child[1], 1);
		close(to_child[1]);
		char *args[] = { (char *)self, "--child", "exec", NULL };
		char *env[] = { "PROBE_VAR=from-parent", NULL };
		execve(self, args, env);
		_exit(126);
	}
	close(to_child[0]);
	close(from_child[1]);
	write(to_child[1], "ping", 4);
	close(to_child[1]);
	char reply[128] = "";
	size_t got = 0;
	for (ssize_t n; (n = read(from_child[0], reply + got, sizeof reply - 1 - got)) > 0;) got += (size_t)n;
	reply[got] = 0;
	int status;
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid: %m");
	CHECK(strcmp(reply, "child exec read 'ping' env from-parent\n") == 0, "child replied '%s'", reply);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7, "child status 0x%x, expected exit 7", status);
	printf("pipe reply: %s", reply);
	SAY("exec'd child exit status %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);

	pid = fork();
	if (pid == 0) { raise(SIGKILL); _exit(0); }
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "killed child status 0x%x", status);
	SAY("killed child: signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	char *spawn_args[] = { (char *)self, "--child", "spawn", NULL };
	int spawn_out[2];
	pipe(spawn_out);
	posix_spawn_file_actions_adddup2(&fa, spawn_out[1], 1);
	int rc = posix_spawn(&pid, self, &fa, NULL, spawn_args, environ);
	CHECK(rc == 0, "posix_spawn: %s", strerror(rc));
	close(spawn_out[1]);
	got = 0;
	for (ssize_t n; (n = read(spawn_out[0], reply + got, sizeof reply - 1 - got)) > 0;) got += (size_t)n;
	reply[got] = 0;
	waitpid(pid, &status, 0);
	CHECK(strncmp(reply, "child spawn read ''", 19) == 0 && WEXITSTATUS(status) == 7, "spawned child said '%s', status 0x%x", reply, status);
	SAY("posix_spawn child exit status %d", WEXITSTATUS(status));
	posix_spawn_file_actions_destroy(&fa);
	return finish();
}
