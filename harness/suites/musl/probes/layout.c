/* Byte order and data layout match the ISA's ABI: the suite passes the endianness and
 * ELF class from the ISA table, and the probe checks what it sees against them. The first
 * lines follow from those two facts; the rest (alignment of double, long double) is the
 * ISA's own and is printed for the record. */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "probe.h"

struct mixed { char c; short s; int i; long l; long long ll; void *p; };
struct with_double { char c; double d; };

int main(int argc, char **argv)
{
	REQUIRE(argc == 3, "usage: layout <little|big> <32|64>");
	const char *want_endian = argv[1];
	unsigned want_bits = (unsigned)atoi(argv[2]);
	union { uint32_t word; unsigned char bytes[4]; } probe = { .word = 0x01020304 };
	const char *endian = probe.bytes[0] == 4 ? "little" : probe.bytes[0] == 1 ? "big" : "mixed";
	CHECK(strcmp(endian, want_endian) == 0, "byte order is %s, the ISA table says %s", endian, want_endian);
	CHECK(sizeof(void *) * 8 == want_bits, "pointers are %zu bits, the ISA table says ELF%u", sizeof(void *) * 8, want_bits);
	CHECK(sizeof(long) == sizeof(void *) && sizeof(size_t) == sizeof(void *), "long or size_t differs from the pointer size");
	CHECK(sizeof(long long) == 8 && sizeof(int) == 4 && sizeof(short) == 2, "int types off");
	CHECK(sizeof(off_t) == 8 && sizeof(time_t) == 8, "off_t %zu, time_t %zu bytes: musl makes both 64-bit", sizeof(off_t), sizeof(time_t));
	SAY("endian %s", endian);
	SAY("bits %zu", sizeof(void *) * 8);
	SAY("sizeof short %zu int %zu long %zu long long %zu pointer %zu size_t %zu", sizeof(short), sizeof(int), sizeof(long), sizeof(long long), sizeof(void *), sizeof(size_t));
	SAY("sizeof off_t %zu time_t %zu", sizeof(off_t), sizeof(time_t));
	CHECK(offsetof(struct mixed, s) == 2 && offsetof(struct mixed, i) == 4 && offsetof(struct mixed, l) == 8, "struct mixed's head is not packed by natural alignment");
	CHECK(offsetof(struct mixed, p) % alignof(void *) == 0 && sizeof(struct mixed) % alignof(struct mixed) == 0, "struct mixed misaligned");
	SAY("offsetof mixed: s %zu i %zu l %zu", offsetof(struct mixed, s), offsetof(struct mixed, i), offsetof(struct mixed, l));
	SAY("ISA-specific: offsetof mixed ll %zu p %zu size %zu; alignof double %zu, offsetof {char; double} %zu; long double %zu bytes; max_align_t %zu; char %s",
		offsetof(struct mixed, ll), offsetof(struct mixed, p), sizeof(struct mixed), alignof(double), offsetof(struct with_double, d),
		sizeof(long double), alignof(max_align_t), (char)-1 < 0 ? "signed" : "unsigned");
	return finish();
}
