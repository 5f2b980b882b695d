/*
 * realloc — growing buffers the two ways programs do it.
 *
 *   string: append 1..256 bytes at a time and realloc to the exact new
 *           length (naive string building); targets 64 B .. 256 KiB.
 *   vector: double the capacity when full, append one 64-byte element at
 *           a time; targets 64 B .. 4 MiB.
 *
 * Sixteen buffers grow side by side (so in-place growth is not free: their
 * neighbours get in the way); each is filled with bytes as it grows, and
 * when it reaches its target (log-uniform, so most are small and a few are
 * megabytes) it is checked, freed and started again.
 *
 *   realloc [appends=24000000] [seed=1]
 */
#include "common.h"

#define NBUF 16

struct buf {
	unsigned char *p;
	size_t len, cap, target;
	int vector;
	uint8_t tag;
};

static void restart(struct buf *b, struct rng *r, uint8_t tag)
{
	b->vector = (int)rng_below(r, 2);
	b->target = rng_logsize(r, 64, b->vector ? 4u << 20 : 256u << 10);
	b->p = NULL;
	b->len = b->cap = 0;
	b->tag = tag;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		fprintf(stderr, "bench: realloc(%zu) failed\n", n);
		exit(4);
	}
	return p;
}

/* Each append fills its bytes with a value that depends on the length so
 * far; sampling the content into the checksum makes a realloc that loses
 * or misplaces bytes visible as a checksum that differs from glibc's. */
static uint64_t finish(struct buf *b)
{
	uint64_t sum = b->len * 7;
	if (b->p[0] != b->tag) {
		fprintf(stderr, "realloc: buffer content lost\n");
		exit(3);
	}
	for (size_t i = 0; i < b->len; i += 4093)
		sum = sum * 31 + b->p[i];
	free(b->p);
	return sum;
}

static void append(struct buf *b, size_t n)
{
	memset(b->p + b->len, b->len ? (uint8_t)(b->len * 13) : b->tag, n);
	b->len += n;
}

int main(int argc, char **argv)
{
	long ops = arg_long(argc, argv, 1, 24000000);
	struct rng r = { (uint64_t)arg_long(argc, argv, 2, 1) };
	struct buf b[NBUF];
	uint64_t sum = 0;
	uint8_t tag = 0;

	for (int i = 0; i < NBUF; i++)
		restart(&b[i], &r, tag++);
	for (long i = 0; i < ops; i++) {
		struct buf *x = &b[rng_below(&r, NBUF)];
		if (x->vector) {
			if (x->len + 64 > x->cap) {
				x->cap = x->cap ? x->cap * 2 : 64;
				x->p = xrealloc(x->p, x->cap);
			}
			append(x, 64);
		} else {
			size_t n = 1 + rng_below(&r, 256);
			x->p = xrealloc(x->p, x->len + n);
			x->cap = x->len + n;
			append(x, n);
		}
		if (x->len >= x->target) {
			sum += finish(x);
			restart(x, &r, tag++);
		}
	}
	for (int i = 0; i < NBUF; i++)
		if (b[i].p)
			sum += finish(&b[i]);
	printf("realloc ops=%ld checksum=%016llx\n", ops, (unsigned long long)sum);
	return 0;
}
