/*
 * sweep_cases.c — one allocation site for each outcome of `heapscope
 * sweep` besides the crash (samples/oom_unchecked.c has those):
 *
 *   CASE-HANDLED  checked, nothing held yet: exits 1 cleanly
 *   CASE-LEAKED   checked, but the error path forgets the first block:
 *                 definitely lost, which the clean run never is
 *   CASE-RETRY    retried until it succeeds: a transient failure is
 *                 absorbed (handled), a persistent one spins for ever (hung)
 *
 * tests/e2e/sweep.sh finds the lines by their CASE- marks. Nothing is
 * printed to stdout, so stdio allocates no buffer: these are all the
 * program's allocation sites.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *kept;

/* Returns 0, or -1 when out of memory (leaking on one path). */
static int __attribute__((noinline)) load(void)
{
	char *first = malloc(100); /* CASE-HANDLED */
	if (!first)
		return -1;
	char *second = malloc(200); /* CASE-LEAKED */
	if (!second)
		return -1;                      /* forgets first */
	memset(first, 1, 100);
	memset(second, 2, 200);
	free(first);
	kept = second;
	return 0;
}

static void __attribute__((noinline)) retry(void)
{
	char *p;
	while (!(p = malloc(64))) /* CASE-RETRY */
		;
	memset(p, 3, 64);
	free(p);
}

/* Overwrite the dead stack below us, so that no stale copy of a lost
 * pointer makes the leak scan call it reachable. */
static void __attribute__((noinline)) scrub_stack(void)
{
	volatile char pad[16384];
	memset((char *)pad, 0, sizeof pad);
}

int main(void)
{
	int rc = load();
	scrub_stack();
	if (rc < 0) {
		static const char msg[] = "sweep_cases: out of memory\n";
		if (write(2, msg, sizeof msg - 1) < 0)
			return 2;
		return 1;
	}
	retry();
	free(kept);
	return 0;
}
