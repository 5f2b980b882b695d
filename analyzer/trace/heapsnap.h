/*
 * heapsnap.h — heap snapshots (`H`, `h`, `g` lines of a trace) in memory.
 *
 * The trace reader (trace_lines.c) hands each line's fields here; the
 * cells of an `h` line (docs/TRACE-FORMAT.md, "h cells, version 1") are
 * expanded into one hs_sblock per block, so every later question (what is
 * at this address, how many free blocks of order k) is a lookup, not a
 * parse. A 2 GiB heap is at most 512 × 1024 blocks of 20 bytes.
 */
#ifndef HS_HEAPSNAP_H
#define HS_HEAPSNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HS_SNAP_PAGE_SHIFT   12
#define HS_SNAP_PAGE         ((uint64_t)1 << HS_SNAP_PAGE_SHIFT)
#define HS_SNAP_ARENA_PAGES  1024u
#define HS_SNAP_ARENA_BYTES  ((uint64_t)HS_SNAP_ARENA_PAGES << HS_SNAP_PAGE_SHIFT)
#define HS_SNAP_ORDERS       11               /* orders 0..10              */
#define HS_SNAP_CELLS_VERSION 1               /* the grammar this reads    */

enum hs_sblock_type {
	HS_SB_FREE = 0,         /* free buddy block, not resident            */
	HS_SB_DIRTY,            /* free buddy block, may be resident         */
	HS_SB_LARGE,            /* one allocation of npages pages            */
	HS_SB_SLAB,             /* slots of one size                         */
	HS_SB_UNKNOWN,          /* `u1`: metadata made no sense              */
};

struct hs_sblock {
	uint16_t first;          /* page index in the arena                   */
	uint16_t npages;         /* 1..1024                                   */
	uint8_t  type;           /* enum hs_sblock_type                       */
	uint8_t  order;          /* free blocks: log2 npages                  */
	uint32_t used;           /* slab: slots out of the slab               */
	uint32_t capacity;       /* slab: slots that fit                      */
	uint32_t slot;           /* slab: bytes per slot, header included     */
};

struct hs_sarena {
	uint32_t index;          /* creation order                            */
	uint64_t base;           /* HS_SNAP_ARENA_BYTES aligned               */
	size_t   first, n;       /* its blocks: hs_snap.blocks[first .. +n)   */
};

struct hs_shuge {            /* `g`: a block in its own mapping           */
	uint64_t addr, usable, requested;
};

struct hs_snap {
	char    *kind;           /* "exit", "peak", "signal", "api", or newer */
	char    *label;
	uint64_t t_ms, live;
	unsigned version;
	bool     unreadable;     /* cell version unknown: arenas skipped      */
	struct hs_sarena *arenas;  size_t narenas, cap_arenas;  /* by base after
	                                                  hs_snaps_finish     */
	struct hs_sblock *blocks;  size_t nblocks, cap_blocks;
	struct hs_shuge  *huge;    size_t nhuge, cap_huge;
};

struct hs_snaps {
	struct hs_snap *v;
	size_t n, cap;
};

/* Parsers for one line's fields. Return 0, or -1 with a message in err
 * (for the reader to prefix with file, byte and line). */
int  hs_snaps_begin(struct hs_snaps *ss, const char *kind, size_t kind_len,
                    uint64_t t_ms, uint64_t live, uint64_t version,
                    const char *label, size_t label_len, char *err, size_t errcap);
int  hs_snaps_arena(struct hs_snaps *ss, uint64_t index, uint64_t base,
                    const char *cells, size_t len, char *err, size_t errcap);
int  hs_snaps_huge(struct hs_snaps *ss, uint64_t addr, uint64_t usable,
                   uint64_t requested, char *err, size_t errcap);
/* After reading: sort each snapshot's arenas by address. */
void hs_snaps_finish(struct hs_snaps *ss);
void hs_snaps_free(struct hs_snaps *ss);

/* The latest snapshot of a kind ("exit", "peak"), or NULL. */
const struct hs_snap *hs_snaps_find(const struct hs_snaps *ss, const char *kind);

/* The block holding addr, or NULL (not in any arena of the snapshot). */
const struct hs_sblock *hs_snap_block_at(const struct hs_snap *s, uint64_t addr,
                                         const struct hs_sarena **arena);

/* Free blocks per order (and free pages) counted from the cells. */
void hs_snap_free_counts(const struct hs_snap *s, uint64_t nr_free[HS_SNAP_ORDERS],
                         uint64_t *free_pages, uint64_t *dirty_pages);

#endif
