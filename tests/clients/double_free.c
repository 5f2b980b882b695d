/* tests/clients: the same block freed twice (memcheck: one "Invalid
 * free()"). Natively glibc aborts here; under a checker it carries on. */
#include <stdio.h>
#include <stdlib.h>

static void __attribute__((noinline)) release(char *p)
{
	free(p);
}

int main(void)
{
	char *p = malloc(32);
	p[0] = 'x';
	release(p);
	release(p);
	puts("done");
	return 0;
}
