/*
 * exit_threads.c — exit() while other threads are still allocating.
 *
 *   exit_threads [THREADS=4]
 *
 * The workers never stop: they malloc/realloc/free and keep a few blocks
 * reachable from a global table, so at exit() the leak scan runs while
 * they are mid-call (possibly holding allocator locks, with blocks in
 * their thread caches). The process must end with status 0 and the
 * output below, not crash or hang. Main waits until every worker has done
 * some work so the race is real, then exits without joining.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAXT = 16, KEEP = 32 };
static void *keep[MAXT][KEEP];  /* reachable at exit: not leaks */
static atomic_int started;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
	return *s;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(id + 1);
	long n = 0;
	for (;;) {
		unsigned k = (unsigned)(rnd(&s) % KEEP);
		size_t sz = rnd(&s) % 100 < 90 ? rnd(&s) % 600 : rnd(&s) % 300000;
		void *p = malloc(sz);
		if (p)
			memset(p, (int)id, sz);
		if (rnd(&s) & 1)
			p = realloc(p, sz / 2 + 1);
		free(keep[id][k]);
		keep[id][k] = p;
		if (++n == 1000)
			atomic_fetch_add(&started, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int nt = argc > 1 ? atoi(argv[1]) : 4;
	if (nt < 1 || nt > MAXT)
		nt = 4;
	for (long i = 0; i < nt; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, worker, (void *)i) != 0)
			return 2;
	}
	while (atomic_load(&started) < nt)
		usleep(1000);
	printf("exit_threads ok\n");
	fflush(stdout);
	exit(0);
}
