/*
 * fragment.c — external fragmentation, the classic way.
 *
 *   1. many small blocks (48 bytes), free every other one: the slabs stay
 *      half full (internal fragmentation: slots nobody can use elsewhere);
 *   2. many page-sized blocks (36 KiB, 10 pages each), free every other
 *      one: megabytes of free pages, but in holes of 10 pages;
 *   3. ask for one 2 MiB block: none of the holes fits it, so the heap
 *      maps a new arena although plenty of memory is free.
 *
 * The heap map shows the checkerboard of blocks and small free holes; the
 * fragmentation figures show free memory with a high unusable index for
 * large orders. The surviving blocks stay reachable (a global array), so
 * the leak report is clean.
 *
 * Run it: build/heapscope run --html fragment.html build/samples/fragment
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heapscope.h"

#define SMALL 20000
#define PAGES 400

static void *small[SMALL];
static void *pagey[PAGES];
static void *big;

int main(void)
{
	for (int i = 0; i < SMALL; i++) {
		small[i] = malloc(48);
		memset(small[i], 1, 48);
	}
	for (int i = 0; i < SMALL; i += 2) {
		free(small[i]);
		small[i] = NULL;
	}

	for (int i = 0; i < PAGES; i++) {
		pagey[i] = malloc(36 * 1024);
		memset(pagey[i], 2, 36 * 1024);
	}
	for (int i = 0; i < PAGES; i += 2) {
		free(pagey[i]);
		pagey[i] = NULL;
	}
	printf("freed %d blocks of 36 KiB (%d KiB in holes of 10 pages)\n", PAGES / 2,
	       PAGES / 2 * 40);

	big = malloc(2 * 1024 * 1024);
	memset(big, 3, 2 * 1024 * 1024);
	printf("the 2 MiB block is at %p\n", big);
	if (hs_snapshot("after-large-request"))
		printf("heapscope took a snapshot\n");
	return 0;
}
