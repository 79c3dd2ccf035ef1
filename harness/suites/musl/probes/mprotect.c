/* mmap and mprotect: pages are readable and writable as mapped; after mprotect to
 * PROT_READ a write faults with SIGSEGV at that address (caught, then recovered with
 * siglongjmp); PROT_NONE faults reads too; MAP_SHARED pages survive fork. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "probe.h"

static sigjmp_buf recover;
static volatile uintptr_t fault_addr;
static volatile int fault_code;

static void on_segv(int sig, siginfo_t *si, void *ctx)
{
	(void)sig; (void)ctx;
	fault_addr = (uintptr_t)si->si_addr;
	fault_code = si->si_code;
	siglongjmp(recover, 1);
}

static int faults(volatile char *p, int write)
{
	fault_addr = 0;
	if (sigsetjmp(recover, 1)) return 1;
	if (write) *p = 1; else (void)*p;
	return 0;
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	CHECK(page >= 4096 && (page & (page - 1)) == 0, "odd page size %ld", page);
	char *p = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(p != MAP_FAILED, "mmap: %m");
	CHECK(p[0] == 0 && p[2 * page - 1] == 0, "anonymous memory not zeroed");
	memset(p, 0xab, (size_t)page * 2);

	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);

	CHECK(!faults(p + 10, 1), "write to a PROT_READ|PROT_WRITE page faulted");
	REQUIRE(mprotect(p + page, (size_t)page, PROT_READ) == 0, "mprotect PROT_READ: %m");
	CHECK(!faults(p + page + 5, 0), "read of a PROT_READ page faulted");
	int wrote = faults(p + page + 5, 1);
	uintptr_t target = (uintptr_t)(p + page + 5);
	CHECK(wrote && fault_addr <= target && fault_addr >= target - 5, "write to PROT_READ: faulted %d at %p, expected %p or its page", wrote, (void *)fault_addr, (void *)target);
	CHECK(fault_code == SEGV_ACCERR, "si_code %d, expected SEGV_ACCERR", fault_code);
	SAY("write to PROT_READ page: SIGSEGV in the page, %s", fault_code == SEGV_ACCERR ? "SEGV_ACCERR" : "other code");
	CHECK((unsigned char)p[page + 5] == 0xab, "the faulting write changed the page");

	mprotect(p + page, (size_t)page, PROT_NONE);
	CHECK(faults(p + page, 0), "read of a PROT_NONE page did not fault");
	SAY("read of PROT_NONE page: SIGSEGV");
	mprotect(p + page, (size_t)page, PROT_READ | PROT_WRITE);
	CHECK(!faults(p + page + 5, 1), "write after restoring PROT_WRITE faulted");
	SAY("write after mprotect back to RW: ok");
	munmap(p, (size_t)page * 2);

	int *shared = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	REQUIRE(shared != MAP_FAILED, "mmap shared: %m");
	pid_t pid = fork();
	if (pid == 0) { *shared = 31337; _exit(0); }
	waitpid(pid, NULL, 0);
	CHECK(*shared == 31337, "MAP_SHARED write by the child not seen: %d", *shared);
	SAY("MAP_SHARED across fork: %d", *shared);
	return finish();
}
