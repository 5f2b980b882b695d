/*
 * huge.c — blocks too big for an arena get a mapping of their own.
 *
 * The mapping is aligned to a granule (HS_ARENA_SIZE) so that the pagemap
 * can name it: every granule it covers maps to base | HS_GRANULE_HUGE. Its
 * first bytes hold a small descriptor, then (after any alignment gap) the
 * 16-byte header and the user bytes.
 *
 * Growth never copies: the pages move to a larger reservation with
 * mremap(MREMAP_FIXED), which only rewrites page tables.
 *
 * A few freed mappings are kept (CACHE_SLOTS, CACHE_BYTES) and reused by
 * later requests of any size: the smallest that holds the request, cut
 * back if a quarter of it would sit idle, else the largest, grown by
 * mremap so that only the added pages are new. A program that allocates
 * and frees big buffers in a loop would otherwise pay mmap, munmap and a
 * page fault per page every time (glibc avoids the same cost by raising
 * its mmap threshold after such a free). Reuse only within a factor of
 * two, before, left 8 MiB requests to fresh mappings while 5 MiB ones sat
 * cached: on `large` (2000 blocks of 16 KiB - 8 MiB) 279K page faults,
 * 224K with growth and trimming (docs/ARCHITECTURE.md). More or bigger
 * slots save more faults but hold more resident: 8 slots of 64 MiB took
 * 167K faults and 92 MiB peak RSS on `large 300`, against 78 MiB. A
 * cached mapping keeps its descriptor and FREED header, so a second free
 * of it is still seen as a double free.
 */
#include <sys/mman.h>
#include <string.h>

#include "alloc.h"

#define HUGE_MAGIC 0x68735f6875676521ull   /* "hs_huge!" */

struct huge_desc {
	uint64_t magic;
	size_t   map_len;                  /* bytes mapped from base          */
	size_t   user_off;                 /* user pointer - base             */
	struct huge_desc *prev, *next;     /* all live mappings, for walks    */
	int      fresh;                    /* never handed out: still zero    */
};

#define CACHE_SLOTS 4
/* A cached mapping shorter than this may become an arena, its tail cut. */
#define GRANULE_TAKE_MAX (HS_ARENA_SIZE + HS_ARENA_SIZE / 4)
#define CACHE_BYTES ((size_t)32 << 20)

static _Atomic size_t mapped_bytes;
/* Live mappings (cached ones left out) and the most there ever were, for
 * mallinfo and malloc_stats. */
static _Atomic size_t live_maps, live_bytes, peak_maps, peak_bytes;

static void raise_to(_Atomic size_t *peak, size_t v)
{
	size_t old = atomic_load_explicit(peak, memory_order_relaxed);
	while (v > old && !atomic_compare_exchange_weak(peak, &old, v))
		;
}

/* n mappings and b bytes more (or fewer) are live. */
static void live_add(long n, long b)
{
	raise_to(&peak_maps, atomic_fetch_add(&live_maps, (size_t)n) + (size_t)n);
	raise_to(&peak_bytes, atomic_fetch_add(&live_bytes, (size_t)b) + (size_t)b);
}
/* Guards the list only; lookups go through the pagemap without it. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct huge_desc *all;
static struct huge_desc *cache[CACHE_SLOTS];    /* freed, kept mapped     */
static size_t cache_bytes;
static struct huge_desc *cache_take(size_t len, size_t align);
static struct huge_desc *cache_remove(int at);
static void unmap_desc(struct huge_desc *d, size_t len);
static void shrink_mapping(struct huge_desc *d, size_t new_len);
static struct huge_desc *grow_mapping(struct huge_desc *d, size_t new_len, bool linked);

static void link_desc(struct huge_desc *d)
{
	live_add(1, (long)d->map_len);
	pthread_mutex_lock(&lock);
	d->prev = NULL;
	d->next = all;
	if (all)
		all->prev = d;
	all = d;
	pthread_mutex_unlock(&lock);
}

