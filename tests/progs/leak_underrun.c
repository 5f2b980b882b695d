/* A one-byte underrun (issue #15, class 6): p[-1] is the last byte of
 * heapscope's 16-byte header, the top byte of its check. Size, kind and
 * stack id are intact, and the rest of the check still vouches for them:
 * the block is still classified (definitely lost, as memcheck says) and
 * the damage report names its allocation stack. A second block, never
 * damaged, keeps its own answer. */
#include <stdlib.h>
#include <string.h>
#include "leakcase.h"

#define NOINLINE __attribute__((noinline))

char *kept;

static NOINLINE void underrun_and_drop(void)
{
	char *p = malloc(40);                   /* LEAK definite 40 */
	memset(p, 1, 40);
	p[-1] ^= 0x40;                          /* the header's last byte */
}

static NOINLINE void keep(void)
{
	kept = malloc(64);                      /* LEAK reachable 64 */
	memset(kept, 2, 64);
}

int main(void)
{
	underrun_and_drop();
	keep();
	leakcase_scrub_stack();
	return 0;
}
