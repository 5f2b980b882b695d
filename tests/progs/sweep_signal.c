/*
 * sweep_signal.c — a program whose clean ending is a signal: it does its
 * work, then terminates itself with SIGTERM (as a supervised worker may).
 * `heapscope sweep --mode=nth` still gets the clean run's call count (the
 * shim's fatal-signal handler writes it), and a run that ends by the same
 * SIGTERM ended as the clean run does. tests/e2e/sweep.sh, part 4c.
 *
 *   call 1  checked: exits 1 when it fails
 *   call 2  tolerated: a failure is skipped, the program carries on to
 *           its usual end (SIGTERM)
 *   call 3  unchecked: a failure is dereferenced (SIGSEGV)
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	char *a = malloc(40);
	if (!a)
		return 1;
	char *b = malloc(50);
	if (b)
		memset(b, 2, 50);
	char *c = malloc(60);                /* UNCHECKED */
	memset(c, 3, 60);
	free(a);
	free(b);
	free(c);
	raise(SIGTERM);
	return 0;
}
