/*
 * fastpath.h — the common case of malloc and free, inlined into the hooks.
 *
 * malloc: pop a slot from this thread's cache for the request's bin.
 * free:   a block in a bin, at its slot start, header intact, of the
 *         family the call releases: push it.
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

/* True if the block was a plain bin block of a family in `accept` (a mask
 * of 1 << kind) and is now in the cache. */
static inline __attribute__((always_inline))
bool hs_fast_free(void *p, unsigned accept)
{
	if (unlikely((uintptr_t)p & (HS_ALIGN - 1)))
		return false;
	/* The header's granule decides: inside an arena every byte is
	 * mapped, so reading the header is safe. */
	struct hs_header *h = hs_header_of(p);
	uintptr_t g = hs_pagemap_get(h);
	if (unlikely(!g || (g & HS_GRANULE_HUGE)))
		return false;
	/* One load of each header word; decode in registers. */
	uint64_t w0 = hs_header_word0(h);
	uint32_t stack = h->stack, check = h->check;
	unsigned bin = (unsigned)(w0 >> HS_W0_BIN_SHIFT) & 0xFF;
	unsigned kind = (unsigned)(w0 >> HS_W0_KIND_SHIFT) & 0xF;
	if (unlikely((w0 >> HS_W0_STATE_SHIFT) != HS_LIVE || bin >= HS_NR_BINS
	             || !((1u << kind) & accept) || hs_tc.state != 1
	             || check != hs_hash_words(w0, stack, h)))
		return false;
	struct hs_tcache_bin *tb = &hs_tc.bins[bin];
	if (unlikely(tb->count >= tb->limit))
		return false;
	size_t size = w0 & (((uint64_t)1 << HS_W0_GUARD_SHIFT) - 1);
	if (unlikely(!hs_site_free_fast(stack, size, p)))   /* heap profile */
		return false;                 /* (sites.h): free_slow counts it */
	hs_ts.frees++;
	hs_ts.live -= (int64_t)size;
	hs_header_store(h, (w0 & ~HS_W0_STATE_MASK) | (uint64_t)HS_FREED << HS_W0_STATE_SHIFT,
	                stack);
	hs_busy = 1;
	hs_slot_set_next(h, tb->head);
	tb->head = h;
	tb->count++;
	hs_busy = 0;
	return true;
}

#endif
