/* The process ends while other threads keep allocating and freeing, small
 * blocks, page blocks and huge mappings alike: no crash, no hang, main's
 * leak found (leak_cases.sh checks only that: the rest varies per run).
 * With an argument main allocates too, until a signal ends the process
 * (tests/e2e/world_stop.sh sends SIGTERM with timeout(1)). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "leakcase.h"

static void *churn(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *slots[64] = { 0 };
	for (;;) {
		seed = seed * 1103515245u + 12345u;
		unsigned i = (seed >> 8) % 64;
		size_t size = (seed >> 16) % 8 == 0 ? ((seed >> 20) % 3 + 1) << 22
		                                    : (seed >> 16) % 5000 + 1;
		free(slots[i]);
		slots[i] = malloc(size);
		if (slots[i])
			memset(slots[i], 1, size < 256 ? size : 256);
		if (size > 100000)
			slots[i] = realloc(slots[i], size / 2);
	}
	return NULL;
}

static void __attribute__((noinline)) drop(void)
{
	char *p = malloc(77);                   /* LEAK definite 77 */
	memset(p, 7, 77);
}

int main(int argc, char **argv)
{
	pthread_t t;
	for (uintptr_t i = 1; i <= 3; i++)
		if (pthread_create(&t, NULL, churn, (void *)i) != 0)
			return 1;
	drop();
	leakcase_scrub_stack();
	if (argc > 1)
		churn((void *)0);
	struct timespec ts = { 0, 30 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	exit(0);
}
