/*
 * blockof.c — which block does this address belong to?
 *
 * For the error paths: an interior pointer handed to free (report the
 * block it points into), a pointer whose header fails its check (is it
 * where a header should be? then the header was overwritten), and the
 * neighbour before a damaged header (the likely source of the overrun).
 *
 * Only the allocator's own bookkeeping is consulted first: the pagemap
 * says whether the granule is ours, out-of-band page metadata says which
 * slab or page block covers the address and where its slots start. A
 * header is read only at a position the geometry names, inside memory
 * that is mapped because we hold it. Blocks from boot.c are not located
 * (never reused, never checked).
 */
#include "alloc.h"

/* The header a slot's geometry puts in front of its block: the slot
 * start, or further in when a HS_PADDING header says the block moved up
 * for alignment. NULL if the padding header is implausible. */
static struct hs_header *slot_header(char *slot, uint32_t slot_size)
{
	struct hs_header *h = (struct hs_header *)slot;
	if (h->state == HS_PADDING && h->check == hs_header_hash(h)) {
		size_t d = h->size;
		if (d == 0 || d % HS_ALIGN || d + HS_HEADER_SIZE > slot_size)
			return NULL;
		h = (struct hs_header *)(slot + d);
	}
	return h;
}

struct huge_find {
	const char *addr;
	struct hs_header *h;
};

static void huge_visit(void *user, void *ctx)
{
	struct huge_find *f = ctx;
	char *u = user;
	size_t cap = hs_huge_capacity(user);
	if (f->addr >= u - HS_HEADER_SIZE && f->addr < u + cap)
		f->h = hs_header_of(user);
}

struct hs_header *hs_block_containing(const void *addr, struct hs_header **expected)
{
	*expected = NULL;
	uintptr_t v = hs_pagemap_get(addr);
	if (!v)
		return NULL;
	struct hs_header *h;
	if (v & HS_GRANULE_HUGE) {
		struct huge_find f = { addr, NULL };
		hs_huge_foreach(huge_visit, &f);
		h = f.h;
	} else {
		struct hs_arena *a;
		struct hs_page *pg = hs_buddy_block_of(addr, &a);
		if (!pg)
			return NULL;            /* free pages */
		if (pg->state == PG_SLAB) {
			char *slot = hs_bins_slot_of(pg, addr);
			if (!slot)
				return NULL;    /* not carved yet */
			h = slot_header(slot, pg->slab->slot_size);
		} else {
			h = (struct hs_header *)(hs_page_addr(a, pg) + pg->hdr_off);
		}
	}
	*expected = h;
	return h && hs_header_valid(h) ? h : NULL;
}

struct hs_header *hs_block_before(const struct hs_header *hdr)
{
	struct hs_arena *a;
	struct hs_page *pg = hs_buddy_block_of(hdr, &a);
	if (!pg)
		return NULL;
	const char *start = pg->state == PG_SLAB ? hs_bins_slot_of(pg, hdr)
	                                         : hs_page_addr(a, pg);
	if (!start || (uintptr_t)start % HS_ARENA_SIZE == 0)
		return NULL;            /* the first block of an arena */
	struct hs_header *exp;
	return hs_block_containing(start - 1, &exp);
}
