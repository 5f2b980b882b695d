/*
 * heap_find.c — where blocks are: the block a pointer handed to free or
 * realloc names (hs_heap_lookup, which never reads memory that is not
 * ours), and walks over every block (exit checks, leak scan, heap maps),
 * with the locks they take and a deadline for taking them.
 */
#include <time.h>

#include "alloc.h"

/* ---- validation ------------------------------------------------------- */

struct hs_header *hs_heap_lookup(const void *user, enum hs_where *where)
{
	*where = HS_NOT_OURS;
	if ((uintptr_t)user & (HS_ALIGN - 1)) {          /* never one of ours */
		if (hs_boot_owns(user))
			*where = HS_IN_BOOT;
		return NULL;
	}
	/* Look up the header's granule, not the user pointer's: with an
	 * alignment of a granule or more the user pointer starts one. */
	/* Boot and node memory first: either may have been mapped into
	 * the unmapped tail of a granule a huge mapping keeps registered. */
	uintptr_t v = hs_boot_owns(user) || hs_node_owns(user)
	              ? 0 : hs_pagemap_get(hs_header_of(user));
	if (!v) {
		if (!hs_boot_owns(user) && !hs_node_owns(user))
			return NULL;
		struct hs_header *h = hs_header_of(user);
		if (!hs_header_valid(h) || h->bin != HS_BIN_BOOT)
			return NULL;
		*where = HS_IN_BOOT;
		return h;
	}
	struct hs_header *h = hs_header_of(user);
	if (v & HS_GRANULE_HUGE) {
		/* Only the descriptor at the mapping's base is known to be
		 * mapped (a granule's tail may not be): check it first. */
		if (!hs_huge_owns(user) || !hs_header_valid(h) || h->bin != HS_BIN_HUGE)
			return NULL;
		*where = HS_IN_HUGE;
		return h;
	}
	/* Inside an arena every byte is mapped, so reading the candidate
	 * header is safe; then the page metadata must agree with it. */
	if (!hs_header_valid(h))
		return NULL;
	struct hs_arena *a;
	struct hs_page *pg = hs_buddy_block_of(h, &a);
	if (!pg)
		return NULL;
	if (h->bin < HS_NR_BINS) {
		if (pg->state != PG_SLAB || pg->slab->bin != h->bin)
			return NULL;
		char *slot = hs_bins_slot_of(pg, h);
		if (!slot)
			return NULL;
		if (!(h->kind & HS_KIND_MOVED) && slot != (char *)h)
			return NULL;
		*where = HS_IN_BIN;
		return h;
	}
	if (h->bin == HS_BIN_LARGE && pg->state == PG_LARGE &&
	    hs_page_addr(a, pg) + pg->hdr_off == (char *)h) {
		*where = HS_IN_BUDDY;
		return h;
	}
	return NULL;
}

/* ---- walks --------------------------------------------------------------- */

struct walk {
	hs_header_fn fn;
	void *ctx;
};

static void walk_arena(struct hs_arena *a, void *ctx)
{
	struct walk *w = ctx;
	for (size_t i = 0; i < HS_ARENA_PAGES; ) {
		struct hs_page *pg = &a->pages[i];
		char *addr = a->base + (i << HS_PAGE_SHIFT);
		if (pg->state == PG_FREE) {
			i += (size_t)1 << pg->order;
		} else if (pg->state == PG_LARGE) {
			w->fn((struct hs_header *)(addr + pg->hdr_off), w->ctx);
			i += pg->npages ? pg->npages : 1;
		} else if (pg->state == PG_SLAB) {
			struct hs_slab *s = pg->slab;
			uint32_t n = s->carved < s->capacity ? s->carved : s->capacity;
			for (uint32_t k = 0; k < n; k++) {
				/* a walk reads every header and (the exit check) the
				 * canary near the slot's end: fetch a few slots ahead,
				 * the hardware's stride prefetch stops at each page
				 * (leakheap, 4M slots: the exit check 170 to 128 ms) */
				if (k + 8 < n) {
					const char *ahead = s->base + (size_t)(k + 8) * s->slot_size;
					__builtin_prefetch(ahead);
					__builtin_prefetch(ahead + s->slot_size - 1);
				}
				w->fn(hs_slot_block_header(s->base + (size_t)k * s->slot_size,
				                           s->slot_size), w->ctx);
			}
			i += pg->npages ? pg->npages : 1;
		} else {
			i++;
		}
	}
}

static void walk_huge(void *user, void *ctx)
{
	struct walk *w = ctx;
	w->fn(hs_header_of(user), w->ctx);
}

void hs_heap_foreach_header(hs_header_fn fn, void *ctx)
{
	struct walk w = { fn, ctx };
	hs_buddy_foreach_arena(walk_arena, &w);
	hs_huge_foreach(walk_huge, &w);
	hs_boot_foreach(fn, ctx);
}

void hs_heap_foreach_header_locked(hs_header_fn fn, void *ctx)
{
	struct walk w = { fn, ctx };
	hs_buddy_foreach_arena_locked(walk_arena, &w);
	hs_huge_foreach_locked(walk_huge, &w);
	hs_boot_foreach(fn, ctx);
}

struct live_walk {
	hs_block_fn fn;
	void *ctx;
};

static void visit_live(struct hs_header *h, void *ctx)
{
	struct live_walk *w = ctx;
	if (h->state == HS_LIVE && hs_header_valid(h))
		w->fn(h, hs_user_of(h), w->ctx);
}

void hs_heap_foreach_live(hs_block_fn fn, void *ctx)
{
	struct live_walk w = { fn, ctx };
	hs_heap_foreach_header(visit_live, &w);
}

void hs_heap_foreach_live_locked(hs_block_fn fn, void *ctx)
{
	struct live_walk w = { fn, ctx };
	hs_heap_foreach_header_locked(visit_live, &w);
}

/* ---- every lock, with a deadline --------------------------------------- */

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

bool hs_heap_lock_all_timed(unsigned ms)
{
	uint64_t end = now_us() + (uint64_t)ms * 1000u;
	struct timespec nap = { 0, 200 * 1000 };
	for (;;) {
		if (hs_bins_trylock_all()) {
			if (hs_buddy_trylock()) {
				if (hs_huge_trylock())
					return true;
				hs_buddy_unlock();
			}
			hs_bins_unlock_all();
		}
		if (now_us() >= end)
			return false;
		nanosleep(&nap, NULL);
	}
}

void hs_heap_unlock_all(void)
{
	hs_huge_unlock();
	hs_buddy_unlock();
	hs_bins_unlock_all();
}
