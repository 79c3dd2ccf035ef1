/* setjmp/longjmp restore the stack and callee-saved registers (musl's per-ISA assembly):
 * volatile locals keep their values, jumps out of deep recursion work, and sigsetjmp
 * restores the signal mask. */
#include <setjmp.h>
#include <signal.h>
#include "probe.h"

static jmp_buf env;
static int depth_reached;
/* Volatile, so the compiler sees a way out of recurse() besides longjmp. */
static volatile int jump_out = 1;

static void recurse(int depth)
{
	volatile char pad[256];
	pad[0] = (char)depth;
	depth_reached = depth + pad[0] - (char)depth;
	if (depth < 500) recurse(depth + 1);
	else if (jump_out) longjmp(env, depth);
}

static double fp_work(double x) { return x * 1.5 + 0.25; }

int main(void)
{
	volatile int counter = 0;
	volatile double f = 1.0;
	int rc = setjmp(env);
	counter++;
	f = fp_work(f);
	if (rc == 0) longjmp(env, 0); /* longjmp(.., 0) must return 1 */
	CHECK(rc == 1 && counter == 2 && f == 2.875, "after longjmp(0): rc %d counter %d f %g", rc, (int)counter, f);
	SAY("longjmp(env, 0) returned %d; volatile locals kept: counter %d f %g", rc, (int)counter, (double)f);

	rc = setjmp(env);
	if (rc == 0) recurse(0);
	CHECK(rc == 500 && depth_reached == 500, "jump out of recursion: rc %d depth %d", rc, depth_reached);
	SAY("longjmp out of %d frames returned %d", depth_reached, rc);

	sigjmp_buf senv;
	sigset_t block, now;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	if (sigsetjmp(senv, 1) == 0) {
		sigprocmask(SIG_BLOCK, &block, NULL);
		siglongjmp(senv, 1);
	}
	sigprocmask(SIG_SETMASK, NULL, &now);
	CHECK(!sigismember(&now, SIGUSR1), "siglongjmp did not restore the signal mask");
	SAY("siglongjmp restored the signal mask: %d", !sigismember(&now, SIGUSR1));
	return finish();
}
