/*
 * alloc.h — the allocator (preload/alloc/): what it owns and offers.
 *
 * The shim replaces the malloc family. Memory comes from three places:
 *
 *   bins   small blocks (slot <= HS_BIN_MAX_SLOT bytes, header included),
 *          carved from slabs; a per-thread cache serves the common case
 *          without a lock.                                       (bins.c)
 *   buddy  page blocks from 4 MiB arenas, split and merged the kernel's
 *          way; allocations are page exact (the tail of a power-of-two
 *          block goes straight back, like alloc_pages_exact).     (buddy.c)
 *   huge   anything larger than an arena: its own mmap.          (huge.c)
 *
 * Every block handed out starts with a 16-byte struct hs_header directly
 * before the user pointer; user pointers are 16-byte aligned. A radix map
 * of 4 MiB granules (pagemap.c) tells in two loads whether an address
 * belongs to us and to which arena, so foreign pointers are recognised
 * before we read a byte of them.
 *
 * It calls nothing above it: only internal.h (util.c, config.c). What the
 * layers above must do when the allocator acts (quarantine a block
 * realloc frees, sample on a slow path, set up a new thread) goes through
 * hs_alloc_hooks, filled in by hooks/init.c.
 *
 * Invariants (checked by the unit tests):
 *   user == (char *)hdr + HS_HEADER_SIZE, user % 16 == 0
 *   arena->base % HS_ARENA_SIZE == 0, arena covers HS_ARENA_PAGES pages
 *   a buddy block of order k starts at a page index i with i % (1<<k) == 0
 *   free pages + allocated pages + slab pages == HS_ARENA_PAGES, per arena
 */
#ifndef HS_ALLOC_H
#define HS_ALLOC_H

#include "internal.h"
#include "header.h"

/* ---- geometry --------------------------------------------------------- */
#define HS_PAGE_SHIFT   12
#define HS_PAGE_SIZE    ((size_t)1 << HS_PAGE_SHIFT)
#define HS_MAX_ORDER    10                      /* inclusive, as in Linux  */
#define HS_NR_ORDERS    (HS_MAX_ORDER + 1)      /* length of free_area[]   */
#define HS_ARENA_PAGES  ((size_t)1 << HS_MAX_ORDER)
#define HS_ARENA_SHIFT  (HS_PAGE_SHIFT + HS_MAX_ORDER)
#define HS_ARENA_SIZE   ((size_t)1 << HS_ARENA_SHIFT)    /* 4 MiB = granule */
#define HS_ALIGN        16
/* Largest request we even try: bigger ones fail with ENOMEM at once, so
 * that size arithmetic below can never overflow. */
#define HS_MAX_REQUEST  ((size_t)1 << 46)

/* ---- pagemap.c: which granule is whose -------------------------------- */
/* A granule entry is 0 (not ours), a struct hs_arena * (low bit 0), or the
 * base of a huge mapping with HS_GRANULE_HUGE set. Lookups take no lock. */
#define HS_GRANULE_HUGE ((uintptr_t)1)
#define HS_PAGEMAP_ADDR_BITS 48
#define HS_PAGEMAP_LEAF_BITS 13
#define HS_PAGEMAP_ROOT_LEN  ((size_t)1 << (HS_PAGEMAP_ADDR_BITS - HS_ARENA_SHIFT - HS_PAGEMAP_LEAF_BITS))
typedef _Atomic uintptr_t hs_pagemap_leaf[(size_t)1 << HS_PAGEMAP_LEAF_BITS];
extern _Atomic(hs_pagemap_leaf *) hs_pagemap_root[HS_PAGEMAP_ROOT_LEN];
/* Inline: free() asks on every call. */
static inline uintptr_t hs_pagemap_get(const void *addr)
{
	uintptr_t a = (uintptr_t)addr;
	if (unlikely(a >> HS_PAGEMAP_ADDR_BITS))
		return 0;
	uintptr_t g = a >> HS_ARENA_SHIFT;
	hs_pagemap_leaf *leaf = atomic_load_explicit(&hs_pagemap_root[g >> HS_PAGEMAP_LEAF_BITS],
	                                             memory_order_acquire);
	if (!leaf)
		return 0;
	return atomic_load_explicit(&(*leaf)[g & (((size_t)1 << HS_PAGEMAP_LEAF_BITS) - 1)],
	                            memory_order_acquire);
}
bool      hs_pagemap_set(const void *granule_base, size_t len, uintptr_t value);

