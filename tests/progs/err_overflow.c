/*
 * err_overflow.c — writes outside a block's bytes
 * (tests/e2e/heap_errors.sh finds the @NAME lines):
 *
 *   err_overflow after    4 bytes past the end of a 100-byte block, found
 *                         when it is freed
 *   err_overflow realloc  1 byte past the end (a string's terminator),
 *                         found when it is realloc'd
 *   err_overflow exit     past the end of a block still live at exit
 *   err_overflow before   1 byte before the block (its header), found
 *                         when it is freed
 *
 * All are heap_overflow; the program carries on and prints "done".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *keep;

static char *make_block(size_t n)
{
	return malloc(n);                         /* @alloc */
}

static void scribble_after(char *p)
{
	memcpy(p + 100, "xyzw", 4);               /* @write_after */
}

static void release(char *p)
{
	free(p);                                  /* @free */
}

static char *grow(char *p)
{
	return realloc(p, 300);                   /* @realloc */
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "after";
	char *p = make_block(100);
	memset(p, 'a', 100);
	if (strcmp(mode, "after") == 0) {
		scribble_after(p);
		release(p);
	} else if (strcmp(mode, "realloc") == 0) {
		strcpy(p + 90, "123456789");      /* 10 bytes with the NUL: fits */
		p[100] = '\0';                    /* the off-by-one */
		p = grow(p);
		release(p);
	} else if (strcmp(mode, "exit") == 0) {
		scribble_after(p);
		keep = p;                         /* still reachable at exit */
	} else {
		p[-1] = 'x';                      /* @write_before */
		release(p);
	}
	for (int i = 0; i < 1000; i++)
		free(malloc((size_t)i));
	puts("done");
	return 0;
}
