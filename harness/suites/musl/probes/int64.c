/* 64-bit integer arithmetic (libgcc helpers on 32-bit ISAs: __divdi3, __udivmoddi4 ...),
 * conversions to and from double, and 64-bit printf/strtoull, agree on every ISA. */
#include <inttypes.h>
#include <string.h>
#include "probe.h"

int main(void)
{
	volatile uint64_t a = 0xfedcba9876543210ull, b = 0x123456789ull;
	volatile int64_t s = -9000000000000000007LL, t = 1000003;
	CHECK(a / b == 0xe0000000ull && a % b == 0x96543210ull, "unsigned div/mod: %" PRIx64 " %" PRIx64, a / b, a % b);
	CHECK(s / t == -8999973000080LL && s % t == -999767LL, "signed div/mod: %" PRId64 " %" PRId64, s / t, s % t);
	CHECK(a * b == 0xcccccccce1833a90ull, "mul: %" PRIx64, a * b);
	CHECK((a >> 37) == 0x7f6e5d4ull && (a << 29) == 0xeca864200000000ull, "shifts: %" PRIx64 " %" PRIx64, a >> 37, a << 29);
	SAY("div %" PRIx64 " mod %" PRIx64 " sdiv %" PRId64 " smod %" PRId64 " mul %" PRIx64, a / b, a % b, s / t, s % t, a * b);
	SAY("shr %" PRIx64 " shl %" PRIx64, a >> 37, a << 29);

	volatile double d = 18446744073709549568.0;
	CHECK((uint64_t)d == 18446744073709549568ull && (double)(uint64_t)0x8000000000000001ull == 9223372036854775808.0,
		"double <-> uint64 conversions wrong");
	CHECK((int64_t)(-d / 4) == -4611686018427387392LL, "double -> int64: %" PRId64, (int64_t)(-d / 4));
	SAY("conversions: %" PRIu64 " %.1f", (uint64_t)d, (double)(uint64_t)0x8000000000000001ull);

	char buf[64];
	snprintf(buf, sizeof buf, "%" PRIu64 " %" PRId64 " %#" PRIx64, UINT64_MAX, INT64_MIN, (uint64_t)a);
	CHECK(strcmp(buf, "18446744073709551615 -9223372036854775808 0xfedcba9876543210") == 0, "printf gave %s", buf);
	CHECK(strtoull("18446744073709551615", NULL, 10) == UINT64_MAX && strtoll("-9223372036854775808", NULL, 0) == INT64_MIN
		&& strtoull("0xfedcba9876543210", NULL, 16) == a, "strtoull/strtoll wrong");
	SAY("printf/strto: %s", buf);
	imaxdiv_t q = imaxdiv(-7, 2);
	CHECK(q.quot == -3 && q.rem == -1, "imaxdiv(-7, 2) = %jd r %jd", q.quot, q.rem);
	SAY("imaxdiv(-7, 2) = %jd r %jd", q.quot, q.rem);
	return finish();
}
