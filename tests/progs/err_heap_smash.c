/*
 * err_heap_smash.c — a heap damaged on purpose, to show that heapscope
 * reports the damage, stops trusting what it cannot trust, and neither
 * crashes nor loops (tests/e2e/heap_errors.sh runs it).
 *
 * Deterministic (a fixed seed): blocks of many sizes; some overrun by up
 * to 80 bytes (through their canary into the next block's header and
 * free-list link), some underrun into their own header, some written
 * after free; then every block is freed (some twice), some realloc'd,
 * and the heap is churned again. Prints "done" at its normal end.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 600

static uint64_t seed = 12345;
static uint64_t rnd(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

int main(void)
{
	static char *blk[N];
	static size_t len[N];
	for (int i = 0; i < N; i++) {
		len[i] = rnd() % 3 ? rnd() % 300 : rnd() % 40000;
		blk[i] = malloc(len[i]);
		memset(blk[i], 'a', len[i]);
	}
	/* free a third first: they wait in the quarantine */
	for (int i = 0; i < N; i += 3)
		free(blk[i]);
	for (int i = 0; i < N; i++) {
		char *volatile p = blk[i];
		switch (rnd() % 10) {
		case 0:         /* overrun, up to 80 bytes of garbage */
			if (i % 3)
				for (size_t k = 0, m = 1 + rnd() % 80; k < m; k++)
					p[len[i] + k] = (char)rnd();
			break;
		case 1:         /* underrun into the header */
			if (i % 3)
				p[-1 - (int)(rnd() % 16)] = (char)rnd();
			break;
		case 2:         /* write after free */
			if (i % 3 == 0 && len[i] > 4)
				p[rnd() % len[i]] ^= 0x21;
			break;
		}
	}
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0) {
			if (rnd() % 4 == 0)
				free(blk[i]);           /* double free */
			continue;
		}
		if (rnd() % 5 == 0)
			blk[i] = realloc(blk[i], len[i] + 100);
		if (rnd() % 7)
			free(blk[i]);                   /* else: live at exit */
	}
	for (int i = 0; i < 20000; i++) {
		char *q = malloc(rnd() % 500);
		free(q);
	}
	puts("done");
	return 0;
}
