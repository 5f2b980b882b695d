/* The only pointer to the block points 40 bytes inside it: possibly lost.
 * (Offset 40 and zeroed contents match none of memcheck's heuristics.) */
#include <stdlib.h>
#include <string.h>
#include "leakcase.h"

static char *cursor;

static void __attribute__((noinline)) setup(void)
{
	char *p = malloc(100);                  /* LEAK possible 100 */
	memset(p, 0, 100);
	cursor = p + 40;
}

int main(void)
{
	setup();
	leakcase_scrub_stack();
	return 0;
}
