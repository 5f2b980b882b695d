/*
 * cache.c — memory that grows, then plateaus: a bounded cache.
 *
 * A lookup table of 4096 entries of 4 KiB fills during the first half
 * second (memory grows by ~16 MiB), then for another second every miss
 * evicts the oldest entry and inserts a new one: the same amount of
 * memory, reused. At exit everything is freed. heapscope's verdict is
 * "plateau", not "likely_leak", and there is nothing to report as lost.
 *
 * Run it: build/heapscope run --json cache.json build/samples/cache
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENTRIES 4096
#define ENTRY   4096

static char *slot[ENTRIES];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pause_us(long us)
{
	struct timespec ts = { 0, us * 1000 };
	nanosleep(&ts, NULL);
}

static void put(unsigned key)
{
	unsigned i = key % ENTRIES;
	free(slot[i]);               /* evict what was there, if anything */
	slot[i] = malloc(ENTRY);
	memset(slot[i], (int)key, ENTRY);
}

int main(void)
{
	double start = now();
	unsigned key = 0;
	/* fill: 4096 entries over ~0.5 s */
	while (key < ENTRIES) {
		for (int k = 0; k < 16; k++)
			put(key++);
		pause_us(2000);
	}
	/* steady state: same size, entries replaced */
	while (now() - start < 1.5) {
		for (int k = 0; k < 16; k++)
			put(key++);
		pause_us(2000);
	}
	for (unsigned i = 0; i < ENTRIES; i++)
		free(slot[i]);
	printf("cached %u entries in a %d-entry table\n", key, ENTRIES);
	return 0;
}
