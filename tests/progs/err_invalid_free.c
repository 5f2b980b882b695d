/*
 * err_invalid_free.c — free() of pointers that are not the start of a
 * heap block. The lines marked @NAME are found by tests/e2e/heap_errors.sh.
 *
 *   err_invalid_free interior   free(p + 24) of a 100-byte block
 *   err_invalid_free stack      free() of a stack variable's address
 *
 * Either way the call must be reported (invalid_free) and ignored: the
 * program goes on, uses the block, frees it properly and prints "done".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *make_block(void)
{
	return malloc(100);                       /* @alloc */
}

static void bad_interior(char *p)
{
	free(p + 24);                             /* @free_interior */
}

static void bad_stack(void)
{
	int local = 1;
	free(&local);                             /* @free_stack */
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "interior";
	char *p = make_block();
	memset(p, 'a', 100);
	if (strcmp(mode, "interior") == 0)
		bad_interior(p);
	else
		bad_stack();
	/* the block is intact and still ours */
	for (int i = 0; i < 100; i++)
		if (p[i] != 'a')
			return 1;
	free(p);
	puts("done");
	return 0;
}
