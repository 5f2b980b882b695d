/*
 * fastpath.h — the common case of malloc and free, inlined into the hooks.
 *
 * malloc: pop a slot from this thread's cache for the request's bin.
 * free:   a block in a bin, at its slot start, header intact: push it.
 * Anything else (empty cache, large, aligned, foreign, freed) takes the
 * out-of-line path in heap.c. hs_busy brackets the list operations so a
 * signal handler that allocates meanwhile is sent elsewhere (boot.c).
 */
#ifndef HS_FASTPATH_H
#define HS_FASTPATH_H

#include "internal.h"

static inline void *hs_fast_alloc(size_t n, unsigned kind, uint32_t stack)
{
	if (likely(n <= HS_BIN_MAX_USER)) {
		unsigned bin = hs_size_to_bin(n);
		struct hs_tcache_bin *tb = &hs_tc.bins[bin];
		hs_busy = 1;
		void *slot = tb->head;
		if (likely(slot)) {
			tb->head = hs_slot_next(slot);
			tb->count--;
			hs_busy = 0;
			hs_header_set(slot, n, bin, kind, stack);
			hs_ts.allocs++;
			hs_ts.live += (int64_t)n;
			return hs_user_of(slot);
		}
		hs_busy = 0;
	}
	return hs_heap_alloc(n, HS_ALIGN, kind, stack);
}

/* True if the block was a plain bin block and is now in the cache. */
static inline bool hs_fast_free(void *p)
{
	if (unlikely((uintptr_t)p & (HS_ALIGN - 1)))
		return false;
	/* The header's granule decides: inside an arena every byte is
	 * mapped, so reading the header is safe. */
	struct hs_header *h = hs_header_of(p);
	uintptr_t g = hs_pagemap_get(h);
	if (unlikely(!g || (g & HS_GRANULE_HUGE)))
		return false;
	if (unlikely(h->state != HS_LIVE || h->bin >= HS_NR_BINS
	             || (h->kind & HS_KIND_MOVED) || hs_tc.state != 1
	             || h->check != hs_header_hash(h)))
		return false;
	struct hs_tcache_bin *tb = &hs_tc.bins[h->bin];
	if (unlikely(tb->count >= tb->limit))
		return false;
	hs_ts.frees++;
	hs_ts.live -= (int64_t)h->size;
	h->state = HS_FREED;
	hs_header_seal(h);
	hs_busy = 1;
	hs_slot_set_next(h, tb->head);
	tb->head = h;
	tb->count++;
	hs_busy = 0;
	return true;
}

#endif
