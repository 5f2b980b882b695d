/*
 * buddy_aligned.h — page-aligned blocks without over-allocation (buddy.c).
 *
 * internal.h is the allocator's shared contract; this one entry point is
 * used by heap.c's alloc_large only, so it is declared here.
 */
#ifndef HS_BUDDY_ALIGNED_H
#define HS_BUDDY_ALIGNED_H

#include <stddef.h>

/* A PG_LARGE block of npages (>= 2) whose second page starts at a
 * multiple of align_pages (a power of two): the header goes at the end of
 * its first page. NULL when no such place is found quickly among the free
 * blocks (never maps an arena): the caller over-allocates instead. */
void *hs_buddy_alloc_aligned(size_t npages, size_t align_pages);

#endif
