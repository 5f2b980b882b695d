/*
 * leakindex.h — the leak scan's view of the heap (leakindex.c) and the
 * records it writes at exit (leakrecords.c).
 */
#ifndef HS_LEAKINDEX_H
#define HS_LEAKINDEX_H

#include "alloc/alloc.h"
#include "leakgraph.h"

/* Per page of an arena, what a lookup needs, packed so that it does not
 * touch the allocator's own page and slab records (48 bytes a page). */
struct hs_lk_ix_page {
	uint32_t first;                  /* head page: number of its first block */
	uint32_t count;                  /* head page: its blocks (a slab's slots
	                                    carved when the index was built, 1 for
	                                    a page block); 0 for any other page */
	uint16_t head;                   /* the head page of this page's block  */
	uint8_t  bin;                    /* head page: the slab's bin, or
	                                    HS_BIN_LARGE for a page block        */
	uint8_t  unused;
};

struct hs_lk_ix_arena {
	struct hs_arena *a;
	struct hs_lk_ix_page pg[HS_ARENA_PAGES];
};

/* The node set of every live block (leakgraph.h). Arena blocks are found
 * in O(1): pagemap -> arena -> page metadata -> slot, and their mark
 * bytes by block number; huge and boot blocks, a few, in a sorted array. */
struct hs_lk_index {
	struct hs_lk_nodes ops;          /* first: the node set               */
	uint8_t *marks;                  /* one per block number              */
	size_t   nmarks, marks_bytes;
	struct hs_lk_ix_arena *arenas;   /* sorted by base                    */
	size_t   narenas, arenas_bytes;
	struct hs_lk_ix_arena **by_index;/* hs_arena.index -> its entry       */
	size_t   nindex, by_index_bytes;
	struct hs_lk_array other;        /* huge and boot blocks              */
	struct hs_lk_entry *entries;
	size_t   entries_bytes;
	size_t   live;                   /* blocks judged live                */
	/* What could not be trusted (said in a `!` line): */
	size_t   damaged;                /* blocks classified although their
	                                    header's check is damaged (word 0
	                                    and stack intact)                */
	size_t   skipped, skipped_bytes; /* slots or blocks whose header or
	                                    metadata cannot be trusted: not
	                                    scanned, not reported            */
};

/* Build the index of every live block. The caller holds every allocator
 * lock while the index is used, so no arena or huge mapping goes away; a
 * thread that could not be stopped may still allocate and free in the
 * slabs. False: no memory. */
bool hs_lk_index_build(struct hs_lk_index *ix);
void hs_lk_index_free(struct hs_lk_index *ix);

/* leakrecords.c: the `C`, `B`, `Z` and `V` lines of a classified index
 * (docs/TRACE-FORMAT.md). With the heap's locks held: new (NULL: no
 * memory), tell (hs_lk_graph.tell: a block whose kind is final, while
 * the classification scans it), finish (after the classification; false:
 * no memory). Then, the locks released: write (and free), or free. */
struct hs_lk_records;
struct hs_lk_records *hs_lk_records_new(const struct hs_lk_index *ix);
void hs_lk_records_tell(void *records, const struct hs_lk_node *n);
bool hs_lk_records_finish(struct hs_lk_records *r);
void hs_lk_records_write(struct hs_lk_records *r);
void hs_lk_records_free(struct hs_lk_records *r);

#endif