/* ---- buddy.c: page blocks --------------------------------------------- */
enum hs_page_state {
	PG_UNUSED = 0,   /* inside a free block, not its head               */
	PG_FREE,         /* head of a free block of 'order'                   */
	PG_LARGE,        /* head of an allocated block of 'npages' pages      */
	PG_SLAB,         /* head of a slab (bins.c owns the slab fields)      */
	PG_TAIL,         /* a later page of a large block or slab: see 'head' */
};

struct hs_slab;

/* One per page of an arena, kept outside the arena so that free pages are
 * never touched (they may have been given back with MADV_DONTNEED). */
struct hs_page {
	uint8_t  state;          /* enum hs_page_state                        */
	uint8_t  order;          /* PG_FREE: order of the free block          */
	uint8_t  dirty;          /* PG_FREE: pages may be resident            */
	uint8_t  unused;
	uint32_t head;           /* PG_TAIL: page index of the block's head   */
	uint32_t npages;         /* PG_LARGE / PG_SLAB: length in pages       */
	union {
		uint32_t hdr_off;    /* PG_LARGE: header offset from block start
		                        (non-zero only for aligned blocks)     */
		uint32_t freed_ms;   /* PG_FREE and dirty: when it was freed, on
		                        the buddy's coarse clock (decay purge)  */
	};
	struct hs_page *prev, *next;  /* PG_FREE: free_area[order] list       */
	struct hs_slab *slab;    /* PG_SLAB: the slab descriptor              */
	struct hs_arena *arena;  /* the arena this page belongs to            */
};

struct hs_arena {
	char *base;                        /* HS_ARENA_SIZE aligned           */
	struct hs_arena *next;             /* all arenas, for walks           */
	uint32_t free_pages;               /* pages in free blocks            */
	uint32_t index;                    /* creation order, for heap maps   */
	struct hs_page pages[HS_ARENA_PAGES];
};

struct hs_buddy_stats {
	size_t arenas;                     /* arenas mapped now               */
	size_t peak_arenas;                /* most arenas mapped at once      */
	size_t free_pages;                 /* pages in free blocks            */
	size_t nr_free[HS_NR_ORDERS];      /* free blocks per order (buddyinfo)*/
	size_t dirty_pages;                /* free pages possibly resident    */
};

/* Allocate exactly npages (1..HS_ARENA_PAGES) contiguous pages; the block
 * is marked PG_LARGE (or PG_SLAB when slab is non-NULL). NULL when the
 * system refuses memory. Takes the buddy lock. */
void *hs_buddy_alloc(size_t npages, struct hs_slab *slab);
/* Give back a block from hs_buddy_alloc; merges with free buddies. */
void  hs_buddy_free(void *block);
/* Resize a PG_LARGE block in place; false (and no change) if the pages
 * after it are not free. Shrinking always succeeds. */
bool  hs_buddy_resize(void *block, size_t new_npages);
/* Give back the first lead pages of a PG_LARGE block; returns where the
 * kept part starts (the block itself if there is nothing to trim). */
char *hs_buddy_trim_front(void *block, size_t lead);
/* The head page meta of the block containing addr, or NULL if addr is not
 * inside an allocated buddy block (free pages, not ours). Lock free: the
 * caller must own the block (it was handed out and not yet freed). */
struct hs_page *hs_buddy_block_of(const void *addr, struct hs_arena **arena_out);
void  hs_buddy_stats(struct hs_buddy_stats *out);
/* malloc_trim: unmap whole free arenas, give dirty free pages back until
 * at most keep_pages stay; returns the pages given back. */
size_t hs_buddy_trim(size_t keep_pages);
/* mallopt(M_TRIM_THRESHOLD): free pages that may stay resident before the
 * decay gives them back at once; SIZE_MAX restores the default rule. */
