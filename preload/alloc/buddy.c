/*
 * buddy.c — the page backend, in the kernel's vocabulary.
 *
 * Memory comes in arenas of HS_ARENA_PAGES pages (4 MiB), mmap'd on demand
 * and aligned to their size. Inside an arena a free block of order k is
 * 2^k pages starting at a page index that is a multiple of 2^k; its buddy
 * is the block at index ^ (1 << k). free_area[k] lists the free blocks of
 * order k across all arenas, nr_free[k] counts them, as /proc/buddyinfo
 * shows for the kernel.
 *
 * Allocation is page exact, like alloc_pages_exact(): take the smallest
 * order that fits, expand() it down, then give the unused tail pages back
 * as free blocks at once. free() splits the range into its natural aligned
 * power-of-two pieces and merges each with its buddy as far as it goes.
 *
 * Memory goes back to the system two ways: an arena that becomes entirely
 * free is unmapped when another whole free arena is already kept, and
 * free-but-resident ("dirty") pages decay: purge() madvise(MADV_DONTNEED)s
 * the free blocks holding them (see there). Which free pages may be
 * resident is known page by page (the resident map below).
 *
 * Locking: one mutex for everything here. Lock order: a bins central lock
 * may be held when calling in, never the other way round.
 */
#include <sys/mman.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "buddy_impl.h"

/* Free-but-resident pages we tolerate: 16 MiB, or a quarter of the pages
 * in use, whichever is more. Tied to what is in use, not to what is
 * mapped, so a fragmented heap does not earn itself a bigger allowance.
 * (glibc never purges inside its heap; jemalloc decays over seconds.)
 * 8 MiB purged and re-faulted too much on `large` (16 KiB - 8 MiB blocks,
 * random lifetimes): 210K page faults for 2000 blocks against glibc's
 * 146K; 16 MiB: 157K, at glibc's peak RSS (docs/ARCHITECTURE.md). */
#define DIRTY_MIN   ((size_t)4096)
#define DIRTY_FIRST_ORDER 4             /* 64 KiB and up: see hs_buddy_alloc */
#define PURGE_MIN_ORDER 2               /* smaller free blocks are not worth
                                           a syscall; not counted as dirty */
/* Whole free arenas kept mapped: 1, plus one per eight mapped. */
#define keep_arenas() (1 + nr_arenas / 8)

/* Each order has two lists: dirty blocks (possibly resident) and clean
 * ones (never touched, or given back). Both are kept newest first.
 * Allocation takes the newest dirty block (memory that is resident and
 * warm); the purge takes the oldest dirty one (the least likely to be
 * wanted again soon). */
struct free_list {
	struct hs_page *head, *tail;
};