/* Caller holds lock. */
static void unlink_desc(struct huge_desc *d)
{
	if (d->prev)
		d->prev->next = d->next;
	else
		all = d->next;
	if (d->next)
		d->next->prev = d->prev;
}

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) & ~(to - 1);
}

/* A mapping of len bytes aligned to align (a power of two, at least a
 * granule), or NULL. */
static char *map_aligned(size_t len, size_t align)
{
	size_t span = len + align;
	if (span < len)
		return NULL;
	char *m = mmap(NULL, span, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	char *base = (char *)round_up((uintptr_t)m, align);
	if (base > m)
		munmap(m, (size_t)(base - m));
	char *end = base + round_up(len, HS_PAGE_SIZE);
	if (end < m + span)
		munmap(end, (size_t)(m + span - end));
	return base;
}

static struct huge_desc *desc_of(const void *user)
{
	uintptr_t v = hs_pagemap_get((const char *)user - HS_HEADER_SIZE);
	if (!(v & HS_GRANULE_HUGE))
		return NULL;
	struct huge_desc *d = (struct huge_desc *)(v & ~HS_GRANULE_HUGE);
	if (d->magic != HUGE_MAGIC || (char *)d + d->user_off != user)
		return NULL;
	return d;
}

size_t hs_huge_user_offset(size_t align)
{
	return round_up(sizeof(struct huge_desc) + HS_HEADER_SIZE, align < HS_ALIGN ? HS_ALIGN : align);
}

void *hs_huge_alloc(size_t size, size_t align)
{
	if (align < HS_ALIGN)
		align = HS_ALIGN;
	size_t off = hs_huge_user_offset(align);
	if (size > HS_MAX_REQUEST || off > HS_MAX_REQUEST)
		return NULL;
	size_t len = round_up(off + size, HS_PAGE_SIZE);
	struct huge_desc *reuse = cache_take(len, align);
	if (reuse) {
		reuse->user_off = off;
		reuse->fresh = 0;
		link_desc(reuse);
		return (char *)reuse + off;
	}
	char *base = map_aligned(len, align > HS_ARENA_SIZE ? align : HS_ARENA_SIZE);
	if (!base)
		return NULL;
	if (!hs_pagemap_set(base, len, (uintptr_t)base | HS_GRANULE_HUGE)) {
		hs_pagemap_set(base, len, 0);
		munmap(base, len);
		return NULL;
	}
	struct huge_desc *d = (struct huge_desc *)base;
	d->magic = HUGE_MAGIC;
	d->map_len = len;
	d->user_off = off;
	d->fresh = 1;
	mapped_bytes += len;
	link_desc(d);
	return base + off;
}

bool hs_huge_owns(const void *user)
{
	return desc_of(user) != NULL;
}

/* A cached mapping for a request of len bytes aligned for align, off the
 * cache and resized to len (still registered), or NULL. The smallest
 * that holds len is taken; failing that the largest, grown by mremap: the
 * pages it has stay resident and only the added ones are new (a 5 MiB
 * mapping serving an 8 MiB request faults 3 MiB, not 8). */
static struct huge_desc *cache_take(size_t len, size_t align)
{
	struct huge_desc *best = NULL;
	int at = -1;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < CACHE_SLOTS; i++) {
		struct huge_desc *c = cache[i];
		if (!c || ((uintptr_t)c & (align - 1)))
			continue;
		bool fits = c->map_len >= len;
		if (!best || (fits && (best->map_len < len || c->map_len < best->map_len))
		    || (!fits && best->map_len < len && c->map_len > best->map_len)) {
			best = c;
			at = i;
		}
	}
	if (best)
		cache_remove(at);
	pthread_mutex_unlock(&lock);
	if (!best)
		return NULL;
	if (best->map_len < len) {
		struct huge_desc *grown = align <= HS_ARENA_SIZE ? grow_mapping(best, len, false) : NULL;
		if (!grown) {
			unmap_desc(best, best->map_len);
			return NULL;
		}
		best = grown;
	} else if (best->map_len - len > len / 4) {
		shrink_mapping(best, len);      /* do not keep a quarter idle */
	}
	return best;
}

