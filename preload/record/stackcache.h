/*
 * stackcache.h — the hit half of stackcache.c, inline: the allocation
 * hooks (hookentry.h) look their caller's stack up here before calling
 * anything. stackcache.c says what an entry proves and why.
 */
#ifndef HS_STACKCACHE_H
#define HS_STACKCACHE_H

#include "trace.h"
#include "unwind.h"               /* struct hs_word */

/* Sizes grow with need, within one mapping reserved per thread: a thread
 * starts with HS_SC_ENTRIES_MIN entries and HS_SC_POOL_MIN words, and
 * each time its word pool runs out both double, up to the maxima. A
 * small program touches a few KiB; a compiler whose thousands of stacks
 * keep missing gets room for them (stackcache.c, "Growth"). */
#define HS_SC_ENTRIES_MIN 512
#define HS_SC_ENTRIES_MAX 16384
#define HS_SC_POOL_MIN    16384          /* words per thread, all entries   */
#define HS_SC_POOL_MAX    262144
#define HS_SC_WAYS        16             /* entries one key may take: a
                                            malloc wrapper reached at one
                                            depth from many callers has
                                            as many stacks (ARCHITECTURE) */
#define HS_SC_WAYS_FEW    4              /* while nearly every probe misses */


/* 40 bytes. The words live apart, in a pool filled in order, so memory
 * is touched for the words stacks really have (entries sized for the
 * deepest stack made a thread with a few hundred call sites touch most
 * of 264 KiB; docs/ARCHITECTURE.md). */
struct hs_sc_entry {
	uintptr_t ra, cfa;              /* the key; ra 0 = empty or filling   */
	uintptr_t bp;                   /* the program's rbp at the call, when
	                                   the stack depends on it (HS_SC_BP) */
	uint32_t  id;                   /* interned stack                     */
	uint32_t  nw;                   /* words to check | HS_SC_BP          */
	uint32_t  gen;                  /* trace generation its S line is in  */
	uint32_t  off;                  /* words: pool[off, off + nw)         */
};
#define HS_SC_BP 0x80000000u

/* This thread's cache: the table, then the pool, in one mapping. base is
 * NULL until the first stack is recorded (so a non-NULL base also says
 * recording is on), when the cache is off, or after thread exit (failed
 * then says not to map it again). pool_used is only ever moved by one
 * atomic add, so a signal handler that fills entries in the middle of a
 * fill takes words of its own. */
struct hs_stack_cache {
	char    *base;
	uint32_t shift;                 /* 64 - log2(entries in use)          */
	int      depth;                 /* frames an entry can hold           */
	int      failed;
	_Atomic uint32_t pool_used;     /* words handed out since the reset   */
	uint32_t pool_cap;              /* words in use: HS_SC_POOL_MIN ..    */
	uint32_t epoch;                 /* resets so far                      */
	uint32_t victim;                /* way replaced next when a set is full */
	uint32_t filled;                /* entries filled since the reset: the
	                                   table grows past half full          */
	uint32_t miss_score;            /* probes missing lately (stackcache.c) */
};
extern __thread __attribute__((visibility("hidden"))) struct hs_stack_cache hs_sc;

#define HS_SC_TABLE_BYTES (HS_SC_ENTRIES_MAX * sizeof(struct hs_sc_entry))

/* Index of the key's first entry; its set is the HS_SC_WAYS entries
 * around it (index ^ 1, ^ 2, ... ^ (HS_SC_WAYS - 1)), filled and probed
 * in that order. */
static inline size_t hs_sc_index(uint32_t shift, uintptr_t ra, uintptr_t cfa)
{
	/* cfa's varying bits (4..20 or so) rotated clear of ra's, so that
	 * two keys do not cancel out in the xor */
	uint64_t h = (ra ^ (cfa << 23 | cfa >> 41)) * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> shift);
}

static inline struct hs_sc_entry *hs_sc_table(char *base)
{
	return (struct hs_sc_entry *)base;
}

static inline struct hs_word *hs_sc_pool(char *base)
{
	return (struct hs_word *)(base + HS_SC_TABLE_BYTES);
}
_Static_assert((HS_SC_ENTRIES_MIN & (HS_SC_WAYS - 1)) == 0, "sets fit the table");

static inline __attribute__((always_inline)) bool hs_sc_same(const struct hs_word *w)
{
	return *(const uintptr_t *)w->at == w->was;
}

/* e if it stands for the program's call (ra, cfa, with rbp bp) and every
 * word its unwind read still holds what it held, else NULL. */
static inline __attribute__((always_inline))
struct hs_sc_entry *hs_sc_check(char *base, struct hs_sc_entry *e, uintptr_t ra,
                                uintptr_t cfa, uintptr_t bp)
{
	if (e->ra != ra || e->cfa != cfa)
		return NULL;
	uint32_t nw = e->nw;
	if ((nw & HS_SC_BP) && e->bp != bp)
		return NULL;
	/* In order, stopping at the first difference. Unrolled: deep stacks
	 * spend most of the hit here. */
	const struct hs_word *w = hs_sc_pool(base) + e->off;
	unsigned k = nw & ~HS_SC_BP;
	for (; k >= 4; k -= 4, w += 4)
		if (!hs_sc_same(&w[0]) || !hs_sc_same(&w[1]) ||
		    !hs_sc_same(&w[2]) || !hs_sc_same(&w[3]))
			return NULL;
	if (k >= 2) {
		if (!hs_sc_same(&w[0]) || !hs_sc_same(&w[1]))
			return NULL;
		w += 2;
		k -= 2;
	}
	if (k && !hs_sc_same(&w[0]))
		return NULL;
	/* Read the key again, after the check (stackcache.c: Signals). */
	atomic_signal_fence(memory_order_seq_cst);
	if (unlikely(e->ra != ra || e->cfa != cfa))
		return NULL;
	return e;
}

/* The key's first entry, checked: what the hooks try inline. The other
 * ways of its set are tried out of line (hs_stack_capture_from). */
static inline __attribute__((always_inline))
struct hs_sc_entry *hs_sc_probe(uintptr_t ra, uintptr_t cfa, uintptr_t bp)
{
	char *base = hs_sc.base;
	if (unlikely(!base))
		return NULL;
	return hs_sc_check(base, hs_sc_table(base) + hs_sc_index(hs_sc.shift, ra, cfa),
	                   ra, cfa, bp);
}

/* The id of a verified entry whose S line is known to be in the current
 * trace, else 0 (then hs_stack_capture_from asks stacks.c). */
static inline __attribute__((always_inline))
uint32_t hs_sc_hit(uintptr_t ra, uintptr_t cfa, uintptr_t bp)
{
	struct hs_sc_entry *e = hs_sc_probe(ra, cfa, bp);
	if (likely(e && e->gen == atomic_load_explicit(&hs_stack_trace_gen,
	                                               memory_order_relaxed)))
		return e->id;
	return 0;
}

#endif
