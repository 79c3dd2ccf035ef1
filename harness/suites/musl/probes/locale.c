/* The C.UTF-8 locale needs no locale files: setlocale accepts it, multibyte conversions
 * handle 1- to 4-byte UTF-8, and wcwidth knows narrow, wide and combining characters. */
#include <langinfo.h>
#include <locale.h>
#include <string.h>
#include <sys/types.h>
#include <wchar.h>
#include <wctype.h>
#include "probe.h"

int main(void)
{
	const char *name = setlocale(LC_ALL, "C.UTF-8");
	REQUIRE(name != NULL, "setlocale(LC_ALL, C.UTF-8) failed");
	SAY("setlocale: %s", name);
	CHECK(MB_CUR_MAX == 4, "MB_CUR_MAX %zu", (size_t)MB_CUR_MAX);
	CHECK(strcmp(nl_langinfo(CODESET), "UTF-8") == 0, "CODESET %s", nl_langinfo(CODESET));
	SAY("MB_CUR_MAX %zu, codeset %s", (size_t)MB_CUR_MAX, nl_langinfo(CODESET));

	const char *text = "h\xc3\xa9llo \xe4\xb8\xad\xe2\x82\xac\xf0\x9f\x98\x80"; /* héllo 中€😀 */
	wchar_t wide[32];
	size_t n = mbstowcs(wide, text, 32);
	static const wchar_t want[] = { 'h', 0xe9, 'l', 'l', 'o', ' ', 0x4e2d, 0x20ac, 0x1f600 };
	CHECK(n == 9 && memcmp(wide, want, sizeof want) == 0, "mbstowcs gave %zu characters", n);
	printf("mbstowcs: %zu characters:", n);
	for (size_t i = 0; i < n && i < 32; i++) printf(" U+%04X", (unsigned)wide[i]);
	putchar('\n');

	char back[64];
	size_t m = wcstombs(back, wide, sizeof back);
	CHECK(m == strlen(text) && strcmp(back, text) == 0, "wcstombs round trip gave %zu bytes", m);
	SAY("wcstombs round trip: %zu bytes", m);

	static const wchar_t widths[] = { 'a', 0xe9, 0x4e2d, 0x0301, 0x1f600, 0x200b };
	static const int want_width[] = { 1, 1, 2, 0, 2, 0 };
	for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
		int w = wcwidth(widths[i]);
		CHECK(w == want_width[i], "wcwidth(U+%04X) = %d, expected %d", (unsigned)widths[i], w, want_width[i]);
		SAY("wcwidth(U+%04X) = %d", (unsigned)widths[i], w);
	}
	CHECK(wcswidth(wide, n) == 11, "wcswidth = %d", wcswidth(wide, n));
	CHECK(towupper(0xe9) == 0xc9 && iswalpha(0x4e2d) && !iswspace(0x4e2d), "wide ctype wrong");
	SAY("wcswidth %d; towupper(U+00E9) U+%04X", wcswidth(wide, n), (unsigned)towupper(0xe9));

	mbstate_t st = { 0 };
	wchar_t wc;
	size_t part = mbrtowc(&wc, "\xe2\x82", 2, &st);
	size_t rest = mbrtowc(&wc, "\xac", 1, &st);
	CHECK(part == (size_t)-2 && rest == 1 && wc == 0x20ac, "split mbrtowc: %zd then %zd -> U+%04X", (ssize_t)part, (ssize_t)rest, (unsigned)wc);
	SAY("mbrtowc across a split: U+%04X", (unsigned)wc);
	CHECK(mbstowcs(NULL, "\xff", 0) == (size_t)-1, "invalid UTF-8 accepted");
	SAY("invalid UTF-8: rejected");
	return finish();
}
