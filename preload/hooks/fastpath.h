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

/* A slot of the request's bin from this thread's cache, its header
 * written; NULL when the cache is empty or n is not a bin size (the
 * caller goes on to the heap). */
static inline __attribute__((always_inline))
void *hs_fast_pop(size_t n, unsigned kind, uint32_t stack, size_t guard)
{
	if (unlikely(n > HS_BIN_MAX_USER - guard))      /* n + guard cannot wrap */
		return NULL;
	unsigned bin = hs_size_to_bin(hs_room(n, guard));
	struct hs_tcache_bin *tb = &hs_tc.bins[bin];
	hs_busy = 1;
	void *slot = tb->head;
	if (unlikely(!slot)) {
		hs_busy = 0;
		return NULL;
	}
	/* With checks on, a slot whose header was overrun is not handed
	 * out, nor is its link (the next word) followed. */
	if (guard && unlikely(!hs_free_slot_ok(slot, bin))) {
		hs_busy = 0;
		hs_bad_cached_slot(tb, slot);
		return NULL;
	}
	tb->head = hs_slot_next(slot);
	tb->count--;
	hs_busy = 0;
	/* Canary before header: a walk that sees LIVE sees the canary too
	 * (exit check while other threads run). */
	if (guard) {
		hs_canary_put(hs_user_of(slot), n);
		atomic_signal_fence(memory_order_release);
	}
	hs_header_set_g(slot, n, bin, kind, stack, guard != 0);
	hs_ts.allocs++;
	hs_ts.live += (int64_t)n;
	return hs_user_of(slot);
}

static inline __attribute__((always_inline))
void *hs_fast_alloc(size_t n, unsigned kind, uint32_t stack, size_t guard)
{
	void *p = hs_fast_pop(n, kind, stack, guard);
	return likely(p) ? p : hs_heap_alloc(n, HS_ALIGN, kind, stack);
}

/* The header of the block at p if it is a plain block (at its slot or
 * page block start, no MOVED flag), LIVE, of a family in `accept` (a mask
 * of 1 << kind, one run of consecutive kinds: alloc.h), its check intact,
 * in a bin (or, with pages, a page block); *w0 is its word 0, *arena the
 * arena it is in. NULL otherwise. The header's granule decides first:
 * inside an arena every byte is mapped, so reading the header is safe.
 * One load of each header word, decoded in registers: state, kind and bin
 * are the top 16 bits, so "LIVE, a kind in accept, a bin" is one
 * subtraction and two compares. */
static inline __attribute__((always_inline))
struct hs_header *plain_header(void *p, unsigned accept, bool pages, uint64_t *w0,
                               struct hs_arena **arena)
{
	if (unlikely((uintptr_t)p & (HS_ALIGN - 1)))
		return NULL;
	struct hs_header *h = hs_header_of(p);
	uintptr_t g = hs_pagemap_get(h);
	if (unlikely(!g || (g & HS_GRANULE_HUGE)))
		return NULL;
	uint64_t w = hs_header_word0(h);
	uint32_t stack = h->stack, check = h->check;
	uint64_t top = (w >> HS_W0_BIN_SHIFT)
	               - ((uint64_t)HS_LIVE << 12 | (uint64_t)__builtin_ctz(accept) << 8);
	if (unlikely(top >= (uint64_t)__builtin_popcount(accept) << 8
	             || ((top & 0xFF) >= HS_NR_BINS && (!pages || (top & 0xFF) != HS_BIN_LARGE))
	             || check != hs_hash_words(w, stack, h)))
		return NULL;
	*w0 = w;
	*arena = (struct hs_arena *)g;
	return h;
}

/* True if the block was a plain bin block of a family in `accept` and is
 * now in the cache. sites: count the free in the heap profile (while
 * recording; a constant at each call site). */
static inline __attribute__((always_inline))
bool hs_fast_free(void *p, unsigned accept, bool sites)
{
	uint64_t w0;
	struct hs_arena *a;
	struct hs_header *h = plain_header(p, accept, false, &w0, &a);
	if (!h)
		return false;
	unsigned bin = (unsigned)(w0 >> HS_W0_BIN_SHIFT) & 0xFF;
	struct hs_tcache_bin *tb = &hs_tc.bins[bin];
	if (unlikely(tb->count >= tb->limit))   /* 0 unless the cache is live */
		return false;
	size_t size = w0 & (((uint64_t)1 << HS_W0_GUARD_SHIFT) - 1);
	/* The heap profile (the allocator alone counts no sites at either
	 * end: hookentry.h) */
	struct hs_site_ctr *se = NULL;
	if (sites) {
		se = hs_site_free_entry(h->stack);
		if (unlikely(!se))
			return false;         /* (sites.h): free_slow counts it */
	}
	/* LIVE -> FREED in one atomic step: a racing free of the same block
	 * loses here and is reported by the slow path (double free). */
	if (unlikely(!hs_header_claim(h, &w0)))
		return false;
	if (sites)
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

/* realloc that stays where it is: a plain block (no MOVED flag) of the
 * malloc or memalign family, header intact, LIVE, whose slot holds the
 * new size (hs_bin_fits, the rule hs_heap_realloc keeps), or a page block
 * of more than 16 KiB whose pages hold it without a page more or less
 * (a string grown a few bytes at a time past the bins: 16 appends of up
 * to 256 bytes per page). It is claimed here (a racing free loses and
 * reports) and the caller seals it with hs_fast_realloc_seal, with the
 * canary *guard says (none where it would cost a page), once it has the
 * stack. NULL: the slow path. With checks on the old canary is checked
 * first, as the slow path does. */
static inline __attribute__((always_inline))
struct hs_header *hs_fast_realloc_claim(void *p, size_t n, size_t *guard)
{
	uint64_t w0;
	struct hs_arena *a;
	struct hs_header *h = n <= HS_ARENA_SIZE ? plain_header(p, HS_ACCEPT_FREE, true, &w0, &a)
	                                         : NULL;
	if (!h)
		return NULL;
	unsigned bin = (unsigned)(w0 >> HS_W0_BIN_SHIFT) & 0xFF;
	if (bin == HS_BIN_LARGE) {
		/* Read before the claim, as the free path reads the header:
		 * the arena is not unmapped while it holds a live block. */
		struct hs_page *pg = &a->pages[((char *)h - a->base) >> HS_PAGE_SHIFT];
		*guard = hs_page_guard(n, HS_HEADER_SIZE, *guard);
		size_t room = hs_room(n, *guard);
		if (pg->state != PG_LARGE || pg->hdr_off || room <= HS_BIN_MAX_USER / 2
		    || (HS_HEADER_SIZE + room + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT != pg->npages)
			return NULL;
	} else if (n > HS_BIN_MAX_USER || !hs_bin_fits(bin, hs_room(n, *guard))) {
		return NULL;
	}
	if (*guard && unlikely(!hs_canary_ok(h)))
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
