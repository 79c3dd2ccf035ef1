/* Sleeping and timers: clock_nanosleep (relative and TIMER_ABSTIME), nanosleep and an
 * interval timer each take at least as long as asked, measured on CLOCK_MONOTONIC. */
#include <signal.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "probe.h"

static long long now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static volatile sig_atomic_t alarms;
static void on_alarm(int sig) { (void)sig; alarms++; }

static void took_at_least(const char *what, long long start, long long ms)
{
	long long elapsed = now_ns() - start;
	CHECK(elapsed >= ms * 1000000, "%s took %lld ns, asked for %lld ms", what, elapsed, ms);
	CHECK(elapsed < 10000000000LL, "%s took %lld ms: far too long", what, elapsed / 1000000);
	SAY("%s: at least %lld ms", what, ms);
}

int main(void)
{
	long long start = now_ns();
	struct timespec rel = { .tv_nsec = 30 * 1000000 };
	CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &rel, NULL) == 0, "clock_nanosleep relative failed");
	took_at_least("clock_nanosleep relative 30 ms", start, 30);

	start = now_ns();
	struct timespec abs;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 40 * 1000000;
	if (abs.tv_nsec >= 1000000000) { abs.tv_sec++; abs.tv_nsec -= 1000000000; }
	CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL) == 0, "clock_nanosleep TIMER_ABSTIME failed");
	took_at_least("clock_nanosleep absolute +40 ms", start, 40);

	start = now_ns();
	nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000000 }, NULL);
	took_at_least("nanosleep 20 ms", start, 20);

	signal(SIGALRM, on_alarm);
	struct itimerval it = { .it_interval = { .tv_usec = 10000 }, .it_value = { .tv_usec = 10000 } };
	start = now_ns();
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0, "setitimer: %m");
	while (alarms < 3) pause();
	setitimer(ITIMER_REAL, &(struct itimerval){ 0 }, NULL);
	took_at_least("3 ticks of a 10 ms itimer", start, 29);
	return finish();
}
