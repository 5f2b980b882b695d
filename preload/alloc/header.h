/*
 * header.h — the 16 bytes in front of every block.
 *
 *   word 0:  size:47  requested bytes (so HS_MAX_REQUEST < 2^47)
 *            guard:1  a canary follows the user bytes (checks.c): set
 *                     when the block was allocated with checks on, so a
 *                     block made before the settings were read, or from
 *                     boot.c, is never checked for one
 *            bin:8    size class of the slot, HS_BIN_LARGE or HS_BIN_HUGE
 *            kind:4   which API family allocated it (enum hs_kind)
 *            state:4  HS_LIVE or HS_FREED (anything else: not a header);
 *                     HS_PADDING marks a bin slot whose block was moved
 *                     up for alignment: its header is `size` bytes on
 *   word 1:  stack:32 interned call-stack id, 0 when not recorded
 *            check:32 hash of word 0 without its state, stack, the
 *                     header's own address and a per-process secret
 *
 * The check is what lets free() tell our block from a foreign or smashed
 * pointer: a random 16 bytes pass with probability 2^-32, and a valid
 * header copied to another address fails because the address is hashed in.
 *
 * The state is left out of the hash so that LIVE -> FREED is one atomic
 * step on word 0 (hs_header_claim): of threads that free one block at
 * once exactly one wins, and every reader sees a whole header, old or
 * new, never a new state beside an old check. The state nibble is still
 * checked: only LIVE (1010) and FREED (0101) are headers, and no single
 * bit flip or byte of junk turns one into the other by chance more often
 * than 1 in 16 (junk states fail outright).
 */
#ifndef HS_HEADER_H
#define HS_HEADER_H

#include <stdint.h>
#include <stdbool.h>
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
	uint64_t size  : 47;
	uint64_t guard : 1;
	uint64_t bin   : 8;
	uint64_t kind  : 4;
	uint64_t state : 4;
	uint32_t stack;
	uint32_t check;
};
_Static_assert(sizeof(struct hs_header) == HS_HEADER_SIZE, "header is 16 bytes");

extern uint64_t hs_secret;     /* set once at init from AT_RANDOM        */

/* The header as two machine words. Writes build both words in registers
 * and store each once: filling the bitfields and then reading the word
 * back to hash it stalls on store forwarding, on every malloc. */
#define HS_W0_GUARD_SHIFT 47
#define HS_W0_BIN_SHIFT   48
#define HS_W0_KIND_SHIFT  56
#define HS_W0_STATE_SHIFT 60
#define HS_W0_STATE_MASK  ((uint64_t)0xF << HS_W0_STATE_SHIFT)

static inline uint64_t hs_header_word0(const struct hs_header *h)
{
	uint64_t w;
	__builtin_memcpy(&w, h, sizeof w);
	return w;
}

/* One multiply: every input bit reaches the top half of the product
 * (the constant is odd), whose 32 bits are the check; a flipped bit
 * always changes it, random bytes pass with odds 2^-32. The check is
 * there to recognise our headers, not to resist an adversary who knows
 * the secret, so a second mixing round (4 instructions on every malloc
 * and free) is not spent. */
static inline uint32_t hs_hash_words(uint64_t w0, uint32_t stack, const void *at)
{
	w0 &= ~HS_W0_STATE_MASK;
	uint64_t x = w0 ^ ((uint64_t)stack << 17) ^ (uint64_t)(uintptr_t)at ^ hs_secret;
	x *= 0x9E3779B97F4A7C15ull;    /* Fibonacci hashing: mixes high bits  */
	return (uint32_t)(x >> 32);
}

static inline uint32_t hs_header_hash(const struct hs_header *h)
{
	return hs_hash_words(hs_header_word0(h), h->stack, h);
}

static inline void hs_header_store(struct hs_header *h, uint64_t w0, uint32_t stack)
{
	uint64_t w1 = (uint64_t)stack | (uint64_t)hs_hash_words(w0, stack, h) << 32;
	__builtin_memcpy(h, &w0, sizeof w0);
	__builtin_memcpy((char *)h + 8, &w1, sizeof w1);
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

/* Word 0 and the stack id are the block's own even though the header
 * fails its check: only the check's top two bytes differ from the hash.
 * Those are the header's last two bytes, what an underrun of one or two
 * bytes (p[-1] = 0) reaches first; the 16 bits left still vouch for the
 * rest (a damaged word 0 or stack passes with odds 2^-16). The leak scan
 * still classifies such a block, and its damage report names its own
 * allocation stack. */
#define HS_CHECK_TRUSTED_MASK 0xFFFFu
static inline int hs_header_words_intact(const struct hs_header *h)
{
	return (h->state == HS_LIVE || h->state == HS_FREED)
	       && ((h->check ^ hs_header_hash(h)) & HS_CHECK_TRUSTED_MASK) == 0;
}

static inline void hs_header_set_g(struct hs_header *h, size_t size, unsigned bin,
                                   unsigned kind, uint32_t stack, unsigned guard)
{
	uint64_t w0 = (uint64_t)size | (uint64_t)guard << HS_W0_GUARD_SHIFT
	              | (uint64_t)bin << HS_W0_BIN_SHIFT
	              | (uint64_t)kind << HS_W0_KIND_SHIFT
	              | (uint64_t)HS_LIVE << HS_W0_STATE_SHIFT;
	hs_header_store(h, w0, stack);
}

/* A block without a canary (boot blocks, padding, slots being carved). */
static inline void hs_header_set(struct hs_header *h, size_t size, unsigned bin,
                                 unsigned kind, uint32_t stack)
{
	hs_header_set_g(h, size, bin, kind, stack, 0);
}

static inline uint64_t hs_w0_with_state(uint64_t w0, unsigned state)
{
	return (w0 & ~HS_W0_STATE_MASK) | (uint64_t)state << HS_W0_STATE_SHIFT;
}

/* hs_header_claim, LIVE -> FREED in one atomic step, is in alloc.h. */

/* Any state change of a header this thread owns (the check stays). */
static inline void hs_header_set_state(struct hs_header *h, unsigned state)
{
	uint64_t w0 = hs_w0_with_state(hs_header_word0(h), state);
	__builtin_memcpy(h, &w0, sizeof w0);
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
