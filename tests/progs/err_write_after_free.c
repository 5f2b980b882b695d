/*
 * err_write_after_free.c — a write into a block after it was freed
 * (tests/e2e/heap_errors.sh finds the @NAME lines). Run with a small
 * quarantine (HEAPSCOPE_QUARANTINE=64k): the churn loop's frees push the
 * block out of quarantine, where the damage is found and reported with
 * the offset, the allocation and the free stacks.
 *
 *   err_write_after_free           a 4-byte write at offset 20 of 64
 *   err_write_after_free exit      the same, found at exit (no churn)
 *   err_write_after_free after64k  64 KiB of other blocks freed between
 *                                  the free and the write; default
 *                                  quarantine, found at exit
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "freeothers.h"

static char *make_block(void)
{
	return malloc(64);                        /* @alloc */
}

static void release(char *p)
{
	free(p);                                  /* @free */
}

static void dangling_write(char *p)
{
	memcpy(p + 20, "oops", 4);                /* @write */
}


static void churn(void)
{
	for (int i = 0; i < 200; i++) {
		char *q = malloc(1000);
		q[0] = 1;
		free(q);                          /* @churn_free */
	}
}

int main(int argc, char **argv)
{
	int after64k = argc > 1 && strcmp(argv[1], "after64k") == 0;
	int at_exit = after64k || (argc > 1 && strcmp(argv[1], "exit") == 0);
	char *p = make_block();
	memset(p, 'a', 64);
	release(p);
	if (after64k)
		free_others();
	dangling_write(p);
	if (!at_exit)
		churn();
	puts("done");
	return 0;
}