void  hs_buddy_set_dirty_budget(size_t pages);
/* Visit every arena under the buddy lock (heap maps, leak scan); the
 * _locked form for a caller that holds it. */
void  hs_buddy_foreach_arena(void (*fn)(struct hs_arena *, void *), void *ctx);
void  hs_buddy_foreach_arena_locked(void (*fn)(struct hs_arena *, void *), void *ctx);
static inline char *hs_page_addr(const struct hs_arena *a, const struct hs_page *pg)
{
	return a->base + ((size_t)(pg - a->pages) << HS_PAGE_SHIFT);
}
void  hs_buddy_lock(void);      /* fork handlers */
bool  hs_buddy_trylock(void);
void  hs_buddy_unlock(void);
void  hs_buddy_reinit_child(void);

/* ---- bins.c: size classes and slabs ----------------------------------- */
#define HS_NR_BINS       39
#define HS_BIN_MAX_SLOT  32768          /* largest slot, header included  */
#define HS_BIN_MAX_USER  (HS_BIN_MAX_SLOT - HS_HEADER_SIZE)

struct hs_slab {
	char    *base;                  /* first slot                         */
	void    *free;                  /* freed slots, linked through user[0] */
	uint32_t carved;                /* slots handed out at least once     */
	uint32_t used;                  /* slots live or in a thread cache    */
	uint32_t capacity;              /* slots that fit                     */
	uint32_t slot_size;             /* bytes per slot, header included    */
	uint8_t  bin;
	uint8_t  in_partial;            /* on the central partial list        */
	struct hs_slab *prev, *next;    /* central partial list of its bin    */
};

extern const uint32_t hs_bin_slot_size[HS_NR_BINS];
/* Bin of n user bytes for n <= HS_BIN_TABLE_MAX, by 16-byte granule:
 * hs_bin_of_granule[(n + 15) >> 4]. A load instead of the branches of
 * the formula below, whose outcome follows the request size: on mixed
 * small sizes they are mispredicted often (churn1: a third of the calls). */
#define HS_BIN_TABLE_MAX 1008
extern const uint8_t hs_bin_of_granule[(HS_BIN_TABLE_MAX >> 4) + 1];
/* Smallest bin whose slot holds a header plus n user bytes; n must be
 * <= HS_BIN_MAX_USER. Classes: 32..128 by 16, then four per doubling up
 * to 32768, so rounding wastes at most 25% (12.5% on average). */
static inline unsigned hs_size_to_bin(size_t n)
{
	if (likely(n <= HS_BIN_TABLE_MAX))
		return hs_bin_of_granule[(n + 15) >> 4];
	size_t s = n + HS_HEADER_SIZE - 1;
	unsigned msb = 63u - (unsigned)__builtin_clzl(s);      /* 9..14 */
	return 7 + (msb - 7) * 4 + (unsigned)((s - ((size_t)1 << msb)) >> (msb - 2));
}

/* A block of room bytes (user bytes and canary) fits the slot of bin in
 * place: it is no bigger than the slot and not less than half of it
 * (realloc keeps a block where it is only then). */
static inline bool hs_bin_fits(unsigned bin, size_t room)
{
	return room <= HS_BIN_MAX_USER && hs_size_to_bin(room) <= bin
	       && (room + HS_HEADER_SIZE) * 2 >= hs_bin_slot_size[bin];
}

/* The thread cache, this thread's counters and busy flag, and the claim
 * of a block (LIVE -> FREED) that every release makes. */
#include "thread.h"

/* A free slot's link to the next one lives in its first user word. */
static inline void *hs_slot_next(void *slot)
{
	return *(void **)((char *)slot + HS_HEADER_SIZE);
}
static inline void hs_slot_set_next(void *slot, void *next)
{
	*(void **)((char *)slot + HS_HEADER_SIZE) = next;
}

/* Where a slot's block header is: the slot start, or, behind a valid
 * HS_PADDING header, `size` bytes on when that distance fits the slot. A
 * damaged or implausible padding header is returned itself: it never
 * validates as a block's header. */
