/* Mutexes and condition variables: a bounded queue between producers and consumers hands
 * over every item exactly once; a timed wait on a condition nobody signals times out. */
#include <errno.h>
#include <pthread.h>
#include <time.h>
#include "probe.h"

#define ITEMS 3000
#define SLOTS 4

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static int queue[SLOTS], head, count, produced_last;
static long consumed_sum, consumed_count;

static void *producer(void *arg)
{
	int base = *(int *)arg;
	for (int i = 1; i <= ITEMS; i++) {
		pthread_mutex_lock(&lock);
		while (count == SLOTS) pthread_cond_wait(&not_full, &lock);
		queue[(head + count++) % SLOTS] = base + i;
		pthread_cond_signal(&not_empty);
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		while (count == 0 && !produced_last) pthread_cond_wait(&not_empty, &lock);
		if (count == 0) { pthread_mutex_unlock(&lock); return NULL; }
		consumed_sum += queue[head];
		consumed_count++;
		head = (head + 1) % SLOTS;
		count--;
		pthread_cond_signal(&not_full);
		pthread_mutex_unlock(&lock);
	}
}

int main(void)
{
	pthread_t p[2], c[2];
	int bases[2] = { 0, 100000 };
	for (int i = 0; i < 2; i++) pthread_create(&c[i], NULL, consumer, NULL);
	for (int i = 0; i < 2; i++) pthread_create(&p[i], NULL, producer, &bases[i]);
	for (int i = 0; i < 2; i++) pthread_join(p[i], NULL);
	pthread_mutex_lock(&lock);
	produced_last = 1;
	pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
	long want = 2L * ITEMS * (ITEMS + 1) / 2 + 100000L * ITEMS;
	CHECK(consumed_count == 2 * ITEMS && consumed_sum == want, "consumed %ld items summing %ld, expected %d summing %ld", consumed_count, consumed_sum, 2 * ITEMS, want);
	SAY("2 producers, 2 consumers: %ld items, sum %ld", consumed_count, consumed_sum);

	pthread_cond_t never = PTHREAD_COND_INITIALIZER;
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += 20 * 1000000;
	if (deadline.tv_nsec >= 1000000000) { deadline.tv_sec++; deadline.tv_nsec -= 1000000000; }
	pthread_mutex_lock(&lock);
	int rc = pthread_cond_timedwait(&never, &lock, &deadline);
	pthread_mutex_unlock(&lock);
	CHECK(rc == ETIMEDOUT, "pthread_cond_timedwait returned %d, expected ETIMEDOUT", rc);
	SAY("timed wait: %s", rc == ETIMEDOUT ? "ETIMEDOUT" : "unexpected");
	return finish();
}
