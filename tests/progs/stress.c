/*
 * stress.c — multi-threaded allocator stress with corruption detection.
 *
 *   stress [THREADS=4] [SECONDS=3] [SEED=1]
 *
 * Threads share an array of slots; each operation picks a random slot and
 * swaps its own block in with an atomic exchange, so a block is usually
 * freed (or realloc'd) by a different thread than the one that made it —
 * the cross-thread path of a per-thread-cache allocator. Threads run in
 * short rounds and exit between them, so thread-cache teardown with blocks
 * still cached happens many times.
 *
 * Every block is filled with a pattern derived from its address and size
 * and checked in full before it is freed or realloc'd (realloc: the
 * preserved prefix is checked against the old address's pattern). calloc
 * blocks are checked for zero first. Any mismatch prints what and where
 * and exits 1. On success the only stdout line is "stress ok".
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NSLOTS   1024
#define ROUND_MS 150

/* A block as the slots know it. The descriptor is itself malloc'd (more
 * small-object traffic) and carries a check word of its own. */
struct blk {
	unsigned char *p;
	size_t n;
	uint64_t check;
};

static _Atomic(struct blk *) slots[NSLOTS];
static atomic_ulong total_ops;
static atomic_int stop;
static uint64_t base_seed = 1;

static void die(const char *what, const struct blk *b, size_t off)
{
	fprintf(stderr, "stress: FAIL: %s: block %p size %zu offset %zu\n",
	        what, b ? (void *)b->p : NULL, b ? b->n : 0, off);
	_exit(1);
}

