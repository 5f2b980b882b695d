/* A leak at the end of a six-frame call chain: level6 <- ... <- level1. */
#include <stdlib.h>
#include <string.h>
#include "leakcase.h"

#define NOINLINE __attribute__((noinline))

static NOINLINE void level6(int n)
{
	char *p = malloc(48 + n);               /* LEAK definite 48 */
	memset(p, 6, 48);
}
static NOINLINE void level5(int n) { level6(n); }
static NOINLINE void level4(int n) { level5(n); }
static NOINLINE void level3(int n) { level4(n); }
static NOINLINE void level2(int n) { level3(n); }
static NOINLINE void level1(int n) { level2(n); }

int main(void)
{
	level1(0);
	leakcase_scrub_stack();
	return 0;
}
