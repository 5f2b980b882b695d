/*
 * churn1 — one thread replacing small blocks (8..512 bytes, most under 64)
 * in an array of live slots. Three quarters of the replacements hit a small
 * hot region (short lifetimes), the rest the whole array (long lifetimes),
 * so the allocator sees both fast reuse and a large, slowly changing live
 * set of about 5 MB.
 *
 *   churn1 [ops=8000000] [seed=1]
 */
#include "common.h"

#define NSLOTS 100000
#define HOT    4096

struct slot { unsigned char *p; uint32_t n; uint8_t tag; };

/* Geometric size classes: half the requests are 8..24 bytes, a quarter
 * 8..40, and so on up to 512. */
static size_t small_size(struct rng *r)
{
	uint64_t x = rng_next(r);
	unsigned k = __builtin_ctzll(x | 32);          /* 0..5, P(k) = 2^-(k+1) */
	size_t n = 8 + (size_t)((x >> 8) % (16u << k));
	return n > 512 ? 512 : n;
}

int main(int argc, char **argv)
{
	long ops = arg_long(argc, argv, 1, 8000000);
	struct rng r = { (uint64_t)arg_long(argc, argv, 2, 1) };
	static struct slot s[NSLOTS];
	uint64_t sum = 0;

	for (long i = 0; i < ops; i++) {
		uint64_t x = rng_next(&r);
		size_t k = (x & 3) ? (x >> 2) % HOT : (x >> 2) % NSLOTS;
		if (s[k].p) {
			sum += check(s[k].p, s[k].n, s[k].tag);
			free(s[k].p);
		}
		size_t n = small_size(&r);
		s[k].p = xmalloc(n);
		s[k].n = (uint32_t)n;
		s[k].tag = (uint8_t)i;
		stamp(s[k].p, n, s[k].tag);
	}
	for (size_t k = 0; k < NSLOTS; k++)
		if (s[k].p) {
			sum += check(s[k].p, s[k].n, s[k].tag);
			free(s[k].p);
		}
	printf("churn1 ops=%ld checksum=%016llx\n", ops, (unsigned long long)sum);
	return 0;
}