/* The cached mapping at cache[at], off the cache; caller holds lock. */
static struct huge_desc *cache_remove(int at)
{
	struct huge_desc *d = cache[at];
	cache[at] = NULL;
	cache_bytes -= d->map_len;
	return d;
}

/* Keep d for reuse if there is room; caller holds lock. */
static bool cache_put(struct huge_desc *d)
{
	if (cache_bytes + d->map_len > CACHE_BYTES)
		return false;
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (!cache[i]) {
			cache[i] = d;
			cache_bytes += d->map_len;
			return true;
		}
	return false;
}

/* Forget the mapping, then unmap it once no slow-path reader (a racing
 * free of the same block, hs_heap_pin) can still be looking at it; a
 * reader that comes later finds the pagemap cleared. If readers stay
 * pinned (never seen: the pinned sections do not wait), the mapping is
 * kept rather than pulled from under them. */
static void forget_desc(struct huge_desc *d, size_t len)
{
	d->magic = 0;
	hs_pagemap_set(d, len, 0);
	mapped_bytes -= len;
}

static void unmap_desc(struct huge_desc *d, size_t len)
{
	forget_desc(d, len);
	if (hs_heap_wait_unpinned())
		munmap(d, len);
}

bool hs_huge_fresh(const void *user)
{
	struct huge_desc *d = desc_of(user);
	return d && d->fresh;
}

void hs_huge_free(void *user)
{
	struct huge_desc *d = desc_of(user);
	if (!d)
		return;
	size_t len = d->map_len;
	live_add(-1, -(long)len);
	pthread_mutex_lock(&lock);
	unlink_desc(d);
	if (cache_put(d)) {
		pthread_mutex_unlock(&lock);
		return;
	}
	pthread_mutex_unlock(&lock);
	unmap_desc(d, len);
}

size_t hs_huge_capacity(const void *user)
{
	struct huge_desc *d = desc_of(user);
	return d ? d->map_len - d->user_off : 0;
}

/* Give back the pages of d past new_len (< map_len); whole granules stay
 * registered while any of their bytes stay mapped. Under the lock: a walk
 * (the exit check, which holds it) must see the mapping and map_len
 * change together, since a live block's header still gives the old size
 * until its caller seals it again. */
static void shrink_mapping(struct huge_desc *d, size_t new_len)
{
	size_t old_len = d->map_len;
	char *base = (char *)d;
	/* Granules are forgotten before their pages go: once unmapped,
	 * another thread's mmap may get them and register them as its own
	 * (cleared after, they lost their entries: their free said "not in a
	 * heap block"). */
	size_t keep = round_up(new_len, HS_ARENA_SIZE);
	pthread_mutex_lock(&lock);
	if (keep < round_up(old_len, HS_ARENA_SIZE))
		hs_pagemap_set(base + keep, old_len - keep, 0);
	munmap(base + new_len, old_len - new_len);
	d->map_len = new_len;
	pthread_mutex_unlock(&lock);
	mapped_bytes -= old_len - new_len;
}

/* Grow d's mapping to new_len bytes without copying: in place if the
 * address space after it is free, else its pages move into the start of
 * a new aligned reservation (mremap MREMAP_FIXED rewrites page tables
 * only) and the rest of it is fresh zero pages. linked: d is on the list
 * of live mappings, whose neighbours must follow a move. Returns the
 * (possibly moved) descriptor, or NULL with d unchanged. */