struct free_area {
	struct free_list list[2];           /* [0] clean, [1] dirty          */
	size_t nr_free;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t clock_ms;               /* coarse clock, read on each free */
static struct free_area free_area[HS_NR_ORDERS];
static struct hs_arena *arenas;
static size_t nr_arenas, peak_arenas, next_index, free_pages, dirty_pages;

/* The resident map: one bit per page of an arena, set when a block that
 * held the page is freed (the program may have written it), cleared when
 * the page is purged. Allocation leaves it alone, so pages a block never
 * handed out (a page-exact tail, the front of an aligned block) keep what
 * they were. A free block's head caches how many of its pages are set
 * (npages, unused while free). One flag per free block instead made a
 * block merged from one dirty page and a clean buddy count wholly dirty:
 * on the aligned bench that inflated the dirty count by half, and the
 * hard cap then purged (and the program re-faulted) pages that were never
 * the problem. The map lives in the arena descriptor's mapping, just
 * after the descriptor. */
#define MAP_WORDS (HS_ARENA_PAGES / 64)
#define ARENA_DESC_SIZE (sizeof(struct hs_arena) + MAP_WORDS * sizeof(uint64_t))

static inline uint64_t *resident_map(struct hs_arena *a)
{
	return (uint64_t *)(a + 1);
}

/* Bits [idx, end) set (on) or cleared. */
static void map_mark(struct hs_arena *a, size_t idx, size_t end, bool on)
{
	uint64_t *m = resident_map(a);
	while (idx < end) {
		size_t w = idx / 64, lo = idx % 64;
		size_t n = end - idx < 64 - lo ? end - idx : 64 - lo;
		uint64_t bits = (n == 64 ? ~0ull : ((1ull << n) - 1)) << lo;
		m[w] = on ? m[w] | bits : m[w] & ~bits;
		idx += n;
	}
}

/* Set bits in [idx, idx + n), n a power of two and idx a multiple of it
 * (a buddy block), so a block below 64 pages sits inside one word. */
static size_t map_count(struct hs_arena *a, size_t idx, size_t n)
{
	const uint64_t *m = resident_map(a);
	if (n < 64)
		return (size_t)__builtin_popcountll((m[idx / 64] >> (idx % 64)) & ((1ull << n) - 1));
	size_t c = 0;
	for (size_t w = idx / 64; w < (idx + n) / 64; w++)
		c += (size_t)__builtin_popcountll(m[w]);
	return c;
}

/* mallopt(M_TRIM_THRESHOLD) sets the budget in pages (SIZE_MAX: the
 * default rule above). */
static _Atomic size_t dirty_budget = SIZE_MAX;

static size_t dirty_max(void)
{
	size_t set = atomic_load_explicit(&dirty_budget, memory_order_relaxed);
	if (set != SIZE_MAX)
		return set;
	size_t share = (nr_arenas * HS_ARENA_PAGES - free_pages) / 4;
	return share > DIRTY_MIN ? share : DIRTY_MIN;
}

void hs_buddy_set_dirty_budget(size_t pages)
{
	atomic_store_explicit(&dirty_budget, pages, memory_order_relaxed);
}


/* The block allocation should take from free_area[order], or NULL. */
static inline struct hs_page *first_free(unsigned order)
{
	struct free_area *fa = &free_area[order];
	return fa->list[1].head ? fa->list[1].head : fa->list[0].head;
}

/* File the free block headed by pg; its dirty count comes from the map. */
static void list_add(struct hs_page *pg, unsigned order)
{
	struct free_area *fa = &free_area[order];
	size_t nd = map_count(pg->arena, hs_buddy_page_index(pg->arena, pg), (size_t)1 << order);
	pg->npages = (uint32_t)nd;
	pg->dirty = nd != 0;
	struct free_list *l = &fa->list[pg->dirty ? 1 : 0];
	if (pg->dirty)
		pg->freed_ms = clock_ms;
	pg->prev = NULL;
	pg->next = l->head;
	if (l->head)
		l->head->prev = pg;
	else
		l->tail = pg;
	l->head = pg;
	fa->nr_free++;
	if (order >= PURGE_MIN_ORDER)
		dirty_pages += nd;
}

static void list_del(struct hs_page *pg)
{
	struct free_area *fa = &free_area[pg->order];
	struct free_list *l = &fa->list[pg->dirty ? 1 : 0];
	if (pg->prev)
		pg->prev->next = pg->next;
	else
		l->head = pg->next;
	if (pg->next)
		pg->next->prev = pg->prev;
	else
		l->tail = pg->prev;
	fa->nr_free--;
	if (pg->order >= PURGE_MIN_ORDER)
		dirty_pages -= pg->npages;
	pg->prev = pg->next = NULL;
}

/* A new arena's memory: a granule the cache of freed mappings holds
 * (resident: *warm), else a fresh aligned mapping. */
static char *arena_memory(bool *warm)
{
	char *base = hs_huge_take_granule();
	*warm = base != NULL;
	if (base)
		return base;
	/* Map twice the size and trim, so the arena is aligned to its size. */
	size_t span = 2 * HS_ARENA_SIZE;
	char *m = mmap(NULL, span, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	base = (char *)(((uintptr_t)m + HS_ARENA_SIZE - 1) & ~(HS_ARENA_SIZE - 1));
	if (base > m)
		munmap(m, (size_t)(base - m));
	if (base + HS_ARENA_SIZE < m + span)
		munmap(base + HS_ARENA_SIZE, (size_t)(m + span - (base + HS_ARENA_SIZE)));
	return base;
}

static struct hs_arena *arena_new(void)
{
	bool warm;
	char *base = arena_memory(&warm);
	if (!base)
		return NULL;

	struct hs_arena *a = mmap(NULL, ARENA_DESC_SIZE, PROT_READ | PROT_WRITE,
	                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		munmap(base, HS_ARENA_SIZE);
		return NULL;
	}
	a->base = base;
	a->index = (uint32_t)next_index++;
	for (size_t i = 0; i < HS_ARENA_PAGES; i++)
		a->pages[i].arena = a;
	if (!hs_pagemap_set(base, HS_ARENA_SIZE, (uintptr_t)a)) {
		munmap(a, ARENA_DESC_SIZE);
		munmap(base, HS_ARENA_SIZE);
		return NULL;
	}
	a->next = arenas;
	arenas = a;
	if (++nr_arenas > peak_arenas)
		peak_arenas = nr_arenas;

	struct hs_page *pg = &a->pages[0];
	pg->state = PG_FREE;
	pg->order = HS_MAX_ORDER;
	if (warm)                       /* a mapping's pages: maybe resident */
		map_mark(a, 0, HS_ARENA_PAGES, true);
	list_add(pg, HS_MAX_ORDER);     /* fresh pages: the map is all clear */
	a->free_pages = HS_ARENA_PAGES;
	free_pages += HS_ARENA_PAGES;
	return a;
}

/* Caller holds lock; the arena's only block is free and off the lists.
 * keep: its pages are resident and wanted (not decayed): they go to the
 * cache of freed mappings if it has room. */
static void arena_release(struct hs_arena *a, bool keep)
{
	hs_pagemap_set(a->base, HS_ARENA_SIZE, 0);
	for (struct hs_arena **pp = &arenas; *pp; pp = &(*pp)->next)
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	nr_arenas--;
	free_pages -= HS_ARENA_PAGES;
	/* a racing free's slow-path reader may still look at a header or
	 * the page metadata here (hs_heap_pin) */
	if (!hs_heap_wait_unpinned())
		return;
	if (!keep || !hs_huge_keep_granule(a->base))
		munmap(a->base, HS_ARENA_SIZE);
	munmap(a, ARENA_DESC_SIZE);
}

/* Put the free block [idx, idx + 2^order) back, merging with its buddies.
 * Caller holds lock and has already counted the pages as free. */
static void free_block(struct hs_arena *a, size_t idx, unsigned order)
{
	while (order < HS_MAX_ORDER) {
		size_t b = idx ^ ((size_t)1 << order);
		struct hs_page *bp = &a->pages[b];
		if (bp->state != PG_FREE || bp->order != order)
			break;
		list_del(bp);
		bp->state = PG_UNUSED;
		idx &= ~((size_t)1 << order);
		order++;
	}
	struct hs_page *pg = &a->pages[idx];
	pg->state = PG_FREE;
	pg->order = (uint8_t)order;
	list_add(pg, order);
	/* Unmap whole free arenas beyond what we keep; the count kept shrinks
	 * with the heap, so look again every time one becomes whole. */
	while (order == HS_MAX_ORDER && free_area[HS_MAX_ORDER].nr_free > keep_arenas()) {
		struct free_area *fa = &free_area[HS_MAX_ORDER];
		struct hs_page *whole = fa->list[0].tail ? fa->list[0].tail : fa->list[1].tail;
		bool dirty = whole->dirty;
		list_del(whole);
		arena_release(whole->arena, dirty);
	}
}

/* File the page range [idx, end) as its natural aligned pieces, merging.
 * Counting is the caller's. If the arena becomes whole and is released,
 * that happens on the last piece, so the loop never touches it after. */
static void file_range(struct hs_arena *a, size_t idx, size_t end)
{
	for (size_t i = idx; i < end; i++)
		a->pages[i].state = PG_UNUSED;
	while (idx < end) {
		unsigned order = idx ? (unsigned)__builtin_ctzl(idx) : HS_MAX_ORDER;
		while (idx + ((size_t)1 << order) > end)
			order--;
		free_block(a, idx, order);
		idx += (size_t)1 << order;
	}
}

/* Allocated pages [idx, end) become free; touched: they were the
 * program's (so may be resident), not pages we never handed out. */
static void free_range(struct hs_arena *a, size_t idx, size_t end, bool touched)
{
	a->free_pages += (uint32_t)(end - idx);
	free_pages += end - idx;
	if (touched)
		map_mark(a, idx, end, true);
	file_range(a, idx, end);
}

/* Dirty pages decay: a dirty free block that nobody has reused for
 * DECAY_MS is given back (oldest first), looked at every PURGE_EVERY_MS
 * from the free path. So memory a busy program keeps cycling stays
 * resident, and what it stopped using goes back within about DECAY_MS.
 * Beyond HARD_FACTOR budgets the oldest go at once, young or not: a heap
 * too fragmented to reuse its free pages must not grow RSS without bound.
 * (jemalloc decays over seconds too; glibc never purges inside its heap.) */
#define PURGE_EVERY_MS 200
#define DECAY_MS       500
#define HARD_FACTOR    2

static uint32_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static bool purge_due(uint32_t now)
{
	static uint32_t last;
	if (dirty_pages <= HARD_FACTOR * dirty_max() && now - last < PURGE_EVERY_MS)
		return false;
	last = now;
	return true;
}

/* Give the dirty free block pg of this order back to the system and
 * file it among the clean ones; returns how many of its pages were dirty. */
static size_t give_back(struct hs_page *pg, int order)
{
	size_t was = pg->npages;
	madvise(hs_page_addr(pg->arena, pg), HS_PAGE_SIZE << order, MADV_DONTNEED);
	list_del(pg);
	size_t idx = hs_buddy_page_index(pg->arena, pg);
	map_mark(pg->arena, idx, idx + ((size_t)1 << order), false);
	list_add(pg, (unsigned)order);
	return was;
}

/* Give back dirty free blocks older than DECAY_MS, largest order first
 * and the oldest within an order; while dirty pages exceed the hard cap,
 * young ones too, down to the budget. */
static void purge(uint32_t now)
{
	for (int order = HS_MAX_ORDER; order >= PURGE_MIN_ORDER; order--) {
		struct hs_page *pg;
		while ((pg = free_area[order].list[1].tail)) {
			bool old = now - pg->freed_ms >= DECAY_MS;
			if (!old && dirty_pages <= dirty_max())
				break;
			give_back(pg, order);
		}
	}
}

/* malloc_trim: every whole free arena is unmapped, then dirty free blocks
 * of every order are given back, oldest first and largest order first,
 * until at most keep_pages of them may stay resident. Returns the pages
 * given back (an unmapped arena counts all of its pages). */
size_t hs_buddy_trim(size_t keep_pages)
{
	size_t given = 0, dirty = 0;
	pthread_mutex_lock(&lock);
	struct hs_page *pg;
	while ((pg = first_free(HS_MAX_ORDER))) {
		list_del(pg);
		arena_release(pg->arena, false);
		given += HS_ARENA_PAGES;
	}
	for (int order = 0; order <= HS_MAX_ORDER; order++)
		for (pg = free_area[order].list[1].head; pg; pg = pg->next)
			dirty += pg->npages;
	for (int order = HS_MAX_ORDER; order >= 0 && dirty > keep_pages; order--)
		while (dirty > keep_pages && (pg = free_area[order].list[1].tail)) {
			size_t n = give_back(pg, order);
			dirty -= n;
			given += n;
		}
	pthread_mutex_unlock(&lock);
	return given;
}

static void mark_block(struct hs_arena *a, size_t idx, size_t npages, struct hs_slab *slab)
{
	struct hs_page *pg = &a->pages[idx];
	pg->state = slab ? PG_SLAB : PG_LARGE;
	pg->npages = (uint32_t)npages;
	pg->hdr_off = 0;
	pg->slab = slab;
	for (size_t i = 1; i < npages; i++) {
		a->pages[idx + i].state = PG_TAIL;
		a->pages[idx + i].head = (uint32_t)idx;
	}
	a->free_pages -= (uint32_t)npages;
	free_pages -= npages;
}

void *hs_buddy_alloc(size_t npages, struct hs_slab *slab)
{
	if (npages == 0 || npages > HS_ARENA_PAGES)
		return NULL;
	unsigned order = 0;
	while (((size_t)1 << order) < npages)
		order++;

	pthread_mutex_lock(&lock);
	struct hs_page *pg = NULL;
	unsigned o = order;
	/* Resident pages first, of any order that fits, for blocks whose
	 * pages the program is about to touch all over (DIRTY_FIRST_ORDER
	 * and up): splitting a bigger dirty block costs no page fault, a
	 * clean one of the right order faults in every page. */
	if (order >= DIRTY_FIRST_ORDER)
		for (o = order; o <= HS_MAX_ORDER && !(pg = free_area[o].list[1].head); o++)
			;
	if (!pg) {
		for (o = order; o <= HS_MAX_ORDER && !first_free(o); o++)
			;
		if (o > HS_MAX_ORDER) {
			if (!arena_new()) {
				pthread_mutex_unlock(&lock);
				return NULL;
			}
			o = HS_MAX_ORDER;
		}
		pg = first_free(o);
	}
	struct hs_arena *a = pg->arena;
	size_t idx = hs_buddy_page_index(a, pg);
	list_del(pg);
	/* expand(): split the block, keeping the lower half each time. */
	while (o > order) {
		o--;
		struct hs_page *half = &a->pages[idx + ((size_t)1 << o)];
		half->state = PG_FREE;
		half->order = (uint8_t)o;
		list_add(half, o);
	}
	pg->state = PG_UNUSED;
	/* Page exact: the tail beyond npages goes straight back. It cannot
	 * merge (its buddies overlap our block), so this only files it. */
	size_t block_end = idx + ((size_t)1 << order);
	mark_block(a, idx, npages, slab);
	if (idx + npages < block_end)
		file_range(a, idx + npages, block_end);
	pthread_mutex_unlock(&lock);
	return a->base + (idx << HS_PAGE_SHIFT);
}

struct hs_page *hs_buddy_block_of(const void *addr, struct hs_arena **arena_out)
{
	uintptr_t v = hs_pagemap_get(addr);
	if (!v || (v & HS_GRANULE_HUGE))
		return NULL;
	struct hs_arena *a = (struct hs_arena *)v;
	size_t idx = (size_t)((const char *)addr - a->base) >> HS_PAGE_SHIFT;
	struct hs_page *pg = &a->pages[idx];
	if (pg->state == PG_TAIL) {
		uint32_t h = pg->head;
		if (h >= HS_ARENA_PAGES)
			return NULL;
		pg = &a->pages[h];
	}
	if (pg->state != PG_LARGE && pg->state != PG_SLAB)
		return NULL;
	if (arena_out)
		*arena_out = a;
	return pg;
}

void hs_buddy_free(void *block)
{
	struct hs_arena *a;
	struct hs_page *pg = hs_buddy_block_of(block, &a);
	if (!pg || hs_page_addr(a, pg) != (char *)block) {
		hs_log("internal error: buddy free of %p, not a block head", block);
		return;
	}
	pthread_mutex_lock(&lock);
	size_t idx = hs_buddy_page_index(a, pg);
	clock_ms = now_ms();
	free_range(a, idx, idx + pg->npages, true);
	if (dirty_pages > dirty_max() / 2 && purge_due(clock_ms))
		purge(clock_ms);
	pthread_mutex_unlock(&lock);
}

void hs_buddy_stats(struct hs_buddy_stats *out)
{
	pthread_mutex_lock(&lock);
	out->arenas = nr_arenas;
	out->peak_arenas = peak_arenas;
	out->free_pages = free_pages;
	out->dirty_pages = dirty_pages;
	for (int o = 0; o < HS_NR_ORDERS; o++)
		out->nr_free[o] = free_area[o].nr_free;
	pthread_mutex_unlock(&lock);
}

void hs_buddy_foreach_arena_locked(void (*fn)(struct hs_arena *, void *), void *ctx)
{
	for (struct hs_arena *a = arenas; a; a = a->next)
		fn(a, ctx);
}

void hs_buddy_foreach_arena(void (*fn)(struct hs_arena *, void *), void *ctx)
{
	pthread_mutex_lock(&lock);
	hs_buddy_foreach_arena_locked(fn, ctx);
	pthread_mutex_unlock(&lock);
}

void hs_buddy_lock(void)   { pthread_mutex_lock(&lock); }
bool hs_buddy_trylock(void) { return pthread_mutex_trylock(&lock) == 0; }
void hs_buddy_unlock(void) { pthread_mutex_unlock(&lock); }
void hs_buddy_reinit_child(void) { pthread_mutex_init(&lock, NULL); }

/* ---- for buddy_reshape.c (buddy_impl.h); the caller holds the lock ---- */

struct hs_page *hs_buddy_free_head(unsigned order, int dirty)
{
	return free_area[order].list[dirty ? 1 : 0].head;
}

void hs_buddy_list_del(struct hs_page *pg) { list_del(pg); }

void hs_buddy_mark_block(struct hs_arena *a, size_t idx, size_t npages, struct hs_slab *slab)
{
	mark_block(a, idx, npages, slab);
}

void hs_buddy_file_range(struct hs_arena *a, size_t idx, size_t end)
{
	file_range(a, idx, end);
}

void hs_buddy_free_range(struct hs_arena *a, size_t idx, size_t end, bool touched)
{
	free_range(a, idx, end, touched);
}

void hs_buddy_count_taken(struct hs_arena *a, size_t npages)
{
	a->free_pages -= (uint32_t)npages;
	free_pages -= npages;
}
