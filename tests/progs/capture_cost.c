/*
 * capture_cost.c — what recording a stack costs per allocation.
 *
 * malloc+free of 24 bytes from a stack of exactly 10 frames (5 levels of
 * walk_a/b/c/d, pass, main, two libc start frames, _start); each level
 * calls the next from one of four call sites, so 4^4 = 256 stacks:
 *   first pass   every stack is new: unwind + intern miss + S line
 *   later passes the same stacks again: unwind + lock-free intern hit
 * Run it natively, under the shim with HEAPSCOPE_RECORD=0 and with
 * recording on; the difference between the last two is the capture cost:
 *
 *   for r in 0 1; do HEAPSCOPE_RECORD=$r HEAPSCOPE_OUT=/tmp/cc.%p.trace \
 *       LD_PRELOAD=build/libheapscope.so build/tests/progs/capture_cost; done
 *
 * Prints ns per malloc+free for each pass; no verdicts (timings vary).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define LEVELS 4               /* walk frames = LEVELS + 1            */
#define PATHS  (1u << (2 * LEVELS))
#define HIT_ROUNDS 400

/* Four identical levels; which one is next is chosen by two bits, and
 * each choice is a different call site, hence a different stack. */
static void walk_a(int d, unsigned bits);
static void walk_b(int d, unsigned bits);
static void walk_c(int d, unsigned bits);
static void walk_d(int d, unsigned bits);
#define LEVEL_BODY(name)                                                \
	__attribute__((noinline)) static void name(int d, unsigned bits) \
	{                                                               \
		if (d == 0) {                                           \
			void *volatile p = malloc(24);                  \
			free(p);                                        \
			return;                                         \
		}                                                       \
		switch (bits & 3) {                                     \
		case 0: walk_a(d - 1, bits >> 2); break;                \
		case 1: walk_b(d - 1, bits >> 2); break;                \
		case 2: walk_c(d - 1, bits >> 2); break;                \
		default: walk_d(d - 1, bits >> 2); break;               \
		}                                                       \
	}
LEVEL_BODY(walk_a)
LEVEL_BODY(walk_b)
LEVEL_BODY(walk_c)
LEVEL_BODY(walk_d)
#define walk walk_a

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* One call site for every pass, so later passes repeat the first's stacks. */
__attribute__((noinline)) static void pass(void)
{
	for (unsigned b = 0; b < PATHS; b++)
		walk(LEVELS, b);
}

int main(void)
{
	double first = 0, later = 0;
	for (int r = 0; r <= HIT_ROUNDS; r++) {
		double t = now_ns();
		pass();
		t = now_ns() - t;
		if (r == 0)
			first = t;
		else
			later += t;
	}
	printf("first sight: %.0f ns per malloc+free (%u stacks)\n", first / PATHS, PATHS);
	printf("seen before: %.0f ns per malloc+free (%u calls)\n",
	       later / ((double)PATHS * HIT_ROUNDS), PATHS * HIT_ROUNDS);
	return 0;
}
