/*
 * many_threads.c — a thousand short-lived threads.
 *
 *   many_threads [THREADS=1000]
 *
 * Started in waves of 8. Each allocates a spread of sizes, frees most of
 * them itself, and hands one block to the next thread of its wave to free
 * (a cross-thread free lands in the freeing thread's cache), so many
 * threads exit with blocks still sitting in their thread caches; the
 * thread-exit destructor must return them. Every block is checked before
 * it is freed. Nothing leaks. Output must match a native run.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WAVE = 8, NBLK = 40 };

struct slot {
	unsigned char *give;  /* block made by this thread for the next one */
	size_t give_sz;
	int bad;
};
static struct slot slots[WAVE];
static pthread_barrier_t made;

static void *worker(void *arg)
{
	long id = (long)arg;
	int w = (int)(id % WAVE);
	unsigned char *b[NBLK];
	size_t sz[NBLK];
	uint64_t s = (uint64_t)id * 2654435761u + 1;
	for (int i = 0; i < NBLK; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		sz[i] = (s >> 33) % (i % 10 == 9 ? 70000 : 700) + 1;
		b[i] = malloc(sz[i]);
		if (!b[i]) { slots[w].bad = 1; return NULL; }
		memset(b[i], (int)(id + i), sz[i]);
	}
	slots[w].give_sz = 100 + (size_t)id % 200;
	slots[w].give = malloc(slots[w].give_sz);
	memset(slots[w].give, (int)id, slots[w].give_sz);
	pthread_barrier_wait(&made);
	/* Free the neighbour's block: it goes into this thread's cache. */
	struct slot *n = &slots[(w + 1) % WAVE];
	for (size_t i = 0; i < n->give_sz; i++)
		if (n->give[i] != n->give[0]) slots[w].bad = 1;
	for (int i = 0; i < NBLK; i++) {
		if (b[i][0] != (unsigned char)(id + i) || b[i][sz[i] - 1] != (unsigned char)(id + i))
			slots[w].bad = 1;
		if (i % 4 != 0)  /* keep a quarter alive in the cache until exit */
			free(b[i]);
	}
	pthread_barrier_wait(&made);  /* everyone read n->give before it goes */
	free(n->give);
	for (int i = 0; i < NBLK; i += 4)
		free(b[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	int total = argc > 1 ? atoi(argv[1]) : 1000;
	int bad = 0, done = 0;
	while (done < total) {
		pthread_t t[WAVE];
		pthread_barrier_init(&made, NULL, WAVE);
		for (int w = 0; w < WAVE; w++)
			if (pthread_create(&t[w], NULL, worker, (void *)(long)(done + w)) != 0)
				return 2;
		for (int w = 0; w < WAVE; w++) {
			pthread_join(t[w], NULL);
			bad |= slots[w].bad;
		}
		pthread_barrier_destroy(&made);
		done += WAVE;
	}
	printf("many_threads %d threads %s\n", done, bad ? "CORRUPT" : "ok");
	return bad;
}
