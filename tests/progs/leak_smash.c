/* A heap damaged so badly that a walk cannot trust it: a run of small
 * blocks written over end to end (every header in the run destroyed), a
 * page block's header zeroed, an aligned block's padding header smashed.
 * The leak scan must skip what it cannot trust, say how much in a `!`
 * line, and neither crash nor loop; the exit check reports the damage.
 * The blocks nobody damaged are classified as usual. */
#include <stdlib.h>
#include <string.h>
#include "leakcase.h"

#define NOINLINE __attribute__((noinline))
#define N 64

char *kept;

static NOINLINE void smash(void)
{
	char *p[N], *lo = NULL, *hi = NULL;
	for (int i = 0; i < N; i++) {
		p[i] = malloc(32);
		if (!lo || p[i] < lo)
			lo = p[i];
		if (!hi || p[i] > hi)
			hi = p[i];
	}
	/* from the lowest block to the end of the highest: the blocks of one
	 * slab lie side by side (slots of 48 bytes) */
	if (hi - lo < 64 * 1024)
		memset(lo - 16, 0xA5, (size_t)(hi - lo) + 48);
	char *big = malloc(100000);
	memset(big - 16, 0, 16);
	char *al = aligned_alloc(256, 64);
	memset(al - 256, 0x5A, 256);
}

static NOINLINE void keep(void)
{
	kept = malloc(200);                     /* untouched: still reachable */
	memset(kept, 3, 200);
}

int main(void)
{
	keep();
	smash();
	leakcase_scrub_stack();
	return 0;
}
