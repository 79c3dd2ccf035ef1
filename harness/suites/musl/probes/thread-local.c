/* _Thread_local and pthread keys: every thread sees its own copy, initialised from the
 * TLS image, and key destructors run at thread exit. */
#include <pthread.h>
#include <stdint.h>
#include "probe.h"

#define THREADS 6

static _Thread_local int counter = 42;
static _Thread_local char tag[16] = "init";
static pthread_key_t key;
static int destructor_runs;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void destructor(void *value) { pthread_mutex_lock(&lock); destructor_runs += value != NULL; pthread_mutex_unlock(&lock); }

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	int ok = counter == 42 && tag[0] == 'i';
	for (int i = 0; i < 1000; i++) counter += id;
	snprintf(tag, sizeof tag, "t%d", id);
	pthread_setspecific(key, &counter);
	ok = ok && counter == 42 + 1000 * id && *(int *)pthread_getspecific(key) == counter;
	return (void *)(intptr_t)ok;
}

int main(void)
{
	REQUIRE(pthread_key_create(&key, destructor) == 0, "pthread_key_create failed");
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) REQUIRE(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)(i + 1)) == 0, "pthread_create failed");
	int good = 0;
	for (int i = 0; i < THREADS; i++) {
		void *ok;
		pthread_join(t[i], &ok);
		good += ok != NULL;
	}
	CHECK(good == THREADS, "%d of %d threads saw a private, initialised TLS copy", good, THREADS);
	CHECK(counter == 42 && tag[0] == 'i', "main thread's copy changed: counter %d tag %s", counter, tag);
	CHECK(destructor_runs == THREADS, "key destructor ran %d times", destructor_runs);
	SAY("%d/%d threads had private TLS; main counter %d tag %s; destructors %d", good, THREADS, counter, tag, destructor_runs);
	return finish();
}
