/* Leaks beyond the small-block bins: a page-sized (buddy) block and a
 * mapping-sized (huge) block lost, a huge block held by a global whose
 * contents are the only pointer to a small block (still reachable: huge
 * blocks are scanned like any other), and a lost huge block holding the
 * only pointer to another small block (indirectly lost). */
#include <stdlib.h>
#include <string.h>
#include "leakcase.h"

#define NOINLINE __attribute__((noinline))

char **global_table;

static NOINLINE void lose_large(void)
{
	char *p = malloc(40000);                /* LEAK definite 40000 */
	memset(p, 1, 40000);
}

static NOINLINE void lose_huge(void)
{
	char *p = malloc(6 << 20);              /* LEAK definite 6291456 */
	memset(p, 2, 4096);
}

static NOINLINE void keep_table(void)
{
	global_table = calloc(1 << 20, sizeof(char *));      /* LEAK reachable 8388608 */
	global_table[123456] = malloc(24);      /* LEAK reachable 24 */
}

static NOINLINE void lose_table(void)
{
	char **t = calloc(1 << 20, sizeof(char *));           /* LEAK definite 8388608 */
	t[654321] = malloc(40);                 /* LEAK indirect 40 */
}

int main(void)
{
	lose_large();
	lose_huge();
	keep_table();
	lose_table();
	leakcase_scrub_stack();
	return 0;
}
