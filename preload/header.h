/*
 * header.h — the 16 bytes in front of every block.
 *
 *   word 0:  size:48  requested bytes (so HS_MAX_REQUEST < 2^48)
 *            bin:8    size class of the slot, HS_BIN_LARGE or HS_BIN_HUGE
 *            kind:4   which API family allocated it (enum hs_kind)
 *            state:4  HS_LIVE or HS_FREED (anything else: not a header);
 *                     HS_PADDING marks a bin slot whose block was moved
 *                     up for alignment: its header is `size` bytes on
 *   word 1:  stack:32 interned call-stack id, 0 when not recorded
 *            check:32 hash of word 0, stack, the header's own address and
 *                     a per-process secret
 *
 * The check is what lets free() tell our block from a foreign or smashed
 * pointer: a random 16 bytes pass with probability 2^-32, and a valid
 * header copied to another address fails because the address is hashed in.
 */
#ifndef HS_HEADER_H
#define HS_HEADER_H

#include <stdint.h>
#include <stddef.h>

#define HS_HEADER_SIZE 16

enum hs_kind {
	HS_KIND_MALLOC    = 1,  /* malloc, calloc, realloc                  */
	HS_KIND_ALIGNED   = 2,  /* memalign, posix_memalign, aligned_alloc,
	                           valloc, pvalloc: free() is the match        */
	HS_KIND_NEW       = 3,  /* operator new                             */
	HS_KIND_NEW_ARRAY = 4,  /* operator new[]                           */
	HS_KIND_FAMILY    = 7,  /* mask: the API family above               */
	HS_KIND_MOVED     = 8,  /* flag: the header is not at the start of its
	                           slot or block (moved up for alignment)    */
};

enum hs_state {
	HS_LIVE  = 0xA,
	HS_FREED = 0x5,
	HS_PADDING = 0x3,   /* slot start of an aligned bin block; never a
	                       user-visible header                          */
};

#define HS_BIN_LARGE 0xFE       /* a buddy block                          */
#define HS_BIN_HUGE  0xFF       /* its own mapping                        */

struct hs_header {
	uint64_t size  : 48;
	uint64_t bin   : 8;
	uint64_t kind  : 4;
	uint64_t state : 4;
	uint32_t stack;
	uint32_t check;
};
_Static_assert(sizeof(struct hs_header) == HS_HEADER_SIZE, "header is 16 bytes");

extern uint64_t hs_secret;     /* set once at init from AT_RANDOM        */

static inline uint64_t hs_header_word0(const struct hs_header *h)
{
	return *(const uint64_t *)h;
}

static inline uint32_t hs_header_hash(const struct hs_header *h)
{
	uint64_t x = hs_header_word0(h) ^ ((uint64_t)h->stack << 17)
	             ^ (uint64_t)(uintptr_t)h ^ hs_secret;
	x *= 0x9E3779B97F4A7C15ull;    /* Fibonacci hashing: mixes high bits  */
	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	return (uint32_t)(x >> 32);
}

static inline void hs_header_seal(struct hs_header *h)
{
	h->check = hs_header_hash(h);
}

static inline int hs_header_valid(const struct hs_header *h)
{
	return (h->state == HS_LIVE || h->state == HS_FREED)
	       && h->check == hs_header_hash(h);
}

static inline void hs_header_set(struct hs_header *h, size_t size, unsigned bin,
                                 unsigned kind, uint32_t stack)
{
	struct hs_header n = { .size = size, .bin = bin, .kind = kind,
	                       .state = HS_LIVE, .stack = stack, .check = 0 };
	*h = n;
	hs_header_seal(h);
}

static inline void *hs_user_of(struct hs_header *h)
{
	return (char *)h + HS_HEADER_SIZE;
}

static inline struct hs_header *hs_header_of(const void *user)
{
	return (struct hs_header *)((char *)user - HS_HEADER_SIZE);
}

#endif
