/* Stale stack slots when exit is called from a live frame (issue #15,
 * class 4; leak_stale.c is the return from main). drop() leaves the only
 * pointers to its block in dead slots below main's frame: definitely
 * lost. main's own frame is live (it called leave(), which calls exit),
 * so its local keeps a block still reachable, and so does a pointer held
 * only in a callee-saved register across the call to exit (the exit path
 * saves it in a frame the scan skips; the unwinder gives it back). */
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

static NOINLINE void drop(void)
{
	char *volatile slots[8192];
	char *p = malloc(72);                   /* LEAK definite 72 */
	memset(p, 7, 72);
	for (int i = 0; i < 8192; i++)
		slots[i] = p;
}

static NOINLINE __attribute__((noreturn)) void leave(void)
{
	exit(0);
}

/* Built with optimisation (the test programs are -O0, where every local
 * lives in the frame): p stays in a callee-saved register across the
 * calls, copied to r12 as well, and in no stack slot. */
static NOINLINE __attribute__((optimize("O2"), noreturn)) void hold_and_leave(void)
{
	char *p = malloc(56);                   /* LEAK reachable 56 */
	memset(p, 5, 56);
#if defined(__x86_64__)
	__asm__ volatile("mov %0, %%r12" : : "r"(p) : "r12");
#endif
	leave();
}

int main(void)
{
	drop();
	char *volatile kept = malloc(24);       /* LEAK reachable 24 */
	memset(kept, 2, 24);
	hold_and_leave();
}