static uint64_t rnd(uint64_t *s)   /* xorshift64* */
{
	uint64_t x = *s;
	x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static uint64_t desc_check(const struct blk *b)
{
	return ((uintptr_t)b->p ^ b->n * 0x9E3779B97F4A7C15ull) + 0x1234567;
}

/* The pattern: 8-byte words seeded by (address, size), so a block that
 * shows up at another block's address, or with another block's length,
 * does not verify. Odd tails are filled bytewise from the same stream. */
static uint64_t word_at(uintptr_t addr, size_t n, size_t i)
{
	uint64_t x = (addr * 0xBF58476D1CE4E5B9ull) ^ (n * 0x94D049BB133111EBull);
	return x + i * 0x9E3779B97F4A7C15ull;
}

static void fill(unsigned char *p, size_t n)
{
	size_t w = n / 8;
	for (size_t i = 0; i < w; i++) {
		uint64_t v = word_at((uintptr_t)p, n, i);
		memcpy(p + i * 8, &v, 8);
	}
	uint64_t t = word_at((uintptr_t)p, n, w);
	memcpy(p + w * 8, &t, n % 8);
}

/* First bad byte of the first 'len' bytes of a block that was filled at
 * 'addr' with size 'n' (maybe moved since), or (size_t)-1. */
static size_t verify(const unsigned char *p, uintptr_t addr, size_t n, size_t len)
{
	size_t w = len / 8;
	for (size_t i = 0; i < w; i++) {
		uint64_t v = word_at(addr, n, i);
		if (memcmp(p + i * 8, &v, 8) != 0)
			return i * 8;
	}
	uint64_t t = word_at(addr, n, w);
	if (memcmp(p + w * 8, &t, len % 8) != 0)
		return w * 8;
	return (size_t)-1;
}

static size_t first_nonzero(const unsigned char *p, size_t n)
{
	static const unsigned char zero[4096];
	for (size_t i = 0; i < n; i += sizeof zero) {
		size_t len = n - i < sizeof zero ? n - i : sizeof zero;
		if (memcmp(p + i, zero, len) != 0) {
			while (!p[i])
				i++;
			return i;
		}
	}
	return (size_t)-1;
}

static size_t pick_size(uint64_t *s)
{
	unsigned r = (unsigned)(rnd(s) % 10000);
	if (r < 7800)
		return rnd(s) % 257;                        /* small      */
	if (r < 9800)
		return 257 + rnd(s) % 32768;                /* bin sized  */
	if (r < 9995)                                       /* 4 KiB..1 MiB, log-uniform */
		return ((size_t)4096 << (rnd(s) % 8)) + rnd(s) % 4096;
	return ((size_t)4 << 20) + rnd(s) % ((size_t)8 << 20);  /* > 4 MiB   */
}

static struct blk *make(uint64_t *s)
{
	struct blk *b = malloc(sizeof *b);
	if (!b)
		die("malloc(descriptor) failed", NULL, 0);
	size_t n = pick_size(s);
	unsigned op = (unsigned)(rnd(s) % 10);
	void *p = NULL;
	if (op < 6) {
		p = malloc(n);
	} else if (op < 8) {
		size_t m = 1 + rnd(s) % 16;                 /* calloc(n/m, m) */
		n = n / m * m;
		p = calloc(n / m, m);
		size_t off = p ? first_nonzero(p, n) : (size_t)-1;
		if (off != (size_t)-1)
			die("calloc memory not zero", &(struct blk){ p, n, 0 }, off);
	} else {
		/* power-of-two alignment, mostly modest, sometimes 64 KiB..2 MiB */
		size_t align = (size_t)8 << (rnd(s) % 10);
		if (rnd(s) % 20 == 0)
			align = (size_t)1 << (16 + rnd(s) % 6);
		if (op == 8) {
			if (posix_memalign(&p, align, n) != 0)
				p = NULL;
		} else {
			p = memalign(align, n);
		}
		if (p && (uintptr_t)p % align)
			die("misaligned block", &(struct blk){ p, n, 0 }, align);
	}
	if (!p)
		die("allocation returned NULL", &(struct blk){ NULL, n, 0 }, 0);
	if ((uintptr_t)p % 16)
		die("block not 16-aligned", &(struct blk){ p, n, 0 }, 0);
	b->p = p;
	b->n = n;
	b->check = desc_check(b);
	fill(b->p, n);
	return b;
}

static void check_blk(const struct blk *b, const char *when)
{
	if (b->check != desc_check(b))
		die("descriptor smashed", b, 0);
	size_t off = verify(b->p, (uintptr_t)b->p, b->n, b->n);
	if (off != (size_t)-1)
		die(when, b, off);
}

static void destroy(struct blk *b)
{
	check_blk(b, "pattern broken before free");
	free(b->p);
	free(b);
}

/* Take a block out of its slot, realloc it (grow or shrink, sometimes
 * across classes), verify the kept prefix, refill and put it back. */
static void resize(uint64_t *s, unsigned i)
{
	struct blk *b = atomic_exchange(&slots[i], NULL);
	if (!b)
		return;
	check_blk(b, "pattern broken before realloc");
	/* shrink to a fraction, or grow by a random amount; capped so that
	 * repeated growth cannot run away with the machine's memory */
	size_t n = (rnd(s) & 1) ? b->n / (1 + rnd(s) % 4) : b->n + pick_size(s);
	if (n > ((size_t)12 << 20))
		n = pick_size(s);
	uintptr_t old = (uintptr_t)b->p;
	unsigned char *q = realloc(b->p, n);
	if (!q && n)
		die("realloc returned NULL", b, n);
	if (q) {
		size_t keep = n < b->n ? n : b->n;
		size_t off = verify(q, old, b->n, keep);
		if (off != (size_t)-1)
			die("realloc lost contents", &(struct blk){ q, n, 0 }, off);
	}
	if (!q) {           /* realloc(p, 0) freed it (glibc) */
		free(b);
		return;
	}
	b->p = q;
	b->n = n;
	b->check = desc_check(b);
	fill(q, n);
	struct blk *other = atomic_exchange(&slots[i], b);
	if (other)
		destroy(other);
}

static void *worker(void *arg)
{
	uint64_t s = (uint64_t)(uintptr_t)arg;
	unsigned long ops = 0;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int k = 0; k < 64; k++, ops++) {
			unsigned i = (unsigned)(rnd(&s) % NSLOTS);
			unsigned r = (unsigned)(rnd(&s) % 100);
			if (r < 15) {
				resize(&s, i);
			} else if (r < 30) {
				struct blk *b = atomic_exchange(&slots[i], NULL);
				if (b)
					destroy(b);
			} else {
				struct blk *b = atomic_exchange(&slots[i], make(&s));
				if (b)
					destroy(b);
			}
		}
	}
	atomic_fetch_add(&total_ops, ops);
	return NULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 4;
	double seconds = argc > 2 ? atof(argv[2]) : 3;
	base_seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
	if (nthreads < 1 || nthreads > 64 || seconds <= 0) {
		fprintf(stderr, "usage: stress [THREADS 1..64] [SECONDS] [SEED]\n");
		return 2;
	}
	pthread_t *t = calloc((size_t)nthreads, sizeof *t);
	double end = now() + seconds;
	unsigned round = 0;
	/* Rounds: threads start, work ROUND_MS, exit with whatever their
	 * caches hold; the blocks they made live on in the slots. */
	do {
		atomic_store(&stop, 0);
		for (int i = 0; i < nthreads; i++) {
			uint64_t seed = base_seed * 1000003u + round * 131u + (unsigned)i + 1;
			if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)seed) != 0)
				die("pthread_create failed", NULL, 0);
		}
		struct timespec ts = { 0, ROUND_MS * 1000000L };
		nanosleep(&ts, NULL);
		atomic_store(&stop, 1);
		for (int i = 0; i < nthreads; i++)
			pthread_join(t[i], NULL);
		round++;
	} while (now() < end);

	for (unsigned i = 0; i < NSLOTS; i++) {
		struct blk *b = atomic_exchange(&slots[i], NULL);
		if (b)
			destroy(b);
	}
	free(t);
	fprintf(stderr, "stress: %d threads, %u rounds, %lu ops\n", nthreads, round,
	        (unsigned long)atomic_load(&total_ops));
	printf("stress ok\n");
	return 0;
}
