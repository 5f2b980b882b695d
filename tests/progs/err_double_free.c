/*
 * err_double_free.c — the same block freed twice, then realloc'd after
 * its free (tests/e2e/heap_errors.sh finds the @NAME lines).
 *
 *   err_double_free double    free(p) twice: double_free
 *   err_double_free realloc   free(p), then realloc(p): realloc_freed
 *
 * The second call is reported and ignored; the program carries on and
 * prints "done".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *make_block(void)
{
	return malloc(64);                        /* @alloc */
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
	char *p = make_block();
	memset(p, 1, 64);
	release(p);
	if (strcmp(mode, "double") == 0) {
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
