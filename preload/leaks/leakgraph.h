/*
 * leakgraph.h — the pure part of the leak scan: given the live blocks and
 * some root memory, decide which blocks are reachable, the way valgrind
 * memcheck does. Nothing here knows about the process (maps, threads,
 * the allocator); leaks.c and leakroots.c feed it. That split is what lets
 * tests/unit/preload/test_leaks.c check the classification on hand-built
 * block sets.
 *
 * The algorithm (memcheck's, mc_leakcheck.c, re-derived):
 *
 *   phase 1, roots.  Every aligned word of root memory that points into a
 *     block B is an edge root -> B. A pointer to B's first byte (a start
 *     pointer) from a root, or from a REACHABLE block, makes B REACHABLE;
 *     any other pointer (an interior one, or any pointer from a POSSIBLE
 *     block) makes an UNREACHED B POSSIBLE. Each state change pushes B on
 *     the mark stack so its own words are (re)scanned with its new state.
 *     States only go up: UNREACHED < POSSIBLE < REACHABLE.
 *   phase 2, cliques.  In address order, each block still UNREACHED leads
 *     a clique: everything UNREACHED that hangs off it, through start or
 *     interior pointers, becomes INDIRECT. The leaders that stay UNREACHED
 *     are "definitely lost". In a cycle of lost blocks the first one in
 *     address order is the leader, as in memcheck.
 *
 * A zero-size block covers one byte, so that a pointer to it is seen.
 * Interior pointers that match one of memcheck's heuristics (std::string,
 * length64, new[] cookie, multiple inheritance) count as start pointers.
 *
 * Memory: the caller provides the block array (sorted by start) and a
 * mark stack of n entries; each block is on the stack at most once
 * (the 'pending' flag), so n is enough and nothing recurses.
 */
#ifndef HS_LEAKGRAPH_H
#define HS_LEAKGRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Order matters: phase 1 only ever raises a state. */
enum hs_lk_state {
	HS_LK_UNREACHED = 0,    /* after phase 2: definitely lost             */
	HS_LK_INDIRECT  = 1,    /* only reachable from lost blocks            */
	HS_LK_POSSIBLE  = 2,    /* reached only through interior pointers     */
	HS_LK_REACHABLE = 3,    /* a chain of start pointers from a root      */
};

enum hs_lk_heuristic {
	HS_LK_HEUR_NONE      = 0,
	HS_LK_HEUR_STDSTRING = 1,   /* old COW std::string: length, capacity,
	                               refcount, then the chars                 */
	HS_LK_HEUR_LENGTH64  = 2,   /* a 64-bit length word, then the data     */
	HS_LK_HEUR_NEWARRAY  = 3,   /* new[] cookie: element count, elements   */
	HS_LK_HEUR_MULTI     = 4,   /* C++ multiple inheritance: a vtable
	                               pointer at the block and at the target  */
};
#define HS_LK_HEUR_ALL 0x1e     /* bit (1 << heuristic) for each above    */

struct hs_lk_block {
	uintptr_t start;            /* user pointer                            */
	size_t    size;             /* requested bytes: scanned and reported   */
	uint32_t  stack;            /* interned allocation stack (header copy) */
	uint8_t   state;            /* enum hs_lk_state                        */
	uint8_t   pending;          /* on the mark stack now                   */
	uint8_t   heuristic;        /* REACHABLE only via this heuristic       */
	uint8_t   flags;            /* HS_LK_COPY, and the caller's own bits   */
	uint32_t  leader;           /* INDIRECT: index of its clique's leader  */
};

#define HS_LK_COPY 0x40       /* hs_lk_block.flags: read via g->copy    */

struct hs_lk_graph {
	struct hs_lk_block *b;      /* sorted by start, not overlapping        */
	size_t    n;
	uint32_t *stack;            /* mark stack, n entries                   */
	size_t    top;              /* entries in use                          */
	uintptr_t lo, hi;           /* every block lies inside [lo, hi)        */
	unsigned  heuristics;       /* set of (1 << enum hs_lk_heuristic)      */
	/* For HS_LK_HEUR_MULTI: does addr look like a C++ vtable (an array
	 * of code pointers in a file mapping)? NULL disables the heuristic. */
	bool    (*is_vtable)(uintptr_t addr, void *ctx);
	void     *vtable_ctx;
	/* Blocks flagged HS_LK_COPY (their memory may be unmapped under the
	 * scan by a running thread) are read through copy, which copies up
	 * to len bytes into dst and returns how many it could (0: gone).
	 * NULL: every block is read directly. */
	size_t  (*copy)(void *dst, uintptr_t src, size_t len, void *ctx);
	void     *copy_ctx;
	void     *copy_buf;         /* copy_len bytes, for copy               */
	size_t    copy_len;
	size_t    scanned_bytes;    /* statistics: root and block bytes read   */
};

/* Sort blocks by start address, without allocating or recursing: a
 * natural merge sort through tmp (n entries) or, if tmp is NULL, heapsort
 * in place. */
void hs_lk_sort(struct hs_lk_block *b, size_t n, struct hs_lk_block *tmp);

/* Prepare g over b[0..n) (sorted; states reset to UNREACHED) with a mark
 * stack of n entries. Heuristics default to none. */
void hs_lk_init(struct hs_lk_graph *g, struct hs_lk_block *b, size_t n,
                uint32_t *stack);

/* Index of the block whose range [start, start + max(size, 1)) contains
 * p, or -1. Binary search. */
long hs_lk_find(const struct hs_lk_graph *g, uintptr_t p);

/* Phase 1 input: every aligned word in [lo, hi) is a root word. The range
 * must be readable and must not overlap a block. */
void hs_lk_scan_root(struct hs_lk_graph *g, uintptr_t lo, uintptr_t hi);
/* One root value (a register). */
void hs_lk_root_word(struct hs_lk_graph *g, uintptr_t w);
/* Like hs_lk_scan_root, for memory whose owner rounds the blocks it
 * allocates up for alignment and keeps only the rounded pointer: a
 * pointer into the first 'slack' bytes of a block counts as a start
 * pointer. (glibc's ld.so does so.) */
void hs_lk_scan_root_slack(struct hs_lk_graph *g, uintptr_t lo, uintptr_t hi,
                           size_t slack);

/* Finish phase 1 (drain the mark stack) then run phase 2. After this
 * every block's state is final. */
void hs_lk_classify(struct hs_lk_graph *g);

/* Per-kind totals, indexed by enum hs_lk_state. */
struct hs_lk_totals {
	size_t blocks[4];
	size_t bytes[4];
};
void hs_lk_totals(const struct hs_lk_graph *g, struct hs_lk_totals *t);

#endif
