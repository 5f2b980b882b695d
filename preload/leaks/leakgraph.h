/*
 * leakgraph.h — the pure part of the leak scan: given the live blocks and
 * some root memory, decide which blocks are reachable, the way valgrind
 * memcheck does. Nothing here knows about the process or the allocator:
 * the blocks come as a node set (struct hs_lk_nodes) that answers "which
 * block contains this address" and walks the blocks in address order.
 * leakindex.c builds one from the allocator's own structures (O(1) per
 * lookup), leakarray.c one from a sorted array (boot and huge blocks, and
 * the unit tests in tests/unit/leaks/, which check the classification on
 * hand-built block sets).
 *
 * Each block has one mark byte, the whole of the scan's per-block state:
 * its kind (2 bits) and a few flags. The algorithm (memcheck's,
 * mc_leakcheck.c, re-derived; docs/LEAK-SCAN.md):
 *
 *   phase 1, roots.  Every aligned word of root memory that points into a
 *     block B is an edge root -> B. A pointer to B's first byte (a start
 *     pointer) from a root, or from a REACHABLE block, makes B REACHABLE;
 *     any other pointer (an interior one, or any pointer from a POSSIBLE
 *     block) makes an UNREACHED B POSSIBLE. Each state change pushes B on
 *     the mark stack so its own words are (re)scanned with its new state.
 *     States only go up: UNREACHED < POSSIBLE < REACHABLE.
 *   phase 2, the lost blocks (UNREACHED), through start or interior
 *     pointers alike. A lost block is definitely lost when no other lost
 *     block reaches it; in a group of lost blocks that reach each other (a
 *     cycle) and that nothing else lost reaches, the one at the lowest
 *     address is definitely lost. Every other lost block is indirectly
 *     lost: something lost reaches it. A cycle reached from another lost
 *     block is therefore indirectly lost as a whole, as memcheck reports
 *     it. In four steps, with no per-block memory beyond the mark byte:
 *       2a. every lost block pointed to by another lost block is flagged
 *           LOSTREF (one pass over the lost blocks);
 *       2b. the lost blocks without LOSTREF are definitely lost; all that
 *           hangs off them becomes INDIRECT. What is left lost and
 *           flagged lies in cycles, or below one, that no other lost
 *           block reaches; usually nothing. For those, as in Kosaraju's
 *           algorithm:
 *       2c. depth-first searches over them, started in address order from
 *           each one not yet visited (flag SEARCH on it);
 *       2d. the starts of 2c in reverse (descending address): a start
 *           still UNREACHED is definitely lost, and everything lost that
 *           hangs off it becomes INDIRECT.
 *     A start that 2d reaches first is in a group (strongly connected
 *     component) that no other lost block reaches, and it is that group's
 *     lowest address: 2c's searches finish in the order they start, so a
 *     group reached from another is always absorbed before its own start
 *     comes up (Kosaraju's lemma).
 *
 * Except in 2c (a true depth-first search), the order in which blocks are
 * scanned does not change the result, so a word that may point to a
 * block is not looked up at once: it waits in a small ring while its
 * memory is prefetched, and blocks from independent chains (the lists of
 * a heap) are fetched side by side instead of one cache miss at a time.
 *
 * A zero-size block covers one byte, so that a pointer to it is seen.
 * Interior pointers that match one of memcheck's heuristics (std::string,
 * length64, new[] cookie, multiple inheritance) count as start pointers.
 *
 * Memory: the caller provides scratch for 3 words per block (the mark
 * stack holds a block at most once, the pending flag, in three words; a
 * search frame is two); only the depth actually reached is touched.
 * Nothing recurses.
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

/* The mark byte of a block. */
#define HS_LK_STATE   0x03      /* enum hs_lk_state                       */
#define HS_LK_PENDING 0x04      /* on the mark stack                      */
#define HS_LK_VISITED 0x08      /* phase 2c reached it                    */
#define HS_LK_SEARCH  0x10      /* phase 2c started a search here         */
#define HS_LK_ABSENT  0x20      /* the node set's: not a block (free slot) */
#define HS_LK_GLIBC_CACHE 0x40  /* glibc's cached dtv of an exited thread:
                                   classified, never reported (leakthreads.c) */
#define HS_LK_LOSTREF 0x80      /* phase 2a: another lost block points here */

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

/* One block, as a node set describes it. */
struct hs_lk_node {
	uintptr_t start;            /* user pointer                            */
	size_t    size;             /* requested bytes: scanned and reported   */
	uint8_t  *mark;             /* its mark byte                           */
	bool      copy;             /* read through hs_lk_graph.copy: its
	                               memory may be unmapped under the scan  */
	uint8_t   where;            /* the node set's: what kind of memory
	                               (leakindex.c: the header's bin field)  */
};

#define HS_LK_WALK_WORDS 1u

