/* printf of doubles (%f %e %g %a, rounding, subnormals, inf/nan) prints the same text on
 * every ISA, and strtod reads back exactly what %.17g and %a wrote. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "probe.h"

static void fmt(const char *format, double v, const char *want)
{
	char got[64];
	snprintf(got, sizeof got, format, v);
	CHECK(strcmp(got, want) == 0, "printf(\"%s\") gave %s, expected %s", format, got, want);
	SAY("%-6s %s", format, got);
}

int main(void)
{
	volatile double one = 1;
	fmt("%.2f", 2.675 * one, "2.67");     /* 2.675 is 2.67499999... in binary: exact printing rounds down */
	fmt("%.2f", 0.125 * one, "0.12");     /* exact tie rounds to even */
	fmt("%.0f", 2.5 * one, "2");
	fmt("%e", 123456.789 * one, "1.234568e+05");
	fmt("%g", 1e-5 * one, "1e-05");
	fmt("%g", 123456789.0 * one, "1.23457e+08");
	fmt("%.17g", 0.1 * one, "0.10000000000000001");
	fmt("%a", 1.0 * one, "0x1p+0");
	fmt("%a", 0.1 * one, "0x1.999999999999ap-4");
	fmt("%a", DBL_MIN / 4 * one, "0x1p-1024"); /* musl normalises subnormals */
	fmt("%.40f", 1e-40 * one, "0.0000000000000000000000000000000000000001");
	fmt("%f", 1e300 * 1e10 * one, "inf");
	fmt("%f", NAN * one, "nan");
	fmt("%+.1e", -DBL_MAX, "-1.8e+308");

	/* strtod(printf("%.17g", x)) == x for awkward and pseudo-random bit patterns. */
	static const double fixed[] = { 0.1, 1.0 / 3, 5e-324, 2.2250738585072009e-308, DBL_MAX, 9007199254740993.0, 1e23 };
	int exact = 0, total = 0;
	uint64_t state = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < 2000 + (int)(sizeof fixed / sizeof *fixed); i++) {
		double x;
		if (i < (int)(sizeof fixed / sizeof *fixed)) x = fixed[i];
		else {
			state ^= state << 13; state ^= state >> 7; state ^= state << 17;
			memcpy(&x, &state, sizeof x);
			if (!isfinite(x)) continue;
		}
		char text[40], hex[40];
		snprintf(text, sizeof text, "%.17g", x);
		snprintf(hex, sizeof hex, "%a", x);
		double back = strtod(text, NULL), back_hex = strtod(hex, NULL);
		total++;
		if (memcmp(&back, &x, sizeof x) == 0 && memcmp(&back_hex, &x, sizeof x) == 0) exact++;
		else CHECK(0, "round trip of %s / %s failed", text, hex);
	}
	SAY("strtod round trips: %d of %d exact", exact, total);
	CHECK(strtod("1e400", NULL) == HUGE_VAL && strtod("0x1p-1075", NULL) == 0 && strtod("  -0x10", NULL) == -16, "strtod edge cases wrong");
	char *end;
	double partial = strtod("3.5kg", &end);
	CHECK(partial == 3.5 && strcmp(end, "kg") == 0, "strtod stopped at '%s'", end);
	SAY("strtod edges: 1e400 inf, 0x1p-1075 0, -0x10 -16, '3.5kg' stops at %s", end);
	return finish();
}
