/*
 * thread_end.c — how threads end, for tests/e2e/threads.sh.
 *
 *   thread_end keys    create pthread keys until the system refuses; print
 *                      how many (the same natively and under heapscope:
 *                      heapscope takes none)
 *   thread_end churn [N]  N rounds of five threads, one per way to end:
 *                      return (joined), pthread_exit, cancellation,
 *                      detached, thrd_create; each allocates and frees a few
 *                      hundred small blocks (filling its thread cache)
 *                      first. Then print the heap's arena bytes
 *                      (mallinfo2): a thread whose cache is not given back
 *                      when it ends leaves its slots stranded, and the
 *                      heap grows with every round.
 *   thread_end live    three threads allocate (one leaks 333 bytes from
 *                      leaky_worker) and stay blocked while main exits:
 *                      their records stay live for the leak scan.
 *   thread_end waf     a thread frees a 100-byte block, writes into it and
 *                      ends (joined): with checks on, the write is found
 *                      when the thread's quarantine is verified at its end.
 */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

static void churn_heap(void)
{
	enum { N = 400 };
	void *b[N];
	for (int i = 0; i < N; i++)
		b[i] = malloc((size_t)(16 + (i % 24) * 24));
	for (int i = 0; i < N; i++)
		free(b[i]);
}

static void *plain(void *arg)
{
	churn_heap();
	return arg;
}

static void *exits(void *arg)
{
	churn_heap();
	pthread_exit(arg);
}

static void *cancelled(void *arg)
{
	churn_heap();
	for (;;)
		pause();                /* a cancellation point */
	return arg;
}

static int c11(void *arg)
{
	churn_heap();
	return 0;
}

/* Detached threads cannot be joined: wait until this process is down to
 * its main thread again. */
static void wait_alone(void)
{
	for (int tries = 0; tries < 2000; tries++) {
		DIR *d = opendir("/proc/self/task");
		int n = 0;
		struct dirent *e;
		while (d && (e = readdir(d)))
			n += e->d_name[0] != '.';
		if (d)
			closedir(d);
		if (n <= 1)
			return;
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "threads did not end\n");
	exit(3);
}

static int churn(int rounds)
{
	for (int r = 0; r < rounds; r++) {
		pthread_t t;
		thrd_t c;
		pthread_attr_t detached;
		pthread_attr_init(&detached);
		pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, NULL, plain, NULL) || pthread_join(t, NULL))
			return 2;
		if (pthread_create(&t, NULL, exits, NULL) || pthread_join(t, NULL))
			return 2;
		if (pthread_create(&t, NULL, cancelled, NULL))
			return 2;
		usleep(1000);
		if (pthread_cancel(t) || pthread_join(t, NULL))
			return 2;
		if (pthread_create(&t, &detached, plain, NULL))
			return 2;
		if (thrd_create(&c, c11, NULL) != thrd_success || thrd_join(c, NULL) != thrd_success)
			return 2;
		pthread_attr_destroy(&detached);
		wait_alone();
	}
	struct mallinfo2 m = mallinfo2();
	printf("arena_mib %zu\n", m.arena >> 20);
	return 0;
}

static pthread_barrier_t ready;

static void *leaky_worker(void *arg)
{
	void *p = malloc(333);
	memset(p, 7, 333);
	p = NULL;                       /* lost */
	churn_heap();
	pthread_barrier_wait(&ready);
	for (;;)
		pause();
	return arg;
}

static void *waiter(void *arg)
{
	churn_heap();
	pthread_barrier_wait(&ready);
	for (;;)
		pause();
	return arg;
}

static int live(void)
{
	pthread_t t;
	pthread_barrier_init(&ready, NULL, 4);
	if (pthread_create(&t, NULL, leaky_worker, NULL) ||
	    pthread_create(&t, NULL, waiter, NULL) || pthread_create(&t, NULL, waiter, NULL))
		return 2;
	pthread_barrier_wait(&ready);
	return 0;
}

static void *write_after_free(void *arg)
{
	volatile char *p = malloc(100);
	free((void *)p);
	p[10] = 'x';                    /* into the freed block */
	return arg;
}

static int waf(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, write_after_free, NULL) || pthread_join(t, NULL))
		return 2;
	return 0;
}

static int keys(void)
{
	pthread_key_t k;
	int n = 0;
	while (n < 100000 && pthread_key_create(&k, NULL) == 0)
		n++;
	printf("keys %d\n", n);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "keys";
	if (!strcmp(mode, "keys"))
		return keys();
	if (!strcmp(mode, "churn"))
		return churn(argc > 2 ? atoi(argv[2]) : 200);
	if (!strcmp(mode, "live"))
		return live();
	if (!strcmp(mode, "waf"))
		return waf();
	return 2;
}
