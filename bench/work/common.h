/*
 * common.h — shared by the benchmark workloads (bench/work/*.c).
 *
 * Every workload is deterministic given its arguments: a seeded splitmix64
 * generator drives sizes, lifetimes and choices, so each allocator under
 * test sees the same sequence of calls. Blocks are stamped when allocated
 * and checked when freed; the checksum printed at the end depends only on
 * content (never on addresses), so it must be identical under every
 * allocator and tool — run.sh compares it, and a broken allocator shows up
 * as a wrong checksum or exit status 3 rather than as a fast number.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rng { uint64_t s; };

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, n). The modulo bias is irrelevant here. */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

/* Log-uniform in [lo, hi]: as many blocks of 16-32 KiB as of 4-8 MiB,
 * which is how real programs spread large sizes. */
static inline size_t rng_logsize(struct rng *r, size_t lo, size_t hi)
{
	unsigned lb = 63 - __builtin_clzll(lo), hb = 63 - __builtin_clzll(hi);
	unsigned b = lb + (unsigned)rng_below(r, hb - lb + 1);
	size_t base = (size_t)1 << b;
	size_t n = base + rng_below(r, base);
	return n < lo ? lo : n > hi ? hi : n;
}

static inline long arg_long(int argc, char **argv, int i, long def)
{
	if (argc <= i)
		return def;
	char *end;
	long v = strtol(argv[i], &end, 0);
	if (*end || v <= 0) {
		fprintf(stderr, "%s: bad argument '%s'\n", argv[0], argv[i]);
		exit(2);
	}
	return v;
}

/* Stamp the first and last byte of a block of n >= 1 bytes with a tag
 * derived from the sequence, so that the check at free time catches an
 * allocator that hands out overlapping or clobbered memory. */
static inline void stamp(void *p, size_t n, uint8_t tag)
{
	unsigned char *c = p;
	c[0] = tag;
	c[n - 1] = (uint8_t)(tag ^ 0x5a);
}

static inline uint64_t check(const void *p, size_t n, uint8_t tag)
{
	const unsigned char *c = p;
	if (c[0] != tag || c[n - 1] != (uint8_t)(tag ^ 0x5a)) {
		fprintf(stderr, "bench: block of %zu bytes corrupted\n", n);
		exit(3);
	}
	return (uint64_t)tag * 31 + n;
}

static inline void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (!p) {
		fprintf(stderr, "bench: malloc(%zu) failed\n", n);
		exit(4);
	}
	return p;
}

#endif
