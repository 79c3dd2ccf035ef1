/* A tiny DNS server for dns-lookup: UDP on 127.0.0.1:53, it answers A and AAAA for names
 * under probe-dns.test and NXDOMAIN for anything else. It brings lo up first (a fresh net
 * namespace starts with it down), prints "ready" once bound, and serves until SIGTERM or
 * a 60 s alarm. */
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "probe.h"

static const char ZONE[] = "probe-dns.test";
static const unsigned char ADDR4[4] = { 192, 0, 2, 53 };
static const unsigned char ADDR6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x53 };

static void bring_lo_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = { 0 };
	strcpy(ifr.ifr_name, "lo");
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) != 0) perror("dns-responder: cannot bring lo up");
	}
	if (s >= 0) close(s);
}

/* Copies the query's name as dotted text; returns the offset after it, or 0 when malformed. */
static size_t read_qname(const unsigned char *msg, size_t len, char *name, size_t cap)
{
	size_t off = 12, out = 0;
	while (off < len && msg[off]) {
		size_t label = msg[off++];
		if (label > 63 || off + label > len || out + label + 2 > cap) return 0;
		if (out) name[out++] = '.';
		memcpy(name + out, msg + off, label);
		out += label;
		off += label;
	}
	name[out] = 0;
	return off < len ? off + 1 : 0;
}

static int in_zone(const char *name)
{
	size_t n = strlen(name), z = strlen(ZONE);
	return n >= z && strcasecmp(name + n - z, ZONE) == 0 && (n == z || name[n - z - 1] == '.');
}

int main(void)
{
	bring_lo_up();
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	REQUIRE(s >= 0, "socket: %m");
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(53), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	REQUIRE(bind(s, (struct sockaddr *)&sin, sizeof sin) == 0, "bind 127.0.0.1:53: %m (is lo up, is port 53 free?)");
	alarm(60);
	puts("ready");
	fflush(stdout);

	for (;;) {
		unsigned char msg[512];
		struct sockaddr_in peer;
		socklen_t plen = sizeof peer;
		ssize_t len = recvfrom(s, msg, sizeof msg, 0, (struct sockaddr *)&peer, &plen);
		if (len < 12) continue;
		char name[256];
		size_t qend = read_qname(msg, (size_t)len, name, sizeof name);
		if (!qend || qend + 4 > (size_t)len) continue;
		unsigned qtype = msg[qend] << 8 | msg[qend + 1];
		size_t n = qend + 4;
		int found = in_zone(name);
		const unsigned char *rdata = qtype == 1 ? ADDR4 : qtype == 28 ? ADDR6 : NULL;
		size_t rdlen = qtype == 1 ? sizeof ADDR4 : sizeof ADDR6;
		msg[2] = 0x84 | (msg[2] & 0x01); /* QR, AA, keep RD */
		msg[3] = found ? 0 : 3;           /* NOERROR or NXDOMAIN */
		msg[4] = 0; msg[5] = 1;
		memset(msg + 6, 0, 6);
		if (found && rdata) {
			static const unsigned char ttl_and_class[] = { 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c };
			msg[7] = 1;
			msg[n++] = 0xc0; msg[n++] = 12; /* pointer to the question's name */
			msg[n++] = 0; msg[n++] = (unsigned char)qtype;
			memcpy(msg + n, ttl_and_class, sizeof ttl_and_class); n += sizeof ttl_and_class;
			msg[n++] = 0; msg[n++] = (unsigned char)rdlen;
			memcpy(msg + n, rdata, rdlen); n += rdlen;
		}
		fprintf(stderr, "dns-responder: %s type %u -> %s\n", name, qtype, found ? "answer" : "NXDOMAIN");
		sendto(s, msg, n, 0, (struct sockaddr *)&peer, plen);
	}
}
