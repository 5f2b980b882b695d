/* A thread allocates and frees in a loop from inside a dl_iterate_phdr
 * callback (so it holds the loader's lock while it calls malloc) when
 * main returns. The exit path must neither hang (the loader's lock and
 * heapscope's or libunwind's taken in opposite orders) nor report the
 * blocks that thread juggles as lost: they are reachable from `slots`
 * at every instant. memcheck (3.19): no leak of the program's own. */
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSLOTS 512
static void *slots[NSLOTS];
static unsigned seed = 1;
static _Atomic int started;

static int juggle(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)info; (void)size; (void)arg;
	for (int k = 0; k < 8; k++) {
		seed = seed * 1103515245u + 12345u;
		unsigned i = (seed >> 8) % NSLOTS;
		void *old = slots[i];
		slots[i] = malloc((seed >> 16) % 200 + 1);
		free(old);
	}
	return 0;
}

static void *worker(void *arg)
{
	(void)arg;
	for (;;) {
		dl_iterate_phdr(juggle, NULL);
		started = 1;
	}
	return NULL;
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, worker, NULL) != 0)
		return 1;
	while (!started)
		;
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	return 0;
}
