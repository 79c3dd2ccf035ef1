/* Shared by the name-lookup probes: resolve one name for one family and check the first
 * address against the expected text. */
#ifndef LOOKUP_H
#define LOOKUP_H
#include <arpa/inet.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include "probe.h"

static void expect_address(const char *name, int family, const char *want)
{
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM }, *res = NULL;
	int rc = getaddrinfo(name, "53", &hints, &res);
	CHECK(rc == 0, "getaddrinfo(%s): %s", name, gai_strerror(rc));
	if (rc) return;
	char text[INET6_ADDRSTRLEN] = "";
	const void *addr = res->ai_family == AF_INET
		? (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr
		: (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr;
	inet_ntop(res->ai_family, addr, text, sizeof text);
	CHECK(strcmp(text, want) == 0, "%s resolved to %s, expected %s", name, text, want);
	CHECK(res->ai_next == NULL, "%s: more than one result for one family and socket type", name);
	SAY("%s -> %s", name, text);
	freeaddrinfo(res);
}
#endif
