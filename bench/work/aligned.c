/*
 * aligned — posix_memalign and aligned_alloc (alternating) with alignments
 * 16 B .. 64 KiB and sizes 8 B .. 128 KiB (both log-uniform), in 4096 slots
 * with random lifetimes. Small sizes with big alignments are the hard case:
 * an allocator that over-allocates size + alignment pays in RSS; one that
 * carves aligned slots pays in bookkeeping. Every pointer's alignment is
 * checked; a misaligned one ends the run with status 3.
 *
 *   aligned [ops=500000] [seed=1]
 */
#include "common.h"

#define NSLOTS 4096

static void *get(size_t align, size_t n, int use_aligned_alloc)
{
	void *p = NULL;
	if (use_aligned_alloc) {
		/* C11 wants the size to be a multiple of the alignment. */
		p = aligned_alloc(align, (n + align - 1) & ~(align - 1));
	} else if (posix_memalign(&p, align, n) != 0) {
		p = NULL;
	}
	if (!p) {
		fprintf(stderr, "aligned: allocation of %zu aligned %zu failed\n", n, align);
		exit(4);
	}
	if ((uintptr_t)p & (align - 1)) {
		fprintf(stderr, "aligned: %p is not aligned to %zu\n", p, align);
		exit(3);
	}
	return p;
}

int main(int argc, char **argv)
{
	long ops = arg_long(argc, argv, 1, 500000);
	struct rng r = { (uint64_t)arg_long(argc, argv, 2, 1) };
	static struct { unsigned char *p; size_t n; uint8_t tag; } s[NSLOTS];
	uint64_t sum = 0;

	for (long i = 0; i < ops; i++) {
		size_t k = rng_below(&r, NSLOTS);
		if (s[k].p) {
			sum += check(s[k].p, s[k].n, s[k].tag);
			free(s[k].p);
		}
		size_t align = (size_t)16 << rng_below(&r, 13);      /* 16 .. 64 KiB */
		size_t n = rng_logsize(&r, 8, 128u << 10);
		s[k].p = get(align, n, (int)(i & 1));
		s[k].n = n;
		s[k].tag = (uint8_t)(i * 3);
		stamp(s[k].p, n, s[k].tag);
	}
	for (size_t k = 0; k < NSLOTS; k++)
		if (s[k].p) {
			sum += check(s[k].p, s[k].n, s[k].tag);
			free(s[k].p);
		}
	printf("aligned ops=%ld checksum=%016llx\n", ops, (unsigned long long)sum);
	return 0;
}
