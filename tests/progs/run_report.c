/* run_report — one leak of each simple kind at a known line, for
 * tests/e2e/run_report.sh (heapscope run end to end). Exits with the
 * status given as its argument. "@NAME" marks the lines the test expects. */
#include <stdlib.h>
#include <string.h>

void *kept;                       /* still reachable through a global */

__attribute__((noinline)) static void leaky(void)
{
	char *p = malloc(40);         /* @definite */
	memset(p, 1, 40);
	p = NULL;
}

__attribute__((noinline)) static void keeper(void)
{
	kept = malloc(24);            /* @reachable */
}

int main(int argc, char **argv)
{
	leaky();
	keeper();
	free(malloc(100));
	return argc > 1 ? atoi(argv[1]) : 0;
}
