/*
 * stack_many.c — more distinct stacks than a thread's stack cache holds
 * words for at first (preload/record/stackcache.c: a pool of 16384), so the
 * pool is used up, starts over and grows (4 times) while the same stacks
 * keep coming back, many of them through one call at one depth (alloca):
 * recursion to every depth from 1 to 40, each level allocating from one
 * of three call sites, under 32 different stack offsets (alloca), twice
 * over. Every block is freed; the trace's S lines are what is compared.
 */
#include <alloca.h>
#include <stdlib.h>
#include <string.h>

static void *keep[64];
static unsigned nkeep;

static void hold(void *p)
{
	unsigned k = nkeep++ % 64;
	free(keep[k]);
	keep[k] = p;
}

__attribute__((noinline)) static void site_a(int d) { hold(malloc(16 + (size_t)d)); }
__attribute__((noinline)) static void site_b(int d) { hold(calloc(1, 32 + (size_t)d)); }
__attribute__((noinline)) static void site_c(int d) { hold(malloc(48 + (size_t)d)); }

__attribute__((noinline)) static void down(int d, int depth)
{
	volatile char pad[16];
	pad[0] = (char)d;
	switch ((d + depth) % 3) {
	case 0: site_a(d); break;
	case 1: site_b(d); break;
	default: site_c(d); break;
	}
	if (d < depth)
		down(d + 1 + pad[0] * 0, depth);
}

__attribute__((noinline)) static void offset(size_t k, int depth)
{
	char *buf = alloca(16 * k + 16);
	memset(buf, 0, 16 * k + 16);
	if (buf[0] == 0)
		down(1, depth);
}

int main(void)
{
	for (int round = 0; round < 2; round++)
		for (size_t k = 0; k < 32; k++)
			for (int depth = 1; depth <= 40; depth++)
				offset(k, depth);
	for (unsigned k = 0; k < 64; k++)
		free(keep[k]);
	return 0;
}