static inline struct hs_header *hs_slot_block_header(char *slot, uint32_t slot_size)
{
	struct hs_header *h = (struct hs_header *)slot;
	if (h->state != HS_PADDING || h->check != hs_header_hash(h))
		return h;
	size_t d = h->size;
	return d && !(d % HS_ALIGN) && d + HS_HEADER_SIZE <= slot_size
	       ? (struct hs_header *)(slot + d) : h;
}

/* Slow paths behind the inline cache (bins.c). Slots are header addresses. */
void *hs_bins_refill(struct hs_tcache *tc, unsigned bin);   /* one slot   */
void  hs_bins_flush(struct hs_tcache *tc, unsigned bin, uint32_t keep);
void  hs_bins_release_slot(void *slot);    /* no cache: straight back     */
void *hs_bins_take_slot(unsigned bin);     /* no cache: straight out      */
void  hs_tcache_flush_all(struct hs_tcache *tc);   /* every slot back   */
void  hs_tcache_teardown(struct hs_tcache *tc);    /* flush, then state 2 */
/* The slot (header address) that contains addr, from slab geometry. */
void *hs_bins_slot_of(struct hs_page *head, const void *addr);
/* granted: slots live or parked in a thread cache, times their slot size
 * (slots in the bins' transfer stacks are free, so not counted);
 * slab_pages: pages held by slabs. Takes each bin's lock in turn. */
struct hs_bins_usage {
	uint64_t granted;
	uint64_t slab_pages;
};
void hs_bins_usage(struct hs_bins_usage *out);
void  hs_bins_lock_all(void);
bool  hs_bins_trylock_all(void);   /* every bin lock and the slab pool's, or none */
void  hs_bins_unlock_all(void);
void  hs_bins_reinit_child(void);

/* ---- huge.c: direct mappings above an arena --------------------------- */
void  *hs_huge_alloc(size_t user_size, size_t align);   /* returns user ptr */
size_t hs_huge_user_offset(size_t align);  /* user pointer - mapping base */
void   hs_huge_free(void *user);
void  *hs_huge_realloc(void *user, size_t new_size);    /* NULL: ENOMEM   */
bool   hs_huge_owns(const void *user);     /* a mapping of ours, live or cached */
bool   hs_huge_fresh(const void *user);    /* never used before: all zero  */
size_t hs_huge_capacity(const void *user);
size_t hs_huge_mapped_bytes(void);  /* live and cached mappings           */
struct hs_huge_stats {
	size_t live, live_bytes;    /* mappings holding a block, their bytes     */
	size_t peak, peak_bytes;    /* the most of each at any time              */
};
void   hs_huge_stats(struct hs_huge_stats *out);    /* no lock taken        */
size_t hs_huge_requested(void);    /* bytes asked for in live mappings     */
/* malloc_trim: unmap the freed mappings kept for reuse; returns bytes. */
size_t hs_huge_trim(void);
void   hs_huge_foreach(void (*fn)(void *user, void *ctx), void *ctx);
void   hs_huge_foreach_locked(void (*fn)(void *user, void *ctx), void *ctx);
/* Granules traded with the buddy (huge.c): a whole free arena's memory,
 * unregistered and resident, kept in the cache of freed mappings (false:
 * no room, the caller unmaps it); a cached mapping's first granule for a
 * new arena, unregistered and resident (NULL: none cached). */
bool   hs_huge_keep_granule(char *base);
char  *hs_huge_take_granule(void);
void   hs_huge_lock(void);
bool   hs_huge_trylock(void);
void   hs_huge_unlock(void);
void   hs_huge_reinit_child(void);

/* ---- heap.c: one allocation API over the three sources ---------------- */
/* Where a block lives; derived from the pagemap and page metadata. */
enum hs_where { HS_NOT_OURS = 0, HS_IN_BIN, HS_IN_BUDDY, HS_IN_HUGE, HS_IN_BOOT };

void  *hs_heap_alloc(size_t size, size_t align, unsigned kind, uint32_t stack);
void  *hs_heap_realloc(void *user, size_t size, uint32_t stack);
/* Validate a pointer handed to free/realloc: returns its header or NULL
 * and sets *where. Never reads memory that is not ours. */
