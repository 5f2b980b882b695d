/*
 * heap.c — one allocation API over bins, buddy and huge mappings.
 *
 * The hooks (hook_malloc.c) try the inline thread-cache path first
 * (fastpath.h) and come here for everything else: a cold cache, large or
 * aligned blocks, realloc, validation of pointers handed to free.
 *
 * Where a block lives follows from its size and alignment:
 *   bins   header + size (+ alignment slack) <= HS_BIN_MAX_SLOT
 *   buddy  the same in pages <= one arena
 *   huge   the rest
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "alloc.h"
#include "buddy_aligned.h"
#include "sealing.h"

_Atomic unsigned hs_large_sealing;
__thread struct hs_thread hs_thread;
volatile int hs_threaded;

/* A thread's first allocation: the first thread of the process to get
 * here may claim without the lock (alloc.h, hs_header_claim). */
static __attribute__((noinline, cold)) void first_alloc(void)
{
	static _Atomic int taken;
	int no = 0;
	hs_thread.seen = 1;
	if (atomic_compare_exchange_strong(&taken, &no, 1))
		hs_thread.solo = 1;
}

size_t hs_guard;                 /* HS_CANARY with checks on (checks.c sets it) */
struct hs_alloc_hooks hs_alloc_hooks;

#define FOLD_BYTES (256 * 1024)

static _Atomic uint64_t g_allocs, g_frees, g_peak;
static _Atomic int64_t g_live;

void hs_counters_fold(void)
{
	struct hs_tstat t = hs_ts;
	hs_ts.allocs = hs_ts.frees = 0;
	hs_ts.live = 0;
	atomic_fetch_add_explicit(&g_allocs, t.allocs, memory_order_relaxed);
	atomic_fetch_add_explicit(&g_frees, t.frees, memory_order_relaxed);
	int64_t live = atomic_fetch_add_explicit(&g_live, t.live, memory_order_relaxed) + t.live;
	uint64_t peak = atomic_load_explicit(&g_peak, memory_order_relaxed);
	while (live > 0 && (uint64_t)live > peak &&
	       !atomic_compare_exchange_weak(&g_peak, &peak, (uint64_t)live))
		;
	if (hs_alloc_hooks.tick)
		hs_alloc_hooks.tick(live);   /* samples and peak maps (record/) */
}

void hs_counters_read(struct hs_counters *out)
{
	hs_counters_fold();
	out->allocs = g_allocs;
	out->frees = g_frees;
	int64_t live = g_live;
	out->live_bytes = live > 0 ? (uint64_t)live : 0;
	out->peak_bytes = g_peak;
}

static inline void count_alloc(size_t size)
{
	hs_ts.allocs++;
	hs_ts.live += (int64_t)size;
	if (hs_ts.live > FOLD_BYTES)
		hs_counters_fold();
}

static inline size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) & ~(to - 1);
}

/* ---- allocation -------------------------------------------------------- */

/* A cached slot whose header was overrun: the checks report it and drop
 * the list; with nobody to report, the list is still dropped (its links
 * cannot be trusted). */
static void bad_cached_slot(struct hs_tcache_bin *tb, void *slot)
{
	if (hs_alloc_hooks.bad_cached_slot) {
		hs_alloc_hooks.bad_cached_slot(tb, slot);
	} else {
		tb->head = NULL;
		tb->count = 0;
	}
}

/* A free slot of this bin for a block the inline path does not serve (an
 * aligned one, or a cold cache): the thread cache first, as the fast path
 * would. Refilling while the cache still holds slots would pull half a
 * cache of slots out of the slabs only to flush them back on the next
 * frees (one cold slot link per slot each way). Caller has hs_busy set. */