/* The blocks. Implementations embed this first and cast back. */
struct hs_lk_nodes {
	uintptr_t lo, hi;           /* every block lies inside [lo, hi)        */
	size_t    n;                /* blocks (sizes the scratch)             */
	/* The block whose [start, start + max(size, 1)) contains p. */
	bool (*find)(const struct hs_lk_nodes *s, uintptr_t p, struct hs_lk_node *out);
	/* Optional: start fetching what find(p) will read. */
	void (*prefetch)(const struct hs_lk_nodes *s, uintptr_t p);
	/* fn for every block whose mark m has (m & mask) == want at the time
	 * the walk reaches it, in address order (descending if reverse). fn
	 * may change marks, its own and others'. flags: HS_LK_WALK_WORDS if fn
	 * reads the block's words (the walk fetches them ahead), else only
	 * its header is read. */
	void (*walk)(const struct hs_lk_nodes *s, bool reverse, uint8_t mask, uint8_t want,
	             unsigned flags, void (*fn)(void *arg, const struct hs_lk_node *n),
	             void *arg);
};

/* A word that may point to a block, waiting while its memory is fetched. */
#define HS_LK_RING 32
struct hs_lk_cand {
	uintptr_t w;
	uintptr_t from;             /* the block it was found in (0: a root)   */
	unsigned  mode;             /* what it does (leakgraph.c)              */
};

struct hs_lk_graph {
	const struct hs_lk_nodes *nodes;
	uintptr_t lo, hi;           /* nodes->lo, hi: the cheap filter         */
	uintptr_t *scratch;         /* 3 * nodes->n words                      */
	size_t    top;              /* words in use                            */
	uintptr_t leader;           /* phase 2d: the definitely lost block whose
	                               group is being gathered                 */
	struct hs_lk_cand ring[HS_LK_RING];
	unsigned  ring_head, ring_n;
	unsigned  heuristics;       /* set of (1 << enum hs_lk_heuristic)      */
	/* For HS_LK_HEUR_MULTI: does addr look like a C++ vtable (an array
	 * of code pointers in a file mapping)? NULL disables the heuristic. */
	bool    (*is_vtable)(uintptr_t addr, void *ctx);
	void     *vtable_ctx;
	/* Blocks with copy set are read through copy, which copies up to len
	 * bytes into dst and returns how many it could (0: gone). NULL: every
	 * block is read directly. */
	size_t  (*copy)(void *dst, uintptr_t src, size_t len, void *ctx);
	void     *copy_ctx;
	void     *copy_buf;         /* copy_len bytes, for copy               */
	size_t    copy_len;
	uintptr_t copy_at;          /* copy_buf holds [copy_at, + copy_have)   */
	size_t    copy_have;
	size_t    scanned_bytes;    /* statistics: root and block bytes read   */
	/* Optional: told each block whose kind is final, while the block is
	 * being scanned (its memory at hand): a still reachable block in
	 * phase 1, each lost block once in phase 2. Possibly lost blocks
	 * are not told (their kind is final only when phase 1 ends). */
	void    (*tell)(void *ctx, const struct hs_lk_node *n);
	void     *tell_ctx;
};

/* Prepare g over the node set s, with scratch for 3 * s->n words. Every
 * mark must be clear (0, or ABSENT alone), as a node set starts: a walk
 * to clear them would read every block once more. Heuristics default to
 * none. */
void hs_lk_init(struct hs_lk_graph *g, const struct hs_lk_nodes *s, uintptr_t *scratch);

/* The block containing p (see hs_lk_nodes.find). */
bool hs_lk_find(const struct hs_lk_graph *g, uintptr_t p, struct hs_lk_node *out);

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

/* Per-kind totals, indexed by enum hs_lk_state (GLIBC_CACHE blocks
 * included). */
struct hs_lk_totals {
	size_t blocks[4];
	size_t bytes[4];
};
void hs_lk_totals(const struct hs_lk_graph *g, struct hs_lk_totals *t);

/* ---- leakarray.c: a node set over a sorted array ------------------------ */
struct hs_lk_entry {
	uintptr_t start;
	size_t    size;
	uint8_t   mark;
	bool      copy;
	uint8_t   where;            /* copied to hs_lk_node.where             */
};

struct hs_lk_array {
	struct hs_lk_nodes ops;     /* first: the node set                     */
	struct hs_lk_entry *e;      /* sorted by start, not overlapping        */
	size_t n;
};

/* Sort e[0..n) by start, clear their marks (ABSENT is kept) and make a
 * node set of them (lookups: binary search). */
void hs_lk_array_init(struct hs_lk_array *a, struct hs_lk_entry *e, size_t n);
/* The entry containing p, or NULL. */
struct hs_lk_entry *hs_lk_array_find(const struct hs_lk_array *a, uintptr_t p);
/* Fill out from an entry. */
void hs_lk_array_node(struct hs_lk_entry *e, struct hs_lk_node *out);

/* In-place heapsort of n items of size bytes by key(item) (no qsort: it
 * may call malloc, and we are malloc). */
void hs_lk_heapsort(void *base, size_t n, size_t size, uintptr_t (*key)(const void *));

#endif