struct hs_header *hs_heap_lookup(const void *user, enum hs_where *where);
/* Take a LIVE block (one atomic step: of racing releases exactly one
 * gets true) and give its memory back; false: not LIVE, nothing done. */
bool   hs_heap_release(void *user, struct hs_header *h, enum hs_where where);
/* Count and give back a block this thread claimed (hs_header_claim). */
void   hs_heap_free_claimed(void *user, struct hs_header *h, enum hs_where where);
/* Slow-path readers of headers another thread may free: pin around the
 * lookup and the claim (sets hs_busy; returns its old value for unpin).
 * Unmapping a huge mapping or an arena clears its pagemap entries, then
 * waits until nobody is pinned (false: gave up, keep the memory). */
int    hs_heap_pin(void);
void   hs_heap_unpin(int was_busy);
bool   hs_heap_wait_unpinned(void);
/* Give the memory of a block already marked FREED and counted back to its
 * home (thread cache, buddy, mapping): the second half of release, used
 * when a block leaves the quarantine. */
void   hs_heap_recycle(void *user, struct hs_header *h, enum hs_where where);
/* Where a valid header lives, from its bin field (no lookup). */
static inline enum hs_where hs_heap_where(const struct hs_header *h)
{
	return h->bin < HS_NR_BINS ? HS_IN_BIN : h->bin == HS_BIN_LARGE ? HS_IN_BUDDY
	       : h->bin == HS_BIN_HUGE ? HS_IN_HUGE : HS_IN_BOOT;
}
size_t hs_heap_capacity(const void *user);  /* bytes usable after user    */

/* Live-block walk for the leak scan and heap maps: calls fn for every
 * block whose header says LIVE. Caller must have stopped other threads
 * from allocating (exit) or accept a racy view (sampling). */
typedef void (*hs_block_fn)(struct hs_header *h, void *user, void *ctx);
void hs_heap_foreach_live(hs_block_fn fn, void *ctx);
/* Every carved slot's, large block's, huge block's and boot block's header
 * position, valid or not, live or freed (the exit check wants the damaged
 * ones). Same locking as hs_heap_foreach_live. */
typedef void (*hs_header_fn)(struct hs_header *h, void *ctx);
void hs_heap_foreach_header(hs_header_fn fn, void *ctx);
/* Both walks for a caller that holds every allocator lock. */
void hs_heap_foreach_live_locked(hs_block_fn fn, void *ctx);
void hs_heap_foreach_header_locked(hs_header_fn fn, void *ctx);
/* Every allocator lock in the one global order (bins, slab pool, buddy,
 * huge), or none: tries for up to ms milliseconds, never waiting on a
 * lock while it holds another, so it cannot deadlock with a thread that
 * holds one (the exit-time walks: a signal may have stopped such a thread
 * for good). */
bool hs_heap_lock_all_timed(unsigned ms);
void hs_heap_unlock_all(void);

/* Counters: each thread counts in its own TLS (struct hs_tstat,
 * thread.h) and folds into the global
 * atomics on slow paths (and at thread exit), so the fast path touches no
 * shared cache line. Global figures lag by at most FOLD_BYTES per running
 * thread; peak_bytes is the peak of the folded live total. */
struct hs_counters {
	uint64_t allocs, frees;
	uint64_t live_bytes;                    /* requested bytes live       */
	uint64_t peak_bytes;
};
void hs_counters_fold(void);
void hs_counters_read(struct hs_counters *out);

/* ---- freed.c: large blocks remembered after their memory went back -- */
/* Page blocks and huge mappings are noted as they leave the heap (by
 * hs_heap_recycle), so a later free or realloc of their address is told
 * as a double free with the block's size and stacks. */
#define HS_FREED_RING 1024
struct hs_freed {
	const void *user;
	size_t size;
	uint64_t record;                /* the second user word at the free
	                                   (the free record, checks.h)      */
	uint32_t alloc_stack;
};
void hs_freed_note(const struct hs_header *h);
/* The newest note of a block at user, if the ring still holds one. */
bool hs_freed_find(const void *user, struct hs_freed *out);

