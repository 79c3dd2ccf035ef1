/* C11 atomics under contention: fetch_add, compare_exchange, exchange and atomic_flag
 * spin locks from several threads give exact totals (musl's and the compiler's atomics
 * on each ISA, and QEMU's emulation of them). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "probe.h"

#define THREADS 4
#define ROUNDS 20000

static atomic_int added;
static atomic_llong wide;
static atomic_uint cas_total;
static atomic_flag spin = ATOMIC_FLAG_INIT;
static long guarded;

static void *work(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		atomic_fetch_add_explicit(&added, 1, memory_order_relaxed);
		atomic_fetch_add(&wide, 0x100000001LL);
		unsigned seen = atomic_load(&cas_total);
		while (!atomic_compare_exchange_weak(&cas_total, &seen, seen + 3)) {}
		while (atomic_flag_test_and_set_explicit(&spin, memory_order_acquire)) {}
		guarded++;
		atomic_flag_clear_explicit(&spin, memory_order_release);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) REQUIRE(pthread_create(&t[i], NULL, work, NULL) == 0, "pthread_create failed");
	for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
	const long n = (long)THREADS * ROUNDS;
	CHECK(atomic_load(&added) == n, "fetch_add total %d, expected %ld", atomic_load(&added), n);
	CHECK(atomic_load(&wide) == n * 0x100000001LL, "64-bit fetch_add total %llx", (unsigned long long)atomic_load(&wide));
	CHECK(atomic_load(&cas_total) == 3 * (unsigned)n, "compare_exchange total %u", atomic_load(&cas_total));
	CHECK(guarded == n, "atomic_flag lock lost updates: %ld", guarded);
	int old = atomic_exchange(&added, -1);
	CHECK(old == n && atomic_load(&added) == -1, "exchange returned %d", old);
	SAY("fetch_add %ld, 64-bit %llx, cas %u, flag-locked %ld, exchange ok", n,
		(unsigned long long)atomic_load(&wide), atomic_load(&cas_total), guarded);
	return finish();
}