static struct huge_desc *grow_mapping(struct huge_desc *d, size_t new_len, bool linked)
{
	size_t old_len = d->map_len;
	char *base = (char *)d;
	if (mremap(base, old_len, new_len, 0) != MAP_FAILED) {
		if (!hs_pagemap_set(base, new_len, (uintptr_t)base | HS_GRANULE_HUGE)) {
			mremap(base, new_len, old_len, 0);
			return NULL;
		}
		d->map_len = new_len;
		mapped_bytes += new_len - old_len;
		return d;
	}
	char *nb = map_aligned(new_len, HS_ARENA_SIZE);
	if (!nb)
		return NULL;
	if (!hs_pagemap_set(nb, new_len, (uintptr_t)nb | HS_GRANULE_HUGE)) {
		hs_pagemap_set(nb, new_len, 0);
		munmap(nb, new_len);
		return NULL;
	}
	/* The move unmaps the old range: forget it first, then wait for any
	 * slow-path reader of its header (a racing free, hs_heap_pin). */
	hs_pagemap_set(base, old_len, 0);
	if (!hs_heap_wait_unpinned()) {
		hs_pagemap_set(base, old_len, (uintptr_t)base | HS_GRANULE_HUGE);
		hs_pagemap_set(nb, new_len, 0);
		munmap(nb, new_len);
		return NULL;
	}
	/* The descriptor moves with the pages: hold the list still meanwhile. */
	if (linked)
		pthread_mutex_lock(&lock);
	if (mremap(base, old_len, old_len, MREMAP_MAYMOVE | MREMAP_FIXED, nb) == MAP_FAILED) {
		if (linked)
			pthread_mutex_unlock(&lock);
		hs_pagemap_set(base, old_len, (uintptr_t)base | HS_GRANULE_HUGE);
		hs_pagemap_set(nb, new_len, 0);
		munmap(nb, new_len);
		return NULL;
	}
	d = (struct huge_desc *)nb;
	if (linked) {
		if (d->prev)
			d->prev->next = d;
		else
			all = d;
		if (d->next)
			d->next->prev = d;
		pthread_mutex_unlock(&lock);
	}
	d->map_len = new_len;
	mapped_bytes += new_len - old_len;
	return d;
}

void *hs_huge_realloc(void *user, size_t new_size)
{
	struct huge_desc *d = desc_of(user);
	if (!d || new_size > HS_MAX_REQUEST)
		return NULL;
	size_t off = d->user_off, old_len = d->map_len;
	size_t new_len = round_up(off + new_size, HS_PAGE_SIZE);
	if (new_len <= old_len) {
		if (new_len < old_len) {
			shrink_mapping(d, new_len);
			live_add(0, -(long)(old_len - new_len));
		}
		return user;
	}
	d = grow_mapping(d, new_len, true);
	if (!d)
		return NULL;
	live_add(0, (long)(new_len - old_len));
	return (char *)d + off;
}

size_t hs_huge_mapped_bytes(void)
{
	return mapped_bytes;
}

void hs_huge_foreach_locked(void (*fn)(void *user, void *ctx), void *ctx)
{
	for (struct huge_desc *d = all; d; d = d->next)
		fn((char *)d + d->user_off, ctx);
}

void hs_huge_stats(struct hs_huge_stats *out)
{
	out->live = atomic_load(&live_maps);
	out->live_bytes = atomic_load(&live_bytes);
	out->peak = atomic_load(&peak_maps);
	out->peak_bytes = atomic_load(&peak_bytes);
}

size_t hs_huge_requested(void)
{
	size_t sum = 0;
	pthread_mutex_lock(&lock);
	for (struct huge_desc *d = all; d; d = d->next)
		sum += hs_header_of((char *)d + d->user_off)->size;
	pthread_mutex_unlock(&lock);
	return sum;
}