static void *bin_slot(unsigned bin)
{
	struct hs_tcache *tc = &hs_tc;
	if (tc->state == 1) {
		struct hs_tcache_bin *tb = &tc->bins[bin];
		void *slot = tb->head;
		if (slot) {
			if (!hs_guard || hs_free_slot_ok(slot, bin)) {
				tb->head = hs_slot_next(slot);
				tb->count--;
				return slot;
			}
			bad_cached_slot(tb, slot);   /* drops the list; reports */
			hs_busy = 1;
		}
	}
	if (tc->state == 2)                 /* thread is being torn down */
		return hs_bins_take_slot(bin);
	if (tc->state == 0) {
		tc->state = 1;
		if (hs_alloc_hooks.thread_start)
			hs_alloc_hooks.thread_start();
	}
	void *slot = hs_bins_refill(tc, bin);
	hs_counters_fold();
	return slot;
}

/* The block's header, with the canary written first when checks are on
 * (room for it was reserved): a walk that sees LIVE sees the canary. */
static void seal_block(struct hs_header *h, size_t size, unsigned bin, unsigned kind,
                       uint32_t stack, size_t guard)
{
	if (guard) {
		hs_canary_put(hs_user_of(h), size);
		atomic_signal_fence(memory_order_release);
	}
	hs_header_set_g(h, size, bin, kind, stack, guard != 0);
}

/* A block from the bins: slot start, or moved up inside the slot so that
 * the user pointer is aligned; the slot start then gets a HS_PADDING
 * header whose size is the distance to the real header. room: size plus
 * the canary's bytes (hs_room). */
static void *alloc_bin(size_t size, size_t room, size_t align, unsigned kind,
                       uint32_t stack, size_t guard)
{
	size_t need = align > HS_ALIGN ? room + align - HS_HEADER_SIZE : room;
	unsigned bin = hs_size_to_bin(need);
	char *slot = bin_slot(bin);
	if (!slot)
		return NULL;
	char *user = (char *)round_up((uintptr_t)slot + HS_HEADER_SIZE, align);
	struct hs_header *h = hs_header_of(user);
	if ((char *)h != slot) {
		struct hs_header *pad = (struct hs_header *)slot;
		hs_header_set(pad, (size_t)((char *)h - slot), bin, kind, 0);
		pad->state = HS_PADDING;
		hs_header_seal(pad);
		kind |= HS_KIND_MOVED;
	}
	seal_block(h, size, bin, kind, stack, guard);
	return user;
}

/* Page-aligned blocks (align >= a page) are a header page plus the
 * user's pages, placed by the buddy where the user part starts aligned
 * (hs_buddy_alloc_aligned). Otherwise, or when it finds no such place, a
 * buddy block of align + room bytes always has an aligned address for
 * the user pointer with room for the header before it (blocks are page
 * aligned, so the rounding moves it by at most align). For alignments
 * above a page, the pages before the header's page go straight back, so
 * an aligned block costs at most one page of slack, not `align` bytes. */
