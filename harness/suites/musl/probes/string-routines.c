/* The string routines musl implements per ISA (assembly memcpy/memset on some) agree with
 * a byte-by-byte reference for every source and destination alignment 0..15 and every
 * length 0..64, and never touch a byte outside their range. */
#include <stdint.h>
#include <string.h>
#include "probe.h"

#define MAXLEN 64
#define ALIGNS 16
#define BUF (MAXLEN + 2 * ALIGNS + 32)

/* Called through volatile pointers so the compiler cannot inline or fold them. */
static void *(*volatile f_memcpy)(void *, const void *, size_t) = memcpy;
static void *(*volatile f_memmove)(void *, const void *, size_t) = memmove;
static void *(*volatile f_memset)(void *, int, size_t) = memset;
static int (*volatile f_memcmp)(const void *, const void *, size_t) = memcmp;
static size_t (*volatile f_strlen)(const char *) = strlen;
static char *(*volatile f_strchr)(const char *, int) = strchr;
static char *(*volatile f_strcpy)(char *, const char *) = strcpy;

static _Alignas(64) unsigned char src_buf[BUF], dst_buf[BUF], ref_buf[BUF];
static unsigned long checks, failures_by_fn[7];
static const char *const fn_names[7] = { "memcpy", "memmove", "memset", "memcmp", "strlen", "strchr", "strcpy" };

static void fill(unsigned char *b, unsigned seed)
{
	for (size_t i = 0; i < BUF; i++) b[i] = (unsigned char)(seed + i * 7 + 1) | 1; /* no NUL bytes */
}

static void verdict(int fn, int ok, size_t sa, size_t da, size_t len)
{
	checks++;
	if (ok) return;
	if (failures_by_fn[fn]++ < 3) CHECK(0, "%s src+%zu dst+%zu len %zu differs from the reference", fn_names[fn], sa, da, len);
}

int main(void)
{
	for (size_t sa = 0; sa < ALIGNS; sa++)
		for (size_t da = 0; da < ALIGNS; da++)
			for (size_t len = 0; len <= MAXLEN; len++) {
				unsigned char *s = src_buf + 16 + sa, *d = dst_buf + 16 + da, *r = ref_buf + 16 + da;
				fill(src_buf, (unsigned)(sa * 31 + len));
				fill(dst_buf, 200); fill(ref_buf, 200);
				for (size_t i = 0; i < len; i++) ((volatile unsigned char *)r)[i] = s[i];
				f_memcpy(d, s, len);
				verdict(0, memcmp(dst_buf, ref_buf, BUF) == 0, sa, da, len);

				fill(dst_buf, 200); fill(ref_buf, 200);
				f_memset(d, (int)(len + 0x100), len); /* only the low byte counts */
				for (size_t i = 0; i < len; i++) ((volatile unsigned char *)r)[i] = (unsigned char)len;
				verdict(2, memcmp(dst_buf, ref_buf, BUF) == 0, sa, da, len);

				/* memmove within one buffer, overlapping in both directions. */
				fill(dst_buf, 99); fill(ref_buf, 99);
				unsigned char *from = dst_buf + 16 + sa, *to = dst_buf + 16 + da;
				unsigned char tmp[MAXLEN];
				for (size_t i = 0; i < len; i++) tmp[i] = ((volatile unsigned char *)ref_buf)[16 + sa + i];
				for (size_t i = 0; i < len; i++) ((volatile unsigned char *)ref_buf)[16 + da + i] = tmp[i];
				f_memmove(to, from, len);
				verdict(1, memcmp(dst_buf, ref_buf, BUF) == 0, sa, da, len);

				/* memcmp: equal, then differing at the first, middle and last byte, both ways. */
				fill(dst_buf, 5);
				for (size_t i = 0; i < len; i++) d[i] = s[i];
				int eq = f_memcmp(d, s, len) == 0;
				for (size_t k = 0; k < 3 && len; k++) {
					size_t at = k == 0 ? 0 : k == 1 ? len / 2 : len - 1;
					d[at] = s[at] ^ 0x80;
					int sign = d[at] > s[at] ? 1 : -1;
					int got = f_memcmp(d, s, len), got_back = f_memcmp(s, d, len);
					eq = eq && (got > 0 ? 1 : got < 0 ? -1 : 0) == sign && (got_back > 0 ? 1 : got_back < 0 ? -1 : 0) == -sign;
					d[at] = s[at];
				}
				verdict(3, eq, sa, da, len);

				/* Strings: NUL at len; strchr for a byte at the middle, for NUL and for an absent one. */
				fill(src_buf, (unsigned)(sa + len));
				s[len] = 0;
				verdict(4, f_strlen((char *)s) == len, sa, da, len);
				unsigned char target = len ? s[len / 2] : 0;
				size_t first = 0;
				while (first < len && s[first] != target) first++;
				verdict(5, f_strchr((char *)s, target) == (char *)s + first && f_strchr((char *)s, 0) == (char *)s + len
					&& f_strchr((char *)s, 0x100 + 2) == NULL /* 2 never occurs: fill sets bit 0 */, sa, da, len);
				fill(dst_buf, 77); fill(ref_buf, 77);
				for (size_t i = 0; i <= len; i++) ((volatile unsigned char *)r)[i] = s[i];
				verdict(6, f_strcpy((char *)d, (char *)s) == (char *)d && memcmp(dst_buf, ref_buf, BUF) == 0, sa, da, len);
			}
	for (int fn = 0; fn < 7; fn++) SAY("%s: %lu failures", fn_names[fn], failures_by_fn[fn]);
	SAY("%lu checks over alignments 0..%d x 0..%d and lengths 0..%d", checks, ALIGNS - 1, ALIGNS - 1, MAXLEN);
	return finish();
}
