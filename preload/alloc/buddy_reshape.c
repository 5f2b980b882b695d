/*
 * buddy_reshape.c — blocks of the buddy (buddy.c) that are not plain
 * power-of-two splits: in-place resize, trimming an aligned block's front,
 * and page-aligned placement. Same module, same lock (buddy_impl.h).
 */
#include "alloc.h"
#include "buddy_aligned.h"
#include "buddy_impl.h"

/* If [j, end) is covered by consecutive free blocks, the first starting
 * exactly at j, take them off the free lists and return where the last one
 * ends (>= end); else return 0 and change nothing. The pages stay counted
 * as free: the caller counts what it keeps and files the rest back.
 * Caller holds lock. (A scan for such runs before splitting large blocks
 * was tried for fragmentation and measured no better on the bench's
 * aligned/realloc/large workloads, so only in-place growth uses it.) */
static size_t claim_run(struct hs_arena *a, size_t j, size_t end)
{
	size_t k = j;
	while (k < end) {
		if (k >= HS_ARENA_PAGES || a->pages[k].state != PG_FREE)
			return 0;
		k += (size_t)1 << a->pages[k].order;
	}
	for (size_t i = j; i < k; ) {
		struct hs_page *f = &a->pages[i];
		i += (size_t)1 << f->order;
		hs_buddy_list_del(f);
		f->state = PG_UNUSED;
	}
	return k;
}

/* The free block holding page i of arena a (i inside it), or NULL. */
static struct hs_page *free_block_at(struct hs_arena *a, size_t i)
{
	if (a->pages[i].state != PG_FREE && a->pages[i].state != PG_UNUSED)
		return NULL;
	for (unsigned o = 0; o <= HS_MAX_ORDER; o++) {
		struct hs_page *h = &a->pages[i & ~(((size_t)1 << o) - 1)];
		if (h->state == PG_FREE && h->order == o)
			return h;
	}
	return NULL;
}

#define ALIGNED_TRIES 16        /* candidates looked at before giving up */

/* npages whose second page starts at a multiple of align_pages: the user
 * part at the start j of a free block (aligned to its order, so to the
 * alignment when the order is big enough), the header's page j - 1 taken
 * from the free block that ends there. Over-allocating align + size and
 * trimming (the caller's fallback) needs a free block of twice the order
 * for the common sizes, which a fragmented heap rarely has: it mapped new
 * arenas for them. */
void *hs_buddy_alloc_aligned(size_t npages, size_t align_pages)
{
	if (npages < 2 || npages > HS_ARENA_PAGES)
		return NULL;
	size_t m = npages - 1;
	unsigned order = 0;
	while (((size_t)1 << order) < m || ((size_t)1 << order) < align_pages)
		order++;
	if (order > HS_MAX_ORDER)
		return NULL;
	hs_buddy_lock();
	int tries = 0;
	for (unsigned o = order; o <= HS_MAX_ORDER && tries < ALIGNED_TRIES; o++) {
		for (int d = 1; d >= 0 && tries < ALIGNED_TRIES; d--) {
			for (struct hs_page *pg = hs_buddy_free_head(o, d);
			     pg && tries < ALIGNED_TRIES; pg = pg->next, tries++) {
				struct hs_arena *a = pg->arena;
				size_t j = hs_buddy_page_index(a, pg);
				struct hs_page *f = j ? free_block_at(a, j - 1) : NULL;
				if (!f)
					continue;
				size_t fi = hs_buddy_page_index(a, f), end = j + ((size_t)1 << o);
				hs_buddy_list_del(pg);
				hs_buddy_list_del(f);
				pg->state = PG_UNUSED;
				f->state = PG_UNUSED;
				hs_buddy_mark_block(a, j - 1, npages, NULL);
				if (fi < j - 1)
					hs_buddy_file_range(a, fi, j - 1);
				if (j + m < end)
					hs_buddy_file_range(a, j + m, end);
				hs_buddy_unlock();
				return a->base + ((j - 1) << HS_PAGE_SHIFT);
			}
		}
	}
	hs_buddy_unlock();
	return NULL;
}

bool hs_buddy_resize(void *block, size_t new_npages)
{
	struct hs_arena *a;
	struct hs_page *pg = hs_buddy_block_of(block, &a);
	if (!pg || pg->state != PG_LARGE || new_npages == 0)
		return false;
	if (new_npages == pg->npages)   /* the caller's block: stable */
		return true;
	hs_buddy_lock();
	size_t idx = hs_buddy_page_index(a, pg), old = pg->npages;
	bool ok = true;
	if (new_npages < old) {
		pg->npages = (uint32_t)new_npages;
		hs_buddy_free_range(a, idx + new_npages, idx + old, true);
	} else if (new_npages > old) {
		size_t end = idx + new_npages;
		/* A free block that holds page idx + old must start there: the
		 * page before it is ours. */
		size_t k = claim_run(a, idx + old, end);
		if (!k) {
			ok = false;
		} else {
			hs_buddy_count_taken(a, end - idx - old);
			for (size_t j = idx + old; j < end; j++) {
				a->pages[j].state = PG_TAIL;
				a->pages[j].head = (uint32_t)idx;
			}
			pg->npages = (uint32_t)new_npages;
			if (k > end)                /* the surplus is free again */
				hs_buddy_file_range(a, end, k);
		}
	}
	hs_buddy_unlock();
	return ok;
}

char *hs_buddy_trim_front(void *block, size_t lead)
{
	struct hs_arena *a;
	struct hs_page *pg = hs_buddy_block_of(block, &a);
	if (!pg || pg->state != PG_LARGE || lead == 0 || lead >= pg->npages)
		return block;
	hs_buddy_lock();
	size_t idx = hs_buddy_page_index(a, pg), n = pg->npages, head = idx + lead;
	/* The kept part gets a head of its own; its tails point at it. */
	struct hs_page *nh = &a->pages[head];
	nh->state = PG_LARGE;
	nh->npages = (uint32_t)(n - lead);
	nh->hdr_off = 0;
	nh->slab = NULL;
	for (size_t i = head + 1; i < idx + n; i++)
		a->pages[i].head = (uint32_t)head;
	pg->state = PG_UNUSED;
	hs_buddy_free_range(a, idx, head, false);        /* never the program's */
	hs_buddy_unlock();
	return a->base + (head << HS_PAGE_SHIFT);
}