static void *alloc_large(size_t size, size_t room, size_t align, unsigned kind,
                         uint32_t stack, size_t guard)
{
	size_t slack = align > HS_ALIGN ? align : HS_HEADER_SIZE;
	size_t npages = (slack + room + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT;
	atomic_fetch_add(&hs_large_sealing, 1);
	char *block = NULL;
	if (align >= HS_PAGE_SIZE)
		block = hs_buddy_alloc_aligned(1 + ((room + HS_PAGE_SIZE - 1) >> HS_PAGE_SHIFT),
		                               align >> HS_PAGE_SHIFT);
	if (!block)
		block = hs_buddy_alloc(npages, NULL);
	if (!block) {
		atomic_fetch_sub(&hs_large_sealing, 1);
		return NULL;
	}
	size_t off = round_up((uintptr_t)block + HS_HEADER_SIZE, align) - (uintptr_t)block;
	size_t lead = (off - HS_HEADER_SIZE) >> HS_PAGE_SHIFT;
	if (lead) {
		block = hs_buddy_trim_front(block, lead);
		off -= lead << HS_PAGE_SHIFT;
	}
	struct hs_header *h = (struct hs_header *)(block + off - HS_HEADER_SIZE);
	if (off != HS_HEADER_SIZE) {
		struct hs_page *pg = hs_buddy_block_of(block, NULL);
		pg->hdr_off = (uint32_t)(off - HS_HEADER_SIZE);
		kind |= HS_KIND_MOVED;
	}
	seal_block(h, size, HS_BIN_LARGE, kind, stack, guard);
	atomic_fetch_sub_explicit(&hs_large_sealing, 1, memory_order_release);
	hs_counters_fold();
	return hs_user_of(h);
}

static void *alloc_huge(size_t size, size_t room, size_t align, unsigned kind,
                        uint32_t stack, size_t guard)
{
	void *user = hs_huge_alloc(room, align);
	if (!user)
		return NULL;
	seal_block(hs_header_of(user), size, HS_BIN_HUGE, kind, stack, guard);
	hs_counters_fold();
	return user;
}

/* growing: a realloc moving a block to a bigger size. Past 16 KiB such
 * a block goes to page-exact buddy pages, not to a bin: a string or vector
 * that keeps growing then grows in place into the free pages after it,
 * and the pages it leaves behind merge and serve any size, where bin
 * slots serve only their own class (16 buffers growing side by side,
 * bench/work/realloc.c, left every class they passed their own resident
 * slots). 16 KiB because from there up the classes are 4 KiB apart, as
 * pages are: a block that stops growing wastes no more in pages than in a
 * slot. Below it the classes are finer, and strings grown to 4-16 KiB and
 * kept took up to 22% more memory in pages (docs/ARCHITECTURE.md). */
#define GROW_TO_PAGES ((size_t)16 * 1024)

static void *heap_alloc(size_t size, size_t align, unsigned kind, uint32_t stack,
                        bool growing)
{
	/* The first allocation of the process always lands here (the caches
	 * start empty): fix the header secret before any header is sealed. */
	if (unlikely(!hs_secret))
		hs_secret_init();
	if (unlikely(!hs_thread.seen))
		first_alloc();
	if (align < HS_ALIGN)
		align = HS_ALIGN;
	if (size > HS_MAX_REQUEST || align > HS_MAX_REQUEST) {
		errno = ENOMEM;
		return NULL;
	}
	void *user;
	size_t guard = hs_guard, room = hs_room(size, guard);
	size_t slack = align > HS_ALIGN ? align : HS_HEADER_SIZE;
	hs_busy = 1;
	if (room + slack <= HS_BIN_MAX_SLOT && align < HS_PAGE_SIZE
	    && !(growing && room + slack > GROW_TO_PAGES)) {
		user = alloc_bin(size, room, align, kind, stack, guard);
	} else if (room + slack <= HS_ARENA_SIZE) {
		/* where alloc_large puts the user pointer in its page */
		size_t uoff = align >= HS_PAGE_SIZE ? 0 : align > HS_ALIGN ? align : HS_HEADER_SIZE;
		guard = hs_page_guard(size, uoff, guard);
		user = alloc_large(size, hs_room(size, guard), align, kind, stack, guard);
	} else {
		guard = hs_page_guard(size, hs_huge_user_offset(align) & (HS_PAGE_SIZE - 1), guard);
		user = alloc_huge(size, hs_room(size, guard), align, kind, stack, guard);
	}
	hs_busy = 0;
	if (!user) {
		errno = ENOMEM;
		return NULL;
	}
	count_alloc(size);
	return user;
}

void *hs_heap_alloc(size_t size, size_t align, unsigned kind, uint32_t stack)
{
	return heap_alloc(size, align, kind, stack, false);
}

/* ---- release ----------------------------------------------------------- */

/* Threads reading a header through the slow path (hs_heap_pin), which a
 * racing free could unmap under them: a huge mapping or a whole arena is
 * unmapped only once its pagemap entries are cleared and no thread is
 * pinned (hs_heap_wait_unpinned). Pin before the pagemap lookup: with
 * both orders sequentially consistent, a reader either is seen by the
 * unmapping thread or sees the cleared pagemap. */
static _Atomic unsigned pins;

int hs_heap_pin(void)
{
	int was_busy = hs_busy;
	hs_busy = 1;            /* a signal handler's free never unmaps now */
	atomic_fetch_add(&pins, 1);
	return was_busy;
}

void hs_heap_unpin(int was_busy)
{
	atomic_fetch_sub(&pins, 1);
	hs_busy = was_busy;
}

/* Pinned sections are a lookup and a compare-and-swap; they never wait.
 * false if readers were still pinned after many yields (the caller then
 * keeps the mapping rather than risk a reader's fault). */
bool hs_heap_wait_unpinned(void)
{
	for (unsigned i = 0; atomic_load(&pins); i++) {
		if (i == 10000)
			return false;
		sched_yield();
	}
	return true;
}

/* h is a valid header for user, found by hs_heap_lookup: take it (LIVE
 * to FREED, atomically) and give its memory back. false if it was not
 * LIVE or a racing free took it first (nothing done). */
bool hs_heap_release(void *user, struct hs_header *h, enum hs_where where)
{
	uint64_t w0 = hs_header_word0(h);
	if ((w0 >> HS_W0_STATE_SHIFT) != HS_LIVE || !hs_header_claim(h, &w0))
		return false;
	hs_heap_free_claimed(user, h, where);
	return true;
}

/* h was claimed by this thread (hs_header_claim): count it, recycle it. */
void hs_heap_free_claimed(void *user, struct hs_header *h, enum hs_where where)
{
	if (unlikely(where == HS_IN_BOOT) && hs_node_owns(user)) {
		hs_node_free(user);             /* libc's record for us: not counted */
		return;
	}
	hs_ts.frees++;
	hs_ts.live -= (int64_t)h->size;
	hs_heap_recycle(user, h, where);
}

/* h: FREED and counted (hs_heap_release, or a block leaving quarantine,
 * whose caller may hold hs_busy already: it is restored, not cleared). */
void hs_heap_recycle(void *user, struct hs_header *h, enum hs_where where)
{
	int was_busy = hs_busy;
	hs_busy = 1;
	switch (where) {
	case HS_IN_BIN: {
		char *slot = (char *)h;
		if (h->kind & HS_KIND_MOVED) {
			struct hs_page *pg = hs_buddy_block_of(h, NULL);
			slot = hs_bins_slot_of(pg, h);
			hs_header_set_state((struct hs_header *)slot, HS_FREED);
		}
		struct hs_tcache *tc = &hs_tc;
		if (tc->state == 1) {
			struct hs_tcache_bin *tb = &tc->bins[h->bin];
			hs_slot_set_next(slot, tb->head);
			tb->head = slot;
			if (++tb->count > tb->limit) {
				hs_bins_flush(tc, h->bin, tb->limit / 2);
				hs_counters_fold();
			}
		} else {
			hs_bins_release_slot(slot);
		}
		break;
	}
	case HS_IN_BUDDY: {
		struct hs_arena *a;
		struct hs_page *pg = hs_buddy_block_of(h, &a);
		hs_freed_note(h);       /* before the header can be purged */
		hs_buddy_free(hs_page_addr(a, pg));
		hs_counters_fold();
		break;
	}
	case HS_IN_HUGE:
		hs_freed_note(h);       /* before the mapping can go */
		hs_huge_free(user);
		hs_counters_fold();
		break;
	default:        /* boot blocks are never reused */
		break;
	}
	hs_busy = was_busy;
}

/* ---- realloc ------------------------------------------------------------ */

size_t hs_heap_capacity(const void *user)
{
	enum hs_where where;
	struct hs_header *h = hs_heap_lookup(user, &where);
	if (!h)
		return 0;
	switch (where) {
	case HS_IN_BIN: {
		struct hs_page *pg = hs_buddy_block_of(h, NULL);
		char *slot = hs_bins_slot_of(pg, h);
		return (size_t)(slot + hs_bin_slot_size[h->bin] - (char *)user);
	}
	case HS_IN_BUDDY: {
		struct hs_arena *a;
		struct hs_page *pg = hs_buddy_block_of(h, &a);
		return (size_t)(hs_page_addr(a, pg) + ((size_t)pg->npages << HS_PAGE_SHIFT)
		                - (char *)user);
	}
	case HS_IN_HUGE:
		return hs_huge_capacity(user);
	default:
		return h->size;
	}
}

/* Resize without moving, if the block's home allows it. size: the new
 * room (user bytes plus canary). */
static bool resize_in_place(void *user, struct hs_header *h, enum hs_where where,
                            size_t size)
{
	switch (where) {
	case HS_IN_BIN:
		/* Same slot if it fits and is not more than twice too big. */
		return !(h->kind & HS_KIND_MOVED) && hs_bin_fits(h->bin, size);
	case HS_IN_BUDDY: {
		if (size + HS_HEADER_SIZE > HS_ARENA_SIZE || size <= HS_BIN_MAX_USER / 2)
			return false;
		struct hs_arena *a;
		struct hs_page *pg = hs_buddy_block_of(h, &a);
		size_t npages = (pg->hdr_off + HS_HEADER_SIZE + size + HS_PAGE_SIZE - 1)
		                >> HS_PAGE_SHIFT;
		return hs_buddy_resize(hs_page_addr(a, pg), npages);
	}
	default:        /* huge blocks: see hs_heap_realloc */
		return false;
	}
}

/* The block is the caller's, claimed (LIVE -> FREED) by hs_release_vet
 * so that no racing free takes it meanwhile. Returns the new user
 * pointer, or NULL with errno ENOMEM and the old block LIVE again,
 * untouched. */
void *hs_heap_realloc(void *user, size_t size, uint32_t stack)
{
	enum hs_where where;
	struct hs_header *h = hs_heap_lookup(user, &where);
	if (size > HS_MAX_REQUEST) {
		hs_header_set_state(h, HS_LIVE);
		errno = ENOMEM;
		return NULL;
	}
	size_t old = h->size;
	size_t guard = hs_guard;
	if (where != HS_IN_BIN)
		guard = hs_page_guard(size, (uintptr_t)user & (HS_PAGE_SIZE - 1), guard);
	size_t room = hs_room(size, guard);
	hs_busy = 1;
	/* A large block resized in place has its new size's pages (a shrink
	 * frees the old canary's page, which another thread may take at
	 * once) before its header says so: counted like a block being sealed
	 * (sealing.h), so the exit-time check does not judge it meanwhile. */
	bool large = where == HS_IN_BUDDY;
	if (large)
		atomic_fetch_add(&hs_large_sealing, 1);
	bool in_place = resize_in_place(user, h, where, room);
	if (where == HS_IN_HUGE && room + HS_PAGE_SIZE >= HS_ARENA_SIZE) {
		/* Stays a mapping: resized in place or moved by remapping, the
		 * pages are kept either way, never copied. */
		void *moved = hs_huge_realloc(user, room);
		if (moved) {
			user = moved;
			h = hs_header_of(user);
			in_place = true;
		}
	}
	hs_busy = 0;
	if (in_place) {
		unsigned kind = HS_KIND_MALLOC | (h->kind & HS_KIND_MOVED);
		seal_block(h, size, h->bin, kind, stack, guard);
		if (large)
			atomic_fetch_sub_explicit(&hs_large_sealing, 1, memory_order_release);
		hs_ts.allocs++;
		hs_ts.frees++;
		hs_ts.live += (int64_t)size - (int64_t)old;
		return user;
	}
	if (large)
		atomic_fetch_sub_explicit(&hs_large_sealing, 1, memory_order_release);
	void *nu = heap_alloc(size, HS_ALIGN, HS_KIND_MALLOC, stack, size > old);
	if (!nu) {
		hs_header_set_state(h, HS_LIVE);
		return NULL;
	}
	memcpy(nu, user, old < size ? old : size);
	if (guard && hs_alloc_hooks.retire)  /* freed here, by realloc */
		hs_alloc_hooks.retire(user, h, where, stack);
	else
		hs_heap_free_claimed(user, h, where);
	return nu;
}
