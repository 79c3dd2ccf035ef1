/* iconv converts between UTF-8, ISO-8859-1 and UTF-16 (LE, BE, and BOM-detected) with
 * musl's built-in tables: no gconv modules on disk. */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <sys/types.h>
#include "probe.h"

static char hex[512];

static const char *as_hex(const char *buf, size_t len)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 3 < sizeof hex; i++) o += (size_t)snprintf(hex + o, sizeof hex - o, "%02x", (unsigned char)buf[i]);
	hex[o] = 0;
	return hex;
}

/* Converts and returns the output length, or -1; *irreversible gets iconv's count. */
static long convert(const char *to, const char *from, const char *in, size_t inlen, char *out, size_t cap, size_t *irreversible)
{
	iconv_t cd = iconv_open(to, from);
	CHECK(cd != (iconv_t)-1, "iconv_open(%s, %s): %m", to, from);
	if (cd == (iconv_t)-1) return -1;
	char *ip = (char *)in, *op = out;
	size_t il = inlen, ol = cap;
	size_t rc = iconv(cd, &ip, &il, &op, &ol);
	CHECK(rc != (size_t)-1, "iconv %s -> %s: %m", from, to);
	iconv_close(cd);
	if (irreversible) *irreversible = rc;
	return rc == (size_t)-1 ? -1 : (long)(op - out);
}

static void expect(const char *to, const char *from, const char *in, size_t inlen, const char *want, size_t wantlen)
{
	char out[256];
	long n = convert(to, from, in, inlen, out, sizeof out, NULL);
	if (n < 0) return;
	CHECK((size_t)n == wantlen && memcmp(out, want, wantlen) == 0, "%s -> %s gave %s", from, to, as_hex(out, (size_t)n));
	SAY("%s -> %s: %s", from, to, as_hex(out, (size_t)n));
}

int main(void)
{
	static const char utf8[] = "A\xc3\xa9\xc3\xbf\xe2\x82\xac\xf0\x9f\x98\x80"; /* A é ÿ € 😀 */
	static const char latin1_part[] = "A\xe9\xff";
	static const char utf16le[] = "A\0\xe9\0\xff\0\xac\x20\x3d\xd8\x00\xde";
	static const char utf16be[] = "\0A\0\xe9\0\xff\x20\xac\xd8\x3d\xde\x00";
	size_t u8 = sizeof utf8 - 1;

	expect("ISO-8859-1", "UTF-8", utf8, 5, latin1_part, 3);
	expect("UTF-8", "ISO-8859-1", latin1_part, 3, utf8, 5);
	expect("UTF-16LE", "UTF-8", utf8, u8, utf16le, 12);
	expect("UTF-16BE", "UTF-8", utf8, u8, utf16be, 12);
	expect("UTF-8", "UTF-16LE", utf16le, 12, utf8, u8);
	expect("UTF-8", "UTF-16BE", utf16be, 12, utf8, u8);

	/* "UTF-16" input: a BOM picks the byte order and is dropped; without one it is BE. */
	static const char bom_le[] = "\xff\xfe" "A\0\xe9\0";
	static const char bom_be[] = "\xfe\xff" "\0A\0\xe9";
	expect("UTF-8", "UTF-16", bom_le, 6, "A\xc3\xa9", 3);
	expect("UTF-8", "UTF-16", bom_be, 6, "A\xc3\xa9", 3);
	expect("UTF-8", "UTF-16", bom_be + 2, 4, "A\xc3\xa9", 3);

	/* A character ISO-8859-1 lacks: musl substitutes '*' and counts one irreversible conversion. */
	char out[16];
	size_t irreversible = 0;
	long n = convert("ISO-8859-1", "UTF-8", "x\xe2\x82\xacy", 5, out, sizeof out, &irreversible);
	CHECK(n == 3 && irreversible == 1, "unrepresentable euro: %ld bytes, %zu irreversible", n, irreversible);
	SAY("euro to ISO-8859-1: %s, %zu irreversible", n < 0 ? "error" : as_hex(out, (size_t)n), irreversible);

	/* Invalid UTF-8 stops with EILSEQ. */
	iconv_t cd = iconv_open("UTF-16LE", "UTF-8");
	char bad[] = "a\xc3(", *ip = bad, *op = out;
	size_t il = 3, ol = sizeof out;
	errno = 0;
	size_t rc = iconv(cd, &ip, &il, &op, &ol);
	CHECK(rc == (size_t)-1 && errno == EILSEQ && ip == bad + 1, "invalid UTF-8: rc %zd errno %d at offset %td", (ssize_t)rc, errno, ip - bad);
	SAY("invalid UTF-8: %s at byte %td", errno == EILSEQ ? "EILSEQ" : "no error", ip - bad);
	iconv_close(cd);

	CHECK(iconv_open("NO-SUCH-CHARSET", "UTF-8") == (iconv_t)-1 && errno == EINVAL, "unknown charset accepted");
	SAY("unknown charset: EINVAL");
	return finish();
}
