/* qsort and bsearch on integers, strings and structs: the results are sorted, keep every
 * element (same checksum) and bsearch finds what is there and nothing else. */
#include <stdint.h>
#include <string.h>
#include "probe.h"

#define N 20000

static int cmp_int(const void *a, const void *b) { int x = *(const int *)a, y = *(const int *)b; return (x > y) - (x < y); }
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

struct rec { uint32_t key; char pad[13]; };
static int cmp_rec(const void *a, const void *b) { uint32_t x = ((const struct rec *)a)->key, y = ((const struct rec *)b)->key; return (x > y) - (x < y); }

static uint32_t lcg = 12345;
static uint32_t next(void) { lcg = lcg * 1103515245u + 12345u; return lcg >> 1; }

static int ints[N];
static struct rec recs[N];

int main(void)
{
	uint64_t sum_before = 0, sum_after = 0;
	for (int i = 0; i < N; i++) { ints[i] = (int)(next() % 100000) - 50000; sum_before += (uint32_t)ints[i]; }
	qsort(ints, N, sizeof *ints, cmp_int);
	int sorted = 1;
	for (int i = 0; i < N; i++) { sum_after += (uint32_t)ints[i]; if (i && ints[i - 1] > ints[i]) sorted = 0; }
	CHECK(sorted && sum_before == sum_after, "ints: sorted %d, checksum %llu vs %llu", sorted, (unsigned long long)sum_after, (unsigned long long)sum_before);
	SAY("%d ints sorted: min %d max %d median %d", N, ints[0], ints[N - 1], ints[N / 2]);

	int key = ints[1234], absent = 50001;
	int *found = bsearch(&key, ints, N, sizeof *ints, cmp_int);
	CHECK(found && *found == key, "bsearch missed %d", key);
	CHECK(!bsearch(&absent, ints, N, sizeof *ints, cmp_int), "bsearch found an absent key");
	SAY("bsearch: found %d, absent %d not found", key, absent);

	static const char *words[] = { "zebra", "apple", "mango", "Alpine", "busybox", "musl", "qemu", "aarch64", "s390x", "" };
	size_t nw = sizeof words / sizeof *words;
	qsort(words, nw, sizeof *words, cmp_str);
	char joined[128] = "";
	for (size_t i = 0; i < nw; i++) { strcat(joined, i ? "," : ""); strcat(joined, words[i]); }
	CHECK(strcmp(joined, ",Alpine,aarch64,apple,busybox,mango,musl,qemu,s390x,zebra") == 0, "strings sorted as %s", joined);
	SAY("strings: %s", joined);

	for (int i = 0; i < N; i++) { recs[i].key = next(); memset(recs[i].pad, (int)(recs[i].key & 0xff), sizeof recs[i].pad); }
	qsort(recs, N, sizeof *recs, cmp_rec);
	int intact = 1;
	for (int i = 0; i < N; i++) {
		if (i && recs[i - 1].key > recs[i].key) intact = 0;
		for (size_t j = 0; j < sizeof recs[i].pad; j++) if ((unsigned char)recs[i].pad[j] != (recs[i].key & 0xff)) intact = 0;
	}
	CHECK(intact, "%zu-byte records scrambled by qsort", sizeof(struct rec));
	SAY("%d %zu-byte records sorted intact: first key %u", N, sizeof(struct rec), recs[0].key);
	return finish();
}
