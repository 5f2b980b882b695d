/*
 * freeothers.h — for the heap-error programs: 64 KiB of other blocks
 * (64 of 1 KiB) allocated and freed on this thread, so that a block freed
 * before lies that far back in the thread's frees (issue #17: a write
 * after free and a double free are still caught).
 */
#ifndef FREEOTHERS_H
#define FREEOTHERS_H

#include <stdlib.h>

static void free_others(void)
{
	static char *o[64];
	for (int i = 0; i < 64; i++)
		o[i] = malloc(1024);
	for (int i = 0; i < 64; i++)
		free(o[i]);
}

#endif
