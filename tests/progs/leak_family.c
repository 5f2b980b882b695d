/* One leak from each allocation function besides plain malloc. */
#include <stdlib.h>
#include <string.h>
#include "leakcase.h"

#define NOINLINE __attribute__((noinline))

static NOINLINE void leak_calloc(void)
{
	long *p = calloc(10, sizeof(long));     /* LEAK definite 80 */
	p[3] = 3;
}

static NOINLINE void leak_realloc(void)
{
	char *p = malloc(10);
	memset(p, 1, 10);
	p = realloc(p, 200);                    /* LEAK definite 200 */
	p[150] = 2;
}

static NOINLINE void leak_strdup(void)
{
	char *s = strdup("heapscope");          /* LEAK definite 10 */
	s[0] = 'H';
}

static NOINLINE void leak_posix_memalign(void)
{
	void *p = NULL;
	if (posix_memalign(&p, 64, 256) == 0)   /* LEAK definite 256 */
		memset(p, 3, 256);
}

static NOINLINE void leak_aligned_alloc(void)
{
	char *p = aligned_alloc(128, 384);      /* LEAK definite 384 */
	memset(p, 4, 384);
}

int main(void)
{
	leak_calloc();
	leak_realloc();
	leak_strdup();
	leak_posix_memalign();
	leak_aligned_alloc();
	leakcase_scrub_stack();
	return 0;
}