size_t hs_huge_trim(void)
{
	struct huge_desc *drop[CACHE_SLOTS];
	size_t n = 0, bytes = 0;
	pthread_mutex_lock(&lock);
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (cache[i])
			drop[n++] = cache_remove(i);
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < n; i++) {
		size_t len = drop[i]->map_len;
		forget_desc(drop[i], len);
		munmap(drop[i], len);
		bytes += len;
	}
	return bytes;
}

void hs_huge_foreach(void (*fn)(void *user, void *ctx), void *ctx)
{
	pthread_mutex_lock(&lock);
	hs_huge_foreach_locked(fn, ctx);
	pthread_mutex_unlock(&lock);
}

/* ---- granules shared with the buddy (buddy.c) ------------------------
 * A vector that doubles from 2 to 4 MiB leaves a whole arena and takes a
 * mapping; the next one to reach 2 MiB needs a whole arena again. So a
 * whole free arena the buddy gives up while resident waits here as a
 * one-granule mapping (while the cache holds at most a quarter of its
 * bytes: the rest is for freed mappings, which `large` needs, and more
 * granules kept cost `large` its peak RSS), and a new arena takes such a
 * granule, or a cached mapping under 5 MiB cut back to one, before it
 * maps fresh memory. Larger mappings are not cut up for arenas: that left
 * 8 MiB requests to fresh memory. Measured in docs/ARCHITECTURE.md,
 * "huge.c". */

bool hs_huge_keep_granule(char *base)
{
	pthread_mutex_lock(&lock);
	bool room = cache_bytes + HS_ARENA_SIZE <= CACHE_BYTES / 4;
	for (int i = 0; room && i < CACHE_SLOTS; i++)
		if (!cache[i])
			break;
		else if (i == CACHE_SLOTS - 1)
			room = false;
	pthread_mutex_unlock(&lock);
	if (!room)
		return false;
	struct huge_desc *d = (struct huge_desc *)base;
	d->magic = HUGE_MAGIC;
	d->map_len = HS_ARENA_SIZE;
	d->user_off = hs_huge_user_offset(HS_ALIGN);
	d->fresh = 0;
	/* what a freed mapping keeps: a FREED header at its user pointer */
	struct hs_header *h = hs_header_of(base + d->user_off);
	hs_header_set(h, 0, HS_BIN_HUGE, HS_KIND_MALLOC, 0);
	hs_header_set_state(h, HS_FREED);
	if (!hs_pagemap_set(base, HS_ARENA_SIZE, (uintptr_t)base | HS_GRANULE_HUGE)) {
		hs_pagemap_set(base, HS_ARENA_SIZE, 0);
		return false;
	}
	mapped_bytes += HS_ARENA_SIZE;
	pthread_mutex_lock(&lock);
	bool kept = cache_put(d);
	pthread_mutex_unlock(&lock);
	if (!kept)
		unmap_desc(d, HS_ARENA_SIZE);
	return true;
}

char *hs_huge_take_granule(void)
{
	struct huge_desc *g = NULL;
	pthread_mutex_lock(&lock);
	int at = -1;
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (cache[i] && cache[i]->map_len < GRANULE_TAKE_MAX
		    && (!g || cache[i]->map_len < g->map_len)) {
			g = cache[i];
			at = i;
		}
	if (g)
		cache_remove(at);
	pthread_mutex_unlock(&lock);
	if (!g)
		return NULL;
	size_t len = g->map_len;
	forget_desc(g, len);
	/* a racing double free may still be reading the old descriptor */
	if (!hs_heap_wait_unpinned())
		return NULL;
	if (len > HS_ARENA_SIZE)
		munmap((char *)g + HS_ARENA_SIZE, len - HS_ARENA_SIZE);
	return (char *)g;
}

void hs_huge_lock(void)   { pthread_mutex_lock(&lock); }
bool hs_huge_trylock(void) { return pthread_mutex_trylock(&lock) == 0; }
void hs_huge_unlock(void) { pthread_mutex_unlock(&lock); }
void hs_huge_reinit_child(void) { pthread_mutex_init(&lock, NULL); }
