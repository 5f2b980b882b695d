/*
 * util.h — small helpers shared by the analyzer and the CLI: allocation
 * that never returns NULL (a report tool has nothing sensible to do when
 * memory runs out), growable arrays, and a string interner so that the
 * thousands of identical function and file names share one copy.
 */
#ifndef HS_UTIL_H
#define HS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void *hs_xmalloc(size_t n);
void *hs_xcalloc(size_t n, size_t size);
void *hs_xrealloc(void *p, size_t n);
char *hs_xstrdup(const char *s);
char *hs_xstrndup(const char *s, size_t n);

/* Make room for `need` elements of `elsize` bytes in *arr (capacity *cap),
 * doubling so that pushes are amortised O(1). */
void hs_grow(void **arr, size_t *cap, size_t need, size_t elsize);
#define HS_PUSH(arr, n, cap) \
	(hs_grow((void **)&(arr), &(cap), (n) + 1, sizeof(*(arr))), &(arr)[(n)++])

/* Interned strings: equal contents give the same pointer, freed together. */
struct hs_strpool;
struct hs_strpool *hs_strpool_new(void);
const char *hs_intern(struct hs_strpool *p, const char *s);
void hs_strpool_free(struct hs_strpool *p);

/* A growable string: printf appends (p stays NUL-terminated). */
struct hs_sb {
	char  *p;
	size_t n, cap;
};
void hs_sb_printf(struct hs_sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hs_sb_free(struct hs_sb *b);

/* 64-bit mix for hash tables keyed by addresses or ids. */
static inline uint64_t hs_hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* "1,234,567" like memcheck; buf must hold 32 bytes. */
const char *hs_commas(uint64_t v, char buf[32]);

/* File names as the shim makes them (valgrind's --log-file rule): "%p"
 * becomes id, "%%" becomes "%". With append and no %p in the pattern,
 * ".id" is added at the end. Returns a new string. */
char *hs_expand_name(const char *pattern, const char *id, bool append);

#endif
