/*
 * err_double_free.c — the same block freed twice, then realloc'd after
 * its free (tests/e2e/heap_errors.sh finds the @NAME lines).
 *
 *   err_double_free double    free(p) twice: double_free
 *   err_double_free realloc   free(p), then realloc(p): realloc_freed
 *   err_double_free after64k  free(p), 64 KiB of other blocks freed on
 *                             this thread, free(p) again: double_free
 *   err_double_free large     the same with a 2.5 MiB block (bigger than
 *                             the quarantine takes: its pages go back at
 *                             once): double_free
 *   err_double_free large_realloc   free, then realloc of it: realloc_freed
 *
 * The second call is reported and ignored; the program carries on and
 * prints "done".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "freeothers.h"

static size_t block_size = 64;

static char *make_block(void)
{
	return malloc(block_size);                /* @alloc */
}


static void release(char *p)
{
	free(p);                                  /* @free_first */
}

static void release_again(char *p)
{
	free(p);                                  /* @free_again */
}

static char *grow(char *p)
{
	return realloc(p, 200);                   /* @realloc_freed */
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "double";
	if (strncmp(mode, "large", 5) == 0)
		block_size = 2560 * 1024;
	char *p = make_block();
	memset(p, 1, block_size);
	release(p);
	if (strcmp(mode, "after64k") == 0)
		free_others();
	if (strcmp(mode, "realloc") && strcmp(mode, "large_realloc")) {
		release_again(p);
	} else {
		char *q = grow(p);
		if (q)                  /* must have failed: NULL */
			return 1;
	}
	/* the heap still works */
	for (int i = 0; i < 1000; i++)
		free(malloc((size_t)i));
	puts("done");
	return 0;
}
