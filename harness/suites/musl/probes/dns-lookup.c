/* getaddrinfo asks a real DNS server over UDP: /etc/resolv.conf (placed by the case) names
 * 127.0.0.1, where the responder given as argv[1] (started here, so no shell is needed)
 * answers for probe-dns.test. Names in no zone must fail with EAI_NONAME. */
#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lookup.h"

static void expect_none(const char *name)
{
	struct addrinfo hints = { .ai_family = AF_INET }, *res = NULL;
	int rc = getaddrinfo(name, NULL, &hints, &res);
	CHECK(rc == EAI_NONAME, "getaddrinfo(%s) gave %d (%s), expected EAI_NONAME", name, rc, gai_strerror(rc));
	SAY("%s -> %s", name, rc == EAI_NONAME ? "no such name" : "unexpected");
	if (!rc) freeaddrinfo(res);
}

int main(int argc, char **argv)
{
	REQUIRE(argc == 2, "usage: dns-lookup <path of dns-responder>");
	int ready[2];
	REQUIRE(pipe(ready) == 0, "pipe: %m");
	pid_t responder = fork();
	REQUIRE(responder >= 0, "fork: %m");
	if (responder == 0) {
		dup2(ready[1], 1);
		close(ready[0]);
		execl(argv[1], argv[1], (char *)NULL);
		fprintf(stderr, "dns-lookup: exec %s: %m\n", argv[1]);
		_exit(127);
	}
	close(ready[1]);
	struct pollfd pfd = { .fd = ready[0], .events = POLLIN };
	char line[16] = "";
	REQUIRE(poll(&pfd, 1, 30000) == 1 && read(ready[0], line, sizeof line - 1) > 0 && strncmp(line, "ready", 5) == 0,
		"the DNS responder %s did not report ready (see its stderr)", argv[1]);

	expect_address("www.probe-dns.test", AF_INET, "192.0.2.53");
	expect_address("WWW.Probe-DNS.test.", AF_INET, "192.0.2.53");
	expect_address("v6.probe-dns.test", AF_INET6, "2001:db8::53");
	expect_none("missing.invalid");

	kill(responder, SIGTERM);
	int status = 0;
	waitpid(responder, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM, "the responder ended with status 0x%x, not by SIGTERM", status);
	return finish();
}
