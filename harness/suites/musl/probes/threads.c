/* pthread_create/join: each thread sums its own slice and returns it; the joins see every
 * result, and a detached thread and pthread_once work too. */
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include "probe.h"

#define THREADS 8

static void *sum_slice(void *arg)
{
	uintptr_t part = (uintptr_t)arg, sum = 0;
	for (uintptr_t i = part * 1000; i < (part + 1) * 1000; i++) sum += i;
	return (void *)sum;
}

static int once_runs;
static void once_body(void) { once_runs++; }
static void *call_once(void *arg) { static pthread_once_t once = PTHREAD_ONCE_INIT; pthread_once(&once, once_body); return arg; }

static volatile int detached_ran;
static void *detached(void *arg) { (void)arg; detached_ran = 1; return NULL; }

int main(void)
{
	pthread_t t[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		REQUIRE(pthread_create(&t[i], NULL, sum_slice, (void *)i) == 0, "pthread_create %u failed", (unsigned)i);
	uintptr_t total = 0;
	for (int i = 0; i < THREADS; i++) {
		void *ret;
		CHECK(pthread_join(t[i], &ret) == 0, "pthread_join %d failed", i);
		total += (uintptr_t)ret;
	}
	CHECK(total == 31996000u, "sum of 0..7999 by %d threads is %lu", THREADS, (unsigned long)total);
	SAY("%d threads summed 0..7999: %lu", THREADS, (unsigned long)total);

	for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, call_once, NULL);
	for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
	CHECK(once_runs == 1, "pthread_once body ran %d times", once_runs);
	SAY("pthread_once ran %d time", once_runs);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_t d;
	CHECK(pthread_create(&d, &attr, detached, NULL) == 0, "detached pthread_create failed");
	for (int i = 0; i < 5000 && !detached_ran; i++) usleep(1000);
	CHECK(detached_ran, "the detached thread did not run within 5 s");
	SAY("detached thread with 64 KiB stack ran");
	return finish();
}
