/* Stale copies of a pointer in dead stack frames (issue #15, class 4).
 * drop() leaves the only pointers to its block in 8192 slots of its own
 * frame and returns, then main returns: exit runs from
 * __libc_start_call_main on the same stack, and its frames (libc's,
 * ld.so's, heapscope's) never write most of those slots. memcheck sees
 * them as undefined, LeakSanitizer scans from the live stack pointer:
 * both call the block definitely lost, and so must we. Thread-local
 * storage stays live after main returns: its block is still reachable.
 * (leak_stale_exit.c: the same when exit is called from a live frame.) */
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

__thread char *tls_keep;

static NOINLINE void drop(void)
{
	char *volatile slots[8192];
	char *p = malloc(72);                   /* LEAK definite 72 */
	memset(p, 7, 72);
	for (int i = 0; i < 8192; i++)
		slots[i] = p;
}

static NOINLINE void keep_in_tls(void)
{
	tls_keep = malloc(40);                  /* LEAK reachable 40 */
	memset(tls_keep, 4, 40);
}

int main(void)
{
	keep_in_tls();
	drop();
	return 0;
}