/* ---- nodes.c: blocks libc allocates on our behalf ---------------------- */
/* Up to 48 zeroed bytes behind a valid boot header, outside the heap (not
 * walked, not counted); NULL if none is left. hs_heap_lookup knows them
 * (HS_IN_BOOT) and hs_heap_release gives them back here. */
void *hs_node_alloc(size_t size);
bool  hs_node_owns(const void *p);
void  hs_node_free(void *user);
void  hs_nodes_lock(void);      /* fork handlers */
void  hs_nodes_unlock(void);
void  hs_nodes_reinit_child(void);

/* ---- usage.c: what the heap holds; giving free memory back ------------ */
/* For the sampler and the mallinfo family; each part read under its own
 * lock in turn (usage.c). This thread's counters are folded first. */
struct hs_heap_usage {
	uint64_t allocs, frees;         /* calls counted so far                  */
	uint64_t live, peak;            /* requested bytes live, and the peak    */
	uint64_t arenas, arena_bytes;   /* arenas mapped, times 4 MiB            */
	uint64_t peak_arena_bytes;      /* the most arena bytes mapped at once   */
	uint64_t free_pages, dirty_pages, free_blocks;  /* buddy free lists      */
	uint64_t nr_free[HS_NR_ORDERS]; /* free blocks per order                 */
	uint64_t granted;               /* see usage.c                           */
	uint64_t held;                  /* arena bytes + every huge mapping      */
	uint64_t huge_maps, huge_bytes; /* huge mappings holding a block         */
	uint64_t huge_peak_maps, huge_peak_bytes;
};
void hs_heap_usage(struct hs_heap_usage *u);
/* malloc_trim: tc's cached slots back to their slabs, cached huge
 * mappings unmapped, whole free arenas unmapped, dirty free pages given
 * back until keep_bytes of them stay. Returns the bytes given back. */
size_t hs_heap_trim(struct hs_tcache *tc, size_t keep_bytes);

/* ---- boot.c: memory for calls that cannot use the heap ---------------- */
/* A malloc that interrupts the allocator in the same thread (a signal
 * handler) is served from here, lock free; such blocks are never reused. */
#define HS_BIN_BOOT 0xFD
void *hs_boot_alloc(size_t size, size_t align, unsigned kind);  /* user ptr */
bool  hs_boot_owns(const void *p);
void  hs_boot_foreach(void (*fn)(struct hs_header *, void *), void *ctx);

/* hs_busy (struct hs_thread): set while this thread is inside the
 * allocator proper. */

/* ---- secret.c: the key of every header's check ----------------------- */
/* Set the header secret if it is not set yet: on the first allocation,
 * whenever that is (the loader and libc allocate before constructors
 * run). Needs nothing from libc that could allocate. */
void hs_secret_init(void);

/* ---- the canary's room (checks/ writes and verifies it) ------------- */
/* With checks on every block is followed by HS_CANARY bytes of
 * HS_CANARY_BYTE (header.guard says so), and a freed block waits in a
 * per-thread quarantine, filled with HS_FREED_BYTE, before its memory is
 * reused. hs_guard is HS_CANARY when checks are on and 0 when off: the
 * plain paths test that one word. */
#define HS_CANARY       8
#define HS_CANARY_BYTE  0xFB
#define HS_FREED_BYTE   0xFD
#define HS_CANARY_WORD  0xFBFBFBFBFBFBFBFBull
#define HS_FILL_MAX     1024    /* bytes of a freed block filled/verified */
extern size_t hs_guard;

/* Bytes to reserve for a block of size user bytes (room for the canary,
 * and >= 16 so the free record fits). size <= HS_MAX_REQUEST: no wrap. */
static inline size_t hs_room(size_t size, size_t guard)
{
	size_t r = size + guard;
	return guard && r < 16 ? 16 : r;
}
/* A canary never costs a page (issue #17): a page block or mapping whose
 * user bytes end on a page boundary, or less than a canary before one,
 * gets none (guard 0; its header says so). uoff: the user pointer's
 * offset in its page. Such blocks (page-multiple buffers are common) are
 * still vetted on free; an overrun past them goes unseen. */
