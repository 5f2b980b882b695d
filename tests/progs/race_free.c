/*
 * race_free.c — sixteen threads free the same block at once.
 *
 *   race_free SIZE [THREADS=16]
 *
 * The block (SIZE bytes: a bin slot, buddy pages or a huge mapping) is
 * freed by every thread as soon as a barrier lets them go. Exactly one
 * free may win; each of the others is a double free (THREADS - 1 of them
 * reported: tests/e2e/race_free.sh counts them), and the heap stays
 * whole: the program then allocates and frees on every thread and prints
 * "done".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_barrier_t go;
static void *victim;

static void *racer(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&go);
	free(victim);
	/* the heap still works on this thread */
	for (int i = 1; i < 200; i++)
		free(malloc((size_t)i * 8));
	return NULL;
}

int main(int argc, char **argv)
{
	size_t size = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
	int n = argc > 2 ? atoi(argv[2]) : 16;
	if (n < 2 || n > 64)
		return 2;
	pthread_t t[64];
	pthread_barrier_init(&go, NULL, (unsigned)n);
	victim = malloc(size);
	memset(victim, 7, size);
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, racer, NULL))
			return 2;
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	void *p = malloc(size);
	memset(p, 1, size);
	free(p);
	puts("done");
	return 0;
}
