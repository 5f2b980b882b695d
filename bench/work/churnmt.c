/*
 * churnmt — N threads (default 2) each churning small blocks like churn1,
 * with one block in eight freed by another thread: instead of freeing it,
 * the owner pushes it into a single-producer single-consumer ring towards
 * a random other thread, which frees it when it next drains its incoming
 * rings (every 32 operations). A full ring means the owner frees the
 * block itself. This is the producer/consumer pattern that makes remote
 * frees matter for per-thread caches.
 *
 * ops is the total over all threads, so the work does not change with N.
 * The checksum covers every block exactly once whichever thread frees it.
 *
 *   churnmt [ops=8000000] [threads=2] [seed=1]
 */
#include "common.h"
#include <pthread.h>
#include <stdatomic.h>

#define MAXT   16
#define NSLOTS 50000          /* per thread */
#define HOT    2048
#define RING   1024           /* entries per (from, to) ring, power of 2 */

struct item { unsigned char *p; uint32_t n; uint8_t tag; };

/* One ring per ordered thread pair; head and tail on their own lines so
 * the two ends do not false-share. */
struct ring {
	_Alignas(64) _Atomic uint32_t tail;     /* written by the producer */
	_Alignas(64) _Atomic uint32_t head;     /* written by the consumer */
	_Alignas(64) struct item e[RING];
};

static struct ring rings[MAXT][MAXT];       /* rings[from][to] */
static int nthreads;
static long ops_per_thread;
static uint64_t seed;
static _Atomic uint64_t total;

static size_t small_size(struct rng *r)
{
	uint64_t x = rng_next(r);
	unsigned k = __builtin_ctzll(x | 32);
	size_t n = 8 + (size_t)((x >> 8) % (16u << k));
	return n > 512 ? 512 : n;
}

static int push(struct ring *q, struct item it)
{
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&q->head, memory_order_acquire);
	if (t - h == RING)
		return 0;
	q->e[t % RING] = it;
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	return 1;
}

static uint64_t drain(struct ring *q)
{
	uint64_t sum = 0;
	uint32_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
	for (; h != t; h++) {
		struct item *it = &q->e[h % RING];
		sum += check(it->p, it->n, it->tag);
		free(it->p);
	}
	atomic_store_explicit(&q->head, h, memory_order_release);
	return sum;
}

static void *worker(void *arg)
{
	int self = (int)(intptr_t)arg;
	struct rng r = { seed * 0x100000001b3ull + (uint64_t)self };
	struct item *s = calloc(NSLOTS, sizeof *s);
	uint64_t sum = 0;
	if (!s)
		exit(4);

	for (long i = 0; i < ops_per_thread; i++) {
		uint64_t x = rng_next(&r);
		size_t k = (x & 3) ? (x >> 8) % HOT : (x >> 8) % NSLOTS;
		if (s[k].p) {
			int sent = 0;
			if (nthreads > 1 && (x & 0x1c) == 0) {     /* 1 in 8 */
				int to = (int)((x >> 40) % (uint64_t)(nthreads - 1));
				to += to >= self;
				sent = push(&rings[self][to], s[k]);
			}
			if (!sent) {
				sum += check(s[k].p, s[k].n, s[k].tag);
				free(s[k].p);
			}
		}
		size_t n = small_size(&r);
		s[k].p = xmalloc(n);
		s[k].n = (uint32_t)n;
		s[k].tag = (uint8_t)(i ^ self);
		stamp(s[k].p, n, s[k].tag);
		if ((i & 31) == 31)
			for (int from = 0; from < nthreads; from++)
				if (from != self)
					sum += drain(&rings[from][self]);
	}
	for (size_t k = 0; k < NSLOTS; k++)
		if (s[k].p) {
			sum += check(s[k].p, s[k].n, s[k].tag);
			free(s[k].p);
		}
	free(s);
	atomic_fetch_add(&total, sum);
	return NULL;
}

int main(int argc, char **argv)
{
	long ops = arg_long(argc, argv, 1, 8000000);
	nthreads = (int)arg_long(argc, argv, 2, 2);
	seed = (uint64_t)arg_long(argc, argv, 3, 1);
	if (nthreads > MAXT) {
		fprintf(stderr, "churnmt: at most %d threads\n", MAXT);
		return 2;
	}
	ops_per_thread = ops / nthreads;

	pthread_t th[MAXT];
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t)) {
			fprintf(stderr, "churnmt: pthread_create failed\n");
			return 4;
		}
	for (int t = 0; t < nthreads; t++)
		pthread_join(th[t], NULL);
	/* Blocks still in flight when their consumer had already finished. */
	uint64_t sum = atomic_load(&total);
	for (int a = 0; a < nthreads; a++)
		for (int b = 0; b < nthreads; b++)
			sum += drain(&rings[a][b]);
	printf("churnmt ops=%ld threads=%d checksum=%016llx\n", ops, nthreads,
	       (unsigned long long)sum);
	return 0;
}
