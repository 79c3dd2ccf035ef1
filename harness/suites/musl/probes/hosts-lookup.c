/* getaddrinfo answers from /etc/hosts (the case places the entries) with no DNS server
 * at all; numeric hosts and getnameinfo need no lookup either. (musl matches names in
 * /etc/hosts case-sensitively, unlike glibc: no mixed-case lookups here.) */
#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include "lookup.h"

int main(void)
{
	expect_address("probe-host.test", AF_INET, "10.11.12.13");
	expect_address("probe-alias", AF_INET, "10.11.12.13");
	expect_address("probe-host6.test", AF_INET6, "fd00::1:2");
	expect_address("192.0.2.7", AF_UNSPEC, "192.0.2.7");

	struct addrinfo hints = { .ai_family = AF_INET, .ai_flags = AI_CANONNAME }, *res = NULL;
	int rc = getaddrinfo("probe-alias", NULL, &hints, &res);
	CHECK(rc == 0 && res->ai_canonname && strcmp(res->ai_canonname, "probe-host.test") == 0,
		"canonical name of probe-alias: %s", rc ? gai_strerror(rc) : res->ai_canonname);
	if (!rc) { SAY("probe-alias canonical %s", res->ai_canonname); freeaddrinfo(res); }

	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(80) };
	inet_pton(AF_INET, "10.11.12.13", &sin.sin_addr);
	char host[NI_MAXHOST] = "";
	rc = getnameinfo((struct sockaddr *)&sin, sizeof sin, host, sizeof host, NULL, 0, NI_NAMEREQD);
	CHECK(rc == 0 && strcmp(host, "probe-host.test") == 0, "reverse of 10.11.12.13: %s", rc ? gai_strerror(rc) : host);
	SAY("10.11.12.13 reverse %s", host);

	struct hostent *he = gethostbyname("probe-host.test");
	CHECK(he && he->h_length == 4 && memcmp(he->h_addr_list[0], "\x0a\x0b\x0c\x0d", 4) == 0, "gethostbyname(probe-host.test) failed");
	SAY("gethostbyname ok");
	return finish();
}
