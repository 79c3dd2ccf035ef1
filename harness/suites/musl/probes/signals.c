/* Signals: sigaction handlers with SA_SIGINFO see the sender's data, blocked signals stay
 * pending until unblocked, and a handler with SA_ONSTACK runs on the sigaltstack. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "probe.h"

static volatile sig_atomic_t usr1_count, usr2_value, on_alt_stack;
static char alt[1 << 16];

static void on_usr1(int sig, siginfo_t *si, void *ctx) { (void)ctx; usr1_count += sig == SIGUSR1 && si->si_signo == SIGUSR1; }
static void on_usr2(int sig, siginfo_t *si, void *ctx) { (void)sig; (void)ctx; usr2_value = si->si_value.sival_int; }
static void on_alt(int sig)
{
	char here;
	(void)sig;
	on_alt_stack = (uintptr_t)&here >= (uintptr_t)alt && (uintptr_t)&here < (uintptr_t)alt + sizeof alt;
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_usr1, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction SIGUSR1: %m");
	raise(SIGUSR1);
	kill(getpid(), SIGUSR1);
	CHECK(usr1_count == 2, "SIGUSR1 handler ran %d times", (int)usr1_count);
	SAY("SIGUSR1 handled %d times", (int)usr1_count);

	sa.sa_sigaction = on_usr2;
	sigaction(SIGUSR2, &sa, NULL);
	sigset_t block, pending;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, NULL);
	CHECK(sigqueue(getpid(), SIGUSR2, (union sigval){ .sival_int = 4242 }) == 0, "sigqueue: %m");
	sigpending(&pending);
	CHECK(sigismember(&pending, SIGUSR2) && usr2_value == 0, "SIGUSR2 not pending while blocked");
	SAY("blocked SIGUSR2 pending: %d", sigismember(&pending, SIGUSR2));
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	CHECK(usr2_value == 4242, "sigqueue value %d, expected 4242", (int)usr2_value);
	SAY("unblocked SIGUSR2 carried %d", (int)usr2_value);

	stack_t ss = { .ss_sp = alt, .ss_size = sizeof alt };
	REQUIRE(sigaltstack(&ss, NULL) == 0, "sigaltstack: %m");
	struct sigaction alt_sa = { .sa_handler = on_alt, .sa_flags = SA_ONSTACK };
	sigemptyset(&alt_sa.sa_mask);
	sigaction(SIGHUP, &alt_sa, NULL);
	raise(SIGHUP);
	CHECK(on_alt_stack, "SA_ONSTACK handler did not run on the alternate stack");
	SAY("SA_ONSTACK handler on the alternate stack: %d", (int)on_alt_stack);

	signal(SIGPIPE, SIG_IGN);
	int p[2];
	pipe(p);
	close(p[0]);
	ssize_t w = write(p[1], "x", 1);
	CHECK(w == -1 && errno == EPIPE, "write to a closed pipe with SIGPIPE ignored: %zd, %m", w);
	SAY("ignored SIGPIPE: write fails with %s", w == -1 ? strerror(errno) : "no error");
	return finish();
}