static inline size_t hs_page_guard(size_t size, size_t uoff, size_t guard)
{
	size_t end = uoff + size;
	if (guard && (end + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT
	             != (end + guard + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT)
		return 0;
	return guard;
}
static inline void hs_canary_put(void *user, size_t size)
{
	uint64_t w = HS_CANARY_WORD;
	__builtin_memcpy((char *)user + size, &w, sizeof w);
}
static inline bool hs_canary_ok(const struct hs_header *h)
{
	uint64_t w;
	if (!h->guard)
		return true;
	__builtin_memcpy(&w, (const char *)h + HS_HEADER_SIZE + h->size, sizeof w);
	return w == HS_CANARY_WORD;
}

/* Which API families a release call accepts, as a mask of 1 << kind (the
 * MOVED flag makes kind >= 8, outside every mask: such blocks always take
 * the slow path). */
#define HS_ACCEPT_FREE         ((1u << HS_KIND_MALLOC) | (1u << HS_KIND_ALIGNED))
#define HS_ACCEPT_DELETE       (1u << HS_KIND_NEW)
#define HS_ACCEPT_DELETE_ARRAY (1u << HS_KIND_NEW_ARRAY)
/* The inline free tests a mask as a range of kinds (fastpath.h). */
#define HS_ACCEPT_IS_RUN(m) ((((m) >> __builtin_ctz(m)) & (((m) >> __builtin_ctz(m)) + 1)) == 0)
_Static_assert(HS_ACCEPT_IS_RUN(HS_ACCEPT_FREE) && HS_ACCEPT_IS_RUN(HS_ACCEPT_DELETE)
               && HS_ACCEPT_IS_RUN(HS_ACCEPT_DELETE_ARRAY), "accept masks are runs");

/* A free slot in a thread cache keeps a FREED header of its bin; an
 * overrun from the block before it that reached its link (the next word)
 * went through the header's bin and state bytes first. Those two bytes
 * are compared (garbage passes with odds 1/4096), not the whole check:
 * this runs on every checked malloc. */
static inline bool hs_free_slot_ok(const void *slot, unsigned bin)
{
	const struct hs_header *h = slot;
	return h->state == HS_FREED && h->bin == bin;
}
/* blockof.c: the block whose header or bytes contain addr (interior
 * pointers, damaged headers), without reading memory that is not ours.
 * Returns its header (valid, LIVE or FREED) or NULL. *slot_start is set
 * to the header position the geometry expects at addr's block (for
 * headers that fail their check), or NULL. */
struct hs_header *hs_block_containing(const void *addr, struct hs_header **expected);
/* The valid header of the block just before the one whose header is at
 * hdr (the likely source of an overrun into it), or NULL. */
struct hs_header *hs_block_before(const struct hs_header *hdr);

/* ---- heap.c: what the layers above do when the allocator acts -------- */
/* Filled in once by hooks/init.c; a NULL member is skipped (unit tests
 * link the allocator alone). Called on slow paths only, never from the
 * inline thread-cache path, so the indirection costs the fast path
 * nothing. */
struct hs_alloc_hooks {
	/* A thread's first slow-path allocation: its cache is live now
	 * (state 1). Its teardown is armed when the thread starts
	 * (hooks/hook_thread.c), not here: nothing that may take the
	 * loader's lock runs inside the allocator. */
	void (*thread_start)(void);
	/* With checks on, a cached free slot whose header was overwritten:
	 * report it and drop the rest of that list (its links are not
	 * trusted). */
	void (*bad_cached_slot)(struct hs_tcache_bin *tb, void *slot);
	/* realloc moved a block with checks on: the old one is freed by the
	 * program's call, so it goes where a free would send it. */
	void (*retire)(void *user, struct hs_header *h, enum hs_where where,
	               uint32_t stack);
	/* Counters were folded; live is the new global total (samples). */
	void (*tick)(int64_t live);
};
extern struct hs_alloc_hooks hs_alloc_hooks;

#endif
