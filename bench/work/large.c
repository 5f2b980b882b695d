/*
 * large — blocks of 16 KiB .. 8 MiB (log-uniform) in 24 slots with random
 * lifetimes, every byte written (memset) when allocated and the ends
 * checked when freed. This is the page allocator's workload: splitting,
 * merging, returning memory to the kernel and getting it back, and the
 * page faults that follow. Peak RSS here shows how much freed memory an
 * allocator keeps resident.
 *
 *   large [ops=2000] [seed=1]
 */
#include "common.h"

#define NSLOTS 24

int main(int argc, char **argv)
{
	long ops = arg_long(argc, argv, 1, 2000);
	struct rng r = { (uint64_t)arg_long(argc, argv, 2, 1) };
	struct { unsigned char *p; size_t n; uint8_t tag; } s[NSLOTS] = {{0}};
	uint64_t sum = 0;

	for (long i = 0; i < ops; i++) {
		size_t k = rng_below(&r, NSLOTS);
		if (s[k].p) {
			sum += check(s[k].p, s[k].n, s[k].tag);
			free(s[k].p);
		}
		size_t n = rng_logsize(&r, 16u << 10, 8u << 20);
		s[k].p = xmalloc(n);
		s[k].n = n;
		s[k].tag = (uint8_t)(i * 7);
		memset(s[k].p, (int)(i & 0xff), n);
		stamp(s[k].p, n, s[k].tag);
	}
	for (size_t k = 0; k < NSLOTS; k++)
		if (s[k].p) {
			sum += check(s[k].p, s[k].n, s[k].tag);
			free(s[k].p);
		}
	printf("large ops=%ld checksum=%016llx\n", ops, (unsigned long long)sum);
	return 0;
}
