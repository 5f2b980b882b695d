/*
 * testutil.h — small helpers shared by the shim API tests.
 *
 * Header-only (static functions) because the Makefile builds each
 * each tests/unit/hooks C file into its own program.
 */
#ifndef HS_TESTUTIL_H
#define HS_TESTUTIL_H

#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Sizes pass through a volatile so the compiler neither warns about
 * impossible constant sizes nor folds the call away: we want the real
 * entry point to see the argument. */
static inline void *tu_malloc(size_t n) { volatile size_t v = n; return malloc(v); }
static inline void *tu_calloc(size_t a, size_t b)
{
	volatile size_t va = a, vb = b;
	return calloc(va, vb);
}
static inline void *tu_realloc(void *p, size_t n) { volatile size_t v = n; return realloc(p, v); }
static inline void *tu_reallocarray(void *p, size_t a, size_t b)
{
	volatile size_t va = a, vb = b;
	return reallocarray(p, va, vb);
}

static inline uint64_t tu_rand(uint64_t *s)   /* xorshift64* */
{
	uint64_t x = *s;
	x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

static inline unsigned char tu_byte(size_t k, uint64_t seed)
{
	/* differs between neighbouring bytes and between seeds, and is not 0
	 * or 0xff throughout, so neither zeroing nor a stray memset passes */
	uint64_t x = (k + 1) * 0x9E3779B97F4A7C15ull ^ seed * 0xC2B2AE3D27D4EB4Full;
	return (unsigned char)(x >> 56);
}

static inline void tu_fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *c = p;
	for (size_t k = 0; k < n; k++)
		c[k] = tu_byte(k, seed);
}

/* Offset of the first byte that differs from the pattern, (size_t)-1 if none. */
static inline size_t tu_check(const void *p, size_t n, uint64_t seed)
{
	const unsigned char *c = p;
	for (size_t k = 0; k < n; k++)
		if (c[k] != tu_byte(k, seed))
			return k;
	return (size_t)-1;
}

static inline size_t tu_first_nonzero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t k = 0;
	for (; k + 8 <= n; k += 8) {
		uint64_t w;
		memcpy(&w, c + k, 8);
		if (w)
			break;
	}
	for (; k < n; k++)
		if (c[k])
			return k;
	return (size_t)-1;
}

/* Index of a block overlapping the next one in address order, or -1.
 * Zero-size blocks count as one byte: they must still be distinct. */
static void *const *tu_sort_base;
static int tu_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)tu_sort_base[*(const int *)a];
	uintptr_t y = (uintptr_t)tu_sort_base[*(const int *)b];
	return x < y ? -1 : x > y;
}
static inline int tu_overlap(void *const *p, const size_t *sz, int n)
{
	int *ix = malloc(sizeof(int) * (size_t)n);
	for (int i = 0; i < n; i++)
		ix[i] = i;
	tu_sort_base = p;
	qsort(ix, (size_t)n, sizeof(int), tu_cmp);
	int bad = -1;
	for (int i = 0; i + 1 < n && bad < 0; i++) {
		size_t len = sz[ix[i]] ? sz[ix[i]] : 1;
		if ((uintptr_t)p[ix[i]] + len > (uintptr_t)p[ix[i + 1]])
			bad = ix[i];
	}
	free(ix);
	return bad;
}

/* Address-space size in KiB from /proc/self/statm (no stdio: cheap and
 * allocation free). */
static inline long tu_vmsize_kb(void)
{
	char buf[128];
	int fd = open("/proc/self/statm", O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10) * (sysconf(_SC_PAGESIZE) / 1024);
}

#endif
