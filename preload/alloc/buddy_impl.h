/*
 * buddy_impl.h — what buddy.c shares with buddy_reshape.c. The two files
 * are one module (one lock, one set of free lists); these are buddy.c's
 * own helpers, exported for the other file only. The caller holds the
 * buddy lock (hs_buddy_lock) for all of them.
 */
#ifndef HS_BUDDY_IMPL_H
#define HS_BUDDY_IMPL_H

#include "alloc.h"

static inline size_t hs_buddy_page_index(const struct hs_arena *a, const struct hs_page *pg)
{
	return (size_t)(pg - a->pages);
}

/* Newest free block of this order on the dirty (1) or clean (0) list. */
struct hs_page *hs_buddy_free_head(unsigned order, int dirty);
/* Take a free block's head off its list (its pages stay counted free). */
void hs_buddy_list_del(struct hs_page *pg);
/* Pages [idx, idx + npages) become one allocated block, counted used. */
void hs_buddy_mark_block(struct hs_arena *a, size_t idx, size_t npages, struct hs_slab *slab);
/* File pages already counted free as aligned free blocks, merging. */
void hs_buddy_file_range(struct hs_arena *a, size_t idx, size_t end);
/* Allocated pages become free; touched: they were the program's. */
void hs_buddy_free_range(struct hs_arena *a, size_t idx, size_t end, bool touched);
/* Free pages claimed by a block other than through hs_buddy_mark_block. */
void hs_buddy_count_taken(struct hs_arena *a, size_t npages);

#endif
