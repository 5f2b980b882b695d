/*
 * fastpath.h — the common case of malloc and free, inlined into the hooks.
 *
 * malloc: pop a slot from this thread's cache for the request's bin.
 * free:   a block in a bin, at its slot start, header intact, of the
 *         family the call releases: claim it (LIVE -> FREED, one
 *         compare-and-swap, header.h) and push it.
 * Anything else (empty cache, large, aligned, foreign, freed, mismatched)
 * takes the out-of-line path in heap.c. hs_busy brackets the list
 * operations so a signal handler that allocates meanwhile is sent
 * elsewhere (boot.c).
 *
 * hs_fast_alloc's guard is a constant at each call site (0, or HS_CANARY
 * with checks on): the hooks test hs_guard once and inline one copy each,
 * so the plain path carries no canary code at all.
 */
#ifndef HS_FASTPATH_H
#define HS_FASTPATH_H

#include "alloc/alloc.h"
#include "checks/checks.h"
#include "record/sites.h"

static inline __attribute__((always_inline))
void *hs_fast_alloc(size_t n, unsigned kind, uint32_t stack, size_t guard)
{
	if (likely(n <= HS_BIN_MAX_USER - guard)) {     /* n + guard cannot wrap */
		unsigned bin = hs_size_to_bin(hs_room(n, guard));
		struct hs_tcache_bin *tb = &hs_tc.bins[bin];
		hs_busy = 1;
		void *slot = tb->head;
		if (likely(slot)) {
			/* With checks on, a slot whose header was overrun is not
			 * handed out, nor is its link (the next word) followed. */
			if (guard && unlikely(!hs_free_slot_ok(slot, bin))) {
				hs_busy = 0;
				hs_bad_cached_slot(tb, slot);
				return hs_heap_alloc(n, HS_ALIGN, kind, stack);
			}
			tb->head = hs_slot_next(slot);
			tb->count--;
			hs_busy = 0;
			/* Canary before header: a walk that sees LIVE sees the
			 * canary too (exit check while other threads run). */
			if (guard) {
				hs_canary_put(hs_user_of(slot), n);
				atomic_signal_fence(memory_order_release);
			}
			hs_header_set_g(slot, n, bin, kind, stack, guard != 0);
			hs_ts.allocs++;
			hs_ts.live += (int64_t)n;
			return hs_user_of(slot);
		}
		hs_busy = 0;
	}
	return hs_heap_alloc(n, HS_ALIGN, kind, stack);
}

/* The header of the block at p if it is a plain bin block (at its slot
 * start, no MOVED flag), LIVE, of a family in `accept` (a mask of
 * 1 << kind), its check intact; *w0 is its word 0. NULL otherwise. The
 * header's granule decides first: inside an arena every byte is mapped,
 * so reading the header is safe. One load of each header word, decoded
 * in registers. */
static inline __attribute__((always_inline))
struct hs_header *plain_bin_header(void *p, unsigned accept, uint64_t *w0)
{
	if (unlikely((uintptr_t)p & (HS_ALIGN - 1)))
		return NULL;
	struct hs_header *h = hs_header_of(p);
	uintptr_t g = hs_pagemap_get(h);
	if (unlikely(!g || (g & HS_GRANULE_HUGE)))
		return NULL;
	uint64_t w = hs_header_word0(h);
	uint32_t stack = h->stack, check = h->check;
	unsigned bin = (unsigned)(w >> HS_W0_BIN_SHIFT) & 0xFF;
	unsigned kind = (unsigned)(w >> HS_W0_KIND_SHIFT) & 0xF;
	if (unlikely((w >> HS_W0_STATE_SHIFT) != HS_LIVE || bin >= HS_NR_BINS
	             || !((1u << kind) & accept) || check != hs_hash_words(w, stack, h)))
		return NULL;
	*w0 = w;
	return h;
}

/* True if the block was a plain bin block of a family in `accept` and is
 * now in the cache. */
static inline __attribute__((always_inline))
bool hs_fast_free(void *p, unsigned accept)
{
	uint64_t w0;
	struct hs_header *h = plain_bin_header(p, accept, &w0);
	if (!h || unlikely(hs_tc.state != 1))
		return false;
	unsigned bin = (unsigned)(w0 >> HS_W0_BIN_SHIFT) & 0xFF;
	struct hs_tcache_bin *tb = &hs_tc.bins[bin];
	if (unlikely(tb->count >= tb->limit))
		return false;
	size_t size = w0 & (((uint64_t)1 << HS_W0_GUARD_SHIFT) - 1);
	struct hs_site_ctr *se = hs_site_free_entry(h->stack);   /* heap profile */
	if (unlikely(!se))
		return false;                 /* (sites.h): free_slow counts it */
	/* LIVE -> FREED in one atomic step: a racing free of the same block
	 * loses here and is reported by the slow path (double free). */
	if (unlikely(!hs_header_claim(h, &w0)))
		return false;
	hs_site_free_apply(se, size, p);
	hs_ts.frees++;
	hs_ts.live -= (int64_t)size;
	hs_busy = 1;
	hs_slot_set_next(h, tb->head);
	tb->head = h;
	tb->count++;
	hs_busy = 0;
	return true;
}

/* realloc that stays in its slot: a plain bin block (no MOVED flag) of
 * the malloc or memalign family, header intact, LIVE, whose slot holds
 * the new size (hs_bin_fits, the rule hs_heap_realloc keeps). It is
 * claimed here (a racing free loses and reports) and the caller seals it
 * with hs_fast_realloc_seal once it has the stack. NULL: the slow path.
 * With checks on the old canary is checked first, as the slow path does. */
static inline __attribute__((always_inline))
struct hs_header *hs_fast_realloc_claim(void *p, size_t n, size_t guard)
{
	uint64_t w0;
	struct hs_header *h = n <= HS_BIN_MAX_USER ? plain_bin_header(p, HS_ACCEPT_FREE, &w0) : NULL;
	if (!h || !hs_bin_fits((unsigned)(w0 >> HS_W0_BIN_SHIFT) & 0xFF, hs_room(n, guard)))
		return NULL;
	if (guard && unlikely(!hs_canary_ok(h)))
		return NULL;            /* the slow path reports it */
	return hs_header_claim(h, &w0) ? h : NULL;
}

static inline __attribute__((always_inline))
void *hs_fast_realloc_seal(struct hs_header *h, size_t n, uint32_t stack, size_t guard)
{
	size_t old = h->size;
	if (guard) {
		hs_canary_put(hs_user_of(h), n);
		atomic_signal_fence(memory_order_release);
	}
	hs_header_set_g(h, n, h->bin, HS_KIND_MALLOC, stack, guard != 0);
	hs_ts.allocs++;
	hs_ts.frees++;
	hs_ts.live += (int64_t)n - (int64_t)old;
	return hs_user_of(h);
}

#endif
