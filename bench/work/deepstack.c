/*
 * deepstack — allocations from thousands of distinct call stacks, 20 to 40
 * frames deep, the way a compiler's or an interpreter's allocations look:
 * a per-thread cache of stacks seen keeps missing, so every allocation
 * pays for a real unwind. Built with -O2 and no frame pointers, like most
 * distribution code, so only DWARF unwind information describes a frame.
 *
 * Each operation walks down `depth` frames; at each of the first 13
 * levels it calls one of two functions (two call sites, so two return
 * addresses) chosen by a bit of a per-operation path, giving 8192 distinct
 * stacks; the remaining levels pad the depth to 20..40. At the bottom it
 * replaces a block in a ring of live blocks.
 *
 *   deepstack [ops=400000] [seed=1]
 */
#include "common.h"

#define RING   4096
#define CHOICE 13                       /* levels that choose: 2^13 paths */

struct walk { unsigned path, left; uint64_t x; };

static unsigned char *ring[RING];
static uint32_t ring_n[RING];
static uint64_t sum;

static __attribute__((noinline)) void leaf(struct walk *w)
{
	unsigned k = (unsigned)(w->x >> 20) % RING;
	if (ring[k]) {
		sum += check(ring[k], ring_n[k], (uint8_t)k);
		free(ring[k]);
	}
	size_t n = 16 + (size_t)((w->x >> 8) % 240);
	ring[k] = malloc(n);
	if (!ring[k])
		exit(3);
	stamp(ring[k], n, (uint8_t)k);
	ring_n[k] = (uint32_t)n;
}

static void down_a(struct walk *w);
static void down_b(struct walk *w);

/* The work after the call keeps it from becoming a jump (a tail call would
 * drop the frame), and the volatile read keeps the two bodies apart. */
static __attribute__((noinline)) void down(struct walk *w)
{
	if (w->left == 0) {
		leaf(w);
		return;
	}
	w->left--;
	unsigned bit = w->path & 1;
	w->path = w->path >> 1 | (w->path & 1) << 31;
	if (bit)
		down_a(w);
	else
		down_b(w);
	w->left++;
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void down_a(struct walk *w)
{
	down(w);
	w->x += 1;
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void down_b(struct walk *w)
{
	down(w);
	w->x += 3;
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	long ops = arg_long(argc, argv, 1, 400000);
	struct rng r = { (uint64_t)arg_long(argc, argv, 2, 1) };
	for (long i = 0; i < ops; i++) {
		uint64_t x = rng_next(&r);
		/* 13 bits of path, then padding: down() recurses through
		 * down_a/down_b, two frames a level, so 10..20 levels make
		 * 20..40 frames. Padding levels repeat the path's bits, so the
		 * stack stays a function of the 13 chosen bits. */
		unsigned path = (unsigned)(x & ((1u << CHOICE) - 1));
		unsigned levels = 10 + (unsigned)(path % 11);
		struct walk w = { path | path << CHOICE, levels, x };
		down(&w);
	}
	for (unsigned k = 0; k < RING; k++)
		if (ring[k]) {
			sum += check(ring[k], ring_n[k], (uint8_t)k);
			free(ring[k]);
		}
	printf("checksum=%016llx\n", (unsigned long long)sum);
	return 0;
}
